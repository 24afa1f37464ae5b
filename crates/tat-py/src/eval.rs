//! An evaluation report: the engine's JSON report as a dict, with the engine's renderings of it.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// What `Model.evaluate` returns: the report as `eval --json` prints it, as a dict, plus the
/// texts the CLI prints from it. The texts render the report as the engine computed it, not later
/// edits to the dict.
#[pyclass(module = "tiny_agent_trainer._core", frozen, extends = PyDict)]
pub struct EvalReport {
    report: tat_core::eval::EvalReport,
    saved: Option<PathBuf>,
}

#[pymethods]
impl EvalReport {
    /// The table `eval` prints: one row per category, then the full shaders and the total.
    fn table(&self) -> String {
        self.report.table()
    }

    /// What `eval --show-misses` lists: each example that is not an exact match.
    fn misses(&self) -> String {
        self.report.misses()
    }

    /// The report as `eval --json` prints it.
    fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.report).expect("reports serialise")
    }

    /// The JSON file the report was saved to (None when `evaluate` ran with `save=False`).
    #[getter]
    fn saved(&self) -> Option<PathBuf> {
        self.saved.clone()
    }
}

impl EvalReport {
    pub fn new(
        py: Python<'_>,
        report: tat_core::eval::EvalReport,
        saved: Option<PathBuf>,
    ) -> PyResult<Bound<'_, Self>> {
        let json = serde_json::to_string(&report).expect("reports serialise");
        let fields = py.import("json")?.call_method1("loads", (json,))?;
        let this = Bound::new(py, Self { report, saved })?;
        this.call_method1("update", (fields,))?;
        Ok(this)
    }
}
