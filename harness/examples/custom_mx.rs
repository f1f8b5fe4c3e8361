//! Your own SMTP server under the harness: a minimal receiver written from
//! scratch with tokio's line reader (no harness SMTP code), plugged in on
//! the MX hosts through `MxServer`, put through an MX crash, and judged by
//! the models' custody ledger.
//!
//! Run it: `cargo run -p mailsim-harness --example custom_mx`. It also runs
//! as a test (`test = true` in `Cargo.toml`), so it cannot rot.
//!
//! The contract, in short: listen on `ctx.port`; queue each mail through
//! `ctx.open_spool()`'s `Spool::put` *before* answering 250 (the ledger
//! checks exactly that); hand it on to the store — here with the harness's
//! `Relay` (Postfix's retry schedule), or with your own SMTP client.

use std::sync::Arc;
use std::time::Duration;

use mailsim_harness::relay::Relay;
use mailsim_harness::spool::Queued;
use mailsim_harness::{engine, smtp, Fault, MxContext, MxServer, ServeFuture, Setup};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A tiny SMTP receiver: one recipient per mail, no extensions.
struct TinyMx;

impl MxServer for TinyMx {
    fn serve(&self, ctx: MxContext) -> ServeFuture {
        Box::pin(async move {
            let (spool, survivors) = ctx.open_spool().await?;
            let relay = Relay::start(&ctx, spool.clone(), survivors);
            let listener = engine::bind(ctx.port).await?;
            loop {
                let (stream, _) = listener.accept().await?;
                let (spool, relay, host) = (spool.clone(), relay.clone(), ctx.host.clone());
                ctx.spawn("tiny session", async move {
                    let _ = session(stream, &host, spool, relay).await;
                });
            }
        })
    }
}

async fn session(stream: engine::TcpStream, host: &str, spool: mailsim_harness::spool::Spool, relay: Relay) -> std::io::Result<()> {
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read);
    write.write_all(format!("220 {host} tiny\r\n").as_bytes()).await?;
    // Flush every reply: madsim's stream sends only on flush.
    write.flush().await?;
    let mut rcpt = None;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        let reply = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") || cmd.starts_with("MAIL FROM:") || cmd == "RSET" || cmd == "NOOP"
        {
            "250 ok".to_string()
        } else if cmd.starts_with("RCPT TO:") {
            let addr = line.trim_end()[8..].trim().trim_start_matches('<').trim_end_matches('>').to_string();
            rcpt = smtp::mailbox_of(&addr);
            if rcpt.is_some() { "250 ok" } else { "550 no such mailbox" }.to_string()
        } else if cmd == "DATA" {
            write.write_all(b"354 go ahead\r\n").await?;
            write.flush().await?;
            // Read to the lone dot, undoing dot-stuffing.
            let mut message = Vec::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                message.extend_from_slice(line.strip_prefix('.').unwrap_or(&line).as_bytes());
            }
            match (rcpt.take(), smtp::mail_id(&message)) {
                (Some(n), Some(id)) => {
                    let mail = Queued { id, rcpt: n, queued_at: engine::now(), message: Arc::new(message) };
                    // Durable first, then the 250.
                    match spool.put(&mail).await {
                        Ok(()) => {
                            relay.enqueue(mail);
                            "250 queued".to_string()
                        }
                        Err(_) => "451 try later".to_string(),
                    }
                }
                _ => "554 bad transaction".to_string(),
            }
        } else if cmd == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            write.flush().await?;
            return Ok(());
        } else {
            "502 not implemented".to_string()
        };
        write.write_all(reply.as_bytes()).await?;
        write.write_all(b"\r\n").await?;
        write.flush().await?;
    }
}

fn main() {
    let seed = 11;
    let minute = Duration::from_secs(60);
    // 12 mails over 2 minutes to 2 MX hosts running TinyMx; mx-1 crashes
    // 30 s in and is back after 10 minutes.
    let setup = Setup::new(2, 4, 12, 2 * minute, 120 * minute, seed)
        .server(TinyMx)
        .fault(Duration::from_secs(30), Fault::Crash("mx-1".into()))
        .fault(10 * minute, Fault::Restart("mx-1".into()));
    let outcome = mailsim_harness::run(&setup, seed).expect("the run completes");
    let a = &outcome.audit;
    println!(
        "TinyMx: {} written, {} accepted, {} delivered, {} lost, {} duplicates; delay p50 {} s, max {} s; ended at {:?}",
        a.world.counts.submitted,
        a.world.counts.accepted,
        a.world.counts.delivered,
        a.world.counts.lost,
        a.world.counts.duplicate_deliveries,
        a.delay_s(50.0),
        a.delay_s(100.0),
        outcome.end
    );
    assert!(a.passed(), "the ledger found: {:?}", a.violations());
    assert_eq!(a.world.counts.delivered, 12);
}

#[cfg(test)]
mod tests {
    /// `cargo test` runs the example's whole story: TinyMx through an MX
    /// crash, judged by the ledger.
    #[test]
    fn tiny_mx_loses_nothing_through_an_mx_crash() {
        super::main();
    }
}
