"""BL2012 piano-roll frames as ticks of a softmax codec, and per-frame NLL and ACC on them.

The benchmark sets of Boulanger-Lewandowski, Bengio and Vincent (ICML 2012) give each
piece as frames, a frame being the set of pitches sounding. Here one frame is one tick of
a live codec (``poly``: ON(p) for each new pitch ascending, HOLD(p) for each pitch that
sounded in the frame before, then STEP), built by the same path training uses: frames ->
notes (:func:`livegen.data.steps_to_notes`, so a pitch sounding in consecutive frames is
one held note) -> the codec's ticks -> ``listen``. BL2012 frames cannot tell a re-struck
pitch from a held one, so frames -> tokens -> frames loses nothing.

:func:`evaluate` reports what the published rows report, per frame: the NLL of a frame is
the sum of its tick's token NLLs (an upper bound on the frame's NLL, since a frame has
other, non-canonical token spellings), pooled over every frame of every piece; ACC is
Bay et al.'s TP / (TP + FP + FN) with the predicted frame decoded greedily, one most
likely token at a time, from the true history. Each piece starts from zero state after
``lead_in`` silent ticks (one STEP each, as live after silence), so its first frame is
predicted and counted like every other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from livegen.codecs.base import Accept, Codec
from livegen.data import DataError, delay, steps_to_notes
from livegen.model import LSTMModel, State
from livegen.notes import EMPTY_TICK, Tick, quantize

Frame = frozenset[int]
SPLITS = ("train", "valid", "test")


def read_frames(path: str | Path, split: str) -> list[list[Frame]]:
    """One split of a bl2012 JSON file: per piece, its frames as sets of MIDI pitches."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable bl2012 JSON file ({e})") from None
    pieces = data.get(split) if isinstance(data, dict) else None
    if not isinstance(pieces, list) or not pieces:
        raise DataError(f"{path}: no {split!r} list of pieces (bl2012 format)")
    return [[frozenset(int(p) for p in step) for step in piece] for piece in pieces]


def piece_ticks(codec: Codec, frames: list[Frame], lead_in: int = 1) -> list[list[int]]:
    """The tokens of each tick, ``lead_in`` silent ticks then exactly one tick per frame.

    The codec's own encoding of the piece (what ``train.py`` learns from) is these ticks
    laid end to end, followed by the tick that ends the last notes.
    """
    return _piece(codec, frames, lead_in)[1]


def _piece(codec: Codec, frames: list[Frame], lead_in: int) -> tuple[list[Tick], list[list[int]]]:
    notes = steps_to_notes([sorted(f) for f in frames], 1.0 / codec.ticks_per_quarter)
    if lead_in and len(notes):
        notes = delay(notes, lead_in / codec.ticks_per_quarter)
    ticks = codec.ticks(notes)[: lead_in + len(frames)]
    ticks += [EMPTY_TICK] * (lead_in + len(frames) - len(ticks))  # trailing silent frames
    stream = codec.stream()
    return ticks, [[int(t) for t in stream.listen(tick)] for tick in ticks]


def tick_frame(codec: Codec, tokens: list[int]) -> Frame:
    """The pitches one tick says are sounding (struck or held)."""
    return frozenset(p for kind, p in (codec.table[t] for t in tokens) if kind in ("ON", "HOLD"))


def ticks_to_frames(codec: Codec, ticks: list[list[int]], n_frames: int) -> list[Frame]:
    """Frames back from ticks through the codec's own decoder (notes), painted on the grid."""
    flat = np.asarray([t for tick in ticks for t in tick], dtype=np.int64)
    frames: list[set[int]] = [set() for _ in range(n_frames)]
    for pitch, start, end, _ in quantize(codec.decode(flat), codec.ticks_per_quarter):
        for i in range(start, min(end, n_frames)):
            frames[i].add(pitch)
    return [frozenset(f) for f in frames]


@dataclass(frozen=True)
class Figures:
    """Per-frame figures over a split, pooled over all its frames."""

    nll: float  # nats per frame: token NLLs under the live grammar's mask, summed per tick
    nll_unmasked: float  # the same from the raw softmax (the grammar not applied)
    acc: float  # TP / (TP + FP + FN) of the greedily decoded frames
    frames: int  # frames counted (every frame of every piece, once)
    tokens: int  # tokens counted

    def as_dict(self) -> dict:
        return {
            "nll": self.nll,
            "nll_unmasked": self.nll_unmasked,
            "acc": self.acc,
            "frames": self.frames,
            "tokens": self.tokens,
        }


@torch.no_grad()
def evaluate(
    model: LSTMModel,
    codec: Codec,
    pieces: list[list[Frame]],
    lead_in: int = 1,
    batch_size: int = 128,
) -> Figures:
    """Per-frame NLL and ACC of ``model`` on ``pieces``, all pieces stepped side by side."""
    model.eval()
    nll = nll_raw = 0.0
    n_frames = n_tokens = 0
    tp = fp = fn = 0
    for start in range(0, len(pieces), batch_size):
        group = pieces[start : start + batch_size]
        out = _evaluate_group(model, codec, group, [_piece(codec, f, lead_in) for f in group])
        nll, nll_raw = nll + out[0], nll_raw + out[1]
        n_tokens += out[2]
        tp, fp, fn = tp + out[3], fp + out[4], fn + out[5]
        n_frames += sum(len(f) for f in group)
    model.train()
    return Figures(
        nll=nll / n_frames,
        nll_unmasked=nll_raw / n_frames,
        acc=tp / max(tp + fp + fn, 1),
        frames=n_frames,
        tokens=n_tokens,
    )


def _evaluate_group(model, codec, group, coded):
    """Sums over one batch of pieces: NLL (masked, raw), tokens, TP, FP, FN."""
    device = model.head.weight.device
    b = len(group)
    events = [c[0] for c in coded]  # (B,) lists of Tick: what each stream listens to
    ticks = [c[1] for c in coded]  # (B,) lists of each tick's tokens
    lead_in = len(ticks[0]) - len(group[0])
    state = model.initial_state(b, device)
    logits = torch.zeros(b, codec.vocab_size, device=device)  # (B, V) before each tick
    streams = [codec.stream() for _ in range(b)]
    nll = nll_raw = 0.0
    n_tokens = tp = fp = fn = 0
    # Silence before the pieces: fed, not counted (every piece has lead_in ticks).
    for t in range(lead_in):
        logits, state = _feed(model, [ticks[j][t] for j in range(b)], logits, state)
        for j in range(b):
            streams[j].listen(events[j][t])
    for t in range(max(len(f) for f in group)):
        live = [j for j in range(b) if t < len(group[j])]
        # Greedy guess of the tick from the true history, on copies: state stays true.
        guess = _greedy(model, codec, live, logits, state, streams)
        for j in live:
            truth = group[j][t]
            tp += len(guess[j] & truth)
            fp += len(guess[j] - truth)
            fn += len(truth - guess[j])
        # The true tick: score each token under the grammar, then feed it.
        tokens = [ticks[j][lead_in + t] if j in live else [] for j in range(b)]
        answers = {j: streams[j].copy() for j in live}
        for a in answers.values():
            a.begin()
        for k in range(max(len(tokens[j]) for j in live)):
            rows = [j for j in live if k < len(tokens[j])]
            logp = torch.log_softmax(logits[rows].float(), -1)  # (R, V)
            mask = torch.as_tensor(np.stack([answers[j].mask() for j in rows]), device=device)
            logq = torch.log_softmax(logits[rows].float().masked_fill(~mask, -torch.inf), -1)
            target = torch.as_tensor([tokens[j][k] for j in rows], device=device)
            picked = logq.gather(1, target[:, None])
            if not torch.isfinite(picked).all():
                raise ValueError("bl2012: a true token is outside the codec's tick grammar")
            nll -= picked.sum().item()
            nll_raw -= logp.gather(1, target[:, None]).sum().item()
            n_tokens += len(rows)
            for j, tok in zip(rows, target.tolist(), strict=True):
                answers[j].accept(tok)
            logits, state = _step(model, rows, target, logits, state)
        # Advance the listening streams by the true tick (its tokens are already fed).
        for j in live:
            streams[j].listen(events[j][lead_in + t])
    return nll, nll_raw, n_tokens, tp, fp, fn


def _step(model, rows, tokens, logits, state):
    """Feed one token to the pieces in ``rows``; the others keep their logits and state."""
    b = logits.shape[0]
    x = torch.zeros(b, 1, dtype=torch.long, device=logits.device)  # (B, 1)
    x[rows, 0] = tokens
    out, new = model(x, state)  # (B, 1, V)
    on = torch.zeros(b, dtype=torch.bool, device=logits.device)
    on[rows] = True
    logits = torch.where(on[:, None], out[:, 0], logits)  # (B, V)
    keep = on[None, :, None]  # (1, B, 1) over (L, B, H)
    return logits, State(torch.where(keep, new.h, state.h), torch.where(keep, new.c, state.c))


def _feed(model, tokens_per_piece, logits, state):
    """Feed a whole tick to every piece (the lead-in)."""
    for k in range(max(len(t) for t in tokens_per_piece)):
        rows = [j for j, t in enumerate(tokens_per_piece) if k < len(t)]
        target = torch.as_tensor([tokens_per_piece[j][k] for j in rows], device=logits.device)
        logits, state = _step(model, rows, target, logits, state)
    return logits, state


def _greedy(model, codec, live, logits, state, streams) -> dict[int, Frame]:
    """The most likely token at each place under the grammar, until STEP, per live piece."""
    guesses = {j: streams[j].copy() for j in live}
    tokens: dict[int, list[int]] = {j: [] for j in live}
    for g in guesses.values():
        g.begin()
    open_ = list(live)
    device = logits.device
    while open_:
        mask = torch.as_tensor(np.stack([guesses[j].mask() for j in open_]), device=device)
        best = logits[open_].float().masked_fill(~mask, -torch.inf).argmax(-1).tolist()
        still = []
        for j, tok in zip(open_, best, strict=True):
            tokens[j].append(tok)
            if guesses[j].accept(tok) is Accept.CONTINUE:
                still.append(j)
        if still:
            target = torch.as_tensor([tokens[j][-1] for j in still], device=device)
            logits, state = _step(model, still, target, logits, state)
        open_ = still
    return {j: tick_frame(codec, tokens[j]) for j in live}
