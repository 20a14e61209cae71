"""`envc verify --reference jax|rust` (envc/cross_check.py) compares runtime faults between the
two backends as `envc verify` does against the interpreter: the same lane faults after the same
step with the same `file:line:col: message`, else a `fault` divergence.

tests/specs/faults.envspec faults in most random episodes; the real run (JAX against Rust) is
slow (a cargo build), the doctored one steps two interpreters on the lowered IR (`_FlatBackend`)
with one of them saying something else, or nothing, where the other faults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import envc.verify as verify_mod
from envc.compiler.check import load
from envc.compiler.interp import Interpreter
from envc.cross_check import _step_all, cross_check
from envc.verify import Report

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "specs" / "faults.envspec"


@pytest.fixture(scope="module")
def module():
    return load(str(SPEC))


class _Doctored(verify_mod._FlatBackend):
    """`_FlatBackend` whose faults read `text` instead (None: it says it did not fault)."""

    name = "doctored"

    def __init__(self, module, text: str | None):
        super().__init__(module)
        self.text = text

    def step_lanes(self, actions, lanes):
        fault = super().step_lanes(actions, lanes)
        if fault is None or self.text is None:
            return None
        return fault[0], self.text

    def lane_faults(self, lanes):
        if self.text is None:
            return {}
        return {j: self.text for j in super().lane_faults(lanes)}


def _play(module, other, seeds: list[int]) -> tuple[Report, list[list[int]]]:
    """Both backends from `seeds`, each lane playing its last legal action, until the first
    step where a lane of the reference faults: (report, the actions of each lane to there)."""
    it = Interpreter(module)
    ref = verify_mod._FlatBackend(module)
    lanes = np.arange(len(seeds))
    for b in (ref, other):
        b.reset(np.array(seeds, dtype=np.uint32))
    history = np.zeros((30, len(seeds)), dtype=np.int32)
    report = Report(targets=["flat", other.name])
    for t in range(30):
        history[t] = [int(np.flatnonzero(ref.it.legal_action_mask(s))[-1]) for s in ref.states]
        ok = {other.name: True}
        if len(_step_all(ref, [other], ok, lanes, seeds, t, history, report, it.actions.format)):
            assert ok[other.name] == (not report.divergences)
            return report, history[: t + 1].T.tolist()
    raise AssertionError("faults.envspec faults within 30 steps of this policy")


def test_the_same_fault_is_a_spec_fault(module):
    """Both lanes fault at the same step (the same actions from different seeds): two spec
    faults, the second lane's found too (`_lane_faults`: every lane steps, each one's fault is kept)."""
    report, actions = _play(module, verify_mod._FlatBackend(module), [0, 1])
    assert not report.divergences and report.ok and actions[0] == actions[1]
    n = len(actions[0])
    assert len(report.spec_faults) == 2, report.spec_faults
    for s, line in zip((0, 1), report.spec_faults):
        assert line.startswith(f"seed {s}, step {n}: faults.envspec:"), report.spec_faults
    assert report.episodes == 2


@pytest.mark.parametrize("text", ["faults.envspec:1:1: doctored", None])
def test_another_fault_text_or_none_is_a_divergence(module, text):
    report, actions = _play(module, _Doctored(module, text), [0, 1])
    [d] = report.divergences
    assert not report.ok and not report.spec_faults
    assert (d.field, d.reference, d.target, d.episode_seed, d.step) == ("fault", "flat", "doctored", 0,
                                                                         len(actions[0]))
    assert isinstance(d.interpreter, str) and "faults.envspec:" in d.interpreter and d.backend == text
    assert d.actions == actions[0]
    assert "divergence (level 3) between `flat` and `doctored`" in d.render()
    assert ("doctored: no fault" if text is None else repr(text)) in d.render()


@pytest.mark.slow
def test_jax_and_rust_fault_alike(module):
    report = cross_check(module, "jax", ["rust"], episodes=24, seed=0, max_steps=50, chunk=8)
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.episodes == 24  # a chunk plays on past its faults
    assert len(report.spec_faults) >= 12 and all("faults.envspec:" in line for line in report.spec_faults), \
        report.spec_faults
