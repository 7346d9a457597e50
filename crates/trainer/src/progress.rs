//! Progress lines on stderr: `[2/7] Logging params and metrics ... ok (12 ms)`.

use std::io::Write;
use std::time::Instant;

pub struct Progress {
    total: usize,
    done: usize,
    quiet: bool,
}

impl Progress {
    pub fn new(total: usize, quiet: bool) -> Progress {
        Progress {
            total,
            done: 0,
            quiet,
        }
    }

    /// Runs one step, reporting its name, outcome and duration.
    pub fn step<T>(
        &mut self,
        what: &str,
        work: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        self.done += 1;
        if !self.quiet {
            eprint!("[{}/{}] {what} ... ", self.done, self.total);
            let _ = std::io::stderr().flush();
        }
        let started = Instant::now();
        let outcome = work();
        if !self.quiet {
            let ms = started.elapsed().as_millis();
            match &outcome {
                Ok(_) => eprintln!("ok ({ms} ms)"),
                Err(_) => eprintln!("failed ({ms} ms)"),
            }
        }
        outcome
    }

    /// A detail line under the current step.
    pub fn note(&self, line: &str) {
        if !self.quiet {
            eprintln!("      {line}");
        }
    }
}
