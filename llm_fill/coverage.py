"""Whether the judge tested what a text's contract is about: the conditions of its `ensures`;
and the fill's own branches (`BranchWatch`, at the end).

Public surface: `Guard`, `guards(module, hole)`, `untested(module, hole, examples)`,
`rare(module, hole, examples)`, `flip_test(module, hole, guard, seen)`,
`flipping(module, hole, guard, seen, examples)`, `Branch`, `BranchWatch`.

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

from envc.compiler import builtins, ir, irutil
from envc.compiler.interp import Interpreter, SpecRuntimeError, State
from envc.llm_fill.textchecks import Example, call_scope, with_contexts


@dataclass
class Guard:
    """The condition `expr` of an `if ... then ... else` in text clause `clause`, `COUNT >= 2`
    of a `draws ... among COUNT` clause, or `GUARD` of a `with chance ... where GUARD` clause
    (`on_before`: read on the state before the call); `fields` the state fields the condition
    reads."""

    expr: ir.Expr
    clause: ir.TextClause | ir.DrawRule | ir.ChanceRule
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
    for ch in c.chances:
        if ch.guard is not None and ch.var is None and not _constant(ch.guard):  # (a `for` guard reads its variable)
            out.append(Guard(ch.guard, ch, _fields_read(module, ch.guard), on_before=True))
    return out


def _constant(expr: ir.Expr) -> bool:
    """True when `expr` has one value on every call: it is made of constants, table cells at
    constant rows and the pure built-in functions (`builtins.FUNCTIONS`) only (no state,
    parameter, capture or call)."""
    return all(isinstance(n, (ir.Const, ir.Binary, ir.Unary, ir.Cond, ir.TableGet))
               or (isinstance(n, ir.Builtin) and n.name in builtins.FUNCTIONS) for n in ir.walk(expr))


def _fields_read(module: ir.Module, expr: Any, builtin: bool = False) -> list[str]:
    """The state fields `expr` (a node or a list of them) reads, through the `fn`s it calls, in
    declaration order; built-in fields (`step_count`, `current_player`) only with `builtin`."""
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
    return [f.name for f in module.state if f.name in names and (builtin or not f.builtin)]


def value_of(it: Interpreter, hole: ir.HoleDef, guard: Guard, before: State, after: State, args: list[Any],
             result: Any) -> bool | None:
    """The guard's value on one call (None when it faults there)."""
    with call_scope(it, hole, before, before if guard.on_before else after, args, result, guard.clause.env) as env:
        try:
            return bool(it.ev.eval(guard.expr, env))
        except SpecRuntimeError:
            return None


#: a condition whose rarer value fewer judged calls than this gave is searched for more states
#: (`rare`): hunt V, F5, a contract's condition had flipped, but on one state only, where the
#: wrong fill's mistake could not show
RARE_CASES = 4


def untested(module: ir.Module, hole: ir.HoleDef, examples: list[Example]) -> list[tuple[Guard, bool]]:
    """The guards that took one value only over `examples` (each with that value); a guard
    that never had a value (it faulted on every call) is left out."""
    return [(g, common) for g, common, n in rare(module, hole, examples) if n == 0]


def rare(module: ir.Module, hole: ir.HoleDef, examples: list[Example], at_least: int = RARE_CASES
         ) -> list[tuple[Guard, bool, int]]:
    """The guards whose rarer value fewer than `at_least` of `examples` gave: (guard, its
    common value, how many gave the other); a guard that never had a value is left out."""
    module = with_contexts(module)
    it = Interpreter(module)
    out = []
    for g in guards(module, hole):
        values = [v for ex in examples if (v := value_of(it, hole, g, ex.before, ex.after, ex.args, ex.result)) is not None]
        if not values:
            continue
        common = values.count(True) >= values.count(False)
        if values.count(not common) < at_least:
            out.append((g, common, values.count(not common)))
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
    flips = flip_test(module, hole, guard, seen)
    return [ex for ex in examples if flips(ex)]


def describe(guard: Guard, seen: bool) -> str:
    """`the condition of `ensures ...` (file:line) was false on every state tried`."""
    c = guard.clause
    clause = f"ensures {c.source}" if isinstance(c, ir.TextClause) else c.source
    return (f"a condition of `{clause}` ({c.span.file}:{c.span.line}) was {str(seen).lower()} on every "
            f"state tried, also with {', '.join(f'`{f}`' for f in guard.fields) or 'no field'} redrawn: the text's "
            "case where it is not was never tested")


# ------------------------------------------------------------------ the fill's own branches


@dataclass
class Branch:
    """The condition of an `if` statement or `if ... then ... else` expression of the fill's own
    body, or an operand of one that is an `and`/`or` (`node`), its source, and the state fields
    it may depend on (`fields`: read by it or by the `let`s of the body whose names it reads,
    transitively; built-in fields such as `step_count` included)."""

    node: ir.Node
    source: str
    fields: list[str]


class BranchWatch:
    """Which values the conditions of the fill's own branches took on judged calls.

    Why (hunt V, F3 and F5): the contract's conditions are covered (`untested`), but a fill's
    own condition that no judged state made take its other value hid a wrong fill: `if
    step_count < 30 { ... }` ("Deals 40 damage.") passed at 200 examples, as late states were
    2 of 280. The judge (`Judge._cover`) looks for states where such a condition takes its other
    value, with the fields it reads redrawn (`props.sweep_examples`, steered by `flip_test`),
    and checks the fill there. A branch no state flips is not reported: a fill's defensive
    condition (`if len(deck[p]) > 0`) is often true on every state of the game."""

    def __init__(self, module: ir.Module, hole: ir.HoleDef):
        from envc.compiler.printer import print_source_expr

        self.it = Interpreter(with_contexts(module))
        self.hole = hole
        fn = self.it.module.fn(hole.name)  # (the interpreter's: `choice_points` may rename a body)
        lets = {s.name: s.value for s in irutil.walk_stmts(fn.body) if isinstance(s, ir.Let)}
        self.branches: list[Branch] = []
        elses: list[Branch] = []
        for n in ir.walk_all(fn.body):
            conds = _operands(n.cond) if isinstance(n, (ir.If, ir.Cond)) else []
            for cond in conds:
                self.branches.append(Branch(cond, print_source_expr(cond), self._fields(cond, lets)))
            if isinstance(n, (ir.RandomPick, ir.Choose)) and n.orelse is not None:
                # (whether it found no legal value: hunt V, "The user switches places with a random
                # healthy ally." written `random.pick(...) else 0` switched to slot 0 when none was)
                elses.append(Branch(n, f"`{n.var} in {n.lo}..{n.hi} where {print_source_expr(n.cond)}` found none",
                                    self._fields(n.cond, lets)))
        self.it.ev.branch_log = {id(b.node): set() for b in self.branches}
        self.it.ev.else_log = {id(b.node): set() for b in elses}
        self.branches += elses

    def _fields(self, cond: ir.Expr, lets: dict[str, ir.Expr]) -> list[str]:
        reads = [cond] + [lets[x] for x in _locals_reached(cond, lets)]
        return _fields_read(self.it.module, reads, builtin=True)

    def values(self, ex: Example) -> dict[int, set[bool]]:
        """id(condition) -> the values it took on the call of `ex` (run again)."""
        logs = {**self.it.ev.branch_log, **self.it.ev.else_log}
        for log in logs.values():
            log.clear()
        try:
            self.it.call(ex.before, self.hole.name, ex.args)
        except Exception:  # (a call that faults or cannot run: what it took up to there counts)
            pass
        return {k: set(v) for k, v in logs.items()}

    def rare(self, examples: list[Example], at_least: int = RARE_CASES) -> list[tuple[Branch, bool]]:
        """The branches whose condition took its rarer value on fewer than `at_least` of the
        calls of `examples` (each with its common value); a branch no call reached is left out."""
        counts: dict[int, list[int]] = {id(b.node): [0, 0] for b in self.branches}
        for ex in examples:
            for k, v in self.values(ex).items():
                for value in v:
                    counts[k][value] += 1
        out = []
        for b in self.branches:
            no, yes = counts[id(b.node)]
            if no + yes and min(no, yes) < at_least:
                out.append((b, yes >= no))
        return out

    def flip_test(self, branch: Branch, seen: bool) -> Callable[[Example], bool]:
        """Does the branch's condition take the value other than `seen` on an example's call?"""
        return lambda ex: (not seen) in self.values(ex).get(id(branch.node), set())


def _operands(cond: ir.Expr) -> list[ir.Expr]:
    """`cond` and, when it is an `and`/`or`, its operands (theirs too): each is watched (hunt V:
    `if burned[p][act[p]] and step_count < 30 then 60 else 30` passed, `step_count < 30` being
    true on every state where it was evaluated); constants left out."""
    out = [] if _constant(cond) else [cond]
    if isinstance(cond, ir.Binary) and cond.op in ("and", "or"):
        out += _operands(cond.left) + _operands(cond.right)
    return out


def _locals_reached(expr: ir.Expr, lets: dict[str, ir.Expr]) -> list[str]:
    """The names of `lets` that `expr` reads, and those their values read, transitively."""
    todo = [n.name for n in ir.walk(expr) if isinstance(n, ir.Local) and n.name in lets]
    found: list[str] = []
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.append(name)
        todo += [n.name for n in ir.walk(lets[name]) if isinstance(n, ir.Local) and n.name in lets]
    return found
