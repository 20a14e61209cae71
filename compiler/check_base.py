"""What the checker's parts share: `CheckerPart`, the base of the mixins that
`envc.compiler.check.Checker` is made of (`check_decls`, `check_tables`, `check_holes`), and
`checker_module()`.

The mixins are the checker split along its seams (issue #15); they call each other's methods
and read the checker's tables through `self`. `CheckerPart` declares those, for the type
checker only (no runtime effect): mypy checks that `Checker`'s definitions agree with them.
`checker_module()` is `envc.compiler.check`, imported when called (it imports the mixins),
for the names it defines: `Ctx`, `_Poison`, constants and small helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from envc.compiler import ir
from envc.compiler.diagnostics import Span
from envc.dsl import ast

if TYPE_CHECKING:
    from envc.compiler import tabledata
    from envc.compiler.check import Ctx
    from envc.compiler.diagnostics import Diagnostic


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
        def require_fits(self, e: ir.Expr, dst: ir.Type, span: Span, what: str, quiet: bool = False) -> bool: ...
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
