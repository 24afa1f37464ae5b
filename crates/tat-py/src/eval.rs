//! An evaluation report: the engine's JSON report as a dict, with the engine's renderings of it.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// What `Model.evaluate` returns: the report as `eval --json` prints it, as a dict, plus the
/// texts the CLI prints from it. The texts render the report as the engine computed it, not later
/// edits to the dict.
#[pyclass(module = "tiny_agent_trainer._core", frozen, extends = PyDict)]
pub struct EvalReport {
    table: String,
    misses: String,
    json: String,
    saved: Option<PathBuf>,
}

#[pymethods]
impl EvalReport {
    /// The table `eval` prints: one row per category, then the full shaders (for requests: each
    /// kind) and the total.
    fn table(&self) -> String {
        self.table.clone()
    }

    /// What `eval --show-misses` lists: each example that is not an exact match (each request
    /// whose answer is not right).
    fn misses(&self) -> String {
        self.misses.clone()
    }

    /// The report as `eval --json` prints it.
    fn to_json(&self) -> String {
        self.json.clone()
    }

    /// The JSON file the report was saved to (None when `evaluate` ran with `save=False`).
    #[getter]
    fn saved(&self) -> Option<PathBuf> {
        self.saved.clone()
    }
}

/// The engine's reports this class carries: a split's examples, or requests in free phrasing.
pub enum Scored {
    Examples(tat_core::eval::EvalReport),
    Requests(tat_core::eval::requests::RequestReport),
}

impl EvalReport {
    pub fn new(py: Python<'_>, report: Scored, saved: Option<PathBuf>) -> PyResult<Bound<'_, Self>> {
        let (table, misses, json) = match &report {
            Scored::Examples(r) => (r.table(), r.misses(), serde_json::to_string_pretty(r)),
            Scored::Requests(r) => (r.table(), r.misses(), serde_json::to_string_pretty(r)),
        };
        let json = json.expect("reports serialise");
        let fields = py.import("json")?.call_method1("loads", (json.as_str(),))?;
        let this = Bound::new(py, Self { table, misses, json, saved })?;
        this.call_method1("update", (fields,))?;
        Ok(this)
    }
}
