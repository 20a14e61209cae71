"""The pass `lower_choices`: every body that can pause becomes a state machine of plain IR,
the form the array backends (JAX, Rust) consume (DESIGN.md decisions 7 and 8).

Public surface: `NAME`, `REQUIRED`, `run(module, ctx=None) -> ir.Module` (identity without `choose`; runs
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

from dataclasses import dataclass
from typing import Any

from envc.compiler import ir, irutil
from envc.compiler.passes import choice_points as cp

RUN = cp.PREFIX + "run"
SEEK = cp.PREFIX + "seek"


@dataclass(frozen=True)
class _Modes:
    """How a statement may be reached: running (`run`), after this body paused (`susp`), or
    seeking one of the points in `seek` (a resume). A guard that only tells apart modes that
    cannot occur is left out: under `vmap` every guard is a select of what it covers."""

    run: bool
    susp: bool
    seek: frozenset

    def __or__(self, other: "_Modes") -> "_Modes":
        return _Modes(self.run or other.run, self.susp or other.susp, self.seek | other.seek)

    @property
    def only_run(self) -> bool:
        return self.run and not self.susp and not self.seek


class _Body:
    """Lowers one body (see the module docstring) with its plan `bp`."""

    def __init__(self, module: ir.Module, bp: cp.BodyPlan, procs: dict[str, cp.BodyPlan]):
        self.m = module
        self.bp = bp
        self.procs = procs
        self.n = 0
        self.at = bp.at_get()
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

    def seek_in(self, rng: tuple[int, int] | None, modes: _Modes) -> ir.Expr:
        """`_envc_seek` and the point sought in `rng` (false when no such point may be sought)."""
        if rng is None or not any(rng[0] <= k <= rng[1] for k in modes.seek):
            return irutil.bool_const(False)
        lo, hi = rng
        if lo == hi:
            return irutil.and_(self.seek, irutil.binop("eq", self.at, self.bp.at_value(lo)))
        return irutil.and_(self.seek, irutil.binop("ge", self.at, self.bp.at_value(lo)),
                           irutil.binop("le", self.at, self.bp.at_value(hi)))

    def running(self, modes: _Modes) -> ir.Expr:
        """`_envc_run` (true when nothing but running may reach here)."""
        return irutil.bool_const(True) if modes.only_run else self.run

    def save(self, j: int) -> list[ir.Stmt]:
        bp = self.bp
        out: list[ir.Stmt] = [self.set_state(bp.slot[n], bp.types[n], irutil.local(n, bp.types[n]))
                              for n in bp.points[j - 1].live]
        out.append(self.set_state(bp.at, self.at.type, bp.at_value(j)))
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

    @staticmethod
    def when(cond: ir.Expr, then: list[ir.Stmt], orelse: list[ir.Stmt] | None = None, span=None) -> list[ir.Stmt]:
        """`if cond {then} else {orelse}`, folded when `cond` is a constant."""
        orelse = orelse or []
        if isinstance(cond, ir.Const):
            return then if cond.value else orelse
        if not then and not orelse:
            return []
        return [ir.If(cond=cond, then=then, orelse=orelse, span=span or (then or orelse)[0].span)]

    # ------------------------------------------------------------ blocks
    def body(self) -> list[ir.Stmt]:
        zero = irutil.int_const(0)
        modes = _Modes(run=True, susp=False, seek=frozenset(range(1, len(self.bp.points) + 1)))
        out, _ = self.block(self.bp.body, modes)
        return [ir.Let(name=RUN, type=ir.BOOL, value=irutil.binop("eq", self.at, zero)),
                ir.Let(name=SEEK, type=ir.BOOL, value=irutil.binop("ne", self.at, zero))] + out

    def block(self, stmts: list[ir.Stmt], modes: _Modes) -> tuple[list[ir.Stmt], _Modes]:
        """A block: runs of statements with no point inside, and statements with points."""
        segments: list[tuple[str, Any]] = []
        for s in stmts:
            if id(s) not in self.bp.span:
                if segments and segments[-1][0] == "group":
                    segments[-1][1].append(s)
                else:
                    segments.append(("group", [s]))
            else:
                segments.append(("point", s))
        out: list[ir.Stmt] = []
        i = 0
        while i < len(segments):
            kind, x = segments[i]
            if kind == "group":
                out += self.guarded(x, modes)
                i += 1
                continue
            follow = segments[i + 1][1] if i + 1 < len(segments) and segments[i + 1][0] == "group" else None
            lowered, modes, used = self.stmt(x, modes, follow)
            out += lowered
            i += 2 if used else 1
        return out, modes

    def guarded(self, group: list[ir.Stmt], modes: _Modes) -> list[ir.Stmt]:
        """Statements with no point inside: under `_envc_run` (their `let`s declared first),
        unless nothing but running may reach them."""
        if not group:
            return []
        if modes.only_run:
            return list(group)
        head, inner = self.hoist(group)
        return head + self.when(self.running(modes), inner, span=group[0].span)

    def hoist(self, group: list[ir.Stmt]) -> tuple[list[ir.Stmt], list[ir.Stmt]]:
        """The `let`s of `group` declared with their type's zero, and the group with them assigned."""
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
        return head, inner

    def stmt(self, s: ir.Stmt, modes: _Modes, follow: list[ir.Stmt] | None) -> tuple[list[ir.Stmt], _Modes, bool]:
        """A statement with points inside (and whether it took the group `follow` after it)."""
        j = self.bp.point_of.get(id(s))
        if isinstance(s, ir.Choose):
            assert j is not None  # (a `choose` is a pause point)
            out, after = self.choose(s, j, modes)
            return out, after, False
        if isinstance(s, ir.CallProc):
            assert j is not None  # (a call with points inside calls a proc that can pause: a pause point)
            return self.call(s, j, modes, follow)
        if isinstance(s, ir.If):
            out, after = self.if_(s, modes)
        elif isinstance(s, ir.For):
            out, after = self.for_(s, modes)
        else:
            assert isinstance(s, ir.Match), s.kind
            out, after = self.match(s, modes)
        return out, after, False

    def inside(self, stmts: list[ir.Stmt], modes: _Modes, entered_running: bool) -> tuple[list[ir.Stmt], _Modes]:
        """A branch: entered while running (`entered_running`, when `modes.run`) or seeking one of
        its points; nothing else reaches it."""
        rng = self.bp.range_of(stmts)
        seek = frozenset(k for k in modes.seek if rng is not None and rng[0] <= k <= rng[1])
        return self.block(stmts, _Modes(run=modes.run and entered_running, susp=False, seek=seek))

    def after(self, modes: _Modes, rng: tuple[int, int] | None, parts: list[_Modes]) -> _Modes:
        """The modes after a statement holding the points `rng`: those of its branches, and
        those that skipped it (suspended, or seeking a later point)."""
        rest = frozenset(k for k in modes.seek if rng is None or k > rng[1])
        out = _Modes(run=False, susp=modes.susp, seek=rest)
        for p in parts:
            out = out | p
        return out

    def if_(self, s: ir.If, modes: _Modes) -> tuple[list[ir.Stmt], _Modes]:
        pre: list[ir.Stmt] = []
        if ir.first_draw(s.cond) is None:
            taken = irutil.and_(self.running(modes), s.cond)
        else:
            c = self.fresh("c")
            pre = [ir.Let(name=c, type=ir.BOOL, value=irutil.bool_const(False), span=s.span)]
            pre += self.when(self.running(modes), [self.set_local(c, ir.BOOL, s.cond)], span=s.span)
            taken = irutil.local(c, ir.BOOL)
        cond = irutil.or_(taken, self.seek_in(self.bp.range_of(s.then), modes))
        then, m_then = self.inside(s.then, modes, True)
        # the `else` branch: running with the condition false, suspended, or seeking a point
        # that is not in the `then` branch (in the `else` branch, or later: then it is skipped)
        then_rng = self.bp.range_of(s.then)
        others = _Modes(run=modes.run, susp=modes.susp,
                        seek=frozenset(k for k in modes.seek if then_rng is None or not then_rng[0] <= k <= then_rng[1]))
        orelse, m_else = self.block(s.orelse, others)
        rng = self.bp.range_of([s])
        out = pre + [ir.If(cond=cond, then=then if then else [], orelse=orelse, span=s.span)]
        return out, self.after(modes, rng, [m_then, m_else])

    def for_(self, s: ir.For, modes: _Modes) -> tuple[list[ir.Stmt], _Modes]:
        bp = self.bp
        rng = bp.range_of(s.body)
        assert rng is not None  # (the loop has points inside)
        var = irutil.local(s.var, bp.types[s.var])
        again = irutil.and_(self.seek_in(rng, modes),
                            irutil.binop("eq", var, ir.StateGet(name=bp.slot[s.var], type=bp.types[s.var])))
        # a later iteration may follow a pause in an earlier one: the body is always guarded
        seek = frozenset(k for k in modes.seek if rng[0] <= k <= rng[1])
        body, m_body = self.block(s.body, _Modes(run=modes.run, susp=False, seek=seek))
        guard = ir.If(cond=irutil.or_(self.run, again), then=body, span=s.span)
        m_after = self.after(modes, rng, [m_body, _Modes(run=False, susp=True, seek=frozenset())])
        return [s.model_copy(update={"body": [guard]})], m_after

    def match(self, s: ir.Match, modes: _Modes) -> tuple[list[ir.Stmt], _Modes]:
        m = self.fresh("m")
        t = s.subject.type
        pre: list[ir.Stmt] = [ir.Let(name=m, type=t, value=self.zero(t), span=s.span)]
        pre += self.when(self.running(modes), [self.set_local(m, t, s.subject)], span=s.span)
        subject = irutil.local(m, t)
        rest: list[ir.Stmt] = []
        parts = []
        for arm in reversed(s.arms):
            if not arm.members:  # `_`: everything the arms above leave
                if self.bp.range_of(arm.body) is None:
                    rest = self.guarded(arm.body, modes)
                    parts.append(modes)
                else:
                    rest, m_arm = self.block(arm.body, modes)
                    parts.append(m_arm)
                continue
            hit = irutil.or_(*[irutil.binop("eq", subject, ir.Const(type=t, value=v)) for v in arm.members])
            cond = irutil.or_(irutil.and_(self.running(modes), hit), self.seek_in(self.bp.range_of(arm.body), modes))
            body, m_arm = self.inside(arm.body, modes, True)
            parts.append(m_arm)
            rest = [ir.If(cond=cond, then=body, orelse=rest, span=arm.span)]
        return pre + rest, self.after(modes, self.bp.range_of([s]), parts + [_Modes(run=modes.run, susp=False,
                                                                                        seek=frozenset())])

    def choose(self, s: ir.Choose, j: int, modes: _Modes) -> tuple[list[ir.Stmt], _Modes]:
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
        # after the game ended (`terminated`), the lowest legal option, no pause (the interpreter's
        # `s_choose`): `min(if cond then var else hi for var in lo..hi)`
        lowest = ir.Reduce(op="min", var=s.var, lo=s.lo, hi=s.hi, type=ir.IntT(lo=s.lo, hi=s.hi),
                           body=ir.Cond(cond=s.cond, then=ir.Local(name=s.var, type=ir.IntT(lo=s.lo, hi=s.hi - 1)),
                                        orelse=irutil.int_const(s.hi), type=ir.IntT(lo=s.lo, hi=s.hi)))
        ended = ir.StateGet(name="terminated", type=ir.BOOL)
        finish: list[ir.Stmt] = [ir.Assign(place=s.place, value=ir.Builtin(name="min", args=[lowest, irutil.int_const(s.hi - 1)],
                                                              type=ir.IntT(lo=s.lo, hi=s.hi - 1)), span=s.span)]
        running: list[ir.Stmt] = [ir.Let(name=who, type=player, value=s.chooser, span=s.span),
                                  ir.If(cond=legal, then=[ir.If(cond=ended, then=finish, orelse=pause, span=s.span)],
                                        orelse=fallback, span=s.span)]
        # Decision: the option is read with the type of this `choose`'s own domain (`lo..hi`), not
        # the option field's (the widest domain of every `choose` of the spec): the legal-action
        # mask offers only values of `lo..hi` where `cond` holds, so the stored value is in it, and
        # the place (typed from this domain, e.g. `int[-1..3]` with `else -1`) keeps its range
        # (`ir.verify`). Both types store alike, so the generated code does not change.
        option = ir.StateGet(name=cp.OPTION, type=ir.IntT(lo=s.lo, hi=s.hi - 1))
        back: list[ir.Stmt] = self.restore(j) + [
            ir.Assign(place=s.place, value=option, span=s.span),
            self.set_state("current_player", player, ir.StateGet(name=cp.MOVER, type=player)),
            self.set_local(RUN, ir.BOOL, irutil.bool_const(True)),
        ]
        resume = self.when(self.seek_in((j, j), modes), back, span=s.span)
        out = self.when(self.running(modes), running, resume, span=s.span) if modes.run else resume
        sought = j in modes.seek
        return out, _Modes(run=modes.run or sought, susp=modes.susp or modes.run,
                           seek=frozenset(k for k in modes.seek if k > j))

    def call(self, s: ir.CallProc, j: int, modes: _Modes, follow: list[ir.Stmt] | None
             ) -> tuple[list[ir.Stmt], _Modes, bool]:
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
        pre += self.when(self.running(modes), assigns, span=s.span) if assigns else []
        sought = j in modes.seek
        paused = irutil.binop("ne", callee.at_get(), irutil.int_const(0))
        # only running or seeking this point may reach the call: no guard around it, and after
        # it `_envc_run` is "the callee did not pause", so the statements that follow go in
        # the `else` of that test (one select for both)
        alone = not modes.susp and modes.seek <= {j}
        took = alone and follow is not None
        head, rest = self.hoist(follow) if took and follow is not None else ([], [])  # (took: follow is not None)
        restore = (self.restore(j) if not modes.run else self.when(self.seek, self.restore(j), span=s.span)) \
            if sought else []
        inner = restore + [
            s.model_copy(update={"args": args}),
            ir.If(cond=paused, then=self.save(j), orelse=[self.set_local(RUN, ir.BOOL, irutil.bool_const(True))] + rest,
                  span=s.span),
        ]
        if alone:
            out = pre + head + inner
        else:
            out = pre + self.when(irutil.or_(self.running(modes), self.seek_in((j, j), modes)), inner, span=s.span)
        after = _Modes(run=modes.run or sought, susp=modes.susp or modes.run or sought,
                       seek=frozenset(k for k in modes.seek if k > j))
        return out, after, took


NAME = "lower_choices"
# A paused `choose` means nothing to the array backends until it is a state machine.
REQUIRED = True


def run(module: ir.Module, ctx: Any = None) -> ir.Module:
    """The module with every body that can pause lowered to a state machine (docstring). `ctx`
    (a `PassContext`) is unused: the pass has no options."""
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
        assert b.action is not None  # (an action's body has its index)
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
        assert b.action is not None  # (an action's body has its index)
        a = actions[b.action]
        waiting = irutil.binop("ne", pl.bodies[("action", b.name)].at_get(), irutil.int_const(0))
        call = ir.CallProc(proc=run_name, args=[irutil.zero_const(module, p.type) for p in a.params], span=a.span)
        resume = [ir.If(cond=waiting, then=[call], orelse=resume, span=a.span)]
    store = ir.Assign(place=ir.Place(root="state", name=cp.OPTION, type=option_t),
                      value=irutil.local(cp.OPTION_PARAM, option_t))
    actions[info.action] = choose.model_copy(update={"body": [store] + resume})
    return module.model_copy(update={"fns": fns, "actions": actions,
                                     "choice": info.model_copy(update={"bodies": bodies, "lowered": True})})
