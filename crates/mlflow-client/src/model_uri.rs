//! The model URIs iris-api serves from and `spinflow preinit --model` bakes.

/// A parsed model URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelUri {
    /// `models:/<name>@<alias>`
    Alias { name: String, alias: String },
    /// `models:/<name>/<version>`
    Version { name: String, version: u64 },
    /// `models:/<name>/<stage>` (`Production`, `Staging`...) or `models:/<name>/latest`
    /// (any stage: `stage` is `None`).
    Latest { name: String, stage: Option<String> },
    /// `runs:/<run_id>/<path>`
    Run { run_id: String, path: String },
    /// `models:/m-<id>`, an MLflow 3 logged model.
    LoggedModel { model_id: String },
}

impl ModelUri {
    pub fn parse(uri: &str) -> Result<Self, String> {
        let bad = || {
            format!("unsupported model_uri {uri:?}: use models:/<name>@<alias>, models:/<name>/<version|stage|latest>, models:/m-<id> or runs:/<run_id>/<path>")
        };
        if let Some(rest) = uri.strip_prefix("models:/") {
            if let Some((name, alias)) = rest.split_once('@') {
                if name.is_empty() || alias.is_empty() {
                    return Err(bad());
                }
                return Ok(Self::Alias {
                    name: name.into(),
                    alias: alias.into(),
                });
            }
            return match rest.rsplit_once('/') {
                Some((name, tail)) if !name.is_empty() && !tail.is_empty() => {
                    let name = name.to_string();
                    Ok(match tail.parse() {
                        Ok(version) => Self::Version { name, version },
                        Err(_) if tail.eq_ignore_ascii_case("latest") => {
                            Self::Latest { name, stage: None }
                        }
                        Err(_) => Self::Latest {
                            name,
                            stage: Some(tail.into()),
                        },
                    })
                }
                None if rest.starts_with("m-") => Ok(Self::LoggedModel {
                    model_id: rest.into(),
                }),
                _ => Err(bad()),
            };
        }
        if let Some(rest) = uri.strip_prefix("runs:/") {
            return match rest.split_once('/') {
                Some((run_id, path)) if !run_id.is_empty() && !path.is_empty() => Ok(Self::Run {
                    run_id: run_id.into(),
                    path: path.trim_matches('/').into(),
                }),
                _ => Err(bad()),
            };
        }
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse() {
        assert_eq!(
            ModelUri::parse("models:/iris@champion").unwrap(),
            ModelUri::Alias {
                name: "iris".into(),
                alias: "champion".into()
            }
        );
        assert_eq!(
            ModelUri::parse("models:/iris/3").unwrap(),
            ModelUri::Version {
                name: "iris".into(),
                version: 3
            }
        );
        assert_eq!(
            ModelUri::parse("models:/iris/Production").unwrap(),
            ModelUri::Latest {
                name: "iris".into(),
                stage: Some("Production".into())
            }
        );
        assert_eq!(
            ModelUri::parse("models:/iris/latest").unwrap(),
            ModelUri::Latest {
                name: "iris".into(),
                stage: None
            }
        );
        assert_eq!(
            ModelUri::parse("runs:/abc/model").unwrap(),
            ModelUri::Run {
                run_id: "abc".into(),
                path: "model".into()
            }
        );
        assert_eq!(
            ModelUri::parse("models:/m-123").unwrap(),
            ModelUri::LoggedModel {
                model_id: "m-123".into()
            }
        );
        for bad in [
            "s3://x",
            "models:/",
            "models:/@a",
            "runs:/abc",
            "models:/iris",
        ] {
            assert!(ModelUri::parse(bad).is_err(), "{bad}");
        }
    }
}
