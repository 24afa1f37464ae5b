//! A trained grid-world agent: answers and pictures for batches of pictures and prompts.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use pyo3::prelude::*;
use tat_core::tasks::agent::runner::Decoding;
use tch::{Kind, Tensor};

use crate::errors::ToPyResult;

#[pyclass(module = "tiny_agent_trainer._core", frozen)]
pub struct Agent {
    inner: Mutex<tat_core::tasks::agent::runner::Agent>,
    path: PathBuf,
    image_size: i64,
    max_canvases: i64,
}

/// A uint8 numpy array as a CPU tensor (`what` names it in errors).
fn pixels(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    match crate::arrays::tensor(value, what)? {
        t if t.kind() == Kind::Uint8 => Ok(t),
        t => Err(crate::errors::to_py(tat_core::TatError::Usage(format!(
            "{what} holds {:?} values, not uint8. Fix: pass pictures as np.uint8 RGB arrays.",
            t.kind()
        )))),
    }
}

#[pymethods]
impl Agent {
    /// Loads a run folder (its `best`, else `last`) or a checkpoint folder; `threads` sets
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
        let inner = py.detach(|| tat_core::tasks::agent::runner::Agent::load(&path, device, precision)).py_err()?;
        let (image_size, max_canvases) = (inner.config().image_size, inner.config().max_canvases);
        Ok(Self { inner: Mutex::new(inner), path, image_size, max_canvases })
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Pictures are this many pixels square.
    #[getter]
    fn image_size(&self) -> i64 {
        self.image_size
    }

    /// The most canvases a call may pass.
    #[getter]
    fn max_canvases(&self) -> i64 {
        self.max_canvases
    }

    /// Answers (without `<eos>`) to `prompts` about `images` `(n, S, S, 3)` uint8 with
    /// `canvases` `(n, C, S, S, 3)` (oldest first): greedy, or with `temperature` > 0 drawn from
    /// the model's distribution (logits / temperature) by a generator seeded with `seed`; with
    /// `pictures`, also the pictures the model draws after each answer, `(n, S, S, 3)` uint8 (else
    /// None). The GIL is released meanwhile.
    #[pyo3(signature = (images, canvases, prompts, pictures = false, temperature = 0.0, seed = 0))]
    #[allow(clippy::too_many_arguments)]
    fn answer<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        canvases: &Bound<'py, PyAny>,
        prompts: Vec<String>,
        pictures: bool,
        temperature: f64,
        seed: u64,
    ) -> PyResult<(Vec<String>, Option<Bound<'py, PyAny>>)> {
        let images = pixels(images, "images")?;
        let canvases = pixels(canvases, "canvases")?;
        let decoding = if temperature == 0.0 { Decoding::Greedy } else { Decoding::Sample { temperature, seed } };
        let answers = py
            .detach(move || {
                let agent = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
                agent.answer(&images, &canvases, &prompts, pictures, decoding)
            })
            .py_err()?;
        let drawn = answers.pictures.map(|t| crate::arrays::numpy::<u8>(py, &t)).transpose()?;
        Ok((answers.texts, drawn))
    }

    /// The natural log of the probability the model gives each of `answers` (its words, then
    /// `<eos>`) as the answer to the prompt of the same row, about `images` `(n, S, S, 3)` uint8
    /// with `canvases` `(n, C, S, S, 3)` as `answer` reads them: scores that rank a few
    /// candidate answers. The GIL is released meanwhile.
    fn score(
        &self,
        py: Python<'_>,
        images: &Bound<'_, PyAny>,
        canvases: &Bound<'_, PyAny>,
        prompts: Vec<String>,
        answers: Vec<String>,
    ) -> PyResult<Vec<f64>> {
        let images = pixels(images, "images")?;
        let canvases = pixels(canvases, "canvases")?;
        py.detach(move || {
            let agent = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            agent.score(&images, &canvases, &prompts, &answers)
        })
        .py_err()
    }

    /// The transformer's final state at `<bos>` after each of `prompts` about `images`
    /// `(n, S, S, 3)` uint8 with `canvases` `(n, C, S, S, 3)`: `(n, d)` float32, what the picture
    /// decoder reads of the prompt. The GIL is released meanwhile.
    fn prompt_states<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        canvases: &Bound<'py, PyAny>,
        prompts: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let images = pixels(images, "images")?;
        let canvases = pixels(canvases, "canvases")?;
        let states = py
            .detach(move || {
                let agent = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
                agent.prompt_states(&images, &canvases, &prompts)
            })
            .py_err()?;
        crate::arrays::numpy::<f32>(py, &states)
    }
}
