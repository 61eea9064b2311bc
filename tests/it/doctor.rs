//! `multi-account doctor`: the real binary against the demo emulator, a wrong secret, a wrong URL, a partner that
//! is not a VAR/GROUP, and no settings at all.

use kaltura::Secret;
use kaltura_emulator::{self as emulator, EmulatorConfig, RunningEmulator};
use multi_account::cli::doctor::{self, Outcome};
use multi_account::config::kaltura::KalturaSettings;

use super::client::{PUBLISHER_SEED, seeded};

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs the binary with exactly these KALTURA_* variables.
async fn doctor_bin(env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_multi-account"));
    cmd.arg("doctor");
    for (name, _) in std::env::vars() {
        if name.starts_with("KALTURA_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().await.expect("the binary runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn doctor_against(emu: &RunningEmulator, secret: &str) -> Run {
    let pid = emu.parent_id.to_string();
    doctor_bin(&[("KALTURA_SERVICE_URL", &emu.url), ("KALTURA_PARTNER_ID", &pid), ("KALTURA_ADMIN_SECRET", secret)])
        .await
}

fn line<'a>(run: &'a Run, start: &str) -> &'a str {
    run.stdout.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no line {start:?} in:\n{}", run.stdout))
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_checks_every_parent_of_the_settings_file_and_names_each() {
    let emu = emulator::start(EmulatorConfig::for_tests()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("multi-account.toml");
    std::fs::write(
        &config,
        format!(
            "kaltura-service-url = {:?}\n[[parents]]\npartner-id = 6464\nadmin-secret = {:?}\n\
             [[parents]]\npartner-id = 7001\nadmin-secret = \"not-its-secret\"\n",
            emu.url, emu.admin_secret
        ),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_multi-account"));
    cmd.args(["doctor", "--config", config.to_str().unwrap()]);
    for (name, _) in std::env::vars() {
        if name.starts_with("KALTURA_") || name == "MA_CONFIG" {
            cmd.env_remove(name);
        }
    }
    let out = cmd.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "one parent fails: {stdout}");
    assert!(
        stdout.contains("ok   partner 6464: admin secret accepted: partner 6464 is \"Debbie Techpubs\""),
        "{stdout}"
    );
    assert!(stdout.contains("ok   partner 6464: partner 6464 is a VAR group"), "{stdout}");
    assert!(stdout.contains("FAIL partner 7001: admin secret refused"), "{stdout}");
    assert!(stdout.contains("skip partner 7001: VAR/GROUP"), "the rest of 7001's checks are skipped: {stdout}");
    assert!(!stdout.contains("not-its-secret") && !stdout.contains(&emu.admin_secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_passes_every_check_against_the_demo_emulator() {
    let emu = emulator::start(EmulatorConfig::for_tests()).await.unwrap();
    let run = doctor_against(&emu, &emu.admin_secret).await;
    assert!(run.ok, "exit status 0 expected:\n{}\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{}", run.stdout);
    assert!(lines.iter().all(|l| l.starts_with("ok   ")), "{}", run.stdout);
    line(&run, &format!("ok   settings: partner 6464 at {}", emu.url));
    line(&run, "ok   service reachable");
    line(&run, "ok   admin secret accepted: partner 6464 is \"Debbie Techpubs\"");
    line(&run, "ok   partner 6464 is a VAR group");
    line(&run, "ok   varConsole allowed");
    line(&run, "ok   quota: 2 accounts in use, publishersQuota 5, 3 more can be added");
    line(&run, "ok   analytics: the parent has FEATURE_MULTI_ACCOUNT_ANALYTICS: the Usage page shows every account");
    assert!(!run.stdout.contains(&emu.admin_secret) && !run.stderr.contains(&emu.admin_secret));
    assert!(!run.stdout.contains("djJ8") && !run.stderr.contains("djJ8"), "no KS printed");

    let parent = KalturaSettings::default()
        .demo_client(&emu.url, 6464, &emu.admin_secret)
        .unwrap()
        .get_partner(6464)
        .await
        .unwrap();
    assert_eq!(parent.status.map(|s| s.label()), Some("Active"), "the varConsole probe changed nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_explains_a_wrong_secret() {
    let emu = emulator::start(EmulatorConfig::for_tests()).await.unwrap();
    let run = doctor_against(&emu, "not-the-admin-secret").await;
    assert!(!run.ok);
    line(&run, "ok   service reachable");
    let fail = line(&run, "FAIL admin secret refused");
    assert!(fail.contains("KALTURA_ADMIN_SECRET") && fail.contains("*admin* secret"), "{fail}");
    assert!(!fail.contains("djJ8"), "the refused KS is not printed: {fail}");
    line(&run, "skip VAR/GROUP");
    assert!(run.stderr.contains("1 check(s) failed"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_explains_an_unreachable_service() {
    let url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let run = doctor_bin(&[
        ("KALTURA_SERVICE_URL", &url),
        ("KALTURA_PARTNER_ID", "6464"),
        ("KALTURA_ADMIN_SECRET", "whatever"),
        ("KALTURA_TIMEOUT_SECS", "2"),
    ])
    .await;
    assert!(!run.ok);
    let fail = line(&run, "FAIL service not reachable (system.ping)");
    assert!(fail.contains(&format!("could not be reached at {url}")) && fail.contains("KALTURA_SERVICE_URL"), "{fail}");
    line(&run, "skip admin secret");
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_explains_a_partner_that_is_not_a_var_group() {
    let dir = tempfile::tempdir().unwrap();
    let emu = seeded(dir.path(), PUBLISHER_SEED).await;
    let run = doctor_against(&emu, "solo-publisher-admin-secret-0001").await;
    assert!(!run.ok, "{}", run.stdout);
    line(&run, "ok   admin secret accepted: partner 9001 is \"Solo Publisher\"");
    let fail = line(&run, "FAIL partner 9001 is not a VAR/GROUP account");
    assert!(
        fail.contains("\"Partner id [9001] is not a VAR/GROUP, but is attempting to create child partner\""),
        "{fail}"
    );
    let fail = line(&run, "FAIL varConsole forbidden");
    assert!(fail.contains("FEATURE_VAR_CONSOLE_LOGIN"), "{fail}");
    line(&run, "warn quota: 1 accounts in use, publishersQuota 0, 0 more can be added");
    let warn = line(&run, "warn analytics: the parent lacks FEATURE_MULTI_ACCOUNT_ANALYTICS");
    assert!(warn.contains("Kaltura enables it on request"), "{warn}");
    assert!(run.stderr.contains("2 check(s) failed"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_without_settings_says_the_console_would_run_its_demo() {
    let run = doctor_bin(&[]).await;
    assert!(!run.ok);
    let fail = line(&run, "FAIL Kaltura is not configured");
    assert!(fail.contains("KALTURA_SERVICE_URL") && fail.contains("demo"), "{fail}");
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_reports_bad_settings_before_calling_anything() {
    let run = doctor_bin(&[("KALTURA_SERVICE_URL", "www.kaltura.com"), ("KALTURA_PARTNER_ID", "6464")]).await;
    assert!(!run.ok);
    let fail = line(&run, "FAIL settings:");
    assert!(fail.contains("add the scheme"), "{fail}");
}

#[tokio::test]
async fn doctor_reads_the_secret_from_a_file() {
    let emu = emulator::start(EmulatorConfig::for_tests()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kaltura-admin-secret");
    std::fs::write(&file, format!("{}\n", emu.admin_secret)).unwrap();
    let settings = KalturaSettings {
        service_url: Some(format!("{}/api_v3", emu.url)),
        partner_id: Some("6464".into()),
        admin_secret_file: Some(file),
        ..KalturaSettings::default()
    };
    let report = doctor::diagnose(&settings).await;
    assert!(report.passed(), "{:#?}", report.checks);
    assert!(report.checks.iter().all(|c| c.outcome == Outcome::Ok));

    let twice = KalturaSettings { admin_secret: Some(Secret::new("x")), ..settings };
    let report = doctor::diagnose(&twice).await;
    assert!(!report.passed());
    assert_eq!(report.checks.len(), 1);
    assert!(report.checks[0].to_string().starts_with("FAIL settings: the admin secret is given twice"));
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_prints_the_redirect_uri_and_checks_the_provider_and_the_client() {
    let emu = emulator::start(EmulatorConfig::for_tests()).await.unwrap();
    let console = "https://ma.example.org";
    let provider = crate::sso::Provider::start(crate::sso::free_port(), console, serde_json::json!({}), "").await;
    let pid = emu.parent_id.to_string();
    let run = |secret: &'static str| {
        let (url, pid, issuer, admin) =
            (emu.url.clone(), pid.clone(), provider.issuer.clone(), emu.admin_secret.clone());
        async move {
            doctor_bin(&[
                ("KALTURA_SERVICE_URL", &url),
                ("KALTURA_PARTNER_ID", &pid),
                ("KALTURA_ADMIN_SECRET", &admin),
                ("MA_PUBLIC_URL", console),
                ("MA_OIDC_ISSUER", &issuer),
                ("MA_OIDC_CLIENT_ID", crate::sso::CLIENT_ID),
                ("MA_OIDC_CLIENT_SECRET", secret),
            ])
            .await
        }
    };
    let good = run("test-client-secret-7d1f").await;
    assert!(
        good.stdout.contains(
            "ok   single sign-on: the redirect URI to register is https://ma.example.org/login/oidc/callback"
        ),
        "{}",
        good.stdout
    );
    assert!(good.stdout.contains("publishes its configuration and keys"), "{}", good.stdout);
    assert!(
        good.stdout.contains("ok   single sign-on: the provider accepts the client id and secret"),
        "{}",
        good.stdout
    );
    assert!(good.ok, "{}{}", good.stdout, good.stderr);

    let wrong = run("not-the-secret").await;
    assert!(wrong.stdout.contains("FAIL single sign-on: the provider refuses the client"), "{}", wrong.stdout);
    assert!(!wrong.stdout.contains("not-the-secret") && !wrong.stderr.contains("not-the-secret"));
    assert!(!wrong.ok);
}
