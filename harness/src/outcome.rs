//! What a harness run gives, on either engine: the ledger's verdict, the
//! journal it judged, and the attempts behind it (to read why a mail was
//! late), with where and how the run ended.

use crate::audit::Audit;
use crate::journal::{Event, Note};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What a harness run gives.
pub struct Outcome {
    /// The ledger's verdict and measurements.
    pub audit: Audit,
    /// Simulated time at the end of the run.
    pub end: Duration,
    /// Whether every mail was settled and every queue empty at the end (as
    /// opposed to the run reaching its duration).
    pub quiescent: bool,
    /// Engine steps taken (turmoil ticks; driver wake-ups on madsim).
    pub steps: u64,
    /// The custody journal the ledger judged.
    pub events: Vec<Event>,
    /// Diagnostic notes: every delivery and sending attempt with its result.
    pub notes: Vec<Note>,
    /// Sockets each host opened to connect (what turmoil leaks when the
    /// connect fails: `connector`).
    pub sockets: BTreeMap<Arc<str>, u64>,
}

impl Outcome {
    /// Everything that happened to `mail`, one line per event or note, in
    /// order: for reading why a mail was late or lost.
    pub fn timeline(&self, mail: u32) -> String {
        let mut lines: Vec<(Duration, String)> = self
            .events
            .iter()
            .filter(|e| e.mail == mail)
            .map(|e| (e.at, format!("{:>10.1} s  {:<8} {:?}", e.at.as_secs_f64(), e.host, e.what)))
            .chain(
                self.notes
                    .iter()
                    .filter(|n| n.mail == mail)
                    .map(|n| (n.at, format!("{:>10.1} s  {:<8} {}", n.at.as_secs_f64(), n.host, n.text))),
            )
            .collect();
        lines.sort_by_key(|(at, _)| *at);
        lines.into_iter().map(|(_, l)| l).collect::<Vec<_>>().join("\n")
    }
}
