//! A trained run used as a function from input texts to output texts: the inference side of tasks
//! driven from Python (the binding task evaluates and serves its models through this).

use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::checkpoint;
use crate::config::{Config, DeviceChoice, ModelConfig, Precision};
use crate::device;
use crate::error::{Result, TatError};
use crate::generate::Generator;
use crate::model::binder::{BinderInput, BinderOutput, Emitted};
use crate::model::Binder;
use crate::precision;
use crate::tasks::pairs::batch::{collate, encode_input, EncodedPair};
use crate::tokenizer::Tokenizer;

/// Programs decoded per forward pass.
const BATCH: usize = 256;

pub enum Transducer {
    Binder(BinderRun),
    Transformer(Generator),
}

pub struct BinderRun {
    model: Binder,
    tokenizer: Tokenizer,
    config: Config,
    device: Device,
    _vs: VarStore,
}

/// How the binder produced one output: per output word, where it read it from.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub words: Vec<String>,
    /// `[words, vocabulary]` row-major: the log-probabilities behind each output word (the
    /// vocabulary is [`Transducer::vocabulary`]; `<pad>` is "emit nothing").
    pub action_logits: Vec<f32>,
    /// Per output word, the input position (index into the program's words) it was read from.
    pub bindings: Vec<i64>,
    /// `[words, input words]` row-major: per output word, each input position's share of the
    /// pointer the word was copied through (rows sum to 1 less any share on `<eos>`).
    pub binding_scores: Vec<f32>,
    pub vocabulary_size: usize,
    pub input_words: usize,
}

impl Transducer {
    /// Loads a run folder (its `best`, else `last`) or a checkpoint folder.
    pub fn load(path: &Path, device: DeviceChoice) -> Result<Self> {
        Self::load_with(path, device, None)
    }

    /// [`Transducer::load`] computing in `precision` instead of the checkpoint's.
    pub fn load_with(path: &Path, device: DeviceChoice, precision: Option<Precision>) -> Result<Self> {
        let dir = checkpoint::resolve(path)?;
        let ckpt = checkpoint::load(&dir)?;
        let ModelConfig::Binder(model_config) = &ckpt.config.model else {
            return Ok(Transducer::Transformer(Generator::load_with(&dir, device, precision)?));
        };
        let device = device::resolve(device)?;
        let compute = precision::resolve(precision.unwrap_or(ckpt.config.training.precision), device).compute;
        let mut vs = VarStore::new(device);
        let tokenizer = ckpt.tokenizer()?.clone();
        let model = Binder::new(&vs.root(), model_config, tokenizer.vocab_size() as i64, compute);
        checkpoint::load_weights(&mut vs, &dir)?;
        Ok(Transducer::Binder(BinderRun { model, tokenizer, config: ckpt.config, device, _vs: vs }))
    }

    pub fn config(&self) -> &Config {
        match self {
            Transducer::Binder(run) => &run.config,
            Transducer::Transformer(generator) => generator.config(),
        }
    }

    /// The ids' words, in id order.
    pub fn vocabulary(&self) -> Vec<String> {
        let tokenizer = match self {
            Transducer::Binder(run) => &run.tokenizer,
            Transducer::Transformer(generator) => generator.tokenizer(),
        };
        (0..tokenizer.vocab_size() as i64).map(|id| tokenizer.id_to_piece(id).unwrap_or_default().to_owned()).collect()
    }

    /// The output text for each input, greedily decoded.
    pub fn predict(&self, inputs: &[&str]) -> Vec<String> {
        match self {
            Transducer::Binder(run) => inputs.chunks(BATCH).flat_map(|chunk| run.predict(chunk)).collect(),
            Transducer::Transformer(generator) => inputs
                .chunks(BATCH)
                .flat_map(|chunk| generator.generate_batch(chunk, generator.max_new_tokens()))
                .collect(),
        }
    }

    /// The binder's output for one input with, per output word, the pointer behind it.
    pub fn explain(&self, input: &str) -> Result<Explanation> {
        match self {
            Transducer::Binder(run) => Ok(run.explain(input)),
            Transducer::Transformer(_) => Err(TatError::Usage(
                "this run is a plain transformer (the baseline): it has no binding component to explain. \
                 Fix: load the binder run (runs/<task>/binder/...) to get bindings."
                    .into(),
            )),
        }
    }
}

impl BinderRun {
    fn run(&self, inputs: &[&str]) -> (BinderOutput, Vec<Vec<Emitted>>) {
        let _guard = tch::no_grad_guard();
        let pairs: Vec<EncodedPair> = inputs.iter().map(|text| encode_input(&self.tokenizer, text)).collect();
        let batch = collate(&pairs.iter().collect::<Vec<_>>(), self.device);
        let input = BinderInput { src: &batch.src, identities: &batch.src_identities, lengths: &batch.src_lengths };
        let output = self.model.forward(&input, false);
        let emitted = self.model.decode(&output, &batch.src_lengths);
        (output, emitted)
    }

    fn predict(&self, inputs: &[&str]) -> Vec<String> {
        let (_, emitted) = self.run(inputs);
        emitted.iter().map(|row| self.tokenizer.decode(&row.iter().map(|e| e.id).collect::<Vec<_>>())).collect()
    }

    fn explain(&self, input: &str) -> Explanation {
        let (output, emitted) = self.run(&[input]);
        let emitted = &emitted[0];
        let input_words = input.split_whitespace().count() as i64;
        let slots = Tensor::from_slice(&emitted.iter().map(|e| e.slot).collect::<Vec<_>>()).to_device(self.device);
        let logits = output.log_probs.get(0).index_select(0, &slots).to_kind(Kind::Float).to_device(Device::Cpu);
        // The copy draws a word in proportion to the pointer's positive weight on the positions
        // holding it (the memory's delta-rule writes can leave small negative weights): that
        // share per position is what the choice rests on.
        let pointer = output.pointer.get(0).index_select(0, &slots).clamp_min(0.0);
        let shares = &pointer / pointer.sum_dim_intlist(-1, true, Kind::Float).clamp_min(1e-12);
        let scores = shares.narrow(1, 0, input_words).to_kind(Kind::Float).to_device(Device::Cpu);
        let bindings =
            if emitted.is_empty() { Vec::new() } else { Vec::try_from(scores.argmax(1, false)).expect("int64") };
        Explanation {
            words: emitted.iter().map(|e| self.tokenizer.decode(&[e.id])).collect(),
            action_logits: Vec::try_from(logits.flatten(0, -1)).expect("f32"),
            bindings,
            binding_scores: Vec::try_from(scores.flatten(0, -1)).expect("f32"),
            vocabulary_size: self.tokenizer.vocab_size(),
            input_words: input_words as usize,
        }
    }
}
