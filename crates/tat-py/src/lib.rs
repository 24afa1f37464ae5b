//! `tiny_agent_trainer._core`: the PyO3 binding. Conversion and error mapping only; the engine is
//! tat-core. The Python package imports torch before this module, so libtorch is already loaded.

mod agent;
mod arrays;
mod config;
mod device;
mod distributed;
mod errors;
mod eval;
mod model;
mod starter;
mod tasks;
mod train;
mod transduce;
mod wgsl;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<model::Model>()?;
    m.add_class::<agent::Agent>()?;
    m.add_class::<transduce::Transducer>()?;
    m.add_class::<tasks::Classifier>()?;
    m.add_class::<tasks::Completer>()?;
    m.add_class::<eval::EvalReport>()?;
    m.add_class::<wgsl::Diagnostic>()?;
    m.add_function(wrap_pyfunction!(wgsl::validate_wgsl, m)?)?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(train::read_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(train::train_experiment, m)?)?;
    m.add_function(wrap_pyfunction!(train::is_experiment, m)?)?;
    m.add_function(wrap_pyfunction!(train::experiment_record, m)?)?;
    m.add_function(wrap_pyfunction!(train::experiment_table, m)?)?;
    m.add_function(wrap_pyfunction!(config::show_config, m)?)?;
    m.add_function(wrap_pyfunction!(config::list_configs, m)?)?;
    m.add_function(wrap_pyfunction!(config::config_schema, m)?)?;
    m.add_function(wrap_pyfunction!(config::config_load, m)?)?;
    m.add_function(wrap_pyfunction!(config::config_parse, m)?)?;
    m.add_function(wrap_pyfunction!(config::config_check, m)?)?;
    m.add_function(wrap_pyfunction!(config::config_with_overrides, m)?)?;
    m.add_function(wrap_pyfunction!(config::config_to_toml, m)?)?;
    m.add_function(wrap_pyfunction!(starter::write_starter, m)?)?;
    m.add_function(wrap_pyfunction!(device::device_report, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::task_specs, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::config_task, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::run_task, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::classification_eval, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::validation_eval, m)?)?;
    Ok(())
}
