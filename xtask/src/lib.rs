//! The mesos-roles pipeline. `main.rs` parses the command line; each step is a module here.
//! ARCHITECTURE.md has the code map.

pub mod answers;
pub mod apt_index;
pub mod archive;
pub mod bundle;
pub mod closure;
pub mod deb;
pub mod debs;
pub mod disk;
pub mod dist;
pub mod flags;
pub mod image;
pub mod inventory;
pub mod manifest;
pub mod mirror;
pub mod netns;
pub mod nspawn;
pub mod packaging;
pub mod packer;
pub mod progress;
pub mod project;
pub mod repo;
pub mod roots;
pub mod seeds;
pub mod signing;
pub mod tool;
pub mod tools_deb;
pub mod verify;
