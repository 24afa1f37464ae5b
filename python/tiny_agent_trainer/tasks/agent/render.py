"""Pictures of scenes, vectorised over a batch: (B, size, size, 3) uint8 RGB.

The original's colours and draw order: a white board, the agent (a green disc, then its red eye:
a disc of 0.4 agent radii, 0.6 agent radii towards the heading), then the walls (black), then
the gold (255, 200, 0); a blue direction line (0, 0, 213), when asked for, goes on top. x grows to
the right and y up, as a person reads the picture. A pixel takes an object's colour when its
centre lies inside the object (no antialiasing, as the original).

Every variant is a render of a scene, never an edit of pixels: `omit` leaves out the agent, the
gold or the walls (the "imagine" frameworks), `line` adds the blue line, and `view` renders a
square window of the board (a zoom: the window of side 1/factor around a point, moved inside
the board).
"""

from __future__ import annotations

import math

import numpy as np

from .game import AGENT_R, GOLD_R, Scenes

DEFAULT_SIZE = 96
ORIGINAL_SIZE = 224

WHITE, BLACK, GREEN, RED, GOLD, BLUE = range(6)
PALETTE = np.array(
    [(255, 255, 255), (0, 0, 0), (0, 255, 0), (255, 0, 0), (255, 200, 0), (0, 0, 213)], dtype=np.uint8
)
"""The colours by index: background, walls, agent, eye, gold, blue line."""

LINE_WIDTH = 4 / ORIGINAL_SIZE
"""The blue line's width on the board (the original's 4 px at 224 px)."""
EYE_OFFSET, EYE_R = 0.6 * AGENT_R, 0.4 * AGENT_R


def full_view(n: int) -> np.ndarray:
    """(n, 3) windows `(left, bottom, side)` showing the whole board."""
    return np.tile(np.array([0.0, 0.0, 1.0]), (n, 1))


def zoom_view(centres: np.ndarray, factor: float) -> np.ndarray:
    """(B, 3) windows of side 1/factor centred on `centres` (B, 2), moved to stay on the board."""
    if factor < 1:
        raise ValueError(f"zoom factor {factor}: expected at least 1")
    side = 1.0 / factor
    corner = np.clip(np.asarray(centres, dtype=np.float64) - side / 2, 0.0, 1.0 - side)
    return np.concatenate([corner, np.full((len(corner), 1), side)], axis=1)


def render(
    scenes: Scenes,
    size: int = DEFAULT_SIZE,
    *,
    omit: frozenset[str] | set[str] = frozenset(),
    line: tuple[np.ndarray, np.ndarray] | None = None,
    view: np.ndarray | None = None,
) -> np.ndarray:
    """The pictures of `scenes`. `omit` may hold "agent", "gold", "walls"; `line` is (angle,
    length) per scene (a NaN length draws none): the blue line from the agent's rim along that
    angle; `view` is (B, 3) windows (`full_view` by default)."""
    unknown = set(omit) - {"agent", "gold", "walls"}
    if unknown:
        raise ValueError(f"omit: unknown parts {sorted(unknown)}; expected agent, gold or walls")
    return PALETTE[render_indices(scenes, size, omit=omit, line=line, view=view)]


def render_indices(
    scenes: Scenes,
    size: int = DEFAULT_SIZE,
    *,
    omit: frozenset[str] | set[str] = frozenset(),
    line: tuple[np.ndarray, np.ndarray] | None = None,
    view: np.ndarray | None = None,
) -> np.ndarray:
    """Like `render`, as (B, size, size) indices into `PALETTE`."""
    n = len(scenes)
    view = full_view(n) if view is None else np.asarray(view, dtype=np.float64)
    canvas = _Canvas(n, size, view)
    if "agent" not in omit:
        canvas.disc(scenes.agent, AGENT_R, GREEN)
        unit = np.stack([np.cos(scenes.heading), np.sin(scenes.heading)], axis=1)
        canvas.disc(scenes.agent + EYE_OFFSET * unit, EYE_R, RED)
    if "walls" not in omit:
        canvas.rectangles(scenes.walls, BLACK)
    if "gold" not in omit:
        for g in range(scenes.gold.shape[1]):
            canvas.disc(scenes.gold[:, g], GOLD_R, GOLD)
    if line is not None:
        angle, length = (np.broadcast_to(np.asarray(a, dtype=np.float64), (n,)) for a in line)
        unit = np.stack([np.cos(angle), np.sin(angle)], axis=1)
        start = scenes.agent + AGENT_R * unit
        canvas.segment(start, start + np.nan_to_num(length)[:, None] * unit, LINE_WIDTH / 2, BLUE, ~np.isnan(length))
    return canvas.image


class _Canvas:
    """Palette indices being painted; `view` maps each picture to its window of the board."""

    def __init__(self, n: int, size: int, view: np.ndarray) -> None:
        self.image = np.zeros((n, size, size), dtype=np.uint8)
        self.size = size
        self.left, self.bottom, self.side = view[:, 0], view[:, 1], view[:, 2]
        self.pixel = self.side / size  # a pixel's side on the board, per picture
        centres = (np.arange(size) + 0.5) / size
        # Board coordinates of the pixel centres: x per column, y per row (row 0 at the top).
        self.xs = self.left[:, None] + centres[None, :] * self.side[:, None]
        self.ys = self.bottom[:, None] + (1.0 - centres)[None, :] * self.side[:, None]

    def disc(self, centres: np.ndarray, radius: float, colour: int) -> None:
        """Paints discs of `radius` at `centres` (B, 2); NaN centres paint nothing."""
        present = ~np.isnan(centres[:, 0])
        if not present.any():
            return
        b = np.nonzero(present)[0]
        c = centres[b]
        half = int(math.ceil(radius / self.pixel[b].min())) + 1
        offsets = np.arange(-half, half + 1)
        col0 = np.floor((c[:, 0] - self.left[b]) / self.pixel[b]).astype(np.int64)
        row0 = np.floor((self.bottom[b] + self.side[b] - c[:, 1]) / self.pixel[b]).astype(np.int64)
        cols = col0[:, None] + offsets[None, :]  # (k, P)
        rows = row0[:, None] + offsets[None, :]
        x = self.left[b, None] + (cols + 0.5) * self.pixel[b, None]
        y = self.bottom[b, None] + self.side[b, None] - (rows + 0.5) * self.pixel[b, None]
        inside = ((x - c[:, :1]) ** 2)[:, None, :] + ((y - c[:, 1:]) ** 2)[:, :, None] <= radius * radius
        inside &= ((rows >= 0) & (rows < self.size))[:, :, None] & ((cols >= 0) & (cols < self.size))[:, None, :]
        k, r, q = np.nonzero(inside)
        self.image[b[k], rows[k, r], cols[k, q]] = colour

    def rectangles(self, rects: np.ndarray, colour: int) -> None:
        """Paints the (B, W, 4) rectangles (x0, y0, x1, y1); NaN rows paint nothing."""
        with np.errstate(invalid="ignore"):
            in_x = (self.xs[:, None, :] >= rects[:, :, 0:1]) & (self.xs[:, None, :] <= rects[:, :, 2:3])  # (B, W, S)
            in_y = (self.ys[:, None, :] >= rects[:, :, 1:2]) & (self.ys[:, None, :] <= rects[:, :, 3:4])
        covered = np.matmul(in_y.transpose(0, 2, 1).astype(np.float32), in_x.astype(np.float32)) > 0
        self.image[covered] = colour

    def segment(self, start: np.ndarray, end: np.ndarray, half_width: float, colour: int, present: np.ndarray) -> None:
        """Paints thick segments from `start` to `end` (B, 2) where `present`."""
        b = np.nonzero(present)[0]
        if len(b) == 0:
            return
        p0, p1 = start[b], end[b]
        d = p1 - p0
        length2 = np.maximum((d * d).sum(axis=1), 1e-12)
        px = self.xs[b][:, None, :] - p0[:, 0, None, None]  # (k, 1, S)
        py = self.ys[b][:, :, None] - p0[:, 1, None, None]  # (k, S, 1)
        t = np.clip((px * d[:, 0, None, None] + py * d[:, 1, None, None]) / length2[:, None, None], 0.0, 1.0)
        ex = px - t * d[:, 0, None, None]
        ey = py - t * d[:, 1, None, None]
        inside = ex * ex + ey * ey <= half_width * half_width
        k, r, q = np.nonzero(inside)
        self.image[b[k], r, q] = colour


def colour_centres(indices: np.ndarray, colours: tuple[int, ...], size: int | None = None) -> np.ndarray:
    """(B, 2) the board position of the centre of the pixels of `colours` in full-board pictures
    (B, S, S) of palette indices; NaN where there is none."""
    s = indices.shape[-1] if size is None else size
    mask = np.isin(indices, colours)
    count = mask.sum(axis=(1, 2)).astype(np.float64)
    rows = np.arange(s)[None, :, None]
    cols = np.arange(s)[None, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        x = ((mask * cols).sum(axis=(1, 2)) / count + 0.5) / s
        y = 1.0 - ((mask * rows).sum(axis=(1, 2)) / count + 0.5) / s
    return np.stack([x, y], axis=1)


def palette_indices(images: np.ndarray) -> np.ndarray:
    """(n, S, S) the index of the nearest palette colour of every pixel of (n, S, S, 3) pictures."""
    codes = _rgb_codes(images)
    palette = _rgb_codes(PALETTE)
    order = np.argsort(palette)
    pos = np.minimum(np.searchsorted(palette[order], codes), len(palette) - 1)
    index = order[pos].astype(np.uint8)
    other = palette[index] != codes
    if other.any():  # pixels off the palette: the nearest colour (squared RGB distance)
        pixels = images[other].astype(np.int32)
        d = ((pixels[:, None, :] - PALETTE[None].astype(np.int32)) ** 2).sum(axis=-1)
        index[other] = np.argmin(d, axis=1)
    return index


def _rgb_codes(images: np.ndarray) -> np.ndarray:
    rgb = images.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
