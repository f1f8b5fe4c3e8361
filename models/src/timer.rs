//! Typed timers: which component set a timer, and what for.
//!
//! The kernel carries a timer as a bare `u64` tag (`Ctx::set_timer`,
//! `Input::Timer`), because it knows nothing about the components. The
//! models never build or read those bits by hand: a component sets a
//! [`Timer`] (or one of its per-component enums, which convert into it) and
//! decodes a fired tag with [`Timer::from_tag`]. The conversion is the only
//! place the bit layout lives, so two components hosted on one node (an MTA
//! and a cluster agent on one machine, `host.rs`) cannot mistake each
//! other's timers, and a payload too large for its field is a model bug
//! caught at the boundary rather than a silently wrong timer.
//!
//! Layout of a tag (kept from the bit-packed tags this replaces, so traces
//! and trace hashes are unchanged): the component in the top byte, the
//! timer's kind in the next byte, its argument in the low 48 bits.

use mailsim_sim::{Ctx, Dur, Message, TimerId};

/// A timer of one of the models' components, or of a component a user adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A mail node's timers (`mta.rs`).
    Mta(MtaTimer),
    /// The cluster agents' and fencing devices' timers (`cluster.rs`).
    Cluster(ClusterTimer),
    /// The internet senders' timers (`senders.rs`).
    Sender(SenderTimer),
    /// The file server's timers (`filer.rs`).
    Store(StoreTimer),
    /// Monitoring's and the operators' timers (`ops.rs`).
    Ops(OpsTimer),
    /// The mail readers' timers (`clients.rs`).
    Client(ClientTimer),
    /// A timer of a component outside this crate (a test's fake, a user's
    /// own model component): its meaning is the component's own. The value
    /// must fit in 56 bits.
    Custom(u64),
}

/// A mail node's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtaTimer {
    /// The shared deadline timer of its `retry::Deadlines`.
    Deadline,
    /// The next hourly queue-depth sample.
    Depth,
}

/// The cluster agents' and fencing devices' timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterTimer {
    /// An agent's heartbeat interval.
    Tick,
    /// An agent's join timeout after boot.
    Join,
    /// An agent's fencing request `request` took too long.
    FenceTimeout {
        /// The fencing request this timer watches.
        request: u64,
    },
    /// A fencing device finished its pending request `seq`.
    FenceDone {
        /// The device's sequence number of the request.
        seq: u64,
    },
}

/// The internet senders' timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SenderTimer {
    /// The shared deadline timer of its `retry::Deadlines`.
    Deadline,
}

/// The file server's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreTimer {
    /// The next storage event (rebuild progress, migration) is due.
    Storage,
    /// A hang ends.
    HangEnd,
    /// The lock manager's grace period ends.
    GraceEnd,
    /// Backup set `set` takes its next copy.
    Backup {
        /// The set, by index in `FilerConfig::backups`.
        set: u32,
    },
    /// The running restore is done.
    RestoreDone,
    /// The link between the mailstore's copies heals (`replication.rs`).
    ReplicaHeal,
}

/// Monitoring's and the operators' timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpsTimer {
    /// Monitoring checks target `target`.
    Check {
        /// Index of the monitored target.
        target: usize,
    },
    /// The on-call operator responds to an alert.
    Respond,
    /// The operators notice what the alert means.
    Notice,
    /// Runbook step `step` is due (its trigger or a retry).
    Step {
        /// Index of the step in the recovery plan.
        step: usize,
    },
    /// The operators finished the work before step `step`'s command.
    Work {
        /// Index of the step in the recovery plan.
        step: usize,
    },
}

/// The mail readers' timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientTimer {
    /// User `user` checks their mailbox.
    Check {
        /// Index of the user.
        user: usize,
    },
    /// User `user`'s check number `generation` (mod 2^20) timed out.
    Timeout {
        /// Index of the user.
        user: usize,
        /// The check it belongs to (the low 20 bits of the user's counter).
        generation: u32,
    },
}

const COMPONENT_SHIFT: u32 = 56;
const KIND_SHIFT: u32 = 48;
const ARG: u64 = (1 << KIND_SHIFT) - 1;
const KIND: u64 = 0xff;
/// Users and generations of client timeouts take 20 bits each.
const USER_BITS: u32 = 20;
const USER: u64 = (1 << USER_BITS) - 1;

const fn pack(component: u64, kind: u64, arg: u64) -> u64 {
    assert!(arg <= ARG, "a timer argument fits in 48 bits");
    component << COMPONENT_SHIFT | kind << KIND_SHIFT | arg
}

impl Timer {
    /// The kernel tag of this timer.
    ///
    /// # Panics
    /// When an argument does not fit its field (a model bug: more than
    /// 2^48 steps or requests, more than 2^20 users, a custom value past 56
    /// bits).
    pub const fn tag(self) -> u64 {
        match self {
            Timer::Mta(MtaTimer::Deadline) => pack(1, 0, 0),
            Timer::Mta(MtaTimer::Depth) => pack(1, 0, 1),
            Timer::Cluster(ClusterTimer::FenceDone { seq }) => pack(2, 0, seq),
            Timer::Cluster(ClusterTimer::Tick) => pack(2, 1, 0),
            Timer::Cluster(ClusterTimer::Join) => pack(2, 2, 0),
            Timer::Cluster(ClusterTimer::FenceTimeout { request }) => pack(2, 3, request),
            Timer::Sender(SenderTimer::Deadline) => pack(3, 0, 0),
            Timer::Store(StoreTimer::Storage) => pack(4, 0, 1),
            Timer::Store(StoreTimer::HangEnd) => pack(4, 0, 2),
            Timer::Store(StoreTimer::GraceEnd) => pack(4, 0, 3),
            Timer::Store(StoreTimer::RestoreDone) => pack(4, 0, 4),
            Timer::Store(StoreTimer::ReplicaHeal) => pack(4, 0, 5),
            Timer::Store(StoreTimer::Backup { set }) => pack(4, 1, set as u64),
            Timer::Ops(OpsTimer::Check { target }) => pack(5, 1, target as u64),
            Timer::Ops(OpsTimer::Respond) => pack(5, 3, 0),
            Timer::Ops(OpsTimer::Notice) => pack(5, 4, 0),
            Timer::Ops(OpsTimer::Step { step }) => pack(5, 5, step as u64),
            Timer::Ops(OpsTimer::Work { step }) => pack(5, 6, step as u64),
            Timer::Client(ClientTimer::Check { user }) => {
                assert!(user as u64 <= USER, "a client timer's user fits in 20 bits");
                pack(6, 0, user as u64)
            }
            Timer::Client(ClientTimer::Timeout { user, generation }) => {
                assert!(user as u64 <= USER, "a client timer's user fits in 20 bits");
                assert!(generation as u64 <= USER, "a client timer's generation fits in 20 bits");
                pack(6, 0, 1 << 40 | (generation as u64) << USER_BITS | user as u64)
            }
            Timer::Custom(v) => {
                assert!(v < 1 << COMPONENT_SHIFT, "a custom timer fits in 56 bits");
                7 << COMPONENT_SHIFT | v
            }
        }
    }

    /// The timer a kernel tag stands for; `None` for a tag no timer of
    /// this enum produces.
    pub const fn from_tag(tag: u64) -> Option<Timer> {
        let arg = tag & ARG;
        let kind = tag >> KIND_SHIFT & KIND;
        Some(match (tag >> COMPONENT_SHIFT, kind) {
            (1, 0) if arg == 0 => Timer::Mta(MtaTimer::Deadline),
            (1, 0) if arg == 1 => Timer::Mta(MtaTimer::Depth),
            (2, 0) => Timer::Cluster(ClusterTimer::FenceDone { seq: arg }),
            (2, 1) if arg == 0 => Timer::Cluster(ClusterTimer::Tick),
            (2, 2) if arg == 0 => Timer::Cluster(ClusterTimer::Join),
            (2, 3) => Timer::Cluster(ClusterTimer::FenceTimeout { request: arg }),
            (3, 0) if arg == 0 => Timer::Sender(SenderTimer::Deadline),
            (4, 0) if arg == 1 => Timer::Store(StoreTimer::Storage),
            (4, 0) if arg == 2 => Timer::Store(StoreTimer::HangEnd),
            (4, 0) if arg == 3 => Timer::Store(StoreTimer::GraceEnd),
            (4, 0) if arg == 4 => Timer::Store(StoreTimer::RestoreDone),
            (4, 0) if arg == 5 => Timer::Store(StoreTimer::ReplicaHeal),
            (4, 1) => Timer::Store(StoreTimer::Backup { set: arg as u32 }),
            (5, 1) => Timer::Ops(OpsTimer::Check { target: arg as usize }),
            (5, 3) if arg == 0 => Timer::Ops(OpsTimer::Respond),
            (5, 4) if arg == 0 => Timer::Ops(OpsTimer::Notice),
            (5, 5) => Timer::Ops(OpsTimer::Step { step: arg as usize }),
            (5, 6) => Timer::Ops(OpsTimer::Work { step: arg as usize }),
            (6, 0) if arg >> 40 == 0 && arg <= USER => Timer::Client(ClientTimer::Check { user: arg as usize }),
            (6, 0) if arg >> 40 == 1 => {
                let user = (arg & USER) as usize;
                let generation = (arg >> USER_BITS & USER) as u32;
                Timer::Client(ClientTimer::Timeout { user, generation })
            }
            (7, _) => Timer::Custom(tag & ((1 << COMPONENT_SHIFT) - 1)),
            _ => return None,
        })
    }
}

impl From<Timer> for u64 {
    fn from(t: Timer) -> u64 {
        t.tag()
    }
}

macro_rules! into_timer {
    ($($sub:ident => $variant:ident),*) => {$(
        impl From<$sub> for Timer {
            fn from(t: $sub) -> Timer {
                Timer::$variant(t)
            }
        }
    )*};
}
into_timer!(MtaTimer => Mta, ClusterTimer => Cluster, SenderTimer => Sender, StoreTimer => Store, OpsTimer => Ops, ClientTimer => Client);

/// Setting a typed timer through the kernel's context.
pub trait SetTimer {
    /// Sets `timer` to fire after `after`; the id cancels it.
    fn set(&mut self, after: Dur, timer: impl Into<Timer>) -> TimerId;
}

impl<M: Message, W> SetTimer for Ctx<'_, M, W> {
    fn set(&mut self, after: Dur, timer: impl Into<Timer>) -> TimerId {
        self.set_timer(after, timer.into().tag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<Timer> {
        vec![
            Timer::Mta(MtaTimer::Deadline),
            Timer::Mta(MtaTimer::Depth),
            Timer::Store(StoreTimer::RestoreDone),
            Timer::Store(StoreTimer::ReplicaHeal),
            Timer::Store(StoreTimer::Backup { set: 0 }),
            Timer::Store(StoreTimer::Backup { set: 3 }),
            Timer::Cluster(ClusterTimer::Tick),
            Timer::Cluster(ClusterTimer::Join),
            Timer::Cluster(ClusterTimer::FenceTimeout { request: 0 }),
            Timer::Cluster(ClusterTimer::FenceTimeout { request: (1 << 48) - 1 }),
            Timer::Cluster(ClusterTimer::FenceDone { seq: 0 }),
            Timer::Cluster(ClusterTimer::FenceDone { seq: 77 }),
            Timer::Sender(SenderTimer::Deadline),
            Timer::Store(StoreTimer::Storage),
            Timer::Store(StoreTimer::HangEnd),
            Timer::Store(StoreTimer::GraceEnd),
            Timer::Ops(OpsTimer::Check { target: 3 }),
            Timer::Ops(OpsTimer::Respond),
            Timer::Ops(OpsTimer::Notice),
            Timer::Ops(OpsTimer::Step { step: 0 }),
            Timer::Ops(OpsTimer::Step { step: 9 }),
            Timer::Ops(OpsTimer::Work { step: 9 }),
            Timer::Client(ClientTimer::Check { user: 0 }),
            Timer::Client(ClientTimer::Check { user: (1 << 20) - 1 }),
            Timer::Client(ClientTimer::Timeout { user: 5, generation: 0 }),
            Timer::Client(ClientTimer::Timeout { user: (1 << 20) - 1, generation: (1 << 20) - 1 }),
            Timer::Custom(0),
            Timer::Custom((1 << 56) - 1),
        ]
    }

    #[test]
    fn every_timer_comes_back_from_its_tag_and_no_two_share_one() {
        let all = every_kind();
        for t in &all {
            assert_eq!(Timer::from_tag(t.tag()), Some(*t), "{t:?}");
        }
        let mut tags: Vec<u64> = all.iter().map(|t| t.tag()).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), all.len(), "two timers share a tag");
    }

    #[test]
    fn tags_keep_the_layout_of_the_traces_recorded_before_typed_timers() {
        // The bit-packed tags the typed timers replaced: a trace hash
        // covers timer tags, so the layout must not move.
        assert_eq!(Timer::Mta(MtaTimer::Depth).tag(), 1 << 56 | 1);
        assert_eq!(Timer::Ops(OpsTimer::Step { step: 4 }).tag(), 5 << 56 | 5 << 48 | 4);
        assert_eq!(Timer::Client(ClientTimer::Timeout { user: 2, generation: 3 }).tag(), 6 << 56 | 1 << 40 | 3 << 20 | 2);
        assert_eq!(Timer::Cluster(ClusterTimer::FenceTimeout { request: 8 }).tag(), 2 << 56 | 3 << 48 | 8);
    }

    #[test]
    fn a_tag_no_component_sets_is_not_a_timer() {
        for tag in [0, 8 << 56, 1 << 56 | 2, 5 << 56 | 2 << 48, 4 << 56] {
            assert_eq!(Timer::from_tag(tag), None, "{tag:#x}");
        }
    }

    #[test]
    #[should_panic(expected = "fits in 20 bits")]
    fn a_user_past_the_field_is_a_model_bug() {
        Timer::Client(ClientTimer::Check { user: 1 << 20 }).tag();
    }
}
