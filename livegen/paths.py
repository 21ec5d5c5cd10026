"""Where livegen's shipped files live: the repository's configs and primers.

Light on purpose (only pathlib), so the command line can use it before anything heavy loads.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
PRIMERS = CONFIGS / "primers"
LIVE_CONFIG = CONFIGS / "live.yaml"
# The shipped primer that suits a codec: a tune for melody models, chords for the others.
_PRIMER_BY_CODEC = {"melody": "folk.mid"}
_PRIMER_OTHERWISE = "chorale.mid"


def default_primer(codec_name: str) -> Path:
    return PRIMERS / _PRIMER_BY_CODEC.get(codec_name, _PRIMER_OTHERWISE)
