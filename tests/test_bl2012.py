"""BL2012 frames as poly ticks: the round trip, the training path, and per-frame figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from livegen import bl2012
from livegen.codecs import make_codec
from livegen.codecs.base import Accept
from livegen.data import DataError, delay, steps_to_notes
from livegen.model import LSTMModel, ModelConfig
from livegen.notes import EMPTY_TICK

# The benchmark files are not part of the repository; the real-data tests run where they are.
DATA = Path(os.environ.get("LIVEGEN_BL2012", Path(__file__).parents[1] / "../shared/data/bl2012"))
SETS = [("jsb_chorales.json", 1), ("piano_midi.json", 2)]  # file, ticks per quarter (1 frame)


def poly(tpq: int = 1):
    return make_codec("poly", ticks_per_quarter=tpq, low=21, high=108)


frames_st = st.lists(
    st.frozensets(st.integers(21, 108), max_size=6), min_size=0, max_size=24
)  # silent frames anywhere, leading and trailing included


def assert_round_trip(codec, frames, lead_in):
    ticks = bl2012.piece_ticks(codec, frames, lead_in)
    assert len(ticks) == lead_in + len(frames)  # one tick per frame, after the lead-in
    assert all(t == [codec.step] for t in ticks[:lead_in])
    back = bl2012.ticks_to_frames(codec, ticks, lead_in + len(frames))
    assert back[lead_in:] == frames and not any(back[:lead_in])
    previous: frozenset[int] = frozenset()
    for frame, tokens in zip(frames, ticks[lead_in:], strict=True):
        # The live order: new pitches ascending, then held ones ascending, then STEP.
        ons = [codec.on_token[p] for p in sorted(frame - previous)]
        holds = [codec.hold_token[p] for p in sorted(frame & previous)]
        assert tokens == [*ons, *holds, codec.step]
        assert bl2012.tick_frame(codec, tokens) == frame
        previous = frame


@settings(max_examples=200, deadline=None)
@given(frames=frames_st, tpq=st.sampled_from([1, 2, 4]), lead_in=st.integers(0, 2))
def test_frames_to_ticks_and_back_lose_nothing(frames, tpq, lead_in):
    assert_round_trip(poly(tpq), frames, lead_in)


@settings(max_examples=100, deadline=None)
@given(frames=frames_st.filter(lambda f: any(f)), lead_in=st.integers(0, 2))
def test_the_ticks_are_what_training_learns_from(frames, lead_in):
    """train.py encodes the loader's notes, delayed by the lead-in: the same tokens."""
    codec = poly(2)
    notes = delay(steps_to_notes([sorted(f) for f in frames], 0.5), lead_in / 2)
    encoded = codec.encode(notes).tolist()
    flat = [t for tick in bl2012.piece_ticks(codec, frames, lead_in) for t in tick]
    n = min(len(encoded), len(flat))
    assert encoded[:n] == flat[:n]
    assert encoded[n:] in ([codec.step], [])  # only the tick ending the last notes
    assert set(flat[n:]) <= {codec.step}  # trailing silent frames, which notes cannot keep


@pytest.mark.parametrize(("name", "tpq"), SETS)
def test_every_real_piece_round_trips(name, tpq):
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} not here (the BL2012 files are not part of the repository)")
    codec = poly(tpq)
    for split in bl2012.SPLITS:
        for frames in bl2012.read_frames(path, split):
            assert_round_trip(codec, frames, 1)


def tiny_model(codec, seed=0) -> LSTMModel:
    torch.manual_seed(seed)
    cfg = ModelConfig(codec.vocab_size, n_layer=2, n_hidden=24, n_embd=8)
    return LSTMModel(cfg).eval()


def random_pieces(seed: int, lengths: list[int]) -> list[list[frozenset[int]]]:
    rng = np.random.default_rng(seed)
    pieces = []
    for n in lengths:
        frames, now = [], set()
        for _ in range(n):
            now = {p for p in now if rng.random() < 0.6} | set(rng.integers(55, 70, 2).tolist())
            frames.append(frozenset(p for p in now if rng.random() < 0.9))
        pieces.append(frames)
    return pieces


def test_nll_counts_every_frame_once_like_one_forward_pass():
    """Stepping pieces of unequal length side by side equals one forward pass per piece."""
    codec = poly(1)
    model = tiny_model(codec)
    pieces = random_pieces(3, [1, 7, 3, 12])
    got = bl2012.evaluate(model, codec, pieces, lead_in=1, batch_size=3)
    total, tokens = 0.0, 0
    for frames in pieces:
        flat = [t for tick in bl2012.piece_ticks(codec, frames, 1) for t in tick]
        with torch.no_grad():
            logits, _ = model(torch.as_tensor([flat]))  # (1, N, V)
        # Targets are every token after the lead-in STEP: the first frame's included.
        total += F.cross_entropy(logits[0, :-1], torch.as_tensor(flat[1:]), reduction="sum").item()
        tokens += len(flat) - 1
    assert got.frames == 1 + 7 + 3 + 12 and got.tokens == tokens
    assert got.nll_unmasked == pytest.approx(total / got.frames, rel=1e-5)
    # The live grammar only removes impossible tokens: the masked NLL is lower, not higher.
    assert got.nll < got.nll_unmasked


def test_acc_decodes_the_most_likely_tick_from_the_true_history():
    """A slow reference: one piece at a time, token by token, greedy under the mask."""
    codec = poly(1)
    model = tiny_model(codec, seed=4)
    pieces = random_pieces(5, [6, 2, 9])
    tp = fp = fn = 0
    for frames in pieces:
        ticks = bl2012.piece_ticks(codec, frames, 1)
        stream = codec.stream()
        state = model.initial_state(1)
        with torch.no_grad():
            logits, state = model.step(torch.as_tensor([codec.step]), state)
            stream.listen(EMPTY_TICK)  # the lead-in's silent tick
            for frame, tokens in zip(frames, ticks[1:], strict=True):
                guess, g_logits, g_state = stream.copy(), logits, state
                guess.begin()
                picked = []
                while True:
                    mask = torch.as_tensor(guess.mask())
                    tok = int(g_logits[0].masked_fill(~mask, -torch.inf).argmax())
                    picked.append(tok)
                    if guess.accept(tok) is not Accept.CONTINUE:
                        break
                    g_logits, g_state = model.step(torch.as_tensor([tok]), g_state)
                pred = bl2012.tick_frame(codec, picked)
                tp, fp, fn = tp + len(pred & frame), fp + len(pred - frame), fn + len(frame - pred)
                for tok in tokens:
                    logits, state = model.step(torch.as_tensor([tok]), state)
                answer = stream.copy()
                answer.begin()
                for tok in tokens:
                    answer.accept(tok)
                stream.listen(answer.answer())
    got = bl2012.evaluate(model, codec, pieces, lead_in=1, batch_size=2)
    assert tp + fp + fn > 0
    assert got.acc == pytest.approx(tp / (tp + fp + fn))


def test_a_split_that_is_not_there_is_a_clear_error(tmp_path):
    path = tmp_path / "rolls.json"
    path.write_text(json.dumps({"train": [[[60]]]}))
    with pytest.raises(DataError, match="'valid'"):
        bl2012.read_frames(path, "valid")
    with pytest.raises(DataError, match="split must be one of"):
        bl2012.read_frames(path, "dev")
    with pytest.raises(DataError, match="not a readable"):
        bl2012.read_frames(tmp_path / "none.json", "test")
