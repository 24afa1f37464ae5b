"""How much of the best move round a wall a learner with exact inputs finds (docs/agent.md, "What a
learner with exact rays reaches").

The agent model reads its rays off the picture and learns the best move from about 40,000
`relposition_qa` examples a run. Here an MLP gets the same kind of input exactly: 48 ray lengths
from the agent's centre to the nearest wall (analytic, the model's directions: from the heading,
anticlockwise), and the nearest and next gold pieces in the agent's frame (along, across the
heading, distance, presence), optionally also every wall's four corners in that frame. It learns
the oracle's best move on `relposition_qa`'s own draws (placed, walked and pressed scenes) and is
scored on held-out draws (balanced accuracy, all and where a wall crosses the straight way) and
as a greedy policy in the probe's closed loop (the same 300 solvable full scenes, 100 moves).

- `curve`: rays and gold, 10,000 / 20,000 / all training examples;
- `walls`: rays, gold and the walls' corners, all examples;
- `dagger`: DAgger rounds: the MLP plays 2,000 full games of its own, 20,000 of the states it
  passes through join the data with the oracle's answers, and a fresh MLP learns on all of it.

    .venv/bin/python scripts/agent_best_move_ceiling.py [-n 40000] [--rounds 4] [--what curve,walls,dagger]

Drawing 40,000 examples takes about 5 minutes on 2 cores (the walks ask the oracle at every
move), each MLP about a minute.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from torch import nn

from tiny_agent_trainer.tasks.agent import game
from tiny_agent_trainer.tasks.agent.frameworks import base

RAYS = 48
RAY_CAP = 1.5
"""Ray lengths in board units (the board is 1 wide), capped."""
TRAIN_SEED, TEST_SEED, GAMES_SEED = 0, 1, 99
LOOP_SCENES_SEED = 777
LOOP_STEPS = 100
TEST_EXAMPLES = 6000
DAGGER_GAMES, DAGGER_STATES = 2000, 20000
EPOCHS, BATCH, LEARNING_RATE = 15, 256, 1e-3


def ray_lengths(s: game.Scenes) -> np.ndarray:
    """(B, RAYS) how far each ray from the agent's centre runs before it meets a wall rectangle."""
    angle = s.heading[:, None] + np.arange(RAYS)[None] * (2 * math.pi / RAYS)
    dx, dy = np.cos(angle)[:, :, None], np.sin(angle)[:, :, None]
    w = s.walls[:, None, :, :]
    px, py = s.agent[:, 0, None, None], s.agent[:, 1, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        tx1, tx2 = (w[..., 0] - px) / dx, (w[..., 2] - px) / dx
        ty1, ty2 = (w[..., 1] - py) / dy, (w[..., 3] - py) / dy
    enter = np.maximum(np.minimum(tx1, tx2), np.minimum(ty1, ty2))
    leave = np.minimum(np.maximum(tx1, tx2), np.maximum(ty1, ty2))
    hit = (leave >= np.maximum(enter, 0)) & ~np.isnan(w[..., 0])
    return np.minimum(np.where(hit, np.maximum(enter, 0), np.inf).min(-1), RAY_CAP)


def to_frame(points: np.ndarray, s: game.Scenes) -> tuple[np.ndarray, np.ndarray]:
    """Along and across the heading, from the agent, of `points` (B, ..., 2)."""
    shape = (len(s),) + (1,) * (points.ndim - 2)
    d = points - s.agent.reshape(shape + (2,))
    c, n = np.cos(s.heading).reshape(shape), np.sin(s.heading).reshape(shape)
    return d[..., 0] * c + d[..., 1] * n, -d[..., 0] * n + d[..., 1] * c


def gold_features(s: game.Scenes) -> np.ndarray:
    """(B, 8): the nearest and the next gold piece: along, across, distance, presence."""
    order = np.argsort(s.gold_distance(), axis=1)
    along, across = to_frame(np.take_along_axis(s.gold, order[:, :, None], 1), s)
    present = ~np.isnan(along)
    out = np.stack([along, across, np.hypot(along, across), present.astype(float)], -1)
    return np.nan_to_num(out).reshape(len(s), -1)


def wall_features(s: game.Scenes) -> np.ndarray:
    """(B, MAX_WALLS * 9): each wall's corners in the agent's frame and its presence, nearest first."""
    w = s.walls
    along, across = to_frame(np.stack([w[..., [0, 1]], w[..., [0, 3]], w[..., [2, 1]], w[..., [2, 3]]], -2), s)
    f = np.concatenate([along, across, (~np.isnan(w[..., :1])).astype(float)], -1)
    distance = np.stack([game.wall_distance(w[:, k : k + 1], s.agent[:, None])[:, 0] for k in range(game.MAX_WALLS)], 1)
    order = np.argsort(distance, axis=1, kind="stable")
    return np.nan_to_num(np.take_along_axis(f, order[:, :, None], 1)).reshape(len(s), -1)


def features(s: game.Scenes, walls: bool) -> np.ndarray:
    parts = [ray_lengths(s), gold_features(s)] + ([wall_features(s)] if walls else [])
    return np.concatenate(parts, 1).astype(np.float32)


def mlp(inputs: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(inputs, 512), nn.GELU(), nn.Linear(512, 512), nn.GELU(), nn.Linear(512, 256), nn.GELU(), nn.Linear(256, 3)
    )


def fit(s: game.Scenes, y: np.ndarray, walls: bool) -> nn.Module:
    """A fresh MLP trained on the states `s` and their best moves `y` (AdamW, one cycle)."""
    torch.manual_seed(0)
    x = torch.from_numpy(features(s, walls))
    target = torch.from_numpy(y.astype(np.int64))
    model = mlp(x.shape[1])
    opt = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    steps = EPOCHS * (len(y) // BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, LEARNING_RATE, total_steps=steps, pct_start=0.05)
    order = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(EPOCHS):
        perm = torch.randperm(len(y), generator=order)
        for i in range(0, len(y) - BATCH + 1, BATCH):
            j = perm[i : i + BATCH]
            loss = nn.functional.cross_entropy(model(x[j]), target[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    return model.eval()


def moves(model: nn.Module, s: game.Scenes, walls: bool) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(features(s, walls))).argmax(1).numpy()


def play(model: nn.Module, scenes: game.Scenes, walls: bool, keep: bool = False) -> tuple[np.ndarray, list[game.Scenes]]:
    """(B,) whether each game eats gold within LOOP_STEPS greedy moves, and (with `keep`) the
    states before each move."""
    s, won, seen = scenes.copy(), np.zeros(len(scenes), dtype=bool), []
    for _ in range(LOOP_STEPS):
        index = np.nonzero(s.has_gold() & ~won)[0]
        if not len(index):
            break
        now = s.select(index)
        if keep:
            seen.append(now.copy())
        chosen = np.full(len(s), -1)
        chosen[index] = moves(model, now, walls)
        won |= s.move(chosen) > 0
    return won, seen


def balanced(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean([np.mean(pred[truth == c] == c) for c in np.unique(truth)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=40000, help="training examples (a multiple of 5,000)")
    parser.add_argument("--rounds", type=int, default=4, help="DAgger rounds")
    parser.add_argument("--what", default="curve,walls,dagger")
    args = parser.parse_args()
    what = set(args.what.split(","))
    framework = base.get("relposition_qa")
    start = time.time()
    rng = np.random.default_rng(TRAIN_SEED)
    train = base.concat_scenes([framework.draw(5000, rng) for _ in range(args.n // 5000)])
    y = train.best_move()
    test = framework.draw(TEST_EXAMPLES, np.random.default_rng(TEST_SEED))
    truth = test.best_move()
    wall = test.has_gold() & test.way_blocked()
    loop = game.make_scenes(300, np.random.default_rng(LOOP_SCENES_SEED), "full", solvable=True)
    loop_wall = loop.way_blocked()
    print(f"{len(train)} training and {len(test)} test examples ({wall.mean():.1%} with a wall across the way) "
          f"drawn in {time.time() - start:.0f} s", flush=True)

    def report(label: str, model: nn.Module, walls: bool) -> None:
        p = moves(model, test, walls)
        won, _ = play(model, loop, walls)
        print(f"{label}: best move {balanced(truth, p):.1%}, a wall across the way {balanced(truth[wall], p[wall]):.1%}, "
              f"free {balanced(truth[~wall], p[~wall]):.1%} | closed loop {won.mean():.1%} "
              f"(a wall across the way {won[loop_wall].mean():.1%}, free {won[~loop_wall].mean():.1%})", flush=True)

    if "curve" in what:
        for k in sorted({10000, 20000, len(train)}):
            if k <= len(train):
                report(f"rays and gold, {k} examples", fit(train.select(slice(0, k)), y[:k], False), False)
    if "walls" in what:
        report(f"rays, gold and walls, {len(train)} examples", fit(train, y, True), True)
    if "dagger" in what:
        games = game.make_scenes(DAGGER_GAMES, np.random.default_rng(GAMES_SEED), "full", solvable=True)
        states, answers = train, y
        model = fit(states, answers, False)
        for round_ in range(1, args.rounds + 1):
            _, seen = play(model, games, False, keep=True)
            visited = base.concat_scenes(seen)
            visited = visited.select(np.random.default_rng(round_).permutation(len(visited))[:DAGGER_STATES])
            states = base.concat_scenes([states, visited])
            answers = np.concatenate([answers, visited.best_move()])
            model = fit(states, answers, False)
            report(f"DAgger round {round_} ({len(answers)} states)", model, False)


if __name__ == "__main__":
    main()
