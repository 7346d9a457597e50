//! Component variables: the names a component may read, each a `{{ app_var }}`
//! template over the application variables, rendered once at start-up.

use super::app_variables::AppVariables;
use anyhow::Result;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

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

    /// Every variable and its value.
    pub fn all(&self) -> impl Iterator<Item = (&String, &String)> {
        self.values.iter()
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

    /// The value of `name`, a lower_snake_case name.
    pub fn lookup(&self, name: &str) -> Result<String, LookupError> {
        let valid = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(LookupError::InvalidName(format!(
                "{name:?} is not a lower_snake_case variable name"
            )));
        }
        self.values.get(name).cloned().ok_or_else(|| {
            LookupError::Undefined(format!("no variable named {name:?} for this component"))
        })
    }
}

/// Why a component variable has no value; each interface maps it to its error.
#[derive(Debug)]
pub enum LookupError {
    InvalidName(String),
    Undefined(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variables::test_manifest as manifest;

    #[test]
    fn component_lookup_distinguishes_invalid_and_undefined() {
        let m = manifest();
        let vars = AppVariables::resolve(&m, &BTreeMap::new(), |_| Some("v".into())).unwrap();
        let templates = BTreeMap::from([("msg".to_string(), "{{ greeting }}!".to_string())]);
        let cv = ComponentVariables::resolve(&vars, &templates).unwrap();
        assert_eq!(cv.lookup("msg").unwrap(), "v!");
        assert!(matches!(cv.lookup("other"), Err(LookupError::Undefined(_))));
        assert!(matches!(
            cv.lookup("Bad-Name"),
            Err(LookupError::InvalidName(_))
        ));
    }
}
