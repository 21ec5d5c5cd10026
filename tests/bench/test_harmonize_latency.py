"""The reaction benchmark's reading of a note with no new harmony: held on, or silent."""

from __future__ import annotations

from bench.harmonize_latency import held_under

ON, OFF = 0x90, 0x80


def got(sent, received):
    return {"sent": [[t, m] for t, m in sent], "received": [[t, m] for t, m in received]}


def test_a_chord_held_on_under_the_note_is_sounding_harmony():
    sent = [(1.0, [ON, 72, 80]), (1.2, [OFF, 72, 0]), (1.25, [ON, 74, 80])]
    received = [
        (1.001, [ON, 72, 80]),  # the echo
        (1.002, [ON, 60, 70]),  # livegen's chord under 72
        (1.201, [OFF, 72, 0]),
        (1.251, [ON, 74, 80]),  # 74's echo; the chord (60) goes on
    ]
    assert held_under(got(sent, received), 1.25, 74)


def test_only_echoes_sounding_is_silence():
    sent = [(1.0, [ON, 72, 80]), (1.24, [OFF, 72, 0]), (1.25, [ON, 74, 80])]
    received = [
        (1.001, [ON, 72, 80]),
        (1.002, [ON, 60, 70]),
        (1.100, [OFF, 60, 0]),  # livegen's chord ended before the next note
        (1.251, [ON, 74, 80]),
        (1.252, [OFF, 72, 0]),  # the previous note's echo ends just after: not harmony
    ]
    assert not held_under(got(sent, received), 1.25, 74)
