//! `test-s3 --root DIR [--bucket NAME]... [--port N] --access-key K --secret-key S`:
//! serves the S3 API for the buckets under DIR on 127.0.0.1 (port 0: a free one),
//! prints `http://127.0.0.1:<port>` on its first line of output once it listens, and
//! runs until it is killed.

use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "An S3 server (s3s-fs) for tests, on 127.0.0.1")]
struct Args {
    /// Directory holding the buckets (one subdirectory each).
    #[arg(long)]
    root: PathBuf,
    /// Buckets to create (directories under the root) before serving.
    #[arg(long = "bucket")]
    buckets: Vec<String>,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long, default_value = test_s3::ACCESS_KEY)]
    access_key: String,
    #[arg(long, default_value = test_s3::SECRET_KEY)]
    secret_key: String,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.root)?;
    for bucket in &args.buckets {
        std::fs::create_dir_all(args.root.join(bucket))?;
    }
    test_s3::serve(
        &args.root,
        &args.access_key,
        &args.secret_key,
        SocketAddr::from(([127, 0, 0, 1], args.port)),
        |addr| {
            let mut out = std::io::stdout();
            let _ = writeln!(out, "http://{addr}");
            let _ = out.flush();
        },
        std::future::pending(),
    )
    .await
}
