"""Integer range inference: pure functions of the operands' ranges.

Public surface: `binary(op, a, b)`, `divisor_may_be_zero(b)`, `builtin(name, args)`,
`unify(a, b)`, `fits(src, dst)`, `contains(outer, inner)`.

Every integer in the IR has a static range `IntT(lo, hi)` (both ends included, DESIGN.md
decision 2). These functions give the range of a result from the ranges of its operands;
the checker uses them to type expressions and the IR verifier (`envc.compiler.ir_verify`)
uses them to check that a pass kept every node's type sound. They are *sound*: for all
values `x in a`, `y in b`, `op(x, y)` lies in `binary(op, a, b)` (tests/test_ranges.py
checks this with hypothesis). Integer `/` and `%` are floor division and floor modulo, as
in Python (the language's definition; `envc.compiler.interp`).
"""

from __future__ import annotations

from envc.compiler import ir

ARITH_OPS = ("add", "sub", "mul", "div", "mod")


def divisor_may_be_zero(b: ir.IntT) -> bool:
    """True when the divisor range `b` holds 0 (`/` and `%` by it may fault: E0123)."""
    return b.lo <= 0 <= b.hi


def binary(op: str, a: ir.IntT, b: ir.IntT) -> ir.IntT:
    """The range of `a op b` for `op` in `ARITH_OPS`.

    Raises:
        ValueError: for `div`/`mod` when `b` may be zero (the checker reports E0123 first),
            or for an unknown `op`.
    """
    if op == "add":
        return ir.IntT(lo=a.lo + b.lo, hi=a.hi + b.hi)
    if op == "sub":
        return ir.IntT(lo=a.lo - b.hi, hi=a.hi - b.lo)
    if op == "mul":
        corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
        return ir.IntT(lo=min(corners), hi=max(corners))
    if op not in ("div", "mod"):
        raise ValueError(f"not an arithmetic operator: {op!r}")
    if divisor_may_be_zero(b):
        raise ValueError(f"divisor range {b} holds 0")
    if op == "div":
        # floor division is monotonic in each argument over a divisor range of one sign
        corners = [a.lo // b.lo, a.lo // b.hi, a.hi // b.lo, a.hi // b.hi]
        return ir.IntT(lo=min(corners), hi=max(corners))
    # floor modulo takes the divisor's sign; a dividend already in 0..b-1 is unchanged
    if b.lo > 0:
        if 0 <= a.lo and a.hi < b.lo:
            return a
        return ir.IntT(lo=0, hi=b.hi - 1)
    return ir.IntT(lo=b.lo + 1, hi=0)


def neg(a: ir.IntT) -> ir.IntT:
    """The range of `-a`."""
    return ir.IntT(lo=-a.hi, hi=-a.lo)


def builtin(name: str, args: list[ir.IntT]) -> ir.IntT:
    """The range of the integer built-ins `abs(a)`, `min(a, b, ...)`, `max(a, b, ...)` and
    `clamp(x, lo, hi)` (for clamp the caller checks `lo.hi <= hi.lo` first: E0122).

    Raises:
        ValueError: an unknown built-in.
    """
    if name == "abs":
        t = args[0]
        least = 0 if t.lo <= 0 <= t.hi else min(abs(t.lo), abs(t.hi))
        return ir.IntT(lo=least, hi=max(abs(t.lo), abs(t.hi)))
    if name == "min":
        return ir.IntT(lo=min(x.lo for x in args), hi=min(x.hi for x in args))
    if name == "max":
        return ir.IntT(lo=max(x.lo for x in args), hi=max(x.hi for x in args))
    if name == "clamp":
        x, lo, hi = args
        t = ir.IntT(lo=max(min(x.lo, hi.lo), lo.lo), hi=min(max(x.hi, lo.hi), hi.hi))
        return ir.IntT(lo=min(t.lo, t.hi), hi=t.hi)
    raise ValueError(f"not an integer built-in: {name!r}")


def unify(a: ir.IntT, b: ir.IntT) -> ir.IntT:
    """The smallest range holding both (the type of `if c then a else b`)."""
    return ir.IntT(lo=min(a.lo, b.lo), hi=max(a.hi, b.hi))


def contains(outer: ir.IntT, inner: ir.IntT) -> bool:
    """Every value of `inner` is a value of `outer`."""
    return outer.lo <= inner.lo and inner.hi <= outer.hi


def fits(src: ir.Type, dst: ir.Type) -> bool:
    """A value of type `src` may be stored where `dst` is declared: equal types, an integer
    range inside the declared one (or inside a table's rows, which are indices), arrays and
    lists of the same size whose elements fit."""
    if isinstance(src, ir.IntT) and isinstance(dst, ir.IntT):
        return contains(dst, src)
    if isinstance(src, ir.IntT) and isinstance(dst, ir.RowT):
        return 0 <= src.lo and src.hi < dst.rows
    if isinstance(src, ir.ArrayT) and isinstance(dst, ir.ArrayT):
        return src.size == dst.size and fits(src.elem, dst.elem)
    if isinstance(src, ir.ListT) and isinstance(dst, ir.ListT):
        return src.cap == dst.cap and fits(src.elem, dst.elem)
    return src == dst
