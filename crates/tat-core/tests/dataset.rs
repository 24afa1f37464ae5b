//! The shipped WGSL dataset, its loader's error messages, and seeded splits.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tat_core::data::wgsl::{check_examples, load_examples, split_examples, Example};
use tat_core::wgsl::is_full_shader;

fn shipped_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/wgsl_training_data.toml")
}

fn shipped() -> Vec<Example> {
    load_examples(&shipped_path()).expect("the shipped dataset loads")
}

#[test]
fn the_shipped_dataset_covers_every_category_family() {
    let examples = shipped();
    assert!(examples.len() >= 85, "only {} examples", examples.len());
    let categories: HashSet<&str> = examples.iter().map(|e| e.category.as_str()).collect();
    for family in ["color", "vector", "builtin", "color_operation"] {
        assert!(categories.contains(family), "no {family:?} examples");
    }
    assert!(categories.iter().any(|c| c.ends_with("_shader")), "no full shaders");
    let full = examples.iter().filter(|e| is_full_shader(&e.wgsl_code)).count();
    assert!(full >= 20, "only {full} full shaders");
    for e in examples.iter().filter(|e| e.category.ends_with("_shader")) {
        assert!(is_full_shader(&e.wgsl_code), "{:?} is filed as a shader but has no entry point", e.natural_language);
    }
}

#[test]
fn every_shipped_example_is_valid_wgsl() {
    let examples = shipped();
    check_examples(&shipped_path(), &examples).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn loading_trims_the_newline_that_closes_a_literal_block() {
    let examples = shipped();
    assert!(examples.iter().all(|e| !e.wgsl_code.ends_with('\n') && !e.natural_language.ends_with(' ')));
}

fn numbered(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| Example {
            natural_language: format!("prompt {i}"),
            wgsl_code: "1.0".into(),
            category: "color".into(),
            split: None,
        })
        .collect()
}

fn prompts(examples: &[Example]) -> Vec<&str> {
    examples.iter().map(|e| e.natural_language.as_str()).collect()
}

#[test]
fn splits_are_deterministic_per_seed_disjoint_and_complete() {
    let a = split_examples(numbered(100), 0.8, 0.1, 42);
    let b = split_examples(numbered(100), 0.8, 0.1, 42);
    let c = split_examples(numbered(100), 0.8, 0.1, 43);
    assert_eq!(prompts(&a.train), prompts(&b.train));
    assert_eq!(prompts(&a.test), prompts(&b.test));
    assert_ne!(prompts(&a.train), prompts(&c.train));
    assert_eq!((a.train.len(), a.val.len(), a.test.len()), (80, 10, 10));

    let mut all: Vec<&str> = [prompts(&a.train), prompts(&a.val), prompts(&a.test)].concat();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 100, "splits overlap or lose examples");
    assert_ne!(prompts(&a.train)[..10], prompts(&numbered(100))[..10], "not shuffled");
}

#[test]
fn no_split_is_empty_when_rounding_would_empty_one() {
    let s = split_examples(numbered(3), 0.8, 0.1, 1);
    assert_eq!((s.train.len(), s.val.len(), s.test.len()), (1, 1, 1));
    let s = split_examples(numbered(10), 0.9, 0.1, 1);
    assert_eq!((s.train.len(), s.val.len(), s.test.len()), (8, 1, 1));
    let s = split_examples(numbered(2), 0.8, 0.1, 1);
    assert_eq!(s.train.len() + s.val.len() + s.test.len(), 2);
}

/// Writes `text` as a dataset in a temporary folder and returns the loader's error message.
fn load_error(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.toml");
    std::fs::write(&path, text).unwrap();
    let error = load_examples(&path).expect_err("the file is malformed").to_string();
    assert!(error.contains("data.toml"), "the error does not name the file: {error}");
    error
}

const GOOD: &str = "[[examples]]\nnatural_language = \"Create a red color\"\nwgsl_code = \"vec3<f32>(1.0, 0.0, 0.0)\"\ncategory = \"color\"\n\n";

#[test]
fn an_unknown_field_is_named_with_its_example_and_line() {
    let error = load_error(&format!(
        "{GOOD}[[examples]]\nnatural_language = \"Create a blue color\"\nwgsl_code = \"vec3<f32>(0.0, 0.0, 1.0)\"\ncategory = \"color\"\nnote = \"x\"\n"
    ));
    assert!(error.contains("examples[1]"), "{error}");
    assert!(error.contains("note") && error.contains("natural_language"), "{error}");
    assert!(error.contains(":10:"), "{error}");
}

#[test]
fn a_missing_field_is_named_with_its_example() {
    let error =
        load_error(&format!("{GOOD}[[examples]]\nnatural_language = \"Create a blue color\"\ncategory = \"color\"\n"));
    assert!(error.contains("examples[1]") && error.contains("wgsl_code"), "{error}");
    assert!(error.contains(":6:"), "{error}");
}

#[test]
fn a_wrong_type_is_named_with_its_field_and_line() {
    let error = load_error(
        "[[examples]]\nnatural_language = \"Create a red color\"\nwgsl_code = \"vec3<f32>(1.0)\"\ncategory = 3\n",
    );
    assert!(error.contains("examples[0].category: "), "{error}");
    assert!(error.contains(":4:") && error.contains("expected a string"), "{error}");
}

#[test]
fn an_empty_prompt_is_named_with_its_field_and_line() {
    let error = load_error(&format!(
        "{GOOD}[[examples]]\nnatural_language = \"  \"\nwgsl_code = \"vec3<f32>(1.0)\"\ncategory = \"color\"\n"
    ));
    assert!(error.contains("examples[1].natural_language") && error.contains("empty"), "{error}");
    assert!(error.contains(":7:"), "{error}");
}

#[test]
fn a_duplicate_prompt_names_both_examples() {
    let error = load_error(&format!("{GOOD}{GOOD}"));
    assert!(error.contains("examples[1]") && error.contains("examples[0]") && error.contains("line 2"), "{error}");
}

#[test]
fn a_file_without_examples_says_what_is_expected() {
    let error = load_error("# nothing here\n");
    assert!(error.contains("no [[examples]]") && error.contains("wgsl_code"), "{error}");
}

#[test]
fn invalid_toml_names_the_line() {
    let error = load_error(&format!("{GOOD}[[examples]\n"));
    assert!(error.contains("invalid TOML") && error.contains(":6:"), "{error}");
}

#[test]
fn check_examples_lists_each_invalid_example() {
    let mut examples = numbered(3);
    examples[1].wgsl_code = "normalize(1, 2, 3)".into();
    examples[2].wgsl_code = "let x = 1.0;\nlet y = x +;".into();
    let error = check_examples(Path::new("data.toml"), &examples).expect_err("two examples are invalid").to_string();
    assert!(error.contains("2 of 3"), "{error}");
    assert!(error.contains("examples[1].wgsl_code:1:1:") && error.contains("\"prompt 1\""), "{error}");
    assert!(error.contains("examples[2].wgsl_code:2:12:"), "{error}");
    assert!(!error.contains("examples[0]"), "{error}");
}
