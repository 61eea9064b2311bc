//! The database layer on both engines: each test runs on a fresh SQLite file and, when `MA_TEST_POSTGRES_URL` names a
//! PostgreSQL server (the test command starts one), on a fresh PostgreSQL database made for it. The rules that must
//! hold across processes are exercised with concurrent calls on separate connections.

use multi_account::db::bulk::{self, ItemState, NewJob, OverLimit, Progress, Settled, Started};
use multi_account::db::claims::{self, Work};
use multi_account::db::creations::{self, CreationState, NewCreation, Recorded};
use multi_account::db::imports::{self, ImportState, NewImport, Row, RowState};
use multi_account::db::throttle::Kind;
use multi_account::db::users::{self, AddError, Change, NewUser, Role, Status};
use multi_account::db::{self, Database, Engine, Location, PoolSettings, audit, locks, throttle, two_factor};
use std::io::Write as _;
use tower_sessions::session::{Id, Record};

/// A database made for one test; [`TestDb::finish`] drops a PostgreSQL one.
pub struct TestDb {
    pub database: Database,
    pub location: Location,
    _dir: Option<tempfile::TempDir>,
    server: Option<(String, String)>,
}

impl TestDb {
    pub fn pool(&self) -> &db::Pool {
        &self.database.pool
    }

    pub fn engine(&self) -> Engine {
        self.location.engine()
    }

    /// Closes the connections and drops a PostgreSQL database (a SQLite file goes with its directory).
    pub async fn finish(self) {
        self.database.pool.close().await;
        if let Some((server, name)) = self.server {
            drop_database(&server, &name).await;
        }
    }
}

/// The PostgreSQL server the tests may use, or a line on the terminal saying `test` skipped it.
pub fn postgres_server(test: &str) -> Option<String> {
    match std::env::var("MA_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => {
            // Straight to the terminal: the test harness captures what `eprintln!` prints.
            let _ = writeln!(std::io::stderr(), "{test}: skipped on PostgreSQL (MA_TEST_POSTGRES_URL is not set)");
            None
        }
    }
}

/// A new, empty database on the server `server` names, and its URL.
pub async fn new_postgres_database(server: &str) -> (String, String) {
    let admin = sqlx::PgPool::connect(server).await.expect("MA_TEST_POSTGRES_URL names a server that answers");
    let name = format!("ma_test_{}", kaltura::random_secret().to_ascii_lowercase());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&admin)
        .await
        .expect("the test role may create databases");
    admin.close().await;
    let mut url = reqwest::Url::parse(server).expect("MA_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    (url.to_string(), name)
}

pub async fn drop_database(server: &str, name: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(server).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&admin).await;
        admin.close().await;
    }
}

/// A fresh SQLite database, and a fresh PostgreSQL one when a server is given, each migrated by `db::connect`.
pub async fn engines(test: &str) -> Vec<TestDb> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("console.db").to_str().expect("a UTF-8 path").to_owned();
    let location = Location::Sqlite(path);
    let sqlite = db::connect(&location, &PoolSettings::default()).await.expect("SQLite opens");
    let mut all = vec![TestDb { database: sqlite, location, _dir: Some(dir), server: None }];
    if let Some(server) = postgres_server(test) {
        let (url, name) = new_postgres_database(&server).await;
        let location = Location::Postgres(url);
        let database = db::connect(&location, &PoolSettings::default()).await.expect("PostgreSQL opens");
        all.push(TestDb { database, location, _dir: None, server: Some((server, name)) });
    }
    all
}

fn user<'a>(email: &'a str, role: Role) -> NewUser<'a> {
    NewUser { email, first_name: "Test", last_name: "User", publisher_user_id: None, role, password_hash: "x" }
}

#[tokio::test]
async fn users_keep_their_quota_and_one_administrator_under_concurrent_changes() {
    for t in engines("users_keep_their_quota_and_one_administrator_under_concurrent_changes").await {
        let pool = t.pool().clone();
        let adds = (0..8).map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let email = format!("user{i}@example.com");
                users::add(&pool, &user(&email, Role::Manager), Some(5), 1).await
            })
        });
        let results = futures_util::future::join_all(adds).await;
        let added = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        let refused = results.iter().filter(|r| matches!(r, Ok(Err(AddError::QuotaReached)))).count();
        assert_eq!((added, refused), (5, 3), "{:?}: eight adds for five places", t.engine());
        assert_eq!(users::count(&pool).await.unwrap(), 5);

        let first = users::list(&pool).await.unwrap().remove(0).email;
        let duplicate = users::add(&pool, &user(&first.to_uppercase(), Role::Manager), None, 1).await;
        assert!(matches!(duplicate, Err(AddError::DuplicateEmail)), "{:?}: emails differ only in case", t.engine());
        let found = users::find_by_email(&pool, &first.to_uppercase()).await.unwrap().expect("found in any case");
        assert_eq!(found.email, first);

        let a = users::add(&pool, &user("a@example.com", Role::PublisherAdministrator), None, 1).await.unwrap();
        let b = users::add(&pool, &user("b@example.com", Role::PublisherAdministrator), None, 1).await.unwrap();
        let (first, second) =
            tokio::join!(users::set_role(&pool, a, Role::Manager), users::set_role(&pool, b, Role::Manager));
        let mut changes = [first.unwrap(), second.unwrap()];
        changes.sort_by_key(|c| *c == Change::Done);
        assert_eq!(changes, [Change::LastAdmin, Change::Done], "{:?}: one administrator stays", t.engine());
        assert_eq!(users::count_active_admins(&pool).await.unwrap(), 1);
        let last = users::list(&pool).await.unwrap().into_iter().find(|u| u.role.is_admin()).expect("an admin").id;
        assert_eq!(users::set_status(&pool, last, Status::Blocked).await.unwrap(), Change::LastAdmin);
        let signed_in = users::signed_in(&pool, b).await.unwrap().expect("the user");
        assert!(!signed_in.awaiting_report);
        t.finish().await;
    }
}

#[tokio::test]
async fn the_audit_log_refuses_changes_and_filters_in_any_case() {
    for t in engines("the_audit_log_refuses_changes_and_filters_in_any_case").await {
        let pool = t.pool();
        let entry =
            |actor, action, target, result| audit::Entry { actor, ip: "10.0.0.1", action, target, result, details: "" };
        audit::record(
            pool,
            1_000,
            entry("Ann@Example.com", audit::AuditAction::AccountBlock, "6475", audit::Outcome::Ok),
        )
        .await
        .unwrap();
        audit::record(
            pool,
            1_000,
            entry("bob@example.com", audit::AuditAction::AccountUnblock, "6475", audit::Outcome::Refused),
        )
        .await
        .unwrap();
        audit::record(
            pool,
            1_000,
            entry("bob@example.com", audit::AuditAction::Login, "Bob@Example.com", audit::Outcome::Ok),
        )
        .await
        .unwrap();
        for statement in ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"] {
            let refused = sqlx::query(statement).execute(pool).await.expect_err("append-only");
            assert!(refused.to_string().contains("append-only"), "{:?}: {refused}", t.engine());
        }
        if t.engine() == Engine::Postgres {
            let refused = sqlx::query("TRUNCATE audit_log").execute(pool).await.expect_err("append-only");
            assert!(refused.to_string().contains("append-only"), "{refused}");
        }

        let filter = |f: audit::Filter| f;
        let by_actor = filter(audit::Filter { actor_contains: Some("ann@EXAMPLE".into()), ..Default::default() });
        assert_eq!(audit::count(pool, &by_actor).await.unwrap(), 1, "{:?}: actor in any case", t.engine());
        let family = filter(audit::Filter { action: Some("account.*".into()), ..Default::default() });
        let page = audit::page(pool, &family, 10, 0).await.unwrap();
        assert_eq!(page.iter().map(|l| l.action.as_str()).collect::<Vec<_>>(), ["account.unblock", "account.block"]);
        let refused = filter(audit::Filter { result: Some(audit::Outcome::Refused), ..Default::default() });
        assert_eq!(audit::page(pool, &refused, 10, 0).await.unwrap()[0].result, audit::Outcome::Refused);
        let target = filter(audit::Filter { target: Some("bob@example.COM".into()), ..Default::default() });
        assert_eq!(audit::count(pool, &target).await.unwrap(), 1, "{:?}: target in any case", t.engine());
        let literal = filter(audit::Filter { actor_contains: Some("%".into()), ..Default::default() });
        assert_eq!(audit::count(pool, &literal).await.unwrap(), 0, "a typed % is a character");
        let streamed: Vec<Vec<audit::Logged>> =
            futures_util::TryStreamExt::try_collect(audit::stream(pool.clone(), audit::Filter::default()))
                .await
                .unwrap();
        assert_eq!(streamed.concat().len(), 3);
        assert_eq!(audit::actions(pool).await.unwrap(), ["account.block", "account.unblock", "login"]);
        t.finish().await;
    }
}

#[tokio::test]
async fn sign_in_failures_are_counted_for_an_email_in_any_case() {
    for t in engines("sign_in_failures_are_counted_for_an_email_in_any_case").await {
        let pool = t.pool();
        for _ in 0..5 {
            throttle::record_failure(pool, "Ann@Example.com", "10.0.0.1", Kind::Password, 1_000, 0).await.unwrap();
        }
        let counts = throttle::counts(pool, "ann@example.com", "10.0.0.1", 999).await.unwrap();
        assert_eq!((counts.pair, counts.pair_last, counts.address), (5, Some(1_000), 5), "{:?}", t.engine());
        assert_eq!(throttle::counts(pool, "ann@example.com", "10.0.0.2", 999).await.unwrap().pair, 0);
        assert_eq!(throttle::counts(pool, "ann@example.com", "10.0.0.1", 1_000).await.unwrap().pair, 0, "older");
        // Wrong codes are counted apart, for the email from every address.
        assert_eq!(throttle::count_for_email(pool, "ANN@example.com", Kind::Code, 999).await.unwrap(), 0);
        throttle::record_failure(pool, "ann@EXAMPLE.com", "10.0.0.9", Kind::Code, 1_001, 0).await.unwrap();
        assert_eq!(throttle::count_for_email(pool, "ANN@example.com", Kind::Code, 999).await.unwrap(), 1);
        // Failures before the window are forgotten when the next is recorded.
        throttle::record_failure(pool, "zed@example.com", "10.0.0.3", Kind::Password, 2_000, 1_000).await.unwrap();
        assert_eq!(throttle::counts(pool, "ann@example.com", "10.0.0.1", 0).await.unwrap().pair, 0);
        throttle::clear_email(pool, "ANN@example.com").await.unwrap();
        assert_eq!(throttle::count_for_email(pool, "ann@example.com", Kind::Code, 0).await.unwrap(), 0);
        t.finish().await;
    }
}

fn creation<'a>(key: &'a str, email: &'a str, runner: &'a str) -> NewCreation<'a> {
    NewCreation {
        request_key: key,
        parent_id: 6464,
        user_id: 1,
        actor: "admin@example.com",
        ip: "127.0.0.1",
        admin_name: "Ada",
        name: "Academy",
        admin_email: email,
        phone: "1",
        website: None,
        reference_id: None,
        template_id: 6478,
        reported: false,
        runner,
    }
}

#[tokio::test]
async fn creations_are_recorded_once_and_a_dead_process_leaves_its_own_to_the_reconciler() {
    for t in engines("creations_are_recorded_once_and_a_dead_process_leaves_its_own_to_the_reconciler").await {
        let pool = t.pool();
        locks::hold(pool, &locks::process("alive"), "alive", 2_000).await.unwrap();
        let Recorded::New(kept) =
            creations::record(pool, &creation("k1", "ada@example.com", "alive"), 1_000).await.unwrap()
        else {
            panic!("a new creation")
        };
        assert!(matches!(
            creations::record(pool, &creation("k1", "ada@example.com", "alive"), 1_000).await.unwrap(),
            Recorded::Duplicate(c) if c.id == kept
        ));
        assert!(
            matches!(
                creations::record(pool, &creation("k2", "ADA@example.com", "alive"), 1_000).await.unwrap(),
                Recorded::EmailInFlight
            ),
            "{:?}: one creation in flight per email, in any case",
            t.engine()
        );
        let Recorded::New(orphan) =
            creations::record(pool, &creation("k3", "bea@example.com", "dead"), 1_000).await.unwrap()
        else {
            panic!("a new creation")
        };
        assert_eq!(creations::count_in_flight(pool, 6464).await.unwrap(), 2);
        assert_eq!(creations::count_in_flight(pool, 7001).await.unwrap(), 0, "another parent's quota counts none");
        let elsewhere = NewCreation { parent_id: 7001, ..creation("k4", "cy@example.com", "alive") };
        assert!(matches!(creations::record(pool, &elsewhere, 1_000).await.unwrap(), Recorded::New(_)));
        assert_eq!(creations::count_in_flight(pool, 7001).await.unwrap(), 1);
        assert_eq!(
            creations::orphaned_to_unknown(pool, 1_500).await.unwrap(),
            1,
            "{:?}: only the dead one's",
            t.engine()
        );
        assert_eq!(creations::get(pool, orphan).await.unwrap().unwrap().state, CreationState::Unknown);
        assert_eq!(creations::unresolved(pool, 6464).await.unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), [orphan]);
        assert!(creations::unresolved(pool, 7001).await.unwrap().is_empty(), "each parent's reconciler asks its own");
        assert_eq!(creations::get(pool, kept).await.unwrap().unwrap().state, CreationState::Sending);
        assert_eq!(
            creations::orphaned_to_unknown(pool, 2_001).await.unwrap(),
            2,
            "the lease lapsed: both parents' own"
        );

        assert!(creations::settle(pool, kept, CreationState::Created, Some(7000), "", 2_002).await.unwrap());
        assert!(!creations::settle(pool, kept, CreationState::Failed, None, "", 2_003).await.unwrap(), "settled once");
        assert!(creations::claim_report(pool, kept).await.unwrap());
        assert!(!creations::claim_report(pool, kept).await.unwrap(), "reported once");
        t.finish().await;
    }
}

#[tokio::test]
async fn work_recorded_before_several_parents_goes_to_the_parent_served_until_then() {
    for t in engines("work_recorded_before_several_parents_goes_to_the_parent_served_until_then").await {
        let pool = t.pool();
        let before = NewCreation { parent_id: 0, ..creation("k-before", "old@example.com", "gone") };
        let Recorded::New(old) = creations::record(pool, &before, 1_000).await.unwrap() else { panic!("recorded") };
        bulk::add_all(pool, 1, 0, &[6475], 10).await.unwrap().unwrap();
        assert_eq!(db::parents::adopt_unowned(pool, 6464).await.unwrap(), 2, "{:?}", t.engine());
        assert_eq!(creations::get(pool, old).await.unwrap().unwrap().parent_id, 6464);
        assert_eq!(bulk::selection(pool, 1, 6464).await.unwrap(), vec![6475]);
        assert_eq!(db::parents::adopt_unowned(pool, 7001).await.unwrap(), 0, "once");
        t.finish().await;
    }
}

#[tokio::test]
async fn a_users_parents_are_every_one_or_a_list_and_an_administrator_keeps_every_one() {
    for t in engines("a_users_parents_are_every_one_or_a_list_and_an_administrator_keeps_every_one").await {
        let pool = t.pool();
        let ann = users::add(pool, &user("ann@example.com", Role::PublisherAdministrator), None, 1).await.unwrap();
        let bob = users::add(pool, &user("bob@example.com", Role::PublisherAdministrator), None, 1).await.unwrap();
        assert_eq!(users::parents_of(pool, bob).await.unwrap(), None, "{:?}: every parent at first", t.engine());
        let before = users::get(pool, bob).await.unwrap().unwrap().session_generation;
        assert_eq!(users::set_parents(pool, bob, Some(&[7001, 6464])).await.unwrap(), Change::Done);
        assert_eq!(users::parents_of(pool, bob).await.unwrap(), Some(vec![6464, 7001]));
        assert_eq!(users::get(pool, bob).await.unwrap().unwrap().session_generation, before + 1, "sessions end");
        assert!(!users::signed_in(pool, bob).await.unwrap().unwrap().all_parents);
        assert!(users::signed_in(pool, ann).await.unwrap().unwrap().all_parents);
        assert_eq!(users::limited_to_parents(pool).await.unwrap(), vec![(bob, vec![6464, 7001])]);
        assert_eq!(users::set_parents(pool, ann, Some(&[6464])).await.unwrap(), Change::LastAdmin, "{:?}", t.engine());
        assert_eq!(users::set_parents(pool, bob, Some(&[])).await.unwrap(), Change::Done, "none at all is a list");
        assert_eq!(users::limited_to_parents(pool).await.unwrap(), vec![(bob, vec![])]);
        assert_eq!(users::set_parents(pool, bob, None).await.unwrap(), Change::Done);
        assert_eq!(users::parents_of(pool, bob).await.unwrap(), None);
        assert_eq!(users::set_parents(pool, 999, None).await.unwrap(), Change::NotFound);
        t.finish().await;
    }
}

#[tokio::test]
async fn a_lock_has_one_holder_at_a_time_and_lapses() {
    for t in engines("a_lock_has_one_holder_at_a_time_and_lapses").await {
        let takers = (0..10).map(|i| {
            let pool = t.pool().clone();
            tokio::spawn(async move { locks::try_take(&pool, "turn", &format!("h{i}"), 100, 110).await.unwrap() })
        });
        let taken = futures_util::future::join_all(takers).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(taken, 1, "{:?}", t.engine());
        assert!(locks::try_take(t.pool(), "turn", "late", 111, 120).await.unwrap(), "lapsed at 110");
        locks::release(t.pool(), "turn", "late").await.unwrap();
        assert!(locks::try_take(t.pool(), "turn", "next", 112, 120).await.unwrap(), "released");
        t.finish().await;
    }
}

#[tokio::test]
async fn a_selection_never_passes_its_limit_and_a_job_runs_in_one_place() {
    for t in engines("a_selection_never_passes_its_limit_and_a_job_runs_in_one_place").await {
        let pool = t.pool();
        assert_eq!(bulk::set_shown(pool, 1, 6464, &[1, 2, 3], &[1, 2], 3).await.unwrap(), Ok(2));
        assert_eq!(bulk::set_shown(pool, 1, 6464, &[4, 5], &[4, 5], 3).await.unwrap(), Err(OverLimit { would_be: 4 }));
        assert_eq!(bulk::selection(pool, 1, 6464).await.unwrap(), vec![1, 2], "nothing changed");
        assert_eq!(
            bulk::set_shown(pool, 1, 7001, &[7002], &[7002], 3).await.unwrap(),
            Ok(1),
            "one selection per parent"
        );
        assert_eq!(bulk::selection(pool, 1, 7001).await.unwrap(), vec![7002]);
        assert_eq!(bulk::set_shown(pool, 1, 6464, &[1, 2, 3], &[3], 3).await.unwrap(), Ok(1), "unticked rows leave");
        assert_eq!(bulk::selected_among(pool, 1, 6464, &[1, 3, 7002]).await.unwrap(), vec![3]);
        assert_eq!(bulk::selection_count(pool, 2, 6464).await.unwrap(), 0, "one selection per user");
        let many: Vec<i64> = (1..=1_200).collect();
        assert_eq!(bulk::add_all(pool, 2, 6464, &many, 5_000).await.unwrap(), Ok(1_200), "{:?}", t.engine());
        assert_eq!(
            bulk::add_all(pool, 2, 6464, &many, 5_000).await.unwrap(),
            Ok(1_200),
            "adding again changes nothing"
        );
        bulk::clear_selection(pool, 2, 6464).await.unwrap();

        bulk::clear_selection(pool, 1, 6464).await.unwrap();
        assert_eq!(bulk::selection_count(pool, 1, 7001).await.unwrap(), 1, "another parent's selection stays");
        bulk::add_all(pool, 1, 6464, &[10, 11, 12], 10).await.unwrap().unwrap();
        let new = NewJob { parent_id: 6464, user_id: 1, actor: "a@example.com", ip: "127.0.0.1", action: "block" };
        let stale = bulk::fingerprint(&[10, 11]);
        assert_eq!(bulk::job_from_selection(pool, &new, Some(&stale), 1).await.unwrap(), Started::Changed);
        assert_eq!(bulk::selection_count(pool, 1, 6464).await.unwrap(), 3, "a refused start leaves the selection");
        let confirmed = bulk::fingerprint(&[10, 11, 12]);
        let Started::Job(job) = bulk::job_from_selection(pool, &new, Some(&confirmed), 1).await.unwrap() else {
            panic!("a job")
        };
        assert_eq!(bulk::selection_count(pool, 1, 6464).await.unwrap(), 0);
        assert_eq!(bulk::selection(pool, 1, 7001).await.unwrap(), vec![7002], "only the parent's selection went");
        assert_eq!(bulk::job_from_selection(pool, &new, None, 1).await.unwrap(), Started::Empty);

        let claims = (0..6).map(|i| {
            let pool = pool.clone();
            tokio::spawn(
                async move { claims::claim(&pool, Work::BulkJob, job, &format!("r{i}"), 100, 120).await.unwrap() },
            )
        });
        let claimed = futures_util::future::join_all(claims).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(claimed, 1, "{:?}: one runner per job", t.engine());
        assert!(bulk::unclaimed(pool, 6464, 110).await.unwrap().is_empty(), "claimed until 120");
        assert_eq!(bulk::unclaimed(pool, 6464, 121).await.unwrap().len(), 1, "the claim lapsed");
        assert!(bulk::unclaimed(pool, 7001, 121).await.unwrap().is_empty(), "another parent's worker leaves it");

        let outcome =
            |id, state| Settled { partner_id: id, name: format!("n{id}"), state, skip: None, message: "".into() };
        bulk::settle(pool, job, &[outcome(10, ItemState::Changed), outcome(11, ItemState::Failed)]).await.unwrap();
        assert_eq!(bulk::progress(pool, job).await.unwrap(), Progress { done: 2, total: 3 });
        for state in [ItemState::Changed, ItemState::Failed, ItemState::Pending] {
            assert_eq!(bulk::count_in(pool, job, state).await.unwrap(), 1, "{state:?}");
        }
        let failed = bulk::items_in(pool, job, ItemState::Failed, 0, 10).await.unwrap();
        assert_eq!(failed.iter().map(|i| (i.partner_id, i.state)).collect::<Vec<_>>(), [(11, ItemState::Failed)]);
        assert!(bulk::items_in(pool, job, ItemState::Failed, 1, 10).await.unwrap().is_empty(), "past the last page");
        let retry = bulk::job_from_failures(pool, job, &new, 2).await.unwrap().expect("a retry");
        assert_eq!(bulk::pending(pool, retry).await.unwrap(), vec![11]);
        bulk::finish(pool, job, 3).await.unwrap();
        assert_eq!(bulk::job(pool, job).await.unwrap().unwrap().finished_at, Some(3));
        t.finish().await;
    }
}

fn row(row_no: i64, state: RowState) -> Row {
    Row {
        row_no,
        admin_name: "Ada".into(),
        name: format!("School {row_no}"),
        admin_email: format!("ada{row_no}@example.com"),
        phone: "1".into(),
        website: String::new(),
        template_id: String::new(),
        reference_id: String::new(),
        state,
        message: String::new(),
        partner_id: None,
    }
}

#[tokio::test]
async fn an_import_starts_once_and_runs_in_one_place() {
    for t in engines("an_import_starts_once_and_runs_in_one_place").await {
        let pool = t.pool();
        let new = NewImport {
            parent_id: 6464,
            user_id: 1,
            actor: "a@example.com",
            ip: "127.0.0.1",
            file_name: "f.csv",
            columns: "Name",
        };
        let rows = [row(2, RowState::Pending), row(3, RowState::Invalid), row(4, RowState::Pending)];
        let id = imports::create(pool, &new, &rows, 1).await.unwrap();
        let (first, second) = tokio::join!(imports::start(pool, id, 2), imports::start(pool, id, 2));
        assert_eq!(
            [first.unwrap(), second.unwrap()].iter().filter(|s| **s).count(),
            1,
            "{:?}: started once",
            t.engine()
        );
        let import = imports::get(pool, id).await.unwrap().unwrap();
        assert_eq!((import.state, import.to_send), (ImportState::Running, 2));
        assert!(!imports::discard(pool, id).await.unwrap(), "a started import is not discarded");
        let preview = imports::create(pool, &new, &rows, 3).await.unwrap();
        assert!(imports::discard(pool, preview).await.unwrap());
        assert!(imports::get(pool, preview).await.unwrap().is_none(), "a discarded preview is deleted");
        assert!(imports::rows(pool, preview).await.unwrap().is_empty(), "with its rows");

        assert!(claims::claim(pool, Work::Import, id, "a", 10, 30).await.unwrap());
        assert!(!claims::claim(pool, Work::Import, id, "b", 20, 40).await.unwrap(), "a holds it");
        assert!(claims::claim(pool, Work::Import, id, "b", 31, 51).await.unwrap(), "a's claim lapsed");
        claims::release(pool, Work::Import, id, "b").await.unwrap();
        assert_eq!(imports::unclaimed(pool, 6464, 32).await.unwrap(), vec![id]);
        assert!(imports::unclaimed(pool, 7001, 32).await.unwrap().is_empty(), "another parent's worker leaves it");

        imports::set_row(pool, id, 2, RowState::Created, "", Some(7001)).await.unwrap();
        assert!(!imports::finish_if_settled(pool, id, 50).await.unwrap(), "row 4 is still to send");
        imports::set_row(pool, id, 4, RowState::Failed, "refused", None).await.unwrap();
        assert!(imports::finish_if_settled(pool, id, 51).await.unwrap());
        let mut counts = imports::counts(pool, id).await.unwrap();
        counts.sort_by_key(|(state, _)| state.stored());
        assert_eq!(counts, [(RowState::Created, 1), (RowState::Failed, 1), (RowState::Invalid, 1)]);
        assert_eq!(imports::recent(pool, 6464, 5).await.unwrap()[0].state, ImportState::Done);
        assert!(imports::recent(pool, 7001, 5).await.unwrap().is_empty());
        t.finish().await;
    }
}

#[tokio::test]
async fn sessions_are_stored_in_the_database_with_their_user_and_expire() {
    for t in engines("sessions_are_stored_in_the_database_with_their_user_and_expire").await {
        let pool = &t.database.pool;
        let store = &t.database.sessions;
        let user_id = users::add(pool, &user("session@example.com", Role::Manager), None, 1).await.unwrap();
        let mut record = Record {
            id: Id::default(),
            data: [("user".to_owned(), serde_json::json!(7))].into_iter().collect(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        store.create(&mut record, Some(user_id)).await.unwrap();
        let loaded = store.load(&record.id).await.unwrap().expect("stored");
        assert_eq!(loaded.record.data.get("user"), Some(&serde_json::json!(7)), "{:?}", t.engine());
        let signed_in = loaded.user.expect("the session's user is read with it");
        assert_eq!((signed_in.user.id, signed_in.user.email.as_str()), (user_id, "session@example.com"));
        assert_eq!((signed_in.selected, signed_in.two_factor, signed_in.awaiting_report), (0, false, false));

        let mut anonymous = Record { id: Id::default(), ..record.clone() };
        store.create(&mut anonymous, None).await.unwrap();
        assert!(store.load(&anonymous.id).await.unwrap().expect("stored").user.is_none(), "{:?}", t.engine());
        let expired = Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        };
        store.save(&expired, None).await.unwrap();
        assert!(store.load(&expired.id).await.unwrap().is_none(), "an expired session is not loaded");
        let rows = || sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions").fetch_one(pool);
        assert_eq!(rows().await.unwrap(), 3);
        store.delete_expired().await.unwrap();
        assert_eq!(rows().await.unwrap(), 2, "the expired session is deleted");
        store.delete(&record.id).await.unwrap();
        assert!(store.load(&record.id).await.unwrap().is_none());
        t.finish().await;
    }
}

#[tokio::test]
async fn migrations_run_once_however_many_processes_start_together() {
    for t in engines("migrations_run_once_however_many_processes_start_together").await {
        let opens = (0..3).map(|_| {
            let location = t.location.clone();
            tokio::spawn(async move { db::connect(&location, &PoolSettings::default()).await.map(|d| d.pool) })
        });
        for opened in futures_util::future::join_all(opens).await {
            let pool = opened.unwrap().unwrap_or_else(|e| panic!("{:?}: {e}", t.engine()));
            db::check_ready(&pool, None, 1_000).await.unwrap();
            pool.close().await;
        }
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(t.pool()).await.unwrap();
        // Each engine's every migration, once.
        let folder = match t.engine() {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        };
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(folder);
        let expected = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|f| f.as_ref().is_ok_and(|f| f.path().extension() == Some("sql".as_ref())))
            .count();
        assert_eq!(applied, expected as i64, "{:?}", t.engine());
        t.finish().await;
    }
}

#[tokio::test]
async fn a_second_factors_step_and_recovery_codes_are_used_once_under_concurrent_requests() {
    for t in engines("a_second_factors_step_and_recovery_codes_are_used_once_under_concurrent_requests").await {
        let pool = t.pool().clone();
        let id = users::add(&pool, &user("ann@example.com", Role::Manager), None, 1).await.unwrap();
        let generation = users::get(&pool, id).await.unwrap().unwrap().session_generation;
        assert!(two_factor::enrolled(&pool, id).await.unwrap().is_none());
        assert!(!users::signed_in(&pool, id).await.unwrap().unwrap().two_factor);

        let hashes = vec!["a".repeat(64), "b".repeat(64)];
        let after_enrol = two_factor::enrol(&pool, id, "sealed", 100, &hashes).await.unwrap();
        assert_eq!(after_enrol, Some(generation + 1), "{:?}: other sessions end", t.engine());
        let enrolled = two_factor::enrolled(&pool, id).await.unwrap().expect("enrolled");
        assert_eq!((enrolled.secret.as_str(), enrolled.last_step), ("sealed", Some(100)));
        assert!(!format!("{enrolled:?}").contains("sealed"), "Debug hides the secret");
        assert!(users::signed_in(&pool, id).await.unwrap().unwrap().two_factor);
        assert_eq!(two_factor::enrolled_ids(&pool).await.unwrap(), [id]);

        assert!(!two_factor::accept_step(&pool, id, 100).await.unwrap(), "{:?}: the set-up's step", t.engine());
        let (first, second) =
            tokio::join!(two_factor::accept_step(&pool, id, 101), two_factor::accept_step(&pool, id, 101));
        assert_eq!([first.unwrap(), second.unwrap()].iter().filter(|ok| **ok).count(), 1, "{:?}", t.engine());
        assert!(!two_factor::accept_step(&pool, id, 99).await.unwrap());

        let (first, second) = tokio::join!(
            two_factor::use_recovery_code(&pool, id, &hashes[0], 5),
            two_factor::use_recovery_code(&pool, id, &hashes[0], 5)
        );
        assert_eq!([first.unwrap(), second.unwrap()].iter().filter(|ok| **ok).count(), 1, "{:?}", t.engine());
        assert!(!two_factor::use_recovery_code(&pool, id, &"c".repeat(64), 5).await.unwrap());
        assert_eq!(two_factor::recovery_codes_left(&pool, id).await.unwrap(), 1);

        assert!(two_factor::disable(&pool, id).await.unwrap());
        assert_eq!(users::get(&pool, id).await.unwrap().unwrap().session_generation, generation + 1);
        assert_eq!(two_factor::recovery_codes_left(&pool, id).await.unwrap(), 0);
        assert!(!two_factor::reset(&pool, id).await.unwrap(), "nothing to reset");
        two_factor::enrol(&pool, id, "sealed again", 7, &hashes).await.unwrap();
        assert!(two_factor::reset(&pool, id).await.unwrap());
        assert_eq!(
            users::get(&pool, id).await.unwrap().unwrap().session_generation,
            generation + 3,
            "{:?}: the set-up and the reset each end the sessions",
            t.engine()
        );
        assert!(two_factor::enrolled(&pool, id).await.unwrap().is_none());

        two_factor::enrol(&pool, id, "sealed", 7, &hashes).await.unwrap();
        assert_eq!(users::remove(&pool, id).await.unwrap(), Change::Done);
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes").fetch_one(&pool).await.unwrap();
        assert_eq!(left, 0, "{:?}: a removed user's recovery codes go with them", t.engine());
        t.finish().await;
    }
}

#[tokio::test]
async fn old_work_is_purged_and_audited_and_the_audit_log_only_by_its_own_retention() {
    use multi_account::db::retention::{self, Cutoffs};
    const DAY: i64 = 24 * 3600;
    const NOW: i64 = 2_000_000_000;
    for t in engines("old_work_is_purged_and_audited_and_the_audit_log_only_by_its_own_retention").await {
        let pool = t.pool();
        let entry = |details| audit::Entry {
            actor: "a@example.com",
            ip: "10.0.0.1",
            action: audit::AuditAction::Login,
            target: "a@example.com",
            result: audit::Outcome::Ok,
            details,
        };
        audit::record(pool, NOW - 400 * DAY, entry("old")).await.unwrap();
        audit::record(pool, NOW - DAY, entry("recent")).await.unwrap();
        let new = NewImport {
            parent_id: 6464,
            user_id: 1,
            actor: "a@example.com",
            ip: "10.0.0.1",
            file_name: "f.csv",
            columns: "",
        };
        let stale_preview = imports::create(pool, &new, &[row(2, RowState::Pending)], NOW - 2 * DAY).await.unwrap();
        let fresh_preview = imports::create(pool, &new, &[row(2, RowState::Pending)], NOW - 3600).await.unwrap();
        let old_done =
            imports::create(pool, &new, &[row(2, RowState::Pending), row(3, RowState::Pending)], NOW - 200 * DAY)
                .await
                .unwrap();
        let new_done = imports::create(pool, &new, &[row(2, RowState::Pending)], NOW - 10 * DAY).await.unwrap();
        for (id, at) in [(old_done, NOW - 100 * DAY), (new_done, NOW - 10 * DAY)] {
            sqlx::query("UPDATE imports SET state = 'done', finished_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(pool)
                .await
                .unwrap();
        }
        let active =
            users::add(pool, &user("active@example.com", Role::PublisherAdministrator), None, 1).await.unwrap();
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(NOW - DAY)
            .bind(active)
            .execute(pool)
            .await
            .unwrap();
        bulk::add_all(pool, active, 6464, &[10, 11], 10).await.unwrap().unwrap();
        bulk::add_all(pool, 999, 6464, &[10], 10).await.unwrap().unwrap();
        let job_of =
            NewJob { parent_id: 6464, user_id: active, actor: "a@example.com", ip: "10.0.0.1", action: "block" };
        let Started::Job(old_job) = bulk::job_from_selection(pool, &job_of, None, NOW - 100 * DAY).await.unwrap()
        else {
            panic!("a job")
        };
        bulk::finish(pool, old_job, NOW - 100 * DAY).await.unwrap();
        bulk::add_all(pool, active, 6464, &[12], 10).await.unwrap().unwrap();

        let cutoffs = Cutoffs { previews: NOW - DAY, work: NOW - 90 * DAY, audit: None };
        let purged = retention::purge(pool, NOW, cutoffs).await.unwrap();
        assert_eq!(
            purged,
            retention::Purged { previews: 1, imports: 1, bulk_jobs: 1, creations: 0, selections: 1, audit_entries: 0 },
            "{:?}",
            t.engine()
        );
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM imports ORDER BY id").fetch_all(pool).await.unwrap();
        assert_eq!(ids, vec![fresh_preview, new_done]);
        assert!(imports::rows(pool, old_done).await.unwrap().is_empty(), "rows go with their import");
        assert!(!ids.contains(&stale_preview));
        assert!(bulk::job(pool, old_job).await.unwrap().is_none());
        let items: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bulk_items").fetch_one(pool).await.unwrap();
        assert_eq!(items, 0, "the job's accounts went with it");
        assert_eq!(bulk::selection(pool, active, 6464).await.unwrap(), vec![12], "a signed-in user's selection stays");
        assert_eq!(bulk::selection_count(pool, 999, 6464).await.unwrap(), 0, "a user long gone loses theirs");
        let logged: Vec<(String, String)> =
            sqlx::query_as("SELECT action, details FROM audit_log ORDER BY id").fetch_all(pool).await.unwrap();
        assert_eq!(logged.len(), 3, "kept for ever by default, and the purge audited: {logged:?}");
        assert_eq!(logged[2].0, "retention.purge");
        assert!(logged[2].1.starts_with("Removed 1 import previews never started; 1 finished imports"), "{logged:?}");

        // Nothing more to remove: no entry.
        assert!(retention::purge(pool, NOW, cutoffs).await.unwrap().is_empty());
        // With a retention of its own, the audit log loses its old entries, and says so.
        let purged = retention::purge(pool, NOW, Cutoffs { audit: Some(NOW - 365 * DAY), ..cutoffs }).await.unwrap();
        assert_eq!(purged.audit_entries, 1);
        let details: Vec<String> =
            sqlx::query_scalar("SELECT details FROM audit_log ORDER BY id").fetch_all(pool).await.unwrap();
        assert_eq!(details[0], "recent");
        assert!(details.last().unwrap().starts_with("Removed 1 audit entries from before "), "{details:?}");
        // Outside a purge the log stays append-only.
        assert!(sqlx::query("DELETE FROM audit_log").execute(pool).await.is_err(), "{:?}", t.engine());
        t.finish().await;
    }
}
