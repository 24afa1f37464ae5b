//! Training from Python: the engine's loop with the GIL released; callbacks and Ctrl-C are handled
//! between optimizer steps, where the loop polls its observer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use numpy::PyArray1;
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tat_core::config::Config;
use tat_core::data::wgsl::{Example, Splits};
use tat_core::experiment::{self, CommandOverrides, ExperimentObserver, RunEvent, RunStage};
use tat_core::tasks::TaskData;
use tat_core::train::metrics::{read_jsonl, JSONL_FILE};
use tat_core::train::{EpochMetrics, RunInfo, StepProgress, TrainObserver, TrainOptions, TrainSummary};

use crate::errors::{to_py, ToPyResult};

/// libtorch's RNG is global to the process: two runs at once would draw from each other's stream.
static TRAINING: Mutex<()> = Mutex::new(());

/// Often enough for Ctrl-C to stop a run within a second, rarely enough to cost nothing.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Trains a config, given as TOML text (`config_path`, when also given, names it in errors and
/// is where relative dataset paths resolve) or as a file (`config_path` alone), and returns the
/// summary. `overrides` are the CLI's `--set SECTION.KEY=VALUE` items, applied first and checked
/// like the file; `device`, `threads`, `out`, `epochs` and `seed` then override the config's
/// `training.device`, `training.threads`, `training.output_dir`, `training.epochs` and
/// `training.seed`. `on_start` receives the run's description as a dict, `on_epoch` each
/// epoch's metrics, `on_step` each optimizer step's progress. Ctrl-C, or an exception in a
/// callback, saves `last` at the next step and is raised here (`KeyboardInterrupt` for Ctrl-C).
/// `examples`, a dict with `train` and `val` lists of (input text, output text) pairs, replaces
/// the config's dataset file: how a Python task module hands the engine the data it generated.
/// `data` hands over arrays instead (tasks that take them, such as the bionet with
/// `dataset.source = "python"`): a dict of splits (`train`, `val`, optionally `test`), each a dict
/// of numpy arrays by name; or with `train` a callable `(seed, epoch) -> dict of arrays` that the
/// learner calls for a fresh training set every epoch (it must be a pure function of its
/// arguments for a resumed run to see the same data); or an object with `vocabulary()`,
/// `batch(seed, step)` and `validation()` that makes every training step's batch (the agent task's
/// `Source`). `collective` makes this process one of a data-parallel run
/// (`tiny_agent_trainer.distributed.TorchCollective`, see `train_distributed` in the engine).
#[pyfunction]
#[pyo3(signature = (
    config_toml = None, config_path = None, *, resume = false, on_start = None, on_epoch = None,
    on_step = None, device = None, threads = None, out = None, epochs = None, seed = None,
    overrides = Vec::new(), examples = None, data = None, collective = None,
))]
#[allow(clippy::too_many_arguments)] // one per keyword of the Python `train` and the CLI's flags
pub fn train<'py>(
    py: Python<'py>,
    config_toml: Option<&str>,
    config_path: Option<PathBuf>,
    resume: bool,
    on_start: Option<Py<PyAny>>,
    on_epoch: Option<Py<PyAny>>,
    on_step: Option<Py<PyAny>>,
    device: Option<&str>,
    threads: Option<usize>,
    out: Option<PathBuf>,
    epochs: Option<usize>,
    seed: Option<u64>,
    overrides: Vec<String>,
    examples: Option<HashMap<String, Vec<(String, String)>>>,
    data: Option<Bound<'py, PyAny>>,
    collective: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut config = read_config(config_toml, config_path).and_then(|c| c.with_overrides(&overrides)).py_err()?;
    let t = &mut config.training;
    if let Some(device) = device {
        t.device = device.parse().py_err()?;
    }
    t.threads = threads.unwrap_or(t.threads);
    t.output_dir = out.or(t.output_dir.take());
    t.epochs = epochs.unwrap_or(t.epochs);
    t.seed = seed.unwrap_or(t.seed);

    let mut observer =
        PyObserver { on_start, on_epoch, on_step, on_run: None, error: None, last_signal_check: Instant::now() };
    let task_data = match (examples, data) {
        (Some(_), Some(_)) => {
            return Err(to_py(tat_core::TatError::Usage(
                "train: pass either examples (text pairs) or data (arrays), not both.".into(),
            )))
        }
        (Some(examples), None) => TaskData::Pairs(task_splits(examples).py_err()?),
        (None, Some(data)) => crate::arrays::task_data(&data)?,
        (None, None) => TaskData::FromConfig,
    };
    let options = TrainOptions { resume };
    let collective = collective.map(|c| crate::distributed::PyCollective::new(&c)).transpose()?;
    let _sigint = collective
        .is_some()
        .then(crate::distributed::SigintGuard::install)
        .transpose()
        .map_err(|e| to_py(tat_core::TatError::Io { path: "SIGINT handler".into(), source: e }))?;
    let result = py.detach(|| {
        let _only_run = TRAINING.lock().unwrap_or_else(PoisonError::into_inner);
        match collective {
            Some(c) => tat_core::train::train_distributed(&config, task_data, &options, &mut observer, Box::new(c)),
            None => tat_core::train::train_with(&config, task_data, &options, &mut observer),
        }
    });
    outcome(py, result, observer.error).and_then(|summary| summary_dict(py, &summary))
}

/// What a training call returns to Python: the engine's result, unless a callback raised or
/// Ctrl-C stopped it (Python's KeyboardInterrupt, with the engine's word on where `last` was
/// saved).
fn outcome<T>(py: Python<'_>, result: tat_core::Result<T>, error: Option<PyErr>) -> PyResult<T> {
    match (result, error) {
        (Err(tat_core::TatError::Interrupted(message)), Some(error))
            if error.is_instance_of::<PyKeyboardInterrupt>(py) =>
        {
            Err(PyKeyboardInterrupt::new_err(message))
        }
        (Err(tat_core::TatError::Interrupted(_)) | Ok(_), Some(error)) => Err(error),
        (Err(error), _) => Err(to_py(error)),
        (Ok(value), None) => Ok(value),
    }
}

/// A task module's examples as the engine's splits; each pair's category is its split's name.
fn task_splits(mut examples: HashMap<String, Vec<(String, String)>>) -> tat_core::Result<Splits> {
    if let Some(unknown) = examples.keys().find(|k| !matches!(k.as_str(), "train" | "val")) {
        return Err(tat_core::TatError::Usage(format!(
            "train: examples has a split named {unknown:?}. Fix: pass only \"train\" and \"val\" lists."
        )));
    }
    let mut take = |name: &str| -> tat_core::Result<Vec<Example>> {
        let pairs = examples.remove(name).unwrap_or_default();
        if pairs.is_empty() {
            return Err(tat_core::TatError::Usage(format!(
                "train: examples[{name:?}] is empty or missing. Fix: pass a non-empty list of (input, output) pairs."
            )));
        }
        Ok(pairs
            .into_iter()
            .map(|(input, output)| Example {
                natural_language: input,
                wgsl_code: output,
                category: name.into(),
                split: None,
            })
            .collect())
    };
    Ok(Splits { train: take("train")?, val: take("val")?, test: Vec::new() })
}

fn read_config(text: Option<&str>, path: Option<PathBuf>) -> tat_core::Result<Config> {
    match (text, path) {
        (None, Some(path)) => Config::from_file(&path),
        (Some(text), path) => {
            let name = path.as_ref().map_or_else(|| "<config>".to_string(), |p| p.display().to_string());
            let mut config = Config::from_toml_str(text, &name)?;
            config.source = path;
            Ok(config)
        }
        (None, None) => Err(tat_core::TatError::Usage(
            "train: no config was given. Fix: pass a config file's path, its TOML text or a Config.".into(),
        )),
    }
}

/// A finished run's per-epoch metrics (its `metrics.jsonl`) as one numpy array per column.
#[pyfunction]
pub fn read_metrics(py: Python<'_>, run_dir: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let rows = read_jsonl(&run_dir.join(JSONL_FILE)).py_err()?;
    let int = |f: fn(&EpochMetrics) -> usize| PyArray1::from_iter(py, rows.iter().map(|m| f(m) as i64));
    let float = |f: fn(&EpochMetrics) -> f64| PyArray1::from_iter(py, rows.iter().map(f));
    let d = PyDict::new(py);
    d.set_item("epoch", int(|m| m.epoch))?;
    d.set_item("step", int(|m| m.step))?;
    d.set_item("train_loss", float(|m| m.train_loss))?;
    d.set_item("val_loss", float(|m| m.val_loss))?;
    d.set_item("lr", float(|m| m.lr))?;
    d.set_item("seconds", float(|m| m.seconds))?;
    d.set_item("examples_per_sec", float(|m| m.examples_per_sec))?;
    d.set_item("tokens_per_sec", float(|m| m.tokens_per_sec))?;
    d.set_item("best", PyArray1::from_iter(py, rows.iter().map(|m| m.best)))?;
    d.set_item("precision", rows.iter().map(|m| m.precision.as_str()).collect::<Vec<_>>())?;
    d.set_item("val_accuracy", float(|m| m.val_accuracy.unwrap_or(f64::NAN)))?;
    Ok(d)
}

/// Hands the loop's reports to Python callbacks and watches for Ctrl-C.
struct PyObserver {
    on_start: Option<Py<PyAny>>,
    on_epoch: Option<Py<PyAny>>,
    on_step: Option<Py<PyAny>>,
    /// An experiment's runs: `(index, total, name, stage, status, seconds)`.
    on_run: Option<Py<PyAny>>,
    /// The first exception a callback or a signal handler raised; the run stops at the next step.
    error: Option<PyErr>,
    last_signal_check: Instant,
}

impl PyObserver {
    fn call(&mut self, callback: impl FnOnce(Python<'_>) -> PyResult<()>) {
        if self.error.is_none() {
            self.error = Python::attach(callback).err();
        }
    }
}

impl TrainObserver for PyObserver {
    fn on_start(&mut self, info: &RunInfo) {
        if let Some(warning) = &info.precision.warning {
            self.call(|py| crate::device::warn(py, warning));
        }
        if let Some(f) = self.on_start.take() {
            self.call(|py| f.call1(py, (info_dict(py, info)?,)).map(drop));
            self.on_start = Some(f);
        }
    }

    fn on_step(&mut self, p: &StepProgress) {
        if let Some(f) = self.on_step.take() {
            self.call(|py| f.call1(py, (step_dict(py, p)?,)).map(drop));
            self.on_step = Some(f);
        }
    }

    fn on_epoch(&mut self, m: &EpochMetrics) {
        if let Some(f) = self.on_epoch.take() {
            self.call(|py| f.call1(py, (epoch_dict(py, m)?,)).map(drop));
            self.on_epoch = Some(f);
        }
    }

    fn should_stop(&mut self) -> bool {
        if self.error.is_none() && crate::distributed::interrupted() {
            self.error = Some(PyKeyboardInterrupt::new_err("interrupted"));
        }
        if self.last_signal_check.elapsed() >= SIGNAL_CHECK_INTERVAL {
            self.last_signal_check = Instant::now();
            // Runs Python's signal handlers: the default SIGINT handler raises KeyboardInterrupt.
            self.call(|py| py.check_signals());
        }
        self.error.is_some()
    }
}

impl ExperimentObserver for PyObserver {
    fn on_run(&mut self, e: &RunEvent) {
        let (stage, detail) = match &e.what {
            RunStage::Skipped(status) => ("skipped", Some(status.name())),
            RunStage::Training => ("training", None),
            RunStage::Resuming => ("resuming", None),
            RunStage::Evaluating => ("evaluating", None),
            RunStage::Finished(status, _) => ("finished", Some(status.name())),
        };
        let seconds = match e.what {
            RunStage::Finished(_, s) => Some(s),
            _ => None,
        };
        if let Some(f) = self.on_run.take() {
            self.call(|py| f.call1(py, (e.index, e.total, e.name.as_str(), stage, detail, seconds)).map(drop));
            self.on_run = Some(f);
        }
    }
}

/// Trains every run of the experiment file `path` in turn (`tat train EXPERIMENT.toml`) and
/// returns the results table. `overrides`, `device`, `out` (the experiment's folder), `epochs`
/// and `seed` apply to every run; with `resume`, runs finished before are skipped and an
/// interrupted one continues. `on_run(index, total, name, stage, status, seconds)` is called as
/// each run starts (`training`, `resuming`, `evaluating`, `skipped`) and ends (`finished`); the
/// other callbacks and Ctrl-C are as for `train`.
#[pyfunction]
#[pyo3(signature = (
    path, *, resume = false, on_run = None, on_start = None, on_epoch = None, on_step = None,
    device = None, out = None, epochs = None, seed = None, overrides = Vec::new(),
))]
#[allow(clippy::too_many_arguments)] // one per keyword of the CLI's flags
pub fn train_experiment(
    py: Python<'_>,
    path: PathBuf,
    resume: bool,
    on_run: Option<Py<PyAny>>,
    on_start: Option<Py<PyAny>>,
    on_epoch: Option<Py<PyAny>>,
    on_step: Option<Py<PyAny>>,
    device: Option<&str>,
    out: Option<PathBuf>,
    epochs: Option<usize>,
    seed: Option<u64>,
    overrides: Vec<String>,
) -> PyResult<String> {
    let device = device.map(str::parse).transpose().py_err()?;
    let plan =
        experiment::Plan::from_file(&path, &CommandOverrides { set: overrides, epochs, device, seed, out }).py_err()?;
    let mut observer =
        PyObserver { on_start, on_epoch, on_step, on_run, error: None, last_signal_check: Instant::now() };
    let result = py.detach(|| {
        let _only_run = TRAINING.lock().unwrap_or_else(PoisonError::into_inner);
        experiment::run(&plan, resume, &mut observer)
    });
    outcome(py, result, observer.error).map(|record| record.table())
}

/// Whether `path` is an experiment file (with an `[experiment]` section) rather than a config.
#[pyfunction]
pub fn is_experiment(path: PathBuf) -> bool {
    experiment::is_experiment(&path)
}

/// The record of the experiment folder `run_dir` as JSON text, or None when it holds none.
#[pyfunction]
pub fn experiment_record(run_dir: PathBuf) -> PyResult<Option<String>> {
    if !run_dir.join(experiment::RECORD_FILE).exists() {
        return Ok(None);
    }
    let record = experiment::Record::load(&run_dir).py_err()?;
    Ok(Some(serde_json::to_string(&record).expect("records serialise")))
}

/// The results table of the experiment folder `run_dir` (`tat eval RUN_DIR`).
#[pyfunction]
pub fn experiment_table(run_dir: PathBuf) -> PyResult<String> {
    Ok(experiment::Record::load(&run_dir).py_err()?.table())
}

fn info_dict<'py>(py: Python<'py>, i: &RunInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("run_dir", &i.run_dir)?;
    d.set_item("device", &i.device)?;
    d.set_item("precision", i.precision.compute.name())?;
    d.set_item("precision_reason", &i.precision.reason)?;
    d.set_item("precision_warning", &i.precision.warning)?;
    d.set_item("parameters", i.parameters)?;
    d.set_item("vocab_size", i.vocab_size)?;
    d.set_item("init_from", &i.init_from)?;
    d.set_item("frozen_parameters", i.frozen_parameters)?;
    d.set_item("train_examples", i.train_examples)?;
    d.set_item("val_examples", i.val_examples)?;
    d.set_item("test_examples", i.test_examples)?;
    d.set_item("start_epoch", i.start_epoch)?;
    d.set_item("epochs", i.epochs)?;
    d.set_item("batches_per_epoch", i.batches_per_epoch)?;
    Ok(d)
}

fn step_dict<'py>(py: Python<'py>, p: &StepProgress) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("epoch", p.epoch)?;
    d.set_item("batch", p.batch)?;
    d.set_item("batches", p.batches)?;
    d.set_item("loss", p.loss)?;
    d.set_item("lr", p.lr)?;
    d.set_item("examples_per_sec", p.examples_per_sec)?;
    Ok(d)
}

fn epoch_dict<'py>(py: Python<'py>, m: &EpochMetrics) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("epoch", m.epoch)?;
    d.set_item("step", m.step)?;
    d.set_item("train_loss", m.train_loss)?;
    d.set_item("val_loss", m.val_loss)?;
    d.set_item("lr", m.lr)?;
    d.set_item("seconds", m.seconds)?;
    d.set_item("examples_per_sec", m.examples_per_sec)?;
    d.set_item("tokens_per_sec", m.tokens_per_sec)?;
    d.set_item("best", m.best)?;
    d.set_item("precision", &m.precision)?;
    d.set_item("val_accuracy", m.val_accuracy)?;
    Ok(d)
}

fn summary_dict<'py>(py: Python<'py>, s: &TrainSummary) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("run_dir", &s.run_dir)?;
    d.set_item("epochs_completed", s.epochs_completed)?;
    d.set_item("best_val_loss", s.best_val_loss)?;
    d.set_item("best_epoch", s.best_epoch)?;
    d.set_item("last_train_loss", s.last_train_loss)?;
    d.set_item("stopped_early", s.stopped_early)?;
    Ok(d)
}
