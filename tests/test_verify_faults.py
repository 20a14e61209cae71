"""`envc verify` compares runtime faults like any other field (envc/verify.py, README "Runtime
faults"): where the interpreter faults, every backend must fault at the same step with the same
text, and a backend that faults elsewhere, not at all, or with other text is a `fault`
divergence with the step and the actions that reproduce it.

tests/specs/faults.envspec faults in most random episodes (one action per kind of fault), so
a verify of it across the backends checks the faults of many episodes; the divergence tests
feed verify's comparisons doctored trajectories (the product is not broken)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

import envc.verify as verify_mod
from envc.compiler.check import load
from envc.compiler.interp import Interpreter
from envc.verify import Report, verify

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "specs" / "faults.envspec"


@pytest.fixture(scope="module")
def module():
    return load(str(SPEC))


def _faulted_run(module, seed: int = 0) -> verify_mod._Run:
    """The interpreter's run of `seed` under verify's random policy, ending in a fault."""
    it = Interpreter(module)
    states, actions, fault, _ = verify_mod._episode(it, it.init(seed), seed, np.random.default_rng(seed), 50,
                                                    Report(targets=[]))
    assert fault is not None, "faults.envspec's random play faults within a few steps"
    pairs = verify_mod._leaves(verify_mod._state_converter(module).stack(states))
    return verify_mod._Run(seed, actions, [p for p, _ in pairs], [a for _, a in pairs],
                           np.array([not (s.terminated or s.truncated) for s in states]), fault)


def _check(module, targets: list[str], jax_env=None) -> Report:
    report = verify(module, targets, episodes=24, seed=0, level2_samples=20, jax_env=jax_env)
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.episodes == 24 and report.level2_transitions > 0
    faulted = [line for line in report.spec_faults if "faults.envspec:" in line]
    assert len(faulted) == len(report.spec_faults) >= 12, report.spec_faults  # most episodes fault
    return report


def test_faults_agree_on_flat_and_jax(module):
    from envc.verify import load_jax

    _check(module, ["python", "flat", "jax"], jax_env=load_jax(module))


@pytest.mark.slow
def test_faults_agree_on_rust(module):
    _check(module, ["python", "rust"])


def test_a_fault_with_other_text_is_a_divergence(module):
    """The interpreter's recorded fault doctored: the backend's true fault no longer matches."""
    run = _faulted_run(module)
    action, text = run.fault
    doctored = dataclasses.replace(run, fault=(action, text + " (doctored)"))
    report = Report(targets=["flat"])
    verify_mod._final_faults(module, Interpreter(module), verify_mod._FlatBackend(module), verify_mod._Chunk([doctored]),
                             np.zeros(1, dtype=bool), report)
    [d] = report.divergences
    t = len(run.actions)
    assert (d.field, d.step, d.episode_seed, d.interpreter, d.backend) == ("fault", t + 1, 0, text + " (doctored)", text)
    assert d.actions == run.actions + [action]
    assert f"first at step {t + 1}, field `fault`" in d.render() and repr(text) in d.render()


def test_a_missing_fault_and_an_unexpected_one_are_divergences(module):
    """A fault recorded after a step that does not fault, and a trajectory that plays on past
    the step where the backend faults (the interpreter's fault erased): both reported."""
    # a run with at least two actions before its fault (the first seed whose policy draws give one)
    run = next(r for r in (_faulted_run(module, seed) for seed in range(1, 40)) if len(r.actions) >= 2)
    action, text = run.fault
    it = Interpreter(module)
    # the action before the fault did not fault: claiming it did is a missing fault on the backend
    shortened = dataclasses.replace(run, actions=run.actions[:-1],
                                    leaves=[x[:-1] for x in run.leaves], live=run.live[:-1],
                                    fault=(run.actions[-1], text))
    report = Report(targets=["flat"])
    verify_mod._final_faults(module, it, verify_mod._FlatBackend(module), verify_mod._Chunk([shortened]),
                             np.zeros(1, dtype=bool), report)
    [d] = report.divergences
    assert (d.field, d.interpreter, d.backend, d.step) == ("fault", text, None, len(run.actions))
    assert "flat: no fault" in d.render()
    # the faulting action kept as a played step (its state a copy of the last): the backend faults there
    played_on = dataclasses.replace(run, actions=run.actions + [action],
                                    leaves=[np.concatenate([x, x[-1:]]) for x in run.leaves],
                                    live=np.concatenate([run.live, run.live[-1:]]), fault=None)
    report = Report(targets=["flat"])
    found = verify_mod._rollouts(it, verify_mod._FlatBackend(module), verify_mod._Chunk([played_on]), 1, report, 0.0)
    assert found is None  # the backend faulted: it is not run on
    [d] = report.divergences
    assert (d.field, d.interpreter, d.backend, d.step) == ("fault", None, text, len(run.actions) + 1)
    assert d.actions == run.actions + [action] and "interpreter: no fault" in d.render()


def test_an_init_fault_is_compared(module):
    """`init` faulting on the interpreter: a backend whose `init` does not is a divergence at step
    0, and only that: a spec fault is one every backend agrees on (it was listed as both)."""
    report = Report(targets=["flat"])
    check = verify_mod._BackendCheck("flat", module, Interpreter(module), report, 0.0, 0, 1, 1, 0, None)
    verify_mod._init_fault([check], 5, "faults.envspec:1:1: doctored", report)
    [d] = report.divergences
    assert (d.field, d.step, d.episode_seed, d.interpreter, d.backend) == ("fault", 0, 5, "faults.envspec:1:1: doctored",
                                                                          None)
    assert report.spec_faults == [] and report.episodes == 1


def test_an_agreed_init_fault_is_a_spec_fault(module):
    """The same `init` fault on the interpreter and the backend: a spec fault, no divergence."""
    text = "faults.envspec:1:1: doctored"

    class Faulting(verify_mod._FlatBackend):
        def init_fault(self, seed: int) -> str | None:
            return text

    report = Report(targets=["flat"])
    check = verify_mod._BackendCheck("flat", module, Interpreter(module), report, 0.0, 0, 1, 1, 0, None)
    check.backend = Faulting(module)
    verify_mod._init_fault([check], 5, text, report)
    assert report.divergences == [] and report.spec_faults == [f"seed 5, init: {text}"]


def test_the_command_line_prints_the_spec_faults():
    """`envc verify` on a spec whose episodes fault the same on every backend: ok (exit 0), each
    fault printed as a `spec fault` with its seed, step and text, and counted on the ok line."""
    from typer.testing import CliRunner

    from envc.cli import app

    out = CliRunner().invoke(app, ["verify", str(SPEC), "--targets", "python,flat", "--episodes", "6"])
    assert out.exit_code == 0, out.output
    assert re.search(r"spec fault seed 0, step \d+: faults\.envspec:", out.output), out.output
    assert "ok: identical trajectories, 6 ending in the same runtime fault on every backend" in out.output
    assert "Traceback" not in out.output


BREAKS = """env breaks "an invariant the spec itself breaks at step 3"
players 1
turn_limit 10
state { n: int[0..9] = 0 }
action go() { n = min(n + 1, 9) }
observe(p) -> int[0..9] { return n }
invariant small "n stays below 3": n < 3
"""


def test_an_invariant_the_interpreter_breaks_is_a_fault_not_a_divergence(tmp_path, monkeypatch):
    """The interpreter's own broken invariant ends its episode (a fault of the report); a backend
    that breaks it on the same state agrees with it. Found by a fresh spec: verify reported it
    as a divergence in which the interpreter "held". A backend whose invariant breaks one step
    early is still a divergence (a doctored run: the interpreter's break moved a step later)."""
    from envc.verify import load_jax

    path = tmp_path / "breaks.envspec"
    path.write_text(BREAKS)
    module = load(str(path))
    jax_env = load_jax(module)
    report = verify(module, ["python", "jax"], episodes=3, seed=0, level2_samples=4, jax_env=jax_env)
    assert not report.divergences, [d.render() for d in report.divergences]
    assert len(report.faults) == 3 and all("invariant(s) small broken" in f for f in report.faults)

    episode = verify_mod._episode

    def late(it, s, seed, policy, max_steps, rep):  # the interpreter "breaks" it a step later
        it.invariant_violations = lambda state: ["small"] if state.fields["n"] >= 4 else []
        return episode(it, s, seed, policy, max_steps, rep)

    monkeypatch.setattr(verify_mod, "_episode", late)
    report = verify(module, ["python", "jax"], episodes=1, seed=0, level2_samples=0, jax_env=jax_env)
    assert [(d.step, d.field, d.interpreter, d.backend) for d in report.divergences] == \
        [(3, "invariants", "hold", "broken: small")]


FAULTING_INVARIANT = """env if1 "an invariant that reads past a list's end"
turn_limit 4
state { xs: list<int[0..3], 3> }
init { xs.push(1) }
action go() { let t = xs.pop() }
action put() when len(xs) < 3 { xs.push(2) }
observe(p) -> int[0..3][1] { return [len(xs)] }
invariant first "the first item is small": xs[0] < 3
"""


def test_an_invariant_that_faults_fails_the_check(tmp_path):
    """An invariant whose evaluation faults (`xs[0]` of an empty list) fails verify as a broken
    one does, naming the fault and the actions; it was an internal error ("a bug in envc")."""
    path = tmp_path / "if1.envspec"
    path.write_text(FAULTING_INVARIANT)
    report = verify(load(str(path)), ["python", "jax"], episodes=6, seed=0)
    assert not report.ok and not report.divergences
    assert report.faults and all("an invariant faulted" in f and "index 0 is past the end" in f and "(actions [" in f
                                 for f in report.faults)


BROKEN_BY_INIT = """env inv_init "an invariant broken by init"
turn_limit 3
state { n: int[0..9] = 0 }
init { n = 2 }
action tick() { n = min(n + 1, 9) }
observe(p) -> int[0..9][1] { return [n] }
invariant small "n is below 2": n < 2
"""


def test_an_invariant_broken_by_init_is_a_fault_at_step_0(tmp_path):
    """The interpreter checks the initial state too: a hunt's `init` broke an invariant, and
    verify blamed every backend (a divergence at step 0, the interpreter "holding") and put
    the fault at step 1."""
    path = tmp_path / "inv_init.envspec"
    path.write_text(BROKEN_BY_INIT)
    report = verify(load(str(path)), ["python", "flat"], episodes=2, seed=0)
    assert not report.divergences, [d.render() for d in report.divergences]
    assert report.faults == [f"seed {k}, step 0: invariant(s) small broken (actions [])" for k in (0, 1)]
