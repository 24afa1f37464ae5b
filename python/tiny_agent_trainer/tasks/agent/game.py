"""The gold-finding game: its rules, seeded scenes and oracles, vectorised over a batch of scenes.

The board is the unit square. x grows to the right and y grows *up* in the picture a person sees
(the original transposed its pictures, so that its "left/right" followed the vertical axis; here
left/right is x and up/down is y). A heading is an angle in radians from the +x axis, growing
anticlockwise as seen; the agent looks along (cos h, sin h).

- The agent is a circle of radius `AGENT_R` with an eye (a smaller disc towards its heading).
- Gold pieces are circles of radius `GOLD_R`; one is eaten when the agent's centre comes closer
  than `AGENT_R + GOLD_R` to it (tested after every move).
- Walls are axis-aligned rectangles `(x0, y0, x1, y1)`. Four side walls `WALL` thick line the
  board; in half of the scenes one of them has a gap of `GAP` around its middle. "Full" scenes
  add one or two interior walls (`WALL` thick, length U(0.375, 0.75), horizontal or vertical).
  The agent may touch a wall but never overlap one.
- Moves: forward (`STEP` = 1/16 along the heading, shortened in 1/16ths of a step until the
  agent is clear of every wall; no move when even the shortest step is blocked), and turns of
  `TURN` = pi/30 clockwise or anticlockwise.

A `Scenes` batch is plain arrays (NaN rows stand for absent walls and gold); `Scene` is one scene
as plain data that saves to and loads from JSON. Oracles answer, per scene, "will I reach the
gold going forward", the shorter turn towards it, the best move, and the number of moves to reach
it (capped); each uses the nearest gold. The best move steers for the gold moved into the box
the agent's centre can reach (`Scenes.aim`): a piece lying against a side wall is eaten from the
closest spot beside it, where steering straight at it would push into the wall. When a wall lies
across the straight way there, it steers for the first corner of the shortest way around the
walls instead (`Scenes.steer`, `plan`).
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..._files import write_text

AGENT_R = 0.05
GOLD_R = 1 / 64
WALL = 0.0625
GAP = 0.1
STEP = 1 / 16
TURN = math.pi / 30
EAT = AGENT_R + GOLD_R
"""Centre distance below which the agent eats a gold piece."""
STEP_PARTS = 16
"""A blocked forward step is shortened in 1/16ths of `STEP`."""
INTERIOR_LENGTH = (0.375, 0.75)
MAX_WALLS = 7
"""Four side walls, one of them possibly in two pieces, and up to two interior walls."""
MAX_GOLD = 2
PLAN_CELLS = 64
"""The planner's grid: cells per side of the board."""
CORNER_AHEAD = 0.08
"""Where a wall crosses the straight way, the corner the best move heads for counts as ahead when
the heading's line passes within this distance of it (and a forward step is not shortened by a
wall): as a gold piece within `EAT` of the line is reached going forward. A simulated student
whose sense of the corner's angle wobbles by a turn from one heading to the next then finds a
forward move there instead of turning back and forth (`scripts/agent_corner_band.py`,
docs/agent.md "A band round the corner")."""

FORWARD, CLOCKWISE, ANTICLOCKWISE = 0, 1, 2
MOVES = ("forward", "clockwise", "anticlockwise")


@dataclass
class Scene:
    """One scene as plain data: the agent's centre and heading, the walls as (x0, y0, x1, y1)
    rectangles, the gold pieces' centres."""

    agent: tuple[float, float]
    heading: float
    walls: list[tuple[float, float, float, float]] = field(default_factory=list)
    gold: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"agent": list(self.agent), "heading": self.heading, "walls": [list(w) for w in self.walls],
                "gold": [list(g) for g in self.gold]}

    @classmethod
    def from_dict(cls, d: dict) -> Scene:
        return cls(tuple(d["agent"]), float(d["heading"]), [tuple(w) for w in d["walls"]],
                   [tuple(g) for g in d["gold"]])


def save_scenes(scenes: Sequence[Scene], path: str | os.PathLike[str]) -> Path:
    """Writes scenes as a JSON list; `load_scenes` reads them back exactly."""
    return write_text(path, json.dumps([s.to_dict() for s in scenes], indent=1) + "\n", "scene list")


def load_scenes(path: str | os.PathLike[str]) -> list[Scene]:
    return [Scene.from_dict(d) for d in json.loads(Path(path).read_text(encoding="utf-8"))]


class Scenes:
    """A batch of scenes as arrays: `agent` (B, 2), `heading` (B,), `walls` (B, MAX_WALLS, 4) and
    `gold` (B, MAX_GOLD, 2), absent walls and gold being NaN rows. Moves change it in place."""

    def __init__(self, agent: np.ndarray, heading: np.ndarray, walls: np.ndarray, gold: np.ndarray) -> None:
        self.agent = np.asarray(agent, dtype=np.float64).reshape(-1, 2)
        self.heading = np.mod(np.asarray(heading, dtype=np.float64).reshape(-1), 2 * math.pi)
        self.walls = np.asarray(walls, dtype=np.float64).reshape(-1, MAX_WALLS, 4)
        self.gold = np.asarray(gold, dtype=np.float64).reshape(-1, MAX_GOLD, 2)

    def __len__(self) -> int:
        return len(self.heading)

    def copy(self) -> Scenes:
        return Scenes(self.agent.copy(), self.heading.copy(), self.walls.copy(), self.gold.copy())

    def select(self, index: np.ndarray | Sequence[int] | slice) -> Scenes:
        return Scenes(self.agent[index], self.heading[index], self.walls[index], self.gold[index])

    @classmethod
    def from_scenes(cls, scenes: Sequence[Scene]) -> Scenes:
        n = len(scenes)
        walls = np.full((n, MAX_WALLS, 4), np.nan)
        gold = np.full((n, MAX_GOLD, 2), np.nan)
        for i, s in enumerate(scenes):
            if len(s.walls) > MAX_WALLS or len(s.gold) > MAX_GOLD:
                raise ValueError(f"scene {i}: at most {MAX_WALLS} walls and {MAX_GOLD} gold pieces")
            if s.walls:
                walls[i, : len(s.walls)] = s.walls
            if s.gold:
                gold[i, : len(s.gold)] = s.gold
        return cls(np.array([s.agent for s in scenes]).reshape(n, 2), np.array([s.heading for s in scenes]), walls, gold)

    def scenes(self) -> list[Scene]:
        out = []
        for i in range(len(self)):
            walls = [(float(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in self.walls[i] if not np.isnan(w[0])]
            gold = [(float(g[0]), float(g[1])) for g in self.gold[i] if not np.isnan(g[0])]
            out.append(Scene((float(self.agent[i, 0]), float(self.agent[i, 1])), float(self.heading[i]), walls, gold))
        return out

    # --- geometry -----------------------------------------------------------------------------

    def blocked(self, points: np.ndarray, radius: float = AGENT_R) -> np.ndarray:
        """Whether a circle of `radius` at `points` (B, ..., 2) overlaps a wall of its scene
        (closer than `radius` to the rectangle; touching is allowed)."""
        return np.asarray(wall_distance(self.walls, points) < radius)

    def gold_distance(self) -> np.ndarray:
        """(B, MAX_GOLD) centre distances from the agent to each gold piece (inf where absent)."""
        d = np.linalg.norm(self.gold - self.agent[:, None, :], axis=-1)
        return np.where(np.isnan(d), np.inf, d)

    def has_gold(self) -> np.ndarray:
        return np.asarray(~np.isnan(self.gold[:, :, 0]).all(axis=1))

    def nearest_gold(self) -> np.ndarray:
        """(B, 2) the nearest gold piece's centre (NaN where no gold is left)."""
        index = np.argmin(self.gold_distance(), axis=1)
        g = self.gold[np.arange(len(self)), index]
        return np.where(self.has_gold()[:, None], g, np.nan)

    def gold_angle(self) -> np.ndarray:
        """(B,) the angle from the agent's centre to the nearest gold, in [0, 2pi)."""
        d = self.nearest_gold() - self.agent
        return np.mod(np.arctan2(d[:, 1], d[:, 0]), 2 * math.pi)

    def aim(self) -> np.ndarray:
        """(B, 2) where the best move steers: the nearest gold, moved into the box of centres the
        agent can take between the side walls. From there the gold is within eating distance
        (at most GOLD_R + 0.034 per axis from a piece that touches a wall)."""
        return np.clip(self.nearest_gold(), WALL + AGENT_R, 1 - WALL - AGENT_R)

    def way_blocked(self) -> np.ndarray:
        """(B,) whether a wall crosses the straight way to `aim` (the agent would come closer than
        its radius to it)."""
        return segment_hits(self.walls, self.agent, self.aim(), AGENT_R)

    def steer(self) -> np.ndarray:
        """(B, 2) where the best move heads: `aim` when the agent can go straight there without
        coming closer than its radius to a wall, else the first corner of the shortest way around
        the walls to a spot that eats the nearest gold (`plan`), or the other gold when the
        nearest cannot be reached; `aim` where no gold can be reached."""
        out = self.aim()
        blocked = np.nonzero(self.has_gold() & self.way_blocked())[0]
        distances = self.gold_distance()
        for i in blocked:
            way = self._way(int(i), distances[i])
            if way is not None:
                out[i] = way
        return out

    def _way(self, i: int, distances: np.ndarray) -> np.ndarray | None:
        """`plan`'s point for scene i, to its gold pieces nearest first (`distances`: its row of
        `gold_distance`); None if none is reached."""
        order = np.argsort(distances)
        for g in self.gold[i][order]:
            if not np.isnan(g[0]):
                way = plan(self.walls[i], self.agent[i], g)
                if way is not None:
                    return way
        return None

    def solvable(self) -> np.ndarray:
        """(B,) whether the agent can reach a gold piece: straight to `aim`, or round the walls."""
        out = self.has_gold() & ~self.way_blocked()
        distances = self.gold_distance()
        for i in np.nonzero(self.has_gold() & ~out)[0]:
            out[i] = self._way(int(i), distances[i]) is not None
        return out

    def angle_to_aim(self) -> np.ndarray:
        """(B,) the signed turn from the heading to `steer`'s point, in (-pi, pi]."""
        return self._turn_to(self.steer())

    def _turn_to(self, point: np.ndarray) -> np.ndarray:
        d = point - self.agent
        return wrap(np.arctan2(d[:, 1], d[:, 0]) - self.heading)

    def angle_to_gold(self) -> np.ndarray:
        """(B,) the signed turn from the heading to the nearest gold, in (-pi, pi]: positive is
        anticlockwise."""
        return wrap(self.gold_angle() - self.heading)

    # --- moves --------------------------------------------------------------------------------

    def move(self, moves: np.ndarray | Sequence[int]) -> np.ndarray:
        """Applies one move per scene (`FORWARD`, `CLOCKWISE`, `ANTICLOCKWISE`; -1 for none) and
        eats the gold the agent then overlaps. Returns the gold pieces eaten per scene."""
        moves = np.asarray(moves).reshape(-1)
        self.heading = np.mod(self.heading - TURN * (moves == CLOCKWISE) + TURN * (moves == ANTICLOCKWISE), 2 * math.pi)
        forward = moves == FORWARD
        if forward.any():
            self.agent = np.where(forward[:, None], self.forward_position(), self.agent)
        return self.eat()

    def forward_position(self) -> np.ndarray:
        """(B, 2) where a forward move takes each agent: the longest of STEP·k/STEP_PARTS
        (k = STEP_PARTS..1) that leaves it clear of the walls, else where it is."""
        unit = np.stack([np.cos(self.heading), np.sin(self.heading)], axis=1)
        lengths = STEP * np.arange(STEP_PARTS, 0, -1) / STEP_PARTS
        candidates = self.agent[:, None, :] + lengths[None, :, None] * unit[:, None, :]
        clear = np.logical_not(self.blocked(candidates))
        first = np.argmax(clear, axis=1)
        chosen = candidates[np.arange(len(self)), first]
        return np.where(clear.any(axis=1)[:, None], chosen, self.agent)

    def eat(self) -> np.ndarray:
        eaten = self.gold_distance() < EAT
        self.gold[eaten] = np.nan
        return eaten.sum(axis=1)

    # --- oracles ------------------------------------------------------------------------------

    def reaches_forward(self) -> np.ndarray:
        """(B,) whether moving only forward eats a gold piece. A scene is played until it eats or
        its step is shortened by a wall (after which the agent cannot move on): at most 16 full
        steps cross the board."""
        reached = np.zeros(len(self), dtype=bool)
        # Only a piece ahead and within EAT of the heading's line can be eaten going forward.
        ahead = self.gold - self.agent[:, None, :]
        unit = np.stack([np.cos(self.heading), np.sin(self.heading)], axis=1)[:, None, :]
        along = (ahead * unit).sum(axis=-1)
        across = np.abs(ahead[..., 0] * unit[..., 1] - ahead[..., 1] * unit[..., 0])
        with np.errstate(invalid="ignore"):
            running = np.nonzero(((along > 0) & (across < EAT)).any(axis=1))[0]
        s = self.select(running)
        while len(running):
            before = s.agent.copy()
            eaten = s.move(np.full(len(running), FORWARD)) > 0
            reached[running[eaten]] = True
            full_step = np.linalg.norm(s.agent - before, axis=1) > STEP * (1 - 1e-9)
            keep = ~eaten & full_step
            running, s = running[keep], s.select(keep)
        return reached

    def turn_towards_gold(self) -> np.ndarray:
        """(B,) the shorter turn towards the nearest gold: `ANTICLOCKWISE` when it lies to the
        left of the heading, else `CLOCKWISE` (also when straight ahead or exactly behind)."""
        return np.where(self.angle_to_gold() > 0, ANTICLOCKWISE, CLOCKWISE)

    def best_move(self) -> np.ndarray:
        """(B,) the oracle's move: forward when that reaches the gold, or when `steer`'s point
        lies within half a turn of the heading (a turn would overshoot it; a step closer widens
        the angle that reaches it), or, where a wall crosses the straight way, when the heading's
        line passes within `CORNER_AHEAD` of that corner ahead and a full step is free; else the
        shorter turn towards it."""
        return self._best_move()[0]

    def _best_move(self) -> tuple[np.ndarray, np.ndarray]:
        reaches = self.reaches_forward()
        point = self.steer()
        angle = self._turn_to(point)
        ahead = reaches | (np.abs(angle) <= TURN / 2)
        corner = ~ahead & self.has_gold() & self.way_blocked()
        if corner.any():
            across = np.linalg.norm(point - self.agent, axis=1) * np.abs(np.sin(angle))
            near = corner & (np.cos(angle) > 0) & (across <= CORNER_AHEAD)
            if near.any():
                index = np.nonzero(near)[0]
                step = np.linalg.norm(self.select(index).forward_position() - self.agent[index], axis=1)
                ahead[index] = step > STEP * (1 - 1e-9)
        return np.where(ahead, FORWARD, np.where(angle > 0, ANTICLOCKWISE, CLOCKWISE)), reaches

    def steps_to_gold(self, cap: int = 100) -> np.ndarray:
        """(B,) the number of the oracle's moves until it eats a gold piece; `cap` where it has not
        within `cap` moves (or the scene has no gold). Once forward reaches the gold the rest is
        forward (not asked again); a scene whose move changed nothing would repeat it (the oracle
        is a function of the scene) and is left at the cap."""
        s = self.copy()
        steps = np.full(len(self), cap)
        committed = np.zeros(len(self), dtype=bool)
        running = np.nonzero(self.has_gold())[0]
        for n in range(1, cap + 1):
            if not len(running):
                break
            now = s.select(running)
            moves = np.full(len(running), FORWARD)
            ask = np.nonzero(~committed[running])[0]
            if len(ask):
                moves[ask], reaches = now.select(ask)._best_move()
                committed[running[ask]] = reaches
            before_agent, before_heading = now.agent.copy(), now.heading.copy()
            eaten = now.move(moves) > 0
            s.agent[running], s.heading[running], s.gold[running] = now.agent, now.heading, now.gold
            steps[running[eaten]] = n
            stuck = (now.agent == before_agent).all(axis=1) & (now.heading == before_heading)
            running = running[~eaten & ~stuck]
        return steps


def wrap(angle: np.ndarray) -> np.ndarray:
    """Angles wrapped to (-pi, pi]."""
    a = np.mod(angle + math.pi, 2 * math.pi) - math.pi
    return np.where(a == -math.pi, math.pi, a)


def segment_hits(walls: np.ndarray, start: np.ndarray, end: np.ndarray, radius: float) -> np.ndarray:
    """Whether a disc of `radius` moving in a straight line from `start` to `end` (B, ..., 2) comes
    closer than `radius` to a wall (B, W, 4) of its scene: touching is allowed, as in the game.
    (A segment clear of a rectangle is nearest to it at one of the segment's ends or one of the
    rectangle's corners.)"""
    b = walls.shape[0]
    if b == 0:
        return np.zeros(end.shape[:-1], dtype=bool)
    p = start.reshape(b, -1, 1, 2)
    q = end.reshape(b, -1, 1, 2)
    w = walls[:, None, :, :]
    d = q - p
    # The segment crosses the rectangle itself (slabs; touching an edge does not count).
    lo, hi = w[..., :2], w[..., 2:]
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - p) / d, (hi - p) / d
    still = d == 0
    inside = (p > lo) & (p < hi)
    enter = np.where(still, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2)).max(axis=-1)
    leave = np.where(still, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2)).min(axis=-1)
    crosses = np.maximum(enter, 0.0) < np.minimum(leave, 1.0)
    # Else the nearest approach: an end to the rectangle, or a corner to the segment.
    ends = np.minimum(_box_distance(w, p), _box_distance(w, q))
    corners = np.stack([w[..., [0, 1]], w[..., [0, 3]], w[..., [2, 1]], w[..., [2, 3]]], axis=-2)  # (B, N, W, 4, 2)
    length2 = (d * d).sum(-1)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip(((corners - p[..., None, :]) * d[..., None, :]).sum(-1) / length2, 0.0, 1.0)
    t = np.where(length2 > 0, t, 0.0)
    nearest = p[..., None, :] + t[..., None] * d[..., None, :]
    corner = np.linalg.norm(corners - nearest, axis=-1).min(axis=-1)
    hit = (crosses | (np.minimum(ends, corner) < radius - 1e-12)) & ~np.isnan(walls[:, None, :, 0])
    return np.asarray(hit.any(axis=-1).reshape(end.shape[:-1]))


def _box_distance(w: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Distances from points p (..., 1, 2) to rectangles w (..., W, 4) (0 inside)."""
    dx = np.maximum(np.maximum(w[..., 0] - p[..., 0], p[..., 0] - w[..., 2]), 0.0)
    dy = np.maximum(np.maximum(w[..., 1] - p[..., 1], p[..., 1] - w[..., 3]), 0.0)
    return np.asarray(np.sqrt(dx * dx + dy * dy))


def _cells() -> np.ndarray:
    """(PLAN_CELLS, PLAN_CELLS, 2) the centres of the planner's cells, indexed [x, y]."""
    c = (np.arange(PLAN_CELLS) + 0.5) / PLAN_CELLS
    return np.stack(np.meshgrid(c, c, indexing="ij"), axis=-1)


@functools.lru_cache(maxsize=4096)  # a closed loop plays up to a few thousand scenes at once (~20 kB each)
def _way_field(walls_key: bytes, gold_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The planner's cells the agent's centre may take (clear of the walls) and their distances
    along the grid (8 neighbours) to a cell that eats the gold (inf where the gold cannot be
    reached), float32."""
    walls = np.frombuffer(walls_key).reshape(1, MAX_WALLS, 4)
    gold = np.frombuffer(gold_key)
    cells = _cells()
    free = wall_distance(walls, cells.reshape(1, -1, 2)).reshape(PLAN_CELLS, PLAN_CELLS) >= AGENT_R
    eats = free & (np.linalg.norm(cells - gold, axis=-1) < EAT)
    if not eats.any():  # no cell's centre is that close (the grid is coarse): the nearest cells
        near = np.linalg.norm(cells - gold, axis=-1)
        eats = free & (near <= near[free].min() + 1.0 / PLAN_CELLS) if free.any() else free
    h = 1.0 / PLAN_CELLS
    dist = np.where(eats, 0.0, np.inf).astype(np.float32)
    shifts = [(dx, dy, h * math.hypot(dx, dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
    while True:
        padded = np.pad(dist, 1, constant_values=np.inf)
        best = dist
        for dx, dy, step in shifts:
            best = np.minimum(best, padded[1 + dx : 1 + dx + PLAN_CELLS, 1 + dy : 1 + dy + PLAN_CELLS] + step)
        best = np.where(free, best, np.inf)
        if np.array_equal(best, dist):
            return free, dist
        dist = best


def way_field(walls: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(PLAN_CELLS, PLAN_CELLS) each, indexed [x, y] as `_cells`: the planner's cells the agent's
    centre may take, and their distances along the grid round the walls (MAX_WALLS, 4) to a cell
    that eats the gold at `gold` (inf where it cannot be reached)."""
    return _way_field(np.ascontiguousarray(walls, dtype=np.float64).tobytes(),
                      np.ascontiguousarray(gold, dtype=np.float64).tobytes())


def plan(walls: np.ndarray, agent: np.ndarray, gold: np.ndarray) -> np.ndarray | None:
    """Where an agent at `agent` heads to go round the walls (MAX_WALLS, 4) to `gold`: of the
    planner's cells it can reach in a straight line without touching a wall, the one whose
    straight distance plus its way along the grid to the gold is shortest. None when no such cell
    has a way to the gold."""
    free, dist = way_field(walls, gold)
    reach = free & np.isfinite(dist)
    cells = _cells()[reach]
    total = np.linalg.norm(cells - agent, axis=-1) + dist[reach]
    order = np.argsort(total, kind="stable")
    walls = walls[None, ~np.isnan(walls[:, 0])]
    for start in range(0, len(order), 64):  # the first cell in order of length that the agent sees
        chunk = cells[order[start : start + 64]]
        seen = ~segment_hits(walls, np.broadcast_to(agent, chunk.shape)[None], chunk[None], AGENT_R)[0]
        if seen.any():
            return np.asarray(chunk[int(np.argmax(seen))])
    return None


def wall_distance(walls: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The distance from each point (B, ..., 2) to the nearest wall (B, W, 4) of its scene; inf
    where the scene has no wall."""
    b = walls.shape[0]
    p = points.reshape(b, -1, 1, 2)
    w = walls[:, None, :, :]
    dx = np.maximum(np.maximum(w[..., 0] - p[..., 0], p[..., 0] - w[..., 2]), 0.0)
    dy = np.maximum(np.maximum(w[..., 1] - p[..., 1], p[..., 1] - w[..., 3]), 0.0)
    d = np.sqrt(dx * dx + dy * dy)
    d = np.where(np.isnan(d), np.inf, d).min(axis=-1)
    return d.reshape(points.shape[:-1])


# --- generation -------------------------------------------------------------------------------


def side_walls(rng: np.random.Generator) -> list[tuple[float, float, float, float]]:
    """The four side walls; with probability 1/2 one of them (chosen uniformly) has a gap of
    `GAP` around its middle."""
    walls = [(0.0, 0.0, WALL, 1.0), (1 - WALL, 0.0, 1.0, 1.0), (0.0, 0.0, 1.0, WALL), (0.0, 1 - WALL, 1.0, 1.0)]
    if rng.random() < 0.5:
        i = int(rng.integers(4))
        x0, y0, x1, y1 = walls.pop(i)
        lo, hi = 0.5 - GAP / 2, 0.5 + GAP / 2
        if i < 2:  # a vertical wall: the gap is in y
            walls += [(x0, y0, x1, lo), (x0, hi, x1, y1)]
        else:
            walls += [(x0, y0, lo, y1), (hi, y0, x1, y1)]
    return walls


def interior_wall(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A wall inside the board: `WALL` thick, of length U(0.375, 0.75), horizontal or vertical,
    placed uniformly where it stays clear of the side walls."""
    length = float(rng.uniform(*INTERIOR_LENGTH))
    lo, hi = WALL, 1 - WALL
    x = float(rng.uniform(lo, hi - length))
    y = float(rng.uniform(lo, hi - WALL))
    if rng.random() < 0.5:
        return (x, y, x + length, y + WALL)
    return (y, x, y + WALL, x + length)


def _clear_point(rng: np.random.Generator, walls: np.ndarray, radius: float, box=(0.0, 1.0, 0.0, 1.0)) -> np.ndarray:
    x0, x1, y0, y1 = max(box[0], WALL), min(box[1], 1 - WALL), max(box[2], WALL), min(box[3], 1 - WALL)
    for _ in range(10_000):
        p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        if wall_distance(walls[None], p[None, None])[0, 0] >= radius:
            return p
    raise RuntimeError("no clear point found")  # pragma: no cover - the board always has room


def make_scenes(
    n: int, seed: int | np.random.Generator, kind: str = "bare", gold_near: float | None = None, solvable: bool = False
) -> Scenes:
    """`n` seeded scenes. `bare`: side walls and one gold piece; `full`: side walls, one or two
    interior walls and one or two gold pieces. The agent is placed clear of the walls, each gold
    piece clear of the walls and not touching the agent (nor each other); `gold_near` keeps the
    gold within that distance of the agent in each coordinate. The heading is uniform. Interior
    walls can wall the agent off from the gold (about 5% of full scenes); `solvable` draws such
    scenes again (`Scenes.solvable`), as games to play need."""
    scenes = _make_scenes(n, seed, kind, gold_near)
    if not solvable:
        return scenes
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng([seed, 1])
    while not (ok := scenes.solvable()).all():
        bad = np.nonzero(~ok)[0]
        again = _make_scenes(len(bad), rng, kind, gold_near)
        for name in ("agent", "heading", "walls", "gold"):
            getattr(scenes, name)[bad] = getattr(again, name)
    return scenes


def _make_scenes(n: int, seed: int | np.random.Generator, kind: str, gold_near: float | None) -> Scenes:
    if kind not in ("bare", "full"):
        raise ValueError(f"unknown scene kind {kind!r}: expected 'bare' or 'full'")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    walls = np.full((n, MAX_WALLS, 4), np.nan)
    gold = np.full((n, MAX_GOLD, 2), np.nan)
    agent = np.zeros((n, 2))
    heading = rng.uniform(0, 2 * math.pi, n)
    for i in range(n):
        w = side_walls(rng)
        if kind == "full":
            w += [interior_wall(rng) for _ in range(int(rng.integers(1, 3)))]
        walls[i, : len(w)] = w
        agent[i] = _clear_point(rng, walls[i], AGENT_R)
        count = 1 if kind == "bare" else int(rng.integers(1, MAX_GOLD + 1))
        box = (0.0, 1.0, 0.0, 1.0)
        if gold_near is not None:
            box = (agent[i, 0] - gold_near, agent[i, 0] + gold_near, agent[i, 1] - gold_near, agent[i, 1] + gold_near)
        placed: list[np.ndarray] = []
        while len(placed) < count:
            g = _clear_point(rng, walls[i], GOLD_R, box)
            if np.linalg.norm(g - agent[i]) >= EAT and all(np.linalg.norm(g - o) >= 2 * GOLD_R for o in placed):
                placed.append(g)
        gold[i, :count] = placed
    return Scenes(agent, heading, walls, gold)
