//! The user page faults a process takes during a window, from the kernel's
//! `exceptions:page_fault_user` tracepoint (x86). It runs in a tracefs instance of
//! its own, so no other tracing is disturbed, limited in the kernel to the process's
//! threads (and the threads they start meanwhile). Needs root and tracefs
//! (`mount -t tracefs nodev /sys/kernel/tracing`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
const EVENT: &str = "events/exceptions/page_fault_user";
/// The x86 page-fault error code's "write access" bit.
const WRITE: u64 = 1 << 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub address: u64,
    pub write: bool,
    /// The faulting thread.
    pub tid: u32,
}

/// A running trace; [`FaultTrace::finish`] ends it, dropping it removes it.
pub struct FaultTrace {
    instance: PathBuf,
}

impl FaultTrace {
    /// Starts tracing the user page faults of process `pid`.
    pub fn start(pid: u32) -> Result<Self> {
        let root = TRACEFS
            .iter()
            .map(Path::new)
            .find(|p| p.join(EVENT).exists())
            .context(
                "no tracefs with exceptions:page_fault_user: run as root, with tracefs \
                 mounted (mount -t tracefs nodev /sys/kernel/tracing)",
            )?;
        let instance = root
            .join("instances")
            .join(format!("bench-pages-{}", std::process::id()));
        fs::create_dir(&instance)
            .with_context(|| format!("creating the trace instance {}", instance.display()))?;
        let trace = FaultTrace { instance };
        let threads: Vec<String> = fs::read_dir(format!("/proc/{pid}/task"))
            .with_context(|| format!("listing the threads of {pid}"))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        fs::write(trace.instance.join("set_event_pid"), threads.join(" "))
            .context("limiting the trace to the process")?;
        fs::write(trace.instance.join("options/event-fork"), "1")
            .context("following the process's new threads")?;
        fs::write(trace.instance.join(EVENT).join("enable"), "1")
            .context("enabling the fault event")?;
        Ok(trace)
    }

    /// Stops tracing and returns the faults, in order.
    pub fn finish(self) -> Result<Vec<Fault>> {
        fs::write(self.instance.join(EVENT).join("enable"), "0")?;
        let text = fs::read_to_string(self.instance.join("trace"))?;
        if text.contains("LOST") {
            bail!("the trace lost events; its buffer overflowed");
        }
        Ok(text.lines().filter_map(parse_line).collect())
    }
}

impl Drop for FaultTrace {
    fn drop(&mut self) {
        let _ = fs::write(self.instance.join(EVENT).join("enable"), "0");
        let _ = fs::remove_dir(&self.instance);
    }
}

/// One line of the trace: `<comm>-<tid> [cpu] flags time: page_fault_user:
/// address=0x... ip=0x... error_code=0x...`.
fn parse_line(line: &str) -> Option<Fault> {
    let (task, rest) = line.trim_start().split_once(" [")?;
    let tid = task.trim_end().rsplit_once('-')?.1.parse().ok()?;
    let field = |name: &str| {
        let value = rest.split(name).nth(1)?.split_whitespace().next()?;
        u64::from_str_radix(value.strip_prefix("0x")?, 16).ok()
    };
    Some(Fault {
        address: field("address=")?,
        write: field("error_code=")? & WRITE != 0,
        tid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_lines_give_address_access_and_thread() {
        let line = "    tokio-runtime-w-18095   [001] d....  4321.123456: page_fault_user: \
                    address=0x7b736c0ff77c ip=0x7b72847288eb error_code=0x6";
        assert_eq!(
            parse_line(line),
            Some(Fault {
                address: 0x7b736c0ff77c,
                write: true,
                tid: 18095
            })
        );
        let read = line.replace("error_code=0x6", "error_code=0x4");
        assert!(!parse_line(&read).unwrap().write);
        assert_eq!(parse_line("# tracer: nop"), None);
    }
}
