"""The evaluation harness: scores any *policy* (a callable that answers a `Batch`) on every
framework, on held-out scenes, and in a closed loop where its answer to "what is the best move"
drives the agent.

A policy takes a `Batch` and returns a `Prediction`: one answer text per example (with or
without the trailing `EOS`; surrounding spaces do not matter) and, for frameworks that ask for a
picture, the pictures (uint8 RGB, the target's shape). An answer counts as the class whose text it
equals exactly once normalised; any other text counts wrong. Two policies are built in: `oracle`
(the batch's own answers and targets) and `MajorityPolicy` (per question, the class most frequent
in a separate training sample; for pictures, a copy of the input picture).

What is measured, per framework, on `n` held-out examples (2,000 by default):

- per question: accuracy, balanced accuracy (the mean over the classes present of the share of
  each class answered right) and the majority-class baseline (the largest class's share of the
  held-out labels: what always giving one answer can reach);
- per picture framework: skill = 1 - MSE(prediction, target) / MSE(input, target) (1 for a
  perfect picture, 0 for a copy of the input; undefined where the target equals the input), and
  the error of the agent's (green and red pixels) and the gold's (gold pixels) centre in pixels,
  the colour masks taken after mapping every pixel to the nearest palette colour; counted where
  the target shows that object (`missing`: the share of those where the prediction does not);
  `objects`: the share of the examples where the prediction shows the objects the target shows
  and no other; the copy of the input is scored the same way beside it. A framework that has its own
  `score(pred_images_uint8, batch)` (complex_loss_v1, arrow_to_gold) is scored with it too: per
  example, named numbers; a name that starts with `median_` reports the median over the examples,
  any other the mean (NaN, an example the score does not count, left out of both);
- closed loop: `episodes` seeded bare scenes (and full scenes, with interior walls and up to two
  gold pieces, drawn again where the walls cut the agent off from every piece:
  `make_scenes(solvable=True)`); each step asks the best-move question about every episode still running, as one
  batch, and makes the move the answer names, until the agent eats a gold piece or `steps` moves
  have passed; success rate and mean steps of the successful episodes, with the oracle's own
  figures (`Scenes.steps_to_gold`) on the same scenes beside them.

Seeds. Every random stream here is `np.random.default_rng([TAG, seed, crc32(name)])`: a tag per
purpose (`HELDOUT` for the held-out examples, `TRAIN_SAMPLE` for the majority policy's training
sample, `EPISODES` and `PROMPTS` for the closed loop), the harness seed (0 by default) and the
CRC-32 of the framework's name (or of the scene kind). Training draws step s of a run seeded
with r from `default_rng([r, s])` (`mixing.py`); a held-out stream could equal one only for a
run seed over 2**32 whose low 32 bits are a tag. So held-out examples are
fresh scenes, the majority policy's training sample is another sample, and every framework's
examples differ from every other's.
"""

from __future__ import annotations

import json
import math
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from . import game
from .frameworks import base
from .frameworks.base import EOS, Batch, Framework, answer_text
from .render import GOLD, GREEN, RED, colour_centres, palette_indices

HELDOUT = 0x48454C44
"""The held-out examples' stream tag ("HELD")."""
TRAIN_SAMPLE = 0x54524E53
"""The majority policy's training sample's tag ("TRNS")."""
EPISODES = 0x45504953
"""The closed loop's scenes' tag ("EPIS")."""
PROMPTS = 0x50524D54
"""The closed loop's prompt paraphrases' tag ("PRMT")."""

DEFAULT_N = 2000
DEFAULT_STEPS = 100
OBJECTS = {"agent": (GREEN, RED), "gold": (GOLD,)}
"""The objects whose centres are compared, by their palette colours."""
LOOP_KINDS = ("bare", "full")


def stream(tag: int, seed: int, name: str) -> np.random.Generator:
    """The random stream for one purpose (`tag`), harness `seed` and framework (or scene kind)."""
    return np.random.default_rng([tag, int(seed), zlib.crc32(name.encode("utf-8"))])


# --- policies ---------------------------------------------------------------------------------


@dataclass
class Prediction:
    """A policy's reply to a batch: an answer text per example (`EOS` optional) and, where the
    framework asks for pictures, (n, S, S, 3) uint8 RGB pictures (else None)."""

    answers: list[str]
    images: np.ndarray | None = None


class Policy(Protocol):
    def __call__(self, batch: Batch, /) -> Prediction: ...


def normalise(text: str) -> str:
    """An answer as compared with the class texts: without surrounding spaces and `EOS`."""
    text = text.strip()
    if text.endswith(EOS):
        text = text[: -len(EOS)].rstrip()
    return text


def oracle(batch: Batch) -> Prediction:
    """The batch's own answers and target pictures: what a perfect model would reply."""
    return Prediction(list(batch.answer), None if batch.target is None else batch.target.copy())


class MajorityPolicy:
    """Answers every question with the class most frequent in a training sample of `n` examples
    of its framework (seeded with `TRAIN_SAMPLE`, a stream distinct from the held-out one; ties
    go to the first class), and answers a picture with a copy of the input picture."""

    def __init__(self, n: int = DEFAULT_N, seed: int = 0, size: int = 32, settings: Mapping[str, Any] | None = None) -> None:
        self.n, self.seed, self.size = n, seed, size
        self.settings = {**(settings or {}), "held_out": False}  # visited_qa: the training games
        self.majority: dict[str, list[int]] = {}

    def classes(self, framework: Framework) -> list[int]:
        """The majority class of each of `framework`'s questions in its training sample."""
        if framework.name not in self.majority:
            counts = [np.zeros(len(q.classes), dtype=np.int64) for q in framework.questions]
            if framework.questions:
                batch = framework.make(self.n, stream(TRAIN_SAMPLE, self.seed, framework.name), self.size)
                for q, label in zip(batch.question, batch.label):
                    if q >= 0 and label >= 0:
                        counts[q][label] += 1
            self.majority[framework.name] = [int(np.argmax(c)) for c in counts]
        return self.majority[framework.name]

    def __call__(self, batch: Batch) -> Prediction:
        framework = base.get(batch.framework, self.settings)
        majority = self.classes(framework)
        answers = [
            answer_text(framework.questions[q].classes[majority[q]]) if q >= 0 else EOS for q in batch.question
        ]
        return Prediction(answers, None if batch.target is None else batch.image.copy())


POLICIES = ("oracle", "majority")


def make_policy(name: str, seed: int = 0, settings: Mapping[str, Any] | None = None) -> Policy:
    """A built-in policy by name (`POLICIES`); `settings` as the harness's (`evaluate`)."""
    if name == "oracle":
        return oracle
    if name == "majority":
        return MajorityPolicy(seed=seed, settings=settings)
    raise ValueError(f"unknown policy {name!r}; expected one of {', '.join(POLICIES)}")


# --- scores -----------------------------------------------------------------------------------


@dataclass
class QuestionScore:
    framework: str
    question: str
    n: int
    accuracy: float
    balanced_accuracy: float
    baseline: float
    """The majority class's share of the held-out labels."""
    classes: list[str]
    counts: list[int]
    """Held-out examples per class."""


@dataclass
class ImageScore:
    framework: str
    n: int
    skill: float
    """1 - mse / copy_mse (NaN where the targets equal the inputs)."""
    mse: float
    copy_mse: float
    """MSE of a copy of the input picture (pixels in [0, 1])."""
    centre_error: dict[str, float]
    """Mean centre error in pixels per object, where both target and prediction show it."""
    missing: dict[str, float]
    """Share of the targets showing the object where the prediction shows none."""
    objects: float
    """Share of the examples where the prediction shows the objects (agent, gold) the target shows
    and no other."""
    copy_centre_error: dict[str, float]
    copy_missing: dict[str, float]
    copy_objects: float
    score: dict[str, float] | None = None
    """The framework's own score of the predictions, where it has one."""
    copy_score: dict[str, float] | None = None


@dataclass
class LoopScore:
    kind: str
    episodes: int
    max_steps: int
    success: float
    mean_steps: float
    """Mean moves of the successful episodes (NaN when none succeeded)."""
    oracle_success: float
    oracle_mean_steps: float
    invalid: float
    """Share of the answers that named no move."""
    asked: str
    """framework/question asked."""


@dataclass
class Report:
    """What `evaluate` measured; `table()` for people, `to_dict()` / `to_json()` for programs."""

    policy: str
    n: int
    seed: int
    size: int
    questions: list[QuestionScore] = field(default_factory=list)
    images: list[ImageScore] = field(default_factory=list)
    closed_loop: list[LoopScore] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def table(self) -> str:
        lines = [f"policy {self.policy}: {self.n} held-out examples per framework (seed {self.seed}, {self.size} px)", ""]
        if self.questions:
            width = max(len("framework"), *(len(q.framework) for q in self.questions)) + 2
            qwidth = max(len("question"), *(len(q.question) for q in self.questions)) + 2
            lines.append("questions (baseline: the majority class's share of the held-out labels)")
            lines.append(f"{'framework':<{width}}{'question':<{qwidth}}{'n':>6}{'accuracy':>10}{'balanced':>10}{'baseline':>10}")
            for q in self.questions:
                lines.append(
                    f"{q.framework:<{width}}{q.question:<{qwidth}}{q.n:>6}{_pct(q.accuracy):>10}"
                    f"{_pct(q.balanced_accuracy):>10}{_pct(q.baseline):>10}"
                )
            lines.append("")
        if self.images:
            width = max(len("framework"), *(len(im.framework) for im in self.images)) + 2
            lines.append("pictures (skill = 1 - MSE / MSE of a copy of the input; agent, gold: centre errors in pixels")
            lines.append("where prediction and target show the object; objects: share of the examples that show the")
            lines.append("target's objects and no other; copy: a copy of the input scored the same way)")
            lines.append(
                f"{'framework':<{width}}{'n':>6}{'skill':>8}{'mse':>10}{'agent':>8}{'gold':>8}{'objects':>9}"
                f"  |{'copy mse':>10}{'agent':>8}{'gold':>8}{'objects':>9}"
            )
            for im in self.images:
                lines.append(
                    f"{im.framework:<{width}}{im.n:>6}{_num(im.skill, 3):>8}{_exp(im.mse):>10}"
                    f"{_num(im.centre_error['agent'], 2):>8}{_num(im.centre_error['gold'], 2):>8}{_pct(im.objects):>9}"
                    f"  |{_exp(im.copy_mse):>10}{_num(im.copy_centre_error['agent'], 2):>8}"
                    f"{_num(im.copy_centre_error['gold'], 2):>8}{_pct(im.copy_objects):>9}"
                )
            for im in self.images:
                if im.score is not None:
                    own = ", ".join(f"{k} {_num(v, 3)}" for k, v in im.score.items())
                    copy = ", ".join(f"{k} {_num(v, 3)}" for k, v in (im.copy_score or {}).items())
                    lines.append(f"{im.framework}'s own score: {own} (a copy of the input: {copy})")
            lines.append("")
        if self.closed_loop:
            lines.append(
                f"closed loop (asks {self.closed_loop[0].asked}; steps: mean moves of the successful episodes)"
            )
            lines.append(
                f"{'scenes':<8}{'episodes':>9}{'max steps':>10}{'success':>9}{'steps':>7}{'invalid':>9}"
                f"{'oracle success':>16}{'oracle steps':>14}"
            )
            for lp in self.closed_loop:
                lines.append(
                    f"{lp.kind:<8}{lp.episodes:>9}{lp.max_steps:>10}{_pct(lp.success):>9}{_num(lp.mean_steps, 1):>7}"
                    f"{_pct(lp.invalid):>9}{_pct(lp.oracle_success):>16}{_num(lp.oracle_mean_steps, 1):>14}"
                )
            lines.append("")
        return "\n".join(lines)


def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{100 * x:.1f}%"


def _num(x: float, digits: int) -> str:
    return "-" if not math.isfinite(x) else f"{x:.{digits}f}"


def _exp(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.2e}"


def _finite(value: Any) -> Any:
    """NaN and infinities as None, so the JSON is valid."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# --- the harness ------------------------------------------------------------------------------


def answer_classes(framework: Framework, batch: Batch, answers: Sequence[str]) -> np.ndarray:
    """(n,) the class index each answer names within its example's question (-1: none)."""
    lookup = [{text: i for i, text in enumerate(q.classes)} for q in framework.questions]
    return np.array(
        [lookup[q].get(normalise(a), -1) if q >= 0 else -1 for q, a in zip(batch.question, answers)], dtype=np.int64
    )


class _QuestionTally:
    def __init__(self, framework: Framework) -> None:
        self.framework = framework
        self.labels: list[np.ndarray] = []
        self.questions: list[np.ndarray] = []
        self.predicted: list[np.ndarray] = []

    def add(self, batch: Batch, prediction: Prediction) -> None:
        keep = (batch.question >= 0) & (batch.label >= 0)
        if not keep.any():
            return
        self.questions.append(batch.question[keep])
        self.labels.append(batch.label[keep])
        self.predicted.append(answer_classes(self.framework, batch, prediction.answers)[keep])

    def scores(self) -> list[QuestionScore]:
        if not self.labels:
            return []
        questions, labels, predicted = (np.concatenate(a) for a in (self.questions, self.labels, self.predicted))
        out = []
        for qi, q in enumerate(self.framework.questions):
            mine = questions == qi
            if not mine.any():
                continue
            y, p = labels[mine], predicted[mine]
            counts = np.bincount(y, minlength=len(q.classes))
            present = np.nonzero(counts)[0]
            recall = [float((p[y == c] == c).mean()) for c in present]
            out.append(
                QuestionScore(
                    self.framework.name, q.name, int(mine.sum()), float((p == y).mean()), float(np.mean(recall)),
                    float(counts.max() / counts.sum()), list(q.classes), counts.tolist(),
                )
            )
        return out


class _ImageTally:
    def __init__(self, framework: Framework) -> None:
        self.framework = framework
        self.n = 0
        self.sse = {"pred": 0.0, "copy": 0.0}
        self.values = 0
        self.err = {(w, o): 0.0 for w in ("pred", "copy") for o in OBJECTS}
        self.found = {(w, o): 0 for w in ("pred", "copy") for o in OBJECTS}
        self.shown = {o: 0 for o in OBJECTS}
        self.same_objects = {"pred": 0, "copy": 0}
        self.scorer = _own_scorer(framework)
        self.score: dict[str, list[np.ndarray]] = {}
        self.copy_score: dict[str, list[np.ndarray]] = {}

    def add(self, batch: Batch, prediction: Prediction) -> None:
        target = batch.target
        assert target is not None
        images = prediction.images
        if images is None:
            raise ValueError(f"{self.framework.name} asks for pictures: the policy returned none")
        images = np.asarray(images)
        if images.shape != target.shape or images.dtype != np.uint8:
            raise ValueError(
                f"{self.framework.name}: the policy's pictures are {images.dtype} {images.shape}; "
                f"expected uint8 {target.shape}"
            )
        size = target.shape[1]
        t = target.astype(np.float32) / 255
        self.n += len(target)
        self.values += t.size
        target_idx = palette_indices(target)
        target_centres = {o: colour_centres(target_idx, c) for o, c in OBJECTS.items()}
        for o in OBJECTS:
            self.shown[o] += int((~np.isnan(target_centres[o][:, 0])).sum())
        for who, pictures in (("pred", images), ("copy", batch.image)):
            self.sse[who] += float(((pictures.astype(np.float32) / 255 - t) ** 2).sum())
            idx = palette_indices(pictures)
            same = np.ones(len(target), dtype=bool)
            for o, colours in OBJECTS.items():
                c = colour_centres(idx, colours)
                same &= np.isnan(target_centres[o][:, 0]) == np.isnan(c[:, 0])
                both = ~np.isnan(target_centres[o][:, 0]) & ~np.isnan(c[:, 0])
                self.found[who, o] += int(both.sum())
                self.err[who, o] += float(np.linalg.norm(c[both] - target_centres[o][both], axis=1).sum() * size)
            self.same_objects[who] += int(same.sum())
        if self.scorer is not None:
            for out, pictures in ((self.score, images), (self.copy_score, batch.image)):
                for k, v in _as_values(self.scorer(pictures, batch), len(target)).items():
                    out.setdefault(k, []).append(v)

    def result(self) -> ImageScore:
        mse = {w: self.sse[w] / max(self.values, 1) for w in self.sse}
        skill = 1 - mse["pred"] / mse["copy"] if mse["copy"] > 0 else math.nan

        def error(who: str) -> dict[str, float]:
            return {o: self.err[who, o] / self.found[who, o] if self.found[who, o] else math.nan for o in OBJECTS}

        def missing(who: str) -> dict[str, float]:
            return {o: 1 - self.found[who, o] / self.shown[o] if self.shown[o] else math.nan for o in OBJECTS}

        own = _summarise(self.score) if self.scorer else None
        copy = _summarise(self.copy_score) if self.scorer else None
        return ImageScore(
            self.framework.name, self.n, skill, mse["pred"], mse["copy"], error("pred"), missing("pred"),
            self.same_objects["pred"] / self.n, error("copy"), missing("copy"), self.same_objects["copy"] / self.n,
            own, copy,
        )


def _own_scorer(framework: Framework) -> Callable[[np.ndarray, Batch], Any] | None:
    """The framework's own `score(pred_images_uint8, batch)`: a method, or a function of its module."""
    scorer = getattr(framework, "score", None)
    if callable(scorer):
        return scorer
    scorer = getattr(sys.modules.get(type(framework).__module__), "score", None)
    return scorer if callable(scorer) else None


def _as_values(value: Any, n: int) -> dict[str, np.ndarray]:
    """A score as named per-example numbers: a dict keeps its names (a number stands for every
    example), a bare value is `score`."""
    named = value if isinstance(value, dict) else {"score": value}
    return {str(k): np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for k, v in named.items()}


def _summarise(values: dict[str, list[np.ndarray]]) -> dict[str, float]:
    """Each own score over all examples: the median of a name that starts with `median_`,
    otherwise the mean; NaN (an example the score does not count) left out of both."""
    out = {}
    for k, parts in values.items():
        v = np.concatenate(parts)
        if np.isnan(v).all():
            out[k] = math.nan
        else:
            out[k] = float(np.nanmedian(v)) if k.startswith("median_") else float(np.nanmean(v))
    return out


def evaluate(
    policy: Policy,
    frameworks: Sequence[str] | None = None,
    n: int = DEFAULT_N,
    seed: int = 0,
    size: int = 96,
    batch_size: int = 250,
    *,
    episodes: int | None = None,
    steps: int = DEFAULT_STEPS,
    closed_loop: bool = True,
    policy_name: str | None = None,
    on_progress: Callable[[str], object] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Report:
    """Scores `policy` on `n` held-out examples of each framework (all that `settings` allow by
    default: visited_qa needs `visits`, the files of recorded states, and asks about their held-out
    games), in batches of `batch_size`, pictures `size` pixels square; then (with `closed_loop`) in
    `episodes` (default `n`) closed-loop episodes of at most `steps` moves on bare and on full
    scenes."""
    settings = {**(settings or {}), "held_out": True}
    names = [m for m in base.names() if base.available(m, settings)] if frameworks is None else list(frameworks)
    report = Report(policy_name or str(getattr(policy, "__name__", type(policy).__name__)), n, seed, size)
    for name in names:
        framework = base.get(name, settings)
        if on_progress:
            on_progress(f"evaluating {name}")
        rng = stream(HELDOUT, seed, name)
        questions = _QuestionTally(framework)
        images: _ImageTally | None = None
        for start in range(0, n, batch_size):
            batch = framework.make(min(batch_size, n - start), rng, size)
            prediction = policy(batch)
            if len(prediction.answers) != len(batch):
                raise ValueError(f"{name}: the policy gave {len(prediction.answers)} answers to {len(batch)} examples")
            questions.add(batch, prediction)
            if batch.target is not None:
                images = images or _ImageTally(framework)
                images.add(batch, prediction)
        report.questions += questions.scores()
        if images is not None:
            report.images.append(images.result())
    if closed_loop:
        for kind in LOOP_KINDS:
            if on_progress:
                on_progress(f"closed loop on {kind} scenes")
            scenes = game.make_scenes(episodes or n, stream(EPISODES, seed, kind), kind, solvable=True)
            report.closed_loop.append(loop_score(policy, scenes, steps, stream(PROMPTS, seed, kind), size, kind))
    return report


# --- closed loop ------------------------------------------------------------------------------


def _move_of(text: str) -> int | None:
    t = text.lower()
    if "anti" in t or "counter" in t or t in ("ccw", "acw"):
        return game.ANTICLOCKWISE
    if "clock" in t or t == "cw":
        return game.CLOCKWISE
    if "forward" in t or "straight" in t or "ahead" in t:
        return game.FORWARD
    return None


@dataclass(frozen=True)
class MoveQuestion:
    """The question that asks for the best move: its framework and name, and the move each of its
    classes names."""

    framework: str
    question: str
    moves: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.framework}/{self.question}"

    def moves_of(self, classes: np.ndarray) -> np.ndarray:
        """The moves that answer classes (`answer_classes`) name; -1 where an answer names none."""
        return np.where(classes >= 0, np.array(self.moves)[np.maximum(classes, 0)], -1)


def move_question() -> MoveQuestion:
    """Finds the best-move question among the registered frameworks: a question whose classes name
    the three moves (forward, clockwise, anticlockwise) one each; among several, one whose name
    mentions "best" or "move" first."""
    found = []
    for name in base.names():
        framework = base.get(name)
        for q in framework.questions:
            named = [_move_of(c) for c in q.classes]
            moves = tuple(m for m in named if m is not None)
            if len(moves) == len(named) and sorted(moves) == list(range(len(game.MOVES))):
                rank = 0 if "best" in q.name else 1 if "move" in q.name else 2
                found.append((rank, MoveQuestion(name, q.name, moves)))
    if not found:
        raise LookupError("no framework asks for the best move (a question whose classes are the three moves)")
    return min(found, key=lambda f: f[0])[1]


@dataclass
class Episodes:
    """Closed-loop episodes: moves until each ate a gold piece (`max_steps` where it did not),
    whether it did, how many answers named no move out of how many were asked, the scenes at the
    end and, when recorded, the scenes before every step with the moves then made (-1: none)."""

    steps: np.ndarray
    success: np.ndarray
    invalid: int
    asked: int
    final: game.Scenes
    history: list[tuple[game.Scenes, np.ndarray]] = field(default_factory=list)


def play(
    policy: Policy,
    scenes: game.Scenes,
    max_steps: int = DEFAULT_STEPS,
    rng: np.random.Generator | None = None,
    size: int = 96,
    record: bool = False,
    question: MoveQuestion | None = None,
) -> Episodes:
    """Plays `scenes` (a copy) in a closed loop: each step asks `question` (the best-move question
    by default) about every episode still running, as one batch, and makes the moves the answers
    name (an answer that names none makes no move), until the agent eats gold or `max_steps` moves
    have passed. `record` keeps the scenes before every step and the moves made.

    A policy whose `remember_moves` is true (`AgentModel.load(run, remember_moves=True)`) is not
    asked for an answer but for its scores of the three moves (`move_scores`), and each episode
    remembers how often it made each move from each place and heading (`state_keys`): it makes
    the move it made fewest times where it stands, the likeliest among those (`least_made`). On
    a first visit that is its likeliest move; where it stands again, a move it already made there
    gives way to one it did not. A greedy policy answers the same in the same state, so one wrong
    answer the next one undoes repeats until the episode ends (docs/agent.md)."""
    question = question or move_question()
    remember = bool(getattr(policy, "remember_moves", False))
    made: list[dict[Any, np.ndarray]] = [{} for _ in range(len(scenes))]
    framework = base.get(question.framework)
    rng = rng or np.random.default_rng()
    s = scenes.copy()
    steps = np.full(len(s), max_steps)
    success = np.zeros(len(s), dtype=bool)
    active = s.has_gold()
    invalid = asked = 0
    history: list[tuple[game.Scenes, np.ndarray]] = []
    for step in range(1, max_steps + 1):
        index = np.nonzero(active)[0]
        if len(index) == 0:
            break
        batch = framework.ask(s.select(index), question.question, rng, size)
        if remember:
            scores = policy.move_scores(batch, question)  # type: ignore[attr-defined]
            classes = remembered_moves([made[i] for i in index], state_keys(s.select(index)), scores)
        else:
            classes = answer_classes(framework, batch, policy(batch).answers)
        invalid += int((classes < 0).sum())
        asked += len(index)
        moves = np.full(len(s), -1)
        moves[index] = question.moves_of(classes)
        if record:
            history.append((s.copy(), moves))
        eaten = s.move(moves) > 0
        done = active & eaten
        steps[done] = step
        success |= done
        active &= ~eaten
    return Episodes(steps, success, invalid, asked, s, history)


def state_keys(scenes: game.Scenes) -> list[tuple[float, ...]]:
    """Per scene, its agent's place and heading rounded to 1e-6 (turning there and back again
    returns to the same key despite rounding errors); the walls and gold of an episode do not
    change."""
    keys = np.round(np.concatenate([scenes.agent, np.mod(scenes.heading, 2 * math.pi)[:, None]], axis=1), 6)
    keys[np.isclose(keys[:, 2], round(2 * math.pi, 6)), 2] = 0.0
    return [tuple(row) for row in keys.tolist()]


def remembered_moves(made: Sequence[dict[Any, np.ndarray]], keys: Sequence[Any], scores: np.ndarray) -> np.ndarray:
    """(n,) per row the class `least_made` picks from the counts `made[i]` keeps for `keys[i]`
    (zeros for a key it has not seen), counted as made."""
    counts = [tally.setdefault(key, np.zeros(scores.shape[1], dtype=np.int64)) for tally, key in zip(made, keys)]
    classes = least_made(scores, np.stack(counts))
    for count, c in zip(counts, classes):
        count[c] += 1
    return classes


def least_made(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(n,) per row the class made fewest times (`counts` (n, k)), the highest-scored among
    those (`scores` (n, k)); ties of scores go to the first class."""
    fewest = counts == counts.min(axis=1, keepdims=True)
    return np.where(fewest, scores, -np.inf).argmax(axis=1)


def loop_score(
    policy: Policy,
    scenes: game.Scenes,
    max_steps: int,
    rng: np.random.Generator,
    size: int,
    kind: str,
) -> LoopScore:
    question = move_question()
    episodes = play(policy, scenes, max_steps, rng, size, question=question)
    oracle_steps = scenes.steps_to_gold(max_steps + 1)
    oracle_success = oracle_steps <= max_steps
    return LoopScore(
        kind, len(scenes), max_steps, float(episodes.success.mean()), _mean(episodes.steps[episodes.success]),
        float(oracle_success.mean()), _mean(oracle_steps[oracle_success]),
        episodes.invalid / max(episodes.asked, 1), str(question),
    )


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan
