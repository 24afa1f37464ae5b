//! Building blocks shared by the models: a precision-aware linear layer, layer norm, feed-forward.

use tch::nn::{self, Init, Module};
use tch::{Kind, Tensor};

use crate::config::Precision;

/// The kind matrix products run in; everything else stays fp32.
pub fn compute_kind(precision: Precision) -> Kind {
    match precision {
        Precision::Fp32 => Kind::Float,
        Precision::Bf16 => Kind::BFloat16,
    }
}

/// `y = x W^T + b`, computed in `compute` kind and returned as fp32. Weights stay fp32 (the master
/// copy the optimizer updates); the cast is part of the graph, so gradients flow back to them.
#[derive(Debug)]
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    compute: Kind,
    /// Weight and bias already in the compute kind, for a model that only answers (see
    /// [`Linear::freeze`]).
    frozen: Option<(Tensor, Option<Tensor>)>,
}

impl Linear {
    pub fn new(p: nn::Path, in_dim: i64, out_dim: i64, bias: bool, compute: Kind) -> Self {
        let bound = (6.0 / (in_dim + out_dim) as f64).sqrt();
        let weight = p.var("weight", &[out_dim, in_dim], Init::Uniform { lo: -bound, up: bound });
        let bias = bias.then(|| p.var("bias", &[out_dim], Init::Const(0.0)));
        Self { weight, bias, compute, frozen: None }
    }

    /// Keeps a compute-kind copy of the weights, so that inference stops casting them on every
    /// call: at one position per decoding step the cast read and wrote every fp32 weight, three
    /// times the memory traffic of the product itself. The copy does not follow later updates:
    /// only for models that are done training.
    pub fn freeze(&mut self) {
        if self.compute != Kind::Float {
            let _guard = tch::no_grad_guard();
            let bias = self.bias.as_ref().map(|b| b.detach().to_kind(self.compute));
            self.frozen = Some((self.weight.detach().to_kind(self.compute), bias));
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_compute(x).to_kind(Kind::Float)
    }

    /// The product left in the compute kind, for callers that use it there (attention's
    /// q/k/v) and would otherwise cast it back and forth.
    pub fn forward_compute(&self, x: &Tensor) -> Tensor {
        if self.compute == Kind::Float {
            return x.linear(&self.weight, self.bias.as_ref());
        }
        let x = x.to_kind(self.compute);
        if let Some((w, b)) = &self.frozen {
            return x.linear(w, b.as_ref());
        }
        let w = self.weight.to_kind(self.compute);
        let b = self.bias.as_ref().map(|b| b.to_kind(self.compute));
        x.linear(&w, b.as_ref())
    }
}

pub fn layer_norm(p: nn::Path, dim: i64) -> nn::LayerNorm {
    nn::layer_norm(p, vec![dim], Default::default())
}

/// Position-wise feed-forward: `Linear -> GELU -> dropout -> Linear`.
#[derive(Debug)]
pub struct FeedForward {
    up: Linear,
    down: Linear,
    dropout: f64,
}

impl FeedForward {
    pub fn new(p: nn::Path, d_model: i64, d_ff: i64, dropout: f64, compute: Kind) -> Self {
        Self {
            up: Linear::new(&p / "up", d_model, d_ff, true, compute),
            down: Linear::new(&p / "down", d_ff, d_model, true, compute),
            dropout,
        }
    }

    pub fn freeze(&mut self) {
        self.up.freeze();
        self.down.freeze();
    }

    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self.up.forward(x).gelu("none").dropout(self.dropout, train);
        self.down.forward(&h)
    }
}

/// Fixed sinusoidal position encodings, `[max_len, d_model]`.
pub fn sinusoidal_positions(max_len: i64, d_model: i64, device: tch::Device) -> Tensor {
    let pos = Tensor::arange(max_len, (Kind::Float, device)).unsqueeze(1);
    let i = Tensor::arange_start_step(0, d_model, 2, (Kind::Float, device));
    let freq = (i * (-(10000f64.ln()) / d_model as f64)).exp();
    let angles = pos * freq.unsqueeze(0);
    Tensor::stack(&[angles.sin(), angles.cos()], 2).reshape([max_len, d_model])
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Tensor {
        Linear::forward(self, x)
    }
}
