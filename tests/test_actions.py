"""Action flattening (`envc.compiler.actions.ActionSpace`): size, order, and round trips."""

from __future__ import annotations

import os
from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envc.compiler import interp, ir, ranges
from envc.compiler.actions import ActionSpace, decode_param
from envc.compiler.check import check, load
from envc.dsl.parser import parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = os.path.join(ROOT, "specs")

# Two action kinds with two parameters each, covering enum, bool and int parameters.
INLINE = """\
env inline "two action kinds, two parameters each"
players 2

enum Color { red, green, blue }

state {
    x: int[0..3] = 0
}

action paint(color: Color, twice: bool) {
    x = 1
}

action move(dx: int[-1..1], fast: bool) when x < 3 {
    x = 2
}

observe(p) -> int[0..3] {
    return x
}
"""


@lru_cache(maxsize=None)
def space(name: str) -> ActionSpace:
    if name == "inline":
        return ActionSpace(check(parse(INLINE, os.path.join(ROOT, "tests", "inline_actions.envspec"))))
    if name == "kitchen_sink":  # (a table-row parameter)
        return ActionSpace(load(os.path.join(ROOT, "tests", "specs", f"{name}.envspec")))
    return ActionSpace(load(os.path.join(SPECS, f"{name}.envspec")))


NAMES = ["tictactoe", "connect4", "inline"]


def test_tictactoe_space():
    a = space("tictactoe")
    assert a.n == 9
    assert [k.name for k in a.kinds] == ["place"]
    assert a.format(4) == "place(cell=4)"
    assert a.encode("place", cell=4) == 4
    kind, values = a.decode(4)
    assert (kind.name, values) == ("place", (4,))
    assert [a.format(i) for i in range(9)] == [f"place(cell={i})" for i in range(9)]


def test_connect4_space():
    a = space("connect4")
    assert a.n == 7
    assert [a.format(i) for i in range(7)] == [f"drop(column={i})" for i in range(7)]
    assert a.parse("drop(column=6)") == 6


def test_inline_spec_order_first_parameter_slowest():
    a = space("inline")
    assert a.n == 12
    assert [(k.name, k.offset, k.size) for k in a.kinds] == [("paint", 0, 6), ("move", 6, 6)]
    # kinds in declaration order; the first parameter varies slowest; enums in member
    # order, bools false then true, ints from lo to hi
    assert [a.format(i) for i in range(a.n)] == [
        "paint(color=red, twice=false)",
        "paint(color=red, twice=true)",
        "paint(color=green, twice=false)",
        "paint(color=green, twice=true)",
        "paint(color=blue, twice=false)",
        "paint(color=blue, twice=true)",
        "move(dx=-1, fast=false)",
        "move(dx=-1, fast=true)",
        "move(dx=0, fast=false)",
        "move(dx=0, fast=true)",
        "move(dx=1, fast=false)",
        "move(dx=1, fast=true)",
    ]
    assert a.encode("paint", color="green", twice=True) == 3
    assert a.encode("paint", color=1, twice=True) == 3  # enum members by index too
    assert a.decode(3)[1] == (1, True)
    assert a.encode("move", dx=0, fast=True) == 9
    assert a.decode(9)[1] == (0, True)
    assert a.parse("move(dx=-1, fast=true)") == 7
    assert a.parse(" 7 ") == 7


def test_documented_example_move_from_to():
    src = """\
env doc "the example of actions.py's docstring"
players 1
state {
    x: int[0..2] = 0
}
action move(from: int[0..2], to: int[0..2]) {
    x = to
}
observe(p) -> int[0..2] {
    return x
}
"""
    a = ActionSpace(check(parse(src, os.path.join(ROOT, "tests", "doc_actions.envspec"))))
    assert a.n == 9
    assert a.format(5) == "move(from=1, to=2)"


def test_errors():
    a = space("inline")
    with pytest.raises(IndexError):
        a.decode(a.n)
    with pytest.raises(IndexError):
        a.decode(-1)
    with pytest.raises(KeyError):
        a.encode("jump", dx=0, fast=True)
    with pytest.raises(KeyError):
        a.encode("move", dx=0)
    with pytest.raises(ValueError):
        a.encode("move", dx=2, fast=True)
    with pytest.raises(ValueError):
        a.encode("paint", color="purple", twice=True)
    with pytest.raises(ValueError):
        a.parse("jump(dx=0)")
    with pytest.raises(ValueError):
        a.parse("move(dx=5, fast=false)")


@pytest.mark.parametrize("name", NAMES)
def test_every_index_round_trips(name):
    a = space(name)
    for i in range(a.n):
        kind, values = a.decode(i)
        assert a.encode(kind.name, **{p.name: v for p, v in zip(kind.params, values)}) == i
        assert a.parse(a.format(i)) == i
    assert len({a.format(i) for i in range(a.n)}) == a.n


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_round_trip_hypothesis(data):
    name = data.draw(st.sampled_from(NAMES))
    a = space(name)
    i = data.draw(st.integers(0, a.n - 1))
    kind, values = a.decode(i)
    assert kind.offset <= i < kind.offset + kind.size
    assert a.encode(kind.name, **{p.name: v for p, v in zip(kind.params, values)}) == i
    assert a.parse(a.format(i)) == i
    assert a.parse(str(i)) == i


def _ranges_exact(e: ir.Expr) -> None:
    """Every arithmetic node of `e` is typed to hold the range its operands give (`ir.verify`)."""
    for n in ir.walk(e):
        if isinstance(n, ir.Binary) and n.op in ("add", "sub", "mul", "div", "mod"):
            assert ranges.contains(n.type, ranges.binary(n.op, n.left.type, n.right.type)), n


@pytest.mark.parametrize("name", NAMES + ["kitchen_sink"])
def test_decode_param_agrees_with_decode(name):
    """The IR decoding the backends and `simultaneous` lower (`decode_param`), evaluated by the
    interpreter, gives `ActionSpace.decode`'s value at every index of every kind."""
    a = space(name)
    ev = interp.Evaluator(a.module)
    for kind in a.kinds:
        index = ir.Local(name="#i", type=ir.IntT(lo=0, hi=max(0, kind.size - 1)))
        exprs = [decode_param(kind, index, j) for j in range(len(kind.params))]
        for e, p in zip(exprs, kind.params):
            assert e.type == p.type
            _ranges_exact(e)
        for i in range(kind.size):
            assert tuple(ev.eval(e, {"#i": i}) for e in exprs) == a.decode(kind.offset + i)[1]


def test_decode_param_outside_the_kind_stays_in_the_type():
    """An index outside the kind (a simultaneous turn's stored choice of another kind) decodes
    to a value of the parameter's type, with exact ranges (the modulo is kept)."""
    a = space("inline")
    ev = interp.Evaluator(a.module)
    kind = a.kinds[1]  # move(dx: int[-1..1], fast: bool)
    index = ir.Local(name="#i", type=ir.IntT(lo=-6, hi=5))
    dx = decode_param(kind, index, 0)
    _ranges_exact(dx)
    assert sorted({ev.eval(dx, {"#i": i}) for i in range(-6, 6)}) == [-1, 0, 1]
    assert [ev.eval(decode_param(kind, index, 1), {"#i": i}) for i in (-1, 0, 1)] == [True, False, True]
