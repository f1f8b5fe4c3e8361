//! A scenario test of your own, as a newcomer writes one: copy this file to
//! `tests/my_test.rs` and run
//!
//! ```sh
//! MAILSIM_SEEDS=0..20 cargo test --release --test my_test
//! ```
//!
//! Each failing seed is printed with what failed and the commands that
//! reproduce it: `mailsim run FILE --seed N` (for a scenario file; install
//! the binary with `cargo install --path .`) and `MAILSIM_SEED=N cargo test
//! … -- TEST --exact` (this test on that seed alone). Here it runs as
//! `cargo test --release --example scenario_test` (CI runs it with every
//! test).

fn main() {
    println!("a test file: run it with `cargo test --release --example scenario_test`");
}

#[cfg(test)]
mod tests {
    use mailsim::scenario::Scenario;
    use mailsim::testing::{check_scenario, Check};

    fn replay(name: &str) -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name);
        Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A replay from `scenarios/`, its file's expectations, and a check of ours:
    /// in the Fused outage the services came back only after the manual reset,
    /// and then on the other node.
    #[test]
    fn fused_fails_over_only_after_the_reset_and_loses_nothing() {
        let s = replay("fused-2018-failed-fencing.toml");
        check_scenario(&s, &Check::default(), |r| {
            let f = &r.figures;
            match f.failovers_us.first() {
                Some(&t) if t >= 8 * 3_600_000_000 && f.lost == 0 => Ok(()),
                Some(&t) => Err(format!("failover at {} s, {} mails lost", t / 1_000_000, f.lost)),
                None => Err("no failover".into()),
            }
        })
        .unwrap_or_else(|failures| panic!("{failures}"));
    }

    /// A topology written in the test, with a fault and an expectation, and the
    /// run's determinism checked event by event.
    #[test]
    fn an_mx_crash_defers_mail_and_loses_none() {
        let s = Scenario::from_toml(
            r#"
            [scenario]
            name = "mx-crash"
            summary = "one of two MX nodes crashes for an hour"
            [run]
            duration = "1d"
            [topology]
            mx = 2
            mailboxes = 100
            [workload]
            mails = 500
            window = "6h"
            [[faults]]
            at = "1h"
            kind = "crash"
            target = "mx-1"
            [[faults]]
            at = "2h"
            kind = "restart"
            target = "mx-1"
            [expect]
            lost = { max = 0 }
            duplicates = { max = 0 }
            "#,
            "mx-crash.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        check_scenario(&s, &Check { check_determinism: true, ..Check::default() }, |r| {
            if r.figures.delivered == r.figures.accepted {
                Ok(())
            } else {
                Err(format!("{} of {} accepted mails delivered", r.figures.delivered, r.figures.accepted))
            }
        })
        .unwrap_or_else(|failures| panic!("{failures}"));
    }
}
