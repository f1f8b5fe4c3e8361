//! The harness's errors: what it cannot simulate, said plainly (a scenario
//! file using a fault the harness does not support is refused, naming the
//! fault and why), and runs that failed for reasons other than the ledger's
//! verdict (a host's task panicked, a host exited with an error).

use std::path::PathBuf;

/// Why a harness run could not be set up or did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The scenario file itself is invalid (the runner's own error, with
    /// file, line and field).
    #[error(transparent)]
    Scenario(#[from] mailsim::error::ScenarioError),
    /// The scenario uses something the harness cannot simulate.
    #[error("{file}: {what} is not supported by the protocol harness: {why} (supported fault kinds: {supported})")]
    Unsupported {
        /// The scenario file.
        file: PathBuf,
        /// What it uses (`[[faults]] #3 kind = "disk-failure"`, …).
        what: String,
        /// Why the harness cannot do it.
        why: String,
        /// The fault kinds the harness does support.
        supported: &'static str,
    },
    /// A fault names a host the run does not have.
    #[error("fault {fault:?}: no host `{host}` (hosts: {hosts})")]
    UnknownHost {
        /// The fault.
        fault: String,
        /// The name it used.
        host: String,
        /// The hosts there are.
        hosts: String,
    },
    /// The run itself failed: a task panicked, a host returned an error, or
    /// the engine stopped.
    #[error("the run failed: {0}")]
    Run(String),
}
