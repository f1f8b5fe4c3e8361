//! # mailsim-harness: real SMTP code under simulation
//!
//! The models (`mailsim-models`) are fast abstractions of mail software.
//! This crate runs *real* async Rust instead — an SMTP receiver and relay,
//! a mailstore and the internet's senders, speaking RFC 5321 over simulated
//! TCP with a simulated disk — under the same outages, and judges it with
//! the models' own custody ledger:
//! - **engines**: turmoil by default; madsim with `RUSTFLAGS="--cfg
//!   madsim"` (the same code, through `engine`);
//! - **custody**: every transition is journaled (`journal`) and replayed
//!   through `mailsim_models::ledger` (`audit`): 250 only once durable, no
//!   mail lost, none delivered twice, every mail eventually delivered;
//! - **faults**: crash and restart, partition, isolate, heal, hold/release,
//!   link latency, a store that tempfails — by hand (`Fault`) or from the
//!   scenario files (`scenario`), which refuse what the harness cannot do;
//! - **your server**: implement `MxServer` and it runs on the MX hosts in
//!   place of ours (`examples/custom_mx.rs`).
//!
//! ```
//! # #[cfg(not(madsim))] {
//! use std::time::Duration;
//! use mailsim_harness::{run, Fault, Setup};
//!
//! // 5 mails through 2 MX hosts; mx-1 crashes and comes back.
//! let hour = Duration::from_secs(3600);
//! let setup = Setup::new(2, 3, 5, Duration::from_secs(60), hour, 7)
//!     .fault(Duration::from_secs(20), Fault::Crash("mx-1".into()))
//!     .fault(Duration::from_secs(300), Fault::Restart("mx-1".into()));
//! let outcome = run(&setup, 7).expect("the run completes");
//! assert!(outcome.audit.passed(), "{:?}", outcome.audit.violations());
//! assert_eq!(outcome.audit.world.counts.delivered, 5);
//! # }
//! ```

pub mod audit;
pub mod connector;
pub mod engine;
pub mod error;
pub mod journal;
pub mod mx;
pub mod outcome;
pub mod plug;
pub mod relay;
#[cfg(madsim)]
pub mod run_madsim;
#[cfg(not(madsim))]
pub mod run_turmoil;
pub mod scenario;
pub mod sender;
pub mod setup;
pub mod smtp;
pub mod spool;
pub mod store;

pub use audit::Audit;
pub use error::HarnessError;
pub use mx::{Mx, PlantedBug};
pub use outcome::Outcome;
pub use plug::{MxContext, MxServer, RelaySettings, ServeFuture};
#[cfg(madsim)]
pub use run_madsim::run;
#[cfg(not(madsim))]
pub use run_turmoil::run;
pub use setup::{Fault, Setup};
