"""A runtime fault of `init` is compared like a step's (README "Runtime faults"), by `envc verify`
against the interpreter and by `envc verify --reference jax` between the compiled backends: the
same seeds fault with the same `file:line:col: message`, else a `fault` divergence at step 0 (no
actions); a fault every backend reproduces is a spec fault (`seed S, init: ...`).

tests/specs/init_faults.envspec's `init` pops an empty list for about a third of the seeds
(seeds 0, 3, 4 and 5 among 0..5). The Rust package's constructor records its `init` faults
(`VecEnv.faults()`) instead of raising them, so any batch can be made: verify searched for a
seed base whose consecutive seeds all initialise before (E0180 when there was none), and
probed later lanes one by one. The doctored tests step the real JAX backend against a copy
whose `init` faults are altered."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import envc.verify as verify_mod
from envc.compiler.check import load
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


def _interp_init_faults(module, seeds) -> list[str | None]:
    """The interpreter's `init` fault text of each seed, or None."""
    it, out = Interpreter(module), []
    for s in seeds:
        try:
            it.init(int(s))
            out.append(None)
        except verify_mod.SpecRuntimeError as err:
            out.append(str(err))
    return out


def test_a_differing_init_fault_of_one_backend_is_no_spec_fault(module, jax_env):
    """Two backends against the reference, one agreeing and one faulting otherwise on seed 3:
    seed 3's fault is that backend's divergence only, not a spec fault (it was listed as one
    while any backend still agreed); the faults all three agree on are spec faults."""
    report = Report(targets=["jax", "doctored", "agreeing"])
    differing = _Doctored(jax_env, lambda f: {**f, 3: "init_faults.envspec:1:1: doctored"})
    agreeing = _Doctored(jax_env, lambda f: f)
    agreeing.name = "agreeing"
    _lockstep(verify_mod._JaxBackend(jax_env), [differing, agreeing], list(range(6)), 6,
              np.random.default_rng(0), 10, 0.0, report, Interpreter(module).actions.format)
    [d] = report.divergences
    assert (d.target, d.episode_seed, d.step) == ("doctored", 3, 0)
    assert [line for line in report.spec_faults if ", init: " in line] == [f"seed {s}, init: {POP}" for s in (0, 4, 5)]


def test_verify_reports_a_backend_init_fault_where_the_interpreter_has_none(module, jax_env, monkeypatch):
    """A backend whose `init` faults for a seed the interpreter starts without a fault: a
    `fault` divergence at step 0 with no actions (verify ignored the backend's `init_faults`)."""
    text = "init_faults.envspec:1:1: doctored"

    class Faulting(verify_mod._JaxBackend):
        def reset(self, seeds: np.ndarray) -> None:
            super().reset(seeds)
            self.init_faults = {**self.init_faults, 1: text}

    monkeypatch.setattr(verify_mod, "_JaxBackend", Faulting)
    report = verify_mod.verify(module, ["python", "jax"], episodes=6, jax_env=jax_env, level2_samples=0)
    started = [s for s, f in zip(range(6), _interp_init_faults(module, range(6))) if f is None]
    [d] = report.divergences
    assert (d.field, d.step, d.episode_seed, d.interpreter, d.backend, d.actions) == (
        "fault", 0, started[1], None, text, [])


@pytest.fixture(scope="module")
def native(module):
    return verify_mod.load_rust(module)


@pytest.mark.slow
def test_a_spec_whose_init_faults_still_gets_a_rust_vec_env(module, native):
    """The constructor records each lane's `init` fault instead of raising (it left no object);
    `reset_seeds` and `reset_envs` raise the lowest (first met) lane's and keep every lane's."""
    expected = _interp_init_faults(module, range(6))
    env = native.VecEnv(6, autoreset=False, seed=0)
    assert env.faults() == expected and expected[0] == POP and expected[1] is None
    with pytest.raises(native.SpecRuntimeError, match="^" + re.escape(f"env 0: {POP}") + "$"):
        env.reset_seeds(np.arange(6, dtype=np.uint32))
    assert env.faults() == expected
    env.reset_seeds(np.array([1, 2, 1, 2, 1, 2], dtype=np.uint32))
    assert env.faults() == [None] * 6
    with pytest.raises(native.SpecRuntimeError, match="^" + re.escape(f"env 5: {POP}") + "$"):
        env.reset_envs(np.array([5, 1, 3]), np.array([5, 1, 3]))
    assert env.faults() == [None, None, None, POP, None, POP]  # lane 3 after lane 5: reset too


@pytest.mark.slow
def test_verify_makes_any_rust_batch_without_a_seed_search(module, native):
    """200 lanes (no 200 consecutive seeds of this spec initialise: verify searched seed bases
    and failed with E0180): the backend starts them and reads every lane's `init` fault at once."""
    backend = verify_mod._RustBackend(native)
    seeds = np.arange(200, dtype=np.uint32)
    backend.reset(seeds)
    expected = _interp_init_faults(module, seeds)
    assert backend.init_faults == {j: t for j, t in enumerate(expected) if t is not None}
    assert backend.init_fault(0) == POP and backend.init_fault(1) is None
