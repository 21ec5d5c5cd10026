"""FluidSynth: the soundfont search, the one-line errors, the commands, rendering to WAV.

The parsing tests read the tools' real output formats, copied here; the rendering tests run
the real ``fluidsynth`` (skipped where it is missing, except in CI, which installs it).
"""

from __future__ import annotations

import os
import shutil
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

from livegen import synth, synth_alsa, synth_jack
from livegen.cli import main
from livegen.errors import LivegenError
from livegen.synth import SynthError

SF2_HEAD = b"RIFF\x00\x00\x00\x00sfbk"


def fake_sf2(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(SF2_HEAD + bytes(32))
    return path


@pytest.fixture
def sf2_dirs(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """Two empty soundfont folders searched instead of the machine's: Debian's, Homebrew's."""
    debian, brew = tmp_path / "sounds" / "sf2", tmp_path / "homebrew" / "soundfonts"
    monkeypatch.setattr(synth, "SOUNDFONT_DIRS", (debian, brew))
    monkeypatch.setattr(synth, "HOMEBREW_DIRS", (brew,))
    return debian, brew


# ---- the soundfont search ---------------------------------------------------------------------
def test_an_explicit_soundfont_wins_over_installed_ones(sf2_dirs, tmp_path):
    fake_sf2(sf2_dirs[0] / "FluidR3_GM.sf2")
    mine = fake_sf2(tmp_path / "mine.sf2")
    assert synth.find_soundfont(mine) == mine


def test_the_search_order_is_fluidr3_then_timgm6mb_then_default_gm(sf2_dirs):
    debian, brew = sf2_dirs
    fake_sf2(debian / "default-GM.sf2")
    assert synth.find_soundfont() == debian / "default-GM.sf2"
    fake_sf2(brew / "TimGM6mb.sf2")
    assert synth.find_soundfont() == brew / "TimGM6mb.sf2"
    fake_sf2(debian / "TimGM6mb.sf2")  # the same name: the Debian folder first
    assert synth.find_soundfont() == debian / "TimGM6mb.sf2"
    fake_sf2(debian / "FluidR3_GM.sf2")
    assert synth.find_soundfont() == debian / "FluidR3_GM.sf2"


def test_homebrews_default_sf2_is_found_last(sf2_dirs):
    fake_sf2(sf2_dirs[1] / "default.sf2")
    assert synth.find_soundfont() == sf2_dirs[1] / "default.sf2"


def test_a_file_that_is_not_a_soundfont_is_skipped_or_refused(sf2_dirs, tmp_path):
    (sf2_dirs[0]).mkdir(parents=True)
    (sf2_dirs[0] / "FluidR3_GM.sf2").write_bytes(b"<html>not found</html>")  # a bad download
    fake_sf2(sf2_dirs[0] / "TimGM6mb.sf2")
    assert synth.find_soundfont() == sf2_dirs[0] / "TimGM6mb.sf2"
    with pytest.raises(SynthError, match="is not a SoundFont 2 file") as err:
        synth.find_soundfont(sf2_dirs[0] / "FluidR3_GM.sf2")
    assert "FluidR3_GM.sf2" in str(err.value) and "\n" not in str(err.value)


def test_a_missing_explicit_soundfont_names_it(sf2_dirs, tmp_path):
    with pytest.raises(SynthError, match=r"soundfont .*nowhere\.sf2 not found: pass --soundfont"):
        synth.find_soundfont(tmp_path / "nowhere.sf2")


@pytest.mark.parametrize(
    ("platform", "words"),
    [("linux", "apt-get install fluidsynth timgm6mb-soundfont"), ("darwin", "brew install")],
)
def test_no_soundfont_says_how_to_install_one(sf2_dirs, monkeypatch, platform, words):
    monkeypatch.setattr(synth.sys, "platform", platform)
    with pytest.raises(SynthError) as err:
        synth.find_soundfont()
    line = str(err.value)
    assert line.startswith("no General MIDI soundfont found") and words in line, line
    assert "\n" not in line and isinstance(err.value, LivegenError)


def test_no_fluidsynth_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(SynthError, match="fluidsynth is not installed; install it with: sudo apt"):
        synth.find_fluidsynth()


# ---- the commands ----------------------------------------------------------------------------
def test_on_jack_fluidsynth_uses_jack_for_audio_and_midi_and_opens_no_listener():
    cmd = synth.synth_command("jack", "/usr/bin/fluidsynth", Path("/x/gm.sf2"), "livegen-synth")
    text = " ".join(cmd)
    assert "-a jack -m jack" in text and "midi.jack.id=livegen-synth" in text
    assert "-s" not in cmd and "--server" not in cmd  # its TCP shell server stays off
    assert cmd[-1] == "/x/gm.sf2"


def test_on_alsa_fluidsynth_uses_the_sequencer_and_the_sound_server_when_there_is_one(tmp_path):
    cmd = synth.synth_command("alsa", "fluidsynth", Path("gm.sf2"), "livegen-synth")
    assert "alsa_seq" in cmd and "midi.alsa_seq.id=livegen-synth" in cmd
    assert synth.alsa_audio_driver(str(tmp_path)) == "alsa"
    (tmp_path / "pulse").mkdir()
    (tmp_path / "pulse" / "native").touch()  # PulseAudio's (or pipewire-pulse's) socket
    assert synth.alsa_audio_driver(str(tmp_path)) == "pulseaudio"


def test_other_backends_say_what_to_do_instead():
    with pytest.raises(SynthError, match="--synth works with JACK or ALSA ports, not coremidi"):
        synth.synth_command("coremidi", "fluidsynth", Path("gm.sf2"), "livegen-synth")


def test_render_command_is_fluidsynths_fast_offline_render():
    cmd = synth.render_command("fluidsynth", Path("gm.sf2"), Path("in.mid"), Path("out.wav"))
    assert cmd == ["fluidsynth", "-ni", "-q", "-T", "wav", "-F", "out.wav", "-r", "44100"] + [
        "gm.sf2",
        "in.mid",
    ]


def test_a_fluidsynth_that_cannot_start_says_why(monkeypatch):
    _need_fluidsynth()
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"livegen-none-{os.getpid()}")  # no such server
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    cmd = synth.synth_command("jack", synth.find_fluidsynth(), synth.find_soundfont(), "x")
    started = synth.spawn(cmd, "x")
    try:
        with pytest.raises(SynthError, match="fluidsynth exited with status .* Jack server"):
            synth.wait_for(started, lambda: None, timeout=30)
    finally:
        started.stop()
    assert not started.log_path.exists()


def test_a_port_that_never_appears_is_a_bounded_wait_and_the_child_is_stopped():
    started = synth.spawn(["sleep", "60"], "livegen-synth")  # a child that never opens a port
    with pytest.raises(SynthError, match="'livegen-synth' did not appear within 0 s; is the JACK"):
        synth.wait_for(started, lambda: None, timeout=0.2)
    started.stop(timeout=0.5)  # sleep ignores end of input: terminated
    assert not started.alive() and started.proc.returncode == -15


# ---- the patch tools' output ---------------------------------------------------------------------
JACK_LSP = """\
system:playback_1
\tproperties: input,physical,terminal,
\t32 bit float mono audio
system:playback_2
\tproperties: input,physical,terminal,
\t32 bit float mono audio
livegen-out:livegen out
\tproperties: output,terminal,
\t8 bit raw midi
livegen-synth:midi_00
\tproperties: input,terminal,
\t8 bit raw midi
livegen-synth:left
\tproperties: output,
\t32 bit float mono audio
livegen-synth:right
\tproperties: output,
\t32 bit float mono audio
"""


def test_jack_ports_are_found_by_direction_and_type():
    ports = synth_jack.parse_lsp(JACK_LSP)
    assert ports["livegen-out:livegen out"] == ["properties: output,terminal,", "8 bit raw midi"]
    assert synth_jack.synth_input("livegen-synth", ports) == "livegen-synth:midi_00"
    assert synth_jack.synth_input("livegen-synth-7", ports) is None
    assert synth_jack.playback_pairs("livegen-synth", ports) == [
        ("livegen-synth:left", "system:playback_1"),
        ("livegen-synth:right", "system:playback_2"),
    ]


def test_a_jack_server_without_a_sound_card_gets_no_audio_connection():
    one = JACK_LSP.index("system:playback_2")
    mono = synth_jack.parse_lsp(JACK_LSP[:one] + JACK_LSP[JACK_LSP.index("livegen-out") :])
    dummy = synth_jack.parse_lsp(JACK_LSP.replace("physical,", ""))
    assert synth_jack.playback_pairs("livegen-synth", dummy) == []
    assert synth_jack.playback_pairs("livegen-synth", mono) == [
        ("livegen-synth:left", "system:playback_1"),
        ("livegen-synth:right", "system:playback_1"),
    ]


ACONNECT_O = """\
client 14: 'Midi Through' [type=kernel]
    0 'Midi Through Port-0'
client 128: 'livegen' [type=user,pid=4242]
    0 'livegen in       '
client 129: 'FLUID Synth (livegen-synth)' [type=user,pid=4250]
    0 'Synth input port (livegen-synth:0)'
"""


def test_alsa_clients_and_addresses_are_read_from_aconnect():
    clients = synth_alsa.parse_aconnect(ACONNECT_O)
    assert clients[0] == (14, "Midi Through", [0]) and clients[2][0] == 129
    assert synth_alsa.synth_input("livegen-synth", ACONNECT_O) == "129:0"
    assert synth_alsa.synth_input("livegen-synth-9", ACONNECT_O) is None
    assert synth.parse_client_port("livegen:livegen out 128:1") == "128:1"
    assert synth.parse_client_port("livegen out") is None


def test_a_missing_patch_tool_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(SynthError, match="aconnect is not installed; .*alsa-utils"):
        synth_alsa.synth_input("livegen-synth")
    with pytest.raises(SynthError, match="jack_lsp is not installed; .*jackd2"):
        synth_jack.list_ports()


# ---- rendering with the real FluidSynth ---------------------------------------------------------
def _need_fluidsynth() -> None:
    missing = shutil.which("fluidsynth") is None
    try:
        synth.find_soundfont()
    except SynthError:
        missing = True
    if missing:
        reason = "fluidsynth or a GM soundfont is missing; " + synth.install_hint()
        if os.environ.get("LIVEGEN_REQUIRE_SYNTH"):  # CI installs them: a skip would hide it
            pytest.fail(reason)
        pytest.skip(reason)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 2
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        return frames.reshape(-1, 2).astype(np.float64) / 32768, w.getframerate()


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def test_generate_renders_the_continuation_of_folk_melody_to_audio(tmp_path, capsys):
    _need_fluidsynth()
    mid, wav = tmp_path / "out.mid", tmp_path / "out.wav"
    argv = ["generate", "--checkpoint", "folk_melody", "--bars", "2", "--seed", "1"]
    assert main([*argv, "-o", str(mid), "--wav", str(wav)]) == 0
    assert f"wrote {wav}" in capsys.readouterr().out
    audio, rate = read_wav(wav)
    assert rate == synth.RENDER_RATE
    midi = mido.MidiFile(mid)
    seconds = len(audio) / rate
    # FluidSynth renders to the last note-off, then lets the voices ring out (about 3 s).
    assert midi.length <= seconds <= midi.length + 5, (seconds, midi.length)
    # The continuation sounds, not only the primer: its own notes' span is loud too.
    tempo = next(m.tempo for m in midi.tracks[0] if m.type == "set_tempo")
    ons = [t for t, m in _timed(midi.tracks[1], midi.ticks_per_beat, tempo) if m.type == "note_on"]
    assert ons, "the continuation has no notes"
    span = audio[round(ons[0] * rate) : round(midi.length * rate)]
    assert rms(span) > 0.001, rms(span)  # silence renders at 3e-5 (one step of 16 bits)
    assert not list(tmp_path.glob("*.part")), "the partial file was left behind"


def _timed(track, ticks_per_beat: int, tempo: int):
    now = 0
    for msg in track:
        now += msg.time
        yield mido.tick2second(now, ticks_per_beat, tempo), msg


def test_generate_with_wav_alone_writes_only_the_wav(tmp_path):
    _need_fluidsynth()
    wav = tmp_path / "only.wav"
    argv = ["generate", "--checkpoint", "folk_melody", "--bars", "1", "--seed", "2"]
    assert main([*argv, "--wav", str(wav)]) == 0
    assert rms(read_wav(wav)[0]) > 0.001
    assert sorted(p.name for p in tmp_path.iterdir()) == ["only.wav"]


def test_a_render_that_fails_is_one_line_and_leaves_no_file(tmp_path):
    _need_fluidsynth()
    garbage, wav = tmp_path / "garbage.mid", tmp_path / "out.wav"
    garbage.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(SynthError, match="fluidsynth could not render garbage.mid") as err:
        synth.render_wav(garbage, wav, synth.find_soundfont())
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == [garbage]


def test_generate_wav_without_a_soundfont_fails_before_the_work(sf2_dirs, tmp_path, capsys):
    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth is not installed")
    wav = tmp_path / "out.wav"
    assert main(["generate", "--bars", "1", "--wav", str(wav)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("livegen: error: no General MIDI soundfont found") and "\n" not in err
    assert not wav.exists()


def test_generate_needs_somewhere_to_write(capsys):
    assert main(["generate", "--bars", "1"]) == 2
    assert "-o OUT.mid, --wav OUT.wav or both" in capsys.readouterr().err
