//! Turning TOML and schema failures into one-paragraph errors: `file:line:col: field `a.b`: ...`.

use serde::de::DeserializeOwned;

use crate::error::TatError;
use crate::text::{line_col, one_line};

/// Brackets a field path inside a model section in a deserialization message: serde's path
/// tracking stops at the section, whose keys depend on its `architecture` (see `model.rs`).
pub(super) const INNER_PATH: char = '\u{1f}';

/// A value that parsed but is out of range; located in the text when the error is built.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigIssue {
    pub field: String,
    pub found: String,
    pub expected: String,
}

impl ConfigIssue {
    pub fn new(field: &str, found: String, expected: &str) -> Self {
        Self { field: field.to_string(), found, expected: expected.to_string() }
    }

    pub fn into_error(self, text: &str, file: &str) -> TatError {
        let path: Vec<&str> = self.field.split('.').collect();
        let place = match key_offset(text, &path) {
            Some(offset) => {
                let (line, col) = line_col(text, offset);
                format!("{file}:{line}:{col}")
            }
            None => file.to_string(),
        };
        TatError::Config(format!(
            "{place}: field `{}`: found {}, expected {}. Fix: set `{}` to {}.",
            self.field, self.found, self.expected, self.field, self.expected
        ))
    }
}

/// Deserializes `text`, reporting the field path and position of the first failure.
pub fn deserialize<T: DeserializeOwned>(text: &str, file: &str) -> Result<T, TatError> {
    let de = toml::Deserializer::parse(text).map_err(|e| {
        let place = place_of(text, file, e.span());
        TatError::Config(format!(
            "{place}: not valid TOML: {}. Fix: correct the TOML syntax at that position.",
            one_line(e.message()).trim_end_matches('.')
        ))
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut field = e.path().to_string();
        let inner = e.into_inner();
        let mut message = inner.message().to_string();
        let mut span = inner.span();
        let mut note = None;
        if let Some((within, rest)) = message.strip_prefix(INNER_PATH).and_then(|m| m.split_once(INNER_PATH)) {
            if !within.is_empty() && within != "." {
                field = format!("{field}.{within}");
            }
            message = rest.to_string();
            if let Some((text, why)) = message.split_once(INNER_PATH) {
                note = Some(why.to_string());
                message = text.to_string();
            }
            // The span is the whole section's: point at the unknown key, or at the bad value,
            // when the file has them.
            let unknown = message.strip_prefix("unknown field `").map(|rest| rest.split('`').next().unwrap_or(""));
            let key = match unknown {
                Some(name) if !field.ends_with(name) => format!("{field}.{name}"),
                _ => field.clone(),
            };
            let path: Vec<&str> = key.split('.').collect();
            if let Some((key_at, value_at)) = offsets(text, &path) {
                let at = if unknown.is_some() { key_at } else { value_at };
                span = Some(at..at);
            }
        }
        let place = place_of(text, file, span);
        TatError::Config(format!(
            "{place}: {}",
            explain(&field, one_line(&message).trim_end_matches('.'), note.as_deref())
        ))
    })
}

/// The message of a deserialization failure at `field`, with a fix; `note` (the architecture
/// a misplaced model key belongs to) goes before the fix.
fn explain(field: &str, message: &str, note: Option<&str>) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let options: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let section = field.rsplit_once('.').map(|(s, _)| s).unwrap_or("");
        let full =
            if section.is_empty() || field.ends_with(name) { field.to_string() } else { format!("{section}.{name}") };
        let hint = match closest(name, &options) {
            Some(best) => format!(" Did you mean `{best}`?"),
            None => String::new(),
        };
        let options = options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ");
        return match note {
            Some(note) => format!(
                "unknown field `{full}`; expected one of {options}. {note}. Fix: set the section's `architecture`, or remove the key."
            ),
            None => format!(
                "unknown field `{full}`; expected one of {options}.{hint} Fix: rename or remove it (unknown keys are rejected so typos cannot pass silently)."
            ),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        // Only sections are required at the top level.
        let (full, fix) = if field == "." || field.is_empty() {
            (name.to_string(), format!("add a `[{name}]` section"))
        } else {
            (format!("{field}.{name}"), format!("add `{name} = ...`"))
        };
        return format!("missing field `{full}`. Fix: {fix} (see `tiny-agent-trainer show --config config/wgsl_small.toml` for a complete example).");
    }
    let message = message
        .replace("expected f64", "expected a number")
        .replace("expected usize", "expected a whole number >= 0")
        .replace("expected u64", "expected a whole number >= 0")
        .replace("expected i64", "expected a whole number")
        .replace("expected path string", "expected a string (a file path)");
    // serde names the Rust struct behind a section given as a plain value; users know it as a table.
    let message = match message.split_once(", expected struct ") {
        Some((found, _)) => format!("{found}, expected a table (a `[{field}]` section)"),
        None => message,
    };
    // An integer past 64 bits reaches serde as an i128 "of the wrong type": to a user it is out of range.
    let message = match message.strip_prefix("invalid type: integer ").and_then(|m| m.split_once("` as i128")) {
        Some((number, rest)) => format!("invalid value: integer {number}`{rest}"),
        None => message,
    };
    format!("field `{field}`: {message}. Fix: give `{field}` a value of the expected type.")
}

/// The expected name within edit distance 2 of `name`, if any.
fn closest<'a>(name: &str, options: &[&'a str]) -> Option<&'a str> {
    options.iter().map(|o| (edit_distance(name, o), *o)).filter(|(d, _)| *d <= 2).min().map(|(_, o)| o)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn place_of(text: &str, file: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            format!("{file}:{line}:{col}")
        }
        None => file.to_string(),
    }
}

/// Byte offset of the key at `path` (e.g. `["model", "nhead"]`), if the file sets it.
fn key_offset(text: &str, path: &[&str]) -> Option<usize> {
    offsets(text, path).map(|(key, _)| key)
}

/// Byte offsets of the key at `path` and of its value, if the file sets it.
fn offsets(text: &str, path: &[&str]) -> Option<(usize, usize)> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    for (depth, part) in path.iter().enumerate() {
        let (key, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *part)?;
        if depth + 1 == path.len() {
            return Some((key.span().start, value.span().start));
        }
        match value.get_ref() {
            toml::de::DeValue::Table(t) => table = t,
            _ => return None,
        }
    }
    None
}
