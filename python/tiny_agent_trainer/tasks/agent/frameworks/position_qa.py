"""position_qa: where the gold is relative to the agent, and the agent relative to the gold.

- Scenes: bare (side walls, one gold piece anywhere). Picture: the scene. No canvases.
- Questions (x grows right and y up in the picture; positions are centres):
  - `gold_left_right` (left, right): left iff gold x < agent x;
  - `gold_above_below` (above, below): above iff gold y > agent y;
  - `agent_left_right` (left, right): left iff agent x < gold x;
  - `agent_above_below` (above, below): above iff agent y > gold y.
  Equal coordinates (never drawn) answer right / below.
- Base rates: each class about 50% (the scenes are symmetric).
- Weights: text 1, image 0.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from .base import Question, QuestionFramework, register

LEFT_RIGHT = ("left", "right")
ABOVE_BELOW = ("above", "below")


@register
class PositionQA(QuestionFramework):
    name = "position_qa"
    description = "is the gold left or right of / above or below the agent, and the agent of the gold"
    questions = (
        Question(
            "gold_left_right",
            (
                "is the gold to your left or to your right",
                "is the gold left or right of you",
                "which side of you is the gold on left or right",
                "does the gold lie left or right of you",
            ),
            LEFT_RIGHT,
        ),
        Question(
            "gold_above_below",
            (
                "is the gold above or below you",
                "does the gold lie above or below you",
                "is the gold above you or below you",
                "in the picture is the gold above or below you",
            ),
            ABOVE_BELOW,
        ),
        Question(
            "agent_left_right",
            (
                "are you to the left or to the right of the gold",
                "are you left or right of the gold",
                "which side of the gold are you on left or right",
                "do you lie left or right of the gold",
            ),
            LEFT_RIGHT,
        ),
        Question(
            "agent_above_below",
            (
                "are you above or below the gold",
                "do you lie above or below the gold",
                "are you above the gold or below it",
                "in the picture are you above or below the gold",
            ),
            ABOVE_BELOW,
        ),
    )

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        agent, gold = scenes.agent, scenes.nearest_gold()
        first = 0  # "left" / "above": the first class of each question
        return np.stack([
            np.where(gold[:, 0] < agent[:, 0], first, 1),
            np.where(gold[:, 1] > agent[:, 1], first, 1),
            np.where(agent[:, 0] < gold[:, 0], first, 1),
            np.where(agent[:, 1] > gold[:, 1], first, 1),
        ])
