"""zoom_gold: a close-up of the gold.

- Scenes: bare (side walls, one gold piece anywhere).
- Input: the scene. Target: the window of side 1/8 of the board centred on the nearest gold
  (moved to stay on the board), rendered at full size: a zoom by a factor of 8, as the original.
- Prompts: three paraphrases; answer `EOS`. No canvases. Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from ..render import render, zoom_view
from .base import ImageFramework, register

FACTOR = 8.0


@register
class ZoomGold(ImageFramework):
    name = "zoom_gold"
    description = "a close-up (x8) of the gold"
    prompts = (
        "zoom in on the gold",
        "show a close up of the gold",
        "magnify the picture around the gold",
    )

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        return render(scenes, size, view=zoom_view(scenes.nearest_gold(), FACTOR))
