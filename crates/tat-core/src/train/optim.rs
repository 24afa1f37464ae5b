//! The optimizer (AdamW, or plain SGD) over tch tensors, written here because tch's optimizers
//! cannot save their moments: a resumed run must continue exactly, so the moments go into
//! `optimizer.safetensors`.

use std::path::Path;

use tch::{nn::VarStore, Tensor};

use crate::config::{OptimizerKind, TrainingConfig};
use crate::error::{Result, TatError};
use crate::native::{self, AdamWGroup, AdamWStep};

const EXP_AVG: &str = "exp_avg.";
const EXP_AVG_SQ: &str = "exp_avg_sq.";

struct Param {
    name: String,
    value: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    /// Its group's learning rate as a multiple of the step's, and its decoupled weight decay.
    lr_scale: f64,
    weight_decay: f64,
}

/// Parameters that share a learning-rate multiple and a weight decay.
pub struct ParamGroup {
    pub params: Vec<(String, Tensor)>,
    pub lr_scale: f64,
    pub weight_decay: f64,
}

pub struct Optimizer {
    kind: OptimizerKind,
    params: Vec<Param>,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// Optimizer steps taken; drives the bias correction.
    pub steps: i64,
    /// Keep weights and moments at bf16 precision after every step (stored in fp32, rounded):
    /// how a run with pure bf16 weights and optimizer state behaves, at fp32 speed.
    round_to_bf16: bool,
}

impl Optimizer {
    /// AdamW over the trainable variables of `vs`, in name order. Decoupled weight decay applies
    /// to matrices only, not to biases and norm gains.
    pub fn new(vs: &VarStore, config: &TrainingConfig) -> Self {
        let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let (matrices, rest): (Vec<_>, Vec<_>) =
            named.into_iter().filter(|(_, t)| t.requires_grad()).partition(|(_, t)| t.dim() >= 2);
        let groups = [
            ParamGroup { params: matrices, lr_scale: 1.0, weight_decay: config.weight_decay },
            ParamGroup { params: rest, lr_scale: 1.0, weight_decay: 0.0 },
        ];
        Self::with_groups(groups, config)
    }

    /// AdamW over explicit groups (`training.adam_*` from `config`); state is saved by name.
    pub fn with_groups(groups: impl IntoIterator<Item = ParamGroup>, config: &TrainingConfig) -> Self {
        let mut params: Vec<Param> = groups
            .into_iter()
            .flat_map(|g| {
                g.params.into_iter().map(move |(name, value)| Param {
                    exp_avg: value.zeros_like(),
                    exp_avg_sq: value.zeros_like(),
                    lr_scale: g.lr_scale,
                    weight_decay: g.weight_decay,
                    name,
                    value,
                })
            })
            .collect();
        params.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            kind: config.optimizer,
            params,
            beta1: config.adam_beta1,
            beta2: config.adam_beta2,
            eps: config.adam_eps,
            steps: 0,
            round_to_bf16: false,
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

    /// [`Optimizer::backward_step`], except that a non-finite gradient norm drops the gradients
    /// and changes nothing; returns whether the step was taken.
    pub fn backward_step_or_skip(&mut self, loss: &Tensor, clip: f64, lr: f64) -> Result<bool> {
        self.zero_grad()?;
        loss.backward();
        let norm = self.clip_grad_norm(clip)?;
        if !norm.is_finite() {
            self.zero_grad()?;
            return Ok(false);
        }
        self.step(lr)?;
        Ok(true)
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

    /// One AdamW update of every parameter that has a gradient (from backward).
    pub fn step(&mut self, lr: f64) -> Result<()> {
        let grads: Vec<Tensor> = self.params.iter().map(|p| p.value.grad()).collect();
        self.apply(&grads, lr)
    }

    /// One AdamW update from given gradients, one per parameter in [`Optimizer::names`] order (an
    /// undefined tensor skips its parameter): how tasks without autograd hand over their updates.
    /// One call of libtorch's fused kernel per group.
    pub fn apply(&mut self, grads: &[Tensor], lr: f64) -> Result<()> {
        assert_eq!(grads.len(), self.params.len(), "one gradient per parameter");
        self.steps += 1;
        let Some(first) = self.params.first() else { return Ok(()) };
        let step = Tensor::from(self.steps as f32).to_device(first.value.device());
        let mut groups: Vec<(f64, f64)> = Vec::new();
        for p in &self.params {
            if !groups.contains(&(p.lr_scale, p.weight_decay)) {
                groups.push((p.lr_scale, p.weight_decay));
            }
        }
        for (lr_scale, weight_decay) in groups {
            let chosen: Vec<(&Param, &Tensor)> = self
                .params
                .iter()
                .zip(grads)
                .filter(|(p, g)| (p.lr_scale, p.weight_decay) == (lr_scale, weight_decay) && g.defined())
                .collect();
            if chosen.is_empty() {
                continue;
            }
            if self.kind == OptimizerKind::Sgd {
                tch::no_grad(|| {
                    for (p, g) in &chosen {
                        if weight_decay > 0.0 {
                            let _ = p.value.shallow_clone().g_mul_scalar_(1.0 - lr * lr_scale * weight_decay);
                        }
                        let _ = p.value.shallow_clone().g_sub_(&(*g * (lr * lr_scale)));
                    }
                });
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
                    lr: lr * lr_scale,
                    beta1: self.beta1,
                    beta2: self.beta2,
                    weight_decay,
                    eps: self.eps,
                },
            )?;
        }
        if self.round_to_bf16 {
            self.round_state();
        }
        Ok(())
    }

    /// After every step, rounds each trained weight and both moments to bf16 (kept in fp32): the
    /// arithmetic of pure bf16 weights and optimizer state, where an update smaller than about
    /// 0.4% of a weight is lost.
    pub fn rounding_to_bf16(mut self) -> Self {
        self.round_to_bf16 = true;
        self
    }

    fn round_state(&self) {
        let round = |t: &Tensor| {
            let rounded = t.to_kind(tch::Kind::BFloat16).to_kind(t.kind());
            t.shallow_clone().copy_(&rounded);
        };
        tch::no_grad(|| {
            for p in &self.params {
                round(&p.value);
                round(&p.exp_avg);
                round(&p.exp_avg_sq);
            }
        });
    }

    /// Drops the parameters whose name `keep` rejects (frozen ones): they get no update and no state.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.params.retain(|p| keep(&p.name));
    }

    /// The parameters' names, in the order [`Optimizer::apply`] takes gradients.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|p| p.name.as_str())
    }

    /// The moments as named tensors, for the checkpoint's `optimizer.safetensors` (none for SGD).
    pub fn state(&self) -> Vec<(String, &Tensor)> {
        if self.kind == OptimizerKind::Sgd {
            return Vec::new();
        }
        let mut named: Vec<(String, &Tensor)> = Vec::with_capacity(self.params.len() * 2);
        for p in &self.params {
            named.push((format!("{EXP_AVG}{}", p.name), &p.exp_avg));
            named.push((format!("{EXP_AVG_SQ}{}", p.name), &p.exp_avg_sq));
        }
        named
    }

    /// Restores the moments written from [`Optimizer::state`]; `steps` comes from `state.json`.
    pub fn load(&mut self, path: &Path, steps: i64) -> Result<()> {
        self.steps = steps;
        if self.kind == OptimizerKind::Sgd {
            return Ok(());
        }
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
        })
    }
}

fn corrupt(path: &Path, what: &str) -> TatError {
    TatError::Checkpoint(format!(
        "{}: optimizer state is unreadable ({what}). Fix: resume from another checkpoint, or start again without --resume.",
        path.display()
    ))
}
