"""The checker's expressions, as a mixin of `envc.compiler.check.Checker`: literals, names
and fields, indexing, operators with their ranges (E0120, E0123), comparisons, calls of
`fn`s, builtins and methods, reductions and comprehensions, random draws and record
literals, each checked and typed into an `ir.Expr`.

Public surface: `ExpressionChecks` (mixed into the checker). Split from `check.py` along the
seam between statements and expressions (issue #15); see `envc.compiler.check_stmts`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn, cast

from envc.compiler import builtins, ir, irutil, ranges
from envc.compiler import check_simultaneous as sim
from envc.compiler.check_base import (
    COIN_BUILTINS,
    EFFECTS,
    FLOAT32_MAX,
    LIST_MUTATORS,
    MAX_COIN_RUN,
    MAX_DRAW_REPEAT,
    PURE_BUILTINS,
    REDUCERS,
    SUBNORMAL_WHY,
    CheckerPart,
    Ctx,
    _at,
    _ctx_name,
    _elem,
    _fields_help,
    _plain_place,
    _Poison,
    _pure_help,
    _random_help,
    fits_float32,
    subnormal_float32,
)
from envc.compiler.check_lang import BUILTIN_NAMES
from envc.compiler.diagnostics import Span, did_you_mean
from envc.dsl import ast

if TYPE_CHECKING:
    from envc.compiler.check import Checker

if TYPE_CHECKING:
    from envc.compiler.check import Checker



#: names other languages print with: a spec has no output of its own (hunt S: `print(n)` was told
#: "did you mean `int`?")
_PRINTS = ("print", "println", "printf", "puts", "log", "debug", "trace", "echo")

class ExpressionChecks(CheckerPart):
    """Checks of expressions (see the module docstring)."""

    def expr_safe(self, e: ast.Expr, ctx: Ctx) -> ir.Expr | None:
        try:
            return self.expr(e, ctx)
        except _Poison:
            return None

    def require_type(self, e: ir.Expr, t: ir.Type, span: Span, what: str) -> None:
        if e.type != t:
            self.fail("E0110", f"{what} must be `{t}`", span, f"this is `{e.type}`",
                      help=_convert_help(e.type, t, self.source_text(e.span)))

    def unknown_name(self, node: ast.Name, ctx: Ctx) -> NoReturn:
        if node.name in self.broken:
            raise _Poison()  # its declaration was reported already
        if any(f.name == node.name for d in self.mod.decls if isinstance(d, ast.StateDecl) for f in d.fields):
            # a state field not declared yet: read by a constant, or by a type before the field
            self.fail("E0113", f"{_ctx_name(ctx)} cannot read state field `{node.name}`", node.span, "not a constant",
                      help="constants, sizes and range bounds may use literals, other constants and pure built-ins")
        self._const_declared_later(node)
        names = [n for s in ctx.scopes for n in s] + list(self.state) + list(self.consts) + list(self.fn_sigs)
        if node.name in self.enums:
            self.fail("E0110", f"`{node.name}` is an enum, not a value", node.span,
                      help=f"name a member: `{node.name}.{(self.enums[node.name].members or ['MEMBER'])[0]}`")
        if node.name not in self.tables and ctx.what == "constant" and any(
                isinstance(d, ast.TableDecl) and d.name == node.name for d in self.mod.decls):
            # (`const N = Unit.rows` said "unknown name `Unit`": a fresh-spec hunt)
            self.fail("E0113", f"a constant cannot read table `{node.name}`", node.span,
                      "tables are read after the constants",
                      help=f"write `{node.name}.rows` where it is used: an array size (`int[0..9][{node.name}.rows]`) "
                           "or an expression accepts it")
        if node.name in self.tables:
            self.fail("E0110", f"`{node.name}` is a table, not a value", node.span,
                      help=f"use a row of it (a value of type `{node.name}`, e.g. a parameter `r: {node.name}`, "
                      f"and its columns as `r.column`), or its number of rows, `{node.name}.rows`")
        if self.sim_decl is not None:  # never suggest `current_player` where it does not exist
            names = [n for n in names if n not in sim.HIDDEN_BUILTINS]
            if node.name == sim.PLAYER:
                self.fail("E0100", f"unknown name `{node.name}`", node.span, "only an action's guard and body have it",
                          help=self._player_help(ctx))
        self.fail("E0100", f"unknown name `{node.name}`", node.span, "not found in this scope",
                  help=self._unknown_name_help(node.name, names))

    def _player_help(self, ctx: Ctx) -> str:
        """The help for `player` read outside an action of a simultaneous spec, by where it is read
        (a hunt: `observe` and procs were told to write `act(p)` in `resolve`)."""
        if ctx.observe_player is not None:
            return f"`observe` reads the observing player as `{ctx.observe_player}`, its parameter"
        if ctx.what in ("proc", "fn"):
            return f"`player` is the choosing player of an action: pass it, `{ctx.what} f(q: int[0..{self.num_players - 1}])` " \
                   "called as `f(player)` from the action"
        return ("`player` is the player whose chosen action runs; in `resolve`, name each player: "
                f"`for p in 0..{self.num_players} {{ act(p) }}`")

    def _const_declared_later(self, node: ast.Name) -> None:
        """E0100 for a constant read before its declaration (`const A = B + 1` above `const B =
        2`), or by its own value; nothing for any other name. Decision: constants are checked
        and folded in the order they are written (`check_decls._const`), as a reader reads them;
        forward references are refused with this message rather than resolved in dependency
        order, which would need a cycle check for no expressive gain."""
        decl = next((d for d in self.mod.decls if isinstance(d, ast.ConstDecl) and d.name == node.name), None)
        if decl is None or node.name in self.consts or decl.span.file != node.span.file:
            return
        if decl.span.start <= node.span.start < decl.span.end:
            self.fail("E0100", f"constant `{node.name}` is defined in terms of itself", node.span,
                      "read inside its own declaration",
                      help="give it a value made of literals and constants declared above it")
        self.fail("E0100", f"constant `{node.name}` is used before its declaration", node.span,
                  f"declared later, at line {decl.span.line}", notes=[f"`{node.name}` is declared at {_at(decl.span)}"],
                  help=f"move `const {node.name}` above this line: constants must be declared before they are used")

    def _unknown_name_help(self, name: str, names: list[str]) -> str | None:
        """The help of E0100 for a bare name: a member of a declared enum is named through its
        enum (`red` is `Col.red`, before any spelling near it, such as `rewards`), Python's
        `True`/`False` are `true`/`false`; else the closest name in scope."""
        members = [f"`{en}.{name}`" for en, d in self.enums.items() if name in d.members]
        if members:
            return f"an enum member is named with its enum: {' or '.join(members)}"
        if name in ("True", "False"):
            return f"write `{name.lower()}`"
        if name.lower() == "pi" and not did_you_mean(name, names):  # a physics spec's first constant
            return "the language has no built-in pi: declare it, `const PI = 3.1415927` (float32's nearest)"
        return did_you_mean(name, names)

    def expr(self, e: ast.Expr, ctx: Ctx, peek: bool = False) -> ir.Expr:  # noqa: C901
        """Check an expression; `peek` allows reading hidden state (inside `len()` in observe).

        One branch per syntax-node kind, each a line (its checks are the methods it calls): a
        flat dispatch, over the complexity limit only by its number of kinds (issue #15)."""
        if isinstance(e, ast.IntLit):
            return self.int_lit(e)
        if isinstance(e, ast.FloatLit):
            return self.float_lit(e)
        if isinstance(e, ast.BoolLit):
            return ir.Const(type=ir.BOOL, value=e.value, span=e.span)
        if isinstance(e, ast.StringLit):
            self.fail("E0110", "strings are not values in envspec", e.span,
                      help="use an enum member, or put text in a data table")
        if isinstance(e, ast.Name):
            return self.name(e, ctx, peek)
        if isinstance(e, ast.Field):
            return self.field(e, ctx, peek)
        if isinstance(e, ast.Index):
            return self.index(e, ctx, peek)
        if isinstance(e, ast.Unary):
            return self.unary(e, ctx)
        if isinstance(e, ast.Binary):
            return self.binary_expr(e, ctx, peek)
        if isinstance(e, ast.CondExpr):
            return self.cond_expr(e, ctx, peek)
        if isinstance(e, ast.ArrayLit):
            return self.array_lit(e, ctx, peek)
        if isinstance(e, ast.Comprehension):
            return self.comprehension(e, ctx, peek)
        if isinstance(e, ast.Call):
            return self.call(e, ctx, peek)
        if isinstance(e, ast.Generator):
            self.fail("E0110", "a generator is only allowed inside sum, count, any, all, min or max", e.span)
        if isinstance(e, ast.Selector):
            self.fail("E0110", "a selector `x in lo..hi` is only an argument of `choose` or `random.pick`", e.span)
        raise AssertionError(f"unhandled expression {type(e).__name__}")  # pragma: no cover

    def int_lit(self, e: ast.IntLit) -> ir.Const:
        """An integer literal: a constant of range `v..v`, within 32 bits."""
        if not ir.INT32_MIN <= e.value <= ir.INT32_MAX:
            self.fail("E0120", "integer literal does not fit in 32 bits", e.span)
        return ir.Const(type=ir.IntT(lo=e.value, hi=e.value), value=e.value, span=e.span)

    def float_lit(self, e: ast.FloatLit) -> ir.Const:
        """A float literal, finite in float32."""
        if not fits_float32(e.value):
            self.fail("E0120", "float literal does not fit in float32", e.span, "beyond float32",
                      help=f"float32 values are at most {FLOAT32_MAX:.7g} in magnitude")
        if subnormal_float32(e.value):
            self.fail("E0120", "float literal is a subnormal float32", e.span, "below 1.1754944e-38",
                      help=SUBNORMAL_WHY)
        return ir.Const(type=ir.FLOAT, value=e.value, span=e.span)

    def unary(self, e: ast.Unary, ctx: Ctx) -> ir.Expr:
        """`not b` (a bool) or `-x` (an int, its range mirrored within 32 bits, or a float)."""
        operand = self.expr(e.operand, ctx)
        if e.op == "not":
            self.require_type(operand, ir.BOOL, e.operand.span, "the operand of `not`")
            return ir.Unary(op="not", operand=operand, type=ir.BOOL, span=e.span)
        if isinstance(operand.type, ir.IntT):
            t = ir.IntT(lo=-operand.type.hi, hi=-operand.type.lo)
            return ir.Unary(op="neg", operand=operand, type=self.int32(t, e.span), span=e.span)
        if isinstance(operand.type, ir.FloatT):
            return ir.Unary(op="neg", operand=operand, type=ir.FLOAT, span=e.span)
        self.fail("E0110", f"cannot negate `{operand.type}`", e.operand.span)

    def binary_expr(self, e: ast.Binary, ctx: Ctx, peek: bool) -> ir.Expr:
        """`a op b` (`binary`); the right side of `and`/`or` is checked under the facts of
        the left one (true for `and`, false for `or`)."""
        op = _BINOPS[e.op]
        if op in ("and", "or"):
            self.bound_after_read(e)
        left = self.expr(e.left, ctx, peek)
        if op not in ("and", "or"):
            out = self.binary(op, left, self.expr(e.right, ctx, peek), e.span, e.op_span)
            return self.narrowed_path(out, ctx, sums=True) if op in ("add", "sub") else out
        self.push_facts(ctx, self.facts(left, op == "and", ctx))  # the right side is read where the left one decided nothing
        try:
            right = self.expr(e.right, ctx, peek)
        finally:
            self.pop_facts(ctx)
        if ir.first_draw(right) is not None:
            # a right side that draws is evaluated whatever the left one says (`ir.Binary`: no
            # short circuit, so that every backend draws alike): checked again without the facts
            # (`k < 3 and a[k] == random.int(0, 1)` read `a[k]` past its end at run time), and
            # it may not take from a list (`len(xs) > 0 and xs.pop() > 3` faulted on an empty list)
            take = next((n for n in ir.walk(right) if isinstance(n, ir.ListTake)), None)
            if take is not None:
                self.fail("E0131", f"the right side of `{op}` cannot take from a list", take.span,
                          f"evaluated even where the left side decides the `{op}`",
                          help="take in a statement of its own under an `if` on the left side, then test the value")
            right = self.expr(e.right, ctx, peek)
        return self.binary(op, left, right, e.span, e.op_span)

    def cond_expr(self, e: ast.CondExpr, ctx: Ctx, peek: bool) -> ir.Cond:
        """`if c then a else b`: each branch under the facts of `c` (true, false); neither
        may draw; one type for both."""
        c = self.expr(e.cond, ctx)
        self.require_type(c, ir.BOOL, e.cond.span, "the condition of `if ... then ... else`")
        self.push_facts(ctx, self.facts(c, True, ctx))
        try:
            a = self.expr(e.then, ctx, peek)
        finally:
            self.pop_facts(ctx)
        self.push_facts(ctx, self.facts(c, False, ctx))
        try:
            b = self.expr(e.orelse, ctx, peek)
        finally:
            self.pop_facts(ctx)
        self.no_draws(a, "a branch of `if ... then ... else`")
        self.no_draws(b, "a branch of `if ... then ... else`")
        joined = self.unify(a, b, e.span, "both branches must have one type")
        return ir.Cond(cond=c, then=a, orelse=b, type=joined, span=e.span)

    def array_lit(self, e: ast.ArrayLit, ctx: Ctx, peek: bool) -> ir.ArrayLit:
        """`[a, b, ...]`: at least one item, all of one type (ranges joined)."""
        if not e.items:
            self.fail("E0110", "an empty array has no type", e.span, help="arrays have at least one element")
        items = [self.expr(x, ctx, peek) for x in e.items]
        elem = items[0].type
        for x in items[1:]:
            elem = self.unify_types(elem, x.type, x.span, "the items of an array must have one type",
                                    self.source_text(x.span))
        return ir.ArrayLit(items=items, type=ir.ArrayT(elem=elem, size=len(items)), span=e.span)

    def comprehension(self, e: ast.Comprehension, ctx: Ctx, peek: bool) -> ir.ArrayBuild:
        """`[body for i in lo..hi]`: constant bounds, a body that draws at most a few times."""
        lo, hi = self.loop_bounds(e.lo, e.hi, e.inclusive, e.span, ctx, e.var)
        ctx.scopes.append({e.var: ir.IntT(lo=lo, hi=hi - 1)})
        try:
            body = self.expr(e.body, ctx, peek)
        finally:
            ctx.scopes.pop()
        self.no_draws(body, "an array comprehension", hi - lo)
        self.require_cells(ir.ArrayT(elem=body.type, size=hi - lo), e.span)
        return ir.ArrayBuild(var=e.var, lo=lo, hi=hi, body=body, type=ir.ArrayT(elem=body.type, size=hi - lo),
                             span=e.span)

    def no_draws(self, e: ir.Expr, where: str, repeat: int | None = None) -> None:
        """Random draws and list takes happen a fixed number of times, in evaluation order:
        never inside a conditional expression (backends that compute both branches could
        not match the interpreter draw for draw), and inside a comprehension or reduction
        only over at most `MAX_DRAW_REPEAT` iterations (backends unroll it)."""
        found = ir.first_draw(e)
        if found is not None and repeat is not None:
            repeat *= _draws(e)  # draws nested in comprehensions multiply (backends unroll them all)
        if found is None or (repeat is not None and repeat <= MAX_DRAW_REPEAT):
            return
        if repeat is None:
            label = "evaluated only on one side of the condition" if where.startswith("a branch") \
                else "evaluated where envc cannot keep the order of draws"
            self.fail("E0131", f"{where} cannot draw random numbers or take from a list", found.span, label,
                      help="draw first in a statement of its own (`let r = random.int(1, 6)`), then use `r`")
        self.fail("E0131", f"{where} draws {repeat} times, more than {MAX_DRAW_REPEAT}", found.span,
                  "draws in every iteration", help="use a `for` loop over the draws")

    def int32(self, t: ir.IntT, span: Span) -> ir.IntT:
        if t.lo < ir.INT32_MIN or t.hi > ir.INT32_MAX:
            self.fail("E0120", "value may overflow 32 bits", span, f"has range {t.lo}..{t.hi}",
                      help="reduce the ranges of its operands")
        return t

    def name(self, e: ast.Name, ctx: Ctx, peek: bool) -> ir.Expr:
        t = ctx.lookup(e.name)
        if t is not None:
            if ctx.narrow:
                t = self.narrowed(ctx, ("local", e.name), t, self.scope_of(ctx, e.name))
            return ir.Local(name=e.name, type=t, span=e.span)
        if e.name in self.state:
            fd = self.state[e.name]
            if self.sim_decl is not None and e.name in sim.HIDDEN_BUILTINS:
                sim.reads_builtin(cast("Checker", self), e.name, e.span, ctx)
            if fd.visibility != "public":
                ctx.reads_hidden = True
                self._observe_hidden(e, fd, ctx, peek)
            t = self.narrowed(ctx, ("state", e.name), fd.type) if ctx.narrow else fd.type
            return ir.StateGet(name=e.name, type=t, span=e.span)
        if e.name in self.consts:
            c = self.consts[e.name]
            return ir.Const(type=c.type, value=c.value, span=e.span)
        if e.name in self.fn_sigs:
            self.fail("E0110", f"`{e.name}` is a function: call it", e.span, help=f"write `{e.name}(...)`")
        if e.name == "random":
            self.fail("E0110", "`random` is a namespace", e.span, help="use `random.int(lo, hi)` or `random.coin()`")
        self.unknown_name(e, ctx)

    def _observe_hidden(self, e: ast.Name, fd: ir.FieldDef, ctx: Ctx, peek: bool) -> None:
        """E0170 for `observe` reading hidden field `fd` whole (`peek`: inside `len()`, which
        may), with the help saying what a player may see of it."""
        if ctx.observe_player is None or peek:
            return
        is_list = isinstance(_elem(fd.type) if fd.visibility == "private" else fd.type, ir.ListT)
        if fd.visibility == "private":
            how = f"a player may see only its own slot, `{e.name}[{ctx.observe_player}]`"
            if self.scope_of(ctx, ctx.observe_player) != id(ctx.scopes[0]):
                how += (f", where `{ctx.observe_player}` is `observe`'s player: here a `let` or a generator rebinds "
                        "it (give that one another name)")
            if is_list:
                how += f", and the length of the others with `len({e.name}[i])`"
        elif is_list:
            how = f"a player may see only its length, `len({e.name})`"
        else:
            how = (f"players never see `{e.name}`: observe public fields, drop `@hidden` if all may "
                   "see it, or mark it `@reveal(flag)` (a public bool field of its shape; "
                   "`@reveal_to(flag)`, with one more leading axis, the viewer, when each player sees "
                   f"other cells) and observe `revealed({e.name}..., fallback)`")
        self.fail("E0170", f"`observe` reads `@{fd.visibility}` field `{e.name}`", e.span,
                  "hidden from players", help=how)

    def field(self, e: ast.Field, ctx: Ctx, peek: bool) -> ir.Expr:
        if isinstance(e.base, ast.Name) and ctx.lookup(e.base.name) is None and e.base.name not in self.state:
            named = self._global_member(e, e.base.name)
            if named is not None:
                return named
        value = self.expr(e.base, ctx, peek)
        t = value.type
        if isinstance(t, ir.RecordT):
            member = self._record_member(t, e)
            return self.narrowed_path(ir.GetField(base=value, name=e.name, type=member, span=e.span), ctx)
        if isinstance(t, ir.RowT):
            table = self.tables[t.table]
            col = next((c for c in table.columns if c.name == e.name), None)
            if col is None and (t.table in self.broken or f"{t.table}.{e.name}" in self.broken):
                raise _Poison()  # the data file or the column was reported already
            if col is None:
                self.fail("E0103", f"table `{t.table}` has no column `{e.name}`", e.name_span, "unknown column",
                          help=did_you_mean(e.name, [c.name for c in table.columns]))
            return self.narrowed_path(ir.TableGet(table=t.table, column=e.name, row=value, type=col.type,
                                                  span=e.span), ctx)
        self.fail("E0103", f"`{t}` has no field `{e.name}`", e.name_span,
                  help="list methods are called: `xs.contains(x)`; the length is `len(xs)`" if isinstance(t, ir.ListT) else None)

    def _global_member(self, e: ast.Field, base: str) -> ir.Const | None:
        """`Enum.member` (its index; E0102 for no such member) or `Table.rows` (the row
        count), `base` naming no local or state field; None for anything else."""
        if base in self.enums:
            enum = self.enums[base]
            if e.name not in enum.members:
                self.fail("E0102", f"`{e.name}` is not a member of enum `{base}`", e.name_span, "unknown member",
                          help=did_you_mean(e.name, enum.members) or f"members: {', '.join(enum.members)}")
            return ir.Const(type=ir.EnumT(name=base, size=len(enum.members)), value=enum.members.index(e.name),
                            span=e.span)
        if base in self.tables and e.name == "rows":
            rows = self.tables[base].rows
            return ir.Const(type=ir.IntT(lo=rows, hi=rows), value=rows, span=e.span)
        if base in self.tables and any(c.name == e.name for c in self.tables[base].columns):
            self.fail("E0110", f"`{base}.{e.name}` names a column, not a value", e.span,
                      "a column is read from a row",
                      help=f"read it from a row of `{base}`: `r.{e.name}` with `r: {base}` (a parameter, a field "
                      f"or a local holding a row); `{base}.rows` is its number of rows")
        return None

    def index(self, e: ast.Index, ctx: Ctx, peek: bool) -> ir.Expr:
        private_slot = False
        if (ctx.observe_player is not None and isinstance(e.base, ast.Name) and e.base.name in self.state
                and ctx.lookup(e.base.name) is None and self.state[e.base.name].visibility == "private"):
            private_slot = self.is_observer(ctx, e.index)
        param_slot = self._param_slot(e, ctx)
        if param_slot is not None:  # `hand[p]` in a fn, `p` a parameter: the fn's callers decide
            saved = ctx.reads_hidden
            base = self.expr(e.base, ctx, True)
            ctx.reads_hidden = saved
            ctx.slot_params.add(param_slot)
            index = self.expr(e.index, ctx)
            t = self.check_index(base.type, index, e)
            return ir.GetIndex(base=base, index=index, type=t, span=e.span)
        base = self.expr(e.base, ctx, peek or private_slot)
        index = self.expr(e.index, ctx)
        t = self.check_index(base.type, index, e)
        return self.narrowed_path(ir.GetIndex(base=base, index=index, type=t, span=e.span), ctx)

    def _param_slot(self, e: ast.Index, ctx: Ctx) -> int | None:
        """In a `fn`, `f[p]` with `f` a `@private` field and `p` a parameter of the fn: the
        parameter's position (the fn reads the slot its caller names), else None."""
        if ctx.what != "fn" or self.current_fn is None or not isinstance(e.base, ast.Name):
            return None
        fd = self.state.get(e.base.name)
        if fd is None or fd.visibility != "private" or ctx.lookup(e.base.name) is not None:
            return None
        if not isinstance(e.index, ast.Name) or self.scope_of(ctx, e.index.name) != id(ctx.scopes[0]):
            return None
        params = self.fn_sigs[self.current_fn][0]
        return next((i for i, p in enumerate(params) if p.name == e.index.name), None)

    def is_observer(self, ctx: Ctx, e: Any) -> bool:
        """Whether expression `e` is `observe`'s player: its parameter's name, not rebound by a
        `let` or a generator on the way (`let p = 1 - p` then `hand[p]` reads another player's
        slot, as does `sum(hand[p] for p in 0..2)`)."""
        return (ctx.observe_player is not None and isinstance(e, ast.Name) and e.name == ctx.observe_player
                and self.scope_of(ctx, e.name) == id(ctx.scopes[0]))

    def _slot_call(self, name: str, e: ast.Call, ctx: Ctx) -> None:
        """A call of a fn that reads `@private` slots named by its parameters: in `observe`
        those arguments must be the observing player; in a fn, parameters of that fn (its own
        callers then decide); anywhere else the call reads hidden state."""
        positional = [a for a in e.args if a.name is None]
        params = self.fn_sigs[name][0]
        for k in sorted(self.fn_slot_params[name]):
            p = params[k]
            a = next((x for x in e.args if x.name == p.name), None) or (positional[k] if k < len(positional) else None)
            arg = a.value if a is not None else None
            if ctx.observe_player is not None:
                if self.is_observer(ctx, arg):
                    continue
                self.fail("E0170", f"`observe` calls `{name}` with another player's `{p.name}`", e.span,
                          f"`{name}` reads `@private` slots at `{p.name}`",
                          help=f"pass the observing player: `{name}(..., {ctx.observe_player}, ...)`")
            if ctx.what == "fn" and self.current_fn is not None and isinstance(arg, ast.Name) \
                    and self.scope_of(ctx, arg.name) == id(ctx.scopes[0]):
                own = self.fn_sigs[self.current_fn][0]
                k2 = next((i for i, q in enumerate(own) if q.name == arg.name), None)
                if k2 is not None:
                    ctx.slot_params.add(k2)
                    continue
            ctx.reads_hidden = True

    def binary(self, op: ir.BinaryOp, a: ir.Expr, b: ir.Expr, span: Span, op_span: Span) -> ir.Expr:
        ta, tb = a.type, b.type
        if op in ("and", "or"):
            for x in (a, b):
                self.require_type(x, ir.BOOL, x.span, f"an operand of `{op}`")
            return ir.Binary(op=op, left=a, right=b, type=ir.BOOL, span=span)
        # an int literal next to a float is a float
        if isinstance(ta, ir.FloatT) and isinstance(b, ir.Const) and isinstance(tb, ir.IntT):
            b, tb = ir.Const(type=ir.FLOAT, value=float(b.value), span=b.span), ir.FLOAT
        if isinstance(tb, ir.FloatT) and isinstance(a, ir.Const) and isinstance(ta, ir.IntT):
            a, ta = ir.Const(type=ir.FLOAT, value=float(a.value), span=a.span), ir.FLOAT
        if op in ("eq", "ne", "lt", "le", "gt", "ge"):
            return self.comparison(op, a, b, span, op_span)
        if isinstance(ta, ir.FloatT) and isinstance(tb, ir.FloatT):
            if op == "mod":
                self.fail("E0110", "`%` is defined on integers only", op_span,
                          help="for a float modulo (floored, as Python's), write `x - m * floor(x / m)`")
            return ir.Binary(op=op, left=a, right=b, type=ir.FLOAT, span=span)
        if not (isinstance(ta, ir.IntT) and isinstance(tb, ir.IntT)):
            hint = _operand_hint(op, a, b)
            self.fail("E0110", f"cannot apply `{_OP_TEXT[op]}` to `{ta}` and `{tb}`", op_span, "incompatible operands",
                      help=hint)
        t = self.int32(_int_range(op, ta, tb, self, b.span), span)
        return ir.Binary(op=op, left=a, right=b, type=t, span=span)

    def comparison(self, op: ir.BinaryOp, a: ir.Expr, b: ir.Expr, span: Span, op_span: Span) -> ir.Binary:
        """`a op b`, op a comparison: integers with integers, or operands of one float, enum
        or row type (bools and enums with `==`/`!=` only); E0110 with a fix otherwise."""
        ta, tb = a.type, b.type
        ok = (isinstance(ta, ir.IntT) and isinstance(tb, ir.IntT)) or (ta == tb and isinstance(ta, (ir.FloatT, ir.EnumT, ir.RowT)))
        if op in ("eq", "ne") and ta == tb and isinstance(ta, ir.BoolT):
            ok = True
        if op not in ("eq", "ne") and isinstance(ta, ir.EnumT):
            ok = False
        if not ok:
            left, right = self.source_text(a.span), self.source_text(b.span)
            label = "compares numbers, bools, enums and rows" if ta == tb else "incompatible operands"
            self.fail("E0110", f"cannot compare `{ta}` with `{tb}`", op_span, label,
                      notes=[f"left is `{ta}`, right is `{tb}`"],
                      help=_compare_help(op, ta, tb, left, right) or _bool_test_help(op, a, b, left, right)
                      or _convert_help(ta, tb, left) or _convert_help(tb, ta, right))
        return ir.Binary(op=op, left=a, right=b, type=ir.BOOL, span=span)

    def unify_types(self, a: ir.Type, b: ir.Type, span: Span,
                    label: str = "both sides must have one type", text: str = "") -> ir.Type:
        """The one type of two values that must share one (the branches of `if ... then ...
        else`, the items of an array literal, the cells of `concat`'s arrays): integer ranges
        join, arrays of one size join cell by cell, anything else must be equal. `span` is the
        second value's, `label` says what must agree there and `text` is the second value's
        source, for the help. Raises E0110 on a mismatch, with a conversion to write where one
        exists (`int(...)` of a bool, `float(...)` of an integer)."""
        if isinstance(a, ir.IntT) and isinstance(b, ir.IntT):
            return ir.IntT(lo=min(a.lo, b.lo), hi=max(a.hi, b.hi))
        if isinstance(a, ir.ArrayT) and isinstance(b, ir.ArrayT) and a.size == b.size:
            return ir.ArrayT(elem=self.unify_types(a.elem, b.elem, span, label, text), size=a.size)
        if a != b:
            self.fail("E0110", f"type mismatch: `{a}` and `{b}`", span, label,
                      help=_convert_help(b, a, text or "..."))
        return a

    def unify(self, a: ir.Expr, b: ir.Expr, span: Span, label: str = "both sides must have one type") -> ir.Type:
        return self.unify_types(a.type, b.type, span, label, self.source_text(b.span))

    # ------------------------------------------------------------ calls
    def note_call(self, name: str, span: Span) -> None:
        """Record the call of `name` at `span` in the call graph (`calls`, `call_spans`: E0140)."""
        if self.current_fn is not None:
            self.calls.setdefault(self.current_fn, set()).add(name)
            self.call_spans.setdefault((self.current_fn, name), span)

    def call_args(self, e: ast.Call, params: list[ir.ParamDef], name: str, ctx: Ctx) -> list[ir.Expr]:
        positional = [a for a in e.args if a.name is None]
        named = {a.name: a for a in e.args if a.name is not None}
        sig = ", ".join(f"{p.name}: {p.type}" for p in params)
        unknown = [n for n in named if n not in {p.name for p in params}]
        if unknown:
            self.fail("E0111", f"`{name}` has no parameter `{unknown[0]}`", named[unknown[0]].span, "unknown parameter",
                      help=did_you_mean(unknown[0], [p.name for p in params]) or f"the signature is `{name}({sig})`")
        if len(e.args) != len(params):
            self.fail("E0111", f"`{name}` takes {len(params)} argument{'s' if len(params) != 1 else ''}, "
                      f"{len(e.args)} given", e.span, help=f"the signature is `{name}({sig})`")
        args = []
        for i, p in enumerate(params):
            a = named.get(p.name) if named else positional[i] if i < len(positional) else None
            if a is None:
                self.fail("E0111", f"missing argument `{p.name}` of `{name}`", e.span)
            v = self.expr(a.value, ctx)
            if isinstance(p.type, ir.FloatT) and isinstance(v, ir.Const) and isinstance(v.type, ir.IntT):
                v = ir.Const(type=ir.FLOAT, value=float(v.value), span=v.span)
            if not self.require_fits(v, p.type, a.value.span, f"parameter `{p.name}: {p.type}` of `{name}`",
                                     declared=name not in EFFECTS + sim.RESERVED):
                raise _Poison()
            args.append(v)
        return args

    def call(self, e: ast.Call, ctx: Ctx, peek: bool) -> ir.Expr:
        """A call as a value: a method (`xs.contains(v)`, `random.int(...)`, ...), a built-in,
        a record literal or a `fn`; a statement-only call (an effect, a `proc`) is an error."""
        func = e.func
        if isinstance(func, ast.Field):
            return self.method_call(e, func, ctx, peek)
        if not isinstance(func, ast.Name):
            if isinstance(func, ast.Index) and isinstance(func.base, ast.Name) and func.base.name in self.broken:
                raise _Poison()  # `family[row](...)` of a family whose table was reported (hunt U)
            self.fail("E0110", "only named functions can be called", func.span)
        name = func.name
        got = self._builtin_call(name, e, ctx, peek)
        if got is not None:
            return got
        if name in EFFECTS:
            self.fail("E0110", f"`{name}()` is a statement and has no value", e.span,
                      help=f"call it on its own line: `{name}(...)`")
        if name in self.record_defs:
            return self.record_lit(name, e, ctx)
        if name in self.fn_sigs:
            return self.fn_call(name, e, ctx)
        self._no_function(name, func, e)

    def _builtin_call(self, name: str, e: ast.Call, ctx: Ctx, peek: bool) -> ir.Expr | None:
        """A call of a built-in (`old` and the coins of `ensures`, a reduction over a
        generator, `chose` in a simultaneous spec, the others), unless a `fn` of the spec
        takes the name; None otherwise."""
        if name == "old" and name not in self.fn_sigs:
            return self.old_call(e, ctx, peek)
        if name in COIN_BUILTINS and name not in self.fn_sigs:
            return self.coin_builtin(name, e, ctx, peek)
        if name == "lasts_until" and name not in self.fn_sigs:
            return self.lasts_until_call(e, ctx)
        if name in REDUCERS and len(e.args) == 1 and isinstance(e.args[0].value, ast.Generator):
            return self.reduce(name, e.args[0].value, ctx, e.span, peek)
        if name in ("chose", "chosen") and self.sim_decl is not None:
            return sim.choice_call(cast("Checker", self), name, e, ctx)
        if name in BUILTIN_NAMES + ("sum",) and name not in self.fn_sigs:
            got = self.ext_builtin(name, e, ctx, peek)
            if got is not None:
                return got
        if name in PURE_BUILTINS:
            return self.builtin(name, e, ctx, peek)
        return None

    def fn_call(self, name: str, e: ast.Call, ctx: Ctx) -> ir.CallFn:
        """A call of `fn` `name` (a `proc` has no value): a hole must be filled, a generic
        `fn` is instantiated; what it reads (hidden state, a private slot, the pending
        choice) counts for `observe` and the calling `fn`."""
        params, ret, pure = self.fn_sigs[name]
        if ret is None:
            self.fail("E0110", f"`proc` `{name}` has no value", e.span, help=f"call it on its own line: `{name}(...)`")
        hole = self.fn_decls[name]
        if isinstance(hole, ast.HoleDecl):
            self.require_hole_filled(hole, e.span)
        source = name
        if name in self.generic:
            name, params = self.instantiate(name, e, ctx)
        args = self.call_args(e, params, name, ctx)
        self.note_call(name, e.span)
        if source in self.fn_hidden or name in self.fn_hidden:
            ctx.reads_hidden = True
            if ctx.observe_player is not None:
                self.fail("E0170", f"`observe` calls `{source}`, which reads hidden state", e.span,
                          help="compute the observation from public state and the player's own slots; a hidden "
                           "value that becomes public (a revealed cell) is a field marked `@reveal(flag)`, "
                           "observed with `revealed(field..., fallback)`")
        elif name in self.fn_slot_params:
            self._slot_call(name, e, ctx)
        if name in self.fn_shows_choice:
            self._shows_choice(ctx)
        return ir.CallFn(fn=name, args=args, type=ret, span=e.span)

    def _shows_choice(self, ctx: Ctx) -> None:
        """A read of the pending choice: `observe` shows it, or the `fn` being checked does."""
        if ctx.observe_player is not None:
            self.observe_shows_choice = True
        elif ctx.what == "fn" and self.current_fn is not None:
            self.fn_shows_choice.add(self.current_fn)

    def _no_function(self, name: str, func: ast.Name, e: ast.Call) -> NoReturn:
        """The error for a call of `name`, which no function takes: a hole without a valid
        fill, an enum, a list method called as a function, or an unknown name."""
        if isinstance(self.fn_decls.get(name), ast.HoleDecl):
            self.fail("E0160", f"hole `{name}` cannot be called: it has no valid fill", e.span)
        if name in self.broken:
            raise _Poison()  # its declaration was reported already
        if name not in self.fn_sigs and any(isinstance(d, ast.FnDecl) and d.name == name for d in self.mod.decls):
            # a `fn` read where functions are not known yet: a constant, a size or a range bound
            self.fail("E0113", f"`{name}` is a `fn`, which a constant, a size or a range bound cannot call", e.span,
                      "not a constant", help="constants, sizes and range bounds may use literals, other "
                      "constants and pure built-ins")
        if name in self.boundaries:  # `when b()`: a boundary is reached by a statement, it has no value
            self.fail("E0110", f"`{name}` is a boundary: reaching it is a statement, it has no value", func.span,
                      "not a function", help=f"reach it on a line of its own in an action or a `proc`, `{name}(...)`; "
                      "a guard, a `fn` or an expression cannot")
        if name in ("chose", "chosen"):  # (a simultaneous spec takes these names before this point)
            self.fail("E0192", f"`{name}(...)` reads a simultaneous turn's choices, and this spec has none",
                      func.span, "not a simultaneous spec",
                      help="write `simultaneous` after `players N` and a `resolve { ... }` block (README, \"Simultaneous turns\")")
        if name in self.enums:  # `Col(int(c) + 1)`: no integer becomes a member
            members = self.enums[name].members or ["MEMBER"]
            self.fail("E0110", f"`{name}` is an enum: it is not called", func.span, "not a function",
                      help=f"name a member, `{name}.{members[0]}`; an integer does not convert to one: choose it "
                           f"with `if ... then {name}.{members[0]} else ...` or `match`")
        if name in self.tables:  # `Unit(1)`: a row is an integer stored where a row is expected
            self.fail("E0110", f"`{name}` is a table: it is not called", func.span, "not a function",
                      help=f"store the row's number where a `{name}` is expected (`r = 1`, `let r: {name} = 1`), "
                           f"and read its columns as `r.column`")
        if name in REDUCERS and name not in PURE_BUILTINS and (len(e.args) == 1 or name != "count"):
            # a reduction whose argument is not one generator (`any(bs)`, `sum(g, 2)`): it said
            # "unknown function `any`", then "did you mean `any`?"
            what = "one generator or one array" if name == "sum" else "one generator"
            self.fail("E0111", f"`{name}` takes {what}: `{name}(... for i in lo..hi)`", e.span,
                      f"not {what}", help=f"over an array `xs` of N items: `{name}(xs[i] for i in 0..N)`")
        method = name in LIST_MUTATORS + ("draw", "pop", "contains", "count") and len(e.args) >= 1
        xs = self.source_text(e.args[0].value.span) if method else ""
        xs = xs if _plain_place(xs) else "xs"
        rest = ", ".join(self.source_text(a.value.span) for a in e.args[1:])
        self.fail("E0100", f"unknown function `{name}`", func.span, "not defined",
                  help=f"`{name}` is a list method: `{xs}.{name}({rest})`" if method else
                  "a spec does not print: to watch a game, step the package of `envc compile SPEC --target python` "
                  "from Python and look at its states; an `invariant` or `fail(\"...\")` stops at a state that "
                  "should not happen" if name in _PRINTS else
                  did_you_mean(name, list(self.fn_sigs) + list(PURE_BUILTINS) + list(REDUCERS) + list(EFFECTS)))

    def method_call(self, e: ast.Call, func: ast.Field, ctx: Ctx, peek: bool) -> ir.Expr:
        """`random.f(...)`, `xs.contains(v)`, `xs.count(v)`, `xs.draw()`, `xs.pop()` as values;
        errors for a list method that is a statement and for unknown methods."""
        if isinstance(func.base, ast.Name) and func.base.name == "random" and ctx.lookup("random") is None:
            return self.random_call(e, func, ctx)
        if func.name in ("contains", "count"):
            return self.member_test(e, func, ctx, peek)
        if func.name in ("draw", "pop"):
            return self.list_take(e, func, ctx)
        if func.name in LIST_MUTATORS:
            # `let c = xs.remove_at(i)` is the natural way to take a card from a hand: say how
            xs = self.source_text(func.base.span)
            xs = xs if _plain_place(xs) else "xs"
            i = self.source_text(e.args[0].value.span) if len(e.args) == 1 else "i"
            i = i if _plain_place(i) else "i"
            how = f"read the element first, `let v = {xs}[{i}]`, then remove it on its own line: `{xs}.remove_at({i})`" \
                if func.name == "remove_at" else f"call it on its own line: `{xs}.{func.name}(...)`"
            self.fail("E0110", f"`{func.name}()` is a statement and has no value", e.span, help=how)
        if func.name in ("remove", "discard", "erase", "delete"):  # by value: lists remove by position
            self.fail("E0103", f"unknown method `{func.name}`", func.name_span, "no such method",
                      help="a list removes by position, `xs.remove_at(i)`; to remove a value v, find it first: "
                           "`for i in 0..CAP { if i < len(xs) and xs[i] == v { xs.remove_at(i)  break } }`")
        xs = self.source_text(func.base.span)
        arg_text = ", ".join(self.source_text(a.value.span) for a in e.args)
        self.fail("E0103", f"unknown method `{func.name}`", func.name_span, "no such method",
                  help=f"the length is a function: `len({xs if _plain_place(xs) else 'xs'})`"
                  if func.name in ("len", "length", "size") else
                  f"a list grows at its end with `push`: `{xs if _plain_place(xs) else 'xs'}.push({arg_text or 'v'})`"
                  if func.name in ("append", "add", "push_back") else
                  f"`{func.name}` is a built-in function, not a method: `{func.name}({arg_text})`"
                  if func.name in builtins.FLOAT_MATH else
                  did_you_mean(func.name, ["contains", "count", "draw", "pop", *LIST_MUTATORS]))

    def member_test(self, e: ast.Call, func: ast.Field, ctx: Ctx, peek: bool) -> ir.Builtin:
        """`xs.contains(v)` (a bool) or `xs.count(v)` (0..capacity) on a list or an array; an
        integer names a row in an array of rows."""
        base = self.expr(func.base, ctx, peek)
        if not isinstance(base.type, (ir.ListT, ir.ArrayT)):
            self.fail("E0103", f"`{base.type}` has no method `{func.name}`", func.name_span)
        elem = base.type.elem
        if isinstance(elem, ir.RowT) and len(e.args) == 1 and e.args[0].name is None:
            probe = self.expr(e.args[0].value, ctx)
            if isinstance(probe.type, ir.IntT):
                # rows are indices: an integer in 0..rows-1 names a row
                elem = ir.IntT(lo=0, hi=elem.rows - 1)
        item = self.call_args(e, [ir.ParamDef(name="item", type=_widen(elem))], func.name, ctx)[0]
        cap = base.type.cap if isinstance(base.type, ir.ListT) else base.type.size
        t = ir.BOOL if func.name == "contains" else ir.IntT(lo=0, hi=cap)
        return ir.Builtin(name=func.name, args=[base, item], type=t, span=e.span)

    def list_take(self, e: ast.Call, func: ast.Field, ctx: Ctx) -> ir.ListTake:
        """`xs.draw()` (the first element) or `xs.pop()` (the last), removed: it changes the state."""
        if ctx.pure and isinstance(func.base, ast.Name) and ctx.lookup(func.base.name) is not None:
            # a local list of a `fn`: a statement may remove from it, a value may not (a hunt read
            # "changes the state" and "a `fn` only computes" for `let t = xs.pop()` on a local)
            at = "0" if func.name == "draw" else f"len({func.base.name}) - 1"
            self.fail("E0130", f"{_ctx_name(ctx)} cannot use the value of `{func.name}()`", func.span,
                      "a take inside a value", help=f"read the item, then remove it: `let t = {func.base.name}[{at}]`, "
                      f"then `{func.base.name}.{func.name}()` as a statement")
        if ctx.pure:
            self.fail("E0130", f"{_ctx_name(ctx)} cannot `{func.name}()`: it removes an element", func.span,
                      "changes the state", help=_pure_help(ctx))
        place = self.place(func.base, ctx, mutating=f"`{func.name}()`")
        if not isinstance(place.type, ir.ListT):
            self.fail("E0103", f"`{func.name}` is a list method, and this is `{place.type}`", func.name_span)
        self.call_args(e, [], func.name, ctx)
        self.kill_facts_of(ctx, func.base)
        return ir.ListTake(place=place, front=func.name == "draw", type=place.type.elem, span=e.span)

    def old_call(self, e: ast.Call, ctx: Ctx, peek: bool) -> ir.Expr:
        """`old(x)` in a hole's `ensures`: `x` evaluated on the state before the hole ran. The IR is
        `Builtin("old")`, which only `ensures` clauses (never lowered by a backend) contain."""
        if ctx.what != "ensures":
            self.fail("E0110", "`old(...)` is only allowed in a hole's `ensures` clause", e.span,
                      help="`old(x)` is the value of `x` before the hole ran")
        if len(e.args) != 1 or e.args[0].name is not None or isinstance(e.args[0].value, ast.Generator):
            self.fail("E0111", "`old` takes one expression: `old(x)`", e.span)
        value = self.expr(e.args[0].value, ctx, peek)
        return ir.Builtin(name="old", args=[value], type=value.type, span=e.span)

    def coin_builtin(self, name: str, e: ast.Call, ctx: Ctx, peek: bool) -> ir.Expr:
        """`flip(k)`, `heads(n)`, `heads_until_tails()` in an `ensures` clause: the coins a
        call flips, read from the RNG words before it (draw k of the call is a function of
        the key and the counter; see `compiler/rng.py`); `draws()`: how many random numbers
        the call drew. `Builtin` nodes that, like `old`, no backend lowers."""
        if ctx.what != "ensures":
            self.fail("E0110", f"`{name}(...)` is only allowed in an `ensures` or scenario clause", e.span,
                      help="it reads the coins the call flipped, which only a hole's checks can see")
        want = {"heads_until_tails": 0, "draws": 0, "drawn": 3}.get(name, 1)
        if len(e.args) != want or any(a.name is not None or isinstance(a.value, ast.Generator) for a in e.args):
            usage = {"flip": "`flip(k)`: the k-th coin the call flips (from 0), true for heads",
                     "heads": "`heads(n)`: how many of the first n coins are heads",
                     "heads_until_tails": "`heads_until_tails()`: the heads before the first tails",
                     "draws": "`draws()`: how many random numbers the call drew",
                     "drawn": "`drawn(k, lo, hi)`: the call's k-th random number (from 0) as "
                              "`random.int(lo, hi)` draws it, e.g. `drawn(0, 1, 6)` for a die"}[name]
            self.fail("E0111", f"`{name}` takes {want} argument{'s' if want != 1 else ''}", e.span, help=usage)
        if name == "drawn":
            return self.drawn_builtin(e, ctx, peek)
        if name == "heads_until_tails":
            return ir.Builtin(name=name, args=[], type=ir.IntT(lo=0, hi=MAX_COIN_RUN), span=e.span)
        if name == "draws":
            return ir.Builtin(name=name, args=[], type=ir.IntT(lo=0, hi=ir.INT32_MAX), span=e.span)
        arg = self.expr(e.args[0].value, ctx, peek)
        if not isinstance(arg.type, ir.IntT) or arg.type.lo < 0:
            self.fail("E0110", f"`{name}` counts coins from 0", e.args[0].span, f"this is `{arg.type}`",
                      help="give a non-negative integer")
        if name == "flip":
            return ir.Builtin(name=name, args=[arg], type=ir.BOOL, span=e.span)
        if arg.type.hi > MAX_COIN_RUN:
            self.fail("E0120", f"`heads(n)` counts at most {MAX_COIN_RUN} coins", e.args[0].span,
                      f"has range {arg.type.lo}..{arg.type.hi}")
        return ir.Builtin(name=name, args=[arg], type=ir.IntT(lo=0, hi=arg.type.hi), span=e.span)

    def drawn_builtin(self, e: ast.Call, ctx: Ctx, peek: bool) -> ir.Expr:
        """`drawn(k, lo, hi)` in an `ensures` clause: the value `random.int(lo, hi)` gives on
        the call's k-th draw (`compiler/rng.py`'s `randint` on the RNG word of the state
        before the call plus k), whatever the fill does with that word. Its range is
        `lo`'s lowest to `hi`'s highest. Decision: dice texts ("Roll a die ...") had no exact
        contract (hunt H: five wrong fills of a die text passed on a range alone);
        `random.pick` among n values in order draws the same (`randint(0, n - 1)`), so both
        right fills pass."""
        k, lo, hi = (self.expr(a.value, ctx, peek) for a in e.args)
        for arg, what in ((k, "counts draws from 0"), (lo, "takes an integer bound"), (hi, "takes an integer bound")):
            if not isinstance(arg.type, ir.IntT) or (arg is k and arg.type.lo < 0):
                self.fail("E0110", f"`drawn` {what}", arg.span, f"this is `{arg.type}`",
                          help="`drawn(k, lo, hi)`: k a non-negative integer, lo and hi integers")
        assert isinstance(lo.type, ir.IntT) and isinstance(hi.type, ir.IntT)
        if lo.type.lo > hi.type.hi:
            self.fail("E0122", "`drawn(k, lo, hi)` has an empty range", e.span,
                      f"`lo` is at least {lo.type.lo}, `hi` at most {hi.type.hi}", help="write the bounds low, high")
        return ir.Builtin(name="drawn", args=[k, lo, hi], type=ir.IntT(lo=lo.type.lo, hi=hi.type.hi), span=e.span)

    def record_lit(self, name: str, e: ast.Call, ctx: Ctx) -> ir.Expr:
        rec = self.record_defs[name]
        given = {}
        seen: dict[str, Span] = {}
        for a in e.args:
            if a.name is None:
                self.fail("E0111", f"fields of `{name}` are named: `{name}(field: value, ...)`", a.span)
            at = self.name_span(a.span, a.name)
            if a.name in seen:
                # E0101 as for a record declaring a field twice: a second value would silently win
                self.fail("E0101", f"duplicate field `{a.name}` in a `{name}` value", at, "given again",
                          notes=[f"first given at {_at(seen[a.name])}"], help=f"give `{a.name}` once")
            seen[a.name] = at
            fd = next((f for f in rec.fields if f.name == a.name), None)
            if fd is None:
                self.fail("E0103", f"record `{name}` has no field `{a.name}`", a.span, "unknown field",
                          help=did_you_mean(a.name, [f.name for f in rec.fields]) or _fields_help(rec))
            v = self.expr(a.value, ctx)
            if not self.require_fits(v, fd.type, a.value.span, f"field `{name}.{fd.name}: {fd.type}`"):
                raise _Poison()
            given[a.name] = v
        fields = []
        for f in rec.fields:
            fields.append((f.name, given.get(f.name) or ir.Const(type=f.type, value=f.default, span=e.span)))
        return ir.RecordLit(record=name, fields=fields, type=ir.RecordT(name=name), span=e.span)

    def random_call(self, e: ast.Call, func: ast.Field, ctx: Ctx) -> ir.Expr:
        if ctx.pure:
            self.fail("E0131", f"{_ctx_name(ctx)} cannot draw random numbers", e.span, "draws from the RNG",
                      help=_random_help(ctx))
        if func.name == "int":
            return self.random_int(e, ctx)
        if func.name == "bernoulli":
            return self.bernoulli(e, ctx)
        if func.name == "pick":
            self.fail("E0190", "`random.pick(...)` is the whole value of a `let` or an assignment", e.span,
                      "inside an expression", help="write `let x = random.pick(...) else ...` first, then use `x`")
        if func.name == "coin":
            if e.args:
                self.fail("E0111", "`random.coin()` takes no arguments", e.span)
            zero = ir.Const(type=ir.IntT(lo=0, hi=0), value=0, span=e.span)
            one = ir.Const(type=ir.IntT(lo=1, hi=1), value=1, span=e.span)
            draw = ir.RandomInt(lo=zero, hi=one, type=ir.IntT(lo=0, hi=1), span=e.span)
            return ir.Binary(op="eq", left=draw, right=one, type=ir.BOOL, span=e.span)
        self.fail("E0103", f"unknown function `random.{func.name}`", func.name_span,
                  help="use `random.int(lo, hi)`, `random.coin()`, `random.bernoulli(num, den)` or "
                  "`random.pick(i in lo..hi where cond)`; shuffle a list with `xs.shuffle()`")

    def random_int(self, e: ast.Call, ctx: Ctx) -> ir.RandomInt:
        """`random.int(lo, hi)`, both inclusive: integer bounds with lo <= hi whatever their values."""
        if len(e.args) != 2:
            self.fail("E0111", "`random.int` takes 2 arguments: `random.int(lo, hi)` (both inclusive)", e.span)
        lo = self.expr(e.args[0].value, ctx)
        hi = self.expr(e.args[1].value, ctx)
        for x, a in ((lo, e.args[0]), (hi, e.args[1])):
            if not isinstance(x.type, ir.IntT):
                self.fail("E0110", "the bounds of `random.int` must be integers", a.span, f"this is `{x.type}`")
        lo_t, hi_t = ir.int_of(lo.type), ir.int_of(hi.type)  # both checked above
        if hi_t.hi < lo_t.lo:
            self.fail("E0122", "`random.int` range is always empty", e.span)
        if lo_t.hi > hi_t.lo and not irutil.always_le(lo, hi):
            self.fail("E0122", "`random.int(lo, hi)` may be called with lo > hi", e.span,
                      f"lo is in {lo_t.lo}..{lo_t.hi}, hi in {hi_t.lo}..{hi_t.hi}",
                      help="make sure lo <= hi always holds")
        return ir.RandomInt(lo=lo, hi=hi, type=ir.IntT(lo=lo_t.lo, hi=hi_t.hi), span=e.span)

    def reduce(self, name: str, g: ast.Generator, ctx: Ctx, span: Span, peek: bool) -> ir.Expr:
        lo, hi = self.loop_bounds(g.lo, g.hi, g.inclusive, g.span, ctx, g.var)
        n = hi - lo
        ctx.scopes.append({g.var: ir.IntT(lo=lo, hi=hi - 1)})
        try:
            body = self.expr(g.body, ctx, peek)
        finally:
            ctx.scopes.pop()
        self.no_draws(body, f"the body of `{name}(...)`", n)
        bt = body.type
        t: ir.Type
        if name in ("count", "any", "all"):
            self.require_type(body, ir.BOOL, g.body.span, f"the body of `{name}`")
            t = ir.IntT(lo=0, hi=n) if name == "count" else ir.BOOL
        elif name == "sum":
            if isinstance(bt, ir.IntT):
                t = self.int32(ir.IntT(lo=min(bt.lo * n, bt.lo), hi=max(bt.hi * n, bt.hi)), span)
            elif isinstance(bt, ir.FloatT):
                t = ir.FLOAT
            else:
                self.fail("E0110", "`sum` needs numbers", g.body.span, f"this is `{bt}`",
                          help="`count(...)` counts where a condition holds" if bt == ir.BOOL else None)
        else:
            if not isinstance(bt, (ir.IntT, ir.FloatT)):
                self.fail("E0110", f"`{name}` needs numbers", g.body.span, f"this is `{bt}`")
            t = bt
        return ir.Reduce(op=cast(Any, name), var=g.var, lo=lo, hi=hi, body=body, type=t, span=span)  # a reduction's name

    def builtin(self, name: str, e: ast.Call, ctx: Ctx, peek: bool) -> ir.Expr:
        args = self.builtin_args(name, e, ctx, peek)
        ts = [a.type for a in args]
        if name == "len":
            if not isinstance(ts[0], ir.ListT):
                self.fail("E0110", "`len` needs a list", e.args[0].span, f"this is `{ts[0]}`",
                          help="arrays have a fixed size: use the constant")
            n = ir.Builtin(name=name, args=args, type=ir.IntT(lo=0, hi=ts[0].cap), span=e.span)
            key, sid = self._subject(n, ctx)
            return n if key is None else n.model_copy(update={"type": self.narrowed(ctx, key, n.type, sid)})
        if name == "int":
            return self.int_conversion(args, e, ctx)
        if name == "float":
            if not isinstance(ts[0], ir.IntT):
                self.fail("E0110", "`float` converts an integer", e.args[0].span, f"this is `{ts[0]}`")
            return ir.Builtin(name=name, args=args, type=ir.FLOAT, span=e.span)
        if name in builtins.FLOAT_MATH:
            args = [self._floatify(a) for a in args]
            if args[0].type != ir.FLOAT:
                self.fail("E0110", f"`{name}` needs a float32", e.args[0].span, f"this is `{args[0].type}`",
                          help=_convert_help(args[0].type, ir.FLOAT, self.source_text(e.args[0].span)))
            return ir.Builtin(name=name, args=args, type=ir.FLOAT, span=e.span)
        return self.numeric_builtin(name, args, e)

    def builtin_args(self, name: str, e: ast.Call, ctx: Ctx, peek: bool) -> list[ir.Expr]:
        """The arguments of built-in `name`: positional, no generator, as many as its arity
        (`None`: at least 2); `len` may read hidden state (its argument's length only)."""
        if any(a.name is not None for a in e.args):
            self.fail("E0111", f"`{name}` takes positional arguments", e.span)
        if any(isinstance(a.value, ast.Generator) for a in e.args):
            self.fail("E0111", f"`{name}` does not take a generator", e.span)
        args = [self.expr(a.value, ctx, peek or name == "len") for a in e.args]
        arity = builtins.BUILTINS[name].arity
        if (arity is None and len(args) < 2) or (arity is not None and len(args) != arity):
            want = "at least 2" if arity is None else str(arity)
            self.fail("E0111", f"`{name}` takes {want} argument{'s' if want != '1' else ''}, {len(args)} given", e.span,
                      help=_reduce_help(name, args, self.source_text(e.args[0].span) if e.args else ""))
        return args

    def int_conversion(self, args: list[ir.Expr], e: ast.Call, ctx: Ctx) -> ir.Builtin:
        """`int(x)` of a bool (0..1), an enum (its index, narrowed inside a `match` arm on it,
        `arm_facts`) or a row (its number); a float never converts."""
        t0 = args[0].type
        if t0 == ir.BOOL:
            return ir.Builtin(name="int", args=args, type=ir.IntT(lo=0, hi=1), span=e.span)
        if isinstance(t0, ir.EnumT):
            key, sid = self._subject(args[0], ctx)
            whole = ir.IntT(lo=0, hi=t0.size - 1)
            t = whole if key is None else self.narrowed(ctx, key, whole, sid)
            return ir.Builtin(name="int", args=args, type=t, span=e.span)
        if isinstance(t0, ir.RowT):
            return ir.Builtin(name="int", args=args, type=ir.IntT(lo=0, hi=t0.rows - 1), span=e.span)
        self.fail("E0110", "`int` converts a bool, an enum or a row", e.args[0].span, f"this is `{t0}`",
                  help="a float32 has no static integer range, so it never becomes an int: compare it "
                       "instead, e.g. `if x >= 2.0 then 2 else ...`" if t0 == ir.FLOAT else None)

    def numeric_builtin(self, name: str, args: list[ir.Expr], e: ast.Call) -> ir.Builtin:
        """`min`, `max`, `abs`, `clamp`: on integers, the range `ranges.builtin` gives (clamp's
        bounds ordered, abs within 32 bits); else on floats (int constants become floats)."""
        ts = [a.type for a in args]
        if all(isinstance(t, ir.IntT) for t in ts):
            ints = [ir.int_of(t) for t in ts]
            if name == "clamp" and ints[1].hi > ints[2].lo:
                self.fail("E0122", "`clamp(x, lo, hi)` may have lo > hi", e.span)
            t = ranges.builtin(name, ints)
            if name == "abs":
                t = self.int32(t, e.span)
            return ir.Builtin(name=name, args=args, type=t, span=e.span)
        args = [self._floatify(a) for a in args]
        if all(a.type == ir.FLOAT for a in args):
            return ir.Builtin(name=name, args=args, type=ir.FLOAT, span=e.span)
        self.fail("E0110", f"`{name}` needs numbers of one kind", e.span,
                  f"arguments are {', '.join(f'`{t}`' for t in ts)}", help="convert integers with `float(...)`")

    def _floatify(self, a: ir.Expr) -> ir.Expr:
        if isinstance(a, ir.Const) and isinstance(a.type, ir.IntT):
            return ir.Const(type=ir.FLOAT, value=float(a.value), span=a.span)
        return a


_BINOPS: dict[str, ir.BinaryOp] = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod", "==": "eq", "!=": "ne", "<": "lt",
                                   "<=": "le", ">": "gt", ">=": "ge", "and": "and", "or": "or"}
_OP_TEXT = {v: k for k, v in _BINOPS.items()}


def _int_range(op: str, a: ir.IntT, b: ir.IntT, checker: CheckerPart, b_span: Span) -> ir.IntT:
    if op in ("div", "mod") and ranges.divisor_may_be_zero(b):
        text = checker.source_text(b_span)
        example = f", e.g. `max({text}, 1)`" if b.lo >= 0 < b.hi and text and "\n" not in text and len(text) <= 60 else ""
        checker.fail("E0123", "possible division by zero", b_span, f"has range {b.lo}..{b.hi}",
                     help=f"make the divisor's range exclude 0{example}")
    return ranges.binary(op, a, b)


def _compare_help(op: str, ta: ir.Type, tb: ir.Type, left: str, right: str) -> str | None:
    """How to compare two arrays or two records, which `==` does not: cell by cell (written with
    the operands' own text when both are plain places such as `g` or `s[0]`), field by field."""
    if op not in ("eq", "ne") or ta != tb:
        return None
    word = "all" if op == "eq" else "any"
    cmp = "==" if op == "eq" else "!="
    if isinstance(ta, ir.ArrayT):
        a, b = (left, right) if _plain_place(left) and _plain_place(right) else ("a", "b")
        deeper = " (an array of arrays: one `all` per dimension)" if isinstance(ta.elem, ir.ArrayT) else ""
        return f"compare cell by cell: `{word}({a}[i] {cmp} {b}[i] for i in 0..{ta.size})`{deeper}"
    if isinstance(ta, ir.RecordT):
        return f"compare field by field: `{left}.f {cmp} {right}.f {'and' if op == 'eq' else 'or'} ...`"
    if isinstance(ta, ir.ListT):  # (a hunt: "incompatible operands" with no way forward)
        a, b = (left, right) if _plain_place(left) and _plain_place(right) else ("a", "b")
        same = f"len({a}) == len({b}) and all(i >= len({a}) or {a}[i] == {b}[i] for i in 0..{ta.cap})"
        return f"compare the lengths, then item by item: `{same}`" + ("" if op == "eq" else ", under `not`")
    return None


def _bool_test_help(op: str, a: ir.Expr, b: ir.Expr, left: str, right: str) -> str | None:
    """`flag == 0` (C's habit): test the bool itself, `not flag` (or `flag` for `== 1`,
    `!= 0`), which reads better than converting it with `int(flag)`; and the mirror, `n ==
    false`: test the integer against 0 (`n == 0`; a generic `n != 0` would invert it)."""
    if op not in ("eq", "ne"):
        return None
    for flag, other, text, other_text in ((a, b, left, right), (b, a, right, left)):
        if isinstance(flag.type, ir.BoolT) and isinstance(other, ir.Const) and other.value in (0, 1) \
                and isinstance(other.type, ir.IntT):
            holds = (other.value == 1) == (op == "eq")
            x = text if _plain_place(text) else f"({text})"
            return f"test the bool itself: `{x if holds else 'not ' + x}`"
        if isinstance(flag, ir.Const) and isinstance(flag.type, ir.BoolT) and isinstance(other.type, ir.IntT):
            # `n == false` (probe5): the integer is tested for 0, `n == 0`, not `n != 0`
            holds = bool(flag.value) == (op == "eq")
            return f"an integer is not a bool: test it against 0, `{other_text} {'!=' if holds else '=='} 0`"
    return None


def _operand_hint(op: str, a: ir.Expr, b: ir.Expr) -> str | None:
    """The help for arithmetic on operands that are not two integers or two floats."""
    if op == "add" and isinstance(a.type, ir.ListT):  # `xs += [3]` (hunt S)
        return "a list grows one item at a time: `xs.push(v)` for each item (there is no list `+`)"
    hint = _float_operand_hint(a.type, b.type)
    whole = _whole_float_literal(a, b)
    if whole is not None:  # probe of Hanabi: `clues + 1.0` for an int field
        return f"for integer arithmetic write `{whole}`, not `{whole}.0`; for float arithmetic {hint}"
    return hint


def _float_operand_hint(ta: ir.Type, tb: ir.Type) -> str | None:
    """The help of arithmetic between a float32 and another scalar: an integer converts with
    `float(...)`; a bool does not (`float(true)` is refused: the help said to use it, hunt L)."""
    if ir.FLOAT not in (ta, tb):
        return None
    other = tb if ta == ir.FLOAT else ta
    if isinstance(other, ir.IntT):
        return "convert the integer with `float(...)`"
    if isinstance(other, ir.BoolT):
        return "a bool is no number: `float(int(b))`, or `if b then 1.0 else 0.0`"
    return None


def _convert_help(have: ir.Type, want: ir.Type, text: str) -> str | None:
    """The conversion that turns a value of type `have` (source `text`, quoted when it is a
    plain place, else `...`) into one of `want`, cell by cell for arrays, where the language
    has one: `int(...)` of a bool, `float(...)` of an integer, a comparison of an integer."""
    while isinstance(have, ir.ArrayT) and isinstance(want, ir.ArrayT):
        have, want, text = have.elem, want.elem, ""
    x = text if _plain_place(text) else "..."
    if isinstance(have, ir.BoolT) and isinstance(want, ir.IntT):
        return f"convert the bool to 0 or 1 with `int({x})`"
    if isinstance(have, ir.IntT) and isinstance(want, ir.FloatT):
        return f"convert the integer with `float({x})`"
    if isinstance(have, ir.IntT) and isinstance(want, ir.BoolT):
        return f"an integer is not a condition: compare it, e.g. `{x} != 0`"
    if isinstance(have, ir.IntT) and isinstance(want, ir.RowT):
        return (f"an integer becomes a row of `{want.table}` where it is stored: bind it first, "
                f"`let r: {want.table} = {x}`, and use `r`")
    return None


def _reduce_help(name: str, args: list[ir.Expr], text: str) -> str | None:
    """`max(g)` of one array or list (`text`: its source): the language reduces a generator,
    `max(g[i] for i in 0..N)`."""
    if name not in ("min", "max") or len(args) != 1 or not isinstance(args[0].type, (ir.ArrayT, ir.ListT)):
        return None
    t = args[0].type
    xs = text if _plain_place(text) else "xs"
    n = t.size if isinstance(t, ir.ArrayT) else t.cap
    guard = "" if isinstance(t, ir.ArrayT) else f" (a list: only `i < len({xs})` is live)"
    return f"for the {'largest' if name == 'max' else 'smallest'} cell, `{name}({xs}[i] for i in 0..{n})`{guard}"


def _widen(t: ir.Type) -> ir.Type:
    """The type an argument compared against elements of `t` may have (ints compare across ranges)."""
    if isinstance(t, ir.IntT):
        return ir.IntT(lo=ir.INT32_MIN, hi=ir.INT32_MAX)
    return t


def _draws(e: ir.Node) -> int:
    """How many random draws or list takes evaluating `e` makes (comprehensions multiply)."""
    if isinstance(e, (ir.RandomInt, ir.ListTake)):
        return 1 + sum(_draws(c) for c in ir.children(e) if not isinstance(c, ir.Place))
    n = sum(_draws(c) for c in ir.children(e) if not isinstance(c, ir.Place))
    if isinstance(e, (ir.Reduce, ir.ArrayBuild)):
        n *= max(e.hi - e.lo, 0)
    return n


def _whole_float_literal(a: ir.Expr, b: ir.Expr) -> int | None:
    """The value of the float literal with a whole value (`1.0`) beside an integer operand of
    `a op b`, or None: such a literal was most likely meant as the integer it names."""
    for lit, other in ((a, b), (b, a)):
        if not (isinstance(lit, ir.Const) and isinstance(lit.type, ir.FloatT) and isinstance(other.type, ir.IntT)):
            continue
        if float(lit.value).is_integer():
            return int(lit.value)
    return None
