//! The config corpus in `tests/configs`: every good file loads, and every bad file fails with an
//! error that names the field its first line (`# expect: <field path>`, or `toml` for a syntax
//! error) promises. `tests/python/test_config_corpus.py` holds the pydantic models to the same files.

use std::path::{Path, PathBuf};

use tat_core::config::Config;
use tat_core::TatError;

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/configs").join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable corpus entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

/// The field path a bad file's error must name, from its `# expect: ...` first line.
fn expected_field(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("a readable corpus file");
    let first = text.lines().next().unwrap_or("");
    first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{}: the first line must be `# expect: <field path>`", path.display()))
        .trim()
        .to_string()
}

#[test]
fn the_corpus_has_enough_files() {
    assert!(corpus("good").len() >= 8, "{} good files", corpus("good").len());
    assert!(corpus("bad").len() >= 20, "{} bad files", corpus("bad").len());
}

#[test]
fn good_configs_load_and_round_trip() {
    for path in corpus("good") {
        let config = Config::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let again = Config::from_toml_str(&config.to_toml_string(), "shown")
            .unwrap_or_else(|e| panic!("{}: `show` output does not load: {e}", path.display()));
        assert_eq!(Config { source: config.source.clone(), ..again }, config, "{}", path.display());
    }
}

#[test]
fn bad_configs_fail_naming_the_field_and_a_fix() {
    let mut failures = Vec::new();
    for path in corpus("bad") {
        let expect = expected_field(&path);
        let needle = if expect == "toml" { "TOML".to_string() } else { format!("`{expect}`") };
        let file = path.display().to_string();
        match Config::from_file(&path) {
            Ok(_) => failures.push(format!("{file}: accepted; expected an error naming {needle}")),
            Err(TatError::Config(message)) => {
                if !message.contains(&needle) {
                    failures.push(format!("{file}: does not name {needle}: {message}"));
                }
                if !message.contains("Fix:") {
                    failures.push(format!("{file}: no `Fix:`: {message}"));
                }
                if !message.starts_with(&format!("{file}:")) {
                    failures.push(format!("{file}: does not start with the file and position: {message}"));
                }
            }
            Err(other) => failures.push(format!("{file}: not a config error: {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
