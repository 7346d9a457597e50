//! What a run reports beside its figures: when and how it ran (mode, repetitions,
//! the machine and its load), the versions of what it measured, each system's
//! command line as launched, and the file stem of its report.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::machine::{self, Machine};
use crate::options::Options;
use crate::paths::Paths;
use crate::setup;
use crate::shell::output;

/// Everything about a run that is not a figure.
#[derive(Debug, Serialize)]
pub struct RunInfo {
    pub started: String,
    pub mode: String,
    pub reps: usize,
    pub machine: Machine,
    pub load_before: String,
    pub load_after: String,
    pub elapsed_s: f64,
    pub versions: Vec<(String, String)>,
    /// The baseline's short commit (`--baseline-app`), when the run has one.
    pub baseline: Option<String>,
    /// (system, command line) as launched.
    pub commands: Vec<(String, String)>,
    pub stem: String,
}

impl RunInfo {
    pub fn new(opts: &Options, paths: &Paths, started: DateTime<Utc>, peers: bool) -> Self {
        let mut versions = vec![
            ("spinflow commit".to_string(), commit_of(&paths.repo).0),
            ("rustc".to_string(), output("rustc", &["--version"])),
        ];
        let baseline = paths.baseline.as_ref().map(|dir| {
            let (described, short) = commit_of(dir);
            versions.push((
                "spinflow-baseline commit (`--baseline-app`)".into(),
                format!("{described} (`{}`)", dir.display()),
            ));
            short
        });
        if let Some(spin) = &paths.spin {
            versions.push((
                "Spin CLI of the `spin…` systems (real Spin)".into(),
                format!(
                    "{} (`{}`)",
                    output(spin.to_str().unwrap_or("spin"), &["--version"]),
                    spin.display()
                ),
            ));
        }
        if peers {
            let py = paths.venv_bin("python");
            versions.push((
                "python".into(),
                output(py.to_str().unwrap_or("python3"), &["--version"]),
            ));
            for dist in [
                "mlflow",
                "fastapi",
                "uvicorn",
                "uvloop",
                "scikit-learn",
                "prometheus-client",
                "fasttrackml",
                "psycopg",
            ] {
                versions.push((dist.into(), setup::pip_version(paths, dist)));
            }
        }
        let stem = free_stem(
            &opts.out,
            &format!(
                "{}{}",
                started.format("%Y-%m-%d"),
                if opts.quick { "-quick" } else { "" }
            ),
        );
        RunInfo {
            started: started.format("%Y-%m-%d %H:%M UTC").to_string(),
            mode: if opts.quick {
                "quick".into()
            } else {
                "full".into()
            },
            reps: opts.reps,
            machine: machine::describe(),
            load_before: machine::load_average(),
            load_after: String::new(),
            elapsed_s: 0.0,
            versions,
            baseline,
            commands: Vec::new(),
            stem,
        }
    }

    pub fn command(&mut self, system: &str, line: &str) {
        if !self.commands.iter().any(|(s, _)| s == system) {
            self.commands.push((system.to_string(), line.to_string()));
        }
    }

    pub fn finish(&mut self, elapsed: Duration) {
        self.load_after = machine::load_average();
        self.elapsed_s = elapsed.as_secs_f64();
    }
}

/// The commit checked out in `dir`, as the report names it (with a word on uncommitted
/// changes), and its short hash alone.
fn commit_of(dir: &Path) -> (String, String) {
    let dir = dir.to_str().unwrap_or(".");
    let short = output("git", &["-C", dir, "rev-parse", "--short", "HEAD"]);
    let dirty = !output(
        "git",
        &["-C", dir, "status", "--porcelain", "--untracked-files=no"],
    )
    .is_empty();
    let described = if dirty {
        format!("{short} (with uncommitted changes)")
    } else {
        short.clone()
    };
    (described, short)
}

/// `base`, or `base-2`, `base-3`... if a report of that name is in `out` already: a
/// second run on the same day must not overwrite a report that docs may cite.
fn free_stem(out: &Path, base: &str) -> String {
    (1..)
        .map(|n| {
            if n == 1 {
                base.to_string()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|stem| !out.join(format!("{stem}.md")).exists())
        .expect("an unused name")
}
