//! `multi-account backup OUTPUT`: a consistent copy of the console's database, safe while the console runs.
//! SQLite's `VACUUM INTO` reads one snapshot (WAL mode lets the console keep writing) and writes a compact file. A
//! PostgreSQL database is PostgreSQL's to back up (`pg_dump`): the command says so instead of copying anything.

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::DatabaseArgs;

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The file to write (a new SQLite database).
    pub output: PathBuf,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    pub force: bool,
    /// The settings file `serve` reads (only `database` is used).
    #[arg(long, env = "MA_CONFIG")]
    pub config: Option<PathBuf>,
}

pub async fn run(args: BackupArgs) -> anyhow::Result<()> {
    let location = args.database.location()?;
    let Some(source) = location.sqlite_path().map(str::to_owned) else {
        return Err(super::NotApplicable(format!(
            "{location} is a PostgreSQL database: back it up with PostgreSQL's own tools, which copy a live database \
             consistently, e.g.\n  pg_dump --format=custom --file=multi-account.dump \"$MA_DATABASE_URL\"\n\
             and restore with\n  pg_restore --clean --if-exists --dbname=\"$MA_DATABASE_URL\" multi-account.dump"
        ))
        .into());
    };
    let output = args.output;
    anyhow::ensure!(
        args.force || !output.exists(),
        "{} already exists: choose another file, or give --force to replace it",
        output.display()
    );
    let name = output.file_name().and_then(|n| n.to_str()).ok_or_else(|| anyhow::anyhow!("OUTPUT must name a file"))?;
    // VACUUM INTO refuses an existing file: write next to OUTPUT and rename, so OUTPUT is never half a backup.
    let partial = output.with_file_name(format!("{name}.partial"));
    let partial_str = partial.to_str().ok_or_else(|| anyhow::anyhow!("OUTPUT must be a UTF-8 path"))?.to_owned();
    if partial.exists() {
        std::fs::remove_file(&partial)?;
    }

    let mut conn = SqliteConnectOptions::new()
        .filename(&source)
        .read_only(true)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {source}: {e}"))?;
    sqlx::query("VACUUM INTO ?")
        .bind(partial_str)
        .execute(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("cannot back up {source}: {e}"))?;
    std::fs::rename(&partial, &output)?;
    let size = std::fs::metadata(&output)?.len();
    println!("Backed up {source} to {} ({size} bytes)", output.display());
    Ok(())
}
