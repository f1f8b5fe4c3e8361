//! Uncertain parameters: a range with its reason in place of a value.
//!
//! Where a postmortem does not pin a parameter down, a scenario file may give
//! the range it is known to lie in, and why, instead of one value:
//!
//! ```toml
//! [topology.storage]
//! rebuild_rate = { range = ["10MB/s", "60MB/s"], reason = "not stated; 2008 FC disks rebuild at 10-60 MB/s" }
//! ```
//!
//! Any field that takes a number, a duration (`"36h"`), a size (`"300GB"`),
//! a byte rate (`"25MB/s"`), a count rate (`"1200/h"`) or a share (`"40%"`)
//! may be ranged, at any depth (a recovery step's `at`, one end of
//! `foreground_peak`, a `takes` estimate's `max` …): the ranges are found in
//! the merged TOML before it is parsed ([`extract`]), so the format's types
//! know nothing of them. Both ends must be of the same kind, the low end below
//! the high end, and `reason` must say something.
//!
//! `run`, `sweep`, `check`, `compare` and the default job use each range's
//! **midpoint** (and `run` and `check` say so); the scenario is also
//! validated with each range at its low and at its high end, the others at
//! their midpoints, so a range that would make the file invalid somewhere
//! is an error at load. `mailsim calibrate` searches the ranges
//! (`calibrate.rs`).

use serde_json::{json, Value};

use crate::error::{FieldPath, Seg};
use crate::units::{parse_byte_rate, parse_count_rate, parse_duration, parse_share, parse_size, HumanDuration, Share};

type Bad = (String, String);

/// What a range's ends are, and the unit they are stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A TOML integer.
    Integer,
    /// A duration, in microseconds.
    Duration,
    /// A share, in parts per million.
    Share,
    /// A size, in bytes.
    Size,
    /// A byte rate, in bytes per second.
    ByteRate,
    /// A count rate, per hour.
    CountRate,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Integer => "number",
            Kind::Duration => "duration",
            Kind::Share => "share",
            Kind::Size => "size",
            Kind::ByteRate => "byte rate",
            Kind::CountRate => "count rate",
        }
    }
}

/// One ranged parameter of a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranged {
    /// Where the range stands (`topology.storage.rebuild_rate`,
    /// `recovery[0].at`).
    pub path: FieldPath,
    pub kind: Kind,
    /// The low and high ends, in the kind's unit; `lo < hi`.
    pub lo: i128,
    pub hi: i128,
    /// Why the value is uncertain, as the file says.
    pub reason: String,
}

impl Ranged {
    /// The value `run`, `sweep` and `check` use: the middle of the range
    /// (rounded down).
    pub fn midpoint(&self) -> i128 {
        self.lo + (self.hi - self.lo).div_euclid(2)
    }

    /// `v` as the file writes it (an exact form the field's parser reads
    /// back to `v`).
    pub fn value(&self, v: i128) -> toml::Value {
        match self.kind {
            Kind::Integer => toml::Value::Integer(i64::try_from(v).unwrap_or(i64::MAX)),
            Kind::Duration => toml::Value::String(HumanDuration(i64::try_from(v).unwrap_or(i64::MAX)).to_string()),
            Kind::Share => toml::Value::String(exact_share(v)),
            Kind::Size => toml::Value::String(exact_bytes(v)),
            Kind::ByteRate => toml::Value::String(format!("{}/s", exact_bytes(v))),
            Kind::CountRate => toml::Value::String(format!("{v}/h")),
        }
    }

    /// `v` as a person reads it in a report: `25.3MB/s`, `35.5h`, `41.2%`.
    pub fn show(&self, v: i128) -> String {
        match self.kind {
            Kind::Integer => v.to_string(),
            Kind::Duration => HumanDuration(i64::try_from(v).unwrap_or(i64::MAX)).readable(),
            Kind::Share => Share(u32::try_from(v).unwrap_or(u32::MAX)).to_string(),
            Kind::Size => readable_bytes(v),
            Kind::ByteRate => format!("{}/s", readable_bytes(v)),
            Kind::CountRate => format!("{v}/h"),
        }
    }

    /// `v` rounded to what a calibrated file should claim: three
    /// significant digits (whole numbers stay whole; shares to 0.01%).
    pub fn round(&self, v: i128) -> i128 {
        match self.kind {
            Kind::Integer | Kind::CountRate => v,
            Kind::Share => (v + 50).div_euclid(100) * 100,
            Kind::Duration | Kind::Size | Kind::ByteRate => {
                let mut unit = 1i128;
                while v.abs() / unit >= 1000 {
                    unit *= 10;
                }
                (v + unit / 2).div_euclid(unit) * unit
            }
        }
    }

    /// One line for a report: `path = mid (range lo to hi: reason)`.
    pub fn describe(&self) -> String {
        format!(
            "{} = {} (midpoint of {} to {}: {})",
            self.path,
            self.show(self.midpoint()),
            self.show(self.lo),
            self.show(self.hi),
            self.reason
        )
    }
}

/// Says on stderr which parameters of `s` run at the midpoints of their
/// ranges (`run`, `sweep`).
pub fn note_midpoints(s: &crate::scenario::Scenario) {
    for r in &s.ranges {
        crate::note!("{}: ranged parameter at its midpoint: {} (`mailsim calibrate` searches the range)", s.name(), r.describe());
    }
}

/// A share in ppm with as many of its four decimals as it needs.
fn exact_share(ppm: i128) -> String {
    let (whole, frac) = (ppm / 10_000, ppm % 10_000);
    if frac == 0 {
        format!("{whole}%")
    } else {
        format!("{whole}.{}%", format!("{frac:04}").trim_end_matches('0'))
    }
}

const BYTE_UNITS: [(&str, i128); 5] = [("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("kB", 1_000), ("B", 1)];

/// Bytes in the largest decimal unit that writes them exactly (at most three
/// decimals, what `parse_size` reads).
fn exact_bytes(b: i128) -> String {
    for (unit, mult) in BYTE_UNITS {
        if b >= mult && (b * 1000) % mult == 0 {
            let milli = b * 1000 / mult;
            let (whole, frac) = (milli / 1000, milli % 1000);
            return if frac == 0 {
                format!("{whole}{unit}")
            } else {
                format!("{whole}.{}{unit}", format!("{frac:03}").trim_end_matches('0'))
            };
        }
    }
    format!("{b}B")
}

/// Bytes rounded for reading: `25.3MB`.
fn readable_bytes(b: i128) -> String {
    for (unit, mult) in BYTE_UNITS {
        if b >= mult && mult > 1 {
            let shown = format!("{:.1}", b as f64 / mult as f64);
            return format!("{}{unit}", shown.strip_suffix(".0").unwrap_or(&shown));
        }
    }
    format!("{b}B")
}

/// One end of a range: its kind and value.
fn parse_end(v: &toml::Value) -> Option<(Kind, i128)> {
    match v {
        toml::Value::Integer(n) => Some((Kind::Integer, i128::from(*n))),
        toml::Value::String(s) => {
            if let Ok(d) = parse_duration(s) {
                return Some((Kind::Duration, i128::from(d.0)));
            }
            if let Ok(sh) = parse_share(s) {
                return Some((Kind::Share, i128::from(sh.ppm())));
            }
            if let Some((amount, _)) = s.rsplit_once('/') {
                // "25MB/s" is bytes (a size unit ends in B), "1200/h" a count.
                if amount.trim_end().ends_with('B') {
                    return parse_byte_rate(s).ok().map(|r| (Kind::ByteRate, i128::from(r)));
                }
                return parse_count_rate(s).ok().map(|r| (Kind::CountRate, i128::from(r)));
            }
            parse_size(s).ok().map(|b| (Kind::Size, i128::from(b)))
        }
        _ => None,
    }
}

/// Finds every `{ range = [a, b], reason = "…" }` in a merged scenario
/// table, checks it, and puts its midpoint in its place. Errors name the
/// field (`topology.storage.rebuild_rate.reason`).
pub fn extract(table: &mut toml::Table) -> Result<Vec<Ranged>, Bad> {
    let mut found = Vec::new();
    for (k, v) in table.iter_mut() {
        walk(v, FieldPath::default().key(k), &mut found)?;
    }
    Ok(found)
}

fn walk(v: &mut toml::Value, path: FieldPath, found: &mut Vec<Ranged>) -> Result<(), Bad> {
    match v {
        toml::Value::Table(t) if t.contains_key("range") => {
            let r = parse_range(t, &path)?;
            *v = r.value(r.midpoint());
            found.push(r);
        }
        toml::Value::Table(t) => {
            for (k, inner) in t.iter_mut() {
                walk(inner, path.clone().key(k), found)?;
            }
        }
        toml::Value::Array(a) => {
            for (i, inner) in a.iter_mut().enumerate() {
                walk(inner, path.clone().index(i), found)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn parse_range(t: &toml::Table, path: &FieldPath) -> Result<Ranged, Bad> {
    let at = |k: &str| path.clone().key(k).to_string();
    if let Some(k) = t.keys().find(|k| *k != "range" && *k != "reason") {
        return Err((at(k), format!("a range takes only `range = [low, high]` and `reason`, not `{k}`")));
    }
    let ends = match t.get("range") {
        Some(toml::Value::Array(a)) if a.len() == 2 => a,
        _ => return Err((at("range"), "give `range = [low, high]`: two values".into())),
    };
    let parsed = [&ends[0], &ends[1]].map(parse_end);
    let [Some((kind, lo)), Some((kind_hi, hi))] = parsed else {
        let bad = if parsed[0].is_none() { &ends[0] } else { &ends[1] };
        return Err((
            at("range"),
            format!("{bad} is not a number, duration, size, rate or share: only a field that takes one of those can be a range"),
        ));
    };
    if kind != kind_hi {
        return Err((at("range"), format!("the ends are a {} and a {}: give both in the same kind", kind.name(), kind_hi.name())));
    }
    let reason = match t.get("reason") {
        Some(toml::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(toml::Value::String(_)) | None => {
            return Err((at("reason"), "a range needs a `reason`: why the value is uncertain and what bounds it".into()))
        }
        Some(_) => return Err((at("reason"), "`reason` is text: why the value is uncertain and what bounds it".into())),
    };
    let r = Ranged { path: path.clone(), kind, lo, hi, reason };
    if lo >= hi {
        return Err((
            at("range"),
            format!(
                "the low end {} is not below the high end {}: give [low, high] (a single value is not a range)",
                r.show(lo),
                r.show(hi)
            ),
        ));
    }
    Ok(r)
}

/// Puts `v` at `path` in a merged table (where [`extract`] found a range).
pub fn set(table: &mut toml::Table, path: &FieldPath, v: toml::Value) {
    let Some((Seg::Key(first), rest)) = path.0.split_first() else { return };
    let Some(mut at) = table.get_mut(first) else { return };
    for seg in rest {
        let next = match (seg, at) {
            (Seg::Key(k), toml::Value::Table(t)) => t.get_mut(k),
            (Seg::Index(i), toml::Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        let Some(next) = next else { return };
        at = next;
    }
    *at = v;
}

/// Text fields that take a size or a rate, and so may be ranged: their
/// schema is a plain string, so they are named here.
pub const RANGED_TEXT_FIELDS: [&str; 6] = ["disk_size", "rebuild_rate", "rebuild_rate_total", "volume_size", "migration_rate", "rate"];

/// Makes a scenario file's JSON Schema accept `{ range = [low, high],
/// reason }` wherever a value may be ranged: every number, duration and
/// share, and the size and rate fields of [`RANGED_TEXT_FIELDS`]. Each such
/// value's schema becomes `anyOf: [its schema, Range]` (never `oneOf`), its
/// description kept on the outside; `$defs/Range` describes the range.
pub fn allow_in_schema(root: &mut Value) {
    visit_schema(root);
    if let Some(defs) = root.get_mut("$defs").and_then(Value::as_object_mut) {
        defs.insert("Range".to_string(), range_schema());
    }
}

/// Whether a schema node (of the property `name`, if one) takes a value that
/// may be ranged: a number, a duration or share, or a size or rate text.
fn rangeable(name: Option<&str>, node: &Value) -> bool {
    let Some(map) = node.as_object() else { return false };
    if map.contains_key("enum") || map.contains_key("anyOf") {
        return false;
    }
    if let Some(r) = map.get("$ref").and_then(Value::as_str) {
        return r == "#/$defs/Duration" || r == "#/$defs/Share";
    }
    let types: Vec<&str> = match map.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return false,
    };
    let numeric = types.iter().any(|t| *t == "integer" || *t == "number");
    let text = types.contains(&"string") && name.is_some_and(|n| RANGED_TEXT_FIELDS.contains(&n));
    numeric || text
}

/// Makes a schema node accept a range too: `anyOf: [it, Range]`, with its
/// description on the outside.
fn wrap_in_range(node: &mut Value) {
    let mut inner = node.take();
    let description = inner.as_object_mut().and_then(|m| m.remove("description"));
    let mut outer = json!({ "anyOf": [inner, { "$ref": "#/$defs/Range" }] });
    if let Some(d) = description {
        outer["description"] = d;
    }
    *node = outer;
}

/// Wraps a rangeable node, or else looks for rangeable nodes inside it.
fn wrap_or_visit(name: Option<&str>, node: &mut Value) {
    if rangeable(name, node) {
        wrap_in_range(node);
    } else {
        visit_schema(node);
    }
}

/// Wraps the rangeable nodes among a schema node's properties, items,
/// additional properties, branches and definitions, at any depth.
fn visit_schema(node: &mut Value) {
    let Some(map) = node.as_object_mut() else { return };
    for (key, value) in map.iter_mut() {
        match key.as_str() {
            "properties" => {
                for (name, prop) in value.as_object_mut().into_iter().flatten() {
                    wrap_or_visit(Some(name), prop);
                }
            }
            "items" | "additionalProperties" => wrap_or_visit(None, value),
            "anyOf" | "allOf" => {
                for branch in value.as_array_mut().into_iter().flatten() {
                    wrap_or_visit(None, branch);
                }
            }
            "$defs" => {
                for def in value.as_object_mut().into_iter().flatten().map(|(_, d)| d) {
                    visit_schema(def);
                }
            }
            _ => {}
        }
    }
}

/// The schema of a range: `{ range = [low, high], reason }`.
fn range_schema() -> Value {
    json!({
        "type": "object",
        "description": "An uncertain parameter: the range it is known to lie in and why, in place of one value (`run` uses the midpoint, `mailsim calibrate` searches the range). Both ends of the same kind as the field's value, the low end first.",
        "properties": {
            "range": {
                "type": "array",
                "description": "[low, high]: two numbers, durations, sizes, rates or shares of one kind, low below high.",
                "items": { "type": ["integer", "string"] },
                "minItems": 2,
                "maxItems": 2
            },
            "reason": { "type": "string", "description": "Why the value is uncertain and what bounds it (required)." }
        },
        "required": ["range", "reason"],
        "additionalProperties": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("valid toml")
    }

    #[test]
    fn ranges_are_found_at_any_depth_and_replaced_by_their_midpoints() {
        let mut t = table(
            r#"
            [topology.storage]
            rebuild_rate = { range = ["10MB/s", "60MB/s"], reason = "not stated" }
            foreground_peak = [{ range = ["20%", "40%"], reason = "a guess" }, "80%"]
            appends_per_s = { range = [50, 151], reason = "shared filer" }
            [[recovery]]
            at = { range = ["1h", "3h"], reason = "the posts say 'early afternoon'" }
            "#,
        );
        let found = extract(&mut t).expect("valid ranges");
        let mut paths: Vec<String> = found.iter().map(|r| r.path.to_string()).collect();
        paths.sort();
        assert_eq!(
            paths,
            ["recovery[0].at", "topology.storage.appends_per_s", "topology.storage.foreground_peak[0]", "topology.storage.rebuild_rate"]
        );
        let want = table(
            r#"
            [topology.storage]
            rebuild_rate = "35MB/s"
            foreground_peak = ["30%", "80%"]
            appends_per_s = 100
            [[recovery]]
            at = "2h"
            "#,
        );
        assert_eq!(t, want);
    }

    #[test]
    fn every_kind_writes_back_what_it_parses() {
        for (lo, hi, mid) in [
            ("1h", "2h", "1h30m"),
            ("10%", "10.0003%", "10.0001%"),
            ("300GB", "301GB", "300.5GB"),
            ("1MB/s", "2MB/s", "1.5MB/s"),
            ("100/h", "201/h", "150/h"),
        ] {
            let mut t = table(&format!("x = {{ range = [\"{lo}\", \"{hi}\"], reason = \"r\" }}"));
            let r = extract(&mut t).expect("valid").remove(0);
            assert_eq!(t["x"].as_str(), Some(mid), "{lo}..{hi}");
            assert_eq!(parse_end(&t["x"]).map(|e| e.1), Some(r.midpoint()));
        }
    }

    #[test]
    fn bad_ranges_name_the_field_and_say_what_is_wrong() {
        for (text, field, words) in [
            (r#"a = { b = { range = ["60MB/s", "10MB/s"], reason = "r" } }"#, "a.b.range", "not below"),
            (r#"a = { range = ["1h", "1h"], reason = "r" }"#, "a.range", "not below"),
            (r#"a = { range = ["1h", "2h"] }"#, "a.reason", "needs a `reason`"),
            (r#"a = { range = ["1h", "2h"], reason = " " }"#, "a.reason", "needs a `reason`"),
            (r#"a = { range = ["random", "round-robin"], reason = "r" }"#, "a.range", "only a field that takes"),
            (r#"a = { range = ["1h", "10%"], reason = "r" }"#, "a.range", "same kind"),
            (r#"a = { range = [1], reason = "r" }"#, "a.range", "two values"),
            (r#"a = { range = [1, 2], reason = "r", mode = 1 }"#, "a.mode", "only"),
            (r#"a = [{ range = [true, false], reason = "r" }]"#, "a[0].range", "only a field that takes"),
        ] {
            let (f, m) = extract(&mut table(text)).expect_err(text);
            assert_eq!(f, field, "{text}");
            assert!(m.contains(words), "{text}: {m}");
        }
    }

    #[test]
    fn rounding_keeps_three_significant_digits() {
        let r = Ranged { path: FieldPath::parse("x"), kind: Kind::ByteRate, lo: 0, hi: 1, reason: String::new() };
        assert_eq!(r.round(25_345_678), 25_300_000);
        assert_eq!(r.value(r.round(25_345_678)).as_str(), Some("25.3MB/s"));
        let s = Ranged { kind: Kind::Share, ..r };
        assert_eq!(s.round(412_345), 412_300);
    }
}
