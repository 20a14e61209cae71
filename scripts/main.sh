#!/usr/bin/env bash
# The main job on a fresh machine: set up envc in .venv and play random games.
# Until the JAX backend lands this runs the reference interpreter on the shipped specs.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/envc check specs/tictactoe.envspec specs/connect4.envspec
.venv/bin/envc run specs/connect4.envspec --episodes 200 --seed 0
.venv/bin/envc run specs/tictactoe.envspec --episodes 1000 --seed 0
