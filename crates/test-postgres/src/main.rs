//! `test-postgres [--tls]`: a PostgreSQL server of the tests' own (the library's), for
//! tests that are not Rust (the Python suites on PostgreSQL). It prints the server's
//! `postgres://` URL on one line, then answers commands read from stdin, one a line:
//!
//! - `database NAME`: creates the database NAME and answers its URL;
//! - `stop`: stops the server (fast shutdown; the data stays) and answers `stopped`;
//! - `start`: starts it again on the same port and answers `started`.
//!
//! When stdin ends (the test process closed it or died) the server stops and its
//! files are removed.

use std::io::{BufRead, Write};

fn main() {
    let tls = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--tls") => true,
        Some(other) => {
            eprintln!("usage: test-postgres [--tls] (unknown argument {other:?})");
            std::process::exit(2);
        }
    };
    let mut server = test_postgres::start(tls);
    let mut out = std::io::stdout().lock();
    let mut answer = |line: &str| {
        // A reader that went away ends the session as end of input does.
        writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
    };
    if !answer(&server.url()) {
        return;
    }
    for command in std::io::stdin().lock().lines() {
        let Ok(command) = command else { break };
        let reply = match command.split_whitespace().collect::<Vec<_>>()[..] {
            ["database", name] => server.create_database(name),
            ["stop"] => {
                server.stop();
                "stopped".to_string()
            }
            ["start"] => {
                server.start_again();
                "started".to_string()
            }
            _ => format!("error: unknown command {command:?}"),
        };
        if !answer(&reply) {
            break;
        }
    }
}
