"""Small helpers over IR trees, shared by the checker's desugarings and the passes.

Public surface: `substitute(node, mapping)` (capture-avoiding replacement of locals),
`local_refs(node)` (the local names a node reads or assigns), `free_locals(node)` (those it does not bind), `zero_const(module, t)`,
`int_const(v)`, `bool_const(v)`, `local(name, t)`, `state(name, t)`, `binop(op, a, b)`,
`map_blocks(stmts, fn)`, `always_le(a, b)`, `by_identity(maxsize)`, `shape_key(x, ignore)`,
`conjuncts(e)`, `is_atom(e)`, `bind(name, e)`, `takes(node)`.

Everything here is a pure function of IR nodes (frozen pydantic models): it returns new
nodes and never changes the ones it is given.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from envc.compiler import ir

_R = TypeVar("_R")


class _Same:
    """A key that is equal only to a key of the same object (nodes compare by value, which is
    slow on a module and would also merge equal modules built apart)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj


def by_identity(maxsize: int) -> Callable[[Callable[[Any], _R]], Callable[[Any], _R]]:
    """Decorator: remember a one-argument function's result for its last `maxsize` arguments,
    told apart by identity (`functools.lru_cache` over a key holding the argument, so the
    argument stays alive while it is remembered and its id cannot be reused).

    Sound for a pure function of IR nodes: nodes are frozen, and no one changes their lists in
    place (the passes return new nodes, see the module docstring). Why: the fill judge builds an
    interpreter on the same module many times per fill, and each ran the pass `choice_points`
    again (0.4 s on the TCG; the cause of most of a fill's judging time). An exception is not
    remembered."""
    def wrap(fn: Callable[[Any], _R]) -> Callable[[Any], _R]:
        @functools.lru_cache(maxsize=maxsize)
        def cached(key: _Same) -> _R:
            return fn(key.obj)

        @functools.wraps(fn)
        def call(x: Any) -> _R:
            return cached(_Same(x))

        return call

    return wrap


def int_const(v: int) -> ir.Const:
    """The integer constant `v`, typed `int[v..v]`."""
    return ir.Const(type=ir.IntT(lo=v, hi=v), value=v)


def bool_const(v: bool) -> ir.Const:
    """The boolean constant `v`."""
    return ir.Const(type=ir.BOOL, value=v)


def local(name: str, t: ir.Type) -> ir.Local:
    """A read of local `name` of type `t`."""
    return ir.Local(name=name, type=t)


def state(name: str, t: ir.Type) -> ir.StateGet:
    """A read of state field `name` of type `t`."""
    return ir.StateGet(name=name, type=t)


def binop(op: ir.BinaryOp, a: ir.Expr, b: ir.Expr) -> ir.Binary:
    """`a op b` for comparisons and `and`/`or` (type bool), or integer `add`/`sub` (the range
    of the result computed here)."""
    if op in ("eq", "ne", "lt", "le", "gt", "ge", "and", "or"):
        return ir.Binary(op=op, left=a, right=b, type=ir.BOOL)
    x, y = a.type, b.type
    assert isinstance(x, ir.IntT) and isinstance(y, ir.IntT), (op, x, y)
    if op == "add":
        t = ir.IntT(lo=x.lo + y.lo, hi=x.hi + y.hi)
    elif op == "sub":
        t = ir.IntT(lo=x.lo - y.hi, hi=x.hi - y.lo)
    else:
        corners = [x.lo * y.lo, x.lo * y.hi, x.hi * y.lo, x.hi * y.hi]
        t = ir.IntT(lo=min(corners), hi=max(corners))
    return ir.Binary(op=op, left=a, right=b, type=t)


def not_(e: ir.Expr) -> ir.Expr:
    """The negation of boolean `e`, a constant folded."""
    if isinstance(e, ir.Const):
        return bool_const(not e.value)
    return ir.Unary(op="not", operand=e, type=ir.BOOL)


def and_(*parts: ir.Expr) -> ir.Expr:
    """The conjunction of `parts`, constants folded (`true` for none)."""
    items = [p for p in parts if not (isinstance(p, ir.Const) and p.value is True)]
    if any(isinstance(p, ir.Const) and p.value is False for p in items):
        return bool_const(False)
    if not items:
        return bool_const(True)
    out = items[0]
    for p in items[1:]:
        out = binop("and", out, p)
    return out


def or_(*parts: ir.Expr) -> ir.Expr:
    """The disjunction of `parts`, constants folded (`false` for none)."""
    items = [p for p in parts if not (isinstance(p, ir.Const) and p.value is False)]
    if any(isinstance(p, ir.Const) and p.value is True for p in items):
        return bool_const(True)
    if not items:
        return bool_const(False)
    out = items[0]
    for p in items[1:]:
        out = binop("or", out, p)
    return out


def zero_const(module: ir.Module, t: ir.Type) -> ir.Const:
    """A constant of type `t` holding its zero value (`ir.zero_value`)."""
    return ir.Const(type=t, value=ir.zero_value(module, t))


# ------------------------------------------------------------------ locals


def local_refs(node: Any, out: set[str] | None = None) -> set[str]:
    """The names of the locals that `node` (an IR node or a list of them) reads or assigns:
    `Local` reads and the roots of `Place`s rooted at a local. Comprehension variables are
    included where they are read (callers that care remove the binders themselves)."""
    if out is None:
        out = set()
    if isinstance(node, (list, tuple)):
        for x in node:
            local_refs(x, out)
        return out
    if not isinstance(node, ir.Node):
        return out
    for n in ir.walk(node):
        if isinstance(n, ir.Local) or (isinstance(n, ir.Place) and n.root == "local"):
            out.add(n.name)
    return out


def free_locals(node: Any) -> set[str]:
    """The names of the locals `node` (an IR node or a list of them) reads or assigns that it
    does not bind itself: `local_refs` without the variables of the comprehensions,
    reductions and `random.pick`s inside it, where they are read in their own body."""
    if isinstance(node, (list, tuple)):
        return set().union(*(free_locals(x) for x in node))
    if not isinstance(node, ir.Node):
        return set()
    out: set[str] = set()
    if isinstance(node, ir.Local) or (isinstance(node, ir.Place) and node.root == "local"):
        out.add(node.name)
    for child in ir.children(node):
        out |= free_locals(child)
    if isinstance(node, (ir.Reduce, ir.ArrayBuild, ir.RandomPick)):
        out.discard(node.var)
    return out


def holds(param: ir.Type, arg: ir.Type) -> bool:
    """True when every value of type `arg` is a value of type `param` (an argument passed for a
    parameter of type `param` then needs no cast: an inlined call substitutes it as it is)."""
    if isinstance(param, ir.IntT) and isinstance(arg, ir.IntT):
        return param.lo <= arg.lo and arg.hi <= param.hi
    return param == arg


def shape_key(x: Any, ignore: tuple[str, ...] = ("span",)) -> Any:
    """A hashable structural key of an IR value that ignores the fields `ignore` (source spans):
    two expressions have the same key when they are the same IR (`xs[i]` written twice)."""
    if isinstance(x, ir.Node):
        return (type(x).__name__,
                tuple((f, shape_key(getattr(x, f), ignore)) for f in type(x).model_fields if f not in ignore))
    if isinstance(x, (list, tuple)):
        return tuple(shape_key(i, ignore) for i in x)
    return x


def is_atom(e: ir.Expr) -> bool:
    """Whether `e` is a constant or a local: reading it again gives the same value, for free."""
    return isinstance(e, (ir.Const, ir.Local))


def bind(name: str, e: ir.Expr) -> tuple[ir.Let, ir.Local]:
    """A `let` of local `name` holding `e` (its type and span), and a read of that local: how a
    pass evaluates an operand once, before the statement that reads it."""
    return ir.Let(name=name, type=e.type, value=e, span=e.span), ir.Local(name=name, type=e.type, span=e.span)


def conjuncts(e: ir.Expr) -> list[ir.Expr]:
    """The operands of an `and` chain, in evaluation order (`[e]` for any other expression)."""
    if isinstance(e, ir.Binary) and e.op == "and":
        return conjuncts(e.left) + conjuncts(e.right)
    return [e]


def takes(node: ir.Node) -> bool:
    """Whether evaluating `node` takes from a list (`pop()`, `draw()`): a list it reads may be
    shorter after it."""
    return any(isinstance(n, ir.ListTake) for n in ir.walk(node))


def draws(node: ir.Node) -> bool:
    """Whether evaluating `node` draws a random number or takes from a list, places included
    (`ir.first_draw` does not look into a place's indices)."""
    return any(isinstance(n, (ir.RandomInt, ir.RandomPick, ir.ListTake)) for n in ir.walk(node))


def always_le(a: ir.Expr, b: ir.Expr) -> bool:
    """Whether `a <= b` holds whatever the values `a` and `b` read: `b - a` as a sum of integer
    terms (through `+`, `-`, negation and products with a constant), with the terms that are the
    same expression in both cancelling (alike as printed, drawing nothing), and the rest's lowest
    value, from the terms' ranges, at least 0. `random.int(k, k)` and `random.int(k, k + 2)` hold
    whatever `k` is, which the ranges of the two bounds alone cannot tell (hunt S). Bounds that
    draw or take from a list are not compared (a `pop()` in `a` changes a `len` that `b` reads)."""
    if draws(a) or draws(b):
        return False
    terms: dict[str, list] = {}
    const = _linear(b, 1, terms) + _linear(a, -1, terms)
    low = const
    for coef, t in terms.values():
        if coef:
            low += coef * (t.lo if coef > 0 else t.hi)
    return low >= 0


def _linear(e: ir.Expr, coef: int, terms: dict[str, list]) -> int:
    """Add `coef * e`'s terms to `terms` (printed text -> [coefficient, range]); returns its
    constant part."""
    from envc.compiler.printer import print_expr

    if isinstance(e, ir.Const) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return coef * e.value
    if isinstance(e, ir.Unary) and e.op == "neg":
        return _linear(e.operand, -coef, terms)
    if isinstance(e, ir.Binary) and e.op in ("add", "sub"):
        right = coef if e.op == "add" else -coef
        return _linear(e.left, coef, terms) + _linear(e.right, right, terms)
    if isinstance(e, ir.Binary) and e.op == "mul":
        for factor, other in ((e.right, e.left), (e.left, e.right)):
            if isinstance(factor, ir.Const) and isinstance(factor.value, int) and not isinstance(factor.value, bool):
                return _linear(other, coef * factor.value, terms)
    t = e.type
    assert isinstance(t, ir.IntT), t  # (the checker asks only about integers)
    entry = terms.setdefault(print_expr(e), [0, t])
    entry[0] += coef
    return 0


def substitute(node: Any, mapping: dict[str, Any], fresh: Callable[[str], str] | None = None) -> Any:
    """A copy of `node` in which every free `Local(name)` with `name` in `mapping` is replaced:
    by `mapping[name]` when it is an expression, or renamed when it is a string (places rooted
    at a renamed local are renamed too). Comprehension, `random.pick` and `choose` variables
    bind their names: inside them the outer mapping of that name does not apply, and a binder
    whose name occurs free in a replacement expression is renamed first (`fresh(name)` gives
    the new name), so that nothing is captured."""
    counter = [0]

    def default_fresh(name: str) -> str:
        counter[0] += 1
        return f"{name}__s{counter[0]}"

    return _subst(node, mapping, fresh or default_fresh)


def _binder_renamed(var: str, mapping: dict[str, Any], fresh) -> tuple[str, dict[str, Any]]:
    inner = {k: v for k, v in mapping.items() if k != var}
    free: set[str] = set()
    for v in inner.values():
        if isinstance(v, ir.Node):
            local_refs(v, free)
        elif isinstance(v, str):
            free.add(v)
    if var in free:
        new = fresh(var)
        inner[var] = new
        return new, inner
    return var, inner


def _subst(node: Any, mapping: dict[str, Any], fresh) -> Any:
    if isinstance(node, list):
        return [_subst(x, mapping, fresh) for x in node]
    if isinstance(node, tuple):
        return tuple(_subst(x, mapping, fresh) for x in node)
    if not isinstance(node, ir.Node) or isinstance(node, ir.TYPE_NODES) or not mapping:
        return node
    if isinstance(node, ir.Local):
        value = mapping.get(node.name)
        if value is None:
            return node
        return node.model_copy(update={"name": value}) if isinstance(value, str) else value
    if isinstance(node, (ir.Reduce, ir.ArrayBuild, ir.RandomPick, ir.Choose)):
        return _subst_binder(node, mapping, fresh)
    if isinstance(node, ir.Place) and node.root == "local" and isinstance(mapping.get(node.name), str):
        node = node.model_copy(update={"name": mapping[node.name]})
    return ir.map_children(node, lambda child: _subst(child, mapping, fresh))


def _subst_binder(node: ir.Reduce | ir.ArrayBuild | ir.RandomPick | ir.Choose, mapping: dict[str, Any],
                  fresh) -> Any:
    """`_subst` of a node that binds `var`: its scoped parts (`body`, `cond`) see `var`
    (renamed apart when it would capture a substituted name), the others (`orelse`,
    `place`, `chooser`) the outer mapping."""
    var, inner = _binder_renamed(node.var, mapping, fresh)
    update: dict[str, Any] = {"var": var}
    for name in ("body", "cond"):
        if name in type(node).model_fields:
            update[name] = _subst(getattr(node, name), inner, fresh)
    outer = ("place", "chooser", "orelse") if isinstance(node, ir.Choose) else \
        ("orelse",) if isinstance(node, ir.RandomPick) else ()
    for name in outer:
        update[name] = _subst(getattr(node, name), mapping, fresh)
    return node.model_copy(update=update)


# ------------------------------------------------------------------ statements


def map_blocks(stmts: list[ir.Stmt], fn: Callable[[list[ir.Stmt]], list[ir.Stmt]]) -> list[ir.Stmt]:
    """`fn` applied to every block of `stmts`, innermost first, then to `stmts` itself."""
    out = []
    for s in stmts:
        if isinstance(s, ir.If):
            s = s.model_copy(update={"then": map_blocks(s.then, fn), "orelse": map_blocks(s.orelse, fn)})
        elif isinstance(s, ir.For):
            s = s.model_copy(update={"body": map_blocks(s.body, fn)})
        elif isinstance(s, ir.Match):
            s = s.model_copy(update={"arms": [a.model_copy(update={"body": map_blocks(a.body, fn)}) for a in s.arms]})
        out.append(s)
    return fn(out)


def walk_stmts(stmts: list[ir.Stmt]):
    """Every statement in `stmts` and in their blocks, in pre-order (a block's statements in
    order; `if` then `else`; `match` arms in order)."""
    for s in stmts:
        yield s
        yield from walk_stmts(sub_blocks_flat(s))


def sub_blocks(s: ir.Stmt) -> list[list[ir.Stmt]]:
    """The blocks directly inside statement `s`, in order."""
    if isinstance(s, ir.If):
        return [s.then, s.orelse]
    if isinstance(s, ir.For):
        return [s.body]
    if isinstance(s, ir.Match):
        return [a.body for a in s.arms]
    return []


def sub_blocks_flat(s: ir.Stmt) -> list[ir.Stmt]:
    """The statements of every block directly inside `s` (`sub_blocks`), in order, as one list."""
    return [x for block in sub_blocks(s) for x in block]
