//! # mailsim-models: the mail cluster, modeled
//!
//! Components of a hosted mail service, faithful enough that replays of real
//! outages show what their postmortems reported. The postmortems (public):
//! - University of Tokyo ECCS, "Failure of MailHosting service and ECCS Staff
//!   Email on May 19th and 20th", May 25, 2018,
//!   <https://www.ecc.u-tokyo.ac.jp/en/announcement/2018/05/25_2805.html>;
//! - OpenSRS blog, "Update On Cluster A Email Service Issues", August 2008,
//!   <http://www.opensrs.com/blog/2008/08/update-on-cluster-a-email-service-issues/>,
//!   and the closing notes and August 15 update on
//!   <http://opensrs.com/blog/tag/email-service/page/2/>;
//! - Fused, "mail system down" incident report, December 31, 2018,
//!   <https://www.fusedstatus.com/incidents/5fh5cmfdh868>;
//! - FastName.no, "7-12 November – Utfordringer med mail / webhostingmiljø"
//!   (Norwegian), November 2019 (year inferred),
//!   <https://www.fastname.no/7-12-november-utfordringer-med-mail-webhostingmiljo/>.
//!
//! The components:
//! - `senders`: the internet side — workloads and SMTP retry profiles;
//! - `inbound`: what an MX answers new mail for an unavailable mailbox
//!   (accept and hold, 4xx, 5xx);
//! - `mta`: mail nodes (MX) with durable queues, Postfix-like backoff, DSNs,
//!   and a local delivery agent that needs the mailbox lock;
//! - `storage`: shelves, controllers, paths, disks, RAID groups, volumes;
//! - `heads`: the file server's heads, one or an HA pair (takeover,
//!   giveback);
//! - `filer`: the NFS file server with its lock manager, holding the mailstore
//!   (mailboxes on volumes, temporary stores, merge-back, migration);
//! - `replication`: the mailstore's replica at a second site (sync or
//!   async with a lag), failover to it, and split brain;
//! - `cluster`: the cluster manager with heartbeats, fencing and failover;
//! - `ops`: monitoring, alerts, operators and the recovery plan;
//! - `clients`: POP, IMAP and webmail users;
//! - `ledger`: the custody ledger and measurements (the invariants);
//! - `marks`: coverage marks, the behaviours some run should reach ("a
//!   fence failed"), reported and never judged;
//! - `reconcile`: the end-of-run count of every mail from the components'
//!   final state, checked against the ledger.
//! - `availability`: service-level availability (attempts, users, queues)
//!   and the one summary of it that every report uses.
//!
//! Components talk only through the messages of `msg`.

pub mod availability;
pub mod backup;
pub mod calendar;
pub mod choice;
pub mod clients;
pub mod cluster;
pub mod contention;
pub mod filer;
pub mod heads;
pub mod host;
pub mod inbound;
pub mod ledger;
pub mod marks;
pub mod msg;
pub mod mta;
pub mod ops;
pub mod reconcile;
pub mod replication;
pub mod retry;
pub mod senders;
pub mod storage;
pub mod timer;
pub mod topology;

pub use ledger::World;
pub use msg::*;
