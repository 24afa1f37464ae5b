//! A trained model: a checkpoint loaded once, then generation and evaluation with the GIL released.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use numpy::PyArray1;
use pyo3::prelude::*;
use tat_core::checkpoint;
use tat_core::data::wgsl::Split;
use tat_core::eval;
use tat_core::generate::{Constrain, DecodeRequest, Generator};

use crate::errors::ToPyResult;
use crate::eval::{EvalReport, Scored};

/// A checkpoint ready to answer prompts.
#[pyclass(module = "tiny_agent_trainer._core", frozen)]
pub struct Model {
    /// Tensors may move between threads but not be shared: one call decodes at a time.
    generator: Mutex<Generator>,
    /// As the user gave it (a run or checkpoint folder), like the CLI's `--model`.
    path: PathBuf,
}

/// A prompt answers with a string, a list of prompts (decoded as one batch) with a list.
#[derive(FromPyObject)]
enum Prompts {
    One(String),
    Many(Vec<String>),
}

#[pymethods]
impl Model {
    /// Loads a run folder (its `best`, else `last`) or a checkpoint folder. `threads` sets
    /// libtorch's CPU threads for the whole process. `precision` (`auto`, `fp32`, `bf16`) replaces
    /// the one the run was trained with; a precision that is slow on this machine gives a
    /// `RuntimeWarning`.
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
        let generator = py.detach(|| Generator::load_with(&path, device, precision)).py_err()?;
        if let Some(warning) = &generator.precision().warning {
            crate::device::warn(py, warning)?;
        }
        Ok(Self { generator: Mutex::new(generator), path })
    }

    /// What the model computes in (`fp32` or `bf16`).
    #[getter]
    fn precision(&self) -> &'static str {
        self.generator().precision().compute.name()
    }

    /// Why that precision, e.g. `auto: cpu capability AVX2, no AVX512-BF16 or AMX -> fp32`.
    #[getter]
    fn precision_reason(&self) -> String {
        self.generator().precision().reason.clone()
    }

    /// Answers a prompt (a string) or a batch of prompts (a list), with the CLI's `generate` rules.
    #[pyo3(signature = (
        prompt, *, max_new_tokens = None, beam = 1, length_penalty = 1.0, prefer_valid = false,
        temperature = None, top_k = 0, top_p = 1.0, seed = 0, constrain = None,
    ))]
    #[allow(clippy::too_many_arguments)] // one per keyword, as the CLI has one per flag
    fn generate<'py>(
        &self,
        py: Python<'py>,
        prompt: Prompts,
        max_new_tokens: Option<i64>,
        beam: usize,
        length_penalty: f64,
        prefer_valid: bool,
        temperature: Option<f64>,
        top_k: usize,
        top_p: f64,
        seed: u64,
        constrain: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = DecodeRequest {
            max_new_tokens: max_new(max_new_tokens)?,
            beam,
            length_penalty,
            prefer_valid,
            temperature,
            top_k,
            top_p,
            seed,
            constrain: constrain.map(Constrain::from_name).transpose().py_err()?,
        };
        let (prompts, single) = match prompt {
            Prompts::One(p) => (vec![p], true),
            Prompts::Many(ps) => (ps, false),
        };
        let mut answers = py
            .detach(|| {
                let generator = self.generator();
                let options = request.resolve(&generator)?.for_prompts()?;
                let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
                Ok(generator.answer(&refs, &options))
            })
            .py_err()?;
        if single {
            Ok(answers.remove(0).into_pyobject(py)?.into_any())
        } else {
            Ok(answers.into_pyobject(py)?.into_any())
        }
    }

    /// Scores the model like the CLI's `eval` and returns its report: a dict of the JSON report
    /// that also renders the CLI's table. `split` picks a split of the run's dataset (default
    /// `test`), or of the dataset file `data` (all of it by default); `requests` judges the
    /// answers to a file of requests in free phrasing instead. `on_progress(done, total)` is
    /// called after each batch. `save` also writes the report beside the checkpoint, as the CLI
    /// does.
    #[pyo3(signature = (
        split = None, data = None, *, requests = None, max_new_tokens = None, beam = 1,
        length_penalty = 1.0, prefer_valid = false, temperature = None, top_k = 0, top_p = 1.0,
        seed = 0, constrain = None, save = true, on_progress = None,
    ))]
    #[allow(clippy::too_many_arguments)] // the decoding keywords of `generate`, plus what to score
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        split: Option<&str>,
        data: Option<PathBuf>,
        requests: Option<PathBuf>,
        max_new_tokens: Option<i64>,
        beam: usize,
        length_penalty: f64,
        prefer_valid: bool,
        temperature: Option<f64>,
        top_k: usize,
        top_p: f64,
        seed: u64,
        constrain: Option<&str>,
        save: bool,
        on_progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, EvalReport>> {
        let split: Option<Split> = split.map(str::parse).transpose().py_err()?;
        let request = DecodeRequest {
            max_new_tokens: max_new(max_new_tokens)?,
            beam,
            length_penalty,
            prefer_valid,
            temperature,
            top_k,
            top_p,
            seed,
            constrain: constrain.map(Constrain::from_name).transpose().py_err()?,
        };
        // The first exception the callback raised: evaluation goes on, and it is raised at the end.
        let mut callback_error: Option<PyErr> = None;
        let result = py.detach(|| {
            let generator = self.generator();
            let options = request.resolve(&generator)?;
            let progress = |done: usize, total: usize| {
                if let (Some(f), None) = (&on_progress, &callback_error) {
                    callback_error = Python::attach(|py| f.call1(py, (done, total)).err());
                }
            };
            let checkpoint_dir = checkpoint::resolve(&self.path)?;
            if let Some(file) = &requests {
                if split.is_some() || data.is_some() {
                    return Err(tat_core::TatError::Usage(
                        "evaluate: `requests` judges a request file; it takes no `split` or `data`".into(),
                    ));
                }
                let report = eval::requests::evaluate_request_file(&generator, &self.path, file, &options, progress)?;
                let saved = if save { Some(report.save(&checkpoint_dir)?) } else { None };
                return Ok((Scored::Requests(report), saved));
            }
            let set = eval::eval_set(generator.config(), data.as_deref(), split)?;
            let report = eval::evaluate(&generator, &self.path, &set, &options, progress)?;
            let saved = if save { Some(report.save(&checkpoint_dir)?) } else { None };
            Ok((Scored::Examples(report), saved))
        });
        if let Some(error) = callback_error {
            return Err(error);
        }
        let (report, saved) = result.py_err()?;
        EvalReport::new(py, report, saved)
    }

    /// Token ids of `text` in the model's vocabulary, without `<bos>` or `<eos>`.
    fn token_ids<'py>(&self, py: Python<'py>, text: &str) -> Bound<'py, PyArray1<i64>> {
        PyArray1::from_vec(py, self.generator().tokenizer().encode(text))
    }

    /// The checkpoint's config as TOML, every default filled in.
    #[getter]
    fn config(&self) -> String {
        self.generator().config().to_toml_string()
    }

    /// The longest reply the model can give, in tokens.
    #[getter]
    fn max_new_tokens(&self) -> usize {
        self.generator().max_new_tokens()
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn __repr__(&self) -> String {
        format!("Model.load({:?})", self.path.display().to_string())
    }
}

impl Model {
    fn generator(&self) -> MutexGuard<'_, Generator> {
        // A panic mid-decode leaves no half-updated state in the generator: its weights are frozen.
        self.generator.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `max_new_tokens` argument, checked (a negative one names the argument).
fn max_new(max_new_tokens: Option<i64>) -> PyResult<Option<usize>> {
    crate::device::count(max_new_tokens, "max_new_tokens", "leave it out for the model's longest")
}
