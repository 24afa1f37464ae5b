//! One exception hierarchy for every engine error. Messages are the engine's, the same text the
//! CLI prints after `error: `.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;

create_exception!(
    tiny_agent_trainer._core,
    TatError,
    PyException,
    "Base of every error tiny-agent-trainer raises; the message says what was wrong, where, and the fix."
);
create_exception!(
    tiny_agent_trainer._core,
    ConfigError,
    TatError,
    "A config that does not parse or does not match the schema (file, line, field path)."
);
create_exception!(
    tiny_agent_trainer._core,
    DatasetError,
    TatError,
    "A dataset file that does not parse, or an example that is malformed."
);
create_exception!(
    tiny_agent_trainer._core,
    CheckpointError,
    TatError,
    "A checkpoint or run folder that is missing or unreadable."
);
create_exception!(tiny_agent_trainer._core, UsageError, TatError, "A bad argument or argument combination.");
create_exception!(
    tiny_agent_trainer._core,
    InvalidWgslError,
    TatError,
    "WGSL that naga's parser or validator rejected."
);
create_exception!(tiny_agent_trainer._core, FileError, TatError, "A failure reading or writing a file.");
create_exception!(
    tiny_agent_trainer._core,
    TorchError,
    TatError,
    "A failure inside libtorch (out of memory, unsupported device, ...)."
);

/// The Python exception for an engine error. Ctrl-C (`Interrupted`) is Python's own `KeyboardInterrupt`.
pub fn to_py(error: tat_core::TatError) -> PyErr {
    use tat_core::TatError as E;
    let message = error.to_string();
    match error {
        E::Config(_) => ConfigError::new_err(message),
        E::Dataset(_) => DatasetError::new_err(message),
        E::Checkpoint(_) => CheckpointError::new_err(message),
        E::Usage(_) => UsageError::new_err(message),
        E::InvalidWgsl(_) => InvalidWgslError::new_err(message),
        E::Interrupted(_) => PyKeyboardInterrupt::new_err(message),
        E::Io { .. } => FileError::new_err(message),
        E::Torch(_) => TorchError::new_err(message),
    }
}

/// `?` on an engine result inside a Python-facing function.
pub trait ToPyResult<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> ToPyResult<T> for tat_core::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// Adds every exception class to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("TatError", py.get_type::<TatError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("DatasetError", py.get_type::<DatasetError>())?;
    m.add("CheckpointError", py.get_type::<CheckpointError>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("InvalidWgslError", py.get_type::<InvalidWgslError>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    m.add("TorchError", py.get_type::<TorchError>())?;
    Ok(())
}
