"""A model's `relposition_qa` answers by draw and wall, and its closed loop (docs/agent.md's probes).

Held-out examples of each of the framework's three draws (placed scenes, walked ones, pressed
against the wall that hides the gold; a fixed seed, so every run is scored on the same examples),
each question's balanced accuracy over all of them, over those where a wall lies across the
straight way from the agent to the gold, and over the others, then over the scenes with one gold
piece and with two; then the closed loop (the model's best-move answers steer the agent, at most
100 moves) on the same solvable full and bare scenes, by how they start (a wall across the way or
not, one gold piece or two), how its lost games end (stuck in one place turning back and
forth, or pushing into a wall), and, at the places where the lost full-scene games end, its best
move at every heading beside the oracle's (`headings`).

    .venv/bin/python scripts/agent_relposition_probe.py RUN [-n 600] [--episodes 300] [--threads 2]
"""

from __future__ import annotations

import argparse

import numpy as np

from tiny_agent_trainer.tasks.agent import evaluate, game
from tiny_agent_trainer.tasks.agent.frameworks import base
from tiny_agent_trainer.tasks.agent.frameworks import relposition_qa as rq
from tiny_agent_trainer.tasks.agent.game import AGENT_R, segment_hits
from tiny_agent_trainer.tasks.agent.model import AgentModel

EXAMPLES_SEED = 20261205
LOOP_SCENES_SEED, LOOP_SEED = 777, 1
LOOP_STEPS = 100
TAIL = 20
"""A lost game's last moves that tell how it ends."""


def balanced(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean([np.mean(pred[truth == c] == c) for c in np.unique(truth)]))


def blocked(scenes: game.Scenes) -> np.ndarray:
    """(n,) whether a wall lies across the straight way from the agent to the gold's aim point."""
    return np.asarray(segment_hits(scenes.walls, scenes.agent, scenes.aim(), AGENT_R)).reshape(len(scenes))


def pieces(scenes: game.Scenes) -> np.ndarray:
    """(n,) how many gold pieces each scene has."""
    return (~np.isnan(scenes.gold[:, :, 0])).sum(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder or checkpoint of an agent")
    parser.add_argument("-n", type=int, default=600, help="placed and walked examples; pressed ones are half as many")
    parser.add_argument("--episodes", type=int, default=300, help="closed-loop games on full scenes and on bare ones")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    model = AgentModel.load(args.run, threads=args.threads)
    framework = base.get("relposition_qa")
    assert isinstance(framework, rq.RelPositionQA)  # its examples() asks the questions given
    rng = np.random.default_rng(EXAMPLES_SEED)
    n = args.n
    draws = {
        "placed": base.aim_half(rq.bare_and_full(n // 2, n - n // 2, rng), rng),
        "walked": rq.walk(rq.bare_and_full(n // 4, n - n // 4, rng), rng),
        "pressed": rq.press(base.draw_kept(n // 2, rng, "full", rq.hidden_gold), rng),
    }
    for name, scenes in draws.items():
        batch = framework.examples(scenes, rng.integers(3, size=len(scenes)), rng, model.size)
        texts, _ = model.answers(batch.image, batch.prompt, batch.canvases)
        said = evaluate.answer_classes(framework, batch, texts)
        wall, gold = blocked(scenes), pieces(scenes)
        print(f"{name}: {len(scenes)} examples, a wall across the way {wall.mean():.1%}, two gold pieces {np.mean(gold == 2):.1%}")
        for index, question in enumerate(framework.questions):
            asked = batch.question == index
            row = [f"  {question.name}"]
            for label, chosen in (
                ("all", asked),
                ("way blocked", asked & wall),
                ("way free", asked & ~wall),
                ("one piece", asked & (gold == 1)),
                ("two pieces", asked & (gold == 2)),
            ):
                if chosen.sum() > 5:
                    row.append(f"{label} {balanced(batch.label[chosen], said[chosen]):.1%} ({chosen.sum()})")
            print(" | ".join(row), flush=True)
    for kind in ("full", "bare"):
        scenes = game.make_scenes(args.episodes, np.random.default_rng(LOOP_SCENES_SEED), kind, solvable=True)
        played = evaluate.play(model, scenes, LOOP_STEPS, np.random.default_rng(LOOP_SEED), record=True)
        won = played.success
        wall, gold = blocked(scenes), pieces(scenes)
        starts = []
        for label, chosen in (
            ("started blocked", wall),
            ("free", ~wall),
            ("one piece: blocked", wall & (gold == 1)),
            ("free", ~wall & (gold == 1)),
            ("two pieces: blocked", wall & (gold == 2)),
            ("free", ~wall & (gold == 2)),
        ):
            starts.append(f"{label} {won[chosen].mean():.1%} ({chosen.sum()})" if chosen.any() else f"{label} -")
        print(f"loop {kind}: {won.mean():.1%} of {len(scenes)}; " + ", ".join(starts), flush=True)
        print("  " + lost_games(played), flush=True)
        if kind == "full" and not won.all():
            print("  " + headings(model, played.final.select(np.nonzero(~won)[0]), np.random.default_rng(LOOP_SEED)), flush=True)


def headings(model: AgentModel, places: game.Scenes, rng: np.random.Generator) -> str:
    """The model's best move at every one of the 60 headings of each place, beside the oracle's:
    how often they agree; at how many headings of a place each says forward; and, at the places
    where the model never says forward, its *sinks* (anticlockwise at one heading, clockwise at the
    next: a greedy policy turns back and forth there) and how far the sink nearest to one of the
    oracle's forward headings lies from it."""
    n, turns = len(places), round(2 * np.pi / game.TURN)
    every = places.select(np.repeat(np.arange(n), turns))
    every.heading = np.tile(np.arange(turns) * game.TURN, n)
    question = evaluate.move_question()
    framework = base.get(question.framework)
    batch = framework.ask(every, question.question, rng, model.size)
    texts, _ = model.answers(batch.image, batch.prompt, batch.canvases)
    classes = evaluate.answer_classes(framework, batch, texts)
    said = question.moves_of(classes).reshape(n, turns)
    truth = every.best_move().reshape(n, turns)
    sink = (said == game.ANTICLOCKWISE) & (np.roll(said, -1, axis=1) == game.CLOCKWISE)  # between h and h + 1
    never = ~(said == game.FORWARD).any(axis=1)
    gaps = []
    for i in np.nonzero(never & (truth == game.FORWARD).any(axis=1) & sink.any(axis=1))[0]:
        apart = (np.nonzero(sink[i])[0][:, None] + 0.5 - np.nonzero(truth[i] == game.FORWARD)[0][None, :]) % turns
        gaps.append(np.minimum(apart, turns - apart).min() * np.degrees(game.TURN))
    gap = f"median {np.median(gaps):.0f} degrees (quartiles {np.percentile(gaps, 25):.0f}-{np.percentile(gaps, 75):.0f})" if gaps else "-"
    return (
        f"at the {n} lost games' last places, every heading: best move right {np.mean(said == truth):.1%}; "
        f"forward at a median {np.median((truth == game.FORWARD).sum(axis=1)):.0f} headings (oracle), "
        f"{np.median((said == game.FORWARD).sum(axis=1)):.0f} (model); the model never forward at {never.mean():.0%} of the places, "
        f"sinks there {np.mean(sink[never].sum(axis=1)) if never.any() else 0:.1f} a place, the nearest to the oracle's forward {gap}"
    )


def lost_games(played: evaluate.Episodes) -> str:
    """How the lost games end, over their last `TAIL` moves: the agent's place unchanged
    (*stuck*), and among those *oscillating* (only turns, most of them undoing the one before),
    *sweeping* (only turns, back and forth over several headings, or round), *pushing* (forward moves at
    least half of them: into a wall), or otherwise; and how many of the oscillating ones have a
    wall across the straight way to the gold at the end."""
    lost = np.nonzero(~played.success)[0]
    if not len(lost):
        return "no game lost"
    tail = played.history[-TAIL:]
    places = np.stack([before.agent[lost] for before, _ in tail] + [played.final.agent[lost]])
    moves = np.stack([m[lost] for _, m in tail], axis=1)  # (lost, TAIL)
    stuck = np.abs(places - places[0]).max(axis=(0, 2)) < 1e-9
    turns = np.isin(moves, (game.CLOCKWISE, game.ANTICLOCKWISE))
    undone = (moves[:, 1:] != moves[:, :-1]) & turns[:, 1:] & turns[:, :-1]
    oscillate = stuck & turns.all(axis=1) & (undone.mean(axis=1) >= 0.5)
    sweep = stuck & turns.all(axis=1) & ~oscillate
    push = stuck & ~oscillate & ((moves == game.FORWARD).mean(axis=1) >= 0.5)
    hidden = blocked(played.final.select(lost))
    n = len(lost)
    return (
        f"lost {n}: stuck {stuck.mean():.0%}, oscillating {oscillate.sum() / n:.0%} "
        f"(a wall across the way in {hidden[oscillate].mean() if oscillate.any() else 0:.0%}), "
        f"sweeping {sweep.sum() / n:.0%}, pushing forward {push.sum() / n:.0%}, "
        f"other {(n - oscillate.sum() - sweep.sum() - push.sum()) / n:.0%}"
    )


if __name__ == "__main__":
    main()
