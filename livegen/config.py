"""Training recipes: frozen dataclasses, a YAML preset, then ``--key=value`` overrides.

A recipe file (``configs/<recipe>.yaml``) has up to four sections, ``data``, ``codec``,
``model`` and ``train``, each mapping onto one dataclass below; anything it leaves out keeps
the default; ``base: OTHER.yaml`` starts from another recipe (:func:`read_recipe`).
Command-line overrides come last: ``--train.lr=1e-3``, or ``--lr=1e-3`` when the field
name belongs to one section only. Values are read as YAML (``--limit=null``,
``--amp=false``). An unknown key, a value of the wrong type or broken YAML is a
:class:`ConfigError` naming the file or the override, so a typo never trains for an hour
with a default.

:func:`from_dict` is generic over frozen dataclasses so other configs (the live session's)
reuse the same checking.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from livegen.errors import LivegenError


class ConfigError(LivegenError, ValueError):
    """A recipe or override that cannot be used: the message names the key and the source."""


# ---- the recipe ----------------------------------------------------------------------------


PART_SPLITS = ("voices", "tracks", "channels", "top")


@dataclass(frozen=True)
class PartsConfig:
    """Which part of each piece is yours (heard) and which is livegen's (``data.parts``)."""

    split: str = "voices"  # voices (score parts), tracks, channels (MIDI files) or top
    yours: tuple[str | int, ...] = ()  # names (Soprano, S, Violin I) or numbers (1-based)
    mine: tuple[str | int, ...] = ()  # the same; empty: every part that is not yours
    exclude_heldout: str | None = None  # bl2012 voices JSON: leave out its valid/test melodies
    heldout_near: float | None = None  # also leave out melodies this similar (0..1); None: exact
    # Train a single-stream codec on mine's notes alone: the unconditional baseline that
    # bench/parts_fit.py holds a parts model against (same pieces, same notes, no yours).
    mine_only: bool = False

    def __post_init__(self) -> None:
        _require(self.split in PART_SPLITS, "split", f"must be one of {', '.join(PART_SPLITS)}")
        _require(bool(self.yours), "yours", "must name at least one part")
        near = self.heldout_near
        _require(near is None or 0.0 < near <= 1.0, "heldout_near", "must be in (0, 1] or null")
        # Frozen and hashable: a list from YAML becomes a tuple.
        object.__setattr__(self, "yours", tuple(self.yours))
        object.__setattr__(self, "mine", tuple(self.mine))


@dataclass(frozen=True)
class DataConfig:
    source: str = "essen-erk"  # corpus name (essen-erk, bach, ...), a MIDI folder or a bl2012 JSON
    transpose: int = 5  # train-only augmentation: random shift in [-transpose, +transpose]
    limit: int | None = None  # only the first N pieces (quick runs); None: all
    seed: int = 0  # split seed: which pieces go to train / valid / test
    cache_dir: str | None = None  # where parsed corpora are cached; None: the user cache dir
    parts: PartsConfig | None = None  # split each piece into yours and mine; None: one stream
    # Silent ticks before every piece (all splits): the first tick is then predicted after
    # a STEP, as it is live after silence, so an evaluation can count every tick of a piece.
    lead_in: int = 0
    beats_per_bar: int = 4  # the meter (quarters per bar) of pieces that do not give their own
    # A bl2012 JSON source's step in quarter notes (0.5: eighths); None: guessed from the
    # file's name (16th, piano_midi), which a user's copy under another name would defeat.
    step_quarters: float | None = None

    def __post_init__(self) -> None:
        _require(self.transpose >= 0, "transpose", "must be >= 0")
        _require(self.lead_in >= 0, "lead_in", "must be >= 0")
        _require(1 <= self.beats_per_bar <= 16, "beats_per_bar", "must be in 1..16")
        step = self.step_quarters
        _require(step is None or step > 0, "step_quarters", "must be > 0 or null")
        # Silence before a parted piece would move its notes off their bar lines.
        _require(not (self.lead_in and self.parts), "lead_in", "must be 0 with parts")
        _require(self.limit is None or self.limit >= 1, "limit", "must be >= 1 or null")


@dataclass(frozen=True)
class CodecConfig:
    name: str = "melody"  # melody, poly, performance or pianoroll
    params: dict[str, Any] = field(default_factory=dict)  # constructor args: ticks_per_quarter...


@dataclass(frozen=True)
class ModelSection:
    n_layer: int = 2  # stacked LSTM layers
    n_hidden: int = 256  # LSTM units per layer
    n_embd: int = 64  # token embedding size (ignored by frame input: pianoroll)
    dropout: float = 0.1  # between layers and before the head, training only
    metric: bool = False  # tell the model each tick's beat and sub-beat (livegen/metric.py)

    def __post_init__(self) -> None:
        for key in ("n_layer", "n_hidden", "n_embd"):
            _require(getattr(self, key) >= 1, key, "must be >= 1")
        _require(0.0 <= self.dropout < 1.0, "dropout", "must be in [0, 1)")


SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class TrainSection:
    epochs: int = 20  # passes over the training pieces
    batch_size: int = 32  # sequences per step
    seq_len: int = 64  # TBPTT chunk in tokens; the state carries across chunks
    lr: float = 2e-3  # peak learning rate (AdamW)
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    warmup_steps: int = 100  # linear warmup from 0 to lr
    schedule: str = "cosine"  # after warmup: "cosine" decay to lr/20, or "constant"
    seed: int = 1234  # init, batching and augmentation seed
    threads: int | None = None  # torch CPU threads; None: torch's default
    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    amp: bool = True  # mixed precision (bf16/fp16 autocast); only on CUDA
    grad_checkpoint: int = 0  # recompute activations in this many segments per chunk; 0: off
    patience: int | None = None  # stop after this many epochs without a better val loss
    name: str = "run"  # run name; load_config sets it to the recipe file's stem
    out: str | None = None  # checkpoints, metrics and plots; None: runs/<name>

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "seq_len"):
            _require(getattr(self, key) >= 1, key, "must be >= 1")
        _require(self.lr > 0, "lr", "must be > 0")
        for key in ("weight_decay", "grad_clip", "warmup_steps", "grad_checkpoint"):
            _require(getattr(self, key) >= 0, key, "must be >= 0")
        _require(self.schedule in SCHEDULES, "schedule", f"must be one of {', '.join(SCHEDULES)}")
        _require(self.threads is None or self.threads >= 1, "threads", "must be >= 1 or null")
        _require(self.patience is None or self.patience >= 1, "patience", "must be >= 1 or null")
        _require(bool(self.name), "name", "must not be empty")
        if self.out is None:
            # Frozen: resolving the default here keeps every reader agreeing on one folder.
            object.__setattr__(self, "out", str(Path("runs") / self.name))


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)  # which music, how it is split
    codec: CodecConfig = field(default_factory=CodecConfig)  # how music becomes tokens
    model: ModelSection = field(default_factory=ModelSection)  # LSTM sizes
    train: TrainSection = field(default_factory=TrainSection)  # the optimisation loop


# ---- generic dict <-> dataclass ------------------------------------------------------------


class _Invalid(Exception):
    """Raised by ``__post_init__`` checks; from_dict turns it into a ConfigError with context."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(key, problem)
        self.key, self.problem = key, problem


def _require(ok: bool, key: str, problem: str) -> None:
    if not ok:
        raise _Invalid(key, problem)


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
    except _Invalid as e:
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
        if tp is dict or typing.get_origin(tp) is dict:
            target = node.setdefault(part, {})
            for sub in parts[depth + 1 : -1]:
                target = target.setdefault(sub, {})
                if not isinstance(target, dict):
                    raise ConfigError(f"{where}: {path}.{sub} is not a mapping")
            target[parts[-1]] = parse_yaml(raw, where)  # the codec checks its own params
            return
        raise ConfigError(f"{where}: {path} is a {_type_name(tp)}, not a mapping of keys")


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


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """The recipe in ``path`` (None: all defaults) with ``--key=value`` overrides applied.

    ``train.name`` defaults to the recipe file's stem, so ``configs/folk_melody.yaml`` trains
    into ``runs/folk_melody`` (a recipe with a ``base`` is named for itself, not its base).
    The codec name and params are checked by building the codec.
    """
    where = str(path) if path is not None else "defaults"
    tree = read_recipe(path) if path is not None else {}
    from_dict(TrainConfig, tree, where)  # errors in the file name the file, before overrides
    # Overrides edit the file's own keys, so a default left out (train.out) stays derived.
    tree = {key: dict(section or {}) for key, section in tree.items()}
    for arg in overrides:
        apply_override(TrainConfig, tree, arg)
    if path is not None:
        tree.setdefault("train", {}).setdefault("name", Path(path).stem)
    where = f"{where} + overrides" if overrides else where
    cfg = from_dict(TrainConfig, tree, where)
    _check_codec(cfg.codec, where)
    return cfg


def _check_codec(codec: CodecConfig, where: str) -> None:
    """Refuse an unknown codec or parameter now, not after the corpus has been parsed."""
    from livegen.codecs import CodecError, make_codec  # late: config must not need torch

    try:
        make_codec(codec.name, **codec.params)
    except (CodecError, TypeError) as e:
        raise ConfigError(f"{where}: {e}") from None
