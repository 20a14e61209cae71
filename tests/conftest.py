"""Shared fixtures: checked specs and generated JAX modules, built once per test session
(JIT compilation is slow on CI's 2 cores, so compiled functions are shared)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The generated crates build with `lto = "fat"` and `codegen-units = 1` (their Cargo.toml: the
# fastest code, for benchmarks and users). The suite builds 58 crates, and on CI's 2 cores
# fat LTO is most of each build (tictactoe: 22 s against 9 s without it). LTO and codegen units
# change how the code is optimised, not what it computes (no fast-math in Rust, integer overflow
# behaves as in any release build), so the tests build without them, through cargo's own profile
# variables; a variable already set wins.
os.environ.setdefault("CARGO_PROFILE_RELEASE_LTO", "off")
os.environ.setdefault("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")

# A pytest-xdist worker starts with COLUMNS=80 (and LINES) in its environment, and rich's
# consoles (`envc.cli.out`, created at import) fix their width from COLUMNS when they are made:
# every CLI test's output would wrap at 80 columns whatever width it asks for (`CliRunner(...,
# env={"COLUMNS": "200"})`). Without them, a console reads COLUMNS when it prints.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

SPEC_NAMES = sorted(p.stem for p in (ROOT / "specs").glob("*.envspec"))


@pytest.fixture(scope="session")
def specs():
    """name -> checked IR module of every shipped spec (loaded lazily, once)."""
    from envc.compiler.check import load

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = load(str(ROOT / "specs" / f"{name}.envspec"))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def jax_envs(specs):
    """name -> imported generated JAX module of a shipped spec (generated once)."""
    from envc.verify import load_jax

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = load_jax(specs(name))
        return cache[name]

    return get


def _primitive_counts(jaxpr) -> Counter:
    """How many equations of each primitive (by name) a traced program holds, its sub-programs
    (`cond` branches, loop bodies, `jit` calls) included."""
    counts: Counter = Counter()
    for eqn in jaxpr.eqns:
        counts[eqn.primitive.name] += 1
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    counts += _primitive_counts(inner)
    return counts


@pytest.fixture(scope="session")
def jaxpr_primitives():
    """`primitives(jaxpr) -> set[str]`: the primitive names of a traced program (`make_jaxpr(f)(...).jaxpr`),
    sub-programs included."""
    return lambda jaxpr: set(_primitive_counts(jaxpr))


@pytest.fixture(scope="session")
def jaxpr_primitive_counts():
    """`counts(jaxpr) -> Counter`: how many equations of each primitive a traced program holds,
    sub-programs included."""
    return _primitive_counts


def _bench_script(name: str):
    """The module of script `bench/<name>.py`, imported with bench/ first on `sys.path` (the
    scripts import one another by bare name)."""
    import importlib.util
    import sys

    bench = str(Path(__file__).resolve().parent.parent / "bench")
    sys.path.insert(0, bench)
    try:
        spec = importlib.util.spec_from_file_location(name, os.path.join(bench, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(bench)


@pytest.fixture(scope="session")
def bench_script():
    """`load(name)`: the module of the benchmark script `bench/<name>.py`, for tests of its
    readings (no benchmark is run)."""
    return _bench_script


@pytest.fixture
def broken_tictactoe(jax_envs):
    """The generated tictactoe JAX module, deliberately broken: placing on cell 4 also marks
    cell 8 (pass it as `verify(..., jax_env=broken_tictactoe)`); mended after the test."""
    import jax.numpy as jnp

    env = jax_envs("tictactoe")

    class Broken:
        def __getattr__(self, name):
            return getattr(env, name)

    original = env.env.a_place

    def broken_place(st, index):
        st = original(st, index)
        st["board"] = jnp.where(index == 4, st["board"].at[8].set(st["board"][4]), st["board"])
        return st

    env.env.a_place = broken_place
    try:
        yield Broken()
    finally:
        env.env.a_place = original


@pytest.fixture
def fake_model(monkeypatch):
    """The scripted OpenAI-compatible server (`envc.llm_fill.scripted.ScriptedModel`) on
    127.0.0.1, with a dummy key, litellm's local price table and no proxy in the way."""
    from envc.llm_fill.scripted import ScriptedModel

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with ScriptedModel() as fake:
        yield fake


def play_same_games(a, b, episodes: int, max_steps: int = 300, public_only: bool = False, count=None) -> int:
    """Play `episodes` seeded random games on two interpreters (`Interpreter` of two versions of
    one spec: a pass on and off) with the same actions, asserting after every step that their
    states are equal (`envc.verify.first_difference`). `public_only`: leave out the frames of
    paused bodies (`_envc_at_*`, `_envc_frame_*`), whose layout depends on the passes.
    `count(action) -> bool`: which actions to count (default all). Returns the count."""
    import numpy as np

    from envc.compiler.passes.choice_points import PREFIX
    from envc.verify import first_difference, to_arrays

    def arrays(it, s) -> dict:
        out = to_arrays(it.module, s)
        if not public_only:
            return out
        return {k: v for k, v in out.items() if not k.startswith((f"{PREFIX}at_", f"{PREFIX}frame_"))}

    counted = 0
    for seed in range(episodes):
        rng = np.random.default_rng(seed)
        sa, sb = a.init(seed), b.init(seed)
        for step in range(max_steps):
            assert first_difference(arrays(a, sa), arrays(b, sb)) is None, (seed, step)
            if sa.terminated or sa.truncated:
                break
            action = int(rng.choice(np.flatnonzero(sa.legal_action_mask)))
            counted += count(action) if count is not None else 1
            sa, sb = a.step(sa, action), b.step(sb, action)
    return counted


def assert_same_pytrees(a, b) -> None:
    """Pytrees `a` and `b` equal: the same structure, and each leaf the same dtype and values
    (the failure names the leaf's path)."""
    import jax
    import numpy as np

    paths_a, tree_a = jax.tree_util.tree_flatten_with_path(a)
    paths_b, tree_b = jax.tree_util.tree_flatten_with_path(b)
    assert tree_a == tree_b
    for (path, x), (_, y) in zip(paths_a, paths_b):
        name = jax.tree_util.keystr(path)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=name)


@pytest.fixture(scope="session")
def same_pytrees():
    """`assert_same_pytrees` (above), for tests that compare two generated programs' outputs."""
    return assert_same_pytrees


@pytest.fixture(scope="session")
def same_games():
    """`play_same_games` (above), for tests that compare two versions of a spec game by game."""
    return play_same_games


# The files that take longest (worker seconds in a cold run on 2 cores, `bash scripts/test.sh
# --durations=60`, 2026-12-02: test_llm_fill_tcg 1,454, test_jax_backend 1,016, test_constructs
# 919, test_tcg 741, test_examples 725, test_jax_adapters 629, test_run 436, test_llm_fill 324,
# of 8,101 in all) run first, so that the two workers end together rather than one finishing
# test_examples' PPO run alone (scripts/test.sh keeps this order: `--no-loadscope-reorder`).
SLOW_FIRST = ["test_llm_fill_tcg.py", "test_jax_backend.py", "test_constructs.py", "test_tcg.py",
              "test_examples.py", "test_jax_adapters.py", "test_run.py", "test_llm_fill.py"]


def pytest_collection_modifyitems(config, items):
    """The slowest files first (a stable sort: the rest keep their order)."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))
