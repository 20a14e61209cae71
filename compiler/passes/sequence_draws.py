"""The pass `sequence_draws`: every random draw and every take from a list (`pop()`,
`draw()`) inside a statement's expressions becomes a `let` of its own, in the interpreter's
evaluation order, with whatever is evaluated before it (issue #15, "sequence random draws").

Public surface: `NAME`, `run(module, ctx=None) -> ir.Module`, `PREFIX`.

Why. A draw moves the RNG counter and a take changes a list; the array backends compute an
expression as one value built from its operands, and an operand read before a take in the
interpreter's order may be read after it in generated code (`len(xs) * 10 + xs.pop()`), a
place whose index draws may be resolved twice (once to read the list, once to write it back:
`xs[random.int(0, 1)].push(3)`), and a list method's arguments may be computed before its
place (`xs[len(ys)].push(ys.pop())`). Fresh-spec hunts found each of these in the JAX backend
(the interpreter is the definition of meaning). After this pass no backend has to get the
order right inside an expression: the order is the order of the statements.

Guarantees, on the module it returns (statement bodies: `init`, every action's body, every
`proc`, the epilogue; guards, `fn`s, `observe` and invariants cannot draw), for every
statement but a `choose` (it draws nothing):

* an operand evaluated before a take (a sibling to its left, in `ir.children` order) that is
  a scalar (bool, int, float32, enum, row) and not a constant or a local is bound to a fresh
  local `_envc_seq<N>` first, so it keeps the value it had before the take. A random draw
  needs no such binding: it changes only the RNG counter, which no operand reads, and draws
  keep their order in every backend. A non-scalar operand (an array or a list read) is left
  in place (the interpreter reads an operator's or a built-in's operand by reference, after
  the take, as generated code does), except an argument of a `fn` or `proc` call, which the
  interpreter copies as it evaluates it: it is bound, a local included (`f(xs, xs.pop())`:
  the fn sees `xs` before the pop; a fresh-spec hunt found JAX passing it after); so is an
  item of an array literal or a field of a record literal (copied too: `Hold(xs: xs, top:
  xs.pop())` holds `xs` before the pop, JAX stored it after);
* a place's index that draws or takes is bound (a backend reads a place and writes it back:
  it would evaluate the index twice); an assignment's value, evaluated before its place, is
  bound first when an index draws, or reads after the value takes; a list method's place
  is resolved before its arguments: when an argument takes, its indices are bound first;
* a reduction or comprehension whose body takes is unrolled, whatever its length (its order
  is not the backends' business: JAX read `len(xs)` after all 65 pops of a sum over
  `0..65`): each value's body sequenced and bound in turn (the interpreter evaluates them
  all, in order, then folds), a comprehension the array of those locals, a reduction reading
  them from it. One that only draws stays whole (draws keep their order);
* the arguments of a call of a proc that can pause are sequenced as any call's (they are
  evaluated once, before it runs; `lower_choices` then moves them to the frame);
* nothing else changes: a draw stays where it is, so does the right operand of `and`/`or`
  that does not take (short circuit), the branches of `if ... then ... else` (they cannot
  draw, E0131), `random.pick`'s condition and a `while` loop's condition.

Every `let` evaluates what the interpreter evaluated at that point, in the same order, so
trajectories, faults and the RNG counter are those of the input (verify's `flat` target
runs the interpreter on the lowered IR). It runs in `LOWERING` after `fold_constants`,
before `lower_choices`; its locals are never live across a pause point (each is read by the
statement right after it).
"""

from __future__ import annotations

from typing import Any, cast

from envc.compiler import ir, irutil

NAME = "sequence_draws"
#: the fresh locals' names: `_envc_` is reserved (no spec name clashes), `seq` and a number
PREFIX = "_envc_seq"

_SCALARS = (ir.BoolT, ir.IntT, ir.FloatT, ir.EnumT, ir.RowT)


def run(module: ir.Module, ctx: Any = None) -> ir.Module:
    """`module` with draws and takes sequenced (the module docstring says how). `ctx` (a
    `PassContext`) is unused: the pass has no options."""
    seq = _Sequencer()
    fns = [f if f.pure else f.model_copy(update={"body": seq.block(f.body)}) for f in module.fns]
    actions = [a.model_copy(update={"body": seq.block(a.body)}) for a in module.actions]
    init, epilogue = seq.block(module.init), seq.block(module.epilogue)
    if seq.count == 0:  # nothing to sequence: the module itself
        return module
    return module.model_copy(update={"fns": fns, "actions": actions, "init": init, "epilogue": epilogue})


def _indices(p: ir.Place) -> list[ir.Expr]:
    return [step.index for step in p.path if isinstance(step, ir.IndexStep)]


class _Sequencer:
    """Rewrites bodies; `count` fresh locals made so far (module-wide, so names never repeat)."""

    def __init__(self) -> None:
        self.count = 0

    def fresh(self, e: ir.Expr) -> tuple[ir.Let, ir.Local]:
        """A `let` of a new local holding `e`, and the local."""
        self.count += 1
        return irutil.bind(f"{PREFIX}{self.count}", e)

    # ------------------------------------------------------------ statements
    def block(self, stmts: list[ir.Stmt]) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for s in stmts:
            out += self.stmt(s)
        return out

    def stmt(self, s: ir.Stmt) -> list[ir.Stmt]:
        """`s` as statements: the `let`s its draws need, then `s` reading them; nested blocks
        rewritten."""
        if isinstance(s, (ir.If, ir.For, ir.Match)):
            return self.compound(s)
        if isinstance(s, ir.Choose) or not irutil.draws(s):
            return [s]
        if isinstance(s, ir.Assign):
            return self.assign(s)
        if isinstance(s, ir.ListOp):
            return self.list_op(s)
        if isinstance(s, ir.ExprStmt):
            lets, e = self.expr(s.expr)
            return lets + [s.model_copy(update={"expr": e})]
        if isinstance(s, (ir.Let, ir.Return)):
            lets, e = self.expr(s.value)
            return lets + [s.model_copy(update={"value": e})]
        if isinstance(s, (ir.CallProc, ir.Effect)):  # (a proc that pauses too: its arguments are
            # evaluated once, before it runs; `lower_choices` then moves them to its frame)
            lets, args = self.in_order(s.args, copies=isinstance(s, ir.CallProc))
            return lets + [s.model_copy(update={"args": args})]
        return [s]  # (a `fail` draws nothing)

    def compound(self, s: ir.If | ir.For | ir.Match) -> list[ir.Stmt]:
        """An `if`, `for` or `match`: its condition or subject sequenced (evaluated once,
        before the branch), its blocks rewritten."""
        if isinstance(s, ir.For):
            return [s.model_copy(update={"body": self.block(s.body)})]
        if isinstance(s, ir.Match):
            lets, subject = self.expr(s.subject)
            arms = [arm.model_copy(update={"body": self.block(arm.body)}) for arm in s.arms]
            return lets + [s.model_copy(update={"subject": subject, "arms": arms})]
        lets, cond = self.expr(s.cond)
        return lets + [s.model_copy(update={"cond": cond, "then": self.block(s.then), "orelse": self.block(s.orelse)})]

    def assign(self, s: ir.Assign) -> list[ir.Stmt]:
        """The value first, then the place's indices (the interpreter resolves the place when
        it stores): the value is bound before an index that draws, or that reads after the
        value takes from a list."""
        lets, value = self.expr(s.value)
        place_lets, place = self.place(s.place, bind_all=False)
        indexed = any(not irutil.is_atom(x) for x in _indices(place))
        if (place_lets or indexed and irutil.takes(s.value)) and not irutil.is_atom(value):
            let, value = self.fresh(value)
            lets.append(let)
        return lets + place_lets + [s.model_copy(update={"value": value, "place": place})]

    def list_op(self, s: ir.ListOp) -> list[ir.Stmt]:
        """The place first, then the arguments: indices read before an argument that takes
        from a list are bound."""
        lets, place = self.place(s.place, bind_all=any(irutil.takes(a) for a in s.args))
        arg_lets, args = self.in_order(s.args)
        return lets + arg_lets + [s.model_copy(update={"place": place, "args": args})]

    def place(self, p: ir.Place, bind_all: bool) -> tuple[list[ir.Stmt], ir.Place]:
        """`p` with its indices resolved once, in order: an index that draws or takes is
        bound (a backend reads a place and writes it back: it would evaluate it twice), and
        with `bind_all` every index that is not a constant or a local (something taken after
        the place needs it as it was)."""
        indices = _indices(p)
        if not indices or not (bind_all or any(irutil.draws(x) for x in indices)):
            return [], p
        lets: list[ir.Stmt] = []
        done = []
        for x in indices:
            inner, x = self.expr(x)
            lets += inner
            if not irutil.is_atom(x) and (bind_all or irutil.draws(x)):
                let, x = self.fresh(x)
                lets.append(let)
            done.append(x)
        it = iter(done)
        path = [step.model_copy(update={"index": next(it)}) if isinstance(step, ir.IndexStep) else step
                for step in p.path]
        return lets, p.model_copy(update={"path": path})

    # ------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr) -> tuple[list[ir.Stmt], ir.Expr]:
        """(`let`s to run first, what `e` becomes): operands read before a take bound, places
        resolved once, short reductions whose body takes unrolled."""
        if not irutil.draws(e):
            return [], e
        if isinstance(e, (ir.Reduce, ir.ArrayBuild)):
            return self.unrolled(e) if irutil.takes(e.body) else ([], e)
        if isinstance(e, ir.RandomPick):  # (its condition and `else` draw nothing)
            return [], e
        if isinstance(e, ir.ListTake):
            lets, place = self.place(e.place, bind_all=False)
            return lets, e.model_copy(update={"place": place})
        if isinstance(e, ir.Cond):  # (its branches cannot draw: only the condition)
            lets, cond = self.expr(e.cond)
            return lets, e.model_copy(update={"cond": cond})
        kids = [k for k in ir.children(e) if not isinstance(k, ir.TYPE_NODES)]
        # a call's arguments, an array literal's items and a record literal's fields are copied as
        # the interpreter evaluates them (`Hold(xs: xs, top: xs.pop())` holds `xs` before the pop)
        lets, done = self.in_order(kids, copies=isinstance(e, (ir.CallFn, ir.ArrayLit, ir.RecordLit)))
        it = iter(done)
        return lets, cast(ir.Expr, ir.map_children(e, lambda _child: next(it)))

    def unrolled(self, e: ir.Reduce | ir.ArrayBuild) -> tuple[list[ir.Stmt], ir.Expr]:
        """A comprehension or reduction whose body draws, over a short range: the body of each
        value in turn (the interpreter evaluates them all, in order, then folds), each bound;
        a comprehension becomes the array of those locals, a reduction reads them from it."""
        lets: list[ir.Stmt] = []
        items: list[ir.Expr] = []
        for i in range(e.lo, e.hi):
            inner, v = self.expr(irutil.substitute(e.body, {e.var: ir.Const(type=ir.IntT(lo=i, hi=i), value=i)}))
            lets += inner
            if not irutil.is_atom(v):
                let, v = self.fresh(v)
                lets.append(let)
            items.append(v)
        values = ir.ArrayLit(items=items, type=ir.ArrayT(elem=e.body.type, size=e.hi - e.lo), span=e.span)
        if isinstance(e, ir.ArrayBuild):
            return lets, values.model_copy(update={"type": e.type})
        let, array = self.fresh(values)
        var = ir.Local(name=e.var, type=ir.IntT(lo=e.lo, hi=e.hi - 1))
        at = var if e.lo == 0 else ir.Binary(op="sub", left=var, right=ir.Const(type=ir.IntT(lo=e.lo, hi=e.lo), value=e.lo),
                                             type=ir.IntT(lo=0, hi=e.hi - e.lo - 1))
        body = ir.GetIndex(base=array, index=at, type=e.body.type, span=e.body.span)
        return lets + [let], e.model_copy(update={"body": body})

    def in_order(self, exprs: list, copies: bool = False) -> tuple[list[ir.Stmt], list]:
        """Operands evaluated left to right: each one's `let`s in order, and an operand to the
        left of one that takes from a list bound when it is a scalar that is not a constant or
        a local (a random draw changes nothing an operand reads: only takes need this). With
        `copies` (the arguments of a `fn` or `proc` call, which the interpreter copies as it
        evaluates them) a list, array or record operand is bound too, a local included: in
        `f(xs, xs.pop())` the fn sees `xs` before the pop."""
        done = [self.expr(x) for x in exprs]
        last = max((i for i, x in enumerate(exprs) if irutil.takes(x)), default=-1)
        lets: list[ir.Stmt] = []
        out = []
        for i, (inner, x) in enumerate(done):
            lets += inner
            scalar = isinstance(x.type, _SCALARS)
            if i < last and not isinstance(x, ir.Const) and (not irutil.is_atom(x) and scalar or copies and not scalar):
                let, x = self.fresh(x)
                lets.append(let)
            out.append(x)
        return lets, out
