"""`ir.layout_leaves`: the array layout of a value that both backends store and `envc verify`
compares (a record is a dict of its fields, an array of records a record of arrays, a list
`{"items", "len"}`), from which the JAX adapters' observation spaces and the Rust glue's
conversions are built. Checked against `envc.verify.value_to_arrays`, the layout of the
interpreter's values."""

from __future__ import annotations

import numpy as np

from envc.compiler import ir
from envc.compiler.check import check
from envc.dsl.parser import parse
from envc.verify import value_to_arrays

SPEC = """env t
players 2
record Slot {
    hp: int[-5..9]
    tags: list<int[3..7], 4>
    up: bool
}
state {
    slots: Slot[2][3]
    x: float32
}
action go() {
    slots[1][2].tags.push(5)
    current_player = 1 - current_player
}
observe(p) -> Slot[2][3] { return slots }
"""


def test_layout_leaves_name_every_array_with_its_shape_dtype_and_bounds():
    m = check(parse(SPEC, "<test>"))
    leaves = ir.layout_leaves(m, m.observe.type)
    assert [(leaf.path, leaf.dims, leaf.dtype, leaf.bounds, leaf.cap) for leaf in leaves] == [
        (("hp",), (2, 3), "int8", (-5, 9), None),
        (("tags", "items"), (2, 3, 4), "int8", (0, 7), None),  # slots past the length hold 0
        (("tags", "len"), (2, 3), "int32", (0, 4), 4),
        (("up",), (2, 3), "bool", (0, 1), None),
    ]
    assert [k for k, _ in leaves[1].steps] == ["index", "index", "field", "items"]
    x = next(f for f in m.state if f.name == "x")
    assert ir.layout_leaves(m, x.type) == [ir.LayoutLeaf((), ir.FLOAT)]
    assert ir.layout_leaves(m, x.type)[0].bounds == (-np.inf, np.inf)


def test_layout_leaves_match_the_arrays_verify_compares():
    from envc.compiler.interp import Interpreter

    m = check(parse(SPEC, "<test>"))
    it = Interpreter(m)
    s = it.step(it.init(0), 0)
    arrays = value_to_arrays(m, m.observe.type, s.observation)
    for leaf in ir.layout_leaves(m, m.observe.type):
        a = arrays
        for key in leaf.path:
            a = a[key]
        a = np.asarray(a)
        assert a.shape == leaf.dims and a.dtype == np.dtype(leaf.dtype), leaf
        assert leaf.bounds[0] <= a.min() and a.max() <= leaf.bounds[1], leaf
    assert arrays["tags"]["len"][1][2] == 1 and arrays["tags"]["items"][1][2][0] == 5
