//! Completion by iterative unmasking (MaskGIT style): the prompt's tokens, then `new_tokens`
//! masks; at each of `steps` steps the model predicts every masked position, and the most
//! confident predictions are kept so that a cosine share of the masks remains
//! (cos(π/2 · (i + 1) / steps) of them after step i); the last step fills the rest. Greedy, or
//! sampled at a temperature (seeded).

use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::{adapted_hidden, build};
use crate::checkpoint;
use crate::config::{Config, DeviceChoice};
use crate::error::{Result, TatError};
use crate::model::diffusion_lm::DiffusionLm;
use crate::model::feedback::FeedbackNet;
use crate::tokenizer::bpe::BpeTokenizer;

/// How a completion is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Unmasking {
    pub new_tokens: usize,
    pub steps: usize,
    /// None: the most likely token; Some(t): a draw from softmax(logits / t).
    pub temperature: Option<f64>,
    pub seed: u64,
}

impl Default for Unmasking {
    fn default() -> Self {
        Self { new_tokens: 64, steps: 10, temperature: None, seed: 0 }
    }
}

/// A trained masked-diffusion run, for completing prompts.
pub struct Completer {
    _vs: VarStore,
    model: DiffusionLm,
    feedback: Option<FeedbackNet>,
    tokenizer: BpeTokenizer,
    config: Config,
    device: Device,
}

impl Completer {
    /// Loads a run folder (its `best`, else `last`) or a checkpoint folder.
    pub fn load(path: &Path, device: DeviceChoice) -> Result<Self> {
        let dir = checkpoint::resolve(path)?;
        let ckpt = checkpoint::load(&dir)?;
        if ckpt.config.model.diffusion_lm().is_none() {
            return Err(TatError::Usage(format!(
                "{}: this run's model is a {}, not a masked-diffusion model.",
                dir.display(),
                ckpt.config.model.architecture()
            )));
        }
        let device = crate::device::resolve(device)?;
        let compute = crate::precision::resolve(ckpt.config.training.precision, device).compute;
        let tokenizer = BpeTokenizer::load(&ckpt.config.tokenizer_path())?;
        let (mut vs, model, feedback) = build(&ckpt.config, &tokenizer, device, compute);
        checkpoint::load_weights(&mut vs, &dir)?;
        Ok(Self { _vs: vs, model, feedback, tokenizer, config: ckpt.config, device })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Each prompt followed by its completion (text, without the prompt); a completion stops at
    /// the first end of document.
    pub fn complete(&self, prompts: &[&str], how: &Unmasking) -> Result<Vec<String>> {
        let _guard = tch::no_grad_guard();
        tch::manual_seed(how.seed as i64);
        let mut out = Vec::new();
        for prompt in prompts {
            let ids = self.tokenizer.encode(prompt)?;
            let filled = self.unmask(&ids, how);
            let eos = self.tokenizer.eos_id();
            let answer: Vec<i64> = filled[ids.len()..].iter().copied().take_while(|&t| t != eos).collect();
            out.push(self.tokenizer.decode(&answer));
        }
        Ok(out)
    }

    /// `prefix` and `how.new_tokens` positions filled in, as ids.
    fn unmask(&self, prefix: &[i64], how: &Unmasking) -> Vec<i64> {
        let mask = self.tokenizer.mask_id();
        let total = how.new_tokens;
        let mut seq: Vec<i64> = prefix.iter().copied().chain(std::iter::repeat_n(mask, total)).collect();
        let len = seq.len() as i64;
        let real = Tensor::ones([1, len], (Kind::Bool, self.device));
        let steps = how.steps.max(1);
        for step in 0..steps {
            let masked: Vec<usize> = (0..seq.len()).filter(|&i| seq[i] == mask).collect();
            if masked.is_empty() {
                break;
            }
            let ids = Tensor::from_slice(&seq).view([1, len]).to_device(self.device);
            let (hidden, _) = adapted_hidden(&self.model, self.feedback.as_ref(), &ids, &real, false);
            let at: Vec<i64> = masked.iter().map(|&i| i as i64).collect();
            let rows = hidden.squeeze_dim(0).index_select(0, &Tensor::from_slice(&at).to_device(self.device));
            let logits = self.model.logits(&rows).to_kind(Kind::Float);
            // Only the file's tokens can be written: never [MASK], [PAD] or the padding ids.
            let base = self.tokenizer.base_size();
            let vocab = logits.size()[1];
            let _ = logits.narrow(1, base, vocab - base).fill_(f64::NEG_INFINITY);
            let probs = match how.temperature {
                Some(t) => (logits / t.max(1e-6)).softmax(-1, Kind::Float),
                None => logits.softmax(-1, Kind::Float),
            };
            let (confidence, choice) = match how.temperature {
                Some(_) => {
                    let choice = probs.multinomial(1, false).squeeze_dim(1);
                    (probs.gather(1, &choice.unsqueeze(1), false).squeeze_dim(1), choice)
                }
                None => {
                    let (c, i) = probs.max_dim(1, false);
                    (c, i)
                }
            };
            let keep_masked = if step + 1 == steps {
                0
            } else {
                ((std::f64::consts::FRAC_PI_2 * (step + 1) as f64 / steps as f64).cos() * total as f64).floor() as usize
            };
            let reveal = masked.len().saturating_sub(keep_masked);
            if reveal == 0 {
                continue;
            }
            let order = confidence.argsort(0, true);
            let order: Vec<i64> = Vec::try_from(order.narrow(0, 0, reveal as i64).to_device(Device::Cpu)).expect("ids");
            let choice: Vec<i64> = Vec::try_from(choice.to_device(Device::Cpu)).expect("ids");
            for k in order {
                seq[masked[k as usize]] = choice[k as usize];
            }
        }
        seq
    }
}
