//! The Kaltura API emulator: a local server that behaves on the wire like Kaltura's `api_v3` for everything the
//! console uses, plus a stand-in Rich Media CMS page and a small control endpoint under `/emulator/`.

mod cli;
mod kmc;
mod params;
mod reports;
mod seed;
mod services;
mod store;
mod wire;

pub use cli::{EmulatorArgs, run as run_cli, shutdown_signal};

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use params::Params;
use store::Store;
use wire::{ApiError, Format, V};

/// What the emulator starts with when its database is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seed {
    /// The organisation of the administrator's guide: parent 6464 "Debbie Techpubs" and its accounts.
    Demo,
    /// A parent account with no children yet.
    Empty,
    /// A TOML or JSON file of partners.
    File(PathBuf),
}

impl std::str::FromStr for Seed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "demo" => Seed::Demo,
            "empty" => Seed::Empty,
            "" => return Err("expected demo, empty or the path of a seed file".into()),
            path => Seed::File(PathBuf::from(path)),
        })
    }
}

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub listen: SocketAddr,
    /// A SQLite file (kept across restarts) or `:memory:`.
    pub data: String,
    pub seed: Seed,
    /// Synthetic children added to the parent when seeding.
    pub children: u32,
    /// Multi-account parents seeded (the seed's own and synthetic ones, each with `children` children of its own).
    pub parents: u32,
    /// The parent's admin secret; generated when seeding if not given. With synthetic parents, theirs too.
    pub admin_secret: Option<String>,
    /// Delay before every answer, to imitate a real network.
    pub latency_ms: u64,
}

impl EmulatorConfig {
    /// Loopback on a free port, in-memory state, demo seed, no latency.
    pub fn for_tests() -> EmulatorConfig {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data: ":memory:".into(),
            seed: Seed::Demo,
            children: 0,
            parents: 1,
            admin_secret: None,
            latency_ms: 0,
        }
    }
}

/// Request counts for tests and benchmarks: HTTP requests to api_v3 and calls per `service.action`.
#[derive(Default)]
struct Stats {
    requests: u64,
    calls: BTreeMap<String, u64>,
}

struct Emu {
    store: Store,
    stats: Mutex<Stats>,
    latency_ms: AtomicU64,
    /// Registrations run one at a time, as id allocation and the unique admin email need.
    register_lock: tokio::sync::Mutex<()>,
    /// Failures a test injected: a call about one id, and the error it answers.
    refusals: Mutex<Vec<Refusal>>,
    /// API calls being answered now (each runs to its end, even when its caller has hung up).
    in_flight: AtomicU64,
    /// Seconds a test moved the emulator's clock (sessions expire by it), so no test waits for one to expire.
    clock_offset: AtomicI64,
}

impl Emu {
    fn now(&self) -> i64 {
        unix_now() + self.clock_offset.load(Ordering::SeqCst)
    }
}

/// `call` (`service.action`) with `id` answers `code` with `message`.
struct Refusal {
    call: String,
    id: i64,
    code: &'static str,
    message: String,
}

impl Emu {
    fn count(&self, http_request: bool, call: &str) {
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        if http_request {
            s.requests += 1;
        }
        if !call.is_empty() {
            *s.calls.entry(call.to_string()).or_default() += 1;
        }
    }

    /// The failure a test injected for this call, if any.
    fn refused(&self, name: &str, params: &Params) -> Option<ApiError> {
        let id = params.int("id")?;
        let refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        refusals.iter().find(|r| r.call == name && r.id == id).map(|r| ApiError::with_message(r.code, &r.message))
    }

    fn stats_json(&self) -> serde_json::Value {
        let s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::json!({ "requests": s.requests, "calls": s.calls })
    }
}

/// A running emulator: where it listens, and the parent account it serves.
pub struct RunningEmulator {
    pub url: String,
    pub addr: SocketAddr,
    pub parent_id: i64,
    pub admin_secret: String,
    emu: Arc<Emu>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningEmulator {
    pub fn set_latency_ms(&self, ms: u64) {
        self.emu.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// Waits until no API call is being answered (one whose caller gave up included), for at most 30 s: what a
    /// test reads afterwards is what those calls did.
    pub async fn settled(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.emu.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Moves the emulator's clock forward by `secs`: the sessions it checks expire as if that time had passed.
    pub fn advance_clock(&self, secs: i64) {
        self.emu.clock_offset.fetch_add(secs, Ordering::SeqCst);
    }

    /// `{"requests": N, "calls": {"partner.list": n, …}}`.
    pub fn stats(&self) -> serde_json::Value {
        self.emu.stats_json()
    }

    /// From now on `call` (`"varconsole_varconsole.updateStatus"`) with the argument `id` answers the Kaltura error
    /// `code` with `message`, alone or inside a multirequest. For tests: it is no part of the HTTP surface.
    pub fn refuse(&self, call: &str, id: i64, code: &'static str, message: &str) {
        let refusal = Refusal { call: call.to_string(), id, code, message: message.to_string() };
        self.emu.refusals.lock().unwrap_or_else(|e| e.into_inner()).push(refusal);
    }

    pub fn reset_stats(&self) {
        *self.emu.stats.lock().unwrap_or_else(|e| e.into_inner()) = Stats::default();
    }

    /// Stops accepting, finishes requests in flight, and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        self.emu.store.pool.close().await;
    }

    /// The admin secret of another parent partner of the emulator's organisations (the demo's second one, 7001),
    /// for a console that serves several parents.
    pub async fn admin_secret_of(&self, partner_id: i64) -> anyhow::Result<Option<String>> {
        Ok(self.emu.store.get(partner_id).await?.filter(|p| p.partner_parent_id.is_none()).map(|p| p.admin_secret))
    }

    /// The other multi-account parents the emulator holds (VAR or GROUP, of no parent themselves), by id, with their
    /// admin secrets: what a console serving every organisation of the demo is given.
    pub async fn other_parents(&self) -> anyhow::Result<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, admin_secret FROM partner WHERE partner_parent_id IS NULL AND partner_group_type IN (2, 3) \
             AND id != ? ORDER BY id",
        )
        .bind(self.parent_id)
        .fetch_all(&self.emu.store.pool)
        .await?)
    }

    /// Resolves when the server ends (for the `emulator` command, which runs until Ctrl-C or SIGTERM).
    pub async fn wait(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        self.stop().await;
    }
}

/// Opens the store, seeds it if empty, binds `cfg.listen` and serves in the background.
pub async fn start(cfg: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
    let store = Store::open(&cfg.data).await?;
    let seed_file = match &cfg.seed {
        Seed::Demo => seed::demo(),
        Seed::Empty => empty_seed(),
        Seed::File(path) => seed::SeedFile::load(path)?,
    };
    let now = unix_now();
    if store.is_empty().await? {
        seed::apply(&store, &seed_file, cfg.children, cfg.parents.saturating_sub(1), now).await?;
    }
    let parent_id = match seed_file.parent_id() {
        Some(id) if store.get(id).await?.is_some() => id,
        _ => sqlx::query_scalar("SELECT id FROM partner WHERE partner_parent_id IS NULL ORDER BY id LIMIT 1")
            .fetch_optional(&store.pool)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the emulator database {} holds no parent partner", cfg.data))?,
    };
    if let Some(secret) = &cfg.admin_secret {
        anyhow::ensure!(!secret.trim().is_empty(), "--admin-secret must not be empty");
        store.set_admin_secret(parent_id, secret).await?;
    }
    if let Some(secret) = cfg.admin_secret.as_deref().filter(|_| cfg.parents > 1) {
        let others: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM partner WHERE partner_parent_id IS NULL AND partner_group_type IN (2, 3) AND id != ?",
        )
        .bind(parent_id)
        .fetch_all(&store.pool)
        .await?;
        for other in others {
            store.set_admin_secret(other, secret).await?;
        }
    }
    let admin_secret = store
        .get(parent_id)
        .await?
        .map(|p| p.admin_secret)
        .ok_or_else(|| anyhow::anyhow!("parent partner {parent_id} vanished"))?;

    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let emu = Arc::new(Emu {
        store,
        stats: Mutex::default(),
        latency_ms: AtomicU64::new(cfg.latency_ms),
        register_lock: tokio::sync::Mutex::new(()),
        refusals: Mutex::default(),
        clock_offset: AtomicI64::new(0),
        in_flight: AtomicU64::new(0),
    });
    let app = Router::new().fallback(handle).with_state(emu.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "emulator server stopped");
        }
    });
    Ok(RunningEmulator { url: format!("http://{addr}"), addr, parent_id, admin_secret, emu, shutdown: Some(tx), task })
}

fn empty_seed() -> seed::SeedFile {
    let mut s = seed::demo();
    s.partners.retain(|p| p.id == seed::DEMO_PARENT_ID);
    let parent = &mut s.partners[0];
    parent.name = "My Organisation".into();
    parent.website = None;
    s
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Bodies above this are refused with a Kaltura error rather than read.
const MAX_BODY: usize = 16 * 1024 * 1024;

async fn handle(State(emu): State<Arc<Emu>>, req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/').to_string();
    if let Some(rest) = path.strip_prefix("emulator/") {
        return control(&emu, req.method(), rest, req.uri().query().unwrap_or(""));
    }
    if path == "api_v3" || path.starts_with("api_v3/") {
        // A call runs to the end even if the client hangs up, as on the real server: a partner.register whose
        // caller timed out may still create the account.
        emu.in_flight.fetch_add(1, Ordering::SeqCst);
        let task = tokio::spawn(async move {
            delay(&emu).await;
            let answer = api(&emu, req, &path).await;
            emu.in_flight.fetch_sub(1, Ordering::SeqCst);
            answer
        });
        return task.await.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    delay(&emu).await;
    if let Some(rest) = path.strip_prefix("index.php/kmcng/actions/") {
        return kmc::page(&emu.store, rest, emu.now()).await;
    }
    if path.is_empty() {
        return (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Kaltura API emulator (multi-account). Service URL: this address; API: POST /api_v3/service/{service}/action/{action}.\n",
        )
            .into_response();
    }
    (StatusCode::NOT_FOUND, "Not found\n").into_response()
}

/// The configured network latency, before every answer.
async fn delay(emu: &Emu) {
    let latency = emu.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
}

fn control(emu: &Emu, method: &Method, rest: &str, query: &str) -> Response {
    let json = |v: serde_json::Value| ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response();
    match (method.as_str(), rest.trim_end_matches('/')) {
        ("GET", "stats") => json(emu.stats_json()),
        ("POST" | "DELETE", "stats") | ("POST", "stats/reset") => {
            *emu.stats.lock().unwrap_or_else(|e| e.into_inner()) = Stats::default();
            json(emu.stats_json())
        }
        ("GET", "latency") => json(serde_json::json!({ "latency_ms": emu.latency_ms.load(Ordering::Relaxed) })),
        ("GET", "in_flight") => json(serde_json::json!({ "in_flight": emu.in_flight.load(Ordering::SeqCst) })),
        ("POST", "latency") => {
            let ms =
                form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "ms").and_then(|(_, v)| v.parse().ok());
            match ms {
                Some(ms) => {
                    emu.latency_ms.store(ms, Ordering::Relaxed);
                    json(serde_json::json!({ "latency_ms": ms }))
                }
                None => {
                    (StatusCode::BAD_REQUEST, "expected ?ms=N with N a whole number of milliseconds\n").into_response()
                }
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            "emulator control: GET /emulator/stats, POST /emulator/stats/reset, GET|POST /emulator/latency?ms=N\n",
        )
            .into_response(),
    }
}

/// Reads every parameter of an api_v3 request: body (JSON, form or multipart), then the query string, then
/// `/key/value` path pairs, later ones overriding earlier ones.
async fn read_params(req: Request, path: &str) -> Result<Params, ApiError> {
    let query = Params::from_form(req.uri().query().unwrap_or("").as_bytes());
    let mut pairs = Params::default();
    let segments: Vec<&str> =
        path.split('/').skip(1).filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("index.php")).collect();
    for pair in segments.chunks(2) {
        let key = percent_decode(pair[0]);
        let value = pair.get(1).map(|v| percent_decode(v)).unwrap_or_default();
        pairs.insert_path(&key, serde_json::Value::String(value));
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut params = if content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        read_multipart(req).await?
    } else {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::new("INTERNAL_SERVERL_ERROR", &[]))?;
        params::parse_body(&content_type, &bytes)
    };
    params.overlay(query);
    params.overlay(pairs);
    Ok(params)
}

/// The `json` part holds the parameters; other text parts are form fields; files are accepted and ignored.
async fn read_multipart(req: Request) -> Result<Params, ApiError> {
    let bad = || ApiError::new("INTERNAL_SERVERL_ERROR", &[]);
    let mut multipart = Multipart::from_request(req, &()).await.map_err(|_| bad())?;
    let mut params = Params::default();
    while let Some(field) = multipart.next_field().await.map_err(|_| bad())? {
        let name = field.name().unwrap_or_default().to_string();
        let is_file = field.file_name().is_some();
        let bytes = field.bytes().await.map_err(|_| bad())?;
        if name == "json" {
            params.overlay(Params::from_json_body(&bytes));
        } else if !is_file {
            params.insert_path(&name, serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    Ok(params)
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

async fn api(emu: &Emu, req: Request, path: &str) -> Response {
    let started = Instant::now();
    let params = match read_params(req, path).await {
        Ok(p) => p,
        Err(e) => {
            emu.count(true, "");
            return respond(&V::Err(e), Format::Xml, None, started);
        }
    };
    let format = Format::from_param(params.text("format").as_deref());
    let callback = params.text("callback");
    let service = params.text("service").unwrap_or_default();
    let result = if service.eq_ignore_ascii_case("multirequest") {
        emu.count(true, "");
        multirequest(emu, &params).await
    } else {
        let action = params.text("action").unwrap_or_default();
        let (name, result) = call(emu, &service, &action, &params).await;
        emu.count(true, &name);
        result
    };
    respond(&result, format, callback.as_deref(), started)
}

fn respond(result: &V, format: Format, callback: Option<&str>, started: Instant) -> Response {
    let (body, content_type) = wire::encode(result, format, callback, started.elapsed().as_secs_f64());
    let mut res = Response::new(Body::from(body));
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// Runs one call; returns the name it is counted under and its result (an error inline).
async fn call(emu: &Emu, service: &str, action: &str, params: &Params) -> (String, V) {
    let (service, action) = match services::resolve(service, action) {
        Ok(names) => names,
        Err(e) => return (format!("{}.{}", service.to_lowercase(), action), V::Err(e)),
    };
    let name = format!("{service}.{action}");
    if let Some(e) = emu.refused(&name, params) {
        return (name, V::Err(e));
    }
    let _guard = if action == "register" { Some(emu.register_lock.lock().await) } else { None };
    let result = match services::Call::new(&emu.store, params, service, action, emu.now()).await {
        Ok(c) => c.run().await,
        Err(e) => Err(e),
    };
    (name, result.unwrap_or_else(V::Err))
}

/// Sub-requests under numeric keys from the lowest (0 or 1) upward, stopping at the first gap; top-level `ks`,
/// `partnerId` and `clientTag` are inherited; `{N:result:path}` refers to the N-th result (1-based).
async fn multirequest(emu: &Emu, params: &Params) -> V {
    let start = if params.object("0").is_some() { 0 } else { 1 };
    let mut results: Vec<V> = Vec::new();
    for index in start.. {
        let Some(mut sub) = params.object(&index.to_string()) else {
            break;
        };
        let (Some(service), Some(action)) = (sub.text("service"), sub.text("action")) else {
            break;
        };
        for inherited in ["ks", "partnerId", "clientTag"] {
            if sub.raw(inherited).is_none()
                && let Some(v) = params.raw(inherited)
            {
                sub.0.insert(inherited.to_string(), v.clone());
            }
        }
        sub.0.remove("format");
        sub.map_strings(&|s| substitute_references(s, &results));
        let (name, result) = call(emu, &service, &action, &sub).await;
        emu.count(false, &name);
        results.push(result);
    }
    V::Arr(results)
}

/// Replaces each `{N:result}` or `{N:result:a:b}` with that field of result N; a failed or missing one becomes "".
fn substitute_references(s: &str, results: &[V]) -> String {
    if !s.contains(":result") {
        return s.to_string();
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = &after[..close];
        let mut parts = inner.split(':');
        let index = parts.next().and_then(|n| n.parse::<usize>().ok());
        if let (Some(n), Some("result")) = (index, parts.next()) {
            let path: Vec<&str> = parts.collect();
            let value = n
                .checked_sub(1)
                .and_then(|i| results.get(i))
                .filter(|r| !matches!(r, V::Err(_)))
                .and_then(|r| r.reference(&path));
            out.push_str(&value.unwrap_or_default());
        } else {
            out.push('{');
            out.push_str(inner);
            out.push('}');
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_one_based_and_fail_to_empty() {
        let results =
            vec![V::Obj("KalturaPartner", vec![("id", V::Int(6475))]), V::Err(ApiError::new("MISSING_KS", &[]))];
        assert_eq!(substitute_references("{1:result:id}", &results), "6475");
        assert_eq!(substitute_references("id={1:result:id};", &results), "id=6475;");
        assert_eq!(substitute_references("{2:result:id}", &results), "");
        assert_eq!(substitute_references("{3:result}", &results), "");
        assert_eq!(substitute_references("{a}{", &results), "{a}{");
    }

    #[test]
    fn seeds_parse_from_arguments() {
        assert_eq!("demo".parse::<Seed>().unwrap(), Seed::Demo);
        assert_eq!("empty".parse::<Seed>().unwrap(), Seed::Empty);
        assert_eq!("x.toml".parse::<Seed>().unwrap(), Seed::File("x.toml".into()));
        assert!("".parse::<Seed>().is_err());
    }
}
