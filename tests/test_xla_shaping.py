"""Runtime helpers that shape what XLA:CPU compiles, each equal to the plain form.

`_once`: a condition that selects several leaves (a step's `terminated` and `truncated`, read
by every leaf's select of an auto-reset; the condition of an `if` whose arms write two leaves
or more, `_select` and `_merge_first`) is an `any` over the condition and `False`: the same
bool, but a reduce, which XLA computes once instead of fusing the condition's computation into
every select (acrobot's 12 selects each recomputed the last RK4 stage, the angle wrap and two
cosines: bench/RESULTS.md, "Conditions computed once").

`_switch`: the action kinds' dispatch computes every branch and selects, as `lax.switch` does
under `vmap`, without the batching rule's copy of every constant to the batch (bench/RESULTS.md,
"Action kinds without lax.switch")."""

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


def test_switch_equals_lax_switch_under_vmap(jax_envs):
    """`_switch` (the action kinds' dispatch, `_run_branch`) picks what `lax.switch` picks, an
    index outside the branches clamped to the nearest as there; a leaf no branch changes is
    passed through unselected."""
    switch = jax_envs("tictactoe")._switch
    table = jnp.arange(12, dtype=jnp.int8).reshape(4, 3)  # a constant a branch closes over
    kept = jnp.int32(5)
    branches = [
        lambda st, a: {"x": st["x"] + a, "y": st["y"], "k": kept},
        lambda st, a: {"x": st["x"] * 2, "y": table[a % 4, 1].astype(jnp.int8), "k": kept},
        lambda st, a: {"x": -st["x"], "y": st["y"] - 1, "k": kept},
    ]
    xs = {"x": jnp.arange(8, dtype=jnp.int32), "y": jnp.arange(8, dtype=jnp.int8)}
    actions = jnp.arange(8, dtype=jnp.int32) * 3
    for index in (jnp.asarray([0, 1, 2, 0, 1, 2, -1, 7], jnp.int32), jnp.full(8, 1, jnp.int32)):
        got = jax.vmap(lambda i, st, a: switch(i, branches, st, a))(index, xs, actions)
        want = jax.vmap(lambda i, st, a: jax.lax.switch(i, branches, st, a))(index, xs, actions)
        for name in ("x", "y", "k"):
            assert got[name].dtype == want[name].dtype
            np.testing.assert_array_equal(np.asarray(got[name]), np.asarray(want[name]))
    single = switch(jnp.int32(2), branches[:1], xs, actions)  # one branch: called as it is
    np.testing.assert_array_equal(np.asarray(single["x"]), np.asarray(xs["x"] + actions))
