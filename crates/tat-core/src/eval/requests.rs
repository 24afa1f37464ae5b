//! How a WGSL model answers requests in free phrasing ([`crate::data::requests`]): the share of
//! answers naga accepts as the kind asked for, and the share that are right, per category, per
//! kind and overall.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{decoding_suffix, normalise_whitespace, save_report};
use crate::data::requests::{judge, Kind, Request, Verdict};
use crate::error::{Result, TatError};
use crate::generate::{Constrain, Constraint, DecodeOptions, Generator};

/// One request, answered and judged.
#[derive(Debug, Clone, Serialize)]
pub struct RequestResult {
    pub category: String,
    pub kind: Kind,
    pub request: String,
    pub output: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Shares of a group of requests, in percent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub requests: usize,
    /// naga accepts the answer as the kind asked for validates it (snippet or module).
    pub valid: f64,
    /// Valid and of the right kind and stage.
    pub right_kind: f64,
    /// Equal to an accepted answer.
    pub exact: f64,
    /// Right by the request's own test.
    pub right: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestReport {
    pub model: PathBuf,
    pub set: String,
    pub beam: usize,
    pub prefer_valid: bool,
    /// The kind answers were constrained to (`requested`: each request's), if any.
    pub constrain: Option<String>,
    pub overall: Tally,
    pub per_kind: BTreeMap<String, Tally>,
    pub per_category: BTreeMap<String, Tally>,
    pub results: Vec<RequestResult>,
}

/// Answers every request (in batches of 16) and judges the answers. `set` names the report
/// (`eval_<checkpoint>_<set>.json`).
pub fn evaluate_requests(
    generator: &Generator,
    model: &Path,
    set: &str,
    requests: &[Request],
    options: &DecodeOptions,
    mut on_progress: impl FnMut(usize, usize),
) -> Result<RequestReport> {
    if requests.is_empty() {
        return Err(TatError::Usage("eval: the request file has no requests".into()));
    }
    let mut results = Vec::with_capacity(requests.len());
    for chunk in requests.chunks(16) {
        let prompts: Vec<&str> = chunk.iter().map(|r| r.request.as_str()).collect();
        let outputs = match options.constrain {
            Some(Constrain::AsRequested) => {
                let constraints: Vec<Constraint> =
                    chunk.iter().map(|r| Constraint { kind: r.kind, stage: r.stage }).collect();
                generator.answer_constrained(&prompts, &constraints, options)
            }
            _ => generator.answer(&prompts, options),
        };
        for (request, output) in chunk.iter().zip(outputs) {
            results.push(RequestResult {
                category: request.category.clone(),
                kind: request.kind,
                request: request.request.clone(),
                verdict: judge(request, &output),
                output,
            });
        }
        on_progress(results.len(), requests.len());
    }
    let group = |key: &dyn Fn(&RequestResult) -> String| {
        let mut groups: BTreeMap<String, Vec<&RequestResult>> = BTreeMap::new();
        for r in &results {
            groups.entry(key(r)).or_default().push(r);
        }
        groups.into_iter().map(|(k, rs)| (k, tally(&rs))).collect::<BTreeMap<_, _>>()
    };
    let per_kind = group(&|r| r.kind.name().to_string());
    let per_category = group(&|r| r.category.clone());
    Ok(RequestReport {
        model: model.to_path_buf(),
        set: set.to_string(),
        beam: options.beam,
        prefer_valid: options.prefer_valid,
        constrain: options.constrain.map(|c| c.name().to_string()),
        overall: tally(&results.iter().collect::<Vec<_>>()),
        per_kind,
        per_category,
        results,
    })
}

/// [`evaluate_requests`] on the requests of `file` ([`crate::data::requests::load_requests`]), the
/// report named after the file's stem (`eval_<checkpoint>_wgsl_free_requests.json`).
pub fn evaluate_request_file(
    generator: &Generator,
    model: &Path,
    file: &Path,
    options: &DecodeOptions,
    on_progress: impl FnMut(usize, usize),
) -> Result<RequestReport> {
    let requests = crate::data::requests::load_requests(file)?;
    let set = file.file_stem().map_or("requests".into(), |s| s.to_string_lossy().into_owned());
    evaluate_requests(generator, model, &set, &requests, options, on_progress)
}

fn tally(results: &[&RequestResult]) -> Tally {
    let share = |test: fn(&Verdict) -> bool| {
        100.0 * results.iter().filter(|r| test(&r.verdict)).count() as f64 / results.len().max(1) as f64
    };
    Tally {
        requests: results.len(),
        valid: share(|v| v.valid),
        right_kind: share(|v| v.right_kind),
        exact: share(|v| v.exact),
        right: share(|v| v.right),
    }
}

impl RequestReport {
    /// A fixed-width table: a row per category, then per kind, then the total.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<22} {:>5} {:>7} {:>11} {:>7} {:>7}\n",
            "category", "n", "valid", "right kind", "exact", "right"
        );
        let row = |name: &str, t: &Tally| {
            format!(
                "{name:<22} {:>5} {:>6.1}% {:>10.1}% {:>6.1}% {:>6.1}%\n",
                t.requests, t.valid, t.right_kind, t.exact, t.right
            )
        };
        for (category, t) in &self.per_category {
            out.push_str(&row(category, t));
        }
        for (kind, t) in &self.per_kind {
            out.push_str(&row(&format!("({kind})"), t));
        }
        out.push_str(&row("overall", &self.overall));
        out
    }

    /// Each request whose answer is not right: its category and kind, the request, why, and the
    /// answer (whitespace normalised).
    pub fn misses(&self) -> String {
        let mut out = String::new();
        for r in self.results.iter().filter(|r| !r.verdict.right) {
            out.push_str(&format!(
                "[{} / {}] {}: {}\n  got: {}\n",
                r.category,
                r.kind.name(),
                r.request,
                r.verdict.why.as_deref().unwrap_or(""),
                normalise_whitespace(&r.output)
            ));
        }
        out
    }

    /// Writes the report as JSON beside the checkpoint: `<run>/eval_<checkpoint>_<set>.json`,
    /// the decoding after the set when it is not greedy (`_constrained_requested`, ...).
    pub fn save(&self, checkpoint_dir: &Path) -> Result<PathBuf> {
        let suffix = decoding_suffix(self.beam, self.prefer_valid, self.constrain.as_deref());
        save_report(self, checkpoint_dir, &format!("{}{suffix}", self.set))
    }
}
