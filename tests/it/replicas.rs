//! Two real console processes on one PostgreSQL database, as behind a load balancer: a session made on one works on
//! the other, the quota holds across them, the audit log is one, and an import whose console dies is finished by
//! the other, exactly once.

use kaltura_emulator::{self as emulator, EmulatorConfig, RunningEmulator, Seed};
use multi_account::db::users::{self, NewUser, Role};
use multi_account::db::{self, Location, PoolSettings};
use reqwest::StatusCode;
use reqwest::header::ORIGIN;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::process::Child;

use crate::database::{drop_database, new_postgres_database, postgres_server};
use crate::deploy::{binary, start_serve};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, client_with};

/// One `multi-account serve` process.
struct Console {
    url: String,
    process: Child,
}

impl Console {
    async fn start(dir: &Path, database: &str, emu: &RunningEmulator) -> Console {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = binary(dir);
        cmd.arg("serve")
            .env("MA_DATABASE_URL", database)
            .env("MA_LISTEN", format!("127.0.0.1:{port}"))
            .env("KALTURA_SERVICE_URL", &emu.url)
            .env("KALTURA_PARTNER_ID", emu.parent_id.to_string())
            .env("KALTURA_ADMIN_SECRET", &emu.admin_secret)
            .env("RUST_LOG", "warn");
        let (process, _, _) = start_serve(&mut cmd).await;
        Console { url: format!("http://127.0.0.1:{port}"), process }
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    async fn post(&self, client: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        client.post(self.at(path)).header(ORIGIN, &self.url).form(form).send().await.unwrap()
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> (StatusCode, String) {
        let res = client.get(self.at(path)).send().await.unwrap();
        (res.status(), res.text().await.unwrap())
    }

    /// Killed at once, as by a crash: nothing is finished or given up.
    async fn kill(mut self) {
        self.process.kill().await.expect("the console is killed");
    }
}

fn registers(emu: &RunningEmulator) -> u64 {
    emu.stats()["calls"]["partner.register"].as_u64().unwrap_or(0)
}

/// The request key of a fresh Add Account form.
async fn request_key(console: &Console, client: &reqwest::Client) -> String {
    let res = client.get(console.at("/parents/6464/accounts/new")).header("HX-Request", "true").send().await.unwrap();
    let html = res.text().await.unwrap();
    let at = html.find("name=\"request_key\" value=\"").expect("the form carries a request key") + 26;
    html[at..at + 32].to_string()
}

/// Every child Kaltura has with this administrator email, any status.
async fn accounts_with_email(emu: &RunningEmulator, email: &str) -> usize {
    let client = multi_account::config::kaltura::KalturaSettings::default()
        .demo_client(&emu.url, emu.parent_id, &emu.admin_secret)
        .unwrap();
    let filter = kaltura::PartnerFilter {
        status_in: Some(vec![
            kaltura::PartnerStatus::Active,
            kaltura::PartnerStatus::Blocked,
            kaltura::PartnerStatus::Removed,
        ]),
        ..kaltura::PartnerFilter::default()
    };
    let list = client.list_partners(&filter, &kaltura::Pager::new(500, 1)).await.unwrap();
    list.objects.iter().filter(|p| p.admin_email.as_deref() == Some(email)).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_consoles_on_one_postgres_database_share_sessions_the_quota_the_audit_log_and_their_work() {
    let test = "replicas::two_consoles_on_one_postgres_database_share_sessions_the_quota_the_audit_log_and_their_work";
    let Some(server) = postgres_server(test) else { return };
    let (url, name) = new_postgres_database(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator::start(EmulatorConfig { seed: Seed::Demo, ..EmulatorConfig::for_tests() }).await.unwrap();
    let database = db::connect(&Location::Postgres(url.clone()), &PoolSettings::default()).await.unwrap();
    let pool = database.pool.clone();
    let hash = multi_account::identity::password::hash(ADMIN_PASSWORD.to_owned()).await.unwrap();
    let admin = NewUser {
        email: ADMIN_EMAIL,
        first_name: "Ada",
        last_name: "Admin",
        publisher_user_id: None,
        role: Role::PublisherAdministrator,
        password_hash: &hash,
    };
    users::add(&pool, &admin, None, multi_account::clock::Clock::system().now()).await.unwrap();
    let (a, b) = tokio::join!(Console::start(dir.path(), &url, &emu), Console::start(dir.path(), &url, &emu));

    // Signed in on A, the same cookie is a session on B (a cookie belongs to the host, whatever the port).
    let client = client_with(Default::default());
    let res = a.post(&client, "/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed in on A");
    let (status, page) = b.get(&client, "/parents/6464/accounts").await;
    assert_eq!(status, StatusCode::OK, "B knows the session: {page}");
    assert!(page.contains("Sign out") && page.contains("6475"), "B shows the accounts to the signed-in user: {page}");

    // Six Add Account requests at once, three through each console, for the three places the demo parent has left.
    let mut keys = Vec::new();
    for i in 0..6 {
        let console = if i % 2 == 0 { &a } else { &b };
        keys.push(request_key(console, &client).await);
    }
    let before = registers(&emu);
    let posts = keys.iter().enumerate().map(|(i, key)| {
        let (console, client) = (if i % 2 == 0 { &a } else { &b }, client.clone());
        let email = format!("race{i}@replicas.example");
        let name = format!("Race School {i}");
        async move {
            let form = [
                ("request_key", key.as_str()),
                ("admin_name", "Ray Race"),
                ("name", name.as_str()),
                ("admin_email", email.as_str()),
                ("phone", "1"),
                ("template_id", "6478"),
            ];
            let res = client
                .post(console.at("/parents/6464/accounts"))
                .header(ORIGIN, &console.url)
                .header("HX-Request", "true")
                .form(&form)
                .send()
                .await
                .unwrap();
            res.status()
        }
    });
    let statuses = futures_util::future::join_all(posts).await;
    // Created (200), or refused with the form and its message (422): the quota is used up.
    assert!(statuses.iter().all(|s| s.as_u16() == 200 || s.as_u16() == 422), "every request is answered: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| s.as_u16() == 422).count(), 3, "{statuses:?}");
    assert_eq!(registers(&emu) - before, 3, "exactly three accounts were created, across both consoles");
    let mut created = Vec::new();
    for i in 0..6 {
        let email = format!("race{i}@replicas.example");
        let n = accounts_with_email(&emu, &email).await;
        assert!(n <= 1, "{email}: {n} accounts");
        if n == 1 {
            created.push(email);
        }
    }
    assert_eq!(created.len(), 3);

    // A block through A is in the audit log read through B.
    let res = a.post(&client, "/parents/6464/accounts/6474/block", &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "blocked through A: {}", res.status());
    let (status, audit) = b.get(&client, "/audit?action=account.block&target=6474").await;
    assert_eq!(status, StatusCode::OK);
    assert!(audit.contains("Account blocked") && audit.contains("6474"), "B's audit page shows A's block: {audit}");

    // B's readiness names a database that does not answer: a transaction holds the table its probe writes.
    let mut hold = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE heartbeat IN ACCESS EXCLUSIVE MODE").execute(&mut *hold).await.unwrap();
    let res = client.get(b.at("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.text().await.unwrap(), "not ready: the database did not answer within 3 seconds");
    hold.rollback().await.unwrap();
    let res = client.get(b.at("/readyz")).send().await.unwrap();
    assert_eq!((res.status(), res.text().await.unwrap()), (StatusCode::OK, "ready".to_owned()));

    // The three new accounts are removed (through B), so an import has three places again.
    let made: Vec<i64> = sqlx::query_scalar("SELECT partner_id FROM account_creations WHERE state = 'created'")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(made.len(), 3);
    for id in &made {
        let res = b.post(&client, &format!("/parents/6464/accounts/{id}/remove"), &[]).await;
        assert!(res.status().is_success() || res.status().is_redirection(), "removed {id}: {}", res.status());
    }

    // An import started on A; A dies while its rows are being sent; B finishes it, each row once.
    let file = "Administrator,Account Name,Administrator Email,Administrator Phone,Website URL,Template Partner ID,Reference ID\n\
                Ann,Arts,ann@replicas.example,1,,6478,\nBob,Bio,bob@replicas.example,1,,6478,\n\
                Cat,Chem,cat@replicas.example,1,,6478,\n";
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(file.as_bytes().to_vec())
            .file_name("replicas.csv")
            .mime_str("text/csv")
            .unwrap(),
    );
    let res =
        client.post(a.at("/parents/6464/accounts/import")).header(ORIGIN, &a.url).multipart(form).send().await.unwrap();
    let Some(location) = res.headers().get("location").cloned() else {
        panic!("no preview: {} {}", res.status(), res.text().await.unwrap())
    };
    let path = location.to_str().unwrap().to_owned();
    let id: i64 = path.rsplit('/').next().unwrap().parse().unwrap();
    let before = registers(&emu);
    emu.set_latency_ms(700);
    let res = a.post(&client, &format!("{path}/start"), &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "started on A: {}", res.status());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM import_rows WHERE import_id = $1 AND state IN ('sending', 'created')",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
        if sent > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "A sent no row");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.kill().await;
    emu.set_latency_ms(0);
    // A killed in the middle of its reconciler pass holds that turn until it lapses (120 s): B takes over by then.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let state: String =
            sqlx::query_scalar("SELECT state FROM imports WHERE id = $1").bind(id).fetch_one(&pool).await.unwrap();
        if state == "done" {
            break;
        }
        assert!(Instant::now() < deadline, "B did not finish the import: still {state}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let outcomes: Vec<String> =
        sqlx::query_scalar("SELECT state FROM import_rows WHERE import_id = $1 ORDER BY row_no")
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(outcomes, ["created", "created", "created"]);
    for email in ["ann@replicas.example", "bob@replicas.example", "cat@replicas.example"] {
        assert_eq!(accounts_with_email(&emu, email).await, 1, "{email}: exactly one account");
    }
    assert_eq!(registers(&emu) - before, 3, "no row was sent twice");
    let (status, page) = b.get(&client, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("ann@replicas.example"), "B shows the import's result");

    b.kill().await;
    pool.close().await;
    drop_database(&server, &name).await;
}
