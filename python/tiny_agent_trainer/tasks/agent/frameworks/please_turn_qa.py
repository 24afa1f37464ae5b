"""please_turn_qa: turn towards or away from the gold or the blue line.

- Scenes: bare (side walls, one gold piece anywhere), plus a blue line from the agent's rim at a
  uniformly random angle, of 1 to 4 agent diameters (uniform); the line is a distractor for the
  gold questions. Picture: the scene with the line. No canvases.
- Questions, each answered by the move that starts the turn (clockwise, anticlockwise):
  - `towards_gold`: the shorter turn towards the nearest gold, `Scenes.turn_towards_gold`
    (anticlockwise iff the gold lies to the left of the heading, signed angle > 0);
  - `towards_line`: likewise towards the line's angle (anticlockwise iff wrap(line - heading) > 0);
  - `away_from_gold`, `away_from_line`: the other turn (the one that widens the angle).
  Exactly ahead or behind (never drawn) answer clockwise towards, anticlockwise away.
- Base rates: 50/50 for each question.
- `extra`: `line_angle`, `line_length` (n,). Weights: text 1, image 0.
"""

from __future__ import annotations

import math

import numpy as np

from ..game import ANTICLOCKWISE, Scenes, wrap
from .base import Question, QuestionFramework, blue_line, register

TURNS = ("clockwise", "anticlockwise")


@register
class PleaseTurnQA(QuestionFramework):
    name = "please_turn_qa"
    description = "turn towards or away from the gold or the blue line"
    questions = (
        Question(
            "towards_gold",
            ("please turn towards the gold", "turn to face the gold", "face the gold please"),
            TURNS,
        ),
        Question(
            "towards_line",
            ("please turn towards the blue line", "turn to face the blue line", "face the blue line please"),
            TURNS,
        ),
        Question(
            "away_from_gold",
            ("please turn away from the gold", "turn your back to the gold", "face away from the gold please"),
            TURNS,
        ),
        Question(
            "away_from_line",
            (
                "please turn away from the blue line",
                "turn your back to the blue line",
                "face away from the blue line please",
            ),
            TURNS,
        ),
    )

    def features(self, scenes: Scenes, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return blue_line(rng, rng.uniform(0, 2 * math.pi, len(scenes)))

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        gold = np.where(scenes.turn_towards_gold() == ANTICLOCKWISE, 1, 0)
        line = np.where(wrap(extra["line_angle"] - scenes.heading) > 0, 1, 0)
        return np.stack([gold, line, 1 - gold, 1 - line])
