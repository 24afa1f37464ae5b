//! The text-pair task both text kinds train as: an input text, an output text, a sequence model
//! (the encoder-decoder transformer or the binder) and its loss.

pub mod batch;

use tch::nn::VarStore;
use tch::Device;

use self::batch::{collate, encode_examples, epoch_batches, fixed_batches, Batch, EncodedPair};
use super::TaskContext;
use crate::config::Config;
use crate::data::wgsl::Splits;
use crate::error::Result;
use crate::model::binder::BinderInput;
use crate::model::transformer::sequence_loss;
use crate::model::{parameter_count, Network};
use crate::tokenizer::Tokenizer;
use crate::train::{StepOutput, Task, TaskSizes, Update, Validation};

/// The checks both text-pair tasks make: a tokenizer they learn from their training split.
pub(super) fn issues(config: &Config, check: &mut dyn FnMut(bool, &str, String, &str)) {
    check(
        config.tokenizer.kind != crate::config::TokenizerKind::Bpe,
        "tokenizer.type",
        "\"bpe\"".into(),
        "\"wgsl\" or \"words\" (a tokenizer learned from the training split)",
    );
}

pub struct PairsTask {
    vs: VarStore,
    model: Network,
    tokenizer: Tokenizer,
    device: Device,
    batch_size: usize,
    shuffle: crate::config::Shuffle,
    train: Vec<EncodedPair>,
    val: Vec<EncodedPair>,
    test_examples: usize,
    /// The current epoch's batches, as indices into `train`.
    batches: Vec<Vec<usize>>,
}

impl PairsTask {
    /// Encodes the splits with the run's tokenizer (the resumed checkpoint's, else one learned
    /// from the training split) and builds the model.
    pub fn open(config: &Config, splits: Splits, context: &TaskContext) -> Result<Self> {
        let tokenizer = match context.resumed.or(context.init) {
            Some(ckpt) => ckpt.tokenizer()?.clone(),
            None => super::wgsl_generation::build_tokenizer(config, &splits)?,
        };
        Self::with_tokenizer(config, splits, tokenizer, context)
    }

    /// Encodes the splits with `tokenizer` and builds the model.
    pub fn with_tokenizer(
        config: &Config,
        splits: Splits,
        tokenizer: Tokenizer,
        context: &TaskContext,
    ) -> Result<Self> {
        let dataset_name = match &config.dataset.path {
            Some(path) => path.display().to_string(),
            None => format!("the {} task's examples", config.task.name),
        };
        let max_len = config.model.max_seq_len().expect("a text task has a text model (checked)");
        let train = encode_examples(&tokenizer, &splits.train, max_len, &dataset_name)?;
        let val = encode_examples(&tokenizer, &splits.val, max_len, &dataset_name)?;
        tch::manual_seed(config.training.seed as i64);
        let vs = VarStore::new(context.device);
        let model = Network::new(&vs.root(), &config.model, tokenizer.vocab_size() as i64, context.compute);
        Ok(Self {
            vs,
            model,
            tokenizer,
            device: context.device,
            batch_size: config.training.batch_size,
            shuffle: config.training.shuffle,
            train,
            val,
            test_examples: splits.test.len(),
            batches: Vec::new(),
        })
    }
}

impl Task for PairsTask {
    fn vs(&self) -> &VarStore {
        &self.vs
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
            train_examples: self.train.len(),
            val_examples: self.val.len(),
            test_examples: self.test_examples,
        }
    }

    fn plan_epoch(&mut self, seed: u64, epoch: usize) -> Result<usize> {
        self.batches = epoch_batches(&self.train, self.batch_size, &mut self.shuffle.rng(seed, epoch));
        Ok(self.batches.len())
    }

    /// One step on this process's share of the batch (all of it on one process), the loss
    /// weighted by its own denominator so that a data-parallel run's gradient is the whole
    /// batch's.
    fn step(&mut self, index: usize, update: &mut Update) -> Result<StepOutput> {
        let all = &self.batches[index];
        let mine = &all[update.shard().range(all.len())];
        if mine.is_empty() {
            // A share of nothing (a batch smaller than the number of processes) still joins the sum.
            let shared = update.gradient_step_weighted(&tch::Tensor::from(0.0f32), 0.0)?;
            let weight = self.global_weight(shared.weight, all.len());
            return Ok(StepOutput { loss: shared.loss, weight, examples: 0, tokens: 0, skipped: false });
        }
        let pairs: Vec<&EncodedPair> = mine.iter().map(|&i| &self.train[i]).collect();
        let batch = collate(&pairs, self.device);
        let denominator = match &self.model {
            Network::Transformer(_) => batch.target_tokens,
            // The binder's loss is per word: its targets are the words without `<eos>`.
            Network::Binder(_) => batch.target_tokens - batch.examples,
        };
        let shared = update.gradient_step_weighted(&batch_loss(&self.model, &batch, true), denominator as f64)?;
        Ok(StepOutput {
            loss: shared.loss,
            weight: self.global_weight(shared.weight, all.len()),
            examples: batch.examples,
            tokens: batch.target_tokens + pairs.iter().map(|p| p.src.len()).sum::<usize>(),
            skipped: false,
        })
    }

    /// Token-weighted mean loss over the validation split, without dropout.
    fn validate(&mut self) -> Result<Validation> {
        let (mut sum, mut count) = (0.0, 0usize);
        for ids in fixed_batches(self.val.len(), self.batch_size) {
            let pairs: Vec<&EncodedPair> = ids.iter().map(|&i| &self.val[i]).collect();
            let batch = collate(&pairs, self.device);
            sum += batch_loss(&self.model, &batch, false).double_value(&[]) * batch.target_tokens as f64;
            count += batch.target_tokens;
        }
        Ok(Validation { loss: sum / count.max(1) as f64, ..Validation::default() })
    }
}

impl PairsTask {
    /// The target tokens of a whole batch of `examples` whose losses' denominators summed to
    /// `denominator` over the processes: the epoch's mean weighs each step by these, as on one
    /// process.
    fn global_weight(&self, denominator: f64, examples: usize) -> usize {
        let denominator = denominator.round() as usize;
        match &self.model {
            Network::Transformer(_) => denominator,
            Network::Binder(_) => denominator + examples,
        }
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
