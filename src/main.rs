use clap::Parser;

fn main() -> std::process::ExitCode {
    multi_account::cli::run(multi_account::cli::Cli::parse())
}
