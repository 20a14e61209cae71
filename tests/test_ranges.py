"""The range inference (`envc.compiler.ranges`) is sound: for every pair of values drawn from
two ranges, the result of the operation lies in the range inferred for it (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envc.compiler import ir, ranges


@st.composite
def range_and_value(draw, lo=-1000, hi=1000):
    a = draw(st.integers(lo, hi))
    b = draw(st.integers(a, min(hi, a + draw(st.sampled_from([0, 1, 3, 50, 2000])))))
    return ir.IntT(lo=a, hi=b), draw(st.integers(a, b))


def _py(op: str, x: int, y: int) -> int:
    return {"add": x + y, "sub": x - y, "mul": x * y}.get(op) if op in ("add", "sub", "mul") else \
        (x // y if op == "div" else x % y)


@settings(max_examples=600, deadline=None)
@given(op=st.sampled_from(ranges.ARITH_OPS), a=range_and_value(), b=range_and_value())
def test_binary_ranges_are_sound(op, a, b):
    (ta, x), (tb, y) = a, b
    if op in ("div", "mod") and ranges.divisor_may_be_zero(tb):
        with pytest.raises(ValueError):
            ranges.binary(op, ta, tb)
        return
    t = ranges.binary(op, ta, tb)
    assert t.lo <= _py(op, x, y) <= t.hi


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(["abs", "min", "max", "clamp"]), args=st.lists(range_and_value(), min_size=3, max_size=3))
def test_builtin_ranges_are_sound(name, args):
    types, values = [a[0] for a in args], [a[1] for a in args]
    if name == "abs":
        types, values = types[:1], values[:1]
    if name == "clamp" and types[1].hi > types[2].lo:  # the checker refuses it (E0122)
        return
    t = ranges.builtin(name, types)
    value = {"abs": lambda v: abs(v[0]), "min": min, "max": max,
             "clamp": lambda v: min(max(v[0], v[1]), v[2])}[name](values)
    assert t.lo <= value <= t.hi


@given(a=range_and_value(), b=range_and_value())
def test_unify_and_neg_are_sound(a, b):
    (ta, x), (tb, y) = a, b
    u = ranges.unify(ta, tb)
    assert u.lo <= x <= u.hi and u.lo <= y <= u.hi
    n = ranges.neg(ta)
    assert n.lo <= -x <= n.hi


def test_binary_refuses_unknown_operators():
    with pytest.raises(ValueError, match="not an arithmetic operator"):
        ranges.binary("pow", ir.IntT(lo=0, hi=1), ir.IntT(lo=0, hi=1))


@settings(max_examples=200, deadline=None)
@given(st.integers(-20, 20), st.integers(0, 20), st.integers(1, 6))
def test_power_range_is_exact(lo: int, width: int, k: int):
    """`pow(x, k)`'s range (`check_lang._power_range`): every `x^k` of `x` in the range lies
    inside it, and both of its ends are reached (an even power of a signed value is not
    negative: `pow(s, 2)` of `s: int[-3..3]` is 0..9)."""
    from envc.compiler.check_lang import _power_range

    values = [x ** k for x in range(lo, lo + width + 1)]
    t = _power_range(ir.IntT(lo=lo, hi=lo + width), k)
    assert (t.lo, t.hi) == (min(values), max(values))


def test_an_even_power_of_a_signed_value_fits_its_square_range(tmp_path):
    """The spec that found it: `sq: int[0..9] = pow(s, 2)` with `s: int[-3..3]` is accepted."""
    path = tmp_path / "sq.envspec"
    path.write_text('env sq "x"\nstate { s: int[-3..3] = 0  sq: int[0..9] = 0 }\n'
                    "action go(v: int[-3..3]) { s = v  sq = pow(s, 2) }\n"
                    "observe(p) -> int[-3..9][2] { return [s, sq] }\n")
    from envc.compiler.check import load

    assert load(str(path)).name == "sq"
