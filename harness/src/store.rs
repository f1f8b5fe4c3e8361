//! The mailstore host (`filer`): an SMTP (LMTP-style) receiver that appends
//! each mail to its recipient's mailbox file under that mailbox's lock,
//! fsyncs, and only then answers 250 and reports `Delivered`.
//!
//! It stands for the models' file server plus the delivery agent's write:
//! one mbox file per mailbox on the simulated disk, a lock per mailbox (a
//! tokio mutex: two deliveries to one mailbox never interleave their
//! appends), and duplicate suppression by mail id (Cyrus
//! `duplicatesuppression`): a mail delivered again after an MX lost its
//! spool removal is answered 250 without a second copy. The ids are read
//! back from the mailbox file after a restart, so suppression survives
//! crashes.
//!
//! Faults it takes from the driver (`Controls`): `lock_broken` makes every
//! delivery answer 451 (the models' `lock-broken`: an NFS lock manager that
//! grants no lock, as after the ECCS 2018 upgrade) until `StoreRecovers`;
//! a hang (`Fault::StoreHang`, the models' `hang`) holds every mail whose
//! DATA arrived until the hang ends, then writes and answers it — even
//! when the relay gave up on the reply meanwhile (its 1000 s limit). That
//! is the models' file server, which serves the requests it received
//! during a hang when it ends, and an NFS server's: a write request that
//! reached a hung server is carried out when it recovers, whether or not
//! the client still waits (the MTA then retries, and the duplicate is
//! suppressed). A hang of the network instead (turmoil hold) would hold
//! the relay's connect, and an SMTP client that gave up before the
//! release has sent no mail at all: conformance found the harness's
//! deliveries begun early in a hang arriving a whole retry later than the
//! models' (ARCHITECTURE.md, "Conformance").
//!
//! Like the models' file server (`filer.rs`) and a real NLM, the lock
//! manager starts in a grace period of 45–90 s (drawn from the run seed)
//! when the store restarts and after `lock-restart`, answering 451
//! meanwhile.
//! Conformance found this missing: without it the harness delivered right at
//! a store's restart, where the models (and NFS) defer once more.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailsim_sim::Stream;
use smtp_proto::Request;

use crate::engine::{self, DurableFile};
use crate::journal::{Journal, Transition};
use crate::smtp::{self, Incoming, ServerConn};

/// The shortest lock grace period (the models' `lock_grace_min`).
pub const LOCK_GRACE_MIN: Duration = Duration::from_secs(45);
/// The longest lock grace period (the models' `lock_grace_max`).
pub const LOCK_GRACE_MAX: Duration = Duration::from_secs(90);

/// Switches the driver flips on the store from outside (faults), and the
/// lock manager's grace period, which outlives a boot.
#[derive(Debug)]
pub struct Controls {
    /// Every delivery is answered 451 (no mailbox lock to be had).
    pub lock_broken: AtomicBool,
    /// No lock is granted before this simulated time (µs): grace period.
    grace_until_us: AtomicU64,
    /// Draws the grace periods (stream `harness/filer/grace`).
    grace: Mutex<Stream>,
    /// Boots of the store so far (the first has no grace: the models'
    /// file server starts in grace only when restarted).
    boots: AtomicU64,
    /// The file server hangs until this simulated time (µs): no mailbox
    /// write is done, or answered, before it.
    hung_until_us: AtomicU64,
}

impl Controls {
    /// Controls for a run of `seed`: nothing broken, no grace yet.
    pub fn new(seed: u64) -> Controls {
        Controls {
            lock_broken: AtomicBool::new(false),
            grace_until_us: AtomicU64::new(0),
            grace: Mutex::new(Stream::new(seed, "harness/filer/grace")),
            boots: AtomicU64::new(0),
            hung_until_us: AtomicU64::new(0),
        }
    }

    /// The lock manager (re)starts now: no lock for a grace period.
    pub fn start_grace(&self) {
        self.start_grace_at(engine::now());
    }

    /// The lock manager (re)starts at `now` (for the driver, which runs
    /// outside every host).
    pub fn start_grace_at(&self, now: Duration) {
        let span = (LOCK_GRACE_MAX - LOCK_GRACE_MIN).as_micros() as u64;
        let extra = self.grace.lock().unwrap_or_else(|e| e.into_inner()).below(span + 1);
        let until = now.as_micros() as u64 + LOCK_GRACE_MIN.as_micros() as u64 + extra;
        self.grace_until_us.store(until, Ordering::Relaxed);
    }

    /// The file server hangs until `until` (a later hang extends an
    /// earlier one, as in the models).
    pub fn hang_until(&self, until: Duration) {
        self.hung_until_us.fetch_max(until.as_micros() as u64, Ordering::Relaxed);
    }

    /// Waits out a hang of the file server, if one is on (and any hang
    /// that extends it meanwhile).
    async fn wait_hang(&self) {
        loop {
            let (now, until) = (engine_now_us(), self.hung_until_us.load(Ordering::Relaxed));
            if now >= until {
                return;
            }
            engine::sleep(Duration::from_micros(until - now)).await;
        }
    }

    fn in_grace(&self) -> bool {
        engine_now_us() < self.grace_until_us.load(Ordering::Relaxed)
    }
}

fn engine_now_us() -> u64 {
    engine::now().as_micros() as u64
}

struct Mailbox {
    file: DurableFile,
    ids: BTreeSet<u32>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Mailbox>>>;

/// The store's state on one boot: the mailbox locks (volatile, as a lock
/// manager's are).
struct Store {
    host: Arc<str>,
    mailboxes: u32,
    journal: Journal,
    controls: Arc<Controls>,
    locks: Mutex<BTreeMap<u32, Slot>>,
}

/// Runs the store on this host until it crashes.
pub async fn serve(host: Arc<str>, port: u16, mailboxes: u32, journal: Journal, controls: Arc<Controls>) -> std::io::Result<()> {
    if controls.boots.fetch_add(1, Ordering::Relaxed) > 0 {
        controls.start_grace();
    }
    let store = Arc::new(Store { host, mailboxes, journal, controls, locks: Mutex::new(BTreeMap::new()) });
    let listener = engine::bind(port).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let s = store.clone();
        engine::spawn(&store.journal, "store session", async move {
            let _ = session(ServerConn::new(stream), s).await;
        });
    }
}

fn path(mailbox: u32) -> String {
    format!("/var/mail/mbox-{mailbox}")
}

/// The mail ids in a mailbox file (each mail follows a `From mailsim <id>`
/// line).
fn ids_in(data: &[u8]) -> BTreeSet<u32> {
    let mut ids = BTreeSet::new();
    for line in data.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"From mailsim ") {
            if let Some(id) = std::str::from_utf8(rest).ok().and_then(|s| s.trim().parse().ok()) {
                ids.insert(id);
            }
        }
    }
    ids
}

enum Appended {
    New,
    Duplicate,
}

impl Store {
    async fn append(&self, mailbox: u32, id: u32, message: &[u8]) -> std::io::Result<Appended> {
        let slot = self.locks.lock().unwrap_or_else(|e| e.into_inner()).entry(mailbox).or_default().clone();
        let mut guard = slot.lock().await;
        if guard.is_none() {
            let (file, data) = DurableFile::open(&path(mailbox)).await?;
            *guard = Some(Mailbox { file, ids: ids_in(&data) });
        }
        let mb = guard.as_mut().expect("opened above");
        if mb.ids.contains(&id) {
            return Ok(Appended::Duplicate);
        }
        let mut record = format!("From mailsim {id}\n").into_bytes();
        record.extend_from_slice(message);
        mb.file.append(&record).await?;
        mb.file.sync().await?;
        mb.ids.insert(id);
        self.journal.record(&self.host, id, Transition::Delivered);
        Ok(Appended::New)
    }
}

async fn session(mut conn: ServerConn<engine::TcpStream>, store: Arc<Store>) -> std::io::Result<()> {
    conn.reply(220, &format!("{} LMTP-ish mailstore", store.host)).await?;
    let mut rcpt: Option<u32> = None;
    while let Some(incoming) = conn.next().await? {
        let req = match incoming {
            Incoming::Command(req) => req,
            Incoming::Bad(why) => {
                conn.reply(500, &format!("5.5.2 syntax error ({why})")).await?;
                continue;
            }
        };
        match req {
            Request::Ehlo { .. } | Request::Helo { .. } | Request::Lhlo { .. } => conn.reply(250, &store.host).await?,
            Request::Mail { .. } => {
                rcpt = None;
                conn.reply(250, "2.1.0 ok").await?;
            }
            Request::Rcpt { to } => match smtp::mailbox_of(&to.address).filter(|&n| n < store.mailboxes) {
                Some(n) => {
                    rcpt = Some(n);
                    conn.reply(250, "2.1.5 ok").await?;
                }
                None => conn.reply(550, "5.1.1 no such mailbox").await?,
            },
            Request::Data => {
                let Some(n) = rcpt.take() else {
                    conn.reply(503, "5.5.1 RCPT first").await?;
                    continue;
                };
                conn.reply(354, "go ahead").await?;
                let Some(message) = conn.read_data().await? else { return Ok(()) };
                let Some(id) = smtp::mail_id(&message) else {
                    conn.reply(554, "5.6.0 no X-Mailsim-Id header").await?;
                    continue;
                };
                store.controls.wait_hang().await;
                if store.controls.lock_broken.load(Ordering::Relaxed) {
                    conn.reply(451, "4.2.0 mailbox lock unavailable").await?;
                    continue;
                }
                if store.controls.in_grace() {
                    conn.reply(451, "4.2.0 lock manager in grace period").await?;
                    continue;
                }
                match store.append(n, id, &message).await {
                    Ok(Appended::New) => conn.reply(250, "2.0.0 delivered").await?,
                    Ok(Appended::Duplicate) => conn.reply(250, "2.0.0 already delivered").await?,
                    Err(e) => conn.reply(451, &format!("4.3.0 mailbox write failed: {e}")).await?,
                }
            }
            Request::Rset => {
                rcpt = None;
                conn.reply(250, "2.0.0 ok").await?;
            }
            Request::Noop { .. } => conn.reply(250, "2.0.0 ok").await?,
            Request::Quit => {
                conn.reply(221, "2.0.0 bye").await?;
                return Ok(());
            }
            _ => conn.reply(502, "5.5.1 not implemented").await?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_ids_are_read_back_from_the_file() {
        let data = b"From mailsim 3\nX-Mailsim-Id: 3\r\n\r\nbody\r\nFrom mailsim 11\nX-Mailsim-Id: 11\r\n\r\nb\r\n";
        assert_eq!(ids_in(data), BTreeSet::from([3, 11]));
    }
}
