//! The optimizer step against AdamW written out by hand.

use tat_core::config::TrainingConfig;
use tat_core::train::optim::Optimizer;
use tch::nn::{Init, VarStore};
use tch::{Device, Kind, Tensor};

/// AdamW with decoupled weight decay (Loshchilov & Hutter), one tensor at a time.
struct Reference {
    value: Tensor,
    m: Tensor,
    v: Tensor,
}

impl Reference {
    fn step(&mut self, g: &Tensor, t: &TrainingConfig, lr: f64, decay: bool, step: i32) {
        let (b1, b2) = (t.adam_beta1, t.adam_beta2);
        if decay {
            self.value = &self.value * (1.0 - lr * t.weight_decay);
        }
        self.m = &self.m * b1 + g * (1.0 - b1);
        self.v = &self.v * b2 + g * g * (1.0 - b2);
        let m_hat = &self.m / (1.0 - b1.powi(step));
        let v_hat = &self.v / (1.0 - b2.powi(step));
        self.value = &self.value - m_hat / (v_hat.sqrt() + t.adam_eps) * lr;
    }
}

#[test]
fn fused_adamw_with_clipping_follows_the_formula_and_decays_only_matrices() {
    tch::manual_seed(5);
    let vs = VarStore::new(Device::Cpu);
    let w = vs.root().var("w", &[4, 3], Init::Randn { mean: 0.0, stdev: 1.0 });
    let b = vs.root().var("b", &[3], Init::Randn { mean: 0.0, stdev: 1.0 });
    let t = TrainingConfig { weight_decay: 0.1, adam_eps: 1e-8, ..TrainingConfig::default() };
    let mut optimizer = Optimizer::new(&vs, &t);
    let mut refs: Vec<Reference> =
        [&w, &b].iter().map(|p| Reference { value: p.detach().copy(), m: p.zeros_like(), v: p.zeros_like() }).collect();
    let x = Tensor::randn([5, 4], (Kind::Float, Device::Cpu));
    let (clip, lr) = (0.5, 0.01);
    for step in 1..=3 {
        let loss = (x.matmul(&w) + &b).tanh().pow_tensor_scalar(2).sum(Kind::Float);
        let grads = Tensor::run_backward(&[&loss], &[&w, &b], true, false);
        let norm = grads.iter().map(|g| g.pow_tensor_scalar(2).sum(Kind::Double).double_value(&[])).sum::<f64>().sqrt();
        let scale = if norm > clip { clip / (norm + 1e-6) } else { 1.0 };
        optimizer.backward_step(&loss, clip, lr).unwrap();
        for ((r, g), decay) in refs.iter_mut().zip(&grads).zip([true, false]) {
            r.step(&(g * scale), &t, lr, decay, step);
        }
        for (p, r) in [&w, &b].iter().zip(&refs) {
            let diff = (p.detach() - &r.value).abs().max().double_value(&[]);
            assert!(diff < 1e-6, "step {step}: off by {diff}");
        }
    }
    assert!(norm_is_clipped(&x, &w, &b, clip));
}

/// After the steps a fresh gradient is above the clip, so the steps above did clip.
fn norm_is_clipped(x: &Tensor, w: &Tensor, b: &Tensor, clip: f64) -> bool {
    let loss = (x.matmul(w) + b).tanh().pow_tensor_scalar(2).sum(Kind::Float);
    let grads = Tensor::run_backward(&[&loss], &[w, b], false, false);
    grads.iter().map(|g| g.pow_tensor_scalar(2).sum(Kind::Double).double_value(&[])).sum::<f64>().sqrt() > clip
}

#[test]
fn a_step_with_a_non_finite_gradient_is_skipped_without_a_trace() {
    let vs = VarStore::new(Device::Cpu);
    let w = vs.root().var("w", &[2, 2], Init::Const(1.0));
    let t = TrainingConfig::default();
    let mut optimizer = Optimizer::new(&vs, &t);
    let before = w.detach().copy();
    let bad = (&w * f64::INFINITY).sum(Kind::Float);
    assert!(!optimizer.backward_step_or_skip(&bad, 1.0, 0.1).unwrap());
    assert!(w.equal(&before), "a skipped step changes no weight");
    // The next good step is the first: Adam's bias correction starts from step 1.
    let twin_vs = VarStore::new(Device::Cpu);
    let twin = twin_vs.root().var("w", &[2, 2], Init::Const(1.0));
    let mut fresh = Optimizer::new(&twin_vs, &t);
    assert!(optimizer.backward_step_or_skip(&(&w * 2.0).sum(Kind::Float), 1.0, 0.1).unwrap());
    assert!(fresh.backward_step_or_skip(&(&twin * 2.0).sum(Kind::Float), 1.0, 0.1).unwrap());
    assert!(w.equal(&twin), "{w} vs {twin}");
}

#[test]
fn bf16_state_keeps_weights_and_moments_at_bf16_precision() {
    tch::manual_seed(2);
    let vs = VarStore::new(Device::Cpu);
    let w = vs.root().var("w", &[3, 3], Init::Randn { mean: 0.0, stdev: 1.0 });
    let t = TrainingConfig::default();
    let mut optimizer = Optimizer::new(&vs, &t).rounding_to_bf16();
    let exact = |x: &Tensor| x.equal(&x.to_kind(Kind::BFloat16).to_kind(Kind::Float));
    for _ in 0..3 {
        optimizer.backward_step(&(&w * &w).sum(Kind::Float), 0.0, 1e-3).unwrap();
        assert!(exact(&w.detach()), "weights are bf16 values");
        for (name, moment) in optimizer.state() {
            assert!(exact(moment), "{name} is a bf16 value");
        }
    }
    // An update far below a weight's bf16 spacing is lost, as in pure bf16 training.
    let before = w.detach().copy();
    optimizer.backward_step(&(&w * 1e-30).sum(Kind::Float), 0.0, 1e-7).unwrap();
    assert!(w.equal(&before));
}
