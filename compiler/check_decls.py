"""The checker's declarations, as a mixin of `envc.compiler.check.Checker` (issue #15: the
checker split along its seams; this one is name resolution and the types of declarations).

Public surface: `DeclChecks` (mixed into the checker).

What it does: the header (`env`, `players`, `turn_limit`, `illegal_action`, each declared
once), `enum`s, `const`s (folded to values: `fold`, `const_int`), `record`s, type expressions
resolved to IR types (`resolve_type`: records by name, arrays, lists, `int[lo..hi]`, rows of
tables), the sizes of values (`cells`, at most `MAX_CELLS` scalars in one value), zero and
default values, the `state` fields, and the signatures of `fn`s, `proc`s and holes
(`_params`, `_signature`). Bodies are checked by `Checker` (statements, expressions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envc.compiler import builtins, ir
from envc.compiler.check_base import (
    COIN_BUILTINS,
    EFFECTS,
    MAX_CELLS,
    REDUCERS,
    STATE_RESERVED,
    CheckerPart,
    Ctx,
    _at,
    _elem,
    _float_leaves,
    _Poison,
    checker_module,
    fits_float32,
)
from envc.compiler.diagnostics import Span, did_you_mean
from envc.dsl import ast


def builtin_function_names(simultaneous: bool) -> tuple[str, ...]:
    """Every name a `fn`, `proc` or `hole` may not take (E0101): the whole built-ins table
    (`compiler/builtins.py`: functions, methods such as `contains`, `old` of `ensures`), the
    checker's other built-ins (`revealed`, `legal`, `pow`, ...), the reducers, the effects, the
    coins of a hole's checks, and a simultaneous spec's own (`commit`, ...).

    Decision (probe of Minesweeper's `revealed` field): a built-in's name is refused for what is
    called, never for a value. A state field, parameter or local named `revealed`, `len` or
    `min` coexists with the built-in (a name is read, a built-in is called: the two never meet;
    tests/specs/builtin_names.envspec has a field of each name on every backend), while a
    function of that name would make `revealed(...)` ambiguous."""
    from envc.compiler import check_simultaneous as sim
    from envc.compiler.check_lang import BUILTIN_NAMES

    return (tuple(builtins.BUILTINS) + REDUCERS + EFFECTS + BUILTIN_NAMES + COIN_BUILTINS
            + (sim.RESERVED if simultaneous else ()))

#: the longest env name: it becomes the Python package, the crate and file names (`envc_gen_NAME_PID`,
#: `NAME-HASH`, the wheel), each at most 255 bytes; 250 characters were an internal error (hunt N)
MAX_ENV_NAME = 64


class DeclChecks(CheckerPart):
    """Mixin of `Checker`: see the module docstring."""

    # ------------------------------------------------------------ header
    def _header(self, by_kind):
        """The spec's header declarations (`env`, `players`, `turn_limit`, `illegal_action`,
        and that an `action` and one `observe` exist): (env name, doc, illegal-action policy);
        sets `num_players`, `turn_limit` and the simultaneous-move declarations."""
        envs = by_kind.get(ast.EnvDecl, [])
        file_span = Span(file=self.mod.path, start=0, end=0, line=1, col=1, end_line=1, end_col=1)
        if envs:  # a missing declaration is reported at the spec's name
            file_span = self.name_span(envs[0].span, envs[0].name)
        if not envs:
            self.err("E0104", "missing `env` declaration", file_span, help="start the spec with `env NAME \"description\"`")
        self._at_most_one(envs, "env")
        name = envs[0].name if envs else "env"
        doc = envs[0].doc if envs else None
        if len(name) > MAX_ENV_NAME:
            self.err("E0104", f"the env name is {len(name)} characters long", file_span, f"more than {MAX_ENV_NAME}",
                     help="shorten it: it names the generated Python package, the Rust crate and their files")
        self._players(self._at_most_one(by_kind.get(ast.PlayersDecl, []), "players"))
        self._turn_limit(self._at_most_one(by_kind.get(ast.TurnLimitDecl, []), "turn_limit"))
        illegal = self._illegal_action(self._at_most_one(by_kind.get(ast.IllegalActionDecl, []), "illegal_action"))
        if not by_kind.get(ast.ActionDecl):
            self.err("E0104", "the spec declares no `action`", file_span, "no `action` in this spec",
                     help="declare at least one: `action name(param: int[0..8]) when guard { ... }`")
        if not by_kind.get(ast.ObserveDecl):
            self.err("E0104", "the spec declares no `observe`", file_span, "no `observe` in this spec",
                     help="declare what a player sees: `observe(p) -> bool[9] { return ... }`")
        for extra in by_kind.get(ast.ObserveDecl, [])[1:]:
            self.err("E0104", "more than one `observe`", extra.span, help="keep one")
        self.sim_decl, self.resolve_decl = checker_module().sim.header(self, by_kind)
        return name, doc, illegal

    def _at_most_one(self, decls: list, keyword: str) -> list:
        """`decls` (of one header keyword), after an E0104 at each one past the first."""
        for extra in decls[1:]:
            self.err("E0104", f"more than one `{keyword}` declaration", extra.span, f"second `{keyword}`",
                     help="keep one", notes=[f"first declared at {_at(decls[0].span)}"])
        return decls

    def _players(self, players: list[ast.PlayersDecl]) -> None:
        """`players N`: `num_players`, clamped into 1..16 after an E0122."""
        if not players:
            return
        self.num_players = players[0].count
        if not 1 <= self.num_players <= 16:
            self.err("E0122", f"`players {self.num_players}` is outside 1..16", players[0].span)
            self.num_players = max(1, min(16, self.num_players))

    def _turn_limit(self, limits: list[ast.TurnLimitDecl]) -> None:
        """`turn_limit N`: `turn_limit`, None after an E0122 (below 1 or past int32)."""
        if not limits:
            return
        self.turn_limit = limits[0].limit
        if not 1 <= self.turn_limit <= ir.INT32_MAX:
            self.err("E0122", f"`turn_limit` must be in 1..{ir.INT32_MAX}", limits[0].span,
                     "below 1" if self.turn_limit < 1 else "past int32")
            self.turn_limit = None

    def _illegal_action(self, policies: list[ast.IllegalActionDecl]) -> str:
        """The `illegal_action` policy: the first declaration's, `lose` without one (or after
        an E0180 for an unknown name)."""
        if not policies:
            return "lose"
        d = policies[0]
        if d.policy in ("lose", "pgx", "error"):
            return d.policy
        self.err("E0180", f"unknown illegal-action policy `{d.policy}`", d.policy_span, "not a policy",
                 help="use `lose` (the state stays, the mover loses), `pgx` (the action runs, then the "
                 "mover loses, as Pgx) or `error` (a runtime fault)")
        return "lose"

    # ------------------------------------------------------------ enums, consts, records
    def _enum(self, d: ast.EnumDecl) -> None:
        if not self.declare_global(d.name, d.span, "enum"):
            return
        seen: dict[str, Span] = {}
        for m in d.members:
            if m.name in seen:
                self.err("E0101", f"duplicate member `{m.name}` in enum `{d.name}`", m.span, "defined again")
            seen[m.name] = m.span
        self._data_names(d)
        if not d.members:
            self.err("E0122", f"enum `{d.name}` has no members", d.span, help="list at least one member")
        self.enums[d.name] = ir.EnumDef(name=d.name, members=[m.name for m in d.members],
                                        aliases=[m.alias for m in d.members], span=d.span)

    def _data_names(self, d: ast.EnumDecl) -> None:
        """E0101 where two members of enum `d` answer to one name in data files: a data file
        names a member by its name or its data name (`a "b"`), and the first member that
        matches was taken, so a member whose name another member's data name took could never
        be named (hunt N: `enum K { a "b", b }` read `"b"` as `a`)."""
        owner: dict[str, str] = {}
        for m in d.members:
            for text in dict.fromkeys([m.name, m.alias or m.name]):
                other = owner.setdefault(text, m.name)
                if other == m.name:
                    continue
                what = "name" if text == m.name else "data name"
                self.err("E0101", f"members `{other}` and `{m.name}` of enum `{d.name}` both answer to \"{text}\" "
                         "in data files", m.span, f"its {what} is \"{text}\"",
                         help="give each member a data name no other member has or is named")

    def _const(self, d: ast.ConstDecl) -> None:
        if not self.declare_global(d.name, d.span, "constant"):
            return
        ctx = Ctx("constant", pure=True)
        try:
            e = self.expr(d.value, ctx)
            value = self.fold(e)
        except _Poison:
            self.broken.add(d.name)
            return
        t = _values_range(e.type, value)
        if d.type is not None:
            declared = self.resolve_type(d.type)
            if declared is None:
                self.broken.add(d.name)
                return
            self.require_fits(e, declared, d.value.span, f"`{d.name}: {declared}`")
            t = declared
        self.consts[d.name] = ir.Const(type=t, value=value, span=d.span)

    def fold(self, e: ir.Expr, what: str | None = None,
             help: str = "constants may use literals, other constants and pure built-ins") -> Any:
        """The value of a constant expression, or E0113 (with `help`) when it reads state, a local or draws."""
        from envc.compiler.interp import ConstEvalError, eval_const

        try:
            value = eval_const(e, self._const_tables())
        except ConstEvalError as err:
            self.fail("E0113", f"{what} must be a constant" if what else "not a constant expression", e.span, str(err),
                      help=help)
        bad = next((x for x in _float_leaves(value) if not fits_float32(x)), None)
        if bad is not None:
            self.fail("E0120", "constant is not a finite float32", e.span, f"evaluates to {bad}",
                      help="NaN and the infinities have no literal in every backend: keep constants finite")
        return value

    def _const_tables(self) -> dict[str, ir.TableDef]:
        return self.tables

    def const_int(self, e: ast.Expr, what: str) -> int:
        if what == "an array size" and isinstance(e, ast.Name) and e.name in self.enums:
            # an array with one cell per member (`int[0..3][E]`): the value position's "name a
            # member" hint led to "an array size must be an integer" (a fresh-spec hunt)
            n = len(self.enums[e.name].members)
            self.fail("E0110", f"`{e.name}` is an enum, not a size", e.span, "an array size is an integer",
                      help=f"`{e.name}` has {n} members: write `[{n}]`, or `[N]` with `const N = {n}`, and index "
                           f"the array with `int(m)` for a member `m`")
        ctx = Ctx("constant", pure=True)
        ie = self.expr(e, ctx)
        if not isinstance(ie.type, ir.IntT):
            self.fail("E0110", f"{what} must be an integer", e.span, f"this is `{ie.type}`")
        return int(self.fold(ie, what))

    def _record(self, d: ast.RecordDecl, record_stack: tuple[str, ...] = ()) -> None:
        """Record `d`'s fields, resolved inside `record_stack` (the records being resolved around
        it: two records that contain each other are E0110, not an endless resolution)."""
        fields = []
        seen: set[str] = set()
        for f in d.fields:
            if f.name in seen:
                self.err("E0101", f"duplicate field `{f.name}` in record `{d.name}`", f.span)
                continue
            seen.add(f.name)
            for name, at, _ in f.annotations:
                # the grammar shares state fields' declarations, and these were accepted and ignored
                # (a record's `hand @private` was public, verify said ok: hunt P)
                self.err("E0180", f"`@{name}` on a field of record `{d.name}`: annotations belong on state fields",
                         at, "a record's field takes no annotation",
                         help=f"annotate the state field that holds the records (`seats: {d.name}[2] @{name}`), "
                              "or keep the field in a state field of its own")
            t = self.resolve_type(f.type, record_stack=record_stack + (d.name,))
            if t is None:
                self.broken.add(f"{d.name}.{f.name}")
                continue
            default = self.default_value(t, f.default, f.span)
            fields.append(ir.FieldDef(name=f.name, type=t, default=default, span=f.span))
        self.record_defs[d.name] = ir.RecordDef(name=d.name, fields=fields, span=d.span)

    # ------------------------------------------------------------ types
    def resolve_type(self, t: ast.TypeExpr, record_stack: tuple[str, ...] = (),
                     self_table: str | None = None) -> ir.Type | None:
        """`self_table`: a table whose rows are being loaded (its `by` columns may name it)."""
        self._self_table = self_table
        try:
            return self._resolve_type(t, record_stack)
        except _Poison:
            return None
        finally:
            self._self_table = None

    _self_table: str | None = None

    def _resolve_type(self, t: ast.TypeExpr, record_stack: tuple[str, ...]) -> ir.Type:
        """The IR type of `t` (raises through `fail` on an error); `record_stack`: the records
        being resolved around it (a record that contains itself is an error)."""
        if isinstance(t, ast.BoolTypeExpr):
            return ir.BOOL
        if isinstance(t, ast.FloatTypeExpr):
            return ir.FLOAT
        if isinstance(t, ast.IntTypeExpr):
            return self._resolve_int(t)
        if isinstance(t, ast.ArrayTypeExpr):
            elem = self._resolve_type(t.elem, record_stack)
            size = self.const_int(t.size, "an array size")
            if size < 1:
                self.fail("E0122", f"array size must be at least 1, not {size}", t.size.span)
            self.require_cells(ir.ArrayT(elem=elem, size=size), t.span)
            return ir.ArrayT(elem=elem, size=size)
        if isinstance(t, ast.ListTypeExpr):
            return self._resolve_list(t, record_stack)
        assert isinstance(t, ast.NamedTypeExpr)
        return self._resolve_named(t, record_stack)

    def _resolve_int(self, t: ast.IntTypeExpr) -> ir.IntT:
        """`int[lo..hi]`: constant bounds, not empty, within 32 bits."""
        lo = self.const_int(t.lo, "a range bound")
        hi = self.const_int(t.hi, "a range bound")
        if lo > hi:
            self.fail("E0122", f"empty range `int[{lo}..{hi}]`", t.span, "lower bound above upper bound",
                      help=f"write `int[{hi}..{lo}]`")
        if lo < ir.INT32_MIN or hi > ir.INT32_MAX:
            self.fail("E0120", f"`int[{lo}..{hi}]` does not fit in 32 bits", t.span, "too wide",
                      help=f"integers are at most {ir.INT32_MIN}..{ir.INT32_MAX}")
        return ir.IntT(lo=lo, hi=hi)

    def _resolve_list(self, t: ast.ListTypeExpr, record_stack: tuple[str, ...]) -> ir.ListT:
        """`list<T, N>`, or `list<T>` (any capacity, cap 0) where generics are allowed."""
        elem = self._resolve_type(t.elem, record_stack)
        if t.cap is None:
            if not self._generic_ok:
                self.fail("E0110", "a list type needs a capacity", t.span, "no capacity",
                          help="write `list<T, N>`; only a parameter of a `fn` or a `proc` may leave it out "
                          "(`list<T>` takes a list of any capacity)")
            return ir.ListT(elem=elem, cap=0)  # any capacity: `check_lang.instantiate` makes it concrete
        cap = self.const_int(t.cap, "a list capacity")
        if cap < 1:
            self.fail("E0122", f"list capacity must be at least 1, not {cap}", t.cap.span)
        self.require_cells(ir.ListT(elem=elem, cap=cap), t.span)
        return ir.ListT(elem=elem, cap=cap)

    def _resolve_named(self, t: ast.NamedTypeExpr, record_stack: tuple[str, ...]) -> ir.Type:
        """An enum, record or table (a row) named `t`, or the table being declared (its own
        rows); E0110/E0100 otherwise."""
        if t.name in self.enums:
            return ir.EnumT(name=t.name, size=len(self.enums[t.name].members))
        if t.name in self.records:
            if t.name in record_stack:
                cycle = record_stack[record_stack.index(t.name):] + (t.name,)
                through = "" if len(cycle) == 2 else f" ({' -> '.join(f'`{r}`' for r in cycle)})"
                self.fail("E0110", f"record `{t.name}` contains itself{through}", t.span, "recursive type",
                          help="types have a static size: use a row index or a list instead")
            if t.name not in self.record_defs:
                self._record(self.records[t.name], record_stack)
            return ir.RecordT(name=t.name)
        if t.name in self.tables:
            return ir.RowT(table=t.name, rows=self.tables[t.name].rows)
        if t.name == self._self_table and t.name in self.raw_rows:
            return ir.RowT(table=t.name, rows=max(1, len(self.raw_rows[t.name])))
        if t.name == "int":
            self.fail("E0110", "`int` needs a range", t.span, help="write `int[lo..hi]`, e.g. `int[0..9]`")
        later = next((d for d in self.mod.decls if isinstance(d, ast.TableDecl) and d.name == t.name), None)
        if later is not None:  # (tables are read in order: a row type names a table read before)
            self.fail("E0100", f"table `{t.name}` is declared below this use", t.span, "not declared yet",
                      help=f"move `table {t.name}` (line {later.span.line}) above the table that uses it")
        known = list(self.enums) + list(self.records) + list(self.tables) + ["bool", "float32"]
        self.fail("E0100", f"unknown type `{t.name}`", t.span, "not a type",
                  help=did_you_mean(t.name, known) or "types are bool, int[lo..hi], float32, T[N], list<T, N>, "
                  "and the enums, records and tables of the spec")

    def cells(self, t: ir.Type) -> int:
        """How many scalars a value of type `t` holds at most (`ir.cells`)."""
        return ir.cells(t, self.record_defs)

    def require_cells(self, t: ir.Type, span: Span) -> None:
        if self.cells(t) > MAX_CELLS:
            self.fail("E0122", f"`{t}` is too large", span, f"holds {self.cells(t)} values",
                      help=f"a value holds at most {MAX_CELLS} scalars")

    def zero_value(self, t: ir.Type) -> Any:
        if isinstance(t, ir.BoolT):
            return False
        if isinstance(t, ir.IntT):
            return min(max(0, t.lo), t.hi)
        if isinstance(t, ir.FloatT):
            return 0.0
        if isinstance(t, (ir.EnumT, ir.RowT)):
            return 0
        if isinstance(t, ir.ArrayT):
            return [self.zero_value(t.elem) for _ in range(t.size)]
        if isinstance(t, ir.ListT):
            return []
        assert isinstance(t, ir.RecordT)
        return {f.name: f.default for f in self.record_defs[t.name].fields}

    def default_value(self, t: ir.Type, default: ast.Expr | None, span: Span) -> Any:
        """The initial value of a field: its `= expr` (a scalar broadcasts over arrays), else zero."""
        if default is None:
            return self.zero_value(t)
        if isinstance(default, ast.ArrayLit) and not default.items and isinstance(_elem(t), ir.ListT):
            return self.zero_value(t)  # `= []`: an empty list (in every cell), as `let xs: list<T, N> = []`
        try:
            e = self.expr(default, Ctx("default", pure=True))
            value = self.fold(e)
        except _Poison:
            return self.zero_value(t)
        target = t
        while isinstance(target, ir.ArrayT) and not isinstance(e.type, ir.ArrayT):
            target = target.elem
        if isinstance(target, ir.ListT) and isinstance(e.type, ir.ArrayT):
            if e.type.size > target.cap or not self.fits(e.type.elem, target.elem):
                self.err("E0110", f"default does not fit `{t}`", default.span, f"this is `{e.type}`")
            return value
        if not self.require_fits(e, target, default.span, f"`{t}`", quiet=True):
            return self.zero_value(t)

        def broadcast(tt: ir.Type):
            if tt == target:
                return value
            assert isinstance(tt, ir.ArrayT)
            return [broadcast(tt.elem) for _ in range(tt.size)]

        return broadcast(t)

    # ------------------------------------------------------------ tables
    def _state(self, decls: list[ast.StateDecl]) -> None:
        p = self.num_players
        limit = self.turn_limit if self.turn_limit is not None else ir.INT32_MAX
        builtins: list[tuple[str, ir.Type, Any]] = [
            ("current_player", ir.IntT(lo=0, hi=p - 1), 0),
            ("rewards", ir.ArrayT(elem=ir.FLOAT, size=p), [0.0] * p),
            ("terminated", ir.BOOL, False),
            ("truncated", ir.BOOL, False),
            ("step_count", ir.IntT(lo=0, hi=limit), 0),
        ]
        for name, t, default in builtins:
            self.state[name] = ir.FieldDef(name=name, type=t, default=default, builtin=True)
        for extra in decls[1:]:
            self.err("E0104", "more than one `state` block", extra.span, help="merge them into one")
        anns: dict[str, dict] = {}
        for d in decls[:1]:
            for f in d.fields:
                if f.name in STATE_RESERVED:
                    self.err("E0101", f"`{f.name}` is a built-in field of every state", self.name_span(f.span, f.name),
                             "reserved name", help="rename the field",
                             notes=[f"every backend's state holds {', '.join(f'`{n}`' for n in STATE_RESERVED)}"])
                    self.broken.add(f.name)  # reported: its uses are not reported again
                    continue
                if not self.declare_global(f.name, f.span, "state field"):
                    self.broken.add(f.name)
                    continue
                ft = self.resolve_type(f.type)
                if ft is None:
                    self.broken.add(f.name)
                    continue
                t = ft
                anns[f.name] = self.field_annotations(f, t)
                visibility, matchup = anns[f.name]["visibility"], anns[f.name]["matchup"]
                if visibility == "private" and not (isinstance(t, ir.ArrayT) and t.size == self.num_players):
                    self.err("E0110", "a `@private` field must be an array with one slot per player", f.span,
                             help=f"declare it as `T[{self.num_players}]`: slot p is seen only by player p")
                default = self.default_value(t, f.default, f.span)
                self.state[f.name] = ir.FieldDef(name=f.name, type=t, default=default, visibility=visibility,
                                                 matchup=matchup, outcome=anns[f.name]["outcome"], span=f.span)
        self.check_reveal_flags(anns)
        self.single_outcome([f for d in decls[:1] for f in d.fields if anns.get(f.name, {}).get("outcome")])
        self.lasting_fields([name for name, a in anns.items() if a["lasting"] and name in self.state])

    # ------------------------------------------------------------ functions
    def _params(self, params: list[ast.Param], allow_any: bool = True) -> list[ir.ParamDef] | None:
        out = []
        seen: set[str] = set()
        ok = True
        for p in params:
            if p.name in seen:
                self.err("E0101", f"duplicate parameter `{p.name}`", p.span)
                ok = False
                continue
            seen.add(p.name)
            self.check_reserved(p.name, p.span)
            self._generic_ok = allow_any
            try:
                t = self.resolve_type(p.type)
            finally:
                self._generic_ok = False
            if t is None:
                ok = False
                continue
            out.append(ir.ParamDef(name=p.name, type=t, span=p.span))
        return out if ok else None

    def _signature(self, d) -> None:
        what = {ast.FnDecl: "fn", ast.ProcDecl: "proc", ast.HoleDecl: "hole"}[type(d)]
        if d.name in builtin_function_names(self.sim_decl is not None):
            self.err("E0101", f"`{d.name}` is a built-in and cannot be redefined", self.name_span(d.span, d.name),
                     f"a {what} named like a built-in function", help="choose another name",
                     notes=["a state field, a parameter or a local may share a built-in's name (it is a value, "
                            f"never called: `{d.name}(...)` stays the built-in), a `fn`, `proc` or `hole` may not"])
            return
        if not self.declare_global(d.name, d.span, what):
            self.broken.add(d.name)  # (reported: a call of it is not reported again, as an unknown or a constant's fn)
            return
        params = self._params(d.params, allow_any=not isinstance(d, ast.HoleDecl))
        ret = None
        ret_expr = d.ret if isinstance(d, (ast.FnDecl, ast.HoleDecl)) else None
        if ret_expr is not None:
            ret = self.resolve_type(ret_expr)
            if ret is None:
                self.broken.add(d.name)
                return
        if params is None:
            self.broken.add(d.name)
            return
        pure = isinstance(d, ast.FnDecl) or (isinstance(d, ast.HoleDecl) and ret is not None)
        self.fn_decls[d.name] = d
        self.fn_sigs[d.name] = (params, ret, pure)
        if any(isinstance(p.type, ir.ListT) and p.type.cap == 0 for p in params):
            self.generic.add(d.name)  # `list<T>`: instantiated per capacity at each call


def _values_range(t: ir.Type, value: Any) -> ir.Type:
    """The type of a constant: for an integer or an array of integers (any depth), the range of
    its folded values (`const NB = [... for i in 0..25]` is `int[-1..24][25][6]` when those
    are its values, not the wider range inferred from the expression); any other type as
    inferred. Decision: a constant's range is exact, as a literal's is, so that an index read
    from a table of constants fits the array it indexes."""
    elem, dims = t, 0
    while isinstance(elem, ir.ArrayT):
        elem, dims = elem.elem, dims + 1
    if not isinstance(elem, ir.IntT) or isinstance(value, bool):
        return t
    leaves = [value]
    for _ in range(dims):
        leaves = [x for v in leaves for x in v]
    if not leaves or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in leaves):
        return t
    return _with_elem(t, ir.IntT(lo=int(min(leaves)), hi=int(max(leaves))))


def _with_elem(t: ir.Type, elem: ir.Type) -> ir.Type:
    """`t` with its innermost element type replaced by `elem`."""
    if isinstance(t, ir.ArrayT):
        return ir.ArrayT(elem=_with_elem(t.elem, elem), size=t.size)
    return elem
