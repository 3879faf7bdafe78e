//! The steps of the pipeline, one module each: each reads files and writes files and returns the
//! artifacts it wrote.

pub mod bench;
pub mod bundle;
pub mod closure;
pub mod debs;
pub mod image;
pub mod packer;
pub mod repo;
pub mod scale;
pub mod seeds;
pub mod setup;
pub mod test;
pub mod tools_deb;
pub mod verify;
