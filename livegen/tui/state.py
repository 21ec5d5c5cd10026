"""What the panel remembers between runs: the last model, temperature, mode and CC map.

One small YAML file in the user's config folder (``$LIVEGEN_CONFIG_DIR``, else the
platform's, e.g. ``~/.config/livegen``). It only fills in what the command line leaves
open, above ``configs/live.yaml``. A missing file is a first run; a broken one is ignored
with a notice, never a crash, and is overwritten at the next exit.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any

import yaml

from livegen.controls import CC_CONTROLS
from livegen.live_config import MODES
from livegen.paths import CONFIG_DIR_ENV as ENV  # noqa: F401  (re-exported)
from livegen.paths import config_dir

FILE = "state.yaml"
KEYS = ("checkpoint", "temperature", "mode", "cc")


def state_path() -> Path:
    return config_dir() / FILE


def load_state(path: Path) -> tuple[dict[str, Any], str | None]:
    """The remembered ``LiveConfig`` fields, and a notice when the file had to be ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError) as err:
        return {}, f"ignored the remembered settings ({path}): cannot read it: {err}"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        first = " ".join(str(err).split())[:120]
        return {}, f"ignored the remembered settings ({path}): not YAML: {first}"
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, f"ignored the remembered settings ({path}): not a mapping"
    state: dict[str, Any] = {}
    problems = []
    for key in KEYS:
        if key not in data:
            continue
        value = data[key]
        if key == "checkpoint" and isinstance(value, str) and value.strip():
            state[key] = value
        elif (
            key == "temperature"
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        ):
            state[key] = float(value)
        elif key == "mode" and value in MODES:
            state[key] = value
        elif key == "cc" and _cc_map(value):
            state[key] = dict(value)
        else:
            problems.append(f"{key}: {value!r}")
    if problems:
        return state, f"ignored bad remembered settings in {path}: {', '.join(problems)}"
    return state, None


def _cc_map(value: Any) -> bool:
    """A CC map as the live settings take it: control name -> CC number 0..119."""
    return isinstance(value, dict) and all(
        name in CC_CONTROLS and type(number) is int and 0 <= number <= 119
        for name, number in value.items()
    )


def save_state(path: Path, state: dict[str, Any]) -> str | None:
    """Write ``state`` (atomically); a notice if it could not be written."""
    data = {k: state[k] for k in KEYS if state.get(k) is not None}
    text = "# livegen remembers these between runs; the command line overrides them.\n"
    text += yaml.safe_dump(data, sort_keys=False)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return f"cannot remember the settings in {path}: {err.strerror or err}"
    return None


def model_reference(target: str) -> str:
    """A model as remembered: its name where the name finds this file (robust to a moved
    checkout), else its absolute path."""
    from livegen import checkpoint

    path = Path(target)
    try:
        if checkpoint.resolve(path.stem).resolve() == path.resolve():
            return path.stem
    except (checkpoint.CheckpointError, OSError):
        pass
    return str(path.resolve()) if path.exists() else target
