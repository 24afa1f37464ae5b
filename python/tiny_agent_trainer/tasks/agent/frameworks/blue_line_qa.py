"""blue_line_qa: is the blue line within 30 degrees of where the agent faces?

- Scenes: bare (side walls, one gold piece anywhere), plus a blue line from the agent's rim, of
  1 to 4 agent diameters (uniform). Its angle, as the original: with probability 1/2 "near",
  heading + U(-30, 30) degrees, else "far", heading + 30 + U(0, 300) degrees. The line may run
  over walls and gold, or off the board. Picture: the scene with the line. No canvases.
- Question `line_ahead` (yes, no): yes iff the line's angle is less than 30 degrees from the
  heading (|wrap(line - heading)| < pi/6). Base rate: 50% yes.
- `extra`: `line_angle`, `line_length` (n,). Weights: text 1, image 0.
"""

from __future__ import annotations

import math

import numpy as np

from ..game import Scenes, wrap
from .base import Question, QuestionFramework, blue_line, register

CONE = math.pi / 6


@register
class BlueLineQA(QuestionFramework):
    name = "blue_line_qa"
    description = "is the blue line within 30 degrees of the heading"
    questions = (
        Question(
            "line_ahead",
            (
                "is the blue line within thirty degrees of where you face",
                "does the blue line point roughly where you are facing",
                "is the blue line close to your heading",
                "are you facing along the blue line",
            ),
            ("yes", "no"),
        ),
    )

    def features(self, scenes: Scenes, rng: np.random.Generator) -> dict[str, np.ndarray]:
        n = len(scenes)
        near = rng.random(n) < 0.5
        offset = np.where(near, rng.uniform(-CONE, CONE, n), CONE + rng.uniform(0, 2 * math.pi - 2 * CONE, n))
        return blue_line(rng, scenes.heading + offset)

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        ahead = np.abs(wrap(extra["line_angle"] - scenes.heading)) < CONE
        return np.where(ahead, 0, 1)[None]
