//! Backups and snapshots of the mailstore, and the data faults they exist for:
//! what a restore brings back, how long it takes, and what is lost.
//!
//! What design reviews ask of it: a faulty software update corrupts a
//! volume (or every replica it reaches), a script deletes a share of the
//! mailboxes, or a volume is destroyed with its aggregate; the operators
//! restore from the newest good copy, and everything delivered after that
//! copy was taken is gone. GitLab.com's database outage of 31 January 2017
//! is the model of the second half: "we lost modifications to database data
//! ... that took place between 17:20 and 00:00 UTC", the age of the copy it
//! was restored from, and of five backup mechanisms none worked as
//! expected (GitLab, "Postmortem of database outage of January 31",
//! <https://about.gitlab.com/blog/2017/02/10/postmortem-of-database-outage-of-january-31/>).
//!
//! The model:
//! - A **backup set** ([`BackupSet`]) takes a copy of every mailbox at
//!   `first`, then every `every`, and keeps the newest `retention` copies;
//!   by default it also holds one copy from before the run (the mailboxes'
//!   contents at T+0). A copy of a mailbox that is damaged when the copy is
//!   taken is unusable (a backup of corrupt data).
//! - **Snapshots** live on the same storage as the volume: a data loss of
//!   a whole volume takes its snapshots with it; a corruption or the
//!   deletion of some mailboxes leaves them, which is what snapshots are
//!   for. Disk and tape backups live elsewhere and survive both.
//! - A **damaged** mailbox (corrupt or deleted data) can be neither read nor
//!   written until it is restored or recreated: new mail follows the
//!   unavailable-mailbox paths (temporary stores, the MTA's queue, the
//!   inbound policy).
//! - **Loss is decided as soon as it is certain**: a damaged mailbox's mail
//!   that no usable copy holds is lost at once (the ledger records each
//!   mail); when a copy expires or a set turns out corrupt, so is mail only
//!   it held. A restore puts back the newest usable copy of the set it names
//!   (all-or-nothing; it fails if the set is corrupt or lacks a copy of a
//!   mailbox to restore), and any mail of the mailbox that copy lacks is
//!   lost then. `recreate-accounts` gives up on the damaged mailboxes'
//!   data: they come back empty and their mail is lost.
//! - A restore takes `restore_setup` plus the data over the set's rate
//!   (`FilerConfig::mailbox_mb` per mailbox); snapshots restore in a time
//!   independent of size.
//! - Restored or recreated mailboxes get new identifiers unless the restore
//!   preserves them (`preserve_uids`): POP clients that leave mail on the
//!   server download it all again (RFC 1939 §7), IMAP clients resync their
//!   cache (RFC 3501 §2.3.1.1), counted per protocol (`clients.rs`). A
//!   plain file restore of a maildir recreates the index and its
//!   UIDVALIDITY; Dovecot's `doveadm backup`/dsync copies mailboxes so that
//!   "an IMAP or a POP3 client shouldn't be able to notice any differences"
//!   (dsync(1), <https://manpages.debian.org/testing/dovecot-core/doveadm-backup.1.en.html>),
//!   hence the default `preserve_uids = false` for a restore that is not
//!   said to be a dsync one.
//!
//! Defaults, per kind (all overridable):
//! - `snapshot`: hourly, six kept — ONTAP's `default` Snapshot policy keeps
//!   six hourly copies (with two daily and two weekly ones, not modelled).
//!   A restore is ONTAP's `volume snapshot restore`, which "replaces the
//!   current working copy of the volume with the Snapshot copy that results
//!   in a loss of all changes made since the Snapshot copy was created"
//!   (<https://docs.netapp.com/us-en/ontap-cli-9111//volume-snapshot-restore.html>);
//!   it moves pointers, not data, so it takes a fixed 5 min (an assumption
//!   for the command and remounting) whatever the size.
//! - `tape`: nightly, 30 kept (an assumption: a month of nightly tapes).
//!   LTO-8 streams 360 MB/s native (LTO Program specification, as quoted by
//!   OpenStorage, <http://openstorage.de/index.php?article_id=168&clang=1>);
//!   IBM's TS2290 (LTO-8) manual gives 15 s load-to-ready and 59 s average
//!   space from load point
//!   (<https://manuals.online/ibm/dc-drive/ts2290/user-manual/x5kt>), so a
//!   restore starts after 2 min (load and locate, rounded up) and streams at
//!   the native rate — an upper bound, which drives rarely reach with small
//!   files (Archiware, "Why LTO Tape Drives Never Reach Their Rated Speed",
//!   <https://blog.archiware.com/blog/why-lto-tape-drives-never-reach-their-rated-speed/>).
//! - `disk`: nightly, 14 kept (an assumption: two weeks), restored over a
//!   1 Gb/s link at 100 MB/s (its 125 MB/s line rate less protocol
//!   overhead; an assumption), after 1 min.

use mailsim_sim::{Dur, Time};

/// Where a backup set's copies live, which decides what destroys them and
/// how fast they restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackupKind {
    /// Snapshots on the volume's own storage: gone with a destroyed volume.
    Snapshot,
    /// Copies on a separate disk backup server.
    Disk,
    /// Copies on tape.
    Tape,
}

impl BackupKind {
    /// The kind as a scenario names it.
    pub fn name(self) -> &'static str {
        match self {
            BackupKind::Snapshot => "snapshot",
            BackupKind::Disk => "disk",
            BackupKind::Tape => "tape",
        }
    }
}

/// One backup set: a schedule of copies of every mailbox, their retention
/// and how fast they restore.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupSet {
    /// The set's name, as a restore step names it.
    pub name: String,
    /// Where its copies live.
    pub kind: BackupKind,
    /// The first copy in the run is taken this long after T+0.
    pub first: Dur,
    /// Then one copy every this long (positive).
    pub every: Dur,
    /// Copies kept: the oldest is dropped when a newer one is taken
    /// (at least 1).
    pub retention: u32,
    /// The set also holds a copy from before the run (the mailboxes'
    /// contents at T+0). Default true: a service runs its backups before
    /// the simulated window starts.
    pub initial_copy: bool,
    /// A restore's fixed part: mounting, loading and locating.
    pub restore_setup: Dur,
    /// Restore rate in MB/s; `None`: the restore takes `restore_setup`
    /// whatever the size (a snapshot restore moves pointers, not data).
    pub restore_mb_per_s: Option<u32>,
}

impl BackupSet {
    /// A set of `kind` with that kind's defaults (module doc), its first
    /// in-run copy after `first`.
    pub fn new(name: &str, kind: BackupKind, first: Dur) -> BackupSet {
        let (every, retention, restore_setup, restore_mb_per_s) = match kind {
            BackupKind::Snapshot => (Dur::hours(1), 6, Dur::mins(5), None),
            BackupKind::Disk => (Dur::days(1), 14, Dur::mins(1), Some(100)),
            BackupKind::Tape => (Dur::days(1), 30, Dur::mins(2), Some(360)),
        };
        BackupSet { name: name.to_string(), kind, first, every, retention, initial_copy: true, restore_setup, restore_mb_per_s }
    }

    /// Checks the set; an error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.every == Dur::ZERO {
            return Err(format!("backup `{}`: every must be positive", self.name));
        }
        if self.retention == 0 {
            return Err(format!("backup `{}`: retention must be at least 1", self.name));
        }
        if self.restore_mb_per_s == Some(0) {
            return Err(format!("backup `{}`: restore rate must be positive", self.name));
        }
        Ok(())
    }

    /// When the first copy due at or after `now` is taken.
    pub fn next_copy(&self, now: Time) -> Time {
        let first = Time::ZERO + self.first;
        if now <= first {
            return first;
        }
        let every = self.every.as_micros();
        let k = (now.since(first).as_micros()).div_ceil(every);
        first + Dur(k.saturating_mul(every))
    }

    /// How long restoring `mb` megabytes from this set takes.
    pub fn restore_time(&self, mb: u64) -> Dur {
        match self.restore_mb_per_s {
            None => self.restore_setup,
            Some(rate) => self.restore_setup + Dur::secs(mb.div_ceil(rate as u64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_follow_the_schedule_from_the_first() {
        let s = BackupSet::new("nightly", BackupKind::Tape, Dur::hours(1));
        assert_eq!(s.next_copy(Time::ZERO), Time::from_hours(1));
        assert_eq!(s.next_copy(Time::from_hours(1)), Time::from_hours(1));
        assert_eq!(s.next_copy(Time::from_hours(1) + Dur::secs(1)), Time::from_hours(25));
        assert_eq!(s.next_copy(Time::from_hours(49)), Time::from_hours(49));
    }

    #[test]
    fn a_tape_restore_takes_its_setup_plus_the_data_over_the_rate_and_a_snapshot_a_fixed_time() {
        let tape = BackupSet::new("t", BackupKind::Tape, Dur::ZERO);
        // 100 mailboxes of 1 GB at 360 MB/s: 102,400 MB / 360 = 285 s (rounded up), after 2 min.
        assert_eq!(tape.restore_time(102_400), Dur::secs(120 + 285));
        let snap = BackupSet::new("s", BackupKind::Snapshot, Dur::ZERO);
        assert_eq!(snap.restore_time(1), snap.restore_time(10_000_000));
        let disk = BackupSet::new("d", BackupKind::Disk, Dur::ZERO);
        assert!(disk.restore_time(102_400) > tape.restore_time(102_400), "disk at 100 MB/s is slower than LTO-8");
    }

    #[test]
    fn a_set_without_a_period_or_retention_or_rate_is_refused_naming_the_field() {
        let mut s = BackupSet::new("x", BackupKind::Disk, Dur::ZERO);
        s.every = Dur::ZERO;
        assert!(s.validate().unwrap_err().contains("every"));
        let mut s = BackupSet::new("x", BackupKind::Disk, Dur::ZERO);
        s.retention = 0;
        assert!(s.validate().unwrap_err().contains("retention"));
        let mut s = BackupSet::new("x", BackupKind::Disk, Dur::ZERO);
        s.restore_mb_per_s = Some(0);
        assert!(s.validate().unwrap_err().contains("rate"));
    }
}
