//! `mailsim explore FILE`: search fault combinations for the confluences
//! before they happen.
//!
//! Every outage replayed in `scenarios/` was a confluence: a latent fault nobody had
//! fixed plus an active one (OpenSRS 2008: a redundancy fault awaiting
//! parts plus a shelf controller; Fused 2018: a crash plus a fencing device
//! that failed; the Norwegian host 2019: "two faults, each harmless
//! alone"). FoundationDB's and TigerBeetle's simulators sample faults at
//! random and count on volume, as Jepsen's generators do; this command
//! searches the combinations of a topology instead: it derives the fault
//! space from the file (`space.rs`: every component, the kinds that apply
//! to it, latent and active, and when), runs combinations of 1, 2 and 3
//! faults (`search.rs`: exhaustive where the space is small, guided
//! otherwise), confirms each harmful one over several seeds, shrinks it to
//! its minimal form and writes it as a scenario file; then reports the
//! ranking, the confluences and a coverage table, so that "nothing found"
//! is an answer with a known scope.
//!
//! `--plans` (`plans.rs`) searches a recovery plan's choices for an outage
//! instead.

pub mod plans;
pub mod search;
pub mod space;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::scenario::Scenario;
use crate::sweep::Shard;
use search::{Exploration, Explorer, Options, Thresholds};
use space::{Role, NOT_SEARCHED};

/// `mailsim explore FILE [--faults 3] [--seeds 2] [--confirm 6] …`
#[derive(clap::Args, Clone, Debug)]
pub struct ExploreArgs {
    /// A scenario file (a topology; its own faults join the fault space).
    pub file: PathBuf,
    /// Largest combination of faults searched (1 to 3).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub faults: u8,
    /// Seeds every combination is screened on (0..N).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub seeds: u64,
    /// Seeds a harmful combination is confirmed on (0..N); a combination is
    /// harmful when it harms at least half of them.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub confirm: u64,
    /// Combinations run per size (2 and 3) at most; a size with more is
    /// searched guided instead of exhaustively.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub budget: u64,
    /// Only these fault kinds (comma-separated), e.g.
    /// `path-fault,controller-failure`.
    #[arg(long, value_delimiter = ',')]
    pub kinds: Option<Vec<String>>,
    /// Harmful: at least this many hours without full service per user
    /// (mean over users), above the run without faults.
    #[arg(long, default_value = "30m", value_parser = crate::units::parse_duration)]
    pub outage: crate::units::HumanDuration,
    /// Harmful: the p99 delivery delay grows by at least this much.
    #[arg(long, default_value = "1h", value_parser = crate::units::parse_duration)]
    pub p99: crate::units::HumanDuration,
    /// Seed of the explorer's own draws (guided search).
    #[arg(long, default_value_t = 0)]
    pub search_seed: u64,
    /// Threads (default: all cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Directory for the scenario files of the findings and `explore.json`
    /// (default: `<name>.explore/` next to FILE).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Scenario files written: the worst combination of each shape, worst
    /// shapes first, up to this many.
    #[arg(long, default_value_t = 10)]
    pub write: usize,
    /// Run one shard (K/N) of sizes 2 and 3: an exhaustive size is split by
    /// combination, a guided one searched with the shard's own draws.
    /// `mailsim explore FILE --merge DIR…` combines the shards.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Print the result as JSON on stdout (the human report goes to
    /// stderr).
    #[arg(long)]
    pub json: bool,
    /// Search the recovery plan of FILE's outage instead (FILE needs
    /// `[[faults]]`): rebuild order and priority, when to enable temporary
    /// stores, step delays, staffing, a second fencing level. Plans are
    /// screened on `--seeds`, the best compared with the file's plan on
    /// `--confirm` paired seeds (use 20 or more for a decision); the best
    /// is written to `best-plan.toml` in `--out` (default
    /// `<name>.plans/`).
    #[arg(long)]
    pub plans: bool,
    /// Merge the `explore-K-of-N.json` files of `--shard` runs in DIR (run
    /// with the same FILE and options) into one ranking, confluences and
    /// coverage, as one run would give (the same for sizes searched
    /// exhaustively; a guided size searched N times with N streams).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["shard", "plans"])]
    pub merge: Option<PathBuf>,
}

/// Reads the shards' JSON in `dir`: every `explore-K-of-N.json`, all of one
/// N, every K present.
pub fn read_shards(dir: &Path) -> Result<Vec<search::ShardResults>, String> {
    #[derive(serde::Deserialize)]
    struct File {
        exploration: search::ShardResults,
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut found: Vec<(u64, u64, PathBuf)> = Vec::new();
    for e in entries {
        let p = e.map_err(|e| format!("cannot read {}: {e}", dir.display()))?.path();
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Some(rest) = name.strip_prefix("explore-").and_then(|r| r.strip_suffix(".json")) else { continue };
        let Some((k, n)) = rest.split_once("-of-") else { continue };
        let (Ok(k), Ok(n)) = (k.parse::<u64>(), n.parse::<u64>()) else { continue };
        found.push((n, k, p));
    }
    found.sort();
    let Some(&(n, _, _)) = found.first() else {
        return Err(format!("{}: no shard file (explore-K-of-N.json) to merge", dir.display()));
    };
    let ks: Vec<u64> = found.iter().map(|f| f.1).collect();
    if found.iter().any(|f| f.0 != n) || ks != (0..n).collect::<Vec<_>>() {
        return Err(format!(
            "{}: shards of one count N, each K of 0..N once, are needed; found {:?}",
            dir.display(),
            found.iter().map(|f| format!("{}/{}", f.1, f.0)).collect::<Vec<_>>()
        ));
    }
    found
        .into_iter()
        .map(|(_, _, p)| {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            serde_json::from_str::<File>(&text).map(|f| f.exploration).map_err(|e| format!("{}: not a shard of explore: {e}", p.display()))
        })
        .collect()
}

/// The default output directory: `<stem>.explore/` next to the file.
pub fn default_out(file: &Path) -> PathBuf {
    let stem = file.file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    file.with_file_name(format!("{stem}.explore"))
}

/// Runs an exploration of `s` (library entry point, used by the tests).
pub fn explore(s: &Scenario, kinds: Option<&[String]>, opts: Options) -> Result<Exploration, String> {
    explore_or_merge(s, kinds, opts, None)
}

/// Merges shards of an exploration of `s` (library entry point).
pub fn merge(s: &Scenario, kinds: Option<&[String]>, opts: Options, shards: Vec<search::ShardResults>) -> Result<Exploration, String> {
    explore_or_merge(s, kinds, opts, Some(shards))
}

fn explore_or_merge(
    s: &Scenario,
    kinds: Option<&[String]>,
    opts: Options,
    shards: Option<Vec<search::ShardResults>>,
) -> Result<Exploration, String> {
    if let Some(ks) = kinds {
        for k in ks {
            if !space::KINDS.iter().any(|r| r.kind == k) {
                let known: Vec<&str> = space::KINDS.iter().map(|r| r.kind).collect();
                return Err(format!("`{k}` is not a fault kind the explorer searches (it searches: {})", known.join(", ")));
            }
        }
    }
    let cands = space::derive(&s.file, &s.topology, kinds);
    if cands.is_empty() {
        return Err("the topology offers no fault to search (no component the chosen kinds apply to)".into());
    }
    let e = Explorer::new(s, cands, opts)?;
    match shards {
        Some(sh) => e.merge(sh),
        None => Ok(e.explore()),
    }
}

/// The human report: what was searched, the ranking, the confluences,
/// the coverage.
pub fn report_text(x: &Exploration, command: &str) -> String {
    let mut o = scope_text(x, command);
    o.push_str(&ranking_text(x));
    o.push_str(&confluences_text(x));
    o.push_str(&coverage_text(x));
    o
}

/// What was searched: the command, the fault space and the runs per size,
/// what counts as harmful, and how the ranking ranks.
fn scope_text(x: &Exploration, command: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "explore: {command}");
    let latent = x.space.iter().filter(|c| c.role == Role::Latent).count();
    let _ = writeln!(
        o,
        "fault space: {} faults ({} latent, {} active at their phases); {} runs in all",
        x.space.len(),
        latent,
        x.space.len() - latent,
        x.runs
    );
    for k in 0..3 {
        let _ = writeln!(
            o,
            "  {} fault{}: {} combinations, {} without a harmful part; ran {} ({})",
            k + 1,
            if k == 0 { "" } else { "s" },
            x.space_size[k],
            x.minimal_space[k],
            x.evaluated[k],
            x.mode[k]
        );
    }
    let _ = writeln!(
        o,
        "harmful: above the same seed without faults, ≥{:.1} h without full service per user ({} users), p99 delay +{} s, any mail lost or bounced, split brain; screened on {} seed(s), confirmed on {} (harmful on at least half)",
        x.thresholds.outage_h_per_user,
        x.users,
        x.thresholds.p99_s,
        x.screen_seeds,
        x.confirm_seeds
    );
    let _ = writeln!(o, "ranked: {}; harm score = {}", search::RANKING_TEXT, search::HARM_SCORE_TEXT);
    o
}

/// The ranking, one shape of combination a paragraph, its worst member's
/// harm in figures.
fn ranking_text(x: &Exploration) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\nranking: {} harmful minimal combinations in {} shapes, worst first (harm as mean [min–max] over the seeds; the worst of each shape shown):",
        x.ranking.len(),
        x.classes.len()
    );
    if x.ranking.is_empty() {
        let _ = writeln!(o, "  nothing harmful found in the scope below");
    }
    for (i, c) in x.classes.iter().enumerate() {
        let f = &x.ranking[c.members[0]];
        let _ = writeln!(
            o,
            "{:>3}. {}{} — {} combination{}",
            i + 1,
            c.shape,
            if c.confluence { "   [CONFLUENCE]" } else { "" },
            c.members.len(),
            if c.members.len() == 1 { "" } else { "s" }
        );
        let _ = writeln!(o, "     worst: {} (#{} of the ranking)", f.labels.join(" + "), c.members[0] + 1);
        let _ = writeln!(
            o,
            "     harm score {:.0} [{:.0}–{:.0}]  user-h {:.0} [{:.0}–{:.0}]  users w/o full service peak {:.0}% [{:.0}–{:.0}]  mailboxes offline peak {:.0}% [{:.0}–{:.0}]  lost ≤{}  bounced {:.1}  p99 {:+.0} s  split brain {}/{}  harmful {}/{}",
            f.score[0], f.score[1], f.score[2],
            f.user_hours[0], f.user_hours[1], f.user_hours[2],
            f.users_peak_pct[0], f.users_peak_pct[1], f.users_peak_pct[2],
            f.mailboxes_peak_pct[0], f.mailboxes_peak_pct[1], f.mailboxes_peak_pct[2],
            f.lost_max, f.bounced_mean, f.p99_s_mean, f.split_brain_seeds, f.seeds, f.harmful_seeds, f.seeds
        );
        if c.members.len() > 1 {
            let _ = writeln!(o, "     the shape's mildest: user-h {:.0}", c.user_hours[1]);
        }
        if let Some(from) = &f.shrunk_from {
            let _ = writeln!(o, "     shrunk from {}", from.join(" + "));
        }
        if let Some(p) = &f.file {
            let _ = writeln!(o, "     written to {}", p.display());
        }
    }
    o
}

/// The confluences: shapes harmful together though each fault is harmless
/// alone.
fn confluences_text(x: &Exploration) -> String {
    let mut o = String::new();
    let confluences: Vec<_> = x.classes.iter().filter(|c| c.confluence).collect();
    let _ = writeln!(
        o,
        "\nconfluences (harmful together on at least half the seeds, each fault harmless alone): {} combinations in {} shapes",
        confluences.iter().map(|c| c.members.len()).sum::<usize>(),
        confluences.len()
    );
    for c in &confluences {
        let f = &x.ranking[c.members[0]];
        let alone: Vec<String> =
            f.labels.iter().zip(&f.alone_harmful_seeds).map(|(l, a)| format!("{l} alone: harmful on {a}/{}", f.seeds)).collect();
        let _ = writeln!(
            o,
            "  {} ({}): e.g. together harmful on {}/{}; {}",
            c.shape,
            c.members.len(),
            f.harmful_seeds,
            f.seeds,
            alone.join("; ")
        );
    }
    o
}

/// The coverage table: per fault kind and phase, the components searched,
/// those on which the fault fired and changed something (in any run), and
/// those in a harmful combination.
pub fn coverage_text(x: &Exploration) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\ncoverage (components with the fault: searched / reached, i.e. fired and changed something / in a harmful combination):"
    );
    let mut phases: Vec<(&str, String)> = Vec::new();
    for c in &x.space {
        if !phases.iter().any(|p| p.0 == c.phase.name) {
            phases.push((c.phase.name, c.phase.at.to_string()));
        }
    }
    let _ = write!(o, "  {:<22}", "kind");
    for (p, at) in &phases {
        let _ = write!(o, " {:>16}", format!("{p} ({at})"));
    }
    o.push('\n');
    let mut kinds: Vec<&str> = Vec::new();
    for c in &x.space {
        if !kinds.contains(&c.kind.as_str()) {
            kinds.push(&c.kind);
        }
    }
    for k in kinds {
        let _ = write!(o, "  {k:<22}");
        for (p, _) in &phases {
            let idx: Vec<usize> = (0..x.space.len()).filter(|&i| x.space[i].kind == k && x.space[i].phase.name == *p).collect();
            if idx.is_empty() {
                let _ = write!(o, " {:>16}", "-");
                continue;
            }
            let reached = idx.iter().filter(|&&i| x.reach[i].effect > 0).count();
            let harmful = idx.iter().filter(|&&i| x.reach[i].harmful > 0).count();
            let _ = write!(o, " {:>16}", format!("{}/{}/{}", idx.len(), reached, harmful));
        }
        o.push('\n');
    }
    let mut classes: Vec<(usize, Vec<&str>)> = Vec::new();
    for c in &x.space {
        if let Some((k, _)) = c.symmetry {
            match classes.iter_mut().find(|e| e.0 == k) {
                Some(e) => {
                    if !e.1.contains(&c.target.as_str()) {
                        e.1.push(&c.target);
                    }
                }
                None => classes.push((k, vec![&c.target])),
            }
        }
    }
    if !classes.is_empty() {
        let list: Vec<String> = classes.iter().map(|(_, m)| m.join(" ≡ ")).collect();
        let _ = writeln!(
            o,
            "  symmetric components (alike up to their names, see space.rs): {}; a combination is run only on each class's first members, so the others count as searched through them",
            list.join("; ")
        );
    }
    let not: Vec<String> = NOT_SEARCHED.iter().map(|(k, why)| format!("{k} ({why})")).collect();
    let _ = writeln!(o, "  not searched: {}", not.join(", "));
    let _ = writeln!(o, "  a latent fault is present from T0 (at -7d) before every active one; active faults at the same phase are injected together, at different phases in their phases' order");
    o
}

/// The scenario file of a finding: the input with the combination as its
/// faults, no expectations (they described the input's outage) and a
/// header saying what was found and how to reproduce it.
pub fn finding_toml(f: &search::Finding, x: &Exploration, rank: usize, command: &str) -> String {
    let mut file = f.scenario.clone().expect("a finding carries its scenario");
    file.faults = f
        .faults
        .iter()
        .map(|&i| {
            let c = &x.space[i];
            let mut e = c.entry.clone();
            e.note = Some(format!(
                "{} fault{} (explore)",
                match c.role {
                    Role::Latent => "latent: present from T0",
                    Role::Active => "active",
                },
                if c.from_file { ", as in the input file" } else { "" }
            ));
            e
        })
        .collect();
    let name = format!("{}-explore-{rank:02}", file.scenario.name);
    file.scenario.summary = format!(
        "Found by mailsim explore: {}{}; user-hours without full service {:.0} [{:.0}-{:.0}] over seeds 0..{}",
        f.labels.join(" + "),
        if f.confluence { " (a confluence: each alone harmless)" } else { "" },
        f.user_hours[0],
        f.user_hours[1],
        f.user_hours[2],
        f.seeds
    );
    file.scenario.name = name;
    file.run.seeds = f.seeds.min(u64::from(u32::MAX)) as u32;
    let mut text = String::new();
    let _ = writeln!(text, "# Found by `{command}` (rank {rank}).");
    let _ = writeln!(
        text,
        "# Harm over seeds 0..{}: harmful on {}; peak users without full service {:.0}% [{:.0}-{:.0}%], mailboxes offline {:.0}% [{:.0}-{:.0}%], lost at most {}.",
        f.seeds,
        f.harmful_seeds,
        f.users_peak_pct[0],
        f.users_peak_pct[1],
        f.users_peak_pct[2],
        f.mailboxes_peak_pct[0],
        f.mailboxes_peak_pct[1],
        f.mailboxes_peak_pct[2],
        f.lost_max
    );
    if f.confluence {
        let _ = writeln!(text, "# Each fault alone was harmful on {:?} of {} seeds.", f.alone_harmful_seeds, f.seeds);
    }
    let _ = writeln!(text, "# Replay: mailsim run <this file> --seed 0\n");
    text.push_str(&crate::shrink::scenario_toml(&file));
    text
}

/// What `--json` prints.
#[derive(Serialize)]
struct JsonOut<'a> {
    command: &'a str,
    exploration: &'a Exploration,
}

/// `mailsim explore`: exit 0 when the search ran (whatever it found), 2 on
/// invalid input.
pub fn explore_cmd(a: &ExploreArgs) -> ExitCode {
    let fail = crate::output::invalid;
    let s = match crate::output::load_scenario(&a.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let jobs = a.jobs.unwrap_or_else(crate::pool::cores).max(1);
    if a.plans {
        return plans_cmd(a, &s, jobs);
    }
    let opts = search_options(a, jobs);
    let command = explore_command(a, &opts);
    let started = std::time::Instant::now();
    let result = match &a.merge {
        Some(dir) => match read_shards(dir) {
            Ok(sh) => merge(&s, a.kinds.as_deref(), opts, sh),
            Err(e) => return fail(e),
        },
        None => explore(&s, a.kinds.as_deref(), opts),
    };
    let mut x = match result {
        Ok(x) => x,
        Err(e) => return fail(format!("{}: {e}", a.file.display())),
    };
    let secs = started.elapsed().as_secs_f64();
    let out = a.out.clone().unwrap_or_else(|| default_out(&a.file));
    if let Err(e) = std::fs::create_dir_all(&out) {
        return fail(format!("cannot create {}: {e}", out.display()));
    }
    if let Err(e) = write_findings(a, &mut x, &out, &command) {
        return fail(e);
    }
    let json = serde_json::to_string_pretty(&JsonOut { command: &command, exploration: &x }).expect("an exploration serializes");
    let name = match a.shard {
        Some(sh) => format!("explore-{}-of-{}.json", sh.index, sh.count),
        None => "explore.json".into(),
    };
    if let Err(e) = crate::sweep::write_atomic(&out.join(name), json.as_bytes()) {
        return fail(format!("cannot write {}: {e}", out.display()));
    }
    let mut human = report_text(&x, &command);
    let _ = writeln!(
        human,
        "\n{} runs in {:.1} s on {} threads ({:.0} runs/s); results in {}",
        x.runs,
        secs,
        jobs,
        x.runs as f64 / secs.max(1e-9),
        out.display()
    );
    show(a.json, &human, &json)
}

/// The search's options from the command line.
fn search_options(a: &ExploreArgs, jobs: usize) -> Options {
    Options {
        max_faults: a.faults as usize,
        seeds: a.seeds,
        confirm_seeds: a.confirm.max(a.seeds),
        budget: a.budget as usize,
        jobs,
        search_seed: a.search_seed,
        thresholds: Thresholds {
            outage_h_per_user: a.outage.micros().max(0) as f64 / 3.6e9,
            p99_s: (a.p99.micros().max(0) / 1_000_000) as u64,
        },
        shard: a.shard.map_or((0, 1), |s| (s.index, s.count)),
    }
}

/// The command line that reproduces this search, as the report and each
/// written finding quote it.
fn explore_command(a: &ExploreArgs, opts: &Options) -> String {
    let mut command = format!(
        "mailsim explore {} --faults {} --seeds {} --confirm {} --budget {}",
        a.file.display(),
        a.faults,
        a.seeds,
        opts.confirm_seeds,
        a.budget
    );
    if let Some(k) = &a.kinds {
        command.push_str(&format!(" --kinds {}", k.join(",")));
    }
    if let Some(sh) = a.shard {
        command.push_str(&format!(" --shard {sh}"));
    }
    if let Some(dir) = &a.merge {
        command.push_str(&format!(" --merge {}", dir.display()));
    }
    command
}

/// Writes the worst of each shape, worst shapes first, up to `--write`
/// files in `out`, each checked to load; notes each one's path in `x`.
fn write_findings(a: &ExploreArgs, x: &mut Exploration, out: &Path, command: &str) -> Result<(), String> {
    let worst: Vec<usize> = x.classes.iter().map(|c| c.members[0]).take(a.write).collect();
    for i in worst {
        let f = &x.ranking[i];
        let slug: String = f.labels.iter().map(|l| l.split(' ').next().unwrap_or("fault")).collect::<Vec<_>>().join("+");
        let path = out.join(format!("{:02}-{slug}.toml", i + 1));
        let text = finding_toml(f, x, i + 1, command);
        crate::sweep::write_atomic(&path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Scenario::load(&path).map_err(|e| format!("a written finding does not load (a bug in explore): {e}"))?;
        x.ranking[i].file = Some(path);
    }
    Ok(())
}

/// Prints a command's result: the text on stdout, or with `--json` the JSON
/// on stdout and the text on stderr; exit 0, or 2 when stdout fails.
fn show(json: bool, human: &str, json_text: &str) -> ExitCode {
    let shown = if json {
        crate::output::stderr(human);
        crate::output::stdout_line(json_text)
    } else {
        crate::output::stdout(human)
    };
    match shown {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::output::invalid(format!("cannot write to stdout: {e}")),
    }
}

/// `mailsim explore --plans FILE`: exit 0 when the search ran, 2 on
/// invalid input.
fn plans_cmd(a: &ExploreArgs, s: &Scenario, jobs: usize) -> ExitCode {
    let fail = crate::output::invalid;
    let o = plans::PlanOptions {
        seeds: a.seeds,
        confirm_seeds: a.confirm.max(a.seeds),
        budget: a.budget as usize,
        jobs,
        finalists: 3,
        resamples: 10_000,
    };
    let command =
        format!("mailsim explore --plans {} --seeds {} --confirm {} --budget {}", a.file.display(), a.seeds, o.confirm_seeds, a.budget);
    let started = std::time::Instant::now();
    let p = match plans::search_plans(s, &o) {
        Ok(p) => p,
        Err(e) => return fail(format!("{}: {e}", a.file.display())),
    };
    let secs = started.elapsed().as_secs_f64();
    let out = a.out.clone().unwrap_or_else(|| {
        let stem = a.file.file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
        a.file.with_file_name(format!("{stem}.plans"))
    });
    if let Err(e) = std::fs::create_dir_all(&out) {
        return fail(format!("cannot create {}: {e}", out.display()));
    }
    let best = out.join("best-plan.toml");
    if let Err(e) = crate::sweep::write_atomic(&best, plans::best_toml(&p, &command).as_bytes()) {
        return fail(format!("cannot write {}: {e}", best.display()));
    }
    if let Err(e) = Scenario::load(&best) {
        return fail(format!("the written plan does not load (a bug in explore --plans): {e}"));
    }
    let json = serde_json::to_string_pretty(&p).expect("a plan search serializes");
    if let Err(e) = crate::sweep::write_atomic(&out.join("plans.json"), json.as_bytes()) {
        return fail(format!("cannot write {}: {e}", out.display()));
    }
    let mut human = plans::plans_text(&p, &command);
    let _ = writeln!(human, "\nbest plan written to {}\n{} runs in {:.1} s on {} threads", best.display(), p.runs, secs, jobs);
    show(a.json, &human, &json)
}
