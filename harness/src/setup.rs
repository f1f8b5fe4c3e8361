//! What a harness run simulates: the hosts, the workload, the faults and the
//! engine's tick — the harness's counterpart of a scenario's topology,
//! built by hand or from a scenario file (`scenario.rs`).
//!
//! Hosts: `internet` (the senders), `mx-1` … `mx-N` (the server under test),
//! `filer` (the mailstore). The names are the models' own, so a scenario's
//! fault targets mean the same machines in both.

use std::sync::Arc;
use std::time::Duration;

use mailsim_models::retry::RetryProfile;
use mailsim_sim::Stream;

use crate::error::HarnessError;
use crate::mx::Mx;
use crate::plug::{MxServer, RelaySettings};
use crate::sender::Arrival;

/// The senders' host.
pub const INTERNET: &str = "internet";
/// The mailstore's host.
pub const FILER: &str = "filer";
/// The SMTP port every server listens on.
pub const SMTP_PORT: u16 = 25;

/// A fault the harness can inject, at a time of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The host stops: its tasks are dropped, and its disk keeps only what
    /// was synced (turmoil; madsim keeps everything).
    Crash(String),
    /// A crashed host boots again (the server's factory runs anew).
    Restart(String),
    /// Messages between the two hosts are dropped, both ways.
    Partition(String, String),
    /// The host is partitioned from every other host.
    Isolate(String),
    /// Every partition and hold is lifted.
    Heal,
    /// Messages between two hosts are held (not dropped) until `Release`
    /// (turmoil's hold/release; the models' `hang` of the file server).
    Hold(String, String),
    /// Held messages between the two hosts flow again.
    Release(String, String),
    /// The store answers every delivery 451 (no mailbox lock).
    StoreTempfail,
    /// The store delivers again (the models' `RollbackUpgrade` step).
    StoreRecovers,
    /// The store's lock manager restarts: a grace period of 45–90 s without
    /// locks (the models' `lock-restart`; it does not mend a broken one).
    StoreLockRestart,
    /// The file server hangs for this long (the models' `hang`): a mail
    /// whose DATA the store received is written, and answered, only when
    /// the hang ends, even if its sender gave up meanwhile — a write
    /// request queued at a hung NFS server. SMTP commands before DATA are
    /// still answered.
    StoreHang(Duration),
    /// Links between the two hosts take this long (one way).
    Latency(String, String, Duration),
}

/// A whole harness run but its seed.
#[derive(Clone)]
pub struct Setup {
    /// MX hosts (1 to 64).
    pub mx: u32,
    /// Mailboxes (mail goes to `mbox-0` … `mbox-(N-1)`).
    pub mailboxes: u32,
    /// The workload: mails, in order of arrival.
    pub arrivals: Vec<Arrival>,
    /// Sending MTAs' retry profiles (`Arrival::profile` indexes this).
    pub profiles: Vec<RetryProfile>,
    /// Scheduled faults, in order of time.
    pub faults: Vec<(Duration, Fault)>,
    /// The run ends here at the latest (earlier once every mail is settled
    /// and every queue empty).
    pub duration: Duration,
    /// turmoil's tick: every host is polled once per tick, so this is the
    /// resolution of the run's time and its main cost (madsim ignores it).
    pub tick: Duration,
    /// The MX relay's settings.
    pub relay: RelaySettings,
    /// Senders' connect timeout.
    pub connect_timeout: Duration,
    /// Senders' reply timeout.
    pub reply_timeout: Duration,
    /// The server under test on the MX hosts.
    pub server: Arc<dyn MxServer>,
    /// turmoil's ephemeral ports of each host (default 1024–65535, 64,512
    /// ports; turmoil's own default is 49152–65535, 16,384). turmoil leaks
    /// one on every connect that fails or is given up; madsim ignores it.
    pub ephemeral_ports: std::ops::RangeInclusive<u16>,
    /// Every connect opens its own socket, with no probe in flight for a
    /// destination that is down (`connector`) — a naive client, kept to
    /// show what the connector prevents (`tests/faults.rs`). Default off.
    pub naive_connects: bool,
}

impl Setup {
    /// `mails` mails over `window` to `mailboxes` mailboxes, sent by Postfix
    /// senders, spread uniformly at random (seeded by `seed`), through `mx`
    /// MX hosts running the harness's own server; the run lasts at most
    /// `duration`; no faults; a 100 ms tick.
    pub fn new(mx: u32, mailboxes: u32, mails: u64, window: Duration, duration: Duration, seed: u64) -> Setup {
        Setup {
            mx,
            mailboxes,
            arrivals: uniform_arrivals(mails, Duration::ZERO, window, mailboxes, &[1], seed),
            profiles: vec![RetryProfile::postfix()],
            faults: Vec::new(),
            duration,
            tick: Duration::from_millis(100),
            relay: RelaySettings::default(),
            connect_timeout: Duration::from_secs(30),
            reply_timeout: Duration::from_secs(600),
            server: Arc::new(Mx::default()),
            ephemeral_ports: 1024..=65535,
            naive_connects: false,
        }
    }

    /// The MX hosts' names.
    pub fn mx_names(&self) -> Vec<String> {
        (1..=self.mx).map(|k| format!("mx-{k}")).collect()
    }

    /// Every host's name.
    pub fn hosts(&self) -> Vec<String> {
        let mut h = vec![INTERNET.to_string(), FILER.to_string()];
        h.extend(self.mx_names());
        h
    }

    /// Adds a fault at `at` (keeps the plan in order of time).
    pub fn fault(mut self, at: Duration, fault: Fault) -> Setup {
        let i = self.faults.partition_point(|(t, _)| *t <= at);
        self.faults.insert(i, (at, fault));
        self
    }

    /// Replaces the server under test.
    pub fn server(mut self, server: impl MxServer) -> Setup {
        self.server = Arc::new(server);
        self
    }
}

/// `mails` arrivals uniformly at random over `[begin, begin + window)`,
/// recipients uniform over `mailboxes`, profiles by `weights`; sorted by
/// time (ids follow that order). Drawn from the stream
/// `harness/workload` of `seed`.
pub fn uniform_arrivals(mails: u64, begin: Duration, window: Duration, mailboxes: u32, weights: &[u64], seed: u64) -> Vec<Arrival> {
    let mut rng = Stream::new(seed, "harness/workload");
    let span = (window.as_micros() as u64).max(1);
    let mut out: Vec<Arrival> = (0..mails)
        .map(|_| {
            let at = begin + Duration::from_micros(rng.below(span));
            let rcpt = rng.below(mailboxes.max(1) as u64) as u32;
            let profile = rng.weighted(weights);
            Arrival { at, rcpt, profile }
        })
        .collect();
    out.sort_by_key(|a| a.at);
    out
}

/// Every host a fault names exists.
pub(crate) fn check_hosts(setup: &Setup) -> Result<(), HarnessError> {
    let hosts = setup.hosts();
    for (_, f) in &setup.faults {
        let named: Vec<&String> = match f {
            Fault::Crash(h) | Fault::Restart(h) | Fault::Isolate(h) => vec![h],
            Fault::Partition(a, b) | Fault::Hold(a, b) | Fault::Release(a, b) | Fault::Latency(a, b, _) => vec![a, b],
            Fault::Heal | Fault::StoreTempfail | Fault::StoreRecovers | Fault::StoreLockRestart | Fault::StoreHang(_) => vec![],
        };
        for h in named {
            if !hosts.contains(h) {
                return Err(HarnessError::UnknownHost { fault: format!("{f:?}"), host: h.clone(), hosts: hosts.join(", ") });
            }
        }
    }
    Ok(())
}
