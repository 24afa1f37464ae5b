//! A trained agent answering: greedy (or sampled) answers to prompts about pictures, and the
//! picture its decoder draws after the answer.

use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::config::{AgentConfig, DeviceChoice, Precision};
use crate::error::{Result, TatError};
use crate::model::agent::AgentNet;
use crate::rng::SplitMix64;
use crate::tokenizer::{Tokenizer, BOS_ID, EOS_ID, PAD_ID, UNK_ID};

/// Answer tokens (with `<eos>`) the runner writes at most.
pub const MAX_ANSWER: usize = 8;

pub struct Agent {
    _vs: VarStore,
    net: AgentNet,
    tokenizer: Tokenizer,
    device: Device,
}

/// How the runner picks each answer token: the likeliest (`Greedy`), or drawn from the model's
/// distribution with its logits divided by `temperature` (> 0), by a generator seeded with `seed`
/// (the same seed and inputs give the same answers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decoding {
    Greedy,
    Sample { temperature: f64, seed: u64 },
}

/// Answers and, when asked, pictures (`[B, S, S, 3]` uint8) for a batch.
pub struct Answers {
    pub texts: Vec<String>,
    pub pictures: Option<Tensor>,
}

impl Agent {
    /// The agent in the checkpoint `dir` (a run folder resolves to its `best`, else `last`).
    pub fn load(dir: &Path, device: DeviceChoice, precision: Option<Precision>) -> Result<Agent> {
        // The harness calls the model thousands of times with pictures' worth of activations:
        // with glibc's defaults each call maps and faults in fresh memory (44% of an
        // evaluation's CPU time went to the kernel; BENCHMARKS.md).
        crate::device::keep_freed_memory();
        let dir = crate::checkpoint::resolve(dir)?;
        let ckpt = crate::checkpoint::load(&dir)?;
        let Some(config) = ckpt.config.model.agent() else {
            return Err(TatError::Checkpoint(format!(
                "{}: a {} checkpoint, not an agent's. Fix: load it with tat.load, which serves every task.",
                dir.display(),
                ckpt.config.model.size()
            )));
        };
        let device = crate::device::resolve(device)?;
        let compute = crate::precision::resolve(precision.unwrap_or(ckpt.config.training.precision), device).compute;
        let tokenizer = ckpt.tokenizer()?.clone();
        let mut vs = VarStore::new(device);
        let net = AgentNet::new(&vs.root(), config, tokenizer.vocab_size() as i64, compute.kind());
        crate::checkpoint::load_weights(&mut vs, &dir)?;
        vs.freeze();
        Ok(Agent { _vs: vs, net, tokenizer, device })
    }

    pub fn config(&self) -> &AgentConfig {
        self.net.config()
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Answers to `prompts` about `image` `[B, S, S, 3]` uint8 with `canvases` `[B, C, S, S, 3]`
    /// (oldest first; C may be 0), each token picked as `decoding` says; with `pictures`, also
    /// what the decoder draws after each answer.
    pub fn answer(
        &self,
        image: &Tensor,
        canvases: &Tensor,
        prompts: &[String],
        pictures: bool,
        decoding: Decoding,
    ) -> Result<Answers> {
        let c = self.net.config();
        let b = prompts.len() as i64;
        self.check_pictures(image, canvases, b)?;
        if let Decoding::Sample { temperature, .. } = decoding {
            if !(temperature > 0.0 && temperature.is_finite()) {
                return Err(TatError::Usage(format!(
                    "temperature {temperature}: sampling needs a positive temperature, such as 1 (the model's own \
                     distribution); 0 is greedy"
                )));
            }
        }
        let _guard = tch::no_grad_guard();
        let image = image.to_device(self.device);
        let canvases = canvases.to_device(self.device);
        let mut rows = self.prompt_rows(prompts);
        self.check_lengths(&rows, 1, prompts)?;
        let starts: Vec<usize> = rows.iter().map(Vec::len).collect();
        let mut sampler = match decoding {
            Decoding::Sample { seed, .. } => Some(SplitMix64::derived(seed, 0x005A_3D1E)),
            Decoding::Greedy => None,
        };
        let mut done = vec![false; rows.len()];
        let mut last_states = None;
        // The pictures once, through the transformer too; only the text grows from one token
        // to the next.
        let seen = self.net.pictures(&image, &canvases);
        let prefix = self.net.prefix(&seen);
        for _ in 0..MAX_ANSWER {
            if !pictures && done.iter().all(|&d| d) {
                break;
            }
            let (text, lens) = self.collate(&rows);
            let states = self.net.states_cached(&seen, &prefix, &text, &lens);
            if done.iter().all(|&d| d) {
                last_states = Some(states);
                break;
            }
            let at: Vec<i64> = rows.iter().map(|r| states.text_start + r.len() as i64 - 1).collect();
            let d = *states.hidden.size().last().expect("[B, L, d]");
            let index = Tensor::from_slice(&at).to_device(self.device).view([b, 1, 1]).expand([b, 1, d], false);
            let logits = self.net.logits(&states.hidden.gather(1, &index, false).squeeze_dim(1));
            let picked = match decoding {
                Decoding::Greedy => logits.argmax(-1, false),
                Decoding::Sample { temperature, .. } => {
                    // Inverse-CDF draws on the CPU from the call's own generator: the same seed
                    // gives the same answers on every device.
                    let rng = sampler.as_mut().expect("a generator where sampling");
                    let cumulative = (logits / temperature)
                        .softmax(-1, Kind::Double)
                        .to_device(Device::Cpu)
                        .cumsum(-1, Kind::Double);
                    let total = cumulative.narrow(1, cumulative.size()[1] - 1, 1);
                    let u: Vec<f64> = (0..b).map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).collect();
                    let u = Tensor::from_slice(&u).view([b, 1]) * total;
                    // The first token whose cumulative share passes u.
                    cumulative.le_tensor(&u).sum_dim_intlist(1, false, Kind::Int64).clamp_max(cumulative.size()[1] - 1)
                }
            };
            let next: Vec<i64> = Vec::try_from(picked.to_device(Device::Cpu)).expect("int64 ids");
            for (i, row) in rows.iter_mut().enumerate() {
                let full = row.len() as i64 >= c.max_text_len || row.len() - starts[i] >= MAX_ANSWER;
                if !done[i] && !full {
                    row.push(next[i]);
                    done[i] = next[i] == EOS_ID;
                } else {
                    done[i] = true;
                }
            }
        }
        let texts = rows.iter().zip(&starts).map(|(r, &s)| self.tokenizer.decode(&r[s..])).collect();
        let pictures = if pictures {
            // The states after the whole answer (computed already when every answer ended in time).
            let states = match last_states {
                Some(states) => states,
                None => {
                    let (text, lens) = self.collate(&rows);
                    self.net.states_cached(&seen, &prefix, &text, &lens)
                }
            };
            let picture = self.net.picture(&states, false);
            Some((picture * 255.0).round().clamp(0.0, 255.0).to_kind(Kind::Uint8).to_device(Device::Cpu))
        } else {
            None
        };
        Ok(Answers { texts, pictures })
    }

    /// The natural log of the probability the model gives each of `answers` (its words, then
    /// `<eos>`) as the answer to the prompt of the same row, about `image` `[B, S, S, 3]` uint8
    /// with `canvases` `[B, C, S, S, 3]` (as [`Agent::answer`] reads them): a classifier's
    /// scores, for ranking a few candidate answers (the closed loop's moves) where greedy
    /// decoding names only the likeliest. One pass, teacher-forced.
    pub fn score(&self, image: &Tensor, canvases: &Tensor, prompts: &[String], answers: &[String]) -> Result<Vec<f64>> {
        let b = prompts.len() as i64;
        if answers.len() != prompts.len() {
            return Err(TatError::Usage(format!(
                "{} answers for {} prompts; score one answer per prompt (repeat a prompt to score several)",
                answers.len(),
                prompts.len()
            )));
        }
        self.check_pictures(image, canvases, b)?;
        let mut rows = Vec::with_capacity(prompts.len());
        let mut starts = Vec::with_capacity(prompts.len());
        for (i, (prompt, answer)) in prompts.iter().zip(answers).enumerate() {
            let mut ids = self.tokenizer.encode(prompt);
            ids.push(BOS_ID);
            starts.push(ids.len());
            for word in answer.split_whitespace() {
                let id = self.tokenizer.encode(word);
                if id.len() != 1 || id[0] == UNK_ID {
                    return Err(TatError::Usage(format!(
                        "answer {i} ({answer:?}): the model's vocabulary has no word {word:?}; score answers made \
                         of the words it was trained on"
                    )));
                }
                ids.push(id[0]);
            }
            ids.push(EOS_ID);
            rows.push(ids);
        }
        self.check_lengths(&rows, 0, prompts)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let _guard = tch::no_grad_guard();
        let (image, canvases) = (image.to_device(self.device), canvases.to_device(self.device));
        // Rows about the same pictures as the row before them (candidates for one prompt) share
        // one pass over the pictures: only the distinct rows' pictures run, then each row reads
        // its group's.
        let same = |t: &Tensor| {
            let (a, z) = (t.narrow(0, 1, b - 1), t.narrow(0, 0, b - 1));
            a.eq_tensor(&z).flatten(1, -1).all_dim(1, false)
        };
        let new = Tensor::cat(
            &[Tensor::ones([1], (Kind::Bool, self.device)), (same(&image).logical_and(&same(&canvases))).logical_not()],
            0,
        );
        let group = new.cumsum(0, Kind::Int64) - 1;
        let firsts = new.nonzero().squeeze_dim(1);
        let seen = self.net.pictures(&image.index_select(0, &firsts), &canvases.index_select(0, &firsts));
        let prefix = self.net.prefix(&seen).select_rows(&group);
        let seen = seen.select_rows(&group);
        let (text, lens) = self.collate(&rows);
        let states = self.net.states_cached(&seen, &prefix, &text, &lens);
        // Row i's states from its `<bos>` to its last answer word predict its answer and `<eos>`.
        let t = text.size()[1];
        let d = *states.hidden.size().last().expect("[B, L, d]");
        let text_states = states.hidden.narrow(1, states.text_start, t);
        let logp = self.net.logits(&text_states.reshape([b * t, d])).log_softmax(-1, Kind::Float).view([b, t, -1]);
        // Position p predicts the token at p + 1: gather each row's next tokens and keep those
        // of the answer.
        let next = text.roll([-1], [1]);
        let picked = logp.gather(2, &next.unsqueeze(2), false).squeeze_dim(2).to_device(Device::Cpu);
        let picked: Vec<f32> = Vec::try_from(picked.flatten(0, -1)).expect("float scores");
        Ok(rows
            .iter()
            .zip(&starts)
            .enumerate()
            .map(|(i, (row, &start))| {
                let at = i * t as usize;
                (start - 1..row.len() - 1).map(|p| f64::from(picked[at + p])).sum()
            })
            .collect())
    }

    /// The transformer's final state at `<bos>` after each prompt about `image` `[B, S, S, 3]`
    /// uint8 with `canvases` `[B, C, S, S, 3]`, `[B, d]` fp32 on the CPU: what the decoder's
    /// queries read of the prompt (`decoder_prompt`) and where the answer's first word is read.
    pub fn prompt_states(&self, image: &Tensor, canvases: &Tensor, prompts: &[String]) -> Result<Tensor> {
        let b = prompts.len() as i64;
        self.check_pictures(image, canvases, b)?;
        let rows = self.prompt_rows(prompts);
        self.check_lengths(&rows, 0, prompts)?;
        let _guard = tch::no_grad_guard();
        let seen = self.net.pictures(&image.to_device(self.device), &canvases.to_device(self.device));
        let prefix = self.net.prefix(&seen);
        let (text, lens) = self.collate(&rows);
        let states = self.net.states_cached(&seen, &prefix, &text, &lens);
        let d = *states.hidden.size().last().expect("[B, L, d]");
        let at = (lens - 1 + states.text_start).view([b, 1, 1]).expand([b, 1, d], false);
        Ok(states.hidden.gather(1, &at, false).squeeze_dim(1).to_kind(Kind::Float).to_device(Device::Cpu))
    }

    /// Each prompt's ids followed by `<bos>`, where its answer starts.
    fn prompt_rows(&self, prompts: &[String]) -> Vec<Vec<i64>> {
        prompts
            .iter()
            .map(|p| {
                let mut ids = self.tokenizer.encode(p);
                ids.push(BOS_ID);
                ids
            })
            .collect()
    }

    /// Checks the pictures and canvases of a call about `b` prompts.
    fn check_pictures(&self, image: &Tensor, canvases: &Tensor, b: i64) -> Result<()> {
        let c = self.net.config();
        let s = c.image_size;
        if image.size() != [b, s, s, 3] {
            return Err(TatError::Usage(format!(
                "pictures of shape {:?} for {b} prompts; expected [{b}, {s}, {s}, 3] uint8",
                image.size()
            )));
        }
        let k = canvases.size().get(1).copied().unwrap_or(-1);
        if canvases.dim() != 5 || canvases.size() != [b, k, s, s, 3] || k > c.max_canvases {
            return Err(TatError::Usage(format!(
                "canvases of shape {:?}; expected [{b}, C, {s}, {s}, 3] uint8 with C <= {}",
                canvases.size(),
                c.max_canvases
            )));
        }
        Ok(())
    }

    /// Checks that every row of text ids, with `room` tokens still to come, fits the model.
    fn check_lengths(&self, rows: &[Vec<i64>], room: usize, prompts: &[String]) -> Result<()> {
        let most = self.net.config().max_text_len;
        match rows.iter().position(|r| (r.len() + room) as i64 > most) {
            Some(long) => Err(TatError::Usage(format!(
                "prompt {long} ({:?}) is too long with its answer: the model reads at most {most} text tokens",
                prompts[long]
            ))),
            None => Ok(()),
        }
    }

    fn collate(&self, rows: &[Vec<i64>]) -> (Tensor, Tensor) {
        let longest = rows.iter().map(Vec::len).max().unwrap_or(0);
        let flat: Vec<i64> =
            rows.iter().flat_map(|r| r.iter().copied().chain(std::iter::repeat_n(PAD_ID, longest - r.len()))).collect();
        let lens: Vec<i64> = rows.iter().map(|r| r.len() as i64).collect();
        (
            Tensor::from_slice(&flat).view([rows.len() as i64, longest as i64]).to_device(self.device),
            Tensor::from_slice(&lens).to_device(self.device),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::agent::tests::small;
    use crate::model::agent::Inputs;

    /// A fresh agent over a few words (untrained: its scores are the arithmetic, not skill).
    fn fresh() -> Agent {
        let tokenizer = Tokenizer::build_words(["where is the gold", "left right forward clockwise"], 1);
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &small(), tokenizer.vocab_size() as i64, Kind::Float);
        Agent { _vs: vs, net, tokenizer, device: Device::Cpu }
    }

    #[test]
    fn prompt_states_are_the_state_at_bos_of_a_whole_pass() {
        let agent = fresh();
        let image = Tensor::randint(256, [3, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let canvases = Tensor::randint(256, [3, 1, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        // Prompts of different lengths, one followed by an answer in the whole pass: padding and
        // later tokens must not reach the state at `<bos>`.
        let prompts = ["where is the gold", "gold", "where is"].map(String::from);
        let got = agent.prompt_states(&image, &canvases, &prompts).unwrap();
        assert_eq!(got.size(), [3, small().d_model]);
        let _guard = tch::no_grad_guard();
        let rows: Vec<Vec<i64>> = prompts
            .iter()
            .map(|p| {
                agent.tokenizer.encode(p).into_iter().chain([BOS_ID]).chain(agent.tokenizer.encode("left")).collect()
            })
            .collect();
        let (text, lens) = agent.collate(&rows);
        let inputs = Inputs { image: &image, canvases: &canvases, text: &text, text_len: &lens };
        let whole = agent.net.states(&inputs, false);
        for (i, row) in rows.iter().enumerate() {
            let at = states_bos(row) + whole.text_start;
            let want = whole.hidden.get(i as i64).get(at);
            let diff = (got.get(i as i64) - want).abs().max().double_value(&[]);
            assert!(diff < 1e-4, "row {i}: {diff}");
        }
        let err = agent.prompt_states(&image.narrow(0, 0, 2), &canvases, &prompts).unwrap_err().to_string();
        assert!(err.contains("for 3 prompts"), "{err}");
    }

    /// Where `<bos>` is in a row of ids.
    fn states_bos(row: &[i64]) -> i64 {
        row.iter().position(|&t| t == BOS_ID).expect("a <bos>") as i64
    }

    #[test]
    fn scores_are_the_log_probabilities_decoding_reads_token_by_token() {
        let agent = fresh();
        let image = Tensor::randint(256, [4, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let canvases = Tensor::randint(256, [4, 1, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        // The last two rows ask about the same pictures (they share one pass over them), the
        // first two about pictures that differ only in the canvas. Rows of different lengths:
        // padding must not reach any score.
        image.get(1).copy_(&image.get(0));
        image.get(3).copy_(&image.get(2));
        canvases.get(3).copy_(&canvases.get(2));
        let prompts = ["where is the gold", "gold", "where is the gold", "where is the gold"].map(String::from);
        let answers = ["left", "right forward clockwise", "forward", "clockwise"].map(String::from);
        let scores = agent.score(&image, &canvases, &prompts, &answers).unwrap();
        let _guard = tch::no_grad_guard();
        for (i, (prompt, answer)) in prompts.iter().zip(&answers).enumerate() {
            // Each row alone, one token at a time through the cached pass greedy decoding uses.
            let one = |t: &Tensor| t.narrow(0, i as i64, 1);
            let seen = agent.net.pictures(&one(&image), &one(&canvases));
            let prefix = agent.net.prefix(&seen);
            let mut row = agent.tokenizer.encode(prompt);
            row.push(BOS_ID);
            let mut want = 0.0;
            for next in agent.tokenizer.encode(answer).into_iter().chain([EOS_ID]) {
                let (text, lens) = agent.collate(std::slice::from_ref(&row));
                let states = agent.net.states_cached(&seen, &prefix, &text, &lens);
                let last = states.hidden.narrow(1, states.text_start + row.len() as i64 - 1, 1).squeeze_dim(1);
                want += agent.net.logits(&last).log_softmax(-1, Kind::Float).double_value(&[0, next]);
                row.push(next);
            }
            assert!((scores[i] - want).abs() < 1e-4, "row {i}: scored {}, token by token {want}", scores[i]);
            assert!(scores[i] < 0.0);
        }
        // An answer the vocabulary lacks, or one answer short, is refused with the fix.
        let unknown = ["left", "north", "left", "left"].map(String::from);
        let err = agent.score(&image, &canvases, &prompts, &unknown).unwrap_err().to_string();
        assert!(err.contains("\"north\"") && err.contains("answer 1"), "{err}");
        let err = agent.score(&image, &canvases, &prompts, &answers[..2]).unwrap_err().to_string();
        assert!(err.contains("2 answers for 4 prompts"), "{err}");
    }
}
