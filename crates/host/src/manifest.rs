//! `spin.toml` (manifest version 2), parsed strictly like Spin: unknown keys are errors.

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    pub application: Application,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    pub trigger: BTreeMap<String, Vec<toml::Table>>,
    #[serde(default)]
    pub component: BTreeMap<String, ComponentDecl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub trigger: BTreeMap<String, toml::Table>,
    #[serde(default)]
    pub tool: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub description: Option<String>,
}

/// One `[[trigger.http]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub component: Option<String>,
    #[serde(default)]
    pub static_response: Option<StaticResponse>,
    pub route: RouteDecl,
    #[serde(default)]
    pub executor: Option<toml::Table>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticResponse {
    #[serde(default)]
    pub status_code: Option<u16>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RouteDecl {
    Path(String),
    Private { private: bool },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ComponentSource {
    Local(String),
    Remote(toml::Table),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentDecl {
    pub source: ComponentSource,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub files: Vec<FilesMount>,
    #[serde(default)]
    pub exclude_files: Vec<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub allowed_http_hosts: Vec<String>,
    #[serde(default, alias = "key-value-stores")]
    pub key_value_stores: Vec<String>,
    #[serde(default, alias = "sqlite-databases")]
    pub sqlite_databases: Vec<String>,
    #[serde(default, alias = "ai-models")]
    pub ai_models: Vec<String>,
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub build: Option<BuildDecl>,
    #[serde(default)]
    pub tool: BTreeMap<String, toml::Table>,
    #[serde(default)]
    pub dependencies: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub dependencies_inherit_configuration: Option<toml::Value>,
}

/// One entry of a component's `files` (mounted by `crate::files`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FilesMount {
    /// A glob, or the path of a file or directory, relative to the manifest.
    Pattern(String),
    /// A file or directory of the app, placed at a guest path.
    Placement(FilesPlacement),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesPlacement {
    pub source: String,
    pub destination: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildDecl {
    pub command: BuildCommand,
    #[serde(default)]
    pub workdir: Option<String>,
    #[serde(default)]
    pub watch: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum BuildCommand {
    One(String),
    Many(Vec<String>),
}

impl BuildCommand {
    pub fn commands(&self) -> Vec<&str> {
        match self {
            BuildCommand::One(c) => vec![c.as_str()],
            BuildCommand::Many(cs) => cs.iter().map(String::as_str).collect(),
        }
    }
}

/// A manifest together with the directory its relative paths are resolved against.
#[derive(Debug)]
pub struct LoadedManifest {
    pub manifest: Manifest,
    pub path: PathBuf,
    pub dir: PathBuf,
}

impl LoadedManifest {
    /// Loads `path`, which may name a spin.toml file or a directory containing one.
    pub fn load(path: &Path) -> Result<Self> {
        let path = if path.is_dir() {
            path.join("spin.toml")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        let manifest =
            parse(&text).with_context(|| format!("invalid manifest {}", path.display()))?;
        let path = std::path::absolute(&path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Self {
            manifest,
            path,
            dir,
        })
    }

    /// The `.wasm` file of a component, resolved against the manifest directory.
    pub fn component_source(&self, id: &str) -> Result<PathBuf> {
        let decl = &self.manifest.component[id];
        match &decl.source {
            ComponentSource::Local(p) => Ok(self.dir.join(p)),
            ComponentSource::Remote(_) => bail!(
                "component `{id}`: only local `source` paths are supported by spinflow (build the component and point `source` at the .wasm)"
            ),
        }
    }
}

/// Parses and validates manifest text.
pub fn parse(text: &str) -> Result<Manifest> {
    let manifest: Manifest = toml::from_str(text)?;
    ensure!(
        manifest.spin_manifest_version == 2,
        "spin_manifest_version must be 2, found {}",
        manifest.spin_manifest_version
    );
    for name in manifest.variables.keys() {
        ensure!(
            is_snake_case(name),
            "variable `{name}` must be lower_snake_case"
        );
    }
    for (name, decl) in &manifest.variables {
        ensure!(
            !(decl.required && decl.default.is_some()),
            "variable `{name}` cannot be both required and have a default"
        );
    }
    for (id, decl) in &manifest.component {
        ensure!(is_kebab_case(id), "component id `{id}` must be kebab-case");
        for name in decl.variables.keys() {
            ensure!(
                is_snake_case(name),
                "component `{id}`: variable `{name}` must be lower_snake_case"
            );
        }
    }
    for trigger_type in manifest.trigger.keys() {
        ensure!(
            trigger_type == "http",
            "trigger type `{trigger_type}` is not supported by spinflow (only `http`)"
        );
    }
    for trigger in manifest.http_triggers()? {
        if let Some(component) = &trigger.component {
            ensure!(
                manifest.component.contains_key(component),
                "trigger route {:?} names component `{component}`, which the manifest does not define",
                trigger.route
            );
        }
        ensure!(
            trigger.component.is_some() != trigger.static_response.is_some(),
            "trigger route {:?} must have exactly one of `component` and `static_response`",
            trigger.route
        );
        if let RouteDecl::Private { private: false } = trigger.route {
            bail!("`route = {{ private = false }}` is not valid; give a route path instead");
        }
        if let Some(executor) = &trigger.executor {
            let kind = executor.get("type").and_then(|v| v.as_str()).unwrap_or("");
            ensure!(
                kind == "spin" || kind == "http",
                "executor type `{kind}` is not supported by spinflow"
            );
        }
    }
    Ok(manifest)
}

impl Manifest {
    /// The `[[trigger.http]]` entries, parsed strictly.
    pub fn http_triggers(&self) -> Result<Vec<HttpTrigger>> {
        self.trigger
            .get("http")
            .map(|tables| {
                tables
                    .iter()
                    .map(|t| {
                        HttpTrigger::deserialize(t.clone())
                            .context("invalid [[trigger.http]] entry")
                    })
                    .collect()
            })
            .unwrap_or_else(|| Ok(Vec::new()))
    }
}

fn is_snake_case(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_kebab_case(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        spin_manifest_version = 2
        [application]
        name = "t"
        [variables]
        greeting = { default = "hi" }
        [[trigger.http]]
        route = "/..."
        component = "web"
        [component.web]
        source = "web.wasm"
        key_value_stores = ["default"]
    "#;

    #[test]
    fn parses_a_minimal_manifest() {
        let m = parse(MINIMAL).unwrap();
        assert_eq!(m.application.name, "t");
        assert_eq!(m.component["web"].key_value_stores, vec!["default"]);
        let triggers = m.http_triggers().unwrap();
        assert!(matches!(&triggers[0].route, RouteDecl::Path(p) if p == "/..."));
    }

    #[test]
    fn rejects_unknown_keys() {
        let text = MINIMAL.replace("source = \"web.wasm\"", "source = \"web.wasm\"\nsourse = 1");
        assert!(parse(&text).is_err());
    }

    #[test]
    fn rejects_trigger_to_missing_component() {
        let text = MINIMAL.replace("component = \"web\"", "component = \"nope\"");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn parses_both_forms_of_files() {
        let text = MINIMAL.replace(
            "source = \"web.wasm\"",
            "source = \"web.wasm\"\nfiles = [\"static/**/*\", { source = \"assets\", destination = \"/\" }]",
        );
        let files = &parse(&text).unwrap().component["web"].files;
        assert!(matches!(&files[0], FilesMount::Pattern(p) if p == "static/**/*"));
        assert!(
            matches!(&files[1], FilesMount::Placement(p) if p.source == "assets" && p.destination == "/")
        );
    }

    #[test]
    fn rejects_malformed_files_entries() {
        for entry in [
            "42",
            "{ source = \"assets\" }",
            "{ source = \"a\", destination = \"/\", mode = \"rw\" }",
        ] {
            let text = MINIMAL.replace(
                "source = \"web.wasm\"",
                &format!("source = \"web.wasm\"\nfiles = [{entry}]"),
            );
            assert!(parse(&text).is_err(), "{entry}");
        }
    }

    #[test]
    fn rejects_wrong_version() {
        let text = MINIMAL.replace("spin_manifest_version = 2", "spin_manifest_version = 1");
        assert!(parse(&text).is_err());
    }
}
