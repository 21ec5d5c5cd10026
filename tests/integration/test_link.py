"""``livegen run --clock link`` with a real second Link peer, on a real JACK server.

Everything that speaks Link (the peer and the livegen it starts) runs inside a private
network namespace with only loopback (netns.py), so no Link packet reaches the machine's
real network. The peer changes the session's tempo, starts and stops its transport, and
reads livegen's ticks from the MIDI clock livegen leads on JACK (``--clock-out``).
Where no namespace can be made the test skips, except under ``LIVEGEN_REQUIRE_JACK``
(CI), where it fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.events import XRUN_TRIES, xruns
from tests.integration.link_figures import analyse
from tests.integration.netns import in_netns, netns_unavailable

PEER = Path(__file__).with_name("link_peer.py")
BPM, BPM2 = 150.0, 180.0  # beats of 0.4 and 0.33 s: short holds, ticks 100 and 83 ms apart


@pytest.fixture(scope="module")
def netns():
    reason = netns_unavailable()
    if reason is not None:
        if os.environ.get("LIVEGEN_REQUIRE_JACK"):  # CI can make one: a skip would hide it
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def session(netns, jack_server, tmp_path_factory):
    """One scripted session: the peer's report, with livegen's output."""
    report = tmp_path_factory.mktemp("link") / "report.json"
    cmd = [sys.executable, str(PEER), "--report", str(report)]
    cmd += ["--bpm", str(BPM), "--bpm2", str(BPM2), "--changes", "2", "--bars", "2"]
    for _ in range(XRUN_TRIES):  # a cycle jackd dropped voids the run (events.xruns)
        before = xruns(jack_server)
        done = subprocess.run(
            in_netns(cmd), env=jack_server.env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr[-3000:]
        if xruns(jack_server) == before:
            break
    return json.loads(report.read_text())


@pytest.fixture(scope="module")
def figures(session, jack_period):
    # A pulse is on the peer's grid when it arrives within a JACK period of its line (MIDI
    # crosses JACK once per cycle), give or take 3 ms of scheduling on a shared machine.
    return analyse(session, tolerance=0.003, delivery=jack_period)


@pytest.mark.jack
def test_livegen_joins_and_says_how_many_peers(session):
    out = session["livegen_output"]
    assert session["livegen_status"] == 0, out
    assert "Link: 1 peer at" in out
    assert "(Link, 1 peer)" in out  # the status line
    assert session["script"]["peers_seen_by_peer"] == 1


@pytest.mark.jack
def test_ticks_follow_each_tempo_change_within_one_beat(figures):
    follows = figures["follows"]
    assert [f["tempo"] for f in follows] == [BPM2, BPM]
    for f in follows:
        assert f["ticks"] >= 8, f
        assert f["beats_to_follow"] is not None and f["beats_to_follow"] <= 1.0, follows
        assert f["on_grid"] >= 0.9, follows


@pytest.mark.jack
def test_downbeats_fall_on_the_peers_bar(figures, jack_period):
    offsets = figures["downbeat_offsets_s"]
    assert len(offsets) >= 1
    # Off by a beat would be 0.4 s; a JACK cycle and some scheduling is all it may be off.
    assert all(-0.003 <= o <= jack_period + 0.003 for o in offsets), offsets
    grid = figures["grid_offsets_s"]
    assert len(grid) >= 16 and all(abs(o) <= jack_period + 0.003 for o in grid), grid


@pytest.mark.jack
def test_session_start_starts_livegen_on_the_next_bar(figures, jack_period, session):
    start = figures["start"]
    assert start is not None, "livegen sent no MIDI Start after the session started"
    # The peer starts half a beat into a bar: the next bar is 3.5 beats later.
    assert 3.0 < start["beats_after_play"] < 4.0, start
    assert abs(start["bar_offset_s"]) <= jack_period + 0.003, start  # on a bar line


@pytest.mark.jack
def test_session_stop_stops_livegen(figures, session):
    assert figures["stop_after_s"] is not None, "livegen sent no MIDI Stop"
    assert figures["stop_after_s"] <= 60.0 / BPM  # within a beat
    out = session["livegen_output"]
    assert "Link: the session stopped" in out
    assert "stopped" in out.split("Link: the session stopped", 1)[1]  # the phase line


@pytest.mark.jack
def test_livegens_own_start_and_stop_reach_the_peer(session):
    # /livegen/play and /livegen/stop by OSC take the panel's path (Do(PLAY), Do(STOP)),
    # applied at livegen's next tick: the peer's transport follows within a beat.
    script = session["script"]
    for address in ("/livegen/play", "/livegen/stop"):
        assert script[address] is not None, f"the peer's transport never followed {address}"
        assert script[address] <= 60.0 / BPM, script
    out = session["livegen_output"]
    assert "Link: livegen started the session" in out and "Link: livegen stopped the session" in out


@pytest.mark.jack
def test_alone_livegen_keeps_time_and_says_so(netns, jack_server):
    cmd = [sys.executable, "-m", "livegen.cli", "run", "--clock", "link", "--backend", "jack"]
    cmd += ["--duration", "2"]
    env = {**jack_server.env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(in_netns(cmd), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Link: no peers; keeping time alone at 120.0 BPM" in done.stdout, done.stdout
    assert "(Link, 0 peers)" in done.stdout
    ticks = int(re.search(r"stopped after (\d+) ticks", done.stdout).group(1))
    assert ticks >= 8  # it kept time: 2 s at 120 BPM is 16 ticks
