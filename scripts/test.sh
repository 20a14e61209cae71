#!/usr/bin/env bash
# The test suite on a fresh machine: set up envc with its test extras in .venv, lint
# (scripts/lint.sh: a finding fails the run before pytest starts), run pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k pgx`).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
bash scripts/lint.sh
exec .venv/bin/python -m pytest "$@"
