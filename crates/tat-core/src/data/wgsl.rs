//! The natural-language-to-WGSL dataset: a TOML file of `[[examples]]` tables, each with a
//! `natural_language` request, the `wgsl_code` answer and a `category`.
//!
//! Surrounding whitespace is not part of an example: prompts and categories are trimmed, and
//! code loses trailing whitespace (a `'''` block ends with a newline no model should learn to emit).
//!
//! An example may name its `split` (`train`, `val` or `test`): a generated dataset holds out whole
//! template combinations that way. When every example names one, that assignment is the split;
//! when none does, the run's seed and ratios split the file.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_path_to_error::Segment;
use toml::Spanned;

use crate::error::{read_text, Result, TatError};
use crate::rng::SplitMix64;
use crate::text::line_col;
use crate::wgsl::validate_snippet;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Example {
    pub natural_language: String,
    pub wgsl_code: String,
    pub category: String,
    /// The split the file assigns this example to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
}

/// A part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

impl std::str::FromStr for Split {
    type Err = TatError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "val" => Ok(Split::Val),
            "test" => Ok(Split::Test),
            other => Err(TatError::Usage(format!("unknown split `{other}`: expected train, val or test"))),
        }
    }
}

/// What one `[[examples]]` table must hold; spans locate later complaints (empty, duplicate).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExample {
    natural_language: Spanned<String>,
    wgsl_code: Spanned<String>,
    category: Spanned<String>,
    #[serde(default)]
    split: Option<Spanned<Split>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    examples: Vec<RawExample>,
}

const SCHEMA: &str = "each [[examples]] table holds three strings, natural_language, wgsl_code and category, \
                      and optionally split (\"train\", \"val\" or \"test\")";

/// Reads and checks the shape of a dataset file (not its WGSL: see [`check_examples`]).
pub fn load_examples(path: &Path) -> Result<Vec<Example>> {
    let text = read_text(path, TatError::Dataset)?;
    let file = path.display();
    let raw: RawFile = deserialize_toml(path, &text, SCHEMA)?;
    if raw.examples.is_empty() {
        return Err(TatError::Dataset(format!("{file}: no [[examples]] tables; {SCHEMA}")));
    }
    let problems = shape_problems(&raw.examples, &text);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| format!("{file}{p}")).collect();
        return Err(TatError::Dataset(list.join("\n")));
    }
    Ok(raw.examples.into_iter().map(RawExample::into_example).collect())
}

impl RawExample {
    fn into_example(self) -> Example {
        Example {
            natural_language: self.natural_language.into_inner().trim().to_string(),
            wgsl_code: self.wgsl_code.into_inner().trim_end().to_string(),
            category: self.category.into_inner().trim().to_string(),
            split: self.split.map(Spanned::into_inner),
        }
    }
}

/// Empty fields and repeated prompts, each as `:line:col: examples[i].field: ...`. A repeated
/// prompt would let the same request sit in both the training and the test split.
fn shape_problems(examples: &[RawExample], text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    let with_split = examples.iter().filter(|e| e.split.is_some()).count();
    if with_split > 0 && with_split < examples.len() {
        let (i, example) = examples.iter().enumerate().find(|(_, e)| e.split.is_none()).expect("one lacks a split");
        problems.push(format!(
            "{}: examples[{i}]: no split, while {with_split} of {} examples name one; either every example \
             names its split (\"train\", \"val\" or \"test\") or none does",
            at(text, Some(example.category.span())),
            examples.len()
        ));
    }
    for (i, example) in examples.iter().enumerate() {
        let fields = [
            ("natural_language", &example.natural_language, "an English request"),
            ("wgsl_code", &example.wgsl_code, "the WGSL answer"),
            ("category", &example.category, "a category such as \"color\" or \"fragment_shader\""),
        ];
        for (name, value, expected) in fields {
            if value.get_ref().trim().is_empty() {
                let at = at(text, Some(value.span()));
                problems.push(format!("{at}: examples[{i}].{name}: empty; expected {expected}"));
            }
        }
        let prompt = example.natural_language.get_ref().trim();
        if prompt.is_empty() {
            continue;
        }
        match first_seen.get(prompt) {
            Some(&j) => {
                let (here, there) = (example.natural_language.span(), examples[j].natural_language.span());
                problems.push(format!(
                    "{}: examples[{i}].natural_language: {prompt:?} repeats examples[{j}] (line {}); every prompt must be unique",
                    at(text, Some(here)),
                    line_col(text, there.start).0,
                ));
            }
            None => {
                first_seen.insert(prompt, i);
            }
        }
    }
    problems
}

/// A TOML file's text as `T`; an error names the file, line, column and field path, quotes what
/// stands there when the TOML itself is broken, and ends with `schema` (what the file must hold).
pub(crate) fn deserialize_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str, schema: &str) -> Result<T> {
    let file = path.display();
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        // What stands at the place (a duplicate key names no key), on one line and short.
        let quoted = e
            .span()
            .and_then(|span| text.get(span))
            .map(|s| s.lines().next().unwrap_or("").trim())
            .filter(|s| !s.is_empty())
            .map_or(String::new(), |s| format!(" at `{}`", s.chars().take(40).collect::<String>()));
        TatError::Dataset(format!(
            "{file}{}: invalid TOML{quoted}: {}. Fix: correct the TOML syntax at that position ({schema}).",
            at(text, e.span()),
            e.message().trim().trim_end_matches('.')
        ))
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = match field_path(e.path()) {
            path if path.is_empty() => String::new(),
            path => format!(" {path}:"),
        };
        let message = e.inner().message().trim();
        let hint = if message.contains("expected") { String::new() } else { format!("; {schema}") };
        TatError::Dataset(format!("{file}{}:{field} {message}{hint}", at(text, e.inner().span())))
    })
}

/// `examples[3].category`: serde_path_to_error's path without the private key through which
/// `toml::Spanned` reaches its value.
fn field_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if key.starts_with("$__serde_spanned") => {}
            other => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&other.to_string());
            }
        }
    }
    out
}

/// `:line:col` for a span's start, or nothing when the error has no span.
pub(crate) fn at(text: &str, span: Option<Range<usize>>) -> String {
    span.map_or(String::new(), |span| {
        let (line, column) = line_col(text, span.start);
        format!(":{line}:{column}")
    })
}

/// Train, validation and test items (examples; the corpus's shaders).
#[derive(Debug, Clone)]
pub struct Splits<T = Example> {
    pub train: Vec<T>,
    pub val: Vec<T>,
    pub test: Vec<T>,
}

impl<T> Default for Splits<T> {
    fn default() -> Self {
        Splits { train: Vec::new(), val: Vec::new(), test: Vec::new() }
    }
}

/// Stream id for the split, so it is independent of the per-epoch shuffles drawn from the same
/// seed (those use the epoch number as stream).
const SPLIT_STREAM: u64 = 0x5350_4C49_5400_0000;

/// The file's own assignment when its examples name their split, else [`split_examples`].
pub fn assign_splits(examples: Vec<Example>, train_ratio: f64, val_ratio: f64, seed: u64) -> Splits {
    if examples.iter().all(|e| e.split.is_none()) {
        return split_examples(examples, train_ratio, val_ratio, seed);
    }
    let mut splits = Splits { train: vec![], val: vec![], test: vec![] };
    for example in examples {
        match example.split {
            Some(Split::Val) => splits.val.push(example),
            Some(Split::Test) => splits.test.push(example),
            _ => splits.train.push(example),
        }
    }
    splits
}

impl<T> Splits<T> {
    pub fn get(&self, split: Split) -> &[T] {
        match split {
            Split::Train => &self.train,
            Split::Val => &self.val,
            Split::Test => &self.test,
        }
    }
}

/// A seeded shuffle cut into train, val and test (the rest). With three or more examples every
/// split gets at least one, taken from the largest (train, normally) when rounding leaves one empty.
pub fn split_examples(mut examples: Vec<Example>, train_ratio: f64, val_ratio: f64, seed: u64) -> Splits {
    SplitMix64::derived(seed, SPLIT_STREAM).shuffle(&mut examples);
    let n = examples.len();
    let share = |ratio: f64| ((n as f64 * ratio.clamp(0.0, 1.0)).round() as usize).min(n);
    let n_train = share(train_ratio);
    let n_val = share(val_ratio).min(n - n_train);
    let mut counts = [n_train, n_val, n - n_train - n_val];
    if n >= 3 {
        for empty in 0..3 {
            if counts[empty] == 0 {
                let largest = (0..3).max_by_key(|&j| (counts[j], std::cmp::Reverse(j))).unwrap_or(0);
                counts[largest] -= 1;
                counts[empty] = 1;
            }
        }
    }
    let test = examples.split_off(counts[0] + counts[1]);
    let val = examples.split_off(counts[0]);
    Splits { train: examples, val, test }
}

/// Every example's code passes [`validate_snippet`]; the error lists each one that does not,
/// with its prompt and first diagnostic (line and column within `wgsl_code`).
pub fn check_examples(path: &Path, examples: &[Example]) -> Result<()> {
    let failures: Vec<String> = examples
        .iter()
        .enumerate()
        .filter_map(|(i, example)| {
            let diagnostic = validate_snippet(&example.wgsl_code).into_iter().next()?;
            let location = diagnostic.render(&format!("examples[{i}].wgsl_code"));
            Some(format!("  {location} (prompt {:?})", example.natural_language))
        })
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    Err(TatError::Dataset(format!(
        "{}: {} of {} examples are not valid WGSL:\n{}\nFix: correct each `wgsl_code` (check one with \
         `tiny-agent-trainer validate --snippet FILE`), or remove the example.",
        path.display(),
        failures.len(),
        examples.len(),
        failures.join("\n")
    )))
}
