"""zoom_halfway: a close-up of the middle of the path to the gold.

- Scenes: bare (side walls, one gold piece anywhere).
- Input: the scene. Target: the window of half the board's side centred on the midpoint of the
  agent's and the nearest gold's centres (moved to stay on the board), rendered at full size: a
  zoom by a factor of 2, as the original.
- Prompts: three paraphrases; answer `EOS`. No canvases. Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from ..render import render, zoom_view
from .base import ImageFramework, register

FACTOR = 2.0


@register
class ZoomHalfway(ImageFramework):
    name = "zoom_halfway"
    description = "a close-up (x2) of the middle of the path to the gold"
    prompts = (
        "zoom in on the way to the gold",
        "show a close up of the path to the gold",
        "magnify the middle of the path to the gold",
    )

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        return render(scenes, size, view=zoom_view((scenes.agent + scenes.nearest_gold()) / 2, FACTOR))
