"""JAX's persistent compilation cache (envc/jax_cache.py and the generated modules' copy of the
rule): where it goes, how it is moved or turned off, and that a program's own choice wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envc import jax_cache

ROOT = Path(__file__).resolve().parent.parent


def test_folder_rule(monkeypatch, tmp_path):
    monkeypatch.delenv("ENVC_JAX_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert jax_cache.folder() == str(tmp_path / "envc" / "jax")
    monkeypatch.setenv("ENVC_JAX_CACHE", str(tmp_path / "elsewhere"))
    assert jax_cache.folder() == str(tmp_path / "elsewhere")
    assert jax_cache.folder(str(tmp_path / "option")) == str(tmp_path / "option"), "the option wins"
    for off in ("off", "0", "OFF", "none"):
        assert jax_cache.folder(off) is None
    monkeypatch.setenv("ENVC_JAX_CACHE", "off")
    assert jax_cache.folder() is None


def _imported_cache_dir(env: dict, preset: str | None = None) -> str | None:
    """`jax_compilation_cache_dir` after importing a generated module in a fresh process."""
    code = ("import json, jax\n"
            + (f"jax.config.update('jax_compilation_cache_dir', {preset!r})\n" if preset else "")
            + "from envc.compiler.check import load\nfrom envc.verify import load_jax\n"
            "load_jax(load('specs/tictactoe.envspec'))\n"
            "print(json.dumps(jax.config.jax_compilation_cache_dir))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={**os.environ, **env}).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_generated_module_turns_the_cache_on(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path), "ENVC_JAX_CACHE": ""}
    assert _imported_cache_dir(env) == str(tmp_path / "envc" / "jax")
    assert _imported_cache_dir({"ENVC_JAX_CACHE": str(tmp_path / "moved")}) == str(tmp_path / "moved")
    assert _imported_cache_dir({"ENVC_JAX_CACHE": "off"}) is None
    assert _imported_cache_dir({"ENVC_JAX_CACHE": ""}, preset=str(tmp_path / "mine")) == str(tmp_path / "mine")
    (tmp_path / "a_file").write_text("not a folder")
    assert _imported_cache_dir({"ENVC_JAX_CACHE": str(tmp_path / "a_file")}) is None, "a file is no cache"


def test_a_cache_folder_that_cannot_be_used_is_said_once(tmp_path, monkeypatch):
    """`--jax-cache` naming a file is E0180 before any work; the same path from ENVC_JAX_CACHE
    turns the cache off with one warning (JAX warned at each compile, envc at each stored
    program: a hunt)."""
    from typer.testing import CliRunner

    from envc.cli import app

    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    result = CliRunner().invoke(app, ["run", str(ROOT / "specs" / "tictactoe.envspec"), "--target", "jax",
                                      "--episodes", "2", "--batch", "2", "--jax-cache", str(blocked)])
    assert result.exit_code == 1
    assert "error[E0180]: `--jax-cache" in result.output and "cannot hold JAX's compilation cache: it is a file" \
        in result.output, result.output
    monkeypatch.setenv("ENVC_JAX_CACHE", str(blocked))
    with pytest.warns(UserWarning, match="compilation cache is off: .* cannot hold it \\(it is a file\\)"):
        assert jax_cache.enable() is None
    assert os.environ["ENVC_JAX_CACHE"] == "off"


# ------------------------------------------------------------------ exported programs (compile_cached)

@pytest.fixture(scope="module")
def tictactoe_env():
    from envc.compiler.check import load
    from envc.verify import load_jax

    return load_jax(load(str(ROOT / "specs" / "tictactoe.envspec")))


def _leaves_equal(a, b) -> bool:
    import jax
    import numpy as np

    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


def test_exported_program_is_reused_and_equal(tictactoe_env, tmp_path):
    import jax

    env, key = tictactoe_env, jax.random.PRNGKey(3)
    expected = jax.jit(lambda k: env.rollout(k, 16, 8))(key)
    first = jax_cache.compile_cached(lambda k: env.rollout(k, 16, 8), key, env=env, folder=str(tmp_path))
    assert first.cache == "miss"
    files = list((tmp_path / jax_cache.EXPORT_FOLDER).iterdir())
    assert len(files) == 1 and files[0].suffix == ".exported"
    again = jax_cache.compile_cached(lambda k: env.rollout(k, 16, 8), key, env=env, folder=str(tmp_path))
    assert again.cache == "hit"
    for program in (first, again):
        out = program.run(key)
        assert type(out[0]) is env.State, "the state comes back as the generated package's State"
        assert _leaves_equal(out, expected)


def test_exported_program_key_covers_code_constants_and_shapes(tictactoe_env, tmp_path):
    import jax

    env, key, where = tictactoe_env, jax.random.PRNGKey(0), str(tmp_path)
    assert jax_cache.compile_cached(lambda k: env.rollout(k, 16, 8), key, env=env, folder=where).cache == "miss"
    steps = 17  # a closed-over number is part of the key
    assert jax_cache.compile_cached(lambda k: env.rollout(k, steps, 8), key, env=env, folder=where).cache == "miss"
    assert jax_cache.compile_cached(lambda k: env.rollout(k, steps, 8), key, env=env, folder=where).cache == "hit"
    # other code with the same constants
    assert jax_cache.compile_cached(lambda k: env.rollout(k, 16, 8)[1], key, env=env, folder=where).cache == "miss"
    # the caller's key
    assert jax_cache.compile_cached(lambda k: env.rollout(k, 16, 8), key, env=env, folder=where,
                                    key=("other",)).cache == "miss"
    # the arguments' shapes
    keys = jax.random.split(key, 2)
    program = jax_cache.compile_cached(lambda ks: jax.vmap(env.init)(ks), keys, env=env, folder=where)
    assert program.cache == "miss"
    bigger = jax.random.split(key, 3)
    assert jax_cache.compile_cached(lambda ks: jax.vmap(env.init)(ks), bigger, env=env, folder=where).cache == "miss"
    assert len(list((tmp_path / jax_cache.EXPORT_FOLDER).iterdir())) == 6


def test_a_partial_is_keyed_by_its_function_and_what_it_binds(tictactoe_env, tmp_path):
    """`envc bench --no-observations` times `partial(rollout, observations=False)`: a partial
    was an unkeyable value (its repr names an address), so the program was never stored."""
    import functools

    import jax

    env, key, where = tictactoe_env, jax.random.PRNGKey(6), str(tmp_path)

    def run(observations: bool):
        bare = functools.partial(env.rollout, observations=observations)
        return jax_cache.compile_cached(lambda k: bare(k, 8, 4), key, env=env, folder=where)

    first = run(False)
    assert first.cache == "miss"
    assert run(False).cache == "hit"
    other = run(True)
    assert other.cache == "miss", "another bound value is another program"
    assert _leaves_equal(first.run(key), jax.jit(lambda k: env.rollout(k, 8, 4, observations=False))(key))
    assert _leaves_equal(other.run(key), jax.jit(lambda k: env.rollout(k, 8, 4))(key))


def test_unreadable_exported_program_is_a_miss(tictactoe_env, tmp_path):
    import jax

    env, key = tictactoe_env, jax.random.PRNGKey(1)
    expected = jax.jit(lambda k: env.rollout(k, 8, 4))(key)
    jax_cache.compile_cached(lambda k: env.rollout(k, 8, 4), key, env=env, folder=str(tmp_path))
    (path,) = (tmp_path / jax_cache.EXPORT_FOLDER).iterdir()
    path.write_bytes(b"not a program")
    with pytest.warns(UserWarning, match="unreadable exported program"):
        program = jax_cache.compile_cached(lambda k: env.rollout(k, 8, 4), key, env=env, folder=str(tmp_path))
    assert program.cache == "miss", "recompiled and rewritten"
    assert _leaves_equal(program.run(key), expected)
    assert jax_cache.compile_cached(lambda k: env.rollout(k, 8, 4), key, env=env, folder=str(tmp_path)).cache == "hit"


def test_exported_program_off_without_a_folder(tictactoe_env):
    import jax

    env, key = tictactoe_env, jax.random.PRNGKey(2)
    previous = jax.config.values["jax_compilation_cache_dir"]
    jax.config.update("jax_compilation_cache_dir", None)
    try:
        program = jax_cache.compile_cached(lambda k: env.rollout(k, 8, 4), key, env=env)
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)
    assert program.cache.startswith("off:")
    assert _leaves_equal(program.run(key), jax.jit(lambda k: env.rollout(k, 8, 4))(key))


def test_cached_jit_compiles_once_per_shape_and_reads_back(tictactoe_env, tmp_path):
    import jax

    env = tictactoe_env
    init = jax_cache.cached_jit(jax.vmap(env.init), env=env, folder=str(tmp_path))
    two, three = jax.random.split(jax.random.PRNGKey(5), 2), jax.random.split(jax.random.PRNGKey(6), 3)
    for keys in (two, three, two):
        assert _leaves_equal(init(keys), jax.jit(jax.vmap(env.init))(keys))
    assert init.caches == ["miss", "miss"], "one program per shape, the third call reuses the first"
    again = jax_cache.cached_jit(jax.vmap(env.init), env=env, folder=str(tmp_path))
    assert _leaves_equal(again(three), init(three)) and again.caches == ["hit"]
    # another function of the same arguments is another program (vmap's wrapped function is followed)
    observe = jax_cache.cached_jit(jax.vmap(lambda k: env.init(k).observation), env=env, folder=str(tmp_path))
    assert _leaves_equal(observe(two), init(two).observation) and observe.caches == ["miss"]


def test_unkeyable_closure_compiles_the_usual_way(tictactoe_env, tmp_path):
    import jax

    class Opaque:  # its repr is an address: nothing the key could hold
        steps = 8

    env, opaque, key = tictactoe_env, Opaque(), jax.random.PRNGKey(4)
    program = jax_cache.compile_cached(lambda k: env.rollout(k, opaque.steps, 4), key, env=env, folder=str(tmp_path))
    assert program.cache.startswith("off: the function closes over a `")
    assert _leaves_equal(program.run(key), jax.jit(lambda k: env.rollout(k, 8, 4))(key))
    assert not (tmp_path / jax_cache.EXPORT_FOLDER).exists()


def test_envc_run_reads_its_programs_back_in_a_new_process(tmp_path):
    """The key holds nothing particular to a process (the generated package's random import
    name, addresses): the second `envc run` reads both programs the first one stored."""
    command = [sys.executable, "-m", "envc.cli", "run", "specs/tictactoe.envspec", "--target", "jax",
               "--episodes", "8", "--batch", "4", "--jax-cache", str(tmp_path)]
    # a wide console: the cache line names tmp_path, whose length varies (pytest-9 or pytest-20),
    # and a wrapped piece of it would be one more line in one run's output than in the other's
    wide = {**os.environ, "COLUMNS": "1000"}
    outputs = [subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True, env=wide).stdout
               for _ in range(2)]
    assert "programs traced and stored" in outputs[0]
    assert "programs read back from an earlier run" in outputs[1], outputs[1]
    assert len(list((tmp_path / jax_cache.EXPORT_FOLDER).iterdir())) == 2  # the start and the chunk
    results = [[line for line in out.splitlines() if not any(w in line for w in ("SPS", "JIT compile", "programs"))]
               for out in outputs]
    assert results[0] == results[1], "the same episodes"


def test_identical_generated_code_is_one_module_per_process(tictactoe_env):
    """`load_jax` of the same spec again returns the module it imported (one `State` class, so
    its exported programs stay usable); other code is another module."""
    from envc.compiler.check import load
    from envc.verify import load_jax

    assert load_jax(load(str(ROOT / "specs" / "tictactoe.envspec"))) is tictactoe_env
    assert load_jax(load(str(ROOT / "specs" / "connect4.envspec"))) is not tictactoe_env


def test_a_folder_that_cannot_be_written_is_a_warning(tictactoe_env, tmp_path):
    import jax

    env, key = tictactoe_env, jax.random.PRNGKey(7)
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    with pytest.warns(UserWarning, match="could not store the exported program"):
        program = jax_cache.compile_cached(lambda k: env.rollout(k, 8, 4), key, env=env, folder=str(blocked))
    assert program.cache == "miss"
    assert _leaves_equal(program.run(key), jax.jit(lambda k: env.rollout(k, 8, 4))(key))


def test_a_patched_function_of_the_package_is_another_program(tictactoe_env, tmp_path):
    """The key follows the generated package's functions through its globals: patching one
    (as tests/conftest.py's broken_tictactoe does) is another program, never the stored one."""
    import jax

    env, key, where = tictactoe_env, jax.random.PRNGKey(8), str(tmp_path)
    steps = jax.random.randint(key, (4,), 0, 9)
    states = jax.vmap(env.init)(jax.random.split(key, 4))
    assert jax_cache.compile_cached(jax.vmap(env.step), states, steps, env=env, folder=where).cache == "miss"
    original = env.env.a_place
    env.env.a_place = lambda st, index: original(st, 0 * index)  # always places on cell 0
    try:
        patched = jax_cache.compile_cached(jax.vmap(env.step), states, steps, env=env, folder=where)
        assert patched.cache == "miss"
        assert _leaves_equal(patched.run(states, steps), jax.jit(jax.vmap(env.step))(states, steps))
    finally:
        env.env.a_place = original
    assert jax_cache.compile_cached(jax.vmap(env.step), states, steps, env=env, folder=where).cache == "hit"
