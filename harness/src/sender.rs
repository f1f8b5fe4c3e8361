//! The internet's senders (host `internet`): every mail of the workload,
//! written at its arrival time and sent over SMTP to the MX hosts until one
//! answers 250, following the sending MTA's retry profile — the models'
//! senders' behaviour (`mailsim_models::senders`), in real SMTP.
//!
//! An attempt picks a random MX; on a refusal, timeout or 4xx it tries the
//! next one at once, and when every MX failed it waits for the profile's
//! next retry plus a random offset within the profile's queue-run period
//! (a sending queue runner's phase is unknown). A 5xx or the profile's
//! lifetime ends it: the mail goes back to its author (`SenderBounced`).
//! Randomness: one `mailsim_sim::Stream` per mail, from the run seed.

use std::sync::Arc;
use std::time::Duration;

use mailsim_models::retry::RetryProfile;
use mailsim_sim::{Stream, Time};

use crate::connector::Connector;
use crate::engine;
use crate::journal::{Journal, Transition};
use crate::smtp::{self, Class, ClientConn, ClientError, Reply};

/// One mail of the workload.
#[derive(Clone, Debug)]
pub struct Arrival {
    /// When its author sends it.
    pub at: Duration,
    /// Its recipient's mailbox.
    pub rcpt: u32,
    /// The sending MTA's profile (an index into `SenderSettings::profiles`).
    pub profile: usize,
}

/// How the senders behave.
#[derive(Clone, Debug)]
pub struct SenderSettings {
    /// The MX hosts, in the order of the MX record.
    pub mx: Vec<String>,
    /// The SMTP port.
    pub port: u16,
    /// Retry profiles of the sending MTAs.
    pub profiles: Vec<RetryProfile>,
    /// A connect is abandoned after this (Postfix `smtp_connect_timeout`).
    pub connect_timeout: Duration,
    /// No reply within this ends an attempt (Postfix
    /// `smtp_data_done_timeout`, 600 s, as the models' senders).
    pub reply_timeout: Duration,
}

/// Runs the senders: every arrival in order (ids 0, 1, … in that order).
pub async fn run(
    host: Arc<str>,
    arrivals: Arc<Vec<Arrival>>,
    settings: Arc<SenderSettings>,
    journal: Journal,
    seed: u64,
) -> std::io::Result<()> {
    // One connector for every sending MTA of this host: a dead MX costs
    // one socket per connect timeout, not one per mail (`connector`).
    let connector = Connector::new(&journal, &host, settings.connect_timeout);
    for (id, a) in arrivals.iter().enumerate() {
        let now = engine::now();
        if a.at > now {
            engine::sleep(a.at - now).await;
        }
        let id = id as u32;
        journal.record(&host, id, Transition::Written { rcpt: a.rcpt });
        let (h, s, j, a, c) = (host.clone(), settings.clone(), journal.clone(), a.clone(), connector.clone());
        engine::spawn(&journal, "sender", async move { send(h, id, a, s, j, c, seed).await });
    }
    // The senders never finish on their own: the driver ends the run.
    std::future::pending::<()>().await;
    Ok(())
}

enum Verdict {
    Accepted,
    Refused,
    Failed,
}

async fn send(host: Arc<str>, id: u32, a: Arrival, s: Arc<SenderSettings>, journal: Journal, connector: Connector, seed: u64) {
    let mut rng = Stream::new(seed, &format!("harness/sender/{id}"));
    let profile = &s.profiles[a.profile];
    let first = Time::from_micros(engine::now().as_micros() as u64);
    let message = smtp::message(id, a.rcpt);
    let n = s.mx.len();
    let mut attempt = 1u32;
    loop {
        let mut mx = rng.below(n as u64) as usize;
        for _ in 0..n {
            let result = try_mx(&host, &s, &connector, &s.mx[mx], a.rcpt, &message).await;
            let said = match &result {
                Ok(r) => format!("to {}: {} {}", s.mx[mx], r.code, r.text),
                Err(e) => format!("to {}: {e}", s.mx[mx]),
            };
            journal.note(&host, id, said);
            match verdict(result) {
                Verdict::Accepted => {
                    journal.record(&host, id, Transition::Acknowledged);
                    return;
                }
                Verdict::Refused => {
                    journal.record(&host, id, Transition::SenderBounced);
                    return;
                }
                Verdict::Failed => mx = (mx + 1) % n,
            }
        }
        let now = Time::from_micros(engine::now().as_micros() as u64);
        match profile.next_retry(attempt, first, now) {
            Some(t) => {
                let offset = if profile.scan_s > 0 { rng.below(profile.scan_s * 1_000_000) } else { 0 };
                let due = Duration::from_micros(t.as_micros() + offset);
                engine::sleep(due.saturating_sub(engine::now())).await;
                attempt += 1;
            }
            None => {
                journal.record(&host, id, Transition::SenderBounced);
                return;
            }
        }
    }
}

fn verdict(r: Result<Reply, ClientError>) -> Verdict {
    match r {
        Ok(r) if r.code / 100 == 2 => Verdict::Accepted,
        Ok(r) if r.class() == Class::Permanent => Verdict::Refused,
        _ => Verdict::Failed,
    }
}

async fn try_mx(host: &str, s: &SenderSettings, connector: &Connector, mx: &str, rcpt: u32, message: &[u8]) -> Result<Reply, ClientError> {
    let stream = match engine::timeout(s.connect_timeout, connector.connect(mx, s.port)).await {
        None => return Err(ClientError::Timeout(s.connect_timeout)),
        Some(r) => r?,
    };
    let mut conn = ClientConn::new(stream, s.reply_timeout);
    conn.transaction(host, &format!("author@{host}"), &smtp::address(rcpt), message).await
}
