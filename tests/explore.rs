//! `mailsim explore` finds the confluences of the postmortems on its own:
//! given OpenSRS's topology with its latent path fault and no active fault,
//! a shelf controller failure on top of it takes about half the mailboxes
//! offline while either alone is absorbed (OpenSRS blog, "Update On Cluster A
//! Email Service Issues", August 2008,
//! <http://www.opensrs.com/blog/2008/08/update-on-cluster-a-email-service-issues/>);
//! given
//! Fused's two-node cluster with a working fence, a crash plus a fencing
//! device that reports failure leaves the cluster stuck for hours while
//! either alone is harmless (Fused, "mail system down" incident report, 31
//! Dec 2018, <https://www.fusedstatus.com/incidents/5fh5cmfdh868>). Small
//! topologies and few
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

#[test]
fn the_fault_space_has_the_head_device_and_data_faults_where_the_topology_has_what_they_break() {
    let load_example = |name: &str| {
        Scenario::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/examples").join(name)).unwrap_or_else(|e| panic!("{e}"))
    };
    let count = |c: &[space::Candidate], kind: &str| c.iter().filter(|x| x.kind == kind).count();
    let targets = |c: &[space::Candidate], kind: &str| {
        let mut t: Vec<String> = c.iter().filter(|x| x.kind == kind).map(|x| x.target.clone()).collect();
        t.sort();
        t.dedup();
        t
    };
    // An HA pair: each head fails alone, at each phase.
    let ha = load_example("ha-pair-takeover.toml");
    let c = space::derive(&ha.file, &ha.topology, None);
    let phases = space::active_phases(&ha.topology).len();
    assert_eq!(targets(&c, "head-failure"), ["head-a", "head-b"]);
    assert!(count(&c, "head-failure") >= 2 * phases);
    // Every mail node has a queue device.
    assert_eq!(targets(&c, "local-device-failure"), ["mx-1", "mx-2"]);
    assert!(c.iter().filter(|x| x.kind == "local-device-failure").all(|x| x.entry.device.as_deref() == Some("queue")));
    // No backup set: no data fault (its harm would be unbounded by any
    // plan) and no set to corrupt.
    assert_eq!(count(&c, "data-loss") + count(&c, "data-corruption") + count(&c, "backup-corrupt"), 0);
    // Backups: each volume can be damaged, each set is corrupt from T0.
    let b = load_example("restore-from-backup.toml");
    let c = space::derive(&b.file, &b.topology, None);
    let volumes: Vec<String> = (1..=6).map(|v| format!("volume-{v}")).collect();
    assert_eq!(targets(&c, "data-corruption"), volumes, "six volumes");
    assert_eq!(targets(&c, "data-loss"), volumes);
    let sets: Vec<String> = b.topology.filer.backups.iter().map(|s| s.name.clone()).collect();
    assert!(!sets.is_empty());
    assert_eq!(count(&c, "backup-corrupt"), sets.len());
    assert!(c.iter().filter(|x| x.kind == "backup-corrupt").all(|x| x.role == space::Role::Latent));
    // One head is the whole file server: no head-failure there.
    let s = load("opensrs-topology.toml");
    assert_eq!(count(&space::derive(&s.file, &s.topology, None), "head-failure"), 0);
}

#[test]
fn shards_merged_give_the_ranking_confluences_and_coverage_of_one_run() {
    let s = load("fused-topology.toml");
    let k = kinds(&["fence-broken", "crash", "isolate"]);
    let mut o = opts(1500);
    o.max_faults = 3;
    o.confirm_seeds = 2;
    let one = explore(&s, Some(&k), o.clone()).expect("explores");
    assert_eq!(one.mode, ["exhaustive", "exhaustive", "exhaustive"].map(String::from));
    let shards: Vec<mailsim::explore::search::ShardResults> = (0..3)
        .map(|i| {
            let x = explore(&s, Some(&k), Options { shard: (i, 3), ..o.clone() }).expect("a shard explores");
            // Through the JSON a shard writes.
            let json = serde_json::to_string(&x).expect("serializes");
            serde_json::from_str(&json).expect("a shard's JSON reads back")
        })
        .collect();
    assert!(shards.iter().all(|sh| sh.evaluated[1] < one.evaluated[1]), "each shard ran a part of the pairs");
    let merged = mailsim::explore::merge(&s, Some(&k), o, shards).expect("merges");
    let view = |x: &Exploration| {
        // The score to 1e-9 user-hours: the JSON a shard writes keeps
        // floats to the last bit or one off (serde_json's parsing).
        x.ranking.iter().map(|f| (f.labels.clone(), f.confluence, f.harmful_seeds, (f.score[0] * 1e9).round() as i64)).collect::<Vec<_>>()
    };
    assert!(!one.ranking.is_empty());
    assert_eq!(view(&merged), view(&one));
    assert_eq!(
        merged.classes.iter().map(|c| (&c.shape, c.confluence, &c.members)).collect::<Vec<_>>(),
        one.classes.iter().map(|c| (&c.shape, c.confluence, &c.members)).collect::<Vec<_>>()
    );
    assert_eq!(mailsim::explore::coverage_text(&merged), mailsim::explore::coverage_text(&one));
    // The shards' pairs add up to one run's; a shard also runs triples
    // holding a harmful pair another shard found (it cannot know), which
    // the merge leaves out of the ranking and coverage.
    assert_eq!(merged.evaluated[..2], one.evaluated[..2]);
    assert!(merged.evaluated[2] >= one.evaluated[2]);
    assert_eq!(merged.minimal_space, one.minimal_space);
}

#[test]
fn merging_refuses_a_missing_shard_or_another_space() {
    let s = load("fused-topology.toml");
    let o = Options { confirm_seeds: 1, ..opts(1500) };
    let k = kinds(&["fence-broken", "crash"]);
    let x = explore(&s, Some(&k), Options { shard: (0, 2), ..o.clone() }).expect("explores");
    let sh: mailsim::explore::search::ShardResults = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
    let other = kinds(&["crash"]);
    let e = mailsim::explore::merge(&s, Some(&other), o, vec![sh]).expect_err("another space");
    assert!(e.contains("another fault space"), "{e}");
    let dir = std::env::temp_dir().join(format!("mailsim-merge-missing-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    std::fs::write(dir.join("explore-1-of-2.json"), "{}").unwrap();
    let e = mailsim::explore::read_shards(&dir).expect_err("shard 0 of 2 is missing");
    assert!(e.contains("each K of 0..N once"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn plan_opts(confirm: u64) -> mailsim::explore::plans::PlanOptions {
    mailsim::explore::plans::PlanOptions {
        seeds: 2,
        confirm_seeds: confirm,
        budget: 64,
        jobs: mailsim::pool::cores(),
        finalists: 2,
        resamples: 2000,
    }
}

#[test]
fn plans_derives_the_choices_of_each_outages_recovery() {
    use mailsim::explore::plans::dimensions;
    let whats = |name: &str| {
        let s = load(name);
        dimensions(&s.file).into_iter().map(|d| (d.what, d.options.len())).collect::<Vec<_>>()
    };
    let opensrs = whats("opensrs-outage.toml");
    assert_eq!(
        opensrs,
        [
            ("when to enable temporary stores (step `temp-stores`)".to_string(), 3),
            ("rebuild order (step `rebuild`)".to_string(), 5),
            ("rebuild priority".to_string(), 3),
        ]
    );
    // Fused: the on-call sysadmin, the holiday, one fencing level.
    let fused: Vec<String> = whats("fused-topology.toml").into_iter().map(|d| d.0).collect();
    assert_eq!(
        fused,
        ["delay (step `replace-node`)", "staffing (role `on-call sysadmin`)", "staffing (holidays)", "fencing levels"],
        "{fused:?}"
    );
}

#[test]
fn plans_finds_a_better_recovery_for_opensrs_with_a_paired_interval_excluding_zero() {
    let s = load("opensrs-outage.toml");
    let p = mailsim::explore::plans::search_plans(&s, &plan_opts(12)).expect("searches");
    assert_eq!(p.mode, "exhaustive");
    assert_eq!(p.space, 45);
    // Strictly better than the file's plan: the harm score's paired
    // difference and the user-hours' both have intervals below zero.
    assert!(p.score[4] < 0.0, "harm score B − A {:?}", p.score);
    let uh = p.comparison.metric("user_hours").expect("a metric");
    assert_eq!(uh.change, mailsim::compare::Change::Improved, "{uh:?}");
    // The postmortem's own design question: rebuilding the three volumes
    // in parallel instead of "one after another" is part of the best plan.
    assert!(p.best.changes.iter().any(|c| c.contains("rebuild order") && c.ends_with("parallel")), "{:?}", p.best.changes);
    assert_eq!(p.comparison.metric("lost").expect("a metric").mean_b, 0.0, "nothing lost");
    // The written plan loads and replays.
    let text = mailsim::explore::plans::best_toml(&p, "test");
    let dir = std::env::temp_dir().join(format!("mailsim-plans-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("best-plan.toml");
    std::fs::write(&path, &text).unwrap();
    let b = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(b.file.recovery.iter().any(|st| st.action == "start-rebuild" && st.parallel));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn parallel_rebuild_alone_beats_the_serial_one_on_paired_seeds() {
    // The OpenSRS variant's claim (scenarios/opensrs-2008-parallel-rebuild):
    // the last volume back when its own group is rebuilt, not after all
    // three in turn.
    use mailsim::explore::plans::{dimensions, plan_file};
    let s = load("opensrs-outage.toml");
    let dims = dimensions(&s.file);
    let mut plan = vec![0; dims.len()];
    plan[dims.iter().position(|d| d.what.starts_with("rebuild order")).expect("a rebuild step")] = 1;
    let b = Scenario::from_file(plan_file(&s.file, &dims, &plan), &s.path).expect("builds");
    let c = mailsim::compare::compare(&s, &b, 0..10, 2000);
    let restore = c.metric("restore_h").expect("a metric");
    assert_eq!(restore.change, mailsim::compare::Change::Improved, "{restore:?}");
}

#[test]
fn a_serial_rebuild_of_the_least_data_first_costs_fewer_user_hours_than_of_the_most() {
    // OpenSRS's 14 stale disks fall unevenly on shelf-a's three groups
    // (stale_disks = 14, drawn per seed), and mailboxes are placed at
    // random, so each group holds about a third of the affected users.
    // A user waits until their group is back, and a group is back when the
    // data rebuilt before it and its own is done (at a rate that varies by
    // hour alike for every order): least data first makes each completion
    // as early as any order can, most data first as late. So least data
    // first costs fewer user-hours, and the last group is back at the same
    // time in both (all the data rebuilt).
    use mailsim::explore::plans::dimensions;
    let s = load("opensrs-outage.toml");
    let dims = dimensions(&s.file);
    let d = dims.iter().find(|d| d.what == "rebuild order (step `rebuild`)").expect("a rebuild step");
    let labels: Vec<&str> = d.options.iter().map(|o| o.0.as_str()).collect();
    assert_eq!(
        labels,
        [
            "serial (the file's)",
            "parallel",
            "serial, smallest first",
            "serial, most mailboxes first",
            "serial, most mailboxes per byte first"
        ]
    );
    let with_order = |order: &str| {
        let mut f = s.file.clone();
        f.recovery.iter_mut().find(|st| st.action == "start-rebuild").expect("a rebuild step").order = Some(order.into());
        Scenario::from_file(f, &s.path).expect("builds")
    };
    let c = mailsim::compare::compare(&with_order("largest-first"), &with_order("smallest-first"), 0..10, 2000);
    let uh = c.metric("user_hours").expect("a metric");
    assert_eq!(uh.change, mailsim::compare::Change::Improved, "{uh:?}");
    let restore = c.metric("restore_h").expect("a metric");
    assert!(restore.mean_diff.abs() < 1e-9, "{restore:?}");
}

#[test]
fn plans_refuses_a_file_without_an_outage() {
    let s = load("fused-topology.toml");
    let e = mailsim::explore::plans::search_plans(&s, &plan_opts(4)).expect_err("no fault plan");
    assert!(e.contains("no fault plan"), "{e}");
}

#[test]
fn plans_finds_fuseds_second_fencing_level() {
    // The replay: the only fencing level reports failure, the cluster stays
    // stuck until a holiday operator resets it. A second level that works
    // fails over within a minute (scenarios/fused-2018-second-fencing-level).
    let s = Scenario::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/fused-2018-failed-fencing.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let p = mailsim::explore::plans::search_plans(&s, &plan_opts(20)).expect("searches");
    assert!(p.best.changes.iter().any(|c| c.starts_with("fencing levels")), "{:?}", p.best.changes);
    assert!(p.score[4] < 0.0, "{:?}", p.score);
    let uh = p.comparison.metric("user_hours").expect("a metric");
    assert_eq!(uh.change, mailsim::compare::Change::Improved, "{uh:?}");
}

#[test]
fn symmetric_components_are_searched_through_their_first_members_without_losing_combinations_of_several() {
    let s = load("opensrs-topology.toml");
    // A shelf's two controllers, and the two unclustered MX nodes (equal
    // preferences), are alike up to their names.
    let classes = space::symmetric_classes(&s.file, &s.topology);
    assert_eq!(
        classes,
        [
            vec!["shelf-a/controller-a".to_string(), "shelf-a/controller-b".to_string()],
            vec!["shelf-b/controller-a".to_string(), "shelf-b/controller-b".to_string()],
            vec!["mx-1".to_string(), "mx-2".to_string()],
        ]
    );
    let c = space::derive(&s.file, &s.topology, None);
    let at = |label: &str| c.iter().position(|x| x.label() == label).unwrap_or_else(|| panic!("{label}"));
    assert!(space::canonical(&c, &[at("crash mx-1 @t0")]));
    assert!(!space::canonical(&c, &[at("crash mx-2 @t0")]), "mx-2 alone is mx-1 renamed");
    assert!(space::canonical(&c, &[at("crash mx-1 @t0"), at("crash mx-2 @peak")]), "both nodes: kept");
    // Both controllers of a shelf failing is still found, though each
    // second controller is never searched alone.
    let x = explore(&s, Some(&kinds(&["controller-failure"])), opts(1500)).expect("explores");
    assert!(x.evaluated[0] < x.space.len() as u64);
    assert!(find(&x, &["controller-failure shelf-a/controller-a", "controller-failure shelf-a/controller-b"]).is_some(), "{:?}", x.ranking);
    assert!(mailsim::explore::coverage_text(&x).contains("shelf-a/controller-a ≡ shelf-a/controller-b"));
    // A file that names a member (a fault on it) breaks its class; a
    // cluster's nodes are not alike (one is the primary).
    let mut f = s.file.clone();
    f.faults[0].target = Some("mx-2".into());
    f.faults[0].kind = "crash".into();
    f.faults[0].at = mailsim::units::HumanDuration(0);
    assert!(!space::symmetric_classes(&f, &s.topology).iter().any(|c| c.contains(&"mx-1".to_string())));
    let fused = load("fused-topology.toml");
    assert!(!space::symmetric_classes(&fused.file, &fused.topology).iter().any(|c| c.contains(&"mx-1".to_string())));
}
