//! Training: one learner for every task, the optimizer, the schedule and metrics.
//!
//! The learner owns epochs, validation, checkpoints, early stopping, metrics files, progress,
//! Ctrl-C and exact resume; a task (`crate::tasks`) supplies its data, its model and its step
//! through the [`Task`] trait. The loop reports to a [`TrainObserver`]; rendering (a progress
//! bar, a Python callback) is the front's business.

mod learner;
pub mod lock;
pub mod metrics;
pub mod optim;
pub mod schedule;

use tch::nn::VarStore;
use tch::Tensor;

use crate::config::TrainingConfig;
use crate::error::{Result, TatError};
use crate::tokenizer::Tokenizer;

pub use learner::{train, train_with, RunInfo, StepProgress, TrainObserver, TrainOptions, TrainSummary};
pub use metrics::EpochMetrics;
use optim::Optimizer;

/// What a task gives the learner: its weights, its epochs and its step.
pub trait Task {
    /// The weights a checkpoint holds.
    fn vs(&self) -> &VarStore;
    fn vs_mut(&mut self) -> &mut VarStore;
    /// The optimizer over the task's weights. Gradient tasks take the default, AdamW over every
    /// trainable variable; a task with its own parameter groups builds them here.
    fn optimizer(&self, config: &TrainingConfig) -> Optimizer {
        Optimizer::new(self.vs(), config)
    }
    /// The tokenizer a checkpoint keeps, for tasks on text.
    fn tokenizer(&self) -> Option<&Tokenizer> {
        None
    }
    /// Sizes for the run's start line.
    fn describe(&self) -> TaskSizes;
    /// Plans epoch `epoch` (from 0) of the run seeded `seed` and returns its number of steps.
    /// The plan must be a pure function of `(seed, epoch)`, so a resumed epoch repeats it
    /// (`SplitMix64::derived(seed, epoch)` is the epoch's generator).
    fn plan_epoch(&mut self, seed: u64, epoch: usize) -> Result<usize>;
    /// Step `index` of the planned epoch: computes the loss and updates the weights through `update`.
    fn step(&mut self, index: usize, update: &mut Update) -> Result<StepOutput>;
    /// The validation measurement at the end of an epoch (no weights change).
    fn validate(&mut self) -> Result<Validation>;
}

#[derive(Debug, Clone, Default)]
pub struct TaskSizes {
    pub parameters: i64,
    /// Zero for tasks without text.
    pub vocab_size: usize,
    pub train_examples: usize,
    pub val_examples: usize,
    pub test_examples: usize,
}

/// What one step did.
#[derive(Debug, Clone, Copy)]
pub struct StepOutput {
    /// The step's mean loss.
    pub loss: f64,
    /// The loss's weight in the epoch's mean (target tokens, examples).
    pub weight: usize,
    pub examples: usize,
    /// Tokens processed (input and target), for throughput; zero for tasks without text.
    pub tokens: usize,
    /// The step changed no weight (its loss or gradient was not finite); `loss` and `weight`
    /// do not count.
    pub skipped: bool,
}

/// The end-of-epoch measurement. The best checkpoint is the one with the lowest `loss`.
#[derive(Debug, Clone, Default)]
pub struct Validation {
    pub loss: f64,
    pub accuracy: Option<f64>,
    /// Further named numbers the task measures (written to `metrics.jsonl` with the epoch).
    pub extra: std::collections::BTreeMap<String, f64>,
}

/// The update a step makes: the single place where weights change, so that a data-parallel
/// all-reduce has one place to plug in.
pub struct Update<'a> {
    optimizer: &'a mut Optimizer,
    lr: f64,
    clip: f64,
}

impl Update<'_> {
    /// The gradient step every gradient task takes: backward from `loss`, global-norm clip
    /// (`training.gradient_clip_norm`), AdamW. A non-finite loss or gradient norm is
    /// [`TatError::Diverged`], and then nothing is updated.
    pub fn gradient_step(&mut self, loss: &Tensor) -> Result<f64> {
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(TatError::Diverged(format!("the loss is {value}")));
        }
        self.optimizer.backward_step(loss, self.clip, self.lr)?;
        Ok(value)
    }

    /// [`Update::gradient_step`] for tasks that skip a bad step instead of stopping: a non-finite
    /// loss or gradient norm changes no weight and returns None (the learner counts it).
    pub fn gradient_step_or_skip(&mut self, loss: &Tensor) -> Result<Option<f64>> {
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Ok(None);
        }
        Ok(self.optimizer.backward_step_or_skip(loss, self.clip, self.lr)?.then_some(value))
    }

    /// An update from gradients the task computed itself (a local learning rule), one per
    /// optimizer parameter in [`Optimizer::names`] order.
    pub fn apply(&mut self, grads: &[Tensor]) -> Result<()> {
        for (name, g) in self.optimizer.names().zip(grads) {
            if g.defined() && g.isfinite().all().int64_value(&[]) == 0 {
                return Err(TatError::Diverged(format!("the update of `{name}` is not finite")));
            }
        }
        self.optimizer.apply(grads, self.lr)
    }

    /// The optimizer's parameter names, the order [`Update::apply`] takes.
    pub fn names(&self) -> Vec<String> {
        self.optimizer.names().map(str::to_string).collect()
    }
}
