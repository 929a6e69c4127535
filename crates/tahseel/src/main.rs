fn main() -> std::process::ExitCode {
    tahseel::cli::main()
}
