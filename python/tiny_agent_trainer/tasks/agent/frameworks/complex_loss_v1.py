"""complex_loss_v1: imagine the agent at most half as far from the gold, judged by a loss on
the objects found in the predicted picture rather than by a fixed target picture.

- Scenes: bare (side walls, one gold piece anywhere), kept only where the agent and gold centres
  are at least 2 (AGENT_R + GOLD_R) apart and the agent at their midpoint would be clear of the
  walls: then a correct answer exists in which the gold is still there (the agent at half the
  distance or less, but not overlapping the gold).
- Input: the scene. Prompts: three paraphrases; answer `EOS`. No canvases.
- Target: a reference answer only, the agent moved to the midpoint (heading unchanged), for
  showing and for picture metrics; it is not trained on (image weight 0): any picture with the
  gold where it was, both objects at their sizes and the agent at most half as far is right.
- `extra`: `agent` (n, 2) and `gold` (n, 2) the true centres, `distance` (n,) between them,
  `agent_r` and `gold_r` (n,) the radii.
- The complex loss is the engine's (`tasks::agent::complex_loss`, trained with weight
  `complex`): from the arrays `loss_arrays` gives (true gold centre, distance, radii, the colours
  of the agent (green and red) and of the gold, the soft masks' sharpness) it finds both objects
  in soft colour masks of the predicted picture and penalises, per example and averaged over the
  batch: the gold moved (squared shift over GOLD_R squared), the agent's and the gold's radii
  wrong (squared relative error, radius from the mask's area), and the agent not at most half as
  far from the true gold (relu(new distance / (distance / 2) - 1) squared).
- `score(pred_images_uint8, batch)` (numpy) is per-example success: each pixel mapped to the
  nearest palette colour; the gold's centre within 1 pixel of the true gold and the agent's
  centre at most half the distance (plus 1 pixel) from it; both must be shown. At sizes below 64
  the gold is a pixel or two and its centre is not reliable.
- Weights: text 1, image 0, complex 1.
"""

from __future__ import annotations

import numpy as np

from ..game import AGENT_R, EAT, GOLD_R, Scenes
from ..render import GOLD, GREEN, PALETTE, RED, colour_centres, render
from .base import Batch, ImageFramework, draw_kept, pick, register

SHARPNESS = 0.01
"""A pixel's weight in a colour's soft mask is exp(-d / SHARPNESS), d the mean squared RGB
difference (in [0, 1]) to the colour: 1 on the colour, about 1e-9 between palette colours."""


def _solvable(scenes: Scenes) -> np.ndarray:
    """Whether a right answer keeps the gold: far enough apart, the midpoint clear of the walls."""
    distance = scenes.gold_distance().min(axis=1)
    midpoint = (scenes.agent + scenes.nearest_gold()) / 2
    return (distance >= 2 * EAT) & ~scenes.blocked(midpoint[:, None])[:, 0]


@register
class ComplexLossV1(ImageFramework):
    name = "complex_loss_v1"
    description = "the agent at most half as far from the gold, judged by objects found in the picture"
    prompts = (
        "imagine yourself at most half as far from the gold",
        "show yourself at least twice as close to the gold",
        "draw yourself at half the distance to the gold or closer",
    )
    weights = {"text": 1.0, "image": 0.0, "complex": 1.0}

    def make(self, n: int, rng: np.random.Generator, size: int) -> Batch:
        scenes = draw_kept(n, rng, self.kind, _solvable)
        gold = scenes.nearest_gold()
        reference = scenes.copy()
        reference.agent = (scenes.agent + gold) / 2
        extra = {
            "agent": scenes.agent.copy(),
            "gold": gold,
            "distance": np.linalg.norm(gold - scenes.agent, axis=1),
            "agent_r": np.full(n, AGENT_R),
            "gold_r": np.full(n, GOLD_R),
        }
        return self.image_batch(
            scenes, render(scenes, size), render(reference, size), pick(self.prompts, n, rng), extra=extra
        )

    def loss_arrays(self, batch: Batch) -> dict[str, np.ndarray]:
        n = len(batch.prompt)

        def colours(*indices: int) -> np.ndarray:
            return np.ascontiguousarray(np.broadcast_to(PALETTE[list(indices)], (n, len(indices), 3)))

        def floats(name: str) -> np.ndarray:
            return np.ascontiguousarray(batch.extra[name], dtype=np.float32)

        return {
            "weight_complex": np.asarray(batch.weights.get("complex", 0.0), dtype=np.float32),
            "complex_gold": floats("gold"),
            "complex_distance": floats("distance"),
            "complex_agent_r": floats("agent_r"),
            "complex_gold_r": floats("gold_r"),
            "complex_agent_colours": colours(GREEN, RED),
            "complex_gold_colours": colours(GOLD),
            "complex_sharpness": np.asarray(SHARPNESS, dtype=np.float32),
        }


def score(pred_images_uint8: np.ndarray, batch: Batch) -> np.ndarray:
    """(B,) whether each predicted picture (B, S, S, 3) uint8 shows the gold within 1 pixel of
    where it was and the agent at most half as far from it (plus 1 pixel)."""
    size = pred_images_uint8.shape[1]
    pixels = pred_images_uint8[:, :, :, None, :].astype(np.int32)
    indices = np.argmin(((pixels - PALETTE.astype(np.int32)) ** 2).sum(axis=-1), axis=-1)
    agent = colour_centres(indices, (GREEN, RED))
    gold = colour_centres(indices, (GOLD,))
    true_gold = batch.extra["gold"]
    with np.errstate(invalid="ignore"):
        kept = np.linalg.norm(gold - true_gold, axis=1) * size <= 1.0
        closer = np.linalg.norm(agent - true_gold, axis=1) <= batch.extra["distance"] / 2 + 1.0 / size
    return kept & closer
