//! `tat-bench`: times the engine on one config (training steps, generation with and without the
//! KV cache, peak memory) and prints one JSON object. `benches/torch_eager.py` prints the same
//! keys for plain PyTorch; `benches/compare.py` runs both and writes BENCHMARKS.md.

mod timing;
mod workload;

use std::path::PathBuf;

use clap::Parser;
use serde_json::json;
use tat_core::config::{Config, DeviceChoice};
use tat_core::device;
use tat_core::error::Result;

use crate::workload::{Workload, NEW_TOKENS};

#[derive(Parser)]
#[command(name = "tat-bench", about = "Time training and generation of a config's model; print JSON.")]
struct Args {
    #[arg(long)]
    config: PathBuf,
    /// cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// Timed training steps.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// Untimed training steps (and generation runs) before the timed ones.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// libtorch CPU threads; 0 keeps libtorch's default.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Timed generation runs per decoding; the median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    gen_runs: u64,
    /// Override a config value, e.g. --set training.precision=fp32 (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
    /// Also write the model settings, batch, prompt and initial weights here, for benches/torch_eager.py.
    #[arg(long, value_name = "FILE")]
    dump_batch: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}

fn run(args: &Args) -> Result<()> {
    let config = Config::from_file(&args.config)?.with_overrides(&args.overrides)?;
    device::set_threads(args.threads);
    let device = device::resolve(args.device)?;
    let mut w = Workload::load(config, device)?;
    if let Some(path) = &args.dump_batch {
        w.dump(path)?;
    }
    let train = timing::train(&w, args.warmup, args.steps as usize);
    let rows = w.batch.src.size()[0];
    // Generation runs on the trained weights, readied for inference as `Generator::load` does.
    w.model.freeze();
    let generation = timing::generation(&w, 1, args.warmup, args.gen_runs as usize);
    let batched = timing::generation(&w, rows as usize, args.warmup, args.gen_runs as usize);
    let steps = args.steps as f64;
    let src_len = w.batch.src.size()[1];
    let report = json!({
        "impl": "engine",
        "config": args.config,
        "device": device::name(device),
        "threads": tch::get_num_threads(),
        "precision": w.precision.compute.name(),
        "precision_reason": w.precision.reason,
        "cpu_capability": tat_core::native::cpu_capability(),
        "parameters": w.parameters(),
        "batch": {
            "examples": rows,
            "src_len": src_len,
            "tgt_len": w.batch.tgt_in.size()[1],
            "tokens": w.tokens,
        },
        "train": {
            "steps": args.steps,
            "warmup": args.warmup,
            "seconds": train.seconds,
            "examples_per_s": steps * rows as f64 / train.seconds,
            "tokens_per_s": steps * w.tokens as f64 / train.seconds,
            "first_loss": train.losses.first(),
            "last_loss": train.losses.last(),
        },
        "generate": {
            "new_tokens": NEW_TOKENS,
            "prompt_tokens": w.prompt.len(),
            "runs": args.gen_runs,
            "cached_ms": generation.cached_ms,
            "uncached_ms": generation.uncached_ms,
            "cached_tokens_per_s": NEW_TOKENS as f64 * 1e3 / generation.cached_ms,
            "uncached_tokens_per_s": NEW_TOKENS as f64 * 1e3 / generation.uncached_ms,
            "cache_speedup": generation.uncached_ms / generation.cached_ms,
            "same_tokens": generation.same_tokens,
        },
        "generate_batch": {
            "rows": rows,
            "cached_ms": batched.cached_ms,
            "uncached_ms": batched.uncached_ms,
            "cached_tokens_per_s": (rows as usize * NEW_TOKENS) as f64 * 1e3 / batched.cached_ms,
            "cache_speedup": batched.uncached_ms / batched.cached_ms,
            "same_tokens": batched.same_tokens,
        },
        "peak_rss_mib": timing::peak_rss_mib(),
    });
    println!("{report}");
    Ok(())
}
