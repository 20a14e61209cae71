"""The generated JAX builds arrays from items with the runtime's `_stack` (a concatenation of
the items reshaped to a leading 1), not `jnp.stack`: under `vmap`, `jnp.stack` is a stack on
axis 0 followed by a transpose to the batch axis, which XLA:CPU keeps column-major; a user's
select of such an observation was a transposing fusion that recomputed its operands per
element (bench/RESULTS.md, "jnp.stack under vmap"). `_stack` must build the same array."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def test_stack_equals_jnp_stack(jax_envs):
    stack = jax_envs("acrobot")._stack
    cases = [
        [jnp.float32(1.5), jnp.float32(-2.0), jnp.float32(3.25)],
        [jnp.int32(7), jnp.int32(-1)],
        [jnp.asarray([1, 2, 3], jnp.int8), jnp.asarray([4, 5, 6], jnp.int8)],
        [jnp.asarray([[True, False]]), jnp.asarray([[False, False]])],
    ]
    for xs in cases:
        want, got = jnp.stack(xs), stack(xs)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    # under vmap too: the batch axis first, the items after it
    a, b = jnp.arange(12, dtype=jnp.float32).reshape(4, 3), -jnp.arange(12, dtype=jnp.float32).reshape(4, 3)
    batched = jax.vmap(lambda x, y: stack([x, y]))(a, b)
    np.testing.assert_array_equal(np.asarray(batched), np.asarray(jax.vmap(lambda x, y: jnp.stack([x, y]))(a, b)))


def test_a_batched_observation_has_no_transpose(jax_envs, jaxpr_primitives):
    env = jax_envs("acrobot")  # its observation is an array literal of six floats
    states = jax.vmap(env.init_from_seed)(jnp.arange(4, dtype=jnp.uint32))
    prims = jaxpr_primitives(jax.make_jaxpr(jax.vmap(env.observe, in_axes=(0, None)))(states, 0).jaxpr)
    assert "transpose" not in prims
    assert "concatenate" in prims  # the observation is still built (the check looks at the right jaxpr)
    # what `_stack` avoids: JAX batches `jnp.stack` with a transpose (if a JAX release stops
    # doing so, this says the helper can go)
    stacked = jax.make_jaxpr(jax.vmap(lambda x, y: jnp.stack([x, y])))(jnp.zeros(4), jnp.zeros(4))
    assert "transpose" in jaxpr_primitives(stacked.jaxpr)
