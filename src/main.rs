//! The `mailsim` command line: replay the outages (no arguments), run one
//! scenario and seed, check scenario files, print the scenario JSON Schema.
//!
//! Exit codes: 0 all expectations met; 1 an expectation failed or a run found
//! a violation; 2 a scenario file is invalid (or the command line is).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::{Parser, Subcommand};
use mailsim::run::{run, run_with, RunResult};
use mailsim::scenario::{schema, Scenario};
use mailsim::sweep::{junit_xml, JunitCase, JunitSuite};
use mailsim::units::{HumanDuration, Share};
use mailsim_sim::TraceMode;

#[derive(Parser)]
#[command(
    name = "mailsim",
    version,
    about = "Deterministic simulator of mail-cluster outages",
    long_about = "Deterministic simulator of mail-cluster outages.\n\nWith no command, replays every scenario in scenarios/ over its default seeds and prints one table; exits 1 if any expectation fails."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Directory of scenario files for the default job.
    #[arg(long, default_value = "scenarios", global = true)]
    dir: PathBuf,
    /// Seeds per scenario for the default job (default: each file's `run.seeds`).
    #[arg(long)]
    seeds: Option<u32>,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario with one seed and report its figures and expectations.
    Run {
        file: PathBuf,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Write the run's Chrome/Perfetto trace to this file.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Write JUnit XML (one test case per expectation) to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Validate scenario files without running them.
    Check { files: Vec<PathBuf> },
    /// Print the JSON Schema of scenario files.
    Schema,
    /// Run many seeds on all cores, resumably, optionally one shard of them.
    Sweep(mailsim::sweep::SweepArgs),
    /// Combine the result directories of sweep shards.
    Merge(mailsim::sweep::MergeArgs),
    /// Re-run a recorded run and check that its trace hash matches.
    Replay(mailsim::replay::ReplayArgs),
    /// Minimize a failing run's scenario while the same failure still happens.
    Shrink(mailsim::shrink::ShrinkArgs),
    /// Compare two recovery plans on the same seeds (paired, bootstrap CIs).
    Compare(mailsim::compare::CompareArgs),
}

fn main() -> ExitCode {
    mailsim_sim::log::init();
    let cli = Cli::parse();
    match cli.command {
        None => replay_all(&cli.dir, cli.seeds),
        Some(Command::Sweep(a)) => mailsim::sweep::sweep_cmd(&a),
        Some(Command::Merge(a)) => mailsim::sweep::merge_cmd(&a),
        Some(Command::Replay(a)) => mailsim::replay::replay_cmd(&a),
        Some(Command::Shrink(a)) => mailsim::shrink::shrink_cmd(&a),
        Some(Command::Compare(a)) => mailsim::compare::compare_cmd(&a),
        Some(Command::Schema) => {
            println!("{}", schema());
            ExitCode::SUCCESS
        }
        Some(Command::Check { files }) => {
            let mut bad = false;
            for f in &files {
                match Scenario::load(f) {
                    Ok(s) => eprintln!("ok    {} ({})", f.display(), s.name()),
                    Err(e) => {
                        eprintln!("error {e}");
                        bad = true;
                    }
                }
            }
            if bad {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Some(Command::Run { file, seed, json, trace, junit }) => {
            let s = match Scenario::load(&file) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let (r, sim) = run_with(&s, seed, trace.as_ref().map(|_| TraceMode::Full));
            if let Some(path) = trace {
                if let Err(e) = std::fs::write(&path, sim.chrome_trace()) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return ExitCode::from(2);
                }
                eprintln!("trace written to {} (open in ui.perfetto.dev)", path.display());
            }
            if let Some(path) = junit {
                let repro = format!("mailsim run {} --seed {seed}", file.display());
                let cases = r
                    .verdicts
                    .iter()
                    .map(|v| {
                        if v.met {
                            JunitCase::passed(r.scenario.clone(), v.name.clone())
                        } else {
                            JunitCase::failed(
                                r.scenario.clone(),
                                v.name.clone(),
                                v.detail.clone(),
                                format!("{}\nreproduce: {repro}", v.detail),
                            )
                        }
                    })
                    .collect();
                let xml = junit_xml(&[JunitSuite { name: r.scenario.clone(), cases }]);
                if let Err(e) = std::fs::write(&path, xml) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&r).expect("a result serializes"));
            } else {
                print_result(&r, &file);
            }
            if r.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn print_result(r: &RunResult, file: &Path) {
    let f = &r.figures;
    eprintln!("{} seed {}: {} ({} events, trace {})", r.scenario, f.seed, f.outcome, f.events, f.trace_hash);
    if let Some(v) = &f.violation {
        eprintln!("  violation: {v}");
    }
    eprintln!(
        "  submitted {} accepted {} delivered {} lost {} duplicates {} client-duplicates {} returned {} sender-bounced {}",
        f.submitted, f.accepted, f.delivered, f.lost, f.duplicates, f.client_duplicates, f.returned, f.sender_bounced
    );
    eprintln!(
        "  peak unavailable {}  restored {}  delay p50 {}s p99 {}s max {}s",
        Share(f.peak_unavailable_ppm),
        fmt_opt(f.restored_us),
        f.delay_s_p50,
        f.delay_s_p99,
        f.delay_s_max
    );
    for v in &r.verdicts {
        eprintln!("  [{}] {}: {}", if v.met { "met" } else { "FAILED" }, v.name, v.detail);
    }
    if !r.passed() {
        eprintln!("  reproduce: mailsim run {} --seed {}", file.display(), f.seed);
    }
}

fn fmt_opt(us: Option<u64>) -> String {
    us.map_or("-".to_string(), |t| HumanDuration((t - t % 60_000_000) as i64).to_string())
}

fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    files.sort();
    Ok(files)
}

/// Runs every (scenario, seed) on all cores; each run is single-threaded.
fn replay_all(dir: &Path, seeds: Option<u32>) -> ExitCode {
    let files = match scenario_files(dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut scenarios = Vec::new();
    for f in &files {
        match Scenario::load(f) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let jobs: Vec<(usize, u64)> =
        scenarios.iter().enumerate().flat_map(|(i, s)| (0..seeds.unwrap_or(s.file.run.seeds) as u64).map(move |seed| (i, seed))).collect();
    let results: Mutex<Vec<Option<RunResult>>> = Mutex::new(vec![None; jobs.len()]);
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(i, seed)) = jobs.get(j) else { break };
                let r = run(&scenarios[i], seed);
                results.lock().expect("no thread panics holding the lock")[j] = Some(r);
            });
        }
    });
    let results: Vec<RunResult> = results.into_inner().expect("threads done").into_iter().map(|r| r.expect("every job ran")).collect();

    println!(
        "{:<44} {:>5} {:>9} {:>5} {:>9} {:>8} {:>6} {:>9} {:>10}",
        "scenario", "seeds", "expect", "lost", "delivered", "bounced", "dupes", "peak-unav", "restored"
    );
    let mut all_ok = true;
    for (i, s) in scenarios.iter().enumerate() {
        let rs: Vec<&RunResult> = results.iter().zip(&jobs).filter(|(_, j)| j.0 == i).map(|(r, _)| r).collect();
        let n = rs.len();
        let met = rs.iter().filter(|r| r.passed()).count();
        let sum = |g: &dyn Fn(&RunResult) -> u64| rs.iter().map(|r| g(r)).sum::<u64>();
        let lost = sum(&|r| r.figures.lost);
        let delivered = sum(&|r| r.figures.delivered) / n.max(1) as u64;
        let bounced = sum(&|r| r.figures.sender_bounced + r.figures.returned) / n.max(1) as u64;
        let dupes = sum(&|r| r.figures.duplicates + r.figures.client_duplicates) / n.max(1) as u64;
        let peak = rs.iter().map(|r| r.figures.peak_unavailable_ppm).max().unwrap_or(0);
        let restored = rs.iter().filter_map(|r| r.figures.restored_us).max();
        println!(
            "{:<44} {:>5} {:>9} {:>5} {:>9} {:>8} {:>6} {:>9} {:>10}",
            s.name(),
            n,
            format!("{met}/{n}"),
            lost,
            delivered,
            bounced,
            dupes,
            Share(peak).to_string(),
            fmt_opt(restored)
        );
        for r in rs.iter().filter(|r| !r.passed()) {
            all_ok = false;
            for v in r.verdicts.iter().filter(|v| !v.met) {
                eprintln!("  {} seed {}: {} — {}", s.name(), r.figures.seed, v.name, v.detail);
            }
            eprintln!("    reproduce: cargo run --release -- run {} --seed {}", s.path.display(), r.figures.seed);
        }
    }
    println!("(delivered, bounced, dupes: mean per seed; lost: total; peak-unav, restored: worst seed)");
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
