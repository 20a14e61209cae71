"""The shape check for loops that walk until a flag goes false (issue 18, mechanism 1,
`envc.compiler.passes.prefix_loops`): which loops it accepts, and the reasons it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from envc.compiler.check import check, load
from envc.compiler.passes import prefix_loops
from envc.compiler.pipeline import PassContext
from envc.dsl.parser import parse

ROOT = Path(__file__).resolve().parent.parent

GAME = """
env walk "a test spec: a walk along the row until an empty cell"
players 2
turn_limit 30

state {
    board: int[-1..1][9] = -1
}

fn run_length(c: int[0..8]) -> int[0..9] {
    let walking = true
    let run: int[0..9] = 0
    let last: int[0..9] = 0
    for k in 0..9 {
        if walking and board[(c + k) % 9] != -1 {
            BODY
        }
    }
    return last
}

action place(cell: int[0..8]) when board[cell] == -1 and run_length((cell + 1) % 9) < 3 {
    board[cell] = current_player
    current_player = 1 - current_player
}

action pass() when true {
    current_player = 1 - current_player
}

observe(p) -> int[-1..1][9] {
    return board
}
"""

OK_BODY = """run = k + 1
            if board[(c + k) % 9] == current_player {
                last = min(run, 9)
                walking = false
            }"""


def _loops(body: str) -> list[prefix_loops.PrefixLoop]:
    return prefix_loops.find(check(parse(GAME.replace("BODY", body), "<test>")))


def test_a_walk_until_is_a_prefix_and():
    [loop] = _loops(OK_BODY)
    assert (loop.fn, loop.var, loop.flag, loop.reason) == ("run_length", "k", "walking", None)
    assert loop.step_locals == ["run"] and loop.exit_locals == ["last"]


def test_a_flag_set_true_again_is_refused():
    [loop] = _loops(OK_BODY.replace("walking = false", "walking = false\n                walking = true"))
    assert loop.reason == "`walking` is assigned something other than `false`"


def test_a_read_of_a_value_the_loop_accumulates_is_refused():
    # `run` is now a running count, not a function of `k`, and `last` reads it
    [loop] = _loops(OK_BODY.replace("run = k + 1", "run = min(run + 1, 9)"))
    assert loop.reason is not None and "`run`" in loop.reason


def test_othello_flips_is_accepted_and_other_specs_have_no_such_loop():
    [loop] = prefix_loops.find(load(str(ROOT / "specs" / "othello.envspec")))
    assert (loop.fn, loop.flag, loop.step_locals, loop.exit_locals, loop.reason) == ("flips", "walking", ["run"], ["flipped"], None)
    for name in ("connect4", "tictactoe"):
        assert prefix_loops.find(load(str(ROOT / "specs" / f"{name}.envspec"))) == []


def test_a_step_local_written_only_sometimes_or_an_exit_local_on_a_continuing_step_is_refused():
    [loop] = _loops(OK_BODY.replace("run = k + 1", "if k > 2 {\n                run = k + 1\n            }"))
    assert loop.reason == "`run` is not assigned on every continuing step"
    [loop] = _loops(OK_BODY.replace("run = k + 1", "run = k + 1\n            last = min(run, 9)"))
    assert loop.reason == "`last` is assigned on a step that keeps `walking`"


def test_a_guard_or_condition_that_reads_a_step_local_is_refused():
    # the step's fate would depend on the step before: not computable for all k at once
    [loop] = _loops(OK_BODY.replace("if board[(c + k) % 9] == current_player", "if run > 2"))
    assert loop.reason == "the loop reads `run` outside the value of an exit local"
    [loop] = _loops(OK_BODY.replace("run = k + 1", "let was = run\n            run = k + 1"))
    assert loop.reason == "the loop reads `run` outside the value of an exit local"


def test_the_tcgs_loops_are_refused_a_draw_and_an_accumulated_count():
    # Misty flips a coin at each step (a draw under `vmap` would not match the interpreter's
    # draw order); damage_until_tails reads `heads`, which it accumulates
    loops = {w.fn: w.reason for w in prefix_loops.find(load(str(ROOT / "specs" / "tcg.envspec")))}
    assert loops == {"trainer_effect__3": "the loop draws a random number",
                     "damage_until_tails": "the loop reads `heads`, a value it writes that is not a function of `k`"}


WALKS = """env walk "a test spec: walks along a ring of cells until a flag goes false"
players 2
turn_limit 30

state {
    board: int[-1..1][9] = -1
    score: int[0..8] = 0
    open: bool = false
}

// A step over an empty cell runs nothing and keeps the walk going (a skipped step); the
// exit reads the step local that the same step has just assigned.
fn run_length(c: int[0..8]) -> int[0..9] {
    let walking = true
    let run: int[0..9] = 0
    let last: int[0..9] = 0
    for k in 0..9 {
        if walking and board[(c + k) % 9] != -1 {
            run = k + 1
            if board[(c + k) % 9] == current_player {
                last = min(run, 9)
                walking = false
            }
        }
    }
    return last
}

// Othello's shape: the exit reads the step local of the step before; the flag is read after
// the loop.
fn flank(c: int[0..8], p: int[0..1]) -> int[0..8] {
    let walking = true
    let run: int[0..8] = 0
    let got: int[0..8] = 0
    for k in 0..8 {
        if walking and k < 8 - c {
            let here = board[(c + k + 1) % 9]
            if here == 1 - p {
                run = k + 1
            } else {
                if here == p {
                    got = min(run, 8)
                }
                walking = false
            }
        }
    }
    if walking {
        got = 8
    }
    return got
}

action place(cell: int[0..8]) when board[cell] == -1 and run_length((cell + 1) % 9) < 3 {
    board[cell] = current_player
    score = flank(cell, current_player)
    open = flank((cell + 3) % 9, 1 - current_player) > 2
    current_player = 1 - current_player
}

action pass() when true {
    current_player = 1 - current_player
}

observe(p) -> int[-1..1][9] {
    return board
}
"""


@pytest.mark.parametrize("mode", ["vmap", "predicated"])
def test_the_opt_in_walk_lowerings_equal_the_interpreter(mode, tmp_path):
    """With `PassContext(prefix_walk=mode)` (`--prefix-walk`), both loops of WALKS (a skipped step that keeps the flag, an
    exit that reads the step local of the same step or of the step before, the flag read
    after the loop) are lowered by that mechanism-1 form, and the generated environment plays
    exactly as the interpreter. (Shown to fail: with `alive` inclusive instead of exclusive,
    or without the step locals of the step before, `verify` reports 23-41 divergences.)"""
    from envc.codegen.jax import generate
    from envc.verify import load_jax, verify

    path = tmp_path / "walk.envspec"
    path.write_text(WALKS)
    module = load(str(path))
    assert [(w.fn, w.reason) for w in prefix_loops.find(module)] == [("run_length", None), ("flank", None)]
    plain = generate(module)["env.py"]
    ctx = PassContext(prefix_walk=mode)
    text = generate(module, ctx)["env.py"]
    assert text != plain and ("def _prefix_walk(" in text) is (mode == "vmap")
    if mode == "vmap":
        assert text.count("= _prefix_walk(") == 2
    report = verify(module, ["python", "jax"], episodes=40, seed=0, max_steps=40, jax_env=load_jax(module, ctx))
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.level2_transitions > 0


def test_by_default_a_walk_is_lowered_as_any_loop(tmp_path):
    """Both opt-in forms were slower than the plain lowering on CPU (bench/RESULTS.md, issue
    18, mechanism 1): by default nothing changes and no module gets their helper."""
    from envc.codegen.jax import generate

    path = tmp_path / "walk.envspec"
    path.write_text(WALKS)
    text = generate(load(str(path)))["env.py"]
    assert "def _prefix_walk(" not in text and "def _walk" not in text


def test_the_walk_lowering_is_a_compile_option_not_an_environment_variable(tmp_path):
    """`envc compile --prefix-walk MODE` (issue 15: passes are switched by options); an unknown
    mode is E0180 and writes nothing."""
    from typer.testing import CliRunner

    from envc.cli import app

    spec = str(Path(__file__).resolve().parent.parent / "specs" / "othello.envspec")
    bad = CliRunner().invoke(app, ["compile", spec, "--prefix-walk", "nope", "-o", str(tmp_path / "bad")])
    assert bad.exit_code != 0 and "E0180" in bad.output and "vmap" in bad.output, bad.output
    assert not (tmp_path / "bad").exists()
    outs = {}
    for mode in ("off", "predicated"):
        result = CliRunner().invoke(app, ["compile", spec, "--prefix-walk", mode, "-o", str(tmp_path / mode)])
        assert result.exit_code == 0, result.output
        outs[mode] = (tmp_path / mode / "env.py").read_text(encoding="utf-8")
    assert outs["off"] != outs["predicated"]
    with pytest.raises(ValueError, match="prefix_walk"):
        PassContext(prefix_walk="nope")
