//! `multi-account bench --scenario console`: the console as users meet it, measured from outside. The emulator and
//! the console run as processes of their own (this binary's `emulator` and `serve`), so the console's CPU time and
//! memory are read from its own `/proc` entry, untouched by the load this process makes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use kaltura::{ClientConfig, KalturaClient, Pager, PartnerFilter, Secret};

use crate::accounts;
use crate::usage::{Interval, Metric, Preset, Search, Sort, SortColumn, Usage};

pub(super) const SECRET: &str = "bench-admin-secret";
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "a bench password that is long";

#[derive(clap::Args, Debug, Clone)]
pub struct ConsoleArgs {
    /// Milliseconds the emulator waits before every answer (a real Kaltura is tens of ms away).
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
    /// Page views timed for the page and bare-multirequest figures.
    #[arg(long, default_value_t = 200)]
    pub views: u32,
    /// Concurrent sign-ins, and concurrent browsing sessions, for the memory figures.
    #[arg(long, default_value_t = 128)]
    pub concurrency: u32,
    /// Browsing sessions for the steady memory figure.
    #[arg(long, default_value_t = 64)]
    pub sessions: u32,
    /// Seconds to wait after the sign-ins before reading memory again.
    #[arg(long, default_value_t = 60)]
    pub settle_secs: u64,
    /// Children of the large organisation (the CSV figure compares it with a tenth of it).
    #[arg(long, default_value_t = 100_000)]
    pub csv_children: u32,
    /// Children of the organisation whose Usage page is timed.
    #[arg(long, default_value_t = 2_000)]
    pub usage_children: u32,
    /// Parents the console serves in the parents scenario.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=100))]
    pub parents: u32,
    /// Children of each of those parents.
    #[arg(long, default_value_t = 2_000)]
    pub parent_children: u32,
}

/// A scratch directory, removed when dropped.
pub(super) struct Scratch(pub(super) std::path::PathBuf);

impl Scratch {
    pub(super) fn new() -> anyhow::Result<Scratch> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
        let dir = std::env::temp_dir().join(format!("multi-account-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process that is killed when dropped.
pub(super) struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An emulator process and a console process in front of it, with a signed-in HTTP client.
struct Stack {
    _emulator: Process,
    console: Process,
    _dir: Scratch,
    url: String,
    emulator_url: String,
    parent_id: i64,
}

impl Stack {
    async fn start(children: u32, latency_ms: u64) -> anyhow::Result<Stack> {
        Ok(Stack::start_parents(children, 1, latency_ms).await?.0)
    }

    /// [`Stack::start`] with `parents` organisations of `children` children each, the console serving all of them
    /// (named in its settings file as `[[parents]]`): the stack, and the other parents' ids.
    async fn start_parents(children: u32, parents: u32, latency_ms: u64) -> anyhow::Result<(Stack, Vec<i64>)> {
        let exe = std::env::current_exe()?;
        let dir = Scratch::new()?;
        let seed = ["--seed", "empty", "--children", &children.to_string(), "--parents", &parents.to_string()];
        let (emulator, emulator_url, parent_id, others) = spawn_emulator(&dir, &seed, latency_ms)?;
        let config = dir.0.join("console.toml");
        let entries: String = std::iter::once(parent_id)
            .chain(others.iter().copied())
            .map(|id| format!("[[parents]]\npartner-id = {id}\nadmin-secret = {SECRET:?}\n"))
            .collect();
        std::fs::write(&config, entries)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let console = Process(
            Command::new(&exe)
                .args(["serve", "--config"])
                .arg(&config)
                .env("MA_LISTEN", format!("127.0.0.1:{port}"))
                .env("MA_DATABASE_URL", format!("sqlite://{}", dir.0.join("console.db").display()))
                .env("KALTURA_SERVICE_URL", &emulator_url)
                .env("MA_BOOTSTRAP_ADMIN_EMAIL", EMAIL)
                .env("MA_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{url}/healthz")).await.is_err() {
            anyhow::ensure!(Instant::now() < deadline, "the console did not start within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok((Stack { _emulator: emulator, console, _dir: dir, url, emulator_url, parent_id }, others))
    }

    /// A client carrying a fresh session's cookie.
    async fn signed_in(&self) -> anyhow::Result<reqwest::Client> {
        let origin: reqwest::header::HeaderValue = self.url.parse()?;
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let res = client
            .post(format!("{}/login", self.url))
            .header(reqwest::header::ORIGIN, origin.clone())
            .form(&[("email", EMAIL), ("password", PASSWORD)])
            .send()
            .await?;
        anyhow::ensure!(res.status() == reqwest::StatusCode::SEE_OTHER, "signing in answered {}", res.status());
        let cookie = res
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|c| c.starts_with("ma_session="))
            .ok_or_else(|| anyhow::anyhow!("signing in set no session cookie"))?
            .parse()?;
        let headers = [(reqwest::header::ORIGIN, origin), (reqwest::header::COOKIE, cookie)].into_iter().collect();
        Ok(reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).default_headers(headers).build()?)
    }

    fn pid(&self) -> u32 {
        self.console.0.id()
    }
}

/// An emulator process with `args` (its seed), answering after `latency_ms`: it, its URL and its parent's id.
pub(super) fn start_emulator(dir: &Scratch, args: &[&str], latency_ms: u64) -> anyhow::Result<(Process, String, i64)> {
    let (process, url, parent_id, _) = spawn_emulator(dir, args, latency_ms)?;
    Ok((process, url, parent_id))
}

/// [`start_emulator`], and the ids of the other parents it holds.
fn spawn_emulator(dir: &Scratch, args: &[&str], latency_ms: u64) -> anyhow::Result<(Process, String, i64, Vec<i64>)> {
    let mut emulator = Process(
        Command::new(std::env::current_exe()?)
            .args(["emulator", "--listen", "127.0.0.1:0", "--admin-secret", SECRET])
            .args(args)
            .args(["--latency-ms", &latency_ms.to_string()])
            .env("EMULATOR_DATA", dir.0.join("emulator.db"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let (mut emulator_url, mut parent_id, mut others) = (String::new(), 0, Vec::new());
    let out = emulator.0.stdout.take().ok_or_else(|| anyhow::anyhow!("no emulator output"))?;
    for line in BufReader::new(out).lines() {
        let line = line?;
        if let Some(url) = line.trim().strip_prefix("service URL:") {
            emulator_url = url.trim().to_owned();
        } else if let Some(id) = line.trim().strip_prefix("parent partner id:") {
            parent_id = id.trim().parse()?;
        } else if let Some(ids) = line.trim().strip_prefix("other parents:") {
            others = ids.split(',').map(|id| id.trim().parse()).collect::<Result<_, _>>()?;
        } else if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    anyhow::ensure!(!emulator_url.is_empty() && parent_id > 0, "the emulator did not start");
    Ok((emulator, emulator_url, parent_id, others))
}

/// The console's CPU time so far (user and system), from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf only reads a configuration value.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100).max(1);
    Ok(Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / per_second as f64))
}

/// Resident memory now and at its peak since the last reset, in MB.
fn memory(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
    };
    Ok((kb("VmRSS:").unwrap_or(0.0) / 1024.0, kb("VmHWM:").unwrap_or(0.0) / 1024.0))
}

/// Starts a new peak-memory measurement.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn p50(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

async fn time_csv(stack: &Stack) -> anyhow::Result<(Duration, usize, f64)> {
    let client = stack.signed_in().await?;
    reset_peak(stack.pid());
    let started = Instant::now();
    let mut res =
        client.get(format!("{}/parents/{}/accounts.csv?status=1,2,3", stack.url, stack.parent_id)).send().await?;
    let mut lines = 0;
    while let Some(chunk) = res.chunk().await? {
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    Ok((started.elapsed(), lines.saturating_sub(1), memory(stack.pid())?.1))
}

/// The Usage page (last 30 days, 25 rows) against the one multirequest it is made of, read by the same service:
/// each round's p50 of both, [`ROUNDS`] rounds.
async fn time_usage(args: &ConsoleArgs) -> anyhow::Result<Vec<(Duration, Duration)>> {
    let stack = Stack::start(args.usage_children, args.latency_ms).await?;
    let client = stack.signed_in().await?;
    let kaltura = KalturaClient::new(ClientConfig::new(&stack.emulator_url, stack.parent_id, Secret::new(SECRET))?)?;
    let usage = Usage::new(kaltura);
    let period = Preset::Last30Days.period(usage.today());
    anyhow::ensure!(period.interval == Interval::Day, "the last 30 days are reported by day");
    let page = format!("{}/parents/{}/usage", stack.url, stack.parent_id);
    let sort = Sort { column: SortColumn::Metric(Metric::Bandwidth), descending: true };
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let (mut bare, mut views) = (Vec::new(), Vec::new());
        for i in 0..=args.views {
            let started = Instant::now();
            let view = usage.view(&period, &Search::All, sort, Pager::new(25, 1), Metric::Bandwidth).await?;
            anyhow::ensure!(view.granted && !view.rows.is_empty(), "the bench parent has usage figures");
            if i > 0 {
                bare.push(started.elapsed());
            }
        }
        for i in 0..=args.views {
            let started = Instant::now();
            let body = client.get(&page).send().await?.text().await?;
            anyhow::ensure!(body.contains("id=\"usage-"), "the Usage page did not list accounts");
            if i > 0 {
                views.push(started.elapsed());
            }
        }
        rounds.push((p50(views), p50(bare)));
    }
    Ok(rounds)
}

/// Each figure is measured this many times, and its median reported: one noisy round does not decide.
const ROUNDS: usize = 3;

/// The median of a few measurements, and all of them (to show how far apart they were).
fn median(mut xs: Vec<f64>) -> (f64, Vec<f64>) {
    let all = xs.clone();
    xs.sort_by(f64::total_cmp);
    (xs.get(xs.len() / 2).copied().unwrap_or_default(), all)
}

fn spread(all: &[f64], unit: &str) -> String {
    all.iter().map(|x| format!("{x:.2}{unit}")).collect::<Vec<_>>().join(", ")
}

pub async fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.views > 0 && args.concurrency > 0 && args.sessions > 0, "counts must be at least 1");
    println!(
        "Console over loopback: the emulator and the console as processes of their own, {} ms emulator latency",
        args.latency_ms
    );
    let stack = Stack::start(args.csv_children, args.latency_ms).await?;
    let client = stack.signed_in().await?;
    let page = format!("{}/parents/{}/accounts?size=50", stack.url, stack.parent_id);

    // The Accounts page against the one multirequest it is made of, and the console's CPU per view: each round
    // times the bare multirequest, then the page.
    let kaltura = KalturaClient::new(ClientConfig::new(&stack.emulator_url, stack.parent_id, Secret::new(SECRET))?)?;
    let filter = PartnerFilter::in_use();
    client.get(&page).send().await?.text().await?;
    let (mut page_ratios, mut cpus, mut page_times, mut bare_times) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (mut bare, mut views) = (Vec::new(), Vec::new());
        for i in 0..=args.views {
            let started = Instant::now();
            accounts::view_page(&kaltura, &filter, Pager::new(50, 1)).await?;
            if i > 0 {
                bare.push(started.elapsed());
            }
        }
        let cpu_before = cpu_time(stack.pid())?;
        for _ in 0..args.views {
            let started = Instant::now();
            let body = client.get(&page).send().await?.text().await?;
            anyhow::ensure!(body.contains("account-"), "the Accounts page did not list accounts");
            views.push(started.elapsed());
        }
        cpus.push(((cpu_time(stack.pid())? - cpu_before) / args.views).as_secs_f64() * 1000.0);
        let (page_p50, bare_p50) = (p50(views), p50(bare));
        page_ratios.push(page_p50.as_secs_f64() / bare_p50.as_secs_f64().max(1e-9));
        page_times.push(page_p50.as_secs_f64() * 1000.0);
        bare_times.push(bare_p50.as_secs_f64() * 1000.0);
    }

    // Memory: a burst of sign-ins, a minute later, and many sessions browsing.
    let (idle_rss, _) = memory(stack.pid())?;
    reset_peak(stack.pid());
    let sign_ins = (0..args.concurrency).map(|_| stack.signed_in());
    let signed: Vec<_> = join_all(sign_ins).await;
    let failed = signed.iter().filter(|r| r.is_err()).count();
    let (_, sign_in_peak) = memory(stack.pid())?;
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let (after_rss, _) = memory(stack.pid())?;
    let browsers: Vec<reqwest::Client> =
        signed.into_iter().filter_map(Result::ok).take(args.sessions as usize).collect();
    reset_peak(stack.pid());
    let browsing = browsers.iter().map(|c| {
        let page = page.clone();
        async move {
            for _ in 0..5 {
                c.get(&page).send().await?.text().await?;
            }
            Ok::<_, reqwest::Error>(())
        }
    });
    join_all(browsing).await.into_iter().collect::<Result<Vec<_>, _>>()?;
    let (_, browsing_peak) = memory(stack.pid())?;

    // The CSV of the large organisation against a tenth of it, both stacks up, timed in turn.
    let small = Stack::start(args.csv_children / 10, args.latency_ms).await?;
    let (mut csv_ratios, mut large_times, mut small_times) = (Vec::new(), Vec::new(), Vec::new());
    let (mut large_rows, mut small_rows, mut large_peak, mut small_peak) = (0, 0, 0.0_f64, 0.0_f64);
    for _ in 0..ROUNDS {
        let (large_time, rows, peak) = time_csv(&stack).await?;
        (large_rows, large_peak) = (rows, large_peak.max(peak));
        let (small_time, rows, peak) = time_csv(&small).await?;
        (small_rows, small_peak) = (rows, small_peak.max(peak));
        csv_ratios.push(large_time.as_secs_f64() / small_time.as_secs_f64().max(1e-9));
        large_times.push(large_time.as_secs_f64());
        small_times.push(small_time.as_secs_f64());
    }
    drop(stack);
    drop(small);
    let usage_rounds = time_usage(&args).await?;
    let usage_ratios: Vec<f64> =
        usage_rounds.iter().map(|(p, b)| p.as_secs_f64() / b.as_secs_f64().max(1e-9)).collect();

    println!("Medians of {ROUNDS} rounds (each round's figures in brackets)");
    println!("{:<44} {:>12} {:>12}", "figure", "measured", "goal");
    let (page_ms, all) = median(page_times);
    println!("{:<44} {:>9.2} ms {:>12}   [{}]", "Accounts page p50 (50 rows)", page_ms, "", spread(&all, " ms"));
    let (bare_ms, all) = median(bare_times);
    println!("{:<44} {:>9.2} ms {:>12}   [{}]", "bare multirequest p50", bare_ms, "", spread(&all, " ms"));
    let (r, all) = median(page_ratios);
    println!("{:<44} {:>11.3}x {:>12}   [{}]", "page / bare", r, "<= 1.02x", spread(&all, "x"));
    let (cpu, all) = median(cpus);
    println!("{:<44} {:>9.2} ms {:>12}   [{}]", "console CPU per view", cpu, "<= 1.2 ms", spread(&all, " ms"));
    println!("{:<44} {:>9.1} MB {:>12}", "resident memory, idle", idle_rss, "");
    println!(
        "{:<44} {:>9.1} MB {:>12}",
        format!("peak during {} concurrent sign-ins", args.concurrency),
        sign_in_peak,
        "<= 96 MB"
    );
    println!("{:<44} {:>9.1} MB {:>12}", format!("{} s after them", args.settle_secs), after_rss, "<= 64 MB");
    println!(
        "{:<44} {:>9.1} MB {:>12}",
        format!("peak, {} sessions browsing", browsers.len()),
        browsing_peak,
        "<= 50 MB"
    );
    let (small_s, all) = median(small_times);
    println!(
        "{:<44} {:>10.2} s {:>12}   [{}]",
        format!("CSV of {small_rows} accounts"),
        small_s,
        "",
        spread(&all, " s")
    );
    let (large_s, all) = median(large_times);
    println!(
        "{:<44} {:>10.2} s {:>12}   [{}]",
        format!("CSV of {large_rows} accounts"),
        large_s,
        "",
        spread(&all, " s")
    );
    let (r, all) = median(csv_ratios);
    println!("{:<44} {:>11.2}x {:>12}   [{}]", "CSV time ratio", r, "<= 11x", spread(&all, "x"));
    println!("{:<44} {:>5.1} / {:>4.1} MB {:>9}", "CSV peak memory, small / large", small_peak, large_peak, "flat");
    let (r, all) = median(usage_ratios);
    println!(
        "{:<44} {:>11.3}x {:>12}   [{}]",
        format!("Usage page / bare ({} children)", args.usage_children),
        r,
        "<= 1.10x",
        spread(&all, "x")
    );
    if failed > 0 {
        println!("({failed} of the {} sign-ins were turned away as too many at once)", args.concurrency);
    }
    Ok(())
}

/// `bench --scenario parents`: the Parents overview of several parents at once against one bare multirequest of one
/// parent's summary (the parents are asked concurrently, so the page should cost about one).
pub async fn run_parents(args: &ConsoleArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.views > 0, "counts must be at least 1");
    println!(
        "Parents overview: {} parents of {} children each, {} ms emulator latency",
        args.parents, args.parent_children, args.latency_ms
    );
    let (stack, others) = Stack::start_parents(args.parent_children, args.parents, args.latency_ms).await?;
    anyhow::ensure!(others.len() + 1 == args.parents as usize, "the emulator holds {} parents", others.len() + 1);
    let client = stack.signed_in().await?;
    let kaltura = KalturaClient::new(ClientConfig::new(&stack.emulator_url, stack.parent_id, Secret::new(SECRET))?)?;
    let usage = Usage::new(kaltura.clone());
    let page = format!("{}/parents", stack.url);
    let rows = format!("id=\"parent-{}\"", others.last().copied().unwrap_or(stack.parent_id));
    let mut ratios = Vec::new();
    for _ in 0..ROUNDS {
        let (mut bare, mut views) = (Vec::new(), Vec::new());
        for i in 0..=args.views {
            let mut mr = kaltura::MultiRequest::new();
            let calls = accounts::summary_calls(&mut mr);
            let month = usage.month_calls(&mut mr);
            let started = Instant::now();
            let r = kaltura.multirequest(&mr).await?;
            accounts::read_summary(&r, &calls)?;
            Usage::read_month(&r, &month)?;
            if i > 0 {
                bare.push(started.elapsed());
            }
        }
        for i in 0..=args.views {
            let started = Instant::now();
            let body = client.get(&page).send().await?.text().await?;
            anyhow::ensure!(body.contains(&rows), "the overview did not list every parent");
            if i > 0 {
                views.push(started.elapsed());
            }
        }
        let (page_p50, bare_p50) = (p50(views), p50(bare));
        println!("  round: overview p50 {:.1} ms, one parent's multirequest p50 {:.1} ms", ms(page_p50), ms(bare_p50));
        ratios.push(page_p50.as_secs_f64() / bare_p50.as_secs_f64().max(1e-9));
    }
    let (ratio, all) = median(ratios);
    println!("Medians of {ROUNDS} rounds (each round's figures in brackets)");
    println!("{:<44} {:>9.3}x {:>12}   [{}]", "overview / one bare multirequest", ratio, "<= 1.10x", spread(&all, "x"));
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
