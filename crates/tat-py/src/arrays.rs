//! Numpy arrays handed to the engine as task data: all at once, or a fresh training set per
//! epoch from a Python callable.

use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tat_core::tasks::{ArraySplits, EpochSource, NamedArrays, TaskData};
use tch::Tensor;

use crate::errors::to_py;

fn usage(message: String) -> PyErr {
    to_py(tat_core::TatError::Usage(message))
}

/// One numpy array as a CPU tensor: floats as float32, integers as int64 (`what` names it).
fn tensor(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    let shape = |dims: &[usize]| dims.iter().map(|&d| d as i64).collect::<Vec<_>>();
    if let Ok(a) = value.cast::<PyArrayDyn<f32>>() {
        let a = a.readonly();
        let data: Vec<f32> = a.as_array().iter().copied().collect();
        return Ok(Tensor::from_slice(&data).view(shape(a.shape()).as_slice()));
    }
    if let Ok(a) = value.cast::<PyArrayDyn<f64>>() {
        let a = a.readonly();
        let data: Vec<f32> = a.as_array().iter().map(|&v| v as f32).collect();
        return Ok(Tensor::from_slice(&data).view(shape(a.shape()).as_slice()));
    }
    if let Ok(a) = value.cast::<PyArrayDyn<i64>>() {
        let a = a.readonly();
        let data: Vec<i64> = a.as_array().iter().copied().collect();
        return Ok(Tensor::from_slice(&data).view(shape(a.shape()).as_slice()));
    }
    if let Ok(a) = value.cast::<PyArrayDyn<i32>>() {
        let a = a.readonly();
        let data: Vec<i64> = a.as_array().iter().map(|&v| i64::from(v)).collect();
        return Ok(Tensor::from_slice(&data).view(shape(a.shape()).as_slice()));
    }
    let kind = value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    let dtype = value.getattr("dtype").map(|d| d.to_string()).unwrap_or_default();
    Err(usage(format!(
        "{what} is a {kind}{}, not a numpy array of float32/float64/int64/int32. Fix: pass e.g. np.asarray(values, dtype=np.float32).",
        if dtype.is_empty() { String::new() } else { format!(" of {dtype}") }
    )))
}

/// A dict of arrays by name (`what` names it in errors).
fn named(value: &Bound<'_, PyAny>, what: &str) -> PyResult<NamedArrays> {
    let dict = value.cast::<PyDict>().map_err(|_| {
        usage(format!("{what} is not a dict of numpy arrays by name. Fix: pass e.g. {{\"x\": x, \"labels\": labels}}."))
    })?;
    let mut out = NamedArrays::new();
    for (key, array) in dict.iter() {
        let name: String = key.extract().map_err(|_| usage(format!("{what} has a key that is not a string.")))?;
        let tensor = tensor(&array, &format!("{what}[{name:?}]"))?;
        out.insert(name, tensor);
    }
    Ok(out)
}

/// `data=` of `train`: splits of arrays, or a callable for `train`.
pub fn task_data(data: &Bound<'_, PyDict>) -> PyResult<TaskData> {
    let mut fixed = ArraySplits::new();
    let mut stream = None;
    for (key, value) in data.iter() {
        let split: String = key.extract().map_err(|_| usage("data has a key that is not a string.".into()))?;
        if split == "train" && value.is_callable() {
            stream = Some(Box::new(PySource { make: value.unbind() }) as Box<dyn EpochSource>);
            continue;
        }
        fixed.insert(split.clone(), named(&value, &format!("data[{split:?}]"))?);
    }
    Ok(match stream {
        Some(train) => TaskData::Stream { fixed, train },
        None => TaskData::Arrays(fixed),
    })
}

/// A training set made in Python, per epoch.
struct PySource {
    make: Py<PyAny>,
}

impl EpochSource for PySource {
    fn epoch(&mut self, seed: u64, epoch: usize) -> tat_core::Result<NamedArrays> {
        Python::attach(|py| {
            let what = format!("data[\"train\"]({seed}, {epoch})");
            let made = self
                .make
                .call1(py, (seed, epoch))
                .map_err(|e| tat_core::TatError::Usage(format!("{what} raised {}", e.value(py))))?;
            named(made.bind(py), &what).map_err(|e| tat_core::TatError::Usage(e.value(py).to_string()))
        })
    }
}
