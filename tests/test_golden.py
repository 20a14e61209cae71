"""Golden files: the generated code of every shipped spec, byte for byte.

`tests/golden/<spec>/<target>/<file>` holds the expected output of
`envc compile specs/<spec>.envspec --target <target>` (file names may hold folders:
`rust/src/env.rs`). A missing golden fails; after an
intended change to a backend, rewrite them with `ENVC_BLESS=1 pytest tests/test_golden.py`
and review the diff. Generation must be deterministic: two runs give the same bytes.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envc.codegen import jax as jax_backend
from envc.codegen import rust as rust_backend
from envc.compiler.check import load

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(p.stem for p in (ROOT / "specs").glob("*.envspec"))
TARGETS = {"jax": jax_backend.generate, "rust": rust_backend.generate}


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("spec", SPECS)
def test_generated_code_matches_golden(spec, target, monkeypatch):
    monkeypatch.chdir(ROOT)
    module = load(f"specs/{spec}.envspec")
    files = TARGETS[target](module)
    assert files == TARGETS[target](load(f"specs/{spec}.envspec")), "generation is not deterministic"
    golden_dir = ROOT / "tests" / "golden" / spec / target
    if os.environ.get("ENVC_BLESS"):
        shutil.rmtree(golden_dir, ignore_errors=True)
        for name, text in files.items():
            (golden_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (golden_dir / name).write_text(text, encoding="utf-8")
    expected = sorted(p.relative_to(golden_dir).as_posix() for p in golden_dir.rglob("*") if p.is_file()) \
        if golden_dir.exists() else []
    assert expected == sorted(files), (
        f"golden files for {spec}/{target} are missing or differ in names: have {expected}, generated "
        f"{sorted(files)}; run `ENVC_BLESS=1 pytest tests/test_golden.py` and review the diff")
    for name, text in files.items():
        golden = (golden_dir / name).read_text(encoding="utf-8")
        assert text == golden, f"{spec}/{target}/{name} differs from its golden; re-bless if the change is intended"


def _runtime_helpers() -> set[str]:
    """The names of the functions of codegen/jax/runtime.py (what a generated module may paste)."""
    source = (ROOT / "codegen" / "jax" / "runtime.py").read_text(encoding="utf-8")
    return {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("spec", SPECS)
def test_generated_jax_pastes_only_the_runtime_helpers_it_calls(spec):
    """Issue 15, item 6: the generated module holds the runtime helpers its code calls, and no
    other (each pasted helper is read somewhere outside its own definition)."""
    tree = ast.parse((ROOT / "tests" / "golden" / spec / "jax" / "env.py").read_text(encoding="utf-8"))
    pasted = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in _runtime_helpers()}
    assert pasted, "no runtime helper found: the test reads the wrong file"
    outside = {name: set() for name in pasted}
    for top in tree.body:
        for node in ast.walk(top):
            if isinstance(node, ast.Name) and node.id in pasted and node.id != getattr(top, "name", None):
                outside[node.id].add(node.lineno)
    unused = sorted(name for name, lines in outside.items() if not lines)
    assert not unused, f"{spec}: runtime helpers pasted but never called: {unused}"


@pytest.mark.parametrize("spec", SPECS)
def test_generated_jax_has_no_undefined_name(spec):
    """Pasting fewer helpers must not leave a call without its helper: pyflakes' undefined-name
    check (ruff F821) on the generated module finds none; neither do Python locals read before
    they are bound in a branch function (F821/F823)."""
    _assert_no_undefined_name(ROOT / "tests" / "golden" / spec / "jax" / "env.py")


def _assert_no_undefined_name(path: Path) -> None:
    """ruff's undefined-name checks (F821, F823) find nothing in the Python file `path`."""
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F821,F823",
                          "--output-format", "concise", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


TEST_SPECS = sorted(p.stem for p in (ROOT / "tests" / "specs").glob("*.envspec"))


@pytest.mark.parametrize("spec", TEST_SPECS)
def test_generated_jax_of_every_test_spec_has_no_undefined_name(spec, tmp_path, monkeypatch):
    """The same check on the generated module of every spec in tests/specs (no golden kept):
    a temporary bound inside a comprehension's function but read where the function is
    mapped (CI, stop 27: `one_hot` inside `concat`, `arrays.envspec`) is found here, without
    tracing the module."""
    monkeypatch.chdir(ROOT)
    path = tmp_path / "env.py"
    path.write_text(jax_backend.generate(load(f"tests/specs/{spec}.envspec"))["env.py"], encoding="utf-8")
    _assert_no_undefined_name(path)
