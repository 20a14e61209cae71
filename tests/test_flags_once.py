"""A condition that selects several leaves comes out of the runtime's `_once` (an `any` over
the condition and `False`): the same bool, but a reduce, which XLA:CPU computes once instead of
fusing the condition's computation into every select that reads it. A step's `terminated` and
`truncated` (every leaf's select of an auto-reset reads them: acrobot's 12 selects each
recomputed the last RK4 stage, the angle wrap and two cosines), and the condition of an `if`
whose arms write two leaves or more (`_select`, `_merge_first`) (bench/RESULTS.md, "Conditions
computed once")."""

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
    grid = jnp.asarray([[True, False], [False, False]])  # any shape: each element kept
    np.testing.assert_array_equal(np.asarray(once(grid)), np.asarray(grid))
    np.testing.assert_array_equal(np.asarray(jax.vmap(once)(grid)), np.asarray(grid))


def test_select_and_merge_first_pick_as_before(jax_envs):
    rt = jax_envs("tcg")  # pastes `_select` and `_merge_first`
    a = {"x": jnp.int32(1), "y": jnp.int32(2), "z": jnp.int32(3)}
    b = {"x": jnp.int32(10), "y": jnp.int32(20), "z": a["z"]}
    assert rt._changed(a, b) == 2 and rt._changed(a, a) == 0
    for c in (True, False):
        got = jax.jit(rt._select)(jnp.bool_(c), a, b)
        assert {k: int(v) for k, v in got.items()} == {k: int(v) for k, v in (a if c else b).items()}
    single = {"x": jnp.int32(7), "y": a["y"], "z": a["z"]}  # one leaf changed: the condition is read once
    assert int(rt._select(jnp.bool_(False), single, a)["x"]) == 1
    arms = [{"x": jnp.int32(5), "y": jnp.int32(6), "z": a["z"]}, {"x": jnp.int32(8), "y": a["y"], "z": a["z"]}]
    for c1, c2 in ((True, False), (False, True), (True, True), (False, False)):
        firsts, taken = rt._firsts([jnp.bool_(c1), jnp.bool_(c2)])
        got = rt._merge_first(firsts, taken, a, arms, b)
        want = arms[0] if c1 else arms[1] if c2 else b
        merged = {k: int(got[k]) for k in a}
        assert merged == {k: int(want[k]) for k in a}, (c1, c2)


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
