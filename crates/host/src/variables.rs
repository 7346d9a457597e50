//! Application and component variables.
//!
//! Application variables come from (first wins) `--variable`, the environment
//! (`SPIN_VARIABLE_<NAME>`), then the manifest default; a required variable
//! with no value stops start-up. Component variables are `{{ app_var }}`
//! templates over them, resolved once at start-up; the guest reads them through
//! `fermyon:spin/variables` or `wasi:config/store`.

use crate::bindings::{spin_v2::variables as v2, wasi_config};
use crate::manifest::Manifest;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Resolved application variables.
#[derive(Debug, Clone, Default)]
pub struct AppVariables {
    values: BTreeMap<String, String>,
}

impl AppVariables {
    /// Resolves every declared variable. `overrides` are `--variable` values,
    /// `env` looks up process environment variables.
    pub fn resolve(
        manifest: &Manifest,
        overrides: &BTreeMap<String, String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        for name in overrides.keys() {
            if !manifest.variables.contains_key(name) {
                bail!("--variable {name}: the manifest declares no variable `{name}`");
            }
        }
        let mut values = BTreeMap::new();
        for (name, decl) in &manifest.variables {
            let env_name = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            let value = overrides
                .get(name)
                .cloned()
                .or_else(|| env(&env_name))
                .or_else(|| decl.default.clone());
            match value {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None if decl.required => bail!(
                    "required variable `{name}` has no value: set {env_name} in the environment or pass --variable {name}=VALUE"
                ),
                None => {}
            }
        }
        Ok(Self { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Expands `{{ name }}` references to application variables in `template`.
    pub fn render(&self, template: &str) -> Result<String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .with_context(|| format!("unterminated `{{{{` in template {template:?}"))?;
            let name = after[..end].trim();
            let value = self.get(name).with_context(|| {
                format!("template {template:?} refers to `{name}`, which is not an application variable with a value")
            })?;
            out.push_str(value);
            rest = &after[end + 2..];
        }
        if rest.contains("}}") {
            bail!("unbalanced `}}}}` in template {template:?}");
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The variables one component may read, already rendered.
#[derive(Debug, Clone, Default)]
pub struct ComponentVariables {
    values: Arc<HashMap<String, String>>,
}

impl ComponentVariables {
    /// Variables with these literal values (no templates).
    pub fn from_values(values: HashMap<String, String>) -> Self {
        Self {
            values: Arc::new(values),
        }
    }

    pub fn resolve(app: &AppVariables, templates: &BTreeMap<String, String>) -> Result<Self> {
        let values = templates
            .iter()
            .map(|(name, template)| Ok((name.clone(), app.render(template)?)))
            .collect::<Result<HashMap<_, _>>>()?;
        Ok(Self {
            values: Arc::new(values),
        })
    }

    fn lookup(&self, name: &str) -> Result<String, v2::Error> {
        let valid = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(v2::Error::InvalidName(format!(
                "{name:?} is not a lower_snake_case variable name"
            )));
        }
        self.values.get(name).cloned().ok_or_else(|| {
            v2::Error::Undefined(format!("no variable named {name:?} for this component"))
        })
    }
}

impl v2::Host for ComponentVariables {
    async fn get(&mut self, name: String) -> anyhow::Result<Result<String, v2::Error>> {
        Ok(self.lookup(&name))
    }
}

impl wasi_config::Host for ComponentVariables {
    async fn get(
        &mut self,
        key: String,
    ) -> anyhow::Result<Result<Option<String>, wasi_config::Error>> {
        Ok(match self.lookup(&key) {
            Ok(v) => Ok(Some(v)),
            Err(v2::Error::Undefined(_)) => Ok(None),
            Err(e) => Err(wasi_config::Error::Upstream(format!("{e:?}"))),
        })
    }

    async fn get_all(
        &mut self,
    ) -> anyhow::Result<Result<Vec<(String, String)>, wasi_config::Error>> {
        Ok(Ok(self
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse;

    fn manifest() -> Manifest {
        parse(
            r#"
            spin_manifest_version = 2
            [application]
            name = "t"
            [variables]
            greeting = { default = "hello" }
            token = { required = true, secret = true }
            "#,
        )
        .unwrap()
    }

    #[test]
    fn env_overrides_default_and_required_is_enforced() {
        let m = manifest();
        let err = AppVariables::resolve(&m, &BTreeMap::new(), |_| None).unwrap_err();
        assert!(err.to_string().contains("token"), "{err}");

        let vars = AppVariables::resolve(&m, &BTreeMap::new(), |k| match k {
            "SPIN_VARIABLE_TOKEN" => Some("t0k".into()),
            "SPIN_VARIABLE_GREETING" => Some("bonjour".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(vars.get("token"), Some("t0k"));
        assert_eq!(vars.get("greeting"), Some("bonjour"));
    }

    #[test]
    fn templates_render_and_fail_on_unknown_names() {
        let m = manifest();
        let vars = AppVariables::resolve(&m, &BTreeMap::new(), |_| Some("x".into())).unwrap();
        assert_eq!(
            vars.render("a {{ greeting }}-{{token}} b").unwrap(),
            "a x-x b"
        );
        assert!(vars.render("{{ missing }}").is_err());
        assert!(vars.render("{{ greeting").is_err());
    }

    #[test]
    fn component_lookup_distinguishes_invalid_and_undefined() {
        let m = manifest();
        let vars = AppVariables::resolve(&m, &BTreeMap::new(), |_| Some("v".into())).unwrap();
        let templates = BTreeMap::from([("msg".to_string(), "{{ greeting }}!".to_string())]);
        let cv = ComponentVariables::resolve(&vars, &templates).unwrap();
        assert_eq!(cv.lookup("msg").unwrap(), "v!");
        assert!(matches!(cv.lookup("other"), Err(v2::Error::Undefined(_))));
        assert!(matches!(
            cv.lookup("Bad-Name"),
            Err(v2::Error::InvalidName(_))
        ));
    }
}
