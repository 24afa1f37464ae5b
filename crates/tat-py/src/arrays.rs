//! Numpy arrays handed to the engine as task data: all at once, a fresh training set per epoch
//! from a Python callable, or a fresh batch per step from a Python source.

use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tat_core::tasks::{ArraySplits, BatchSource, EpochSource, Examples, NamedArrays, TaskData};
use tch::Tensor;

use crate::errors::to_py;

fn usage(message: String) -> PyErr {
    to_py(tat_core::TatError::Usage(message))
}

/// The elements of a numpy array in C order: straight from its buffer when it is contiguous,
/// else element by element.
fn elements<T: numpy::Element + Copy, U>(a: &numpy::PyReadonlyArrayDyn<'_, T>, convert: impl Fn(T) -> U) -> Vec<U> {
    match a.as_slice() {
        Ok(slice) => slice.iter().map(|&v| convert(v)).collect(),
        Err(_) => a.as_array().iter().map(|&v| convert(v)).collect(),
    }
}

/// A CPU tensor of `T` elements as a numpy array of its shape (the inverse of [`tensor`]).
pub fn numpy<'py, T>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>>
where
    T: numpy::Element + tch::kind::Element + Copy + Default,
{
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let n = t.numel();
    let mut data = vec![T::default(); n];
    t.to_kind(T::KIND).contiguous().copy_data(&mut data, n);
    Ok(numpy::PyArray1::from_vec(py, data).reshape(shape)?.into_any())
}

/// One numpy array as a CPU tensor: floats as float32, uint8 as uint8 (pictures), other integers
/// as int64 (`what` names it).
pub fn tensor(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    let shape = |dims: &[usize]| dims.iter().map(|&d| d as i64).collect::<Vec<_>>();
    if let Ok(a) = value.cast::<PyArrayDyn<u8>>() {
        let a = a.readonly();
        return Ok(Tensor::from_slice(&elements(&a, |v| v)).view(shape(a.shape()).as_slice()));
    }
    if let Ok(a) = value.cast::<PyArrayDyn<f32>>() {
        let a = a.readonly();
        return Ok(Tensor::from_slice(&elements(&a, |v| v)).view(shape(a.shape()).as_slice()));
    }
    if let Ok(a) = value.cast::<PyArrayDyn<f64>>() {
        let a = a.readonly();
        return Ok(Tensor::from_slice(&elements(&a, |v| v as f32)).view(shape(a.shape()).as_slice()));
    }
    if let Ok(a) = value.cast::<PyArrayDyn<i64>>() {
        let a = a.readonly();
        return Ok(Tensor::from_slice(&elements(&a, |v| v)).view(shape(a.shape()).as_slice()));
    }
    if let Ok(a) = value.cast::<PyArrayDyn<i32>>() {
        let a = a.readonly();
        return Ok(Tensor::from_slice(&elements(&a, i64::from)).view(shape(a.shape()).as_slice()));
    }
    let kind = value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    let dtype = value.getattr("dtype").map(|d| d.to_string()).unwrap_or_default();
    Err(usage(format!(
        "{what} is a {kind}{}, not a numpy array of float32/float64/int64/int32/uint8. Fix: pass values as \
         np.float32 and classes or ids as np.int64, e.g. np.asarray(values, dtype=np.int64).",
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

/// `data=` of `train`: splits of arrays, or a callable for `train`; or a source of batches.
pub fn task_data(data: &Bound<'_, PyAny>) -> PyResult<TaskData> {
    let Ok(data) = data.cast::<PyDict>() else {
        return batch_source(data);
    };
    let mut fixed = ArraySplits::new();
    let mut stream = None;
    for (key, value) in data.iter() {
        let split: String = key.extract().map_err(|_| {
            usage(format!(
                "data has the key {} ({}), not a string. Fix: name the splits with strings: \"train\", \"val\" and \
                 optionally \"test\".",
                key.repr().map(|r| r.to_string()).unwrap_or_default(),
                key.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            ))
        })?;
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
            let made = self.make.call1(py, (seed, epoch)).map_err(|e| raised(py, &what, &e))?;
            named(made.bind(py), &what).map_err(|e| tat_core::TatError::Usage(e.value(py).to_string()))
        })
    }
}

/// What a user's function raised, with its type, as the error of the call `what`. Ctrl-C is
/// [`tat_core::TatError::Interrupted`]: Python's SIGINT handler raises `KeyboardInterrupt` in
/// whatever Python code runs when the signal comes, often this data call, and the learner then
/// saves `last` as it does for a Ctrl-C between steps.
fn raised(py: Python<'_>, what: &str, e: &PyErr) -> tat_core::TatError {
    if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
        return tat_core::TatError::Interrupted(format!("interrupted in {what}"));
    }
    let kind = e.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "an exception".into());
    tat_core::TatError::Usage(format!(
        "{what} raised {kind}: {}. Fix: correct the function (call it yourself with these arguments to see its \
         traceback).",
        e.value(py)
    ))
}

/// The methods a batch source has.
const SOURCE_METHODS: [&str; 3] = ["vocabulary", "batch", "validation"];

/// `data=` an object with `vocabulary()`, `batch(seed, step)` and `validation()`.
fn batch_source(data: &Bound<'_, PyAny>) -> PyResult<TaskData> {
    for method in SOURCE_METHODS {
        if !data.getattr(method).is_ok_and(|m| m.is_callable()) {
            return Err(usage(format!(
                "data is a {} without a {method}() method: pass a dict of arrays by split, or a source with \
                 vocabulary(), batch(seed, step) and validation().",
                data.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            )));
        }
    }
    Ok(TaskData::Batches(Box::new(PyBatches { source: data.clone().unbind() })))
}

/// A batch: a dict whose values are numpy arrays or lists of strings (`what` names it).
fn examples(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Examples> {
    let dict = value
        .cast::<PyDict>()
        .map_err(|_| usage(format!("{what} is not a dict of numpy arrays and lists of strings by name.")))?;
    let mut out = Examples::default();
    for (key, item) in dict.iter() {
        let name: String = key.extract().map_err(|_| usage(format!("{what} has a key that is not a string.")))?;
        if item.is_instance_of::<pyo3::types::PyList>() || item.is_instance_of::<pyo3::types::PyTuple>() {
            let texts: Vec<String> =
                item.extract().map_err(|_| usage(format!("{what}[{name:?}] is a list, but not of strings.")))?;
            out.texts.insert(name, texts);
        } else {
            out.arrays.insert(name.clone(), tensor(&item, &format!("{what}[{name:?}]"))?);
        }
    }
    Ok(out)
}

/// Batches made in Python, per step.
struct PyBatches {
    source: Py<PyAny>,
}

impl PyBatches {
    fn call<T>(
        &self,
        method: &str,
        args: impl for<'py> pyo3::call::PyCallArgs<'py>,
        what: &str,
        convert: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<T>,
    ) -> tat_core::Result<T> {
        Python::attach(|py| {
            let made = self.source.call_method1(py, method, args).map_err(|e| raised(py, what, &e))?;
            convert(made.bind(py)).map_err(|e| tat_core::TatError::Usage(e.value(py).to_string()))
        })
    }
}

impl BatchSource for PyBatches {
    fn vocabulary(&mut self) -> tat_core::Result<Vec<String>> {
        self.call("vocabulary", (), "data.vocabulary()", |v| {
            v.extract().map_err(|_| usage("data.vocabulary() did not return a list of strings.".into()))
        })
    }

    fn batch(&mut self, seed: u64, step: usize) -> tat_core::Result<Examples> {
        let what = format!("data.batch({seed}, {step})");
        self.call("batch", (seed, step), &what, |v| examples(v, &what))
    }

    fn validation(&mut self) -> tat_core::Result<Vec<Examples>> {
        self.call("validation", (), "data.validation()", |v| {
            let list = v
                .cast::<pyo3::types::PyList>()
                .map_err(|_| usage("data.validation() did not return a list of batches.".into()))?;
            list.iter().enumerate().map(|(i, b)| examples(&b, &format!("data.validation()[{i}]"))).collect()
        })
    }
}
