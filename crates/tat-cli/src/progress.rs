//! Renders training progress: a bar per epoch on a terminal, one line per epoch always.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use tat_core::experiment::{ExperimentObserver, RunEvent, RunStage};
use tat_core::train::{EpochMetrics, RunInfo, StepProgress, TrainObserver};

pub struct ProgressObserver {
    bar: Option<ProgressBar>,
    interrupted: Arc<AtomicBool>,
    epochs: usize,
}

impl ProgressObserver {
    pub fn new(interrupted: Arc<AtomicBool>) -> Self {
        Self { bar: None, interrupted, epochs: 0 }
    }
}

impl TrainObserver for ProgressObserver {
    fn on_start(&mut self, info: &RunInfo) {
        self.epochs = info.epochs;
        let vocab = if info.vocab_size > 0 { format!(", vocab {}", info.vocab_size) } else { String::new() };
        eprintln!(
            "model: {:.1}M parameters{vocab} | data: {} train / {} val / {} test | device: {} | run: {}",
            info.parameters as f64 / 1e6,
            info.train_examples,
            info.val_examples,
            info.test_examples,
            info.device,
            info.run_dir.display()
        );
        eprintln!("precision: {} ({})", info.precision.compute.name(), info.precision.reason);
        if let Some(init) = &info.init_from {
            eprintln!("init: {init}");
        }
        if info.frozen_parameters > 0 {
            eprintln!("frozen: {} parameters (training.freeze)", info.frozen_parameters);
        }
        if let Some(warning) = &info.precision.warning {
            eprintln!("warning: {warning}");
        }
        if info.start_epoch > 0 {
            eprintln!("resuming after epoch {}", info.start_epoch);
        }
    }

    fn on_step(&mut self, p: &StepProgress) {
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(p.batches as u64);
            bar.set_style(
                ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        bar.set_prefix(format!("{}/{}", p.epoch, self.epochs));
        bar.set_position(p.batch as u64);
        bar.set_message(format!("loss {:.4} lr {:.2e} {:.1} ex/s", p.loss, p.lr, p.examples_per_sec));
    }

    fn on_epoch(&mut self, m: &EpochMetrics) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let accuracy = m.val_accuracy.map_or(String::new(), |a| format!("  val_acc {a:.4}"));
        let speed = if m.tokens_per_sec > 0.0 {
            format!("{:.0} tok/s", m.tokens_per_sec)
        } else {
            format!("{:.0} ex/s", m.examples_per_sec)
        };
        println!(
            "epoch {:>3}/{}  train_loss {:.4}  val_loss {:.4}{accuracy}  lr {:.2e}  {:.1}s  {speed}{}",
            m.epoch,
            self.epochs,
            m.train_loss,
            m.val_loss,
            m.lr,
            m.seconds,
            if m.best { "  *best" } else { "" }
        );
    }

    fn should_stop(&mut self) -> bool {
        let stop = self.interrupted.load(Ordering::SeqCst);
        if stop {
            if let Some(bar) = self.bar.take() {
                bar.abandon();
            }
        }
        stop
    }
}

/// A bar over `len` items of long work such as evaluation (hidden when stderr is not a terminal).
pub fn count_bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

impl ExperimentObserver for ProgressObserver {
    fn on_run(&mut self, e: &RunEvent) {
        let what = match &e.what {
            RunStage::Skipped(status) => format!("finished before ({}), skipped", status.name()),
            RunStage::Training => "training".into(),
            RunStage::Resuming => "resuming".into(),
            RunStage::Evaluating => "evaluating".into(),
            RunStage::Finished(status, seconds) => format!("{} after {:.1} min", status.name(), seconds / 60.0),
        };
        eprintln!("[{}/{}] {}: {what}", e.index, e.total, e.name);
    }
}
