"""How wide the oracle's forward band round a wall's corner should be: the closed loop of students
that follow the oracle with an imprecise sense of angle (docs/agent.md, "A band round the corner").

A student answers what the oracle would answer with its heading misjudged by an error that is
fixed for each place (2 hundredths of the board) and heading (normal, `--place` and `--heading`
degrees of spread, drawn from a hash of them, so the same state always gets the same answer, as a
model's greedy answer does). The closed loop plays the harness's solvable full scenes; scenes that
start with a wall across the straight way to the gold are counted apart.

    .venv/bin/python scripts/agent_corner_band.py [--bands 0 0.05 0.08 0.12] [--episodes 300]
"""

from __future__ import annotations

import argparse
import hashlib
import math

import numpy as np

from tiny_agent_trainer.tasks.agent import game

LOOP_SCENES_SEED = 777
LOOP_STEPS = 100
PLACE = 0.02


def misjudged(scenes: game.Scenes, place: float, heading: float, seed: int) -> np.ndarray:
    """(B,) each state's error in radians: a normal draw per place plus one per place and heading."""
    out = np.zeros(len(scenes))
    for i in range(len(scenes)):
        cell = np.round(scenes.agent[i] / PLACE).astype(np.int64).tobytes()
        turn = np.array([round(scenes.heading[i] / game.TURN)], dtype=np.int64).tobytes()
        a, b = (int.from_bytes(hashlib.sha256(key + bytes([seed])).digest()[:8], "little") for key in (cell, cell + turn))
        out[i] = place * np.random.default_rng(a).normal() + heading * np.random.default_rng(b).normal()
    return np.deg2rad(out)


def play(scenes: game.Scenes, place: float, heading: float, seed: int) -> np.ndarray:
    """(B,) whether each game eats gold within LOOP_STEPS moves of the student."""
    s = scenes.copy()
    won = np.zeros(len(s), dtype=bool)
    for _ in range(LOOP_STEPS):
        index = np.nonzero(s.has_gold() & ~won)[0]
        if not len(index):
            break
        seen = s.select(index)
        if place or heading:
            seen.heading = seen.heading + misjudged(seen, place, heading, seed)
        moves = np.full(len(s), -1)
        moves[index] = seen.best_move()
        won |= s.move(moves) > 0
    return won


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bands", type=float, nargs="+", default=[0.0, 0.05, 0.08, 0.12], help="CORNER_AHEAD values")
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--errors", default="0,0 10,0 0,6 0,10 15,10", help="place,heading spreads in degrees")
    args = parser.parse_args()
    scenes = game.make_scenes(args.episodes, np.random.default_rng(LOOP_SCENES_SEED), "full", solvable=True)
    blocked = scenes.way_blocked()
    print(f"{len(scenes)} solvable full scenes, {blocked.sum()} start with a wall across the way")
    for band in args.bands:
        game.CORNER_AHEAD = band  # the oracle reads it at every call
        steps = scenes.steps_to_gold(LOOP_STEPS + 1)
        print(f"band {band:.3f}: the oracle wins {np.mean(steps <= LOOP_STEPS):.1%} in {steps[steps <= LOOP_STEPS].mean():.1f} moves")
        for spread in args.errors.split():
            place, heading = (float(x) for x in spread.split(","))
            won = play(scenes, place, heading, seed=0)
            print(f"  error per place {place:g} deg, per heading {heading:g} deg: won {won.mean():.1%}, "
                  f"started blocked {won[blocked].mean():.1%}, free {won[~blocked].mean():.1%}", flush=True)


if __name__ == "__main__":
    main()
