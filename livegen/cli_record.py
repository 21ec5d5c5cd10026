"""``livegen recover``: make the MIDI file of a recording a killed session left unfinished.

A session recording with ``--record FILE.mid`` writes ``FILE.mid.journal`` as it goes
(livegen/journal.py); a crash, a kill or a power cut leaves that journal instead of the
file. The next take at the same path recovers it by itself; this command does it now.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path


def add_recover(sub: argparse._SubParsersAction, formatter: type) -> None:
    recover = sub.add_parser(
        "recover",
        formatter_class=formatter,
        help="finish a session recording that a crash or a kill left as a journal",
        description=textwrap.fill(
            "Make FILE.mid from FILE.mid.journal, which a session recording with --record "
            "leaves when it is killed (at most its last bar is lost). An existing FILE.mid is "
            "never overwritten: the recovery then goes to FILE-2.mid.",
            80,
        ),
        epilog="examples:\n  livegen recover take.mid\n  livegen recover take.mid.journal",
    )
    recover.add_argument("file", type=Path, metavar="FILE.mid", help="the recording or its journal")
    recover.set_defaults(func=cmd_recover)


def cmd_recover(args: argparse.Namespace) -> int:
    from livegen.journal import recover

    path, events, cut = recover(args.file)
    skipped = f"; {cut} cut line(s) skipped" if cut else ""
    print(f"recovered {events} events into {path}{skipped}")
    return 0
