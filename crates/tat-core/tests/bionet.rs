//! The bionet task end to end: config checks, the IDX loader, training through the learner with
//! exact resume, evaluation and prediction.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use tat_core::config::{Config, DeviceChoice};
use tat_core::tasks::bionet::data;
use tat_core::tasks::Classifier;
use tat_core::train::{train, TrainOptions};
use tat_core::TatError;

use common::{weights, Quiet, StopAfter};
use tch::{Kind, Tensor};

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config").join(name)
}

/// The shipped prototype config with 200 examples per evaluation split.
fn small_prototypes(out: &Path, epochs: usize) -> Config {
    let config = Config::from_file(&shipped("bionet_prototypes.toml")).unwrap();
    config
        .with_overrides(&[
            "dataset.eval_size=200".into(),
            format!("training.epochs={epochs}"),
            "training.device=\"cpu\"".into(),
            format!("training.output_dir={:?}", out.display().to_string()),
        ])
        .unwrap()
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn a_bionet_learns_the_prototypes_and_an_interrupted_run_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let straight = dir.path().join("straight");
    let summary = train(&small_prototypes(&straight, 2), &TrainOptions::default(), &mut Quiet).unwrap();
    assert_eq!(summary.epochs_completed, 2);
    let metrics = tat_core::train::metrics::read_jsonl(&straight.join("metrics.jsonl")).unwrap();
    let accuracy = metrics[1].val_accuracy.expect("a classifier reports its accuracy");
    assert!(accuracy > 0.8, "val accuracy after 2 epochs: {accuracy}");
    assert!((metrics[1].val_loss - (1.0 - accuracy)).abs() < 1e-12);

    // Interrupted in the middle of epoch 1 (63 steps of 16 examples per epoch), then resumed.
    let resumed = dir.path().join("resumed");
    let err = train(&small_prototypes(&resumed, 2), &TrainOptions::default(), &mut StopAfter::new(40)).unwrap_err();
    assert!(matches!(err, TatError::Interrupted(_)), "{err}");
    train(&small_prototypes(&resumed, 2), &TrainOptions { resume: true }, &mut Quiet).unwrap();
    for ((name, a), (_, b)) in weights(&straight).iter().zip(weights(&resumed)) {
        assert!(a.equal(&b), "{name} differs after the resume");
    }

    let classifier = Classifier::load(&straight, DeviceChoice::Cpu).unwrap();
    let report = classifier.evaluate().unwrap();
    let names: Vec<&str> = report.splits.iter().map(|s| s.split.as_str()).collect();
    assert_eq!(names, ["train", "val", "test"]);
    assert_eq!(report.splits[0].examples, 1000);
    assert!(report.splits[2].accuracy > 0.8, "{}", report.table());
    let splits = data::load(classifier.config()).unwrap();
    let predicted = classifier.predict(&splits.test.x).unwrap();
    let correct = predicted.eq_tensor(&splits.test.labels).sum(Kind::Int64).int64_value(&[]);
    assert_eq!(correct as f64 / 200.0, report.splits[2].accuracy);
    let err = classifier.predict(&Tensor::zeros([2, 7], (Kind::Float, tch::Device::Cpu))).unwrap_err();
    assert!(err.to_string().contains("[N, 100]"), "{err}");
}

#[test]
fn bionet_keys_belong_to_the_bionet_architecture_only() {
    let text = std::fs::read_to_string(shipped("wgsl_small.toml")).unwrap();
    let with_layers = text.replacen("[model]", "[model]\nlayers = [1, 2, 3]", 1);
    let err = Config::from_toml_str(&with_layers, "small.toml").unwrap_err().to_string();
    assert!(err.contains("model.layers") && err.contains("`layers` is a key of architecture = \"bionet\""), "{err}");

    let bionet = std::fs::read_to_string(shipped("bionet_prototypes.toml")).unwrap();
    let short = bionet.replace("layers = [100, 256, 10]", "layers = [100, 10]");
    let err = Config::from_toml_str(&short, "p.toml").unwrap_err().to_string();
    assert!(err.starts_with("p.toml:") && err.contains("model.layers") && err.contains("[100, 10]"), "{err}");
    let transformer = bionet.replace("architecture = \"bionet\"", "architecture = \"transformer\"");
    let err = Config::from_toml_str(&transformer, "p.toml").unwrap_err().to_string();
    assert!(err.contains("`model.layers`") && err.contains("architecture = \"bionet\""), "{err}");
    // A bionet task whose model section is a text model is told the architecture it needs.
    let start = bionet.find("[model]").unwrap();
    let end = bionet.find("[training]").unwrap();
    let text_model = format!("{}[model]\narchitecture = \"transformer\"\n\n{}", &bionet[..start], &bionet[end..]);
    let err = Config::from_toml_str(&text_model, "p.toml").unwrap_err().to_string();
    assert!(err.contains("`model.architecture`: found \"transformer\", expected \"bionet\""), "{err}");
    let typo = bionet.replace("j_d = 0.5", "jd = 0.5");
    let err = Config::from_toml_str(&typo, "p.toml").unwrap_err().to_string();
    assert!(err.contains("model.recurrent.jd") || err.contains("`jd`"), "{err}");
    // The optimizer's weight decay would be ignored (each edge decays by its own rule), so only 0
    // is taken, and leaving it out (the default, 0.01) is refused the same way.
    for (text, found) in [
        (bionet.replace("weight_decay = 0.0", "weight_decay = 0.1"), "0.1"),
        (bionet.replace("weight_decay = 0.0\n", ""), "0.01"),
    ] {
        let err = Config::from_toml_str(&text, "p.toml").unwrap_err().to_string();
        assert!(
            err.contains("`training.weight_decay`: found ")
                && err.contains(found)
                && err.contains("model.recurrent.decay"),
            "{err}"
        );
    }
}

/// Writes an IDX file of unsigned bytes (gzipped when `gz`).
fn write_idx(path: &Path, dims: &[u32], data: &[u8], gz: bool) {
    let mut bytes = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    if gz {
        let file = std::fs::File::create(path.with_extension("gz")).unwrap();
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        enc.write_all(&bytes).unwrap();
        enc.finish().unwrap();
    } else {
        std::fs::write(path, bytes).unwrap();
    }
}

fn idx_folder(dir: &Path, train: usize, test: usize) {
    let image = |i: usize| -> Vec<u8> { (0..16).map(|p| ((i * 7 + p * 13) % 256) as u8).collect() };
    let labels = |n: usize| -> Vec<u8> { (0..n).map(|i| (i % 10) as u8).collect() };
    let images = |n: usize| -> Vec<u8> { (0..n).flat_map(image).collect() };
    write_idx(&dir.join("train-images-idx3-ubyte"), &[train as u32, 4, 4], &images(train), true);
    write_idx(&dir.join("train-labels-idx1-ubyte"), &[train as u32], &labels(train), false);
    write_idx(&dir.join("t10k-images-idx3-ubyte"), &[test as u32, 4, 4], &images(test), false);
    write_idx(&dir.join("t10k-labels-idx1-ubyte"), &[test as u32], &labels(test), true);
}

fn idx_config(dir: &Path, extra: &str) -> Config {
    let text = std::fs::read_to_string(shipped("bionet_fashion.toml")).unwrap();
    let text = text
        .replace("layers = [100, 300, 10]", "layers = [8, 16, 10]")
        .replace("path = \"../../shared/data/fashion-mnist\"", &format!("path = {:?}", dir.display().to_string()))
        .replace("projection = 100", "projection = 8")
        .replace("per_class = 5400", "per_class = 4")
        .replace("eval_size = 6000", &format!("eval_size = 5\n{extra}"));
    Config::from_toml_str(&text, "idx.toml").unwrap()
}

#[test]
fn idx_files_load_gzipped_or_plain_and_project_to_signs() {
    let dir = tempfile::tempdir().unwrap();
    idx_folder(dir.path(), 60, 12);
    let splits = data::load(&idx_config(dir.path(), "")).unwrap();
    assert_eq!((splits.train.len(), splits.val.len(), splits.test.len()), (40, 5, 12));
    assert_eq!(splits.train.x.size(), [40, 8]);
    let values = splits.train.x.abs().eq(1.0).all().int64_value(&[]);
    assert_eq!(values, 1, "projected inputs are signs");
    let counts = splits.train.labels.bincount::<Tensor>(None, 10);
    assert_eq!(Vec::<i64>::try_from(&counts).unwrap(), vec![4; 10], "per_class draws each class equally");
    let again = data::load(&idx_config(dir.path(), "")).unwrap();
    assert!(again.train.x.equal(&splits.train.x), "the same config gives the same splits");
}

#[test]
fn a_broken_idx_file_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    idx_folder(dir.path(), 60, 12);
    write_idx(&dir.path().join("t10k-images-idx3-ubyte"), &[13, 4, 4], &[0; 12 * 16], false);
    let err = data::load(&idx_config(dir.path(), "")).err().unwrap().to_string();
    assert!(err.contains("t10k-images-idx3-ubyte") && err.contains("promises") && err.contains("Fix:"), "{err}");
    std::fs::remove_file(dir.path().join("t10k-images-idx3-ubyte")).unwrap();
    let err = data::load(&idx_config(dir.path(), "")).err().unwrap().to_string();
    assert!(err.contains("neither t10k-images-idx3-ubyte nor t10k-images-idx3-ubyte.gz"), "{err}");
}

/// The Fashion-MNIST files beside the project (`../shared/data/fashion-mnist`). Skipped with a
/// message when absent, except where `TAT_REQUIRE_DATA=1` (`make test`) makes that an error.
#[test]
fn the_shipped_fashion_config_reads_fashion_mnist() {
    let config = Config::from_file(&shipped("bionet_fashion.toml")).unwrap();
    if !config.dataset_path().is_dir() {
        let message = format!("{} is absent (see the README's Data section)", config.dataset_path().display());
        assert!(std::env::var("TAT_REQUIRE_DATA").as_deref() != Ok("1"), "{message}");
        eprintln!("skipped: {message}");
        return;
    }
    let splits = data::load(&config).unwrap();
    assert_eq!((splits.train.len(), splits.val.len(), splits.test.len()), (54000, 6000, 10000));
    assert_eq!(splits.train.x.size()[1], 100);
    let counts = splits.test.labels.bincount::<Tensor>(None, 10);
    assert_eq!(Vec::<i64>::try_from(&counts).unwrap(), vec![1000; 10]);
}

/// `training.freeze` keeps a bionet weight as built: no rule update and no decay.
#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn a_frozen_bionet_weight_keeps_its_initial_values() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_prototypes(dir.path(), 1)
        .with_overrides(&["model.readout.decay=0.01".into(), "training.freeze=[\"w_2\"]".into()])
        .unwrap();
    train(&config, &TrainOptions::default(), &mut Quiet).unwrap();
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let built = tat_core::tasks::bionet::network::build(&vs, config.model.bionet().unwrap(), config.training.seed);
    let trained: std::collections::HashMap<String, Tensor> = weights(dir.path()).into_iter().collect();
    assert!(trained["w_2"].equal(&built.w[2]), "the frozen readout changed");
    assert!(!trained["w_1"].equal(&built.w[1]), "the input edge trained");
}
