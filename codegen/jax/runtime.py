"""Runtime helpers copied verbatim into every generated JAX environment.

This file is not imported by generated code: `envc.codegen.jax.generate` pastes its
text (below the marker line) into the generated module, so that the output imports
only jax and numpy. It is kept as a real module so that it is linted and tested. The
helpers between the list markers are pasted only when the spec has a list type (decided on
the IR, `envc.codegen.jax.uses_lists`): no other code calls them.

Representation of values (a pytree per IR type):
- `bool`, `int[lo..hi]`, enums, table rows, `float32`: 0-d arrays (ints stored in the
  narrowest dtype, computed in int32);
- `T[N]`: the pytree of `T` with a leading axis of size N;
- records: a dict of field name to value;
- `list<T, CAP>`: `{"items": <T with leading axis CAP>, "len": int32}`; slots at or past
  `len` hold zeros, so that equal lists have equal arrays.
"""

# ---- runtime (pasted into generated code) ----
import contextvars
import os

import jax
import jax.numpy as jnp
import numpy as np
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
    return _fmix32(_seed_u32(seed) ^ _U32(0x5EED5EED))


def _seed_u32(seed):
    """`seed` as uint32, taken mod 2^32 as envc.compiler.rng.seed_key takes it. A concrete
    integer (a Python int of any size, a numpy integer or integer array) is reduced on the
    host: JAX without x64 holds neither 2**32 (OverflowError) nor a numpy int64 past int32.
    A traced seed is already 32 bits (jit converted it at its boundary)."""
    if isinstance(seed, (int, np.integer)):
        return _U32(int(seed) & 0xFFFFFFFF)
    if isinstance(seed, np.ndarray) and seed.dtype.kind in "iu":
        return jnp.asarray((seed.astype(np.uint64) & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    return jnp.asarray(seed).astype(_U32)


def _action_i32(action, n: int):
    """Flat action(s) `action` as int32 for a game of `n` flat actions. A concrete integer
    that int32 cannot hold (a Python int of any size, a numpy integer or integer array)
    becomes -1, an illegal action as it was: JAX without x64 keeps only the low 32 bits of an
    int64, which could name a legal action (2**32 + 4 was played as action 4; the interpreter
    and Rust call it illegal). One that int32 holds stays itself, so an `illegal_action error`
    fault names it as the interpreter does. A traced action is already int32: under `jit`, JAX
    converts an int64 argument at the boundary, before the step can see it."""
    lo, hi = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    if isinstance(action, (int, np.integer)):
        return jnp.int32(action if lo <= action <= hi else -1)
    if isinstance(action, np.ndarray) and action.dtype.kind in "iu":
        out = np.full(action.shape, -1, np.int32)
        np.copyto(out, action, casting="unsafe", where=(action >= lo) & (action <= hi))
        return jnp.asarray(out)
    return jnp.asarray(action, jnp.int32)


def _player_i32(player, n: int):
    """Player `player` as int32 for a game of `n` players. ValueError for a concrete integer
    outside 0..n-1, as the interpreter and Rust refuse it (an index past the players was
    clamped to the last one, -1 read the last player's private slots); a traced player is
    not checked (under `jit` its value is not known)."""
    if isinstance(player, (int, np.integer)) and not 0 <= player < n:
        raise ValueError(f"player {player!r} is outside 0..{n - 1}")
    return jnp.asarray(player, jnp.int32)


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
    """`x` as an int32 to compute with; a Python int or bool (a value known while tracing: an
    unrolled loop's variable, a literal, a parameter or local bound to one) stays a Python int,
    so that an index made of it is a static slice and a condition on it is decided while
    tracing (`_branch`). The checker's ranges keep such a value inside int32."""
    if type(x) is int or type(x) is bool:
        return int(x)
    return jnp.asarray(x).astype(jnp.int32)


def _cast(value, dtypes):
    """Cast every leaf of `value` to the dtype at the same place in `dtypes`."""
    return jax.tree_util.tree_map(lambda x, d: jnp.asarray(x).astype(d), value, dtypes)


def _lcast(value, dtypes):
    """`_cast` for a local or a parameter: a Python int or bool cast to an integer or bool
    dtype stays a Python value (see `_i32`); the checker proved it fits the dtype's range, so
    the cast would not change it. State fields are always stored with `_cast` (arrays)."""
    if type(value) is not int and type(value) is not bool:
        return _cast(value, dtypes)
    if dtypes is jnp.bool_:
        return bool(value)
    if isinstance(dtypes, type) and jnp.issubdtype(dtypes, jnp.integer):
        return int(value)
    return _cast(value, dtypes)


# Decision (issue 18, bench/RESULTS.md "Indices without negative wrap"): the spec's indices
# are in range by the checker's proof (an index's type lies in 0..N-1, else E0121), so a read
# or a store at a traced index is a `dynamic_slice` / `dynamic_update_slice` with
# `allow_negative_indices=False`: `x[i]` and `.at[i].set` also compute `where(i < 0, i + N, i)`
# for every traced index (four operations to trace, batch and compile at each of the TCG's
# thousands of reads). Equal for every index in range, which holds on every path that does
# not fault (after a fault the state is unspecified; a value computed off its path is never
# selected). A Python int index stays a static slice.


def _ix(x, i):
    """`x[i]` along the leading axis, for an index in range (see above)."""
    if type(i) is int:
        return x[i]
    x = jnp.asarray(x)
    if jnp.ndim(i):  # an array of indices (`_each` computes a comprehension's range at once): a gather
        return x[i]
    start = (i,) + (0,) * (x.ndim - 1)
    return lax.squeeze(lax.dynamic_slice(x, start, (1,) + x.shape[1:], allow_negative_indices=False), (0,))


def _iset(a, at, v):
    """`a.at[at].set(v)` (cast to `a`'s dtype), `at` an index or a tuple of indices into `a`'s
    leading axes, each in range (see above)."""
    idx = at if type(at) is tuple else (at,)
    if all(type(i) is int for i in idx):
        return a.at[at].set(jnp.asarray(v).astype(a.dtype))
    tail = a.shape[len(idx):]
    update = jnp.broadcast_to(jnp.asarray(v).astype(a.dtype), tail).reshape((1,) * len(idx) + tail)
    return lax.dynamic_update_slice(a, update, idx + (0,) * len(tail), allow_negative_indices=False)


def _get(x, i):
    return jax.tree_util.tree_map(lambda a: _ix(a, i), x)


def _set(x, i, v):
    return jax.tree_util.tree_map(lambda a, b: _iset(a, i, b), x, v)


def _put(a, at, v):
    """`a.at[at].set(v)`: array `a` with the element (or sub-array) at `at` replaced by `v`.
    `at` is an index or a tuple of indices into `a`'s leading axes, `v` has the shape of what
    they select and `a`'s dtype.

    Decision (issue 18): a store traced inside an arm of an `if` whose condition is traced
    (`_PREDICATED`), at a traced index into an array of 64 to 256 elements (per environment),
    is a select, `where(iota == at, v, a)`, over the whole array, as Pgx's games update their
    boards. Under `vmap` a scatter whose index differs per environment is a loop over the batch
    on XLA:CPU, and the arm's `_select` then reads the scattered array and the old one again;
    the one-hot select fuses with that `_select` into one elementwise pass (othello's flips
    into its 64-cell board, 48 such stores a step). Measured limits (bench/RESULTS.md,
    "One-hot stores"): on smaller arrays the select was slower (pokemon_gen1's stores into
    per-player arrays of 2 to 48 elements: rollout 0.83-0.87x), and so was an unconditional
    store (connect4's drop: 0.74x at batch 8192; XLA fused the select into each reader of the
    board). XLA computes `v` once per element there, so the lowering writes `_put` only for a
    value that costs nothing to compute again (`Lowering.cheap`: a constant, a state field, a
    local holding one), a precaution. The two are equal for every index inside the axes, which
    the checker's ranges guarantee on every path that does not fault (after a fault the state
    is unspecified). Other stores are `_iset`."""
    idx = at if type(at) is tuple else (at,)
    if all(type(i) is int for i in idx) or not 64 <= a.size <= 256 or not _PREDICATED.get():
        return _iset(a, at, v)
    hit = None
    for axis, i in enumerate(idx):
        shape = [1] * len(idx)
        shape[axis] = a.shape[axis]
        eq = lax.broadcasted_iota(jnp.int32, tuple(shape), axis) == i
        hit = eq if hit is None else hit & eq
    hit = hit.reshape(hit.shape + (1,) * (a.ndim - len(idx)))
    v = jnp.asarray(v).astype(a.dtype)
    return jnp.where(hit, v.reshape((1,) * len(idx) + v.shape), a)


def _stack(xs):
    """`jnp.stack(xs)` (a new leading axis) written as a `concatenate` of the items reshaped to
    a leading 1: the same array, but under `vmap` the batch axis stays first. `jnp.stack` is
    batched as a stack on axis 0 followed by a transpose to the batch axis, and XLA:CPU then
    keeps the result column-major; a select of it (a user's select-based reset of the
    observation) became one transposing fusion that recomputed its operands per element, 150-180
    us of acrobot's 1.1 ms step (bench/RESULTS.md, "jnp.stack under vmap")."""
    return jnp.concatenate([jnp.reshape(x, (1,) + jnp.shape(x)) for x in xs])


def _once(flag):
    """Bool array `flag`, unchanged, as a value XLA computes once: an `any` over `flag` and
    `False` along a new leading axis.

    Decision (issue 18, bench/RESULTS.md "Conditions computed once"): a condition that selects
    several leaves (a step's `terminated` and `truncated`, read by every leaf's select of an
    auto-reset; the condition of an `if` whose arms write several leaves, `_select` and
    `_merge_first`) is read by one select per leaf, and XLA:CPU fuses a cheap elementwise
    producer into each of its consumers: each select computed the condition again (acrobot:
    the last RK4 stage, the angle wrap and two cosines in each of 12 selects of a user's
    reset). A reduce is not fused into its consumers; over two elements it costs one small
    fusion. The value is the same bool; a Python bool is returned as it is."""
    if type(flag) is bool:
        return flag
    flag = jnp.asarray(flag)
    return jnp.any(jnp.concatenate([flag[None], jnp.zeros((1,) + flag.shape, jnp.bool_)]), axis=0)


def _each(f, idx, *args):
    """`jax.vmap(f)(idx, *args)` for a comprehension body `f` that computes one scalar from
    scalars by elementwise operations only (`_Level.elementwise`, codegen/jax/lower.py):
    called once on the whole arrays (`idx`, int32[n], and each hoisted read `args[k]`, [n]),
    where NumPy's broadcasting gives every element the value `vmap` would, of the same dtype
    (a body that does not depend on its element, a scalar, is broadcast to [n]).

    Decision (issue 18, bench/RESULTS.md "Comprehensions without vmap"): under `vmap` each of
    the body's operations is traced through the comprehension's batching and the batch's;
    othello's mask, 8 directions of 7 steps inlined in one body, traced in 0.12 s of its
    step's 0.22 s. Called directly, each operation is traced once, through the batch's only."""
    return jnp.broadcast_to(jnp.asarray(f(idx, *args)), idx.shape)


def _switch(index, branches, *operands):
    """`lax.switch(index, branches, *operands)` where `index` is traced per environment (under
    `vmap`): every branch traced once on the operands as they are, and each leaf of the results
    picked by `index` (`lax.select_n`; a leaf that every branch leaves as it is, unselected).
    The same values as `lax.switch`, which under `vmap` also runs every branch and selects.

    Decision (issue 18, bench/RESULTS.md "Action kinds without lax.switch"): under `vmap` with
    a batched index, JAX's batching rule of `lax.switch` broadcasts every operand of the
    `cond` to the batch, constants the branches close over included (the TCG: two card tables
    of 386 x 11 bytes copied to every environment each step, 4.3 MB each at batch 1024), and
    traces each branch twice (into a jaxpr, then again to batch it). The generated JAX is
    branchless (DESIGN.md): a `step` called without `vmap` computes every branch too. An index
    outside the branches picks the nearest, as `lax.switch` clamps it."""
    outs = [branch(*operands) for branch in branches]
    if len(outs) == 1:
        return outs[0]
    index = jnp.clip(index, 0, len(outs) - 1)

    def pick(*xs):
        if all(x is xs[0] for x in xs):
            return xs[0]
        return lax.select_n(index, *[jnp.asarray(x) for x in xs])

    return jax.tree_util.tree_map(pick, *outs)


def _select(c, a, b):
    """Branchless `if`: pick pytree `a` where `c` holds, else `b` (leaves identical in both are kept).
    A Python bool `c` (decided while tracing) picks without a `where`."""
    if type(c) is bool:
        return a if c else b
    if _changed(a, b) >= 2:
        c = _once(c)  # read by a select per leaf: computed once (`_once`)
    return jax.tree_util.tree_map(lambda x, y: x if x is y else jnp.where(c, x, y), a, b)


def _changed(a, *others) -> int:
    """How many leaves of pytree `a` differ (are not the same object) in one of `others`."""
    leaves = [jax.tree_util.tree_leaves(t) for t in others]
    return sum(any(xs[i] is not x for xs in leaves) for i, x in enumerate(jax.tree_util.tree_leaves(a)))


# Set while the arms of an `if` on a traced condition are traced (`_predicated`): what they
# compute is merged by a select, which `_put` uses.
_PREDICATED = contextvars.ContextVar("_envc_predicated", default=False)


def _predicated(arm):
    """`arm()` traced with `_PREDICATED` set (the arm's result will be selected)."""
    token = _PREDICATED.set(True)
    try:
        return arm()
    finally:
        _PREDICATED.reset(token)


def _branch(c, then, orelse):
    """`if c {then} else {orelse}` with both arms as thunks returning `(st, locals)`: a Python
    bool `c` (decided while tracing, see `_i32`) traces only the arm it takes; otherwise both
    are traced (`_predicated`) and merged by `_select`."""
    if type(c) is bool:
        return then() if c else orelse()
    return _select(c, _predicated(then), _predicated(orelse))


def _select_first(conds, orig, arms, orelse):
    """Branchless `if c1 {a1} elif c2 {a2} ... else {orelse}`, the arms and `orelse` as thunks:
    the pytree of the arm whose condition is the first to hold (`orelse` when none does);
    `orig` is the pytree before the chain. Each leaf is selected only among the arms that
    change it (a leaf identical to `orig`'s is unchanged), on exclusive conditions
    (`ci and not c1..ci-1`): a leaf that one arm of many writes costs one `where`, not one per
    arm as a chain of `_select`s does."""
    firsts, taken = _firsts(conds)
    return _merge_first(firsts, taken, orig, [_predicated(arm) for arm in arms], _predicated(orelse))


def _firsts(conds):
    """The exclusive conditions of an `if`/`elif` chain (`ci and not c1..ci-1`) and whether
    any holds."""
    firsts, taken = [], None
    for c in conds:
        firsts.append(c if taken is None else jnp.logical_and(c, jnp.logical_not(taken)))
        taken = c if taken is None else jnp.logical_or(taken, c)
    return firsts, taken


def _merge_first(firsts, taken, orig, arms, orelse):
    if _changed(orig, orelse, *arms) >= 2:  # the conditions are read by a select per leaf (`_once`)
        firsts, taken = [_once(f) for f in firsts], _once(taken)

    def leaf(o, e, *xs):
        r = e if e is o else jnp.where(taken, o, e)
        for f, x in zip(firsts, xs):
            if x is not o:
                r = jnp.where(f, x, r)
        return r

    return jax.tree_util.tree_map(leaf, orig, orelse, *arms)


# The rows axis (DESIGN.md decision 6; bench/RESULTS.md, "Heavy arms under lax.cond"). The
# rollout steps its batch under `jax.vmap(..., axis_name=_ROWS_AXIS)` (`_rows_vmap`), and while
# such a step is traced `_ROWS` is set. An `if` arm that the lowering found heavy
# (`Lowering.heavy`) then runs under `lax.cond` on whether any row of the batch takes it
# (`_rows_any`): a `psum` over the rows axis is one value for every row, so the `cond` stays a
# real branch under `vmap` and an arm that no row takes costs nothing. When some row takes it,
# it runs on every row and is selected, as without the axis: the result is the same either way
# (an arm no row takes is never selected). Outside `_rows_vmap` (a user's `vmap(step)`) the
# flag is unset and these are `_branch` and `_select_first`.
_ROWS_AXIS = "_envc_rows"
_ROWS = contextvars.ContextVar("_envc_rows", default=False)


def _rows_vmap(f):
    """`jax.vmap(f)` over a batch of rows, with the rows axis named and `_ROWS` set while `f`
    is traced."""
    def traced(*args):
        token = _ROWS.set(True)
        try:
            return f(*args)
        finally:
            _ROWS.reset(token)

    return jax.vmap(traced, axis_name=_ROWS_AXIS)


def _rows_any(c):
    """Whether condition `c` (bool, one per row) holds on any row of the batch being stepped: a
    bool scalar, the same for every row; None outside `_rows_vmap` or for a Python bool."""
    if type(c) is bool or not _ROWS.get():
        return None
    return lax.psum(jnp.asarray(c).astype(jnp.int32), _ROWS_AXIS) > 0


def _branch_any(c, then, orelse, heavy_then, live, dtypes):
    """`_branch(c, then, orelse)` whose heavy arm (`then` when `heavy_then`, else `orelse`) is
    computed only when some row of the batch takes it (see `_ROWS`). `live` and `dtypes`: the
    live locals' values before the `if` and their declared dtypes (`_typed`)."""
    if type(c) is bool:
        return _branch(c, then, orelse)
    anyc = _rows_any(c if heavy_then else jnp.logical_not(c))
    if anyc is None:
        return _branch(c, then, orelse)
    light = orelse if heavy_then else then
    return lax.cond(anyc, lambda: _typed(_select(c, _predicated(then), _predicated(orelse)), live, dtypes),
                    lambda: _typed(light(), live, dtypes))


def _typed(out, live, dtypes):
    """An arm's `(st, locals)` with each local cast to one type fixed before the arm runs: the
    dtype of its value before the `if` (`live`), or its declared dtype when that value was a
    Python int or bool (known while tracing), so that both arms of a `lax.cond` return the
    same types (a loop's carry keeps its dtype). The values are unchanged: a local holds a
    value of its declared type (the checker's ranges), and a value's dtype is that type's or
    int32."""
    st, values = out

    def cast(x, before, d):
        return jnp.asarray(x).astype(d if type(before) in (int, bool, float) else jnp.asarray(before).dtype)

    return st, tuple(jax.tree_util.tree_map(cast, x, b, d) for x, b, d in zip(values, live, dtypes))


def _select_first_any(conds, orig, arms, orelse, heavy, dtypes):
    """`_select_first` with the arms and `orelse` as thunks: an arm flagged in `heavy` is
    computed only when some row of the batch takes it (see `_ROWS`); `orelse` always is.
    `dtypes`: the live locals' declared dtypes (`_typed`)."""
    firsts, taken = _firsts(conds)
    typed = None  # what an arm that no row takes returns (its state leaves are `orig`'s)
    outs = []
    for first, arm, h in zip(firsts, arms, heavy):
        anyc = _rows_any(first) if h else None
        if anyc is None:
            outs.append(_predicated(arm))
            continue
        typed = _typed(orig, orig[1], dtypes) if typed is None else typed
        outs.append(lax.cond(anyc, lambda arm=arm: _typed(_predicated(arm), orig[1], dtypes), lambda t=typed: t))
    return _merge_first(firsts, taken, orig, outs, _predicated(orelse))


def _pick(mask, r, lo, orelse):
    """`random.pick`: the r-th (from 0) index where `mask` holds, plus `lo`; `orelse` when none does."""
    csum = jnp.cumsum(mask.astype(jnp.int32))
    idx = jnp.argmax(mask & (csum == r + 1)).astype(jnp.int32)
    return jnp.where(jnp.any(mask), lo + idx, jnp.asarray(orelse, jnp.int32))


def _fmin(a, b):
    """Float `min(a, b)` as the interpreter computes it (Python's: `b` only when `b < a`), not
    `jnp.minimum` (which propagates a NaN from either side and may return either zero of
    `min(0.0, -0.0)`): with a NaN or signed zeros the result depends on the order of the
    arguments, the same on every backend (Rust: runtime.rs `fmin`)."""
    return jnp.where(b < a, b, a)


def _fmax(a, b):
    return jnp.where(b > a, b, a)


def _fclamp(x, lo, hi):
    return _fmin(_fmax(x, lo), hi)


def _fold_min(xs):
    """Python's `min(xs)` of a float32 vector: `xs[0]` when it is NaN (nothing is less),
    else the first item equal to the least of the others that are not NaN."""
    return _fold(xs, jnp.min(jnp.where(jnp.isnan(xs), jnp.inf, xs)))


def _fold_max(xs):
    """Python's `max(xs)` of a float32 vector (`_fold_min`'s mirror)."""
    return _fold(xs, jnp.max(jnp.where(jnp.isnan(xs), -jnp.inf, xs)))


def _fsum(xs):
    """`sum` of a float32 vector added left to right from 0.0, as the interpreter adds (a scan:
    `jnp.sum` lets XLA reassociate, and 1e8 + 128 ones - 1e8 came out 112.0, not 0.0)."""
    return lax.scan(lambda acc, x: (acc + x, None), jnp.float32(0.0), xs.astype(jnp.float32))[0]


def _fold(xs, best):
    """`xs[0]` when it is NaN, else the first item equal to `best` (so the sign of its zero)."""
    return jnp.where(jnp.isnan(xs[0]), xs[0], xs[jnp.argmax(xs == best)])


def _wide(x):
    """`x` in a dtype that holds int32 (int8 items compared with 300 must not wrap)."""
    x = jnp.asarray(x)
    return x.astype(jnp.promote_types(x.dtype, jnp.int32))


# ---- list runtime (pasted only into the module of a spec with a list type) ----
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


def _lmatch(lst, v):
    """bool[cap]: which of the list's first `len` items equal `v`, whole items compared (every
    cell of an array, every field of a record: leaf by leaf over the item's pytree)."""
    items, want = jax.tree_util.tree_leaves(lst["items"]), jax.tree_util.tree_leaves(v)
    cap = items[0].shape[0]
    hit = jnp.arange(cap) < lst["len"]
    for x, y in zip(items, want):
        hit = hit & jnp.all(jnp.reshape(_wide(x) == y, (cap, -1)), axis=1)
    return hit


def _lcontains(lst, v):
    return jnp.any(_lmatch(lst, v))


def _lcount(lst, v):
    return jnp.sum(_lmatch(lst, v)).astype(jnp.int32)


# ---- end of the list runtime ----


# ---- prefix-walk runtime (pasted only into the module of a spec with a loop that walks until a flag goes false) ----
def _prefix_walk(step, st, live, lo, hi, init, before):
    """`for k in lo..hi { if flag and G { ... } }` with every step computed at once (issue 18,
    mechanism 1; the shape is checked by envc.compiler.passes.prefix_loops). `step(st, live, k,
    prev)` runs step k (`live`: the locals live at the loop) with the flag true and the step
    locals set to `prev` (`init` before the loop); it returns (G, the flag after the step, the
    values of the step and exit locals after it, `before` before the loop). Returns (the flag
    after the loop, the step and exit locals after it).
    Step k runs iff G_k and every earlier running step kept the flag (`alive`: a cumulative
    `and`). The first `vmap` over k gives G, the flag and the step locals' values, which by
    the shape do not depend on `prev`; the second runs every step on the step locals' values
    of the last running step before it; the locals after the loop are those of the last
    running step, or as before the loop when no step ran.

    The combinations over k (the cumulative `and`, the values carried to the next running
    step) are unrolled, one `and` or `where` per step on the steps' vectors: measured on
    othello, `lax.associative_scan` and a one-hot matrix over k made XLA materialize their
    pads and slices (4x the flops and 1,000x the bytes of the unrolled walk per mask).
    Opt-in only (`--prefix-walk vmap`): slower than the plain lowering on CPU
    (bench/RESULTS.md, issue 18, mechanism 1)."""
    ks = jnp.arange(lo, hi, dtype=jnp.int32)
    g, cont, first = jax.vmap(step, in_axes=(None, None, 0, None))(st, live, ks, init)
    ran, prev, alive, carry = [], [], jnp.bool_(True), init
    for k in range(hi - lo):
        ran.append(jnp.logical_and(alive, g[k]))
        prev.append(carry)
        alive = jnp.logical_and(alive, cont[k])  # a step whose G is false keeps the flag
        carry = _select(ran[k], tuple(x[k] for x in first[:len(init)]), carry)
    stacked = jax.tree_util.tree_map(lambda *xs: _stack(xs), *prev) if init else ()
    _, _, outs = jax.vmap(step, in_axes=(None, None, 0, 0))(st, live, ks, stacked)
    after = before
    for k in range(hi - lo):
        after = _select(ran[k], jax.tree_util.tree_map(lambda x, k=k: x[k], outs), after)
    return alive, after


# ---- end of the prefix-walk runtime ----


# ---- fault runtime (pasted only into the module of a spec with a fault site) ----
def _fault_at(st, cond, code, a, b):
    """Record runtime fault `code` (1 + the site's number) with values `a`, `b` in `st["_fault"]`
    where `cond` holds and no fault is recorded yet: the first fault wins, branchlessly."""
    new = cond & (st["_fault"][0] == 0)
    st = dict(st)
    st["_fault"] = jnp.where(new, _stack([jnp.int32(code), _i32(a), _i32(b)]), st["_fault"])
    return st


def _fault_in(f, cond, code, a, b):
    """`_fault_at` on a fault of its own (int32[3]) instead of the state's: the fault of a
    comprehension element (`Lowering.record_fault` inside a `vmap` level)."""
    return jnp.where(cond & (f[0] == 0), _stack([jnp.int32(code), _i32(a), _i32(b)]), f)


def _fault_join(f, cond, g):
    """Fault `f` (int32[3]), or `g` where `cond` holds and `f` is none: `g` met after `f` in the
    interpreter's order (a call's or a comprehension's fault, `Lowering.merge_fault`)."""
    return jnp.where(cond & (f[0] == 0), g, f)


def _fault_put(st, cond, g):
    """`st` with `g` recorded in `st["_fault"]` where `cond` holds and no fault is recorded yet."""
    st = dict(st)
    st["_fault"] = _fault_join(st["_fault"], cond, g)
    return st


def _first_fault(fs):
    """The first set row of `fs` (int32[n, 3], one fault per comprehension element in index
    order), zeros when none is set: the interpreter raises at the first failing element.

    Up to 64 rows, a chain of `where`s from the last row back: where the rows are constants
    after XLA's simplification (kinds whose guard cannot fault), an `argmax` over them
    broadcast to the batch was constant-folded element by element, 1.3-21 s of the TCG's
    compile at batch 8192; the chain's selects fold at once (XLA compile 73.5 / 72.1 s ->
    63.9 / 59.8 s, same outputs: bench/RESULTS.md, "Heavy arms under lax.cond")."""
    if fs.shape[0] > 64:
        return fs[jnp.argmax(fs[:, 0] != 0)]
    out = fs[0]
    for i in range(fs.shape[0] - 1, -1, -1):
        out = jnp.where(fs[i, 0] != 0, fs[i], out)
    return out


# ---- end of the fault runtime ----


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


def _use_compilation_cache():
    """Turn on JAX's persistent compilation cache, so that a second process does not compile
    this environment again: folder `$ENVC_JAX_CACHE`, default `$XDG_CACHE_HOME/envc/jax`
    (`~/.cache/envc/jax`). `ENVC_JAX_CACHE=off` (or 0, false, no, none) leaves JAX's settings
    alone, and so does a cache folder the program already chose (`jax_compilation_cache_dir`).
    The same rule as `envc.jax_cache.enable`."""
    path = os.environ.get("ENVC_JAX_CACHE", "").strip()
    if path.lower() in ("off", "0", "false", "no", "none") or jax.config.jax_compilation_cache_dir:
        return
    if not path:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "envc", "jax")
    path = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # a file or no permission: no cache (JAX would warn at every compile), as envc's own
        return
    from jax.experimental.compilation_cache import compilation_cache

    jax.config.update("jax_compilation_cache_dir", path)
    compilation_cache.reset_cache()  # a compile before this import found no cache: look again


def _svg(env_id, state, cell=12, columns=4):
    """An SVG picture of `state` (or of each state of a batch, at most 64, `columns` a row):
    env id, step, player to move, rewards and flags as text, then the observation of the
    player to move as a grid of cells shaded from its lowest (white) to highest (black) value
    (a 1-D observation wraps into rows of about its square root; a pytree shows its leaves
    one after the other)."""
    host = jax.device_get(state)
    player = np.asarray(host.current_player)
    batch = player.shape[0] if player.ndim else None
    lanes = list(range(min(batch, 64))) if batch is not None else [None]
    panels = []
    for lane in lanes:
        pick = (lambda x: np.asarray(x)[lane]) if lane is not None else np.asarray
        leaves = [pick(x).astype(np.float64) for x in jax.tree_util.tree_leaves(host.observation)]
        grids = []
        for x in leaves:
            if x.ndim <= 1:
                n = max(1, x.size)
                width = max(1, int(np.ceil(np.sqrt(n))))
                x = np.concatenate([x.ravel(), np.full(width * int(np.ceil(n / width)) - x.size, np.nan)])
                x = x.reshape(-1, width)
            grids.append(x.reshape(-1, x.shape[-1]))
        title = [f"{env_id}" + (f" [{lane}]" if lane is not None else ""),
                 f"step {int(pick(host._step_count))}, player {int(pick(host.current_player))}",
                 "rewards " + ", ".join(f"{r:g}" for r in pick(host.rewards)),
                 ("terminated" if bool(pick(host.terminated)) else "truncated" if bool(pick(host.truncated))
                  else "playing")]
        panels.append((title, grids))
    width = max(sum(g.shape[1] for g in grids) * cell + cell * len(grids) for _, grids in panels) + 2 * cell
    width = max(width, 260)
    height = max(max((g.shape[0] for g in grids), default=0) * cell for _, grids in panels) + 5 * cell + 20
    out = []
    for k, (title, grids) in enumerate(panels):
        x0, y0 = (k % columns) * width, (k // columns) * height
        out += [f'<text x="{x0 + cell}" y="{y0 + 14 + 14 * j}" font-family="monospace" font-size="12">{line}</text>'
                for j, line in enumerate(title)]
        gx = x0 + cell
        for g in grids:
            finite = g[np.isfinite(g)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            for (r, c), v in np.ndenumerate(g):
                if not np.isfinite(v):
                    continue
                shade = 255 - int(round(255 * (v - lo) / (hi - lo))) if hi > lo else 255
                out.append(f'<rect x="{gx + c * cell}" y="{y0 + 5 * cell + 10 + r * cell}" width="{cell}" '
                           f'height="{cell}" fill="rgb({shade},{shade},{shade})" stroke="#888" stroke-width="0.5"/>')
            gx += (g.shape[1] + 1) * cell
    rows = (len(panels) + columns - 1) // columns
    total_w, total_h = width * min(columns, len(panels)), height * rows
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" '
            f'viewBox="0 0 {total_w} {total_h}">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(out) + "\n</svg>\n")
