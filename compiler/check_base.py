"""What the checker's parts share: `CheckerPart`, the base of the mixins that
`envc.compiler.check.Checker` is made of (`check_decls`, `check_tables`, `check_holes`,
`check_stmts`, `check_exprs`); `Ctx` (where an expression stands) and `_Poison` (an expression
already reported); the language's fixed tables (`EFFECTS`, `REDUCERS`, the limits); the helpers
of more than one part's diagnostics; and `checker_module()`.

The mixins are the checker split along its seams (issue #15); they call each other's methods
and read the checker's tables through `self`. `CheckerPart` declares those, for the type
checker only (no runtime effect): mypy checks that `Checker`'s definitions agree with them.
This module imports no other part of the checker, so every part imports its names directly;
`checker_module()` is `envc.compiler.check`, imported when called (it imports the mixins), for
what only that module defines (`fill_path`, the `check_simultaneous` it imports).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from envc.compiler import builtins, ir
from envc.compiler.diagnostics import Span
from envc.dsl import ast

if TYPE_CHECKING:
    from envc.compiler import tabledata
    from envc.compiler.diagnostics import Diagnostic

BUILTIN_FIELDS = ("current_player", "rewards", "terminated", "truncated", "step_count")
# what every backend's state holds beside the spec's fields (the arrays of `envc.verify.to_arrays`,
# the JAX `State`, the Rust `State`): a state field cannot take these names. `_fault` is the
# JAX state's record of a runtime fault (`number_faults`; a field of that name was an internal
# error of the JAX backend: hunt N)
STATE_RESERVED = ("observation", "legal_action_mask", "_rng_key", "_rng_counter", "_fault")
WRITABLE_BUILTINS = ("current_player", "rewards", "terminated")
PURE_BUILTINS = builtins.FUNCTIONS
REDUCERS = ("sum", "count", "any", "all", "min", "max")
EFFECTS = ("win", "draw", "terminate", "reward", "fail")
LIST_MUTATORS = ("push", "insert", "remove_at", "clear", "shuffle", "draw", "pop")
MAX_LOOP = 1 << 16
MAX_CELLS = 1 << 20  # scalars in one value: bigger arrays would hang the checker and every backend
MAX_DRAW_REPEAT = 256
#: the random words a hole's checks can read: the coins `flip(k)`, `heads(n)`, `heads_until_tails()` (at
#: most this many), the number `drawn(k, lo, hi)` and the count `draws()`
COIN_BUILTINS = ("flip", "heads", "heads_until_tails", "draws", "drawn")
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


#: source text that is one operand: a number, a name or place, a call (`len(h)`, `x[i].hp`)
_OPERAND = re.compile(r"-?[\w.]+(\([^()]*\)|\[[^\[\]]*\])*(\.\w+)*")


def _compound_value(lhs: str, op: str, rhs: str) -> str:
    """The value `lhs op= rhs` stores, as source text: `lhs op rhs`, `rhs` in parentheses unless
    it is one operand (`g -= t - 1` is `g - (t - 1)`, and an `if` is no operand of `+` without
    them: hunt S, the helps wrote `g - t - 1` and `g + if ...`)."""
    return f"{lhs} {op} {rhs if _OPERAND.fullmatch(rhs) else f'({rhs})'}"


def _clamp_fix(text: str, src: ir.IntT, dst: ir.IntT) -> str:
    """`min(x, hi)`, `max(x, lo)` or `clamp(x, lo, hi)` around the source text of an overflowing value."""
    if not text or "\n" in text or len(text) > 60:
        text = "..."
    lhs, until = None, ""
    m = re.fullmatch(r"(.+?)\s*([+-])=\s*(.+?)(\s+until\s+.+)?", text)
    if m:  # `x += e [until b()]`: the value is `x + e`, the `until` stays after it (a hunt: inside `min`)
        lhs, text, until = m.group(1), _compound_value(m.group(1), m.group(2), m.group(3)), m.group(4) or ""
    if src.lo >= dst.lo:
        fix = f"min({text}, {dst.hi})"
    elif src.hi <= dst.hi:
        fix = f"max({text}, {dst.lo})"
    else:
        fix = f"clamp({text}, {dst.lo}, {dst.hi})"
    return f"{lhs} = {fix}{until}" if lhs else fix


def _plain_place(text: str) -> bool:
    """Whether source `text` is a short plain place (`g`, `s.pegs`, `x[0]`) that a help may
    quote inside code it suggests; else the help writes a placeholder name."""
    return re.fullmatch(r"[\w.\[\]]{1,30}", text) is not None


def _fields_help(rec: ir.RecordDef) -> str | None:
    if not rec.fields:
        return None
    return f"the fields of `{rec.name}` are {', '.join(f'`{f.name}`' for f in rec.fields)}"


def _elem(t: ir.Type) -> ir.Type:
    while isinstance(t, ir.ArrayT):
        t = t.elem
    return t


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


#: float32's smallest normal magnitude; below it (but not 0) a value is subnormal
FLOAT32_TINY = float(np.finfo(np.float32).tiny)
#: why a subnormal value is refused where a spec or its data writes one (literals, data cells)
SUBNORMAL_WHY = ("JAX on CPU flushes float32 values below 1.1754944e-38 in magnitude to zero (XLA), where the "
                 "interpreter and Rust keep them: write 0.0 or a value of at least 1.1754944e-38")


def subnormal_float32(value: float) -> bool:
    """True when `value` rounds to a subnormal float32: not zero, below `FLOAT32_TINY` in
    magnitude. Decision (hunts L and N): such a value written in a spec or a data file is
    refused, since XLA:CPU flushes it to zero and a comparison with 0 then differs between
    JAX and the other backends, which no `--float-tolerance` hides; one reached by arithmetic
    is documented in the README (verify reports it)."""
    magnitude = abs(float(np.float32(value)))
    return 0.0 < magnitude < FLOAT32_TINY


def _at(span: Span) -> str:
    """`file:line:col` of a span, for notes that point at a first declaration."""
    return f"{span.file}:{span.line}:{span.col}"


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


def checker_module():
    """The module `envc.compiler.check` (resolved at call time: it imports the mixins)."""
    from envc.compiler import check

    return check


class CheckerPart:
    """Base of the checker's mixins: the state and methods of `Checker` they use."""

    if TYPE_CHECKING:
        mod: ast.Module
        fills: ast.Module | None
        diags: list[Diagnostic]
        data: dict[str, tabledata.TableFile]
        broken: set[str]
        calls: dict[str, set[str]]
        call_spans: dict[tuple[str, str], Span]
        num_players: int
        turn_limit: int | None
        consts: dict[str, ir.Const]
        enums: dict[str, ir.EnumDef]
        records: dict[str, ast.RecordDecl]
        record_defs: dict[str, ir.RecordDef]
        tables: dict[str, ir.TableDef]
        state: dict[str, ir.FieldDef]
        fn_decls: dict[str, ast.FnDecl | ast.ProcDecl | ast.HoleDecl]
        fn_sigs: dict[str, tuple[list[ir.ParamDef], ir.Type | None, bool]]
        raw_rows: dict[str, list[dict]]
        text_columns: dict[tuple[str, str], tuple[list, ast.ColumnDecl]]
        row_refs: dict[str, dict[int, list[tuple[str, int, str, int | None]]]]
        families: dict[str, ir.FamilyDef]
        family_decls: dict[str, ast.HoleDecl]
        _family_ensures: dict[str, list[ir.Expr]]
        generic: set[str]
        _generic_ok: bool

        def err(self, code: str, message: str, span: Span | None, label: str = "", help: str | None = None,
                notes: list[str] | None = None) -> None: ...
        def fail(self, code: str, message: str, span: Span | None, label: str = "", help: str | None = None,
                 notes: list[str] | None = None) -> NoReturn: ...
        def expr(self, e: ast.Expr, ctx: Ctx, peek: bool = False) -> ir.Expr: ...
        def fold(self, e: ir.Expr, what: str | None = None, help: str = ...) -> Any: ...
        def require_type(self, e: ir.Expr, t: ir.Type, span: Span, what: str) -> None: ...
        def require_fits(self, e: ir.Expr, dst: ir.Type, span: Span, what: str, quiet: bool = False,
                         declared: bool = True) -> bool: ...
        def fits(self, src: ir.Type, dst: ir.Type) -> bool: ...
        def resolve_type(self, t: ast.TypeExpr, record_stack: tuple[str, ...] = (),
                         self_table: str | None = None) -> ir.Type | None: ...
        def declare_global(self, name: str, span: Span, what: str) -> bool: ...
        def name_span(self, span: Span, name: str) -> Span: ...
        def note_call(self, name: str, span: Span) -> None: ...
        def call_args(self, e: ast.Call, params: list[ir.ParamDef], name: str, ctx: Ctx) -> list[ir.Expr]: ...
        def _fn_body(self, name: str, body: list[ast.Stmt], span: Span, pure: bool) -> ir.FnDef | None: ...
        def check_reserved(self, name: str, span: Span) -> bool: ...
        def check_reveal_flags(self, field_anns: dict[str, dict]) -> None: ...
        def field_annotations(self, f: ast.FieldDecl, t: ir.Type) -> dict: ...
        def lasting_fields(self, lasting: list[str]) -> None: ...
        def single_outcome(self, fields: list[ast.FieldDecl]) -> None: ...
        # used across the statements, the expressions and check_lang
        current_fn: str | None
        fn_hidden: set[str]
        fn_shows_choice: set[str]
        fn_slot_params: dict[str, set[int]]
        sim_decl: ast.SimultaneousDecl | None
        boundaries: dict[str, tuple[list[ir.ParamDef], int, int]]
        def _subject(self, e: ir.Expr, ctx) -> tuple[tuple | None, int | None]: ...
        def bernoulli(self, e: ast.Call, ctx) -> ir.Expr: ...
        def binary(self, op: ir.BinaryOp, a: ir.Expr, b: ir.Expr, span: Span, op_span: Span) -> ir.Expr: ...
        def bound_after_read(self, e: ast.Binary) -> None: ...
        def break_stmt(self, s: ast.Break, ctx) -> ir.Stmt: ...
        def check_hides_field(self, name: str, span: Span, writes_state: bool, what: str = "local") -> bool: ...
        def check_index(self, t: ir.Type, index: ir.Expr, link: ast.Index) -> ir.Type: ...
        def constant_truth(self, c: ir.Expr) -> bool | None: ...
        def dead_block(self, stmts: list[ast.Stmt], ctx) -> None: ...
        def expr_safe(self, e: ast.Expr, ctx: Ctx) -> ir.Expr | None: ...
        def ext_builtin(self, name: str, e: ast.Call, ctx, peek: bool) -> ir.Expr | None: ...
        def facts(self, e: ir.Expr, truth: bool, ctx) -> dict: ...
        def family_call(self, e: ast.Call, ctx: Ctx, span: Span) -> ir.Stmt: ...
        def instantiate(self, name: str, e: ast.Call, ctx) -> tuple[str, list[ir.ParamDef]]: ...
        def kill_facts(self, ctx, stmts: list[ast.Stmt]) -> None: ...
        def kill_facts_of(self, ctx, place: ast.Expr) -> None: ...
        def _record_member(self, t: ir.Type, link: ast.Field) -> ir.Type: ...
        def lasting_after(self, place: ir.Place, until: ast.Expr | None, ctx, span: Span,
                          value: ir.Expr | None = None) -> list[ir.Stmt]: ...
        def lasts_until_call(self, e: ast.Call, ctx) -> ir.Expr: ...
        def let_initialised(self, s: ast.Let, ctx) -> list[ir.Stmt] | None: ...
        def loop_bounds(self, lo_e: ast.Expr, hi_e: ast.Expr, inclusive: bool, span: Span, ctx: Ctx | None = None,
                        var: str = "i", where: str | None = None) -> tuple[int, int]: ...
        def loop_enter(self, ctx) -> list: ...
        def loop_exit(self, ctx, frame: list, loop: ir.For, span: Span) -> list[ir.Stmt]: ...
        def narrowed(self, ctx, key: tuple, t: ir.Type, scope_id: int | None = None) -> ir.Type: ...
        def narrowed_path(self, e: ir.Expr, ctx, sums: bool = False) -> ir.Expr: ...
        def note_alias(self, let: ir.Let, ctx) -> None: ...
        def place(self, e: ast.Expr, ctx: Ctx, mutating: str = "assignment") -> ir.Place: ...
        def pop_facts(self, ctx) -> None: ...
        def push_facts(self, ctx, facts: dict) -> None: ...
        def reach(self, e: ast.Call, ctx, span: Span) -> list[ir.Stmt]: ...
        def require_cells(self, t: ir.Type, span: Span) -> None: ...
        def require_hole_filled(self, d: ast.HoleDecl, span: Span) -> None: ...
        def save_facts(self, ctx) -> list[dict]: ...
        def scope_of(self, ctx, name: str) -> int | None: ...
        def selection(self, target: ast.Expr | str, declared: ast.TypeExpr | None, value: ast.Expr,
                      orelse: ast.Expr | None, op: str, ctx, span: Span) -> list[ir.Stmt]: ...
        def source_text(self, span: Span) -> str: ...
        def start_arm(self, ctx, saved: list[dict]) -> None: ...
        def unknown_name(self, node: ast.Name, ctx: Ctx) -> NoReturn: ...
        def while_stmt(self, s: ast.While, ctx) -> list[ir.Stmt]: ...
        def win_stake(self, e: ast.Call, ctx) -> list[ir.Stmt]: ...

def _place_text(e: ast.Expr) -> str:
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Field):
        return f"{_place_text(e.base)}.{e.name}"
    if isinstance(e, ast.Index):
        return f"{_place_text(e.base)}[...]"
    return "..."
