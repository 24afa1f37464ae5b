//! Config files as the engine reads them.

use std::path::PathBuf;

use pyo3::prelude::*;
use tat_core::config::Config;

use crate::errors::ToPyResult;

/// The config file at `path`, checked, as TOML with every default filled in (what `show` prints).
#[pyfunction]
pub fn show_config(path: PathBuf) -> PyResult<String> {
    Ok(Config::from_file(&path).py_err()?.to_toml_string())
}

/// The configs in the folder `dir`, sorted, as `(path, summary)` pairs: the path as joined onto
/// `dir`, and the task name, size and epochs in one line (what `list` prints). Other TOML files
/// there, such as datasets, are skipped.
#[pyfunction]
pub fn list_configs(dir: PathBuf) -> PyResult<Vec<(String, String)>> {
    let configs = tat_core::config::list_configs(&dir).py_err()?;
    Ok(configs.iter().map(|(path, config)| (path.display().to_string(), config.summary())).collect())
}
