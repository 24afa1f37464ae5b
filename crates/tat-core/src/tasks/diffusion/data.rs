//! The masked-diffusion task's text: gsm8k problems or wikitext-2 lines, each document encoded
//! with the BPE tokenizer, ended with EOS and cut into pieces of at most `block_size` tokens.

use std::path::{Path, PathBuf};

use crate::config::{Config, DataSource};
use crate::error::{Result, TatError};
use crate::rng::SplitMix64;
use crate::tokenizer::bpe::BpeTokenizer;

/// The pieces of each split, as token ids.
#[derive(Debug, Clone)]
pub struct TextSplits {
    pub train: Vec<Vec<i64>>,
    pub val: Vec<Vec<i64>>,
    /// Where each split was read from.
    pub train_file: PathBuf,
    pub val_file: PathBuf,
}

/// The files a corpus trains and evaluates on, in the folder `dir`: gsm8k trains on
/// `train.jsonl` and is evaluated on `test.jsonl`; wikitext trains on `train.txt` where the folder
/// has one, else on `test.txt`, and is evaluated on `valid.txt`.
pub fn files(source: DataSource, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let (train, val) = match source {
        DataSource::Gsm8k => (dir.join("train.jsonl"), dir.join("test.jsonl")),
        DataSource::Wikitext => {
            let train = dir.join("train.txt");
            (if train.is_file() { train } else { dir.join("test.txt") }, dir.join("valid.txt"))
        }
        other => unreachable!("the masked-diffusion task reads gsm8k or wikitext, not {other:?} (checked)"),
    };
    for file in [&train, &val] {
        if !file.is_file() {
            return Err(TatError::Usage(format!(
                "{}: no such file. Fix: point dataset.path at a folder holding {} (gsm8k: train.jsonl and \
                 test.jsonl; wikitext-2: valid.txt and train.txt or test.txt), such as ../shared/data/{}.",
                file.display(),
                file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                if source == DataSource::Gsm8k { "gsm8k" } else { "wikitext-2" }
            )));
        }
    }
    Ok((train, val))
}

/// The documents of one file as text: a gsm8k problem is `Question: {question}\nAnswer: {answer}`;
/// a wikitext document is one line, newline included, blank lines left out.
pub fn documents(source: DataSource, file: &Path) -> Result<Vec<String>> {
    let text = crate::error::read_text(file, TatError::Dataset)?;
    let mut docs = Vec::new();
    match source {
        DataSource::Gsm8k => {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let at = |why: String| {
                    TatError::Usage(format!(
                        "{}:{}: {why}. Fix: each line must be one JSON object with string fields \"question\" \
                         and \"answer\" (gsm8k's format).",
                        file.display(),
                        i + 1
                    ))
                };
                let value: serde_json::Value =
                    serde_json::from_str(line).map_err(|e| at(format!("not a JSON object: {e}")))?;
                let field = |name: &str| {
                    value.get(name).and_then(|v| v.as_str()).ok_or_else(|| at(format!("no string field \"{name}\"")))
                };
                docs.push(format!("Question: {}\nAnswer: {}", field("question")?, field("answer")?));
            }
        }
        DataSource::Wikitext => {
            for line in text.split_inclusive('\n') {
                if !line.trim().is_empty() {
                    docs.push(line.to_string());
                }
            }
        }
        other => unreachable!("the masked-diffusion task reads gsm8k or wikitext, not {other:?} (checked)"),
    }
    if docs.is_empty() {
        return Err(TatError::Dataset(format!(
            "{}: empty: no document in it (blank lines are left out). Fix: point dataset.path at the corpus's \
             folder with its files as published (../shared/data holds gsm8k and wikitext-2).",
            file.display()
        )));
    }
    Ok(docs)
}

/// Each document encoded and ended with EOS, cut into pieces of at most `block_size` tokens (the
/// last piece of a document may be shorter; no piece spans two documents).
pub fn pieces(tokenizer: &BpeTokenizer, docs: &[String], block_size: usize) -> Result<Vec<Vec<i64>>> {
    let eos = tokenizer.eos_id();
    let mut out = Vec::new();
    for doc in docs {
        let mut ids = tokenizer.encode(doc)?;
        ids.push(eos);
        out.extend(ids.chunks(block_size).map(<[i64]>::to_vec));
    }
    Ok(out)
}

/// Both splits of the corpus a config names.
pub fn load(config: &Config, tokenizer: &BpeTokenizer) -> Result<TextSplits> {
    let source = config.dataset.source.expect("the masked-diffusion task names its corpus (checked)");
    let block = config.dataset.block_size.unwrap_or(DEFAULT_BLOCK_SIZE);
    let (train_file, val_file) = files(source, &config.dataset_path())?;
    let train = pieces(tokenizer, &documents(source, &train_file)?, block)?;
    let val = pieces(tokenizer, &documents(source, &val_file)?, block)?;
    Ok(TextSplits { train, val, train_file, val_file })
}

/// `dataset.block_size` when the config leaves it out.
pub const DEFAULT_BLOCK_SIZE: usize = 128;

/// The floor of the masking probability: p = (1 - eps) t + eps.
pub const MASK_EPS: f64 = 1e-3;

/// The evaluation masks' seed: fixed, so every model compared on a split sees the same masks.
const EVAL_SEED: u64 = 0x5EED_E7A1;

/// The masking of one evaluation piece: its probability p and which positions are masked, a pure
/// function of the piece's index (not of the model, batch size or run seed).
pub fn eval_mask(index: usize, len: usize) -> (f64, Vec<bool>) {
    let mut rng = SplitMix64::derived(EVAL_SEED, index as u64);
    let t = rng.next_f64();
    let p = (1.0 - MASK_EPS) * t + MASK_EPS;
    (p, (0..len).map(|_| rng.next_f64() < p).collect())
}
