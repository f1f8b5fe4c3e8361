//! Scenario errors that name the file, the line and the field.
//!
//! Every problem with a scenario file — a TOML syntax error, an unknown field,
//! an unknown fault kind, a target that names nothing in the topology, an
//! impossible value — becomes one `ScenarioError` saying where it is, so that
//! `mailsim check` and `mailsim run` can point at it and exit non-zero instead
//! of panicking or running half a scenario.

use std::fmt;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One step of a path into a TOML document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A field path such as `faults[2].target`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub fn key(mut self, k: &str) -> FieldPath {
        self.0.push(Seg::Key(k.to_string()));
        self
    }
    pub fn index(mut self, i: usize) -> FieldPath {
        self.0.push(Seg::Index(i));
        self
    }
    pub fn parse(dotted: &str) -> FieldPath {
        let mut p = FieldPath::default();
        for part in dotted.split('.') {
            let (name, rest) = part.split_once('[').unwrap_or((part, ""));
            if !name.is_empty() {
                p.0.push(Seg::Key(name.to_string()));
            }
            for idx in rest.split('[') {
                if let Ok(i) = idx.trim_end_matches(']').parse() {
                    p.0.push(Seg::Index(i));
                }
            }
        }
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A scenario that does not validate, before it is located in a file: the
/// field at fault, as a path (`faults[2].at`), and what is wrong with it.
/// What [`Scenario::from_file`](crate::scenario::Scenario::from_file),
/// [`Scenario::with_values`](crate::scenario::Scenario::with_values) and
/// [`build_topology`](crate::scenario::build_topology) return;
/// `Scenario::load` turns it into a [`ScenarioError`] with the line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidField {
    /// The field, as a path from the top of the file (`faults[2].at`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl From<(String, String)> for InvalidField {
    /// From the validators' (field, message).
    fn from((field, message): (String, String)) -> InvalidField {
        InvalidField { field, message }
    }
}

/// What is wrong with a scenario, and where.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {source}")]
    Io { file: PathBuf, source: std::io::Error },
    #[error("{file}:{line}:{column}: {message}{}", field_suffix(.field))]
    At { file: PathBuf, line: usize, column: usize, field: Option<FieldPath>, message: String },
    /// An error about the file as a whole (too large to read): located by a
    /// byte offset rather than a line.
    #[error("{file}: byte {offset}: {message}{}", field_suffix(.field))]
    AtByte { file: PathBuf, offset: u64, field: Option<FieldPath>, message: String },
    #[error("{file}: {message}{}", field_suffix(.field))]
    Nowhere { file: PathBuf, field: Option<FieldPath>, message: String },
}

fn field_suffix(field: &Option<FieldPath>) -> String {
    match field {
        Some(p) if !p.0.is_empty() => format!(" (field `{p}`)"),
        _ => String::new(),
    }
}

impl ScenarioError {
    /// An error at a byte offset of a file's text.
    pub fn at_offset(file: &Path, text: &str, offset: usize, field: Option<FieldPath>, message: String) -> ScenarioError {
        let (line, column) = line_col(text, offset);
        ScenarioError::At { file: file.to_path_buf(), line, column, field, message }
    }

    /// An error about a field: located at the field when it is written in
    /// the file's text, else at the nearest enclosing table or array that is
    /// (a field left at its default is reported where its table is), else at
    /// the start of the file — always with a line.
    pub fn at_field(file: &Path, text: &str, field: FieldPath, message: String) -> ScenarioError {
        let offset = locate(text, &field).unwrap_or(0);
        ScenarioError::at_offset(file, text, offset, Some(field), message)
    }

    pub fn file(&self) -> &Path {
        match self {
            ScenarioError::Io { file, .. }
            | ScenarioError::At { file, .. }
            | ScenarioError::AtByte { file, .. }
            | ScenarioError::Nowhere { file, .. } => file,
        }
    }
    pub fn line(&self) -> Option<usize> {
        match self {
            ScenarioError::At { line, .. } => Some(*line),
            _ => None,
        }
    }
    /// Whether the error says where in the file it is (a line or a byte
    /// offset); only I/O errors and errors about a file's own name do not.
    pub fn is_located(&self) -> bool {
        matches!(self, ScenarioError::At { .. } | ScenarioError::AtByte { .. })
    }
    pub fn field(&self) -> Option<&FieldPath> {
        match self {
            ScenarioError::At { field, .. } | ScenarioError::AtByte { field, .. } | ScenarioError::Nowhere { field, .. } => field.as_ref(),
            _ => None,
        }
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

/// The byte offset where `path` is written in a TOML text: the value if the
/// path reaches one, else the deepest key or table that exists on the way;
/// `None` if not even the first key is written (or the text does not parse).
pub fn locate(text: &str, path: &FieldPath) -> Option<usize> {
    find(text, path).0
}

/// Whether the whole of `path` is written in a TOML text.
pub fn is_written(text: &str, path: &FieldPath) -> bool {
    find(text, path).1
}

/// The offset `locate` gives, and whether the path was found to its end.
fn find(text: &str, path: &FieldPath) -> (Option<usize>, bool) {
    let Ok(doc) = DeTable::parse(text) else { return (None, false) };
    let mut best: Option<usize> = None;
    let table: &DeTable<'_> = doc.get_ref();
    let mut value: Option<&Spanned<DeValue<'_>>> = None;
    for seg in &path.0 {
        match seg {
            Seg::Key(k) => {
                let t = match value {
                    None => table,
                    Some(v) => match v.get_ref() {
                        DeValue::Table(t) => t,
                        _ => return (best, false),
                    },
                };
                let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == k.as_str()) else { return (best, false) };
                best = Some(key.span().start);
                value = Some(v);
            }
            Seg::Index(i) => {
                let Some(DeValue::Array(a)) = value.map(|v| v.get_ref()) else { return (best, false) };
                let Some(v) = a.get(*i) else { return (best, false) };
                best = Some(v.span().start);
                value = Some(v);
            }
        }
    }
    match value {
        // Point at the value of a scalar field, at the key of a table.
        Some(v) if !matches!(v.get_ref(), DeValue::Table(_) | DeValue::Array(_)) => (Some(v.span().start), true),
        Some(_) => (best, true),
        None => (best, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str =
        "[scenario]\nname = \"x\"\n\n[[faults]]\nat = \"1h\"\nkind = \"crash\"\n\n[[faults]]\nat = \"2h\"\ntarget = \"mx-9\"\n";

    #[test]
    fn locates_fields_by_path() {
        let off = locate(DOC, &FieldPath::parse("faults[1].target")).unwrap();
        assert_eq!(line_col(DOC, off).0, 10);
        let off = locate(DOC, &FieldPath::parse("scenario.name")).unwrap();
        assert_eq!(line_col(DOC, off).0, 2);
        let off = locate(DOC, &FieldPath::parse("faults[0].kind")).unwrap();
        assert_eq!(line_col(DOC, off), (6, 8));
    }

    #[test]
    fn path_display_round_trips() {
        let p = FieldPath::parse("faults[3].target");
        assert_eq!(p.to_string(), "faults[3].target");
        assert_eq!(p, FieldPath::default().key("faults").index(3).key("target"));
    }
}
