"""comparison_v1: which of two games needs fewer moves to reach the gold?

- Scenes: two bare scenes per example (side walls, one gold piece anywhere), shown in turn: the
  first scene's picture is the canvas, the second's the input picture. `Batch.scenes` are the
  second scenes.
- Question `fewer_moves` (first, second): first iff the first scene needs at most as many of
  the oracle's moves to eat the gold as the second (`Scenes.steps_to_gold`, capped at `CAP`):
  ties answer first. `make` avoids ties: a second scene that ties is drawn again (up to
  `REDRAWS` times), so ties are rare (none in 3,000 examples); `ask` keeps the scenes it is
  given (the second ones; the first are drawn fresh).
- Base rates: about 50% first.
- `extra`: `first_steps`, `second_steps` (n,). Canvases: (n, 1, S, S, 3). Weights: text 1,
  image 0.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes, make_scenes
from ..render import render
from .base import Batch, Question, QuestionFramework, concat_scenes, register

CAP = 100
"""`Scenes.steps_to_gold`'s cap: a scene the oracle does not finish counts this many moves."""
REDRAWS = 4


@register
class ComparisonV1(QuestionFramework):
    name = "comparison_v1"
    description = "which of two games (canvas, input) needs fewer oracle moves to the gold"
    questions = (
        Question(
            "fewer_moves",
            (
                "which game needs fewer moves to reach the gold the first or the second",
                "in which game is the gold fewer moves away the first or the second",
                "which game is quicker to finish the first or the second",
                "is the gold fewer moves away in the first game or in the second",
            ),
            ("first", "second"),
        ),
    )

    def make(self, n: int, rng: np.random.Generator, size: int) -> Batch:
        first = make_scenes(n, rng, self.kind)
        second = make_scenes(n, rng, self.kind)
        first_steps, second_steps = np.split(concat_scenes([first, second]).steps_to_gold(CAP), 2)
        for _ in range(REDRAWS):
            tied = np.nonzero(first_steps == second_steps)[0]
            if not len(tied):
                break
            again = make_scenes(len(tied), rng, self.kind)
            second.agent[tied], second.heading[tied], second.gold[tied], second.walls[tied] = (
                again.agent, again.heading, again.gold, again.walls,
            )
            second_steps[tied] = again.steps_to_gold(CAP)
        return self.compare(first, second, first_steps, second_steps, rng, size)

    def examples(self, scenes: Scenes, question: np.ndarray, rng: np.random.Generator, size: int) -> Batch:
        first = make_scenes(len(scenes), rng, self.kind)
        first_steps, second_steps = np.split(concat_scenes([first, scenes]).steps_to_gold(CAP), 2)
        return self.compare(first, scenes, first_steps, second_steps, rng, size)

    def compare(
        self, first: Scenes, second: Scenes, first_steps: np.ndarray, second_steps: np.ndarray,
        rng: np.random.Generator, size: int,
    ) -> Batch:
        """The examples comparing `first` (the canvas) with `second` (the input)."""
        n = len(second)
        label = np.where(first_steps <= second_steps, 0, 1)
        return self.assemble(
            second, np.zeros(n, dtype=np.int64), label, render(second, size), rng,
            canvases=render(first, size)[:, None], extra={"first_steps": first_steps, "second_steps": second_steps},
        )
