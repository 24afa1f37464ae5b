//! The starter files `init` writes: the small WGSL config and the dataset it trains on, so that
//! both fronts hand a new user the same two files.

use std::path::{Path, PathBuf};

use crate::error::{Result, TatError};

/// The starter config's file name.
pub const CONFIG_FILE: &str = "tat.toml";
/// The starter dataset's file name: the name the starter config's `dataset.path` gives.
pub const DATASET_FILE: &str = "wgsl_training_data.toml";

const CONFIG: &str = include_str!("../../../config/wgsl_small.toml");
const DATASET: &str = include_str!("../../../config/wgsl_training_data.toml");

/// Writes the starter config and dataset into `dir` (created when missing) and returns their
/// paths. Without `force`, an existing file stops it before anything is written.
pub fn write(dir: &Path, force: bool) -> Result<[PathBuf; 2]> {
    let config_path = dir.join(CONFIG_FILE);
    let dataset_path = dir.join(DATASET_FILE);
    for path in [&config_path, &dataset_path] {
        if path.exists() && !force {
            return Err(TatError::Usage(format!(
                "init: {} already exists and was left untouched. Fix: pass --force to overwrite it, or init another folder.",
                path.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| TatError::io(dir, e))?;
    std::fs::write(&config_path, CONFIG).map_err(|e| TatError::io(&config_path, e))?;
    std::fs::write(&dataset_path, DATASET).map_err(|e| TatError::io(&dataset_path, e))?;
    Ok([config_path, dataset_path])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_starter_config_trains_on_the_starter_dataset() {
        let dir = tempfile::tempdir().unwrap();
        let [config, dataset] = write(dir.path(), false).unwrap();
        assert_eq!(Config::from_file(&config).unwrap().dataset_path(), dataset);
    }

    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), false).unwrap();
        let error = write(dir.path(), false).unwrap_err();
        assert!(error.to_string().contains("--force"), "{error}");
        write(dir.path(), true).unwrap();
    }
}
