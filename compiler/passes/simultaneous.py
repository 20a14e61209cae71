"""The simultaneous-turn pass: a `simultaneous` spec becomes a sequential game in which the
players commit their choices one after the other, privately, and the last commit resolves
the turn. Every backend then runs it as it runs any sequential spec.

Public surface: `run(module) -> ir.Module` (identity on a module that is not simultaneous
or already lowered), `time_limit(module)`, `CHOICE`, `TURN`, `ACT`.

This pass defines what a simultaneous spec means (the interpreter runs its output):

* State: `simultaneous__choice: int[0..N-1][P]` (`@hidden`: no `observe` reads it) holds each
  player's chosen flat action (N: the number of flat actions, P: players), and
  `simultaneous__turn: int[0..T]` counts resolved turns (T: the spec's `turn_limit`, else
  2^31 - 2). The spec's reads of `step_count` read `simultaneous__turn`; envc's own `step_count`
  goes on counting steps (commits), without limit.
* A turn is P steps. At step p of a turn `current_player` is p (players commit in index
  order, each unaware of the others' choices: the choices are hidden and commits draw no
  random numbers), and the legal actions are those whose guard holds with `player = p`.
  Committing action `a` stores its flat index in `simultaneous__choice[p]` and nothing else; then
  the module's `epilogue` runs: after the last player's commit it sets `current_player` to
  0, adds 1 to `simultaneous__turn`, runs `resolve`, and sets `truncated` when `simultaneous__turn` reaches
  `turn_limit` and the game did not end; after another player's commit it passes the turn
  to the next player.
* In `resolve` (and in the actions and procs it runs), `act(p)` calls the proc
  `simultaneous__act(p)`, which decodes `simultaneous__choice[p]` and runs that action kind's body as the
  proc `simultaneous__act_<kind>(player, params...)`; `chose(p, k)` is `simultaneous__choice[p]` inside
  kind k's flat range, and `chosen(p, k.x)` decodes parameter x from it (the layout of
  `envc.compiler.actions.ActionSpace`).
* Guards read `player` as `current_player`. The checker forbids the spec to read
  `current_player` and `rewards`, and guards cannot read the hidden choices, so the
  legal actions of player p are the same at the start of the turn as at p's commit: the
  joint step `step_joint(state, actions)` of the backends (all choices at once, one
  resolution) equals P sequential steps, and the mask of every player can be computed at
  the start of a turn (`legal_action_masks`).
"""

from __future__ import annotations

from envc.compiler import actions, ir, irutil
from envc.compiler.actions import ActionSpace
from envc.compiler.diagnostics import Diagnostic, DiagnosticError

CHOICE = "simultaneous__choice"
TURN = "simultaneous__turn"
ACT = "simultaneous__act"
PLAYER = "player"
_NO_LIMIT = ir.INT32_MAX - 1  # `simultaneous__turn + 1` must stay inside int32


NAME = "simultaneous"
# Decision: this pass defines what a simultaneous turn means (private commits, then one
# resolution); without it the spec is another game, so it cannot be disabled.
REQUIRED = True


def run(module: ir.Module, ctx=None) -> ir.Module:
    """Lower a checked simultaneous module (see the module docstring); other modules are
    returned unchanged.

    Raises:
        DiagnosticError: when a name of the spec clashes with one this pass adds (E0101).
    """
    sim = module.simultaneous
    if sim is None or sim.lowered:
        return module
    return _Lowering(module, sim).run()


def time_limit(module: ir.Module) -> tuple[str, int] | None:
    """(the state field that counts, the limit) of the spec's `turn_limit` as the packages
    report it (`TURN_LIMIT`, `time_limit_reached`, the `truncated` of an auto-reset step that
    also terminated): `step_count` against `turn_limit` for a sequential spec, the turn counter
    `TURN` against the limit in turns for a lowered simultaneous one (its `step_count` counts
    commits, and the module's `turn_limit` is None: the epilogue truncates); None without a limit."""
    sim = module.simultaneous
    if sim is not None and sim.lowered:
        return (sim.turn, sim.turn_limit) if sim.turn is not None and sim.turn_limit is not None else None
    return ("step_count", module.turn_limit) if module.turn_limit is not None else None


def _const_int(e: ir.Expr) -> int:
    """The value of a constant argument of `sim.chose`/`sim.chosen` (the checker makes them
    constants: the action kind's index, the parameter's index)."""
    assert isinstance(e, ir.Const), e
    return e.value


class _Lowering:
    def __init__(self, module: ir.Module, sim: ir.SimultaneousDef):
        self.m = module
        self.sim = sim  # module.simultaneous
        self.space = ActionSpace(module)
        self.p = module.num_players
        self.n = self.space.n
        self.limit = module.turn_limit
        self.turn_max = self.limit if self.limit is not None else _NO_LIMIT
        self.choice_t = ir.IntT(lo=0, hi=max(self.n - 1, 0))
        self.player_t = ir.IntT(lo=0, hi=self.p - 1)
        self.turn_t = ir.IntT(lo=0, hi=self.turn_max)
        self.span = sim.span

    # ------------------------------------------------------------ small builders
    def const(self, v: int) -> ir.Const:
        return ir.Const(type=ir.IntT(lo=v, hi=v), value=v, span=self.span)

    def binary(self, op: ir.BinaryOp, a: ir.Expr, b: ir.Expr, t: ir.Type) -> ir.Binary:
        return ir.Binary(op=op, left=a, right=b, type=t, span=self.span)

    def state(self, name: str, t: ir.Type) -> ir.StateGet:
        return ir.StateGet(name=name, type=t, span=self.span)

    def current(self) -> ir.StateGet:
        return self.state("current_player", self.player_t)

    def choice_of(self, p: ir.Expr) -> ir.GetIndex:
        whole = ir.ArrayT(elem=self.choice_t, size=self.p)
        return ir.GetIndex(base=self.state(CHOICE, whole), index=p, type=self.choice_t, span=self.span)

    def assign_state(self, name: str, t: ir.Type, value: ir.Expr, path=()) -> ir.Assign:
        return ir.Assign(place=ir.Place(root="state", name=name, path=list(path), type=t, span=self.span),
                         value=value, span=self.span)

    # ------------------------------------------------------------ the pass
    def run(self) -> ir.Module:
        m = self.m
        self._check_names()
        kinds = self.space.kinds
        acts = [self.act_proc(m.actions[k.index]) for k in kinds]
        dispatch = self.dispatch_proc(kinds)
        fns = [self.rewrite_fn(f) for f in m.fns] + acts + [dispatch]
        actions = [self.commit_action(m.actions[k.index], k) for k in kinds]
        state = []
        for f in m.state:
            if f.name == "step_count":  # envc's step counter counts commits, with no limit
                f = f.model_copy(update={"type": ir.IntT(lo=0, hi=ir.INT32_MAX)})
            state.append(f)
        state.append(ir.FieldDef(name=CHOICE, type=ir.ArrayT(elem=self.choice_t, size=self.p), default=[0] * self.p,
                                 visibility="hidden", span=self.span))
        state.append(ir.FieldDef(name=TURN, type=self.turn_t, default=0, span=self.span))
        sim = ir.SimultaneousDef(resolve=[], lowered=True, choice=CHOICE, turn=TURN, turn_limit=self.limit,
                                 span=self.span)
        return m.model_copy(update={
            "state": state, "fns": fns, "actions": actions, "turn_limit": None,
            "init": self.rewrite(m.init), "observe": m.observe.model_copy(update={"body": self.rewrite(m.observe.body)}),
            "invariants": [i.model_copy(update={"expr": self.rewrite(i.expr)}) for i in m.invariants],
            "holes": [h.model_copy(update={"ensures": self.rewrite(h.ensures)}) for h in m.holes],
            "epilogue": self.epilogue(), "simultaneous": sim,
        })

    def _check_names(self) -> None:
        taken = {f.name: f.span for f in self.m.state} | {f.name: f.span for f in self.m.fns}
        ours = [CHOICE, TURN, ACT] + [f"{ACT}_{a.name}" for a in self.m.actions]
        clashes = [n for n in ours if n in taken]
        if clashes:
            n = clashes[0]
            raise DiagnosticError([Diagnostic("E0101", f"`{n}` is a name envc uses in simultaneous specs",
                                              taken[n], "defined here", help="rename it")])

    def epilogue(self) -> list[ir.Stmt]:
        """After each commit: pass the turn on, or (after the last player's) resolve it."""
        sim = self.sim
        last = self.binary("eq", self.current(), self.const(self.p - 1), ir.BOOL)
        nxt = ir.Builtin(name="min", args=[self.binary("add", self.current(), self.const(1),
                                                           ir.IntT(lo=1, hi=self.p)), self.const(self.p - 1)],
                         type=ir.IntT(lo=1 if self.p > 1 else 0, hi=self.p - 1), span=self.span)
        turn = self.state(TURN, self.turn_t)
        bumped = ir.Builtin(name="min", args=[self.binary("add", turn, self.const(1),
                                                          ir.IntT(lo=1, hi=self.turn_max + 1)),
                                              self.const(self.turn_max)],
                            type=ir.IntT(lo=1, hi=self.turn_max), span=self.span)
        resolve: list[ir.Stmt] = [self.assign_state("current_player", self.player_t, self.const(0)),
                   self.assign_state(TURN, self.turn_t, bumped)]
        resolve += self.rewrite(sim.resolve)
        if self.limit is not None:
            reached = self.binary("ge", turn, self.const(self.limit), ir.BOOL)
            going = ir.Unary(op="not", operand=self.state("terminated", ir.BOOL), type=ir.BOOL, span=self.span)
            true = ir.Const(type=ir.BOOL, value=True, span=self.span)
            resolve.append(ir.If(cond=self.binary("and", reached, going, ir.BOOL),
                                 then=[self.assign_state("truncated", ir.BOOL, true)], span=self.span))
        if self.p == 1:
            return resolve
        return [ir.If(cond=last, then=resolve, orelse=[self.assign_state("current_player", self.player_t, nxt)],
                      span=self.span)]

    def act_proc(self, a: ir.ActionDef) -> ir.FnDef:
        """`simultaneous__act_<kind>(player, params...)`: the action's body."""
        params = [ir.ParamDef(name=PLAYER, type=self.player_t, span=a.span), *a.params]
        return ir.FnDef(name=f"{ACT}_{a.name}", params=params, ret=None, body=self.rewrite(a.body), pure=False,
                        span=a.span)

    def dispatch_proc(self, kinds) -> ir.FnDef:
        """`simultaneous__act(p)`: run the body of the action `p` chose."""
        p = ir.Local(name="p", type=self.player_t, span=self.span)
        body: list[ir.Stmt] = []
        for kind in reversed(kinds):
            a = self.m.actions[kind.index]
            args = [p] + [self.decode(self.choice_of(p), kind, j) for j in range(len(a.params))]
            call = ir.CallProc(proc=f"{ACT}_{a.name}", args=args, span=self.span)
            if not body or kind.offset + kind.size >= self.n:
                body = [call]  # the last kind: whatever is left
                continue
            cond = self.binary("lt", self.choice_of(p), self.const(kind.offset + kind.size), ir.BOOL)
            body = [ir.If(cond=cond, then=[call], orelse=body, span=self.span)]
        return ir.FnDef(name=ACT, params=[ir.ParamDef(name="p", type=self.player_t)], ret=None, body=body, pure=False,
                        span=self.span)

    def commit_action(self, a: ir.ActionDef, kind) -> ir.ActionDef:
        """The action as a commit: its guard with `player` = `current_player`; its body
        stores the flat index in `simultaneous__choice[current_player]`."""
        # (rewritten as every other body is: a guard's `step_count` is the turn, not the commit;
        # a fresh spec's `when step_count < 3` differed between the two players of one turn)
        guard = self.rewrite(irutil.substitute(a.guard, {PLAYER: self.current()})) if a.guard is not None else None
        flat: ir.Expr = self.const(kind.offset)
        hi = kind.offset
        stride = kind.size
        for p, dom in zip(a.params, kind.domains):
            stride //= len(dom)
            v: ir.Expr = ir.Local(name=p.name, type=p.type, span=self.span)
            if not isinstance(p.type, ir.IntT):
                v = ir.Builtin(name="int", args=[v], type=ir.IntT(lo=0, hi=len(dom) - 1), span=self.span)
            elif dom[0] != 0:
                v = self.binary("sub", v, self.const(dom[0]), ir.IntT(lo=0, hi=len(dom) - 1))
            if stride != 1:
                v = self.binary("mul", v, self.const(stride), ir.IntT(lo=0, hi=(len(dom) - 1) * stride))
            hi += (len(dom) - 1) * stride
            flat = self.binary("add", flat, v, ir.IntT(lo=kind.offset, hi=hi))
        store = self.assign_state(CHOICE, self.choice_t, flat, path=[ir.IndexStep(index=self.current())])
        return ir.ActionDef(name=a.name, params=a.params, guard=guard, body=[store], span=a.span)

    def decode(self, c: ir.Expr, kind, j: int) -> ir.Expr:
        """Parameter j of kind `kind` from the flat index `c` (any value: the result is always
        inside the parameter's type, `actions.decode_param`)."""
        if kind.offset == 0:
            return actions.decode_param(kind, c, j)
        rel = self.binary("sub", c, self.const(kind.offset), ir.IntT(lo=ir.int_of(c.type).lo - kind.offset,
                                                                      hi=ir.int_of(c.type).hi - kind.offset))
        return actions.decode_param(kind, rel, j)

    # ------------------------------------------------------------ rewriting
    def rewrite_fn(self, f: ir.FnDef) -> ir.FnDef:
        return f.model_copy(update={"body": self.rewrite(f.body)})

    def rewrite(self, node):
        """`node` with `act`, `chose`, `chosen` and reads of `step_count` lowered."""
        return ir.transform(node, self._lower_node)

    def _lower_node(self, x):
        if isinstance(x, ir.StateGet) and x.name == "step_count":
            return self.state(TURN, self.turn_t).model_copy(update={"span": x.span})
        if isinstance(x, ir.CallProc) and x.proc == "sim.act":
            return ir.CallProc(proc=ACT, args=x.args, span=x.span)
        if isinstance(x, ir.Builtin) and x.name == "sim.chose":
            kind = self.space.kinds[_const_int(x.args[1])]
            c = self.choice_of(x.args[0])
            lo, hi = kind.offset, kind.offset + kind.size
            parts = []
            if lo > 0:
                parts.append(self.binary("ge", c, self.const(lo), ir.BOOL))
            if hi < self.n:
                parts.append(self.binary("lt", c, self.const(hi), ir.BOOL))
            if not parts:
                return ir.Const(type=ir.BOOL, value=True, span=x.span)
            return parts[0] if len(parts) == 1 else self.binary("and", parts[0], parts[1], ir.BOOL)
        if isinstance(x, ir.Builtin) and x.name == "sim.chosen":
            kind = self.space.kinds[_const_int(x.args[1])]
            return self.decode(self.choice_of(x.args[0]), kind, _const_int(x.args[2]))
        return None
