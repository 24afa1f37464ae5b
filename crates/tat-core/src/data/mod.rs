//! Datasets: loading, validation and seeded splits, the generated WGSL dataset, and the requests
//! in free phrasing that WGSL models are judged on.

pub mod requests;
pub mod wgsl;
pub mod wgsl_generator;
