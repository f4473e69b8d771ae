//! A full disk: the daemon logs it, keeps serving what it has, loses
//! nothing already stored, and resumes storing when space returns. Runs on
//! a small tmpfs, so it needs permission to mount one (root in CI); it says
//! SKIPPED otherwise.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;

use crate::util::*;

/// Serves `/grow.rss`: `items` items of about 2 KB each.
fn serve(items: Arc<AtomicUsize>) -> SocketAddr {
    let grow = |State(items): State<Arc<AtomicUsize>>| async move {
        let n = items.load(Ordering::SeqCst);
        let mut body = String::from(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Grow</title><link>http://example.org/</link><description>d</description>",
        );
        for i in (0..n).rev() {
            body.push_str(&format!(
                "<item><title>Harbour bulletin {i}</title><link>http://example.org/{i}</link><guid>b{i}</guid><description>{}</description></item>",
                format!("Quay {i} cargo manifest line. ").repeat(60)
            ));
        }
        body.push_str("</channel></rss>");
        ([(header::CONTENT_TYPE, "application/rss+xml")], body)
    };
    serve_app(
        axum::Router::new()
            .route("/grow.rss", axum::routing::get(grow))
            .with_state(items),
    )
}

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_logged_served_through_and_recovered_from() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&state)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a small tmpfs here (needs root)");
        return;
    }
    let _mount = Mount(state.clone());

    let items = Arc::new(AtomicUsize::new(20));
    let addr = serve(items.clone());
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[storage]\npath = \"{}\"\n\n\
         [polling]\ninterval = \"1s\"\nallow_private_networks = true\n\n\
         [[feed]]\nurl = \"http://{addr}/grow.rss\"\n\n[topic.harbour]\nquery = \"harbour\"\ngroup = \"item\"\n",
        state.join("feedsift.db").display()
    );
    let site = Site::new(&config);
    let db = state.join("feedsift.db");
    let stored = || -> Option<i64> {
        let conn = rusqlite::Connection::open(&db).ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        conn.query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .ok()
    };
    let daemon = Daemon::start(&site);
    wait_for("the first items", Duration::from_secs(20), || {
        (stored() == Some(20)).then_some(())
    });

    // Fill the disk, then let the feed grow.
    let filler = state.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k", "count=1000"])
        .arg(format!("of={}", filler.display()))
        .output();
    items.store(400, Ordering::SeqCst);
    wait_for(
        "the disk-full error in the log",
        Duration::from_secs(20),
        || {
            let log = daemon.log().to_lowercase();
            log.contains("the disk holding the database is full")
                .then_some(())
        },
    );
    // Still serving what it has; nothing stored was lost.
    let atom = reqwest::blocking::get(format!("{}/topics/harbour.atom", daemon.base())).unwrap();
    assert_eq!(atom.status().as_u16(), 200);
    assert!(atom.text().unwrap().contains("Harbour bulletin 19"));
    assert_eq!(
        reqwest::blocking::get(format!("{}/healthz", daemon.base()))
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert!(stored().is_some_and(|n| n >= 20));

    // Space returns: the next polls store the rest.
    std::fs::remove_file(&filler).unwrap();
    wait_for(
        "the rest stored after space returned",
        Duration::from_secs(30),
        || (stored() == Some(400)).then_some(()),
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(daemon);
}

#[test]
fn a_missing_or_read_only_state_directory_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/folder/feedsift.db");
    let site = Site::new(&format!(
        "[storage]\npath = \"{}\"\n\n[topic.t]\nquery = \"x\"\n",
        missing.display()
    ));
    let out = site.run(&["run"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("[storage] path"), "{err}");

    // Read-only: a read-only mount (permissions alone do not stop root).
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"])
        .arg(&ro)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("SKIPPED (read-only part): cannot mount a tmpfs here (needs root)");
        return;
    }
    let _mount = Mount(ro.clone());
    std::fs::write(
        site.config(),
        format!(
            "[storage]\npath = \"{}\"\n\n[topic.t]\nquery = \"x\"\n",
            ro.join("feedsift.db").display()
        ),
    )
    .unwrap();
    let out = site.run(&["run"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("cannot open the database"), "{err}");
    assert!(err.contains("writable"), "{err}");
}
