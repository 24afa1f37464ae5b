//! Experiments: one TOML file that trains and scores a list of runs into one folder, and the
//! table of their results.
//!
//! An experiment file has an `[experiment]` section and one `[[run]]` per entry:
//!
//! ```toml
//! [experiment]
//! name = "feedback"                  # runs go to runs/feedback/<run name>
//! set = ["model.d_model=128"]        # applied to every run's config first
//!
//! [[run]]
//! name = "ff_wikitext"
//! config = "diffusion_wikitext.toml" # relative to this file
//!
//! [[run]]
//! name = "to_gsm8k/frozen"
//! evaluate = "ff_wikitext"           # no training: that run's weights scored on this config's data
//! config = "diffusion_gsm8k.toml"
//!
//! [[run]]
//! name = "to_gsm8k/{model.variant}_r{model.rank}"
//! config = "feedback_wikitext_to_gsm8k.toml"
//! init_from = "ff_wikitext"          # an earlier run of this experiment
//! baseline = "to_gsm8k/frozen"       # the table shows the change of loss against it
//! grid = { "model.variant" = ["standard", "recurrent"], "model.rank" = [1, 4] }
//! ```
//!
//! Every config is read and checked before the first run starts. The folder's `experiment.json`
//! records each run as it finishes (status, numbers, compute time, device and precision); with
//! `resume`, finished runs are skipped and an interrupted one continues from its `last`. A run
//! that diverges is recorded as such and the experiment goes on.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::checkpoint;
use crate::config::Config;
use crate::error::{read_text, Result, TatError};
use crate::train::metrics::{read_jsonl, JSONL_FILE};
use crate::train::{train, TrainObserver, TrainOptions};

/// The record of an experiment's runs, in its folder.
pub const RECORD_FILE: &str = "experiment.json";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentFile {
    experiment: Section,
    #[serde(default, rename = "run")]
    runs: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    name: String,
    #[serde(default)]
    description: String,
    /// Default `runs/<name>`.
    #[serde(default)]
    output_dir: Option<PathBuf>,
    /// `section.key=value` overrides applied to every run's config before its own.
    #[serde(default)]
    set: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// The run's name (its folder inside the experiment's); `{section.key}` is replaced by that
    /// grid value.
    name: String,
    /// The config file, relative to the experiment file.
    config: PathBuf,
    #[serde(default)]
    set: Vec<String>,
    /// One run per combination of these values (the first key varies slowest).
    #[serde(default)]
    grid: toml::Table,
    /// One run per seed (named `<name>/seed_<n>`), summarised as mean and spread.
    #[serde(default)]
    seeds: Vec<u64>,
    /// An earlier run of this experiment whose weights this run starts from.
    #[serde(default)]
    init_from: Option<String>,
    /// Instead of training: the weights of this earlier run, scored on the config's data.
    #[serde(default)]
    evaluate: Option<String>,
    /// The run this one's loss is compared with in the table.
    #[serde(default)]
    baseline: Option<String>,
}

/// What an experiment will do, every config read and checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    pub dir: PathBuf,
    pub runs: Vec<PlannedRun>,
}

#[derive(Debug, Clone)]
pub struct PlannedRun {
    /// Its folder inside the experiment's, e.g. `to_gsm8k/standard_r4`.
    pub name: String,
    /// The entry's name with its grid filled in: runs that differ only by seed share it.
    pub group: String,
    pub action: Action,
    /// The run's config, its output folder and `init_from` set.
    pub config: Config,
    pub baseline: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Train,
    /// Score the weights in this folder on the config's data.
    Evaluate(PathBuf),
}

/// Whether `path` is an experiment file (a TOML file with an `[experiment]` section) rather
/// than a run config. A file that does not parse is not one: reading it as a config reports why.
pub fn is_experiment(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    text.parse::<toml::Table>().is_ok_and(|t| t.get("experiment").is_some_and(toml::Value::is_table))
}

/// What `list` prints for the folder `dir`: each config and each experiment file with a one-line
/// summary, sorted by path. Other TOML files there (datasets) are skipped.
pub fn listing(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out: Vec<(PathBuf, String)> =
        crate::config::list_configs(dir)?.into_iter().map(|(path, config)| (path, config.summary())).collect();
    let files = std::fs::read_dir(dir).map_err(|e| TatError::io(dir, e))?;
    for path in files.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.extension().is_some_and(|x| x == "toml") && is_experiment(&path) {
            if let Ok(plan) = Plan::from_file(&path, &CommandOverrides::default()) {
                out.push((path, format!("{:<20} experiment, {} runs", plan.name, plan.runs.len())));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Overrides the command line applies to every run of an experiment.
#[derive(Debug, Clone, Default)]
pub struct CommandOverrides {
    pub set: Vec<String>,
    pub epochs: Option<usize>,
    pub device: Option<crate::config::DeviceChoice>,
    pub seed: Option<u64>,
    /// The experiment's folder instead of `[experiment] output_dir`.
    pub out: Option<PathBuf>,
}

impl Plan {
    /// Reads the experiment file and every config it names, with the overrides applied.
    pub fn from_file(path: &Path, overrides: &CommandOverrides) -> Result<Plan> {
        let text = read_text(path, TatError::Config)?;
        let file = path.display().to_string();
        let parsed: ExperimentFile = crate::config::deserialize_toml(&text, &file)?;
        let section = parsed.experiment;
        let folder = path.parent().unwrap_or(Path::new("."));
        let dir = overrides
            .out
            .clone()
            .or(section.output_dir.clone())
            .unwrap_or_else(|| PathBuf::from("runs").join(&section.name));
        let mut runs: Vec<PlannedRun> = Vec::new();
        if parsed.runs.is_empty() {
            return Err(TatError::Config(format!(
                "{file}: the experiment lists no runs. Fix: add a [[run]] with a name and a config."
            )));
        }
        for entry in &parsed.runs {
            let at = |what: String| {
                TatError::Config(format!("{}: run `{}`: {what}", place(&text, &file, &entry.name), entry.name))
            };
            let config_path = folder.join(&entry.config);
            let base = Config::from_file(&config_path).map_err(|e| at(e.to_string()))?;
            for combination in grid(&entry.grid).map_err(&at)? {
                let group = fill(&entry.name, &combination).map_err(&at)?;
                let seeds: Vec<Option<u64>> = if entry.seeds.len() > 1 {
                    entry.seeds.iter().map(|&s| Some(s)).collect()
                } else {
                    vec![entry.seeds.first().copied()]
                };
                for seed in seeds {
                    let name = match (seed, entry.seeds.len() > 1) {
                        (Some(s), true) => format!("{group}/seed_{s}"),
                        _ => group.clone(),
                    };
                    check_name(&name).map_err(&at)?;
                    if runs.iter().any(|r| r.name == name) {
                        return Err(at(format!("a second run named `{name}`. Fix: give every run its own name.")));
                    }
                    let mut sets: Vec<String> = section.set.clone();
                    sets.extend(entry.set.iter().cloned());
                    sets.extend(combination.iter().map(|(k, v)| format!("{k}={v}")));
                    sets.extend(seed.map(|s| format!("training.seed={s}")));
                    sets.extend(overrides.set.iter().cloned());
                    let mut config = base.with_overrides(&sets).map_err(|e| at(e.to_string()))?;
                    let t = &mut config.training;
                    t.epochs = overrides.epochs.unwrap_or(t.epochs);
                    t.device = overrides.device.unwrap_or(t.device);
                    t.seed = overrides.seed.unwrap_or(t.seed);
                    t.output_dir = Some(dir.join(&name));
                    let earlier = |field: &str, of: &str| -> Result<PathBuf> {
                        match runs.iter().find(|r| r.name == of) {
                            Some(r) if r.action == Action::Train => Ok(dir.join(&r.name)),
                            Some(_) => Err(at(format!(
                                "{field} = \"{of}\" names a run that only evaluates. Fix: name a run that trains."
                            ))),
                            None => Err(at(format!(
                                "{field} = \"{of}\" names no earlier run. Fix: name a run listed above this one ({}).",
                                list(runs.iter().map(|r| r.name.as_str()))
                            ))),
                        }
                    };
                    let action = match &entry.evaluate {
                        Some(of) => {
                            if entry.init_from.is_some() {
                                return Err(at("has both `evaluate` and `init_from`. Fix: keep one.".into()));
                            }
                            Action::Evaluate(earlier("evaluate", of)?)
                        }
                        None => Action::Train,
                    };
                    if let Some(of) = &entry.init_from {
                        config.training.init_from = Some(earlier("init_from", of)?);
                    }
                    runs.push(PlannedRun {
                        name,
                        group: group.clone(),
                        action,
                        config,
                        baseline: entry.baseline.clone(),
                    });
                }
            }
        }
        for run in &runs {
            if let Some(b) = &run.baseline {
                if !runs.iter().any(|r| &r.name == b || &r.group == b) {
                    return Err(TatError::Config(format!(
                        "{}: run `{}`: baseline = \"{b}\" names no run of the experiment. Fix: name one of {}.",
                        file,
                        run.name,
                        list(runs.iter().map(|r| r.name.as_str()))
                    )));
                }
            }
        }
        Ok(Plan { name: section.name, description: section.description, file: path.to_path_buf(), dir, runs })
    }
}

/// `file:line` of the run whose name is `name`, for errors.
fn place(text: &str, file: &str, name: &str) -> String {
    let needle = format!("\"{name}\"");
    match text.lines().position(|l| l.trim_start().starts_with("name") && l.contains(&needle)) {
        Some(i) => format!("{file}:{}", i + 1),
        None => file.to_string(),
    }
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none yet".into()
    } else {
        names.join(", ")
    }
}

/// Every combination of the grid's values, as `(key, TOML value)` pairs in the grid's key order.
fn grid(table: &toml::Table) -> std::result::Result<Vec<Vec<(String, toml::Value)>>, String> {
    let mut out: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (key, values) in table {
        let values = match values {
            toml::Value::Array(a) if !a.is_empty() => a,
            _ => {
                return Err(format!(
                    "grid.\"{key}\" is not a list of values. Fix: write e.g. grid = {{ \"{key}\" = [1, 4] }}."
                ))
            }
        };
        out = out
            .into_iter()
            .flat_map(|done| {
                values.iter().map(move |v| {
                    let mut next = done.clone();
                    next.push((key.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    Ok(out)
}

/// `template` with each `{key}` replaced by that grid value.
fn fill(template: &str, combination: &[(String, toml::Value)]) -> std::result::Result<String, String> {
    let mut name = template.to_string();
    for (key, value) in combination {
        let shown = match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        name = name.replace(&format!("{{{key}}}"), &shown);
    }
    if !combination.is_empty() {
        let distinct = combination.iter().all(|(k, _)| template.contains(&format!("{{{k}}}")));
        if !distinct {
            return Err(format!(
                "the name does not show every grid key, so runs would share a folder. Fix: put {} into the name.",
                combination.iter().map(|(k, _)| format!("{{{k}}}")).collect::<Vec<_>>().join(" and ")
            ));
        }
    }
    if let Some(open) = name.find('{') {
        return Err(format!(
            "the name has `{}`, which is no grid key. Fix: use only grid keys in braces.",
            &name[open..=name[open..].find('}').map_or(open, |c| open + c)]
        ));
    }
    Ok(name)
}

fn check_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a usable folder name. Fix: use letters, digits, `_`, `-`, `.` and `/` between parts."
        ))
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Done,
    /// A non-finite loss or gradient stopped it; `last` holds its last sound state.
    Diverged,
    /// Ctrl-C stopped it; `resume` continues it.
    Interrupted,
}

/// One run in `experiment.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub name: String,
    pub group: String,
    /// `train` or `evaluate`.
    pub action: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Wall-clock seconds spent on the run (training, validation, loading), over every resume.
    pub seconds: f64,
    pub device: String,
    /// libtorch's CPU capability (`AVX2`, `AVX512`, ...), empty on a GPU.
    pub cpu_capability: String,
    pub precision: String,
    /// Optimizer steps taken (0 for an evaluation).
    pub steps: usize,
    pub epochs: usize,
    /// The last validation: `val_loss` and the task's further numbers.
    pub numbers: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

/// `experiment.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub description: String,
    /// The experiment file it was run from.
    pub file: String,
    pub runs: Vec<RunRecord>,
}

impl Record {
    /// The record in the experiment folder `dir`.
    pub fn load(dir: &Path) -> Result<Record> {
        let path = dir.join(RECORD_FILE);
        let text = read_text(&path, TatError::Checkpoint)?;
        serde_json::from_str(&text).map_err(|e| {
            TatError::Checkpoint(format!(
                "{}: not an experiment record ({e}). Fix: pass the folder `train` wrote for an experiment file.",
                path.display()
            ))
        })
    }

    fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| TatError::io(dir, e))?;
        let path = dir.join(RECORD_FILE);
        let tmp = dir.join(format!("{RECORD_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self).expect("records serialise");
        std::fs::write(&tmp, text + "\n").map_err(|e| TatError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| TatError::io(&path, e))
    }

    fn put(&mut self, run: RunRecord) {
        match self.runs.iter_mut().find(|r| r.name == run.name) {
            Some(old) => *old = run,
            None => self.runs.push(run),
        }
    }

    fn get(&self, name: &str) -> Option<&RunRecord> {
        self.runs.iter().find(|r| r.name == name)
    }

    /// The results as a text table: per group (runs differing only by seed), the last
    /// validation's real-token loss (mean ± standard deviation over seeds), the padded loss, the
    /// change against the baseline, the largest ||ΔW||/||W||, skipped steps, status and time.
    pub fn table(&self) -> String {
        let mut groups: Vec<(&str, Vec<&RunRecord>)> = Vec::new();
        for run in &self.runs {
            match groups.iter_mut().find(|(g, _)| *g == run.group) {
                Some((_, members)) => members.push(run),
                None => groups.push((&run.group, vec![run])),
            }
        }
        let loss_of = |group: &str| -> Option<f64> {
            let (_, members) = groups.iter().find(|(g, _)| *g == group)?;
            mean(members.iter().filter_map(|r| r.numbers.get("val_loss").copied())).map(|(m, _)| m)
        };
        let width = groups.iter().map(|(g, _)| g.len()).max().unwrap_or(3).max(3);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<width$}  {:>6}  {:>15}  {:>7}  {:>8}  {:>8}  {:>7}  {:<12}  {:>9}  machine",
            "run", "steps", "val loss", "padded", "vs base", "ΔW/W", "skipped", "status", "time"
        );
        for (group, members) in &groups {
            let first = members[0];
            let (loss, spread) = mean(members.iter().filter_map(|r| r.numbers.get("val_loss").copied())).unzip();
            let loss_text = match (loss, spread, members.len()) {
                (Some(m), Some(s), n) if n > 1 => format!("{m:.4} ± {s:.4}"),
                (Some(m), _, _) => format!("{m:.4}"),
                _ => "-".into(),
            };
            let padded = mean(members.iter().filter_map(|r| r.numbers.get("val_loss_padded").copied())).map(|(m, _)| m);
            let versus = match (loss, first.baseline.as_deref().and_then(loss_of)) {
                (Some(l), Some(b)) if b != 0.0 => format!("{:+.1}%", 100.0 * (l - b) / b),
                _ => "".into(),
            };
            let delta = members
                .iter()
                .flat_map(|r| r.numbers.iter().filter(|(k, _)| k.starts_with("delta_ratio_")).map(|(_, v)| *v))
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
            let skipped: f64 = members.iter().filter_map(|r| r.numbers.get("skipped_steps")).sum();
            let status = if members.iter().all(|r| r.status == first.status) {
                first.status.name().to_string()
            } else {
                members.iter().map(|r| r.status.name()).collect::<Vec<_>>().join("/")
            };
            let seconds: f64 = members.iter().map(|r| r.seconds).sum();
            let steps = members.iter().map(|r| r.steps).max().unwrap_or(0);
            let machine = format!("{} {} {}", first.device, first.cpu_capability, first.precision);
            let _ = writeln!(
                out,
                "{:<width$}  {:>6}  {:>15}  {:>7}  {:>8}  {:>8}  {:>7}  {:<12}  {:>9}  {}",
                group,
                steps,
                loss_text,
                padded.map_or("-".into(), |p| format!("{p:.4}")),
                versus,
                delta.map_or("".into(), |d| format!("{d:.4}")),
                if skipped > 0.0 { format!("{skipped}") } else { "".into() },
                status,
                minutes(seconds),
                machine.trim(),
            );
        }
        let total: f64 = self.runs.iter().map(|r| r.seconds).sum();
        let _ = writeln!(out, "\n{} runs, {} of compute", self.runs.len(), minutes(total));
        for run in self.runs.iter().filter(|r| r.status != Status::Done) {
            if let Some(m) = &run.message {
                let _ = writeln!(out, "{}: {m}", run.name);
            }
        }
        out
    }
}

impl Status {
    /// The name `experiment.json` and the table use.
    pub fn name(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Diverged => "diverged",
            Status::Interrupted => "interrupted",
        }
    }
}

fn minutes(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.1} min", seconds / 60.0)
    }
}

/// Mean and (sample) standard deviation; `None` for no values.
fn mean(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let v: Vec<f64> = values.collect();
    if v.is_empty() {
        return None;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64 } else { 0.0 };
    Some((m, var.sqrt()))
}

/// What the experiment tells its front besides the training progress of each run.
pub trait ExperimentObserver: TrainObserver {
    fn on_run(&mut self, _event: &RunEvent) {}
}

#[derive(Debug, Clone)]
pub struct RunEvent {
    /// 1-based position and count.
    pub index: usize,
    pub total: usize,
    pub name: String,
    pub what: RunStage,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunStage {
    /// Finished in an earlier invocation (`resume`): not run again.
    Skipped(Status),
    Training,
    /// Continuing from its `last` checkpoint.
    Resuming,
    Evaluating,
    Finished(Status, f64),
}

/// Runs the experiment `plan` describes; returns its record (also in `<dir>/experiment.json`).
/// Without `resume` the folder must not hold an experiment yet.
pub fn run(plan: &Plan, resume: bool, observer: &mut dyn ExperimentObserver) -> Result<Record> {
    let record_path = plan.dir.join(RECORD_FILE);
    let mut record = if record_path.exists() {
        if !resume {
            return Err(TatError::Usage(format!(
                "{} already holds an experiment. Fix: add --resume to continue it (finished runs are skipped), \
                 pass --out DIR for a new one, or delete the folder.",
                plan.dir.display()
            )));
        }
        Record::load(&plan.dir)?
    } else {
        Record::default()
    };
    record.name = plan.name.clone();
    record.description = plan.description.clone();
    record.file = plan.file.display().to_string();
    record.save(&plan.dir)?;
    let total = plan.runs.len();
    for (i, run) in plan.runs.iter().enumerate() {
        let event = |what| RunEvent { index: i + 1, total, name: run.name.clone(), what };
        let earlier = record.get(&run.name).cloned();
        if let Some(done) = earlier.as_ref().filter(|r| r.status != Status::Interrupted) {
            observer.on_run(&event(RunStage::Skipped(done.status)));
            continue;
        }
        let run_dir = plan.dir.join(&run.name);
        let continuing = run.action == Action::Train && run_dir.join(checkpoint::LAST).exists();
        if continuing && !resume {
            // The record says nothing of this folder: never train over it.
            return Err(TatError::Usage(format!(
                "{} already holds a trained run. Fix: add --resume, or delete the folder.",
                run_dir.display()
            )));
        }
        observer.on_run(&event(match (&run.action, continuing) {
            (Action::Evaluate(_), _) => RunStage::Evaluating,
            (Action::Train, true) => RunStage::Resuming,
            (Action::Train, false) => RunStage::Training,
        }));
        let started = Instant::now();
        let outcome = match &run.action {
            Action::Train => train(&run.config, &TrainOptions { resume: continuing }, &mut *observer).map(|_| ()),
            Action::Evaluate(weights) => evaluate(run, weights, &run_dir),
        };
        let seconds = earlier.map_or(0.0, |r| r.seconds) + started.elapsed().as_secs_f64();
        let (status, message, fatal) = match outcome {
            Ok(()) => (Status::Done, None, None),
            Err(TatError::Diverged(m)) => (Status::Diverged, Some(m), None),
            Err(TatError::Interrupted(m)) => (Status::Interrupted, Some(m.clone()), Some(TatError::Interrupted(m))),
            Err(other) => {
                record.save(&plan.dir)?;
                return Err(other);
            }
        };
        let entry = describe(run, &run_dir, status, message, seconds)?;
        record.put(entry);
        record.save(&plan.dir)?;
        if let Some(error) = fatal {
            return Err(error);
        }
        observer.on_run(&event(RunStage::Finished(status, seconds)));
    }
    Ok(record)
}

/// Scores the weights of `weights` on the data of `run.config`, writing the numbers as the run's
/// one-epoch `metrics.jsonl` so that the run folder reads like any other.
fn evaluate(run: &PlannedRun, weights: &Path, run_dir: &Path) -> Result<()> {
    let checkpoint_dir = checkpoint::resolve(weights)?;
    let ckpt = checkpoint::load(&checkpoint_dir)?;
    let mut config = ckpt.config.clone();
    config.dataset = run.config.dataset.clone();
    config.dataset.path = run.config.dataset.path.as_ref().map(|_| run.config.dataset_path());
    config.training.device = run.config.training.device;
    let numbers = crate::tasks::validation_numbers(&checkpoint_dir, &config)?;
    std::fs::create_dir_all(run_dir).map_err(|e| TatError::io(run_dir, e))?;
    let mut line = serde_json::Map::new();
    line.insert("weights".into(), serde_json::json!(checkpoint_dir.display().to_string()));
    for (k, v) in &numbers {
        line.insert(k.clone(), serde_json::json!(v));
    }
    let path = run_dir.join("evaluation.json");
    std::fs::write(&path, serde_json::to_string_pretty(&line).expect("numbers serialise") + "\n")
        .map_err(|e| TatError::io(&path, e))
}

/// The record of a run that just ended, from what it left in its folder.
fn describe(
    run: &PlannedRun,
    run_dir: &Path,
    status: Status,
    message: Option<String>,
    seconds: f64,
) -> Result<RunRecord> {
    let device = crate::device::resolve(run.config.training.device)?;
    let facts = crate::precision::facts(device);
    let (mut steps, mut epochs, mut numbers, mut precision) = (0, 0, BTreeMap::new(), String::new());
    match &run.action {
        Action::Train => {
            if let Some(last) = read_jsonl(&run_dir.join(JSONL_FILE))?.pop() {
                steps = last.step;
                epochs = last.epoch;
                numbers = last.extra.clone();
                numbers.insert("val_loss".into(), last.val_loss);
                numbers.insert("train_loss".into(), last.train_loss);
                precision = last.precision.clone();
            }
            if let Some(ckpt) = checkpoint::existing(&run_dir.join(checkpoint::LAST)) {
                let state = checkpoint::load(&ckpt)?.state;
                steps = state.step;
                precision = state.precision.unwrap_or(precision);
            }
        }
        Action::Evaluate(_) => {
            let path = run_dir.join("evaluation.json");
            if let Ok(text) = std::fs::read_to_string(&path) {
                let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
                numbers = map.into_iter().filter_map(|(k, v)| v.as_f64().map(|v| (k, v))).collect();
            }
            precision = crate::precision::resolve(run.config.training.precision, device).compute.name().to_string();
        }
    }
    Ok(RunRecord {
        name: run.name.clone(),
        group: run.group.clone(),
        action: match run.action {
            Action::Train => "train".into(),
            Action::Evaluate(_) => "evaluate".into(),
        },
        status,
        message,
        seconds,
        device: crate::device::name(device),
        cpu_capability: facts.cpu_capability,
        precision,
        steps,
        epochs,
        numbers,
        baseline: run.baseline.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn a_grid_is_every_combination_with_the_first_key_slowest() {
        let g = grid(&table("a = [1, 2]\nb = [\"x\", \"y\", \"z\"]")).unwrap();
        assert_eq!(g.len(), 6);
        let names: Vec<String> = g.iter().map(|c| fill("r_{a}_{b}", c).unwrap()).collect();
        assert_eq!(names, ["r_1_x", "r_1_y", "r_1_z", "r_2_x", "r_2_y", "r_2_z"]);
        assert_eq!(g[0][1].1.to_string(), "\"x\"");
        assert_eq!(grid(&toml::Table::new()).unwrap(), vec![Vec::new()]);
        assert!(grid(&table("a = 3")).unwrap_err().contains("grid.\"a\""));
    }

    #[test]
    fn a_name_must_show_every_grid_key_and_no_other() {
        let g = grid(&table("\"model.rank\" = [1, 4]")).unwrap();
        assert_eq!(fill("fb_r{model.rank}", &g[1]).unwrap(), "fb_r4");
        assert!(fill("fb", &g[0]).unwrap_err().contains("{model.rank}"));
        assert!(fill("fb_{model.rank}_{seed}", &g[0]).unwrap_err().contains("`{seed}`"));
        assert!(check_name("to_gsm8k/standard_r4").is_ok());
        for bad in ["", "a//b", "../x", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_table_compares_with_the_baseline_and_summarises_seeds() {
        let run = |name: &str, group: &str, loss: f64, baseline: Option<&str>| RunRecord {
            name: name.into(),
            group: group.into(),
            action: "train".into(),
            status: Status::Done,
            message: None,
            seconds: 90.0,
            device: "cpu".into(),
            cpu_capability: "AVX2".into(),
            precision: "fp32".into(),
            steps: 10,
            epochs: 1,
            numbers: [("val_loss".to_string(), loss)].into(),
            baseline: baseline.map(str::to_string),
        };
        let record = Record {
            runs: vec![
                run("frozen", "frozen", 8.0, None),
                run("fb/seed_0", "fb", 6.0, Some("frozen")),
                run("fb/seed_1", "fb", 5.0, Some("frozen")),
            ],
            ..Record::default()
        };
        let t = record.table();
        let fb = t.lines().find(|l| l.starts_with("fb ")).unwrap();
        assert!(fb.contains("5.5000 ± 0.7071") && fb.contains("-31.2%") && fb.contains("3.0 min"), "{t}");
        assert!(t.contains("3 runs, 4.5 min of compute"), "{t}");
    }
}
