//! One function per subcommand. Each returns the process exit code.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tat_core::checkpoint;
use tat_core::config::Config;
use tat_core::data::wgsl::Split;
use tat_core::error::{exit_code, Result, TatError};
use tat_core::eval;
use tat_core::experiment::{self, CommandOverrides};
use tat_core::generate::{Constrain, DecodeOptions, DecodeRequest, Generator};
use tat_core::tasks::diffusion::sample::{Completer, Unmasking};
use tat_core::tasks::{self, Classifier, Completion, Evaluator};
use tat_core::train::{self, TrainOptions};
use tat_core::wgsl::{self, Diagnostic};

use crate::progress::ProgressObserver;
use crate::{Command, DecodeArgs};

pub fn run(command: Command) -> Result<i32> {
    match command {
        Command::Train { config_file, config, epochs, device, seed, out, resume, overrides } => {
            let path = config_file.or(config).expect("clap requires CONFIG or --config");
            if epochs == Some(0) {
                return Err(TatError::Usage(
                    "--epochs 0: training.epochs must be at least 1. Fix: give --epochs a positive number, or \
                     leave it out for the config's training.epochs."
                        .into(),
                ));
            }
            if experiment::is_experiment(&path) {
                let overrides = CommandOverrides { set: overrides, epochs, device, seed, out };
                return experiment_command(&experiment::Plan::from_file(&path, &overrides)?, resume);
            }
            let mut config = Config::from_file(&path)?.with_overrides(&overrides)?;
            let t = &mut config.training;
            t.epochs = epochs.unwrap_or(t.epochs);
            t.device = device.unwrap_or(t.device);
            t.seed = seed.unwrap_or(t.seed);
            t.output_dir = out.or(t.output_dir.take());
            train_command(&config, resume)
        }
        Command::Generate { model, prompt, decode, validate } => {
            let checkpoint = checkpoint::load(&checkpoint::resolve(&model)?)?;
            match tasks::spec(checkpoint.config.task.kind).completion {
                Completion::Autoregressive => {}
                Completion::Unmasking => return unmasking_command(&model, &prompt, &decode),
                Completion::None => {
                    return Err(TatError::Usage(format!(
                        "{}: a {} run does not write text. Fix: use `eval` to score it.",
                        model.display(),
                        tasks::spec(checkpoint.config.task.kind).name
                    )))
                }
            }
            let generator = load(&model, &decode)?;
            let options = decode_options(&decode, &generator)?.for_prompts()?;
            generate_command(&generator, &prompt, &options, validate)
        }
        Command::Eval { run_dir, model, split, data, requests, decode, json, show_misses, overrides } => {
            let model = run_dir.or(model).expect("clap requires RUN_DIR or --model");
            if model.join(experiment::RECORD_FILE).exists() {
                print!("{}", experiment::Record::load(&model)?.table());
                return Ok(0);
            }
            let checkpoint = checkpoint::load(&checkpoint::resolve(&model)?)?;
            let spec = tasks::spec(checkpoint.config.task.kind);
            match spec.evaluator {
                Evaluator::Generation => {}
                Evaluator::Classification => return classification_eval(&model, &decode, json),
                Evaluator::Validation => return validation_eval(&checkpoint.dir, &model, &decode, json, &overrides),
                Evaluator::Python => {
                    return Err(TatError::Usage(format!(
                        "{}: a {} run is scored by its Python task module. Fix: run `tat eval {}`.",
                        model.display(),
                        spec.name,
                        model.display()
                    )))
                }
            }
            if !overrides.is_empty() {
                return Err(TatError::Usage(format!(
                    "{}: --set changes the config of a run scored by its validation numbers; this run is scored \
                     otherwise. Fix: leave out --set (use --data to score another dataset file).",
                    model.display()
                )));
            }
            let generator = load(&model, &decode)?;
            let options = decode_options(&decode, &generator)?;
            match requests {
                Some(file) => requests_command(&generator, &model, &file, &options, json, show_misses),
                None => eval_command(&generator, &model, split, data.as_deref(), &options, json, show_misses),
            }
        }
        Command::Validate { files, snippet, json } => validate_command(&files, snippet, json),
        Command::Init { dir, force } => init_command(&dir, force),
        Command::GenerateData { out, seed, broad } => generate_data_command(&out, seed, broad),
        Command::List { dir } => list_command(&dir),
        Command::Show { config } => {
            print!("{}", Config::from_file(&config)?.to_toml_string());
            Ok(0)
        }
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&tat_core::config::json_schema()).expect("schemas serialise"));
            Ok(0)
        }
        Command::Check => {
            print!("{}", tat_core::device::report());
            Ok(0)
        }
    }
}

/// The model for `generate` and `eval`, with a warning on stderr when its precision is a poor
/// fit for this machine.
fn load(model: &Path, decode: &DecodeArgs) -> Result<Generator> {
    let generator = Generator::load_with(model, decode.device, decode.precision)?;
    if let Some(warning) = &generator.precision().warning {
        eprintln!("warning: {warning}");
    }
    Ok(generator)
}

/// An observer that a Ctrl-C asks to save `last` and stop.
fn interruptible() -> Result<ProgressObserver> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    // A second Ctrl-C while `last` is being saved should not kill the save: the flag only asks.
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nsaving the checkpoint, please wait...");
        } else {
            eprintln!("\ninterrupt: saving `last` and stopping...");
        }
    })
    .map_err(|e| TatError::Usage(format!("cannot install the Ctrl-C handler: {e}")))?;
    Ok(ProgressObserver::new(interrupted))
}

fn train_command(config: &Config, resume: bool) -> Result<i32> {
    let mut observer = interruptible()?;
    let summary = train::train(config, &TrainOptions { resume }, &mut observer)?;
    let best = summary.best_val_loss.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    println!(
        "done: {} epochs{}; best val_loss {best} at epoch {}; checkpoints in {}",
        summary.epochs_completed,
        if summary.stopped_early { " (early stopping)" } else { "" },
        summary.best_epoch,
        summary.run_dir.display()
    );
    Ok(0)
}

/// `train` of an experiment file: every run in turn, then the table.
fn experiment_command(plan: &experiment::Plan, resume: bool) -> Result<i32> {
    let mut observer = interruptible()?;
    eprintln!("experiment {}: {} runs into {}", plan.name, plan.runs.len(), plan.dir.display());
    let record = experiment::run(plan, resume, &mut observer)?;
    print!("{}", record.table());
    println!("record: {}", plan.dir.join(experiment::RECORD_FILE).display());
    Ok(0)
}

/// `generate` for a run that completes prompts by iterative unmasking.
fn unmasking_command(model: &Path, prompts: &[String], decode: &DecodeArgs) -> Result<i32> {
    let completer = Completer::load(model, decode.device)?;
    let how = Unmasking {
        new_tokens: decode.max_new_tokens.unwrap_or(Unmasking::default().new_tokens),
        steps: decode.steps,
        temperature: decode.temperature,
        seed: decode.seed,
    };
    let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
    for (i, answer) in completer.complete(&refs, &how)?.iter().enumerate() {
        if prompts.len() > 1 {
            println!("// prompt: {}", prompts[i]);
        }
        println!("{}{answer}", prompts[i]);
    }
    Ok(0)
}

fn generate_command(generator: &Generator, prompts: &[String], options: &DecodeOptions, validate: bool) -> Result<i32> {
    let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let mut invalid = false;
    for (i, code) in generator.answer(&refs, options).iter().enumerate() {
        if prompts.len() > 1 {
            println!("// prompt: {}", prompts[i]);
        }
        println!("{code}");
        if validate {
            let diagnostics = wgsl::validate_snippet(code);
            invalid |= !diagnostics.is_empty();
            report(&format!("<output {}>", i + 1), &diagnostics);
        }
    }
    Ok(if invalid { exit_code::INVALID_WGSL } else { 0 })
}

fn decode_options(args: &DecodeArgs, generator: &Generator) -> Result<DecodeOptions> {
    DecodeRequest {
        max_new_tokens: args.max_new_tokens,
        beam: args.beam,
        length_penalty: args.length_penalty,
        prefer_valid: args.prefer_valid,
        temperature: args.temperature,
        constrain: args.constrain.as_deref().map(Constrain::from_name).transpose()?,
        top_k: args.top_k,
        top_p: args.top_p,
        seed: args.seed,
    }
    .resolve(generator)
}

fn eval_command(
    generator: &Generator,
    model: &Path,
    split: Option<Split>,
    data: Option<&Path>,
    options: &DecodeOptions,
    json: bool,
    show_misses: bool,
) -> Result<i32> {
    let set = eval::eval_set(generator.config(), data, split)?;
    let bar = crate::progress::count_bar(set.examples.len(), "evaluating");
    let report = eval::evaluate(generator, model, &set, options, |done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    let saved = report.save(&tat_core::checkpoint::resolve(model)?)?;
    let count = format!("{} examples", report.overall.examples);
    print_report(
        json.then(|| serde_json::to_string_pretty(&report).expect("reports serialise")),
        model,
        &report.set,
        &count,
        &report.table(),
        &report.misses(),
        &saved,
        show_misses,
    )
}

/// What `eval` prints of a report: its JSON (when given), or the misses (when asked for), a heading, the table
/// and where the report was saved.
#[allow(clippy::too_many_arguments)] // the report's renderings and the two flags
fn print_report(
    json: Option<String>,
    model: &Path,
    set: &str,
    count: &str,
    table: &str,
    misses: &str,
    saved: &Path,
    show_misses: bool,
) -> Result<i32> {
    if let Some(json) = json {
        println!("{json}");
        return Ok(0);
    }
    if show_misses {
        println!("{misses}");
    }
    println!("{} on `{set}` ({count})\n", model.display());
    print!("{table}");
    println!("\nreport: {}", saved.display());
    Ok(0)
}

/// `eval --requests FILE`: the answers to requests in free phrasing, judged.
fn requests_command(
    generator: &Generator,
    model: &Path,
    file: &Path,
    options: &DecodeOptions,
    json: bool,
    show_misses: bool,
) -> Result<i32> {
    let bar = crate::progress::count_bar(0, "answering");
    let report = eval::requests::evaluate_request_file(generator, model, file, options, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    let saved = report.save(&tat_core::checkpoint::resolve(model)?)?;
    let count = format!("{} requests", report.overall.requests);
    print_report(
        json.then(|| serde_json::to_string_pretty(&report).expect("reports serialise")),
        model,
        &report.set,
        &count,
        &report.table(),
        &report.misses(),
        &saved,
        show_misses,
    )
}

/// `eval` of a classification run: accuracy on each split of its data.
fn classification_eval(model: &Path, decode: &DecodeArgs, json: bool) -> Result<i32> {
    let classifier = Classifier::load(model, decode.device)?;
    let report = classifier.evaluate()?;
    let saved = report.save(classifier.checkpoint_dir())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("reports serialise"));
        return Ok(0);
    }
    println!("{} ({})\n", model.display(), classifier.checkpoint_dir().display());
    print!("{}", report.table());
    println!("\nreport: {}", saved.display());
    Ok(0)
}

/// `eval` of a task scored by its own validation measurement: the numbers, recomputed.
fn validation_eval(dir: &Path, model: &Path, decode: &DecodeArgs, json: bool, overrides: &[String]) -> Result<i32> {
    let numbers = tasks::validation_report(dir, decode.device, overrides)?;
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            numbers.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect();
        println!("{}", serde_json::to_string_pretty(&map).expect("numbers serialise"));
        return Ok(0);
    }
    println!("{} ({})\n", model.display(), dir.display());
    for (name, value) in &numbers {
        println!("{name:<18} {value:.4}");
    }
    Ok(0)
}

fn report(name: &str, diagnostics: &[Diagnostic]) {
    if diagnostics.is_empty() {
        eprintln!("{name}: valid WGSL");
    }
    for d in diagnostics {
        eprintln!("{}", d.render(name));
    }
}

fn validate_command(files: &[String], snippet: bool, json: bool) -> Result<i32> {
    let mut results = Vec::new();
    for file in files {
        let (name, source) = read_source(file)?;
        let diagnostics = if snippet { wgsl::validate_snippet(&source) } else { wgsl::validate_module(&source) };
        results.push((name, diagnostics));
    }
    if json {
        let value: Vec<_> = results
            .iter()
            .map(|(file, d)| serde_json::json!({ "file": file, "valid": d.is_empty(), "diagnostics": d }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&value).expect("diagnostics serialise"));
    } else {
        for (name, diagnostics) in &results {
            if diagnostics.is_empty() {
                println!("{name}: ok");
            }
            for d in diagnostics {
                println!("{}", d.render(name));
            }
        }
    }
    let any_invalid = results.iter().any(|(_, d)| !d.is_empty());
    Ok(if any_invalid { exit_code::INVALID_WGSL } else { 0 })
}

fn read_source(file: &str) -> Result<(String, String)> {
    use tat_core::error::{read_text, text_of, MAX_TEXT_BYTES};
    if file == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(MAX_TEXT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| TatError::io(Path::new("<stdin>"), e))?;
        if bytes.len() as u64 > MAX_TEXT_BYTES {
            return Err(TatError::Usage(format!(
                "<stdin>: too large: more than the {} GiB a text input may hold. Fix: validate a smaller shader.",
                MAX_TEXT_BYTES >> 30
            )));
        }
        return Ok(("<stdin>".into(), text_of(bytes, "<stdin>").map_err(TatError::Usage)?));
    }
    let text = read_text(Path::new(file), TatError::Usage).map_err(|e| match e {
        TatError::Io { source, .. } => TatError::Usage(format!(
            "validate: cannot read {file}: {source}. Fix: pass an existing WGSL file, or - for standard input."
        )),
        other => other,
    })?;
    Ok((file.to_string(), text))
}

fn init_command(dir: &Path, force: bool) -> Result<i32> {
    let [config, dataset] = tat_core::starter::write(dir, force)?;
    println!("wrote {} and {}", config.display(), dataset.display());
    println!("next: tiny-agent-trainer train --config {}", config.display());
    Ok(0)
}

fn generate_data_command(out: &Path, seed: u64, broad: bool) -> Result<i32> {
    use tat_core::data::wgsl::Split;
    use tat_core::data::wgsl_generator::{generate_with, write_dataset, Variety};

    let variety = if broad { Variety::Broad } else { Variety::Templates };
    let examples = generate_with(seed, variety);
    write_dataset(out, &examples, seed, variety)?;
    println!("wrote {} examples to {} (seed {seed})", examples.len(), out.display());
    // Categories in the order the file has them; columns train, val, test.
    let mut rows: Vec<(&str, [usize; 3])> = Vec::new();
    for example in &examples {
        let column = match example.split {
            Some(Split::Val) => 1,
            Some(Split::Test) => 2,
            _ => 0,
        };
        match rows.iter_mut().find(|(category, _)| *category == example.category) {
            Some((_, counts)) => counts[column] += 1,
            None => {
                let mut counts = [0; 3];
                counts[column] = 1;
                rows.push((&example.category, counts));
            }
        }
    }
    let total = rows.iter().fold([0; 3], |sum, (_, c)| [sum[0] + c[0], sum[1] + c[1], sum[2] + c[2]]);
    println!("{:<16} {:>6} {:>6} {:>6} {:>6}", "category", "train", "val", "test", "total");
    for (category, c) in rows.iter().chain([("total", total)].iter()) {
        println!("{category:<16} {:>6} {:>6} {:>6} {:>6}", c[0], c[1], c[2], c.iter().sum::<usize>());
    }
    Ok(0)
}

fn list_command(dir: &Path) -> Result<i32> {
    for (path, summary) in experiment::listing(dir)? {
        println!("{:<40} {summary}", path.display());
    }
    Ok(0)
}
