//! Datasets: loading, validation and seeded splits.

pub mod wgsl;
