"""Reading a recipe: YAML files, ``base:`` inheritance, ``--key=value`` overrides, and
checked conversion of the result into frozen dataclasses.

Nothing here knows which recipe it reads: :func:`from_dict` is generic over frozen
dataclasses, so the training recipe (:mod:`livegen.config`), the live session's settings
(:mod:`livegen.live_config`), presets and checkpoints share one checking. An unknown key,
a value of the wrong type or broken YAML is a :class:`ConfigError` naming the file or the
override, so a typo never trains for an hour with a default. A dataclass's
``__post_init__`` checks its values with :func:`require`; the resulting :class:`Invalid`
becomes a ConfigError with the source and key path.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from livegen.errors import LivegenError


class ConfigError(LivegenError, ValueError):
    """A recipe or override that cannot be used: the message names the key and the source."""


# ---- generic dict <-> dataclass ------------------------------------------------------------


class Invalid(Exception):
    """Raised by ``__post_init__`` checks; from_dict turns it into a ConfigError with context."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(key, problem)
        self.key, self.problem = key, problem


def require(ok: bool, key: str, problem: str) -> None:
    """A ``__post_init__`` check: unless ``ok``, ``key`` has ``problem`` ("must be >= 1")."""
    if not ok:
        raise Invalid(key, problem)


T = TypeVar("T")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config as plain nested dicts (for checkpoints and metrics files)."""
    return dataclasses.asdict(cfg)


def from_dict(cls: type[T], data: Mapping[str, Any] | None, where: str, prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, checking every key and type.

    ``where`` names the source for messages (a file name, an override); ``prefix`` is the
    key path of ``data`` inside it (``"train."``). Missing keys keep their defaults.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{where}: {prefix.rstrip('.') or 'the top level'} must be a mapping of keys, "
            f"got {_show(data)}"
        )
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"{where}: {_unknown(str(key), names, prefix)}")
        kwargs[key] = _check(value, hints[key], f"{prefix}{key}", where)
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.init
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and f.name not in kwargs
    ]
    if required:
        raise ConfigError(f"{where}: missing key '{prefix}{required[0]}' (it has no default)")
    try:
        return cls(**kwargs)
    except Invalid as e:
        value = kwargs.get(e.key, getattr(cls, e.key, None))
        raise ConfigError(f"{where}: {prefix}{e.key} {e.problem} (got {_show(value)})") from None


def _unknown(key: str, valid: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"; did you mean '{prefix}{close[0]}'?" if close else ""
    where = f"in '{prefix.rstrip('.')}'" if prefix else "at the top level"
    return f"unknown key '{prefix}{key}' (valid keys {where}: {', '.join(valid)}){hint}"


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if dataclasses.is_dataclass(tp):
        return "mapping"
    if typing.get_origin(tp) is dict or tp is dict:
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check(value: Any, tp: Any, key: str, where: str) -> Any:
    """``value`` if it has type ``tp`` (int widened to float), else a ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        # An optional section: its own errors (an unknown key) must reach the user as they are.
        sections = [a for a in args if dataclasses.is_dataclass(a)]
        if sections and isinstance(value, Mapping):
            return from_dict(sections[0], value, where, f"{key}.")
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check(value, arg, key, where)
            except ConfigError:
                pass
    elif dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where, f"{key}.")
    elif tp is dict or origin is dict:
        if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
            return dict(value)
    elif origin is tuple:  # tuple[X, ...]: a YAML list (or one value) of X
        (item, _) = typing.get_args(tp)
        items = value if isinstance(value, (list, tuple)) else [value]
        return tuple(_check(v, item, f"{key}[{i}]", where) for i, v in enumerate(items))
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # a type this module does not know how to check: a bug in the dataclass
        raise TypeError(f"config field {key} has unsupported type {tp!r}")
    raise ConfigError(f"{where}: {key} must be {_type_name(tp)}, got {_show(value)}")


# ---- YAML and overrides --------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float.

    PyYAML follows YAML 1.1, where a float needs a dot, so ``lr: 1e-3`` would be the
    string "1e-3". Copying the resolver table keeps SafeLoader itself untouched.
    """


_Loader.yaml_implicit_resolvers = {
    k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# Appended after the int resolver, so "12" stays an int; only exponent forms are new.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str, where: str) -> Any:
    """YAML text to Python values; broken YAML is a ConfigError naming ``where`` and the line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where}{line}: broken YAML: {problem}") from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping (an empty file is an empty mapping)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from None
    data = parse_yaml(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of sections, got {_show(data)}")
    return data


def _flat_names(cls: type) -> dict[str, list[str]]:
    """Field name -> the sections that have it (for ``--lr`` without ``train.``)."""
    owners: dict[str, list[str]] = {}
    for section in dataclasses.fields(cls):
        for f in dataclasses.fields(typing.get_type_hints(cls)[section.name]):
            owners.setdefault(f.name, []).append(section.name)
    return owners


def apply_override(cls: type, tree: dict[str, Any], arg: str) -> None:
    """Apply one ``--key=value`` to ``tree`` (the nested dict form of a ``cls`` config).

    The value is type-checked here, so the error names this override, not the result.
    """
    where = f"override {arg}"
    if not arg.startswith("--") or "=" not in arg:
        raise ConfigError(f"{where}: expected --key=value, e.g. --train.lr=1e-3 or --lr=1e-3")
    key, raw = arg[2:].split("=", 1)
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"{where}: empty key part in '{key}'")
    sections = [f.name for f in dataclasses.fields(cls)]
    if parts[0] not in sections:
        owners = _flat_names(cls).get(parts[0], [])
        if len(owners) > 1:
            options = " or ".join(f"--{s}.{key}" for s in owners)
            raise ConfigError(f"{where}: '{parts[0]}' is in several sections; write {options}")
        if not owners:
            valid = sorted(set(sections) | set(_flat_names(cls)))
            raise ConfigError(f"{where}: {_unknown(parts[0], valid, '')}")
        parts = [owners[0], *parts]

    # Walk dataclass fields down to the target; a dict field (codec.params) takes any keys.
    node_cls: Any = cls
    node = tree
    for depth, part in enumerate(parts):
        path = ".".join(parts[: depth + 1])
        prefix = ".".join(parts[:depth])
        hints = typing.get_type_hints(node_cls)
        names = [f.name for f in dataclasses.fields(node_cls)]
        if part not in names:
            raise ConfigError(f"{where}: {_unknown(part, names, prefix + '.' if prefix else '')}")
        tp = hints[part]
        last = depth == len(parts) - 1
        if last:
            value = parse_yaml(raw, where)
            # On the command line a str field takes the text as typed (--name=2024).
            if value is not None and not isinstance(value, str) and _accepts_str(tp):
                value = raw
            node[part] = _check(value, tp, path, where)
            return
        if dataclasses.is_dataclass(_optional_section(tp)):
            if node.get(part) is None:  # absent, or `parts: null` in the file
                node[part] = {}
            node = node[part]
            node_cls = _optional_section(tp)
            continue
        if _is_mapping(tp):  # codec.params, data.styles: a key below is a new entry
            if node.get(part) is None:  # absent, or `styles: null` in the file
                node[part] = {}
            target = node[part]
            for sub in parts[depth + 1 : -1]:
                target = target.setdefault(sub, {})
                if not isinstance(target, dict):
                    raise ConfigError(f"{where}: {path}.{sub} is not a mapping")
            target[parts[-1]] = parse_yaml(raw, where)  # the codec checks its own params
            return
        raise ConfigError(f"{where}: {path} is a {_type_name(tp)}, not a mapping of keys")


def _is_mapping(tp: Any) -> bool:
    """Whether ``tp`` is a dict, or a dict or None (``data.styles``)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(_is_mapping(a) for a in typing.get_args(tp) if a is not type(None))
    return tp is dict or typing.get_origin(tp) is dict


def _optional_section(tp: Any) -> Any:
    """``X`` for ``X | None`` when X is a dataclass (``--data.parts.split=top``), else ``tp``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        sections = [a for a in typing.get_args(tp) if dataclasses.is_dataclass(a)]
        if sections:
            return sections[0]
    return tp


def _accepts_str(tp: Any) -> bool:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return str in typing.get_args(tp)
    return tp is str


def read_recipe(path: str | Path, _inside: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A recipe file's sections, with ``base: OTHER.yaml`` (a path from this file's folder)
    read first and this file's keys laid over it, mapping by mapping.

    A shipped model whose recipe is a benchmark's then names that recipe instead of copying
    it, so the two cannot drift apart.
    """
    path = Path(path)
    tree = read_yaml(path)
    base = tree.pop("base", None)
    if base is None:
        return tree
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: base must name a recipe file, got {_show(base)}")
    inside = (*_inside, path.resolve())
    under = path.parent / base
    if under.resolve() in inside:
        raise ConfigError(f"{path}: base {base} leads back to this recipe")
    if not under.is_file():
        raise ConfigError(f"{path}: base recipe {under} not found")
    return _laid_over(read_recipe(under, inside), tree)


def _laid_over(under: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(under)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _laid_over(dict(out[key]), value)
        else:
            out[key] = value
    return out
