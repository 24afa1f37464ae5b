//! Checkpoint layout, one folder each (`best`, `last`, `epoch_0010`, ...):
//!
//! | file | what |
//! |---|---|
//! | `model.safetensors` | model weights (fp32) |
//! | `optimizer.safetensors` | the optimizer's state (AdamW: `exp_avg.<param>`, `exp_avg_sq.<param>`) |
//! | `state.json` | [`TrainState`]: epoch, step, seed, best metric, partial-epoch sums |
//! | `tokenizer.json` | the tokenizer the ids refer to (tasks with text only) |
//! | `config.toml` | the full config the run used |
//! | `checksums.json` | each file above: its length and CRC-32, checked when the checkpoint loads |
//!
//! A folder is written under a temporary name and renamed into place, so a crash or Ctrl-C
//! mid-write never leaves a half-written checkpoint behind. A byte changed on disk since (a bad
//! copy between machines, a failing disk) stops the load with the file's name. Training writes checkpoints and
//! inference reads them through this module alone; it knows nothing of either.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;

use crate::config::Config;
use crate::error::{read_text, Result, TatError};
use crate::tokenizer::Tokenizer;

pub const MODEL_FILE: &str = "model.safetensors";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
pub const STATE_FILE: &str = "state.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const CONFIG_FILE: &str = "config.toml";
pub const CHECKSUMS_FILE: &str = "checksums.json";
pub const BEST: &str = "best";
pub const LAST: &str = "last";
const FORMAT_VERSION: u32 = 1;

/// Where training stands. Dropout randomness is reseeded from `(seed, step)` before every
/// optimizer step, so `seed` and `step` are the whole RNG state: resuming at any step boundary
/// reproduces the uninterrupted run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub format_version: u32,
    /// Epochs fully completed.
    pub epoch: usize,
    /// Batches done in the epoch after `epoch` (non-zero only for a Ctrl-C save).
    pub batch_in_epoch: usize,
    pub step: usize,
    pub seed: u64,
    pub best_val_loss: Option<f64>,
    pub best_epoch: usize,
    pub epochs_without_improvement: usize,
    /// Sums over the partial epoch, so its train loss comes out right after resuming.
    pub partial_loss_sum: f64,
    pub partial_tokens: usize,
    pub train_loss: Option<f64>,
    pub val_loss: Option<f64>,
    /// The precision the matrix products ran in (`fp32` or `bf16`, `auto` decided) in the
    /// session that wrote this state, and why; absent in checkpoints from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision_reason: Option<String>,
    /// Steps whose loss or gradient was not finite and that changed no weight (tasks that skip
    /// such steps instead of stopping).
    #[serde(default)]
    pub skipped_steps: usize,
}

impl TrainState {
    pub fn new(seed: u64) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            epoch: 0,
            batch_in_epoch: 0,
            step: 0,
            seed,
            best_val_loss: None,
            best_epoch: 0,
            epochs_without_improvement: 0,
            partial_loss_sum: 0.0,
            partial_tokens: 0,
            train_loss: None,
            val_loss: None,
            precision: None,
            precision_reason: None,
            skipped_steps: 0,
        }
    }
}

/// What a checkpoint folder holds besides the weights.
pub struct Checkpoint {
    pub dir: PathBuf,
    pub config: Config,
    /// Absent for tasks without text.
    pub tokenizer: Option<Tokenizer>,
    pub state: TrainState,
}

impl Checkpoint {
    /// The tokenizer, or an error for a checkpoint of a task without one.
    pub fn tokenizer(&self) -> Result<&Tokenizer> {
        self.tokenizer.as_ref().ok_or_else(|| {
            TatError::Checkpoint(format!(
                "{}: this checkpoint has no {TOKENIZER_FILE}: its task ({:?}) does not work on text. \
                 Fix: use `eval` or the Python API's `tat.load`, which serve every task.",
                self.dir.display(),
                self.config.task.kind
            ))
        })
    }
}

pub struct SaveParts<'a> {
    pub vs: &'a VarStore,
    /// The optimizer's state as named tensors.
    pub optimizer: Vec<(String, &'a tch::Tensor)>,
    pub state: &'a TrainState,
    pub tokenizer: Option<&'a Tokenizer>,
    pub config: &'a Config,
}

/// Writes a checkpoint folder atomically: into `<name>.tmp`, then renamed over `<name>`. When a
/// write fails (a full disk, a file-size limit) the temporary folder is removed, the checkpoint
/// it was to replace stays as it was, and the error ([`TatError::Save`]) says so.
pub fn save(dir: &Path, parts: &SaveParts) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    write_folder(&tmp, parts).map_err(|e| {
        let _ = fs::remove_dir_all(&tmp);
        let kept = match existing(dir) {
            Some(previous) => format!("{} is intact, as it was before", previous.display()),
            None => "no earlier checkpoint was there".to_string(),
        };
        TatError::Save(format!(
            "could not save the checkpoint {}: {e}. Nothing half-written was left; {kept}. Fix: free disk space \
             (or raise the file-size limit, `ulimit -f`), then continue with --resume.",
            dir.display()
        ))
    })?;
    // `<name>.old` is a stale copy while `<name>` exists; without `<name>` (a crash between the
    // two renames) it is the checkpoint, and stays until the new one is in place.
    let old = dir.with_extension("old");
    if dir.exists() {
        remove_dir_if_exists(&old)?;
        fs::rename(dir, &old).map_err(|e| TatError::io(dir, e))?;
    }
    fs::rename(&tmp, dir).map_err(|e| TatError::io(dir, e))?;
    remove_dir_if_exists(&old)
}

/// Every file of a checkpoint, into the folder `tmp` (made afresh).
fn write_folder(tmp: &Path, parts: &SaveParts) -> Result<()> {
    remove_dir_if_exists(tmp)?;
    fs::create_dir_all(tmp).map_err(|e| TatError::io(tmp, e))?;
    let model_path = tmp.join(MODEL_FILE);
    parts.vs.save(&model_path).map_err(|e| TatError::io(&model_path, std::io::Error::other(e.to_string())))?;
    let optimizer_path = tmp.join(OPTIMIZER_FILE);
    tch::Tensor::write_safetensors(&parts.optimizer, &optimizer_path)
        .map_err(|e| TatError::io(&optimizer_path, std::io::Error::other(e.to_string())))?;
    write(&tmp.join(STATE_FILE), &serde_json::to_string_pretty(parts.state).expect("state serialises"))?;
    if let Some(tokenizer) = parts.tokenizer {
        tokenizer.save(&tmp.join(TOKENIZER_FILE))?;
    }
    write(&tmp.join(CONFIG_FILE), &parts.config.to_toml_string())?;
    write_checksums(tmp)
}

/// Writes `checksums.json` for the checkpoint files `dir` holds ([`verify`] checks them).
pub fn write_checksums(dir: &Path) -> Result<()> {
    let mut sums = std::collections::BTreeMap::new();
    for name in [MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, TOKENIZER_FILE, CONFIG_FILE] {
        let path = dir.join(name);
        if path.exists() {
            sums.insert(name.to_string(), checksum(&path)?);
        }
    }
    let sums = Checksums { files: sums };
    write(&dir.join(CHECKSUMS_FILE), &serde_json::to_string_pretty(&sums).expect("checksums serialise"))
}

/// `checksums.json`: per file of the checkpoint, its length and CRC-32.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Checksums {
    files: std::collections::BTreeMap<String, FileSum>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSum {
    bytes: u64,
    crc32: String,
}

fn checksum(path: &Path) -> Result<FileSum> {
    use std::io::Read;
    let mut file = fs::File::open(path).map_err(|e| TatError::io(path, e))?;
    let mut crc = flate2::Crc::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(|e| TatError::io(path, e))?;
        if n == 0 {
            break;
        }
        crc.update(&buffer[..n]);
        bytes += n as u64;
    }
    Ok(FileSum { bytes, crc32: format!("{:08x}", crc.sum()) })
}

/// Checks every file `checksums.json` lists against its length and CRC-32. A checkpoint written
/// before checksums existed (no `checksums.json`) passes unchecked.
pub fn verify(dir: &Path) -> Result<()> {
    let path = dir.join(CHECKSUMS_FILE);
    if !path.exists() {
        return Ok(());
    }
    let sums: Checksums = serde_json::from_str(&read_existing(&path)?).map_err(|e| corrupt(&path, &e.to_string()))?;
    for (name, want) in &sums.files {
        let file = dir.join(name);
        if !file.exists() {
            return Err(corrupt(&file, "the file is gone"));
        }
        let got = checksum(&file)?;
        if got.bytes != want.bytes {
            return Err(altered(
                &file,
                &format!("it is {} bytes long, and was written {} bytes long", got.bytes, want.bytes),
            ));
        }
        if got.crc32 != want.crc32 {
            return Err(altered(&file, &format!("its CRC-32 is {}, and was written {}", got.crc32, want.crc32)));
        }
    }
    Ok(())
}

fn altered(path: &Path, what: &str) -> TatError {
    TatError::Checkpoint(format!(
        "{}: the file changed after its checkpoint wrote it ({what}; {CHECKSUMS_FILE} holds what was written): \
         a damaged disk or an incomplete copy. Fix: copy the checkpoint again, use another checkpoint of the run \
         (best/, last/, epoch_*/) or train again.",
        path.display()
    ))
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| TatError::io(path, e))
}

fn remove_dir_if_exists(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TatError::io(dir, e)),
        _ => Ok(()),
    }
}

/// A checkpoint folder from what a user typed: a checkpoint folder itself, or a run folder
/// (then its `best`, else its `last`). A `<name>.old` left by a crash mid-rename also counts.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    if path.join(MODEL_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    if let Some(found) = [BEST, LAST].iter().find_map(|name| existing(&path.join(name))) {
        return Ok(found);
    }
    let why = if path.exists() { "holds no checkpoint" } else { "does not exist" };
    Err(TatError::Checkpoint(format!(
        "{}: {why} (expected a run folder with best/ or last/, or a checkpoint folder with {MODEL_FILE}). \
         Fix: train first (`tiny-agent-trainer train --config ...`) or point at a run folder under runs/ \
         (a run of a task driven from Python, such as runs/binding, is evaluated with `tat eval RUN_DIR`).",
        path.display()
    )))
}

/// `dir` if it holds a checkpoint, else the `<dir>.old` a crash between the two renames of
/// [`save`] can leave.
pub fn existing(dir: &Path) -> Option<PathBuf> {
    [dir.to_path_buf(), dir.with_extension("old")].into_iter().find(|d| d.join(MODEL_FILE).is_file())
}

/// Reads config, tokenizer and state of a checkpoint folder (weights are loaded by [`load_weights`]).
pub fn load(dir: &Path) -> Result<Checkpoint> {
    verify(dir)?;
    let config_path = dir.join(CONFIG_FILE);
    let text = read_existing(&config_path)?;
    let config =
        Config::from_toml_str(&crate::config::drop_foreign_model_keys(&text), &config_path.display().to_string())
            .map_err(|e| corrupt(&config_path, &e.to_string()))?;
    let tokenizer_path = dir.join(TOKENIZER_FILE);
    let tokenizer = if tokenizer_path.exists() || crate::tasks::spec(config.task.kind).text {
        Some(Tokenizer::load(&tokenizer_path)?)
    } else {
        None
    };
    let state_path = dir.join(STATE_FILE);
    let state: TrainState =
        serde_json::from_str(&read_existing(&state_path)?).map_err(|e| corrupt(&state_path, &e.to_string()))?;
    if state.format_version != FORMAT_VERSION {
        return Err(corrupt(&state_path, &format!("format_version {} is not {FORMAT_VERSION}", state.format_version)));
    }
    Ok(Checkpoint { dir: dir.to_path_buf(), config, tokenizer, state })
}

/// Loads `model.safetensors` into a var store built for the checkpoint's config. A readable file
/// that lacks some of the model's variables is named as such (a model grown since the run was
/// written: a `[model]` key added later takes its new default), not as a corrupt file.
pub fn load_weights(vs: &mut VarStore, dir: &Path) -> Result<()> {
    let path = dir.join(MODEL_FILE);
    vs.load(&path).map_err(|e| {
        let Ok(stored) = tch::Tensor::read_safetensors(&path) else { return corrupt(&path, &e.to_string()) };
        let stored: std::collections::HashMap<String, Vec<i64>> =
            stored.into_iter().map(|(name, t)| (name, t.size())).collect();
        let variables = vs.variables();
        let mut missing: Vec<&String> = variables.keys().filter(|name| !stored.contains_key(*name)).collect();
        let mut reshaped: Vec<(&String, &Vec<i64>, Vec<i64>)> = variables
            .iter()
            .filter_map(|(name, v)| stored.get(name).filter(|s| **s != v.size()).map(|s| (name, s, v.size())))
            .collect();
        reshaped.sort();
        if let Some((name, stored, wanted)) = reshaped.first().filter(|_| missing.is_empty()) {
            return TatError::Checkpoint(format!(
                "{}: `{name}` has shape {stored:?}, where the model that {} and {} describe has {wanted:?} \
                 ({} variables differ): the config or the tokenizer does not belong with these weights (its [model] \
                 sizes, such as d_model, or the tokenizer's vocabulary). Fix: put back the run's own config.toml \
                 and tokenizer.json, or train again.",
                path.display(),
                dir.join(CONFIG_FILE).display(),
                dir.join(TOKENIZER_FILE).display(),
                reshaped.len()
            ));
        }
        if missing.is_empty() {
            return corrupt(&path, &e.to_string());
        }
        missing.sort();
        TatError::Checkpoint(format!(
            "{}: the checkpoint lacks {} of the model's {} variables ({}{}): its model was built with other \
             [model] settings than {} gives (a key added since the run was written takes its new default). \
             Fix: set the [model] keys the run was trained with in that config.toml, or train again.",
            path.display(),
            missing.len(),
            variables.len(),
            missing.iter().take(3).map(|name| name.as_str()).collect::<Vec<_>>().join(", "),
            if missing.len() > 3 { ", ..." } else { "" },
            dir.join(CONFIG_FILE).display(),
        ))
    })
}

/// Copies every variable of the checkpoint in `dir` that `vs` also has into `vs` (a new run's
/// `training.init_from`); the others keep their initialisation. Returns what was done, in words.
/// A variable of another shape is an error, as is a checkpoint that shares no variable, except
/// that a variable `grown` names takes the checkpoint's rows where it has more rows and is
/// otherwise the same shape (a token embedding whose tokenizer gained words).
pub fn load_matching(vs: &mut VarStore, dir: &Path, grown: &[String]) -> Result<String> {
    let path = dir.join(MODEL_FILE);
    let stored: std::collections::HashMap<String, tch::Tensor> =
        tch::Tensor::read_safetensors(&path).map_err(|e| corrupt(&path, &e.to_string()))?.into_iter().collect();
    let variables = vs.variables();
    let mut names: Vec<&String> = variables.keys().collect();
    names.sort();
    let mut loaded = 0;
    let mut rows = Vec::new();
    for name in &names {
        let Some(source) = stored.get(*name) else { continue };
        let target = &variables[*name];
        let (have, want) = (source.size(), target.size());
        let grows = grown.contains(*name) && have.len() == want.len() && have[1..] == want[1..] && have[0] < want[0];
        if grows {
            tch::no_grad(|| target.narrow(0, 0, have[0]).copy_(source));
            rows.push(format!("{name}: the checkpoint's {} rows of {}", have[0], want[0]));
            loaded += 1;
            continue;
        }
        if source.size() != target.size() {
            return Err(TatError::Usage(format!(
                "training.init_from: `{name}` in {} has shape {:?}, this model's has {:?}. Fix: start from a run \
                 with the same [model] sizes, or drop training.init_from.",
                path.display(),
                source.size(),
                target.size()
            )));
        }
        tch::no_grad(|| target.shallow_clone().copy_(source));
        loaded += 1;
    }
    if loaded == 0 {
        return Err(TatError::Usage(format!(
            "training.init_from: {} shares no variable with this model. Fix: point it at a run of the same architecture.",
            path.display()
        )));
    }
    let unused = stored.len() - loaded;
    let grew = if rows.is_empty() { String::new() } else { format!("; {}", rows.join(", ")) };
    Ok(format!(
        "{}: {loaded} of this model's {} tensors loaded ({} kept their initialisation, {unused} of the checkpoint's unused{grew})",
        dir.display(),
        names.len(),
        names.len() - loaded
    ))
}

/// The variables of `vs` that `patterns` name (a name, or a prefix ending at a `.`), set not to
/// take gradients; returns each with its number of parameters. A pattern that names nothing is
/// an error listing the top-level names.
pub fn freeze(vs: &VarStore, patterns: &[String]) -> Result<Vec<(String, i64)>> {
    let variables = vs.variables();
    let mut frozen: Vec<(String, i64)> = Vec::new();
    for pattern in patterns {
        let mut matched: Vec<&String> = variables.keys().filter(|name| freezes(pattern, name)).collect();
        if matched.is_empty() {
            let mut tops: Vec<&str> = variables.keys().map(|n| n.split('.').next().unwrap_or(n)).collect();
            tops.sort();
            tops.dedup();
            return Err(TatError::Usage(format!(
                "training.freeze: `{pattern}` names no variable of this model. Fix: use a variable name or a prefix of \
                 one, e.g. one of {}.",
                tops.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        matched.sort();
        for name in matched {
            if !frozen.iter().any(|(f, _)| f == name) {
                let var = &variables[name];
                let _ = var.set_requires_grad(false);
                frozen.push((name.clone(), var.numel() as i64));
            }
        }
    }
    Ok(frozen)
}

/// Whether the `training.freeze` entry `pattern` covers the variable `name`: its dot-separated
/// parts match the name's first parts, `*` matching any one part (`blocks.*.up` covers
/// `blocks.3.up.weight`).
fn freezes(pattern: &str, name: &str) -> bool {
    let mut parts = name.split('.');
    pattern.split('.').all(|p| parts.next().is_some_and(|n| p == "*" || p == n))
}

fn read_existing(path: &Path) -> Result<String> {
    read_text(path, TatError::Checkpoint).map_err(|e| corrupt(path, &e.to_string()))
}

fn corrupt(path: &Path, what: &str) -> TatError {
    TatError::Checkpoint(format!(
        "{}: checkpoint file is missing or corrupt ({}). Fix: use another checkpoint of the run (best/, last/, epoch_*/) or train again.",
        path.display(),
        what.lines().next().unwrap_or(what)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::Init;
    use tch::Device;

    fn saved(dir: &Path) -> PathBuf {
        let vs = VarStore::new(Device::Cpu);
        let _ = vs.root().var("w", &[64], Init::Const(0.5));
        let config = Config::from_toml_str(
            "[task]\nname = \"t\"\n[model]\nd_model = 32\nnhead = 4\n[dataset]\npath = \"data.toml\"\n",
            "cfg.toml",
        )
        .unwrap();
        let state = TrainState::new(0);
        let tokenizer = Tokenizer::build_words(["a b c"], 1);
        let at = dir.join(LAST);
        let parts =
            SaveParts { vs: &vs, optimizer: vec![], state: &state, tokenizer: Some(&tokenizer), config: &config };
        save(&at, &parts).unwrap();
        at
    }

    #[test]
    fn a_checkpoint_carries_checksums_and_an_altered_byte_stops_its_load_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let at = saved(dir.path());
        assert!(at.join(CHECKSUMS_FILE).is_file());
        load(&at).unwrap();
        // One byte of the weights flipped in place, length unchanged.
        let model = at.join(MODEL_FILE);
        let mut bytes = fs::read(&model).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        fs::write(&model, &bytes).unwrap();
        let err = load(&at).err().expect("an altered byte is found");
        assert_eq!(err.exit_code(), crate::error::exit_code::CHECKPOINT);
        let message = err.to_string();
        assert!(message.contains(MODEL_FILE) && message.contains("CRC-32"), "{message}");
        assert!(message.contains("Fix:"), "{message}");
        // Cut short: the length says so.
        bytes.truncate(last);
        fs::write(&model, &bytes).unwrap();
        let message = load(&at).err().unwrap().to_string();
        assert!(message.contains("bytes long"), "{message}");
        // The state file too.
        let at = saved(&dir.path().join("again"));
        let state = at.join(STATE_FILE);
        let text = fs::read_to_string(&state).unwrap().replace("\"epoch\": 0", "\"epoch\": 9");
        fs::write(&state, text).unwrap();
        let message = load(&at).err().unwrap().to_string();
        assert!(message.contains(STATE_FILE), "{message}");
        // A checkpoint from before checksums (no checksums.json) loads unchecked.
        let at = saved(&dir.path().join("old"));
        fs::remove_file(at.join(CHECKSUMS_FILE)).unwrap();
        load(&at).unwrap();
    }

    #[test]
    fn weights_of_a_smaller_model_name_the_missing_variables_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let old = VarStore::new(Device::Cpu);
        let _ = old.root().var("a", &[2], Init::Const(1.0));
        old.save(dir.path().join(MODEL_FILE)).unwrap();
        let mut grown = VarStore::new(Device::Cpu);
        let _ = grown.root().var("a", &[2], Init::Const(0.0));
        let _ = grown.root().var("film", &[2], Init::Const(0.0));
        let message = load_weights(&mut grown, dir.path()).unwrap_err().to_string();
        assert!(message.contains("lacks 1 of the model's 2 variables (film)"), "{message}");
        assert!(message.contains("Fix: set the [model] keys"), "{message}");
        // The same model loads.
        let mut same = VarStore::new(Device::Cpu);
        let _ = same.root().var("a", &[2], Init::Const(0.0));
        load_weights(&mut same, dir.path()).unwrap();
    }

    #[test]
    fn freeze_patterns_match_whole_parts_and_a_star_matches_any_one_part() {
        assert!(freezes("embedding", "embedding"));
        assert!(freezes("embedding", "embedding.weight"));
        assert!(!freezes("embed", "embedding.weight"));
        assert!(freezes("blocks.*.up", "blocks.3.up.weight"));
        assert!(freezes("blocks.*.up", "blocks.12.up"));
        assert!(!freezes("blocks.*.up", "blocks.3.q.weight"));
        assert!(!freezes("blocks.*.up", "blocks.3"));
        assert!(freezes("*", "anything.at.all"));
    }
}
