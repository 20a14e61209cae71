"""The checker: syntax tree (`envc.dsl.ast`) to typed IR (`envc.compiler.ir`).

Public surface: `check(module_ast, fills=None) -> ir.Module` and
`load(path) -> ir.Module` (parse the spec and its fill file, then check).

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

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, cast

import numpy as np

from envc.compiler import budget, builtins, ir, ranges, tabledata
from envc.compiler import check_simultaneous as sim
from envc.compiler.check_decls import DeclChecks
from envc.compiler.check_holes import HoleChecks
from envc.compiler.check_lang import BUILTIN_NAMES, LanguageChecks, selection_kind
from envc.compiler.check_tables import TableChecks
from envc.compiler.diagnostics import Diagnostic, DiagnosticError, Span, did_you_mean
from envc.dsl import ast

BUILTIN_FIELDS = ("current_player", "rewards", "terminated", "truncated", "step_count")
# what every backend's state holds beside the spec's fields (the arrays of `envc.verify.to_arrays`,
# the JAX `State`, the Rust `State`): a state field cannot take these names
STATE_RESERVED = ("observation", "legal_action_mask", "_rng_key", "_rng_counter")
WRITABLE_BUILTINS = ("current_player", "rewards", "terminated")
PURE_BUILTINS = builtins.FUNCTIONS
REDUCERS = ("sum", "count", "any", "all", "min", "max")
EFFECTS = ("win", "draw", "terminate", "reward", "fail")
LIST_MUTATORS = ("push", "insert", "remove_at", "clear", "shuffle", "draw", "pop")
MAX_LOOP = 1 << 16
MAX_CELLS = 1 << 20  # scalars in one value: bigger arrays would hang the checker and every backend
MAX_DRAW_REPEAT = 256
#: the coins a hole's checks can read: `flip(k)`, `heads(n)`, `heads_until_tails()` (at most this many)
COIN_BUILTINS = ("flip", "heads", "heads_until_tails", "draws")
MAX_COIN_RUN = 32
MAX_DEPTH = 1_000  # nesting of expressions and blocks (each level is a few Python frames in every tree walk)
FLOAT32_MAX = 3.4028234663852886e38


class _Poison(Exception):
    """Raised inside the checker to abandon an expression already reported."""


@dataclass
class Ctx:
    """What an expression or statement may do where it stands."""

    what: str  # "guard", "fn", "observe", "invariant", "init", "action", "proc", ...
    pure: bool
    scopes: list[dict[str, ir.Type]] = field(default_factory=lambda: [{}])
    ret: ir.Type | None = None
    observe_player: str | None = None
    reads_hidden: bool = False
    loops: list = field(default_factory=list)  # the enclosing loops' break flags (check_lang)
    narrow: list = field(default_factory=list)  # ranges narrowed by conditions (check_lang)
    slot_params: set = field(default_factory=set)  # a fn's parameters that index `@private` fields
    # locals declared by a `let` without a type: name -> (the `let`, its loop depth, its scope),
    # and the trip counts of the enclosing `for` loops (for the E0120 help of `let heads = 0`)
    inferred: dict = field(default_factory=dict)
    loop_trips: list = field(default_factory=list)
    # what the rest of the block may assume after an `if` whose arms all return (`if_stmt`)
    exit_facts: dict | None = None

    def lookup(self, name: str) -> ir.Type | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None


def _ranges_of(t: ir.Type) -> str:
    return f"{t.lo}..{t.hi}" if isinstance(t, ir.IntT) else str(t)


class Checker(DeclChecks, TableChecks, HoleChecks, LanguageChecks):
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
        self.current_fn: str | None = None
        self.num_players = 1
        self.turn_limit: int | None = None
        self.global_names: dict[str, Span] = {}
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
        """The source text under `span` (in the spec or its fill file)."""
        src = next((m.source for m in (self.mod, self.fills) if m is not None and m.path == span.file), "")
        return src[span.start:span.end]

    def declare_global(self, name: str, span: Span, what: str) -> bool:
        if not self.check_reserved(name, self.name_span(span, name)):
            return False
        if name in self.global_names or name in BUILTIN_FIELDS or name in ("random",):
            prev = self.global_names.get(name)
            where = f"first defined at {prev.file}:{prev.line}:{prev.col}" if prev else "it is a built-in name"
            self.err("E0101", f"duplicate definition of `{name}`", self.name_span(span, name),
                     f"{what} `{name}` defined again",
                     help="rename one of them", notes=[where])
            return False
        self.global_names[name] = span
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
        if isinstance(src, ir.IntT) and isinstance(dst, ir.IntT):
            text = self.source_text(span)
            if src.lo == src.hi:
                fix = f"write a value in {dst.lo}..{dst.hi}"
                if text.strip() != str(src.lo):
                    fix = f"`{text}` is always {src.lo}: {fix}"
            else:
                fix = f"keep it in range, e.g. `{_clamp_fix(text, src, dst)}`"
            self.err("E0120", f"value may overflow {what}", span, f"has range {src.lo}..{src.hi}",
                     help=fix + (", or widen the declared range" if declared else ""),
                     notes=[f"the declared range is {dst.lo}..{dst.hi}"])
            return False
        if isinstance(src, ir.ArrayT) and isinstance(dst, ir.ArrayT) and _shape(src) == _shape(dst):
            self.err("E0120", f"elements may overflow {what}", span, f"elements are `{_elem(src)}`",
                     notes=[f"the declared type is `{dst}`"])
            return False
        hint = None
        if isinstance(src, ir.IntT) and isinstance(dst, ir.FloatT):
            hint = "convert with `float(...)`"
        elif isinstance(src, ir.BoolT) and isinstance(dst, ir.IntT):
            hint = "convert with `int(...)`"
        elif isinstance(src, ir.IntT) and isinstance(dst, ir.BoolT):
            hint = "a `bool` is `true` or `false`; from an integer, compare: `x != 0`"
        notes = []
        if isinstance(src, ir.ArrayT) and isinstance(dst, ir.ArrayT):
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
        if ret is not None and not _always_returns(body):
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
                cycle = stack[stack.index(n):] + [n]
                d = self.fn_decls[n]
                self.err("E0140", f"recursion is not allowed: {' -> '.join(f'`{c}`' for c in cycle)}",
                         self.name_span(d.span, n), "calls itself" if len(cycle) == 2 else "calls itself indirectly",
                         help="rewrite it with a bounded `for` loop")
                return
            state[n] = 1
            for callee in self.calls.get(n, ()):
                visit(callee, stack + [n])
            state[n] = 2

        for n in list(self.calls):
            visit(n, [])

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

    # ------------------------------------------------------------ statements
    def block(self, stmts: list[ast.Stmt], ctx: Ctx) -> list[ir.Stmt]:
        """Check a block's statements in order. After a guard clause (an `if` without `else`
        whose arms all `return` or end in `fail("why")`), the rest of the block is narrowed by its conditions being
        false (`if r < 0 or r >= H { return 1 }` then `GRID[r * W]`), as `if_stmt` found them."""
        ctx.scopes.append({})
        ctx.narrow.append({})  # this block's own frame: the aliases of its `let`s (`note_alias`)
        out = []
        guards = 0
        for s in stmts:
            if isinstance(s, (ast.For, ast.While)):
                self.kill_facts(ctx, s.body)  # what an iteration assigns, later iterations see
            ctx.exit_facts = None
            try:
                r = self.stmt(s, ctx)
            except _Poison:
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
        value = self.expr(s.value, ctx)
        if s.op != "=":
            # `x -= 1` reads x as `x = x - 1` does: through `expr`, with the ranges conditions narrowed
            # (`place_and_read`'s read has the declared range, which refused `n -= 1` under `when n > 0`)
            current = self.expr(s.target, ctx)
            value = self.binary("add" if s.op == "+=" else "sub", current, value, s.span, s.span)
        if place.root == "local" and not place.path and place.name in ctx.inferred \
                and next(sc for sc in reversed(ctx.scopes) if place.name in sc) is ctx.inferred[place.name][2] \
                and isinstance(value.type, ir.IntT) and not self.fits(value.type, place.type):
            self.untyped_let_overflow(s, place, value, ctx)  # else a type mismatch, E0110 below
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
            f"{place.name} {'+' if s.op == '+=' else '-'} {self.source_text(s.value.span)}"
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
        ranges were computed for its first range); the value's own diagnostics are discarded."""
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
                    var: str = "i") -> tuple[int, int]:
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
                    fix = f"for {var} in {bounds[0]}{op}{ie.type.hi} {{ if {var} {cmp} {text} {{ ... }} }}"
                else:
                    hi_text = self.source_text(hi_e.span)
                    fix = f"for {var} in {ie.type.lo}{op}{hi_text} {{ if {var} >= {text} {{ ... }} }}"
                self.fail("E0140", f"unbounded loop: `{text}` is not a constant", e.span,
                          f"ranges over {ie.type.lo}..{ie.type.hi}",
                          help=f"loop over a constant range and skip the rest: `{fix}`")
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
        """E0121 for `xs[i] ... and i < len(xs)`: `and` evaluates its left side first, so the
        list is read at `i` before the right side checks that `i` is below its length, and a
        read past a list's end is a runtime fault (probe3's Uno faulted at `init` on every
        seed). Syntactic (decision): the same index and list, compared as written with spans
        ignored, in `i < len(xs)` or `len(xs) > i` on the right and `xs[i]` on the left."""
        for index, base in _length_bounds(e.right):
            bound = (_ast_shape(index), _ast_shape(base))
            read = next((n for n in _unguarded(e.left, bound) if isinstance(n, ast.Index)
                         and (_ast_shape(n.index), _ast_shape(n.base)) == bound), None)
            if read is None:
                continue
            i, xs = self.source_text(index.span), self.source_text(base.span)
            self.err("E0121", f"`{xs}` is read at `{i}` before `{i} < len({xs})` is checked", read.span,
                     "read before its bound check", notes=["`and` evaluates its left side first, and a read "
                                                           "past the end of a list is a runtime fault"],
                     help=f"check first: `{i} < len({xs}) and ...`, then the read")
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
            return sim.act_call(self, e, ctx, span)
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
            sim.reads_builtin(self, name, node.span)
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
            self.fail("E0121", f"index may be out of bounds for `{t}`", link.index.span,
                      f"has range {lo}..{hi}", notes=[f"valid indices are 0..{size - 1}"], help=fix)
        return t.elem

    # ------------------------------------------------------------ expressions
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
        names = [n for s in ctx.scopes for n in s] + list(self.state) + list(self.consts) + list(self.fn_sigs)
        if node.name in self.enums:
            self.fail("E0110", f"`{node.name}` is an enum, not a value", node.span,
                      help=f"name a member: `{node.name}.{(self.enums[node.name].members or ['MEMBER'])[0]}`")
        if node.name in self.tables:
            self.fail("E0110", f"`{node.name}` is a table, not a value", node.span,
                      help=f"use a row of it (a parameter of type `{node.name}`) or `{node.name}.rows`")
        if self.sim_decl is not None:  # never suggest `current_player` where it does not exist
            names = [n for n in names if n not in sim.HIDDEN_BUILTINS]
            if node.name == sim.PLAYER:
                self.fail("E0100", f"unknown name `{node.name}`", node.span, "only an action's guard and body have it",
                          help="`player` is the player whose chosen action runs; in `resolve`, name each player: "
                          f"`for p in 0..{self.num_players} {{ act(p) }}`")
        self.fail("E0100", f"unknown name `{node.name}`", node.span, "not found in this scope",
                  help=self._unknown_name_help(node.name, names))

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
        if op == "and":
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
            self.fail("E0131", f"{where} cannot draw random numbers or take from a list", found.span,
                      "evaluated only on one side of the condition",
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
                sim.reads_builtin(self, e.name, e.span, ctx)
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
            rec = self.record_defs[t.name]
            fd = next((f for f in rec.fields if f.name == e.name), None)
            if fd is None and f"{t.name}.{e.name}" in self.broken:
                raise _Poison()  # the field's declaration was reported already
            if fd is None:
                self.fail("E0103", f"record `{t.name}` has no field `{e.name}`", e.name_span, "unknown field",
                          help=did_you_mean(e.name, [f.name for f in rec.fields]) or _fields_help(rec))
            return self.narrowed_path(ir.GetField(base=value, name=e.name, type=fd.type, span=e.span), ctx)
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
        return None

    def index(self, e: ast.Index, ctx: Ctx, peek: bool) -> ir.Expr:
        private_slot = False
        if (ctx.observe_player is not None and isinstance(e.base, ast.Name) and e.base.name in self.state
                and ctx.lookup(e.base.name) is None and self.state[e.base.name].visibility == "private"):
            private_slot = isinstance(e.index, ast.Name) and e.index.name == ctx.observe_player
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
                if isinstance(arg, ast.Name) and arg.name == ctx.observe_player:
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
            hint = "convert the integer with `float(...)`" if ir.FLOAT in (ta, tb) else None
            whole = _whole_float_literal(a, b)
            if whole is not None:  # probe of Hanabi: `clues + 1.0` for an int field
                hint = f"for integer arithmetic write `{whole}`, not `{whole}.0`; for float arithmetic {hint}"
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
            self.fail("E0110", f"cannot compare `{ta}` with `{tb}`", op_span, "incompatible operands",
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
        if self.current_fn is not None:
            self.calls.setdefault(self.current_fn, set()).add(name)

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
            return sim.choice_call(self, name, e, ctx)
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
        if name in self.enums:  # `Col(int(c) + 1)`: no integer becomes a member
            members = self.enums[name].members or ["MEMBER"]
            self.fail("E0110", f"`{name}` is an enum: it is not called", func.span, "not a function",
                      help=f"name a member, `{name}.{members[0]}`; an integer does not convert to one: choose it "
                           f"with `if ... then {name}.{members[0]} else ...` or `match`")
        method = name in LIST_MUTATORS + ("draw", "pop", "contains", "count") and len(e.args) >= 1
        xs = self.source_text(e.args[0].value.span) if method else ""
        xs = xs if _plain_place(xs) else "xs"
        rest = ", ".join(self.source_text(a.value.span) for a in e.args[1:])
        self.fail("E0100", f"unknown function `{name}`", func.span, "not defined",
                  help=f"`{name}` is a list method: `{xs}.{name}({rest})`" if method else
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
        if ctx.pure:
            self.fail("E0130", f"{_ctx_name(ctx)} cannot `{func.name}()`: it removes an element", func.span,
                      "changes the state", help=_pure_help(ctx))
        place = self.place(func.base, ctx, mutating=f"`{func.name}()`")
        if not isinstance(place.type, ir.ListT):
            self.fail("E0103", f"`{func.name}` is a list method, and this is `{place.type}`", func.name_span)
        self.call_args(e, [], func.name, ctx)
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
        want = 0 if name in ("heads_until_tails", "draws") else 1
        if len(e.args) != want or any(a.name is not None or isinstance(a.value, ast.Generator) for a in e.args):
            usage = {"flip": "`flip(k)`: the k-th coin the call flips (from 0), true for heads",
                     "heads": "`heads(n)`: how many of the first n coins are heads",
                     "heads_until_tails": "`heads_until_tails()`: the heads before the first tails",
                     "draws": "`draws()`: how many random numbers the call drew"}[name]
            self.fail("E0111", f"`{name}` takes {want} argument{'s' if want != 1 else ''}", e.span, help=usage)
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

    def record_lit(self, name: str, e: ast.Call, ctx: Ctx) -> ir.Expr:
        rec = self.record_defs[name]
        given = {}
        for a in e.args:
            if a.name is None:
                self.fail("E0111", f"fields of `{name}` are named: `{name}(field: value, ...)`", a.span)
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
        if lo_t.hi > hi_t.lo:
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
            return ir.Builtin(name=name, args=args, type=ir.IntT(lo=0, hi=ts[0].cap), span=e.span)
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


def _int_range(op: str, a: ir.IntT, b: ir.IntT, checker: Checker, b_span: Span) -> ir.IntT:
    if op in ("div", "mod") and ranges.divisor_may_be_zero(b):
        text = checker.source_text(b_span)
        example = f", e.g. `max({text}, 1)`" if b.lo >= 0 < b.hi and text and "\n" not in text and len(text) <= 60 else ""
        checker.fail("E0123", "possible division by zero", b_span, f"has range {b.lo}..{b.hi}",
                     help=f"make the divisor's range exclude 0{example}")
    return ranges.binary(op, a, b)




def _clamp_fix(text: str, src: ir.IntT, dst: ir.IntT) -> str:
    """`min(x, hi)`, `max(x, lo)` or `clamp(x, lo, hi)` around the source text of an overflowing value."""
    if not text or "\n" in text or len(text) > 60:
        text = "..."
    lhs = None
    m = re.fullmatch(r"(.+?)\s*([+-])=\s*(.+)", text)
    if m:  # `x += e`: the value is `x + e`
        lhs, text = m.group(1), f"{m.group(1)} {m.group(2)} {m.group(3)}"
    if src.lo >= dst.lo:
        fix = f"min({text}, {dst.hi})"
    elif src.hi <= dst.hi:
        fix = f"max({text}, {dst.lo})"
    else:
        fix = f"clamp({text}, {dst.lo}, {dst.hi})"
    return f"{lhs} = {fix}" if lhs else fix


def _plain_place(text: str) -> bool:
    """Whether source `text` is a short plain place (`g`, `s.pegs`, `x[0]`) that a help may
    quote inside code it suggests; else the help writes a placeholder name."""
    return re.fullmatch(r"[\w.\[\]]{1,30}", text) is not None


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
    return None


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
    if isinstance(x, ast.Binary) and x.op == "and":
        yield from _unguarded(x.left, bound)
        if bound not in [(_ast_shape(i), _ast_shape(xs)) for i, xs in _length_bounds(x.left)]:
            yield from _unguarded(x.right, bound)
        return
    for name in x.__dataclass_fields__:
        yield from _unguarded(getattr(x, name), bound)


def _conjuncts(e: ast.Expr) -> list[ast.Expr]:
    if isinstance(e, ast.Binary) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
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
    out = []
    for n in _conjuncts(e):
        if not isinstance(n, ast.Binary) or n.op not in ("<", ">"):
            continue
        index, bound = (n.left, n.right) if n.op == "<" else (n.right, n.left)
        if isinstance(bound, ast.Call) and isinstance(bound.func, ast.Name) and bound.func.name == "len" \
                and len(bound.args) == 1:
            out.append((index, bound.args[0].value))
    return out


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


def _fields_help(rec: ir.RecordDef) -> str | None:
    if not rec.fields:
        return None
    return f"the fields of `{rec.name}` are {', '.join(f'`{f.name}`' for f in rec.fields)}"


def _widen(t: ir.Type) -> ir.Type:
    """The type an argument compared against elements of `t` may have (ints compare across ranges)."""
    if isinstance(t, ir.IntT):
        return ir.IntT(lo=ir.INT32_MIN, hi=ir.INT32_MAX)
    return t


def _shape(t: ir.Type) -> list[int]:
    """The sizes of array type `t`'s axes, outermost first (`int[0..6][5][4]`: [5, 4]).

    `require_fits` says "elements may overflow" only for arrays of one shape: comparing the
    outer size alone called a 5 x 5 observation declared 5 x 4 an overflow of its elements."""
    sizes = []
    while isinstance(t, ir.ArrayT):
        sizes.append(t.size)
        t = t.elem
    return sizes


def _elem(t: ir.Type) -> ir.Type:
    while isinstance(t, ir.ArrayT):
        t = t.elem
    return t


def _draws(e: ir.Node) -> int:
    """How many random draws or list takes evaluating `e` makes (comprehensions multiply)."""
    if isinstance(e, (ir.RandomInt, ir.ListTake)):
        return 1 + sum(_draws(c) for c in ir.children(e) if not isinstance(c, ir.Place))
    n = sum(_draws(c) for c in ir.children(e) if not isinstance(c, ir.Place))
    if isinstance(e, (ir.Reduce, ir.ArrayBuild)):
        n *= max(e.hi - e.lo, 0)
    return n


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


def _float_leaves(value: Any):
    """The floats inside a folded constant (nested lists and dicts)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (float, np.floating)):
            yield float(v)


def fits_float32(value: float) -> bool:
    """True when `value` is finite and rounds to a finite float32 (magnitude at most
    float32's largest, 3.4028235e38, give or take its rounding)."""
    if not math.isfinite(value):
        return False
    with np.errstate(over="ignore"):
        return bool(np.isfinite(np.float32(value)))


def _at(span: Span) -> str:
    """`file:line:col` of a span, for notes that point at a first declaration."""
    return f"{span.file}:{span.line}:{span.col}"


def _place_text(e: ast.Expr) -> str:
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Field):
        return f"{_place_text(e.base)}.{e.name}"
    if isinstance(e, ast.Index):
        return f"{_place_text(e.base)}[...]"
    return "..."


def _always_returns(body: list[ast.Stmt], faults: bool = False) -> bool:
    """Whether every path through `body` ends in a `return` (with `faults`: or in `fail("why")`,
    which ends the step, so that `if i == -1 { fail("why") }` is a guard clause for narrowing;
    a missing `return` stays an error there, as the backends need a value on every path)."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Return):
        return True
    if faults and isinstance(last, ast.ExprStmt) and isinstance(last.expr, ast.Call) \
            and isinstance(last.expr.func, ast.Name) and last.expr.func.name == "fail":
        return True
    if isinstance(last, ast.If):
        return last.orelse is not None and all(_always_returns(b, faults) for _, b in last.branches) \
            and _always_returns(last.orelse, faults)
    if isinstance(last, ast.Match):
        return bool(last.arms) and all(_always_returns(a.body, faults) for a in last.arms)
    return False


def _ctx_name(ctx: Ctx) -> str:
    return {"guard": "a `when` guard", "fn": "a `fn`", "observe": "`observe`", "invariant": "an invariant",
            "ensures": "an `ensures` clause", "constant": "a constant", "default": "a default value",
            "loop bound": "a loop bound"}.get(ctx.what, f"`{ctx.what}`")


def _random_help(ctx: Ctx) -> str:
    if ctx.what == "fn":
        return "a `fn` gives the same result for the same arguments: draw in an action, `init` or a `proc`, " \
               "and pass the value in"
    if ctx.what == "guard":
        return "a guard must be deterministic: draw in the action's body"
    return "draw random numbers only in an action, `init` or a `proc`"


def _pure_help(ctx: Ctx) -> str:
    if ctx.what == "guard":
        return "a guard only decides whether the action is legal: change the state in the action's body"
    if ctx.what == "fn":
        return ("a `fn` only computes its result: keep values in `let` variables, "
                "and change the state in an action or a `proc`")
    return "move the change into an action, `init` or a `proc`"


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
        return Checker(mod, fills, tolerate).run()
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


def _whole_float_literal(a: ir.Expr, b: ir.Expr) -> int | None:
    """The value of the float literal with a whole value (`1.0`) beside an integer operand of
    `a op b`, or None: such a literal was most likely meant as the integer it names."""
    for lit, other in ((a, b), (b, a)):
        if not (isinstance(lit, ir.Const) and isinstance(lit.type, ir.FloatT) and isinstance(other.type, ir.IntT)):
            continue
        if float(lit.value).is_integer():
            return int(lit.value)
    return None
