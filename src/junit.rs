//! JUnit XML reports, the dialect Jenkins, GitLab and GitHub test reporters
//! read, written by `quick-junit` (the writer cargo-nextest uses): the
//! writer behind `run --junit`, `sweep --junit`, `merge --junit` and
//! `compare --junit`. Which test cases a command reports is the command's
//! business (`sweep::summary_junit`, `compare::comparison_junit`).

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

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
    /// Named values shown with the suite (e.g. each scenario file's hash).
    pub properties: Vec<JunitProperty>,
}

/// A named value shown with a JUnit suite.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitProperty {
    pub name: String,
    pub value: String,
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
        suite.add_properties(s.properties.iter().map(|p| Property::new(p.name.as_str(), p.value.as_str())));
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
