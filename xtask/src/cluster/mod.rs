//! The cluster machinery shared by `verify`, the bench and the tests: private networks, booted nspawn nodes, VMs,
//! cached base roots.

pub mod netns;
pub mod nspawn;
pub mod roots;
pub mod sweep;
pub mod usernet;
pub mod zk;
