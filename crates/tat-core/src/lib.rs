//! tiny-agent-trainer engine. No Python here: the CLI and the Python binding are thin fronts
//! over this crate.

pub mod data;
pub mod error;
pub mod rng;
pub mod tokenizer;
pub mod wgsl;

pub use error::{Result, TatError};
