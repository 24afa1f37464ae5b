//! GPT-2's byte-level BPE, read from a Hugging Face `tokenizer.json` by the `tokenizers` crate,
//! with the two ids a masked-diffusion model needs appended after the base vocabulary.

use std::path::{Path, PathBuf};

use tokenizers::Tokenizer as HfTokenizer;

use crate::error::{Result, TatError};

/// The id of GPT-2's `<|endoftext|>`, which ends every document.
pub const GPT2_EOS: &str = "<|endoftext|>";

/// A byte-level BPE tokenizer: the file's ids, then `[MASK]` and `[PAD]`, and a model vocabulary
/// padded to a multiple of 64 (ids past `[PAD]` are never produced).
#[derive(Clone)]
pub struct BpeTokenizer {
    inner: HfTokenizer,
    path: PathBuf,
    base: i64,
}

impl std::fmt::Debug for BpeTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BpeTokenizer").field("path", &self.path).field("base", &self.base).finish()
    }
}

impl BpeTokenizer {
    /// Loads `tokenizer.json` (a file, or a folder holding one). Truncation and padding the file
    /// may carry are turned off: documents are cut into blocks by the data loader.
    pub fn load(path: &Path) -> Result<Self> {
        let file = if path.is_dir() { path.join("tokenizer.json") } else { path.to_path_buf() };
        if !file.is_file() {
            return Err(TatError::Usage(format!(
                "{}: no tokenizer.json there. Fix: point `tokenizer.path` at GPT-2's tokenizer.json \
                 (the shared data folder has it at ../shared/data/gpt2/tokenizer.json).",
                file.display()
            )));
        }
        let mut inner = HfTokenizer::from_file(&file).map_err(|e| {
            TatError::Usage(format!(
                "{}: not a Hugging Face tokenizer.json: {e}. Fix: use the tokenizer.json of a byte-level BPE \
                 such as GPT-2's.",
                file.display()
            ))
        })?;
        inner
            .with_truncation(None)
            .map_err(|e| TatError::Usage(format!("{}: cannot turn truncation off: {e}", file.display())))?;
        inner.with_padding(None);
        let base = inner.get_vocab_size(true) as i64;
        let eos = inner.token_to_id(GPT2_EOS);
        if eos.is_none() {
            return Err(TatError::Usage(format!(
                "{}: the vocabulary has no {GPT2_EOS}, which ends every document. Fix: use GPT-2's tokenizer.json.",
                file.display()
            )));
        }
        Ok(Self { inner, path: file, base })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Ids of the text, without any special token added.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| TatError::Usage(format!("{}: cannot encode text: {e}", self.path.display())))?;
        Ok(encoding.get_ids().iter().map(|&id| id as i64).collect())
    }

    /// The text of `ids`: `[MASK]` shows as `[MASK]`, `[PAD]` and ids past it are left out.
    pub fn decode(&self, ids: &[i64]) -> String {
        let mut out = String::new();
        let mut run: Vec<u32> = Vec::new();
        let flush = |run: &mut Vec<u32>, out: &mut String| {
            if !run.is_empty() {
                out.push_str(&self.inner.decode(run, false).unwrap_or_default());
                run.clear();
            }
        };
        for &id in ids {
            if (0..self.base).contains(&id) {
                run.push(id as u32);
            } else {
                flush(&mut run, &mut out);
                if id == self.mask_id() {
                    out.push_str("[MASK]");
                }
            }
        }
        flush(&mut run, &mut out);
        out
    }

    /// Ids the file defines (50,257 for GPT-2).
    pub fn base_size(&self) -> i64 {
        self.base
    }

    pub fn eos_id(&self) -> i64 {
        self.inner.token_to_id(GPT2_EOS).map(i64::from).expect("checked at load")
    }

    /// `[MASK]`: the first id after the base vocabulary.
    pub fn mask_id(&self) -> i64 {
        self.base
    }

    /// `[PAD]`: the second id after the base vocabulary.
    pub fn pad_id(&self) -> i64 {
        self.base + 1
    }

    /// The model's vocabulary: base, `[MASK]` and `[PAD]`, padded to a multiple of 64 (50,304
    /// for GPT-2).
    pub fn vocab_size(&self) -> i64 {
        (self.base + 2 + 63) / 64 * 64
    }
}
