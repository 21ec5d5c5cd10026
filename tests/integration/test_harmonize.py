"""``livegen run --mode harmonize`` through a real JACK server, played by a separate process.

The peer (``midi_peer.py``, its own process and JACK client) leads with MIDI clock and plays
a melody it wrote, each note half a tick after a tick line, so that only the harmonize
table can answer it within a fraction of a tick: an answer computed at a tick comes half a
tick late or more. At the peer: a harmony note-on follows every melody note-on within the
bound, and when the peer stops the clock nothing livegen struck is left sounding.

The model is a parameter: ``built`` is a fixture made here (the chorale_harmony shape; its
head strikes a chord at every tick, so every note has a harmony to wait for);
``chorale_harmony`` is the shipped model, key-locked to the melody's key (C major): every
note it strikes must be in key.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from livegen import checkpoint
from livegen.model import LSTMModel, ModelConfig
from tests.codecs.shapes import HARMONY
from tests.integration.events import XRUN_TRIES, hanging, note_events, xruns
from tests.integration.test_boundary import engine_child, gone

pytestmark = pytest.mark.jack

ROOT = Path(__file__).resolve().parents[2]
BPM, TPQ = 100.0, 4
TICK = 60.0 / (BPM * TPQ)  # 150 ms
BOUND = TICK / 4  # a harmony from the table; one from a tick comes TICK / 2 late at least
MELODY = [72, 74, 76, 74, 72, 71, 72, 79, 77, 76, 74, 72]  # one a quarter, from quarter 1
# The share of melody notes a model must answer with a fresh strike within BOUND (a trained
# model may hold its chord through a passing note; the built one strikes at every tick).
# Under every note, a harmony of livegen's must be sounding BOUND after it, whatever model.
ANSWERED = {"built": 1.0, "chorale_harmony": 0.75}
KEY = "C major"  # the melody's key; the shipped model runs key-locked to it, as a user would
C_MAJOR = {0, 2, 4, 5, 7, 9, 11}


def built_model(path: Path) -> Path:
    """A HARMONY-shaped model whose head always strikes C3 G3 E4 (then STEP): its logits are
    the head's bias alone, so every row of every table strikes a chord."""
    torch.manual_seed(0)
    model = LSTMModel(ModelConfig(HARMONY.vocab_size, n_layer=2, n_hidden=32, n_embd=8)).eval()
    names = HARMONY.token_names()
    with torch.no_grad():
        model.head.weight.zero_()
        bias = model.head.bias
        bias.fill_(-10.0)
        for name in ("M_ON(48)", "M_ON(55)", "M_ON(64)"):
            bias[names.index(name)] = 10.0
        bias[HARMONY.step] = 0.0
        bias[HARMONY.mid] = 0.0
    checkpoint.save(path, model, HARMONY, data={}, config={}, metrics={})
    return path


@pytest.fixture(params=sorted(ANSWERED))
def model(request, tmp_path) -> tuple[str, Path]:
    if request.param == "built":
        return "built", built_model(tmp_path / "built_harmony.pt")
    shipped = ROOT / "checkpoints" / "chorale_harmony.pt"
    assert shipped.exists(), "checkpoints/chorale_harmony.pt ships with livegen"
    return "chorale_harmony", shipped


def start_livegen(server, ckpt: Path, *flags: str, mode: str = "harmonize") -> subprocess.Popen:
    cmd = [sys.executable, "-m", "livegen.cli", "run", "--backend", "jack", *flags]
    cmd += ["--mode", mode, "--checkpoint", str(ckpt), "--temperature", "1"]
    cmd += ["--seed", "3", "--duration", "60"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60  # torch and the model load first
    line = ""
    while "listening on" not in line:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "livegen run did not open its ports"
    return proc


def lead_melody(peer, tmp_path: Path, rows: list, quarters: int) -> dict:
    """The peer leads with MIDI clock for ``quarters`` and plays ``rows`` (pitch, start,
    length in quarters, velocity) into livegen, recording its output; returns its report."""
    notes = tmp_path / "melody.json"
    notes.write_text(json.dumps(rows))
    p = peer(
        "--send-to", "livegen in", "--record-from", "livegen out", "--bpm", str(BPM),
        "--notes-file", str(notes), "--clock", str(BPM), "--clock-pulses", str(24 * quarters),
        "--start-delay", "1.0", "--linger", "1.5", "--duration", "40",
    )  # fmt: skip
    return p.wait(timeout=60)


def test_harmony_sounds_with_every_melody_note_and_nothing_is_left_sounding(
    jack_server, peer, model, tmp_path
):
    name, ckpt = model
    flags = ("--key", KEY) if name == "chorale_harmony" else ()
    proc = start_livegen(jack_server, ckpt, "--clock", "midi", *flags)
    try:
        # Each note half a tick after a tick line, released half a tick before the next one.
        half = 0.5 / TPQ
        rows = [[p, 1 + k + half, 1 - 2 * half, 90] for k, p in enumerate(MELODY)]
        for _ in range(XRUN_TRIES):  # a cycle jackd dropped voids the run (events.xruns)
            before = xruns(jack_server)
            report = lead_melody(peer, tmp_path, rows, quarters=len(MELODY) + 2)
            if xruns(jack_server) == before:
                break
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "all notes off (0 open)" in out, out
    got = note_events(report["received"])
    struck = [(t, msg[1]) for t, msg in report["sent"] if msg[0] == 0x90 and msg[2] > 0]
    assert len(struck) == len(MELODY)
    ons = [t for t, kind, _, _ in got if kind == "on"]
    delays = []
    for t_sent, _ in struck:
        after = [t - t_sent for t in ons if t >= t_sent]
        delays.append(min(after) if after else float("inf"))
    answered = sum(d <= BOUND for d in delays)
    shown = ", ".join(f"{d * 1000:.1f}" for d in delays)
    assert answered >= ANSWERED[name] * len(MELODY), f"harmony delays (ms): {shown}"
    # Harmony under every note: something of livegen's sounds with each melody note.
    under = [hanging(e for e in got if e[0] <= t + BOUND) for t, _ in struck]
    assert all(under), f"melody notes with no harmony under them: {under}"
    if name == "chorale_harmony":  # in key: every note livegen struck is in C major
        pitches = [p for _, kind, p, _ in got if kind == "on"]
        assert pitches and all(p % 12 in C_MAJOR for p in pitches), pitches
    # The peer's Stop ended livegen's notes at once (transport stop); nothing sounds after.
    assert hanging(got) == set(), got[-8:]


def test_sigkill_of_livegen_run_mid_harmony_ends_every_note(jack_server, peer, tmp_path):
    """The client goes while the table's harmony and livegen's part sound: the engine's
    process ends them all (a melody held long, so something is sounding when it goes)."""
    proc = start_livegen(jack_server, built_model(tmp_path / "built_harmony.pt"))
    try:
        engine_pid = engine_child(proc.pid)
        p = peer(
            "--send-to", "livegen in", "--record-from", "livegen out",
            "--notes", "72:0:2,74:2:2,76:4:8",
        )  # fmt: skip
        time.sleep(4.0)
        proc.kill()
        proc.wait(10)
        assert gone(engine_pid), "the engine process outlived its client"
    finally:
        if proc.poll() is None:
            proc.kill()
    got = note_events(p.quit(timeout=20)["received"])
    assert sum(1 for e in got if e[1] == "on") >= 3, got
    assert hanging(got) == set(), f"left sounding after SIGKILL: {hanging(got)}"
