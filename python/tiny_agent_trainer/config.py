"""The training config as pydantic models: the same schema as the engine's serde structs.

`crates/tat-core/src/config/` is the source of truth. These models mirror it field for field
(names, defaults, enums, integer widths, the range checks of `Config::issues()`) and word their
errors the same way: `FILE:LINE:COL: field `a.b`: found X, expected Y. Fix: ...`.
`tests/configs` holds good and bad files that both sides must accept and reject alike.

`tat schema` (or `python -m tiny_agent_trainer.config schema`) prints the JSON Schema for editors.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal, NamedTuple, Optional, cast, get_args, get_origin

import tomli
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError

from ._core import ConfigError as _EngineConfigError

__all__ = [
    "Config",
    "ConfigError",
    "ConfigIssue",
    "DatasetConfig",
    "ModelConfig",
    "TaskConfig",
    "TokenizerConfig",
    "TrainingConfig",
    "json_schema",
    "main",
]

EXAMPLE_HINT = "see `tiny-agent-trainer show --config config/wgsl_small.toml` for a complete example"


class ConfigError(_EngineConfigError, ValueError):
    """A config that does not parse or does not match the schema; the message says where and how to fix it.

    A subclass of the engine's `tiny_agent_trainer.ConfigError`, so one `except` catches a config
    rejected by either side."""

    def __init__(self, message: str, field: Optional[str] = None) -> None:
        super().__init__(message)
        self.field = field


class ConfigIssue(NamedTuple):
    """A value of the right type that is out of range."""

    field: str
    found: str
    expected: str

    def message(self) -> str:
        return (
            f"field `{self.field}`: found {self.found}, expected {self.expected}. "
            f"Fix: set `{self.field}` to {self.expected}."
        )


class _Expect:
    """How an error names the values a field takes (the engine's wording)."""

    def __init__(self, text: str) -> None:
        self.text = text


# Rust's integer widths: TOML integers are checked against them, as serde does.
_I64 = (-(2**63), 2**63 - 1)
_U64_MAX = 2**64 - 1
Whole = Annotated[int, Field(ge=_I64[0], le=_I64[1]), _Expect("a whole number")]  # i64
Count = Annotated[int, Field(ge=0, le=_U64_MAX), _Expect("a whole number >= 0")]  # usize, u64
Number = Annotated[float, _Expect("a number")]  # f64: integers are accepted
Flag = Annotated[bool, _Expect("a boolean")]
Text = Annotated[str, _Expect("a string")]
FilePath = Annotated[Optional[str], _Expect("a string (a file path)")]  # Option<PathBuf>


def _rust_display(value: float) -> str:
    """An f64 as Rust's `{}` writes it: shortest round-trip digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _shown(value: Any) -> str:
    return _rust_display(value) if isinstance(value, float) else str(value)


_RUST_ESCAPES = {"\0": "\\0", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\\": "\\\\", '"': '\\"'}
# Characters that Rust's `char::is_printable` rejects (` ` aside), by Unicode category.
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"}


def _rust_debug(text: str) -> str:
    """A string as Rust's `{:?}` writes it: quoted, with `\\t`-style and `\\u{..}` escapes for
    unprintable and combining characters (combining marks approximate Grapheme_Extend)."""

    def escape(c: str) -> str:
        if c in _RUST_ESCAPES:
            return _RUST_ESCAPES[c]
        category = unicodedata.category(c)
        if (category in _UNPRINTABLE and c != " ") or category in ("Mn", "Me") or c in "\uff9e\uff9f":
            return f"\\u{{{ord(c):x}}}"
        return c

    return '"' + "".join(escape(c) for c in text) + '"'


class _Section(BaseModel):
    """A config section: unknown keys rejected, no type coercion (as serde). Its range checks run
    from `Config`, as the engine's `Config::issues()` does, so a section alone is not
    range-checked."""

    model_config = ConfigDict(extra="forbid", strict=True)

    def issues(self) -> list[ConfigIssue]:
        """Range checks that the field types cannot express, in the engine's order."""
        return []


class _Checks:
    """Collects the failed checks, like the `check` closure of `Config::issues()`."""

    def __init__(self) -> None:
        self.issues: list[ConfigIssue] = []

    def __call__(self, ok: bool, field: str, found: Any, expected: str) -> None:
        if not ok:
            self.issues.append(ConfigIssue(field, _shown(found), expected))


class TaskConfig(_Section):
    name: Text = Field(description="Names the run: the default run folder is `runs/<name>`.")
    kind: Literal["wgsl_generation", "binding"] = Field(
        default="wgsl_generation",
        description="The task: `wgsl_generation` (from `dataset.path`), or `binding`: variable binding "
        "(`tiny_agent_trainer.tasks.binding`), programs generated in Python.",
    )
    description: Text = Field(default="", description="Free text.")
    seeds: Annotated[list[Count], _Expect("a sequence")] = Field(
        default_factory=list,
        description="Tasks driven from Python train one run per seed and report the mean and spread; "
        "empty means one run with `training.seed`.",
    )

    @model_serializer(mode="wrap")
    def _omit_empty_seeds(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`seeds` is left out when empty, as the engine writes it."""
        data: dict[str, Any] = handler(self)
        if not self.seeds:
            data.pop("seeds", None)
        return data

    def issues(self) -> list[ConfigIssue]:
        check = _Checks()
        check(
            bool(self.name.strip()),
            "task.name",
            "an empty name",
            'a non-empty name such as "wgsl_generation"',
        )
        return check.issues


class ModelConfig(_Section):
    architecture: Literal["transformer", "binder"] = Field(
        default="transformer",
        description="`transformer`: encoder-decoder transformer, pre-LayerNorm; `binder`: local encoder, "
        "learned identity-addressed memory and CTC output slots (`model::binder`).",
    )
    d_model: Whole = Field(default=512, description="Width.")
    nhead: Whole = Field(default=8, description="Attention heads; must divide `d_model`.")
    num_layers: Whole = Field(default=6, description="Layers in the encoder and, separately, in the decoder.")
    dim_feedforward: Whole = Field(default=2048, description="Feed-forward inner width.")
    dropout: Number = Field(default=0.1, description="Dropout probability, in [0, 1).")
    max_seq_len: Whole = Field(
        default=512, description="Longest prompt or target, in tokens, `<bos>`/`<eos>` included."
    )
    tie_embeddings: Flag = Field(
        default=True, description="Share the decoder's input embedding with its output projection."
    )
    window: Whole = Field(default=4, description="Binder: words on either side that its local attentions see.")
    slots: Whole = Field(
        default=8, description="Binder: output slots per input word (the most words one word can emit)."
    )
    word_dropout: Number = Field(
        default=0.5,
        description="Binder: highest per-program rate at which distinct words are hidden from the encoder as `<unk>`.",
    )

    def issues(self, section: str = "model") -> list[ConfigIssue]:
        """Range checks; `section` names the fields (`model` or `baseline`)."""
        check = _Checks()
        check(self.d_model > 0, f"{section}.d_model", self.d_model, "a positive integer such as 512")
        check(
            self.nhead > 0 and self.d_model % max(self.nhead, 1) == 0,
            f"{section}.nhead",
            self.nhead,
            f"a positive divisor of {section}.d_model ({self.d_model})",
        )
        check(self.num_layers > 0, f"{section}.num_layers", self.num_layers, "a positive integer such as 6")
        check(
            self.dim_feedforward > 0,
            f"{section}.dim_feedforward",
            self.dim_feedforward,
            "a positive integer such as 2048",
        )
        check(0.0 <= self.dropout < 1.0, f"{section}.dropout", self.dropout, "a number in [0, 1), such as 0.1")
        check(self.max_seq_len >= 4, f"{section}.max_seq_len", self.max_seq_len, "an integer >= 4, such as 512")
        check(self.window > 0, f"{section}.window", self.window, "a positive integer such as 4")
        check(self.slots > 0, f"{section}.slots", self.slots, "a positive integer such as 8")
        check(
            0.0 <= self.word_dropout < 1.0,
            f"{section}.word_dropout",
            self.word_dropout,
            "a number in [0, 1), such as 0.5",
        )
        return check.issues


class TrainingConfig(_Section):
    epochs: Count = Field(default=100, description="Passes over the training split.")
    batch_size: Count = Field(default=16, description="Examples per optimizer step.")
    learning_rate: Number = Field(default=1e-4, description="Peak learning rate.")
    optimizer: Literal["adamw"] = Field(default="adamw", description="The optimizer.")
    weight_decay: Number = Field(default=0.01, description="Decoupled weight decay, on weight matrices only.")
    adam_beta1: Number = Field(default=0.9, description="AdamW's first-moment decay.")
    adam_beta2: Number = Field(default=0.98, description="AdamW's second-moment decay.")
    adam_eps: Number = Field(default=1e-9, description="AdamW's denominator epsilon.")
    warmup_steps: Count = Field(default=100, description="Optimizer steps of linear warmup before the cosine decay.")
    min_lr_ratio: Number = Field(default=0.1, description="The cosine decay ends at `learning_rate * min_lr_ratio`.")
    gradient_clip_norm: Number = Field(default=1.0, description="Global gradient-norm clip; 0 disables clipping.")
    early_stopping: Flag = Field(
        default=True, description="Stop when the validation loss has not improved for `patience` epochs."
    )
    patience: Count = Field(default=15, description="Epochs without a better validation loss before stopping.")
    save_every: Count = Field(
        default=10, description="Keep a numbered checkpoint every this many epochs (0: only `best` and `last`)."
    )
    seed: Count = Field(default=42, description="Seeds the split, initialisation, batch order and dropout.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="`auto` uses CUDA when available, else CPU."
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description=(
            "Precision of the matrix products (weights and optimizer state stay fp32): `auto` picks bf16 where "
            "the device multiplies bf16 natively and faster than fp32 (`check` says which), else fp32."
        ),
    )
    threads: Count = Field(default=0, description="CPU threads for libtorch; 0 lets libtorch choose.")
    output_dir: FilePath = Field(
        default=None, description="Run folder; default `runs/<task.name>`."
    )

    def issues(self) -> list[ConfigIssue]:
        check = _Checks()
        check(self.epochs > 0, "training.epochs", self.epochs, "a positive integer")
        check(self.batch_size > 0, "training.batch_size", self.batch_size, "a positive integer such as 16")
        check(
            0.0 < self.learning_rate < 1.0,
            "training.learning_rate",
            self.learning_rate,
            "a number in (0, 1), such as 1e-4",
        )
        check(self.weight_decay >= 0.0, "training.weight_decay", self.weight_decay, "a number >= 0, such as 0.01")
        check(
            0.0 <= self.adam_beta1 < 1.0,
            "training.adam_beta1",
            self.adam_beta1,
            "a number in [0, 1), such as 0.9",
        )
        check(
            0.0 <= self.adam_beta2 < 1.0,
            "training.adam_beta2",
            self.adam_beta2,
            "a number in [0, 1), such as 0.98",
        )
        check(self.adam_eps > 0.0, "training.adam_eps", self.adam_eps, "a small positive number such as 1e-9")
        check(0.0 <= self.min_lr_ratio <= 1.0, "training.min_lr_ratio", self.min_lr_ratio, "a number in [0, 1]")
        check(
            self.gradient_clip_norm >= 0.0,
            "training.gradient_clip_norm",
            self.gradient_clip_norm,
            "a number >= 0 (0 disables clipping)",
        )
        check(
            not self.early_stopping or self.patience > 0,
            "training.patience",
            self.patience,
            "a positive integer when early_stopping is on",
        )
        return check.issues


class TokenizerConfig(_Section):
    kind: Literal["wgsl", "words"] = Field(
        default="wgsl",
        alias="type",
        description="`wgsl`: lossless WGSL-aware pieces, whitespace included; `words`: whitespace-separated "
        "words, an unknown word is `<unk>`.",
    )
    min_freq: Count = Field(
        default=1, description="Pieces seen fewer times in the training split fall back to characters or bytes."
    )

    def issues(self) -> list[ConfigIssue]:
        check = _Checks()
        check(self.min_freq > 0, "tokenizer.min_freq", self.min_freq, "an integer >= 1")
        return check.issues


class DatasetConfig(_Section):
    path: FilePath = Field(
        default=None,
        description="A `[[examples]]` TOML file; relative paths resolve against the config file's folder. "
        "Required by `wgsl_generation`; tasks that generate their data have none.",
    )
    train_ratio: Number = Field(default=0.8, description="Share of the examples in the training split.")
    val_ratio: Number = Field(default=0.1, description="Share in the validation split; the rest is the test split.")
    train_size: Count = Field(default=20000, description="Generated tasks: training examples.")
    eval_size: Count = Field(default=1000, description="Generated tasks: examples in each evaluation split.")

    def issues(self) -> list[ConfigIssue]:
        """The checks of this section alone; `Config.issues()` puts the `dataset.path` checks,
        which depend on `task.kind`, before them."""
        check = _Checks()
        check(self.train_size > 0, "dataset.train_size", self.train_size, "a positive integer such as 20000")
        check(self.eval_size > 0, "dataset.eval_size", self.eval_size, "a positive integer such as 1000")
        check(
            0.0 < self.train_ratio < 1.0,
            "dataset.train_ratio",
            self.train_ratio,
            "a number in (0, 1), such as 0.8",
        )
        room = 1.0 - self.train_ratio
        check(
            self.val_ratio > 0.0 and self.train_ratio + self.val_ratio < 1.0,
            "dataset.val_ratio",
            self.val_ratio,
            f"a number in (0, {'NaN' if math.isnan(room) else format(room, '.3f')}) "
            "so that train + val < 1 leaves a test split",
        )
        return check.issues


class Config(BaseModel):
    """One training config: `[task] [model] [training] [tokenizer] [dataset]`, and `[baseline]`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    task: TaskConfig
    model: ModelConfig = Field(default_factory=lambda: ModelConfig())
    training: TrainingConfig = Field(default_factory=lambda: TrainingConfig())
    tokenizer: TokenizerConfig = Field(default_factory=lambda: TokenizerConfig())
    dataset: DatasetConfig
    baseline: Optional[ModelConfig] = Field(
        default=None,
        description="A second model trained beside `[model]` on the same data, for comparison (tasks driven "
        "from Python train it; the binding task's plain transformer).",
    )
    # Where the config was read from: relative dataset paths resolve against its folder.
    _source: Optional[Path] = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _in_range(self) -> Config:
        """The engine's value checks, after every type check (as serde deserializes first)."""
        issues = self.issues()
        if issues:
            context = {"issue": issues[0], "message": issues[0].message()}
            raise PydanticCustomError("config_issue", "{message}", context)
        return self

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Config:
        """Reads, parses and checks a config file."""
        file = os.fspath(path)
        try:
            text = Path(file).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"{file}: config file not found. Fix: pass an existing file to --config "
                "(`tiny-agent-trainer list` shows the shipped ones)."
            ) from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"{file}: not UTF-8 text ({e.reason}). Fix: save the config as UTF-8.") from None
        except OSError as e:
            raise ConfigError(f"{file}: {e.strerror}. Fix: check the path and its permissions.") from None
        config = cls.from_toml_str(text, file)
        config._source = Path(file)
        return config

    @classmethod
    def from_toml_str(cls, text: str, file: str = "<string>") -> Config:
        """Parses and checks TOML text; `file` names it in errors."""
        try:
            data = tomli.loads(text, parse_float=_parse_float)
        except tomli.TOMLDecodeError as e:
            message = " ".join(e.msg.split()).rstrip(".")
            raise ConfigError(
                f"{file}:{e.lineno}:{e.colno}: not valid TOML: {message}. "
                "Fix: correct the TOML syntax at that position."
            ) from None
        return cls.from_dict(data, file, text)

    @classmethod
    def from_dict(cls, data: dict[str, Any], file: str = "<dict>", text: Optional[str] = None) -> Config:
        """Checks parsed TOML; `text`, when given, locates errors by line and column."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            errors = e.errors()
            # The engine checks every type before any range: a range issue comes last.
            first = next((err for err in errors if err["type"] != "config_issue"), errors[0])
            raise _config_error(first, file, text) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain values keyed as in the file, as the engine writes them: `output_dir`, `dataset.path`
        and `[baseline]` absent when unset (TOML has no null), `task.seeds` absent when empty."""
        return self.model_dump(by_alias=True, exclude_none=True)

    def to_toml(self) -> str:
        """Every field, defaults included, like `tiny-agent-trainer show`."""
        sections = [
            "\n".join([f"[{name}]"] + [f"{key} = {_toml_value(value)}" for key, value in table.items()])
            for name, table in self.to_dict().items()
        ]
        return "\n\n".join(sections) + "\n"

    def with_overrides(self, overrides: Iterable[str]) -> Config:
        """Applies `section.key=value` overrides (values in TOML syntax; a bare word is a string),
        then checks the result like a file."""
        overrides = list(overrides)
        if not overrides:
            return self.model_copy(deep=True)
        root = self.to_dict()
        for item in overrides:
            path, equals, raw = item.partition("=")
            if not equals:
                raise ConfigError(
                    f"--set {item}: expected SECTION.KEY=VALUE. Fix: write e.g. --set training.learning_rate=3e-4"
                )
            _set_path(root, path.strip(), _override_value(raw), item)
        config = Config.from_dict(root, "--set")
        config._source = self._source
        return config

    def issues(self) -> list[ConfigIssue]:
        """Every range issue, in the engine's order (empty for a config that loaded)."""
        sections = (self.task, self.model, self.training, self.tokenizer)
        issues = [issue for section in sections for issue in section.issues()]
        check = _Checks()
        generated = self.task.kind != "wgsl_generation"
        path = self.dataset.path
        check(
            generated or path is not None,
            "dataset.path",
            "nothing",
            'a [[examples]] TOML file such as "wgsl_training_data.toml"',
        )
        check(
            not generated or path is None,
            "dataset.path",
            _rust_debug(path or ""),
            "no path: this task generates its data (set dataset.train_size and dataset.eval_size)",
        )
        baseline = [] if self.baseline is None else self.baseline.issues("baseline")
        return issues + check.issues + self.dataset.issues() + baseline

    @property
    def source(self) -> Optional[Path]:
        """The file the config was read from; None for one built from text or a dict."""
        return self._source

    def dataset_path(self) -> Path:
        """The dataset file, resolved against the config file's folder (`Path()`, the empty path,
        for a generated task)."""
        if self.dataset.path is None:
            return Path()
        path = Path(self.dataset.path)
        if self._source is not None and not path.is_absolute():
            return self._source.parent / path
        return path

    def output_dir(self) -> Path:
        """The run folder: `training.output_dir`, else `runs/<task.name>`."""
        if self.training.output_dir is not None:
            return Path(self.training.output_dir)
        return Path("runs") / self.task.name


class _Overflow:
    """A float literal too large for f64. The engine rejects it where Python's parser gives
    infinity: it becomes a value that no field accepts, so that the error names the field."""


def _parse_float(literal: str) -> Any:
    value = float(literal)
    return _Overflow() if math.isinf(value) and "inf" not in literal else value


def _override_value(raw: str) -> Any:
    try:
        return tomli.loads(f"v = {raw}", parse_float=_parse_float)["v"]
    except tomli.TOMLDecodeError:
        return raw


def _set_path(root: dict[str, Any], path: str, value: Any, item: str) -> None:
    *parts, key = path.split(".")
    if not key or not parts:
        raise ConfigError(f"--set {item}: `{path}` is not SECTION.KEY. Fix: write e.g. --set training.epochs=10")
    table = root
    for part in parts:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise ConfigError(
                f"--set {item}: `{part}` is a value, not a section. "
                "Fix: write SECTION.KEY=VALUE, e.g. --set training.epochs=10"
            )
    table[key] = value


# --- errors ----------------------------------------------------------------------------------


def _config_error(error: ErrorDetails, file: str, text: Optional[str]) -> ConfigError:
    """The engine's message for one pydantic error, located in `text` when there is one."""
    loc = tuple(error["loc"])  # keys, and list indices as ints
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).removeprefix(".")
    kind = error["type"]
    where: tuple[str | int, ...]
    if kind == "config_issue":
        issue: ConfigIssue = error["ctx"]["issue"]
        field, message, where, part = issue.field, issue.message(), tuple(issue.field.split(".")), "key"
    elif kind == "extra_forbidden":
        options = _fields_of(loc[:-1])
        best = _closest(str(loc[-1]), options)
        hint = f" Did you mean `{best}`?" if best else ""
        message = (
            f"unknown field `{field}`; expected one of {', '.join(f'`{o}`' for o in options)}.{hint} "
            "Fix: rename or remove it (unknown keys are rejected so typos cannot pass silently)."
        )
        where, part = loc, "key"
    elif kind == "missing":
        fix = f"add a `[{loc[0]}]` section" if len(loc) == 1 else f"add `{loc[-1]} = ...`"
        message = f"missing field `{field}`. Fix: {fix} ({EXAMPLE_HINT})."
        where, part = loc[:-1], "table"
    else:
        mismatch = _mismatch(kind, error["input"], loc)
        message = f"field `{field}`: {mismatch}. Fix: give `{field}` a value of the expected type."
        where, part = loc, "value"
    position = _locate(text, where, part) if text is not None else None
    place = f"{file}:{position[0]}:{position[1]}" if position else file
    return ConfigError(f"{place}: {message}", field)


def _mismatch(kind: str, found: Any, loc: tuple[str | int, ...]) -> str:
    """What was wrong with a value, in serde's words (`invalid type: ..., expected ...`)."""
    if isinstance(found, _Overflow):
        return "floating-point number overflowed"
    field = _field_at(loc)
    if field is None:
        expected = "a value"
    elif _is_section(_required(field.annotation)):
        expected = f"a table (a `[{'.'.join(map(str, loc))}]` section)"
    elif get_origin(field.annotation) is Literal:
        expected = _one_of(get_args(field.annotation))
        if isinstance(found, str):
            return f"unknown variant `{found}`, expected {expected}"
    else:
        expected = next((m.text for m in field.metadata if isinstance(m, _Expect)), "a value")
    problem = "invalid value" if kind in ("greater_than_equal", "less_than_equal") else "invalid type"
    return f"{problem}: {_describe(found)}, expected {expected}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        text = _rust_display(value)
        return f"floating point `{text if '.' in text or not math.isfinite(value) else text + '.0'}`"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, dict):
        return "map"
    return "a date-time"


def _one_of(choices: tuple[str, ...]) -> str:
    quoted = [f"`{c}`" for c in choices]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} or {quoted[1]}"
    return f"one of {', '.join(quoted)}"


def _required(annotation: Any) -> Any:
    """`X` for `Optional[X]`; other annotations as they are."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 and type(None) in get_args(annotation) else annotation


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field_at(loc: tuple[str | int, ...]) -> Optional[FieldInfo]:
    """The field that the file's keys `loc` name (e.g. `("tokenizer", "type")`, or
    `("task", "seeds", 0)` for a list's element), if any."""
    owner: Any = Config
    field = None
    for key in loc:
        owner = _required(owner)
        if isinstance(key, int):
            if get_origin(owner) is not list:
                return None
            field = FieldInfo.from_annotation(get_args(owner)[0])
        else:
            if not _is_section(owner):
                return None
            field = next((f for n, f in owner.model_fields.items() if (f.alias or n) == key), None)
            if field is None:
                return None
        owner = field.annotation
    return field


def _fields_of(loc: tuple[str | int, ...]) -> list[str]:
    """The keys of the table at `loc`, in declaration order (the order the engine lists them)."""
    section = _field_at(loc) if loc else None
    model = cast(type[BaseModel], _required(section.annotation) if section else Config)
    return [f.alias or n for n, f in model.model_fields.items()]


def _closest(name: str, options: list[str]) -> Optional[str]:
    """The option within edit distance 2 of `name`, if any (nearest, then alphabetical)."""
    scored = [(d, o) for o in options if (d := _edit_distance(name, o)) <= 2]
    return min(scored)[1] if scored else None


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a):
        prev, row[0] = row[0], i + 1
        for j, cb in enumerate(b):
            cur = row[j + 1]
            row[j + 1] = min(prev + (ca != cb), row[j] + 1, cur + 1)
            prev = cur
    return row[len(b)]


_HEADER = re.compile(r"(\s*)\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"\s*(?P<key>[A-Za-z0-9_.\"'-]+)\s*=\s*(?P<value>\S)?")


def _locate(text: str, path: tuple[str | int, ...], part: str) -> Optional[tuple[int, int]]:
    """1-based line and column (in characters) where the file sets `path`: at its key, its value,
    or the `[` of its table header. Found by scanning `[section]` headers and `key =` lines, which
    is enough for configs; None when the file does not set it that way. Trailing list indices
    (`("task", "seeds", 1)`) locate that element of the array value."""
    indices: list[int] = []
    while path and isinstance(path[-1], int):
        indices.insert(0, path[-1])
        path = path[:-1]
    if indices:
        start = _locate(text, path, "value")
        if start is None:
            return None
        lines = text.split("\n")
        offset: Optional[int] = sum(len(line) + 1 for line in lines[: start[0] - 1]) + start[1] - 1
        for index in indices:
            offset = _element_offset(text, offset, index) if offset is not None else None
        if offset is None:
            return None
        before = text[:offset]
        return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1
    if not path:
        return 1, 1  # the top-level table starts the file
    want = ".".join(map(str, path))
    section = ""
    for number, line in enumerate(text.split("\n"), start=1):
        header = _HEADER.match(line)
        if header:
            section = header.group(2)
            if section == want:
                # A table's `[`, or its key: the last part of a dotted header, as the engine points.
                column = len(header.group(1)) if part == "table" else header.start(2) + section.rfind(".") + 1
                return number, column + 1
            continue
        key = _KEY.match(line)
        if key and ".".join(p for p in (section, key.group("key").replace('"', "").replace("'", "")) if p) == want:
            column = key.start("value") if part == "value" and key.group("value") else key.start("key")
            return number, column + 1
    return None


def _element_offset(text: str, start: int, index: int) -> Optional[int]:
    """Where element `index` of the TOML array whose `[` is at `start` begins, if it has one."""
    if text[start : start + 1] != "[":
        return None
    i, depth, count, expecting = start + 1, 0, 0, True
    while i < len(text):
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if c in " \t\r\n":
            i += 1
            continue
        if depth == 0:
            if c == "]":
                return None
            if c == ",":
                expecting, i = True, i + 1
                continue
            if expecting:
                if count == index:
                    return i
                count, expecting = count + 1, False
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote)
            while i < len(text) and not text.startswith(quote, i):
                i += 2 if c == '"' and text[i] == "\\" else 1
            i += len(quote) - 1
        i += 1
    return None


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        text = _rust_display(value)
        return text if "." in text or math.isinf(value) else text + ".0"
    return _toml_string(str(value))


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_string(text: str) -> str:
    def escape(c: str) -> str:
        if c in _ESCAPES:
            return _ESCAPES[c]
        return f"\\u{ord(c):04X}" if ord(c) < 0x20 or ord(c) == 0x7F else c

    return '"' + "".join(escape(c) for c in text) + '"'


# --- JSON Schema ------------------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """The config's JSON Schema (draft 2020-12), for editors that validate TOML against one."""
    schema = Config.model_json_schema(by_alias=True)
    schema["title"] = "tiny-agent-trainer config"
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["schema"]:
        print("usage: python -m tiny_agent_trainer.config schema", file=sys.stderr)
        return 2
    print(json.dumps(json_schema(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
