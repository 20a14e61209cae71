"""The pass `restrict_dispatch`: a call of a family's dispatch that a guard confines to a few
table rows runs a dispatch over only the members those rows can name (issue 16, DESIGN.md
decision 6).

Public surface: `NAME`, `run(module, ctx) -> ir.Module` (identity on a module without
families), `reachable(module, call, guards) -> frozenset[int] | None` (the effect numbers a
guarded call can reach, for tests and reports). Turn it off with
`--disable-pass restrict_dispatch`.

Why: branchless backends (JAX under `vmap`) run every call site whether it is taken or not,
and the effect table of a dispatch (`effect_tables`) costs the sum of its distinct ops. The
TCG calls `ability_effect` from sites such as

    if occupied[q][0] and card[q][0].ability_kind.on == Trigger.active {
        ability_effect[card[q][0].ability](q, 0)
    }

where only the cards with an `active` ability pass the guard, so only their texts can run.

What it does. The checker turns `fam[index](args)` into `CallProc(fam.dispatch, [index, args...])`.
A call is *guarded* when it is the first statement of the `then` block of an `If`, whose
condition is then a *guard*; the guards of an `If` that is itself the first statement of a
`then` block (or of an `else` block) hold for it too, and so on outwards through first
statements only (the condition of an `If` whose `else` block holds the call is not a guard).
The call is rewritten when:

1. its index is `TableGet(fam.table, column, R)` for a column of the family, where `R` (the
   *row*) is an expression of type `RowT(fam.table, n)` with no random draw
   (`ir.first_draw`) and no constant;
2. some conjunct (`a and b and ...` split on `and`) of some guard contains an expression
   structurally equal to `R` (the same IR ignoring source spans; no string comparison) and,
   with every such occurrence replaced by a local bound to row `i`, evaluates to a constant
   boolean, for every row `i` in `0..n` (the reference interpreter's `Evaluator` computes it,
   with no state: a conjunct that reads the state or another local, itself or through its fns
   (`_reads_more`), that draws, or that faults or divides by zero on a row is not one);
   conjuncts that fail this are ignored (dropping a conjunct only widens the set);
3. the index, with `R` replaced the same way, evaluates for every row.

The *reachable set* is then the effect numbers `index(i)` of the rows `i` where every usable
conjunct holds, intersected with the members the called dispatch runs. When it is smaller
than that, the call is redirected to `fam.dispatch + "__" + k` (k = 1, 2, ... per family, one
proc per distinct set), a copy of the dispatch proc whose `if effect == n` chain keeps only
the members of the set (the same parameters, so the call's arguments are unchanged and are
all still evaluated: their faults and draws stay). `FamilyDef.restricted` lists these procs,
and `effect_tables` builds a table for each, whose cost is that of the set's ops only.

Guarantee (exactness): the interpreter runs the same trajectories with and without the pass.
Between the evaluation of a guard and of the call's index nothing runs but the evaluation of
conditions (`If` conditions are expressions: they write no local; a draw only advances the
random stream, which `R` does not read, being draw-free; a take from a list, `pop()` or
`draw()`, writes the state, so only the guards after the last condition that takes count:
`_after_takes`) and the index is
evaluated first among the call's arguments, so `R` has the same value `r` at both. The call
runs only if every guard holds, so every usable conjunct holds for row `r`: the index is
`index(r)`, which is in the reachable set or is a number the original dispatch does nothing
for. On the numbers of the set the restricted chain runs the same member with the same
arguments, and on every other number both do nothing. A call whose conditions cannot be
decided for every row is left as it is.

Static data only: the rows are all rows of the table (`0..n`), not only those some deck puts
in play (`FamilyDef.needed_rows`): a state may hold rows that no deck lists (the TCG's
`NamedCard.first`), and proving otherwise needs a flow analysis this pass does not do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envc.compiler import ir, irutil
from envc.compiler.interp import ConstEvalError, Evaluator, SpecRuntimeError
from envc.compiler.passes.effect_tables import dispatch_chain

NAME = "restrict_dispatch"

_ROW_LOCAL = "__restrict_row"  # the local a row is bound to; `__` names are not spec names


def _links(d: ir.FnDef) -> dict[int, ir.If] | None:
    links = dispatch_chain(d)
    return dict(links) if links is not None else None


def _substituted(e: ir.Expr, row_key: Any, row_type: ir.Type) -> tuple[ir.Expr, bool]:
    """`e` with each occurrence of the row replaced by the row local, and whether any was."""
    hit = False

    def swap(node: ir.Node) -> ir.Node | None:
        nonlocal hit
        if isinstance(node, ir.ExprNode) and irutil.shape_key(node) == row_key:
            hit = True
            return ir.Local(name=_ROW_LOCAL, type=row_type, span=node.span)
        return None

    return ir.transform(e, swap), hit


class _Restrictor:
    """The rewrite of one module (see the module docstring)."""

    def __init__(self, module: ir.Module):
        self.module = module
        self.fns = {f.name: f for f in module.fns}
        self.fam_of = {f.dispatch: f for f in module.families}
        self.ev = Evaluator(module)
        # dispatch -> the `If` of each effect number in the checker's chain (None: another shape)
        self.chains = {d: _links(self.fns[d]) for d in self.fam_of if d in self.fns}
        # (family dispatch, member set) -> restricted proc name, in order of creation
        self.made: dict[tuple[str, frozenset[int]], str] = {}

    def _eval_rows(self, e: ir.Expr, rows: int) -> list[Any] | None:
        """The value of `e` (reading the row local) for each row, or None when it is not
        constant for some row."""
        out = []
        try:
            for i in range(rows):
                out.append(self.ev.eval(e, {_ROW_LOCAL: i}))
        except (ConstEvalError, SpecRuntimeError, ArithmeticError):
            return None  # (a conjunct evaluated apart from the one before it: `12 / c.cost` of `c.cost > 0 and ...`)
        return out

    def _reads_more(self, e: ir.Expr) -> bool:
        """Whether `e` reads the state or a local other than the row's, itself or through the
        fns it calls: not a constant for a row (the stateless `Evaluator` would fail on it with
        whatever error its fast paths raise: `wanted[p]` of a state array, a local array)."""
        if irutil.free_locals(e) - {_ROW_LOCAL}:
            return True
        seen: set[str] = set()
        todo: list[Any] = [e]
        while todo:
            node = todo.pop()
            for n in ir.walk_all(node):
                if isinstance(n, ir.StateGet) or (isinstance(n, ir.Place) and n.root == "state"):
                    return True
                if isinstance(n, ir.CallFn) and n.fn in self.fns and n.fn not in seen:
                    seen.add(n.fn)
                    todo.append(self.fns[n.fn].body)
        return False

    def reachable(self, call: ir.CallProc, guards: list[ir.Expr]) -> frozenset[int] | None:
        """The effect numbers the guarded `call` can reach, or None when the call is not a
        family dispatch of the form the module docstring states, or no guard decides it."""
        fam = self.fam_of.get(call.proc)
        chain = self.chains.get(call.proc)
        if fam is None or chain is None or not call.args or not guards:
            return None
        index = call.args[0]
        if not (isinstance(index, ir.TableGet) and index.table == fam.table and index.column in fam.columns):
            return None
        row = index.row
        if not isinstance(row.type, ir.RowT) or isinstance(row, ir.Const) or ir.first_draw(row) is not None:
            return None
        rows, key = row.type.rows, irutil.shape_key(row)
        numbers = self._eval_rows(_substituted(index, key, row.type)[0], rows)
        if numbers is None:
            return None
        allowed = [True] * rows
        decided = False
        for c in [c for g in _after_takes(guards) for c in irutil.conjuncts(g)]:
            sub, hit = _substituted(c, key, row.type)
            values = self._eval_rows(sub, rows) if hit and not self._reads_more(sub) else None
            if values is None or not all(isinstance(v, (bool, np.bool_)) for v in values):
                continue
            decided = True
            allowed = [a and bool(v) for a, v in zip(allowed, values)]
        if not decided:
            return None
        return frozenset(int(n) for n, a in zip(numbers, allowed) if a) & frozenset(chain)

    def _restricted(self, dispatch: str, keep: frozenset[int]) -> str:
        name = self.made.get((dispatch, keep))
        if name is not None:
            return name
        taken = set(self.fns) | set(self.made.values())
        k = 1
        while f"{dispatch}__{k}" in taken:  # (a second run of the pass keeps the first's names)
            k += 1
        self.made[(dispatch, keep)] = name = f"{dispatch}__{k}"
        return name

    def stmt(self, s: ir.Node, guards: list[ir.Expr]) -> ir.Node:
        """`s` rewritten; `guards` hold when `s` starts (it is a first statement under them)."""
        if isinstance(s, ir.If):
            then = [self.stmt(x, guards + [s.cond] if i == 0 else []) for i, x in enumerate(s.then)]
            orelse = [self.stmt(x, guards if i == 0 else []) for i, x in enumerate(s.orelse)]
            if all(a is b for a, b in zip(then + orelse, s.then + s.orelse)):
                return s
            return s.model_copy(update={"then": then, "orelse": orelse})
        if isinstance(s, ir.CallProc):
            keep = self.reachable(s, guards)
            chain = self.chains.get(s.proc)
            if keep is None or chain is None or keep == frozenset(chain):
                return s
            return s.model_copy(update={"proc": self._restricted(s.proc, keep)})
        if isinstance(s, ir.ExprNode):
            return s  # expressions hold no statements
        return ir.map_children(s, lambda c: self.stmt(c, []))

    def proc(self, dispatch: str, keep: frozenset[int], name: str) -> ir.FnDef:
        """A copy of the dispatch proc whose chain runs only the members numbered in `keep`."""
        d, chain = self.fns[dispatch], self.chains[dispatch]
        assert chain is not None  # a restricted proc is only made for a dispatch with a chain
        body: list[ir.Stmt] = []
        for n, s in sorted(chain.items(), reverse=True):
            if n in keep:  # (deep: no statement shared with the dispatch, as the interpreter's
                # pause plans are keyed by statement: with `effect_tables` off, a shared member
                # call paused in one body resumed in the other's plan, StopIteration)
                body = [s.model_copy(update={"orelse": body}, deep=True)]
        return d.model_copy(update={"name": name, "body": body})


def _after_takes(guards: list[ir.Expr]) -> list[ir.Expr]:
    """The guards evaluated after the last one that takes from a list (`pop()`, `draw()`): a
    take changes the state a row expression reads, so a guard before it, or holding it, says
    nothing of the row at the call (`if int(hand.draw()) >= 0` between `if hand[0].kind ==
    ...` and `fam[hand[0].effect]`: a fresh-spec hunt found the call restricted to the drawn
    card's texts)."""
    last = max((i for i, g in enumerate(guards) if any(isinstance(n, ir.ListTake) for n in ir.walk(g))), default=-1)
    return guards[last + 1:]


def run(module: ir.Module, ctx: Any = None) -> ir.Module:
    """Redirect each guarded family dispatch call to a dispatch over its reachable members (see
    the module docstring). `ctx` (a `PassContext`) holds no option of this pass."""
    if not module.families:
        return module
    r = _Restrictor(module)
    if not any(r.chains.values()):
        return module
    code = {f: [r.stmt(x, []) for x in getattr(module, f)] for f in ("init", "actions", "fns", "epilogue")}
    if not r.made:
        return module
    new: dict[str, list[ir.FnDef]] = {d: [] for d in r.fam_of}  # dispatch -> its restricted procs
    for (d, keep), name in r.made.items():
        new[d].append(r.proc(d, keep, name))
    fns: list[ir.FnDef] = []
    for f in code.pop("fns"):
        assert isinstance(f, ir.FnDef)
        fns += [f, *new.get(f.name, [])]
    families = [f.model_copy(update={"restricted": [*f.restricted, *(p.name for p in new[f.dispatch])]})
                for f in module.families]
    return module.model_copy(update={**code, "fns": fns, "families": families})
