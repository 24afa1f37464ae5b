//! The engine's task registry, for `tat`'s dispatch: what a config's or a run's task is and how it
//! is evaluated, and the evaluation of classification runs.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use tat_core::checkpoint;
use tat_core::config::Config;
use tat_core::tasks::{self, Classifier, Evaluator, TaskSpec};

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
    };
    d.set_item("evaluator", evaluator)?;
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
            let classifier = Classifier::load(&path, device)?;
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
