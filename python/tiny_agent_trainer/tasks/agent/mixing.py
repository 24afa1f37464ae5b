"""Which framework makes each training step's batch: weighted sampling and a curriculum.

Each step's batch comes from one framework (its pictures, canvases and loss weights are then
the same across the batch), drawn with probability proportional to the weights in force at that
step. The curriculum is a list of stages, each with its own weights, in force for the steps
before its `until_step` (and after the previous stage's); after the last stage the top-level
weights apply (they apply throughout when there are no stages). Everything is a pure function
of (seed, step): the framework and the batch's examples for step s are drawn from
`np.random.default_rng([seed, step])`, so a resumed run sees the same sequence.

The config shape, a `[frameworks]` TOML table:

    [frameworks]
    weights = { position_qa = 2, control = 1 }

    [[frameworks.stage]]
    until_step = 2000
    weights = { control = 1 }

A weight of 0 leaves a framework out; every framework named must be registered. `visits = [...]`
names the files of recorded states `visited_qa` draws from (`visits.py`); training it without them
is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .frameworks import base
from .frameworks.base import Batch, Framework


@dataclass(frozen=True)
class Stage:
    """The weights in force for the steps before `until_step` (and after the previous stage's)."""

    until_step: int
    weights: dict[str, float]


def _weights(value: Any, where: str) -> dict[str, float]:
    """Validated weights: a table of registered framework names to finite numbers >= 0, one at
    least positive. Errors name the bad key by its path in the config."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a table of framework names to weights, got {type(value).__name__}")
    known = base.names()
    out = {}
    for name, weight in value.items():
        if name not in known:
            raise ValueError(f"{where}.{name}: unknown framework; known: {', '.join(known)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"{where}.{name}: the weight must be a finite number >= 0, got {weight!r}")
        out[str(name)] = float(weight)
    if not any(w > 0 for w in out.values()):
        raise ValueError(f"{where}: at least one framework needs a weight above 0")
    return out


class Mixer:
    """Draws the framework, and makes the batch, of each training step (see the module)."""

    def __init__(
        self,
        weights: Mapping[str, float],
        stages: Sequence[Stage | Mapping[str, Any]] = (),
        seed: int = 0,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.weights = _weights(weights, "frameworks.weights")
        self.stages: list[Stage] = []
        for i, stage in enumerate(stages):
            where = f"frameworks.stage[{i}]"
            if isinstance(stage, Mapping):
                unknown = set(stage) - {"until_step", "weights"}
                if unknown:
                    raise ValueError(f"{where}.{sorted(unknown)[0]}: unknown key; expected until_step and weights")
                if "until_step" not in stage or "weights" not in stage:
                    raise ValueError(f"{where}: needs until_step and weights")
                stage = Stage(stage["until_step"], stage["weights"])
            until = stage.until_step
            if isinstance(until, bool) or not isinstance(until, int) or until <= 0:
                raise ValueError(f"{where}.until_step: expected a positive integer, got {until!r}")
            if self.stages and until <= self.stages[-1].until_step:
                raise ValueError(
                    f"{where}.until_step: {until} is not after the previous stage's {self.stages[-1].until_step}"
                )
            self.stages.append(Stage(until, _weights(stage.weights, f"{where}.weights")))
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
        self.seed = seed
        self.settings = dict(settings or {})
        for where, table in [("frameworks.weights", self.weights)] + [
            (f"frameworks.stage[{i}].weights", stage.weights) for i, stage in enumerate(self.stages)
        ]:
            for name, weight in table.items():
                if weight > 0 and not base.available(name, self.settings):
                    raise ValueError(
                        f"{where}.{name}: this framework asks about recorded states, but frameworks.visits names "
                        "none. Fix: record some (tat agent visits --policy RUN --out visits.npz) and set "
                        "[frameworks] visits = [\"visits.npz\"], or give it weight 0."
                    )
        self._frameworks: dict[str, Framework] = {}

    @classmethod
    def from_config(cls, table: Mapping[str, Any], seed: int = 0) -> Mixer:
        """The mixer of a `[frameworks]` table (`weights`, optional `stage` list and `visits`, the
        files visited_qa reads); `seed` is the run's."""
        unknown = set(table) - {"weights", "stage", "visits"}
        if unknown:
            raise ValueError(f"frameworks.{sorted(unknown)[0]}: unknown key; expected weights, stage and visits")
        if "weights" not in table:
            raise ValueError("frameworks.weights: missing; e.g. weights = { control = 1, position_qa = 2 }")
        stages = table.get("stage", [])
        if not isinstance(stages, Sequence) or isinstance(stages, (str, bytes)):
            raise ValueError("frameworks.stage: expected a list of tables ([[frameworks.stage]])")
        visits = table.get("visits") or []
        if isinstance(visits, (str, bytes)) or not isinstance(visits, Sequence):
            raise ValueError(f"frameworks.visits: expected a list of files, got {visits!r}")
        return cls(table["weights"], stages, seed, {"visits": [str(p) for p in visits]})

    def weights_at(self, step: int) -> dict[str, float]:
        """The weights in force at `step`."""
        for stage in self.stages:
            if step < stage.until_step:
                return stage.weights
        return self.weights

    def _rng(self, step: int) -> np.random.Generator:
        if step < 0:
            raise ValueError(f"step {step}: expected >= 0")
        return np.random.default_rng([self.seed, step])

    @staticmethod
    def _draw(weights: dict[str, float], rng: np.random.Generator) -> str:
        names = list(weights)
        p = np.array([weights[n] for n in names])
        return names[int(rng.choice(len(names), p=p / p.sum()))]

    def framework_at(self, step: int) -> str:
        """The name of the framework that makes `step`'s batch."""
        return self._draw(self.weights_at(step), self._rng(step))

    def batch(self, step: int, n: int, size: int) -> Batch:
        """`step`'s batch: `n` examples of its framework, pictures `size` pixels square."""
        rng = self._rng(step)
        name = self._draw(self.weights_at(step), rng)
        if name not in self._frameworks:
            self._frameworks[name] = base.get(name, self.settings)
        return self._frameworks[name].make(n, rng, size)
