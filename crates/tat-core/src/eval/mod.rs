//! How good a WGSL model is on a set of examples: token accuracy under teacher forcing, exact
//! match (whitespace-normalised), chrF, and the share of generated outputs that naga accepts,
//! overall, per category and over the examples whose reference is a whole shader. The requests
//! in free phrasing are scored by [`requests`].

pub mod requests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::data::requests::{Kind as AnswerKind, Stage};
use crate::data::wgsl::{assign_splits, load_examples, Example, Split};
use crate::error::{Result, TatError};
use crate::generate::{Constrain, Constraint, DecodeOptions, Generator};
use crate::wgsl::{is_full_shader, module_outline, snippet_shape, validate_snippet, Diagnostic, SnippetShape};

/// Which examples to evaluate, and the name that goes into the report file.
#[derive(Debug, Clone)]
pub struct EvalSet {
    pub label: String,
    pub examples: Vec<Example>,
}

/// The run's own `split`, or the examples of `data` (all of them, or its `split` when given:
/// the file's assignment, else the run's seed and ratios).
pub fn eval_set(config: &Config, data: Option<&Path>, split: Option<Split>) -> Result<EvalSet> {
    match data {
        None => {
            let split = split.unwrap_or(Split::Test);
            let examples = crate::tasks::wgsl_generation::dataset_splits(config)?.get(split).to_vec();
            Ok(EvalSet { label: split.name().to_string(), examples })
        }
        Some(path) => {
            let examples = load_examples(path)?;
            let stem = path.file_stem().map_or("data".into(), |s| s.to_string_lossy().into_owned());
            let Some(split) = split else {
                return Ok(EvalSet { label: stem, examples });
            };
            let (train, val) = (config.dataset.train_ratio, config.dataset.val_ratio);
            let examples = assign_splits(examples, train, val, config.training.seed).get(split).to_vec();
            Ok(EvalSet { label: format!("{stem}_{}", split.name()), examples })
        }
    }
}

/// The four numbers, each a percentage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scores {
    pub examples: usize,
    pub token_accuracy: f64,
    pub exact_match: f64,
    pub chrf: f64,
    pub naga_pass: f64,
}

/// One example, answered and checked.
#[derive(Debug, Clone, Serialize)]
pub struct ExampleResult {
    pub category: String,
    pub prompt: String,
    pub reference: String,
    pub output: String,
    pub exact_match: bool,
    /// The reference is a whole shader with an entry point.
    pub full_shader: bool,
    /// Target tokens (`<eos>` included) predicted right from the reference prefix, and their count.
    pub tokens_correct: usize,
    pub tokens: usize,
    pub chrf: f64,
    pub diagnostics: Vec<Diagnostic>,
    #[serde(skip)]
    ngrams: CharNgrams,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model: PathBuf,
    pub set: String,
    pub beam: usize,
    pub prefer_valid: bool,
    /// The kind answers were constrained to (`requested`: each reference's), if any.
    pub constrain: Option<String>,
    pub overall: Scores,
    /// Examples whose reference is a whole shader (fragment, vertex, compute).
    pub full_shaders: Scores,
    pub per_category: BTreeMap<String, Scores>,
    pub results: Vec<ExampleResult>,
}

/// What a request for `reference` asks for, read from the reference: its kind (declarations are a
/// module, or functions when they have no entry point) and, for a shader, its one stage.
fn reference_constraint(reference: &str) -> Constraint {
    let outline = module_outline(reference);
    let kind = match snippet_shape(reference) {
        SnippetShape::Expression => AnswerKind::Expression,
        SnippetShape::Statements => AnswerKind::Statement,
        SnippetShape::Declarations => match &outline {
            Some((stages, functions)) if stages.is_empty() && *functions > 0 => AnswerKind::Function,
            _ => AnswerKind::Module,
        },
    };
    let stage = match outline {
        Some((stages, _)) if stages.len() == 1 => Stage::from_name(stages[0]),
        _ => None,
    };
    Constraint { kind, stage }
}

/// Answers every example (in batches of 16) and scores the answers.
pub fn evaluate(
    generator: &Generator,
    model: &Path,
    set: &EvalSet,
    options: &DecodeOptions,
    mut on_progress: impl FnMut(usize, usize),
) -> Result<EvalReport> {
    if set.examples.is_empty() {
        return Err(TatError::Usage(format!(
            "eval: the `{}` set has no examples. Fix: pick another --split, or pass --data FILE.",
            set.label
        )));
    }
    let mut results = Vec::with_capacity(set.examples.len());
    for chunk in set.examples.chunks(16) {
        let prompts: Vec<&str> = chunk.iter().map(|e| e.natural_language.as_str()).collect();
        let outputs = match options.constrain {
            Some(Constrain::AsRequested) => {
                let constraints: Vec<Constraint> = chunk.iter().map(|e| reference_constraint(&e.wgsl_code)).collect();
                generator.answer_constrained(&prompts, &constraints, options)
            }
            _ => generator.answer(&prompts, options),
        };
        let hits = generator.token_hits(chunk)?;
        for ((example, output), (tokens_correct, tokens)) in chunk.iter().zip(outputs).zip(hits) {
            let ngrams = CharNgrams::compare(&output, &example.wgsl_code);
            results.push(ExampleResult {
                category: example.category.clone(),
                prompt: example.natural_language.clone(),
                reference: example.wgsl_code.clone(),
                exact_match: normalise_whitespace(&output) == normalise_whitespace(&example.wgsl_code),
                full_shader: is_full_shader(&example.wgsl_code),
                tokens_correct,
                tokens,
                chrf: ngrams.chrf(),
                diagnostics: validate_snippet(&output),
                output,
                ngrams,
            });
        }
        on_progress(results.len(), set.examples.len());
    }
    let mut groups: BTreeMap<String, Vec<&ExampleResult>> = BTreeMap::new();
    for r in &results {
        groups.entry(r.category.clone()).or_default().push(r);
    }
    let per_category = groups.iter().map(|(c, rs)| (c.clone(), scores(rs))).collect();
    let all: Vec<&ExampleResult> = results.iter().collect();
    let shaders: Vec<&ExampleResult> = results.iter().filter(|r| r.full_shader).collect();
    Ok(EvalReport {
        model: model.to_path_buf(),
        set: set.label.clone(),
        beam: options.beam,
        prefer_valid: options.prefer_valid,
        constrain: options.constrain.map(|c| c.name().to_string()),
        overall: scores(&all),
        full_shaders: scores(&shaders),
        per_category,
        results,
    })
}

fn scores(results: &[&ExampleResult]) -> Scores {
    let n = results.len();
    let share = |hits: usize| 100.0 * hits as f64 / n.max(1) as f64;
    let correct: usize = results.iter().map(|r| r.tokens_correct).sum();
    let tokens: usize = results.iter().map(|r| r.tokens).sum();
    let ngrams = results.iter().fold(CharNgrams::default(), |acc, r| acc.add(&r.ngrams));
    Scores {
        examples: n,
        token_accuracy: 100.0 * correct as f64 / tokens.max(1) as f64,
        exact_match: share(results.iter().filter(|r| r.exact_match).count()),
        chrf: ngrams.chrf(),
        naga_pass: share(results.iter().filter(|r| r.diagnostics.is_empty()).count()),
    }
}

impl EvalReport {
    /// A fixed-width table: one row per category, then the full shaders and the total.
    pub fn table(&self) -> String {
        let mut out =
            format!("{:<22} {:>5} {:>10} {:>8} {:>7} {:>7}\n", "category", "n", "token acc", "exact", "chrF", "naga");
        let row = |name: &str, s: &Scores| {
            format!(
                "{name:<22} {:>5} {:>9.1}% {:>7.1}% {:>7.1} {:>6.1}%\n",
                s.examples, s.token_accuracy, s.exact_match, s.chrf, s.naga_pass
            )
        };
        for (category, s) in &self.per_category {
            out.push_str(&row(category, s));
        }
        if self.full_shaders.examples > 0 {
            out.push_str(&row("(full shaders)", &self.full_shaders));
        }
        out.push_str(&row("overall", &self.overall));
        out
    }

    /// Each example that is not an exact match: its category, prompt, naga's verdict and chrF,
    /// the reference and the output (whitespace-normalised), then naga's diagnostics.
    pub fn misses(&self) -> String {
        let mut out = String::new();
        for r in self.results.iter().filter(|r| !r.exact_match) {
            let verdict = if r.diagnostics.is_empty() { "valid" } else { "INVALID" };
            out.push_str(&format!(
                "[{}] {} ({verdict}, chrF {:.1})\n  expected: {}\n  got:      {}\n",
                r.category,
                r.prompt,
                r.chrf,
                normalise_whitespace(&r.reference),
                normalise_whitespace(&r.output)
            ));
            for d in &r.diagnostics {
                out.push_str(&format!("  {}\n", d.render("<output>")));
            }
        }
        out
    }

    /// Writes the report as JSON beside the checkpoint: `<run>/eval_<checkpoint>_<set>.json`,
    /// the decoding after the set when it is not greedy ([`decoding_suffix`]).
    pub fn save(&self, checkpoint_dir: &Path) -> Result<PathBuf> {
        let suffix = decoding_suffix(self.beam, self.prefer_valid, self.constrain.as_deref());
        save_report(self, checkpoint_dir, &format!("{}{suffix}", self.set))
    }
}

/// What tells a report's file apart by its decoding, so that one decoding's report does not
/// replace another's: nothing for greedy (or sampled) decoding, else `_constrained_<kind>`,
/// `_prefer_valid` or `_beam<K>`.
pub(crate) fn decoding_suffix(beam: usize, prefer_valid: bool, constrain: Option<&str>) -> String {
    match (constrain, prefer_valid, beam) {
        (Some(kind), _, _) => format!("_constrained_{kind}"),
        (None, true, _) => "_prefer_valid".to_string(),
        (None, false, 0 | 1) => String::new(),
        (None, false, k) => format!("_beam{k}"),
    }
}

/// Writes a report as JSON beside the checkpoint, `<run>/eval_<checkpoint>_<set>.json`, through a
/// temporary file so that a report is never half written.
pub(crate) fn save_report(report: &impl Serialize, checkpoint_dir: &Path, set: &str) -> Result<PathBuf> {
    let name = checkpoint_dir.file_name().map_or("model".into(), |n| n.to_string_lossy().into_owned());
    let run_dir = checkpoint_dir.parent().unwrap_or(checkpoint_dir);
    let path = run_dir.join(format!("eval_{name}_{set}.json"));
    let text = serde_json::to_string_pretty(report).expect("reports serialise");
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| TatError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| TatError::io(&path, e))?;
    Ok(path)
}

pub fn normalise_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// chrF's character n-gram orders (1 to 6) and the weight of recall over precision (beta = 2).
const CHRF_ORDER: usize = 6;
const CHRF_BETA: f64 = 2.0;

/// Character n-gram counts of a hypothesis against a reference, whitespace removed (as chrF
/// does); summed over examples they give the corpus-level score.
#[derive(Debug, Clone, Default, PartialEq)]
struct CharNgrams {
    matched: [usize; CHRF_ORDER],
    hypothesis: [usize; CHRF_ORDER],
    reference: [usize; CHRF_ORDER],
}

impl CharNgrams {
    fn compare(hypothesis: &str, reference: &str) -> Self {
        let hyp: Vec<char> = hypothesis.chars().filter(|c| !c.is_whitespace()).collect();
        let refr: Vec<char> = reference.chars().filter(|c| !c.is_whitespace()).collect();
        let mut out = Self::default();
        for n in 1..=CHRF_ORDER {
            let (h, r) = (ngram_counts(&hyp, n), ngram_counts(&refr, n));
            out.hypothesis[n - 1] = h.values().sum();
            out.reference[n - 1] = r.values().sum();
            out.matched[n - 1] = h.iter().map(|(g, &c)| c.min(r.get(g).copied().unwrap_or(0))).sum();
        }
        out
    }

    fn add(mut self, other: &Self) -> Self {
        for i in 0..CHRF_ORDER {
            self.matched[i] += other.matched[i];
            self.hypothesis[i] += other.hypothesis[i];
            self.reference[i] += other.reference[i];
        }
        self
    }

    /// chrF in 0..=100: precision and recall averaged over the orders either side has, then the
    /// F-score with beta = 2. Two empty texts score 100.
    fn chrf(&self) -> f64 {
        let orders: Vec<usize> = (0..CHRF_ORDER).filter(|&i| self.hypothesis[i] + self.reference[i] > 0).collect();
        if orders.is_empty() {
            return 100.0;
        }
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let k = orders.len() as f64;
        let precision = orders.iter().map(|&i| ratio(self.matched[i], self.hypothesis[i])).sum::<f64>() / k;
        let recall = orders.iter().map(|&i| ratio(self.matched[i], self.reference[i])).sum::<f64>() / k;
        let b2 = CHRF_BETA * CHRF_BETA;
        if precision + recall == 0.0 {
            return 0.0;
        }
        100.0 * (1.0 + b2) * precision * recall / (b2 * precision + recall)
    }
}

fn ngram_counts(chars: &[char], n: usize) -> std::collections::HashMap<&[char], usize> {
    let mut counts = std::collections::HashMap::new();
    for gram in chars.windows(n) {
        *counts.entry(gram).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrf_is_100_for_equal_texts_up_to_whitespace() {
        let score = CharNgrams::compare("vec3<f32>(1.0,  0.0, 0.0)", "vec3<f32>(1.0, 0.0,\n0.0)").chrf();
        assert!((score - 100.0).abs() < 1e-9, "{score}");
    }

    #[test]
    fn chrf_is_0_without_shared_characters_and_between_for_partial_overlap() {
        assert_eq!(CharNgrams::compare("abc", "xyz").chrf(), 0.0);
        let partial = CharNgrams::compare("normalize(v)", "normalize(n)").chrf();
        assert!(partial > 50.0 && partial < 100.0, "{partial}");
    }

    #[test]
    fn chrf_weighs_recall_over_precision() {
        // A hypothesis holding all of the reference and more beats one holding half of it.
        let long = CharNgrams::compare("abcdefgh", "abcd").chrf();
        let short = CharNgrams::compare("ab", "abcd").chrf();
        assert!(long > short, "{long} vs {short}");
    }

    #[test]
    fn corpus_chrf_sums_counts_before_scoring() {
        let a = CharNgrams::compare("abcd", "abcd");
        let b = CharNgrams::compare("", "wxyz");
        let corpus = a.clone().add(&b).chrf();
        assert!(corpus > 0.0 && corpus < a.chrf(), "{corpus}");
    }
}
