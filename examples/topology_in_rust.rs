//! A topology built in Rust, without a scenario file: two MX nodes in front
//! of a file server, 2,000 mails over six hours, and `mx-1` down from hour
//! 1 to hour 3. The run is checked as the scenario runner checks one: the
//! kernel's properties (custody, eventual delivery), and the ledger's count
//! of lost mail against the components' final state.
//!
//! ```sh
//! cargo run --release --example topology_in_rust
//! cargo test --release --example topology_in_rust   # its test (CI runs it)
//! ```
//!
//! A scenario file says the same in TOML (`docs/scenario-guide.md`); code is
//! for what a file cannot say, such as a component of your own
//! (`examples/custom_component.rs`).

use mailsim_models::reconcile::reconcile;
use mailsim_models::senders::Workload;
use mailsim_models::topology::{FaultKind, FaultSpec, Topology, TopologyOptions};
use mailsim_sim::{Dur, RunReport, Time};

/// The outage: `mx-1` crashes at hour 1 and is restarted at hour 3.
fn topology(seed: u64) -> Topology {
    let mut t = Topology::new(TopologyOptions { seed, mx: 2, mailboxes: 200, mails: 2_000 });
    t.workload = Workload { hourly_weights: [1; 24], ..Workload::total(2_000, Dur::hours(6), 200) };
    t.duration = Dur::days(1);
    t.faults.push(FaultSpec::new(Time::from_hours(1), FaultKind::Crash, "mx-1"));
    t.faults.push(FaultSpec::new(Time::from_hours(3), FaultKind::Restart, "mx-1"));
    t
}

/// What one run shows.
struct Run {
    /// The kernel's report: outcome, events, properties.
    report: RunReport,
    /// Mails the MX nodes accepted, by the ledger.
    accepted: u64,
    /// Mails delivered into mailboxes, by the ledger.
    delivered: u64,
    /// Mails lost, by the ledger.
    lost: u64,
    /// Whether the components' final state agrees with the ledger.
    reconciled: Result<(), String>,
}

/// Runs one seed.
fn run(seed: u64) -> Run {
    let mut sim = topology(seed).build();
    let report = sim.run();
    let reconciled = reconcile(&sim).check(sim.world());
    let c = &sim.world().counts;
    Run { report, accepted: c.accepted, delivered: c.delivered, lost: c.lost, reconciled }
}

fn main() {
    for seed in 0..3 {
        let Run { report, accepted, delivered, lost, reconciled } = run(seed);
        println!(
            "seed {seed}: {} ({} events); accepted {accepted}, delivered {delivered}, lost {lost}; ledger {}",
            report.outcome.class(),
            report.events,
            if reconciled.is_ok() { "reconciles" } else { "does NOT reconcile" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Postfix keeps mail it accepted in its queue across a crash (the queue
    /// is on disk) and the senders retry the other MX: an MX down for two
    /// hours delays mail and loses none.
    #[test]
    fn an_mx_down_for_two_hours_loses_no_mail_and_everything_is_delivered() {
        for seed in 0..3 {
            let Run { report, accepted, delivered, lost, reconciled } = run(seed);
            assert!(report.outcome.is_ok(), "seed {seed}: {}", report.outcome);
            assert!(accepted > 0, "seed {seed}: no mail accepted");
            assert_eq!(lost, 0, "seed {seed}");
            assert_eq!(delivered, accepted, "seed {seed}");
            assert_eq!(reconciled, Ok(()), "seed {seed}");
        }
    }
}
