//! The mesos-roles pipeline. `main.rs` parses the command line; ARCHITECTURE.md has the code map.
//!
//! The folders are the layers, and imports only go down them:
//! `cli` (flags) -> `steps` (one module per step) -> `inputs` and `cluster` -> `formats` ->
//! `tool`, `progress` and `files` (the one door to external tools, progress lines, whole writes).

pub mod cli;
pub mod cluster;
pub mod files;
pub mod formats;
pub mod inputs;
pub mod plan;
pub mod progress;
pub mod stamps;
pub mod steps;
pub mod summary;
pub mod tool;
