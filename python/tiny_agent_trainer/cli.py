"""The `tat` command (also `python -m tiny_agent_trainer`).

The release binary's commands with its flags, defaults, output and exit codes, each one a call
into the engine; plus `plot` and `schema`. tests/python/test_cli.py holds the two fronts together.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import _core
from .tasks import registry
from ._core import EXIT_INTERRUPTED, Diagnostic, InvalidWgslError, Model, TatError, UsageError, validate_wgsl

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar
    from .config import Config

F = TypeVar("F", bound=Callable[..., Any])


class _Unsigned(click.ParamType):
    """A whole number that fits the binary's unsigned flags (u64): anything else is a usage error
    here, not an overflow in the binding."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        number: int = click.INT.convert(value, param, ctx)
        if not 0 <= number < 2**64:
            self.fail(f"{value} is not a whole number >= 0.", param, ctx)
        return number


U64 = _Unsigned()


class _EngineErrors(click.Group):
    """Ends a command that the engine stopped as the binary does: `error: <message>` on stderr
    and the error's exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TatError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt as e:
            click.echo(f"error: {e or 'interrupted'}", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=_EngineErrors, context_settings={"show_default": True, "help_option_names": ["-h", "--help"]})
@click.version_option(_core.__version__, prog_name="tat", message="%(prog)s %(version)s")
def main() -> None:
    """Train small task-specific transformer agents from a TOML file."""
    # The engine's warnings (e.g. a precision that is slow on this CPU) read as the binary's do.
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"


# --- train ------------------------------------------------------------------------------------


@main.command()
@click.argument("config_file", metavar="CONFIG", required=False, default=None, type=click.Path(path_type=Path))
@click.option("--config", type=click.Path(path_type=Path), help="The config file.")
@click.option("--epochs", type=U64, help="Override training.epochs.")
@click.option("--device", metavar="DEVICE", help="Override training.device: auto, cpu or cuda.")
@click.option("--seed", type=U64, help="Override training.seed.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Override the run folder (training.output_dir; default runs/<task.name>).",
)
@click.option("--resume", is_flag=True, help="Continue the run from its `last` checkpoint.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override any config value, e.g. --set training.learning_rate=3e-4 (repeatable).",
)
def train(
    config_file: Path | None,
    config: Path | None,
    epochs: int | None,
    device: str | None,
    seed: int | None,
    out: Path | None,
    resume: bool,
    overrides: tuple[str, ...],
) -> None:
    """Train the model a config describes (checkpoints and metrics go to the run folder), or
    every run of an experiment file (a file with an [experiment] section), then print its table."""
    from . import distributed

    config = _one_path(config_file, config, "CONFIG", "--config")
    if _core.is_experiment(config):
        _train_experiment(config, epochs, device, seed, out, resume, overrides)
        return
    task = registry.module_for_config(config)
    if task is not None:
        if distributed.world_size() > 1:
            raise click.UsageError(
                f"{config}: its task trains on one process (its data comes from {task.__name__}); "
                "run it without torchrun"
            )
        _train_python(task, config, epochs, device, seed, out, resume, overrides)
        return
    collective = distributed.from_environment(device)
    writer = distributed.is_writer(collective)
    progress = _TrainProgress()
    with _interrupt_saves_last():
        try:
            summary = _core.train(
                None,
                config,
                resume=resume,
                on_start=progress.start if writer else None,
                on_step=progress.step if writer else None,
                on_epoch=progress.epoch if writer else None,
                device=device,
                out=out,
                epochs=epochs,
                seed=seed,
                overrides=list(overrides),
                collective=collective,
            )
        finally:
            progress.clear()
    if not writer:
        return
    best = "n/a" if summary["best_val_loss"] is None else f"{summary['best_val_loss']:.4f}"
    early = " (early stopping)" if summary["stopped_early"] else ""
    click.echo(
        f"done: {summary['epochs_completed']} epochs{early}; best val_loss {best} at epoch "
        f"{summary['best_epoch']}; checkpoints in {summary['run_dir']}"
    )


def _one_path(positional: Path | None, option: Path | None, name: str, flag: str) -> Path:
    """The path given either way (as the binary, which accepts one or the other)."""
    if positional is not None and option is not None:
        raise click.UsageError(f"pass {name} or {flag}, not both")
    if positional is None and option is None:
        raise click.UsageError(f"missing {name} (or {flag} {name})")
    return positional if positional is not None else option  # type: ignore[return-value]


def _train_python(
    task: ModuleType,
    config_path: Path,
    epochs: int | None,
    device: str | None,
    seed: int | None,
    out: Path | None,
    resume: bool,
    overrides: tuple[str, ...],
) -> None:
    """`train` for a task whose Python module makes its data (the engine's registry names it):
    every run the config describes, once per seed."""
    from .config import Config

    config = Config.from_toml(config_path).with_overrides(overrides)
    sets = {
        "training.epochs": epochs,
        "training.device": device,
        "training.output_dir": None if out is None else str(out),
    }
    config = config.with_overrides([f"{k}={json.dumps(v)}" for k, v in sets.items() if v is not None])
    if seed is not None:
        # One run with that seed, whatever seeds the file lists.
        config = config.with_overrides([f"training.seed={seed}", "task.seeds=[]"])
    progress = _TrainProgress()

    def on_start(model: str, seed: int, info: dict[str, Any]) -> None:
        click.echo(f"--- {model}, seed {seed}", err=True)
        progress.start(info)

    with _interrupt_saves_last():
        try:
            run_dir = task.train(config, resume=resume, on_start=on_start, on_step=progress.step, on_epoch=progress.epoch)
        finally:
            progress.clear()
    click.echo(f"done: runs in {run_dir}; score them with `tat eval {run_dir}`")


def _train_experiment(
    path: Path,
    epochs: int | None,
    device: str | None,
    seed: int | None,
    out: Path | None,
    resume: bool,
    overrides: tuple[str, ...],
) -> None:
    """`train` for an experiment file: the engine trains its runs in turn; each is announced on
    stderr and shown like a single run; the table is printed at the end."""
    progress = _TrainProgress()

    def on_run(index: int, total: int, name: str, stage: str, status: str | None, seconds: float | None) -> None:
        progress.clear()
        if stage == "skipped":
            what = f"finished before ({status}), skipped"
        elif stage == "finished":
            what = f"{status} after {(seconds or 0.0) / 60:.1f} min"
        else:
            what = stage
        click.echo(f"[{index}/{total}] {name}: {what}", err=True)

    with _interrupt_saves_last():
        try:
            table = _core.train_experiment(
                path,
                resume=resume,
                on_run=on_run,
                on_start=progress.start,
                on_step=progress.step,
                on_epoch=progress.epoch,
                device=device,
                out=out,
                epochs=epochs,
                seed=seed,
                overrides=list(overrides),
            )
        finally:
            progress.clear()
    click.echo(table, nl=False)


class _TrainProgress:
    """The binary's training display: the run on stderr, a bar per epoch on stderr when it is a
    terminal, and one line per epoch on stdout."""

    def __init__(self) -> None:
        self.epochs = 0
        self.bar: ProgressBar[str] | None = None

    def start(self, info: dict[str, Any]) -> None:
        self.epochs = info["epochs"]
        click.echo(
            f"model: {info['parameters'] / 1e6:.1f}M parameters"
            + (f", vocab {info['vocab_size']}" if info["vocab_size"] else "")
            + " | "
            f"data: {info['train_examples']} train / {info['val_examples']} val / {info['test_examples']} test | "
            f"device: {info['device']} | run: {info['run_dir']}",
            err=True,
        )
        click.echo(f"precision: {info['precision']} ({info['precision_reason']})", err=True)
        if info.get("init_from"):
            click.echo(f"init: {info['init_from']}", err=True)
        if info.get("frozen_parameters"):
            click.echo(f"frozen: {info['frozen_parameters']} parameters (training.freeze)", err=True)
        if info["start_epoch"] > 0:
            click.echo(f"resuming after epoch {info['start_epoch']}", err=True)

    def step(self, p: dict[str, Any]) -> None:
        if self.bar is None:
            self.bar = _bar(p["batches"], f"epoch {p['epoch']}/{self.epochs}")
        message = f"loss {p['loss']:.4f} lr {_rust_exp(p['lr'])} {p['examples_per_sec']:.1f} ex/s"
        self.bar.update(p["batch"] - self.bar.pos, message)

    def epoch(self, m: dict[str, Any]) -> None:
        self.clear()
        accuracy = "" if m.get("val_accuracy") is None else f"  val_acc {m['val_accuracy']:.4f}"
        speed = f"{m['tokens_per_sec']:.0f} tok/s" if m["tokens_per_sec"] > 0 else f"{m['examples_per_sec']:.0f} ex/s"
        click.echo(
            f"epoch {m['epoch']:>3}/{self.epochs}  train_loss {m['train_loss']:.4f}  val_loss {m['val_loss']:.4f}"
            f"{accuracy}  lr {_rust_exp(m['lr'])}  {m['seconds']:.1f}s  {speed}" + ("  *best" if m["best"] else "")
        )

    def clear(self) -> None:
        if self.bar is not None:
            _clear(self.bar)
            self.bar = None


@contextmanager
def _interrupt_saves_last() -> Iterator[None]:
    """Ctrl-C as the binary takes it: the first asks the engine to save `last` and stop (the
    binding raises KeyboardInterrupt with the engine's message at the next step); a later one
    does not stop the save."""
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        if interrupted:
            click.echo("\nsaving the checkpoint, please wait...", err=True)
            return
        interrupted = True
        click.echo("\ninterrupt: saving `last` and stopping...", err=True)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- generate, eval ---------------------------------------------------------------------------


def _decode_options(command: F) -> F:
    """The decoding flags shared by `generate` and `eval`, as the binary has them."""
    options = [
        click.option(
            "--max-new-tokens", type=U64, help="The longest answer in tokens (default: what the model allows)."
        ),
        click.option("--device", default="auto", metavar="DEVICE", help="auto, cpu or cuda."),
        click.option(
            "--precision",
            metavar="PRECISION",
            help="Compute in auto, fp32 or bf16 instead of the precision the run was trained with.",
        ),
        click.option("--beam", type=U64, default=1, help="Beam search with this many beams (1: greedy or sampled)."),
        click.option(
            "--length-penalty", type=float, default=1.0, help="Beam scores are log-probability / length^this."
        ),
        click.option(
            "--prefer-valid",
            is_flag=True,
            help="Return the best-scoring beam that passes naga (implies a beam search, 4 beams unless --beam).",
        ),
        click.option(
            "--constrain",
            metavar="KIND",
            help="Constrained decoding: only answers that stay completable into valid WGSL of this kind "
            "(expression, statement, function, module; with eval: requested, each request's own kind and stage); "
            "a beam search of 4 beams unless --beam.",
        ),
        click.option(
            "--temperature",
            type=float,
            help="Sample instead of taking the most likely token: logits are divided by this (e.g. 0.8).",
        ),
        click.option(
            "--top-k",
            type=U64,
            default=0,
            help="With --temperature: draw only among the K most likely tokens (0: all).",
        ),
        click.option(
            "--top-p",
            type=float,
            default=1.0,
            help="With --temperature: draw only among the most likely tokens whose probability adds up to P.",
        ),
        click.option(
            "--seed",
            type=U64,
            default=0,
            help="With --temperature: the sampling seed (same seed, same prompts: same answers).",
        ),
        click.option(
            "--steps",
            type=U64,
            default=10,
            help="A masked-diffusion run: unmasking steps (the completion is revealed over this many).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


_MODEL = click.option(
    "--model",
    required=True,
    type=click.Path(path_type=Path),
    help="A run folder (uses best/, else last/) or a checkpoint folder.",
)


@main.command()
@_MODEL
@click.option("--prompt", required=True, multiple=True, help="The request; repeat for a batch (decoded together).")
@_decode_options
@click.option(
    "--validate",
    is_flag=True,
    help="Also validate each output with naga and report the result (exit 1 when one is invalid).",
)
def generate(
    model: Path, prompt: tuple[str, ...], device: str, precision: str | None, validate: bool, **decode: Any
) -> None:
    """Generate WGSL for prompts with a trained model (greedy, sampled or beam search)."""
    steps = decode.pop("steps")
    if registry.run_completion(model) == "unmasking":
        with _sigint_kills():
            completer = _core.Completer.load(model, device=device)
            completions = completer.complete(
                list(prompt),
                max_new_tokens=decode["max_new_tokens"] or 64,
                steps=steps,
                temperature=decode["temperature"],
                seed=decode["seed"],
            )
        for i, completion in enumerate(completions):
            if len(prompt) > 1:
                click.echo(f"// prompt: {prompt[i]}")
            click.echo(prompt[i] + completion)
        return
    with _sigint_kills():
        answers = Model.load(model, device=device, precision=precision).generate(list(prompt), **decode)
    invalid = False
    for i, code in enumerate(answers):
        if len(prompt) > 1:
            click.echo(f"// prompt: {prompt[i]}")
        click.echo(code)
        if validate:
            diagnostics = validate_wgsl(code, snippet=True)
            invalid |= bool(diagnostics)
            _report(f"<output {i + 1}>", diagnostics)
    _exit_invalid_if(invalid)


def _exit_invalid_if(invalid: bool) -> None:
    """Exits as the binary does when naga rejected an output or a file."""
    if invalid:
        click.get_current_context().exit(InvalidWgslError.exit_code)


def _report(name: str, diagnostics: list[Diagnostic]) -> None:
    if not diagnostics:
        click.echo(f"{name}: valid WGSL", err=True)
    for d in diagnostics:
        click.echo(d.render(name), err=True)


@main.command("eval")
@click.argument("run_dir", metavar="RUN_DIR", required=False, default=None, type=click.Path(path_type=Path))
@click.option(
    "--model", type=click.Path(path_type=Path), help="A run folder (uses best/, else last/) or a checkpoint folder."
)
@click.option(
    "--split", metavar="SPLIT", help="Which split: of the run's dataset (default test), or of --data when given."
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    help="Evaluate the examples of this dataset file instead of the run's dataset.",
)
@click.option(
    "--requests",
    type=click.Path(path_type=Path),
    help="Judge the answers to a file of requests in free phrasing instead (e.g. "
    "config/wgsl_free_requests.toml): valid as the kind asked for, and right, per category and kind.",
)
@_decode_options
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report as JSON (with every example) instead of the table."
)
@click.option(
    "--show-misses",
    is_flag=True,
    help="Also list each example that is not an exact match, with naga's verdict (with --requests: each "
    "answer that is not right, and why).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="A run scored by its validation numbers (masked diffusion): change its config first, e.g. "
    "--set dataset.source=gsm8k --set dataset.path=DIR to score it on another corpus.",
)
def eval_command(
    run_dir: Path | None,
    model: Path | None,
    split: str | None,
    data: Path | None,
    requests: Path | None,
    device: str,
    precision: str | None,
    as_json: bool,
    show_misses: bool,
    overrides: tuple[str, ...],
    **decode: Any,
) -> None:
    """Score a trained model on a split: token accuracy, exact match, chrF and naga pass rate,
    overall and per category (with --requests: requests in free phrasing, judged); the report is
    also written to the run folder as JSON. For a binding
    run: exact match per split for the binder and the baseline, mean and spread over seeds. For a
    classifier (bionet): accuracy on the train, val and test splits. For a masked-diffusion run: its
    validation losses, recomputed. For an experiment's folder: the table of its runs."""
    model = _one_path(run_dir, model, "RUN_DIR", "--model")
    decode.pop("steps")
    if _core.experiment_record(model) is not None:
        click.echo(_core.experiment_table(model), nl=False)
        return
    task = registry.module_for_run(model)
    if task is not None:
        _eval_python(task, model, device, precision, as_json)
        return
    evaluator = registry.run_evaluator(model)
    if evaluator == "classification":
        _eval_classification(model, device, as_json)
        return
    if evaluator == "validation":
        _eval_validation(model, device, as_json, list(overrides))
        return
    if overrides:
        raise click.UsageError("--set changes the config of a run scored by its validation numbers; this run is scored otherwise.")
    if requests is not None and (split is not None or data is not None):
        raise click.UsageError("--requests judges a request file; it takes no --split or --data.")
    with _sigint_kills():
        loaded = Model.load(model, device=device, precision=precision)
        bar: ProgressBar[str] | None = None

        def on_progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = _bar(total, "evaluating")
            bar.update(done - bar.pos)

        try:
            report = loaded.evaluate(split, data, requests=requests, save=True, on_progress=on_progress, **decode)
        finally:
            if bar is not None:
                _clear(bar)
    if as_json:
        click.echo(report.to_json())
        return
    if show_misses:
        click.echo(report.misses())
    count = f"{report['overall']['requests']} requests" if requests else f"{report['overall']['examples']} examples"
    click.echo(f"{report['model']} on `{report['set']}` ({count})\n")
    click.echo(report.table(), nl=False)
    click.echo(f"\nreport: {report.saved}")


def _eval_classification(run_dir: Path, device: str, as_json: bool) -> None:
    """`eval` of a classification run (the engine's registry says which): accuracy per split."""
    with _sigint_kills():
        report = _core.classification_eval(run_dir, device)
    if as_json:
        click.echo(json.dumps({k: report[k] for k in ("checkpoint", "classes", "splits")}, indent=2))
        return
    click.echo(f"{run_dir} ({report['checkpoint']})\n")
    click.echo(report["table"], nl=False)
    click.echo(f"\nreport: {report['report_path']}")


def _eval_validation(run_dir: Path, device: str, as_json: bool, overrides: list[str]) -> None:
    """`eval` of a run its task scores by its validation numbers (the masked-diffusion task)."""
    with _sigint_kills():
        report = _core.validation_eval(run_dir, device, overrides)
    if as_json:
        click.echo(json.dumps({k: (str(v) if k == "checkpoint" else v) for k, v in report.items()}, indent=2))
        return
    click.echo(f"{run_dir} ({report.pop('checkpoint')})\n")
    for name, value in report.items():
        click.echo(f"{name:<18} {value:.4f}")


def _eval_python(task: ModuleType, run_dir: Path, device: str, precision: str | None, as_json: bool) -> None:
    """`eval` of a run a Python task module wrote: the module scores it."""
    with _sigint_kills():
        report = task.evaluate(
            run_dir, device=device, precision=precision, on_progress=lambda what: click.echo(what, err=True)
        )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(report.table(), nl=False)
    click.echo(f"report: {run_dir / task.REPORT_NAME}")


@contextmanager
def _sigint_kills() -> Iterator[None]:
    """Ctrl-C ends the process at once, as it ends the binary: decoding has nothing to save, and
    Python's own handler would only run once the engine hands control back."""
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- validate ---------------------------------------------------------------------------------


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--snippet", is_flag=True, help="Accept snippets (expressions, statements) as well as whole modules.")
@click.option("--json", "as_json", is_flag=True, help="Print diagnostics as JSON.")
def validate(files: tuple[str, ...], snippet: bool, as_json: bool) -> None:
    """Validate WGSL files with naga (`-` reads standard input). Exit 1 when any is invalid."""
    results = [(name, validate_wgsl(source, snippet=snippet)) for name, source in map(_read_source, files)]
    if as_json:
        value = [
            {
                "file": name,
                "valid": not diagnostics,
                "diagnostics": [{"line": d.line, "column": d.column, "message": d.message} for d in diagnostics],
            }
            for name, diagnostics in results
        ]
        # The binary's JSON objects keep their keys sorted.
        click.echo(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))
    else:
        for name, diagnostics in results:
            if not diagnostics:
                click.echo(f"{name}: ok")
            for d in diagnostics:
                click.echo(d.render(name))
    _exit_invalid_if(any(diagnostics for _, diagnostics in results))


def _read_source(file: str) -> tuple[str, str]:
    if file == "-":
        return "<stdin>", sys.stdin.read()
    try:
        return file, Path(file).read_bytes().decode("utf-8")
    except OSError as e:
        reason = f"{e.strerror} (os error {e.errno})"
    except UnicodeDecodeError:
        reason = "stream did not contain valid UTF-8"
    raise UsageError(
        f"validate: cannot read {file}: {reason}. Fix: pass an existing WGSL file, or - for standard input."
    )


# --- init, list, show, check ------------------------------------------------------------------


@main.command()
@click.argument("dir", default=".", required=False)
@click.option("--force", is_flag=True, help="Overwrite the files if they exist.")
def init(dir: str, force: bool) -> None:
    """Write a starter config and dataset into a folder (refuses to overwrite without --force)."""
    config, dataset = _core.write_starter(dir, force=force)
    click.echo(f"wrote {config} and {dataset}")
    click.echo(f"next: tat train --config {config}")


@main.command("list")
@click.argument("dir", default="config", required=False)
def list_command(dir: str) -> None:
    """List the configs and experiment files in a folder."""
    for path, summary in _core.list_configs(dir):
        click.echo(f"{path:<40} {summary}")


@main.command()
@click.option("--config", required=True, type=click.Path(path_type=Path), help="The config file.")
def show(config: Path) -> None:
    """Print a config with every default filled in."""
    click.echo(_core.show_config(config), nl=False)


@main.command()
def check() -> None:
    """Report the libtorch build, CPU threads, CPU capability, the precision `auto` picks, and CUDA devices."""
    click.echo(_core.device_report(), nl=False)


# --- plot, schema -----------------------------------------------------------------------------


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="The PNG to write (default: RUN_DIR/loss.png).")
@click.option(
    "--input",
    "item",
    metavar="ITEM",
    help="Draw what the run's model does with this input instead, where its task can (binding: the binder's "
    "binding scores for a program, default RUN_DIR/binding.png).",
)
def plot(run_dir: Path, out: Path | None, item: str | None) -> None:
    """Plot a run's train/val loss and learning rate per epoch to a PNG, or with --input what the
    model does with one input (for the binding task: where each output word was read from). For an
    experiment's folder: every run's validation loss against its steps, one panel per group. For
    an agent run: its curves per framework (RUN_DIR/curves.png)."""
    if item is not None:
        module = registry.module_for_run(run_dir)
        if module is None or not hasattr(module, "plot"):
            raise click.UsageError(
                f"{run_dir}: this run's task draws no single input. Fix: leave out --input to plot the losses."
            )
        click.echo(f"wrote {module.plot(run_dir, item, out)}")
        return
    from .plot import plot_experiment, plot_run  # matplotlib is slow to import: only for this command

    if _core.experiment_record(run_dir) is not None:
        click.echo(f"wrote {plot_experiment(run_dir, out)}")
        return
    module = registry.module_for_run(run_dir)
    if module is not None and hasattr(module, "curves"):
        click.echo(f"wrote {module.curves(run_dir, out)}")
        return
    click.echo(f"wrote {plot_run(run_dir, out)}")


@main.command()
def schema() -> None:
    """Print the config's JSON Schema, for editors that check TOML against one."""
    from .config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


# --- agent ------------------------------------------------------------------------------------

AGENT_POLICIES = ("oracle", "majority")
"""The built-in policies of the agent harness (`tasks/agent/evaluate.py`)."""


@main.group()
def agent() -> None:
    """The gold-finding game's frameworks: draw their examples, play a closed-loop episode, score a
    policy on held-out examples."""


def _agent_frameworks(given: tuple[str, ...]) -> list[str]:
    """The framework names given, checked against the registry (a usage error lists the known)."""
    from .tasks.agent.frameworks import base

    known = base.names()
    for name in given:
        if name not in known:
            raise click.UsageError(f"unknown framework {name!r}. Fix: pass one of {', '.join(known)}.")
    return list(given)


def _visits_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--visits FILE` (repeatable): the recorded states visited_qa draws from (`tat agent visits`)."""
    return click.option(
        "--visits", "visits_files", multiple=True, type=click.Path(path_type=Path), metavar="FILE", help=help_text
    )


@agent.command("show")
@click.option("--framework", "name", required=True, metavar="NAME", help="The framework to draw.")
@click.option("-n", "count", type=click.IntRange(1, 64), default=8, help="How many examples (one row each).")
@click.option("--seed", type=U64, default=0, help="The examples' seed.")
@click.option("--size", type=click.IntRange(16, 512), default=96, help="The pictures' side in pixels.")
@click.option("--dpi", type=click.IntRange(20, 600), default=80, help="The PNG's dots per inch.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The PNG to write.")
@click.option(
    "--policy",
    default=None,
    metavar="oracle|majority|RUN",
    help="Also draw this policy's replies (answers, pictures) beside the truth: a trained agent's run folder.",
)
@_visits_option("visited_qa: the recorded states to draw from (tat agent visits; repeatable).")
def agent_show(
    name: str, count: int, seed: int, size: int, dpi: int, out: Path, policy: str | None, visits_files: tuple[Path, ...]
) -> None:
    """Draw examples of a framework to a PNG. One row per example, for a person to check: the
    input picture, the canvases (oldest first), the target picture, and the prompt and answer.
    With --policy: the policy's answer and picture beside the true ones."""
    import numpy as np

    from .tasks.agent.draw import answers_png, examples_png  # matplotlib is slow to import
    from .tasks.agent.frameworks import base

    _agent_frameworks((name,))
    settings = {"visits": [str(p) for p in visits_files]}
    if not base.available(name, settings):
        raise click.UsageError(
            f"{name} draws states recorded in games. Fix: pass --visits FILE (tat agent visits --policy RUN --out FILE records some)."
        )
    framework = base.get(name, settings)
    batch = framework.make(count, np.random.default_rng(seed), size)
    if policy is None:
        click.echo(f"wrote {examples_png(framework, batch, out, dpi)}")
        return
    click.echo(f"wrote {answers_png(_agent_policy(policy, seed), framework, batch, out, dpi)}")


def _agent_policy(
    policy: str,
    seed: int,
    palette: bool = True,
    temperature: float = 0.0,
    visits: list[str] | None = None,
    plan: bool = False,
    remember_moves: bool = False,
) -> Any:
    """A built-in policy by name, or the trained agent of a run folder (`tat train config/agent.toml`;
    `palette` False: its pictures as the decoder writes them, not decoded to the game's colours;
    `temperature` > 0: its answers sampled, from a generator seeded with `seed`; `visits`: the
    recorded states the majority policy's visited_qa sample comes from; `plan`: it draws its plan
    before every best-move answer; `remember_moves`: in the closed loop it makes the move it made
    fewest times where it stands, the likeliest among those)."""
    from .tasks.agent import evaluate

    if policy in AGENT_POLICIES:
        if temperature:
            raise click.UsageError(f"--temperature {temperature}: only a trained agent's answers are sampled, not {policy}'s.")
        if plan:
            raise click.UsageError(f"--plan: only a trained agent draws its plan before it answers, not {policy}.")
        if remember_moves:
            raise click.UsageError(f"--remember-moves: only a trained agent ranks its moves, not {policy}.")
        return evaluate.make_policy(policy, seed, {"visits": visits or []})
    if not Path(policy).is_dir():
        raise click.UsageError(f"--policy {policy!r}: neither {' nor '.join(AGENT_POLICIES)} nor a run folder.")
    from .tasks.agent.model import AgentModel

    try:
        return AgentModel.load(
            policy, palette=palette, temperature=temperature, seed=seed, plan=plan, remember_moves=remember_moves
        )
    except ValueError as e:  # options the model refuses together
        raise click.UsageError(str(e)) from e


_plan_option = click.option(
    "--plan",
    is_flag=True,
    help="A trained agent draws its plan (closer_places: the places nearer the gold on foot) before every "
    "best-move answer and answers with the drawing as its canvas (trained by planned_move_qa).",
)
_remember_option = click.option(
    "--remember-moves",
    is_flag=True,
    help="In the closed loop a trained agent remembers the moves it made from each place and heading of an "
    "episode and makes the one it made fewest times where it stands, the likeliest among those (docs/agent.md).",
)


@agent.command("episode")
@click.option("--policy", default="oracle", metavar="oracle|majority|RUN", help="Who chooses the moves: a built-in policy or a trained agent's run folder.")
@click.option("--seed", type=U64, default=0, help="The scene's seed (and the prompts').")
@click.option("--steps", type=click.IntRange(1, 10_000), default=100, help="Give up after this many moves.")
@click.option("--size", type=click.IntRange(16, 512), default=96, help="The pictures' side in pixels.")
@click.option("--scenes", "kind", type=click.Choice(["bare", "full"]), default="bare", help="Bare or full scene.")
@click.option("--scale", type=click.IntRange(1, 16), default=3, help="Upscale the frames this many times.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The GIF to write.")
@click.option(
    "--temperature",
    type=click.FloatRange(0, min_open=False),
    default=0.0,
    help="A trained agent's answers: 0 greedy (the default), else drawn from its distribution at this temperature (1: as it learnt it).",
)
@_plan_option
@_remember_option
def agent_episode(
    policy: str,
    seed: int,
    steps: int,
    size: int,
    kind: str,
    scale: int,
    out: Path,
    temperature: float,
    plan: bool,
    remember_moves: bool,
) -> None:
    """Play a closed-loop episode into a GIF. The policy's answer to the best-move question drives
    the agent until it eats the gold or the steps run out; each frame is captioned with the move."""
    from .tasks.agent import evaluate, game
    from .tasks.agent.draw import episode_gif  # Pillow: only for this command

    scenes = game.make_scenes(1, seed, kind, solvable=True)
    episodes = evaluate.play(
        _agent_policy(policy, seed, temperature=temperature, plan=plan, remember_moves=remember_moves),
        scenes,
        steps,
        evaluate.stream(evaluate.PROMPTS, seed, kind),
        size,
        record=True,
    )
    oracle = int(scenes.steps_to_gold(steps + 1)[0])
    oracle_text = f"{oracle} moves" if oracle <= steps else f"no gold within {steps} moves"
    outcome = f"ate the gold in {episodes.steps[0]} moves" if episodes.success[0] else f"no gold within {steps} moves"
    click.echo(f"{policy}: {outcome} (the oracle: {oracle_text})")
    click.echo(f"wrote {episode_gif(episodes, out, size, scale)}")


@agent.command("visits")
@click.option("--policy", required=True, metavar="oracle|majority|RUN", help="Who plays: usually a trained agent's run folder.")
@click.option("--episodes", type=click.IntRange(1), default=500, help="How many games to play.")
@click.option("--seed", type=U64, default=0, help="The games' seed (their scenes are apart from the harness's).")
@click.option("--scenes", "kind", type=click.Choice(["bare", "full"]), default="full", help="Bare or full scenes.")
@click.option("--steps", type=click.IntRange(1, 10_000), default=100, help="A game gives up after this many moves.")
@click.option("--size", type=click.IntRange(16, 512), default=96, help="The pictures' side in pixels.")
@click.option(
    "--temperature",
    type=click.FloatRange(0, min_open=False),
    default=0.0,
    help="A trained agent's answers: 0 greedy (the default), else drawn from its distribution at this temperature.",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The .npz file to write.")
@_plan_option
def agent_visits(
    policy: str, episodes: int, seed: int, kind: str, steps: int, size: int, temperature: float, out: Path, plan: bool
) -> None:
    """Record the states a policy passes through in closed-loop games, for visited_qa (DAgger):
    train on them with [frameworks] visits = ["FILE"] and a weight for visited_qa. Every state
    before a move of a running game is kept once per game; every eighth game is held out."""
    import numpy as np

    from .tasks.agent import visits

    recorded = visits.record(_agent_policy(policy, seed, temperature=temperature, plan=plan), episodes, seed, kind, steps, size, policy)
    visits.save(recorded, out)
    won = len(np.unique(recorded.game[recorded.won]))
    held = int((recorded.game % visits.HELD_OUT_EVERY == 0).sum())
    click.echo(
        f"{policy}: won {won} of {episodes} games on {kind} scenes; kept {len(recorded)} states "
        f"({int((~recorded.won).sum())} from games it lost, {held} held out)"
    )
    click.echo(f"wrote {out}")


@agent.command("eval")
@click.option("--policy", default="oracle", metavar="oracle|majority|RUN", help="The policy to score: a built-in one or a trained agent's run folder.")
@click.option("-n", "count", type=click.IntRange(1), default=2000, help="Held-out examples per framework.")
@click.option(
    "--framework", "frameworks", multiple=True, metavar="NAME", help="Score only this framework (repeatable; default all)."
)
@click.option("--seed", type=U64, default=0, help="The harness seed (held-out examples and episodes derive from it).")
@click.option("--size", type=click.IntRange(16, 512), default=96, help="The pictures' side in pixels.")
@click.option(
    "--episodes",
    type=click.IntRange(0),
    default=None,
    help="Closed-loop episodes per scene kind (default: as -n, none where --framework picks frameworks; 0: none).",
)
@click.option("--steps", type=click.IntRange(1, 10_000), default=100, help="Closed-loop episodes give up after this many moves.")
@click.option(
    "--raw-pictures",
    is_flag=True,
    help="Score a trained agent's pictures as its decoder writes them, not decoded to the game's colours.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of the table.")
@click.option(
    "--temperature",
    type=click.FloatRange(0, min_open=False),
    default=0.0,
    help="A trained agent's answers: 0 greedy (the default), else drawn from its distribution at this temperature (1: as it learnt it).",
)
@_visits_option(
    "visited_qa asks about the held-out games of these recorded states (tat agent visits; repeatable; "
    "default: a trained agent's own frameworks.visits)."
)
@_plan_option
@_remember_option
def agent_eval(
    policy: str,
    count: int,
    frameworks: tuple[str, ...],
    seed: int,
    size: int,
    episodes: int | None,
    steps: int,
    raw_pictures: bool,
    as_json: bool,
    temperature: float,
    visits_files: tuple[Path, ...],
    plan: bool,
    remember_moves: bool,
) -> None:
    """Score a policy on held-out examples. Per question: accuracy, balanced accuracy and the
    majority-class baseline; per picture framework: skill over a copy of the input and the objects'
    centre errors; then the closed loop's success rate and steps, beside the oracle's."""
    from .tasks.agent import evaluate
    from .tasks.agent.task import run_visits

    names = _agent_frameworks(frameworks) if frameworks else None
    visits = [str(p) for p in visits_files] or (run_visits(policy) if policy not in AGENT_POLICIES else [])
    report = evaluate.evaluate(
        _agent_policy(
            policy,
            seed,
            palette=not raw_pictures,
            temperature=temperature,
            visits=visits,
            plan=plan,
            remember_moves=remember_moves,
        ),
        names,
        count,
        seed,
        size,
        episodes=episodes,
        steps=steps,
        # Picking frameworks scores those alone unless episodes are asked for as well.
        closed_loop=episodes != 0 and (episodes is not None or not frameworks),
        policy_name=policy,
        on_progress=lambda what: click.echo(what, err=True),
        settings={"visits": visits},
    )
    click.echo(report.to_json() if as_json else report.table())


# --- rendering --------------------------------------------------------------------------------


def _bar(length: int, label: str) -> ProgressBar[str]:
    """A bar on stderr, drawn only when stderr is a terminal (as the binary's)."""
    return click.progressbar(
        length=length,
        label=label,
        hidden=not sys.stderr.isatty(),
        show_pos=True,
        item_show_func=lambda message: message,
        fill_char="=",
        empty_char=" ",
        width=30,
        file=sys.stderr,
    )


def _clear(bar: ProgressBar[str]) -> None:
    """Erases the bar's line and shows the cursor again (click hides it while a bar is drawn)."""
    if not bar.hidden:
        click.echo("\r\x1b[2K\x1b[?25h", err=True, nl=False)


def _rust_exp(value: float) -> str:
    """`value` as Rust's `{:.2e}` writes it (`3.00e-4`: no `+`, no leading zeros in the exponent)."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"
