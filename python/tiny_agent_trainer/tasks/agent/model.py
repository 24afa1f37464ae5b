"""A trained agent, for people and for the evaluation harness.

`tat.load(run)` gives an `AgentModel`:

- `answer(scene_or_image, prompt)` -> the answer text (without `<eos>`);
- `imagine(scene_or_image, prompt)` -> the picture the model draws, (S, S, 3) uint8;
- `act(scene)` -> the move (`game.FORWARD`, `CLOCKWISE`, `ANTICLOCKWISE`, or None when the
  answer names none) its answer to the best-move question names;
- loaded with `plan=True`, it draws its plan (closer_places' picture: the places nearer the gold
  on foot) before every best-move answer and answers with that drawing as its canvas
  (planned_move_qa), in `act`, `episode` and as a harness policy alike;
- `episode(seed)` -> plays a seeded scene until the agent eats the gold (`evaluate.Episodes`);
- `scores(images, prompts, answers)` -> the log-probability of each given answer (a ranking of
  candidates, such as the three moves);
- loaded with `remember_moves=True`, it remembers within an episode which moves it made from
  each place and heading, and where it stands again it makes the move it made there fewest
  times, the likeliest among those (`act`, `episode` and the harness's closed loop; see
  `evaluate.play`);
- called on a framework `Batch`, it is a harness policy (`evaluate.Prediction`).

Pictures: the engine's decoder regresses every pixel's colour; the model hands out each pixel
decoded to the nearest of the game's colours (`render.PALETTE`; every picture the game draws
uses only these), as text is decoded to words. `palette=False` (at `load`) gives the pixels as
the decoder writes them, rounded to uint8.

Answers are greedy (every word the likeliest) unless the model is loaded with a `temperature` > 0:
then every word is drawn from the model's distribution (logits / temperature), from a generator
seeded by `seed` at `load`, so the same calls in the same order give the same answers. A greedy
policy repeats itself in a state it has met before; a sampled one can leave it (docs/agent.md).

Canvas memory: the pictures the model drew last (at most `max_canvases`, oldest first) are the
canvases of its next `answer` or `imagine` about a single picture; `reset()` forgets them, and
every `episode` starts by forgetting them. A `Batch` brings its own canvases, except that a
planning model replaces those of the best-move question by its drawn plan.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from ... import _core
from . import evaluate, game
from .frameworks import base
from .frameworks.base import Batch
from .frameworks.closer_places import CloserPlaces
from .render import PALETTE, palette_indices, render

Picture = Union[game.Scene, game.Scenes, np.ndarray]
"""A scene (rendered at the model's size) or a picture, (S, S, 3) uint8."""
CHUNK = 250
"""Examples per engine call."""
PLAN_PROMPT = CloserPlaces.prompts[0]
"""What a planning model asks itself for before it answers the best move."""


class AgentModel:
    def __init__(
        self,
        agent: _core.Agent,
        *,
        palette: bool = True,
        temperature: float = 0.0,
        seed: int = 0,
        plan: bool = False,
        remember_moves: bool = False,
    ) -> None:
        if not (temperature >= 0 and np.isfinite(temperature)):
            raise ValueError(f"temperature {temperature}: 0 (greedy answers) or a positive number such as 1")
        if remember_moves and (plan or temperature > 0):
            raise ValueError(
                "remember_moves ranks the moves by the model's own scores: load it without plan and temperature"
            )
        self._agent = agent
        self.palette = palette
        self.temperature = float(temperature)
        self.plan = bool(plan)
        self._draws = np.random.default_rng(seed)
        self.size = int(agent.image_size)
        self.max_canvases = int(agent.max_canvases)
        self.memory: list[np.ndarray] = []
        self.remember_moves = bool(remember_moves)
        self._made: dict[Any, np.ndarray] = {}

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str = "auto",
        threads: int | None = None,
        precision: str | None = None,
        palette: bool = True,
        temperature: float = 0.0,
        seed: int = 0,
        plan: bool = False,
        remember_moves: bool = False,
    ) -> AgentModel:
        """The agent of a run folder (its `best`, else `last`) or checkpoint; `precision` (`auto`,
        `fp32`, `bf16`) replaces the one it was trained with; `palette=False` keeps its pictures'
        pixels as the decoder writes them; `temperature` > 0 samples its answers; `plan` draws its
        plan before every best-move answer; `remember_moves` makes the move it made fewest times
        where it stands again (see the module)."""
        agent = _core.Agent.load(os.fspath(path), device=device, threads=threads, precision=precision)
        return cls(
            agent, palette=palette, temperature=temperature, seed=seed, plan=plan, remember_moves=remember_moves
        )

    def _call(
        self, images: np.ndarray, canvases: np.ndarray, prompts: list[str], pictures: bool
    ) -> tuple[list[str], np.ndarray | None]:
        """One engine call, greedy or sampled as the model was loaded."""
        seed = int(self._draws.integers(2**63)) if self.temperature > 0 else 0
        return self._agent.answer(images, canvases, prompts, pictures, self.temperature, seed)

    @property
    def path(self) -> str:
        return str(self._agent.path)

    # --- single pictures ------------------------------------------------------------------

    def picture(self, what: Picture) -> np.ndarray:
        """`what` as a (S, S, 3) uint8 picture at the model's size."""
        if isinstance(what, game.Scene):
            what = game.Scenes.from_scenes([what])
        if isinstance(what, game.Scenes):
            if len(what) != 1:
                raise ValueError(f"{len(what)} scenes; pass one (or call the model on a Batch)")
            return render(what, self.size)[0]
        image = np.asarray(what)
        if image.shape != (self.size, self.size, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"a picture of shape {image.shape} and dtype {image.dtype}; the model reads "
                f"({self.size}, {self.size}, 3) uint8 (or pass a game.Scene)"
            )
        return image

    def _canvases(self) -> np.ndarray:
        kept = self.memory[-self.max_canvases :] if self.max_canvases else []
        if not kept:
            return np.zeros((1, 0, self.size, self.size, 3), dtype=np.uint8)
        return np.stack(kept)[None]

    def answer(self, what: Picture, prompt: str) -> str:
        """The model's answer to `prompt` about a scene or picture (canvases: its memory)."""
        texts, _ = self._call(self.picture(what)[None], self._canvases(), [prompt], False)
        return texts[0]

    def imagine(self, what: Picture, prompt: str) -> np.ndarray:
        """The picture the model draws for `prompt` about a scene or picture; it joins the memory."""
        _, pictures = self._call(self.picture(what)[None], self._canvases(), [prompt], True)
        assert pictures is not None  # asked for
        picture = self.decode(np.asarray(pictures))[0]
        self.memory = [*self.memory, picture][-max(self.max_canvases, 1) :]
        return picture

    def decode(self, pictures: np.ndarray) -> np.ndarray:
        """(n, S, S, 3) uint8 pictures as the model hands them out: every pixel the nearest of the
        game's colours, or as they are with `palette` off."""
        if not self.palette:
            return pictures
        return PALETTE[palette_indices(pictures)].astype(np.uint8)

    def reset(self) -> None:
        """Forgets the canvases and the moves made."""
        self.memory = []
        self._made = {}

    def act(self, scene: game.Scene | game.Scenes, prompt: str | None = None) -> int | None:
        """The move named by the model's answer to the best-move question (its first paraphrase,
        or `prompt`), or None when the answer names no move. With `remember_moves`: the move it
        made fewest times in this room, place and heading since `reset`, the likeliest of those
        by its scores."""
        question = evaluate.move_question()
        framework = base.get(question.framework)
        if prompt is None:
            prompt = next(q for q in framework.questions if q.name == question.question).prompts[0]
        scenes = game.Scenes.from_scenes([scene]) if isinstance(scene, game.Scene) else scene
        if self.remember_moves:
            batch = framework.ask(scenes, question.question, np.random.default_rng(0), self.size)
            batch.prompt[0] = prompt
            # The place and heading, and the room: moves made in one scene say nothing of another.
            key = (*evaluate.state_keys(scenes)[0], scenes.walls.tobytes(), scenes.gold.tobytes())
            cls = int(evaluate.remembered_moves([self._made], [key], self.move_scores(batch, question))[0])
            return question.moves[cls]
        if self.plan:
            drawn = self.imagine(scene, PLAN_PROMPT)  # it joins the memory, as every drawing does
            texts, _ = self._call(self.picture(scene)[None], drawn[None, None], [prompt], False)
        else:
            texts = [self.answer(scene, prompt)]
        texts = [evaluate.normalise(texts[0])]
        batch = framework.ask(scenes, question.question, np.random.default_rng(0), self.size)
        cls = int(evaluate.answer_classes(framework, batch, texts)[0])
        return None if cls < 0 else question.moves[cls]

    def episode(self, seed: int, kind: str = "bare", steps: int = evaluate.DEFAULT_STEPS) -> evaluate.Episodes:
        """Plays the scene `game.make_scenes(1, seed, kind, solvable=True)` with the model's best-move answers
        until the agent eats the gold or `steps` moves have passed (recorded move by move)."""
        self.reset()
        scenes = game.make_scenes(1, seed, kind, solvable=True)
        return evaluate.play(self, scenes, steps, evaluate.stream(evaluate.PROMPTS, seed, kind), self.size, record=True)

    # --- batches (the harness) -------------------------------------------------------------

    def answers(
        self, images: np.ndarray, prompts: Sequence[str], canvases: np.ndarray | None = None, pictures: bool = False
    ) -> tuple[list[str], np.ndarray | None]:
        """Answers (and with `pictures` the drawn pictures) for a batch: `images` (n, S, S, 3)
        uint8, `canvases` (n, C, S, S, 3) oldest first (none by default)."""
        n = len(prompts)
        if canvases is None:
            canvases = np.zeros((n, 0, self.size, self.size, 3), dtype=np.uint8)
        texts: list[str] = []
        drawn: list[np.ndarray] = []
        for start in range(0, n, CHUNK):
            part = slice(start, start + CHUNK)
            t, p = self._call(
                np.ascontiguousarray(images[part], dtype=np.uint8),
                np.ascontiguousarray(canvases[part], dtype=np.uint8),
                list(prompts[part]),
                pictures,
            )
            texts += list(t)
            if pictures:
                drawn.append(self.decode(np.asarray(p)))
        return texts, (np.concatenate(drawn) if pictures else None)

    def scores(
        self,
        images: np.ndarray,
        prompts: Sequence[str],
        answers: Sequence[str],
        canvases: np.ndarray | None = None,
        per_picture: int = 1,
    ) -> np.ndarray:
        """(n,) the natural log of the probability the model gives each answer (its words, then
        `EOS`) to the prompt of the same row about `images` (n, S, S, 3) uint8 with `canvases`
        (n, C, S, S, 3), none by default. Sampling and planning play no part. Rows that come in
        runs of `per_picture` about one picture (candidate answers) are never split between two
        engine calls, so each run shares one pass over its picture."""
        n = len(prompts)
        if len(answers) != n:
            raise ValueError(f"{len(answers)} answers for {n} prompts: one answer per prompt")
        if per_picture < 1:
            raise ValueError(f"per_picture: {per_picture}; rows come in runs of at least 1")
        if canvases is None:
            canvases = np.zeros((n, 0, self.size, self.size, 3), dtype=np.uint8)
        chunk = max(per_picture, CHUNK - CHUNK % per_picture)
        out: list[float] = []
        for start in range(0, n, chunk):
            part = slice(start, start + chunk)
            out += self._agent.score(
                np.ascontiguousarray(images[part], dtype=np.uint8),
                np.ascontiguousarray(canvases[part], dtype=np.uint8),
                list(prompts[part]),
                [evaluate.normalise(a) for a in answers[part]],
            )
        return np.array(out, dtype=np.float64)

    def prompt_states(
        self, images: np.ndarray, prompts: Sequence[str], canvases: np.ndarray | None = None
    ) -> np.ndarray:
        """(n, d) float32: the transformer's final state at `BOS` after each prompt about `images`
        (n, S, S, 3) uint8 with `canvases` (n, C, S, S, 3), none by default: what the picture
        decoder reads of what is asked (docs/agent.md, "What the decoder reads of the prompt")."""
        n = len(prompts)
        if canvases is None:
            canvases = np.zeros((n, 0, self.size, self.size, 3), dtype=np.uint8)
        parts = [
            self._agent.prompt_states(
                np.ascontiguousarray(images[s : s + CHUNK], dtype=np.uint8),
                np.ascontiguousarray(canvases[s : s + CHUNK], dtype=np.uint8),
                list(prompts[s : s + CHUNK]),
            )
            for s in range(0, n, CHUNK)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def move_scores(self, batch: Batch, question: evaluate.MoveQuestion) -> np.ndarray:
        """(n, classes) the scores (`scores`) of each class of the best-move `question` as the
        answer to every example of `batch` (each asking that question)."""
        classes = next(q for q in base.get(batch.framework).questions if q.name == question.question).classes
        n, k = len(batch), len(classes)
        scored = self.scores(
            np.repeat(batch.image, k, axis=0),
            [p for p in batch.prompt for _ in range(k)],
            [c for _ in range(n) for c in classes],
            np.repeat(batch.canvases, k, axis=0),
            per_picture=k,
        )
        return scored.reshape(n, k)

    def plans(self, images: np.ndarray) -> np.ndarray:
        """(n, S, S, 3) the model's drawings of its plan (`PLAN_PROMPT`) about `images`."""
        _, drawn = self.answers(images, [PLAN_PROMPT] * len(images), pictures=True)
        assert drawn is not None  # asked for
        return drawn

    def __call__(self, batch: Batch) -> evaluate.Prediction:
        planned = asks_best_move(batch) if self.plan else np.zeros(len(batch), dtype=bool)
        if not planned.any():
            texts, pictures = self.answers(batch.image, batch.prompt, batch.canvases, batch.target is not None)
            return evaluate.Prediction(texts, pictures)
        # A question batch: the best-move examples get the drawn plan as their only canvas.
        texts = [""] * len(batch)
        for part, canvases in ((planned, None), (~planned, batch.canvases)):
            index = np.nonzero(part)[0]
            if not len(index):
                continue
            images = batch.image[index]
            said, _ = self.answers(
                images, [batch.prompt[i] for i in index], self.plans(images)[:, None] if canvases is None else canvases[index]
            )
            for i, text in zip(index, said):
                texts[i] = text
        return evaluate.Prediction(texts, None)


@functools.lru_cache(maxsize=1)
def _best_move_question() -> base.Question:
    """The closed loop's best-move question object (found once: every closed-loop step asks)."""
    move = evaluate.move_question()
    return next(q for q in base.get(move.framework).questions if q.name == move.question)


def asks_best_move(batch: Batch) -> np.ndarray:
    """(n,) which examples of `batch` ask the closed loop's best-move question (any framework that
    asks that question object: relposition_qa, visited_qa, planned_move_qa)."""
    question = _best_move_question()
    asked = base.get(batch.framework).questions
    return np.array([0 <= q < len(asked) and asked[q] is question for q in batch.question], dtype=bool)
