//! The grid-world agent (`task.kind = "agent"`): a small multimodal model
//! (`architecture = "agent"`, [`crate::model::agent`]) trained on batches that the Python
//! frameworks of `tiny_agent_trainer.tasks.agent` make fresh for every step.
//!
//! Data comes through a [`BatchSource`]: every text the vocabulary must cover (the word
//! tokenizer is learned from them when a run starts and kept in its checkpoints), the batch of
//! each training step (a pure function of the run's seed and the step, so a resumed run sees the
//! same batches), and fixed validation batches, one per framework.
//!
//! A batch ([`Examples`]) holds `image` `[B, S, S, 3]` uint8, `canvases` `[B, C, S, S, 3]`,
//! optionally `target` `[B, S, S, 3]`, `foreground` `[B, S, S]` (pixels that are not floor in
//! the target or the input picture) and `changed` `[B, S, S]` (pixels where the target differs
//! from the input picture), the 0-d `weight_text` and `weight_image`, and the texts
//! `prompt` and `answer` per example (the answer ends with `<eos>`) and `framework` (one name).
//!
//! The loss is `weight_text` x the cross-entropy of the answer's tokens and `<eos>` (the prompt
//! is not predicted) plus `weight_image` x the mean squared pixel error, each pixel weighing
//! `frameworks.foreground_weight` where `foreground` is set, at least
//! `frameworks.changed_weight` where `changed` is set, at least `frameworks.foreground_weight` x
//! (P / (G x n))^balance in the frameworks `frameworks.colour_balance` names (n the picture's
//! pixels with the pixel's pair of input and target colour, G the pairs, P the pixels), at least
//! `frameworks.wrong_weight` where the model's colour is more than 0.5 from the target's, and 1
//! elsewhere (normalised by the sum of the weights). Validation reports both per framework, and
//! the share of answers predicted entirely right (teacher-forced) on frameworks that ask
//! questions.
//!
//! A framework that judges pictures by the objects in them rather than by a target picture
//! (`complex_loss_v1`) adds the 0-d `weight_complex` and, per example, `complex_gold` `[B, 2]`
//! (the true gold's centre, board units: x right, y up, both in [0, 1]), `complex_distance`
//! `[B]` (the agent's distance to it), `complex_agent_r` and `complex_gold_r` `[B]` (the
//! objects' radii), `complex_agent_colours` `[B, K, 3]` and `complex_gold_colours` `[B, K, 3]`
//! (uint8 colours that make up each object) and the 0-d `complex_sharpness`. The complex loss
//! ([`complex_loss`]) finds both objects in soft colour masks of the predicted picture and
//! penalises a moved gold, wrong radii and an agent more than half the distance from the gold;
//! it adds `weight_complex` x its batch mean, and validation reports it as
//! `complex_loss/NAME`.

pub mod runner;

use std::collections::BTreeMap;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::{BatchSource, Examples, TaskContext, TaskData, TaskSpec};
use crate::config::{AgentConfig, Architecture, Config, TaskKind, TokenizerKind};
use crate::error::{Result, TatError};
use crate::model::agent::{AgentNet, Inputs};
use crate::model::parameter_count;
use crate::tokenizer::{Tokenizer, BOS_ID, EOS_ID, PAD_ID};
use crate::train::{StepOutput, Task, TaskSizes, Update, Validation};

pub const SPEC: TaskSpec = TaskSpec {
    kind: TaskKind::Agent,
    name: "agent",
    text: false,
    architectures: &[Architecture::Agent],
    python_module: Some("tiny_agent_trainer.tasks.agent.task"),
    evaluator: super::Evaluator::Python,
    completion: super::Completion::None,
};

/// How an answer ends in the texts a source gives (the `<eos>` special's spelling).
pub const EOS: &str = "<eos>";

/// The task's checks of a config, after the generic ones.
pub(super) fn issues(config: &Config, check: &mut dyn FnMut(bool, &str, String, &str)) {
    check(
        config.frameworks.is_some(),
        "frameworks",
        "nothing".into(),
        "a [frameworks] table with weights, such as weights = { control = 1, position_qa = 2 }",
    );
    check(
        config.tokenizer.kind == TokenizerKind::Words,
        "tokenizer.type",
        format!("{:?}", config.tokenizer.kind).to_lowercase(),
        "\"words\" (learned from the frameworks' prompts and answers)",
    );
    check(
        config.training.steps_per_epoch > 0,
        "training.steps_per_epoch",
        "0".into(),
        "a positive number of steps: the frameworks make fresh batches, so an epoch is a number of steps, such as 500",
    );
}

pub(super) fn open(config: &Config, data: TaskData, context: &TaskContext) -> Result<Box<dyn Task>> {
    match data {
        TaskData::Batches(source) => Ok(Box::new(AgentTask::open(config, source, context)?)),
        _ => Err(TatError::Usage(format!(
            "task {:?} (agent) trains on batches its Python frameworks make. Fix: train it with `tat train` or \
             tiny_agent_trainer.tasks.agent.task.train.",
            config.task.name
        ))),
    }
}

/// A batch as the model takes it, on the task's device.
pub struct Encoded {
    pub image: Tensor,
    pub canvases: Tensor,
    pub text: Tensor,
    pub text_len: Tensor,
    /// Flat indices into `[B * L]` of the positions that predict the answer's tokens, and those
    /// tokens.
    pub answer_at: Tensor,
    pub answer_ids: Tensor,
    /// Per answer token, its example.
    pub answer_row: Tensor,
    pub target: Option<Tensor>,
    pub foreground: Option<Tensor>,
    pub changed: Option<Tensor>,
    pub weight_text: f64,
    pub weight_image: f64,
    pub complex: Option<Complex>,
    pub framework: String,
    pub examples: usize,
}

/// A batch's inputs to the complex loss (see the module), on the task's device.
pub struct Complex {
    pub weight: f64,
    pub gold: Tensor,
    pub distance: Tensor,
    pub agent_r: Tensor,
    pub gold_r: Tensor,
    /// Colours in [0, 1], `[B, K, 3]`.
    pub agent_colours: Tensor,
    pub gold_colours: Tensor,
    pub sharpness: f64,
}

/// The ids of one example's text: the prompt's words, `<bos>`, the answer's words and `<eos>`;
/// and where the answer starts (the `<bos>` position predicts its first token).
pub fn text_ids(tokenizer: &Tokenizer, prompt: &str, answer: &str) -> (Vec<i64>, usize) {
    let mut ids = tokenizer.encode(prompt);
    ids.push(BOS_ID);
    let start = ids.len();
    for word in answer.split_whitespace() {
        ids.push(if word == EOS { EOS_ID } else { tokenizer.encode(word)[0] });
    }
    if ids.last() != Some(&EOS_ID) || ids.len() == start {
        ids.push(EOS_ID);
    }
    (ids, start)
}

fn array<'a>(examples: &'a Examples, name: &str, what: &str) -> Result<&'a Tensor> {
    examples.arrays.get(name).ok_or_else(|| TatError::Usage(format!("{what}: no array {name:?}")))
}

fn texts<'a>(examples: &'a Examples, name: &str, what: &str) -> Result<&'a [String]> {
    examples.texts.get(name).map(Vec::as_slice).ok_or_else(|| TatError::Usage(format!("{what}: no texts {name:?}")))
}

fn scalar(examples: &Examples, name: &str, what: &str) -> Result<f64> {
    let t = array(examples, name, what)?;
    if t.numel() != 1 {
        return Err(TatError::Usage(format!("{what}: {name:?} has {} values, expected one", t.numel())));
    }
    Ok(t.double_value(&[]))
}

/// Checks and encodes a batch from a source (`what` names it in errors).
pub fn encode(
    examples: &Examples,
    tokenizer: &Tokenizer,
    config: &AgentConfig,
    device: Device,
    what: &str,
) -> Result<Encoded> {
    let image = array(examples, "image", what)?;
    let s = config.image_size;
    let b = image.size()[0];
    let shape_error = |name: &str, got: Vec<i64>, want: String| {
        TatError::Usage(format!("{what}: {name:?} has shape {got:?}, expected {want} (model.image_size = {s})"))
    };
    if image.size() != [b, s, s, 3] {
        return Err(shape_error("image", image.size(), format!("[{b}, {s}, {s}, 3]")));
    }
    let canvases = array(examples, "canvases", what)?;
    let c = canvases.size().get(1).copied().unwrap_or(-1);
    if canvases.dim() != 5 || canvases.size() != [b, c, s, s, 3] || c > config.max_canvases {
        return Err(shape_error(
            "canvases",
            canvases.size(),
            format!("[{b}, C, {s}, {s}, 3] with C <= model.max_canvases = {}", config.max_canvases),
        ));
    }
    let prompt = texts(examples, "prompt", what)?;
    let answer = texts(examples, "answer", what)?;
    if prompt.len() != b as usize || answer.len() != b as usize {
        return Err(TatError::Usage(format!(
            "{what}: {} prompts and {} answers for {b} pictures, expected one each",
            prompt.len(),
            answer.len()
        )));
    }
    let rows: Vec<(Vec<i64>, usize)> = prompt.iter().zip(answer).map(|(p, a)| text_ids(tokenizer, p, a)).collect();
    let longest = rows.iter().map(|(ids, _)| ids.len()).max().unwrap_or(0);
    if longest as i64 > config.max_text_len {
        let (i, _) = rows.iter().enumerate().max_by_key(|(_, (ids, _))| ids.len()).expect("a batch has rows");
        return Err(TatError::Usage(format!(
            "{what}: the text of example {i} ({:?} -> {:?}) is {longest} tokens, more than model.max_text_len = {}. \
             Fix: raise model.max_text_len.",
            prompt[i], answer[i], config.max_text_len
        )));
    }
    let text_start = config.text_start(c);
    let length = text_start + longest as i64;
    let (mut flat, mut lens, mut at, mut ids, mut owner) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (row, (text, start)) in rows.iter().enumerate() {
        flat.extend(text.iter().copied().chain(std::iter::repeat_n(PAD_ID, longest - text.len())));
        lens.push(text.len() as i64);
        for (j, &id) in text.iter().enumerate().skip(*start) {
            at.push(row as i64 * length + text_start + j as i64 - 1);
            ids.push(id);
            owner.push(row as i64);
        }
    }
    let target = match examples.arrays.get("target") {
        Some(t) if t.size() != [b, s, s, 3] => {
            return Err(shape_error("target", t.size(), format!("[{b}, {s}, {s}, 3]")))
        }
        Some(t) => Some(t.to_device(device)),
        None => None,
    };
    let foreground = match examples.arrays.get("foreground") {
        Some(f) if f.size() != [b, s, s] => {
            return Err(shape_error("foreground", f.size(), format!("[{b}, {s}, {s}]")))
        }
        Some(f) => Some(f.to_device(device)),
        None => None,
    };
    let changed = match examples.arrays.get("changed") {
        Some(f) if f.size() != [b, s, s] => return Err(shape_error("changed", f.size(), format!("[{b}, {s}, {s}]"))),
        Some(f) => Some(f.to_device(device)),
        None => None,
    };
    let framework = texts(examples, "framework", what)?.first().cloned().unwrap_or_default();
    let complex = match examples.arrays.get("weight_complex") {
        None => None,
        Some(_) => {
            let per_example = |name: &str, tail: &[i64]| -> Result<Tensor> {
                let t = array(examples, name, what)?;
                let size = t.size();
                let fits = size.len() == tail.len() + 1
                    && size[0] == b
                    && tail.iter().zip(&size[1..]).all(|(&want, &got)| want < 0 || want == got);
                if !fits {
                    let dims: Vec<String> = std::iter::once(b.to_string())
                        .chain(tail.iter().map(|&d| if d < 0 { "K".to_string() } else { d.to_string() }))
                        .collect();
                    return Err(TatError::Usage(format!(
                        "{what}: {name:?} has shape {size:?}, expected [{}]",
                        dims.join(", ")
                    )));
                }
                Ok(t.to_device(device).to_kind(Kind::Float))
            };
            Some(Complex {
                weight: scalar(examples, "weight_complex", what)?,
                gold: per_example("complex_gold", &[2])?,
                distance: per_example("complex_distance", &[])?,
                agent_r: per_example("complex_agent_r", &[])?,
                gold_r: per_example("complex_gold_r", &[])?,
                agent_colours: per_example("complex_agent_colours", &[-1, 3])? / 255.0,
                gold_colours: per_example("complex_gold_colours", &[-1, 3])? / 255.0,
                sharpness: scalar(examples, "complex_sharpness", what)?,
            })
        }
    };
    Ok(Encoded {
        image: image.to_device(device),
        canvases: canvases.to_device(device),
        text: Tensor::from_slice(&flat).view([b, longest as i64]).to_device(device),
        text_len: Tensor::from_slice(&lens).to_device(device),
        answer_at: Tensor::from_slice(&at).to_device(device),
        answer_ids: Tensor::from_slice(&ids).to_device(device),
        answer_row: Tensor::from_slice(&owner).to_device(device),
        target,
        foreground,
        changed,
        weight_text: scalar(examples, "weight_text", what)?,
        weight_image: scalar(examples, "weight_image", what)?,
        complex,
        framework,
        examples: b as usize,
    })
}

/// The parts of a batch's loss, as tensors (the total is what trains).
pub struct Losses {
    pub total: Tensor,
    pub text: Tensor,
    pub image: Option<Tensor>,
    pub complex: Option<Tensor>,
    /// Per example: every answer token predicted right (argmax, teacher-forced); computed when
    /// not training.
    pub answers_right: Option<Tensor>,
}

/// How much the picture loss weighs a pixel (see the module): `frameworks.foreground_weight`,
/// `frameworks.changed_weight`, `frameworks.wrong_weight` and `frameworks.colour_balance`.
#[derive(Debug, Clone, Copy)]
pub struct PixelWeights {
    pub foreground: f64,
    pub changed: f64,
    pub wrong: f64,
    pub balance: f64,
}

/// A pixel is wrong where its squared colour error (summed over RGB in [0, 1]) is above this: a
/// distance of 0.5, half the least distance between two of the game's colours.
const WRONG_ERROR: f64 = 0.25;

/// How many colours [`colour_codes`] tells apart.
const COLOUR_CODES: i64 = 8;

/// Per pixel of `pictures` (`[B, S, S, 3]` uint8), a code from 0 to 7 saying which of R, G and
/// B are above half: it tells the game's six colours apart.
fn colour_codes(pictures: &Tensor) -> Tensor {
    let bits = Tensor::from_slice(&[1i64, 2, 4]).to_device(pictures.device());
    (pictures.gt(127).to_kind(Kind::Int64) * bits).sum_dim_intlist(-1, false, Kind::Int64)
}

impl PixelWeights {
    /// These weights with the balance `frameworks.colour_balance` (`balance`) gives `framework`'s
    /// pictures: its own, else that of every framework (`*`), else 0.
    fn in_framework(self, balance: &BTreeMap<String, f64>, framework: &str) -> Self {
        let every = balance.get(crate::config::EVERY_FRAMEWORK);
        Self { balance: balance.get(framework).or(every).copied().unwrap_or(0.0), ..self }
    }

    /// Per pixel of `error` (`[B, S, S]`, the squared colour error summed over RGB): 1,
    /// `foreground` where the `foreground` mask is set, at least `changed` where the `changed`
    /// mask is, at least `foreground` x [`Self::balance_of`] the input and target pictures (a
    /// rare pair of colours, such as the gold kept or erased, lifted to an even share of the
    /// picture), and at least `wrong` where the error is above [`WRONG_ERROR`]. The weights carry
    /// no gradient.
    fn of(
        &self,
        foreground: Option<&Tensor>,
        changed: Option<&Tensor>,
        pictures: [&Tensor; 2],
        error: &Tensor,
    ) -> Tensor {
        let mut weights = error.ones_like().to_kind(Kind::Float);
        if let Some(f) = foreground {
            weights = f.to_kind(Kind::Float) * (self.foreground - 1.0) + 1.0;
        }
        if let Some(c) = changed {
            weights = weights.maximum(&(c.to_kind(Kind::Float) * (self.changed - 1.0) + 1.0));
        }
        if self.balance > 0.0 {
            weights = weights.maximum(&(self.balance_of(pictures[0], pictures[1]) * self.foreground));
        }
        if self.wrong > 1.0 {
            let wrong = error.detach().gt(WRONG_ERROR).to_kind(Kind::Float);
            weights = weights.maximum(&(wrong * self.wrong));
        }
        weights
    }

    /// Per pixel `[B, S, S]` of an input and a target picture (`[B, S, S, 3]` uint8):
    /// (P / (G x n))^balance, n the pixels of its picture with its pair of input and target
    /// colour ([`colour_codes`]), G the pairs its picture holds, P its pixels. At balance 1 each
    /// pair's pixels sum to P / G.
    fn balance_of(&self, input: &Tensor, target: &Tensor) -> Tensor {
        let pairs = colour_codes(input) * COLOUR_CODES + colour_codes(target);
        let shape = pairs.size();
        let flat = pairs.flatten(1, -1);
        let pixels = flat.size()[1] as f64;
        let ones = flat.ones_like().to_kind(Kind::Float);
        let counts = Tensor::zeros([shape[0], COLOUR_CODES * COLOUR_CODES], (Kind::Float, flat.device()))
            .scatter_add(1, &flat, &ones);
        let present = counts.gt(0.0).sum_dim_intlist(1, true, Kind::Float);
        let share = counts.gather(1, &flat, false) * present / pixels;
        share.pow_tensor_scalar(-self.balance).view(shape.as_slice())
    }
}

/// The loss of `net` on a batch (see the module).
pub fn losses(net: &AgentNet, batch: &Encoded, pixels: PixelWeights, train: bool) -> Losses {
    let inputs =
        Inputs { image: &batch.image, canvases: &batch.canvases, text: &batch.text, text_len: &batch.text_len };
    let states = net.states(&inputs, train);
    let d = *states.hidden.size().last().expect("[B, L, d]");
    let rows = states.hidden.reshape([-1, d]).index_select(0, &batch.answer_at);
    let logits = net.logits(&rows);
    let text = logits.cross_entropy_loss::<Tensor>(&batch.answer_ids, None, tch::Reduction::Mean, -100, 0.0);
    // Scored in validation only: training steps leave it out.
    let answers_right = (!train).then(|| {
        let wrong = logits.argmax(-1, false).ne_tensor(&batch.answer_ids).to_kind(Kind::Float);
        let per_example = Tensor::zeros([batch.examples as i64], (Kind::Float, wrong.device())).index_add(
            0,
            &batch.answer_row,
            &wrong,
        );
        per_example.eq(0.0)
    });
    let mut total = &text * batch.weight_text;
    let wants_complex = batch.complex.as_ref().is_some_and(|c| c.weight > 0.0 || !train);
    let wants_image = batch.target.is_some() && (batch.weight_image > 0.0 || !train);
    let picture = (wants_image || wants_complex).then(|| net.picture(&states, train));
    let image = match (&batch.target, &picture) {
        (Some(target), Some(picture)) if wants_image => {
            let error =
                (picture - target.to_kind(Kind::Float) / 255.0).square().sum_dim_intlist(-1, false, Kind::Float);
            let weights = pixels.of(batch.foreground.as_ref(), batch.changed.as_ref(), [&batch.image, target], &error);
            let loss = (error * &weights).sum(Kind::Float) / (weights.sum(Kind::Float) * 3.0);
            total += &loss * batch.weight_image;
            Some(loss)
        }
        _ => None,
    };
    let complex = match (&batch.complex, &picture) {
        (Some(c), Some(picture)) if wants_complex => {
            let loss = complex_loss(&picture.to_kind(Kind::Float), c).mean(Kind::Float);
            total += &loss * c.weight;
            Some(loss)
        }
        _ => None,
    };
    Losses { total, text, image, complex, answers_right }
}

/// A small number that keeps divisions and square roots finite.
const EPS: f64 = 1e-8;

/// The centres `[B, 2]` (board units, x right, y up) and radii `[B]` of the pixels of the
/// `colours` `[B, K, 3]` in `pictures` `[B, S, S, 3]` (both in [0, 1]), from a soft mask: a
/// pixel weighs exp(-d / sharpness) for each colour, d its mean squared difference to it.
fn soft_objects(pictures: &Tensor, colours: &Tensor, sharpness: f64) -> (Tensor, Tensor) {
    let (b, s) = (pictures.size()[0], pictures.size()[1]);
    let k = colours.size()[1];
    let d = (pictures.unsqueeze(3) - colours.view([b, 1, 1, k, 3])).square().mean_dim(-1, false, Kind::Float);
    let mask = (d / -sharpness).exp().sum_dim_intlist(-1, false, Kind::Float); // [B, S, S]
    let steps = (Tensor::arange(s, (Kind::Float, pictures.device())) + 0.5) / s as f64;
    let xs = steps.view([1, 1, s]);
    let ys = (steps.neg() + 1.0).view([1, s, 1]);
    let area = mask.sum_dim_intlist([1, 2].as_slice(), false, Kind::Float);
    let x = (&mask * xs).sum_dim_intlist([1, 2].as_slice(), false, Kind::Float);
    let y = (&mask * ys).sum_dim_intlist([1, 2].as_slice(), false, Kind::Float);
    let centre = Tensor::stack(&[x, y], 1) / (&area + EPS).unsqueeze(1);
    let radius = (area / ((s * s) as f64 * std::f64::consts::PI) + EPS).sqrt();
    (centre, radius)
}

/// The complex loss per example `[B]` of predicted pictures `[B, S, S, 3]` in [0, 1]: the gold
/// moved (squared shift over its radius squared), both radii wrong (squared relative errors),
/// and the agent more than half its distance from the true gold (relu(new / (old / 2) - 1)
/// squared).
pub fn complex_loss(pictures: &Tensor, c: &Complex) -> Tensor {
    let (agent, agent_r) = soft_objects(pictures, &c.agent_colours, c.sharpness);
    let (gold, gold_r) = soft_objects(pictures, &c.gold_colours, c.sharpness);
    let gold_moved = (gold - &c.gold).square().sum_dim_intlist(1, false, Kind::Float) / c.gold_r.square();
    let sizes = ((agent_r - &c.agent_r) / &c.agent_r).square() + ((gold_r - &c.gold_r) / &c.gold_r).square();
    let new_distance = ((agent - &c.gold).square().sum_dim_intlist(1, false, Kind::Float) + EPS).sqrt();
    let too_far = (new_distance / (&c.distance / 2.0) - 1.0).relu().square();
    gold_moved + sizes + too_far
}

pub struct AgentTask {
    vs: VarStore,
    net: AgentNet,
    tokenizer: Tokenizer,
    source: Box<dyn BatchSource>,
    device: Device,
    steps_per_epoch: usize,
    pixels: PixelWeights,
    /// `frameworks.colour_balance`: the balance of each framework's pictures (0 where not named).
    balance: BTreeMap<String, f64>,
    /// The current epoch and the run's seed (set by `plan_epoch`).
    epoch: usize,
    seed: u64,
    /// The validation batches, encoded once, by framework.
    validation: Vec<Vec<Encoded>>,
    val_examples: usize,
    /// The tokenizer gained words over the `training.init_from` checkpoint's: the token
    /// embedding's new rows start fresh.
    grown: bool,
}

impl AgentTask {
    pub fn open(config: &Config, mut source: Box<dyn BatchSource>, context: &TaskContext) -> Result<Self> {
        let model = config.model.agent().expect("the task's architecture is agent (checked)").clone();
        // A resumed run keeps its tokenizer; a run from a checkpoint (`training.init_from`) keeps
        // the checkpoint's ids and adds the words its frameworks bring (their embedding rows
        // start fresh, `grown_rows`); a new run learns one from its frameworks' texts.
        let tokenizer = match (context.resumed, context.init) {
            (Some(ckpt), _) => ckpt.tokenizer()?.clone(),
            (None, Some(ckpt)) => ckpt.tokenizer()?.with_words(source.vocabulary()?.iter().map(String::as_str)),
            (None, None) => Tokenizer::build_words(source.vocabulary()?.iter().map(String::as_str), 1),
        };
        let grown = match (context.resumed, context.init) {
            (None, Some(ckpt)) => ckpt.tokenizer()?.vocab_size() < tokenizer.vocab_size(),
            _ => false,
        };
        tch::manual_seed(config.training.seed as i64);
        let vs = VarStore::new(context.device);
        let net = AgentNet::new(&vs.root(), &model, tokenizer.vocab_size() as i64, context.compute.kind());
        let batch = config.training.batch_size;
        let mut validation = Vec::new();
        let mut val_examples = 0;
        for (i, examples) in source.validation()?.iter().enumerate() {
            let what = format!("validation batch {i}");
            let batches = split(examples, batch, &tokenizer, &model, context.device, &what)?;
            val_examples += batches.iter().map(|b| b.examples).sum::<usize>();
            validation.push(batches);
        }
        Ok(Self {
            vs,
            net,
            tokenizer,
            source,
            device: context.device,
            steps_per_epoch: config.training.steps_per_epoch,
            pixels: config.frameworks.as_ref().map_or(
                PixelWeights { foreground: 1.0, changed: 1.0, wrong: 1.0, balance: 0.0 },
                |f| PixelWeights {
                    foreground: f.foreground_weight,
                    changed: f.changed_weight,
                    wrong: f.wrong_weight,
                    balance: 0.0,
                },
            ),
            balance: config.frameworks.as_ref().map(|f| f.colour_balance.clone()).unwrap_or_default(),
            epoch: 0,
            seed: config.training.seed,
            validation,
            val_examples,
            grown,
        })
    }

    /// The picture loss's weights in `framework`'s pictures.
    fn pixels_of(&self, framework: &str) -> PixelWeights {
        self.pixels.in_framework(&self.balance, framework)
    }
}

/// A validation set of one framework, in batches of at most `batch` examples.
fn split(
    examples: &Examples,
    batch: usize,
    tokenizer: &Tokenizer,
    model: &AgentConfig,
    device: Device,
    what: &str,
) -> Result<Vec<Encoded>> {
    let n = examples.texts.get("prompt").map_or(0, Vec::len);
    let mut out = Vec::new();
    for start in (0..n).step_by(batch.max(1)) {
        let len = batch.min(n - start);
        let arrays = examples
            .arrays
            .iter()
            .map(|(k, v)| {
                let part = if v.dim() == 0 { v.shallow_clone() } else { v.narrow(0, start as i64, len as i64) };
                (k.clone(), part)
            })
            .collect();
        let texts = examples
            .texts
            .iter()
            .map(|(k, v)| {
                let part = if k == "framework" { v.clone() } else { v[start..start + len].to_vec() };
                (k.clone(), part)
            })
            .collect();
        out.push(encode(&Examples { arrays, texts }, tokenizer, model, device, what)?);
    }
    Ok(out)
}

impl Task for AgentTask {
    fn vs(&self) -> &VarStore {
        &self.vs
    }

    fn grown_rows(&self) -> Vec<String> {
        if self.grown {
            // Tables with a row per word; the words added since the checkpoint get fresh rows.
            let mut tables = vec!["embed".to_string()];
            if self.net.config().decoder_words {
                tables.push("decoder_words".to_string());
            }
            tables
        } else {
            Vec::new()
        }
    }

    fn vs_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn tokenizer(&self) -> Option<&Tokenizer> {
        Some(&self.tokenizer)
    }

    fn describe(&self) -> TaskSizes {
        TaskSizes {
            parameters: parameter_count(&self.vs),
            vocab_size: self.tokenizer.vocab_size(),
            train_examples: 0,
            val_examples: self.val_examples,
            test_examples: 0,
        }
    }

    fn plan_epoch(&mut self, seed: u64, epoch: usize) -> Result<usize> {
        self.seed = seed;
        self.epoch = epoch;
        Ok(self.steps_per_epoch)
    }

    fn step(&mut self, index: usize, update: &mut Update) -> Result<StepOutput> {
        let step = self.epoch * self.steps_per_epoch + index;
        let examples = self.source.batch(self.seed, step)?;
        let what = format!("the batch of step {step}");
        let batch = encode(&examples, &self.tokenizer, self.net.config(), self.device, &what)?;
        let losses = losses(&self.net, &batch, self.pixels_of(&batch.framework), true);
        let loss = update.gradient_step(&losses.total)?;
        let tokens = batch.text_len.sum(Kind::Int64).int64_value(&[]) as usize;
        Ok(StepOutput { loss, weight: batch.examples, examples: batch.examples, tokens, skipped: false })
    }

    /// Per framework: the text and picture losses (means over its batches, weighted by
    /// examples) and the answers right; the validation loss is the mean over frameworks of their
    /// weighted totals, the accuracy the share of answers right over the question frameworks.
    fn validate(&mut self) -> Result<Validation> {
        let _guard = tch::no_grad_guard();
        let mut extra = BTreeMap::new();
        let (mut total, mut frameworks) = (0.0, 0usize);
        let (mut right, mut asked) = (0.0, 0usize);
        for batches in &self.validation {
            let (mut text, mut image, mut correct, mut n, mut weighted) = (0.0, 0.0, 0.0, 0usize, 0.0);
            let (mut complex, mut has_image, mut has_complex) = (0.0, false, false);
            let mut questions = false;
            let name = batches.first().map(|b| b.framework.clone()).unwrap_or_default();
            for batch in batches {
                let l = losses(&self.net, batch, self.pixels_of(&batch.framework), false);
                let m = batch.examples as f64;
                text += l.text.double_value(&[]) * m;
                weighted += l.total.double_value(&[]) * m;
                if let Some(i) = &l.image {
                    image += i.double_value(&[]) * m;
                    has_image = true;
                }
                if let Some(c) = &l.complex {
                    complex += c.double_value(&[]) * m;
                    has_complex = true;
                }
                correct += l.answers_right.expect("scored when not training").sum(Kind::Float).double_value(&[]);
                questions |= batch.answer_ids.size()[0] > batch.examples as i64;
                n += batch.examples;
            }
            if n == 0 {
                continue;
            }
            let n_f = n as f64;
            extra.insert(format!("text_loss/{name}"), text / n_f);
            if has_image {
                extra.insert(format!("image_loss/{name}"), image / n_f);
            }
            if has_complex {
                extra.insert(format!("complex_loss/{name}"), complex / n_f);
            }
            extra.insert(format!("answers_right/{name}"), correct / n_f);
            if questions {
                right += correct;
                asked += n;
            }
            total += weighted / n_f;
            frameworks += 1;
        }
        Ok(Validation {
            loss: total / frameworks.max(1) as f64,
            accuracy: (asked > 0).then(|| right / asked as f64),
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 96;
    const AGENT_R: f64 = 0.05;
    const GOLD_R: f64 = 1.0 / 64.0;
    const GREEN: [f64; 3] = [0.0, 1.0, 0.0];
    const GOLD: [f64; 3] = [1.0, 200.0 / 255.0, 0.0];

    /// A white picture `[S, S, 3]` with discs (centre in board units, radius, colour).
    fn picture(discs: &[([f64; 2], f64, [f64; 3])]) -> Tensor {
        let mut pixels = vec![1f32; (S * S * 3) as usize];
        for row in 0..S {
            for col in 0..S {
                let (x, y) = ((col as f64 + 0.5) / S as f64, 1.0 - (row as f64 + 0.5) / S as f64);
                for (centre, r, colour) in discs {
                    if (x - centre[0]).powi(2) + (y - centre[1]).powi(2) <= r * r {
                        let at = ((row * S + col) * 3) as usize;
                        for (k, v) in colour.iter().enumerate() {
                            pixels[at + k] = *v as f32;
                        }
                    }
                }
            }
        }
        Tensor::from_slice(&pixels).view([S, S, 3])
    }

    fn complex(agent: [f64; 2], gold: [f64; 2], n: i64) -> Complex {
        let distance = ((agent[0] - gold[0]).powi(2) + (agent[1] - gold[1]).powi(2)).sqrt();
        let per = |v: f64| Tensor::full([n], v, (Kind::Float, Device::Cpu));
        let colours = |c: [f64; 3]| Tensor::from_slice(&c.map(|v| v as f32)).view([1, 1, 3]).repeat([n, 1, 1]);
        Complex {
            weight: 1.0,
            gold: Tensor::from_slice(&gold.map(|v| v as f32)).view([1, 2]).repeat([n, 1]),
            distance: per(distance),
            agent_r: per(AGENT_R),
            gold_r: per(GOLD_R),
            agent_colours: colours(GREEN),
            gold_colours: colours(GOLD),
            sharpness: 0.01,
        }
    }

    /// Pictures `[1, 1, W, 3]` of the given colours.
    fn strip(colours: &[[u8; 3]]) -> Tensor {
        Tensor::from_slice(&colours.concat()).view([1, 1, -1, 3])
    }

    #[test]
    fn a_pixel_weighs_its_largest_weight() {
        let pixels = PixelWeights { foreground: 10.0, changed: 30.0, wrong: 1.0, balance: 0.0 };
        let like = Tensor::zeros([1, 1, 4], (Kind::Float, Device::Cpu));
        let foreground = Tensor::from_slice(&[0u8, 1, 0, 1]).view([1, 1, 4]);
        let changed = Tensor::from_slice(&[0u8, 0, 1, 1]).view([1, 1, 4]);
        let floor = strip(&[[255; 3]; 4]);
        let pictures = [&floor, &floor];
        let got = |f: Option<&Tensor>, c: Option<&Tensor>| {
            Vec::<f32>::try_from(pixels.of(f, c, pictures, &like).flatten(0, -1)).unwrap()
        };
        assert_eq!(got(Some(&foreground), Some(&changed)), [1.0, 10.0, 30.0, 30.0]);
        assert_eq!(got(Some(&foreground), None), [1.0, 10.0, 1.0, 10.0]);
        assert_eq!(got(None, Some(&changed)), [1.0, 1.0, 30.0, 30.0]);
        assert_eq!(got(None, None), [1.0; 4]);
        let small = PixelWeights { foreground: 10.0, changed: 1.0, wrong: 1.0, balance: 0.0 };
        let weights =
            Vec::<f32>::try_from(small.of(Some(&foreground), Some(&changed), pictures, &like).flatten(0, -1)).unwrap();
        assert_eq!(weights, [1.0, 10.0, 1.0, 10.0], "changed_weight 1 leaves foreground_weight alone");
        // Errors of 0 / 0.3 / 0.2 / 1.0: the second and last pixels are wrong (above 0.25).
        let error = Tensor::from_slice(&[0.0f32, 0.3, 0.2, 1.0]).view([1, 1, 4]).set_requires_grad(true);
        let wrong = PixelWeights { foreground: 10.0, changed: 30.0, wrong: 20.0, balance: 0.0 };
        let weights = wrong.of(Some(&foreground), Some(&changed), pictures, &error);
        assert!(!weights.requires_grad(), "the weights carry no gradient");
        assert_eq!(Vec::<f32>::try_from(weights.flatten(0, -1)).unwrap(), [1.0, 20.0, 30.0, 30.0]);
        let alone = Vec::<f32>::try_from(wrong.of(None, None, pictures, &error).flatten(0, -1)).unwrap();
        assert_eq!(alone, [1.0, 20.0, 1.0, 20.0]);
    }

    #[test]
    fn colour_balance_lifts_only_the_pictures_of_the_frameworks_it_names() {
        let (white, gold) = ([255u8, 255, 255], [255u8, 200, 0]);
        let input = strip(&[white, white, white, gold]);
        let target = strip(&[white; 4]);
        let error = Tensor::zeros([1, 1, 4], (Kind::Float, Device::Cpu));
        let config = PixelWeights { foreground: 1.0, changed: 1.0, wrong: 1.0, balance: 0.0 };
        let balance = BTreeMap::from([("imagine_without_gold".to_string(), 1.0)]);
        let weights = |framework: &str| {
            let pixels = config.in_framework(&balance, framework);
            Vec::<f32>::try_from(pixels.of(None, None, [&input, &target], &error).flatten(0, -1)).unwrap()
        };
        // Two pairs in four pixels: the erased gold lifted to 4 / (2 x 1), the floor kept at 1.
        assert_eq!(weights("imagine_without_gold"), [1.0, 1.0, 1.0, 2.0]);
        assert_eq!(weights("imagine_without_agent"), [1.0; 4]);
        // `*` stands for every framework not named (a number in the config reads as `*`).
        let balance = BTreeMap::from([("*".to_string(), 1.0), ("imagine_without_gold".to_string(), 0.0)]);
        let pixels = config.in_framework(&balance, "imagine_without_agent");
        let every = Vec::<f32>::try_from(pixels.of(None, None, [&input, &target], &error).flatten(0, -1)).unwrap();
        assert_eq!(every, [1.0, 1.0, 1.0, 2.0]);
        assert_eq!(config.in_framework(&balance, "imagine_without_gold").balance, 0.0);
    }

    #[test]
    fn colour_balance_lifts_each_rare_pair_of_input_and_target_colour_to_an_even_share() {
        let (white, black, gold) = ([255u8, 255, 255], [0u8, 0, 0], [255u8, 200, 0]);
        // Eight pixels: five of floor kept, two walls kept, one gold erased (three pairs), and a
        // second picture of floor alone; a near colour (250, 250, 250) counts as the floor.
        let input =
            Tensor::cat(&[strip(&[white, white, white, white, [250; 3], black, black, gold]), strip(&[white; 8])], 0);
        let target =
            Tensor::cat(&[strip(&[white, white, white, white, white, black, black, white]), strip(&[white; 8])], 0);
        let error = Tensor::zeros([2, 1, 8], (Kind::Float, Device::Cpu));
        let even = PixelWeights { foreground: 1.0, changed: 1.0, wrong: 1.0, balance: 1.0 };
        let weights = Vec::<f32>::try_from(even.of(None, None, [&input, &target], &error).flatten(0, -1)).unwrap();
        let (p, g) = (8.0f32, 3.0f32);
        // The floor's 5 pixels would get 8 / 15 each: a common pair keeps its weight of 1.
        let want = [[1.0; 5].as_slice(), &[p / (g * 2.0); 2], &[p / g], &[1.0; 8]].concat();
        for (got, want) in weights.iter().zip(&want) {
            assert!((got - want).abs() < 1e-5, "{weights:?} against {want:?}");
        }
        assert!((weights[7] - weights[5] - weights[6]).abs() < 1e-5, "one gold pixel weighs as much as two walls");
        // The lift is `foreground_weight` x the share, a floor under the other weights (the
        // changed gold's 30 stays where the lift is less), and half the balance takes the square
        // root; `wrong_weight` is a floor under all.
        let half = PixelWeights { foreground: 2.0, changed: 30.0, wrong: 4.0, balance: 0.5 };
        let error = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]).view([1, 1, 8]);
        let objects = Tensor::from_slice(&[0u8, 0, 0, 0, 0, 1, 1, 1]).view([1, 1, 8]);
        let changed = Tensor::from_slice(&[0u8, 0, 0, 0, 0, 0, 0, 1]).view([1, 1, 8]);
        let one = [&input.narrow(0, 0, 1), &target.narrow(0, 0, 1)];
        let weights =
            Vec::<f32>::try_from(half.of(Some(&objects), Some(&changed), one, &error).flatten(0, -1)).unwrap();
        let (floor, walls) = (2.0 * (p / (g * 5.0)).sqrt(), 2.0 * (p / (g * 2.0)).sqrt());
        let want = [floor, floor, floor, 4.0, floor, walls, walls, 30.0];
        for (got, want) in weights.iter().zip(&want) {
            assert!((got - want).abs() < 1e-4, "{weights:?} against {want:?}");
        }
    }

    #[test]
    fn the_complex_loss_is_near_zero_on_a_right_picture_and_large_on_wrong_ones() {
        let (agent, gold) = ([0.25, 0.3], [0.7, 0.65]);
        let c = complex(agent, gold, 1);
        let at = |f: f64| [agent[0] + f * (gold[0] - agent[0]), agent[1] + f * (gold[1] - agent[1])];
        let loss =
            |discs: &[([f64; 2], f64, [f64; 3])]| complex_loss(&picture(discs).unsqueeze(0), &c).double_value(&[0]);
        let right = loss(&[(at(0.55), AGENT_R, GREEN), (gold, GOLD_R, GOLD)]);
        let unmoved = loss(&[(agent, AGENT_R, GREEN), (gold, GOLD_R, GOLD)]);
        let gold_moved = loss(&[(at(0.55), AGENT_R, GREEN), ([0.7, 0.5], GOLD_R, GOLD)]);
        let agent_shrunk = loss(&[(at(0.55), AGENT_R / 2.0, GREEN), (gold, GOLD_R, GOLD)]);
        assert!(right < 0.1, "right picture: {right}");
        assert!(unmoved > 0.8, "agent not moved: {unmoved}");
        assert!(gold_moved > 10.0, "gold moved: {gold_moved}");
        assert!(agent_shrunk > 0.2, "agent half its size: {agent_shrunk}");
    }

    #[test]
    fn the_complex_loss_has_finite_gradients_on_a_blurred_picture() {
        let (agent, gold) = ([0.25, 0.3], [0.7, 0.65]);
        let c = complex(agent, gold, 2);
        let pictures = (picture(&[(agent, AGENT_R, GREEN), (gold, GOLD_R, GOLD)]) * 0.9 + 0.05)
            .unsqueeze(0)
            .repeat([2, 1, 1, 1])
            .set_requires_grad(true);
        let loss = complex_loss(&pictures, &c).mean(Kind::Float);
        loss.backward();
        let grad = pictures.grad();
        assert!(bool::try_from(grad.isfinite().all()).unwrap());
        assert!(grad.abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }
}
