"""A step's `terminated` and `truncated` come out of the runtime's `_once` (an `any` over the
flag and `False`): the same bool, but a reduce, which XLA:CPU computes once instead of fusing
the flag's computation into every consumer. In an auto-reset loop every leaf's select reads the
flags; acrobot's 12 selects each recomputed the last RK4 stage, the angle wrap and two cosines
(bench/RESULTS.md, "The step's done flags computed once")."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def test_once_is_the_identity(jax_envs):
    once = jax_envs("acrobot")._once
    assert once(True) is True and once(False) is False  # known while tracing: kept a Python bool
    for flag in (jnp.bool_(True), jnp.bool_(False)):
        got = once(flag)
        assert got.dtype == jnp.bool_ and got.shape == ()
        assert bool(got) == bool(flag)
    flags = jnp.asarray([True, False, False, True])
    batched = jax.vmap(once)(flags)
    assert batched.shape == flags.shape
    np.testing.assert_array_equal(np.asarray(batched), np.asarray(flags))


def _producer(jaxpr, var):
    """The equation of `jaxpr` whose outputs hold `var` (None for an input or a literal)."""
    for eqn in jaxpr.eqns:
        if any(out is var for out in eqn.outvars):
            return eqn
    return None


def test_a_batched_step_reads_its_flags_out_of_a_reduce(jax_envs):
    for name in ("acrobot", "tictactoe"):
        env = jax_envs(name)
        states = jax.vmap(env.init_from_seed)(jnp.arange(4, dtype=jnp.uint32))
        closed = jax.make_jaxpr(jax.vmap(env.step))(states, jnp.zeros(4, jnp.int32))
        out = jax.tree_util.tree_structure(jax.eval_shape(jax.vmap(env.step), states, jnp.zeros(4, jnp.int32)))
        stepped = jax.tree_util.tree_unflatten(out, closed.jaxpr.outvars)
        for flag in (stepped.terminated, stepped.truncated):
            eqn = _producer(closed.jaxpr, flag)
            assert eqn is not None and eqn.primitive.name == "reduce_or", (name, eqn)
