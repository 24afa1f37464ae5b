//! Models. Each is built from a `tch::nn::Path` (weights live in a `VarStore`, loaded separately)
//! and a config section.

pub mod agent;
pub mod attention;
pub mod binder;
pub mod diffusion_lm;
pub mod feedback;
pub mod layers;
pub mod transformer;

pub use binder::Binder;
pub use transformer::Seq2SeqTransformer;

use crate::config::ModelConfig;
use crate::precision::Compute;

/// The model a `[model]` section describes.
#[derive(Debug)]
pub enum Network {
    Transformer(Seq2SeqTransformer),
    Binder(Binder),
}

impl Network {
    pub fn new(p: &tch::nn::Path, config: &ModelConfig, vocab_size: i64, precision: Compute) -> Self {
        match config {
            ModelConfig::Transformer(c) => Network::Transformer(Seq2SeqTransformer::new(p, c, vocab_size, precision)),
            ModelConfig::Binder(c) => Network::Binder(Binder::new(p, c, vocab_size, precision)),
            ModelConfig::Bionet(_) | ModelConfig::DiffusionLm(_) | ModelConfig::Feedback(_) | ModelConfig::Agent(_) => {
                unreachable!("config checks keep these architectures to their own tasks")
            }
        }
    }
}

/// Number of scalar parameters in a var store.
pub fn parameter_count(vs: &tch::nn::VarStore) -> i64 {
    vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
}
