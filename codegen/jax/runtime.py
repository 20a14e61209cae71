"""Runtime helpers copied verbatim into every generated JAX environment.

This file is not imported by generated code: `envc.codegen.jax.generate` pastes its
text (below the marker line) into the generated module, so that the output imports
only jax and numpy. It is kept as a real module so that it is linted and tested.

Representation of values (a pytree per IR type):
- `bool`, `int[lo..hi]`, enums, table rows, `float32`: 0-d arrays (ints stored in the
  narrowest dtype, computed in int32);
- `T[N]`: the pytree of `T` with a leading axis of size N;
- records: a dict of field name to value;
- `list<T, CAP>`: `{"items": <T with leading axis CAP>, "len": int32}`; slots at or past
  `len` hold zeros, so that equal lists have equal arrays.
"""

# ---- runtime (pasted into generated code) ----
import jax
import jax.numpy as jnp
from jax import lax

_U32 = jnp.uint32


def _fmix32(x):
    x = x ^ (x >> 16)
    x = x * _U32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * _U32(0xC2B2AE35)
    x = x ^ (x >> 16)
    return x


def _seed_key(seed):
    """envc RNG key of an integer seed (envc.compiler.rng.seed_key)."""
    return _fmix32(jnp.asarray(seed).astype(_U32) ^ _U32(0x5EED5EED))


def _bits(key, counter):
    x = _fmix32(key + counter.astype(_U32) * _U32(0x9E3779B9))
    return _fmix32(x ^ key)


def _randint(st, lo, hi):
    """One draw in lo..hi (inclusive) from envc's RNG; returns (new state dict, int32)."""
    lo = lax.bitcast_convert_type(jnp.asarray(lo, jnp.int32), _U32)
    hi = lax.bitcast_convert_type(jnp.asarray(hi, jnp.int32), _U32)
    # the size of the range in uint32 arithmetic: 0 for the whole int32 range (2^32 values),
    # whose draw is the 32 bits themselves (`bits % 2**32` in envc.compiler.rng)
    n = hi - lo + _U32(1)
    b = _bits(st["_rng_key"], st["_rng_counter"])
    r = jnp.where(n == _U32(0), b, b % jnp.maximum(n, _U32(1)))
    st = dict(st)
    st["_rng_counter"] = st["_rng_counter"] + _U32(1)
    return st, lax.bitcast_convert_type(lo + r, jnp.int32)


def _i32(x):
    return jnp.asarray(x).astype(jnp.int32)


def _cast(value, dtypes):
    """Cast every leaf of `value` to the dtype at the same place in `dtypes`."""
    return jax.tree_util.tree_map(lambda x, d: jnp.asarray(x).astype(d), value, dtypes)


def _get(x, i):
    return jax.tree_util.tree_map(lambda a: a[i], x)


def _set(x, i, v):
    return jax.tree_util.tree_map(lambda a, b: a.at[i].set(b.astype(a.dtype)), x, v)


def _select(c, a, b):
    """Branchless `if`: pick pytree `a` where `c` holds, else `b` (leaves identical in both are kept)."""
    return jax.tree_util.tree_map(lambda x, y: x if x is y else jnp.where(c, x, y), a, b)


def _scope(lv, keys):
    """Drop the locals declared inside a block when it ends."""
    return {k: lv[k] for k in keys}


def _zeros_like_item(items):
    return jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape[1:], a.dtype), items)


def _lget(lst, i):
    return _get(lst["items"], i)


def _lset(lst, i, v):
    return {"items": _set(lst["items"], i, v), "len": lst["len"]}


def _push(lst, v):
    return {"items": _set(lst["items"], lst["len"], v), "len": lst["len"] + 1}


def _gather_items(items, src, keep):
    zero = _zeros_like_item(items)
    return jax.tree_util.tree_map(
        lambda a, z: jnp.where(keep.reshape((-1,) + (1,) * (a.ndim - 1)), a[src], z), items, zero)


def _remove_at(lst, i):
    items = lst["items"]
    cap = jax.tree_util.tree_leaves(items)[0].shape[0]
    idx = jnp.arange(cap)
    src = jnp.where(idx >= i, jnp.minimum(idx + 1, cap - 1), idx)
    n = lst["len"] - 1
    return {"items": _gather_items(items, src, idx < n), "len": n}


def _insert(lst, i, v):
    items = lst["items"]
    cap = jax.tree_util.tree_leaves(items)[0].shape[0]
    idx = jnp.arange(cap)
    src = jnp.where(idx > i, jnp.maximum(idx - 1, 0), idx)
    n = lst["len"] + 1
    moved = _gather_items(items, src, idx < n)
    return {"items": _set(moved, i, v), "len": n}


def _take_front(lst):
    return _lget(lst, 0), _remove_at(lst, 0)


def _take_back(lst):
    n = lst["len"] - 1
    value = _lget(lst, n)
    cleared = _set(lst["items"], n, _zeros_like_item(lst["items"]))
    return value, {"items": cleared, "len": n}


def _clear(lst):
    return {"items": jax.tree_util.tree_map(jnp.zeros_like, lst["items"]), "len": jnp.zeros_like(lst["len"])}


def _shuffle(st, lst):
    """Fisher-Yates as envc.compiler.rng.shuffle_swaps, for a list of dynamic length."""
    items = lst["items"]
    cap = jax.tree_util.tree_leaves(items)[0].shape[0]
    n = lst["len"].astype(jnp.int32)
    key, c0 = st["_rng_key"], st["_rng_counter"]

    def body(k, items):
        i = cap - 1 - k
        active = i < n
        draw = c0 + (n - 1 - i).astype(_U32)
        j = (_bits(key, draw) % (i + 1).astype(_U32)).astype(jnp.int32)
        a, b = _get(items, i), _get(items, j)
        swapped = _set(_set(items, i, b), j, a)
        return _select(active, swapped, items)

    items = lax.fori_loop(0, cap - 1, body, items)
    st = dict(st)
    st["_rng_counter"] = c0 + jnp.maximum(n - 1, 0).astype(_U32)
    return st, {"items": items, "len": lst["len"]}


def _wide(x):
    """`x` in a dtype that holds int32 (int8 items compared with 300 must not wrap)."""
    x = jnp.asarray(x)
    return x.astype(jnp.promote_types(x.dtype, jnp.int32))


def _lcontains(lst, v):
    cap = lst["items"].shape[0]
    return jnp.any((_wide(lst["items"]) == v) & (jnp.arange(cap) < lst["len"]))


def _lcount(lst, v):
    cap = lst["items"].shape[0]
    return jnp.sum((_wide(lst["items"]) == v) & (jnp.arange(cap) < lst["len"])).astype(jnp.int32)


def _win(st, p, num_players):
    st = dict(st)
    st["rewards"] = jnp.where(jnp.arange(num_players) == p, 1.0, -1.0).astype(jnp.float32)
    st["terminated"] = jnp.bool_(True)
    return st


def _draw(st):
    st = dict(st)
    st["rewards"] = jnp.zeros_like(st["rewards"])
    st["terminated"] = jnp.bool_(True)
    return st


def _terminate(st):
    st = dict(st)
    st["terminated"] = jnp.bool_(True)
    return st


def _reward(st, p, r):
    st = dict(st)
    st["rewards"] = st["rewards"].at[p].add(jnp.asarray(r, jnp.float32))
    return st
