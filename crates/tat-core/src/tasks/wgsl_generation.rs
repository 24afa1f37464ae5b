//! Natural language to WGSL: prompt/code pairs from a dataset file, checked with naga, trained
//! as a text-pair task.

use super::pairs::PairsTask;
use super::{TaskContext, TaskData, TaskSpec};
use crate::config::{Config, DataSource, TaskKind, TokenizerKind};
use crate::data::wgsl::{assign_splits, check_examples, load_examples, Splits};
use crate::data::wgsl_corpus;
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
    let corpus = config.dataset.source == Some(DataSource::WgslCorpus);
    check(
        config.dataset.source.is_none() || corpus,
        "dataset.source",
        config.dataset.source.map_or(String::new(), |s| serde_json::to_string(&s).unwrap_or_default()),
        "no source (an [[examples]] file at dataset.path) or \"wgsl_corpus\" (a folder of .wgsl files to pretrain on)",
    );
    check(
        config.dataset.path.is_some(),
        "dataset.path",
        "nothing".into(),
        if corpus {
            "a folder of .wgsl files such as \"../../shared/data/wgsl-corpus\""
        } else {
            "a [[examples]] TOML file such as \"wgsl_training_data.toml\""
        },
    );
    let max_side = config.model.max_seq_len().map_or(usize::MAX, |n| (n as usize).saturating_sub(2));
    if let Some(block) = config.dataset.block_size {
        check(
            corpus && (1..=max_side).contains(&block),
            "dataset.block_size",
            block.to_string(),
            if corpus {
                "a number of tokens from 1 to model.max_seq_len - 2 (the most each side of a corpus pair holds)"
            } else {
                "no block_size: it sizes the pairs of dataset.source = \"wgsl_corpus\" only"
            },
        );
    }
}

/// The most tokens each side of a corpus pair holds: `dataset.block_size`, else all that
/// `model.max_seq_len` leaves beside `<bos>` and `<eos>`.
fn corpus_side(config: &Config) -> usize {
    let max_len = config.model.max_seq_len().expect("a text task has a text model (checked)") as usize;
    config.dataset.block_size.unwrap_or(max_len.saturating_sub(2))
}

pub(super) fn open(config: &Config, data: TaskData, context: &TaskContext) -> Result<Box<dyn Task>> {
    if let (TaskData::FromConfig, Some(DataSource::WgslCorpus)) = (&data, config.dataset.source) {
        let corpus = wgsl_corpus::load(&config.dataset_path(), config.dataset.train_ratio, config.dataset.val_ratio)?;
        let tokenizer = match context.resumed.or(context.init) {
            Some(ckpt) => ckpt.tokenizer()?.clone(),
            None => learn_tokenizer(config, corpus.train.iter().map(|s| s.code.as_str()))?,
        };
        let splits = wgsl_corpus::pairs(&corpus, &tokenizer, corpus_side(config));
        return Ok(Box::new(PairsTask::with_tokenizer(config, splits, tokenizer, context)?));
    }
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
    if config.dataset.source == Some(DataSource::WgslCorpus) {
        return Err(TatError::Usage(format!(
            "run {:?} trains on the shaders under {} (dataset.source = \"wgsl_corpus\"): their continuations \
             have no reference answers to score. Fix: evaluate it on prompt/code pairs with --data FILE (such as \
             config/wgsl_broad_data.toml), or evaluate the run that starts from it (training.init_from).",
            config.task.name,
            config.dataset_path().display()
        )));
    }
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
pub fn build_tokenizer(config: &Config, splits: &Splits) -> Result<Tokenizer> {
    learn_tokenizer(config, splits.train.iter().flat_map(|e| [e.natural_language.as_str(), e.wgsl_code.as_str()]))
}

/// A tokenizer of the config's kind learned from `texts` and, with `tokenizer.also_learn`, from the
/// prompts and code of that file's training split.
fn learn_tokenizer<'a>(config: &Config, texts: impl Iterator<Item = &'a str>) -> Result<Tokenizer> {
    let also = match config.also_learn_path() {
        Some(path) => {
            let examples = load_examples(&path).map_err(|e| match e {
                TatError::Dataset(m) => TatError::Dataset(format!("tokenizer.also_learn: {m}")),
                other => other,
            })?;
            let (train, val, seed) = (config.dataset.train_ratio, config.dataset.val_ratio, config.training.seed);
            assign_splits(examples, train, val, seed).train
        }
        None => Vec::new(),
    };
    let mut texts: Vec<&str> = texts.collect();
    texts.extend(also.iter().flat_map(|e| [e.natural_language.as_str(), e.wgsl_code.as_str()]));
    Ok(match config.tokenizer.kind {
        TokenizerKind::Wgsl => Tokenizer::build(texts, config.tokenizer.min_freq),
        TokenizerKind::Words => Tokenizer::build_words(texts, config.tokenizer.min_freq),
        TokenizerKind::Bpe => unreachable!("the text-pair tasks' tokenizer.type is checked"),
    })
}
