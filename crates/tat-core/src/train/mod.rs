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

pub use learner::{
    train, train_distributed, train_with, RunInfo, StepProgress, TrainObserver, TrainOptions, TrainSummary,
};
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
    /// Variables whose leading rows a new run may take from a checkpoint that has fewer of them
    /// (`training.init_from`): a token embedding after the tokenizer gained the words of new data.
    /// The rows past the checkpoint's keep their initialisation. None by default.
    fn grown_rows(&self) -> Vec<String> {
        Vec::new()
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

/// The processes of a data-parallel run (torch.distributed's process group, which the Python
/// front holds). Each process computes the gradient of its share of every global batch; the
/// learner sums them through these calls, so every process takes the same update. A run on one
/// process has none.
pub trait Collective {
    /// This process's rank: rank 0 alone writes checkpoints and metrics.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn world(&self) -> usize;
    /// Sums a contiguous 1-D tensor over every process, in place.
    fn all_reduce_sum(&mut self, buffer: &Tensor) -> Result<()>;
    /// Overwrites a contiguous 1-D tensor on every process with rank 0's, in place.
    fn broadcast(&mut self, buffer: &Tensor) -> Result<()>;
}

/// A process's share of every global batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub rank: usize,
    pub world: usize,
}

impl Shard {
    /// The whole batch: a run on one process.
    pub const WHOLE: Shard = Shard { rank: 0, world: 1 };

    /// This process's contiguous share of `n` items in order: `n / world` each, and one more for
    /// each of the first `n % world` ranks.
    pub fn range(&self, n: usize) -> std::ops::Range<usize> {
        let (base, extra) = (n / self.world, n % self.world);
        let start = self.rank * base + self.rank.min(extra);
        start..start + base + usize::from(self.rank < extra)
    }
}

/// The update a step makes: the single place where weights change, and where a data-parallel
/// run sums its processes' gradients.
pub struct Update<'a> {
    optimizer: &'a mut Optimizer,
    collective: Option<&'a mut dyn Collective>,
    lr: f64,
    clip: f64,
}

/// A data-parallel step's loss and weight over every process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shared {
    /// The weighted mean of the processes' losses.
    pub loss: f64,
    /// The sum of their weights.
    pub weight: f64,
}

impl Update<'_> {
    /// This process's share of the step's global batch ([`Shard::WHOLE`] on one process). A task
    /// that takes only its share makes a data-parallel run faster; one that takes the whole
    /// batch on every process still trains as on one process.
    pub fn shard(&self) -> Shard {
        self.collective.as_ref().map_or(Shard::WHOLE, |c| Shard { rank: c.rank(), world: c.world() })
    }

    /// The gradient step every gradient task takes: backward from `loss`, global-norm clip
    /// (`training.gradient_clip_norm`), AdamW. A non-finite loss or gradient norm is
    /// [`TatError::Diverged`], and then nothing is updated. On several processes the
    /// processes' losses (and gradients) weigh alike: the mean over examples, when every
    /// process takes as many ([`Update::gradient_step_weighted`] otherwise).
    pub fn gradient_step(&mut self, loss: &Tensor) -> Result<f64> {
        match self.collective.as_deref_mut() {
            None => {
                let value = loss.double_value(&[]);
                if !value.is_finite() {
                    return Err(TatError::Diverged(format!("the loss is {value}")));
                }
                self.optimizer.backward_step(loss, self.clip, self.lr)?;
                Ok(value)
            }
            Some(c) => {
                let shared = self.optimizer.backward_step_shared(loss, 1.0, self.clip, self.lr, c, false)?;
                Ok(shared.expect("a shared step stops rather than skips").loss)
            }
        }
    }

    /// [`Update::gradient_step`] for a loss that is a mean over `weight` items (target tokens,
    /// examples) of this process's share: on several processes the gradient is then that of the
    /// mean over every process's items, as one process would compute it from the whole batch.
    /// Returns the loss and weight over every process (this process's on one). A share may be
    /// empty (`weight` 0; its loss is not read).
    pub fn gradient_step_weighted(&mut self, loss: &Tensor, weight: f64) -> Result<Shared> {
        match self.collective.as_deref_mut() {
            None => Ok(Shared { loss: self.gradient_step(loss)?, weight }),
            Some(c) => {
                let shared = self.optimizer.backward_step_shared(loss, weight, self.clip, self.lr, c, false)?;
                Ok(shared.expect("a shared step stops rather than skips"))
            }
        }
    }

    /// [`Update::gradient_step`] for tasks that skip a bad step instead of stopping: a non-finite
    /// loss or gradient norm changes no weight and returns None (the learner counts it). On
    /// several processes a bad step on any of them is skipped by all.
    pub fn gradient_step_or_skip(&mut self, loss: &Tensor) -> Result<Option<f64>> {
        match self.collective.as_deref_mut() {
            None => {
                let value = loss.double_value(&[]);
                if !value.is_finite() {
                    return Ok(None);
                }
                Ok(self.optimizer.backward_step_or_skip(loss, self.clip, self.lr)?.then_some(value))
            }
            Some(c) => Ok(self.optimizer.backward_step_shared(loss, 1.0, self.clip, self.lr, c, true)?.map(|s| s.loss)),
        }
    }

    /// An update from gradients the task computed itself (a local learning rule), one per
    /// optimizer parameter in [`Optimizer::names`] order. On several processes the update is
    /// the sum of theirs: each process computes its share's part of the whole batch's update.
    pub fn apply(&mut self, grads: &[Tensor]) -> Result<()> {
        let summed;
        let grads = match self.collective.as_deref_mut() {
            None => grads,
            Some(c) => {
                summed = optim::sum_over_processes(c, grads)?;
                &summed[..]
            }
        };
        for (name, g) in self.optimizer.names().zip(grads) {
            // A sum in f64 of f32 values is finite exactly when every value is (one reduction).
            if g.defined() && !g.sum(tch::Kind::Double).double_value(&[]).is_finite() {
                return Err(TatError::Diverged(format!("the update of `{name}` is not finite")));
            }
        }
        self.optimizer.apply(grads, self.lr)
    }

    /// Numbers summed over the processes (`values` itself on one): counts a step reports over
    /// the whole batch.
    pub fn sum_over_processes(&mut self, values: &[f64]) -> Result<Vec<f64>> {
        match self.collective.as_deref_mut() {
            None => Ok(values.to_vec()),
            Some(c) => optim::sum_scalars(c, values),
        }
    }

    /// The optimizer's parameter names, the order [`Update::apply`] takes.
    pub fn names(&self) -> Vec<String> {
        self.optimizer.names().map(str::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use optim::ParamGroup;

    /// A task's own update is refused, naming its variable, when any entry is NaN or infinite;
    /// a finite one is applied.
    #[test]
    fn an_update_with_a_non_finite_entry_is_refused_and_a_finite_one_applied() {
        let weight = Tensor::ones([2, 3], (tch::Kind::Float, tch::Device::Cpu));
        let group =
            ParamGroup { params: vec![("w_1".into(), weight.shallow_clone())], lr_scale: 1.0, weight_decay: 0.0 };
        let mut optimizer = Optimizer::with_groups([group], &TrainingConfig::default());
        let mut update = Update { optimizer: &mut optimizer, collective: None, lr: 0.1, clip: 0.0 };
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let g = Tensor::zeros([2, 3], (tch::Kind::Float, tch::Device::Cpu));
            let _ = g.get(1).get(2).fill_(bad);
            let err = update.apply(&[g]).unwrap_err();
            assert!(matches!(&err, TatError::Diverged(what) if what.contains("`w_1`")), "{err}");
        }
        assert_eq!(
            weight,
            Tensor::ones([2, 3], (tch::Kind::Float, tch::Device::Cpu)),
            "a refused update changes nothing"
        );
        update.apply(&[Tensor::ones([2, 3], (tch::Kind::Float, tch::Device::Cpu))]).unwrap();
        assert!(weight.lt(1.0).all().int64_value(&[]) == 1, "a finite update moves every weight");
    }
}
