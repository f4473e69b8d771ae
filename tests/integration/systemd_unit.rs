//! The shipped systemd units must be ones systemd accepts.

use std::process::Command;

#[test]
fn unit_passes_systemd_analyze_verify() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("systemd/feedsift.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/feedsift --config /etc/feedsift/config.toml run")
    );
    assert!(unit.contains("StateDirectory=feedsift"));
    verify("feedsift.service", "feedsift.service");
}

#[test]
fn the_poller_template_passes_systemd_analyze_verify() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("systemd/feedsift-poll@.service")).unwrap();
    assert!(unit.contains(
        "ExecStart=/usr/local/bin/feedsift --config /etc/feedsift/config.toml run --role poll"
    ));
    // The same hardening as the single-machine unit: only the header,
    // description and ExecStart differ.
    let single = std::fs::read_to_string(root.join("systemd/feedsift.service")).unwrap();
    let body = |u: &str| {
        u[u.find("[Service]").unwrap()..]
            .lines()
            .filter(|l| !l.starts_with("ExecStart=") && !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&unit), body(&single));
    verify("feedsift-poll@.service", "feedsift-poll@1.service");
}

/// `systemd-analyze verify` on the shipped `file`, installed as `name`,
/// passes without a warning about it.
fn verify(file: &str, name: &str) {
    let (_dir, copy) = unit_copy(file, name);
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
        !text.contains(&format!("{name}:")),
        "warnings about the unit:\n{text}"
    );
}

/// A unit as installed, pointing at the binary just built (verify and
/// security insist that ExecStart= exists).
fn unit_copy(file: &str, name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("systemd").join(file)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(name);
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/feedsift", env!("CARGO_BIN_EXE_feedsift")),
    )
    .unwrap();
    (dir, copy)
}

#[test]
fn unit_is_hardened_to_an_exposure_of_at_most_2() {
    let (_dir, copy) = unit_copy("feedsift.service", "feedsift.service");
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
