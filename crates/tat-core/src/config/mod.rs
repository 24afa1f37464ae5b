//! The training config: one TOML file with `[task] [model] [training] [tokenizer] [dataset]`.
//!
//! This module is the single source of truth for the schema. Unknown keys are rejected, and
//! every error names the file, the line, the field path, what was found and what is expected.

mod model;
mod report;

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{read_text, Result, TatError};
pub use model::{
    drop_foreign_model_keys, AgentConfig, Architecture, BinderConfig, BionetConfig, DiffusionLmConfig, DynamicsConfig,
    EdgeConfig, FeedbackConfig, FeedbackLmConfig, FeedbackVariant, LabelEncoding, ModelConfig, Recipe, RecurrentConfig,
    TransformerConfig, OBJECT_INSTANCES,
};
pub(crate) use report::deserialize as deserialize_toml;
pub use report::ConfigIssue;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub task: TaskConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub training: TrainingConfig,
    #[serde(default)]
    pub tokenizer: TokenizerConfig,
    pub dataset: DatasetConfig,
    /// A second model trained beside `[model]` on the same data, for comparison (tasks driven from
    /// Python train it; the binding task's plain transformer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<ModelConfig>,
    /// The grid-world agent's training mix (`task.kind = "agent"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frameworks: Option<FrameworksConfig>,
    /// Where the config was read from: relative dataset paths resolve against its folder.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Names the run: the default output folder is `runs/<name>`.
    pub name: String,
    #[serde(default)]
    pub kind: TaskKind,
    #[serde(default)]
    pub description: String,
    /// Tasks driven from Python train one run per seed and report the mean and spread; empty means
    /// one run with `training.seed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    #[default]
    WgslGeneration,
    /// Variable binding (`tiny_agent_trainer.tasks.binding`): programs generated in Python.
    Binding,
    /// Classification by a recurrent ±1 network trained with local rules (`tasks::bionet`).
    Bionet,
    /// Masked-diffusion language modelling on gsm8k or wikitext (`tasks::diffusion`).
    MaskedDiffusion,
    /// The grid-world agent (`tiny_agent_trainer.tasks.agent`): pictures and questions made by
    /// Python frameworks every step (`tasks::agent`).
    Agent,
}

/// `[frameworks]`: which grid-world framework makes each training step's batch (drawn with
/// probability proportional to its weight), a curriculum of stages, and the picture loss. The
/// framework names are checked by the Python task module, which knows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FrameworksConfig {
    /// Framework name -> weight (>= 0; 0 leaves it out), such as `{ position_qa = 2, control = 1 }`.
    pub weights: std::collections::BTreeMap<String, f64>,
    /// Stages in force before their `until_step` (and after the previous stage's); the top-level
    /// weights apply after the last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stage: Vec<FrameworkStage>,
    /// The picture loss weighs a pixel this many times more where the target or the input picture
    /// is not floor (the objects cover a few percent of a picture, the gold under 0.1%).
    #[serde(default = "default_foreground_weight")]
    pub foreground_weight: f64,
    /// The picture loss weighs a pixel at least this many times more where the target differs
    /// from the input picture: what a framework asks the model to draw anew (the room without the
    /// gold changes about 12 of 9,216 pixels). 1 leaves only `foreground_weight`.
    #[serde(default = "default_changed_weight")]
    pub changed_weight: f64,
    /// The picture loss weighs a pixel at least this many times more where the model's picture
    /// is more than 0.5 from the target's colour (RGB in [0, 1]; the game's colours lie at least
    /// 1 apart): a stroke painted where nothing changes, such as a flood of line colour over the
    /// floor, then costs as much as a missed object. 1 leaves it out.
    #[serde(default = "default_changed_weight")]
    pub wrong_weight: f64,
    /// Framework name -> how far the picture loss lifts the rare kinds of pixel within that
    /// framework's pictures, 0 to 1, such as `{ imagine_without_gold = 1 }`: a pixel weighs at
    /// least `foreground_weight` x (P / (G x n))^balance (and at least what `changed_weight` and
    /// `wrong_weight` say), where n counts the picture's pixels with the same pair of input and
    /// target colour (colours told apart by which of R, G, B are above half), G the pairs
    /// present and P the pixels. At 1 every pair (the gold kept, the gold erased, the agent)
    /// weighs at least an even share of the picture at the foreground's weight, whether the
    /// prompt keeps or erases it. Frameworks not named (and 0) are left out; the name `*` (or a
    /// number in place of the table, as runs before the table wrote) stands for every framework
    /// not named.
    #[serde(default, deserialize_with = "balance_table")]
    pub colour_balance: std::collections::BTreeMap<String, f64>,
    /// Files of the states agents passed through in closed-loop games (`tat agent visits`), read
    /// by the framework `visited_qa`, which asks the best move about them (the oracle answers):
    /// training on the states a trained agent reaches by its own mistakes (DAgger). Relative
    /// paths resolve against the working directory, as `training.init_from` does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visits: Vec<PathBuf>,
}

/// One `[[frameworks.stage]]` of the curriculum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FrameworkStage {
    pub until_step: usize,
    pub weights: std::collections::BTreeMap<String, f64>,
}

fn default_foreground_weight() -> f64 {
    10.0
}

fn default_changed_weight() -> f64 {
    1.0
}

/// `frameworks.colour_balance`: a table of framework names to balances, or one number for every
/// framework (`*`).
fn balance_table<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<std::collections::BTreeMap<String, f64>, D::Error> {
    struct Balance;
    impl<'de> serde::de::Visitor<'de> for Balance {
        type Value = std::collections::BTreeMap<String, f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a table of framework names to numbers, or one number for every framework")
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
            Ok([(EVERY_FRAMEWORK.to_string(), v)].into())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
            let mut out = std::collections::BTreeMap::new();
            while let Some((name, balance)) = map.next_entry::<String, f64>()? {
                out.insert(name, balance);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(Balance)
}

/// The name in `frameworks.colour_balance` that stands for every framework not named.
pub const EVERY_FRAMEWORK: &str = "*";

impl FrameworksConfig {
    fn issues(&self, check: &mut dyn FnMut(bool, &str, String, &str)) {
        fn weights(
            table: &std::collections::BTreeMap<String, f64>,
            at: &str,
            check: &mut dyn FnMut(bool, &str, String, &str),
        ) {
            for (name, w) in table {
                check(
                    w.is_finite() && *w >= 0.0,
                    &format!("{at}.{name}"),
                    w.to_string(),
                    "a finite number >= 0 (0 leaves the framework out)",
                );
            }
            check(
                table.values().any(|w| *w > 0.0),
                at,
                "no weight above 0".into(),
                "at least one framework with a weight above 0, such as { control = 1 }",
            );
        }
        weights(&self.weights, "frameworks.weights", check);
        let mut previous = 0;
        for (i, stage) in self.stage.iter().enumerate() {
            weights(&stage.weights, &format!("frameworks.stage[{i}].weights"), check);
            check(
                stage.until_step > previous,
                &format!("frameworks.stage[{i}].until_step"),
                stage.until_step.to_string(),
                &format!("a step after the previous stage's ({previous})"),
            );
            previous = stage.until_step;
        }
        check(
            self.foreground_weight.is_finite() && self.foreground_weight >= 1.0,
            "frameworks.foreground_weight",
            self.foreground_weight.to_string(),
            "a number >= 1, such as 10",
        );
        check(
            self.changed_weight.is_finite() && self.changed_weight >= 1.0,
            "frameworks.changed_weight",
            self.changed_weight.to_string(),
            "a number >= 1, such as 30 (1 weighs changed pixels as foreground_weight does)",
        );
        check(
            self.wrong_weight.is_finite() && self.wrong_weight >= 1.0,
            "frameworks.wrong_weight",
            self.wrong_weight.to_string(),
            "a number >= 1, such as 10 (1 leaves it out)",
        );
        for (name, balance) in &self.colour_balance {
            check(
                (0.0..=1.0).contains(balance),
                &format!("frameworks.colour_balance.{name}"),
                balance.to_string(),
                "a number from 0 (left out) to 1 (every pair of input and target colour weighs at least an even share of the picture)",
            );
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub optimizer: OptimizerKind,
    pub weight_decay: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_eps: f64,
    /// Optimizer steps of linear warmup before the cosine decay.
    pub warmup_steps: usize,
    /// The cosine decay ends at `learning_rate * min_lr_ratio`.
    pub min_lr_ratio: f64,
    /// Global gradient-norm clip; 0 disables clipping.
    pub gradient_clip_norm: f64,
    pub early_stopping: bool,
    /// Epochs without a better validation loss before stopping.
    pub patience: usize,
    /// Keep a numbered checkpoint every this many epochs (0: only `best` and `last`).
    pub save_every: usize,
    pub seed: u64,
    /// The order of the training examples: drawn anew every epoch, or drawn once and kept.
    pub shuffle: Shuffle,
    /// An epoch ends after at most this many steps (each epoch still draws its own order, so
    /// the epochs see different batches); 0: an epoch is one pass over the training data.
    pub steps_per_epoch: usize,
    pub device: DeviceChoice,
    pub precision: Precision,
    /// CPU threads for libtorch; 0 lets libtorch choose.
    pub threads: usize,
    /// Run folder; default `runs/<task.name>`.
    pub output_dir: Option<PathBuf>,
    /// A new run starts from the weights of this run or checkpoint folder (its `best`, else
    /// `last`) and keeps its tokenizer (an agent run adds the words its frameworks bring, their
    /// embeddings starting fresh); variables it lacks keep their initialisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
    /// Variables kept fixed during training: names or name prefixes such as `encoder` or
    /// `decoder.layers.0`, where `*` stands for any one part (`blocks.*.up`); each must match a
    /// variable.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub freeze: Vec<String>,
    /// Warm restarts of the learning rate (`[[training.restart]]`, in step order): from each one's
    /// step the rate warms up again to its own peak and decays by the same cosine to
    /// `min_lr_ratio` of it at the next restart or the end of the run. The steps before the
    /// first restart keep the schedule of a run without restarts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restart: Vec<LrRestart>,
}

/// One `[[training.restart]]` of the learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LrRestart {
    /// The optimizer step (0-based) at which the restart begins.
    pub at_step: usize,
    /// The restart's peak learning rate.
    pub learning_rate: f64,
    /// Optimizer steps of linear warmup from the restart's step to its peak.
    #[serde(default)]
    pub warmup_steps: usize,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 100,
            batch_size: 16,
            learning_rate: 1e-4,
            optimizer: OptimizerKind::Adamw,
            weight_decay: 0.01,
            adam_beta1: 0.9,
            adam_beta2: 0.98,
            adam_eps: 1e-9,
            warmup_steps: 100,
            min_lr_ratio: 0.1,
            gradient_clip_norm: 1.0,
            early_stopping: true,
            patience: 15,
            save_every: 10,
            shuffle: Shuffle::EveryEpoch,
            steps_per_epoch: 0,
            seed: 42,
            device: DeviceChoice::Auto,
            precision: Precision::Auto,
            threads: 0,
            output_dir: None,
            init_from: None,
            freeze: Vec::new(),
            restart: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Shuffle {
    /// A new order of the training examples every epoch.
    EveryEpoch,
    /// One order, drawn from the seed, kept for every epoch (darnax's tutorials).
    Once,
}

impl Shuffle {
    /// The generator of epoch `epoch`'s order of examples in a run seeded `seed`.
    pub fn rng(self, seed: u64, epoch: usize) -> crate::rng::SplitMix64 {
        let stream = match self {
            Shuffle::EveryEpoch => epoch as u64,
            Shuffle::Once => 0,
        };
        crate::rng::SplitMix64::derived(seed, stream)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Adamw,
    /// Plain SGD without momentum (weight decay decoupled, as in AdamW).
    Sgd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    /// CUDA when available, else CPU.
    Auto,
    Cpu,
    Cuda,
}

impl std::str::FromStr for DeviceChoice {
    type Err = TatError;
    fn from_str(s: &str) -> Result<Self> {
        parse_choice(s, "device")
    }
}

/// One of a config enum's names as the config spells them, from a command-line flag or argument.
fn parse_choice<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    let text = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(s);
    T::deserialize(text).map_err(|e| {
        let message = e.to_string();
        let expected = message.split_once(", ").map_or(message.as_str(), |(_, rest)| rest);
        TatError::Usage(format!("unknown {what} `{s}`: {expected}"))
    })
}

/// Precision of the matrix products. Weights, optimizer state and reductions stay in fp32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// bf16 where the device multiplies bf16 natively and faster than fp32, else fp32
    /// (decided by `precision::resolve`).
    Auto,
    Fp32,
    /// bf16 matmuls with fp32 master weights: fast on CPUs with bf16 matrix units (AMX), about
    /// 100x slower than fp32 on CPUs without any (AVX2).
    Bf16,
}

impl std::str::FromStr for Precision {
    type Err = TatError;
    fn from_str(s: &str) -> Result<Self> {
        parse_choice(s, "precision")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TokenizerConfig {
    #[serde(rename = "type")]
    pub kind: TokenizerKind,
    /// Pieces seen fewer times in the training split fall back to characters or bytes.
    pub min_freq: usize,
    /// `bpe`: the `tokenizer.json` (or its folder); relative paths resolve against the config
    /// file's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `wgsl` and `words`: an `[[examples]]` file whose training split the vocabulary also learns,
    /// so that a later run on that file which starts from this one (`training.init_from`, which
    /// keeps this tokenizer) reads its prompts in whole pieces; relative paths resolve against the
    /// config file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub also_learn: Option<PathBuf>,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        Self { kind: TokenizerKind::Wgsl, min_freq: 1, path: None, also_learn: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerKind {
    /// Lossless WGSL-aware pieces, whitespace included.
    Wgsl,
    /// Whitespace-separated words; an unknown word is `<unk>`.
    Words,
    /// A byte-level BPE read from a Hugging Face `tokenizer.json` at `path` (GPT-2's).
    Bpe,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// A `[[examples]]` TOML file; relative paths resolve against the config file's folder.
    /// Required by `wgsl_generation`; tasks that generate their data have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default = "default_train_ratio")]
    pub train_ratio: f64,
    #[serde(default = "default_val_ratio")]
    pub val_ratio: f64,
    /// Generated tasks: training examples.
    #[serde(default = "default_train_size")]
    pub train_size: usize,
    /// Generated tasks: examples in each evaluation split.
    #[serde(default = "default_eval_size")]
    pub eval_size: usize,
    /// Bionet: where the examples come from (`prototypes`, or `idx` files in the folder `path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DataSource>,
    /// Bionet prototypes: classes, each a random ±1 prototype.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<usize>,
    /// Bionet prototypes: the prototypes' width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    /// Bionet prototypes: the chance that each bit of an example differs from its prototype.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    /// Bionet IDX: width of the seeded random projection (then sign); 0 keeps the pixels in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection: Option<usize>,
    /// Bionet IDX: training images drawn per class (the rest of the training file is the
    /// validation pool); absent means `train_size` images in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_class: Option<usize>,
    /// Masked diffusion: each document is cut into pieces of at most this many tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// Noisy copies of seeded random ±1 prototypes (darnax tutorial 06).
    Prototypes,
    /// MNIST-format IDX files (`train-images-idx3-ubyte[.gz]` ...) in the folder `dataset.path`.
    Idx,
    /// Arrays a Python program hands over (`tat.train(config, data=...)`), all at once or a fresh
    /// training set per epoch.
    Python,
    /// gsm8k's `train.jsonl` and `test.jsonl` in the folder `dataset.path`.
    Gsm8k,
    /// wikitext-2's raw lines: `train.txt` (else `test.txt`) and `valid.txt` in the folder `dataset.path`.
    Wikitext,
    /// Real shaders: the `.wgsl` files under the folder `dataset.path`, split by file, as pairs of a
    /// stretch of code and the lines after it (at most `block_size` tokens each), to pretrain a
    /// WGSL model on.
    WgslCorpus,
}

fn default_train_ratio() -> f64 {
    0.8
}
fn default_val_ratio() -> f64 {
    0.1
}
fn default_train_size() -> usize {
    20000
}
fn default_eval_size() -> usize {
    1000
}

impl Config {
    /// Reads, parses and checks a config file.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = read_text(path, TatError::Config).map_err(|e| match e {
            TatError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => TatError::Config(format!(
                "{}: config file not found. Fix: pass an existing file to --config \
                     (`tiny-agent-trainer list` shows the shipped ones).",
                path.display()
            )),
            other => other,
        })?;
        let mut config = Self::from_toml_str(&text, &path.display().to_string())?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and checks TOML text; `file` names it in errors.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Config> {
        let config: Config = report::deserialize(text, file)?;
        let issues = config.issues();
        if let Some(issue) = issues.into_iter().next() {
            return Err(issue.into_error(text, file));
        }
        Ok(config)
    }

    /// Applies `section.key=value` overrides (values in TOML syntax; a bare word is a string),
    /// then checks the result like a file.
    pub fn with_overrides(&self, overrides: &[String]) -> Result<Config> {
        if overrides.is_empty() {
            return Ok(self.clone());
        }
        let mut root = toml::Table::try_from(self).expect("a Config always converts to a TOML table");
        // A new `architecture` starts its section afresh (the old one's keys are not its keys),
        // before the other overrides fill it in.
        let (switches, rest): (Vec<&String>, Vec<&String>) = overrides
            .iter()
            .partition(|item| item.split_once('=').is_some_and(|(path, _)| path.trim().ends_with(".architecture")));
        for item in &switches {
            let section = item.split_once('.').map(|(s, _)| s.trim()).unwrap_or_default();
            if let Some(toml::Value::Table(table)) = root.get_mut(section) {
                table.clear();
            }
        }
        for item in switches.into_iter().chain(rest) {
            let (path, raw) = item.split_once('=').ok_or_else(|| {
                TatError::Config(format!(
                    "--set {item}: expected SECTION.KEY=VALUE. Fix: write e.g. --set training.learning_rate=3e-4"
                ))
            })?;
            let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(raw.to_string()));
            set_path(&mut root, path.trim(), value, item)?;
        }
        let text = toml::to_string(&root).expect("overridden table serialises");
        let mut config = Self::from_toml_str(&text, "--set")?;
        config.source = self.source.clone();
        Ok(config)
    }

    /// Parses and checks a config given as JSON (the Python package's models hand configs over
    /// this way): converted to TOML, then read like a file (`file` names it in errors). A null is
    /// an absent key; `{"$float": "inf"}` (or `-inf`, `nan`) is a float JSON cannot write.
    pub fn from_json_str(json: &str, file: &str) -> Result<Config> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            TatError::Config(format!("{file}: not valid JSON: {e}. Fix: pass a config as a dict of sections."))
        })?;
        match json_to_toml(value) {
            Some(toml::Value::Table(table)) => {
                Self::from_toml_str(&toml::to_string(&table).expect("a table converts to TOML"), file)
            }
            _ => {
                Err(TatError::Config(format!("{file}: a config is a table of sections. Fix: pass a dict of sections.")))
            }
        }
    }

    /// The config as JSON, every default filled in, in the form [`Config::from_json_str`] reads.
    pub fn to_json_string(&self) -> String {
        let value = toml::Value::try_from(self).expect("a Config always converts to TOML values");
        serde_json::to_string(&toml_to_json(value)).expect("JSON values serialise")
    }

    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).expect("a Config always serialises to TOML")
    }

    /// Value checks that serde's types cannot express, in file order.
    pub fn issues(&self) -> Vec<ConfigIssue> {
        let t = &self.training;
        let d = &self.dataset;
        let mut out = Vec::new();
        let mut check = |ok: bool, field: &str, found: String, expected: &str| {
            if !ok {
                out.push(ConfigIssue::new(field, found, expected));
            }
        };
        check(
            !self.task.name.trim().is_empty(),
            "task.name",
            "an empty name".into(),
            "a non-empty name such as \"wgsl_generation\"",
        );
        self.model.issues("model", &mut check);
        check(t.epochs > 0, "training.epochs", t.epochs.to_string(), "a positive integer");
        check(
            t.steps_per_epoch == 0 || t.shuffle == Shuffle::EveryEpoch,
            "training.steps_per_epoch",
            format!("{} with shuffle = \"once\"", t.steps_per_epoch),
            "0 (whole passes) when shuffle is \"once\": every epoch would repeat the same first batches",
        );
        check(t.batch_size > 0, "training.batch_size", t.batch_size.to_string(), "a positive integer such as 16");
        check(
            t.learning_rate > 0.0 && t.learning_rate < 1.0,
            "training.learning_rate",
            t.learning_rate.to_string(),
            "a number in (0, 1), such as 1e-4",
        );
        check(
            t.weight_decay >= 0.0,
            "training.weight_decay",
            t.weight_decay.to_string(),
            "a number >= 0, such as 0.01",
        );
        check(
            (0.0..1.0).contains(&t.adam_beta1),
            "training.adam_beta1",
            t.adam_beta1.to_string(),
            "a number in [0, 1), such as 0.9",
        );
        check(
            (0.0..1.0).contains(&t.adam_beta2),
            "training.adam_beta2",
            t.adam_beta2.to_string(),
            "a number in [0, 1), such as 0.98",
        );
        check(t.adam_eps > 0.0, "training.adam_eps", t.adam_eps.to_string(), "a small positive number such as 1e-9");
        let mut previous = None;
        for (i, r) in t.restart.iter().enumerate() {
            check(
                r.at_step > 0 && previous.is_none_or(|p| r.at_step > p),
                &format!("training.restart[{i}].at_step"),
                r.at_step.to_string(),
                &match previous {
                    Some(p) => format!("a step after the previous restart's ({p})"),
                    None => "a positive step (step 0 is the start of the run's own schedule)".into(),
                },
            );
            check(
                r.learning_rate > 0.0 && r.learning_rate < 1.0,
                &format!("training.restart[{i}].learning_rate"),
                r.learning_rate.to_string(),
                "a number in (0, 1), such as 1e-4",
            );
            previous = Some(r.at_step);
        }
        check(
            (0.0..=1.0).contains(&t.min_lr_ratio),
            "training.min_lr_ratio",
            t.min_lr_ratio.to_string(),
            "a number in [0, 1]",
        );
        check(
            t.gradient_clip_norm >= 0.0,
            "training.gradient_clip_norm",
            t.gradient_clip_norm.to_string(),
            "a number >= 0 (0 disables clipping)",
        );
        check(
            !t.early_stopping || t.patience > 0,
            "training.patience",
            t.patience.to_string(),
            "a positive integer when early_stopping is on",
        );
        check(
            self.tokenizer.min_freq > 0,
            "tokenizer.min_freq",
            self.tokenizer.min_freq.to_string(),
            "an integer >= 1",
        );
        crate::tasks::config_issues(self, &mut check);
        check(d.train_size > 0, "dataset.train_size", d.train_size.to_string(), "a positive integer such as 20000");
        check(d.eval_size > 0, "dataset.eval_size", d.eval_size.to_string(), "a positive integer such as 1000");
        check(
            d.train_ratio > 0.0 && d.train_ratio < 1.0,
            "dataset.train_ratio",
            d.train_ratio.to_string(),
            "a number in (0, 1), such as 0.8",
        );
        check(
            d.val_ratio > 0.0 && d.train_ratio + d.val_ratio < 1.0,
            "dataset.val_ratio",
            d.val_ratio.to_string(),
            &format!("a number in (0, {:.3}) so that train + val < 1 leaves a test split", 1.0 - d.train_ratio),
        );
        if let Some(baseline) = &self.baseline {
            baseline.issues("baseline", &mut check);
        }
        if let Some(frameworks) = &self.frameworks {
            frameworks.issues(&mut check);
        }
        // serde reads whole numbers up to u64's largest into u64 and usize fields, but a TOML
        // integer is an i64 and a config is written back as TOML (each checkpoint keeps its
        // config.toml): a larger one is refused here, not when the first checkpoint is saved.
        let mut large = Vec::new();
        past_toml_integers(&serde_json::to_value(self).expect("a Config serialises"), String::new(), &mut large);
        for (field, number) in large {
            check(
                false,
                &field,
                number.to_string(),
                &format!("a whole number up to {} (TOML's largest integer)", i64::MAX),
            );
        }
        out
    }

    /// The dataset file, resolved against the config file's folder (empty for a generated task).
    pub fn dataset_path(&self) -> PathBuf {
        self.resolve(self.dataset.path.as_deref())
    }

    /// `tokenizer.path`, resolved against the config file's folder (empty when unset).
    pub fn tokenizer_path(&self) -> PathBuf {
        self.resolve(self.tokenizer.path.as_deref())
    }

    /// `tokenizer.also_learn`, resolved against the config file's folder.
    pub fn also_learn_path(&self) -> Option<PathBuf> {
        self.tokenizer.also_learn.as_deref().map(|p| self.resolve(Some(p)))
    }

    fn resolve(&self, path: Option<&Path>) -> PathBuf {
        match (&self.source, path) {
            (Some(src), Some(path)) if path.is_relative() => src.parent().unwrap_or(Path::new(".")).join(path),
            (_, path) => path.map(Path::to_path_buf).unwrap_or_default(),
        }
    }

    pub fn output_dir(&self) -> PathBuf {
        self.training.output_dir.clone().unwrap_or_else(|| PathBuf::from("runs").join(&self.task.name))
    }

    /// The run in one line: task name, size and length (what `list` shows after the path).
    pub fn summary(&self) -> String {
        format!("{:<20} {}, {} epochs", self.task.name, self.model.size(), self.training.epochs)
    }
}

/// The field paths (`training.seed`, `task.seeds[1]`) of whole numbers past `i64::MAX` in `value`.
fn past_toml_integers(value: &serde_json::Value, path: String, out: &mut Vec<(String, u64)>) {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(big) = n.as_u64().filter(|&v| v > i64::MAX as u64) {
                out.push((path, big));
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                past_toml_integers(item, format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                let inner = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                past_toml_integers(item, inner, out);
            }
        }
        _ => {}
    }
}

/// The configs in `dir` with their paths, sorted by path. Other TOML files there (the datasets
/// that live beside configs) are skipped: only files that load as configs are listed.
pub fn list_configs(dir: &Path) -> Result<Vec<(PathBuf, Config)>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            TatError::Usage(format!("list: cannot read {}: {e}. Fix: pass a folder of configs.", dir.display()))
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    Ok(paths.into_iter().filter_map(|path| Config::from_file(&path).ok().map(|c| (path, c))).collect())
}

const FLOAT_TAG: &str = "$float";

/// A JSON value as TOML: null is absent (None), `{"$float": "inf"}` a non-finite float.
fn json_to_toml(value: serde_json::Value) -> Option<toml::Value> {
    use serde_json::Value as J;
    Some(match value {
        J::Null => return None,
        J::Bool(b) => toml::Value::Boolean(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => toml::Value::String(s),
        J::Array(items) => toml::Value::Array(items.into_iter().filter_map(json_to_toml).collect()),
        J::Object(map) => {
            if let (1, Some(J::String(text))) = (map.len(), map.get(FLOAT_TAG)) {
                if let Ok(f) = text.parse::<f64>() {
                    return Some(toml::Value::Float(f));
                }
            }
            toml::Value::Table(map.into_iter().filter_map(|(k, v)| json_to_toml(v).map(|v| (k, v))).collect())
        }
    })
}

/// TOML values as JSON, a non-finite float as `{"$float": "inf"}`.
fn toml_to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::Float(f) if !f.is_finite() => {
            let text = if f.is_nan() {
                "nan"
            } else if f > 0.0 {
                "inf"
            } else {
                "-inf"
            };
            serde_json::json!({ FLOAT_TAG: text })
        }
        toml::Value::Float(f) => serde_json::json!(f),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::String(s) => J::String(s),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => J::Object(table.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}

fn set_path(root: &mut toml::Table, path: &str, value: toml::Value, item: &str) -> Result<()> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let key = parts.pop().filter(|k| !k.is_empty() && !parts.is_empty()).ok_or_else(|| {
        TatError::Config(format!("--set {item}: `{path}` is not SECTION.KEY. Fix: write e.g. --set training.epochs=10"))
    })?;
    let mut table = root;
    for part in parts {
        table = table
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| {
                TatError::Config(format!(
                    "--set {item}: `{part}` is a value, not a section. Fix: write SECTION.KEY=VALUE, e.g. --set training.epochs=10"
                ))
            })?;
    }
    table.insert(key.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests;

/// The config's JSON Schema (draft 2020-12), generated from these types: what editors validate
/// TOML against, and what the Python package's pydantic models are generated from.
pub fn json_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Config)).expect("schemas serialise");
    schema["title"] = "tiny-agent-trainer config".into();
    schema
}
