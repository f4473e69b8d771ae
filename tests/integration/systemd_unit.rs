//! The shipped systemd unit must be one systemd accepts.

use std::process::Command;

#[test]
fn unit_passes_systemd_analyze_verify() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("systemd/feedsift.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/feedsift --config /etc/feedsift/config.toml run")
    );
    assert!(unit.contains("StateDirectory=feedsift"));
    let (_dir, copy) = unit_copy();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze must be installed to run the tests: apt-get install systemd (or bash .ci/run)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{text}"
    );
    assert!(
        !text.contains("feedsift.service:"),
        "warnings about the unit:\n{text}"
    );
}

/// The unit as installed, pointing at the binary just built (verify and
/// security insist that ExecStart= exists).
fn unit_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("systemd/feedsift.service")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("feedsift.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/feedsift", env!("CARGO_BIN_EXE_feedsift")),
    )
    .unwrap();
    (dir, copy)
}

#[test]
fn unit_is_hardened_to_an_exposure_of_at_most_2() {
    let (_dir, copy) = unit_copy();
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&copy)
        .output()
        .expect("systemd-analyze must be installed to run the tests: apt-get install systemd (or bash .ci/run)");
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            let rest = l
                .split("Overall exposure level for feedsift.service:")
                .nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{text}");
    let unit = std::fs::read_to_string(&copy).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(line), "the unit lacks {line:?}");
    }
}

/// Under the shipped unit, `$STATE_DIRECTORY` is the one writable folder:
/// a relative `[storage] path` (as in the shipped config.toml) lands
/// there, not next to a config file in read-only /etc.
#[test]
fn a_relative_database_path_lives_in_the_state_directory() {
    use crate::util::*;
    let addr = serve_fixtures();
    let site = Site::new(&fixture_config(addr, &[]));
    let state = tempfile::tempdir().unwrap();
    // The config folder read-only, as /etc is under ProtectSystem=strict
    // (root ignores the mode; the database's place is asserted below).
    let folder = site.config().parent().unwrap().to_path_buf();
    let mode = |m: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(0o555);
    let out = site
        .cmd()
        .arg("poll")
        .env("STATE_DIRECTORY", state.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(state.path().join("feedsift.db").exists());
    assert!(!site.db().exists(), "the database went next to config.toml");
    let out = site
        .cmd()
        .arg("check")
        .env("STATE_DIRECTORY", state.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    mode(0o755);
    assert!(
        said.contains(&state.path().join("feedsift.db").display().to_string()),
        "{said}"
    );
}

/// A database that cannot be created fails the start at once, naming the
/// path and what to change.
#[test]
fn an_unwritable_database_location_fails_at_start_with_the_fix() {
    use crate::util::*;
    let site = Site::new(
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"/proc/feedsift/feedsift.db\"\n",
    );
    let out = site.cmd().arg("run").output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("/proc/feedsift/feedsift.db") && err.contains("[storage] path"),
        "{err}"
    );
}
