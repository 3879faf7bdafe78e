//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mesos-role",
    version,
    about = "Status, app deployment and agent maintenance on a node of a mesos-roles cluster",
    long_about = "Status, app deployment and agent maintenance on a node of a mesos-roles cluster.\n\n\
        Reads the files the role packages (mesos-master-role, mesos-agent-role) rendered from \
        their debconf answers, and asks the services this node runs how they are."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args)]
pub struct Global {
    /// Read the node's files under DIR instead of / (a chroot, a mounted image). Services are
    /// still asked at the addresses and ports those files give; the docker socket is DIR's.
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Seconds to wait for each service's answer
    #[arg(long, global = true, value_name = "SECS", default_value_t = 5)]
    pub timeout: u64,
}

#[derive(Subcommand)]
pub enum Command {
    /// What this node is configured to be and whether its services are up; exit status 0 only
    /// when the node is healthy.
    Status(StatusArgs),
    /// Check an app definition, post it to Marathon (/v2/apps) and follow it until it runs.
    Deploy(DeployArgs),
    /// On a master, as root: take an agent's machine down for maintenance (Mesos' maintenance
    /// schedule, then /master/machine/down: the master shuts the agent down), or bring it up.
    Drain(DrainArgs),
    /// On a drained agent, as root: retire its checkpointed agent (WORK_DIR/meta/slaves/latest is
    /// renamed, never deleted) and reconfigure mesos-agent-role, so that a change the role held
    /// back applies and the agent registers with a new id.
    Reregister(ReregisterArgs),
}

#[derive(Args)]
pub struct StatusArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct DeployArgs {
    /// The app definition (Marathon's JSON, as for POST /v2/apps)
    pub app: PathBuf,
    /// Marathon's URL [default: this master's Marathon, or on an agent the first master of
    /// /etc/mesos/zk that answers on port 8080]
    #[arg(long, value_name = "URL")]
    pub marathon: Option<String>,
    /// Seconds to wait for the app to run (Docker image pulls can take minutes)
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub wait: u64,
    /// Post the app and return without waiting for it to run
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Args)]
pub struct DrainArgs {
    /// The agent's host name or IP, as the leading master lists it (/master/slaves)
    pub agent: String,
    /// How long the maintenance window lasts, in Mesos' units (30mins, 1hrs, 2days)
    #[arg(long = "for", value_name = "DURATION", default_value = "1hrs")]
    pub duration: String,
    /// Bring the machine up again (/master/machine/up): Mesos takes it out of the schedule
    #[arg(long, conflicts_with = "duration")]
    pub up: bool,
}

#[derive(Args)]
pub struct ReregisterArgs {
    /// Do not ask the agent whether it still runs executors (a drained agent's Mesos may be down:
    /// the master shut it down)
    #[arg(long)]
    pub force: bool,
    /// Seconds to keep asking an agent that does not answer (systemd restarts a shut-down agent
    /// every 20 s)
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub wait: u64,
}
