//! The custody journal: every transition of every mail in a harness run, in
//! the order the simulated hosts made them, for the models' ledger to judge.
//!
//! The ledger (`mailsim_models::ledger`) checks transitions inside the
//! kernel, where a node reports through its `Ctx`. Protocol code runs inside
//! turmoil or madsim instead, so it writes the same transitions here, each
//! with its simulated time and host, and `audit` replays them through the
//! ledger afterwards, in the same order. The journal is ghost state like the
//! ledger: no host reads it to decide anything (the driver reads it only to
//! end a run once every mail is settled).
//!
//! Who reports what, and why there:
//! - `Written`: the sender, when an author's mail arrives (ids in order);
//! - `Acknowledged`: the **sender**, when it reads 250 after DATA — the
//!   promise as the internet sees it, whatever the server meant by it;
//! - `Enqueued` / `Dequeued`: the spool (`spool.rs`), once the queue record
//!   (or its removal) is synced to the simulated disk;
//! - `Delivered`: the store, once the mailbox append is synced;
//! - `Returned`: the relay, when a mail expires in the queue (a DSN);
//! - `SenderBounced`: the sender, when its retry profile gives up.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mailsim_models::MailId;

/// One custody transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// An author wrote the mail for mailbox `rcpt`; its sender holds it.
    Written {
        /// The recipient's mailbox.
        rcpt: u32,
    },
    /// The sender read 250 after DATA: the receiver is responsible now.
    Acknowledged,
    /// A queue record of the mail became durable on the reporting host.
    Enqueued,
    /// The removal of a queue record of the mail became durable.
    Dequeued,
    /// A copy of the mail is durably in its mailbox.
    Delivered,
    /// The mail expired in a queue and went back to its author (DSN).
    Returned,
    /// The sender gave up on a mail it never got accepted.
    SenderBounced,
}

/// A transition with when and where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Simulated time since the start of the run.
    pub at: Duration,
    /// The host that reported it.
    pub host: Arc<str>,
    /// The mail.
    pub mail: MailId,
    /// What happened.
    pub what: Transition,
}

/// A diagnostic note about a mail (an attempt and its result): not custody,
/// not judged; for reading why a mail was late.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Simulated time since the start of the run.
    pub at: Duration,
    /// The host that wrote it.
    pub host: Arc<str>,
    /// The mail.
    pub mail: MailId,
    /// What happened.
    pub text: String,
}

#[derive(Default)]
struct Inner {
    events: Vec<Event>,
    notes: Vec<Note>,
    failures: Vec<String>,
    /// Per mail: settled (delivered, returned or given up by its sender).
    settled: Vec<bool>,
    settled_count: usize,
    /// Per mail: durable queue records.
    queued: Vec<u32>,
    queued_count: u64,
    /// Sockets each host opened to connect (`connector`).
    sockets: BTreeMap<Arc<str>, u64>,
    /// `Setup::naive_connects`, for the hosts' connectors.
    naive_connects: bool,
}

/// The journal of one run, shared by every host (cheap to clone).
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Inner>>);

impl Journal {
    /// An empty journal.
    pub fn new() -> Journal {
        Journal::default()
    }

    /// An empty journal for a run whose connectors are naive
    /// (`Setup::naive_connects`).
    pub fn with_naive_connects(naive: bool) -> Journal {
        let j = Journal::default();
        j.lock().naive_connects = naive;
        j
    }

    /// Whether the run's connectors are naive.
    pub fn naive_connects(&self) -> bool {
        self.lock().naive_connects
    }

    /// Counts a socket `host` opened to connect (diagnostics, not custody).
    pub fn socket(&self, host: &Arc<str>) {
        *self.lock().sockets.entry(host.clone()).or_default() += 1;
    }

    /// Sockets each host opened to connect, so far.
    pub fn sockets(&self) -> BTreeMap<Arc<str>, u64> {
        self.lock().sockets.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock is already a recorded failure; the
        // journal's data stays consistent (each push is one statement).
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a transition of `mail` at `host`, now.
    pub fn record(&self, host: &Arc<str>, mail: MailId, what: Transition) {
        let at = crate::engine::now();
        let mut j = self.lock();
        let i = mail as usize;
        if j.settled.len() <= i {
            j.settled.resize(i + 1, false);
            j.queued.resize(i + 1, 0);
        }
        match what {
            Transition::Delivered | Transition::Returned | Transition::SenderBounced if !j.settled[i] => {
                j.settled[i] = true;
                j.settled_count += 1;
            }
            Transition::Enqueued => {
                j.queued[i] += 1;
                j.queued_count += 1;
            }
            Transition::Dequeued => {
                j.queued[i] = j.queued[i].saturating_sub(1);
                j.queued_count = j.queued_count.saturating_sub(1);
            }
            _ => {}
        }
        j.events.push(Event { at, host: host.clone(), mail, what });
    }

    /// Notes an attempt about `mail` at `host` (diagnostics only).
    pub fn note(&self, host: &Arc<str>, mail: MailId, text: String) {
        let at = crate::engine::now();
        self.lock().notes.push(Note { at, host: host.clone(), mail, text });
    }

    /// The notes so far, in order.
    pub fn notes(&self) -> Vec<Note> {
        self.lock().notes.clone()
    }

    /// Records a failure of the run that is not a custody transition: a task
    /// that panicked, a host that returned an error.
    pub fn fail(&self, why: String) {
        self.lock().failures.push(why);
    }

    /// Every mail of `mails` is settled and no queue record is left: the
    /// run has nothing more to do.
    pub fn quiescent(&self, mails: usize) -> bool {
        let j = self.lock();
        j.settled_count >= mails && j.queued_count == 0
    }

    /// Mails settled so far.
    pub fn settled(&self) -> usize {
        self.lock().settled_count
    }

    /// The events so far, in order.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    /// The failures so far.
    pub fn failures(&self) -> Vec<String> {
        self.lock().failures.clone()
    }
}
