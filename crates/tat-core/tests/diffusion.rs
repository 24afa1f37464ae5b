//! The masked-diffusion task: GPT-2's tokenizer through the `tokenizers` crate, the gsm8k and
//! wikitext loaders, the fixed evaluation masks, and training through the learner with exact
//! resume.

mod common;

use std::path::{Path, PathBuf};

use tat_core::checkpoint;
use tat_core::config::{Config, DataSource};
use tat_core::tasks::diffusion::data;
use tat_core::tokenizer::bpe::BpeTokenizer;
use tat_core::train::{train, TrainOptions};
use tat_core::TatError;

use common::{require_shared as require, shared_path as shared, torch_rng_lock, weights, Quiet, StopAfter};
use tch::Tensor;

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config").join(name)
}

fn gpt2() -> Option<BpeTokenizer> {
    require("gpt2/tokenizer.json").map(|p| BpeTokenizer::load(&p).unwrap())
}

#[test]
fn gpt2_encodes_hello_world_and_appends_mask_and_pad() {
    let Some(t) = gpt2() else { return };
    assert_eq!(t.encode("Hello world").unwrap(), vec![15496, 995]);
    assert_eq!((t.base_size(), t.eos_id(), t.mask_id(), t.pad_id()), (50_257, 50_256, 50_257, 50_258));
    assert_eq!(t.vocab_size(), 50_304);
    // The file's truncation (50 tokens) is off: a long text keeps every token.
    let long = vec!["word"; 200].join(" ");
    assert_eq!(t.encode(&long).unwrap().len(), 200);
    let text = "Question: Natalia sold 48 clips.\nAnswer: 72 ✓ <|endoftext|>";
    assert_eq!(t.decode(&t.encode(text).unwrap()), text);
    let mut ids = t.encode("Hello world").unwrap();
    ids.insert(1, t.mask_id());
    ids.push(t.pad_id());
    assert_eq!(t.decode(&ids), "Hello[MASK] world");
}

#[test]
fn a_missing_or_broken_tokenizer_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = BpeTokenizer::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("tokenizer.json") && err.contains("Fix:"), "{err}");
    std::fs::write(dir.path().join("tokenizer.json"), "{ not json").unwrap();
    let err = BpeTokenizer::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("not a Hugging Face tokenizer.json"), "{err}");
}

#[test]
fn gsm8k_problems_become_question_answer_documents_cut_into_blocks() {
    let (Some(t), Some(dir)) = (gpt2(), require("gsm8k")) else { return };
    let docs = data::documents(DataSource::Gsm8k, &dir.join("test.jsonl")).unwrap();
    assert_eq!(docs.len(), 1319);
    assert!(docs[0].starts_with("Question: ") && docs[0].contains("\nAnswer: ") && docs[0].contains("#### "));
    let pieces = data::pieces(&t, &docs[..20], 16).unwrap();
    assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= 16));
    // Each document's last piece ends with EOS, and no piece holds an EOS elsewhere.
    let ends = pieces.iter().filter(|p| *p.last().unwrap() == t.eos_id()).count();
    assert_eq!(ends, 20);
    assert!(pieces.iter().all(|p| !p[..p.len() - 1].contains(&t.eos_id())));
    let joined: Vec<i64> = pieces.iter().flatten().copied().collect();
    let expected: Vec<i64> =
        docs[..20].iter().flat_map(|d| t.encode(d).unwrap().into_iter().chain([t.eos_id()])).collect();
    assert_eq!(joined, expected);
}

#[test]
fn wikitext_lines_are_documents_and_train_txt_is_used_when_present() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.txt"), " \n = Title = \n\n Some text here . \n").unwrap();
    std::fs::write(dir.path().join("valid.txt"), " A line . \n").unwrap();
    let (train, val) = data::files(DataSource::Wikitext, dir.path()).unwrap();
    assert_eq!((train.file_name().unwrap(), val.file_name().unwrap()), ("test.txt".as_ref(), "valid.txt".as_ref()));
    assert_eq!(data::documents(DataSource::Wikitext, &train).unwrap(), [" = Title = \n", " Some text here . \n"]);
    std::fs::write(dir.path().join("train.txt"), " Train . \n").unwrap();
    let (train, _) = data::files(DataSource::Wikitext, dir.path()).unwrap();
    assert_eq!(train.file_name().unwrap(), "train.txt");
    std::fs::remove_file(dir.path().join("valid.txt")).unwrap();
    let err = data::files(DataSource::Wikitext, dir.path()).unwrap_err().to_string();
    assert!(err.contains("valid.txt") && err.contains("Fix:"), "{err}");
}

#[test]
fn a_bad_gsm8k_line_is_named_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("train.jsonl");
    std::fs::write(&file, "{\"question\": \"q\", \"answer\": \"a\"}\n{\"question\": \"q\"}\n").unwrap();
    let err = data::documents(DataSource::Gsm8k, &file).unwrap_err().to_string();
    assert!(err.contains("train.jsonl:2:") && err.contains("\"answer\"") && err.contains("Fix:"), "{err}");
    std::fs::write(&file, "not json\n").unwrap();
    let err = data::documents(DataSource::Gsm8k, &file).unwrap_err().to_string();
    assert!(err.contains("train.jsonl:1: not a JSON object"), "{err}");
}

#[test]
fn evaluation_masks_depend_on_the_piece_alone() {
    let (p, mask) = data::eval_mask(7, 100);
    assert_eq!(data::eval_mask(7, 100), (p, mask.clone()));
    assert!((data::MASK_EPS..=1.0).contains(&p));
    assert_ne!(data::eval_mask(8, 100), (p, mask.clone()));
    // Over many pieces, about p of the tokens are masked.
    let (mut masked, mut expected) = (0usize, 0.0);
    for i in 0..2000 {
        let (p, m) = data::eval_mask(i, 64);
        masked += m.iter().filter(|&&x| x).count();
        expected += p * 64.0;
    }
    assert!((masked as f64 - expected).abs() < 0.02 * expected, "{masked} vs {expected}");
}

#[test]
fn the_shipped_configs_load_and_other_tasks_refuse_the_bpe_tokenizer() {
    for name in ["diffusion_gsm8k.toml", "diffusion_wikitext.toml"] {
        let config = Config::from_file(&shipped(name)).unwrap();
        assert_eq!(config.model.architecture().to_string(), "diffusion_lm", "{name}");
    }
    let text = std::fs::read_to_string(shipped("wgsl_small.toml")).unwrap();
    let bpe = text.replace("type = \"wgsl\"", "type = \"bpe\"");
    let e = Config::from_toml_str(&bpe, "w.toml").unwrap_err().to_string();
    assert!(e.contains("`tokenizer.type`: found \"bpe\", expected \"wgsl\" or \"words\""), "{e}");
    let diffusion = std::fs::read_to_string(shipped("diffusion_gsm8k.toml")).unwrap();
    let wrong = diffusion.replace("architecture = \"diffusion_lm\"", "architecture = \"transformer\"");
    let e = Config::from_toml_str(&wrong, "d.toml").unwrap_err().to_string();
    assert!(e.contains("`model.d_model`") || e.contains("`model.architecture`"), "{e}");
    let wrong = diffusion.replace("source = \"gsm8k\"", "source = \"idx\"");
    let e = Config::from_toml_str(&wrong, "d.toml").unwrap_err().to_string();
    assert!(e.contains("`dataset.source`") && e.contains("\"gsm8k\" or \"wikitext\""), "{e}");
    let wrong = diffusion.replace("type = \"bpe\"", "type = \"words\"");
    let e = Config::from_toml_str(&wrong, "d.toml").unwrap_err().to_string();
    assert!(e.contains("`tokenizer.type`") && e.contains("\"bpe\""), "{e}");
}

#[test]
fn the_shipped_experiment_and_its_probes_plan_the_runs_the_docs_report() {
    use tat_core::experiment::{Action, CommandOverrides, Plan};
    let plan = |name: &str| Plan::from_file(&shipped(name), &CommandOverrides::default()).unwrap();
    let widths = |plan: &Plan| -> Vec<(String, bool)> {
        let w256 = |r: &tat_core::experiment::PlannedRun| r.config.model.diffusion_lm().unwrap().d_model == 256;
        plan.runs.iter().map(|r| (r.name.clone(), w256(r))).collect()
    };
    // The table: two FFs, then in each direction the frozen FF, attention fine-tuning, standard
    // and recurrent hypernetworks at ranks 1, 4, 16 and 64, and the original recipe at 16 and 64.
    let table = plan("feedback.toml");
    assert_eq!(table.runs.len(), 2 + 2 * (2 + 8 + 2), "{:?}", widths(&table));
    assert!(widths(&table).iter().all(|(_, w256)| !w256), "the shipped table is CPU-sized");
    let long = plan("probes/feedback_long.toml");
    assert_eq!(long.dir, PathBuf::from("runs/feedback_long"));
    assert_eq!(long.runs.len(), 4);
    let epochs: Vec<usize> =
        long.runs.iter().filter(|r| r.action == Action::Train).map(|r| r.config.training.epochs).collect();
    assert_eq!(epochs, [8, 5, 5]);
    let size = plan("probes/feedback_size.toml");
    assert!(widths(&size).iter().all(|(_, w256)| *w256), "{:?}", widths(&size));
    let names: Vec<&str> = size.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ff_wikitext_w256",
            "wikitext_to_gsm8k/frozen_w256",
            "wikitext_to_gsm8k/attention_w256_e5",
            "wikitext_to_gsm8k/standard_r4_w256_e2"
        ]
    );
}

/// A tiny model on the first 96 gsm8k problems, in `out`.
fn tiny(dir: &Path, out: &Path, epochs: usize) -> Config {
    let config = Config::from_file(&shipped("diffusion_gsm8k.toml")).unwrap();
    config
        .with_overrides(&[
            "model.d_model=32".into(),
            "model.nhead=2".into(),
            "model.num_layers=2".into(),
            "model.dim_feedforward=64".into(),
            "training.batch_size=8".into(),
            "training.warmup_steps=4".into(),
            "training.precision=\"fp32\"".into(),
            "training.device=\"cpu\"".into(),
            "dataset.block_size=64".into(),
            format!("training.epochs={epochs}"),
            format!("dataset.path={:?}", dir.display().to_string()),
            format!("tokenizer.path={:?}", shared("gpt2/tokenizer.json").display().to_string()),
            format!("training.output_dir={:?}", out.display().to_string()),
        ])
        .unwrap()
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn a_tiny_diffusion_lm_learns_and_an_interrupted_run_resumes_exactly() {
    let _lock = torch_rng_lock();
    let Some(gsm8k) = require("gsm8k") else { return };
    if gpt2().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("gsm8k");
    std::fs::create_dir(&data).unwrap();
    for (file, n) in [("train.jsonl", 96), ("test.jsonl", 32)] {
        let text = std::fs::read_to_string(gsm8k.join(file)).unwrap();
        let head: Vec<&str> = text.lines().take(n).collect();
        std::fs::write(data.join(file), head.join("\n")).unwrap();
    }
    let straight = dir.path().join("straight");
    let summary = train(&tiny(&data, &straight, 3), &TrainOptions::default(), &mut Quiet).unwrap();
    assert_eq!(summary.epochs_completed, 3);
    let metrics = tat_core::train::metrics::read_jsonl(&straight.join("metrics.jsonl")).unwrap();
    // Untrained, the bound is about ln(50,304) ~ 10.8 per token; it falls as the model learns.
    assert!(metrics[0].train_loss > 8.0, "{metrics:?}");
    assert!(metrics[2].val_loss < metrics[0].val_loss - 0.5, "{metrics:?}");
    // The original's number divides by padding too, so it is lower.
    let padded = metrics[2].extra["val_loss_padded"];
    assert!(padded > 0.0 && padded < metrics[2].val_loss, "{metrics:?}");
    // Recomputed from the checkpoint, the validation numbers are the log's.
    let report =
        tat_core::tasks::validation_report(&straight.join("last"), tat_core::config::DeviceChoice::Cpu, &[]).unwrap();
    assert_eq!(report[0], ("val_loss".to_string(), metrics[2].val_loss));
    // The same model scored on another corpus (the frozen model across domains).
    if let Some(wikitext) = require("wikitext-2") {
        let other = dir.path().join("wikitext");
        std::fs::create_dir(&other).unwrap();
        for file in ["test.txt", "valid.txt"] {
            let text = std::fs::read_to_string(wikitext.join(file)).unwrap();
            let head: String = text.split_inclusive('\n').take(60).collect();
            std::fs::write(other.join(file), head).unwrap();
        }
        let sets =
            ["dataset.source=\"wikitext\"".to_string(), format!("dataset.path={:?}", other.display().to_string())];
        let across =
            tat_core::tasks::validation_report(&straight.join("last"), tat_core::config::DeviceChoice::Cpu, &sets)
                .unwrap();
        assert!(across[0].1.is_finite() && across[0].1 != report[0].1, "{across:?}");
    }

    // Iterative unmasking completes a prompt: no mask is left, greedy is deterministic, and a
    // sampled completion repeats with its seed.
    use tat_core::tasks::diffusion::sample::{Completer, Unmasking};
    let completer = Completer::load(&straight, tat_core::config::DeviceChoice::Cpu).unwrap();
    let prompt = ["Question: Tom has 3 apples and buys 2 more. How many does he have?\nAnswer:"];
    let greedy = Unmasking { new_tokens: 12, steps: 4, temperature: None, seed: 0 };
    let a = completer.complete(&prompt, &greedy).unwrap();
    assert_eq!(a, completer.complete(&prompt, &greedy).unwrap());
    assert!(!a[0].contains("[MASK]"), "{a:?}");
    let sampled = Unmasking { temperature: Some(1.0), seed: 5, ..greedy };
    let s1 = completer.complete(&prompt, &sampled).unwrap();
    assert_eq!(s1, completer.complete(&prompt, &sampled).unwrap());

    let resumed = dir.path().join("resumed");
    let err = train(&tiny(&data, &resumed, 3), &TrainOptions::default(), &mut StopAfter::new(17)).unwrap_err();
    assert!(matches!(err, TatError::Interrupted(_)), "{err}");
    train(&tiny(&data, &resumed, 3), &TrainOptions { resume: true }, &mut Quiet).unwrap();
    for ((name, a), (_, b)) in weights(&straight).iter().zip(weights(&resumed)) {
        assert!(a.equal(&b), "{name} differs after the resume");
    }
    // The per-step log is the uninterrupted run's, every step once.
    let steps = |run: &Path| std::fs::read_to_string(run.join("steps.csv")).unwrap();
    assert_eq!(steps(&straight), steps(&resumed));
    assert_eq!(steps(&straight).lines().count(), 1 + metrics[2].step);
}

/// The tiny model's feedback hypernetworks at rank 2 over the run `base`, in `out`.
fn tiny_feedback(dir: &Path, base: &Path, out: &Path, epochs: usize, extra: &[&str]) -> Config {
    let mut sets = vec![
        "model.architecture=\"feedback\"".to_string(),
        "model.d_model=32".into(),
        "model.nhead=2".into(),
        "model.num_layers=2".into(),
        "model.dim_feedforward=64".into(),
        "model.rank=2".into(),
        format!("training.init_from={:?}", base.display().to_string()),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    tiny(dir, out, epochs).with_overrides(&sets).unwrap()
}

#[test]
#[ignore = "trains models: `make test` runs it (cargo test -- --include-ignored)"]
fn feedback_starts_at_the_frozen_models_loss_trains_only_itself_and_resumes_exactly() {
    use tat_core::config::DeviceChoice;
    use tat_core::precision::Compute;
    use tat_core::tasks::{self, TaskContext, TaskData};
    let _lock = torch_rng_lock();
    let Some(gsm8k) = require("gsm8k") else { return };
    if gpt2().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("gsm8k");
    std::fs::create_dir(&data).unwrap();
    for (file, n) in [("train.jsonl", 64), ("test.jsonl", 24)] {
        let text = std::fs::read_to_string(gsm8k.join(file)).unwrap();
        std::fs::write(data.join(file), text.lines().take(n).collect::<Vec<_>>().join("\n")).unwrap();
    }
    let base = dir.path().join("base");
    train(&tiny(&data, &base, 1), &TrainOptions::default(), &mut Quiet).unwrap();
    let base_val = tasks::validation_report(&base.join("last"), DeviceChoice::Cpu, &[]).unwrap()[0].1;

    // Before any step the stable recipe's gates are zero: exactly the frozen model's loss.
    let config = tiny_feedback(&data, &base.join("last"), &dir.path().join("unused"), 1, &[]);
    let ckpt = checkpoint::load(&base.join("last")).unwrap();
    let context = TaskContext { device: tch::Device::Cpu, compute: Compute::Fp32, resumed: None, init: Some(&ckpt) };
    let mut task = tasks::open(&config, TaskData::FromConfig, &context).unwrap();
    checkpoint::load_matching(task.vs_mut(), &ckpt.dir, &[]).unwrap();
    let start = task.validate().unwrap();
    assert_eq!(start.loss, base_val);
    assert_eq!(start.extra["delta_ratio_0"], 0.0);

    // Training changes the hypernetworks only.
    let straight = dir.path().join("fb");
    train(&tiny_feedback(&data, &base.join("last"), &straight, 2, &[]), &TrainOptions::default(), &mut Quiet).unwrap();
    let before: std::collections::BTreeMap<String, Tensor> = weights(&base).into_iter().collect();
    for (name, value) in weights(&straight) {
        match before.get(&name) {
            Some(old) => assert!(old.equal(&value), "the frozen `{name}` changed"),
            None => assert!(name.starts_with("fb."), "{name}"),
        }
    }
    let metrics = tat_core::train::metrics::read_jsonl(&straight.join("metrics.jsonl")).unwrap();
    assert!(metrics.iter().all(|m| m.val_loss.is_finite() && m.extra["delta_ratio_1"] > 0.0), "{metrics:?}");

    let resumed = dir.path().join("fb_resumed");
    let config = tiny_feedback(&data, &base.join("last"), &resumed, 2, &[]);
    let err = train(&config, &TrainOptions::default(), &mut StopAfter::new(9)).unwrap_err();
    assert!(matches!(err, TatError::Interrupted(_)), "{err}");
    train(&config, &TrainOptions { resume: true }, &mut Quiet).unwrap();
    for ((name, a), (_, b)) in weights(&straight).iter().zip(weights(&resumed)) {
        assert!(a.equal(&b), "{name} differs after the resume");
    }

    // The recurrent variant and the original recipe train too; a feedback run needs its base.
    let recurrent = dir.path().join("fb_recurrent");
    let sets = ["model.variant=\"recurrent\"", "model.recipe=\"original\"", "model.reverse=true"];
    train(&tiny_feedback(&data, &base.join("last"), &recurrent, 1, &sets), &TrainOptions::default(), &mut Quiet)
        .unwrap();
    let e = tiny(&data, &dir.path().join("x"), 1)
        .with_overrides(&["model.architecture=\"feedback\"".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("`training.init_from`"), "{e}");
}

#[test]
#[ignore = "trains models: `make test` runs it (cargo test -- --include-ignored)"]
fn an_experiment_trains_scores_and_tabulates_its_runs_and_resume_skips_finished_ones() {
    use tat_core::experiment::{self, CommandOverrides, Plan, Record, RunStage, Status};
    let _lock = torch_rng_lock();
    let Some(gsm8k) = require("gsm8k") else { return };
    if gpt2().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("gsm8k");
    std::fs::create_dir(&data).unwrap();
    for (file, n) in [("train.jsonl", 64), ("test.jsonl", 16)] {
        let text = std::fs::read_to_string(gsm8k.join(file)).unwrap();
        std::fs::write(data.join(file), text.lines().take(n).collect::<Vec<_>>().join("\n")).unwrap();
    }
    let ff = tiny(&data, &dir.path().join("unused"), 1);
    std::fs::write(dir.path().join("ff.toml"), ff.to_toml_string()).unwrap();
    let fb = tiny_feedback(&data, &dir.path().join("unused"), &dir.path().join("unused"), 1, &[]);
    std::fs::write(dir.path().join("fb.toml"), fb.to_toml_string()).unwrap();
    let file = dir.path().join("exp.toml");
    std::fs::write(
        &file,
        r#"
[experiment]
name = "tiny"
set = ["training.steps_per_epoch=3"]

[[run]]
name = "ff"
config = "ff.toml"

[[run]]
name = "across/frozen"
evaluate = "ff"
config = "ff.toml"

[[run]]
name = "across/fb_r{model.rank}"
config = "fb.toml"
init_from = "ff"
baseline = "across/frozen"
set = ["training.epochs=2"]
grid = { "model.rank" = [1, 2] }
"#,
    )
    .unwrap();
    assert!(experiment::is_experiment(&file) && !experiment::is_experiment(&dir.path().join("ff.toml")));
    let out = dir.path().join("runs");
    let overrides = CommandOverrides { out: Some(out.clone()), ..CommandOverrides::default() };
    let plan = Plan::from_file(&file, &overrides).unwrap();
    let names: Vec<&str> = plan.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["ff", "across/frozen", "across/fb_r1", "across/fb_r2"]);

    let record = experiment::run(&plan, false, &mut Quiet).unwrap();
    assert!(record.runs.iter().all(|r| r.status == Status::Done && r.seconds > 0.0), "{record:?}");
    let loss = |name: &str| record.runs.iter().find(|r| r.name == name).unwrap().numbers["val_loss"];
    // Scored on the same pieces with the same masks, the frozen model's loss is the run's own.
    assert_eq!(loss("across/frozen"), loss("ff"));
    let fb = record.runs.iter().find(|r| r.name == "across/fb_r2").unwrap();
    assert_eq!((fb.steps, fb.epochs), (6, 2));
    assert!(fb.numbers["delta_ratio_0"] > 0.0 && fb.cpu_capability.len() > 2, "{fb:?}");
    let table = record.table();
    assert!(table.lines().any(|l| l.starts_with("across/fb_r1 ") && l.contains('%')), "{table}");
    assert_eq!(Record::load(&out).unwrap(), record);

    // Without --resume the folder is refused; with it, every finished run is skipped.
    let e = experiment::run(&plan, false, &mut Quiet).unwrap_err().to_string();
    assert!(e.contains("already holds an experiment") && e.contains("--resume"), "{e}");
    let mut watch = StopAfter::new(usize::MAX);
    assert_eq!(experiment::run(&plan, true, &mut watch).unwrap(), record);
    assert!(watch.events.iter().all(|e| matches!(e.what, RunStage::Skipped(Status::Done))), "{:?}", watch.events);

    // Stopped inside a run, the experiment records it as interrupted; resumed, it continues that
    // run from its `last` and ends with the weights of the uninterrupted experiment.
    let again = dir.path().join("again");
    let plan =
        Plan::from_file(&file, &CommandOverrides { out: Some(again.clone()), ..CommandOverrides::default() }).unwrap();
    let err = experiment::run(&plan, false, &mut StopAfter::new(5)).unwrap_err();
    assert!(matches!(err, TatError::Interrupted(_)), "{err}");
    let stopped = Record::load(&again).unwrap();
    assert_eq!(stopped.runs.last().unwrap().status, Status::Interrupted, "{stopped:?}");
    let mut watch = StopAfter::new(usize::MAX);
    experiment::run(&plan, true, &mut watch).unwrap();
    assert!(watch.events.iter().any(|e| e.what == RunStage::Resuming), "{:?}", watch.events);
    for name in ["ff", "across/fb_r1", "across/fb_r2"] {
        for ((w, a), (_, b)) in weights(&out.join(name)).iter().zip(weights(&again.join(name))) {
            assert!(a.equal(&b), "{name}: {w} differs after the resume");
        }
    }

    // Mistakes are named before anything trains.
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&bad, text.replace("init_from = \"ff\"", "init_from = \"fff\"")).unwrap();
    let e = Plan::from_file(&bad, &overrides).unwrap_err().to_string();
    assert!(e.contains("bad.toml:") && e.contains("\"fff\"") && e.contains("`ff`"), "{e}");
    std::fs::write(&bad, text.replace("fb_r{model.rank}", "fb")).unwrap();
    let e = Plan::from_file(&bad, &overrides).unwrap_err().to_string();
    assert!(e.contains("{model.rank}"), "{e}");
}
