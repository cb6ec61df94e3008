//! The `harness` binary: parses the command line, installs logging and hands over
//! to [`harness::command::execute`].

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use harness::cli::Cli;
use harness::progress::LogWriter;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();

    // Lifecycle messages by default; `RUST_LOG=harness=debug` shows every request.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,harness=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter::make)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(harness::command::EXIT_SETUP);
        }
    };
    runtime.block_on(harness::command::execute(cli))
}
