"""Speculative grouping keys of the actions (DESIGN.md decision 6): which card text a row of a
batch is about to run, guessed from the state before its step.

Public surface: `row_key(module, action) -> ir.Expr | None` (an int expression; its type's range
is the key's).

The generated JAX rollout steps a batch by action kind (`_step_rows`: the rows of one kind,
`chunk` at a time, through that kind's branch), and inside a branch a heavy `if` arm runs only
when some row of the trip takes it (runtime `_branch_any`). A card game's dispatch of effect
texts has dozens of such arms, one per verb of its texts; a trip of rows taken in batch order
plays most of them. Sorting a kind's rows by the effect each will run puts rows of the same
text in the same trip, so that a trip runs few of the arms.

`row_key` finds that effect for one action: the first argument (the effect number) of a call
of a hole family's dispatch proc that its body reaches (the costliest family's, `row_key`),
walking the body in order into `if` arms (then before else), `match` arms, loop bodies (the
loop variable at its first value) and called procs (their parameters bound to the arguments),
with each `let` and each assignment of a whole local replaced by its value. It is kept when
what remains reads only
the action's parameters, the state, tables and constants, and draws nothing. It is a guess:
the state may change before the call, a loop may reach it in another iteration, an arm not
taken may hold it. A wrong guess costs speed only: the order of the rows never changes what a
row's step computes (tests/test_step_rows.py).
"""

from __future__ import annotations

from envc.compiler import ir, irutil

# the deepest chain of proc calls followed into (a spec's call graph has no cycles: the checker
# refuses recursion; the bound only keeps a pathological chain cheap)
MAX_DEPTH = 16


def row_key(module: ir.Module, action: ir.ActionDef) -> ir.Expr | None:
    """The guessed effect number of `action` (see the module docstring): an int expression over
    the state before the step and the action's parameters, or None when its body
    reaches no dispatch, or the argument depends on anything but the state, tables, constants
    and the action's parameters (a local computed in a loop, a draw). Of the dispatch calls
    the body reaches, the key is that of the family with the most filled texts (the costliest
    dispatch) discounted by the depth of procedure calls it sits at (`size / (1 + depth)`: a
    Trainer's own text called by the action itself ranks above the abilities that its
    knock-outs may trigger three calls down), the first reached among equals. Run it on the
    module of `pipeline.PASSES` (before `LOWERING`, whose state machines for `choose` hide the
    argument in locals set under conditions); the expression stays valid after it (state,
    tables and parameters)."""
    family_of = {f.dispatch: f for f in module.families}
    family_of |= {r: f for f in module.families for r in f.restricted}
    if not family_of:
        return None
    walker = _Walker({f.name: f for f in module.fns}, set(family_of))
    walker.block(action.body, {}, 0)
    params = {p.name for p in action.params}
    best: tuple[float, ir.Expr] | None = None
    for proc, found, depth in walker.found:
        if not isinstance(found.type, ir.IntT) or ir.first_draw(found) is not None:
            continue
        if not irutil.local_refs(found, set()) <= params:
            continue
        score = len(family_of[proc].members) / (1 + depth)
        if best is None or score > best[0]:
            best = (score, found)
    return None if best is None else best[1]


class _Walker:
    """Collects `found`: (dispatch proc, its effect argument with the locals substituted, the
    depth of procedure calls) for every dispatch call a body reaches, in the order of the walk."""

    def __init__(self, fns: dict[str, ir.FnDef], dispatches: set[str]):
        self.fns = fns
        self.dispatches = dispatches
        self.found: list[tuple[str, ir.Expr, int]] = []

    def block(self, stmts: list[ir.Stmt], env: dict[str, ir.Expr], depth: int) -> None:
        """Walk `stmts` with `env` (locals to their values), updated by the `let`s and
        assignments passed."""
        for s in stmts:
            self.stmt(s, env, depth)

    def stmt(self, s: ir.Stmt, env: dict[str, ir.Expr], depth: int) -> None:
        if isinstance(s, ir.Let):
            env[s.name] = irutil.substitute(s.value, env)
        elif isinstance(s, ir.Assign):
            self.assign(s, env)
        elif isinstance(s, ir.CallProc):
            self.call(s, env, depth)
        else:
            self.nested(s, env, depth)

    @staticmethod
    def assign(s: ir.Assign, env: dict[str, ir.Expr]) -> None:
        if s.place.root != "local":
            return
        if s.place.path:  # a part of a local changed: its value is no longer known
            env.pop(s.place.name, None)
            return
        env[s.place.name] = irutil.substitute(s.value, env)

    def call(self, s: ir.CallProc, env: dict[str, ir.Expr], depth: int) -> None:
        args = [irutil.substitute(a, env) for a in s.args]
        if s.proc in self.dispatches:
            if args:
                self.found.append((s.proc, args[0], depth))
            return
        callee = self.fns.get(s.proc)
        if callee is not None and depth < MAX_DEPTH:
            self.block(callee.body, {p.name: a for p, a in zip(callee.params, args)}, depth + 1)

    def nested(self, s: ir.Stmt, env: dict[str, ir.Expr], depth: int) -> None:
        """The blocks of an `if`, `match` or `for` (`irutil.sub_blocks`), each on a copy of `env`
        (a loop's variable at its first value); what they assign is not known after them."""
        inner = {**env, s.var: irutil.int_const(s.lo)} if isinstance(s, ir.For) else env
        for block in irutil.sub_blocks(s):
            self.block(block, dict(inner), depth)
        for name in _assigned(s):
            env.pop(name, None)


def _assigned(s: ir.Stmt) -> set[str]:
    """The locals assigned anywhere in `s` (whole or in part)."""
    return {n.name for n in ir.walk(s) if isinstance(n, ir.Place) and n.root == "local"}
