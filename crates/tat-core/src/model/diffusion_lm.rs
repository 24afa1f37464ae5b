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
const INIT_STD: f64 = 0.02;

#[derive(Debug)]
struct Block {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    up: Linear,
    down: Linear,
}

#[derive(Debug)]
pub struct DiffusionLm {
    embedding: Tensor,
    blocks: Vec<Block>,
    nhead: i64,
    dropout: f64,
    rope_base: f64,
}

fn linear(p: nn::Path, in_dim: i64, out_dim: i64, stdev: f64, compute: Kind) -> Linear {
    let weight = p.var("weight", &[out_dim, in_dim], Init::Randn { mean: 0.0, stdev });
    Linear::from_weight(weight, compute)
}

impl DiffusionLm {
    pub fn new(p: &nn::Path, c: &DiffusionLmConfig, vocab_size: i64, precision: Compute) -> Self {
        let compute = precision.kind();
        let d = c.d_model;
        let residual = INIT_STD / (2.0 * c.num_layers as f64).sqrt();
        let blocks = (0..c.num_layers)
            .map(|i| {
                let b = p / "blocks" / i;
                Block {
                    q: linear(&b / "q", d, d, INIT_STD, compute),
                    k: linear(&b / "k", d, d, INIT_STD, compute),
                    v: linear(&b / "v", d, d, INIT_STD, compute),
                    o: linear(&b / "o", d, d, residual, compute),
                    up: linear(&b / "up", d, c.dim_feedforward, INIT_STD, compute),
                    down: linear(&b / "down", c.dim_feedforward, d, residual, compute),
                }
            })
            .collect();
        Self {
            embedding: p.var("embedding", &[vocab_size, d], Init::Randn { mean: 0.0, stdev: INIT_STD }),
            blocks,
            nhead: c.nhead,
            dropout: c.dropout,
            rope_base: c.rope_base,
        }
    }

    /// The final hidden states `[B, T, d]` of `ids` (`[B, T]`). `keys` (`[B, T]` bool) marks the
    /// positions attention may read (the real tokens); None reads every position.
    pub fn hidden(&self, ids: &Tensor, keys: Option<&Tensor>, train: bool) -> Tensor {
        let (b, t) = ids.size2().expect("ids are [batch, length]");
        let d = self.embedding.size()[1];
        let head = d / self.nhead;
        let (cos, sin) = rotary(t, head, self.rope_base, ids.device());
        let key_mask = keys.map(|k| k.view([b, 1, 1, t]));
        let mut x = dropout(&Tensor::embedding(&self.embedding, ids, -1, false, false), self.dropout, train);
        for block in &self.blocks {
            let h = norm(&x);
            let split = |y: Tensor| y.view([b, t, self.nhead, head]).transpose(1, 2);
            let q = rotate(&split(block.q.forward_compute(&h)), &cos, &sin);
            let k = rotate(&split(block.k.forward_compute(&h)), &cos, &sin);
            let v = split(block.v.forward_compute(&h));
            let kv = KeysValues::new(k, v);
            let attended = attention(&q, &kv, key_mask.as_ref(), false, self.dropout, train);
            let merged = attended.to_kind(Kind::Float).transpose(1, 2).contiguous().view([b, t, d]);
            x = residual(&x, dropout(&block.o.forward(&merged), self.dropout, train));
            let h = norm(&x);
            let up = block.up.forward(&h).gelu("none");
            x = residual(&x, dropout(&block.down.forward(&up), self.dropout, train));
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
fn norm(x: &Tensor) -> Tensor {
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
        let config = DiffusionLmConfig { d_model: 16, nhead: 2, num_layers: 2, dim_feedforward: 32, ..Default::default() };
        let model = DiffusionLm::new(&vs.root(), &config, 40, Compute::Fp32);
        let short = Tensor::from_slice(&[5i64, 6, 7]).view([1, 3]);
        let padded = Tensor::from_slice(&[5i64, 6, 7, 39, 39]).view([1, 5]);
        let keys = padded.ne(39);
        let a = model.hidden(&short, None, false);
        let b = model.hidden(&padded, Some(&keys), false).narrow(1, 0, 3);
        assert!(a.allclose(&b, 1e-5, 1e-5, false), "{}", (a - b).abs().max());
    }
}
