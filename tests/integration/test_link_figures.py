"""The Link figures on made-up pulse trains: numbering by Link beat survives lost and bunched
pulses, and a livegen that follows a tempo change late is read as late. No JACK, no Link."""

from __future__ import annotations

import numpy as np
import pytest

from tests.integration.link_figures import (
    PPQN,
    analyse,
    bar_lines,
    follows,
    gaps,
    measurable,
    numbered,
    stale_off_after,
)

T0, T1 = 120.0, 150.0
BEAT = 20 + 7 / 48  # the peer's tempo change: between two pulses, as link_peer's
CHANGE = BEAT * 60.0 / T0  # ... at this time (seconds)
END = 20.0


def peer_beat(t: float) -> float:
    """The peer's timeline: T0 until CHANGE, then T1 from BEAT."""
    return t * T0 / 60.0 if t < CHANGE else BEAT + (t - CHANGE) * T1 / 60.0


def peer_tempo(t: float) -> float:
    return T0 if t < CHANGE else T1


def pulses_sent(lag: float) -> list[float]:
    """When a livegen that learns of the change ``lag`` seconds late sends its pulses: on
    the old line until then, on the peer's from then on."""
    out, k = [], 0
    while True:
        old = k / PPQN * 60.0 / T0
        t = old if old < CHANGE + lag else CHANGE + (k / PPQN - BEAT) * 60.0 / T1
        if t >= END:
            return out
        if not out or t > out[-1]:
            out.append(t)
        k += 1


def rows_of(sent: list[float], delivery: float = 0.001) -> list:
    """The peer's rows for pulses sent at ``sent``: arrival ``delivery`` later, its beat."""
    rows = []
    for t in sent:
        t += delivery
        rows.append((t, "clock", peer_beat(t), peer_tempo(t)))
    return rows


def script_follows(rows: list, **kw) -> dict:
    sets = [[0.0, T0, 0.0], [CHANGE, T1, BEAT]]
    (f,) = follows(numbered(rows, 0.0013), sets, END, tolerance=0.002, delivery=0.0013, **kw)
    return f


def test_the_pulse_number_is_the_link_beats_and_the_offset_includes_the_delivery():
    rows = rows_of(pulses_sent(0.0), delivery=0.001)
    pulses = numbered(rows, delivery=0.0013)
    assert [p.index for p in pulses[:3]] == [0, 1, 2]
    assert all(abs(p.offset - 0.001) < 1e-9 for p in pulses)


def test_a_livegen_that_follows_at_once_is_on_the_new_grid_from_its_next_pulse():
    f = script_follows(rows_of(pulses_sent(0.0)))
    assert f["beats_to_follow"] < 1 / PPQN + 1e-6
    assert f["off_grid_before"] == 0 and f["on_grid"] == 1.0 and f["measurable"]
    assert f["from"] == T0 and f["tempo"] == T1


@pytest.mark.parametrize("lag_beats", [0.25, 1.0])
def test_a_livegen_that_follows_late_is_read_as_that_late(lag_beats):
    lag = lag_beats * 60.0 / T1
    f = script_follows(rows_of(pulses_sent(lag)))
    # Off the new grid within a few pulses of the change (a stale tempo drifts 20 ms a
    # beat here), back on it at the lag.
    assert lag_beats - 0.1 < f["beats_to_follow"] <= lag_beats + 1 / PPQN + 1e-6
    assert f["off_grid_before"] >= 1
    assert f["first_beat_max_ms"] > 2.0


def test_a_train_at_another_tempo_is_not_on_the_grid_where_it_comes_near_its_lines():
    # At 600 BPM every arrival is within the window of some line; a train still at 180
    # BPM skips numbers, so it never passes as followed, though no change there is
    # measurable.
    rows = [(t, "clock", t * 10.0, 600.0) for t in np.arange(0.0, 2.0, 60.0 / 180 / PPQN)]
    sets = [[-1.0, 180.0, -10.0], [0.0, 600.0, 0.0]]
    (f,) = follows(numbered(rows, 0.0013), sets, 2.0, tolerance=0.002, delivery=0.0013)
    assert f["beats_to_follow"] is None and not f["measurable"]
    assert measurable(120.0, 150.0, 0.0053) and measurable(180.0, 150.0, 0.0113)


def test_a_stale_tempo_is_off_the_grid_after_the_drift_reaches_the_tolerance():
    # 120 -> 150 BPM: a stale train is 80 ms a beat behind, so 2 ms after 1/40 of a beat.
    assert stale_off_after(120.0, 150.0, 0.002) == pytest.approx(0.025)


def test_a_lost_and_a_bunched_pulse_cost_only_themselves():
    rows = rows_of(pulses_sent(0.0))
    t_lost = CHANGE + 1.0
    k = next(i for i, r in enumerate(rows) if r[0] > t_lost)
    del rows[k]  # lost in JACK
    t, kind, _, tempo = rows[k + 10]  # delivered a cycle late, with the next one
    t_next = rows[k + 11][0]
    rows[k + 10] = (t_next, kind, peer_beat(t_next), tempo)
    g = gaps(numbered(rows, 0.0013))
    assert g["lost"] == 2 and g["bunched"] == 1  # the late one reads as its successor's twin
    f = script_follows(rows)
    assert f["beats_to_follow"] < 1 / PPQN + 1e-6
    assert f["on_grid"] > 0.99  # one pulse of 300 off the grid, not every later one


def test_downbeats_are_the_pulses_numbered_on_a_bar_and_a_lost_one_is_missing():
    rows = rows_of(pulses_sent(0.0))
    pulses = numbered(rows, 0.0013)
    offsets, missing = bar_lines(pulses, 4)
    assert missing == 0 and len(offsets) == len({p.index // 96 for p in pulses})
    lost = next(i for i, p in enumerate(pulses) if p.index == 96 * 3)
    offsets, missing = bar_lines(pulses[:lost] + pulses[lost + 1 :], 4)
    assert missing == 1


def test_analyse_reads_a_report():
    rows = rows_of(pulses_sent(0.0))
    rows.insert(0, (0.0, "start", 0.0, T0))
    script = {
        "tempo_set": [[0.0, T0, 0.0], [CHANGE, T1, BEAT]],
        "play": [15.0, peer_beat(15.0), T1],
        "bars_from": 15.0,
        "stop": [END, peer_beat(END), T1],
    }
    fig = analyse({"script": script, "rows": rows, "quantum": 4}, delivery=0.0013)
    assert [f["tempo"] for f in fig["follows"]] == [T1]
    assert fig["tempo_gaps"]["lost"] == 0 and fig["bar_gaps"]["pulses"] > 0
    assert all(abs(o - 0.001) < 1e-9 for o in fig["downbeat_offsets_s"])
