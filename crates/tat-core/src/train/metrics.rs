//! Per-epoch metrics and the run folder's `metrics.jsonl` / `metrics.csv`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TatError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub step: usize,
    pub train_loss: f64,
    pub val_loss: f64,
    pub lr: f64,
    pub seconds: f64,
    pub examples_per_sec: f64,
    pub tokens_per_sec: f64,
    pub best: bool,
    /// What the epoch's matrix products ran in (`fp32` or `bf16`); empty in logs from before it
    /// was recorded.
    #[serde(default)]
    pub precision: String,
    /// Validation accuracy, for tasks that classify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_accuracy: Option<f64>,
    /// The task's further validation numbers by name (not in `metrics.csv`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub extra: std::collections::BTreeMap<String, f64>,
}

/// The run folder's per-epoch log, one JSON object per line; fronts read it with [`read_jsonl`].
pub const JSONL_FILE: &str = "metrics.jsonl";

const CSV_HEADER: &str =
    "epoch,step,train_loss,val_loss,lr,seconds,examples_per_sec,tokens_per_sec,best,precision,val_accuracy";

pub struct MetricsLog {
    jsonl: PathBuf,
    csv: PathBuf,
}

impl MetricsLog {
    /// Opens the logs of `run_dir`, keeping only epochs `<= keep_through` (a resumed run rewrites
    /// the epochs after its checkpoint).
    /// Both files are rewritten whole and renamed into place, so a run killed meanwhile leaves
    /// either the old or the new ones; a line cut short by a kill mid-append is dropped.
    pub fn open(run_dir: &Path, keep_through: usize) -> Result<Self> {
        let log = Self { jsonl: run_dir.join(JSONL_FILE), csv: run_dir.join("metrics.csv") };
        let text = match fs::read_to_string(&log.jsonl) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(TatError::io(&log.jsonl, e)),
        };
        let whole = match text.rfind('\n') {
            Some(end) => &text[..=end],
            None => "",
        };
        let kept: Vec<EpochMetrics> =
            parse_jsonl(whole, &log.jsonl)?.into_iter().filter(|m| m.epoch <= keep_through).collect();
        let mut jsonl = String::new();
        let mut csv = format!("{CSV_HEADER}\n");
        for m in &kept {
            jsonl.push_str(&json_line(m));
            csv.push_str(&csv_line(m));
        }
        write_atomic(&log.jsonl, &jsonl)?;
        write_atomic(&log.csv, &csv)?;
        Ok(log)
    }

    pub fn read(&self) -> Result<Vec<EpochMetrics>> {
        read_jsonl(&self.jsonl)
    }

    pub fn append(&self, m: &EpochMetrics) -> Result<()> {
        append(&self.jsonl, &json_line(m))?;
        append(&self.csv, &csv_line(m))
    }
}

/// The epochs recorded in a `metrics.jsonl` (empty when the file does not exist).
pub fn read_jsonl(path: &Path) -> Result<Vec<EpochMetrics>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(_) if path.parent().is_some_and(Path::is_file) => {
            return Err(TatError::Checkpoint(format!(
                "{}: a file, where a run folder belongs. Fix: pass the folder a training run wrote.",
                path.parent().map(Path::display).expect("checked")
            )))
        }
        Err(e) => return Err(TatError::io(path, e)),
    };
    parse_jsonl(&text, path)
}

fn parse_jsonl(text: &str, path: &Path) -> Result<Vec<EpochMetrics>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                TatError::Checkpoint(format!(
                    "{}:{}: unreadable metrics line ({e}). Fix: delete the line or the file.",
                    path.display(),
                    i + 1
                ))
            })
        })
        .collect()
}

fn json_line(m: &EpochMetrics) -> String {
    format!("{}\n", serde_json::to_string(m).expect("metrics serialise"))
}

fn csv_line(m: &EpochMetrics) -> String {
    format!(
        "{},{},{:.6},{:.6},{:.6e},{:.3},{:.2},{:.1},{},{},{}\n",
        m.epoch,
        m.step,
        m.train_loss,
        m.val_loss,
        m.lr,
        m.seconds,
        m.examples_per_sec,
        m.tokens_per_sec,
        m.best,
        m.precision,
        m.val_accuracy.map_or(String::new(), |a| format!("{a:.6}"))
    )
}

/// Writes `text` to `<path>.tmp` and renames it over `path`.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, text).map_err(|e| TatError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| TatError::io(path, e))
}

fn append(path: &Path, line: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new().append(true).create(true).open(path).map_err(|e| TatError::io(path, e))?;
    f.write_all(line.as_bytes()).map_err(|e| TatError::io(path, e))
}

/// The run folder's per-step log: `step,epoch,loss,lr`, one line per optimizer step (a skipped
/// step's loss is `nan`).
pub const STEPS_FILE: &str = "steps.csv";

const STEPS_HEADER: &str = "step,epoch,loss,lr";

/// Appends to `steps.csv`, buffered: [`StepLog::flush`] runs whenever a checkpoint is saved, and
/// a resumed run first drops the steps after its checkpoint.
pub struct StepLog {
    path: PathBuf,
    out: std::io::BufWriter<fs::File>,
}

impl StepLog {
    /// Opens the log of `run_dir`, keeping only steps `<= keep_through`.
    pub fn open(run_dir: &Path, keep_through: usize) -> Result<Self> {
        let path = run_dir.join(STEPS_FILE);
        let old = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(TatError::io(&path, e)),
        };
        let mut text = format!("{STEPS_HEADER}\n");
        let whole = match old.rfind('\n') {
            Some(end) => &old[..=end],
            None => "",
        };
        for line in whole.lines().skip(1) {
            if line.split(',').next().and_then(|s| s.parse::<usize>().ok()).is_some_and(|s| s <= keep_through) {
                text.push_str(line);
                text.push('\n');
            }
        }
        write_atomic(&path, &text)?;
        let file = fs::OpenOptions::new().append(true).open(&path).map_err(|e| TatError::io(&path, e))?;
        Ok(Self { path, out: std::io::BufWriter::new(file) })
    }

    /// Records step `step` (1-based) of epoch `epoch` (1-based).
    pub fn append(&mut self, step: usize, epoch: usize, loss: f64, lr: f64) -> Result<()> {
        writeln!(self.out, "{step},{epoch},{loss:.6},{lr:.6e}").map_err(|e| TatError::io(&self.path, e))
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| TatError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(n: usize) -> EpochMetrics {
        EpochMetrics {
            epoch: n,
            step: 10 * n,
            train_loss: 1.0 / n as f64,
            val_loss: 2.0 / n as f64,
            lr: 1e-3,
            seconds: 1.0,
            examples_per_sec: 1.0,
            tokens_per_sec: 1.0,
            best: true,
            precision: "fp32".into(),
            val_accuracy: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn reopening_keeps_the_epochs_asked_for_and_drops_a_line_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        let log = MetricsLog::open(dir.path(), 0).unwrap();
        for n in 1..=3 {
            log.append(&epoch(n)).unwrap();
        }
        // A kill mid-append leaves half a line.
        append(&dir.path().join(JSONL_FILE), &json_line(&epoch(4))[..20]).unwrap();
        assert!(read_jsonl(&dir.path().join(JSONL_FILE)).is_err(), "a user's read names the torn line");
        let log = MetricsLog::open(dir.path(), 2).unwrap();
        assert_eq!(log.read().unwrap(), vec![epoch(1), epoch(2)]);
        let csv = fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(!dir.path().join("metrics.jsonl.tmp").exists());

        let mut steps = StepLog::open(dir.path(), 0).unwrap();
        for step in 1..=5 {
            steps.append(step, 1, 0.5, 1e-3).unwrap();
        }
        steps.flush().unwrap();
        append(&dir.path().join(STEPS_FILE), "6,1,0.4").unwrap();
        drop(StepLog::open(dir.path(), 3).unwrap());
        let text = fs::read_to_string(dir.path().join(STEPS_FILE)).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
    }
}
