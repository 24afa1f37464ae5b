"""imagine_without_gold: the room as it would look without the gold.

- Scenes: full (side walls, one or two interior walls, one or two gold pieces).
- Input: the scene. Target: the scene rendered without the gold (agent and walls).
- Prompts: three paraphrases; answer `EOS`. No canvases. Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from ..render import render
from .base import ImageFramework, register


@register
class ImagineWithoutGold(ImageFramework):
    name = "imagine_without_gold"
    description = "the room without the gold"
    kind = "full"
    prompts = (
        "imagine the room without the gold",
        "show the room with the gold gone",
        "draw the room with the gold left out",
    )

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        return render(scenes, size, omit={"gold"})
