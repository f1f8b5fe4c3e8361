//! Coverage marks: *sometimes* statements about the models, such as "a fence
//! failed" or "a sender gave up on a mail". Each names a behaviour that some
//! run should reach; the component where it happens marks it when it does.
//! A run's marks are ghost state in the ledger (`World::marks`): they never
//! change what a component does and never enter a verdict, so a run that
//! reaches none is judged exactly as before. What they answer is whether a
//! sweep exercised what its scenario is about: a replay of a failed fence
//! that never marks `fence-failed` replays something else.
//!
//! This is the *sometimes* assertion of Antithesis (`assert_sometimes!`,
//! the Antithesis Rust SDK, docs.rs,
//! <https://docs.rs/antithesis_sdk/latest/antithesis_sdk/macro.assert_sometimes.html>) and
//! stateright's `Property::sometimes` (stateright documentation,
//! <https://docs.rs/stateright/latest/stateright/struct.Property.html>),
//! kept out of the verdict: the kernel's own `Sim::sometimes` fails a run
//! that never reaches its state, which suits a test but not a replay whose
//! seeds differ in what they reach (a misdiagnosis happens on some seeds
//! only). `mailsim run --json` lists a run's marks; `mailsim sweep` prints
//! how many seeds reached each mark and names the marks none reached.

use mailsim_sim::{Ctx, Time};

use crate::choice::Choice;
use crate::msg::Msg;
use crate::World;

/// A behaviour some run should reach: one entry of [`Mark::CHOICES`] each,
/// in the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    /// A fencing operation failed at its last level (`cluster.rs`).
    FenceFailed,
    /// Fencing gave up after its attempts: the cluster froze (`cluster.rs`).
    FencingGaveUp,
    /// An operator reset the cluster state by hand (`cluster.rs`).
    ClusterReset,
    /// The mail services started on another node (`cluster.rs`).
    Failover,
    /// A delivery or a login failed on the lock manager (`filer.rs`).
    LockFailed,
    /// Some mailboxes were unavailable (`filer.rs`).
    MailboxesOffline,
    /// A RAID group's rebuild completed (`filer.rs`).
    RebuildDone,
    /// A shelf collapsed under contention (`filer.rs`).
    StorageCollapsed,
    /// A volume moved to the new storage (`filer.rs`).
    VolumeMigrated,
    /// A temporary store took a mail (`filer.rs`).
    TempStoreTookMail,
    /// A temporary store's mail was merged into its mailbox (`filer.rs`).
    TempStoreMerged,
    /// A user read new mail from a temporary store (`clients.rs`).
    TempStoreServed,
    /// A client fetched a whole mailbox again (`clients.rs`).
    ClientRefetched,
    /// A sender's retry window ended and it gave up on a mail (`senders.rs`).
    SenderGaveUp,
    /// The first responder checked the wrong service (`ops.rs`).
    Misdiagnosis,
}

/// How many marks there are.
pub const MARKS: usize = Mark::CHOICES.len();

impl Mark {
    /// Every mark, in the order of [`Mark::CHOICES`].
    pub const ALL: [Mark; MARKS] = [
        Mark::FenceFailed,
        Mark::FencingGaveUp,
        Mark::ClusterReset,
        Mark::Failover,
        Mark::LockFailed,
        Mark::MailboxesOffline,
        Mark::RebuildDone,
        Mark::StorageCollapsed,
        Mark::VolumeMigrated,
        Mark::TempStoreTookMail,
        Mark::TempStoreMerged,
        Mark::TempStoreServed,
        Mark::ClientRefetched,
        Mark::SenderGaveUp,
        Mark::Misdiagnosis,
    ];

    /// Each mark's name and what reaching it means.
    pub const CHOICES: &'static [Choice] = &[
        Choice {
            name: "fence-failed",
            description: "A fencing operation failed at its last level (reported failure, timed out, or no device answered).",
        },
        Choice {
            name: "fencing-gave-up",
            description: "Fencing gave up after its attempts: the node stays unclean and nothing is started elsewhere (the cluster froze).",
        },
        Choice { name: "cluster-reset", description: "An operator reset the cluster state by hand (every unclean member confirmed off)." },
        Choice { name: "failover", description: "The mail services started on a node other than the one running them before." },
        Choice {
            name: "lock-failed",
            description: "A delivery or a login failed because the lock manager was broken or in its grace period.",
        },
        Choice {
            name: "mailboxes-offline",
            description: "Some mailboxes were unavailable (their volume offline, their data damaged, or their site down).",
        },
        Choice { name: "rebuild-done", description: "A RAID group's rebuild completed." },
        Choice { name: "storage-collapsed", description: "A shelf passed saturation and collapsed under contention (metastable failure)." },
        Choice { name: "volume-migrated", description: "A volume moved to the new storage." },
        Choice { name: "temp-store-took-mail", description: "A temporary store took a mail for a mailbox that was unavailable." },
        Choice { name: "temp-store-merged", description: "A temporary store's mail was merged into its restored mailbox." },
        Choice { name: "temp-store-served", description: "A user read new mail from a temporary store." },
        Choice {
            name: "client-refetched",
            description: "A client fetched a whole mailbox again (a POP UIDL or an IMAP UIDVALIDITY change): client-visible duplicates.",
        },
        Choice {
            name: "sender-gave-up",
            description: "A sender's retry window ended before the mail got through: it bounced the mail to its author.",
        },
        Choice { name: "misdiagnosis", description: "The first responder checked the wrong service; someone else noticed later." },
    ];

    /// The mark's name (`fence-failed`).
    pub fn name(self) -> &'static str {
        Mark::CHOICES[self as usize].name
    }
}

/// The marks one run reached: for each, when first and how often.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    first: [Option<Time>; MARKS],
    count: [u64; MARKS],
}

impl Marks {
    /// Notes that `mark` was reached at `now`.
    pub fn hit(&mut self, mark: Mark, now: Time) {
        let i = mark as usize;
        self.first[i] = Some(self.first[i].map_or(now, |t| t.min(now)));
        self.count[i] += 1;
    }
    /// When `mark` was first reached, if it was.
    pub fn first(&self, mark: Mark) -> Option<Time> {
        self.first[mark as usize]
    }
    /// How often `mark` was reached.
    pub fn count(&self, mark: Mark) -> u64 {
        self.count[mark as usize]
    }
    /// The marks reached, in the order of [`Mark::ALL`], with when first and
    /// how often.
    pub fn reached(&self) -> impl Iterator<Item = (Mark, Time, u64)> + '_ {
        Mark::ALL.into_iter().filter_map(|m| self.first(m).map(|t| (m, t, self.count(m))))
    }
}

/// Marks `mark` as reached now, from a component's handler.
pub fn reach(ctx: &mut Ctx<'_, Msg, World>, mark: Mark) {
    let now = ctx.now();
    ctx.world.marks.hit(mark, now);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_and_the_table_agree() {
        for (i, m) in Mark::ALL.iter().enumerate() {
            assert_eq!(*m as usize, i, "{m:?} out of order");
        }
        let mut names: Vec<&str> = Mark::CHOICES.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MARKS, "mark names are unique");
    }

    #[test]
    fn a_mark_keeps_its_first_time_and_its_count() {
        let mut m = Marks::default();
        assert_eq!(m.reached().count(), 0);
        m.hit(Mark::FenceFailed, Time::from_hours(2));
        m.hit(Mark::FenceFailed, Time::from_hours(3));
        assert_eq!(m.first(Mark::FenceFailed), Some(Time::from_hours(2)));
        assert_eq!(m.count(Mark::FenceFailed), 2);
        assert_eq!(m.first(Mark::Failover), None);
        assert_eq!(m.reached().collect::<Vec<_>>(), vec![(Mark::FenceFailed, Time::from_hours(2), 2)]);
    }
}
