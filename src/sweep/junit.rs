//! A sweep's JUnit report (written by `crate::junit`): one test case per
//! scenario × expectation. The class name is the scenario's name,
//! so a CI's test history survives edits of the file; the file's hash is a
//! property of the suite.

use std::path::Path;
use std::time::Duration;

use crate::junit::{junit_xml, JunitCase, JunitProperty, JunitSuite};

use super::record::repro_command;
use super::store::write_atomic;
use super::summary::{missing_list, Failure, Rate, RateCheck, Summary};
use super::{io_err, SweepError};

/// Repro commands listed per JUnit failure, at most.
const JUNIT_REPROS_MAX: usize = 100;

/// The JUnit suites of a summary: one test case per scenario × expectation,
/// failing with the repro commands of the runs that missed it; plus one
/// "all seeds ran" case where seeds are missing.
pub fn summary_junit(s: &Summary) -> Vec<JunitSuite> {
    let mut cases = Vec::new();
    let mut properties = Vec::new();
    for sc in &s.scenarios {
        let class = sc.scenario.clone();
        properties.push(JunitProperty { name: format!("file hash of {}", sc.scenario), value: sc.file_hash.clone() });
        for e in &sc.expectations {
            if let Some(r) = sc.rates.iter().find(|r| &r.name == e) {
                cases.push(rate_case(&class, &sc.file, r));
                continue;
            }
            let failed: Vec<&Failure> = sc.failures.iter().filter(|f| f.failed.contains(e)).collect();
            let rate = Rate::new(failed.len() as u64, sc.runs);
            if failed.is_empty() {
                let mut c = JunitCase::passed(&class, e);
                c.system_out = Some(format!("failed {rate}"));
                cases.push(c);
                continue;
            }
            let mut text: Vec<String> = failed
                .iter()
                .take(JUNIT_REPROS_MAX)
                .map(|f| format!("{}  # outcome {}; missed: {}", f.repro, f.outcome, f.failed.join("; ")))
                .collect();
            if failed.len() > JUNIT_REPROS_MAX {
                text.push(format!("… and {} more failed runs", failed.len() - JUNIT_REPROS_MAX));
            }
            cases.push(JunitCase::failed(&class, e, format!("failed {rate}; reproduce: {}", failed[0].repro), text.join("\n")));
        }
        for r in sc.rates.iter().filter(|r| !sc.expectations.contains(&r.name)) {
            cases.push(rate_case(&class, &sc.file, r));
        }
        if let Some(m) = sc.missing.filter(|m| *m > 0) {
            cases.push(JunitCase::failed(
                &class,
                "all seeds ran",
                format!("{m} seeds have no result"),
                format!("missing: {}", missing_list(sc)),
            ));
        }
    }
    vec![JunitSuite { name: "mailsim sweep".to_string(), cases, properties, ..JunitSuite::default() }]
}

/// A rate expectation's test case: passes when the share of seeds that met
/// it is at least the required share; either way it shows the share with
/// its 95% interval, and a failure lists the first seeds that missed it.
fn rate_case(class: &str, file: &str, r: &RateCheck) -> JunitCase {
    if r.met {
        let mut c = JunitCase::passed(class, &r.name);
        c.system_out = Some(r.to_string());
        return c;
    }
    let text: Vec<String> = r.missed_seeds.iter().map(|&seed| format!("{}  # missed `{}`", repro_command(file, seed), r.name)).collect();
    JunitCase::failed(class, &r.name, format!("below its required share: {r}"), text.join("\n"))
}

/// Writes the summary's JUnit report; `elapsed`, the sweep's wall time (none
/// for a merge), is the suite's `time`.
pub(super) fn write_junit(path: &Path, s: &Summary, elapsed: Option<Duration>) -> Result<(), SweepError> {
    let mut suites = summary_junit(s);
    for suite in &mut suites {
        suite.time_s = elapsed.map(|e| e.as_secs_f64());
    }
    write_atomic(path, junit_xml(&suites).as_bytes()).map_err(io_err(path))
}
