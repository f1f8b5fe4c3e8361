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

/// The most lines a function may span, from its `fn` line to its closing
/// brace: TigerBeetle's limit ("TigerStyle", `docs/TIGER_STYLE.md`: "Restrict
/// the length of function bodies to reduce the probability of poorly
/// structured code. We enforce a hard limit of 70 lines per function."), so
/// that a function fits on a screen and does one job, its parent keeping the
/// branching (issue 16).
const FN_LINES_MAX: usize = 70;

/// Functions of `sim/src`, `models/src` and `src` (outside `#[cfg(test)]`)
/// still over `FN_LINES_MAX`, as (file, function name), not split yet: each
/// is to be split by job, not in halves. Remove an entry when its function
/// fits: the test fails on an entry that no longer needs to be here, so the
/// list only shrinks, and any new long function fails it.
/// Empty today: every function fits.
const LONG_FNS_ALLOWED: &[(&str, &str)] = &[];

/// The text with comments, string and character literals blanked to spaces
/// (newlines kept), so that the braces and words left are code.
fn code_only(text: &str) -> Vec<char> {
    let s: Vec<char> = text.chars().collect();
    let mut out = s.clone();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for c in &mut out[from..to.min(s.len())] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let mut i = 0;
    while i < s.len() {
        let (c, next) = (s[i], s.get(i + 1).copied());
        if c == '/' && next == Some('/') {
            let end = s[i..].iter().position(|&c| c == '\n').map_or(s.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if c == '/' && next == Some('*') {
            let (mut depth, mut j) = (1, i + 2);
            while j < s.len() && depth > 0 {
                match (s[j], s.get(j + 1)) {
                    ('/', Some('*')) => (depth, j) = (depth + 1, j + 2),
                    ('*', Some('/')) => (depth, j) = (depth - 1, j + 2),
                    _ => j += 1,
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if c == 'r' && (i == 0 || !ident(s[i - 1]) || s[i - 1] == 'b') && matches!(next, Some('"' | '#')) {
            // A raw string r"…" or r#"…"#, unless `r#` starts a raw identifier.
            let hashes = s[i + 1..].iter().take_while(|&&c| c == '#').count();
            if s.get(i + 1 + hashes) != Some(&'"') {
                i += 1;
                continue;
            }
            let mut j = i + 2 + hashes;
            while j < s.len() && !(s[j] == '"' && s[j + 1..].iter().take(hashes).filter(|&&c| c == '#').count() == hashes) {
                j += 1;
            }
            blank(&mut out, i + 1, j + 1 + hashes);
            i = j + 1 + hashes;
        } else if c == '"' {
            let mut j = i + 1;
            while j < s.len() && s[j] != '"' {
                j += if s[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if c == '\'' && next == Some('\\') {
            // A character literal with an escape: '\n', '\'', '\u{7b}'.
            let end = s[i + 3..].iter().position(|&c| c == '\'').map_or(s.len(), |p| i + 3 + p);
            blank(&mut out, i, end + 1);
            i = end + 1;
        } else if c == '\'' && s.get(i + 2) == Some(&'\'') {
            blank(&mut out, i, i + 3);
            i += 3;
        } else if ident(c) {
            // Skip the whole word, so that the `r` ending one is no raw string.
            i += s[i..].iter().position(|&c| !ident(c)).unwrap_or(s.len() - i);
        } else {
            i += 1; // anything else, a lifetime's quote included
        }
    }
    out
}

/// Just past the end of the item whose signature starts at `from`: its
/// matching `}` if it has a body, else the `;` that ends it.
fn item_end(code: &[char], from: usize) -> usize {
    let mut depth = 0i32;
    for i in from..code.len() {
        match code[i] {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ';' if depth == 0 => return i + 1,
            '{' if depth == 0 => {
                let mut braces = 0;
                for (j, &c) in code.iter().enumerate().skip(i) {
                    braces += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    if braces == 0 {
                        return j + 1;
                    }
                }
                return code.len();
            }
            _ => {}
        }
    }
    code.len()
}

/// Every function of `text` outside `#[cfg(test)]` items, nested ones too:
/// (name, first line, lines from its `fn` line to its closing brace).
fn function_lengths(text: &str) -> Vec<(String, usize, usize)> {
    const TEST_ONLY: &str = "#[cfg(test)]";
    let code = code_only(text);
    let newlines: Vec<usize> = code.iter().enumerate().filter(|(_, &c)| c == '\n').map(|(i, _)| i).collect();
    let line_at = |i: usize| newlines.partition_point(|&n| n < i) + 1;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < code.len() {
        if code[i..].iter().take(TEST_ONLY.len()).copied().eq(TEST_ONLY.chars()) {
            i = item_end(&code, i + TEST_ONLY.len());
            continue;
        }
        if code[i] == 'f' && code[i + 1] == 'n' && code[i + 2].is_whitespace() && (i == 0 || !ident(code[i - 1])) {
            let name_at = i + 2 + code[i + 2..].iter().take_while(|c| c.is_whitespace()).count();
            let name: String = code[name_at..].iter().take_while(|&&c| ident(c)).collect();
            if !name.is_empty() {
                let first = line_at(i);
                let last = line_at(item_end(&code, name_at) - 1);
                found.push((name, first, last - first + 1));
            }
        }
        i += 1;
    }
    found
}

/// The functions over `FN_LINES_MAX` in the non-test code of the three
/// crates: (file relative to the root, name, first line, lines).
fn long_functions() -> Vec<(String, String, usize, usize)> {
    let mut files = Vec::new();
    for dir in ["sim/src", "models/src", "src"] {
        rust_files(&root().join(dir), &mut files);
    }
    let mut long = Vec::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "rs")) {
        let text = fs::read_to_string(f).expect("readable source");
        let file = f.strip_prefix(root()).expect("under the root").display().to_string();
        for (name, line, lines) in function_lengths(&text) {
            if lines > FN_LINES_MAX {
                long.push((file.clone(), name, line, lines));
            }
        }
    }
    long
}

#[test]
fn functions_fit_on_a_screen() {
    let long = long_functions();
    let new: Vec<String> = long
        .iter()
        .filter(|(file, name, ..)| !LONG_FNS_ALLOWED.contains(&(file.as_str(), name.as_str())))
        .map(|(file, name, line, lines)| format!("{file}:{line}: `{name}` spans {lines} lines"))
        .collect();
    assert!(
        new.is_empty(),
        "functions over {FN_LINES_MAX} lines: split each by job (the parent keeps the branching, a named helper \
         with a doc line does each job):\n{}",
        new.join("\n")
    );
    let stale: Vec<String> = LONG_FNS_ALLOWED
        .iter()
        .filter(|(file, name)| !long.iter().any(|(f, n, ..)| f == file && n == name))
        .map(|(file, name)| format!("{file}: `{name}`"))
        .collect();
    assert!(stale.is_empty(), "LONG_FNS_ALLOWED lists functions that fit now (remove them):\n{}", stale.join("\n"));
}

#[test]
fn the_function_length_check_can_fail() {
    let body = |n: usize| "    let x = 1;\n".repeat(n);
    // 1 line for `fn`, n of body, 1 for `}`.
    let long = format!("fn long() {{\n{}}}\n", body(FN_LINES_MAX - 1));
    assert_eq!(function_lengths(&long), vec![("long".to_string(), 1, FN_LINES_MAX + 1)]);
    let fits = format!("/// Doc lines do not count.\nfn fits() {{\n{}}}\n", body(FN_LINES_MAX - 2));
    assert_eq!(function_lengths(&fits), vec![("fits".to_string(), 2, FN_LINES_MAX)]);
    // Braces in strings, characters and comments are not code; a lifetime is
    // no character literal; test code is not counted.
    let tricky = "fn a<'t>(x: &'t str) -> usize {\n    let s = \"}\"; let c = '{'; let e = '\\'';\n    // }\n    /* } */ let r = r#\"}\"#;\n    x.len()\n}\nfn b() {}\n";
    assert_eq!(function_lengths(tricky), vec![("a".to_string(), 1, 6), ("b".to_string(), 7, 1)]);
    let tests = format!("fn kept() {{}}\n#[cfg(test)]\nmod tests {{\n    fn long() {{\n{}    }}\n}}\n", body(FN_LINES_MAX));
    assert_eq!(function_lengths(&tests), vec![("kept".to_string(), 1, 1)]);
    // A trait method without a body spans its signature.
    assert_eq!(function_lengths("trait T {\n    fn f(&self, a: [u8; 2]);\n}\n"), vec![("f".to_string(), 2, 1)]);
}
