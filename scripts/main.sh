#!/usr/bin/env bash
# The main job on a fresh machine (issue 4): set up envc in .venv, check the shipped specs,
# compile Pokémon TCG Pocket (specs/tcg.envspec, real card
# data) to JAX, and play 100,000 random legal games in batches of 4,096: win rates per
# match-up, mean game length, draws, SPS and the JIT compile time.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[jax]'
.venv/bin/envc check specs/tictactoe.envspec specs/connect4.envspec specs/cartpole.envspec specs/tcg.envspec
.venv/bin/envc compile specs/tcg.envspec --target jax -o build/tcg
.venv/bin/envc run specs/tcg.envspec --target jax --batch 4096 --episodes 100000
