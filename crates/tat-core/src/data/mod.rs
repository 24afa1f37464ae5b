//! Datasets: loading, validation and seeded splits, the generated WGSL dataset, the corpus of real
//! WGSL to pretrain on, and the requests in free phrasing that WGSL models are judged on.

pub mod requests;
pub mod wgsl;
pub mod wgsl_corpus;
pub mod wgsl_generator;
