//! An S3 server of a test's own: s3s-fs (a real implementation of the S3 API over a
//! directory, with SigV4 checked on every request, presigned URLs included,
//! multipart uploads and ListObjectsV2 with delimiters) on a free 127.0.0.1 port,
//! with the given credentials. Buckets are the directories of its root and objects
//! the files in them, so a test can look at what a client stored.
//!
//! [`TestS3::start`] runs it on a thread of the test process (Rust tests); the
//! `test-s3` program runs it alone and prints its URL (the Python tests, which stop
//! and restart it to test an unreachable store).

use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The credentials of [`TestS3::start`].
pub const ACCESS_KEY: &str = "spinflow-test-key";
pub const SECRET_KEY: &str = "spinflow-test-secret";

/// Binds `addr` (port 0: a free one) and serves the S3 API for the objects under
/// `root` until `stop` resolves; `ready` gets the bound address first.
pub async fn serve(
    root: &Path,
    access_key: &str,
    secret_key: &str,
    addr: SocketAddr,
    ready: impl FnOnce(SocketAddr),
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let fs = s3s_fs::FileSystem::new(root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
    let service = builder.build();
    let listener = TcpListener::bind(addr).await?;
    ready(listener.local_addr()?);
    let connections =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    tokio::pin!(stop);
    loop {
        let (socket, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(_) => continue,
            },
            () = &mut stop => return Ok(()),
        };
        let conn = connections
            .serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

/// A running server with its own temporary root; stopped when dropped.
pub struct TestS3 {
    url: String,
    root: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestS3 {
    /// Starts a server with [`ACCESS_KEY`] and [`SECRET_KEY`] and the given buckets.
    pub fn start(buckets: &[&str]) -> TestS3 {
        let root = tempfile::tempdir().expect("temporary directory");
        for bucket in buckets {
            std::fs::create_dir(root.path().join(bucket)).expect("bucket directory");
        }
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let dir = root.path().to_path_buf();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            let result = runtime.block_on(serve(
                &dir,
                ACCESS_KEY,
                SECRET_KEY,
                SocketAddr::from(([127, 0, 0, 1], 0)),
                |addr| addr_tx.send(addr).unwrap(),
                async {
                    let _ = stop_rx.await;
                },
            ));
            if let Err(e) = result {
                panic!("test S3 server failed: {e}");
            }
        });
        let addr = addr_rx
            .recv()
            .expect("the test S3 server stopped before listening");
        TestS3 {
            url: format!("http://{addr}"),
            root,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`: the endpoint URL (path-style requests).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The directory holding the buckets.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Where the object `key` of `bucket` is stored.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
