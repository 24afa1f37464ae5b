"""gold_direction_qa: will going straight ahead reach the gold?

- Scenes: bare (side walls, one gold piece anywhere). Balanced (`aim_half`): in half the scenes
  (drawn per scene) the heading is turned towards the gold, to its angle plus U(-w, w) with
  w = 1.5 asin(min(1, (AGENT_R + GOLD_R) / distance)) (1.5 times the half-width of the headings
  that reach it), so that near misses are common too; the others keep a uniform heading.
  Picture: the scene. No canvases.
- Question `gold_ahead` (yes, no): yes iff `Scenes.reaches_forward` (moving only forward, with
  the game's rules, eats a gold piece). Base rates: about 33% yes (uniform headings alone: 6%).
- Weights: text 1, image 0.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes, make_scenes
from .base import Question, QuestionFramework, aim_half, register


@register
class GoldDirectionQA(QuestionFramework):
    name = "gold_direction_qa"
    description = "will going straight ahead reach the gold"
    questions = (
        Question(
            "gold_ahead",
            (
                "will going straight ahead reach the gold",
                "is the gold straight ahead of you",
                "are you heading straight for the gold",
                "is the gold in your path",
            ),
            ("yes", "no"),
        ),
    )

    def draw(self, n: int, rng: np.random.Generator) -> Scenes:
        return aim_half(make_scenes(n, rng, self.kind), rng)

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        return np.where(scenes.reaches_forward(), 0, 1)[None]
