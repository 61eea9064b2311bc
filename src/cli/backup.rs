//! `multi-account backup OUTPUT`: a consistent copy of the console's database, safe while the console runs, readable
//! by its owner only. SQLite's `VACUUM INTO` reads one snapshot (WAL mode lets the console keep writing) and writes a
//! compact file. A
//! PostgreSQL database is PostgreSQL's to back up (`pg_dump`): the command says so instead of copying anything.

use std::path::PathBuf;

use crate::config::DatabaseArgs;
use crate::db;

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

    // Made empty and readable by its owner only before SQLite fills it: a backup holds what the database does.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(&partial).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", partial.display()))?;
    db::vacuum_into(&source, &partial_str).await?;
    db::owner_only(&partial)?;
    std::fs::rename(&partial, &output)?;
    let size = std::fs::metadata(&output)?.len();
    println!("Backed up {source} to {} ({size} bytes)", output.display());
    Ok(())
}
