"""arrow_to_gold: draw the straight line from the agent to the gold.

- Scenes: bare (side walls, one gold piece anywhere).
- Input: the scene. Target: the same scene with the blue line from the agent's rim to the near
  rim of the nearest gold (angle `gold_angle`, length centre distance - AGENT_R - GOLD_R; a
  gold piece that touches the agent gives a line of length 0, a dot of the line's width).
- Prompts: four paraphrases of one request; answer `EOS`. No canvases.
- Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import AGENT_R, GOLD_R, Scenes
from ..render import render
from .base import ImageFramework, register


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

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        length = np.maximum(scenes.gold_distance().min(axis=1) - AGENT_R - GOLD_R, 0.0)
        return render(scenes, size, line=(scenes.gold_angle(), length))
