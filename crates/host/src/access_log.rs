//! The access log: one line per request on stdout. Lines go to an in-memory
//! buffer that a background thread writes out in one go shortly after the
//! first line arrives, so a request neither contends for stdout's lock nor
//! makes a system call of its own.

use std::io::Write;
use std::sync::{Condvar, LazyLock, Mutex};
use std::time::Duration;

/// How long the writer waits for more lines after the first one.
const GATHER: Duration = Duration::from_millis(20);
/// Past this much unwritten log, a request writes it out itself (as a
/// `println!` would have done), so a stalled stdout cannot grow the buffer.
const MAX_BUFFERED: usize = 1 << 20;

struct Log {
    pending: Mutex<Vec<u8>>,
    arrived: Condvar,
}

static LOG: LazyLock<&'static Log> = LazyLock::new(|| {
    let log: &'static Log = Box::leak(Box::new(Log {
        pending: Mutex::new(Vec::with_capacity(64 << 10)),
        arrived: Condvar::new(),
    }));
    let spawned = std::thread::Builder::new()
        .name("spinflow-access-log".into())
        .spawn(move || loop {
            let mut pending = log.pending.lock().unwrap();
            while pending.is_empty() {
                pending = log.arrived.wait(pending).unwrap();
            }
            drop(pending);
            std::thread::sleep(GATHER);
            write_out(log);
        });
    if let Err(e) = spawned {
        eprintln!("spinflow: no access-log thread ({e}); lines are written at shutdown");
    }
    log
});

/// Appends one line (without its newline) to the log.
pub fn line(args: std::fmt::Arguments<'_>) {
    let log = *LOG;
    let mut pending = log.pending.lock().unwrap();
    let was_empty = pending.is_empty();
    let _ = pending.write_fmt(args);
    pending.push(b'\n');
    let full = pending.len() > MAX_BUFFERED;
    drop(pending);
    if full {
        write_out(log);
    } else if was_empty {
        log.arrived.notify_one();
    }
}

/// Writes out every buffered line now (at shutdown).
pub fn flush() {
    if let Some(log) = LazyLock::get(&LOG) {
        write_out(log);
    }
}

fn write_out(log: &Log) {
    // stdout's lock is taken before the buffer's, so lines keep their order
    // between two writers; requests only wait for the buffer's.
    let mut stdout = std::io::stdout().lock();
    let lines = std::mem::take(&mut *log.pending.lock().unwrap());
    let _ = stdout.write_all(&lines);
    let _ = stdout.flush();
    // Give the allocation back for reuse unless it grew large.
    let mut lines = lines;
    lines.clear();
    if lines.capacity() <= MAX_BUFFERED {
        let mut pending = log.pending.lock().unwrap();
        if pending.is_empty() && pending.capacity() < lines.capacity() {
            *pending = lines;
        }
    }
}
