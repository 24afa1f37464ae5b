"""arrow_to_gold: draw the straight line from the agent to the gold.

- Scenes: bare (side walls, one gold piece anywhere).
- Input: the scene. Target: the same scene with the blue line from the agent's rim to the near
  rim of the nearest gold (angle `gold_angle`, length centre distance - AGENT_R - GOLD_R; a
  gold piece that touches the agent gives a line of length 0, a dot of the line's width).
- Prompts: four paraphrases of one request; answer `EOS`. No canvases.
- Weights: text 1, image 1.
- Own score: `median_angle_error_deg`, the median over the examples of the angle between the true
  direction to the gold and the direction from the agent's centre to the centre of the predicted
  picture's blue pixels (pixels mapped to the nearest palette colour; a picture without blue
  counts as 180 deg); `line_drawn`, the share of pictures with blue pixels.
"""

from __future__ import annotations

import numpy as np

from ..game import AGENT_R, GOLD_R, Scenes
from ..render import BLUE, colour_centres, palette_indices, render
from .base import Batch, ImageFramework, register


@register
class ArrowToGold(ImageFramework):
    name = "arrow_to_gold"
    description = "draw the blue line from the agent's rim to the nearest gold"
    prompts = (
        "draw a line from you to the gold",
        "show the straight path to the gold",
        "draw the blue line to the nearest gold",
        "imagine a line from you to the gold",
    )

    def make(self, n: int, rng: np.random.Generator, size: int) -> Batch:
        batch = super().make(n, rng, size)
        batch.extra.update(agent=batch.scenes.agent.copy(), gold_angle=batch.scenes.gold_angle())
        return batch

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        length = np.maximum(scenes.gold_distance().min(axis=1) - AGENT_R - GOLD_R, 0.0)
        return render(scenes, size, line=(scenes.gold_angle(), length))


def score(pred_images_uint8: np.ndarray, batch: Batch) -> dict[str, np.ndarray]:
    """Per picture (B, S, S, 3) uint8: the angle in degrees between the line drawn (the agent's
    centre to the centre of the blue pixels) and the true direction to the gold (180 where no blue
    is drawn), and whether any blue is drawn."""
    return line_score(pred_images_uint8, batch.extra["agent"], batch.extra["gold_angle"])


def line_score(pred_images_uint8: np.ndarray, agent: np.ndarray, angle: np.ndarray) -> dict[str, np.ndarray]:
    """Per picture: the angle in degrees between the direction from `agent` (B, 2) to the centre
    of the picture's blue pixels and `angle` (B,) (180 where no blue is drawn), and whether any
    blue is drawn."""
    line = colour_centres(palette_indices(pred_images_uint8), (BLUE,))
    d = line - agent
    drawn = ~np.isnan(d[:, 0])
    with np.errstate(invalid="ignore"):
        off = np.angle(np.exp(1j * (np.arctan2(d[:, 1], d[:, 0]) - angle)))
    error = np.where(drawn, np.degrees(np.abs(off)), 180.0)
    return {"median_angle_error_deg": error, "line_drawn": drawn.astype(np.float64)}
