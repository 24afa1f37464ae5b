//! One error type for the engine. Every message says what was wrong, where (file, line, field
//! path, example index) and what would be right; fronts print it and exit with [`TatError::exit_code`].

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TatError {
    /// A config file that does not parse or does not match the schema.
    #[error("{0}")]
    Config(String),
    /// A dataset file that does not parse, or an example that is malformed.
    #[error("{0}")]
    Dataset(String),
    /// A checkpoint or run directory that is missing or unreadable.
    #[error("{0}")]
    Checkpoint(String),
    /// A bad command-line argument or argument combination.
    #[error("{0}")]
    Usage(String),
    /// WGSL that failed naga's parser or validator.
    #[error("{0}")]
    InvalidWgsl(String),
    /// The user pressed Ctrl-C; state was saved where the message says.
    #[error("{0}")]
    Interrupted(String),
    /// A failure reading or writing a file.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// A failure inside libtorch (out of memory, unsupported device, ...).
    #[error("libtorch: {0}")]
    Torch(String),
    /// Training produced a non-finite loss or gradient norm; the message names the step.
    #[error("{0}")]
    Diverged(String),
    /// A checkpoint could not be written (a full disk, a file-size limit); the one it was to
    /// replace is intact, and the message says so.
    #[error("{0}")]
    Save(String),
}

/// Exit codes shared by every front (documented in the README).
pub mod exit_code {
    pub const INVALID_WGSL: i32 = 1;
    pub const FAILURE: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
    pub const CHECKPOINT: i32 = 3;
    pub const INTERRUPTED: i32 = 130;
}

impl TatError {
    pub fn exit_code(&self) -> i32 {
        match self {
            TatError::Config(_) | TatError::Dataset(_) | TatError::Usage(_) => exit_code::BAD_INPUT,
            TatError::Checkpoint(_) => exit_code::CHECKPOINT,
            TatError::InvalidWgsl(_) => exit_code::INVALID_WGSL,
            TatError::Interrupted(_) => exit_code::INTERRUPTED,
            TatError::Io { .. } | TatError::Torch(_) | TatError::Diverged(_) | TatError::Save(_) => exit_code::FAILURE,
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        TatError::Io { path: path.display().to_string(), source }
    }
}

impl From<tch::TchError> for TatError {
    fn from(e: tch::TchError) -> Self {
        TatError::Torch(e.to_string())
    }
}

pub type Result<T, E = TatError> = std::result::Result<T, E>;

/// The most bytes a text input (a config, a dataset, a shader, a corpus file) may hold: a larger
/// file is refused before it is read.
pub const MAX_TEXT_BYTES: u64 = 1 << 30;

/// Reads a whole text file. A missing file or another failure of the system is a
/// [`TatError::Io`]; what the user can fix (a folder where a file belongs, bytes that are not
/// UTF-8, a file over [`MAX_TEXT_BYTES`]) is `bad(message)`, the message naming the file, the
/// place and the fix.
pub fn read_text(path: &Path, bad: fn(String) -> TatError) -> Result<String> {
    let file = path.display();
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_dir() {
            return Err(bad(format!("{file}: a folder, where a file belongs. Fix: name the file itself.")));
        }
        if meta.len() > MAX_TEXT_BYTES {
            return Err(bad(format!(
                "{file}: too large: {:.1} GiB, more than the {} GiB a text input may hold. Fix: pass a smaller file \
                 (split the data into several files).",
                meta.len() as f64 / (1u64 << 30) as f64,
                MAX_TEXT_BYTES >> 30
            )));
        }
    }
    let bytes = std::fs::read(path).map_err(|e| TatError::io(path, e))?;
    text_of(bytes, &file.to_string()).map_err(bad)
}

/// `bytes` as UTF-8 text, or a message naming `file`, the line and column of the first byte that
/// is not UTF-8, and the fix.
pub fn text_of(bytes: Vec<u8>, file: &str) -> std::result::Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = at - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
        format!("{file}:{line}:{column}: byte 0x{:02x} is not UTF-8 text. Fix: save the file as UTF-8.", bytes[at])
    })
}
