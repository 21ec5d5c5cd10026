"""The codecs livegen knows, by name, and the one way to build one from a name and parameters.

Checkpoints and configs name a codec and its parameters; ``make_codec`` turns them into a
codec or a one-line ``CodecError`` that says what is wrong.
"""

from __future__ import annotations

import inspect
from typing import Any

from livegen.codecs.base import Accept, Codec, CodecError, CodecStream, Token
from livegen.codecs.melody import MelodyCodec
from livegen.codecs.parts import PartsCodec
from livegen.codecs.parts_stream import PartsStream, PartsTick
from livegen.codecs.performance import PerformanceCodec
from livegen.codecs.pianoroll import PianorollCodec
from livegen.codecs.poly import PolyCodec

CODECS: dict[str, type[Codec]] = {
    cls.name: cls for cls in (MelodyCodec, PolyCodec, PerformanceCodec, PianorollCodec, PartsCodec)
}


def codec_params(cls: type[Codec]) -> list[str]:
    """The keyword parameters a codec's constructor takes."""
    signature = inspect.signature(cls.__init__)
    return [p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY]


def make_codec(name: str, **params: Any) -> Codec:
    """Build codec ``name`` with ``params``; an unknown name or parameter is a CodecError."""
    cls = CODECS.get(name)
    if cls is None:
        raise CodecError(f"unknown codec {name!r} (known codecs: {', '.join(sorted(CODECS))})")
    known = codec_params(cls)
    for key in params:
        if key not in known:
            raise CodecError(
                f"codec {name!r} has no parameter {key!r} (its parameters: {', '.join(known)})"
            )
    return cls(**params)  # the constructor checks each value and raises CodecError


__all__ = [
    "CODECS",
    "Accept",
    "Codec",
    "CodecError",
    "CodecStream",
    "MelodyCodec",
    "PartsCodec",
    "PartsStream",
    "PartsTick",
    "PerformanceCodec",
    "PianorollCodec",
    "PolyCodec",
    "Token",
    "codec_params",
    "make_codec",
]
