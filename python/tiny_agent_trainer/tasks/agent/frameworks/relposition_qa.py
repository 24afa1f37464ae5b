"""relposition_qa: what the agent should do about the gold.

- Scenes, drawn per example: 60% *placed*, half bare (side walls, one gold piece anywhere), half
  full (interior walls, one or two gold pieces; only scenes where the agent can reach a piece:
  `make_scenes(solvable=True)`), so that the best move is also asked where it goes round a wall,
  as the closed loop on full scenes needs. Balanced (`aim_half`): in half the placed scenes
  (drawn per scene) the heading is turned towards the gold (its angle plus U(-w, w), w 1.5 times
  the half-width of the headings that reach it); the others keep a uniform heading. 40% *walked*
  (`walk`): a fresh scene (full with probability 0.75, else bare) after up to 40 moves of a
  walker that makes the oracle's best move or, with a probability drawn per scene, a random one,
  stopping before it eats: the states a game passes through, an agent against a wall or beside
  a corner among them (placed agents rarely touch a wall; the closed loop's agents often do).
  Picture: the scene. No canvases.
- Questions (the game's oracles, nearest gold):
  - `eat_forward` (yes, no): yes iff `Scenes.reaches_forward` (moving only forward eats it);
  - `turn` (clockwise, anticlockwise): `Scenes.turn_towards_gold`, the shorter turn towards
    the gold: anticlockwise iff the gold lies to the left of the heading (signed angle > 0);
    straight ahead or exactly behind answer clockwise;
  - `best_move` (forward, clockwise, anticlockwise): `Scenes.best_move`, forward when moving
    forward reaches the gold or the point it heads for (the gold, or the first corner of the way
    round a wall in between) lies within half a turn (3 degrees) of the heading, else the shorter
    turn. (The closed-loop evaluation asks this question.)
- Base rates: `eat_forward` about 32% yes; `turn` 50/50; `best_move` about a third each of
  forward, clockwise and anticlockwise (uniform headings alone: 6% yes; 6% forward, 47% each
  turn). A forward move is blocked by a wall in 9% of the placed scenes and 29% of the walked.
- Weights: text 1, image 0.
"""

from __future__ import annotations

import numpy as np

from ..game import ANTICLOCKWISE, CLOCKWISE, FORWARD, Scenes, make_scenes
from .base import Question, QuestionFramework, aim_half, concat_scenes, register

FULL_SHARE = 0.5
"""The share of full scenes among the placed ones (drawn per example)."""

WALKED_SHARE = 0.4
"""The share of walked scenes (drawn per example)."""

WALKED_FULL_SHARE = 0.75
"""The share of full scenes among the walked ones."""

WALK_STEPS = 40
"""A walk makes U{0..WALK_STEPS} moves."""

WALK_RANDOM = (0.1, 0.6)
"""A walk's share of random moves is drawn per scene, uniformly in this range."""


def bare_and_full(bare: int, full: int, rng: np.random.Generator) -> Scenes:
    """`bare` bare scenes, then `full` full ones the agent can solve."""
    return concat_scenes([make_scenes(bare, rng, "bare"), make_scenes(full, rng, "full", solvable=True)])


def walk(scenes: Scenes, rng: np.random.Generator, max_steps: int = WALK_STEPS) -> Scenes:
    """A copy of `scenes` after U{0..max_steps} moves each (drawn per scene): the oracle's best move,
    or with probability U(WALK_RANDOM) (per scene) a random one (forward half the time, else
    either turn). A walk stops before a move that would eat gold, so every scene keeps its gold."""
    n = len(scenes)
    s = scenes.copy()
    steps = rng.integers(0, max_steps + 1, n)
    explore = rng.uniform(*WALK_RANDOM, n)
    for t in range(max_steps):
        run = np.nonzero(steps > t)[0]
        if not len(run):
            break
        now = s.select(run)
        moves = now.best_move()
        random, r = rng.random(len(run)) < explore[run], rng.random(len(run))
        moves = np.where(random, np.where(r < 0.5, FORWARD, np.where(r < 0.75, CLOCKWISE, ANTICLOCKWISE)), moves)
        kept = now.move(moves) == 0
        index = run[kept]
        s.agent[index], s.heading[index], s.gold[index] = now.agent[kept], now.heading[kept], now.gold[kept]
        steps[run[~kept]] = t
    return s

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
        walked = int((rng.random(n) < WALKED_SHARE).sum())
        full = int((rng.random(n - walked) < FULL_SHARE).sum())
        walked_full = int((rng.random(walked) < WALKED_FULL_SHARE).sum())
        placed = aim_half(bare_and_full(n - walked - full, full, rng), rng)
        return concat_scenes([placed, walk(bare_and_full(walked - walked_full, walked_full, rng), rng)])

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        return np.stack([
            np.where(scenes.reaches_forward(), 0, 1),
            np.where(scenes.turn_towards_gold() == ANTICLOCKWISE, 1, 0),
            scenes.best_move(),
        ])
