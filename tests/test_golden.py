"""Golden files: the generated code of every shipped spec, byte for byte.

`tests/golden/<spec>/<target>/<file>` holds the expected output of
`envc compile specs/<spec>.envspec --target <target>` (file names may hold folders:
`rust/src/env.rs`). A missing golden fails; after an
intended change to a backend, rewrite them with `ENVC_BLESS=1 pytest tests/test_golden.py`
and review the diff. Generation must be deterministic: two runs give the same bytes.
"""

from __future__ import annotations

import os
import shutil
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
