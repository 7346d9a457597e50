//! Module tree discovery: every module of a crate, from its root file down.
//!
//! The nodes of the import graph are modules, so they are found the way rustc finds them:
//! `mod x;` loads `x.rs` or `x/mod.rs` beside the declaring file (in its own directory for
//! `lib.rs`, `main.rs` and `mod.rs`, in a directory named after it otherwise), `#[path = ...]`
//! names the file instead, and an inline `mod x { ... }` is a module of its own whose file
//! children live in a directory named after it. Items are kept per module, without their
//! child modules, for the edge extraction.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use syn::ext::IdentExt;
use syn::{Attribute, Expr, Item, Lit, Meta};

/// One module of a crate: a file module or an inline `mod x { ... }` block.
pub struct Module {
    /// `crate::service::runs` as segments: `["crate", "service", "runs"]`.
    pub path: Vec<String>,
    /// The file holding the module's items (an inline module's is its parent's file).
    pub file: PathBuf,
    /// Under `#[cfg(test)]`, itself or through an ancestor. Nothing may depend on such a
    /// module in a build, so edges to it are not edges of the graph.
    pub is_test: bool,
    /// The module's own items; its child modules are modules of their own.
    pub items: Vec<Item>,
    /// The names of its child modules.
    pub children: Vec<String>,
}

impl Module {
    /// `crate::service::runs`.
    pub fn name(&self) -> String {
        self.path.join("::")
    }
}

/// The modules of one crate, the root (`crate`) first.
pub struct ModuleTree {
    pub modules: Vec<Module>,
    by_path: HashMap<Vec<String>, usize>,
}

/// Where a module's `mod x;` declarations look for their files.
struct Dirs {
    /// Where `x.rs` and `x/mod.rs` are looked for.
    children: PathBuf,
    /// What a `#[path = ...]` is relative to.
    path_attribute: PathBuf,
}

impl ModuleTree {
    /// Reads the crate whose root file is `root_file` and every module file it declares.
    pub fn load(root_file: &Path) -> Result<Self, String> {
        let mut tree = ModuleTree {
            modules: Vec::new(),
            by_path: HashMap::new(),
        };
        let dir = root_file.parent().unwrap_or(Path::new(".")).to_owned();
        let dirs = Dirs {
            children: dir.clone(),
            path_attribute: dir,
        };
        let items = parse(root_file)?;
        tree.add(vec!["crate".to_owned()], root_file, items, &dirs, false)?;
        Ok(tree)
    }

    /// The module at exactly this path.
    pub fn find(&self, path: &[String]) -> Option<usize> {
        self.by_path.get(path).copied()
    }

    /// The deepest module that an item path lies in: `crate::store::runs::insert` is in
    /// `crate::store::runs`, `crate::error::MlflowError` in `crate::error`.
    pub fn deepest(&self, path: &[String]) -> Option<usize> {
        (1..=path.len())
            .rev()
            .find_map(|len| self.find(&path[..len]))
    }

    fn add(
        &mut self,
        path: Vec<String>,
        file: &Path,
        items: Vec<Item>,
        dirs: &Dirs,
        is_test: bool,
    ) -> Result<(), String> {
        let index = self.modules.len();
        self.by_path.insert(path.clone(), index);
        self.modules.push(Module {
            path: path.clone(),
            file: file.to_owned(),
            is_test,
            items: Vec::new(),
            children: Vec::new(),
        });
        let mut own = Vec::new();
        for item in items {
            let Item::Mod(module) = item else {
                own.push(item);
                continue;
            };
            let name = module.ident.unraw().to_string();
            self.modules[index].children.push(name.clone());
            let mut child_path = path.clone();
            child_path.push(name.clone());
            let child_is_test = is_test || module.attrs.iter().any(is_cfg_test);
            let path_attribute = path_attribute(&module.attrs);
            match module.content {
                Some((_, inner)) => {
                    let dir = match path_attribute {
                        Some(relative) => dirs.path_attribute.join(relative),
                        None => dirs.children.join(&name),
                    };
                    let inner_dirs = Dirs {
                        children: dir.clone(),
                        path_attribute: dir,
                    };
                    self.add(child_path, file, inner, &inner_dirs, child_is_test)?;
                }
                None => {
                    let line = module.ident.span().start().line;
                    let (child_file, child_dirs) =
                        locate(&name, path_attribute, dirs).ok_or_else(|| {
                            format!(
                                "{}:{line}: no file for `mod {name};` (looked for {name}.rs \
                                 and {name}/mod.rs in {})",
                                file.display(),
                                dirs.children.display()
                            )
                        })?;
                    let items = parse(&child_file)?;
                    self.add(child_path, &child_file, items, &child_dirs, child_is_test)?;
                }
            }
        }
        self.modules[index].items = own;
        Ok(())
    }
}

fn parse(file: &Path) -> Result<Vec<Item>, String> {
    let source = fs::read_to_string(file)
        .map_err(|error| format!("cannot read {}: {error}", file.display()))?;
    let parsed = syn::parse_file(&source)
        .map_err(|error| format!("cannot parse {}: {error}", file.display()))?;
    Ok(parsed.items)
}

/// The file of `mod name;` and where its own declarations look, or None if it has no file.
fn locate(name: &str, path_attribute: Option<String>, dirs: &Dirs) -> Option<(PathBuf, Dirs)> {
    if let Some(relative) = path_attribute {
        // A file named by #[path] owns its directory, as a mod.rs does.
        let file = dirs.path_attribute.join(relative);
        let dir = file.parent()?.to_owned();
        let dirs = Dirs {
            children: dir.clone(),
            path_attribute: dir,
        };
        return file.is_file().then_some((file, dirs));
    }
    let own_dir = dirs.children.join(name);
    let flat = dirs.children.join(format!("{name}.rs"));
    if flat.is_file() {
        let child_dirs = Dirs {
            children: own_dir,
            path_attribute: dirs.children.clone(),
        };
        return Some((flat, child_dirs));
    }
    let mod_rs = own_dir.join("mod.rs");
    let child_dirs = Dirs {
        children: own_dir.clone(),
        path_attribute: own_dir,
    };
    mod_rs.is_file().then_some((mod_rs, child_dirs))
}

/// The string of a `#[path = "..."]` attribute.
fn path_attribute(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| match &attr.meta {
        Meta::NameValue(pair) if pair.path.is_ident("path") => match &pair.value {
            Expr::Lit(expr) => match &expr.lit {
                Lit::Str(text) => Some(text.value()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    })
}

/// `#[cfg(test)]`, or a `cfg` that needs `test` (`all(test, ...)`).
fn is_cfg_test(attr: &Attribute) -> bool {
    match &attr.meta {
        Meta::List(list) if list.path.is_ident("cfg") => needs_test(list.tokens.clone()),
        _ => false,
    }
}

fn needs_test(tokens: proc_macro2::TokenStream) -> bool {
    use proc_macro2::TokenTree;
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        if let TokenTree::Ident(ident) = &token {
            if ident == "test" {
                return true;
            }
            // all(..., test) needs test; not(test) and any(test, ...) do not.
            let inner = match tokens.peek() {
                Some(TokenTree::Group(group)) => Some(group.stream()),
                _ => None,
            };
            if let Some(inner) = inner {
                tokens.next();
                if ident == "all" && needs_test(inner) {
                    return true;
                }
            }
        }
    }
    false
}
