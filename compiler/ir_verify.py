"""The IR verifier: the invariants every pass must keep, checked on a whole module.

Public surface: `verify(module) -> None` (also reachable as `envc.compiler.ir.verify`),
`IRVerifyError`.

A checked module satisfies these, and so must the module after every pass (tests run the
verifier after each pass of `envc.compiler.pipeline` on every shipped and test spec):

* names: every `Local` is bound (a parameter, an enclosing `let`, a `for` variable, a
  comprehension's or reduction's variable, the observing player); every `StateGet` and
  state place names a state field; calls name a `fn` (with a result) or a `proc` (without)
  of the module, with as many arguments as parameters; table reads name a table and column;
* types: operands have the kinds their operator needs (arithmetic on int or float32,
  `and`/`or`/`not` on bool, comparisons on equal kinds), conditions are bool, indices are
  ints, an indexed value is an array or a list, `match` subjects are enums and their arms
  name members of that enum;
* ranges: an int constant lies in its type; the type of an arithmetic node, `-x`, `abs`,
  `min`, `max`, `clamp` and `if ... then ... else` contains the range `envc.compiler.ranges`
  infers from its operands (a pass may widen a type, never narrow it below what its operands
  allow); every stored value fits where it is stored (`let`, assignment, argument, return,
  list element), and a constant index lies inside its array;
* faults: once the pass `number_faults` has numbered the sites (`fault_sites` not empty),
  the table lists each site once and holds every site of the module (a pass after it that
  adds a fault would leave the backends unable to report it).

It reports every violation found, each with the declaration it is in.
"""

from __future__ import annotations

from envc.compiler import ir, ranges

_ARITH = ("add", "sub", "mul", "div", "mod")
_COMPARE = ("eq", "ne", "lt", "le", "gt", "ge")


class IRVerifyError(Exception):
    """The module breaks IR invariants; `problems` lists each, as `where: what`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} IR invariant(s) broken:\n{shown}{more}")


@ir.handles_all("x_", "s_")
class _Verifier:
    def __init__(self, module: ir.Module):
        self.m = module
        self.state = {f.name: f.type for f in module.state}
        self.fns = {f.name: f for f in module.fns}
        self.tables = {t.name: {c.name: c.type for c in t.columns} for t in module.tables}
        self.records = {r.name: {f.name: f.type for f in r.fields} for r in module.records}
        self.problems: list[str] = []
        self.where = ""
        self.scope: list[dict[str, ir.Type]] = []
        self.ret: ir.Type | None = None

    # ------------------------------------------------------------ reporting and scopes
    def bad(self, what: str) -> None:
        self.problems.append(f"{self.where}: {what}")

    def lookup(self, name: str) -> ir.Type | None:
        for frame in reversed(self.scope):
            if name in frame:
                return frame[name]
        return None

    def body(self, where: str, params: dict[str, ir.Type], stmts: list[ir.Stmt], ret: ir.Type | None) -> None:
        self.where, self.ret = where, ret
        self.scope = [dict(params)]
        self.stmts(stmts)

    def stmts(self, stmts: list[ir.Stmt]) -> None:
        self.scope.append({})
        for s in stmts:
            getattr(self, "s_" + s.kind)(s)
        self.scope.pop()

    def require_fits(self, src: ir.Type, dst: ir.Type, what: str) -> None:
        if not ranges.fits(src, dst):
            self.bad(f"{what}: `{src}` does not fit `{dst}`")

    def require(self, e: ir.Expr, kinds: tuple[type, ...], what: str) -> None:
        if not isinstance(e.type, kinds):
            self.bad(f"{what} is `{e.type}`")

    def sound(self, e: ir.Expr, inferred: ir.IntT) -> None:
        if isinstance(e.type, ir.IntT) and not ranges.contains(e.type, inferred):
            self.bad(f"`{e.kind}` typed `{e.type}` but its operands give {inferred.lo}..{inferred.hi}")

    # ------------------------------------------------------------ module
    def run(self) -> None:
        m = self.m
        self.body("init", {}, m.init, None)
        for f in m.fns:
            self.body(f"{'fn' if f.ret is not None else 'proc'} {f.name}", _params(f.params), f.body, f.ret)
        # a simultaneous spec before its pass: `player` (the player choosing, or whose choice is
        # played) is bound in every action's guard and body (envc.compiler.passes.simultaneous)
        acting = {}
        if m.simultaneous is not None and not m.simultaneous.lowered:
            acting = {"player": ir.IntT(lo=0, hi=m.num_players - 1)}
        for a in m.actions:
            params = {**acting, **_params(a.params)}
            if a.guard is not None:
                self.where, self.scope = f"guard of action {a.name}", [dict(params)]
                self.expr(a.guard)
                self.require(a.guard, (ir.BoolT,), "the guard")
            self.body(f"action {a.name}", params, a.body, None)
        self.body("epilogue", {}, m.epilogue, None)
        self.body("observe", {m.observe.player: ir.IntT(lo=0, hi=m.num_players - 1)}, m.observe.body, m.observe.type)
        for inv in m.invariants:
            self.where, self.scope = f"invariant {inv.name}", [{}]
            self.expr(inv.expr)
        for h in m.holes:
            self.where, self.scope = f"ensures of hole {h.name}", [_params(h.params)]
            for e in h.ensures:
                self.expr(e)
            if h.fill is not None and h.fill not in self.fns:
                self.bad(f"hole `{h.name}` is filled by `{h.fill}`, which is not a fn or proc of the module")

    # ------------------------------------------------------------ statements
    def s_let(self, s: ir.Let) -> None:
        self.expr(s.value)
        self.require_fits(s.value.type, s.type, f"`let {s.name}`")
        self.scope[-1][s.name] = s.type

    def s_assign(self, s: ir.Assign) -> None:
        self.place(s.place)
        self.expr(s.value)
        self.require_fits(s.value.type, s.place.type, "an assignment")

    def s_if(self, s: ir.If) -> None:
        self.expr(s.cond)
        self.require(s.cond, (ir.BoolT,), "an `if` condition")
        self.stmts(s.then)
        self.stmts(s.orelse)

    def s_for(self, s: ir.For) -> None:
        if s.lo > s.hi:
            self.bad(f"`for {s.var} in {s.lo}..{s.hi}` runs backwards")
        self.scope.append({s.var: ir.IntT(lo=s.lo, hi=max(s.lo, s.hi - 1))})
        self.stmts(s.body)
        self.scope.pop()

    def s_match(self, s: ir.Match) -> None:
        self.expr(s.subject)
        size = s.subject.type.size if isinstance(s.subject.type, ir.EnumT) else None
        if size is None:
            self.bad(f"`match` on `{s.subject.type}`, not an enum")
        for arm in s.arms:
            if size is not None and any(not 0 <= i < size for i in arm.members):
                self.bad(f"a `match` arm names members {arm.members} outside `{s.subject.type}`")
            self.stmts(arm.body)

    def s_return(self, s: ir.Return) -> None:
        self.expr(s.value)
        if self.ret is None:
            self.bad("`return` outside a fn")
            return
        self.require_fits(s.value.type, self.ret, "a return value")

    def s_call_proc(self, s: ir.CallProc) -> None:
        self.call(s.proc, s.args, want_result=False)

    def s_list_op(self, s: ir.ListOp) -> None:
        self.place(s.place)
        for a in s.args:
            self.expr(a)
        if not isinstance(s.place.type, ir.ListT):
            self.bad(f"`{s.op}` on `{s.place.type}`, not a list")
            return
        if s.op in ("push", "insert") and s.args:
            self.require_fits(s.args[-1].type, s.place.type.elem, f"the element of `{s.op}`")

    def s_effect(self, s: ir.Effect) -> None:
        want = {"win": 1, "draw": 0, "terminate": 0, "reward": 2}[s.name]
        if len(s.args) != want:
            self.bad(f"`{s.name}` takes {want} argument(s), has {len(s.args)}")
        for a in s.args:
            self.expr(a)

    def s_choose(self, s: ir.Choose) -> None:
        self.place(s.place)
        self.expr(s.chooser)
        self.require(s.chooser, (ir.IntT,), "a chooser")
        if s.lo >= s.hi:
            self.bad(f"`choose({s.var} in {s.lo}..{s.hi})` offers an empty range")
        self.scope.append({s.var: ir.IntT(lo=s.lo, hi=max(s.lo, s.hi - 1))})
        self.expr(s.cond)
        self.require(s.cond, (ir.BoolT,), "a `choose` condition")
        self.scope.pop()
        if s.orelse is not None:
            self.expr(s.orelse)

    def s_fault(self, s: ir.Fault) -> None:
        return

    def s_check(self, s: ir.Check) -> None:
        self.expr(s.cond)
        self.require(s.cond, (ir.BoolT,), "a check's condition")
        for v in (s.a, s.b):
            if v is not None:
                self.expr(v)
                self.require(v, (ir.IntT,), "a check's value")

    def s_expr_stmt(self, s: ir.ExprStmt) -> None:
        self.expr(s.expr)

    # ------------------------------------------------------------ places
    def place(self, p: ir.Place) -> None:
        if p.root == "state" and p.name not in self.state:
            self.bad(f"a place names state field `{p.name}`, which does not exist")
        if p.root == "local" and self.lookup(p.name) is None:
            self.bad(f"a place names local `{p.name}`, which is not bound")
        for step in p.path:
            if isinstance(step, ir.IndexStep):
                self.expr(step.index)
                self.require(step.index, (ir.IntT, ir.RowT, ir.EnumT), "an index")

    # ------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr) -> None:
        getattr(self, "x_" + e.kind)(e)

    def x_const(self, e: ir.Const) -> None:
        if isinstance(e.type, ir.IntT) and isinstance(e.value, int) and not e.type.lo <= e.value <= e.type.hi:
            self.bad(f"constant {e.value} outside its type `{e.type}`")

    def x_local(self, e: ir.Local) -> None:
        if self.lookup(e.name) is None:
            self.bad(f"local `{e.name}` is not bound")

    def x_state(self, e: ir.StateGet) -> None:
        if e.name not in self.state:
            self.bad(f"state field `{e.name}` does not exist")

    def x_get_field(self, e: ir.GetField) -> None:
        self.expr(e.base)
        self.require(e.base, (ir.RecordT,), f"the base of `.{e.name}`")
        fields = self.records.get(e.base.type.name, {}) if isinstance(e.base.type, ir.RecordT) else {}
        if isinstance(e.base.type, ir.RecordT) and e.name not in fields:
            self.bad(f"record `{e.base.type.name}` has no field `{e.name}`")

    def x_get_index(self, e: ir.GetIndex) -> None:
        self.expr(e.base)
        self.expr(e.index)
        self.require(e.base, (ir.ArrayT, ir.ListT), "an indexed value")
        self.require(e.index, (ir.IntT, ir.RowT, ir.EnumT), "an index")
        if isinstance(e.base.type, ir.ArrayT) and isinstance(e.index, ir.Const) and isinstance(e.index.value, int):
            if not 0 <= e.index.value < e.base.type.size:
                self.bad(f"constant index {e.index.value} outside `{e.base.type}`")

    def x_table_get(self, e: ir.TableGet) -> None:
        self.expr(e.row)
        if e.column not in self.tables.get(e.table, {}):
            self.bad(f"table column `{e.table}.{e.column}` does not exist")
        self.require(e.row, (ir.RowT, ir.IntT), "a table row")

    def x_unary(self, e: ir.Unary) -> None:
        self.expr(e.operand)
        if e.op == "not":
            self.require(e.operand, (ir.BoolT,), "the operand of `not`")
            return
        self.require(e.operand, (ir.IntT, ir.FloatT), "the operand of `-`")
        if isinstance(e.operand.type, ir.IntT):
            self.sound(e, ranges.neg(e.operand.type))

    def x_binary(self, e: ir.Binary) -> None:
        self.expr(e.left)
        self.expr(e.right)
        a, b = e.left.type, e.right.type
        if e.op in ("and", "or"):
            self.require(e.left, (ir.BoolT,), f"the left of `{e.op}`")
            self.require(e.right, (ir.BoolT,), f"the right of `{e.op}`")
            return
        if e.op in _COMPARE:
            if not (isinstance(a, ir.IntT) and isinstance(b, ir.IntT)) and a != b:
                self.bad(f"`{e.op}` compares `{a}` with `{b}`")
            return
        if isinstance(a, ir.IntT) and isinstance(b, ir.IntT):
            if e.op in ("div", "mod") and ranges.divisor_may_be_zero(b):
                self.bad(f"`{e.op}` by a divisor of range {b}, which holds 0")
                return
            inferred = ranges.binary(e.op, a, b)
            if e.narrowed and isinstance(e.type, ir.IntT) and ranges.contains(inferred, e.type):
                # A sum or difference the checker narrowed by a condition on that very sum
                # (`Binary.narrowed`: `if src + d >= N { return }` then `src + d`), as a
                # narrowed local's read is: the verifier cannot see the facts, so it accepts a
                # range inside the operands' and still rejects one outside it. Every other
                # arithmetic node contains what its operands give.
                return
            self.sound(e, inferred)
            return
        if not (isinstance(a, ir.FloatT) and isinstance(b, ir.FloatT)):
            self.bad(f"`{e.op}` on `{a}` and `{b}`")

    def x_cond(self, e: ir.Cond) -> None:
        for x in (e.cond, e.then, e.orelse):
            self.expr(x)
        self.require(e.cond, (ir.BoolT,), "a condition")
        if isinstance(e.then.type, ir.IntT) and isinstance(e.orelse.type, ir.IntT):
            self.sound(e, ranges.unify(e.then.type, e.orelse.type))

    def x_call_fn(self, e: ir.CallFn) -> None:
        self.call(e.fn, e.args, want_result=True)

    def call(self, name: str, args: list[ir.Expr], want_result: bool) -> None:
        for a in args:
            self.expr(a)
        f = self.fns.get(name)
        if f is None or (f.ret is not None) != want_result:
            self.bad(f"calls `{name}`, which is not a {'fn' if want_result else 'proc'} of the module")
            return
        if len(args) != len(f.params):
            self.bad(f"calls `{name}` with {len(args)} argument(s) for {len(f.params)} parameter(s)")
            return
        for a, p in zip(args, f.params):
            self.require_fits(a.type, p.type, f"argument `{p.name}` of `{name}`")

    def x_builtin(self, e: ir.Builtin) -> None:
        for a in e.args:
            self.expr(a)
        ints = [a.type for a in e.args if isinstance(a.type, ir.IntT)]
        if e.name in ("abs", "min", "max", "clamp") and e.args and len(ints) == len(e.args):
            self.sound(e, ranges.builtin(e.name, ints))

    def x_reduce(self, e: ir.Reduce) -> None:
        self.comprehension(e.var, e.lo, e.hi, e.body)

    def x_array_build(self, e: ir.ArrayBuild) -> None:
        self.comprehension(e.var, e.lo, e.hi, e.body)
        if isinstance(e.type, ir.ArrayT) and e.type.size != e.hi - e.lo:
            self.bad(f"an array of {e.hi - e.lo} items typed `{e.type}`")

    def comprehension(self, var: str, lo: int, hi: int, body: ir.Expr) -> None:
        if lo > hi:
            self.bad(f"`{var} in {lo}..{hi}` runs backwards")
        self.scope.append({var: ir.IntT(lo=lo, hi=max(lo, hi - 1))})
        self.expr(body)
        self.scope.pop()

    def x_array_lit(self, e: ir.ArrayLit) -> None:
        for x in e.items:
            self.expr(x)
        if isinstance(e.type, ir.ArrayT) and e.type.size != len(e.items):
            self.bad(f"an array literal of {len(e.items)} items typed `{e.type}`")

    def x_record_lit(self, e: ir.RecordLit) -> None:
        fields = self.records.get(e.record)
        if fields is None:
            self.bad(f"record literal of `{e.record}`, which is not a record")
            return
        for name, v in e.fields:
            self.expr(v)
            if name not in fields:
                self.bad(f"record `{e.record}` has no field `{name}`")
                continue
            self.require_fits(v.type, fields[name], f"field `{name}` of `{e.record}`")

    def x_random_int(self, e: ir.RandomInt) -> None:
        self.expr(e.lo)
        self.expr(e.hi)
        if isinstance(e.lo.type, ir.IntT) and isinstance(e.hi.type, ir.IntT):
            self.sound(e, ir.IntT(lo=e.lo.type.lo, hi=e.hi.type.hi))

    def x_random_pick(self, e: ir.RandomPick) -> None:
        if e.lo >= e.hi:
            self.bad(f"`random.pick({e.var} in {e.lo}..{e.hi})` picks from an empty range")
        self.scope.append({e.var: ir.IntT(lo=e.lo, hi=max(e.lo, e.hi - 1))})
        self.expr(e.cond)
        self.require(e.cond, (ir.BoolT,), "a `random.pick` condition")
        self.scope.pop()
        self.expr(e.orelse)

    def x_list_take(self, e: ir.ListTake) -> None:
        self.place(e.place)
        if not isinstance(e.place.type, ir.ListT):
            self.bad(f"takes from `{e.place.type}`, not a list")


def _params(params: list[ir.ParamDef]) -> dict[str, ir.Type]:
    return {p.name: p.type for p in params}


def verify(module: ir.Module) -> None:
    """Check the IR invariants of the module docstring on every body of `module`.

    Raises:
        IRVerifyError: listing every broken invariant (`problems`), each with where it is.
    """
    v = _Verifier(module)
    v.run()
    problems = v.problems + _fault_problems(module)
    if problems:
        raise IRVerifyError(problems)


def _fault_problems(module: ir.Module) -> list[str]:
    """The broken fault invariants (module docstring): none before `number_faults` runs."""
    if not module.fault_sites:
        return []
    from envc.compiler.passes import number_faults

    table = module.fault_sites
    problems = [f"fault sites: {number_faults.site_text(s)!r} is numbered twice" for s in table if table.count(s) > 1]
    missing = [s for s in number_faults.sites(module) if s not in table]
    return problems + [f"fault sites: {number_faults.site_text(s)!r} has no number" for s in missing]
