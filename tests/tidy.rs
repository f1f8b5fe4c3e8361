//! Tidy: the few architecture rules that matter, enforced by `cargo test`
//! (rust-analyzer's `xtask/src/tidy.rs` does the same).
//!
//! - The kernel (`sim/`) knows nothing about mail: no mail vocabulary.
//! - The deterministic crates (`sim/src`, `models/src`) use none of the APIs
//!   that break determinism: wall clock, OS randomness, threads, default-hashed
//!   maps.
//! - Every source file opens with a `//!` header saying what it is.
//! - The library crates (`sim`, `models`, `harness`) take the workspace's
//!   `[lints]`, which deny missing docs on their public API.
//! - Sources are cited (title, publisher, date, URL), never pointed at files
//!   outside the repository.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs" || e == "toml") {
            out.push(p);
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Words of the mail domain that must not appear in the kernel. The crate's
/// own name (`mailsim`) is allowed.
const MAIL_WORDS: &[&str] = &[
    "mail", "smtp", "nfs", "fence", "fencing", "mailbox", "mta", "imap", "pop3", "uidl", "dsn", "postfix", "exim", "bounce", "raid",
    "shelf",
];

fn words(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_ascii_lowercase())
}

fn mail_words_in(text: &str) -> Vec<(usize, String)> {
    let mut hits = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.replace("mailsim", "");
        for w in words(&line) {
            // Split snake_case and CamelCase-free words were split above; also
            // catch compounds such as `mailqueue` or `nfsd`.
            if MAIL_WORDS.iter().any(|m| w == *m || (m.len() >= 4 && w.contains(m))) {
                hits.push((i + 1, w));
            }
        }
    }
    hits
}

#[test]
fn kernel_has_no_mail_vocabulary() {
    let mut files = Vec::new();
    rust_files(&root().join("sim"), &mut files);
    assert!(files.len() > 5, "found the kernel sources");
    let mut bad = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).expect("readable source");
        for (line, word) in mail_words_in(&text) {
            bad.push(format!("{}:{line}: `{word}`", f.display()));
        }
    }
    assert!(bad.is_empty(), "mail vocabulary in sim/ (the kernel must not know about mail):\n{}", bad.join("\n"));
}

#[test]
fn the_vocabulary_check_can_fail() {
    assert_eq!(mail_words_in("let mailbox = 1;").len(), 1);
    assert_eq!(mail_words_in("fn deliver_smtp() {}").len(), 1);
    assert!(mail_words_in("use mailsim_sim::Sim;").is_empty());
}

/// APIs banned in deterministic code, with why.
const BANNED: &[(&str, &str)] = &[
    ("Instant::now", "wall clock"),
    ("SystemTime", "wall clock"),
    ("thread_rng", "OS-seeded randomness"),
    ("rand::random", "OS-seeded randomness"),
    ("from_entropy", "OS-seeded randomness"),
    ("OsRng", "OS randomness"),
    ("getrandom", "OS randomness"),
    ("thread::spawn", "threads"),
    ("tokio::spawn", "threads"),
    ("rayon", "threads"),
    ("HashMap", "default-hashed map: iteration order changes per process"),
    ("HashSet", "default-hashed set: iteration order changes per process"),
    ("RandomState", "default hasher"),
];

fn banned_in(text: &str) -> Vec<(usize, &'static str, &'static str)> {
    let mut hits = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for (api, why) in BANNED {
            if code.contains(api) {
                hits.push((i + 1, *api, *why));
            }
        }
    }
    hits
}

#[test]
fn deterministic_crates_use_no_banned_apis() {
    let mut files = Vec::new();
    rust_files(&root().join("sim/src"), &mut files);
    rust_files(&root().join("models/src"), &mut files);
    let mut bad = Vec::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "rs")) {
        let text = fs::read_to_string(f).expect("readable source");
        for (line, api, why) in banned_in(&text) {
            bad.push(format!("{}:{line}: `{api}` ({why})", f.display()));
        }
    }
    assert!(bad.is_empty(), "banned APIs in deterministic code:\n{}", bad.join("\n"));
}

#[test]
fn the_banned_api_check_can_fail() {
    assert_eq!(banned_in("let t = std::time::Instant::now();").len(), 1);
    assert_eq!(banned_in("let m: HashMap<u32, u32> = HashMap::new();").len(), 1);
    assert!(banned_in("// a comment about HashMap").is_empty());
}

#[test]
fn every_source_file_has_a_module_header() {
    let mut files = Vec::new();
    for dir in ["sim/src", "models/src", "src", "harness/src", "harness/tests", "harness/examples", "harness/benches"] {
        rust_files(&root().join(dir), &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        .filter(|f| !fs::read_to_string(f).expect("readable").trim_start().starts_with("//!"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a `//!` header saying what they are:\n{}", missing.join("\n"));
}

/// The crates whose public API must be documented: each takes the workspace's
/// lints, and those lints include `missing_docs`. Returns what is wrong.
fn lint_gaps(workspace: &toml::Table, members: &[(&str, toml::Table)]) -> Vec<String> {
    let mut gaps = Vec::new();
    let level = workspace.get("workspace").and_then(|w| w.get("lints")).and_then(|l| l.get("rust")).and_then(|r| r.get("missing_docs"));
    if !matches!(level.and_then(|l| l.as_str()), Some("warn" | "deny" | "forbid")) {
        gaps.push(format!("Cargo.toml: [workspace.lints.rust] missing_docs is {level:?}, not warn or deny"));
    }
    for (name, member) in members {
        if member.get("lints").and_then(|l| l.get("workspace")).and_then(|w| w.as_bool()) != Some(true) {
            gaps.push(format!("{name}/Cargo.toml: no `[lints] workspace = true`"));
        }
    }
    gaps
}

fn manifest(path: &Path) -> toml::Table {
    fs::read_to_string(path).expect("readable").parse().expect("a TOML manifest")
}

#[test]
fn library_crates_take_the_workspace_lints() {
    let members: Vec<_> = ["sim", "models", "harness"].iter().map(|m| (*m, manifest(&root().join(m).join("Cargo.toml")))).collect();
    let gaps = lint_gaps(&manifest(&root().join("Cargo.toml")), &members);
    assert!(gaps.is_empty(), "{}", gaps.join("\n"));
}

#[test]
fn the_lint_check_can_fail() {
    let workspace: toml::Table = "[workspace.lints.rust]\nunsafe_code = \"deny\"\n".parse().unwrap();
    let member: toml::Table = "[package]\nname = \"x\"\n".parse().unwrap();
    let gaps = lint_gaps(&workspace, &[("sim", member)]);
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    let workspace: toml::Table = "[workspace.lints.rust]\nmissing_docs = \"warn\"\n".parse().unwrap();
    let member: toml::Table = "[lints]\nworkspace = true\n".parse().unwrap();
    assert!(lint_gaps(&workspace, &[("sim", member)]).is_empty());
}

/// Pointers at files that live outside this repository (the postmortem
/// copies and notes the models were first written from): a reader of a
/// clone cannot follow them, so a source is cited by title, publisher,
/// date and URL instead.
const OUTSIDE: [&str; 4] = ["seeds/0", "`seeds/`", "OUTAGES.md", "shared/"];

fn outside_pointers_in(text: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for p in OUTSIDE {
            if line.contains(p) {
                found.push((i + 1, p));
            }
        }
    }
    found
}

/// Every text file of the repository: sources, scenarios, docs (not
/// `target/` nor hidden directories).
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if p.is_dir() {
            text_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs" || e == "toml" || e == "md" || e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
}

#[test]
fn sources_are_cited_not_pointed_at_files_outside_the_repository() {
    let mut files = Vec::new();
    text_files(&root(), &mut files);
    assert!(files.len() > 100, "the walk found the repository ({} files)", files.len());
    let this = root().join("tests/tidy.rs");
    let mut bad = Vec::new();
    for f in files.iter().filter(|f| **f != this) {
        // Some test inputs are not UTF-8 on purpose.
        let text = String::from_utf8_lossy(&fs::read(f).expect("readable")).into_owned();
        for (line, p) in outside_pointers_in(&text) {
            bad.push(format!("{}:{line}: `{p}`", f.strip_prefix(root()).unwrap_or(f).display()));
        }
    }
    assert!(bad.is_empty(), "cite the public source (title, publisher, date, URL), not a file outside the repository:\n{}", bad.join("\n"));
}

#[test]
fn the_outside_pointer_check_can_fail() {
    assert_eq!(outside_pointers_in("//! the Fused outage (`seeds/003_*`)").len(), 1);
    assert_eq!(outside_pointers_in("//! [3 s — `OUTAGES.md`]").len(), 1);
    assert_eq!(outside_pointers_in("# see ../shared/DESIGN.md").len(), 1);
    assert!(outside_pointers_in("//! 1,000 seeds/s on all cores").is_empty());
}

/// Lines of `text` that format a repro command by hand instead of calling
/// `sweep::repro_command` (which quotes odd file names).
fn hand_written_repro(text: &str) -> Vec<usize> {
    text.lines().enumerate().filter(|(_, l)| l.contains("\"mailsim run {") || l.contains("mailsim run {}")).map(|(i, _)| i + 1).collect()
}

#[test]
fn repro_commands_are_written_in_one_place() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let writer = root().join("src/sweep/record.rs");
    assert!(files.contains(&writer), "the writer is where this test looks for it");
    let bad: Vec<String> = files
        .iter()
        .filter(|f| **f != writer)
        .flat_map(|f| {
            let text = fs::read_to_string(f).expect("readable");
            hand_written_repro(&text).into_iter().map(move |l| format!("{}:{l}", f.display()))
        })
        .collect();
    assert!(bad.is_empty(), "repro commands written by hand (use `sweep::repro_command`):\n{}", bad.join("\n"));
    assert_eq!(hand_written_repro(r#"note!("reproduce: mailsim run {} --seed {}", f, s);"#), vec![1]);
    assert!(hand_written_repro(r#"note!("reproduce: {}", repro_command(f, s));"#).is_empty());
}
