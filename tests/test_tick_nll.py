"""livegen.tick_nll: per-token NLL from a real (tiny, random) model, summed per tick."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from livegen.codecs import make_codec
from livegen.model import LSTMModel, ModelConfig
from livegen.notes import make_notes
from livegen.tick_nll import piece_positions, tick_nll, token_nll

PARTS = dict(ticks_per_quarter=4, low=36, high=84, yours_low=60, yours_max_notes=1)


def _model(codec, metric: bool = True) -> LSTMModel:
    torch.manual_seed(0)
    cfg = ModelConfig(len(codec.table), n_layer=1, n_hidden=16, n_embd=8, metric=metric)
    return LSTMModel(cfg).eval()


def _piece():
    yours = make_notes([(72, 0, 1), (74, 1, 2), (76, 2, 4)])  # (pitch, start, end)
    mine = make_notes([(48, 0, 2), (55, 0, 1), (53, 1, 4)])
    return yours, mine


def test_token_nll_is_the_models_cross_entropy_token_by_token():
    codec = make_codec("parts", **PARTS)
    model = _model(codec)
    tokens = codec.encode_parts(*_piece())
    pos = piece_positions(codec, tokens, 4)
    nll = token_nll(model, tokens, pos)
    assert np.isnan(nll[0]) and np.isfinite(nll[1:]).all()
    # The same figure, stepping the model one token at a time from a zero state.
    with torch.no_grad():
        state, want = None, []
        for i in range(len(tokens) - 1):
            x = torch.tensor([[tokens[i]]])
            logits, state = model(x, state, pos=torch.tensor([[pos[i]]]))
            want.append(F.cross_entropy(logits[0], torch.tensor([tokens[i + 1]])).item())
    np.testing.assert_allclose(nll[1:], want, rtol=1e-4, atol=1e-5)


def test_tick_nll_sums_kept_tokens_per_tick_and_marks_unpredicted_ticks():
    codec = make_codec("parts", **PARTS)
    tokens = codec.encode_parts(*_piece())
    nll = np.arange(len(tokens), dtype=float)
    nll[0] = np.nan
    ticks = codec.tick_of_tokens(tokens)
    mine = np.isin(tokens, codec.mine_tokens)
    per_tick = tick_nll(codec, tokens, nll, mine)
    assert len(per_tick) == ticks[-1] + 1 == 17  # 4 quarters of 4 ticks, then the releases
    for t in range(len(per_tick)):
        here = (ticks == t) & mine
        assert per_tick[t] == nll[here].sum()
    # Tick 0's first token (yours) has no prediction; mine's tokens of tick 0 all do.
    assert np.isfinite(per_tick[0])
    # Every token counted: tick 0 holds the unpredicted one, so it is unknown, not cheap.
    everything = tick_nll(codec, tokens, nll)
    assert np.isnan(everything[0]) and np.isfinite(everything[1:]).all()
    assert everything[1:].sum() == nll[ticks > 0].sum()


def test_single_stream_ticks_cover_the_same_notes_as_mine():
    poly = make_codec("poly", ticks_per_quarter=4, low=36, high=84)
    parts = make_codec("parts", **PARTS)
    yours, mine = _piece()
    b_tok, p_tok = poly.encode(mine), parts.encode_parts(yours, mine)
    b_nll = token_nll(_model(poly), b_tok, piece_positions(poly, b_tok, 4))
    per_tick = tick_nll(poly, b_tok, b_nll)
    # Mine ends with yours here, so both encodings have the same ticks.
    assert len(per_tick) == parts.tick_of_tokens(p_tok)[-1] + 1
    assert np.isnan(per_tick[0]) and (per_tick[1:] > 0).all()
