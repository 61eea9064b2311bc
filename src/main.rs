/// mimalloc: the console allocates and frees many small buffers per request (JSON, HTML, headers), where glibc's
/// allocator spent about a tenth of the CPU of an Accounts view.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    multi_account::cli::run(multi_account::cli::parse())
}
