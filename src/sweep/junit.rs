//! JUnit XML reports, the dialect Jenkins, GitLab and GitHub test reporters
//! read: one test case per scenario × expectation.

use std::fmt;
use std::path::Path;

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
#[derive(Clone, Debug, PartialEq)]
pub struct JunitSuite {
    pub name: String,
    pub cases: Vec<JunitCase>,
}

impl JunitCase {
    pub fn passed(classname: impl Into<String>, name: impl Into<String>) -> JunitCase {
        JunitCase { classname: classname.into(), name: name.into(), time_s: None, failure: None, system_out: None }
    }
    pub fn failed(classname: impl Into<String>, name: impl Into<String>, message: impl Into<String>, text: impl Into<String>) -> JunitCase {
        JunitCase { failure: Some(JunitFailure { message: message.into(), text: text.into() }), ..JunitCase::passed(classname, name) }
    }
}

/// Escapes text for XML 1.0 content and attribute values; characters XML 1.0
/// cannot carry at all (most C0 controls) become U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML (the dialect Jenkins, GitLab and GitHub test reporters read).
pub fn junit_xml(suites: &[JunitSuite]) -> String {
    use fmt::Write as _;
    let count = |s: &JunitSuite| (s.cases.len(), s.cases.iter().filter(|c| c.failure.is_some()).count());
    let (tests, failures) = suites.iter().map(count).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(o, "<testsuites name=\"mailsim\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">");
    for s in suites {
        let (t, f) = count(s);
        let _ = writeln!(o, "  <testsuite name=\"{}\" tests=\"{t}\" failures=\"{f}\" errors=\"0\" skipped=\"0\">", xml_escape(&s.name));
        for c in &s.cases {
            let _ = write!(o, "    <testcase classname=\"{}\" name=\"{}\"", xml_escape(&c.classname), xml_escape(&c.name));
            if let Some(t) = c.time_s {
                let _ = write!(o, " time=\"{t:.3}\"");
            }
            if c.failure.is_none() && c.system_out.is_none() {
                o.push_str("/>\n");
                continue;
            }
            o.push_str(">\n");
            if let Some(fl) = &c.failure {
                let _ = writeln!(
                    o,
                    "      <failure message=\"{}\" type=\"expectation\">{}</failure>",
                    xml_escape(&fl.message),
                    xml_escape(&fl.text)
                );
            }
            if let Some(out) = &c.system_out {
                let _ = writeln!(o, "      <system-out>{}</system-out>", xml_escape(out));
            }
            o.push_str("    </testcase>\n");
        }
        o.push_str("  </testsuite>\n");
    }
    o.push_str("</testsuites>\n");
    o
}

/// Repro commands listed per JUnit failure, at most.
const JUNIT_REPROS_MAX: usize = 100;

/// The JUnit suites of a summary: one test case per scenario × expectation,
/// failing with the repro commands of the runs that missed it; plus one
/// "all seeds ran" case where seeds are missing.
pub fn summary_junit(s: &Summary) -> Vec<JunitSuite> {
    let mut cases = Vec::new();
    for sc in &s.scenarios {
        let class = format!("{} [{}]", sc.scenario, sc.file_hash);
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
    vec![JunitSuite { name: "mailsim sweep".to_string(), cases }]
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

pub(super) fn write_junit(path: &Path, s: &Summary) -> Result<(), SweepError> {
    write_atomic(path, junit_xml(&summary_junit(s)).as_bytes()).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping_covers_markup_and_controls() {
        assert_eq!(xml_escape("a<b>&\"'\u{0}\n"), "a&lt;b&gt;&amp;&quot;&apos;\u{fffd}\n");
    }
}
