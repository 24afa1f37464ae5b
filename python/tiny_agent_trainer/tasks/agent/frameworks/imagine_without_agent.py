"""imagine_without_agent: the room as it would look without the agent.

- Scenes: full (side walls, one or two interior walls, one or two gold pieces), so that the
  picture without the agent still has something to show.
- Input: the scene. Target: the scene rendered without the agent (walls and gold).
- Prompts: three paraphrases; answer `EOS`. No canvases. Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from ..render import render
from .base import ImageFramework, register


@register
class ImagineWithoutAgent(ImageFramework):
    name = "imagine_without_agent"
    description = "the room without the agent"
    kind = "full"
    prompts = (
        "imagine the room without you",
        "show the room as it would look without you",
        "draw the room with you left out",
    )

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        return render(scenes, size, omit={"agent"})
