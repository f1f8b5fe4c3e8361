//! A grammar fuzzer over the scenario format: proptest writes structurally
//! plausible scenario files — every section and field of the format, with
//! ordinary, boundary and absurd values (0, 2^32−1, 10^12, "106751991d",
//! "-7d"), wrong types, unknown keys, `extends` to nowhere, to a directory or
//! to itself — and then truncates some, splices random bytes into others and
//! replaces a few with bytes alone.
//!
//! Properties, for every file:
//! - `Scenario::load` returns, without a panic, in under 5 s;
//! - a rejection names the file and a position in it (a line, or a byte
//!   offset for a file too large to read);
//! - an accepted file is within the run's event budget, builds, and runs its
//!   first simulated hour without a model panic, in under 5 s.
//!
//! Cost: 400 cases by default (a few seconds in release). Set
//! `MAILSIM_FUZZ_CASES=N` for a longer hunt; a failing case is shrunk and
//! printed as the file's text.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mailsim::scenario::{Scenario, EVENTS_MAX};
use mailsim_sim::Dur;
use proptest::prelude::*;
use proptest::sample::select;

fn cases(default: u32) -> u32 {
    std::env::var("MAILSIM_FUZZ_CASES").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// What kind of value a field takes, so the generator writes mostly the right
/// type (with boundary and absurd values) and sometimes a wrong one.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Int,
    Dur,
    DurPair,
    Share,
    Bool,
    Str(&'static [&'static str]),
    IntList,
    StrList,
    Table(&'static [&'static str]),
    /// A duration, or an estimate `{ min, mode, max, source }` (any of its
    /// keys may be missing, the ends in either order).
    Dist,
}

const KINDS: &[&str] = &[
    "crash",
    "restart",
    "isolate",
    "partition",
    "heal",
    "controller-failure",
    "path-fault",
    "disk-failure",
    "latent-sector-error",
    "degrade",
    "cache-failure",
    "latency",
    "lock-broken",
    "lock-restart",
    "hang",
    "fence-broken",
    "data-corruption",
    "data-loss",
    "backup-corrupt",
    "head-failure",
    "local-device-failure",
    "site-failure",
    "replica-partition",
    "meteor",
];
const TARGETS: &[&str] = &[
    "mx-1",
    "mx-2",
    "mx-65",
    "filer",
    "storage",
    "vip",
    "shelf-a",
    "shelf-z",
    "shelf-a/controller-b",
    "group-1",
    "group-0",
    "mx-1/fence-ipmi",
    "volume-1",
    "volume-0",
    "nightly",
    "head-a",
    "head-c",
    "dr",
    "primary",
    "",
];
const ACTIONS: &[&str] = &[
    "replace-hardware",
    "fix-redundancy",
    "start-rebuild",
    "enable-temp-stores",
    "merge-back",
    "migrate",
    "rollback-upgrade",
    "reset-cluster",
    "power-on",
    "flush-queue",
    "standby",
    "unstandby",
    "restore",
    "recreate-accounts",
    "giveback",
    "power-cycle",
    "failover",
    "dance",
];
const PROFILES: &[&str] = &["postfix", "exim", "exchange", "72h", "sendmail", "all", "qmail"];
const MODES: &[&str] = &["works", "reports-failure", "timeout", "lies-success", "sometimes"];
const SPEEDS: &[&str] = &["10%", "0%", "x10", "x0", "x4294967", "100%", "150%", "fast"];
/// `RebuildRule::NAMES` and one unknown order.
const REBUILD_ORDERS: &[&str] = &["index", "smallest-first", "largest-first", "most-users-first", "most-users-per-byte", "random"];
const PRIORITIES: &[&str] = &["low", "medium", "high", "highest", ""];
const SIZES: &[&str] = &["1.5TB", "0", "1", "300GiB", "99999999TiB", "3 parsecs", "", "18446744073709551615"];
const RATES: &[&str] = &["35MB/s", "0MB/s", "1/s", "100MB/min", "1TB/h", "5MB", "1200/h", "1000000/s", "-5/h", "18446744073709551615/s"];
const CLOCKS: &[&str] =
    &["2008-08-12 12:00 -04:00", "2018-12-29T06:00Z", "2008-08-12 12:00", "9999-12-31 23:59 +14:00", "0000-01-01 00:00 Z", "noon"];
const DAYS: &[&str] = &["mon", "sun", "Tue", "someday"];
const RECIPIENTS: &[&str] = &["uniform", "zipf", "pareto"];
const DOWN: &[&str] = &["refuse", "silent", "loud"];
const PLACEMENT: &[&str] = &["random", "round-robin", "striped"];
const WHEN_FULL: &[&str] = &["refuse", "accept", "panic"];
/// Role names: the two the sections below declare most often, and one
/// nobody declares.
const ROLES: &[&str] = &["storage team", "on-call sysadmin", "nobody", ""];
const ROLE_HOURS: &[&str] = &["24x7", "business", "on-call", "always", "weekends", ""];
const WINDOWS: &[&str] = &["23:00", "00:00", "02:00", "23:30", "24:00", "25:00", "-1:00", "late", ""];

/// The format, section by section: (header, fields).
const SECTIONS: &[(&str, &[(&str, Kind)])] = &[
    (
        "[scenario]",
        &[
            ("name", Kind::Str(&["fuzz", ""])),
            ("summary", Kind::Str(&["a fuzzed file"])),
            ("source", Kind::Str(&["x"])),
            ("assumptions", Kind::StrList),
            ("t0", Kind::Str(CLOCKS)),
        ],
    ),
    (
        "[run]",
        &[("duration", Kind::Dur), ("fault_phase", Kind::Dur), ("liveness_window", Kind::Dur), ("seeds", Kind::Int), ("swarm", Kind::Bool)],
    ),
    ("[topology]", &[("mx", Kind::Int), ("mailboxes", Kind::Int), ("mx_down", Kind::Str(DOWN))]),
    (
        "[topology.storage]",
        &[
            ("shelves", Kind::Int),
            ("controllers_per_shelf", Kind::Int),
            ("groups", Kind::Int),
            ("parity_disks", Kind::Int),
            ("disks_per_group", Kind::Int),
            ("volumes", Kind::Int),
            ("placement", Kind::Str(PLACEMENT)),
            ("disk_size", Kind::Str(SIZES)),
            ("stale_disks", Kind::Share),
            ("rebuild_priority", Kind::Str(PRIORITIES)),
            ("foreground_peak", Kind::Share),
            ("rebuild_rate", Kind::Str(RATES)),
            ("rebuild_rate_total", Kind::Str(RATES)),
            ("volume_size", Kind::Str(SIZES)),
            ("migration_rate", Kind::Str(RATES)),
            ("online_during_rebuild", Kind::Bool),
            ("service_time", Kind::Dur),
            ("appends_per_s", Kind::Int),
            ("migration_per_volume", Kind::Dur),
            ("migration_step_interval", Kind::Dur),
            ("merge_dedup", Kind::Bool),
            ("mailbox_size", Kind::Str(SIZES)),
            ("power_cycle", Kind::Dur),
        ],
    ),
    (
        "[topology.ha_pair]",
        &[
            ("detection", Kind::Dur),
            ("takeover", Kind::Dur),
            ("giveback", Kind::Dur),
            ("auto_giveback", Kind::Bool),
            ("giveback_delay", Kind::Dur),
        ],
    ),
    (
        "[topology.replication]",
        &[
            ("target", Kind::Str(&["dr", "primary", ""])),
            ("source", Kind::Str(&["primary", "dr", ""])),
            ("mode", Kind::Str(&["sync", "async", "semi"])),
            ("every", Kind::Dur),
            ("lag", Kind::Dur),
            ("on_link_loss", Kind::Str(&["continue", "stop", "panic"])),
        ],
    ),
    (
        "[topology.cluster]",
        &[
            ("fencing", Kind::Table(&["level", "mode"])),
            ("token_timeout", Kind::Dur),
            ("stonith_timeout", Kind::Dur),
            ("stonith_attempts", Kind::Int),
            ("heartbeats", Kind::Bool),
            ("failover_without_fence", Kind::Bool),
        ],
    ),
    (
        "[topology.mta]",
        &[
            ("retry", Kind::Str(PROFILES)),
            ("lifetime", Kind::Dur),
            ("delivery_timeout", Kind::Dur),
            ("delivery_concurrency", Kind::Int),
            ("queue_capacity", Kind::Int),
            ("when_full", Kind::Str(WHEN_FULL)),
            ("ack_before_durable", Kind::Bool),
            ("drop_expired_without_dsn", Kind::Bool),
            ("lda_skips_lock", Kind::Bool),
        ],
    ),
    (
        "[[topology.backups]]",
        &[
            ("name", Kind::Str(&["nightly", "hourly", ""])),
            ("kind", Kind::Str(&["snapshot", "disk", "tape", "cloud"])),
            ("first", Kind::Dur),
            ("every", Kind::Dur),
            ("retention", Kind::Int),
            ("initial_copy", Kind::Bool),
            ("restore_setup", Kind::Dur),
            ("restore_rate", Kind::Str(RATES)),
        ],
    ),
    ("[topology.nfs]", &[("lock_fail_delay", Kind::Dur), ("lock_grace_min", Kind::Dur), ("lock_grace_max", Kind::Dur)]),
    (
        "[topology.clients]",
        &[("users", Kind::Int), ("check_interval", Kind::Dur), ("mix", Kind::Table(&["pop", "imap", "webmail", "nntp"]))],
    ),
    (
        "[topology.operators]",
        &[
            ("start_day", Kind::Str(DAYS)),
            ("start_hour", Kind::Int),
            ("holidays", Kind::IntList),
            ("misdiagnosis", Kind::Share),
            ("alert_text", Kind::Str(&["mail is DOWN"])),
            ("business_delay", Kind::DurPair),
            ("night_delay", Kind::DurPair),
            ("weekend_delay", Kind::DurPair),
            ("holiday_delay", Kind::DurPair),
        ],
    ),
    (
        "[[topology.operators.roles]]",
        &[
            ("name", Kind::Str(ROLES)),
            ("hours", Kind::Str(ROLE_HOURS)),
            ("callout", Kind::Dist),
            ("acknowledge", Kind::Dist),
            ("diagnose", Kind::Dist),
            ("misdiagnosis", Kind::Share),
            ("note", Kind::Str(&["who", ""])),
        ],
    ),
    (
        "[workload]",
        &[
            ("mails", Kind::Int),
            ("per_hour", Kind::Int),
            ("rate", Kind::Str(RATES)),
            ("window", Kind::Dur),
            ("begin", Kind::Dur),
            ("recipients", Kind::Str(RECIPIENTS)),
            ("profiles", Kind::Table(&["postfix", "exim", "exchange", "72h", "sendmail", "qmail"])),
        ],
    ),
    (
        "[[faults]]",
        &[
            ("at", Kind::Dur),
            ("kind", Kind::Str(KINDS)),
            ("target", Kind::Str(TARGETS)),
            ("peer", Kind::Str(TARGETS)),
            ("speed", Kind::Str(SPEEDS)),
            ("for", Kind::Dur),
            ("latency", Kind::Dur),
            ("mode", Kind::Str(MODES)),
            ("share", Kind::Share),
            ("takeover", Kind::Str(&["works", "fails", "hangs", "sometimes"])),
            ("device", Kind::Str(&["queue", "cache", ""])),
            ("note", Kind::Str(&["why"])),
        ],
    ),
    (
        "[[random_faults]]",
        &[("kind", Kind::Str(&["crash", "restart", "partition", "heal", "disk-failure", "flood"])), ("mean_interval", Kind::Dur)],
    ),
    (
        "[[recovery]]",
        &[
            ("name", Kind::Str(&["a", "b", "c"])),
            ("action", Kind::Str(ACTIONS)),
            ("target", Kind::Str(TARGETS)),
            ("at", Kind::Dur),
            ("after_alert", Kind::Bool),
            ("after", Kind::Str(&["a", "b", "zz"])),
            ("delay", Kind::Dur),
            ("parallel", Kind::Bool),
            ("order", Kind::Str(REBUILD_ORDERS)),
            ("order_first", Kind::StrList),
            ("steps", Kind::Int),
            ("keep_uidls", Kind::Bool),
            ("node", Kind::Str(TARGETS)),
            ("from", Kind::Str(&["nightly", "hourly", "nope"])),
            ("volumes", Kind::StrList),
            ("preserve_uids", Kind::Bool),
            ("takes", Kind::Dist),
            ("hours", Kind::Str(&["always", "business", "24x7"])),
            ("role", Kind::Str(ROLES)),
            ("window", Kind::Str(WINDOWS)),
        ],
    ),
    (
        "[[checkpoints]]",
        &[
            ("claim", Kind::Str(&["half the users back", ""])),
            ("at", Kind::Str(&["45h30m", "2008-08-14 09:30 -04:00", "-1h", "2008-02-30 12:00 Z", "soon"])),
            ("metric", Kind::Str(&["users_full_service", "users_restored", "smtp_restored", "failover", "happiness"])),
            ("min", Kind::Share),
            ("max", Kind::Share),
            ("early", Kind::Dur),
            ("late", Kind::Dur),
            ("on_seeds", Kind::Share),
        ],
    ),
    (
        "[expect]",
        &[
            ("custody", Kind::Bool),
            ("eventual_delivery", Kind::Bool),
            ("lost", Kind::Table(&["min", "max"])),
            ("duplicates", Kind::Table(&["min", "max"])),
            ("pop_redownloads", Kind::Table(&["min", "max"])),
            ("imap_resyncs", Kind::Table(&["min", "max"])),
            ("returned", Kind::Table(&["min", "max"])),
            ("restored", Kind::Table(&["min", "max"])),
            ("no_delivery_between", Kind::DurPair),
            ("no_failover_before", Kind::Str(&["a", "zz"])),
            ("absorbed", Kind::StrList),
        ],
    ),
];

/// The fields a run cannot do without, written with high probability so
/// that many cases get past parsing into validation.
const CORE: &[&str] = &["name", "summary", "duration", "mx", "mailboxes", "mails", "window"];

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn int_value() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (0u32..4000).prop_map(|n| n.to_string()),
        2 => select(&[
            "0", "1", "2", "3", "25", "26", "27", "64", "65", "366", "999", "1000", "1001", "100000", "1000000", "10000000",
            "10000001", "50000000", "50000001", "4294967295", "4294967296", "-1", "9223372036854775807",
            "-9223372036854775808", "18446744073709551615", "1e9", "0.5", "nan",
        ][..])
        .prop_map(String::from),
    ]
    .boxed()
}

fn dur_value() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(&["1h", "2h", "6h", "12h", "1d", "2d", "3d", "30m", "90s", "1d12h"][..]).prop_map(quoted),
        2 => select(&[
            "0s", "1us", "1ms", "99ms", "100ms", "59d", "60d", "60d1us", "61d", "1w", "9w", "-1h", "-7d", "-61d", "106751991d",
            "99999999999999999999d", "9223372036854775807us", "-9223372036854775807us", "1x", "", "h", "-", "1h-1h", " 1h",
        ][..])
        .prop_map(quoted),
        1 => (0u64..100_000).prop_map(|s| quoted(&format!("{s}s"))),
    ]
    .boxed()
}

/// A distribution: a duration, or an estimate with some of its keys.
fn dist_value(dur: fn() -> BoxedStrategy<String>) -> BoxedStrategy<String> {
    let keys = (
        prop::option::weighted(0.9, dur()),
        prop::option::weighted(0.5, dur()),
        prop::option::weighted(0.9, dur()),
        prop::option::weighted(0.8, select(&["a stated assumption", ""][..]).prop_map(quoted)),
    );
    prop_oneof![
        1 => dur(),
        2 => keys.prop_map(|(min, mode, max, source)| {
            let kv = [("min", min), ("mode", mode), ("max", max), ("source", source)];
            let body: Vec<String> = kv.into_iter().filter_map(|(k, v)| v.map(|v| format!("{k} = {v}"))).collect();
            format!("{{ {} }}", body.join(", ")).replace("{  }", "{}")
        }),
    ]
    .boxed()
}

fn sane_dur() -> BoxedStrategy<String> {
    select(&["30s", "5m", "1h", "6h", "12h", "1d"][..]).prop_map(quoted).boxed()
}

/// A value of the field's kind, or now and then a value of the wrong type.
fn value(kind: Kind) -> BoxedStrategy<String> {
    let right = match kind {
        Kind::Dist => dist_value(dur_value),
        Kind::Int => int_value(),
        Kind::Dur => dur_value(),
        Kind::DurPair => (dur_value(), dur_value()).prop_map(|(a, b)| format!("[{a}, {b}]")).boxed(),
        Kind::Share => select(&["0%", "50%", "100%", "12.5%", "150%", "0.5", "x"][..]).prop_map(quoted).boxed(),
        Kind::Bool => any::<bool>().prop_map(|b| b.to_string()).boxed(),
        Kind::Str(choices) => select(choices).prop_map(quoted).boxed(),
        Kind::IntList => prop_oneof![
            prop::collection::vec(int_value(), 0..6).prop_map(|v| format!("[{}]", v.join(", "))),
            (0usize..2000).prop_map(|n| format!("[{}]", vec!["1"; n].join(","))),
        ]
        .boxed(),
        Kind::StrList => prop::collection::vec(
            select(&["crash", "degrade", "x", "", "volume-1", "volume-4", "group-2", "group-99"][..]).prop_map(quoted),
            0..4,
        )
        .prop_map(|v| format!("[{}]", v.join(", ")))
        .boxed(),
        Kind::Table(keys) => {
            prop::collection::vec((select(keys), prop_oneof![int_value(), dur_value(), select(MODES).prop_map(quoted)]), 0..4)
                .prop_map(|kv| {
                    let body: Vec<String> = kv.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!("{{ {} }}", body.join(", "))
                })
                .prop_map(|t| t.replace("{  }", "{}"))
                .boxed()
        }
    };
    let wrong =
        select(&["true", "[]", "{}", "[1, \"a\"]", "{ a = 1 }", "\"\"", "1979-05-27", "3.5", "\"\\u0000\""][..]).prop_map(String::from);
    prop_oneof![9 => right, 1 => wrong].boxed()
}

/// One section: each field present or not, its value, maybe an unknown key.
fn section(header: &'static str, fields: &'static [(&'static str, Kind)]) -> BoxedStrategy<String> {
    let lines: Vec<BoxedStrategy<Option<String>>> = fields
        .iter()
        .map(|&(key, kind)| {
            let p = if CORE.contains(&key) { 0.92 } else { 0.25 };
            prop::option::weighted(p, value(kind)).prop_map(move |v| v.map(|v| format!("{key} = {v}"))).boxed()
        })
        .collect();
    let fencing_ok = header == "[topology.cluster]";
    (lines, prop::option::weighted(0.05, select(&["colour", "mx", "extends", "duration ", "\"quoted key\""][..])), any::<bool>())
        .prop_map(move |(lines, unknown, good_fencing)| {
            let mut out = vec![header.to_string()];
            out.extend(lines.into_iter().flatten());
            if fencing_ok && good_fencing && !out.iter().any(|l| l.starts_with("fencing")) {
                out.push("fencing = [{ level = \"ipmi\" }]".to_string());
            }
            if let Some(k) = unknown {
                out.push(format!("{k} = 1"));
            }
            out.join("\n")
        })
        .boxed()
}

/// A whole file: either written from scratch (the required sections almost
/// always, the optional ones sometimes, arrays of tables zero to a few times,
/// values anywhere from ordinary to absurd), or a valid file with a few
/// fields changed — which is how most mistakes are made, and what gets past
/// parsing into the deeper checks and on to running.
fn document() -> BoxedStrategy<String> {
    prop_oneof![1 => from_scratch(), 1 => tweaked_base()].boxed()
}

fn from_scratch() -> BoxedStrategy<String> {
    let parts: Vec<BoxedStrategy<String>> = SECTIONS
        .iter()
        .map(|&(header, fields)| {
            let required = matches!(header, "[scenario]" | "[run]" | "[topology]" | "[workload]");
            let repeated = header.starts_with("[[");
            let count = if required {
                prop_oneof![19 => Just(1usize), 1 => Just(0usize)].boxed()
            } else if repeated {
                prop_oneof![3 => Just(0usize), 2 => 1usize..4].boxed()
            } else {
                prop_oneof![3 => Just(0usize), 1 => Just(1usize)].boxed()
            };
            count.prop_flat_map(move |n| prop::collection::vec(section(header, fields), n)).prop_map(|v| v.join("\n\n")).boxed()
        })
        .collect();
    (parts, extends())
        .prop_map(|(parts, extends)| {
            let mut text = extends;
            text.push_str(&parts.into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n\n"));
            text.push('\n');
            text
        })
        .boxed()
}

fn extends() -> BoxedStrategy<String> {
    prop::option::weighted(0.06, select(&["", ".", "case.toml", "../fuzz/case.toml", "base.toml", "nowhere.toml", "/"][..]))
        .prop_map(|e| e.map_or(String::new(), |e| format!("extends = {}\n\n", quoted(e))))
        .boxed()
}

/// An ordinary value of a kind: what a person would write.
fn sane(kind: Kind) -> BoxedStrategy<String> {
    match kind {
        Kind::Int => select(&["1", "2", "3", "4", "6", "14", "20", "100"][..]).prop_map(String::from).boxed(),
        Kind::Dur => sane_dur(),
        Kind::Dist => dist_value(sane_dur),
        Kind::DurPair => Just("[\"1h\", \"2h\"]".to_string()).boxed(),
        Kind::Share => Just("\"50%\"".to_string()).boxed(),
        Kind::Bool => any::<bool>().prop_map(|b| b.to_string()).boxed(),
        Kind::Str(choices) => select(choices).prop_map(quoted).boxed(),
        Kind::IntList => Just("[0, 1]".to_string()).boxed(),
        Kind::StrList => Just("[]".to_string()).boxed(),
        Kind::Table(_) => value(kind),
    }
}

/// One change to a valid file: (section index, line), a field of a table
/// or a whole entry of an array of tables.
fn tweak() -> BoxedStrategy<(usize, String)> {
    (0..SECTIONS.len())
        .prop_flat_map(|si| {
            let (header, fields) = SECTIONS[si];
            if header.starts_with("[[") {
                // A whole entry: its required fields ordinary, others as they come.
                let lines: Vec<BoxedStrategy<Option<String>>> = fields
                    .iter()
                    .map(|&(key, kind)| {
                        let required = matches!(key, "at" | "kind" | "target" | "name" | "action" | "mean_interval");
                        let v = prop_oneof![4 => sane(kind), 1 => value(kind)];
                        prop::option::weighted(if required { 0.95 } else { 0.1 }, v)
                            .prop_map(move |v| v.map(|v| format!("{key} = {v}")))
                            .boxed()
                    })
                    .collect();
                (Just(si), lines.prop_map(|l| l.into_iter().flatten().collect::<Vec<_>>().join("\n"))).boxed()
            } else {
                (Just(si), 0..fields.len())
                    .prop_flat_map(move |(si, fi)| {
                        let (key, kind) = fields[fi];
                        (Just(si), prop_oneof![3 => sane(kind), 1 => value(kind)].prop_map(move |v| format!("{key} = {v}")))
                    })
                    .boxed()
            }
        })
        .boxed()
}

/// The valid base (tests/bad/base.toml) with 0 to 4 tweaks.
fn tweaked_base() -> BoxedStrategy<String> {
    const BASE: &[(&str, &[&str])] = &[
        ("[scenario]", &["name = \"base\"", "summary = \"a valid scenario\""]),
        ("[run]", &["duration = \"2d\""]),
        ("[topology]", &["mx = 2", "mailboxes = 100"]),
        ("[workload]", &["mails = 100", "window = \"1d\""]),
    ];
    // Now and then a role and a step that names it and waits for a window,
    // so that the tweaks reach them (a role and a step drawn apart rarely
    // agree on a name).
    const ROLE_STEP: &str = "[[topology.operators.roles]]\nname = \"storage team\"\ndiagnose = { min = \"1h\", mode = \"2h\", max = \"6h\", source = \"a stated assumption\" }\n\n[[recovery]]\nname = \"flush\"\naction = \"flush-queue\"\ntarget = \"mx-1\"\nat = \"1h\"\nrole = \"storage team\"\nwindow = \"23:00\"\n\n";
    (prop::collection::vec(tweak(), 0..5), extends(), prop::bool::weighted(0.3))
        .prop_map(|(tweaks, extends, role_step)| {
            let mut text = extends;
            if role_step {
                text.push_str(ROLE_STEP);
            }
            for (si, (header, _)) in SECTIONS.iter().enumerate() {
                let mine: Vec<&String> = tweaks.iter().filter(|(s, _)| *s == si).map(|(_, l)| l).collect();
                if header.starts_with("[[") {
                    for entry in mine {
                        text.push_str(&format!("{header}\n{entry}\n\n"));
                    }
                    continue;
                }
                let key = |l: &str| l.split(" = ").next().unwrap_or("").to_string();
                let mut lines: Vec<String> =
                    BASE.iter().find(|(h, _)| h == header).map_or(&[][..], |(_, l)| *l).iter().map(|l| l.to_string()).collect();
                for l in mine {
                    lines.retain(|b| key(b) != key(l));
                    lines.push(l.clone());
                }
                if *header == "[topology.cluster]" && !lines.is_empty() && !lines.iter().any(|l| key(l) == "fencing") {
                    lines.push("fencing = [{ level = \"ipmi\" }]".to_string());
                }
                if !lines.is_empty() {
                    text.push_str(&format!("{header}\n{}\n\n", lines.join("\n")));
                }
            }
            text
        })
        .boxed()
}

/// A file's bytes: a document as written, truncated, with random bytes
/// spliced in, or random bytes alone.
fn file_bytes() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        14 => document().prop_map(String::into_bytes),
        2 => (document(), any::<prop::sample::Index>()).prop_map(|(d, i)| {
            let b = d.into_bytes();
            let cut = i.index(b.len() + 1);
            b[..cut].to_vec()
        }),
        2 => (document(), any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(d, i, junk)| {
            let mut b = d.into_bytes();
            let at = i.index(b.len() + 1);
            b.splice(at..at, junk);
            b
        }),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
    .boxed()
}

/// A directory of the test's own (`case.toml` beside `base.toml`, in a
/// folder named `fuzz` for the generated `extends` paths): the tests of this
/// file run on parallel threads, and a shared `case.toml` would let one test
/// load the file another just wrote.
fn fuzz_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailsim-fuzz-{}-{test}", std::process::id())).join("fuzz");
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bad/base.toml");
    std::fs::copy(base, dir.join("base.toml")).expect("base.toml copied");
    dir
}

/// The properties for one file.
fn check_one(dir: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = dir.join("case.toml");
    std::fs::write(&path, bytes).expect("the case is written");
    let started = Instant::now();
    let loaded = Scenario::load(&path);
    let took = started.elapsed();
    prop_assert!(took < Duration::from_secs(5), "loading took {:?}", took);
    match loaded {
        Err(e) => {
            let text = e.to_string();
            prop_assert!(text.contains("case.toml") || text.contains("base.toml"), "the error names no file: {}", text);
            prop_assert!(e.is_located(), "the error gives no position: {}", text);
        }
        Ok(s) => {
            let events = s.estimated_events();
            prop_assert!(events <= EVENTS_MAX, "accepted with {} estimated events", events);
            // The first simulated hour: models that would panic on a value
            // do so as they start.
            let mut t = s.topology(0);
            t.duration = t.duration.min(Dur::hours(1));
            t.fault_phase = t.fault_phase.map(|p| p.min(t.duration));
            let started = Instant::now();
            let mut sim = t.build();
            let report = sim.run();
            let took = started.elapsed();
            prop_assert!(report.outcome.class() != "panic", "accepted, then: {}", report.outcome);
            prop_assert!(took < Duration::from_secs(5), "the first hour took {:?}", took);
        }
    }
    Ok(())
}

#[path = "support/proptest_seed.rs"]
mod proptest_seed;
use proptest_seed::rng_seed;

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(400), failure_persistence: None, max_shrink_iters: 2000, rng_seed: rng_seed(), ..ProptestConfig::default() })]

    #[test]
    fn scenario_files_never_crash_hang_or_go_unlocated(bytes in file_bytes()) {
        let dir = fuzz_dir("scenario_files_never_crash_hang_or_go_unlocated");
        check_one(&dir, &bytes)?;
    }
}

#[test]
fn the_fuzzer_reaches_validation_and_accepts_some_files() {
    // A fuzzer that only ever writes unparsable files tests nothing: over
    // the same generator, some files must load and some must fail only in
    // validation (an error with a field).
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let dir = fuzz_dir("the_fuzzer_reaches_validation_and_accepts_some_files");
    let mut runner = TestRunner::deterministic();
    let (mut accepted, mut validated) = (0, 0);
    for _ in 0..500 {
        let bytes = document().new_tree(&mut runner).expect("a document").current().into_bytes();
        std::fs::write(dir.join("case.toml"), &bytes).expect("written");
        match Scenario::load(&dir.join("case.toml")) {
            Ok(_) => accepted += 1,
            Err(e) if e.field().is_some() => validated += 1,
            Err(_) => {}
        }
    }
    // At least 10% of each (the files are random: 300 drew too few to say).
    assert!(accepted >= 50, "only {accepted} of 500 generated files were accepted");
    assert!(validated >= 50, "only {validated} of 500 generated files reached validation");
}

/// The generator's fault kinds are every kind the format knows plus unknown
/// ones: a kind added to the format and not here would never be fuzzed.
#[test]
fn the_generator_knows_every_fault_kind() {
    for kind in mailsim_models::topology::FaultKind::NAMES {
        assert!(KINDS.contains(kind), "fault kind `{kind}` is missing from the fuzzer's KINDS");
    }
    assert!(KINDS.iter().any(|k| !mailsim_models::topology::FaultKind::NAMES.contains(k)), "an unknown kind keeps rejections fuzzed");
}

/// The generator's rebuild orders are every order the format knows plus an
/// unknown one.
#[test]
fn the_generator_knows_every_rebuild_order() {
    for name in mailsim_models::storage::RebuildRule::NAMES {
        assert!(REBUILD_ORDERS.contains(&name), "rebuild order `{name}` is missing from the fuzzer's REBUILD_ORDERS");
    }
    assert!(
        REBUILD_ORDERS.iter().any(|k| mailsim_models::storage::RebuildRule::from_name(k).is_none()),
        "an unknown order keeps rejections fuzzed"
    );
}

/// The generator writes operator roles and steps that name one and wait for
/// a window, and some such files are accepted, so the loader's and the
/// operators' handling of them is fuzzed past parsing: a generator that
/// stopped writing them (or only ever wrote invalid ones) fails here.
#[test]
fn the_generator_writes_roles_and_step_windows_that_load() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let dir = fuzz_dir("the_generator_writes_roles_and_step_windows_that_load");
    let mut runner = TestRunner::deterministic();
    let (mut with_role, mut with_window, mut refused_role) = (0, 0, 0);
    for _ in 0..1500 {
        let text = document().new_tree(&mut runner).expect("a document").current();
        if !text.contains("[[topology.operators.roles]]") {
            continue;
        }
        std::fs::write(dir.join("case.toml"), &text).expect("written");
        match Scenario::load(&dir.join("case.toml")) {
            Ok(s) => {
                let roles = &s.file.topology.operators.roles;
                with_role += s.file.recovery.iter().filter(|r| r.role.as_ref().is_some_and(|n| roles.iter().any(|x| &x.name == n))).count();
                with_window += s.file.recovery.iter().filter(|r| r.window.is_some()).count();
            }
            Err(e)
                if e.field()
                    .map(ToString::to_string)
                    .is_some_and(|f| f.contains("roles") || f.ends_with(".role") || f.ends_with(".window")) =>
            {
                refused_role += 1
            }
            Err(_) => {}
        }
    }
    assert!(with_role >= 3, "only {with_role} accepted steps named a declared role");
    assert!(with_window >= 3, "only {with_window} accepted steps waited for a window");
    assert!(refused_role >= 10, "only {refused_role} files were refused for a role or window field");
}
