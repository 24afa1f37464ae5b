//! Real training runs on a tiny model over the shipped WGSL dataset.

mod common;

use common::Quiet;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tat_core::checkpoint;
use tat_core::config::{Config, DeviceChoice, Precision};
use tat_core::data::wgsl::Split;
use tat_core::eval;
use tat_core::generate::{DecodeOptions, Decoding, Generator, Sampling};
use tat_core::train::metrics::read_jsonl;
use tat_core::train::{train, EpochMetrics, RunInfo, StepProgress, TrainObserver, TrainOptions};
use tat_core::TatError;

mod recorded;

fn tiny_config(out: &Path, epochs: usize) -> Config {
    let text = format!(
        r#"
[task]
name = "tiny"
[model]
d_model = 64
nhead = 4
num_layers = 1
dim_feedforward = 128
dropout = 0.1
[training]
epochs = {epochs}
batch_size = 16
learning_rate = 3e-3
warmup_steps = 5
save_every = 2
patience = 50
device = "cpu"
output_dir = "{}"
[dataset]
path = "{}"
"#,
        out.join("run").display(),
        common::wgsl_sample(out).display()
    );
    Config::from_toml_str(&text, "tiny.toml").unwrap()
}

/// libtorch's RNG and thread pool are process-wide: runs in parallel test threads would reseed
/// each other's dropout, so every training run here holds this lock.
static TORCH: Mutex<()> = Mutex::new(());

fn torch_lock() -> MutexGuard<'static, ()> {
    TORCH.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Asks to stop in the middle of the second epoch, as Ctrl-C would.
#[derive(Default)]
struct StopMidSecondEpoch {
    after_steps: usize,
    steps: usize,
}
impl TrainObserver for StopMidSecondEpoch {
    fn on_start(&mut self, info: &RunInfo) {
        assert!(info.batches_per_epoch >= 2, "{info:?}");
        self.after_steps = info.batches_per_epoch + info.batches_per_epoch / 2;
    }
    fn on_step(&mut self, _: &StepProgress) {
        self.steps += 1;
    }
    fn should_stop(&mut self) -> bool {
        self.steps >= self.after_steps
    }
}

/// Trains the tiny model for `epochs` and loads it for generation.
fn trained_generator(dir: &Path, epochs: usize) -> Generator {
    train(&tiny_config(dir, epochs), &TrainOptions::default(), &mut Quiet).unwrap();
    Generator::load(&run(dir), tat_core::config::DeviceChoice::Cpu).unwrap()
}

/// Trains the tiny model for `epochs` in `precision`.
fn train_in(dir: &Path, epochs: usize, precision: Precision) {
    let mut config = tiny_config(dir, epochs);
    config.training.precision = precision;
    train(&config, &TrainOptions::default(), &mut Quiet).unwrap();
}

/// The run folder `tiny_config` trains into.
fn run(dir: &Path) -> PathBuf {
    dir.join("run")
}

fn metrics(dir: &Path) -> Vec<EpochMetrics> {
    read_jsonl(&run(dir).join("metrics.jsonl")).unwrap()
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn loss_falls_by_a_clear_margin() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let summary = train(&tiny_config(dir.path(), 20), &TrainOptions::default(), &mut Quiet).unwrap();
    assert_eq!(summary.epochs_completed, 20);
    let m = metrics(dir.path());
    assert_eq!(m.len(), 20);
    let (first, last) = (m[0].train_loss, m[19].train_loss);
    assert!(last < 0.5 * first, "train loss {first} -> {last}");
    assert!(m[19].val_loss < 0.8 * m[0].val_loss, "val loss {} -> {}", m[0].val_loss, m[19].val_loss);
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn resume_after_interrupt_matches_uninterrupted_run() {
    let _torch = torch_lock();
    let full = tempfile::tempdir().unwrap();
    train(&tiny_config(full.path(), 4), &TrainOptions::default(), &mut Quiet).unwrap();

    let split = tempfile::tempdir().unwrap();
    let config = tiny_config(split.path(), 4);
    let mut stopper = StopMidSecondEpoch::default();
    let err = train(&config, &TrainOptions::default(), &mut stopper).unwrap_err();
    assert!(matches!(err, TatError::Interrupted(_)), "{err}");
    assert!(err.to_string().contains("--resume"), "{err}");
    let state = checkpoint::load(&run(split.path()).join("last")).unwrap().state;
    assert_eq!((state.epoch, state.step), (1, stopper.after_steps));
    assert!(state.batch_in_epoch > 0);

    train(&config, &TrainOptions { resume: true }, &mut Quiet).unwrap();
    let (a, b) = (metrics(full.path()), metrics(split.path()));
    assert_eq!(a.len(), 4);
    assert_eq!(b.len(), 4);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.epoch, x.step), (y.epoch, y.step));
        assert!((x.train_loss - y.train_loss).abs() < 1e-5, "epoch {}: {} vs {}", x.epoch, x.train_loss, y.train_loss);
        assert!((x.val_loss - y.val_loss).abs() < 1e-5, "epoch {}: {} vs {}", x.epoch, x.val_loss, y.val_loss);
    }
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn checkpoints_have_the_documented_layout() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    train(&tiny_config(dir.path(), 2), &TrainOptions::default(), &mut Quiet).unwrap();
    for name in ["best", "last", "epoch_0002"] {
        for file in ["model.safetensors", "optimizer.safetensors", "state.json", "tokenizer.json", "config.toml"] {
            assert!(run(dir.path()).join(name).join(file).is_file(), "{name}/{file}");
        }
    }
    assert!(!run(dir.path()).join("last.tmp").exists() && !run(dir.path()).join("last.old").exists());
    let state = checkpoint::load(&run(dir.path()).join("last")).unwrap().state;
    assert_eq!(state.epoch, 2);
    assert_eq!(state.batch_in_epoch, 0);
    let csv = std::fs::read_to_string(run(dir.path()).join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("epoch,step,train_loss,val_loss"));
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn the_run_records_its_precision_in_state_and_metrics() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    train_in(dir.path(), 1, Precision::Fp32);
    let state = checkpoint::load(&run(dir.path()).join("last")).unwrap().state;
    assert_eq!(state.precision.as_deref(), Some("fp32"));
    assert_eq!(state.precision_reason.as_deref(), Some("fp32 (set explicitly)"));
    let json = std::fs::read_to_string(run(dir.path()).join("last/state.json")).unwrap();
    assert!(json.contains("\"precision\": \"fp32\""), "{json}");
    assert_eq!(metrics(dir.path())[0].precision, "fp32");
    let csv = std::fs::read_to_string(run(dir.path()).join("metrics.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().ends_with(",fp32,"), "{csv}");
}

/// Weights are stored in fp32 whatever the products ran in, so a checkpoint answers in either
/// precision, and scores about the same.
#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn a_checkpoint_trained_in_one_precision_generates_in_the_other() {
    let _torch = torch_lock();
    let prompts = ["Create a red color", "Normalize the vector v", "Write a compute shader"];
    let options = DecodeOptions {
        max_new_tokens: 80,
        sampling: None,
        beam: 1,
        length_penalty: 1.0,
        prefer_valid: false,
        constrain: None,
    };
    for (trained, other) in [(Precision::Bf16, Precision::Fp32), (Precision::Fp32, Precision::Bf16)] {
        let dir = tempfile::tempdir().unwrap();
        train_in(dir.path(), 2, trained);
        let state = checkpoint::load(&run(dir.path()).join("last")).unwrap().state;
        let name = |p: Precision| if p == Precision::Bf16 { "bf16" } else { "fp32" };
        assert_eq!(state.precision.as_deref(), Some(name(trained)));

        let native = Generator::load(&run(dir.path()), DeviceChoice::Cpu).unwrap();
        let switched = Generator::load_with(&run(dir.path()), DeviceChoice::Cpu, Some(other)).unwrap();
        assert_eq!(native.precision().compute.name(), name(trained));
        assert_eq!(switched.precision().compute.name(), name(other));
        let answers = switched.generate_batch(&prompts, 24);
        assert!(answers.iter().all(|answer| !answer.is_empty()), "{answers:?}");
        let set = eval::eval_set(native.config(), None, Some(Split::Train)).unwrap();
        let accuracy = |g: &Generator| {
            eval::evaluate(g, &run(dir.path()).join("best"), &set, &options, |_, _| {}).unwrap().overall.token_accuracy
        };
        let (a, b) = (accuracy(&native), accuracy(&switched));
        assert!(
            a > 10.0 && (a - b).abs() < 5.0,
            "trained in {trained:?}: token accuracy {a:.1}%, in {other:?} {b:.1}%"
        );
    }
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn a_new_run_refuses_to_overwrite_a_trained_one() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), 1);
    train(&config, &TrainOptions::default(), &mut Quiet).unwrap();
    let err = train(&config, &TrainOptions::default(), &mut Quiet).unwrap_err();
    assert!(matches!(err, TatError::Usage(_)), "{err}");
    assert!(err.to_string().contains("--resume"), "{err}");
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn generator_loads_run_and_answers_every_prompt() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let generator = trained_generator(dir.path(), 1);
    let batch = generator.generate_batch(&["Create a red color", "Normalize the vector v"], 20);
    assert_eq!(batch.len(), 2);
    // Batched decoding must give each prompt the same answer as decoding it alone.
    assert_eq!(batch[0], generator.generate("Create a red color", 20));
    assert_eq!(batch[1], generator.generate("Normalize the vector v", 20));
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn missing_and_corrupt_checkpoints_are_checkpoint_errors() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let err = Generator::load(&dir.path().join("nope"), tat_core::config::DeviceChoice::Cpu).err().unwrap();
    assert!(matches!(err, TatError::Checkpoint(_)) && err.to_string().contains("does not exist"), "{err}");

    train(&tiny_config(dir.path(), 1), &TrainOptions::default(), &mut Quiet).unwrap();
    let weights = run(dir.path()).join("best/model.safetensors");
    std::fs::write(&weights, b"not a safetensors file").unwrap();
    let err = Generator::load(&run(dir.path()).join("best"), tat_core::config::DeviceChoice::Cpu).err().unwrap();
    assert!(matches!(err, TatError::Checkpoint(_)), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn cached_greedy_decoding_gives_the_uncached_tokens() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let generator = trained_generator(dir.path(), 3);
    let prompts = ["Create a red color", "Write a fragment shader that outputs solid blue", "Normalize the vector v"];
    let cached = generator.greedy_ids(&prompts, 60, Decoding::Cached);
    let uncached = generator.greedy_ids(&prompts, 60, Decoding::Uncached);
    assert_eq!(cached, uncached);
    assert!(cached.iter().any(|ids| ids.len() > 5), "{cached:?}");
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn beam_search_of_width_one_is_greedy_and_wider_beams_rank_their_candidates() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let generator = trained_generator(dir.path(), 3);
    let prompt = "Write a fragment shader that outputs solid blue";
    let greedy = generator.greedy_ids(&[prompt], 40, Decoding::Cached).remove(0);
    assert_eq!(generator.beam_search(prompt, 1, 40, 0.0)[0].ids, greedy);
    let candidates = generator.beam_search(prompt, 4, 40, 1.0);
    assert!(candidates.len() >= 2, "{candidates:?}");
    assert!(candidates.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(candidates.iter().all(|c| c.score.is_finite() && c.score <= 0.0));
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn sampling_is_seeded_and_top_k_of_one_is_greedy() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let generator = trained_generator(dir.path(), 3);
    let prompts = ["Create a red color", "Write a fragment shader that outputs solid blue"];
    let sample = |temperature, top_k, seed| {
        let sampling = Sampling::new(temperature, top_k, 1.0, seed).unwrap();
        generator.decode_ids(&prompts, 40, Decoding::Cached, Some(&sampling))
    };
    assert_eq!(sample(5.0, 0, 1), sample(5.0, 0, 1));
    assert_ne!(sample(5.0, 0, 1), sample(5.0, 0, 2));
    assert_eq!(sample(5.0, 1, 9), generator.greedy_ids(&prompts, 40, Decoding::Cached));
    assert!(Sampling::new(0.0, 0, 1.0, 0).is_err() && Sampling::new(1.0, 0, 1.5, 0).is_err());
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn eval_scores_every_example_and_saves_the_report_in_the_run_folder() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let generator = trained_generator(dir.path(), 3);
    let set = eval::eval_set(generator.config(), None, Some(Split::Train)).unwrap();
    let options = DecodeOptions {
        max_new_tokens: 80,
        sampling: None,
        beam: 1,
        length_penalty: 1.0,
        prefer_valid: false,
        constrain: None,
    };
    let checkpoint = run(dir.path()).join("best");
    let report = eval::evaluate(&generator, &checkpoint, &set, &options, |_, _| {}).unwrap();
    assert_eq!(report.overall.examples, set.examples.len());
    assert_eq!(report.per_category.values().map(|s| s.examples).sum::<usize>(), set.examples.len());
    for r in &report.results {
        assert!(r.tokens_correct <= r.tokens && r.tokens > 0, "{r:?}");
        // Greedy decoding that reproduces the reference read the reference prefix at every step,
        // so teacher forcing predicts every one of its tokens.
        if r.output == r.reference {
            assert_eq!(r.tokens_correct, r.tokens, "{r:?}");
        }
    }
    let s = &report.overall;
    assert!(
        s.token_accuracy > 0.0
            && [s.token_accuracy, s.exact_match, s.chrf, s.naga_pass].iter().all(|v| (0.0..=100.0).contains(v))
    );
    let saved = report.save(&checkpoint).unwrap();
    assert_eq!(saved, run(dir.path()).join("eval_best_train.json"));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    assert_eq!(json["results"].as_array().unwrap().len(), set.examples.len());
}

/// The tiny run's per-epoch losses, recorded before the engine was reshaped around one learner,
/// come out the same (tests/recorded).
#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn the_tiny_run_reproduces_its_recorded_losses() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    train_in(dir.path(), 3, Precision::Fp32);
    recorded::check("wgsl_tiny", &metrics(dir.path()));
}

/// A weight decay far beyond any sane value makes the second step's weights overflow: the run
/// stops there, says which step, and leaves `last` as the first epoch saved it.
#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn a_non_finite_loss_stops_the_run_and_keeps_the_last_sound_checkpoint() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), 1);
    train(&config, &TrainOptions::default(), &mut Quiet).unwrap();
    let saved = std::fs::read(run(dir.path()).join("last/model.safetensors")).unwrap();
    let steps_per_epoch = checkpoint::load(&run(dir.path()).join("last")).unwrap().state.step;

    let mut exploding = tiny_config(dir.path(), 3);
    exploding.training.weight_decay = 1e30;
    exploding.training.gradient_clip_norm = 0.0;
    let err = train(&exploding, &TrainOptions { resume: true }, &mut Quiet).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, TatError::Diverged(_)), "{message}");
    assert_eq!(err.exit_code(), 1);
    assert!(message.contains(&format!("diverged at step {} (epoch 2, batch 2)", steps_per_epoch + 2)), "{message}");
    assert!(message.contains(&format!("still holds step {steps_per_epoch} (epoch 1)")), "{message}");
    assert!(message.contains("Fix: lower training.learning_rate"), "{message}");
    assert_eq!(std::fs::read(run(dir.path()).join("last/model.safetensors")).unwrap(), saved, "last was rewritten");
    assert_eq!(metrics(dir.path()).len(), 1);
}

fn weights(dir: &Path) -> std::collections::BTreeMap<String, tch::Tensor> {
    tch::Tensor::read_safetensors(dir.join(checkpoint::MODEL_FILE)).unwrap().into_iter().collect()
}

/// `training.init_from` starts a new run from another run's weights and tokenizer;
/// `training.freeze` keeps the variables it names as they were.
#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn a_run_starts_from_another_runs_weights_and_keeps_frozen_ones_fixed() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    train_in(dir.path(), 1, Precision::Fp32);
    let second = dir.path().join("second");
    std::fs::create_dir_all(&second).unwrap();
    let mut config = tiny_config(&second, 1);
    config.training.seed = 7;
    config.training.init_from = Some(run(dir.path()));
    config.training.freeze = vec!["encoder".into(), "embedding".into()];
    let mut info = common::Capture::default();
    train(&config, &TrainOptions::default(), &mut info).unwrap();
    let start = info.start.expect("on_start ran");
    assert!(start.init_from.as_deref().is_some_and(|s| s.contains("tensors loaded")), "{:?}", start.init_from);
    assert!(start.frozen_parameters > 0);
    let (before, after) = (weights(&run(dir.path()).join("best")), weights(&run(&second).join("last")));
    let mut trained = 0;
    for (name, value) in &before {
        let same = value.equal(&after[name]);
        if name.starts_with("encoder.") || name.starts_with("embedding.") {
            assert!(same, "{name} is frozen but changed");
        } else {
            trained += usize::from(!same);
        }
    }
    assert!(trained > 0, "the decoder trained");
    let tokenizer = |d: &Path| std::fs::read_to_string(d.join(checkpoint::TOKENIZER_FILE)).unwrap();
    assert_eq!(tokenizer(&run(dir.path()).join("best")), tokenizer(&run(&second).join("last")));
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn init_from_and_freeze_mistakes_name_the_fix() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(dir.path(), 1);
    config.training.freeze = vec!["encdoer".into()];
    let err = train(&config, &TrainOptions::default(), &mut Quiet).unwrap_err().to_string();
    assert!(err.contains("`encdoer` names no variable") && err.contains("`encoder`") && err.contains("Fix:"), "{err}");
    config.training.freeze.clear();
    config.training.init_from = Some(dir.path().join("nowhere"));
    let err = train(&config, &TrainOptions::default(), &mut Quiet).unwrap_err();
    assert!(matches!(err, TatError::Checkpoint(_)), "{err}");
}

/// Constrained decoding is valid by construction: whatever a barely trained model prefers, every
/// answer the constrained sampling or beam search finishes passes naga as the kind (and stage)
/// asked for, on many seeds.
#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn constrained_answers_are_valid_on_every_seed() {
    use tat_core::data::requests::{valid_as, Kind, Stage};
    use tat_core::generate::{Constrain, Constraint, Search};
    use tat_core::rng::SplitMix64;

    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let generator = trained_generator(dir.path(), 12);
    let prompts = ["Write a fragment shader that outputs solid red", "Write a compute shader", "Create a red color"];
    let constraints = [
        Constraint { kind: Kind::Module, stage: Some(Stage::Fragment) },
        Constraint { kind: Kind::Module, stage: None },
        Constraint { kind: Kind::Expression, stage: None },
    ];
    let mut finished = 0;
    for seed in 0..24u64 {
        let sampling = Sampling::new(1.0, 0, 1.0, seed).unwrap();
        for (prompt, constraint) in prompts.iter().zip(constraints) {
            let mut stream = SplitMix64::derived(seed, 0);
            if let Some(answer) = generator.constrained_sample(prompt, constraint, &sampling, &mut stream, 120) {
                assert!(valid_as(constraint.kind, constraint.stage, &answer), "seed {seed}, {prompt:?}: {answer}");
                finished += 1;
            }
        }
    }
    // A model this small finishes few draws within 120 tokens; those it finishes must be valid.
    assert!(finished >= 1, "none of 72 draws finished");
    let search = Search { beam: 4, max_new_tokens: 160, length_penalty: 1.0, give_up: true };
    for (prompt, constraint) in prompts.iter().zip(constraints) {
        let answer = generator.constrained_search(prompt, constraint, &[], search);
        if answer.complete {
            for candidate in &answer.candidates {
                assert!(valid_as(constraint.kind, constraint.stage, &candidate.text), "{prompt:?}: {}", candidate.text);
            }
        }
        assert!(answer.checks > 0);
    }
    // Whole answers to module requests: always a module naga accepts with the entry point asked
    // for, whether the search finishes, a beam closes, or the entry point has to be opened for
    // the model (a model this small rarely finishes within 40 tokens).
    let module_prompts = [
        "Write a fragment shader that outputs solid red",
        "Write a compute shader",
        "a vertex shader",
        "blue",
        "xyzzy",
    ];
    let stages = [Some(Stage::Fragment), Some(Stage::Compute), Some(Stage::Vertex), None, Some(Stage::Fragment)];
    let module_constraints: Vec<Constraint> =
        stages.iter().map(|&stage| Constraint { kind: Kind::Module, stage }).collect();
    for (seed, max_new_tokens) in [(0u64, 40usize), (1, 80), (2, 12)] {
        let options = DecodeOptions {
            max_new_tokens,
            sampling: Some(Sampling::new(1.2, 0, 1.0, seed).unwrap()),
            beam: 4,
            length_penalty: 1.0,
            prefer_valid: false,
            constrain: Some(Constrain::AsRequested),
        };
        let answers = generator.answer_constrained(&module_prompts, &module_constraints, &options);
        for ((prompt, constraint), answer) in module_prompts.iter().zip(&module_constraints).zip(&answers) {
            assert!(
                valid_as(constraint.kind, constraint.stage, answer),
                "seed {seed}, {max_new_tokens} tokens, {prompt:?} ({:?}): {answer}",
                constraint.stage
            );
        }
    }
}
