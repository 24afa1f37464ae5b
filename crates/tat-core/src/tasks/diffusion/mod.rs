//! Masked-diffusion language modelling (`task.kind = "masked_diffusion"`): gsm8k or wikitext-2
//! read with GPT-2's BPE, a bidirectional transformer (`architecture = "diffusion_lm"`) that
//! predicts masked tokens, and its loss.
//!
//! Each step draws, per sequence, t ~ U(0, 1) (stratified over the batch) and masks each real
//! token with probability p = (1 - eps) t + eps. The loss is the cross-entropy on the masked
//! tokens weighted by 1/p, computed only at masked positions, summed, and divided by the number of
//! real tokens: the per-token diffusion bound. Padding is never masked and never attended to.
//! Validation reports that bound on the validation split under masks that depend only on the
//! data ([`data::eval_mask`]), and beside it the original's number (`val_loss_padded`), the same
//! sum divided by batch x length as if padding were tokens.

pub mod data;
pub mod sample;

use std::collections::BTreeMap;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use self::data::{TextSplits, DEFAULT_BLOCK_SIZE, MASK_EPS};
use super::{TaskContext, TaskData, TaskSpec};
use crate::config::{Architecture, Config, DataSource, ModelConfig, Recipe, TaskKind, TokenizerKind, TrainingConfig};
use crate::error::{Result, TatError};
use crate::model::diffusion_lm::{Deltas, DiffusionLm};
use crate::model::feedback::{self, FeedbackNet};
use crate::model::parameter_count;
use crate::tokenizer::bpe::BpeTokenizer;
use crate::train::optim::Optimizer;
use crate::train::{StepOutput, Task, TaskSizes, Update, Validation};

pub const SPEC: TaskSpec = TaskSpec {
    kind: TaskKind::MaskedDiffusion,
    name: "masked_diffusion",
    text: false,
    architectures: &[Architecture::DiffusionLm, Architecture::Feedback],
    python_module: None,
    evaluator: super::Evaluator::Validation,
    completion: super::Completion::Unmasking,
};

/// The task's checks of a config, after the generic ones.
pub(super) fn issues(config: &Config, check: &mut dyn FnMut(bool, &str, String, &str)) {
    let t = &config.tokenizer;
    check(
        t.kind == TokenizerKind::Bpe,
        "tokenizer.type",
        format!(
            "\"{}\"",
            serde_json::to_value(t.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
        ),
        "\"bpe\" (GPT-2's byte-level BPE, with tokenizer.path)",
    );
    check(
        t.path.is_some(),
        "tokenizer.path",
        "nothing".into(),
        "the GPT-2 tokenizer.json (or its folder), such as \"../../shared/data/gpt2/tokenizer.json\"",
    );
    let d = &config.dataset;
    check(
        matches!(d.source, Some(DataSource::Gsm8k | DataSource::Wikitext)),
        "dataset.source",
        format!("{:?}", d.source),
        "\"gsm8k\" or \"wikitext\"",
    );
    check(
        d.path.is_some(),
        "dataset.path",
        "nothing".into(),
        "the corpus's folder, such as \"../../shared/data/gsm8k\" or \"../../shared/data/wikitext-2\"",
    );
    check(
        config.model.feedback().is_none() || config.training.init_from.is_some(),
        "training.init_from",
        "nothing".into(),
        "the diffusion_lm run whose model the feedback hypernetworks adapt (it is loaded and frozen)",
    );
    let block = d.block_size.unwrap_or(DEFAULT_BLOCK_SIZE);
    check(block >= 2, "dataset.block_size", block.to_string(), "an integer >= 2, such as 128");
}

pub(super) fn open(config: &Config, data: TaskData, context: &TaskContext) -> Result<Box<dyn Task>> {
    match data {
        TaskData::FromConfig => Ok(Box::new(DiffusionTask::open(config, context)?)),
        _ => Err(TatError::Usage(format!(
            "task {:?} (masked_diffusion) reads its corpus from dataset.path. Fix: train it from its config alone.",
            config.task.name
        ))),
    }
}

/// The model a config describes (and its hypernetworks, for `architecture = "feedback"`, with the
/// base frozen), initialised from the run's seed.
pub(crate) fn build(
    config: &Config,
    tokenizer: &BpeTokenizer,
    device: Device,
    compute: crate::precision::Compute,
) -> (VarStore, DiffusionLm, Option<FeedbackNet>) {
    let model_config = config.model.diffusion_lm().expect("the task's architecture is diffusion_lm (checked)");
    tch::manual_seed(config.training.seed as i64);
    let vs = VarStore::new(device);
    let model = DiffusionLm::new(&vs.root(), &model_config, tokenizer.vocab_size(), compute);
    let feedback = config.model.feedback().map(|c| {
        // The base is frozen: only the hypernetworks train.
        for (name, var) in vs.variables() {
            if !name.starts_with(&format!("{}.", feedback::PREFIX)) {
                let _ = var.set_requires_grad(false);
            }
        }
        FeedbackNet::new(&vs.root(), c, tokenizer.vocab_size(), compute)
    });
    (vs, model, feedback)
}

/// Hidden states of `noisy` through `model`, adapted per sample by the hypernetworks when there
/// are any (the frozen base then runs without dropout), and the changes they wrote.
pub(crate) fn adapted_hidden(
    model: &DiffusionLm,
    feedback: Option<&FeedbackNet>,
    noisy: &Tensor,
    real: &Tensor,
    train: bool,
) -> (Tensor, Option<Vec<Deltas>>) {
    match feedback {
        None => (model.hidden(noisy, Some(real), train), None),
        Some(fb) => {
            let deltas = fb.deltas(noisy, Some(real), train);
            (model.hidden_with(noisy, Some(real), Some(&deltas), false), Some(deltas))
        }
    }
}

pub struct DiffusionTask {
    vs: VarStore,
    model: DiffusionLm,
    tokenizer: BpeTokenizer,
    device: Device,
    batch_size: usize,
    shuffle: crate::config::Shuffle,
    splits: TextSplits,
    /// The current epoch's batches, as indices into `splits.train`.
    batches: Vec<Vec<usize>>,
    /// The fixed evaluation masking of each validation piece (p, masked positions), made once.
    val_masks: Vec<(f32, Vec<bool>)>,
    /// `architecture = "feedback"`: the hypernetworks that adapt the (frozen) model per sample.
    feedback: Option<FeedbackNet>,
    /// The stable recipe skips (and counts) a step whose loss or gradient is not finite; every
    /// other run stops there.
    skips_bad_steps: bool,
    /// The original recipe: weights and moments rounded to bf16 after every step.
    bf16_state: bool,
}

impl DiffusionTask {
    pub fn open(config: &Config, context: &TaskContext) -> Result<Self> {
        let tokenizer = BpeTokenizer::load(&config.tokenizer_path())?;
        let splits = data::load(config, &tokenizer)?;
        if splits.train.len() < config.training.batch_size {
            return Err(TatError::Usage(format!(
                "{}: {} pieces, fewer than one batch of training.batch_size = {}. Fix: lower training.batch_size.",
                splits.train_file.display(),
                splits.train.len(),
                config.training.batch_size
            )));
        }
        let model_config = config.model.diffusion_lm().expect("the task's architecture is diffusion_lm (checked)");
        if let (Some(_), Some(init)) = (config.model.feedback(), context.init) {
            if init.config.model.diffusion_lm() != Some(model_config.clone()) || init.config.model.feedback().is_some()
            {
                return Err(TatError::Usage(format!(
                    "training.init_from: {} is a {}, but this feedback run adapts a {}. Fix: point init_from at a \
                     diffusion_lm run and give [model] its d_model, nhead, num_layers, dim_feedforward, dropout and \
                     rope_base.",
                    init.dir.display(),
                    init.config.model.size(),
                    ModelConfig::DiffusionLm(model_config).size()
                )));
            }
        }
        let (vs, model, feedback) = build(config, &tokenizer, context.device, context.compute);
        Ok(Self {
            vs,
            model,
            tokenizer,
            device: context.device,
            batch_size: config.training.batch_size,
            shuffle: config.training.shuffle,
            val_masks: splits
                .val
                .iter()
                .enumerate()
                .map(|(i, piece)| {
                    let (p, mask) = data::eval_mask(i, piece.len());
                    (p as f32, mask)
                })
                .collect(),
            splits,
            batches: Vec::new(),
            feedback,
            skips_bad_steps: config.model.feedback().is_some_and(|c| c.recipe == Recipe::Stable),
            bf16_state: config.model.feedback().is_some_and(|c| c.recipe == Recipe::Original),
        })
    }

    fn hidden(&self, noisy: &Tensor, real: &Tensor, train: bool) -> (Tensor, Option<Vec<Deltas>>) {
        adapted_hidden(&self.model, self.feedback.as_ref(), noisy, real, train)
    }

    pub fn model(&self) -> &DiffusionLm {
        &self.model
    }

    pub fn tokenizer(&self) -> &BpeTokenizer {
        &self.tokenizer
    }

    /// `x0` with `[MASK]` where `masked` is true.
    fn mask_tokens(&self, x0: &Tensor, masked: &Tensor) -> Tensor {
        x0.where_self(&masked.logical_not(), &Tensor::from(self.tokenizer.mask_id()).to_device(self.device))
    }

    /// Pieces `ids` padded with `[PAD]` to the longest, `[B, L]` on the task's device.
    fn collate(&self, pieces: &[&Vec<i64>]) -> Tensor {
        let longest = pieces.iter().map(|p| p.len()).max().unwrap_or(0);
        let pad = self.tokenizer.pad_id();
        let flat: Vec<i64> =
            pieces.iter().flat_map(|p| p.iter().copied().chain(std::iter::repeat_n(pad, longest - p.len()))).collect();
        Tensor::from_slice(&flat).view([pieces.len() as i64, longest as i64]).to_device(self.device)
    }
}

/// The sum over masked positions of cross-entropy / p, from hidden states computed on `noisy`;
/// logits are made only at the masked positions.
pub fn masked_loss_sum(model: &DiffusionLm, hidden: &Tensor, x0: &Tensor, masked: &Tensor, p: &Tensor) -> Tensor {
    let d = *hidden.size().last().expect("[B, T, d]");
    let at = masked.flatten(0, -1).nonzero().squeeze_dim(1);
    if at.size()[0] == 0 {
        return hidden.sum(Kind::Float) * 0.0;
    }
    let rows = hidden.reshape([-1, d]).index_select(0, &at);
    let targets = x0.flatten(0, -1).index_select(0, &at);
    let weights = p.expand_as(x0).flatten(0, -1).index_select(0, &at);
    let ce = model.logits(&rows).cross_entropy_loss::<Tensor>(&targets, None, tch::Reduction::None, -100, 0.0);
    (ce / weights).sum(Kind::Float)
}

impl Task for DiffusionTask {
    fn vs(&self) -> &VarStore {
        &self.vs
    }

    fn vs_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    /// AdamW over the trainable weights; the original feedback recipe keeps weights and moments
    /// at bf16 precision, as the seed's pure-bf16 training does.
    fn optimizer(&self, config: &TrainingConfig) -> Optimizer {
        let optimizer = Optimizer::new(&self.vs, config);
        if self.bf16_state {
            optimizer.rounding_to_bf16()
        } else {
            optimizer
        }
    }

    fn describe(&self) -> TaskSizes {
        TaskSizes {
            parameters: parameter_count(&self.vs),
            vocab_size: self.tokenizer.vocab_size() as usize,
            train_examples: self.splits.train.len(),
            val_examples: self.splits.val.len(),
            test_examples: 0,
        }
    }

    /// Shuffled full batches of pieces (the last partial batch is left out, as the original does).
    fn plan_epoch(&mut self, seed: u64, epoch: usize) -> Result<usize> {
        let mut order: Vec<usize> = (0..self.splits.train.len()).collect();
        self.shuffle.rng(seed, epoch).shuffle(&mut order);
        self.batches = order.chunks_exact(self.batch_size).map(<[usize]>::to_vec).collect();
        Ok(self.batches.len())
    }

    fn step(&mut self, index: usize, update: &mut Update) -> Result<StepOutput> {
        let pieces: Vec<&Vec<i64>> = self.batches[index].iter().map(|&i| &self.splits.train[i]).collect();
        let x0 = self.collate(&pieces);
        let real = x0.ne(self.tokenizer.pad_id());
        let b = pieces.len() as i64;
        // t stratified over the batch: one draw in each of b equal intervals, in random order.
        let opts = (Kind::Float, self.device);
        let t = (Tensor::randperm(b, (Kind::Float, self.device)) + Tensor::rand([b], opts)) / b as f64;
        let p = (t * (1.0 - MASK_EPS) + MASK_EPS).unsqueeze(1);
        let masked = Tensor::rand(x0.size(), opts).lt_tensor(&p).logical_and(&real);
        let noisy = self.mask_tokens(&x0, &masked);
        let hidden = self.hidden(&noisy, &real, true).0;
        let tokens = real.sum(Kind::Int64).int64_value(&[]).max(1);
        let loss = masked_loss_sum(&self.model, &hidden, &x0, &masked, &p) / tokens as f64;
        let examples = pieces.len();
        let (loss, skipped) = if self.skips_bad_steps {
            match update.gradient_step_or_skip(&loss)? {
                Some(value) => (value, false),
                None => (f64::NAN, true),
            }
        } else {
            (update.gradient_step(&loss)?, false)
        };
        Ok(StepOutput { loss, weight: tokens as usize, examples, tokens: tokens as usize, skipped })
    }

    /// The per-token bound over the validation split's real tokens, under the fixed evaluation
    /// masks; `val_loss_padded` is the original's normalisation (mean over batches of the sum /
    /// (batch x length)).
    fn validate(&mut self) -> Result<Validation> {
        let _guard = tch::no_grad_guard();
        let (mut sum, mut tokens, mut padded, mut batches) = (0.0, 0i64, 0.0, 0usize);
        let (mut ratios, mut samples) = (BTreeMap::<String, f64>::new(), 0.0);
        let indices: Vec<usize> = (0..self.splits.val.len()).collect();
        for chunk in indices.chunks(self.batch_size) {
            let pieces: Vec<&Vec<i64>> = chunk.iter().map(|&i| &self.splits.val[i]).collect();
            let x0 = self.collate(&pieces);
            let (b, l) = x0.size2().expect("[B, L]");
            let real = x0.ne(self.tokenizer.pad_id());
            let (mut ps, mut flags) = (Vec::new(), Vec::new());
            for &i in chunk {
                let (p, mask) = &self.val_masks[i];
                ps.push(*p);
                flags.extend(mask.iter().copied().chain(std::iter::repeat_n(false, l as usize - mask.len())));
            }
            let p = Tensor::from_slice(&ps).view([b, 1]).to_device(self.device);
            let masked = Tensor::from_slice(&flags).view([b, l]).to_device(self.device);
            let noisy = self.mask_tokens(&x0, &masked);
            let (hidden, deltas) = self.hidden(&noisy, &real, false);
            if let Some(deltas) = &deltas {
                for (i, delta) in deltas.iter().enumerate() {
                    let weights = self.model.attention_weights(i);
                    let ratio: f64 = (0..4)
                        .map(|w| (delta.norm(w) / weights[w as usize].norm()).sum(Kind::Float).double_value(&[]))
                        .sum::<f64>()
                        / 4.0;
                    *ratios.entry(format!("delta_ratio_{i}")).or_insert(0.0) += ratio;
                }
                samples += b as f64;
            }
            let batch_sum = masked_loss_sum(&self.model, &hidden, &x0, &masked, &p).double_value(&[]);
            sum += batch_sum;
            tokens += real.sum(Kind::Int64).int64_value(&[]);
            padded += batch_sum / (b * l) as f64;
            batches += 1;
        }
        let mut extra = BTreeMap::new();
        extra.insert("val_loss_padded".to_string(), padded / batches.max(1) as f64);
        for (name, total) in ratios {
            extra.insert(name, total / samples);
        }
        Ok(Validation { loss: sum / tokens.max(1) as f64, accuracy: None, extra })
    }
}
