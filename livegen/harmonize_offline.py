"""Offline harmonization: a parts model plays its part beside yours, given as a whole piece.

The PartsPlayer is the one the live engine drives, stepped the same way: at each tick n it
hears your part of tick n, then samples and plays its own part of the same tick
(``step_parts(yours, play=True, tick=n)``). So an offline harmonization is what livegen
would play beside the same melody live, with the same seed. At the tick of your last
note-off livegen's notes end too: nothing is left sounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from livegen.generate import GenerateError, check_sampling
from livegen.notes import DEFAULT_VELOCITY, Tick, empty_notes, ticks_to_notes
from livegen.voice_guards import ALL, GuardChoice

if TYPE_CHECKING:  # torch and the model stay unimported until a harmonization is asked for
    from livegen.checkpoint import Loaded


@dataclass(frozen=True)
class Harmonization:
    """Your part as livegen heard it and livegen's part beside it (notes arrays)."""

    yours: np.ndarray  # folded into your part's range, on the grid; a chord into a
    # monophonic part keeps its highest note, as live
    mine: np.ndarray
    chords: int  # ticks at which your part held more notes than it takes
    fallbacks: int = 0  # tokens at which the sampling guards left the grammar alone to decide


def harmonize(
    loaded_checkpoint: Loaded,
    your_notes: np.ndarray,
    *,
    temperature: float = 0.9,
    top_p: float = 1.0,
    seed: int | None = None,
    beats_per_bar: float = 4,
    first_tick: int = 0,
    device: str = "cpu",
    guards: GuardChoice | None = ALL,
) -> Harmonization:
    """livegen's part beside ``your_notes`` (pitch, start, end, velocity in quarter notes).

    Both parts come back in quarter notes from the piece's start. ``first_tick`` numbers the
    piece's first tick, which is where a metric model hears it fall in the bar: 0 when time
    0 is a bar line (a MIDI file), 12 for a quarter-note pickup in 4/4 at 4 ticks a quarter.
    The same seed gives the same part. ``guards``: the sampling guards of livegen's part
    (livegen/voice_guards.py), as live; None: none.
    """
    import torch  # lazily: importing this module costs no torch

    from livegen.codecs.parts import PartsCodec
    from livegen.parts_player import PartsPlayer
    from livegen.sampling import Sampler

    codec = loaded_checkpoint.codec
    if not isinstance(codec, PartsCodec):
        raise GenerateError(
            f"{loaded_checkpoint.path.name} is a {codec.name} model: harmonizing needs a parts "
            "model (chorale_harmony, chorale_bass, chorale_melody or one trained with data.parts)"
        )
    check_sampling(temperature, top_p, beats_per_bar)
    if first_tick < 0:
        raise GenerateError(f"the first tick must be 0 or more, not {first_tick}")
    notes = np.asarray(your_notes, dtype=np.float64).reshape(-1, 4)
    if len(notes) == 0:
        raise GenerateError("your part has no notes to harmonize")
    if np.min(notes[:, 1]) < 0:
        raise GenerateError("your part starts before time 0")

    ticks = codec.ticks_parts(notes, empty_notes())  # folded into range; the stream caps it
    model = loaded_checkpoint.model
    model.eval()
    sampler = Sampler(temperature=temperature, top_p=top_p, seed=seed)
    player = PartsPlayer(
        model, codec, sampler, device=device, beats_per_bar=max(1, round(beats_per_bar))
    )
    player.set_guards(guards)
    last = len(ticks) - 1  # the tick of your last note-off: livegen ends its notes there too
    mine, heard = [], []
    sounding: set[int] = set()
    fold = codec.your_part.fold
    with torch.no_grad():
        for n, tick in enumerate(ticks):
            if n == last:
                offs = player.cancel()
                end = player.step_parts(tick.yours, play=False, tick=first_tick + n)
                mine.append(offs.merge(end))
            else:
                mine.append(player.step_parts(tick.yours, play=True, tick=first_tick + n))
            heard.append(_as_heard(tick.yours, sounding, player.stream.yours, fold))
            sounding = set(player.stream.yours)
    tpq = codec.ticks_per_quarter
    return Harmonization(
        yours=ticks_to_notes(heard, tpq),
        mine=ticks_to_notes(mine, tpq),
        chords=player.stream.chords,
        fallbacks=player.guards.fallbacks if player.guards is not None else 0,
    )


def _as_heard(tick: Tick, before: set[int], after: set[int], fold) -> Tick:
    """Your tick as the stream kept it (folded, capped): what sounds after it that was not
    sounding before, or was struck again."""
    velocity = {fold(p): v for p, v in tick.ons}
    struck = (after - before) | (after & before & velocity.keys())
    offs = (before - after) | (before & struck)
    ons = tuple((p, velocity.get(p, DEFAULT_VELOCITY)) for p in sorted(struck))
    return Tick(tuple(sorted(offs)), ons)
