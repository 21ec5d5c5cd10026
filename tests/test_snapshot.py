"""The snapshot says whose part is whose, as ``Picture.describe`` read it from the loaded
model: an engine on a parts model publishes your part and livegen's, one on a single-stream
model one shared part, and the value survives the pipe to the panel's process."""

from __future__ import annotations

import pickle
from pathlib import Path

from livegen.checkpoint import Loaded
from livegen.codecs import make_codec
from livegen.engine import Engine
from livegen.live_config import LiveConfig
from livegen.roles import ONE_STREAM
from tests.fakes import FakePorts
from tests.test_player import tiny_model

HARMONY_PARAMS = {"yours": "soprano", "mine": "alto, tenor, bass", "yours_max_notes": 1}


def engine_on(codec_name: str, **params) -> Engine:
    codec = make_codec(codec_name, **params)
    loaded = Loaded(tiny_model(codec, 0), codec, {}, Path(f"tiny_{codec_name}.pt"))
    return Engine(loaded, FakePorts(), LiveConfig(seed=1))


def test_a_parts_model_publishes_your_part_and_livegens():
    snap = engine_on("parts", **HARMONY_PARAMS).snapshot()
    assert snap.roles.yours.name == "soprano" and snap.roles.yours.mono
    assert snap.roles.mine is not None and snap.roles.mine.name == "alto, tenor, bass"
    assert pickle.loads(pickle.dumps(snap)).roles == snap.roles  # as the server sends it


def test_a_single_stream_model_publishes_one_shared_part():
    snap = engine_on("poly").snapshot()
    assert snap.roles.shared and snap.roles != ONE_STREAM  # the model's own range, described
    assert (snap.roles.yours.low, snap.roles.yours.high) == (36, 84)
