"""imagine_walls_only: only the walls of the room.

- Scenes: full (side walls, one or two interior walls, one or two gold pieces).
- Input: the scene. Target: the scene rendered without the agent and the gold.
- Prompts: three paraphrases; answer `EOS`. No canvases. Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from ..render import render
from .base import ImageFramework, register


@register
class ImagineWallsOnly(ImageFramework):
    name = "imagine_walls_only"
    description = "only the walls of the room"
    kind = "full"
    prompts = (
        "imagine only the walls",
        "show just the walls of the room",
        "draw the walls and nothing else",
    )

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        return render(scenes, size, omit={"agent", "gold"})
