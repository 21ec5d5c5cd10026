"""``livegen run --mode accompany`` with the shipped parts models, through a real JACK server.

A separate peer process leads with MIDI clock and plays a melody; livegen plays its own
part beside it (chorale_harmony: alto, tenor and bass; chorale_bass: a bass line) on the
ticks while the melody sounds, stops when the melody has been silent for ``silence_ticks``,
and leaves nothing sounding. Measured at the peer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.events import hanging, note_events
from tests.integration.test_harmonize import (
    MELODY,
    ROOT,
    TICK,
    TPQ,
    lead_melody,
    start_livegen,
)

pytestmark = pytest.mark.jack

SILENCE = 4  # ticks without the melody before livegen's part ends (--silence-ticks)


@pytest.mark.parametrize("name", ["chorale_harmony", "chorale_bass"])
def test_accompany_plays_livegens_part_beside_the_melody_and_stops_with_it(
    jack_server, peer, tmp_path: Path, name: str
):
    ckpt = ROOT / "checkpoints" / f"{name}.pt"
    proc = start_livegen(
        jack_server, ckpt, "--clock", "midi", "--silence-ticks", str(SILENCE), mode="accompany"
    )
    try:
        # Legato quarters from quarter 1: your part never falls silent until the last one.
        rows = [[p, 1 + k, 1, 90] for k, p in enumerate(MELODY)]
        # The clock runs on 4 quarters after the melody.
        report = lead_melody(peer, tmp_path, rows, quarters=len(MELODY) + 5)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    got = note_events(report["received"])
    sent = [(t, msg) for t, msg in report["sent"] if msg[0] & 0xF0 in (0x80, 0x90)]
    melody_on = [t for t, msg in sent if msg[0] == 0x90 and msg[2] > 0]
    assert len(melody_on) == len(MELODY)
    last_off = max(t for t, msg in sent if msg[0] == 0x80 or msg[2] == 0)
    ons = [(t, pitch) for t, kind, pitch, _ in got if kind == "on"]
    # livegen played its part beside the melody: a note of its own in most quarters ...
    quarter = TICK * TPQ
    quarters_with_a_strike = {int((t - melody_on[0]) // quarter) for t, _ in ons}
    assert len(quarters_with_a_strike & set(range(len(MELODY)))) >= len(MELODY) // 2, ons
    # ... never before you began, and nothing new once you had been silent SILENCE ticks.
    assert all(t >= melody_on[0] for t, _ in ons), ons[:3]
    late = [(round(t - last_off, 3), p) for t, p in ons if t > last_off + (SILENCE + 1) * TICK]
    assert late == [], f"struck after the melody ended (s after its last note-off): {late}"
    after = hanging(e for e in got if e[0] <= last_off + (SILENCE + 2) * TICK)
    assert after == set(), f"still sounding {SILENCE + 2} ticks after the melody ended: {after}"
    assert hanging(got) == set(), f"left sounding: {hanging(got)}"
    if name == "chorale_bass":  # one voice, below the melody
        sounding: set[int] = set()
        for _, kind, pitch, _ in got:
            (sounding.add if kind == "on" else sounding.discard)(pitch)
            assert len(sounding) <= 1, f"a bass line sounds one note at a time: {sounding}"
        assert max(p for _, p in ons) < min(MELODY), "the bass sounded above the melody"
