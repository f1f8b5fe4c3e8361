//! Sweeps and merges (`src/sweep.rs`): a sweep killed at any moment resumes
//! to the same result as an uninterrupted one; shards merge to the unsharded
//! sweep; merging catches nondeterminism, edited records, records outside
//! the manifest, a missing manifest and missing shards; the JUnit report is
//! well-formed.
//! Runs `tests/data/sweep-small.toml` (a few milliseconds a seed) over a few
//! seeds, some of which miss its delay bound.

use std::path::{Path, PathBuf};

use mailsim::junit::{junit_xml, JunitCase, JunitSuite};
use mailsim::sweep::{
    merge_dirs, parse_seeds, resolve_shard, scenario_hash, summarize, summary_junit, sweep, Record, Results, Shard, Summary, SweepConfig,
    SweepError, MANIFEST_FILE, RUNS_FILE, SWEEP_SEEDS_MAX,
};

const SEEDS: std::ops::Range<u64> = 0..12;

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sweep-small.toml")
}

/// A fresh directory under the target directory.
fn fresh(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sweep-tests").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("can create a test directory");
    d
}

fn config(out: &Path, seeds: std::ops::Range<u64>, shard: Shard) -> SweepConfig {
    let mut c = SweepConfig::new(vec![scenario()], out.to_path_buf());
    c.seeds = Some(seeds);
    c.shard = shard;
    c.threads = 2;
    // One batch file per run, so a "kill" can fall between any two runs.
    c.flush_runs = 1;
    c
}

fn load(dir: &Path) -> Results {
    merge_dirs(&[dir.to_path_buf()]).expect("a readable result directory")
}

fn records(dir: &Path) -> Vec<Record> {
    load(dir).records.into_values().collect()
}

fn summary_of(dir: &Path) -> Summary {
    let r = load(dir);
    summarize(r.records.values(), &r.manifest, &r.warnings)
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// The uninterrupted sweep every other test compares with.
fn reference(name: &str) -> PathBuf {
    let dir = fresh(name);
    let out = sweep(&config(&dir, SEEDS, Shard::ALL)).expect("the sweep runs");
    assert_eq!(out.ran, SEEDS.end);
    assert_eq!(out.summary.runs, SEEDS.end);
    dir
}

#[test]
fn the_test_scenario_has_passing_and_failing_seeds() {
    let dir = reference("mixed");
    let s = summary_of(&dir);
    assert_eq!(s.scenarios.len(), 1);
    let sc = &s.scenarios[0];
    assert!(sc.failed > 0 && sc.failed < sc.runs, "want a mix, got {} of {} failed", sc.failed, sc.runs);
    assert_eq!(sc.failures.len() as u64, sc.failed);
    for f in &sc.failures {
        assert!(f.repro.starts_with("mailsim run ") && f.repro.ends_with(&format!("--seed {}", f.seed)), "{}", f.repro);
    }
    assert_eq!(sc.missing, Some(0));
    // After a finished sweep the directory is compacted to one record file.
    assert_eq!(files(&dir), vec![RUNS_FILE.to_string(), "sweep.json".to_string()]);
}

#[test]
fn a_killed_sweep_resumes_to_the_uninterrupted_result() {
    let full = reference("full");

    // "Kill" after 7 runs: a sweep over a prefix, its compacted file split
    // back into batch files; the last batch never got renamed (it is lost,
    // and its temporary file is still there); one batch was written twice
    // (a kill during compaction leaves identical duplicates).
    let dir = fresh("killed");
    sweep(&config(&dir, 0..7, Shard::ALL)).expect("the first part runs");
    let text = std::fs::read_to_string(dir.join(RUNS_FILE)).unwrap();
    std::fs::remove_file(dir.join(RUNS_FILE)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7);
    for (i, l) in lines[..5].iter().enumerate() {
        std::fs::write(dir.join(format!("runs-1-1-{i:06}.jsonl")), format!("{l}\n")).unwrap();
    }
    std::fs::write(dir.join("runs-1-2-000000.jsonl"), format!("{}\n{}\n", lines[0], lines[1])).unwrap();
    std::fs::write(dir.join(".runs-1-1-000005.jsonl.99.tmp"), &lines[5][..lines[5].len() / 2]).unwrap();
    assert_eq!(records(&dir).len(), 5, "five runs survived the kill");

    let out = sweep(&config(&dir, SEEDS, Shard::ALL)).expect("the sweep resumes");
    assert_eq!(out.skipped, 5, "recorded runs are not run again");
    assert_eq!(out.ran, SEEDS.end - 5, "lost runs are run again");
    assert!(!files(&dir).iter().any(|f| f.ends_with(".tmp")), "the stray temporary file is gone: {:?}", files(&dir));
    assert_eq!(records(&dir), records(&full));
    assert_eq!(summary_of(&dir), summary_of(&full));
    assert_eq!(out.summary, summary_of(&full));

    // Resuming a finished sweep runs nothing and changes nothing.
    let again = sweep(&config(&dir, SEEDS, Shard::ALL)).unwrap();
    assert_eq!((again.ran, again.skipped), (0, SEEDS.end));
    assert_eq!(std::fs::read(dir.join(RUNS_FILE)).unwrap(), std::fs::read(full.join(RUNS_FILE)).unwrap());
}

#[test]
fn a_sweep_resumed_many_times_equals_one_sweep() {
    // As a sequence of kills at uneven points would leave it.
    let full = reference("pieces-full");
    let dir = fresh("pieces");
    for end in [1, 4, 9, SEEDS.end] {
        sweep(&config(&dir, 0..end, Shard::ALL)).unwrap();
    }
    assert_eq!(records(&dir), records(&full));
}

#[test]
fn no_resume_starts_over() {
    let dir = reference("no-resume");
    let mut c = config(&dir, 0..3, Shard::ALL);
    c.resume = false;
    let out = sweep(&c).unwrap();
    assert_eq!((out.ran, out.skipped), (3, 0));
    assert_eq!(records(&dir).len(), 3);
}

#[test]
fn shards_merge_to_the_unsharded_sweep() {
    let full = reference("shard-full");
    let mut dirs = Vec::new();
    for k in 0..3 {
        let d = fresh(&format!("shard-{k}"));
        let out = sweep(&config(&d, SEEDS, Shard { index: k, count: 3 })).unwrap();
        assert_eq!(out.ran, 4, "shard {k}/3 runs every third seed");
        assert!(records(&d).iter().all(|r| r.seed % 3 == k));
        dirs.push(d);
    }
    let merged = merge_dirs(&dirs).unwrap();
    assert_eq!(merged.records.values().cloned().collect::<Vec<_>>(), records(&full));
    assert_eq!(summarize(merged.records.values(), &merged.manifest, &merged.warnings), summary_of(&full));

    // A merged directory is a result directory too, and merging is idempotent.
    let out = fresh("shard-merged");
    merged.write_dir(&out).unwrap();
    let again = merge_dirs(&[out.clone(), dirs[1].clone()]).unwrap();
    assert_eq!(again.records, merged.records);

    // Two of three shards: the manifests say the sweep has three, so the
    // third is missing, named as a shard; a shard that died half-way is
    // missing its remaining seeds.
    let partial = merge_dirs(&dirs[..2]).unwrap();
    let s = summarize(partial.records.values(), &partial.manifest, &partial.warnings);
    assert_eq!((s.runs, s.scenarios[0].missing), (8, Some(4)));
    assert_eq!(s.scenarios[0].missing_shards, vec![Shard { index: 2, count: 3 }]);
    assert!(!s.ok(), "a merge without one of its shards is not ok");
    let text = std::fs::read_to_string(dirs[2].join(RUNS_FILE)).unwrap();
    let kept: String = text.lines().take(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(dirs[2].join(RUNS_FILE), kept).unwrap();
    let broken = merge_dirs(&dirs).unwrap();
    let s = summarize(broken.records.values(), &broken.manifest, &broken.warnings);
    assert_eq!(s.scenarios[0].missing, Some(3));
    assert_eq!(s.scenarios[0].missing_runs.iter().map(ToString::to_string).collect::<Vec<_>>(), vec!["5..=11 step 3"]);
    assert!(!s.ok(), "an incomplete merge is not ok");
}

#[test]
fn merge_detects_conflicting_trace_hashes() {
    let a = reference("conflict-a");
    let b = fresh("conflict-b");
    let text = std::fs::read_to_string(a.join(RUNS_FILE)).unwrap();
    // Identical duplicates merge silently.
    std::fs::copy(a.join(MANIFEST_FILE), b.join(MANIFEST_FILE)).unwrap();
    std::fs::write(b.join(RUNS_FILE), &text).unwrap();
    assert_eq!(merge_dirs(&[a.clone(), b.clone()]).unwrap().records.len(), SEEDS.end as usize);
    // The same seed with another trace hash is nondeterminism.
    let mut r: Record = serde_json::from_str(text.lines().nth(4).unwrap()).unwrap();
    r.trace_hash = "0000000000000bad".into();
    let r = r.sealed();
    std::fs::write(b.join(RUNS_FILE), serde_json::to_string(&r).unwrap() + "\n").unwrap();
    match merge_dirs(&[a, b]) {
        Err(SweepError::Conflict(c)) => {
            assert_eq!(c.seed, 4);
            assert_eq!(c.second, "0000000000000bad");
            assert!(c.repro.ends_with("--seed 4"), "{}", c.repro);
            assert!(c.to_string().contains("nondeterminism"), "{c}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn an_edited_scenario_is_kept_apart_from_old_results() {
    let dir = reference("edited");
    let copy = fresh("edited-file").join("sweep-small.toml");
    let text = std::fs::read_to_string(scenario()).unwrap().replace("mails = 300", "mails = 200");
    std::fs::write(&copy, text).unwrap();
    let mut c = config(&dir, 0..4, Shard::ALL);
    c.files = vec![copy];
    let out = sweep(&c).unwrap();
    assert_eq!((out.ran, out.skipped), (4, 0), "old results do not count for the edited scenario");
    assert_eq!(out.summary.runs, 4);
    assert!(out.summary.warnings.iter().any(|w| w.contains("another version")), "{:?}", out.summary.warnings);
    let s = summary_of(&dir);
    assert_eq!(s.scenarios.len(), 2, "two versions, summarized apart");
    assert!(s.warnings.iter().any(|w| w.contains("2 versions")), "{:?}", s.warnings);
}

#[test]
fn shards_and_seeds_parse() {
    assert_eq!(parse_seeds("0..100000"), Ok(0..100_000));
    assert_eq!(parse_seeds("5..=7"), Ok(5..8));
    assert_eq!(parse_seeds("12"), Ok(0..12));
    assert!(parse_seeds("7..7").is_err());
    assert!(parse_seeds("a..b").is_err());
    assert_eq!("2/8".parse::<Shard>(), Ok(Shard { index: 2, count: 8 }));
    assert!("8/8".parse::<Shard>().is_err());
    assert!("1/0".parse::<Shard>().is_err());
    let shard = Shard { index: 2, count: 3 };
    assert_eq!(shard.seeds(0..10).collect::<Vec<_>>(), vec![2, 5, 8]);
    assert_eq!(shard.seeds(6..12).collect::<Vec<_>>(), vec![8, 11]);
    for (range, k, n) in [(0..10, 2, 3), (6..12, 2, 3), (7..8, 0, 4), (0..1, 0, 1), (5..100, 6, 7), (3..1000, 0, 1)] {
        let s = Shard { index: k, count: n };
        assert_eq!(s.count_in(&range), range.clone().filter(|x| s.contains(*x)).count() as u64, "{s} of {range:?}");
        assert_eq!(s.seeds(range.clone()).collect::<Vec<_>>(), range.clone().filter(|x| s.contains(*x)).collect::<Vec<_>>());
    }

    let env = |vars: &'static [(&'static str, &'static str)]| move |k: &str| vars.iter().find(|v| v.0 == k).map(|v| v.1.to_string());
    let s = |k, n| Shard { index: k, count: n };
    assert_eq!(resolve_shard(None, None, env(&[])), Ok(Shard::ALL));
    assert_eq!(resolve_shard(Some(s(1, 4)), None, env(&[("MAILSIM_SHARD", "2/4")])), Ok(s(1, 4)), "the flag wins");
    assert_eq!(resolve_shard(None, None, env(&[("MAILSIM_SHARD", "2/4")])), Ok(s(2, 4)));
    assert_eq!(resolve_shard(None, Some(5), env(&[("JOB_COMPLETION_INDEX", "3")])), Ok(s(3, 5)));
    assert_eq!(resolve_shard(None, None, env(&[("JOB_COMPLETION_INDEX", "3"), ("MAILSIM_SHARDS", "5")])), Ok(s(3, 5)));
    assert!(resolve_shard(None, None, env(&[("JOB_COMPLETION_INDEX", "3")])).is_err(), "N is unknown");
    assert!(resolve_shard(None, Some(3), env(&[("JOB_COMPLETION_INDEX", "3")])).is_err(), "index out of range");
    assert!(resolve_shard(None, Some(3), env(&[])).is_err(), "which shard?");
}

/// A small XML well-formedness check: balanced tags, quoted attributes, only
/// the predefined entities, no characters XML 1.0 forbids.
fn well_formed(xml: &str) -> Result<(), String> {
    let body = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").ok_or("no XML declaration")?;
    let entity_ok = |s: &str| -> Result<(), String> {
        let mut rest = s;
        while let Some(i) = rest.find('&') {
            rest = &rest[i + 1..];
            let end = rest.find(';').ok_or("unterminated entity")?;
            if !matches!(&rest[..end], "amp" | "lt" | "gt" | "quot" | "apos") {
                return Err(format!("unknown entity &{};", &rest[..end]));
            }
        }
        Ok(())
    };
    if let Some(c) = xml.chars().find(|c| (*c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(format!("forbidden character {:?}", c));
    }
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..lt];
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        entity_ok(text)?;
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        let gt = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            if stack.pop() != Some(name.trim()) {
                return Err(format!("mismatched </{name}>"));
            }
            continue;
        }
        let (tag, empty) = match tag.strip_suffix('/') {
            Some(t) => (t, true),
            None => (tag, false),
        };
        let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
        let name = &tag[..name_end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("bad tag name {name:?}"));
        }
        let mut attrs = tag[name_end..].trim();
        let mut seen = Vec::new();
        while !attrs.is_empty() {
            let eq = attrs.find("=\"").ok_or(format!("bad attribute in <{name}>"))?;
            let key = attrs[..eq].trim();
            if seen.contains(&key) {
                return Err(format!("duplicate attribute {key}"));
            }
            seen.push(key);
            let val_end = attrs[eq + 2..].find('"').ok_or("unterminated attribute")?;
            let val = &attrs[eq + 2..eq + 2 + val_end];
            if val.contains('<') {
                return Err("`<` in an attribute".into());
            }
            entity_ok(val)?;
            attrs = attrs[eq + 2 + val_end + 1..].trim_start();
        }
        if stack.is_empty() {
            roots += 1;
        }
        if !empty {
            stack.push(name);
        }
    }
    if !stack.is_empty() || roots != 1 {
        return Err(format!("unclosed {stack:?} or {roots} roots"));
    }
    Ok(())
}

#[test]
fn the_well_formedness_check_can_fail() {
    assert!(well_formed("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a><b/></a>\n").is_ok());
    assert!(well_formed("<?xml version=\"1.0\" encoding=\"UTF-8\"?><a><b></a>").is_err());
    assert!(well_formed("<?xml version=\"1.0\" encoding=\"UTF-8\"?><a x=\"<\"/>").is_err());
    assert!(well_formed("<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>&nbsp;</a>").is_err());
    assert!(well_formed("<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\u{1}</a>").is_err());
}

#[test]
fn junit_output_is_well_formed() {
    let nasty = "a <b> & \"c\" 'd' \u{1}\u{1b}[31m";
    let xml = junit_xml(&[JunitSuite {
        name: nasty.into(),
        cases: vec![JunitCase::passed(nasty, nasty), JunitCase::failed(nasty, "x", nasty, format!("{nasty}\n]]> </failure>"))],
        ..JunitSuite::default()
    }]);
    well_formed(&xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"));
    assert!(xml.contains("tests=\"2\" skipped=\"0\" failures=\"1\""), "{xml}");
    assert!(xml.contains("a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"), "markup escaped: {xml}");

    let dir = reference("junit");
    let s = summary_of(&dir);
    let suites = summary_junit(&s);
    let sc = &s.scenarios[0];
    assert_eq!(suites[0].cases.len(), sc.expectations.len(), "one test case per scenario × expectation");
    assert!(sc.expectations.iter().any(|e| e == "max delivery delay"), "{:?}", sc.expectations);
    let failed: Vec<&JunitCase> = suites[0].cases.iter().filter(|c| c.failure.is_some()).collect();
    assert_eq!(failed.len(), 1, "only the delay bound fails");
    let text = &failed[0].failure.as_ref().unwrap().text;
    for f in &sc.failures {
        assert!(text.contains(&f.repro), "{text}");
    }
    let xml = junit_xml(&suites);
    well_formed(&xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"));
}

#[test]
fn each_scenario_runs_its_own_default_seeds() {
    let variant = fresh("variant-file").join("variant.toml");
    let text = format!(
        "extends = {:?}\n[scenario]\nname = \"sweep-small-variant\"\nsummary = \"fewer seeds\"\n[run]\nseeds = 2\n",
        scenario().display().to_string()
    );
    std::fs::write(&variant, text).unwrap();
    let dir = fresh("two-scenarios");
    let mut c = config(&dir, 0..1, Shard::ALL);
    c.seeds = None;
    c.files = vec![scenario(), variant];
    let out = sweep(&c).unwrap();
    assert_eq!(out.ran, 4 + 2, "sweep-small has run.seeds = 4, the variant 2");
    let runs: Vec<(String, u64)> = out.summary.scenarios.iter().map(|s| (s.scenario.clone(), s.runs)).collect();
    assert_eq!(runs, vec![("sweep-small".to_string(), 4), ("sweep-small-variant".to_string(), 2)]);
    assert!(out.summary.scenarios.iter().all(|s| s.missing == Some(0)));
}

#[test]
fn the_file_hash_covers_the_extends_chain() {
    let d = fresh("hash-chain");
    std::fs::copy(scenario(), d.join("base.toml")).unwrap();
    std::fs::write(d.join("variant.toml"), "extends = \"base.toml\"\n[scenario]\nname = \"v\"\nsummary = \"v\"\n").unwrap();
    let before = scenario_hash(&d.join("variant.toml")).unwrap();
    assert_eq!(before, scenario_hash(&d.join("variant.toml")).unwrap(), "stable");
    assert_ne!(before, scenario_hash(&d.join("base.toml")).unwrap());
    let base = std::fs::read_to_string(d.join("base.toml")).unwrap().replace("mails = 300", "mails = 301");
    std::fs::write(d.join("base.toml"), base).unwrap();
    assert_ne!(before, scenario_hash(&d.join("variant.toml")).unwrap(), "editing the base changes the variant's hash");
}

/// A result directory that is a copy of `from` (records and manifest).
fn copy_dir(from: &Path, name: &str) -> PathBuf {
    let to = fresh(name);
    for f in [RUNS_FILE, MANIFEST_FILE] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    to
}

fn lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(RUNS_FILE)).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn a_merge_missing_one_of_two_shards_names_the_shard_and_is_not_ok() {
    let d = fresh("half-0");
    sweep(&config(&d, SEEDS, Shard { index: 0, count: 2 })).unwrap();
    let r = merge_dirs(std::slice::from_ref(&d)).unwrap();
    let s = summarize(r.records.values(), &r.manifest, &r.warnings);
    let sc = &s.scenarios[0];
    assert_eq!((sc.runs, sc.missing), (6, Some(6)));
    assert_eq!(sc.missing_shards, vec![Shard { index: 1, count: 2 }]);
    assert_eq!(sc.missing_seeds, vec![1, 3, 5, 7, 9, 11]);
    assert!(!s.ok());
    assert!(mailsim::sweep::render_summary(&s).contains("shard 1/2"), "{}", mailsim::sweep::render_summary(&s));
}

#[test]
fn a_result_directory_with_records_but_no_manifest_is_refused() {
    let d = copy_dir(&reference("no-manifest-src"), "no-manifest");
    std::fs::remove_file(d.join(MANIFEST_FILE)).unwrap();
    match merge_dirs(std::slice::from_ref(&d)) {
        Err(e @ SweepError::NoManifest { records: 12, .. }) => assert!(e.to_string().contains("no manifest"), "{e}"),
        other => panic!("expected NoManifest, got {other:?}"),
    }
    // A sweep does not resume into it either: it could not say what was asked.
    assert!(matches!(sweep(&config(&d, SEEDS, Shard::ALL)), Err(SweepError::NoManifest { .. })));
}

#[test]
fn an_edited_record_fails_its_checksum_naming_file_and_seed() {
    let d = copy_dir(&reference("edited-record-src"), "edited-record");
    let mut ls = lines(&d);
    assert!(ls[3].contains("\"lost\":0"), "{}", ls[3]);
    ls[3] = ls[3].replace("\"lost\":0", "\"lost\":7");
    std::fs::write(d.join(RUNS_FILE), ls.join("\n") + "\n").unwrap();
    match merge_dirs(std::slice::from_ref(&d)) {
        Err(e @ SweepError::Tampered { line: 4, seed: 3, .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&format!("{}:4", d.join(RUNS_FILE).display())) && msg.contains("seed 3"), "{msg}");
        }
        other => panic!("expected Tampered, got {other:?}"),
    }
    // A record without a checksum cannot be verified either.
    let mut r: Record = serde_json::from_str(&lines(&reference("edited-record-src"))[0]).unwrap();
    assert!(r.checksum_ok());
    r.checksum.clear();
    std::fs::write(d.join(RUNS_FILE), serde_json::to_string(&r).unwrap() + "\n").unwrap();
    assert!(matches!(merge_dirs(std::slice::from_ref(&d)), Err(SweepError::Tampered { seed: 0, .. })));
}

#[test]
fn a_duplicate_with_the_same_trace_hash_but_other_figures_is_a_conflict() {
    let a = reference("disagree-a");
    let b = copy_dir(&a, "disagree-b");
    let mut r: Record = serde_json::from_str(&lines(&a)[2]).unwrap();
    r.lost = 7;
    // Re-sealed, so the checksum holds and only the comparison can catch it.
    std::fs::write(b.join(RUNS_FILE), serde_json::to_string(&r.sealed()).unwrap() + "\n").unwrap();
    match merge_dirs(&[a.clone(), b.clone()]) {
        Err(e @ SweepError::Disagree(_)) => {
            let msg = e.to_string();
            assert!(msg.contains("seed 2") && msg.contains("lost: 0 vs 7"), "{msg}");
            assert!(msg.contains(&b.join(RUNS_FILE).display().to_string()), "{msg}");
        }
        other => panic!("expected Disagree, got {other:?}"),
    }
    // The same run under another file path (another machine's checkout) is
    // the same run.
    let mut same: Record = serde_json::from_str(&lines(&a)[2]).unwrap();
    same.file = "elsewhere/sweep-small.toml".into();
    std::fs::write(b.join(RUNS_FILE), serde_json::to_string(&same.sealed()).unwrap() + "\n").unwrap();
    assert_eq!(merge_dirs(&[a, b]).unwrap().records.len(), SEEDS.end as usize);
}

#[test]
fn seeds_outside_the_manifest_are_reported_and_not_counted() {
    let d = copy_dir(&reference("outside-src"), "outside");
    let mut ls = lines(&d);
    for seed in [40, 41, 42, 90] {
        let mut r: Record = serde_json::from_str(&ls[0]).unwrap();
        r.seed = seed;
        ls.push(serde_json::to_string(&r.sealed()).unwrap());
    }
    std::fs::write(d.join(RUNS_FILE), ls.join("\n") + "\n").unwrap();
    match merge_dirs(std::slice::from_ref(&d)) {
        Err(e @ SweepError::Outside { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("4 recorded runs") && msg.contains("seeds 40..=42, 90"), "{msg}");
        }
        other => panic!("expected Outside, got {other:?}"),
    }
    // Outside another shard's seeds count as outside too.
    let h = fresh("outside-shard");
    sweep(&config(&h, SEEDS, Shard { index: 0, count: 2 })).unwrap();
    let mut ls = lines(&h);
    let mut r: Record = serde_json::from_str(&ls[0]).unwrap();
    r.seed = 1;
    ls.push(serde_json::to_string(&r.sealed()).unwrap());
    std::fs::write(h.join(RUNS_FILE), ls.join("\n") + "\n").unwrap();
    assert!(matches!(merge_dirs(&[h]), Err(SweepError::Outside { .. })));
}

#[test]
fn a_sweep_refuses_more_seeds_than_its_limit_before_running_any() {
    let d = fresh("too-many");
    let err = sweep(&config(&d, 0..SWEEP_SEEDS_MAX + 1, Shard::ALL)).expect_err("past the limit");
    assert!(err.to_string().contains("at most 100000000"), "{err}");
    assert!(parse_seeds("0..18446744073709551615").is_err());
    assert!(files(&d).is_empty(), "nothing ran, nothing was written: {:?}", files(&d));
}

/// `tests/data/sweep-rate.toml` with its delay bound required on `share`,
/// written to a fresh directory.
fn rate_scenario(name: &str, share: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sweep-rate.toml");
    let text = std::fs::read_to_string(src).unwrap();
    assert!(text.contains("on_seeds = \"50%\""), "the test file's share moved");
    let path = fresh(name).join("sweep-rate.toml");
    std::fs::write(&path, text.replace("on_seeds = \"50%\"", &format!("on_seeds = {share:?}"))).unwrap();
    path
}

/// Sweeps a rate scenario over seeds 0..16 (shares of 16 are whole in
/// 0.0001%): its summary, JUnit report and `mailsim sweep` exit code.
fn rate_sweep(name: &str, share: &str) -> (Summary, Vec<JunitSuite>, Option<i32>) {
    let file = rate_scenario(name, share);
    let dir = fresh(&format!("{name}-out"));
    let mut c = config(&dir, 0..16, Shard::ALL);
    c.files = vec![file.clone()];
    let s = sweep(&c).expect("the sweep runs").summary;
    let junit = summary_junit(&s);
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_mailsim"))
        .args(["sweep", "--seeds", "0..16", "--jobs", "2", "--out"])
        .arg(fresh(&format!("{name}-cli")))
        .arg(&file)
        .output()
        .expect("mailsim runs");
    (s, junit, cli.status.code())
}

/// A bound with `on_seeds`: the seeds that miss it are tolerated (the runs
/// pass), and the sweep reports the share that met it with its Wilson 95%
/// interval; it passes at exactly the required share and fails (exit 1, a
/// failed JUnit case naming the missed seeds) just below it.
#[test]
fn a_rate_expectation_passes_at_its_required_share_and_fails_below_it() {
    let (s, _, _) = rate_sweep("rate-probe", "50%");
    let sc = &s.scenarios[0];
    assert_eq!(sc.rates.len(), 1, "{:?}", sc.rates);
    let rate = &sc.rates[0];
    let (k, n) = (rate.pass_rate.k, rate.pass_rate.n);
    assert_eq!(n, 16);
    assert!(0 < k && k < n, "want seeds that miss the bound and seeds that meet it, got {k} of {n}");
    assert_eq!(sc.failed, 0, "a tolerated miss fails no run: {:?}", sc.failures);
    assert_eq!(rate.missed_seeds.len() as u64, n - k);
    let (low, high) = mailsim::sweep::wilson95(k, n);
    assert_eq!((rate.pass_rate.low95, rate.pass_rate.high95), (low, high));

    // Exactly the observed share: met.
    let exact = format!("{}%", k as f64 * 100.0 / n as f64);
    let (s, junit, code) = rate_sweep("rate-exact", &exact);
    let r = &s.scenarios[0].rates[0];
    assert!(r.met && s.ok(), "{r}");
    assert_eq!(code, Some(0), "mailsim sweep exits 0 at the required share");
    let case = junit[0].cases.iter().find(|c| c.name == "max delivery delay").expect("a JUnit case per rate expectation");
    assert!(case.failure.is_none(), "{case:?}");
    assert!(
        case.system_out.as_deref().is_some_and(|o| o.contains(&format!("met on {k} of {n} seeds")) && o.contains("95% CI")),
        "{case:?}"
    );

    // One part per million more than observed: not met, the sweep fails.
    let above = format!("{:.4}%", k as f64 * 100.0 / n as f64 + 0.0001);
    let (s, junit, code) = rate_sweep("rate-above", &above);
    let sc = &s.scenarios[0];
    assert!(!sc.rates[0].met && !s.ok(), "{}", sc.rates[0]);
    assert_eq!(sc.failed, 0, "the runs still pass; the rate fails");
    assert_eq!(code, Some(1), "mailsim sweep exits 1 below the required share");
    let case = junit[0].cases.iter().find(|c| c.name == "max delivery delay").expect("a JUnit case per rate expectation");
    let failure = case.failure.as_ref().expect("the rate case fails");
    assert!(failure.message.contains("below its required share"), "{}", failure.message);
    let first_missed = sc.rates[0].missed_seeds[0];
    assert!(failure.text.contains(&format!("--seed {first_missed}")), "{}", failure.text);
    let human = mailsim::sweep::render_summary(&s);
    assert!(human.contains("rate FAILED: max delivery delay: met on") && human.contains("1 rate expectations below"), "{human}");
}

/// The sweep summary reports what users saw (issue 9), not only mailboxes
/// on offline volumes: the Fused replay's cluster-wide stall reads 0%
/// mailboxes offline, but every user loses service and SMTP, POP and IMAP
/// are down for the whole stuck period (over 8 h).
#[test]
fn a_sweep_summary_reports_users_affected_and_each_services_down_time() {
    let dir = fresh("service-level");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/fused-2018-failed-fencing.toml");
    let mut c = SweepConfig::new(vec![file], dir.clone());
    c.seeds = Some(0..4);
    c.threads = 2;
    let s = sweep(&c).expect("the sweep runs").summary;
    let f = &s.scenarios[0].figures;
    assert_eq!(f.peak_unavailable_ppm_max, 0, "no volume goes offline in Fused");
    assert_eq!(f.users_affected_peak_ppm_max, 1_000_000, "every user loses full service");
    for service in ["smtp", "pop", "imap"] {
        let down = f.service_down_s_max.get(service).copied().unwrap_or(0);
        assert!(down > 8 * 3600, "{service} down {down} s");
    }
    let text = mailsim::sweep::render_summary(&s);
    assert!(text.contains("users affected 100%") && text.contains("longest down") && text.contains("smtp "), "{text}");
    // The postmortem's clock times, per checkpoint: every seed measured,
    // the simulated range on the same clock.
    let cps = &s.scenarios[0].checkpoints;
    assert_eq!(cps.iter().map(|c| c.metric.as_str()).collect::<Vec<_>>(), ["smtp_restored", "imap_restored"]);
    for c in cps {
        assert_eq!(c.hit_rate.n, 4, "{c}");
        assert_eq!(c.never, 0, "mail flows again on every seed: {c}");
        let (lo, hi) = (c.value_min.expect("measured"), c.value_max.expect("measured"));
        assert!(8 * 3600 < lo && lo <= hi && hi < 30 * 3600, "{c}");
    }
    assert!(text.contains("checkpoint \"under control (mail flowing again)\" at Sat 2018-12-29 20:20 +00:00"), "{text}");
    // Merged from disk, the records carry the same figures (and checksums).
    assert_eq!(summary_of(&dir).scenarios[0].figures, *f);
    assert_eq!(summary_of(&dir).scenarios[0].checkpoints, *cps);
}

/// JUnit class names are the scenario's name (a CI keeps its test history
/// across edits of the file); the file hash is a suite property, and a
/// suite's wall time is its `time`.
#[test]
fn junit_class_names_survive_edits_and_suites_carry_their_time() {
    let dir = reference("junit-names");
    let s = summary_of(&dir);
    let mut suites = summary_junit(&s);
    let sc = &s.scenarios[0];
    assert!(suites[0].cases.iter().all(|c| c.classname == sc.scenario), "{:?}", suites[0].cases);
    assert!(suites[0].properties.iter().any(|p| p.name.contains(&sc.scenario) && p.value == sc.file_hash), "{:?}", suites[0].properties);
    suites[0].time_s = Some(1.5);
    let xml = junit_xml(&suites);
    assert!(xml.contains("time=\"1.5"), "{xml}");
    assert!(!xml.contains(&format!("[{}]", sc.file_hash)), "{xml}");
}
