"""The checker's holes, fills and hole families, as a mixin of `envc.compiler.check.Checker`
(issue #15: the checker split along its seams).

Public surface: `HoleChecks` (mixed into the checker).

What it does: a `hole` declaration's signature and its `ensures` (`_hole`); the hash that
ties a fill to its hole (`hole_hash`: signature, prose and `ensures`; for a family member the
family's name and the member's text, so renumbering texts changes nothing); the fill file's
items matched to holes (`_collect_fills`); hole families (`hole X(...) per T.col`): one
member per distinct text of the column(s), a call `X[row.col](args)` and the generated
`X__dispatch` proc, an `if` chain over the filled members that the effect-table pass
(`envc.compiler.passes.effect_tables`) turns into a table (`_families`, `family_call`,
`_dispatchers`).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from envc.compiler import decklist, ir
from envc.compiler.check_base import (
    CheckerPart,
    Ctx,
    _ctx_name,
    _Poison,
    _pure_help,
    checker_module,
)
from envc.compiler.diagnostics import Span, did_you_mean, shorten
from envc.dsl import ast
from envc.dsl.parser import dsl_literal

# the kinds of value each attribute of a fill item takes (E0161 otherwise)
_FILL_ATTRS: dict[str, type | tuple[type, ...]] = {
    "text": str, "provenance": str, "model": str, "date": str, "hash": str, "attempts": int, "tokens": int,
    "cost": (int, float)}


class HoleChecks(CheckerPart):
    """Mixin of `Checker`: see the module docstring."""

    def hole_hash(self, d: ast.HoleDecl) -> str:
        """A hash of the hole's signature, prose and `ensures` (for a family member: the
        family's name and the member's text, so that renumbering texts changes nothing)."""
        src = self.mod.source
        sig = ", ".join(f"{p.name}: {src[p.type.span.start:p.type.span.end]}" for p in d.params)
        ret = src[d.ret.span.start:d.ret.span.end] if d.ret is not None else ""
        ensures = "\n".join(src[e.span.start:e.span.end] for e in d.ensures)
        text = f"{d.family or d.name}({sig}) -> {ret}\n{d.prose}\n{ensures}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def _collect_fills(self) -> dict[str, tuple[Any, Any]]:
        fills: dict[str, tuple[Any, Any]] = {}
        sources = [self.mod] + ([self.fills] if self.fills is not None else [])
        for m in sources:
            for d in m.decls:
                if isinstance(d, ast.FillDecl):
                    self._unknown_attrs(d)
                    if "text" not in d.attrs and d.name in self.families:  # (it said "unknown hole", did you mean `x__9`)
                        self.err("E0161", f"a fill of the hole family `{d.name}` names the text it fills",
                                 self.name_span(d.span, d.name), "no `text`",
                                 help=f'write `fill {d.name} text "..." hash ...`, the text as the data file has it')
                        continue
                    name: str | None = self._member_of(d) if "text" in d.attrs else d.name
                    if name is None:
                        continue
                    if name in fills:
                        self.err("E0101", f"duplicate fill for `{d.name}`"
                                 + (f" text \"{shorten(d.attrs['text'])}\"" if "text" in d.attrs else ""),
                                 d.span, help="keep one")
                        continue
                    fills[name] = (d, m)
        return fills

    def _unknown_attrs(self, d: ast.FillDecl) -> None:
        """E0161 for each attribute of fill `d` that envc does not know: a misspelt `provenanse`
        was dropped without a word, and the fill then had no provenance."""
        for k in d.attrs:
            if k in _FILL_ATTRS:
                continue
            self.err("E0161", f"unknown fill attribute `{k}` of `{d.name}`", d.attr_spans.get(k, d.span),
                     f"`{k}` is not an attribute",
                     help=did_you_mean(k, _FILL_ATTRS) or f"a fill's attributes are {', '.join(_FILL_ATTRS)}")

    def _member_of(self, d: ast.FillDecl) -> str | None:
        """The member hole that `fill FAMILY text "..." { }` fills (None after an error)."""
        fam = self.families.get(d.name)
        text = d.attrs["text"]
        if fam is None and d.name in self.broken:
            return None
        if fam is None:
            self.err("E0161", f"`fill {d.name} text ...` names no hole family", self.name_span(d.span, d.name),
                     "no family of this name", help=did_you_mean(d.name, list(self.families))
                     or "a family is declared `hole NAME(params) per TABLE.COLUMN`")
            return None
        if not isinstance(text, str) or text not in fam.texts:
            close = did_you_mean(str(text), fam.texts)
            self.err("E0161", f"no row of `{fam.table}` has this text in {', '.join(fam.columns)}",
                     d.span, f"fill of `{d.name}`", notes=[f"the fill's text: \"{shorten(str(text))}\""],
                     help=close or "the data changed: remove this fill, or fix its `text`")
            return None
        return fam.members[fam.texts.index(text)]

    def _families(self, decls: list) -> list:
        """Expand each hole family into one member hole per distinct text, and turn its text
        columns into effect numbers. Returns the declarations with members in place of families."""
        out = []
        used: dict[tuple[str, str], str] = {}
        for d in decls:
            if not (isinstance(d, ast.HoleDecl) and d.per is not None):
                out.append(d)
                continue
            out.extend(self._family(d, used))
        for key, (_, c) in self.text_columns.items():
            if key not in used:
                self.err("E0164", f"text column `{key[0]}.{key[1]}` is read by no hole family", c.span, "unused text",
                         help=f"declare `hole NAME(params) per {key[0]}.{key[1]}`: one hole per distinct text")
        return out

    def _family(self, d: ast.HoleDecl, used: dict) -> list:
        """Hole family `d` (`hole NAME(params) per T.col, ...`): its members, one hole per
        distinct text of its columns (numbered from 1 in row order, the numbers added to the
        table as int columns), and its `FamilyDef`; [] after an error. `used`: text column ->
        the family that reads it (filled in here)."""
        if d.per is None:  # only called for a family (`per T.col`)
            return []
        if not self.declare_global(d.name, d.span, "hole family"):
            return []
        if d.ret is not None:
            self.err("E0164", f"hole family `{d.name}` cannot have a result type", d.ret.span,
                     help="a family's members run as procedures: store results in the state")
            return []
        tname = self._family_table(d, used)
        if tname is None:
            return []
        cols = [c for _, c, _ in d.per]
        rows = len(self.raw_rows[tname])
        texts = self._number_texts(tname, cols)
        members = [ast.HoleDecl(d.span, f"{d.name}__{i + 1}", d.params, d.ret, text, d.ensures, family=d.name)
                   for i, text in enumerate(texts)]
        self.declare_global(f"{d.name}__dispatch", d.span, f"dispatch of hole family `{d.name}`")
        refs = self.row_refs.get(tname)
        needed = sorted(refs) if refs else list(range(rows))
        self.family_decls[d.name] = d
        self.families[d.name] = ir.FamilyDef(name=d.name, table=tname, columns=cols, texts=texts,
                                             members=[m.name for m in members], dispatch=f"{d.name}__dispatch",
                                             needed_rows=needed, span=d.span)
        return members

    def _family_table(self, d: ast.HoleDecl, used: dict) -> str | None:
        """The one table whose text columns family `d` reads, or None after an error (an
        unknown or non-text column, a column another family reads, columns of two tables)."""
        assert d.per is not None
        tables = set()
        for tname, cname, span in d.per:
            if (tname, cname) not in self.text_columns:
                self._not_a_text_column(tname, cname, span)
                if tname in self.broken or f"{tname}.{cname}" in self.broken:
                    self.broken.add(d.name)  # (its table was reported: the family's uses are not reported again)
                return None
            if (tname, cname) in used:
                self.err("E0164", f"`{tname}.{cname}` is read by two hole families", span,
                         notes=[f"family `{used[(tname, cname)]}` reads it already"])
                return None
            used[(tname, cname)] = d.name
            tables.add(tname)
        if len(tables) != 1:
            self.err("E0164", f"the text columns of hole family `{d.name}` come from {len(tables)} tables",
                     d.span, help="one family reads the columns of one table")
            return None
        return tables.pop()

    def _not_a_text_column(self, tname: str, cname: str, span: Span) -> None:
        """The error for `per T.col` naming no text column: an unknown table (E0100), a column
        of another kind (E0164) or none (E0103); nothing when the table or column is broken."""
        if tname in self.broken or f"{tname}.{cname}" in self.broken:
            return
        table = self.tables.get(tname)
        if table is None:
            self.err("E0100", f"unknown table `{tname}`", span, help=did_you_mean(tname, list(self.tables)))
        elif any(c.name == cname for c in table.columns):
            self.err("E0164", f"`{tname}.{cname}` is not a `text` column", span,
                     help=f"declare the column `{cname}: text from \"...\"`")
        else:
            self.err("E0103", f"table `{tname}` has no column `{cname}`", span,
                     help=did_you_mean(cname, [c for t, c in self.text_columns if t == tname]))

    def _number_texts(self, tname: str, cols: list[str]) -> list[str]:
        """The distinct texts of columns `cols` of table `tname`, in row order (row by row,
        column by column); each column gains its int twin in the table: the text's number
        from 1, 0 for no text."""
        ids: dict[str, int] = {}
        for r in range(len(self.raw_rows[tname])):
            for cname in cols:
                text = self.text_columns[(tname, cname)][0][r]
                if text is not None and text not in ids:
                    ids[text] = len(ids) + 1
        table = self.tables[tname]
        new_cols = []
        for cname in cols:
            texts, c = self.text_columns[(tname, cname)]
            new_cols.append(ir.ColumnDef(name=cname, type=ir.IntT(lo=0, hi=max(len(ids), 1)),
                                         values=[ids.get(t, 0) if t is not None else 0 for t in texts], span=c.span))
        self.tables[tname] = table.model_copy(update={"columns": table.columns + new_cols})
        return list(ids)

    def family_call(self, e: ast.Call, ctx: Ctx, span: Span) -> ir.Stmt:
        """`family[effect](args)`: run the member hole whose number is `effect` (0: none)."""
        func = e.func
        if not (isinstance(func, ast.Index) and isinstance(func.base, ast.Name)):  # the caller tested it
            raise TypeError(f"family_call on {func!r}")
        fam = self.families[func.base.name]
        if ctx.pure:
            self.fail("E0130", f"{_ctx_name(ctx)} cannot call hole family `{fam.name}`, which changes the state",
                      func.span, "changes the state", help=_pure_help(ctx))
        effect = self.expr(func.index, ctx)
        if not isinstance(effect.type, ir.IntT):
            self.fail("E0110", "a hole family is indexed by a text column's number", func.index.span,
                      f"this is `{effect.type}`", help=f"write `{fam.name}[row.{fam.columns[0]}](...)`")
        if not self.require_fits(effect, ir.IntT(lo=0, hi=max(len(fam.texts), 1)), func.index.span, "an effect number"):
            raise _Poison()
        first = fam.members[0] if fam.members else None
        params = self.fn_sigs[first][0] if first in self.fn_sigs else []
        args = self.call_args(e, params, fam.name, ctx)
        self.note_call(fam.dispatch, e.span)
        return ir.CallProc(proc=fam.dispatch, args=[effect, *args], span=span)

    def _dispatchers(self, holes: list[ir.HoleDef]) -> list[ir.FnDef]:
        """One proc per family, `dispatch(effect, params...)`: an `if` chain over the filled
        members (the effect-table pass may replace it). Also refuses decks that need a member
        with no valid fill (E0163)."""
        by_name = {h.name: h for h in holes}
        out = []
        for fam in self.families.values():
            d = self.family_decls[fam.name]
            first = fam.members[0] if fam.members else None
            if first not in self.fn_sigs:
                continue
            params = self.fn_sigs[first][0]
            if not any(t in self.broken for t in self.raw_rows.keys() | self.tables.keys()):
                self._needed_fills(fam, by_name)  # (a broken deck table would make every card needed)
            filled = [(i + 1, m) for i, m in enumerate(fam.members)
                      if by_name.get(m) is not None and by_name[m].status == "filled" and by_name[m].fill]
            self.calls[fam.dispatch] = {m for _, m in filled}
            eff_name = "effect"
            while eff_name in {p.name for p in params}:  # the family's own parameters keep their names
                eff_name += "_"
            eff = ir.ParamDef(name=eff_name, type=ir.IntT(lo=0, hi=max(len(fam.texts), 1)))
            body: list[ir.Stmt] = []
            for num, m in reversed(filled):
                cond = ir.Binary(op="eq", left=ir.Local(name=eff_name, type=eff.type, span=d.span),
                                 right=ir.Const(value=num, type=ir.IntT(lo=num, hi=num), span=d.span),
                                 type=ir.BOOL, span=d.span)
                call = ir.CallProc(proc=m, args=[ir.Local(name=p.name, type=p.type, span=d.span) for p in params],
                                   span=d.span)
                body = [ir.If(cond=cond, then=[call], orelse=body, span=d.span)]
            out.append(ir.FnDef(name=fam.dispatch, params=[eff, *params], ret=None, body=body, pure=False, span=d.span))
        return out

    def _needed_fills(self, fam: ir.FamilyDef, by_name: dict[str, ir.HoleDef]) -> None:
        refs = self.row_refs.get(fam.table, {})
        raw = self.raw_rows[fam.table]
        cols = {c.name: c for c in self.tables[fam.table].columns}
        missing: dict[str, list[str]] = {}
        for r in fam.needed_rows:
            for cname in fam.columns:
                num = cols[cname].values[r]
                if num == 0:
                    continue
                m = fam.members[num - 1]
                hole = by_name.get(m)
                if hole is not None and hole.status == "filled":
                    continue
                card = " ".join(str(raw[r][k]) for k in ("id", "name") if raw[r].get(k) is not None) or f"row {r}"
                users = sorted({f"{t} `{self.raw_rows[t][i].get('name', i)}`" + _at_line(self.raw_rows[t][i], line)
                                for t, i, _, line in refs.get(r, [])})
                missing.setdefault(m, []).append(f"{card} ({cname})" + (f", in {', '.join(users)}" if users else ""))
        d = self.family_decls[fam.name]
        for m, uses in missing.items():
            hole = by_name.get(m)
            text = fam.texts[fam.members.index(m)]
            state = "a stale fill" if hole is not None and hole.status == "stale" else "no fill"
            notes = [f"text: \"{shorten(text, 120)}\""] + [f"needed by {u}" for u in uses[:6]]
            if len(uses) > 6:
                notes.append(f"... and {len(uses) - 6} more")
            self.err("E0163", f"a card in play needs hole `{fam.name}` for a text with {state}", d.span,
                     f"{len(uses)} card{'s' if len(uses) != 1 else ''} need{'s' if len(uses) == 1 else ''} it",
                     notes=notes, help=f"write `fill {fam.name} text {dsl_literal(text)} hash "
                     f"\"{self.hole_hash(self._member_decl(fam, m))}\" {{ ... }}` in `{checker_module().fill_path(self.mod.path)}`, "
                     "run `envc fill SPEC --model MODEL`, or take the card out of the deck")

    def _member_decl(self, fam: ir.FamilyDef, m: str) -> ast.HoleDecl:
        d = self.family_decls[fam.name]
        return ast.HoleDecl(d.span, m, d.params, d.ret, fam.texts[fam.members.index(m)], d.ensures, family=fam.name)

    def _hole(self, d: ast.HoleDecl, fill) -> tuple[ir.HoleDef, ir.FnDef | None]:
        params, ret, pure = self.fn_sigs[d.name]
        digest = self.hole_hash(d)
        # the members of a family share its signature and `ensures`: checked once (134 times
        # over took most of the TCG's check, which `envc fill` repeats for every answer)
        ensures = self._family_ensures.get(d.family) if d.family is not None else None
        if ensures is None:
            ensures = []
            ctx = Ctx("ensures", pure=True)
            ctx.scopes[0].update({p.name: p.type for p in params})
            if ret is not None:
                ctx.scopes[0]["result"] = ret
            for e in d.ensures:
                try:
                    ie = self.expr(e, ctx)
                    self.require_type(ie, ir.BOOL, e.span, "an `ensures` clause")
                    ensures.append(ie)
                except _Poison:
                    pass
            if d.family is not None:
                self._family_ensures[d.family] = ensures
        status: Literal["filled", "unfilled", "stale"] = "unfilled"
        fn, provenance = None, None
        if fill is not None:
            fd, _ = fill
            wrong = [k for k, want in _FILL_ATTRS.items() if k in fd.attrs and not isinstance(fd.attrs[k], want)]
            for k in wrong:
                self.err("E0161", f"fill attribute `{k}` of `{d.name}` has the wrong kind of value",
                         fd.attr_spans.get(k, fd.span),
                         help=f"give `{k}` {'a string' if _FILL_ATTRS[k] is str else 'a number'}")
            provenance = None if wrong else _provenance(fd.attrs)
            if fd.attrs.get("hash") != digest:
                status = "stale"
            else:
                status = "filled"
                fn = self._fn_body(d.name, fd.body, fd.span, pure)
        hole = ir.HoleDef(name=d.name, params=params, ret=ret, prose=d.prose, ensures=ensures,
                          signature_hash=digest, fill=d.name if fn is not None else None,
                          provenance=provenance, status=status, family=d.family, span=d.span)
        return hole, fn

    def require_hole_filled(self, d: ast.HoleDecl, span: Span) -> None:
        fills = self._collect_fills_cache()
        fill = fills.get(d.name)
        if fill is None:
            self.err("E0160", f"hole `{d.name}` has no fill", span, "called here",
                     notes=[f"the hole is declared at {d.span.file}:{d.span.line}:{d.span.col}: \"{d.prose[:80]}\""],
                     help=f"write `fill {d.name} hash \"{self.hole_hash(d)}\" {{ ... }}` "
                          f"in `{checker_module().fill_path(self.mod.path)}`, "
                          "or run `envc fill SPEC --model MODEL`")
        elif fill[0].attrs.get("hash") != self.hole_hash(d):
            self.err("E0162", f"the fill of hole `{d.name}` is stale", span, "called here",
                     notes=["the hole's signature or prose changed since the fill was written "
                            + (f"(the fill has hash `{fill[0].attrs['hash']}`, the hole now `{self.hole_hash(d)}`)"
                               if fill[0].attrs.get("hash") is not None else
                               f"(the fill has no `hash`; the hole's is `{self.hole_hash(d)}`)")],
                     help="check the fill against the new text, then update its `hash`, or re-run `envc fill`")

    _fills_cache: dict | None = None

    def _collect_fills_cache(self):
        if self._fills_cache is None:
            saved = list(self.diags)
            self._fills_cache = self._collect_fills()
            self.diags = saved
        return self._fills_cache


def _at_line(row: dict, line: int | None) -> str:
    """` (FILE:LINE)` for a deck-list row's value at `line`, else nothing."""
    source = decklist.source_of(row)
    return f" ({source[0]}:{line})" if source is not None and line else ""


def _provenance(a: dict[str, Any]) -> ir.Provenance:
    return ir.Provenance(source=str(a.get("provenance", "hand")), model=a.get("model"),
                         attempts=int(a.get("attempts", 0)), tokens=int(a.get("tokens", 0)),
                         cost=float(a.get("cost", 0.0)), date=a.get("date"))
