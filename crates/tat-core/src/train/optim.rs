//! The optimizer (AdamW, or plain SGD) over tch tensors, written here because tch's optimizers
//! cannot save their moments: a resumed run must continue exactly, so the moments go into
//! `optimizer.safetensors`.

use std::path::Path;

use tch::{nn::VarStore, Kind, Tensor};

use super::{Collective, Shared};
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

    /// The gradient step of a data-parallel run: backward from this process's `loss` (a mean
    /// over `weight` items; 0 for an empty share, whose loss is not read), the gradients times
    /// their weights summed over the processes and divided by the summed weight, then the clip
    /// and the update, the same on every process. A non-finite loss or gradient norm on any
    /// process stops every one ([`TatError::Diverged`]), or with `skip_bad` skips the step on
    /// every one (None). Returns the loss and weight over every process.
    pub fn backward_step_shared(
        &mut self,
        loss: &Tensor,
        weight: f64,
        clip: f64,
        lr: f64,
        collective: &mut dyn Collective,
        skip_bad: bool,
    ) -> Result<Option<Shared>> {
        self.zero_grad()?;
        let value = if weight > 0.0 { loss.double_value(&[]) } else { 0.0 };
        if weight > 0.0 && value.is_finite() {
            // The gradient of this share's mean; it is weighted when it joins the sum.
            loss.backward();
        }
        let grads: Vec<Tensor> = self.params.iter().map(|p| p.value.grad()).collect();
        // One small sum first: the weighted loss, the weight, and which gradients exist (a part
        // of the model one process's share did not reach has none there).
        let mut scalars = vec![value * weight, weight];
        scalars.extend(grads.iter().map(|g| f64::from(u8::from(g.defined()))));
        let summed = sum_scalars(collective, &scalars)?;
        let total = summed[1];
        let global = summed[0] / total;
        let bad = |what: String, optimizer: &mut Self| {
            optimizer.zero_grad()?;
            if skip_bad {
                Ok(None)
            } else {
                Err(TatError::Diverged(what))
            }
        };
        if !global.is_finite() {
            return bad(format!("the loss over the run's processes is {global}"), self);
        }
        let values: Vec<&Tensor> = self.params.iter().map(|p| &p.value).collect();
        let reduced = sum_gradients(collective, &values, &grads, weight, &summed[2..])?;
        let (mut targets, mut sums) = (Vec::new(), Vec::new());
        for (value, sum) in values.iter().zip(reduced) {
            if let Some(sum) = sum {
                targets.push(*value);
                sums.push(sum / total);
            }
        }
        native::set_grads(&targets, &sums.iter().collect::<Vec<_>>())?;
        let norm = self.clip_grad_norm(clip)?;
        if !norm.is_finite() {
            return bad(format!("the gradient norm is {norm}"), self);
        }
        self.step(lr)?;
        Ok(Some(Shared { loss: global, weight: total }))
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

/// `values` summed over the processes (a small fp64 tensor on the CPU).
pub(super) fn sum_scalars(collective: &mut dyn Collective, values: &[f64]) -> Result<Vec<f64>> {
    let buffer = Tensor::from_slice(values);
    collective.all_reduce_sum(&buffer)?;
    Ok(Vec::<f64>::try_from(&buffer)?)
}

/// Each of `grads` (one per parameter of `values`, undefined where this process has none) times
/// `weight`, summed over the processes in one buffer; None where no process had one (`counts`:
/// how many did, summed before).
fn sum_gradients(
    collective: &mut dyn Collective,
    values: &[&Tensor],
    grads: &[Tensor],
    weight: f64,
    counts: &[f64],
) -> Result<Vec<Option<Tensor>>> {
    let Some(first) = values.first() else { return Ok(Vec::new()) };
    let options = (Kind::Float, first.device());
    let parts: Vec<Tensor> = values
        .iter()
        .zip(grads)
        .map(|(v, g)| {
            if g.defined() {
                (g.to_kind(Kind::Float) * weight).reshape([-1])
            } else {
                Tensor::zeros([v.numel() as i64], options)
            }
        })
        .collect();
    let bucket = tch::no_grad(|| Tensor::cat(&parts, 0));
    collective.all_reduce_sum(&bucket)?;
    let mut offset = 0;
    Ok(values
        .iter()
        .zip(counts)
        .map(|(v, &count)| {
            let n = v.numel() as i64;
            let part = (count > 0.0).then(|| bucket.narrow(0, offset, n).view_as(v).to_kind(v.kind()));
            offset += n;
            part
        })
        .collect())
}

/// Updates a task computed itself, summed over the processes (undefined where no process had
/// one; every process must hand over the same set).
pub(super) fn sum_over_processes(collective: &mut dyn Collective, grads: &[Tensor]) -> Result<Vec<Tensor>> {
    let counts = sum_scalars(collective, &grads.iter().map(|g| f64::from(u8::from(g.defined()))).collect::<Vec<_>>())?;
    // The shapes come from this process's updates: one missing here but present on another
    // process cannot be placed.
    if counts.iter().zip(grads).any(|(&c, g)| c > 0.0 && !g.defined()) {
        return Err(TatError::Torch(
            "a local update is missing on this process but present on another: every process must update the \
             same parameters"
                .into(),
        ));
    }
    let defined: Vec<Tensor> = grads.iter().filter(|g| g.defined()).map(Tensor::shallow_clone).collect();
    let shapes: Vec<&Tensor> = defined.iter().collect();
    let mut summed = sum_gradients(collective, &shapes, &defined, 1.0, &vec![1.0; defined.len()])?.into_iter();
    Ok(grads
        .iter()
        .map(|g| if g.defined() { summed.next().flatten().unwrap_or_else(Tensor::new) } else { Tensor::new() })
        .collect())
}
