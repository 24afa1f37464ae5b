"""imagine_without_walls: the room as it would look without its walls.

- Scenes: full (side walls, one or two interior walls, one or two gold pieces).
- Input: the scene. Target: the scene rendered without the walls (agent and gold).
- Prompts: three paraphrases; answer `EOS`. No canvases. Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from ..render import render
from .base import ImageFramework, register


@register
class ImagineWithoutWalls(ImageFramework):
    name = "imagine_without_walls"
    description = "the room without its walls"
    kind = "full"
    prompts = (
        "imagine the room without walls",
        "show the room with the walls gone",
        "draw the room with the walls left out",
    )

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        return render(scenes, size, omit={"walls"})
