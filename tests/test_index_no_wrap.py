"""The runtime's `_ix` and `_iset` (codegen/jax/runtime.py): a read or a store at a traced index
that the checker proved in range, as `dynamic_slice` / `dynamic_update_slice` without the
negative-index wrap that `x[i]` and `.at[i].set` compute (bench/RESULTS.md, "Indices without
negative wrap"). They must read and store exactly what jnp's indexing does for every index in
range, traced or not, under `vmap` or not, and their programs must hold no wrap."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envc.codegen.jax import runtime as rt

SHAPES = [((7,), jnp.int8, 1), ((3, 5), jnp.int16, 1), ((3, 5), jnp.int32, 2), ((2, 3, 4), jnp.float32, 2),
          ((4, 2), jnp.bool_, 1)]


def _array(shape, dtype, seed):
    return jnp.asarray(np.random.default_rng(seed).integers(-3, 4, size=shape).astype(dtype))


def _indices(shape, k):
    return list(itertools.product(*(range(d) for d in shape[:k])))


@pytest.mark.parametrize("shape,dtype,k", SHAPES)
def test_ix_reads_what_indexing_reads(shape, dtype, k):
    x = _array(shape, dtype, seed=len(shape))
    read = jax.jit(lambda x, at: _chain(rt._ix, x, at))
    for at in _indices(shape, k):
        expected = x[at]
        assert np.array_equal(np.asarray(read(x, tuple(jnp.int32(i) for i in at))), np.asarray(expected)), at
        assert np.array_equal(np.asarray(_chain(rt._ix, x, at)), np.asarray(expected)), at  # Python ints
    # batched: every environment reads its own index of its own array
    xs = jnp.stack([_array(shape, dtype, seed=s) for s in range(5)])
    ats = jnp.asarray([_indices(shape, k)[(3 * s) % len(_indices(shape, k))] for s in range(5)], jnp.int32)
    got = jax.vmap(lambda x, at: _chain(rt._ix, x, tuple(at)))(xs, ats)
    want = jnp.stack([xs[s][tuple(int(i) for i in ats[s])] for s in range(5)])
    assert np.array_equal(np.asarray(got), np.asarray(want))


def _chain(f, x, at):
    for i in at:
        x = f(x, i)
    return x


@pytest.mark.parametrize("shape,dtype,k", SHAPES)
def test_iset_stores_what_a_scatter_stores(shape, dtype, k):
    a = _array(shape, dtype, seed=11)
    v = _array(shape[k:], dtype, seed=12)
    store = jax.jit(rt._iset)
    for at in _indices(shape, k):
        index = at[0] if k == 1 else at
        expected = a.at[index].set(v)
        traced = tuple(jnp.int32(i) for i in at)
        assert np.array_equal(np.asarray(store(a, traced[0] if k == 1 else traced, v)), np.asarray(expected)), at
        assert np.array_equal(np.asarray(rt._iset(a, index, v)), np.asarray(expected)), at  # Python ints
    # a value of another dtype is cast to the array's, as `_set` stores record fields
    wide = jnp.asarray(v, jnp.float32) if dtype != jnp.float32 else jnp.asarray(v, jnp.int32)
    mixed = (jnp.int32(1),) * k
    assert np.array_equal(np.asarray(store(a, mixed[0] if k == 1 else mixed, wide)),
                          np.asarray(a.at[(1,) * k if k > 1 else 1].set(v)))
    # batched indices: a scatter per environment
    ats = jnp.asarray([_indices(shape, k)[(5 * s) % len(_indices(shape, k))] for s in range(4)], jnp.int32)
    got = jax.vmap(lambda at: rt._iset(a, at[0] if k == 1 else tuple(at), v))(ats)
    for s in range(4):
        index = tuple(int(i) for i in ats[s])
        assert np.array_equal(np.asarray(got[s]), np.asarray(a.at[index[0] if k == 1 else index].set(v)))


def _primitives(fn, *args) -> set[str]:
    names: set[str] = set()

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            names.add(eqn.primitive.name)
            for value in eqn.params.values():
                for sub in value if isinstance(value, (tuple, list)) else (value,):
                    inner = getattr(sub, "jaxpr", sub)  # a ClosedJaxpr's, or a Jaxpr
                    if hasattr(inner, "eqns"):
                        walk(inner)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return names


def test_no_wrap_is_traced():
    """`x[i]` at a traced int32 index compares it with 0 and selects `i + N` (the wrap); `_ix`
    and `_iset` trace no comparison at all, batched or not."""
    x, i = jnp.arange(12, dtype=jnp.int32).reshape(3, 4), jnp.int32(2)
    assert "lt" in _primitives(lambda x, i: x[i], x, i)  # the wrap this helper removes
    assert "lt" not in _primitives(rt._ix, x, i)
    assert "lt" not in _primitives(lambda x, i: rt._iset(x, i, x[0]), x, i)
    batch = jnp.stack([x, x]), jnp.asarray([0, 2], jnp.int32)
    assert "lt" not in _primitives(jax.vmap(rt._ix), *batch)
    assert "lt" not in _primitives(jax.vmap(lambda x, i: rt._iset(x, i, x[0])), *batch)


def test_ix_reads_an_array_of_indices():
    """Inside `_each` (a comprehension computed on its whole range at once) an index is an
    array: `_ix` gathers every element, small arrays and large alike."""
    for n in (2, 7, 20):
        x = jnp.arange(3 * n, dtype=jnp.int16).reshape(n, 3)
        i = jnp.asarray([n - 1, 0, n // 2], jnp.int32)
        assert np.array_equal(np.asarray(jax.jit(rt._ix)(x, i)), np.asarray(x[i])), n
        assert np.array_equal(np.asarray(jax.vmap(rt._ix, in_axes=(None, 0))(x, i[:, None])), np.asarray(x[i[:, None]]))
