"""The type check's plumbing (scripts/typecheck.py) and the typed IR accessors it led to.

mypy itself runs in CI through scripts/lint.sh; these tests check what that run relies on:
the link tree mirrors the package-dir mapping of pyproject.toml (every installed module is
checked, under its `envc.*` name) and reported paths map back to the source files.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from envc.compiler import ir

ROOT = Path(__file__).resolve().parent.parent


def _typecheck_script():
    spec = importlib.util.spec_from_file_location("envc_typecheck_script", ROOT / "scripts" / "typecheck.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_link_tree_mirrors_the_package_dir_mapping(tmp_path):
    tc = _typecheck_script()
    packages = tc.package_dirs(ROOT / "pyproject.toml")
    assert packages["envc.compiler"] == ROOT / "compiler"
    assert packages["envc.compiler.passes"] == ROOT / "compiler" / "passes"
    assert packages["envc.codegen.jax"] == ROOT / "codegen" / "jax"
    links = tc.build_tree(packages, tmp_path)
    assert links["envc/compiler/check.py"] == "compiler/check.py"
    assert links["envc/cli.py"] == "envc/cli.py"
    # every module of every installed package is in the tree, as a link to its source
    sources = {str(p.relative_to(ROOT)) for src in packages.values() for p in src.glob("*.py")}
    assert set(links.values()) == sources
    for linked, source in links.items():
        assert (tmp_path / linked).resolve() == (ROOT / source).resolve()
    # a rebuild starts afresh (a deleted module does not linger in the tree)
    (tmp_path / "envc" / "stale.py").write_text("x = 1\n", encoding="utf-8")
    tc.build_tree(packages, tmp_path)
    assert not (tmp_path / "envc" / "stale.py").exists()


def test_typed_type_accessors():
    i = ir.IntT(lo=0, hi=3)
    arr = ir.ArrayT(elem=i, size=2)
    assert ir.elem_of(arr) == i
    assert ir.elem_of(ir.ListT(elem=ir.BOOL, cap=4)) == ir.BOOL
    assert ir.int_of(i) is i
    with pytest.raises(TypeError):
        ir.elem_of(i)
    with pytest.raises(TypeError):
        ir.int_of(arr)
