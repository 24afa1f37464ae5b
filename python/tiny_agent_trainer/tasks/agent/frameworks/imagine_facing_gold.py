"""imagine_facing_gold: the agent turned to face the gold.

- Scenes: bare (side walls, one gold piece anywhere), uniform heading.
- Input: the scene. Target: the same scene with the heading set to `gold_angle` (the angle from
  the agent's centre to the nearest gold's): only the eye moves. Where the agent already faces
  the gold within a pixel's worth of eye movement, the target equals the input.
- Prompts: three paraphrases; answer `EOS`. No canvases. Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from ..render import render
from .base import ImageFramework, register


@register
class ImagineFacingGold(ImageFramework):
    name = "imagine_facing_gold"
    description = "the agent turned to face the gold"
    prompts = (
        "imagine yourself facing the gold",
        "show yourself turned towards the gold",
        "draw yourself looking at the gold",
    )

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        turned = scenes.copy()
        turned.heading = scenes.gold_angle()
        return render(turned, size)
