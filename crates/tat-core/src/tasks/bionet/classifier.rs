//! Serving a trained bionet: class predictions and accuracy per split. Inference only: nothing
//! here depends on the learner.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::data::{self, Examples};
use super::network::{self, Filter, Network};
use crate::checkpoint;
use crate::config::{Config, DeviceChoice, DynamicsConfig};
use crate::device;
use crate::error::{Result, TatError};

/// Examples per evaluation batch (rows are independent, so only speed depends on it).
const EVAL_BATCH: i64 = 1000;

/// Predicted classes of `x`: clamp the input, run the forward-only dynamics, read the output.
fn classify(net: &Network, x: &Tensor, d: &DynamicsConfig) -> Tensor {
    tch::no_grad(|| {
        let mut s = net.init(x, None);
        net.run(&mut s, d.warmup_steps + d.eval_steps, Filter::Forward);
        net.predict(&s).argmax(-1, false)
    })
}

/// The share of `e` that `net` classifies right.
pub(super) fn accuracy(net: &Network, e: &Examples, d: &DynamicsConfig) -> f64 {
    if e.is_empty() {
        return 0.0;
    }
    let mut correct = 0i64;
    let n = e.len() as i64;
    for start in (0..n).step_by(EVAL_BATCH as usize) {
        let len = EVAL_BATCH.min(n - start);
        let predicted = classify(net, &e.x.narrow(0, start, len), d);
        correct += predicted.eq_tensor(&e.labels.narrow(0, start, len)).sum(Kind::Int64).int64_value(&[]);
    }
    correct as f64 / n as f64
}

/// A trained bionet, for evaluation and prediction.
pub struct Classifier {
    vs: VarStore,
    net: Network,
    config: Config,
    dir: PathBuf,
}

impl Classifier {
    /// Loads a run folder (its `best`, else `last`) or a checkpoint folder.
    pub fn load(path: &Path, device: DeviceChoice) -> Result<Self> {
        let dir = checkpoint::resolve(path)?;
        let ckpt = checkpoint::load(&dir)?;
        let Some(model) = ckpt.config.model.bionet() else {
            return Err(TatError::Usage(format!(
                "{}: this run's model is a {}, not a bionet. Fix: load it with `tat.load(RUN_DIR)`, which picks \
                 the run's task.",
                dir.display(),
                ckpt.config.model.architecture()
            )));
        };
        let device = device::resolve(device)?;
        let mut vs = VarStore::new(device);
        let net = network::build(&vs, model, ckpt.config.training.seed);
        checkpoint::load_weights(&mut vs, &dir)?;
        Ok(Self { vs, net, config: ckpt.config, dir })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn checkpoint_dir(&self) -> &Path {
        &self.dir
    }

    /// Predicted classes of inputs `[N, D]` (any float kind; moved to the model's device).
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        let width = self.net.sizes[0];
        if x.dim() != 2 || x.size()[1] != width {
            return Err(TatError::Usage(format!(
                "predict: inputs must be [N, {width}] (one row of {width} values per example), got {:?}",
                x.size()
            )));
        }
        let x = x.to_kind(Kind::Float).to_device(self.vs.device());
        let d = super::model(&self.config).dynamics.clone();
        let n = x.size()[0];
        let parts: Vec<Tensor> = (0..n)
            .step_by(EVAL_BATCH as usize)
            .map(|start| classify(&self.net, &x.narrow(0, start, EVAL_BATCH.min(n - start)), &d))
            .collect();
        Ok(if parts.is_empty() {
            Tensor::zeros([0], (Kind::Int64, Device::Cpu))
        } else {
            Tensor::cat(&parts, 0).to_device(Device::Cpu)
        })
    }

    /// A split (`train`, `val`, `test`) of the run's data, rebuilt from its config as at training
    /// time: inputs `[N, D]` and class ids, on the CPU.
    pub fn data(&self, name: &str) -> Result<Examples> {
        let mut splits = data::load(&self.config)?;
        let split = match name {
            "train" => &mut splits.train,
            "val" => &mut splits.val,
            "test" => &mut splits.test,
            other => return Err(TatError::Usage(format!("unknown split `{other}`: expected train, val or test"))),
        };
        Ok(std::mem::replace(
            split,
            Examples {
                x: Tensor::zeros([0], (Kind::Float, Device::Cpu)),
                labels: Tensor::zeros([0], (Kind::Int64, Device::Cpu)),
            },
        ))
    }

    /// Accuracy on each split of the run's data (rebuilt from its config, as at training time).
    pub fn evaluate(&self) -> Result<Report> {
        self.evaluate_splits(&["train", "val", "test"])
    }

    /// Accuracy on the named splits (`train`, `val`, `test`) of the run's data.
    pub fn evaluate_splits(&self, names: &[&str]) -> Result<Report> {
        let splits = data::load(&self.config)?;
        let d = super::model(&self.config).dynamics.clone();
        let device = self.vs.device();
        let mut rows = Vec::new();
        for &name in names {
            let split = splits
                .get(name)
                .ok_or_else(|| TatError::Usage(format!("unknown split `{name}`: expected train, val or test")))?;
            let e = Examples { x: split.x.to_device(device), labels: split.labels.to_device(device) };
            rows.push(SplitScore { split: name.to_string(), examples: e.len(), accuracy: accuracy(&self.net, &e, &d) });
        }
        Ok(Report {
            checkpoint: self.dir.display().to_string(),
            classes: *self.net.sizes.last().unwrap(),
            splits: rows,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SplitScore {
    pub split: String,
    pub examples: usize,
    pub accuracy: f64,
}

/// Accuracy per split, as `eval` prints and saves it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checkpoint: String,
    pub classes: i64,
    pub splits: Vec<SplitScore>,
}

pub const REPORT_FILE: &str = "eval_bionet.json";

impl Report {
    pub fn table(&self) -> String {
        let mut out = format!("{:<8} {:>9} {:>9}\n", "split", "examples", "accuracy");
        for s in &self.splits {
            out.push_str(&format!("{:<8} {:>9} {:>9.4}\n", s.split, s.examples, s.accuracy));
        }
        out
    }

    /// Writes the report beside the checkpoint's run (`<run>/eval_bionet.json`).
    pub fn save(&self, checkpoint_dir: &Path) -> Result<PathBuf> {
        let path = checkpoint_dir.parent().unwrap_or(checkpoint_dir).join(REPORT_FILE);
        std::fs::write(&path, serde_json::to_string_pretty(self).expect("reports serialise"))
            .map_err(|e| TatError::io(&path, e))?;
        Ok(path)
    }
}
