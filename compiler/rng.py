"""envc's counter-based random numbers, the reference every backend reproduces bit for bit.

Public surface: `seed_key`, `bits`, `randint`, `coin`, `shuffle_swaps`, `MASK32`.

Each environment carries two uint32 words: `key` (fixed at `init`) and `counter`
(number of draws so far). Draw number `c` is a pure function of `(key, c)`, built only
from 32-bit wrapping add, multiply, xor and shifts, so that numpy/JAX (`uint32`),
Rust (`u32::wrapping_*`) and this module agree exactly:

    seed_key(seed) = fmix32(seed xor 0x5EED5EED)
    bits(key, c)   = fmix32(fmix32(key + c * 0x9E3779B9) xor key)
    randint(lo, hi) = lo + bits % (hi - lo + 1)        (one draw; bias < (hi-lo+1) / 2^32)
    coin()          = (bits >> 31) == 1                  (one draw; true is heads)
    shuffle(L items): for i = L-1 down to 1: j = randint(0, i); swap(i, j)   (L-1 draws)

`fmix32` is the finalizer of MurmurHash3 (Appleby, public domain). Draws happen in the
order the reference interpreter evaluates the spec (left to right, statement by
statement); backends that compute both sides of a branch keep the counter of the side
taken. Test vectors are pinned in `tests/test_rng.py`.
"""

from __future__ import annotations

MASK32 = 0xFFFFFFFF
GOLDEN = 0x9E3779B9
SEED_SALT = 0x5EED5EED


def fmix32(x: int) -> int:
    """MurmurHash3's 32-bit finalizer: a bijection on uint32 with full avalanche."""
    x &= MASK32
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & MASK32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & MASK32
    x ^= x >> 16
    return x


def seed_key(seed: int) -> int:
    """The RNG key (uint32) of an environment created with integer `seed` (taken mod 2^32)."""
    return fmix32((seed & MASK32) ^ SEED_SALT)


def bits(key: int, counter: int) -> int:
    """The 32 random bits (an int in `0..2^32-1`) of draw number `counter` under `key`."""
    x = fmix32((key + counter * GOLDEN) & MASK32)
    return fmix32(x ^ key)


def randint(key: int, counter: int, lo: int, hi: int) -> int:
    """A draw in `lo..hi` (both inclusive); raises ValueError when `lo > hi`."""
    if lo > hi:
        raise ValueError(f"empty range {lo}..{hi}")
    return lo + bits(key, counter) % (hi - lo + 1)


def coin(key: int, counter: int) -> bool:
    """A fair coin flip: True (heads) when the top bit of the draw is set."""
    return (bits(key, counter) >> 31) == 1


def shuffle_swaps(key: int, counter: int, length: int) -> list[tuple[int, int]]:
    """The swaps of a Fisher-Yates shuffle of `length` items starting at draw `counter`:
    for `i` from `length-1` down to 1, `(i, j)` with `j = randint(0, i)`. Uses
    `max(length - 1, 0)` draws."""
    swaps = []
    c = counter
    for i in range(length - 1, 0, -1):
        swaps.append((i, randint(key, c, 0, i)))
        c += 1
    return swaps
