"""The training examples at a small size (what CI can afford on 2 cores); full-size figures and
their commands are in bench/RESULTS.md ("Train on it")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _run(args: list[str], timeout: int) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_ppo_tcg_small(tmp_path):
    """200 PPO updates (8 envs x 16 steps) on the TCG against random play; the report has the
    training SPS, the environment's share of the time, per-deck win rates of the trained and of
    a random policy, and policy transfer to the interpreter, Rust and JAX (identical games)."""
    out = _run(["examples/ppo_tcg.py", "--updates", "200", "--updates-per-call", "100", "--num-envs", "8",
                "--num-steps", "16", "--eval-episodes", "100", "--verify-episodes", "4",
                "--out", str(tmp_path / "params.msgpack")], timeout=3000)
    assert "agent SPS" in out and "time in the environment" in out
    assert out.count("| all |") == 2, "the trained policy and the random baseline are evaluated"
    assert "identical returns, lengths and actions" in out
    assert (tmp_path / "params.msgpack").stat().st_size > 10_000


def test_sb3_maskable_ppo_small():
    out = _run(["examples/sb3_maskable_ppo.py", "--timesteps", "4096", "--eval-games", "50"], timeout=1800)
    assert "training: 4,096 agent steps" in out and "vs random play, 50 games" in out
