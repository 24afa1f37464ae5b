//! The data-parallel gradient step: processes played by threads, whose collective sums through
//! shared memory, take the update one process takes on the whole batch.

use std::sync::{Arc, Barrier, Mutex};

use tat_core::config::TrainingConfig;
use tat_core::train::optim::Optimizer;
use tat_core::train::{Collective, Shard};
use tch::nn::{Init, VarStore};
use tch::{Device, Kind, Tensor};

/// A collective over threads: each sum adds every thread's values into one buffer.
struct Threads {
    rank: usize,
    world: usize,
    buffer: Arc<Mutex<Vec<f64>>>,
    barrier: Arc<Barrier>,
}

impl Threads {
    fn group(world: usize) -> Vec<Threads> {
        let (buffer, barrier) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Barrier::new(world)));
        (0..world).map(|rank| Threads { rank, world, buffer: buffer.clone(), barrier: barrier.clone() }).collect()
    }

    fn exchange(&self, tensor: &Tensor, mine: impl FnOnce(&mut Vec<f64>, Vec<f64>)) {
        let values = Vec::<f64>::try_from(&tensor.to_kind(Kind::Double)).unwrap();
        mine(&mut self.buffer.lock().unwrap(), values);
        self.barrier.wait();
        let result = Tensor::from_slice(&self.buffer.lock().unwrap()).to_kind(tensor.kind());
        self.barrier.wait();
        if self.rank == 0 {
            self.buffer.lock().unwrap().clear();
        }
        self.barrier.wait();
        tch::no_grad(|| tensor.shallow_clone().copy_(&result));
    }
}

impl Collective for Threads {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world(&self) -> usize {
        self.world
    }

    fn all_reduce_sum(&mut self, buffer: &Tensor) -> tat_core::Result<()> {
        self.exchange(buffer, |sum, values| {
            sum.resize(values.len(), 0.0);
            sum.iter_mut().zip(values).for_each(|(s, v)| *s += v);
        });
        Ok(())
    }

    fn broadcast(&mut self, buffer: &Tensor) -> tat_core::Result<()> {
        let root = self.rank == 0;
        self.exchange(buffer, |out, values| {
            if root {
                *out = values;
            }
        });
        Ok(())
    }
}

/// The data (7 rows) and the first weights, made once: libtorch's generator is global to the
/// process, and threads drawing from it at once would each get other numbers.
struct Problem {
    x: Tensor,
    y: Tensor,
    w: Tensor,
}

impl Problem {
    fn new() -> Self {
        tch::manual_seed(3);
        let randn = |shape: &[i64]| Tensor::randn(shape, (Kind::Float, Device::Cpu));
        Problem { x: randn(&[7, 4]), y: randn(&[7, 2]), w: randn(&[4, 2]) }
    }

    fn copy(&self) -> Self {
        Problem { x: self.x.copy(), y: self.y.copy(), w: self.w.copy() }
    }
}

/// A linear model's weights after three AdamW steps with clipping: the loss is the mean over
/// the rows each process takes (`weighted`: weighted by their count).
fn train(p: Problem, shard: Shard, collective: Option<&mut dyn Collective>, weighted: bool) -> Vec<f64> {
    let vs = VarStore::new(Device::Cpu);
    let w = vs.root().var("w", &[4, 2], Init::Const(0.0));
    tch::no_grad(|| w.shallow_clone().copy_(&p.w));
    let b = vs.root().var("b", &[2], Init::Const(0.0));
    let t = TrainingConfig { weight_decay: 0.1, ..TrainingConfig::default() };
    let mut optimizer = Optimizer::new(&vs, &t);
    let rows = shard.range(7);
    let (start, len) = (rows.start as i64, rows.len() as i64);
    let (xs, ys) = (p.x.narrow(0, start, len), p.y.narrow(0, start, len));
    let mut collective = collective;
    for _ in 0..3 {
        let loss = (xs.matmul(&w) + &b - &ys).square().mean(Kind::Float);
        match collective.as_deref_mut() {
            None => optimizer.backward_step(&loss, 0.5, 0.05).unwrap(),
            Some(c) => {
                let weight = if weighted { rows.len() as f64 } else { 1.0 };
                optimizer.backward_step_shared(&loss, weight, 0.5, 0.05, c, false).unwrap().unwrap();
            }
        }
    }
    Vec::<f64>::try_from(&Tensor::cat(&[w.reshape([-1]), b.reshape([-1])], 0).to_kind(Kind::Double)).unwrap()
}

#[test]
fn shards_cover_the_batch_in_order() {
    let ranges: Vec<_> = (0..3).map(|rank| Shard { rank, world: 3 }.range(7)).collect();
    assert_eq!(ranges, [0..3, 3..5, 5..7]);
    assert_eq!(Shard { rank: 2, world: 3 }.range(2), 2..2);
    assert_eq!(Shard::WHOLE.range(5), 0..5);
}

#[test]
fn processes_weighted_by_their_rows_take_the_whole_batch_step() {
    let problem = Problem::new();
    let alone = train(problem.copy(), Shard::WHOLE, None, true);
    let results: Vec<Vec<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = Threads::group(3)
            .into_iter()
            .map(|mut c| {
                let p = problem.copy();
                s.spawn(move || train(p, Shard { rank: c.rank, world: c.world }, Some(&mut c), true))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for weights in &results {
        for (a, b) in alone.iter().zip(weights) {
            assert!((a - b).abs() < 1e-5, "{alone:?} vs {weights:?}");
        }
    }
    // Every process holds the same weights.
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn a_non_finite_loss_on_one_process_stops_every_process() {
    let outcomes: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = Threads::group(2)
            .into_iter()
            .map(|mut c| {
                s.spawn(move || {
                    let vs = VarStore::new(Device::Cpu);
                    let w = vs.root().var("w", &[3], Init::Const(1.0));
                    let mut optimizer = Optimizer::new(&vs, &TrainingConfig::default());
                    let scale = if c.rank == 1 { f64::NAN } else { 1.0 };
                    let loss = (&w * scale).sum(Kind::Float);
                    let stopped = optimizer.backward_step_shared(&loss, 1.0, 1.0, 0.1, &mut c, false).is_err();
                    // Nothing moved.
                    assert_eq!(Vec::<f32>::try_from(&w.detach()).unwrap(), [1.0; 3]);
                    stopped
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(outcomes, [true, true]);
}

#[test]
fn one_process_through_the_collective_takes_the_plain_step() {
    let problem = Problem::new();
    let alone = train(problem.copy(), Shard::WHOLE, None, true);
    let mut group = Threads::group(1);
    let shared = train(problem.copy(), Shard::WHOLE, Some(&mut group[0]), true);
    for (a, b) in alone.iter().zip(&shared) {
        assert!((a - b).abs() < 1e-6, "{alone:?} vs {shared:?}");
    }
}
