"""relposition_qa: what the agent should do about the gold.

- Scenes, drawn per example: 50% *placed*, half bare (side walls, one gold piece anywhere), half
  full (interior walls, one or two gold pieces; only scenes where the agent can reach a piece:
  `make_scenes(solvable=True)`), so that the best move is also asked where it goes round a wall,
  as the closed loop on full scenes needs. Balanced (`aim_half`): in half the placed scenes
  (drawn per scene) the heading is turned towards the gold (its angle plus U(-w, w), w 1.5 times
  the half-width of the headings that reach it); the others keep a uniform heading. 30% *walked*
  (`walk`): a fresh scene (full with probability 0.75, else bare) after up to 40 moves of a
  walker that makes the oracle's best move, a random one (a share drawn per scene) or, in half
  the walks, often the wall-blind `greedy_move`, stopping before it eats: the states a game
  passes through, an agent against a wall or beside a corner among them (placed agents rarely
  touch a wall; the closed loop's agents often do). 20% *pressed* (`press`): a full scene where
  a wall hides the gold, after 60 wall-blind moves (the agent walks into the wall and pushes
  against it, where the closed loop's lost games end), then in half of them up to 12 moves of
  the oracle; about 70% stand against the wall with the gold ahead.
  Picture: the scene. No canvases.
- Questions (the game's oracles, nearest gold):
  - `eat_forward` (yes, no): yes iff `Scenes.reaches_forward` (moving only forward eats it);
  - `turn` (clockwise, anticlockwise): `Scenes.turn_towards_gold`, the shorter turn towards
    the gold: anticlockwise iff the gold lies to the left of the heading (signed angle > 0);
    straight ahead or exactly behind answer clockwise;
  - `best_move` (forward, clockwise, anticlockwise): `Scenes.best_move`, forward when moving
    forward reaches the gold or the point it heads for (the gold, or the first corner of the way
    round a wall in between) lies within half a turn (3 degrees) of the heading or, for the
    corner, the heading's line passes within `game.CORNER_AHEAD` of it and a step is free, else
    the shorter turn. (The closed-loop evaluation asks this question.)
- Base rates: `eat_forward` about 27% yes; `turn` 50/50; `best_move` 32% forward, 34% clockwise,
  34% anticlockwise (uniform headings alone: 6% yes; 6% forward, 47% each
  turn). A forward move is blocked by a wall in 9% of the placed scenes and 29% of the walked;
  15% of all scenes stand against a wall that hides the gold ahead (0.8% before `press`).
- Weights: text 1, image 0.
"""

from __future__ import annotations

import numpy as np

from ..game import ANTICLOCKWISE, CLOCKWISE, FORWARD, TURN, Scenes, make_scenes
from .base import Question, QuestionFramework, aim_half, concat_scenes, draw_kept, register

FULL_SHARE = 0.5
"""The share of full scenes among the placed ones (drawn per example)."""

WALKED_SHARE = 0.3
"""The share of walked scenes (drawn per example)."""

WALKED_FULL_SHARE = 0.75
"""The share of full scenes among the walked ones."""

WALK_STEPS = 40
"""A walk makes U{0..WALK_STEPS} moves."""

WALK_RANDOM = (0.1, 0.6)
"""A walk's share of random moves is drawn per scene, uniformly in this range."""

PRESSED_SHARE = 0.2
"""The share of *pressed* scenes (drawn per example): full scenes where a wall hides the gold,
after a wall-blind walk into that wall (`press`)."""

PRESS_STEPS = 60
"""A pressed scene's greedy moves: enough to turn round (30) and cross the board (16 steps)."""

PRESS_AFTER = 12
"""Half the pressed scenes then make U{1..PRESS_AFTER} moves of the oracle."""

WALK_GREEDY_SHARE = 0.5
"""The share of walks that also make *greedy* moves (turn towards the gold, or forward when it
lies within half a turn of the heading, walls or not): the way a model that has not learnt to go
round walls plays, into a wall that hides the gold and then against it."""

WALK_GREEDY = (0.5, 1.0)
"""A greedy walk's share of greedy moves among those that are not random, drawn per scene."""


def greedy_move(scenes: Scenes) -> np.ndarray:
    """(B,) the move straight towards the nearest gold, blind to walls: forward when it lies within
    half a turn of the heading, else the shorter turn towards it."""
    return np.where(np.abs(scenes.angle_to_gold()) <= TURN / 2, FORWARD, scenes.turn_towards_gold())


def bare_and_full(bare: int, full: int, rng: np.random.Generator) -> Scenes:
    """`bare` bare scenes, then `full` full ones the agent can solve."""
    return concat_scenes([make_scenes(bare, rng, "bare"), make_scenes(full, rng, "full", solvable=True)])


def walk(scenes: Scenes, rng: np.random.Generator, max_steps: int = WALK_STEPS) -> Scenes:
    """A copy of `scenes` after U{0..max_steps} moves each (drawn per scene): with probability
    U(WALK_RANDOM) (per scene) a random move (forward half the time, else either turn); otherwise,
    in a share WALK_GREEDY_SHARE of the walks, `greedy_move` with probability U(WALK_GREEDY) (per
    scene); else the oracle's best move. A walk stops before a move that would eat gold, so every
    scene keeps its gold."""
    n = len(scenes)
    steps = rng.integers(0, max_steps + 1, n)
    explore = rng.uniform(*WALK_RANDOM, n)
    greedy = np.where(rng.random(n) < WALK_GREEDY_SHARE, rng.uniform(*WALK_GREEDY, n), 0.0)
    return _walk(scenes, rng, steps, explore, greedy)


def press(scenes: Scenes, rng: np.random.Generator) -> Scenes:
    """A copy of `scenes` after PRESS_STEPS greedy moves (`greedy_move`: where a wall hides the
    gold the agent walks into it and then pushes against it, the closed loop's lost games), then,
    in half the scenes, U{1..PRESS_AFTER} moves of the oracle (the first turns away from the
    wall). Stops before a move that would eat gold, as `walk` does."""
    n = len(scenes)
    pushed = _walk(scenes, rng, np.full(n, PRESS_STEPS), np.zeros(n), np.ones(n))
    after = np.where(rng.random(n) < 0.5, 0, rng.integers(1, PRESS_AFTER + 1, n))
    return _walk(pushed, rng, after, np.zeros(n), np.zeros(n))


def hidden_gold(scenes: Scenes) -> np.ndarray:
    """(B,) whether a wall crosses the straight way to the gold and the agent can still reach it
    (a quarter of full scenes)."""
    return scenes.way_blocked() & scenes.solvable()


def _walk(scenes: Scenes, rng: np.random.Generator, steps: np.ndarray, explore: np.ndarray, greedy: np.ndarray) -> Scenes:
    """`scenes` (a copy) after `steps` moves each: random with probability `explore`, else greedy
    with probability `greedy`, else the oracle's; each walk stops before a move that would eat."""
    s = scenes.copy()
    steps = steps.copy()
    for t in range(int(steps.max(initial=0))):
        run = np.nonzero(steps > t)[0]
        if not len(run):
            break
        now = s.select(run)
        moves = np.empty(len(run), dtype=np.int64)
        wall_blind = rng.random(len(run)) < greedy[run]
        if wall_blind.any():
            moves[wall_blind] = greedy_move(now.select(np.nonzero(wall_blind)[0]))
        if not wall_blind.all():
            moves[~wall_blind] = now.select(np.nonzero(~wall_blind)[0]).best_move()
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
    questions: tuple[Question, ...] = (
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
        kind = rng.choice(3, n, p=[1 - WALKED_SHARE - PRESSED_SHARE, WALKED_SHARE, PRESSED_SHARE])
        walked, pressed = int((kind == 1).sum()), int((kind == 2).sum())
        placed = n - walked - pressed
        full = int((rng.random(placed) < FULL_SHARE).sum())
        walked_full = int((rng.random(walked) < WALKED_FULL_SHARE).sum())
        parts = [
            aim_half(bare_and_full(placed - full, full, rng), rng),
            walk(bare_and_full(walked - walked_full, walked_full, rng), rng),
            press(draw_kept(pressed, rng, "full", hidden_gold), rng),
        ]
        return concat_scenes(parts)

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        return np.stack([
            np.where(scenes.reaches_forward(), 0, 1),
            np.where(scenes.turn_towards_gold() == ANTICLOCKWISE, 1, 0),
            scenes.best_move(),
        ])
