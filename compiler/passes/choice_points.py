"""The pass `choice_points`: where an effect can pause for a decision, and how a paused
effect is held in the state (DESIGN.md decision 7). The continuation is defined here, once.

Public surface: `run(module) -> ir.Module` (the pass; identity on a module without `choose`
and without `pending_choice()`), `plan(module) -> Plan` (the per-body layout that the
reference interpreter and `lower_choices` both read), `Plan`, `BodyPlan`, `Point`,
`OPTION_PARAM`.

Decision (issue 14). A `choose` pauses the step in the middle of an effect that may run
through nested procedure calls, loops and branches. Compilers lower such code as
coroutines; here the coroutine is *per body*, because specs have no recursion, so a body
(an action's or a `proc`'s) is active at most once at any time:

* A body *can pause* when it holds a `choose` or calls a proc that can pause. Each such
  body B gets its *pause points*: its `choose` statements and its calls of procs that can
  pause, numbered 1, 2, ... in pre-order of its statements (a block in order, `then` before
  `else`, `match` arms in order), so the points under one statement are consecutive.
* The state gets, per body B that can pause, a public field `_envc_at_<a|p>_<B>` (0: B is
  not paused; j: B is paused at its point j) and one hidden field
  `_envc_frame_<a|p><n>_<B>__<local>` (n: the length of B's name) per local of B that is *live* at some point of B (it is
  read or written after the point, in the rest of its enclosing blocks or anywhere in an
  enclosing loop, or read by the `choose`'s condition; an enclosing loop's variable is
  always live): the frame, of fixed size. Plus `_envc_choice_mover` (the `current_player`
  of the paused effect) and `_envc_choice_option` (the last chosen option). A paused effect
  is the chain of bodies whose `at` is not 0, from an action down to the `choose`. Procs
  that are never on one chain (neither calls the other) share these fields (`_share`:
  `_envc_at_g<k>`, `_envc_frame_g<k>_<n>`; point j of a body is then `base + j`), so the
  state does not grow by fields with every effect text that can pause.
* Locals of a body that can pause are renamed first where two bindings share a name
  (`x`, `x__2`), so that a name is one binding and the frame is a map from names.
* Pausing at `choose` point j of body B (some option is legal): B's live locals go to their
  frame fields, `at_B = j`, the mover is saved, `current_player` becomes the chooser, and the
  rest of the step does nothing; on the way out, each calling body saves its live locals
  and sets its `at` to the point of the call. Every other body's `at` stays 0.
* The generated action kind `choose(option: int[L..H])` (last in the action space; L..H
  covers every site's range) has the mask `OR over sites (at_B == j and lo <= option < hi
  and cond)`, the condition reading B's frame; every spec action's guard gets
  `and not paused` (every action body's `at` is 0). Stepping `choose(option=v)` stores v in
  `_envc_choice_option`, then resumes the action whose `at` is not 0: each body on the chain
  goes back to its point (its enclosing loops at their saved iteration, its branches as
  taken), restores its live locals, and at the `choose` stores v in the target, puts
  `current_player` back to the mover and clears its `at`; a resumed call clears its `at`
  and continues when the callee finishes, or saves and pauses again when it pauses again.
* `pending_choice()` becomes `if at_B1 == j1 then site1 else ... else 0`.

The reference interpreter (`envc.compiler.interp`) runs the IR of this pass with `choose`
natively (a pause unwinds the Python call stack, a resume walks back to the point); the
pass `lower_choices` turns every body that can pause into a state machine of plain IR
(flags and guards), which the JAX and Rust backends consume; `envc verify` runs the
interpreter on both forms and compares them field by field with the backends.

Cost: the fields above, one action kind, a conjunct per guard; the lowered bodies guard their
statements with the flags (bench/RESULTS.md, "choose"). Each field is a leaf that the array
backends move every step: the TCG with 134 texts filled had 148 state leaves, 68 of them
continuation fields, before procs shared them (`_share`), 108 with 28 after (bench/RESULTS.md, "Shared
continuation fields").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from envc.compiler import ir, irutil
from envc.compiler.diagnostics import Diagnostic, DiagnosticError

PREFIX = "_envc_"
OPTION_PARAM = "option"
ACTION_NAME = "choose"
MOVER = PREFIX + "choice_mover"
OPTION = PREFIX + "choice_option"


@dataclass
class Point:
    """Pause point `j` of a body: a `Choose` or a `CallProc` of a proc that can pause."""

    j: int
    stmt: ir.Stmt
    live: list[str]  # the locals saved at a pause and restored at the resume, in order


@dataclass
class BodyPlan:
    """A body that can pause: its `at` field, points and frame (see the module docstring)."""

    kind: Literal["action", "proc"]
    name: str
    index: int | None  # the action's index (actions only)
    params: list[ir.ParamDef]
    body: list[ir.Stmt]
    at: str
    points: list[Point] = field(default_factory=list)
    slot: dict[str, str] = field(default_factory=dict)  # live local -> its frame field
    types: dict[str, ir.Type] = field(default_factory=dict)  # every binding of the body -> its type
    point_of: dict[int, int] = field(default_factory=dict)  # id(point statement) -> j
    span: dict[int, tuple[int, int]] = field(default_factory=dict)  # id(stmt) -> (first, last) point in it
    loop_vars: set[str] = field(default_factory=set)  # the body's `for` variables
    base: int = 0  # point j is stored in `at` as base + j (bodies that share `at`, `_share`)
    at_hi: int = 0  # the largest value of `at` (its field's range is 0..at_hi)

    def at_get(self) -> ir.StateGet:
        """The body's `at` field, read (type: its field's range)."""
        return ir.StateGet(name=self.at, type=ir.IntT(lo=0, hi=self.at_hi))

    def at_value(self, j: int) -> ir.Const:
        """The value of `at` while the body waits at its point j."""
        return irutil.int_const(self.base + j)

    def range_of(self, stmts: list[ir.Stmt]) -> tuple[int, int] | None:
        """The first and last point inside a block (None when it holds none)."""
        spans = [self.span[id(s)] for s in stmts if id(s) in self.span]
        if not spans:
            return None
        return spans[0][0], spans[-1][1]


@dataclass
class Plan:
    bodies: dict[tuple[str, str], BodyPlan]  # ("action" | "proc", name) -> plan
    procs: set[str]  # procs that can pause
    actions: set[int]  # indices of the actions that can pause
    sites: list[tuple[int, BodyPlan, int, ir.Choose]]  # (site, body, point, statement), by site

    def proc(self, name: str) -> BodyPlan | None:
        return self.bodies.get(("proc", name))


# ------------------------------------------------------------------ analysis


def _calls(stmts: list[ir.Stmt]) -> list[ir.CallProc]:
    return [s for s in irutil.walk_stmts(stmts) if isinstance(s, ir.CallProc)]


def _has_choose(stmts: list[ir.Stmt]) -> bool:
    return any(isinstance(s, ir.Choose) for s in irutil.walk_stmts(stmts))


def pausing_procs(module: ir.Module) -> set[str]:
    """The procs that can pause: they hold a `choose` or call one that can (a fixpoint)."""
    procs = {f.name for f in module.fns if f.ret is None and _has_choose(f.body)}
    changed = True
    while changed:
        changed = False
        for f in module.fns:
            if f.ret is None and f.name not in procs and any(c.proc in procs for c in _calls(f.body)):
                procs.add(f.name)
                changed = True
    return procs


def _is_point(s: ir.Stmt, procs: set[str]) -> bool:
    return isinstance(s, ir.Choose) or (isinstance(s, ir.CallProc) and s.proc in procs)


def _field_part(kind: str, name: str) -> str:
    return f"{'a' if kind == 'action' else 'p'}_{name}"


def frame_field(kind: str, body: str, local: str) -> str:
    """The frame field of `local` of body `body`: `_envc_frame_<a|p><len>_<body>__<local>`.
    Decision: the body name's length is part of it, since names may hold `__` (a spec's, or
    a generated instance's `pick__4`): without it body `go` with local `a__b` and body
    `go__a` with local `b` had the one field (a fresh-spec hunt: wrong values on every backend)."""
    return f"{PREFIX}frame_{'a' if kind == 'action' else 'p'}{len(body)}_{body}__{local}"


def body_plan(kind: Literal["action", "proc"], name: str, index: int | None, params: list[ir.ParamDef], body: list[ir.Stmt],
              procs: set[str]) -> BodyPlan:
    """The points, live locals and frame fields of one body (names as they are: run the
    pass's renaming first)."""
    bp = BodyPlan(kind=kind, name=name, index=index, params=params, body=body,
                  at=f"{PREFIX}at_{_field_part(kind, name)}")
    for p in params:
        bp.types[p.name] = p.type
    _number(bp, body, procs)
    _liveness(bp, body, [], [], [p.name for p in params])
    for pt in bp.points:
        for name_ in pt.live:
            bp.slot.setdefault(name_, frame_field(kind, name, name_))
    bp.at_hi = len(bp.points)
    return bp


def _number(bp: BodyPlan, stmts: list[ir.Stmt], procs: set[str]) -> None:
    for s in stmts:
        first = len(bp.points) + 1
        if isinstance(s, ir.Let):
            bp.types[s.name] = s.type
        if _is_point(s, procs):
            bp.points.append(Point(j=first, stmt=s, live=[]))
            bp.point_of[id(s)] = first
        if isinstance(s, ir.For):
            bp.types[s.var] = ir.IntT(lo=s.lo, hi=max(s.lo, s.hi - 1))
            bp.loop_vars.add(s.var)
        for block in irutil.sub_blocks(s):
            _number(bp, block, procs)
        if len(bp.points) >= first:
            bp.span[id(s)] = (first, len(bp.points))


def _liveness(bp: BodyPlan, stmts: list[ir.Stmt], after: list[set[str]], loops: list[tuple[str, set[str]]],
              scope: list[str]) -> None:
    """Fill `live` of each point under `stmts`: the bindings in `scope` (in order) read or
    written later (`after`: the names used after each enclosing block) or in an enclosing
    loop, and the enclosing loops' variables."""
    scope = list(scope)
    for i, s in enumerate(stmts):
        if id(s) in bp.span:
            rest = irutil.local_refs(stmts[i + 1:])
            later = set().union(rest, *after, *(refs for _, refs in loops))
            later |= {var for var, _ in loops}
            j = bp.point_of.get(id(s))
            if j is not None:
                needed = set(later)
                if isinstance(s, ir.Choose):
                    needed |= irutil.free_locals(s.cond) - {s.var}
                    if s.place.root == "local" and not s.place.path and s.place.name not in irutil.free_locals(s.cond):
                        needed.discard(s.place.name)  # overwritten when the choice is made
                bp.points[j - 1].live = [n for n in scope if n in needed]
            inner_after = [rest] + after
            if isinstance(s, ir.For):
                # a `let` of the loop's body is bound again each time round before it is read (its
                # scope is the body): it is not live around the loop, only where read after the
                # point (`rest`). Else the arguments of a pausing call in a loop, which
                # `sequence_draws` binds to fresh lets after this pass, were live with no frame
                # field (compiling failed; a fresh-spec hunt).
                declared = {x.name for x in irutil.walk_stmts(s.body) if isinstance(x, ir.Let)}
                _liveness(bp, s.body, inner_after, loops + [(s.var, irutil.local_refs(s.body) - declared)],
                          scope + [s.var])
            else:
                for block in irutil.sub_blocks(s):
                    _liveness(bp, block, inner_after, loops, scope)
        if isinstance(s, ir.Let):
            scope.append(s.name)


@irutil.by_identity(8)
def plan(module: ir.Module) -> Plan:
    """The layout of paused effects for `module` (after this pass's renaming: `run` does it).
    The same `Plan` for the same module object (`irutil.by_identity`; no one changes a plan once
    made)."""
    procs = pausing_procs(module)
    bodies: dict[tuple[str, str], BodyPlan] = {}
    for f in module.fns:
        if f.name in procs:
            bodies[("proc", f.name)] = body_plan("proc", f.name, None, f.params, f.body, procs)
    actions = set()
    for i, a in enumerate(module.actions):
        if module.choice is not None and i == module.choice.action:
            continue
        if any(_is_point(s, procs) for s in irutil.walk_stmts(a.body)):
            actions.add(i)
            bodies[("action", a.name)] = body_plan("action", a.name, i, a.params, a.body, procs)
    _share([bp for bp in bodies.values() if bp.kind == "proc"], module)
    sites = []
    for bp in bodies.values():
        for pt in bp.points:
            if isinstance(pt.stmt, ir.Choose):
                sites.append((pt.stmt.site, bp, pt.j, pt.stmt))
    sites.sort(key=lambda x: (x[0], x[1].kind, x[1].name))
    return Plan(bodies=bodies, procs=procs, actions=actions, sites=sites)


def _reaches(procs: list[BodyPlan], module: ir.Module) -> dict[str, set[str]]:
    """For each proc that can pause, the procs that can pause it calls, directly or not (a
    proc on a call path to one that can pause can pause too, so the closure over these
    calls is the whole relation; the checker refuses recursion, so the recursion here ends)."""
    fns = {f.name: f for f in module.fns}
    names = {bp.name for bp in procs}
    reach: dict[str, set[str]] = {}

    def of(name: str) -> set[str]:
        if name not in reach:
            direct = {c.proc for c in _calls(fns[name].body) if c.proc in names}
            reach[name] = direct.union(*(of(m) for m in direct))
        return reach[name]

    return {n: of(n) for n in names}


def _share(procs: list[BodyPlan], module: ir.Module) -> None:
    """Let procs that are never paused at the same time share their `at` field and frame.

    Decision (DESIGN.md decisions 6 and 7; bench/RESULTS.md, "Shared continuation fields").
    Each field is a leaf of the generated state, and each leaf costs the array backends
    per step whatever its size (a gather and a scatter of a batch each, a select): a card
    game whose effects decide had one `at` field per effect text that can pause, so the step
    grew with the number of texts. A paused effect is a chain of calls from an action down to
    a `choose`, and specs have no recursion: two procs of which neither calls the other
    (directly or not) are never on one chain, so while one is paused the other neither runs
    nor is paused, and both can keep their point and live locals in the same fields. Procs
    are grouped greedily in the module's order, each into the first group none of whose
    members it reaches or is reached by; within a group each body's points get their own
    values of the shared `at` (`base + j`, so a value still names one body and point: the
    mask of `choose`, `pending_choice()`), and a body's live locals take the group's frame
    fields of their type in order. Action bodies keep their own fields: which action a
    `choose` resumes is read from them. A group of one keeps its body's field names."""
    reach = _reaches(procs, module)
    groups: list[list[BodyPlan]] = []
    for bp in procs:
        free = (g for g in groups if all(o.name not in reach[bp.name] and bp.name not in reach[o.name] for o in g))
        group = next(free, None)
        if group is None:
            groups.append([bp])
            continue
        group.append(bp)
    for k, group in enumerate(groups):
        if len(group) > 1:
            _share_group(group, f"g{k + 1}")


def _share_group(group: list[BodyPlan], tag: str) -> None:
    """Give the bodies of `group` the shared `at` field `_envc_at_<tag>` (point values one
    after another) and frame fields `_envc_frame_<tag>_<n>`, one per type and rank of a live
    local within its body (`_share`)."""
    frames: dict[tuple[str, int], str] = {}  # (type, rank in a body) -> the shared field
    base = 0
    for bp in group:
        bp.at, bp.base = f"{PREFIX}at_{tag}", base
        base += len(bp.points)
        rank: dict[str, int] = {}
        for name in bp.slot:  # (only the values change)
            t = bp.types[name].model_dump_json()
            key = (t, rank.get(t, 0))
            rank[t] = key[1] + 1
            bp.slot[name] = frames.setdefault(key, f"{PREFIX}frame_{tag}_{len(frames) + 1}")
    for bp in group:
        bp.at_hi = base


# ------------------------------------------------------------------ renaming


def _rename_body(params: list[ir.ParamDef], body: list[ir.Stmt]) -> list[ir.Stmt]:
    """`body` with every binding named apart: a `let` or loop variable whose name is already
    bound in the body gets `name__k` (k the first free number); references follow scopes."""
    used = set(p.name for p in params) | irutil.local_refs(body)
    for s in irutil.walk_stmts(body):
        if isinstance(s, ir.Let):
            used.add(s.name)
        elif isinstance(s, ir.For):
            used.add(s.var)
    return _Renamer(used, set(p.name for p in params)).block(body, {p.name: p.name for p in params})


class _Renamer:
    """The walk of `_rename_body`: `used` holds every name the body mentions, `bound` the
    names bound so far (parameters first); both grow as bindings are named."""

    def __init__(self, used: set[str], bound: set[str]):
        self.used, self.bound = used, bound

    def fresh(self, name: str) -> str:
        """`name` if nothing bound it yet, else `name__k` with the first k free in both sets."""
        if name not in self.bound:
            self.bound.add(name)
            return name
        k = 2
        while f"{name}__{k}" in self.used or f"{name}__{k}" in self.bound:
            k += 1
        new = f"{name}__{k}"
        self.bound.add(new)
        self.used.add(new)
        return new

    def block(self, stmts: list[ir.Stmt], env: dict[str, str]) -> list[ir.Stmt]:
        """`stmts` renamed, `env` mapping each name in scope to its new name; a `let` binds
        for the rest of the block."""
        env = dict(env)
        out: list[ir.Stmt] = []
        for s in stmts:
            mapping = {k: v for k, v in env.items() if k != v}
            if isinstance(s, ir.Let):
                value = irutil.substitute(s.value, mapping)
                new = self.fresh(s.name)
                env[s.name] = new
                out.append(s.model_copy(update={"name": new, "value": value}))
                continue
            out.append(self.stmt(s, env, mapping))
        return out

    def stmt(self, s: ir.Stmt, env: dict[str, str], mapping: dict[str, str]) -> ir.Stmt:
        """Statement `s` (not a `let`) renamed: its blocks walked in `env`, its expressions
        substituted with `mapping` (the renamed names of `env`)."""
        if isinstance(s, ir.For):
            new = self.fresh(s.var)
            return s.model_copy(update={"var": new, "body": self.block(s.body, {**env, s.var: new})})
        if isinstance(s, ir.If):
            return s.model_copy(update={"cond": irutil.substitute(s.cond, mapping),
                                        "then": self.block(s.then, env), "orelse": self.block(s.orelse, env)})
        if isinstance(s, ir.Match):
            arms = [a.model_copy(update={"body": self.block(a.body, env)}) for a in s.arms]
            return s.model_copy(update={"subject": irutil.substitute(s.subject, mapping), "arms": arms})
        return irutil.substitute(s, mapping)


# ------------------------------------------------------------------ the pass


def _replace_pending(node: Any, value: ir.Expr) -> Any:
    """`node` with every `pending_choice()` replaced by `value` (an expression of the state)."""
    def swap(n: ir.Node) -> ir.Node | None:
        if isinstance(n, ir.Builtin) and n.name == "pending_choice":
            return value.model_copy(update={"type": n.type, "span": n.span})
        return None

    # Only the parts of a module that mention it are rebuilt: the interpreter runs this pass on
    # each module it is given, and the fill judge builds one per check (a transform of the whole
    # TCG module took 0.4 s, half of a fill's judging time).
    if isinstance(node, ir.Module):
        return ir.map_children(node, lambda part: ir.transform(part, swap) if _mentions_pending(part) else part)
    return ir.transform(node, swap)


@irutil.by_identity(4096)  # (each part of a module: the modules the judge builds share most of them)
def _mentions_pending(node: Any) -> bool:
    return any(isinstance(n, ir.Builtin) and n.name == "pending_choice" for n in ir.walk_all(node))


def _pending_value(pl: Plan) -> ir.Expr:
    out: ir.Expr = irutil.int_const(0)
    top = max((site for site, *_ in pl.sites), default=0)
    t = ir.IntT(lo=0, hi=max(top, 0))
    for site, bp, j, _ in reversed(pl.sites):
        out = ir.Cond(cond=irutil.binop("eq", bp.at_get(), bp.at_value(j)), then=irutil.int_const(site), orelse=out,
                      type=t)
    return out


def paused_expr(pl: Plan) -> ir.Expr:
    """`true` while an effect waits for a decision: some action body's `at` is not 0."""
    parts = [irutil.binop("ne", bp.at_get(), irutil.int_const(0)) for bp in pl.bodies.values() if bp.kind == "action"]
    return irutil.or_(*parts)


def _site_guard(bp: BodyPlan, j: int, s: ir.Choose, option: ir.Local) -> ir.Expr:
    """Choose site `s` (point j of body bp) offers `option` now: its body waits there, the
    option is in its range and its condition holds, the condition's locals read from the frame."""
    inside = irutil.and_(irutil.binop("ge", option, irutil.int_const(s.lo)),
                         irutil.binop("lt", option, irutil.int_const(s.hi)))
    mapping: dict[str, Any] = {s.var: option.model_copy(update={"type": ir.IntT(lo=s.lo, hi=s.hi - 1)})}
    for name in irutil.free_locals(s.cond) - {s.var}:
        mapping[name] = ir.StateGet(name=bp.slot[name], type=bp.types[name])
    cond = irutil.substitute(s.cond, mapping, fresh=lambda v: f"{PREFIX}{v}")
    return irutil.and_(irutil.binop("eq", bp.at_get(), bp.at_value(j)), inside, cond)


def _continuation_fields(module: ir.Module, pl: Plan) -> list[ir.FieldDef]:
    """The `at` field and frame fields of every body that can pause, each once (bodies that
    share fields, `_share`, name them more than once)."""
    fields: dict[str, ir.FieldDef] = {}
    for bp in pl.bodies.values():
        fields.setdefault(bp.at, ir.FieldDef(name=bp.at, type=bp.at_get().type, default=0))
        for name, slot in bp.slot.items():
            t = bp.types[name]
            fields.setdefault(slot, ir.FieldDef(name=slot, type=t, default=ir.zero_value(module, t), visibility="hidden"))
    return list(fields.values())


NAME = "choice_points"
# Decision: this pass defines what `choose` means (the generated `choose` action, the pause
# and the resume); without it the spec is another game, so it cannot be disabled.
REQUIRED = True


def run(module: ir.Module, ctx=None) -> ir.Module:
    """The module with the representation of paused effects (module docstring). Idempotent.
    `ctx` (an `envc.compiler.pipeline.PassContext`) is not read: the pass has no options.
    The result for each of the last few modules given is remembered (`irutil.by_identity`: the
    interpreter runs the pass on every module it is built on, the fill judge on one module many
    times).

    Raises:
        DiagnosticError: `init` reaches a `choose` (it cannot wait for a decision).
    """
    return _run(module)


@irutil.by_identity(8)
def _run(module: ir.Module) -> ir.Module:
    if module.choice is not None:
        return module
    has_choose = any(_has_choose(f.body) for f in module.fns) or any(_has_choose(a.body) for a in module.actions)
    if not has_choose:
        if not _mentions_pending(module):
            return module
        return _replace_pending(module, irutil.int_const(0))
    procs = pausing_procs(module)
    bad = [c for c in _calls(module.init) if c.proc in procs] + [s for s in irutil.walk_stmts(module.init)
                                                                  if isinstance(s, ir.Choose)]
    if bad:
        raise DiagnosticError([Diagnostic("E0190", "`init` cannot wait for a decision", bad[0].span,
                                          "reaches a `choose`", help="decide in an action (the first one may "
                                          "set the game up)")])
    fns = [f.model_copy(update={"body": _rename_body(f.params, f.body)}) if f.name in procs else f for f in module.fns]
    actions = []
    for a in module.actions:
        if any(_is_point(s, procs) for s in irutil.walk_stmts(a.body)):
            a = a.model_copy(update={"body": _rename_body(a.params, a.body)})
        actions.append(a)
    module = module.model_copy(update={"fns": fns, "actions": actions})
    pl = plan(module)
    bodies = [ir.ChoiceBody(kind=bp.kind, name=bp.name, at=bp.at, action=bp.index) for bp in pl.bodies.values()]
    lo = min(s.lo for _, _, _, s in pl.sites)
    hi = max(s.hi for _, _, _, s in pl.sites) - 1
    option_t = ir.IntT(lo=lo, hi=hi)
    fields = list(module.state) + _continuation_fields(module, pl)
    fields.append(ir.FieldDef(name=MOVER, type=ir.IntT(lo=0, hi=module.num_players - 1), default=0))
    fields.append(ir.FieldDef(name=OPTION, type=option_t, default=ir.zero_value(module, option_t), visibility="hidden"))
    paused = paused_expr(pl)
    option = ir.Local(name=OPTION_PARAM, type=option_t)
    mask = irutil.or_(*[_site_guard(bp, j, s, option) for _, bp, j, s in pl.sites])
    guarded = []
    for a in module.actions:
        free = irutil.not_(paused)
        guarded.append(a.model_copy(update={"guard": free if a.guard is None else irutil.and_(a.guard, free)}))
    choose = ir.ActionDef(name=ACTION_NAME, params=[ir.ParamDef(name=OPTION_PARAM, type=option_t)], guard=mask,
                          body=[])
    info = ir.ChoiceInfo(action=len(guarded), option=OPTION, mover=MOVER, bodies=bodies,
                         sites=[ir.ChoiceSite(site=site, body=list(pl.bodies.values()).index(bp), point=j,
                                              lo=s.lo, hi=s.hi) for site, bp, j, s in pl.sites])
    out = module.model_copy(update={"state": fields, "actions": guarded + [choose], "choice": info})
    return _replace_pending(out, _pending_value(pl))
