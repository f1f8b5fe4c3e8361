//! Records: one JSON line per finished run, keyed by (scenario, file hash,
//! seed), with a checksum over its contents; and the stable hash of a
//! scenario file and its `extends` chain.
//!
//! Both hashes are 64-bit FNV-1a (Fowler, Noll and Vo; the parameters of
//! draft-eastlake-fnv): a few lines, no dependency, and the same value on
//! every machine, process and Rust version, unlike `DefaultHasher`. The
//! checksum catches edited and damaged records; it is not a signature (anyone
//! can recompute it), which is fine for results a team writes itself.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{io_err, SweepError};
use crate::run::RunResult;

/// One finished run, as stored (one JSON line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub scenario: String,
    /// The scenario file as given to the sweep (for the repro command).
    pub file: String,
    /// [`scenario_hash`] of the file and its `extends` chain.
    pub file_hash: String,
    pub seed: u64,
    /// ok, safety, liveness, panic or budget.
    pub outcome: String,
    /// Every expectation met, but for tolerated misses of rate expectations.
    pub passed: bool,
    /// Names of the expectations not met (tolerated misses of rate
    /// expectations are in `rates`, not here).
    #[serde(default)]
    pub failed: Vec<String>,
    /// Every rate expectation's verdict (bounds with `on_seeds`): a sweep
    /// judges their share of seeds. Absent from scenarios without any, so
    /// their records (and checksums) are as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<RateFlag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation: Option<String>,
    /// Fault kinds injected in this run (scheduled and random), as the kernel
    /// names them (a `partition` process injects `isolate` faults).
    #[serde(default)]
    pub faults: Vec<FaultFlags>,
    /// Random fault processes enabled in this run (swarm mode enables a
    /// subset per seed), with how often each fired.
    #[serde(default)]
    pub processes: Vec<ProcessFlags>,
    pub trace_hash: String,
    pub events: u64,
    pub lost: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub client_duplicates: u64,
    /// DSNs returned to authors.
    pub returned: u64,
    /// Mails the sending MTAs bounced.
    pub sender_bounced: u64,
    pub peak_unavailable_ppm: u32,
    pub restored_us: Option<u64>,
    pub delay_s_max: u64,
    /// Peak share of users without full service (ppm).
    #[serde(default)]
    pub users_affected_peak_ppm: u32,
    /// Seconds each service (smtp, pop, imap, webmail) failed for at least
    /// one user.
    #[serde(default)]
    pub service_down_s: BTreeMap<String, u64>,
    /// Each checkpoint (the postmortem's claims) held against the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkpoints: Vec<CheckpointFlag>,
    /// The coverage marks the run reached, by name (`Figures::marks`).
    /// Absent when it reached none, so such records (and checksums) are as
    /// before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<String>,
    /// [`record_checksum`] of everything above, written last. Empty in
    /// records written before checksums existed; merge refuses those.
    #[serde(default)]
    pub checksum: String,
}

/// One checkpoint in one run: hit or not, and the simulated value (a share
/// in ppm, or an event's seconds from T+0; None: the event never happened).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointFlag {
    pub claim: String,
    /// Its clock time as the file gave it.
    pub at: String,
    pub metric: String,
    pub value: Option<u64>,
    pub hit: bool,
}

/// What one fault kind did in one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultFlags {
    pub kind: String,
    /// Occurrences injected (scheduled and random).
    pub fired: u32,
    /// Occurrences that changed something observable.
    pub effect: u32,
}

/// One rate expectation's verdict in one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateFlag {
    pub name: String,
    /// The share of seeds it is meant to hold on, parts per million.
    pub holds_on_ppm: u32,
    pub met: bool,
}

impl RateFlag {
    /// The rate expectations' verdicts of a run.
    pub fn of(r: &RunResult) -> Vec<RateFlag> {
        r.verdicts.iter().filter_map(|v| Some(RateFlag { name: v.name.clone(), holds_on_ppm: v.holds_on_ppm?, met: v.met })).collect()
    }
}

/// One random fault process enabled in one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessFlags {
    pub kind: String,
    pub fired: u32,
}

impl Record {
    /// The dedupe key: (scenario, file hash, seed).
    pub fn key(&self) -> Key {
        (self.scenario.clone(), self.file_hash.clone(), self.seed)
    }
    /// The command that reproduces this run exactly.
    pub fn repro(&self) -> String {
        repro_command(&self.file, self.seed)
    }
    /// Whether the checksum matches the contents.
    pub fn checksum_ok(&self) -> bool {
        !self.checksum.is_empty() && self.checksum == record_checksum(self)
    }
    /// The same run with the same results: equal in everything but the file
    /// path the sweep was given (shards on two machines may name one file
    /// differently) and, with it, the checksum.
    pub fn same_run(&self, other: &Record) -> bool {
        let strip = |r: &Record| Record { file: String::new(), checksum: String::new(), ..r.clone() };
        strip(self) == strip(other)
    }
    /// Kinds of the faults injected in this run.
    pub fn fired_kinds(&self) -> impl Iterator<Item = &str> {
        self.faults.iter().filter(|f| f.fired > 0).map(|f| f.kind.as_str())
    }
}

/// (scenario, file hash, seed).
pub type Key = (String, String, u64);

/// `mailsim run FILE --seed N`, the file name quoted for a POSIX shell if needed:
/// the one writer of every repro command (run, the default job, sweep, merge,
/// shrink, replay, JUnit, `testing`; `tests/tidy.rs` checks there is no other).
pub fn repro_command(file: &str, seed: u64) -> String {
    let plain = !file.is_empty() && file.chars().all(|c| c.is_ascii_alphanumeric() || "_./-+=:,@%".contains(c));
    let file = if plain { file.to_string() } else { format!("'{}'", file.replace('\'', r"'\''")) };
    format!("mailsim run {file} --seed {seed}")
}

/// The record of one run.
pub fn record(file: &str, file_hash: &str, r: &RunResult) -> Record {
    let f = &r.figures;
    let mut kinds: BTreeMap<&str, FaultFlags> = BTreeMap::new();
    for fault in &r.report.faults {
        let e = kinds.entry(&fault.kind).or_insert_with(|| FaultFlags { kind: fault.kind.clone(), fired: 0, effect: 0 });
        e.fired += 1;
        e.effect += u32::from(fault.effect);
    }
    Record {
        scenario: r.scenario.clone(),
        file: file.to_string(),
        file_hash: file_hash.to_string(),
        seed: f.seed,
        outcome: r.report.outcome.class().to_string(),
        passed: r.passed(),
        failed: r.verdicts.iter().filter(|v| v.failed()).map(|v| v.name.clone()).collect(),
        rates: RateFlag::of(r),
        violation: f.violation.clone(),
        faults: kinds.into_values().collect(),
        processes: r.report.processes.iter().filter(|p| p.enabled).map(|p| ProcessFlags { kind: p.kind.clone(), fired: p.fired }).collect(),
        trace_hash: f.trace_hash.clone(),
        events: f.events,
        lost: f.lost,
        delivered: f.delivered,
        duplicates: f.duplicates,
        client_duplicates: f.client_duplicates,
        returned: f.returned,
        sender_bounced: f.sender_bounced,
        peak_unavailable_ppm: f.peak_unavailable_ppm,
        restored_us: f.restored_us,
        delay_s_max: f.delay_s_max,
        users_affected_peak_ppm: f.users_affected_peak(),
        checkpoints: r
            .checkpoints
            .iter()
            .map(|c| CheckpointFlag { claim: c.claim.clone(), at: c.at.clone(), metric: c.metric.clone(), value: c.value, hit: c.hit })
            .collect(),
        marks: f.marks.iter().map(|m| m.name.clone()).collect(),
        service_down_s: crate::run::SERVICES.iter().map(|&(name, s)| (name.to_string(), f.availability.service(s).unavailable_s)).collect(),
        checksum: String::new(),
    }
    .sealed()
}

impl Record {
    /// This record with its checksum computed.
    pub fn sealed(self) -> Record {
        let checksum = record_checksum(&self);
        Record { checksum, ..self }
    }
}

/// A stable 64-bit FNV-1a hasher.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn eat(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// 64-bit FNV-1a of `bytes`: stable across processes, machines and Rust
/// versions.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h = Fnv::new();
    h.eat(bytes);
    h.0
}

/// The checksum of a record: [`stable_hash`] of its canonical form — the
/// record as `serde_json` writes it (fields in declaration order, no
/// whitespace) with `checksum` empty — as 16 hex digits. Any edit to any
/// field, figures, verdicts or trace hash, changes it.
pub fn record_checksum(r: &Record) -> String {
    let canonical = serde_json::to_vec(&Record { checksum: String::new(), ..r.clone() }).expect("a record serializes");
    format!("{:016x}", stable_hash(&canonical))
}

/// A stable 64-bit hash (FNV-1a) of a scenario file's content and of every
/// file in its `extends` chain, so that editing the file or a file it extends
/// keeps old results apart. Stable across processes, machines and Rust
/// versions (unlike `DefaultHasher`).
pub fn scenario_hash(path: &Path) -> Result<String, SweepError> {
    let mut h = Fnv::new();
    let mut next = Some(path.to_path_buf());
    let mut seen = Vec::new();
    while let Some(p) = next.take() {
        if seen.contains(&p) {
            break; // a loop; `Scenario::load` reports it
        }
        let bytes = std::fs::read(&p).map_err(io_err(&p))?;
        h.eat(&(bytes.len() as u64).to_le_bytes());
        h.eat(&bytes);
        let base = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| toml::from_str::<toml::Table>(t).ok())
            .and_then(|t| t.get("extends").and_then(|e| e.as_str()).map(str::to_string));
        next = base.map(|b| p.parent().unwrap_or(Path::new(".")).join(b));
        seen.push(p);
    }
    Ok(format!("{:016x}", h.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repro_commands_quote_odd_file_names() {
        assert_eq!(repro_command("scenarios/a-b.toml", 7), "mailsim run scenarios/a-b.toml --seed 7");
        assert_eq!(repro_command("my dir/it's.toml", 1), r"mailsim run 'my dir/it'\''s.toml' --seed 1");
    }

    #[test]
    fn fnv_1a_matches_its_published_test_vectors() {
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
