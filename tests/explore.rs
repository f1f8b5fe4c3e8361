//! `mailsim explore` finds the confluences of the postmortems on its own:
//! given OpenSRS's topology with its latent path fault and no active fault,
//! a shelf controller failure on top of it takes about half the mailboxes
//! offline while either alone is absorbed (`seeds/001_*`, `002_*`); given
//! Fused's two-node cluster with a working fence, a crash plus a fencing
//! device that reports failure leaves the cluster stuck for hours while
//! either alone is harmless (`seeds/003_*`). Small topologies and few
//! seeds, so each search runs in seconds.

use std::path::{Path, PathBuf};
use std::process::Command;

use mailsim::explore::search::{Exploration, Explorer, Options, Thresholds};
use mailsim::explore::{explore, space};
use mailsim::scenario::Scenario;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/explore").join(name)
}

fn load(name: &str) -> Scenario {
    Scenario::load(&data(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn opts(budget: usize) -> Options {
    Options {
        max_faults: 2,
        seeds: 1,
        confirm_seeds: 3,
        budget,
        jobs: mailsim::pool::cores(),
        search_seed: 0,
        thresholds: Thresholds::default(),
        shard: (0, 1),
    }
}

fn kinds(k: &[&str]) -> Vec<String> {
    k.iter().map(|s| s.to_string()).collect()
}

/// The finding made of exactly these faults (labels without phase match
/// any phase).
fn find<'a>(x: &'a Exploration, want: &[&str]) -> Option<&'a mailsim::explore::search::Finding> {
    x.ranking.iter().find(|f| f.labels.len() == want.len() && want.iter().all(|w| f.labels.iter().any(|l| l.starts_with(w))))
}

#[test]
fn opensrs_a_shelf_controller_on_top_of_the_latent_path_fault_is_a_confluence_taking_half_the_mailboxes() {
    let s = load("opensrs-topology.toml");
    let x = explore(&s, Some(&kinds(&["path-fault", "controller-failure", "crash"])), opts(1500)).expect("explores");
    let f = find(&x, &["path-fault shelf-a @latent", "controller-failure shelf-a/controller-a @t0"])
        .unwrap_or_else(|| panic!("not found; ranking: {:#?}", x.ranking.iter().map(|f| &f.labels).collect::<Vec<_>>()));
    // The postmortem: each fault alone was absorbed by the redundancy ...
    assert!(f.confluence, "{f:?}");
    assert_eq!(f.alone_harmful_seeds, vec![0, 0], "each alone harmful on no seed: {f:?}");
    // ... together they took about half the mailboxes offline.
    assert_eq!(f.harmful_seeds, f.seeds);
    assert!((45.0..=55.0).contains(&f.mailboxes_peak_pct[0]), "mailboxes offline {:?}", f.mailboxes_peak_pct);
    assert!((35.0..=65.0).contains(&f.users_peak_pct[0]), "users without full service {:?}", f.users_peak_pct);
    assert_eq!(f.lost_max, 0, "no mail lost (the closing notes)");
    // Near the top: its shape is the worst confluence, and only a single
    // fault that takes everything down (a crashed file server) ranks above.
    let shape = mailsim::explore::search::shape(&x.space, &f.faults);
    let rank = x.classes.iter().position(|c| c.shape == shape).expect("its shape is ranked");
    assert!(rank <= 1, "shape `{shape}` ranked {}: {:?}", rank + 1, x.classes.iter().map(|c| &c.shape).collect::<Vec<_>>());
    assert_eq!(x.classes.iter().find(|c| c.confluence).map(|c| &c.shape), Some(&shape));
    // Exhaustive over pairs here, so "not found elsewhere" has a scope.
    assert_eq!(x.mode[1], "exhaustive");
}

#[test]
fn fused_a_crash_with_a_fence_that_reports_failure_is_a_confluence_that_stalls_the_cluster() {
    let s = load("fused-topology.toml");
    let x = explore(&s, Some(&kinds(&["fence-broken", "crash"])), opts(1500)).expect("explores");
    let f = find(&x, &["fence-broken mx-1/fence-ipmi @latent", "crash mx-1 @t0"])
        .unwrap_or_else(|| panic!("not found; ranking: {:#?}", x.ranking.iter().map(|f| &f.labels).collect::<Vec<_>>()));
    assert!(f.confluence, "{f:?}");
    // Alone, the crash fails over after a fence (seconds), and a broken
    // fence nobody asks for changes nothing.
    assert_eq!(f.alone_harmful_seeds, vec![0, 0], "{f:?}");
    // Together: every user without service until the holiday operators
    // reset the cluster, at least 8 h (the replay's bound), never split
    // brain, nothing lost.
    assert_eq!(f.users_peak_pct[1], 100.0, "{f:?}");
    assert!(f.user_hours[1] >= 8.0 * f64::from(x.users), "{f:?}");
    assert_eq!(f.split_brain_seeds, 0);
    assert_eq!(f.lost_max, 0);
    // The standby's broken fence is never asked: no confluence with it.
    assert!(find(&x, &["fence-broken mx-2/fence-ipmi @latent", "crash mx-1"]).is_none());
}

#[test]
fn a_guided_search_on_a_fifth_of_the_pairs_still_finds_the_opensrs_confluence_and_is_reproducible() {
    let s = load("opensrs-topology.toml");
    let k = kinds(&["path-fault", "controller-failure"]);
    // 14 faults, 85 compatible pairs: a budget of 17 forces the guided mode.
    let a = explore(&s, Some(&k), opts(17)).expect("explores");
    assert_eq!(a.mode[1], "guided");
    assert!(a.evaluated[1] <= 17);
    assert!(a.ranking.iter().any(|f| f.confluence && f.labels.iter().any(|l| l.starts_with("path-fault"))), "{:?}", a.ranking);
    let b = explore(&s, Some(&k), opts(17)).expect("explores");
    assert_eq!(a.results.keys().collect::<Vec<_>>(), b.results.keys().collect::<Vec<_>>(), "same search seed, same combinations");
}

#[test]
fn a_harmful_combination_is_shrunk_to_the_faults_that_matter() {
    let s = load("fused-topology.toml");
    let k = kinds(&["fence-broken", "crash"]);
    let cands = space::derive(&s.file, &s.topology, Some(&k));
    let at = |label: &str| cands.iter().position(|c| c.label() == label).unwrap_or_else(|| panic!("{label} in the space"));
    let (f1, f2, c1) = (at("fence-broken mx-1/fence-ipmi @latent"), at("fence-broken mx-2/fence-ipmi @latent"), at("crash mx-1 @t0"));
    let mut e = Explorer::new(&s, cands, opts(100)).expect("builds");
    let mut big = vec![f1, f2, c1];
    big.sort_unstable();
    let mut want = vec![f1, c1];
    want.sort_unstable();
    assert_eq!(e.shrink(&big), want, "the standby's fence does not matter");
}

#[test]
fn the_space_has_every_component_and_the_phases_of_the_load() {
    let s = load("opensrs-topology.toml");
    let c = space::derive(&s.file, &s.topology, None);
    let count = |kind: &str| c.iter().filter(|x| x.kind == kind).count();
    // 2 shelves × 2 controllers, each at 3 phases: T0 (Tue 12:00), the next
    // peak hour (09:00, T+21h) and the next quietest (01:00, T+13h).
    assert_eq!(count("controller-failure"), 12);
    let phases: Vec<(&str, String)> = space::active_phases(&s.topology).iter().map(|p| (p.name, p.at.to_string())).collect();
    assert_eq!(phases, [("t0", "0s".to_string()), ("peak", "21h".to_string()), ("night", "13h".to_string())]);
    // The file's own latent fault is one of the space's, marked as the file's.
    let pf: Vec<_> = c.iter().filter(|x| x.kind == "path-fault").collect();
    assert_eq!(pf.len(), 2);
    assert!(pf.iter().any(|x| x.target == "shelf-a" && x.from_file));
    // No cluster, no fencing device to break.
    assert_eq!(count("fence-broken"), 0);
}

fn mailsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mailsim")).args(args).output().expect("the binary runs")
}

#[test]
fn the_command_writes_replayable_findings_and_reports_its_coverage() {
    let out = std::env::temp_dir().join(format!("mailsim-explore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let file = data("fused-topology.toml");
    let o = mailsim(&[
        "explore",
        file.to_str().unwrap(),
        "--kinds",
        "fence-broken,crash",
        "--faults",
        "2",
        "--seeds",
        "1",
        "--confirm",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("[CONFLUENCE]") && text.contains("coverage") && text.contains("not searched:"), "{text}");
    assert!(out.join("explore.json").is_file());
    // The written file of the confluence replays it: the cluster is stuck.
    let written: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains("fence-broken+crash"))
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let s = Scenario::load(&written[0]).unwrap_or_else(|e| panic!("{e}"));
    let r = mailsim::run::run(&s, 0);
    assert_eq!(r.figures.availability.users_full_service_min, 0, "every user without full service");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let file = data("fused-topology.toml");
    let o = mailsim(&["explore", file.to_str().unwrap(), "--kinds", "meteor"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("`meteor` is not a fault kind"));
    let o = mailsim(&["explore", "no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no/such/file.toml"));
    let o = mailsim(&["explore", file.to_str().unwrap(), "--faults", "4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(Path::new(&file).is_file());
}
