//! Application variables: from (first wins) `--variable`, the environment
//! (`SPIN_VARIABLE_<NAME>`), then the manifest default; a required variable
//! with no value stops start-up. They are the values of `{{ name }}` templates.

use crate::manifest::Manifest;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variables::test_manifest as manifest;

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
}
