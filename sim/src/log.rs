//! `tracing` output stamped with simulated time.
//!
//! Install with `mailsim_sim::log::init()` (or use `SimTimer` in your own
//! `tracing-subscriber` setup): every line then carries the simulated time of
//! the event being handled on that thread, never the wall clock.

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

use crate::sim::current_time;

/// A `tracing-subscriber` timer printing the current simulated time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimTimer;

impl FormatTime for SimTimer {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", current_time())
    }
}

/// Installs a global subscriber writing to stderr with simulated timestamps,
/// filtered by `RUST_LOG` (default: warnings). Returns false if one was
/// already installed.
pub fn init() -> bool {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_timer(SimTimer).with_writer(std::io::stderr).try_init().is_ok()
}
