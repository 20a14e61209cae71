"""The checker's statements, as a mixin of `envc.compiler.check.Checker`: blocks, `let`,
assignments, `if` (with the facts its conditions give the rest of the block), `for`, `match`,
`return`, effects and list operations, and places (what an assignment may write, with the
index checks E0121).

Public surface: `StatementChecks` (mixed into the checker). Split from `check.py` along the
seam between statements and expressions (issue #15); each calls the other through `self`
(`self.expr`, `self.block`), declared for the type checker in `CheckerPart`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal, cast

from envc.compiler import check_simultaneous as sim
from envc.compiler import ir, irutil
from envc.compiler.check_base import (
    EFFECTS,
    LIST_MUTATORS,
    MAX_LOOP,
    WRITABLE_BUILTINS,
    CheckerPart,
    Ctx,
    _always_returns,
    _clamp_fix,
    _compound_value,
    _ctx_name,
    _fields_help,
    _place_text,
    _plain_place,
    _Poison,
    _pure_help,
    _random_help,
)
from envc.compiler.check_lang import _ast_nodes, selection_kind
from envc.compiler.diagnostics import DiagnosticError, Span, did_you_mean
from envc.dsl import ast

if TYPE_CHECKING:
    from envc.compiler.check import Checker


class StatementChecks(CheckerPart):
    """Checks of statements and places (see the module docstring)."""

    def block(self, stmts: list[ast.Stmt], ctx: Ctx) -> list[ir.Stmt]:
        """Check a block's statements in order. After a guard clause (an `if` without `else`
        whose arms all `return` or end in `fail("why")`), the rest of the block is narrowed by its conditions being
        false (`if r < 0 or r >= H { return 1 }` then `GRID[r * W]`), as `if_stmt` found them."""
        ctx.scopes.append({})
        ctx.narrow.append({})  # this block's own frame: the aliases of its `let`s (`note_alias`)
        out = []
        guards = 0
        refused: set[str] = set()  # `let`s of this block refused for a state field's name (E0101)
        for s in stmts:
            if refused and _names(s) & refused:
                # (the `let` meant a local: checking `best = k` against the field `best` reported a
                # type mismatch the writer never made, hunt S)
                continue
            if isinstance(s, (ast.For, ast.While)):
                self.kill_facts(ctx, s.body)  # what an iteration assigns, later iterations see
            ctx.exit_facts = None
            try:
                r = self.stmt(s, ctx)
            except _Poison:
                if isinstance(s, ast.Let) and s.name in self.state:
                    refused.add(s.name)
                continue
            finally:
                self.kill_facts(ctx, [s])
            out.extend(r if isinstance(r, list) else [r])
            if isinstance(r, ir.Let) and isinstance(s, ast.Let) and s.type is None:  # after `kill_facts`
                self.note_alias(r, ctx)
            if ctx.exit_facts:
                self.push_facts(ctx, ctx.exit_facts)
                guards += 1
        ctx.exit_facts = None
        for _ in range(guards):
            self.pop_facts(ctx)
        self.pop_facts(ctx)
        ctx.scopes.pop()
        return out

    def stmt(self, s: ast.Stmt, ctx: Ctx):
        if isinstance(s, (ast.Let, ast.Assign)) and (s.orelse is not None or selection_kind(s.value)):
            return self.selection_stmt(s, ctx)
        if isinstance(s, ast.While):
            return self.while_stmt(s, ctx)
        if isinstance(s, ast.Break):
            return self.break_stmt(s, ctx)
        if isinstance(s, ast.Let):
            return self.let_stmt(s, ctx)
        if isinstance(s, ast.Assign):
            return self.assign_stmt(s, ctx)
        if isinstance(s, ast.If):
            return self.if_stmt(s, ctx)
        if isinstance(s, ast.For):
            return self.for_stmt(s, ctx)
        if isinstance(s, ast.Match):
            return self.match(s, ctx)
        if isinstance(s, ast.Return):
            return self.return_stmt(s, ctx)
        assert isinstance(s, ast.ExprStmt)
        return self.expr_stmt(s, ctx)

    def selection_stmt(self, s: ast.Let | ast.Assign, ctx: Ctx) -> list[ir.Stmt]:
        """`let x = choose(...)/random.pick(...) else e` or the same assigned (`selection`);
        a `let` whose selection fails leaves its name broken (no cascade of errors)."""
        if isinstance(s, ast.Assign):
            return self.selection(s.target, None, s.value, s.orelse, s.op, ctx, s.span)
        try:
            return self.selection(s.name, s.type, s.value, s.orelse, "=", ctx, s.span)
        except _Poison:
            self.broken.add(s.name)
            raise

    def let_stmt(self, s: ast.Let, ctx: Ctx):
        """`let x[: T] = v`: a new local of the block; without a type, an int local takes the
        range of its first value (remembered in `ctx.inferred` for `untyped_let_overflow`)."""
        if s.name in ctx.scopes[-1]:
            self.fail("E0101", f"`{s.name}` is already defined in this block", s.span, help="choose another name")
        self.check_reserved(s.name, s.span)
        if not self.check_hides_field(s.name, self.name_span(s.span, s.name), not ctx.pure):
            raise _Poison()  # not declared: later lines read the state field, nothing more is reported
        init = self.let_initialised(s, ctx)
        if init is not None:
            return init
        try:
            value = self.expr(s.value, ctx)
        except _Poison:
            self.broken.add(s.name)  # reported already: later uses of the name are not reported again
            raise
        t = value.type
        ctx.inferred.pop(s.name, None)
        if s.type is not None:
            declared = self.resolve_type(s.type)
            if declared is None:
                raise _Poison()
            self.require_fits(value, declared, s.value.span, f"`{s.name}: {declared}`")
            t = declared
        elif isinstance(t, ir.IntT):
            ctx.inferred[s.name] = (s, len(ctx.loop_trips), ctx.scopes[-1])
        ctx.scopes[-1][s.name] = t
        return ir.Let(name=s.name, type=t, value=value, span=s.span)

    def assign_stmt(self, s: ast.Assign, ctx: Ctx) -> list[ir.Stmt]:
        """`place = v`, `+=`, `-=` (optionally `until boundary(...)` on a lasting field)."""
        place, current = self.place_and_read(s.target, ctx)
        drawn = next((n for n in ir.walk(place) if isinstance(n, (ir.RandomInt, ir.RandomPick, ir.ListTake))), None)
        if s.op != "=" and drawn is not None:  # (`x[i] += v` is `x[i] = x[i] + v`: the place twice)
            self.fail("E0131", f"the place of `{s.op}` cannot draw random numbers or take from a list", drawn.span,
                      "the place is read, then written: this would run twice",
                      help=f"draw first in a statement of its own (`let i = ...`), then `...[i] {s.op} ...`")
        value = self.expr(s.value, ctx)
        if s.op == "=" and any(isinstance(n, ir.ListTake) for n in ir.walk(value)) \
                and any(isinstance(step, ir.IndexStep) for step in place.path):
            # the value runs first, then the place is resolved (`interp`): its indices are read
            # after the take, which ended the facts about the list (`kill_facts_of`), and are
            # checked so (`a[len(ys) - 1] = ys.pop()` under `len(ys) > 0` wrote `a[-1]`)
            place, current = self.place_and_read(s.target, ctx)
        if s.op != "=":
            # `x -= 1` reads x as `x = x - 1` does: through `expr`, with the ranges conditions narrowed
            # (`place_and_read`'s read has the declared range, which refused `n -= 1` under `when n > 0`)
            current = self.expr(s.target, ctx)
            value = self.binary("add" if s.op == "+=" else "sub", current, value, s.span, s.span)
        if place.root == "local" and not place.path and place.name in ctx.inferred \
                and next(sc for sc in reversed(ctx.scopes) if place.name in sc) is ctx.inferred[place.name][2] \
                and isinstance(value.type, ir.IntT) and not self.fits(value.type, place.type):
            self.untyped_let_overflow(s, place, value, ctx)  # else a type mismatch, E0110 below
        if place.root == "state" and place.name == "current_player" and self.num_players == 1 \
                and not self.fits(value.type, place.type):
            # `current_player = 1 - current_player` in a spec without `players N` (hunt S: the help said
            # to widen a range the spec never declared)
            self.fail("E0120", "value may overflow `current_player`: this spec has 1 player", s.value.span,
                      f"has range {_range_text(value.type)}",
                      help="`players` defaults to 1: declare the number of players after `env`, e.g. `players 2`")
        if not self.require_fits(value, place.type, s.value.span if s.op == "=" else s.span,
                                 f"`{_place_text(s.target)}: {place.type}`"):
            raise _Poison()
        return [ir.Assign(place=place, value=value, span=s.span)] + self.lasting_after(place, s.until, ctx, s.span,
                                                                                       value)

    def for_stmt(self, s: ast.For, ctx: Ctx):
        """`for i in lo..hi { body }`: constant bounds, `i` in scope with its range."""
        lo, hi = self.loop_bounds(s.lo, s.hi, s.inclusive, s.span, ctx, s.var)
        self.check_reserved(s.var, s.span)
        self.check_hides_field(s.var, self.name_span(s.span, s.var), not ctx.pure, "loop variable")
        ctx.scopes.append({s.var: ir.IntT(lo=lo, hi=max(lo, hi - 1))})
        frame = self.loop_enter(ctx)
        ctx.loop_trips.append(max(hi - lo, 0))
        body = self.block(s.body, ctx)
        ctx.loop_trips.pop()
        ctx.scopes.pop()
        return self.loop_exit(ctx, frame, ir.For(var=s.var, lo=lo, hi=hi, body=body, span=s.span), s.span)

    def return_stmt(self, s: ast.Return, ctx: Ctx) -> ir.Return:
        """`return v` where a result is expected (`ctx.ret`), `v` fitting it."""
        if ctx.ret is None:
            self.fail("E0110", f"`return` is not allowed in {_ctx_name(ctx)}", s.span,
                      help="only `fn`s, `observe` and holes with a result return a value")
        value = self.expr(s.value, ctx)
        if not self.require_fits(value, ctx.ret, s.value.span, f"the result `{ctx.ret}`"):
            raise _Poison()
        return ir.Return(value=value, span=s.span)

    def if_stmt(self, s: ast.If, ctx: Ctx) -> list[ir.Stmt]:
        """`if`/`elif`/`else`: each branch narrowed by its condition and the earlier ones being
        false; a branch whose condition folds to `false` (or follows one that folds to `true`)
        is checked without range errors and dropped."""
        conds: list[ir.Expr | None] = []
        before: dict = {}  # what the earlier conditions being false say
        arms: list[tuple[ir.Expr | None, list[ir.Stmt]]] = []
        dead = False
        saved = self.save_facts(ctx)
        for cond, body in s.branches:
            c = self._if_condition(cond, before, saved, ctx)
            conds.append(c)
            truth = self.constant_truth(c) if c is not None else None
            then = self._if_arm(body, c, before, dead or truth is False, saved, ctx)
            if then is not None:
                arms.append((None if truth is True else c, then))
                dead = dead or truth is True
            if c is not None:
                _and_facts(before, self.facts(c, False, ctx))
        result: list[ir.Stmt] = []
        if s.orelse is not None:
            result = self._if_arm(s.orelse, None, before, dead, saved, ctx) or []
        if any(c is None for c in conds):
            return []
        if s.orelse is None and all(_always_returns(body, faults=True) for _, body in s.branches):
            ctx.exit_facts = before  # a guard clause: the rest of the block runs where every condition failed
        return _if_chain(arms, result, s.span)

    def _if_condition(self, cond: ast.Expr, before: dict, saved, ctx: Ctx) -> ir.Expr | None:
        """An `if`'s or `elif`'s condition, from the facts `saved` before the statement, checked
        under `before` (the earlier conditions false), as the interpreter evaluates it only there.

        Decision (probe8, Snake: `if to == -1 { terminate() } elif life[to] > 1 { ... }` was
        E0121, every condition being checked before any fact): an `elif` reads what its `else`
        would, as the right side of `or` would (`a or b`: b under `not a`)."""
        self.start_arm(ctx, saved)
        self.push_facts(ctx, before)
        try:
            c = self.expr_safe(cond, ctx)
        finally:
            self.pop_facts(ctx)
        if c is not None:
            self.require_type(c, ir.BOOL, cond.span, "an `if` condition")
        return c

    def _if_arm(self, body: list[ast.Stmt], c: ir.Expr | None, before: dict, dead: bool, saved, ctx: Ctx):
        """One arm of an `if`, from the facts `saved` before it: checked under `before` (the
        earlier conditions false) and `c` (its own, None for `else`), or, when `dead`, checked
        without range errors and dropped (None)."""
        self.start_arm(ctx, saved)
        facts = dict(before)
        if c is not None:  # both hold: an `elif to == food` arm keeps `to != -1` of the `if` before it
            _and_facts(facts, self.facts(c, True, ctx))
        self.push_facts(ctx, facts)
        try:
            if dead:
                self.dead_block(body, ctx)
                return None
            return self.block(body, ctx)
        finally:
            self.pop_facts(ctx)

    def untyped_let_overflow(self, s: ast.Assign, place: ir.Place, value: ir.Expr, ctx: Ctx) -> None:
        """E0120 for an assignment to a local declared by `let x = <int>` without a type: its
        range is that of its first value, so `x = x + 1` cannot fit. The help declares the
        range the assignments can reach in the loops around them (each loop adding the
        assignment's step once per trip, a `while` its bound) and keeps the value in it: the
        clamp is the one the value needs once the local has the declared range (`r = r + DR[d]`
        with `DR[d]` in -1..1 needs both ends: `clamp(...)`, not `min(...)`, which the help
        said before, and which the checker then refused)."""
        let, depth, _ = ctx.inferred[place.name]
        init, new = ir.int_of(place.type), ir.int_of(value.type)  # an int local and value (the caller's test)
        trips = 1
        for n in ctx.loop_trips[depth:]:
            trips *= max(n, 1)
        lo = init.lo + min(0, new.lo - init.lo) * trips
        hi = init.hi + max(0, new.hi - init.hi) * trips
        lo, hi = max(lo, ir.INT32_MIN), min(hi, ir.INT32_MAX)
        rhs = self.source_text(s.value.span) if s.op == "=" else \
            _compound_value(place.name, "+" if s.op == "+=" else "-", self.source_text(s.value.span))
        notes = [f"`{place.name}` was declared by `let {place.name} = {self.source_text(let.value.span)}` "
                 f"without a type, so its range is that of its first value, {init.lo}..{init.hi}"]
        closed = self.let_closed_range(s, place, init, ir.IntT(lo=lo, hi=hi), ctx)
        if closed is not None:  # the value stays in a range: declaring it is enough, no clamp
            self.fail("E0120", f"value may overflow `{place.name}: {init}`", s.span, f"has range {new.lo}..{new.hi}",
                      notes=notes, help=f"declare the range it needs, `let {place.name}: int[{closed.lo}..{closed.hi}] "
                                        f"= {self.source_text(let.value.span)}`: `{rhs}` then stays in it")
        declared = ir.IntT(lo=new.lo + lo - init.lo, hi=new.hi + hi - init.hi)  # the value's range then
        keep = _clamp_fix(rhs, declared, ir.IntT(lo=lo, hi=hi))
        times = f" (the loops around it run {trips} times)" if trips > 1 else ""
        self.fail("E0120", f"value may overflow `{place.name}: {init}`", s.span, f"has range {new.lo}..{new.hi}",
                  notes=notes,
                  help=f"declare the range it needs, `let {place.name}: int[{lo}..{hi}] = "
                       f"{self.source_text(let.value.span)}`{times}, and keep it there: `{place.name} = {keep}`")

    def let_closed_range(self, s: ast.Assign, place: ir.Place, init: ir.IntT, reach: ir.IntT,
                         ctx: Ctx) -> ir.IntT | None:
        """The tightest range R the checker can show an untyped `let` local stays in: `init` in
        R and the assigned value, checked with the local of range R, in R (then every
        assignment keeps it there, however often it runs). None when there is none.

        Narrowing from `reach` (the range the loops' trips can reach, `untyped_let_overflow`):
        R = hull(init, value(R)) while the value checked under the new R stays in it, so
        `pos = (pos + 1) % 14` after `let pos = 0` gets 0..13, not 0..48 (48 trips), and needs
        no clamp. Sound (decision): each R kept is closed under the assignment, whatever the
        trips. Conditions narrowing the local are ignored while the value is re-checked (their
        ranges were computed for its first range); the value's own diagnostics are discarded.

        First, growing from `init` (R = hull(R, value(R)) until it stops changing, a few
        rounds at most): where that stops, R is closed and the least such range, which
        narrowing from `reach` cannot find when the value keeps the local's own bound (`m =
        min(m, a[i])` after `let m = 9`: -9..9, where narrowing stopped at the reach, -63..9,
        and the local then did not fit where it was stored; a fresh spec)."""
        grown = self._grown_range(s, place, init, ctx)
        if grown is not None:
            return grown
        r = reach
        if not self._closed_under(s, place, r, init, ctx):
            return None
        for _ in range(8):  # each round can only shrink r; a fixed point comes within a few
            value = self._value_with(s, place, r, ctx)
            if value is None:
                break
            smaller = ir.IntT(lo=min(init.lo, value.lo), hi=max(init.hi, value.hi))
            if smaller == r or not self._closed_under(s, place, smaller, init, ctx):
                break
            r = smaller
        return r

    def _grown_range(self, s: ast.Assign, place: ir.Place, init: ir.IntT, ctx: Ctx) -> ir.IntT | None:
        """The least range holding `init` and closed under assignment `s`, found by growing
        from `init` within 8 rounds; None when it does not stop growing by then (`x = x + 1`)."""
        r = init
        for _ in range(8):
            value = self._value_with(s, place, r, ctx)
            if value is None:
                return None
            grown = ir.IntT(lo=min(r.lo, value.lo), hi=max(r.hi, value.hi))
            if grown == r:
                return r
            r = grown
        return None

    def _closed_under(self, s: ast.Assign, place: ir.Place, r: ir.IntT, init: ir.IntT, ctx: Ctx) -> bool:
        """Whether `init` and the value of `s` (the local of range `r`) lie in `r`."""
        value = self._value_with(s, place, r, ctx)
        return value is not None and r.lo <= min(init.lo, value.lo) and max(init.hi, value.hi) <= r.hi

    def _value_with(self, s: ast.Assign, place: ir.Place, r: ir.IntT, ctx: Ctx) -> ir.IntT | None:
        """The range of the value `s` assigns when local `place.name` has range `r` (no facts
        about it), or None when that value is no int or does not check; nothing is reported."""
        scope = ctx.inferred[place.name][2]
        saved, diags, narrow = scope[place.name], len(self.diags), ctx.narrow
        key = ("local", place.name)
        ctx.narrow = [{k: v for k, v in frame.items() if k != key} for frame in narrow]
        scope[place.name] = r
        try:
            value = self.expr(s.value, ctx)
            if s.op != "=":
                value = self.binary("add" if s.op == "+=" else "sub", self.expr(s.target, ctx), value, s.span, s.span)
        except (_Poison, DiagnosticError):
            return None
        finally:
            scope[place.name], ctx.narrow = saved, narrow
            del self.diags[diags:]
        return value.type if isinstance(value.type, ir.IntT) else None

    def loop_bounds(self, lo_e: ast.Expr, hi_e: ast.Expr, inclusive: bool, span: Span, ctx: Ctx | None = None,
                    var: str = "i", where: str | None = None) -> tuple[int, int]:
        """(lo, hi exclusive) of a loop or generator range, constant (E0140 with the rewrite to a
        constant range otherwise). `where`: the range is a selector's (`choose`, `random.pick`),
        whose own condition (its source, "" for none) the rewrite extends, not a `for` loop."""
        bounds: list[int] = []
        # locals are visible (so that a bound naming one is reported as not constant, not as unknown)
        bctx = Ctx("loop bound", pure=True, scopes=list(ctx.scopes) if ctx is not None else [{}])
        for e in (lo_e, hi_e):
            ie = self.expr(e, bctx)
            if not isinstance(ie.type, ir.IntT):
                self.fail("E0110", "a loop bound must be an integer", e.span, f"this is `{ie.type}`")
            if ie.type.lo != ie.type.hi:
                text = self.source_text(e.span)
                op = "..=" if inclusive else ".."
                if e is hi_e:
                    cmp = "<=" if inclusive else "<"
                    rng, test = f"{var} in {bounds[0]}{op}{ie.type.hi}", f"{var} {cmp} {text}"
                else:  # (the upper end as written when it is constant, else its largest value, tested)
                    hi_i, hi_src = self.expr(hi_e, bctx), self.source_text(hi_e.span)
                    fixed = isinstance(hi_i.type, ir.IntT) and hi_i.type.lo == hi_i.type.hi
                    rng = f"{var} in {ie.type.lo}{op}{hi_src if fixed else getattr(hi_i.type, 'hi', 'N')}"
                    test = f"{var} >= {text}" + ("" if fixed else f" and {var} {'<=' if inclusive else '<'} {hi_src}")
                fix = f"for {rng} {{ if {test} {{ ... }} }}" if where is None else \
                    f"{rng} where {test}" + (f" and ({where})" if where else "")
                what, how = ("unbounded loop", "loop over a constant range and skip the rest") if where is None \
                    else ("a range that is not constant", "select from a constant range and narrow it")
                self.fail("E0140", f"{what}: `{text}` is not a constant", e.span,
                          f"ranges over {ie.type.lo}..{ie.type.hi}", help=f"{how}: `{fix}`")
            bounds.append(ie.type.lo)
        lo, hi = bounds[0], bounds[1] + (1 if inclusive else 0)
        if hi <= lo:
            self.fail("E0122", f"empty loop range {lo}..{hi}", lo_e.span.to(hi_e.span), "runs zero times")
        if hi - lo > MAX_LOOP:
            self.fail("E0140", f"loop of {hi - lo} iterations is too long", lo_e.span.to(hi_e.span),
                      help=f"loops run at most {MAX_LOOP} times")
        return lo, hi

    def match(self, s: ast.Match, ctx: Ctx) -> ir.Match:
        subject = self.expr(s.subject, ctx)
        if not isinstance(subject.type, ir.EnumT):
            self.fail("E0110", "`match` needs an enum value", s.subject.span, f"this is `{subject.type}`",
                      help="use `if`/`elif` for other values")
        enum = self.enums[subject.type.name]
        covered: set[int] = set()
        wildcard = False
        arms = []
        saved = self.save_facts(ctx)
        named = {enum.members.index(n) for arm in s.arms for n, _ in arm.patterns if n in enum.members}
        for arm in s.arms:
            self.start_arm(ctx, saved)
            self.push_facts(ctx, self.arm_facts(subject, arm, enum, named, ctx))
            members = []
            for name, span in arm.patterns:
                if name is None:
                    wildcard = True
                    continue
                if name not in enum.members:
                    self.err("E0102", f"`{name}` is not a member of `{enum.name}`", span, "unknown member",
                             help=did_you_mean(name, enum.members) or f"members: {', '.join(enum.members)}")
                    continue
                idx = enum.members.index(name)
                if wildcard:  # every backend takes the first arm that matches: this one never runs (a hunt)
                    self.err("E0101", f"`{name}` comes after `_`, which matches it first", span, "never reached",
                             help="put the `_` arm last")
                if idx in covered:
                    self.err("E0101", f"`{name}` is matched twice", span, "already covered above")
                covered.add(idx)
                members.append(idx)
            body = self.block(arm.body, ctx)
            self.pop_facts(ctx)
            arms.append(ir.MatchArm(members=members, body=body, span=arm.span))
        missing = [m for i, m in enumerate(enum.members) if i not in covered]
        if missing and not wildcard:
            listed = ", ".join(f"`{m}`" for m in missing)
            self.err("E0141", f"`match` does not cover {listed}", s.span.to(s.subject.span),
                     f"{listed} not covered",
                     help=f"add {'an arm' if len(missing) == 1 else 'arms'} like `{missing[0]} => {{ ... }}`, "
                          "or `_ => { }` for the rest")
        return ir.Match(subject=subject, arms=arms, span=s.span)

    def arm_facts(self, subject: ir.Expr, arm: ast.MatchArm, enum, named: set[int], ctx: Ctx) -> dict:
        """What an arm of `match subject` knows: the subject (a local or a scalar state field) is
        one of the arm's members, or for `_` one of the members no arm lists, so `int(subject)`
        in the arm has the range of their indices (`Color.red => ...` then `_ => n[int(c)]`
        needs no bounds check of its own). Decision: a fact about the enum's index, kept like
        the facts of comparisons (an assignment to the subject, or a procedure call for a
        state field, ends it)."""
        key, sid = self._subject(subject, ctx)
        if key is None:
            return {}
        indices = {enum.members.index(n) for n, _ in arm.patterns if n in enum.members}
        if any(n is None for n, _ in arm.patterns):
            indices |= set(range(len(enum.members))) - named
        if not indices:
            return {}
        return {key: (min(indices), max(indices), sid)}

    def bound_after_read(self, e: ast.Binary) -> None:
        """E0121 for `xs[i] ... and i < len(xs)` and `xs[i] ... or i >= len(xs)`: `and` and
        `or` evaluate their left side first, so the list is read at `i` before the right side
        checks `i` against its length (for `or`, the right side runs only where the left one
        is false: a bound check there guards nothing on the left), and a read past a list's
        end is a runtime fault (probe3's Uno faulted at `init` on every seed). Syntactic
        (decision): the same index and list, compared as written with spans ignored, in
        `i < len(xs)` or `len(xs) > i` (for `or`: `i >= len(xs)` or `len(xs) <= i`) on the
        right and `xs[i]` on the left."""
        for index, base in _guarding(e.op, e.right):
            bound = (_ast_shape(index), _ast_shape(base))
            read = next((n for n in _unguarded(e.left, bound) if isinstance(n, ast.Index)
                         and (_ast_shape(n.index), _ast_shape(n.base)) == bound), None)
            if read is None:
                continue
            i, xs = self.source_text(index.span), self.source_text(base.span)
            check = f"{i} < len({xs})" if e.op == "and" else f"{i} >= len({xs})"
            order = ("`and` evaluates its left side first" if e.op == "and" else
                     "`or` evaluates its left side first (its right side only where the left one is false)")
            self.err("E0121", f"`{xs}` is read at `{i}` before `{check}` is checked", read.span,
                     "read before its bound check",
                     notes=[f"{order}, and a read past the end of a list is a runtime fault"],
                     help=f"check first: `{check} {e.op} ...`, then the read")
            return

    def expr_stmt(self, s: ast.ExprStmt, ctx: Ctx):
        e = s.expr
        if isinstance(e, ast.Name) and e.name == "continue" and ctx.lookup("continue") is None:
            self.fail("E0004", "the language has no `continue`", e.span, "not part of envspec",
                      help="put the rest of the loop body in an `if`, or `break` out of the loop")
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.name in self.boundaries:
            return self.reach(e, ctx, s.span)
        if not isinstance(e, ast.Call):
            self.fail("E0110", "this expression does nothing", s.span, "its value is unused",
                      help="assign it (`x = ...`) or call a `proc`")
        func = e.func
        named = self._named_call_stmt(func.name, e, ctx, s.span) if isinstance(func, ast.Name) else None
        if named is not None:
            return named
        random_ns = isinstance(func, ast.Field) and isinstance(func.base, ast.Name) and func.base.name == "random" \
            and ctx.lookup("random") is None
        if isinstance(func, ast.Field) and func.name in LIST_MUTATORS and not random_ns:
            # `random.shuffle(xs)` is no list method of a list `random`: `random_call` below says what is
            return self.list_op(e, func, ctx, s.span)
        if isinstance(func, ast.Index) and isinstance(func.base, ast.Name) and func.base.name in self.families:
            return self.family_call(e, ctx, s.span)
        value = self.expr(e, ctx)
        if isinstance(value, ir.RandomInt):
            return ir.ExprStmt(expr=value, span=s.span)
        self.fail("E0110", "this expression does nothing", s.span, "its value is unused",
                  help="assign it (`x = ...`) or call a `proc`")

    def _named_call_stmt(self, name: str, e: ast.Call, ctx: Ctx, span: Span):
        """A statement call of a bare name: an effect (`win`, `reward`, ...), `act` in a
        simultaneous spec, or a `proc` (a hole's proc must be filled; a generic one is
        instantiated); None for any other name."""
        if name in EFFECTS:
            return self.effect(name, e, ctx)
        if name == "act" and self.sim_decl is not None:
            return sim.act_call(cast("Checker", self), e, ctx, span)
        if name not in self.fn_sigs or self.fn_sigs[name][1] is not None:
            return None
        params, _, _ = self.fn_sigs[name]
        if ctx.pure:
            self.fail("E0130", f"{_ctx_name(ctx)} cannot call `proc` `{name}`, which changes the state",
                      e.func.span, "changes the state", help=_pure_help(ctx))
        decl = self.fn_decls[name]
        if isinstance(decl, ast.HoleDecl):
            self.require_hole_filled(decl, e.span)
        if name in self.generic:
            name, params = self.instantiate(name, e, ctx)
        args = self.call_args(e, params, name, ctx)
        self.note_call(name, e.span)
        return ir.CallProc(proc=name, args=args, span=span)

    def effect(self, name: str, e: ast.Call, ctx: Ctx):
        if ctx.pure and name == "fail":
            self.fail("E0130", f"{_ctx_name(ctx)} cannot call `fail()`: a fault ends the step, which only an "
                      "action, `init` or a `proc` may do", e.func.span, "ends the step",
                      help="return a value that says so (a `-1` or a flag) and `fail` in the action that reads it, "
                      "or make it a `proc`")
        if ctx.pure:
            self.fail("E0130", f"{_ctx_name(ctx)} cannot call `{name}()`, which changes the state", e.func.span,
                      "changes the state", help=_pure_help(ctx))
        player = ir.IntT(lo=0, hi=self.num_players - 1)
        if name == "win" and len(e.args) == 2:
            return self.win_stake(e, ctx)
        if name == "fail":
            if len(e.args) != 1 or not isinstance(e.args[0].value, ast.StringLit):
                self.fail("E0111", "`fail` takes one string: the reason", e.span, help='write `fail("hand overflow")`')
            return ir.Fault(message=e.args[0].value.value, span=e.span)
        sigs: dict[str, list[tuple[str, ir.Type]]] = {
            "win": [("player", player)], "draw": [], "terminate": [],
            "reward": [("player", player), ("reward", ir.FLOAT)]}
        params = [ir.ParamDef(name=n, type=t) for n, t in sigs[name]]
        args = self.call_args(e, params, name, ctx)
        return ir.Effect(name=cast(Any, name), args=args, span=e.span)  # one of `sigs`' keys

    def list_op(self, e: ast.Call, func: ast.Field, ctx: Ctx, span: Span):
        place = self.place(func.base, ctx, mutating=f"`{func.name}()`")
        if not isinstance(place.type, ir.ListT):
            self.fail("E0103", f"`{func.name}` is a list method, and this is `{place.type}`", func.name_span)
        lt = place.type
        idx = ir.IntT(lo=0, hi=lt.cap - 1)
        sigs: dict[str, list[tuple[str, ir.Type]]] = {
            "push": [("item", lt.elem)], "insert": [("at", ir.IntT(lo=0, hi=lt.cap - 1)), ("item", lt.elem)],
            "remove_at": [("at", idx)], "clear": [], "shuffle": [], "draw": [], "pop": [],
        }
        if func.name == "shuffle" and ctx.pure:
            self.fail("E0131", f"{_ctx_name(ctx)} cannot shuffle: it draws random numbers", func.span,
                      help=_random_help(ctx))
        params = [ir.ParamDef(name=n, type=t) for n, t in sigs[func.name]]
        args = self.call_args(e, params, func.name, ctx)
        taken = next((t for t in ir.walk_all(args) if isinstance(t, ir.ListTake) and _holds_element_of(place, t.place)),
                     None)
        if taken is not None:
            # Decision (hunt W, F1): the interpreter finds the list the method acts on before it
            # evaluates the arguments; a take from a list that place goes through would leave
            # the method acting on an element no longer in the list (the array backends, which
            # hold a list as items and a length, act on the element now at that index instead)
            self.fail("E0131", f"this argument of `{func.name}` takes from a list that the list it acts on is an "
                      "element of", taken.span, "removes an element the method's place goes through",
                      help="take first in a statement of its own (`let c = ...`), then call the method with `c`")
        op = {"draw": "discard_front", "pop": "discard_back"}.get(func.name, func.name)
        return ir.ListOp(op=cast(Any, op), place=place, args=args, span=span)  # a key of `sigs`, renamed

    # ------------------------------------------------------------ places
    def place(self, e: ast.Expr, ctx: Ctx, mutating: str = "assignment") -> ir.Place:
        return self.place_and_read(e, ctx, mutating)[0]

    def place_and_read(self, e: ast.Expr, ctx: Ctx, mutating: str = "assignment") -> tuple[ir.Place, ir.Expr]:
        """An assignable place, and an expression reading its current value (for `+=`)."""
        steps: list = []
        node = e
        chain = []
        while isinstance(node, (ast.Field, ast.Index)):
            chain.append(node)
            node = node.base
        if not isinstance(node, ast.Name):
            self.fail("E0112", "cannot assign to this expression", e.span, "not a variable or state field",
                      help="assign to a `let` variable, a parameter or a state field")
        name = node.name
        root, read = self._place_root(node, e, ctx, mutating)
        t = read.type
        for link in reversed(chain):
            if isinstance(link, ast.Field):
                t = self._record_member(t, link)
                steps.append(ir.FieldStep(name=link.name))
                read = ir.GetField(base=read, name=link.name, type=t, span=link.span)
            else:
                index = self.expr(link.index, ctx)
                is_list = isinstance(t, ir.ListT)
                t = self.check_index(t, index, link)
                steps.append(ir.IndexStep(index=index, is_list=is_list))
                read = ir.GetIndex(base=read, index=index, type=t, span=link.span)
        return ir.Place(root=root, name=name, path=steps, type=t, span=e.span), read

    def _place_root(self, node: ast.Name, e: ast.Expr, ctx: Ctx,
                    mutating: str) -> tuple[Literal["state", "local"], ir.Expr]:
        """The root of assigned place `e`: a local, or a state field the context may change
        and envc does not manage; (root, its read). Errors for a constant or unknown name."""
        name = node.name
        local_t = ctx.lookup(name)
        if local_t is not None:
            return "local", ir.Local(name=name, type=local_t, span=node.span)
        if name not in self.state and name in self.consts:
            self.fail("E0112", f"cannot assign to constant `{name}`", node.span, "a constant",
                      help=f"declare `{name}` as a state field to change it")
        if name not in self.state:
            self.unknown_name(node, ctx)
        fd = self.state[name]
        if self.sim_decl is not None and name in sim.HIDDEN_BUILTINS:
            sim.reads_builtin(cast("Checker", self), name, node.span)
        if ctx.pure:
            self.fail("E0130", f"{_ctx_name(ctx)} cannot change the state", e.span,
                      f"{mutating} changes `{name}`", help=_pure_help(ctx))
        if fd.builtin and name not in WRITABLE_BUILTINS:
            self.fail("E0112", f"`{name}` is managed by envc and cannot be assigned", node.span, "read-only",
                      help="`step_count` counts the steps taken: keep your own counter in a state field"
                      if name == "step_count" else
                      "`truncated` is set when `turn_limit` is reached: end the episode with `terminate()`")
        return "state", ir.StateGet(name=name, type=fd.type, span=node.span)

    def _record_member(self, t: ir.Type, link: ast.Field) -> ir.Type:
        """The type of field `link.name` of record type `t` (E0103 when `t` is no record or
        has no such field; a field whose declaration failed is not reported again)."""
        if not isinstance(t, ir.RecordT):
            self.fail("E0103", f"`{t}` has no field `{link.name}`", link.name_span)
        rec = self.record_defs[t.name]
        member = next((f for f in rec.fields if f.name == link.name), None)
        if member is None and f"{t.name}.{link.name}" in self.broken:
            raise _Poison()  # the field's declaration was reported already
        if member is None:
            self.fail("E0103", f"record `{t.name}` has no field `{link.name}`", link.name_span, "unknown field",
                      help=did_you_mean(link.name, [f.name for f in rec.fields]) or _fields_help(rec))
        return member.type

    def check_index(self, t: ir.Type, index: ir.Expr, link: ast.Index) -> ir.Type:
        if isinstance(t, ir.ArrayT):
            size = t.size
        elif isinstance(t, ir.ListT):
            size = t.cap
        else:
            self.fail("E0110", f"`{t}` cannot be indexed", link.base.span, f"this is `{t}`")
        if isinstance(index.type, (ir.EnumT, ir.RowT)):
            limit = index.type.size if isinstance(index.type, ir.EnumT) else index.type.rows
            if limit > size:
                self.fail("E0121", f"index may be out of bounds: `{index.type}` has {limit} values, the array {size}",
                          link.index.span)
            return t.elem
        if not isinstance(index.type, ir.IntT):
            self.fail("E0110", "an index must be an integer", link.index.span, f"this is `{index.type}`")
        if index.type.lo < 0 or index.type.hi >= size:
            text = self.source_text(link.index.span)
            fix = f"keep the index in 0..{size - 1}, e.g. with `{_clamp_fix(text, index.type, ir.IntT(lo=0, hi=size - 1))}`"
            lo, hi = index.type.lo, index.type.hi
            if lo > 0 and hi - lo + 1 == size and len(text) <= 60 and re.fullmatch(r"[\w.\[\]]+", text):
                # a number counted from `lo` (a card 1..5 of 5 slots; a name or a read, not an
                # expression such as `cell + 1`): clamping it would merge two numbers in one slot
                fix += f"; or, if `{text}` counts from {lo}, index with `{text} - {lo}`"
            if hi < 0:  # `xs[-1]` as in Python: clamping a constant is no answer
                xs = self.source_text(link.base.span)
                xs = xs if _plain_place(xs) else "xs"
                last = f"`{xs}[max(len({xs}) - 1, 0)]`" if isinstance(t, ir.ListT) else f"`{xs}[{size - 1}]`"
                fix = f"indices count from 0, never from the end: the last element is {last}"
            if lo > size - 1 or hi < 0:  # every value is outside: not "may be", and no clamp helps
                self.fail("E0121", f"index out of bounds for `{t}`", link.index.span,
                          f"is {lo}" if lo == hi else f"has range {lo}..{hi}",
                          notes=[f"valid indices are 0..{size - 1}"],
                          help=fix if hi < 0 else f"indices count from 0: the last element is at {size - 1}")
            self.fail("E0121", f"index may be out of bounds for `{t}`", link.index.span,
                      f"has range {lo}..{hi}", notes=[f"valid indices are 0..{size - 1}"], help=fix)
        return t.elem


def _unguarded(x: Any, bound: tuple):
    """The syntax-tree nodes of `x` evaluated without `bound` (the shapes of an index and a list,
    `i < len(xs)`) holding: not the branches of an `if ... then ... else` (only its condition),
    not the right side of an `and` whose left side asserts the bound."""
    if isinstance(x, list):
        for item in x:
            yield from _unguarded(item, bound)
        return
    if not hasattr(x, "__dataclass_fields__") or isinstance(x, Span):
        return
    yield x
    if isinstance(x, ast.CondExpr):
        yield from _unguarded(x.cond, bound)
        return
    if isinstance(x, ast.Binary) and x.op in ("and", "or"):
        yield from _unguarded(x.left, bound)
        if bound not in [(_ast_shape(i), _ast_shape(xs)) for i, xs in _guarding(x.op, x.left)]:
            yield from _unguarded(x.right, bound)
        return
    for name in x.__dataclass_fields__:
        yield from _unguarded(getattr(x, name), bound)


def _conjuncts(e: ast.Expr) -> list[ast.Expr]:
    if isinstance(e, ast.Binary) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def _disjuncts(e: ast.Expr) -> list[ast.Expr]:
    if isinstance(e, ast.Binary) and e.op == "or":
        return _disjuncts(e.left) + _disjuncts(e.right)
    return [e]


def _ast_shape(x: Any) -> Any:
    """`x` (a syntax-tree node) without its spans: equal for two places written alike."""
    if isinstance(x, list):
        return tuple(_ast_shape(item) for item in x)
    if not hasattr(x, "__dataclass_fields__") or isinstance(x, Span):
        return x
    return (type(x).__name__,) + tuple(_ast_shape(getattr(x, n)) for n in x.__dataclass_fields__
                                       if not isinstance(getattr(x, n), Span))


def _length_bounds(e: ast.Expr) -> list[tuple[ast.Expr, ast.Expr]]:
    """(index, list) of each `index < len(list)` or `len(list) > index` that `e` asserts (`e` or
    one of its `and`ed parts)."""
    return _length_compares(_conjuncts(e), ("<", ">"))


def _length_overflows(e: ast.Expr) -> list[tuple[ast.Expr, ast.Expr]]:
    """(index, list) of each `index >= len(list)` or `len(list) <= index` among the `or`ed
    parts of `e`: where `e` is false, each such index is below its list's length."""
    return _length_compares(_disjuncts(e), (">=", "<="))


def _guarding(op: str, e: ast.Expr) -> list[tuple[ast.Expr, ast.Expr]]:
    """(index, list) of each bound check of `op`'s form in `e`, a side of an `and` or an `or`:
    `i < len(xs)` among `and`ed parts (an `and` goes on where it holds), `i >= len(xs)` among
    `or`ed parts (an `or` goes on where it fails)."""
    return _length_bounds(e) if op == "and" else _length_overflows(e)


def _length_compares(parts: list[ast.Expr], ops: tuple[str, str]) -> list[tuple[ast.Expr, ast.Expr]]:
    """(index, list) of each part `index OP len(list)` with OP `ops[0]`, or `len(list) OP index`
    with OP `ops[1]` (the same comparison written the other way round)."""
    out = []
    for n in parts:
        if not isinstance(n, ast.Binary) or n.op not in ops:
            continue
        index, bound = (n.left, n.right) if n.op == ops[0] else (n.right, n.left)
        if isinstance(bound, ast.Call) and isinstance(bound.func, ast.Name) and bound.func.name == "len" \
                and len(bound.args) == 1:
            out.append((index, bound.args[0].value))
    return out


def _and_facts(before: dict, facts: dict) -> None:
    """Adds `facts` (key -> (lo, hi, id)) to `before`: where both hold a fact of the same
    subject (same id), the intersection of the ranges; otherwise the new fact."""
    for k, v in facts.items():
        prev = before.get(k)
        before[k] = v if prev is None or prev[2] != v[2] else (max(v[0], prev[0]), min(v[1], prev[1]), v[2])


def _if_chain(arms: list[tuple[ir.Expr | None, list[ir.Stmt]]], result: list[ir.Stmt], span: Span) -> list[ir.Stmt]:
    """The live arms of an `if` (condition, block) around the `else` block `result`, as
    nested `ir.If`s; an arm whose condition folds to `true` (None) is the block that runs."""
    for c, then in reversed(arms):
        if c is None:
            result = then
            continue
        result = [ir.If(cond=c, then=then, orelse=result, span=span)]
    return result


def _range_text(t: ir.Type) -> str:
    """`0..1` for an integer type, else the type."""
    return f"{t.lo}..{t.hi}" if isinstance(t, ir.IntT) else f"`{t}`"


def _names(node: Any) -> set[str]:
    """The names (`ast.Name`) a syntax tree mentions, at any depth."""
    return {n.name for n in _ast_nodes(node) if isinstance(n, ast.Name)}


def _holds_element_of(place: ir.Place, taken: ir.Place) -> bool:
    """Whether `place` goes through an element of the list at `taken` (`ps[0].cs` through an
    element of `ps`): the same root, `taken`'s path a prefix of `place`'s, then an index."""
    n = len(taken.path)
    if (place.root, place.name) != (taken.root, taken.name) or len(place.path) <= n:
        return False
    if irutil.shape_key(place.path[:n]) != irutil.shape_key(taken.path):
        return False
    return isinstance(place.path[n], ir.IndexStep)
