//! The training loop.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tch::nn::VarStore;
use tch::Device;

use super::batch::{collate, encode_examples, epoch_batches, fixed_batches, Batch, EncodedPair};
use super::checkpoint::{self, SaveParts, TrainState, BEST, LAST};
use super::metrics::{EpochMetrics, MetricsLog};
use super::optim::AdamW;
use super::schedule::LrSchedule;
use crate::config::Config;
use crate::data::wgsl::Splits;
use crate::device;
use crate::error::{Result, TatError};
use crate::model::binder::BinderInput;
use crate::model::transformer::sequence_loss;
use crate::model::{parameter_count, Network};
use crate::precision::{self, Resolved};
use crate::rng::SplitMix64;
use crate::tokenizer::Tokenizer;

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

/// Trains the model `config` describes on its dataset file, writing checkpoints and metrics under
/// its output folder.
pub fn train(config: &Config, options: &TrainOptions, observer: &mut dyn TrainObserver) -> Result<TrainSummary> {
    let splits = super::dataset_splits(config)?;
    // Checkpoints record where the data came from, independent of the config's folder.
    let dataset_path = config.dataset_path();
    let mut config = config.clone();
    config.dataset.path = Some(dataset_path.canonicalize().map_err(|e| TatError::io(&dataset_path, e))?);
    config.source = None;
    train_examples(&config, splits, options, observer)
}

/// Trains on examples the caller made: the seam for tasks whose data a Python task module
/// generates. Everything else (tokenizer, model, loop, checkpoints) is as for [`train`].
pub fn train_examples(
    config: &Config,
    splits: Splits,
    options: &TrainOptions,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary> {
    let mut session = Session::open(config, splits, options)?;
    observer.on_start(&session.info());
    session.run(observer)
}

struct Session {
    config: Config,
    device: Device,
    precision: Resolved,
    vs: VarStore,
    model: Network,
    optimizer: AdamW,
    schedule: LrSchedule,
    tokenizer: Tokenizer,
    train: Vec<EncodedPair>,
    val: Vec<EncodedPair>,
    test_examples: usize,
    state: TrainState,
    run_dir: PathBuf,
    metrics: MetricsLog,
}

impl Session {
    fn open(config: &Config, splits: Splits, options: &TrainOptions) -> Result<Self> {
        device::set_threads(config.training.threads);
        let device = device::resolve(config.training.device)?;
        let precision = precision::resolve(config.training.precision, device);
        let run_dir = config.output_dir();
        let resumed = if options.resume { Some(resume_point(&run_dir, config)?) } else { refuse_overwrite(&run_dir)? };
        let tokenizer = match &resumed {
            Some(ckpt) => ckpt.tokenizer.clone(),
            None => super::build_tokenizer(config, &splits),
        };
        let dataset_name = match &config.dataset.path {
            Some(path) => path.display().to_string(),
            None => format!("the {} task's examples", config.task.name),
        };
        let max_len = config.model.max_seq_len;
        let train = encode_examples(&tokenizer, &splits.train, max_len, &dataset_name)?;
        let val = encode_examples(&tokenizer, &splits.val, max_len, &dataset_name)?;

        tch::manual_seed(config.training.seed as i64);
        let mut vs = VarStore::new(device);
        let model = Network::new(&vs.root(), &config.model, tokenizer.vocab_size() as i64, precision.compute);
        let mut optimizer = AdamW::new(&vs, &config.training);
        let batches_per_epoch = train.len().div_ceil(config.training.batch_size);
        let schedule = LrSchedule {
            peak: config.training.learning_rate,
            warmup_steps: config.training.warmup_steps,
            total_steps: config.training.epochs * batches_per_epoch,
            min_ratio: config.training.min_lr_ratio,
        };
        let mut state = match &resumed {
            Some(ckpt) => {
                checkpoint::load_weights(&mut vs, &ckpt.dir)?;
                optimizer.load(&ckpt.dir.join(checkpoint::OPTIMIZER_FILE), ckpt.state.step as i64)?;
                ckpt.state.clone()
            }
            None => TrainState::new(config.training.seed),
        };
        state.precision = Some(precision.compute.name().to_string());
        state.precision_reason = Some(precision.reason.clone());
        std::fs::create_dir_all(&run_dir).map_err(|e| TatError::io(&run_dir, e))?;
        let metrics = MetricsLog::open(&run_dir, state.epoch)?;
        Ok(Self {
            config: config.clone(),
            device,
            precision,
            vs,
            model,
            optimizer,
            schedule,
            tokenizer,
            train,
            val,
            test_examples: splits.test.len(),
            state,
            run_dir,
            metrics,
        })
    }

    fn info(&self) -> RunInfo {
        RunInfo {
            run_dir: self.run_dir.clone(),
            device: device::name(self.device),
            precision: self.precision.clone(),
            parameters: parameter_count(&self.vs),
            vocab_size: self.tokenizer.vocab_size(),
            train_examples: self.train.len(),
            val_examples: self.val.len(),
            test_examples: self.test_examples,
            start_epoch: self.state.epoch,
            epochs: self.config.training.epochs,
            batches_per_epoch: self.train.len().div_ceil(self.config.training.batch_size),
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
            let (examples, tokens) = self.train_epoch(observer)?;
            let seconds = started.elapsed().as_secs_f64();
            let metrics = self.finish_epoch(examples, tokens, seconds)?;
            observer.on_epoch(&metrics);
        }
        Ok(TrainSummary {
            run_dir: self.run_dir.clone(),
            epochs_completed: self.state.epoch,
            best_val_loss: self.state.best_val_loss,
            best_epoch: self.state.best_epoch,
            last_train_loss: self.state.train_loss,
            stopped_early,
        })
    }

    /// One epoch of optimizer steps (continuing a partial epoch after a Ctrl-C resume).
    /// Returns the examples and tokens processed, for throughput.
    fn train_epoch(&mut self, observer: &mut dyn TrainObserver) -> Result<(usize, usize)> {
        let t = &self.config.training;
        let mut rng = SplitMix64::derived(t.seed, self.state.epoch as u64);
        let batches = epoch_batches(&self.train, t.batch_size, &mut rng);
        let started = Instant::now();
        let (mut examples, mut tokens) = (0, 0);
        for (index, batch_ids) in batches.iter().enumerate().skip(self.state.batch_in_epoch) {
            if observer.should_stop() {
                return Err(self.interrupt());
            }
            let pairs: Vec<&EncodedPair> = batch_ids.iter().map(|&i| &self.train[i]).collect();
            let batch = collate(&pairs, self.device);
            tch::manual_seed(step_seed(t.seed, self.state.step));
            let lr = self.schedule.at(self.state.step);
            let loss_tensor = batch_loss(&self.model, &batch, true);
            let loss = loss_tensor.double_value(&[]);
            let stepped = if loss.is_finite() {
                self.optimizer.backward_step(&loss_tensor, t.gradient_clip_norm, lr)
            } else {
                Err(TatError::Diverged(format!("the loss is {loss}")))
            };
            stepped.map_err(|e| match e {
                TatError::Diverged(what) => self.diverged(&what),
                other => other,
            })?;
            self.state.step += 1;
            self.state.batch_in_epoch = index + 1;
            self.state.partial_loss_sum += loss * batch.target_tokens as f64;
            self.state.partial_tokens += batch.target_tokens;
            examples += batch.examples;
            tokens += batch.target_tokens + pairs.iter().map(|p| p.src.len()).sum::<usize>();
            observer.on_step(&StepProgress {
                epoch: self.state.epoch + 1,
                batch: index + 1,
                batches: batches.len(),
                loss,
                lr,
                examples_per_sec: examples as f64 / started.elapsed().as_secs_f64(),
            });
        }
        Ok((examples, tokens))
    }

    fn finish_epoch(&mut self, examples: usize, tokens: usize, seconds: f64) -> Result<EpochMetrics> {
        let train_loss = self.state.partial_loss_sum / self.state.partial_tokens.max(1) as f64;
        let val_loss = self.validation_loss();
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
        };
        self.metrics.append(&metrics)?;
        Ok(metrics)
    }

    /// Token-weighted mean loss over the validation split, without dropout.
    fn validation_loss(&self) -> f64 {
        let _guard = tch::no_grad_guard();
        let (mut sum, mut count) = (0.0, 0usize);
        for ids in fixed_batches(self.val.len(), self.config.training.batch_size) {
            let pairs: Vec<&EncodedPair> = ids.iter().map(|&i| &self.val[i]).collect();
            let batch = collate(&pairs, self.device);
            sum += batch_loss(&self.model, &batch, false).double_value(&[]) * batch.target_tokens as f64;
            count += batch.target_tokens;
        }
        sum / count.max(1) as f64
    }

    fn save(&self, name: &str) -> Result<()> {
        let parts = SaveParts {
            vs: &self.vs,
            optimizer: &self.optimizer,
            state: &self.state,
            tokenizer: &self.tokenizer,
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

    /// Saves `last` at the current step boundary and describes how to continue.
    fn interrupt(&self) -> TatError {
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

/// Mean loss per target token: cross-entropy under teacher forcing for the transformer, CTC for
/// the binder (whose targets are the words without `<eos>`).
fn batch_loss(model: &Network, batch: &Batch, train: bool) -> tch::Tensor {
    match model {
        Network::Transformer(m) => sequence_loss(&m.forward(&batch.src, &batch.tgt_in, train), &batch.tgt_out),
        Network::Binder(m) => {
            let input = BinderInput { src: &batch.src, identities: &batch.src_identities, lengths: &batch.src_lengths };
            let words: Vec<i64> = batch.tgt_lengths.iter().map(|n| n - 1).collect();
            let total: i64 = words.iter().sum();
            m.loss(&m.forward(&input, train), &batch.src_lengths, &batch.tgt_out, &words) / total.max(1) as f64
        }
    }
}

/// The torch RNG seed for one optimizer step: a pure function of (seed, step), so a resumed run
/// draws the same dropout masks as an uninterrupted one.
fn step_seed(seed: u64, step: usize) -> i64 {
    (SplitMix64::derived(seed, step as u64 ^ 0x5EED).next_u64() >> 1) as i64
}

/// A new run must not overwrite a trained one.
fn refuse_overwrite(run_dir: &Path) -> Result<Option<checkpoint::Checkpoint>> {
    if run_dir.join(LAST).exists() || run_dir.join(BEST).exists() {
        return Err(TatError::Usage(format!(
            "{} already holds a trained run. Fix: add --resume to continue it, pass --out DIR for a new run, or delete the folder.",
            run_dir.display()
        )));
    }
    Ok(None)
}

fn resume_point(run_dir: &Path, config: &Config) -> Result<checkpoint::Checkpoint> {
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
