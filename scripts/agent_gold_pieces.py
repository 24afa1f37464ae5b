"""Which gold pieces a trained agent erases when asked for a room without the gold
(docs/agent.md, "A closing stage").

For a picture framework whose target leaves the gold out (`imagine_without_gold`,
`imagine_walls_only`), draws the model's pictures, snaps them to the game's colours as the model
hands them out, and prints for each gold piece of the input (a 4-connected set of gold pixels)
whether it was kept (more than half of its pixels still gold), split by whether the piece shares
one of the model's patches with a wall pixel and by its distance to the nearest wall pixel, with
the picture skill and the share of the squared error on the gold's pixels. Then the colour the
decoder writes on the gold's pixels before the snap (the mean RGB of the pieces near a wall and
of the others, kept and erased), beside the gold (255, 200, 0) and the floor it should become.

    .venv/bin/python scripts/agent_gold_pieces.py RUN [-n 300] [--framework imagine_without_gold]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tiny_agent_trainer.config import Config
from tiny_agent_trainer.tasks.agent.frameworks import base
from tiny_agent_trainer.tasks.agent.model import AgentModel
from tiny_agent_trainer.tasks.agent.render import BLACK, GOLD, PALETTE, palette_indices

DISTANCES = ((0, 4), (4, 7), (7, 10), (10, 15), (15, 10_000))


def pieces(mask: np.ndarray) -> list[np.ndarray]:
    """The 4-connected parts of a 2-D boolean mask, each as a mask."""
    label = np.zeros(mask.shape, dtype=np.int64)
    parts = []
    for y, x in zip(*np.nonzero(mask)):
        if label[y, x]:
            continue
        label[y, x] = len(parts) + 1
        todo = [(y, x)]
        while todo:
            a, b = todo.pop()
            for p, q in ((a + 1, b), (a - 1, b), (a, b + 1), (a, b - 1)):
                if 0 <= p < mask.shape[0] and 0 <= q < mask.shape[1] and mask[p, q] and not label[p, q]:
                    label[p, q] = len(parts) + 1
                    todo.append((p, q))
        parts.append(label == len(parts) + 1)
    return parts


def patch_size(run: str) -> int:
    """The run's `model.patch_size`, from the config its checkpoint (`best`, else `last`) saved."""
    for folder in (Path(run), Path(run) / "best", Path(run) / "last"):
        if (folder / "config.toml").is_file():
            return int(Config.from_toml(folder / "config.toml").model.patch_size)
    raise SystemExit(f"{run}: no checkpoint config.toml found; pass --patch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder or checkpoint")
    parser.add_argument("-n", type=int, default=300, help="examples")
    parser.add_argument("--seed", type=int, default=12345, help="the examples' seed")
    parser.add_argument("--size", type=int, default=96, help="picture side in pixels")
    parser.add_argument("--framework", default="imagine_without_gold", help="a picture framework without the gold")
    parser.add_argument("--patch", type=int, default=None, help="patch side (default: the run's config)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads")
    args = parser.parse_args()
    patch = args.patch or patch_size(args.run)
    model = AgentModel.load(args.run, threads=args.threads, palette=False)
    batch = base.get(args.framework).make(args.n, np.random.default_rng(args.seed), args.size)
    assert batch.target is not None
    # One pass: the pixels as the decoder writes them, and snapped as the model hands them out.
    raw = np.asarray(model(batch).images)
    drawn = PALETTE[palette_indices(raw)].astype(np.uint8)
    image, target = batch.image, batch.target
    gold = np.all(image == PALETTE[GOLD], axis=-1)
    if np.all(target[gold] == image[gold]):
        raise SystemExit(f"{args.framework} keeps the gold; pick one whose target leaves it out")
    wall = np.all(image == PALETTE[BLACK], axis=-1)
    kept_pixels = np.all(drawn == PALETTE[GOLD], axis=-1) & gold

    def scaled(a: np.ndarray) -> np.ndarray:
        return a.astype(np.float32) / 255

    error = ((scaled(drawn) - scaled(target)) ** 2).sum(-1)
    copy = ((scaled(image) - scaled(target)) ** 2).sum(-1)
    print(f"{args.framework}, {args.n} examples: skill {1 - error.sum() / copy.sum():.3f}, "
          f"{error[gold].sum() / error.sum():.0%} of the squared error on the gold's pixels, "
          f"{kept_pixels.sum() / gold.sum():.0%} of the gold's pixels kept")
    kept, whole, shares, distance, colour = [], [], [], [], []
    for i in range(args.n):
        wy, wx = np.nonzero(wall[i])
        for piece in pieces(gold[i]):
            ys, xs = np.nonzero(piece)
            share = kept_pixels[i][piece].mean()
            kept.append(share > 0.5)
            colour.append(raw[i][piece].astype(np.float64).mean(0))
            whole.append(share in (0.0, 1.0))
            places = set(zip((ys // patch).tolist(), (xs // patch).tolist()))
            shares.append(any(wall[i, y * patch:(y + 1) * patch, x * patch:(x + 1) * patch].any() for y, x in places))
            distance.append(np.hypot(wy - ys.mean(), wx - xs.mean()).min() if len(wy) else np.inf)
    k, s, d = np.array(kept), np.array(shares), np.array(distance)
    print(f"gold pieces: {len(k)}, kept {k.mean():.0%}; kept or erased whole (every pixel or none): {np.mean(whole):.0%}")
    for name, where in ((f"sharing a {patch}-px patch with a wall", s), ("in patches without a wall", ~s)):
        print(f"  {name:<40} {where.sum():5d} pieces, kept {k[where].mean() if where.any() else np.nan:.0%}")
    for lo, hi in DISTANCES:
        where = (d >= lo) & (d < hi)
        span = f"{lo}-{hi} px from a wall" if hi < 10_000 else f"over {lo} px from a wall"
        print(f"  {span:<40} {where.sum():5d} pieces, kept {k[where].mean() if where.any() else np.nan:.0%}")
    c = np.array(colour).reshape(-1, 3)
    floor = target[gold].astype(np.float64).mean(0)
    print(f"the decoder's colour on the gold's pixels before the snap (gold {tuple(PALETTE[GOLD].tolist())}, "
          f"their target {tuple(np.round(floor).astype(int).tolist())}):")
    for name, where in (("within 7 px of a wall", d < 7), ("farther", d >= 7)):
        for state, which in (("kept", k), ("erased", ~k)):
            w = where & which
            mean = tuple(np.round(c[w].mean(0)).astype(int).tolist()) if w.any() else "-"
            print(f"  {name:<22} {state:<7} {w.sum():5d} pieces, mean RGB {mean}")


if __name__ == "__main__":
    main()
