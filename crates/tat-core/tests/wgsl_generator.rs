//! The generated WGSL dataset: determinism, size, validity, the held-out split by slot
//! combination, and the file round trip.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use tat_core::data::wgsl::{check_examples, load_examples, Example, Split};
use tat_core::data::wgsl_generator::{generate, generate_pairs, render_toml, write_dataset, Pair};
use tat_core::tokenizer::pieces;
use tat_core::wgsl::is_full_shader;

const SEED: u64 = 7;

fn shipped_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/wgsl_generalise_data.toml")
}

#[test]
fn the_same_seed_gives_the_same_dataset_and_another_seed_other_splits() {
    let (a, b, other) = (generate(SEED), generate(SEED), generate(SEED + 1));
    assert_eq!(a, b);
    let without_split = |examples: &[Example]| -> Vec<(String, String)> {
        examples.iter().map(|e| (e.natural_language.clone(), e.wgsl_code.clone())).collect()
    };
    assert_eq!(without_split(&a), without_split(&other), "the seed should only move the split");
    let moved = a.iter().zip(&other).filter(|(x, y)| x.split != y.split).count();
    assert!(moved > a.len() / 20, "only {moved} examples change split with the seed");
}

#[test]
fn prompts_are_unique_plentiful_filled_in_and_cover_every_category() {
    let examples = generate(SEED);
    let unique: HashSet<&str> = examples.iter().map(|e| e.natural_language.as_str()).collect();
    assert_eq!(unique.len(), examples.len(), "some prompt repeats");
    assert!(unique.len() >= 2000, "only {} prompts", unique.len());
    for e in &examples {
        assert!(!e.natural_language.contains(['{', '}']), "unfilled placeholder in {:?}", e.natural_language);
        assert!(e.split.is_some(), "{:?} has no split", e.natural_language);
    }
    let categories: HashSet<&str> = examples.iter().map(|e| e.category.as_str()).collect();
    let expected =
        ["color", "vector", "builtin", "color_operation", "fragment_shader", "vertex_shader", "compute_shader"];
    assert_eq!(categories, expected.into_iter().collect());
}

#[test]
fn every_generated_example_is_valid_wgsl() {
    let examples = generate(SEED);
    check_examples(Path::new("generated"), &examples).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn shaders_are_whole_modules_and_everything_stays_short() {
    for e in generate(SEED) {
        let code_tokens = pieces(&e.wgsl_code).len();
        let prompt_tokens = pieces(&e.natural_language).len();
        assert!(prompt_tokens <= 64, "{prompt_tokens} tokens in the prompt {:?}", e.natural_language);
        if e.category.ends_with("_shader") {
            assert!(
                is_full_shader(&e.wgsl_code),
                "{:?} is filed as a shader but has no entry point",
                e.natural_language
            );
            // The target sequence adds <bos> and <eos>; 180 leaves room under max_seq_len 256.
            assert!(code_tokens <= 180, "{code_tokens} tokens of code for {:?}", e.natural_language);
        } else {
            assert!(code_tokens <= 60, "{code_tokens} tokens of code for {:?}", e.natural_language);
        }
    }
}

#[test]
fn held_out_combinations_are_new_and_made_of_trained_parts() {
    // Several seeds: a split that loses a value only now and then should still be caught.
    for seed in [SEED, 0, 1, 2, 3, 4, 5, 6, 8, 9] {
        check_held_out(&generate_pairs(seed));
    }
}

fn check_held_out(pairs: &[Pair]) {
    let train: Vec<&Pair> = pairs.iter().filter(|p| p.example.split == Some(Split::Train)).collect();
    let train_combinations: HashSet<String> = train.iter().map(|p| p.combination()).collect();
    let train_values: HashSet<(&str, &str, &str)> =
        train.iter().flat_map(|p| p.slots.iter().map(|(slot, value)| (p.intent, *slot, value.as_str()))).collect();
    let train_templates: HashSet<(&str, &str)> = train.iter().map(|p| (p.intent, p.template)).collect();
    let held_out: Vec<&Pair> = pairs.iter().filter(|p| p.example.split != Some(Split::Train)).collect();
    assert!(!held_out.is_empty());
    for p in held_out {
        let combination = p.combination();
        assert!(!train_combinations.contains(&combination), "{combination} is held out and trained on");
        for (slot, value) in &p.slots {
            assert!(
                train_values.contains(&(p.intent, *slot, value.as_str())),
                "{combination}: {slot}={value} is never trained on"
            );
        }
        assert!(
            train_templates.contains(&(p.intent, p.template)),
            "{combination}: template {:?} is never trained on",
            p.template
        );
    }
}

#[test]
fn paraphrases_of_a_combination_share_its_code_and_split() {
    let mut seen: HashMap<String, (String, Option<Split>, usize)> = HashMap::new();
    for p in generate_pairs(SEED) {
        let entry = seen.entry(p.combination()).or_insert((p.example.wgsl_code.clone(), p.example.split, 0));
        assert_eq!((&entry.0, entry.1), (&p.example.wgsl_code, p.example.split), "{}", p.combination());
        entry.2 += 1;
    }
    let fewest = seen.values().map(|(_, _, paraphrases)| *paraphrases).min().unwrap_or(0);
    assert!(fewest >= 3, "a combination has only {fewest} paraphrases");
}

#[test]
fn numbers_in_the_slots_are_stated_in_every_prompt() {
    for p in generate_pairs(SEED) {
        for (slot, value) in p.slots.iter().filter(|(_, value)| value.parse::<f64>().is_ok()) {
            assert!(
                p.example.natural_language.contains(value.as_str()),
                "{slot}={value} is not in {:?}",
                p.example.natural_language
            );
        }
    }
}

#[test]
fn about_a_tenth_is_test_and_a_twentieth_val() {
    let examples = generate(SEED);
    let share = |split| examples.iter().filter(|e| e.split == Some(split)).count() as f64 / examples.len() as f64;
    let (test, val) = (share(Split::Test), share(Split::Val));
    assert!((0.07..=0.12).contains(&test), "test share {test:.3}");
    assert!((0.03..=0.07).contains(&val), "val share {val:.3}");
}

#[test]
fn the_rendered_file_loads_back_unchanged() {
    let examples = generate(SEED);
    let text = render_toml(&examples, SEED);
    assert!(text.starts_with("# Generated by `tiny-agent-trainer generate-data") && text.contains("--seed 7`"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("generated.toml");
    write_dataset(&path, &examples, SEED).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert!(!dir.path().join("generated.toml.tmp").exists(), "the temporary file was left behind");
    assert_eq!(load_examples(&path).unwrap(), examples);
}

#[test]
fn the_shipped_generated_dataset_is_up_to_date() {
    let shipped = std::fs::read_to_string(shipped_path()).expect("config/wgsl_generalise_data.toml exists");
    assert!(
        shipped == render_toml(&generate(SEED), SEED),
        "config/wgsl_generalise_data.toml is stale: run `tiny-agent-trainer generate-data --out \
         config/wgsl_generalise_data.toml --seed 7`"
    );
}
