//! Config files as the engine reads them. The engine's schema is the only one: the Python
//! package's pydantic models are generated from [`config_schema`], and every config it loads,
//! builds or overrides is parsed and checked here, so both sides accept, reject and word errors
//! alike by construction.

use std::path::PathBuf;

use pyo3::prelude::*;
use tat_core::config::Config;

use crate::errors::ToPyResult;

/// The config file at `path`, checked, as TOML with every default filled in (what `show` prints).
#[pyfunction]
pub fn show_config(path: PathBuf) -> PyResult<String> {
    Ok(Config::from_file(&path).py_err()?.to_toml_string())
}

/// The configs and experiment files in the folder `dir`, sorted, as `(path, summary)` pairs: the
/// path as joined onto `dir`, and the task name, size and epochs (or the experiment's name and
/// number of runs) in one line (what `list` prints). Other TOML files there, such as datasets,
/// are skipped.
#[pyfunction]
pub fn list_configs(dir: PathBuf) -> PyResult<Vec<(String, String)>> {
    let listed = tat_core::experiment::listing(&dir).py_err()?;
    Ok(listed.into_iter().map(|(path, summary)| (path.display().to_string(), summary)).collect())
}

/// The config's JSON Schema, as JSON text.
#[pyfunction]
pub fn config_schema() -> String {
    serde_json::to_string_pretty(&tat_core::config::json_schema()).expect("schemas serialise")
}

/// The config file at `path`, checked, as JSON with every default filled in.
#[pyfunction]
pub fn config_load(path: PathBuf) -> PyResult<String> {
    Ok(Config::from_file(&path).py_err()?.to_json_string())
}

/// TOML text, checked (`file` names it in errors), as JSON with every default filled in.
#[pyfunction]
#[pyo3(signature = (text, file = "<string>"))]
pub fn config_parse(text: &str, file: &str) -> PyResult<String> {
    Ok(Config::from_toml_str(text, file).py_err()?.to_json_string())
}

/// A config given as JSON, checked, as JSON with every default filled in.
#[pyfunction]
#[pyo3(signature = (json, file = "<dict>"))]
pub fn config_check(json: &str, file: &str) -> PyResult<String> {
    Ok(Config::from_json_str(json, file).py_err()?.to_json_string())
}

/// A config given as JSON with `SECTION.KEY=VALUE` overrides applied, checked, as JSON.
#[pyfunction]
pub fn config_with_overrides(json: &str, overrides: Vec<String>) -> PyResult<String> {
    let config = Config::from_json_str(json, "<config>").py_err()?;
    Ok(config.with_overrides(&overrides).py_err()?.to_json_string())
}

/// A config given as JSON as TOML with every default filled in (what `show` prints).
#[pyfunction]
pub fn config_to_toml(json: &str) -> PyResult<String> {
    Ok(Config::from_json_str(json, "<config>").py_err()?.to_toml_string())
}
