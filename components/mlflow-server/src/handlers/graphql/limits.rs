//! Bounds on one GraphQL query, so that no query can hold the server for long.
//!
//! Before parsing: the text's size and its bracket nesting (the parser recurses once
//! per level, and a stack overflow would kill the instance). After parsing, before
//! validation: MLflow's own rules against batching work into one request (its server
//! refuses a query that nests fields more than 10 deep, selects more than 1000 fields
//! counting each fragment where it is spread, has more than 10 root fields or more
//! than 10 aliases in one selection set), and a bound on the document's selections
//! that no use expands (validation visits unused fragments too).

use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use std::collections::HashSet;

/// Bytes of query text; the UI's largest query is under 3,000.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// Nested `{`, `[` and `(` (the UI's queries nest 8 deep).
pub const MAX_NESTING: usize = 32;
/// Levels of nested selection sets, the operation's own being 1 (MLflow's bound).
pub const MAX_DEPTH: usize = 10;
/// Fields selected, a fragment's fields counted at each spread (MLflow's bound).
pub const MAX_SELECTIONS: usize = 1000;
/// Root fields over all operations (MLflow's default).
pub const MAX_ROOT_FIELDS: usize = 10;
/// Aliases in one selection set, its fragments' included (MLflow's default).
pub const MAX_ALIASES: usize = 10;
/// Selections written in the document (fields, spreads, inline fragments), unexpanded.
pub const MAX_DOCUMENT_SELECTIONS: usize = 2 * MAX_SELECTIONS;
/// Selection nodes the scan below may visit: every fragment spread is visited once per
/// level it is spread at, so a query can make the scan walk more nodes than it selects.
const MAX_SCANNED_NODES: usize = 10 * MAX_SELECTIONS;

/// Size and bracket nesting of the query text, outside strings and comments.
pub fn check_text(query: &str) -> Result<(), String> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(format!(
            "The query is {} bytes long; at most {MAX_QUERY_BYTES} are accepted.",
            query.len()
        ));
    }
    let b = query.as_bytes();
    let triple = |i: usize| b.get(i..i + 3) == Some(b"\"\"\"".as_slice());
    let (mut i, mut depth) = (0, 0usize);
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if triple(i) => {
                // Block string: ends at the next `"""` not escaped as `\"""`.
                i += 3;
                while i < b.len() && !triple(i) {
                    i += if b[i] == b'\\' && triple(i + 1) { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                // String: ends at an unescaped `"` (or a line end, where the parser
                // stops with an error anyway).
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' && b[i] != b'\r' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "The query nests brackets more than {MAX_NESTING} levels deep."
                    ));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// MLflow's batching rules and the document bound, on a parsed query.
pub fn check_document(doc: &ExecutableDocument) -> Result<(), String> {
    check_written_selections(doc)?;
    let mut scan = Scan {
        doc,
        selections: 0,
        visited: 0,
    };
    let (mut root_fields, mut most_aliases) = (0, 0);
    for (_, op) in doc.operations.iter() {
        let mut stack = vec![(&op.node.selection_set.node, 1)];
        while let Some((set, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(format!(
                    "The query nests fields more than {MAX_DEPTH} levels deep."
                ));
            }
            let (fields, aliases) = scan.level(set)?;
            if depth == 1 {
                root_fields += fields.len();
            }
            most_aliases = most_aliases.max(aliases);
            for field in fields {
                if !field.selection_set.node.items.is_empty() {
                    stack.push((&field.selection_set.node, depth + 1));
                }
            }
        }
    }
    if root_fields > MAX_ROOT_FIELDS {
        return Err(format!(
            "A query may select at most {MAX_ROOT_FIELDS} root fields; this one selects {root_fields}."
        ));
    }
    if most_aliases > MAX_ALIASES {
        return Err(format!(
            "A query may use at most {MAX_ALIASES} aliases in one selection set; this one uses {most_aliases}."
        ));
    }
    Ok(())
}

struct Scan<'a> {
    doc: &'a ExecutableDocument,
    selections: usize,
    visited: usize,
}

impl<'a> Scan<'a> {
    /// The fields of one level, inline fragments and spread fragments merged in (each
    /// fragment once per level, which also stops fragment cycles), and their aliases.
    fn level(&mut self, set: &'a SelectionSet) -> Result<(Vec<&'a Field>, usize), String> {
        let (mut fields, mut aliases) = (Vec::new(), 0);
        let mut spread = HashSet::new();
        let mut pending: Vec<&'a Selection> = set.items.iter().map(|s| &s.node).collect();
        while let Some(selection) = pending.pop() {
            self.visited += 1;
            if self.visited > MAX_SCANNED_NODES {
                return Err(format!(
                    "The query spreads fragments too often (more than {MAX_SCANNED_NODES} selections to check)."
                ));
            }
            match selection {
                Selection::Field(f) => {
                    self.selections += 1;
                    if self.selections > MAX_SELECTIONS {
                        return Err(format!(
                            "The query selects more than {MAX_SELECTIONS} fields (a fragment's fields count at each spread)."
                        ));
                    }
                    aliases += usize::from(f.node.alias.is_some());
                    fields.push(&f.node);
                }
                Selection::InlineFragment(inline) => {
                    pending.extend(inline.node.selection_set.node.items.iter().map(|s| &s.node))
                }
                Selection::FragmentSpread(s) => {
                    let name = &s.node.fragment_name.node;
                    if spread.insert(name) {
                        if let Some(fragment) = self.doc.fragments.get(name) {
                            pending.extend(
                                fragment
                                    .node
                                    .selection_set
                                    .node
                                    .items
                                    .iter()
                                    .map(|s| &s.node),
                            );
                        }
                    }
                }
            }
        }
        Ok((fields, aliases))
    }
}

/// Counts the selections written in every operation and fragment, unexpanded.
fn check_written_selections(doc: &ExecutableDocument) -> Result<(), String> {
    let mut sets: Vec<&SelectionSet> = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node))
        .collect();
    let mut written = 0;
    while let Some(set) = sets.pop() {
        written += set.items.len();
        if written > MAX_DOCUMENT_SELECTIONS {
            return Err(format!(
                "The query writes more than {MAX_DOCUMENT_SELECTIONS} selections."
            ));
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => sets.push(&f.node.selection_set.node),
                Selection::InlineFragment(i) => sets.push(&i.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    Ok(())
}
