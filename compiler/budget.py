"""The static work budget: how many operations one step of a spec may take at most.

Public surface: `WORK_BUDGET` (the default, 10^7 operations), `budget()` (the budget in
force: `ENVC_WORK_BUDGET` when set), `Cost(module)` (`.block(stmts)`, `.expr(e)`: an upper
bound of the operations), `check(module) -> list[Diagnostic]`.

Every loop has constant bounds and there is no recursion, so the work of a step has a
static upper bound: an expression costs one operation plus its operands; a loop, a
reduction or a comprehension costs its trip count times its body; a call costs its
arguments plus the callee's body (memoized per callee, so `2^40` calls are counted, not
made); a list operation costs the list's capacity (items shift); both branches of an `if`
count (branchless backends compute both). One step is the legal-action mask (every
guard at every flat index) plus the most expensive action plus `observe`; `init` and each
invariant are held to the same budget. A spec over budget gets E0140 at the block, with
the chain of loops and calls that multiplies up (`1,000 x 1,000 x 101 = 101,000,000`).

The default is generous: the TCG spec with its fills, the most expensive shipped spec,
costs about 2.7 x 10^4 operations per step (mask 7.7 x 10^3, its costliest action 1.8 x 10^4,
`observe` 1.1 x 10^3; `tests/test_untrusted.py` keeps every shipped spec 100 times below).
"""

from __future__ import annotations

import os

from envc.compiler import ir
from envc.compiler.actions import ActionSpace
from envc.compiler.diagnostics import Diagnostic, Span

WORK_BUDGET = 10_000_000
#: the most bytes one environment's state may take (its fields, its observation and its legal-action
#: mask, as the backends store them): the Rust backend builds and copies a `State` on a thread's
#: stack (8 MiB for the main thread), and a checked spec of 12 MiB of state killed the process
#: (SIGSEGV; a fresh-spec hunt). Decision: refused here, for every backend, with the sizes
STATE_BYTES = 4 << 20


def budget() -> int:
    """The budget in force: `ENVC_WORK_BUDGET` (an integer) when set, else `WORK_BUDGET`."""
    raw = os.environ.get("ENVC_WORK_BUDGET", "")
    return int(raw) if raw.isdigit() else WORK_BUDGET


def _where(span) -> str:
    return f"{span.file}:{span.line}:{span.col}" if span is not None and span.line else "?"


class Cost:
    """Upper bounds of the operations of IR expressions, statements and functions."""

    def __init__(self, module: ir.Module):
        self.m = module
        self.fns = {f.name: f for f in module.fns}
        self._fn: dict[str, int] = {}
        self._memo: dict[int, int] = {}
        self._keep: list = []

    def fn(self, name: str) -> int:
        if name not in self._fn:
            f = self.fns.get(name)
            self._fn[name] = 1 if f is None else 1 + self.block(f.body)
        return self._fn[name]

    def block(self, stmts) -> int:
        return sum(self.node(s) for s in stmts)

    def expr(self, e) -> int:
        return self.node(e)

    def node(self, n) -> int:
        key = id(n)
        if key in self._memo:
            return self._memo[key]
        value = self._compute(n)
        self._memo[key] = value
        self._keep.append(n)
        return value

    def parts(self, n) -> list[tuple[int, object, str]]:
        """(multiplier, part, what) of node `n`: its cost is 1 + the sum of multiplier x
        cost(part) (a part is a node or a list of statements)."""
        if isinstance(n, (ir.Reduce, ir.ArrayBuild)):
            return [(n.hi - n.lo, n.body, f"`{n.var}` in {n.lo}..{n.hi} at {_where(n.span)}")]
        if isinstance(n, ir.For):
            return [(n.hi - n.lo, n.body, f"`for {n.var} in {n.lo}..{n.hi}` at {_where(n.span)}")]
        out: list[tuple[int, object, str]] = []
        for name in type(n).model_fields:
            value = getattr(n, name)
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, tuple):
                    item = item[1]
                if isinstance(item, ir.MatchArm):
                    out.append((1, item.body, f"an arm at {_where(item.span)}"))
                elif isinstance(item, ir.Node) and not isinstance(item, ir.TYPE_NODES):
                    out.append((1, item, ""))
        return out

    def _compute(self, n) -> int:
        if isinstance(n, list):
            return self.block(n)
        total = 1 + sum(k * (self.block(p) if isinstance(p, list) else self.node(p)) for k, p, _ in self.parts(n))
        if isinstance(n, ir.CallFn):
            total += self.fn(n.fn)
        elif isinstance(n, ir.CallProc):
            total += self.fn(n.proc)
        elif isinstance(n, (ir.ListOp, ir.ListTake)):
            total += n.place.type.cap if isinstance(n.place.type, ir.ListT) else 0
        elif isinstance(n, ir.Builtin) and n.name in ("contains", "count") and n.args:
            t = n.args[0].type
            total += t.cap if isinstance(t, ir.ListT) else t.size if isinstance(t, ir.ArrayT) else 0
        return total

    def explain(self, n, depth: int = 0) -> list[str]:
        """The chain of loops and calls that makes `n` expensive, outermost first."""
        if depth > 64:
            return []
        if isinstance(n, list):
            if not n:
                return []
            return self.explain(max(n, key=self.node), depth + 1)
        best = None
        for k, p, what in self.parts(n):
            c = k * (self.block(p) if isinstance(p, list) else self.node(p))
            if best is None or c > best[0]:
                best = (c, k, p, what)
        call = n.fn if isinstance(n, ir.CallFn) else n.proc if isinstance(n, ir.CallProc) else None
        if call is not None and self.fns.get(call) is not None and (best is None or self.fn(call) > best[0]):
            return [f"calls `{call}` ({self.fn(call):,} operations)"] + self.explain(self.fns[call].body, depth + 1)
        if best is None:
            return []
        _, k, p, what = best
        head = [f"{what} runs its body {k:,} times"] if k > 1 else []
        return head + self.explain(p, depth + 1)




def step_cost(module: ir.Module) -> dict[str, int]:
    """The cost of each part of one step (`mask of NAME`, `action NAME`, `observe`, `init`,
    `invariant NAME`): what `check` holds to the budget."""
    cost = Cost(module)
    space = ActionSpace(module)
    out = {}
    for kind in space.kinds:
        a = module.actions[kind.index]
        if a.guard is not None:
            out[f"mask of `{a.name}`"] = kind.size * cost.expr(a.guard)
        out[f"action `{a.name}`"] = cost.block(a.body)
    out["observe"] = cost.block(module.observe.body)
    out["init"] = cost.block(module.init)
    for inv in module.invariants:
        out[f"invariant `{inv.name}`"] = cost.expr(inv.expr)
    return out


def check(module: ir.Module) -> list[Diagnostic]:
    """E0140 for each block of `module` whose cost is over `budget()`, and for one step
    (mask + the most expensive action + observe) over it."""
    limit = budget()
    cost = Cost(module)
    space = ActionSpace(module)
    diags = []
    blocks: list[tuple[str, int, object, Span | None, int]] = []  # (what, cost, node or statements, span, repeats)
    mask = 0
    for kind in space.kinds:
        a = module.actions[kind.index]
        # every flat action has an entry of `legal_action_mask` to compute, guarded or not (a
        # kind of 10^8 flat actions without a guard is refused here, not left to the backends)
        g = kind.size * (cost.expr(a.guard) if a.guard is not None else 1)
        mask += g
        what = f"the guard of `{a.name}`" if a.guard is not None else f"the legal_action_mask of `{a.name}`"
        blocks.append((f"{what} at its {kind.size:,} flat actions", g, a.guard or [], a.span, kind.size))
        blocks.append((f"action `{a.name}`", cost.block(a.body), a.body, a.span, 1))
    obs = cost.block(module.observe.body)
    blocks.append(("`observe`", obs, module.observe.body, module.observe.span, 1))
    blocks.append(("`init`", cost.block(module.init), module.init, None, 1))
    for inv in module.invariants:
        blocks.append((f"invariant `{inv.name}`", cost.expr(inv.expr), inv.expr, inv.span, 1))
    worst = max((c for what, c, *_ in blocks if what.startswith("action")), default=0)
    for what, c, node, span, times in blocks:
        if c <= limit:
            continue
        chain = cost.explain(node)
        factors = ([f"{times:,}"] if times > 1 else []) + [line.split(" runs its body ")[1].split(" times")[0]
                                                            for line in chain if " runs its body " in line]
        product = " x ".join(factors) + f" x ... = {c:,}" if factors else f"{c:,}"
        hint = "declare narrower parameter ranges (each flat action has an entry in the mask)" \
            if what.startswith("the legal_action_mask") else "bound the loops and calls by what the rule needs"
        diags.append(Diagnostic(
            "E0140", f"{what} may take {c:,} operations, more than the work budget of {limit:,}",
            span if span is not None and span.line else module.observe.span, "too much work per step",
            help=f"{hint}, or raise the budget with ENVC_WORK_BUDGET",
            notes=[f"work: {product}"] + chain[:8]))
    if not diags:  # (an action space over budget is over the state size too: one error for one cause)
        diags += _state_size(module, space.n)
    total = mask + worst + obs
    if not diags and total > limit:
        # the caret goes to the costliest part (a guard, an action or observe), where a cut helps most
        parts = [(c, getattr(node, "span", None) if what.startswith("the guard") else span, what)
                 for what, c, node, span, _ in blocks
                 if what.startswith(("the guard", "the legal_action_mask", "action", "`observe`"))]
        parts = [(c, span, what) for c, span, what in parts if span is not None and span.line]
        c_top, span_top, what_top = max(parts, key=lambda part: part[0], default=(obs, module.observe.span, "`observe`"))
        diags.append(Diagnostic(
            "E0140", f"one step may take {total:,} operations, more than the work budget of {limit:,}",
            span_top, f"the costliest part: {what_top}, {c_top:,}",
            help="bound the loops and calls by what the rule needs, or raise the budget with ENVC_WORK_BUDGET",
            notes=[f"work: mask {mask:,} + the costliest action {worst:,} + observe {obs:,} = {total:,}"]))
    return diags


def value_bytes(t: ir.Type, records: dict[str, ir.RecordDef]) -> int:
    """The bytes a value of type `t` takes as the backends store it (`ir.storage_dtype`; a list
    its capacity's worth and a 4-byte length)."""
    if isinstance(t, ir.ArrayT):
        return t.size * value_bytes(t.elem, records)
    if isinstance(t, ir.ListT):
        return t.cap * value_bytes(t.elem, records) + 4
    if isinstance(t, ir.RecordT):
        return sum(value_bytes(f.type, records) for f in records[t.name].fields) if t.name in records else 4
    return {"bool": 1, "int8": 1, "int16": 2}.get(ir.storage_dtype(t), 4)


def _state_size(module: ir.Module, actions: int) -> list[Diagnostic]:
    """E0122 when one environment's state is over `STATE_BYTES` (see there)."""
    records = {r.name: r for r in module.records}
    fields = sorted(((value_bytes(f.type, records), f) for f in module.state), key=lambda x: -x[0])
    obs = value_bytes(module.observe.type, records)
    total = sum(b for b, _ in fields) + obs + actions
    if total <= STATE_BYTES:
        return []
    big = fields[0][1]
    return [Diagnostic(
        "E0122", f"one environment's state takes {total:,} bytes, more than {STATE_BYTES:,}",
        big.span if big.span is not None and big.span.line else module.observe.span,
        f"the largest field: {fields[0][0]:,} bytes",
        help="declare smaller arrays and lists (a backend keeps whole states on a thread's stack)",
        notes=[f"state fields {sum(b for b, _ in fields):,} + observation {obs:,} + legal_action_mask {actions:,}"])]
