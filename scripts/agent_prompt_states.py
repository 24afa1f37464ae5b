"""How far the transformer's state at <bos> tells the picture prompts apart (docs/agent.md, "What
the decoder reads of the prompt").

Draws one set of full scenes (those of `imagine_without_gold`), asks each "imagine" framework's
prompts about the same pictures, and reads the state at `<bos>` that every decoder query adds a
projection of (`AgentModel.prompt_states`). Prints the share of the states' variance between the
prompts' means, per phrasing its spread over the pictures and the nearest other phrasing's mean,
and per pair of frameworks how well one linear direction (Fisher's, fitted on half the pictures)
tells them apart on the other half. With `--colour-rule` (a run trained with
`model.colour_rule`), also what the rule adds to each colour under each prompt, from the
checkpoint's weights: which prompts the decoder's one prompt-switched rule tells apart.

    .venv/bin/python scripts/agent_prompt_states.py RUN [-n 300] [--colour-rule]
"""

from __future__ import annotations

import argparse
import json
import struct
from itertools import combinations
from pathlib import Path

import numpy as np

from tiny_agent_trainer.tasks.agent.frameworks import base
from tiny_agent_trainer.tasks.agent.model import AgentModel

PROMPTS = ("imagine_without_agent", "imagine_without_gold", "imagine_without_walls", "imagine_walls_only")
COLOURS = {"gold": (255, 200, 0), "floor": (255, 255, 255), "agent": (0, 255, 0), "wall": (0, 0, 0)}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The fp32 tensors of a safetensors file (the checkpoint's weights)."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    data = raw[8 + size :]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=np.float32).reshape(meta["shape"])
    return out


def fisher(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Balanced accuracy and d' of Fisher's direction between two sets of states, fitted on the
    even rows and scored on the odd ones."""
    fit = np.arange(len(a)) % 2 == 0
    centred = np.concatenate([a[fit] - a[fit].mean(0), b[fit] - b[fit].mean(0)])
    w = np.linalg.solve(np.cov(centred.T) + 1e-3 * np.eye(a.shape[1]), a[fit].mean(0) - b[fit].mean(0))
    pa, pb = a[~fit] @ w, b[~fit] @ w
    threshold = (pa.mean() + pb.mean()) / 2
    accuracy = ((pa > threshold).mean() + (pb <= threshold).mean()) / 2
    return float(accuracy), float((pa.mean() - pb.mean()) / np.sqrt((pa.var() + pb.var()) / 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder or checkpoint")
    parser.add_argument("-n", type=int, default=300, help="scenes")
    parser.add_argument("--seed", type=int, default=12345, help="the scenes' seed")
    parser.add_argument("--size", type=int, default=96, help="picture side in pixels")
    parser.add_argument("--colour-rule", action="store_true", help="also read the run's colour rule")
    args = parser.parse_args()
    model = AgentModel.load(args.run)
    batch = base.get("imagine_without_gold").make(args.n, np.random.default_rng(args.seed), args.size)
    # (framework, phrasing) -> (n, d) states of that phrasing about every picture.
    states = {
        (name, j): model.prompt_states(batch.image, [prompt] * args.n)
        for name in PROMPTS
        for j, prompt in enumerate(base.get(name).prompts)
    }
    every = np.concatenate(list(states.values()))
    means = {k: v.mean(0) for k, v in states.items()}
    between = np.mean([((m - every.mean(0)) ** 2).sum() for m in means.values()])
    total = ((every - every.mean(0)) ** 2).sum(1).mean()
    print(f"{args.run}: {args.n} scenes, {len(states)} phrasings; a state's norm {np.linalg.norm(every, axis=1).mean():.2f}")
    print(f"share of the variance between the phrasings' means: {between / total:.3f}")
    print("per phrasing: spread over the pictures (root mean square), and the nearest other phrasing's mean")
    for key, value in states.items():
        spread = np.sqrt(((value - means[key]) ** 2).sum(1).mean())
        gap, other = min((float(np.linalg.norm(means[key] - means[o])), o) for o in states if o != key)
        print(f"  {key[0]:>22} #{key[1]}  spread {spread:5.2f}   nearest {other[0]} #{other[1]} at {gap:5.2f}")
    print("per pair of frameworks (all phrasings): the gap between their means, Fisher's direction on held-out pictures")
    by = {name: np.concatenate([states[(name, j)] for j in range(len(base.get(name).prompts))]) for name in PROMPTS}
    for a, b in combinations(PROMPTS, 2):
        accuracy, dprime = fisher(by[a], by[b])
        gap = np.linalg.norm(by[a].mean(0) - by[b].mean(0))
        print(f"  {a:>22} / {b:<22} gap {gap:5.2f}   accuracy {accuracy:.3f}, d' {dprime:5.1f}")
    if args.colour_rule:
        run = args.run / "best" if (args.run / "best").is_dir() else args.run
        w = read_safetensors(run / "model.safetensors")
        if "colour_rule.out.weight" not in w:
            raise SystemExit(f"{run}: no colour rule (train with model.colour_rule = true)")
        print("what the colour rule adds to each colour, mean over the pictures, in 0-255 units (r, g, b)")
        for name in PROMPTS:
            prompt_term = by[name] @ w["colour_rule.prompt.weight"].T
            cells = []
            for colour_name, rgb in COLOURS.items():
                colour = np.asarray(rgb, dtype=np.float32) / 255 - 0.5
                both = colour @ w["colour_rule.colour.weight"].T + w["colour_rule.colour.bias"] + prompt_term
                gate, value = np.split(both, 2, axis=-1)
                hidden = gate / (1 + np.exp(-gate)) * value
                change = (hidden @ w["colour_rule.out.weight"].T + w["colour_rule.out.bias"]).mean(0) * 255
                cells.append(f"{colour_name} ({change[0]:+.0f}, {change[1]:+.0f}, {change[2]:+.0f})")
            print(f"  {name:>22}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
