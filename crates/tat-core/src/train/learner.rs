//! The learner: the loop every task trains in.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tch::Device;

use super::metrics::{EpochMetrics, MetricsLog, StepLog};
use super::optim::Optimizer;
use super::schedule::LrSchedule;
use super::{Collective, Task, Update};
use crate::checkpoint::{self, Checkpoint, SaveParts, TrainState, BEST, LAST};
use crate::config::Config;
use crate::device;
use crate::error::{Result, TatError};
use crate::precision::{self, Resolved};
use crate::rng::SplitMix64;
use crate::tasks::{self, TaskContext, TaskData};

/// What the loop tells its front. Every method has a default, so a front implements only what it shows.
pub trait TrainObserver {
    fn on_start(&mut self, _info: &RunInfo) {}
    fn on_step(&mut self, _progress: &StepProgress) {}
    fn on_epoch(&mut self, _metrics: &EpochMetrics) {}
    /// Polled between optimizer steps; `true` saves `last` and stops with [`TatError::Interrupted`].
    fn should_stop(&mut self) -> bool {
        false
    }
}

#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_dir: PathBuf,
    pub device: String,
    /// The precision the matrix products run in, why, and any warning about it.
    pub precision: Resolved,
    pub parameters: i64,
    pub vocab_size: usize,
    pub train_examples: usize,
    pub val_examples: usize,
    pub test_examples: usize,
    pub start_epoch: usize,
    pub epochs: usize,
    pub batches_per_epoch: usize,
    /// Where a new run's weights came from (`training.init_from`), in words.
    pub init_from: Option<String>,
    /// Parameters kept fixed by `training.freeze`.
    pub frozen_parameters: i64,
}

#[derive(Debug, Clone)]
pub struct StepProgress {
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: f64,
    pub lr: f64,
    pub examples_per_sec: f64,
}

#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Continue from `<run>/last` instead of starting a new run.
    pub resume: bool,
}

#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub run_dir: PathBuf,
    pub epochs_completed: usize,
    pub best_val_loss: Option<f64>,
    pub best_epoch: usize,
    pub last_train_loss: Option<f64>,
    pub stopped_early: bool,
}

/// Trains the task `config` describes (`task.kind`, looked up in `crate::tasks`) on the data its
/// config names, writing checkpoints and metrics under its output folder.
pub fn train(config: &Config, options: &TrainOptions, observer: &mut dyn TrainObserver) -> Result<TrainSummary> {
    train_with(config, TaskData::FromConfig, options, observer)
}

/// Trains with data the caller made: the seam for tasks whose data a Python task module
/// generates. Everything else (model, loop, checkpoints) is as for [`train`].
pub fn train_with(
    config: &Config,
    data: TaskData,
    options: &TrainOptions,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary> {
    train_inner(config, data, options, observer, None)
}

/// [`train_with`] as one process of a data-parallel run: every process runs this with the same
/// config and data, takes its share of every global batch (where its task shards them: see
/// [`super::Shard`]), and `collective` sums the gradients, so the processes keep equal weights
/// and train as one process would on the whole batch. Rank 0 alone writes the run folder; a
/// stop (Ctrl-C, a callback's error) on any process stops all of them at the same step.
pub fn train_distributed(
    config: &Config,
    data: TaskData,
    options: &TrainOptions,
    observer: &mut dyn TrainObserver,
    collective: Box<dyn Collective>,
) -> Result<TrainSummary> {
    train_inner(config, data, options, observer, Some(collective))
}

fn train_inner(
    config: &Config,
    data: TaskData,
    options: &TrainOptions,
    observer: &mut dyn TrainObserver,
    collective: Option<Box<dyn Collective>>,
) -> Result<TrainSummary> {
    let writer = collective.as_ref().is_none_or(|c| c.rank() == 0);
    device::set_threads(config.training.threads);
    device::keep_freed_memory();
    // Past a file-size limit (`ulimit -f`) a write then fails with an error the save reports,
    // where the signal's default would kill the process mid-save.
    // SAFETY: setting a signal's disposition to "ignore" runs no handler code.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let device = device::resolve(config.training.device)?;
    let precision = precision::resolve(config.training.precision, device);
    let run_dir = config.output_dir();
    // Held until training ends: no second run writes this folder meanwhile (the writing process's).
    let _lock = if writer { Some(super::lock::RunLock::acquire(&run_dir)?) } else { None };
    let resumed = if options.resume { Some(resume_point(&run_dir, config)?) } else { refuse_overwrite(&run_dir)? };
    let config = tasks::settle(config, &data)?;
    let init = match (&config.training.init_from, &resumed) {
        (Some(path), None) => Some(checkpoint::load(&checkpoint::resolve(path)?)?),
        _ => None,
    };
    let context = TaskContext { device, compute: precision.compute, resumed: resumed.as_ref(), init: init.as_ref() };
    let mut task = tasks::open(&config, data, &context)?;
    let grown = task.grown_rows();
    let init_from = init.map(|ckpt| checkpoint::load_matching(task.vs_mut(), &ckpt.dir, &grown)).transpose()?;
    let frozen = checkpoint::freeze(task.vs(), &config.training.freeze)?;
    let mut learner = Learner::open(config, task, device, precision, run_dir, resumed, &frozen, collective)?;
    learner.share_weights()?;
    learner.repair_best()?;
    learner.init_from = init_from;
    observer.on_start(&learner.info());
    learner.run(observer)
}

struct Learner {
    config: Config,
    device: Device,
    precision: Resolved,
    task: Box<dyn Task>,
    optimizer: Optimizer,
    schedule: LrSchedule,
    state: TrainState,
    run_dir: PathBuf,
    /// The run's metrics files: the writing process's (rank 0, or the only one).
    metrics: Option<MetricsLog>,
    steps: Option<StepLog>,
    /// The other processes of a data-parallel run.
    collective: Option<Box<dyn Collective>>,
    /// The epoch the task has planned, and its number of steps.
    planned: (usize, usize),
    /// Where a new run's weights came from, in words (`training.init_from`).
    init_from: Option<String>,
    /// Parameters `training.freeze` keeps fixed.
    frozen_parameters: i64,
}

impl Learner {
    #[allow(clippy::too_many_arguments)] // what a run is made of, gathered once by `train_inner`
    fn open(
        config: Config,
        mut task: Box<dyn Task>,
        device: Device,
        precision: Resolved,
        run_dir: PathBuf,
        resumed: Option<Checkpoint>,
        frozen: &[(String, i64)],
        collective: Option<Box<dyn Collective>>,
    ) -> Result<Self> {
        let mut optimizer = task.optimizer(&config.training);
        optimizer.retain(|name| !frozen.iter().any(|(f, _)| f == name));
        let mut state = match &resumed {
            Some(ckpt) => {
                checkpoint::load_weights(task.vs_mut(), &ckpt.dir)?;
                optimizer.load(&ckpt.dir.join(checkpoint::OPTIMIZER_FILE), ckpt.state.step as i64)?;
                ckpt.state.clone()
            }
            None => TrainState::new(config.training.seed),
        };
        let steps_in_epoch = epoch_steps(task.as_mut(), &config, state.epoch)?;
        let planned = (state.epoch, steps_in_epoch);
        let t = &config.training;
        let schedule =
            LrSchedule::new(t.learning_rate, t.warmup_steps, t.epochs * steps_in_epoch, t.min_lr_ratio, &t.restart);
        state.precision = Some(precision.compute.name().to_string());
        state.precision_reason = Some(precision.reason.clone());
        let writer = collective.as_ref().is_none_or(|c| c.rank() == 0);
        let (metrics, steps) = if writer {
            std::fs::create_dir_all(&run_dir).map_err(|e| TatError::io(&run_dir, e))?;
            (Some(MetricsLog::open(&run_dir, state.epoch)?), Some(StepLog::open(&run_dir, state.step)?))
        } else {
            (None, None)
        };
        let frozen_parameters = frozen.iter().map(|(_, n)| n).sum();
        Ok(Self {
            config,
            device,
            precision,
            task,
            optimizer,
            schedule,
            state,
            run_dir,
            metrics,
            steps,
            planned,
            init_from: None,
            frozen_parameters,
            collective,
        })
    }

    /// Whether this process writes the run folder (rank 0, or the only process).
    fn writer(&self) -> bool {
        self.collective.as_ref().is_none_or(|c| c.rank() == 0)
    }

    /// Every process of a data-parallel run starts from rank 0's weights (a fresh model's
    /// initialisation need not agree between processes).
    fn share_weights(&mut self) -> Result<()> {
        let Some(collective) = self.collective.as_deref_mut() else { return Ok(()) };
        let mut named: Vec<(String, tch::Tensor)> = self.task.vs().variables().into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let _guard = tch::no_grad_guard();
        for (_, value) in named {
            // A contiguous view of the variable: the broadcast writes its memory.
            collective.broadcast(&value.view([-1]))?;
        }
        Ok(())
    }

    /// Whether any process asks to stop (all of them then stop at this step).
    fn any_stops(&mut self, stop: bool) -> Result<bool> {
        let Some(collective) = self.collective.as_deref_mut() else { return Ok(stop) };
        let flag = tch::Tensor::from_slice(&[f64::from(u8::from(stop))]);
        collective.all_reduce_sum(&flag)?;
        Ok(flag.double_value(&[0]) > 0.0)
    }

    /// A run stopped between writing `last` and `best` (a kill, a failed save) left `best` an
    /// epoch behind the state it resumes from, whose best epoch is the one `last` holds: `best`
    /// is written again from it.
    fn repair_best(&mut self) -> Result<()> {
        if !self.writer() {
            return Ok(());
        }
        let s = &self.state;
        // Only a `last` written at the end of its epoch holds the best epoch's weights (a Ctrl-C
        // save is mid-epoch).
        if s.epoch == 0 || s.batch_in_epoch != 0 || s.best_epoch != s.epoch {
            return Ok(());
        }
        let best = checkpoint::existing(&self.run_dir.join(BEST)).and_then(|dir| checkpoint::load(&dir).ok());
        if best.is_some_and(|b| b.state.epoch == s.epoch) {
            return Ok(());
        }
        self.save(BEST)
    }

    fn info(&self) -> RunInfo {
        let sizes = self.task.describe();
        RunInfo {
            run_dir: self.run_dir.clone(),
            device: device::name(self.device),
            precision: self.precision.clone(),
            parameters: sizes.parameters,
            vocab_size: sizes.vocab_size,
            train_examples: sizes.train_examples,
            val_examples: sizes.val_examples,
            test_examples: sizes.test_examples,
            start_epoch: self.state.epoch,
            epochs: self.config.training.epochs,
            batches_per_epoch: self.planned.1,
            init_from: self.init_from.clone(),
            frozen_parameters: self.frozen_parameters,
        }
    }

    fn run(&mut self, observer: &mut dyn TrainObserver) -> Result<TrainSummary> {
        let t = &self.config.training;
        let (epochs, early_stopping, patience) = (t.epochs, t.early_stopping, t.patience);
        let mut stopped_early = false;
        while self.state.epoch < epochs {
            if early_stopping && self.state.epochs_without_improvement >= patience {
                stopped_early = true;
                break;
            }
            let started = Instant::now();
            let (examples, tokens) = self.train_epoch(observer).map_err(|e| self.saved_if_interrupted(e))?;
            let seconds = started.elapsed().as_secs_f64();
            let metrics = self.finish_epoch(examples, tokens, seconds).map_err(|e| self.saved_if_interrupted(e))?;
            observer.on_epoch(&metrics);
        }
        // The other processes wait for rank 0's last writes before they return and read them.
        self.any_stops(false)?;
        Ok(TrainSummary {
            run_dir: self.run_dir.clone(),
            epochs_completed: self.state.epoch,
            best_val_loss: self.state.best_val_loss,
            best_epoch: self.state.best_epoch,
            last_train_loss: self.state.train_loss,
            stopped_early,
        })
    }

    /// One epoch of steps (continuing a partial epoch after a Ctrl-C resume). Returns the
    /// examples and tokens processed, for throughput.
    fn train_epoch(&mut self, observer: &mut dyn TrainObserver) -> Result<(usize, usize)> {
        let seed = self.config.training.seed;
        if self.planned.0 != self.state.epoch {
            let steps = epoch_steps(self.task.as_mut(), &self.config, self.state.epoch)?;
            self.planned = (self.state.epoch, steps);
        }
        let steps = self.planned.1;
        if self.state.batch_in_epoch > steps {
            return Err(TatError::Checkpoint(format!(
                "{}: batch_in_epoch = {} is past the epoch's {steps} batches: the state does not belong with \
                 this run's data. Fix: resume with the data and config the run was trained with, or train again.",
                self.run_dir.join(crate::checkpoint::LAST).join(crate::checkpoint::STATE_FILE).display(),
                self.state.batch_in_epoch,
            )));
        }
        let started = Instant::now();
        let (mut examples, mut tokens) = (0, 0);
        for index in self.state.batch_in_epoch..steps {
            let stop = observer.should_stop();
            if self.any_stops(stop)? {
                return Err(TatError::Interrupted(String::new()));
            }
            tch::manual_seed(step_seed(seed, self.state.step));
            let lr = self.schedule.at(self.state.step);
            let t = &self.config.training;
            let collective = self.collective.as_deref_mut().map(|c| c as &mut dyn Collective);
            let mut update = Update { optimizer: &mut self.optimizer, collective, lr, clip: t.gradient_clip_norm };
            let out = self.task.step(index, &mut update).map_err(|e| match e {
                TatError::Diverged(what) => self.diverged(&what),
                other => other,
            })?;
            self.state.step += 1;
            self.state.batch_in_epoch = index + 1;
            let logged = if out.skipped { f64::NAN } else { out.loss };
            if let Some(steps) = &mut self.steps {
                steps.append(self.state.step, self.state.epoch + 1, logged, lr)?;
            }
            if out.skipped {
                self.state.skipped_steps += 1;
            } else {
                self.state.partial_loss_sum += out.loss * out.weight as f64;
                self.state.partial_tokens += out.weight;
            }
            examples += out.examples;
            tokens += out.tokens;
            observer.on_step(&StepProgress {
                epoch: self.state.epoch + 1,
                batch: index + 1,
                batches: steps,
                loss: out.loss,
                lr,
                examples_per_sec: examples as f64 / started.elapsed().as_secs_f64(),
            });
        }
        Ok((examples, tokens))
    }

    fn finish_epoch(&mut self, examples: usize, tokens: usize, seconds: f64) -> Result<EpochMetrics> {
        let train_loss = self.state.partial_loss_sum / self.state.partial_tokens.max(1) as f64;
        let validation = {
            let _guard = tch::no_grad_guard();
            self.task.validate()?
        };
        let val_loss = validation.loss;
        let s = &mut self.state;
        s.epoch += 1;
        s.batch_in_epoch = 0;
        s.partial_loss_sum = 0.0;
        s.partial_tokens = 0;
        s.train_loss = Some(train_loss);
        s.val_loss = Some(val_loss);
        let best = s.best_val_loss.is_none_or(|b| val_loss < b);
        if best {
            s.best_val_loss = Some(val_loss);
            s.best_epoch = s.epoch;
            s.epochs_without_improvement = 0;
        } else {
            s.epochs_without_improvement += 1;
        }
        let epoch = s.epoch;
        self.save(LAST)?;
        if best {
            self.save(BEST)?;
        }
        let every = self.config.training.save_every;
        if every > 0 && epoch.is_multiple_of(every) {
            self.save(&format!("epoch_{epoch:04}"))?;
        }
        let metrics = EpochMetrics {
            epoch,
            step: self.state.step,
            train_loss,
            val_loss,
            lr: self.schedule.at(self.state.step.saturating_sub(1)),
            seconds,
            examples_per_sec: examples as f64 / seconds,
            tokens_per_sec: tokens as f64 / seconds,
            best,
            precision: self.precision.compute.name().to_string(),
            val_accuracy: validation.accuracy,
            extra: validation.extra,
        };
        let mut metrics = metrics;
        if self.state.skipped_steps > 0 {
            metrics.extra.insert("skipped_steps".to_string(), self.state.skipped_steps as f64);
        }
        if let Some(log) = &mut self.metrics {
            log.append(&metrics)?;
        }
        Ok(metrics)
    }

    /// Writes checkpoint `name` (the writing process alone; the others return at once).
    fn save(&mut self, name: &str) -> Result<()> {
        if !self.writer() {
            return Ok(());
        }
        if let Some(steps) = &mut self.steps {
            steps.flush()?;
        }
        let parts = SaveParts {
            vs: self.task.vs(),
            optimizer: self.optimizer.state(),
            state: &self.state,
            tokenizer: self.task.tokenizer(),
            config: &self.config,
        };
        checkpoint::save(&self.run_dir.join(name), &parts)
    }

    /// The error for a step whose loss or gradient norm was not finite. Nothing is saved: `last`
    /// keeps the latest state saved before, which was sound.
    fn diverged(&self, what: &str) -> TatError {
        let last = self.run_dir.join(LAST);
        let kept = match checkpoint::existing(&last).and_then(|dir| checkpoint::load(&dir).ok()) {
            Some(c) => format!("{} still holds step {} (epoch {})", c.dir.display(), c.state.step, c.state.epoch),
            None => "no checkpoint was written".to_string(),
        };
        TatError::Diverged(format!(
            "training diverged at step {} (epoch {}, batch {}): {what}; nothing was updated or saved, and {kept}. \
             Fix: lower training.learning_rate, or set training.gradient_clip_norm (e.g. 1.0), then train again \
             (--resume continues from `last`).",
            self.state.step + 1,
            self.state.epoch + 1,
            self.state.batch_in_epoch + 1,
        ))
    }

    /// An error of an epoch as the run reports it: Ctrl-C, whether the observer saw it between
    /// steps or it reached a task's Python data call as `KeyboardInterrupt` (nothing is updated
    /// before a step has its batch, and validation changes nothing), saves `last` at the step
    /// boundary the state holds.
    fn saved_if_interrupted(&mut self, error: TatError) -> TatError {
        match error {
            TatError::Interrupted(_) => self.interrupt(),
            other => other,
        }
    }

    /// Saves `last` at the current step boundary and describes how to continue.
    fn interrupt(&mut self) -> TatError {
        if let Err(e) = self.save(LAST) {
            return e;
        }
        TatError::Interrupted(format!(
            "interrupted in epoch {} after step {}; saved {}. Continue with the same command plus --resume.",
            self.state.epoch + 1,
            self.state.step,
            self.run_dir.join(LAST).display()
        ))
    }
}

/// The torch RNG seed for one optimizer step: a pure function of (seed, step), so a resumed run
/// draws the same dropout masks as an uninterrupted one.
fn step_seed(seed: u64, step: usize) -> i64 {
    (SplitMix64::derived(seed, step as u64 ^ 0x5EED).next_u64() >> 1) as i64
}

/// Plans `epoch` of the task: its steps, at most `training.steps_per_epoch` when that is set.
fn epoch_steps(task: &mut dyn Task, config: &Config, epoch: usize) -> Result<usize> {
    let steps = task.plan_epoch(config.training.seed, epoch)?;
    Ok(match config.training.steps_per_epoch {
        0 => steps,
        cap => steps.min(cap),
    })
}

/// A new run must not overwrite a trained one.
fn refuse_overwrite(run_dir: &Path) -> Result<Option<Checkpoint>> {
    if checkpoint::existing(&run_dir.join(LAST)).is_some() || checkpoint::existing(&run_dir.join(BEST)).is_some() {
        return Err(TatError::Usage(format!(
            "{} already holds a trained run. Fix: add --resume to continue it, pass --out DIR for a new run, or delete the folder.",
            run_dir.display()
        )));
    }
    Ok(None)
}

fn resume_point(run_dir: &Path, config: &Config) -> Result<Checkpoint> {
    let dir = checkpoint::existing(&run_dir.join(LAST)).ok_or_else(|| {
        TatError::Checkpoint(format!(
            "--resume: {} holds no `last` checkpoint to continue from. Fix: drop --resume to start a new run, or pass the --out of the run to continue.",
            run_dir.display()
        ))
    })?;
    let ckpt = checkpoint::load(&dir)?;
    if ckpt.config.model != config.model {
        return Err(TatError::Usage(format!(
            "--resume: the [model] section of the config differs from the checkpoint's ({}). Fix: resume with the config the run was started with.",
            dir.join(checkpoint::CONFIG_FILE).display()
        )));
    }
    Ok(ckpt)
}
