"""What livegen says when a private jackd will not start."""

from __future__ import annotations

from livegen.jack import _why_jackd_failed

# jackd's output as it lands in its log: stderr (unbuffered) first, the banner flushed last.
TOO_MANY = """Too many servers already active
Failed to open server
jackdmp 1.9.21
Copyright 2001-2005 Paul Davis and others.
Copyright 2004-2016 Grame.
Copyright 2016-2022 Filipe Coelho.
jackdmp comes with ABSOLUTELY NO WARRANTY
This is free software, and you are welcome to redistribute it
under certain conditions; see the file COPYING for details
"""


def test_the_error_shows_jackds_own_lines_not_its_banner():
    text = _why_jackd_failed(255, TOO_MANY)
    assert "Too many servers already active | Failed to open server" in text
    assert "Copyright" not in text and "status 255" in text


def test_too_many_servers_says_how_to_clear_the_stale_registry():
    assert "/dev/shm/jack-shm-registry" in _why_jackd_failed(255, TOO_MANY)
    other = _why_jackd_failed(1, 'Unknown driver "dummyx"\njackdmp 1.9.21\n')
    assert "jack-shm-registry" not in other and "Unknown driver" in other


def test_real_time_is_used_by_root_or_with_an_rtprio_limit(monkeypatch):
    import resource

    from livegen import jack

    monkeypatch.setattr(jack.os, "geteuid", lambda: 0)
    assert jack.may_realtime()
    monkeypatch.setattr(jack.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(jack.resource, "getrlimit", lambda _: (0, 0))
    assert not jack.may_realtime()
    monkeypatch.setattr(jack.resource, "getrlimit", lambda _: (95, 95))  # the 'audio' group
    assert jack.may_realtime()
    monkeypatch.setattr(jack.resource, "getrlimit", lambda _: (20, 20))
    assert not jack.may_realtime()  # too low for jackd's priority
    inf = resource.RLIM_INFINITY
    monkeypatch.setattr(jack.resource, "getrlimit", lambda _: (inf, inf))
    assert jack.may_realtime()
