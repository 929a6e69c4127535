// The server allocates and frees many small buffers per request on every
// thread (HTTP, JSON, rows): under load glibc's malloc and free took about
// a seventh of the process's CPU, mimalloc about half as much.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tahseel::cli::main()
}
