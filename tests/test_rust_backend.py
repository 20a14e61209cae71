"""The Rust backend: generated crates really built (cargo + maturin, release) and checked
against the reference interpreter, bit for bit.

Each spec's crate is built at most once per test session (`rust_envs`, through
`envc.verify.load_rust`, which also caches wheels on disk by content hash), in one shared
cargo target folder so that pyo3, numpy and rayon compile once. Building is slow on CI's
2 cores (about 40s for the dependencies, 15-30s per spec), hence `slow` on the tests that
need a build. Benchmarks live in `bench/rust_bench.py`, never here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from envc.codegen.rust import generate, package_name
from envc.codegen.rust.lower import Lowering, f32_lit
from envc.compiler import ir, rng
from envc.compiler.check import load
from envc.compiler.interp import Interpreter, SpecRuntimeError
from envc.verify import first_difference, load_rust, to_arrays, verify

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATHS = {
    "tictactoe": ROOT / "specs" / "tictactoe.envspec",
    "connect4": ROOT / "specs" / "connect4.envspec",
    "kitchen_sink": ROOT / "tests" / "specs" / "kitchen_sink.envspec",
    "cartpole": ROOT / "specs" / "cartpole.envspec",
    "othello": ROOT / "specs" / "othello.envspec",
    "acrobot": ROOT / "specs" / "acrobot.envspec",
    "scoping": ROOT / "tests" / "specs" / "scoping.envspec",
    "tcg": ROOT / "specs" / "tcg.envspec",
    "edge": None,  # EDGE_SPEC, written to a temporary folder
}


# Corner cases the shipped specs do not reach: negative floor division and modulo, float
# min/max/clamp/abs/sqrt/floor, composite values converted between storage types (`int[0..1000][3]`
# from `[1, 2, 3]`), records with defaults and arrays inside lists, `contains` on records and
# arrays, insert/remove_at/pop/draw/clear, enum and bool parameters, `illegal_action error`,
# `and`/`or` whose right side would read past a list's end once the left side decides.
EDGE_SPEC = """\
env edge "corner cases of the Rust lowering"
players 2
turn_limit 30
illegal_action error

enum Color { red, green, blue }
record Slot {
    color: Color = Color.green
    level: int[-20..20]
    marks: int[0..300][2]
}

state {
    x: int[-60..60] = -7
    y: int[-60..60] = 5
    f: float32 = 1.5
    g: float32[3] = -0.25
    slots: list<Slot, 4>
    wide: int[0..1000][3]
    pairs: list<int[0..9][2], 3>
    flag: bool = true
}

init {
    slots.push(Slot(level: -3, marks: [1, 299]))
    slots.push(Slot(color: Color.blue, level: 7, marks: [0, 2]))
    let xs: int[0..1000][3] = [1, 2, 3]
    wide = xs
    pairs.push([random.int(0, 9), random.int(0, 9)])
}

fn halves(v: int[-63..63]) -> int[-60..60][2] {
    return [clamp(v / 3, -60, 60), clamp(v % -4, -60, 60)]
}

action shift(d: int[-3..3], up: bool) when d != 0 {
    let h = halves(x - d)
    x = clamp(h[0] * 2 + h[1] + (if up then 1 else -1), -60, 60)
    y = clamp(y / -2 + x % 7 - (-x) % 5 + int(flag), -60, 60)
    f = clamp(f / 3.0 - float(d) * 0.1 + floor(f * 0.5), -100.0, 100.0)
    g[0] = max(g[0], f, -f)
    g[1] = min(g[1] * 1.5, sqrt(abs(f) + 1.0))
    g[2] = min(g[i] for i in 0..2) - max(g[i] for i in 0..3)
    flag = not flag and up or d > 1
    current_player = 1 - current_player
}

action shuffle_slots(c: Color) when len(slots) >= 2 {
    slots.shuffle()
    if slots.contains(Slot(color: c, level: 7, marks: [0, 2])) {
        reward(current_player, 0.5)
    }
    if len(slots) < 4 {
        slots.insert(1, Slot(color: c, level: clamp(x / 4, -20, 20), marks: [min(wide[0], 300), min(wide[2], 300)]))
    } else {
        slots.remove_at(2)
        slots.pop()
    }
    current_player = 1 - current_player
}

action pairs_op(k: int[0..2]) {
    if k == 0 and len(pairs) < 3 {
        pairs.push([random.int(0, 9), k])
    } elif k == 1 and len(pairs) > 0 {
        pairs.draw()
    } elif k == 2 {
        pairs.clear()
    }
    if pairs.contains([1, 1]) or count(pairs.contains([i, 0]) for i in 0..10) > 1 {
        terminate()
    }
    wide[k] = min(wide[k] + (if len(pairs) > 0 then pairs[0][1] else 0) + len(pairs) * 100, 1000)
    // the right side is skipped once the left decides: no read past the list's end
    if len(pairs) > k and any(pairs[k][j] == 9 for j in 0..2) {
        reward(current_player, 0.25)
    }
    flag = len(pairs) <= k or pairs[k][1] != 7
    current_player = 1 - current_player
}
observe(p) -> int[-60..60][3] { return [x, y, len(slots)] }
"""


@pytest.fixture(scope="session")
def rust_modules(tmp_path_factory):
    """name -> checked IR module (loaded once)."""
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            path = SPEC_PATHS[name]
            if path is None:
                path = tmp_path_factory.mktemp("specs") / f"{name}.envspec"
                path.write_text(EDGE_SPEC, encoding="utf-8")
            if not path.exists():
                pytest.skip(f"{path.name} is not in this checkout")
            cache[name] = load(str(path))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def rust_envs(rust_modules):
    """name -> the imported generated package of a spec (built once per session)."""
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = load_rust(rust_modules(name))
        return cache[name]

    return get


# ------------------------------------------------------------------ no build needed


@pytest.mark.parametrize("kind", ir.EXPR_KINDS)
def test_the_lowering_handles_every_expression(kind):
    assert callable(getattr(Lowering, "x_" + kind, None)), f"the Rust lowering has no x_{kind}"


@pytest.mark.parametrize("kind", ir.STMT_KINDS)
def test_the_lowering_handles_every_statement(kind):
    assert callable(getattr(Lowering, "s_" + kind, None)), f"the Rust lowering has no s_{kind}"


def test_generated_crate_layout(rust_modules):
    files = generate(rust_modules("kitchen_sink"))
    pkg = package_name(rust_modules("kitchen_sink"))
    assert sorted(files) == sorted(["Cargo.toml", "pyproject.toml", "README.md", "src/lib.rs", "src/env.rs",
                                    "src/runtime.rs", f"python/{pkg}/__init__.py", f"python/{pkg}/gym.py"])
    cargo, env = files["Cargo.toml"], files["src/env.rs"]
    assert 'features = ["extension-module", "abi3-py311"]' in cargo and "numpy" in cargo and "rayon" in cargo
    assert 'build-backend = "maturin"' in files["pyproject.toml"]
    # narrowest storage types, lists inline, records as structs
    assert "pub f_tally: i16," in env and "pub f_scores: [i8; 2]," in env
    assert "pub f_deck: List<RecCard, 24>," in env and "pub f_hands: [List<RecCard, 5>; 2]," in env
    assert "Vec<" not in env and "Box<" not in env, "the environment itself never allocates"


def test_float32_literals_are_exact():
    for v in [0.1, 1.0, -2.5, 1e-8, 3.4028234663852886e38, 16777216.0, 0.20943951, 1 / 3]:
        code = f32_lit(v).strip("()").removesuffix("f32")
        assert np.float32(float(code)) == np.float32(v), (v, code)


def test_build_settings_are_part_of_the_cache_key(monkeypatch):
    """A package the suite built without LTO (conftest's cargo profile variables) is never the
    one a benchmark loads later: the settings are part of `load`'s cache key."""
    from envc.codegen.rust import build

    files = {"src/lib.rs": "fn main() {}"}
    monkeypatch.setenv("CARGO_PROFILE_RELEASE_LTO", "off")
    monkeypatch.setenv("CARGO_TARGET_DIR", "/somewhere")
    test_build = build._digest(files)
    monkeypatch.setenv("CARGO_TARGET_DIR", "/elsewhere")
    assert build._digest(files) == test_build, "where cargo builds changes no code"
    monkeypatch.delenv("CARGO_PROFILE_RELEASE_LTO")
    assert build._digest(files) != test_build
    monkeypatch.setenv("RUSTFLAGS", "-C target-cpu=native")
    assert "RUSTFLAGS" in build.build_settings() and "CARGO_TARGET_DIR" not in build.build_settings()
    assert build._digest(files) != test_build


def test_compile_command_writes_a_crate(tmp_path):
    from typer.testing import CliRunner

    from envc.cli import app

    result = CliRunner().invoke(app, ["compile", str(SPEC_PATHS["tictactoe"]), "--target", "rust",
                                      "-o", str(tmp_path / "ttt")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ttt" / "Cargo.toml").exists()
    assert (tmp_path / "ttt" / "python" / "envc_tictactoe" / "gym.py").exists()


def test_build_errors_name_the_spec_statement(tmp_path):
    from envc.codegen.rust.build import explain_failure

    src = tmp_path / "src"
    src.mkdir()
    (src / "env.rs").write_text("fn a_place() {\n    // @ tictactoe.envspec:23:5\n    let x: i8 = true;\n}\n")
    output = "error[E0308]: mismatched types\n --> src/env.rs:3:17\n  |\n"
    report = explain_failure(tmp_path, output)
    assert "bug in envc" in report and "generated from tictactoe.envspec:23:5" in report


# ------------------------------------------------------------------ built crates


@pytest.mark.slow
@pytest.mark.parametrize("name,episodes,tolerance,max_steps", [
    ("tictactoe", 1000, 0.0, 1000),
    ("connect4", 300, 0.0, 1000),
    ("kitchen_sink", 300, 0.0, 1000),  # lists, records, tables, enums, floats: exact too
    ("edge", 300, 0.0, 1000),
    ("scoping", 50, 0.0, 1000),  # lexical scopes: shadowing lets, loop and generator variables
    # float32 sin/cos: Rust's f32 methods and numpy's SIMD routines differ in the last bit,
    # which the pole's unstable dynamics grow over long episodes (as for the JAX backend)
    ("cartpole", 300, 1e-3, 1000),
    ("othello", 20, 0.0, 1000),  # the interpreter takes about 8 ms per othello step
    # chaotic: trajectories are compared over their first 150 steps (as for the JAX backend)
    ("acrobot", 100, 1e-3, 150),
])
def test_verify_interpreter_against_rust(name, episodes, tolerance, max_steps, rust_modules, rust_envs):
    report = verify(rust_modules(name), ["python", "rust"], episodes=episodes, seed=0, float_tolerance=tolerance,
                    max_steps=max_steps, level2_samples=40, rust_env=rust_envs(name))
    assert report.faults == []
    assert [d.render() for d in report.divergences] == []
    assert report.episodes == episodes and report.level2_transitions > 0


@pytest.mark.slow
def test_verify_tcg_against_rust(rust_modules, rust_envs, monkeypatch):
    """The TCG Pocket spec (issue 6): tables with array columns, 3-level state arrays,
    whole sub-array assignment, table rows from `random.int`, hole-family dispatch through
    the effect tables, draws inside loops and ifs. 20 seeded whole games (about 120 steps
    each), bit for bit, and level 2 from sampled states.

    The interpreter's own invariant evaluation (level 1) is switched off here: it is two
    thirds of the test's time (the card-conservation invariant is heavy in Python) and
    checks the spec, not this backend; the invariants are still evaluated on every reached
    state, by the Rust code, on states equal to the interpreter's."""
    monkeypatch.setattr(Interpreter, "invariant_violations", lambda self, state: [])
    m = rust_modules("tcg")
    report = verify(m, ["python", "rust"], episodes=20, seed=0, level2_samples=20, rust_env=rust_envs("tcg"))
    assert report.faults == []
    assert [d.render() for d in report.divergences] == []
    assert report.episodes == 20 and report.steps > 20 * 30 and report.level2_transitions > 0
    # the batch class on the same spec: observations and masks of a few steps equal the interpreter's
    pkg, it = rust_envs("tcg"), Interpreter(m)
    env = pkg.VecEnv(4, threads=2, autoreset=False, seed=7)
    states = [it.init(7 + i) for i in range(4)]
    for t in range(12):
        actions = env.sample_actions(t).copy()
        env.step(actions)
        states = [it.step(st, int(a)) for st, a in zip(states, actions)]
        for i, st in enumerate(states):
            np.testing.assert_array_equal(env.obs[i], np.asarray(st.observation, env.obs.dtype))
            np.testing.assert_array_equal(env.mask[i], np.asarray(st.legal_action_mask))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tictactoe", "kitchen_sink"])
def test_batch_shapes_and_dtypes(name, rust_modules, rust_envs):
    m, pkg = rust_modules(name), rust_envs(name)
    n = 5
    env = pkg.VecEnv(n, threads=2, seed=3)
    it = Interpreter(m)
    assert pkg.NUM_ACTIONS == it.num_actions and pkg.NUM_PLAYERS == m.num_players
    assert env.num_envs == n and len(env) == n and env.threads == 2 and env.autoreset
    dims = []
    t = m.observe.type
    while isinstance(t, ir.ArrayT):
        dims.append(t.size)
        t = t.elem
    assert pkg.OBSERVATION_SHAPE == tuple(dims)
    assert env.obs.shape == (n, *dims) and env.obs.dtype == np.dtype(pkg.OBSERVATION_DTYPE)
    assert env.final_obs.shape == env.obs.shape
    assert env.mask.shape == (n, it.num_actions) and env.mask.dtype == np.bool_
    assert env.rewards.shape == (n, m.num_players) and env.rewards.dtype == np.float32
    assert env.terminated.dtype == np.bool_ and env.truncated.dtype == np.bool_ and env.terminated.shape == (n,)
    assert env.current_player.dtype == np.int32
    obs_before = env.obs
    env.step(env.sample_actions(0))
    assert env.obs is obs_before, "outputs are written in place: the same array every call"
    # the state export has the interpreter's layout and narrowest dtypes, leaf by leaf
    ours, theirs = to_arrays(m, it.init(3)), pkg.VecEnv(1, seed=3).get_state(0)
    assert first_difference(ours, theirs) is None

    def dtypes(tree, path=""):
        if isinstance(tree, dict):
            return {k: v for key in tree for k, v in dtypes(tree[key], f"{path}.{key}").items()}
        return {path: np.asarray(tree).dtype}

    assert dtypes(ours) == dtypes(theirs)
    batched = env.get_states()
    assert batched["current_player"].shape == (n,) and batched["_rng_key"].dtype == np.uint32


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tictactoe", "tcg"])
def test_sample_actions_picks_the_drawn_legal_action(name, rust_envs):
    """`sample_actions(t)` gives environment i the `bits % n`-th of its n legal actions (index
    order; 0 when none is legal), `bits` the first draw under `seed_key(t + i)`: replayed here
    in Python on the batch's own masks. The TCG's 140 actions span three 64-bit words of the
    packed mask (`pick_legal`), tictactoe's 9 one."""
    pkg = rust_envs(name)
    n = 64
    env = pkg.VecEnv(n, threads=1, seed=3)
    for t in range(40):
        actions = env.sample_actions(t)
        for i in range(n):
            legal = np.flatnonzero(env.mask[i])
            r = rng.bits(rng.seed_key(t + i), 0) % max(len(legal), 1)
            assert actions[i] == (legal[r] if len(legal) else 0), (t, i, legal.tolist())
        env.step(actions)


@pytest.mark.slow
def test_thread_counts_give_identical_results(rust_envs):
    pkg = rust_envs("kitchen_sink")
    n = 300  # above the size where the pool is used
    one, two = pkg.VecEnv(n, threads=1, seed=11), pkg.VecEnv(n, threads=2, seed=11)
    for t in range(60):
        a = one.sample_actions(t)
        np.testing.assert_array_equal(a, two.sample_actions(t))
        one.step(a)
        two.step(a)
        for name in ("obs", "final_obs", "mask", "rewards", "terminated", "truncated", "current_player"):
            np.testing.assert_array_equal(getattr(one, name), getattr(two, name), err_msg=name)
    assert first_difference(one.get_states(), two.get_states()) is None


@pytest.mark.slow
def test_without_observations_only_the_observations_are_skipped(rust_envs):
    """`VecEnv(..., observations=False)`: every output but `obs`/`final_obs` (never written,
    still zeros) and every state field but `observation` equal a batch with observations;
    `observe(i, player)` still evaluates the spec on demand."""
    pkg = rust_envs("kitchen_sink")
    n = 40
    on, off = pkg.VecEnv(n, threads=1, seed=5), pkg.VecEnv(n, threads=1, seed=5, observations=False)
    assert off.observations is False and "observations=False" in repr(off)
    for t in range(50):
        a = on.sample_actions(t)
        np.testing.assert_array_equal(a, off.sample_actions(t))
        on.step(a)
        off.step(a)
        for name in ("mask", "rewards", "terminated", "truncated", "current_player"):
            np.testing.assert_array_equal(getattr(on, name), getattr(off, name), err_msg=name)
    assert not np.any(off.obs) and not np.any(off.final_obs)
    assert np.any(on.obs), "the spec's observations are not all zero: the comparison above can fail"
    for i in range(n):
        ours, theirs = on.get_state(i), off.get_state(i)
        ours.pop("observation")
        theirs.pop("observation")
        assert first_difference(ours, theirs) is None
        player = int(on.current_player[i])
        np.testing.assert_array_equal(np.asarray(off.observe(i, player)), on.obs[i])


@pytest.mark.slow
def test_autoreset_follows_step_autoreset(rust_modules, rust_envs):
    """Against the interpreter: the step's rewards/flags and final observation, then a new
    episode from seed (previous seed + num_envs) at once."""
    m, pkg = rust_modules("tictactoe"), rust_envs("tictactoe")
    it = Interpreter(m)
    n, seed = 16, 100
    env = pkg.VecEnv(n, threads=1, autoreset=True, seed=seed)
    seeds = [seed + i for i in range(n)]
    states = [it.init(s) for s in seeds]
    resets = 0
    for t in range(40):
        actions = env.sample_actions(t).copy()
        env.step(actions)
        for i in range(n):
            nxt = it.step(states[i], int(actions[i]))
            np.testing.assert_array_equal(env.rewards[i], np.asarray(nxt.rewards, np.float32))
            assert env.terminated[i] == nxt.terminated and env.truncated[i] == nxt.truncated
            np.testing.assert_array_equal(env.final_obs[i], np.asarray(nxt.observation))
            if nxt.terminated or nxt.truncated:
                seeds[i] += n
                nxt = it.init(seeds[i])
                resets += 1
            states[i] = nxt
            np.testing.assert_array_equal(env.obs[i], np.asarray(nxt.observation))
            np.testing.assert_array_equal(env.mask[i], np.asarray(nxt.legal_action_mask))
            assert env.current_player[i] == nxt.current_player
    assert resets > n, "tic-tac-toe games end within 9 moves: every env reset several times"
    np.testing.assert_array_equal(env.seeds, np.asarray(seeds, np.uint32))


@pytest.mark.slow
def test_terminal_and_illegal_action_rules(rust_envs):
    pkg = rust_envs("tictactoe")
    env = pkg.VecEnv(1, autoreset=False, seed=3)
    mover = int(env.current_player[0])
    env.step([4])
    env.step([4])  # cell 4 is taken: the second mover loses
    assert env.terminated[0]
    expected = np.ones(2, np.float32)
    expected[1 - mover] = -1.0
    np.testing.assert_array_equal(env.rewards[0], expected)
    assert env.mask[0].all(), "the mask is all true on a terminated state, as in Pgx"
    board = env.get_state(0)["board"].copy()
    env.step([0])
    np.testing.assert_array_equal(env.rewards[0], np.zeros(2, np.float32))
    np.testing.assert_array_equal(env.get_state(0)["board"], board)
    env.step([9])  # outside the space: an illegal action, on a finished game nothing changes
    np.testing.assert_array_equal(env.rewards[0], np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="actions for"):
        env.step([0, 1])


@pytest.mark.slow
def test_illegal_action_error_mode(rust_modules, rust_envs):
    m, pkg = rust_modules("edge"), rust_envs("edge")
    it = Interpreter(m)
    s = it.init(0)
    illegal = int(np.flatnonzero(~np.asarray(s.legal_action_mask))[0])  # shift(d=0, ...)
    with pytest.raises(SpecRuntimeError, match="illegal action") as err:
        it.step(s, illegal)
    assert str(err.value).startswith("illegal action shift(d=")  # by name (issue #15), not a number
    env = pkg.VecEnv(1, autoreset=False, seed=0)
    with pytest.raises(pkg.SpecRuntimeError, match="^" + re.escape(f"env 0: {err.value}") + "$"):
        env.step([illegal])


@pytest.mark.slow
def test_runtime_faults_match_the_interpreter(rust_modules, rust_envs):
    """An injected state whose mask allows `play(slot=0)` with an empty hand: both the
    interpreter and Rust raise a fault at the same spec location."""
    m, pkg = rust_modules("kitchen_sink"), rust_envs("kitchen_sink")
    it = Interpreter(m)
    s = it.init(0)
    s.fields["hands"][s.current_player] = []
    s.legal_action_mask[0] = True
    with pytest.raises(SpecRuntimeError) as interp_err:
        it.step(s, 0)
    env = pkg.VecEnv(1, autoreset=False)
    env.set_state(0, to_arrays(m, s))
    with pytest.raises(pkg.SpecRuntimeError) as rust_err:
        env.step([0])
    span = interp_err.value.span
    assert f"{Path(span.file).name}:{span.line}:{span.col}: " in str(rust_err.value)
    assert "index 0 is past the end of a list of length 0" in str(rust_err.value)


@pytest.mark.slow
def test_set_state_injects_and_observe_evaluates(rust_modules, rust_envs):
    m, pkg = rust_modules("kitchen_sink"), rust_envs("kitchen_sink")
    it = Interpreter(m)
    s = it.init(5)
    for _ in range(6):
        s = it.step(s, int(np.flatnonzero(s.legal_action_mask)[0]))
    env = pkg.VecEnv(2, autoreset=False)
    env.set_state(1, to_arrays(m, s))
    assert first_difference(to_arrays(m, s), env.get_state(1)) is None
    np.testing.assert_array_equal(env.mask[1], np.asarray(s.legal_action_mask))
    for p in range(m.num_players):
        np.testing.assert_array_equal(env.observe(1, p), np.asarray(it.observe(s, p), np.int8))
    assert env.invariants(1) == {inv.name: True for inv in m.invariants}
    bad = to_arrays(m, s)
    bad["deck"]["len"] = np.int32(99)
    with pytest.raises(ValueError, match="outside 0..24"):
        env.set_state(0, bad)
    # slots past a list's length are zeroed, whatever the caller gave there (they were kept:
    # Rust's `==` and `contains` on records holding lists then disagreed with the interpreter)
    padded = to_arrays(m, s)
    n = int(padded["deck"]["len"])
    assert n < 24
    padded["deck"]["items"]["rank"][n:] = 1  # (a record's field: in range)
    env.set_state(0, padded)
    assert not env.get_state(0)["deck"]["items"]["rank"][n:].any()
    assert first_difference(to_arrays(m, s), env.get_state(0)) is None


@pytest.mark.slow
def test_verify_reports_a_broken_backend(rust_modules, rust_envs):
    """A deliberately broken export: once cell 4 is taken, cell 8 reads as cell 4."""
    pkg = rust_envs("tictactoe")

    class BrokenVecEnv:
        def __init__(self, *args, **kwargs):
            self._env = pkg.VecEnv(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(self._env, name)

        def get_state(self, i):
            st = self._env.get_state(i)
            if st["board"][4] != -1:
                st["board"][8] = st["board"][4]
            return st

    class Broken:
        VecEnv = BrokenVecEnv
        SpecRuntimeError = pkg.SpecRuntimeError

    report = verify(rust_modules("tictactoe"), ["python", "rust"], episodes=30, seed=0, rust_env=Broken())
    assert report.divergences, "the broken backend must be caught"
    d = report.divergences[0]
    assert d.target == "rust" and d.level == 3 and d.field == "board[8]"
    assert "reproduce: init(seed=" in d.render()


@pytest.mark.slow
def test_gymnasium_vector_env_adapter(rust_envs):
    gymnasium = pytest.importorskip("gymnasium")
    pkg = rust_envs("tictactoe")
    envs = pkg.GymVectorEnv(8, threads=1, seed=0)
    assert isinstance(envs, gymnasium.vector.VectorEnv)
    assert envs.single_action_space.n == 9 and envs.single_observation_space.shape == (3, 3, 2)
    obs, info = envs.reset(seed=0)
    assert obs.shape == (8, 3, 3, 2) and info["action_mask"].shape == (8, 9)
    assert envs.observation_space.contains(obs.copy())
    finished = 0
    for _ in range(30):
        mask = info["action_mask"]
        actions = np.array([np.flatnonzero(row)[0] for row in mask])
        obs, reward, terminated, truncated, info = envs.step(actions)
        assert reward.shape == (8,) and info["rewards"].shape == (8, 2)
        done = terminated | truncated
        finished += int(done.sum())
        # the mover's reward: a finished game pays the mover +1 (a win) or 0 (a draw), never -1
        assert np.all(reward[done] >= 0)
        np.testing.assert_array_equal(info["_final_obs"], done)
    assert finished > 0
    envs.close()


def test_corners_fresh_specs_broke_on_rust():
    """tests/specs/rust_edges.envspec, the corners a fresh spec broke (a helper's hunt): the
    crate did not build where a `contains`/`count` argument can fault or calls a `fn` (its `?`
    inside the closure) or where the observation holds a list (its length, u32, into the int32
    buffer); `i32::MIN % -1` panicked (0 in the interpreter); and the interpreter found a NaN in
    a list that held that same NaN object (Python's `in` takes identity for equality); Rust
    counted `xs.count(xs.pop())` in a copy of `xs` taken before the pop, and read `xs[xs.draw()]`
    in a copy taken before the draw. The
    interpreter, JAX and Rust agree on random play, and the NaN is never found."""
    m = load(str(ROOT / "tests" / "specs" / "rust_edges.envspec"))
    it = Interpreter(m)
    nan = it.actions.encode("nan")
    s = it.step(it.step(it.init(0), nan), nan)
    assert (s.fields["nan_found"], s.fields["nan_counted"]) == (False, 0)
    report = verify(m, ["python", "jax", "rust"], episodes=30, seed=0)
    assert report.ok, [d.render() for d in report.divergences] + report.faults + report.spec_faults
    assert not report.spec_faults
    # its observation is a record: the adapters that keep observations in one array refuse it
    # with a message (PettingZoo's api_test failed on the dict, an opponent at the first end)
    with pytest.raises(TypeError, match="needs an array observation"):
        load_rust(m).AECEnv()
    # GymEnv steps it, its observation env 0's row of every leaf (KeyError: 0 on the list, a hunt)
    gym = load_rust(m).GymEnv()
    obs, info = gym.reset(seed=0)
    put = it.actions.encode("put", v=2)
    obs, *_ = gym.step(put)
    ours = it.observe(it.step(it.init(0), put), 0)
    assert obs["xs"]["len"] == len(ours["xs"]) == 1 and obs["xs"]["items"][0] == ours["xs"][0] == 2
    assert obs["m"] == ours["m"]


def test_a_long_else_if_chain_builds_flat_and_its_scalar_observation_is_an_array(tmp_path):
    """An `if ... then ... else if ...` expression of 700 arms (far inside the language's
    1,000-level nesting) nested one Rust block per arm, and rustc's parser overflowed its
    stack (a hunt); the chain is now one labeled block, each arm after the other. Its arms read
    a list (a statement with a fault check each), so the chain needs statements; the crate
    builds and plays as the interpreter does."""
    arms = " else ".join(f"if step_count == {k} then xs[{k % 3}] + {k % 5}" for k in range(700))
    spec = tmp_path / "chain.envspec"
    spec.write_text('env chain "a long else-if chain"\nplayers 1\nturn_limit 30\n'
                    "state {\n    xs: list<int[0..9], 3>\n    n: int[0..20] = 0\n}\n"
                    "init {\n    for k in 0..3 {\n        xs.push(random.int(0, 9))\n    }\n}\n"
                    f"action go() {{\n    n = {arms} else 0\n}}\n"
                    "observe(p) -> int[0..20] { return n }\n", encoding="utf-8")
    m = load(str(spec))
    report = verify(m, ["python", "rust"], episodes=3, seed=0)
    assert report.ok, [d.render() for d in report.divergences] + report.faults + report.spec_faults
    assert report.steps == 90
    # its observation is a scalar: GymEnv hands a 0-d array, as its Box space and the JAX adapter
    # do (a NumPy scalar made Gymnasium's `Box.contains` warn at every call: a hunt)
    gym = load_rust(m).GymEnv()
    obs, _ = gym.reset(seed=0)
    stepped = gym.step(0)[0]
    assert all(isinstance(o, np.ndarray) and o.shape == () for o in (obs, stepped)), (type(obs), type(stepped))
    assert gym.observation_space.contains(stepped)
