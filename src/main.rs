//! The `mailsim` command line: replay the outages (no arguments), run one
//! scenario and seed, check scenario files, print the scenario JSON Schema.
//!
//! Exit codes (README.md has the table, tests/exit_codes.rs checks it): 0 all
//! expectations met; 1 an expectation failed or a run found a violation; 2 a
//! scenario file is invalid (or the command line is); 3 `replay` diverged.
//!
//! Output to stdout goes through `mailsim::output`, so a closed pipe
//! (`mailsim run F --json | head -c1`) ends the output instead of panicking.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mailsim::junit::{junit_xml, JunitCase, JunitSuite};
use mailsim::note;
use mailsim::output::stdout_line;
use mailsim::pool::{cores, map_jobs};
use mailsim::run::{run, run_with, Figures};
use mailsim::scenario::{schema, Scenario};
use mailsim::sweep::{rate_checks, RateFlag};
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
    /// Directory of scenario files: the default job replays every file in
    /// it; a subcommand that takes scenario files looks a scenario given
    /// by name up in it unless given its own `--dir`.
    #[arg(long, default_value = "scenarios")]
    dir: PathBuf,
    /// Seeds per scenario for the default job (default: each file's
    /// `run.seeds`); at most 1,000,000.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(DEFAULT_SEEDS_MAX)))]
    seeds: Option<u32>,
}

/// The most seeds per scenario the default job runs. It keeps a small
/// summary of every run (for the table and the failure list); a bigger
/// experiment is a `sweep`, which keeps its results on disk.
const DEFAULT_SEEDS_MAX: u32 = 1_000_000;

/// Writes a command's stdout output; a closed reader is not an error (see
/// `mailsim::output`), any other write error is exit 2.
fn emit(text: &str) -> Result<(), ExitCode> {
    stdout_line(text).map_err(|e| {
        note!("error: cannot write to stdout: {e}");
        ExitCode::from(2)
    })
}

/// `--dir` of the subcommands that take scenario files, and only those
/// (`schema` and `merge` take none, so their help does not offer it).
#[derive(clap::Args)]
struct DirArg {
    /// Directory a scenario given by name is looked up in: `mailsim run
    /// opensrs-2008-shelf-controller` runs
    /// `scenarios/opensrs-2008-shelf-controller.toml` [default: scenarios,
    /// or `mailsim --dir`].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario with one seed and report its figures and expectations.
    Run(RunCmd),
    /// Validate scenario files (or names in `--dir`) without running them (at
    /// least one).
    Check {
        files: Vec<PathBuf>,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
    /// Run many seeds on all cores, resumably, optionally one shard of them.
    Sweep(SweepCmd),
    /// Combine the result directories of sweep shards.
    Merge(mailsim::sweep::MergeArgs),
    /// Re-run a recorded run and check that its trace hash matches.
    Replay {
        #[command(flatten)]
        args: mailsim::replay::ReplayArgs,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Minimize a failing run's scenario while the same failure still happens.
    Shrink {
        #[command(flatten)]
        args: mailsim::shrink::ShrinkArgs,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Compare two recovery plans on the same seeds (paired, bootstrap CIs).
    Compare(CompareCmd),
    /// Search fault combinations (1, 2 and 3 faults, latent and active,
    /// timed against the load) for harm, confirm and shrink each harmful
    /// one, write it as a scenario file, and report the ranking, the
    /// confluences and the coverage. Exits 0 once the search ran, 2 on
    /// invalid input.
    Explore {
        #[command(flatten)]
        args: mailsim::explore::ExploreArgs,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Search a scenario's ranged parameters for the values consistent with
    /// its checkpoints (approximate Bayesian computation by rejection) and
    /// write the calibrated file. Exits 0 when some draws are consistent, 1
    /// when none is (the nearest are reported and written), 2 on invalid
    /// input.
    Calibrate {
        #[command(flatten)]
        args: mailsim::calibrate::CalibrateArgs,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Write an HTML report (one self-contained page with plots) of a run
    /// (one scenario file and `--seed`), a comparison (two scenario files and
    /// `--seeds`) or a finished sweep (its result directories). Exits 0 once
    /// the page is written, 2 on invalid input.
    Report(ReportArgs),
}

/// `mailsim run FILE`.
#[derive(clap::Args)]
struct RunCmd {
    /// A scenario file, or the name of one in `--dir`.
    file: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Write the run's Chrome/Perfetto trace to this file (routine
    /// events sampled: the first 32 per node and simulated hour, with
    /// per-node event counts; see `--trace-all`).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// With `--trace`: draw this mail's hops (the messages carrying it)
    /// as a flow.
    #[arg(long, value_name = "ID", requires = "trace")]
    trace_mail: Option<u64>,
    /// With `--trace`: write every event, unsampled (large for long runs).
    #[arg(long, requires = "trace")]
    trace_all: bool,
    /// Write JUnit XML (one test case per expectation) to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Run the seed twice with full traces first and compare every event;
    /// a divergence is an error (exit 2) naming the first differing event.
    #[arg(long)]
    check_determinism: bool,
    /// Write the run's HTML report (self-contained, with plots) as
    /// `run.html` in this directory (created).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    #[command(flatten)]
    dir: DirArg,
}

/// `mailsim sweep`, with `--report`.
#[derive(clap::Args)]
struct SweepCmd {
    #[command(flatten)]
    args: mailsim::sweep::SweepArgs,
    /// Also write the sweep's HTML report as `sweep.html` in this directory.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    #[command(flatten)]
    dir: DirArg,
}

/// `mailsim compare`, with `--report`.
#[derive(clap::Args)]
struct CompareCmd {
    #[command(flatten)]
    args: mailsim::compare::CompareArgs,
    /// Also write the comparison's HTML report as `compare.html` in this
    /// directory (with both plans' curves over the seeds).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    #[command(flatten)]
    dir: DirArg,
}

/// `mailsim report INPUT… --out DIR`.
#[derive(clap::Args)]
struct ReportArgs {
    /// One scenario file or name (a run's page), two (a comparison: A then
    /// B), or sweep result directories (a sweep's page).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Directory to write the page into (created): `run.html`,
    /// `compare.html` or `sweep.html`.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The seed of a run's page.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The seeds of a comparison (`0..20`, `0..=19` or `20`).
    #[arg(long, default_value = "0..20", value_parser = mailsim::compare::parse_seeds)]
    seeds: std::ops::Range<u64>,
    /// Bootstrap resamples of a comparison (at least 2000).
    #[arg(long, default_value_t = 10_000)]
    resamples: u32,
    #[command(flatten)]
    dir: DirArg,
}

impl Command {
    /// The subcommand's own `--dir`, when it takes scenario files and was
    /// given one.
    fn dir(&self) -> Option<&PathBuf> {
        let d = match self {
            Command::Run(a) => &a.dir,
            Command::Sweep(c) => &c.dir,
            Command::Compare(c) => &c.dir,
            Command::Report(a) => &a.dir,
            Command::Check { dir, .. }
            | Command::Replay { dir, .. }
            | Command::Shrink { dir, .. }
            | Command::Explore { dir, .. }
            | Command::Calibrate { dir, .. } => dir,
            Command::Schema | Command::Merge(_) => return None,
        };
        d.dir.as_ref()
    }
}

fn main() -> ExitCode {
    mailsim_sim::log::init();
    let mut cli = Cli::parse();
    if let Some(dir) = cli.command.as_ref().and_then(Command::dir) {
        cli.dir = dir.clone();
    }
    find_by_name(&mut cli);
    match cli.command {
        None => replay_all(&cli.dir, cli.seeds),
        Some(Command::Sweep(c)) => sweep_cmd(&c),
        Some(Command::Report(a)) => report_cmd(&a, &cli.dir),
        Some(Command::Calibrate { args, .. }) => mailsim::calibrate::calibrate_cmd(&args),
        Some(Command::Explore { args, .. }) => mailsim::explore::explore_cmd(&args),
        Some(Command::Merge(a)) => mailsim::sweep::merge_cmd(&a),
        Some(Command::Replay { args, .. }) => mailsim::replay::replay_cmd(&args),
        Some(Command::Shrink { args, .. }) => mailsim::shrink::shrink_cmd(&args),
        Some(Command::Compare(c)) => match &c.report {
            Some(dir) => mailsim::report::compare_cmd_with_report(&c.args, dir),
            None => mailsim::compare::compare_cmd(&c.args),
        },
        Some(Command::Schema) => match emit(&schema()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        },
        Some(Command::Check { files, .. }) => check_cmd(&files, &cli.dir),
        Some(Command::Run(a)) => run_cmd(&a, &cli.dir),
    }
}

/// Every subcommand that takes scenario files also takes their names in
/// `--dir` (`mailsim sweep opensrs-2008-shelf-controller …`): resolves them
/// to paths.
fn find_by_name(cli: &mut Cli) {
    let dir = cli.dir.clone();
    let find = |f: &mut PathBuf| *f = find_scenario(f, &dir);
    match &mut cli.command {
        Some(Command::Sweep(c)) => c.args.files.iter_mut().for_each(find),
        Some(Command::Compare(c)) => {
            find(&mut c.args.a);
            find(&mut c.args.b);
        }
        Some(Command::Shrink { args, .. }) => find(&mut args.file),
        Some(Command::Replay { args, .. }) => find(&mut args.file),
        Some(Command::Calibrate { args, .. }) => find(&mut args.file),
        Some(Command::Explore { args, .. }) => find(&mut args.file),
        _ => {}
    }
}

/// `mailsim sweep`, then its report if asked for.
fn sweep_cmd(c: &SweepCmd) -> ExitCode {
    let code = mailsim::sweep::sweep_cmd(&c.args);
    match &c.report {
        // An invalid sweep (exit 2) has nothing to report.
        Some(dir) if code != ExitCode::from(2) => match mailsim::report::write_sweep_report(std::slice::from_ref(&c.args.out), dir) {
            Ok(path) => {
                note!("report written to {}", path.display());
                code
            }
            Err(e) => {
                note!("error: {e}");
                ExitCode::from(2)
            }
        },
        _ => code,
    }
}

/// `mailsim check FILE…`: loads each file and says `ok` or why not.
fn check_cmd(files: &[PathBuf], dir: &Path) -> ExitCode {
    if files.is_empty() {
        note!("error: check: no scenario files given, so nothing was checked (e.g. `mailsim check scenarios/*.toml`)");
        return ExitCode::from(2);
    }
    let mut bad = false;
    for f in files {
        let f = &find_scenario(f, dir);
        match Scenario::load(f) {
            Ok(s) => {
                if let Err(code) = emit(&format!("ok    {} ({})", f.display(), s.name())) {
                    return code;
                }
                for r in &s.ranges {
                    if let Err(code) = emit(&format!("      ranged: {}", r.describe())) {
                        return code;
                    }
                }
            }
            Err(e) => {
                note!("error {e}");
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

/// `mailsim run FILE`: one seed, with its optional determinism check,
/// trace, JUnit file and report, then the human or JSON result on stdout.
fn run_cmd(a: &RunCmd, dir: &Path) -> ExitCode {
    let seed = a.seed;
    let file = find_scenario(&a.file, dir);
    let s = match mailsim::output::load_scenario(&file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    mailsim::ranges::note_midpoints(&s);
    if a.check_determinism {
        match mailsim_sim::check_determinism(seed, |sd| s.topology(sd).build()) {
            Ok(hash) => note!("deterministic: two runs of seed {seed} agree on every event (trace {hash:016x})"),
            Err(d) => {
                note!("error: {d}");
                return ExitCode::from(2);
            }
        }
    }
    // Wall time, for the JUnit report's `time` only (the run itself
    // knows nothing of it).
    let started = std::time::Instant::now();
    let (r, sim) = run_with(&s, seed, a.trace.as_ref().map(|_| TraceMode::Full));
    let wall_s = started.elapsed().as_secs_f64();
    if let Some(path) = &a.trace {
        if let Err(e) = std::fs::write(
            path,
            mailsim::report::trace::chrome_trace(&sim, &r, a.trace_mail, a.trace_all, &mailsim::report::trace::backup_names(&s)),
        ) {
            note!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
        note!("trace written to {} (open in ui.perfetto.dev)", path.display());
    }
    if let Some(path) = &a.junit {
        if let Err(code) = write_run_junit(path, &r, &file, wall_s) {
            return code;
        }
    }
    if let Some(dir) = &a.report {
        match mailsim::report::write_run_report(dir, &s, &file, &r) {
            Ok(path) => note!("report written to {}", path.display()),
            Err(e) => {
                note!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let out = if a.json { serde_json::to_string_pretty(&r).expect("a result serializes") } else { mailsim::run::report_text(&r, &file) };
    if let Err(code) = emit(&out) {
        return code;
    }
    if r.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `mailsim run --junit`: one test case per expectation, a failed one with
/// its repro command.
fn write_run_junit(path: &Path, r: &mailsim::run::RunResult, file: &Path, wall_s: f64) -> Result<(), ExitCode> {
    let repro = mailsim::sweep::repro_command(&file.display().to_string(), r.figures.seed);
    let cases = r
        .verdicts
        .iter()
        .map(|v| {
            if !v.failed() {
                JunitCase { system_out: Some(v.tag()), ..JunitCase::passed(r.scenario.clone(), v.name.clone()) }
            } else {
                JunitCase::failed(r.scenario.clone(), v.name.clone(), v.detail.clone(), format!("{}\nreproduce: {repro}", v.detail))
            }
        })
        .collect();
    let xml = junit_xml(&[JunitSuite { name: r.scenario.clone(), cases, time_s: Some(wall_s), ..JunitSuite::default() }]);
    std::fs::write(path, xml).map_err(|e| {
        note!("error: cannot write {}: {e}", path.display());
        ExitCode::from(2)
    })
}

/// `mailsim report`: a sweep's page when every input is a directory, a
/// run's for one scenario, a comparison's for two.
fn report_cmd(a: &ReportArgs, dir: &Path) -> ExitCode {
    let written = if a.inputs.iter().all(|p| p.is_dir()) {
        mailsim::report::write_sweep_report(&a.inputs, &a.out)
    } else {
        let files: Vec<PathBuf> = a.inputs.iter().map(|f| find_scenario(f, dir)).collect();
        let mut scenarios = Vec::new();
        for f in &files {
            match Scenario::load(f) {
                Ok(s) => scenarios.push(s),
                Err(e) => {
                    note!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        match scenarios.as_slice() {
            [s] => {
                let r = run(s, a.seed);
                mailsim::report::write_run_report(&a.out, s, &files[0], &r)
            }
            [x, y] if a.resamples >= 2000 => {
                note!("comparing {} and {} on seeds {}..{} …", x.name(), y.name(), a.seeds.start, a.seeds.end);
                mailsim::report::write_compare_report(x, y, a.seeds.clone(), a.resamples, &a.out).map(|(_, p)| p)
            }
            [_, _] => Err(format!("--resamples {}: use at least 2000 for a 95% interval", a.resamples)),
            _ => Err(format!(
                "report: give one scenario (a run), two (a comparison) or sweep result directories, not {} inputs",
                a.inputs.len()
            )),
        }
    };
    match written {
        Ok(path) => {
            note!("report written to {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            note!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// A scenario given on the command line: the path itself when it exists,
/// else a name in `dir` (`opensrs-2008-shelf-controller` or with `.toml`).
fn find_scenario(given: &Path, dir: &Path) -> PathBuf {
    if given.exists() || given.components().count() != 1 {
        return given.to_path_buf();
    }
    [dir.join(given), dir.join(given).with_extension("toml")].into_iter().find(|p| p.is_file()).unwrap_or_else(|| given.to_path_buf())
}

fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    files.sort();
    Ok(files)
}

/// What the default job keeps of one run: enough for its table row and, if
/// it failed, the verdicts it missed.
struct RunLine {
    passed: bool,
    figures: Figures,
    missed: Vec<(String, String)>,
    /// Rate expectations' verdicts: their misses are judged by rate.
    rates: Vec<RateFlag>,
    /// Checkpoints (the postmortem's claims): hit, of how many.
    claims: (u64, u64),
}

/// Runs every (scenario, seed) on all cores; each run is single-threaded.
fn replay_all(dir: &Path, seeds: Option<u32>) -> ExitCode {
    let scenarios = match load_all(dir) {
        Ok(s) => s,
        Err(e) => {
            note!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Job j is seed j - starts[i] of scenario i, for the last i with
    // starts[i] <= j: no job list is built.
    let counts: Vec<u64> = scenarios.iter().map(|s| u64::from(seeds.unwrap_or(s.file.run.seeds))).collect();
    let starts: Vec<u64> = counts.iter().scan(0u64, |acc, n| Some(std::mem::replace(acc, *acc + n))).collect();
    let total: u64 = counts.iter().sum();
    let lines = map_jobs(total, cores(), |j| {
        let i = starts.partition_point(|&s| s <= j) - 1;
        (i, run_line(&scenarios[i], j - starts[i]))
    });
    let mut table =
        table_row(["scenario", "seeds", "verdict", "lost", "bounced", "dupes", "users", "worst-down", "p99", "max", "restored", "claims"]);
    let mut all_ok = true;
    for (i, s) in scenarios.iter().enumerate() {
        let rs: Vec<&RunLine> = lines.iter().filter(|(k, _)| *k == i).map(|(_, r)| r).collect();
        table.push_str(&scenario_row(s, &rs));
        all_ok &= note_misses(s, &rs);
    }
    table.push_str(TABLE_KEY);
    if let Err(code) = emit(&table) {
        return code;
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The key under the default job's table: what each column means.
const TABLE_KEY: &str = concat!(
    "verdict:    PASS when every expectation held on every seed; FAIL n: n seeds missed one (listed above, with the command to reproduce each)\n",
    "lost:       accepted mails lost, total over seeds; bounced, dupes: mean per seed (returned or bounced by senders; duplicate deliveries and client re-downloads)\n",
    "users:      the peak share of users without full service (worst seed)\n",
    "worst-down: the longest time one service (smtp, pop, imap, webmail) failed for at least one user, and which (worst seed)\n",
    "p99, max:   delivery delay, author to mailbox (worst seed)\n",
    "restored:   when the last unavailable mailbox came back (worst seed; - if none was unavailable)\n",
    "claims:     the postmortem's clock-time claims ([[checkpoints]]) the runs hit, of claims x seeds (`mailsim run FILE` lists each; - if the file states none)",
);

/// Loads every scenario file in `dir`, in name order, noting each one's
/// range midpoints; the first error stops.
fn load_all(dir: &Path) -> Result<Vec<Scenario>, String> {
    let mut scenarios = Vec::new();
    for f in &scenario_files(dir)? {
        let s = Scenario::load(f).map_err(|e| e.to_string())?;
        mailsim::ranges::note_midpoints(&s);
        scenarios.push(s);
    }
    Ok(scenarios)
}

/// Runs `scenario` on `seed` and keeps what the table needs: the curves are
/// for plots, not for this table, so they are dropped.
fn run_line(scenario: &Scenario, seed: u64) -> RunLine {
    let mut r = run(scenario, seed);
    let passed = r.passed();
    let missed = r.verdicts.iter().filter(|v| v.failed()).map(|v| (v.name.clone(), v.detail.clone())).collect();
    let rates = RateFlag::of(&r);
    r.figures.unavailable = Vec::new();
    r.figures.delivered_per_hour = Vec::new();
    r.figures.accepted_per_hour = Vec::new();
    r.figures.queue_depth = Default::default();
    r.figures.delay_cdf = Vec::new();
    r.figures.fault_spans = Vec::new();
    r.figures.alerts = Vec::new();
    for (_, service) in mailsim::run::SERVICES {
        r.figures.availability.service_mut(service).series = Vec::new();
    }
    let claims = (r.checkpoints.iter().filter(|c| c.hit).count() as u64, r.checkpoints.len() as u64);
    RunLine { passed, figures: r.figures, missed, rates, claims }
}

/// One line of the default job's table, its columns aligned.
fn table_row(cells: [&str; 12]) -> String {
    format!(
        "{:<40} {:>5} {:>7} {:>5} {:>7} {:>5} {:>6} {:>14} {:>8} {:>8} {:>8} {:>7}\n",
        cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7], cells[8], cells[9], cells[10], cells[11]
    )
}

/// The table row of scenario `s` over its runs `rs`: totals, means per seed
/// and the worst seed's figures, as `TABLE_KEY` says.
fn scenario_row(s: &Scenario, rs: &[&RunLine]) -> String {
    let readable = |us: u64| HumanDuration(us as i64).readable();
    let n = rs.len();
    let met = rs.iter().filter(|r| r.passed).count();
    let sum = |g: &dyn Fn(&Figures) -> u64| rs.iter().map(|r| g(&r.figures)).sum::<u64>();
    let max = |g: &dyn Fn(&Figures) -> u64| rs.iter().map(|r| g(&r.figures)).max().unwrap_or(0);
    let lost = sum(&|f| f.lost);
    let bounced = sum(&|f| f.sender_bounced + f.returned) / n.max(1) as u64;
    let dupes = sum(&|f| f.duplicates + f.client_duplicates) / n.max(1) as u64;
    let users = max(&|f| u64::from(f.users_affected_peak()));
    let (down_s, down_service) = rs.iter().map(|r| r.figures.worst_service_down()).max().unwrap_or((0, "smtp"));
    let restored = rs.iter().filter_map(|r| r.figures.restored_us).max();
    let verdict = if met == n { "PASS".to_string() } else { format!("FAIL {}", n - met) };
    table_row([
        s.name(),
        &n.to_string(),
        &verdict,
        &lost.to_string(),
        &bounced.to_string(),
        &dupes.to_string(),
        &Share(users as u32).to_string(),
        &if down_s == 0 { "-".to_string() } else { format!("{} {down_service}", readable(down_s * 1_000_000)) },
        &readable(max(&|f| f.delay_s_p99) * 1_000_000),
        &readable(max(&|f| f.delay_s_max) * 1_000_000),
        &restored.map_or("-".to_string(), readable),
        &match rs.iter().fold((0, 0), |(h, t), r| (h + r.claims.0, t + r.claims.1)) {
            (_, 0) => "-".to_string(),
            (hit, total) => format!("{hit}/{total}"),
        },
    ])
}

/// Notes (on stderr) each failed run's missed verdicts with the command that
/// reproduces it, and each rate expectation the seeds missed; returns whether
/// scenario `s` passed. Tolerated misses are not failures; a rate the seeds
/// clearly miss is.
fn note_misses(s: &Scenario, rs: &[&RunLine]) -> bool {
    let mut ok = true;
    for r in rs.iter().filter(|r| !r.passed) {
        ok = false;
        for (name, detail) in &r.missed {
            note!("  {} seed {}: {name} — {detail}", s.name(), r.figures.seed);
        }
        note!("    reproduce: {}", mailsim::sweep::repro_command(&s.path.display().to_string(), r.figures.seed));
    }
    for c in rate_checks(rs.iter().map(|r| (r.figures.seed, r.rates.as_slice()))).iter().filter(|c| c.pass_rate.k < c.pass_rate.n) {
        ok &= !c.clearly_missed();
        let verdict = if c.clearly_missed() { "FAILED, clearly below its share" } else { "tolerated" };
        note!("  {} rate {verdict}: {c}; missed on seeds {:?}", s.name(), c.missed_seeds);
    }
    ok
}
