//! Generation from a trained checkpoint (greedy decoding).

use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::config::{Config, DeviceChoice};
use crate::device;
use crate::error::Result;
use crate::model::Seq2SeqTransformer;
use crate::tokenizer::{Tokenizer, BOS_ID, EOS_ID, PAD_ID};
use crate::train::batch::encode_prompt;
use crate::train::checkpoint;

/// A trained model ready to answer prompts.
pub struct Generator {
    model: Seq2SeqTransformer,
    tokenizer: Tokenizer,
    config: Config,
    device: Device,
    _vs: VarStore,
}

impl Generator {
    /// Loads a run folder (its `best`, else `last`) or a checkpoint folder.
    pub fn load(path: &Path, device: DeviceChoice) -> Result<Self> {
        let dir = checkpoint::resolve(path)?;
        let ckpt = checkpoint::load(&dir)?;
        let device = device::resolve(device)?;
        let mut vs = VarStore::new(device);
        let model = Seq2SeqTransformer::new(
            &vs.root(),
            &ckpt.config.model,
            ckpt.tokenizer.vocab_size() as i64,
            ckpt.config.training.precision,
        );
        checkpoint::load_weights(&mut vs, &dir)?;
        Ok(Self { model, tokenizer: ckpt.tokenizer, config: ckpt.config, device, _vs: vs })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The most tokens a reply can have: the model's positions, less the `<bos>`.
    pub fn max_new_tokens(&self) -> usize {
        self.config.model.max_seq_len as usize - 1
    }

    pub fn generate(&self, prompt: &str, max_new_tokens: usize) -> String {
        self.generate_batch(&[prompt], max_new_tokens).remove(0)
    }

    /// Greedy decoding of many prompts at once; each stops at `<eos>` or `max_new_tokens`.
    pub fn generate_batch(&self, prompts: &[&str], max_new_tokens: usize) -> Vec<String> {
        let rows = self.greedy_ids(prompts, max_new_tokens, Decoding::Cached);
        rows.iter().map(|ids| self.tokenizer.decode(ids)).collect()
    }

    /// Greedy token ids (without `<bos>` and `<eos>`) for each prompt.
    pub fn greedy_ids(&self, prompts: &[&str], max_new_tokens: usize, decoding: Decoding) -> Vec<Vec<i64>> {
        let _guard = tch::no_grad_guard();
        let limit = max_new_tokens.min(self.max_new_tokens());
        let encoded = self.model.encode(&self.encode_prompts(prompts), false);
        let mut cache = self.model.start_decoding(&encoded);
        let n = prompts.len() as i64;
        let mut tokens = Tensor::full([n, 1], BOS_ID, (Kind::Int64, self.device));
        let mut done = Tensor::zeros([n], (Kind::Bool, self.device));
        let pad = Tensor::from(PAD_ID).to_device(self.device);
        for _ in 0..limit {
            let logits = match decoding {
                Decoding::Cached => self.model.decode_step(&encoded, &mut cache, &tokens.narrow(1, -1, 1)),
                Decoding::Uncached => self.model.decode(&encoded, &tokens, false).select(1, -1),
            };
            let next = logits.argmax(-1, false).where_self(&done.logical_not(), &pad);
            done = done.logical_or(&next.eq(EOS_ID));
            tokens = Tensor::cat(&[tokens, next.unsqueeze(1)], 1);
            if done.all().int64_value(&[]) == 1 {
                break;
            }
        }
        let tokens = tokens.to_device(Device::Cpu);
        (0..n).map(|i| answer_ids(Vec::<i64>::try_from(tokens.get(i)).expect("token ids are int64"))).collect()
    }

    fn encode_prompts(&self, prompts: &[&str]) -> Tensor {
        let max_len = self.config.model.max_seq_len as usize;
        let rows: Vec<Vec<i64>> = prompts
            .iter()
            .map(|p| {
                let mut ids = encode_prompt(&self.tokenizer, p);
                if ids.len() > max_len {
                    ids.truncate(max_len - 1);
                    ids.push(EOS_ID);
                }
                ids
            })
            .collect();
        let width = rows.iter().map(Vec::len).max().unwrap_or(1);
        let flat: Vec<i64> =
            rows.iter().flat_map(|r| r.iter().copied().chain(std::iter::repeat_n(PAD_ID, width - r.len()))).collect();
        Tensor::from_slice(&flat).view([rows.len() as i64, width as i64]).to_device(self.device)
    }
}

/// How each new token is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    /// One position per step, with cached keys and values.
    Cached,
    /// The whole prefix re-run at every step: slow, kept as the reference the cache must match.
    Uncached,
}

/// A generated row without its `<bos>`, cut before the first `<eos>` (and its padding).
fn answer_ids(mut ids: Vec<i64>) -> Vec<i64> {
    let end = ids.iter().skip(1).position(|&t| t == EOS_ID).map_or(ids.len(), |p| p + 1);
    ids.truncate(end);
    ids.remove(0);
    ids
}

/// One example of a split, answered by the model and checked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExampleCheck {
    pub category: String,
    pub prompt: String,
    pub output: String,
    /// The output equals the reference up to whitespace.
    pub exact_match: bool,
    /// The reference is a whole shader with an entry point.
    pub full_shader: bool,
    pub diagnostics: Vec<crate::wgsl::Diagnostic>,
}

/// Which part of the run's dataset to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Val,
    Test,
}

impl std::str::FromStr for Split {
    type Err = crate::TatError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "val" => Ok(Split::Val),
            "test" => Ok(Split::Test),
            other => Err(crate::TatError::Usage(format!("unknown split `{other}`: expected train, val or test"))),
        }
    }
}

/// Generates an answer for every example of a split of the run's dataset and validates it.
pub fn check_split(generator: &Generator, split: Split, batch_size: usize) -> Result<Vec<ExampleCheck>> {
    let splits = crate::train::dataset_splits(generator.config())?;
    let examples = match split {
        Split::Train => splits.train,
        Split::Val => splits.val,
        Split::Test => splits.test,
    };
    let mut out = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(batch_size.max(1)) {
        let prompts: Vec<&str> = chunk.iter().map(|e| e.natural_language.as_str()).collect();
        let outputs = generator.generate_batch(&prompts, generator.max_new_tokens());
        for (example, output) in chunk.iter().zip(outputs) {
            out.push(ExampleCheck {
                category: example.category.clone(),
                prompt: example.natural_language.clone(),
                exact_match: normalise_whitespace(&output) == normalise_whitespace(&example.wgsl_code),
                full_shader: crate::wgsl::is_full_shader(&example.wgsl_code),
                diagnostics: crate::wgsl::validate_snippet(&output),
                output,
            });
        }
    }
    Ok(out)
}

fn normalise_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
