//! JUnit XML reports, the dialect Jenkins, GitLab and GitHub test reporters
//! read: one test case per scenario × expectation, written by `quick-junit`
//! (the writer cargo-nextest uses). The class name is the scenario's name,
//! so a CI's test history survives edits of the file; the file's hash is a
//! property of the suite.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::record::repro_command;
use super::store::write_atomic;
use super::summary::{missing_list, Failure, Rate, RateCheck, Summary};
use super::{io_err, SweepError};

/// One JUnit test case.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitCase {
    pub classname: String,
    pub name: String,
    pub time_s: Option<f64>,
    pub failure: Option<JunitFailure>,
    /// Extra output shown by CI (e.g. the failure rate).
    pub system_out: Option<String>,
}

/// Why a JUnit test case failed.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitFailure {
    /// One line (an attribute).
    pub message: String,
    /// The body: details and repro commands.
    pub text: String,
}

/// A JUnit test suite.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JunitSuite {
    pub name: String,
    pub cases: Vec<JunitCase>,
    /// Wall time of the whole suite (the `time` attribute).
    pub time_s: Option<f64>,
    /// Name and value pairs shown with the suite (e.g. each scenario file's
    /// hash).
    pub properties: Vec<(String, String)>,
}

impl JunitCase {
    pub fn passed(classname: impl Into<String>, name: impl Into<String>) -> JunitCase {
        JunitCase { classname: classname.into(), name: name.into(), time_s: None, failure: None, system_out: None }
    }
    pub fn failed(classname: impl Into<String>, name: impl Into<String>, message: impl Into<String>, text: impl Into<String>) -> JunitCase {
        JunitCase { failure: Some(JunitFailure { message: message.into(), text: text.into() }), ..JunitCase::passed(classname, name) }
    }
}

/// JUnit XML of the suites.
pub fn junit_xml(suites: &[JunitSuite]) -> String {
    let secs = |t: f64| Duration::from_secs_f64(if t.is_finite() { t.max(0.0) } else { 0.0 });
    let mut report = Report::new("mailsim");
    for s in suites {
        let mut suite = TestSuite::new(s.name.as_str());
        if let Some(t) = s.time_s {
            suite.set_time(secs(t));
        }
        suite.add_properties(s.properties.iter().map(|(k, v)| Property::new(k.as_str(), v.as_str())));
        for c in &s.cases {
            let status = match &c.failure {
                None => TestCaseStatus::success(),
                Some(f) => {
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    st.set_message(f.message.as_str()).set_type("expectation").set_description(f.text.as_str());
                    st
                }
            };
            let mut case = TestCase::new(c.name.as_str(), status);
            case.set_classname(c.classname.as_str());
            if let Some(t) = c.time_s {
                case.set_time(secs(t));
            }
            if let Some(out) = &c.system_out {
                case.set_system_out(out.as_str());
            }
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().expect("a JUnit report serializes to a String")
}

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
        properties.push((format!("file hash of {}", sc.scenario), sc.file_hash.clone()));
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
