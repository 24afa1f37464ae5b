"""The binding task's training, evaluation and inference, on the engine.

The seam every Python-driven task uses: this module makes the data (`binding.make_splits`) and
scores the answers; the engine (`_core.train(..., examples=...)` and `_core.Transducer`) owns
the tokenizer, the models, the losses and the training loop with its checkpoints.

A run folder holds one engine run per model and seed::

    runs/binding/binder/seed_0/{best,last,metrics.jsonl,...}
    runs/binding/baseline/seed_0/...

Seed `s` draws the programs with `make_splits(s)` (so each seed also holds out its own pairings)
and trains with `training.seed = s`. `[model]` is the binder; `[baseline]` the plain transformer.
Output words reach the engine in lower case, the spelling of the input's action and direction
words, so the binder's pointer can copy them; `predict` gives them back in upper case.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import tomli
import numpy.typing as npt

from .. import _core
from .._files import write_text
from ..config import Config
from . import binding

MODELS = ("binder", "baseline")
"""The run's models: `[model]` and `[baseline]` of the config."""
EVAL_SPLITS = binding.SPLITS[1:]
REPORT_NAME = "eval.json"
VAL_NAME = "val"


def seeds_of(config: Config) -> list[int]:
    """The seeds a config trains: `task.seeds`, else `training.seed` alone."""
    return list(config.task.seeds) or [config.training.seed]


def run_folder(run_dir: Path, model: str, seed: int) -> Path:
    return run_dir / model / f"seed_{seed}"


def trained_seeds(run_dir: Path) -> list[int]:
    """The seeds with a binder folder in `run_dir` (written by `run_folder`), in order."""
    return sorted(int(p.name.removeprefix("seed_")) for p in (run_dir / MODELS[0]).glob("seed_*"))


def engine_pairs(examples: Sequence[binding.Example]) -> list[tuple[str, str]]:
    """(program, output) as the engine trains on them: outputs in the input's lower case."""
    return [(e.program, e.output.lower()) for e in examples]


def task_data(config: Config, seed: int) -> dict[str, list[binding.Example]]:
    """The seed's splits, with the last `eval_size` training programs held out as `val` (the
    engine's validation loss and `best` checkpoint come from them)."""
    splits = binding.make_splits(seed, config.dataset.train_size + config.dataset.eval_size, config.dataset.eval_size)
    train = splits["train"]
    splits["train"], splits[VAL_NAME] = train[: config.dataset.train_size], train[config.dataset.train_size :]
    return splits


def sub_config(config: Config, model: str, seed: int, run_dir: Path) -> Config:
    """The engine config of one model and seed."""
    if model == "baseline" and config.baseline is None:
        raise _core.ConfigError(
            "the binding task compares the binder with a baseline, but the config has no [baseline] section. "
            "Fix: add a [baseline] section (a transformer of similar size; see config/binding.toml)."
        )
    section = config.model if model == "binder" else config.baseline
    training = config.training.model_copy(update={"seed": seed, "output_dir": str(run_folder(run_dir, model, seed))})
    task = config.task.model_copy(update={"seeds": []})
    return config.model_copy(update={"model": section, "baseline": None, "training": training, "task": task})


def train(
    config: Config,
    *,
    resume: bool = False,
    models: Sequence[str] = MODELS,
    on_start: Optional[Callable[[str, int, dict[str, Any]], object]] = None,
    on_step: Optional[Callable[[dict[str, Any]], object]] = None,
    on_epoch: Optional[Callable[[dict[str, Any]], object]] = None,
) -> Path:
    """Trains every model of `models` for every seed into the config's run folder; returns it.

    With `resume`, a finished engine run is left as it is, an interrupted one continues from its
    `last`, and one not started yet starts. Ctrl-C saves `last` of the run in progress and raises
    `KeyboardInterrupt`.
    """
    run_dir = config.output_dir()
    for seed in seeds_of(config):
        data = None
        for model in models:
            folder = run_folder(run_dir, model, seed)
            started = (folder / "last").exists() or (folder / "best").exists()
            if resume and started and _finished(folder, config.training.epochs):
                continue
            if data is None:
                data = task_data(config, seed)
            examples = {"train": engine_pairs(data["train"]), "val": engine_pairs(data[VAL_NAME])}
            engine_config = sub_config(config, model, seed, run_dir)
            _core.train(
                engine_config.to_toml(),
                None,
                resume=resume and started,
                examples=examples,
                on_start=None if on_start is None else functools.partial(on_start, model, seed),
                on_step=on_step,
                on_epoch=on_epoch,
            )
    return run_dir


def _finished(folder: Path, epochs: int) -> bool:
    state = folder / "last" / "state.json"
    return state.is_file() and json.loads(state.read_text())["epoch"] >= epochs


@dataclass
class SplitScores:
    """Per model, the exact-match share of each seed on one split."""

    per_seed: dict[str, list[float]] = field(default_factory=dict)

    def mean(self, model: str) -> float:
        return float(np.mean(self.per_seed[model]))

    def spread(self, model: str) -> float:
        return _half_range(self.per_seed[model])


@dataclass
class BindingReport:
    """`tat eval` for a binding run: sequence exact match per split for each model, mean over
    seeds with the spread, and how often the binder's `bindings` name the true source position."""

    run_dir: Path
    seeds: list[int]
    models: list[str]
    splits: dict[str, SplitScores]
    binding_agreement: dict[str, list[float]]
    """Per split (pairings), per seed: share of output words whose binding is the true position."""
    examples: dict[str, int]

    def table(self) -> str:
        header = f"{'split':<20}" + "".join(f"{m:>22}" for m in self.models) + f"{'programs':>10}"
        lines = [header, "-" * len(header)]
        for split, scores in self.splits.items():
            cells = "".join(
                f"{_percent(scores.mean(m)):>13} ± {_percent(scores.spread(m)):<6}" for m in self.models
            )
            lines.append(f"{split:<20}{cells}{self.examples[split]:>10}")
        for split, values in self.binding_agreement.items():
            mean, spread = float(np.mean(values)), _half_range(values)
            lines.append(f"\nbindings agree with the true source position on {split}: "
                         f"{_percent(mean)} ± {_percent(spread)} of output words (binder)")
        lines.append(f"\nsequence exact match, mean ± half-range over seeds {', '.join(map(str, self.seeds))}")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "seeds": self.seeds,
            "models": self.models,
            "exact_match": {
                split: {m: {"mean": s.mean(m), "spread": s.spread(m), "per_seed": s.per_seed[m]} for m in self.models}
                for split, s in self.splits.items()
            },
            "binding_agreement": self.binding_agreement,
            "examples": self.examples,
        }

    def save(self) -> Path:
        return write_text(self.run_dir / REPORT_NAME, json.dumps(self.to_dict(), indent=2) + "\n", "report")


def _half_range(values: list[float]) -> float:
    """The spread reported beside a mean over seeds: half the range (0 for one seed)."""
    return (max(values) - min(values)) / 2


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def owns_run(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a binding run folder (it holds `binder/`)."""
    return (Path(path) / MODELS[0]).is_dir()


def owns_path(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a binding run, or one of its engine runs or checkpoints."""
    path = Path(path)
    if owns_run(path):
        return True
    for config in (path / "config.toml", path / "best" / "config.toml", path / "last" / "config.toml"):
        if config.is_file():
            try:
                return tomli.loads(config.read_text(encoding="utf-8")).get("task", {}).get("kind") == "binding"
            except (tomli.TOMLDecodeError, UnicodeDecodeError, AttributeError):
                return False
    return False


def _checkpoint_config_path(folder: Path) -> Path:
    for name in ("best", "last"):
        path = folder / name / "config.toml"
        if path.is_file():
            return path
    raise _core.CheckpointError(
        f"{folder}: holds no best/ or last/ checkpoint. Fix: finish training it (`tat train CONFIG --resume`)."
    )


def evaluate(run_dir: str | os.PathLike[str], *, device: str = "auto", precision: str | None = None,
             on_progress: Optional[Callable[[str], object]] = None) -> BindingReport:
    """Scores every model and seed of a binding run on every evaluation split of its seed
    (`precision` replaces the one the models were trained with)."""
    run_dir = Path(run_dir)
    seeds = trained_seeds(run_dir)
    if not seeds:
        raise _core.CheckpointError(
            f"{run_dir}: not a binding run (no {MODELS[0]}/seed_*/ inside). "
            "Fix: pass the folder `tat train config/binding.toml` wrote, e.g. runs/binding."
        )
    models = [m for m in MODELS if all(run_folder(run_dir, m, s).is_dir() for s in seeds)]
    scores = {split: SplitScores({m: [] for m in models}) for split in EVAL_SPLITS}
    agreement: dict[str, list[float]] = {"pairings": []}
    examples: dict[str, int] = {}
    for seed in seeds:
        config = Config.from_toml(_checkpoint_config_path(run_folder(run_dir, MODELS[0], seed)))
        splits = binding.make_splits(seed, config.dataset.train_size + config.dataset.eval_size, config.dataset.eval_size)
        for model in models:
            if on_progress is not None:
                on_progress(f"{model} seed {seed}")
            loaded = BindingModel.load(run_folder(run_dir, model, seed), device=device, precision=precision)
            for split in EVAL_SPLITS:
                programs = splits[split]
                examples[split] = len(programs)
                predicted = loaded.predict([e.program for e in programs])
                hits = sum(p == e.output for p, e in zip(predicted, programs))
                scores[split].per_seed[model].append(hits / len(programs))
            if model == "binder":
                agreement["pairings"].append(loaded.binding_agreement(splits["pairings"]))
    report = BindingReport(run_dir, seeds, models, scores, agreement, examples)
    report.save()
    return report


class BindingModel:
    """A trained binding model: `predict` programs, or `run` one to see its bindings."""

    def __init__(self, transducer: _core.Transducer):
        self._transducer = transducer

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        device: str = "auto",
        threads: int | None = None,
        precision: str | None = None,
    ) -> BindingModel:
        """A binding run folder (its first seed's binder), or one engine run or checkpoint;
        `precision` (`auto`, `fp32`, `bf16`) replaces the one it was trained with."""
        path = Path(path)
        if owns_run(path) and trained_seeds(path):
            path = run_folder(path, MODELS[0], trained_seeds(path)[0])
        return cls(_core.Transducer.load(path, device=device, threads=threads, precision=precision))

    @property
    def path(self) -> Path:
        return Path(self._transducer.path)

    def predict(self, programs: Sequence[str]) -> list[str]:
        """Each program's output, e.g. `["JUMP"]` for `["X means jump do X"]`. A program outside
        the language raises `binding.BindingError` naming the offending word."""
        for program in programs:
            binding.trace(program)
        return [out.upper() for out in self._transducer.predict(list(programs))]

    def run(self, program: str) -> dict[str, npt.NDArray[Any]]:
        """The binder's answer with its reasons, as numpy arrays: `output` (the words),
        `action_logits` `[words, vocabulary]` (log-probabilities; `vocabulary` names the columns,
        `<pad>` meaning "emit nothing"), `bindings` `[words]` (the input position each word was
        read from) and `binding_scores` `[words, input words]` (the attention over input
        positions behind that choice)."""
        binding.trace(program)
        explained = self._transducer.explain(program)
        return {
            "output": np.array([w.upper() for w in explained["words"]]),
            "action_logits": explained["action_logits"],
            "bindings": explained["bindings"],
            "binding_scores": explained["binding_scores"],
        }

    @property
    def vocabulary(self) -> list[str]:
        return list(self._transducer.vocabulary)

    def binding_agreement(self, examples: Sequence[binding.Example]) -> float:
        """Share of true output words whose predicted binding is their true source position
        (a missing or extra word counts as a disagreement)."""
        agree = total = 0
        for example in examples:
            bindings = list(self.run(example.program)["bindings"])
            truth = example.source_positions
            agree += sum(p == t for p, t in zip(bindings, truth))
            total += max(len(truth), len(bindings))
        return agree / total if total else math.nan

    def __repr__(self) -> str:
        return f"BindingModel.load({str(self.path)!r})"


def load(
    path: str | os.PathLike[str], *, device: str = "auto", threads: int | None = None, precision: str | None = None
) -> BindingModel:
    """The binding model at `path` (the task registry's `load`; see `BindingModel.load`)."""
    return BindingModel.load(path, device=device, threads=threads, precision=precision)


def plot(run_dir: str | os.PathLike[str], item: str, out: str | os.PathLike[str] | None = None) -> Path:
    """The binder's binding scores for the program `item` as a heat map (the task registry's
    `plot`; see `tiny_agent_trainer.plot.plot_binding`)."""
    from ..plot import plot_binding  # matplotlib is slow to import: only when drawing

    return plot_binding(run_dir, item, out)
