"""A guard that contains another kind's guard reads that kind's mask (issue 18,
`envc.compiler.passes.mask_reuse`): which parts match, which do not, and that the JAX masks
built that way are the interpreter's."""

from __future__ import annotations

from pathlib import Path

import pytest

from envc.compiler import ir, irutil
from envc.compiler.check import check, load
from envc.compiler.passes import mask_reuse
from envc.dsl.parser import parse
from envc.verify import verify

ROOT = Path(__file__).resolve().parent.parent

# `place`'s guard is heavy enough to reuse; `pass` and `pair` name it: `legal(place(c))`, the
# guard's own text with renamed comprehension variables, and with a bool-and-int parameter
# order of their own
PLACE = "board[cell] == -1 and (any(board[(cell + d) % 9] == 1 - current_player for d in 1..4) or count(board[i] == -1 for i in 0..9) > 6)"
GAME = """
env reuse "a test spec: guards that contain another kind's guard"
players 2
turn_limit 30

state {
    board: int[-1..1][9] = -1
}

action place(cell: int[0..8]) when PLACE {
    board[cell] = current_player
    current_player = 1 - current_player
}

action pair(flag: bool, a: int[0..8]) when flag and GUARD_PAIR {
    board[a] = -1
    current_player = 1 - current_player
}

action pass() when GUARD_PASS {
    current_player = 1 - current_player
}

observe(p) -> int[-1..1][9] {
    return board
}
""".replace("PLACE", PLACE)


def _module(pass_guard="not any(legal(place(c)) for c in 0..9)", pair_guard="board[a] != -1 and legal(place((a + 1) % 9))"):
    return check(parse(GAME.replace("GUARD_PASS", pass_guard).replace("GUARD_PAIR", pair_guard), "<test>"))


def _kinds(m) -> dict[str, int]:
    return {a.name: i for i, a in enumerate(m.actions)}


def test_legal_of_another_kind_reads_its_mask():
    m = _module()
    k = _kinds(m)
    plan = mask_reuse.plan(m)
    assert plan.deps[k["pass"]] == [k["place"]] and plan.deps[k["pair"]] == [k["place"]]
    assert plan.deps[k["place"]] == []
    assert plan.order.index(k["place"]) < min(plan.order.index(k["pass"]), plan.order.index(k["pair"]))
    calls = [n for n in ir.walk(plan.guards[k["pass"]]) if isinstance(n, ir.CallFn)]
    assert [c.fn for c in calls] == ["#legal_place"]


def test_the_guards_own_text_matches_too():
    text = PLACE.replace("cell", "x").replace(" d", " e").replace("(d", "(e").replace("[i]", "[j]").replace(" i ", " j ")
    m = _module(pass_guard=f"not any({text} for x in 0..9)")
    assert mask_reuse.plan(m).deps[_kinds(m)["pass"]] == [_kinds(m)["place"]]


def test_what_does_not_match_keeps_its_guard():
    # the other player's placements; a different constant
    for guard in (f"not any({PLACE.replace('1 - current_player', 'current_player').replace('cell', 'c')} for c in 0..9)",
                  f"not any({PLACE.replace('> 6', '> 5').replace('cell', 'c')} for c in 0..9)"):
        m = _module(pass_guard=guard)
        plan = mask_reuse.plan(m)
        assert plan.deps[_kinds(m)["pass"]] == [], guard
        assert plan.guards[_kinds(m)["pass"]] == m.actions[_kinds(m)["pass"]].guard


def test_an_argument_must_fit_the_parameter_and_not_be_captured():
    pattern = _module().actions[0].guard
    params = {"cell": ir.IntT(lo=0, hi=8)}
    narrow = ir.Local(name="z", type=ir.IntT(lo=2, hi=5))
    wide = ir.Local(name="z", type=ir.IntT(lo=0, hi=9))
    assert mask_reuse.match(pattern, irutil.substitute(pattern, {"cell": narrow}), params) == {"cell": narrow}
    assert mask_reuse.match(pattern, irutil.substitute(pattern, {"cell": wide}), params) is None
    # `any(board[(cell + d) % 9] ... for d in 1..4)` against `any(board[(d + d) % 9] ... for d in 1..4)`
    walk = next(n for n in ir.walk(pattern) if isinstance(n, ir.Reduce) and n.var == "d")
    captured = walk.model_copy(update={"body": irutil.substitute(walk.body, {"cell": ir.Local(name="d", type=ir.IntT(lo=1, hi=3))})})
    assert mask_reuse.match(walk, captured, params) is None
    assert list(mask_reuse.match(walk, walk, params)) == ["cell"]


def test_a_spec_without_reuse_is_unchanged():
    m = load(str(ROOT / "specs" / "connect4.envspec"))
    plan = mask_reuse.plan(m)
    assert all(d == [] for d in plan.deps.values())
    assert all(plan.guards[i] is a.guard for i, a in enumerate(m.actions) if a.guard is not None)


def test_jax_masks_with_reuse_are_the_interpreters():
    pytest.importorskip("jax")
    report = verify(_pass_first(), ["python", "jax"], episodes=30, seed=3)
    assert report.faults == [], report.faults
    assert [d.render() for d in report.divergences] == []
    assert report.level2_transitions > 10


def _pass_first():
    """The test game with `pass` declared before the `place` whose mask it reads."""
    text = GAME.replace("GUARD_PASS", "not any(legal(place(c)) for c in 0..9)").replace(
        "GUARD_PAIR", "board[a] != -1 and legal(place((a + 1) % 9))")
    head, rest = text.split("action place", 1)
    place, tail = rest.split("action pair", 1)
    pair, passing = tail.split("action pass", 1)
    passing, observe = passing.split("observe", 1)
    return check(parse(head + "action pass" + passing + "action place" + place + "action pair" + pair + "observe"
                       + observe, "<test>"))


def test_a_kind_declared_first_may_read_a_later_kinds_mask():
    m = _pass_first()
    k = _kinds(m)
    assert k["pass"] < k["place"]
    plan = mask_reuse.plan(m)
    assert plan.order.index(k["place"]) < plan.order.index(k["pass"]) and plan.deps[k["pass"]] == [k["place"]]
