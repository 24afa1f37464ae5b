"""imagine_after_move: the room after a given sequence of moves.

- Scenes: bare (side walls, one gold piece anywhere).
- Sequences (`SEQUENCES`): each a string of moves (F forward, C clockwise, A anticlockwise;
  a turn is 6 degrees) with its own prompts, which say exactly that sequence: one, two or three
  steps forward; one clockwise or anticlockwise turn; 30 degrees (5 turns) and 90 degrees (15
  turns) either way; turning around (30 clockwise turns); a step then a 90 degree clockwise turn;
  a 90 degree anticlockwise turn then a step; two steps then one anticlockwise turn. An example
  draws a sequence uniformly, then one of its prompts.
- Input: the scene. Target: the scene after the sequence is played with the game's rules (a wall
  shortens or stops a step; gold the agent comes to overlap is eaten and is gone from the
  target). Where every step is blocked the target can equal the input (rare).
- `extra`: `sequence` (n,) the index into `SEQUENCES`, `moves` (n, L) the moves played (game
  move codes, -1 after the end). No canvases. Answer `EOS`. Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import ANTICLOCKWISE, CLOCKWISE, FORWARD, make_scenes
from ..render import render
from .base import Batch, ImageFramework, register

SEQUENCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("F", (
        "imagine one step forward",
        "show the room after one step forward",
        "draw where you are after a step forward",
    )),
    ("FF", (
        "imagine two steps forward",
        "show the room after two steps forward",
        "draw where you are after two steps forward",
    )),
    ("FFF", (
        "imagine three steps forward",
        "show the room after three steps forward",
        "draw where you are after three steps forward",
    )),
    ("C", (
        "imagine one clockwise turn",
        "show the room after turning clockwise once",
        "draw yourself after a single clockwise turn",
    )),
    ("A", (
        "imagine one anticlockwise turn",
        "show the room after turning anticlockwise once",
        "draw yourself after a single anticlockwise turn",
    )),
    ("C" * 5, (
        "imagine turning thirty degrees clockwise",
        "show the room after a thirty degree clockwise turn",
        "draw yourself turned thirty degrees clockwise",
    )),
    ("A" * 5, (
        "imagine turning thirty degrees anticlockwise",
        "show the room after a thirty degree anticlockwise turn",
        "draw yourself turned thirty degrees anticlockwise",
    )),
    ("C" * 15, (
        "imagine turning ninety degrees clockwise",
        "show the room after a ninety degree clockwise turn",
        "draw yourself turned ninety degrees clockwise",
    )),
    ("A" * 15, (
        "imagine turning ninety degrees anticlockwise",
        "show the room after a ninety degree anticlockwise turn",
        "draw yourself turned ninety degrees anticlockwise",
    )),
    ("C" * 30, (
        "imagine turning around",
        "show the room after you turn around",
        "draw yourself facing the other way",
    )),
    ("F" + "C" * 15, (
        "imagine a step forward then a ninety degree clockwise turn",
        "show the room after one step forward and then a ninety degree clockwise turn",
    )),
    ("A" * 15 + "F", (
        "imagine a ninety degree anticlockwise turn then a step forward",
        "show the room after a ninety degree anticlockwise turn and then one step forward",
    )),
    ("FF" + "A", (
        "imagine two steps forward then one anticlockwise turn",
        "show the room after two steps forward and then one anticlockwise turn",
    )),
)
"""(moves, prompts) pairs: each prompt says exactly its sequence."""
CODES = {"F": FORWARD, "C": CLOCKWISE, "A": ANTICLOCKWISE}


def plans() -> np.ndarray:
    """(len(SEQUENCES), L) each sequence's game move codes, -1 after its end."""
    out = np.full((len(SEQUENCES), max(len(m) for m, _ in SEQUENCES)), -1)
    for i, (moves, _) in enumerate(SEQUENCES):
        out[i, : len(moves)] = [CODES[c] for c in moves]
    return out


PLANS = plans()


@register
class ImagineAfterMove(ImageFramework):
    name = "imagine_after_move"
    description = "the room after a sequence of moves the prompt names"
    prompts = tuple(p for _, prompts in SEQUENCES for p in prompts)

    def make(self, n: int, rng: np.random.Generator, size: int) -> Batch:
        scenes = make_scenes(n, rng, self.kind)
        sequence = rng.integers(len(SEQUENCES), size=n)
        counts = np.array([len(p) for _, p in SEQUENCES])
        which = (rng.random(n) * counts[sequence]).astype(np.int64)
        prompt = [SEQUENCES[s][1][i] for s, i in zip(sequence, which)]
        plan = PLANS[sequence]
        after = scenes.copy()
        for step in range(int((plan >= 0).sum(axis=1).max(initial=0))):
            after.move(plan[:, step])
        return self.image_batch(
            scenes, render(scenes, size), render(after, size), prompt, extra={"sequence": sequence, "moves": plan}
        )
