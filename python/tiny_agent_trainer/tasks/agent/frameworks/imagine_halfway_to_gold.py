"""imagine_halfway_to_gold: the agent halfway along the straight path to the gold.

- Scenes: bare (side walls, one gold piece anywhere).
- Input: the scene. Target: the agent moved to the midpoint of its centre and the nearest
  gold's, facing the gold (heading `gold_angle`). Where the agent at the midpoint would overlap a
  wall (both near a side wall), it stops at the furthest clear point short of it on the path,
  tried in steps of 1/64 of the path (the start is always clear), so the target is a legal scene.
- Then the game's rule applies: a gold piece the agent overlaps is eaten (centre distance below
  AGENT_R + GOLD_R, i.e. where agent and gold were less than 2 (AGENT_R + GOLD_R) = 0.131 apart,
  about 5% of bare scenes), and the target shows no gold, as the agent would have eaten it on
  its way.
- Prompts: three paraphrases; answer `EOS`. No canvases. Weights: text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import Scenes
from ..render import render
from .base import ImageFramework, register

TRIES = 32
"""Where the midpoint is blocked, the path is tried from the midpoint back to the start in
TRIES steps (1/64 of the path each)."""


def halfway(scenes: Scenes) -> Scenes:
    """A copy of `scenes` with each agent moved to the midpoint of its path to the nearest gold
    (or the furthest clear point short of it), facing the gold, and the gold it then overlaps
    eaten."""
    moved = scenes.copy()
    path = scenes.nearest_gold() - scenes.agent
    tries = np.linspace(0.5, 0.0, TRIES + 1)
    candidates = scenes.agent[:, None, :] + tries[None, :, None] * path[:, None, :]
    first = np.argmax(~scenes.blocked(candidates), axis=1)  # the start (last try) is always clear
    moved.agent = candidates[np.arange(len(scenes)), first]
    moved.heading = scenes.gold_angle()
    moved.eat()
    return moved


@register
class ImagineHalfwayToGold(ImageFramework):
    name = "imagine_halfway_to_gold"
    description = "the agent halfway to the gold, facing it"
    prompts = (
        "imagine yourself halfway to the gold",
        "show yourself half way along the path to the gold",
        "draw yourself at the midpoint between you and the gold",
    )

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        return render(halfway(scenes), size)
