"""The states a policy passes through in closed-loop games, kept in a file (`tat agent visits`).

A model trained on scenes the data makers draw meets other states when it plays: its own
mistakes take it there (an agent pushed against a wall, one turning back and forth between two
headings), and a greedy model repeats a wrong answer in the same state every time it comes back
(docs/agent.md, "How the closed loop's games are lost"). DAgger's remedy is to play the model,
keep the states it visits, and train it on the oracle's answers there: the framework `visited_qa`
asks the best move about the states of the files `frameworks.visits` names.

`record` plays `episodes` seeded games (their scenes drawn from the `VISITS` stream, apart from
the harness's closed-loop scenes) and keeps every state before a move while the game runs, once
per game (an agent stuck against a wall stays in one state for many moves). `save` writes them
as a NumPy `.npz` file whole or not at all; `load` reads one back, checking every array and
naming the file and the fix when one is wrong.

The games split by their number: every `HELD_OUT_EVERY`-th game's states are held out (validation
and the harness ask about them), the others are trained on.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..._core import FileError
from ..._files import atomic_output
from . import game

VISITS = 0x56495354
"""The recorded games' scenes' tag ("VIST"), apart from the harness's `EPISODES`."""
VISIT_PROMPTS = 0x56505254
"""The recorded games' prompt paraphrases' tag ("VPRT")."""
HELD_OUT_EVERY = 8
"""Games whose number is a multiple of this are held out."""
FORMAT = 1
"""The file layout's version (`format` in the file)."""
ARRAYS = {"agent": (2,), "heading": (), "walls": (game.MAX_WALLS, 4), "gold": (game.MAX_GOLD, 2), "game": (), "won": ()}
"""Each per-state array's shape after the state axis."""


@dataclass
class Visits:
    """Visited states: the `scenes`, the `game` each came from (its number among the recorded
    games) and whether that game was `won`; `policy` names who played."""

    scenes: game.Scenes
    game: np.ndarray
    won: np.ndarray
    policy: str

    def __len__(self) -> int:
        return len(self.game)

    def split(self, held_out: bool) -> Visits:
        """The held-out games' states (`held_out`) or the others'."""
        keep = (self.game % HELD_OUT_EVERY == 0) == held_out
        index = np.nonzero(keep)[0]
        return Visits(self.scenes.select(index), self.game[index], self.won[index], self.policy)


def record(
    policy: Any,
    episodes: int,
    seed: int = 0,
    kind: str = "full",
    steps: int = 100,
    size: int = 96,
    policy_name: str = "",
) -> Visits:
    """Plays `episodes` games on seeded `kind` scenes (solvable ones) with `policy` (the harness's
    closed loop, `evaluate.play`) and keeps the states before each move of every game still
    running, each state once per game."""
    from . import evaluate

    scenes = game.make_scenes(episodes, evaluate.stream(VISITS, seed, kind), kind, solvable=True)
    played = evaluate.play(policy, scenes, steps, evaluate.stream(VISIT_PROMPTS, seed, kind), size, record=True)
    parts, games = [], []
    for t, (before, _moves) in enumerate(played.history, start=1):
        running = np.nonzero(played.steps >= t)[0]  # a game ends at the move that eats (steps)
        parts.append(before.select(running))
        games.append(running)
    states = _concat(parts)
    number = np.concatenate(games) if games else np.zeros(0, dtype=np.int64)
    key = np.column_stack([number, states.agent, states.heading])
    _, first = np.unique(key, axis=0, return_index=True)
    first = np.sort(first)
    return Visits(states.select(first), number[first].astype(np.int64), played.success[number[first]], policy_name)


def _concat(parts: list[game.Scenes]) -> game.Scenes:
    if not parts:
        return game.make_scenes(0, 0)
    return game.Scenes(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("agent", "heading", "walls", "gold")))


def save(visits: Visits, path: str | os.PathLike[str]) -> Path:
    """Writes `visits` to `path` (`.npz`), whole or not at all."""
    path = Path(path)
    if path.suffix != ".npz":
        raise FileError(f"{path}: a visits file is a NumPy archive. Fix: name it with the suffix .npz.")
    with atomic_output(path, "visits file") as tmp:
        s = visits.scenes
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f, format=np.int64(FORMAT), policy=np.str_(visits.policy), agent=s.agent, heading=s.heading,
                walls=s.walls, gold=s.gold, game=visits.game, won=visits.won,
            )
    return path


def load(path: str | os.PathLike[str]) -> Visits:
    """The visits of a file `save` wrote; a missing or malformed file raises `FileError` naming it
    and the fix. Files are cached by path, size and modification time."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as e:
        raise FileError(
            f"{path}: {e.strerror or e}. Fix: record the states first (tat agent visits --policy RUN --out {path}) "
            "or point frameworks.visits at an existing file."
        ) from None
    return _load(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load(path: str, _size: int, _mtime: int) -> Visits:
    fix = "Fix: record it again with tat agent visits."
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except Exception as e:  # a truncated or foreign file: zipfile, pickle or format errors
        raise FileError(f"{path}: not a visits file ({e}). {fix}") from None
    if "format" not in data or int(data["format"]) != FORMAT:
        raise FileError(f"{path}: visits file format {data.get('format')!r}, this version reads {FORMAT}. {fix}")
    n = None
    for name, shape in ARRAYS.items():
        if name not in data:
            raise FileError(f"{path}: the array {name!r} is missing. {fix}")
        a = data[name]
        n = len(a) if n is None else n
        if a.shape != (n, *shape):
            raise FileError(f"{path}: the array {name!r} has shape {a.shape}, expected {(n, *shape)}. {fix}")
    s = game.Scenes(data["agent"], data["heading"], data["walls"], data["gold"])
    if len(s) and not s.has_gold().all():
        raise FileError(f"{path}: a state has no gold left (nothing to ask the way to). {fix}")
    return Visits(s, data["game"].astype(np.int64), data["won"].astype(bool), str(data.get("policy", "")))
