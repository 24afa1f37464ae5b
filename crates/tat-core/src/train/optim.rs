//! AdamW over tch tensors, written here because tch's optimizers cannot save their moments:
//! a resumed run must continue exactly, so the moments go into `optimizer.safetensors`.

use std::path::Path;

use tch::{nn::VarStore, Kind, Tensor};

use crate::config::TrainingConfig;
use crate::error::{Result, TatError};

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

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.value.zero_grad();
        }
    }

    /// Scales gradients so their global L2 norm is at most `max_norm`; returns the norm before.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        let norms: Vec<Tensor> = self
            .params
            .iter()
            .map(|p| p.value.grad())
            .filter(|g| g.defined())
            .map(|g| g.norm().to_kind(Kind::Double))
            .collect();
        if norms.is_empty() {
            return 0.0;
        }
        let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
        if max_norm > 0.0 && total > max_norm {
            let scale = max_norm / (total + 1e-6);
            tch::no_grad(|| {
                for p in &self.params {
                    let mut g = p.value.grad();
                    if g.defined() {
                        let _ = g.f_mul_scalar_(scale);
                    }
                }
            });
        }
        total
    }

    pub fn step(&mut self, lr: f64) {
        self.steps += 1;
        let bc1 = 1.0 - self.beta1.powi(self.steps as i32);
        let bc2 = 1.0 - self.beta2.powi(self.steps as i32);
        tch::no_grad(|| {
            for p in &mut self.params {
                let g = p.value.grad();
                if !g.defined() {
                    continue;
                }
                if p.decay && self.weight_decay > 0.0 {
                    let _ = p.value.f_mul_scalar_(1.0 - lr * self.weight_decay);
                }
                let _ = p.exp_avg.f_lerp_(&g, 1.0 - self.beta1);
                let _ = p.exp_avg_sq.f_mul_scalar_(self.beta2);
                let _ = p.exp_avg_sq.f_addcmul_(&g, &(&g * (1.0 - self.beta2)));
                let denom = (&p.exp_avg_sq / bc2).sqrt() + self.eps;
                let _ = p.value.f_addcdiv_(&(&p.exp_avg * (-lr / bc1)), &denom);
            }
        });
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
