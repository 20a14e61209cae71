"""Whether the judge tested what a text's contract is about: the conditions of its `ensures`.

Public surface: `Guard`, `guards(module, hole)`, `untested(module, hole, examples)`,
`flip_test(module, hole, guard, seen)`, `flipping(module, hole, guard, seen, examples)`.

An exact contract is often a choice, `x == (if COND then A else B)`: "Heal 50 damage from 1 of
your {G} Pokémon" heals only a Grass target. When no judged state makes `COND` true, the
contract said nothing about the case the text is about, and a fill that does nothing passed it
(hunt R, F1: Erika with no Grass Pokémon in the judged games, "at least 2 extra {W} Energy" with
the attacker never holding extra Energy, Dig's protection never up). A *guard* is the condition
of an `if ... then ... else` inside a clause of the text's contract (`ir.Contract.ensures`),
evaluated like the clause (`old(x)` on the state before the call, captures bound). The judge
(`llm_fill/judge.py`) takes the guards that kept one value over every example
(`untested`), looks for states that give them the other one by redrawing the state fields each
guard reads (`flipping`, through `props.sweep_examples`), checks the fill there, and warns about
a guard no state flipped: a spec's context that cannot reach the case is worth knowing.
A `draws ... among COUNT` clause (`ir.Contract.draw_rules`) gives the guard `COUNT >= 2`, read
on the state before the call as the clause is: the law it states says nothing on calls where
`COUNT` is below 2 ("Put 1 random Nidoran♂ from your deck onto your Bench." with at most one
in the judged decks let a fill that always takes the first one pass).

Decision: a guard that reads a variable bound inside the clause (a comprehension's) has no one
value per call and is left out, as is one with one value on every call (`draws 1 among 10`:
`10 >= 2`); a guard's value is recorded only on calls that did not fault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envc.compiler import ir
from envc.compiler.interp import Interpreter, SpecRuntimeError, State
from envc.llm_fill.textchecks import Example, call_scope, with_contexts


@dataclass
class Guard:
    """The condition `expr` of an `if ... then ... else` in text clause `clause`, or `COUNT >= 2`
    of a `draws ... among COUNT` clause (`on_before`: read on the state before the call);
    `fields` the state fields the condition reads."""

    expr: ir.Expr
    clause: ir.TextClause | ir.DrawRule
    fields: list[str]
    on_before: bool = False


def guards(module: ir.Module, hole: ir.HoleDef) -> list[Guard]:
    """The guards of the contract of `hole`'s text (see the module docstring), in clause order."""
    c = hole.contract
    if c is None:
        return []
    known = {p.name for p in hole.params} | {"result"}
    out = []
    for clause in c.ensures:
        bound = known | set(clause.env)
        for n in ir.walk(clause.expr):
            if not isinstance(n, ir.Cond) or not isinstance(n.cond.type, ir.BoolT):
                continue
            if any(isinstance(x, ir.Local) and x.name not in bound for x in ir.walk(n.cond)) or _constant(n.cond):
                continue
            out.append(Guard(n.cond, clause, _fields_read(module, n.cond)))
    for r in c.draw_rules:
        if _constant(r.count):
            continue  # (`draws 1 among 10`: `10 >= 2` cannot be false, so its "case" is no case: hunt V, F7)
        two = ir.Const(value=2, type=ir.IntT(lo=2, hi=2), span=r.span)
        expr = ir.Binary(op="ge", left=r.count, right=two, type=ir.BOOL, span=r.span)
        out.append(Guard(expr, r, _fields_read(module, r.count), on_before=True))
    return out


_PURE_BUILTINS = {"min", "max", "abs", "clamp", "int", "float"}


def _constant(expr: ir.Expr) -> bool:
    """True when `expr` has one value on every call: it is made of constants, table cells at
    constant rows and pure built-ins only (no state, parameter, capture or call)."""
    return all(isinstance(n, (ir.Const, ir.Binary, ir.Unary, ir.Cond, ir.TableGet))
               or (isinstance(n, ir.Builtin) and n.name in _PURE_BUILTINS) for n in ir.walk(expr))


def _fields_read(module: ir.Module, expr: ir.Expr) -> list[str]:
    """The state fields `expr` reads, through the `fn`s it calls, in declaration order."""
    seen_fns: set[str] = set()
    names: set[str] = set()
    todo: list[Any] = [expr]
    while todo:
        for n in ir.walk_all(todo.pop()):
            if isinstance(n, ir.StateGet):
                names.add(n.name)
            if isinstance(n, ir.CallFn) and n.fn not in seen_fns:
                seen_fns.add(n.fn)
                todo.append(module.fn(n.fn).body)
    return [f.name for f in module.state if f.name in names and not f.builtin]


def value_of(it: Interpreter, hole: ir.HoleDef, guard: Guard, before: State, after: State, args: list[Any],
             result: Any) -> bool | None:
    """The guard's value on one call (None when it faults there)."""
    with call_scope(it, hole, before, before if guard.on_before else after, args, result, guard.clause.env) as env:
        try:
            return bool(it.ev.eval(guard.expr, env))
        except SpecRuntimeError:
            return None


def untested(module: ir.Module, hole: ir.HoleDef, examples: list[Example]) -> list[tuple[Guard, bool]]:
    """The guards that took one value only over `examples` (each with that value); a guard
    that never had a value (it faulted on every call) is left out."""
    module = with_contexts(module)
    it = Interpreter(module)
    out = []
    for g in guards(module, hole):
        values = {v for ex in examples if (v := value_of(it, hole, g, ex.before, ex.after, ex.args, ex.result)) is not None}
        if len(values) == 1:
            out.append((g, values.pop()))
    return out


def flip_test(module: ir.Module, hole: ir.HoleDef, guard: Guard, seen: bool) -> Callable[[Example], bool]:
    """A test of one example: does the guard take the value other than `seen` on it (the
    `flips` of `props.sweep_examples`, which then steers arguments and extras toward it)."""
    it = Interpreter(with_contexts(module))

    def flips(ex: Example) -> bool:
        return value_of(it, hole, guard, ex.before, ex.after, ex.args, ex.result) is (not seen)

    return flips


def flipping(module: ir.Module, hole: ir.HoleDef, guard: Guard, seen: bool, examples: list[Example]
             ) -> list[Example]:
    """Of `examples` (passing calls on states with the guard's fields redrawn,
    `props.sweep_examples`), those where the guard takes the value other than `seen`."""
    it = Interpreter(with_contexts(module))
    return [ex for ex in examples if value_of(it, hole, guard, ex.before, ex.after, ex.args, ex.result) is (not seen)]


def describe(guard: Guard, seen: bool) -> str:
    """`the condition of `ensures ...` (file:line) was false on every state tried`."""
    c = guard.clause
    clause = c.source if isinstance(c, ir.DrawRule) else f"ensures {c.source}"
    return (f"a condition of `{clause}` ({c.span.file}:{c.span.line}) was {str(seen).lower()} on every "
            f"state tried, also with {', '.join(f'`{f}`' for f in guard.fields) or 'no field'} redrawn: the text's "
            "case where it is not was never tested")
