"""What every framework makes, and the registry that finds frameworks by name.

A framework turns fresh seeded scenes into training examples: an input picture, up to three
canvas pictures (what the agent saw or imagined before, oldest first), a prompt, an answer, a
target picture where the framework asks for one, and loss weights. A question framework asks one
or more *questions*; each question has several prompt paraphrases and a fixed set of answer
classes, and every prompt belongs to exactly one question (so no prompt has two meanings). The
answer text is the class's text followed by `EOS`; image frameworks answer `EOS` alone.

Prompts are lower-case words separated by single spaces, without punctuation (a word-level
tokenizer splits them on spaces). Two bases do the common work: `QuestionFramework` (questions
about one picture per example; `make` is `ask` on fresh scenes with a question drawn per example)
and `ImageFramework` (a prompt asks for a picture, the target; the answer is `EOS` alone).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..game import AGENT_R, EAT, Scenes, make_scenes
from ..render import render

EOS = "<eos>"
"""Ends every answer."""

MAX_CANVASES = 3


@dataclass(frozen=True)
class Question:
    """A question: its name (unique within its framework), its prompt paraphrases and its answer
    classes (the text each class answers, without `EOS`)."""

    name: str
    prompts: tuple[str, ...]
    classes: tuple[str, ...]


@dataclass
class Batch:
    """`n` examples of one framework. Pictures are uint8 RGB, (n, S, S, 3).

    - `canvases`: (n, C, S, S, 3), C in 0..3 the same for the whole batch, oldest first.
    - `question`: per example, the index into the framework's `questions` (-1 for image
      frameworks); `label`: the answer class index within that question (-1 where none).
    - `target`: the picture asked for (None for question frameworks).
    - `weights`: loss weights by part (`text`, `image`, and a framework's own, e.g. `complex`).
    - `scenes`: the scenes the input pictures show (after any moves the example made).
    - `extra`: what a framework's own loss or metric needs (e.g. true positions).
    """

    framework: str
    image: np.ndarray
    canvases: np.ndarray
    prompt: list[str]
    answer: list[str]
    question: np.ndarray
    label: np.ndarray
    target: np.ndarray | None
    weights: dict[str, float]
    scenes: Scenes
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.prompt)


class Framework:
    """A framework: `name`, its `questions` (empty for image frameworks), and `make`."""

    name: str = ""
    questions: tuple[Question, ...] = ()
    description: str = ""

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Framework:
        """The framework made for a config's `[frameworks]` settings (`visits`) and the split
        asked for (`held_out`: validation and the harness); most frameworks need none."""
        return cls()

    @classmethod
    def available(cls, settings: Mapping[str, Any]) -> bool:
        """Whether the framework can make examples with these settings (visited_qa needs visits)."""
        return True

    def make(self, n: int, rng: np.random.Generator, size: int) -> Batch:
        """`n` fresh examples drawn with `rng`, pictures `size` pixels square."""
        raise NotImplementedError

    def ask(self, scenes: Scenes, question: str, rng: np.random.Generator, size: int) -> Batch:
        """Question frameworks: the examples of `question` (a name in `questions`) about the given
        scenes, a prompt paraphrase drawn with `rng` for each (the closed-loop test asks the best
        move about the scene an agent is in)."""
        raise NotImplementedError(f"{self.name} asks no questions")

    def prompt_texts(self) -> tuple[str, ...]:
        """Every prompt the framework may give (its questions' paraphrases by default)."""
        return tuple(p for q in self.questions for p in q.prompts)

    def loss_arrays(self, batch: Batch) -> dict[str, np.ndarray]:
        """Arrays the engine's loss takes for this framework beyond the common ones (the complex
        loss's `weight_complex` and `complex_*`, see the engine's `tasks::agent`); none by default."""
        return {}


REGISTRY: dict[str, type[Framework]] = {}


def register(cls: type[Framework]) -> type[Framework]:
    """Class decorator: makes the framework findable by its `name`."""
    if not cls.name or cls.name in REGISTRY:
        raise ValueError(f"framework name {cls.name!r} is empty or taken")
    REGISTRY[cls.name] = cls
    return cls


def get(name: str, settings: Mapping[str, Any] | None = None) -> Framework:
    """The framework called `name`, made for `settings` (`Framework.from_settings`; none by
    default); an unknown name raises `KeyError` listing the known ones."""
    return _class(name).from_settings(settings or {})


def available(name: str, settings: Mapping[str, Any] | None = None) -> bool:
    """Whether the framework called `name` can make examples with `settings`."""
    return _class(name).available(settings or {})


def _class(name: str) -> type[Framework]:
    from . import ALL  # noqa: F401  (imports every framework module, filling REGISTRY)

    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown framework {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def names() -> list[str]:
    """The registered frameworks' names: those of `ALL` in its order, then any others."""
    from . import ALL

    return [*ALL, *(name for name in REGISTRY if name not in ALL)]


def answer_text(cls_text: str) -> str:
    """An answer as the model is trained on it: the class's text, then `EOS`."""
    return f"{cls_text} {EOS}" if cls_text else EOS


QUESTION_WEIGHTS = {"text": 1.0, "image": 0.0}
"""Questions train the answer only: the picture is an input (control and the picture frameworks
keep the image decoder trained)."""
IMAGE_WEIGHTS = {"text": 1.0, "image": 1.0}
"""Picture frameworks train the prompt's `EOS` answer and the target picture."""


def pick(options: Sequence[str], n: int, rng: np.random.Generator) -> list[str]:
    """One of `options` per example, uniformly."""
    return [options[i] for i in rng.integers(len(options), size=n)]


def no_canvases(n: int, size: int) -> np.ndarray:
    """(n, 0, size, size, 3): no canvases."""
    return np.zeros((n, 0, size, size, 3), dtype=np.uint8)


def concat_scenes(parts: Sequence[Scenes]) -> Scenes:
    """The scenes of `parts`, in order, as one batch."""
    return Scenes(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("agent", "heading", "walls", "gold")))


def draw_kept(n: int, rng: np.random.Generator, kind: str, keep: Callable[[Scenes], np.ndarray]) -> Scenes:
    """`n` scenes of `make_scenes` that `keep` (a mask per scene) keeps, drawn in rounds (a quarter
    more than are missing, at least 8) until there are `n` (none drawn for `n` = 0)."""
    parts, have = [make_scenes(0, rng, kind)], 0
    while have < n:
        more = make_scenes(max(8, (n - have) * 5 // 4), rng, kind)
        kept = more.select(np.nonzero(keep(more))[0])
        parts.append(kept)
        have += len(kept)
    return concat_scenes(parts).select(slice(0, n))


def aim_half(scenes: Scenes, rng: np.random.Generator) -> Scenes:
    """Turns half the scenes (drawn per scene) towards their nearest gold, in place: the heading
    becomes the gold's angle plus U(-w, w), w = 1.5 asin(min(1, (AGENT_R + GOLD_R) / distance)),
    1.5 times the half-width of the headings that reach it, so that about a third of these miss
    narrowly. Returns `scenes`."""
    n = len(scenes)
    aim = rng.random(n) < 0.5
    w = 1.5 * np.arcsin(np.minimum(1.0, EAT / scenes.gold_distance().min(axis=1)))
    aimed = np.mod(scenes.gold_angle() + rng.uniform(-1.0, 1.0, n) * w, 2 * math.pi)
    scenes.heading = np.where(aim, aimed, scenes.heading)
    return scenes


def blue_line(rng: np.random.Generator, angle: np.ndarray) -> dict[str, np.ndarray]:
    """A blue line per example along `angle`, of 1 to 4 agent diameters (uniform), as the extra
    fields `line_angle` and `line_length`."""
    angle = np.asarray(angle, dtype=np.float64)
    return {"line_angle": angle, "line_length": 2 * AGENT_R * (1 + 3 * rng.random(len(angle)))}


class QuestionFramework(Framework):
    """Questions about one picture per example. A subclass sets `questions` and `labels` (and may
    change the scenes drawn, per-example features such as a blue line, and the picture); `make`
    draws a question per example uniformly, then fresh scenes, then asks."""

    kind: str = "bare"
    """The scenes `draw` makes by default."""
    weights: dict[str, float] = QUESTION_WEIGHTS

    def make(self, n: int, rng: np.random.Generator, size: int) -> Batch:
        question = rng.integers(len(self.questions), size=n)
        return self.examples(self.draw(n, rng), question, rng, size)

    def ask(self, scenes: Scenes, question: str, rng: np.random.Generator, size: int) -> Batch:
        known = [q.name for q in self.questions]
        if question not in known:
            raise KeyError(f"{self.name} has no question {question!r}; known: {', '.join(known)}")
        return self.examples(scenes, np.full(len(scenes), known.index(question)), rng, size)

    def draw(self, n: int, rng: np.random.Generator) -> Scenes:
        """Fresh scenes for `make` (where a framework balances its classes)."""
        return make_scenes(n, rng, self.kind)

    def features(self, scenes: Scenes, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Per-example data drawn beside the scenes, kept in `Batch.extra` (none by default)."""
        return {}

    def picture(self, scenes: Scenes, extra: dict[str, np.ndarray], size: int) -> np.ndarray:
        """The input pictures: the scenes, with the blue line where `extra` has one."""
        line = (extra["line_angle"], extra["line_length"]) if "line_angle" in extra else None
        return render(scenes, size, line=line)

    def labels(self, scenes: Scenes, extra: dict[str, np.ndarray]) -> np.ndarray:
        """(Q, n): every question's answer class about every example."""
        raise NotImplementedError

    def examples(self, scenes: Scenes, question: np.ndarray, rng: np.random.Generator, size: int) -> Batch:
        """The examples asking `question` (an index per example) about `scenes`."""
        extra = self.features(scenes, rng)
        label = self.labels(scenes, extra)[question, np.arange(len(scenes))]
        return self.assemble(scenes, question, label, self.picture(scenes, extra, size), rng, extra=extra)

    def assemble(
        self,
        scenes: Scenes,
        question: np.ndarray,
        label: np.ndarray,
        image: np.ndarray,
        rng: np.random.Generator,
        *,
        canvases: np.ndarray | None = None,
        extra: dict[str, np.ndarray] | None = None,
    ) -> Batch:
        """A batch of questions and their answers, a paraphrase drawn per example."""
        n, size = len(scenes), image.shape[1]
        counts = np.array([len(q.prompts) for q in self.questions])
        which = (rng.random(n) * counts[question]).astype(np.int64)
        prompt = [self.questions[q].prompts[i] for q, i in zip(question, which)]
        answer = [answer_text(self.questions[q].classes[c]) for q, c in zip(question, label)]
        return Batch(
            self.name, image, no_canvases(n, size) if canvases is None else canvases, prompt, answer,
            np.asarray(question, dtype=np.int64), np.asarray(label, dtype=np.int64), None, dict(self.weights),
            scenes, extra or {},
        )


class ImageFramework(Framework):
    """A prompt asks for a picture: the target. A subclass sets `prompts` and `target` (or its own
    `make`); the answer is `EOS` alone, question and label -1."""

    prompts: tuple[str, ...] = ()
    kind: str = "bare"
    """The scenes `make` draws by default."""
    weights: dict[str, float] = IMAGE_WEIGHTS

    def prompt_texts(self) -> tuple[str, ...]:
        return self.prompts

    def make(self, n: int, rng: np.random.Generator, size: int) -> Batch:
        scenes = make_scenes(n, rng, self.kind)
        return self.image_batch(scenes, render(scenes, size), self.target(scenes, size), pick(self.prompts, n, rng))

    def target(self, scenes: Scenes, size: int) -> np.ndarray:
        """The pictures asked for about `scenes`."""
        raise NotImplementedError

    def image_batch(
        self,
        scenes: Scenes,
        image: np.ndarray,
        target: np.ndarray,
        prompt: list[str],
        *,
        canvases: np.ndarray | None = None,
        extra: dict[str, np.ndarray] | None = None,
    ) -> Batch:
        """A batch asking for `target`."""
        n, size = len(scenes), image.shape[1]
        none = np.full(n, -1, dtype=np.int64)
        return Batch(
            self.name, image, no_canvases(n, size) if canvases is None else canvases, prompt, [EOS] * n,
            none, none.copy(), target, dict(self.weights), scenes, extra or {},
        )
