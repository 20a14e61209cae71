"""The generated rollout's batch-level step (`_step_rows`, issue 16): each action kind's branch
runs only on the rows that play it, `chunk` rows per trip of a loop, instead of every branch
on every row (`vmap` of `lax.switch`). It must be exact: each test compares it with
`vmap(_step_dict)`, leaf by leaf with dtypes, on actions that include illegal and
out-of-range ones, under each `illegal_action` policy, and the rollout with it against the
rollout without it (`kind_chunk=0`)."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "tests" / "specs"


def _variant(tmp_path: Path, name: str, policy: str):
    """The generated JAX module of tests/specs/NAME.envspec with `policy` added after its
    `turn_limit` line (and its fill file beside it, if any)."""
    from envc.compiler.check import load
    from envc.verify import load_jax

    text = (SPECS / f"{name}.envspec").read_text(encoding="utf-8")
    at = text.index("\nturn_limit ") + 1
    at = text.index("\n", at) + 1
    spec = tmp_path / f"{name}.envspec"
    spec.write_text(text[:at] + policy + "\n" + text[at:], encoding="utf-8")
    if (SPECS / f"{name}.fills").exists():
        shutil.copy(SPECS / f"{name}.fills", tmp_path / f"{name}.fills")
    return load_jax(load(str(spec)))


# choices: decisions inside effects (a resumed branch), a fill, `fail`; crazy8: three kinds
# without a decision (`illegal_action pgx` cannot be combined with `choose`, E0181)
@pytest.mark.parametrize("name, policy", [("choices", "illegal_action error"), ("crazy8", "illegal_action pgx"),
                                          ("crazy8", "")])
def test_step_rows_equals_every_branch_on_every_row(tmp_path, same_pytrees, name, policy):
    """12 steps of a batch of 24 from mixed actions (legal ones of every kind, illegal and
    out-of-range ones, some rows already finished): `_step_rows` at chunks 1, 5 and 24 equals
    `vmap(_step_dict)`, and the batch played at least two kinds in one step."""
    env = _variant(tmp_path, name, policy)
    batch = 24
    reference = jax.jit(jax.vmap(env._step_dict))
    rows = jax.jit(env._step_rows, static_argnums=2)
    finish = jax.jit(jax.vmap(env._finish))
    state = jax.vmap(env.init)(jax.random.split(jax.random.PRNGKey(0), batch))
    offsets = np.array([k[1] for k in env.ACTION_KINDS])
    mixed = 0
    for i in range(12):
        keys = jax.random.split(jax.random.PRNGKey(100 + i), batch)
        actions = np.asarray(jax.vmap(env.random_legal_action)(keys, state)).copy()
        actions[i % 4::8] = np.random.default_rng(i).integers(-2, env.NUM_ACTIONS + 2, size=len(actions[i % 4::8]))
        want = reference(state, jnp.asarray(actions))
        for chunk in (1, 5, batch):
            same_pytrees(rows(state, jnp.asarray(actions), chunk), want)
        live = ~np.asarray(state.terminated | state.truncated)
        kinds = np.searchsorted(offsets, actions[live], side="right") - 1
        mixed += len(set(kinds.tolist()) & set(range(len(env._BRANCHES)))) >= 2
        state = finish(want)
    assert mixed, "no step played two kinds"
    assert np.asarray(state.terminated).any(), "no row finished (the finished rows' path untested)"


def test_rollout_steps_rows_by_kind_exactly(same_pytrees):
    """crazy8's rollout (kinds play, draw_card, pass) with kind chunks 1, 3 and the default
    equals the rollout that steps every row through every branch (`kind_chunk=0`)."""
    from envc.compiler.check import load
    from envc.verify import load_jax

    env = load_jax(load(str(SPECS / "crazy8.envspec")))
    assert len(env._BRANCHES) == 3
    run = partial(jax.jit, static_argnums=(1, 2, 3, 4))
    key = jax.random.PRNGKey(3)
    want = run(env.rollout)(key, 40, 16, None, 0)
    for chunk in (1, 3, None):
        same_pytrees(run(env.rollout)(key, 40, 16, None, chunk), want)


@pytest.mark.parametrize("name, chunk", [("tcg", 128), ("othello", 0), ("pokemon_gen1", 0), ("tictactoe", None)])
def test_kind_rows_default_follows_the_branch_costs(jax_envs, name, chunk):
    """The rollout compacts by default (chunk batch // 8, from batch 1024 up) only where the branches beside the
    dearest cost at least as much as it and more than the gathers (`lower.kind_rows`): the
    TCG (13 kinds, two dispatches of card texts) yes; othello (`place` is most of it) and the
    Pokémon battle's commits (a few operations each) no; tic-tac-toe has one kind, so no
    compaction code at all. A threshold that took every multi-kind spec would turn othello on."""
    env = jax_envs(name)
    if chunk is None:
        assert not hasattr(env, "_step_rows") and len(env._BRANCHES) == 1
        return
    assert env._kind_chunk(1024, None) == chunk and env._kind_chunk(8192, None) == 8 * chunk
    assert env._kind_chunk(512, None) == 0  # below batch 1024 the trips cost more than they save
    assert env._kind_chunk(1024, 0) == 0 and env._kind_chunk(1024, 7) == 7


@pytest.fixture(scope="module")
def heavy_env():
    from envc.compiler.check import load
    from envc.verify import load_jax

    return load_jax(load(str(SPECS / "heavy_arms.envspec")))


def test_heavy_arms_run_only_where_a_row_takes_them(heavy_env, same_pytrees):
    """heavy_arms' heavy `if` arms (a rare roll, a suit chain with a light arm and a heavy
    `else`, hold's heavy `else`) under the rows axis: with every row, no row and some rows
    taking each arm (the suit set per row, 16 steps of mixed actions so that some rows roll
    the rare 0), the step under `_rows_vmap` and `_step_rows` at chunks 1, 5 and 12 equal the
    user's `vmap(_step_dict)`, which has no rows axis."""
    env = heavy_env
    batch = 12
    reference = jax.jit(jax.vmap(env._step_dict))
    every = jax.jit(env._rows_vmap(env._step_dict))
    rows = jax.jit(env._step_rows, static_argnums=2)
    finish = jax.jit(jax.vmap(env._finish))
    state = jax.vmap(env.init)(jax.random.split(jax.random.PRNGKey(5), batch))
    suits = [[0] * batch, [1] * batch, [2] * batch, [3] * batch, [0, 1, 2, 3] * 3, [2] * (batch - 1) + [0]]
    for i in range(16):
        suit = jnp.asarray(suits[i % len(suits)], state._x["suit"].dtype)
        pile = state._x["pile"].at[:, 0].set(jnp.where(jnp.arange(batch) % 3 == i % 3, 9, state._x["pile"][:, 0]))
        state = state.replace(_x={**state._x, "suit": suit, "pile": pile})
        keys = jax.random.split(jax.random.PRNGKey(50 + i), batch)
        actions = jax.vmap(env.random_legal_action)(keys, state)
        want = reference(state, actions)
        same_pytrees(every(state, actions), want)
        for chunk in (1, 5, batch):
            same_pytrees(rows(state, actions, chunk), want)
        state = finish(want)
    assert np.asarray(state._x["score"]).max() > 0


def test_heavy_arms_are_conditionals_under_the_rows_axis(heavy_env, jaxpr_primitives):
    """The mechanism is on where it should be: traced under `_rows_vmap`, heavy_arms' step holds
    `cond`s on a `psum` over the rows; under a plain `vmap` (a user's loop) it holds neither."""
    env = heavy_env
    state = jax.vmap(env.init)(jax.random.split(jax.random.PRNGKey(0), 4))
    actions = jnp.zeros(4, jnp.int32)
    named = jaxpr_primitives(jax.make_jaxpr(env._rows_vmap(env._step_dict))(state, actions).jaxpr)
    plain = jaxpr_primitives(jax.make_jaxpr(jax.vmap(env._step_dict))(state, actions).jaxpr)
    assert {"cond", "psum"} <= named, sorted(named)
    assert "psum" not in plain and "cond" not in plain, sorted(plain)


def test_rollout_with_heavy_arms_equals_the_reference_path(heavy_env, same_pytrees):
    """heavy_arms' rollout at kind chunks 0 (every row, rows axis) and 3 (`_step_rows`) equals
    its reference path (`reset_bound=batch`: `vmap(step_autoreset_from_seed)`, no rows axis)."""
    env = heavy_env
    run = partial(jax.jit, static_argnums=(1, 2, 3, 4))
    key = jax.random.PRNGKey(8)
    want = run(env.rollout)(key, 30, 16, 16, None)
    for chunk in (0, 3):
        same_pytrees(run(env.rollout)(key, 30, 16, None, chunk), want)


ALL_SPECS = sorted((ROOT / "specs").glob("*.envspec")) + sorted(SPECS.glob("*.envspec"))


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.stem)
def test_every_spec_steps_under_the_rows_axis_with_every_arm_a_cond(monkeypatch, path):
    """Every spec generated with every non-empty `if` arm heavy (`HEAVY_ARM = 1`), its step
    traced under the rows axis: each arm becomes a `lax.cond`, whose two branches must return
    one type whatever the locals hold (Python ints, loop carries, records: `_typed`). The TCG
    keeps its own threshold (all its arms would trace for minutes) and is traced through
    `_step_rows`, its rows sorted by `_ROW_KEYS`. Tracing only, no XLA compile: the values are
    compared on heavy_arms and the small specs above."""
    from envc.codegen.jax import lower
    from envc.compiler.check import load
    from envc.verify import load_jax

    if path.stem != "tcg":
        monkeypatch.setattr(lower, "HEAVY_ARM", 1)
    env = load_jax(load(str(path)))
    if hasattr(env, "_step_joint_dict"):
        return  # a simultaneous turn is stepped by plain `vmap` (`rollout_joint`): no rows axis
    state = jax.vmap(env.init)(jax.random.split(jax.random.PRNGKey(0), 2))
    actions = jnp.zeros(2, jnp.int32)
    want = jax.tree_util.tree_structure(jax.eval_shape(jax.vmap(env._step_dict), state, actions))
    step = partial(env._step_rows, chunk=1) if path.stem == "tcg" else env._rows_vmap(env._step_dict)
    assert jax.tree_util.tree_structure(jax.eval_shape(step, state, actions)) == want
