"""Loops that walk until a flag goes false: the shape check of issue 18's mechanism 1
(bench/RESULTS.md, "the line walk as whole-board arrays (design)").

`for k in lo..hi { if flag and C { ... flag = false ... } }` with a bool local `flag` that
is `true` before the loop and only ever assigned `false`, only inside the loop, is a
prefix-AND: step k runs iff every earlier step kept the flag. Its per-step values can then be
computed for all k at once, `alive` by a cumulative `and`, and the exit step's writes picked
by a one-hot. `find(module)` reports the loops of that shape; it rewrites no IR. The JAX
backend can lower each accepted loop that way (`Lowering.prefix_walk`, every step under one
`vmap`) or as predicated straight-line steps (`Lowering.predicated_walk`), both opt-in
(`--prefix-walk vmap|predicated`, `PassContext.prefix_walk`): both are exact, neither was faster than the default
lowering on CPU (bench/RESULTS.md, issue 18, mechanism 1). The interpreter stays the
definition.

The check, per loop (anything else refuses it, the reason recorded):
- the body is one `if` whose condition is a conjunction with `flag` as one part;
- `flag` is set by a `let flag = true` earlier in the same block, and every assignment to it
  in the function is `flag = false` inside the loop;
- the loop assigns only locals, whole (no index or field path), no state;
- a local the loop assigns is read in the loop only when every assignment to it is a
  function of the loop variable and of values the loop does not assign (a "step" local such
  as `run = k + 1`, whose value at step k is that function at the last continuing step).
- a step local is assigned on every continuing step: at each `if` around the assignment, the
  other branch sets the flag false (directly in its block), and no block around it does;
- a local that is not a step local (an "exit" local) is assigned only where a block around
  the assignment sets the flag false, so the one-hot at the exit step picks its value;
- the loop's statements are `let`, assignments and `if` only (no call of a `proc`, effect,
  list operation, `return` or nested loop: those write state or leave the loop; no `match`,
  which the JAX lowering's straight-line form of a step does not take yet), it
  draws no random number, and no `let` in it shadows a local the loop assigns;
- a step local is read only in the value of an assignment to an exit local (not in the
  guard, a condition, a `let` or a step local's value), so the guard, the flag's fate and the
  step locals' values at step k do not depend on earlier steps: the lowering computes them
  for every k at once, then the exit locals from the step locals' values at the step before.

Skipped steps: a step where the guard's other conjuncts are false runs nothing and keeps the
flag, so a step local's value at the exit is that of the last step that ran, not always of
`k - 1`; the lowering takes it at the last running step (a cumulative max of the running
steps' indices), so no monotonicity of those conjuncts in k is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envc.compiler import ir, irutil


@dataclass
class PrefixLoop:
    """One loop of the prefix-AND shape, or one refused (`reason` set)."""

    fn: str
    var: str
    flag: str
    step_locals: list[str] = field(default_factory=list)
    exit_locals: list[str] = field(default_factory=list)
    reason: str | None = None
    loop: ir.For | None = field(default=None, repr=False, compare=False)  # the loop itself


def find(module: ir.Module) -> list[PrefixLoop]:
    """Every `for` loop in `module`'s functions whose body is an `if` on a flag local, checked
    for the prefix-AND shape (see the module docstring); refused ones carry a `reason`."""
    out: list[PrefixLoop] = []
    for fn in module.fns:
        _scan_block(fn, fn.body, out)
    return out


def _scan_block(fn: ir.FnDef, block: list[ir.Stmt], out: list[PrefixLoop]) -> None:
    for i, s in enumerate(block):
        if isinstance(s, ir.For):
            flag = _flag_of(s)
            if flag is not None:
                out.append(_check(fn, block[:i], s, flag))
        for sub in irutil.sub_blocks(s):
            _scan_block(fn, sub, out)


def _flag_of(loop: ir.For) -> str | None:
    """The bool local that guards the loop's only statement, if it has that form."""
    if len(loop.body) != 1 or not isinstance(loop.body[0], ir.If) or loop.body[0].orelse:
        return None
    for part in irutil.conjuncts(loop.body[0].cond):
        if isinstance(part, ir.Local) and isinstance(part.type, ir.BoolT):
            return part.name
    return None


def _assigns(stmts: list[ir.Stmt]) -> list[ir.Assign]:
    return [s for s in irutil.walk_stmts(stmts) if isinstance(s, ir.Assign)]


def _check(fn: ir.FnDef, before: list[ir.Stmt], loop: ir.For, flag: str) -> PrefixLoop:
    res = PrefixLoop(fn=fn.name, var=loop.var, flag=flag, loop=loop)
    res.reason = _flag_reason(fn, before, loop, flag) or _writes_reason(loop, flag, res) \
        or _body_reason(loop, flag, res)
    return res


def _flag_reason(fn: ir.FnDef, before: list[ir.Stmt], loop: ir.For, flag: str) -> str | None:
    lets = [s for s in before if isinstance(s, ir.Let) and s.name == flag]
    if not lets or not (isinstance(lets[-1].value, ir.Const) and lets[-1].value.value is True):
        return f"`{flag}` is not `true` before the loop"
    inside = {id(a) for a in _assigns(loop.body)}
    for a in _assigns(fn.body):
        if a.place.root != "local" or a.place.name != flag:
            continue
        if id(a) not in inside:
            return f"`{flag}` is assigned outside the loop"
        if not (isinstance(a.value, ir.Const) and a.value.value is False):
            return f"`{flag}` is assigned something other than `false`"
    return None


def _writes_reason(loop: ir.For, flag: str, res: PrefixLoop) -> str | None:
    writes: dict[str, list[ir.Expr]] = {}
    for a in _assigns(loop.body):
        if a.place.root != "local" or a.place.path:
            return f"the loop writes `{a.place.name}` other than as a whole local"
        if a.place.name != flag:
            writes.setdefault(a.place.name, []).append(a.value)
    written = set(writes) | {flag}
    step = sorted(n for n, vals in writes.items() if not irutil.local_refs(vals) & written)
    reads = _reads(loop.body)
    bad = sorted((reads & set(writes)) - set(step))
    if bad:
        return f"the loop reads `{bad[0]}`, a value it writes that is not a function of `{loop.var}`"
    where = _places(irutil.sub_blocks(loop.body[0])[0], flag, exiting=False, covered=True)
    for name, exiting, covered in where:
        if name in step and (exiting or not covered):
            return f"`{name}` is not assigned on every continuing step"
        if name in writes and name not in step and not exiting:
            return f"`{name}` is assigned on a step that keeps `{flag}`"
    res.step_locals = step
    res.exit_locals = sorted(set(writes) - set(step))
    return None


def _reads(stmts: list[ir.Stmt]) -> set[str]:
    """The locals read (not only assigned) in `stmts`."""
    out: set[str] = set()
    for s in irutil.walk_stmts(stmts):
        for e in _exprs(s):
            out |= {n.name for n in ir.walk(e) if isinstance(n, ir.Local)}
    return out


def _exprs(s: ir.Stmt) -> list[ir.Node]:
    """The expressions statement `s` reads directly (not those of its blocks)."""
    if isinstance(s, ir.Assign):
        return [s.value, *s.place.path]
    return [c for c in ir.children(s) if isinstance(c, ir.ExprNode)]


def _sets_flag(block: list[ir.Stmt], flag: str) -> bool:
    return any(isinstance(s, ir.Assign) and s.place.root == "local" and s.place.name == flag for s in block)


def _places(block: list[ir.Stmt], flag: str, exiting: bool, covered: bool) -> list[tuple[str, bool, bool]]:
    """For each local assignment in `block` (nested), its name, whether a block around it sets
    `flag` false, and whether every `if` around it has the flag set false on its other branch."""
    exiting = exiting or _sets_flag(block, flag)
    out: list[tuple[str, bool, bool]] = []
    for s in block:
        if isinstance(s, ir.Assign) and s.place.root == "local":
            out.append((s.place.name, exiting, covered))
        elif isinstance(s, ir.If):
            out += _places(s.then, flag, exiting, covered and _sets_flag(s.orelse, flag))
            out += _places(s.orelse, flag, exiting, covered and _sets_flag(s.then, flag))
        else:
            for sub in irutil.sub_blocks(s):
                out += _places(sub, flag, exiting, False)
    return out


_PLAIN = ("let", "assign", "if")


def _body_reason(loop: ir.For, flag: str, res: PrefixLoop) -> str | None:
    """Why the loop's steps cannot be computed independently of each other (see the module
    docstring's last three checks), or None."""
    assigned = set(res.step_locals) | set(res.exit_locals) | {flag}
    for s in irutil.walk_stmts(loop.body):
        if s.kind not in _PLAIN:
            return f"the loop runs a `{s.kind}` statement"
        if any(ir.first_draw(e) is not None for e in _exprs(s) if isinstance(e, ir.ExprNode)):
            return "the loop draws a random number"
        if isinstance(s, ir.Let) and s.name in assigned:
            return f"a `let` in the loop shadows `{s.name}`"
        if isinstance(s, ir.Assign) and s.place.name in res.exit_locals:
            continue
        read = sorted(set(res.step_locals) & {n.name for e in _exprs(s) for n in ir.walk(e) if isinstance(n, ir.Local)})
        if read:
            return f"the loop reads `{read[0]}` outside the value of an exit local"
    return None
