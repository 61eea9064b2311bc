fn main() -> std::process::ExitCode {
    multi_account::cli::run(multi_account::cli::parse())
}
