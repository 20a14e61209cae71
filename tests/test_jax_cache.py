"""JAX's persistent compilation cache (envc/jax_cache.py and the generated modules' copy of the
rule): where it goes, how it is moved or turned off, and that a program's own choice wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
