//! Running it on a server: health and readiness probes, the healthcheck and backup commands, the settings file,
//! graceful shutdown of the real binary, request ids, and the Dockerfile and Compose file against the project.

use multi_account::emulator::{self, EmulatorConfig, Seed};
use reqwest::StatusCode;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::support::{ADMIN_EMAIL, spawn_app};

const BIN: &str = env!("CARGO_BIN_EXE_multi-account");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The binary with none of the caller's settings in its environment.
fn binary(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).kill_on_drop(true);
    cmd
}

async fn run(dir: &Path, args: &[&str]) -> Output {
    binary(dir).args(args).output().await.expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `serve`, started and read up to its "Press Ctrl-C" line; returns the lines printed so far.
async fn start_serve(cmd: &mut Command) -> (Child, Lines<BufReader<ChildStdout>>, Vec<String>) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("stdout is readable") {
            let done = line.starts_with("Press Ctrl-C");
            seen.push(line);
            if done {
                return;
            }
        }
        panic!("serve stopped before it was ready: {seen:?}");
    };
    tokio::time::timeout(Duration::from_secs(60), read).await.expect("serve is ready within a minute");
    (child, lines, seen)
}

fn sigterm(child: &Child) {
    let pid = child.id().expect("the process is running").to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(status.success(), "kill -TERM {pid}");
}

fn value_after<'a>(lines: &'a [String], marker: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.split_once(marker).map(|(_, rest)| rest.trim()))
        .unwrap_or_else(|| panic!("no line with {marker:?} in {lines:?}"))
}

#[tokio::test]
async fn liveness_and_readiness_answer_without_signing_in_or_a_session() {
    let app = spawn_app().await;
    let client = app.bare_client();
    for (path, body) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let res = client.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(res.headers().get("set-cookie").is_none(), "{path} starts no session");
        assert_eq!(res.text().await.unwrap(), body, "{path}");
    }
}

#[tokio::test]
async fn readiness_fails_while_kaltura_is_down_and_recovers_when_it_is_back() {
    let mut app = spawn_app().await;
    let (addr, secret) = (app.emulator().addr, app.emulator().admin_secret.clone());
    app.stop_emulator().await;

    let res = app.bare_client().get(app.at("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = res.text().await.unwrap();
    assert_eq!(body, "not ready: Kaltura cannot be reached");
    let live = app.bare_client().get(app.at("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK, "the process is still alive");

    let _back = emulator::start(EmulatorConfig {
        listen: addr,
        admin_secret: Some(secret),
        seed: Seed::Demo,
        ..EmulatorConfig::for_tests()
    })
    .await
    .expect("the emulator starts again on its port");
    let res = app.bare_client().get(app.at("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ready");
}

#[tokio::test]
async fn readiness_fails_when_the_database_cannot_take_writes() {
    let app = spawn_app().await;
    app.db.close().await;
    let res = app.bare_client().get(app.at("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.text().await.unwrap(), "not ready: the database does not take writes");
}

#[tokio::test]
async fn error_pages_show_the_request_id_the_response_carries() {
    let app = spawn_app().await;
    let res = app.admin().await.get(app.at("/no-such-page")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let id = res.headers().get("x-request-id").expect("a request id header").to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert!(res.text().await.unwrap().contains(&id), "the page quotes {id}");
}

#[tokio::test]
async fn the_healthcheck_command_exits_0_for_a_live_console_and_1_otherwise() {
    let mut app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();

    // What serve was told (0.0.0.0) is asked on loopback.
    let listen = format!("0.0.0.0:{}", app.addr.port());
    let out = run(dir.path(), &["healthcheck", "--listen", &listen]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("healthy: http://127.0.0.1:{}/healthz answered 200 OK\n", app.addr.port()));

    let out = binary(dir.path()).arg("healthcheck").env("MA_LISTEN", app.addr.to_string()).output().await.unwrap();
    assert!(out.status.success(), "MA_LISTEN is the default: {}", text(&out.stderr));

    app.stop_emulator().await;
    let readyz = app.at("/readyz");
    let out = run(dir.path(), &["healthcheck", "--url", &readyz]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), format!("error: unhealthy: {readyz} answered 503 Service Unavailable\n"));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let out = run(dir.path(), &["healthcheck", "--listen", &closed]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with(&format!("error: unhealthy: http://{closed}/healthz did not answer")), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test]
async fn backup_copies_the_running_consoles_database_and_never_overwrites_by_accident() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let db = app.database_url();
    let out_path = dir.path().join("backup.db");
    let output = out_path.to_str().unwrap();

    let out = run(dir.path(), &["backup", "--database", &db, output]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let size = std::fs::metadata(&out_path).unwrap().len();
    assert_eq!(text(&out.stdout), format!("Backed up {} to {output} ({size} bytes)\n", app.db_path.display()));

    let copy = sqlx::SqlitePool::connect(&format!("sqlite://{output}?mode=ro")).await.expect("the backup opens");
    let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users").fetch_all(&copy).await.unwrap();
    assert_eq!(emails, [ADMIN_EMAIL]);
    copy.close().await;

    let out = run(dir.path(), &["backup", "--database", &db, output]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("error: {output} already exists: choose another file, or give --force to replace it\n")
    );

    app.create_user("second@example.com", crate::support::Role::PublisherAdministrator, "second password").await;
    let out = run(dir.path(), &["backup", "--database", &db, output, "--force"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let copy = sqlx::SqlitePool::connect(&format!("sqlite://{output}?mode=ro")).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&copy).await.unwrap();
    assert_eq!(users, 2, "--force replaced the old copy with a fresh one");
    assert!(!dir.path().join("backup.db.partial").exists());
}

#[tokio::test]
async fn serve_takes_settings_from_flags_then_environment_then_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("multi-account.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\npublic-url = \"https://file.example\"\ndatabase = \"sqlite://console.db\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();

    // (what wins, MA_PUBLIC_URL, --public-url)
    let cases = [
        ("https://file.example/", None, None),
        ("https://env.example/", Some("https://env.example"), None),
        ("https://flag.example/", Some("https://env.example"), Some("https://flag.example")),
    ];
    for (expected, env, flag) in cases {
        let mut cmd = binary(dir.path());
        cmd.args(["serve", "--config", config]);
        if let Some(url) = env {
            cmd.env("MA_PUBLIC_URL", url);
        }
        if let Some(url) = flag {
            cmd.args(["--public-url", url]);
        }
        let (child, _stdout, lines) = start_serve(&mut cmd).await;
        assert_eq!(value_after(&lines, "Multi Account console:"), expected, "{env:?} {flag:?}");
        sigterm(&child);
        let out = child.wait_with_output().await.unwrap();
        assert!(out.status.success(), "{:?}: {}", out.status, text(&out.stderr));
    }
    assert!(dir.path().join("console.db").exists(), "the database named in the file was used");

    std::fs::write(dir.path().join("typo.toml"), "listen = \"127.0.0.1:0\"\nlisten-address = \"0.0.0.0:80\"\n")
        .unwrap();
    let out = run(dir.path(), &["serve", "--config", "typo.toml"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: config file typo.toml: unknown key `listen-address`"));
}

/// The real binary in demo mode: SIGTERM while a slow request runs. The request completes, new connections are
/// refused, the process exits 0, and every log line about the request carries its request id.
#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = binary(dir.path());
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database", "sqlite://console.db"])
        .env("MA_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,tower_http=debug");
    let (child, _stdout, lines) = start_serve(&mut cmd).await;
    let console = format!("http://127.0.0.1:{port}");
    let emulator = value_after(&lines, "Kaltura API emulator serves parent account 6464 at").to_owned();

    let http = reqwest::Client::new();
    let latency = http.post(format!("{emulator}/emulator/latency?ms=2000")).send().await.unwrap();
    assert!(latency.status().is_success());
    let in_flight = tokio::spawn({
        let (http, url) = (http.clone(), format!("{console}/readyz"));
        async move {
            let res = http.get(url).send().await.expect("the request in flight is answered");
            (res.status(), res.text().await.unwrap())
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    sigterm(&child);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let refused = reqwest::Client::new().get(format!("{console}/healthz")).send().await;
    assert!(refused.is_err(), "no new connections after SIGTERM: {refused:?}");
    let (status, body) = in_flight.await.unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ready"), "the request in flight still reached Kaltura");

    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the process exits after the request")
        .unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);

    let logs = text(&out.stderr);
    let entries: Vec<serde_json::Value> =
        logs.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON line: {l}"))).collect();
    let in_requests: Vec<_> = entries.iter().filter_map(|e| e["spans"].as_array()?.first()).collect();
    assert!(in_requests.iter().any(|span| span["path"] == "/readyz"), "the request is logged: {logs}");
    for span in in_requests {
        let id = span["request_id"].as_str().unwrap_or_default();
        assert_eq!(id.len(), 36, "a request id on {span}");
    }
    let messages: Vec<&str> = entries.iter().filter_map(|e| e["fields"]["message"].as_str()).collect();
    let shutting = messages.iter().position(|m| m.starts_with("shutting down")).expect("the shutdown is logged");
    let stopped = messages.iter().position(|m| *m == "stopped").expect("the end is logged");
    assert!(shutting < stopped, "{messages:?}");
}

/// The Compose file parses, and it and the Dockerfile name only commands, flags, variables, paths and ports the
/// project has. (No Docker engine runs here: the image itself is not built by the tests.)
#[tokio::test]
async fn the_compose_file_is_valid_and_names_only_what_the_project_has() {
    let root = Path::new(ROOT);
    let config = std::process::Command::new("docker-compose")
        .args(["-f", "docker-compose.yml", "config", "--quiet"])
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| {
            panic!("docker-compose is needed to validate docker-compose.yml ({e}): apt-get install docker-compose")
        });
    assert!(config.status.success(), "docker-compose config: {}", text(&config.stderr));
    let services = std::process::Command::new("docker-compose")
        .args(["-f", "docker-compose.yml", "config", "--services"])
        .current_dir(root)
        .output()
        .unwrap();
    let mut services: Vec<String> = text(&services.stdout).lines().map(String::from).collect();
    services.sort();
    assert_eq!(services, ["console", "emulator"]);

    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    let source = all_sources(&root.join("src"));
    for name in environment_keys(&compose) {
        // RUST_LOG is tracing's own variable.
        assert!(name == "RUST_LOG" || source.contains(&format!("\"{name}\"")), "{name} is not read by the program");
    }
    for argv in json_arrays(&compose, &["command:", "test:"]) {
        let args: Vec<&str> =
            argv.iter().map(String::as_str).skip_while(|a| *a == "CMD" || *a == "multi-account").collect();
        assert_accepted(&args).await;
    }
    for (published, target) in [("8080", "8080"), ("8081", "8081")] {
        assert!(compose.contains(&format!("\"{published}:{target}\"")), "port {published}");
    }
    assert!(compose.contains("\"--listen\", \"0.0.0.0:8081\""), "the emulator listens where it is published");
    assert!(compose.contains("MA_LISTEN: 0.0.0.0:8080"), "the console listens where it is published");
    assert!(compose.contains("KALTURA_SERVICE_URL: http://emulator:8081"));
}

#[tokio::test]
async fn the_dockerfile_copies_every_build_input_and_runs_real_commands() {
    let root = Path::new(ROOT);
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("FROM rust:1.95-bookworm AS build"));
    assert!(dockerfile.contains("FROM debian:bookworm-slim"));
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(dockerfile.contains("ca-certificates"));
    assert!(dockerfile.contains("USER multi-account"), "not root");

    let copied: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--from"))
        .flat_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words[..words.len() - 1].to_vec()
        })
        .collect();
    for path in &copied {
        assert!(root.join(path).exists(), "COPY {path}: no such file");
    }
    // What the compiler reads besides src/: askama's templates, sqlx::migrate!'s migrations, include_*! files.
    let mut inputs = vec!["src".to_owned(), "templates".to_owned(), "migrations".to_owned(), "Cargo.lock".to_owned()];
    inputs.extend(included_top_dirs(&root.join("src")));
    for input in inputs {
        assert!(copied.contains(&input.as_str()), "the build reads {input} but the Dockerfile does not COPY it");
    }

    let ignore = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    for entry in ["target", ".venv", "node_modules", ".git", "*.db"] {
        assert!(ignore.lines().any(|l| l == entry), ".dockerignore lacks {entry}");
    }

    assert!(dockerfile.contains("EXPOSE 8080") && dockerfile.contains("MA_LISTEN=0.0.0.0:8080"));
    assert!(dockerfile.contains("MA_DATABASE_URL=sqlite:///data/") && dockerfile.contains("VOLUME /data"));
    let source = all_sources(&root.join("src"));
    for name in ["MA_LISTEN", "MA_DATABASE_URL"] {
        assert!(source.contains(&format!("\"{name}\"")), "{name} is not read by the program");
    }
    for argv in json_arrays(&dockerfile, &["CMD", "ENTRYPOINT", "HEALTHCHECK"]) {
        let args: Vec<&str> = argv.iter().map(String::as_str).filter(|a| *a != "multi-account").collect();
        assert_accepted(&args).await;
    }
}

/// The binary parses `args` (every subcommand and flag exists, every value is valid): `--help` after them answers 0.
async fn assert_accepted(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mut with_help = args.to_vec();
    with_help.push("--help");
    let out = run(dir.path(), &with_help).await;
    assert!(out.status.success(), "multi-account {}: {}", args.join(" "), text(&out.stderr));
}

/// The names under every `environment:` block of a Compose file (its `KEY: value` lines).
fn environment_keys(compose: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut indent = None;
    for line in compose.lines() {
        let trimmed = line.trim_start();
        let depth = line.len() - trimmed.len();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        match indent {
            Some(block) if depth > block => {
                if let Some((key, _)) = trimmed.split_once(':') {
                    keys.push(key.to_owned());
                }
            }
            _ => indent = None,
        }
        if trimmed == "environment:" {
            indent = Some(depth);
        }
    }
    assert!(keys.len() > 5, "environment blocks found: {keys:?}");
    keys
}

/// The JSON arrays (exec form) that follow any of `prefixes` at the start of a line.
fn json_arrays(text: &str, prefixes: &[&str]) -> Vec<Vec<String>> {
    let arrays: Vec<Vec<String>> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .filter_map(|l| l.find('[').map(|i| &l[i..]))
        .map(|a| serde_json::from_str(a).unwrap_or_else(|e| panic!("{a}: {e}")))
        .collect();
    assert!(!arrays.is_empty(), "no {prefixes:?} lines");
    arrays
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

fn all_sources(dir: &Path) -> String {
    rust_files(dir).iter().map(|f| std::fs::read_to_string(f).unwrap()).collect()
}

/// The top-level directories of the files `include_str!`/`include_bytes!` pull in.
fn included_top_dirs(src: &Path) -> Vec<String> {
    let root = Path::new(ROOT);
    let mut dirs = Vec::new();
    for file in rust_files(src) {
        let code = std::fs::read_to_string(&file).unwrap();
        for part in code.split("include_").skip(1) {
            let Some(rest) = part.strip_prefix("str!(\"").or_else(|| part.strip_prefix("bytes!(\"")) else { continue };
            let relative = &rest[..rest.find('"').unwrap()];
            let path = std::fs::canonicalize(file.parent().unwrap().join(relative)).unwrap();
            let top = path.strip_prefix(std::fs::canonicalize(root).unwrap()).unwrap().components().next().unwrap();
            dirs.push(top.as_os_str().to_string_lossy().into_owned());
        }
    }
    assert!(dirs.contains(&"static".to_owned()), "found {dirs:?}");
    dirs
}
