//! The harness's own MX: an SMTP receiver and relay in plain tokio code.
//!
//! It answers 250 after DATA only once the mail's spool record is synced
//! (RFC 5321 §4.1.1.4: the 250 makes the receiver responsible; Postfix's
//! `cleanup(8)` fsyncs the queue file before the reply), then hands the
//! mail to the relay. Restarted after a crash, it delivers what its spool
//! kept.
//!
//! The planted bug `PlantedBug::AckBeforeSync` answers 250 as soon as the
//! record is *written*, and fsyncs the spool every few seconds in the
//! background (a "group commit" done wrong): a crash in between loses mail
//! the sender was told is safe. The ledger catches it (`tests/planted_bug.rs`).

use std::sync::Arc;
use std::time::Duration;

use smtp_proto::Request;

use crate::engine;
use crate::plug::{MxContext, MxServer, ServeFuture};
use crate::relay::Relay;
use crate::smtp::{self, Incoming, ServerConn};
use crate::spool::{Queued, Spool};

/// Planted bugs of the harness's MX (tests switch them on to show that the
/// ledger catches each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// 250 after the spool write, before its fsync; the spool is synced
    /// every `BUGGY_FLUSH_INTERVAL`.
    AckBeforeSync,
}

/// How often the buggy MX syncs its spool.
pub const BUGGY_FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// The harness's MX server.
#[derive(Clone, Debug, Default)]
pub struct Mx {
    /// A planted bug, or `None` for the correct server.
    pub bug: Option<PlantedBug>,
}

impl MxServer for Mx {
    fn serve(&self, ctx: MxContext) -> ServeFuture {
        let bug = self.bug;
        Box::pin(async move {
            let (spool, survivors) = ctx.open_spool().await?;
            let relay = Relay::start(&ctx, spool.clone(), survivors);
            if bug == Some(PlantedBug::AckBeforeSync) {
                let (s, c) = (spool.clone(), ctx.clone());
                ctx.spawn("buggy spool flusher", async move {
                    loop {
                        engine::sleep(BUGGY_FLUSH_INTERVAL).await;
                        if let Err(e) = s.sync().await {
                            c.fail(format!("spool sync: {e}"));
                        }
                    }
                });
            }
            let listener = engine::bind(ctx.port).await?;
            loop {
                let (stream, _) = listener.accept().await?;
                let (c, s, r) = (ctx.clone(), spool.clone(), relay.clone());
                ctx.spawn("smtp session", async move {
                    // A broken connection ends the session; the sender retries.
                    let _ = session(ServerConn::new(stream), c, s, r, bug).await;
                });
            }
        })
    }
}

async fn session(
    mut conn: ServerConn<engine::TcpStream>,
    ctx: MxContext,
    spool: Spool,
    relay: Relay,
    bug: Option<PlantedBug>,
) -> std::io::Result<()> {
    conn.reply(220, &format!("{} ESMTP mailsim-harness", ctx.host)).await?;
    let mut from: Option<String> = None;
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
            Request::Ehlo { .. } | Request::Helo { .. } => {
                (from, rcpt) = (None, None);
                conn.reply(250, &ctx.host).await?;
            }
            Request::Mail { from: f } => {
                (from, rcpt) = (Some(f.address), None);
                conn.reply(250, "2.1.0 ok").await?;
            }
            Request::Rcpt { to } if from.is_some() => match smtp::mailbox_of(&to.address) {
                Some(n) => {
                    rcpt = Some(n);
                    conn.reply(250, "2.1.5 ok").await?;
                }
                None => conn.reply(550, "5.1.1 no such mailbox").await?,
            },
            Request::Rcpt { .. } => conn.reply(503, "5.5.1 MAIL first").await?,
            Request::Data => {
                let (Some(_), Some(n)) = (&from, rcpt) else {
                    conn.reply(503, "5.5.1 MAIL and RCPT first").await?;
                    continue;
                };
                conn.reply(354, "end with <CRLF>.<CRLF>").await?;
                let Some(message) = conn.read_data().await? else { return Ok(()) };
                (from, rcpt) = (None, None);
                let Some(id) = smtp::mail_id(&message) else {
                    conn.reply(554, "5.6.0 no X-Mailsim-Id header").await?;
                    continue;
                };
                let mail = Queued { id, rcpt: n, queued_at: engine::now(), message: Arc::new(message) };
                let queued = match bug {
                    Some(PlantedBug::AckBeforeSync) => spool.put_unsynced(&mail).await,
                    None => spool.put(&mail).await,
                };
                match queued {
                    Ok(()) => {
                        relay.enqueue(mail);
                        conn.reply(250, &format!("2.0.0 queued as {id}")).await?;
                    }
                    Err(e) => conn.reply(451, &format!("4.3.0 queue write failed: {e}")).await?,
                }
            }
            Request::Rset => {
                (from, rcpt) = (None, None);
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
