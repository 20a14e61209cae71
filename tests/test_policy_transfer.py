"""Level 4, policy transfer (`envc verify --policy`): a given policy plays seeded episodes on
every backend; returns, lengths and actions must be identical, or (float specs) the returns
equivalent within a declared margin by TOST."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from envc.verify import _tost, load_policy, verify_policy

ROOT = Path(__file__).resolve().parent.parent


def test_identical_episodes_on_jax(specs, jax_envs):
    policy = load_policy(str(ROOT / "tests" / "policies.py") + ":observation_greedy")
    report = verify_policy(specs("connect4"), ["python", "jax"], policy, episodes=40, seed=3,
                           jax_env=jax_envs("connect4"))
    assert report.ok and report.identical["jax"] == 40, [d.render() for d in report.divergences]
    runs = report.runs
    assert runs["python"].lengths.min() >= 7 and np.all(runs["python"].returns.sum(axis=1) == 0)
    assert runs["python"].actions == runs["jax"].actions


def test_a_broken_backend_is_reported_at_its_first_different_step(specs, broken_tictactoe):
    """The broken JAX module also marks cell 8 when cell 4 is played: a policy that reads the
    board then plays differently, or the game ends differently."""
    policy = load_policy(str(ROOT / "tests" / "policies.py") + ":observation_greedy")
    report = verify_policy(specs("tictactoe"), ["python", "jax"], policy, episodes=30, seed=0,
                           jax_env=broken_tictactoe)
    assert not report.ok and report.divergences
    d = report.divergences[0]
    assert d.level == 4 and d.target == "jax" and d.field in ("action", "length", "return[0]", "return[1]")
    assert 4 in d.actions, "the reproducing actions include the move that goes wrong"
    assert "divergence (level 4)" in d.render() and "reproduce: init(seed=" in d.render()


def test_tost_on_cartpole(specs, jax_envs):
    """Float physics: returns are compared by TOST within a declared margin."""
    policy = load_policy(str(ROOT / "tests" / "policies.py") + ":cartpole_lean")
    report = verify_policy(specs("cartpole"), ["python", "jax"], policy, episodes=30, seed=0, max_steps=600,
                           tost_margin=5.0, jax_env=jax_envs("cartpole"))
    assert report.ok and report.tost["jax"].equivalent
    assert report.runs["python"].returns.mean() > 100, "the leaning policy balances far longer than random"


def test_tost_decides_by_the_margin():
    rng = np.random.default_rng(0)
    close = rng.normal(0.1, 1.0, 200)
    assert _tost(close, 0.5, 0.05).equivalent
    assert not _tost(close, 0.01, 0.05).equivalent
    assert not _tost(rng.normal(2.0, 1.0, 200), 0.5, 0.05).equivalent
    assert _tost(np.zeros(10), 0.1, 0.05).equivalent and not _tost(np.full(10, 0.2), 0.1, 0.05).equivalent


def test_load_policy_from_a_file_of_any_name(tmp_path):
    """`PATH:FUNCTION` imports PATH as Python whatever its suffix (without `.py` the import
    system finds no loader: this was an AttributeError, found by mypy)."""
    (tmp_path / "my_policy").write_text("def first(obs, mask):\n    return 0\n", encoding="utf-8")
    assert callable(load_policy(f"{tmp_path / 'my_policy'}:first"))


def test_load_policy_errors():
    for ref in ("no_colon", "tests/policies.py:missing", "tests/nowhere.py:f", "envc_no_such_module:f"):
        with pytest.raises(ValueError):
            load_policy(ref)


def test_cli_verify_policy(tmp_path):
    cmd = [sys.executable, "-m", "envc.cli", "verify", "specs/tictactoe.envspec", "--targets", "python,jax",
           "--episodes", "12", "--policy", "tests/policies.py:first_legal"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "ok: identical returns, lengths and actions" in done.stdout and "12/12" in done.stdout
    bad = subprocess.run(cmd[:-1] + ["tests/policies.py:nope"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and "has no function `nope`" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_verify_policy_reports_the_policys_error_and_a_spec_fault(tmp_path):
    """The policy's own exception and a runtime fault of the spec under the policy are reported
    as such, exit 1, no traceback (both were "internal error ... a bug in envc", exit 2)."""
    base = [sys.executable, "-m", "envc.cli", "verify", "--targets", "python", "--episodes", "3", "--policy"]
    done = subprocess.run(base + ["tests/policies.py:raises", "specs/tictactoe.envspec"], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 1 and "the policy raised AttributeError" in done.stderr, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    spec = tmp_path / "three.envspec"
    spec.write_text('env three "a fault at three"\nplayers 1\nstate { n: int[0..9] = 0 }\n'
                    'action up() {\n    n = min(n + 1, 9)\n    if n == 3 { fail("three") }\n}\n'
                    "observe(p) -> int[0..9] { return n }\n", encoding="utf-8")
    done = subprocess.run(base + ["tests/policies.py:first_legal", str(spec)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 1 and "spec fault while" in done.stdout and "fail: three" in done.stdout, done
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_identical_episodes_on_rust(specs):
    from envc.verify import load_rust

    m = specs("connect4")
    policy = load_policy(str(ROOT / "tests" / "policies.py") + ":observation_greedy")
    report = verify_policy(m, ["python", "rust"], policy, episodes=40, seed=3, rust_env=load_rust(m))
    assert report.ok and report.identical["rust"] == 40


FAULT_SITE_SPEC = """env stack "push then read the top: a fault site that never faults"
players 1
turn_limit 6
state { xs: list<int[0..9], 4>  top: int[0..9] = 0 }
action push(v: int[0..2]) {
    if len(xs) == 4 { xs.clear() }
    xs.push(v)
    top = xs[max(len(xs) - 1, 0)]
}
observe(p) -> int[0..9] { return top }
"""


def test_a_fault_jax_records_is_a_divergence(tmp_path):
    """JAX records a runtime fault in `State._fault` and goes on (it cannot raise under `jit`);
    level 4 used to compare the episode as if nothing happened. Here the generated step is
    doctored to record the spec's list-read fault at the third step of every episode, which the
    interpreter never reaches: each episode is a `fault` divergence at that step."""
    import jax.numpy as jnp

    from envc.compiler.check import load
    from envc.verify import load_jax

    spec = tmp_path / "stack.envspec"
    spec.write_text(FAULT_SITE_SPEC, encoding="utf-8")
    module = load(str(spec))
    env = load_jax(module)

    class Doctored:
        def __getattr__(self, name):
            return getattr(env, name)

        @staticmethod
        def step(st, action):
            nxt = env.step(st, action)
            row = jnp.where(nxt._step_count == 3, jnp.asarray([1, 9, 4], jnp.int32), nxt._fault)
            return nxt.replace(_fault=row)

    policy = load_policy(str(ROOT / "tests" / "policies.py") + ":first_legal")
    report = verify_policy(module, ["python", "jax"], policy, episodes=4, seed=0, jax_env=Doctored())
    assert not report.ok and len(report.divergences) == 4 and report.identical["jax"] == 0
    d = report.divergences[0]
    assert (d.level, d.field, d.step, d.interpreter) == (4, "fault", 3, None), d.render()
    assert "stack.envspec:" in d.backend and len(d.actions) == 3, d.render()
    assert "no fault" in d.render()
    assert verify_policy(module, ["python", "jax"], policy, episodes=4, seed=0, jax_env=env).ok, \
        "the generated module as it is records no fault"
