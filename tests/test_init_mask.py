"""The initial state's legal-action mask as a constant when it is the same for every seed
(issue 18, `envc.compiler.passes.init_mask`): proved over every value of the init's draws,
refused where that cannot be decided, and equal to the interpreter's mask."""

from __future__ import annotations

from pathlib import Path

import pytest

from envc.compiler.check import check, load
from envc.compiler.interp import Interpreter
from envc.compiler.passes import init_mask
from envc.dsl.parser import parse

ROOT = Path(__file__).resolve().parent.parent

GAME = """
env fresh "a test spec: the initial mask and the init's draws"
players 2

state {
    board: int[-1..1][9] = -1
    deck: list<int[0..9], 4>
}

init {
INIT
}

action place(cell: int[0..8]) when board[cell] == -1 and (cell == 4 or board[4] != -1) {
    board[cell] = current_player
    current_player = 1 - current_player
}

observe(p) -> int[-1..1][9] {
    return board
}
"""


def _module(init: str):
    return check(parse(GAME.replace("INIT", init), "<test>"))


def test_othello_starts_from_a_constant_mask_whoever_moves_first():
    m = load(str(ROOT / "specs" / "othello.envspec"))
    mask = init_mask.constant(m)
    it = Interpreter(m)
    assert mask is not None and sum(mask) == 4 and not mask[64]
    # the proof covered both first players: the constant is each one's mask
    firsts = {}
    for seed in range(40):
        s = it.init(seed)
        firsts[s.fields["current_player"]] = it.legal_action_mask(s)
    assert set(firsts) == {0, 1} and all(v == mask for v in firsts.values())


@pytest.mark.parametrize("init", [
    "current_player = random.int(0, 1)\n    board[0] = current_player",   # draws that do not reach the mask
    "board[3] = 1",                                                   # no draw at all
])
def test_a_mask_every_seed_shares_is_found(init):
    m = _module(init)
    mask = init_mask.constant(m)
    it = Interpreter(m)
    assert mask is not None and mask == it.legal_action_mask(it.init(7))


@pytest.mark.parametrize("init", [
    "board[4] = random.int(-1, 0)",                                   # the draw decides the mask
    "if random.int(0, 1) == 1 {\n        board[4] = 0\n    }",         # a draw the checker keeps out of conditions
    "let a = random.int(0, 9)\n    let b = random.int(0, 9)\n    let c = random.int(0, 9)\n    board[0] = max(a + b + c - 27, -1)",  # 1,000 combinations
    "deck.push(1)\n    deck.push(2)\n    deck.shuffle()\n    board[4] = clamp(deck[0] - 2, -1, 0)",  # a shuffle
    # one draw node, drawn per element: its second draw decides the mask (a fresh-spec hunt found
    # the pass trying the first draw's 2 values only, and JAX starting from a wrong mask)
    "board = [random.int(-1, 0) for i in 0..9]",
])
def test_what_cannot_be_proved_is_computed(init):
    assert init_mask.constant(_module(init)) is None


def test_a_draw_per_element_proves_nothing():
    """tests/specs/init_draws_per_element.envspec: `a = [random.int(0, 1) for i in 0..5]`, a
    guard on `a[1]`: the mask depends on the second draw of the one node."""
    m = load(str(ROOT / "tests" / "specs" / "init_draws_per_element.envspec"))
    assert init_mask.constant(m) is None
    it = Interpreter(m)
    assert len({tuple(it.legal_action_mask(it.init(seed))) for seed in range(20)}) == 2
