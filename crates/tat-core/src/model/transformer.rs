//! Encoder-decoder transformer (pre-LayerNorm), the WGSL generation model.
//!
//! One embedding table serves prompts and code (they share the tokenizer); with
//! `tie_embeddings` it is also the output projection.

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::attention::{KeysValues, MultiHeadAttention};
use super::layers::{dropout, layer_norm, sinusoidal_positions, FeedForward, Linear};
use crate::config::TransformerConfig;
use crate::precision::Compute;
use crate::tokenizer::{EOS_ID, PAD_ID};

#[derive(Debug)]
struct EncoderLayer {
    norm_attn: nn::LayerNorm,
    attn: MultiHeadAttention,
    norm_ff: nn::LayerNorm,
    ff: FeedForward,
    dropout: f64,
}

impl EncoderLayer {
    fn new(p: nn::Path, c: &TransformerConfig, compute: Kind) -> Self {
        Self {
            norm_attn: layer_norm(&p / "norm_attn", c.d_model),
            attn: MultiHeadAttention::new(&p / "self_attn", c.d_model, c.nhead, c.dropout, compute),
            norm_ff: layer_norm(&p / "norm_ff", c.d_model),
            ff: FeedForward::new(&p / "ff", c.d_model, c.dim_feedforward, c.dropout, compute),
            dropout: c.dropout,
        }
    }

    fn forward(&self, x: &Tensor, src_mask: &Tensor, train: bool) -> Tensor {
        let h = self.norm_attn.forward(x);
        let x = x + dropout(&self.attn.forward(&h, &h, Some(src_mask), false, train), self.dropout, train);
        let h = self.norm_ff.forward(&x);
        &x + dropout(&self.ff.forward(&h, train), self.dropout, train)
    }
}

#[derive(Debug)]
struct DecoderLayer {
    norm_self: nn::LayerNorm,
    self_attn: MultiHeadAttention,
    norm_cross: nn::LayerNorm,
    cross_attn: MultiHeadAttention,
    norm_ff: nn::LayerNorm,
    ff: FeedForward,
    dropout: f64,
}

impl DecoderLayer {
    fn new(p: nn::Path, c: &TransformerConfig, compute: Kind) -> Self {
        Self {
            norm_self: layer_norm(&p / "norm_self", c.d_model),
            self_attn: MultiHeadAttention::new(&p / "self_attn", c.d_model, c.nhead, c.dropout, compute),
            norm_cross: layer_norm(&p / "norm_cross", c.d_model),
            cross_attn: MultiHeadAttention::new(&p / "cross_attn", c.d_model, c.nhead, c.dropout, compute),
            norm_ff: layer_norm(&p / "norm_ff", c.d_model),
            ff: FeedForward::new(&p / "ff", c.d_model, c.dim_feedforward, c.dropout, compute),
            dropout: c.dropout,
        }
    }

    fn forward(&self, x: &Tensor, memory: &Tensor, src_mask: &Tensor, train: bool) -> Tensor {
        let h = self.norm_self.forward(x);
        let x = x + dropout(&self.self_attn.forward(&h, &h, None, true, train), self.dropout, train);
        let h = self.norm_cross.forward(&x);
        let x = &x + dropout(&self.cross_attn.forward(&h, memory, Some(src_mask), false, train), self.dropout, train);
        let h = self.norm_ff.forward(&x);
        &x + dropout(&self.ff.forward(&h, train), self.dropout, train)
    }

    /// [`DecoderLayer::forward`] for one new position, with cached keys and values.
    fn step(&self, x: &Tensor, cache: &mut LayerCache, src_mask: &Tensor) -> Tensor {
        let x = x + self.self_attn.step(&self.norm_self.forward(x), &mut cache.own);
        let h = self.norm_cross.forward(&x);
        let x = &x + self.cross_attn.attend(&h, &cache.memory, Some(src_mask), false, false);
        let h = self.norm_ff.forward(&x);
        &x + self.ff.forward(&h, false)
    }
}

struct LayerCache {
    /// Keys and values of the positions generated so far.
    own: Option<KeysValues>,
    /// Keys and values of the encoder output, computed once.
    memory: KeysValues,
}

/// Incremental decoding state: per-layer caches and the next position.
pub struct DecoderCache {
    layers: Vec<LayerCache>,
    position: i64,
}

impl DecoderCache {
    /// Keeps the rows `rows` (`[N]` int64) of every layer's own keys and values, in that order:
    /// a beam search continues each surviving beam from its parent's cache.
    pub fn reorder(&mut self, rows: &Tensor) {
        for layer in &mut self.layers {
            layer.own = layer.own.as_ref().map(|kv| kv.select_rows(rows));
        }
    }
}

/// The encoder's output for a batch of prompts, reused by every decoding step.
pub struct Encoded {
    pub memory: Tensor,
    /// `[B, 1, 1, S]` bool, true at real (non-pad) prompt tokens.
    pub src_mask: Tensor,
}

impl Encoded {
    /// The rows `rows` (`[N]` int64), e.g. one prompt repeated once per beam.
    pub fn select_rows(&self, rows: &Tensor) -> Encoded {
        Encoded { memory: self.memory.index_select(0, rows), src_mask: self.src_mask.index_select(0, rows) }
    }
}

#[derive(Debug)]
pub struct Seq2SeqTransformer {
    embedding: Tensor,
    positions: Tensor,
    encoder: Vec<EncoderLayer>,
    encoder_norm: nn::LayerNorm,
    decoder: Vec<DecoderLayer>,
    decoder_norm: nn::LayerNorm,
    output: Option<Linear>,
    config: TransformerConfig,
}

impl Seq2SeqTransformer {
    pub fn new(p: &nn::Path, config: &TransformerConfig, vocab_size: i64, precision: Compute) -> Self {
        let compute = precision.kind();
        let d = config.d_model;
        let std = (d as f64).powf(-0.5);
        let embedding = (p / "embedding").var("weight", &[vocab_size, d], nn::Init::Randn { mean: 0.0, stdev: std });
        let enc = p / "encoder";
        let dec = p / "decoder";
        Self {
            embedding,
            positions: sinusoidal_positions(config.max_seq_len, d, p.device()),
            encoder: (0..config.num_layers).map(|i| EncoderLayer::new(&enc / "layers" / i, config, compute)).collect(),
            encoder_norm: layer_norm(&enc / "norm", d),
            decoder: (0..config.num_layers).map(|i| DecoderLayer::new(&dec / "layers" / i, config, compute)).collect(),
            decoder_norm: layer_norm(&dec / "norm", d),
            output: (!config.tie_embeddings).then(|| Linear::new(p / "output", d, vocab_size, false, compute)),
            config: config.clone(),
        }
    }

    pub fn config(&self) -> &TransformerConfig {
        &self.config
    }

    /// Readies a trained model for answering only: matmul weights are kept in the compute kind
    /// (bf16) instead of being cast on every call ([`Linear::freeze`]). Do not train it afterwards.
    pub fn freeze(&mut self) {
        for layer in &mut self.encoder {
            layer.attn.freeze();
            layer.ff.freeze();
        }
        for layer in &mut self.decoder {
            layer.self_attn.freeze();
            layer.cross_attn.freeze();
            layer.ff.freeze();
        }
        if let Some(output) = &mut self.output {
            output.freeze();
        }
    }

    fn embed(&self, tokens: &Tensor, offset: i64, train: bool) -> Tensor {
        let len = tokens.size()[1];
        let scale = (self.config.d_model as f64).sqrt();
        let x = Tensor::embedding(&self.embedding, tokens, PAD_ID, false, false) * scale;
        dropout(&(x + self.positions.narrow(0, offset, len)), self.config.dropout, train)
    }

    /// Encodes `src` (`[B, S]` token ids, right-padded with `<pad>`).
    pub fn encode(&self, src: &Tensor, train: bool) -> Encoded {
        let src_mask = src.ne(PAD_ID).unsqueeze(1).unsqueeze(1);
        let mut x = self.embed(src, 0, train);
        for layer in &self.encoder {
            x = layer.forward(&x, &src_mask, train);
        }
        Encoded { memory: self.encoder_norm.forward(&x), src_mask }
    }

    /// Logits `[B, T, V]` for every position of `tgt_in` (`[B, T]`, starting with `<bos>`).
    pub fn decode(&self, encoded: &Encoded, tgt_in: &Tensor, train: bool) -> Tensor {
        let noisy = (train && self.config.target_noise > 0.0).then(|| self.with_target_noise(tgt_in));
        let mut x = self.embed(noisy.as_ref().unwrap_or(tgt_in), 0, train);
        for layer in &self.decoder {
            x = layer.forward(&x, &encoded.memory, &encoded.src_mask, train);
        }
        self.project(&self.decoder_norm.forward(&x))
    }

    /// `tgt_in` with a `target_noise` share of its tokens after `<bos>` swapped for random
    /// pieces that are not special; padding stays padding.
    pub fn with_target_noise(&self, tgt_in: &Tensor) -> Tensor {
        let vocab = self.embedding.size()[0];
        let first = EOS_ID + 1;
        let swap = Tensor::rand(tgt_in.size().as_slice(), (Kind::Float, tgt_in.device()))
            .lt(self.config.target_noise)
            .logical_and(&tgt_in.ne(PAD_ID));
        let _ = swap.narrow(1, 0, 1).fill_(0);
        let random =
            Tensor::randint_low(first, vocab.max(first + 1), tgt_in.size().as_slice(), (Kind::Int64, tgt_in.device()));
        random.where_self(&swap, tgt_in)
    }

    /// Starts incremental decoding: projects the encoder output once per layer.
    pub fn start_decoding(&self, encoded: &Encoded) -> DecoderCache {
        let layers = self
            .decoder
            .iter()
            .map(|layer| LayerCache { own: None, memory: layer.cross_attn.keys_values(&encoded.memory) })
            .collect();
        DecoderCache { layers, position: 0 }
    }

    /// Logits `[B, V]` for the position after `tokens` (`[B, 1]`, the latest token of each row),
    /// reusing the keys and values of earlier positions: one position of work per step.
    pub fn decode_step(&self, encoded: &Encoded, cache: &mut DecoderCache, tokens: &Tensor) -> Tensor {
        let mut x = self.embed(tokens, cache.position, false);
        for (layer, layer_cache) in self.decoder.iter().zip(cache.layers.iter_mut()) {
            x = layer.step(&x, layer_cache, &encoded.src_mask);
        }
        cache.position += 1;
        self.project(&self.decoder_norm.forward(&x)).squeeze_dim(1)
    }

    fn project(&self, h: &Tensor) -> Tensor {
        match &self.output {
            Some(out) => out.forward(h),
            None => h.matmul(&self.embedding.tr()),
        }
    }

    /// Teacher-forced logits for a batch.
    pub fn forward(&self, src: &Tensor, tgt_in: &Tensor, train: bool) -> Tensor {
        let encoded = self.encode(src, train);
        self.decode(&encoded, tgt_in, train)
    }

    pub fn device(&self) -> Device {
        self.embedding.device()
    }
}

/// Mean cross-entropy over non-pad target tokens.
pub fn sequence_loss(logits: &Tensor, targets: &Tensor) -> Tensor {
    let vocab = logits.size()[2];
    logits.view([-1, vocab]).cross_entropy_loss::<Tensor>(&targets.view([-1]), None, tch::Reduction::Mean, PAD_ID, 0.0)
}
