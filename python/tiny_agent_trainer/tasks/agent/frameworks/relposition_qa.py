"""relposition_qa: what the agent should do about the gold.

- Scenes: half bare (side walls, one gold piece anywhere), half full (interior walls, one or two
  gold pieces; only scenes where the agent can reach a piece: `make_scenes(solvable=True)`), so
  that the best move is also asked where it goes round a wall, as the closed loop on full scenes
  needs. Balanced (`aim_half`): in half the scenes
  (drawn per scene) the heading is turned towards the gold (its angle plus U(-w, w), w 1.5 times
  the half-width of the headings that reach it); the others keep a uniform heading. Picture: the
  scene. No canvases.
- Questions (the game's oracles, nearest gold):
  - `eat_forward` (yes, no): yes iff `Scenes.reaches_forward` (moving only forward eats it);
  - `turn` (clockwise, anticlockwise): `Scenes.turn_towards_gold`, the shorter turn towards
    the gold: anticlockwise iff the gold lies to the left of the heading (signed angle > 0);
    straight ahead or exactly behind answer clockwise;
  - `best_move` (forward, clockwise, anticlockwise): `Scenes.best_move`, forward when moving
    forward reaches the gold or the point it heads for (the gold, or the first corner of the way
    round a wall in between) lies within half a turn (3 degrees) of the heading, else the shorter
    turn. (The closed-loop evaluation asks this question.)
- Base rates: `eat_forward` about 28% yes; `turn` 50/50; `best_move` about a third each of
  forward, clockwise and anticlockwise (uniform headings alone: 6% yes; 6% forward, 47% each
  turn).
- Weights: text 1, image 0.
"""

from __future__ import annotations

import numpy as np

from ..game import ANTICLOCKWISE, Scenes, make_scenes
from .base import Question, QuestionFramework, aim_half, concat_scenes, register

FULL_SHARE = 0.5
"""The share of full scenes (drawn per example)."""

YES_NO = ("yes", "no")


@register
class RelPositionQA(QuestionFramework):
    name = "relposition_qa"
    description = "will going forward eat the gold, which way to turn to it, the best move"
    questions = (
        Question(
            "eat_forward",
            (
                "if you only go forward will you eat the gold",
                "will moving forward get you the gold",
                "can you eat the gold by going forward",
                "do you reach the gold by only moving forward",
            ),
            YES_NO,
        ),
        Question(
            "turn",
            (
                "which way should you turn to face the gold",
                "should you turn clockwise or anticlockwise to face the gold",
                "which turn brings the gold in front of you",
                "which way is the shorter turn towards the gold",
            ),
            ("clockwise", "anticlockwise"),
        ),
        Question(
            "best_move",
            (
                "what is your best move",
                "what should you do next to get the gold",
                "which move should you make next",
                "what move gets you to the gold fastest",
            ),
            ("forward", "clockwise", "anticlockwise"),  # in the order of the game's move codes
        ),
    )

    def draw(self, n: int, rng: np.random.Generator) -> Scenes:
        full = int((rng.random(n) < FULL_SHARE).sum())
        scenes = concat_scenes([make_scenes(n - full, rng, "bare"), make_scenes(full, rng, "full", solvable=True)])
        return aim_half(scenes, rng)

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        return np.stack([
            np.where(scenes.reaches_forward(), 0, 1),
            np.where(scenes.turn_towards_gold() == ANTICLOCKWISE, 1, 0),
            scenes.best_move(),
        ])
