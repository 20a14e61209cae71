"""The pass `fold_constants`: integer arithmetic on two constants becomes one constant, once,
on the IR that both array backends consume ("lower once, emit twice", issue #15).

Public surface: `NAME`, `run(module, ctx=None) -> ir.Module`, `fold(x)`.

Guarantees, on the module it returns:

* no `Binary` node with `op` in `add`, `sub`, `mul`, `div`, `mod` has two integer `Const`
  operands (the walk is bottom-up, so `(DECK - 1) * 2` folds whole);
* a folded node is a `Const` of the `Binary`'s own type and span, whose value is what the
  interpreter computes: Python integers, `div` and `mod` floor (`//`, `%`), as `ir.Binary`
  defines them. The checker's range of the `Binary` holds the value (range inference is
  sound: tests/test_ranges.py), so `ir.verify` holds after the pass;
* a division or modulo by the constant 0 is left as it is, so each backend keeps its own
  behaviour for it at run time;
* nothing else changes: floats (rounding to float32 is the backends' business), comparisons
  and `and`/`or` stay, and so does every node that is not a constant operation.

The interpreter does not run this pass: it stays on the checked IR as the definition of
meaning, and the backends' trajectories are compared with it (tests/test_golden.py,
tests/test_backends_differential.py). Before this pass the Rust backend folded the same
operations on the text it had generated, and the JAX backend did not fold at all.
"""

from __future__ import annotations

from typing import Any

from envc.compiler import ir
from envc.compiler.interp import eval_const

NAME = "fold_constants"

# The integer arithmetic that folds; the value comes from the reference interpreter
# (`eval_const`), so the pass cannot disagree with the definition of meaning (floor division).
_INT_OPS = frozenset({"add", "sub", "mul", "div", "mod"})


def run(module: ir.Module, ctx: Any = None) -> ir.Module:
    """`module` with its constant integer arithmetic folded (the module docstring says what
    folds). `ctx` (a `PassContext`) is unused: the pass has no options."""
    return fold(module)


def fold(x: Any) -> Any:
    """`x` (a node, or a list of them) with its constant integer arithmetic folded; unchanged
    parts are shared, and `x` itself comes back when nothing folds."""
    return ir.transform(x, _folded)


def _folded(node: ir.Node) -> ir.Node | None:
    """The constant a `Binary` on two integer constants evaluates to, else None (no change)."""
    if not isinstance(node, ir.Binary) or node.op not in _INT_OPS or not isinstance(node.type, ir.IntT):
        return None
    a, b = _int_value(node.left), _int_value(node.right)
    if a is None or b is None or (node.op in ("div", "mod") and b == 0):
        return None
    return ir.Const(value=int(eval_const(node)), type=node.type, span=node.span)


def _int_value(e: ir.Expr) -> int | None:
    """The value of an integer constant (not a bool: `True` is an `int` to Python), else None."""
    if not isinstance(e, ir.Const) or not isinstance(e.type, ir.IntT):
        return None
    value = e.value
    return value if isinstance(value, int) and not isinstance(value, bool) else None
