//! The scenario-authoring guide (`docs/scenario-guide.md`) stays true: every
//! ```toml block in it is a valid scenario file (placed in `scenarios/`, so
//! its `extends` finds the replays), and its samples between them use every
//! fault kind, every recovery action and every trigger the loader knows.

use std::path::{Path, PathBuf};

use mailsim::scenario::{Scenario, STEP_ACTIONS};
use mailsim_models::topology::FaultKind;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ```toml blocks of a Markdown text, with the line each starts on.
fn toml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match (&mut open, line.trim_end()) {
            (None, "```toml") => open = Some((i + 1, String::new())),
            (Some(_), "```") => blocks.push(open.take().expect("open")),
            (Some((_, text)), l) => {
                text.push_str(l);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(open.is_none(), "a ```toml block is never closed");
    blocks
}

fn guide() -> String {
    std::fs::read_to_string(root().join("docs/scenario-guide.md")).expect("docs/scenario-guide.md")
}

#[test]
fn every_toml_sample_in_the_guide_is_a_valid_scenario() {
    let blocks = toml_blocks(&guide());
    assert!(blocks.len() >= 5, "the guide lost its samples: {}", blocks.len());
    for (line, text) in &blocks {
        let path = root().join("scenarios").join(format!("guide-line-{line}.toml"));
        if let Err(e) = Scenario::from_toml(text, &path) {
            panic!("docs/scenario-guide.md, the ```toml block at line {line}:\n{e}");
        }
    }
}

#[test]
fn a_broken_sample_is_caught() {
    // The check above can fail: a sample with an unknown kind is refused.
    let text = "[scenario]\nname = \"x\"\nsummary = \"x\"\n[run]\nduration = \"1d\"\n[topology]\nmx = 1\nmailboxes = 10\n[workload]\nmails = 10\nwindow = \"1h\"\n[[faults]]\nat = \"1h\"\nkind = \"meteor\"\ntarget = \"mx-1\"\n";
    let blocks = toml_blocks(&format!("intro\n```toml\n{text}```\n"));
    assert_eq!(blocks, vec![(2, text.to_string())]);
    let err = Scenario::from_toml(text, Path::new("scenarios/bad.toml")).expect_err("unknown kind");
    assert!(err.to_string().contains("meteor"), "{err}");
}

#[test]
fn the_samples_use_every_fault_kind_action_and_trigger() {
    let samples: String = toml_blocks(&guide()).into_iter().map(|(_, t)| t).collect();
    let mut missing = Vec::new();
    for kind in FaultKind::NAMES {
        if !samples.contains(&format!("kind = \"{kind}\"")) {
            missing.push(format!("fault kind `{kind}`"));
        }
    }
    for action in STEP_ACTIONS {
        if !guide().contains(&format!("`{action}`")) {
            missing.push(format!("action `{action}`"));
        }
    }
    for trigger in ["at = ", "after_alert = true", "after = "] {
        if !samples.lines().any(|l| l.starts_with(trigger)) {
            missing.push(format!("trigger `{trigger}`"));
        }
    }
    for extends in ["extends = ", "checkpoints = []"] {
        if !samples.contains(extends) {
            missing.push(format!("`{extends}`"));
        }
    }
    assert!(missing.is_empty(), "docs/scenario-guide.md does not show: {}", missing.join(", "));
}
