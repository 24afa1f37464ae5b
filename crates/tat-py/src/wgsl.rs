//! WGSL validation with naga.

use pyo3::prelude::*;

/// One problem in a piece of WGSL; `line` and `column` are 1-based, `column` counts characters.
#[pyclass(module = "tiny_agent_trainer._core", frozen, get_all, eq)]
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    line: usize,
    column: usize,
    message: String,
}

#[pymethods]
impl Diagnostic {
    #[new]
    fn new(line: usize, column: usize, message: String) -> Self {
        Self { line, column, message }
    }

    /// `file:line:col: message`, as the CLI's `validate` prints it.
    #[pyo3(signature = (file = "<input>"))]
    fn render(&self, file: &str) -> String {
        self.to_core().render(file)
    }

    fn __repr__(&self) -> String {
        format!("Diagnostic(line={}, column={}, message={:?})", self.line, self.column, self.message)
    }
}

impl Diagnostic {
    fn to_core(&self) -> tat_core::wgsl::Diagnostic {
        tat_core::wgsl::Diagnostic { line: self.line, column: self.column, message: self.message.clone() }
    }
}

impl From<tat_core::wgsl::Diagnostic> for Diagnostic {
    fn from(d: tat_core::wgsl::Diagnostic) -> Self {
        Self { line: d.line, column: d.column, message: d.message }
    }
}

/// naga's diagnostics for `source` (empty when valid). `snippet` also accepts module-level
/// declarations, statements and bare expressions, as a model writes them; else it must be a module.
#[pyfunction]
#[pyo3(signature = (source, snippet = true))]
pub fn validate_wgsl(source: &str, snippet: bool) -> Vec<Diagnostic> {
    let diagnostics =
        if snippet { tat_core::wgsl::validate_snippet(source) } else { tat_core::wgsl::validate_module(source) };
    diagnostics.into_iter().map(Diagnostic::from).collect()
}
