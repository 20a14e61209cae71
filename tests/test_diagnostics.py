"""File tests for diagnostics: one small spec per error code, beside its expected output.

Every `tests/diagnostics/<CODE>_<slug>.envspec` must fail to load with a `DiagnosticError`
whose first diagnostic has code `<CODE>` (the file-name prefix), and
`render_all(diagnostics)` must equal `tests/diagnostics/<CODE>_<slug>.err` exactly. A spec
that reads a fill file has `<CODE>_<slug>.fills` beside it; data files live in
`tests/diagnostics/data/`. Specs are loaded by their path relative to the repository root
(with the working directory there), so the paths in the rendered output are stable.

A missing `.err` file fails the test. To write or rewrite the expected files after an
intended change of wording, run

    ENVC_BLESS=1 pytest tests/test_diagnostics.py

and review the diff (`git diff tests/diagnostics/`) before committing it.

Also checked: every code in `ERROR_CODES` has at least one file, every `.err` has its spec,
and the real command line (`python -m envc.cli check FILE`) exits 1 and prints the same
rendering on stderr, without a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from envc.compiler.check import load
from envc.compiler.diagnostics import ERROR_CODES, DiagnosticError, render_all

ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = ROOT / "tests" / "diagnostics"
BLESS = os.environ.get("ENVC_BLESS") == "1"
NAME = re.compile(r"^(E\d{4})_[a-z0-9_]+$")

#: Codes of ERROR_CODES that no input can trigger (none at present): exempt from the coverage test.
UNEMITTABLE: set[str] = set()

SPECS = sorted(p.relative_to(ROOT).as_posix() for p in CASES_DIR.glob("*.envspec"))


def _code_of(rel: str) -> str:
    stem = Path(rel).stem
    m = NAME.match(stem)
    assert m, f"{rel}: a diagnostics file is named `<CODE>_<slug>.envspec` (lowercase slug)"
    return m.group(1)


def _render(rel: str) -> tuple[list, str]:
    try:
        load(rel)
    except DiagnosticError as e:
        return e.diagnostics, render_all(e.diagnostics)
    pytest.fail(f"{rel}: loaded without error, expected {_code_of(rel)}")


@pytest.mark.parametrize("rel", SPECS)
def test_diagnostic_file(rel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code = _code_of(rel)
    assert code in ERROR_CODES, f"{rel}: {code} is not in ERROR_CODES"
    diags, rendered = _render(rel)
    assert diags[0].code == code, f"{rel}: first diagnostic is {diags[0].code}, expected {code}\n{rendered}"
    expected_path = ROOT / Path(rel).with_suffix(".err")
    if BLESS:
        if not expected_path.exists() or expected_path.read_text(encoding="utf-8") != rendered:
            expected_path.write_text(rendered, encoding="utf-8")
        return
    assert expected_path.exists(), (
        f"{expected_path.relative_to(ROOT)} is missing; write it with ENVC_BLESS=1 and review it. Got:\n{rendered}"
    )
    assert rendered == expected_path.read_text(encoding="utf-8")


def test_every_error_code_has_a_file() -> None:
    covered = {_code_of(rel) for rel in SPECS}
    missing = sorted(set(ERROR_CODES) - UNEMITTABLE - covered)
    assert not missing, f"no file in tests/diagnostics/ for {', '.join(missing)}"
    unknown = sorted(covered - set(ERROR_CODES))
    assert not unknown, f"files for codes not in ERROR_CODES: {', '.join(unknown)}"


def test_every_err_file_has_its_spec() -> None:
    orphans = sorted(p.name for p in CASES_DIR.glob("*.err") if not p.with_suffix(".envspec").exists())
    assert not orphans, f"expected-output files without a spec: {', '.join(orphans)}"


@pytest.mark.parametrize(
    "rel",
    [
        "tests/diagnostics/E0002_semicolon.envspec",  # parser
        "tests/diagnostics/E0120_overflow.envspec",  # checker
        "tests/diagnostics/E0162_stale_fill.envspec",  # checker with a fill file
    ],
)
def test_cli_check_prints_the_diagnostics(rel: str) -> None:
    expected = (ROOT / Path(rel).with_suffix(".err")).read_text(encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "ENVC_DEBUG"}
    proc = subprocess.run(
        [sys.executable, "-m", "envc.cli", "check", rel],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, f"exit code {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.stderr == expected


def test_comparisons_and_list_types_parse() -> None:
    """`a > b` once lexed its `>` as the closing bracket of `list<T, N>` and never parsed."""
    from envc.dsl.parser import parse

    parse(
        "state { xs: list<int[0..3], 4>  ys: list<bool, N>[2]  zs: list<int[0..1], (N * 2)> }\n"
        "fn f(a: int[0..3], b: int[0..3]) -> bool { if a > b { return a < b } return (a) > b }\n",
        "<test>",
    )
