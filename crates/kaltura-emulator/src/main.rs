//! `kaltura-emulator`: the Kaltura API emulator on its own, without the console.

use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "kaltura-emulator", version, about = "A local server that answers like Kaltura's api_v3")]
struct Cli {
    #[command(flatten)]
    args: kaltura_emulator::EmulatorArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let result = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(kaltura_emulator::run_cli(cli.args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
