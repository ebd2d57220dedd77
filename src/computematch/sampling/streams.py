"""Per-sample random streams: counter-based Gumbel noise keyed by (seed, problem id, sample index, step, token).

Sampling token x from softmax(z) is the same as taking argmax(z + g) with g i.i.d. Gumbel(0, 1) (the
Gumbel-max trick; Gumbel 1954, used for sampling by e.g. Kool et al. 2019). Drawing g from a hash of
(seed, problem, sample index, step, token id) instead of a stateful generator makes every sample a pure
function of its key: independent of which other samples share its batch, of batch size and order. So the
first k samples of an S-sample run are exactly what a k-sample run draws (nested budgets), and a resumed
run draws what the interrupted one would have drawn.
"""

from __future__ import annotations

import functools
import hashlib

MASK32 = 0xFFFFFFFF
GOLDEN32 = 0x9E3779B9  # keeps mix(0) away from the hash's fixed point at zero


def _mul32(x, constant: int):
    """x * constant mod 2**32 on Python ints and torch int64 tensors alike. With x and the constant below 2**32 the
    int64 product can pass 2**63; torch's integer multiply wraps (two's complement), which leaves the low 32 bits
    exact (tests/test_sampling.py checks the tensor path against Python's unbounded ints)."""
    return (x * constant) & MASK32


def mix32(x):
    """The 'lowbias32' integer hash (C. Wellons, https://nullprogram.com/blog/2018/07/31/) on values in [0, 2**32)."""
    x = (x + GOLDEN32) & MASK32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def combine(key, value):
    """Fold one more counter into a key."""
    return mix32(key ^ mix32(value & MASK32))


def problem_hash(problem_id: str) -> int:
    """A stable 32-bit hash of a problem id (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(problem_id.encode(), digest_size=4).digest(), "little")


def sample_key(seed: int, problem_id: str, sample_index: int) -> int:
    """The 32-bit key of one sample's random stream."""
    return combine(combine(mix32(seed & MASK32), problem_hash(problem_id)), sample_index)


@functools.lru_cache(maxsize=4)
def _mixed_tokens(vocab_size: int, device: str):
    """mix32 of every token id: the half of combine(step key, token) that no step changes, computed once."""
    import torch

    return mix32(torch.arange(vocab_size, device=device, dtype=torch.int64) & MASK32)


def gumbel_noise(keys, step: int, vocab_size: int):
    """Gumbel(0, 1) noise of shape (len(keys), vocab_size) for generation step `step`.

    `keys` is an int64 tensor of sample keys; the result is float64 on the keys' device.
    """
    import torch

    step_keys = combine(keys, step)
    bits = mix32(step_keys[:, None] ^ _mixed_tokens(vocab_size, str(keys.device))[None, :])  # combine(), unrolled
    uniform = (bits.to(torch.float64) + 0.5) / 2.0**32  # in (0, 1): never log(0)
    return -torch.log(-torch.log(uniform))
