//! Fuzz targets: one function per parser that reads a user's bytes, each feeding the bytes to the
//! same entry the binary, `tat` and the Python API use (files are written to a scratch folder and
//! read back by the real loader), and checking what must hold for any input:
//!
//! - no panic, hang or unbounded allocation (libFuzzer's `-timeout` and `-malloc_limit_mb` catch
//!   the last two);
//! - an input refused is refused with an error that names its file (or `--set`);
//! - an input accepted round-trips: a config written back as TOML or JSON reads to the same config,
//!   `decode(encode(text)) == text` for the WGSL tokenizer, a tokenizer saved loads equal.
//!
//! `make fuzz SECONDS=N` (crates/tat-fuzz/fuzz.py) builds `src/bin/tat-fuzz.rs` with libFuzzer on
//! the stable toolchain and runs every target; `tests/replay.rs` runs each target over its seeds
//! (`seeds/<target>/`) and over every input a fuzzer ever crashed it with (`regressions/<target>/`)
//! in the ordinary test suite.
//!
//! Inputs that hold several files ([`split`]): byte 0 is a flags byte; then every file but the
//! last is a little-endian `u16` length and that many bytes (cut short where the input ends), and
//! the last file is the rest.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tat_core::checkpoint::{self, TrainState};
use tat_core::config::{Config, DataSource};
use tat_core::error::TatError;
use tat_core::tokenizer::Tokenizer;

/// One fuzz target: its name (`TAT_FUZZ_TARGET`, the seed and corpus folders), what it reads,
/// the function libFuzzer calls with each input, and the folders (relative to the repository
/// root, searched recursively) that seed it besides its own `seeds/<name>/`.
pub struct Target {
    pub name: &'static str,
    pub reads: &'static str,
    pub run: fn(&[u8]),
    pub also: &'static [&'static str],
}

/// Where the data sets live, beside the repository; seed folders under it are used when present.
pub const SHARED_DATA: &str = "../shared/data";

pub const TARGETS: &[Target] = &[
    Target {
        name: "config_toml",
        reads: "a config file (Config::from_file)",
        run: config_toml,
        also: &["config", "tests/configs"],
    },
    Target { name: "config_set", reads: "--set overrides on each shipped config", run: config_set, also: &[] },
    Target {
        name: "wgsl_tokenizer",
        reads: "text to build, encode and decode with both tokenizers",
        run: wgsl_tokenizer,
        also: &["tests/bad_inputs/wgsl"],
    },
    Target {
        name: "wgsl_validate",
        reads: "WGSL for naga (module, snippet, full shader)",
        run: wgsl_validate,
        also: &["tests/bad_inputs/wgsl", "../shared/data/wgsl-corpus"],
    },
    Target {
        name: "dataset_toml",
        reads: "a WGSL [[examples]] dataset file",
        run: dataset_toml,
        also: &["tests/bad_inputs/datasets", "config/wgsl_training_data.toml"],
    },
    Target {
        name: "wgsl_prefix",
        reads: "a decoder's answer so far, for the constrained-decoding prefix checker",
        run: wgsl_prefix,
        also: &["tests/bad_inputs/wgsl", "../shared/data/wgsl-corpus"],
    },
    Target {
        name: "wgsl_requests",
        reads: "a file of WGSL requests in free phrasing (eval --requests)",
        run: wgsl_requests,
        also: &["config/wgsl_free_requests.toml"],
    },
    Target {
        name: "dataset_jsonl",
        reads: "a gsm8k JSONL file",
        run: dataset_jsonl,
        also: &["tests/bad_inputs/gsm8k"],
    },
    Target { name: "dataset_text", reads: "a wikitext text file", run: dataset_text, also: &[] },
    Target { name: "dataset_idx", reads: "four MNIST-format IDX files (raw or gzipped)", run: dataset_idx, also: &[] },
    Target {
        name: "checkpoint_files",
        reads: "a checkpoint's checksums.json, config.toml, tokenizer.json, state.json or a run's metrics.jsonl",
        run: checkpoint_files,
        also: &[],
    },
];

/// The target a name stands for.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

static SELECTED: OnceLock<&'static Target> = OnceLock::new();

/// libFuzzer's init: picks the target `TAT_FUZZ_TARGET` names, and lets a panic on naga's own
/// thread through (the validator catches it and reports the input as invalid) while any other
/// panic still aborts the process for the fuzzer to record.
pub fn init_from_env() {
    let name = std::env::var("TAT_FUZZ_TARGET").unwrap_or_default();
    if name == "list" {
        // What `make fuzz` runs: each target with its seed folders, as JSON lines.
        for t in TARGETS {
            println!("{}", serde_json::json!({ "name": t.name, "reads": t.reads, "also": t.also }));
        }
        std::process::exit(0);
    }
    let Some(found) = target(&name) else {
        let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
        eprintln!("TAT_FUZZ_TARGET={name:?} is not a fuzz target. Fix: set it to one of {}.", names.join(", "));
        std::process::exit(2);
    };
    let _ = SELECTED.set(found);
    let aborting = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some(tat_core::wgsl::NAGA_THREAD) {
            return;
        }
        aborting(info);
    }));
}

/// Runs the target [`init_from_env`] picked.
pub fn run_selected(data: &[u8]) {
    (SELECTED.get().expect("init_from_env runs first").run)(data)
}

/// Splits a multi-file input into its flags byte and `n` files (see the crate docs).
pub fn split(data: &[u8], n: usize) -> (u8, Vec<&[u8]>) {
    let Some((&flags, mut rest)) = data.split_first() else { return (0, vec![&[][..]; n]) };
    let mut files = Vec::with_capacity(n);
    for _ in 1..n {
        let len = match rest {
            [a, b, tail @ ..] => {
                rest = tail;
                usize::from(u16::from_le_bytes([*a, *b]))
            }
            _ => {
                rest = &[];
                0
            }
        };
        let (file, tail) = rest.split_at(len.min(rest.len()));
        files.push(file);
        rest = tail;
    }
    files.push(rest);
    (flags, files)
}

/// The input [`split`] reads back as `flags` and `files` (seeds are written with it).
pub fn join(flags: u8, files: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![flags];
    for (i, file) in files.iter().enumerate() {
        if i + 1 < files.len() {
            let len = u16::try_from(file.len()).expect("a seed file is under 64 KiB");
            out.extend_from_slice(&len.to_le_bytes());
        }
        out.extend_from_slice(file);
    }
    out
}

/// This thread's scratch folder (under `TMPDIR`, which `make fuzz` points into the target dir),
/// removed when the thread ends (the replay test's threads; libFuzzer's process leaves it to
/// `make fuzz`, which removes the target's `TMPDIR`).
fn scratch() -> PathBuf {
    thread_local! {
        static DIR: tempfile::TempDir =
            tempfile::Builder::new().prefix("tat-fuzz-").tempdir().expect("a scratch folder");
    }
    DIR.with(|dir| dir.path().to_path_buf())
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("the fuzzer cannot write {}: {e}", path.display()));
}

/// An error for an input read from `path` must name that file (folder paths count too).
fn names(error: &TatError, path: &Path) {
    let message = error.to_string();
    let shown = path.display().to_string();
    assert!(message.contains(&shown), "the error for {shown} does not name it:\n{message}");
}

/// A config that loaded must survive its own serialisations unchanged.
fn round_trips(config: &Config) {
    let json = config.to_json_string();
    let toml = config.to_toml_string();
    let from_toml = Config::from_toml_str(&toml, "round-trip.toml")
        .unwrap_or_else(|e| panic!("a loaded config does not load from its own TOML: {e}\n---\n{toml}"));
    assert_eq!(from_toml.to_json_string(), json, "TOML round trip changed the config:\n{toml}");
    let from_json = Config::from_json_str(&json, "round-trip.json")
        .unwrap_or_else(|e| panic!("a loaded config does not load from its own JSON: {e}\n---\n{json}"));
    assert_eq!(from_json.to_json_string(), json, "JSON round trip changed the config");
}

pub fn config_toml(data: &[u8]) {
    let path = scratch().join("config.toml");
    write(&path, data);
    match Config::from_file(&path) {
        Ok(config) => round_trips(&config),
        Err(e) => names(&e, &path),
    }
}

/// The shipped configs `config_set` overrides; byte 0 of an input picks one.
const SHIPPED: &[(&str, &str)] = &[
    ("wgsl_small.toml", include_str!("../../../config/wgsl_small.toml")),
    ("binding.toml", include_str!("../../../config/binding.toml")),
    ("bionet_fashion.toml", include_str!("../../../config/bionet_fashion.toml")),
    ("diffusion_gsm8k.toml", include_str!("../../../config/diffusion_gsm8k.toml")),
    ("bionet_sparse.toml", include_str!("../../../config/bionet_sparse.toml")),
    ("agent.toml", include_str!("../../../config/agent.toml")),
];

fn shipped() -> &'static [Config] {
    static CONFIGS: OnceLock<Vec<Config>> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        SHIPPED
            .iter()
            .map(|(name, text)| Config::from_toml_str(text, name).unwrap_or_else(|e| panic!("{name}: {e}")))
            .collect()
    })
}

/// Byte 0 picks the shipped config; each further line is one `--set` argument.
pub fn config_set(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    // Command-line arguments reach the engine as UTF-8 (clap and Python refuse anything else).
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let base = &shipped()[usize::from(pick) % SHIPPED.len()];
    let overrides: Vec<String> = text.lines().map(str::to_owned).collect();
    match base.with_overrides(&overrides) {
        Ok(config) => round_trips(&config),
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains("--set"), "an override error does not say it came from --set:\n{message}");
        }
    }
}

/// Texts separated by NUL: all but the last build the vocabularies, the last is encoded; byte 0
/// sets `min_freq`. Both kinds are built; what each promises is checked.
pub fn wgsl_tokenizer(data: &[u8]) {
    let Some((&freq, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let parts: Vec<&str> = text.split('\0').collect();
    let (probe, corpus) = parts.split_last().expect("split gives at least one part");
    let min_freq = usize::from(freq % 4);
    let wgsl = Tokenizer::build(corpus.iter().copied(), min_freq);
    let words = Tokenizer::build_words(corpus.iter().copied(), min_freq);
    for tokenizer in [&wgsl, &words] {
        let path = scratch().join("tokenizer.json");
        tokenizer.save(&path).expect("a tokenizer saves");
        let loaded = Tokenizer::load(&path).unwrap_or_else(|e| panic!("a saved tokenizer does not load: {e}"));
        assert_eq!(&loaded, tokenizer, "a tokenizer changed on its way through tokenizer.json");
    }
    for text in corpus.iter().chain([probe]) {
        let ids = wgsl.encode(text);
        assert!(ids.iter().all(|&id| (0..wgsl.vocab_size() as i64).contains(&id)), "an id outside the vocab");
        assert_eq!(wgsl.decode(&ids), *text, "decode(encode(text)) != text for the wgsl tokenizer");
        let ids = words.encode(text);
        assert_eq!(ids.len(), words.pieces_of(text).len(), "words: not one id per word");
        let known: Vec<i64> = ids.iter().copied().filter(|&id| id != tat_core::tokenizer::UNK_ID).collect();
        assert_eq!(words.encode(&words.decode(&ids)), known, "words: decoded text does not encode to its known ids");
    }
}

pub fn wgsl_validate(data: &[u8]) {
    // The binary and the Python API read shader text as UTF-8 and refuse other bytes first.
    let Ok(code) = std::str::from_utf8(data) else { return };
    let lines = code.split('\n').count();
    let module = tat_core::wgsl::validate_module(code);
    let snippet = tat_core::wgsl::validate_snippet(code);
    let _ = tat_core::wgsl::is_full_shader(code);
    for d in module.iter().chain(&snippet) {
        assert!(d.line >= 1 && d.line <= lines, "diagnostic line {} of a {lines}-line text: {d:?}", d.line);
        assert!(d.column >= 1, "diagnostic column 0: {d:?}");
        assert!(!d.message.trim().is_empty(), "a diagnostic without a message");
    }
}

pub fn dataset_toml(data: &[u8]) {
    let path = scratch().join("examples.toml");
    write(&path, data);
    match tat_core::data::wgsl::load_examples(&path) {
        Ok(examples) => {
            if let Err(e) = tat_core::data::wgsl::check_examples(&path, &examples) {
                names(&e, &path);
            }
        }
        Err(e) => names(&e, &path),
    }
}

pub fn wgsl_prefix(data: &[u8]) {
    use tat_core::wgsl::prefix::{check_prefix, check_prefix_free, Goal, Viability};
    let text = String::from_utf8_lossy(data);
    for goal in [Goal::Module, Goal::Functions, Goal::Statements, Goal::Expression] {
        let scoped = check_prefix(&text, goal);
        // The scope check only ever narrows what the syntax allows.
        if scoped != Viability::Dead {
            assert_ne!(check_prefix_free(&text, goal), Viability::Dead, "{goal:?}: scoped alive, unscoped dead");
        }
    }
}

pub fn wgsl_requests(data: &[u8]) {
    use tat_core::data::requests::{judge, load_requests};
    let path = scratch().join("requests.toml");
    write(&path, data);
    match load_requests(&path) {
        // The loader checks each accepted answer; judging it again must agree.
        Ok(requests) => {
            for request in &requests {
                for answer in &request.accepted {
                    assert!(
                        judge(request, answer).right,
                        "{:?}: its accepted answer {answer:?} is judged wrong",
                        request.request
                    );
                }
            }
        }
        Err(e) => names(&e, &path),
    }
}

fn documents(source: DataSource, file: &str, data: &[u8]) {
    let path = scratch().join(file);
    write(&path, data);
    match tat_core::tasks::diffusion::data::documents(source, &path) {
        Ok(docs) => assert!(!docs.is_empty() && docs.iter().all(|d| !d.trim().is_empty()), "an empty document"),
        Err(e) => names(&e, &path),
    }
}

pub fn dataset_jsonl(data: &[u8]) {
    documents(DataSource::Gsm8k, "train.jsonl", data);
}

pub fn dataset_text(data: &[u8]) {
    documents(DataSource::Wikitext, "valid.txt", data);
}

/// The IDX files in the order [`dataset_idx`] splits them.
pub const IDX_FILES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// Four files; flag bit i writes file i as `<name>.gz` (its bytes as given: a gzip stream or not),
/// bit 4 draws the training set per class instead of by count, bit 5 projects to 16 signs.
pub fn dataset_idx(data: &[u8]) {
    let (flags, files) = split(data, IDX_FILES.len());
    let dir = scratch().join("idx");
    std::fs::create_dir_all(&dir).expect("the IDX folder");
    for (i, (name, bytes)) in IDX_FILES.iter().zip(&files).enumerate() {
        let gz = flags & (1 << i) != 0;
        let (keep, drop) = (dir.join(name), dir.join(format!("{name}.gz")));
        let (keep, drop) = if gz { (drop, keep) } else { (keep, drop) };
        let _ = std::fs::remove_file(drop);
        write(&keep, bytes);
    }
    let draw = if flags & 16 != 0 { "per_class = 2" } else { "train_size = 20" };
    let projection = if flags & 32 != 0 { 16 } else { 0 };
    let toml = format!(
        "[task]\nname = \"fuzz_idx\"\nkind = \"bionet\"\n[model]\narchitecture = \"bionet\"\nlayers = [16, 32, 10]\n\
         [training]\nweight_decay = 0.0\ndevice = \"cpu\"\nprecision = \"fp32\"\n[dataset]\nsource = \"idx\"\npath = '{}'\n{draw}\n\
         eval_size = 10\nprojection = {projection}\n",
        dir.display()
    );
    let config = Config::from_toml_str(&toml, "fuzz_idx.toml").expect("the IDX target's config");
    match tat_core::tasks::bionet::data::load(&config) {
        Ok(splits) => {
            for (name, split) in [("train", &splits.train), ("val", &splits.val), ("test", &splits.test)] {
                assert_eq!(split.x.size()[0], split.labels.size()[0], "{name}: rows of x and labels differ");
            }
        }
        Err(e) => names(&e, &dir),
    }
}

/// The files of the checkpoint [`checkpoint_files`] damages one at a time, with their valid text.
pub fn checkpoint_parts() -> &'static [(&'static str, String)] {
    static PARTS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    PARTS.get_or_init(|| {
        let config = &shipped()[0];
        let tokenizer = Tokenizer::build(["fn main() -> f32 { return 1.0; }", "let x = vec4<f32>(0.0);"], 1);
        let path = scratch().join("seed-tokenizer.json");
        tokenizer.save(&path).expect("a tokenizer saves");
        let tokenizer = std::fs::read_to_string(&path).expect("the tokenizer just written");
        let state = serde_json::to_string_pretty(&TrainState::new(0)).expect("state serialises");
        let epoch = tat_core::train::metrics::EpochMetrics {
            epoch: 1,
            step: 4,
            train_loss: 2.5,
            val_loss: 2.75,
            lr: 1e-3,
            seconds: 1.5,
            examples_per_sec: 40.0,
            tokens_per_sec: 900.0,
            best: true,
            precision: "fp32".into(),
            val_accuracy: Some(0.5),
            extra: [("exact".to_string(), 0.25)].into(),
        };
        let metrics = serde_json::to_string(&epoch).expect("metrics serialise") + "\n";
        vec![
            (checkpoint::CHECKSUMS_FILE, String::new()),
            (checkpoint::CONFIG_FILE, config.to_toml_string()),
            (checkpoint::TOKENIZER_FILE, tokenizer),
            (checkpoint::STATE_FILE, state),
            ("metrics.jsonl", metrics),
        ]
    })
}

/// Byte 0 picks the file of [`checkpoint_parts`] the rest of the input replaces; the others keep
/// their valid text and `checksums.json` (unless it is the file fuzzed) matches the files, so the
/// damage reaches the file's own reader rather than the checksum check.
pub fn checkpoint_files(data: &[u8]) {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let parts = checkpoint_parts();
    let chosen = usize::from(pick) % parts.len();
    let dir = scratch().join("checkpoint");
    std::fs::create_dir_all(&dir).expect("the checkpoint folder");
    for (i, (name, text)) in parts.iter().enumerate().skip(1) {
        write(&dir.join(name), if i == chosen { bytes } else { text.as_bytes() });
    }
    match chosen {
        0 => write(&dir.join(checkpoint::CHECKSUMS_FILE), bytes),
        _ => checkpoint::write_checksums(&dir).expect("the checkpoint's checksums"),
    }
    if parts[chosen].0 == "metrics.jsonl" {
        let path = dir.join("metrics.jsonl");
        if let Err(e) = tat_core::train::metrics::read_jsonl(&path) {
            names(&e, &path);
        }
        return;
    }
    match checkpoint::load(&dir) {
        Ok(loaded) => {
            let tokenizer = loaded.tokenizer().expect("a WGSL checkpoint has a tokenizer");
            let probe = "fn main() { let é = 1; }";
            let ids = tokenizer.encode(probe);
            assert!(ids.iter().all(|&id| id >= 0 && (id as usize) < tokenizer.vocab_size()), "an id outside the vocab");
            if tokenizer.kind_name() == "wgsl" {
                assert_eq!(tokenizer.decode(&ids), probe, "a loaded wgsl tokenizer does not round-trip");
            }
        }
        Err(e) => names(&e, &dir),
    }
}
