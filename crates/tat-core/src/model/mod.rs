//! Models. Each is built from a `tch::nn::Path` (weights live in a `VarStore`, loaded separately)
//! and a config section.

pub mod attention;
pub mod layers;
pub mod transformer;

pub use transformer::Seq2SeqTransformer;

/// Number of scalar parameters in a var store.
pub fn parameter_count(vs: &tch::nn::VarStore) -> i64 {
    vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
}
