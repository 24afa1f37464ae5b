"""way_to_gold: draw the first stretch of the way to the gold, round the walls.

- Scenes: relposition_qa's (placed bare and full scenes, walked and pressed ones: the states the
  best move is asked about; a quarter or more of the full ones with a wall across the straight
  way).
- Input: the scene. Target: the same scene with the blue line from the agent's rim towards the
  point the best move steers for (`Scenes.steer`): straight to the nearest gold's near rim where
  the way is free (as arrow_to_gold draws it), else to the first corner of the shortest way round
  the walls (length: the centre distance to that point - AGENT_R). The best move is the turn
  towards this line, or forward along it: the picture shows the plan the answer follows.
- Prompts: four paraphrases of one request; answer `EOS`. No canvases.
- Weights: text 1, image 1.
- Own score: `median_angle_error_deg`, the median angle between the direction to the steering
  point and the direction from the agent's centre to the centre of the predicted picture's blue
  pixels (180 where none are drawn); `line_drawn`, the share of pictures with blue pixels.
"""

from __future__ import annotations

import numpy as np

from ..game import AGENT_R, GOLD_R, Scenes
from ..render import render
from .arrow_to_gold import line_score
from .base import Batch, ImageFramework, pick, register
from .relposition_qa import RelPositionQA


def way_line(scenes: Scenes) -> tuple[np.ndarray, np.ndarray]:
    """(B,) the angle and length of the first stretch of the way: from the agent's rim towards
    `steer`, to the gold's near rim where the straight way is free, else to the steering point."""
    point = scenes.steer()
    d = point - scenes.agent
    angle = np.mod(np.arctan2(d[:, 1], d[:, 0]), 2 * np.pi)
    free = ~scenes.way_blocked()
    to_gold = scenes.gold_distance().min(axis=1) - AGENT_R - GOLD_R
    to_point = np.linalg.norm(d, axis=1) - AGENT_R
    return angle, np.maximum(np.where(free, to_gold, to_point), 0.0)


@register
class WayToGold(ImageFramework):
    name = "way_to_gold"
    description = "draw the first stretch of the way to the gold, round the walls"
    prompts = (
        "draw the first stretch of your way to the gold",
        "show where you should head to reach the gold",
        "draw the line you should follow towards the gold",
        "draw your way round the walls to the gold",
    )

    def make(self, n: int, rng: np.random.Generator, size: int) -> Batch:
        scenes = RelPositionQA().draw(n, rng)
        angle, length = way_line(scenes)
        batch = self.image_batch(scenes, render(scenes, size), render(scenes, size, line=(angle, length)), pick(self.prompts, n, rng))
        batch.extra.update(agent=scenes.agent.copy(), way_angle=angle)
        return batch

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        return render(scenes, size, line=way_line(scenes))


def score(pred_images_uint8: np.ndarray, batch: Batch) -> dict[str, np.ndarray]:
    """Per picture: the angle error of the line drawn against the way's first stretch, and whether
    a line is drawn (`arrow_to_gold.line_score`)."""
    return line_score(pred_images_uint8, batch.extra["agent"], batch.extra["way_angle"])
