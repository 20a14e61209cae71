"""Pinned test vectors of envc's counter-based RNG (`envc.compiler.rng`).

These numbers are the specification: the interpreter, the JAX backend and the Rust
backend must all reproduce them bit for bit. They were computed once with the reference
implementation; a change to any of them is a breaking change of every saved seed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envc.compiler import rng

U32 = st.integers(min_value=0, max_value=rng.MASK32)

# seed -> seed_key(seed)
SEED_KEYS = {
    0: 0x0E7C8EA4,
    1: 0x640E4A2F,
    42: 0xFFCDEB86,
    2**32 - 1: 0x01CD6C3D,
}

KEY = 0xFFCDEB86  # seed_key(42)

# bits(KEY, c) for c = 0..7
BITS = [0xF0460E00, 0xBE1DE029, 0x0908336D, 0x2567C13B, 0x3B390F0E, 0xB2BD35DD, 0xB5A9B272, 0x8948756F]

# randint(KEY, c, lo, hi) for c = 0..7
RANDINT = {
    (0, 5): [0, 1, 3, 5, 4, 5, 0, 5],
    (-3, 3): [-1, -1, -1, 0, -1, -1, -2, 3],
    (1, 100): [45, 70, 98, 68, 51, 42, 63, 48],
    (7, 7): [7, 7, 7, 7, 7, 7, 7, 7],
}

# coin(KEY, c) for c = 0..7 (the top bit of BITS)
COINS = [True, True, False, False, False, True, True, True]

# shuffle_swaps(KEY, counter, 5)
SHUFFLE_5 = {
    0: [(4, 4), (3, 1), (2, 0), (1, 1)],
    3: [(4, 2), (3, 2), (2, 2), (1, 0)],
}


def test_fmix32_vectors():
    # MurmurHash3's finalizer: fmix32(0) = 0 and the well-known fmix32(1).
    assert rng.fmix32(0) == 0
    assert rng.fmix32(1) == 0x514E28B7


def test_seed_key_vectors():
    for seed, key in SEED_KEYS.items():
        assert rng.seed_key(seed) == key, hex(seed)


def test_seed_key_takes_seed_mod_2_32():
    assert rng.seed_key(2**32) == SEED_KEYS[0]
    assert rng.seed_key(2**32 + 42) == SEED_KEYS[42]
    assert rng.seed_key(-1) == SEED_KEYS[2**32 - 1]


def test_bits_vectors():
    assert rng.seed_key(42) == KEY
    assert [rng.bits(KEY, c) for c in range(8)] == BITS


def test_bits_edge_vectors():
    assert rng.bits(0, 0) == 0  # fmix32(fmix32(0) ^ 0) = 0: key 0 at draw 0 is the fixed point
    assert rng.bits(0xFFFFFFFF, 0xFFFFFFFF) == 0x1C82FD7A


def test_randint_vectors():
    for (lo, hi), values in RANDINT.items():
        assert [rng.randint(KEY, c, lo, hi) for c in range(8)] == values, (lo, hi)


def test_randint_is_lo_plus_bits_mod_width():
    for c in range(8):
        assert rng.randint(KEY, c, -(2**31), 2**31 - 1) == -(2**31) + BITS[c]


def test_randint_empty_range_raises():
    with pytest.raises(ValueError):
        rng.randint(KEY, 0, 3, 2)


def test_coin_vectors():
    assert [rng.coin(KEY, c) for c in range(8)] == COINS
    assert COINS == [(b >> 31) == 1 for b in BITS]


def test_shuffle_swaps_vectors():
    for counter, swaps in SHUFFLE_5.items():
        assert rng.shuffle_swaps(KEY, counter, 5) == swaps
    # draw i of the shuffle is randint(0, length-1-i) at counter + i
    assert SHUFFLE_5[0] == [(4 - i, rng.randint(KEY, i, 0, 4 - i)) for i in range(4)]


def test_shuffle_swaps_short_lists_draw_nothing():
    assert rng.shuffle_swaps(KEY, 0, 0) == []
    assert rng.shuffle_swaps(KEY, 0, 1) == []


def _bits_numpy(key: int, counters: np.ndarray) -> np.ndarray:
    """The same function in numpy uint32 arithmetic (wrapping), as array backends compute it."""

    def fmix(x):
        x = x ^ (x >> np.uint32(16))
        x = x * np.uint32(0x85EBCA6B)
        x = x ^ (x >> np.uint32(13))
        x = x * np.uint32(0xC2B2AE35)
        return x ^ (x >> np.uint32(16))

    k = np.uint32(key)
    with np.errstate(over="ignore"):
        return fmix(fmix(k + counters.astype(np.uint32) * np.uint32(rng.GOLDEN)) ^ k)


def test_uint32_array_arithmetic_agrees():
    counters = np.arange(8, dtype=np.uint32)
    assert [int(x) for x in _bits_numpy(KEY, counters)] == BITS
    big = np.array([0xFFFFFFFF, 0x80000000, 12345678], dtype=np.uint32)
    for key in (0, 1, 0xFFFFFFFF, KEY):
        assert [int(x) for x in _bits_numpy(key, big)] == [rng.bits(key, int(c)) for c in big]


@settings(max_examples=300, deadline=None)
@given(key=U32, counter=U32)
def test_bits_is_uint32(key, counter):
    b = rng.bits(key, counter)
    assert isinstance(b, int)
    assert 0 <= b <= rng.MASK32


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(min_value=-(2**40), max_value=2**40))
def test_seed_key_is_uint32(seed):
    assert 0 <= rng.seed_key(seed) <= rng.MASK32


@settings(max_examples=300, deadline=None)
@given(key=U32, counter=U32, lo=st.integers(-(2**31), 2**31 - 1), width=st.integers(0, 2**32 - 1))
def test_randint_in_range(key, counter, lo, width):
    hi = min(lo + width, 2**31 - 1)
    v = rng.randint(key, counter, lo, hi)
    assert lo <= v <= hi


@settings(max_examples=100, deadline=None)
@given(key=U32, counter=U32, length=st.integers(0, 60))
def test_shuffle_swaps_are_fisher_yates(key, counter, length):
    swaps = rng.shuffle_swaps(key, counter, length)
    assert len(swaps) == max(length - 1, 0)
    assert [i for i, _ in swaps] == list(range(length - 1, 0, -1))
    assert all(0 <= j <= i for i, j in swaps)
    items = list(range(length))
    for i, j in swaps:
        items[i], items[j] = items[j], items[i]
    assert sorted(items) == list(range(length))


def test_randint_uniformity():
    # 60,000 consecutive draws of randint(0, 5): every face within 5% of 10,000.
    n, faces = 60_000, 6
    counts = [0] * faces
    for c in range(n):
        counts[rng.randint(KEY, c, 0, faces - 1)] += 1
    expected = n / faces
    assert all(abs(k - expected) <= 0.05 * expected for k in counts), counts
    chi2 = sum((k - expected) ** 2 / expected for k in counts)
    assert chi2 < 20.5, (chi2, counts)  # p < 0.001 at 5 degrees of freedom


def test_coin_and_bits_uniformity():
    n = 40_000
    b = _bits_numpy(SEED_KEYS[0], np.arange(n, dtype=np.uint32)).astype(np.uint64)
    heads = sum(rng.coin(SEED_KEYS[0], c) for c in range(n))
    assert heads == int((b >> 31).sum())
    assert abs(heads - n / 2) <= 0.02 * n
    # each of the 32 bits is set about half the time
    for bit in range(32):
        ones = int(((b >> bit) & 1).sum())
        assert abs(ones - n / 2) <= 0.02 * n, (bit, ones)
    # 16 equal buckets of the full word
    counts = np.bincount((b >> 28).astype(np.int64), minlength=16)
    expected = n / 16
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 37.7, (chi2, counts)  # p < 0.001 at 15 degrees of freedom


def test_different_seeds_give_different_streams():
    keys = {rng.seed_key(s) for s in range(1000)}
    assert len(keys) == 1000  # fmix32 is a bijection, so distinct seeds (mod 2^32) never collide
    first = {tuple(rng.bits(rng.seed_key(s), c) for c in range(2)) for s in range(1000)}
    assert len(first) == 1000
