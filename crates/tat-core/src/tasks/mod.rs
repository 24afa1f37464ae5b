//! The task registry. A task kind (`task.kind` in a config) is one module here: its data, its
//! model and its step, behind the learner's [`Task`] trait. Fronts (the binary, `tat`, the Python
//! API) look a kind up with [`spec`] and train it with [`crate::train::train`]; none of them
//! branches on a task's name.

pub mod binding;
pub mod pairs;
pub mod wgsl_generation;

use tch::Device;

use crate::checkpoint::Checkpoint;
use crate::config::{Config, TaskKind};
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
    /// The Python module that makes or scores its data, when the engine alone cannot train or
    /// evaluate it (`tat` imports it).
    pub python_module: Option<&'static str>,
}

/// Every task kind, in the order `TaskKind` lists them.
pub const REGISTRY: &[TaskSpec] = &[wgsl_generation::SPEC, binding::SPEC];

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
}

/// What a task is opened with.
pub struct TaskContext<'a> {
    pub device: Device,
    pub compute: Compute,
    /// The checkpoint a resumed run continues from.
    pub resumed: Option<&'a Checkpoint>,
}

/// The config as the run's checkpoints record it (dataset paths made absolute).
pub fn settle(config: &Config, data: &TaskData) -> Result<Config> {
    match config.task.kind {
        TaskKind::WgslGeneration => wgsl_generation::settle(config, data),
        TaskKind::Binding => Ok(config.clone()),
    }
}

/// The task of `config.task.kind`, with its data loaded and its model built (weights are
/// loaded by the learner when resuming).
pub fn open(config: &Config, data: TaskData, context: &TaskContext) -> Result<Box<dyn Task>> {
    match config.task.kind {
        TaskKind::WgslGeneration => wgsl_generation::open(config, data, context),
        TaskKind::Binding => binding::open(config, data, context),
    }
}
