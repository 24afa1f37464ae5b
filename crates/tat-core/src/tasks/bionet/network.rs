//! The network: a chain of ±1 layers (input, hidden..., output) as a darnax layer map. Row i
//! receives from row i-1 through a trained adapter `w_i` (the readout when i is the output),
//! from itself through recurrent couplings `j_i` (diagonal fixed at `j_d`), and from row i+1
//! through a frozen feedback adapter `b_i`. A message is `state_sender @ matrix`.

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::data::seeded_normals;
use crate::config::{BionetConfig, EdgeConfig, RecurrentConfig};
use crate::rng::SplitMix64;

/// Which senders a step listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Every sender, the row above included.
    All,
    /// Senders at or below the receiving row.
    Forward,
}

/// The weights (shared with the var store they live in) and the rule's settings.
pub struct Network {
    /// Widths, input first, output last.
    pub sizes: Vec<i64>,
    /// `w[i]`: adapter into row i (`w[0]` unused); `w[L]` is the readout.
    pub w: Vec<Tensor>,
    pub w_mask: Vec<Option<Tensor>>,
    /// `j[i]`, `j_mask[i]`, `b[i]` for hidden rows (index 0 and L unused).
    pub j: Vec<Tensor>,
    pub j_mask: Vec<Tensor>,
    pub b: Vec<Tensor>,
    input_edge: EdgeConfig,
    recurrent: RecurrentConfig,
    readout: EdgeConfig,
    /// The feedback from the output maps +1/-1 to `y * a + c` first (tutorial 09's rescaling).
    rescale: Option<(f64, f64)>,
}

/// Builds the weights in `vs` from `seed`, with a seeded stream of their own, so a network is the
/// same on every machine and device.
pub fn build(vs: &VarStore, m: &BionetConfig, seed: u64) -> Network {
    let sizes = m.layers.clone();
    let last = sizes.len() - 1;
    let input_edge = m.input_edge.clone();
    let recurrent = m.recurrent.clone();
    let readout = m.readout.clone();
    let feedback = m.feedback.clone();
    let root = vs.root();
    let device = vs.device();
    let mut stream = 0u64;
    let mut next_rng = || {
        stream += 1;
        SplitMix64::derived(seed, 0xB10 + stream)
    };
    let empty = || Tensor::zeros([0], (Kind::Float, Device::Cpu));
    let (mut w, mut w_mask, mut j, mut j_mask, mut b) =
        (vec![empty()], vec![None], vec![empty()], vec![empty()], vec![empty()]);
    for i in 1..=last {
        let (fan_in, width) = (sizes[i - 1], sizes[i]);
        let edge = if i == last { &readout } else { &input_edge };
        let mask = (edge.sparsity > 0.0).then(|| bernoulli_mask(next_rng(), fan_in, width, 1.0 - edge.sparsity));
        let scale = edge.strength / (fan_in as f64 * (1.0 - edge.sparsity)).sqrt();
        let mut value = normal(next_rng(), fan_in, width) * scale;
        if let Some(mask) = &mask {
            value *= mask;
        }
        w.push(store(&root, &format!("w_{i}"), &value, device));
        w_mask.push(mask.map(|m| store(&root, &format!("w_{i}_mask"), &m, device)));
        if i == last {
            break;
        }
        let mask = if recurrent.sparsity > 0.0 {
            bernoulli_mask(next_rng(), width, width, 1.0 - recurrent.sparsity)
        } else {
            Tensor::ones([width, width], (Kind::Float, Device::Cpu))
        };
        let mask = mask * (1.0 - Tensor::eye(width, (Kind::Float, Device::Cpu)));
        let scale = recurrent.strength / (width as f64 * (1.0 - recurrent.sparsity)).sqrt();
        let couplings = normal(next_rng(), width, width) * scale * &mask
            + Tensor::eye(width, (Kind::Float, Device::Cpu)) * recurrent.j_d;
        j.push(store(&root, &format!("j_{i}"), &couplings, device));
        j_mask.push(store(&root, &format!("j_{i}_mask"), &mask, device));
        let above = sizes[i + 1];
        let back = normal(next_rng(), above, width) * (feedback.strength / (above as f64).sqrt());
        b.push(store(&root, &format!("b_{i}"), &back, device));
    }
    let rescale = feedback.rescaled.then(|| {
        let r = ((sizes[last] - 1) as f64).sqrt();
        ((r / 2.0 + 1.0 / r) / 2.0, (r / 2.0 - 1.0 / r) / 2.0)
    });
    Network { sizes, w, w_mask, j, j_mask, b, input_edge, recurrent, readout, rescale }
}

fn normal(rng: SplitMix64, rows: i64, cols: i64) -> Tensor {
    Tensor::from_slice(&seeded_normals(rng, (rows * cols) as usize)).view([rows, cols])
}

fn bernoulli_mask(mut rng: SplitMix64, rows: i64, cols: i64, keep: f64) -> Tensor {
    let bits: Vec<f32> = (0..rows * cols).map(|_| if rng.next_f64() < keep { 1.0 } else { 0.0 }).collect();
    Tensor::from_slice(&bits).view([rows, cols])
}

/// A non-trainable variable of the var store (the rule updates it, not autograd).
fn store(root: &tch::nn::Path, name: &str, value: &Tensor, device: Device) -> Tensor {
    let var = root.zeros_no_train(name, &value.size());
    tch::no_grad(|| var.shallow_clone().copy_(&value.to_device(device)));
    var
}

/// A batch's state: one `[B, width]` buffer per row.
pub struct State {
    pub rows: Vec<Tensor>,
    /// `x @ w_1`: the input never changes within a batch, so neither does its message.
    input_message: Tensor,
    /// The clamped output's message into the last hidden row (training only).
    output_message: Option<Tensor>,
    /// With one hidden row, both messages above are constant: their sum, for `all` steps.
    input_and_output: Option<Tensor>,
    /// `fields[i]`: hidden row i's field, written in place every step (no allocation in the loop).
    fields: Vec<Tensor>,
    /// A scalar 1, the magnitude of every new state.
    one: Tensor,
}

/// Writes sign(field) into `row`, with 0 mapped to +1 as darnax's activation does: the sign is
/// copied onto 1, so +0 gives +1. A field is never -0: it is a matrix product (whose sums start
/// from +0) plus messages, and a sum is -0 only when every term is.
fn sign_into(row: &Tensor, field: &Tensor, one: &Tensor) {
    let _ = one.copysign_out(row, field);
}

impl Network {
    fn last(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Input clamped, hidden rows at 0, output at `clamp` (the encoded labels) or 0.
    pub fn init(&self, x: &Tensor, clamp: Option<&Tensor>) -> State {
        let batch = x.size()[0];
        let last = self.last();
        let mut rows = vec![x.shallow_clone()];
        for &width in &self.sizes[1..last] {
            rows.push(Tensor::zeros([batch, width], (Kind::Float, x.device())));
        }
        rows.push(match clamp {
            Some(y) => y.shallow_clone(),
            None => Tensor::zeros([batch, self.sizes[last]], (Kind::Float, x.device())),
        });
        let input_message = x.matmul(&self.w[1]);
        let output_message = clamp.map(|_| self.feedback_input(&rows[last], last - 1).matmul(&self.b[last - 1]));
        let input_and_output = output_message.as_ref().filter(|_| last == 2).map(|m| &input_message + m);
        let fields = rows.iter().map(Tensor::empty_like).collect();
        let one = Tensor::ones([], (Kind::Float, x.device()));
        State { rows, input_message, output_message, input_and_output, fields, one }
    }

    /// What row `i + 1` sends down to row `i` (rescaled when that row is the output).
    fn feedback_input(&self, above: &Tensor, i: usize) -> Tensor {
        match self.rescale {
            Some((a, c)) if i + 1 == self.last() => above * a + c,
            _ => above.shallow_clone(),
        }
    }

    /// The field of hidden row `i` from the senders at or below it.
    fn forward_field(&self, s: &State, i: usize) -> Tensor {
        let below = if i == 1 { s.input_message.shallow_clone() } else { s.rows[i - 1].matmul(&self.w[i]) };
        below.addmm(&s.rows[i], &self.j[i])
    }

    /// One step: hidden rows in ascending order, each from its incoming messages, a row's new
    /// state seen by the rows after it (Gauss-Seidel across rows, synchronous within one).
    pub fn step(&self, s: &mut State, filter: Filter) {
        let last = self.last();
        for i in 1..last {
            let h = &s.fields[i];
            match (filter, &s.input_and_output) {
                // One hidden row: its field is a constant plus its recurrent message.
                (Filter::All, Some(constant)) => {
                    let _ = constant.addmm_out(h, &s.rows[i], &self.j[i]);
                }
                _ if i == 1 => {
                    let _ = s.input_message.addmm_out(h, &s.rows[i], &self.j[i]);
                }
                _ => {
                    let _ = s.rows[i - 1].mm_out(h, &self.w[i]);
                    let _ = h.shallow_clone().addmm_(&s.rows[i], &self.j[i]);
                }
            }
            if filter == Filter::All && s.input_and_output.is_none() {
                let above = if i + 1 == last {
                    s.output_message.as_ref().map(Tensor::shallow_clone)
                } else {
                    Some(self.feedback_input(&s.rows[i + 1], i).matmul(&self.b[i]))
                };
                if let Some(m) = above {
                    let _ = h.shallow_clone().g_add_(&m);
                }
            }
            sign_into(&s.rows[i], h, &s.one);
        }
    }

    pub fn run(&self, s: &mut State, steps: usize, filter: Filter) {
        for _ in 0..steps {
            self.step(s, filter);
        }
    }

    /// The output layer's scores: the sum of its incoming messages.
    pub fn predict(&self, s: &State) -> Tensor {
        let last = self.last();
        s.rows[last - 1].matmul(&self.w[last])
    }

    /// The local rule's updates from the state after the dynamics, as pseudo-gradients (to be
    /// subtracted) keyed by variable name: for each trained edge into row i, with y = row i's
    /// state, ŷ = its forward field and x = the sender's state, `-(xᵀ ((y ŷ <= threshold) y)) /
    /// sqrt(B · fan-in)`, masked where the edge is sparse or recurrent. `whole` is B, the
    /// whole batch's size: a data-parallel process's state holds its share of the batch, and
    /// the processes' updates sum to the whole batch's (None: the state's rows are the batch).
    pub fn updates(&self, s: &State, whole: Option<usize>) -> Vec<(String, Tensor)> {
        let last = self.last();
        let batch = whole.map_or(s.rows[0].size()[0] as f64, |b| b as f64);
        let rule = |x: &Tensor, y: &Tensor, field: &Tensor, threshold: f64| {
            let mistakes = (y * field).le(threshold) * y;
            let fan_in = x.size()[1] as f64;
            let mut g = x.tr().matmul(&mistakes);
            let _ = g.g_div_scalar_(-(batch.sqrt() * fan_in.sqrt()));
            g
        };
        let mut out = Vec::new();
        for i in 1..last {
            let field = self.forward_field(s, i);
            let mut gw = rule(&s.rows[i - 1], &s.rows[i], &field, self.input_edge.threshold);
            if let Some(mask) = &self.w_mask[i] {
                let _ = gw.g_mul_(mask);
            }
            out.push((format!("w_{i}"), gw));
            let mut gj = rule(&s.rows[i], &s.rows[i], &field, self.recurrent.threshold);
            let _ = gj.g_mul_(&self.j_mask[i]);
            out.push((format!("j_{i}"), gj));
        }
        let field = self.predict(s);
        let mut gw = rule(&s.rows[last - 1], &s.rows[last], &field, self.readout.threshold);
        if let Some(mask) = &self.w_mask[last] {
            let _ = gw.g_mul_(mask);
        }
        out.push((format!("w_{last}"), gw));
        out
    }

    /// The per-step multiplicative decay of each trained edge that has one (`decay` in its
    /// config), for the variables `trained` accepts (a frozen one keeps its values).
    pub fn decay(&self, trained: impl Fn(&str) -> bool) {
        let last = self.last();
        tch::no_grad(|| {
            for i in 1..=last {
                let edge = if i == last { &self.readout } else { &self.input_edge };
                if edge.decay > 0.0 && trained(&format!("w_{i}")) {
                    let _ = self.w[i].shallow_clone().g_mul_scalar_(1.0 - edge.decay);
                }
                if i < last && self.recurrent.decay > 0.0 && trained(&format!("j_{i}")) {
                    let factor = 1.0 - &self.j_mask[i] * self.recurrent.decay;
                    let _ = self.j[i].shallow_clone().g_mul_(&factor);
                }
            }
        });
    }

    /// The learning rate of each trained variable (`None`: the run's).
    pub fn learning_rates(&self) -> Vec<(String, Option<f64>)> {
        let last = self.last();
        let mut out = Vec::new();
        for i in 1..last {
            out.push((format!("w_{i}"), self.input_edge.learning_rate));
            out.push((format!("j_{i}"), self.recurrent.learning_rate));
        }
        out.push((format!("w_{last}"), self.readout.learning_rate));
        out
    }
}
