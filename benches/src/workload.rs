//! What is timed: the config's model (random init, seeded) and one fixed batch of real examples,
//! and the file that hands the same batch to the PyTorch baseline.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;
use tat_core::config::{Config, ModelConfig, Precision};
use tat_core::error::{Result, TatError};
use tat_core::model::transformer::sequence_loss;
use tat_core::model::{parameter_count, Seq2SeqTransformer};
use tat_core::precision::{self, Compute, Resolved};
use tat_core::rng::SplitMix64;
use tat_core::tasks::pairs::batch::{collate, encode_examples, epoch_batches, Batch, EncodedPair};
use tat_core::tokenizer::{BOS_ID, EOS_ID, PAD_ID};
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// New tokens per generation run, `<eos>` or not.
pub const NEW_TOKENS: usize = 64;

pub struct Workload {
    /// The config with `training.precision` decided for this machine (never `auto`), so that the
    /// PyTorch baseline runs in the same precision.
    pub config: Config,
    pub precision: Resolved,
    pub device: Device,
    pub vs: VarStore,
    pub model: Seq2SeqTransformer,
    pub vocab_size: usize,
    pub batch: Batch,
    /// Non-pad source plus target tokens of the batch (target = decoder outputs, as the trainer counts them).
    pub tokens: usize,
    /// The first example's prompt ids (prompt + `<eos>`), for the generation runs.
    pub prompt: Vec<i64>,
}

impl Workload {
    pub fn load(mut config: Config, device: Device) -> Result<Self> {
        let ModelConfig::Transformer(model_config) = config.model.clone() else {
            return Err(TatError::Usage(format!(
                "the benchmark times a transformer, but this config's model is a {}. Fix: pass a WGSL config.",
                config.model.architecture()
            )));
        };
        let precision = precision::resolve(config.training.precision, device);
        config.training.precision = match precision.compute {
            Compute::Fp32 => Precision::Fp32,
            Compute::Bf16 => Precision::Bf16,
        };
        let splits = tat_core::tasks::wgsl_generation::dataset_splits(&config)?;
        let tokenizer = tat_core::tasks::wgsl_generation::build_tokenizer(&config, &splits)?;
        let dataset = config.dataset_path().display().to_string();
        let train = encode_examples(&tokenizer, &splits.train, model_config.max_seq_len, &dataset)?;
        let pairs = typical_batch(&train, config.training.batch_size, config.training.seed)?;
        let batch = collate(&pairs, device);
        let tokens = batch.target_tokens + pairs.iter().map(|p| p.src.len()).sum::<usize>();

        tch::manual_seed(config.training.seed as i64);
        let vs = VarStore::new(device);
        let vocab_size = tokenizer.vocab_size();
        let model = Seq2SeqTransformer::new(&vs.root(), &model_config, vocab_size as i64, precision.compute);
        let prompt = pairs[0].src.clone();
        Ok(Self { config, precision, device, vs, model, vocab_size, batch, tokens, prompt })
    }

    pub fn parameters(&self) -> i64 {
        parameter_count(&self.vs)
    }

    /// Writes what the PyTorch baseline needs to build the same model and feed it the same
    /// tokens: the resolved `[model]` and `[training]` sections (defaults filled in, so Python
    /// never re-reads the TOML), the batch, the prompt, the parameter names and shapes, and the
    /// initial weights (next to `path`, as `.safetensors`) with the loss they give on the batch
    /// without dropout, so that the baseline can prove it computes the same function.
    pub fn dump(&self, path: &Path) -> Result<()> {
        let weights = path.with_extension("safetensors");
        self.vs.save(&weights).map_err(|e| TatError::io(&weights, std::io::Error::other(e.to_string())))?;
        let shapes: BTreeMap<String, Vec<i64>> =
            self.vs.variables().into_iter().map(|(name, t)| (name, t.size())).collect();
        let dump = json!({
            "config": self.config.source,
            "model": self.config.model,
            "training": self.config.training,
            "vocab_size": self.vocab_size,
            "pad_id": PAD_ID,
            "bos_id": BOS_ID,
            "eos_id": EOS_ID,
            "new_tokens": NEW_TOKENS,
            "parameters": self.parameters(),
            "parameter_shapes": shapes,
            "weights": weights.file_name().map(|n| n.to_string_lossy()),
            "eval_loss": self.eval_loss(),
            "src": rows(&self.batch.src),
            "tgt_in": rows(&self.batch.tgt_in),
            "tgt_out": rows(&self.batch.tgt_out),
            "prompt": self.prompt,
        });
        std::fs::write(path, dump.to_string()).map_err(|e| TatError::io(path, e))
    }

    /// The batch's loss without dropout and without gradients.
    fn eval_loss(&self) -> f64 {
        let _guard = tch::no_grad_guard();
        let logits = self.model.forward(&self.batch.src, &self.batch.tgt_in, false);
        sequence_loss(&logits, &self.batch.tgt_out).double_value(&[])
    }
}

/// The full batch of the trainer's first epoch whose padded size is closest to the epoch's mean:
/// a step of average cost. Lengths are skewed (mostly one-line snippets, a few whole shaders), so
/// the median batch is much cheaper than the average step, and the first one is any step at all.
fn typical_batch(train: &[EncodedPair], batch_size: usize, seed: u64) -> Result<Vec<&EncodedPair>> {
    let mut rng = SplitMix64::derived(seed, 0);
    let padded = |ids: &[usize]| {
        let width = |len: fn(&EncodedPair) -> usize| ids.iter().map(|&i| len(&train[i])).max().unwrap_or(0);
        (width(|p| p.src.len()) + width(|p| p.tgt.len())) as f64
    };
    let full: Vec<Vec<usize>> =
        epoch_batches(train, batch_size, &mut rng).into_iter().filter(|b| b.len() == batch_size).collect();
    let mean = full.iter().map(|b| padded(b)).sum::<f64>() / full.len().max(1) as f64;
    let typical = full.iter().min_by(|a, b| (padded(a) - mean).abs().total_cmp(&(padded(b) - mean).abs()));
    let typical = typical.ok_or_else(|| {
        TatError::Dataset(format!(
            "the train split has {} examples, fewer than training.batch_size = {batch_size}. \
             Fix: lower training.batch_size or use a larger dataset.",
            train.len()
        ))
    })?;
    Ok(typical.iter().map(|&i| &train[i]).collect())
}

/// A `[B, L]` int64 tensor as rows of ids.
fn rows(t: &Tensor) -> Vec<Vec<i64>> {
    let width = t.size()[1] as usize;
    let flat = Vec::<i64>::try_from(t.to_device(Device::Cpu).view([-1])).expect("token ids are int64");
    flat.chunks(width).map(<[i64]>::to_vec).collect()
}
