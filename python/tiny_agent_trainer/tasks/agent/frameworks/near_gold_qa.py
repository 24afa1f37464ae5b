"""near_gold_qa: is the agent near the gold?

- Scenes: bare (side walls, one gold piece). Balanced: half the scenes (drawn per scene) place
  the gold within `NEAR` of the agent in each coordinate (`make_scenes(gold_near=NEAR)`), the
  others anywhere. Picture: the scene. No canvases.
- Question `near` (yes, no): yes iff the centre distance is below `NEAR` = 0.15 (three agent
  radii, the original's threshold). Base rates: about 43% yes (gold anywhere alone: 7%).
- Weights: text 1, image 0.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes, make_scenes
from .base import Question, QuestionFramework, concat_scenes, register

NEAR = 0.15


@register
class NearGoldQA(QuestionFramework):
    name = "near_gold_qa"
    description = "is the gold within 0.15 of the agent"
    questions = (
        Question(
            "near",
            (
                "are you near the gold",
                "is the gold close to you",
                "is the gold nearby",
                "are you close to the gold",
            ),
            ("yes", "no"),
        ),
    )

    def draw(self, n: int, rng: np.random.Generator) -> Scenes:
        near = rng.random(n) < 0.5
        k = int(near.sum())
        both = concat_scenes([make_scenes(k, rng, self.kind, gold_near=NEAR), make_scenes(n - k, rng, self.kind)])
        order = np.empty(n, dtype=np.int64)  # the near scenes where `near`, in order, the others elsewhere
        order[near] = np.arange(k)
        order[~near] = np.arange(k, n)
        return both.select(order)

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        return np.where(scenes.gold_distance().min(axis=1) < NEAR, 0, 1)[None]
