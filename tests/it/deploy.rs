//! Running it on a server: health and readiness probes, the healthcheck and backup commands, the settings file,
//! graceful shutdown of the real binary, request ids, and the Dockerfile and Compose file against the project.

use kaltura_emulator::{self as emulator, EmulatorConfig, Seed};
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::support::{ADMIN_EMAIL, spawn_app};

const BIN: &str = env!("CARGO_BIN_EXE_multi-account");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The binary with none of the caller's settings in its environment.
pub(crate) fn binary(dir: &Path) -> Command {
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
pub(crate) async fn start_serve(cmd: &mut Command) -> (Child, Lines<BufReader<ChildStdout>>, Vec<String>) {
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
    // The upstream half of the answer is reused for a few seconds: readiness comes back within that.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let res = app.bare_client().get(app.at("/readyz")).send().await.unwrap();
        if res.status() == StatusCode::OK {
            assert_eq!(res.text().await.unwrap(), "ready");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still not ready 10 s after Kaltura came back");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
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
    // Two-factor sign-in works in the demo: a key was made beside the database, readable by its owner only.
    let key = dir.path().join("console-secret.key");
    assert!(value_after(&lines, "Two-factor sign-in is available: its key is kept in").contains("console-secret.key"));
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert!(std::fs::read_to_string(&key).unwrap().trim().len() >= 32);

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
    // The readiness check is at Kaltura (the emulator is answering it) when the console is told to stop.
    let in_flight_at_kaltura = async || -> u64 {
        let v: serde_json::Value =
            http.get(format!("{emulator}/emulator/in_flight")).send().await.unwrap().json().await.unwrap();
        v["in_flight"].as_u64().unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while in_flight_at_kaltura().await == 0 {
        assert!(std::time::Instant::now() < deadline, "the readiness check never reached Kaltura");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sigterm(&child);
    // Stopping closes the listener at once; new connections are refused from then on.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let refused = reqwest::Client::new().get(format!("{console}/healthz")).send().await;
        if refused.is_err() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still taking connections after SIGTERM: {refused:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
/// project has. Without a profile it is the demo; `--profile ha` adds PostgreSQL, two console replicas on it and a
/// load balancer in front of them, from stock images set by their own variables. (No Docker engine runs here: the
/// images are not built or pulled by the tests.)
#[tokio::test]
async fn the_compose_file_is_valid_and_names_only_what_the_project_has() {
    let root = Path::new(ROOT);
    let compose_config = |profile: &[&str], what: &str| {
        let mut args = vec!["-f", "docker-compose.yml"];
        args.extend_from_slice(profile);
        args.extend(["config", what]);
        std::process::Command::new("docker-compose").args(&args).current_dir(root).output().unwrap_or_else(|e| {
            panic!("docker-compose is needed to validate docker-compose.yml ({e}): apt-get install docker-compose")
        })
    };
    let config = compose_config(&[], "--quiet");
    assert!(config.status.success(), "docker-compose config: {}", text(&config.stderr));
    let ha = compose_config(&["--profile", "ha"], "--services");
    assert!(ha.status.success(), "docker-compose --profile ha config: {}", text(&ha.stderr));
    let mut services: Vec<String> = text(&ha.stdout).lines().map(String::from).collect();
    services.sort();
    assert_eq!(services, ["console", "console-a", "console-b", "emulator", "lb", "postgres"]);

    // `docker compose up` starts what it always did; the rest waits for `--profile ha`. (Compose 1.29 lists every
    // service whatever the profile, so the profiles are read from the file.)
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    let blocks = service_blocks(&compose);
    let service = |name: &str| {
        blocks.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_str()).unwrap_or_else(|| panic!("no service {name}"))
    };
    let in_profile = |profile: Option<&str>| {
        let mut names: Vec<&str> =
            blocks.iter().filter(|(_, b)| value_of(b, "profiles") == profile).map(|(n, _)| n.as_str()).collect();
        names.sort();
        names
    };
    assert_eq!(in_profile(None), ["console", "emulator"]);
    assert_eq!(in_profile(Some("[\"ha\"]")), ["console-a", "console-b", "lb", "postgres"]);

    // The project's image runs real commands and reads every variable it is given; a stock image is given only
    // its own variables.
    let source = workspace_sources(root);
    let mut ours = 0;
    for (name, block) in &blocks {
        let image = value_of(block, "image").unwrap_or_else(|| panic!("service {name} names no image"));
        if image == "multi-account:local" {
            assert_eq!(value_of(block, "build"), Some("."), "{name} is built from this directory");
            for key in environment_keys(block) {
                // RUST_LOG is tracing's own variable.
                assert!(
                    key == "RUST_LOG" || source.contains(&format!("\"{key}\"")),
                    "{name}: {key} is not read by the program"
                );
                ours += 1;
            }
            for argv in json_arrays(block, &["command:", "test:"]) {
                let args: Vec<&str> =
                    argv.iter().map(String::as_str).skip_while(|a| *a == "CMD" || *a == "multi-account").collect();
                assert_accepted(&args).await;
            }
        } else {
            let prefix = match image.split(':').next() {
                Some("postgres") => "POSTGRES_",
                Some("nginx") => "NGINX_",
                _ => panic!("{name}: {image} is neither the project's image nor a stock image it knows"),
            };
            for key in environment_keys(block) {
                assert!(key.starts_with(prefix), "{name}: {key} is not a variable of {image}");
            }
        }
    }
    assert!(ours > 5, "environment blocks found: {ours} keys");

    for (published, target) in [("8080", "8080"), ("8081", "8081"), ("8090", "80")] {
        assert!(compose.contains(&format!("\"{published}:{target}\"")), "port {published}");
    }
    assert!(compose.contains("\"--listen\", \"0.0.0.0:8081\""), "the emulator listens where it is published");
    assert_eq!(value_of(service("console"), "MA_LISTEN"), Some("0.0.0.0:8080"), "the console listens where published");
    assert_eq!(value_of(service("console"), "KALTURA_SERVICE_URL"), Some("http://emulator:8081"));

    // The replicas share the postgres service's database, are reached only through lb (their public URL), and
    // lb's nginx configuration, mounted from deploy/, balances over both.
    let postgres = service("postgres");
    let user = value_of(postgres, "POSTGRES_USER").expect("POSTGRES_USER");
    let password = value_of(postgres, "POSTGRES_PASSWORD").expect("POSTGRES_PASSWORD");
    let db = value_of(postgres, "POSTGRES_DB").expect("POSTGRES_DB");
    let lb = service("lb");
    assert!(lb.contains("\"8090:80\""), "lb is published on 8090");
    assert!(lb.contains("./deploy/nginx-ha.conf:/etc/nginx/conf.d/default.conf"), "lb runs deploy/nginx-ha.conf");
    let nginx = std::fs::read_to_string(root.join("deploy/nginx-ha.conf")).expect("deploy/nginx-ha.conf");
    for replica in ["console-a", "console-b"] {
        let block = service(replica);
        assert_eq!(
            value_of(block, "MA_DATABASE_URL"),
            Some(format!("postgres://{user}:{password}@postgres:5432/{db}").as_str())
        );
        assert_eq!(value_of(block, "MA_PUBLIC_URL"), Some("http://localhost:8090"), "{replica} is opened through lb");
        assert_eq!(value_of(block, "MA_LISTEN"), Some("0.0.0.0:8080"), "{replica}");
        assert!(value_of(block, "MA_TRUSTED_PROXIES").is_some(), "{replica} must believe lb's X-Forwarded-For");
        assert!(value_of(block, "KALTURA_SERVICE_URL").is_some(), "{replica} would run a demo emulator of its own");
        assert!(value_of(block, "ports").is_none(), "{replica} is reached through lb only");
        assert!(
            nginx.contains(&format!("server {replica}:8080")),
            "deploy/nginx-ha.conf does not balance over {replica}"
        );
    }
}

/// The Dockerfile, parsed into stages and instructions rather than matched line by line, so it may be reorganised
/// (e.g. to build the Cargo workspace) as long as what the image does stays right: a locked release build of the
/// binary the tests run, every build input copied, and a runtime stage that runs it as a non-root user, reachable
/// on the port it exposes, probed by its own `healthcheck`, with its database on a volume.
#[tokio::test]
async fn the_dockerfile_copies_every_build_input_and_runs_real_commands() {
    let root = Path::new(ROOT);
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let stages = stages(&dockerfile);
    let runtime = stages.last().expect("the Dockerfile has a FROM");
    let bin = Path::new(BIN).file_name().and_then(|n| n.to_str()).expect("the binary's name");

    // The runtime stage takes the binary from the stage that builds it.
    let is_bin = |path: &str| path.rsplit('/').next() == Some(bin);
    let shipped = runtime
        .args("COPY")
        .map(copy_spec)
        .find(|c| c.from.is_some() && c.sources.iter().any(|s| is_bin(s.as_str())))
        .unwrap_or_else(|| panic!("the final stage copies no {bin} from a build stage"));
    let from = shipped.from.as_deref().unwrap();
    let build = stages.iter().find(|s| s.name.as_deref() == Some(from)).unwrap_or_else(|| panic!("no stage {from}"));
    let source = shipped.sources.iter().find(|s| is_bin(s.as_str())).unwrap();

    // That stage builds with cargo, only from Cargo.lock's versions, and ships the release build of the binary.
    let commands = build.commands();
    let cargo_builds: Vec<&String> = commands.iter().filter(|c| c.starts_with("cargo build")).collect();
    assert!(!cargo_builds.is_empty(), "the {from} stage runs no `cargo build`");
    for c in cargo_builds {
        assert!(c.split_whitespace().any(|w| w == "--locked"), "`{c}` may resolve other versions than Cargo.lock's");
    }
    let built = format!("target/release/{bin}");
    assert!(
        source.ends_with(&built) || commands.iter().any(|c| c.contains(&built) && c.contains(source.as_str())),
        "the {from} stage does not put {built} at {source}, which the final stage copies"
    );

    // Every source it copies exists, and it copies everything the compiler reads: the manifests and Cargo.lock
    // (without which --locked has nothing to hold to), src/, askama's templates, sqlx::migrate!'s migrations, the
    // include_*! files and every workspace member.
    let copies: Vec<CopySpec> = build.args("COPY").map(copy_spec).filter(|c| c.from.is_none()).collect();
    for path in copies.iter().flat_map(|c| &c.sources) {
        // A glob (e.g. each member's Cargo.toml, copied early for the dependency cache) is Docker's to expand.
        assert!(path.contains(['*', '?']) || root.join(path).exists(), "COPY {path}: no such file");
    }
    let copied = |input: &str| copies.iter().flat_map(|c| &c.sources).any(|path| covers(path, input));
    let members = workspace_members(root);
    let mut inputs: Vec<String> =
        ["Cargo.toml", "Cargo.lock", "src", "templates", "migrations"].map(String::from).to_vec();
    inputs.extend(members.iter().cloned());
    let mut source_dirs = vec![root.join("src")];
    source_dirs.extend(members.iter().map(|m| root.join(m).join("src")));
    inputs.extend(included_files(&source_dirs));
    for input in &inputs {
        assert!(copied(input.as_str()), "the build reads {input} but the {from} stage does not COPY it");
    }

    let ignore = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    for entry in ["target", ".venv", "node_modules", ".git", "*.db"] {
        assert!(ignore.lines().any(|l| l == entry), ".dockerignore lacks {entry}");
    }

    // The runtime image is the build image's Debian release (the binary links against its glibc), and the build
    // image's toolchain is at least the rust-version the manifest promises.
    let release = |image: &str| ["bullseye", "bookworm", "trixie", "forky"].into_iter().find(|r| image.contains(r));
    if let Some(built_on) = release(build.image.as_str()) {
        assert_eq!(
            release(runtime.image.as_str()),
            Some(built_on),
            "built on {}, run on {}",
            build.image,
            runtime.image
        );
    }
    if let Some(toolchain) = build.image.strip_prefix("rust:").and_then(version) {
        let promised = rust_version(root);
        assert!(toolchain >= promised, "{} is older than rust-version {promised:?}", build.image);
    }

    // HTTPS to Kaltura verifies against the system's CA roots, which a slim image only has once installed.
    assert!(
        runtime
            .commands()
            .iter()
            .any(|c| c.contains("install") && c.split_whitespace().any(|w| w == "ca-certificates")),
        "the final stage installs no ca-certificates"
    );

    // It runs as a user of its own, never root, and that user exists in the image.
    let user = runtime.args("USER").last().expect("the final stage sets a USER, or the console runs as root");
    let user = user.split(':').next().unwrap();
    assert!(user != "root" && user != "0", "USER {user}: the console runs as root");
    if user.parse::<u32>().is_err() {
        let created = runtime
            .commands()
            .iter()
            .any(|c| (c.starts_with("useradd") || c.starts_with("adduser")) && c.split_whitespace().any(|w| w == user));
        assert!(created, "USER {user} is never created, so the container cannot start");
    }

    // ENTRYPOINT/CMD and HEALTHCHECK run the shipped binary, by its path or by its name from a directory on PATH.
    let dest = if shipped.dest.ends_with('/') { format!("{}{bin}", shipped.dest) } else { shipped.dest.clone() };
    let on_path = Path::new(&dest)
        .parent()
        .and_then(Path::to_str)
        .is_some_and(|d| ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].contains(&d));
    let runs_shipped = |argv: &[String]| argv.first().is_some_and(|p| *p == dest || (on_path && p == bin));
    let mut argv: Vec<String> = runtime.args("ENTRYPOINT").last().map(exec_form).unwrap_or_default();
    argv.extend(runtime.args("CMD").last().map(exec_form).unwrap_or_default());
    assert!(runs_shipped(argv.as_slice()), "the container runs {argv:?}, not {dest}");
    let health = runtime.args("HEALTHCHECK").last().expect("the final stage has a HEALTHCHECK");
    let probe = exec_form(health.split_once("CMD").unwrap_or_else(|| panic!("HEALTHCHECK {health}: no CMD")).1.trim());
    assert!(
        runs_shipped(probe.as_slice()) && probe.get(1).is_some_and(|a| a == "healthcheck"),
        "HEALTHCHECK runs {probe:?}"
    );

    // It listens on every interface (a container's loopback is out of reach) on the port it EXPOSEs: the one
    // `--listen` names, else MA_LISTEN, which `healthcheck` probes too.
    let env = env_vars(runtime);
    let flag = argv.iter().enumerate().find_map(|(i, a)| match a.strip_prefix("--listen") {
        Some("") => argv.get(i + 1).cloned(),
        Some(rest) => rest.strip_prefix('=').map(String::from),
        None => None,
    });
    let listen = flag.or_else(|| env.get("MA_LISTEN").cloned()).expect("the image sets MA_LISTEN or --listen");
    let (host, port) = listen.rsplit_once(':').unwrap_or_else(|| panic!("{listen}: not host:port"));
    assert!(["0.0.0.0", "[::]", ""].contains(&host), "it listens on {listen}, unreachable from outside the container");
    let exposed: Vec<&str> =
        runtime.args("EXPOSE").flat_map(str::split_whitespace).map(|p| p.split('/').next().unwrap()).collect();
    assert!(exposed.contains(&port), "it listens on {port}, the image EXPOSEs {exposed:?}");

    // SQLite lives on a VOLUME, so the data outlives the container.
    let database = env.get("MA_DATABASE_URL").expect("the image sets MA_DATABASE_URL");
    let file = database.strip_prefix("sqlite://").and_then(|p| p.split('?').next()).expect("a sqlite:// URL");
    let file = if file.starts_with('/') {
        file.to_owned()
    } else {
        format!("{}/{file}", runtime.args("WORKDIR").last().unwrap_or("").trim_end_matches('/'))
    };
    let volumes: Vec<String> = runtime
        .args("VOLUME")
        .flat_map(|v| {
            if v.starts_with('[') { exec_form(v) } else { v.split_whitespace().map(String::from).collect::<Vec<_>>() }
        })
        .collect();
    assert!(
        volumes.iter().any(|v| file.starts_with(&format!("{}/", v.trim_end_matches('/')))),
        "{database} is not on a VOLUME ({volumes:?})"
    );

    // Every variable the image sets is one the program reads (RUST_LOG is tracing's own).
    let sources = workspace_sources(root);
    for name in env.keys().filter(|k| *k != "RUST_LOG") {
        assert!(sources.contains(&format!("\"{name}\"")), "ENV {name} is not read by the program");
    }
    // And the binary accepts what it is run with: every subcommand and flag exists, every value is valid.
    for command in [&argv, &probe] {
        let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
        assert_accepted(&args).await;
    }
}

/// One Dockerfile instruction: its keyword in upper case and its arguments.
struct Instruction {
    keyword: String,
    args: String,
}

/// A build stage: its base image, its `AS` name, and the instructions after its FROM.
struct Stage {
    image: String,
    name: Option<String>,
    steps: Vec<Instruction>,
}

impl Stage {
    /// The arguments of each of its `keyword` instructions, in order.
    fn args<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.steps.iter().filter(move |i| i.keyword == keyword).map(|i| i.args.as_str())
    }

    /// The shell commands its RUN instructions run (split at `&&`, `||`, `|` and `;`; RUN's own flags dropped).
    fn commands(&self) -> Vec<String> {
        let mut commands = Vec::new();
        for run in self.args("RUN") {
            let mut script = run.trim_start();
            while script.starts_with("--") {
                script = script.split_once(char::is_whitespace).map_or("", |(_, rest)| rest.trim_start());
            }
            commands.extend(script.split(['&', '|', ';']).map(str::trim).filter(|c| !c.is_empty()).map(String::from));
        }
        commands
    }
}

/// The Dockerfile's stages in order: comments and parser directives skipped, `\` continuations joined.
fn stages(dockerfile: &str) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    let mut pending = String::new();
    for line in dockerfile.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            pending.push_str(part);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let instruction = std::mem::take(&mut pending);
        let (keyword, args) = instruction.split_once(char::is_whitespace).unwrap_or((instruction.as_str(), ""));
        let (keyword, args) = (keyword.to_ascii_uppercase(), args.trim().to_owned());
        if keyword == "FROM" {
            let words: Vec<&str> = args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
            let name = (words.len() == 3 && words[1].eq_ignore_ascii_case("AS")).then(|| words[2].to_owned());
            stages.push(Stage { image: words[0].to_owned(), name, steps: Vec::new() });
        } else if let Some(stage) = stages.last_mut() {
            // Before the first FROM only ARG may stand, which sets nothing these checks read.
            stage.steps.push(Instruction { keyword, args });
        }
    }
    assert!(pending.is_empty(), "the Dockerfile ends inside a continuation: {pending}");
    stages
}

/// A COPY: the stage it copies from (`--from`), its sources and its destination.
struct CopySpec {
    from: Option<String>,
    sources: Vec<String>,
    dest: String,
}

fn copy_spec(args: &str) -> CopySpec {
    let words: Vec<&str> = args.split_whitespace().collect();
    let from = words.iter().find_map(|w| w.strip_prefix("--from=")).map(String::from);
    let mut paths: Vec<String> = words.iter().filter(|w| !w.starts_with("--")).map(|w| w.to_string()).collect();
    let dest = paths.pop().unwrap_or_else(|| panic!("COPY {args}: no destination"));
    assert!(!paths.is_empty(), "COPY {args}: no source");
    CopySpec { from, sources: paths, dest }
}

/// Whether `COPY source` brings in `path` (both relative to the build context).
fn covers(source: &str, path: &str) -> bool {
    let source = source.trim_start_matches("./").trim_end_matches('/');
    source.is_empty() || source == "." || path == source || path.starts_with(&format!("{source}/"))
}

/// An exec-form argument list (a JSON array): the form that runs the binary itself, with no shell between.
fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("{args}: not exec form, a JSON array ({e})"))
}

/// The variables a stage's ENV instructions set (`KEY=value` pairs, or the old `KEY value` form).
fn env_vars(stage: &Stage) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for args in stage.args("ENV") {
        match args.split_once(char::is_whitespace) {
            Some((key, value)) if !key.contains('=') => {
                vars.insert(key.to_owned(), value.trim().to_owned());
            }
            _ => {
                for pair in args.split_whitespace() {
                    let (key, value) = pair.split_once('=').unwrap_or_else(|| panic!("ENV {args}: {pair}?"));
                    vars.insert(key.to_owned(), value.trim_matches('"').to_owned());
                }
            }
        }
    }
    vars
}

/// `major.minor` at the start of `s` (`1.95-bookworm`, `1.89`).
fn version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn manifest(root: &Path) -> toml::Table {
    toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).expect("Cargo.toml parses")
}

/// The rust-version the root manifest declares, itself or for the workspace.
fn rust_version(root: &Path) -> (u32, u32) {
    let manifest = manifest(root);
    let own = manifest.get("package").and_then(|p| p.get("rust-version")).and_then(toml::Value::as_str);
    let workspace = || {
        let package = manifest.get("workspace").and_then(|w| w.get("package"));
        package.and_then(|p| p.get("rust-version")).and_then(toml::Value::as_str)
    };
    own.or_else(workspace).and_then(version).expect("Cargo.toml declares a rust-version")
}

/// The workspace members besides the root package (`[workspace] members`, `dir/*` expanded), as relative paths.
fn workspace_members(root: &Path) -> Vec<String> {
    let manifest = manifest(root);
    let members = manifest.get("workspace").and_then(|w| w.get("members")).and_then(toml::Value::as_array);
    let mut dirs = Vec::new();
    for member in members.into_iter().flatten().filter_map(toml::Value::as_str) {
        let member = member.trim_start_matches("./").trim_end_matches('/');
        if let Some(parent) = member.strip_suffix("/*") {
            for entry in std::fs::read_dir(root.join(parent)).unwrap() {
                dirs.push(format!("{parent}/{}", entry.unwrap().file_name().to_string_lossy()));
            }
        } else if !member.is_empty() && member != "." {
            dirs.push(member.to_owned());
        }
    }
    dirs
}

/// Every Rust source of the workspace: the root package's src/ and each member's.
fn workspace_sources(root: &Path) -> String {
    let mut dirs = vec![root.join("src")];
    dirs.extend(workspace_members(root).iter().map(|m| root.join(m).join("src")).filter(|d| d.is_dir()));
    dirs.iter().map(|d| all_sources(d)).collect()
}

/// The binary parses `args` (every subcommand and flag exists, every value is valid): `--help` after them answers 0.
async fn assert_accepted(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mut with_help = args.to_vec();
    with_help.push("--help");
    let out = run(dir.path(), &with_help).await;
    assert!(out.status.success(), "multi-account {}: {}", args.join(" "), text(&out.stderr));
}

/// The names under every `environment:` block of a Compose file or service (its `KEY: value` lines).
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
    keys
}

/// The services of a Compose file, in order: each name with its block (the lines below it, up to the next one).
fn service_blocks(compose: &str) -> Vec<(String, String)> {
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    for line in compose.lines() {
        if !line.is_empty() && !line.starts_with([' ', '#']) {
            inside = line.trim_end() == "services:";
            continue;
        }
        if !inside {
            continue;
        }
        let name =
            line.strip_prefix("  ").filter(|l| !l.starts_with([' ', '#'])).and_then(|l| l.trim_end().strip_suffix(':'));
        match (name, blocks.last_mut()) {
            (Some(name), _) => blocks.push((name.to_owned(), String::new())),
            (None, Some((_, block))) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(!blocks.is_empty(), "no services in the Compose file");
    blocks
}

/// The value of the first `key: value` line in `block` (`Some("")` for a key that opens a nested block).
fn value_of<'a>(block: &'a str, key: &str) -> Option<&'a str> {
    block.lines().find_map(|l| l.trim_start().strip_prefix(key)?.strip_prefix(':')).map(str::trim)
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

/// The files `include_str!`/`include_bytes!` pull in from the sources under `dirs`, relative to the project root.
fn included_files(dirs: &[PathBuf]) -> Vec<String> {
    let root = std::fs::canonicalize(ROOT).unwrap();
    let mut files = Vec::new();
    for file in dirs.iter().filter(|d| d.is_dir()).flat_map(|d| rust_files(d)) {
        let code = std::fs::read_to_string(&file).unwrap();
        for part in code.split("include_").skip(1) {
            let Some(rest) = part.strip_prefix("str!(\"").or_else(|| part.strip_prefix("bytes!(\"")) else { continue };
            let relative = &rest[..rest.find('"').unwrap()];
            let path = std::fs::canonicalize(file.parent().unwrap().join(relative)).unwrap();
            files.push(path.strip_prefix(&root).unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(files.iter().any(|f| f.starts_with("static/")), "found {files:?}");
    files
}

/// The README's `cargo run --release -- serve` needs cargo to know which of the workspace's binaries to run.
#[test]
fn cargo_run_at_the_top_runs_the_console() {
    let manifest: toml::Table = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).unwrap().parse().unwrap();
    assert_eq!(manifest["package"]["default-run"].as_str(), Some("multi-account"));
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    assert!(readme.contains("cargo run --release -- serve"), "the README's first command");
}
