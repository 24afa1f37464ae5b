//! Local-learning recurrent binary networks (the JAX library darnax, arXiv 2509.05041): ±1
//! layers whose dynamics settle with the labels clamped, then free; every trained edge then
//! takes a perceptron-like local step. No autograd: the updates go to the optimizer as
//! pseudo-gradients through the learner's [`Update::apply`].

mod classifier;
pub mod data;
pub mod network;

pub use classifier::{Classifier, Report, SplitScore, REPORT_FILE};

use std::collections::HashMap;
use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use self::data::{encode_labels, Examples, Splits};
use self::network::{Filter, Network};
use super::{EpochSource, TaskContext, TaskData, TaskSpec};
use crate::config::{BionetConfig, Config, DataSource, LabelEncoding, TaskKind, TrainingConfig};
use crate::error::{Result, TatError};
use crate::train::optim::{Optimizer, ParamGroup};
use crate::train::{StepOutput, Task, TaskSizes, Update, Validation};

pub const SPEC: TaskSpec = TaskSpec {
    kind: TaskKind::Bionet,
    name: "bionet",
    text: false,
    architectures: &[crate::config::Architecture::Bionet],
    python_module: None,
    evaluator: super::Evaluator::Classification,
    completion: super::Completion::None,
};

/// The task's checks of a config, after the generic ones.
pub(super) fn issues(config: &Config, check: &mut dyn FnMut(bool, &str, String, &str)) {
    let Some(m) = config.model.bionet() else { return }; // the architecture check speaks first
    let layers = m.layers.clone();
    check(
        layers.len() >= 3 && layers.iter().all(|&n| n > 0) && layers[layers.len() - 1] >= 2,
        "model.layers",
        format!("{layers:?}"),
        "the widths of input, hidden layer(s) and output, all positive, at least 2 classes, e.g. [100, 256, 10]",
    );
    let edges = [("model.input_edge", m.input_edge.clone()), ("model.readout", m.readout.clone())];
    for (name, e) in &edges {
        check(e.strength > 0.0, &format!("{name}.strength"), e.strength.to_string(), "a positive number such as 1.0");
        check(
            (0.0..1.0).contains(&e.sparsity),
            &format!("{name}.sparsity"),
            e.sparsity.to_string(),
            "a number in [0, 1), such as 0.9",
        );
        check((0.0..1.0).contains(&e.decay), &format!("{name}.decay"), e.decay.to_string(), "a number in [0, 1)");
        check(
            e.learning_rate.is_none_or(|lr| lr >= 0.0),
            &format!("{name}.learning_rate"),
            format!("{:?}", e.learning_rate),
            "a number >= 0",
        );
    }
    let r = m.recurrent.clone();
    check(r.strength >= 0.0, "model.recurrent.strength", r.strength.to_string(), "a number >= 0");
    check((0.0..1.0).contains(&r.sparsity), "model.recurrent.sparsity", r.sparsity.to_string(), "a number in [0, 1)");
    check((0.0..1.0).contains(&r.decay), "model.recurrent.decay", r.decay.to_string(), "a number in [0, 1)");
    check(
        r.learning_rate.is_none_or(|lr| lr >= 0.0),
        "model.recurrent.learning_rate",
        format!("{:?}", r.learning_rate),
        "a number >= 0",
    );
    // The optimizer's decay is not applied (it would also decay the fixed recurrent diagonal), so
    // a value other than 0 would be silently ignored; the training section's default is 0.01.
    check(
        config.training.weight_decay == 0.0,
        "training.weight_decay",
        config.training.weight_decay.to_string(),
        "0 (a bionet's edges decay by their own `decay`, such as model.recurrent.decay)",
    );
    let dynamics = m.dynamics.clone();
    check(
        dynamics.warmup_steps + dynamics.eval_steps > 0,
        "model.dynamics.eval_steps",
        dynamics.eval_steps.to_string(),
        "a positive number of evaluation steps",
    );
    let d = &config.dataset;
    check(
        !matches!(d.source, Some(DataSource::Gsm8k | DataSource::Wikitext | DataSource::WgslCorpus)),
        "dataset.source",
        d.source.map_or(String::new(), |s| serde_json::to_string(&s).unwrap_or_default()),
        "\"prototypes\", \"idx\" or \"python\"",
    );
    let idx = d.source == Some(DataSource::Idx);
    let prototypes = d.source.is_none_or(|s| s == DataSource::Prototypes);
    check(
        !idx || d.path.is_some(),
        "dataset.path",
        "nothing".into(),
        "the folder of the MNIST-format IDX files, such as \"../../shared/data/fashion-mnist\"",
    );
    check(
        idx || d.path.is_none(),
        "dataset.path",
        format!("{:?}", d.path.as_deref().unwrap_or(Path::new("")).display().to_string()),
        "no path: prototypes are generated (set dataset.source = \"idx\" to read IDX files)",
    );
    let classes = layers.last().copied().unwrap_or(0);
    if prototypes {
        let c = d.classes.unwrap_or(10);
        check(c as i64 == classes, "dataset.classes", c.to_string(), &format!("the output width, {classes}"));
        let dim = d.dim.unwrap_or(100);
        let input = layers.first().copied().unwrap_or(0);
        check(dim as i64 == input, "dataset.dim", dim.to_string(), &format!("the input width, {input}"));
        let noise = d.noise.unwrap_or(0.3);
        check((0.0..=0.5).contains(&noise), "dataset.noise", noise.to_string(), "a probability in [0, 0.5]");
    }
}

/// The `[model]` section of a bionet config.
pub(crate) fn model(config: &Config) -> &BionetConfig {
    config.model.bionet().expect("the bionet task's model is a bionet (checked)")
}

pub(super) fn open(config: &Config, data: TaskData, context: &TaskContext) -> Result<Box<dyn Task>> {
    Ok(Box::new(BionetTask::open(config, data, context.device)?))
}

struct BionetTask {
    vs: VarStore,
    net: Network,
    splits: Splits,
    /// The training labels as clamped into the output layer.
    train_targets: Tensor,
    batch_size: usize,
    shuffle: crate::config::Shuffle,
    dynamics: crate::config::DynamicsConfig,
    batches: Vec<Tensor>,
    /// Where a fresh training set comes from every epoch (data streamed from Python).
    stream: Option<Box<dyn EpochSource>>,
    encoding: LabelEncoding,
}

impl BionetTask {
    fn open(config: &Config, data: TaskData, device: Device) -> Result<Self> {
        let layers = model(config).layers.clone();
        let (width, classes) = (layers[0], *layers.last().expect("checked layers"));
        let (splits, stream) =
            match data {
                TaskData::FromConfig => (data::load(config)?, None),
                TaskData::Arrays(arrays) => (data::from_arrays(&arrays, width, classes, true)?, None),
                TaskData::Stream { fixed, train } => (data::from_arrays(&fixed, width, classes, false)?, Some(train)),
                TaskData::Pairs(_) | TaskData::Batches(_) => return Err(TatError::Usage(
                    "a bionet trains on arrays (`x`, `labels`), not text pairs or batches. Fix: pass data as arrays."
                        .into(),
                )),
            };
        let found = splits.train.x.size()[1];
        if stream.is_none() && found != width {
            return Err(TatError::Usage(format!(
                "model.layers starts with {width}, but the examples are {found} wide. Fix: set model.layers[0] = {found} \
                 (or dataset.projection to {width})."
            )));
        }
        let vs = VarStore::new(device);
        let net = network::build(&vs, model(config), config.training.seed);
        let encoding = model(config).labels;
        let splits =
            Splits { train: to(&splits.train, device), val: to(&splits.val, device), test: to(&splits.test, device) };
        let train_targets = encode_labels(&splits.train.labels, classes, encoding);
        Ok(Self {
            vs,
            net,
            splits,
            train_targets,
            batch_size: config.training.batch_size,
            shuffle: config.training.shuffle,
            dynamics: model(config).dynamics.clone(),
            batches: Vec::new(),
            stream,
            encoding,
        })
    }
}

fn to(e: &Examples, device: Device) -> Examples {
    Examples { x: e.x.to_device(device), labels: e.labels.to_device(device) }
}

impl Task for BionetTask {
    fn vs(&self) -> &VarStore {
        &self.vs
    }

    fn vs_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    /// One group per trained edge kind, at its own learning rate; weight decay is the rule's own
    /// multiplicative `decay`, not the optimizer's.
    fn optimizer(&self, config: &TrainingConfig) -> Optimizer {
        let variables = self.vs.variables();
        let groups = self.net.learning_rates().into_iter().map(|(name, lr)| ParamGroup {
            params: vec![(name.clone(), variables[&name].shallow_clone())],
            lr_scale: lr.map_or(1.0, |lr| lr / config.learning_rate),
            weight_decay: 0.0,
        });
        Optimizer::with_groups(groups, config)
    }

    fn describe(&self) -> TaskSizes {
        let trained: i64 = self.net.learning_rates().iter().map(|(n, _)| self.vs.variables()[n].numel() as i64).sum();
        TaskSizes {
            parameters: trained,
            vocab_size: 0,
            train_examples: self.splits.train.len(),
            val_examples: self.splits.val.len(),
            test_examples: self.splits.test.len(),
        }
    }

    fn plan_epoch(&mut self, seed: u64, epoch: usize) -> Result<usize> {
        let device = self.vs.device();
        if let Some(stream) = &mut self.stream {
            let arrays = stream.epoch(seed, epoch)?;
            let (width, classes) = (self.net.sizes[0], *self.net.sizes.last().expect("layers"));
            let train =
                data::split_from_arrays(&arrays, &format!("the training data of epoch {}", epoch + 1), width, classes)?;
            self.train_targets = encode_labels(&train.labels, classes, self.encoding).to_device(device);
            self.splits.train = to(&train, device);
        }
        let mut order: Vec<i64> = (0..self.splits.train.len() as i64).collect();
        self.shuffle.rng(seed, epoch).shuffle(&mut order);
        self.batches = order.chunks(self.batch_size).map(|c| Tensor::from_slice(c).to_device(device)).collect();
        Ok(self.batches.len())
    }

    /// One step of the local rule on this process's share of the batch; the processes' updates
    /// sum to the whole batch's, and the errors are counted over all of them.
    fn step(&mut self, index: usize, update: &mut Update) -> Result<StepOutput> {
        let whole = self.batches[index].size()[0] as usize;
        let mine = update.shard().range(whole);
        let ids = &self.batches[index].narrow(0, mine.start as i64, mine.len() as i64);
        let x = self.splits.train.x.index_select(0, ids);
        let targets = self.train_targets.index_select(0, ids);
        let labels = self.splits.train.labels.index_select(0, ids);
        let d = &self.dynamics;
        let trained = update.names();
        let (grads, errors) = tch::no_grad(|| {
            let mut s = self.net.init(&x, Some(&targets));
            self.net.run(&mut s, d.warmup_steps, Filter::Forward);
            self.net.run(&mut s, d.clamped_steps, Filter::All);
            self.net.run(&mut s, d.free_steps, Filter::Forward);
            let errors = self.net.predict(&s).argmax(-1, false).ne_tensor(&labels).sum(Kind::Int64).int64_value(&[]);
            let by_name: HashMap<String, Tensor> = self.net.updates(&s, Some(whole)).into_iter().collect();
            let grads: Vec<Tensor> = trained.iter().map(|n| by_name[n].shallow_clone()).collect();
            (grads, errors)
        });
        update.apply(&grads)?;
        self.net.decay(|name| trained.iter().any(|t| t == name));
        let errors = update.sum_over_processes(&[errors as f64])?[0];
        Ok(StepOutput { loss: errors / whole as f64, weight: whole, examples: mine.len(), tokens: 0, skipped: false })
    }

    /// The validation split's error rate (the loss) and accuracy.
    fn validate(&mut self) -> Result<Validation> {
        let accuracy = classifier::accuracy(&self.net, &self.splits.val, &self.dynamics);
        Ok(Validation { loss: 1.0 - accuracy, accuracy: Some(accuracy), ..Validation::default() })
    }
}
