//! Generation from a trained checkpoint: greedy, seeded sampling (temperature, top-k, top-p) and
//! beam search, all over the key/value-cached decoder.

use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::checkpoint;
use crate::config::{Config, DeviceChoice, ModelConfig, Precision};
use crate::data::requests::{valid_as, Kind as AnswerKind, Stage};
use crate::data::wgsl::Example;
use crate::device;
use crate::error::{Result, TatError};
use crate::model::Seq2SeqTransformer;
use crate::precision::{self, Resolved};
use crate::rng::SplitMix64;
use crate::tasks::pairs::batch::{collate, encode_examples, encode_prompt};
use crate::tokenizer::{Tokenizer, BOS_ID, EOS_ID, PAD_ID};
use crate::wgsl::prefix::{check_prefix, closings, fails_so_far, Goal, Viability};

/// A trained model ready to answer prompts.
pub struct Generator {
    model: Seq2SeqTransformer,
    tokenizer: Tokenizer,
    config: Config,
    device: Device,
    precision: Resolved,
    _vs: VarStore,
}

impl Generator {
    /// Loads a run folder (its `best`, else `last`) or a checkpoint folder, computing in the
    /// precision its config asks for (`auto` decides for this machine).
    pub fn load(path: &Path, device: DeviceChoice) -> Result<Self> {
        Self::load_with(path, device, None)
    }

    /// [`Generator::load`] with the checkpoint's precision replaced by `precision`: weights are
    /// stored in fp32, so a model trained in one precision answers in either.
    pub fn load_with(path: &Path, device: DeviceChoice, precision: Option<Precision>) -> Result<Self> {
        let dir = checkpoint::resolve(path)?;
        let ckpt = checkpoint::load(&dir)?;
        let ModelConfig::Transformer(model_config) = &ckpt.config.model else {
            return Err(TatError::Usage(format!(
                "{}: this run's model is a {}, which `generate` cannot decode. Fix: load it with the Python \
                 task API (`tat.load(RUN_DIR)`), or use a transformer run.",
                dir.display(),
                ckpt.config.model.architecture()
            )));
        };
        let device = device::resolve(device)?;
        let precision = precision::resolve(precision.unwrap_or(ckpt.config.training.precision), device);
        let tokenizer = ckpt.tokenizer()?.clone();
        let mut vs = VarStore::new(device);
        let mut model =
            Seq2SeqTransformer::new(&vs.root(), model_config, tokenizer.vocab_size() as i64, precision.compute);
        checkpoint::load_weights(&mut vs, &dir)?;
        model.freeze();
        Ok(Self { model, tokenizer, config: ckpt.config, device, precision, _vs: vs })
    }

    /// The precision the model computes in, and why.
    pub fn precision(&self) -> &Resolved {
        &self.precision
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The most tokens a reply can have: the model's positions, less the `<bos>`.
    pub fn max_new_tokens(&self) -> usize {
        self.model.config().max_seq_len as usize - 1
    }

    pub fn generate(&self, prompt: &str, max_new_tokens: usize) -> String {
        self.generate_batch(&[prompt], max_new_tokens).remove(0)
    }

    /// Greedy decoding of many prompts at once; each stops at `<eos>` or `max_new_tokens`.
    pub fn generate_batch(&self, prompts: &[&str], max_new_tokens: usize) -> Vec<String> {
        self.sample_batch(prompts, max_new_tokens, None)
    }

    /// Decodes many prompts at once, greedily or (with `sampling`) by seeded sampling.
    pub fn sample_batch(&self, prompts: &[&str], max_new_tokens: usize, sampling: Option<&Sampling>) -> Vec<String> {
        let rows = self.decode_ids(prompts, max_new_tokens, Decoding::Cached, sampling);
        rows.iter().map(|ids| self.tokenizer.decode(ids)).collect()
    }

    /// Greedy token ids (without `<bos>` and `<eos>`) for each prompt.
    pub fn greedy_ids(&self, prompts: &[&str], max_new_tokens: usize, decoding: Decoding) -> Vec<Vec<i64>> {
        self.decode_ids(prompts, max_new_tokens, decoding, None)
    }

    /// Token ids (without `<bos>` and `<eos>`) for each prompt: the most likely token at each step,
    /// or a draw from [`Sampling`] where given (prompt `i` of the call draws from stream `i` of the
    /// seed, so a batch gives the same answers as the prompts one by one at the same positions).
    pub fn decode_ids(
        &self,
        prompts: &[&str],
        max_new_tokens: usize,
        decoding: Decoding,
        sampling: Option<&Sampling>,
    ) -> Vec<Vec<i64>> {
        let _guard = tch::no_grad_guard();
        let mut streams: Vec<SplitMix64> = match sampling {
            Some(s) => (0..prompts.len()).map(|i| SplitMix64::derived(s.seed, i as u64)).collect(),
            None => Vec::new(),
        };
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
            let next = match sampling {
                Some(s) => s.draw(&logits, &mut streams).to_device(self.device),
                None => logits.argmax(-1, false),
            };
            let next = next.where_self(&done.logical_not(), &pad);
            done = done.logical_or(&next.eq(EOS_ID));
            tokens = Tensor::cat(&[tokens, next.unsqueeze(1)], 1);
            if done.all().int64_value(&[]) == 1 {
                break;
            }
        }
        let tokens = tokens.to_device(Device::Cpu);
        (0..n).map(|i| answer_ids(Vec::<i64>::try_from(tokens.get(i)).expect("token ids are int64"))).collect()
    }

    /// Answers each prompt as `options` say: batched greedy or sampled decoding when `beam` is 1,
    /// else a beam search per prompt, optionally taking the best candidate that passes naga.
    pub fn answer(&self, prompts: &[&str], options: &DecodeOptions) -> Vec<String> {
        if let Some(constrain) = options.constrain {
            // `AsRequested` needs the requests' kinds, which only `eval --requests` has (it calls
            // `answer_constrained` itself); the fronts refuse it elsewhere, so a module it is.
            let kind = match constrain {
                Constrain::To(kind) => kind,
                Constrain::AsRequested => AnswerKind::Module,
            };
            let constraints = vec![Constraint { kind, stage: None }; prompts.len()];
            return self.answer_constrained(prompts, &constraints, options);
        }
        if options.beam <= 1 && !options.prefer_valid {
            return self.sample_batch(prompts, options.max_new_tokens, options.sampling.as_ref());
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

    /// Answers prompt `i` by [`Generator::constrained_search`] under `constraints[i]`: the best
    /// answer valid as its kind, or (where the search finds none) the best unfinished beam.
    pub fn answer_constrained(
        &self,
        prompts: &[&str],
        constraints: &[Constraint],
        options: &DecodeOptions,
    ) -> Vec<String> {
        prompts
            .iter()
            .zip(constraints)
            .enumerate()
            .map(|(i, (prompt, constraint))| {
                if let Some(sampling) = &options.sampling {
                    let mut stream = SplitMix64::derived(sampling.seed, i as u64);
                    for _ in 0..CONSTRAINED_SAMPLES {
                        if let Some(text) =
                            self.constrained_sample(prompt, *constraint, sampling, &mut stream, options.max_new_tokens)
                        {
                            return text;
                        }
                    }
                }
                let search = Search {
                    beam: options.beam.max(CONSTRAINED_BEAMS),
                    max_new_tokens: options.max_new_tokens,
                    length_penalty: options.length_penalty,
                    give_up: true,
                };
                let mut answer = self.constrained_search(prompt, *constraint, &[], search);
                if !answer.complete {
                    // Every beam was given up or ran out of tokens: search again, twice as wide,
                    // keeping beams whose favourite continuation fails.
                    answer = self.constrained_search(prompt, *constraint, &[], search.wider());
                }
                if answer.complete {
                    return answer.candidates.swap_remove(0).text;
                }
                // Still nothing finished: the most of a beam that closes into an answer valid as asked.
                if let Some(text) = closed_answer(&answer, *constraint) {
                    return text;
                }
                match constraint.kind {
                    AnswerKind::Module => self.with_entry_point(prompt, *constraint, &answer, search.wider()),
                    _ => answer.candidates.swap_remove(0).text,
                }
            })
            .collect()
    }

    /// One seeded draw under `constraint`: at each step a token is drawn as [`Sampling`] says from
    /// the continuations still alive ([`check_prefix`], [`fails_so_far`]; a dead draw is taken
    /// out and the draw repeated, at most [`CONSTRAINED_TRIES`] times), `<eos>` only where the
    /// answer is valid as asked ([`valid_as`]). None when a step has no live continuation, a draw
    /// ends a statement or the answer that naga rejects, or the answer reaches `max_new_tokens`
    /// unfinished.
    pub fn constrained_sample(
        &self,
        prompt: &str,
        constraint: Constraint,
        sampling: &Sampling,
        stream: &mut SplitMix64,
        max_new_tokens: usize,
    ) -> Option<String> {
        let _guard = tch::no_grad_guard();
        let goal = goal_of(constraint.kind);
        let limit = max_new_tokens.min(self.max_new_tokens());
        let encoded = self.model.encode(&self.encode_prompts(&[prompt]), false);
        let mut cache = self.model.start_decoding(&encoded);
        let mut ids: Vec<i64> = Vec::new();
        let mut last = Tensor::full([1, 1], BOS_ID, (tch::Kind::Int64, self.device));
        for _ in 0..limit {
            let logits = self.model.decode_step(&encoded, &mut cache, &last);
            let scaled = (logits.to_kind(tch::Kind::Float) / sampling.temperature).softmax(-1, tch::Kind::Float);
            let mut probs =
                Vec::<f32>::try_from(scaled.to_device(Device::Cpu).view([-1])).expect("probabilities are f32");
            let text = self.tokenizer.decode(&ids);
            let mut chosen = None;
            for _ in 0..CONSTRAINED_TRIES {
                if probs.iter().all(|&p| p <= 0.0) {
                    break;
                }
                let token = sampling.draw_row(&probs, stream);
                match self.continuation(&ids, &text, token, goal, constraint) {
                    Continuation::Alive => {
                        chosen = Some(token);
                        break;
                    }
                    Continuation::Dead => probs[token as usize] = 0.0,
                    // The draw ended a statement or the answer, and naga rejects it: start over.
                    Continuation::Failing => return None,
                }
            }
            match chosen? {
                EOS_ID => return Some(text),
                token => {
                    ids.push(token);
                    last = Tensor::from_slice(&[token]).view([1, 1]).to_device(self.device);
                }
            }
        }
        None
    }

    /// What appending `token` to the answer `ids` (whose text is `text`) does under `constraint`.
    fn continuation(&self, ids: &[i64], text: &str, token: i64, goal: Goal, constraint: Constraint) -> Continuation {
        if token == EOS_ID {
            return match check_prefix(text, goal) {
                Viability::Complete if valid_as(constraint.kind, constraint.stage, text) => Continuation::Alive,
                Viability::Complete => Continuation::Failing,
                _ => Continuation::Dead,
            };
        }
        if token == BOS_ID || token == PAD_ID {
            return Continuation::Dead;
        }
        let extended = self.tokenizer.decode(&[ids, &[token]].concat());
        if check_prefix(&extended, goal) == Viability::Dead {
            Continuation::Dead
        } else if fails_so_far(&extended, goal) {
            Continuation::Failing
        } else {
            Continuation::Alive
        }
    }

    /// Beam search in which every beam can still be completed into valid WGSL of the constraint's
    /// kind: at each step a beam's continuations are tried most likely first, and one whose text
    /// [`check_prefix`] finds dead is skipped (at most [`CONSTRAINED_TRIES`] tried per beam);
    /// `<eos>` is taken only where the text is complete and passes naga as the kind (and stage)
    /// asked for ([`valid_as`]). A statement or declaration that naga rejects once ended
    /// ([`fails_so_far`]) is not taken, and with `give_up` a beam whose most likely continuation is
    /// such an ending is given up ([`Continuation::Failing`]), so the width goes to beams still on
    /// track.
    ///
    /// The answer starts with the ids `start` (none, or a forced beginning), which the decoder
    /// reads before the search and which add nothing to a beam's score.
    pub fn constrained_search(
        &self,
        prompt: &str,
        constraint: Constraint,
        start: &[i64],
        search: Search,
    ) -> ConstrainedAnswer {
        let _guard = tch::no_grad_guard();
        let Search { beam, max_new_tokens, length_penalty, give_up } = search;
        let goal = goal_of(constraint.kind);
        let width = beam.max(1);
        let limit = max_new_tokens.min(self.max_new_tokens()).saturating_sub(start.len());
        let rows = Tensor::zeros([width as i64], (tch::Kind::Int64, self.device));
        let encoded = self.model.encode(&self.encode_prompts(&[prompt]), false).select_rows(&rows);
        let mut cache = self.model.start_decoding(&encoded);
        let mut beams: Vec<(f64, Vec<i64>)> =
            (0..width).map(|i| (if i == 0 { 0.0 } else { f64::NEG_INFINITY }, start.to_vec())).collect();
        let mut last = Tensor::full([width as i64, 1], BOS_ID, (tch::Kind::Int64, self.device));
        for &token in start {
            let _ = self.model.decode_step(&encoded, &mut cache, &last);
            last = Tensor::full([width as i64, 1], token, (tch::Kind::Int64, self.device));
        }
        let mut finished: Vec<Candidate> = Vec::new();
        let mut checks = 0;
        let normalised = |score: f64, len: usize| score / (len as f64).powf(length_penalty);
        for _ in 0..limit {
            let logp = self.model.decode_step(&encoded, &mut cache, &last).log_softmax(-1, tch::Kind::Float);
            let vocab = logp.size()[1] as usize;
            let logp = Vec::<f32>::try_from(logp.to_device(Device::Cpu).view([-1])).expect("log-probs are f32");
            let mut options: Vec<(f64, usize, i64)> = Vec::new();
            for (b, (score, ids)) in beams.iter().enumerate().filter(|(_, (score, _))| score.is_finite()) {
                let row = &logp[b * vocab..(b + 1) * vocab];
                let mut order: Vec<usize> = (0..vocab).collect();
                order.sort_unstable_by(|&x, &y| row[y].total_cmp(&row[x]));
                let text = self.tokenizer.decode(ids);
                let mut kept = 0;
                for &t in order.iter().take(CONSTRAINED_TRIES) {
                    let token = t as i64;
                    checks += 1;
                    let alive = match self.continuation(ids, &text, token, goal, constraint) {
                        Continuation::Alive => true,
                        Continuation::Dead => false,
                        // What the beam most wants next fails naga: give up on the beam.
                        Continuation::Failing if give_up && kept == 0 => break,
                        Continuation::Failing => false,
                    };
                    if alive {
                        options.push((score + f64::from(row[t]), b, token));
                        kept += 1;
                        if kept == width {
                            break;
                        }
                    }
                }
            }
            options.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut next: Vec<(f64, usize, i64)> = Vec::with_capacity(width);
            for (rank, (score, b, token)) in options.into_iter().enumerate() {
                if token == EOS_ID {
                    if rank < width {
                        let ids = beams[b].1.clone();
                        finished.push(Candidate {
                            score: normalised(score, ids.len() + 1),
                            text: self.tokenizer.decode(&ids),
                            ids,
                        });
                    }
                } else if next.len() < width {
                    next.push((score, b, token));
                }
            }
            if finished.len() >= width || next.is_empty() {
                break;
            }
            // Dead rows stay in the cache as copies of a live one, with a score that drops them.
            let mut parents: Vec<i64> = next.iter().map(|&(_, b, _)| b as i64).collect();
            let mut tokens: Vec<i64> = next.iter().map(|&(_, _, t)| t).collect();
            let mut scores: Vec<(f64, Vec<i64>)> =
                next.iter().map(|&(score, b, t)| (score, [beams[b].1.as_slice(), &[t]].concat())).collect();
            while parents.len() < width {
                parents.push(parents[0]);
                tokens.push(tokens[0]);
                scores.push((f64::NEG_INFINITY, Vec::new()));
            }
            cache.reorder(&Tensor::from_slice(&parents).to_device(self.device));
            beams = scores;
            last = Tensor::from_slice(&tokens).view([-1, 1]).to_device(self.device);
        }
        let complete = !finished.is_empty();
        if !complete {
            finished = self.unfinished(beams, length_penalty);
        }
        finished.sort_by(|a, b| b.score.total_cmp(&a.score));
        if finished.is_empty() {
            finished.push(Candidate { text: String::new(), ids: Vec::new(), score: f64::NEG_INFINITY });
        }
        ConstrainedAnswer { candidates: finished, complete, checks }
    }

    /// A module request whose search found no module with the entry point asked for: the
    /// longest closing of the search's beams that is a module as it stands (or nothing), then
    /// the stage's attribute, and the model goes on from there under the constraint. When that
    /// finishes nothing either, its closings are tried, and last the stage's commonest header
    /// closed at once (`return vec4<f32>();`), so that a module request always ends in a module
    /// naga accepts with an entry point of the stage asked for (fragment when none is).
    fn with_entry_point(
        &self,
        prompt: &str,
        constraint: Constraint,
        answer: &ConstrainedAnswer,
        search: Search,
    ) -> String {
        let base = answer
            .candidates
            .iter()
            .flat_map(|c| closings(&c.text, Goal::Module))
            .find(|text| crate::wgsl::validate_module(text).is_empty())
            .unwrap_or_default();
        let stage = constraint.stage.unwrap_or(Stage::Fragment);
        let join = |rest: &str| if base.is_empty() { rest.to_string() } else { format!("{base}\n{rest}") };
        let start = self.tokenizer.encode(&join(entry_attribute(stage)));
        // The decoder's positions must hold the forced start and at least one token after it.
        if start.len() < search.max_new_tokens.min(self.max_new_tokens()) {
            let answer = self.constrained_search(prompt, constraint, &start, search);
            if answer.complete {
                return answer.candidates[0].text.clone();
            }
            if let Some(text) = closed_answer(&answer, constraint) {
                return text;
            }
        }
        let taken = crate::tokenizer::pieces(&base).contains(&"main");
        let entry = empty_entry_point(stage, if taken { entry_name(stage) } else { "main" });
        let whole = join(&entry);
        // Should the model's part clash with the entry point (a name it declares), the entry
        // point alone.
        if valid_as(constraint.kind, constraint.stage, &whole) {
            whole
        } else {
            entry
        }
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
            finished = self.unfinished(beams, length_penalty);
        }
        finished.sort_by(|a, b| b.score.total_cmp(&a.score));
        finished
    }

    /// The live beams of a search that finished none, as candidates (scores normalised by
    /// `length ^ length_penalty`).
    fn unfinished(&self, beams: Vec<(f64, Vec<i64>)>, length_penalty: f64) -> Vec<Candidate> {
        beams
            .into_iter()
            .filter(|(score, _)| score.is_finite())
            .map(|(score, ids)| Candidate {
                score: score / (ids.len() as f64).powf(length_penalty),
                text: self.tokenizer.decode(&ids),
                ids,
            })
            .collect()
    }

    /// For each example, the target tokens (`<eos>` included) whose most likely prediction is
    /// right when the model reads the reference prefix (teacher forcing), and their count.
    pub fn token_hits(&self, examples: &[Example]) -> Result<Vec<(usize, usize)>> {
        let _guard = tch::no_grad_guard();
        let max_len = self.model.config().max_seq_len;
        let pairs = encode_examples(&self.tokenizer, examples, max_len, "the evaluated examples")?;
        let batch = collate(&pairs.iter().collect::<Vec<_>>(), self.device);
        let predicted = self.model.forward(&batch.src, &batch.tgt_in, false).argmax(-1, false);
        let real = batch.tgt_out.ne(PAD_ID);
        let correct = predicted.eq_tensor(&batch.tgt_out).logical_and(&real).sum_dim_intlist(1, false, Kind::Int64);
        let counts = real.sum_dim_intlist(1, false, Kind::Int64);
        let correct = Vec::<i64>::try_from(correct.to_device(Device::Cpu)).expect("counts are int64");
        let counts = Vec::<i64>::try_from(counts.to_device(Device::Cpu)).expect("counts are int64");
        Ok(correct.into_iter().zip(counts).map(|(c, n)| (c as usize, n as usize)).collect())
    }

    fn encode_prompts(&self, prompts: &[&str]) -> Tensor {
        let max_len = self.model.config().max_seq_len as usize;
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

/// How many beams a constrained search keeps at least, and how many continuations of a beam it
/// tries per step (most likely first) before giving up on the beam.
pub const CONSTRAINED_BEAMS: usize = 4;
pub const CONSTRAINED_TRIES: usize = 64;
/// How many seeded draws a constrained sampling makes before it falls back to the constrained
/// beam search.
pub const CONSTRAINED_SAMPLES: usize = 4;

/// How a constrained search runs: its width, its token limit, its length penalty, and whether a
/// beam whose favourite continuation fails is given up ([`Generator::constrained_search`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Search {
    pub beam: usize,
    pub max_new_tokens: usize,
    pub length_penalty: f64,
    pub give_up: bool,
}

impl Search {
    /// Twice as wide, keeping the beams whose favourite continuation fails.
    pub fn wider(self) -> Search {
        Search { beam: 2 * self.beam, give_up: false, ..self }
    }
}

/// The most of an unfinished search's beams that closes into an answer valid as `constraint`
/// asks ([`closings`]), best beam first.
fn closed_answer(answer: &ConstrainedAnswer, constraint: Constraint) -> Option<String> {
    let goal = goal_of(constraint.kind);
    answer
        .candidates
        .iter()
        .flat_map(|c| closings(&c.text, goal))
        .find(|text| valid_as(constraint.kind, constraint.stage, text))
}

/// The attribute that opens an entry point of `stage`, as the training data writes it.
fn entry_attribute(stage: Stage) -> &'static str {
    match stage {
        Stage::Vertex => "@vertex\n",
        Stage::Fragment => "@fragment\n",
        Stage::Compute => "@compute ",
    }
}

/// The commonest header of the training data's entry points of `stage`, for a function `name`.
fn entry_header(stage: Stage, name: &str) -> String {
    match stage {
        Stage::Vertex => {
            format!("@vertex\nfn {name}(@location(0) position: vec3<f32>) -> @builtin(position) vec4<f32> {{")
        }
        Stage::Fragment => {
            format!("@fragment\nfn {name}(@location(0) uv: vec2<f32>) -> @location(0) vec4<f32> {{")
        }
        Stage::Compute => {
            format!("@compute @workgroup_size(64)\nfn {name}(@builtin(global_invocation_id) id: vec3<u32>) {{")
        }
    }
}

/// [`entry_header`] closed at once: an entry point of `stage` that does nothing (but return a zero
/// value).
fn empty_entry_point(stage: Stage, name: &str) -> String {
    let header = entry_header(stage, name);
    let closing = crate::wgsl::prefix::function_closing(header.trim_end_matches('{'));
    format!("{header}{closing}")
}

/// An entry point's name for when the module already has a `main`.
fn entry_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Vertex => "vs_main",
        Stage::Fragment => "fs_main",
        Stage::Compute => "cs_main",
    }
}

/// What a constrained search must finish with: valid WGSL of `kind`, with an entry point of
/// `stage` where one is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Constraint {
    pub kind: AnswerKind,
    pub stage: Option<Stage>,
}

/// The result of [`Generator::constrained_search`].
#[derive(Debug, Clone)]
pub struct ConstrainedAnswer {
    /// Best first: the finished candidates, each valid as the constraint asks; or, when none
    /// finished within the token limit, the unfinished beams.
    pub candidates: Vec<Candidate>,
    /// Whether `candidates` are finished (and valid).
    pub complete: bool,
    /// Prefix checks made, `<eos>` checks (which run naga) included.
    pub checks: usize,
}

/// What a continuation does to a constrained answer.
enum Continuation {
    /// It can still become valid.
    Alive,
    /// It breaks the grammar (or names what is not declared).
    Dead,
    /// It ends a statement, a declaration or the answer, and naga rejects what it ended: the
    /// answer might still be mended by what follows, but the model is lost. A beam (or a draw)
    /// whose most likely continuation this is, is given up.
    Failing,
}

/// The grammar an answer of `kind` is checked against.
fn goal_of(kind: AnswerKind) -> Goal {
    match kind {
        AnswerKind::Expression => Goal::Expression,
        AnswerKind::Statement => Goal::Statements,
        AnswerKind::Function => Goal::Functions,
        AnswerKind::Module => Goal::Module,
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
    /// Draw tokens instead of taking the most likely one (batched decoding only, not with beams).
    pub sampling: Option<Sampling>,
    /// 1 is greedy; more runs a beam search with that many beams.
    pub beam: usize,
    /// Exponent of the length normalisation of beam scores (0: none, 1: per-token average).
    pub length_penalty: f64,
    /// Return the best beam that passes naga (the best beam when none does).
    pub prefer_valid: bool,
    /// Decode under a constraint ([`Generator::constrained_search`]), with at least
    /// [`CONSTRAINED_BEAMS`] beams.
    pub constrain: Option<Constrain>,
}

impl DecodeOptions {
    /// These options for bare prompts, which have no kind of their own: refuses
    /// `constrain = requested`.
    pub fn for_prompts(self) -> Result<DecodeOptions> {
        if self.constrain == Some(Constrain::AsRequested) {
            return Err(TatError::Usage(
                "constrain = requested takes each request's kind, and a prompt has none. Fix: name the kind \
                 (expression, statement, function or module), or judge a request file with `eval --requests`."
                    .into(),
            ));
        }
        Ok(self)
    }
}

/// What answers a constrained decoding must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constrain {
    /// Valid WGSL of this kind.
    To(AnswerKind),
    /// Each request's own kind and stage (`eval --requests`).
    AsRequested,
}

impl Constrain {
    /// As the fronts spell it: `expression`, `statement`, `function`, `module` or `requested`.
    pub fn name(self) -> &'static str {
        match self {
            Constrain::To(kind) => kind.name(),
            Constrain::AsRequested => "requested",
        }
    }

    /// Reads [`Constrain::name`]; the error lists the choices.
    pub fn from_name(name: &str) -> Result<Constrain> {
        use AnswerKind::*;
        [
            Constrain::To(Expression),
            Constrain::To(Statement),
            Constrain::To(Function),
            Constrain::To(Module),
            Constrain::AsRequested,
        ]
        .into_iter()
        .find(|c| c.name() == name)
        .ok_or_else(|| {
            TatError::Usage(format!(
                "constrain = {name:?}: expected expression, statement, function, module, or requested (each \
                     request's own kind, with eval's request file)"
            ))
        })
    }
}

/// Decoding as a front asks for it: the CLI's flags, the Python keywords. [`DecodeRequest::resolve`]
/// applies the rules both share, so one request decodes the same way from either.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeRequest {
    /// `None`: as many tokens as the model's positions allow.
    pub max_new_tokens: Option<usize>,
    pub beam: usize,
    pub length_penalty: f64,
    /// Implies a beam search of 4 beams when `beam` is 1.
    pub prefer_valid: bool,
    /// `Some`: seeded sampling at this temperature instead of taking the most likely token.
    pub temperature: Option<f64>,
    /// Constrained decoding (a beam search of at least [`CONSTRAINED_BEAMS`]).
    pub constrain: Option<Constrain>,
    pub top_k: usize,
    pub top_p: f64,
    pub seed: u64,
}

impl Default for DecodeRequest {
    fn default() -> Self {
        Self {
            max_new_tokens: None,
            beam: 1,
            length_penalty: 1.0,
            prefer_valid: false,
            temperature: None,
            constrain: None,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

impl DecodeRequest {
    /// Checks the combination and fills in what the model decides (its longest reply).
    pub fn resolve(&self, generator: &Generator) -> Result<DecodeOptions> {
        let sampling = match self.temperature {
            Some(_) if self.beam > 1 || self.prefer_valid => {
                return Err(TatError::Usage(
                    "temperature samples one answer per prompt and cannot be combined with a beam search \
                     (beam > 1 or prefer-valid). Fix: leave out one of them."
                        .into(),
                ))
            }
            Some(t) => Some(Sampling::new(t, self.top_k, self.top_p, self.seed)?),
            None if self.top_k != 0 || self.top_p != 1.0 || self.seed != 0 => {
                return Err(TatError::Usage(
                    "top-k, top-p and seed only apply to sampling. Fix: also give a temperature (e.g. 0.8), \
                     or leave them out for greedy decoding."
                        .into(),
                ))
            }
            None => None,
        };
        let vocab = generator.tokenizer().vocab_size();
        if self.beam == 0 || self.beam > vocab {
            return Err(TatError::Usage(format!(
                "beam = {}: a beam search keeps 1 to {vocab} answers (the model's vocabulary). Fix: give --beam \
                 (beam=) a number in that range, such as 4; 1 decodes greedily.",
                self.beam
            )));
        }
        if !self.length_penalty.is_finite() {
            return Err(TatError::Usage(format!(
                "length-penalty = {}: expected a finite number (NaN or infinity ranks beams arbitrarily). Fix: give \
                 --length-penalty a number such as 1.0 (0 leaves lengths alone).",
                if self.length_penalty.is_nan() { "NaN".to_string() } else { self.length_penalty.to_string() }
            )));
        }
        Ok(DecodeOptions {
            max_new_tokens: self.max_new_tokens.unwrap_or(generator.max_new_tokens()),
            sampling,
            beam: match (self.constrain, self.prefer_valid) {
                // A constrained sampling falls back to a constrained beam search of this width.
                (Some(_), _) => self.beam.max(CONSTRAINED_BEAMS),
                (None, true) if self.beam == 1 => 4,
                _ => self.beam,
            },
            length_penalty: self.length_penalty,
            prefer_valid: self.prefer_valid,
            constrain: self.constrain,
        })
    }
}

/// Seeded sampling: logits divided by `temperature`, cut to the `top_k` most likely tokens (0: no
/// cut), then to the smallest set whose probability reaches `top_p` (1.0: no cut), renormalised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub temperature: f64,
    pub top_k: usize,
    pub top_p: f64,
    pub seed: u64,
}

impl Sampling {
    /// Checks the ranges, naming the flag to fix.
    pub fn new(temperature: f64, top_k: usize, top_p: f64, seed: u64) -> Result<Self> {
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(TatError::Usage(format!(
                "temperature = {temperature}: expected a positive number (e.g. 0.8); leave it out for greedy decoding"
            )));
        }
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(TatError::Usage(format!("top-p = {top_p}: expected a probability in (0, 1], e.g. 0.9")));
        }
        Ok(Self { temperature, top_k, top_p, seed })
    }

    /// One token per row of `logits` (`[rows, vocab]`), row `i` drawing from `streams[i]`.
    fn draw(&self, logits: &Tensor, streams: &mut [SplitMix64]) -> Tensor {
        let vocab = logits.size()[1] as usize;
        let scaled = (logits.to_kind(Kind::Float) / self.temperature).softmax(-1, Kind::Float);
        let probs = Vec::<f32>::try_from(scaled.to_device(Device::Cpu).view([-1])).expect("probabilities are f32");
        let picks: Vec<i64> =
            probs.chunks(vocab).zip(streams.iter_mut()).map(|(row, rng)| self.draw_row(row, rng)).collect();
        Tensor::from_slice(&picks)
    }

    fn draw_row(&self, probs: &[f32], rng: &mut SplitMix64) -> i64 {
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
        if self.top_k > 0 {
            order.truncate(self.top_k);
        }
        let mut kept = 0;
        let mut mass = 0.0f64;
        for &t in &order {
            kept += 1;
            mass += f64::from(probs[t]);
            if mass >= self.top_p {
                break;
            }
        }
        order.truncate(kept);
        let total: f64 = order.iter().map(|&t| f64::from(probs[t])).sum();
        let mut target = rng.next_f64() * total;
        for &t in &order {
            target -= f64::from(probs[t]);
            if target < 0.0 {
                return t as i64;
            }
        }
        *order.last().expect("at least one token is kept") as i64
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_resort_entry_points_are_valid_as_their_stage() {
        for stage in [Stage::Vertex, Stage::Fragment, Stage::Compute] {
            for name in ["main", entry_name(stage)] {
                let entry = empty_entry_point(stage, name);
                assert!(valid_as(AnswerKind::Module, Some(stage), &entry), "{entry}");
                assert!(entry.starts_with(entry_attribute(stage)), "{entry}");
            }
        }
    }
}
