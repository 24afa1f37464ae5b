//! The release binary's exit codes and messages, run as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tiny-agent-trainer"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A tiny model on every sixth example of the shipped dataset, writing into `out`.
fn tiny_config(dir: &Path, out: &Path, epochs: usize) -> PathBuf {
    #[derive(serde::Serialize)]
    struct File {
        examples: Vec<tat_core::data::wgsl::Example>,
    }
    let shipped = tat_core::data::wgsl::load_examples(&repo().join("config/wgsl_training_data.toml")).unwrap();
    let data = dir.join("examples.toml");
    let examples = shipped.into_iter().step_by(6).collect();
    std::fs::write(&data, toml::to_string(&File { examples }).unwrap()).unwrap();
    let path = dir.join("tiny.toml");
    std::fs::write(
        &path,
        format!(
            "[task]\nname = \"tiny\"\n[model]\nd_model = 32\nnhead = 2\nnum_layers = 1\ndim_feedforward = 64\n\
             [training]\nepochs = {epochs}\nlearning_rate = 1e-3\ndevice = \"cpu\"\nsave_every = 0\noutput_dir = \"{}\"\n\
             [dataset]\npath = \"{}\"\n",
            out.display(),
            data.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn bad_config_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[task]\nname = \"x\"\n[model]\nd_model = \"big\"\n[dataset]\npath = \"d.toml\"\n").unwrap();
    let o = run(&["train", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let msg = text(&o);
    assert!(msg.contains("bad.toml:4:") && msg.contains("model.d_model"), "{msg}");
    assert!(!msg.contains("panicked") && !msg.contains("RUST_BACKTRACE"), "{msg}");
}

#[test]
fn missing_config_exits_2() {
    let o = run(&["train", "--config", "no/such.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no/such.toml: config file not found"), "{}", text(&o));
}

#[test]
fn bad_dataset_exits_2_naming_the_example() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.toml");
    std::fs::write(&data, "[[examples]]\nnatural_language = \"red\"\nwgsl_code = \"vec3<f32>(1.0, 0.0, 0.0)\"\ncategory = \"color\"\n\n[[examples]]\nnatural_language = \"blue\"\ncategory = \"color\"\n").unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[task]\nname = \"x\"\n[training]\ndevice = \"cpu\"\n[dataset]\npath = \"data.toml\"\n")
        .unwrap();
    let o = run(&["train", "--config", cfg.to_str().unwrap(), "--out", dir.path().join("run").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("examples[1]") && text(&o).contains("wgsl_code"), "{}", text(&o));
}

#[test]
fn missing_dataset_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[task]\nname = \"x\"\n[dataset]\npath = \"nope.toml\"\n").unwrap();
    let o = run(&["train", "--config", cfg.to_str().unwrap(), "--out", dir.path().join("run").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("dataset.path") && text(&o).contains("does not exist"), "{}", text(&o));
}

#[test]
fn validate_reports_file_line_col_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wgsl");
    let bad = dir.path().join("bad.wgsl");
    std::fs::write(
        &good,
        "@fragment\nfn main() -> @location(0) vec4<f32> {\n    return vec4<f32>(1.0, 0.0, 0.0, 1.0);\n}\n",
    )
    .unwrap();
    std::fs::write(&bad, "@fragment\nfn main() -> @location(0) vec4<f32> {\n    return vec3<f32>(1.0, 0.0, 0.0);\n}\n")
        .unwrap();
    let o = run(&["validate", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&["validate", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let prefix = format!("{}:", bad.display());
    let line = String::from_utf8_lossy(&o.stdout).lines().find(|l| l.starts_with(&prefix)).map(str::to_string);
    let line = line.unwrap_or_else(|| panic!("no diagnostic for bad.wgsl in {}", text(&o)));
    let fields: Vec<&str> = line[prefix.len()..].splitn(3, ':').collect();
    assert!(fields[0].parse::<usize>().is_ok() && fields[1].parse::<usize>().is_ok(), "{line}");
    let json = run(&["validate", "--json", bad.to_str().unwrap()]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value[0]["valid"], false);
    assert!(value[0]["diagnostics"][0]["line"].as_u64().unwrap() >= 1);
}

#[test]
fn validate_reads_stdin() {
    use std::io::Write;
    let mut child = bin().args(["validate", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"fn f() -> f32 { return 1.0; }\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("<stdin>: ok"));
}

#[test]
fn missing_checkpoint_exits_3() {
    let o = run(&["generate", "--model", "runs/definitely-not-here", "--prompt", "red"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("does not exist"), "{}", text(&o));
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert_eq!(run(&["init", d]).status.code(), Some(0));
    let o = run(&["init", d]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--force"), "{}", text(&o));
    assert_eq!(run(&["init", d, "--force"]).status.code(), Some(0));
    let o = run(&["show", "--config", dir.path().join("tat.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("[training]"));
}

#[test]
fn list_shows_configs_not_datasets() {
    let o = bin().current_dir(repo()).args(["list"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("wgsl_generation.toml") && out.contains("wgsl_small.toml"), "{out}");
    assert!(!out.contains("wgsl_training_data"), "{out}");
}

#[test]
fn check_reports_libtorch_and_cuda() {
    let o = run(&["check"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("libtorch: 2.11.0") && out.contains("cuda available:"), "{out}");
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn ctrl_c_saves_last_exits_130_and_resume_continues() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cfg = tiny_config(dir.path(), &out, 1000);
    let child = bin()
        .args(["train", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first epoch is on disk, i.e. in the middle of real training.
    let started = Instant::now();
    while !out.join("metrics.jsonl").exists() || std::fs::read_to_string(out.join("metrics.jsonl")).unwrap().is_empty()
    {
        // Generous: an epoch takes about a second, but CI machines can be busy.
        assert!(started.elapsed() < Duration::from_secs(600), "training never finished an epoch");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A second run on the folder meanwhile is refused, naming the first.
    let second = run(&["train", "--config", cfg.to_str().unwrap(), "--resume"]);
    assert_eq!(second.status.code(), Some(3), "{}", text(&second));
    let said = text(&second);
    assert!(
        said.contains("another run is writing this folder") && said.contains(&format!("process {}", child.id())),
        "{said}"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(text(&o).contains("--resume"), "{}", text(&o));
    assert!(out.join("last/model.safetensors").is_file());

    let o = run(&[
        "generate",
        "--model",
        out.join("last").to_str().unwrap(),
        "--prompt",
        "Create a red color",
        "--max-new-tokens",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = run(&["train", "--config", cfg.to_str().unwrap(), "--resume", "--epochs", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("resuming after epoch"), "{}", text(&o));

    std::fs::write(out.join("last/state.json"), "{ truncated").unwrap();
    let o = run(&["generate", "--model", out.join("last").to_str().unwrap(), "--prompt", "red"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("state.json: the file changed after its checkpoint wrote it"), "{}", text(&o));
    std::fs::remove_file(out.join("last/checksums.json")).unwrap();
    let o = run(&["generate", "--model", out.join("last").to_str().unwrap(), "--prompt", "red"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("state.json: checkpoint file is missing or corrupt"), "{}", text(&o));
}

/// The per-epoch train and validation losses of a run folder.
fn losses(out: &Path) -> Vec<(usize, f64, f64)> {
    tat_core::train::metrics::read_jsonl(&out.join("metrics.jsonl"))
        .unwrap()
        .into_iter()
        .map(|m| (m.epoch, m.train_loss, m.val_loss))
        .collect()
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn killed_at_random_moments_a_run_always_keeps_a_loadable_last_and_resumes_to_the_same_losses() {
    const EPOCHS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    let cfg = tiny_config(dir.path(), &reference, EPOCHS);
    let o = run(&["train", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let want = losses(&reference);
    assert_eq!(want.len(), EPOCHS);

    let out = dir.path().join("killed");
    let killed_dir = dir.path().join("k");
    std::fs::create_dir_all(&killed_dir).unwrap();
    let cfg = tiny_config(&killed_dir, &out, EPOCHS);
    let last = out.join("last");
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut kills, mut during_saves) = (0, 0);
    for attempt in 0..200 {
        if kills >= 20 && during_saves >= 3 {
            break;
        }
        let resume = tat_core::checkpoint::existing(&last).is_some();
        // A folder a kill left mid-write is cleared by the next save; cleared here first, so that
        // one that appears below is this try's.
        for t in ["last.tmp", "best.tmp"] {
            let _ = std::fs::remove_dir_all(out.join(t));
        }
        let stale_old: Vec<bool> = ["last.old", "best.old"].iter().map(|t| out.join(t).exists()).collect();
        let mut args = vec!["train", "--config", cfg.to_str().unwrap()];
        if resume {
            args.push("--resume");
        }
        let mut child = bin().args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let started = Instant::now();
        // Every other try dies the moment a checkpoint is being written; the others at a random time.
        let at_save = attempt % 2 == 1;
        let deadline = Duration::from_secs_f64(0.3 + 3.0 * random());
        let mut finished = false;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert_eq!(status.code(), Some(0), "try {attempt} ended by itself but not well");
                finished = true;
                break;
            }
            let saving = ["last.tmp", "best.tmp"].iter().any(|t| out.join(t).exists());
            if (at_save && saving) || (!at_save && started.elapsed() >= deadline) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(300), "try {attempt} ran for 5 minutes");
            std::thread::sleep(Duration::from_micros(if at_save { 200 } else { 5000 }));
        }
        if finished {
            // The run got through before a kill: start the folder again to keep killing.
            std::fs::remove_dir_all(&out).unwrap();
            continue;
        }
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        kills += 1;
        let olds = ["last.old", "best.old"].iter().zip(&stale_old).any(|(t, stale)| !stale && out.join(t).exists());
        if olds || ["last.tmp", "best.tmp"].iter().any(|t| out.join(t).exists()) {
            during_saves += 1;
        }
        // Whatever the moment, a checkpoint the run had written is still there and loads whole
        // (its files' checksums included).
        if let Some(found) = tat_core::checkpoint::existing(&last) {
            tat_core::checkpoint::load(&found).unwrap_or_else(|e| panic!("kill {kills}: {e}"));
        } else {
            assert!(!resume, "kill {kills} lost the `last` the run had");
        }
    }
    assert!(kills >= 20 && during_saves >= 3, "{kills} kills, {during_saves} while saving");
    let mut args = vec!["train", "--config", cfg.to_str().unwrap()];
    if tat_core::checkpoint::existing(&last).is_some() {
        args.push("--resume");
    }
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let got = losses(&out);
    assert_eq!(got.len(), EPOCHS, "{got:?}");
    for ((e, train, val), (_, want_train, want_val)) in got.iter().zip(&want) {
        assert!((train - want_train).abs() < 1e-5 && (val - want_val).abs() < 1e-5, "epoch {e}: {got:?} vs {want:?}");
    }
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn a_save_that_fails_leaves_the_previous_checkpoint_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cfg = tiny_config(dir.path(), &out, 1);
    let o = run(&["train", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let state = std::fs::read_to_string(out.join("last/state.json")).unwrap();
    let model = std::fs::metadata(out.join("last/model.safetensors")).unwrap().len();
    // A file-size limit below the model's size (in 512- or 1024-byte blocks, as the shell counts:
    // a half or a quarter of it): the next save cannot be written.
    let blocks = model / 1024 / 2;
    assert!(blocks >= 16, "the tiny model is {model} bytes");
    let script = format!(
        "ulimit -f {blocks} && exec '{}' train --config '{}' --resume --epochs 2",
        env!("CARGO_BIN_EXE_tiny-agent-trainer"),
        cfg.display()
    );
    let o = Command::new("sh").args(["-c", &script]).output().unwrap();
    let said = text(&o);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(said.contains("could not save the checkpoint") && said.contains("is intact"), "{said}");
    assert!(said.contains("--resume") && !said.contains("panicked"), "{said}");
    assert_eq!(std::fs::read_to_string(out.join("last/state.json")).unwrap(), state, "last/ as it was");
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp") || name.ends_with(".old"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // With room again, --resume continues.
    let o = run(&["train", "--config", cfg.to_str().unwrap(), "--resume", "--epochs", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(std::fs::read_to_string(out.join("last/state.json")).unwrap().contains("\"epoch\": 2"));
}

#[test]
#[ignore = "trains a model: `make test` runs it (cargo test -- --include-ignored)"]
fn eval_prints_a_table_writes_json_and_sampling_repeats_with_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cfg = tiny_config(dir.path(), &out, 2);
    let o = run(&["train", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let model = out.to_str().unwrap();

    let o = run(&["eval", "--model", model, "--split", "val", "--max-new-tokens", "20"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    for column in ["token acc", "exact", "chrF", "naga", "overall"] {
        assert!(table.contains(column), "{table}");
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("eval_best_val.json")).unwrap()).unwrap();
    let n = saved["overall"]["examples"].as_u64().unwrap();
    assert!(n > 0 && saved["results"].as_array().unwrap().len() as u64 == n, "{saved}");

    let o = run(&["eval", "--model", model, "--split", "val", "--max-new-tokens", "20", "--json"]);
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(printed["overall"], saved["overall"]);

    let sample = |seed: &str| {
        let o = run(&[
            "generate",
            "--model",
            model,
            "--prompt",
            "Create a red color",
            "--max-new-tokens",
            "12",
            "--temperature",
            "1.5",
            "--top-p",
            "0.95",
            "--seed",
            seed,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        o.stdout
    };
    assert_eq!(sample("4"), sample("4"));
    let o = run(&["generate", "--model", model, "--prompt", "red", "--top-k", "5"]);
    assert_eq!(o.status.code(), Some(2), "--top-k without --temperature is a usage error: {}", text(&o));
}
