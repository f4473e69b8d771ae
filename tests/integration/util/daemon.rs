//! The real daemon in a temp dir, and a loopback HTTP server to feed it.
//! benches/serve.rs includes this file too (`#[path]`), so it holds only
//! what the tests and that benchmark both use; what only the tests use is
//! in util/mod.rs.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

/// A listener on `ip`, port 0: the system picks a free port, and the
/// listener is kept, so no other process can take it before it is served.
pub fn listen(ip: &str) -> std::net::TcpListener {
    let listener = std::net::TcpListener::bind((ip, 0)).expect("bind a loopback port");
    listener.set_nonblocking(true).expect("non-blocking");
    listener
}

/// Serves `app` on `listener` from a thread of its own, so blocking test
/// code can use it; returns the listener's address.
pub fn serve_on(listener: std::net::TcpListener, app: axum::Router) -> SocketAddr {
    let addr = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    addr
}

/// Serves `app` on a fresh 127.0.0.1 port (see `listen`).
pub fn serve_app(app: axum::Router) -> SocketAddr {
    serve_on(listen("127.0.0.1"), app)
}

/// Serves the files of `dir` at `/NAME`, read afresh on every request, so
/// a test can change a feed between polls.
pub fn serve_dir(dir: PathBuf) -> SocketAddr {
    serve_app(axum::Router::new().route(
        "/{name}",
        axum::routing::get(move |name| feed_file(dir.clone(), name)),
    ))
}

async fn feed_file(dir: PathBuf, UrlPath(name): UrlPath<String>) -> axum::response::Response {
    let path = dir.join(&name);
    if name.contains("..") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match std::fs::read(&path) {
        Ok(bytes) => {
            let ct = match path.extension().and_then(|e| e.to_str()) {
                Some("json") => "application/feed+json",
                Some("atom") => "application/atom+xml",
                Some("rss") => "application/rss+xml",
                _ => "application/xml",
            };
            ([(header::CONTENT_TYPE, ct)], bytes).into_response()
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A temp dir holding config.toml (and, once polled, the database).
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new(config: &str) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.toml"), config).expect("write config");
        Site { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// The binary, with `--config` this site's config and an info log.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_feedsift"));
        c.arg("--config").arg(self.config());
        c.env("FEEDSIFT_LOG", "info");
        c
    }
}

/// The real daemon, killed if a test fails before stopping it. Its log is
/// read as it comes (a full pipe would stall the daemon).
pub struct Daemon {
    pub child: Child,
    /// Where it listens: the address it logged in its "serving" line.
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Daemon {
    /// Starts `feedsift run` for `site` and waits until it answers
    /// /healthz. The config should say `listen = "127.0.0.1:0"`.
    pub fn start(site: &Site) -> Daemon {
        Daemon::start_logging(site, "info")
    }

    /// The same with a `FEEDSIFT_LOG` filter of the test's choosing; it
    /// must let feedsift::daemon's info lines through (see `spawn`).
    pub fn start_logging(site: &Site, filter: &str) -> Daemon {
        let d = Daemon::spawn(site.cmd().arg("run").env("FEEDSIFT_LOG", filter));
        let health = format!("http://{}/healthz", d.addr);
        wait_for("/healthz", Duration::from_secs(20), || {
            reqwest::blocking::get(&health)
                .ok()
                .filter(|r| r.status() == 200)
        });
        d
    }

    /// Spawns `run` (a `feedsift run` command) and waits for the line it
    /// logs once its listener is bound, `serving listen=ADDR ...`: ADDR is
    /// the port the system picked for `listen = "127.0.0.1:0"`.
    pub fn spawn(run: &mut Command) -> Daemon {
        let mut d = Daemon::spawn_quiet(run);
        d.addr = wait_for("the daemon's address", Duration::from_secs(20), || {
            if let Ok(Some(status)) = d.child.try_wait() {
                let log = d.final_log();
                panic!("feedsift run exited ({status}) before serving:\n{log}");
            }
            serving_addr(&d.log())
        });
        d
    }

    /// Spawns `run` without waiting for anything: a `--role poll` process
    /// has no listener (`addr` stays 127.0.0.1:0).
    pub fn spawn_quiet(run: &mut Command) -> Daemon {
        let mut child = run
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start feedsift run");
        let log = Arc::new(Mutex::new(String::new()));
        let reader = child.stderr.take().map(|err| {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let mut l = log
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    l.push_str(&line);
                    l.push('\n');
                }
            })
        });
        Daemon {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            reader,
        }
    }

    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Everything it logged, once it has exited.
    pub fn final_log(&mut self) -> String {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.log()
    }
}

/// The address in the daemon's `serving listen=ADDR base_url=...` line,
/// as the plain format and the journal's (logging.rs) both write it.
fn serving_addr(log: &str) -> Option<SocketAddr> {
    log.lines()
        .filter(|l| l.contains(" serving "))
        .find_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("listen="))?
                .parse()
                .ok()
        })
}

/// Calls `f` every 100 ms until it returns something; fails the test
/// after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
