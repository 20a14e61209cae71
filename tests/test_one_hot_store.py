"""The runtime's `_put`: a store at traced indices, traced inside an arm of an `if` on a traced
condition (`_predicated`), into an array of 64 to 256 elements, is a one-hot select rather
than a scatter (bench/RESULTS.md, "One-hot stores"). It must store exactly what `.at[].set`
stores, in and out of those bounds, under `vmap` too, and the generated othello's `place`
must be left with the one scatter of its unconditional store."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

CASES = [  # (per-environment shape, dtype, number of leading axes indexed)
    ((64,), jnp.int8, 1),  # othello's board: one-hot
    ((4, 16), jnp.int16, 2),  # two traced indices: one-hot
    ((4, 16), jnp.int8, 1),  # a row of 16 stored at once: one-hot
    ((2, 8), jnp.bool_, 2),  # 16 elements, below the bounds: a scatter
    ((300,), jnp.float32, 1),  # above them: a scatter
]


def _values(shape, dtype, k, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-3, 4, size=shape).astype(dtype)
    v = rng.integers(-3, 4, size=shape[k:]).astype(dtype)
    return jnp.asarray(a), jnp.asarray(v)


@pytest.mark.parametrize("shape,dtype,k", CASES)
def test_put_stores_what_a_scatter_stores(jax_envs, shape, dtype, k):
    env = jax_envs("othello")
    a, v = _values(shape, dtype, k, seed=len(shape) + k)
    predicated = jax.jit(lambda a, at, v: env._predicated(lambda: env._put(a, at, v)))
    plain = jax.jit(env._put)
    for n, at in enumerate(itertools.product(*(range(d) for d in shape[:k]))):
        if n % 7:
            continue  # a sample of the indices: every 7th
        at = tuple(jnp.int32(i) for i in at)
        at = at[0] if k == 1 else at
        want = np.asarray(a.at[at].set(v))
        np.testing.assert_array_equal(np.asarray(predicated(a, at, v)), want)
        np.testing.assert_array_equal(np.asarray(plain(a, at, v)), want)
    # static indices (Python ints) keep the static update
    at = (1,) * k
    got = env._predicated(lambda: env._put(a, at[0] if k == 1 else at, v))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(a.at[at[0] if k == 1 else at].set(v)))


def test_a_batched_predicated_put_has_no_scatter_and_equals_one(jax_envs, jaxpr_primitive_counts):
    env = jax_envs("othello")
    boards = jnp.asarray(np.random.default_rng(1).integers(-1, 2, size=(5, 64)), jnp.int8)
    cells = jnp.asarray([0, 63, 17, 40, 9], jnp.int32)
    takes = jnp.asarray([True, False, True, True, False])

    def store_if(c, board, cell):  # `if c { board[cell] = 1 }`, as the lowering writes it
        return env._branch(c, lambda: env._put(board, cell, jnp.int8(1)), lambda: board)

    batched = jax.vmap(store_if)
    jaxpr = jax.make_jaxpr(batched)(takes, boards, cells).jaxpr
    assert jaxpr_primitive_counts(jaxpr)["scatter"] == 0
    want = jnp.where(takes[:, None], jax.vmap(lambda b, c: b.at[c].set(1))(boards, cells), boards)
    np.testing.assert_array_equal(np.asarray(batched(takes, boards, cells)), np.asarray(want))
    # the same store outside an arm is a scatter, as before
    unconditional = jax.make_jaxpr(jax.vmap(lambda b, c: env._put(b, c, jnp.int8(1))))(boards, cells).jaxpr
    assert jaxpr_primitive_counts(unconditional)["scatter"] == 1


def test_othello_place_keeps_only_its_unconditional_scatter(jax_envs, jaxpr_primitive_counts):
    """`place` flips up to 48 discs, each store under `if k < n` (a traced condition) into the
    64-cell board, then sets the placed cell unconditionally: one scatter is left (before the
    one-hot stores there were 7: the 6 flips of the rolled loop's body over the directions, and
    the placed cell)."""
    env = jax_envs("othello")
    states = jax.vmap(env.init_from_seed)(jnp.arange(3, dtype=jnp.uint32))
    actions = jnp.asarray([19, 26, 37], jnp.int32)
    jaxpr = jax.make_jaxpr(jax.vmap(env.step))(states, actions).jaxpr
    assert jaxpr_primitive_counts(jaxpr)["scatter"] == 1
