#!/usr/bin/env bash
# The house rules a tool can keep (CONTRIBUTING.md): `ruff check` with the rule selection in
# pyproject.toml ([tool.ruff.lint]: errors, import order, bugbear, complexity <= 10, docstrings
# on public functions, no bare top-level imports), then mypy on the product packages
# (scripts/typecheck.py, options in [tool.mypy]). CI runs it through scripts/test.sh, before
# pytest; a finding of either fails CI.
# Extra arguments go to ruff (e.g. `bash scripts/lint.sh --statistics`, `--fix` for the safe
# fixes). Never `ruff format`: the code is not reformatted wholesale.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
# The ruff pin lives in one place, the `test` extra of pyproject.toml.
# The ruff and mypy pins live in one place, the `test` extra of pyproject.toml.
pin() {
    .venv/bin/python - "$1" <<'PY'
import sys
import tomllib
with open("pyproject.toml", "rb") as fh:
    test = tomllib.load(fh)["project"]["optional-dependencies"]["test"]
print(next(r for r in test if r.startswith(sys.argv[1])))
PY
}
.venv/bin/python -m pip install -q "$(pin ruff)" "$(pin mypy)"
# Generated goldens (tests/golden/) are excluded in pyproject.toml; generated packages are
# written outside the tree or into ignored folders, which ruff skips (.gitignore).
.venv/bin/ruff check "$@" dsl compiler codegen llm_fill envc tests bench scripts examples
# mypy sees the package-dir mapping through a link tree in build/typecheck (the script says why).
exec .venv/bin/python scripts/typecheck.py
