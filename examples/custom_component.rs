//! A model component of your own, plugged into a topology: the IPMI
//! watchdog of a single mail node's baseboard management controller (BMC),
//! which resets the machine once its operating system has stopped.
//!
//! The service has one MX host and no recovery plan. At hour 1 the host
//! crashes (a kernel panic: the `crash` fault) and nobody restarts it:
//! without the watchdog, SMTP is refused for the rest of the day, the
//! senders keep every mail written after the crash in their queues, and
//! eventual delivery fails. With the watchdog the BMC resets the host a few
//! minutes later; the senders' retries then deliver everything.
//!
//! Its default is Linux's IPMI watchdog driver: on a panic it sets the
//! BMC's timer to `panic_wdt_timeout`, 255 s ("static int
//! panic_wdt_timeout = 255; /* Default timeout to set on panic */",
//! `drivers/char/ipmi/ipmi_watchdog.c`, the Linux kernel,
//! <https://github.com/torvalds/linux/blob/master/drivers/char/ipmi/ipmi_watchdog.c>),
//! and its `action` on expiry defaults to `reset` (*The Linux IPMI Driver*,
//! The Linux Kernel documentation,
//! <https://www.kernel.org/doc/html/latest/driver-api/ipmi.html>). A host
//! reset here boots at once: the models have no boot time.
//!
//! A component is a `mailsim_sim::Node<Msg, World>`: it reacts to inputs
//! (its start, messages, timers, the failure monitor's verdicts) through its
//! `Ctx`. It joins a topology after `Topology::build`, with `Sim::add_node`,
//! and is then a node like the others: its power actions are in the trace,
//! and the MX node it resets boots from its durable queue as after any
//! restart.
//!
//! ```sh
//! cargo run --release --example custom_component
//! cargo test --release --example custom_component   # its test (CI runs it)
//! ```

use mailsim_models::availability::summarize;
use mailsim_models::senders::Workload;
use mailsim_models::topology::{FaultKind, FaultSpec, Topology, TopologyOptions};
use mailsim_models::{Msg, World};
use mailsim_sim::{Ctx, Disk, Dur, Input, Node, NodeConfig, NodeId, RunReport};

/// The BMC's watchdog on one host: when the host has been silent for
/// `timeout`, the BMC resets it (powers it off and on).
struct Watchdog {
    /// The host it resets.
    target: NodeId,
    /// How long the host may be silent: 255 s after a panic
    /// (`panic_wdt_timeout`).
    timeout: Dur,
    /// Resets so far.
    resets: u32,
}

impl Watchdog {
    /// Linux's IPMI watchdog timer after a kernel panic.
    const PANIC_TIMEOUT: Dur = Dur::secs(255);
}

impl Node<Msg, World> for Watchdog {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _disk: &mut Disk<()>) {
        match input {
            // The OS petting the timer is the host being reachable: the
            // kernel's failure monitor says when it has stopped for `timeout`.
            Input::Start => ctx.watch(self.target, self.timeout),
            Input::Peer { peer, up: false, .. } if peer == self.target => {
                self.resets += 1;
                // Whoever powers a node off tells the ledger it holds nothing
                // now (no effect on a host that has already crashed).
                mailsim_models::ledger::node_down(ctx.world, peer);
                ctx.power_off(peer);
                ctx.power_on(peer);
            }
            _ => {}
        }
    }
}

/// One MX host, 2,000 mails over six hours, and the host crashing at hour
/// 1 for good: no restart in the fault plan, no recovery plan.
fn topology(seed: u64) -> Topology {
    let mut t = Topology::new(TopologyOptions { seed, mx: 1, mailboxes: 200, mails: 2_000 });
    t.workload = Workload { hourly_weights: [1; 24], ..Workload::total(2_000, Dur::hours(6), 200) };
    t.duration = Dur::days(1);
    t.faults.push(FaultSpec::new(Dur::hours(1), FaultKind::Crash, "mx-1"));
    t
}

/// What one run shows.
struct Run {
    /// The kernel's report: outcome (eventual delivery), events.
    report: RunReport,
    /// Mails written by the senders.
    submitted: u64,
    /// Mails delivered into their mailbox.
    delivered: u64,
    /// Seconds SMTP was unavailable at some MX door.
    smtp_unavailable_s: u64,
    /// The watchdog's resets (0 without it).
    resets: u32,
}

/// Runs one seed with or without the watchdog.
fn run(seed: u64, watchdog: bool) -> Run {
    let mut sim = topology(seed).build();
    let dog = watchdog.then(|| {
        let target = sim.node_id("mx-1").expect("the topology has mx-1");
        sim.add_node("mx-1/bmc", NodeConfig::default(), (), move |_| Watchdog { target, timeout: Watchdog::PANIC_TIMEOUT, resets: 0 })
    });
    let report = sim.run();
    let resets = dog.and_then(|id| sim.node::<Watchdog>(id)).map_or(0, |w| w.resets);
    let first_fault = sim.faults().first().map(|f| f.at);
    let availability = summarize(sim.world(), sim.names(), first_fault, sim.now());
    let c = &sim.world().counts;
    Run { submitted: c.submitted, delivered: c.delivered, smtp_unavailable_s: availability.smtp.unavailable_s, resets, report }
}

fn main() {
    for seed in 0..3 {
        for watchdog in [false, true] {
            let r = run(seed, watchdog);
            println!(
                "seed {seed}, watchdog {}: {}; delivered {} of {}; SMTP unavailable {} s; resets {}",
                if watchdog { "on " } else { "off" },
                r.report.outcome.class(),
                r.delivered,
                r.submitted,
                r.smtp_unavailable_s,
                r.resets
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without the watchdog the crashed host stays down: the mail written
    /// after hour 1 waits at its senders, eventual delivery fails, and SMTP
    /// is unavailable from the first refused attempt after hour 1 to the end
    /// of the day (almost 23 h). With it the BMC resets the host once,
    /// 255 s after the crash: everything is delivered, and SMTP is
    /// unavailable from the first refused attempt to the first one after
    /// the reset, a few minutes.
    #[test]
    fn the_watchdog_resets_the_crashed_host_and_the_mail_gets_through() {
        for seed in 0..3 {
            let off = run(seed, false);
            assert_eq!(off.resets, 0);
            assert!(!off.report.outcome.is_ok(), "seed {seed}: without the watchdog eventual delivery fails");
            assert!(off.delivered < off.submitted, "seed {seed}: {} of {}", off.delivered, off.submitted);
            assert!(off.smtp_unavailable_s >= 22 * 3600, "seed {seed}: SMTP down from hour 1 on: {} s", off.smtp_unavailable_s);

            let on = run(seed, true);
            assert_eq!(on.resets, 1, "seed {seed}: one crash, one reset");
            assert!(on.report.outcome.is_ok(), "seed {seed}: {}", on.report.outcome);
            assert_eq!(on.delivered, on.submitted, "seed {seed}");
            assert!(on.smtp_unavailable_s > 0, "seed {seed}: the crash was seen");
            assert!(on.smtp_unavailable_s < 600, "seed {seed}: back within minutes: {} s", on.smtp_unavailable_s);
        }
    }
}
