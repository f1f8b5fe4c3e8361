//! Judging a harness run with the models' own checkers: the journal's
//! transitions are replayed, in order and at their simulated times, through
//! `mailsim_models::ledger` inside a kernel run, so the custody invariant
//! and eventual delivery are decided by exactly the code that judges the
//! models (and reported the same way: `RunReport.properties`, violations
//! with their detail).
//!
//! The replay is one kernel node (named `harness`) that sets one timer per
//! journal event at the event's time; timers at the same time fire in the
//! order they were set, so the ledger sees the journal's order. The run has
//! no fault phase, so *eventually* is judged at its end: every mail
//! delivered, returned, or given up by its sender.

use std::sync::Arc;

use mailsim_models::ledger::{self, EVENTUAL_DELIVERY};
use mailsim_models::{Msg, World};
use mailsim_sim::{Config, Ctx, Disk, Input, Node, NodeConfig, RunReport, Time};

use crate::journal::{Event, Transition};

/// The ledger's verdict on a harness run.
pub struct Audit {
    /// The kernel's report: outcome, every property's verdict, violations.
    pub report: RunReport,
    /// The ledger after the run: counts and measurements (delays).
    pub world: World,
}

impl Audit {
    /// The verdict on one property (`ledger::CUSTODY.name`,
    /// `ledger::EVENTUAL_DELIVERY`, …): `Some(true)` held, `Some(false)`
    /// violated, `None` not evaluated or unknown.
    pub fn held(&self, property: &str) -> Option<bool> {
        let p = self.report.property(property)?;
        if p.status.held() {
            Some(true)
        } else if p.status.violated() {
            Some(false)
        } else {
            None
        }
    }

    /// Custody and eventual delivery both held.
    pub fn passed(&self) -> bool {
        self.held(ledger::CUSTODY.name) == Some(true) && self.held(EVENTUAL_DELIVERY) == Some(true)
    }

    /// The details of every violation, in order.
    pub fn violations(&self) -> Vec<String> {
        self.report.violations.iter().map(|v| format!("{}: {}", v.property, v.detail)).collect()
    }

    /// Delivery delay percentile `q` (0–100), whole seconds.
    pub fn delay_s(&self, q: f64) -> u64 {
        self.world.stats.delay_s.value_at_quantile(q / 100.0)
    }
}

struct Replayer {
    events: Arc<Vec<Event>>,
}

impl Node<Msg, World> for Replayer {
    type Disk = ();

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _disk: &mut Disk<()>) {
        match input {
            Input::Start => {
                for (i, e) in self.events.iter().enumerate() {
                    let at = Time::from_micros(e.at.as_micros() as u64);
                    ctx.set_timer(at.since(ctx.now()), i as u64);
                }
            }
            Input::Timer { tag, .. } => {
                let e = &self.events[tag as usize];
                apply(ctx, e);
            }
            _ => {}
        }
    }
}

fn apply(ctx: &mut Ctx<'_, Msg, World>, e: &Event) {
    let id = e.mail;
    match e.what {
        Transition::Written { rcpt } => {
            let got = ledger::written(ctx, rcpt, ctx.now());
            assert_eq!(got, id, "harness: mails must be written in id order (journal event at {:?} on {})", e.at, e.host);
        }
        Transition::Acknowledged => {
            ledger::acknowledged(ctx, id);
            ledger::sender_released(ctx, id);
        }
        Transition::Enqueued => ledger::enqueued(ctx, id),
        Transition::Dequeued => ledger::dequeued(ctx, id),
        Transition::Delivered => ledger::delivered(ctx, id),
        Transition::Returned => ledger::returned(ctx, id),
        Transition::SenderBounced => ledger::sender_bounced(ctx, id, "harness"),
    }
}

/// Replays `events` through the ledger (run seed `seed`, for the report).
pub fn audit(events: Vec<Event>, seed: u64) -> Audit {
    let mut cfg = Config::new(seed);
    // Count every violation, as the models' runs do.
    cfg.stop_on_violation = false;
    let mut sim = ledger::new_sim(cfg);
    sim.eventually(EVENTUAL_DELIVERY, |o| o.world.all_delivered());
    let events = Arc::new(events);
    let shared = events.clone();
    sim.add_node("harness", NodeConfig::default(), (), move |_| Replayer { events: shared.clone() });
    let report = sim.run();
    let world = std::mem::take(sim.world_mut());
    Audit { report, world }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at_s: u64, mail: u32, what: Transition) -> Event {
        Event { at: std::time::Duration::from_secs(at_s), host: Arc::from("h"), mail, what }
    }

    #[test]
    fn a_clean_journey_passes() {
        let a = audit(
            vec![
                ev(0, 0, Transition::Written { rcpt: 3 }),
                ev(1, 0, Transition::Enqueued),
                ev(1, 0, Transition::Acknowledged),
                ev(2, 0, Transition::Delivered),
                ev(3, 0, Transition::Dequeued),
            ],
            1,
        );
        assert!(a.passed(), "{:?}", a.violations());
        assert_eq!(a.world.counts.delivered, 1);
    }

    #[test]
    fn an_acknowledgement_before_the_queue_write_is_a_custody_violation() {
        let a = audit(
            vec![
                ev(0, 0, Transition::Written { rcpt: 3 }),
                ev(1, 0, Transition::Acknowledged),
                ev(1, 0, Transition::Enqueued),
                ev(2, 0, Transition::Delivered),
                ev(3, 0, Transition::Dequeued),
            ],
            1,
        );
        assert_eq!(a.held(ledger::CUSTODY.name), Some(false));
    }

    #[test]
    fn an_accepted_mail_never_delivered_fails_eventual_delivery() {
        let a =
            audit(vec![ev(0, 0, Transition::Written { rcpt: 0 }), ev(1, 0, Transition::Enqueued), ev(1, 0, Transition::Acknowledged)], 1);
        assert_eq!(a.held(ledger::CUSTODY.name), Some(true));
        assert_eq!(a.held(EVENTUAL_DELIVERY), Some(false));
    }

    #[test]
    fn a_second_mailbox_copy_is_a_duplicate_delivery() {
        let a = audit(
            vec![
                ev(0, 0, Transition::Written { rcpt: 0 }),
                ev(1, 0, Transition::Enqueued),
                ev(1, 0, Transition::Acknowledged),
                ev(2, 0, Transition::Delivered),
                ev(3, 0, Transition::Delivered),
                ev(4, 0, Transition::Dequeued),
            ],
            1,
        );
        assert_eq!(a.world.counts.duplicate_deliveries, 1);
        assert_eq!(a.held(ledger::CUSTODY.name), Some(false));
    }
}
