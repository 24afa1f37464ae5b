//! A trained agent answering: greedy (or sampled) answers to prompts about pictures, and the
//! picture its decoder draws after the answer.

use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::config::{AgentConfig, DeviceChoice, Precision};
use crate::error::{Result, TatError};
use crate::model::agent::AgentNet;
use crate::rng::SplitMix64;
use crate::tokenizer::{Tokenizer, BOS_ID, EOS_ID, PAD_ID};

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
        let (s, b) = (c.image_size, prompts.len() as i64);
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
        let mut rows: Vec<Vec<i64>> = prompts
            .iter()
            .map(|p| {
                let mut ids = self.tokenizer.encode(p);
                ids.push(BOS_ID);
                ids
            })
            .collect();
        if let Some(long) = rows.iter().position(|r| r.len() as i64 + 1 > c.max_text_len) {
            return Err(TatError::Usage(format!(
                "prompt {long} ({:?}) is too long: the model reads at most {} text tokens",
                prompts[long], c.max_text_len
            )));
        }
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
