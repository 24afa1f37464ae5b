//! The starter files of `init`.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::errors::ToPyResult;

/// Writes the starter config and its dataset into the folder `dir` (created when missing) and
/// returns their paths as joined onto `dir`. Raises `UsageError` when either exists, unless `force`.
#[pyfunction]
#[pyo3(signature = (dir, force = false))]
pub fn write_starter(dir: PathBuf, force: bool) -> PyResult<(String, String)> {
    let [config, dataset] = tat_core::starter::write(&dir, force).py_err()?;
    Ok((config.display().to_string(), dataset.display().to_string()))
}
