//! The HTTP side under abuse: unknown slugs and path traversal, other
//! methods, very long URLs and headers, slow clients holding connections,
//! and hundreds of idle connections at once. Each gets a clear 4xx or a
//! closed connection; the daemon keeps answering everyone else and its
//! memory stays bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::util::*;

/// The daemon serving the fixture feeds' topic, and its address.
fn start() -> (Site, Daemon, SocketAddr) {
    let site = Site::new(&fixture_config(serve_fixtures(), &[]));
    let daemon = Daemon::start(&site);
    let addr = daemon.addr;
    (site, daemon, addr)
}

/// Sends raw bytes as one request; returns the status line's code (0 when
/// the server closed without answering) and the whole answer.
fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn unknown_paths_traversal_and_other_methods_get_clear_4xx() {
    let (_site, daemon, addr) = start();
    for path in [
        "/topics/nope.atom",
        "/topics/russia-japan.xml",
        "/topics/../../../../etc/passwd",
        "/topics/..%2f..%2f..%2fetc%2fpasswd.atom",
        "/topics/%2e%2e%2fconfig.toml",
        "/../config.toml",
        "/config.toml",
        "/feedsift.db",
        "/topics/russia-japan.atom/../../config.toml",
    ] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let (code, text) = raw(addr, req.as_bytes());
        assert!((400..500).contains(&code), "{path}: {code}\n{text}");
        assert!(
            !text.contains("[server]") && !text.contains("root:") && !text.contains("SQLite"),
            "{path} leaked a file:\n{text}"
        );
    }
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let req = format!(
            "{method} /topics/russia-japan.atom HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let (code, _) = raw(addr, req.as_bytes());
        assert_eq!(code, 405, "{method}");
    }
    let (code, text) = raw(
        addr,
        b"HEAD /topics/russia-japan.atom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 200, "{text}");
    assert!(text.ends_with("\r\n\r\n"), "HEAD carried a body:\n{text}");
    drop(daemon);
}

#[test]
fn huge_urls_and_headers_are_refused_and_the_server_goes_on() {
    let (_site, daemon, addr) = start();
    let long_path = format!("/topics/{}.atom", "a".repeat(200_000));
    let (code, _) = raw(
        addr,
        format!("GET {long_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(code == 0 || (400..500).contains(&code), "long url: {code}");
    let big_header = format!(
        "GET /topics/russia-japan.atom HTTP/1.1\r\nHost: x\r\nX-Junk: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(200_000)
    );
    let (code, _) = raw(addr, big_header.as_bytes());
    assert!(
        code == 0 || code == 431 || code == 400,
        "big header: {code}"
    );
    let many_headers: String = (0..5000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (code, _) = raw(
        addr,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many_headers}Connection: close\r\n\r\n")
            .as_bytes(),
    );
    assert!(
        code == 0 || code == 431 || code == 400,
        "many headers: {code}"
    );
    let (code, _) = raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 200);
    drop(daemon);
}

#[test]
fn slow_and_idle_clients_cannot_starve_the_server() {
    let (_site, daemon, addr) = start();
    let pid = daemon.child.id();
    let before = rss_kib(pid);
    // 800 connections that send half a request head and stop...
    let mut held = Vec::new();
    for _ in 0..800 {
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = s.write_all(b"GET /topics/russia-japan.atom HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        held.push(s);
    }
    // ...do not stop anyone else from being served promptly.
    let t = Instant::now();
    let (code, _) = raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 200);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    let during = rss_kib(pid);
    assert!(
        during < before + 64 * 1024,
        "memory grew from {before} KiB to {during} KiB with 800 slow clients"
    );
    // The server closes them once the head deadline (10 s) passes.
    let mut probe = held.pop().unwrap();
    probe
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 256];
    let n = probe.read(&mut buf).unwrap_or(0);
    let answered = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "a slow client was held for {:?}",
        t.elapsed()
    );
    assert!(n == 0 || answered.starts_with("HTTP/1.1 408"), "{answered}");
    drop(held);
    let (code, _) = raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 200);
    drop(daemon);
}

#[test]
fn a_burst_of_requests_after_a_change_costs_one_rebuild() {
    let site = Site::new(&fixture_config(serve_fixtures(), &[]));
    let daemon = Daemon::start_logging(&site, "info,feedsift::server=debug");
    let addr = daemon.addr;
    site.wait_until_polled(4);
    // Let the store finish grouping what the polls brought.
    std::thread::sleep(Duration::from_secs(1));
    // 300 subscribers ask at once for a document nobody has asked for yet.
    let go = std::sync::Arc::new(std::sync::Barrier::new(300));
    let askers: Vec<_> = (0..300)
        .map(|_| {
            let go = go.clone();
            std::thread::spawn(move || {
                go.wait();
                raw(
                    addr,
                    b"GET /topics/russia-japan.atom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                )
                .0
            })
        })
        .collect();
    for a in askers {
        assert_eq!(a.join().unwrap(), 200);
    }
    let rebuilds = daemon
        .log()
        .lines()
        .filter(|l| l.contains("document rebuilt") && l.contains("russia-japan"))
        .count();
    // One, or a few if the store changed the topic during the burst; each
    // request rebuilding its own copy made a poll 14× slower under load.
    assert!(
        (1..=3).contains(&rebuilds),
        "{rebuilds} rebuilds for 300 requests"
    );
}
