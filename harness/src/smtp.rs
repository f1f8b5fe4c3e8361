//! SMTP on the wire (RFC 5321): both ends of a connection over any tokio
//! byte stream, with the parsing done by `smtp-proto` (Stalwart's parser:
//! commands, replies, and the DATA terminator with dot-unstuffing).
//!
//! What the harness speaks: EHLO/HELO, MAIL FROM, RCPT TO, DATA (the body
//! dot-stuffed by the client, §4.5.2, and unstuffed by the server), RSET,
//! NOOP, QUIT; 2xx/3xx/4xx/5xx replies, multi-line ones included. No
//! pipelining, no extensions: a server advertises none, a client uses none.
//!
//! The mails carry their ledger id in a header (`X-Mailsim-Id`), which is how
//! a spool or a store names the mail in the custody journal; servers under
//! test relay it untouched like any other header.

use std::borrow::Cow;
use std::io;
use std::time::Duration;

use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use smtp_proto::response::parser::ResponseReceiver;
use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::engine;

/// The longest message a server takes (bigger: 552). Harness mails are
/// small; this bounds what a misbehaving peer can make a host buffer.
pub const MESSAGE_BYTES_MAX: usize = 1 << 20;

/// A reply's class (RFC 5321 §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// 2xx, or 3xx where the client goes on (354 after DATA).
    Ok,
    /// 4xx: try again later.
    Temporary,
    /// 5xx: permanent.
    Permanent,
}

/// A reply as a client read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text (lines of a multi-line reply joined).
    pub text: String,
}

impl Reply {
    /// The reply's class.
    pub fn class(&self) -> Class {
        match self.code / 100 {
            2 | 3 => Class::Ok,
            4 => Class::Temporary,
            _ => Class::Permanent,
        }
    }
}

/// What a server got from its peer: a command, or a line it could not parse
/// (answered with 500/501 and the session goes on).
pub enum Incoming {
    /// A command.
    Command(Request<String>),
    /// A line smtp-proto rejected, with why.
    Bad(String),
}

/// The server's side of a connection.
pub struct ServerConn<S> {
    stream: S,
    pending: Vec<u8>,
    requests: RequestReceiver,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ServerConn<S> {
    /// Wraps an accepted stream.
    pub fn new(stream: S) -> ServerConn<S> {
        ServerConn { stream, pending: Vec::new(), requests: RequestReceiver::default() }
    }

    async fn fill(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; 4096];
        let n = self.stream.read(&mut buf).await?;
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n > 0)
    }

    /// The next command; `None` when the peer closed the connection.
    pub async fn next(&mut self) -> io::Result<Option<Incoming>> {
        loop {
            if !self.pending.is_empty() {
                let before = self.pending.len();
                let mut it = self.pending.iter();
                let got = match self.requests.ingest(&mut it) {
                    Ok(req) => Some(Ok(req.into_owned())),
                    Err(ProtoError::NeedsMoreData { .. }) => None,
                    Err(e) => Some(Err(format!("{e:?}"))),
                };
                let rest = it.as_slice().to_vec();
                self.pending = rest;
                match got {
                    Some(Ok(req)) => return Ok(Some(Incoming::Command(req))),
                    Some(Err(why)) => {
                        if self.pending.len() == before {
                            // The parser did not consume the bad line: drop it.
                            let end = self.pending.iter().position(|&b| b == b'\n').map_or(self.pending.len(), |p| p + 1);
                            self.pending.drain(..end);
                        }
                        return Ok(Some(Incoming::Bad(why)));
                    }
                    None => self.pending.clear(),
                }
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Reads a DATA body up to the lone dot, unstuffed. `None`: the peer
    /// closed first. Err(InvalidData): over `MESSAGE_BYTES_MAX`.
    pub async fn read_data(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut data = DataReceiver::new();
        let mut body = Vec::new();
        loop {
            if !self.pending.is_empty() {
                let mut it = self.pending.iter();
                let done = data.ingest(&mut it, &mut body);
                self.pending = it.as_slice().to_vec();
                if done {
                    return Ok(Some(body));
                }
                if body.len() > MESSAGE_BYTES_MAX {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "message too large"));
                }
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Sends a one-line reply.
    pub async fn reply(&mut self, code: u16, text: &str) -> io::Result<()> {
        self.stream.write_all(format!("{code} {text}\r\n").as_bytes()).await?;
        self.stream.flush().await
    }
}

/// The client's side of a connection.
pub struct ClientConn<S> {
    stream: S,
    pending: Vec<u8>,
    /// Every read waits at most this long (RFC 5321 §4.5.3.2 asks for
    /// minutes; the relay and the senders pass theirs).
    read_timeout: Duration,
}

/// Why a client transaction did not end in a reply.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection failed or closed.
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    /// No reply within the read timeout.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The peer sent something that is not an SMTP reply.
    #[error("bad reply: {0}")]
    Protocol(String),
}

impl<S: AsyncRead + AsyncWrite + Unpin> ClientConn<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S, read_timeout: Duration) -> ClientConn<S> {
        ClientConn { stream, pending: Vec::new(), read_timeout }
    }

    /// Reads one (possibly multi-line) reply.
    pub async fn read_reply(&mut self) -> Result<Reply, ClientError> {
        let mut parser = ResponseReceiver::default();
        loop {
            if !self.pending.is_empty() {
                let mut it = self.pending.iter();
                let got = parser.parse(&mut it);
                self.pending = it.as_slice().to_vec();
                match got {
                    Ok(r) => return Ok(Reply { code: r.code, text: r.message }),
                    Err(ProtoError::NeedsMoreData { .. }) => {}
                    Err(e) => return Err(ClientError::Protocol(format!("{e:?}"))),
                }
            }
            let mut buf = [0u8; 4096];
            let n = match engine::timeout(self.read_timeout, self.stream.read(&mut buf)).await {
                Some(r) => r?,
                None => return Err(ClientError::Timeout(self.read_timeout)),
            };
            if n == 0 {
                return Err(ClientError::Io(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed")));
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }

    /// Sends a command line and reads its reply.
    pub async fn command(&mut self, line: &str) -> Result<Reply, ClientError> {
        self.stream.write_all(line.as_bytes()).await?;
        self.stream.write_all(b"\r\n").await?;
        self.stream.flush().await?;
        self.read_reply().await
    }

    /// One whole transaction: greeting, EHLO, MAIL, RCPT, DATA, the body
    /// dot-stuffed, QUIT. Returns the first reply that is not positive, or
    /// the reply to the end of DATA: the one that transfers responsibility.
    pub async fn transaction(&mut self, helo: &str, from: &str, rcpt: &str, message: &[u8]) -> Result<Reply, ClientError> {
        let greeting = self.read_reply().await?;
        if greeting.class() != Class::Ok {
            return Ok(greeting);
        }
        for line in [format!("EHLO {helo}"), format!("MAIL FROM:<{from}>"), format!("RCPT TO:<{rcpt}>"), "DATA".to_string()] {
            let r = self.command(&line).await?;
            if r.class() != Class::Ok {
                let _ = self.quit().await;
                return Ok(r);
            }
        }
        self.stream.write_all(&dot_stuff(message)).await?;
        self.stream.write_all(b".\r\n").await?;
        self.stream.flush().await?;
        let verdict = self.read_reply().await?;
        let _ = self.quit().await;
        Ok(verdict)
    }

    async fn quit(&mut self) -> Result<Reply, ClientError> {
        self.command("QUIT").await
    }
}

/// The body with every line that starts with a dot given another
/// (RFC 5321 §4.5.2), ending in CRLF.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A harness mail: headers naming its ledger id and recipient, and a body
/// with a line that needs dot-stuffing.
pub fn message(id: u32, rcpt: u32) -> Vec<u8> {
    format!(
        "Message-ID: <{id}@senders.mailsim>\r\nX-Mailsim-Id: {id}\r\nTo: <{}>\r\nSubject: mail {id}\r\n\r\nHello mailbox {rcpt}.\r\n.a line that starts with a dot\r\n..and one with two\r\n",
        address(rcpt)
    )
    .into_bytes()
}

/// The address of mailbox `n`.
pub fn address(n: u32) -> String {
    format!("mbox-{n}@example.net")
}

/// The mailbox of an address made by `address` (`None`: no such mailbox).
pub fn mailbox_of(addr: &str) -> Option<u32> {
    let local = addr.split('@').next()?;
    local.strip_prefix("mbox-")?.parse().ok()
}

/// The ledger id in a message's `X-Mailsim-Id` header.
pub fn mail_id(message: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(message).ok()?;
    for line in text.split("\r\n") {
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("X-Mailsim-Id:") {
            return v.trim().parse().ok();
        }
    }
    None
}

/// The address in a MAIL FROM or RCPT TO, for the server side.
pub fn rcpt_address(req: &Request<String>) -> Option<Cow<'_, str>> {
    match req {
        Request::Rcpt { to } => Some(Cow::Borrowed(to.address.as_str())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_smtp_proto_undoes_it() {
        let m = message(7, 3);
        let stuffed = dot_stuff(&m);
        assert!(stuffed.windows(4).any(|w| w == b"\n..a"));
        let mut wire = stuffed.clone();
        wire.extend_from_slice(b".\r\n");
        let mut rx = DataReceiver::new();
        let mut out = Vec::new();
        assert!(rx.ingest(&mut wire.iter(), &mut out));
        assert_eq!(out, m);
    }

    #[test]
    fn ids_and_mailboxes_round_trip() {
        assert_eq!(mail_id(&message(42, 9)), Some(42));
        assert_eq!(mailbox_of(&address(9)), Some(9));
        assert_eq!(mailbox_of("postmaster@example.net"), None);
    }

    #[test]
    fn reply_classes_follow_the_first_digit() {
        let r = |code| Reply { code, text: String::new() };
        assert_eq!(r(250).class(), Class::Ok);
        assert_eq!(r(354).class(), Class::Ok);
        assert_eq!(r(451).class(), Class::Temporary);
        assert_eq!(r(554).class(), Class::Permanent);
    }
}
