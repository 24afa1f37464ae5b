"""The training config as pydantic models, generated from the engine's schema.

The engine (`crates/tat-core/src/config/`) is the only source of truth. Its JSON Schema
(`tiny-agent-trainer schema`) generates the models in `_config_models.py`
(`python -m tiny_agent_trainer.config generate` rewrites it; a test fails when it is stale), and
every config this module loads, builds or overrides is parsed and checked by the engine: both
sides accept and reject the same files with the same words by construction
(`FILE:LINE:COL: field `a.b`: found X, expected Y. Fix: ...`).

`tat schema` (or `python -m tiny_agent_trainer.config schema`) prints the JSON Schema for editors.
"""

from __future__ import annotations

import json
import keyword
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, TypeVar

from pydantic import PrivateAttr

from . import _core
from ._config_models import (
    BinderConfig,
    BionetConfig,
    ConfigModel,
    DatasetConfig,
    DiffusionLmConfig,
    DynamicsConfig,
    EdgeConfig,
    FeedbackConfig,
    FeedbackModelConfig,
    ModelConfig,
    RecurrentConfig,
    TaskConfig,
    TokenizerConfig,
    TrainingConfig,
    TransformerConfig,
)
from ._core import ConfigError as _EngineConfigError

__all__ = [
    "BinderConfig",
    "BionetConfig",
    "Config",
    "ConfigError",
    "DatasetConfig",
    "DiffusionLmConfig",
    "DynamicsConfig",
    "EdgeConfig",
    "FeedbackConfig",
    "FeedbackModelConfig",
    "ModelConfig",
    "RecurrentConfig",
    "TaskConfig",
    "TokenizerConfig",
    "TrainingConfig",
    "TransformerConfig",
    "json_schema",
    "main",
    "render_models",
]

MODELS_FILE = Path(__file__).with_name("_config_models.py")

T = TypeVar("T")


class ConfigError(_EngineConfigError, ValueError):
    """A config that does not parse or does not match the schema; `field` is the field path it
    names (None for TOML syntax and file errors)."""

    def __init__(self, message: str, field: Optional[str] = None) -> None:
        super().__init__(message)
        self.field = field


def _engine(call: Callable[[], T]) -> T:
    """Runs an engine config call, raising its config errors as this module's `ConfigError`."""
    try:
        return call()
    except _EngineConfigError as e:
        message = str(e)
        found = re.search(r"field `([^`]+)`", message)
        raise ConfigError(message, None if found is None else found.group(1)) from None


_FLOAT_TAG = "$float"


def _from_json(text: str) -> Any:
    """Engine JSON: `{"$float": "inf"}` stands for a float JSON cannot write."""
    return json.loads(text, object_hook=lambda d: float(d[_FLOAT_TAG]) if set(d) == {_FLOAT_TAG} else d)


def _to_json(value: Any) -> str:
    """JSON for the engine, non-finite floats tagged as it reads them."""

    def tag(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return {_FLOAT_TAG: "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}
        if isinstance(v, dict):
            return {k: tag(x) for k, x in v.items()}
        if isinstance(v, list):
            return [tag(x) for x in v]
        return v

    return json.dumps(tag(value))


def _without_nulls(value: Any) -> Any:
    """TOML has no null: an unset optional key is absent, as the engine writes it."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


class Config(ConfigModel):
    """One training config: `[task] [model] [training] [tokenizer] [dataset]`, and `[baseline]`."""

    # Where the config was read from: relative dataset paths resolve against its folder.
    _source: Optional[Path] = PrivateAttr(default=None)

    @classmethod
    def _from_engine(cls, text: str) -> Config:
        return cls.model_validate(_from_json(text))

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Config:
        """Reads, parses and checks a config file."""
        config = cls._from_engine(_engine(lambda: _core.config_load(path)))
        config._source = Path(path)
        return config

    @classmethod
    def from_toml_str(cls, text: str, file: str = "<string>") -> Config:
        """Parses and checks TOML text; `file` names it in errors."""
        return cls._from_engine(_engine(lambda: _core.config_parse(text, file)))

    @classmethod
    def from_dict(cls, data: dict[str, Any], file: str = "<dict>") -> Config:
        """Checks a config given as plain values (sections as dicts)."""
        return cls._from_engine(_engine(lambda: _core.config_check(_to_json(data), file)))

    def _json(self) -> str:
        return _to_json(self.model_dump(by_alias=True))

    def to_dict(self) -> dict[str, Any]:
        """Plain values keyed as in the file, as the engine writes them: unset optional keys and
        empty `task.seeds` absent, every default filled in."""
        return _without_nulls(_from_json(_engine(lambda: _core.config_check(self._json(), "<config>"))))  # type: ignore[no-any-return]

    def to_toml(self) -> str:
        """Every field, defaults included, like `tiny-agent-trainer show`."""
        return _engine(lambda: _core.config_to_toml(self._json()))

    def with_overrides(self, overrides: Iterable[str]) -> Config:
        """Applies `section.key=value` overrides (values in TOML syntax; a bare word is a string),
        then checks the result like a file."""
        items = list(overrides)
        config = self._from_engine(_engine(lambda: _core.config_with_overrides(self._json(), items)))
        config._source = self._source
        return config

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


# --- JSON Schema and the generated models ----------------------------------------------------


def json_schema() -> dict[str, Any]:
    """The config's JSON Schema (draft 2020-12), as the engine generates it from its types."""
    return json.loads(_core.config_schema())  # type: ignore[no-any-return]


def _class_name(ref: str) -> str:
    name = ref.rsplit("/", 1)[-1]
    return "ConfigModel" if name == "Config" else name


def _choices(definition: dict[str, Any]) -> Optional[list[str]]:
    """The names of a string enum (`enum`, or `oneOf` of documented `const`s), else None."""
    if "enum" in definition:
        return list(definition["enum"])
    variants = definition.get("oneOf")
    if variants and all("const" in v or "enum" in v for v in variants):
        return [str(c) for v in variants for c in ([v["const"]] if "const" in v else v["enum"])]
    return None


def _annotation(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str, bool]:
    """The Python type of a schema property, and whether it may be None."""
    if "$ref" in prop:
        return _class_name(prop["$ref"]), False
    if "anyOf" in prop:
        kinds = [p for p in prop["anyOf"] if p.get("type") != "null"]
        inner, _ = _annotation(kinds[0], defs)
        return inner, len(kinds) < len(prop["anyOf"])
    types = prop.get("type")
    nullable = isinstance(types, list) and "null" in types
    base = next(t for t in types if t != "null") if isinstance(types, list) else types
    if base == "array":
        item, _ = _annotation(prop["items"], defs)
        return f"list[{item}]", nullable
    if base == "object" and isinstance(prop.get("additionalProperties"), dict):
        value, _ = _annotation(prop["additionalProperties"], defs)
        return f"dict[str, {value}]", nullable
    return {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}[str(base)], nullable


def _field_name(name: str) -> str:
    """A property's attribute name: `type` (a builtin's name) and keywords read as `kind`."""
    return "kind" if name == "type" or keyword.iskeyword(name) else name


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _tagged_variants(definition: dict[str, Any]) -> Optional[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """A tagged union (`oneOf` of objects told apart by one `const` property): the tag's name and
    `(tag value, variant)` pairs, else None."""
    variants = definition.get("oneOf")
    if not variants or not all(v.get("type") == "object" for v in variants):
        return None
    tags = [[k for k, p in v["properties"].items() if "const" in p] for v in variants]
    if not all(len(t) == 1 and t == tags[0] for t in tags):
        return None
    tag = tags[0][0]
    return tag, [(str(v["properties"][tag]["const"]), v) for v in variants]


def _render_class(name: str, definition: dict[str, Any], defs: dict[str, Any], doc: Optional[str]) -> list[str]:
    lines = ["", "", f"class {name}(BaseModel):"]
    if doc:
        lines.append(f"    {json.dumps(' '.join(doc.split()))}")
    lines += ['    model_config = ConfigDict(extra="forbid", populate_by_name=True)', ""]
    required = set(definition.get("required", []))
    for prop_name, prop in definition["properties"].items():
        attr = _field_name(prop_name)
        if "const" in prop:  # a union's tag: the variant's own name, which is also its default
            annotation, nullable, args = f"Literal[{prop['const']!r}]", False, [f"default={prop['const']!r}"]
        else:
            annotation, nullable = _annotation(prop, defs)
            args = []
            if prop_name in required:
                pass
            elif "default" in prop and isinstance(prop["default"], dict):
                ref = prop.get("$ref", "").rsplit("/", 1)[-1]
                if not ref:  # a map (such as framework name -> number), not a model
                    args.append(f"default_factory=lambda: TypeAdapter({annotation}).validate_python({prop['default']!r})")
                elif _tagged_variants(defs[ref]) is not None:
                    args.append(f"default_factory=lambda: TypeAdapter({annotation}).validate_python({prop['default']!r})")
                else:
                    args.append(f"default_factory=lambda: {annotation}.model_validate({prop['default']!r})")
            elif "default" in prop:
                args.append(f"default={prop['default']!r}")
            else:
                args.append("default=None")
        if attr != prop_name:
            args.append(f"alias={prop_name!r}")
        if prop.get("description"):
            args.append(f"description={' '.join(prop['description'].split())!r}")
        if args[:1] == ["default=None"] and annotation.startswith("list[") and not nullable:
            args[0] = "default_factory=list"
        nullable = nullable or args[:1] == ["default=None"]
        annotated = f"Optional[{annotation}]" if nullable else annotation
        lines.append(f"    {attr}: {annotated} = Field({', '.join(args)})")
    return lines


def _variant_class(value: str, defs: dict[str, Any]) -> str:
    """The class of a tagged union's variant: `{Value}Config`, or `{Value}ModelConfig` where a
    section of the schema already has the first name (the bionet's `FeedbackConfig`)."""
    name = f"{_camel(value)}Config"
    return f"{_camel(value)}ModelConfig" if name in defs else name


def _render_union(name: str, tag: str, variants: list[tuple[str, dict[str, Any]]], defs: dict[str, Any]) -> list[str]:
    """`name` as a pydantic discriminated union; a variant whose tag has a default is the one a
    section without the tag is."""
    default = next((value for value, v in variants if "default" in v["properties"][tag]), None)
    function = f"_{re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower()}_{tag}"
    members = ", ".join(f"Annotated[{_variant_class(value, defs)}, Tag({value!r})]" for value, _ in variants)
    return [
        "",
        "",
        f"def {function}(value: Any) -> Any:",
        f'    """The variant of `{name}` that `value` is: its `{tag}`, absent {default!r}."""',
        "    if isinstance(value, dict):",
        f"        return value.get({tag!r}, {default!r})",
        f"    return getattr(value, {tag!r}, None)",
        "",
        "",
        f"{name} = Annotated[Union[{members}], Discriminator({function})]",
    ]


def render_models(schema: dict[str, Any]) -> str:
    """The source of `_config_models.py` for `schema` (the engine's JSON Schema)."""
    defs: dict[str, Any] = schema["$defs"]
    lines = [
        '"""The config models, generated from the engine\'s JSON Schema by',
        "`python -m tiny_agent_trainer.config generate`. Do not edit: change the engine's config types",
        '(`crates/tat-core/src/config/`) and generate again."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Annotated, Any, Literal, Optional, Union",
        "",
        "from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter",
        "",
    ]
    for name, definition in sorted(defs.items()):
        choices = _choices(definition)
        if choices is not None:
            lines += ["", f"{name} = Literal[{', '.join(repr(c) for c in choices)}]"]
    classes: dict[str, tuple[dict[str, Any], Optional[str]]] = {}
    unions = []
    for name, definition in defs.items():
        tagged = _tagged_variants(definition)
        if tagged is not None:
            tag, variants = tagged
            unions.append((name, tag, variants))
            for value, variant in variants:
                classes[_variant_class(value, defs)] = (variant, variant.get("description"))
        elif definition.get("type") == "object":
            classes[name] = (definition, definition.get("description"))
    for name, (definition, doc) in sorted(classes.items()):
        lines += _render_class(name, definition, defs, doc)
    for name, tag, variants in sorted(unions):
        lines += _render_union(name, tag, variants, defs)
    lines += _render_class("ConfigModel", schema, defs, "One training config, as the engine reads it.")
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["schema"]:
        print(json.dumps(json_schema(), indent=2))
        return 0
    if args == ["generate"]:
        MODELS_FILE.write_text(render_models(json_schema()), encoding="utf-8")
        print(f"wrote {MODELS_FILE}")
        return 0
    print("usage: python -m tiny_agent_trainer.config schema|generate", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
