//! Models. Each is built from a `tch::nn::Path` (weights live in a `VarStore`, loaded separately)
//! and a config section.

pub mod attention;
pub mod binder;
pub mod layers;
pub mod transformer;

pub use binder::Binder;
pub use transformer::Seq2SeqTransformer;

use crate::config::{Architecture, ModelConfig};
use crate::precision::Compute;

/// The model a `[model]` section describes.
#[derive(Debug)]
pub enum Network {
    Transformer(Seq2SeqTransformer),
    Binder(Binder),
}

impl Network {
    pub fn new(p: &tch::nn::Path, config: &ModelConfig, vocab_size: i64, precision: Compute) -> Self {
        match config.architecture {
            Architecture::Transformer => {
                Network::Transformer(Seq2SeqTransformer::new(p, config, vocab_size, precision))
            }
            Architecture::Binder => Network::Binder(Binder::new(p, config, vocab_size, precision)),
            Architecture::Bionet => unreachable!("config checks keep the bionet architecture to the bionet task"),
        }
    }
}

/// Number of scalar parameters in a var store.
pub fn parameter_count(vs: &tch::nn::VarStore) -> i64 {
    vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
}
