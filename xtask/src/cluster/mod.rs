//! The cluster machinery shared by `verify` and the tests: private networks, booted nspawn nodes,
//! cached base roots.

pub mod netns;
pub mod nspawn;
pub mod roots;
pub mod sweep;
pub mod zk;
