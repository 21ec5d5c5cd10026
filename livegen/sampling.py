"""Drawing tokens from the model's logits: temperature, nucleus (top-p), masks, a seeded generator.

The player calls a :class:`Sampler` once per token on the tick path, so the work is a
handful of NumPy operations on a vector of a few hundred logits; the randomness comes
from one ``torch.Generator``, so a seed reproduces a session's draws exactly.

Masks are boolean over the vocabulary (keys for pianoroll), True where a token is
allowed: the codec's grammar and the key/scale lock both speak this way.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import torch
from torch import Tensor

Mask = np.ndarray | Tensor
_BLOCK = 256  # uniforms per draw-ahead block of sample()
# Up to this many tokens, plain-float sampling: on a paced tick (cold caches) the eight
# NumPy calls cost 290 us against 100 us for a Python loop over 39 logits (bench/).
SMALL_VOCAB = 256


def _as_array(x: Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, Tensor):
        # Rare, and off the tick path: the steppers hand over plain CPU float32 logits.
        if x.requires_grad or x.device.type != "cpu" or x.dtype == torch.bfloat16:
            x = x.detach().to("cpu", torch.float32)
        return x.numpy()  # a view, no copy
    return np.asarray(x)


def _as_mask(mask: Mask, n: int) -> np.ndarray:
    m = _as_array(mask)
    if m.shape != (n,):
        raise ValueError(f"mask of shape {m.shape} does not fit logits of shape ({n},)")
    return m if m.dtype == np.bool_ else m != 0


class Sampler:
    """Temperature and nucleus sampling over logits, seeded.

    ``temperature`` and ``top_p`` are plain attributes that the engine may change between
    ticks (a new value is checked when set). Temperature <= 0 means greedy: argmax for
    tokens, p > 0.5 for keys. ``top_p`` < 1 keeps the smallest set of most probable tokens
    whose probability reaches ``top_p``.
    """

    def __init__(self, temperature: float = 1.0, top_p: float = 1.0, seed: int | None = None):
        self.temperature = temperature
        self.top_p = top_p
        self._generator = torch.Generator()
        self._u: Tensor | None = None  # reused uniforms for sample_frame
        self.reseed(seed)

    @property
    def temperature(self) -> float:
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        value = float(value)
        if math.isnan(value):
            raise ValueError("temperature must be a number, got nan")
        self._temperature = value

    @property
    def top_p(self) -> float:
        return self._top_p

    @top_p.setter
    def top_p(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"top_p must be in [0, 1], got {value}")
        self._top_p = value

    def child(self) -> Sampler:
        """A sampler with these settings, seeded from this one's next draw: for a build on
        another thread (the harmonize table's worker), so no draw is shared between threads
        and a seeded session stays reproducible."""
        return Sampler(self._temperature, self._top_p, seed=int(self._uniform() * 2**62))

    def reseed(self, seed: int | None) -> None:
        """Restart the draws from ``seed`` (None: a fresh nondeterministic seed)."""
        if seed is None:
            self._generator.seed()
        else:
            self._generator.manual_seed(seed)
        self._block = np.empty(0)  # uniforms drawn ahead for sample(), used in order
        self._next = 0

    def _uniform(self) -> float:
        # One torch call per draw costs more than the rest of sample(); draw a block ahead.
        if self._next == self._block.shape[0]:
            self._block = torch.rand(_BLOCK, generator=self._generator, dtype=torch.float64).numpy()
            self._next = 0
        u = float(self._block[self._next])
        self._next += 1
        return u

    def sample(self, logits: Tensor | np.ndarray, mask: Mask | None = None) -> int:
        """One token from ``logits`` (V,), never one that ``mask`` forbids.

        Raises ValueError when the mask forbids every token or the allowed logits carry
        no probability (all -inf or NaN).
        """
        z = _as_array(logits)  # (V,)
        allowed = None
        if mask is not None:
            allowed = _as_mask(mask, z.shape[0])  # (V,)
            if not allowed.any():
                raise ValueError("the mask forbids every token")
        if self._temperature <= 0.0:
            if allowed is not None:
                z = np.where(allowed, z, -np.inf)  # (V,)
            best = int(np.argmax(z))
            if not z[best] > -np.inf:  # False for NaN too
                raise ValueError("no allowed token has a finite logit")
            return best
        if self._top_p >= 1.0 and z.shape[0] <= SMALL_VOCAB:
            return self._sample_small(z, allowed)
        w = z.astype(np.float64) / self._temperature  # (V,)
        if allowed is not None:
            w[~allowed] = -np.inf
        top = w.max()  # NaN if any logit is NaN
        if not math.isfinite(top):
            raise ValueError("logits give no probability to any allowed token")
        w -= top  # exp cannot overflow: the top logit becomes 0
        p = np.exp(w, out=w)  # (V,) unnormalised probabilities
        if self._top_p < 1.0:
            order = np.argsort(-p, kind="stable")  # most probable first
            cum = np.cumsum(p[order])  # (V,)
            # Smallest prefix reaching top_p: the first index whose cumulative mass does.
            keep = int(np.searchsorted(cum, self._top_p * cum[-1], side="left")) + 1
            cum = cum[:keep]
            return int(order[self._pick(cum)])
        cum = np.cumsum(p)  # (V,)
        return self._pick(cum)

    def sample_rows(self, logits: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """One token per row of ``logits`` (B, V), never one its row of ``masks`` forbids.

        The batched ``sample`` of the harmonize table (livegen/harmonize.py): one uniform per
        row, in row order, the same inverse CDF; nucleus sampling goes row by row.
        """
        z = np.asarray(logits, dtype=np.float64)  # (B, V)
        allowed = np.asarray(masks, dtype=bool)  # (B, V)
        if not allowed.any(axis=1).all():
            raise ValueError("the mask forbids every token")
        if self._temperature <= 0.0:
            return np.where(allowed, z, -np.inf).argmax(axis=1)  # (B,)
        if self._top_p < 1.0:
            return np.array([self.sample(z[b], allowed[b]) for b in range(z.shape[0])])
        w = np.where(allowed, z / self._temperature, -np.inf)  # (B, V)
        top = w.max(axis=1, keepdims=True)  # (B, 1)
        if not np.isfinite(top).all():
            raise ValueError("logits give no probability to any allowed token")
        cum = np.cumsum(np.exp(w - top), axis=1)  # (B, V)
        u = np.array([self._uniform() for _ in range(z.shape[0])]) * cum[:, -1]  # (B,)
        picked = (cum <= u[:, None]).sum(axis=1)  # the first index whose mass exceeds u
        # u * total rounded up to total: the last allowed token of the row instead.
        last = allowed.shape[1] - 1 - allowed[:, ::-1].argmax(axis=1)
        return np.minimum(picked, last)

    def _sample_small(self, z: np.ndarray, allowed: np.ndarray | None) -> int:
        """``sample`` without NumPy for a small vocabulary: the same draw, in plain floats."""
        values = z.tolist()
        ok = allowed.tolist() if allowed is not None else None
        if any(v != v for v in values):  # NaN anywhere, as the NumPy path refuses
            raise ValueError("logits give no probability to any allowed token")
        if ok is None:
            top = max(values)
        else:
            top = max((v for v, a in zip(values, ok, strict=True) if a), default=-math.inf)
        if not math.isfinite(top):
            raise ValueError("logits give no probability to any allowed token")
        inv_t, exp = 1.0 / self._temperature, math.exp
        cum, acc = [], 0.0
        if ok is None:
            for v in values:
                acc += exp((v - top) * inv_t)
                cum.append(acc)
        else:
            for v, a in zip(values, ok, strict=True):
                if a:
                    acc += exp((v - top) * inv_t)
                cum.append(acc)
        # Inverse CDF as in _pick: the first index whose cumulative mass exceeds u * total.
        i = bisect.bisect_right(cum, self._uniform() * acc)
        if i == len(cum):
            i = bisect.bisect_left(cum, acc)
        return i

    def _pick(self, cum: np.ndarray) -> int:
        # Inverse CDF: the first index whose cumulative mass exceeds u * total. side="right"
        # steps over zero-probability (masked) entries.
        total = cum[-1]
        i = int(np.searchsorted(cum, self._uniform() * total, side="right"))
        if i == cum.shape[0]:  # u * total rounded up to total: the last token with mass
            i = int(np.searchsorted(cum, total, side="left"))
        return i

    def sample_frame(
        self, logits: Tensor | np.ndarray, mask: Mask | None = None
    ) -> tuple[int, ...]:
        """Sorted indices of the keys that sound: each key on with sigmoid(logit / T).

        Keys are drawn independently (one uniform per key per call, masked or not, so the
        draws stay in step); keys that ``mask`` forbids are never on.
        """
        z = _as_array(logits)  # (K,)
        if self._temperature <= 0.0:
            on = z > 0.0  # (K,) sigmoid > 0.5
        else:
            k = z.shape[0]
            if self._u is None or self._u.shape[0] != k:
                self._u = torch.empty(k, dtype=torch.float64)
            torch.rand(k, generator=self._generator, dtype=torch.float64, out=self._u)
            e = z.astype(np.float64) / -self._temperature  # (K,) -z/T
            np.clip(e, -500.0, 500.0, out=e)  # keeps exp finite at tiny temperatures
            np.exp(e, out=e)
            e += 1.0
            on = self._u.numpy() * e < 1.0  # (K,) u < sigmoid(z/T) = 1 / (1 + exp(-z/T))
        if mask is not None:
            on &= _as_mask(mask, z.shape[0])
        return tuple(np.flatnonzero(on).tolist())
