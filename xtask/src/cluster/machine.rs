//! What `verify` asks of a node, whatever runs it: an nspawn container (`nspawn::Node`) or a VM
//! booted from a golden image (`vm::Vm`).

use std::process::Output;

use anyhow::Result;

pub trait Machine: Send + Sync {
    fn name(&self) -> &str;
    /// Runs `args` on the node as root; fails unless it exits 0. Returns its standard output.
    fn exec(&self, purpose: &str, args: &[&str]) -> Result<String>;
    /// Like [`Machine::exec`] with `input` on the command's standard input (never an argument).
    fn exec_input(&self, purpose: &str, args: &[&str], input: &[u8]) -> Result<String>;
    /// Runs `args` on the node as root and returns its output whatever its exit status.
    fn output(&self, args: &[&str]) -> Result<Output>;
    /// The command line an operator runs on this host for a shell on the node (`verify --keep`).
    fn shell(&self) -> String;
    /// Starts powering the node off without waiting; dropping it waits.
    fn power_off_soon(&self);

    /// A file's text, read on the node (its symlinks resolve there).
    fn read(&self, path: &str) -> Result<String> {
        self.exec(&format!("read {path}"), &["cat", path])
    }

    /// Runs a shell script on the node; fails unless it exits 0.
    fn sh(&self, purpose: &str, script: &str) -> Result<String> {
        self.exec(purpose, &["sh", "-ec", script])
    }
}
