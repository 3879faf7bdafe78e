//! `cargo xtask <step>`: parses the command line and hands over to it.

use std::process::ExitCode;

use clap::Parser;
use xtask::cli::Xtask;

fn main() -> ExitCode {
    match Xtask::parse().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One message: the error and its causes on a line, without a backtrace.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
