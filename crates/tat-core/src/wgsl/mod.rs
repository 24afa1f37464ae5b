//! WGSL validation with naga.
