"""visited_qa: the best move in the states an agent reached in its own games (DAgger).

- Scenes: states drawn uniformly (with replacement) from the files `frameworks.visits` names
  (`tat agent visits` records them: every state a policy passed through in closed-loop games,
  once per game; `visits.py`). Training draws from the games not held out; validation and the
  harness from the held-out ones (every eighth game). Picture: the scene. No canvases.
- Question: `best_move` alone, relposition_qa's question with its prompts and classes
  (`Scenes.best_move`, the oracle; the closed loop asks relposition_qa's).
- Base rates: those of the states recorded (a trained agent's lost games stand against walls and
  turn back and forth; `tat agent eval --framework visited_qa --policy majority --visits F`).
- Weights: text 1, image 0.
- Without `frameworks.visits` the framework makes no examples (the error says how to record
  some); the harness leaves it out unless given visits.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..game import Scenes
from ..visits import load
from .base import concat_scenes, register
from .relposition_qa import RelPositionQA


@register
class VisitedQA(RelPositionQA):
    name = "visited_qa"
    description = "the best move in states an agent reached in its own closed-loop games (DAgger)"
    questions = (RelPositionQA.questions[2],)  # best_move

    def __init__(self, visits: tuple[Path, ...] = (), held_out: bool = False) -> None:
        self.visits = visits
        self.held_out = held_out
        self._states: Scenes | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> VisitedQA:
        return cls(tuple(Path(p) for p in settings.get("visits") or ()), bool(settings.get("held_out", False)))

    @classmethod
    def available(cls, settings: Mapping[str, Any]) -> bool:
        return bool(settings.get("visits"))

    def states(self) -> Scenes:
        """Every state of the files' split, in file order (read once)."""
        if self._states is not None:
            return self._states
        if not self.visits:
            raise ValueError(
                "visited_qa: no states to ask about. Fix: record some (tat agent visits --policy RUN --out "
                "visits.npz) and name the file in the config's [frameworks] visits = [\"visits.npz\"]."
            )
        scenes = concat_scenes([load(p).split(self.held_out).scenes for p in self.visits])
        if not len(scenes):
            which = "held-out" if self.held_out else "training"
            raise ValueError(
                f"visited_qa: the files {', '.join(map(str, self.visits))} hold no {which} states. Fix: record more "
                "games (tat agent visits --episodes N, N >= 2; every eighth game is held out)."
            )
        self._states = scenes
        return scenes

    def draw(self, n: int, rng: np.random.Generator) -> Scenes:
        scenes = self.states()
        return scenes.select(rng.integers(len(scenes), size=n))

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        return scenes.best_move()[None]
