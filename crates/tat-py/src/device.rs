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
    threads: Option<usize>,
    precision: Option<&str>,
) -> PyResult<(DeviceChoice, Option<Precision>)> {
    let device: DeviceChoice = device.parse().py_err()?;
    let precision: Option<Precision> = precision.map(str::parse).transpose().py_err()?;
    tat_core::device::set_threads(threads.unwrap_or(0));
    Ok((device, precision))
}
