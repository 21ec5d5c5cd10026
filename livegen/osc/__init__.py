"""OSC control: every control of the panel as an OSC address, off unless ``--osc PORT``.

- :mod:`livegen.osc.addresses`: the address space, made from controls.py, and the counts
  of what was ignored;
- :mod:`livegen.osc.receiver`: the UDP listener (loopback unless ``--osc-host``);
- :mod:`livegen.osc.reply`: ``--osc-reply HOST:PORT``, the figures sent back.

:func:`open_control` starts them for a session in the engine's process (live.py); the
session closes them with itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a session asks for OSC, not with the package
    from livegen.osc.addresses import Counts
    from livegen.osc.receiver import Receiver
    from livegen.osc.reply import Reply


class OscControl:
    """A session's OSC listener and reply sender; :meth:`close` stops both (never raises)."""

    def __init__(self, receiver: Receiver, reply: Reply | None, counts: Counts) -> None:
        self.receiver, self.reply, self.counts = receiver, reply, counts
        host, port = receiver.address
        self.notice = f"OSC: listening on {host}:{port} (addresses /livegen/...)"
        if reply is not None:
            self.notice += f", figures to {reply.target[0]}:{reply.target[1]}"

    def close(self) -> None:
        self.receiver.close()
        if self.reply is not None:
            self.reply.close()


def open_control(cfg: Any, engine: Any) -> OscControl:
    """Bind ``cfg.osc_host:cfg.osc``, start listening into ``engine``; :class:`OscError` if not.

    The counts go into the engine's snapshot (``osc_received``, ``osc_ignored``).
    """
    from livegen.osc.addresses import Counts
    from livegen.osc.receiver import Receiver, bind
    from livegen.osc.reply import Reply

    counts = Counts()
    sock = bind(cfg.osc_host, cfg.osc)
    try:
        reply = Reply(cfg.osc_reply, engine.snapshot) if cfg.osc_reply else None
    except BaseException:
        sock.close()
        raise
    receiver = Receiver(sock, engine.submit, counts)
    engine.picture.osc = counts
    receiver.start()
    if reply is not None:
        reply.start()
    return OscControl(receiver, reply, counts)
