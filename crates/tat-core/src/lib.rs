//! tiny-agent-trainer engine. No Python here: the CLI and the Python binding are thin fronts
//! over this crate.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod error;
pub mod eval;
pub mod experiment;
pub mod generate;
pub mod model;
pub mod native;
pub mod precision;
pub mod rng;
pub mod starter;
pub mod tasks;
pub mod text;
pub mod tokenizer;
pub mod train;
pub mod transduce;
pub mod wgsl;

pub use error::{Result, TatError};
