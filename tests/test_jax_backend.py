"""Conformance of the generated JAX environments (in the spirit of Pgx's api_test):
dtypes and shapes, jit and jit(vmap) against eager, the documented illegal-action and
terminal rules, auto-reset, and exact equality with the interpreter (`envc verify`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envc.compiler import ir
from envc.compiler.actions import ActionSpace
from envc.verify import first_difference, jax_state_arrays, verify

from .conftest import ROOT, SPEC_NAMES


def _dtype(t: ir.Type):
    while isinstance(t, ir.ArrayT):
        t = t.elem
    if isinstance(t, ir.IntT):
        return np.dtype(t.dtype)
    if isinstance(t, ir.RowT):  # a row is an index: the narrowest dtype of 0..rows-1
        return np.dtype(ir.IntT(lo=0, hi=max(0, t.rows - 1)).dtype)
    if isinstance(t, ir.EnumT):
        return np.dtype(ir.IntT(lo=0, hi=max(0, t.size - 1)).dtype)
    return {ir.BoolT: np.bool_, ir.FloatT: np.float32}[type(t)]


def _shape(t: ir.Type) -> tuple:
    dims = []
    while isinstance(t, ir.ArrayT):
        dims.append(t.size)
        t = t.elem
    return tuple(dims)


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_state_dtypes_and_shapes(name, specs, jax_envs):
    m, env = specs(name), jax_envs(name)
    state = env.init(jax.random.PRNGKey(0))
    n = ActionSpace(m).n
    assert env.NUM_ACTIONS == n and env.NUM_PLAYERS == m.num_players
    assert state.legal_action_mask.shape == (n,) and state.legal_action_mask.dtype == jnp.bool_
    assert state.rewards.shape == (m.num_players,) and state.rewards.dtype == jnp.float32
    assert state.terminated.dtype == jnp.bool_ and state.truncated.dtype == jnp.bool_
    assert state.observation.shape == _shape(m.observe.type)
    assert state.observation.dtype == _dtype(m.observe.type)
    assert state.current_player.dtype == jnp.int32 and state._step_count.dtype == jnp.int32, "Pgx's dtypes"
    assert sorted(state._x) == sorted(f.name for f in m.state if not f.builtin), "the spec's fields, in `_x`"
    flat = state._to_arrays()
    for f in m.state:
        value = flat[f.name]
        leaf = f.type
        while isinstance(leaf, ir.ArrayT):
            leaf = leaf.elem
        if isinstance(leaf, (ir.IntT, ir.BoolT, ir.FloatT, ir.EnumT, ir.RowT)):  # lists and records are dicts
            assert value.dtype == _dtype(f.type), f"{f.name}: {value.dtype} is not the narrowest dtype of {f.type}"
            assert value.shape == _shape(f.type), f.name
    assert state._rng_key.dtype == jnp.uint32 and state._rng_counter.dtype == jnp.uint32


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_jit_and_vmap_agree_with_eager(name, jax_envs):
    env = jax_envs(name)
    rng = np.random.default_rng(0)
    eager = env.init_from_seed(7)
    jitted = jax.jit(env.init_from_seed)(7)
    batched = jax.jit(jax.vmap(env.init_from_seed))(jnp.arange(5, 9, dtype=jnp.uint32))
    step = jax.jit(env.step)
    vstep = jax.jit(jax.vmap(env.step))
    for t in range(6):
        a = int(rng.choice(np.flatnonzero(np.asarray(jitted.legal_action_mask))))
        jitted = step(jitted, a)
        legal = np.asarray(batched.legal_action_mask)
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in legal], dtype=np.int32)
        actions[2] = a  # batch element 2 started from seed 7 too
        batched = vstep(batched, jnp.asarray(actions))
        if t < 2:  # eager dispatches op by op: an othello step takes over 10 s on 2 cores
            eager = env.step(eager, a)
            # eager JAX runs op by op, jit fuses: float32 may differ in the last bits, integers never
            assert first_difference(jax_state_arrays(eager), jax_state_arrays(jitted), 1e-5) is None
        one = jax.tree_util.tree_map(lambda x: x[2], batched)
        assert first_difference(jax_state_arrays(jitted), jax_state_arrays(one)) is None, "jit(vmap) equals jit"


def test_illegal_action_ends_the_game_like_pgx(jax_envs):
    env = jax_envs("tictactoe")
    s = env.init_from_seed(3)
    mover = int(s.current_player)
    s = jax.jit(env.step)(s, 4)
    s = jax.jit(env.step)(s, 4)  # cell 4 is taken: illegal
    assert bool(s.terminated)
    expected = np.ones(2, np.float32)
    expected[1 - mover] = -1.0  # the second mover played the illegal action
    np.testing.assert_array_equal(np.asarray(s.rewards), expected)
    assert bool(jnp.all(s.legal_action_mask)), "the mask is all true on a terminated state, as in Pgx"
    after = jax.jit(env.step)(s, 0)
    np.testing.assert_array_equal(np.asarray(after.rewards), np.zeros(2, np.float32))
    assert np.array_equal(np.asarray(after._x["board"]), np.asarray(s._x["board"])), "a finished game does not change"


def test_step_autoreset_keeps_the_final_observation(jax_envs):
    env = jax_envs("tictactoe")
    s = env.init_from_seed(0)
    for a in (0, 3, 1, 4):
        s = env.step(s, a)
    nxt, rewards, terminated, truncated, final_obs = jax.jit(env.step_autoreset)(s, 2, jax.random.PRNGKey(1))
    assert bool(terminated) and not bool(truncated) and float(jnp.abs(rewards).sum()) == 2.0
    finished = env.step(s, 2)
    np.testing.assert_array_equal(np.asarray(final_obs), np.asarray(finished.observation))
    assert not bool(nxt.terminated) and int(nxt._step_count) == 0, "a new episode starts"
    seed = jax.random.bits(jax.random.PRNGKey(1), (), jnp.uint32)
    np.testing.assert_array_equal(np.asarray(nxt.current_player), np.asarray(env.init_from_seed(seed).current_player))
    by_seed = env.step_autoreset_from_seed(s, 2, seed)[0]
    assert first_difference(jax_state_arrays(by_seed), jax_state_arrays(nxt)) is None, "the key is its seed"


@pytest.mark.parametrize("name", ["tictactoe", "connect4"])
def test_step_autoreset_equals_step_then_a_selected_init(name, jax_envs):
    """`step_autoreset_from_seed` selects the fresh state before computing the mask and the
    observation (issue 18): every field equals `step`, then `init_from_seed` where the episode
    ended (the definition it replaced), over a batch of random games that end and restart."""
    env = jax_envs(name)
    batch = 64

    def reference(state, action, seed):
        nxt = env.step(state, action)
        done = nxt.terminated | nxt.truncated
        fresh = env.init_from_seed(seed)
        picked = jax.tree_util.tree_map(lambda f, n: jnp.where(done, f, n), fresh, nxt)
        return picked, nxt.rewards, nxt.terminated, nxt.truncated, nxt.observation

    got_fn = jax.jit(jax.vmap(env.step_autoreset_from_seed))
    ref_fn = jax.jit(jax.vmap(reference))
    act = jax.jit(jax.vmap(env.random_legal_action))
    state = jax.jit(jax.vmap(env.init_from_seed))(jnp.arange(batch, dtype=jnp.uint32))
    key = jax.random.PRNGKey(3)
    restarts = 0
    for t in range(60):
        key, k_act, k_seed = jax.random.split(key, 3)
        actions = act(jax.random.split(k_act, batch), state)
        seeds = jax.random.bits(k_seed, (batch,), jnp.uint32)
        got, want = got_fn(state, actions, seeds), ref_fn(state, actions, seeds)
        assert first_difference(jax_state_arrays(got[0]), jax_state_arrays(want[0])) is None, t
        for g, w in zip(got[1:], want[1:]):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
        restarts += int(np.asarray(got[2] | got[3]).sum())
        state = got[0]
    assert restarts > batch, "the games end and restart (the fresh states are compared too)"


def test_load_jax_removes_its_folder_at_exit():
    """`load_jax` writes the generated package to a temporary folder: it stays while the
    process runs and is gone after (earlier it was left behind, one folder per call)."""
    code = ("import os; from envc.compiler.check import load; from envc.verify import load_jax; "
            "m = load_jax(load('specs/tictactoe.envspec')); d = os.path.dirname(os.path.dirname(m.__file__)); "
            "print(d, os.path.isdir(d))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout.split()
    assert out[1] == "True" and "envc-jax-" in out[0]
    assert not Path(out[0]).exists()


def test_rollout_is_scan_fused_and_batched(jax_envs):
    env = jax_envs("connect4")
    state, rewards, done = jax.jit(env.rollout, static_argnums=(1, 2))(jax.random.PRNGKey(0), 50, 8)
    assert rewards.shape == (50, 8, 2) and done.shape == (50, 8)
    assert bool(done.any()), "50 random steps finish some connect-four games"
    # a zero-sum game: each finished episode pays +1 and -1
    np.testing.assert_array_equal(np.asarray(rewards.sum(axis=-1)), 0)


@pytest.mark.slow
@pytest.mark.parametrize("name,episodes,tolerance,max_steps", [
    ("tictactoe", 1000, 0.0, 1000), ("connect4", 300, 0.0, 1000), ("cartpole", 1000, 1e-3, 1000),
    ("othello", 20, 0.0, 1000),  # the interpreter takes about 8 ms per othello step
    # chaotic: a last-bit difference grows past 1e-3 after about 200 steps (first seen at
    # step 230 in 20 episodes), so trajectories are compared over their first 150 steps
    ("acrobot", 100, 1e-3, 150),
])
def test_verify_interpreter_against_jax(name, episodes, tolerance, max_steps, specs, jax_envs):
    """Integer specs are bit-identical. Cartpole's float32 physics agrees within 1e-3 (relative,
    absolute below 1): XLA folds constants and fuses multiply-adds, so results differ in the last
    bits (typically 1e-7), and the unstable pole dynamics grow that over long episodes."""
    report = verify(specs(name), ["python", "jax"], episodes=episodes, seed=0, float_tolerance=tolerance,
                    max_steps=max_steps, jax_env=jax_envs(name))
    assert report.faults == []
    assert [d.render() for d in report.divergences] == []
    assert report.episodes == episodes and report.level2_transitions > 0


def test_verify_reports_the_first_divergence(specs, broken_tictactoe):
    """A deliberately broken backend: placing on cell 4 also marks cell 8."""
    report = verify(specs("tictactoe"), ["python", "jax"], episodes=30, seed=0, jax_env=broken_tictactoe)
    assert report.divergences, "the broken backend must be caught"
    d = report.divergences[0]
    assert d.field.startswith("board[8]") or d.field in ("legal_action_mask[8]", "observation[2][2][0]",
                                                         "observation[2][2][1]")
    assert d.actions and d.actions[-1] == 4, "the reproducing actions end with the action that went wrong"
    assert "reproduce: init(seed=" in d.render()


def _long_chain_spec(n: int) -> str:
    """A spec whose action runs an `elif` chain of `n` conditions and a `match` of `n` arms."""
    members = ", ".join(f"m{k}" for k in range(n + 1))
    arms_if = "\n".join(f"    }} elif x == {k} {{\n        y = {(k * 7) % 11}" for k in range(1, n))
    arms_match = "\n".join(f"        m{k} => {{ z = {(k * 5) % 13} }}" for k in range(n))
    return f"""env chains "long elif and match chains"
players 1

enum Kind {{ {members} }}

state {{
    x: int[0..{n}] = 0
    y: int[0..10] = 0
    z: int[0..12] = 0
    kind: Kind = Kind.m0
}}

action pick(v: int[0..{n}], k: Kind) {{
    x = v
    kind = k
    if x == 0 {{
        y = 10
{arms_if}
    }} else {{
        y = 0
    }}
    match kind {{
{arms_match}
        _ => {{ z = 12 }}
    }}
}}

observe(p) -> int[0..{max(n, 12)}][3] {{
    return [x, y, z]
}}
"""


def test_long_elif_and_match_chains_compile_flat_and_match_the_interpreter(tmp_path):
    """An `elif` chain or `match` of 120 arms lowers to one level of branch functions (the
    nested form needed an indentation level per arm, and Python refused about a hundred)."""
    from envc.compiler.check import load
    from envc.verify import load_jax

    path = tmp_path / "chains.envspec"
    path.write_text(_long_chain_spec(120))
    module = load(str(path))
    env = load_jax(module)
    report = verify(module, ["python", "jax"], episodes=3, max_steps=40, level2_samples=5, jax_env=env)
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.level2_transitions > 0


def test_only_a_spec_with_lists_gets_the_list_helpers(specs):
    """The list helpers of the runtime are pasted only into the module of a spec with a list
    type (issue #15, item 6), and, like every helper, only when its code calls them
    (tests/test_golden.py checks that no pasted helper is unused and no name undefined). The
    runs of tictactoe and connect4 against the interpreter (above) show that nothing missing
    is called."""
    from envc.codegen.jax import generate, uses_lists

    for name, lists in (("tictactoe", False), ("connect4", False), ("tcg", True)):
        module = specs(name)
        assert uses_lists(module) is lists, name
        text = generate(module)["env.py"]
        assert [f"def {h}(" in text for h in ("_push", "_lget", "_shuffle", "_lcount")] == [lists] * 4, name
        assert "def _select(" in text  # the template's own (`TEMPLATE_HELPERS`)
        assert ("def _wide(" in text) is (name == "tcg"), name  # `count` over an array: tcg only


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_layout_changes_only_the_form(name, specs, monkeypatch):
    """Issue 15, item 6: the generated module is laid out by `ruff format`
    (`envc.codegen.jax.format_python`): no line is wider than 120 columns (docstrings wrapped
    by the lowering included), and the module's syntax tree is the one the lowering wrote,
    so the program JAX traces is the same."""
    import ast

    import envc.codegen.jax as backend

    module = specs(name)
    laid_out = backend.generate(module)["env.py"]
    monkeypatch.setattr(backend, "format_python", lambda text: text)
    written = backend.generate(module)["env.py"]
    assert laid_out != written  # (the lowering's own lines are wider: the layout did something)
    wide = [line for line in laid_out.splitlines() if len(line) > backend.LINE_LENGTH]
    assert not wide, wide[:3]
    assert ast.dump(ast.parse(laid_out)) == ast.dump(ast.parse(written))


def test_layout_errors_are_envc_bugs():
    """Source that does not parse (only a bug in the lowering could write it) is a RuntimeError
    naming ruff's complaint, not a silent pass-through."""
    from envc.codegen.jax import format_python

    with pytest.raises(RuntimeError, match="ruff format refused"):
        format_python("def f(:\n    pass\n")


def test_layout_keeps_a_docstring_exact():
    """ruff normalizes whitespace inside docstrings; where that would change a string from a
    spec (trailing spaces, a line that is not indented), the module keeps the lowering's layout."""
    from envc.codegen.jax import format_python

    source = 'def f(x):\n    """invariant `ok`: a message   \nwith a line at column 0"""\n    return [x,\n  x]\n'
    assert format_python(source) == source
    assert format_python("def f(x):\n    return [x,\n  x]\n") == "def f(x):\n    return [x, x]\n"


STOPPING_LOOPS = """env stops "a while and a loop with break, stopping at different iterations per environment"
players 1
turn_limit 8

state {
    a: int[0..9][40] = 0
    x: int[0..40] = 0
    found: int[-1..39] = -1
}

init { for i in 0..40 { a[i] = random.int(0, 9) } }

action go(t: int[0..9]) {
    x = 0
    while x < 40 and a[x] != t max 40 { x = min(x + 1, 40) }
    found = -1
    for i in 0..40 {
        if a[i] == 9 - t {
            found = i
            break
        }
    }
}

observe(p) -> int[-1..40][2] { return [x, found] }
"""


def test_while_and_break_loops_stop_early_and_match_the_interpreter(tmp_path):
    """A `while` (and a loop with `break`) is a `lax.while_loop` that stops once its flag is down,
    not a `fori_loop` that runs its bound out (probe4's Minesweeper flood fill: 2,400 to 10,400
    SPS); under `vmap` each environment stops at its own iteration and keeps its values."""
    from envc.codegen import jax as jax_backend
    from envc.compiler.check import load
    from envc.verify import load_jax

    path = tmp_path / "stops.envspec"
    path.write_text(STOPPING_LOOPS)
    module = load(str(path))
    source = jax_backend.generate(module)["env.py"]
    assert source.count("lax.while_loop(") == 2 and "lax.fori_loop(0, 41" not in source
    env = load_jax(module)
    report = verify(module, ["python", "jax"], episodes=20, jax_env=env)
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.level2_transitions > 0


def test_contains_and_count_compare_whole_items():
    """`contains`/`count` on a list of records or of arrays compare whole items, as the
    interpreter does (a fresh spec: JAX raised on a list of records, compared cell by cell on a
    list of arrays, and could not broadcast when the capacity differed from the array's length).
    Scripted hits, then random play against the interpreter."""
    import jax.numpy as jnp

    from envc.compiler.check import load
    from envc.compiler.interp import Interpreter
    from envc.verify import load_jax

    module = load(str(ROOT / "tests" / "specs" / "list_match.envspec"))
    space, it, env = ActionSpace(module), Interpreter(module), load_jax(module)
    moves = [space.encode("add", r=1, s=0), space.encode("add", r=2, s=1), space.encode("add", r=2, s=1),
             space.encode("pair", a=1), space.encode("pair", a=1), space.encode("pair", a=0), space.encode("look"),
             space.encode("drop")]
    s, j = it.init(0), env.init_from_seed(jnp.uint32(0))
    seen = []
    for a in moves:
        s, j = it.step(s, a), env.step(j, jnp.int32(a))
        assert np.asarray(j.observation).tolist() == list(s.observation), a
        seen.append(list(s.observation))
    assert seen[4][2:] == [0, 2, 0] and seen[6] == [1, 2, 1, 2, 2] and seen[7][:2] == [0, 2]  # (hits counted, misses not)
    report = verify(module, ["python", "jax"], episodes=20, max_steps=12, jax_env=env)
    assert report.ok, [d.render() for d in report.divergences] + report.faults


def test_float_min_max_follow_the_interpreter():
    """Float `min`/`max`/`clamp` and their reductions give Python's results, which depend on the
    order of the arguments where one is NaN or both are zeros of different signs (a fresh spec:
    JAX's `jnp.minimum` propagated the NaN, `min(1.0, nan)` was 1.0 in the interpreter and Rust,
    nan in JAX). Expected values by hand, bit for bit, on the interpreter and JAX."""
    import jax.numpy as jnp

    from envc.compiler.check import load
    from envc.compiler.interp import Interpreter
    from envc.verify import load_jax

    module = load(str(ROOT / "tests" / "specs" / "float_order.envspec"))
    nan = float("nan")
    # v = [3, nan, 1, -0, 0]; a reduction skips a NaN after its first item, and keeps the
    # first of equal items (so the sign of the first zero)
    want = np.array([1.0, nan, 2.0, nan, nan, 0.0, -0.0, -0.0, -0.0, 3.0, nan, 3.0, 0.0], np.float32)
    s = Interpreter(module).step(Interpreter(module).init(0), 0)
    env = load_jax(module)
    j = env.step(env.init_from_seed(jnp.uint32(0)), jnp.int32(0))
    for got in (np.asarray(s.observation, np.float32), np.asarray(j.observation)):
        assert np.array_equal(got, want, equal_nan=True), got
        numbers = ~np.isnan(want)
        assert np.array_equal(np.signbit(got[numbers]), np.signbit(want[numbers])), got
