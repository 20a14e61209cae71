"""The checker's data tables, as a mixin of `envc.compiler.check.Checker` (issue #15: the
checker split along its seams).

Public surface: `TableChecks` (mixed into the checker).

The files are read before checking (`envc.compiler.tabledata`); this mixin turns their rows
into typed columns: `_table` (one `table` declaration), `_column_values` and `_convert` (a
cell of JSON, CSV or a deck list to a value of the column's type, with a diagnostic naming
the file, line and column of a bad value), `text` columns (the keys of hole families), and
`_row_invariants` (a table's `invariant`s over every row, E0153 at the file's line).
Decisions made here: a CSV cell is text until its column's type converts it (`"3"` -> 3);
an empty string and a missing key are the column's default; a `by` column matches a key of
another table exactly (JSON equality of the values).
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

from envc.compiler import decklist, ir
from envc.compiler.check_base import (
    SUBNORMAL_WHY,
    CheckerPart,
    Ctx,
    _at,
    _Poison,
    fits_float32,
    subnormal_float32,
)
from envc.compiler.diagnostics import Span, did_you_mean
from envc.compiler.tabledata import ROW_LINE, is_csv
from envc.dsl import ast

if TYPE_CHECKING:
    pass

_COUNT = re.compile(r"[0-9]{1,9}")
_INT_TEXT = re.compile(r"[-+]?[0-9]{1,30}")



class TableChecks(CheckerPart):
    """Mixin of `Checker`: see the module docstring."""

    def _table(self, d: ast.TableDecl) -> None:
        got = self.data[d.path]  # every table of the spec (`tabledata.read_tables`)
        rows = got.rows
        if got.problem is not None:
            p = got.problem
            self.err(p.code, p.message, d.path_span, p.label, help=p.help, notes=p.notes)
        if rows is None:
            self.broken.add(d.name)
            self.tables[d.name] = ir.TableDef(name=d.name, path=d.path, rows=1, columns=[], span=d.span)
            return
        self.raw_rows[d.name] = rows
        columns = []
        seen: set[str] = set()
        for c in d.columns:
            if c.name in seen:
                self.err("E0101", f"duplicate column `{c.name}` in table `{d.name}`", c.span)
                continue
            seen.add(c.name)
            if isinstance(c.type, ast.NamedTypeExpr) and c.type.name == "text" and "text" not in self.enums:
                self._text_column(d, c, rows)
                continue
            t = self.resolve_type(c.type, self_table=d.name if c.mode and c.mode[0] == "by" else None)
            values = self._column_values(d, c, t, rows) if t is not None else None
            if t is None or values is None:
                self.broken.add(f"{d.name}.{c.name}")
                continue
            columns.append(ir.ColumnDef(name=c.name, type=t, values=values, span=c.span))
        self._deck_keys(d, rows)
        key = next((k for k in ("name", "id")
                    if rows and all(isinstance(r, dict) and r.get(k) is not None for r in rows)), None)
        labels = _unique([str(r[key]) for r in rows]) if key else None  # how `envc run` names a row
        self.tables[d.name] = ir.TableDef(name=d.name, path=d.path, rows=max(1, len(rows)), columns=columns,
                                          labels=labels, span=d.span)

    def _text_column(self, d: ast.TableDecl, c: ast.ColumnDecl, rows: list[dict]) -> None:
        if c.mode is not None or c.default is not None:
            self.err("E0164", f"text column `{c.name}` takes no `by`, `count` or `default`", c.span,
                     help="a missing text means the row has no such rule")
        source = c.source or c.name
        texts: list[str | None] = []
        problems: list[str] = []
        for i, row in enumerate(rows):
            raw = _dig(row, source)
            if raw is not None and not isinstance(raw, str):  # (was `str(raw)`: `"['x']"`, `"True"` texts)
                where = f"line {row.get(ROW_LINE, i + 2)}" if is_csv(d.path) else f"row {i + 1}"
                problems.append(f"{where}: `{source}` = {json.dumps(raw)[:60]} is not a text")
            texts.append(raw)
        if problems:
            more = f"... (and {len(problems) - 3} more)"
            self.err("E0152", f"text column `{c.name}` of `{d.path}` holds values that are not texts", c.span,
                     f"{len(problems)} bad row{'s' if len(problems) > 1 else ''}",
                     notes=problems[:3] + ([more] if len(problems) > 3 else []),
                     help="write each rule as a JSON string (or leave it out: the row has no such rule)")
            return
        self.text_columns[(d.name, c.name)] = (texts, c)

    def _column_values(self, d: ast.TableDecl, c: ast.ColumnDecl, t: ir.Type, rows: list[dict]) -> list | None:
        """Column `c` of table `d`: each row's cell converted to `t` (a missing one takes the
        default), or None after an error (E0152, or the mode's or default's own)."""
        convert = self._convert
        if c.mode is not None:
            convert = self._mode_converter(d, c, t)
            if convert is None:
                return None
        source = c.source or c.name
        ok, default = self._column_default(c, t)
        if not ok:
            return None
        counting = c.mode is not None and c.mode[0] == "count"
        values = []
        problems: list[str | None] = []  # None: reported at its line of a deck list
        for i, row in enumerate(rows):
            where = f"line {row.get(ROW_LINE, i + 2)}" if is_csv(d.path) else f"row {i + 1}"
            raw = _dig(row, source)
            if raw is None and counting:
                raw = []
            if raw is None and default is None:
                problems.append(f"{where} has no `{source}`")
                continue
            if raw is None:
                values.append(default)
                continue
            value, problem = convert(raw, t)
            if problem:
                problems.append(self._cell_problem(d, c, t, row, raw, problem, where))
                continue
            values.append(value)
            self._row_refs(d, c, i, row, value)
        if problems:
            self._bad_rows(d, c, t, problems)
            return None
        return values

    def _column_default(self, c: ast.ColumnDecl, t: ir.Type) -> tuple[bool, Any]:
        """(True, the folded `default` of column `c`, a value of type `t`, or None without
        one), or (False, None) when the default has an error (reported: E0110 or E0120 when it
        does not fit `t`; an unchecked `int[0..2] default 7` indexed past a table at run time,
        a scalar default of an array column was an internal error)."""
        if c.default is None:
            return True, None
        try:
            e = self.expr(c.default, Ctx("default", pure=True))
        except _Poison:
            return False, None
        if not self.require_fits(e, t, c.default.span, f"the default of column `{c.name}: {t}`"):
            return False, None
        try:
            return True, self.fold(e)
        except _Poison:
            return False, None

    def _cell_problem(self, d: ast.TableDecl, c: ast.ColumnDecl, t: ir.Type, row: dict, raw: Any, problem: str,
                     where: str) -> str | None:
        """The note for a cell `convert` refused, or None for a row of a deck list (reported
        at its line there, `_deck_problem`)."""
        source = c.source or c.name
        if decklist.source_of(row) is not None:
            self._deck_problem(d, c, row, source, raw, t, problem)
            return None
        return f"{where}: `{source}` = {json.dumps(raw, ensure_ascii=False)[:60]} {problem}"

    def _row_refs(self, d: ast.TableDecl, c: ast.ColumnDecl, i: int, row: dict, value: Any) -> None:
        """Record the rows of another table that row i's `by T.f` value names (`row_refs`:
        target row -> (table, row, column, deck-list line)); other columns record nothing."""
        if c.mode is None or c.mode[0] != "by" or c.mode[1] == d.name:
            return
        refs = self.row_refs.setdefault(c.mode[1], {})
        source = c.source or c.name
        for index, r in _flat(value):
            if isinstance(r, int) and r >= 0:
                refs.setdefault(r, []).append((d.name, i, c.name, decklist.line_of(row, source, index)))

    def _bad_rows(self, d: ast.TableDecl, c: ast.ColumnDecl, t: ir.Type, problems: list[str | None]) -> None:
        """One E0152 for the column, naming its first three bad rows; the problems of deck
        lists (None) were reported at their lines already."""
        shown = [p for p in problems if p is not None]
        if not shown:
            return
        more = f" (and {len(shown) - 3} more)" if len(shown) > 3 else ""
        self.err("E0152", f"column `{c.name}` of `{d.path}` does not fit `{t}`", c.span,
                 f"{len(shown)} bad row{'s' if len(shown) > 1 else ''}",
                 notes=shown[:3] + ([f"...{more}"] if more else []),
                 help="fix the data, widen the column type, or give a `default` for missing values")

    def _deck_keys(self, d: ast.TableDecl, rows: list[dict]) -> None:
        """E0152 at each `key: value` line of a deck list (`*.txt`) that no column of `d` reads:
        a team file's `levle: 50` was silently ignored (the level stayed 100)."""
        read = {(c.source or c.name).split(".")[0] for c in d.columns} | {"name"}
        for row in rows:
            found = decklist.source_of(row)
            if found is None:
                continue
            path, text = found
            for key in [k for k in row if isinstance(k, str) and k not in read and k not in decklist.RESERVED]:
                line = decklist.line_of(row, key) or 1
                span = _line_span(path, text, line, 1, max(1, len(_source_line(text, line).rstrip())))
                self.err("E0152", f"{os.path.basename(path)}: no column of `{d.name}` reads `{key}`", span,
                         "ignored", help=did_you_mean(key, sorted(read - {"name"})) or
                         f"remove the line, or add a column `from \"{key}\"` to table `{d.name}`")

    def _deck_problem(self, d: ast.TableDecl, c: ast.ColumnDecl, row: dict, source: str, raw: Any, t: ir.Type,
                      problem: str) -> None:
        """E0152 at the line of a deck list (`*.txt`) that holds the value column `c` refuses."""
        found = decklist.source_of(row)
        if found is None:  # only called for the rows of deck lists
            return
        path, text = found
        index = getattr(problem, "at", ())
        line = decklist.line_of(row, source, index) or 1
        item = raw
        for k in index:
            item = item[k] if isinstance(item, list) and k < len(item) else None
        shown = item if isinstance(item, str) and not getattr(problem, "whole", False) else None
        src_line = _source_line(text, line)
        col = src_line.find(shown) + 1 if shown and shown in src_line else 1
        width = len(shown) if shown and col > 1 else max(1, len(src_line.rstrip()))
        span = _line_span(path, text, line, col, width)
        what = f"`{shown}` {problem}" if shown else f"`{source}` {problem}"
        if getattr(problem, "whole", False) and index:
            what = f"the list `{source}` {problem} (item {index[0] + 1} is on this line)"
        close = None
        if shown and c.mode is not None and c.mode[0] == "by" and c.mode[1] in self.raw_rows:
            keys = [str(_dig(r, c.mode[2])) for r in self.raw_rows[c.mode[1]] if _dig(r, c.mode[2]) is not None]
            close = did_you_mean(shown, keys)
        self.err("E0152", f"{os.path.basename(path)}: {what}", span, "refused here",
                 notes=[f"read by column `{c.name}: {t}` of table `{d.name}` "
                        f"({c.span.file}:{c.span.line}:{c.span.col})"],
                 help=close or "fix the file: each value must fit the column's type")

    def _mode_converter(self, d: ast.TableDecl, c: ast.ColumnDecl, t: ir.Type):
        """The converter of a `by T.f` or `count E` column (None after an error)."""
        if c.mode is None:  # only called for columns with a mode
            return None
        if c.mode[0] == "count":
            return self._count_converter(c, t)
        return self._by_converter(d, c, t)

    def _count_converter(self, c: ast.ColumnDecl, t: ir.Type):
        """The converter of a `count E` column: a list of member names (or a comma-separated
        text) to one count per member of E, in declaration order (None after an error)."""
        assert c.mode is not None
        _, name, _, span = c.mode
        if name not in self.enums:
            self.err("E0100", f"unknown enum `{name}`", span, "not an enum",
                     help=did_you_mean(name, list(self.enums)) or "`count E` counts the members of enum E")
            return None
        members = self.enums[name]
        if not (isinstance(t, ir.ArrayT) and isinstance(t.elem, ir.IntT) and t.size == len(members.members)):
            self.err("E0110", f"a `count {name}` column must be `int[lo..hi][{len(members.members)}]`", c.type.span,
                     f"this is `{t}`", help=f"one count per member of `{name}`, in declaration order")
            return None
        lookup: dict[str, int] = {}
        for i, (m, alias) in enumerate(zip(members.members, members.aliases)):
            lookup.setdefault(m, i)
            if alias is not None:
                lookup.setdefault(alias, i)
        return _counter(name, lookup)

    def _by_converter(self, d: ast.TableDecl, c: ast.ColumnDecl, t: ir.Type):
        """The converter of a `by T.f` column: each key (below arrays and lists) to the
        first row of T whose `f` equals it, or the column's `default` (None after an error)."""
        assert c.mode is not None
        _, name, fieldname, span = c.mode
        elem = t
        while isinstance(elem, (ir.ArrayT, ir.ListT)):
            elem = elem.elem
        if name != d.name and name not in self.raw_rows:
            known = [n for n in self.raw_rows] + [d.name]
            self.err("E0100", f"unknown table `{name}`", span, "no table of this name (declared above this one)",
                     help=did_you_mean(name, known) or "`by T.f` looks rows up in a table declared before")
            return None
        target = self.raw_rows[name]  # known (above); this table's own rows were stored before its columns
        if not (isinstance(elem, ir.IntT) or (isinstance(elem, ir.RowT) and elem.table == name)):
            self.err("E0110", f"a `by {name}.{fieldname}` column holds rows of `{name}` or integers", c.type.span,
                     f"this is `{t}`", help=f"declare it `{name}` (or `int[-1..N]` with a `default` for a missing key)")
            return None
        index: dict[str, int] = {}
        for i, row in enumerate(target):
            found = _dig(row, fieldname)
            if found is not None:
                index.setdefault(json.dumps(found, sort_keys=True), i)
        if target and not index:  # (each row's key was reported as matching no row, once per row)
            self.err("E0100", f"no row of `{name}` has a key `{fieldname}`", span, "looked up by this key",
                     help=did_you_mean(fieldname, sorted({k for r in target if isinstance(r, dict) for k in r
                                                          if isinstance(k, str)})) or
                     f"`by {name}.f` matches each value with the rows' `f`")
            return None

        ok, fallback = self._column_default(c, elem)  # (a key's default: of the element type)
        if not ok:
            return None
        key = _row_key(name, fieldname, index, fallback)

        def by(raw, t):
            return self._convert(raw, t, leaf=key)
        return by

    def _convert(self, raw: Any, t: ir.Type, leaf=None) -> tuple[Any, str | None]:
        """`raw` (from a data file) as a value of `t`, or the problem; `leaf(raw, t)` converts
        the elements below arrays and lists instead (the keys of a `by` column)."""
        if leaf is not None and not isinstance(t, (ir.ArrayT, ir.ListT)):
            return leaf(raw, t)
        if isinstance(t, ir.IntT):
            return _convert_int(raw, t)
        if isinstance(t, ir.BoolT):
            return _convert_bool(raw)
        if isinstance(t, ir.FloatT):
            return _convert_float(raw)
        if isinstance(t, ir.EnumT):
            e = self.enums[t.name]
            for i, (m, alias) in enumerate(zip(e.members, e.aliases)):
                if raw == alias or raw == m:
                    return i, None
            return None, f"is not a member of `{t.name}`"
        if isinstance(t, (ir.ArrayT, ir.ListT)):
            return self._convert_items(raw, t, leaf)
        return None, f"cannot be loaded as `{t}`"

    def _convert_items(self, raw: Any, t: ir.ArrayT | ir.ListT, leaf) -> tuple[Any, str | None]:
        """`_convert` of an array (exactly `size` items) or a list (at most `cap`): each item
        converted; a problem names the item (`decklist.Problem.at`)."""
        if not isinstance(raw, list):
            return None, "is not a list"
        limit = t.size if isinstance(t, ir.ArrayT) else t.cap
        if (isinstance(t, ir.ArrayT) and len(raw) != limit) or len(raw) > limit:
            at = (min(limit, len(raw) - 1),) if raw else ()  # the first item too many (or the last)
            return None, decklist.Problem(f"has {len(raw)} items, not "
                                          f"{'exactly' if isinstance(t, ir.ArrayT) else 'at most'} {limit}", at, whole=True)
        out = []
        for i, item in enumerate(raw):
            v, problem = self._convert(item, t.elem, leaf)
            if problem:
                return None, decklist.Problem(problem, (i, *getattr(problem, "at", ())))
            out.append(v)
        return out, None

    # ------------------------------------------------------------ state
    def _row_invariants(self, d: ast.TableDecl, fns: list[ir.FnDef]) -> None:
        """Check every row of table `d` against the table's `invariant`s (rules of the data, e.g.
        a deck's "at most 2 cards with the same name"), E0153 at the row's file and line.

        An invariant reads the row's columns by name, constants and `fn`s (never the state).
        When it is `all(body for i in lo..hi)`, the first `i` whose body is false names the
        item: the line of a deck list that holds `col[i]` (a column the body indexes with `i`);
        otherwise the line of the first value of the first column it reads."""
        table = self.tables.get(d.name)
        if (not d.invariants or table is None or d.name in self.broken
                or any(f"{d.name}.{c.name}" in self.broken for c in d.columns)):
            return  # a column the data broke was reported: its rules cannot be checked
        from envc.compiler.interp import ConstEvalError, Evaluator, SpecRuntimeError, copy_value
        cols = {c.name: c for c in table.columns}
        scope: dict[str, ir.Type] = {n: c.type for n, c in cols.items()}
        ev = Evaluator(None, self.tables)
        ev.fns = {f.name: f for f in fns}
        sources = {c.name: c.source or c.name for c in d.columns}
        for inv in d.invariants:
            try:
                e = self.expr(inv.expr, Ctx("table invariant", pure=True, scopes=[dict(scope)]))
                self.require_type(e, ir.BOOL, inv.expr.span, "an invariant")
            except _Poison:
                continue
            for r, row in enumerate(self.raw_rows.get(d.name, [])):
                env = {n: copy_value(c.values[r]) for n, c in cols.items()}
                ev._const_work = 0  # each row gets the loop budget of a constant (interp.CONST_WORK)
                try:
                    item = _failing_item(ev, e, env)
                except (ConstEvalError, SpecRuntimeError) as err:
                    self.err("E0153", f"invariant `{inv.name}` of table `{d.name}` cannot be checked on its data: {err}",
                             inv.expr.span, "not a rule of the row", help="a table's invariant reads only the row's "
                             "columns, constants and `fn`s")
                    break
                if item is None:
                    continue
                self._row_problem(d, inv, row, r, item, sources)

    def _row_problem(self, d: ast.TableDecl, inv: ast.InvariantDecl, row: dict, r: int,
                     item: tuple[str | None, int | None], sources: dict[str, str]) -> None:
        """E0153: row `r` of table `d` breaks `inv`; `item` = (column, index) of the value at fault."""
        rule = f"invariant `{inv.name}`" + (f" (\"{inv.doc}\")" if inv.doc else "")
        notes = [f"the rule: {rule} of table `{d.name}` ({_at(inv.span)})"]
        column, index = item
        source = decklist.source_of(row)
        label = row.get("name") if isinstance(row, dict) else None
        if source is None or column is None:
            self.err("E0153", f"row {r + 1}{f' `{label}`' if label else ''} of `{d.path}` breaks {rule}", d.path_span,
                     "a row breaks the table's rule", notes=notes, help="fix the data file")
            return
        path, text = source
        line = decklist.line_of(row, sources.get(column, column), () if index is None else (index,)) or 1
        lines = text.split("\n")
        src_line = lines[line - 1] if line <= len(lines) else ""
        start = sum(len(x) + 1 for x in lines[:line - 1])
        width = max(1, len(src_line.rstrip()))
        span = Span(file=path, start=start, end=start + width, line=line, col=1, end_line=line, end_col=1 + width)
        self.err("E0153", f"{os.path.basename(path)} breaks {rule}", span,
                 f"item {index + 1} of `{column}`, the first to break it" if index is not None
                 else f"the list `{column}` breaks it",
                 notes=notes, help="fix the file so that it obeys the rule")


def _flat(value: Any, index: tuple[int, ...] = ()):
    """(index path, item) of every non-list item of a value of nested lists, in order."""
    if not isinstance(value, list):
        yield index, value
        return
    for i, item in enumerate(value):
        yield from _flat(item, index + (i,))

def _failing_item(ev: Any, e: ir.Expr, env: dict) -> tuple[str | None, int | None] | None:
    """None when the row invariant `e` holds on the row `env`; else (column, index) of the value
    at fault: for `all(body for i in lo..hi)`, the first `i` whose body fails and a column the
    body indexes with `i`; otherwise the first column `e` reads (index None)."""
    if ev.eval(e, env):
        return None
    nodes = list(ir.walk(e))
    first = next((n.name for n in nodes if isinstance(n, ir.Local) and n.name in env), None)
    if not (isinstance(e, ir.Reduce) and e.op == "all"):
        return first, None
    bad = next(i for i in range(e.lo, e.hi) if not ev.eval(e.body, {**env, e.var: i}))
    for n in nodes:
        if (isinstance(n, ir.GetIndex) and isinstance(n.base, ir.Local) and n.base.name in env
                and isinstance(n.index, ir.Local) and n.index.name == e.var):
            return n.base.name, bad
    return first, None

def _dig(row: dict, path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if isinstance(value, list) and _COUNT.fullmatch(part):
            i = int(part)
            value = value[i] if i < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
        if value is None:
            return None
    if isinstance(value, str) and value == "":
        return None
    return value


def _convert_int(raw: Any, t: ir.IntT) -> tuple[Any, str | None]:
    """A cell as an integer of `t`'s range: an int, or a text of ASCII digits (CSV)."""
    if isinstance(raw, str):
        if not _INT_TEXT.fullmatch(raw.strip()):  # ASCII digits only: `int()` also takes `١٢` and `1_0`
            return None, "is not an integer"
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int):
        return None, "is not an integer"
    if not t.lo <= raw <= t.hi:
        return None, f"is outside {t.lo}..{t.hi}"
    return raw, None


def _convert_bool(raw: Any) -> tuple[Any, str | None]:
    """A cell as a boolean: a bool, the text `true`, `false`, `1` or `0` (any case), or the
    JSON number 1 or 0 (the message names `1` and `0`: a JSON row's `1` was refused; hunt N)."""
    if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0"):
        return raw.lower() in ("true", "1"), None
    if type(raw) is int and raw in (0, 1):
        return raw == 1, None
    if not isinstance(raw, bool):
        return None, "is not a boolean (`true`, `false`, `1` or `0`)"
    return raw, None


def _source_line(text: str, line: int) -> str:
    """Line `line` (from 1) of a data file's `text`, or "" past its end."""
    lines = text.split("\n")
    return lines[line - 1] if line <= len(lines) else ""


def _line_span(path: str, text: str, line: int, col: int, width: int) -> Span:
    """The span of `width` characters at `line`:`col` of data file `path` holding `text`."""
    start = sum(len(x) + 1 for x in text.split("\n")[:line - 1]) + col - 1
    return Span(file=path, start=start, end=start + width, line=line, col=col, end_line=line, end_col=col + width)


def _unique(labels: list[str]) -> list[str]:
    """`labels` with each repeated one told apart by its row number (`ou_classic #3`): two team
    files both named `ou_classic` gave match-up rows and `best:` lines no one could tell apart."""
    own = set(labels)  # (a set: a list's membership test made 60,000 rows of one name take minutes: hunt U)
    if len(own) == len(labels):
        return list(labels)
    taken: set[str] = set()
    out = []
    for i, label in enumerate(labels):
        new, k = label, i
        # a new name is neither given already nor another row's own (`x`, `x #2`, `x` gave two
        # `x #2`: hunt N)
        while new in taken or (new != label and new in own):
            new, k = f"{label} #{k}", k + 1
        out.append(new)
        taken.add(new)
    return out


_ASCII_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|infinity|nan)", re.IGNORECASE)


def _convert_float(raw: Any) -> tuple[Any, str | None]:
    """A cell as a float: a number or a text of one, finite in float32."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return None, "is not a number"
    if isinstance(raw, str) and not _ASCII_FLOAT.fullmatch(raw.strip()):
        # (`float()` takes `"٥.5"` and `"1_000.5"`; integer cells take ASCII digits only, so do floats)
        return None, "is not a number (ASCII digits, `.`, an exponent)"
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        return None, "is not a number"
    if not fits_float32(value):
        return None, "is not a finite float32 (NaN, an infinity, or beyond 3.4e38)"
    if subnormal_float32(value):
        return None, f"is a subnormal float32: {SUBNORMAL_WHY}"
    return value, None


def _counter(name: str, lookup: dict[str, int]):
    """The converter of a `count E` column: member names (`lookup`: name or alias -> index)
    to counts per member, each within the element type's range."""
    def count(raw, t):
        items = [x.strip() for x in raw.split(",")] if isinstance(raw, str) else raw
        if not isinstance(items, list):
            return None, "is not a list"
        out = [0] * t.size
        for x in items:
            if not isinstance(x, str):
                return None, f"holds {json.dumps(x)[:30]}, not a member name of `{name}`"
            if x not in lookup:
                return None, f"names `{x}`, not a member of `{name}`"
            out[lookup[x]] += 1
        if any(not t.elem.lo <= n <= t.elem.hi for n in out):
            return None, f"has a count outside {t.elem.lo}..{t.elem.hi}"
        return out, None
    return count


def _other_kind(raw: Any, index: dict[str, int]) -> str:
    """`; a row has the number 1` when `raw` is the text `"1"` and a row's key is the number 1,
    or the other way round (a CSV deck's keys are texts, a JSON table's may be numbers)."""
    if isinstance(raw, str) and re.fullmatch(r"-?[0-9]+", raw.strip()) and json.dumps(int(raw)) in index:
        return f"; a row has the number {int(raw)}, and this is the text {json.dumps(raw)}"
    if isinstance(raw, int) and not isinstance(raw, bool) and json.dumps(str(raw)) in index:
        return f"; a row has the text \"{raw}\", and this is a number"
    return ""


def _row_key(name: str, fieldname: str, index: dict[str, int], fallback: Any):
    """The leaf converter of a `by T.f` column: a key to its row number in T (`index`: the
    key's JSON -> row), or `fallback` (the column's default) for a key outside the data."""
    def key(raw, t):
        row = index.get(json.dumps(raw, sort_keys=True))
        if row is None and fallback is not None:
            return fallback, None  # a key outside the data (a card of another set) takes the default
        if row is None:
            return None, f"names no row of `{name}` (no `{fieldname}` equal to it{_other_kind(raw, index)})"
        if isinstance(t, ir.IntT) and not t.lo <= row <= t.hi:
            return None, f"is row {row}, outside {t.lo}..{t.hi}"
        return row, None
    return key
