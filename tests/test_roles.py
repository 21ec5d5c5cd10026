"""Whose part is whose: a parts codec's two roles and ranges, a single-stream codec's one
shared part, and the lines the panel, the model list and ``livegen info`` print."""

from __future__ import annotations

import pickle

import pytest

from livegen.codecs import make_codec
from livegen.roles import ONE_STREAM, Part, Roles, fit, role_text, roles_of
from tests.codecs.shapes import HARMONY


def test_a_parts_codec_has_your_part_and_livegens_with_their_ranges():
    roles = roles_of(HARMONY)
    assert not roles.shared
    assert roles.yours == Part("soprano", 60, 81, 1)
    assert roles.mine == Part("alto, tenor, bass", 36, 72, 3)  # "alto+tenor+bass", to read
    assert roles.names() == ("soprano", "alto, tenor, bass")
    assert roles.line() == "you: soprano · livegen: alto, tenor, bass"
    assert roles.listing() == "you soprano / livegen alto, tenor, bass"
    assert roles.details() == (
        "you soprano (C4..A5, one note at a time); "
        "livegen alto, tenor, bass (C2..C5, up to 3 notes)"
    )


def test_a_parts_codec_without_ranges_spans_the_codecs_range():
    roles = roles_of(make_codec("parts", yours="alto, tenor, bass", mine="soprano"))
    assert (roles.yours.low, roles.yours.high) == (36, 84) == (roles.mine.low, roles.mine.high)
    assert roles.listing() == "you alto, tenor, bass / livegen soprano"
    assert not roles.mine.mono


@pytest.mark.parametrize("name", ["melody", "poly", "performance", "pianoroll"])
def test_a_single_stream_codec_is_one_part_shared(name):
    codec = make_codec(name)
    roles = roles_of(codec)
    assert roles.shared and roles.mine is None
    assert (roles.yours.low, roles.yours.high) == (codec.low, codec.high)
    assert roles.yours.mono == (name == "melody")
    assert roles.names() == ("", "")
    assert roles.line() == "one stream: you and livegen share it"
    assert roles.listing() == "one stream"
    assert roles.details().startswith("one stream, shared by you and livegen (pitches ")


def test_role_names_read_as_lists_and_long_lines_end_in_an_ellipsis():
    assert role_text("Alto+Tenor+Bass") == "Alto, Tenor, Bass"
    assert role_text("violin I / viola") == "violin I, viola"
    assert role_text("bass") == "bass"
    long = Roles(Part("soprano and descant", 60, 84, 1), Part("alto, tenor, bass", 36, 72, 3))
    line = long.line()
    assert len(line) == 42 and line.endswith("…") and line.startswith("you: soprano and")
    assert fit("short") == "short"


def test_roles_cross_a_pipe_unchanged():
    for roles in (roles_of(HARMONY), ONE_STREAM):
        assert pickle.loads(pickle.dumps(roles)) == roles
