"""Checks of hole texts keyed on the text: the `texts of F, ... { ... }` declarations.

Public surface: `build(checker, decls, holes, fill_decls) -> (holes, contexts)`,
`compile_pattern(...) -> Pattern | None`, `NUMBER_WORDS`.

A spec states, per hole family (or plain hole), what the fill of a text must do, from the
text and never from the model (`envc fill` judges fills with it, `llm_fill/props.py`):

    texts of attack_effect {
        symbol "{R}" = Energy.fire
        context(c, k, hurt: int[0..20]) when phase == Phase.main { card[p][0] = c ... }
        modifies dmg, damage, energy
        mentions "flip <N> coins" draws N
        mentions "this Pokémon" modifies damage[p][0], energy[p][0]
        text "Heal <N> damage from this Pokémon."
            ensures damage[p][0] == max(old(damage[p][0]) - N, 0)
            scenario given damage[p][0] = 50 then damage[p][0] == max(50 - N, 0)
    }

Patterns. A pattern is literal text with captures: `<N>` (digits, an `int`), `<N: count>`
(digits, or "a", "an", "one" ... "ten"), `<E: symbol>` (one of the declared symbols; its
value), `<C: Enum>` (a member of enum `Enum` by its name or its data name). Matching
ignores case; runs of white space match any white space, `'` matches `’` and the dashes
`-`, `−`, `–`, `—` match each other; a pattern that starts or ends with a letter or digit
does not match inside a word. A `text` pattern must match a whole text (an *exact
contract*); a `mentions` pattern matches anywhere in a text, as often as it occurs. A match
that lies inside a longer match of another rule is dropped (of two equal ones, the rule
written first is kept), so `"flip a coin until you get tails"` overrides `"flip a coin"`
and `"each of your opponent's Benched Pokémon"` overrides `"your opponent's Benched Pokémon"`.

What one text gets (`ir.Contract`):

* `ensures`: the clauses of its `text` rule, of the `mentions` rules kept, and of its fill
  (`fill F text "..." ensures ... { }`), each with its captures bound to their values;
* the frame (`modifies`): the `text` rule's if it has one, else the union of the kept
  `mentions` rules' frames, else the frame of the `texts of` block; `modifies any` in a
  chosen rule means no frame;
* `draws`: the `text` rule's `draws` if it has one, else the sum of the kept `mentions`
  rules' (`draws N`, `at least N`, `any`); a text that no draw rule matches draws nothing
  when its block has any draw rule, and is unconstrained otherwise;
* `choosers`: the `chooses WHO [among COUNT]` clauses of the `text` rule and of the kept
  `mentions` rules (`ir.ChooserRule`): who decides, and among how many options;
* the printed numbers (`\\d+`) and symbols that no rule covers: a number inside a kept
  match (or any number, for a text with a `text` rule) is the rule's business; the others
  must be used by the fill (the judge varies them);
* the numbers that come from data (`ir.DataNumber`): a rule's `where N = Table.column, ...`
  says that capture `N` is printed from that integer column of the text's row (the rows of
  the family's table whose text column holds the text). Data tables often print what the
  spec reads from them (a move's recoil 1/4, its 2-5 hits), so the fill does not write the
  number: it must read the column, and the judge changes the column's value in the text's
  rows and wants some outcome to change (`llm_fill/textchecks.py`). Errors: E0165 for an
  item whose `N` is not a captured number, whose table is not the text's (a plain hole has
  no row), or whose column is not an integer column; E0166 for a row of the text whose
  column does not hold the printed number;
* scenarios, and the block's `context`.

Errors (file:line:col): E0165 for a pattern that does not compile (an unclosed `<`, an
unknown capture kind, a duplicate capture) or a malformed rule (`draws` of an unknown
capture, a `modifies` that names no state field); E0166 for a rule that matches no text, a
capture that no clause uses, and a text that two `text` rules match. Clauses are
type-checked like any `ensures`, once per text they apply to.

Decision: none of this enters a hole's hash. A hash says "the rule changed, the fill may be
wrong"; a text rule is a check of fills, and adding one must not make every fill stale
(`envc fill` judges fills against the rules as they are; `Judge.judge_written` re-judges
the fills written by hand).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from envc.compiler import ir
from envc.compiler.diagnostics import Span, did_you_mean
from envc.dsl import ast

#: the words a `<N: count>` capture reads as numbers
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10}
_NUMBER = re.compile(r"(?<![\w{])\d+(?![\w}])")
_DASHES = "-−–—"
_QUOTES = "'’"


@dataclass
class Capture:
    name: str
    kind: str
    span: Span
    regex: str
    values: dict[str, Any]  # casefolded matched text -> value (empty: int)
    type: ir.Type | None = None  # None: an int of the matched value


@dataclass
class Pattern:
    text: str
    regex: re.Pattern
    captures: list[Capture] = field(default_factory=list)


@dataclass
class Symbol:
    text: str
    value: Any
    type: ir.Type
    span: Span


def _literal(text: str) -> str:
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            while i < len(text) and text[i].isspace():
                i += 1
            out.append(r"\s++")  # (possessive, as the captures are atomic: no backtracking, hunt N)
            continue
        if ch in _QUOTES:
            out.append(f"[{_QUOTES}]")
        elif ch in _DASHES:
            out.append(f"[{re.escape(_DASHES)}]")
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _sub_span(checker, span: Span, start: int, end: int) -> Span:
    """The span of characters `start:end` of the string literal at `span` (offsets in the
    unescaped string; the literal is on one line)."""
    raw = checker.source_text(span)[1:-1]
    offsets = []
    i = 0
    while i < len(raw):
        offsets.append(i)
        i += 2 if raw[i] == "\\" and i + 1 < len(raw) else 1
    offsets.append(len(raw))
    a = offsets[min(start, len(offsets) - 1)]
    b = offsets[min(end, len(offsets) - 1)]
    b = max(b, a + 1)
    return Span(file=span.file, start=span.start + 1 + a, end=span.start + 1 + b, line=span.line,
                col=span.col + 1 + a, end_line=span.line, end_col=span.col + 1 + b)


def _pattern_capture(checker, text: str, span: Span, i: int, end: int, captures: list[Capture],
                     symbols: dict[str, Symbol]) -> Capture | None:
    """The capture `<...>` of pattern `text` that opens at `i` and closes at `end` (-1: never):
    None after E0165 when it is not closed, has no name or a name already captured, or an
    unknown kind (`_capture`)."""
    if end < 0:
        checker.err("E0165", "the capture is not closed", _sub_span(checker, span, i, len(text)), "no `>` after it",
                    help="close it: `<N>`")
        return None
    inner = text[i + 1:end]
    name, _, kind = inner.partition(":")
    name, kind = name.strip(), kind.strip() or "int"
    cspan = _sub_span(checker, span, i, end + 1)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        checker.err("E0165", f"`{name}` is not a capture name", cspan, "a capture needs a name",
                    help="write `<N>`, `<N: count>`, `<E: symbol>` or `<C: EnumName>`")
        return None
    if any(c.name == name for c in captures):
        checker.err("E0165", f"capture `{name}` is defined twice", cspan, "again here", help="rename one of them")
        return None
    if not checker.check_hides_field(name, cspan, True, "capture"):  # (its `ensures` read the capture: hunt N)
        return None
    return _capture(checker, name, kind, cspan, symbols)


def compile_pattern(checker, text: str, span: Span, symbols: dict[str, Symbol]) -> Pattern | None:
    """Compile a text pattern (see the module docstring); report E0165 and return None when
    it does not compile."""
    parts: list[str] = []
    captures: list[Capture] = []
    literal_start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "[":
            end = text.find("]", i)
            if end < 0 or any(x in text[i + 1:end] for x in "<>["):
                checker.err("E0165", "the optional part is not closed" if end < 0 else
                            "an optional part holds literal text only", _sub_span(checker, span, i, len(text)
                                                                                 if end < 0 else end + 1),
                            help="write an optional part as `[s]`: `card[s]` matches `card` and `cards`")
                return None
            parts.append(_literal(text[literal_start:i]))
            parts.append(f"(?:{_literal(text[i + 1:end])})?")
            i = literal_start = end + 1
            continue
        if ch == "]":
            checker.err("E0165", "this `]` closes no optional part", _sub_span(checker, span, i, i + 1),
                        help="an optional part is written `[s]`")
            return None
        if ch == ">":
            checker.err("E0165", "this `>` closes no capture", _sub_span(checker, span, i, i + 1), "no `<` before it",
                        help="a capture is written `<N>`, `<N: count>`, `<E: symbol>` or `<C: EnumName>`")
            return None
        if ch != "<":
            i += 1
            continue
        end = text.find(">", i)
        cap = _pattern_capture(checker, text, span, i, end, captures, symbols)
        if cap is None:
            return None
        parts.append(_literal(text[literal_start:i]))
        captures.append(cap)
        # atomic: a capture never gives back what it matched, so adjacent captures (`<A><B>`) and
        # long digit runs cannot make the match backtrack over every split (a data text of 60
        # digits against ten adjacent captures ran for minutes: hunt N)
        parts.append(f"(?P<{cap.name}>(?>{cap.regex}))")
        i = literal_start = end + 1
    parts.append(_literal(text[literal_start:]))
    if not text.strip():
        checker.err("E0165", "an empty pattern", span, help="write the text, or the part of it, to match")
        return None
    body = "".join(parts)
    first, last = text.strip()[0], text.strip()[-1]
    body = (r"(?<!\w)" if first.isalnum() or first == "<" else "") + body
    body += r"(?!\w)" if last.isalnum() or last == ">" else ""
    try:
        regex = re.compile(body, re.IGNORECASE)
    except re.error as e:  # pragma: no cover - every literal is escaped
        checker.err("E0165", f"the pattern does not compile: {e}", span)
        return None
    return Pattern(text, regex, captures)


def _capture(checker, name: str, kind: str, span: Span, symbols: dict[str, Symbol]) -> Capture | None:
    if kind == "int":
        return Capture(name, kind, span, r"\d+", {})
    if kind == "count":
        words = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
        return Capture(name, kind, span, rf"\d+|(?:{words})(?!\w)", dict(NUMBER_WORDS))
    if kind == "symbol":
        if not symbols:
            checker.err("E0165", f"capture `{name}` reads a symbol, and no `symbol` is declared", span,
                        help='declare them in the block: `symbol "{R}" = Energy.fire`')
            return None
        types = {str(s.type) for s in symbols.values()}
        if len(types) > 1:
            checker.err("E0165", f"capture `{name}` reads a symbol, and the symbols have {len(types)} types", span,
                        help="declare symbols of one type per block")
            return None
        ordered = sorted(symbols, key=len, reverse=True)
        return Capture(name, kind, span, "|".join(re.escape(s) for s in ordered),
                       {s.casefold(): symbols[s].value for s in ordered}, next(iter(symbols.values())).type)
    enum = checker.enums.get(kind)
    if enum is None:
        enums = f" or an enum ({', '.join(f'`{e}`' for e in checker.enums)})" if checker.enums else ""
        checker.err("E0165", f"unknown capture kind `{kind}`", span, "not a kind of capture",
                    help=did_you_mean(kind, ["int", "count", "symbol", *checker.enums])
                    or f"kinds: `int` (the default), `count`, `symbol`{enums}")
        return None
    names: dict[str, int] = {}
    for i, member in enumerate(enum.members):
        names[member.casefold()] = i
        alias = enum.aliases[i] if i < len(enum.aliases) else None
        if alias:
            names[alias.casefold()] = i
    ordered = sorted(names, key=len, reverse=True)
    return Capture(name, kind, span, "|".join(_literal(n) for n in ordered), names,
                   ir.EnumT(name=enum.name, size=len(enum.members)))


# ------------------------------------------------------------------ building contracts


@dataclass
class _Rule:
    decl: ast.TextRule
    pattern: Pattern
    index: int  # order of declaration (ties of overlapping matches)
    block: ast.TextsDecl
    used: bool = False


@dataclass
class _Match:
    rule: _Rule
    start: int
    end: int
    values: dict[str, Any]


@dataclass
class _Target:
    """What the `texts of` blocks say about one family or plain hole."""

    name: str
    rules: list[_Rule] = field(default_factory=list)
    symbols: dict[str, Symbol] = field(default_factory=dict)
    frames: list[ast.Modifies] = field(default_factory=list)
    context: ast.ContextDecl | None = None
    context_def: ir.ContextDef | None = None
    draw_rules: bool = False


def build(checker, decls: list, holes: list[ir.HoleDef], fill_decls: dict[str, ast.FillDecl]
          ) -> tuple[list[ir.HoleDef], list[ir.ContextDef]]:
    """Each hole with its `contract` (see the module docstring), and the contexts.

    `decls`: the spec's `TextsDecl`s; `fill_decls`: the fill item of each hole that has one."""
    targets: dict[str, _Target] = {}
    order = 0
    for d in decls:
        names = _block_targets(checker, d, holes)
        _gather(checker, d, names, targets)
        for rule in d.rules:
            order += 1
            _add_rule(checker, d, rule, names, targets, order)
    contexts = []
    for t in targets.values():
        if t.context is not None:
            t.context_def = _context(checker, t, holes)
            if t.context_def is not None:
                contexts.append(t.context_def)
    out = []
    for h in holes:
        target = targets.get(h.family or h.name)
        contract = _contract(checker, h, target, fill_decls.get(h.name))
        out.append(h.model_copy(update={"contract": contract}))
    _report_unused(checker, targets, holes)
    return out, contexts


def _block_targets(checker, d: ast.TextsDecl, holes: list[ir.HoleDef]) -> list[str]:
    """The targets of a `texts of` block: each a hole family or a hole outside any family
    (E0100 for one that is neither, or a family's member)."""
    by_hole = {h.name: h for h in holes}
    families = checker.families
    names = []
    for name, span in d.targets:
        if name not in families and name not in by_hole and name in checker.broken:
            continue  # (a family whose table was reported: hunt U)
        if name not in families and name not in by_hole:
            checker.err("E0100", f"`texts of` names no hole family or hole `{name}`", span, "unknown",
                        help=did_you_mean(name, list(families) + [h.name for h in holes if h.family is None])
                        or "name a hole family (`hole F(...) per T.col`) or a hole")
            continue
        if name in by_hole and by_hole[name].family is not None:
            checker.err("E0100", f"`{name}` is one text of family `{by_hole[name].family}`", span,
                        help=f"write `texts of {by_hole[name].family}` and a `text` rule for it")
            continue
        names.append(name)
    return names


def _gather(checker, d: ast.TextsDecl, names: list[str], targets: dict[str, _Target]) -> None:
    """Add block `d`'s symbols (the first declaration of a symbol wins), frames and context to
    each of its targets (E0101 for a second context of a target)."""
    symbols = _symbols(checker, d)
    for name in names:
        t = targets.setdefault(name, _Target(name))
        for s, sym in symbols.items():
            t.symbols.setdefault(s, sym)
        t.frames += d.modifies
        for c in d.contexts:
            if t.context is not None:
                checker.err("E0101", f"a second `context` for `{name}`", c.span, "again here",
                            notes=[f"the first is at {t.context.span.file}:{t.context.span.line}:"
                                   f"{t.context.span.col}"], help="keep one")
                continue
            t.context = c


def _add_rule(checker, d: ast.TextsDecl, rule: ast.TextRule, names: list[str], targets: dict[str, _Target],
              order: int) -> None:
    """Compile one rule of block `d` (its pattern with the targets' symbols, its `draws` and
    `where` items) and add it to each target; a rule with an error is reported and left out."""
    symbols_here = {}
    for name in names:
        symbols_here.update(targets[name].symbols)
    pattern = compile_pattern(checker, rule.pattern, rule.pattern_span, symbols_here)
    if pattern is None or not _draws_ok(checker, rule, pattern) or not _data_ok(checker, rule, pattern, names):
        return
    _unused_captures(checker, rule, pattern)
    for name in names:
        targets[name].rules.append(_Rule(rule, pattern, order, d))
        if rule.draws:
            targets[name].draw_rules = True


def _draws_ok(checker, rule: ast.TextRule, pattern: Pattern) -> bool:
    """Whether every bound of the rule's `draws` clauses is a number or a capture of the
    pattern (E0165 for the first that is not)."""
    captured = {c.name for c in pattern.captures}
    bad = [d for d in rule.draws for b in (d.lo, d.hi) if isinstance(b, str) and b not in captured]
    for d in bad[:1]:
        name = next(b for b in (d.lo, d.hi) if isinstance(b, str) and b not in captured)
        checker.err("E0165", f"`draws {name}` names no number captured by the pattern", d.span,
                    "unknown capture", help=f"capture it in the pattern (`<{name}>` or `<{name}: count>`), "
                    "or write a number")
    return not bad


def _report_unused(checker, targets: dict[str, _Target], holes: list[ir.HoleDef]) -> None:
    """Report each rule that matched no text of its targets (`_no_match`), once per rule."""
    used = {id(r.decl) for t in targets.values() for r in t.rules if r.used}
    reported: set[int] = set()
    for t in targets.values():
        for r in t.rules:
            if id(r.decl) in used or id(r.decl) in reported:
                continue
            reported.add(id(r.decl))
            target_names = {n for n, _ in r.block.targets}
            _no_match(checker, r, [h.prose for h in holes if (h.family or h.name) in target_names])


def _symbols(checker, d: ast.TextsDecl) -> dict[str, Symbol]:
    from envc.compiler.check_base import Ctx, _Poison

    out: dict[str, Symbol] = {}
    for s in d.symbols:
        if not s.symbol.strip():
            checker.err("E0165", "an empty symbol", s.span, help='write the symbol as printed: `symbol "{R}" = ...`')
            continue
        if s.symbol in out:
            checker.err("E0101", f"symbol `{s.symbol}` is declared twice", s.span, help="keep one")
            continue
        try:
            e = checker.expr(s.value, Ctx("constant", pure=True))
            value = checker.fold(e, "a symbol's value")
        except _Poison:
            continue
        out[s.symbol] = Symbol(s.symbol, value, e.type, s.span)
    return out


def _names_in(x) -> Iterator[str]:
    """Every name `x` (an AST node, or lists of them) reads, once per use."""
    if isinstance(x, ast.Name):
        yield x.name
        return
    if isinstance(x, (list, tuple)):
        for y in x:
            yield from _names_in(y)
        return
    if hasattr(x, "__dataclass_fields__") and not isinstance(x, Span):
        for k in x.__dataclass_fields__:
            if k != "span":
                yield from _names_in(getattr(x, k))


def _unused_captures(checker, rule: ast.TextRule, pattern: Pattern) -> None:
    used = set(_names_in([rule.ensures, rule.modifies, rule.scenarios, rule.chooses, rule.chances]))
    used |= {b for d in rule.draws for b in (d.lo, d.hi) if isinstance(b, str)}
    used |= {c.num for c in rule.chances if isinstance(c.num, str)}
    used |= set(_names_in([d.among for d in rule.draws]))
    used |= {x.name for x in rule.data}
    for c in pattern.captures:
        if c.name not in used:
            checker.err("E0166", f"capture `{c.name}` is used by no clause of the rule", c.span, "never used",
                        help=f"use `{c.name}` in an `ensures`, `modifies`, `draws`, `chooses`, `with chance`, `scenario` or `where` clause, "
                        "or write the text literally")


def _data_ok(checker, rule: ast.TextRule, pattern: Pattern, names: list[str]) -> bool:
    """Whether the `where N = Table.column` items of `rule` are well formed (E0165 for each
    that is not): `N` a number the pattern captures, `Table` the table whose text column
    holds the texts of every target (a hole family's), `column` an integer column of it."""
    ok = True
    captures = {c.name: c for c in pattern.captures}
    for item in rule.data:
        if item.table in checker.broken or f"{item.table}.{item.column}" in checker.broken:
            ok = False  # (its data was reported: hunt U)
            continue
        cap = captures.get(item.name)
        if cap is None or cap.kind not in ("int", "count"):
            checker.err("E0165", f"`where {item.name} = ...` names no number captured by the pattern", item.name_span,
                        "not a captured number" if cap is not None else "unknown capture",
                        help=f"capture the printed number in the pattern (`<{item.name}>` or `<{item.name}: count>`)"
                        if cap is None else "only a number (`<N>`, `<N: count>`) can come from a data column")
            ok = False
            continue
        tables = {checker.families[n].table for n in names if n in checker.families}
        plain = [n for n in names if n not in checker.families]
        if plain or tables != {item.table}:
            where = f"the texts of `{plain[0]}` are no table's" if plain else \
                f"the texts of {', '.join(f'`{n}`' for n in names)} are in table `{'`, `'.join(sorted(tables))}`"
            checker.err("E0165", f"`{item.table}.{item.column}` is not a column of the text's row", item.column_span,
                        where, help="a number can come from a column of the row whose text column holds the text "
                        "(a hole family `hole F(...) per Table.column` and its table); else write it in an `ensures`")
            ok = False
            continue
        table = checker.tables[item.table]
        col = next((c for c in table.columns if c.name == item.column), None)
        if (item.table, item.column) in checker.text_columns:
            col = None  # (a text column holds the number of its text, not a printed number)
        if col is None or not isinstance(col.type, ir.IntT):
            checker.err("E0165", f"table `{item.table}` has no integer column `{item.column}`", item.column_span,
                        "unknown column" if col is None else f"a column of type `{col.type}`",
                        help=did_you_mean(item.column, [c.name for c in table.columns if isinstance(c.type, ir.IntT)
                                                        and (item.table, c.name) not in checker.text_columns])
                        or "name an `int[lo..hi]` column of the table")
            ok = False
    return ok


def _data_numbers(checker, h: ir.HoleDef, chosen: list[_Match]) -> list[ir.DataNumber]:
    """The printed numbers of `h`'s text that `where N = Table.column` items say come from the
    text's rows; E0166 where a row that carries the text holds another value."""
    fam = checker.families.get(h.family) if h.family is not None else None
    if fam is None:
        return []
    table = checker.tables[fam.table]
    num = fam.members.index(h.name) + 1
    text_cols = [c for c in table.columns if c.name in fam.columns]
    rows = [r for r in range(table.rows) if any(c.values[r] == num for c in text_cols)]
    out: list[ir.DataNumber] = []
    for m in chosen:
        for item in m.rule.decl.data:
            value = m.values[item.name]
            col = next(c for c in table.columns if c.name == item.column)
            wrong = [r for r in rows if col.values[r] != value]
            for r in wrong[:1]:
                label = f"{table.labels[r]} ({table.name}#{r})" if table.labels else f"{table.name}#{r}"
                checker.err("E0166", f"the text prints {value} as `{item.name}`, and `{table.name}.{item.column}` of "
                            f"{label} is {col.values[r]}", item.column_span, "not the printed number",
                            notes=[f"text: \"{h.prose[:120]}\""] + ([f"{len(wrong) - 1} more row(s) of the text differ"]
                                                                     if len(wrong) > 1 else []),
                            help="name the column that holds the printed number, or fix the data")
            if wrong:
                continue
            out.append(ir.DataNumber(capture=item.name, value=value, table=table.name, column=item.column, rows=rows,
                                     rule=_rule_name(m.rule)))
    return out


def _no_match(checker, r: _Rule, texts: list[str]) -> None:
    import difflib

    what = "whole text" if r.decl.whole else "text"
    close = difflib.get_close_matches(r.decl.pattern, texts, n=1, cutoff=0.5)
    checker.err("E0166", f"`{'text' if r.decl.whole else 'mentions'}` rule matches no {what}",
                r.decl.pattern_span, "no text matches this pattern",
                notes=[f"the closest text: \"{close[0]}\""] if close else [],
                help=("fix the pattern (matching ignores case; `<N>` captures a number), or remove the rule"
                      if r.decl.whole else "fix the pattern, or remove the rule")
                + ("; captures side by side (`<A><B>`) never split one number: the first takes all its "
                   "digits" if "><" in r.decl.pattern else ""))


def _matches(rule: _Rule, text: str) -> list[_Match]:
    out = []
    for m in rule.pattern.regex.finditer(text):
        out.append(_Match(rule, m.start(), m.end(), _values(rule.pattern, m)))
    return out


def _values(pattern: Pattern, m: re.Match) -> dict[str, Any]:
    out = {}
    for c in pattern.captures:
        raw = m.group(c.name)
        if raw.isdigit():
            out[c.name] = int(raw)
        else:
            out[c.name] = c.values[raw.casefold()] if raw.casefold() in c.values else c.values[
                next(k for k in c.values if re.fullmatch(_literal(k), raw, re.IGNORECASE))]
    return out


def _kept(matches: list[_Match]) -> list[_Match]:
    """The matches that no longer match of another rule contains (of two equal ones, the rule
    written first is kept), in text order."""
    kept: list[_Match] = []
    for m in sorted(matches, key=lambda m: (-(m.end - m.start), m.rule.index, m.start)):
        if not any(k.start <= m.start and m.end <= k.end and k.rule is not m.rule for k in kept):
            kept.append(m)
    return sorted(kept, key=lambda m: (m.start, m.rule.index))


def _exact_match(checker, text: str, rules: list[_Rule]) -> list[_Match]:
    """The match of the `text` rule whose pattern matches the whole text (none, or one: a
    second such rule is E0166, and marked used so that it is not reported unused too)."""
    whole = [r for r in rules if r.decl.whole and r.pattern.regex.fullmatch(text)]
    for extra in whole[1:]:
        extra.used = True
        first = whole[0].decl.pattern_span
        checker.err("E0166", "two `text` rules match the same text", extra.decl.pattern_span, "matches it too",
                    notes=[f"text: \"{text[:120]}\"", f"the first rule is at {first.file}:{first.line}:{first.col}"],
                    help="make the patterns tell the texts apart, or keep one rule")
    found = whole[0].pattern.regex.fullmatch(text) if whole else None  # (not None when `whole` has a rule)
    return [_Match(whole[0], 0, len(text), _values(whole[0].pattern, found))] if found is not None else []


def _rule_clauses(checker, h: ir.HoleDef, chosen: list[_Match]) -> tuple[list[ir.TextClause], list[ir.ScenarioDef]]:
    """The `ensures` clauses and scenarios of the matched rules, their captures bound to the
    values matched (those that do not check are left out: the checker has reported them)."""
    ensures: list[ir.TextClause] = []
    scenarios: list[ir.ScenarioDef] = []
    for m in chosen:
        kind: Literal["text", "mentions"] = "text" if m.rule.decl.whole else "mentions"
        ensures += [c.model_copy(update={"rule": _rule_name(m.rule)}) for c in
                    (_clause(checker, h, e, m.values, kind, m.rule.pattern) for e in m.rule.decl.ensures)
                    if c is not None]
        scenarios += [sc for sc in (_scenario(checker, h, s, m.values, m.rule.pattern) for s in m.rule.decl.scenarios)
                      if sc is not None]
    return ensures, scenarios


def _contract(checker, h: ir.HoleDef, t: _Target | None, fill: ast.FillDecl | None) -> ir.Contract:
    """The contract of hole `h` from the rules of its target `t` (None: no `texts of` block) and
    its fill item's own `ensures` and scenarios: the `text` rule that matches the whole text
    (E0166 for a second one), the `mentions` rules kept, their clauses, frame, draws, data and
    the numbers and symbols no rule covers."""
    text = h.prose.strip()
    rules = t.rules if t is not None else []
    exact = _exact_match(checker, text, rules)
    kept = _kept([m for r in rules if not r.decl.whole for m in _matches(r, text)])
    for m in exact + kept:
        m.rule.used = True
    # a rule matching twice with the same captures ("gem[s]" in "loses 2 gems and gains 2 gems")
    # gives its clauses, frame and name once (they were listed twice in the judge's messages:
    # hunt Q, M2); `draws` and the printed numbers still count every match
    chosen = list({(id(m.rule), tuple(sorted(m.values.items()))): m for m in exact + kept}.values())
    ensures, scenarios = _rule_clauses(checker, h, chosen)
    choosers = _choosers(checker, h, chosen)
    draw_rules = _draw_rules(checker, h, chosen)
    chances = _chances(checker, h, chosen)
    if fill is not None:
        ensures += [c for c in (_clause(checker, h, e, {}, "fill") for e in fill.ensures) if c is not None]
        scenarios += [sc for sc in (_scenario(checker, h, s, {}) for s in fill.scenarios) if sc is not None]
    frame = _frame(checker, h, t, exact, chosen[len(exact):])
    draws = _draws(checker, t, exact, kept)
    numbers, symbols = _uncovered(text, t, exact, kept)
    data = _data_numbers(checker, h, chosen)
    described = [_rule_name(m.rule) for m in chosen]
    return ir.Contract(exact=bool(exact) or bool(fill is not None and fill.ensures), ensures=ensures, frame=frame,
                       draws=draws, draw_rules=draw_rules, choosers=choosers, chances=chances, numbers=numbers, symbols=symbols, data=data, scenarios=scenarios,
                       context=t.context_def.name if t is not None and t.context_def is not None else None,
                       rules=described)


def _rule_name(r: _Rule) -> str:
    """A rule as `file:line text "pattern"` (`ir.Contract.rules`, `ir.DataNumber.rule`)."""
    return f"{r.decl.pattern_span.file}:{r.decl.pattern_span.line} {'text' if r.decl.whole else 'mentions'} " \
           f"\"{r.decl.pattern}\""


def _source(checker, span: Span) -> str:
    """The source under `span`, with the parentheses around its first or last operand that
    the span leaves out (`x == (a + b)` spans `x == (a + b`)."""
    src = next((m.source for m in (checker.mod, checker.fills) if m is not None and m.path == span.file), "")
    start, end = span.start, span.end
    text = src[start:end]
    opened = text.count("(") - text.count(")")
    while opened > 0:
        nxt = end + len(src[end:]) - len(src[end:].lstrip(" \t"))
        if not src.startswith(")", nxt):
            break
        end, opened = nxt + 1, opened - 1
    while opened < 0:
        prev = len(src[:start].rstrip(" \t"))
        if prev == 0 or src[prev - 1] != "(":
            break
        start, opened = prev - 1, opened + 1
    return src[start:end]


def _shown(checker, source: str, values: dict[str, Any], types: dict[str, ir.Type]) -> str:
    """`source` with each capture written as its value (`N` -> `30`, `E` -> `Energy.fire`)."""
    def value_text(name: str) -> str:
        v, t = values[name], types.get(name)
        if isinstance(t, ir.EnumT):
            return f"{t.name}.{checker.enums[t.name].members[v]}"
        return str(v)

    if not values:
        return source
    names = "|".join(re.escape(n) for n in sorted(values, key=len, reverse=True))
    return re.sub(rf"(?<![\w.])({names})(?!\w)", lambda m: value_text(m.group(1)), source)


def _ctx(h: ir.HoleDef, types: dict[str, ir.Type]):
    from envc.compiler.check_base import Ctx

    ctx = Ctx("ensures", pure=True)
    ctx.scopes[0].update({p.name: p.type for p in h.params})
    if h.ret is not None:
        ctx.scopes[0]["result"] = h.ret
    ctx.scopes[0].update(types)
    return ctx


def _types(values: dict[str, Any], pattern: Pattern | None) -> dict[str, ir.Type]:
    kinds = {c.name: c for c in pattern.captures} if pattern is not None else {}
    out = {}
    for name, v in values.items():
        c = kinds.get(name)
        out[name] = c.type if c is not None and c.type is not None else ir.IntT(lo=v, hi=v)
    return out


def _memo(checker, kind: str, node, h: ir.HoleDef, values: dict[str, Any], make):
    """`make()` once per (clause, target, capture values): a rule's clause gives the same IR for
    every text with the same captures (`"this Pokémon"` matches dozens of texts)."""
    memo = checker.__dict__.setdefault("_contract_memo", {})
    key = (kind, id(node), h.family or h.name, tuple(sorted(values.items())))
    if key not in memo:
        memo[key] = (node, make())  # (the node is kept so that its id is not reused)
    return memo[key][1]


def _clause(checker, h: ir.HoleDef, e: ast.Expr, values: dict[str, Any], origin: Literal["text", "mentions", "fill"],
            pattern: Pattern | None = None) -> ir.TextClause | None:
    return _memo(checker, origin, e, h, values, lambda: _make_clause(checker, h, e, values, origin, pattern))


def _make_clause(checker, h: ir.HoleDef, e: ast.Expr, values: dict[str, Any], origin: Literal["text", "mentions", "fill"],
                 pattern: Pattern | None = None) -> ir.TextClause | None:
    from envc.compiler.check_base import _Poison

    types = _types(values, pattern)
    try:
        ie = checker.expr(e, _ctx(h, types))
        checker.require_type(ie, ir.BOOL, e.span, "an `ensures` clause")
    except _Poison:
        return None
    # a capture is `parametric` when every use of it is a read of its value (a `Local`), none
    # folded into a constant (`for s in 0..N`): the judge may then bind it to another value
    uses = list(_names_in(e))
    reads = [n.name for n in ir.walk(ie) if isinstance(n, ir.Local)]
    parametric = [k for k in values if uses.count(k) == reads.count(k)]
    return ir.TextClause(expr=ie, env=dict(values), source=_shown(checker, _source(checker, e.span), values, types),
                         origin=origin, span=e.span, parametric=parametric)


def _rule_clauses_of(checker, h: ir.HoleDef, chosen: list[_Match], kind: str, make: Callable[..., Any]) -> list:
    """The IR of the matched rules' clauses of one kind (`chooses`, `chances`: the rule
    declaration's field), each made once per hole and captures (`_memo`) by `make(checker, h,
    clause, values, pattern)`; those that do not check (None) are left out."""
    out = []
    for m in chosen:
        for d in getattr(m.rule.decl, kind):
            c = _memo(checker, kind, d, h, m.values, lambda d=d, m=m: make(checker, h, d, m.values, m.rule.pattern))
            if c is not None:
                out.append(c)
    return out


def _choosers(checker, h: ir.HoleDef, chosen: list[_Match]) -> list[ir.ChooserRule]:
    """The `chooses` clauses of the matched rules (those that do not check are left out)."""
    return _rule_clauses_of(checker, h, chosen, "chooses", _chooser)


def _chooser(checker, h: ir.HoleDef, c: ast.Chooses, values: dict[str, Any],
             pattern: Pattern | None) -> ir.ChooserRule | None:
    """The IR of clause `chooses WHO [among COUNT]` for hole `h` with the rule's capture
    `values`; E0110 (and None) where `WHO` or `COUNT` is not an integer."""
    from envc.compiler.check_base import _Poison

    types = _types(values, pattern)
    parts: list[ir.Expr] = []
    for e, what in ((c.who, "the player who chooses"), (c.among, "the number of options")):
        if e is None:
            continue
        try:
            ie = checker.expr(e, _ctx(h, types))
        except _Poison:
            return None
        if not isinstance(ie.type, ir.IntT):
            checker.err("E0110", f"{what} (`chooses`) must be an integer", e.span, f"this is `{ie.type}`",
                        help="`chooses 1 - p among len(hand[1 - p])`: a player number, and how many options "
                        "the text lets that player choose among")
            return None
        parts.append(ie)
    return ir.ChooserRule(who=parts[0], among=parts[1] if c.among is not None else None, env=dict(values),
                          source=_shown(checker, _source(checker, c.span), values, types),
                          who_source=_shown(checker, _source(checker, c.who.span), values, types), span=c.span)


def _chances(checker, h: ir.HoleDef, chosen: list[_Match]) -> list[ir.ChanceRule]:
    """The `with chance` clauses of the matched rules (those that do not check are left out)."""
    return _rule_clauses_of(checker, h, chosen, "chances", _chance)


#: built-ins of `ensures` that read the random words of the state before a call: in a `chance`
#: clause, whose outcomes come from every value of the draws, not from those words, they mean nothing
_WORD_READERS = ("flip", "drawn", "heads", "heads_until_tails", "draws")


def _chance(checker, h: ir.HoleDef, c: ast.Chance, values: dict[str, Any],
            pattern: Pattern | None) -> ir.ChanceRule | None:
    """The IR of clause `with chance A in B [for i in lo..hi] [where GUARD]: COND` for hole `h`
    with the rule's capture `values`; E0165 (and None) where A names no captured number or a
    constant A/B is not a probability, E0110 where B is not an integer, `GUARD` or `COND` not a
    bool, or one of them reads the random words."""
    from envc.compiler.check_base import _Poison

    types = _types(values, pattern)
    ctx = _ctx(h, types)
    lo = hi = 0
    try:
        if c.var is not None:
            lo, hi = checker.loop_bounds(c.lo, c.hi, c.inclusive, c.span, ctx, c.var)
            ctx.scopes.append({c.var: ir.IntT(lo=lo, hi=max(lo, hi - 1))})
        if isinstance(c.num, ast.Expr):
            num: ir.Expr | None = checker.expr(c.num, ctx)
        else:
            bound = _bound(checker, c.num, values, c.span, "with chance")
            num = None if bound is None else ir.Const(value=bound, type=ir.IntT(lo=bound, hi=bound), span=c.span)
        den = checker.expr(c.den, ctx)
    except _Poison:
        return None
    if num is None:
        return None
    for e, what, span in ((num, "the outcomes the chance counts (`with chance A in B`)", c.span),
                          (den, "the number of outcomes (`with chance A in B`)", c.den.span)):
        if not isinstance(e.type, ir.IntT):
            checker.err("E0110", f"{what} must be an integer", span, f"this is `{e.type}`",
                        help="`with chance 30 in 100`, or `with chance 1 in count(...)`: A of B equally likely outcomes")
            return None
    if not isinstance(num.type, ir.IntT) or not isinstance(den.type, ir.IntT) or den.type.hi < max(num.type.lo, 1) \
            or num.type.hi < 0:
        a = f"({_source(checker, c.num.span)})" if isinstance(c.num, ast.Expr) else \
            str(num.value) if isinstance(num, ir.Const) else str(c.num)
        checker.err("E0165", f"`with chance {a} in {_source(checker, c.den.span)}` is no probability", c.span, "not in 0..1",
                    help="write `with chance A in B` with 0 <= A <= B and B > 0 (\"30% chance\": `with chance 30 in 100`)")
        return None
    parts: list[ir.Expr | None] = []
    for e, what in ((c.guard, "the condition after `where`"), (c.cond, "the outcome")):
        part = None if e is None else _chance_part(checker, e, ctx, what)
        if e is not None and part is None:
            return None
        parts.append(part)
    assert parts[1] is not None  # (COND is required by the grammar)
    return ir.ChanceRule(num=num, den=den, guard=parts[0], cond=parts[1], var=c.var, lo=lo, hi=hi, env=dict(values),
                         source=_shown(checker, _source(checker, c.span), values, types), span=c.span)


def _chance_part(checker, e: ast.Expr, ctx, what: str) -> ir.Expr | None:
    """`GUARD` or `COND` of a `with chance` clause: a bool that reads no random word (E0110)."""
    from envc.compiler.check_base import _Poison

    try:
        ie = checker.expr(e, ctx)
        checker.require_type(ie, ir.BOOL, e.span, f"{what} of a `with chance` clause")
    except _Poison:
        return None
    if any(isinstance(n, ir.Builtin) and n.name in _WORD_READERS for n in ir.walk(ie)):
        checker.err("E0110", f"{what} of a `with chance` clause reads the call's random words", e.span,
                    "`flip`, `drawn`, `heads` or `draws` here", help="a `with chance` clause is checked over every "
                    "value of the call's draws: say what the outcome is (`burned[q]`), not which word came")
        return None
    return ie


def _draw_rules(checker, h: ir.HoleDef, chosen: list[_Match]) -> list[ir.DrawRule]:
    """The `draws ... among COUNT` clauses of the matched rules (those that do not check are
    left out)."""
    out = []
    for m in chosen:
        for d in m.rule.decl.draws:
            if d.among is None:
                continue
            r = _memo(checker, "draws among", d, h, m.values, lambda d=d, m=m: _draw_rule(checker, h, d, m.values, m.rule.pattern))
            if r is not None:
                out.append(r)
    return out


def _draw_rule(checker, h: ir.HoleDef, d: ast.Draws, values: dict[str, Any], pattern: Pattern | None
               ) -> ir.DrawRule | None:
    """The IR of `COUNT` of clause `draws N among COUNT` for hole `h` with the rule's capture
    `values` (and how many draws range over it: N, at least 1); E0110 (and None) where it is not
    an integer."""
    from envc.compiler.check_base import _Poison

    assert d.among is not None  # (the caller keeps the clauses with `among`)
    types = _types(values, pattern)
    try:
        count = checker.expr(d.among, _ctx(h, types))
    except _Poison:
        return None
    if not isinstance(count.type, ir.IntT):
        checker.err("E0110", "the number of values (`draws ... among`) must be an integer", d.among.span,
                    f"this is `{count.type}`", help="`draws 1 among len(hand[1 - p])`: how many values the "
                    "text's random draw ranges over (each equally likely)")
        return None
    source = f"draws {_source(checker, d.span)} among {_source(checker, d.among.span)}"
    # `draws N among COUNT`: N draws over COUNT values; `draws any` / `at least 0`: one
    times = max(_bound(checker, d.lo, values, d.span) or 0, 1)
    optional = d.lo == 0 and d.hi is not None  # (`draws at most N among COUNT`)
    return ir.DrawRule(count=count, times=times, optional=optional, env=dict(values),
                       source=_shown(checker, source, values, types), span=d.span)


def _state_place(checker, e: ast.Expr, ctx, what: str) -> ir.Place | None:
    """The state place that expression `e` reads (`damage[p][0]`, `hand[p]`), for `modifies`
    and a scenario's `given`; E0165 when it is not one."""
    from envc.compiler.check_base import _Poison

    try:
        read = checker.expr(e, ctx)
    except _Poison:
        return None
    steps: list = []
    node = read
    while isinstance(node, (ir.GetIndex, ir.GetField)):
        if isinstance(node, ir.GetIndex):
            steps.append(ir.IndexStep(index=node.index, is_list=isinstance(node.base.type, ir.ListT)))
        else:
            steps.append(ir.FieldStep(name=node.name))
        node = node.base
    if not isinstance(node, ir.StateGet):
        checker.err("E0165", f"{what} names a state field, maybe indexed", e.span, "not a state field",
                    help="write a field of the state, with indices or fields: `damage[p][0]`, `hand[p]`")
        return None
    return ir.Place(root="state", name=node.name, path=list(reversed(steps)), type=read.type, span=e.span)


def _frame(checker, h: ir.HoleDef, t: _Target | None, exact: list[_Match], kept: list[_Match]
           ) -> list[ir.FrameItem] | None:
    """The places the text may change (None: any); see the module docstring."""
    sources: list[tuple[ast.Modifies, _Match | None]]
    if exact and exact[0].rule.decl.modifies:
        sources = [(m, exact[0]) for m in exact[0].rule.decl.modifies]
    elif any(m.rule.decl.modifies for m in kept):
        sources = [(mod, m) for m in kept for mod in m.rule.decl.modifies]
    elif t is not None and t.frames:
        sources = [(mod, None) for mod in t.frames]
    else:
        return None
    if any(mod.items is None for mod, _ in sources):
        return None
    out = []
    for mod, match in sources:
        values = match.values if match is not None else {}
        # _memo calls the lambda at once (B023 cannot see it)
        out += _memo(checker, "modifies", mod, h, values,
                     lambda: _frame_items(checker, h, mod, values, match.rule.pattern if match is not None else None))  # noqa: B023
    return out


def _frame_items(checker, h: ir.HoleDef, mod: ast.Modifies, values: dict[str, Any], pattern: Pattern | None
                 ) -> list[ir.FrameItem]:
    out = []
    types = _types(values, pattern)
    assert mod.items is not None  # (`_frame` returns None first when a `modifies` has no items)
    for item in mod.items:
        ctx = _ctx(h, types)
        lo = hi = 0
        if item.var is not None:
            lo, hi = checker.loop_bounds(item.lo, item.hi, item.inclusive, item.span, ctx, item.var)
            ctx.scopes.append({item.var: ir.IntT(lo=lo, hi=max(lo, hi - 1))})
        place = _state_place(checker, item.place, ctx, "`modifies`")
        if place is None:
            continue
        out.append(ir.FrameItem(place=place, var=item.var, lo=lo, hi=hi, env=dict(values),
                                source=_shown(checker, _source(checker, item.span), values, types)))
    return out


def _bound(checker, b, values: dict[str, Any], span: Span, clause: str = "draws") -> int | None:
    if b is None or isinstance(b, int):
        return b
    if b not in values or not isinstance(values[b], int):
        checker.err("E0165", f"`{clause} {b}` names no number captured by the pattern", span, "unknown capture",
                    help=f"capture it in the pattern (`<{b}>` or `<{b}: count>`), or write a number")
        return None
    return values[b]


def _draws(checker, t: _Target | None, exact: list[_Match], kept: list[_Match]) -> tuple[int, int | None] | None:
    """(least, most or None) random draws of one call; None when no rule says."""
    if exact and exact[0].rule.decl.draws:
        chosen = [(d, exact[0]) for d in exact[0].rule.decl.draws]
    elif t is not None and t.draw_rules:
        chosen = [(d, m) for m in kept for d in m.rule.decl.draws]
    else:
        return None
    lo = 0
    hi: int | None = 0
    for d, m in chosen:
        a = _bound(checker, d.lo, m.values, d.span)
        b = _bound(checker, d.hi, m.values, d.span) if d.hi is not None else None
        lo += a or 0
        hi = None if hi is None or d.hi is None else hi + (b or 0)
    return lo, hi


def _uncovered(text: str, t: _Target | None, exact: list[_Match], kept: list[_Match]
               ) -> tuple[list[int], list[ir.SymbolUse]]:
    """The printed numbers and symbols of `text` that no chosen rule covers, in text order
    (each value once)."""
    if exact:
        return [], []

    def covered(a: int, b: int) -> bool:
        return any(m.start <= a and b <= m.end for m in kept)

    numbers: list[int] = []
    for m in _NUMBER.finditer(text):
        v = int(m.group(0))
        if not covered(m.start(), m.end()) and v not in numbers:
            numbers.append(v)
    symbols: list[ir.SymbolUse] = []
    for s, sym in (t.symbols.items() if t is not None else []):
        for m in re.finditer(re.escape(s), text, re.IGNORECASE):
            if not covered(m.start(), m.end()) and all(u.symbol != s for u in symbols):
                symbols.append(ir.SymbolUse(symbol=s, value=sym.value, type=sym.type))
    symbols.sort(key=lambda u: text.casefold().find(u.symbol.casefold()))
    return numbers, symbols


def _scenario(checker, h: ir.HoleDef, s: ast.Scenario, values: dict[str, Any], pattern: Pattern | None = None
              ) -> ir.ScenarioDef | None:
    return _memo(checker, "scenario", s, h, values, lambda: _make_scenario(checker, h, s, values, pattern))


def _make_scenario(checker, h: ir.HoleDef, s: ast.Scenario, values: dict[str, Any], pattern: Pattern | None = None
                   ) -> ir.ScenarioDef | None:
    from envc.compiler.check_base import _Poison

    types = _types(values, pattern)
    ctx = _ctx(h, types)
    params = {p.name: p for p in h.params}
    given: list[ir.GivenDef] = []
    coins = None
    ok = True
    for target, value in s.given:
        if isinstance(target, ast.Name) and target.name == "coins" and ctx.lookup("coins") is None \
                and target.name not in checker.state:
            coins = _coins(checker, value)
            ok = ok and coins is not None
            continue
        if isinstance(target, ast.Name) and target.name in params:
            place: ir.Place | None = ir.Place(root="local", name=target.name, type=params[target.name].type,
                                              span=target.span)
        else:
            place = _state_place(checker, target, ctx, "a scenario's `given`")
        if place is None:
            ok = False
            continue
        v = _list_value(checker, value, place.type, ctx)
        if v is None:
            ok = False
            continue
        if not checker.require_fits(v, place.type, value.span, f"`{checker.source_text(target.span)}: {place.type}`"):
            ok = False
            continue
        given.append(ir.GivenDef(place=place, value=v))
    then, shown = [], []
    for e in s.then:
        try:
            ie = checker.expr(e, ctx)
            checker.require_type(ie, ir.BOOL, e.span, "a scenario's `then` clause")
        except _Poison:
            ok = False
            continue
        then.append(ie)
        shown.append(_shown(checker, _source(checker, e.span), values, types))
    if not ok:
        return None
    return ir.ScenarioDef(name=s.name, given=given, coins=coins, then=then, then_source=shown, env=dict(values),
                          span=s.span)


def _list_value(checker, value: ast.Expr, t: ir.Type, ctx) -> ir.Expr | None:
    """The value of a scenario's `given`; for a list place, an array literal (`[]` too) is a
    list of its elements."""
    from envc.compiler.check_base import _Poison

    if isinstance(t, ir.ListT) and isinstance(value, ast.ArrayLit) and not value.items:
        return ir.Const(type=t, value=[], span=value.span)
    try:
        v = checker.expr(value, ctx)
    except _Poison:
        return None
    if isinstance(t, ir.ListT) and isinstance(v.type, ir.ArrayT) and v.type.size <= t.cap \
            and checker.fits(v.type.elem, t.elem):
        return v.model_copy(update={"type": ir.ListT(elem=t.elem, cap=t.cap)})
    return v


def _coins(checker, value: ast.Expr) -> list[bool] | None:
    items = value.items if isinstance(value, ast.ArrayLit) else None
    if items is None or not all(isinstance(x, ast.BoolLit) for x in items) or len(items) > 16:
        checker.err("E0110", "`coins` is given as a list of at most 16 coins, heads `true`", value.span,
                    help="e.g. `given coins = [true, false]` (heads, then tails)")
        return None
    return [x.value for x in items if isinstance(x, ast.BoolLit)]  # (all of them: checked above)


def _card_params(checker, fam, untyped: list) -> list[ir.ParamDef]:
    """A family context's untyped parameters `(c, k)`: the row whose text is judged and its
    text column (none, one or both)."""
    if not untyped:
        return []
    table = checker.tables[fam.table]
    out = [ir.ParamDef(name=untyped[0].name, type=ir.RowT(table=table.name, rows=table.rows), span=untyped[0].span)]
    if len(untyped) > 1:
        out.append(ir.ParamDef(name=untyped[1].name, type=ir.IntT(lo=0, hi=len(fam.columns) - 1), span=untyped[1].span))
    return out


def _context(checker, t: _Target, holes: list[ir.HoleDef]) -> ir.ContextDef | None:
    """The proc of a `context` declaration for target `t` (its parameters: the hole's, then
    the context's)."""
    from envc.compiler.check_base import Ctx, _Poison

    c = t.context
    if c is None:  # (the caller calls for targets with a context)
        return None
    hole = next((h for h in holes if (h.family or h.name) == t.name), None)
    if hole is None:  # (a family whose text column holds no text yet has no hole: nothing to judge; hunt U)
        return None
    fam = checker.families.get(t.name)
    untyped = [p for p in c.params if p.type is None]
    if any(p.type is None for p in c.params[len(untyped):]) or len(untyped) > (2 if fam is not None else 0):
        checker.err("E0111", "a context's parameters are the card and its text column, then typed ones"
                    if fam is not None else "a hole's context has typed parameters only", c.span,
                    help="`context(c, k, extra: int[0..9])`: `c` the row whose text is judged, `k` its text column"
                    if fam is not None else "`context(extra: int[0..9])`: the judge draws each from its type")
        return None
    card = _card_params(checker, fam, untyped)
    params = list(hole.params) + card
    row, column = (card[0].name if card else None), (card[1].name if len(card) > 1 else None)
    extras = []
    for p in c.params[len(untyped):]:
        pt = checker.resolve_type(p.type)
        if pt is None:
            return None
        extras.append(ir.ParamDef(name=p.name, type=pt, span=p.span))
    names = [p.name for p in params + extras]
    # a context writes the state: a parameter named like a field would hide it (`n = n`; hunt N)
    if not all([checker.check_hides_field(p.name, p.span, True, "parameter") for p in params[len(hole.params):] + extras]):
        return None
    dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if dup is not None:
        checker.err("E0101", f"duplicate parameter `{dup}` (the hole's parameters are in scope)", c.span,
                    help="rename it")
        return None
    scope = {p.name: p.type for p in params + extras}
    guard = None
    if c.guard is not None:
        gctx = Ctx("guard", pure=True)
        gctx.scopes[0].update(scope)
        try:
            guard = checker.expr(c.guard, gctx)
            checker.require_type(guard, ir.BOOL, c.guard.span, "a context's guard")
        except _Poison:
            return None
    ctx = Ctx("context", pure=False)
    ctx.scopes[0].update(scope)
    body = checker.block(c.body, ctx)
    name = f"<context of {t.name}>"
    fn = ir.FnDef(name=name, params=params + extras, ret=None, body=body, pure=False, span=c.span)
    return ir.ContextDef(name=name, fn=fn, guard=guard, row=row, column=column, extras=extras, span=c.span)
