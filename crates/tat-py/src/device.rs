//! What libtorch sees.

use pyo3::prelude::*;

/// The libtorch this module was built against (version and folder), CPU threads and CUDA
/// devices, one per line (what `check` prints).
#[pyfunction]
pub fn device_report() -> String {
    tat_core::device::report()
}
