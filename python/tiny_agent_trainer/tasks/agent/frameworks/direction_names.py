"""direction_names: the names of the moves and what they do.

- Scenes: bare (side walls, one gold piece anywhere); the picture is shown but the answers do not
  depend on it. No canvases.
- Questions, each with one class (the prompt decides the answer; headings grow anticlockwise as
  seen, so an anticlockwise turn is a turn to the agent's left):
  - `move_left` (anticlockwise), `move_right` (clockwise), `move_ahead` (forward): which move
    does that;
  - `clockwise_does` (turn right), `anticlockwise_does` (turn left), `forward_does` (step
    ahead): what that move does.
- Base rates: 100% (one class per question).
- Weights: text 1, image 0.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from .base import Question, QuestionFramework, register


@register
class DirectionNames(QuestionFramework):
    name = "direction_names"
    description = "which move turns left, right or goes ahead, and what each move does"
    questions = (
        Question(
            "move_left",
            ("which move turns you to your left", "how do you turn left", "name the move that turns you left"),
            ("anticlockwise",),
        ),
        Question(
            "move_right",
            ("which move turns you to your right", "how do you turn right", "name the move that turns you right"),
            ("clockwise",),
        ),
        Question(
            "move_ahead",
            (
                "which move takes you straight ahead",
                "how do you go straight ahead",
                "name the move that takes you ahead",
            ),
            ("forward",),
        ),
        Question(
            "clockwise_does",
            ("what does the clockwise move do", "what happens when you turn clockwise", "describe the clockwise move"),
            ("turn right",),
        ),
        Question(
            "anticlockwise_does",
            (
                "what does the anticlockwise move do",
                "what happens when you turn anticlockwise",
                "describe the anticlockwise move",
            ),
            ("turn left",),
        ),
        Question(
            "forward_does",
            ("what does the forward move do", "what happens when you move forward", "describe the forward move"),
            ("step ahead",),
        ),
    )

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        return np.zeros((len(self.questions), len(scenes)), dtype=np.int64)
