//! `mailsim schema`: the JSON Schema of scenario files is complete — every
//! property says what it is, and every field the loader checks against a
//! fixed list is an enum of that very list — and every scenario file in
//! `scenarios/` conforms to it.
//!
//! There is no JSON Schema crate among the dependencies, so `Validator`
//! below checks the keywords the schema uses (and fails on any other, so a
//! new keyword cannot pass unchecked) except `pattern`, which would need a
//! regex engine.

use std::path::{Path, PathBuf};

use mailsim::checkpoints::Metric;
use mailsim::scenario::{Scenario, PROTOCOLS, RETRY_PROFILES, STEP_ACTIONS, TRIGGERS};
use mailsim_models::availability::Service;
use mailsim_models::msg::Action;
use mailsim_models::retry::RetryProfile;
use mailsim_models::topology::{FaultKind, RANDOM_FAULT_CHOICES, RANDOM_FAULT_KINDS};
use serde_json::Value;

fn schema() -> Value {
    serde_json::from_str(&mailsim::scenario::schema()).expect("`mailsim schema` prints JSON")
}

/// Every property of every object schema — at the root, under `$defs`, and
/// nested — as (JSON pointer, its schema).
fn properties(node: &Value, at: &str, out: &mut Vec<(String, Value)>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                let here = format!("{at}/{key}");
                match key.as_str() {
                    // Values, not schemas.
                    "default" | "enum" | "const" | "examples" => {}
                    "properties" => {
                        let props = value.as_object().unwrap_or_else(|| panic!("{here} is not an object"));
                        for (name, prop) in props {
                            out.push((format!("{here}/{name}"), prop.clone()));
                            properties(prop, &format!("{here}/{name}"), out);
                        }
                    }
                    _ => properties(value, &here, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                properties(item, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_property_has_a_description() {
    let schema = schema();
    let mut all = Vec::new();
    properties(&schema, "#", &mut all);
    // The walk reaches the nested tables and the definitions, not just the root.
    for pointer in ["#/properties/topology", "#/$defs/StorageTable/properties/shelves", "#/$defs/StepEntry/properties/after_alert"] {
        assert!(all.iter().any(|(p, _)| p == pointer), "the walk missed {pointer}");
    }
    assert!(all.len() > 140, "only {} properties found", all.len());
    let missing: Vec<&str> = all
        .iter()
        .filter(|(_, prop)| prop.get("description").and_then(Value::as_str).is_none_or(|d| d.trim().is_empty()))
        .map(|(pointer, _)| pointer.as_str())
        .collect();
    assert!(missing.is_empty(), "{} of {} properties have no description:\n{}", missing.len(), all.len(), missing.join("\n"));
}

/// Whether a description reads as sentences: it opens with a capital
/// (or a quoted name, or a `[low, high]` form) and ends with a full stop.
/// A fragment such as "after alert" or "when the step completed" fails.
fn is_sentence(text: &str) -> bool {
    let t = text.trim();
    let opens = t.chars().next().is_some_and(|c| c.is_uppercase() || matches!(c, '`' | '"' | '['));
    let words = t.split_whitespace().count();
    opens && (t.ends_with('.') || t.ends_with(".)")) && words >= 3
}

/// Every `description` and every `enumDescriptions` entry of the schema,
/// as (JSON pointer, text).
fn descriptions(node: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                let here = format!("{at}/{key}");
                match (key.as_str(), value) {
                    ("description", Value::String(d)) => out.push((here, d.clone())),
                    ("enumDescriptions", Value::Array(list)) => {
                        out.extend(list.iter().enumerate().map(|(i, d)| (format!("{here}/{i}"), d.as_str().unwrap_or("").to_string())));
                    }
                    ("default" | "enum" | "const" | "examples", _) => {}
                    _ => descriptions(value, &here, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                descriptions(item, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_description_is_a_sentence() {
    let mut all = Vec::new();
    descriptions(&schema(), "#", &mut all);
    assert!(all.len() > 250, "only {} descriptions found", all.len());
    for t in TRIGGERS {
        assert!(all.iter().any(|(_, d)| d == t.description), "the walk reaches the trigger `{}`", t.name);
        // A trigger once read "At that time from T+0" or "When the named
        // earlier step has completed": a clause without its subject.
        assert!(t.description.starts_with("The step "), "trigger `{}`: say what the step does, as a sentence: {:?}", t.name, t.description);
    }
    let fragments: Vec<String> = all.iter().filter(|(_, d)| !is_sentence(d)).map(|(p, d)| format!("{p}: {d:?}")).collect();
    assert!(fragments.is_empty(), "{} of {} descriptions are not sentences:\n{}", fragments.len(), all.len(), fragments.join("\n"));
    // Planted: the fragments the schema once had.
    for fragment in ["after alert", "when the named step completed", "At that time from T+0", "[low, high]", ""] {
        assert!(!is_sentence(fragment), "{fragment:?} passes as a sentence");
    }
}

/// `schema` with `$ref`s followed and an optional field's `null` branch
/// dropped: the schema of the value itself.
fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    loop {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("{r} is not local"));
            schema = root.pointer(pointer).unwrap_or_else(|| panic!("{r} resolves to nothing"));
        } else if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
            // An optional value's `null`, and the `{ range, reason }` a
            // calibrated field may hold instead, are not the value itself.
            let not_null: Vec<&Value> = branches
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                .filter(|b| b.get("$ref").and_then(Value::as_str) != Some("#/$defs/Range"))
                .collect();
            assert_eq!(not_null.len(), 1, "an optional value has one schema besides null and a range: {schema}");
            schema = not_null[0];
        } else {
            return schema;
        }
    }
}

/// The schema at a path of property names from the root; `[]` steps into
/// an array's items, `{}` into a map's values.
fn at<'a>(root: &'a Value, path: &[&str]) -> &'a Value {
    let mut schema = resolve(root, root);
    for step in path {
        let next = match *step {
            "[]" => schema.get("items"),
            "{}" => schema.get("additionalProperties"),
            name => schema.get("properties").and_then(|p| p.get(name)),
        };
        schema = resolve(root, next.unwrap_or_else(|| panic!("no `{step}` in {path:?}: {schema}")));
    }
    schema
}

/// The strings an enum schema allows, in order.
fn names(schema: &Value, what: &str) -> Vec<String> {
    assert_eq!(schema.get("type").and_then(Value::as_str), Some("string"), "{what} is not a string: {schema}");
    let values = schema.get("enum").and_then(Value::as_array).unwrap_or_else(|| panic!("{what} is not an enum: {schema}"));
    values.iter().map(|v| v.as_str().unwrap_or_else(|| panic!("{what}: {v} is not a string")).to_string()).collect()
}

/// The keys a map schema allows.
fn keys(root: &Value, path: &[&str]) -> Vec<String> {
    let map = at(root, path);
    assert_eq!(map.get("type").and_then(Value::as_str), Some("object"), "{path:?} is not a map: {map}");
    let names_schema = map.get("propertyNames").unwrap_or_else(|| panic!("{path:?}: keys not restricted: {map}"));
    let values = names_schema.get("enum").and_then(Value::as_array).unwrap_or_else(|| panic!("{path:?}: keys not an enum"));
    values.iter().map(|v| v.as_str().expect("a key is a string").to_string()).collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn fault_kinds_and_recovery_actions_are_the_validators_lists() {
    let root = schema();
    let kinds = names(at(&root, &["faults", "[]", "kind"]), "faults[].kind");
    assert!(kinds.iter().any(|k| k == "crash") && kinds.iter().any(|k| k == "fence-broken"), "{kinds:?}");
    assert_eq!(kinds, strings(FaultKind::NAMES), "the fault kinds are the ones the loader reports as known");
    let actions = names(at(&root, &["recovery", "[]", "action"]), "recovery[].action");
    assert!(actions.iter().any(|a| a == "reset-cluster") && actions.iter().any(|a| a == "migrate"), "{actions:?}");
    assert_eq!(actions, strings(STEP_ACTIONS));
    let absorbed = at(&root, &["expect", "absorbed", "[]"]);
    assert_eq!(names(absorbed, "expect.absorbed[]"), strings(FaultKind::NAMES));
}

/// An enum schema's values with their descriptions (`enumDescriptions`,
/// in the same order); an error if the descriptions are missing, fewer or
/// more than the values, or one is empty.
fn described(schema: &Value, what: &str) -> Result<Vec<(String, String)>, String> {
    let values = names(schema, what);
    let descriptions =
        schema.get("enumDescriptions").and_then(Value::as_array).ok_or_else(|| format!("{what}: no enumDescriptions: {schema}"))?;
    if descriptions.len() != values.len() {
        return Err(format!("{what}: {} values, {} descriptions", values.len(), descriptions.len()));
    }
    let mut out = Vec::new();
    for (name, d) in values.into_iter().zip(descriptions) {
        match d.as_str().map(str::trim) {
            Some(d) if !d.is_empty() => out.push((name, d.to_string())),
            _ => return Err(format!("{what}: `{name}` has no description")),
        }
    }
    Ok(out)
}

/// Every fault kind, recovery action and trigger is in the schema with its
/// own description, taken from the very table the loader accepts names
/// from (`FaultKind::CHOICES`, `RANDOM_FAULT_CHOICES`, `Action::CHOICES`,
/// `TRIGGERS`); and a
/// schema missing one description fails the check.
#[test]
fn every_kind_action_and_trigger_has_a_description() {
    let root = schema();
    let pairs = |c: &[mailsim_models::choice::Choice]| -> Vec<(String, String)> {
        c.iter().map(|c| (c.name.to_string(), c.description.to_string())).collect()
    };
    let kinds = at(&root, &["faults", "[]", "kind"]);
    assert_eq!(described(kinds, "faults[].kind"), Ok(pairs(FaultKind::CHOICES)));
    assert_eq!(strings(FaultKind::NAMES), pairs(FaultKind::CHOICES).into_iter().map(|p| p.0).collect::<Vec<_>>());
    let actions = at(&root, &["recovery", "[]", "action"]);
    assert_eq!(described(actions, "recovery[].action"), Ok(pairs(Action::CHOICES)));
    assert_eq!(strings(STEP_ACTIONS), pairs(Action::CHOICES).into_iter().map(|p| p.0).collect::<Vec<_>>());
    let random = at(&root, &["random_faults", "[]", "kind"]);
    assert_eq!(described(random, "random_faults[].kind"), Ok(pairs(RANDOM_FAULT_CHOICES)));
    assert_eq!(strings(RANDOM_FAULT_KINDS), pairs(RANDOM_FAULT_CHOICES).into_iter().map(|p| p.0).collect::<Vec<_>>());
    let triggers = root.pointer("/$defs/RecoveryTrigger").expect("the schema lists the triggers");
    assert_eq!(described(triggers, "RecoveryTrigger"), Ok(pairs(TRIGGERS)));
    for t in TRIGGERS {
        // Each trigger is a field of a step.
        at(&root, &["recovery", "[]", t.name]);
    }
    // Planted: one description blank, one missing, none at all.
    let mut blank = kinds.clone();
    blank["enumDescriptions"][3] = Value::from(" ");
    assert!(described(&blank, "blank").is_err_and(|e| e.contains(FaultKind::NAMES[3])));
    let mut short = actions.clone();
    short["enumDescriptions"].as_array_mut().expect("a list").pop();
    assert!(described(&short, "short").is_err());
    let mut none = kinds.clone();
    none.as_object_mut().expect("an object").remove("enumDescriptions");
    assert!(described(&none, "none").is_err());
}

#[test]
fn other_fixed_lists_are_enums_too() {
    let root = schema();
    let enum_at = |path: &[&str]| names(at(&root, path), &path.join("."));
    assert_eq!(enum_at(&["random_faults", "[]", "kind"]), strings(RANDOM_FAULT_KINDS));
    assert_eq!(enum_at(&["checkpoints", "[]", "metric"]), strings(&Metric::NAMES));
    assert_eq!(enum_at(&["topology", "mta", "retry"]), strings(&RETRY_PROFILES));
    assert_eq!(enum_at(&["topology", "operators", "start_day"]), strings(&["mon", "tue", "wed", "thu", "fri", "sat", "sun"]));
    assert_eq!(enum_at(&["workload", "recipients"]), strings(&["uniform", "zipf"]));
    assert_eq!(enum_at(&["topology", "storage", "rebuild_priority"]), strings(&["low", "medium", "high"]));
    // Fields that were Rust enums all along.
    assert_eq!(enum_at(&["topology", "mx_down"]), strings(&["refuse", "silent"]));
    assert_eq!(enum_at(&["topology", "storage", "placement"]), strings(&["random", "round-robin"]));
    assert_eq!(enum_at(&["topology", "mta", "when_full"]), strings(&["refuse", "accept"]));
    let modes = strings(&["works", "reports-failure", "timeout", "lies-success"]);
    assert_eq!(enum_at(&["topology", "cluster", "fencing", "[]", "mode"]), modes);
    assert_eq!(enum_at(&["faults", "[]", "mode"]), modes);
    // Maps keyed by a fixed list.
    let services: Vec<String> = Service::ALL.iter().map(|s| s.name().to_string()).collect();
    for table in ["service_down", "failed_share", "users_affected"] {
        assert_eq!(keys(&root, &["expect", table]), services, "expect.{table}");
    }
    assert_eq!(keys(&root, &["workload", "profiles"]), strings(&RETRY_PROFILES));
    let mut bounces = strings(&RETRY_PROFILES);
    bounces.push("all".into());
    assert_eq!(keys(&root, &["expect", "sender_bounces"]), bounces);
    assert_eq!(keys(&root, &["topology", "clients", "mix"]), strings(&PROTOCOLS));
    // The lists defined in the scenario module name what the models call them.
    for name in RETRY_PROFILES {
        let profile = RetryProfile::by_name(name).unwrap_or_else(|| panic!("`{name}` is no retry profile"));
        assert_eq!(profile.name, name);
    }
}

const BASE: &str = r#"
[scenario]
name = "names"
summary = "one of each listed name"
[run]
duration = "2d"
[topology]
mx = 2
mailboxes = 20
[workload]
mails = 10
window = "1h"
"#;

fn load(extra: &str) -> Result<Scenario, mailsim::error::ScenarioError> {
    Scenario::from_toml(&format!("{BASE}\n{extra}"), "names.toml")
}

/// Every name the schema lists is one the loader accepts, and a name it
/// does not list is refused: the enums are the loader's lists, not copies.
#[test]
fn the_loader_accepts_every_listed_name_and_no_other() {
    let root = schema();
    for action in names(at(&root, &["recovery", "[]", "action"]), "action") {
        let node = match action.as_str() {
            "power-on" => "node = \"mx-1\"",
            "restore" => "from = \"b\"\n[[topology.backups]]\nname = \"b\"\nkind = \"tape\"",
            _ => "",
        };
        let s = load(&format!("[[recovery]]\nname = \"s\"\naction = \"{action}\"\ntarget = \"filer\"\nat = \"1h\"\n{node}"))
            .unwrap_or_else(|e| panic!("action `{action}`: {e}"));
        assert_eq!(s.topology.plan[0].action.name(), action, "the step does what it says");
    }
    for kind in names(at(&root, &["faults", "[]", "kind"]), "kind") {
        // The other fields each kind needs are not given: the error, if any, is about them.
        if let Err(e) = load(&format!("[[faults]]\nat = \"1h\"\nkind = \"{kind}\"\ntarget = \"mx-1\"")) {
            assert!(!e.to_string().contains("unknown fault kind"), "kind `{kind}`: {e}");
        }
    }
    for kind in names(at(&root, &["random_faults", "[]", "kind"]), "kind") {
        load(&format!("[[random_faults]]\nkind = \"{kind}\"\nmean_interval = \"1d\"")).unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    for metric in names(at(&root, &["checkpoints", "[]", "metric"]), "metric") {
        if let Err(e) = load(&format!("[[checkpoints]]\nclaim = \"c\"\nat = \"1h\"\nmetric = \"{metric}\"")) {
            assert!(!e.to_string().contains("unknown metric"), "metric `{metric}`: {e}");
        }
    }
    let set = |table: &str, field: &str, path: &[&str]| {
        for name in names(at(&root, path), field) {
            load(&format!("[{table}]\n{field} = \"{name}\"")).unwrap_or_else(|e| panic!("{field} = `{name}`: {e}"));
        }
        let err = load(&format!("[{table}]\n{field} = \"no-such-name\"")).expect_err("an unlisted name");
        assert_eq!(err.field().map(|f| f.to_string()), Some(format!("{table}.{field}")), "{err}");
    };
    set("topology.mta", "retry", &["topology", "mta", "retry"]);
    set("topology.operators", "start_day", &["topology", "operators", "start_day"]);
    set("topology.storage", "placement", &["topology", "storage", "placement"]);
    set("topology.mta", "when_full", &["topology", "mta", "when_full"]);
    let key = |table: &str, value: &str, path: &[&str]| {
        for name in keys(&root, path) {
            load(&format!("[{table}]\n\"{name}\" = {value}")).unwrap_or_else(|e| panic!("{table}.{name}: {e}"));
        }
        let err = load(&format!("[{table}]\nno-such-name = {value}")).expect_err("an unlisted key");
        assert_eq!(err.field().map(|f| f.to_string()), Some(format!("{table}.no-such-name")), "{err}");
    };
    key("topology.clients.mix", "1", &["topology", "clients", "mix"]);
    key("workload.profiles", "1", &["workload", "profiles"]);
    key("expect.sender_bounces", "{ max = 10 }", &["expect", "sender_bounces"]);
    key("expect.service_down", "{ max = \"2d\" }", &["expect", "service_down"]);
    key("expect.failed_share", "{ max = \"100%\" }", &["expect", "failed_share"]);
    key("expect.users_affected", "{ max = \"100%\" }", &["expect", "users_affected"]);
    for name in names(at(&root, &["workload", "recipients"]), "recipients") {
        let text = BASE.replace("window = \"1h\"", &format!("window = \"1h\"\nrecipients = \"{name}\""));
        Scenario::from_toml(&text, "names.toml").unwrap_or_else(|e| panic!("recipients = `{name}`: {e}"));
    }
    for (action, kind) in [("no-such-action", "crash"), ("flush-queue", "no-such-kind")] {
        let text = format!(
            "[[faults]]\nat = \"1h\"\nkind = \"{kind}\"\ntarget = \"mx-1\"\n[[recovery]]\nname = \"s\"\naction = \"{action}\"\ntarget = \"mx-1\"\nat = \"1h\""
        );
        let err = load(&text).expect_err("an unlisted name");
        let field = if kind == "crash" { "recovery[0].action" } else { "faults[0].kind" };
        assert_eq!(err.field().map(|f| f.to_string()).as_deref(), Some(field), "{err}");
    }
}

/// Checks a JSON value against the schema, for the keywords the schema uses.
struct Validator<'a> {
    root: &'a Value,
    /// A variant file (`extends`) gives only what it changes: required
    /// properties are not checked.
    partial: bool,
}

impl Validator<'_> {
    fn errors(&self, schema: &Value, value: &Value, at: &str) -> Vec<String> {
        let Some(map) = schema.as_object() else {
            return match schema {
                Value::Bool(true) => vec![],
                _ => vec![format!("{at}: unexpected schema {schema}")],
            };
        };
        let mut errors = Vec::new();
        for (keyword, arg) in map {
            match keyword.as_str() {
                "$ref" => {
                    let pointer = arg.as_str().and_then(|r| r.strip_prefix('#')).expect("a local $ref");
                    let target = self.root.pointer(pointer).unwrap_or_else(|| panic!("{arg} resolves to nothing"));
                    errors.extend(self.errors(target, value, at));
                }
                "anyOf" => {
                    let branches = arg.as_array().expect("anyOf is a list");
                    if !branches.iter().any(|b| self.errors(b, value, at).is_empty()) {
                        errors.push(format!("{at}: {value} matches no branch of {arg}"));
                    }
                }
                "type" => {
                    let types: Vec<&str> = match arg {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                        _ => panic!("bad type {arg}"),
                    };
                    let is = |t: &str| match t {
                        "null" => value.is_null(),
                        "boolean" => value.is_boolean(),
                        "string" => value.is_string(),
                        "integer" => value.is_i64() || value.is_u64(),
                        "number" => value.is_number(),
                        "array" => value.is_array(),
                        "object" => value.is_object(),
                        other => panic!("unknown type {other}"),
                    };
                    if !types.iter().any(|t| is(t)) {
                        errors.push(format!("{at}: {value} is not {arg}"));
                    }
                }
                "enum" => {
                    if !arg.as_array().expect("enum is a list").contains(value) {
                        errors.push(format!("{at}: {value} is not one of {arg}"));
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(v), Some(bound)) = (value.as_f64(), arg.as_f64()) {
                        if (keyword == "minimum" && v < bound) || (keyword == "maximum" && v > bound) {
                            errors.push(format!("{at}: {value} is beyond {keyword} {bound}"));
                        }
                    }
                }
                "minItems" | "maxItems" => {
                    if let (Some(items), Some(n)) = (value.as_array(), arg.as_u64()) {
                        let len = items.len() as u64;
                        if (keyword == "minItems" && len < n) || (keyword == "maxItems" && len > n) {
                            errors.push(format!("{at}: {len} items, {keyword} {n}"));
                        }
                    }
                }
                "items" => {
                    for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                        errors.extend(self.errors(arg, item, &format!("{at}[{i}]")));
                    }
                }
                "required" => {
                    if let (false, Some(object)) = (self.partial, value.as_object()) {
                        for name in arg.as_array().expect("required is a list").iter().filter_map(Value::as_str) {
                            if !object.contains_key(name) {
                                errors.push(format!("{at}: `{name}` is missing"));
                            }
                        }
                    }
                }
                "properties" | "additionalProperties" | "propertyNames" => {
                    let Some(object) = value.as_object() else { continue };
                    let props = map.get("properties").and_then(Value::as_object);
                    for (name, v) in object {
                        let here = format!("{at}.{name}");
                        match (keyword.as_str(), props.and_then(|p| p.get(name))) {
                            ("properties", Some(prop)) => errors.extend(self.errors(prop, v, &here)),
                            ("additionalProperties", None) => match arg {
                                Value::Bool(false) => errors.push(format!("{here}: not a property")),
                                extra => errors.extend(self.errors(extra, v, &here)),
                            },
                            ("propertyNames", _) => errors.extend(self.errors(arg, &Value::String(name.clone()), &here)),
                            _ => {}
                        }
                    }
                }
                // Annotations; `pattern` needs a regex engine (see the module doc).
                "description" | "enumDescriptions" | "default" | "title" | "$schema" | "$defs" | "format" | "pattern" => {}
                other => panic!("the schema uses `{other}`, which this test does not check yet"),
            }
        }
        errors
    }
}

/// The replays in `scenarios/`, then the examples in `scenarios/examples/`.
fn scenario_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut all = Vec::new();
    for dir in [root.clone(), root.join("examples")] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        all.extend(files);
    }
    assert!(all.len() >= 11, "scenario files: {all:?}");
    assert!(all.iter().any(|p| p.parent().is_some_and(|d| d.ends_with("examples"))), "the examples are checked too");
    all
}

#[test]
fn every_scenario_file_conforms_to_the_schema() {
    let root = schema();
    for path in scenario_files() {
        let name = path.display();
        let text = std::fs::read_to_string(&path).expect("readable");
        // The file as written (a variant only partly) …
        let written: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let written = serde_json::to_value(&written).expect("TOML is JSON");
        let v = Validator { root: &root, partial: written.get("extends").is_some() };
        let errors = v.errors(&root, &written, "");
        assert!(errors.is_empty(), "{name} as written:\n{}", errors.join("\n"));
        // … and as loaded, its `extends` chain merged in.
        let loaded = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let loaded = serde_json::to_value(&loaded.file).expect("a scenario serializes");
        let errors = Validator { root: &root, partial: false }.errors(&root, &loaded, "");
        assert!(errors.is_empty(), "{name} as loaded:\n{}", errors.join("\n"));
    }
}

/// The validator above can fail: it is not what makes the files pass.
#[test]
fn the_validator_refuses_what_the_schema_forbids() {
    let root = schema();
    let v = Validator { root: &root, partial: false };
    let path = &scenario_files()[0];
    let loaded = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let good = serde_json::to_value(&loaded.file).expect("a scenario serializes");
    assert!(v.errors(&root, &good, "").is_empty());
    let broken: [(&str, Value); 6] = [
        ("/topology/colour", Value::from("blue")),
        ("/topology/mx", Value::from("two")),
        ("/topology/mta/retry", Value::from("qmail")),
        ("/topology/operators/start_hour", Value::from(24)),
        ("/faults", serde_json::json!([{ "at": "1h", "kind": "meteor-strike" }])),
        ("/workload/profiles", serde_json::json!({ "qmail": 1 })),
    ];
    for (pointer, value) in broken {
        let mut bad = good.clone();
        let (parent, field) = pointer.rsplit_once('/').expect("a pointer");
        let object = bad.pointer_mut(parent).and_then(Value::as_object_mut).unwrap_or_else(|| panic!("{parent}"));
        object.insert(field.to_string(), value);
        let errors = v.errors(&root, &bad, "");
        assert!(!errors.is_empty(), "{pointer} broken, yet the file conforms");
    }
    let mut missing = good.clone();
    missing.as_object_mut().expect("an object").remove("run");
    assert!(v.errors(&root, &missing, "").iter().any(|e| e.contains("`run` is missing")));
}

/// Uncertain parameters (`src/ranges.rs`): `{ range = [low, high], reason }`
/// conforms wherever the loader accepts one — a duration, a share, a number,
/// a size, a rate, one end of a pair, a `takes` estimate's bound — and the
/// schema describes it (`$defs/Range`, through `anyOf`). A range without a
/// reason, with three ends, or on a text field does not conform.
#[test]
fn ranges_conform_wherever_the_loader_takes_them() {
    let root = schema();
    let range = root.pointer("/$defs/Range").unwrap_or_else(|| panic!("no $defs/Range"));
    assert!(range.get("description").and_then(Value::as_str).is_some_and(|d| d.contains("range")), "{range}");
    let ranged = r#"
[topology.storage]
rebuild_rate = { range = ["10MB/s", "60MB/s"], reason = "not stated" }
disk_size = { range = ["146GB", "300GB"], reason = "not stated" }
foreground_peak = [{ range = ["30%", "50%"], reason = "not stated" }, "80%"]
stale_disks = { range = [10, 14], reason = "a count" }
[topology.operators]
night_delay = ["30m", { range = ["1h", "3h"], reason = "not stated" }]
[[recovery]]
name = "fix"
action = "rollback-upgrade"
target = "filer"
at = { range = ["1h", "3h"], reason = "a window" }
takes = { min = "1h", max = { range = ["4h", "9h"], reason = "an estimate's bound" }, source = "stated assumption" }
[expect]
lost = { max = { range = [0, 2], reason = "a bound" } }
"#;
    let text = format!("{BASE}\n{ranged}");
    let loaded = Scenario::from_toml(&text, "ranged.toml").unwrap_or_else(|e| panic!("the loader takes it: {e}"));
    assert_eq!(loaded.ranges.len(), 8, "{:?}", loaded.ranges);
    let v = Validator { root: &root, partial: false };
    let as_json = |text: &str| serde_json::to_value(toml::from_str::<toml::Table>(text).expect("TOML")).expect("JSON");
    let errors = v.errors(&root, &as_json(&text), "");
    assert!(errors.is_empty(), "a ranged file does not conform:\n{}", errors.join("\n"));
    for bad in [
        r#"rebuild_rate = { range = ["10MB/s", "60MB/s"] }"#,
        r#"rebuild_rate = { range = ["10MB/s", "30MB/s", "60MB/s"], reason = "three" }"#,
        r#"rebuild_rate = { range = ["10MB/s", "60MB/s"], reason = "r", unit = "MB" }"#,
        r#"placement = { range = ["random", "round-robin"], reason = "text" }"#,
    ] {
        let text = format!("{BASE}\n[topology.storage]\n{bad}");
        assert!(!v.errors(&root, &as_json(&text), "").is_empty(), "`{bad}` conforms");
        assert!(Scenario::from_toml(&text, "bad.toml").is_err(), "`{bad}` loads");
    }
}
