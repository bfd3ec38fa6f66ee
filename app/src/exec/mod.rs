//! The execution engine: SSH to managed hosts (`ssh`); runs of steps on many hosts with live
//! output come next (issue 10).
pub mod ssh;
