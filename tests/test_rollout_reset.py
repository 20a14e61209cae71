"""The generated rollouts' batch-level auto-reset (issue 19): `init` runs on at most K finished
rows (gathered with `jnp.nonzero(done, size=K)` and scattered back), and on every row under a
batch-level `lax.cond` when more than K finished. It must be exact: each test compares against
the full path (`reset_bound=batch`, the rollout's body before the change: `vmap` of
`step_autoreset_from_seed`) or against `_init_dict` row by row, leaf by leaf with dtypes, and
checks that the run took both branches of the `cond`."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _compare(same, rollout, n_steps: int, batch: int, bound: int | None) -> None:
    """`rollout` with `reset_bound=bound` against the full path; both branches taken."""
    key = jax.random.PRNGKey(3)
    full = jax.jit(partial(rollout, reset_bound=batch), static_argnums=(1, 2))(key, n_steps, batch)
    compact = jax.jit(partial(rollout, reset_bound=bound), static_argnums=(1, 2))(key, n_steps, batch)
    same(compact, full)
    k = max(1, batch // 16) if bound is None else bound
    per_step = np.asarray(full[2]).sum(axis=1)
    assert ((per_step >= 1) & (per_step <= k)).any(), f"no step with 1..{k} finished: {per_step}"
    assert (per_step > k).any(), f"no step with more than {k} finished: {per_step}"


def test_rollout_compacted_reset_equals_the_full_path(jax_envs, same_pytrees):
    """Tic-tac-toe at batch 64 with the default bound (K = 4): games end in 5 to 9 moves, so
    some steps finish 1..4 games (the compacted branch) and others more (the full one)."""
    _compare(same_pytrees, jax_envs("tictactoe").rollout, 40, 64, None)


def test_rollout_joint_compacted_reset_equals_the_full_path(same_pytrees):
    """`rollout_joint` on the simultaneous test spec `duel` (random init, 30-turn limit), K = 2."""
    from envc.compiler.check import load
    from envc.verify import load_jax

    env = load_jax(load(str(ROOT / "tests" / "specs" / "duel.envspec")))
    _compare(same_pytrees, env.rollout_joint, 60, 32, 2)


@pytest.mark.parametrize("bound", [3, 2])
def test_reset_finished_rows_keep_their_fault(bound, same_pytrees):
    """`_reset_finished` on a batch of the fault test spec after 6 random steps (faults set),
    with rows 1, 4 and 6 marked finished: each becomes `_init_dict(seed)` with its own `_fault`,
    the others are unchanged; K = 3 takes the compacted branch, K = 2 the full one."""
    from envc.compiler.check import load
    from envc.verify import load_jax

    env = load_jax(load(str(ROOT / "tests" / "specs" / "faults.envspec")))
    batch = 8
    state = jax.vmap(env.init)(jax.random.split(jax.random.PRNGKey(0), batch))
    for i in range(6):
        keys = jax.random.split(jax.random.PRNGKey(10 + i), batch)
        state = jax.vmap(env.step)(state, jax.vmap(env.random_legal_action)(keys, state))
    st = jax.vmap(env._to_dict)(state)
    st["terminated"] = jnp.zeros(batch, jnp.bool_).at[jnp.array([1, 4, 6])].set(True)
    st["truncated"] = jnp.zeros(batch, jnp.bool_)
    seeds = jax.random.bits(jax.random.PRNGKey(7), (batch,), jnp.uint32)
    got = jax.jit(env._reset_finished, static_argnums=2)(st, seeds, bound)
    assert np.asarray(st["_fault"])[[1, 4, 6], 0].any(), "some finished row carries a fault"
    for i in range(batch):
        row = env._get(st, i)
        if i in (1, 4, 6):
            fault = row["_fault"]
            row = env._init_dict(seeds[i])
            row["_fault"] = fault
        same_pytrees(env._get(got, i), row)


def _without_observations(same, rollout, n_steps: int, batch: int, bound: int | None, init) -> None:
    """`rollout(..., observations=False)` against the same rollout with them: every output
    equal but the states' observation, which stays the one `init` gave each environment."""
    key = jax.random.PRNGKey(5)
    run = partial(rollout, reset_bound=bound)
    full = jax.jit(run, static_argnums=(1, 2))(key, n_steps, batch)
    bare = jax.jit(partial(run, observations=False), static_argnums=(1, 2))(key, n_steps, batch)
    assert np.asarray(full[2]).any(), "no episode ended: the reset path was not exercised"
    same(bare[1:], full[1:])
    same(bare[0].replace(observation=full[0].observation), full[0])
    first = jax.vmap(init)(jax.random.split(jax.random.split(key)[1], batch))  # the rollout's own `init`
    same(bare[0].observation, first.observation)
    assert not np.array_equal(np.asarray(full[0].observation), np.asarray(first.observation))


@pytest.mark.parametrize("bound", [None, 64])
def test_rollout_without_observations_changes_nothing_else(bound, jax_envs, same_pytrees):
    """Tic-tac-toe at batch 64, the compacted reset (default bound) and the full path."""
    env = jax_envs("tictactoe")
    _without_observations(same_pytrees, env.rollout, 30, 64, bound, env.init)


def test_rollout_joint_without_observations_changes_nothing_else(same_pytrees):
    """`rollout_joint` on the simultaneous test spec `duel`, K = 2."""
    from envc.compiler.check import load
    from envc.verify import load_jax

    env = load_jax(load(str(ROOT / "tests" / "specs" / "duel.envspec")))
    _without_observations(same_pytrees, env.rollout_joint, 60, 32, 2, env.init)


def _continues(same, rollout, n_steps: int, batch: int, init) -> None:
    """`rollout(..., state=s)` with `s` the state the rollout's own `init` makes from `key`
    returns what `rollout(key, ...)` does; given another state (games already under way), it
    plays on from that one."""
    key = jax.random.PRNGKey(7)
    run = jax.jit(rollout, static_argnums=(1, 2))
    first = jax.vmap(init)(jax.random.split(jax.random.split(key)[1], batch))
    fresh = run(key, n_steps, batch)
    same(run(key, n_steps, batch, state=first), fresh)
    other = run(jax.random.PRNGKey(99), 3, batch)[0]
    moved = run(key, n_steps, batch, state=other)
    assert not np.array_equal(np.asarray(moved[2]), np.asarray(fresh[2])), "the state argument was ignored"


def test_rollout_continues_from_a_given_state(jax_envs, same_pytrees):
    """Tic-tac-toe at batch 32 (envc bench carries the state from call to call)."""
    env = jax_envs("tictactoe")
    _continues(same_pytrees, env.rollout, 12, 32, env.init)


def test_rollout_joint_continues_from_a_given_state(same_pytrees):
    """`rollout_joint` on the simultaneous test spec `duel`."""
    from envc.compiler.check import load
    from envc.verify import load_jax

    env = load_jax(load(str(ROOT / "tests" / "specs" / "duel.envspec")))
    _continues(same_pytrees, env.rollout_joint, 20, 16, env.init)
