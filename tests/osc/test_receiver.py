"""The OSC listener on a real UDP socket on 127.0.0.1: it submits what it parses, counts the
rest, binds only where asked, and says in one line when it cannot."""

from __future__ import annotations

import socket
import time

import pytest
from pythonosc.osc_message_builder import build_msg

from livegen.controls import Action, Control, Do, Set
from livegen.osc.addresses import Counts
from livegen.osc.receiver import OscError, Receiver, bind


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def listening():
    submitted: list = []
    counts = Counts()
    receiver = Receiver(bind("127.0.0.1", 0), submitted.append, counts)
    receiver.start()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield receiver, submitted, counts, lambda dgram: sender.sendto(dgram, receiver.address)
    sender.close()
    receiver.close()


def test_commands_are_submitted_in_order_and_garbage_counted(listening):
    receiver, submitted, counts, send = listening
    send(build_msg("/livegen/temperature", 0.5).dgram)
    send(b"\xff" * 13)
    send(build_msg("/livegen/nope").dgram)
    send(build_msg("/livegen/temperature", 7.0).dgram)
    send(build_msg("/livegen/panic").dgram)
    wait_for(lambda: counts.received == 2 and counts.total_ignored() == 3)
    assert submitted == [Set(Control.TEMPERATURE, 0.5), Do(Action.PANIC)]
    assert dict(counts.ignored) == {"malformed": 1, "unknown": 1, "bad_value": 1}


def test_a_refused_command_is_counted_and_the_listener_goes_on():
    counts = Counts()
    calls = []

    def refuse(cmd):  # an engine that refuses (it raised in submit)
        calls.append(cmd)
        raise ValueError("refused")

    receiver = Receiver(bind("127.0.0.1", 0), refuse, counts)
    receiver.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(2):
            s.sendto(build_msg("/livegen/reset").dgram, receiver.address)
        wait_for(lambda: counts.total_ignored() == 2)
    assert len(calls) == 2 and counts.received == 0 and receiver._thread.is_alive()
    receiver.close()


def test_close_frees_the_port_at_once(listening):
    receiver, *_ = listening
    host, port = receiver.address
    receiver.close()
    assert not receiver._thread.is_alive()
    bind(host, port).close()  # the same port binds again


def test_a_port_in_use_is_one_line_that_says_what_to_do():
    taken = bind("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(OscError) as err:
            bind("127.0.0.1", port)
    finally:
        taken.close()
    assert f"127.0.0.1:{port}" in str(err.value) and "--osc PORT" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_bad_host_is_one_line():
    with pytest.raises(OscError, match="--osc-host 'no.such.host.invalid'"):
        bind("no.such.host.invalid", 9000)
