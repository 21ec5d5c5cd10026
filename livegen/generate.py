"""Offline continuation: a Player driven tick by tick from a primer MIDI file.

The Player is the one the live engine drives, stepped the same way: it listens to the
primer (teacher forcing, not playing), answers from the primer's last tick on, and
hears its own answers back. So an offline continuation is what livegen would play
live after the same phrase, with the same seed.

MIDI files are read and written by :mod:`livegen.midifile`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from livegen.errors import LivegenError
from livegen.notes import EMPTY_TICK, END, START, ticks_to_notes

if TYPE_CHECKING:  # torch and the model stay unimported until a continuation is asked for
    from livegen.checkpoint import Loaded


class GenerateError(LivegenError, ValueError):
    """A primer or request that cannot be continued: one line."""


def check_sampling(temperature: float, top_p: float, beats_per_bar: int) -> None:
    """The sampling settings of an offline run (a continuation, a harmonization), checked alike."""
    if temperature < 0:
        raise GenerateError(f"temperature must be >= 0, not {temperature}")
    if not 0 < top_p <= 1:
        raise GenerateError(f"top-p must be in (0, 1], not {top_p}")
    if beats_per_bar <= 0:
        raise GenerateError(f"beats per bar must be positive, not {beats_per_bar}")


def continue_piece(
    loaded_checkpoint: Loaded,
    primer_notes: np.ndarray,
    *,
    bars: int = 8,
    temperature: float = 0.9,
    top_p: float = 1.0,
    seed: int | None = None,
    beats_per_bar: float = 4,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Continue a primer for ``bars`` bars with a loaded checkpoint.

    Returns ``(primer_notes_on_grid, continuation_notes)``: the primer as the codec hears
    it (folded into range, quantized), and the continuation, both in quarter notes from
    the primer's start. The continuation starts where the primer's last note ends. The
    same seed gives the same continuation.
    """
    import torch  # lazily: importing this module costs no torch

    from livegen.player import Player
    from livegen.sampling import Sampler

    if bars < 1:
        raise GenerateError(f"bars must be at least 1, not {bars}")
    check_sampling(temperature, top_p, beats_per_bar)

    codec = loaded_checkpoint.codec
    tpq = codec.ticks_per_quarter
    ticks = codec.ticks(np.asarray(primer_notes, dtype=np.float64).reshape(-1, 4))
    if len(ticks) < 2:
        raise GenerateError("the primer has no notes to continue")
    # ticks[-1] holds only the last note-offs: that tick is the continuation's first, so the
    # answer follows the primer without a gap (the Player hears those offs as the musician's).
    n_primer = len(ticks) - 1
    n_continue = round(bars * beats_per_bar * tpq)

    model = loaded_checkpoint.model
    model.eval()
    sampler = Sampler(temperature=temperature, top_p=top_p, seed=seed)
    player = Player(
        model, codec, sampler, device=device, beats_per_bar=max(1, round(beats_per_bar))
    )
    answered = []
    with torch.no_grad():
        for tick in ticks[: n_primer - 1]:
            player.step(tick, play=False)
        # Each step returns the Player's plan for the next tick.
        answered.append(player.step(ticks[n_primer - 1], play=True))
        for n in range(n_primer, n_primer + n_continue - 1):
            heard = ticks[n] if n < len(ticks) else EMPTY_TICK
            answered.append(player.step(heard, play=True))

    primer_on_grid = ticks_to_notes(ticks, tpq)
    continuation = ticks_to_notes(answered, tpq)
    if len(continuation):
        continuation[:, START] += n_primer / tpq
        continuation[:, END] += n_primer / tpq
    return primer_on_grid, continuation
