"""A spec and its fill file as `envc fill` and `envc holes` see them.

Public surface: `load_lenient(spec_path, fills_text=None, strict=None) -> Loaded`,
`hole_warnings(module) -> list[Diagnostic]`, `hole_kind(hole)`, `PENDING_CODES`.

`envc compile` refuses a spec whose actions call a hole without a fresh fill (E0160,
E0162). Filling needs the IR *before* every hole is filled, so here those two errors are
tolerated (the IR then calls fills that do not exist yet; the interpreter raises if one is
reached); every other error still stops the load. `strict` names a region of the fill
file (a candidate fill) inside which nothing is tolerated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from envc.compiler import ir
from envc.compiler.check import check, fill_path
from envc.compiler.diagnostics import Diagnostic, DiagnosticError
from envc.dsl import ast
from envc.dsl.parser import parse, parse_file

#: hole has no fill, fill is stale: tolerated while holes are being filled
PENDING_CODES = ("E0160", "E0162")


@dataclass
class Loaded:
    """A checked spec whose unfilled holes are allowed.

    `pending` holds the tolerated E0160/E0162 diagnostics (calls of holes without a fresh
    fill); `fills_ast` is the parsed fill file (None when there is none)."""

    spec_path: str
    fill_path: str
    spec_ast: ast.Module
    fills_text: str | None
    fills_ast: ast.Module | None
    module: ir.Module
    pending: list[Diagnostic] = field(default_factory=list)

    def hole(self, name: str) -> ir.HoleDef:
        return next(h for h in self.module.holes if h.name == name)

    def hole_decl(self, name: str) -> ast.HoleDecl:
        return next(d for d in self.spec_ast.decls if isinstance(d, ast.HoleDecl) and d.name == name)


def load_lenient(spec_path: str, fills_text: str | None = None, strict: tuple[str, int, int] | None = None,
                 spec_ast: ast.Module | None = None) -> Loaded:
    """Parse and check `spec_path` with the fill file's text `fills_text` (read from disk
    when None), tolerating calls of unfilled or stale holes outside `strict` = (file,
    start offset, end offset).

    Raises:
        DiagnosticError: any other error (syntax, types, a malformed fill file, ...).
    """
    mod = spec_ast if spec_ast is not None else parse_file(spec_path)
    fpath = fill_path(spec_path)
    if fills_text is None and os.path.exists(fpath):
        with open(fpath, encoding="utf-8") as fh:
            fills_text = fh.read()
    fills = parse(fills_text, fpath) if fills_text is not None else None
    if fills is not None:
        strays = [d for d in fills.decls if not isinstance(d, ast.FillDecl)]
        if strays:
            raise DiagnosticError([Diagnostic("E0161", "a fill file holds only `fill` items", strays[0].span,
                                              "not a fill", help="move declarations into the spec")])
    pending: list[Diagnostic] = []

    def tolerate(d: Diagnostic) -> bool:
        if d.code not in PENDING_CODES or d.span is None:
            return False
        if strict is not None and d.span.file == strict[0] and strict[1] <= d.span.start < strict[2]:
            return False
        pending.append(d)
        return True

    module = check(mod, fills, tolerate=tolerate)
    return Loaded(spec_path, fpath, mod, fills_text, fills, module, pending)


def hole_kind(hole: ir.HoleDef) -> str:
    """`fn` for a hole with a result (pure), `proc` for one that changes the state."""
    return "fn" if hole.ret is not None else "proc"


def hole_warnings(module: ir.Module) -> list[Diagnostic]:
    """A warning for every hole whose fill is stale: `envc check` prints them even where no
    action calls the hole (a call of a stale hole is an error, E0162, already)."""
    out = []
    for h in module.holes:
        if h.status != "stale":
            continue
        out.append(Diagnostic(
            "E0162", f"the fill of hole `{h.name}` is stale", h.span, "declared here",
            notes=[f"the hole's signature, prose or `ensures` changed since the fill was written "
                   f"(the hole's hash is now `{h.signature_hash}`)"],
            help="check the fill against the new text, then update its `hash`, or re-run `envc fill`",
            severity="warning"))
    return out
