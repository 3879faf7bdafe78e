//! What the pipeline reads: the workspace, the packaging definitions, the inventory and its answer
//! syntax, the Debian mirror.

pub mod answers;
pub mod inventory;
pub mod mirror;
pub mod packaging;
pub mod prerequisites;
pub mod secrets;
pub mod workspace;
