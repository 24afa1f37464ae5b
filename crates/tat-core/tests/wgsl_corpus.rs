//! Pretraining on real WGSL: the corpus loader's split and pairs on the shipped corpus, and a
//! tiny pretraining run that a run on prompt/code pairs then starts from.

mod common;

use std::path::{Path, PathBuf};

use tat_core::checkpoint;
use tat_core::config::Config;
use tat_core::data::wgsl::{load_examples, Split};
use tat_core::data::wgsl_corpus::{self, Corpus};
use tat_core::tokenizer::Tokenizer;
use tat_core::train::{train, TrainOptions};
use tat_core::TatError;

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

/// The shipped corpus, or `None` (with a message) where it is absent; under `TAT_REQUIRE_DATA=1`
/// (`make test`) its absence fails the test.
fn shipped_corpus() -> Option<Corpus> {
    let dir = repo_path("../shared/data/wgsl-corpus");
    if !dir.is_dir() {
        let message = format!("no WGSL corpus at {}", dir.display());
        assert!(std::env::var("TAT_REQUIRE_DATA").as_deref() != Ok("1"), "TAT_REQUIRE_DATA=1 and {message}");
        println!("skipped: {message}");
        return None;
    }
    Some(wgsl_corpus::load(&dir, 0.8, 0.1).unwrap())
}

#[test]
fn the_shipped_corpus_splits_by_file_and_its_pairs_fit_their_side() {
    let Some(corpus) = shipped_corpus() else { return };
    let (train, val, test) = (corpus.train.len(), corpus.val.len(), corpus.test.len());
    assert!(train + val + test >= 215, "{train} + {val} + {test} shaders of 221 (a few are only comments)");
    assert!(val >= 10 && test >= 10, "held out: {val} for validation, {test} for test");
    let paths = |split: Split| corpus.get(split).iter().map(|s| s.path.clone()).collect::<Vec<_>>();
    let train_paths = paths(Split::Train);
    for held_out in paths(Split::Val).into_iter().chain(paths(Split::Test)) {
        assert!(!train_paths.contains(&held_out), "{held_out} is in two splits");
    }
    for shader in corpus.train.iter().chain(&corpus.val).chain(&corpus.test) {
        assert!(!shader.code.contains("//") && !shader.code.contains("/*"), "{} kept a comment", shader.path);
        assert!(shader.code.ends_with('\n') && !shader.code.contains("\n\n\n"), "{} is not tidied", shader.path);
    }
    let tokenizer = Tokenizer::build(corpus.train.iter().map(|s| s.code.as_str()), 5);
    let side = 128;
    let pairs = wgsl_corpus::pairs(&corpus, &tokenizer, side);
    assert!(
        pairs.train.len() > 1000 && pairs.val.len() > 50,
        "{} train, {} val pairs",
        pairs.train.len(),
        pairs.val.len()
    );
    for pair in pairs.train.iter().chain(&pairs.val) {
        assert!(tokenizer.encode(&pair.natural_language).len() <= side);
        assert!(tokenizer.encode(&pair.wgsl_code).len() <= side && !pair.wgsl_code.trim().is_empty());
    }
    let starts = pairs.train.iter().filter(|p| p.natural_language.is_empty()).count();
    assert_eq!(starts, corpus.train.len(), "every training shader is also learnt from its first line");
}

#[test]
fn a_corpus_folder_that_is_missing_or_empty_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = wgsl_corpus::load(&dir.path().join("nowhere"), 0.8, 0.1).unwrap_err().to_string();
    assert!(missing.contains("does not exist") && missing.contains("Fix:"), "{missing}");
    std::fs::write(dir.path().join("notes.txt"), "no shaders here").unwrap();
    let empty = wgsl_corpus::load(dir.path(), 0.8, 0.1).unwrap_err().to_string();
    assert!(empty.contains("no .wgsl file") && empty.contains("Fix:"), "{empty}");
}

/// A folder of shaders (the shipped dataset's whole modules, in two subfolders) and a small
/// prompt/code file, both from the shipped dataset, so this test needs no outside data.
fn small_corpus_and_pairs(dir: &Path) -> (PathBuf, PathBuf) {
    #[derive(serde::Serialize)]
    struct File {
        examples: Vec<tat_core::data::wgsl::Example>,
    }
    let examples = load_examples(&repo_path("config/wgsl_training_data.toml")).unwrap();
    let corpus = dir.join("corpus");
    let modules = examples.iter().filter(|e| e.wgsl_code.contains("@fragment") || e.wgsl_code.contains("@compute"));
    for (i, example) in modules.step_by(3).take(40).enumerate() {
        let sub = corpus.join(if i % 2 == 0 { "a" } else { "b/c" });
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("shader_{i}.wgsl")), format!("// shader {i}\n{}\n", example.wgsl_code))
            .unwrap();
    }
    let pairs = dir.join("pairs.toml");
    let file = File { examples: examples.into_iter().step_by(6).collect() };
    std::fs::write(&pairs, toml::to_string(&file).unwrap()).unwrap();
    (corpus, pairs)
}

fn config(text: &str, out: &Path) -> Config {
    let common = r#"
[model]
d_model = 64
nhead = 4
num_layers = 1
dim_feedforward = 128
max_seq_len = 256
[training]
epochs = 1
batch_size = 16
learning_rate = 3e-3
warmup_steps = 5
device = "cpu"
"#;
    let text = format!("{common}output_dir = \"{}\"\n{text}", out.display());
    Config::from_toml_str(&text, "test.toml").unwrap()
}

/// The pretraining run learns from the corpus with a vocabulary that also covers the pairs'
/// prompts; a run on the pairs starts from it and keeps that tokenizer; its split has no
/// references to score and `eval` says what to do instead.
#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn a_pairs_run_starts_from_a_run_pretrained_on_the_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let (corpus, pairs) = small_corpus_and_pairs(dir.path());
    let pretrained = dir.path().join("pretrained");
    let pretraining = config(
        &format!(
            "[task]\nname = \"corpus\"\n[tokenizer]\nmin_freq = 2\nalso_learn = \"{}\"\n[dataset]\nsource = \"wgsl_corpus\"\npath = \"{}\"\nblock_size = 64\ntrain_ratio = 0.6\nval_ratio = 0.3\n",
            pairs.display(),
            corpus.display()
        ),
        &pretrained,
    );
    let mut info = common::Capture::default();
    train(&pretraining, &TrainOptions::default(), &mut info).unwrap();
    let start = info.start.unwrap();
    assert!(start.train_examples > 20 && start.val_examples > 0, "{start:?}");
    let ckpt = checkpoint::load(&checkpoint::resolve(&pretrained).unwrap()).unwrap();
    let tokenizer = ckpt.tokenizer().unwrap();
    // "Write" opens many prompts and appears in no shader: a whole piece only through also_learn.
    assert_eq!(tokenizer.encode("Write").len(), 1, "the prompts' words are in the vocabulary");
    let settled = ckpt.config.tokenizer.also_learn.as_ref().unwrap();
    assert!(settled.is_absolute(), "the checkpoint records where the vocabulary came from: {settled:?}");
    let no_refs = tat_core::eval::eval_set(&ckpt.config, None, Some(Split::Test)).unwrap_err();
    assert!(matches!(no_refs, TatError::Usage(_)) && no_refs.to_string().contains("--data"), "{no_refs}");

    let finetuned = dir.path().join("finetuned");
    let mut finetune =
        config(&format!("[task]\nname = \"pairs\"\n[dataset]\npath = \"{}\"\n", pairs.display()), &finetuned);
    finetune.training.init_from = Some(pretrained.clone());
    let mut info = common::Capture::default();
    train(&finetune, &TrainOptions::default(), &mut info).unwrap();
    let init = info.start.unwrap().init_from.unwrap();
    assert!(init.contains("tensors loaded"), "{init}");
    let after = checkpoint::load(&checkpoint::resolve(&finetuned).unwrap()).unwrap();
    assert_eq!(after.tokenizer().unwrap(), tokenizer, "the pairs run keeps the pretrained tokenizer");
}

#[test]
fn corpus_settings_are_checked_with_the_fix() {
    let bad = |extra: &str| {
        let text = format!("[task]\nname = \"corpus\"\n[model]\nmax_seq_len = 64\n[dataset]\npath = \"x\"\n{extra}");
        Config::from_toml_str(&text, "bad.toml").unwrap_err().to_string()
    };
    let too_long = bad("source = \"wgsl_corpus\"\nblock_size = 100\n");
    assert!(too_long.contains("dataset.block_size") && too_long.contains("max_seq_len - 2"), "{too_long}");
    let not_a_corpus = bad("block_size = 10\n");
    assert!(not_a_corpus.contains("dataset.block_size") && not_a_corpus.contains("wgsl_corpus"), "{not_a_corpus}");
    let other_source = bad("source = \"gsm8k\"\n");
    assert!(other_source.contains("dataset.source"), "{other_source}");
}
