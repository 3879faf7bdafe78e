//! `mesos-role`: what a node of a mesos-roles cluster is configured to be and what is live on it
//! (`status`), deploying an app to Marathon (`deploy`), draining an agent's machine (`drain`) and
//! retiring a drained agent's id (`reregister`). Parses the command line and dispatches; each
//! command is a module.

mod cli;
mod credentials;
mod deploy;
mod drain;
#[cfg(test)]
mod fixture;
mod node;
mod probe;
mod quotes;
mod reregister;
mod status;
mod tools;
mod utc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Status(args) => status::run(&cli.global, &args),
        cli::Command::Deploy(args) => deploy::run(&cli.global, &args),
        cli::Command::Drain(args) => drain::run(&cli.global, &args),
        cli::Command::Reregister(args) => reregister::run(&cli.global, &args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        // The command printed what is wrong.
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            // A URL given with a password (--marathon) is not repeated.
            eprintln!("mesos-role: {}", credentials::mask(&format!("{error:#}")));
            ExitCode::from(1)
        }
    }
}
