//! A trained run of a Python-driven task (the binding task): texts in, texts out, with the
//! binder's per-word pointers as numpy arrays.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::ToPyResult;

#[pyclass(module = "tiny_agent_trainer._core", frozen)]
pub struct Transducer {
    inner: Mutex<tat_core::transduce::Transducer>,
    path: PathBuf,
}

#[pymethods]
impl Transducer {
    /// Loads a run folder (its `best`, else `last`) or a checkpoint folder. `threads` sets
    /// libtorch's CPU threads for the whole process; `precision` replaces the run's.
    #[staticmethod]
    #[pyo3(signature = (path, device = "auto", threads = None, precision = None))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        device: &str,
        threads: Option<i64>,
        precision: Option<&str>,
    ) -> PyResult<Self> {
        let (device, precision) = crate::device::load_options(device, threads, precision)?;
        let inner = py.detach(|| tat_core::transduce::Transducer::load_with(&path, device, precision)).py_err()?;
        Ok(Self { inner: Mutex::new(inner), path })
    }

    /// The output text of each input, greedily decoded (the GIL is released meanwhile).
    fn predict(&self, py: Python<'_>, inputs: Vec<String>) -> Vec<String> {
        py.detach(|| self.lock().predict(&inputs.iter().map(String::as_str).collect::<Vec<_>>()))
    }

    /// For a binder run: `words` (list of str), `action_logits` `[words, vocabulary]`, `bindings`
    /// `[words]` and `binding_scores` `[words, input words]`.
    fn explain<'py>(&self, py: Python<'py>, input: &str) -> PyResult<Bound<'py, PyDict>> {
        let e = py.detach(|| self.lock().explain(input)).py_err()?;
        let n = e.words.len();
        let dict = PyDict::new(py);
        dict.set_item("words", e.words)?;
        dict.set_item("action_logits", PyArray1::from_vec(py, e.action_logits).reshape([n, e.vocabulary_size])?)?;
        dict.set_item("bindings", PyArray1::from_vec(py, e.bindings))?;
        let scores: Bound<'py, PyArray2<f32>> = PyArray1::from_vec(py, e.binding_scores).reshape([n, e.input_words])?;
        dict.set_item("binding_scores", scores)?;
        Ok(dict)
    }

    /// The ids' words in id order (the columns of `action_logits`).
    #[getter]
    fn vocabulary(&self) -> Vec<String> {
        self.lock().vocabulary()
    }

    /// The run's full config as TOML.
    #[getter]
    fn config(&self) -> String {
        self.lock().config().to_toml_string()
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn __repr__(&self) -> String {
        format!("Transducer.load({:?})", self.path.display().to_string())
    }
}

impl Transducer {
    fn lock(&self) -> MutexGuard<'_, tat_core::transduce::Transducer> {
        // Inference never leaves the model half-updated, so a panic elsewhere does not poison it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
