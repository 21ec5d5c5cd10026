"""Training recipes: the frozen dataclasses a recipe fills, and :func:`load_config`.

A recipe file (``configs/<recipe>.yaml``) has up to four sections, ``data``, ``codec``,
``model`` and ``train``, each mapping onto one dataclass below; anything it leaves out keeps
the default; ``base: OTHER.yaml`` starts from another recipe. Command-line overrides come
last: ``--train.lr=1e-3``, or ``--lr=1e-3`` when the field name belongs to one section
only. Values are read as YAML (``--limit=null``, ``--amp=false``). How a recipe is read and
checked (YAML, ``base:``, overrides, unknown keys and wrong types) is :mod:`livegen.recipe`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livegen.recipe import ConfigError, apply_override, from_dict, read_recipe, require

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
        require(self.split in PART_SPLITS, "split", f"must be one of {', '.join(PART_SPLITS)}")
        require(bool(self.yours), "yours", "must name at least one part")
        near = self.heldout_near
        require(near is None or 0.0 < near <= 1.0, "heldout_near", "must be in (0, 1] or null")
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
    # A style model (livegen/data/styles.py): style name -> source, one style per corpus,
    # in the order of the model's style inputs; None: one source, no style input.
    styles: dict[str, str] | None = None
    style_balance: float = 0.0  # repeat smaller corpora (largest/own tokens)**b per epoch

    def __post_init__(self) -> None:
        require(self.transpose >= 0, "transpose", "must be >= 0")
        if self.styles is not None:
            ok = bool(self.styles) and all(isinstance(v, str) for v in self.styles.values())
            require(ok, "styles", "must map each style name to a source (corpus, folder, JSON)")
            require(not self.parts, "styles", "cannot be combined with parts")
        require(self.style_balance >= 0, "style_balance", "must be >= 0")
        require(self.lead_in >= 0, "lead_in", "must be >= 0")
        require(1 <= self.beats_per_bar <= 16, "beats_per_bar", "must be in 1..16")
        step = self.step_quarters
        require(step is None or step > 0, "step_quarters", "must be > 0 or null")
        # Silence before a parted piece would move its notes off their bar lines.
        require(not (self.lead_in and self.parts), "lead_in", "must be 0 with parts")
        require(self.limit is None or self.limit >= 1, "limit", "must be >= 1 or null")


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
            require(getattr(self, key) >= 1, key, "must be >= 1")
        require(0.0 <= self.dropout < 1.0, "dropout", "must be in [0, 1)")


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
    # Score the test split once at the end, with the best-validation weights. False for a
    # tuning run (a sweep): then no figure of test exists until the chosen run is scored.
    read_test: bool = True
    name: str = "run"  # run name; load_config sets it to the recipe file's stem
    out: str | None = None  # checkpoints, metrics and plots; None: runs/<name>

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "seq_len"):
            require(getattr(self, key) >= 1, key, "must be >= 1")
        require(self.lr > 0, "lr", "must be > 0")
        for key in ("weight_decay", "grad_clip", "warmup_steps", "grad_checkpoint"):
            require(getattr(self, key) >= 0, key, "must be >= 0")
        require(self.schedule in SCHEDULES, "schedule", f"must be one of {', '.join(SCHEDULES)}")
        require(self.threads is None or self.threads >= 1, "threads", "must be >= 1 or null")
        require(self.patience is None or self.patience >= 1, "patience", "must be >= 1 or null")
        require(bool(self.name), "name", "must not be empty")
        if self.out is None:
            # Frozen: resolving the default here keeps every reader agreeing on one folder.
            object.__setattr__(self, "out", str(Path("runs") / self.name))


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)  # which music, how it is split
    codec: CodecConfig = field(default_factory=CodecConfig)  # how music becomes tokens
    model: ModelSection = field(default_factory=ModelSection)  # LSTM sizes
    train: TrainSection = field(default_factory=TrainSection)  # the optimisation loop


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
