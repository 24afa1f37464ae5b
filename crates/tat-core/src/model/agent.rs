//! The grid-world agent (`architecture = "agent"`): pictures and text in, text and a picture out.
//!
//! - **Patch encoder** (ViT style): each picture is cut into `patch_size` squares, each square's
//!   pixels (scaled to [-0.5, 0.5]) go through one linear layer, and a learned embedding of the
//!   patch's place and one of the picture's *slot* (0 the input picture, k the canvas seen k
//!   steps before it) are added.
//! - **Causal transformer** (pre-LayerNorm) over `[canvases oldest first, input picture, prompt,
//!   <bos>, answer]`; text tokens get a token embedding and a learned position embedding within
//!   the text. Each position attends to itself and the positions before it; padding comes last,
//!   so no real position ever sees it.
//! - **Text head**, tied to the token embedding, read at `<bos>` and the answer tokens: the
//!   answer is predicted token by token, ending in `<eos>`.
//! - **Picture decoder**: its queries are the input picture's patch tokens (as the encoder made
//!   them); each layer attends among them, then to the transformer's final states (padding left
//!   out), then a feed-forward. A linear layer turns each query into its patch's pixels, *added to
//!   the input picture's*: the decoder learns what changes, and a copy of the input is where it
//!   starts. With a pixel head (`pixel_decoder` channels), each query also writes that many
//!   channels for each of its pixels, and an MLP over them and the pixel's own input colour adds
//!   a second change (its last layer starts at zero): "the gold's pixels become floor" is one
//!   rule over colours, the same for every pixel. With `decoder_prompt`, every query first adds
//!   a projection of the transformer's state at `<bos>`: what the prompt asks reaches every patch.
//!   With `pixel_prompt`, the pixel MLP's hidden layer adds one too (starting at zero): the prompt
//!   switches a colour rule on at every pixel, whatever else its patch holds. With
//!   `colour_rule`, a second small MLP reads only the pixel's own colour and that state, and adds
//!   its change (its last layer starts at zero): a rule over colours the prompt switches on, which
//!   no patch's state reaches, so a wall that fills a patch's channels cannot weaken it.
//!   With `decoder_copy`, each query also writes one gate per canvas slot (starting at zero),
//!   and what the changes are added to is the input's patch plus each gate times the difference
//!   from the input's patch to that canvas's at the same place: recalling a picture seen before
//!   is a gate per patch, not its pixels written out by the decoder. The pixel head then reads
//!   that colour, not the input's.
//! - **Pixel summary** (`pixel_summary` channels; 0 leaves it out): every pixel of the input
//!   picture, as (r, g, b, x, y), goes through a two-layer MLP, and each channel's largest value
//!   over the picture is kept. In every transformer block (after its self-attention) each
//!   position adds `out(summary(z) * gate(norm(x)))`: the picture's summary times what the
//!   position holds, the question's words at the answer. The gold covers ~7 of 9,216 pixels at
//!   96 px; without the summary the transformer learnt no question about where things are (the
//!   run and probes in docs/agent.md).
//! - **Object tokens** (`object_tokens`; 0 leaves them out), after each picture's patches (the
//!   canvases' too, each with its picture's slot embedding):
//!   each has a learned prototype colour (starting on a lattice of the colour cube, see
//!   `colour_lattice`) and a softmax over the picture's pixels of minus their squared colour
//!   distance to it, times a learned sharpness that starts at `OBJECT_SHARPNESS` (a spatial
//!   soft-argmax, as in deep spatial autoencoders for visuomotor learning). Its features are the
//!   expected x and y and their spreads under that softmax, and how close the nearest pixel's
//!   colour comes (`exp(-10 d^2)`); each token embeds them with its own `[5, d]` matrix and adds
//!   its own identity. The token whose prototype lies nearest the gold's colour holds the gold's
//!   place from the first step, however few its pixels: the transformer compares places
//!   between tokens instead of finding 7 pixels among 64 patches.
//!   With an egocentric frame (`object_frame`: the colours of an anchor and a pointer, the game's
//!   green body and red eye), every token also holds its place relative to the anchor's token:
//!   in the picture's axes, along and across the anchor-to-pointer direction (the heading), its
//!   distance, and that direction. "Will going straight ahead reach the gold" is then a
//!   threshold on one number of the gold's token (across), where the transformer otherwise had to
//!   find the heading as a 3-pixel offset between two tokens and rotate by it.
//! - **Patch frame** (`patch_frame`, with an egocentric frame): each patch token of the input
//!   picture adds an MLP's embedding of its centre's place on the way from the anchor to every
//!   object token (the pixel frame's five numbers per token, in patches): where a wall's patch
//!   lies relative to the agent, its heading and the way to the gold, which a patch's learned
//!   place embedding leaves the transformer to work out against the object tokens' places.
//! - **Rays** (`rays`, with an egocentric frame), after the input picture's object tokens: from
//!   the anchor's place, `rays` directions evenly spaced in angle from the frame's direction,
//!   each sampled every `RAY_STEP` across the picture on a map of how near each pixel's colour
//!   is to `ray_colour` (the walls); a ray's free length is the expected distance it runs before
//!   a wall stops it (the sum of the chances that it got so far, as a range finder or a volume
//!   renderer integrates). Each ray token embeds its free length at three scales and adds its
//!   own identity (its angle from the heading). The places the rays start from and turn with are
//!   taken as they are (no gradient flows back into the object tokens through the rays). Where
//!   a wall ends is a jump in length between two neighbouring rays, the corner the way round it
//!   turns at.
//! - **Instance tokens** (`object_instances`: colours, with an egocentric frame), after the input
//!   picture's object tokens and before the rays: an object token's softmax spreads over every
//!   pixel of its colour, so two gold pieces give it their mean place, neither piece. Per colour,
//!   two tokens: the pixels within `INSTANCE_RADIUS` of the pixel of that colour nearest the
//!   anchor (the nearest piece), then those near the nearest such pixel outside them (the next
//!   piece; the first again with presence zero where there is none). Each is the colour's
//!   token's softmax over its own pixels, with an object token's features and frame, its own
//!   embedding and identity; which pixels belong to which piece is chosen without gradient.
//!

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::attention::{KeysValues, MultiHeadAttention};
use super::layers::{dropout, layer_norm, FeedForward, Linear};
use crate::config::{AgentConfig, OBJECT_INSTANCES};
use crate::tokenizer::BOS_ID;

/// Pixels of a picture channel are scaled from [0, 255] to [-0.5, 0.5] on the way in, and
/// predicted in [0, 1].
const SCALE: f64 = 1.0 / 255.0;

#[derive(Debug)]
struct Block {
    norm_attn: nn::LayerNorm,
    attn: MultiHeadAttention,
    /// The decoder's attention to the transformer's states.
    cross: Option<(nn::LayerNorm, MultiHeadAttention)>,
    norm_ff: nn::LayerNorm,
    ff: FeedForward,
    /// The pixel summary's product with the states (see the module).
    film: Option<Film>,
    dropout: f64,
}

#[derive(Debug)]
struct Film {
    norm: nn::LayerNorm,
    summary: Linear,
    gate: Linear,
    out: Linear,
}

impl Film {
    fn new(p: nn::Path, channels: i64, d: i64, compute: Kind) -> Self {
        Self {
            norm: layer_norm(&p / "norm", d),
            summary: Linear::new(&p / "summary", channels, d, true, compute),
            gate: Linear::new(&p / "gate", d, d, true, compute),
            out: Linear::new(&p / "out", d, d, true, compute),
        }
    }

    /// `out(summary(z) * gate(norm(x)))` for states `x` `[B, L, d]` and summaries `z` `[B, C]`.
    fn forward(&self, x: &Tensor, z: &Tensor) -> Tensor {
        self.out.forward(&(self.summary.forward(z).unsqueeze(1) * self.gate.forward(&self.norm.forward(x))))
    }
}

impl Block {
    /// A transformer block (`cross` false) multiplies in the pixel summary, where the model has one;
    /// a decoder block (`cross` true) attends to the transformer's states instead.
    fn new(p: nn::Path, c: &AgentConfig, cross: bool, compute: Kind) -> Self {
        Self {
            norm_attn: layer_norm(&p / "norm_attn", c.d_model),
            attn: MultiHeadAttention::new(&p / "attn", c.d_model, c.nhead, c.dropout, compute),
            cross: cross.then(|| {
                (
                    layer_norm(&p / "norm_cross", c.d_model),
                    MultiHeadAttention::new(&p / "cross", c.d_model, c.nhead, c.dropout, compute),
                )
            }),
            norm_ff: layer_norm(&p / "norm_ff", c.d_model),
            ff: if c.gated_feedforward {
                FeedForward::gated(&p / "ff", c.d_model, c.dim_feedforward, c.dropout, compute)
            } else {
                FeedForward::new(&p / "ff", c.d_model, c.dim_feedforward, c.dropout, compute)
            },
            film: (!cross && c.pixel_summary > 0).then(|| Film::new(&p / "film", c.pixel_summary, c.d_model, compute)),
            dropout: c.dropout,
        }
    }

    /// Self-attention (causal or not), then the pixel summary `z` (where the block has it), then
    /// attention to `memory` (where the block has it; `memory_mask` `[B, 1, 1, L]` true at keys
    /// that may be attended), then the feed-forward.
    fn forward(
        &self,
        x: &Tensor,
        causal: bool,
        z: Option<&Tensor>,
        memory: Option<(&Tensor, &Tensor)>,
        train: bool,
    ) -> Tensor {
        let h = self.norm_attn.forward(x);
        let mut x = x + dropout(&self.attn.forward(&h, &h, None, causal, train), self.dropout, train);
        if let (Some(film), Some(z)) = (&self.film, z) {
            x = &x + dropout(&film.forward(&x, z), self.dropout, train);
        }
        if let (Some((norm, cross)), Some((memory, mask))) = (&self.cross, memory) {
            let h = norm.forward(&x);
            x = &x + dropout(&cross.forward(&h, memory, Some(mask), false, train), self.dropout, train);
        }
        let h = self.norm_ff.forward(&x);
        &x + dropout(&self.ff.forward(&h, train), self.dropout, train)
    }

    /// [`Block::forward`] of a transformer block at inference over the leading positions of a
    /// causal sequence, with their keys and values for [`Block::forward_after`].
    fn forward_prefix(&self, x: &Tensor, z: Option<&Tensor>) -> (Tensor, KeysValues) {
        let h = self.norm_attn.forward(x);
        let kv = self.attn.keys_values(&h);
        let x = x + self.attn.attend(&h, &kv, None, true, false);
        (self.finish(x, z), kv)
    }

    /// The positions after a prefix: they attend to the prefix's keys and values (`prefix`)
    /// and causally among themselves (`mask` `[1, 1, T, P + T]`).
    fn forward_after(&self, x: &Tensor, prefix: &KeysValues, mask: &Tensor, z: Option<&Tensor>) -> Tensor {
        let h = self.norm_attn.forward(x);
        let kv = prefix.extended(&self.attn.keys_values(&h));
        let x = x + self.attn.attend(&h, &kv, Some(mask), false, false);
        self.finish(x, z)
    }

    /// The pixel summary and the feed-forward of a transformer block at inference.
    fn finish(&self, mut x: Tensor, z: Option<&Tensor>) -> Tensor {
        if let (Some(film), Some(z)) = (&self.film, z) {
            x = &x + film.forward(&x, z);
        }
        let h = self.norm_ff.forward(&x);
        &x + self.ff.forward(&h, false)
    }
}

/// `k` colours in [-0.5, 0.5]^3, the first `k` points (red slowest, blue fastest) of the
/// smallest lattice with at least `k` points and the same number of levels per channel: 27 gives
/// every combination of 0, 0.5 and 1 (before centring).
/// The centres of a `side` x `side` grid over the picture, `[side, side, 2]` row by row, in
/// [-1, 1] as the object features place things: x grows to the right, y up.
fn grid_centres(side: i64, device: tch::Device) -> Tensor {
    let centres = (Tensor::arange(side, (Kind::Float, device)) + 0.5) * (2.0 / side as f64) - 1.0;
    let x = centres.view([1, side]).expand([side, side], false);
    let y = centres.flip([0]).view([side, 1]).expand([side, side], false);
    Tensor::stack(&[x, y], 2)
}

fn colour_lattice(k: i64) -> Tensor {
    let levels = (1..).find(|m: &i64| m * m * m >= k).expect("a lattice is big enough");
    let level = |i: i64| if levels == 1 { 0.0 } else { i as f64 / (levels - 1) as f64 - 0.5 };
    let points: Vec<f32> = (0..k)
        .flat_map(|i| [level(i / (levels * levels)), level(i / levels % levels), level(i % levels)])
        .map(|v| v as f32)
        .collect();
    Tensor::from_slice(&points).view([k, 3])
}

/// The index of the colour of `lattice` (`[K, 3]` in [-0.5, 0.5]) nearest the RGB colour `rgb`
/// (0 to 255 per channel).
fn nearest_colour(lattice: &Tensor, rgb: &[i64]) -> i64 {
    let colour = Tensor::from_slice(&rgb.iter().map(|&v| v as f32 * SCALE as f32 - 0.5).collect::<Vec<_>>());
    (lattice - colour.view([1, 3])).square().sum_dim_intlist(1, false, Kind::Float).argmin(0, false).int64_value(&[])
}

/// The model's inputs for a batch: pictures as `[B, S, S, 3]` uint8 (or float in [0, 255]),
/// canvases `[B, C, S, S, 3]` (C may be 0; oldest first), and the text `[B, T]` int64: prompt,
/// `<bos>`, answer, then `<pad>`; `text_len` `[B]` counts each row's real tokens.
/// `[B, N, K]` squared colour distances of `[B, S, S, 3]` pictures' pixels to `[K, 3]`
/// prototypes, and the softmax logits over pixels (minus the distance times each sharpness).
fn colour_logits(images: &Tensor, prototype: &Tensor, log_sharpness: &Tensor) -> (Tensor, Tensor) {
    let (b, s) = (images.size()[0], images.size()[1]);
    let rgb = (images.to_kind(Kind::Float) * SCALE - 0.5).view([b, s * s, 3]);
    // |p|^2 - 2 p.c + |c|^2.
    let distance = (rgb.square().sum_dim_intlist(2, true, Kind::Float) - rgb.matmul(&prototype.tr()) * 2.0
        + prototype.square().sum_dim_intlist(1, false, Kind::Float))
    .clamp_min(0.0);
    let logits = &distance * -log_sharpness.exp();
    (distance, logits)
}

/// Pixel centres `[1, S * S, 1]` in [-1, 1], row by row: x grows to the right, y up.
fn pixel_places(s: i64, device: tch::Device) -> (Tensor, Tensor) {
    let centres = (Tensor::arange(s, (Kind::Float, device)) + 0.5) * (2.0 / s as f64) - 1.0;
    let x = centres.view([1, s]).expand([s, s], false).reshape([1, s * s, 1]);
    let y = centres.flip([0]).view([s, 1]).expand([s, s], false).reshape([1, s * s, 1]);
    (x, y)
}

/// The expected x and y `[B, K]` under each column of `share` `[B, N, K]`, and their spreads.
fn soft_places(share: &Tensor, x: &Tensor, y: &Tensor) -> Vec<Tensor> {
    let mean = |v: &Tensor| (share * v).sum_dim_intlist(1, false, Kind::Float);
    let (mx, my) = (mean(x), mean(y));
    let spread = |v: &Tensor, m: &Tensor| (mean(&v.square()) - m.square()).clamp_min(1e-6).sqrt();
    let (sx, sy) = (spread(x, &mx), spread(y, &my));
    vec![mx, my, sx, sy]
}

/// Places `[B, K]` in the egocentric frame of an anchor at `(ax, ay)` looking along the unit
/// `(ux, uy)` (each `[B, 1]`): x and y relative to the anchor, along and across the direction
/// (across positive to its left), the distance, and the direction itself.
fn frame_features(mx: &Tensor, my: &Tensor, ax: &Tensor, ay: &Tensor, ux: &Tensor, uy: &Tensor) -> Vec<Tensor> {
    let (rx, ry) = (mx - ax, my - ay);
    let along = &rx * ux + &ry * uy;
    let across = &ry * ux - &rx * uy;
    let distance = (rx.square() + ry.square()).clamp_min(1e-10).sqrt();
    let size = mx.size();
    vec![rx, ry, along, across, distance, ux.expand(&size, false), uy.expand(&size, false)]
}

pub struct Inputs<'a> {
    pub image: &'a Tensor,
    pub canvases: &'a Tensor,
    pub text: &'a Tensor,
    pub text_len: &'a Tensor,
}

/// A batch's pictures as the transformer reads them (see [`AgentNet::pictures`]).
pub struct Pictures {
    /// The tokens before the text: each canvas's patch and object tokens, oldest first, then
    /// the input picture's.
    tokens: Tensor,
    text_start: i64,
    queries: Tensor,
    patches: Tensor,
    canvas_patches: Tensor,
    objects: Option<Tensor>,
    /// The pixel summary `[B, C]`, where the model has one.
    summary: Option<Tensor>,
}

/// The transformer's pass over a batch's pictures (see [`AgentNet::prefix`]).
pub struct Prefix {
    /// Per transformer block, the pictures' keys and values.
    kv: Vec<KeysValues>,
    /// The pictures' final states (after the last norm).
    hidden: Tensor,
}

impl Pictures {
    /// The rows `rows` (`[N]` int64) of the batch: one picture's tokens read by several texts.
    pub fn select_rows(&self, rows: &Tensor) -> Pictures {
        let pick = |t: &Tensor| t.index_select(0, rows);
        Pictures {
            tokens: pick(&self.tokens),
            text_start: self.text_start,
            queries: pick(&self.queries),
            patches: pick(&self.patches),
            canvas_patches: pick(&self.canvas_patches),
            objects: self.objects.as_ref().map(pick),
            summary: self.summary.as_ref().map(pick),
        }
    }
}

impl Prefix {
    /// The rows `rows` (`[N]` int64) of the batch, as [`Pictures::select_rows`].
    pub fn select_rows(&self, rows: &Tensor) -> Prefix {
        Prefix {
            kv: self.kv.iter().map(|kv| kv.select_rows(rows)).collect(),
            hidden: self.hidden.index_select(0, rows),
        }
    }
}

/// What a forward pass makes: the transformer's final states over the whole sequence, where the
/// text starts in it, and the padding mask the decoder uses.
pub struct States {
    pub hidden: Tensor,
    /// The text's first position in the sequence (after the pictures).
    pub text_start: i64,
    /// `[B, 1, 1, L]` bool: true at real positions.
    pub real: Tensor,
    /// The input picture's patch tokens, the decoder's queries.
    queries: Tensor,
    /// The input picture's patches, `[B, P, patch * patch * 3]` in [0, 1].
    patches: Tensor,
    /// The canvases' patches, `[B, C, P, patch * patch * 3]`, oldest first (as the inputs).
    canvas_patches: Tensor,
    /// `[B]`: each example's `<bos>` position in the sequence (the text's start where it has
    /// none).
    bos: Tensor,
    /// The input picture's object features `[B, K, F]`, where the model has object tokens.
    objects: Option<Tensor>,
    /// `[B, 1, d]`: the sum of the `decoder_words` rows of each prompt's words (the text before
    /// `<bos>`), where the model has that table.
    prompt_words: Option<Tensor>,
}

#[derive(Debug)]
pub struct AgentNet {
    config: AgentConfig,
    patch_in: Linear,
    patch_pos: Tensor,
    slot: Tensor,
    embed: Tensor,
    text_pos: Tensor,
    blocks: Vec<Block>,
    norm: nn::LayerNorm,
    decoder: Vec<Block>,
    decoder_norm: nn::LayerNorm,
    patch_out: Linear,
    /// The decoder's pixel head (see the module), where `pixel_decoder` > 0: the patch state's
    /// channels per pixel, and the MLP over them and the pixel's input colour.
    pixel_head: Option<(Linear, Linear, Linear)>,
    /// The projection of the state at `<bos>` each decoder query adds, where `decoder_prompt`.
    decoder_prompt: Option<Linear>,
    /// `[vocab, d]`, starting at zero, where `decoder_words`: each decoder query adds the sum of
    /// the prompt's words' rows.
    decoder_words: Option<Tensor>,
    /// The projection of the state at `<bos>` the pixel head's hidden layer adds (starting at
    /// zero), where `pixel_prompt`.
    pixel_prompt: Option<Linear>,
    /// With `colour_rule` (see the module): the projections of the pixel's colour (with bias)
    /// and of the state at `<bos>` to the gated hidden layer, and its output (starting at zero).
    colour_rule: Option<(Linear, Linear, Linear)>,
    /// Each decoder query's gates on the canvases' patches at its place (one per canvas slot,
    /// starting at zero), where `decoder_copy`.
    copy: Option<Linear>,
    /// The pixel summary's MLP (see the module), where `pixel_summary` > 0.
    pixels: Option<(Linear, Linear)>,
    /// The object tokens' detectors and embedding (see the module), where `object_tokens` > 0.
    objects: Option<Objects>,
    /// The MLP that embeds each input patch's place in the frame of every object token, where
    /// `patch_frame`.
    patch_frame: Option<(Linear, Linear)>,
    /// The rays' embedding and identities, where `rays` > 0 (see the module).
    rays: Option<Rays>,
    /// The instance tokens' embedding and identities, where `object_instances` names colours.
    instances: Option<Instances>,
    compute: Kind,
}

#[derive(Debug)]
struct Instances {
    /// `[J]`: per colour of `object_instances`, the object token whose prototype starts nearest
    /// it; its prototype and sharpness find the instances' pixels.
    tokens: Tensor,
    /// `[J * OBJECT_INSTANCES, F, d]`: each instance token's own embedding of its features.
    embed: Tensor,
    /// `[J * OBJECT_INSTANCES, d]`: each instance token's identity.
    id: Tensor,
}

#[derive(Debug)]
struct Rays {
    /// `[RAY_FEATURES] -> [d]`: a ray's free length, at three scales, embedded.
    embed: Linear,
    /// `[R, d]`: each ray's identity (its angle from the heading).
    id: Tensor,
    /// The colour that stops a ray, each channel in [-0.5, 0.5] as the pixels are scaled.
    colour: [f64; 3],
}

/// A ray is sampled every this much of the picture ([-1, 1] units: 1.4 pixels at 96 px), out to
/// the picture's diagonal; the walls are 6 pixels thick at 96 px.
const RAY_STEP: f64 = 0.03;
/// A pixel's chance of stopping a ray is `exp(-RAY_SHARPNESS d^2)` for its squared colour
/// distance `d^2` to `ray_colour` (channels in [-0.5, 0.5]): 1 on a wall, below 1e-9 on the
/// game's other colours (the nearest, the blue line, lies 0.70 from black).
const RAY_SHARPNESS: f64 = 30.0;
/// Per ray: its free length over the picture's width, and `tanh` of it over a step of the game
/// (0.125 in [-1, 1] units) and over four steps.
const RAY_FEATURES: i64 = 3;

/// The object tokens' softmax over pixels starts this sharp: its logits are minus the squared
/// colour distance times this. A prototype then picks out the pixels of the colour nearest to it
/// however few they are (the gold is ~7 of 9,216 pixels); a soft start (8) let the floor's
/// thousands of pixels outweigh the gold and no token learnt where it was (docs/agent.md).
const OBJECT_SHARPNESS: f64 = 100.0;
/// Per object token: the expected x and y, the spread in x and y, and the presence.
const OBJECT_FEATURES: i64 = 5;
/// Per object token, with an egocentric frame: its place relative to the anchor's (x, y, along
/// and across the frame's direction, distance), and the direction (x, y).
const FRAME_FEATURES: i64 = 7;
/// An instance token's pixels lie within this of the pixel of its colour nearest the anchor
/// ([-1, 1] picture units: 4.8 pixels at 96 px): the nearest pixel is on the instance's near
/// edge, and a gold piece is 3 pixels across. The next instance is looked for outside it.
const INSTANCE_RADIUS: f64 = 0.1;
/// A pixel is of an instance's colour where its token's share of it is at least this fraction
/// of the largest share (the softmax over pixels splits between the pieces of one colour).
const INSTANCE_SHARE: f64 = 0.1;
/// Hidden width of the decoder's per-pixel MLP (`pixel_decoder`).
const PIXEL_HIDDEN: i64 = 32;
/// Hidden width of the colour rule (`colour_rule`): per unit, a gate and a value.
const COLOUR_RULE_HIDDEN: i64 = 32;
/// Per pixel and object token, with `pixel_frame`: along and across the direction from the
/// anchor to the token, past the token along it, past the midpoint of the way along it (these
/// four in pixels, squashed by `tanh(v / FRAME_PIXEL_SCALE)`), and the fraction of the way to it.
const PIXEL_FRAME_FEATURES: i64 = 5;
/// The pixel frame's lengths are in pixels of the picture, squashed by `tanh(v / this)`: a blue
/// line 1.7 px wide, the gold's 1.5 px radius and the agent's 4.8 px are then sizes of order one
/// that a pixel MLP with weights of order one tells apart. In picture units ([-1, 1]) they were
/// 0.02-0.1, and a band that narrow needed weights of order 50 that 240 steps of AdamW did not
/// reach (the probe in docs/agent.md: no line drawn).
const FRAME_PIXEL_SCALE: f64 = 4.0;
/// The pixel frame's features come in times this, and their weights start at zero. AdamW moves
/// each weight by about the learning rate per step, whatever its input's scale, and a rule on
/// one of the 135 places (the band 1.7 px wide across the line to the gold) needs one weight to
/// give a pre-activation of order one: at gain 1 that took more steps than a run has. A probe of
/// 240 steps (docs/agent.md): gain 1 drew no line, 4 drew one in 84% of the pictures, 8 and 16
/// in 98%, with median angle errors of 2.0, 0.6 and 0.5 degrees.
const FRAME_GAIN: f64 = 8.0;
/// The shortest anchor-to-token distance a pixel's fraction of the way divides by ([-1, 1]
/// picture units: 2.4 pixels at 96 px), and the fraction's bound either way.
const FRAME_MIN_DISTANCE: f64 = 0.05;
const FRAME_MAX_FRACTION: f64 = 4.0;
/// The patch frame's lengths are in patches, squashed by `tanh(v / this)`: a wall's end a few
/// patches from the way to the gold stays distinct from one beside it.
const PATCH_FRAME_SCALE: f64 = 3.0;
/// Hidden width of the patch frame's MLP (`patch_frame`).
const PATCH_FRAME_HIDDEN: i64 = 128;

#[derive(Debug)]
struct Objects {
    /// `[K, 3]`: each token's prototype colour (channels in [-0.5, 0.5]).
    prototype: Tensor,
    /// `[K]`: the log of each token's sharpness.
    log_sharpness: Tensor,
    /// `[K, OBJECT_FEATURES, d]`: each token's own embedding of its features.
    embed: Tensor,
    /// `[K, d]`: each token's identity.
    id: Tensor,
    /// The tokens whose places are the egocentric frame's anchor and pointer, where the config
    /// names a frame (`object_frame`).
    frame: Option<(i64, i64)>,
}

impl AgentNet {
    pub fn new(p: &nn::Path, c: &AgentConfig, vocab_size: i64, compute: Kind) -> Self {
        let d = c.d_model;
        let pixels = c.patch_size * c.patch_size * 3;
        let small = nn::Init::Randn { mean: 0.0, stdev: 0.02 };
        let patch_out = Linear::new(p / "patch_out", d, pixels, true, compute);
        {
            // The decoder starts as a copy of the input: its pixel layer starts at zero.
            let _guard = tch::no_grad_guard();
            let _ = patch_out.weight.shallow_clone().zero_();
        }
        Self {
            config: c.clone(),
            patch_in: Linear::new(p / "patch_in", pixels, d, true, compute),
            patch_pos: p.var("patch_pos", &[c.patches(), d], small),
            slot: p.var("slot", &[c.max_canvases + 1, d], small),
            embed: p.var("embed", &[vocab_size, d], small),
            text_pos: p.var("text_pos", &[c.max_text_len, d], small),
            blocks: (0..c.num_layers).map(|i| Block::new(p / "blocks" / i, c, false, compute)).collect(),
            norm: layer_norm(p / "norm", d),
            decoder: (0..c.decoder_layers).map(|i| Block::new(p / "decoder" / i, c, true, compute)).collect(),
            decoder_norm: layer_norm(p / "decoder_norm", d),
            patch_out,
            pixel_head: (c.pixel_decoder > 0).then(|| {
                let (k, q) = (c.pixel_decoder, p / "pixel_head");
                let out = Linear::new(&q / "out", PIXEL_HIDDEN, 3, true, compute);
                {
                    // Zero, as the patch layer: a fresh decoder still copies the input.
                    let _guard = tch::no_grad_guard();
                    let _ = out.weight.shallow_clone().zero_();
                }
                // With `pixel_frame`, each pixel also reads its place relative to every object
                // token, and the hidden layer is gated: twice the units, one half gating the other.
                let (frame, gated) = if c.pixel_frame { (PIXEL_FRAME_FEATURES * c.object_tokens, 2) } else { (0, 1) };
                let hidden = Linear::new(&q / "hidden", k + 3 + frame, gated * PIXEL_HIDDEN, true, compute);
                if frame > 0 {
                    // The places' weights start at zero (they come in times FRAME_GAIN).
                    let _guard = tch::no_grad_guard();
                    let _ = hidden.weight.narrow(1, k + 3, frame).zero_();
                }
                (Linear::new(&q / "channels", d, c.patch_size * c.patch_size * k, true, compute), hidden, out)
            }),
            decoder_prompt: c.decoder_prompt.then(|| Linear::new(p / "decoder_prompt", d, d, true, compute)),
            // Zero: a fresh table changes nothing (a run started from one without it draws the
            // same pictures at first).
            decoder_words: c.decoder_words.then(|| p.var("decoder_words", &[vocab_size, d], nn::Init::Const(0.0))),
            pixel_prompt: c.pixel_prompt.then(|| {
                let gated = if c.pixel_frame { 2 } else { 1 };
                let prompt = Linear::new(p / "pixel_prompt", d, gated * PIXEL_HIDDEN, true, compute);
                // Zero: the pixel head starts as it would without it (and a run started from
                // one without it draws the same pictures at first).
                let _guard = tch::no_grad_guard();
                let _ = prompt.weight.shallow_clone().zero_();
                let _ = prompt.bias.as_ref().expect("a bias").shallow_clone().zero_();
                prompt
            }),
            colour_rule: c.colour_rule.then(|| {
                let q = p / "colour_rule";
                let colour = Linear::new(&q / "colour", 3, 2 * COLOUR_RULE_HIDDEN, true, compute);
                let prompt = Linear::new(&q / "prompt", d, 2 * COLOUR_RULE_HIDDEN, false, compute);
                let out = Linear::new(&q / "out", COLOUR_RULE_HIDDEN, 3, true, compute);
                {
                    // Zero: a fresh rule changes nothing (and a run started from one without it
                    // draws the same pictures at first).
                    let _guard = tch::no_grad_guard();
                    let _ = out.weight.shallow_clone().zero_();
                }
                (colour, prompt, out)
            }),
            copy: c.decoder_copy.then(|| {
                let copy = Linear::new(p / "decoder_copy", d, c.max_canvases.max(1), true, compute);
                {
                    // Zero: a fresh decoder still copies the input picture exactly.
                    let _guard = tch::no_grad_guard();
                    let _ = copy.weight.shallow_clone().zero_();
                    let _ = copy.bias.as_ref().expect("with bias").shallow_clone().zero_();
                }
                copy
            }),
            pixels: (c.pixel_summary > 0).then(|| {
                let k = c.pixel_summary;
                (
                    Linear::new(p / "pixels" / "in", 5, k, true, compute),
                    Linear::new(p / "pixels" / "hidden", k, k, true, compute),
                )
            }),
            objects: (c.object_tokens > 0).then(|| {
                let k = c.object_tokens;
                let q = p / "objects";
                let lattice = colour_lattice(k);
                let frame = match c.object_frame.as_slice() {
                    [anchor, pointer] => Some((nearest_colour(&lattice, anchor), nearest_colour(&lattice, pointer))),
                    _ => None,
                };
                let features = OBJECT_FEATURES + if frame.is_some() { FRAME_FEATURES } else { 0 };
                let bound = 1.0 / (features as f64).sqrt();
                let prototype = q.var("prototype", &[k, 3], nn::Init::Const(0.0));
                {
                    let _guard = tch::no_grad_guard();
                    prototype.shallow_clone().copy_(&lattice.to_device(prototype.device()));
                }
                Objects {
                    prototype,
                    log_sharpness: q.var("log_sharpness", &[k], nn::Init::Const(OBJECT_SHARPNESS.ln())),
                    embed: q.var("embed", &[k, features, d], nn::Init::Uniform { lo: -bound, up: bound }),
                    id: q.var("id", &[k, d], small),
                    frame,
                }
            }),
            patch_frame: c.patch_frame.then(|| {
                let q = p / "patch_frame";
                let out = Linear::new(&q / "out", PATCH_FRAME_HIDDEN, d, true, compute);
                {
                    // Zero: a fresh model's patch tokens are those without the frame.
                    let _guard = tch::no_grad_guard();
                    let _ = out.weight.shallow_clone().zero_();
                }
                let features = PIXEL_FRAME_FEATURES * c.object_tokens;
                (Linear::new(&q / "hidden", features, PATCH_FRAME_HIDDEN, true, compute), out)
            }),
            rays: (c.rays > 0).then(|| {
                let q = p / "rays";
                let channel = |k: usize| c.ray_colour.get(k).map_or(0.0, |&v| v as f64 * SCALE - 0.5);
                Rays {
                    embed: Linear::new(&q / "embed", RAY_FEATURES, d, true, compute),
                    id: q.var("id", &[c.rays, d], small),
                    colour: [channel(0), channel(1), channel(2)],
                }
            }),
            instances: (!c.object_instances.is_empty()).then(|| {
                let q = p / "instances";
                let lattice = colour_lattice(c.object_tokens);
                let tokens: Vec<i64> =
                    c.object_instances.iter().map(|colour| nearest_colour(&lattice, colour)).collect();
                let n = OBJECT_INSTANCES * tokens.len() as i64;
                let features = OBJECT_FEATURES + FRAME_FEATURES;
                let bound = 1.0 / (features as f64).sqrt();
                Instances {
                    tokens: Tensor::from_slice(&tokens),
                    embed: q.var("embed", &[n, features, d], nn::Init::Uniform { lo: -bound, up: bound }),
                    id: q.var("id", &[n, d], small),
                }
            }),
            compute,
        }
    }

    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// `[B, S, S, 3]` pictures as `[B, P, patch * patch * 3]` patches in [0, 1], row by row.
    pub fn patchify(&self, images: &Tensor) -> Tensor {
        let (b, s, p) = (images.size()[0], self.config.image_size, self.config.patch_size);
        let n = s / p;
        (images.to_kind(Kind::Float) * SCALE).view([b, n, p, n, p, 3]).permute([0, 1, 3, 2, 4, 5]).reshape([
            b,
            n * n,
            p * p * 3,
        ])
    }

    /// The inverse of [`AgentNet::patchify`]: `[B, P, patch * patch * 3]` -> `[B, S, S, 3]`.
    pub fn unpatchify(&self, patches: &Tensor) -> Tensor {
        let (b, s, p) = (patches.size()[0], self.config.image_size, self.config.patch_size);
        let n = s / p;
        patches.view([b, n, n, p, p, 3]).permute([0, 1, 3, 2, 4, 5]).reshape([b, s, s, 3])
    }

    /// The pixel summary `[B, C]` of `[B, S, S, 3]` pictures (see the module), where the model
    /// has one.
    fn summary(&self, images: &Tensor) -> Option<Tensor> {
        let (first, second) = self.pixels.as_ref()?;
        let (b, s) = (images.size()[0], self.config.image_size);
        let device = images.device();
        // Pixel centres in [-0.5, 0.5]: x grows to the right, y up.
        let centres = (Tensor::arange(s, (Kind::Float, device)) + 0.5) / s as f64 - 0.5;
        let x = centres.view([1, 1, s, 1]).expand([b, s, s, 1], false);
        let y = centres.flip([0]).view([1, s, 1, 1]).expand([b, s, s, 1], false);
        let rgb = images.to_kind(Kind::Float) * SCALE - 0.5;
        let h = first.forward(&Tensor::cat(&[rgb, x, y], 3)).gelu("none");
        let h = second.forward(&h).gelu("none");
        Some(h.amax([1, 2], false))
    }

    /// The object tokens' features `[B, K, F]` of `[B, S, S, 3]` pictures (see the module):
    /// expected x and y in [-1, 1] (x right, y up), their spreads, and the presence; with a frame,
    /// then x and y relative to the anchor's, along and across the frame's direction, the distance
    /// to the anchor, and the direction's x and y.
    fn object_features(&self, objects: &Objects, images: &Tensor) -> Tensor {
        let (distance, logits) = colour_logits(images, &objects.prototype, &objects.log_sharpness);
        // Each token's share of every pixel.
        let share = logits.softmax(1, Kind::Float);
        let (x, y) = pixel_places(self.config.image_size, images.device());
        let presence = (distance.amin([1], false) * -10.0).exp();
        let mut features = soft_places(&share, &x, &y);
        features.push(presence);
        if let Some((anchor, pointer)) = objects.frame {
            let at = |v: &Tensor, k: i64| v.narrow(1, k, 1);
            let (ax, ay) = (at(&features[0], anchor), at(&features[1], anchor));
            let (dx, dy) = (at(&features[0], pointer) - &ax, at(&features[1], pointer) - &ay);
            let norm = (dx.square() + dy.square()).clamp_min(1e-10).sqrt();
            let frame = frame_features(&features[0], &features[1], &ax, &ay, &(dx / &norm), &(dy / &norm));
            features.extend(frame);
        }
        Tensor::stack(&features, 2)
    }

    /// The instance tokens' features `[B, J * OBJECT_INSTANCES, F]` (the object tokens' features,
    /// frame included) of `[B, S, S, 3]` pictures and their object features `[B, K, F]`: per
    /// colour of `object_instances`, its token's softmax over the pixels near the pixel of its
    /// colour nearest the anchor, then over those near the nearest pixel outside them (the first
    /// instance again, with presence zero, where the colour has no second instance).
    fn instance_features(
        &self,
        instances: &Instances,
        objects: &Objects,
        images: &Tensor,
        features: &Tensor,
    ) -> Tensor {
        let (anchor, _) = objects.frame.expect("instances need an object_frame (checked)");
        let (b, s) = (images.size()[0], self.config.image_size);
        let device = images.device();
        let tokens = instances.tokens.to_device(device);
        let prototype = objects.prototype.index_select(0, &tokens);
        let (distance, logits) = colour_logits(images, &prototype, &objects.log_sharpness.index_select(0, &tokens));
        let j = prototype.size()[0];
        // [B, N, J]: the pixels of each colour (detached), and each pixel's squared distance to the anchor.
        let share = logits.detach().softmax(1, Kind::Float);
        let coloured = share.ge_tensor(&(share.amax([1], true) * INSTANCE_SHARE));
        let places = grid_centres(s, device).reshape([1, s * s, 2]);
        let from = features.select(1, anchor).narrow(1, 0, 2).detach();
        let near =
            (&places - from.unsqueeze(1)).square().sum_dim_intlist(2, true, Kind::Float).expand([b, s * s, j], false);
        // The pixels within INSTANCE_RADIUS of the nearest allowed pixel, and whether there was one.
        let window = |allowed: &Tensor| {
            let nearest = near.where_self(allowed, &Tensor::from(f64::INFINITY).to_device(device)).argmin(1, false);
            let at = places.get(0).index_select(0, &nearest.flatten(0, -1)).view([b, 1, j, 2]);
            let inside =
                (places.unsqueeze(2) - at).square().sum_dim_intlist(3, false, Kind::Float).le(INSTANCE_RADIUS.powi(2));
            (inside, allowed.any_dim(1, false))
        };
        let (first, _) = window(&coloured);
        let (second, exists) = window(&coloured.logical_and(&first.logical_not()));
        let second = second.where_self(&exists.unsqueeze(1), &first);
        let (x, y) = pixel_places(s, device);
        let (ax, ay) = (features.select(2, 0).narrow(1, anchor, 1), features.select(2, 1).narrow(1, anchor, 1));
        let (ux, uy) = (features.select(2, 10).narrow(1, anchor, 1), features.select(2, 11).narrow(1, anchor, 1));
        let outside = Tensor::from(-1e9).to_device(device);
        let instance = |inside: &Tensor, present: &Tensor| {
            let share = logits.where_self(inside, &outside).softmax(1, Kind::Float);
            let mut f = soft_places(&share, &x, &y);
            f.push(
                (distance.where_self(inside, &Tensor::from(1e9).to_device(device)).amin([1], false) * -10.0).exp()
                    * present,
            );
            let frame = frame_features(&f[0], &f[1], &ax, &ay, &ux, &uy);
            f.extend(frame);
            Tensor::stack(&f, 2)
        };
        let ones = Tensor::ones([b, j], (Kind::Float, device));
        // [B, J, 2, F] -> colour-major: each colour's nearest instance, then its next.
        Tensor::stack(&[instance(&first, &ones), instance(&second, &exists.to_kind(Kind::Float))], 2).view([
            b,
            j * OBJECT_INSTANCES,
            -1,
        ])
    }

    /// The input picture's instance tokens `[B, J * OBJECT_INSTANCES, d]`, where the model has them.
    fn instance_tokens(&self, images: &Tensor, features: &Tensor) -> Option<Tensor> {
        let (instances, objects) = (self.instances.as_ref()?, self.objects.as_ref()?);
        let f = self.instance_features(instances, objects, images, features);
        Some(f.unsqueeze(2).matmul(&instances.embed.unsqueeze(0)).squeeze_dim(2) + &instances.id + self.slot.get(0))
    }

    /// The object tokens `[B, K, d]` of `[B, S, S, 3]` pictures (see the module), with their
    /// features `[B, K, F]`, where the model has them.
    fn object_tokens(&self, images: &Tensor) -> Option<(Tensor, Tensor)> {
        let objects = self.objects.as_ref()?;
        let features = self.object_features(objects, images);
        let tokens = features.unsqueeze(2).matmul(&objects.embed.unsqueeze(0)).squeeze_dim(2) + &objects.id;
        Some((tokens, features))
    }

    /// Every pixel's place in the egocentric frame of each object token, `[B, P, patch * patch,
    /// 5 K]` in the decoder's patch order (see `PIXEL_FRAME_FEATURES`): along and across the
    /// direction from the anchor to token k, past the token along it, past the midpoint (these
    /// four in pixels, squashed), and the fraction of the way to it, each times `FRAME_GAIN`.
    fn pixel_frame(&self, features: &Tensor) -> Tensor {
        let (b, s, p) = (features.size()[0], self.config.image_size, self.config.patch_size);
        // Pixel centres, in the decoder's patch order.
        let places = grid_centres(s, features.device()).view([1, s / p, p, s / p, p, 2]).permute([0, 1, 3, 2, 4, 5]);
        let places = places.reshape([1, s * s, 2]);
        // Picture units to pixels (the picture spans 2 units), squashed.
        let squash = |v: &Tensor| (v * (s as f64 / 2.0 / FRAME_PIXEL_SCALE)).tanh() * FRAME_GAIN;
        let (k, n) = (features.size()[1], self.config.patches());
        self.frame_places(features, places, squash, FRAME_GAIN).view([b, n, p * p, PIXEL_FRAME_FEATURES * k])
    }

    /// Every patch centre's place in the egocentric frame of each object token of the input
    /// picture, `[B, P, 5 K]` (`patch_frame`): the pixel frame's five numbers, lengths in patches
    /// squashed by `tanh(v / PATCH_FRAME_SCALE)`, and the fraction of the way.
    fn patch_frame(&self, features: &Tensor) -> Tensor {
        let side = self.config.image_size / self.config.patch_size;
        // Patch centres, row by row as `patchify` orders them.
        let places = grid_centres(side, features.device()).reshape([1, side * side, 2]);
        let squash = |v: &Tensor| (v * (side as f64 / 2.0 / PATCH_FRAME_SCALE)).tanh();
        self.frame_places(features, places, squash, 1.0)
    }

    /// Each ray's free length `[B, R]` in [-1, 1] picture units (see the module) for `[B, S, S,
    /// 3]` pictures and their object features `[B, K, F]`: from the anchor's place, the rays turn
    /// anticlockwise from the anchor-to-pointer direction in steps of a full turn over `R`.
    fn ray_lengths(&self, rays: &Rays, features: &Tensor, images: &Tensor) -> Tensor {
        let objects = self.objects.as_ref().expect("rays need object tokens (checked)");
        let (anchor, pointer) = objects.frame.expect("rays need an object_frame (checked)");
        let (b, r) = (images.size()[0], self.config.rays);
        let device = images.device();
        // [B, 1, S, S]: each pixel's chance of stopping a ray.
        let colour = Tensor::from_slice(&rays.colour.map(|v| v as f32)).to_device(device).view([1, 1, 1, 3]);
        let near = (images.to_kind(Kind::Float) * SCALE - 0.5 - colour).square().sum_dim_intlist(3, false, Kind::Float);
        let stop = (near * -RAY_SHARPNESS).exp().unsqueeze(1);
        let places = features.narrow(2, 0, 2).detach();
        let from = places.select(1, anchor);
        let towards = places.select(1, pointer) - &from;
        let heading = towards.select(1, 1).atan2(&towards.select(1, 0));
        // [B, R]: each ray's angle in the picture; [M]: the distances sampled along it.
        let turns = Tensor::arange(r, (Kind::Float, device)) * (2.0 * std::f64::consts::PI / r as f64);
        let angle = heading.unsqueeze(1) + turns.unsqueeze(0);
        let samples = (8f64.sqrt() / RAY_STEP).ceil() as i64;
        let along = (Tensor::arange(samples, (Kind::Float, device)) + 1.0) * RAY_STEP;
        let x = from.select(1, 0).view([b, 1, 1]) + angle.cos().unsqueeze(2) * along.view([1, 1, samples]);
        let y = from.select(1, 1).view([b, 1, 1]) + angle.sin().unsqueeze(2) * along.view([1, 1, samples]);
        // grid_sample's y runs down the picture; past its edges the edge's pixels continue.
        let grid = Tensor::stack(&[x, -y], 3);
        let hit = stop.grid_sampler(&grid, 0, 1, false).squeeze_dim(1).clamp(0.0, 1.0);
        // The chance a ray got past each sample, summed: its expected free length.
        hit.neg().g_add_scalar(1.0).cumprod(2, Kind::Float).sum_dim_intlist(2, false, Kind::Float) * RAY_STEP
    }

    /// The ray tokens `[B, R, d]` of the input pictures, where the model has rays.
    fn ray_tokens(&self, features: &Tensor, images: &Tensor) -> Option<Tensor> {
        let rays = self.rays.as_ref()?;
        let length = self.ray_lengths(rays, features, images);
        let scaled = Tensor::stack(&[&length / 2.0, (&length / 0.125).tanh(), (&length / 0.5).tanh()], 2);
        Some(rays.embed.forward(&scaled) + &rays.id + self.slot.get(0))
    }

    /// The places `[1, N, 2]` (picture units, x right, y up) in the frame of each object token
    /// (`features` `[B, K, F]`), `[B, N, 5 K]`: along and across the direction from the anchor to
    /// token k, past the token along it, past the midpoint (these four through `squash`), and the
    /// fraction of the way to it (bounded, times `gain`), feature-major.
    fn frame_places(&self, features: &Tensor, places: Tensor, squash: impl Fn(&Tensor) -> Tensor, gain: f64) -> Tensor {
        let objects = self.objects.as_ref().expect("a frame needs object tokens (checked)");
        let (anchor, _) = objects.frame.expect("a frame needs an object_frame (checked)");
        let token = features.narrow(2, 0, 2);
        let anchor_at = token.narrow(1, anchor, 1);
        let to_token = &token - &anchor_at;
        // Clamped before the root: the anchor's own distance is zero, where a root's gradient is not finite.
        let distance =
            to_token.square().sum_dim_intlist(2, true, Kind::Float).clamp_min(FRAME_MIN_DISTANCE.powi(2)).sqrt();
        let unit = &to_token / &distance;
        // [B, 2, K]: each token's direction, and the direction a quarter turn anticlockwise of it.
        let along_axes = unit.transpose(1, 2);
        let across_axes = Tensor::stack(&[-unit.select(2, 1), unit.select(2, 0)], 1);
        let from_anchor = places - anchor_at;
        let along = from_anchor.matmul(&along_axes);
        let across = from_anchor.matmul(&across_axes);
        let distance = distance.transpose(1, 2);
        let past = &along - &distance;
        let middle = &along - &distance * 0.5;
        let fraction = (&along / &distance).clamp(-FRAME_MAX_FRACTION, FRAME_MAX_FRACTION);
        Tensor::cat(&[squash(&along), squash(&across), squash(&past), squash(&middle), fraction * gain], 2)
    }

    /// Patch tokens of pictures in `slot` (`[B, P, d]`), from their patches.
    fn picture_tokens(&self, patches: &Tensor, slot: i64) -> Tensor {
        self.patch_in.forward(&(patches - 0.5)) + &self.patch_pos + self.slot.get(slot)
    }

    /// The transformer's final states for a batch (see the module).
    pub fn states(&self, inputs: &Inputs, train: bool) -> States {
        self.states_after(&self.pictures(inputs.image, inputs.canvases), inputs.text, inputs.text_len, train)
    }

    /// What a batch's pictures contribute, which does not change while an answer is written
    /// token by token: their patches, patch and object tokens, and the pixel summary.
    pub fn pictures(&self, image: &Tensor, canvases: &Tensor) -> Pictures {
        let c = &self.config;
        let count = canvases.size()[1];
        assert!(count <= c.max_canvases, "{count} canvases, the model reads at most {}", c.max_canvases);
        let patches = self.patchify(image);
        let tokens = self.picture_tokens(&patches, 0);
        let mut parts = Vec::with_capacity(2 * count as usize + 2);
        let kind = tokens.kind();
        let object_tokens = |picture: &Tensor, slot: i64| {
            self.object_tokens(picture).map(|(t, f)| ((t + self.slot.get(slot)).to_kind(kind), f))
        };
        let input_objects = object_tokens(image, 0);
        let queries = match (&self.patch_frame, &input_objects) {
            // Each input patch adds its place relative to the agent and the way to every object.
            (Some((hidden, out)), Some((_, features))) => {
                tokens + out.forward(&hidden.forward(&self.patch_frame(features)).gelu("none")).to_kind(kind)
            }
            _ => tokens,
        };
        let mut canvas_patches = Vec::with_capacity(count as usize);
        for k in 0..count {
            let canvas = canvases.select(1, k);
            canvas_patches.push(self.patchify(&canvas));
            parts.push(self.picture_tokens(&canvas_patches[k as usize], count - k));
            parts.extend(object_tokens(&canvas, count - k).map(|(t, _)| t));
        }
        let canvas_patches = if canvas_patches.is_empty() {
            patches.unsqueeze(1).narrow(1, 0, 0)
        } else {
            Tensor::stack(&canvas_patches, 1)
        };
        parts.push(queries.shallow_clone());
        let mut objects = None;
        if let Some((tokens, features)) = input_objects {
            parts.push(tokens);
            parts.extend(self.instance_tokens(image, &features).map(|t| t.to_kind(kind)));
            parts.extend(self.ray_tokens(&features, image).map(|t| t.to_kind(kind)));
            objects = Some(features);
        }
        let summary = self.summary(image);
        Pictures {
            tokens: Tensor::cat(&parts, 1),
            text_start: c.text_start(count),
            queries,
            patches,
            canvas_patches,
            objects,
            summary,
        }
    }

    /// [`AgentNet::states`] from the batch's [`Pictures`] and its text `[B, T]` (`text_len` real
    /// tokens per row).
    pub fn states_after(&self, pictures: &Pictures, text: &Tensor, text_len: &Tensor, train: bool) -> States {
        let c = &self.config;
        let t = text.size2().expect("text is [B, T]").1;
        assert!(t <= c.max_text_len, "{t} text tokens, the model reads at most {}", c.max_text_len);
        let words = Tensor::embedding(&self.embed, text, -1, false, false) + self.text_pos.narrow(0, 0, t);
        let mut x = dropout(&Tensor::cat(&[&pictures.tokens, &words], 1), c.dropout, train);
        for block in &self.blocks {
            x = block.forward(&x, true, pictures.summary.as_ref(), None, train);
        }
        self.finish_states(pictures, self.norm.forward(&x), text, text_len)
    }

    /// The transformer's pass over the pictures alone, at inference: the text after them is
    /// then run by [`AgentNet::states_cached`] without running the pictures again (the pass is
    /// causal, so the pictures' states do not depend on the text).
    pub fn prefix(&self, pictures: &Pictures) -> Prefix {
        let mut x = pictures.tokens.shallow_clone();
        let mut kv = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let (next, keys_values) = block.forward_prefix(&x, pictures.summary.as_ref());
            x = next;
            kv.push(keys_values);
        }
        Prefix { kv, hidden: self.norm.forward(&x) }
    }

    /// [`AgentNet::states`] at inference from the pictures' [`Prefix`]: only the text runs
    /// through the transformer, attending to the pictures' cached keys and values.
    pub fn states_cached(&self, pictures: &Pictures, prefix: &Prefix, text: &Tensor, text_len: &Tensor) -> States {
        let c = &self.config;
        let t = text.size2().expect("text is [B, T]").1;
        assert!(t <= c.max_text_len, "{t} text tokens, the model reads at most {}", c.max_text_len);
        let p = pictures.text_start;
        let mut x = Tensor::embedding(&self.embed, text, -1, false, false) + self.text_pos.narrow(0, 0, t);
        // Text position i sees every picture position and the text up to itself.
        let mask = Tensor::ones([t, p + t], (Kind::Bool, x.device())).tril(p).view([1, 1, t, p + t]);
        for (block, kv) in self.blocks.iter().zip(&prefix.kv) {
            x = block.forward_after(&x, kv, &mask, pictures.summary.as_ref());
        }
        let hidden = Tensor::cat(&[&prefix.hidden, &self.norm.forward(&x)], 1);
        self.finish_states(pictures, hidden, text, text_len)
    }

    /// [`States`] from the final states over pictures and text.
    fn finish_states(&self, pictures: &Pictures, hidden: Tensor, text: &Tensor, text_len: &Tensor) -> States {
        let (b, t) = text.size2().expect("text is [B, T]");
        let text_start = pictures.text_start;
        let device = hidden.device();
        let text_real = Tensor::arange(t, (Kind::Int64, device)).unsqueeze(0).lt_tensor(&text_len.unsqueeze(1));
        let pictures_real = Tensor::ones([b, text_start], (Kind::Bool, device));
        let real = Tensor::cat(&[pictures_real, text_real], 1).view([b, 1, 1, text_start + t]);
        let bos = text.eq(BOS_ID).to_kind(Kind::Int64).argmax(1, false) + text_start;
        let prompt_words = self.decoder_words.as_ref().map(|table| {
            // The prompt is the text before `<bos>`; a text without `<bos>` has none (argmax 0).
            let before = (&bos - text_start).unsqueeze(1);
            let prompt = Tensor::arange(t, (Kind::Int64, device)).unsqueeze(0).lt_tensor(&before).to_kind(Kind::Float);
            let rows = Tensor::embedding(table, text, -1, false, false);
            // A sum, not a mean: two prompts that differ in one word differ by that word's row
            // whatever their length.
            (rows * prompt.unsqueeze(2)).sum_dim_intlist(1, true, Kind::Float)
        });
        States {
            hidden,
            text_start,
            real,
            queries: pictures.queries.shallow_clone(),
            patches: pictures.patches.shallow_clone(),
            canvas_patches: pictures.canvas_patches.shallow_clone(),
            bos,
            objects: pictures.objects.as_ref().map(Tensor::shallow_clone),
            prompt_words,
        }
    }

    /// Next-token logits `[N, vocab]` from `N` rows of final states `[N, d]`.
    pub fn logits(&self, rows: &Tensor) -> Tensor {
        let embed =
            if self.compute == Kind::Float { self.embed.shallow_clone() } else { self.embed.to_kind(self.compute) };
        rows.to_kind(self.compute).matmul(&embed.tr()).to_kind(Kind::Float)
    }

    /// The pictures the decoder draws from `states`: `[B, S, S, 3]` floats, 1 = 255.
    pub fn picture(&self, states: &States, train: bool) -> Tensor {
        // The transformer's state at `<bos>`, `[B, 1, d]` (what the prompt asks), gathered once
        // where a projection of it is read.
        let asked =
            (self.decoder_prompt.is_some() || self.pixel_prompt.is_some() || self.colour_rule.is_some()).then(|| {
                let (b, d) = (states.queries.size()[0], states.queries.size()[2]);
                let index = states.bos.view([b, 1, 1]).expand([b, 1, d], false);
                states.hidden.gather(1, &index, false)
            });
        let mut x = match (&self.decoder_prompt, &asked) {
            (Some(prompt), Some(asked)) => &states.queries + prompt.forward(asked),
            _ => states.queries.shallow_clone(),
        };
        // Not `+=`: that adds in place, and `x` may be the queries themselves.
        x = match &states.prompt_words {
            Some(words) => x + words.to_kind(states.queries.kind()),
            None => x,
        };
        for block in &self.decoder {
            x = block.forward(&x, false, None, Some((&states.hidden, &states.real)), train);
        }
        let x = self.decoder_norm.forward(&x);
        // What the change is added to: the input's patches, or with the copy gates the input's
        // plus each gate times (the canvas's patch at the same place - the input's).
        let canvases = states.canvas_patches.size()[1];
        let base = match &self.copy {
            Some(copy) if canvases > 0 => {
                // Gate s reads the canvas of slot s + 1 (seen s + 1 steps before the input):
                // the canvases come oldest first, so slot 1 is the last one.
                let gates = copy.forward(&x).narrow(2, 0, canvases).to_kind(Kind::Float);
                let away = states.canvas_patches.flip([1]) - states.patches.unsqueeze(1);
                &states.patches + (gates.transpose(1, 2).unsqueeze(3) * away).sum_dim_intlist(1, false, Kind::Float)
            }
            _ => states.patches.shallow_clone(),
        };
        let linear = self.patch_out.forward(&x);
        let (b, n) = (x.size()[0], x.size()[1]);
        let pixels = self.config.patch_size * self.config.patch_size;
        // Each pixel's colour of the picture the change is added to, centred: `[B, P, pixels, 3]`,
        // read by the pixel head and the colour rule (made only for a model with either).
        let colour =
            (self.pixel_head.is_some() || self.colour_rule.is_some()).then(|| base.view([b, n, pixels, 3]) - 0.5);
        let change = match (&self.pixel_head, &colour) {
            (Some((channels, hidden, out)), Some(colour)) => {
                let written = channels.forward(&x).view([b, n, pixels, self.config.pixel_decoder]);
                // With `pixel_prompt`, the prompt's term of the hidden layer, `[B, 1, 1, H]`.
                let prompted = |pre: Tensor| match (&self.pixel_prompt, &asked) {
                    (Some(prompt), Some(asked)) => pre + prompt.forward(asked).unsqueeze(1),
                    _ => pre,
                };
                let h = if self.config.pixel_frame {
                    let objects = states.objects.as_ref().expect("pixel_frame needs object tokens (checked)");
                    let frame = self.pixel_frame(objects).to_kind(written.kind());
                    let both =
                        prompted(hidden.forward(&Tensor::cat(&[written, colour.to_kind(frame.kind()), frame], 3)));
                    let halves = both.chunk(2, 3);
                    halves[0].silu() * &halves[1]
                } else {
                    prompted(hidden.forward(&Tensor::cat(&[written, colour.shallow_clone()], 3))).gelu("none")
                };
                linear + out.forward(&h).view([b, n, pixels * 3])
            }
            _ => linear,
        };
        let change = match (&self.colour_rule, &asked, &colour) {
            (Some((by_colour, prompt, out)), Some(asked), Some(colour)) => {
                // `[B, P, pixels, 2H]`: the pixel's colour's term plus the prompt's, the same at
                // every pixel of a picture.
                let both = by_colour.forward(colour) + prompt.forward(asked).unsqueeze(1);
                let halves = both.chunk(2, 3);
                change + out.forward(&(halves[0].silu() * &halves[1])).view([b, n, pixels * 3])
            }
            _ => change,
        };
        self.unpatchify(&(base + change))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::Device;

    /// A small agent config for tests: pictures of 8 px in 4 patches of 4, 2 layers of width 16.
    pub(crate) fn small() -> AgentConfig {
        AgentConfig {
            image_size: 8,
            patch_size: 4,
            d_model: 16,
            nhead: 2,
            num_layers: 2,
            dim_feedforward: 32,
            decoder_layers: 1,
            dropout: 0.0,
            max_canvases: 2,
            max_text_len: 8,
            pixel_summary: 4,
            object_tokens: 8,
            object_frame: Vec::new(),
            pixel_decoder: 2,
            decoder_prompt: true,
            decoder_words: false,
            gated_feedforward: false,
            decoder_copy: true,
            pixel_frame: false,
            pixel_prompt: false,
            colour_rule: false,
            patch_frame: false,
            rays: 0,
            ray_colour: vec![0, 0, 0],
            object_instances: Vec::new(),
        }
    }

    #[test]
    fn patches_round_trip_and_are_row_major_squares() {
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &small(), 10, Kind::Float);
        let images = Tensor::randint(256, [2, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let patches = net.patchify(&images);
        assert_eq!(patches.size(), [2, 4, 48]);
        // Patch 1 is the top-right square: rows 0..4, columns 4..8.
        let want = images.get(0).narrow(0, 0, 4).narrow(1, 4, 4).to_kind(Kind::Float).reshape([48]) / 255.0;
        assert!(patches.get(0).get(1).allclose(&want, 1e-6, 1e-6, false));
        let back = net.unpatchify(&patches) * 255.0;
        assert!(back.round().to_kind(Kind::Uint8).equal(&images));
    }

    #[test]
    fn a_fresh_decoder_copies_the_input_and_text_never_sees_later_tokens() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &small(), 10, Kind::Float);
        let image = Tensor::randint(256, [2, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let canvases = Tensor::randint(256, [2, 1, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let text = Tensor::from_slice(&[4i64, 5, 2, 6, 3, 5, 2, 7, 3, 0]).view([2, 5]);
        let text_len = Tensor::from_slice(&[5i64, 4]);
        let inputs = Inputs { image: &image, canvases: &canvases, text: &text, text_len: &text_len };
        let states = net.states(&inputs, false);
        // Two pictures of 4 patches and 8 object tokens each, 5 text tokens.
        assert_eq!(states.hidden.size(), [2, 2 * (4 + 8) + 5, 16]);
        assert_eq!(states.text_start, 24);
        // <bos> (id 2) is the third text token of the first example, the second of the other.
        assert_eq!(Vec::<i64>::try_from(&states.bos).unwrap(), [26, 25]);
        let picture = net.picture(&states, false) * 255.0;
        assert!(picture.round().to_kind(Kind::Uint8).equal(&image));
        // Changing the last text token changes no earlier state.
        let other = text.copy();
        let _ = other.get(0).get(4).fill_(9);
        let inputs = Inputs { image: &image, canvases: &canvases, text: &other, text_len: &text_len };
        let changed = net.states(&inputs, false);
        let before = states.hidden.narrow(1, 0, 28);
        assert!(changed.hidden.narrow(1, 0, 28).allclose(&before, 1e-6, 1e-6, false));
        assert!(!changed.hidden.narrow(1, 28, 1).allclose(&states.hidden.narrow(1, 28, 1), 1e-6, 1e-6, false));
    }

    #[test]
    fn the_text_after_cached_pictures_gets_the_states_of_the_whole_pass() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        // With a frame and rays, whose tokens come after the input's object tokens.
        let frame = vec![vec![0, 255, 0], vec![255, 0, 0]];
        let config = AgentConfig { gated_feedforward: true, object_frame: frame, rays: 4, ..small() };
        let net = AgentNet::new(&vs.root(), &config, 10, Kind::Float);
        let image = Tensor::randint(256, [2, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let canvases = Tensor::randint(256, [2, 2, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let text = Tensor::from_slice(&[4i64, 5, 2, 6, 3, 5, 2, 7, 3, 0]).view([2, 5]);
        let text_len = Tensor::from_slice(&[5i64, 4]);
        let _guard = tch::no_grad_guard();
        let pictures = net.pictures(&image, &canvases);
        let whole = net.states_after(&pictures, &text, &text_len, false);
        let cached = net.states_cached(&pictures, &net.prefix(&pictures), &text, &text_len);
        assert_eq!(cached.hidden.size(), [2, 3 * (4 + 8) + 4 + 5, 16]);
        assert_eq!(cached.hidden.size(), whole.hidden.size());
        assert!(cached.hidden.allclose(&whole.hidden, 1e-5, 1e-5, false));
        assert!(cached.bos.equal(&whole.bos) && cached.real.equal(&whole.real));
        assert!(net.picture(&cached, false).allclose(&net.picture(&whole, false), 1e-5, 1e-5, false));
    }

    #[test]
    fn a_copy_gate_draws_the_canvas_of_its_slot_and_false_leaves_the_gates_out() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &small(), 10, Kind::Float);
        let image = Tensor::randint(256, [2, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        // Oldest first: canvases[.., 0] was seen two steps before the input, [.., 1] one step.
        let canvases = Tensor::randint(256, [2, 2, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let text = Tensor::from_slice(&[4i64, 2, 6, 3]).view([2, 2]);
        let text_len = Tensor::from_slice(&[2i64, 2]);
        let inputs = Inputs { image: &image, canvases: &canvases, text: &text, text_len: &text_len };
        let draw = |gates: [f64; 2]| {
            let _guard = tch::no_grad_guard();
            let copy = net.copy.as_ref().unwrap();
            copy.bias.as_ref().unwrap().shallow_clone().copy_(&Tensor::from_slice(&gates).to_kind(Kind::Float));
            (net.picture(&net.states(&inputs, false), false) * 255.0).round().to_kind(Kind::Uint8)
        };
        assert!(draw([0.0, 0.0]).equal(&image));
        assert!(draw([1.0, 0.0]).equal(&canvases.select(1, 1)));
        assert!(draw([0.0, 1.0]).equal(&canvases.select(1, 0)));
        // Half of the last canvas and half of the input.
        let half = (image.to_kind(Kind::Float) + canvases.select(1, 1).to_kind(Kind::Float)) / 2.0;
        let drawn = draw([0.5, 0.0]).to_kind(Kind::Float);
        assert!((drawn - half).abs().max().double_value(&[]) <= 0.5 + 1e-4);
        // Without canvases the gates read nothing: the input again.
        let none = Tensor::zeros([2, 0, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let inputs = Inputs { image: &image, canvases: &none, text: &text, text_len: &text_len };
        assert!((net.picture(&net.states(&inputs, false), false) * 255.0).round().to_kind(Kind::Uint8).equal(&image));
        let vs = VarStore::new(Device::Cpu);
        let without = AgentNet::new(&vs.root(), &AgentConfig { decoder_copy: false, ..small() }, 10, Kind::Float);
        assert!(without.copy.is_none());
        assert!(!vs.variables().keys().any(|k| k.starts_with("decoder_copy")));
    }

    /// Sets the pixel head of `net` (`small()`'s: 2 channels, no frame) to one rule: hidden unit
    /// 0 is `20 r + bias` for the pixel's red in [-0.5, 0.5], and the out layer takes 0.2 of red
    /// per unit of it (a red pixel whose unit is 5 becomes black). What the patch writes is left
    /// out (its weights zero), so the rule is the same at every place.
    fn red_rule(net: &AgentNet, bias: f64) {
        let _guard = tch::no_grad_guard();
        let (channels, hidden, out) = net.pixel_head.as_ref().unwrap();
        let _ = channels.weight.shallow_clone().zero_();
        let w = Tensor::zeros([PIXEL_HIDDEN, 5], (Kind::Float, Device::Cpu));
        let _ = w.get(0).get(2).fill_(20.0);
        hidden.weight.shallow_clone().copy_(&w);
        let b = Tensor::zeros([PIXEL_HIDDEN], (Kind::Float, Device::Cpu));
        let _ = b.get(0).fill_(bias);
        hidden.bias.as_ref().unwrap().shallow_clone().copy_(&b);
        let w = Tensor::zeros([3, PIXEL_HIDDEN], (Kind::Float, Device::Cpu));
        let _ = w.get(0).get(0).fill_(-0.2);
        out.weight.shallow_clone().copy_(&w);
    }

    /// The picture `net` draws of an 8 px `image` (no canvases) for a prompt of two words.
    fn drawn(net: &AgentNet, image: &Tensor, words: [i64; 2]) -> Tensor {
        let canvases = Tensor::zeros([1, 0, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let (text, text_len) = (Tensor::from_slice(&words).view([1, 2]), Tensor::from_slice(&[2i64]));
        let inputs = Inputs { image, canvases: &canvases, text: &text, text_len: &text_len };
        (net.picture(&net.states(&inputs, false), false) * 255.0).round().to_kind(Kind::Uint8)
    }

    /// An 8 px picture with red pixels in two different patches (rows 0 and 6) and a green one.
    fn red_and_green() -> Tensor {
        let image = Tensor::zeros([1, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let _ = image.get(0).get(0).get(1).get(0).fill_(255);
        let _ = image.get(0).get(6).get(5).get(0).fill_(255);
        let _ = image.get(0).get(3).get(3).get(1).fill_(255);
        image
    }

    #[test]
    fn the_pixel_head_applies_one_colour_rule_at_every_place_and_zero_leaves_it_out() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &small(), 10, Kind::Float);
        // Red in [-0.5, 0.5]: 20 r - 5 is 5 for red, -15 for black.
        red_rule(&net, -5.0);
        let image = red_and_green();
        let canvases = Tensor::zeros([1, 0, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let text = Tensor::from_slice(&[4i64, 5]).view([1, 2]);
        let text_len = Tensor::from_slice(&[2i64]);
        let inputs = Inputs { image: &image, canvases: &canvases, text: &text, text_len: &text_len };
        let picture = (net.picture(&net.states(&inputs, false), false) * 255.0).round().to_kind(Kind::Uint8);
        let want = Tensor::zeros([1, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let _ = want.get(0).get(3).get(3).get(1).fill_(255);
        assert!(picture.equal(&want), "{picture}");
        let vs = VarStore::new(Device::Cpu);
        let none = AgentNet::new(&vs.root(), &AgentConfig { pixel_decoder: 0, ..small() }, 10, Kind::Float);
        assert!(none.pixel_head.is_none());
        assert!(!vs.variables().keys().any(|k| k.starts_with("pixel_head")));
    }

    #[test]
    fn the_prompts_words_reach_every_query_from_zero_and_only_those_before_bos() {
        tch::manual_seed(0);
        let (vs, mut plain) = (VarStore::new(Device::Cpu), VarStore::new(Device::Cpu));
        let net = AgentNet::new(&vs.root(), &AgentConfig { decoder_words: true, ..small() }, 10, Kind::Float);
        let without = AgentNet::new(&plain.root(), &small(), 10, Kind::Float);
        assert!(without.decoder_words.is_none() && !plain.variables().contains_key("decoder_words"));
        assert_eq!(net.decoder_words.as_ref().unwrap().size(), [10, small().d_model]);
        {
            // A decoder that writes something: the fresh one copies its input whatever it reads.
            let _guard = tch::no_grad_guard();
            let _ = net.patch_out.weight.shallow_clone().normal_(0.0, 0.5);
        }
        plain.copy(&vs).expect("the same variables but decoder_words");
        let image = red_and_green();
        let canvases = Tensor::zeros([1, 0, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let draw = |net: &AgentNet, words: &[i64]| {
            let text = Tensor::from_slice(words).view([1, words.len() as i64]);
            let text_len = Tensor::from_slice(&[words.len() as i64]);
            net.picture(
                &net.states(&Inputs { image: &image, canvases: &canvases, text: &text, text_len: &text_len }, false),
                false,
            )
        };
        // Prompt 4 5, then `<bos>` and the answer word 6.
        let asked = [4, 5, BOS_ID, 6];
        // At zero the table adds nothing.
        assert!(draw(&net, &asked).allclose(&draw(&without, &asked), 1e-6, 1e-6, false));
        let set = |word: i64| {
            let _guard = tch::no_grad_guard();
            let _ = net.decoder_words.as_ref().unwrap().get(word).normal_(0.0, 1.0);
        };
        // A row of a word after `<bos>` (the answer) is not read.
        set(6);
        assert!(draw(&net, &asked).allclose(&draw(&without, &asked), 1e-6, 1e-6, false));
        // A row of a prompt's word changes the picture of that prompt, and not of another.
        set(4);
        assert!(!draw(&net, &asked).allclose(&draw(&without, &asked), 1e-3, 1e-3, false));
        let other = [7, 5, BOS_ID, 6];
        assert!(draw(&net, &other).allclose(&draw(&without, &other), 1e-6, 1e-6, false));
    }

    #[test]
    fn the_pixel_prompt_switches_a_colour_rule_at_every_place_and_starts_at_zero() {
        tch::manual_seed(0);
        let (vs, mut plain) = (VarStore::new(Device::Cpu), VarStore::new(Device::Cpu));
        let net = AgentNet::new(&vs.root(), &AgentConfig { pixel_prompt: true, ..small() }, 10, Kind::Float);
        let without = AgentNet::new(&plain.root(), &small(), 10, Kind::Float);
        assert!(without.pixel_prompt.is_none());
        assert!(!plain.variables().keys().any(|k| k.starts_with("pixel_prompt")));
        let image = red_and_green();
        let draw = |net: &AgentNet, words: [i64; 2]| drawn(net, &image, words);
        // At zero it adds nothing: the same weights without it draw the same picture.
        plain.copy(&vs).expect("the same variables but pixel_prompt's");
        assert!(draw(&net, [4, 5]).equal(&draw(&without, [4, 5])));
        // 20 r - 15 is -5 on red, -25 on black: the rule fires only where the prompt's term,
        // here its bias of 10, lifts it.
        red_rule(&net, -15.0);
        {
            let _guard = tch::no_grad_guard();
            let prompt = net.pixel_prompt.as_ref().unwrap();
            let _ = prompt.bias.as_ref().unwrap().shallow_clone().get(0).fill_(10.0);
        }
        // The prompt's term lifts unit 0 by 10: red pixels become black at both places.
        let want = Tensor::zeros([1, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let _ = want.get(0).get(3).get(3).get(1).fill_(255);
        assert!(draw(&net, [4, 5]).equal(&want));
        {
            let _guard = tch::no_grad_guard();
            let _ = net.pixel_prompt.as_ref().unwrap().bias.as_ref().unwrap().shallow_clone().zero_();
        }
        // Without it the rule stays off everywhere: the input comes back.
        assert!(draw(&net, [4, 5]).equal(&image));
        // From the prompt's state: a term that differs between two prompts changes the picture
        // by prompt, never by place (both red pixels get the same change). The term is 10 at one
        // prompt's state and 0 at the other's, whatever the initialisation (the global seed is
        // shared with the tests running beside this one).
        {
            let _guard = tch::no_grad_guard();
            let asked = |words: [i64; 2]| {
                let canvases = Tensor::zeros([1, 0, 8, 8, 3], (Kind::Uint8, Device::Cpu));
                let (text, text_len) = (Tensor::from_slice(&words).view([1, 2]), Tensor::from_slice(&[2i64]));
                let inputs = Inputs { image: &image, canvases: &canvases, text: &text, text_len: &text_len };
                let states = net.states(&inputs, false);
                let d = states.hidden.size()[2];
                states.hidden.gather(1, &states.bos.view([1, 1, 1]).expand([1, 1, d], false), false).view([d])
            };
            let (a, b) = (asked([4, 5]), asked([6, 7]));
            let apart = &a - &b;
            let w = &apart * (10.0 / apart.dot(&apart).double_value(&[]));
            let prompt = net.pixel_prompt.as_ref().unwrap();
            prompt.weight.shallow_clone().get(0).copy_(&w);
            let _ = prompt.bias.as_ref().unwrap().shallow_clone().get(0).fill_(-w.dot(&b).double_value(&[]));
        }
        let (a, b) = (draw(&net, [4, 5]), draw(&net, [6, 7]));
        for picture in [&a, &b] {
            assert!(picture.get(0).get(0).get(1).equal(&picture.get(0).get(6).get(5)), "{picture}");
        }
        assert!(!a.equal(&b), "two prompts, one picture: {a}");
    }

    #[test]
    fn the_colour_rule_changes_one_colour_alike_everywhere_as_the_prompt_asks_and_starts_at_zero() {
        tch::manual_seed(0);
        let (vs, mut plain) = (VarStore::new(Device::Cpu), VarStore::new(Device::Cpu));
        let net = AgentNet::new(&vs.root(), &AgentConfig { colour_rule: true, ..small() }, 10, Kind::Float);
        let without = AgentNet::new(&plain.root(), &small(), 10, Kind::Float);
        assert!(without.colour_rule.is_none());
        assert!(!plain.variables().keys().any(|k| k.starts_with("colour_rule")));
        // Red pixels in two patches; one of them also filled with green but for its red pixel:
        // the patch's state differs, the rule must not.
        let image = red_and_green();
        let _ = image.get(0).narrow(0, 4, 4).narrow(1, 4, 4).select(2, 1).fill_(255);
        let _ = image.get(0).get(6).get(5).get(1).fill_(0);
        let draw = |net: &AgentNet, words: [i64; 2]| drawn(net, &image, words);
        // At zero it adds nothing: the same weights without it draw the same picture.
        plain.copy(&vs).expect("the same variables but the colour rule's");
        assert!(draw(&net, [4, 5]).equal(&draw(&without, [4, 5])));
        // The rest of the decoder silent (a copy of the input), the rule's unit 0: its gate is
        // 40 r - 10 plus the prompt's term, zero here (10 on red, -30 on the others), its value
        // 1, its output -0.1 on red's channel: red becomes black.
        {
            let _guard = tch::no_grad_guard();
            let _ = net.patch_out.weight.shallow_clone().zero_();
            let _ = net.patch_out.bias.as_ref().unwrap().shallow_clone().zero_();
            let _ = net.pixel_head.as_ref().unwrap().2.weight.shallow_clone().zero_();
            let (colour, prompt, out) = net.colour_rule.as_ref().unwrap();
            let w = Tensor::zeros([2 * COLOUR_RULE_HIDDEN, 3], (Kind::Float, Device::Cpu));
            let _ = w.get(0).get(0).fill_(40.0);
            colour.weight.shallow_clone().copy_(&w);
            let b = Tensor::zeros([2 * COLOUR_RULE_HIDDEN], (Kind::Float, Device::Cpu));
            let _ = b.get(0).fill_(-10.0);
            let _ = b.get(COLOUR_RULE_HIDDEN).fill_(1.0);
            colour.bias.as_ref().unwrap().shallow_clone().copy_(&b);
            let _ = prompt.weight.shallow_clone().zero_();
            let w = Tensor::zeros([3, COLOUR_RULE_HIDDEN], (Kind::Float, Device::Cpu));
            let _ = w.get(0).get(0).fill_(-0.1);
            out.weight.shallow_clone().copy_(&w);
        }
        let want = image.copy();
        let _ = want.get(0).get(0).get(1).get(0).fill_(0);
        let _ = want.get(0).get(6).get(5).get(0).fill_(0);
        assert!(draw(&net, [4, 5]).equal(&want));
        // The prompt sets it: with the gate at 3 on red (-37 on the others) plus a term that
        // differs between two prompts, the picture changes by prompt, never by place (both red
        // pixels get the same change, in a green patch or not).
        {
            let _guard = tch::no_grad_guard();
            let (colour, prompt, _) = net.colour_rule.as_ref().unwrap();
            let d = prompt.weight.size()[1];
            prompt.weight.shallow_clone().get(0).copy_(&Tensor::linspace(-0.5, 0.5, d, (Kind::Float, Device::Cpu)));
            let _ = colour.bias.as_ref().unwrap().shallow_clone().get(0).fill_(-17.0);
        }
        let (a, b) = (draw(&net, [4, 5]), draw(&net, [6, 7]));
        for picture in [&a, &b] {
            assert!(picture.get(0).get(0).get(1).equal(&picture.get(0).get(6).get(5)), "{picture}");
            assert!(picture.get(0).get(5).get(5).equal(&image.get(0).get(5).get(5)), "{picture}");
        }
        assert!(!a.equal(&b), "two prompts, one picture: {a}");
    }

    #[test]
    fn the_pixel_summary_sees_where_a_single_pixel_is_and_zero_leaves_it_out() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &small(), 10, Kind::Float);
        {
            // Channel 0 answers bright pixels, more so to the right; channel 1 the same upwards.
            let _guard = tch::no_grad_guard();
            let (first, second) = net.pixels.as_ref().unwrap();
            let w = Tensor::zeros([4, 5], (Kind::Float, Device::Cpu));
            w.get(0).copy_(&Tensor::from_slice(&[2.0f32, 2.0, 2.0, 1.0, 0.0]));
            w.get(1).copy_(&Tensor::from_slice(&[2.0f32, 2.0, 2.0, 0.0, 1.0]));
            first.weight.shallow_clone().copy_(&w);
            second.weight.shallow_clone().copy_(&Tensor::eye(4, (Kind::Float, Device::Cpu)));
        }
        let black = Tensor::zeros([1, 8, 8, 3], (Kind::Uint8, Device::Cpu));
        let (a, b) = (black.copy(), black.copy());
        let _ = a.get(0).get(1).get(2).fill_(255); // row 1 (near the top), column 2
        let _ = b.get(0).get(6).get(5).fill_(255); // row 6, column 5: right of and below a
        let (za, zb) = (net.summary(&a).unwrap(), net.summary(&b).unwrap());
        assert_eq!(za.size(), [1, 4]);
        let (dx, dy) =
            (zb.double_value(&[0, 0]) - za.double_value(&[0, 0]), zb.double_value(&[0, 1]) - za.double_value(&[0, 1]));
        assert!(dx > 0.1 && dy < -0.1, "{dx} {dy}");
        // The same pixel in the same place gives the same summary in another batch row.
        let both = Tensor::cat(&[&a, &b], 0);
        assert!(net.summary(&both).unwrap().get(0).allclose(&za.get(0), 1e-6, 1e-6, false));
        let vs = VarStore::new(Device::Cpu);
        let none = AgentNet::new(&vs.root(), &AgentConfig { pixel_summary: 0, ..small() }, 10, Kind::Float);
        assert!(none.summary(&a).is_none());
        assert!(vs.variables().keys().all(|k| !k.contains("pixels") && !k.contains("film")));
    }

    #[test]
    fn an_object_token_holds_the_place_of_the_few_pixels_nearest_its_colour() {
        tch::manual_seed(0);
        let config = AgentConfig { image_size: 24, patch_size: 8, ..small() };
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &config, 10, Kind::Float);
        // Eight prototypes: the corners of the colour cube, black first, white last.
        let corners = colour_lattice(8) + 0.5;
        assert_eq!(Vec::<f32>::try_from(corners.get(4)).unwrap(), [1.0, 0.0, 0.0]);
        assert_eq!(Vec::<f32>::try_from(corners.get(7)).unwrap(), [1.0, 1.0, 1.0]);
        // A white picture with two gold-coloured pixels near the top right, and a black square
        // at the bottom left.
        let picture = Tensor::full([1, 24, 24, 3], 255, (Kind::Uint8, Device::Cpu));
        for (row, col) in [(2, 20), (3, 20)] {
            picture.get(0).get(row).get(col).copy_(&Tensor::from_slice(&[255u8, 200, 0]));
        }
        let _ = picture.get(0).narrow(0, 18, 4).narrow(1, 2, 4).fill_(0);
        let features = net.object_features(net.objects.as_ref().unwrap(), &picture);
        assert_eq!(features.size(), [1, 8, 5]);
        let (x, y) = (features.select(2, 0), features.select(2, 1));
        // The yellow corner (red + green, index 6) finds the gold: column 20.5 of 24, rows 2.5 and
        // 3.5 from the top; black (index 0) the square's centre; white the rest, near the middle.
        let at = |t: &Tensor, k: i64| t.double_value(&[0, k]);
        assert!((at(&x, 6) - (20.5 / 12.0 - 1.0)).abs() < 1e-3, "{}", at(&x, 6));
        assert!((at(&y, 6) - (1.0 - 3.0 / 12.0)).abs() < 1e-3, "{}", at(&y, 6));
        assert!((at(&x, 0) - (4.0 / 12.0 - 1.0)).abs() < 1e-3 && (at(&y, 0) - (1.0 - 20.0 / 12.0)).abs() < 1e-3);
        assert!(at(&x, 7).abs() < 0.1 && at(&y, 7).abs() < 0.1);
        // The model's tokens: the gold's token changes when the gold moves, and sits after the
        // picture's patches, before the text.
        let (tokens, _) = net.object_tokens(&picture).unwrap();
        assert_eq!(tokens.size(), [1, 8, 16]);
        let moved = Tensor::full([1, 24, 24, 3], 255, (Kind::Uint8, Device::Cpu));
        moved.get(0).get(20).get(3).copy_(&Tensor::from_slice(&[255u8, 200, 0]));
        let _ = moved.get(0).narrow(0, 18, 4).narrow(1, 2, 4).fill_(0);
        let (other, _) = net.object_tokens(&moved).unwrap();
        assert!(!other.get(0).get(6).allclose(&tokens.get(0).get(6), 1e-3, 1e-3, false));
        assert!(other.get(0).get(0).allclose(&tokens.get(0).get(0), 1e-4, 1e-4, false));
        assert_eq!(config.text_start(1), 2 * (9 + 8));
        let vs = VarStore::new(Device::Cpu);
        let none = AgentNet::new(&vs.root(), &AgentConfig { object_tokens: 0, ..config }, 10, Kind::Float);
        assert!(none.object_tokens(&picture).is_none());
        assert!(vs.variables().keys().all(|k| !k.contains("objects")));
    }

    #[test]
    fn rays_run_from_the_agent_until_a_wall_stops_them_turning_with_its_heading() {
        tch::manual_seed(0);
        let frame = vec![vec![0, 255, 0], vec![255, 0, 0]];
        let config = AgentConfig { image_size: 48, patch_size: 8, object_frame: frame, rays: 4, ..small() };
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &config, 10, Kind::Float);
        // A white picture: a green square (rows and columns 22..26, its centre the picture's), a
        // red eye beside it, a black wall down the right (columns 38..) and one along the top
        // (rows ..6).
        let scene = |eye: (i64, i64, i64, i64)| {
            let picture = Tensor::full([1, 48, 48, 3], 255, (Kind::Uint8, Device::Cpu));
            let green = Tensor::from_slice(&[0u8, 255, 0]).view([1, 1, 3]);
            picture.get(0).narrow(0, 22, 4).narrow(1, 22, 4).copy_(&green.expand([4, 4, 3], false));
            let (row, rows, col, cols) = eye;
            let red = Tensor::from_slice(&[255u8, 0, 0]).view([1, 1, 3]);
            picture.get(0).narrow(0, row, rows).narrow(1, col, cols).copy_(&red.expand([rows, cols, 3], false));
            let _ = picture.get(0).narrow(1, 38, 10).fill_(0);
            let _ = picture.get(0).narrow(0, 0, 6).fill_(0);
            picture
        };
        let lengths = |picture: &Tensor| {
            let (_, features) = net.object_tokens(picture).unwrap();
            Vec::<f64>::try_from(net.ray_lengths(net.rays.as_ref().unwrap(), &features, picture).get(0)).unwrap()
        };
        // From the centre, [-1, 1] units: the right wall starts 14 of 24 pixels away (0.583), the
        // top one 18 (0.75); left and down the rays run out of the picture (the edge's white
        // continues) to the end of their samples.
        let (right, top, open) = (14.0 / 24.0, 18.0 / 24.0, (8f64.sqrt() / RAY_STEP).ceil() * RAY_STEP);
        let near = |got: &[f64], want: [f64; 4]| got.iter().zip(want).all(|(g, w)| (g - w).abs() < RAY_STEP * 1.5);
        // Facing right (the eye right of the square): ray 0 ahead, then anticlockwise.
        let facing_right = lengths(&scene((23, 2, 26, 1)));
        assert!(near(&facing_right, [right, top, open, open]), "{facing_right:?}");
        // Facing up: the top wall ahead, the right one three quarter turns anticlockwise.
        let facing_up = lengths(&scene((21, 1, 23, 2)));
        assert!(near(&facing_up, [top, open, open, right]), "{facing_up:?}");
        // The ray tokens come after the input's object tokens, before the text.
        assert_eq!(config.text_start(0), 36 + 8 + 4);
        let image = scene((23, 2, 26, 1));
        let canvases = Tensor::zeros([1, 0, 48, 48, 3], (Kind::Uint8, Device::Cpu));
        let pictures = net.pictures(&image, &canvases);
        assert_eq!(pictures.tokens.size(), [1, 36 + 8 + 4, 16]);
        let rays = net.ray_tokens(&net.object_tokens(&image).unwrap().1, &image).unwrap();
        assert!(pictures.tokens.narrow(1, 44, 4).allclose(&rays, 1e-6, 1e-6, false));
        assert!(vs.variables().contains_key("rays.id") && vs.variables()["rays.id"].size() == [4, 16]);
    }

    #[test]
    fn a_frame_gives_every_object_token_its_place_along_and_across_the_pointer() {
        tch::manual_seed(0);
        let frame = vec![vec![0, 255, 0], vec![255, 0, 0]];
        let config = AgentConfig { image_size: 24, patch_size: 8, object_frame: frame, ..small() };
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &config, 10, Kind::Float);
        let objects = net.objects.as_ref().unwrap();
        // The 8 corners of the colour cube: green is 2, red 4, yellow 6.
        assert_eq!(objects.frame, Some((2, 4)));
        // A green square (rows and columns 10..14) with a red eye on one side, and a gold pixel
        // at the top, above the square's middle.
        let scene = |eye: (i64, i64, i64, i64)| {
            let picture = Tensor::full([1, 24, 24, 3], 255, (Kind::Uint8, Device::Cpu));
            let green = Tensor::from_slice(&[0u8, 255, 0]);
            picture.get(0).narrow(0, 10, 4).narrow(1, 10, 4).copy_(&green.view([1, 1, 3]).expand([4, 4, 3], false));
            let (row, rows, col, cols) = eye;
            let _ = picture.get(0).narrow(0, row, rows).narrow(1, col, cols).select(2, 1).fill_(0);
            let _ = picture.get(0).narrow(0, row, rows).narrow(1, col, cols).select(2, 0).fill_(255);
            picture.get(0).get(2).get(12).copy_(&Tensor::from_slice(&[255u8, 200, 0]));
            net.object_features(objects, &picture)
        };
        let at = |f: &Tensor, k: i64, i: i64| f.double_value(&[0, k, i]);
        // Facing right (the eye on the square's right edge): the gold is to the left, not ahead.
        let right = scene((11, 2, 13, 1));
        assert_eq!(right.size(), [1, 8, 12]);
        let (along, across, ux, uy) = (at(&right, 6, 7), at(&right, 6, 8), at(&right, 6, 10), at(&right, 6, 11));
        assert!(across > 0.5 && along.abs() < 0.2 && (ux - 1.0).abs() < 1e-3 && uy.abs() < 1e-3, "{right}");
        // Its place relative to the anchor: up, by 9 and a bit rows of 12 per unit.
        assert!(at(&right, 6, 6) > 0.7 && at(&right, 6, 9) > 0.7);
        // Facing up (the eye on the top edge): the gold is straight ahead.
        let up = scene((10, 1, 11, 2));
        let (along, across) = (at(&up, 6, 7), at(&up, 6, 8));
        assert!(along > 0.5 && across.abs() < 0.1, "{up}");
        // The anchor's own place relative to itself is zero.
        assert!(at(&up, 2, 5).abs() < 1e-6 && at(&up, 2, 6).abs() < 1e-6);
    }

    #[test]
    fn instance_tokens_hold_the_nearest_piece_of_a_colour_and_the_next() {
        tch::manual_seed(0);
        let frame = vec![vec![0, 255, 0], vec![255, 0, 0]];
        let gold = vec![vec![255, 200, 0]];
        let config =
            AgentConfig { image_size: 24, patch_size: 8, object_frame: frame, object_instances: gold, ..small() };
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &config, 10, Kind::Float);
        // The agent of `agent_facing_gold` (centre at rows and columns 10..14, facing up), a gold
        // pixel straight ahead at row 2, column 12, and in `two` another at row 13, column 18:
        // right of the agent and nearer it.
        let one = agent_facing_gold();
        let two = agent_facing_gold();
        two.get(0).get(13).get(18).copy_(&Tensor::from_slice(&[255u8, 200, 0]));
        let features = |picture: &Tensor| {
            let (_, objects) = net.object_tokens(picture).unwrap();
            let f = net.instance_features(
                net.instances.as_ref().unwrap(),
                net.objects.as_ref().unwrap(),
                picture,
                &objects,
            );
            (objects, f)
        };
        let at = |f: &Tensor, k: i64, i: i64| f.double_value(&[0, k, i]);
        // Pixel centres in [-1, 1]: column c at (c + 0.5) / 12 - 1, row r at 1 - (r + 0.5) / 12.
        let (ahead, right) = ((12.5 / 12.0 - 1.0, 1.0 - 2.5 / 12.0), (18.5 / 12.0 - 1.0, 1.0 - 13.5 / 12.0));
        let close = |f: &Tensor, k: i64, want: (f64, f64)| {
            (at(f, k, 0) - want.0).abs() < 0.02 && (at(f, k, 1) - want.1).abs() < 0.02
        };
        let (objects, two_f) = features(&two);
        assert_eq!(two_f.size(), [1, 2, 12]);
        // The yellow object token (6 of the cube's 8 corners) holds the mean of the two places;
        // the instances hold each piece, the nearer first, and both are present.
        let mean = ((ahead.0 + right.0) / 2.0, (ahead.1 + right.1) / 2.0);
        assert!(close(&objects, 6, mean), "{objects}");
        assert!(close(&two_f, 0, right) && close(&two_f, 1, ahead), "{two_f}");
        let present = at(&objects, 6, 4);
        assert!(present > 0.5 && at(&two_f, 0, 4) == present && at(&two_f, 1, 4) == present);
        // In the agent's frame the nearer piece is to the right (across < 0), the other ahead.
        assert!(at(&two_f, 0, 8) < -0.5 && at(&two_f, 1, 7) > 0.5 && at(&two_f, 1, 8).abs() < 0.1, "{two_f}");
        // One piece: the first instance is it, the second repeats it with presence zero.
        let (_, one_f) = features(&one);
        assert!(close(&one_f, 0, ahead) && close(&one_f, 1, ahead) && at(&one_f, 1, 4) == 0.0, "{one_f}");
        // The instance tokens come after the input's object tokens, before the text.
        assert_eq!(config.text_start(0), 9 + 8 + 2);
        let canvases = Tensor::zeros([1, 0, 24, 24, 3], (Kind::Uint8, Device::Cpu));
        let pictures = net.pictures(&two, &canvases);
        assert_eq!(pictures.tokens.size(), [1, 9 + 8 + 2, 16]);
        let tokens = net.instance_tokens(&two, &objects).unwrap();
        assert!(pictures.tokens.narrow(1, 17, 2).allclose(&tokens, 1e-6, 1e-6, false));
        // Gradients reach the gold's prototype through the instances.
        tokens.square().sum(Kind::Float).backward();
        let gradient = vs.variables()["objects.prototype"].grad();
        assert!(gradient.get(6).abs().sum(Kind::Float).double_value(&[]) > 0.0);
        assert!(vs.variables()["instances.id"].size() == [2, 16]);
    }

    /// A 24 px picture: a green square (rows and columns 10..14) facing up (its red eye on the top
    /// edge), and a gold pixel straight ahead at row 2, column 12.
    fn agent_facing_gold() -> Tensor {
        let picture = Tensor::full([1, 24, 24, 3], 255, (Kind::Uint8, Device::Cpu));
        let green = Tensor::from_slice(&[0u8, 255, 0]);
        picture.get(0).narrow(0, 10, 4).narrow(1, 10, 4).copy_(&green.view([1, 1, 3]).expand([4, 4, 3], false));
        let red = Tensor::from_slice(&[255u8, 0, 0]).view([1, 1, 3]);
        picture.get(0).narrow(0, 10, 1).narrow(1, 11, 2).copy_(&red);
        picture.get(0).get(2).get(12).copy_(&Tensor::from_slice(&[255u8, 200, 0]));
        picture
    }

    #[test]
    fn a_pixel_frame_places_every_pixel_on_the_way_from_the_anchor_to_each_token() {
        tch::manual_seed(0);
        let frame = vec![vec![0, 255, 0], vec![255, 0, 0]];
        let config = AgentConfig {
            image_size: 24,
            patch_size: 8,
            object_frame: frame,
            pixel_decoder: 2,
            pixel_frame: true,
            ..small()
        };
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &config, 10, Kind::Float);
        let picture = agent_facing_gold();
        let features = net.object_features(net.objects.as_ref().unwrap(), &picture);
        let places = net.pixel_frame(&features);
        let k = 8;
        assert_eq!(places.size(), [1, 9, 64, 5 * k]);
        // Pixel (row, col) sits in patch (row / 8) * 3 + col / 8 at (row % 8) * 8 + col % 8.
        let at = |row: i64, col: i64, feature: i64, token: i64| {
            places.double_value(&[0, (row / 8) * 3 + col / 8, (row % 8) * 8 + col % 8, feature * k + token])
                / FRAME_GAIN
        };
        let gold = 6;
        // At the gold: on the line to it (within a pixel: tanh(1 / 4) = 0.24), at its end.
        let (across, past, fraction) = (at(2, 12, 1, gold), at(2, 12, 2, gold), at(2, 12, 4, gold));
        assert!(across.abs() < 0.2 && past.abs() < 0.2 && (fraction - 1.0).abs() < 0.05, "{across} {past} {fraction}");
        // Halfway up: half the way there, at the midpoint, on the line; to the side of it (8 px):
        // across, squashed near -1, not along.
        let (across, middle, fraction) = (at(7, 12, 1, gold), at(7, 12, 3, gold), at(7, 12, 4, gold));
        assert!(across.abs() < 0.3 && middle.abs() < 0.3 && (fraction - 0.5).abs() < 0.1, "{across} {fraction}");
        assert!(at(7, 20, 1, gold) < -0.9 && (at(7, 20, 4, gold) - 0.5).abs() < 0.15);
        // Past the gold, above it (2 px): past > 0, and every feature is bounded however near the
        // anchor a token lies (the anchor's own direction is no direction).
        assert!(at(0, 12, 2, gold) > 0.3);
        assert!(places.abs().max().double_value(&[]) <= FRAME_MAX_FRACTION * FRAME_GAIN);
        // The decoder reads the places, and a fresh one still copies its input.
        let text = Tensor::from_slice(&[BOS_ID, 4]).view([1, 2]);
        let canvases = Tensor::zeros([1, 0, 24, 24, 3], (Kind::Uint8, Device::Cpu));
        let inputs =
            Inputs { image: &picture, canvases: &canvases, text: &text, text_len: &Tensor::from_slice(&[2i64]) };
        let drawn = net.picture(&net.states(&inputs, false), false);
        assert!(drawn.allclose(&(picture.to_kind(Kind::Float) / 255.0), 1e-5, 1e-5, false));
        // Every gradient through the places is finite (the anchor's own distance is zero).
        let head = net.pixel_head.as_ref().unwrap();
        // The places' weights start at zero; a trained head reads them.
        let _ = head.1.weight.shallow_clone().requires_grad_(false).fill_(0.1);
        let _ = head.2.weight.shallow_clone().requires_grad_(false).fill_(0.1);
        let loss = net.picture(&net.states(&inputs, true), true).square().mean(Kind::Float);
        loss.backward();
        let gradient = vs.variables()["objects.prototype"].grad();
        assert!(gradient.defined() && gradient.isfinite().all().int64_value(&[]) == 1, "{gradient}");
        assert!(gradient.abs().sum(Kind::Float).double_value(&[]) > 0.0);
        let hidden = vs.variables()["pixel_head.hidden.weight"].size();
        assert_eq!(hidden, [2 * PIXEL_HIDDEN, 2 + 3 + 5 * k]);
    }

    #[test]
    fn a_patch_frame_places_every_input_patch_on_the_way_to_each_token_and_starts_at_zero() {
        tch::manual_seed(0);
        let frame = vec![vec![0, 255, 0], vec![255, 0, 0]];
        let config = AgentConfig { image_size: 24, patch_size: 8, object_frame: frame, patch_frame: true, ..small() };
        let vs = VarStore::new(Device::Cpu);
        let net = AgentNet::new(&vs.root(), &config, 10, Kind::Float);
        // In patches of 8: the agent in the middle patch, the gold in the top middle one.
        let picture = agent_facing_gold();
        let features = net.object_features(net.objects.as_ref().unwrap(), &picture);
        let places = net.patch_frame(&features);
        let k = 8;
        assert_eq!(places.size(), [1, 9, 5 * k]);
        let at = |patch: i64, feature: i64, token: i64| places.double_value(&[0, patch, feature * k + token]);
        let gold = 6;
        // The top middle patch (1) holds the gold: on the way to it, near its end; the top left
        // patch (0) lies to the left of the way (across > 0), the bottom middle one (7) behind.
        assert!(at(1, 1, gold).abs() < 0.1 && (at(1, 4, gold) - 1.0).abs() < 0.3, "{places}");
        assert!(at(0, 1, gold) > 0.3 && at(7, 4, gold) < -0.3);
        assert!(places.abs().max().double_value(&[]) <= FRAME_MAX_FRACTION);
        // Its output layer starts at zero: a fresh model's patch tokens are those without it.
        let patches = net.patchify(&picture);
        let canvases = Tensor::zeros([1, 0, 24, 24, 3], (Kind::Uint8, Device::Cpu));
        let pictures = net.pictures(&picture, &canvases);
        assert!(pictures.queries.allclose(&net.picture_tokens(&patches, 0), 1e-6, 1e-6, false));
        // Once the output layer is trained, the places move the patch tokens and the gradient
        // reaches the MLP's first layer and the object prototypes (finite at the anchor).
        let (hidden, out) = net.patch_frame.as_ref().unwrap();
        let _ = out.weight.shallow_clone().requires_grad_(false).fill_(0.1);
        let text = Tensor::from_slice(&[BOS_ID, 4]).view([1, 2]);
        let inputs =
            Inputs { image: &picture, canvases: &canvases, text: &text, text_len: &Tensor::from_slice(&[2i64]) };
        let states = net.states(&inputs, true);
        net.logits(&states.hidden.narrow(1, states.text_start, 2)).square().mean(Kind::Float).backward();
        for gradient in [hidden.weight.grad(), vs.variables()["objects.prototype"].grad()] {
            assert!(gradient.defined() && gradient.isfinite().all().int64_value(&[]) == 1, "{gradient}");
            assert!(gradient.abs().sum(Kind::Float).double_value(&[]) > 0.0);
        }
        assert_eq!(vs.variables()["patch_frame.hidden.weight"].size(), [PATCH_FRAME_HIDDEN, 5 * k]);
    }
}
