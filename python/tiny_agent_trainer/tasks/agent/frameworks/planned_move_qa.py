"""planned_move_qa: the best move, with the way to the gold drawn in memory (plan, then act).

- Scenes: relposition_qa's (placed bare and full scenes, walked and pressed ones).
- Input: the scene. One canvas: way_to_gold's picture of the same scene, the blue line from the
  agent towards the point the best move steers for (`Scenes.steer`). A model that plans draws
  this picture first (`AgentModel.load(run, plan=True)`: its own drawing becomes the canvas, as
  canvas memory keeps what it imagined); here the truth stands in for that drawing.
- Question: `best_move` alone, relposition_qa's question with its prompts and classes (the
  closed loop asks relposition_qa's; a planning model asks it with its drawing as the canvas).
- Base rates: relposition_qa's best move (29% forward, 34% clockwise, 37% anticlockwise).
- Weights: text 1, image 0.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from .base import Batch, register
from .relposition_qa import RelPositionQA
from .way_to_gold import WayToGold


@register
class PlannedMoveQA(RelPositionQA):
    name = "planned_move_qa"
    description = "the best move, with the way to the gold (way_to_gold's picture) as the canvas"
    questions = (RelPositionQA.questions[2],)  # best_move

    def examples(self, scenes: Scenes, question: np.ndarray, rng: np.random.Generator, size: int) -> Batch:
        batch = super().examples(scenes, question, rng, size)
        batch.canvases = WayToGold().target(scenes, size)[:, None]
        return batch

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        return scenes.best_move()[None]
