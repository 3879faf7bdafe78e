//! The cluster machinery shared by `verify`, the bench and the tests: private networks, booted
//! nspawn nodes and VMs, cached base roots.

pub mod login;
pub mod machine;
pub mod netns;
pub mod nspawn;
pub mod roots;
pub mod sweep;
pub mod usernet;
pub mod vm;
pub mod zk;
