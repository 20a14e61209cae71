#!/usr/bin/env bash
# The house rules a tool can keep (CONTRIBUTING.md): `ruff check` with the rule selection in
# pyproject.toml ([tool.ruff.lint]: errors, import order, bugbear, complexity <= 10, docstrings
# on public functions, no bare top-level imports). CI runs it through scripts/test.sh, before
# pytest; a finding fails CI.
# Extra arguments go to ruff (e.g. `bash scripts/lint.sh --statistics`, `--fix` for the safe
# fixes). Never `ruff format`: the code is not reformatted wholesale.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
# The ruff pin lives in one place, the `test` extra of pyproject.toml.
ruff_req=$(.venv/bin/python - <<'PY'
import tomllib
with open("pyproject.toml", "rb") as fh:
    test = tomllib.load(fh)["project"]["optional-dependencies"]["test"]
print(next(r for r in test if r.startswith("ruff")))
PY
)
.venv/bin/python -m pip install -q "$ruff_req"
# Generated goldens (tests/golden/) are excluded in pyproject.toml; generated packages are
# written outside the tree or into ignored folders, which ruff skips (.gitignore).
exec .venv/bin/ruff check "$@" dsl compiler codegen llm_fill envc tests bench scripts examples
