"""The variable-binding task (issue 5): its language, reference interpreter and data splits.

The language
------------
Words separated by spaces. A program is a sequence of statements, run left to right:

- a binding, ``VAR means ACTION`` or ``VAR means VAR2``. The second copies VAR2's *current*
  value, so rebinding VAR2 later does not change VAR. A later binding of a variable replaces the
  earlier one, and ``now`` may precede such a rebinding (``now X means walk``).
- a command, ``do VAR``, optionally followed by ``twice`` or ``thrice`` and then optionally by
  ``left`` or ``right``. Consecutive commands may be joined by ``then``.

The output is the commands' actions in upper case, space separated: with X bound to jump,
``do X twice left`` outputs ``JUMP LEFT JUMP LEFT``. `run_program` is the reference interpreter;
`trace` also returns what the splits are built from: each output word's source position, each
binding's indirection depth and each command's reads. A program outside the language raises
`BindingError` naming the offending word and its position (0-based, in ``program.split()``).

Indirection depth counts the ``VAR means VAR2`` links between a value and its action word:
``X means jump`` is depth 0; ``Y means X`` on top of it is depth 1.

The splits (`make_splits`)
--------------------------
Training programs use the variables X Y Z A B C D E, one to five bindings, one to three commands,
indirection depth at most 2, and only the *seen* pairs: a seeded ~20% of the (variable, action)
pairs (`held_out_pairs`) never appear as ``VAR means ACTION`` in training, while every variable
and every action still does. About a quarter of training programs read a rebound variable, and
about a quarter have a command with both a repeat and a direction. The four `SEED_PROGRAMS` are
excluded from training. Each evaluation split differs from training as follows:

- ``iid``: nothing; new programs from the training distribution.
- ``pairings``: every ``VAR means ACTION`` binding is a held-out pair.
- ``new_variables``: the variables are P Q R S only, never seen in training.
- ``rebinding``: rebinding is more frequent, and every program has a command that reads a rebound
  variable; otherwise the training distribution.
- ``composition``: two or three commands with frequent modifiers, and every program has a command
  with both a repeat and a direction (``do X thrice right``); otherwise the training distribution.
- ``chains``: four or five bindings (as in training) but a command reads a value at indirection
  depth 3 or 4.
- ``length``: seven to ten bindings, the extra ones distractors or rebindings (training has at
  most five); otherwise the training distribution.
- ``seed_modification``: exactly the four `SEED_PROGRAMS`.

No program appears in two splits. Each split draws from its own random stream, seeded by the seed
and the split's name, and skips programs drawn by the splits before it (training first).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .._core import UsageError

VARIABLES_TRAIN = ("X", "Y", "Z", "A", "B", "C", "D", "E")
VARIABLES_EVAL = ("P", "Q", "R", "S")
VARIABLES = VARIABLES_TRAIN + VARIABLES_EVAL
ACTIONS = ("jump", "walk", "run", "turn", "look", "hop", "swim", "crawl")
REPEATS = {"twice": 2, "thrice": 3}
DIRECTIONS = ("left", "right")
KEYWORDS = ("means", "do", "then", "now")

SEED_PROGRAMS = (
    "X means jump do X",
    "X means walk do X",
    "X means jump do X twice",
    "X means walk do X twice",
)
"""The original task's four cases: the `seed_modification` split, never in training."""

MAX_TRAIN_DEPTH = 2
MAX_TRAIN_BINDINGS = 5
LENGTH_BINDINGS = (7, 10)
CHAIN_DEPTHS = (3, 4)
HELD_OUT_FRACTION = 0.2
SPLITS = (
    "train",
    "iid",
    "pairings",
    "new_variables",
    "rebinding",
    "composition",
    "chains",
    "length",
    "seed_modification",
)

_VOCABULARY = frozenset((*VARIABLES, *ACTIONS, *REPEATS, *DIRECTIONS, *KEYWORDS))
_VOCABULARY_HINT = (
    f"the words are the variables {' '.join(VARIABLES)}, the actions {' '.join(ACTIONS)}, "
    f"and {' '.join((*KEYWORDS, *REPEATS, *DIRECTIONS))}"
)
# The seed programs' pairs stay seen, so `seed_modification` tests the exact programs only.
_SEED_PAIRS = frozenset({("X", "jump"), ("X", "walk")})
# Rejection sampling gives up after this many draws per wanted example.
_MAX_DRAWS_PER_EXAMPLE = 200


class BindingError(UsageError, ValueError):
    """A program outside the language; `word` and `position` locate the offending word. A
    `UsageError`, so the CLI reports it in one line with exit status 2."""

    def __init__(self, problem: str, word: str | None = None, position: int | None = None):
        where = "" if word is None else f"{word!r} at position {position}: "
        super().__init__(where + problem)
        self.word = word
        self.position = position


@dataclass(frozen=True)
class Binding:
    """One binding statement, after it ran."""

    variable: str
    value: str
    """The action or variable word after `means`."""
    depth: int
    """`VAR means VAR2` links between the bound value and its action word (0 for an action)."""
    source: int
    """Position of the action word the value was ultimately read from."""


@dataclass(frozen=True)
class Command:
    """One `do` statement, after it ran."""

    variable: str
    depth: int
    """Indirection depth of the value it read."""
    rebound: bool
    """Whether the variable had been bound more than once when it was read."""
    repeat: int
    direction: str | None


@dataclass(frozen=True)
class Trace:
    """What running a program produced and how."""

    output: str
    source_positions: tuple[int, ...]
    """One per output word: for an action, the position of the action word it was read from
    (following `VAR means VAR2` chains); for LEFT or RIGHT, the position of the direction word."""
    bindings: tuple[Binding, ...]
    commands: tuple[Command, ...]

    @property
    def max_depth(self) -> int:
        """The deepest indirection among all bindings, read or not."""
        return max(binding.depth for binding in self.bindings)


@dataclass(frozen=True)
class Example:
    """One program of a split, with the reference interpreter's output."""

    program: str
    output: str
    split: str
    source_positions: tuple[int, ...]
    """As in `Trace`: aligned with `output.split()`, indices into `program.split()`."""


def run_program(text: str) -> str:
    """The program's output, e.g. `run_program("X means jump do X")` is `"JUMP"`."""
    return trace(text).output


def trace(text: str) -> Trace:
    """Runs a program; raises `BindingError` for one outside the language."""
    words = text.split()
    if not words:
        raise BindingError("the program is empty; the shortest program is 'X means jump do X'")
    for position, word in enumerate(words):
        if word not in _VOCABULARY:
            raise BindingError(f"unknown word; {_VOCABULARY_HINT}", word, position)
    interpreter = _Interpreter(words)
    interpreter.run()
    if not interpreter.commands:
        raise BindingError("the program has no 'do VAR' command, so it outputs nothing")
    return Trace(
        output=" ".join(interpreter.output),
        source_positions=tuple(interpreter.sources),
        bindings=tuple(interpreter.bindings),
        commands=tuple(interpreter.commands),
    )


_MISPLACED = {
    "means": "'means' needs the variable it binds before it, as in 'X means jump'",
    **{
        repeat: f"a repeat must directly follow 'do VAR', as in 'do X {repeat}'"
        for repeat in REPEATS
    },
    **{
        direction: f"a direction must follow 'do VAR' or its repeat, as in 'do X twice {direction}'"
        for direction in DIRECTIONS
    },
    **{
        action: f"an action must follow 'means', as in 'X means {action}'" for action in ACTIONS
    },
}


class _Interpreter:
    def __init__(self, words: list[str]):
        self.words = words
        self.env: dict[str, Binding] = {}
        self.times_bound: dict[str, int] = {}
        self.bindings: list[Binding] = []
        self.commands: list[Command] = []
        self.output: list[str] = []
        self.sources: list[int] = []
        self.command_end = -1
        """Position just after the last command: where a `then` may stand."""

    def run(self) -> None:
        i = 0
        while i < len(self.words):
            word = self.words[i]
            if word == "now":
                i = self.now(i)
            elif word in VARIABLES:
                i = self.binding(i)
            elif word == "do":
                i = self.command(i)
            elif word == "then":
                i = self.then(i)
            else:
                raise BindingError(_MISPLACED[word], word, i)

    def word(self, i: int) -> str | None:
        return self.words[i] if i < len(self.words) else None

    def fail(self, i: int, problem: str) -> BindingError:
        return BindingError(problem, self.words[i], i)

    def now(self, i: int) -> int:
        variable = self.word(i + 1)
        if variable not in VARIABLES or self.word(i + 2) != "means":
            raise self.fail(i, "'now' must precede a rebinding, as in 'now X means walk'")
        if variable not in self.env:
            raise self.fail(i, f"'now' marks a rebinding, but {variable!r} has no earlier binding")
        return i + 1

    def binding(self, i: int) -> int:
        variable = self.words[i]
        if self.word(i + 1) != "means":
            raise self.fail(
                i,
                f"a variable starts a binding and must be followed by 'means', as in "
                f"'{variable} means jump' (to run it, write 'do {variable}')",
            )
        value = self.word(i + 2)
        if value in ACTIONS:
            bound = Binding(variable, value, 0, i + 2)
        elif value in VARIABLES:
            if value not in self.env:
                raise self.fail(
                    i + 2, f"{value!r} is not bound yet, so {variable!r} cannot take its value"
                )
            bound = Binding(variable, value, self.env[value].depth + 1, self.env[value].source)
        elif value is None:
            raise self.fail(i + 1, "'means' needs an action or a variable after it")
        else:
            raise self.fail(i + 2, "'means' must be followed by an action or a variable")
        self.env[variable] = bound
        self.times_bound[variable] = self.times_bound.get(variable, 0) + 1
        self.bindings.append(bound)
        return i + 3

    def command(self, i: int) -> int:
        variable = self.word(i + 1)
        if variable is None:
            raise self.fail(i, "'do' needs the variable to run after it, as in 'do X'")
        if variable not in VARIABLES:
            raise self.fail(i + 1, "'do' must be followed by a variable, as in 'do X'")
        if variable not in self.env:
            raise self.fail(
                i + 1, f"{variable!r} is not bound; bind it first, as in '{variable} means jump'"
            )
        end = i + 2
        repeat = REPEATS.get(self.word(end) or "", 1)
        end += repeat > 1
        direction = self.word(end) if self.word(end) in DIRECTIONS else None
        bound = self.env[variable]
        for _ in range(repeat):
            self.output.append(self.words[bound.source].upper())
            self.sources.append(bound.source)
            if direction is not None:
                self.output.append(direction.upper())
                self.sources.append(end)
        self.commands.append(
            Command(variable, bound.depth, self.times_bound[variable] > 1, repeat, direction)
        )
        self.command_end = end + (direction is not None)
        return self.command_end

    def then(self, i: int) -> int:
        if self.command_end != i or self.word(i + 1) != "do":
            raise self.fail(i, "'then' must join two commands, as in 'do X then do Y'")
        return i + 1


def held_out_pairs(seed: int = 0) -> frozenset[tuple[str, str]]:
    """The (variable, action) pairs that training never binds with `VAR means ACTION`.

    A seeded ~20% of the training variables' pairs, leaving every variable and every action at
    least one seen pair, and the seed programs' pairs seen.
    """
    rng = random.Random(f"{seed}:held_out_pairs")
    candidates = [(v, a) for v in VARIABLES_TRAIN for a in ACTIONS if (v, a) not in _SEED_PAIRS]
    count = round(HELD_OUT_FRACTION * len(VARIABLES_TRAIN) * len(ACTIONS))
    while True:
        held = frozenset(rng.sample(candidates, count))
        seen = [pair for pair in candidates if pair not in held]
        if {v for v, _ in seen} == set(VARIABLES_TRAIN) and {a for _, a in seen} == set(ACTIONS):
            return held


def make_splits(
    seed: int = 0, train_size: int = 20000, eval_size: int = 1000
) -> dict[str, list[Example]]:
    """The training and evaluation splits, keyed by the names in `SPLITS` (see the module doc)."""
    held = held_out_pairs(seed)
    seen = tuple((v, a) for v in VARIABLES_TRAIN for a in ACTIONS if (v, a) not in held)
    used = set(SEED_PROGRAMS)
    splits: dict[str, list[Example]] = {}
    for name, spec in _specs(seen, tuple(sorted(held))).items():
        size = train_size if name == "train" else eval_size
        splits[name] = _draw(random.Random(f"{seed}:{name}"), name, spec, size, used)
    splits["seed_modification"] = [_example(p, "seed_modification") for p in SEED_PROGRAMS]
    _check_disjoint(splits)
    return splits


def _in_training_depth(t: Trace) -> bool:
    return t.max_depth <= MAX_TRAIN_DEPTH


@dataclass(frozen=True)
class _Spec:
    """How to draw one split's programs: a random walk over statements, then `accept`."""

    variables: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    """The `VAR means ACTION` bindings it may write."""
    bindings: tuple[int, int] = (1, MAX_TRAIN_BINDINGS)
    commands: tuple[int, int] = (1, 3)
    p_indirect: float = 0.3
    p_rebind: float = 0.3
    p_repeat: float = 0.35
    p_direction: float = 0.35
    deep: bool = False
    """Indirections and commands read the deepest bound variable: this builds long chains."""
    accept: Callable[[Trace], bool] = _in_training_depth


def _specs(
    seen: tuple[tuple[str, str], ...], held: tuple[tuple[str, str], ...]
) -> dict[str, _Spec]:
    train = _Spec(VARIABLES_TRAIN, seen)
    eval_pairs = tuple((v, a) for v in VARIABLES_EVAL for a in ACTIONS)
    return {
        "train": train,
        "iid": train,
        "pairings": _Spec(VARIABLES_TRAIN, held),
        "new_variables": _Spec(VARIABLES_EVAL, eval_pairs),
        "rebinding": _Spec(
            VARIABLES_TRAIN,
            seen,
            p_rebind=0.6,
            accept=lambda t: _in_training_depth(t) and any(c.rebound for c in t.commands),
        ),
        "composition": _Spec(
            VARIABLES_TRAIN,
            seen,
            commands=(2, 3),
            p_repeat=0.7,
            p_direction=0.7,
            accept=lambda t: _in_training_depth(t) and any(_composed(c) for c in t.commands),
        ),
        "chains": _Spec(
            VARIABLES_TRAIN,
            seen,
            bindings=(CHAIN_DEPTHS[0] + 1, MAX_TRAIN_BINDINGS),
            p_indirect=0.9,
            p_rebind=0.0,
            deep=True,
            accept=lambda t: max(c.depth for c in t.commands) in CHAIN_DEPTHS,
        ),
        "length": _Spec(VARIABLES_TRAIN, seen, bindings=LENGTH_BINDINGS),
    }


def _composed(command: Command) -> bool:
    return command.repeat > 1 and command.direction is not None


def _draw(rng: random.Random, name: str, spec: _Spec, size: int, used: set[str]) -> list[Example]:
    """`size` accepted programs not in `used`, which it extends with them."""
    examples: list[Example] = []
    draws = 0
    while len(examples) < size:
        draws += 1
        if draws > _MAX_DRAWS_PER_EXAMPLE * size:
            raise RuntimeError(
                f"split {name!r}: found only {len(examples)} new programs of the {size} asked "
                f"for; ask for fewer"
            )
        program = _program(rng, spec)
        if program in used:
            continue
        t = trace(program)
        if spec.accept(t):
            used.add(program)
            examples.append(Example(program, t.output, name, t.source_positions))
    return examples


def _example(program: str, split: str) -> Example:
    t = trace(program)
    return Example(program, t.output, split, t.source_positions)


def _program(rng: random.Random, spec: _Spec) -> str:
    kinds = ["binding"] * (rng.randint(*spec.bindings) - 1) + ["command"] * rng.randint(
        *spec.commands
    )
    rng.shuffle(kinds)
    depths: dict[str, int] = {}
    words = _binding(rng, spec, depths)
    previous = "binding"
    for kind in kinds:
        if kind == "binding":
            words += _binding(rng, spec, depths)
        else:
            if previous == "command" and rng.random() < 0.5:
                words.append("then")
            words += _command(rng, spec, depths)
        previous = kind
    return " ".join(words)


def _binding(rng: random.Random, spec: _Spec, depths: dict[str, int]) -> list[str]:
    """One binding statement; `depths` maps each bound variable to its value's depth."""
    fresh = [v for v in spec.variables if v not in depths]
    rebind = not fresh or (bool(depths) and rng.random() < spec.p_rebind)
    chosen = None
    if rng.random() < spec.p_indirect:
        chosen = _indirection(rng, spec, depths, fresh, rebind)
    if chosen is None:
        pairs = [p for p in spec.pairs if (p[0] in depths) == rebind] or list(spec.pairs)
        variable, action = rng.choice(pairs)
        chosen = variable, action, 0
    variable, value, depth = chosen
    words = [variable, "means", value]
    if variable in depths and rng.random() < 0.5:
        words.insert(0, "now")
    depths[variable] = depth
    return words


def _indirection(
    rng: random.Random, spec: _Spec, depths: dict[str, int], fresh: list[str], rebind: bool
) -> tuple[str, str, int] | None:
    """A `VAR means VAR2` binding as (VAR, VAR2, depth), or None where there is no VAR2 yet."""
    if not depths:
        return None
    source = _deepest(depths) if spec.deep else rng.choice(sorted(depths))
    targets = [v for v in (sorted(depths) if rebind else fresh) if v != source]
    if not targets:
        return None
    return rng.choice(targets), source, depths[source] + 1


def _command(rng: random.Random, spec: _Spec, depths: dict[str, int]) -> list[str]:
    variable = _deepest(depths) if spec.deep else rng.choice(sorted(depths))
    words = ["do", variable]
    if rng.random() < spec.p_repeat:
        words.append(rng.choice(tuple(REPEATS)))
    if rng.random() < spec.p_direction:
        words.append(rng.choice(DIRECTIONS))
    return words


def _deepest(depths: dict[str, int]) -> str:
    return max(depths, key=depths.__getitem__)


def _check_disjoint(splits: dict[str, list[Example]]) -> None:
    owner: dict[str, str] = {}
    for name, examples in splits.items():
        for example in examples:
            if example.program in owner:
                raise AssertionError(
                    f"{example.program!r} is in both {owner[example.program]!r} and {name!r}"
                )
            owner[example.program] = name
