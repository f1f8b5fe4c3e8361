//! Service-level availability: what an outage is to the people who use the
//! service, measured per attempt, per user and per queue.
//!
//! Counting mailboxes on offline volumes (the ledger's `unavailable`) says
//! nothing about the Fused outage of December 2018 (Fused, "mail system down"
//! incident report, 31 Dec 2018,
//! <https://www.fusedstatus.com/incidents/5fh5cmfdh868>: "smtp,
//! pop3/imap" down for ~15 h while every volume was fine) or the ECCS outage
//! of May 2018 (University of Tokyo ECCS, "Failure of MailHosting service and
//! ECCS Staff Email on May 19th and 20th", 25 May 2018,
//! <https://www.ecc.u-tokyo.ac.jp/en/announcement/2018/05/25_2805.html>: mail
//! accepted and queued, but nothing reached
//! a mailbox for ~32 h). This module measures what users and senders saw:
//! - **attempts**, per service (SMTP in, POP, IMAP, webmail) and per time
//!   bucket (default one hour): how many, how many succeeded, and the
//!   failures by [`Reason`]. The clients model reports every check of every
//!   user; the senders report every SMTP attempt at the door they knock on
//!   (an MX host, or the cluster's virtual IP);
//! - **parties** whose service is judged: each user of the clients model
//!   (one protocol each), and each SMTP door (an MX host or vip: a sender who
//!   knocks on a failing door is failed by it, whether or not another MX
//!   later takes the mail);
//! - **queues**: per node, the queue depth the MTAs report (sampled at most
//!   once a minute, on a 1% or power-of-two change: `mta.rs`), its peak and
//!   when it drained.
//!
//! # Definitions
//!
//! A party's **state** is set by the outcome of its most recent completed
//! attempt and holds until its next one completes (a check in flight changes
//! nothing; a check with no answer completes as [`Reason::TimedOut`] when the
//! client gives up). Before its first attempt a party is in full service: no
//! evidence says otherwise. The states:
//! - **full**: the attempt succeeded;
//! - **partial**: the attempt was served from a temporary store
//!   ([`Reason::TemporaryStore`]: webmail sees new mail only, OpenSRS 2008);
//! - **down**: any other failure.
//!
//! For a user, *minutes without full service* are the minutes in partial or
//! down state, and *minutes with partial service* those in partial state (so
//! the second is part of the first).
//!
//! A **service is unavailable** while at least one of its parties is not in
//! full service (`unavailable_s`): a POP user whose login is denied, a door
//! that refuses SMTP. `users_affected_peak` is the most parties of the service
//! not in full service at once, as a share (ppm) of the parties of that
//! service (its users; for SMTP, its doors). `failed_share` is failed attempts
//! over attempts (ppm), a partial service counting as failed.
//!
//! `users_full_service` is the share (ppm) of all users in full service, as a
//! step curve with a point at each change: the OpenSRS update's "about 80% of
//! users have full email service".
//!
//! A queue **drained** at the first sample after its peak at or below 1% of
//! the peak (a queue under load is rarely exactly empty).
//!
//! A **failover** is a cluster resource starting on a node other than the one
//! that held it before; `failover_s` is the time from the first fault to the
//! first failover at or after it.
//!
//! The measurement is ghost state, as the custody ledger is: components
//! report to it, none reads it to decide. All figures that scenarios,
//! `compare` and reports use come from [`summarize`], once.

use std::collections::BTreeMap;

use mailsim_sim::{Ctx, Dur, NodeId, Time, MICROS_PER_S};

use crate::msg::{Msg, Proto};
use crate::World;

/// A service users and senders reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// SMTP in, from the internet's senders.
    Smtp,
    /// POP, from the clients model's POP users.
    Pop,
    /// IMAP, from the clients model's IMAP users.
    Imap,
    /// Webmail, from the clients model's webmail users.
    Webmail,
}

impl Service {
    /// Every service, in the order of their index (`service as usize`).
    pub const ALL: [Service; 4] = [Service::Smtp, Service::Pop, Service::Imap, Service::Webmail];

    /// The name figures use: `smtp`, `pop`, `imap`, `webmail`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Smtp => "smtp",
            Service::Pop => "pop",
            Service::Imap => "imap",
            Service::Webmail => "webmail",
        }
    }

    /// The service a mail reader's protocol is.
    pub fn of(proto: Proto) -> Service {
        match proto {
            Proto::Pop => Service::Pop,
            Proto::Imap => Service::Imap,
            Proto::Webmail => Service::Webmail,
        }
    }
}

/// Why an attempt failed, as its user or sender saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The connection was refused: the host is down and refusing, the
    /// service is stopped, or the cluster's address has no owner ("the
    /// cluster refused connections", Fused 2018).
    Refused,
    /// No answer in time (a silent host, a hung file server).
    TimedOut,
    /// POP or IMAP login denied: the mailbox cannot be opened (its lock
    /// cannot be taken, or its volume is offline; OpenSRS 2008 "denied
    /// POP/IMAP logins").
    LoginDenied,
    /// Served from a temporary store: new mail only, through webmail
    /// (OpenSRS 2008). A partial service.
    TemporaryStore,
    /// Webmail's "Service Unavailable" page: the mailbox cannot be read.
    ServiceUnavailable,
    /// An SMTP 4xx reply (421 service not available, 451, 452 queue full).
    TempFail,
    /// An SMTP 5xx reply.
    PermFail,
}

/// How many reasons there are (the width of a bucket's failure counts).
pub const REASONS: usize = 7;

impl Reason {
    /// Every reason, in the order of their index (`reason as usize`): the
    /// order of a bucket's failure counts.
    pub const ALL: [Reason; REASONS] = [
        Reason::Refused,
        Reason::TimedOut,
        Reason::LoginDenied,
        Reason::TemporaryStore,
        Reason::ServiceUnavailable,
        Reason::TempFail,
        Reason::PermFail,
    ];

    /// The reason as figures name it (`refused`, `timed_out` …): the field
    /// names of [`FailedBy`].
    pub fn name(self) -> &'static str {
        match self {
            Reason::Refused => "refused",
            Reason::TimedOut => "timed_out",
            Reason::LoginDenied => "login_denied",
            Reason::TemporaryStore => "temporary_store",
            Reason::ServiceUnavailable => "service_unavailable",
            Reason::TempFail => "temp_fail",
            Reason::PermFail => "perm_fail",
        }
    }
}

/// A party's service state (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Full service: the last attempt succeeded (or there was none yet).
    Full,
    /// Partial service: the last attempt was served from a temporary store.
    Partial,
    /// No service: the last attempt failed for any other reason.
    Down,
}

impl State {
    fn of(outcome: Result<(), Reason>) -> State {
        match outcome {
            Ok(()) => State::Full,
            Err(Reason::TemporaryStore) => State::Partial,
            Err(_) => State::Down,
        }
    }
}

/// One party whose service is judged: a user or an SMTP door.
#[derive(Clone, Copy, Debug)]
struct Party {
    service: Service,
    state: State,
    since: Time,
    /// Closed intervals so far (µs): without full service, and partial.
    without_full_us: u64,
    partial_us: u64,
}

impl Party {
    fn new(service: Service) -> Party {
        Party { service, state: State::Full, since: Time::ZERO, without_full_us: 0, partial_us: 0 }
    }

    /// Time without full service and with partial service up to `end`,
    /// counting the open interval.
    fn totals(&self, end: Time) -> (u64, u64) {
        let open = end.since(self.since).as_micros();
        let (mut without, mut partial) = (self.without_full_us, self.partial_us);
        if self.state != State::Full {
            without += open;
        }
        if self.state == State::Partial {
            partial += open;
        }
        (without, partial)
    }
}

/// Per service: parties now not in full service and the time so far.
#[derive(Clone, Copy, Debug, Default)]
struct Affected {
    parties: u32,
    now: u32,
    /// When `now` last rose from zero.
    since: Time,
    unavailable_us: u64,
    peak: u32,
    /// `peak` as a share of the parties at that time (ppm).
    peak_ppm: u32,
    /// When `now` last fell to zero: every party back in full service.
    back: Option<Time>,
}

/// Attempts, successes and failures by reason in one bucket.
type Counts = [u64; 2 + REASONS];

/// The measurement (kept in `World::stats`). Components report through the
/// free functions [`smtp`], [`user`] and [`access`].
#[derive(Clone, Debug)]
pub struct Availability {
    bucket: Dur,
    /// Per service, per bucket: [attempts, ok, failed by reason …].
    buckets: [Vec<Counts>; 4],
    parties: Vec<Party>,
    /// Per `NodeId`: index + 1 into `parties` of that SMTP door (0: none).
    doors: Vec<u32>,
    /// Per user index of the clients model: index + 1 into `parties`.
    users: Vec<u32>,
    affected: [Affected; 4],
    /// Users not in full service and in partial service, at each change.
    user_states: Vec<(Time, u32, u32)>,
    users_not_full: u32,
    users_partial: u32,
}

impl Default for Availability {
    fn default() -> Self {
        Availability::new(Dur::hours(1))
    }
}

impl Availability {
    /// An empty measurement with attempts counted in buckets of `bucket`.
    pub fn new(bucket: Dur) -> Availability {
        assert!(bucket > Dur::ZERO, "an availability bucket must be longer than zero");
        Availability {
            bucket,
            buckets: Default::default(),
            parties: Vec::new(),
            doors: Vec::new(),
            users: Vec::new(),
            affected: [Affected::default(); 4],
            user_states: Vec::new(),
            users_not_full: 0,
            users_partial: 0,
        }
    }

    /// The bucket width; changing it drops the attempts counted so far (set
    /// it before a run).
    pub fn set_bucket(&mut self, bucket: Dur) {
        assert!(bucket > Dur::ZERO, "an availability bucket must be longer than zero");
        self.bucket = bucket;
        self.buckets = Default::default();
    }

    /// The bucket width attempts are counted in (default one hour).
    pub fn bucket(&self) -> Dur {
        self.bucket
    }

    /// Users registered by the clients model.
    pub fn user_count(&self) -> u32 {
        self.users.len() as u32
    }

    /// Attempts of `service` per bucket: (attempts, ok, failed by reason in
    /// the order of [`Reason::ALL`]).
    pub fn attempts(&self, service: Service) -> impl Iterator<Item = (u64, u64, [u64; REASONS])> + '_ {
        self.buckets[service as usize].iter().map(|c| {
            let mut r = [0; REASONS];
            r.copy_from_slice(&c[2..]);
            (c[0], c[1], r)
        })
    }

    /// Total attempts and failures of `service`.
    pub fn totals(&self, service: Service) -> (u64, u64) {
        self.buckets[service as usize].iter().fold((0, 0), |(a, f), c| (a + c[0], f + c[0] - c[1]))
    }

    /// Failures of `service` for `reason`, over the run.
    pub fn failures(&self, service: Service, reason: Reason) -> u64 {
        self.buckets[service as usize].iter().map(|c| c[2 + reason as usize]).sum()
    }

    /// Per user (by the clients model's index): its service, and its time
    /// without full service and with partial service up to `end`.
    pub fn user_times(&self, end: Time) -> Vec<(Service, Dur, Dur)> {
        self.users
            .iter()
            .map(|&p| {
                let party = &self.parties[p as usize - 1];
                let (without, partial) = party.totals(end);
                (party.service, Dur::micros(without), Dur::micros(partial))
            })
            .collect()
    }

    fn count(&mut self, service: Service, now: Time, outcome: Result<(), Reason>) {
        let b = (now.as_micros() / self.bucket.as_micros()) as usize;
        let series = &mut self.buckets[service as usize];
        if series.len() <= b {
            series.resize(b + 1, [0; 2 + REASONS]);
        }
        let c = &mut series[b];
        c[0] += 1;
        match outcome {
            Ok(()) => c[1] += 1,
            Err(r) => c[2 + r as usize] += 1,
        }
    }

    fn add_party(&mut self, service: Service) -> u32 {
        self.parties.push(Party::new(service));
        self.affected[service as usize].parties += 1;
        self.parties.len() as u32
    }

    /// Party `p` (index + 1) completed an attempt at `now` with `outcome`.
    fn judge(&mut self, p: u32, now: Time, outcome: Result<(), Reason>, is_user: bool) {
        let party = &mut self.parties[p as usize - 1];
        let new = State::of(outcome);
        let old = party.state;
        if old == new {
            return;
        }
        let dur = now.since(party.since).as_micros();
        if old != State::Full {
            party.without_full_us += dur;
        }
        if old == State::Partial {
            party.partial_us += dur;
        }
        party.state = new;
        party.since = now;
        let a = &mut self.affected[party.service as usize];
        match (old == State::Full, new == State::Full) {
            (true, false) => {
                if a.now == 0 {
                    a.since = now;
                }
                a.now += 1;
                if a.now > a.peak {
                    a.peak = a.now;
                    a.peak_ppm = ppm(a.now as u64, a.parties as u64);
                }
            }
            (false, true) => {
                a.now -= 1;
                if a.now == 0 {
                    a.unavailable_us += now.since(a.since).as_micros();
                    a.back = Some(now);
                }
            }
            _ => {}
        }
        if is_user {
            self.users_not_full = self.users_not_full + (new != State::Full) as u32 - (old != State::Full) as u32;
            self.users_partial = self.users_partial + (new == State::Partial) as u32 - (old == State::Partial) as u32;
            let point = (now, self.users_not_full, self.users_partial);
            match self.user_states.last_mut() {
                Some(last) if last.0 == now => *last = point,
                _ => self.user_states.push(point),
            }
        }
    }
}

fn ppm(part: u64, whole: u64) -> u32 {
    (part.min(whole) * 1_000_000).checked_div(whole).unwrap_or(0) as u32
}

type Cx<'a, 'b> = &'a mut Ctx<'b, Msg, World>;

/// A sender's SMTP attempt at `door` (the MX host or vip it connected to)
/// ended with `outcome`: counted, and the door judged by it.
pub fn smtp(ctx: Cx, door: NodeId, outcome: Result<(), Reason>) {
    let now = ctx.now();
    let a = &mut ctx.world.stats.availability;
    a.count(Service::Smtp, now, outcome);
    let i = door.0 as usize;
    if a.doors.len() <= i {
        a.doors.resize(i + 1, 0);
    }
    if a.doors[i] == 0 {
        a.doors[i] = a.add_party(Service::Smtp);
    }
    let p = a.doors[i];
    a.judge(p, now, outcome, false);
}

/// The clients model has a user with index `user` reading mail with `proto`
/// (registered once; registering an index again changes nothing).
pub fn user(world: &mut World, user: u32, proto: Proto) {
    let a = &mut world.stats.availability;
    let i = user as usize;
    if a.users.len() <= i {
        a.users.resize(i + 1, 0);
    }
    if a.users[i] == 0 {
        a.users[i] = a.add_party(Service::of(proto));
    }
}

/// User `user` (registered with [`user`]) completed a check with `proto`:
/// counted, and the user judged by it.
pub fn access(ctx: Cx, user: u32, proto: Proto, outcome: Result<(), Reason>) {
    let now = ctx.now();
    let a = &mut ctx.world.stats.availability;
    a.count(Service::of(proto), now, outcome);
    let p = *a.users.get(user as usize).filter(|p| **p > 0).expect("a user reports a check only after registering");
    a.judge(p, now, outcome, true);
}

// ---------------------------------------------------------------------------
// The summary: every availability figure a run reports, computed once.

/// Failures by reason (attempts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FailedBy {
    /// Connections refused ([`Reason::Refused`]).
    pub refused: u64,
    /// Attempts without an answer in time ([`Reason::TimedOut`]).
    pub timed_out: u64,
    /// POP and IMAP logins denied ([`Reason::LoginDenied`]).
    pub login_denied: u64,
    /// Webmail served from a temporary store ([`Reason::TemporaryStore`]).
    pub temporary_store: u64,
    /// Webmail "Service Unavailable" pages ([`Reason::ServiceUnavailable`]).
    pub service_unavailable: u64,
    /// SMTP 4xx replies ([`Reason::TempFail`]).
    pub temp_fail: u64,
    /// SMTP 5xx replies ([`Reason::PermFail`]).
    pub perm_fail: u64,
}

impl FailedBy {
    fn from(r: &[u64]) -> FailedBy {
        FailedBy {
            refused: r[Reason::Refused as usize],
            timed_out: r[Reason::TimedOut as usize],
            login_denied: r[Reason::LoginDenied as usize],
            temporary_store: r[Reason::TemporaryStore as usize],
            service_unavailable: r[Reason::ServiceUnavailable as usize],
            temp_fail: r[Reason::TempFail as usize],
            perm_fail: r[Reason::PermFail as usize],
        }
    }
}

/// One time bucket of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BucketSummary {
    /// Start of the bucket, seconds from T+0.
    pub start_s: u64,
    /// Attempts completed in the bucket.
    pub attempts: u64,
    /// Those that succeeded.
    pub ok: u64,
    /// Those that failed, by reason.
    pub failed: FailedBy,
}

/// One service's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServiceSummary {
    /// Attempts completed over the run.
    pub attempts: u64,
    /// Failed attempts (a partial service counts as failed).
    pub failed: u64,
    /// Seconds with at least one party of the service not in full service.
    pub unavailable_s: u64,
    /// Failed attempts over attempts, parts per million (0 without attempts).
    pub failed_share: u32,
    /// Parties of the service: its users (for SMTP, its doors).
    pub users: u32,
    /// The most parties not in full service at once, as a share of the
    /// service's parties, parts per million.
    pub users_affected_peak: u32,
    /// When the service was last back in full for every party after
    /// failing, seconds from T+0 (None: it never failed, or still fails at
    /// the end).
    pub restored_s: Option<u64>,
    /// Per bucket, from T+0 to the run's end.
    pub series: Vec<BucketSummary>,
}

/// A point of the users-in-full-service curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SharePoint {
    /// Seconds from T+0 (the state holds from here to the next point).
    pub t_s: u64,
    /// Share of users in full service, parts per million.
    pub full: u32,
    /// Share of users with partial (webmail-only, temporary store) service, ppm.
    pub partial: u32,
}

/// Per-user figures, over all users.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct UserMinutes {
    /// Users ever without full service.
    pub users_affected: u32,
    /// Minutes without full service (partial or down), total over users.
    pub without_full_service_total: u64,
    /// Minutes without full service of the user with the most.
    pub without_full_service_max: u64,
    /// Minutes with partial service, total over users.
    pub partial_total: u64,
    /// Minutes with partial service of the user with the most.
    pub partial_max: u64,
}

/// A node's queue depth: its peak and when the queue drained after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueuePeak {
    /// Mails in the queue at the peak (as sampled).
    pub depth: u32,
    /// When the peak was first sampled, seconds from T+0.
    pub at_s: u64,
    /// The first sample after the peak at or below 1% of it; `None` if the
    /// queue never drained before the end.
    pub drained_s: Option<u64>,
}

/// The run's availability figures (`availability` in `run --json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AvailabilitySummary {
    /// The width of a series bucket, seconds.
    pub bucket_s: u64,
    /// Users of the clients model.
    pub users: u32,
    /// SMTP in, judged per door (MX host or virtual IP).
    pub smtp: ServiceSummary,
    /// POP, judged per POP user.
    pub pop: ServiceSummary,
    /// IMAP, judged per IMAP user.
    pub imap: ServiceSummary,
    /// Webmail, judged per webmail user.
    pub webmail: ServiceSummary,
    /// Share of users in full service, a point at each change (starting at
    /// T+0 with every user in full service).
    pub users_full_service: Vec<SharePoint>,
    /// The lowest share of users in full service, ppm (1,000,000 without users).
    pub users_full_service_min: u32,
    /// Minutes without full (and with partial) service, over all users.
    pub user_minutes: UserMinutes,
    /// Per node name (nodes with a mail queue).
    pub queue_peak: BTreeMap<String, QueuePeak>,
    /// Seconds from the first fault to the first failover at or after it;
    /// `None` without a fault or without a failover after it.
    pub failover_s: Option<u64>,
}

impl AvailabilitySummary {
    /// The figures of one service.
    pub fn service(&self, s: Service) -> &ServiceSummary {
        match s {
            Service::Smtp => &self.smtp,
            Service::Pop => &self.pop,
            Service::Imap => &self.imap,
            Service::Webmail => &self.webmail,
        }
    }
    /// The figures of one service, to change (a report that drops a series).
    pub fn service_mut(&mut self, s: Service) -> &mut ServiceSummary {
        match s {
            Service::Smtp => &mut self.smtp,
            Service::Pop => &mut self.pop,
            Service::Imap => &mut self.imap,
            Service::Webmail => &mut self.webmail,
        }
    }

    /// The share of users with partial (webmail-only) service at `t_s` (ppm).
    pub fn users_partial_service_at(&self, t_s: u64) -> u32 {
        self.users_full_service.iter().take_while(|p| p.t_s <= t_s).last().map_or(0, |p| p.partial)
    }
    /// When every user was back in full service for good after some were
    /// not, seconds from T+0 (None: nobody lost service, or somebody still
    /// lacks it at the end).
    pub fn users_restored_s(&self) -> Option<u64> {
        match self.users_full_service.as_slice() {
            [.., last] if last.full == 1_000_000 && self.users_full_service_min < 1_000_000 => Some(last.t_s),
            _ => None,
        }
    }
    /// The share of users in full service at `t_s` (ppm).
    pub fn users_full_service_at(&self, t_s: u64) -> u32 {
        self.users_full_service.iter().take_while(|p| p.t_s <= t_s).last().map_or(1_000_000, |p| p.full)
    }
}

/// When a cluster resource started on a node other than its previous holder.
pub fn failovers(world: &World) -> Vec<Time> {
    let mut holders: Vec<Option<NodeId>> = Vec::new();
    let mut out = Vec::new();
    for &crate::ledger::ResourceStart { at: t, resource: res, node } in &world.stats.resource_starts {
        if holders.len() <= res {
            holders.resize(res + 1, None);
        }
        if holders[res].is_some_and(|h| h != node) {
            out.push(t);
        }
        holders[res] = Some(node);
    }
    out
}

/// Every availability figure of a run that ended at `end`: `names` are the
/// node names by `NodeId` (`Topology::node_names`, or the kernel's), and
/// `first_fault` the time of the first fault (for `failover_s`).
pub fn summarize(world: &World, names: &[String], first_fault: Option<Time>, end: Time) -> AvailabilitySummary {
    let a = &world.stats.availability;
    let bucket_us = a.bucket.as_micros();
    let buckets = (end.as_micros() / bucket_us + 1) as usize;
    let service = |s: Service| {
        let series: Vec<BucketSummary> = (0..buckets.max(a.buckets[s as usize].len()))
            .map(|b| {
                let c = a.buckets[s as usize].get(b).copied().unwrap_or([0; 2 + REASONS]);
                BucketSummary { start_s: b as u64 * bucket_us / MICROS_PER_S, attempts: c[0], ok: c[1], failed: FailedBy::from(&c[2..]) }
            })
            .collect();
        let (attempts, failed) = a.totals(s);
        let f = &a.affected[s as usize];
        let open = if f.now > 0 { end.since(f.since).as_micros() } else { 0 };
        ServiceSummary {
            attempts,
            failed,
            unavailable_s: (f.unavailable_us + open) / MICROS_PER_S,
            failed_share: ppm(failed, attempts),
            users: f.parties,
            users_affected_peak: f.peak_ppm,
            restored_s: if f.now == 0 { f.back.map(|t| t.as_micros() / MICROS_PER_S) } else { None },
            series,
        }
    };
    let users = a.users.len() as u64;
    let mut curve = vec![SharePoint { t_s: 0, full: 1_000_000, partial: 0 }];
    for &(t, not_full, partial) in &a.user_states {
        let point = SharePoint {
            t_s: t.as_micros() / MICROS_PER_S,
            full: ppm(users - not_full as u64, users),
            partial: ppm(partial as u64, users),
        };
        match curve.last_mut() {
            Some(last) if last.t_s == point.t_s => *last = point,
            _ => curve.push(point),
        }
    }
    let mut minutes = UserMinutes::default();
    for (_, without, partial) in a.user_times(end) {
        let (w, p) = (without.as_micros() / 60_000_000, partial.as_micros() / 60_000_000);
        minutes.users_affected += (without > Dur::ZERO) as u32;
        minutes.without_full_service_total += w;
        minutes.without_full_service_max = minutes.without_full_service_max.max(w);
        minutes.partial_total += p;
        minutes.partial_max = minutes.partial_max.max(p);
    }
    AvailabilitySummary {
        bucket_s: bucket_us / MICROS_PER_S,
        users: users as u32,
        smtp: service(Service::Smtp),
        pop: service(Service::Pop),
        imap: service(Service::Imap),
        webmail: service(Service::Webmail),
        users_full_service_min: curve.iter().map(|p| p.full).min().unwrap_or(1_000_000),
        users_full_service: curve,
        user_minutes: minutes,
        queue_peak: queue_peaks(world, names),
        failover_s: first_fault.and_then(|f| failovers(world).into_iter().find(|t| *t >= f).map(|t| t.since(f).as_micros() / MICROS_PER_S)),
    }
}

fn queue_peaks(world: &World, names: &[String]) -> BTreeMap<String, QueuePeak> {
    // Per node: (peak depth, when, drained when).
    let mut per_node: BTreeMap<u32, (u32, Time, Option<Time>)> = BTreeMap::new();
    for &crate::ledger::DepthSample { at: t, node, depth } in &world.stats.queue_depth {
        let e = per_node.entry(node).or_insert((depth, t, None));
        if depth > e.0 {
            *e = (depth, t, None);
        } else if e.2.is_none() && depth as u64 * 100 <= e.0 as u64 {
            e.2 = Some(t);
        }
    }
    per_node
        .into_iter()
        .map(|(node, (depth, at, drained))| {
            let name = names.get(node as usize).cloned().unwrap_or_else(|| format!("node-{node}"));
            (name, QueuePeak { depth, at_s: at.as_micros() / MICROS_PER_S, drained_s: drained.map(|t| t.as_micros() / MICROS_PER_S) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::FenceDeviceConfig;
    use crate::msg::{Action, FenceMode, Smtp, SmtpCode};
    use crate::ops::Trigger;
    use crate::senders::{Senders, SendersConfig, Workload};
    use crate::topology::{ClusterSpec, FaultAt, FaultKind, FaultSpec, FenceLevel, StepSpec, Topology, TopologyOptions};
    use mailsim_sim::{Config, Disk, Input, Node, NodeConfig};

    const H: u64 = 3600;

    /// Two unclustered MX nodes, 60 mailboxes (so 60 users), 3,000 mails
    /// over a day (a dozen SMTP attempts an hour even at night).
    fn small(seed: u64) -> Topology {
        let mut t = Topology::new(TopologyOptions { seed, mx: 2, mailboxes: 60, mails: 3_000 });
        t.duration = Dur::hours(12);
        t
    }

    fn fault(at_h: u64, kind: FaultKind, target: &str) -> FaultSpec {
        FaultSpec::new(Time::from_hours(at_h), kind, target)
    }

    fn step(name: &str, target: &str, action: Action, at_h: u64) -> StepSpec {
        StepSpec::new(name, target, action, Trigger::At(Time::from_hours(at_h)))
    }

    fn run(t: &Topology) -> (World, AvailabilitySummary) {
        let mut sim = t.build();
        let report = sim.run();
        assert!(!matches!(report.outcome, mailsim_sim::Outcome::ModelPanic { .. }), "{}", report.outcome);
        let first = t.faults.iter().map(|f| f.at.time()).min();
        let world = std::mem::take(sim.world_mut());
        let summary = summarize(&world, &t.node_names(), first, report.end);
        (world, summary)
    }

    fn failed(s: &ServiceSummary) -> FailedBy {
        let mut f = FailedBy::default();
        for b in &s.series {
            f.refused += b.failed.refused;
            f.timed_out += b.failed.timed_out;
            f.login_denied += b.failed.login_denied;
            f.temporary_store += b.failed.temporary_store;
            f.service_unavailable += b.failed.service_unavailable;
            f.temp_fail += b.failed.temp_fail;
            f.perm_fail += b.failed.perm_fail;
        }
        f
    }

    /// Service names as figures and scenario files spell them (found by
    /// cargo-mutants: no test read them).
    #[test]
    fn services_are_named_as_files_name_them() {
        assert_eq!(Service::ALL.map(Service::name), ["smtp", "pop", "imap", "webmail"]);
    }

    /// A user without full service from T+1h to T+2h30m, then partial
    /// service for 20 minutes, counts 110 minutes without full service and
    /// 20 with partial service (found by cargo-mutants: the minutes were
    /// never checked against a known outage).
    #[test]
    fn user_minutes_are_minutes_of_the_users_own_outage() {
        let mut world = World::new();
        user(&mut world, 0, Proto::Pop);
        let a = &mut world.stats.availability;
        let p = a.users[0];
        let at = |m: u64| Time::from_secs(m * 60);
        a.judge(p, at(60), Err(Reason::LoginDenied), true);
        a.judge(p, at(150), Err(Reason::TemporaryStore), true);
        a.judge(p, at(170), Ok(()), true);
        let s = summarize(&world, &[], None, at(600));
        let m = s.user_minutes;
        assert_eq!((m.users_affected, m.without_full_service_total, m.without_full_service_max), (1, 110, 110));
        assert_eq!((m.partial_total, m.partial_max), (20, 20));
    }

    #[test]
    fn a_quiet_service_is_available_to_every_user_and_sender() {
        let (_, s) = run(&small(1));
        assert_eq!(s.users, 60);
        assert_eq!(s.pop.users + s.imap.users + s.webmail.users, 60);
        assert_eq!(s.smtp.users, 2, "two doors: mx-1 and mx-2");
        for svc in Service::ALL {
            let x = s.service(svc);
            assert!(x.attempts > 100, "{}: {} attempts", svc.name(), x.attempts);
            assert_eq!((x.failed, x.unavailable_s, x.users_affected_peak), (0, 0, 0), "{}", svc.name());
            assert_eq!(x.series.len(), 13, "a bucket per hour, the end's included");
            assert_eq!(x.series.iter().map(|b| b.attempts).sum::<u64>(), x.attempts);
        }
        assert_eq!(s.users_full_service, vec![SharePoint { t_s: 0, full: 1_000_000, partial: 0 }]);
        assert_eq!(s.user_minutes, UserMinutes::default());
        assert_eq!(s.failover_s, None);
    }

    #[test]
    fn a_crashed_mx_refuses_smtp_at_its_own_door() {
        let mut t = small(2);
        t.faults.push(fault(1, FaultKind::Crash, "mx-1"));
        t.faults.push(fault(3, FaultKind::Restart, "mx-1"));
        let (_, s) = run(&t);
        let f = failed(&s.smtp);
        assert!(f.refused > 5, "{f:?}");
        assert_eq!(f.refused, s.smtp.failed, "every failure a refused connection: {f:?}");
        // One door of two failed from its first refused attempt after 1 h
        // until its first accepted one after 3 h.
        assert_eq!(s.smtp.users_affected_peak, 500_000);
        assert!((H + H / 2..=2 * H + 600).contains(&s.smtp.unavailable_s), "{} s", s.smtp.unavailable_s);
        assert_eq!(s.pop.failed + s.imap.failed + s.webmail.failed, 0, "readers use the file server");
    }

    #[test]
    fn a_silent_mx_times_smtp_out() {
        let mut t = small(3);
        t.mx_refuse_when_down = false;
        t.faults.push(fault(1, FaultKind::Crash, "mx-1"));
        let (_, s) = run(&t);
        let f = failed(&s.smtp);
        assert!(f.timed_out > 5, "{f:?}");
        assert_eq!((f.refused, f.temp_fail), (0, 0), "{f:?}");
    }

    #[test]
    fn a_down_file_server_refuses_readers() {
        let mut t = small(4);
        t.faults.push(fault(1, FaultKind::Crash, "filer"));
        t.faults.push(fault(2, FaultKind::Restart, "filer"));
        let (_, s) = run(&t);
        for svc in [Service::Pop, Service::Imap, Service::Webmail] {
            let x = s.service(svc);
            let f = failed(x);
            assert!(f.refused > 0, "{}: {f:?}", svc.name());
            // After the restart the lock manager is in grace for a minute
            // or so: a POP or IMAP login may be denied then.
            let grace = if svc == Service::Webmail { 0 } else { f.login_denied };
            assert!(grace <= 5, "{}: {f:?}", svc.name());
            assert_eq!(f.refused + grace, x.failed, "{}: {f:?}", svc.name());
            // Every user checks within 15 minutes of the crash and of the
            // restart; a login denied in the grace (at most 90 s) waits for
            // that user's next check.
            assert!((H - 900..=H + 900 + 120).contains(&x.unavailable_s), "{}: {} s", svc.name(), x.unavailable_s);
            assert_eq!(x.users_affected_peak, 1_000_000, "{}", svc.name());
        }
        assert!(s.users_full_service_min == 0, "{:?}", s.users_full_service);
        assert_eq!(s.users_full_service_at(12 * H), 1_000_000);
    }

    #[test]
    fn a_hung_file_server_times_readers_out() {
        let mut t = small(5);
        t.faults.push(fault(1, FaultKind::Hang { for_: Dur::mins(30) }, "filer"));
        let (_, s) = run(&t);
        for svc in [Service::Pop, Service::Imap, Service::Webmail] {
            let f = failed(s.service(svc));
            assert!(f.timed_out > 0, "{}: {f:?}", svc.name());
            assert_eq!(f.timed_out, s.service(svc).failed, "{}: {f:?}", svc.name());
        }
    }

    /// ECCS 2018: the cluster takes mail (it queues on local disks) while
    /// nothing reaches a mailbox, and POP/IMAP logins fail on the lock.
    #[test]
    fn broken_locks_deny_pop_and_imap_logins_while_smtp_accepts_mail() {
        let mut t = small(6);
        t.faults.push(fault(0, FaultKind::LockBroken, "filer"));
        let (w, s) = run(&t);
        assert_eq!(w.counts.delivered, 0);
        assert_eq!((s.smtp.failed, s.smtp.unavailable_s), (0, 0), "mail accepted and queued");
        for svc in [Service::Pop, Service::Imap] {
            let x = s.service(svc);
            assert_eq!(failed(x).login_denied, x.attempts, "{}", svc.name());
            assert_eq!(x.failed_share, 1_000_000);
        }
        assert_eq!(s.webmail.failed, 0, "webmail takes no lock");
        // Its queue grew at each MX and never drained.
        for mx in ["mx-1", "mx-2"] {
            let q = s.queue_peak.get(mx).unwrap_or_else(|| panic!("{mx} in {:?}", s.queue_peak));
            assert!(q.depth > 500, "{mx}: {q:?}");
            assert_eq!(q.drained_s, None, "{mx}");
        }
    }

    #[test]
    fn each_mx_queue_reports_its_peak_and_when_it_drained() {
        let mut t = small(7);
        t.faults.push(fault(0, FaultKind::LockBroken, "filer"));
        t.plan.push(step("rollback", "filer", Action::RollbackUpgrade, 3));
        let (_, s) = run(&t);
        let names: Vec<&str> = s.queue_peak.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["mx-1", "mx-2"]);
        for q in s.queue_peak.values() {
            assert!(q.depth > 30, "{q:?}");
            // The lock manager's grace after the rollback, then deferred
            // mail waits for its retry (Postfix backoff up to 4000 s).
            assert!((2 * H..=3 * H + 600).contains(&q.at_s), "peak about the rollback: {q:?}");
            let drained = q.drained_s.expect("drained after the rollback");
            assert!((3 * H..3 * H + 4000 + 600).contains(&drained), "{q:?}");
        }
    }

    #[test]
    fn queue_depth_trace_tracks_are_named_per_node() {
        let a = crate::mta::queue_gauge_for_tests("mx-1");
        let b = crate::mta::queue_gauge_for_tests("mx-2");
        assert_eq!((a, b), ("mx-1/queue_depth", "mx-2/queue_depth"));
        assert!(std::ptr::eq(a, crate::mta::queue_gauge_for_tests("mx-1")), "each name leaked once");
    }

    /// OpenSRS 2008: a shelf's volumes offline; webmail says "Service
    /// Unavailable" to the users on them until temporary stores give them
    /// new mail (partial service); POP and IMAP logins are denied throughout.
    #[test]
    fn a_volume_outage_with_temporary_stores_gives_affected_webmail_users_partial_service() {
        let mut t = small(8);
        t.faults.push(FaultSpec::new(FaultAt::BeforeStart, FaultKind::PathFault, "shelf-a"));
        t.faults.push(fault(1, FaultKind::ControllerFailure, "shelf-a/controller-a"));
        t.plan.push(step("temp-stores", "filer", Action::EnableTempStores, 4));
        let (_, s) = run(&t);
        let by_hour = |x: &ServiceSummary, h: usize| x.series[h].failed;
        // 2-3 h: no temporary stores yet; 6-7 h: they serve webmail.
        assert!(by_hour(&s.webmail, 2).service_unavailable > 0, "{:?}", s.webmail.series[2]);
        assert_eq!(by_hour(&s.webmail, 2).temporary_store, 0);
        assert!(by_hour(&s.webmail, 6).temporary_store > 0, "{:?}", s.webmail.series[6]);
        assert_eq!(by_hour(&s.webmail, 6).service_unavailable, 0);
        for svc in [Service::Pop, Service::Imap] {
            assert!(by_hour(s.service(svc), 6).login_denied > 0, "{}", svc.name());
            assert_eq!(failed(s.service(svc)).temporary_store, 0, "{}: no temporary store for POP/IMAP", svc.name());
        }
        // About half the users are on the shelf's volumes.
        let at = |h: u64| s.users_full_service.iter().take_while(|p| p.t_s <= h * H).last().copied().expect("a point");
        assert!((300_000..700_000).contains(&at(3).full), "{:?}", at(3));
        assert_eq!(at(3).partial, 0);
        assert!(at(6).partial > 0 && at(6).partial < 1_000_000 - at(6).full, "webmail users only: {:?}", at(6));
        let m = s.user_minutes;
        assert!(m.partial_total > 0 && m.partial_max <= 8 * 60, "{m:?}");
        assert!(m.without_full_service_total > m.partial_total, "{m:?}");
        assert!(m.without_full_service_max >= 10 * 60, "a POP user on the shelf: {m:?}");
    }

    /// Fused 2018: the primary crashes, fencing reports failure, the cluster
    /// stays stuck until a manual reset: no node runs SMTP, POP or IMAP.
    #[test]
    fn a_stuck_cluster_makes_smtp_pop_and_imap_unavailable_until_the_reset() {
        let mut t = small(9);
        let fence = FenceDeviceConfig { mode: FenceMode::ReportsFailure, ..FenceDeviceConfig::default() };
        t.cluster = Some(ClusterSpec { fence_levels: vec![FenceLevel::new("ipmi", fence)], ..ClusterSpec::default() });
        t.faults.push(fault(1, FaultKind::Crash, "mx-1"));
        t.plan.push(step("reset", "mx-2", Action::ResetCluster, 9));
        let (_, s) = run(&t);
        assert_eq!(s.smtp.users, 1, "senders knock on the vip only");
        let f = failed(&s.smtp);
        assert!(f.temp_fail > 20, "the vip answers 4xx for the cluster: {f:?}");
        assert!((8 * H - 600..=8 * H + 600).contains(&s.smtp.unavailable_s), "smtp {} s", s.smtp.unavailable_s);
        for svc in [Service::Pop, Service::Imap, Service::Webmail] {
            let x = s.service(svc);
            assert!(failed(x).refused > 0 && failed(x).refused == x.failed, "{}: {:?}", svc.name(), failed(x));
            assert!((8 * H - 300..=8 * H + 900).contains(&x.unavailable_s), "{}: {} s", svc.name(), x.unavailable_s);
            assert_eq!(x.users_affected_peak, 1_000_000, "{}", svc.name());
        }
        assert_eq!(s.users_full_service_min, 0);
        let failover = s.failover_s.expect("a failover after the reset");
        assert!((8 * H..8 * H + 120).contains(&failover), "{failover} s after the crash");
    }

    /// Answers every DATA with a 5xx.
    struct Rejecting;
    impl Node<Msg, World> for Rejecting {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            if let Input::Message { from, msg: Msg::Smtp(Smtp::Data { mail, slot }) } = input {
                ctx.send(from, Msg::Smtp(Smtp::Reply { id: mail.id, code: SmtpCode::PermFail, slot }));
            }
        }
    }

    #[test]
    fn a_5xx_is_counted_at_its_door_as_a_permanent_failure() {
        let mut sim = crate::ledger::new_sim(Config::new(3));
        let mx = sim.add_node("mx-1", NodeConfig::default(), (), |_| Rejecting);
        let cfg = SendersConfig::new(vec![mx], Workload::total(7, Dur::mins(10), 10));
        sim.add_node("internet", NodeConfig::default(), (), move |_| Senders::new(cfg.clone()));
        let report = sim.run();
        let s = summarize(sim.world(), &["mx-1".into(), "internet".into()], None, report.end);
        assert_eq!((s.smtp.attempts, failed(&s.smtp).perm_fail), (7, 7));
        assert_eq!(s.smtp.failed_share, 1_000_000);
    }

    #[test]
    fn a_user_keeps_the_state_of_their_last_check_until_the_next() {
        let mut a = Availability::new(Dur::hours(1));
        a.users = vec![a.add_party(Service::Webmail), a.add_party(Service::Pop)];
        let t = |m: u64| Time::from_secs(m * 60);
        a.judge(1, t(10), Err(Reason::ServiceUnavailable), true);
        a.judge(2, t(20), Err(Reason::LoginDenied), true);
        a.judge(1, t(30), Err(Reason::TemporaryStore), true);
        a.judge(1, t(40), Err(Reason::TemporaryStore), true);
        a.judge(1, t(70), Ok(()), true);
        a.judge(2, t(80), Ok(()), true);
        let times = a.user_times(t(100));
        assert_eq!(times[0], (Service::Webmail, Dur::mins(60), Dur::mins(40)));
        assert_eq!(times[1], (Service::Pop, Dur::mins(60), Dur::ZERO));
        assert_eq!(a.user_states, vec![(t(10), 1, 0), (t(20), 2, 0), (t(30), 2, 1), (t(70), 1, 0), (t(80), 0, 0)]);
        assert_eq!(a.affected[Service::Webmail as usize].unavailable_us, Dur::mins(60).as_micros());
    }
}
