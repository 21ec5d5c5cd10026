"""The sampler: seeded draws, masks, greedy and nucleus limits, frequencies, frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livegen.sampling import Sampler

LOGITS = torch.tensor([2.0, 1.0, 0.5, -1.0, 0.0, 1.5])


def test_seed_reproduces_draws() -> None:
    a, b = Sampler(seed=7), Sampler(seed=7)
    frame = torch.linspace(-2, 2, 12)
    draws_a = [(a.sample(LOGITS), a.sample_frame(frame)) for _ in range(50)]
    draws_b = [(b.sample(LOGITS), b.sample_frame(frame)) for _ in range(50)]
    assert draws_a == draws_b
    assert len({d[0] for d in draws_a}) > 1  # actually random, not constant
    a.reseed(7)
    assert [(a.sample(LOGITS), a.sample_frame(frame)) for _ in range(50)] == draws_a


def test_different_seeds_differ() -> None:
    a, b = Sampler(seed=1), Sampler(seed=2)
    assert [a.sample(LOGITS) for _ in range(40)] != [b.sample(LOGITS) for _ in range(40)]


@pytest.mark.parametrize("as_tensor", [False, True])
def test_mask_is_respected(as_tensor: bool) -> None:
    logits = torch.tensor([10.0, 0.0, 0.0, 10.0, -5.0, 0.0])  # the favourites are forbidden
    mask = np.array([False, True, False, False, True, True])
    if as_tensor:
        mask = torch.from_numpy(mask)
    sampler = Sampler(temperature=1.5, seed=0)
    seen = {sampler.sample(logits, mask) for _ in range(300)}
    assert seen <= {1, 4, 5} and {1, 5} <= seen
    sampler.top_p = 0.5
    assert {sampler.sample(logits, mask) for _ in range(100)} <= {1, 4, 5}
    sampler.temperature = 0.0
    assert sampler.sample(logits, mask) == 1  # best allowed; ties go to the lowest index


def test_mask_forbidding_everything_raises() -> None:
    sampler = Sampler(seed=0)
    with pytest.raises(ValueError, match="forbids every"):
        sampler.sample(LOGITS, np.zeros(6, bool))
    sampler.temperature = 0.0
    with pytest.raises(ValueError, match="forbids every"):
        sampler.sample(LOGITS, np.zeros(6, bool))


def test_mask_of_wrong_shape_raises() -> None:
    with pytest.raises(ValueError, match="shape"):
        Sampler(seed=0).sample(LOGITS, np.ones(5, bool))


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_greedy_at_zero_temperature(temperature: float) -> None:
    sampler = Sampler(temperature=temperature, seed=0)
    assert all(sampler.sample(LOGITS) == 0 for _ in range(20))
    assert sampler.sample(LOGITS, np.array([0, 1, 1, 1, 1, 1], bool)) == 5


@pytest.mark.parametrize("top_p", [1e-6, 0.0])
def test_nucleus_keeps_top_token_at_tiny_top_p(top_p: float) -> None:
    sampler = Sampler(temperature=5.0, top_p=top_p, seed=0)  # flat, yet only the top survives
    assert {sampler.sample(LOGITS) for _ in range(100)} == {0}


def test_nucleus_keeps_smallest_set_reaching_top_p() -> None:
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()
    sampler = Sampler(top_p=0.79, seed=0)  # 0.5 + 0.3 reaches it: two tokens
    assert {sampler.sample(logits) for _ in range(300)} == {0, 1}
    sampler.top_p = 0.81  # needs the third
    assert {sampler.sample(logits) for _ in range(300)} == {0, 1, 2}


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_frequencies_match_softmax(temperature: float) -> None:
    sampler = Sampler(temperature=temperature, seed=123)
    n = 20000
    counts = np.bincount([sampler.sample(LOGITS) for _ in range(n)], minlength=6)
    expected = torch.softmax(LOGITS / temperature, 0).numpy()
    np.testing.assert_allclose(counts / n, expected, atol=0.015)


def test_nucleus_frequencies_renormalise_the_kept_set() -> None:
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()
    sampler = Sampler(top_p=0.8, seed=3)
    n = 10000
    counts = np.bincount([sampler.sample(logits) for _ in range(n)], minlength=4)
    np.testing.assert_allclose(counts / n, [0.625, 0.375, 0, 0], atol=0.015)


def test_frame_sampling_with_mask() -> None:
    logits = torch.full((10,), 8.0)  # every key almost surely on
    mask = np.ones(10, bool)
    mask[[2, 7]] = False
    sampler = Sampler(seed=0)
    for _ in range(50):
        frame = sampler.sample_frame(logits, mask)
        assert frame == (0, 1, 3, 4, 5, 6, 8, 9)
    assert sampler.sample_frame(logits, np.zeros(10, bool)) == ()


def test_frame_greedy_and_sorted() -> None:
    logits = torch.tensor([1.0, -1.0, 0.2, -0.1, 3.0])
    sampler = Sampler(temperature=0.0, seed=0)
    assert sampler.sample_frame(logits) == (0, 2, 4)
    assert sampler.sample_frame(logits, torch.tensor([1, 1, 1, 1, 0], dtype=torch.bool)) == (0, 2)
    sampler.temperature = 1.0
    for _ in range(20):
        frame = sampler.sample_frame(logits)
        assert list(frame) == sorted(set(frame))


def test_frame_frequencies_match_sigmoid() -> None:
    logits = torch.tensor([-2.0, -0.5, 0.0, 1.0, 3.0])
    sampler = Sampler(temperature=0.5, seed=9)
    n = 10000
    on = np.zeros(5)
    for _ in range(n):
        on[list(sampler.sample_frame(logits))] += 1
    np.testing.assert_allclose(on / n, torch.sigmoid(logits / 0.5).numpy(), atol=0.015)


def test_frame_extreme_logits_at_tiny_temperature() -> None:
    sampler = Sampler(temperature=1e-4, seed=0)
    with np.errstate(all="raise"):  # no overflow on the way
        assert sampler.sample_frame(torch.tensor([-50.0, 50.0, -1e4])) == (1,)


def test_sampling_leaves_the_logits_alone() -> None:
    logits = LOGITS.clone()
    sampler = Sampler(temperature=0.7, top_p=0.9, seed=0)
    sampler.sample(logits, np.ones(6, bool))
    sampler.sample_frame(logits, np.ones(6, bool))
    assert torch.equal(logits, LOGITS)


def test_accepts_graph_and_bfloat16_logits() -> None:
    sampler = Sampler(temperature=0.0, seed=0)
    assert sampler.sample(LOGITS.clone().requires_grad_()) == 0
    assert sampler.sample(LOGITS.to(torch.bfloat16)) == 0
    assert sampler.sample(LOGITS.numpy()) == 0


def test_settings_are_checked() -> None:
    sampler = Sampler()
    sampler.temperature = 0.5
    assert sampler.temperature == 0.5
    with pytest.raises(ValueError):
        sampler.top_p = 1.5
    with pytest.raises(ValueError):
        Sampler(top_p=-0.1)
    with pytest.raises(ValueError):
        sampler.temperature = float("nan")


def test_non_finite_logits_raise() -> None:
    sampler = Sampler(seed=0)
    with pytest.raises(ValueError):
        sampler.sample(torch.full((4,), float("-inf")))
    with pytest.raises(ValueError):
        sampler.sample(torch.full((4,), float("nan")))


@pytest.mark.parametrize("with_mask", [False, True])
def test_small_vocabulary_path_draws_what_the_numpy_path_draws(monkeypatch, with_mask) -> None:
    """Vocabularies up to SMALL_VOCAB sample in plain floats: the same draws, seed for seed."""
    import livegen.sampling as sampling

    logits = torch.randn(39, generator=torch.Generator().manual_seed(3)) * 3
    mask = torch.ones(39, dtype=torch.bool)
    mask[[0, 5, 6, 20]] = False

    def draws() -> list[int]:
        s = Sampler(temperature=0.8, seed=11)
        return [s.sample(logits, mask if with_mask else None) for _ in range(500)]

    small = draws()
    monkeypatch.setattr(sampling, "SMALL_VOCAB", 0)  # force the NumPy path
    assert draws() == small
    if with_mask:
        assert not {0, 5, 6, 20} & set(small)


def test_large_vocabulary_frequencies_match_softmax() -> None:
    logits = torch.linspace(-2, 2, 300)
    s = Sampler(temperature=1.0, seed=2)
    counts = np.bincount([s.sample(logits) for _ in range(20_000)], minlength=300)
    expected = torch.softmax(logits, 0).numpy() * 20_000
    top = np.argsort(expected)[-20:]  # the likeliest tokens, where counts are large
    assert np.all(np.abs(counts[top] - expected[top]) < 5 * np.sqrt(expected[top]) + 5)
