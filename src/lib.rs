//! The `mailsim` library: scenario files, the runner and the reports behind
//! the CLI. Scenarios are data (`scenarios/*.toml`); this crate turns them into
//! runs of the models on the kernel and checks their expectations.

pub mod calibrate;
pub mod checkpoints;
pub mod compare;
pub mod error;
pub mod explore;
pub mod junit;
pub mod output;
pub mod pool;
pub mod ranges;
pub mod replay;
pub mod report;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod sweep;
pub mod testing;
pub mod units;
