"""A trained agent's position_qa answers, split by how far apart the agent and the gold lie on the
axis the question asks about (docs/agent.md).

For each of position_qa's four questions, prints the share of right answers where the two
centres lie under 8, 8 to 24, and over 24 pixels apart on that axis, and how often each class
was answered: a model that has not learnt an axis answers it at chance at every distance (or
always the same word); one that reads it coarsely errs only where the two are close.

    .venv/bin/python scripts/agent_axis_errors.py RUN [-n 400] [--seed 7]
"""

from __future__ import annotations

import argparse

import numpy as np

from tiny_agent_trainer.tasks.agent import evaluate
from tiny_agent_trainer.tasks.agent.frameworks import base
from tiny_agent_trainer.tasks.agent.model import AgentModel

BANDS = ((0, 8), (8, 24), (24, 10_000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder or checkpoint")
    parser.add_argument("-n", type=int, default=400, help="examples")
    parser.add_argument("--seed", type=int, default=7, help="the examples' seed")
    parser.add_argument("--size", type=int, default=96, help="picture side in pixels")
    args = parser.parse_args()
    model = AgentModel.load(args.run)
    framework = base.get("position_qa")
    batch = framework.make(args.n, np.random.default_rng(args.seed), args.size)
    answered = evaluate.answer_classes(framework, batch, model(batch).answers)
    right = answered == batch.label
    apart = np.abs(batch.scenes.nearest_gold() - batch.scenes.agent) * args.size
    print(f"{'question':<20}" + "".join(f"{f'{lo}-{hi} px' if hi < 10_000 else f'> {lo} px':>12}" for lo, hi in BANDS)
          + "   answered")
    for q, question in enumerate(framework.questions):
        mine = batch.question == q
        axis = 0 if "left" in question.classes else 1
        cells = []
        for lo, hi in BANDS:
            band = mine & (apart[:, axis] >= lo) & (apart[:, axis] < hi)
            cells.append(f"{right[band].mean():.2f} ({band.sum()})" if band.any() else "-")
        counts = ", ".join(f"{c} {int((answered[mine] == k).sum())}" for k, c in enumerate(question.classes))
        other = int((answered[mine] < 0).sum())
        print(f"{question.name:<20}" + "".join(f"{c:>12}" for c in cells) + f"   {counts}, other {other}")


if __name__ == "__main__":
    main()
