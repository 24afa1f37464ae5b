"""Which objects a trained agent erases for each picture prompt (docs/agent.md, "What each prompt
erases").

Draws one set of full scenes (those of `imagine_without_gold`: the agent, walls and one or two gold
pieces), asks the model for each "imagine" picture on the same inputs (the framework's own
phrasings and targets), snaps its pictures to the game's colours as the model hands them out, and
prints, per prompt and per kind of pixel of the input (the agent's, the walls', the gold's within
7 px of a wall and farther), whether the prompt keeps or erases them and the share the model drew
as the target has them. The picture skill weighs pixels by their number; this says, object by
object, whether the model does what the prompt asks.

    .venv/bin/python scripts/agent_prompt_swap.py RUN [-n 300]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from tiny_agent_trainer.tasks.agent.frameworks import base
from tiny_agent_trainer.tasks.agent.model import AgentModel
from tiny_agent_trainer.tasks.agent.render import BLACK, GOLD, GREEN, PALETTE, RED, WHITE, palette_indices

PROMPTS = ("imagine_without_agent", "imagine_without_gold", "imagine_without_walls", "imagine_walls_only")
NEAR = 7
"""Gold pixels closer than this to a wall pixel (in pixels) count as beside a wall."""


def wall_distance(wall: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Per picture, each `where` pixel's distance to the nearest `wall` pixel (inf elsewhere)."""
    out = np.full(where.shape, np.inf)
    for i in range(len(where)):
        wy, wx = np.nonzero(wall[i])
        py, px = np.nonzero(where[i])
        if len(wy) and len(py):
            out[i, py, px] = np.sqrt((py[:, None] - wy[None]) ** 2 + (px[:, None] - wx[None]) ** 2).min(1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder or checkpoint")
    parser.add_argument("-n", type=int, default=300, help="scenes")
    parser.add_argument("--seed", type=int, default=12345, help="the scenes' seed")
    parser.add_argument("--size", type=int, default=96, help="picture side in pixels")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads")
    args = parser.parse_args()
    model = AgentModel.load(args.run, threads=args.threads)
    batch = base.get("imagine_without_gold").make(args.n, np.random.default_rng(args.seed), args.size)
    image = palette_indices(batch.image)
    gold = image == GOLD
    near = gold & (wall_distance(image == BLACK, gold) < NEAR)
    kinds = {
        "agent": (image == GREEN) | (image == RED),
        "walls": image == BLACK,
        f"gold within {NEAR} px of a wall": near,
        "gold farther": gold & ~near,
    }
    print(f"{args.run}: {args.n} scenes; per prompt and kind of pixel, what the prompt asks and the "
          "share of those pixels drawn as the target has them")
    print(f"{'prompt of':<24}" + "".join(f"{k:>32}" for k in kinds))
    for name in PROMPTS:
        framework = base.get(name)
        assert isinstance(framework, base.ImageFramework)
        prompts = [framework.prompts[i % len(framework.prompts)] for i in range(args.n)]
        target = framework.target(batch.scenes, args.size)
        drawn = np.asarray(model(dataclasses.replace(batch, prompt=prompts, target=target)).images)
        right = palette_indices(drawn) == palette_indices(target)
        erased = palette_indices(target) == WHITE
        cells = []
        for where in kinds.values():
            if not where.any():
                cells.append("-")
                continue
            asks = erased[where].mean()
            verb = "erase" if asks > 0.99 else "keep" if asks < 0.01 else f"erase {asks:.0%}"
            cells.append(f"{verb} {right[where].mean():.1%} ({where.sum()} px)")
        print(f"{name:<24}" + "".join(f"{c:>32}" for c in cells))


if __name__ == "__main__":
    main()
