"""The checker: syntax tree (`envc.dsl.ast`) to typed IR (`envc.compiler.ir`).

Public surface: `check(module_ast, fills=None) -> ir.Module` and
`load(path) -> ir.Module` (parse the spec and its fill file, then check).

The `Checker` class is made of mixins, one module each (see `envc.compiler.check_base`):
this module holds its order of work (declarations, bodies, actions, `observe`,
invariants), `check_stmts` the statements, `check_exprs` the expressions.

It resolves names, infers types and integer ranges, folds constants, converts the rows
of data tables (read before checking by `envc.compiler.tabledata`: the checker itself reads
no file), attaches hole fills, and collects *every* error before raising one
`DiagnosticError`. The guarantees it gives the backends:

* every integer expression has a range, and no assignment, argument, return or
  intermediate value (int32) can leave its declared range (E0120), no index can leave
  its array (E0121), no divisor can be zero (E0123);
* guards, `fn`s, `observe` and invariants read the state but never change it (E0130)
  nor draw random numbers (E0131); `observe` never reads `@hidden` fields, nor another
  player's slot of a `@private` field (E0170);
* loops have constant bounds (E0140), there is no recursion, `match` is exhaustive
  (E0141) and functions return on every path (E0142).
"""

from __future__ import annotations

import os
import re
from typing import Any, NoReturn

from envc.compiler import budget, ir, ranges, tabledata
from envc.compiler import check_simultaneous as sim
from envc.compiler.check_base import (
    BUILTIN_FIELDS,
    MAX_DEPTH,
    Ctx,
    _always_returns,
    _at,
    _clamp_fix,
    _elem,
    _Poison,
)
from envc.compiler.check_decls import DeclChecks
from envc.compiler.check_exprs import ExpressionChecks
from envc.compiler.check_holes import HoleChecks
from envc.compiler.check_lang import GUARD_NODE, LanguageChecks
from envc.compiler.check_stmts import StatementChecks
from envc.compiler.check_tables import TableChecks
from envc.compiler.diagnostics import Diagnostic, DiagnosticError, Sources, Span, did_you_mean
from envc.dsl import ast

#: the source of a selection (`choose(...)`, `random.pick(...)`, or its bare `k in lo..hi where ...`)
_SELECTION = re.compile(r"(choose|random\.pick)\s*\(|[A-Za-z_]\w*\s+in\s")

#: the type words of the grammar (`dsl/envspec.lark`'s `base_type`): no enum, record or table takes them
TYPE_WORDS = ("bool", "float32", "int", "list")


def _ranges_of(t: ir.Type) -> str:
    return f"{t.lo}..{t.hi}" if isinstance(t, ir.IntT) else str(t)


class Checker(DeclChecks, TableChecks, HoleChecks, LanguageChecks, StatementChecks, ExpressionChecks):
    def __init__(self, mod: ast.Module, fills: ast.Module | None = None, tolerate=None,
                 data: dict[str, tabledata.TableFile] | None = None):
        self.mod = mod
        self.fills = fills
        self.diags: list[Diagnostic] = []
        # `tolerate(diag) -> bool`: errors it accepts do not stop the IR from being built
        # (`envc fill` checks a candidate fill while other holes are still unfilled)
        self.tolerate = tolerate
        self.base_dir = os.path.dirname(os.path.abspath(mod.path)) if mod.path else "."
        # the tables' files (`envc.compiler.tabledata.read_tables` of `mod`), read here, before
        # checking, unless the caller read them: the checking itself reads no file
        self.data = data if data is not None else tabledata.read_tables(mod, self.base_dir)
        self.consts: dict[str, ir.Const] = {}
        self.enums: dict[str, ir.EnumDef] = {}
        self.records: dict[str, ast.RecordDecl] = {}
        self.record_defs: dict[str, ir.RecordDef] = {}
        self.tables: dict[str, ir.TableDef] = {}
        self.state: dict[str, ir.FieldDef] = {}
        self.fn_decls: dict[str, ast.FnDecl | ast.ProcDecl | ast.HoleDecl] = {}
        self.fn_sigs: dict[str, tuple[list[ir.ParamDef], ir.Type | None, bool]] = {}
        self.fn_hidden: set[str] = set()
        self.calls: dict[str, set[str]] = {}
        self.call_spans: dict[tuple[str, str], Span] = {}  # (caller, callee) -> the first call's span
        self.current_fn: str | None = None
        self.num_players = 1
        self.turn_limit: int | None = None
        self.global_names: dict[str, Span] = {}
        self._global_what: dict[str, str] = {}  # what each global name is ("state field", "boundary")
        # names whose declaration failed (already reported): later uses are not reported again
        self.broken: set[str] = set()
        # data as read from files (for `by` keys), `text` columns (for hole families), and
        # the rows of each table that another table names through a `by` column (the cards
        # of the decks): {table: {row: [(referring table, its row, column, line in a deck list or None)]}}
        self.raw_rows: dict[str, list[dict]] = {}
        self.text_columns: dict[tuple[str, str], tuple[list, ast.ColumnDecl]] = {}
        self.row_refs: dict[str, dict[int, list[tuple[str, int, str, int | None]]]] = {}
        self.families: dict[str, ir.FamilyDef] = {}
        self.family_decls: dict[str, ast.HoleDecl] = {}
        # a simultaneous spec (`envc.compiler.check_simultaneous`): its header, its `resolve`
        # block and its action kinds (name -> (index, parameters)) for `chose`/`chosen`
        self.sim_decl: ast.SimultaneousDecl | None = None
        self.resolve_decl: ast.ResolveDecl | None = None
        self.sim_kinds: dict[str, tuple[int, list[ir.ParamDef]]] = {}
        self._ext_init()
        self._family_ensures: dict[str, list[ir.Expr]] = {}

    # ------------------------------------------------------------ reporting
    def err(self, code: str, message: str, span: Span | None, label: str = "", help: str | None = None,
            notes: list[str] | None = None) -> None:
        self.diags.append(Diagnostic(code, message, span, label, help, notes or []))

    def fail(self, code: str, message: str, span: Span | None, label: str = "", help: str | None = None,
             notes: list[str] | None = None) -> NoReturn:
        """Report an error (as `err`) and abandon the construct being checked (`_Poison`)."""
        self.err(code, message, span, label, help, notes)
        raise _Poison()

    def name_span(self, span: Span, name: str) -> Span:
        """The span of the declared `name` inside a declaration's `span` (else `span`)."""
        src = next((m.source for m in (self.mod, self.fills) if m is not None and m.path == span.file), None)
        found = re.compile(rf"\b{re.escape(name)}\b").search(src, span.start, span.end) if src else None
        if found is None or src is None:
            return span
        pos, end = found.start(), found.end()
        line = src.count("\n", 0, pos) + 1
        col = pos - (src.rfind("\n", 0, pos) + 1) + 1
        return Span(file=span.file, start=pos, end=end, line=line, col=col, end_line=line, end_col=col + end - pos)

    def source_text(self, span: Span) -> str:
        """The source text under `span` (in the spec, its fill file, or another text parsed for it,
        such as a model's answer `<answer>` spliced into the fill file: its helps quoted nothing)."""
        src = next((m.source for m in (self.mod, self.fills) if m is not None and m.path == span.file), None)
        if src is None:
            src = Sources.text(span.file) or ""
        return src[span.start:span.end]

    def declare_global(self, name: str, span: Span, what: str) -> bool:
        if not self.check_reserved(name, self.name_span(span, name)):
            return False
        if what in ("enum", "record", "table") and name in TYPE_WORDS:
            # a type written `float32` is always the built-in: such a type could never be named
            # (hunt L: "expected `float32`, found `float32`" at its first use)
            self.err("E0101", f"`{name}` is a built-in type and cannot name a{'n' if what == 'enum' else ''} {what}",
                     self.name_span(span, name), "built-in type", help=f"rename it, e.g. `{name.capitalize()}`")
            return False
        if name in self.global_names or name in BUILTIN_FIELDS or name in ("random",):
            first = self.global_names.get(name)
            again, again_what = span, what
            if first is not None and first.file == span.file and first.start > span.start:
                # declared in another order than written (boundaries before state fields): the
                # one written second is the one defined again (hunt J blamed a field above)
                first, again, again_what = span, first, self._global_what.get(name, "name")
            where = f"first defined at {first.file}:{first.line}:{first.col}" if first else "it is a built-in name"
            self.err("E0101", f"duplicate definition of `{name}`", self.name_span(again, name),
                     f"{again_what} `{name}` defined again",
                     help="rename one of them", notes=[where])
            return False
        self.global_names[name] = span
        self._global_what[name] = what
        return True

    # ------------------------------------------------------------ entry
    def run(self) -> ir.Module:
        decls = self.mod.decls
        by_kind: dict[type, list] = {}
        for d in decls:
            by_kind.setdefault(type(d), []).append(d)
        env = self._header(by_kind)
        self.illegal_action = env[2]
        self._declare_types(decls)
        self._define_globals(decls)
        self.boundary_decls(by_kind.get(ast.BoundaryDecl, []))
        self._state(by_kind.get(ast.StateDecl, []))
        if self.sim_decl is not None:
            sim.player_field(self)
            self.sim_kinds = sim.action_kinds(self, by_kind.get(ast.ActionDecl, []))
        decls = self._families(decls)
        for d in decls:
            if isinstance(d, (ast.FnDecl, ast.ProcDecl, ast.HoleDecl)):
                self._signature(d)
        for d in by_kind.get(ast.ActionDecl, []):  # `legal(kind(...))` may name any action
            self.action_decls.setdefault(d.name, d)
        fills = self._collect_fills()
        fill_decls = {name: fd for name, (fd, _) in fills.items()}
        fns, holes = self._bodies(decls, fills)
        # checks of the texts (`texts of ...`), for the fill judge: see compiler/contracts.py
        from envc.compiler import contracts
        holes, contexts = contracts.build(self, [d for d in decls if isinstance(d, ast.TextsDecl)], holes, fill_decls)
        for name, (fd, _) in fills.items():
            self.err("E0161", f"fill for unknown hole `{name}`", self.name_span(fd.span, name), "no hole of this name",
                     help=did_you_mean(name, [h.name for h in holes]) or "remove it, or declare the hole in the spec")
        fns.extend(self._dispatchers(holes))
        self._check_recursion()
        init = self._init(by_kind.get(ast.InitDecl, []))
        actions = self._actions(by_kind.get(ast.ActionDecl, []))
        resolve = sim.check_resolve(self, self.resolve_decl, Ctx) if self.sim_decl is not None else []
        observe, observe_failed = self._observe_checked(by_kind.get(ast.ObserveDecl, []))
        invariants = self._invariants(by_kind.get(ast.InvariantDecl, []))
        fns.extend(self.instances)
        self.choose_conds_through_fns(fns)
        for d in by_kind.get(ast.TableDecl, []):
            self._row_invariants(d, fns)
        self.check_observe_shows_choice(observe.span if by_kind.get(ast.ObserveDecl) and not observe_failed else None)
        self._pgx_and_choose(env[2], by_kind.get(ast.IllegalActionDecl, []))
        self._raise_errors()
        module = ir.Module(
            name=env[0], doc=env[1], path=self.mod.path, num_players=self.num_players,
            turn_limit=self.turn_limit, illegal_action=env[2],
            enums=list(self.enums.values()), records=list(self.record_defs.values()),
            tables=list(self.tables.values()), state=list(self.state.values()), init=init,
            actions=actions, fns=fns, observe=observe, invariants=invariants, holes=holes,
            families=list(self.families.values()), contexts=contexts,
            simultaneous=ir.SimultaneousDef(resolve=resolve, span=self.sim_decl.span) if self.sim_decl else None,
        )
        over = budget.check(module)  # the static work budget (compiler/budget.py)
        if over:
            raise DiagnosticError(over)
        return module

    def _declare_types(self, decls: list) -> None:
        """Declare the names of enums (checked here), records and tables, before any is used."""
        for d in decls:
            if isinstance(d, ast.EnumDecl):
                self._enum(d)
            elif isinstance(d, ast.RecordDecl) and self.declare_global(d.name, d.span, "record"):
                self.records[d.name] = d
            elif isinstance(d, ast.TableDecl):
                self.declare_global(d.name, d.span, "table")

    def _define_globals(self, decls: list) -> None:
        """Check the constants, then the tables (their data), then the records not yet
        resolved (a record's field type resolves the records it names on the way)."""
        for d in decls:
            if isinstance(d, ast.ConstDecl):
                self._const(d)
        for d in decls:  # tables first: a record may hold table rows (a column never holds a record)
            if isinstance(d, ast.TableDecl) and d.name in self.global_names:
                self._table(d)
        for d in decls:
            if isinstance(d, ast.RecordDecl) and d.name in self.records and d.name not in self.record_defs:
                self._record(d)

    def _bodies(self, decls: list, fills: dict) -> tuple[list[ir.FnDef], list[ir.HoleDef]]:
        """The bodies of the `fn`s and `proc`s (generic ones are instantiated where called),
        then the holes with their fills (each fill found is taken out of `fills`)."""
        fns: list[ir.FnDef] = []
        for d in decls:
            if isinstance(d, (ast.FnDecl, ast.ProcDecl)) and self.fn_decls.get(d.name) is d and d.name not in self.generic:
                fn = self._fn_body(d.name, d.body, d.span, isinstance(d, ast.FnDecl))
                if fn is not None:
                    fns.append(fn)
        holes = []
        for d in decls:
            if isinstance(d, ast.HoleDecl) and self.fn_decls.get(d.name) is d:
                hole, fn = self._hole(d, fills.pop(d.name, None))
                holes.append(hole)
                if fn is not None:
                    fns.append(fn)
        return fns, holes

    def _observe_checked(self, decls: list[ast.ObserveDecl]) -> tuple[ir.ObserveDef, bool]:
        """`observe`, and whether an error inside it abandoned a statement that may show the
        pending choice."""
        errors_before = len(self.diags)
        observe = self._observe(decls)
        # an error inside `observe` abandons its statement, with the `pending_choice()` (or the fn that
        # calls it) that it may hold: E0171 would then be a cascade of that error, not a finding
        shown_by = ["pending_choice", *self.fn_shows_choice]
        observe_failed = len(self.diags) > errors_before and observe.span is not None and any(
            re.search(rf"\b{name}\s*\(", self.source_text(observe.span)) for name in shown_by)
        return observe, observe_failed

    def _pgx_and_choose(self, illegal: str, policies: list[ast.IllegalActionDecl]) -> None:
        """E0181: `illegal_action pgx` runs an illegal action's body, which a paused `choose` cannot allow."""
        if illegal != "pgx" or not self.choose_sites:
            return
        d = policies[-1]
        self.err("E0181", "`illegal_action pgx` cannot be combined with `choose`", d.policy_span,
                 "runs the body of an illegal action", help="a paused effect cannot run another action's body: "
                 "use `illegal_action lose` (the default) or `error`")

    def _raise_errors(self) -> None:
        """Raise the errors found (not those `tolerate` lets pass), each once, if any."""
        errors = [d for d in self.diags if self.tolerate is None or not self.tolerate(d)]
        # a family's shared signature and `ensures` are checked once per member: report once
        errors = list({(d.code, d.message, d.span, tuple(d.notes)): d for d in errors}.values())
        if errors:
            raise DiagnosticError(errors)

    # ------------------------------------------------------------ fitting
    def fits(self, src: ir.Type, dst: ir.Type) -> bool:
        return ranges.fits(src, dst)

    def require_fits(self, e: ir.Expr, dst: ir.Type, span: Span, what: str, quiet: bool = False,
                     declared: bool = True) -> bool:
        """Check that `e` can be stored in `dst`; report E0120/E0110 at `span` otherwise.

        `declared` is False for a parameter of a built-in (`win`, `act`, ...), whose range the
        spec cannot widen; a value that is one constant outside the range gets no clamp in its
        help (`act(2)` with 2 players was told `min(2, 1)`)."""
        src = e.type
        if self.fits(src, dst):
            return True
        if _row_tables(src) & self.broken or _row_tables(dst) & self.broken:
            # a table whose data could not be read stands in with one row (`check_tables._table`),
            # its real row count unknown: the mismatch follows from the error reported there
            return False
        if isinstance(src, ir.IntT) and isinstance(dst, ir.IntT):
            text = self.source_text(span)
            if src.lo == src.hi:
                fix = f"write a value in {dst.lo}..{dst.hi}"
                if text.strip() != str(src.lo):
                    fix = f"`{text}` is always {src.lo}: {fix}"
            elif _SELECTION.match(text.strip()):
                # a decision or a pick: `min(choose(...), 2)` is no selection any more (E0190), and
                # `min(k in 0..5 where ..., 2)` no expression at all (hunt M): narrow its options
                fix = f"offer only options in {dst.lo}..{dst.hi}: the range `{dst.lo}..{dst.hi + 1}`"
            else:
                fix = f"keep it in range, e.g. `{_clamp_fix(text, src, dst)}`"
            self.err("E0120", f"value may overflow {what}", span, f"has range {src.lo}..{src.hi}",
                     help=fix + (", or widen the declared range" if declared else ""),
                     notes=[f"the declared range is {dst.lo}..{dst.hi}"])
            return False
        if isinstance(src, ir.ArrayT) and isinstance(dst, ir.ArrayT) and _shape(src) == _shape(dst) \
                and type(_elem(src)) is type(_elem(dst)):  # (`[1, 2, 3]` for floats is a type mismatch: hunt L)
            self.err("E0120", f"elements may overflow {what}", span, f"elements are `{_elem(src)}`",
                     notes=[f"the declared type is `{dst}`"])
            return False
        hint = _conversion_hint(src, dst)
        notes = []
        if isinstance(src, ir.ArrayT) and isinstance(dst, ir.ArrayT) and _shape(src) != _shape(dst):
            shapes = " x ".join(map(str, _shape(src))), " x ".join(map(str, _shape(dst)))
            rows = " (`T[A][B]` is A rows of B)" if len(_shape(src)) > 1 or len(_shape(dst)) > 1 else ""
            notes = [f"the shape is {shapes[0]}, the declared one {shapes[1]}{rows}"]
        self.err("E0110", f"type mismatch: expected `{dst}`, found `{src}`", span, f"this is `{src}`", help=hint,
                 notes=notes)
        return False

    def _fn_body(self, name: str, body: list[ast.Stmt], span: Span, pure: bool) -> ir.FnDef | None:
        params, ret, _ = self.fn_sigs[name]
        ctx = Ctx("fn" if pure else "proc", pure=pure, ret=ret)
        for p in params:
            self.check_hides_field(p.name, self.name_span(p.span, p.name), not pure, "parameter")
        ctx.scopes[0].update({p.name: p.type for p in params})
        self.current_fn = name
        self.calls.setdefault(name, set())
        stmts = self.block(body, ctx)
        self.current_fn = None
        if ctx.reads_hidden:
            self.fn_hidden.add(name)
        elif ctx.slot_params:
            self.fn_slot_params[name] = set(ctx.slot_params)
        # a path that ends in `fail` (E0130 in a fn, reported there) is not also a missing return
        if ret is not None and not _always_returns(body, faults=True):
            self.err("E0142", f"`{name}` may end without returning a value", self.name_span(span, name),
                     "not every path returns",
                     help=f"end every path with `return ...` of type `{ret}`")
        return ir.FnDef(name=name, params=params, ret=ret, body=stmts, pure=pure, span=span)

    def _check_recursion(self) -> None:
        state: dict[str, int] = {}

        def visit(n: str, stack: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                self._recursion_error(stack[stack.index(n):])
                return
            state[n] = 1
            for callee in sorted(self.calls.get(n, ())):  # (sets: the same report on every run)
                visit(callee, stack + [n])
            state[n] = 2

        for n in list(self.calls):
            visit(n, [])

    def _recursion_error(self, cycle: list[str]) -> None:
        """E0140 for a cycle of the call graph (a list of nodes, each calling the next, the last
        the first), reported at its first `fn`. An action's guard on it (`guard_node`) reads
        "the guard of `a`"; a cycle of guards only is reported where they are checked
        (`action_guard`)."""
        # (a family's dispatch, `fam__dispatch`, has no declaration: the cycle is reported at a
        # member, the fill that calls the family again)
        fns = [i for i, c in enumerate(cycle) if c in self.fn_decls]
        if not fns:
            return
        cycle = cycle[fns[0]:] + cycle[:fns[0]]
        shown = [self._call_node_name(c) for c in cycle + cycle[:1]]
        d = self.fn_decls[cycle[0]]
        # at the call that closes the cycle (a fill's call of its own family is in the fill,
        # a model's answer, where the family's `hole` line cannot be changed: a judge hunt)
        span = self.call_spans.get((cycle[0], cycle[1 % len(cycle)])) or self.name_span(d.span, cycle[0])
        family = next((f for f in self.families.values() if f.dispatch in cycle), None)
        self.err("E0140", f"recursion is not allowed: {' -> '.join(shown)}", span,
                 "calls itself" if len(cycle) == 1 else "calls itself indirectly",
                 help="rewrite it with a bounded `for` loop" if family is None else
                 f"a fill cannot call its own family (`{family.name}[...]`), which may run this same fill: write "
                 "the effect here, or put the shared part in a `proc` that both fills call")

    def _call_node_name(self, node: str) -> str:
        """How E0140 names a node of the call graph: a fn, an action's guard, a family's dispatch."""
        if node.startswith(GUARD_NODE):
            return f"the guard of `{node[len(GUARD_NODE):]}`"
        for fam in self.families.values():
            if fam.dispatch == node:
                return f"`{fam.name}[...]`"
            if node in fam.members:
                return f"the fill of `{fam.name}` for {fam.texts[fam.members.index(node)]!r}"
        return f"`{node}`"

    # ------------------------------------------------------------ top-level blocks
    def _init(self, decls: list[ast.InitDecl]) -> list[ir.Stmt]:
        for extra in decls[1:]:
            self.err("E0104", "more than one `init` block", extra.span, help="merge them into one")
        if not decls:
            return []
        return self.block(decls[0].body, Ctx("init", pure=False))

    def _actions(self, decls: list[ast.ActionDecl]) -> list[ir.ActionDef]:
        out = []
        seen: dict[str, Span] = {}
        for d in decls:
            params = self._valid_action_params(d, seen)
            if params is not None:
                out.append(self._action(d, params))
        return out

    def _valid_action_params(self, d: ast.ActionDecl, seen: dict[str, Span]) -> list[ir.ParamDef] | None:
        """The parameters of action `d` (bounded scalars), or None after an error: a name
        already in `seen` (the actions so far, filled in here) or reserved, or a bad parameter."""
        if d.name in seen:
            prev = seen[d.name]
            self.err("E0101", f"duplicate action `{d.name}`", self.name_span(d.span, d.name), "defined again",
                     notes=[f"first defined at {prev.file}:{prev.line}:{prev.col}"],
                     help="action names must be unique: rename one")
            return None
        seen[d.name] = d.span
        if not self.check_reserved(d.name, self.name_span(d.span, d.name)):
            return None
        if d.name == "choose":
            self.err("E0101", "`choose` is the action kind envc generates for decisions", self.name_span(d.span, d.name),
                     "reserved", help="rename the action")
            return None
        params = self._params(d.params, allow_any=False)
        if params is None:
            return None
        bad = [p for p in params if not isinstance(p.type, (ir.IntT, ir.BoolT, ir.EnumT, ir.RowT))]
        for p in bad:
            self.err("E0110", f"action parameter `{p.name}` must be a bounded int, bool, enum or row",
                     p.span, f"this is `{p.type}`")
        return None if bad else params

    def _action(self, d: ast.ActionDecl, params: list[ir.ParamDef]) -> ir.ActionDef:
        """Action `d`'s guard and body, checked with its parameters (and, in a simultaneous
        spec, the acting `player`) in scope."""
        guard = None
        acting = {}
        if self.sim_decl is not None:  # `player`: the player choosing (guard) or whose choice is played (body)
            acting = {sim.PLAYER: ir.IntT(lo=0, hi=self.num_players - 1)}
            for p in params:
                if p.name == sim.PLAYER:
                    self.err("E0101", f"`{sim.PLAYER}` is the acting player in a simultaneous spec", p.span,
                             "not a parameter name here", help="rename the parameter")
        if d.guard is not None and self.action_decls.get(d.name) is d:
            try:
                guard = self.action_guard(d.name)
            except _Poison:
                guard = None
        for p in params:
            self.check_hides_field(p.name, self.name_span(p.span, p.name), True, "parameter")
        ctx = Ctx("action", pure=False)
        ctx.scopes[0].update(acting)
        ctx.scopes[0].update({p.name: p.type for p in params})
        # the body runs only where the guard held (`illegal_action lose|error`): its ranges
        # narrow the body's reads as an `if` would (`kill_facts` ends them), but for
        # `step_count`, which the step counts before the body runs (compiler/interp.py `step`)
        # In a simultaneous spec the body runs at `resolve`, after other players' actions may have
        # changed the state: only the facts about its parameters, fixed at the commit, still hold.
        if guard is not None and self.illegal_action != "pgx":
            facts = self.facts(guard, True, ctx)
            self.push_facts(ctx, {k: v for k, v in facts.items() if k != ("state", "step_count")
                                  and (self.sim_decl is None or k[0] == "local")})
        body = self.block(d.body, ctx)
        return ir.ActionDef(name=d.name, params=params, guard=guard, body=body, span=d.span)

    def _observe(self, decls: list[ast.ObserveDecl]) -> ir.ObserveDef:
        fallback = ir.ObserveDef(player="p", type=ir.BOOL, body=[])
        if not decls:
            return fallback
        d = decls[0]
        t = self.resolve_type(d.ret)
        if t is None:  # reported; with its span, E0171 knows `observe` failed (no cascade at `<builtin>`)
            return fallback.model_copy(update={"span": d.span})
        ctx = Ctx("observe", pure=True, ret=t, observe_player=d.player)
        ctx.scopes[0][d.player] = ir.IntT(lo=0, hi=self.num_players - 1)
        body = self.block(d.body, ctx)
        if not _always_returns(d.body):
            self.err("E0142", "`observe` may end without returning the observation", self.name_span(d.span, "observe"),
                     help=f"end it with `return ...` of type `{t}`")
        return ir.ObserveDef(player=d.player, type=t, body=body, span=d.span)

    def _invariants(self, decls: list[ast.InvariantDecl]) -> list[ir.InvariantDef]:
        """The invariants, each name once (every backend reports invariants by name)."""
        out = []
        seen: dict[str, Span] = {}
        for d in decls:
            if d.name in seen:
                self.err("E0101", f"duplicate invariant `{d.name}`", self.name_span(d.span, d.name), "defined again",
                         notes=[f"first defined at {_at(seen[d.name])}"], help="invariant names must be unique: "
                         "rename one")
                continue
            seen[d.name] = d.span
            inv = self._invariant(d)
            if inv is not None:
                out.append(inv)
        return out

    def _invariant(self, d: ast.InvariantDecl) -> ir.InvariantDef | None:
        try:
            e = self.expr(d.expr, Ctx("invariant", pure=True))
            self.require_type(e, ir.BOOL, d.expr.span, "an invariant")
        except _Poison:
            return None
        return ir.InvariantDef(name=d.name, doc=d.doc, expr=e, span=d.span)


def _conversion_hint(src: ir.Type, dst: ir.Type) -> str | None:
    """The help of a type mismatch between `src` and `dst` (scalars, or arrays of one shape,
    cell by cell) that a conversion or a comparison fixes (`float(...)`, `int(...)`, `x != 0`),
    or of an array literal given for a list, else None."""
    if isinstance(src, ir.ArrayT) and isinstance(dst, ir.ArrayT) and _shape(src) == _shape(dst):
        inner = _conversion_hint(_elem(src), _elem(dst))
        return f"{inner}, cell by cell (write float literals: `1.0`)" if inner and isinstance(_elem(dst), ir.FloatT) \
            else inner
    if isinstance(src, ir.IntT) and isinstance(dst, ir.FloatT):
        return "convert with `float(...)`"
    if isinstance(src, ir.BoolT) and isinstance(dst, ir.IntT):
        return "convert with `int(...)`"
    if isinstance(src, ir.IntT) and isinstance(dst, ir.BoolT):
        return "a `bool` is `true` or `false`; from an integer, compare: `x != 0`"
    if isinstance(src, ir.ArrayT) and isinstance(dst, ir.ListT):  # (a hunt: a bare mismatch)
        return (f"a list literal is the first value of a `let` only: `let items: {dst} = [...]`, then assign "
                "`items`; or `clear()` the list and `push` each value")
    return None


def _row_tables(t: ir.Type) -> set[str]:
    """The tables whose rows `t` holds: `Good`, `Good[3]`, `list<Good, 4>` -> {"Good"}."""
    while isinstance(t, (ir.ArrayT, ir.ListT)):
        t = t.elem
    return {t.table} if isinstance(t, ir.RowT) else set()


def _shape(t: ir.Type) -> list[int]:
    """The sizes of array type `t`'s axes, outermost first (`int[0..6][5][4]`: [5, 4]).

    `require_fits` says "elements may overflow" only for arrays of one shape: comparing the
    outer size alone called a 5 x 5 observation declared 5 x 4 an overflow of its elements."""
    sizes = []
    while isinstance(t, ir.ArrayT):
        sizes.append(t.size)
        t = t.elem
    return sizes






def _ast_depth(mod: ast.Module) -> tuple[int, Any]:
    """The deepest nesting of the syntax tree (expressions, statements, types) and a node
    there, found without recursion."""
    best, where = 0, None
    stack: list[tuple[Any, int]] = [(d, 1) for d in mod.decls]  # a node or a list of nodes, and its depth
    while stack:
        node, depth = stack.pop()
        if depth > best and getattr(node, "span", None) is not None:
            best, where = depth, node
        values = node.__dict__.values() if hasattr(node, "__dict__") else node
        for v in values:
            if isinstance(v, (list, tuple)):
                stack.extend((x, depth + (not isinstance(node, (list, tuple)))) for x in v
                             if hasattr(x, "__dict__") or isinstance(x, (list, tuple)))
            elif hasattr(v, "__dataclass_fields__") and not isinstance(v, Span):
                stack.append((v, depth + 1))
    return best, where


















def check(mod: ast.Module, fills: ast.Module | None = None, tolerate=None) -> ir.Module:
    """Check a parsed spec (and its parsed fill file) and return the typed IR.

    `tolerate(diag) -> bool`, if given, names errors that do not prevent the IR (for
    `envc fill`: calls of holes that are not filled yet); the IR then calls missing fills.

    Raises:
        DiagnosticError: with every error found (codes in `ERROR_CODES`).
    """
    for m in (mod, fills):
        depth, node = _ast_depth(m) if m is not None else (0, None)
        if depth > MAX_DEPTH and node is not None:
            raise DiagnosticError([Diagnostic("E0140", f"the spec nests {depth:,} levels deep, more than {MAX_DEPTH:,}",
                                              node.span, "nested too deeply here",
                                              help="split the expression or the blocks into `let` variables "
                                                   "and functions")])
    try:
        checker = Checker(mod, fills, tolerate)
        module = checker.run()
        if checker.choose_sites <= checker.choose_upper:
            return module
        # `pending_choice()` was typed from the `choose` calls of the source, and a generic proc
        # (list parameters) holds its sites once per instance: checked again with the real count
        # (a range one too narrow let `TBL[pending_choice()]` index past TBL at run time)
        again = Checker(mod, fills, tolerate)
        again.choose_upper = checker.choose_sites
        return again.run()
    except RecursionError:  # hundreds of records nested in each other, and the like
        start = Span(file=mod.path, start=0, end=0, line=1, col=1, end_line=1, end_col=1)
        raise DiagnosticError([Diagnostic("E0140", "the spec nests too deeply to be checked", start,
                                          help="flatten deeply nested records, calls or expressions")]) from None


def fill_path(spec_path: str) -> str:
    """The fill file of a spec: `specs/tcg.envspec` -> `specs/tcg.fills`."""
    root, _ = os.path.splitext(spec_path)
    return root + ".fills"


def load_checked(path: str) -> ir.Module:
    """Parse and check the spec at `path` together with its fill file, if there is one: the
    checker's IR, before any pass (`envc.compiler.pipeline` runs the passes).

    Raises:
        DiagnosticError: a missing file, a syntax error, or any checking error.
    """
    from envc.dsl.parser import parse_file

    mod = parse_file(path)
    fills = None
    fpath = fill_path(path)
    if os.path.exists(fpath):
        fills = parse_file(fpath)
        strays = [d for d in fills.decls if not isinstance(d, ast.FillDecl)]
        if strays:
            raise DiagnosticError([Diagnostic("E0161", "a fill file holds only `fill` items", strays[0].span,
                                              "not a fill", help="move declarations into the spec")])
    return check(mod, fills)


def load(path: str, ctx=None) -> ir.Module:
    """Parse and check the spec at `path` (with its fill file) and run the pipeline's passes
    (`envc.compiler.pipeline.PASSES`): the IR every backend consumes.

    `ctx`: an `envc.compiler.pipeline.PassContext` (e.g. passes to disable); default: all.

    Raises:
        DiagnosticError: a missing file, a syntax error, or any checking error.
    """
    from envc.compiler import pipeline

    return pipeline.load(path, ctx)






