"""Presets: named live settings (model, mode, temperature, key lock, CC map...) in YAML.

A preset is a small YAML file, ``NAME.yaml``: shipped ones in ``configs/presets/``, the
user's in ``presets/`` under the user's config folder (``$LIVEGEN_CONFIG_DIR``), where a
user preset of a shipped name wins. Every key is a live setting that can change mid-session,
so the same preset applies at start (``--preset NAME``: its values sit between
``configs/live.yaml`` and the command line's flags) and from the panel, as commands.

:class:`Preset` is a frozen dataclass read with :func:`livegen.recipe.from_dict`: an unknown
key, a value of the wrong type or out of its limits is a :class:`ConfigError` that names the
file and the key. A preset sets only the keys it names (``given``), so ``key: null`` turns
a key lock off while a preset without ``key`` leaves it as it is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livegen.controls import Command, Control, Forget, MapCc, Set, SwitchModel
from livegen.paths import PRESETS, config_dir
from livegen.recipe import ConfigError, Invalid, from_dict, read_yaml

USER_FOLDER = "presets"  # under the user's config folder
SUFFIX = ".yaml"
# Preset keys that are live controls: each becomes Set(Control(key), value) in the panel.
CONTROLS = (
    "mode",
    "temperature",
    "bpm",
    "response_bars",
    "channel",
    "latency_ms",
    "passthrough",
    "velocity",
    "key",
    "guards",
)


@dataclass(frozen=True)
class Preset:
    description: str = ""  # one line, shown in the panel's preset list
    checkpoint: str | None = None  # shipped model name or path to a .pt file
    mode: str | None = None  # continue, accompany, harmonize or free
    temperature: float | None = None
    bpm: float | None = None  # the internal clock's tempo
    response_bars: float | None = None  # continue: answer length; 0 = as long as the call
    channel: int | None = None  # output channel 0..15 (DAWs show 1..16)
    latency_ms: float | None = None
    passthrough: bool | None = None
    velocity: str | None = None  # model, player or fixed
    key: str | None = None  # key/scale lock, e.g. "D dorian"; null: off
    guards: bool | None = None  # a parts model's sampling guards on or off
    cc: dict[str, int] | None = None  # control name -> CC number: the whole CC map
    # Not keys of the file: its name (the file's stem), and the keys it sets.
    name: str = field(default="", init=False)
    given: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        from livegen.live_config import LiveConfig

        # The live settings' own checks (LIMITS, modes, keys, CC numbers), one key at a time.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.init and f.name != "description" and value is not None:
                try:
                    LiveConfig(**{f.name: value})
                except Invalid as err:
                    raise Invalid(f.name, err.problem) from None

    def settings(self) -> dict[str, Any]:
        """The live settings this preset sets: ``LiveConfig`` field -> value."""
        return {k: getattr(self, k) for k in self.given}

    def over(self, cfg: Any) -> Any:
        """``cfg`` (a :class:`~livegen.live_config.LiveConfig`) with this preset's settings."""
        return dataclasses.replace(cfg, **self.settings())

    def commands(self, model: str, cc_map: tuple[tuple[str, int], ...]) -> list[Command]:
        """What applies this preset to a running session now playing ``model`` with ``cc_map``.

        The model switches only when it is another one; the CC map becomes the preset's
        exactly (controls it does not map are forgotten). Each command checks its value.
        """
        out: list[Command] = []
        if "checkpoint" in self.given and Path(self.checkpoint).stem != model:
            out.append(SwitchModel(self.checkpoint))
        out += [Set(Control(k), getattr(self, k)) for k in CONTROLS if k in self.given]
        if "cc" in self.given:
            wanted = self.cc or {}
            out += [Forget(name) for name, _ in cc_map if name not in wanted]
            mapped = dict(cc_map)
            out += [MapCc(n, num) for n, num in sorted(wanted.items()) if mapped.get(n) != num]
        return out


def user_folder() -> Path:
    return config_dir() / USER_FOLDER


def available() -> dict[str, Path]:
    """Every preset a name reaches, by name: shipped, then the user's (which win)."""
    found: dict[str, Path] = {}
    for folder in (PRESETS, user_folder()):
        if folder.is_dir():
            for path in sorted(folder.glob(f"*{SUFFIX}")):
                found[path.stem] = path
    return dict(sorted(found.items()))


def resolve(name_or_path: str | Path) -> Path:
    """A preset's file: a path to a YAML file, or a name in the user's or shipped folder."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if text.endswith((".yaml", ".yml")) or path.parent != Path("."):
        if path.is_file():
            return path
        raise ConfigError(f"{path}: preset file not found")
    found = available().get(text)
    if found is None:
        names = ", ".join(available()) or "none"
        raise ConfigError(
            f"no preset named {text!r} (presets: {names}); put one in {user_folder()}"
        )
    return found


def load(name_or_path: str | Path) -> Preset:
    """Read a preset; a ConfigError naming the file and the key when it cannot be used."""
    path = resolve(name_or_path)
    data = read_yaml(path)
    preset = from_dict(Preset, data, str(path))
    object.__setattr__(preset, "name", path.stem)
    object.__setattr__(preset, "given", tuple(k for k in data if k != "description"))
    return preset


def load_all() -> list[tuple[str, Preset | str]]:
    """Every preset by name, or the one-line error that keeps it from being used."""
    out: list[tuple[str, Preset | str]] = []
    for name, path in available().items():
        try:
            out.append((name, load(path)))
        except ConfigError as err:
            out.append((name, str(err)))
    return out
