//! The binder: a model for programs that bind names to values ("X means jump do X twice") whose
//! binding is learned, not coded.
//!
//! Three parts, each looking only at a few neighbouring words, plus one memory:
//!
//! 1. **Encoder.** Word embeddings through pre-LayerNorm self-attention layers that see only the
//!    `window` words on either side, with a learned bias per relative offset. No absolute
//!    positions, so a program longer than any in training reads the same way.
//! 2. **Memory.** A left-to-right scan keeps a table from word identities to pointers (a
//!    distribution over input positions). At each position the model reads the entry for the word
//!    there, forms a value (a learned gate mixes "this position" with what it read), and writes it
//!    under a key (a learned local attention picks which neighbour's identity is the key) with a
//!    learned write strength; a write replaces the key's old entry (delta rule). Word identities
//!    are one-hot codes of "the i-th distinct word of this program", the same for every program
//!    and every word, so a variable never seen in training (P Q R S) is as addressable as X. Since
//!    a value is resolved when it is written, a chain `Y means X`, `Z means Y` costs one read per
//!    link, however long it grows.
//! 3. **Output.** Each position has `slots` output slots. A slot either emits nothing (the CTC
//!    blank, `<pad>`) or points, through a learned local attention, at a neighbour's resolved
//!    pointer, and emits the word at the input position pointed at (a pointer-generator copy:
//!    output words are input words, so a task whose outputs are spelt differently maps them in
//!    its data, as the binding task does with upper case). The slots of all positions, in order,
//!    are aligned to the target by CTC.
//!
//! No code looks at particular words: which positions write, under which key, what they read and
//! what they emit are all learned from the output sequences alone. The pointer behind each emitted
//! word is the model's answer to "where was this value read from" (`binding_scores`).
//!
//! Embedding dropout (`word_dropout`) replaces every occurrence of a random subset of a program's
//! distinct words by `<unk>` for the encoder only, at a rate drawn per program, so the model learns
//! to infer a word's role from its neighbours: at evaluation an unseen variable is `<unk>`.

use tch::nn::{self, Init, Module};
use tch::{Device, Kind, Reduction, Tensor};

use super::layers::{dropout, layer_norm, FeedForward, Linear};
use crate::config::BinderConfig;
use crate::precision::Compute;
use crate::tokenizer::{PAD_ID, UNK_ID};

/// Added to a score that must lose every softmax (finite, so a row with nothing to attend stays
/// finite too).
const MASKED: f64 = -1e9;
/// Probabilities are clamped here before the log, so an impossible word costs a large finite loss.
const MIN_PROB: f64 = 1e-9;

/// Input tensors of a batch of programs.
pub struct BinderInput<'a> {
    /// `[B, L]` word ids, `<pad>` after each program's end.
    pub src: &'a Tensor,
    /// `[B, L]` index of each word among its program's distinct words (0 for the first word).
    pub identities: &'a Tensor,
    /// Words in each program.
    pub lengths: &'a [i64],
}

pub struct BinderOutput {
    /// `[B, L * slots, V]`: per output slot, log-probabilities over the vocabulary; id `<pad>` is
    /// the CTC blank ("emit nothing").
    pub log_probs: Tensor,
    /// `[B, L * slots, L]`: per output slot, the distribution over input positions its word is
    /// read from.
    pub pointer: Tensor,
}

/// One emitted word of a greedy decode.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    pub id: i64,
    /// The output slot (index into the second axis of [`BinderOutput`]) that emitted it.
    pub slot: i64,
}

#[derive(Debug)]
struct LocalLayer {
    norm_attn: nn::LayerNorm,
    qkv: Linear,
    out: Linear,
    offsets: Tensor,
    norm_ff: nn::LayerNorm,
    ff: FeedForward,
    nhead: i64,
    dropout: f64,
}

impl LocalLayer {
    fn new(p: nn::Path, c: &BinderConfig, compute: Kind) -> Self {
        Self {
            norm_attn: layer_norm(&p / "norm_attn", c.d_model),
            qkv: Linear::new(&p / "qkv", c.d_model, 3 * c.d_model, true, compute),
            out: Linear::new(&p / "out", c.d_model, c.d_model, true, compute),
            offsets: p.var("offsets", &[c.nhead, 2 * c.window + 1], Init::Const(0.0)),
            norm_ff: layer_norm(&p / "norm_ff", c.d_model),
            ff: FeedForward::new(&p / "ff", c.d_model, c.dim_feedforward, c.dropout, compute),
            nhead: c.nhead,
            dropout: c.dropout,
        }
    }

    fn forward(&self, x: &Tensor, local: &Locality, train: bool) -> Tensor {
        let (b, l, d) = x.size3().expect("[batch, len, d_model]");
        let head = d / self.nhead;
        let qkv =
            self.qkv.forward(&self.norm_attn.forward(x)).view([b, l, 3, self.nhead, head]).permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let scores = q.matmul(&k.transpose(-1, -2)) / (head as f64).sqrt() + local.bias(&self.offsets).unsqueeze(0);
        let weights =
            dropout(&local.mask(&scores.unsqueeze(3)).squeeze_dim(3).softmax(-1, Kind::Float), self.dropout, train);
        let attended = weights.matmul(&v).transpose(1, 2).reshape([b, l, d]);
        let x = x + dropout(&self.out.forward(&attended), self.dropout, train);
        let h = self.norm_ff.forward(&x);
        &x + dropout(&self.ff.forward(&h, train), self.dropout, train)
    }
}

/// Relative offsets of a batch's positions: which pairs are within the window, and the per-offset
/// bias of a learned `[rows, 2 * window + 1]` table.
struct Locality {
    /// `[L, L]` offset `s - t` clamped to the window, shifted to a table index.
    index: Tensor,
    /// `[B, 1, 1, 1, L]` true where key position `s` is outside the window of `t` or is padding,
    /// broadcast as `[B, rows, L(t), extra, L(s)]`.
    hidden: Tensor,
}

impl Locality {
    fn new(window: i64, pad: &Tensor) -> Self {
        let (_, len) = pad.size2().expect("[batch, len]");
        let positions = Tensor::arange(len, (Kind::Int64, pad.device()));
        let offset = positions.unsqueeze(0) - positions.unsqueeze(1);
        let outside = offset.abs().gt(window).view([1, 1, len, 1, len]);
        let hidden = outside.logical_or(&pad.view([-1, 1, 1, 1, len]));
        Self { index: offset.clamp(-window, window) + window, hidden }
    }

    /// `[rows, L, L]` bias from a `[rows, 2 * window + 1]` table.
    fn bias(&self, table: &Tensor) -> Tensor {
        let (len, _) = self.index.size2().expect("[L, L]");
        table.index_select(1, &self.index.flatten(0, 1)).view([-1, len, len])
    }

    /// Hides out-of-window and padding keys of `[B, rows, L, extra, L]` scores.
    fn mask(&self, scores: &Tensor) -> Tensor {
        scores.masked_fill(&self.hidden, MASKED)
    }
}

#[derive(Debug)]
pub struct Binder {
    embedding: Tensor,
    layers: Vec<LocalLayer>,
    norm: nn::LayerNorm,
    key_query: Linear,
    key_key: Linear,
    key_offsets: Tensor,
    write: Linear,
    value_gate: Linear,
    slots: Tensor,
    slot_query: Linear,
    slot_key: Linear,
    slot_offsets: Tensor,
    emit: Linear,
    vocab_size: i64,
    window: i64,
    slot_count: i64,
    word_dropout: f64,
}

impl Binder {
    pub fn new(p: &nn::Path, c: &BinderConfig, vocab_size: i64, precision: Compute) -> Self {
        let compute = precision.kind();
        let d = c.d_model;
        let head = d / c.nhead;
        let table = 2 * c.window + 1;
        Self {
            embedding: p.var("embedding", &[vocab_size, d], Init::Randn { mean: 0.0, stdev: 1.0 }),
            layers: (0..c.num_layers).map(|i| LocalLayer::new(p / "layers" / i, c, compute)).collect(),
            norm: layer_norm(p / "norm", d),
            key_query: Linear::new(p / "key_query", d, head, true, compute),
            key_key: Linear::new(p / "key_key", d, head, true, compute),
            key_offsets: p.var("key_offsets", &[1, table], Init::Const(0.0)),
            write: Linear::new(p / "write", d, 1, true, compute),
            value_gate: Linear::new(p / "value_gate", d + 1, 1, true, compute),
            slots: p.var("slots", &[c.slots, d], Init::Randn { mean: 0.0, stdev: 0.1 }),
            slot_query: Linear::new(p / "slot_query", d, head, true, compute),
            slot_key: Linear::new(p / "slot_key", d, head, true, compute),
            slot_offsets: p.var("slot_offsets", &[c.slots, table], Init::Const(0.0)),
            emit: Linear::new(p / "emit", d, 1, true, compute),
            vocab_size,
            window: c.window,
            slot_count: c.slots,
            word_dropout: c.word_dropout,
        }
    }

    pub fn forward(&self, input: &BinderInput, train: bool) -> BinderOutput {
        let (b, l) = input.src.size2().expect("src is [batch, len]");
        let device = input.src.device();
        let lengths = Tensor::from_slice(input.lengths).to_device(device);
        let pad = Tensor::arange(l, (Kind::Int64, device)).unsqueeze(0).ge_tensor(&lengths.unsqueeze(1));
        let local = Locality::new(self.window, &pad);

        let words =
            if train && self.word_dropout > 0.0 { self.drop_words(input, &pad) } else { input.src.shallow_clone() };
        let mut h = Tensor::embedding(&self.embedding, &words, PAD_ID, false, false);
        for layer in &self.layers {
            h = layer.forward(&h, &local, train);
        }
        let h = self.norm.forward(&h);
        let values = self.scan_memory(&h, input.identities, &pad, &local);

        let k = self.slot_count;
        let slot_states = h.unsqueeze(2) + self.slots.view([1, 1, k, -1]);
        let queries = self.slot_query.forward(&slot_states).view([b, l * k, -1]);
        let keys = self.slot_key.forward(&h);
        let scale = (keys.size()[2] as f64).sqrt();
        let scores =
            queries.bmm(&keys.transpose(1, 2)).view([b, l, k, l]) / scale + self.slot_offsets_bias(&local).unsqueeze(0);
        let attention = local.mask(&scores.unsqueeze(1)).squeeze_dim(1).softmax(-1, Kind::Float);
        let pointer = attention.view([b, l * k, l]).bmm(&values);

        // A slot emits the word it points at (padding points nowhere): a pointer-generator copy.
        let copied = input.src.one_hot(self.vocab_size).to_kind(Kind::Float)
            * pad.logical_not().unsqueeze(-1).to_kind(Kind::Float);
        let emit = self.emit.forward(&slot_states).sigmoid().view([b, l * k, 1]);
        let blank = Tensor::zeros([self.vocab_size], (Kind::Float, device)).index_fill(
            0,
            &Tensor::from(PAD_ID).to_device(device),
            1.0,
        );
        let probs: Tensor = pointer.bmm(&copied) * &emit + (1.0 - &emit) * blank;
        // A value read for a word the memory has no entry for carries less than all the mass.
        let probs = probs.clamp_min(MIN_PROB);
        let probs = &probs / probs.sum_dim_intlist(-1, true, Kind::Float);
        BinderOutput { log_probs: probs.log(), pointer }
    }

    /// `[K, L, L]` offset bias of the slot attention, laid out `[L(t), K, L(s)]`.
    fn slot_offsets_bias(&self, local: &Locality) -> Tensor {
        local.bias(&self.slot_offsets).permute([1, 0, 2])
    }

    /// Word ids with every occurrence of some of each program's distinct words set to `<unk>`.
    fn drop_words(&self, input: &BinderInput, pad: &Tensor) -> Tensor {
        let (b, _) = input.src.size2().expect("[batch, len]");
        let device = input.src.device();
        let distinct = input.identities.max().int64_value(&[]) + 1;
        let rate = Tensor::rand([b, 1], (Kind::Float, device)) * self.word_dropout;
        let dropped_words = Tensor::rand([b, distinct], (Kind::Float, device)).lt_tensor(&rate);
        let dropped = dropped_words.gather(1, input.identities, false).logical_and(&pad.logical_not());
        input.src.where_self(&dropped.logical_not(), &Tensor::from(UNK_ID).to_device(device))
    }

    /// The memory scan (see the module doc): `[B, L, L]`, per position the pointer its value
    /// resolves to.
    fn scan_memory(&self, h: &Tensor, identities: &Tensor, pad: &Tensor, local: &Locality) -> Tensor {
        let (b, l, _) = h.size3().expect("[batch, len, d_model]");
        let device = h.device();
        let distinct = identities.max().int64_value(&[]) + 1;
        let codes =
            identities.one_hot(distinct).to_kind(Kind::Float) * pad.logical_not().unsqueeze(-1).to_kind(Kind::Float);
        let queries = self.key_query.forward(h);
        let scale = (queries.size()[2] as f64).sqrt();
        let scores = queries.bmm(&self.key_key.forward(h).transpose(1, 2)) / scale + local.bias(&self.key_offsets);
        let key_attention = local.mask(&scores.view([b, 1, l, 1, l])).view([b, l, l]).softmax(-1, Kind::Float);
        let keys = key_attention.bmm(&codes);
        let strength = self.write.forward(h).sigmoid();
        let here = Tensor::eye(l, (Kind::Float, device));

        let mut memory = Tensor::zeros([b, distinct, l], (Kind::Float, device));
        let mut values = Vec::with_capacity(l as usize);
        for t in 0..l {
            let own = identities.select(1, t).view([b, 1, 1]).expand([b, 1, l], false);
            let read = memory.gather(1, &own, false).squeeze_dim(1);
            let found = read.sum_dim_intlist(-1, true, Kind::Float);
            let gate = self.value_gate.forward(&Tensor::cat(&[h.select(1, t), found], -1)).sigmoid();
            let value = &gate * here.get(t).unsqueeze(0) + (1.0 - &gate) * &read;
            let key = keys.select(1, t).unsqueeze(2);
            let old = key.transpose(1, 2).bmm(&memory).squeeze_dim(1);
            memory = &memory + (strength.select(1, t).unsqueeze(2) * &key) * (&value - old).unsqueeze(1);
            values.push(value);
        }
        Tensor::stack(&values, 1)
    }

    /// CTC loss summed over the batch. `targets` is `[B, S]`, padded; `target_lengths` counts the
    /// words of each.
    pub fn loss(&self, output: &BinderOutput, lengths: &[i64], targets: &Tensor, target_lengths: &[i64]) -> Tensor {
        let frames: Vec<i64> = lengths.iter().map(|&n| n * self.slot_count).collect();
        Tensor::ctc_loss(
            &output.log_probs.transpose(0, 1),
            targets,
            frames.as_slice(),
            target_lengths,
            PAD_ID,
            Reduction::Sum,
            true,
        )
    }

    /// Greedy CTC decode: per program, the emitted words in order (a slot's best word, dropping
    /// blanks and a repeat of the previous slot's word).
    pub fn decode(&self, output: &BinderOutput, lengths: &[i64]) -> Vec<Vec<Emitted>> {
        let best = output.log_probs.argmax(-1, false).to_device(Device::Cpu);
        let (rows, frames) = best.size2().expect("[batch, frames]");
        let best: Vec<i64> = Vec::try_from(best.flatten(0, 1)).expect("int64 ids");
        (0..rows as usize)
            .map(|row| {
                let mut emitted = Vec::new();
                let mut previous = PAD_ID;
                for slot in 0..(lengths[row] * self.slot_count) {
                    let id = best[row * frames as usize + slot as usize];
                    if id != PAD_ID && id != previous {
                        emitted.push(Emitted { id, slot });
                    }
                    previous = id;
                }
                emitted
            })
            .collect()
    }
}
