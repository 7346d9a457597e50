//! CPU time of the processes that serve a workload (the server's process tree and,
//! where there is one, the database's), read from /proc before and after the load:
//! the cost of a request on a machine whose cores bound the throughput, which
//! requests/s alone does not show.

use std::fs;

use crate::procs;
use crate::results::{Better, Results};

/// The process trees a workload's requests are charged to: the servers (one per
/// replica) and the database server, each given by its root process.
#[derive(Clone, Debug, Default)]
pub struct CpuMeter {
    servers: Vec<u32>,
    database: Option<u32>,
}

/// CPU seconds used so far (or between two readings) by the servers and the database.
#[derive(Clone, Copy, Debug)]
pub struct CpuReading {
    servers: f64,
    database: f64,
}

impl CpuReading {
    /// What was used between `before` and this reading.
    pub fn since(self, before: CpuReading) -> CpuReading {
        CpuReading {
            servers: self.servers - before.servers,
            database: self.database - before.database,
        }
    }
}

impl CpuMeter {
    pub fn new(servers: Vec<u32>, database: Option<u32>) -> Self {
        CpuMeter { servers, database }
    }

    pub fn read(&self) -> CpuReading {
        CpuReading {
            servers: self.servers.iter().copied().map(tree_cpu_seconds).sum(),
            database: self.database.map(tree_cpu_seconds).unwrap_or(0.0),
        }
    }

    /// Records the CPU time `used` per request (ms), as `server CPU per request` and,
    /// with a database, `database CPU per request`. Nothing without servers or
    /// requests.
    pub fn record(
        &self,
        used: CpuReading,
        requests: u64,
        workload: &str,
        system: &str,
        results: &mut Results,
    ) {
        if self.servers.is_empty() || requests == 0 {
            return;
        }
        let per_request_ms = |seconds: f64| seconds * 1000.0 / requests as f64;
        results.record(
            workload,
            "server CPU per request",
            "ms",
            Better::Lower,
            system,
            per_request_ms(used.servers),
        );
        if self.database.is_some() {
            results.record(
                workload,
                "database CPU per request",
                "ms",
                Better::Lower,
                system,
                per_request_ms(used.database),
            );
        }
    }
}

/// CPU seconds of `root` and every live descendant. A process's own time counts with
/// that of its children it has waited for, so a database backend that ended during
/// the load still counts (in its parent's).
pub fn tree_cpu_seconds(root: u32) -> f64 {
    procs::tree_pids(root).into_iter().map(cpu_seconds).sum()
}

/// utime + stime + cutime + cstime of one process, in seconds (0 when it is gone).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name's ')' start at field 3 (state); utime is field 14.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0.0;
    };
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    ticks as f64 / per_second as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_process_accumulates_cpu_time() {
        let me = std::process::id();
        let before = tree_cpu_seconds(me);
        // Spin until the kernel has charged us a few ticks; a minute is far more than
        // any loaded machine needs, and not reaching it means the reading is wrong.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut x = 0u64;
        while tree_cpu_seconds(me) < before + 0.05 {
            assert!(std::time::Instant::now() < deadline, "no CPU time counted");
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        assert_eq!(cpu_seconds(u32::MAX), 0.0);
    }
}
