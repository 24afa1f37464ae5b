//! The engine's task registry, for `tat`'s dispatch: what a config's or a run's task is and how it
//! is evaluated, and the evaluation of classification runs.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use tat_core::checkpoint;
use tat_core::config::Config;
use tat_core::tasks::diffusion::sample::Unmasking;
use tat_core::tasks::{self, Completion, Evaluator, TaskSpec};

use crate::errors::ToPyResult;

fn spec_dict<'py>(py: Python<'py>, spec: &TaskSpec) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", spec.name)?;
    d.set_item("text", spec.text)?;
    d.set_item("python_module", spec.python_module)?;
    let evaluator = match spec.evaluator {
        Evaluator::Generation => "generation",
        Evaluator::Classification => "classification",
        Evaluator::Python => "python",
        Evaluator::Validation => "validation",
    };
    d.set_item("evaluator", evaluator)?;
    let completion = match spec.completion {
        Completion::Autoregressive => "autoregressive",
        Completion::Unmasking => "unmasking",
        Completion::None => "none",
    };
    d.set_item("completion", completion)?;
    Ok(d)
}

/// Every registered task kind, as dicts like [`config_task`]'s.
#[pyfunction]
pub fn task_specs(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    tasks::REGISTRY.iter().map(|spec| spec_dict(py, spec)).collect()
}

/// The registry entry of the task a config file names (`name`, `text`, `python_module`,
/// `evaluator`); errors as loading the config reports them.
#[pyfunction]
pub fn config_task(py: Python<'_>, config_path: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let config = Config::from_file(&config_path).py_err()?;
    spec_dict(py, tasks::spec(config.task.kind))
}

/// The registry entry of the task of a run or checkpoint folder the engine wrote, or None when
/// `path` holds no engine checkpoint.
#[pyfunction]
pub fn run_task(py: Python<'_>, path: PathBuf) -> PyResult<Option<Bound<'_, PyDict>>> {
    let Ok(dir) = checkpoint::resolve(&path) else { return Ok(None) };
    let ckpt = checkpoint::load(&dir).py_err()?;
    spec_dict(py, tasks::spec(ckpt.config.task.kind)).map(Some)
}

/// Accuracy of a classification run on each split of its data, as a dict (the JSON report,
/// also written to the run folder), with `report_path`.
#[pyfunction]
#[pyo3(signature = (path, device = "auto"))]
pub fn classification_eval<'py>(py: Python<'py>, path: PathBuf, device: &str) -> PyResult<Bound<'py, PyDict>> {
    let device = device.parse().py_err()?;
    let (report, saved) = py
        .detach(|| {
            let classifier = tat_core::tasks::Classifier::load(&path, device)?;
            let report = classifier.evaluate()?;
            let saved = report.save(classifier.checkpoint_dir())?;
            Ok::<_, tat_core::TatError>((report, saved))
        })
        .py_err()?;
    let d = PyDict::new(py);
    d.set_item("checkpoint", &report.checkpoint)?;
    d.set_item("classes", report.classes)?;
    let splits = PyDict::new(py);
    for s in &report.splits {
        let row = PyDict::new(py);
        row.set_item("examples", s.examples)?;
        row.set_item("accuracy", s.accuracy)?;
        splits.set_item(&s.split, row)?;
    }
    d.set_item("splits", splits)?;
    d.set_item("table", report.table())?;
    d.set_item("report_path", saved)?;
    Ok(d)
}

/// The validation numbers of a run whose task scores itself that way (the masked-diffusion
/// task), recomputed on its checkpoint: `{"checkpoint": dir, "val_loss": ..., ...}`.
#[pyfunction]
#[pyo3(signature = (path, device = "auto", overrides = Vec::new()))]
pub fn validation_eval<'py>(
    py: Python<'py>,
    path: PathBuf,
    device: &str,
    overrides: Vec<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let device = device.parse().py_err()?;
    let (dir, numbers) = py
        .detach(|| {
            let dir = tat_core::checkpoint::resolve(&path)?;
            let numbers = tat_core::tasks::validation_report(&dir, device, &overrides)?;
            Ok::<_, tat_core::TatError>((dir, numbers))
        })
        .py_err()?;
    let d = PyDict::new(py);
    d.set_item("checkpoint", dir)?;
    for (name, value) in numbers {
        d.set_item(name, value)?;
    }
    Ok(d)
}

/// A trained masked-diffusion run (the FF, or the FF with its feedback hypernetworks): completes
/// prompts by iterative unmasking.
#[pyclass(module = "tiny_agent_trainer._core", frozen)]
pub struct Completer {
    inner: std::sync::Mutex<tat_core::tasks::diffusion::sample::Completer>,
}

#[pymethods]
impl Completer {
    /// Loads a run folder (its `best`, else `last`) or a checkpoint folder. `threads` sets
    /// libtorch's CPU threads for the whole process.
    #[staticmethod]
    #[pyo3(signature = (path, device = "auto", threads = None))]
    fn load(py: Python<'_>, path: PathBuf, device: &str, threads: Option<i64>) -> PyResult<Self> {
        let (device, _) = crate::device::load_options(device, threads, None)?;
        let inner = py.detach(|| tat_core::tasks::diffusion::sample::Completer::load(&path, device)).py_err()?;
        Ok(Self { inner: std::sync::Mutex::new(inner) })
    }

    /// Each prompt's completion (without the prompt), revealed over `steps` unmasking steps;
    /// greedy unless `temperature` is given (then seeded by `seed`). The GIL is released meanwhile.
    #[pyo3(signature = (prompts, max_new_tokens = 64, steps = 10, temperature = None, seed = 0))]
    fn complete(
        &self,
        py: Python<'_>,
        prompts: Vec<String>,
        max_new_tokens: usize,
        steps: usize,
        temperature: Option<f64>,
        seed: u64,
    ) -> PyResult<Vec<String>> {
        let how = Unmasking { new_tokens: max_new_tokens, steps, temperature, seed };
        let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
        py.detach(|| {
            let guard = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            guard.complete(&refs, &how)
        })
        .py_err()
    }

    /// The run's config, as TOML.
    #[getter]
    fn config_toml(&self) -> String {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).config().to_toml_string()
    }
}

/// A split's inputs and class ids, as numpy arrays.
type Split<'py> = (Bound<'py, numpy::PyArray2<f32>>, Bound<'py, numpy::PyArray1<i64>>);

/// A trained classifier (the bionet task): class predictions for rows of inputs, and accuracy
/// per split of its run's data.
#[pyclass(module = "tiny_agent_trainer._core", frozen)]
pub struct Classifier {
    inner: std::sync::Mutex<tat_core::tasks::Classifier>,
}

impl Classifier {
    fn lock(&self) -> std::sync::MutexGuard<'_, tat_core::tasks::Classifier> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[pymethods]
impl Classifier {
    /// Loads a run folder (its `best`, else `last`) or a checkpoint folder. `threads` sets
    /// libtorch's CPU threads for the whole process.
    #[staticmethod]
    #[pyo3(signature = (path, device = "auto", threads = None))]
    fn load(py: Python<'_>, path: PathBuf, device: &str, threads: Option<i64>) -> PyResult<Self> {
        let (device, _) = crate::device::load_options(device, threads, None)?;
        let inner = py.detach(|| tat_core::tasks::Classifier::load(&path, device)).py_err()?;
        Ok(Self { inner: std::sync::Mutex::new(inner) })
    }

    /// The predicted class of each row of `x` (`[N, inputs]`, float32), as int64 (the GIL is
    /// released meanwhile).
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: numpy::PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, numpy::PyArray1<i64>>> {
        let array = x.as_array();
        let shape = array.shape().to_vec();
        let data: Vec<f32> = array.iter().copied().collect();
        let classes = py
            .detach(|| {
                let x = tch::Tensor::from_slice(&data).view([shape[0] as i64, shape[1] as i64]);
                self.lock().predict(&x).map(|t| Vec::<i64>::try_from(&t).expect("class ids are int64"))
            })
            .py_err()?;
        Ok(numpy::PyArray1::from_vec(py, classes))
    }

    /// Accuracy on the named splits of the run's data (`train`, `val`, `test`): a dict of
    /// `{split: {"examples": n, "accuracy": a}}`.
    #[pyo3(signature = (splits = vec!["train".to_string(), "val".to_string(), "test".to_string()]))]
    fn evaluate<'py>(&self, py: Python<'py>, splits: Vec<String>) -> PyResult<Bound<'py, PyDict>> {
        let names: Vec<&str> = splits.iter().map(String::as_str).collect();
        let report = py.detach(|| self.lock().evaluate_splits(&names)).py_err()?;
        let d = PyDict::new(py);
        for s in &report.splits {
            let row = PyDict::new(py);
            row.set_item("examples", s.examples)?;
            row.set_item("accuracy", s.accuracy)?;
            d.set_item(&s.split, row)?;
        }
        Ok(d)
    }

    /// A split (`train`, `val`, `test`) of the run's data as at training time: inputs
    /// `[N, inputs]` (float32) and class ids (int64), as numpy arrays.
    fn data<'py>(&self, py: Python<'py>, split: &str) -> PyResult<Split<'py>> {
        let (x, labels, width) = py
            .detach(|| {
                let e = self.lock().data(split)?;
                let width = e.x.size()[1] as usize;
                let x = Vec::<f32>::try_from(&e.x.flatten(0, -1)).expect("inputs are float32");
                let labels = Vec::<i64>::try_from(&e.labels).expect("labels are int64");
                Ok::<_, tat_core::TatError>((x, labels, width))
            })
            .py_err()?;
        use numpy::PyArrayMethods;
        let rows = labels.len();
        Ok((numpy::PyArray1::from_vec(py, x).reshape([rows, width])?, numpy::PyArray1::from_vec(py, labels)))
    }

    /// The run's config, as TOML.
    #[getter]
    fn config_toml(&self) -> String {
        self.lock().config().to_toml_string()
    }

    /// Widths of the network's layers, input first.
    #[getter]
    fn layers(&self) -> Vec<i64> {
        self.lock().config().model.bionet().map(|m| m.layers.clone()).unwrap_or_default()
    }
}
