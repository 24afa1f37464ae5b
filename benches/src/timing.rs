//! The timed loops: training steps, greedy generation with and without the KV cache, peak memory.

use std::time::Instant;

use tat_core::generate::Decoding;
use tat_core::model::transformer::sequence_loss;
use tat_core::tokenizer::BOS_ID;
use tat_core::train::optim::Optimizer;
use tch::{Device, Kind, Tensor};

use crate::workload::{Workload, NEW_TOKENS};

pub struct TrainTiming {
    pub seconds: f64,
    /// Every step's loss, warmup included.
    pub losses: Vec<f64>,
}

/// `warmup` untimed then `steps` timed optimizer steps on the fixed batch, each as the trainer
/// takes it: forward, loss, backward, global-norm clip, AdamW (at the peak learning rate).
pub fn train(w: &Workload, warmup: usize, steps: usize) -> TrainTiming {
    let t = &w.config.training;
    let mut optimizer = Optimizer::new(&w.vs, t);
    let b = &w.batch;
    let mut step = || {
        let logits = w.model.forward(&b.src, &b.tgt_in, true);
        let loss = sequence_loss(&logits, &b.tgt_out);
        optimizer.backward_step(&loss, t.gradient_clip_norm, t.learning_rate).expect("the training step runs");
        loss.double_value(&[])
    };
    let mut losses: Vec<f64> = (0..warmup).map(|_| step()).collect();
    synchronize(w.device);
    let started = Instant::now();
    losses.extend((0..steps).map(|_| step()));
    synchronize(w.device);
    TrainTiming { seconds: started.elapsed().as_secs_f64(), losses }
}

pub struct GenerationTiming {
    pub cached_ms: f64,
    pub uncached_ms: f64,
    /// Both decodings chose the same tokens (they should, up to bf16 rounding ties).
    pub same_tokens: bool,
}

/// Median milliseconds of `runs` timed generations of [`NEW_TOKENS`] tokens per decoding, after
/// `warmup` untimed ones, for `rows` copies of the prompt decoded together.
pub fn generation(w: &Workload, rows: usize, warmup: usize, runs: usize) -> GenerationTiming {
    let prompt = Tensor::from_slice(&w.prompt).view([1, -1]).repeat([rows as i64, 1]).to_device(w.device);
    let time = |decoding| {
        for _ in 0..warmup {
            greedy(w, &prompt, decoding);
        }
        let mut ms: Vec<f64> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                greedy(w, &prompt, decoding);
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        ms[ms.len() / 2]
    };
    GenerationTiming {
        cached_ms: time(Decoding::Cached),
        uncached_ms: time(Decoding::Uncached),
        same_tokens: greedy(w, &prompt, Decoding::Cached) == greedy(w, &prompt, Decoding::Uncached),
    }
}

/// Greedy decoding of a batch of prompts for exactly [`NEW_TOKENS`] tokens (no stop at `<eos>`): the
/// cached way is [`Seq2SeqTransformer::decode_step`](tat_core::model::Seq2SeqTransformer::decode_step),
/// the uncached way re-runs the decoder over the whole prefix at every step.
fn greedy(w: &Workload, prompt: &Tensor, decoding: Decoding) -> Vec<i64> {
    let _guard = tch::no_grad_guard();
    let encoded = w.model.encode(prompt, false);
    let mut cache = (decoding == Decoding::Cached).then(|| w.model.start_decoding(&encoded));
    let mut tokens = Tensor::full([prompt.size()[0], 1], BOS_ID, (Kind::Int64, w.device));
    for _ in 0..NEW_TOKENS {
        let logits = match &mut cache {
            Some(cache) => w.model.decode_step(&encoded, cache, &tokens.narrow(1, -1, 1)),
            None => w.model.decode(&encoded, &tokens, false).select(1, -1),
        };
        tokens = Tensor::cat(&[tokens, logits.argmax(-1, false).unsqueeze(1)], 1);
    }
    Vec::<i64>::try_from(tokens.to_device(Device::Cpu).view([-1])).expect("token ids are int64")
}

fn synchronize(device: Device) {
    if let Device::Cuda(index) = device {
        tch::Cuda::synchronize(index as i64);
    }
}

/// The process's peak resident memory (`VmHWM`), in MiB; `None` where `/proc` does not say.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
