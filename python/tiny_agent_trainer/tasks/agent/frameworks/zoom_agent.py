"""zoom_agent: a close-up of the agent.

- Scenes: bare (side walls, one gold piece anywhere).
- Input: the scene. Target: the window of side 1/6 of the board centred on the agent (moved
  to stay on the board), rendered at full size: a zoom by a factor of 6, as the original.
- Prompts: three paraphrases; answer `EOS`. No canvases. Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from ..render import render, zoom_view
from .base import ImageFramework, register

FACTOR = 6.0


@register
class ZoomAgent(ImageFramework):
    name = "zoom_agent"
    description = "a close-up (x6) of the agent"
    prompts = (
        "zoom in on yourself",
        "show a close up of you",
        "magnify the picture around you",
    )

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        return render(scenes, size, view=zoom_view(scenes.agent, FACTOR))
