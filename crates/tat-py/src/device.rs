//! What libtorch sees.

use pyo3::prelude::*;
use tat_core::config::{DeviceChoice, Precision};

use crate::errors::ToPyResult;

/// The libtorch this module was built against (version and folder), CPU threads and CUDA
/// devices, one per line (what `check` prints).
#[pyfunction]
pub fn device_report() -> String {
    tat_core::device::report()
}

/// Raises `message` as a Python `RuntimeWarning` (shown once per place by default).
pub fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let message = std::ffi::CString::new(message).unwrap_or_default();
    PyErr::warn(py, &py.get_type::<pyo3::exceptions::PyRuntimeWarning>(), &message, 1)
}

/// The `device`, `threads` and `precision` arguments of every `load`, checked; sets the threads.
pub fn load_options(
    device: &str,
    threads: Option<i64>,
    precision: Option<&str>,
) -> PyResult<(DeviceChoice, Option<Precision>)> {
    let device: DeviceChoice = device.parse().py_err()?;
    let precision: Option<Precision> = precision.map(str::parse).transpose().py_err()?;
    let threads = count(threads, "threads", "0 or leave it out for every core")?;
    tat_core::device::set_threads(threads.unwrap_or(0));
    Ok((device, precision))
}

/// A count argument (`name`) that Python passes as any int: a negative one is a `UsageError`
/// naming the argument, where pyo3's own conversion would raise a bare `OverflowError`.
pub fn count(value: Option<i64>, name: &str, hint: &str) -> PyResult<Option<usize>> {
    match value {
        Some(v) if v < 0 => Err(tat_core::TatError::Usage(format!(
            "{name} = {v}: expected a number >= 0. Fix: give {name} a count ({hint})."
        )))
        .py_err(),
        other => Ok(other.map(|v| v as usize)),
    }
}
