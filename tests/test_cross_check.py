"""`envc verify --reference jax` (envc/cross_check.py): compiled backends against each other.

A run is a function of its seed (the policy is drawn from one generator), a broken reference
is caught with the step, the field and actions that reproduce it on the interpreter, the
per-match-up quota gives exactly N episodes of each match-up, and the command line refuses
targets that make no sense with a compiled reference. Uses tictactoe (its JAX module and
Rust crate are shared with the other tests) and a tiny nim with a match-up."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from envc.compiler import pipeline
from envc.compiler.check import load
from envc.compiler.interp import Interpreter
from envc.cross_check import _actions, cross_check
from envc.verify import all_matchups, load_rust, to_arrays

from .test_verify_scale import NIM, ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tictactoe_rust(specs):
    return load_rust(specs("tictactoe"))


def test_actions_are_uniform_over_the_legal_ones_and_follow_the_seed():
    mask = np.array([[0, 1, 0, 1, 1], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=bool)
    draws = np.stack([_actions({"legal_action_mask": mask}, np.random.default_rng(s)) for s in range(3000)])
    assert set(np.unique(draws[:, 0])) == {1, 3, 4} and (draws[:, 1] == 0).all() and (draws[:, 2] == 0).all()
    share = np.bincount(draws[:, 0], minlength=5)[[1, 3, 4]] / len(draws)
    assert np.all(np.abs(share - 1 / 3) < 0.04), share
    again = np.stack([_actions({"legal_action_mask": mask}, np.random.default_rng(s)) for s in range(3000)])
    assert np.array_equal(draws, again)


def test_jax_and_rust_agree_and_a_run_is_a_function_of_its_seed(specs, jax_envs, tictactoe_rust):
    m = specs("tictactoe")
    one = cross_check(m, "jax", ["jax", "rust"], episodes=40, seed=3, chunk=16, jax_env=jax_envs("tictactoe"),
                      rust_env=tictactoe_rust)
    assert one.ok and one.episodes == 40 and one.steps >= 5 * 40 and one.invariant_checks == one.steps + 40
    two = cross_check(m, "rust", ["jax", "rust"], episodes=40, seed=3, chunk=16, jax_env=jax_envs("tictactoe"),
                      rust_env=tictactoe_rust)
    assert two.ok and (two.episodes, two.steps) == (one.episodes, one.steps), "the same games, Rust leading"
    other = cross_check(m, "jax", ["rust"], episodes=40, seed=4, chunk=16, jax_env=jax_envs("tictactoe"),
                        rust_env=tictactoe_rust)
    assert other.ok and other.steps != one.steps


def test_a_broken_reference_is_reported_with_actions_that_reproduce_it(specs, broken_tictactoe, tictactoe_rust):
    m = specs("tictactoe")
    report = cross_check(m, "jax", ["jax", "rust"], episodes=60, seed=0, chunk=20, jax_env=broken_tictactoe,
                         rust_env=tictactoe_rust)
    assert not report.ok and report.divergences
    d = report.divergences[0]
    assert d.level == 3 and d.target == "rust" and d.reference == "jax"
    assert d.actions[-1] == 4 and d.step == len(d.actions) and d.field.startswith("board[8]")
    assert "between `jax` and `rust`" in d.render() and f"init(seed={d.episode_seed})" in d.render()
    it = Interpreter(m)
    s = it.init(d.episode_seed)
    for a in d.actions:  # replayed on the interpreter: Rust's value is the interpreter's
        assert s.legal_action_mask[a] and not s.terminated
        s = it.step(s, a)
    assert to_arrays(m, s)["board"][8] == d.backend != d.interpreter


def test_per_matchup_gives_exactly_n_episodes_of_each(tmp_path):
    """nim with a list of the moves played: a push is a fault site, so JAX's state has the
    `_fault` field that Rust's layout lacks (compared apart, not as a field)."""
    path = tmp_path / "nim.envspec"
    spec = NIM.replace("{stones_ann}", "").replace("{handicap_ann}", "@matchup")
    spec = spec.replace("handicap: int[0..2][2] @matchup", "handicap: int[0..2][2] @matchup\n    moves: list<int[1..2], 15>")
    path.write_text(spec.replace("stones = clamp(stones - n, 0, 15)", "stones = clamp(stones - n, 0, 15)\n    moves.push(n)"))
    nim = load(str(path))
    assert pipeline.lower(nim).fault_sites, "the push is a fault site"
    report = cross_check(nim, "jax", ["jax", "rust"], per_matchup=4, seed=9, chunk=8)
    assert report.ok and report.per_matchup_counts == {k: 4 for k in all_matchups(nim)}
    assert report.episodes == 36 and report.seeds_tried > 36


def test_the_command_line_refuses_targets_that_make_no_sense():
    from envc.cli import app

    runner = CliRunner()
    spec = str(ROOT / "specs" / "tictactoe.envspec")
    bad = runner.invoke(app, ["verify", spec, "--reference", "jax", "--targets", "python,jax"])
    assert bad.exit_code != 0 and "the interpreter is the reference only with `--reference python`" in bad.output
    alone = runner.invoke(app, ["verify", spec, "--reference", "jax", "--targets", "jax"])
    assert alone.exit_code != 0 and "--targets jax,rust" in alone.output
    unknown = runner.invoke(app, ["verify", spec, "--reference", "gpu", "--targets", "jax,rust"])
    assert unknown.exit_code != 0 and "unknown reference `gpu`" in unknown.output
