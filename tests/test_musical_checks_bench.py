"""bench/musical_checks.py on a hand-made voices JSON and a tiny random parts model: which
voices are whose, Bach's figures as the checks count them, livegen's part in its columns."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pytest

from livegen import checkpoint
from livegen import harmony_checks as hc
from livegen.checkpoint import Loaded
from livegen.codecs import PartsCodec, make_codec
from livegen.errors import LivegenError
from tests.test_harmonize_offline import save_tiny_parts

BENCH = Path(__file__).resolve().parent.parent / "bench" / "musical_checks.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("musical_checks", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Two short chorale-like pieces, a quarter note per chord (4 steps each).
PIECES = [
    [c for c in ([72, 67, 64, 48], [74, 67, 62, 55], [76, 67, 60, 57], [72, 64, 55, 48])
     for _ in range(4)],
    [c for c in ([69, 64, 60, 57], [71, 62, 56, 52], [72, 64, 57, 45], [-1, -1, -1, -1])
     for _ in range(4)],
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "voices"),
    [("S", (0,)), ("ATB", (1, 2, 3)), ("alto+tenor+bass", (1, 2, 3)), (["Bass"], (3,))],
)
def test_voices_are_read_from_letters_names_and_recipe_lists(bench, text, voices):
    assert bench.parse_voices(text) == voices
    assert bench.parse_voices("melody") is None


def test_bach_is_counted_as_the_checks_count_and_livegen_plays_its_columns(bench, tmp_path, capsys):
    data = tmp_path / "voices.json"
    data.write_text(json.dumps({"train": [], "valid": [], "test": PIECES}))
    model = save_tiny_parts(tmp_path / "tiny_parts.pt")
    args = argparse.Namespace(
        model=str(model), data=data, split="test", temperature=1.0, seed=0, yours=None,
        mine=None, factor=2.0, limit=None, verbose=False, phase="end", guards="off",
        guard_choice=None, key_after=16,
    )  # fmt: skip
    result = bench.run(args)
    assert (result["yours"], result["mine"]) == (["soprano"], ["alto", "tenor", "bass"])
    expected = hc.check(hc.as_grid(PIECES[0]), [0], [1, 2, 3])
    expected += hc.check(hc.as_grid(PIECES[1]), [0], [1, 2, 3])
    assert result["bach"]["counts"] == vars(expected)
    assert result["livegen"]["counts"]["notes"] > 0
    assert len(result["verdicts"]) == 4
    bench.show(result)
    assert "notes out of key" in capsys.readouterr().out


def test_a_model_whose_voices_cannot_be_told_says_which_flags_to_give(bench, tmp_path):
    loaded = checkpoint.load(save_tiny_parts(tmp_path / "p.pt"))
    assert bench.voices_of(loaded, None, None) == ((0,), (1, 2, 3))  # its codec's part names
    assert bench.voices_of(loaded, "B", "S") == ((3,), (0,))  # the flags win
    with pytest.raises(LivegenError, match="distinct SATB letters"):
        bench.voices_of(loaded, "melody", "ATB")
    single = Loaded(loaded.model, make_codec("poly"), {}, Path("poly.pt"))
    with pytest.raises(LivegenError, match="poly model: the checks need a parts model"):
        bench.voices_of(single, "S", "ATB")
    unnamed = Loaded(loaded.model, PartsCodec(), {}, Path("unnamed.pt"))  # melody, accompaniment
    with pytest.raises(LivegenError, match="--yours S --mine ATB"):
        bench.voices_of(unnamed, None, None)


def test_the_guards_flag_reads_on_off_and_guard_names(bench):
    from livegen.voice_guards import ALL, GuardChoice

    assert bench.guard_choice("off", 16) is None and bench.guard_choice("on", 16) == ALL
    two = GuardChoice(True, True, parallels=False, consonance=False, under=False, key_after=8)
    assert bench.guard_choice("range,key", 8) == two
    with pytest.raises(LivegenError, match="some of range,key,parallels,consonance,under"):
        bench.guard_choice("rnage", 16)
    result = {"model": "x/chorale_bass.pt", "guards": "on", "key_after": 16, "temperature": 0.9}
    assert bench.entry_name({**result, "split": "test"}) == "chorale_bass, guards on"
    assert bench.entry_name({**result, "split": "valid"}) == "chorale_bass, guards on, valid"
