//! Connects to other hosts so that a long outage costs few sockets: while a
//! destination is believed down (its last connect failed or was given up),
//! at most one connect to it is in flight — a *probe* — and every other
//! caller waits for the probe's answer instead of opening a socket of its
//! own.
//!
//! Why: turmoil leaks a socket and an ephemeral port on every connect that
//! is refused or given up, and after 16,384 of them (its default port range)
//! the host panics with "ports exhausted". Without this, each delivery
//! attempt to a silent host leaks one: a day-long outage with a few hundred
//! mails in flight is enough. With it, a silent destination costs one socket
//! per probe timeout (one per 1000 s from a relay to a hung store, one per
//! 30 s from the senders to a dead MX), whatever the number of mails.
//!
//! What callers see does not change: a caller that waits for a probe is
//! still bounded by its own timeout (it gives up when it would have given
//! up on its own connect), it connects as soon as the probe gets through
//! (the destination answers again), and it fails at once with the probe's
//! error when the destination refuses. The probe has the full probe
//! timeout even when the caller that started it gives up sooner, and a new
//! probe starts when one times out while callers still wait.
//!
//! Real mail software limits connects to a failing destination in a
//! similar way: Postfix's queue manager suspends delivery to a destination
//! after connection failures and keeps it in a short-term destination
//! status cache (`default_destination_concurrency_failed_cohort_limit`,
//! `minimal_backoff_time`; "Postfix Configuration Parameters", postconf(5),
//! The Postfix Project, <https://www.postfix.org/postconf.5.html>). This
//! is a milder rule — no extra waiting, one probe at a time — so that delay
//! figures stay those of per-mail retries, which the models compute.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::engine::{self, TcpStream};
use crate::journal::Journal;

/// What the last probe of a destination found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    /// It answered: the destination is up.
    Up,
    /// It was refused (or failed) with this error kind.
    Refused(io::ErrorKind),
    /// No answer within the probe timeout.
    Silent,
}

struct Dest {
    /// The last connect failed or was given up, and none got through since.
    down: bool,
    /// A probe is in flight.
    probing: bool,
    /// Callers waiting for the probe.
    waiting: usize,
    /// What the last probe found.
    found: Found,
    /// Bumped at each probe's answer.
    answers: watch::Sender<u64>,
}

impl Dest {
    fn new() -> Dest {
        Dest { down: false, probing: false, waiting: 0, found: Found::Up, answers: watch::Sender::new(0) }
    }
}

type Key = (String, u16);

struct Inner {
    dests: BTreeMap<Key, Dest>,
}

/// One host's connects to the others (cheap to clone; create one per boot).
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Mutex<Inner>>,
    probe_timeout: Duration,
    journal: Journal,
    /// The host connecting (its sockets are counted in the journal).
    host: Arc<str>,
    /// Every connect direct (`Setup::naive_connects`).
    naive: bool,
}

impl Connector {
    /// A connector for `host` whose probes wait `probe_timeout` for an
    /// answer (the callers' own connect timeout: a probe is a connect like
    /// theirs).
    pub fn new(journal: &Journal, host: &Arc<str>, probe_timeout: Duration) -> Connector {
        Connector {
            inner: Arc::new(Mutex::new(Inner { dests: BTreeMap::new() })),
            probe_timeout,
            journal: journal.clone(),
            host: host.clone(),
            naive: journal.naive_connects(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connects to `host:port`. Bound it with a timeout, as any connect:
    /// a silent destination does not answer.
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let key: Key = (host.to_string(), port);
        if self.naive {
            self.journal.socket(&self.host);
            return engine::connect(host, port).await;
        }
        loop {
            let answers = {
                let mut inner = self.lock();
                let d = inner.dests.entry(key.clone()).or_insert_with(Dest::new);
                if d.down {
                    if !d.probing {
                        d.probing = true;
                        let (c, k) = (self.clone(), key.clone());
                        engine::spawn(&self.journal, "connect probe", async move { c.probe(k).await });
                    }
                    d.waiting += 1;
                    Some(d.answers.subscribe())
                } else {
                    None
                }
            };
            let Some(mut answers) = answers else { return self.direct(&key).await };
            let waiting = Waiting { connector: self, key: &key };
            let _ = answers.changed().await;
            drop(waiting);
            let found = self.lock().dests.get(&key).map(|d| d.found);
            match found {
                Some(Found::Refused(kind)) => {
                    return Err(io::Error::new(kind, format!("{host}:{port}: refused (the connect in flight to it was)")))
                }
                // Up: connect; silent: wait for the next probe.
                _ => continue,
            }
        }
    }

    /// A connect to a destination believed up; a failure, or the caller
    /// giving up on it, marks the destination down.
    async fn direct(&self, key: &Key) -> io::Result<TcpStream> {
        self.journal.socket(&self.host);
        let mut pending = Pending { connector: self, key, settled: false };
        let result = engine::connect(&key.0, key.1).await;
        pending.settled = true;
        if let Some(d) = self.lock().dests.get_mut(key) {
            d.down = result.is_err();
        }
        result
    }

    /// Probes `key` until it answers, or until nobody waits any more.
    async fn probe(self, key: Key) {
        loop {
            self.journal.socket(&self.host);
            let result = engine::timeout(self.probe_timeout, engine::connect(&key.0, key.1)).await;
            let mut inner = self.lock();
            let d = inner.dests.get_mut(&key).expect("a probed destination has an entry");
            d.found = match &result {
                Some(Ok(_)) => Found::Up,
                Some(Err(e)) => Found::Refused(e.kind()),
                None => Found::Silent,
            };
            d.down = d.found != Found::Up;
            d.answers.send_modify(|n| *n += 1);
            if d.found == Found::Silent && d.waiting > 0 {
                continue;
            }
            d.probing = false;
            // The probe's own connection, if any, closes here: the callers
            // open their own.
            return;
        }
    }
}

/// A caller waiting for a probe (counted while its future lives).
struct Waiting<'a> {
    connector: &'a Connector,
    key: &'a Key,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(d) = self.connector.lock().dests.get_mut(self.key) {
            d.waiting -= 1;
        }
    }
}

/// A direct connect in flight: dropped unsettled, its caller gave up on a
/// silent destination.
struct Pending<'a> {
    connector: &'a Connector,
    key: &'a Key,
    settled: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.settled {
            if let Some(d) = self.connector.lock().dests.get_mut(self.key) {
                d.down = true;
            }
        }
    }
}
