//! The MX's durable queue on the simulated disk, and the custody points it
//! reports: a queue record is `Enqueued` once synced, its removal
//! `Dequeued` once synced — never earlier, so the ledger sees exactly what
//! a crash would leave.
//!
//! Postfix keeps one file per queued mail and fsyncs it before answering
//! 250 (`cleanup(8)`); the harness keeps one append-only log per host
//! instead (`A` records add a mail, `D` records remove it), because
//! madsim's file system has neither directory listing nor unlink, and the
//! same code must run on both engines. The durability points are the same:
//! the record, then the fsync, then the reply.
//!
//! A user's server (`plug::MxServer`) queues through this type too: it is
//! how the harness observes custody without knowing the server's internals.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use mailsim_models::MailId;
use tokio::sync::Mutex;

use crate::engine::DurableFile;
use crate::journal::{Journal, Transition};

/// A mail in the queue.
#[derive(Clone, Debug)]
pub struct Queued {
    /// Its ledger id (from `X-Mailsim-Id`).
    pub id: MailId,
    /// The recipient's mailbox.
    pub rcpt: u32,
    /// When it entered this queue (Postfix counts backoff and lifetime from
    /// the queue file's creation).
    pub queued_at: Duration,
    /// The message as received.
    pub message: Arc<Vec<u8>>,
}

struct Inner {
    file: DurableFile,
    /// Mails appended but not yet synced (reported `Enqueued` at the sync).
    unsynced: Vec<MailId>,
}

/// The durable queue of one MX host (cheap to clone).
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Mutex<Inner>>,
    journal: Journal,
    host: Arc<str>,
}

impl Spool {
    /// Opens the spool at `path` on this host, returning it with the mails
    /// that survived the last crash, oldest first.
    pub async fn open(path: &str, journal: Journal, host: Arc<str>) -> io::Result<(Spool, Vec<Queued>)> {
        let (file, data) = DurableFile::open(path).await?;
        let survivors = parse(&data);
        Ok((Spool { inner: Arc::new(Mutex::new(Inner { file, unsynced: Vec::new() })), journal, host }, survivors))
    }

    /// Queues `mail` durably: append, fsync, then report `Enqueued`. Only
    /// after this returns may a server answer 250.
    pub async fn put(&self, mail: &Queued) -> io::Result<()> {
        let mut inner = self.inner.lock().await;
        inner.file.append(&record(mail)).await?;
        inner.unsynced.push(mail.id);
        self.sync_locked(&mut inner).await
    }

    /// Appends `mail` without an fsync: it is lost if the host crashes
    /// before the next `sync`. Only a planted bug answers 250 after this.
    pub async fn put_unsynced(&self, mail: &Queued) -> io::Result<()> {
        let mut inner = self.inner.lock().await;
        inner.file.append(&record(mail)).await?;
        inner.unsynced.push(mail.id);
        Ok(())
    }

    /// Makes every append so far durable and reports the mails it covered.
    pub async fn sync(&self) -> io::Result<()> {
        let mut inner = self.inner.lock().await;
        self.sync_locked(&mut inner).await
    }

    async fn sync_locked(&self, inner: &mut Inner) -> io::Result<()> {
        if inner.unsynced.is_empty() {
            return Ok(());
        }
        inner.file.sync().await?;
        for id in inner.unsynced.drain(..) {
            self.journal.record(&self.host, id, Transition::Enqueued);
        }
        Ok(())
    }

    /// Removes mail `id` durably (after delivery or a DSN): append the
    /// removal, fsync, report `Dequeued`.
    pub async fn remove(&self, id: MailId) -> io::Result<()> {
        let mut inner = self.inner.lock().await;
        inner.file.append(format!("D {id}\n").as_bytes()).await?;
        // The removal's fsync covers earlier unsynced appends too.
        self.sync_locked(&mut inner).await?;
        inner.file.sync().await?;
        self.journal.record(&self.host, id, Transition::Dequeued);
        Ok(())
    }
}

fn record(mail: &Queued) -> Vec<u8> {
    let mut r = format!("A {} {} {} {}\n", mail.id, mail.rcpt, mail.queued_at.as_micros(), mail.message.len()).into_bytes();
    r.extend_from_slice(&mail.message);
    r
}

/// The mails a spool log holds: every `A` record without a later `D`. A
/// torn last record (a crash mid-append) is ignored: it was never synced,
/// so it was never acknowledged.
fn parse(data: &[u8]) -> Vec<Queued> {
    let mut queued: BTreeMap<MailId, (u64, Queued)> = BTreeMap::new();
    let mut at = 0usize;
    let mut seq = 0u64;
    while at < data.len() {
        let Some(nl) = data[at..].iter().position(|&b| b == b'\n') else { break };
        let Ok(line) = std::str::from_utf8(&data[at..at + nl]) else { break };
        let fields: Vec<&str> = line.split(' ').collect();
        at += nl + 1;
        match fields.as_slice() {
            ["A", id, rcpt, us, len] => {
                let (Ok(id), Ok(rcpt), Ok(us), Ok(len)) = (id.parse(), rcpt.parse(), us.parse::<u64>(), len.parse::<usize>()) else {
                    break;
                };
                if at + len > data.len() {
                    break;
                }
                let message = Arc::new(data[at..at + len].to_vec());
                at += len;
                seq += 1;
                queued.insert(id, (seq, Queued { id, rcpt, queued_at: Duration::from_micros(us), message }));
            }
            ["D", id] => {
                let Ok(id) = id.parse() else { break };
                queued.remove(&id);
            }
            _ => break,
        }
    }
    let mut out: Vec<(u64, Queued)> = queued.into_values().collect();
    out.sort_by_key(|(seq, _)| *seq);
    out.into_iter().map(|(_, q)| q).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(id: u32) -> Queued {
        Queued { id, rcpt: id + 1, queued_at: Duration::from_secs(id as u64), message: Arc::new(format!("m{id}\r\n").into_bytes()) }
    }

    #[test]
    fn the_log_keeps_what_was_added_and_not_removed_in_order() {
        let mut log = record(&q(5));
        log.extend(record(&q(2)));
        log.extend(b"D 5\n");
        log.extend(record(&q(9)));
        let got: Vec<u32> = parse(&log).iter().map(|m| m.id).collect();
        assert_eq!(got, vec![2, 9]);
        assert_eq!(parse(&log)[0].message.as_slice(), b"m2\r\n");
    }

    #[test]
    fn a_torn_last_record_is_ignored() {
        let mut log = record(&q(1));
        let torn = record(&q(2));
        log.extend_from_slice(&torn[..torn.len() - 2]);
        let got: Vec<u32> = parse(&log).iter().map(|m| m.id).collect();
        assert_eq!(got, vec![1]);
    }
}
