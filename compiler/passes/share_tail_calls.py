"""The pass `share_tail_calls`: a procedure that several actions call as the last thing they do
runs once per step, in the module's epilogue, instead of once per calling action (issue 16's
JAX throughput, issue 18's compile time).

Public surface: `NAME`, `PREFIX`, `MIN_SITES`, `run(module, ctx=None) -> ir.Module`,
`is_register(name)`. Turn it off with `--disable-pass share_tail_calls`.

Why: a branchless backend (JAX under `vmap`) computes the body of every action kind on every
step and selects the one taken, so a procedure called at the end of k actions is computed k
times per step, and traced and compiled k times. The TCG's `play_trainer`, `use_ability`,
`discard_from_play` and `attach` all end with `knock_outs(); continue_game(p, true)`, and
`attack` and `end_turn` with `finish_turn()`: 6 copies of `knock_outs` in one step.

What it does. A call statement is *in tail position* in an action's body when nothing of the
body runs after it: it is in the trailing run of call statements of the body, or of a block of
an `if`/`match` that is itself the last statement of a block in tail position. A procedure is
*shared* when at least `MIN_SITES` actions call it in tail position and it holds no `choose`
(directly or through the procedures it calls: its pause could not resume from the epilogue).
The shared procedures get an order consistent with the trailing runs (`a` before `b` when some
run calls `a` right before `b`; by name where no run decides). In each trailing run, calls are
taken from the end while each is of a shared procedure that comes before the one taken after
it, and every call taken after it has arguments that read no state and draw nothing (they are
then evaluated earlier than before, before the calls between: only values of locals and
constants do not change). A taken call `P(a, b)` becomes

    _envc_tail_P = true; _envc_tail_P__x = a; _envc_tail_P__y = b      (P's parameters x, y)

and the module's epilogue gets, before what it held, for each shared procedure in order:

    if _envc_tail_P { let x = _envc_tail_P__x ...; _envc_tail_P = false;
                      _envc_tail_P__x = 0 ...; P(x, y) }

Guarantee (exactness): the epilogue runs right after the action's body on every legal step,
so a taken call runs with the same argument values, on the same state, in the same order
relative to every other statement and draw as before. Each path through a body sets each flag
at most once (the calls of one run are of distinct procedures, and one path ends in one run),
so each runs at most once. Between steps every register is back at its default, so the
state after a step is what it was without the pass, plus registers at their defaults. An
action that pauses (`lower_choices`, after this pass) sets its flags only when it resumes and
runs its tail: the epilogue then runs it.

The interpreter does not run this pass (it is in `pipeline.LOWERING`); `envc verify` compares
the backends that do with it. The registers are state fields the interpreter's IR does not
have: injecting an interpreter state into a backend (level 2 of `envc verify`) leaves them at
their defaults (`is_register`).
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from typing import Any

from envc.compiler import ir, irutil
from envc.compiler.diagnostics import Span

NAME = "share_tail_calls"

#: the prefix of the state fields the pass adds (`_envc_` names are not spec names)
PREFIX = "_envc_tail_"

#: a procedure is shared when at least this many actions call it in tail position: with one
#: caller there is one copy either way, and the flags would only add work
MIN_SITES = 2

# builtins that compute from their arguments alone (an argument made of them, locals and
# constants has the same value before and after a call)
_PURE_BUILTINS = frozenset({"min", "max", "abs", "clamp", "int"})


def is_register(name: str) -> bool:
    """Whether state field `name` is a register of this pass (default between steps)."""
    return name.startswith(PREFIX)


def run(module: ir.Module, ctx: Any = None) -> ir.Module:
    """`module` with the shared tail calls of its actions moved to its epilogue (module
    docstring); `module` itself when no procedure is shared. `ctx` is unused."""
    procs = {f.name: f for f in module.fns if f.ret is None}
    runs = [r for a in module.actions for r in _trailing_runs(a.body)]
    shared = _shared(module, procs, runs)
    if not shared:
        return module
    order = _order(shared, runs)
    actions = [a.model_copy(update={"body": _rewrite(a.body, order, procs)}) for a in module.actions]
    state = list(module.state)
    epilogue: list[ir.Stmt] = []
    for name in sorted(shared, key=order.__getitem__):
        state += _registers(module, procs[name])
        epilogue.append(_run_pending(module, procs[name]))
    return module.model_copy(update={"actions": actions, "state": state,
                                     "epilogue": epilogue + list(module.epilogue)})


def _trailing_runs(block: list[ir.Stmt]) -> list[list[ir.CallProc]]:
    """The trailing runs of call statements at every tail position of `block` (module docstring)."""
    if not block:
        return []
    last = block[-1]
    if isinstance(last, (ir.If, ir.Match)):
        return [r for sub in irutil.sub_blocks(last) for r in _trailing_runs(sub)]
    run: list[ir.CallProc] = []
    for s in reversed(block):
        if not isinstance(s, ir.CallProc):
            break
        run.insert(0, s)
    return [run] if run else []


def _shared(module: ir.Module, procs: dict[str, ir.FnDef], runs: list[list[ir.CallProc]]) -> set[str]:
    """The procedures that at least `MIN_SITES` actions call in tail position and that never
    reach a `choose`."""
    callers: dict[str, set[str]] = {}
    for a in module.actions:
        for r in _trailing_runs(a.body):
            for c in r:
                callers.setdefault(c.proc, set()).add(a.name)
    return {p for p, who in callers.items()
            if len(who) >= MIN_SITES and p in procs and all(_scalar(q.type) for q in procs[p].params)
            and not _reaches_choose(procs, p, set())}


def _scalar(t: ir.Type) -> bool:
    """A parameter type a register holds (a list or record parameter is not shared: decision,
    no spec needed it, and its register would copy the whole value)."""
    return isinstance(t, (ir.BoolT, ir.IntT, ir.EnumT))


def _reaches_choose(procs: dict[str, ir.FnDef], name: str, seen: set[str]) -> bool:
    """Whether proc `name`, or a proc it calls, holds a `choose`."""
    if name in seen or name not in procs:
        return False
    seen.add(name)
    body = procs[name].body
    if any(isinstance(s, ir.Choose) for s in irutil.walk_stmts(body)):
        return True
    return any(_reaches_choose(procs, callee, seen) for callee in ir.called_names(body))


def _order(shared: set[str], runs: list[list[ir.CallProc]]) -> dict[str, int]:
    """A rank for each shared procedure, consistent with the runs where possible (a run that
    calls `a` right before `b` ranks `a` first); by name where they do not decide, or when they
    contradict each other (then `_rewrite` takes fewer calls of the runs that disagree)."""
    graph: dict[str, set[str]] = {p: set() for p in sorted(shared)}
    for r in runs:
        names = [c.proc for c in r if c.proc in shared]
        for a, b in zip(names, names[1:]):
            if a != b:
                graph[b].add(a)
    try:
        ranked = list(TopologicalSorter(graph).static_order())
    except CycleError:
        ranked = sorted(shared)
    return {p: i for i, p in enumerate(ranked)}


def _rewrite(block: list[ir.Stmt], order: dict[str, int], procs: dict[str, ir.FnDef]) -> list[ir.Stmt]:
    """`block` with the calls taken at its tail positions replaced by register writes."""
    if not block:
        return block
    last = block[-1]
    if isinstance(last, ir.If):
        blocks = {"then": _rewrite(last.then, order, procs), "orelse": _rewrite(last.orelse, order, procs)}
        return [*block[:-1], last.model_copy(update=blocks)]
    if isinstance(last, ir.Match):
        arms = [a.model_copy(update={"body": _rewrite(a.body, order, procs)}) for a in last.arms]
        return [*block[:-1], last.model_copy(update={"arms": arms})]
    taken = _taken(block, order)
    out = list(block[:len(block) - taken])
    for c in block[len(block) - taken:]:
        assert isinstance(c, ir.CallProc)  # (`_taken` counts call statements only)
        out += _set_pending(procs[c.proc], c)
    return out


def _taken(block: list[ir.Stmt], order: dict[str, int]) -> int:
    """How many calls at the end of `block` move to the epilogue (module docstring)."""
    n, next_rank, later_static = 0, len(order), True
    for s in reversed(block):
        if not isinstance(s, ir.CallProc) or s.proc not in order:
            break
        if order[s.proc] >= next_rank or not later_static:
            break
        n += 1
        next_rank = order[s.proc]
        later_static = all(_static(a) for a in s.args)
    return n


def _static(e: ir.Expr) -> bool:
    """Whether `e` reads no state and draws nothing: locals, constants, table data and pure
    arithmetic only (its value is the same before and after any call)."""
    for node in ir.walk(e):
        if isinstance(node, (ir.StateGet, ir.CallFn, ir.RandomInt, ir.RandomPick, ir.ListTake)):
            return False
        if isinstance(node, ir.Builtin) and node.name not in _PURE_BUILTINS:
            return False
    return True


def _flag(proc: str) -> str:
    return f"{PREFIX}{proc}"


def _register(proc: str, param: str) -> str:
    return f"{PREFIX}{proc}__{param}"


def _registers(module: ir.Module, p: ir.FnDef) -> list[ir.FieldDef]:
    """The state fields of proc `p`'s pending call: its flag, then one per parameter."""
    fields = [ir.FieldDef(name=_flag(p.name), type=ir.BOOL, default=False, visibility="hidden", span=p.span)]
    for q in p.params:
        fields.append(ir.FieldDef(name=_register(p.name, q.name), type=q.type,
                                  default=ir.zero_value(module, q.type), visibility="hidden", span=p.span))
    return fields


def _assign(name: str, t: ir.Type, value: ir.Expr, span: Span) -> ir.Assign:
    return ir.Assign(place=ir.Place(root="state", name=name, type=t, span=span), value=value, span=span)


def _set_pending(p: ir.FnDef, call: ir.CallProc) -> list[ir.Stmt]:
    """The register writes that stand for `call` (a call of `p`)."""
    out: list[ir.Stmt] = [_assign(_flag(p.name), ir.BOOL, irutil.bool_const(True), call.span)]
    for q, arg in zip(p.params, call.args):
        out.append(_assign(_register(p.name, q.name), q.type, arg, call.span))
    return out


def _run_pending(module: ir.Module, p: ir.FnDef) -> ir.If:
    """The epilogue's `if` that runs `p`'s pending call and puts its registers back."""
    body: list[ir.Stmt] = []
    args: list[ir.Expr] = []
    local = f"{PREFIX}arg"
    for i, q in enumerate(p.params):
        name = f"{local}{i}"
        body.append(ir.Let(name=name, type=q.type, value=ir.StateGet(name=_register(p.name, q.name), type=q.type),
                           span=p.span))
        args.append(irutil.local(name, q.type))
    body.append(_assign(_flag(p.name), ir.BOOL, irutil.bool_const(False), p.span))
    for q in p.params:
        body.append(_assign(_register(p.name, q.name), q.type, irutil.zero_const(module, q.type), p.span))
    body.append(ir.CallProc(proc=p.name, args=args, span=p.span))
    return ir.If(cond=ir.StateGet(name=_flag(p.name), type=ir.BOOL), then=body, span=p.span)

