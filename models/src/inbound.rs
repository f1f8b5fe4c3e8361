//! Inbound policy during an outage: what an MX answers to new mail for a
//! mailbox it knows it cannot deliver to right now.
//!
//! A provider whose mailstore is partly down has three choices, and they
//! move the mail to different places:
//! - **accept and hold** ([`InboundPolicy::AcceptAndHold`], the default and
//!   what the replays show: OpenSRS "inbound mail is queued locally and
//!   delivered later"): 250, the mail waits in the MX's own queue, and its
//!   queue lifetime (Postfix `maximal_queue_lifetime`, 5 d) is the limit;
//! - **reject with 4xx** ([`InboundPolicy::Reject4xx`]): the mail stays at
//!   its sender, whose retry profile (Postfix, Exim, Exchange …) decides when
//!   it comes back and when it gives up — a short-lived profile bounces
//!   where accept-and-hold would have delivered;
//! - **reject with 5xx** ([`InboundPolicy::Reject5xx`]): the sender returns
//!   the mail to its author at once (RFC 5321 §4.2.1: a 5yz reply is a
//!   permanent failure, the client must not repeat the command).
//!
//! How the MX knows a mailbox is unavailable is modeled on Postfix's
//! recipient address verification (`reject_unverified_recipient`): the SMTP
//! server consults a cache of delivery results, and an address whose last
//! delivery failed is refused with `unverified_recipient_reject_code`
//! (default 450, a 4xx) until a new probe says otherwise; a negative result
//! is re-probed after `address_verify_negative_refresh_time` (default 3 h).
//! Here the cache is fed by the MTA's own delivery attempts (a failed
//! append marks the mailbox, a successful one clears it), and the probe is
//! the next real mail for the mailbox once the refresh time has passed:
//! it is accepted and held, so one mail per mailbox and refresh interval
//! passes the policy (Postfix's probes are discarded test messages; the
//! model has no such messages, so its probe is a mail). The cache is
//! volatile: a restarted MTA starts with none, as Postfix's in-memory
//! `address_verify_map` does. The mark is per mailbox, so a mailbox is
//! refused only after one of its deliveries failed — a real MX without a
//! list of unavailable mailboxes learns the same way.
//!
//! Sources:
//! - Postfix, "Postfix Address Verification Howto" (ADDRESS_VERIFICATION_README),
//!   Wietse Venema, <https://www.postfix.org/ADDRESS_VERIFICATION_README.html>;
//! - Postfix, "postconf(5) — Postfix configuration parameters":
//!   `unverified_recipient_reject_code` (450),
//!   `address_verify_negative_refresh_time` (3h),
//!   <https://www.postfix.org/postconf.5.html>;
//! - J. Klensin, "Simple Mail Transfer Protocol", RFC 5321, IETF, 2008,
//!   §4.2.1 (reply code meaning) and §4.5.4.1 (sending strategy),
//!   <https://www.rfc-editor.org/rfc/rfc5321>.

use std::collections::BTreeMap;

use mailsim_sim::{Dur, Time};

use crate::msg::{MailboxId, SmtpCode};

/// What an MX answers to new mail for a mailbox it knows is unavailable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InboundPolicy {
    /// 250 and queue it: the mail waits in the MX's queue (the default).
    #[default]
    AcceptAndHold,
    /// 450: the sender keeps the mail and retries on its own profile.
    Reject4xx,
    /// 550: the sender returns the mail to its author at once.
    Reject5xx,
}

impl InboundPolicy {
    /// The names scenario files use, in the order of [`InboundPolicy::ALL`].
    pub const NAMES: &'static [&'static str] = &["accept-and-hold", "reject-4xx", "reject-5xx"];
    /// Every policy.
    pub const ALL: [InboundPolicy; 3] = [InboundPolicy::AcceptAndHold, InboundPolicy::Reject4xx, InboundPolicy::Reject5xx];

    /// The policy a scenario file names.
    pub fn by_name(name: &str) -> Option<InboundPolicy> {
        Self::NAMES.iter().position(|n| *n == name).map(|i| Self::ALL[i])
    }

    /// The reply to new mail for an unavailable mailbox; `None`: accept it.
    pub fn reply(self) -> Option<SmtpCode> {
        match self {
            InboundPolicy::AcceptAndHold => None,
            InboundPolicy::Reject4xx => Some(SmtpCode::TempFail),
            InboundPolicy::Reject5xx => Some(SmtpCode::PermFail),
        }
    }
}

/// Default re-probe interval of a mailbox known unavailable: 3 h, Postfix
/// `address_verify_negative_refresh_time`.
pub const DEFAULT_REFRESH: Dur = Dur::hours(3);

/// The MX's volatile knowledge of unavailable mailboxes: when each was last
/// found (or last probed) undeliverable. Empty unless the policy rejects, and
/// then it holds only the mailboxes of an ongoing outage.
#[derive(Clone, Debug, Default)]
pub struct Unavailable {
    since: BTreeMap<MailboxId, Time>,
}

impl Unavailable {
    /// A delivery to `mailbox` failed at `now`.
    pub fn failed(&mut self, mailbox: MailboxId, now: Time) {
        self.since.insert(mailbox, now);
    }

    /// A delivery to `mailbox` succeeded: it is available again.
    pub fn delivered(&mut self, mailbox: MailboxId) {
        self.since.remove(&mailbox);
    }

    /// Whether new mail for `mailbox` is refused at `now`. A mark older than
    /// `refresh` lets this mail through as the probe, and is renewed so that
    /// the mails after it wait for the probe's result.
    pub fn refuses(&mut self, mailbox: MailboxId, now: Time, refresh: Dur) -> bool {
        match self.since.get_mut(&mailbox) {
            None => false,
            Some(t) if now < *t + refresh => true,
            Some(t) => {
                *t = now;
                false
            }
        }
    }

    /// Mailboxes known unavailable.
    pub fn len(&self) -> usize {
        self.since.len()
    }

    /// Whether no mailbox is known unavailable.
    pub fn is_empty(&self) -> bool {
        self.since.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Action;
    use crate::ops::Trigger;
    use crate::topology::{FaultAt, FaultKind, FaultSpec, StepSpec, Topology, TopologyOptions};
    use crate::World;
    use mailsim_sim::Sim;

    #[test]
    fn a_failed_mailbox_is_refused_until_its_refresh_then_one_probe_passes() {
        let mut u = Unavailable::default();
        let r = Dur::hours(3);
        assert!(!u.refuses(7, Time::from_hours(1), r), "nothing known: accepted");
        u.failed(7, Time::from_hours(1));
        assert!(u.refuses(7, Time::from_hours(2), r));
        assert!(!u.refuses(8, Time::from_hours(2), r), "other mailboxes unaffected");
        assert!(!u.refuses(7, Time::from_hours(4), r), "refresh passed: the probe is accepted");
        assert!(u.refuses(7, Time::from_hours(4) + Dur::secs(1), r), "the next waits for the probe");
        u.delivered(7);
        assert!(!u.refuses(7, Time::from_hours(5), r), "delivered: available again");
        assert!(u.is_empty());
    }

    #[test]
    fn names_round_trip() {
        for (name, p) in InboundPolicy::NAMES.iter().zip(InboundPolicy::ALL) {
            assert_eq!(InboundPolicy::by_name(name), Some(p));
        }
        assert_eq!(InboundPolicy::by_name("reject"), None);
    }

    /// Two MX nodes in front of a file server whose lock manager is broken
    /// from T+0 until a rollback at T+12h: every delivery fails for 12 h.
    fn outage(policy: InboundPolicy) -> Sim<crate::msg::Msg, World> {
        let mut t = Topology::new(TopologyOptions { seed: 5, mx: 2, mailboxes: 100, mails: 3_000 });
        t.duration = Dur::days(3);
        t.fault_phase = Some(Dur::hours(24));
        t.mta.inbound_policy = policy;
        t.faults.push(FaultSpec { at: FaultAt::At(Time::ZERO), kind: FaultKind::LockBroken, target: "filer".into() });
        t.plan.push(StepSpec::new("rollback", "filer", Action::RollbackUpgrade, Trigger::At(Time::from_hours(12))));
        let mut sim = t.build();
        sim.run();
        sim
    }

    fn mx_queue_peak(sim: &Sim<crate::msg::Msg, World>) -> u32 {
        sim.world().stats.queue_depth.iter().map(|q| q.depth).max().unwrap_or(0)
    }

    #[test]
    fn accept_and_hold_queues_at_the_mx_and_bounces_nothing() {
        let sim = outage(InboundPolicy::AcceptAndHold);
        let c = &sim.world().counts;
        assert_eq!((c.lost, c.sender_bounced, c.returned), (0, 0, 0), "{c:?}");
        assert_eq!(c.delivered, c.submitted, "{c:?}");
        // About 12/24 of a day's 3,000 mails, weighted to the daytime.
        assert!(mx_queue_peak(&sim) > 500, "held at the MX: peak {}", mx_queue_peak(&sim));
    }

    #[test]
    fn reject_4xx_leaves_mail_at_its_senders_which_deliver_it_after() {
        let hold = outage(InboundPolicy::AcceptAndHold);
        let sim = outage(InboundPolicy::Reject4xx);
        let c = &sim.world().counts;
        // A 12 h outage is shorter than every default profile's expiry.
        assert_eq!((c.lost, c.sender_bounced, c.returned), (0, 0, 0), "{c:?}");
        assert_eq!(c.delivered, c.submitted, "{c:?}");
        // The MX holds at most the probes: one per mailbox per 3 h refresh
        // (100 mailboxes, a 12 h outage: 5 each at most).
        let peak = mx_queue_peak(&sim);
        assert!(peak <= 500 && peak * 2 < mx_queue_peak(&hold), "peak {peak} vs {}", mx_queue_peak(&hold));
        let a = crate::availability::summarize(sim.world(), sim.names(), None, sim.now());
        assert!(a.smtp.failed > 100, "senders saw 4xx: {:?}", a.smtp);
    }

    #[test]
    fn reject_5xx_bounces_at_the_senders_during_the_outage() {
        let sim = outage(InboundPolicy::Reject5xx);
        let w = sim.world();
        let c = &w.counts;
        assert_eq!(c.lost, 0, "{c:?}");
        assert!(c.sender_bounced > 500, "refused mail is returned to its authors: {c:?}");
        assert_eq!(c.delivered + c.sender_bounced, c.submitted, "{c:?}");
        // Bounced at once, not at a profile's expiry (Exchange's is 2 d):
        // every mail is settled long before the run's end.
        w.settled_before(Time::from_hours(24)).expect("settled by T+24h");
        assert_eq!(c.returned, 0, "nothing expired in an MX queue");
    }
}
