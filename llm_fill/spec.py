"""A spec and its fill file as `envc fill` and `envc holes` see them.

Public surface: `load_lenient(spec_path, fills_text=None, strict=None) -> Loaded`,
`hole_warnings(module) -> list[Diagnostic]`, `hole_kind(hole)`, `contract_kind(hole)`, `fill_key(module)`,
`family_of(module, hole)`, `short_text(text, width)`, `hole_label(hole)`,
`playable_cards(module) -> list[Playable]`, `PENDING_CODES`.

`envc compile` refuses a spec whose actions call a hole without a fresh fill (E0160,
E0162) or whose data (a deck) needs a text of a hole family that has no fresh fill
(E0163). Filling needs the IR *before* every hole is filled, so here those errors are
tolerated (the IR then calls fills that do not exist yet; the interpreter raises if one is
reached; a family's dispatch skips an unfilled text); every other error still stops the
load. `strict` names a region of the fill file (a candidate fill) inside which nothing is
tolerated.

Hole families (`hole attack_effect(p: int[0..1]) per Card.effect0, Card.effect1`) have one
member hole per distinct text, `attack_effect__N` with `family` set and the text as its
`prose`; in the fill file a member's fill is `fill attack_effect text "<the text>" ...`
(`fill_key` maps such an item to its member).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from envc.compiler import ir
from envc.compiler.check import check, fill_path
from envc.compiler.diagnostics import Diagnostic, DiagnosticError
from envc.compiler.passes import simultaneous
from envc.dsl import ast
from envc.dsl.parser import parse, parse_file

#: hole has no fill, fill is stale, data needs a family text with no fresh fill:
#: tolerated while holes are being filled
PENDING_CODES = ("E0160", "E0162", "E0163")


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
        """The declaration of hole `name` (of its family, for a family member)."""
        fam = family_of(self.module, self.hole(name))
        target = fam.name if fam is not None else name
        return next(d for d in self.spec_ast.decls if isinstance(d, ast.HoleDecl) and d.name == target)

    def family(self, name: str) -> ir.FamilyDef | None:
        """The family of hole `name` (None for a hole of its own)."""
        return family_of(self.module, self.hole(name))


def load_lenient(spec_path: str, fills_text: str | None = None, strict: tuple[str, int, int] | None = None,
                 spec_ast: ast.Module | None = None, splice: tuple[int, list[ast.Stmt]] | None = None) -> Loaded:
    """Parse and check `spec_path` with the fill file's text `fills_text` (read from disk
    when None), tolerating calls of unfilled or stale holes outside `strict` = (file,
    start offset, end offset). `splice` = (offset of a fill item in `fills_text`, the
    statements of its body parsed from elsewhere): the item's body is replaced by them, so
    that diagnostics and faults about a candidate point into the answer it came from.

    Raises:
        DiagnosticError: any other error (syntax, types, a malformed fill file, ...).
    """
    mod = spec_ast if spec_ast is not None else parse_file(spec_path)
    fpath = fill_path(spec_path)
    if fills_text is None and os.path.exists(fpath):
        found = parse_file(fpath)  # a folder, a FIFO or bad UTF-8 is an E0150 diagnostic, not a crash
        fills: ast.Module | None = found
        fills_text = found.source
    else:
        fills = parse(fills_text, fpath) if fills_text is not None else None
    if fills is not None:
        strays = [d for d in fills.decls if not isinstance(d, ast.FillDecl)]
        if strays:
            raise DiagnosticError([Diagnostic("E0161", "a fill file holds only `fill` items", strays[0].span,
                                              "not a fill", help="move declarations into the spec")])
        if splice is not None:
            at, stmts = splice
            fills = ast.Module(fills.path, fills.source, [
                dataclasses.replace(d, body=stmts) if d.span.start == at and isinstance(d, ast.FillDecl) else d
                for d in fills.decls])
    pending: list[Diagnostic] = []

    def tolerate(d: Diagnostic) -> bool:
        if d.code not in PENDING_CODES or d.span is None:
            return False
        if strict is not None and d.span.file == strict[0] and strict[1] <= d.span.start < strict[2]:
            return False
        pending.append(d)
        return True

    module = simultaneous.run(check(mod, fills, tolerate=tolerate))  # as `envc.compiler.check.load` does
    return Loaded(spec_path, fpath, mod, fills_text, fills, module, pending)


def hole_kind(hole: ir.HoleDef) -> str:
    """`fn` for a hole with a result (pure), `proc` for one that changes the state."""
    return "fn" if hole.ret is not None else "proc"


def contract_kind(hole: ir.HoleDef) -> str:
    """`exact` when a `text` rule matches the hole's whole text or its fill has its own
    `ensures`; `rules` when `mentions` rules give it checks; `-` otherwise."""
    c = hole.contract
    if c is None:
        return "-"
    if c.exact:
        return "exact"
    return "rules" if c.rules or c.ensures or c.scenarios else "-"


def hole_warnings(module: ir.Module) -> list[Diagnostic]:
    """A warning for every hole whose fill is stale: `envc check` prints them even where no
    action calls the hole (a call of a stale hole is an error, E0162, already)."""
    out = []
    for h in module.holes:
        if h.status != "stale":
            continue
        out.append(Diagnostic(
            "E0162", f"the fill of hole `{h.name}` is stale" if h.family is None else
            f"the fill of hole `{h.name}` ({hole_label(h)}) is stale", h.span, "declared here",
            notes=[f"the hole's signature, prose or `ensures` changed since the fill was written "
                   f"(the hole's hash is now `{h.signature_hash}`)"],
            help="check the fill against the new text, then update its `hash`, or re-run `envc fill`",
            severity="warning"))
    return out


def family_of(module: ir.Module, hole: ir.HoleDef) -> ir.FamilyDef | None:
    """The family `hole` belongs to; None for a hole of its own (or a family `module` lacks)."""
    if hole.family is None:
        return None
    return next((f for f in module.families if f.name == hole.family), None)


def fill_key(module: ir.Module):
    """A function from a `fill` item to the name of the hole it fills: `fill NAME ...` fills
    NAME, `fill FAMILY text "..." ...` the member of FAMILY with that text (None when no
    member has it: the checker reports that item)."""
    families = {f.name: f for f in module.families}

    def key(d: ast.FillDecl) -> str | None:
        text = d.attrs.get("text")
        if text is None:
            return d.name
        fam = families.get(d.name)
        if fam is None or text not in fam.texts:
            return None
        return fam.members[fam.texts.index(text)]

    return key


def short_text(text: str, width: int = 60) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    one = " ".join(text.split())
    return one if len(one) <= width else one[:width - 1].rstrip() + "…"


def hole_label(hole: ir.HoleDef, width: int = 60) -> str:
    """`heal`, or for a family member `attack_effect "Heal 10 damage from this Pokémon."`."""
    if hole.family is None:
        return hole.name
    return f'{hole.family} "{short_text(hole.prose, width)}"'


@dataclass
class Playable:
    """Rows of a table read by hole families whose every text has a fresh fill."""

    table: str
    rows: int  # all rows
    playable: int  # rows whose every nonzero text column names a filled member
    needed: int  # rows the data needs (other tables name them: the cards of the decks)
    needed_playable: int
    labels: list[str]  # names of the needed rows that are not playable


def playable_cards(module: ir.Module) -> list[Playable]:
    """For each table read by hole families: how many rows are *fully playable*, i.e. every
    text column (of every family over that table) of the row is empty or names a member
    with a fresh fill; also among the rows the data needs (`FamilyDef.needed_rows`)."""
    status = {h.name: h.status for h in module.holes}
    out = []
    for tname in dict.fromkeys(f.table for f in module.families):
        table = next(t for t in module.tables if t.name == tname)
        cols = {c.name: c.values for c in table.columns}
        fams = [f for f in module.families if f.table == tname]
        ok = [all(cols[c][r] == 0 or status.get(f.members[cols[c][r] - 1]) == "filled"
                  for f in fams for c in f.columns) for r in range(table.rows)]
        needed = sorted(set().union(*(set(f.needed_rows) for f in fams)))
        bad = [r for r in needed if not ok[r]]
        labels = [table.labels[r] if table.labels else f"row {r}" for r in bad]
        out.append(Playable(tname, table.rows, sum(ok), len(needed), len(needed) - len(bad), labels))
    return out
