//! The one place the UI's version is pinned: a pip requirements file with a single
//! `name==version --hash=sha256:<hex>` line, passed to pip as it is (so pip checks
//! the hash too) and read here to find and check the wheel.

use anyhow::{bail, ensure, Context, Result};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub name: String,
    pub version: String,
    /// Lowercase hex SHA-256 of the wheel.
    pub sha256: String,
}

impl Pin {
    /// The start of the pinned wheel's file name (`mlflow-3.17.2-`), with the
    /// project name as wheel file names spell it.
    pub fn wheel_prefix(&self) -> String {
        let name = self.name.to_ascii_lowercase().replace(['-', '.'], "_");
        format!("{name}-{}-", self.version)
    }
}

pub fn read(path: &Path) -> Result<Pin> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| {
        format!(
            "{}: expected one `name==version --hash=sha256:<hex>` line",
            path.display()
        )
    })
}

pub fn parse(text: &str) -> Result<Pin> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(line) = lines.next() else {
        bail!("no requirement");
    };
    ensure!(lines.next().is_none(), "more than one requirement");
    let mut words = line.split_whitespace();
    let requirement = words.next().unwrap_or_default();
    let (name, version) = requirement
        .split_once("==")
        .context("the version must be pinned with ==")?;
    let hash = match (words.next(), words.next()) {
        (Some(h), None) => h
            .strip_prefix("--hash=sha256:")
            .context("expected --hash=sha256:<hex>")?,
        _ => bail!("expected exactly one --hash=sha256:<hex>"),
    };
    let word_ok = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    };
    ensure!(word_ok(name, "-_."), "bad project name {name:?}");
    ensure!(word_ok(version, ".+!-_"), "bad version {version:?}");
    ensure!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "bad sha256 {hash:?}"
    );
    Ok(Pin {
        name: name.to_string(),
        version: version.to_string(),
        sha256: hash.to_ascii_lowercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "4e44c03791beb518d8b0a40b0982d958c2634d902f46d67d7907c82107f21fac";

    #[test]
    fn the_pin_file_of_the_repo_parses() {
        let repo_pin =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../components/mlflow-ui/ui-wheel.txt");
        let pin = read(&repo_pin).unwrap();
        assert_eq!(pin.name, "mlflow");
        assert_eq!(pin.sha256.len(), 64);
    }

    #[test]
    fn one_pinned_hashed_requirement() {
        let pin = parse(&format!(
            "# comment\n\nmlflow==3.17.2 --hash=sha256:{}\n",
            HASH.to_uppercase()
        ))
        .unwrap();
        assert_eq!(
            pin,
            Pin {
                name: "mlflow".into(),
                version: "3.17.2".into(),
                sha256: HASH.into()
            }
        );
        assert_eq!(pin.wheel_prefix(), "mlflow-3.17.2-");
        let dashed = parse(&format!("My-Pkg==1.0 --hash=sha256:{HASH}")).unwrap();
        assert_eq!(dashed.wheel_prefix(), "my_pkg-1.0-");
    }

    #[test]
    fn anything_looser_is_refused() {
        for text in [
            String::new(),
            "# only a comment".into(),
            format!("mlflow>=3.17 --hash=sha256:{HASH}"),
            "mlflow==3.17.2".into(),
            format!("mlflow==3.17.2 --hash=md5:{HASH}"),
            "mlflow==3.17.2 --hash=sha256:abc".into(),
            format!("mlflow==3.17.2 --hash=sha256:{HASH} --hash=sha256:{HASH}"),
            format!("mlflow==3.17.2 --hash=sha256:{HASH}\nnumpy==2 --hash=sha256:{HASH}"),
            format!("ml/flow==3.17.2 --hash=sha256:{HASH}"),
            format!("mlflow==3.17.2; python_version>'3' --hash=sha256:{HASH}"),
        ] {
            assert!(parse(&text).is_err(), "{text}");
        }
    }
}
