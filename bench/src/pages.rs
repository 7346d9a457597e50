//! `bench pages`: the pages of linear memory that one request costs a component under
//! real Spin, counted by the kernel rather than timed, so the figures do not depend on
//! what else the machine runs.
//!
//! Spin gives every request a fresh instance in a slot of Wasmtime's pooling
//! allocator and, when the instance is dropped, resets the slot's memory for the next
//! one: page by page, each page of the memory image copied back from the image, any
//! other page zeroed. Two runs of `spin up`, each after the same warm-up requests,
//! measure one more request:
//!
//! - **rewritten at reset**: with Spin's own settings, the pages of the slot the
//!   process holds afterwards, which is what each reset writes back (Spin 3.6.3 keeps
//!   the first `SPIN_WASMTIME_LINEAR_MEMORY_KEEP_RESIDENT` bytes, 2 MiB, resident and
//!   rewrites them all, and hands the rest back to the kernel);
//! - **written by the request**: with nothing kept resident
//!   (`SPIN_WASMTIME_LINEAR_MEMORY_KEEP_RESIDENT=0`) every page starts untouched, so
//!   the write faults during the request are exactly the pages it writes.
//!
//! Each is split into the stack, the rest of the memory image and the heap above it
//! ([`ByRegion`]). Needs root (page maps and the fault tracepoint) on x86-64 Linux.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;

use crate::fault_trace::FaultTrace;
use crate::loadgen::{self, RequestSpec};
use crate::manifest;
use crate::memory_slots::{self, ByRegion, Layout, Slot};
use crate::procs::{self, Launch, Server};
use crate::wasm_stack;

/// The largest linear memory Spin 3.6.3 lets a component have (its `max_memory_size`):
/// a slot's reservation, where the memory may grow during a request.
const SLOT_RESERVATION: u64 = 4 << 30;

/// What to measure.
pub struct Options {
    pub spin_bin: PathBuf,
    pub manifest: PathBuf,
    /// The component measured; `spin up` serves only it.
    pub component: String,
    /// Extra `spin up` arguments (a runtime config...).
    pub spin_args: Vec<String>,
    /// Extra environment of `spin up` (`SPIN_VARIABLE_...`).
    pub env: Vec<(String, String)>,
    /// Path that answers 200 once Spin is ready.
    pub ready_path: String,
    /// Requests sent before the measured one, so that it is a steady-state request.
    pub warmup: usize,
    /// The request: its path, body (POST when given) and `name: value` headers.
    pub path: String,
    pub body: Option<String>,
    pub headers: Vec<String>,
    /// Wasmtime cache directory of `spin up`, shared with other runs.
    pub spin_cache: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub component: String,
    pub request: String,
    /// The measured request's status.
    pub status: u16,
    /// The memory's size when the measured instance was dropped, in 4 KiB pages.
    pub memory_pages: u64,
    /// Every page of that memory, by region.
    pub layout: ByRegion,
    /// The pages Spin's reset writes back after each request (Spin's own settings).
    pub rewritten_at_reset: ByRegion,
    /// The pages the request itself writes.
    pub written_by_request: ByRegion,
}

impl Options {
    /// The request against a Spin listening on `port`.
    fn request(&self, port: u16) -> Result<RequestSpec> {
        let url = format!("http://127.0.0.1:{port}{}", self.path);
        RequestSpec::from_command_line(&url, self.body.clone(), &self.headers)
    }
}

pub async fn run(opts: &Options) -> Result<Report> {
    let work = std::env::temp_dir().join(format!("bench-pages-{}", std::process::id()));
    let report = measure(opts, &work).await;
    let _ = fs::remove_dir_all(&work);
    report
}

/// Both runs, with Spin's state dirs and logs under `work`.
async fn measure(opts: &Options, work: &Path) -> Result<Report> {
    let text = fs::read_to_string(&opts.manifest)
        .with_context(|| format!("reading {}", opts.manifest.display()))?;
    let dir = opts.manifest.parent().unwrap_or(Path::new("."));
    let wasm = manifest::component_source(&text, dir, &opts.component)
        .with_context(|| format!("no local source of component {}", opts.component))?;
    let wasm_bytes = fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let stack_pages = wasm_stack::stack_top(&wasm_bytes)?.div_ceil(memory_slots::PAGE);

    // Spin's own settings: what every reset rewrites.
    let server = start(opts, work, None).await?;
    let spec = opts.request(server.port)?;
    let outcome = async {
        let status = send(&spec, opts.warmup + 1).await?;
        settle().await;
        let pid = trigger_pid(&server)?;
        let (slot, pages) = slot_in_use(pid)?;
        Ok::<_, anyhow::Error>((status, slot, pages))
    }
    .await;
    server.stop();
    let (status, slot, rewritten) = outcome?;
    let layout = Layout {
        stack_pages,
        image: slot.image.clone(),
        memory_pages: slot.pages(),
    };

    // Nothing kept resident: the request's write faults are the pages it writes.
    check_small_pages()?;
    let server = start(opts, work, Some("0")).await?;
    let spec = opts.request(server.port)?;
    let written = async {
        send(&spec, opts.warmup).await?;
        settle().await;
        let pid = trigger_pid(&server)?;
        let trace = FaultTrace::start(pid)?;
        send(&spec, 1).await?;
        settle().await;
        let faults = trace.finish()?;
        // Read after the request: the slot it ran in has its image mapped by now.
        let slots = memory_slots::slots(&fs::read_to_string(format!("/proc/{pid}/maps"))?);
        ensure!(!slots.is_empty(), "Spin holds no memory image");
        let pages: BTreeSet<u64> = faults
            .iter()
            .filter(|f| f.write)
            .filter_map(|f| {
                slots
                    .iter()
                    .find_map(|s| s.page_of(f.address, SLOT_RESERVATION))
            })
            .collect();
        Ok::<_, anyhow::Error>(pages)
    }
    .await;
    server.stop();
    let written = written?;

    Ok(Report {
        component: opts.component.clone(),
        request: format!("{} {}", spec.method, spec.path),
        status,
        memory_pages: layout.memory_pages,
        layout: ByRegion::all(&layout),
        rewritten_at_reset: ByRegion::count(rewritten, &layout),
        written_by_request: ByRegion::count(written, &layout),
    })
}

/// Starts `spin up` serving the component alone, with `keep_resident` bytes of each
/// memory kept resident across instances when given (else Spin's default).
async fn start(opts: &Options, work: &Path, keep_resident: Option<&str>) -> Result<Server> {
    let port = procs::free_port()?;
    let state = work.join(format!("state-{port}"));
    let cache = manifest::spin_cache_config(&opts.spin_cache)?;
    let mut args: Vec<String> = [
        "up",
        "-f",
        &opts.manifest.display().to_string(),
        "--component-id",
        &opts.component,
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--state-dir",
        &state.display().to_string(),
        "--cache",
        &cache.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(opts.spin_args.iter().cloned());
    let mut env = opts.env.clone();
    if let Some(bytes) = keep_resident {
        env.push((
            "SPIN_WASMTIME_LINEAR_MEMORY_KEEP_RESIDENT".into(),
            bytes.into(),
        ));
    }
    let launch = Launch {
        name: "spin-pages".into(),
        program: opts.spin_bin.clone(),
        args,
        env,
        cwd: None,
        port,
        ready_path: opts.ready_path.clone(),
        ready_timeout: Duration::from_secs(300),
    };
    procs::start(launch, &state).await
}

/// Fails when transparent huge pages are on for all memory: one fault could then map
/// 512 pages, and the faults would undercount the pages written.
fn check_small_pages() -> Result<()> {
    const THP: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
    let setting = fs::read_to_string(THP).unwrap_or_default();
    ensure!(
        !setting.contains("[always]"),
        "{THP} is `always`: set it to `madvise` to count the pages a request writes"
    );
    Ok(())
}

/// Sends `spec` `n` times, one after another, and returns the last answer's status.
/// A 5xx is an error (a trapped instance answers 500).
async fn send(spec: &RequestSpec, n: usize) -> Result<u16> {
    let mut sender = loadgen::connect(&spec.authority).await?;
    let mut last = 0;
    for _ in 0..n {
        let (status, body) = loadgen::send(&mut sender, spec.build()?).await?;
        if status >= 500 {
            let text = String::from_utf8_lossy(&body);
            bail!(
                "{} {} answered {status}: {text:.300}",
                spec.method,
                spec.path
            );
        }
        last = status;
    }
    Ok(last)
}

/// Lets Spin drop the instance of the last answer (and reset its memory).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The process of the tree that runs the app (`spin trigger http`): the one holding a
/// memory image.
fn trigger_pid(server: &Server) -> Result<u32> {
    procs::tree_pids(server.child.id())
        .into_iter()
        .find(|pid| {
            fs::read_to_string(format!("/proc/{pid}/maps"))
                .is_ok_and(|maps| !memory_slots::slots(&maps).is_empty())
        })
        .context("no process of `spin up` holds a memory image")
}

/// The slot the requests ran in (the one holding the most pages) and its pages.
fn slot_in_use(pid: u32) -> Result<(Slot, Vec<u64>)> {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps"))?;
    let mut best: Option<(Slot, Vec<u64>)> = None;
    for slot in memory_slots::slots(&maps) {
        let pages = memory_slots::written_pages(pid, &slot)?;
        if best.as_ref().is_none_or(|(_, b)| pages.len() > b.len()) {
            best = Some((slot, pages));
        }
    }
    best.context("Spin holds no memory image")
}
