//! The plug: how a user puts their own tokio SMTP server on the MX hosts in
//! place of the harness's (`mx::Mx`), under the same outages and the same
//! ledger.
//!
//! A server is a factory (`MxServer::serve`), called at every boot of every
//! MX host — at the start and after each restart — like turmoil's host
//! closures, so that a restart rebuilds the server from what its disk kept.
//! What the harness needs from it is small:
//! - listen on `MxContext::port` and speak SMTP to the internet's senders;
//! - queue each mail through the `Spool` from `MxContext::open_spool`
//!   (`put` before answering 250: the ledger checks exactly that), and hand
//!   it on to the store — `relay::Relay` does that part for you, with
//!   Postfix's retry schedule, or write your own with `smtp::ClientConn`
//!   (connecting through `MxContext::connector`, so that a long store
//!   outage does not exhaust turmoil's ports).
//!
//! The sender reports 250s and the store reports deliveries itself, so a
//! server cannot claim custody it does not have. `examples/custom_mx.rs` is
//! a whole custom server in about a hundred lines.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use mailsim_models::retry::RetryProfile;

use crate::connector::Connector;
use crate::engine;
use crate::journal::Journal;
use crate::spool::{Queued, Spool};

/// A boxed server future (what `MxServer::serve` returns).
pub type ServeFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'static>>;

/// An SMTP server to run on the MX hosts: the factory called at every boot.
pub trait MxServer: Send + Sync + 'static {
    /// Runs the server on one MX host until the host crashes (the future is
    /// then dropped). Returning is an error of the run unless the host is
    /// being shut down: a mail server does not exit on its own.
    fn serve(&self, ctx: MxContext) -> ServeFuture;
}

/// Settings of the relay from an MX to the store, shared by the harness's
/// server and any user's server that uses `relay::Relay`.
#[derive(Clone, Debug)]
pub struct RelaySettings {
    /// Deferred deliveries: backoff, queue scan and lifetime (Postfix's
    /// defaults, as the models' MTA).
    pub retry: RetryProfile,
    /// A delivery attempt is abandoned after this (Postfix
    /// `command_time_limit` 1000 s, as the models' MTA).
    pub delivery_timeout: Duration,
    /// A connect to the store is abandoned after this. Default: the
    /// delivery timeout, because the relay→store hop stands for the models'
    /// delivery over an NFS hard mount, which stalls (it does not fail) while
    /// the file server cannot be reached, until `command_time_limit` kills
    /// the delivery agent. (An LMTP client would give up after 30 s; the
    /// conformance test found that difference: ARCHITECTURE.md.)
    pub connect_timeout: Duration,
    /// Deliveries in flight at most (Postfix
    /// `default_destination_concurrency_limit`).
    pub concurrency: usize,
}

impl Default for RelaySettings {
    fn default() -> Self {
        RelaySettings {
            retry: RetryProfile::postfix(),
            delivery_timeout: Duration::from_secs(1000),
            connect_timeout: Duration::from_secs(1000),
            concurrency: 20,
        }
    }
}

/// What a server is given at each boot.
#[derive(Clone)]
pub struct MxContext {
    /// This host's name (`mx-1`, …).
    pub host: Arc<str>,
    /// The port to listen on for the senders.
    pub port: u16,
    /// The mailstore's host and port.
    pub store: (String, u16),
    /// Relay settings.
    pub relay: RelaySettings,
    pub(crate) journal: Journal,
}

/// Where the spool lives on each MX host's simulated disk.
pub const SPOOL_PATH: &str = "/var/spool/mailsim/queue.log";

impl MxContext {
    /// Opens this host's durable queue, returning it with the mails that
    /// survived the last crash (to be delivered again).
    pub async fn open_spool(&self) -> io::Result<(Spool, Vec<Queued>)> {
        Spool::open(SPOOL_PATH, self.journal.clone(), self.host.clone()).await
    }

    /// Spawns a task on this host; a panic in it fails the run (engines
    /// swallow task panics otherwise).
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&self, what: &'static str, f: F) {
        engine::spawn(&self.journal, what, f)
    }

    /// A connector for this host's own connects (to the store, say), whose
    /// probes wait `probe_timeout`: through a long outage of the
    /// destination it opens one socket per probe, not one per attempt
    /// (turmoil runs out of ports otherwise: `connector`).
    pub fn connector(&self, probe_timeout: Duration) -> Connector {
        Connector::new(&self.journal, &self.host, probe_timeout)
    }

    /// Records a failure of the run (a server that cannot go on).
    pub fn fail(&self, why: String) {
        self.journal.fail(format!("{}: {why}", self.host));
    }
}
