"""Piano-roll pictures of a primer and its continuation (PNG, matplotlib's Agg renderer).

Draws on a bare ``Figure`` rather than through pyplot, so no GUI backend is touched and
nothing global is left behind when this runs inside another program.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from livegen.notes import END, PITCH, START, VELOCITY

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
BLACK_KEYS = {1, 3, 6, 8, 10}
PRIMER_COLOUR = "#4c72b0"
CONTINUATION_COLOUR = "#dd8452"


def note_name(pitch: int) -> str:
    """MIDI pitch to a name with octave, middle C (60) is C4."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def plot_pianoroll(
    primer_notes: np.ndarray,
    continuation_notes: np.ndarray,
    path: str | Path,
    *,
    title: str = "livegen continuation",
    beats_per_bar: float = 4,
    continuation_start: float | None = None,
    dpi: int = 120,
) -> Path:
    """Save a piano roll: primer and continuation as bars in two colours.

    Times are in quarter notes. A dashed line marks where the continuation starts
    (``continuation_start``, by default where the primer's last note ends); bar lines
    follow ``beats_per_bar`` quarter notes. Returns the path written.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    primer = np.asarray(primer_notes, dtype=np.float64).reshape(-1, 4)
    continuation = np.asarray(continuation_notes, dtype=np.float64).reshape(-1, 4)
    both = np.concatenate([primer, continuation])
    if continuation_start is None:
        continuation_start = float(primer[:, END].max()) if len(primer) else 0.0
    end = max(float(both[:, END].max()) if len(both) else 0.0, continuation_start, 1.0)
    end = math.ceil(end / beats_per_bar) * beats_per_bar
    if len(both):
        low, high = int(both[:, PITCH].min()) - 2, int(both[:, PITCH].max()) + 2
    else:
        low, high = 58, 72
    high = max(high, low + 12)  # at least an octave, so the labels read as a keyboard

    width = float(np.clip(end * 0.3, 8.0, 24.0))
    height = float(np.clip((high - low) * 0.18, 3.5, 12.0))
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()

    for pitch in range(low, high + 1):  # shade black-key rows like a keyboard
        if pitch % 12 in BLACK_KEYS:
            ax.axhspan(pitch - 0.5, pitch + 0.5, color="0.93", zorder=0, lw=0)
    for part, colour in ((primer, PRIMER_COLOUR), (continuation, CONTINUATION_COLOUR)):
        if len(part):
            bars = ax.barh(
                part[:, PITCH],
                part[:, END] - part[:, START],
                left=part[:, START],
                height=0.8,
                color=colour,
                edgecolor="0.2",
                linewidth=0.4,
                zorder=3,
            )
            # Louder notes are more opaque: velocity 1..127 -> alpha 0.45..1.
            for patch, velocity in zip(bars.patches, part[:, VELOCITY], strict=True):
                patch.set_alpha(0.45 + 0.55 * float(np.clip(velocity, 1, 127)) / 127)

    beat = 0.0
    while beat <= end + 1e-9:  # bar lines strong, beat lines faint
        is_bar = math.isclose(beat / beats_per_bar, round(beat / beats_per_bar))
        ax.axvline(beat, color="0.55" if is_bar else "0.85", lw=0.8 if is_bar else 0.4, zorder=1)
        beat += 1.0
    start_line = ax.axvline(continuation_start, color="crimson", ls="--", lw=1.5, zorder=4)

    bar_starts = np.arange(0.0, end + 1e-9, beats_per_bar)
    ax.set_xticks(bar_starts, [str(i + 1) for i in range(len(bar_starts))])
    ax.set_xlabel(f"bar ({beats_per_bar:g} quarter notes)")
    # Every pitch named when the range is small, otherwise the Cs and the pitches played.
    played = set(both[:, PITCH].astype(int).tolist())
    labelled = [p for p in range(low, high + 1) if high - low <= 24 or p % 12 == 0 or p in played]
    ax.set_yticks(labelled, [note_name(p) for p in labelled], fontsize=7)
    ax.set_ylim(low - 0.5, high + 0.5)
    ax.set_xlim(0, end)
    ax.set_title(title)
    ax.legend(
        handles=[
            Patch(color=PRIMER_COLOUR, label=f"primer ({len(primer)} notes)"),
            Patch(color=CONTINUATION_COLOUR, label=f"continuation ({len(continuation)} notes)"),
            start_line,
        ],
        labels=[
            f"primer ({len(primer)} notes)",
            f"continuation ({len(continuation)} notes)",
            "continuation starts",
        ],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
    )
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return path
