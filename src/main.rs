fn main() -> std::process::ExitCode {
    creditdesk::cli::main()
}
