//! The task registry. A task kind (`task.kind` in a config) is one module here: its data, its
//! model and its step, behind the learner's [`Task`] trait. Fronts (the binary, `tat`, the Python
//! API) look a kind up with [`spec`] and train it with [`crate::train::train`]; none of them
//! branches on a task's name.

pub mod agent;
pub mod binding;
pub mod bionet;
pub mod diffusion;
pub mod pairs;
pub mod wgsl_generation;

use tch::Device;

use crate::checkpoint::Checkpoint;
use crate::config::{Architecture, Config, TaskKind};
use crate::data::wgsl::Splits;
use crate::error::Result;
use crate::precision::Compute;
use crate::train::Task;

/// What fronts need to know about a task kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSpec {
    pub kind: TaskKind,
    /// The name configs use for it (`task.kind`).
    pub name: &'static str,
    /// It works on text: its checkpoints hold a tokenizer and `generate` can answer with it.
    pub text: bool,
    /// The model architectures it trains (`model.architecture`).
    pub architectures: &'static [Architecture],
    /// The Python module that makes or scores its data, when the engine alone cannot train or
    /// evaluate it (`tat` imports it).
    pub python_module: Option<&'static str>,
    /// How its runs are evaluated and served.
    pub evaluator: Evaluator,
    /// How its runs answer a prompt (`generate`).
    pub completion: Completion,
}

/// The ways a task's runs answer a prompt: fronts dispatch on this, never on a task's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Left to right with the sequence model ([`crate::generate::Generator`]).
    Autoregressive,
    /// Iterative unmasking ([`diffusion::sample::Completer`]).
    Unmasking,
    /// Its runs do not write text.
    None,
}

/// The ways a task's runs are evaluated: fronts dispatch on this, never on a task's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluator {
    /// Text generation scored against references ([`crate::eval`], [`crate::generate::Generator`]).
    Generation,
    /// Class predictions scored by accuracy per split ([`Classifier`]).
    Classification,
    /// Scored by the task's Python module.
    Python,
    /// The task's own validation measurement, recomputed on the checkpoint ([`validation_report`]).
    Validation,
}

/// The validation measurement of the checkpoint in `dir`, recomputed by its task on `device`:
/// `(name, value)` pairs, `val_loss` first. `overrides` (`section.key=value`) change the
/// checkpoint's config first, e.g. its dataset, to score the model on other data.
pub fn validation_report(
    dir: &std::path::Path,
    device: crate::config::DeviceChoice,
    overrides: &[String],
) -> Result<Vec<(String, f64)>> {
    let ckpt = crate::checkpoint::load(dir)?;
    let mut config = ckpt.config.with_overrides(overrides)?;
    config.training.device = device;
    validation_numbers(dir, &config)
}

/// The validation numbers of the weights in the checkpoint `dir` under `config` (the
/// checkpoint's config, or one that changes only its data), on `config.training.device`.
pub fn validation_numbers(dir: &std::path::Path, config: &Config) -> Result<Vec<(String, f64)>> {
    crate::device::keep_freed_memory();
    let device = crate::device::resolve(config.training.device)?;
    let compute = crate::precision::resolve(config.training.precision, device).compute;
    let context = TaskContext { device, compute, resumed: None, init: None };
    let mut task = open(config, TaskData::FromConfig, &context)?;
    crate::checkpoint::load_weights(task.vs_mut(), dir)?;
    let validation = {
        let _guard = tch::no_grad_guard();
        task.validate()?
    };
    let mut out = vec![("val_loss".to_string(), validation.loss)];
    out.extend(validation.accuracy.map(|a| ("val_accuracy".to_string(), a)));
    out.extend(validation.extra);
    Ok(out)
}

pub use bionet::{Classifier, Report as ClassificationReport};

/// Every task kind, in the order `TaskKind` lists them.
pub const REGISTRY: &[TaskSpec] = &[wgsl_generation::SPEC, binding::SPEC, bionet::SPEC, diffusion::SPEC, agent::SPEC];

/// The registry entry of a kind.
pub fn spec(kind: TaskKind) -> &'static TaskSpec {
    REGISTRY.iter().find(|s| s.kind == kind).expect("every TaskKind is registered")
}

/// Data a front hands the engine instead of the config's dataset.
pub enum TaskData {
    /// The task reads what its config names.
    FromConfig,
    /// Text pairs split into train/val/test, made by a Python task module.
    Pairs(Splits),
    /// Named arrays per split (`train`, `val`, `test`), all at once.
    Arrays(ArraySplits),
    /// Named arrays for `val` and `test`, and a source the learner pulls a fresh training epoch from.
    Stream { fixed: ArraySplits, train: Box<dyn EpochSource> },
    /// A source of a fresh batch per training step and fixed validation batches, made by a Python
    /// task module (the agent's frameworks).
    Batches(Box<dyn BatchSource>),
}

/// One batch from a [`BatchSource`]: arrays and texts by name.
#[derive(Debug, Default)]
pub struct Examples {
    pub arrays: NamedArrays,
    pub texts: std::collections::BTreeMap<String, Vec<String>>,
}

/// Where a task that trains on fresh batches gets them: each a pure function of its arguments,
/// so a resumed run sees the batches an uninterrupted one saw.
pub trait BatchSource: Send {
    /// Every text the task's vocabulary must cover.
    fn vocabulary(&mut self) -> Result<Vec<String>>;
    /// The training batch of step `step` (counted from 0 over the whole run) of the run seeded `seed`.
    fn batch(&mut self, seed: u64, step: usize) -> Result<Examples>;
    /// The fixed validation batches.
    fn validation(&mut self) -> Result<Vec<Examples>>;
}

/// Named arrays (`x`, `labels`, ...) of each split.
pub type ArraySplits = std::collections::BTreeMap<String, NamedArrays>;

/// One split's arrays by name, on the CPU.
pub type NamedArrays = std::collections::BTreeMap<String, tch::Tensor>;

/// Where a streaming task's training data comes from: a fresh set of arrays per epoch, a pure
/// function of `(seed, epoch)`, so a resumed run sees the same data as an uninterrupted one.
pub trait EpochSource: Send {
    fn epoch(&mut self, seed: u64, epoch: usize) -> Result<NamedArrays>;
}

/// The error for arrays handed to a task on text.
fn text_task_takes_pairs(config: &Config) -> crate::TatError {
    crate::TatError::Usage(format!(
        "task {:?} ({:?}) trains on text pairs, not arrays. Fix: pass (input, output) pairs, or use a task that takes arrays (bionet).",
        config.task.name, config.task.kind
    ))
}

/// What a task is opened with.
pub struct TaskContext<'a> {
    pub device: Device,
    pub compute: Compute,
    /// The checkpoint a resumed run continues from.
    pub resumed: Option<&'a Checkpoint>,
    /// The checkpoint a new run takes its weights (and tokenizer) from (`training.init_from`).
    pub init: Option<&'a Checkpoint>,
}

/// The config as the run's checkpoints record it: the dataset and tokenizer paths the config
/// names (`tokenizer.also_learn` too) made absolute, so the record does not depend on the config file's folder.
pub fn settle(config: &Config, data: &TaskData) -> Result<Config> {
    let mut settled = config.clone();
    let mut changed = false;
    if let (TaskData::FromConfig, Some(_)) = (data, &config.dataset.path) {
        if let Ok(absolute) = config.dataset_path().canonicalize() {
            settled.dataset.path = Some(absolute);
            changed = true;
        }
    }
    if config.tokenizer.path.is_some() {
        if let Ok(absolute) = config.tokenizer_path().canonicalize() {
            settled.tokenizer.path = Some(absolute);
            changed = true;
        }
    }
    if let Some(absolute) = config.also_learn_path().and_then(|p| p.canonicalize().ok()) {
        settled.tokenizer.also_learn = Some(absolute);
        changed = true;
    }
    let relative = |p: &Option<std::path::PathBuf>| p.as_ref().is_some_and(|p| p.is_relative());
    let relative_left =
        relative(&settled.dataset.path) || relative(&settled.tokenizer.path) || relative(&settled.tokenizer.also_learn);
    if changed && !relative_left {
        settled.source = None;
    }
    Ok(settled)
}

/// The task of `config.task.kind`, with its data loaded and its model built (weights are
/// loaded by the learner when resuming).
pub fn open(config: &Config, data: TaskData, context: &TaskContext) -> Result<Box<dyn Task>> {
    match config.task.kind {
        TaskKind::WgslGeneration => wgsl_generation::open(config, data, context),
        TaskKind::Binding => binding::open(config, data, context),
        TaskKind::Bionet => bionet::open(config, data, context),
        TaskKind::MaskedDiffusion => diffusion::open(config, data, context),
        TaskKind::Agent => agent::open(config, data, context),
    }
}

/// The model a task needs, then the task's own checks of a config (which dataset and model
/// keys it needs), after the generic ones.
pub fn config_issues(config: &Config, check: &mut dyn FnMut(bool, &str, String, &str)) {
    let accepted = spec(config.task.kind).architectures;
    let names: Vec<String> = accepted.iter().map(|a| format!("\"{a}\"")).collect();
    check(
        accepted.contains(&config.model.architecture()),
        "model.architecture",
        format!("\"{}\"", config.model.architecture()),
        &format!("{} for task.kind = \"{}\"", names.join(" or "), spec(config.task.kind).name),
    );
    match config.task.kind {
        TaskKind::WgslGeneration => wgsl_generation::issues(config, check),
        TaskKind::Binding => binding::issues(config, check),
        TaskKind::Bionet => bionet::issues(config, check),
        TaskKind::MaskedDiffusion => diffusion::issues(config, check),
        TaskKind::Agent => agent::issues(config, check),
    }
}
