//! The MX's queue manager and delivery agent: hands queued mail to the
//! store over SMTP, defers on a temporary failure with Postfix's schedule
//! (`RetryProfile::postfix`, the one the models' MTA uses: backoff = the
//! mail's age clamped to 300–4000 s, queue runs every 300 s), and returns
//! the mail to its author when it expires (5 days).
//!
//! A mail leaves the spool only after the store answered 250, which the
//! store sends only after its mailbox append is synced. If the MX crashes
//! between the store's 250 and the spool's removal, the mail is delivered
//! again after the restart; the store suppresses that duplicate by mail id
//! (as Cyrus `duplicatesuppression` does), so the ledger sees one copy.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailsim_models::MailId;
use mailsim_sim::Time;
use tokio::sync::Notify;

use crate::connector::Connector;
use crate::engine;
use crate::journal::Transition;
use crate::plug::MxContext;
use crate::smtp::{self, Class, ClientConn, ClientError, Reply};
use crate::spool::{Queued, Spool};

struct Entry {
    mail: Queued,
    /// Failed attempts so far.
    attempts: u32,
}

#[derive(Default)]
struct State {
    /// Deferred and new mail by (when due, id).
    due: BTreeMap<(Duration, MailId), Entry>,
    in_flight: usize,
}

/// The relay of one MX host (cheap to clone).
#[derive(Clone)]
pub struct Relay {
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
    /// Connects to the store: one in flight while it is down (`connector`).
    connector: Connector,
}

impl Relay {
    /// Starts the queue manager on this host with the mails that survived
    /// the last crash, each due at once.
    pub fn start(ctx: &MxContext, spool: Spool, survivors: Vec<Queued>) -> Relay {
        let relay = Relay {
            state: Arc::new(Mutex::new(State::default())),
            wake: Arc::new(Notify::new()),
            connector: ctx.connector(ctx.relay.connect_timeout),
        };
        let now = engine::now();
        for mail in survivors {
            relay.lock().due.insert((now, mail.id), Entry { mail, attempts: 0 });
        }
        let (r, c) = (relay.clone(), ctx.clone());
        ctx.spawn("relay", async move { r.run(c, spool).await });
        relay
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a newly queued mail to the relay (first attempt at once).
    pub fn enqueue(&self, mail: Queued) {
        self.lock().due.insert((engine::now(), mail.id), Entry { mail, attempts: 0 });
        self.wake.notify_one();
    }

    async fn run(self, ctx: MxContext, spool: Spool) {
        loop {
            let now = engine::now();
            let mut next = None;
            loop {
                let mut st = self.lock();
                if st.in_flight >= ctx.relay.concurrency {
                    break;
                }
                let Some((&key, _)) = st.due.first_key_value() else { break };
                if key.0 > now {
                    next = Some(key.0);
                    break;
                }
                let entry = st.due.remove(&key).expect("the first key is there");
                st.in_flight += 1;
                drop(st);
                let (r, c, s) = (self.clone(), ctx.clone(), spool.clone());
                ctx.spawn("delivery", async move { r.attempt(c, s, entry).await });
            }
            match next {
                Some(t) => {
                    let wait = t.saturating_sub(now);
                    engine::timeout(wait, self.wake.notified()).await;
                }
                None => self.wake.notified().await,
            }
        }
    }

    async fn attempt(self, ctx: MxContext, spool: Spool, mut entry: Entry) {
        let result = deliver(&ctx, &self.connector, &entry.mail).await;
        let id = entry.mail.id;
        let said = match &result {
            Ok(r) => format!("delivery: {} {}", r.code, r.text),
            Err(e) => format!("delivery: {e}"),
        };
        ctx.journal.note(&ctx.host, id, said);
        let finished = match result {
            Ok(r) if r.class() == Class::Ok => Some(false),
            Ok(r) if r.class() == Class::Permanent => Some(true),
            _ => {
                entry.attempts += 1;
                let now = engine::now();
                let first = Time::from_micros(entry.mail.queued_at.as_micros() as u64);
                match ctx.relay.retry.next_retry(entry.attempts, first, Time::from_micros(now.as_micros() as u64)) {
                    Some(t) => {
                        let due = Duration::from_micros(ctx.relay.retry.scan_after(t).as_micros());
                        self.lock().due.insert((due, id), entry);
                        None
                    }
                    None => Some(true),
                }
            }
        };
        if let Some(returned) = finished {
            if returned {
                ctx.journal.record(&ctx.host, id, Transition::Returned);
            }
            if let Err(e) = spool.remove(id).await {
                ctx.fail(format!("cannot remove mail {id} from the spool: {e}"));
            }
        }
        self.lock().in_flight -= 1;
        self.wake.notify_one();
    }
}

/// One delivery attempt of `mail` to the store, connecting through
/// `connector`.
pub async fn deliver(ctx: &MxContext, connector: &Connector, mail: &Queued) -> Result<Reply, ClientError> {
    let relay = &ctx.relay;
    let attempt = async {
        let stream = match engine::timeout(relay.connect_timeout, connector.connect(&ctx.store.0, ctx.store.1)).await {
            None => return Err(ClientError::Timeout(relay.connect_timeout)),
            Some(s) => s?,
        };
        let mut conn = ClientConn::new(stream, relay.delivery_timeout);
        conn.transaction(&ctx.host, &format!("postmaster@{}", ctx.host), &smtp::address(mail.rcpt), &mail.message).await
    };
    engine::timeout(relay.delivery_timeout, attempt).await.unwrap_or(Err(ClientError::Timeout(relay.delivery_timeout)))
}
