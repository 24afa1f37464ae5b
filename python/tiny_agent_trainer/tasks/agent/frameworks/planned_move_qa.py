"""planned_move_qa: the best move, with the plan drawn in memory (plan, then act).

- Scenes: relposition_qa's (placed bare and full scenes, walked and pressed ones).
- Input: the scene. One canvas: closer_places' picture of the same scene, the floor blue where
  the way round the walls to the gold is shorter than the agent's (next to the agent it lies on
  the side the best move turns to). A model that plans draws this picture first
  (`AgentModel.load(run, plan=True)`: its own drawing becomes the canvas, as canvas memory keeps
  what it imagined); here the truth stands in for that drawing. (way_to_gold's line was the
  first plan tried: a model draws it round a wall no better than it answers, docs/agent.md.)
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
from .closer_places import CloserPlaces


@register
class PlannedMoveQA(RelPositionQA):
    name = "planned_move_qa"
    description = "the best move, with the places nearer the gold (closer_places' picture) as the canvas"
    questions = (RelPositionQA.questions[2],)  # best_move

    def examples(self, scenes: Scenes, question: np.ndarray, rng: np.random.Generator, size: int) -> Batch:
        batch = super().examples(scenes, question, rng, size)
        batch.canvases = CloserPlaces().target(scenes, size)[:, None]
        return batch

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        return scenes.best_move()[None]
