"""livegen.data.parts: yours and mine by name or number, skips counted, the cache, the recipe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from livegen.config import PartsConfig, load_config
from livegen.data import DataError
from livegen.data.parts import OneTrackError, Parted, load_parts, names_match, part_key, select
from livegen.errors import LivegenError
from livegen.notes import make_notes
from livegen.recipe import ConfigError
from tests.data.helpers import write_tracks


def _load(source, parts: PartsConfig, tmp_path: Path, **kw):
    kw.setdefault("jobs", 1)
    return load_parts(source, parts, cache_dir=tmp_path / "cache", progress=False, **kw)


def _all(split) -> list[Parted]:
    return split.train + split.valid + split.test


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Soprano", "S"),
        ("soprano", "S."),
        ("Violin I", "Violin 1"),
        ("Vln. II", "violin 2"),
        ("Violoncello", "Cello"),
        ("Vc.", "cello"),
        ("Bass", "B"),
        ("melody", "top"),
    ],
)
def test_part_names_match_with_aliases(a, b):
    assert part_key(a) == part_key(b)


def test_part_names_that_differ_do_not_match():
    assert part_key("Violin I") != part_key("Violin II")
    assert part_key("Alto") != part_key("Tenor")
    assert part_key("Viola") != part_key("Violin")


SATB = [
    ("Soprano", make_notes([(72, 0, 1)])),
    ("Alto", make_notes([(67, 0, 1)])),
    ("Tenor", make_notes([(64, 0, 1)])),
    ("Bass", make_notes([(48, 0, 1)])),
]


def test_select_yours_and_mine_by_alias_number_and_the_rest():
    yours, mine = select(SATB, PartsConfig(yours=("s",), mine=("A", "t", "BASS")))
    assert yours[:, 0].tolist() == [72] and mine[:, 0].tolist() == [48, 64, 67]
    yours, mine = select(SATB, PartsConfig(yours=("S",)))  # mine: all the rest
    assert mine[:, 0].tolist() == [48, 64, 67]
    yours, mine = select(SATB, PartsConfig(yours=(2, 3, 4), mine=(1,)))  # by position
    assert yours[:, 0].tolist() == [48, 64, 67] and mine[:, 0].tolist() == [72]
    _, mine = select(SATB, PartsConfig(yours=("S",), mine=("B",)))
    assert mine[:, 0].tolist() == [48]


def test_select_names_what_is_missing_or_doubled():
    with pytest.raises(ValueError, match=r"no part 'Tenor' \(parts: Soprano, Alto, Bass\)"):
        select([SATB[0], SATB[1], SATB[3]], PartsConfig(yours=("S",), mine=("Tenor",)))
    with pytest.raises(ValueError, match="both yours and mine"):
        select(SATB, PartsConfig(yours=("S",), mine=("Soprano", "B")))
    empty = [("Soprano", make_notes([])), *SATB[1:]]
    with pytest.raises(ValueError, match="no notes in yours"):
        select(empty, PartsConfig(yours=("S",)))


def _folder(tmp_path: Path) -> Path:
    """Three two-track files (Soprano over Bass), one of them without a bass, one with one
    track only."""
    music = tmp_path / "music"
    music.mkdir()
    tunes = {
        "a": [72, 74, 76, 77],
        "b": [67, 69, 71, 72],
        "c": [79, 77, 76, 74],
    }
    for name, melody in tunes.items():
        sop = [(0, p, i, i + 1) for i, p in enumerate(melody)]
        bass = [(1, p - 24, i, i + 1) for i, p in enumerate(melody)]
        write_tracks(music / f"{name}.mid", [sop, bass], names=["Soprano", "Bass"])
    write_tracks(music / "d.mid", [[(0, 72, 0, 1)], [(1, 48, 0, 1)]], names=["Soprano", "Tuba"])
    write_tracks(music / "solo.mid", [[(0, 60, 0, 1), (1, 48, 0, 1)]])
    return music


def test_tracks_by_name_with_skips_counted(tmp_path):
    music = _folder(tmp_path)
    split = _load(music, PartsConfig(split="tracks", yours=("Soprano",), mine=("Bass",)), tmp_path)
    pieces = {p.name: p for p in _all(split)}
    assert sorted(pieces) == ["a.mid", "b.mid", "c.mid"]
    a = pieces["a.mid"]
    assert a.yours[:, 0].tolist() == [72, 74, 76, 77] and a.mine[:, 0].tolist() == [48, 50, 52, 53]
    assert a.beats_per_bar == 4
    info = split.info
    assert info["skipped"] == 1 and info["skipped_files"][0][0] == "solo.mid"  # one track
    assert info["skipped_parts"] == 1 and info["skipped_parts_files"][0][0] == "d.mid"
    assert "no part 'Bass'" in info["skipped_parts_files"][0][1]
    assert not info["cache_hit"]

    # By number: track 2 is mine whatever its name, so d.mid's tuba now counts.
    by_number = _load(music, PartsConfig(split="tracks", yours=(1,), mine=(2,)), tmp_path)
    assert by_number.info["cache_hit"]  # the same split kind: no file is read again
    assert len(_all(by_number)) == 4 and by_number.info["skipped_parts"] == 0
    again = _load(music, PartsConfig(split="tracks", yours=("Soprano",), mine=("Bass",)), tmp_path)
    assert again.info["cache_hit"] and _all(again) == _all(split)


def test_channels_and_top_on_the_same_folder(tmp_path):
    music = _folder(tmp_path)
    channels = _load(music, PartsConfig(split="channels", yours=(1,), mine=(2,)), tmp_path)
    assert len(_all(channels)) == 5  # solo.mid has two channels in its one track
    assert not channels.info["cache_hit"]  # another split kind is another cache entry
    top = _load(music, PartsConfig(split="top", yours=("rest",), mine=("top",)), tmp_path)
    a = next(p for p in _all(top) if p.name == "a.mid")
    assert a.mine[:, 0].tolist() == [72, 74, 76, 77] and a.yours[:, 0].tolist() == [48, 50, 52, 53]


def test_a_folder_of_one_track_files_says_which_split_to_use(tmp_path):
    music = tmp_path / "solos"
    music.mkdir()
    for name in ("x", "y"):
        write_tracks(music / f"{name}.mid", [[(0, 60, 0, 1), (1, 48, 0, 1)]])
    with pytest.raises(OneTrackError, match="use split: channels .* or split: top") as e:
        _load(music, PartsConfig(split="tracks", yours=(1,)), tmp_path)
    assert isinstance(e.value, LivegenError) and "\n" not in str(e.value)


def test_no_piece_with_the_parts_is_a_data_error(tmp_path):
    music = _folder(tmp_path)
    with pytest.raises(DataError, match="no piece has the parts yours Soprano; mine Viola"):
        _load(music, PartsConfig(split="tracks", yours=("Soprano",), mine=("Viola",)), tmp_path)


def test_heldout_melodies_are_left_out_exact_or_transposed(tmp_path):
    music = _folder(tmp_path)
    heldout = tmp_path / "heldout.json"
    # a.mid's melody as 16th steps (held notes repeat), b.mid's a tone higher, and an unused
    # train piece with c.mid's melody: only valid and test are held out.
    a = [[p, 60, 55, 48] for p in (72, 72, 72, 72, 74, 74, 76, 77)]
    b = [[p + 2, 60, 55, 48] for p in (67, 69, 71, 72)]
    c = [[p, 60, 55, 48] for p in (79, 77, 76, 74)]
    heldout.write_text(json.dumps({"train": [c], "valid": [a], "test": [b]}))
    parts = PartsConfig(split="tracks", yours=(1,), mine=(2,), exclude_heldout=str(heldout))
    split = _load(music, parts, tmp_path)
    assert sorted(p.name for p in _all(split)) == ["c.mid", "d.mid"]
    assert split.info["heldout"]["left_out"] == 2
    assert split.info["heldout"]["exact"] == 1 and split.info["heldout"]["transposed"] == 1


def test_a_bl2012_voices_json_splits_by_column_and_keeps_its_split(tmp_path):
    steps = [[72, 67, 64, 48], [74, 67, 62, 47]]
    source = tmp_path / "tiny_16th_voices.json"
    source.write_text(json.dumps({"train": [steps, steps], "valid": [steps], "test": [[[60]]]}))
    split = _load(source, PartsConfig(yours=("S",), mine=("A", "T", "B")), tmp_path)
    # The one-voice test piece has no alto: it is skipped and counted, the rest load.
    assert [len(s) for s in (split.train, split.valid, split.test)] == [2, 1, 0]
    assert split.info["skipped_parts"] == 1 and split.info["skipped"] == 0
    assert split.train[0].yours[:, 0].tolist() == [72, 74]
    assert split.train[0].yours[:, 1].tolist() == [0, 0.25]  # the 16th grid by its name
    # Steps of changing width cannot be cut by voice: skipped and counted as unsplittable.
    ragged = tmp_path / "ragged_16th.json"
    ragged.write_text(json.dumps({"train": [steps], "valid": [], "test": [[[60, 50], [62]]]}))
    split = _load(ragged, PartsConfig(yours=("S",), mine=("A",)), tmp_path)
    assert len(split.train) == 1 and split.info["skipped"] == 1
    assert "same number of voices" in split.info["skipped_files"][0][1]


def test_real_chorales_by_voice_and_cached(tmp_path):
    parts = PartsConfig(yours=("Soprano",), mine=("Alto", "Tenor", "Bass"))
    first = _load("bach", parts, tmp_path, limit=3)
    pieces = _all(first)
    assert len(pieces) == 3 and first.info["skipped_parts"] == 0
    for p in pieces:
        assert p.beats_per_bar in (3, 4)
        assert np.median(p.yours[:, 0]) > np.median(p.mine[:, 0])
    second = _load("bach", parts, tmp_path, limit=3)
    assert second.info["cache_hit"] and _all(second) == pieces


def test_recipe_parts_section(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "data:\n  source: bach\n  parts:\n    split: voices\n"
        "    yours: [Soprano]\n    mine: [Alto, Tenor, Bass]\n"
    )
    cfg = load_config(recipe, [])
    assert cfg.data.parts == PartsConfig(yours=("Soprano",), mine=("Alto", "Tenor", "Bass"))
    assert load_config(None, []).data.parts is None  # every existing recipe: no parts
    cfg = load_config(recipe, ["--data.parts.split=top", "--data.parts.yours=top"])
    assert cfg.data.parts.split == "top" and cfg.data.parts.yours == ("top",)

    recipe.write_text("data:\n  parts:\n    split: voices\n    yours: [S]\n    mien: [A]\n")
    with pytest.raises(ConfigError, match=r"unknown key 'data.parts.mien'.*did you mean"):
        load_config(recipe, [])
    recipe.write_text("data:\n  parts:\n    split: staves\n    yours: [S]\n")
    with pytest.raises(ConfigError, match="data.parts.split must be one of voices"):
        load_config(recipe, [])
    recipe.write_text("data:\n  parts:\n    split: voices\n")
    with pytest.raises(ConfigError, match="data.parts.yours must name at least one part"):
        load_config(recipe, [])
    recipe.write_text("data:\n  parts:\n    yours: [{a: 1}]\n")
    with pytest.raises(ConfigError, match=r"data.parts.yours\[0\] must be str or int"):
        load_config(recipe, [])


@pytest.mark.parametrize(
    ("selector", "label", "expected"),
    [
        ("S", "Soprano Oboe 1 Violin1", True),  # a part doubled by instruments: its first role
        ("Soprano", "SopranoOboe 1,2Violin1", True),
        ("A", "AltoViloin 2", True),
        ("Bass", "Bass\rContinuo", True),
        ("Soprano", "Soprano 2", False),  # a numbered part is another part
        ("Violin", "Violin I", False),
        ("Violin 2", "Vln. II", True),
        ("Oboe", "Soprano Oboe 1", False),  # only the first role names the part
    ],
)
def test_names_match_doubled_and_numbered_parts(selector, label, expected):
    assert names_match(selector, label) is expected


def test_heldout_near_leaves_out_close_copies(tmp_path):
    music = _folder(tmp_path)
    heldout = tmp_path / "heldout.json"
    # c.mid's melody with one passing note more: not the same, but nearly.
    near_c = [[p, 60, 55, 48] for p in (79, 77, 76, 75, 74)]
    heldout.write_text(json.dumps({"train": [], "valid": [near_c], "test": []}))
    base = dict(split="tracks", yours=(1,), mine=(2,), exclude_heldout=str(heldout))
    exact = _load(music, PartsConfig(**base), tmp_path)
    assert exact.info["heldout"]["left_out"] == 0
    near = _load(music, PartsConfig(**base, heldout_near=0.5), tmp_path)
    assert near.info["heldout"]["near"] == 1 and near.info["heldout"]["threshold"] == 0.5
    assert "c.mid" not in [p.name for p in _all(near)]
    with pytest.raises(ConfigError, match="heldout_near must be in"):
        load_config(None, ["--data.parts.yours=S", "--data.parts.heldout_near=1.5"])


class _FakeTwoPartCodec:
    """Records what it is asked to encode; stands in for a parts codec in this unit test."""

    name = "fake-two-part"

    def encode_parts(self, yours, mine):
        return np.concatenate([yours[:, 0], -mine[:, 0]]).astype(np.int64)


def test_training_encodes_both_parts_transposed_and_refuses_one_stream_codecs():
    from livegen.codecs import make_codec
    from livegen.data.parts import encode_piece, parts_loader

    piece = Parted("p", make_notes([(72, 0, 1)]), make_notes([(48, 0, 1)]), 4)
    assert encode_piece(_FakeTwoPartCodec(), piece, 2).tolist() == [74, -50]
    assert piece.yours[0, 0] == 72  # the piece itself is not moved
    with pytest.raises(DataError, match="data.parts needs a parts codec"):
        parts_loader(make_codec("melody"), PartsConfig(yours=("S",)))
    assert parts_loader(_FakeTwoPartCodec(), PartsConfig(yours=("S",))).func is load_parts


def test_mine_only_trains_a_single_stream_codec_on_mine_alone():
    from livegen.codecs import make_codec
    from livegen.data.parts import encode_piece, parts_loader

    poly = make_codec("poly", ticks_per_quarter=1, low=36, high=84)
    piece = Parted("p", make_notes([(72, 0, 1)]), make_notes([(48, 0, 1)]), 4)
    mine_only = PartsConfig(yours=("S",), mine_only=True)
    assert parts_loader(poly, mine_only).func is load_parts
    # Mine moved by the shift, and nothing of yours: the same tokens as mine encoded alone.
    want = poly.encode(make_notes([(50, 0, 1)])).tolist()
    assert encode_piece(poly, piece, 2).tolist() == want
    with pytest.raises(DataError, match="mine_only trains one stream"):
        parts_loader(_FakeTwoPartCodec(), mine_only)
    cfg = load_config(None, ["--data.parts.yours=S", "--data.parts.mine_only=true"])
    assert cfg.data.parts.mine_only is True
