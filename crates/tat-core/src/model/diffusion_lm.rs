//! The masked-diffusion language model (`architecture = "diffusion_lm"`): a bidirectional
//! transformer that reads a sequence in which some tokens are `[MASK]` and predicts them. Pre-norm
//! blocks without biases, LayerNorm without affine parameters, rotary positions (half split) on
//! queries and keys, GELU feed-forward, and an output head tied to the token embedding.

use tch::nn::{self, Init};
use tch::{Kind, Tensor};

use super::attention::{attention, KeysValues};
use super::layers::{dropout, Linear};
use crate::config::DiffusionLmConfig;
use crate::precision::Compute;

/// The standard deviation of every initial weight (GPT-2's); the two projections back into the
/// residual stream are scaled by 1/sqrt(2 * layers).
pub(crate) const INIT_STD: f64 = 0.02;

/// A pre-norm block without biases: attention with rotary positions, then a GELU feed-forward.
#[derive(Debug)]
pub(crate) struct Block {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    up: Linear,
    down: Linear,
}

/// Per-sample low-rank changes of one block's attention weights: for each of q, k, v and o,
/// `a` and `b` are `[B, r, d]`, the change of the weight is `scale · bᵀ a` (`[d, d]` per sample),
/// applied as `x ↦ scale · (x aᵀ) b` without forming it.
#[derive(Debug)]
pub struct Deltas {
    /// `[B, 4, r, d]`: q, k, v, o.
    pub a: Tensor,
    /// `[B, 4, r, d]`: q, k, v, o.
    pub b: Tensor,
    /// `[B]` or a scalar: each sample's (or every sample's) factor.
    pub scale: Tensor,
}

impl Deltas {
    /// `x`'s change through weight `which` (0 q, 1 k, 2 v, 3 o): `scale · (x aᵀ) b`, `[B, T, d]`.
    fn apply(&self, x: &Tensor, which: i64) -> Tensor {
        let a = self.a.select(1, which);
        let b = self.b.select(1, which);
        let low = x.to_kind(Kind::Float).matmul(&a.transpose(1, 2)).matmul(&b);
        let scale = if self.scale.dim() == 0 { self.scale.shallow_clone() } else { self.scale.view([-1, 1, 1]) };
        low * scale
    }

    /// ||ΔW||_F of weight `which`, per sample `[B]`: sqrt(sum((aaᵀ) ∘ (bbᵀ))) · |scale|.
    pub fn norm(&self, which: i64) -> Tensor {
        let a = self.a.select(1, which);
        let b = self.b.select(1, which);
        let gram = a.matmul(&a.transpose(1, 2)) * b.matmul(&b.transpose(1, 2));
        let squared = gram.sum_dim_intlist([1, 2].as_slice(), false, Kind::Float).clamp_min(0.0);
        squared.sqrt() * self.scale.abs()
    }
}

impl Block {
    pub(crate) fn new(p: &nn::Path, d: i64, ff: i64, layers: i64, compute: Kind) -> Self {
        let residual = INIT_STD / (2.0 * layers as f64).sqrt();
        Block {
            q: linear(p / "q", d, d, INIT_STD, compute),
            k: linear(p / "k", d, d, INIT_STD, compute),
            v: linear(p / "v", d, d, INIT_STD, compute),
            o: linear(p / "o", d, d, residual, compute),
            up: linear(p / "up", d, ff, INIT_STD, compute),
            down: linear(p / "down", ff, d, residual, compute),
        }
    }

    /// The attention weights `[d, d]` as stored: q, k, v, o.
    pub(crate) fn attention_weights(&self) -> [&Tensor; 4] {
        [&self.q.weight, &self.k.weight, &self.v.weight, &self.o.weight]
    }

    /// `x` after this block: `x + attention(norm(x))`, then `+ feed_forward(norm(x))`.
    pub(crate) fn forward(&self, x: &Tensor, ctx: &Context, deltas: Option<&Deltas>, train: bool) -> Tensor {
        let (b, t, d) = x.size3().expect("[B, T, d]");
        let nhead = ctx.nhead;
        let head = d / nhead;
        let h = norm(x);
        let project = |layer: &Linear, which: i64| {
            let y = layer.forward_compute(&h);
            match deltas {
                Some(delta) => (y.to_kind(Kind::Float) + delta.apply(&h, which)).to_kind(y.kind()),
                None => y,
            }
        };
        let split = |y: Tensor| y.view([b, t, nhead, head]).transpose(1, 2);
        let q = rotate(&split(project(&self.q, 0)), &ctx.cos, &ctx.sin);
        let k = rotate(&split(project(&self.k, 1)), &ctx.cos, &ctx.sin);
        let v = split(project(&self.v, 2));
        let kv = KeysValues::new(k, v);
        let attended = attention(&q, &kv, ctx.key_mask.as_ref(), false, ctx.dropout, train);
        let merged = attended.to_kind(Kind::Float).transpose(1, 2).contiguous().view([b, t, d]);
        let out = match deltas {
            Some(delta) => self.o.forward(&merged) + delta.apply(&merged, 3),
            None => self.o.forward(&merged),
        };
        let x = residual(x, dropout(&out, ctx.dropout, train));
        let up = self.up.forward(&norm(&x)).gelu("none");
        residual(&x, dropout(&self.down.forward(&up), ctx.dropout, train))
    }
}

/// What every block of one forward pass shares: rotary tables for its length, the key mask, the
/// head count and the dropout.
pub(crate) struct Context {
    pub cos: Tensor,
    pub sin: Tensor,
    pub key_mask: Option<Tensor>,
    pub nhead: i64,
    pub dropout: f64,
}

impl Context {
    /// For sequences of `t` positions; `keys` (`[B, t]` bool) marks what attention may read.
    pub(crate) fn new(
        t: i64,
        head: i64,
        base: f64,
        keys: Option<&Tensor>,
        nhead: i64,
        dropout: f64,
        device: tch::Device,
    ) -> Self {
        let (cos, sin) = rotary(t, head, base, device);
        let key_mask = keys.map(|k| {
            let b = k.size()[0];
            k.view([b, 1, 1, t])
        });
        Self { cos, sin, key_mask, nhead, dropout }
    }
}

#[derive(Debug)]
pub struct DiffusionLm {
    embedding: Tensor,
    blocks: Vec<Block>,
    nhead: i64,
    dropout: f64,
    rope_base: f64,
}

pub(crate) fn linear(p: nn::Path, in_dim: i64, out_dim: i64, stdev: f64, compute: Kind) -> Linear {
    let weight = p.var("weight", &[out_dim, in_dim], Init::Randn { mean: 0.0, stdev });
    Linear::from_weight(weight, compute)
}

impl DiffusionLm {
    pub fn new(p: &nn::Path, c: &DiffusionLmConfig, vocab_size: i64, precision: Compute) -> Self {
        let compute = precision.kind();
        let blocks = (0..c.num_layers)
            .map(|i| Block::new(&(p / "blocks" / i), c.d_model, c.dim_feedforward, c.num_layers, compute))
            .collect();
        Self {
            embedding: p.var("embedding", &[vocab_size, c.d_model], Init::Randn { mean: 0.0, stdev: INIT_STD }),
            blocks,
            nhead: c.nhead,
            dropout: c.dropout,
            rope_base: c.rope_base,
        }
    }

    pub fn num_layers(&self) -> usize {
        self.blocks.len()
    }

    /// Block `i`'s attention weights `[d, d]`: q, k, v, o.
    pub fn attention_weights(&self, i: usize) -> [&Tensor; 4] {
        self.blocks[i].attention_weights()
    }

    /// The final hidden states `[B, T, d]` of `ids` (`[B, T]`). `keys` (`[B, T]` bool) marks the
    /// positions attention may read (the real tokens); None reads every position.
    pub fn hidden(&self, ids: &Tensor, keys: Option<&Tensor>, train: bool) -> Tensor {
        self.hidden_with(ids, keys, None, train)
    }

    /// [`DiffusionLm::hidden`] with per-sample changes of each block's attention weights
    /// (`deltas[i]` for block i).
    pub fn hidden_with(&self, ids: &Tensor, keys: Option<&Tensor>, deltas: Option<&[Deltas]>, train: bool) -> Tensor {
        let (_, t) = ids.size2().expect("ids are [batch, length]");
        let d = self.embedding.size()[1];
        let ctx = Context::new(t, d / self.nhead, self.rope_base, keys, self.nhead, self.dropout, ids.device());
        let mut x = dropout(&Tensor::embedding(&self.embedding, ids, -1, false, false), self.dropout, train);
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(&x, &ctx, deltas.map(|all| &all[i]), train);
        }
        norm(&x)
    }

    /// Logits `[N, V]` of hidden rows `[N, d]`, through the tied embedding.
    pub fn logits(&self, rows: &Tensor) -> Tensor {
        rows.matmul(&self.embedding.tr())
    }
}

/// `x + branch`, out of place: the norms saved `x` for the backward pass.
fn residual(x: &Tensor, branch: Tensor) -> Tensor {
    x + branch
}

/// LayerNorm over the last dimension without weight or bias.
pub(crate) fn norm(x: &Tensor) -> Tensor {
    let d = *x.size().last().expect("a hidden state has a width");
    x.layer_norm([d], None::<&Tensor>, None::<&Tensor>, 1e-5, false)
}

/// The rotary embedding's cos and sin, `[T, head]`, each frequency written twice (half split).
fn rotary(t: i64, head: i64, base: f64, device: tch::Device) -> (Tensor, Tensor) {
    let inv = Tensor::arange_start_step(0, head, 2, (Kind::Float, device)).divide_scalar(head as f64);
    let inv = Tensor::from(base).to_device(device).pow(&inv).reciprocal();
    let freqs = Tensor::arange(t, (Kind::Float, device)).outer(&inv);
    let angles = Tensor::cat(&[&freqs, &freqs], -1);
    (angles.cos(), angles.sin())
}

/// `x cos + rotate_half(x) sin` over the last dimension, in fp32, returned in `x`'s kind.
fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
    let kind = x.kind();
    let x = x.to_kind(Kind::Float);
    let half = x.size().last().copied().expect("heads have a width") / 2;
    let rotated = Tensor::cat(&[x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
    (&x * cos + rotated * sin).to_kind(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::Device;

    #[test]
    fn the_original_size_has_its_parameter_count() {
        let vs = VarStore::new(Device::Cpu);
        let config = DiffusionLmConfig::default();
        let _model = DiffusionLm::new(&vs.root(), &config, 50_304, Compute::Fp32);
        assert_eq!(crate::model::parameter_count(&vs), 19_169_280);
    }

    #[test]
    fn rotation_keeps_norms_and_makes_scores_depend_on_offsets_only() {
        tch::manual_seed(0);
        let (cos, sin) = rotary(6, 8, 10_000.0, Device::Cpu);
        let q = Tensor::randn([1, 1, 1, 8], (Kind::Float, Device::Cpu)).expand([1, 1, 6, 8], false);
        let k = Tensor::randn([1, 1, 1, 8], (Kind::Float, Device::Cpu)).expand([1, 1, 6, 8], false);
        let (rq, rk) = (rotate(&q, &cos, &sin), rotate(&k, &cos, &sin));
        let norms = |x: &Tensor| x.square().sum_dim_intlist(-1, false, Kind::Float);
        assert!(norms(&rq).allclose(&norms(&q), 1e-5, 1e-5, false));
        let scores = rq.matmul(&rk.transpose(-2, -1)).squeeze();
        // Same offset, same score: (0, 2), (1, 3), (3, 5).
        let at = |i: i64, j: i64| scores.double_value(&[i, j]);
        assert!((at(0, 2) - at(1, 3)).abs() < 1e-5 && (at(1, 3) - at(3, 5)).abs() < 1e-5);
        assert!((at(0, 2) - at(0, 1)).abs() > 1e-6, "scores differ across offsets");
    }

    #[test]
    fn padding_keys_change_no_real_position() {
        tch::manual_seed(1);
        let vs = VarStore::new(Device::Cpu);
        let config =
            DiffusionLmConfig { d_model: 16, nhead: 2, num_layers: 2, dim_feedforward: 32, ..Default::default() };
        let model = DiffusionLm::new(&vs.root(), &config, 40, Compute::Fp32);
        let short = Tensor::from_slice(&[5i64, 6, 7]).view([1, 3]);
        let padded = Tensor::from_slice(&[5i64, 6, 7, 39, 39]).view([1, 5]);
        let keys = padded.ne(39);
        let a = model.hidden(&short, None, false);
        let b = model.hidden(&padded, Some(&keys), false).narrow(1, 0, 3);
        assert!(a.allclose(&b, 1e-5, 1e-5, false), "{}", (a - b).abs().max());
    }
}
