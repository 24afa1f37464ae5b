"""closer_places: colour every place from which the way to the gold is shorter than from here.

- Scenes: relposition_qa's (placed bare and full scenes, walked and pressed ones).
- Input: the scene. Target: the same scene with every floor pixel blue whose place lies on a
  planner cell (`game.way_field`: 64 x 64 cells, distances along the grid round the walls to a
  spot that eats the gold) with a shorter way to the gold than the agent's own (`agent_way`). The
  region bends round the walls: where a wall hides the gold, it reaches the agent on the side of
  the shorter way round, the side the best move turns to. The gold the oracle heads for: the
  nearest, or the other where the nearest cannot be reached. Agent, walls and gold drawn on top.
- Prompts: four paraphrases of one request; answer `EOS`. No canvases.
- Weights: text 1, image 1.
- Own score: `region_iou`, the blue pixels' intersection over union with the true region's
  (palette colours; 1 where both are empty), and `agent_side`, whether the predicted region's
  blue pixels near the agent (within three agent radii) lie on the same side of the heading as
  the true region's there (counted where the true region has some; else NaN, left out).
"""

from __future__ import annotations

import numpy as np

from ..game import AGENT_R, PLAN_CELLS, Scenes, way_field, wrap
from ..render import BLUE, PALETTE, WHITE, palette_indices, render_indices
from .base import Batch, ImageFramework, pick, register
from .relposition_qa import RelPositionQA

NEAR = 3 * AGENT_R
"""`agent_side` looks at the region within this distance of the agent's centre."""


def _gold_field(scenes: Scenes, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Scene i's `way_field` to the gold the oracle heads for: the nearest piece, or the other
    where the nearest cannot be reached from the agent's cell."""
    order = np.argsort(scenes.gold_distance()[i])
    fields = []
    for g in scenes.gold[i][order]:
        if np.isnan(g[0]):
            continue
        free, dist = way_field(scenes.walls[i], g)
        fields.append((free, dist))
        if np.isfinite(agent_way(scenes.agent[i], free, dist)):
            return free, dist
    return fields[0] if fields else (np.zeros((PLAN_CELLS, PLAN_CELLS), bool), np.full((PLAN_CELLS, PLAN_CELLS), np.inf))


def agent_way(agent: np.ndarray, free: np.ndarray, dist: np.ndarray) -> float:
    """The grid's way from the agent (2,): the least distance among the free cells within one and
    a half cells of its centre (its own cell may lie within its radius of a wall it touches)."""
    centres = (np.arange(PLAN_CELLS) + 0.5) / PLAN_CELLS
    near = (np.abs(centres - agent[0]) <= 1.5 / PLAN_CELLS)[:, None] & (np.abs(centres - agent[1]) <= 1.5 / PLAN_CELLS)[None, :]
    values = dist[near & free]
    return float(values.min()) if len(values) else float("inf")


def regions(scenes: Scenes) -> np.ndarray:
    """(B, PLAN_CELLS, PLAN_CELLS) [x, y]: the free cells with a shorter way to the gold than the
    agent's."""
    out = np.zeros((len(scenes), PLAN_CELLS, PLAN_CELLS), dtype=bool)
    for i in np.nonzero(scenes.has_gold())[0]:
        free, dist = _gold_field(scenes, int(i))
        out[i] = free & (dist < agent_way(scenes.agent[i], free, dist))
    return out


def pixel_cells(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, S) the planner cell's x and y index of every pixel (row 0 at the top)."""
    centres = (np.arange(size) + 0.5) / size
    col = np.minimum((centres * PLAN_CELLS).astype(np.int64), PLAN_CELLS - 1)
    row = np.minimum(((1.0 - centres) * PLAN_CELLS).astype(np.int64), PLAN_CELLS - 1)
    return np.broadcast_to(col[None, :], (size, size)), np.broadcast_to(row[:, None], (size, size))


def picture_indices(scenes: Scenes, size: int, plain: np.ndarray | None = None) -> np.ndarray:
    """(B, S, S) palette indices of the target: the scene (`plain`, its render's indices, where
    given), its floor blue over the region."""
    indices = render_indices(scenes, size) if plain is None else plain
    cx, cy = pixel_cells(size)
    inside = regions(scenes)[:, cx, cy]
    return np.where(inside & (indices == WHITE), BLUE, indices).astype(np.uint8)


@register
class CloserPlaces(ImageFramework):
    name = "closer_places"
    description = "colour the places from which the way to the gold is shorter than from here"
    prompts = (
        "colour every place from which the gold is nearer on foot than from here",
        "show the places closer to the gold than you if you walk round the walls",
        "mark where the way to the gold is shorter than from where you stand",
        "paint the floor that is a shorter walk from the gold than you are",
    )

    def make(self, n: int, rng: np.random.Generator, size: int) -> Batch:
        scenes = RelPositionQA().draw(n, rng)
        plain = render_indices(scenes, size)
        target = PALETTE[picture_indices(scenes, size, plain)]
        batch = self.image_batch(scenes, PALETTE[plain], target, pick(self.prompts, n, rng))
        batch.extra.update(agent=scenes.agent.copy(), heading=scenes.heading.copy())
        return batch

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        return PALETTE[picture_indices(scenes, size)]


def score(pred_images_uint8: np.ndarray, batch: Batch) -> dict[str, np.ndarray]:
    """Per picture: `region_iou` and `agent_side` (see the module)."""
    assert batch.target is not None
    pred = palette_indices(pred_images_uint8) == BLUE
    true = palette_indices(batch.target) == BLUE
    union = (pred | true).sum(axis=(1, 2))
    iou = np.where(union > 0, (pred & true).sum(axis=(1, 2)) / np.maximum(union, 1), 1.0)
    size = pred.shape[-1]
    centres = (np.arange(size) + 0.5) / size
    x, y = centres[None, None, :], (1.0 - centres)[None, :, None]
    dx, dy = x - batch.extra["agent"][:, 0, None, None], y - batch.extra["agent"][:, 1, None, None]
    near = dx * dx + dy * dy <= NEAR * NEAR
    side = wrap(np.arctan2(dy, dx) - batch.extra["heading"][:, None, None])  # > 0: left of the heading

    def lean(mask: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.sign(np.where(mask & near, np.sin(side), 0.0).sum(axis=(1, 2)))

    truth = lean(true)
    agrees = np.where(truth != 0, (lean(pred) == truth).astype(np.float64), np.nan)
    return {"region_iou": iou.astype(np.float64), "agent_side": agrees}
