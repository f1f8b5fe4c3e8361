//! Mail readers: POP, IMAP and webmail users checking their mailboxes.
//!
//! Their accesses measure what users saw during an outage — OpenSRS 2008:
//! "Service Unavailable" in webmail and denied POP/IMAP logins — and their
//! memory of the mailbox measures client-visible duplicates: a POP user who
//! leaves mail on the server downloads everything again when the server's
//! UIDLs change (RFC 1939 §7: UIDLs must persist across sessions), and an IMAP
//! client discards its cache when UIDVALIDITY changes (RFC 3501 §2.3.1.1) —
//! the Norwegian host's POP users after its storage migration.
//!
//! The users are a sample of the mailboxes (a few hundred checking every few
//! minutes measure availability as well as a hundred thousand would, at a
//! fraction of the events). Every topology has them by default
//! ([`ClientsConfig::new`]).
//!
//! Every check is reported to the availability measurement
//! (`availability.rs`) with the reason a user would see for a failure:
//! - the connection refused (the node down and refusing, or the mail
//!   services stopped, or the cluster's address without an owner):
//!   `Refused`;
//! - no answer within `timeout`: `TimedOut`;
//! - the mailbox cannot be opened (lock refused, volume offline, I/O error):
//!   for POP and IMAP a denied login (`LoginDenied`: "-ERR unable to lock
//!   maildrop", OpenSRS's "denied POP/IMAP logins"), for webmail its
//!   "Service Unavailable" page (`ServiceUnavailable`);
//! - webmail served from a temporary store (new mail only): a partial
//!   service (`TemporaryStore`).

use mailsim_sim::{Ctx, Disk, Dur, Input, Node, NodeId, TimerId};

use crate::availability::{self, Reason};
use crate::ledger;
use crate::marks::{self, Mark};
use crate::msg::{MailboxId, Msg, Proto, Store, StoreError};
use crate::timer::{ClientTimer, SetTimer, Timer};
use crate::World;

/// The user population.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientsConfig {
    /// Where users connect: the mailstore (file server) node of an
    /// unclustered service, or the cluster's virtual IP, whose owner runs the
    /// POP, IMAP and webmail services (the topology fills this in).
    pub store: NodeId,
    /// Users sampled from the mailboxes (at most the mailbox count). Default
    /// 200: enough that one user is half a percent of the curve, few enough
    /// that users cost little next to the mail (an assumption; see
    /// `models/benches/cluster.rs` for the cost).
    pub users: u32,
    /// The mailboxes of the mailstore (ids `0..mailboxes`): each user reads
    /// one, drawn uniformly at start.
    pub mailboxes: u32,
    /// Share of users per protocol (POP, IMAP, webmail), integer weights.
    /// Default 40/40/20: an assumption (the postmortems give no mix; OpenSRS
    /// speaks of POP, IMAP and webmail users alike).
    pub proto_weights: [u64; 3],
    /// How often a user checks mail (logs in). Default 15 min: an
    /// assumption between mail clients' default poll intervals (Thunderbird
    /// "check for new messages every 10 minutes", Outlook send/receive every
    /// 30 minutes); a webmail user's page refreshes are counted the same way.
    pub check_interval: Dur,
    /// A check with no answer within this counts as failed (client timeout).
    /// Default 60 s: an assumption (Thunderbird's connection timeout is 100 s,
    /// a webmail front end's page timeout about a minute).
    pub timeout: Dur,
}

impl ClientsConfig {
    /// The default population for `mailboxes` mailboxes reached at `store`:
    /// 200 users (or one per mailbox if fewer), 40/40/20 POP/IMAP/webmail,
    /// a check every 15 min, a 60 s timeout.
    pub fn new(store: NodeId, mailboxes: u32) -> ClientsConfig {
        ClientsConfig {
            store,
            users: 200.min(mailboxes),
            mailboxes,
            proto_weights: [40, 40, 20],
            check_interval: Dur::mins(15),
            timeout: Dur::secs(60),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct User {
    mailbox: MailboxId,
    proto: Proto,
    /// The UIDL epoch this user's client last saw (None: never connected).
    epoch: Option<u32>,
    /// Generation of the check in flight (to ignore stale timeouts).
    pending: u32,
    waiting: bool,
    /// The timeout of the check in flight (cancelled when it is answered).
    timeout: Option<TimerId>,
}

/// The users, as one node.
pub struct Clients {
    cfg: ClientsConfig,
    users: Vec<User>,
}

/// The part of a user's check counter a timeout carries (20 bits): a
/// timeout matches the check in flight, not one a million checks ago.
const GENERATION: u32 = 0xf_ffff;

impl Clients {
    /// The users of `cfg`; they are drawn, and their first checks spread
    /// over one check interval, when the node starts.
    pub fn new(cfg: ClientsConfig) -> Clients {
        Clients { cfg, users: Vec::new() }
    }

    /// Each user's mailbox and protocol (drawn when the node starts).
    pub fn users(&self) -> impl Iterator<Item = (MailboxId, Proto)> + '_ {
        self.users.iter().map(|u| (u.mailbox, u.proto))
    }

    fn user_of(&self, mailbox: MailboxId, proto: Proto) -> Option<usize> {
        // Users are sorted by mailbox; a mailbox may have users of several protocols.
        let start = self.users.partition_point(|u| u.mailbox < mailbox);
        self.users[start..].iter().take_while(|u| u.mailbox == mailbox).position(|u| u.proto == proto && u.waiting).map(|i| start + i)
    }

    fn check(&mut self, ctx: &mut Ctx<'_, Msg, World>, i: usize) {
        let u = &mut self.users[i];
        u.pending = u.pending.wrapping_add(1);
        u.waiting = true;
        ctx.send(self.cfg.store, Msg::Store(Store::Access { mailbox: u.mailbox, proto: u.proto }));
        u.timeout = Some(ctx.set(self.cfg.timeout, ClientTimer::Timeout { user: i, generation: u.pending & GENERATION }));
        ctx.set(self.cfg.check_interval, ClientTimer::Check { user: i });
    }

    /// The check in flight of user `i` is over with `outcome`.
    fn done(&mut self, ctx: &mut Ctx<'_, Msg, World>, i: usize, outcome: Result<(), Reason>) {
        let u = &mut self.users[i];
        u.waiting = false;
        if let Some(t) = u.timeout.take() {
            ctx.cancel_timer(t);
        }
        let proto = u.proto;
        availability::access(ctx, i as u32, proto, outcome);
    }
}

/// What a user sees when the mailstore could not open their mailbox.
fn reason(proto: Proto, e: StoreError) -> Reason {
    match (e, proto) {
        (StoreError::Refused, _) => Reason::Refused,
        (StoreError::Lock | StoreError::Offline | StoreError::Io, Proto::Pop | Proto::Imap) => Reason::LoginDenied,
        (StoreError::Lock | StoreError::Offline | StoreError::Io, Proto::Webmail) => Reason::ServiceUnavailable,
    }
}

impl Clients {
    /// Draws the users (each a mailbox and a protocol), registers them with
    /// the availability figures, and spreads their first checks over one
    /// check interval.
    fn start(&mut self, ctx: &mut Ctx<'_, Msg, World>) {
        let n = self.cfg.users.min(self.cfg.mailboxes);
        let mut users = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let mailbox = ctx.rng().below(self.cfg.mailboxes as u64) as MailboxId;
            let proto = match ctx.rng().weighted(&self.cfg.proto_weights) {
                0 => Proto::Pop,
                1 => Proto::Imap,
                _ => Proto::Webmail,
            };
            users.push(User { mailbox, proto, epoch: None, pending: 0, waiting: false, timeout: None });
        }
        users.sort_by_key(|u| (u.mailbox, u.proto));
        for (i, u) in users.iter().enumerate() {
            availability::user(ctx.world, i as u32, u.proto);
        }
        self.users = users;
        // Spread first checks over one interval.
        for i in 0..self.users.len() {
            let first = ctx.rng().dur(Dur::ZERO, self.cfg.check_interval);
            ctx.set(first, ClientTimer::Check { user: i });
        }
    }
}

impl Node<Msg, World> for Clients {
    type Disk = ();

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _disk: &mut Disk<()>) {
        match input {
            Input::Start => self.start(ctx),
            Input::Timer { tag, .. } => match Timer::from_tag(tag) {
                Some(Timer::Client(ClientTimer::Timeout { user: i, generation })) => {
                    let u = &mut self.users[i];
                    if u.waiting && u.pending & GENERATION == generation {
                        u.timeout = None;
                        self.done(ctx, i, Err(Reason::TimedOut));
                    }
                }
                Some(Timer::Client(ClientTimer::Check { user: i })) if !self.users[i].waiting => self.check(ctx, i),
                Some(Timer::Client(ClientTimer::Check { user: i })) => {
                    ctx.set(self.cfg.check_interval, ClientTimer::Check { user: i });
                }
                _ => {}
            },
            Input::Message { msg: Msg::Store(Store::AccessReply { mailbox, proto, result }), .. } => {
                let Some(i) = self.user_of(mailbox, proto) else { return };
                let u = &mut self.users[i];
                match result {
                    Ok(info) => {
                        // A leave-on-server POP client (or an IMAP client after
                        // a UIDVALIDITY change) fetches everything again when
                        // the identifiers it remembers no longer match.
                        let changed = matches!(u.epoch, Some(e) if e != info.uidl_epoch);
                        if !info.temporary {
                            u.epoch = Some(info.uidl_epoch);
                        }
                        let refetch = changed && !info.temporary && proto != Proto::Webmail;
                        self.done(ctx, i, if info.temporary { Err(Reason::TemporaryStore) } else { Ok(()) });
                        if info.temporary {
                            marks::reach(ctx, Mark::TempStoreServed);
                        }
                        if refetch {
                            marks::reach(ctx, Mark::ClientRefetched);
                            ledger::client_duplicates_by(ctx, proto, info.count as u64);
                        }
                    }
                    Err(e) => self.done(ctx, i, Err(reason(proto, e))),
                }
            }
            Input::Refused { msg: Msg::Store(Store::Access { mailbox, proto }), .. } => {
                if let Some(i) = self.user_of(mailbox, proto) {
                    self.done(ctx, i, Err(Reason::Refused));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability::Service;
    use crate::msg::AccessInfo;
    use mailsim_sim::{Config, NodeConfig, Sim, Time};

    /// A toy mailstore: offline for the first hour, then UIDLs change at 2 h.
    struct ToyStore;
    impl Node<Msg, World> for ToyStore {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            if let Input::Message { from, msg: Msg::Store(Store::Access { mailbox, proto }) } = input {
                let now = ctx.now();
                let result = if now < Time::from_hours(1) {
                    Err(StoreError::Offline)
                } else {
                    Ok(AccessInfo { count: 10, uidl_epoch: u32::from(now >= Time::from_hours(2)), temporary: false })
                };
                ctx.send(from, Msg::Store(Store::AccessReply { mailbox, proto, result }));
            }
        }
    }

    fn run(hours: u64) -> World {
        let mut cfg = Config::new(5);
        cfg.end_at = Some(Time::from_hours(hours));
        let mut sim: Sim<Msg, World> = crate::ledger::new_sim(cfg);
        let store = sim.add_node("store", NodeConfig::default(), (), |_| ToyStore);
        sim.add_node("clients", NodeConfig::default(), (), move |_| Clients::new(ClientsConfig::new(store, 50)));
        let report = sim.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        std::mem::take(sim.world_mut())
    }

    #[test]
    fn accesses_fail_while_the_store_is_offline() {
        let w = run(1);
        let per = |s| w.stats.availability.totals(s);
        let total: u64 = [Service::Pop, Service::Imap, Service::Webmail].map(|s| per(s).0).iter().sum();
        let failed: u64 = [Service::Pop, Service::Imap, Service::Webmail].map(|s| per(s).1).iter().sum();
        assert!(total > 50, "{total} accesses");
        assert_eq!(total, failed, "everything fails in the first hour");
    }

    #[test]
    fn a_uidl_change_makes_pop_and_imap_clients_download_again() {
        let before = run(2);
        assert_eq!(before.counts.client_duplicates, 0);
        let after = run(3);
        assert!(after.counts.client_duplicates >= 10, "{}", after.counts.client_duplicates);
        // Only POP and IMAP users re-download, 10 mails each, once.
        assert_eq!(after.counts.client_duplicates % 10, 0);
    }
}
