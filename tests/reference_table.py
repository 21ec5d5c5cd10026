"""The harmonize table built the way it was before livegen/steppers/batch.py: the reference.

:func:`reference_plan` steps the candidate rows through the model's own ``nn.LSTM``
(``LSTMModel.step`` at batch B, a fresh state per build), the path whose rows
tests/test_harmonize.py checked against the fused batch-1 step. The fast build
(``harmonize.Planner``) must give the same table from the same state and the same draws;
bench/harmonize_table.py times both in one run.
"""

from __future__ import annotations

import numpy as np
import torch

from livegen.codecs.base import Accept
from livegen.harmonize import Job, Row, Table, candidates
from livegen.model import State
from livegen.notes import EMPTY_TICK
from livegen.parts_player import PartsPlayer
from livegen.voice_guards import table_guard


def reference_plan(player: PartsPlayer, tick: int) -> Table:
    """The table for ``tick`` through nn.LSTM at batch B (module docstring)."""
    model, sampler = player.model, player.sampler
    job = Job.of(player, tick)  # what the table is valid for
    base, pending = player.stream, player.pending_releases
    start = base.copy()
    start.release_mine(pending)  # as step_parts would, first thing at the tick
    yours = candidates(player)
    streams, y_tokens = [], []
    for half in yours:
        s = start.copy()
        y_tokens.append(s.listen_yours(half))
        streams.append(s)
    B = len(yours)
    w = model.head.weight
    h0, c0 = player.state
    h = h0.to(w.device, w.dtype).expand(-1, B, -1).contiguous()  # (L, B, H)
    c = c0.to(w.device, w.dtype).expand(-1, B, -1).contiguous()  # (L, B, H)
    pos = torch.full((B,), player.position(tick), dtype=torch.long, device=w.device)  # (B,)
    logits = np.empty((B, player.codec.vocab_size), dtype=np.float32)  # (B, V)

    def feed(rows: list[int], tokens: list[int]) -> None:
        """One batched step of ``rows`` (the others keep their state and logits)."""
        x = torch.tensor(tokens, device=w.device)  # (b,)
        if len(rows) == B:
            out, (h[:], c[:]) = model.step(x, State(h, c), pos)  # (B, V), (L, B, H) x2
        else:  # rows done sampling cost nothing more
            i = torch.tensor(rows, device=w.device)  # (b,)
            out, (h2, c2) = model.step(x, State(h[:, i], c[:, i]), pos[: len(rows)])  # (b, V)
            h[:, i], c[:, i] = h2, c2
        logits[rows] = out.float().cpu().numpy()

    # Your halves: one or two tokens each (a strike or a hold, then MID).
    for k in range(max(map(len, y_tokens))):
        rows = [b for b in range(B) if k < len(y_tokens[b])]
        feed(rows, [y_tokens[b][k] for b in rows])
    # My halves: sampled on every row at once, each under its own stream's grammar.
    answers = [s.copy() for s in streams]
    fed: list[list[int]] = [[] for _ in range(B)]
    key = player.key_mask
    for a in answers:
        a.begin()
    live = list(range(B))
    guard = table_guard(player, tick, answers)  # the sampling guards, as main's build had them
    for _ in range(player.codec.my_part.max_notes + 2):
        if not live:
            break
        masks = np.stack([answers[b].mask() for b in live])  # (b, V)
        if key is not None:
            masks = masks & key
        if guard is not None:
            masks = guard(live, masks)
        drawn = sampler.sample_rows(logits[live], masks)
        rows, tokens, still = [], [], []
        for b, token in zip(live, drawn.tolist(), strict=True):
            verdict = answers[b].accept(token)
            if verdict is Accept.DROP:
                continue
            rows.append(b)
            tokens.append(token)
            fed[b].append(token)
            if verdict is not Accept.FINAL:
                still.append(b)
        if rows:
            feed(rows, tokens)
        live = still
    rows = []
    for b in range(B):
        mine = answers[b].answer() if not live or b not in live else EMPTY_TICK
        heard_back = streams[b].listen_mine(mine)
        usable = b not in live and tuple(heard_back) == tuple(fed[b])
        rows.append(Row(yours[b], tuple(y_tokens[b]), mine, streams[b], usable))
    return Table(job, rows, h, c, torch.from_numpy(logits))
