//! `multi-account bench`: figures printed side by side, each with the ratio that shows whether it scales.
//! - `--scenario emulator` (the default): the emulator at scale. It seeds a small and a large organisation, times
//!   the partner.list and partner.count calls the Accounts page makes, and prints each figure with the ratio
//!   large/small, so a missing index shows as a ratio near the size ratio instead of near 1.
//! - `--scenario console`: the console itself, see [`console`].
//! - `--scenario parents`: the Parents overview of several parents against one parent's bare multirequest.

mod console;
mod import;

use std::time::{Duration, Instant};

use kaltura::ks::{self, KsParams};
use kaltura_emulator::{self as emulator, EmulatorConfig, Seed};

/// What to measure.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Emulator,
    Console,
    Import,
    Parents,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[arg(long, value_enum, default_value = "emulator")]
    pub scenario: Scenario,
    #[command(flatten)]
    pub console: console::ConsoleArgs,
    #[command(flatten)]
    pub import: import::ImportArgs,
    /// Children of the large organisation.
    #[arg(long, default_value_t = 100_000)]
    pub children: u32,
    /// Children of the small organisation the large one is compared with.
    #[arg(long, default_value_t = 1_000)]
    pub baseline: u32,
    /// Timed repetitions of each call (after one warm-up).
    #[arg(long, default_value_t = 20)]
    pub iterations: u32,
}

/// The calls the Accounts page and its search make, as form fields for partner.list / partner.count.
/// One timed call: its label, the partner action and its form fields.
struct Case(&'static str, &'static str, &'static [(&'static str, &'static str)]);

const CASES: &[Case] = &[
    Case(
        "first page, newest first",
        "list",
        &[("filter[statusIn]", "1,2"), ("filter[orderBy]", "-createdAt"), ("pager[pageSize]", "50")],
    ),
    Case(
        "page 40, newest first",
        "list",
        &[
            ("filter[statusIn]", "1,2"),
            ("filter[orderBy]", "-createdAt"),
            ("pager[pageSize]", "50"),
            ("pager[pageIndex]", "40"),
        ],
    ),
    Case(
        "sorted by name",
        "list",
        &[("filter[statusIn]", "1,2"), ("filter[orderBy]", "+name"), ("pager[pageSize]", "50")],
    ),
    Case(
        "templates",
        "list",
        &[("filter[partnerGroupTypeEqual]", "4"), ("filter[statusIn]", "1,2"), ("pager[pageSize]", "500")],
    ),
    Case("used count", "count", &[("filter[statusIn]", "1,2")]),
    Case("by partner ids", "list", &[("filter[idIn]", "100010,100020,100030"), ("pager[pageSize]", "50")]),
    Case("by name", "list", &[("filter[nameMultiLikeOr]", "History"), ("pager[pageSize]", "50")]),
    Case(
        "free text",
        "list",
        &[("filter[partnerNameDescriptionWebsiteAdminNameAdminEmailLike]", "tanaka"), ("pager[pageSize]", "50")],
    ),
    Case("removed only", "list", &[("filter[statusIn]", "3"), ("pager[pageSize]", "50")]),
];

struct Figures {
    median: Duration,
    p95: Duration,
}

async fn measure(children: u32, iterations: u32) -> anyhow::Result<(Vec<Figures>, Duration)> {
    let seeding = Instant::now();
    let emu = emulator::start(EmulatorConfig { seed: Seed::Empty, children, ..EmulatorConfig::for_tests() }).await?;
    let seeded = seeding.elapsed();
    let http = reqwest::Client::new();
    let ks = ks::generate_v2_random(
        &emu.admin_secret,
        &KsParams {
            partner_id: emu.parent_id,
            user_id: "bench",
            session_type: 2,
            valid_until: emulator::unix_now() + 3600,
            privileges: "",
            master_partner_id: None,
        },
    );
    let mut out = Vec::new();
    for Case(_, action, fields) in CASES {
        let url = format!("{}/api_v3/service/partner/action/{action}", emu.url);
        let mut form: Vec<(&str, &str)> = vec![("ks", &ks), ("format", "1")];
        form.extend_from_slice(fields);
        let mut times = Vec::new();
        for i in 0..=iterations {
            let started = Instant::now();
            let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
            let body = http
                .post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(encoded)
                .send()
                .await?
                .text()
                .await?;
            anyhow::ensure!(!body.contains("\"code\""), "{action} failed: {body}");
            if i > 0 {
                times.push(started.elapsed());
            }
        }
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        out.push(Figures { median: at(0.5), p95: at(0.95) });
    }
    emu.stop().await;
    Ok((out, seeded))
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.scenario {
        Scenario::Console => return console::run(args.console).await,
        Scenario::Parents => return console::run_parents(&args.console).await,
        Scenario::Import => return import::run(&args.import, args.console.latency_ms).await,
        Scenario::Emulator => {}
    }
    anyhow::ensure!(args.iterations > 0, "--iterations must be at least 1");
    anyhow::ensure!(args.baseline > 0 && args.children > 0, "--children and --baseline must be at least 1");
    println!("Emulator partner.list / partner.count over loopback, {} timed calls each", args.iterations);
    let (small, small_seed) = measure(args.baseline, args.iterations).await?;
    let (large, large_seed) = measure(args.children, args.iterations).await?;
    println!(
        "seeding: {} children in {:.2?}, {} children in {:.2?}",
        args.baseline, small_seed, args.children, large_seed
    );
    println!(
        "{:<26} {:>12} {:>12} {:>12} {:>12} {:>8}",
        "call",
        format!("p50 @{}", args.baseline),
        format!("p95 @{}", args.baseline),
        format!("p50 @{}", args.children),
        format!("p95 @{}", args.children),
        "ratio"
    );
    for ((Case(name, _, _), s), l) in CASES.iter().zip(&small).zip(&large) {
        println!(
            "{:<26} {:>12.2?} {:>12.2?} {:>12.2?} {:>12.2?} {:>7.1}x",
            name,
            s.median,
            s.p95,
            l.median,
            l.p95,
            l.median.as_secs_f64() / s.median.as_secs_f64().max(1e-9)
        );
    }
    println!(
        "ratio = p50 at {} / p50 at {} (the data grew {:.0}x)",
        args.children,
        args.baseline,
        f64::from(args.children) / f64::from(args.baseline)
    );
    Ok(())
}
