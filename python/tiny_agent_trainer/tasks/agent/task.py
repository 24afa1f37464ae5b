"""The agent task's driver (`task.kind = "agent"`): the engine trains the model
(`architecture = "agent"`) on batches this module's `Source` makes from the frameworks, and
`tat eval` scores a run with the harness of `evaluate`.

The `Source` is what the engine's learner pulls data from:

- `vocabulary()`: every text the word tokenizer must cover: every framework's prompts, every
  question's answer classes, and the prompts and answers of a sample of each framework's
  examples (so prompts a framework composes are covered too). The engine learns the tokenizer
  from them when a run starts and keeps it in the run's checkpoints;
- `batch(seed, step)`: the training batch of a step, made by the `Mixer` of the config's
  `[frameworks]` table: a pure function of (seed, step), so a resumed run sees the same batches;
- `validation()`: a fixed batch of `dataset.eval_size` examples of every framework the config
  trains (weight above 0 in some stage), drawn from a stream of its own (`VALIDATION`), apart
  from training's and from the held-out examples `tat eval` scores (visited_qa: from the
  held-out games of `frameworks.visits`).

A batch goes to the engine as uint8 pictures (`image`, `canvases`, `target`), a `foreground`
mask (pixels that are not floor in the target or the input picture: the picture loss weighs them
`frameworks.foreground_weight` times more), a `changed` mask (pixels where the target differs
from the input picture: weighed at least `frameworks.changed_weight` times), the loss weights `weight_text` and `weight_image`, and
the texts `prompt`, `answer` and `framework`, and what a framework's own loss takes
(`Framework.loss_arrays`: the complex loss's inputs).
"""

from __future__ import annotations

import functools
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ... import _core
from ..._files import write_text
from ..._config_models import AgentConfig
from ...config import Config, ConfigError
from . import evaluate as harness
from .frameworks import base
from .frameworks.base import Batch
from .mixing import Mixer
from .render import PALETTE, WHITE

VALIDATION = 0x56414C44
"""The validation batches' stream tag ("VALD")."""
VOCABULARY_SAMPLE = 64
"""Examples of each framework whose texts join the vocabulary."""
REPORT_NAME = "agent_eval.json"
"""Where `evaluate` writes its report in the run folder."""


def frameworks_table(config: Config) -> dict[str, Any]:
    """The config's `[frameworks]` table as plain data (weights, stage, visits), or a `ValueError`
    (also where `colour_balance` names a framework the registry does not know)."""
    if config.frameworks is None:
        raise ValueError("frameworks: missing; an agent config needs e.g. [frameworks] weights = { control = 1 }")
    table = config.frameworks.model_dump()
    known = base.names()
    for name in table.get("colour_balance") or {}:
        if name not in known and name != "*":  # `*`: every framework not named
            raise ValueError(f"frameworks.colour_balance.{name}: unknown framework; known: {', '.join(known)}")
    return {"weights": table["weights"], "stage": table.get("stage") or [], "visits": [str(p) for p in table.get("visits") or []]}


def trained_frameworks(mixer: Mixer) -> list[str]:
    """The frameworks with a weight above 0 in some stage or after them, in registry order."""
    used = {name for weights in [mixer.weights, *(s.weights for s in mixer.stages)] for name, w in weights.items() if w > 0}
    return [name for name in base.names() if name in used]


def to_examples(batch: Batch) -> dict[str, Any]:
    """A framework's batch as the engine takes it (see the module)."""
    floor = PALETTE[WHITE]
    out: dict[str, Any] = {
        "image": np.ascontiguousarray(batch.image, dtype=np.uint8),
        "canvases": np.ascontiguousarray(batch.canvases, dtype=np.uint8),
        "weight_text": np.asarray(batch.weights.get("text", 0.0), dtype=np.float32),
        "weight_image": np.asarray(batch.weights.get("image", 0.0), dtype=np.float32),
        "prompt": list(batch.prompt),
        "answer": list(batch.answer),
        "framework": [batch.framework],
    }
    if batch.target is not None:
        out["target"] = np.ascontiguousarray(batch.target, dtype=np.uint8)
        moved = (batch.target != floor).any(axis=-1) | (batch.image != floor).any(axis=-1)
        out["foreground"] = moved.astype(np.uint8)
        out["changed"] = (batch.target != batch.image).any(axis=-1).astype(np.uint8)
    out.update(base.get(batch.framework).loss_arrays(batch))
    return out


class Source:
    """The engine's source of batches for a config (see the module)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.table = frameworks_table(config)
        model = config.model
        if not isinstance(model, AgentConfig):
            raise ValueError(f"model.architecture: {model.architecture!r}; the agent task trains architecture = \"agent\"")
        self.size = int(model.image_size)
        self.batch_size = int(config.training.batch_size)
        self.mixer = Mixer.from_config(self.table, int(config.training.seed))

    def vocabulary(self) -> list[str]:
        texts: list[str] = []
        for name in base.names():
            framework = base.get(name)
            texts += framework.prompt_texts()
            texts += [c for q in framework.questions for c in q.classes]
            if not base.available(name):  # visited_qa: relposition_qa's texts, made from files
                continue
            sample = framework.make(VOCABULARY_SAMPLE, np.random.default_rng([VALIDATION, 1, zlib.crc32(name.encode())]), 16)
            texts += sample.prompt + sample.answer
        return texts

    def batch(self, seed: int, step: int) -> dict[str, Any]:
        if seed != self.mixer.seed:
            self.mixer = Mixer.from_config(self.table, int(seed))
        return to_examples(self.mixer.batch(step, self.batch_size, self.size))

    def validation(self) -> list[dict[str, Any]]:
        n = int(self.config.dataset.eval_size)
        out = []
        for name in trained_frameworks(self.mixer):
            rng = np.random.default_rng([VALIDATION, 0, zlib.crc32(name.encode())])
            framework = base.get(name, {**self.mixer.settings, "held_out": True})
            out.append(to_examples(framework.make(n, rng, self.size)))
        return out


def train(
    config: Config,
    *,
    resume: bool = False,
    on_start: Optional[Callable[[str, int, dict[str, Any]], object]] = None,
    on_step: Optional[Callable[[dict[str, Any]], object]] = None,
    on_epoch: Optional[Callable[[dict[str, Any]], object]] = None,
) -> Path:
    """Trains the agent a config describes into its run folder and returns the folder. With
    `resume`, an interrupted run continues from its `last` checkpoint. Ctrl-C saves `last` and
    raises `KeyboardInterrupt`."""
    if config.task.seeds:
        raise ConfigError(
            f"{config.source or 'config'}: field `task.seeds`: found {list(config.task.seeds)}, but the agent "
            "trains one run, with `training.seed`. Fix: remove `task.seeds` and set `training.seed` "
            "(or pass `--seed N`), one run per seed.",
            "task.seeds",
        )
    source = Source(config)
    seed = int(config.training.seed)
    summary = _core.train(
        config.to_toml(),
        None if config.source is None else str(config.source),
        resume=resume,
        data=source,
        on_start=None if on_start is None else functools.partial(on_start, "agent", seed),
        on_step=on_step,
        on_epoch=on_epoch,
    )
    return Path(summary["run_dir"])


def run_visits(path: str | os.PathLike[str]) -> list[str]:
    """The visits files (`frameworks.visits`) of the config an agent run (its `best`, else `last`)
    or checkpoint was trained with: the harness asks visited_qa about their held-out games."""
    path = Path(path)
    for folder in (path, path / "best", path / "last"):
        if (folder / "config.toml").is_file():
            config = Config.from_toml(folder / "config.toml")
            return frameworks_table(config)["visits"] if config.frameworks is not None else []
    return []


def _is_agent(path: Path) -> bool:
    spec = _core.run_task(path)
    return spec is not None and spec["name"] == "agent"


def owns_run(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is an agent run folder (its checkpoints are an agent's)."""
    path = Path(path)
    return ((path / "best").is_dir() or (path / "last").is_dir()) and _is_agent(path)


def owns_path(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is an agent run or one of its checkpoints."""
    path = Path(path)
    return path.is_dir() and _is_agent(path)


def load(
    path: str | os.PathLike[str], *, device: str = "auto", threads: int | None = None, precision: str | None = None
) -> Any:
    """The trained agent of a run folder (its `best`, else `last`) or checkpoint."""
    from .model import AgentModel

    return AgentModel.load(path, device=device, threads=threads, precision=precision)


def curves(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Draws the run's curves per framework (`tat plot RUN`; default `RUN/curves.png`)."""
    from .draw import curves_png

    return curves_png(run_dir, out)


def evaluate(
    run_dir: str | os.PathLike[str],
    *,
    device: str = "auto",
    precision: str | None = None,
    on_progress: Optional[Callable[[str], object]] = None,
    n: int = harness.DEFAULT_N,
    frameworks: list[str] | None = None,
    episodes: int | None = None,
    seed: int = 0,
) -> harness.Report:
    """Scores the run's agent with the harness on `n` held-out examples per framework (all by
    default) and in closed-loop episodes; writes the report to `run_dir / REPORT_NAME`."""
    from .model import AgentModel

    model = AgentModel.load(run_dir, device=device, precision=precision)
    settings = {"visits": run_visits(run_dir)}
    report = harness.evaluate(
        model,
        frameworks,
        n,
        seed,
        model.size,
        episodes=episodes,
        closed_loop=episodes != 0,
        policy_name=str(run_dir),
        on_progress=on_progress,
        settings=settings,
    )
    write_text(Path(run_dir) / REPORT_NAME, report.to_json() + "\n", "report")
    return report
