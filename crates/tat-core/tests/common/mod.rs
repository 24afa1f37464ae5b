//! What the tests that train through the learner share: observers, the saved weights of a run,
//! and a lock on libtorch's process-wide RNG.

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};

use tat_core::checkpoint;
use tat_core::experiment::{ExperimentObserver, RunEvent};
use tat_core::train::{RunInfo, StepProgress, TrainObserver};
use tch::Tensor;

/// Reports nothing.
pub struct Quiet;
impl TrainObserver for Quiet {}
impl ExperimentObserver for Quiet {}

/// Keeps what the learner says of the run when it starts.
#[derive(Default)]
pub struct Capture {
    pub start: Option<RunInfo>,
}

impl TrainObserver for Capture {
    fn on_start(&mut self, info: &RunInfo) {
        self.start = Some(info.clone());
    }
}

/// Stops after `after` steps, like a Ctrl-C; keeps the experiment's run events.
pub struct StopAfter {
    pub after: usize,
    pub seen: usize,
    pub events: Vec<RunEvent>,
}

impl StopAfter {
    pub fn new(after: usize) -> Self {
        Self { after, seen: 0, events: Vec::new() }
    }
}

impl ExperimentObserver for StopAfter {
    fn on_run(&mut self, event: &RunEvent) {
        self.events.push(event.clone());
    }
}

impl TrainObserver for StopAfter {
    fn on_step(&mut self, _: &StepProgress) {
        self.seen += 1;
    }
    fn should_stop(&mut self) -> bool {
        self.seen >= self.after
    }
}

/// The weights of the run's `last` checkpoint, by name.
pub fn weights(run: &Path) -> Vec<(String, Tensor)> {
    let mut w = Tensor::read_safetensors(run.join("last").join(checkpoint::MODEL_FILE)).unwrap();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

/// libtorch's RNG is process-wide (masks and dropout draw from it): tests that train hold this,
/// so that a parallel test cannot reseed another's draws.
pub fn torch_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `name` in the shared data folder (`../shared/data` beside the project).
pub fn shared_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(name)
}

/// The shared data file or folder `name`, or None (after saying so) when it is absent; with
/// `TAT_REQUIRE_DATA=1` (`make test`) an absent file fails the test.
pub fn require_shared(name: &str) -> Option<PathBuf> {
    let path = shared_path(name);
    if path.exists() {
        return Some(path);
    }
    let message = format!("{} is absent (see the README's Data section)", path.display());
    assert!(std::env::var("TAT_REQUIRE_DATA").as_deref() != Ok("1"), "{message}");
    eprintln!("skipped: {message}");
    None
}

/// Every sixth example of the shipped WGSL dataset (all categories, ~50 examples), written to
/// `dir/examples.toml`: real data, and suites whose run time does not grow with the dataset.
pub fn wgsl_sample(dir: &Path) -> PathBuf {
    #[derive(serde::Serialize)]
    struct File {
        examples: Vec<tat_core::data::wgsl::Example>,
    }
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/wgsl_training_data.toml");
    let examples = tat_core::data::wgsl::load_examples(&shipped).unwrap().into_iter().step_by(6).collect();
    let path = dir.join("examples.toml");
    std::fs::write(&path, toml::to_string(&File { examples }).unwrap()).unwrap();
    path
}
