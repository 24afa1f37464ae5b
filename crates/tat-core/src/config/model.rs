//! The `[model]` section (and `[baseline]`): `architecture` picks the model, and each
//! architecture takes only its own keys.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::report::INNER_PATH;

/// A model section. `architecture` names the variant; absent, it is `transformer`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "architecture", rename_all = "snake_case")]
#[schemars(transform = transformer_tag_is_optional)]
pub enum ModelConfig {
    /// Encoder-decoder transformer.
    Transformer(TransformerConfig),
    /// Local encoder, learned identity-addressed memory and CTC output slots (`model::binder`).
    Binder(BinderConfig),
    /// Recurrent ±1 network trained by local perceptron rules (`tasks::bionet`).
    Bionet(BionetConfig),
    /// Bidirectional transformer that predicts masked tokens (`tasks::diffusion`).
    DiffusionLm(DiffusionLmConfig),
    /// Hypernetworks writing per-sample low-rank changes into a frozen `diffusion_lm`
    /// (`model::feedback`).
    Feedback(FeedbackLmConfig),
    /// Patch encoder, causal transformer over pictures and text, text head and picture decoder
    /// (`tasks::agent`).
    Agent(AgentConfig),
}

/// The name of a model section's architecture, as `architecture = "..."` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    Transformer,
    Binder,
    Bionet,
    DiffusionLm,
    Feedback,
    Agent,
}

impl Architecture {
    pub const ALL: [Architecture; 6] = [
        Architecture::Transformer,
        Architecture::Binder,
        Architecture::Bionet,
        Architecture::DiffusionLm,
        Architecture::Feedback,
        Architecture::Agent,
    ];
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Architecture::Transformer => "transformer",
            Architecture::Binder => "binder",
            Architecture::Bionet => "bionet",
            Architecture::DiffusionLm => "diffusion_lm",
            Architecture::Feedback => "feedback",
            Architecture::Agent => "agent",
        })
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::Transformer(TransformerConfig::default())
    }
}

impl ModelConfig {
    pub fn architecture(&self) -> Architecture {
        match self {
            ModelConfig::Transformer(_) => Architecture::Transformer,
            ModelConfig::Binder(_) => Architecture::Binder,
            ModelConfig::Bionet(_) => Architecture::Bionet,
            ModelConfig::DiffusionLm(_) => Architecture::DiffusionLm,
            ModelConfig::Feedback(_) => Architecture::Feedback,
            ModelConfig::Agent(_) => Architecture::Agent,
        }
    }

    /// Longest prompt or target in tokens, for a text model.
    pub fn max_seq_len(&self) -> Option<i64> {
        match self {
            ModelConfig::Transformer(c) => Some(c.max_seq_len),
            ModelConfig::Binder(c) => Some(c.max_seq_len),
            ModelConfig::Bionet(_) | ModelConfig::DiffusionLm(_) | ModelConfig::Feedback(_) | ModelConfig::Agent(_) => {
                None
            }
        }
    }

    /// The size in a few words: `transformer d_model 512 x 6 layers`, `bionet [100, 256, 10]`.
    pub fn size(&self) -> String {
        match self {
            ModelConfig::Transformer(c) => format!("transformer d_model {} x {} layers", c.d_model, c.num_layers),
            ModelConfig::Binder(c) => format!("binder d_model {} x {} layers", c.d_model, c.num_layers),
            ModelConfig::Bionet(c) => format!("bionet {:?}", c.layers),
            ModelConfig::DiffusionLm(c) => format!("diffusion_lm d_model {} x {} layers", c.d_model, c.num_layers),
            ModelConfig::Feedback(c) => format!(
                "feedback ({:?}, rank {}) on d_model {} x {} layers",
                c.variant, c.rank, c.d_model, c.num_layers
            )
            .to_lowercase(),
            ModelConfig::Agent(c) => format!(
                "agent d_model {} x {} layers, {} px in patches of {}",
                c.d_model, c.num_layers, c.image_size, c.patch_size
            ),
        }
    }

    /// The masked-diffusion model: the section itself, or the frozen base of a feedback section.
    pub fn diffusion_lm(&self) -> Option<DiffusionLmConfig> {
        match self {
            ModelConfig::DiffusionLm(c) => Some(c.clone()),
            ModelConfig::Feedback(c) => Some(c.base()),
            _ => None,
        }
    }

    pub fn feedback(&self) -> Option<&FeedbackLmConfig> {
        match self {
            ModelConfig::Feedback(c) => Some(c),
            _ => None,
        }
    }

    pub fn agent(&self) -> Option<&AgentConfig> {
        match self {
            ModelConfig::Agent(c) => Some(c),
            _ => None,
        }
    }

    pub fn bionet(&self) -> Option<&BionetConfig> {
        match self {
            ModelConfig::Bionet(c) => Some(c),
            _ => None,
        }
    }

    /// The keys a section of `architecture` takes (besides `architecture`), in file order.
    pub fn keys(architecture: Architecture) -> Vec<String> {
        let section = match architecture {
            Architecture::Transformer => ModelConfig::Transformer(TransformerConfig::default()),
            Architecture::Binder => ModelConfig::Binder(BinderConfig::default()),
            Architecture::Bionet => ModelConfig::Bionet(BionetConfig::default()),
            Architecture::DiffusionLm => ModelConfig::DiffusionLm(DiffusionLmConfig::default()),
            Architecture::Feedback => ModelConfig::Feedback(FeedbackLmConfig::default()),
            Architecture::Agent => ModelConfig::Agent(AgentConfig::default()),
        };
        let table = toml::Table::try_from(section).expect("a model section converts to a TOML table");
        table.keys().filter(|k| *k != "architecture").cloned().collect()
    }

    /// Range checks of the section, which the config calls `section` (`model`, `baseline`).
    pub(super) fn issues(&self, section: &str, check: &mut dyn FnMut(bool, &str, String, &str)) {
        match self {
            ModelConfig::Transformer(c) => {
                sequence_issues(
                    section,
                    c.d_model,
                    c.nhead,
                    c.num_layers,
                    c.dim_feedforward,
                    c.dropout,
                    Some(c.max_seq_len),
                    check,
                );
                share_issue(section, "target_noise", c.target_noise, "0.1", check);
            }
            ModelConfig::Feedback(c) => {
                ModelConfig::DiffusionLm(c.base()).issues(section, check);
                check(c.rank > 0, &format!("{section}.rank"), c.rank.to_string(), "a positive integer such as 4");
                check(c.alpha > 0.0, &format!("{section}.alpha"), c.alpha.to_string(), "a positive number such as 1.0");
            }
            ModelConfig::DiffusionLm(c) => {
                sequence_issues(section, c.d_model, c.nhead, c.num_layers, c.dim_feedforward, c.dropout, None, check);
                let head = c.d_model / c.nhead.max(1);
                check(
                    head % 2 == 0,
                    &format!("{section}.nhead"),
                    c.nhead.to_string(),
                    &format!(
                        "a divisor of d_model ({}) that leaves an even head width for the rotary embedding",
                        c.d_model
                    ),
                );
                check(
                    c.rope_base > 1.0,
                    &format!("{section}.rope_base"),
                    c.rope_base.to_string(),
                    "a number > 1 such as 10000",
                );
            }
            ModelConfig::Binder(c) => {
                sequence_issues(
                    section,
                    c.d_model,
                    c.nhead,
                    c.num_layers,
                    c.dim_feedforward,
                    c.dropout,
                    Some(c.max_seq_len),
                    check,
                );
                check(c.window > 0, &format!("{section}.window"), c.window.to_string(), "a positive integer such as 4");
                check(c.slots > 0, &format!("{section}.slots"), c.slots.to_string(), "a positive integer such as 8");
                share_issue(section, "word_dropout", c.word_dropout, "0.5", check);
            }
            ModelConfig::Agent(c) => c.issues(section, check),
            ModelConfig::Bionet(_) => {} // the bionet task checks its own section
        }
    }
}

/// A config written before model sections were tagged by architecture (a checkpoint's
/// `config.toml`) lists every architecture's keys in `[model]` and `[baseline]`: this drops the
/// keys foreign to each section's architecture, so that such a checkpoint loads as it was
/// trained. Other text comes back unchanged.
pub fn drop_foreign_model_keys(text: &str) -> std::borrow::Cow<'_, str> {
    let Ok(mut root) = toml::from_str::<toml::Table>(text) else { return text.into() };
    let mut dropped = false;
    for name in ["model", "baseline"] {
        let Some(toml::Value::Table(section)) = root.get_mut(name) else { continue };
        let architecture = match section.get("architecture") {
            None => Architecture::Transformer,
            Some(value) => match Architecture::deserialize(value.clone()) {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let keys = ModelConfig::keys(architecture);
        let before = section.len();
        section.retain(|key, _| key == "architecture" || keys.iter().any(|k| k == key));
        dropped |= section.len() != before;
    }
    if dropped {
        toml::to_string(&root).expect("a TOML table serialises").into()
    } else {
        text.into()
    }
}

/// The largest sizes a sequence model's config may ask for: beyond them a model of this tool
/// would not fit a machine's memory, and the allocation would fail while the model is built.
const MAX_WIDTH: i64 = 1 << 16;
const MAX_LAYERS: i64 = 1024;
const MAX_FEEDFORWARD: i64 = 1 << 20;
const MAX_SEQ_LEN: i64 = 1 << 16;

/// A share of the section, such as a dropout rate, must lie in [0, 1).
fn share_issue(section: &str, key: &str, value: f64, example: &str, check: &mut dyn FnMut(bool, &str, String, &str)) {
    check(
        (0.0..1.0).contains(&value),
        &format!("{section}.{key}"),
        value.to_string(),
        &format!("a number in [0, 1), such as {example}"),
    );
}

/// Checks shared by the sequence models, in field order.
#[allow(clippy::too_many_arguments)]
fn sequence_issues(
    section: &str,
    d_model: i64,
    nhead: i64,
    num_layers: i64,
    dim_feedforward: i64,
    dropout: f64,
    max_seq_len: Option<i64>,
    check: &mut dyn FnMut(bool, &str, String, &str),
) {
    check(
        d_model > 0 && d_model <= MAX_WIDTH,
        &format!("{section}.d_model"),
        d_model.to_string(),
        &format!("a positive integer up to {MAX_WIDTH}, such as 512"),
    );
    check(
        nhead > 0 && d_model % nhead.max(1) == 0,
        &format!("{section}.nhead"),
        nhead.to_string(),
        &format!("a positive divisor of {section}.d_model ({d_model})"),
    );
    check(
        num_layers > 0 && num_layers <= MAX_LAYERS,
        &format!("{section}.num_layers"),
        num_layers.to_string(),
        &format!("a positive integer up to {MAX_LAYERS}, such as 6"),
    );
    check(
        dim_feedforward > 0 && dim_feedforward <= MAX_FEEDFORWARD,
        &format!("{section}.dim_feedforward"),
        dim_feedforward.to_string(),
        &format!("a positive integer up to {MAX_FEEDFORWARD}, such as 2048"),
    );
    share_issue(section, "dropout", dropout, "0.1", check);
    if let Some(max_seq_len) = max_seq_len {
        check(
            (4..=MAX_SEQ_LEN).contains(&max_seq_len),
            &format!("{section}.max_seq_len"),
            max_seq_len.to_string(),
            &format!("an integer from 4 to {MAX_SEQ_LEN}, such as 512"),
        );
    }
}

/// `architecture = "transformer"`: the encoder-decoder transformer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TransformerConfig {
    pub d_model: i64,
    pub nhead: i64,
    /// Layers in the encoder and, separately, in the decoder.
    pub num_layers: i64,
    pub dim_feedforward: i64,
    pub dropout: f64,
    /// Longest prompt or target, in tokens, `<bos>`/`<eos>` included.
    pub max_seq_len: i64,
    /// Share the decoder's input embedding with its output projection.
    pub tie_embeddings: bool,
    /// Share of the decoder's input tokens (after `<bos>`) swapped for a random vocabulary piece
    /// during training, targets unchanged, so that the decoder learns to go on sensibly after a
    /// wrong token of its own. 0 turns it off.
    pub target_noise: f64,
}

impl Default for TransformerConfig {
    fn default() -> Self {
        Self {
            d_model: 512,
            nhead: 8,
            num_layers: 6,
            dim_feedforward: 2048,
            dropout: 0.1,
            max_seq_len: 512,
            tie_embeddings: true,
            target_noise: 0.0,
        }
    }
}

/// `architecture = "binder"`: local encoder, identity-addressed memory, CTC output slots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BinderConfig {
    pub d_model: i64,
    pub nhead: i64,
    /// Layers of the local encoder.
    pub num_layers: i64,
    pub dim_feedforward: i64,
    pub dropout: f64,
    /// Longest program or output, in tokens, `<bos>`/`<eos>` included.
    pub max_seq_len: i64,
    /// Words on either side that its local attentions see.
    pub window: i64,
    /// Output slots per input word (the most words one word can emit).
    pub slots: i64,
    /// Highest per-program rate at which distinct words are hidden from the encoder as `<unk>`.
    pub word_dropout: f64,
}

impl Default for BinderConfig {
    fn default() -> Self {
        Self {
            d_model: 512,
            nhead: 8,
            num_layers: 6,
            dim_feedforward: 2048,
            dropout: 0.1,
            max_seq_len: 512,
            window: 4,
            slots: 8,
            word_dropout: 0.5,
        }
    }
}

/// `architecture = "diffusion_lm"`: a bidirectional transformer without biases, LayerNorm without
/// affine parameters, rotary positions and an output head tied to the embedding, which predicts
/// the masked tokens of its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DiffusionLmConfig {
    pub d_model: i64,
    pub nhead: i64,
    pub num_layers: i64,
    pub dim_feedforward: i64,
    /// On the embedding, the attention weights, and each residual branch.
    pub dropout: f64,
    /// Base of the rotary position embedding's frequencies.
    pub rope_base: f64,
}

impl Default for DiffusionLmConfig {
    fn default() -> Self {
        Self { d_model: 256, nhead: 8, num_layers: 8, dim_feedforward: 1024, dropout: 0.1, rope_base: 10000.0 }
    }
}

/// `architecture = "agent"`: a ViT-style patch encoder for the input picture and up to
/// `max_canvases` canvases, a causal transformer over [picture patches, prompt, answer], a text
/// head on the answer positions, and a picture decoder whose queries are the input picture's
/// patches, which attends to the transformer's states and ends in pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Pictures are `image_size` pixels square (RGB).
    pub image_size: i64,
    /// Pictures are cut into square patches of this many pixels; it divides `image_size`.
    pub patch_size: i64,
    pub d_model: i64,
    pub nhead: i64,
    /// Layers of the causal transformer.
    pub num_layers: i64,
    pub dim_feedforward: i64,
    /// Layers of the picture decoder (each: self-attention, attention to the transformer's
    /// states, feed-forward).
    pub decoder_layers: i64,
    pub dropout: f64,
    /// Canvases (earlier pictures) the model reads besides the input picture.
    pub max_canvases: i64,
    /// Longest prompt plus answer in tokens (the answer's start and end tokens included).
    pub max_text_len: i64,
    /// Channels of the pixel summary: a per-pixel MLP over (r, g, b, x, y) max-pooled over the
    /// input picture, which multiplies into every transformer block (small objects such as the
    /// gold are a few pixels of a patch; the summary keeps their places). 0 leaves it out.
    pub pixel_summary: i64,
    /// Object tokens after the input picture's patches: each has a learned prototype colour
    /// (starting on a lattice of the colour cube: 27 = 3 levels per channel) and finds the
    /// picture's pixels nearest that colour by a sharp softmax; the expected place, spread and
    /// presence of those pixels make its token. 0 leaves them out.
    pub object_tokens: i64,
    /// Two RGB colours, `[[0, 255, 0], [255, 0, 0]]` for the game's agent (a green body with a
    /// red eye), or none (`[]`): the object tokens whose prototypes start nearest them are the
    /// anchor and the pointer of an egocentric frame, and every object token also holds its
    /// place relative to the anchor's, in the picture's axes and along and across the direction
    /// from the anchor to the pointer, and that direction.
    pub object_frame: Vec<Vec<i64>>,
    /// Channels per pixel of the decoder's pixel head: the decoder's state of a patch writes
    /// this many channels for each of its pixels, and a small MLP over them and the pixel's own
    /// input colour adds its change (an edit such as "the gold's pixels become floor" is then one
    /// rule for every pixel, where a linear layer from the patch's state had to spell out every
    /// place the gold can lie in the patch). 0 leaves it out: a linear layer alone writes each
    /// patch's pixels.
    pub pixel_decoder: i64,
    /// Each decoder query also adds a projection of the transformer's state at `<bos>` (the end
    /// of the prompt): the instruction reaches every patch directly, where otherwise each query
    /// had to find the prompt's few positions by attention among the pictures' hundreds.
    pub decoder_prompt: bool,
    /// Each decoder query also adds the sum over the prompt's words of a table of their own
    /// (one row per word, starting at zero): what is asked, word by word, apart from the picture.
    /// The state at `<bos>` holds the prompt mixed with the pictures, and prompts that differ in
    /// one object ("the room without you", "only the walls") lie close together in it, which
    /// the decoder then reads as one (docs/agent.md, "What the decoder reads of the prompt").
    pub decoder_words: bool,
    /// Gated feed-forward layers (SwiGLU: `down(silu(gate(x)) * up(x))`, a third matrix of
    /// `dim_feedforward` columns) in the transformer and the decoder, where false keeps
    /// `down(gelu(up(x)))`.
    pub gated_feedforward: bool,
    /// Each decoder query also gates the canvases' patches at its place (one gate per canvas
    /// slot, starting at zero): the picture it draws starts from the input's patch plus each
    /// gate times the difference to that canvas's, so recalling a picture seen before is one
    /// gate per patch, where otherwise the decoder had to write the canvas's pixels from its state.
    pub decoder_copy: bool,
    /// Each pixel of the decoder's pixel head (`pixel_decoder` > 0) also reads its place in the
    /// egocentric frame (`object_frame`) of every object token of the input picture: along and
    /// across the direction from the anchor to that token, past the token along it, past the
    /// midpoint (these in pixels, squashed by a tanh), and the fraction of the way there, each
    /// times a gain, with weights that start at zero; the pixel MLP is then gated (SwiGLU). A line from the agent to
    /// the gold, the agent one step ahead or halfway there, the gold erased are rules over these
    /// numbers, which a patch's query does not hold.
    pub pixel_frame: bool,
    /// The hidden layer of the decoder's pixel head (`pixel_decoder` > 0) also adds a
    /// projection of the transformer's state at `<bos>` (starting at zero), the same for every
    /// pixel of a picture: what the prompt asks switches the pixel rules on and off directly,
    /// where otherwise it reached a pixel only through its patch's channels, which a wall in the
    /// patch also fills (the gold beside a wall was kept when asked to erase it).
    pub pixel_prompt: bool,
    /// The decoder adds the change of a second, small per-pixel MLP that reads only the pixel's
    /// own colour and the transformer's state at `<bos>` (its output starts at zero): a rule
    /// over colours that the prompt switches on (the gold becomes floor) and that no patch's
    /// state reaches, where the pixel head's rules also read the patch's channels, which a wall
    /// in the patch fills (docs/agent.md, the gold beside walls).
    pub colour_rule: bool,
    /// Each patch token of the input picture also adds an embedding (a two-layer MLP whose
    /// output starts at zero) of its centre's place in the egocentric frame (`object_frame`) of
    /// every object token: along and across the direction from the anchor to that token, past
    /// the token, past the midpoint (in patches, squashed by a tanh), and the fraction of the way.
    /// The transformer then reads where a wall lies relative to the agent and to the way to the
    /// gold, where the patch's own place embedding holds only its place in the picture.
    pub patch_frame: bool,
    /// Rays after the input picture's object tokens (with an egocentric frame): this many rays
    /// from the anchor (the agent's centre), evenly spaced in angle starting at the frame's
    /// direction (the heading), each a token holding how far it runs before it meets pixels of
    /// `ray_colour` (the walls), as a range finder would see them. Where a wall ends is a jump
    /// between neighbouring rays, which the patches leave the transformer to find. 0 leaves
    /// them out.
    pub rays: i64,
    /// The RGB colour (0 to 255) that stops a ray: the game's walls are `[0, 0, 0]`.
    pub ray_colour: Vec<i64>,
    /// RGB colours (0 to 255) of things that come more than once, `[[255, 200, 0]]` for the
    /// game's gold, or none (`[]`; needs an `object_frame`): per colour, `OBJECT_INSTANCES`
    /// tokens after the input picture's object tokens, the instance of that colour nearest the
    /// frame's anchor and the next nearest, each with an object token's features (place,
    /// spread, presence, place in the frame). An object token's softmax over all the pixels of
    /// its colour holds the mean of two pieces' places, which is neither.
    pub object_instances: Vec<Vec<i64>>,
}

/// Instance tokens per colour of `object_instances`: the nearest instance and the next.
pub const OBJECT_INSTANCES: i64 = 2;

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            image_size: 96,
            patch_size: 12,
            d_model: 192,
            nhead: 6,
            num_layers: 6,
            dim_feedforward: 768,
            decoder_layers: 2,
            dropout: 0.0,
            max_canvases: 3,
            max_text_len: 32,
            pixel_summary: 64,
            object_tokens: 27,
            object_frame: Vec::new(),
            pixel_decoder: 0,
            decoder_prompt: false,
            decoder_words: false,
            gated_feedforward: false,
            decoder_copy: false,
            pixel_frame: false,
            pixel_prompt: false,
            colour_rule: false,
            patch_frame: false,
            rays: 0,
            ray_colour: vec![0, 0, 0],
            object_instances: Vec::new(),
        }
    }
}

impl AgentConfig {
    /// Patches per picture.
    pub fn patches(&self) -> i64 {
        let side = self.image_size / self.patch_size.max(1);
        side * side
    }

    /// Where the text starts in the transformer's sequence for `canvases` canvases: after the
    /// canvases' and the input picture's patches and object tokens, and the input's instance
    /// tokens and rays.
    pub fn text_start(&self, canvases: i64) -> i64 {
        (canvases + 1) * (self.patches() + self.object_tokens) + self.instance_tokens() + self.rays
    }

    /// The input picture's instance tokens (`object_instances`).
    pub fn instance_tokens(&self) -> i64 {
        OBJECT_INSTANCES * self.object_instances.len() as i64
    }

    fn issues(&self, section: &str, check: &mut dyn FnMut(bool, &str, String, &str)) {
        sequence_issues(
            section,
            self.d_model,
            self.nhead,
            self.num_layers,
            self.dim_feedforward,
            self.dropout,
            None,
            check,
        );
        check(
            self.max_text_len >= 4,
            &format!("{section}.max_text_len"),
            self.max_text_len.to_string(),
            "an integer >= 4, such as 32",
        );
        check(
            self.patch_size > 0 && self.image_size > 0 && self.image_size % self.patch_size == 0,
            &format!("{section}.patch_size"),
            self.patch_size.to_string(),
            &format!("a positive divisor of image_size ({}), such as 12 for 96", self.image_size),
        );
        check(
            self.decoder_layers > 0,
            &format!("{section}.decoder_layers"),
            self.decoder_layers.to_string(),
            "a positive integer such as 2",
        );
        check(
            (0..=8).contains(&self.max_canvases),
            &format!("{section}.max_canvases"),
            self.max_canvases.to_string(),
            "an integer from 0 to 8, such as 3",
        );
        check(
            (0..=1024).contains(&self.pixel_summary),
            &format!("{section}.pixel_summary"),
            self.pixel_summary.to_string(),
            "an integer from 0 (none) to 1024, such as 64",
        );
        check(
            (0..=256).contains(&self.object_tokens),
            &format!("{section}.object_tokens"),
            self.object_tokens.to_string(),
            "an integer from 0 (none) to 256, such as 27",
        );
        check(
            (0..=64).contains(&self.pixel_decoder),
            &format!("{section}.pixel_decoder"),
            self.pixel_decoder.to_string(),
            "an integer from 0 (none) to 64, such as 8",
        );
        let colours = self.object_frame.iter().all(|c| c.len() == 3 && c.iter().all(|v| (0..=255).contains(v)));
        check(
            self.object_frame.is_empty() || (self.object_frame.len() == 2 && colours && self.object_tokens > 0),
            &format!("{section}.object_frame"),
            format!("{:?}", self.object_frame),
            "[] (no frame) or two RGB colours of 0 to 255, anchor then pointer, such as [[0, 255, 0], [255, 0, 0]]; \
             the frame needs object_tokens > 0",
        );
        check(
            !self.pixel_frame || (self.object_frame.len() == 2 && self.pixel_decoder > 0),
            &format!("{section}.pixel_frame"),
            self.pixel_frame.to_string(),
            "false, or true with an object_frame and pixel_decoder > 0 (the places are in the frame's, and the pixel \
             head reads them)",
        );
        check(
            !self.pixel_prompt || self.pixel_decoder > 0,
            &format!("{section}.pixel_prompt"),
            self.pixel_prompt.to_string(),
            "false, or true with pixel_decoder > 0 (it feeds the pixel head)",
        );
        check(
            !self.patch_frame || self.object_frame.len() == 2,
            &format!("{section}.patch_frame"),
            self.patch_frame.to_string(),
            "false, or true with an object_frame (the places are in the frame's)",
        );
        check(
            (0..=360).contains(&self.rays) && (self.rays == 0 || self.object_frame.len() == 2),
            &format!("{section}.rays"),
            self.rays.to_string(),
            "an integer from 0 (none) to 360, such as 48; rays need an object_frame (they start at its anchor \
             and turn from its direction)",
        );
        check(
            self.ray_colour.len() == 3 && self.ray_colour.iter().all(|v| (0..=255).contains(v)),
            &format!("{section}.ray_colour"),
            format!("{:?}", self.ray_colour),
            "an RGB colour of 0 to 255 per channel, such as [0, 0, 0] for the game's walls",
        );
        let instances = self.object_instances.iter().all(|c| c.len() == 3 && c.iter().all(|v| (0..=255).contains(v)));
        check(
            instances
                && self.object_instances.len() <= 8
                && (self.object_instances.is_empty() || self.object_frame.len() == 2),
            &format!("{section}.object_instances"),
            format!("{:?}", self.object_instances),
            "[] (none) or up to 8 RGB colours of 0 to 255, such as [[255, 200, 0]] for the game's gold; instances \
             need an object_frame (they are ordered by their distance from its anchor)",
        );
    }
}

/// `architecture = "feedback"`: hypernetworks ("feedbackward" blocks) that read the noisy input
/// and write, per sample, rank-`rank` changes of the q, k, v and o weights of every block of a
/// frozen `diffusion_lm` (taken from the run `training.init_from` names, whose size the keys of
/// the base repeat). Each hypernetwork block has the base's width and heads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FeedbackLmConfig {
    /// The frozen base's size, as its `architecture = "diffusion_lm"` section gives it.
    pub d_model: i64,
    pub nhead: i64,
    pub num_layers: i64,
    pub dim_feedforward: i64,
    /// The base's and the hypernetworks' dropout.
    pub dropout: f64,
    pub rope_base: f64,
    /// `standard`: one hypernetwork block per base block; `recurrent`: one shared block and a
    /// learned embedding of the base block it writes for.
    pub variant: FeedbackVariant,
    /// The rank r of each change.
    pub rank: i64,
    /// Hypernetwork block i writes for base block n-1-i.
    pub reverse: bool,
    /// `stable`: read-out tokens normalised, changes scaled by alpha / r behind a zero-initialised
    /// gate per base block; `original`: the seed's unscaled changes.
    pub recipe: Recipe,
    /// `stable`: the changes' scale is alpha / rank.
    pub alpha: f64,
}

impl Default for FeedbackLmConfig {
    fn default() -> Self {
        let base = DiffusionLmConfig::default();
        Self {
            d_model: base.d_model,
            nhead: base.nhead,
            num_layers: base.num_layers,
            dim_feedforward: base.dim_feedforward,
            dropout: base.dropout,
            rope_base: base.rope_base,
            variant: FeedbackVariant::Standard,
            rank: 4,
            reverse: false,
            recipe: Recipe::Stable,
            alpha: 1.0,
        }
    }
}

impl FeedbackLmConfig {
    /// The frozen base's section.
    pub fn base(&self) -> DiffusionLmConfig {
        DiffusionLmConfig {
            d_model: self.d_model,
            nhead: self.nhead,
            num_layers: self.num_layers,
            dim_feedforward: self.dim_feedforward,
            dropout: self.dropout,
            rope_base: self.rope_base,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackVariant {
    Standard,
    Recurrent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recipe {
    Stable,
    Original,
}

/// `architecture = "bionet"`: a recurrent ±1 network trained by local perceptron rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BionetConfig {
    /// Widths of the input, hidden and output layers (e.g. `[100, 256, 10]`).
    pub layers: Vec<i64>,
    /// How class labels are clamped into the output layer.
    pub labels: LabelEncoding,
    /// The adapter from each layer into the next hidden layer (trained).
    pub input_edge: EdgeConfig,
    /// Each hidden layer's recurrent couplings (trained, diagonal fixed).
    pub recurrent: RecurrentConfig,
    /// The frozen adapter from each layer back into the hidden layer below.
    pub feedback: FeedbackConfig,
    /// The readout into the output layer (trained).
    pub readout: EdgeConfig,
    /// Steps of the dynamics per batch.
    pub dynamics: DynamicsConfig,
}

impl Default for BionetConfig {
    fn default() -> Self {
        Self {
            layers: Vec::new(),
            labels: LabelEncoding::Pm1,
            input_edge: EdgeConfig::default(),
            recurrent: RecurrentConfig::default(),
            feedback: FeedbackConfig::default(),
            readout: EdgeConfig::default(),
            dynamics: DynamicsConfig::default(),
        }
    }
}

/// Label clamping of a bionet's output layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabelEncoding {
    /// +1 for the class, -1 elsewhere.
    Pm1,
    /// sqrt(C)/2 - 0.5 for the class, -0.5 elsewhere (darnax tutorials 07/08).
    CRescale,
}

/// A trained adapter of a bionet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeConfig {
    /// Initial weights are N(0, 1) * strength / sqrt(fan-in (1 - sparsity)).
    pub strength: f64,
    /// The perceptron rule updates where label * field <= threshold.
    pub threshold: f64,
    /// Fraction of the weights fixed at zero (a seeded mask).
    pub sparsity: f64,
    /// This edge's learning rate; absent means `training.learning_rate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    /// Multiplicative decay after every step: weights *= 1 - decay.
    pub decay: f64,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self { strength: 1.0, threshold: 1.0, sparsity: 0.0, learning_rate: None, decay: 0.0 }
    }
}

/// The recurrent couplings of a bionet's hidden layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RecurrentConfig {
    /// The fixed self-coupling on the diagonal.
    pub j_d: f64,
    pub strength: f64,
    pub threshold: f64,
    pub sparsity: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    pub decay: f64,
}

impl Default for RecurrentConfig {
    fn default() -> Self {
        Self { j_d: 0.5, strength: 1.0, threshold: 1.0, sparsity: 0.0, learning_rate: None, decay: 0.0 }
    }
}

/// The frozen feedback adapter of a bionet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FeedbackConfig {
    pub strength: f64,
    /// Map the output's +1/-1 to sqrt(C-1)/2 and -1/sqrt(C-1) before the product (darnax tutorial 09).
    pub rescaled: bool,
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        Self { strength: 0.5, rescaled: false }
    }
}

/// Steps of a bionet's dynamics per batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DynamicsConfig {
    /// Forward-only steps first, in training and evaluation.
    pub warmup_steps: usize,
    /// Training: steps with every message, the labels clamped.
    pub clamped_steps: usize,
    /// Training: forward-only steps after the clamped ones.
    pub free_steps: usize,
    /// Evaluation: forward-only steps after the warmup.
    pub eval_steps: usize,
}

impl Default for DynamicsConfig {
    fn default() -> Self {
        Self { warmup_steps: 0, clamped_steps: 10, free_steps: 10, eval_steps: 10 }
    }
}

impl<'de> Deserialize<'de> for ModelConfig {
    /// Reads the section as a table, takes `architecture` out (absent: `transformer`) and reads
    /// the rest as that architecture's keys. A failure inside carries its field path within the
    /// section (between two [`INNER_PATH`] marks) for the config's error report.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Section;
        impl<'de> Visitor<'de> for Section {
            type Value = toml::Table;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // `report` words this as "a table (a `[model]` section)".
                f.write_str("struct ModelConfig")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<toml::Table, A::Error> {
                let mut table = toml::Table::new();
                while let Some((key, value)) = map.next_entry::<String, toml::Value>()? {
                    table.insert(key, value);
                }
                Ok(table)
            }
        }
        fn inner<E: de::Error>(path: &str, message: &str) -> E {
            E::custom(format!("{INNER_PATH}{path}{INNER_PATH}{message}"))
        }
        fn body<T: DeserializeOwned, E: de::Error>(table: toml::Table, architecture: Architecture) -> Result<T, E> {
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().message().to_string();
                // A key of another architecture: say which, for the fix.
                let key = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next());
                let owner = key.filter(|key| path == "." || path == *key).and_then(|key| {
                    Architecture::ALL
                        .into_iter()
                        .find(|&a| a != architecture && ModelConfig::keys(a).iter().any(|k| k == key))
                });
                match owner {
                    Some(owner) => inner(
                        &path,
                        &format!(
                            "{message}{INNER_PATH}`{}` is a key of architecture = \"{owner}\", and this section's \
                             architecture is \"{architecture}\"",
                            key.unwrap_or_default()
                        ),
                    ),
                    None => inner(&path, &message),
                }
            })
        }
        let mut table = deserializer.deserialize_map(Section)?;
        let architecture = match table.remove("architecture") {
            None => Architecture::Transformer,
            Some(name) => Architecture::deserialize(name).map_err(|e| inner("architecture", e.message()))?,
        };
        Ok(match architecture {
            Architecture::Transformer => ModelConfig::Transformer(body(table, architecture)?),
            Architecture::Binder => ModelConfig::Binder(body(table, architecture)?),
            Architecture::Bionet => ModelConfig::Bionet(body(table, architecture)?),
            Architecture::DiffusionLm => ModelConfig::DiffusionLm(body(table, architecture)?),
            Architecture::Agent => ModelConfig::Agent(body(table, architecture)?),
            Architecture::Feedback => ModelConfig::Feedback(body(table, architecture)?),
        })
    }
}

/// The schema's `transformer` variant: `architecture` may be left out.
fn transformer_tag_is_optional(schema: &mut schemars::Schema) {
    let Some(variants) = schema.get_mut("oneOf").and_then(|v| v.as_array_mut()) else { return };
    for variant in variants {
        let tag = variant.pointer("/properties/architecture/const").and_then(|c| c.as_str());
        if tag == Some("transformer") {
            variant["properties"]["architecture"]["default"] = "transformer".into();
            if let Some(map) = variant.as_object_mut() {
                map.remove("required"); // `architecture` was the only required key
            }
        }
    }
}
