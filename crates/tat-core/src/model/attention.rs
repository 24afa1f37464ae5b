//! Multi-head attention over `scaled_dot_product_attention`.

use tch::nn;
use tch::{Device, Kind, Tensor};

use super::layers::{dropout, Linear};

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
        let attended = attention(&q, kv, key_mask, causal, self.dropout, train);
        let merged = attended.to_kind(Kind::Float).transpose(1, 2).contiguous().view([b, l, d]);
        self.out.forward(&merged)
    }
}

/// Scaled dot-product attention of `[B, H, L, D/H]` queries over `kv`, with dropout `p` on its
/// weights when `train`. `key_mask` (`[B, 1, 1, L]`, true where a key may be attended to) leaves
/// keys out.
pub fn attention(q: &Tensor, kv: &KeysValues, key_mask: Option<&Tensor>, causal: bool, p: f64, train: bool) -> Tensor {
    if train && p > 0.0 && q.device() == Device::Cpu {
        attention_with_dropout(q, kv, key_mask, causal, p)
    } else if train && q.device() == Device::Cpu && q.kind() == Kind::BFloat16 {
        // libtorch's CPU flash attention takes longer backward in bf16 than in fp32 (the agent's
        // step, BENCHMARKS.md): attention that trains runs in fp32 there, its output cast back.
        let f = |t: &Tensor| t.to_kind(Kind::Float);
        Tensor::scaled_dot_product_attention(&f(q), &f(&kv.keys), &f(&kv.values), key_mask, p, causal, None, false)
            .to_kind(Kind::BFloat16)
    } else {
        let p = if train { p } else { 0.0 };
        Tensor::scaled_dot_product_attention(q, &kv.keys, &kv.values, key_mask, p, causal, None, false)
    }
}

/// Attention with dropout on its weights, written out: with dropout libtorch's CPU
/// `scaled_dot_product_attention` takes this same path but draws its mask one Bernoulli sample
/// per weight, which cost more than the attention's products; [`dropout`] draws it cheaply. The
/// softmax runs in fp32.
fn attention_with_dropout(q: &Tensor, kv: &KeysValues, key_mask: Option<&Tensor>, causal: bool, p: f64) -> Tensor {
    let head = *q.size().last().expect("[B, H, L, D/H]");
    let mut scores = q.matmul(&kv.keys.transpose(-2, -1)).to_kind(Kind::Float) * (head as f64).powf(-0.5);
    if let Some(mask) = key_mask {
        scores = scores.masked_fill(&mask.logical_not(), f64::NEG_INFINITY);
    }
    if causal {
        let (lq, lk) = (q.size()[2], kv.keys.size()[2]);
        let later = Tensor::ones([lq, lk], (Kind::Bool, q.device())).triu(lk - lq + 1);
        scores = scores.masked_fill(&later, f64::NEG_INFINITY);
    }
    let weights = dropout(&scores.softmax(-1, Kind::Float), p, true).to_kind(kv.values.kind());
    weights.matmul(&kv.values)
}

/// Projected keys and values, `[B, H, L, D/H]` each, in the compute kind.
#[derive(Debug)]
pub struct KeysValues {
    keys: Tensor,
    values: Tensor,
}

impl KeysValues {
    /// Keys and values already split into heads, `[B, H, L, D/H]` each.
    pub fn new(keys: Tensor, values: Tensor) -> Self {
        Self { keys, values }
    }

    /// These positions followed by `more`'s.
    pub fn extended(&self, more: &KeysValues) -> KeysValues {
        KeysValues {
            keys: Tensor::cat(&[&self.keys, &more.keys], 2),
            values: Tensor::cat(&[&self.values, &more.values], 2),
        }
    }

    /// The rows `rows` (`[N]` int64) of the batch, e.g. the surviving beams of a beam search.
    pub fn select_rows(&self, rows: &Tensor) -> KeysValues {
        KeysValues { keys: self.keys.index_select(0, rows), values: self.values.index_select(0, rows) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_out_attention_is_libtorchs_without_dropout() {
        tch::manual_seed(1);
        let opts = (Kind::Float, Device::Cpu);
        let q = Tensor::randn([2, 4, 5, 8], opts);
        let kv = KeysValues { keys: Tensor::randn([2, 4, 5, 8], opts), values: Tensor::randn([2, 4, 5, 8], opts) };
        let mask =
            Tensor::from_slice(&[true, true, true, false, false, true, true, true, true, true]).view([2, 1, 1, 5]);
        for (key_mask, causal) in [(Some(&mask), false), (None, true), (None, false)] {
            let ours = attention_with_dropout(&q, &kv, key_mask, causal, 0.0);
            let theirs =
                Tensor::scaled_dot_product_attention(&q, &kv.keys, &kv.values, key_mask, 0.0, causal, None, false);
            let diff = (ours - theirs).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "mask {}, causal {causal}: off by {diff}", key_mask.is_some());
        }
    }

    #[test]
    fn bf16_attention_that_trains_on_the_cpu_is_the_fp32_attention_of_its_inputs() {
        tch::manual_seed(2);
        let bf16 = (Kind::BFloat16, Device::Cpu);
        let q = Tensor::randn([2, 3, 7, 8], bf16).set_requires_grad(true);
        let kv = KeysValues { keys: Tensor::randn([2, 3, 7, 8], bf16), values: Tensor::randn([2, 3, 7, 8], bf16) };
        let mask = Tensor::from_slice(&[true; 7]).view([1, 1, 1, 7]).repeat([2, 1, 1, 1]);
        let _ = mask.get(1).narrow(2, 5, 2).fill_(0);
        let f = |t: &Tensor| t.to_kind(Kind::Float);
        for (key_mask, causal) in [(Some(&mask), false), (None, true)] {
            let trained = attention(&q, &kv, key_mask, causal, 0.0, true);
            assert_eq!(trained.kind(), Kind::BFloat16);
            let fp32 = Tensor::scaled_dot_product_attention(
                &f(&q),
                &f(&kv.keys),
                &f(&kv.values),
                key_mask,
                0.0,
                causal,
                None,
                false,
            );
            assert!(trained.equal(&fp32.to_kind(Kind::BFloat16)), "mask {}, causal {causal}", key_mask.is_some());
            trained.sum(Kind::Float).backward();
            assert_eq!(q.grad().kind(), Kind::BFloat16);
            let _ = q.grad().zero_();
        }
    }
}
