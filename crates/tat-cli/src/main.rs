//! `tiny-agent-trainer`: argument parsing and printing over the tat-core engine.

mod commands;
mod progress;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tat_core::config::{DeviceChoice, Precision};
use tat_core::data::wgsl::Split;

#[derive(Parser)]
#[command(
    name = "tiny-agent-trainer",
    version,
    about = "Train small task-specific transformer agents from a TOML file."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the model a config describes (checkpoints and metrics go to the run folder), or every
    /// run of an experiment file (a file with an [experiment] section), then print its table.
    Train {
        /// The config file (or pass it as --config).
        #[arg(value_name = "CONFIG", required_unless_present = "config", conflicts_with = "config")]
        config_file: Option<PathBuf>,
        /// The config file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override training.epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Override training.device: auto, cpu or cuda.
        #[arg(long)]
        device: Option<DeviceChoice>,
        /// Override training.seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the run folder (training.output_dir; default runs/<task.name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue the run from its `last` checkpoint.
        #[arg(long)]
        resume: bool,
        /// Override any config value, e.g. --set training.learning_rate=3e-4 (repeatable).
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Generate WGSL for prompts with a trained model (greedy, sampled or beam search).
    Generate {
        /// A run folder (uses best/, else last/) or a checkpoint folder.
        #[arg(long)]
        model: PathBuf,
        /// The request; repeat for a batch (decoded together).
        #[arg(long, required = true)]
        prompt: Vec<String>,
        #[command(flatten)]
        decode: DecodeArgs,
        /// Also validate each output with naga and report the result (exit 1 when one is invalid).
        #[arg(long)]
        validate: bool,
    },
    /// Score a trained model on a split: token accuracy, exact match, chrF and naga pass rate,
    /// overall and per category (with --requests: requests in free phrasing, judged); the report
    /// is also written to the run folder as JSON. For an experiment's folder: the table of its
    /// runs.
    Eval {
        /// The run folder (or pass it as --model).
        #[arg(value_name = "RUN_DIR", required_unless_present = "model", conflicts_with = "model")]
        run_dir: Option<PathBuf>,
        /// A run folder (uses best/, else last/) or a checkpoint folder.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Which split: of the run's dataset (default test), or of --data when given.
        #[arg(long)]
        split: Option<Split>,
        /// Evaluate the examples of this dataset file instead of the run's dataset.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Judge the answers to a file of requests in free phrasing instead (e.g.
        /// config/wgsl_free_requests.toml): valid as the kind asked for, and right, per category
        /// and kind.
        #[arg(long, conflicts_with_all = ["split", "data"])]
        requests: Option<PathBuf>,
        #[command(flatten)]
        decode: DecodeArgs,
        /// Print the report as JSON (with every example) instead of the table.
        #[arg(long)]
        json: bool,
        /// Also list each example that is not an exact match, with naga's verdict (with
        /// --requests: each answer that is not right, and why).
        #[arg(long)]
        show_misses: bool,
        /// A run scored by its validation numbers (masked diffusion): change its config first, e.g.
        /// --set dataset.source=gsm8k --set dataset.path=DIR to score it on another corpus.
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Validate WGSL files with naga (`-` reads standard input). Exit 1 when any is invalid.
    Validate {
        #[arg(required = true)]
        files: Vec<String>,
        /// Accept snippets (expressions, statements) as well as whole modules.
        #[arg(long)]
        snippet: bool,
        /// Print diagnostics as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a starter config and dataset into a folder (refuses to overwrite without --force).
    Init {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Write a generated natural-language/WGSL dataset, whose val and test splits hold out
    /// whole template combinations (each checked with naga; the file is replaced atomically).
    GenerateData {
        /// The dataset file to write, e.g. config/wgsl_generalise_data.toml.
        #[arg(long)]
        out: PathBuf,
        /// Seed of the held-out split.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// The broad dataset (config/wgsl_broad_data.toml): the template intents plus functions,
        /// structs, bindings, statements and wrapped snippets, every prompt also rewritten the
        /// way people type.
        #[arg(long)]
        broad: bool,
    },
    /// List the configs and experiment files in a folder.
    List {
        #[arg(default_value = "config")]
        dir: PathBuf,
    },
    /// Print a config with every default filled in.
    Show {
        #[arg(long)]
        config: PathBuf,
    },
    /// Report the libtorch build, CPU threads, CPU capability, the precision `auto` picks, and CUDA devices.
    Check,
    /// Print the config's JSON Schema (for editors that validate TOML against one).
    Schema,
}

/// Decoding flags shared by `generate` and `eval`.
#[derive(clap::Args)]
struct DecodeArgs {
    #[arg(long)]
    max_new_tokens: Option<usize>,
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
    /// Compute in auto, fp32 or bf16 instead of the precision the run was trained with.
    #[arg(long)]
    precision: Option<Precision>,
    /// Beam search with this many beams (1: greedy or sampled).
    #[arg(long, default_value_t = 1)]
    beam: usize,
    /// Beam scores are log-probability / length^this.
    #[arg(long, default_value_t = 1.0)]
    length_penalty: f64,
    /// Return the best-scoring beam that passes naga (implies a beam search, 4 beams unless --beam).
    #[arg(long)]
    prefer_valid: bool,
    /// Constrained decoding: only answers that stay completable into valid WGSL of this kind
    /// (expression, statement, function, module; with eval: requested, each request's own kind and
    /// stage); a beam search of 4 beams unless --beam.
    #[arg(long, value_name = "KIND")]
    constrain: Option<String>,
    /// Sample instead of taking the most likely token: logits are divided by this (e.g. 0.8).
    #[arg(long, conflicts_with_all = ["beam", "prefer_valid"])]
    temperature: Option<f64>,
    /// With --temperature: draw only among the K most likely tokens (0: all).
    #[arg(long, default_value_t = 0, requires = "temperature")]
    top_k: usize,
    /// With --temperature: draw only among the most likely tokens whose probability adds up to P.
    #[arg(long, default_value_t = 1.0, requires = "temperature")]
    top_p: f64,
    /// With --temperature: the sampling seed (same seed, same prompts: same answers).
    #[arg(long, default_value_t = 0, requires = "temperature")]
    seed: u64,
    /// A masked-diffusion run: unmasking steps (the completion is revealed over this many).
    #[arg(long, default_value_t = 10)]
    steps: usize,
}

fn main() {
    // A panic is a bug (or libtorch running out of memory), never a user's mistake: say so in
    // one paragraph instead of a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        let first = message.lines().next().unwrap_or(message);
        eprintln!(
            "internal error: {first}. This is a bug in tiny-agent-trainer, or libtorch ran out of memory; \
             please report it with the command you ran."
        );
    }));
    let cli = Cli::parse();
    let code = match commands::run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
