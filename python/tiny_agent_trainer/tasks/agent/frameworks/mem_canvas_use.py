"""mem_canvas_use: recall a picture seen 0, 1 or 2 steps ago.

- Scenes: three fresh bare scenes per example (side walls, one gold piece anywhere), shown in
  turn: the first two are the canvases (oldest first, really their pictures, not a model's
  reconstruction), the third is the input picture.
- The lookback k is uniform in {0, 1, 2}; the prompt (`RECALL`: three paraphrases per k, each
  saying which picture: the current one, the previous one, the one two steps ago) asks for the
  picture seen k steps ago. Target: that picture (k = 0: the input; k = 1: the
  second canvas; k = 2: the first canvas).
- `Batch.scenes` are the input's scenes; `extra`: `lookback` (n,) k. Answer `EOS`. Weights:
  text 1, image 1.
"""

from __future__ import annotations

import numpy as np

from ..game import make_scenes
from ..render import render
from .base import Batch, ImageFramework, register

RECALL: tuple[tuple[str, ...], ...] = (
    ("show the picture you see now", "draw the current picture", "recall the picture in front of you"),
    ("show the previous picture", "draw the picture from one step ago", "recall the picture you saw one step ago"),
    (
        "show the picture from two steps ago",
        "draw the picture before the previous one",
        "recall the picture you saw two steps ago",
    ),
)
"""The prompts by lookback k (index)."""
SHOWN = len(RECALL)


@register
class MemCanvasUse(ImageFramework):
    name = "mem_canvas_use"
    description = "recall the picture seen 0, 1 or 2 steps ago (the earlier ones are canvases)"
    prompts = tuple(p for group in RECALL for p in group)

    def make(self, n: int, rng: np.random.Generator, size: int) -> Batch:
        scenes = make_scenes(SHOWN * n, rng, self.kind)
        pictures = render(scenes, size).reshape(SHOWN, n, size, size, 3)  # in the order shown
        lookback = rng.integers(SHOWN, size=n)
        which = (rng.random(n) * np.array([len(g) for g in RECALL])[lookback]).astype(np.int64)
        prompt = [RECALL[k][i] for k, i in zip(lookback, which)]
        target = pictures[SHOWN - 1 - lookback, np.arange(n)]
        return self.image_batch(
            scenes.select(slice((SHOWN - 1) * n, SHOWN * n)), pictures[-1], target, prompt,
            canvases=np.ascontiguousarray(pictures[:-1].transpose(1, 0, 2, 3, 4)), extra={"lookback": lookback},
        )
