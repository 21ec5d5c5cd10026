"""``--osc-reply``: the snapshot's figures arrive as one OSC bundle at a real UDP socket."""

from __future__ import annotations

import socket

import pytest
from pythonosc.osc_packet import OscPacket

from livegen.osc.receiver import OscError
from livegen.osc.reply import Reply
from livegen.snapshot import Snapshot


def test_the_figures_arrive_a_few_times_a_second():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(5.0)
        snap = Snapshot(
            tick=40, bpm=96.0, mode="free", phase="playing", temperature=0.75, model="m",
            open_notes=((0, 60), (0, 64)), late_ticks=2, osc_ignored=(("malformed", 3),),
        )  # fmt: skip
        reply = Reply(f"127.0.0.1:{sink.getsockname()[1]}", lambda: snap)
        reply.start()
        try:
            packets = [OscPacket(sink.recv(65536)) for _ in range(2)]
        finally:
            reply.close()
    got = {m.message.address: m.message.params for m in packets[-1].messages}
    assert got == {
        "/livegen/tick": [40],
        "/livegen/bar": ["3.3"],
        "/livegen/bpm": [96.0],
        "/livegen/mode": ["free"],
        "/livegen/phase": ["playing"],
        "/livegen/temperature": [0.75],
        "/livegen/model": ["m"],
        "/livegen/open_notes": [2],
        "/livegen/late_ticks": [2],
        "/livegen/osc_ignored": [3],
    }


def test_nobody_listening_is_no_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed below: nothing listens there
    reply = Reply(f"127.0.0.1:{port}", Snapshot)
    reply.start()
    reply._stop.wait(0.6)
    assert reply._thread.is_alive()
    reply.close()
    assert not reply._thread.is_alive()


def test_an_unknown_host_is_one_line():
    with pytest.raises(OscError, match="--osc-reply 'no.such.host.invalid:9001'"):
        Reply("no.such.host.invalid:9001", Snapshot)
