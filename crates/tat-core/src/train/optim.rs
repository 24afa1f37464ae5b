//! AdamW over tch tensors, written here because tch's optimizers cannot save their moments:
//! a resumed run must continue exactly, so the moments go into `optimizer.safetensors`.

use std::path::Path;

use tch::{nn::VarStore, Tensor};

use crate::config::TrainingConfig;
use crate::error::{Result, TatError};
use crate::native::{self, AdamWGroup, AdamWStep};

const EXP_AVG: &str = "exp_avg.";
const EXP_AVG_SQ: &str = "exp_avg_sq.";

struct Param {
    name: String,
    value: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    /// Decoupled weight decay applies to matrices only, not to biases and norm gains.
    decay: bool,
}

pub struct AdamW {
    params: Vec<Param>,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    /// Optimizer steps taken; drives the bias correction.
    pub steps: i64,
}

impl AdamW {
    pub fn new(vs: &VarStore, config: &TrainingConfig) -> Self {
        let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let params = named
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .map(|(name, value)| Param {
                exp_avg: value.zeros_like(),
                exp_avg_sq: value.zeros_like(),
                decay: value.dim() >= 2,
                name,
                value,
            })
            .collect();
        Self {
            params,
            beta1: config.adam_beta1,
            beta2: config.adam_beta2,
            eps: config.adam_eps,
            weight_decay: config.weight_decay,
            steps: 0,
        }
    }

    /// The gradient step every model takes: backward from `loss`, global-norm clip (`clip`, 0:
    /// none), then one update at learning rate `lr`. A non-finite gradient norm is
    /// [`TatError::Diverged`], and then nothing is updated.
    pub fn backward_step(&mut self, loss: &Tensor, clip: f64, lr: f64) -> Result<()> {
        self.zero_grad()?;
        loss.backward();
        let norm = self.clip_grad_norm(clip)?;
        if !norm.is_finite() {
            return Err(TatError::Diverged(format!("the gradient norm is {norm}")));
        }
        self.step(lr)
    }

    /// Drops every gradient, as PyTorch's `zero_grad()` does: backward then writes fresh ones.
    pub fn zero_grad(&mut self) -> Result<()> {
        let values: Vec<&Tensor> = self.params.iter().map(|p| &p.value).collect();
        native::clear_grads(&values)
    }

    /// Scales gradients so their global L2 norm is at most `max_norm` (0: never); returns the
    /// norm before.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> Result<f64> {
        let grads: Vec<Tensor> = self.params.iter().map(|p| p.value.grad()).filter(Tensor::defined).collect();
        native::clip_grad_norm(&grads.iter().collect::<Vec<_>>(), max_norm)
    }

    /// One AdamW update of every parameter that has a gradient, in two calls of libtorch's fused
    /// kernel: the matrices with weight decay, the rest without.
    pub fn step(&mut self, lr: f64) -> Result<()> {
        self.steps += 1;
        let Some(first) = self.params.first() else { return Ok(()) };
        let step = Tensor::from(self.steps as f32).to_device(first.value.device());
        let grads: Vec<Tensor> = self.params.iter().map(|p| p.value.grad()).collect();
        for decay in [true, false] {
            let chosen: Vec<(&Param, &Tensor)> =
                self.params.iter().zip(&grads).filter(|(p, g)| p.decay == decay && g.defined()).collect();
            if chosen.is_empty() {
                continue;
            }
            let params: Vec<&Tensor> = chosen.iter().map(|(p, _)| &p.value).collect();
            let grads: Vec<&Tensor> = chosen.iter().map(|(_, g)| *g).collect();
            let exp_avgs: Vec<&Tensor> = chosen.iter().map(|(p, _)| &p.exp_avg).collect();
            let exp_avg_sqs: Vec<&Tensor> = chosen.iter().map(|(p, _)| &p.exp_avg_sq).collect();
            native::fused_adamw(
                &AdamWGroup { params: &params, grads: &grads, exp_avgs: &exp_avgs, exp_avg_sqs: &exp_avg_sqs },
                &AdamWStep {
                    step: &step,
                    lr,
                    beta1: self.beta1,
                    beta2: self.beta2,
                    weight_decay: if decay { self.weight_decay } else { 0.0 },
                    eps: self.eps,
                },
            )?;
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut named: Vec<(String, &Tensor)> = Vec::with_capacity(self.params.len() * 2);
        for p in &self.params {
            named.push((format!("{EXP_AVG}{}", p.name), &p.exp_avg));
            named.push((format!("{EXP_AVG_SQ}{}", p.name), &p.exp_avg_sq));
        }
        Tensor::write_safetensors(&named, path).map_err(|e| TatError::io(path, std::io::Error::other(e.to_string())))
    }

    /// Restores the moments written by [`AdamW::save`]; `steps` comes from `state.json`.
    pub fn load(&mut self, path: &Path, steps: i64) -> Result<()> {
        let stored: std::collections::HashMap<String, Tensor> =
            Tensor::read_safetensors(path).map_err(|e| corrupt(path, &e.to_string()))?.into_iter().collect();
        tch::no_grad(|| {
            for p in &mut self.params {
                for (prefix, slot) in [(EXP_AVG, &mut p.exp_avg), (EXP_AVG_SQ, &mut p.exp_avg_sq)] {
                    let key = format!("{prefix}{}", p.name);
                    let src = stored.get(&key).ok_or_else(|| corrupt(path, &format!("missing tensor `{key}`")))?;
                    if src.size() != slot.size() {
                        return Err(corrupt(
                            path,
                            &format!("tensor `{key}` has shape {:?}, the model needs {:?}", src.size(), slot.size()),
                        ));
                    }
                    slot.copy_(src);
                }
            }
            Ok(())
        })?;
        self.steps = steps;
        Ok(())
    }
}

fn corrupt(path: &Path, what: &str) -> TatError {
    TatError::Checkpoint(format!(
        "{}: optimizer state is unreadable ({what}). Fix: resume from another checkpoint, or start again without --resume.",
        path.display()
    ))
}
