"""The effect-table pass: a hole family's dispatch becomes a small program table run by one
fixed interpreter, so that a step's cost does not grow with the number of effect texts
(DESIGN.md, decision 6).

Public surface: `NAME`, `run(module, ctx) -> ir.Module` (the pass; identity on a module
without families), `build(module, dispatch) -> EffectTable | None` (the table of one
dispatch proc, for tests and reports), `EffectTable`, `dispatch_chain(proc)` (the links of
the checker's dispatch chain). Turn it off with
`--disable-pass effect_tables` (to measure the if-chain it replaces).

The checker generates, per family, `NAME__dispatch(effect, params...)` whose body is an
`if effect == n { NAME__n(params...) } elif ...` chain over the filled members. Branchless
backends (JAX) compute every branch, so that chain costs one member per filled text.

A member is *tabulable* when its body is a sequence of calls of spec procs (*verbs*:
`heal(p, 0, 30)`) whose arguments are each a constant (int, bool, enum member) or one of
the hole's own parameters. Each distinct verb gets an op number (1.., in order of first use
by effect number); each member that is not tabulable (loops, `let`, `if`, draws in the
body) gets an op of its own after the verbs, which calls the member with the dispatch's
parameters (a *fallback*). Op 0 does nothing. The program of effect `e` is a row of `L`
steps `(op, args)` (L = the longest tabulable sequence; a fallback is one step; row 0,
unfilled texts and padding are op 0). The new dispatch body is, for each step `k` in
`0..L` (unrolled, so that step `k` tests only the ops that some row has at step `k`):

    let op_k = OPS[effect][k]
    if op_k == 1 { verb1(a(1,0,k), a(1,1,k), ...) } elif op_k == 2 { ... } ...

An argument `a(v, j, k)` of verb `v` at slot `j` is, when every use of that slot in the
table is the same constant or the same parameter, that constant or parameter itself;
otherwise a gather `ARG_v_j[effect][k]` from a constant table whose element type is the
verb's parameter type (every entry was range-checked by the checker as a call argument;
padding is the type's zero value), and where some rows pass a parameter there, a
selection on a source table `SRC_v_j[effect][k]` (0: the constant, i + 1: parameter i).
The cost of a step is then the sum over k of the ops present at step k: at most
L x (#verbs + #fallbacks), whatever the number of texts that share the verbs.

The pass changes no meaning: a verb called from the dispatch runs exactly as it did inside
the member, in the same order, with the same arguments. The member procs stay in the
module (fallbacks call them; `envc fill` and the property tests call members by name).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from envc.compiler import ir

NAME = "effect_tables"


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class ConstArg:
    value: int | bool  # enums: the member index
    node: ir.Const  # the checker's constant (its type and span)


@dataclass(frozen=True)
class ParamArg:
    index: int  # index into the hole's parameters (the dispatch's parameters after `effect`)


Arg = ConstArg | ParamArg


@dataclass
class EffectTable:
    """The program table of one family's dispatch proc.

    `ops[o - 1]` names op `o`: a verb (a spec proc) for `o <= len(verbs)`, else a fallback
    member. `rows[e]` is the program of effect number `e` (0..K): `length` steps
    `(op, args)`, padded with `(0, ())`. `members` maps effect numbers of filled texts to
    their member proc, `tabulable` those whose body became a row of verb calls.
    """

    dispatch: str
    params: list[ir.ParamDef]  # the dispatch's parameters: `effect`, then the hole's
    verbs: list[str]
    fallbacks: list[str]
    rows: list[list[tuple[int, tuple[Arg, ...]]]]
    members: dict[int, str] = field(default_factory=dict)
    tabulable: list[int] = field(default_factory=list)

    @property
    def ops(self) -> list[str]:
        return self.verbs + self.fallbacks

    @property
    def length(self) -> int:
        return len(self.rows[0]) if self.rows else 0

    @property
    def arity(self) -> int:
        """The largest number of arguments of an op (A)."""
        return max((len(args) for row in self.rows for _, args in row), default=0)

    def prog(self) -> list[list[list[int]]]:
        """The table as plain ints, `PROG[K+1][L][1 + 2A]`: per step the op, then per
        argument slot a pair (source, value): source 0 is the constant `value`, source
        i + 1 the hole's parameter i (value 0). Padding is all zeros."""
        a = self.arity
        out = []
        for row in self.rows:
            steps = []
            for op, args in row:
                cells = [op]
                for arg in args:
                    cells += [0, int(arg.value)] if isinstance(arg, ConstArg) else [arg.index + 1, 0]
                steps.append(cells + [0] * (1 + 2 * a - len(cells)))
            out.append(steps)
        return out


def _fits(src: ir.Type, dst: ir.Type) -> bool:
    if isinstance(dst, ir.IntT):
        return isinstance(src, ir.IntT) and dst.lo <= src.lo and src.hi <= dst.hi
    if isinstance(dst, ir.EnumT):
        return isinstance(src, ir.EnumT) and src.name == dst.name
    if isinstance(dst, ir.BoolT):
        return isinstance(src, ir.BoolT)
    return False


def _const_fits(c: ir.Const, dst: ir.Type) -> bool:
    v = c.value
    if isinstance(dst, ir.IntT):
        return isinstance(c.type, ir.IntT) and isinstance(v, int) and not isinstance(v, bool) and dst.lo <= v <= dst.hi
    if isinstance(dst, ir.EnumT):
        return isinstance(c.type, ir.EnumT) and c.type.name == dst.name and isinstance(v, int) and 0 <= v < dst.size
    if isinstance(dst, ir.BoolT):
        return isinstance(c.type, ir.BoolT) and isinstance(v, bool)
    return False


def dispatch_chain(dispatch: ir.FnDef) -> list[tuple[int, ir.If]] | None:
    """The `(effect number, If)` links of the checker's `if effect == n { ... } elif ...` chain
    (`envc.compiler.check_holes`), in order, or None when the body has another shape (the pass
    ran already, or the checker changed). Also read by the pass `restrict_dispatch`."""
    out = []
    body = dispatch.body
    effect = dispatch.params[0].name if dispatch.params else None
    while body:
        if len(body) != 1 or not isinstance(body[0], ir.If):
            return None
        s = body[0]
        c = s.cond
        if not (isinstance(c, ir.Binary) and c.op == "eq" and isinstance(c.left, ir.Local) and c.left.name == effect
                and isinstance(c.right, ir.Const)):
            return None
        out.append((int(c.right.value), s))
        body = s.orelse
    return out


def _chain(dispatch: ir.FnDef) -> list[tuple[int, ir.CallProc]] | None:
    """The `(effect number, member call)` pairs of the checker's if-chain (`dispatch_chain`),
    each link one call of a member with the dispatch's parameters, or None otherwise."""
    links = dispatch_chain(dispatch)
    if links is None:
        return None
    out = []
    for n, s in links:
        if len(s.then) != 1 or not isinstance(s.then[0], ir.CallProc):
            return None
        call = s.then[0]
        if [a.name if isinstance(a, ir.Local) else None for a in call.args] != [p.name for p in dispatch.params[1:]]:
            return None
        out.append((n, call))
    return out


def _sequence(fns: dict[str, ir.FnDef], member: ir.FnDef, dispatch: str) -> list[tuple[str, tuple[Arg, ...]]] | None:
    """The member's body as verb calls `(verb, args)`, or None when it is not tabulable."""
    index = {p.name: i for i, p in enumerate(member.params)}
    out = []
    for s in member.body:
        if not isinstance(s, ir.CallProc):
            return None
        verb = fns.get(s.proc)
        if verb is None or verb.ret is not None or s.proc == dispatch or len(verb.params) != len(s.args):
            return None
        args: list[Arg] = []
        for a, p in zip(s.args, verb.params):
            if isinstance(a, ir.Const) and _const_fits(a, p.type):
                args.append(ConstArg(a.value, a))
            elif isinstance(a, ir.Local) and a.name in index and _fits(member.params[index[a.name]].type, p.type):
                args.append(ParamArg(index[a.name]))
            else:
                return None
        out.append((s.proc, tuple(args)))
    return out


def build(module: ir.Module, dispatch: str) -> EffectTable | None:
    """The program table of the dispatch proc named `dispatch`, or None when its body is not
    the checker's if-chain over members."""
    fns = {f.name: f for f in module.fns}
    d = fns.get(dispatch)
    if d is None or not d.params or not isinstance(d.params[0].type, ir.IntT):
        return None
    chain = _chain(d)
    if chain is None:
        return None
    chain.sort(key=lambda x: x[0])
    rows_n = d.params[0].type.hi + 1
    hole_params = d.params[1:]
    collected = _programs(fns, chain, rows_n, hole_params, dispatch)
    if collected is None:
        return None
    programs, members, verbs, fallbacks = collected
    rows = _rows(programs, members, verbs, fallbacks, rows_n, len(hole_params))
    return EffectTable(dispatch=dispatch, params=list(d.params), verbs=verbs, fallbacks=fallbacks, rows=rows,
                       members=members, tabulable=sorted(n for n, s in programs.items() if s is not None))


def _programs(fns: dict[str, ir.FnDef], chain: list, rows_n: int, hole_params: list[ir.ParamDef], dispatch: str):
    """The members of the dispatch's if-chain (`chain`, sorted by number): (programs by
    member number, the sequence of verb calls or None for a fallback; member procs by
    number; verbs in order of first use; fallback procs), or None when a member is
    unknown, out of `1..rows_n-1`, repeated, or takes other parameters than the hole's."""
    verbs: list[str] = []
    fallbacks: list[str] = []
    programs: dict[int, list[tuple[str, tuple[Arg, ...]]] | None] = {}
    members: dict[int, str] = {}
    for num, call in chain:
        member = fns.get(call.proc)
        if member is None or not 0 < num < rows_n or num in members:
            return None
        if [p.type for p in member.params] != [p.type for p in hole_params]:
            return None
        members[num] = call.proc
        seq = _sequence(fns, member, dispatch)
        programs[num] = seq
        if seq is None:
            fallbacks.append(call.proc)
            continue
        verbs.extend(dict.fromkeys(v for v, _ in seq if v not in verbs))  # new verbs, in order of first use
    return programs, members, verbs, fallbacks


def _rows(programs: dict, members: dict[int, str], verbs: list[str], fallbacks: list[str], rows_n: int,
          n_params: int) -> list[list[tuple[int, tuple[Arg, ...]]]]:
    """The table's rows: per effect number, its steps (op, args), padded with `(0, ())` to
    the longest program. Ops number the verbs from 1, then the fallbacks."""
    length = max([len(seq) if seq is not None else 1 for seq in programs.values()], default=0)
    op_of = {v: i + 1 for i, v in enumerate(verbs)}
    for i, m in enumerate(fallbacks):
        op_of[m] = len(verbs) + i + 1
    rows: list[list[tuple[int, tuple[Arg, ...]]]] = []
    for e in range(rows_n):
        seq = programs.get(e, [])
        steps: list[tuple[int, tuple[Arg, ...]]]
        if seq is None:  # a fallback: one step calling the member with the dispatch's parameters
            steps = [(op_of[members[e]], tuple(ParamArg(i) for i in range(n_params)))]
        else:
            steps = [(op_of[v], args) for v, args in seq]
        rows.append(steps + [(0, ())] * (length - len(steps)))
    return rows


# ------------------------------------------------------------------ lowering to IR


def _array_type(elem: ir.Type, rows: int, length: int) -> ir.ArrayT:
    return ir.ArrayT(elem=ir.ArrayT(elem=elem, size=length), size=rows)


def _gather(table: ir.Const, effect: ir.Local, k: int, elem: ir.Type, span) -> ir.Expr:
    row = ir.GetIndex(base=table, index=effect, type=ir.elem_of(table.type), span=span)
    return ir.GetIndex(base=row, index=ir.Const(value=k, type=ir.IntT(lo=k, hi=k), span=span), type=elem, span=span)


def _lower(module: ir.Module, t: EffectTable, d: ir.FnDef) -> list[ir.Stmt]:
    """The dispatch proc's new body: per step k, `let op_k = ops[effect][k]` and an if-chain
    calling the verb (or fallback) that op names, with its arguments gathered from the table."""
    fns = {f.name: f for f in module.fns}
    span = d.span
    rows_n, length = len(t.rows), t.length
    if length == 0:
        return []
    lw = _Lowering(module, t, span)
    ops_t = ir.IntT(lo=0, hi=len(t.ops))
    ops = ir.Const(value=[[op for op, _ in row] for row in t.rows], type=_array_type(ops_t, rows_n, length), span=span)
    args_of: dict[int, list] = {}
    for op, verb in enumerate(t.verbs, start=1):
        vparams = fns[verb].params
        args_of[op] = [lw.arg(op, j, p.type) for j, p in enumerate(vparams)]
    body: list[ir.Stmt] = []
    taken = {p.name for p in t.params}
    for k in range(length):
        present = sorted({row[k][0] for row in t.rows} - {0})
        if not present:
            continue
        name = f"op_{k}"
        while name in taken:
            name += "_"
        taken.add(name)
        op_local = ir.Local(name=name, type=ops_t, span=span)
        body.append(ir.Let(name=name, type=ops_t, value=_gather(ops, lw.effect, k, ops_t, span), span=span))
        body.extend(lw.chain(k, present, op_local, args_of))
    return body


class _Lowering:
    """What `_lower` builds its expressions from: the table `t`, the dispatch's effect
    parameter (`effect`) and hole parameters (`locals_`) as locals, all at `span`."""

    def __init__(self, module: ir.Module, t: EffectTable, span):
        self.module, self.t, self.span = module, t, span
        self.effect = ir.Local(name=t.params[0].name, type=t.params[0].type, span=span)
        self.hole = t.params[1:]
        self.locals_ = [ir.Local(name=p.name, type=p.type, span=span) for p in self.hole]

    def arg(self, op: int, j: int, ptype: ir.Type) -> Callable[[int], ir.Expr]:
        """A function of the step k giving argument j of verb `op` there."""
        t, span, length, rows_n = self.t, self.span, self.t.length, len(self.t.rows)
        uses = [(e, k, row[k][1][j]) for e, row in enumerate(t.rows) for k in range(length) if row[k][0] == op]
        kinds = {("c", a.value) if isinstance(a, ConstArg) else ("p", a.index) for _, _, a in uses}
        first = uses[0][2]
        if len(kinds) == 1:
            fixed = first.node if isinstance(first, ConstArg) else self.locals_[first.index]
            return lambda k: fixed
        zero = ir.zero_value(self.module, ptype)
        vals = [[zero] * length for _ in range(rows_n)]
        srcs = [[0] * length for _ in range(rows_n)]
        for e, k, a in uses:
            if isinstance(a, ConstArg):
                vals[e][k] = a.value
            else:
                srcs[e][k] = a.index + 1
        has_const = any(isinstance(a, ConstArg) for _, _, a in uses)
        params_used = sorted({a.index for _, _, a in uses if isinstance(a, ParamArg)})
        val_t = ir.Const(value=vals, type=_array_type(ptype, rows_n, length), span=span)
        src_t = ir.Const(value=srcs, type=_array_type(ir.IntT(lo=0, hi=len(self.hole)), rows_n, length), span=span)
        return lambda k: self._select(k, ptype, val_t if has_const else None, src_t, params_used)

    def _select(self, k: int, ptype: ir.Type, val_t: ir.Const | None, src_t: ir.Const,
                params_used: list[int]) -> ir.Expr:
        """An argument that differs between rows at step k: the hole parameter `src_t` names
        (1-based; 0: none), else the constant of `val_t` (or, without constants, the last
        parameter used), as nested conditionals."""
        span, effect = self.span, self.effect
        if val_t is not None:
            out, chosen = _gather(val_t, effect, k, ptype, span), params_used
        else:
            out, chosen = self.locals_[params_used[-1]], params_used[:-1]
        for i in reversed(chosen):
            src = _gather(src_t, effect, k, ir.elem_of(ir.elem_of(src_t.type)), span)
            one = ir.Const(value=i + 1, type=ir.IntT(lo=i + 1, hi=i + 1), span=span)
            cond = ir.Binary(op="eq", left=src, right=one, type=ir.BOOL, span=span)
            out = ir.Cond(cond=cond, then=self.locals_[i], orelse=out, type=ptype, span=span)
        return out

    def chain(self, k: int, present: list[int], op_local: ir.Local, args_of: dict[int, list]) -> list[ir.Stmt]:
        """Step k's if-chain over the ops `present` there: `if op_k == op { call }`, the
        verb with its arguments at k or the fallback member with the hole's parameters."""
        t, span = self.t, self.span
        chain: list[ir.Stmt] = []
        for op in reversed(present):
            if op <= len(t.verbs):
                call = ir.CallProc(proc=t.verbs[op - 1], args=[a(k) for a in args_of[op]], span=span)
            else:
                call = ir.CallProc(proc=t.fallbacks[op - len(t.verbs) - 1], args=list(self.locals_), span=span)
            cond = ir.Binary(op="eq", left=op_local, right=ir.Const(value=op, type=ir.IntT(lo=op, hi=op), span=span),
                             type=ir.BOOL, span=span)
            chain = [ir.If(cond=cond, then=[call], orelse=chain, span=span)]
        return chain


def run(module: ir.Module, ctx=None) -> ir.Module:
    """Replace the body of each family's dispatch proc, and of its restricted copies
    (`FamilyDef.restricted`, the pass `restrict_dispatch`), by its effect table (see the module
    docstring). Dispatch procs of another shape are left as they are. `ctx` (a
    `PassContext`) holds no option of this pass."""
    new_bodies: dict[str, list[ir.Stmt]] = {}
    for dispatch in [d for fam in module.families for d in (fam.dispatch, *fam.restricted)]:
        t = build(module, dispatch)
        if t is None:
            continue
        new_bodies[dispatch] = _lower(module, t, module.fn(dispatch))
    if not new_bodies:
        return module
    fns = [f.model_copy(update={"body": new_bodies[f.name]}) if f.name in new_bodies else f for f in module.fns]
    return module.model_copy(update={"fns": fns})
