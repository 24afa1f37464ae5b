//! Datasets: loading, validation and seeded splits.
