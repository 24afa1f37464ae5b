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

    /// Answers each prompt as `options` say: greedy and batched when `beam` is 1, else a beam
    /// search per prompt, optionally taking the best candidate that passes naga.
    pub fn answer(&self, prompts: &[&str], options: &DecodeOptions) -> Vec<String> {
        if options.beam <= 1 && !options.prefer_valid {
            return self.generate_batch(prompts, options.max_new_tokens);
        }
        prompts
            .iter()
            .map(|prompt| {
                let candidates =
                    self.beam_search(prompt, options.beam.max(2), options.max_new_tokens, options.length_penalty);
                let valid = options
                    .prefer_valid
                    .then(|| candidates.iter().find(|c| crate::wgsl::validate_snippet(&c.text).is_empty()))
                    .flatten();
                valid.unwrap_or(&candidates[0]).text.clone()
            })
            .collect()
    }

    /// Beam search for one prompt: the finished candidates, best first, scored by total
    /// log-probability over `length ^ length_penalty` (tokens, `<eos>` included).
    pub fn beam_search(&self, prompt: &str, beam: usize, max_new_tokens: usize, length_penalty: f64) -> Vec<Candidate> {
        let _guard = tch::no_grad_guard();
        let width = beam.max(1);
        let limit = max_new_tokens.min(self.max_new_tokens());
        let rows = Tensor::zeros([width as i64], (Kind::Int64, self.device));
        let encoded = self.model.encode(&self.encode_prompts(&[prompt]), false).select_rows(&rows);
        let mut cache = self.model.start_decoding(&encoded);
        // Only the first beam is alive at the start: the others would duplicate it.
        let mut beams: Vec<(f64, Vec<i64>)> =
            (0..width).map(|i| (if i == 0 { 0.0 } else { f64::NEG_INFINITY }, vec![])).collect();
        let mut last = Tensor::full([width as i64, 1], BOS_ID, (Kind::Int64, self.device));
        let mut finished: Vec<Candidate> = Vec::new();
        let normalised = |score: f64, len: usize| score / (len as f64).powf(length_penalty);
        for _ in 0..limit {
            let logp = self.model.decode_step(&encoded, &mut cache, &last).log_softmax(-1, Kind::Float);
            let vocab = logp.size()[1] as usize;
            let logp = Vec::<f32>::try_from(logp.to_device(Device::Cpu).view([-1])).expect("log-probs are f32");
            let mut options: Vec<(f64, usize, i64)> = beams
                .iter()
                .enumerate()
                .filter(|(_, (score, _))| score.is_finite())
                .flat_map(|(b, (score, _))| {
                    let row = &logp[b * vocab..(b + 1) * vocab];
                    row.iter().enumerate().map(move |(t, &lp)| (score + f64::from(lp), b, t as i64))
                })
                .collect();
            options.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut next: Vec<(f64, usize, i64)> = Vec::with_capacity(width);
            // An `<eos>` finishes a candidate only when it ranks among the `width` best options;
            // the beam is then refilled from the next-best continuations.
            for (rank, (score, b, token)) in options.into_iter().take(2 * width).enumerate() {
                if token == EOS_ID && rank < width {
                    let ids = beams[b].1.clone();
                    finished.push(Candidate {
                        score: normalised(score, ids.len() + 1),
                        text: self.tokenizer.decode(&ids),
                        ids,
                    });
                } else if token != EOS_ID && next.len() < width {
                    next.push((score, b, token));
                }
            }
            if finished.len() >= width || next.is_empty() {
                break;
            }
            let parents: Vec<i64> = next.iter().map(|&(_, b, _)| b as i64).collect();
            cache.reorder(&Tensor::from_slice(&parents).to_device(self.device));
            beams = next.iter().map(|&(score, b, t)| (score, [beams[b].1.as_slice(), &[t]].concat())).collect();
            let tokens: Vec<i64> = next.iter().map(|&(_, _, t)| t).collect();
            last = Tensor::from_slice(&tokens).view([-1, 1]).to_device(self.device);
        }
        if finished.is_empty() {
            finished = beams
                .into_iter()
                .filter(|(score, _)| score.is_finite())
                .map(|(score, ids)| Candidate {
                    score: normalised(score, ids.len()),
                    text: self.tokenizer.decode(&ids),
                    ids,
                })
                .collect();
        }
        finished.sort_by(|a, b| b.score.total_cmp(&a.score));
        finished
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

/// One answer of a beam search.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub text: String,
    pub ids: Vec<i64>,
    /// Length-normalised log-probability.
    pub score: f64,
}

/// How answers are decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeOptions {
    pub max_new_tokens: usize,
    /// 1 is greedy; more runs a beam search with that many beams.
    pub beam: usize,
    /// Exponent of the length normalisation of beam scores (0: none, 1: per-token average).
    pub length_penalty: f64,
    /// Return the best beam that passes naga (the best beam when none does).
    pub prefer_valid: bool,
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

pub use crate::data::wgsl::Split;

/// Generates an answer for every example of a split of the run's dataset and validates it.
pub fn check_split(generator: &Generator, split: Split, options: &DecodeOptions) -> Result<Vec<ExampleCheck>> {
    let splits = crate::train::dataset_splits(generator.config())?;
    let examples = splits.get(split);
    let mut out = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(16) {
        let prompts: Vec<&str> = chunk.iter().map(|e| e.natural_language.as_str()).collect();
        let outputs = generator.answer(&prompts, options);
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
