//! Cycle finding on a graph of `nodes` numbered nodes.
//!
//! Strongly connected components (Tarjan's algorithm) say which modules are knotted together.
//! A component can hold many cycles, too many to list in general, so each component is shown
//! through a few cycles that together use every edge inside it: for each such edge u -> v, the
//! shortest way back from v to u. Every import that takes part in a knot is then in the report,
//! each cycle as short as it can be.

use std::collections::{BTreeSet, VecDeque};

/// The components of two or more nodes, each sorted, in order of their first node.
pub fn strongly_connected(adjacency: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let nodes = adjacency.len();
    let mut tarjan = Tarjan {
        adjacency,
        index: vec![None; nodes],
        low: vec![0; nodes],
        on_stack: vec![false; nodes],
        stack: Vec::new(),
        next: 0,
        components: Vec::new(),
    };
    for node in 0..nodes {
        if tarjan.index[node].is_none() {
            tarjan.visit(node);
        }
    }
    let mut components: Vec<Vec<usize>> = tarjan
        .components
        .into_iter()
        .filter(|component| component.len() > 1)
        .map(|mut component| {
            component.sort_unstable();
            component
        })
        .collect();
    components.sort();
    components
}

struct Tarjan<'g> {
    adjacency: &'g [Vec<usize>],
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
    components: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, node: usize) {
        self.index[node] = Some(self.next);
        self.low[node] = self.next;
        self.next += 1;
        self.stack.push(node);
        self.on_stack[node] = true;
        let adjacency = self.adjacency;
        for &next in &adjacency[node] {
            match self.index[next] {
                None => {
                    self.visit(next);
                    self.low[node] = self.low[node].min(self.low[next]);
                }
                Some(index) if self.on_stack[next] => {
                    self.low[node] = self.low[node].min(index);
                }
                Some(_) => {}
            }
        }
        if Some(self.low[node]) == self.index[node] {
            let mut component = Vec::new();
            while let Some(member) = self.stack.pop() {
                self.on_stack[member] = false;
                component.push(member);
                if member == node {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

/// Cycles inside `component` that together use each of its edges, shortest first. Each cycle
/// lists its nodes once, from its smallest: [a, b, c] is a -> b -> c -> a.
pub fn covering_cycles(component: &[usize], adjacency: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let inside = |node: usize| component.binary_search(&node).is_ok();
    let mut cycles = BTreeSet::new();
    for &from in component {
        for &to in adjacency[from].iter().filter(|&&to| inside(to)) {
            if let Some(mut cycle) = shortest_path(to, from, adjacency, &inside) {
                // to ... from, then the edge from -> to closes it.
                let smallest = (0..cycle.len()).min_by_key(|&at| cycle[at]).unwrap_or(0);
                cycle.rotate_left(smallest);
                cycles.insert((cycle.len(), cycle));
            }
        }
    }
    cycles.into_iter().map(|(_, cycle)| cycle).collect()
}

/// The nodes of a shortest path from `start` to `goal` through nodes that are `inside`.
fn shortest_path(
    start: usize,
    goal: usize,
    adjacency: &[Vec<usize>],
    inside: &dyn Fn(usize) -> bool,
) -> Option<Vec<usize>> {
    let mut came_from = vec![None; adjacency.len()];
    let mut queue = VecDeque::from([start]);
    came_from[start] = Some(start);
    while let Some(node) = queue.pop_front() {
        if node == goal {
            let mut path = vec![goal];
            let mut at = goal;
            while at != start {
                at = came_from[at]?;
                path.push(at);
            }
            path.reverse();
            return Some(path);
        }
        for &next in &adjacency[node] {
            if inside(next) && came_from[next].is_none() {
                came_from[next] = Some(node);
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(nodes: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
        let mut adjacency = vec![Vec::new(); nodes];
        for &(from, to) in edges {
            adjacency[from].push(to);
        }
        adjacency
    }

    #[test]
    fn a_chain_has_no_component() {
        let adjacency = graph(3, &[(0, 1), (1, 2), (0, 2)]);
        assert!(strongly_connected(&adjacency).is_empty());
    }

    #[test]
    fn components_and_their_cycles() {
        // 0 <-> 1, and 2 -> 3 -> 4 -> 2 with the shortcut 3 -> 2.
        let adjacency = graph(5, &[(0, 1), (1, 0), (1, 2), (2, 3), (3, 4), (4, 2), (3, 2)]);
        let components = strongly_connected(&adjacency);
        assert_eq!(components, vec![vec![0, 1], vec![2, 3, 4]]);
        assert_eq!(
            covering_cycles(&components[0], &adjacency),
            vec![vec![0, 1]]
        );
        assert_eq!(
            covering_cycles(&components[1], &adjacency),
            vec![vec![2, 3], vec![2, 3, 4]]
        );
    }
}
