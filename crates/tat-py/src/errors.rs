//! One exception hierarchy for every engine error. Messages are the engine's, the same text the
//! CLI prints after `error: `.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use pyo3::PyTypeInfo;

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

create_exception!(
    tiny_agent_trainer._core,
    DivergedError,
    TatError,
    "Training met a non-finite loss or gradient norm; the message names the step."
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
        E::Io { .. } | E::Save(_) => FileError::new_err(message),
        E::Torch(_) => TorchError::new_err(message),
        E::Diverged(_) => DivergedError::new_err(message),
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

/// Adds every exception class to the module, each with the `exit_code` the CLI exits with when
/// that error stops it, and `EXIT_INTERRUPTED` for Ctrl-C.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    use tat_core::error::exit_code;
    use tat_core::TatError as E;
    add::<TatError>(m, "TatError", exit_code::FAILURE)?;
    add::<ConfigError>(m, "ConfigError", E::Config(String::new()).exit_code())?;
    add::<DatasetError>(m, "DatasetError", E::Dataset(String::new()).exit_code())?;
    add::<CheckpointError>(m, "CheckpointError", E::Checkpoint(String::new()).exit_code())?;
    add::<UsageError>(m, "UsageError", E::Usage(String::new()).exit_code())?;
    add::<InvalidWgslError>(m, "InvalidWgslError", E::InvalidWgsl(String::new()).exit_code())?;
    let io = E::io(std::path::Path::new(""), std::io::Error::other(""));
    add::<FileError>(m, "FileError", io.exit_code())?;
    add::<TorchError>(m, "TorchError", E::Torch(String::new()).exit_code())?;
    add::<DivergedError>(m, "DivergedError", E::Diverged(String::new()).exit_code())?;
    m.add("EXIT_INTERRUPTED", E::Interrupted(String::new()).exit_code())?;
    Ok(())
}

fn add<T: PyTypeInfo>(m: &Bound<'_, PyModule>, name: &str, exit_code: i32) -> PyResult<()> {
    let class = m.py().get_type::<T>();
    class.setattr("exit_code", exit_code)?;
    m.add(name, class)
}
