//! Edge extraction: module A depends on module B when A names an item that lies in B.
//!
//! A names items in two ways, and both count: `use` declarations (`pub use` re-exports and
//! `use super::*` globs included) and qualified paths anywhere in its items, in expressions,
//! types, patterns and macro calls (`crate::store::runs::insert(..)`, `super::y::T`,
//! `$crate::x!`). A path is resolved relative to A as rustc does in edition 2018 and later:
//! `crate::`, `self::` and `super::` are anchored, and a path starting with another name is
//! followed through A's child modules, A's own `use` declarations, and the names that A's glob
//! imports bring in (so `use super::*; runs::insert()` reaches the sibling `runs`). Names it
//! cannot follow are external crates, locals or generics, and are no edges. The target is the
//! deepest module the resolved path lies in. `mod x;` itself is no edge, and nothing depends
//! on a `#[cfg(test)]` module, so edges to those are dropped; edges from them are kept.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::visit::{self, Visit};
use syn::{Attribute, ItemMod, ItemUse, Macro, Path, UseTree, Visibility};

use crate::tree::ModuleTree;

/// Where one module names an item of another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Site {
    pub file: PathBuf,
    pub line: usize,
    /// The first path written on that line (a `use` group flattened):
    /// `use crate::store::runs::insert`.
    pub text: String,
}

/// The edges of a crate's import graph, by (from, to) module index, with where each is made.
pub type Edges = BTreeMap<(usize, usize), Vec<Site>>;

/// The import graph of one crate's module tree.
pub fn extract(tree: &ModuleTree) -> Edges {
    let names: Vec<Names> = tree.modules.iter().map(Names::collect).collect();
    let resolver = Resolver {
        tree,
        names: &names,
    };
    let mut edges = Edges::new();
    for (from, module) in tree.modules.iter().enumerate() {
        for reference in &names[from].references {
            let Some(path) = resolver.resolve(from, &reference.segments, 0) else {
                continue;
            };
            let Some(to) = tree.deepest(&path) else {
                continue;
            };
            if to == from || tree.modules[to].is_test {
                continue;
            }
            let site = Site {
                file: module.file.clone(),
                line: reference.line,
                text: reference.text.clone(),
            };
            // One site per line: `use a::{B, C};` is one place to change.
            let sites = edges.entry((from, to)).or_default();
            if !sites.iter().any(|seen| seen.line == site.line) {
                sites.push(site);
            }
        }
    }
    for sites in edges.values_mut() {
        sites.sort();
    }
    edges
}

/// A path written in a module, not yet resolved.
struct Reference {
    segments: Vec<String>,
    line: usize,
    text: String,
}

/// What one module's items name: its imports (for resolving later paths) and every path.
#[derive(Default)]
struct Names {
    /// `use a::b as c;` is ("c", [a, b]).
    imports: Vec<(String, Vec<String>)>,
    /// `use a::b::*;` is [a, b].
    globs: Vec<Vec<String>>,
    /// Every path of two or more segments, and every `use` path.
    references: Vec<Reference>,
}

impl Names {
    fn collect(module: &crate::tree::Module) -> Names {
        let mut names = Names::default();
        for item in &module.items {
            names.visit_item(item);
        }
        names
    }

    fn add_use(&mut self, tree: &UseTree, prefix: &mut Vec<String>) {
        match tree {
            UseTree::Path(path) => {
                prefix.push(path.ident.unraw().to_string());
                self.add_use(&path.tree, prefix);
                prefix.pop();
            }
            UseTree::Name(name) => self.add_import(prefix, &name.ident, &name.ident),
            UseTree::Rename(rename) => self.add_import(prefix, &rename.ident, &rename.rename),
            UseTree::Glob(glob) => {
                self.globs.push(prefix.clone());
                self.references.push(Reference {
                    segments: prefix.clone(),
                    line: glob.star_token.spans[0].start().line,
                    text: format!("use {}::*", prefix.join("::")),
                });
            }
            UseTree::Group(group) => {
                for tree in &group.items {
                    self.add_use(tree, prefix);
                }
            }
        }
    }

    /// `use prefix::ident as alias;` (`use a::{self}` imports `a` itself).
    fn add_import(&mut self, prefix: &[String], ident: &syn::Ident, alias: &syn::Ident) {
        let mut segments = prefix.to_vec();
        if ident != "self" {
            segments.push(ident.unraw().to_string());
        }
        let alias = if alias == "self" {
            prefix.last().cloned().unwrap_or_default()
        } else {
            alias.unraw().to_string()
        };
        if alias != "_" {
            self.imports.push((alias, segments.clone()));
        }
        self.references.push(Reference {
            text: format!("use {}", segments.join("::")),
            segments,
            line: ident.span().start().line,
        });
    }

    /// Paths inside a macro call's tokens: `a::b` runs of identifiers joined by `::`.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut at = 0;
        while at < tokens.len() {
            let start = at;
            at += 1;
            let ident = match &tokens[start] {
                TokenTree::Group(group) => {
                    self.scan_tokens(group.stream());
                    continue;
                }
                TokenTree::Ident(ident) => ident,
                _ => continue,
            };
            let mut segments = vec![ident.unraw().to_string()];
            while let Some(TokenTree::Ident(next)) = tokens.get(at + 2) {
                if !is_path_separator(&tokens[at..]) {
                    break;
                }
                segments.push(next.unraw().to_string());
                at += 3;
            }
            let after_separator = start >= 2 && is_path_separator(&tokens[start - 2..]);
            let after_dollar = start >= 1 && is_punct(&tokens[start - 1], '$');
            // `::a::b` is an external crate and `$x::b` a macro variable; `$crate::b` counts.
            let anchored = !after_separator && (!after_dollar || segments[0] == "crate");
            if segments.len() >= 2 && anchored {
                self.references.push(Reference {
                    text: segments.join("::"),
                    segments,
                    line: ident.span().start().line,
                });
            }
        }
    }
}

fn is_punct(token: &TokenTree, ch: char) -> bool {
    matches!(token, TokenTree::Punct(punct) if punct.as_char() == ch)
}

/// Whether `tokens` start with `::`.
fn is_path_separator(tokens: &[TokenTree]) -> bool {
    match tokens {
        [TokenTree::Punct(first), second, ..] => {
            first.as_char() == ':' && first.spacing() == Spacing::Joint && is_punct(second, ':')
        }
        _ => false,
    }
}

impl<'ast> Visit<'ast> for Names {
    /// A child module is a node of its own: its items are not this module's.
    fn visit_item_mod(&mut self, _: &'ast ItemMod) {}

    fn visit_item_use(&mut self, item: &'ast ItemUse) {
        // `use ::name::...` can only name an external crate.
        if item.leading_colon.is_none() {
            self.add_use(&item.tree, &mut Vec::new());
        }
    }

    /// `pub(crate)`, `pub(super)` and `pub(in path)` restrict who may see an item; they name
    /// no item.
    fn visit_visibility(&mut self, _: &'ast Visibility) {}

    /// Attributes are lints, derives and cfgs, none of them items of the crate.
    fn visit_attribute(&mut self, _: &'ast Attribute) {}

    fn visit_path(&mut self, path: &'ast Path) {
        if path.leading_colon.is_none() && path.segments.len() >= 2 {
            let segments: Vec<String> = path
                .segments
                .iter()
                .map(|segment| segment.ident.unraw().to_string())
                .collect();
            self.references.push(Reference {
                text: segments.join("::"),
                segments,
                line: path.segments[0].ident.span().start().line,
            });
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast Macro) {
        visit::visit_macro(self, mac);
        self.scan_tokens(mac.tokens.clone());
    }
}

/// Turns paths as written in a module into paths from the crate root.
struct Resolver<'t> {
    tree: &'t ModuleTree,
    names: &'t [Names],
}

/// Deeper than any real chain of imports and globs; stops `use a as b; use b as a;` loops.
const MAX_DEPTH: usize = 8;

impl Resolver<'_> {
    /// `segments` written in module `from`, as a path from `crate`; None if external or local.
    fn resolve(&self, from: usize, segments: &[String], depth: usize) -> Option<Vec<String>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (first, mut rest) = segments.split_first()?;
        let mut path = match first.as_str() {
            "crate" => vec!["crate".to_owned()],
            "self" => self.tree.modules[from].path.clone(),
            "super" => parent(&self.tree.modules[from].path)?,
            _ => self.lookup(from, first, depth)?,
        };
        while rest.first().map(String::as_str) == Some("super") {
            path = parent(&path)?;
            rest = &rest[1..];
        }
        path.extend(rest.iter().cloned());
        Some(path)
    }

    /// What the bare name `name` means in module `from`, as a path from `crate`.
    fn lookup(&self, from: usize, name: &str, depth: usize) -> Option<Vec<String>> {
        let module = &self.tree.modules[from];
        if module.children.iter().any(|child| child == name) {
            let mut path = module.path.clone();
            path.push(name.to_owned());
            return Some(path);
        }
        let names = &self.names[from];
        if let Some((_, imported)) = names.imports.iter().find(|(alias, _)| alias == name) {
            return self.resolve(from, imported, depth + 1);
        }
        names.globs.iter().find_map(|glob| {
            let source = self.resolve(from, glob, depth + 1)?;
            let source = self.tree.find(&source).filter(|&source| source != from)?;
            self.lookup(source, name, depth + 1)
        })
    }
}

fn parent(path: &[String]) -> Option<Vec<String>> {
    (path.len() > 1).then(|| path[..path.len() - 1].to_vec())
}
