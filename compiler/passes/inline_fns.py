"""The pass `inline_fns`: a call of a small `fn` that is one `return` of an expression becomes
that expression, its parameters replaced by the call's arguments, on the IR both array
backends consume (issue #15, "inline small functions").

Public surface: `NAME`, `MAX_NODES`, `run(module, ctx=None) -> ir.Module`.

Why. Once inlined, what the call computes is in the caller's expression: `fold_constants`
(after this pass) folds a call with constant arguments (`cell(2, 1)` of `r * 3 + c` is `7`),
and neither backend has to decide on its own when a call is worth a function (the JAX
backend inlined some calls inside comprehensions itself; it still does for the calls this
pass leaves).

Which calls. A call `f(a1, ..., an)` is replaced when all of these hold:

* `f` is a pure `fn` (not a `proc`) whose body is one `return e`, `e` of at most
  `MAX_NODES` nodes, with no loop (no comprehension, reduction or `random.pick`): small, so a
  call site's copy costs no more than the call (a loop stays written once, in its fn); it
  draws nothing and takes from no list;
* every argument's type is held by its parameter's (an `int` range inside the parameter's:
  no backend casts it), and no argument draws or takes;
* each argument that is not a constant, a local or a state field (an atom: the inlined
  expression neither draws nor takes, so reading it twice, or never, or later, changes
  nothing) appears at most once in `e`, not under a branch of
  `if ... then ... else`, the right side of `and`/`or`, or the body of a comprehension,
  a reduction or `random.pick` (where it would be evaluated on some paths only, or many
  times), and cannot fault (no list index, no call of a fn that can fault:
  `number_faults.site_of`): evaluated inside `e` instead of before it, it faults nowhere.

So the inlined expression evaluates what the call evaluated, with the same value, faults in
the same order (only `e`'s own, as before) and the same draws (none): trajectories and faults
are those of the input (verify's `flat` target runs the interpreter on the lowered IR).
As `e` binds no local, no argument's local can be captured. Calls inside `fn` bodies are inlined
first, callees before callers, so an inlined body holds its own inlined calls. The `fn`s
stay (other calls, the interpreter and `envc run` use them).

It runs first in `LOWERING`, before `fold_constants`. Disabling it (`--disable-pass
inline_fns`) changes no trajectory, only the generated code.
"""

from __future__ import annotations

from typing import Any

from envc.compiler import ir, irutil
from envc.compiler.passes import number_faults

NAME = "inline_fns"
#: the largest `return` expression, in IR nodes (types not counted), that is inlined
MAX_NODES = 12

_ATOMS = (ir.Const, ir.Local, ir.StateGet)
_BINDERS = (ir.Reduce, ir.ArrayBuild, ir.RandomPick)


def run(module: ir.Module, ctx: Any = None) -> ir.Module:
    """`module` with its calls of small fns inlined (the module docstring says which). `ctx`
    (a `PassContext`) is unused: the pass has no options."""
    inliner = _Inliner(module)
    fns = [inliner.fn(f) for f in _callees_first(module.fns)]
    order = {f.name: i for i, f in enumerate(module.fns)}
    fns.sort(key=lambda f: order[f.name])
    rest = {name: inliner.apply(getattr(module, name))
            for name in ("actions", "observe", "init", "epilogue", "invariants")}
    if inliner.count == 0:
        return module
    return module.model_copy(update={"fns": fns, **rest})


def _callees_first(fns: list[ir.FnDef]) -> list[ir.FnDef]:
    """`fns` ordered so that every fn comes after the fns it calls (the checker refuses
    recursion, so the call graph has no cycle)."""
    by_name = {f.name: f for f in fns}
    done: dict[str, ir.FnDef] = {}

    def visit(f: ir.FnDef) -> None:
        if f.name in done:
            return
        for name in sorted(ir.called_names(f.body)):
            if name in by_name:
                visit(by_name[name])
        done[f.name] = f

    for f in fns:
        visit(f)
    return list(done.values())


class _Inliner:
    """Inlines calls against the fns seen so far (`fn` records each one's inlined body)."""

    def __init__(self, module: ir.Module):
        self.bodies: dict[str, ir.Expr] = {}  # fn name -> its `return` expression, inlined
        self.params: dict[str, list[ir.ParamDef]] = {}
        self.fault_free: set[str] = set()  # fns whose call cannot fault
        self.count = 0

    def fn(self, f: ir.FnDef) -> ir.FnDef:
        """`f` with the calls in its body inlined; records `f` when it is itself inlinable."""
        body = self.apply(f.body)
        if _fault_free(body, self.fault_free) and number_faults.always_returns(body):
            self.fault_free.add(f.name)
        small = f.ret is not None and f.pure and len(body) == 1 and isinstance(body[0], ir.Return)
        if small and _size(body[0].value) <= MAX_NODES and not _loops(body[0].value):
            self.bodies[f.name] = body[0].value
            self.params[f.name] = f.params
        return f if body is f.body else f.model_copy(update={"body": body})

    def apply(self, x: Any) -> Any:
        """`x` (a node or a list of them) with every inlinable call replaced."""
        return ir.transform(x, self._call)

    def _call(self, node: ir.Node) -> ir.Node | None:
        if not isinstance(node, ir.CallFn) or node.fn not in self.bodies:
            return None
        params, body = self.params[node.fn], self.bodies[node.fn]
        if not all(self._passes(p, a, body) for p, a in zip(params, node.args, strict=True)):
            return None
        self.count += 1
        return irutil.substitute(body, {p.name: a for p, a in zip(params, node.args, strict=True)})

    def _passes(self, param: ir.ParamDef, arg: ir.Expr, body: ir.Expr) -> bool:
        """Whether `arg` may replace `param` in `body` (the module docstring's conditions)."""
        if not irutil.holds(param.type, arg.type) or irutil.draws(arg):
            return False
        if isinstance(arg, _ATOMS):
            return True
        uses = _uses(body, param.name, guarded=False)
        if any(guarded for guarded in uses) or len(uses) > 1:
            return False
        return _fault_free([arg], self.fault_free)


def _size(e: ir.Expr) -> int:
    return sum(1 for _ in ir.walk(e))


def _loops(e: ir.Expr) -> bool:
    """Whether `e` draws, takes, or loops (a comprehension or reduction: a call of a fn with
    a loop stays a call, the loop written once)."""
    return irutil.draws(e) or any(isinstance(n, _BINDERS) for n in ir.walk(e))


def _fault_free(x: Any, fault_free_fns: set[str]) -> bool:
    """Whether nothing in `x` (a list of nodes) can fault: no fault site of its own
    (`number_faults.site_of`), and every fn it calls in `fault_free_fns`."""
    for n in ir.walk_all(x):
        if number_faults.site_of(n) is not None:
            return False
        if isinstance(n, ir.CallFn) and n.fn not in fault_free_fns:
            return False
    return True


def _uses(e: ir.Node, name: str, guarded: bool) -> list[bool]:
    """One entry per read of local `name` in `e`: True when the read is guarded (evaluated on
    some paths only, or many times: under a branch, a short circuit's right side, a binder's
    body). A binder of the same name hides it."""
    if isinstance(e, ir.Local):
        return [guarded] if e.name == name else []
    if isinstance(e, _BINDERS) and e.var == name:
        return []
    out: list[bool] = []
    for index, child in enumerate(ir.children(e)):
        out += _uses(child, name, guarded or _guards(e, index))
    return out


def _guards(e: ir.Node, index: int) -> bool:
    """Whether child `index` of `e` (in `ir.children` order) is evaluated on some paths only,
    or more than once."""
    if isinstance(e, ir.Cond):
        return index > 0
    if isinstance(e, ir.Binary) and e.op in ("and", "or"):
        return index > 0
    return isinstance(e, _BINDERS)
