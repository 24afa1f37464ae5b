//! What libtorch sees.

use pyo3::prelude::*;

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
