"""One base class for every error a user can cause, so the CLI reports each as one line.

A ``LivegenError`` means "what was asked cannot be done, and the message says what to do":
a missing or foreign checkpoint, a malformed file, a bad setting, a missing port. Anything
else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class LivegenError(Exception):
    """Something the user can fix; ``str(err)`` is one line that says what and how."""


class EngineError(LivegenError, RuntimeError):
    """The live session cannot go on (a port or the JACK server is gone)."""


class CliError(LivegenError):
    """A command-line problem found by livegen itself, reported as one line."""
