//! Per-epoch losses recorded from tiny real runs, which later versions of the engine must
//! reproduce: the guard for reshaping the training code without changing what it computes.
//!
//! `TAT_RECORD_LOSSES=1 cargo test --release -p tat-core -- --include-ignored reproduces_its_recorded_losses`
//! rewrites `tests/fixtures/recorded_losses.json` from the current engine; do that only for a
//! change that is meant to alter training, and say so in its commit.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tat_core::train::EpochMetrics;

/// The agreement asked of a rerun, in absolute loss.
const TOLERANCE: f64 = 1e-5;

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
struct Epoch {
    train_loss: f64,
    val_loss: f64,
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recorded_losses.json")
}

/// Compares `metrics` with the losses recorded under `name` (or records them).
pub fn check(name: &str, metrics: &[EpochMetrics]) {
    let path = fixture();
    let mut all: BTreeMap<String, Vec<Epoch>> = std::fs::read_to_string(&path)
        .map(|text| serde_json::from_str(&text).expect("recorded_losses.json parses"))
        .unwrap_or_default();
    let ran: Vec<Epoch> = metrics.iter().map(|m| Epoch { train_loss: m.train_loss, val_loss: m.val_loss }).collect();
    if std::env::var_os("TAT_RECORD_LOSSES").is_some() {
        all.insert(name.to_string(), ran);
        std::fs::write(&path, serde_json::to_string_pretty(&all).unwrap() + "\n").unwrap();
        return;
    }
    let recorded = all.get(name).unwrap_or_else(|| panic!("no losses recorded for `{name}` in {}", path.display()));
    assert_eq!(ran.len(), recorded.len(), "{name}: epochs run vs recorded");
    for (i, (r, e)) in ran.iter().zip(recorded).enumerate() {
        let off = (r.train_loss - e.train_loss).abs().max((r.val_loss - e.val_loss).abs());
        assert!(off < TOLERANCE, "{name}, epoch {}: ran {r:?}, recorded {e:?}", i + 1);
    }
}
