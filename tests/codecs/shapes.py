"""Codec shapes the parts tests share (so a change of the shape is made once)."""

from __future__ import annotations

from livegen.codecs import PartsCodec

# The shape of chorale_harmony: you sing the soprano, livegen the three lower voices.
HARMONY = PartsCodec(
    yours="soprano",
    mine="alto+tenor+bass",
    yours_low=60,
    yours_high=81,
    mine_low=36,
    mine_high=72,
    yours_max_notes=1,
    mine_max_notes=3,
)
