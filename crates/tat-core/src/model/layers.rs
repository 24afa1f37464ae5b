//! Building blocks shared by the models: a precision-aware linear layer, layer norm, feed-forward.

use tch::nn::{self, Init, Module};
use tch::{Device, Kind, Tensor};

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

    /// A layer without bias around an existing weight variable `[out, in]`.
    pub fn from_weight(weight: Tensor, compute: Kind) -> Self {
        Self { weight, bias: None, compute, frozen: None }
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

/// Inverted dropout: zeroes each element with probability `p` (when `train`) and scales the rest
/// by `1 / (1 - p)`.
///
/// On the CPU the mask comes from 16 random bits per element, drawn four elements to one 64-bit
/// word (libtorch's `dropout` draws one Bernoulli sample per element, which took as long as all
/// the model's matrix products); an element is kept where its bits, read as an int16, are at
/// least a threshold, so `p` is kept to within 2^-17. One pass of the engine's own kernel
/// applies the mask and the scale (`native::word_dropout`), and one pass its backward: the same
/// arithmetic as multiplying by a factor tensor of 0 and `1 / (1 - p)`, without making the
/// factor.
pub fn dropout(x: &Tensor, p: f64, train: bool) -> Tensor {
    if !train || p <= 0.0 {
        return x.shallow_clone();
    }
    if x.device() != Device::Cpu || p >= 1.0 {
        return x.dropout(p, train);
    }
    let n = x.numel() as i64;
    let mut words = Tensor::empty([(n + 3) / 4], (Kind::Int64, Device::Cpu));
    let _ = words.random_from_(i64::MIN, None);
    let threshold = (p * 65536.0).round() as i64 - 32768;
    let words = words.view_dtype(Kind::Int16).narrow(0, 0, n);
    crate::native::word_dropout(x, &words, threshold, 1.0 / (1.0 - p)).unwrap_or_else(|e| panic!("{e}"))
}

pub fn layer_norm(p: nn::Path, dim: i64) -> nn::LayerNorm {
    nn::layer_norm(p, vec![dim], Default::default())
}

/// Position-wise feed-forward: `Linear -> GELU -> dropout -> Linear`.
#[derive(Debug)]
pub struct FeedForward {
    up: Linear,
    /// A gated feed-forward's gate (SwiGLU: `down(silu(gate(x)) * up(x))`); none: `down(gelu(up(x)))`.
    gate: Option<Linear>,
    down: Linear,
    dropout: f64,
}

impl FeedForward {
    pub fn new(p: nn::Path, d_model: i64, d_ff: i64, dropout: f64, compute: Kind) -> Self {
        Self {
            up: Linear::new(&p / "up", d_model, d_ff, true, compute),
            gate: None,
            down: Linear::new(&p / "down", d_ff, d_model, true, compute),
            dropout,
        }
    }

    /// A gated feed-forward (SwiGLU): `down(silu(gate(x)) * up(x))`. The product lets one layer
    /// multiply two things a position holds (a question's words and a place it has read), where
    /// the GELU layer has to build each product out of its nonlinearity.
    pub fn gated(p: nn::Path, d_model: i64, d_ff: i64, dropout: f64, compute: Kind) -> Self {
        let gate = Some(Linear::new(&p / "gate", d_model, d_ff, true, compute));
        Self { gate, ..Self::new(p, d_model, d_ff, dropout, compute) }
    }

    pub fn freeze(&mut self) {
        self.up.freeze();
        if let Some(gate) = &mut self.gate {
            gate.freeze();
        }
        self.down.freeze();
    }

    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let h = match &self.gate {
            Some(gate) => gate.forward(x).silu() * self.up.forward(x),
            None => self.up.forward(x).gelu("none"),
        };
        let h = dropout(&h, self.dropout, train);
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

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device};

    #[test]
    fn a_gated_feed_forward_multiplies_silu_of_its_gate_by_its_up_projection_also_when_frozen() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let mut ff = FeedForward::gated(vs.root() / "ff", 6, 10, 0.0, Kind::Float);
        let mut names: Vec<String> = vs.variables().into_keys().collect();
        names.sort();
        assert_eq!(
            names,
            ["ff.down.bias", "ff.down.weight", "ff.gate.bias", "ff.gate.weight", "ff.up.bias", "ff.up.weight"]
        );
        let x = Tensor::randn([3, 4, 6], (Kind::Float, Device::Cpu));
        let v = vs.variables();
        let affine =
            |name: &str, x: &Tensor| x.matmul(&v[&format!("ff.{name}.weight")].tr()) + &v[&format!("ff.{name}.bias")];
        let gate = affine("gate", &x);
        let want = affine("down", &(&gate * gate.sigmoid() * affine("up", &x)));
        let got = ff.forward(&x, false);
        assert!(got.allclose(&want, 1e-5, 1e-6, false), "{got} {want}");
        ff.freeze();
        assert!(ff.forward(&x, false).allclose(&want, 1e-5, 1e-6, false));
        // The plain layer has no gate.
        let vs = VarStore::new(Device::Cpu);
        let _ = FeedForward::new(vs.root() / "ff", 6, 10, 0.0, Kind::Float);
        assert!(!vs.variables().contains_key("ff.gate.weight"));
    }

    /// The one-pass dropout gives, forward and backward, exactly what multiplying by a factor
    /// tensor (0 or `1 / (1 - p)`, in the input's kind) made from the same random words gives,
    /// NaN and infinities included; it drops a share `p`.
    #[test]
    fn dropout_is_the_product_with_its_factor_forward_and_backward() {
        let (p, shape) = (0.3, [5i64, 7, 300]);
        let n = 5 * 7 * 300;
        let same = |a: &Tensor, b: &Tensor| {
            a.isnan().equal(&b.isnan()) && a.nan_to_num(0.0, 1e300, -1e300).equal(&b.nan_to_num(0.0, 1e300, -1e300))
        };
        for kind in [Kind::Float, Kind::BFloat16, Kind::Double] {
            let x = Tensor::randn(shape, (Kind::Float, Device::Cpu));
            x.view([-1]).narrow(0, 0, 3).copy_(&Tensor::from_slice(&[f32::NAN, f32::INFINITY, -0.5]));
            let x = x.to_kind(kind).set_requires_grad(true);
            let upstream = Tensor::randn(shape, (Kind::Float, Device::Cpu)).to_kind(kind);
            let with_grad = |y: &Tensor| {
                let g = Tensor::run_backward(&[(y * &upstream).sum(kind)], &[&x], false, false);
                (y.detach(), g[0].shallow_clone())
            };
            tch::manual_seed(11);
            let (got, got_grad) = with_grad(&dropout(&x, p, true));
            tch::manual_seed(11);
            let mut words = Tensor::empty([(n + 3) / 4], (Kind::Int64, Device::Cpu));
            let _ = words.random_from_(i64::MIN, None);
            let threshold = (p * 65536.0).round() as i64 - 32768;
            let keep = words.view_dtype(Kind::Int16).narrow(0, 0, n).view(shape).ge(threshold);
            let factor = Tensor::where_scalar(&keep, 1.0 / (1.0 - p), 0.0).to_kind(kind);
            let (want, want_grad) = with_grad(&(&x * factor));
            assert!(same(&got, &want), "{kind:?}: forward");
            assert!(same(&got_grad, &want_grad), "{kind:?}: backward");
            assert_eq!(got.kind(), kind);
            let dropped = keep.logical_not().to_kind(Kind::Float).mean(Kind::Float).double_value(&[]);
            assert!((dropped - p).abs() < 0.02, "{kind:?}: dropped {dropped}");
            assert!(got.get(0).get(0).get(0).isnan().int64_value(&[]) == 1);
        }
    }
}
