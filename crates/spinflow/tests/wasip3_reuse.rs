//! WASIp3 components (`wasi:http/handler@0.3.0`, built with spin-sdk 7) through
//! the real `spinflow up`: instances are reused as Spin 4 reuses them (128
//! requests, 16 at a time, dropped after 1 s idle), bodies stream in, and a
//! runaway request is cut off without taking the host down.

mod common;

use common::{build_wasm, host, Host};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps/p3-probe/spin.toml")
}

fn p3_host(args: &[&str]) -> Host {
    build_wasm(&["p3-probe"]);
    let mut builder = host(manifest());
    for a in args {
        builder = builder.arg(*a);
    }
    builder.start()
}

/// How many requests the instance that answered has served, itself included.
fn served(host: &Host, path: &str) -> u64 {
    let reply = host.get(path);
    assert_eq!(reply.status, 200, "{path}: {reply:?}");
    reply.json()["served"].as_u64().expect("a count")
}

#[test]
fn sequential_requests_share_an_instance_until_it_has_served_128() {
    let host = p3_host(&[]);
    let counts: Vec<u64> = (0..130).map(|i| served(&host, &format!("/r{i}"))).collect();
    let expected: Vec<u64> = (1..=128).chain(1..=2).collect();
    assert_eq!(counts, expected);
}

#[test]
fn an_idle_instance_is_dropped_after_a_second() {
    let host = p3_host(&[]);
    assert_eq!(served(&host, "/a"), 1);
    assert_eq!(served(&host, "/b"), 2);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(served(&host, "/c"), 1, "the idle instance was kept");
}

#[test]
fn concurrent_requests_are_all_answered_by_few_instances() {
    let host = p3_host(&[]);
    let counts: Vec<u64> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let host = &host;
                s.spawn(move || {
                    (0..25)
                        .map(|i| served(host, &format!("/w{w}/{i}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(counts.len(), 200);
    // Every instance counts 1, 2, 3...: the number of 1s is the number of instances.
    let instances = counts.iter().filter(|&&c| c == 1).count();
    assert!(
        (1..=8).contains(&instances),
        "{instances} instances for 200 requests from 8 clients"
    );
}

#[test]
fn request_bodies_reach_the_guest() {
    let host = p3_host(&[]);
    let body = vec![b'x'; 300_000];
    let reply = host.post("/upload", &body);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["body_bytes"], 300_000);
}

#[test]
fn a_runaway_request_times_out_and_the_host_keeps_serving() {
    let host = p3_host(&["--request-timeout", "1"]);
    let started = Instant::now();
    let runaway = host.get("/spin");
    assert_eq!(runaway.status, 500, "{runaway:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the runaway request was not cut off: {:?}",
        started.elapsed()
    );
    // The looping instance is gone, not left spinning on a host thread...
    let before = host.cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    let spent = host.cpu_time() - before;
    assert!(
        spent < Duration::from_millis(500),
        "the host used {spent:?} of CPU in 1 s after the timeout"
    );
    // ...and a fresh one answers.
    assert_eq!(served(&host, "/after"), 1);
}
