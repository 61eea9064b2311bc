//! `multi-account accounts import FILE.csv [--dry-run]`: the Import page for scripts. The same checks, the same
//! recorded creations and the same database as `serve` (a console running beside it shows the import, and takes it
//! over if this command is stopped, as does the next run of this command). Prints the preview, the progress (on
//! standard error) and each row's outcome; exits non-zero when a row did not become an account (invalid, left out of
//! the quota, or refused by Kaltura), and 130 when stopped by Ctrl-C. `--dry-run` lists every row with what an
//! import would do with it.

use clap::Subcommand;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

use super::Interrupted;
use crate::accounts::import::{FileError, ImportError, ImportView, MAX_FILE_BYTES, RowState, Tally, outcome};
use crate::accounts::{Accounts, Actor};
use crate::app::connect_kaltura;
use crate::config::DatabaseArgs;
use crate::config::kaltura::KalturaSettings;
use crate::db;

#[derive(clap::Args, Debug)]
pub struct AccountsArgs {
    #[command(subcommand)]
    pub action: AccountsAction,
}

#[derive(Subcommand, Debug)]
pub enum AccountsAction {
    /// Create accounts from a CSV file whose header row uses the Add Account labels (see the README). Without
    /// Kaltura settings, works on the demo organisation of `serve`.
    Import(ImportArgs),
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The CSV file.
    pub file: PathBuf,
    /// Check the file and print the preview; send nothing to Kaltura.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the result (the file's columns, then Partner ID, Outcome and Message) to this CSV file.
    #[arg(long, value_name = "OUTPUT.csv")]
    pub result: Option<PathBuf>,
    /// The parent whose child accounts the file creates (default: the first parent of the settings).
    #[arg(long, value_name = "PARTNER_ID")]
    pub parent: Option<i64>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub kaltura: KalturaSettings,
}

/// How the audit log and the import list name this command.
const ACTOR: &str = "cli";
const FROM: &str = "local";
/// How often progress is printed while rows are sent.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub async fn run(args: AccountsArgs) -> anyhow::Result<()> {
    match args.action {
        AccountsAction::Import(args) => import(args).await,
    }
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let shown = args.file.display().to_string();
    let size = std::fs::metadata(&args.file).map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?.len();
    if size > MAX_FILE_BYTES as u64 {
        anyhow::bail!("{shown}: {}", FileError::TooLarge);
    }
    let bytes = std::fs::read(&args.file).map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
    let name = args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| shown.clone());
    // Ctrl-C from here on stops the command cleanly, whatever it is doing.
    let (interrupt, interrupted) = watch::channel(false);
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = interrupt.send(true);
        }
    });
    let location = args.database.location()?;
    let pool = db::connect(&location, &args.database.pool()).await?.pool;
    let (parents, demo) = connect_kaltura(&args.kaltura, &location).await?;
    let ids: Vec<i64> = parents.iter().map(|p| p.client.config().partner_id).collect();
    // Work recorded before several parents belongs to the one served until then: the first.
    if let Some(first) = ids.first() {
        db::parents::adopt_unowned(&pool, *first).await?;
    }
    let chosen = parents.into_iter().find(|p| args.parent.is_none_or(|id| p.client.config().partner_id == id));
    let Some(kaltura) = chosen.map(|p| p.client) else {
        let listed = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        anyhow::bail!("--parent: partner {} is not a parent the console serves ({listed})", args.parent.unwrap_or(0));
    };
    let accounts = Accounts::new(kaltura, pool.clone(), crate::clock::Clock::system());
    // A console sharing the database must not take this process's creations for a dead one's; and creations that
    // got no answer are settled by asking Kaltura, here as in a console.
    let (stop_workers, stopping) = watch::channel(false);
    accounts.announce().await?;
    let workers = [
        crate::accounts::spawn_liveness(accounts.clone(), stopping.clone()),
        crate::accounts::spawn_reconciler(accounts.clone(), stopping),
    ];
    let result = import_with(&accounts, &args, &name, &bytes, interrupted).await;
    let _ = stop_workers.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    ctrl_c.abort();
    pool.close().await;
    if let Some(emu) = demo {
        emu.stop().await;
    }
    result
}

async fn import_with(
    accounts: &Accounts,
    args: &ImportArgs,
    name: &str,
    bytes: &[u8],
    mut interrupted: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let shown = args.file.display();
    let actor = Actor { user_id: 0, email: ACTOR, ip: FROM };
    let mut stop = interrupted.clone();
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if !args.dry_run {
        tokio::select! {
            taken_up = finish_interrupted(accounts, interrupted.clone()) => taken_up?,
            () = stopped => return Err(Interrupted("Stopped: nothing was sent".into()).into()),
        }
    }
    let preview = async {
        // Creations whose answer never came are looked up at Kaltura first, so none is taken for an account.
        if !accounts.reconcile_pass().await {
            eprintln!("Waiting for a console to finish checking creations Kaltura has not answered…");
            accounts.reconcile_pass_in_turn().await;
        }
        accounts.import_preview(actor, name, bytes).await
    };
    let id = tokio::select! {
        id = preview => match id {
            Ok(id) => id,
            Err(ImportError::File(e)) => anyhow::bail!("{shown}: {e}"),
            Err(e) => return Err(e.into()),
        },
        _ = interrupted.wait_for(|s| *s) => return Err(Interrupted("Stopped while checking the file: nothing was sent".into()).into()),
    };
    let view = accounts.import(id).await?.ok_or_else(|| anyhow::anyhow!("the import vanished"))?;
    if args.dry_run {
        accounts.import_discard(id).await?;
        print_dry_run(&view);
        let not_sendable = view.tally.invalid + view.tally.left_out;
        anyhow::ensure!(not_sendable == 0, "{not_sendable} of {} rows would not be created", view.tally.total);
        return Ok(());
    }
    print_preview(&view);
    if *interrupted.borrow() {
        accounts.import_discard(id).await?;
        return Err(Interrupted("Stopped before sending: nothing was sent".into()).into());
    }
    accounts.import_start(actor, id).await?;
    let done = run_or_follow(accounts, id, interrupted).await?;
    let view = accounts.import(id).await?.ok_or_else(|| anyhow::anyhow!("the import vanished"))?;
    print_progress(&view.tally);
    if let Some(why) = done {
        return Err(Interrupted(why).into());
    }
    print_result(&view);
    if let Some(out) = &args.result {
        std::fs::write(out, view.result_csv()).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
        println!("Result written to {}", out.display());
    }
    let failed = view.tally.not_created();
    anyhow::ensure!(failed == 0, "{failed} of {} rows did not become an account", view.tally.total);
    Ok(())
}

/// Finishes the imports a process that died left running (nobody holds them), before this one's file.
async fn finish_interrupted(accounts: &Accounts, interrupted: watch::Receiver<bool>) -> anyhow::Result<()> {
    for id in accounts.abandoned_imports().await? {
        let Some(view) = accounts.import(id).await? else { continue };
        eprintln!(
            "Import {id} ({}) was left unfinished by a process that stopped: finishing its {} remaining rows first.",
            view.import.file_name, view.tally.remaining
        );
        if let Some(why) = run_or_follow(accounts, id, interrupted.clone()).await? {
            return Err(Interrupted(why).into());
        }
        if let Some((_, tally)) = accounts.import_tally(id).await? {
            eprintln!("Import {id} finished: {} created, {} failed.", tally.created, tally.failed);
        }
    }
    Ok(())
}

/// Runs a started import here, or follows it while a console's worker runs it, printing the progress. `None`
/// when it finished; otherwise why it stopped.
async fn run_or_follow(
    accounts: &Accounts,
    id: i64,
    mut interrupted: watch::Receiver<bool>,
) -> anyhow::Result<Option<String>> {
    let progress = watch_progress(accounts, id);
    let mut progress = std::pin::pin!(progress);
    if accounts.claim_import(id).await? {
        let (stop, stopping) = watch::channel(false);
        let mut drive = std::pin::pin!(accounts.drive_import(id, stopping));
        let done = tokio::select! {
            done = &mut drive => done,
            // Seen done first: the runner is returning.
            () = &mut progress => drive.await,
            _ = interrupted.wait_for(|s| *s) => {
                eprintln!("Stopping: the rows being sent finish first.");
                let _ = stop.send(true);
                drive.await
            }
        };
        Ok((!done).then(|| {
            format!(
                "Stopped: import {id} is not finished. A console on this database takes it up, or run \
                 `accounts import` again (with any file) to finish it."
            )
        }))
    } else {
        // A console's worker was quicker to take it up: follow it there.
        tokio::select! {
            () = &mut progress => Ok(None),
            _ = interrupted.wait_for(|s| *s) => Ok(Some(format!(
                "Stopped following: import {id} goes on in the console that runs it (Accounts → Import)."
            ))),
        }
    }
}

/// Prints the progress on standard error whenever it moves; ends when the import is no longer running.
async fn watch_progress(accounts: &Accounts, id: i64) {
    let mut last = -1;
    loop {
        tokio::time::sleep(PROGRESS_EVERY).await;
        match accounts.import_tally(id).await {
            Ok(Some((import, tally))) => {
                if tally.done != last {
                    last = tally.done;
                    print_progress(&tally);
                }
                if import.state != crate::db::imports::ImportState::Running {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => eprintln!("cannot read the import's progress: {e}"),
        }
    }
}

fn print_progress(t: &Tally) {
    let rate = t.per_minute().map(|r| format!(", {r:.1} rows per minute")).unwrap_or_default();
    eprintln!("{} of {} rows done, {} s elapsed{rate}", t.done, t.to_send, t.elapsed_secs);
}

fn print_preview(view: &ImportView) {
    let t = &view.tally;
    println!("{}: {} rows", view.import.file_name, t.total);
    println!("  {:>5} to create", t.remaining);
    for (n, what) in [(t.exists, "already exist"), (t.left_out, "left out (quota)"), (t.invalid, "with errors")] {
        if n > 0 {
            println!("  {n:>5} {what}");
        }
    }
    for r in view.rows.iter().filter(|r| r.state != RowState::Pending || !r.message.is_empty()) {
        println!("row {}: {}: {}", r.row_no, outcome(r.state), r.message);
    }
    let _ = std::io::stdout().flush();
}

/// Every row with what an import would do with it, then the counts.
fn print_dry_run(view: &ImportView) {
    println!("{}: {} rows", view.import.file_name, view.tally.total);
    for r in &view.rows {
        let would = match r.state {
            RowState::Pending if r.message.is_empty() => "would be created".to_string(),
            RowState::Pending => format!("would wait: {}", r.message),
            RowState::Exists => format!("exists already, nothing to do: {}", r.message),
            RowState::Invalid => format!("would be refused: {}", r.message),
            RowState::LeftOut => format!("would be left out: {}", r.message),
            other => format!("{}: {}", outcome(other), r.message),
        };
        println!("row {}\t{} <{}>\t{would}", r.row_no, r.name, r.admin_email);
    }
    let t = &view.tally;
    println!(
        "{} would be created, {} exist already, {} would be left out, {} would be refused ({} rows)",
        t.remaining, t.exists, t.left_out, t.invalid, t.total
    );
    println!("Dry run: nothing was sent to Kaltura.");
    let _ = std::io::stdout().flush();
}

fn print_result(view: &ImportView) {
    for r in &view.rows {
        let partner = r.partner_id.map(|p| p.to_string()).unwrap_or_default();
        let message = if r.message.is_empty() { String::new() } else { format!(": {}", r.message) };
        println!("row {}\t{}\t{partner}\t{} <{}>{message}", r.row_no, outcome(r.state), r.name, r.admin_email);
    }
    let t = &view.tally;
    println!(
        "{} created, {} already existed, {} failed, {} left out, {} invalid ({} rows)",
        t.created, t.exists, t.failed, t.left_out, t.invalid, t.total
    );
}
