//! The emulator driven by the official Kaltura clients: `tests/conformance/python_client.py`
//! (PyPI kalturaapiclient, XML) and `tests/conformance/node_client.mjs` (npm kaltura-client, JSON).
//! Their dependencies come from `scripts/setup-test-deps.sh`; a missing one fails the test, never skips it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use kaltura_emulator::{self as emulator, EmulatorConfig, Seed};
use tokio::process::Command;

const SETUP_HINT: &str = "run `scripts/setup-test-deps.sh` (the setup step of `.ci/run`)";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// `MA_TEST_PYTHON`, else the repository's `.venv`.
pub(crate) fn python() -> PathBuf {
    let python = std::env::var_os("MA_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    assert!(python.exists(), "no Python interpreter at {}: {SETUP_HINT}", python.display());
    python
}

/// Starts a demo-seeded emulator, runs `program script` against it and fails with the script's output
/// unless it exits 0 having passed at least one check and failed none.
async fn run_against_emulator(program: &Path, script: &str) {
    let emu = emulator::start(EmulatorConfig {
        seed: Seed::Demo,
        admin_secret: Some("test-secret-conformance-5f3a9c1e".into()),
        ..EmulatorConfig::for_tests()
    })
    .await
    .expect("the emulator starts");

    let child = Command::new(program)
        .arg(script)
        .current_dir(conformance_dir())
        .env("KALTURA_SERVICE_URL", &emu.url)
        .env("KALTURA_PARTNER_ID", emu.parent_id.to_string())
        .env("KALTURA_ADMIN_SECRET", &emu.admin_secret)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {SETUP_HINT}", program.display()));
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {SCRIPT_TIMEOUT:?}"))
        .expect("the script's output is readable");
    emu.stop().await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let clean = summary.ends_with(" passed, 0 failed") && !summary.starts_with("0 passed");
    assert!(
        output.status.success() && clean,
        "{script} against the emulator: {}\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}",
        output.status,
    );
    println!("{script}: {summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn python_client_conformance() {
    run_against_emulator(&python(), "python_client.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_client_conformance() {
    let modules = conformance_dir().join("node_modules/kaltura-client");
    assert!(modules.is_dir(), "{} is missing: {SETUP_HINT}", modules.display());
    run_against_emulator(Path::new("node"), "node_client.mjs").await;
}
