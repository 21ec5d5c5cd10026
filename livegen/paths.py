"""Where livegen's files live: the repository's configs and primers, the user's config folder.

Light on purpose (only pathlib), so the command line can use it before anything heavy loads.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
PRIMERS = CONFIGS / "primers"
LIVE_CONFIG = CONFIGS / "live.yaml"
PRESETS = CONFIGS / "presets"
CONFIG_DIR_ENV = "LIVEGEN_CONFIG_DIR"
# The shipped primer that suits a codec: a tune for melody models, chords for the others.
_PRIMER_BY_CODEC = {"melody": "folk.mid"}
_PRIMER_OTHERWISE = "chorale.mid"


def default_primer(codec_name: str) -> Path:
    return PRIMERS / _PRIMER_BY_CODEC.get(codec_name, _PRIMER_OTHERWISE)


def config_dir() -> Path:
    """``$LIVEGEN_CONFIG_DIR``, else the platform's user config folder for livegen."""
    forced = os.environ.get(CONFIG_DIR_ENV)
    if forced:
        return Path(forced).expanduser()
    try:
        import platformdirs  # installed with textual
    except ImportError:  # pragma: no cover - textual requires it
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(base) / "livegen"
    return Path(platformdirs.user_config_dir("livegen", appauthor=False))
