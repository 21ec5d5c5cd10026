"""Checkpoints: the only place that saves and loads weights.

A checkpoint is one ``torch.save`` of a plain dict that describes itself: the model sizes,
the codec's name and parameters, the weights, and where they came from (data, recipe,
metrics). Loading rebuilds the codec and the model from the file alone, through
``torch.load(weights_only=True)``, so a file can never run code. Anything wrong with a
file is a :class:`CheckpointError`: one line naming the file, the problem and what to do.

Shipped models live in ``<repo>/checkpoints/NAME.pt``; a user's own in
``~/.local/share/livegen/models`` or the folders in ``LIVEGEN_MODELS``; :func:`resolve`
turns a model name into a path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import pickle
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import livegen
from livegen.codecs import CODECS, CodecError, make_codec
from livegen.codecs.base import Codec
from livegen.errors import LivegenError
from livegen.model import LSTMModel, ModelConfig
from livegen.recipe import ConfigError, from_dict
from livegen.roles import roles_of

FORMAT = "livegen-checkpoint"
VERSION = 1  # bump when a reader of the old layout would misread the new one
RESUME_FORMAT = "livegen-resume"
SHIPPED_DIR = Path(livegen.__file__).resolve().parent.parent / "checkpoints"
REQUIRED = ("model", "codec", "state_dict")


class CheckpointError(LivegenError, ValueError):
    """A checkpoint that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class Loaded:
    """A checkpoint ready to play: the model (eval mode, on its device) and its codec."""

    model: LSTMModel
    codec: Codec
    meta: dict[str, Any]  # everything in the file but the weights
    path: Path


# ---- saving ---------------------------------------------------------------------------------


def save(
    path: str | Path,
    model: nn.Module,
    codec: Codec,
    *,
    data: Mapping[str, Any],
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
) -> None:
    """Write ``model`` and ``codec`` with their provenance to ``path``, atomically.

    ``data``, ``config`` and ``metrics`` must be plain values (numbers, strings, lists,
    dicts; numpy scalars and paths are converted) because the loader only unpickles those.
    The keys ``summary`` reads: data ``source``, ``pieces``; metrics ``val_nll``,
    ``val_acc``, ``test_nll``, ``best_epoch``, ``train_seconds``, ``nll_unit``.
    """
    model = _unwrap(model)
    blob = {
        "format": FORMAT,
        "version": VERSION,
        "model": dataclasses.asdict(model.cfg),
        "codec": {"name": codec.name, "params": _plain(codec.params(), "codec.params")},
        # CPU copies: a file saved on a GPU box loads on a laptop without map_location tricks.
        "state_dict": {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()},
        "data": _plain(data, "data"),
        "config": _plain(config, "config"),
        "metrics": _plain(metrics, "metrics"),
        "livegen_version": livegen.__version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    _atomic_save(blob, Path(path))


def save_resume(path: str | Path, state: Mapping[str, Any]) -> None:
    """Write the trainer's resume state (weights, optimiser, RNGs, history), atomically.

    It holds only tensors and plain values, so :func:`load_resume` can use weights_only too.
    """
    _atomic_save({"format": RESUME_FORMAT, "version": VERSION, "state": dict(state)}, Path(path))


def _atomic_save(obj: Any, path: Path) -> None:
    # tmp + replace in the same folder: a crash or Ctrl-C mid-write never leaves half a
    # file under the real name (the trainer overwrites its best checkpoint every epoch).
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _unwrap(model: nn.Module) -> nn.Module:
    """The LSTMModel inside DDP / DataParallel / torch.compile wrappers (their keys differ)."""
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod"):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def _plain(value: Any, key: str) -> Any:
    """``value`` as types the weights_only unpickler accepts; TypeError names the bad key."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.generic):  # before float: np.float64 is a float subclass
        return _plain(value.item(), key)
    for base in (bool, int, float, str):  # IntEnum, str enums, ...: their plain value
        if isinstance(value, base):
            return base(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"checkpoint {key}: key {k!r} must be a str or an int")
            out[k] = _plain(v, f"{key}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{key}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"checkpoint {key}: {type(value).__name__} cannot be stored (plain values only: "
        "numbers, strings, lists, dicts)"
    )


# ---- loading --------------------------------------------------------------------------------


def load(path: str | Path, device: str | torch.device = "cpu") -> Loaded:
    """Rebuild the model and codec stored in ``path`` (a file, or a model name: see resolve)."""
    path = resolve(path)
    blob = _read(path, "a livegen checkpoint")
    meta = _check_layout(blob, path)
    codec = _make_codec(meta["codec"], path)
    model = _make_model(meta["model"], blob["state_dict"], codec, path)
    model.to(device).eval()
    return Loaded(model=model, codec=codec, meta=meta, path=path)


def load_resume(path: str | Path) -> dict[str, Any]:
    """The state written by :func:`save_resume`."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no resume state here; start the run without --resume")
    blob = _read(path, "a livegen resume file")
    if not isinstance(blob, dict) or blob.get("format") != RESUME_FORMAT:
        raise CheckpointError(f"{path}: not a livegen resume file; start without --resume")
    if not isinstance(blob.get("version"), int) or blob["version"] > VERSION:
        raise CheckpointError(
            f"{path}: resume format version {blob.get('version')!r} is newer than this livegen "
            f"reads ({VERSION}); upgrade livegen or start without --resume"
        )
    return blob["state"]


def _fail(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"{path}: {' '.join(problem.split())}")  # always one line


def _read(path: Path, what: str) -> Any:
    """torch.load(weights_only=True), with every failure turned into one clear line."""
    if path.is_dir():
        raise _fail(path, f"is a folder, not {what} file")
    try:
        with warnings.catch_warnings():
            # The weights-only unpickler warns about pickle protocols; the outcome is what counts.
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "GLOBAL" in str(e) or "global" in str(e):
            raise _fail(
                path,
                "refused: it contains code/objects, not just weights (livegen never runs code "
                "from a file); use a checkpoint written by livegen, or re-save only the weights "
                "with livegen.checkpoint.save from code you trust",
            ) from None
        raise _corrupt(path, what) from None
    except OSError as e:
        if isinstance(e, FileNotFoundError):
            raise _fail(path, "no such file") from None
        if isinstance(e, PermissionError):
            raise _fail(path, f"cannot read it: {e.strerror}") from None
        raise _corrupt(path, what) from None
    except Exception:  # torch raises RuntimeError, EOFError, KeyError... on damaged files
        raise _corrupt(path, what) from None


def _corrupt(path: Path, what: str) -> CheckpointError:
    return _fail(
        path,
        f"not a PyTorch file, or truncated or corrupt (expected {what}); copy it again or "
        "retrain it",
    )


def _check_layout(blob: Any, path: Path) -> dict[str, Any]:
    """The checked metadata (everything but the weights) of a livegen checkpoint dict."""
    if not isinstance(blob, dict):
        raise _fail(
            path,
            f"not a livegen checkpoint (it holds a {type(blob).__name__}); save models with "
            "livegen.checkpoint.save or train.py",
        )
    if blob.get("format") != FORMAT:
        bare = bool(blob) and all(isinstance(v, torch.Tensor) for v in blob.values())
        kind = "a bare state_dict" if bare else f"a dict with keys {_keys(blob)}"
        raise _fail(
            path,
            f"not a livegen checkpoint ({kind}, without model sizes or codec); save models with "
            "livegen.checkpoint.save or train.py",
        )
    version = blob.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _fail(path, f"checkpoint version {version!r} is not a number; the file is damaged")
    if version > VERSION:
        raise _fail(
            path,
            f"checkpoint format version {version} is newer than this livegen reads ({VERSION}); "
            "upgrade livegen",
        )
    missing = [k for k in REQUIRED if k not in blob]
    if missing:
        raise _fail(
            path,
            f"incomplete checkpoint: missing {', '.join(repr(k) for k in missing)}; "
            "re-save it with livegen.checkpoint.save",
        )
    for key, kind in (("model", dict), ("codec", dict), ("state_dict", Mapping)):
        if not isinstance(blob[key], kind):
            raise _fail(path, f"'{key}' is a {type(blob[key]).__name__}, not a mapping; damaged")
    return {k: v for k, v in blob.items() if k != "state_dict"}


def _keys(d: Mapping) -> str:
    keys = [repr(k) for k in list(d)[:5]]
    return ", ".join(keys) + (", ..." if len(d) > 5 else "")


def _make_codec(spec: dict[str, Any], path: Path) -> Codec:
    name, params = spec.get("name"), spec.get("params", {})
    if not isinstance(name, str) or name not in CODECS:
        raise _fail(
            path,
            f"unknown codec {name!r} (this livegen knows: {', '.join(sorted(CODECS))}); "
            "upgrade livegen or use another checkpoint",
        )
    if not isinstance(params, dict):
        raise _fail(path, f"codec {name} params are a {type(params).__name__}, not a mapping")
    try:
        return make_codec(name, **params)
    except (CodecError, TypeError, ValueError) as e:
        raise _fail(
            path,
            f"bad codec params for {name} {params}: {e}; the file was written by another "
            "livegen version or is damaged",
        ) from None


def _make_model(
    sizes: dict[str, Any], state_dict: Mapping[str, Any], codec: Codec, path: Path
) -> LSTMModel:
    try:
        cfg = from_dict(ModelConfig, sizes, str(path), prefix="model.")
    except ConfigError as e:
        raise CheckpointError(f"{e}; written by a newer livegen, or damaged") from None
    except Exception as e:  # ModelConfig's own checks
        raise _fail(path, f"bad model sizes {sizes}: {e}; the file is damaged") from None
    if cfg.vocab_size != codec.vocab_size:
        raise _fail(
            path,
            f"model vocab_size {cfg.vocab_size} does not fit codec {codec.describe()} "
            f"({codec.vocab_size} tokens); the file is inconsistent, retrain it",
        )
    if cfg.frame_input != (codec.head == "sigmoid"):
        raise _fail(
            path,
            f"model frame_input={cfg.frame_input} does not fit codec {codec.name} "
            f"(head {codec.head}); the file is inconsistent, retrain it",
        )
    try:
        model = LSTMModel(cfg)
    except Exception as e:
        raise _fail(path, f"cannot build a model of sizes {sizes}: {e}") from None

    expected = model.state_dict()
    sizes_text = f"n_layer={cfg.n_layer}, n_hidden={cfg.n_hidden}, n_embd={cfg.n_embd}"
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise _fail(path, f"weight {key!r} is a {type(value).__name__}, not a tensor; damaged")
    for key, want in expected.items():
        got = state_dict.get(key)
        if got is not None and got.shape != want.shape:
            raise _fail(
                path,
                f"weights do not fit the model sizes ({sizes_text}): {key!r} is "
                f"{tuple(got.shape)} in the file, the model needs {tuple(want.shape)}; "
                "the file is inconsistent, retrain it",
            )
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing weights {', '.join(repr(k) for k in missing[:4])}")
        if unexpected:
            parts.append(f"unexpected weights {', '.join(repr(k) for k in unexpected[:4])}")
        raise _fail(
            path,
            f"{'; '.join(parts)} for a model of {sizes_text}; written by another livegen "
            "version, or damaged",
        )
    for key, value in state_dict.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise _fail(path, f"weight {key!r} holds NaN or inf; the training diverged, retrain")
    try:
        model.load_state_dict(state_dict, strict=True)
    except Exception as e:  # e.g. a dtype that cannot be copied into the parameters
        raise _fail(path, f"cannot load the weights: {e}") from None
    return model


# ---- finding models -------------------------------------------------------------------------


def model_dirs() -> list[Path]:
    """Where model names are looked up, first match wins: LIVEGEN_MODELS, user, shipped."""
    dirs = [Path(p).expanduser() for p in os.environ.get("LIVEGEN_MODELS", "").split(os.pathsep)]
    dirs = [d for d in dirs if str(d) not in ("", ".")]
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    dirs.append(Path(data_home) / "livegen" / "models")
    dirs.append(SHIPPED_DIR)
    return dirs


def available() -> list[Path]:
    """Every model that a name can reach (one per name, as :func:`resolve` picks), by name."""
    found: dict[str, Path] = {}
    for folder in model_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.pt")):
                if not path.name.endswith(".resume.pt"):
                    found.setdefault(path.stem, path)
    return [found[name] for name in sorted(found)]


def resolve(name_or_path: str | Path) -> Path:
    """An existing file as given, or the file of a model name (``folk_melody``)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    text = str(name_or_path)
    if os.sep in text or "/" in text or (os.altsep and os.altsep in text):
        if path.exists():
            return path  # a folder: load() says so
        raise _fail(path, "no such file")
    name = text[:-3] if text.endswith(".pt") else text
    for folder in model_dirs():
        candidate = folder / f"{name}.pt"
        if candidate.is_file():
            return candidate
    if path.exists():
        return path
    names = ", ".join(p.stem for p in available()) or "none installed"
    raise CheckpointError(
        f"{text}: no such file or model name (available models: {names}); give a .pt path, "
        f"or put NAME.pt in {model_dirs()[-2]} or a folder listed in LIVEGEN_MODELS"
    )


# ---- describing -----------------------------------------------------------------------------


def summary(loaded: Loaded) -> dict[str, Any]:
    """What a checkpoint is, as flat display-ready values (for ``livegen info`` and the panel)."""
    meta, codec, cfg = loaded.meta, loaded.codec, loaded.model.cfg
    data, metrics = meta.get("data") or {}, meta.get("metrics") or {}
    try:
        file_size = loaded.path.stat().st_size
    except OSError:
        file_size = None
    return {
        "name": loaded.path.stem,
        "path": str(loaded.path),
        "file_size": file_size,  # bytes
        "codec": codec.name,
        "codec_params": codec.params(),
        "ticks_per_quarter": codec.ticks_per_quarter,
        "pitch_range": (codec.low, codec.high),
        "roles": roles_of(codec),  # whose part is whose (livegen.roles)
        "styles": tuple(cfg.styles),  # a style model's style names, by index (livegen.style)
        "vocab_size": codec.vocab_size,
        "n_layer": cfg.n_layer,
        "n_hidden": cfg.n_hidden,
        "n_embd": cfg.n_embd,
        "parameters": sum(p.numel() for p in loaded.model.parameters()),
        "data_source": data.get("source"),
        "pieces": data.get("pieces"),
        "val_nll": _number(metrics.get("val_nll")),
        "val_acc": _number(metrics.get("val_acc")),
        "test_nll": _number(metrics.get("test_nll")),
        "nll_unit": metrics.get("nll_unit"),
        "best_epoch": metrics.get("best_epoch"),
        "train_seconds": _number(metrics.get("train_seconds")),
        "livegen_version": meta.get("livegen_version"),
        "created": meta.get("created"),
    }


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
