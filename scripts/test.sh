#!/usr/bin/env bash
# The test suite on a fresh machine: set up envc with its test extras in .venv, lint
# (scripts/lint.sh: a finding fails the run before pytest starts), run pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k pgx`).
#
# pytest runs on $ENVC_TEST_WORKERS processes (pytest-xdist; default 2, CI's cores; 0 runs in
# this process, e.g. for `--pdb`). Each test file stays on one worker (`--dist loadfile`, the
# slowest files first: tests/conftest.py SLOW_FIRST), so a module's fixtures (checked specs,
# compiled JAX functions) are built once; what workers share on disk is locked or written
# atomically (the Rust build cache, cargo's target folder, JAX's compilation cache).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
bash scripts/lint.sh
workers="${ENVC_TEST_WORKERS:-2}"
if [ "$workers" = "0" ]; then
    exec .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python -m pytest -n "$workers" --dist loadfile --no-loadscope-reorder "$@"
