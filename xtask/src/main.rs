//! `cargo xtask <step>`: parses the command line and hands over to the step's module.

use std::process::ExitCode;

use clap::Parser;
use xtask::cli::{Step, Xtask};
use xtask::inputs::workspace::Build;

fn main() -> ExitCode {
    let flags = Xtask::parse();
    let result = Build::from_env().and_then(|build| match flags.step {
        Step::Debs(step) => step.run(&build),
        Step::Repo(step) => step.run(&build),
        Step::Bundle(step) => step.run(&build),
        Step::Dist(step) => step.run(&build),
        Step::Seeds(step) => step.run(&build),
        Step::Packer(step) => step.run(&build),
        Step::Image(step) => step.run(&build),
        Step::Verify(step) => step.run(&build),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One message: the error and its causes on a line, without a backtrace.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
