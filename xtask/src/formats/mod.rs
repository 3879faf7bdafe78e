//! The file formats, written (and read) in-process: pure, no knowledge of the workspace.

pub mod apt_index;
pub mod archive;
pub mod deb;
pub mod disk;
pub mod jks;
pub mod manifest;
pub mod signing;
