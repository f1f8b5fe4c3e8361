//! # mailsim-models: the mail cluster, modeled
//!
//! Components of a hosted mail service, faithful enough that replays of real
//! outages (`../shared/OUTAGES.md`) show what their postmortems reported:
//! - `senders`: the internet side — workloads and SMTP retry profiles;
//! - `mta`: mail nodes (MX) with durable queues, Postfix-like backoff, DSNs,
//!   and a local delivery agent that needs the mailbox lock;
//! - `storage`: shelves, controllers, paths, disks, RAID groups, volumes;
//! - `filer`: the NFS file server with its lock manager, holding the mailstore
//!   (mailboxes on volumes, temporary stores, merge-back, migration);
//! - `cluster`: the cluster manager with heartbeats, fencing and failover;
//! - `ops`: monitoring, alerts, operators and the recovery plan;
//! - `clients`: POP, IMAP and webmail users;
//! - `ledger`: the custody ledger and measurements (the invariants);
//! - `reconcile`: the end-of-run count of every mail from the components'
//!   final state, checked against the ledger.
//! - `availability`: service-level availability (attempts, users, queues)
//!   and the one summary of it that every report uses.
//!
//! Components talk only through the messages of `msg`.

pub mod availability;
pub mod calendar;
pub mod clients;
pub mod cluster;
pub mod filer;
pub mod host;
pub mod ledger;
pub mod msg;
pub mod mta;
pub mod ops;
pub mod reconcile;
pub mod retry;
pub mod senders;
pub mod storage;
pub mod topology;

pub use ledger::World;
pub use msg::*;
