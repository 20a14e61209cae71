#!/usr/bin/env bash
# The main job on a fresh machine: set up envc in .venv, check the shipped specs, play random
# games on the reference interpreter, compile them to JAX and verify that JAX plays the same
# games. (The TCG main job of issue 4 will replace this once specs/tcg.envspec exists.)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[jax]'
.venv/bin/envc check specs/tictactoe.envspec specs/connect4.envspec specs/cartpole.envspec
.venv/bin/envc run specs/connect4.envspec --episodes 200 --seed 0
.venv/bin/envc run specs/tictactoe.envspec --episodes 1000 --seed 0
.venv/bin/envc compile specs/connect4.envspec --target jax -o build/connect4
.venv/bin/envc verify specs/connect4.envspec --targets python,jax --episodes 300
.venv/bin/envc verify specs/cartpole.envspec --targets python,jax --episodes 300 --float-tolerance 1e-3
