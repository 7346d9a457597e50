//! The report: each cycle as module paths, with the file and line of each import along it, so
//! that whoever breaks the cycle sees which lines to change.

use std::fmt::Write;
use std::path::Path;

use crate::cycles::{covering_cycles, strongly_connected};
use crate::edges::{Edges, Site};
use crate::tree::ModuleTree;

/// One step of a cycle: `from` names items of `to` at `sites`.
#[derive(Debug, Clone)]
pub struct Step {
    pub from: String,
    pub to: String,
    pub sites: Vec<Site>,
}

/// A cycle of modules, each naming an item of the next and the last one of the first.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// `crate::a`, `crate::b`: a -> b -> a.
    pub modules: Vec<String>,
    pub steps: Vec<Step>,
}

impl Cycle {
    /// `crate::a -> crate::b -> crate::a`.
    pub fn chain(&self) -> String {
        let mut chain = self.modules.join(" -> ");
        if let Some(first) = self.modules.first() {
            let _ = write!(chain, " -> {first}");
        }
        chain
    }
}

/// The cycles of a crate's import graph: a set that uses every edge taking part in one.
pub fn cycles(tree: &ModuleTree, edges: &Edges) -> Vec<Cycle> {
    let mut adjacency = vec![Vec::new(); tree.modules.len()];
    for &(from, to) in edges.keys() {
        adjacency[from].push(to);
    }
    let name = |node: usize| tree.modules[node].name();
    let mut found = Vec::new();
    for component in strongly_connected(&adjacency) {
        for nodes in covering_cycles(&component, &adjacency) {
            let steps = (0..nodes.len())
                .map(|at| {
                    let (from, to) = (nodes[at], nodes[(at + 1) % nodes.len()]);
                    Step {
                        from: name(from),
                        to: name(to),
                        sites: edges[&(from, to)].clone(),
                    }
                })
                .collect();
            found.push(Cycle {
                modules: nodes.iter().map(|&node| name(node)).collect(),
                steps,
            });
        }
    }
    found
}

/// How many places are shown per step; the rest are counted.
const SITES_SHOWN: usize = 3;

/// The cycles of one crate as text, files relative to `base`.
pub fn render(title: &str, cycles: &[Cycle], base: &Path) -> String {
    let mut text = format!("{title}: {} import cycle(s)\n", cycles.len());
    for (number, cycle) in cycles.iter().enumerate() {
        let _ = writeln!(text, "  cycle {}: {}", number + 1, cycle.chain());
        for step in &cycle.steps {
            let _ = writeln!(text, "    {} -> {}", step.from, step.to);
            for site in step.sites.iter().take(SITES_SHOWN) {
                let file = site.file.strip_prefix(base).unwrap_or(&site.file);
                let _ = writeln!(
                    text,
                    "      {}:{}: {}",
                    file.display(),
                    site.line,
                    site.text
                );
            }
            if step.sites.len() > SITES_SHOWN {
                let _ = writeln!(
                    text,
                    "      ... and {} more",
                    step.sites.len() - SITES_SHOWN
                );
            }
        }
    }
    text
}
