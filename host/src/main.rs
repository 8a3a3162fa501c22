//! The `rkit` command.

fn main() -> std::process::ExitCode {
    rkit::cli::main()
}
