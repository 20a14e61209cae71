"""A runtime fault of `init` is compared like a step's (README "Runtime faults"), by `envc verify`
against the interpreter and by `envc verify --reference jax` between the compiled backends: the
same seeds fault with the same `file:line:col: message`, else a `fault` divergence at step 0 (no
actions); a fault every backend reproduces is a spec fault (`seed S, init: ...`).

tests/specs/init_faults.envspec's `init` pops an empty list for about a third of the seeds
(seeds 0, 3, 4 and 5 among 0..5). Before, any run with Rust ended in an internal error: the Rust
package's constructor and `reset_seeds` raise the fault (`_RustBackend._vec_env`). The doctored
test steps the real JAX backend against a copy whose `init` faults are altered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import envc.verify as verify_mod
from envc.compiler.check import load
from envc.compiler.diagnostics import DiagnosticError
from envc.compiler.interp import Interpreter
from envc.compiler.passes import choice_points
from envc.cross_check import _lockstep
from envc.verify import Report

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "specs" / "init_faults.envspec"
POP = "init_faults.envspec:21:17: `pop()` from an empty list"


@pytest.fixture(scope="module")
def module():
    return choice_points.run(load(str(SPEC)))


@pytest.fixture(scope="module")
def jax_env(module):
    return verify_mod.load_jax(module)


def test_the_spec_faults_in_init_for_some_seeds_only(module):
    it = Interpreter(module)
    faulted = []
    for s in range(20):
        try:
            it.init(s)
        except verify_mod.SpecRuntimeError as err:
            assert str(err) == POP
            faulted.append(s)
    assert faulted[:4] == [0, 3, 4, 5] and 4 <= len(faulted) <= 12, faulted


def _cli(args: list[str], episodes: int = 20):
    from envc.cli import app

    return CliRunner().invoke(app, ["verify", str(SPEC), *args, "--episodes", str(episodes)])


def _assert_ok(result, checked: str) -> None:
    assert result.exit_code == 0, result.output
    assert "init_faults: 20 episodes" in result.output  # the seeds whose `init` faults count, as checked
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert f"spec fault seed 0, init: {POP}" in result.output and f"spec fault seed 3, init: {POP}" in result.output
    assert "ok: identical trajectories" in result.output and checked in result.output


def test_verify_against_the_interpreter_with_jax():
    _assert_ok(_cli(["--targets", "python,jax"]), "backends: jax")


@pytest.mark.slow
def test_verify_against_the_interpreter_with_jax_and_rust():
    _assert_ok(_cli(["--targets", "python,jax,rust"]), "backends: jax, rust")


@pytest.mark.slow
def test_verify_rust_against_jax():
    result = _cli(["--reference", "jax", "--targets", "jax,rust"])
    _assert_ok(result, "backends: rust against jax")


class _Doctored(verify_mod._JaxBackend):
    """The JAX backend whose `init` faults read `change(init_faults)` after each reset."""

    name = "doctored"

    def __init__(self, env, change):
        super().__init__(env)
        self.change = change

    def reset(self, seeds: np.ndarray) -> None:
        super().reset(seeds)
        self.init_faults = self.change(dict(self.init_faults))


def _chunk(module, jax_env, change) -> Report:
    """Seeds 0..5 on JAX and on the doctored copy, in lock-step (one chunk of 6 lanes)."""
    report = Report(targets=["jax", "doctored"])
    _lockstep(verify_mod._JaxBackend(jax_env), [_Doctored(jax_env, change)], list(range(6)), 6,
              np.random.default_rng(0), 10, 0.0, report, Interpreter(module).actions.format)
    return report


def test_agreed_init_faults_are_spec_faults(module, jax_env):
    report = _chunk(module, jax_env, lambda faults: faults)
    assert report.ok, [d.render() for d in report.divergences]
    assert report.spec_faults[:4] == [f"seed {s}, init: {POP}" for s in (0, 3, 4, 5)]
    assert all(", step " in line for line in report.spec_faults[4:]), report.spec_faults  # `take` faults later
    assert report.episodes == 6


@pytest.mark.parametrize("change, seed, ours, theirs", [
    (lambda f: {**f, 3: "init_faults.envspec:1:1: doctored"}, 3, POP, "init_faults.envspec:1:1: doctored"),
    (lambda f: {j: t for j, t in f.items() if j != 0}, 0, POP, None),
    (lambda f: {**f, 1: POP}, 1, None, POP),
])
def test_an_init_fault_mismatch_is_a_divergence_at_step_0(module, jax_env, change, seed, ours, theirs):
    report = _chunk(module, jax_env, change)
    [d] = report.divergences
    assert not report.ok and not report.spec_faults
    assert (d.field, d.reference, d.target, d.episode_seed, d.step, d.actions) == ("fault", "jax", "doctored", seed,
                                                                                   0, [])
    assert (d.interpreter, d.backend) == (ours, theirs)
    assert "divergence (level 3) between `jax` and `doctored`" in d.render()


@pytest.mark.slow
def test_too_many_lanes_for_the_rust_constructor_is_a_diagnostic():
    """The Rust package starts its lanes from consecutive seeds and raises the first `init`
    fault: no 200 consecutive seeds of this spec initialise, so a chunk of 200 cannot be made."""
    result = _cli(["--reference", "jax", "--targets", "jax,rust", "--chunk", "200"], episodes=200)
    assert result.exit_code != 0 and isinstance(result.exception, DiagnosticError), result.output
    [d] = result.exception.diagnostics
    assert d.code == "E0180" and POP in d.message and "--chunk" in (d.help or "")
