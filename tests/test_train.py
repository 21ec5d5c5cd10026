"""The training loop end to end on tiny data: train -> save -> load -> generate, a fixed
seed gives the same run, resume, the pianoroll (bl2012 JSON) path, and train.py's errors."""

from __future__ import annotations

import json
import math

import mido
import numpy as np
import pytest

from livegen import checkpoint
from livegen.cli import main as livegen_main
from livegen.codecs import make_codec
from livegen.config import load_config
from livegen.data import Piece
from livegen.midifile import write_midi
from livegen.notes import make_notes
from livegen.train import Encoded, train
from livegen.train import main as train_main

TINY = "configs/tiny.yaml"


@pytest.fixture(scope="module")
def midi_folder(tmp_path_factory):
    """Twelve small tunes as MIDI files: a folder source, as a user would give one."""
    folder = tmp_path_factory.mktemp("tunes")
    rng = np.random.default_rng(0)
    for k in range(12):
        pitches = 60 + np.cumsum(rng.integers(-2, 3, 24)) % 12
        notes = make_notes([(int(p), i * 0.5, i * 0.5 + 0.5) for i, p in enumerate(pitches)])
        write_midi(folder / f"tune{k:02d}.mid", notes, make_notes([]))
    return folder


def tiny_config(midi_folder, tmp_path, *extra: str):
    overrides = [
        f"--data.source={midi_folder}",
        "--data.limit=null",
        f"--data.cache_dir={tmp_path / 'cache'}",
        f"--train.out={tmp_path / 'run'}",
        "--train.name=tiny",
        "--train.threads=1",
        *extra,
    ]
    return load_config(TINY, overrides)


def test_train_save_load_generate(midi_folder, tmp_path):
    metrics = train(tiny_config(midi_folder, tmp_path, "--train.epochs=2"), progress=False)
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} >= {"tiny.pt", "tiny.metrics.json", "tiny.loss.png"}
    assert math.isfinite(metrics["val_nll"]) and 0 <= metrics["val_acc"] <= 1
    assert math.isfinite(metrics["test_nll"])
    saved = json.loads((run / "tiny.metrics.json").read_text())
    assert [h["epoch"] for h in saved["history"]] == [1, 2]
    assert saved["data"]["pieces"]["train"] >= 8

    loaded = checkpoint.load(run / "tiny.pt")
    assert loaded.codec.name == "melody"
    assert loaded.meta["metrics"]["val_nll"] == pytest.approx(metrics["val_nll"])

    out = tmp_path / "out.mid"
    argv = ["generate", "--checkpoint", str(run / "tiny.pt"), "--bars", "2", "--seed", "1"]
    assert livegen_main([*argv, "--primer", str(midi_folder / "tune00.mid"), "-o", str(out)]) == 0
    ons = [m for t in mido.MidiFile(out).tracks for m in t if m.type == "note_on" and m.velocity]
    assert len(ons) > 24  # the primer's 24 notes and at least one answered


def test_metric_training_saves_loads_and_generates(midi_folder, tmp_path):
    """tiny.yaml with model.metric: the positions go with every chunk, the flag with the file."""
    cfg = tiny_config(midi_folder, tmp_path, "--model.metric=true", "--data.beats_per_bar=3")
    metrics = train(cfg, progress=False)
    assert math.isfinite(metrics["val_nll"]) and math.isfinite(metrics["test_nll"])
    loaded = checkpoint.load(tmp_path / "run" / "tiny.pt")
    assert loaded.model.cfg.metric and loaded.model.cfg.metric_tpq == 4
    plain = train(tiny_config(midi_folder, tmp_path / "plain"), progress=False)
    assert metrics["val_nll"] != plain["val_nll"]  # the positions did reach the model
    assert checkpoint.load(tmp_path / "plain" / "run" / "tiny.pt").model.cfg.metric is False
    out = tmp_path / "out.mid"
    argv = ["generate", "--checkpoint", str(tmp_path / "run" / "tiny.pt"), "--bars", "2"]
    assert livegen_main([*argv, "--primer", str(midi_folder / "tune00.mid"), "-o", str(out)]) == 0


def test_a_fixed_seed_gives_the_same_run(midi_folder, tmp_path):
    a = train(tiny_config(midi_folder, tmp_path / "a"), progress=False)
    b = train(tiny_config(midi_folder, tmp_path / "b"), progress=False)
    assert a["val_nll"] == b["val_nll"]
    c = train(tiny_config(midi_folder, tmp_path / "c", "--train.seed=7"), progress=False)
    assert c["val_nll"] != a["val_nll"]


def test_resume_continues_an_interrupted_run_exactly(midi_folder, tmp_path, monkeypatch):
    import livegen.train as loop

    cfg = tiny_config(midi_folder, tmp_path, "--train.epochs=3")
    real_evaluate, calls = loop.evaluate, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # during epoch 3's validation: as if Ctrl-C came then
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=False)
    monkeypatch.setattr(loop, "evaluate", real_evaluate)
    resumed = train(cfg, resume=True, progress=False)
    straight = train(tiny_config(midi_folder, tmp_path / "s", "--train.epochs=3"), progress=False)
    history = json.loads((tmp_path / "run" / "tiny.metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert resumed["val_nll"] == pytest.approx(straight["val_nll"], rel=1e-6)


def test_the_recipe_step_length_reaches_the_loader(tmp_path, monkeypatch):
    """A user's copy of the Piano-midi.de split under any name is read in eighth notes."""
    import livegen.train as loop
    from livegen.data import DataError

    seen: dict = {}

    def load(source, **kwargs):
        seen.update(kwargs, source=source)
        raise DataError("read no further")

    monkeypatch.setattr(loop, "load_pieces", load)
    cfg = load_config(
        "configs/piano_poly.yaml", ["--source=my_copy.json", f"--train.out={tmp_path}"]
    )
    with pytest.raises(DataError, match="read no further"):
        train(cfg, progress=False)
    assert seen["source"] == "my_copy.json" and seen["step_quarters"] == 0.5


def test_pianoroll_on_a_bl2012_json(tmp_path):
    rng = np.random.default_rng(1)

    def piece():
        return [sorted({int(p) for p in rng.integers(48, 80, 3)}) for _ in range(20)]

    data = {s: [piece() for _ in range(n)] for s, n in (("train", 6), ("valid", 2), ("test", 2))}
    path = tmp_path / "rolls.json"
    path.write_text(json.dumps(data))
    cfg = load_config(
        TINY,
        [
            f"--data.source={path}",
            "--data.limit=null",
            "--data.transpose=0",
            f"--data.cache_dir={tmp_path / 'cache'}",
            "--codec.name=pianoroll",
            "--codec.params={ticks_per_quarter: 1}",
            f"--train.out={tmp_path / 'run'}",
            "--train.name=roll",
            "--train.threads=1",
        ],
    )
    metrics = train(cfg, progress=False)
    # Per frame, summed over 88 keys: an untrained model is near 88 * ln 2 = 61 nats.
    assert 1 < metrics["val_nll"] < 88 * math.log(2) + 5
    assert metrics["nll_unit"].startswith("nats per frame")
    assert checkpoint.load(tmp_path / "run" / "roll.pt").codec.name == "pianoroll"


def test_a_lead_in_puts_silent_ticks_before_each_piece():
    """With lead_in, a piece's first tick is a target after a STEP, as live after silence."""
    codec = make_codec("poly", ticks_per_quarter=2)
    piece = Piece("p", make_notes([(60, 0, 1), (64, 0.5, 1.5)]))
    plain = Encoded(codec, [piece], [0]).plain()[0].tolist()
    led = Encoded(codec, [piece], [0], lead_in=2).plain()[0].tolist()
    assert led == [codec.step, codec.step, *plain]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--config", TINY, "--train.epoch=3"], ["epoch", "epochs"]),
        (["--config", TINY, "--lr=fast"], ["lr"]),
        (["--config", TINY, "--data.source=/no/such/folder"], ["/no/such/folder"]),
        (["--config", "configs/none.yaml"], ["none.yaml", "not found"]),
    ],
)
def test_train_py_errors_are_one_line(args, words, capsys):
    assert train_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("train.py: error: ") and "Traceback" not in err
    for word in words:
        assert word in err


def test_too_few_pieces_is_one_line(tmp_path, capsys):
    folder = tmp_path / "one"
    folder.mkdir()
    write_midi(folder / "only.mid", make_notes([(60, 0, 1), (62, 1, 2)]), make_notes([]))
    args = ["--config", TINY, f"--data.source={folder}", f"--data.cache_dir={tmp_path}"]
    out = f"--train.out={tmp_path / 'run'}"
    assert train_main([*args, "--data.limit=null", out, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("train.py: error: ") and "too few pieces" in err


def test_a_lead_in_does_not_move_the_bar():
    """The first bar starts at the piece's first note, after the silence before it."""
    codec = make_codec("melody")
    piece = Piece("p", make_notes([(60, 0, 1), (62, 1, 2)]))
    plain = Encoded(codec, [piece], [0], beats_per_bar=3)
    led = Encoded(codec, [piece], [0], lead_in=2, beats_per_bar=3)
    pos_plain = plain.positions(plain.plain())[0]
    pos_led = led.positions(led.plain())[0]
    assert pos_led.tolist()[2:] == pos_plain.tolist()
    assert pos_led.tolist()[:2] == [10, 11]  # the end of the bar before, in 3/4 of 16ths


def test_a_piece_that_gives_its_meter_is_read_in_it():
    codec = make_codec("melody")

    class Waltz(Piece):
        beats_per_bar = 3

    pieces = [Waltz("w", make_notes([(60, 0, 4)])), Piece("p", make_notes([(60, 0, 4)]))]
    enc = Encoded(codec, pieces, [0], beats_per_bar=4)
    assert enc.meters == [3, 4]
    waltz, common = enc.positions(enc.plain())
    assert waltz[12] == 0 and common[12] == 12


def test_a_style_model_trains_on_two_sources_and_keeps_its_styles(midi_folder, tmp_path):
    """data.styles: the style names go into the checkpoint, each source into its style."""
    import yaml

    recipe = tmp_path / "style.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {"base": str(__import__("pathlib").Path(TINY).resolve()),
             "data": {"styles": {"a": str(midi_folder), "b": str(midi_folder)}},
             "codec": {"name": "poly", "params": {"ticks_per_quarter": 4}}}
        )
    )  # fmt: skip
    overrides = [f"--data.cache_dir={tmp_path / 'cache'}", f"--train.out={tmp_path / 'run'}",
                 "--train.name=tiny", "--train.threads=1", "--data.limit=null"]  # fmt: skip
    metrics = train(load_config(recipe, overrides), progress=False)
    assert math.isfinite(metrics["val_nll"]) and math.isfinite(metrics["test_nll"])
    loaded = checkpoint.load(tmp_path / "run" / "tiny.pt")
    assert loaded.model.cfg.styles == ("a", "b")
    assert set(loaded.meta["data"]["styles"]) == {"a", "b"}
    assert loaded.meta["data"]["pieces"]["train"] == 2 * 10


def test_a_tuning_run_never_reads_the_test_split(midi_folder, tmp_path, monkeypatch):
    """--train.read_test=false (a sweep run): valid every epoch, test never, no test figure."""
    import livegen.train as train_module

    scored: list[int] = []  # the number of sequences of each evaluate call
    real = train_module.evaluate

    def counting(model, sequences, *args, **kw):
        scored.append(len(sequences))
        return real(model, sequences, *args, **kw)

    monkeypatch.setattr(train_module, "evaluate", counting)
    cfg = tiny_config(midi_folder, tmp_path, "--train.epochs=2", "--train.read_test=false")
    metrics = train(cfg, progress=False)
    assert len(scored) == 2 and "test_nll" not in metrics  # one valid score per epoch
    saved = json.loads((tmp_path / "run" / "tiny.metrics.json").read_text())
    assert "test_nll" not in saved["metrics"]
    scored.clear()
    train(tiny_config(midi_folder, tmp_path / "b", "--train.epochs=2"), progress=False)
    assert len(scored) == 3  # and by default the test split, once, at the end
