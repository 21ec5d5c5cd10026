"""MIDI ports: the one place livegen opens, reads and writes them.

mido over python-rtmidi. ``open_ports()`` creates the virtual ports ``livegen in``
and ``livegen out`` (or opens existing ports by name) on ALSA, JACK, CoreMIDI or
Windows MM. The input is python-rtmidi's own, with no Python callback: rtmidi's
thread (JACK's process thread on JACK) never waits for the GIL; the engine polls
rtmidi's queue between ticks (``Ports.drain``), stamping with ``time.perf_counter()``. When a port
cannot be opened, :class:`PortError` says which backend failed and how to fix it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from dataclasses import dataclass

import mido

from livegen import jack
from livegen.errors import LivegenError

BACKENDS = ("auto", "alsa", "jack", "coremidi", "windows")
_RTMIDI_API = {
    "alsa": "LINUX_ALSA",
    "jack": "UNIX_JACK",
    "coremidi": "MACOSX_CORE",
    "windows": "WINDOWS_MM",
}
_LABEL = {"alsa": "ALSA", "jack": "JACK", "coremidi": "CoreMIDI", "windows": "Windows MM"}
ALSA_SEQ = "/dev/snd/seq"
LOOPMIDI_URL = "https://www.tobias-erichsen.de/software/loopmidi.html"
CHANNELS = 16
_ALSA_NUMBERS = re.compile(r" \d+:\d+$")  # "client:port 128:0" -> "client:port"


class PortError(LivegenError, RuntimeError):
    """A MIDI port could not be opened or was lost; one line saying why and how to fix it."""


# ---------------------------------------------------------------------------
# Backends


def _compiled() -> set[str]:
    return {name for name, api in _RTMIDI_API.items() if api in _mido_apis()}


def _mido_apis() -> list[str]:
    try:
        from mido.backends.rtmidi import get_api_names
    except ImportError as err:  # python-rtmidi missing or broken
        raise PortError(
            f"python-rtmidi cannot be imported ({err}); pip install python-rtmidi"
        ) from err
    return get_api_names()


def _no_alsa_hint() -> str:
    return (
        f"the ALSA sequencer is not available ({ALSA_SEQ} is missing): load it with "
        "`sudo modprobe snd-seq`, or start a JACK server (`jackd -d dummy`) and use "
        "`--backend jack`, or run `livegen run --start-jack`"
    )


def _no_jack_hint() -> str:
    return (
        f"no JACK server is running (server {jack.server_name()!r}): start one with "
        "`jackd -d dummy` (or a real JACK setup), or run `livegen run --start-jack`"
    )


def _no_virtual_windows_hint(in_name: str, out_name: str) -> str:
    return (
        "Windows has no virtual MIDI ports: install loopMIDI "
        f"({LOOPMIDI_URL}) and create ports named {in_name!r} and {out_name!r}, "
        "or pass the names of existing ports"
    )


def resolve_backend(backend: str = "auto") -> str:
    """The concrete backend for ``backend``, or :class:`PortError` saying why none fits.

    auto: ALSA on Linux when the sequencer exists, else JACK when a server runs;
    CoreMIDI on macOS; Windows MM on Windows.
    """
    if backend not in BACKENDS:
        raise PortError(f"unknown MIDI backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    compiled = _compiled()
    if backend != "auto":
        if backend not in compiled:
            have = ", ".join(sorted(compiled)) or "none"
            raise PortError(
                f"python-rtmidi on this machine was built without {_LABEL[backend]} "
                f"(it has: {have})"
            )
        if backend == "alsa" and sys.platform.startswith("linux") and not os.path.exists(ALSA_SEQ):
            raise PortError(f"cannot use ALSA: {_no_alsa_hint()}")
        return backend
    if sys.platform == "darwin":
        return "coremidi"
    if sys.platform == "win32":
        return "windows"
    if "alsa" in compiled and os.path.exists(ALSA_SEQ):
        return "alsa"
    # No socket check answer (None: e.g. PipeWire's JACK) is worth a try.
    if "jack" in compiled and jack.server_running() is not False:
        return "jack"
    raise PortError(f"no MIDI backend available: {_no_alsa_hint()}; and {_no_jack_hint()}")


def mido_backend(backend: str) -> mido.Backend:
    """The loaded mido backend for a concrete backend name ("alsa", "jack", ...)."""
    return mido.Backend(f"mido.backends.rtmidi/{_RTMIDI_API[backend]}", load=True)


def _backend_failure(backend: str, err: BaseException) -> PortError:
    """Translate an rtmidi failure into one line that says what to do."""
    text = str(err) or type(err).__name__
    if backend == "jack":
        return PortError(f"JACK failed ({text}): {_no_jack_hint()}")
    if backend == "alsa":
        return PortError(f"ALSA failed ({text}): {_no_alsa_hint()}")
    return PortError(f"{_LABEL[backend]} failed: {text}")


def list_ports(backend: str = "auto") -> dict[str, list[str]]:
    """Names of the input and output ports the backend sees (for ``livegen ports``)."""
    name = resolve_backend(backend)
    be = mido_backend(name)
    try:
        return {"inputs": be.get_input_names(), "outputs": be.get_output_names()}
    except Exception as err:  # rtmidi raises SystemError subclasses when the backend is down
        raise _backend_failure(name, err) from err


def match_port(wanted: str, names: list[str], kind: str, label: str = "") -> str:
    """The one port name equal to ``wanted``, or else the one containing it (any case)."""
    if wanted in names:
        return wanted
    hits = [n for n in names if wanted.lower() in n.lower()]
    if len(hits) == 1:
        return hits[0]
    where = f" on {label}" if label else ""
    if not hits:
        have = ", ".join(repr(n) for n in names) or "none"
        raise PortError(f"no MIDI {kind} port named {wanted!r}{where}; available: {have}")
    raise PortError(
        f"MIDI {kind} port name {wanted!r} is ambiguous{where}; it matches "
        + ", ".join(repr(n) for n in hits)
    )


# ---------------------------------------------------------------------------
# Ports


@dataclass(frozen=True)
class PortInfo:
    """What was opened, as the backend names it."""

    backend: str  # "alsa", "jack", "coremidi" or "windows"
    virtual: bool  # created by livegen (True) or opened by name (False)
    in_name: str  # the name asked for
    out_name: str
    in_full: str | None  # the name other clients see, when listing found it
    out_full: str | None
    notice: str = ""  # something the user should be told (e.g. Windows: no virtual ports)
    jack_server: str | None = None  # the JACK server the ports live on


class InputQueue:
    """Input waiting for the engine in rtmidi's own queue; :meth:`drain` polls it.

    No Python runs on rtmidi's thread: on JACK that is JACK's process thread, where a
    Python callback must take the GIL, so a panel redraw or a model load holding it
    kept the whole JACK graph waiting (xruns naming livegen's input client). rtmidi's
    thread only copies each message into its C++ ring buffer, which holds
    ``maxlen - 1`` messages and drops new ones silently when full.

    ``source`` is an ``rtmidi.MidiIn`` opened without a callback (anything with
    ``get_message()`` returning ``([byte, ...], delta seconds)`` or None will do).
    """

    def __init__(self, source, maxlen: int = 4096, stamp=time.perf_counter):
        self.maxlen = max(2, maxlen)
        self.capacity = self.maxlen - 1  # rtmidi's ring keeps one slot free
        self._source = source
        self._stamp = stamp
        self.dropped = 0  # drains that found the queue full: messages may have been lost
        self.invalid = 0  # byte strings mido could not parse
        self._last: float | None = None  # estimated arrival of the previous message
        self._floor = stamp()  # anything polled after an empty poll arrived after it

    def drain(self) -> list[tuple[float, mido.Message]]:
        """What arrived since the last drain, oldest first, as ``(perf_counter stamp, msg)``.

        Reads at most a full queue, so a flood cannot keep the tick here. Stamps: rtmidi
        gives each message's time since the previous one (measured on its thread, at
        JACK-cycle resolution there); the running sum is kept within what the polls
        prove: after the last empty poll and before the poll that returned it.
        """
        get, stamp = self._source.get_message, self._stamp
        out = []
        for _ in range(self.capacity):
            before = stamp()
            item = get()
            if item is None:
                self._floor = before
                return out
            data, delta = item
            now = stamp()
            est = now if self._last is None else min(max(self._last + delta, self._floor), now)
            self._last = est
            try:
                msg = mido.Message.from_bytes(data)
            except (ValueError, TypeError):
                self.invalid += 1
                continue
            out.append((est, msg))
        # A full queue's worth at once: rtmidi dropped what came while it was full, if
        # anything (it does not say). Counted so the engine can release held keys.
        self.dropped += 1
        return out


class _RtInput:
    """An rtmidi input port opened with no callback; closes like a mido port."""

    def __init__(self, rt, name: str):
        self._rt = rt
        self.name = name

    def get_ports(self) -> list[str]:
        return self._rt.get_ports()

    def close(self) -> None:
        rt, self._rt = self._rt, None
        if rt is not None:
            with contextlib.suppress(Exception):
                rt.close_port()
            rt.delete()


def _open_input(
    backend: str, name: str, *, virtual: bool, client_name: str | None, queue_size: int
) -> _RtInput:
    """``rtmidi.MidiIn`` direct (mido's input always sets a Python callback)."""
    import rtmidi

    api = getattr(rtmidi, f"API_{_RTMIDI_API[backend]}")
    kwargs = {"name": client_name} if client_name else {}
    rt = rtmidi.MidiIn(api, queue_size_limit=max(2, queue_size), **kwargs)
    try:
        rt.ignore_types(sysex=False, timing=False, active_sense=True)  # as mido does
        if virtual:
            rt.open_virtual_port(name)
        else:
            names = rt.get_ports()
            real = match_port(name, names, "input", _LABEL[backend])
            rt.open_port(names.index(real), "livegen in")
            name = real
    except BaseException:
        rt.delete()
        raise
    return _RtInput(rt, name)


class Ports:
    """An open input and output: stamped input queue, sends, panic, port-loss check."""

    def __init__(self, inp, out, info: PortInfo, queue: InputQueue):
        self.info = info
        self._in = inp
        self._out = out
        self.queue = queue
        self.send_errors = 0  # failed sends during panic
        self.closed = False

    @property
    def dropped(self) -> int:
        """Times the input queue was found full (a flood): messages may have been lost."""
        return self.queue.dropped

    def drain(self) -> list[tuple[float, mido.Message]]:
        """Everything that arrived since the last drain, as ``(perf_counter stamp, msg)``."""
        return self.queue.drain()

    def send(self, msg: mido.Message) -> None:
        """Send one message now; a failure raises :class:`PortError`."""
        try:
            self._out.send(msg)
        except Exception as err:  # rtmidi raises assorted types for a dead port
            raise PortError(f"cannot send on {self.info.out_name!r}: {err}") from err

    def panic(self) -> int:
        """Last resort: All Notes Off (CC123) and All Sound Off (CC120) on all 16 channels.

        Never raises; failures are counted in ``send_errors``. Returns messages sent.
        The note-offs for livegen's own sounding notes come from the scheduler.
        """
        sent = 0
        for channel in range(CHANNELS):
            for control in (123, 120):
                try:
                    self._out.send(mido.Message("control_change", channel=channel, control=control))
                    sent += 1
                except Exception:
                    self.send_errors += 1
        return sent

    def alive(self) -> bool:
        """Whether both ports are still there. Lists ports: call it about once a second."""
        if self.closed:
            return False
        info = self.info
        # After the server dies, JACK clients still list the old ports.
        if info.backend == "jack" and jack.server_running(info.jack_server) is False:
            return False
        try:
            # The open ports' own rtmidi objects list without opening a new client.
            sources = self._in.get_ports()  # ports we can read from: outputs of others
            sinks = self._out._rt.get_ports()
        except Exception:
            return False
        if info.virtual:
            # Our own virtual ports show up in the opposite listing.
            ok_in = info.in_full is None or info.in_full in sinks
            ok_out = info.out_full is None or info.out_full in sources
        else:
            ok_in = _still_listed(info.in_full or info.in_name, sources, info.backend)
            ok_out = _still_listed(info.out_full or info.out_name, sinks, info.backend)
        return ok_in and ok_out

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        # Closing a port whose backend died must not stop the shutdown.
        _close_quietly(self._in, self._out)

    def __enter__(self) -> Ports:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self.info
        kind = "virtual" if i.virtual else "named"
        return f"Ports({kind} {i.in_name!r} -> {i.out_name!r} on {_LABEL[i.backend]})"


def lost_message(ports: Ports) -> str:
    """Why the session ended when ``ports.alive()`` turned False: the JACK server, or a port.

    ``ports`` may be any object with the engine's port interface (a test's fake has no
    ``info``): the message then names no port.
    """
    info = getattr(ports, "info", None)
    on_jack = info is not None and info.backend == "jack"
    if on_jack and jack.server_running(info.jack_server) is False:
        return "the JACK server stopped: livegen's ports are gone (notes were ended)"
    name = f"{info.in_name!r} / {info.out_name!r}" if info is not None else "the MIDI ports"
    return f"MIDI port lost: {name} disappeared mid-session (notes were ended where possible)"


def _still_listed(name: str, names: list[str], backend: str) -> bool:
    if name in names:
        return True
    if backend != "alsa":
        return False
    # ALSA appends client:port numbers, which change when a client comes back.
    base = _ALSA_NUMBERS.sub("", name)
    return any(_ALSA_NUMBERS.sub("", n) == base for n in names)


def _find_full(names: list[str], port: str, client: str | None) -> str | None:
    """The listed name of a port we created (backends prefix client and add numbers)."""
    hits = [n for n in names if port in n]
    if client is not None:
        hits = [n for n in hits if client in n] or hits
    return hits[0] if len(hits) == 1 else None


def open_ports(
    in_name: str = "livegen in",
    out_name: str = "livegen out",
    *,
    backend: str = "auto",
    virtual: bool = True,
    client_name: str = "livegen",
    queue_size: int = 4096,
) -> Ports:
    """Open livegen's input and output.

    ``virtual``: create ports with these names for others to connect to (not on
    Windows, where named loopMIDI ports are opened instead and ``info.notice``
    says so). Otherwise open existing ports, by exact name or unique substring.
    Raises :class:`PortError` with one clear line when a port cannot be opened.
    """
    name = resolve_backend(backend)
    notice = ""
    if virtual and name == "windows":
        virtual = False
        notice = (
            f"Windows has no virtual MIDI ports: opening loopMIDI ports {in_name!r} and "
            f"{out_name!r} instead"
        )
    be = mido_backend(name)
    # JACK client names must be unique, and rtmidi makes one client per port.
    in_client = out_client = None
    if virtual:
        in_client = out_client = client_name
        if name == "jack":
            in_client, out_client = f"{client_name}-in", f"{client_name}-out"

    inp = out = None
    try:
        if virtual:
            inp = _open_input(
                name, in_name, virtual=True, client_name=in_client, queue_size=queue_size
            )
            out = be.open_output(out_name, client_name=out_client)
        else:
            try:
                inp = _open_input(
                    name, in_name, virtual=False, client_name=None, queue_size=queue_size
                )
                out_real = match_port(out_name, be.get_output_names(), "output", _LABEL[name])
            except PortError as err:
                if name == "windows":
                    raise PortError(
                        f"{err}. {_no_virtual_windows_hint(in_name, out_name)}"
                    ) from None
                raise
            out = be.open_output(out_real)
    except PortError:
        _close_quietly(inp, out)
        raise
    except Exception as err:  # rtmidi: SystemError subclasses, OSError from mido
        _close_quietly(inp, out)
        raise _backend_failure(name, err) from err

    in_full = out_full = None
    try:
        if virtual:
            in_full = _find_full(out._rt.get_ports(), in_name, in_client)
            out_full = _find_full(inp.get_ports(), out_name, out_client)
        else:
            in_full, out_full = inp.name, out.name
    except Exception:
        pass  # listing is only for display and port-loss checks
    server = jack.server_name() if name == "jack" else None
    info = PortInfo(name, virtual, in_name, out_name, in_full, out_full, notice, server)
    return Ports(inp, out, info, InputQueue(inp._rt, queue_size))


def _close_quietly(*ports) -> None:
    for port in ports:
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()
