//! The engine on a CUDA device, checked against the same computation on the CPU.
//!
//! Every test here needs a GPU that libtorch sees. Without one each says so and passes, as the
//! data tests do without their data, except where `TAT_REQUIRE_CUDA=1` makes that an error (set
//! it on a GPU machine: `TAT_REQUIRE_CUDA=1 cargo test --release -p tat-core --test cuda`).
//! Weights are made on the CPU and copied to the GPU, because libtorch's CUDA generator draws
//! other numbers than its CPU one: the two sides then compute the same function, in fp32
//! (libtorch leaves TF32 off for matrix products unless asked).

mod common;

use std::path::{Path, PathBuf};

use common::{require_shared, torch_rng_lock, wgsl_sample, Quiet};
use tat_core::checkpoint;
use tat_core::config::{Config, DeviceChoice, Precision};
use tat_core::generate::{Decoding, Generator};
use tat_core::model::agent::{AgentNet, Inputs};
use tat_core::precision;
use tat_core::tasks::{self, TaskContext, TaskData};
use tat_core::train::metrics::read_jsonl;
use tat_core::train::optim::Optimizer;
use tat_core::train::{train, EpochMetrics, RunInfo, StepProgress, TrainObserver, TrainOptions};
use tat_core::TatError;
use tch::nn::{Init, VarStore};
use tch::{Device, Kind, Tensor};

/// The GPU, or `None` (after saying so) when libtorch sees none; under `TAT_REQUIRE_CUDA=1` its
/// absence fails the test.
fn gpu() -> Option<Device> {
    if tch::Cuda::is_available() {
        return Some(Device::Cuda(0));
    }
    let message = "libtorch sees no CUDA device";
    assert!(std::env::var("TAT_REQUIRE_CUDA").as_deref() != Ok("1"), "{message} (TAT_REQUIRE_CUDA=1)");
    eprintln!("skipped: {message}");
    None
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config").join(name)
}

/// `|a - b| <= tol * max(1, |a|)`.
fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(1.0)
}

/// The largest difference between two tensors over the largest magnitude of the first.
fn relative_gap(cpu: &Tensor, gpu: &Tensor) -> f64 {
    let gpu = gpu.to_device(Device::Cpu).to_kind(Kind::Double);
    let cpu = cpu.to_kind(Kind::Double);
    let scale = cpu.abs().max().double_value(&[]).max(1e-12);
    (cpu - gpu).abs().max().double_value(&[]) / scale
}

/// The WGSL task at a tiny size over every sixth shipped example, on `device`, into `out/run`.
fn tiny_wgsl(out: &Path, epochs: usize, device: &str, dropout: f64) -> Config {
    let data = wgsl_sample(out);
    let text = format!(
        r#"
[task]
name = "tiny"
[model]
d_model = 64
nhead = 4
num_layers = 1
dim_feedforward = 128
dropout = {dropout}
[training]
epochs = {epochs}
batch_size = 16
learning_rate = 3e-3
warmup_steps = 5
patience = 50
device = "{device}"
precision = "fp32"
output_dir = "{}"
[dataset]
path = "{}"
"#,
        out.join("run").display(),
        data.display()
    );
    Config::from_toml_str(&text, "tiny.toml").unwrap()
}

/// Asks to stop in the middle of the second epoch, as Ctrl-C would.
#[derive(Default)]
struct StopMidSecondEpoch {
    after: usize,
    steps: usize,
}
impl TrainObserver for StopMidSecondEpoch {
    fn on_start(&mut self, info: &RunInfo) {
        self.after = info.batches_per_epoch + info.batches_per_epoch / 2;
    }
    fn on_step(&mut self, _: &StepProgress) {
        self.steps += 1;
    }
    fn should_stop(&mut self) -> bool {
        self.steps >= self.after
    }
}

fn metrics(run: &Path) -> Vec<EpochMetrics> {
    read_jsonl(&run.join("metrics.jsonl")).unwrap()
}

#[test]
fn auto_precision_on_the_gpu_is_bf16_and_says_why() {
    let Some(device) = gpu() else { return };
    let resolved = precision::resolve(Precision::Auto, device);
    assert_eq!(resolved.compute.name(), "bf16", "{}", resolved.reason);
    assert!(!resolved.reason.is_empty());
    eprintln!("auto on {device:?}: {} ({})", resolved.compute.name(), resolved.reason);
}

#[test]
fn a_run_with_dropout_on_the_gpu_resumes_exactly_and_its_checkpoint_answers_on_the_cpu() {
    let Some(_) = gpu() else { return };
    let _torch = torch_rng_lock();
    let full = tempfile::tempdir().unwrap();
    train(&tiny_wgsl(full.path(), 4, "cuda", 0.1), &TrainOptions::default(), &mut Quiet).unwrap();

    let split = tempfile::tempdir().unwrap();
    let config = tiny_wgsl(split.path(), 4, "cuda", 0.1);
    let err = train(&config, &TrainOptions::default(), &mut StopMidSecondEpoch::default()).unwrap_err();
    assert!(matches!(err, TatError::Interrupted(_)), "{err}");
    train(&config, &TrainOptions { resume: true }, &mut Quiet).unwrap();

    let (a, b) = (metrics(&full.path().join("run")), metrics(&split.path().join("run")));
    assert_eq!((a.len(), b.len()), (4, 4));
    for (x, y) in a.iter().zip(&b) {
        assert!(close(x.train_loss, y.train_loss, 1e-5), "epoch {}: {} vs {}", x.epoch, x.train_loss, y.train_loss);
        assert!(close(x.val_loss, y.val_loss, 1e-5), "epoch {}: {} vs {}", x.epoch, x.val_loss, y.val_loss);
    }
    assert!(a[3].train_loss < 0.8 * a[0].train_loss, "train loss {} -> {}", a[0].train_loss, a[3].train_loss);
    let state = checkpoint::load(&full.path().join("run").join("last")).unwrap().state;
    assert_eq!(state.precision.as_deref(), Some("fp32"));

    // The GPU-trained checkpoint answers alike on the GPU and on the CPU.
    let run = full.path().join("run");
    let prompts = ["Create a red color", "Normalize the vector v", "Write a compute shader"];
    let on_gpu = Generator::load(&run, DeviceChoice::Cuda).unwrap();
    let on_cpu = Generator::load(&run, DeviceChoice::Cpu).unwrap();
    let (g, c) = (on_gpu.greedy_ids(&prompts, 40, Decoding::Cached), on_cpu.greedy_ids(&prompts, 40, Decoding::Cached));
    assert_eq!(g, c);
    assert_eq!(on_gpu.greedy_ids(&prompts, 40, Decoding::Uncached), g);
    assert!(g.iter().any(|ids| ids.len() > 5), "{g:?}");
}

#[test]
fn a_bf16_run_on_the_gpu_learns() {
    let Some(_) = gpu() else { return };
    let _torch = torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_wgsl(dir.path(), 8, "cuda", 0.1);
    config.training.precision = Precision::Auto;
    train(&config, &TrainOptions::default(), &mut Quiet).unwrap();
    let run = dir.path().join("run");
    let m = metrics(&run);
    assert!(m[7].train_loss < 0.7 * m[0].train_loss, "train loss {} -> {}", m[0].train_loss, m[7].train_loss);
    assert_eq!(checkpoint::load(&run.join("last")).unwrap().state.precision.as_deref(), Some("bf16"));
}

/// Opens `config`'s task on `device` in fp32 on `data`, with the weights of `weights` (or
/// fresh ones), and returns its validation numbers (`val_loss` first) and the task.
fn validate_on(
    config: &Config,
    data: TaskData,
    device: Device,
    weights: Option<&VarStore>,
) -> (Vec<(String, f64)>, Box<dyn tat_core::train::Task>) {
    tch::manual_seed(0);
    let context = TaskContext { device, compute: precision::Compute::Fp32, resumed: None, init: None };
    let mut task = tasks::open(config, data, &context).unwrap();
    if let Some(w) = weights {
        task.vs_mut().copy(w).unwrap();
    }
    let v = {
        let _guard = tch::no_grad_guard();
        task.validate().unwrap()
    };
    let mut out = vec![("val_loss".to_string(), v.loss)];
    out.extend(v.accuracy.map(|a| ("val_accuracy".to_string(), a)));
    out.extend(v.extra);
    (out, task)
}

/// Asserts that two tasks' validation numbers agree to `tol` (relative).
fn assert_alike(name: &str, cpu: &[(String, f64)], gpu: &[(String, f64)]) {
    eprintln!("{name}: cpu {cpu:?}\n{name}: gpu {gpu:?}");
    assert_eq!(cpu.len(), gpu.len(), "{name}");
    for ((k, a), (_, b)) in cpu.iter().zip(gpu) {
        assert!(close(*a, *b, 1e-4), "{name}: {k} {a} on the CPU, {b} on the GPU");
    }
}

/// The engine-fed tasks' validation numbers, with the same weights, on the CPU and the GPU.
#[test]
fn every_engine_fed_task_validates_alike_on_the_cpu_and_the_gpu() {
    let Some(device) = gpu() else { return };
    let _torch = torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut configs = vec![("wgsl_generation (tiny)", tiny_wgsl(dir.path(), 1, "cpu", 0.1))];
    configs.push(("bionet_prototypes", Config::from_file(&shipped("bionet_prototypes.toml")).unwrap()));
    if require_shared("wikitext-2").is_some() && require_shared("gpt2").is_some() {
        let small = ["model.num_layers=2", "model.d_model=64", "model.nhead=4", "model.dim_feedforward=128"];
        let config = Config::from_file(&shipped("diffusion_wikitext.toml")).unwrap();
        configs.push(("diffusion_wikitext (2 layers of 64)", config.with_overrides(&small.map(String::from)).unwrap()));
    }
    for (name, config) in configs {
        let (cpu, task) = validate_on(&config, TaskData::FromConfig, Device::Cpu, None);
        let (cuda, _) = validate_on(&config, TaskData::FromConfig, device, Some(task.vs()));
        assert_alike(name, &cpu, &cuda);
    }
}

/// One AdamW update with clipping, on the CPU and on the GPU from the same weights and gradient.
#[test]
fn the_fused_optimizer_step_on_the_gpu_is_the_cpu_step() {
    let Some(device) = gpu() else { return };
    let _torch = torch_rng_lock();
    tch::manual_seed(5);
    let t = tat_core::config::TrainingConfig { weight_decay: 0.1, adam_eps: 1e-8, ..Default::default() };
    let x = Tensor::randn([64, 48], (Kind::Float, Device::Cpu));
    let cpu = VarStore::new(Device::Cpu);
    let w = cpu.root().var("w", &[48, 32], Init::Randn { mean: 0.0, stdev: 1.0 });
    let b = cpu.root().var("b", &[32], Init::Randn { mean: 0.0, stdev: 1.0 });
    let mut gpu_vs = VarStore::new(device);
    let gw = gpu_vs.root().var("w", &[48, 32], Init::Const(0.0));
    let gb = gpu_vs.root().var("b", &[32], Init::Const(0.0));
    gpu_vs.copy(&cpu).unwrap();
    let (mut opt_cpu, mut opt_gpu) = (Optimizer::new(&cpu, &t), Optimizer::new(&gpu_vs, &t));
    let gx = x.to_device(device);
    for step in 1..=3 {
        let loss_cpu = (x.matmul(&w) + &b).tanh().pow_tensor_scalar(2).sum(Kind::Float);
        let loss_gpu = (gx.matmul(&gw) + &gb).tanh().pow_tensor_scalar(2).sum(Kind::Float);
        opt_cpu.backward_step(&loss_cpu, 0.5, 0.01).unwrap();
        opt_gpu.backward_step(&loss_gpu, 0.5, 0.01).unwrap();
        for (c, g) in [(&w, &gw), (&b, &gb)] {
            let gap = relative_gap(&c.detach(), &g.detach());
            assert!(gap < 1e-5, "step {step}: the GPU's weights are off by {gap:e} of their scale");
        }
    }
}

/// The shipped agent's model: states, text logits, pictures and every gradient, on the CPU and
/// the GPU from the same weights and batch.
#[test]
fn the_shipped_agent_model_computes_alike_on_the_cpu_and_the_gpu() {
    let Some(device) = gpu() else { return };
    let _torch = torch_rng_lock();
    let config = Config::from_file(&shipped("agent.toml")).unwrap();
    let agent = config.model.agent().expect("agent.toml has an agent model").clone();
    let (vocab, b, t, size) = (200, 4, 12, agent.image_size);
    tch::manual_seed(0);
    let cpu = VarStore::new(Device::Cpu);
    let net_cpu = AgentNet::new(&cpu.root(), &agent, vocab, Kind::Float);
    let mut gpu_vs = VarStore::new(device);
    let net_gpu = AgentNet::new(&gpu_vs.root(), &agent, vocab, Kind::Float);
    gpu_vs.copy(&cpu).unwrap();

    let image = Tensor::randint(256, [b, size, size, 3], (Kind::Uint8, Device::Cpu));
    let canvases = Tensor::randint(256, [b, 2, size, size, 3], (Kind::Uint8, Device::Cpu));
    let text = Tensor::randint_low(3, vocab, [b, t], (Kind::Int64, Device::Cpu));
    let text_len = Tensor::from_slice(&[12i64, 9, 5, 12]);
    let run = |net: &AgentNet, on: Device| {
        let (image, canvases, text, text_len) =
            (image.to_device(on), canvases.to_device(on), text.to_device(on), text_len.to_device(on));
        let inputs = Inputs { image: &image, canvases: &canvases, text: &text, text_len: &text_len };
        let states = net.states(&inputs, true);
        let rows = states.hidden.narrow(1, states.text_start, t).reshape([-1, agent.d_model]);
        let logits = net.logits(&rows);
        let picture = net.picture(&states, true);
        (states.hidden, logits, picture)
    };
    let (h_cpu, l_cpu, p_cpu) = run(&net_cpu, Device::Cpu);
    let (h_gpu, l_gpu, p_gpu) = run(&net_gpu, device);
    for (what, c, g) in [("states", &h_cpu, &h_gpu), ("logits", &l_cpu, &l_gpu), ("pictures", &p_cpu, &p_gpu)] {
        let gap = relative_gap(c, g);
        assert!(gap < 1e-4, "{what}: the GPU is off by {gap:e} of the scale");
    }
    let loss = |h: &Tensor, l: &Tensor, p: &Tensor| {
        h.square().mean(Kind::Float) + l.log_softmax(-1, Kind::Float).mean(Kind::Float) + p.square().mean(Kind::Float)
    };
    loss(&h_cpu, &l_cpu, &p_cpu).backward();
    loss(&h_gpu, &l_gpu, &p_gpu).backward();
    let gpu_vars = gpu_vs.variables();
    for (name, c) in cpu.variables() {
        let g = &gpu_vars[&name];
        let (cg, gg) = (c.grad(), g.grad());
        assert_eq!(cg.defined(), gg.defined(), "{name}: a gradient on one side only");
        if cg.defined() && cg.abs().max().double_value(&[]) > 1e-9 {
            let gap = relative_gap(&cg, &gg);
            assert!(gap < 1e-3, "{name}: the GPU's gradient is off by {gap:e} of its scale");
        }
    }
}

/// Agent batches made here instead of by the Python frameworks: random pictures and canvases,
/// a target that is the picture with a square painted in, and answers that follow from the
/// prompt, so the text loss can fall. Each batch is a pure function of `(seed, step)`.
struct Synthetic {
    size: i64,
    batch: i64,
}

const PROMPTS: [(&str, &str); 4] =
    [("where is the gold", "left"), ("is the wall near", "no"), ("which way to turn", "right"), ("draw it", "done")];

impl Synthetic {
    fn make(&self, seed: u64, stream: u64) -> tasks::Examples {
        let mut rng = tat_core::rng::SplitMix64::derived(seed, stream);
        let (b, s) = (self.batch, self.size);
        let mut bytes = |n: i64| (0..n).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>();
        let image = Tensor::from_slice(&bytes(b * s * s * 3)).view([b, s, s, 3]);
        let canvases = Tensor::from_slice(&bytes(b * s * s * 3)).view([b, 1, s, s, 3]);
        let target = image.copy();
        let _ = target.narrow(1, 8, 12).narrow(2, 8, 12).fill_(200);
        let changed = Tensor::zeros([b, s, s], (Kind::Uint8, Device::Cpu));
        let _ = changed.narrow(1, 8, 12).narrow(2, 8, 12).fill_(1);
        let picks: Vec<usize> = bytes(b).iter().map(|&x| x as usize % PROMPTS.len()).collect();
        let mut examples = tasks::Examples::default();
        for (name, t) in [("image", image), ("canvases", canvases), ("target", target), ("changed", changed.copy())] {
            examples.arrays.insert(name.into(), t);
        }
        examples.arrays.insert("foreground".into(), changed);
        examples.arrays.insert("weight_text".into(), Tensor::from(1.0f32));
        examples.arrays.insert("weight_image".into(), Tensor::from(1.0f32));
        examples.texts.insert("prompt".into(), picks.iter().map(|&i| PROMPTS[i].0.to_string()).collect());
        examples.texts.insert("answer".into(), picks.iter().map(|&i| PROMPTS[i].1.to_string()).collect());
        examples.texts.insert("framework".into(), vec!["synthetic".into()]);
        examples
    }
}

impl tasks::BatchSource for Synthetic {
    fn vocabulary(&mut self) -> tat_core::Result<Vec<String>> {
        Ok(PROMPTS.iter().flat_map(|(p, a)| [p.to_string(), a.to_string()]).collect())
    }
    fn batch(&mut self, seed: u64, step: usize) -> tat_core::Result<tasks::Examples> {
        Ok(self.make(seed, step as u64))
    }
    fn validation(&mut self) -> tat_core::Result<Vec<tasks::Examples>> {
        Ok(vec![self.make(1 << 40, 0), self.make(1 << 40, 1)])
    }
}

/// The shipped agent config, trained for `steps` on synthetic batches of 8 on `device`.
fn agent_config(out: &Path, device: &str, steps: usize) -> Config {
    let set = [
        format!("training.device={device}"),
        "training.precision=fp32".into(),
        "training.epochs=2".into(),
        format!("training.steps_per_epoch={}", steps / 2),
        "training.batch_size=8".into(),
        "training.warmup_steps=0".into(),
        "training.learning_rate=1e-3".into(),
        "training.gradient_clip_norm=1.0".into(),
        format!("training.output_dir={}", out.join("run").display()),
    ];
    Config::from_file(&shipped("agent.toml")).unwrap().with_overrides(&set).unwrap()
}

/// The agent task's loss and validation (text, pictures, per-framework numbers) with the same
/// weights on both devices, and a short run on the GPU that learns the answers.
#[test]
fn the_agent_task_validates_alike_on_both_devices_and_trains_on_the_gpu() {
    let Some(device) = gpu() else { return };
    let _torch = torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(dir.path(), "cpu", 20);
    let batches = || TaskData::Batches(Box::new(Synthetic { size: 96, batch: 8 }));
    let (cpu, task) = validate_on(&config, batches(), Device::Cpu, None);
    let (cuda, _) = validate_on(&config, batches(), device, Some(task.vs()));
    assert_alike("agent", &cpu, &cuda);

    let config = agent_config(dir.path(), "cuda", 40);
    let source = Box::new(Synthetic { size: 96, batch: 8 });
    tat_core::train::train_with(&config, TaskData::Batches(source), &TrainOptions::default(), &mut Quiet).unwrap();
    let m = metrics(&dir.path().join("run"));
    eprintln!("agent on the GPU: {:?}", m.iter().map(|e| (e.train_loss, e.val_loss)).collect::<Vec<_>>());
    assert!(m[1].val_loss < 0.7 * cpu[0].1, "val loss {} before training, {} after", cpu[0].1, m[1].val_loss);
}
