//! Multi-head attention over `scaled_dot_product_attention`.

use tch::nn;
use tch::{Kind, Tensor};

use super::layers::Linear;

#[derive(Debug)]
pub struct MultiHeadAttention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    nhead: i64,
    dropout: f64,
}

impl MultiHeadAttention {
    pub fn new(p: nn::Path, d_model: i64, nhead: i64, dropout: f64, compute: Kind) -> Self {
        Self {
            q: Linear::new(&p / "q_proj", d_model, d_model, true, compute),
            k: Linear::new(&p / "k_proj", d_model, d_model, true, compute),
            v: Linear::new(&p / "v_proj", d_model, d_model, true, compute),
            out: Linear::new(&p / "out_proj", d_model, d_model, true, compute),
            nhead,
            dropout,
        }
    }

    pub fn freeze(&mut self) {
        for linear in [&mut self.q, &mut self.k, &mut self.v, &mut self.out] {
            linear.freeze();
        }
    }

    /// `[B, L, D] -> [B, H, L, D/H]`
    fn heads(&self, x: &Tensor) -> Tensor {
        let (b, l, d) = x.size3().expect("attention input is [batch, len, d_model]");
        x.view([b, l, self.nhead, d / self.nhead]).transpose(1, 2)
    }

    /// Attends from `x` to `context`. `key_mask` is `[B, 1, 1, Lk]` bool, true where a key may be
    /// attended; `causal` hides later positions (decoder self-attention).
    pub fn forward(
        &self,
        x: &Tensor,
        context: &Tensor,
        key_mask: Option<&Tensor>,
        causal: bool,
        train: bool,
    ) -> Tensor {
        self.attend(x, &self.keys_values(context), key_mask, causal, train)
    }

    /// Keys and values of `context`, projected once and reused by every decoding step.
    pub fn keys_values(&self, context: &Tensor) -> KeysValues {
        KeysValues {
            keys: self.heads(&self.k.forward_compute(context)),
            values: self.heads(&self.v.forward_compute(context)),
        }
    }

    /// One decoding step of self-attention: appends `x`'s keys and values to `cache`, then
    /// attends from `x` to every cached position (all earlier, so no mask is needed).
    pub fn step(&self, x: &Tensor, cache: &mut Option<KeysValues>) -> Tensor {
        let new = self.keys_values(x);
        let all = match cache.take() {
            Some(old) => KeysValues {
                keys: Tensor::cat(&[old.keys, new.keys], 2),
                values: Tensor::cat(&[old.values, new.values], 2),
            },
            None => new,
        };
        let out = self.attend(x, &all, None, false, false);
        *cache = Some(all);
        out
    }

    pub fn attend(&self, x: &Tensor, kv: &KeysValues, key_mask: Option<&Tensor>, causal: bool, train: bool) -> Tensor {
        let (b, l, d) = x.size3().expect("attention input is [batch, len, d_model]");
        let q = self.heads(&self.q.forward_compute(x));
        let dropout = if train { self.dropout } else { 0.0 };
        let attended =
            Tensor::scaled_dot_product_attention(&q, &kv.keys, &kv.values, key_mask, dropout, causal, None, false);
        let merged = attended.to_kind(Kind::Float).transpose(1, 2).contiguous().view([b, l, d]);
        self.out.forward(&merged)
    }
}

/// Projected keys and values, `[B, H, L, D/H]` each, in the compute kind.
#[derive(Debug)]
pub struct KeysValues {
    keys: Tensor,
    values: Tensor,
}

impl KeysValues {
    /// The rows `rows` (`[N]` int64) of the batch, e.g. the surviving beams of a beam search.
    pub fn select_rows(&self, rows: &Tensor) -> KeysValues {
        KeysValues { keys: self.keys.index_select(0, rows), values: self.values.index_select(0, rows) }
    }
}
