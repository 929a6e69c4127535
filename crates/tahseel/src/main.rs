// The server allocates and frees many small buffers per request on every
// thread (HTTP, JSON, rows); glibc's malloc spent about a seventh of the
// CPU of a loaded server on that, and mimalloc a fraction of it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tahseel::cli::main()
}
