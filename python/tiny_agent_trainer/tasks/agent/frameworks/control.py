"""control: reconstruction, the picture seen drawn again (keeps the image decoder honest).

- Scenes: full (side walls, one or two interior walls, one or two gold pieces), as the
  original's control set, shown in three ways drawn per example:
  - plain (30%): the whole board;
  - jittered (20%): the whole board after three bursts of one random move each (forward,
    clockwise or anticlockwise, uniform), repeated 1 to 10 times, played with the game's rules
    (walls stop the agent, gold it overlaps is eaten);
  - zoomed (50%): a window of side 1/factor, factor U(2, 5) or U(3, 21) (half each, the
    original's agent-sized and gold-sized ranges), centred on a gold piece (2/9), on a point
    within AGENT_R of the agent (2/9), on a wall's corner or a point inside a wall (2/9, corner
    80%), or on a uniform point (3/9); the window is moved to stay on the board.
- Input = target: the picture. No canvases. `extra`: `view` (n, 3) the window (left, bottom,
  side) shown, `jitter` (n,) the moves played.
- Prompts: four paraphrases of "draw it again"; answer `EOS`. Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import AGENT_R, MAX_GOLD, MAX_WALLS, MOVES, Scenes, make_scenes
from ..render import render
from .base import Batch, ImageFramework, pick, register

PLAIN, JITTER, ZOOM = range(3)
SHARES = (0.3, 0.2, 0.5)
BURSTS, BURST_MAX = 3, 10
FACTORS = ((2.0, 5.0), (3.0, 21.0))
CENTRE_SHARES = (2 / 9, 2 / 9, 2 / 9, 3 / 9)
"""Zoom centres: a gold piece, near the agent, on a wall, uniform."""


def jitter(scenes: Scenes, rng: np.random.Generator, active: np.ndarray) -> np.ndarray:
    """Plays the random bursts on the `active` scenes (in place); returns the moves played."""
    n = len(scenes)
    moves = rng.integers(len(MOVES), size=(n, BURSTS))
    repeats = np.where(active[:, None], rng.integers(1, BURST_MAX + 1, size=(n, BURSTS)), 0)
    for b in range(BURSTS):
        for r in range(int(repeats[:, b].max(initial=0))):
            scenes.move(np.where(repeats[:, b] > r, moves[:, b], -1))
    return repeats.sum(axis=1)


def zoom_centres(scenes: Scenes, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) a zoom centre per scene, drawn as the module says."""
    n = len(scenes)
    rows = np.arange(n)
    kind = rng.choice(len(CENTRE_SHARES), size=n, p=CENTRE_SHARES)
    # a gold piece present in the scene (uniform among them); the agent where none is left
    gold_present = ~np.isnan(scenes.gold[:, :, 0])
    g = np.argmax(gold_present * rng.random((n, MAX_GOLD)), axis=1)
    gold = np.where(scenes.has_gold()[:, None], scenes.gold[rows, g], scenes.agent)
    near_agent = scenes.agent + rng.uniform(-AGENT_R, AGENT_R, size=(n, 2))
    walls_present = ~np.isnan(scenes.walls[:, :, 0])
    w = scenes.walls[rows, np.argmax(walls_present * rng.random((n, MAX_WALLS)), axis=1)]  # (n, 4)
    corner_x = np.where(rng.random(n) < 0.5, w[:, 0], w[:, 2])
    corner_y = np.where(rng.random(n) < 0.5, w[:, 1], w[:, 3])
    inside = w[:, :2] + rng.random((n, 2)) * (w[:, 2:] - w[:, :2])
    wall = np.where((rng.random(n) < 0.8)[:, None], np.stack([corner_x, corner_y], axis=1), inside)
    uniform = rng.random((n, 2))
    return np.choose(kind[:, None], [gold, near_agent, wall, uniform])


@register
class Control(ImageFramework):
    name = "control"
    description = "draw the picture seen again (full scenes, jittered and zoomed views)"
    kind = "full"
    prompts = (
        "draw what you see",
        "copy the picture",
        "show this picture again",
        "repeat the image",
    )

    def make(self, n: int, rng: np.random.Generator, size: int) -> Batch:
        scenes = make_scenes(n, rng, self.kind)
        way = rng.choice(len(SHARES), size=n, p=SHARES)
        played = jitter(scenes, rng, way == JITTER)
        low, high = np.array(FACTORS).T
        band = rng.integers(len(FACTORS), size=n)
        factor = rng.uniform(low[band], high[band])
        side = np.where(way == ZOOM, 1.0 / factor, 1.0)  # a side of 1 is the whole board
        corner = np.clip(zoom_centres(scenes, rng) - side[:, None] / 2, 0.0, (1.0 - side)[:, None])
        view = np.concatenate([corner, side[:, None]], axis=1)
        image = np.empty((n, size, size, 3), dtype=np.uint8)
        for rows in (np.nonzero(way == ZOOM)[0], np.nonzero(way != ZOOM)[0]):
            # apart: `render` sizes every picture's discs by the batch's most zoomed one
            if len(rows):
                image[rows] = render(scenes.select(rows), size, view=view[rows])
        extra = {"view": view, "jitter": played}
        return self.image_batch(scenes, image, image.copy(), pick(self.prompts, n, rng), extra=extra)
