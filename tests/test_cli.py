"""The ``livegen`` command line, run in-process: help, info, generate, one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import mido
import pytest
import torch

from livegen import checkpoint
from livegen.cli import main
from livegen.codecs import make_codec
from livegen.model import LSTMModel, ModelConfig


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse exits for --help and usage errors
        return int(e.code or 0)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    codec = make_codec("melody")
    torch.manual_seed(0)
    model = LSTMModel(ModelConfig(vocab_size=codec.vocab_size, n_layer=1, n_hidden=16, n_embd=8))
    path = tmp_path_factory.mktemp("ckpt") / "tiny_melody.pt"
    checkpoint.save(
        path,
        model,
        codec,
        data={"source": "tiny-corpus", "pieces": {"train": 8, "valid": 1, "test": 1}},
        config={},
        metrics={"val_nll": 1.25, "val_acc": 0.5, "train_seconds": 3.0, "nll_unit": "nats"},
    )
    return path


@pytest.mark.parametrize("command", [[], ["generate"], ["info"], ["ports"], ["run"], ["panel"]])
def test_help(command, capsys):
    assert run([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: livegen")


def test_info_describes_the_checkpoint(tiny_ckpt, capsys):
    assert run(["info", str(tiny_ckpt)]) == 0
    out = capsys.readouterr().out
    assert "melody(" in out
    assert "ticks per quarter" in out and "tiny-corpus" in out and "1.2500" in out
    assert "step path" in out


def test_generate_writes_midi_and_png(tiny_ckpt, tmp_path, capsys):
    out, png = tmp_path / "out.mid", tmp_path / "out.png"
    argv = ["generate", "--checkpoint", str(tiny_ckpt), "--bars", "2", "--seed", "3"]
    assert run([*argv, "-o", str(out), "--plot", str(png)]) == 0
    assert len(mido.MidiFile(out).tracks) == 2
    assert png.read_bytes().startswith(b"\x89PNG")
    printed = capsys.readouterr().out
    assert "seed 3" in printed and str(out) in printed
    again = tmp_path / "again.mid"
    assert run([*argv, "-o", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()  # same seed, same file


def expect_error(argv: list[str], capsys, *fragments: str) -> str:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("livegen: error: ")
    assert err.count("\n") == 1 and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err
    return err


def test_missing_checkpoint(tmp_path, capsys):
    missing = tmp_path / "missing.pt"
    expect_error(["info", str(missing)], capsys, "missing.pt")
    argv = ["generate", "--checkpoint", "no_such_model_name", "-o", str(tmp_path / "x.mid")]
    expect_error(argv, capsys, "no_such_model_name")


def test_bad_checkpoint_file(tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    expect_error(["info", str(junk)], capsys, "junk.pt")


def test_bad_primer(tiny_ckpt, tmp_path, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"garbage")
    argv = ["generate", "--checkpoint", str(tiny_ckpt), "-o", str(tmp_path / "o.mid")]
    expect_error([*argv, "--primer", str(bad)], capsys, "bad.mid")
    expect_error([*argv, "--primer", str(tmp_path / "nope.mid")], capsys, "nope.mid")


def test_empty_primer(tiny_ckpt, tmp_path, capsys):
    empty = tmp_path / "empty.mid"
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("end_of_track", time=0)]))
    midi.save(empty)
    argv = ["generate", "--checkpoint", str(tiny_ckpt), "--primer", str(empty)]
    expect_error([*argv, "-o", str(tmp_path / "o.mid")], capsys, "empty.mid", "no notes")


def test_unwritable_output(tiny_ckpt, tmp_path, capsys):
    argv = ["generate", "--checkpoint", str(tiny_ckpt), "--bars", "1"]
    expect_error([*argv, "-o", str(tmp_path / "no" / "dir" / "o.mid")], capsys, "o.mid")


@pytest.fixture
def panel_run(monkeypatch, tmp_path):
    """Bare ``livegen`` with a fake engine client and the app not run: what it built."""
    from livegen.client import EngineClient
    from livegen.tui import launch as tui_launch
    from tests.tui.helpers import FakeEngineClient

    monkeypatch.setenv("LIVEGEN_CONFIG_DIR", str(tmp_path / "config"))
    built: dict = {}

    def open_engine(cfg, *, start_jack=False):
        built.update(cfg=cfg, start_jack=start_jack)
        return FakeEngineClient(temperature=cfg.temperature, mode=cfg.mode, bpm=cfg.bpm)

    def run_panel(app):
        built["app"] = app
        app.shutdown()
        return 0

    monkeypatch.setattr(EngineClient, "open", open_engine)
    monkeypatch.setattr(tui_launch, "run_panel", run_panel)
    return built


def test_bare_livegen_opens_the_panel(panel_run):
    assert run([]) == 0
    assert panel_run["app"].engine.snapshot().model == "tiny_a_melody"
    assert panel_run["cfg"].checkpoint == "folk_melody" and panel_run["start_jack"] is False


def test_bare_livegen_takes_the_live_options_over_the_remembered_ones(panel_run, tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "state.yaml").write_text("temperature: 0.5\nmode: accompany\n")
    assert run(["--bpm", "90", "--mode", "free", "--start-jack"]) == 0
    cfg = panel_run["cfg"]
    assert (cfg.bpm, cfg.mode, cfg.temperature) == (90, "free", 0.5)
    assert panel_run["start_jack"] is True
    assert run(["panel", "--temperature", "1.1"]) == 0
    assert panel_run["cfg"].temperature == 1.1


def test_a_preset_at_start_sits_over_the_remembered_settings_and_under_the_flags(
    panel_run, tmp_path
):
    config = tmp_path / "config"
    (config / "presets").mkdir(parents=True)
    (config / "state.yaml").write_text("temperature: 0.5\nmode: accompany\ncc: {reset: 9}\n")
    (config / "presets" / "mine.yaml").write_text("temperature: 1.2\nbpm: 70\ncc: {panic: 3}\n")
    assert run(["--preset", "mine", "--bpm", "90"]) == 0
    cfg = panel_run["cfg"]
    assert (cfg.temperature, cfg.bpm, cfg.mode, cfg.cc) == (1.2, 90, "accompany", {"panic": 3})


def test_a_bad_preset_at_start_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LIVEGEN_CONFIG_DIR", str(tmp_path))
    expect_error(["run", "--preset", "nope"], capsys, "no preset named 'nope'", "ballad")
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "typo.yaml").write_text("mode: free\ntempo: 90\n")
    expect_error(["run", "--preset", "typo"], capsys, "typo.yaml", "unknown key 'tempo'")


def test_bare_livegen_with_a_missing_checkpoint(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LIVEGEN_CONFIG_DIR", str(tmp_path))
    expect_error(["--checkpoint", "no_such_model"], capsys, "no_such_model")
    assert run(["--channel", "0"]) == 2
    assert "must be 1..16, not 0" in capsys.readouterr().err


def test_run_with_a_missing_checkpoint(capsys):
    expect_error(["run", "--checkpoint", "no_such_model"], capsys, "no_such_model")


def test_run_with_a_garbage_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    expect_error(["run", "--checkpoint", str(bad)], capsys, "bad.pt")


def test_run_with_a_broken_live_config(tmp_path, capsys):
    cfg = tmp_path / "live.yaml"
    cfg.write_text("tempo: 90\n")
    expect_error(["run", "--config", str(cfg)], capsys, "live.yaml", "tempo")


def test_run_option_out_of_range_is_a_usage_error(capsys):
    assert run(["run", "--channel", "17"]) == 2
    assert "must be 1..16, not 17" in capsys.readouterr().err


@pytest.mark.skipif(os.path.exists("/dev/snd/seq"), reason="this machine has an ALSA sequencer")
def test_run_with_no_midi_backend_says_how_to_fix_it(tiny_ckpt, monkeypatch, capsys):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "livegen-test-no-such-server")
    text = expect_error(["run", "--checkpoint", str(tiny_ckpt)], capsys, "no MIDI backend")
    assert "--start-jack" in text


def test_any_livegen_error_in_a_subcommand_is_one_line(monkeypatch, capsys):
    from livegen import midi_io
    from livegen.errors import LivegenError

    class SomeNewError(LivegenError):
        pass

    def broken(backend):
        raise SomeNewError("the ports are\n   somewhere else;   look there")

    monkeypatch.setattr(midi_io, "list_ports", broken)
    expect_error(["ports"], capsys, "livegen: error: the ports are somewhere else; look there")


def test_a_bug_keeps_its_traceback(monkeypatch):
    from livegen import midi_io

    def broken(backend):
        raise RuntimeError("a bug, not a user error")

    monkeypatch.setattr(midi_io, "list_ports", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["ports"])


def test_every_user_error_class_is_a_livegen_error():
    from livegen.checkpoint import CheckpointError
    from livegen.cli import CliError
    from livegen.codecs.base import CodecError
    from livegen.data import DataError
    from livegen.errors import LivegenError
    from livegen.generate import GenerateError
    from livegen.jack import JackError
    from livegen.midi_io import PortError
    from livegen.midifile import MidiFileError
    from livegen.recipe import ConfigError

    value_errors = (CheckpointError, CodecError, ConfigError, DataError, GenerateError)
    for cls in (*value_errors, MidiFileError, CliError, JackError, PortError):
        assert issubclass(cls, LivegenError), cls
    for cls in (*value_errors, MidiFileError):
        assert issubclass(cls, ValueError), cls  # callers catch these as ValueError
    assert issubclass(JackError, RuntimeError) and issubclass(PortError, RuntimeError)


@pytest.mark.parametrize("command", ["run", "panel"])
def test_every_live_setting_but_cc_has_a_flag(command):
    import dataclasses

    from livegen.cli import build_parser
    from livegen.live_config import LiveConfig

    sub = build_parser()._subparsers._group_actions[0].choices[command]
    by_flag = {flag: action for action in sub._actions for flag in action.option_strings}
    for field in dataclasses.fields(LiveConfig):
        flag = "--" + field.name.replace("_", "-")
        if field.name == "cc":  # a mapping: YAML only
            assert flag not in by_flag
            continue
        assert flag in by_flag, f"LiveConfig.{field.name} has no {flag}"
        assert by_flag[flag].dest == field.name and by_flag[flag].help


def test_live_flags_reach_the_config_spelled_as_today():
    from livegen.cli import _live_config, build_parser

    def config(*flags):
        return _live_config(build_parser().parse_args(["run", *flags]))

    assert config() == config("--no-clock-out", "--virtual")  # the shipped YAML's values
    cfg = config("--channel", "16", "--passthrough", "--top-p", "0.5", "--connect", "--seed", "7")
    assert (cfg.channel, cfg.passthrough, cfg.top_p, cfg.virtual, cfg.seed) == (
        15,
        True,
        0.5,
        False,
        7,
    )
    cfg = config("--mode", "free", "--no-realtime", "--queue-size", "64", "--key", "D dorian")
    assert (cfg.mode, cfg.realtime, cfg.queue_size, cfg.key) == ("free", False, 64, "D dorian")
    assert config().guards is True and config("--no-guards").guards is False


def test_model_is_another_spelling_of_checkpoint():
    from livegen.cli import _live_config, build_parser

    for command in ("run", "panel"):
        args = build_parser().parse_args([command, "--model", "piano_poly"])
        assert _live_config(args).checkpoint == "piano_poly"


def test_run_help_explains_each_option_and_its_default(capsys):
    assert run(["run", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--top-p P nucleus sampling; 1 keeps all tokens (default: 1.0)" in out
    assert "--channel 1-16 output MIDI channel (default: 1)" in out
    assert "--passthrough, --no-passthrough echo the player's notes" in out


def test_a_live_value_out_of_range_is_one_line(capsys):
    expect_error(["run", "--bpm", "1000"], capsys, "bpm", "1000")


def test_info_names_the_parts_of_a_parts_model_and_one_stream_otherwise(
    tiny_ckpt, tmp_path, capsys
):
    codec = make_codec("parts", yours="soprano", mine="alto, tenor, bass", yours_max_notes=1)
    model = LSTMModel(ModelConfig(vocab_size=codec.vocab_size, n_layer=1, n_hidden=16, n_embd=8))
    path = tmp_path / "tiny_harmony.pt"
    checkpoint.save(path, model, codec, data={}, config={}, metrics={})
    assert run(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "parts:      you soprano (C2..C6, one note at a time); livegen alto, tenor, bass" in out
    assert run(["info", str(tiny_ckpt)]) == 0
    assert "parts:      one stream, shared by you and livegen" in capsys.readouterr().out


def test_info_lists_a_style_models_styles_by_number(tiny_ckpt, tmp_path, capsys):
    codec = make_codec("poly", low=36, high=96)
    cfg = ModelConfig(codec.vocab_size, n_layer=1, n_hidden=16, n_embd=8, styles=("folk", "fiddle"))
    path = tmp_path / "tiny_style.pt"
    checkpoint.save(path, LSTMModel(cfg), codec, data={}, config={}, metrics={})
    assert run(["info", str(path)]) == 0
    assert "styles:     0 folk, 1 fiddle  (livegen run --style N" in capsys.readouterr().out
    assert checkpoint.load(path).model.cfg.styles == ("folk", "fiddle")
    assert run(["info", str(tiny_ckpt)]) == 0
    assert "styles:" not in capsys.readouterr().out  # a model without styles has no line
