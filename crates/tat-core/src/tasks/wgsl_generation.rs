//! Natural language to WGSL: prompt/code pairs from a dataset file, checked with naga, trained
//! as a text-pair task.

use super::pairs::PairsTask;
use super::{TaskContext, TaskData, TaskSpec};
use crate::config::{Config, TaskKind, TokenizerKind};
use crate::data::wgsl::{assign_splits, check_examples, load_examples, Splits};
use crate::error::{Result, TatError};
use crate::tokenizer::Tokenizer;
use crate::train::Task;

pub const SPEC: TaskSpec = TaskSpec {
    kind: TaskKind::WgslGeneration,
    name: "wgsl_generation",
    text: true,
    architectures: &[crate::config::Architecture::Transformer, crate::config::Architecture::Binder],
    python_module: None,
    evaluator: super::Evaluator::Generation,
    completion: super::Completion::Autoregressive,
};

pub(super) fn issues(config: &Config, check: &mut dyn FnMut(bool, &str, String, &str)) {
    super::pairs::issues(config, check);
    check(
        config.dataset.path.is_some(),
        "dataset.path",
        "nothing".into(),
        "a [[examples]] TOML file such as \"wgsl_training_data.toml\"",
    );
}

pub(super) fn open(config: &Config, data: TaskData, context: &TaskContext) -> Result<Box<dyn Task>> {
    let splits = match data {
        TaskData::FromConfig => dataset_splits(config)?,
        TaskData::Pairs(splits) => splits,
        TaskData::Arrays(_) | TaskData::Stream { .. } | TaskData::Batches(_) => {
            return Err(super::text_task_takes_pairs(config))
        }
    };
    Ok(Box::new(PairsTask::open(config, splits, context)?))
}

/// The run's train/val/test examples: the dataset file checked with naga, then split as the file
/// says or with the run's seed and ratios (the same call at train and evaluation time gives the same split).
pub fn dataset_splits(config: &Config) -> Result<Splits> {
    if config.dataset.path.is_none() {
        return Err(TatError::Usage(format!(
            "task {:?} ({:?}) generates its examples in its Python task module, so the engine alone cannot train it. \
             Fix: run `tat train CONFIG` (the Python CLI) instead of `tiny-agent-trainer train`.",
            config.task.name, config.task.kind
        )));
    }
    let path = config.dataset_path();
    if !path.is_file() {
        // A settled config (absolute paths) no longer knows its file: the field names the place.
        let config_file = config.source.as_ref().map_or(String::new(), |p| format!("{}: ", p.display()));
        let what = if path.is_dir() { "a folder, not a file" } else { "which does not exist" };
        return Err(TatError::Dataset(format!(
            "{config_file}dataset.path = {:?} names {}, {what}. Fix: point dataset.path at a \
             [[examples]] TOML file (relative paths resolve against the config file's folder).",
            config.dataset.path.as_deref().unwrap_or_else(|| std::path::Path::new("")).display().to_string(),
            path.display()
        )));
    }
    let examples = load_examples(&path)?;
    check_examples(&path, &examples)?;
    Ok(assign_splits(examples, config.dataset.train_ratio, config.dataset.val_ratio, config.training.seed))
}

/// The tokenizer a new run learns: from the prompts and code of its training split only, so no
/// test text shapes the vocabulary.
pub fn build_tokenizer(config: &Config, splits: &Splits) -> Tokenizer {
    let texts = splits.train.iter().flat_map(|e| [e.natural_language.as_str(), e.wgsl_code.as_str()]);
    match config.tokenizer.kind {
        TokenizerKind::Wgsl => Tokenizer::build(texts, config.tokenizer.min_freq),
        TokenizerKind::Words => Tokenizer::build_words(texts, config.tokenizer.min_freq),
        TokenizerKind::Bpe => unreachable!("the text-pair tasks' tokenizer.type is checked"),
    }
}
