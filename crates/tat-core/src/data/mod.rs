//! Datasets: loading, validation and seeded splits, and the generated WGSL dataset.

pub mod wgsl;
pub mod wgsl_generator;
