"""The pass `lower_choices`: every body that can pause becomes a state machine of plain IR,
the form the array backends (JAX, Rust) consume (DESIGN.md decisions 7 and 8).

Public surface: `run(module) -> ir.Module` (identity without `choose`; runs
`choice_points` first when it has not run), `RUN`, `SEEK`.

Input: the IR of `choice_points` (its state fields, points and frames). Output: the same
state and action space, no `Choose` statement, and:

* each proc that can pause, and each action body that can pause (moved into a proc
  `_envc_run_<action>` that the action calls), starts with two flags, `_envc_run` (the body
  runs: its `at` field is 0) and `_envc_seek` (it goes back to the point its `at` names);
* statements with no point inside run under `if _envc_run { ... }` (their `let`s are
  declared before, with the type's zero, and assigned inside);
* `if c {A} else {B}` with points inside becomes `if (_envc_run and c) or seek(points of A)
  {A'} else {B'}`, keeping `elif` chains flat (a condition that draws is evaluated first,
  under `_envc_run`); `match` likewise, its subject evaluated once under `_envc_run`;
* `for i in lo..hi {body}` with points inside runs `body'` where `_envc_run or (seeking a
  point inside and i == the frame's i)`;
* `choose` point j: when running, if some option is legal, the live locals are saved, the
  mover saved, `current_player` set to the chooser, `at = j` and `_envc_run` false (the rest
  of the body does nothing), else the target takes `else` (or the `fail` faults); when
  seeking j: the live locals come back, the target takes `_envc_choice_option`,
  `current_player` the mover, `at = 0`, and the body runs on;
* a call point j of proc P: its arguments are evaluated under `_envc_run` (into locals);
  when running or seeking j the call is made (seeking restores the locals first and clears
  `at`), and if P's `at` is not 0 afterwards (P paused) the live locals are saved, `at = j`
  and the body stops running;
* the action `choose(option)` stores the option in `_envc_choice_option` and calls the
  `_envc_run_<action>` of the action whose `at` is not 0, with zero arguments (a resumed body
  reads its parameters from its frame, never from the call).

This is the same meaning as the reference interpreter's native `choose` (a pause unwinds,
a resume walks back to the point): `envc verify` runs the interpreter on both forms.
"""

from __future__ import annotations

from typing import Any

from envc.compiler import ir, irutil
from envc.compiler.passes import choice_points as cp

RUN = cp.PREFIX + "run"
SEEK = cp.PREFIX + "seek"


class _Body:
    """Lowers one body (see the module docstring) with its plan `bp`."""

    def __init__(self, module: ir.Module, bp: cp.BodyPlan, procs: dict[str, cp.BodyPlan]):
        self.m = module
        self.bp = bp
        self.procs = procs
        self.n = 0
        self.at = ir.StateGet(name=bp.at, type=ir.IntT(lo=0, hi=len(bp.points)))
        self.run = irutil.local(RUN, ir.BOOL)
        self.seek = irutil.local(SEEK, ir.BOOL)

    def fresh(self, what: str) -> str:
        self.n += 1
        return f"{cp.PREFIX}{what}{self.n}"

    def zero(self, t: ir.Type) -> ir.Const:
        return irutil.zero_const(self.m, t)

    def set_local(self, name: str, t: ir.Type, value: ir.Expr) -> ir.Assign:
        return ir.Assign(place=ir.Place(root="local", name=name, type=t), value=value)

    def set_state(self, name: str, t: ir.Type, value: ir.Expr) -> ir.Assign:
        return ir.Assign(place=ir.Place(root="state", name=name, type=t), value=value)

    def seek_in(self, rng: tuple[int, int] | None) -> ir.Expr:
        if rng is None:
            return irutil.bool_const(False)
        lo, hi = rng
        if lo == hi:
            return irutil.and_(self.seek, irutil.binop("eq", self.at, irutil.int_const(lo)))
        return irutil.and_(self.seek, irutil.binop("ge", self.at, irutil.int_const(lo)),
                           irutil.binop("le", self.at, irutil.int_const(hi)))

    def save(self, j: int) -> list[ir.Stmt]:
        bp = self.bp
        out: list[ir.Stmt] = [self.set_state(bp.slot[n], bp.types[n], irutil.local(n, bp.types[n]))
                              for n in bp.points[j - 1].live]
        out.append(self.set_state(bp.at, self.at.type, irutil.int_const(j)))
        out.append(self.set_local(RUN, ir.BOOL, irutil.bool_const(False)))
        return out

    def restore(self, j: int) -> list[ir.Stmt]:
        bp = self.bp
        # (a loop variable is not assigned: the loop is at the frame's iteration already)
        out: list[ir.Stmt] = [self.set_local(n, bp.types[n], ir.StateGet(name=bp.slot[n], type=bp.types[n]))
                              for n in bp.points[j - 1].live if n not in bp.loop_vars]
        out.append(self.set_state(bp.at, self.at.type, irutil.int_const(0)))
        out.append(self.set_local(SEEK, ir.BOOL, irutil.bool_const(False)))
        return out

    # ------------------------------------------------------------ blocks
    def body(self) -> list[ir.Stmt]:
        zero = irutil.int_const(0)
        return [ir.Let(name=RUN, type=ir.BOOL, value=irutil.binop("eq", self.at, zero)),
                ir.Let(name=SEEK, type=ir.BOOL, value=irutil.binop("ne", self.at, zero))] + self.block(self.bp.body)

    def block(self, stmts: list[ir.Stmt]) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        group: list[ir.Stmt] = []
        for s in stmts:
            if id(s) not in self.bp.span:
                group.append(s)
                continue
            out += self.guarded(group)
            group = []
            out += self.stmt(s)
        return out + self.guarded(group)

    def guarded(self, group: list[ir.Stmt]) -> list[ir.Stmt]:
        """Statements with no point inside: under `_envc_run`, their `let`s declared first."""
        if not group:
            return []
        head: list[ir.Stmt] = []
        inner: list[ir.Stmt] = []
        for s in group:
            if isinstance(s, ir.Let) and isinstance(s.value, ir.Const):
                head.append(s)
            elif isinstance(s, ir.Let):
                head.append(ir.Let(name=s.name, type=s.type, value=self.zero(s.type), span=s.span))
                inner.append(ir.Assign(place=ir.Place(root="local", name=s.name, type=s.type, span=s.span),
                                       value=s.value, span=s.span))
            else:
                inner.append(s)
        if not inner:
            return head
        return head + [ir.If(cond=self.run, then=inner, span=inner[0].span)]

    def stmt(self, s: ir.Stmt) -> list[ir.Stmt]:
        j = self.bp.point_of.get(id(s))
        if isinstance(s, ir.Choose):
            return self.choose(s, j)
        if isinstance(s, ir.CallProc):
            return self.call(s, j)
        if isinstance(s, ir.If):
            return self.if_(s)
        if isinstance(s, ir.For):
            return self.for_(s)
        assert isinstance(s, ir.Match), s.kind
        return self.match(s)

    def arm(self, stmts: list[ir.Stmt]) -> list[ir.Stmt]:
        """A branch entered only while running (no point inside) stays as it is; else lowered."""
        return self.block(stmts) if self.bp.range_of(stmts) is not None else stmts

    def if_(self, s: ir.If) -> list[ir.Stmt]:
        pre: list[ir.Stmt] = []
        if ir.first_draw(s.cond) is None:
            taken = irutil.and_(self.run, s.cond)
        else:
            c = self.fresh("c")
            pre = [ir.Let(name=c, type=ir.BOOL, value=irutil.bool_const(False), span=s.span),
                   ir.If(cond=self.run, then=[self.set_local(c, ir.BOOL, s.cond)], span=s.span)]
            taken = irutil.local(c, ir.BOOL)
        cond = irutil.or_(taken, self.seek_in(self.bp.range_of(s.then)))
        return pre + [ir.If(cond=cond, then=self.arm(s.then), orelse=self.block(s.orelse), span=s.span)]

    def for_(self, s: ir.For) -> list[ir.Stmt]:
        bp = self.bp
        var = irutil.local(s.var, bp.types[s.var])
        again = irutil.and_(self.seek_in(bp.range_of(s.body)),
                            irutil.binop("eq", var, ir.StateGet(name=bp.slot[s.var], type=bp.types[s.var])))
        body = [ir.If(cond=irutil.or_(self.run, again), then=self.block(s.body), span=s.span)]
        return [s.model_copy(update={"body": body})]

    def match(self, s: ir.Match) -> list[ir.Stmt]:
        m = self.fresh("m")
        t = s.subject.type
        pre = [ir.Let(name=m, type=t, value=self.zero(t), span=s.span),
               ir.If(cond=self.run, then=[self.set_local(m, t, s.subject)], span=s.span)]
        subject = irutil.local(m, t)
        rest: list[ir.Stmt] = []
        for arm in reversed(s.arms):
            if not arm.members:  # `_`: everything the arms above leave
                rest = self.block(arm.body) if self.bp.range_of(arm.body) is not None else self.guarded(arm.body)
                continue
            hit = irutil.or_(*[irutil.binop("eq", subject, ir.Const(type=t, value=v)) for v in arm.members])
            cond = irutil.or_(irutil.and_(self.run, hit), self.seek_in(self.bp.range_of(arm.body)))
            rest = [ir.If(cond=cond, then=self.arm(arm.body), orelse=rest, span=arm.span)]
        return pre + rest

    def choose(self, s: ir.Choose, j: int) -> list[ir.Stmt]:
        who = self.fresh("who")
        player = ir.IntT(lo=0, hi=self.m.num_players - 1)
        legal = ir.Reduce(op="any", var=s.var, lo=s.lo, hi=s.hi, body=s.cond, type=ir.BOOL)
        current = ir.StateGet(name="current_player", type=player)
        pause = self.save(j) + [
            self.set_state(cp.MOVER, player, current),
            self.set_state("current_player", player, irutil.local(who, player)),
        ]
        if s.orelse is not None:
            fallback: list[ir.Stmt] = [ir.Assign(place=s.place, value=s.orelse, span=s.span)]
        else:
            fallback = [ir.Fault(message=s.fault or "no legal option", span=s.span)]
        running = [ir.Let(name=who, type=player, value=s.chooser, span=s.span),
                   ir.If(cond=legal, then=pause, orelse=fallback, span=s.span)]
        option = ir.StateGet(name=cp.OPTION, type=self.option_type())
        back = self.restore(j) + [
            ir.Assign(place=s.place, value=option, span=s.span),
            self.set_state("current_player", player, ir.StateGet(name=cp.MOVER, type=player)),
            self.set_local(RUN, ir.BOOL, irutil.bool_const(True)),
        ]
        resume = ir.If(cond=self.seek_in((j, j)), then=back, span=s.span)
        return [ir.If(cond=self.run, then=running, orelse=[resume], span=s.span)]

    def option_type(self) -> ir.Type:
        return next(f.type for f in self.m.state if f.name == cp.OPTION)

    def call(self, s: ir.CallProc, j: int) -> list[ir.Stmt]:
        callee = self.procs[s.proc]
        fn = self.m.fn(s.proc)
        pre: list[ir.Stmt] = []
        assigns: list[ir.Stmt] = []
        args: list[ir.Expr] = []
        for p, a in zip(fn.params, s.args):
            if isinstance(a, (ir.Const, ir.Local)):
                args.append(a)
                continue
            tmp = self.fresh("arg")
            pre.append(ir.Let(name=tmp, type=p.type, value=self.zero(p.type), span=s.span))
            assigns.append(self.set_local(tmp, p.type, a))
            args.append(irutil.local(tmp, p.type))
        if assigns:
            pre.append(ir.If(cond=self.run, then=assigns, span=s.span))
        paused = irutil.binop("ne", ir.StateGet(name=callee.at, type=ir.IntT(lo=0, hi=len(callee.points))),
                              irutil.int_const(0))
        inner = [
            ir.If(cond=self.seek, then=self.restore(j), span=s.span),
            s.model_copy(update={"args": args}),
            ir.If(cond=paused, then=self.save(j), orelse=[self.set_local(RUN, ir.BOOL, irutil.bool_const(True))],
                  span=s.span),
        ]
        return pre + [ir.If(cond=irutil.or_(self.run, self.seek_in((j, j))), then=inner, span=s.span)]


def run(module: ir.Module) -> ir.Module:
    """The module with every body that can pause lowered to a state machine (docstring)."""
    module = cp.run(module)
    info = module.choice
    if info is None or info.lowered:
        return module
    pl = cp.plan(module)
    procs = {name: bp for (kind, name), bp in pl.bodies.items() if kind == "proc"}
    fns = []
    for f in module.fns:
        bp = procs.get(f.name)
        fns.append(f if bp is None else f.model_copy(update={"body": _Body(module, bp, procs).body()}))
    names = {f.name for f in fns}
    actions = list(module.actions)
    bodies = []
    runs: list[tuple[ir.ChoiceBody, str]] = []
    for b in info.bodies:
        if b.kind != "action":
            bodies.append(b)
            continue
        bp = pl.bodies[("action", b.name)]
        run_name = f"{cp.PREFIX}run_{b.name}"
        while run_name in names:
            run_name += "_"
        names.add(run_name)
        a = actions[b.action]
        fns.append(ir.FnDef(name=run_name, params=a.params, ret=None, body=_Body(module, bp, procs).body(), pure=False,
                            span=a.span))
        call = ir.CallProc(proc=run_name, args=[irutil.local(p.name, p.type) for p in a.params], span=a.span)
        actions[b.action] = a.model_copy(update={"body": [call]})
        b = b.model_copy(update={"run": run_name})
        bodies.append(b)
        runs.append((b, run_name))
    choose = actions[info.action]
    option_t = choose.params[0].type
    resume: list[ir.Stmt] = []
    for b, run_name in reversed(runs):
        a = actions[b.action]
        waiting = irutil.binop("ne", ir.StateGet(name=b.at, type=ir.IntT(lo=0, hi=len(pl.bodies[("action", b.name)].points))),
                               irutil.int_const(0))
        call = ir.CallProc(proc=run_name, args=[irutil.zero_const(module, p.type) for p in a.params], span=a.span)
        resume = [ir.If(cond=waiting, then=[call], orelse=resume, span=a.span)]
    store = ir.Assign(place=ir.Place(root="state", name=cp.OPTION, type=option_t),
                      value=irutil.local(cp.OPTION_PARAM, option_t))
    actions[info.action] = choose.model_copy(update={"body": [store] + resume})
    return module.model_copy(update={"fns": fns, "actions": actions,
                                     "choice": info.model_copy(update={"bodies": bodies, "lowered": True})})
