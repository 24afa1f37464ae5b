//! Feedback hypernetworks (`architecture = "feedback"`): "feedbackward" blocks that read the
//! noisy sequence and write, per sample, rank-r changes of the attention weights (q, k, v, o) of
//! every block of a frozen [`DiffusionLm`](super::diffusion_lm::DiffusionLm).
//!
//! A hypernetwork block first transforms the sequence like a base block ("read"). It then appends
//! 8·r learned tokens, runs a second block over the whole ("write"), and reads the last 8·r
//! positions out as `a` and `b` (r × width each) for q, k, v and o: the change of a weight is
//! `bᵀ a`. `standard` has one hypernetwork block per base block; `recurrent` one shared block,
//! told which base block it writes for by a learned layer embedding added to its input.
//! With `reverse`, hypernetwork block i writes for base block n-1-i.
//!
//! The `stable` recipe normalises the read-out tokens (LayerNorm without parameters), scales the
//! changes by alpha / r and puts a gate per base block in front, initialised to zero: training
//! starts exactly at the frozen model's loss. The `original` recipe uses the raw read-out.

use tch::nn::{self, Init};
use tch::{Kind, Tensor};

use super::diffusion_lm::{norm, Block, Context, Deltas, INIT_STD};
use super::layers::dropout;
use crate::config::{FeedbackLmConfig, FeedbackVariant, Recipe};
use crate::precision::Compute;

/// The prefix of every hypernetwork variable: the base's variables keep the names they have in
/// the base's own run, so `training.init_from` loads them.
pub const PREFIX: &str = "fb";

#[derive(Debug)]
struct FbBlock {
    read: Block,
    /// `[8 r, d]`: the learned tokens whose outputs become the changes.
    tokens: Tensor,
    write: Block,
}

#[derive(Debug)]
pub struct FeedbackNet {
    embedding: Tensor,
    blocks: Vec<FbBlock>,
    /// `[n, d]` (recurrent): which base block the shared block writes for.
    layer_embedding: Option<Tensor>,
    /// `[n]` (stable): each base block's gate, zero at the start.
    gates: Option<Tensor>,
    layers: i64,
    rank: i64,
    reverse: bool,
    scale: f64,
    nhead: i64,
    dropout: f64,
    rope_base: f64,
}

impl FeedbackNet {
    /// The hypernetworks under `p / "fb"`, for a base of `vocab_size` tokens.
    pub fn new(p: &nn::Path, c: &FeedbackLmConfig, vocab_size: i64, precision: Compute) -> Self {
        let compute = precision.kind();
        let p = p / PREFIX;
        let (d, n, r) = (c.d_model, c.num_layers, c.rank);
        let count = match c.variant {
            FeedbackVariant::Standard => n,
            FeedbackVariant::Recurrent => 1,
        };
        let blocks = (0..count)
            .map(|i| {
                let b = &p / "blocks" / i;
                FbBlock {
                    read: Block::new(&(&b / "read"), d, c.dim_feedforward, n, compute),
                    tokens: b.var("tokens", &[8 * r, d], Init::Randn { mean: 0.0, stdev: INIT_STD }),
                    write: Block::new(&(&b / "write"), d, c.dim_feedforward, n, compute),
                }
            })
            .collect();
        let stable = c.recipe == Recipe::Stable;
        Self {
            embedding: p.var("embedding", &[vocab_size, d], Init::Randn { mean: 0.0, stdev: INIT_STD }),
            blocks,
            layer_embedding: (c.variant == FeedbackVariant::Recurrent)
                .then(|| p.var("layer_embedding", &[n, d], Init::Randn { mean: 0.0, stdev: INIT_STD })),
            gates: stable.then(|| p.var("gates", &[n], Init::Const(0.0))),
            layers: n,
            rank: r,
            reverse: c.reverse,
            scale: if stable { c.alpha / r as f64 } else { 1.0 },
            nhead: c.nhead,
            dropout: c.dropout,
            rope_base: c.rope_base,
        }
    }

    /// The changes for every base block (`[i]` for base block i) from the noisy `ids` (`[B, T]`);
    /// `keys` marks the real tokens attention may read.
    pub fn deltas(&self, ids: &Tensor, keys: Option<&Tensor>, train: bool) -> Vec<Deltas> {
        let (b, t) = ids.size2().expect("ids are [batch, length]");
        let d = self.embedding.size()[1];
        let head = d / self.nhead;
        let extra = 8 * self.rank;
        let device = ids.device();
        let read = Context::new(t, head, self.rope_base, keys, self.nhead, self.dropout, device);
        let wide_keys = keys.map(|k| Tensor::cat(&[k, &Tensor::ones([b, extra], (Kind::Bool, device))], 1));
        let write = Context::new(t + extra, head, self.rope_base, wide_keys.as_ref(), self.nhead, self.dropout, device);
        let mut x = dropout(&Tensor::embedding(&self.embedding, ids, -1, false, false), self.dropout, train);
        let mut out: Vec<Option<Deltas>> = (0..self.layers).map(|_| None).collect();
        for i in 0..self.layers {
            let target = if self.reverse { self.layers - 1 - i } else { i };
            let block = &self.blocks[(i as usize).min(self.blocks.len() - 1)];
            let input = match &self.layer_embedding {
                Some(le) => &x + le.get(target).view([1, 1, d]),
                None => x.shallow_clone(),
            };
            x = block.read.forward(&input, &read, None, train);
            let context = Tensor::cat(&[&x, &block.tokens.unsqueeze(0).expand([b, extra, d], false)], 1);
            let context = block.write.forward(&context, &write, None, train);
            let mut readout = context.narrow(1, t, extra);
            if self.gates.is_some() {
                readout = norm(&readout);
            }
            // Rows in the seed's order: q a, q b, k a, k b, v a, v b, o a, o b (r each).
            let pairs = readout.view([b, 4, 2, self.rank, d]);
            let scale = match &self.gates {
                Some(gates) => gates.get(target) * self.scale,
                None => Tensor::from(self.scale as f32).to_device(device),
            };
            out[target as usize] = Some(Deltas { a: pairs.select(2, 0), b: pairs.select(2, 1), scale });
        }
        out.into_iter().map(|d| d.expect("every base block gets its changes")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Recipe;
    use tch::nn::VarStore;
    use tch::Device;

    fn count(variant: FeedbackVariant, rank: i64, recipe: Recipe) -> i64 {
        let vs = VarStore::new(Device::Cpu);
        let config = FeedbackLmConfig { variant, rank, recipe, ..FeedbackLmConfig::default() };
        let _net = FeedbackNet::new(&vs.root(), &config, 50_304, Compute::Fp32);
        crate::model::parameter_count(&vs)
    }

    #[test]
    fn the_original_sizes_have_their_parameter_counts() {
        for r in [1, 4, 16] {
            assert_eq!(count(FeedbackVariant::Standard, r, Recipe::Original), 25_460_736 + 16_384 * r);
            assert_eq!(count(FeedbackVariant::Recurrent, r, Recipe::Original), 14_452_736 + 2_048 * r);
        }
        // The stable recipe adds one gate per base block.
        assert_eq!(count(FeedbackVariant::Standard, 4, Recipe::Stable), 25_460_736 + 16_384 * 4 + 8);
    }
}
