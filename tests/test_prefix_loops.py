"""The shape check for loops that walk until a flag goes false (issue 18, mechanism 1,
`envc.compiler.passes.prefix_loops`): which loops it accepts, and the reasons it refuses."""

from __future__ import annotations

from pathlib import Path

from envc.compiler.check import check, load
from envc.compiler.passes import prefix_loops
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
