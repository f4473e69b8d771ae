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
    // verify insists the binary exists: point it at the one just built.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("feedsift.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/feedsift", env!("CARGO_BIN_EXE_feedsift")),
    )
    .unwrap();
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
