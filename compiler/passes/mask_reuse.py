"""Reuse of one action kind's legal-action mask inside another kind's guard.

A guard often asks whether another kind is legal: Othello's `pass` is legal when no `place`
is (`not any(legal(place(c)) for c in 0..64)`, or the same written with `place`'s guard
function). `legal(kind(args))` is inlined by the checker (the guard with the arguments
substituted), so the IR keeps no trace of it; evaluated as written, a backend that builds
every kind's mask computes `place`'s guards twice (bench/RESULTS.md, "Where othello's time
goes": `m_pass` cost as much as `m_place`).

`plan(module)` finds, in each kind's guard, the subexpressions that are another kind's guard
with its parameters replaced by arguments (a structural match: the same IR up to spans and
the names of comprehension variables, each parameter bound to one expression whose range
lies in the parameter's), whatever the spec wrote (`legal(...)` or the guard's text itself),
and replaces each by a call to the pseudo-function `#legal_<kind>` with the arguments in the
kind's parameter order. A backend lowers that call as a read of the kind's mask, computed
first (`order`). `#` is in no spec name, so the pseudo-function cannot clash with a spec's.

Only guards that weigh at least `MIN_WEIGHT` IR nodes (called functions' bodies included)
are reused: a one-cell test (`board[cell] == -1`) costs no more than reading the mask, and
leaving it keeps the lowering's static reads. An edge that would close a cycle (two kinds
whose guards contain each other, i.e. the same guard) is not taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from envc.compiler import ir

PREFIX = "#legal_"
MIN_WEIGHT = 24


@dataclass
class MaskPlan:
    """`guards[k]`: kind `k`'s guard with reused masks as `#legal_<kind>` calls (kinds with
    a guard only); `deps[k]`: the kinds whose masks it reads, by index; `order`: the kinds
    with a guard, each after its dependencies (kind order otherwise)."""

    guards: dict[int, ir.Expr] = field(default_factory=dict)
    deps: dict[int, list[int]] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)


def plan(module: ir.Module) -> MaskPlan:
    """The reuse plan of `module`'s guards (see the module's docstring). Pure: the module is
    not changed; a spec without reuse gets its guards back unchanged and `deps` empty."""
    out = MaskPlan()
    actions = list(module.actions)
    weights = {i: _weight(module, a.guard, frozenset()) for i, a in enumerate(actions) if a.guard is not None}
    patterns = [i for i in weights if weights[i] >= MIN_WEIGHT]
    for i, a in enumerate(actions):
        if a.guard is None:
            continue
        used: list[int] = []
        candidates = [j for j in patterns if j != i]
        out.guards[i] = _rewrite(a.guard, [(j, actions[j]) for j in candidates], used)
        out.deps[i] = sorted(set(used))
    # a dependency that closes a cycle is undone: that kind keeps its own guard
    for i in list(out.deps):
        if any(_reaches(out.deps, j, i) for j in out.deps[i]):
            out.guards[i] = cast(ir.Expr, actions[i].guard)  # only kinds with a guard are in deps
            out.deps[i] = []
    out.order = _topological(sorted(out.guards), out.deps)
    return out


def _reaches(deps: dict[int, list[int]], start: int, goal: int) -> bool:
    seen, todo = set(), [start]
    while todo:
        k = todo.pop()
        if k == goal:
            return True
        if k in seen:
            continue
        seen.add(k)
        todo.extend(deps.get(k, []))
    return False


def _topological(kinds: list[int], deps: dict[int, list[int]]) -> list[int]:
    order: list[int] = []

    def visit(k: int) -> None:
        if k in order:
            return
        for d in deps.get(k, []):
            visit(d)
        order.append(k)

    for k in kinds:
        visit(k)
    return order


def _weight(module: ir.Module, node, seen: frozenset) -> int:
    """IR nodes under `node`, the bodies of the functions it calls included (once per call)."""
    n = 0
    for item in ir.walk_all(node):
        n += 1
        if isinstance(item, ir.CallFn) and item.fn not in seen:
            n += _weight(module, module.fn(item.fn).body, seen | {item.fn})
    return n


def _rewrite(e, candidates, used: list[int]) -> ir.Expr:
    """`e` with every outermost subexpression that matches a candidate's guard replaced by
    its `#legal_` call (the kinds matched are appended to `used`)."""
    for j, a in candidates:
        args = match(a.guard, e, {p.name: p.type for p in a.params})
        if args is None:
            continue
        used.append(j)
        return ir.CallFn(fn=PREFIX + a.name, args=[args[p.name] for p in a.params], type=ir.BOOL, span=e.span)
    rewritten = ir.map_children(e, lambda c: _rewrite(c, candidates, used) if isinstance(c, ir.ExprNode) else c)
    return cast(ir.Expr, rewritten)


def match(pattern: ir.Expr, target: ir.Expr, params: dict[str, ir.Type]) -> dict[str, ir.Expr] | None:
    """The arguments (by parameter name) for which `pattern` with its free locals `params`
    replaced is `target`, or None. Every parameter must occur in `pattern`; an argument may
    not read a variable bound inside `target`, and its type must lie in the parameter's
    (an int range inside the parameter's range), so that it indexes the mask."""
    binds: dict[str, ir.Expr] = {}
    if not _unify(pattern, target, params, binds, {}, set()):
        return None
    if set(binds) != set(params):
        return None
    return binds


def _fits(param: ir.Type, arg: ir.Type) -> bool:
    if isinstance(param, ir.IntT):
        return isinstance(arg, ir.IntT) and param.lo <= arg.lo and arg.hi <= param.hi
    return param == arg


def _bind(name: str, t, params: dict[str, ir.Type], binds: dict, bound_t: set[str]) -> bool:
    """Parameter `name` of the pattern is argument `t`: a draw-free expression in the
    parameter's range that reads no variable bound inside the match, the same every time."""
    if not isinstance(t, ir.ExprNode) or ir.first_draw(t) is not None or not _fits(params[name], t.type):
        return False
    if _reads_any(t, bound_t):
        return False
    if name in binds:
        return _unify(binds[name], t, {}, {}, {}, set())
    binds[name] = t
    return True


def _unify(p, t, params: dict[str, ir.Type], binds: dict, ren: dict[str, str], bound_t: set[str]) -> bool:
    if isinstance(p, ir.Local) and p.name in params and p.name not in ren:
        return _bind(p.name, t, params, binds, bound_t)
    if type(p) is not type(t):
        return False
    if isinstance(p, ir.Local):
        return p.type == t.type and t.name == ren.get(p.name, p.name) and (p.name in ren or t.name not in bound_t)
    if isinstance(p, (ir.RandomInt, ir.RandomPick, ir.ListTake)):
        return False
    if isinstance(p, (ir.Reduce, ir.ArrayBuild)):
        if (p.lo, p.hi, p.type, getattr(p, "op", None)) != (t.lo, t.hi, t.type, getattr(t, "op", None)):
            return False
        return _unify(p.body, t.body, params, binds, {**ren, p.var: t.var}, bound_t | {t.var})
    for name in type(p).model_fields:
        if name == "span":
            continue
        if not _same_value(getattr(p, name), getattr(t, name), params, binds, ren, bound_t):
            return False
    return True


def _same_value(a, b, params, binds, ren, bound_t) -> bool:
    if isinstance(a, ir.ExprNode):
        return _unify(a, b, params, binds, ren, bound_t)
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return False
        return all(_same_value(x, y, params, binds, ren, bound_t) for x, y in zip(a, b))
    return a == b


def _reads_any(e: ir.ExprNode, names: set[str]) -> bool:
    if not names:
        return False
    return any(isinstance(n, ir.Local) and n.name in names for n in ir.walk(e))
