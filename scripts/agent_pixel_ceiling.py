"""How well the grid-world's pictures hold the heading questions' answers (docs/agent.md).

Reads the agent's centre (green and red pixels), its heading (from the green pixels' centre to the
red eye's) and the gold (the scene's own pieces) from rendered pictures, applies the game's own
rules to what was read, and prints the heading error and the balanced accuracy of the answers
against the truth: an upper bound for a model that reads the same pictures.

    .venv/bin/python scripts/agent_pixel_ceiling.py [-n 2000] [--size 96 192]
"""

from __future__ import annotations

import argparse

import numpy as np

from tiny_agent_trainer.tasks.agent import game, render
from tiny_agent_trainer.tasks.agent.frameworks import base


def balanced(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean([np.mean(pred[truth == c] == c) for c in np.unique(truth)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="examples per framework")
    parser.add_argument("--size", type=int, nargs="+", default=[96, 192], help="picture sides in pixels")
    args = parser.parse_args()
    green, red = render.GREEN, render.RED
    rules = {
        "gold_direction_qa": lambda s: s.reaches_forward(),
        "relposition_qa": lambda s: s.best_move(),
        "please_turn_qa": lambda s: s.turn_towards_gold(),
    }
    rng = np.random.default_rng(0)
    for name, rule in rules.items():
        for size in args.size:
            scenes = base.get(name).make(args.n, rng, size).scenes
            indices = render.render_indices(scenes, size)
            eye = render.colour_centres(indices, (red,))
            body = render.colour_centres(indices, (green,))
            read = scenes.copy()
            read.agent = render.colour_centres(indices, (green, red))
            read.heading = np.arctan2(*(eye - body)[:, ::-1].T)
            error = np.degrees(np.abs(game.wrap(read.heading - scenes.heading)))
            print(
                f"{name:18s} {size:4d} px  heading error median {np.median(error):.2f} deg, "
                f"90th percentile {np.percentile(error, 90):.2f}; balanced accuracy of the rules on "
                f"what was read {balanced(rule(scenes), rule(read)):.3f}"
            )


if __name__ == "__main__":
    main()
