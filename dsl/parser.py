"""Parser: `.envspec` text to the syntax tree of `envc.dsl.ast`.

Public surface: `parse(text, path) -> ast.Module`, `parse_file(path)` and
`parse_fill_body(text, path) -> list[ast.Stmt]` (a fill's body alone, for `envc fill`).
Raises `DiagnosticError` (never a lark exception) with an `E0001`/`E0002`/`E0003`
diagnostic that points at the offending token and lists what was expected.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from envc.compiler.diagnostics import Diagnostic, DiagnosticError, Sources, Span, did_you_mean
from envc.dsl import ast


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = resources.files("envc.dsl").joinpath("envspec.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


@lru_cache(maxsize=1)
def _lark_fill_body() -> Lark:
    # a second parser starting at `fill_body`: the spec parser's tables stay as they are
    grammar = resources.files("envc.dsl").joinpath("envspec.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True, start="fill_body")


_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_CODE_POINT = re.compile(r"u\{([0-9a-fA-F]{1,6})\}")


def _scalar(code: int) -> bool:
    """Whether `code` is a Unicode scalar value (a character): at most U+10FFFF and no UTF-16
    surrogate. `\\u{D800}` was decoded into a text the interpreter kept and Rust could not
    hold (its fault message differed) nor the Python target write (hunt N): it stays as
    written, as `\\u{110000}` does."""
    return code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF


def _unescape(token: str) -> str:
    """The text of a string literal: `\\n`, `\\t`, `\\r`, `\\"`, `\\\\` and `\\u{XXXX}` (a Unicode
    scalar value in hex, `_scalar`) are escapes; a backslash before anything else stays as
    written (`dsl_literal` is the inverse)."""
    body = token[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        code = _CODE_POINT.match(body, i + 1)
        if code is not None and _scalar(int(code.group(1), 16)):
            out.append(chr(int(code.group(1), 16)))
            i = code.end()
            continue
        nxt = body[i + 1]
        out.append(_SIMPLE_ESCAPES.get(nxt, "\\" + nxt))
        i += 2
    return "".join(out)


def dsl_literal(text: str) -> str:
    """`text` as a DSL string literal that reads back as `text` (`_unescape`): quotes and
    backslashes escaped, line breaks and tabs as `\\n`, `\\r`, `\\t`, every other control or
    format character as `\\u{XXXX}` (a card text with a NUL or a Windows line break could not be
    filled: the help wrote escapes the language lacked, `envc fill` dropped the `\\r`)."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch])
        elif not ch.isprintable() or unicodedata.category(ch) == "Cf":
            out.append(f"\\u{{{ord(ch):04X}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class _Builder(Transformer):
    """lark tree -> ast nodes. Every node gets the span of its rule or token."""

    def __init__(self, path: str):
        super().__init__(visit_tokens=False)
        self.path = path

    # -- spans
    def _span(self, meta) -> Span:
        return Span(
            file=self.path,
            start=meta.start_pos,
            end=meta.end_pos,
            line=meta.line,
            col=meta.column,
            end_line=meta.end_line,
            end_col=meta.end_column,
        )

    def _tok(self, tok: Token) -> Span:
        # lark sets every position of a token it lexes; its types allow None for tokens made by
        # hand, which take position 0 here (lark's own idiom, `pos_in_stream or 0`)
        return Span(
            file=self.path,
            start=tok.start_pos or 0,
            end=tok.end_pos or 0,
            line=tok.line or 0,
            col=tok.column or 0,
            end_line=tok.end_line or 0,
            end_col=tok.end_column or 0,
        )

    def _int(self, tok: Token) -> int:
        # Python refuses int() of more than 4300 digits (a ValueError): report it here
        digits = str(tok).lstrip("0") or "0"
        if len(digits) > 30:
            raise DiagnosticError([Diagnostic("E0120", "integer literal does not fit in 32 bits", self._tok(tok),
                                              f"{len(digits)} digits", help=f"integers are at most {2**31 - 1}")])
        return int(digits)

    # -- module
    def start(self, items):
        return list(items)

    def fill_body(self, stmts):
        return list(stmts)

    @v_args(meta=True)
    def env_decl(self, meta, c):
        return ast.EnvDecl(self._span(meta), str(c[0]), _unescape(c[1]) if c[1] else None)

    @v_args(meta=True)
    def players_decl(self, meta, c):
        return ast.PlayersDecl(self._span(meta), self._int(c[0]))

    @v_args(meta=True)
    def turn_limit_decl(self, meta, c):
        return ast.TurnLimitDecl(self._span(meta), self._int(c[0]))

    @v_args(meta=True)
    def illegal_decl(self, meta, c):
        return ast.IllegalActionDecl(self._span(meta), str(c[0]), self._tok(c[0]))

    @v_args(meta=True)
    def simultaneous_decl(self, meta, c):
        return ast.SimultaneousDecl(self._span(meta))

    @v_args(meta=True)
    def resolve_decl(self, meta, c):
        return ast.ResolveDecl(self._span(meta), c[0])

    @v_args(meta=True)
    def const_decl(self, meta, c):
        return ast.ConstDecl(self._span(meta), str(c[0]), c[1], c[2])

    @v_args(meta=True)
    def enum_decl(self, meta, c):
        members = [m for m in c[1:] if m is not None]
        return ast.EnumDecl(self._span(meta), str(c[0]), members)

    @v_args(meta=True)
    def enum_member(self, meta, c):
        return ast.EnumMember(self._span(meta), str(c[0]), _unescape(c[1]) if c[1] else None)

    @v_args(meta=True)
    def record_decl(self, meta, c):
        return ast.RecordDecl(self._span(meta), str(c[0]), list(c[1:]))

    @v_args(meta=True)
    def field_decl(self, meta, c):
        anns = [a for a in c[3:]]
        return ast.FieldDecl(self._span(meta), str(c[0]), c[1], c[2], anns)

    def annotation(self, c):
        return (str(c[0]), self._tok(c[0]), str(c[1]) if c[1] is not None else None)

    @v_args(meta=True)
    def table_decl(self, meta, c):
        columns = [x for x in c[2:] if isinstance(x, ast.ColumnDecl)]
        rules = [x for x in c[2:] if isinstance(x, ast.InvariantDecl)]
        return ast.TableDecl(self._span(meta), str(c[0]), _unescape(c[1]), self._tok(c[1]), columns, rules)

    @v_args(meta=True)
    def column_decl(self, meta, c):
        source = _unescape(c[2]) if c[2] is not None else None
        return ast.ColumnDecl(self._span(meta), str(c[0]), c[1], source, c[4], c[3])

    @v_args(meta=True)
    def by_key(self, meta, c):
        return ("by", str(c[0]), str(c[1]), self._span(meta))

    @v_args(meta=True)
    def count_of(self, meta, c):
        return ("count", str(c[0]), None, self._span(meta))

    @v_args(meta=True)
    def per_texts(self, meta, c):
        return list(c)

    @v_args(meta=True)
    def column_ref(self, meta, c):
        return (str(c[0]), str(c[1]), self._span(meta))

    @v_args(meta=True)
    def state_decl(self, meta, c):
        return ast.StateDecl(self._span(meta), list(c))

    @v_args(meta=True)
    def init_decl(self, meta, c):
        return ast.InitDecl(self._span(meta), c[0])

    @v_args(meta=True)
    def action_decl(self, meta, c):
        return ast.ActionDecl(self._span(meta), str(c[0]), c[1], c[2], c[3])

    def guard(self, c):
        return c[0]

    def params(self, c):
        return [p for p in c if p is not None]

    @v_args(meta=True)
    def param(self, meta, c):
        return ast.Param(self._span(meta), str(c[0]), c[1])

    @v_args(meta=True)
    def fn_decl(self, meta, c):
        return ast.FnDecl(self._span(meta), str(c[0]), c[1], c[2], c[3])

    @v_args(meta=True)
    def proc_decl(self, meta, c):
        return ast.ProcDecl(self._span(meta), str(c[0]), c[1], c[2])

    @v_args(meta=True)
    def observe_decl(self, meta, c):
        return ast.ObserveDecl(self._span(meta), str(c[0]), c[1], c[2])

    @v_args(meta=True)
    def invariant_decl(self, meta, c):
        return ast.InvariantDecl(self._span(meta), str(c[0]), _unescape(c[1]) if c[1] else None, c[2])

    @v_args(meta=True)
    def hole_decl(self, meta, c):
        if isinstance(c[3], list):  # a hole family: one hole per distinct text of the columns
            return ast.HoleDecl(self._span(meta), str(c[0]), c[1], c[2], "", list(c[4:]), per=c[3])
        return ast.HoleDecl(self._span(meta), str(c[0]), c[1], c[2], _unescape(c[3]), list(c[4:]))

    @v_args(meta=True)
    def boundary_decl(self, meta, c):
        return ast.BoundaryDecl(self._span(meta), str(c[0]), c[1])

    @v_args(meta=True)
    def fill_decl(self, meta, c):
        attrs: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        for name, value in (a for a in c[1:-1] if isinstance(a, tuple)):
            if name in attrs:  # (a dict would keep the last silently)
                raise DiagnosticError([Diagnostic("E0161", f"fill attribute `{name}` is given twice", self._tok(name),
                                                  "given again here", help="keep one")])
            attrs[str(name)] = value
            spans[str(name)] = self._tok(name)  # (E0161 pointed at the whole fill: hunt N)
        scenarios = [a for a in c[1:-1] if isinstance(a, ast.Scenario)]
        ensures = [a for a in c[1:-1] if isinstance(a, ast.Expr)]
        return ast.FillDecl(self._span(meta), str(c[0]), attrs, c[-1], ensures, scenarios, spans)

    # -- checks of texts (`texts of F { ... }`)
    @v_args(meta=True)
    def texts_decl(self, meta, c):
        targets = [(str(t), self._tok(t)) for t in c if isinstance(t, Token)]
        d = ast.TextsDecl(self._span(meta), targets)
        for item in c:
            if isinstance(item, ast.SymbolDecl):
                d.symbols.append(item)
            elif isinstance(item, ast.ContextDecl):
                d.contexts.append(item)
            elif isinstance(item, ast.Modifies):
                d.modifies.append(item)
            elif isinstance(item, ast.TextRule):
                d.rules.append(item)
        return d

    @v_args(meta=True)
    def symbol_decl(self, meta, c):
        return ast.SymbolDecl(self._span(meta), _unescape(c[0]), c[1])

    @v_args(meta=True)
    def context_decl(self, meta, c):
        params = [p for p in c[:-2] if p is not None]
        return ast.ContextDecl(self._span(meta), params, c[-2], c[-1])

    @v_args(meta=True)
    def context_param(self, meta, c):
        return ast.ContextParam(self._span(meta), str(c[0]), c[1])

    def _text_rule(self, meta, c, whole: bool):
        rule = ast.TextRule(self._span(meta), whole, _unescape(c[0]), self._tok(c[0]))
        for clause in c[1:]:
            if isinstance(clause, ast.Modifies):
                rule.modifies.append(clause)
            elif isinstance(clause, ast.Draws):
                rule.draws.append(clause)
            elif isinstance(clause, ast.Scenario):
                rule.scenarios.append(clause)
            elif isinstance(clause, ast.Chooses):
                rule.chooses.append(clause)
            elif isinstance(clause, ast.Chance):
                rule.chances.append(clause)
            elif isinstance(clause, list):
                rule.data += clause
            else:
                rule.ensures.append(clause)
        return rule

    @v_args(meta=True)
    def whole_text_rule(self, meta, c):
        return self._text_rule(meta, c, True)

    @v_args(meta=True)
    def mention_rule(self, meta, c):
        return self._text_rule(meta, c, False)

    @v_args(meta=True)
    def modifies_clause(self, meta, c):
        return ast.Modifies(self._span(meta), list(c))

    @v_args(meta=True)
    def modifies_any(self, meta, c):
        return ast.Modifies(self._span(meta), None)

    @v_args(meta=True)
    def modified(self, meta, c):
        if c[1] is None:
            return ast.Modified(self._span(meta), c[0])
        return ast.Modified(self._span(meta), c[0], str(c[1]), c[2], c[4], str(c[3]) == "..=")

    def draws_clause(self, c):
        draws = c[0]
        draws.among = c[1] if len(c) > 1 else None
        return draws

    def _bound(self, tok):
        return self._int(tok) if tok.type == "INT" else str(tok)

    @v_args(meta=True)
    def draws_exactly(self, meta, c):
        n = self._bound(c[0])
        return ast.Draws(self._span(meta), n, n)

    @v_args(meta=True)
    def draws_at_least(self, meta, c):
        return ast.Draws(self._span(meta), self._bound(c[0]), None)

    @v_args(meta=True)
    def draws_at_most(self, meta, c):
        return ast.Draws(self._span(meta), 0, self._bound(c[0]))

    @v_args(meta=True)
    def draws_any(self, meta, c):
        return ast.Draws(self._span(meta), 0, None)

    @v_args(meta=True)
    def chooses_clause(self, meta, c):
        return ast.Chooses(self._span(meta), c[0], c[1])

    @v_args(meta=True)
    def chance_clause(self, meta, c):
        num = c[0] if isinstance(c[0], ast.Expr) else self._bound(c[0])
        rule = ast.Chance(self._span(meta), num, c[1], c[3], c[4])
        if c[2] is not None:
            rule.var, rule.lo, rule.hi, rule.inclusive = c[2]
        return rule

    def chance_for(self, c):
        return str(c[0]), c[1], c[3], str(c[2]) == "..="

    @v_args(meta=True)
    def scenario_clause(self, meta, c):
        name = _unescape(c[0]) if c[0] is not None else None
        given = [g for g in c[1:] if isinstance(g, tuple)]
        then = [e for e in c[1:] if isinstance(e, ast.Expr)]
        return ast.Scenario(self._span(meta), name, given, then)

    def data_clause(self, c):
        return list(c)

    @v_args(meta=True)
    def data_item(self, meta, c):
        name, table, column = c
        col_span = Span(file=self.path, start=table.start_pos, end=column.end_pos, line=table.line, col=table.column,
                        end_line=column.end_line, end_col=column.end_column)
        return ast.DataFrom(self._span(meta), str(name), str(table), str(column), self._tok(name), col_span)

    def given_item(self, c):
        if str(c[1]) != "=":
            raise DiagnosticError([Diagnostic("E0001", f"unexpected `{c[1]}`", self._tok(c[1]), "not expected here",
                                              help="a scenario's `given` sets a value: `place = value`")])
        return (c[0], c[2])

    def fill_attr(self, c):
        tok = c[1]  # (the name stays a Token: `fill_decl` points at a repeated one)
        if tok.type == "STRING":
            return (c[0], _unescape(tok))
        return (c[0], self._int(tok) if tok.type == "INT" else float(tok))

    def ret_type(self, c):
        return c[0]

    def ensures_clause(self, c):
        return c[0]

    # -- types
    @v_args(meta=True)
    def type(self, meta, c):
        # `T[A][B]` is A arrays of B items of T, as in C: the first suffix is outermost.
        t = c[0]
        for size in reversed(c[1:]):
            t = ast.ArrayTypeExpr(self._span(meta), t, size)
        return t

    def array_suffix(self, c):
        return c[0]

    @v_args(meta=True)
    def bool_type(self, meta, c):
        return ast.BoolTypeExpr(self._span(meta))

    @v_args(meta=True)
    def float_type(self, meta, c):
        return ast.FloatTypeExpr(self._span(meta))

    @v_args(meta=True)
    def int_type(self, meta, c):
        return ast.IntTypeExpr(self._span(meta), c[0], c[2], inclusive=True if str(c[1]) == ".." else True)

    @v_args(meta=True)
    def list_type(self, meta, c):
        return ast.ListTypeExpr(self._span(meta), c[0], c[1])  # c[1] None: `list<T>`, any capacity

    @v_args(meta=True)
    def named_type(self, meta, c):
        return ast.NamedTypeExpr(self._span(meta), str(c[0]))

    # -- statements
    def block(self, c):
        return list(c)

    @v_args(meta=True)
    def let_stmt(self, meta, c):
        return ast.Let(self._span(meta), str(c[0]), c[1], c[2], c[3])

    def else_value(self, c):
        return c[0]

    def until_clause(self, c):
        return c[0]

    def while_bound(self, c):
        return c[0]

    @v_args(meta=True)
    def while_stmt(self, meta, c):
        return ast.While(self._span(meta), c[0], c[1], c[2])

    @v_args(meta=True)
    def break_stmt(self, meta, c):
        return ast.Break(self._span(meta))

    @v_args(meta=True)
    def if_stmt(self, meta, c):
        branches = [(c[0], c[1])]
        orelse = None
        for extra in c[2:]:
            if isinstance(extra, tuple):
                branches.append(extra)
            elif extra is not None:
                orelse = extra
        return ast.If(self._span(meta), branches, orelse)

    def elif_clause(self, c):
        return (c[0], c[1])

    def else_clause(self, c):
        return c[0]

    @v_args(meta=True)
    def for_stmt(self, meta, c):
        return ast.For(self._span(meta), str(c[0]), c[1], c[3], str(c[2]) == "..=", c[4])

    @v_args(meta=True)
    def match_stmt(self, meta, c):
        return ast.Match(self._span(meta), c[0], list(c[1:]))

    @v_args(meta=True)
    def match_arm(self, meta, c):
        return ast.MatchArm(self._span(meta), list(c[:-1]), c[-1])

    def name_pattern(self, c):
        return (str(c[0]), self._tok(c[0]))

    @v_args(meta=True)
    def wildcard_pattern(self, meta, c):
        return (None, self._span(meta))

    @v_args(meta=True)
    def return_stmt(self, meta, c):
        return ast.Return(self._span(meta), c[0])

    @v_args(meta=True)
    def expr_stmt(self, meta, c):
        if c[1] is None:
            return ast.ExprStmt(self._span(meta), c[0])
        return ast.Assign(self._span(meta), c[0], str(c[1]), c[2], c[3], c[4])

    # -- expressions
    @v_args(meta=True)
    def cond_expr(self, meta, c):
        return ast.CondExpr(self._span(meta), c[0], c[1], c[2])

    def _chain(self, c, op):
        result = c[0]
        for right in c[1:]:
            result = ast.Binary(result.span.to(right.span), op, result, right, result.span)
        return result

    def or_chain(self, c):
        return self._chain(c, "or")

    def and_chain(self, c):
        return self._chain(c, "and")

    @v_args(meta=True)
    def not_op(self, meta, c):
        return ast.Unary(self._span(meta), "not", c[0])

    def compare(self, c):
        if len(c) == 1:
            return c[0]
        return ast.Binary(c[0].span.to(c[2].span), str(c[1]), c[0], c[2], self._tok(c[1]))

    def arith(self, c):
        result = c[0]
        for i in range(1, len(c), 2):
            op, right = c[i], c[i + 1]
            result = ast.Binary(result.span.to(right.span), str(op), result, right, self._tok(op))
        return result

    @v_args(meta=True)
    def neg(self, meta, c):
        operand = c[0]
        if isinstance(operand, ast.IntLit):
            return ast.IntLit(self._span(meta), -operand.value)
        if isinstance(operand, ast.FloatLit):
            return ast.FloatLit(self._span(meta), -operand.value)
        return ast.Unary(self._span(meta), "-", operand)

    @v_args(meta=True)
    def field(self, meta, c):
        return ast.Field(self._span(meta), c[0], str(c[1]), self._tok(c[1]))

    @v_args(meta=True)
    def index(self, meta, c):
        return ast.Index(self._span(meta), c[0], c[1])

    @v_args(meta=True)
    def call(self, meta, c):
        args = [a if isinstance(a, ast.Arg) else ast.Arg(a.span, a) for a in (c[1] or [])]
        return ast.Call(self._span(meta), c[0], args)

    def args(self, c):
        return [a for a in c if a is not None]

    @v_args(meta=True)
    def named_arg(self, meta, c):
        return ast.Arg(self._span(meta), c[1], str(c[0]))

    @v_args(meta=True)
    def selector(self, meta, c):
        return ast.Selector(self._span(meta), str(c[0]), c[1], c[3], str(c[2]) == "..=", c[4])

    @v_args(meta=True)
    def paren(self, meta, c):
        # `(e)` is `e`, spanning its parentheses: a caret or a fix quoting `2 * (x + 1)` keeps
        # the closing parenthesis (the span of `e` alone ends before it)
        inner = c[0]
        inner.span = self._span(meta)
        return inner

    @v_args(meta=True)
    def generator(self, meta, c):
        return ast.Generator(self._span(meta), c[0], str(c[1]), c[2], c[4], str(c[3]) == "..=")

    @v_args(meta=True)
    def int_lit(self, meta, c):
        return ast.IntLit(self._span(meta), self._int(c[0]))

    @v_args(meta=True)
    def float_lit(self, meta, c):
        return ast.FloatLit(self._span(meta), float(c[0]))

    @v_args(meta=True)
    def true_lit(self, meta, c):
        return ast.BoolLit(self._span(meta), True)

    @v_args(meta=True)
    def false_lit(self, meta, c):
        return ast.BoolLit(self._span(meta), False)

    @v_args(meta=True)
    def string_lit(self, meta, c):
        return ast.StringLit(self._span(meta), _unescape(c[0]))

    @v_args(meta=True)
    def name(self, meta, c):
        return ast.Name(self._span(meta), str(c[0]))

    @v_args(meta=True)
    def array_lit(self, meta, c):
        return ast.ArrayLit(self._span(meta), [x for x in c if x is not None])

    @v_args(meta=True)
    def comprehension(self, meta, c):
        return ast.Comprehension(self._span(meta), c[0], str(c[1]), c[2], c[4], str(c[3]) == "..=")


_TOKEN_NAMES = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "RANGE_OP": "`..`",
    "ASSIGN_OP": "`=`",
    "COMP_OP": "a comparison",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/` or `%`",
    "$END": "end of file",
}


def _describe_terminal(name: str) -> str:
    if name in _TOKEN_NAMES:
        return _TOKEN_NAMES[name]
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"`{pattern.value}`"
    return name.lower()


def _expected_text(expected) -> str:
    names = sorted({_describe_terminal(e) for e in expected})
    if len(names) > 8:
        names = names[:8] + ["..."]
    return ", ".join(names)


def _point(path: str, text: str, line: int, col: int, pos: int, width: int = 1) -> Span:
    return Span(file=path, start=pos, end=pos + width, line=line, col=col, end_line=line, end_col=col + width)


_TOP_KEYWORDS = ("env", "players", "turn_limit", "illegal_action", "simultaneous", "const", "enum", "record", "table",
                 "state", "init", "resolve", "action", "fn", "proc", "observe", "invariant", "hole", "fill", "texts")

#: Words of the grammar that cannot be names. Decision: lark's contextual lexer lets a keyword
#: through as a NAME where only a name can follow (`proc init(...)`), but where a statement or an
#: expression may also begin with that keyword (`init(0)` after another statement) it lexes as the
#: keyword, so such a name declares fine and then fails at its first use. The checker therefore
#: refuses these words wherever a name is declared (E0101). The grammar's other words are
#: contextual (`a`, `name`, `of`, `when`, ...) and stay usable as names; `tests/test_keywords.py`
#: reads every word of the grammar and holds each to one of the two lists.
RESERVED_WORDS = frozenset({
    "action", "among", "and", "boundary", "break", "chooses", "const", "context", "draws", "else", "ensures", "enum", "env",
    "false", "fill", "fn", "for", "hole", "if", "illegal_action", "init", "invariant", "let", "match", "max",
    "mentions", "modifies", "not", "observe", "or", "players", "proc", "record", "resolve", "return",
    "scenario", "simultaneous", "state", "symbol", "table", "text", "texts", "then", "true", "turn_limit",
    "until", "where", "while", "with",
})
#: Words of the grammar that stay usable as names (see RESERVED_WORDS).
CONTEXTUAL_WORDS = frozenset({
    "a", "an", "any", "at", "bool", "by", "chance", "count", "default", "elif", "from", "given", "in", "int", "least",
    "list", "most", "name", "of", "one", "per", "when",
})


def _keyword_declared_as_name(text: str, pos: int) -> str | None:
    """The help for a syntax error at offset `pos` caused by a keyword the spec declares as a
    name (`proc init(...)` parses, `init(0)` as a statement does not), or None. Candidates: the
    word at `pos`, the last word before it, and the first word of that word's line; one counts when the
    spec declares it (`fn`/`proc`/`action`/`let` NAME, or `NAME:` as a field or parameter)."""
    prev_end = len(text[:pos].rstrip())  # the line of the last token before the error
    line_start = text.rfind("\n", 0, prev_end) + 1
    before = re.search(r"([A-Za-z_][A-Za-z_0-9]*)\W*$", text[line_start:prev_end])
    candidates = [m.group(1) for m in (re.match(r"([A-Za-z_][A-Za-z_0-9]*)", text[pos:]), before,
                                       re.match(r"\s*([A-Za-z_][A-Za-z_0-9]*)", text[line_start:])) if m]
    for word in candidates:
        if word not in RESERVED_WORDS:
            continue
        # a field or parameter after `{`, `(` or `,`, or a field on a line of its own (`state {` fields)
        decl = re.search(rf"(\b(fn|proc|action|let)\s+{word}\b|[({{,]\s*{word}\s*:|^[ \t]*{word}[ \t]*:)",
                         text, re.MULTILINE)
        if decl is None:
            continue
        line = text.count("\n", 0, decl.start(2) if decl.group(2) else decl.start()) + 1
        if line == text.count("\n", 0, pos) + 1:  # the error is at the declaration itself
            return f"`{word}` is a keyword of the language and cannot be a name: rename it, e.g. `{word}_`"
        return (f"`{word}` is a keyword of the language and cannot be a name (it is declared at line {line}): "
                f"rename it there and here, e.g. `{word}_`")
    return None


def _code_chars(text: str, end: int | None = None):
    """(offset, character) of every character of `text` before `end` that is code: comments
    (`//` to the end of the line) and the insides of strings are skipped."""
    i = 0
    end = len(text) if end is None else end
    while i < end:
        if text.startswith("//", i):
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
            continue
        ch = text[i]
        if ch == '"':
            i += 1
            while i < len(text) and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        else:
            yield i, ch
        i += 1


def _unclosed_brace(text: str, end: int | None = None) -> tuple[int, int] | None:
    """Line and column of the innermost `{` still open at offset `end` (default: the end of
    `text`; comments and strings skipped), or None when every `{` before it is closed."""
    stack: list[int] = []
    for i, ch in _code_chars(text, end):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            stack.pop()
    if not stack:
        return None
    pos = stack[-1]
    return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1


#: Operators and words of other languages that envspec does not have: (text, what to write).
_MISSING = {
    "**": "for a power write `pow(x, n)` (n a constant) or multiply, `x * x`",
    "++": "write `x += 1`",
    "*=": "write `x = x * y`",
    "/=": "write `x = x / y`",
    "%=": "write `x = x % y`",
    "<<": "multiply by a power of two: `x * 4`",
    ">>": "divide by a power of two: `x / 4`",
    "^": "for a power write `pow(x, n)`; for exclusive or write `a != b` on bools",
    "?": "write `if c then a else b`",
    "else if": "write `elif`",
    "elseif": "write `elif`",
    "elsif": "write `elif`",
    "/*": "comments begin with `//` and run to the end of the line",
    "#": "comments begin with `//` and run to the end of the line",
    "'": "strings are written in double quotes, `\"text\"`",
}


def _missing_construct(text: str, pos: int) -> tuple[str, int] | None:
    """The construct of `_MISSING` at offset `pos` of `text` (the token or character the
    parser stopped at, or the one before it), and its offset; None when there is none."""
    if text.startswith("if", pos) and (found := re.search(r"\belse\s*$", text[:pos])):
        return "else if", found.start()
    line_start = text.rfind("\n", 0, pos) + 1
    if found := re.search(r"}[ \t]*(elseif|elsif)\b", text[line_start:pos]):  # (a name after `}` on its line)
        return found.group(1), line_start + found.start(1)
    for op in ("**", "++", "*=", "/=", "%=", "<<", ">>", "/*"):
        for start in (pos - 1, pos):
            if start >= 0 and text.startswith(op, start):
                return op, start
    if pos < len(text) and text[pos] in "^?#'":
        return text[pos], pos
    return None


def _missing_diagnostic(path: str, text: str, pos: int, line: int, col: int) -> Diagnostic | None:
    found = _missing_construct(text, pos)
    if found is None:
        return None
    what, start = found
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    width = len(what) if what != "else if" else pos + 2 - start
    return Diagnostic("E0004", f"the language has no `{what}`", _point(path, text, line, col, start, width),
                      label="not part of envspec", help=_MISSING[what])


def _syntax_diagnostic(err: UnexpectedInput, path: str, text: str) -> Diagnostic:
    """The diagnostic of a lark parse error: E0003 at the end of the file, E0001 for an
    unexpected token, E0002 for an unexpected character (E0004 for a construct the language
    does not have, `_missing_diagnostic`)."""
    if isinstance(err, UnexpectedToken) and err.token.type == "$END" or isinstance(err, UnexpectedEOF):
        return _eof_diagnostic(err, path, text)
    if isinstance(err, UnexpectedToken):
        return _token_diagnostic(err, path, text)
    assert isinstance(err, UnexpectedCharacters)
    return _character_diagnostic(err, path, text)


def _eof_diagnostic(err: UnexpectedInput, path: str, text: str) -> Diagnostic:
    """E0003: the file ends where the parser expected more (naming the unclosed `{` when a `}`
    was expected and one is open)."""
    lines = text.split("\n")  # lark counts lines by "\n" only, not by str.splitlines()'s \r, \f, ...
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    last = len(lines)
    col = len(lines[-1].removesuffix("\r")) + 1  # a CRLF line ends before its \r
    expected = getattr(err, "expected", None) or getattr(err, "accepts", None) or []
    unclosed = _unclosed_brace(text)
    if "RBRACE" in expected and unclosed is not None:
        line, column = unclosed
        return Diagnostic(
            "E0003",
            "unexpected end of file: a block is not closed",
            _point(path, text, last, col, len(text)),
            label="the file ends here",
            notes=[f"the `{{` at {path}:{line}:{column} has no matching `}}`"],
            help="add the missing `}`",
        )
    return Diagnostic(
        "E0003",
        "unexpected end of file",
        _point(path, text, last, col, len(text)),
        label="the file ends here",
        help=f"expected {_expected_text(expected)}",
    )


def _token_diagnostic(err: UnexpectedToken, path: str, text: str) -> Diagnostic:
    """E0001: a token the grammar does not expect there, with the most specific hint that
    applies (`_token_help`), or E0004 for a construct the language does not have."""
    tok = err.token
    missing = _missing_diagnostic(path, text, tok.start_pos, tok.line, tok.column)
    if missing is not None:
        return missing
    width = max(1, len(str(tok)))
    shown = str(tok).replace("\n", "\\n")
    return Diagnostic(
        "E0001",
        f"unexpected `{shown}`",
        _point(path, text, tok.line, tok.column, tok.start_pos, width),
        label="not expected here",
        help=_token_help(err, text),
    )


def _token_help(err: UnexpectedToken, text: str) -> str | None:
    """The help of an unexpected token: the first hint, in order (most specific first: the
    order is the decision), whose test on the token and the source before it holds, else
    what the grammar expected there."""
    tok = err.token
    help_text: str | None = f"expected {_expected_text(err.accepts or err.expected)}"
    if str(tok) == "|" and text.startswith("||", tok.start_pos):
        help_text = "use the words `and`, `or` and `not`"
    elif (hint := _brace_help(err, text)) is not None:
        help_text = hint
    elif str(tok) in ("where", "if") and _after_generator_range(text, tok.start_pos):
        help_text = (f"a generator has no `{tok}` filter: put the condition in the value, "
                     "`sum(if i < n then x[i] else 0 for i in 0..N)`, `any(i < n and x[i] > 0 for i in 0..N)`, "
                     "`count(i < n for i in 0..N)`")
    elif str(tok) == "for" and _after_generator_range(text, tok.start_pos):
        # Python's `for p in .. for d in ..`: a generator binds one name; nesting says the same
        help_text = ("a generator has one `for`: nest one generator in another, "
                     "`sum(count(x[p][d] == 1 for d in 0..D) for p in 0..P)`, "
                     "`[[x[r][c] for c in 0..C] for r in 0..R]`")
    elif re.search(r"\bfor\s+\w+\s+in\s+[A-Za-z_][\w.\[\]]*\s*$", text[:tok.start_pos]):
        help_text = ("a `for` runs over a range of integers: `for i in 0..N { ... xs[i] ... }` "
                     "(for a list, `if i < len(xs)` inside, N its capacity)")
    elif re.search(r"\breturn\s*$", text[:tok.start_pos]) and str(tok) in ("}", "\n", ""):
        help_text = ("`return` gives a `fn` its value and has one; an action or `proc` ends after its last "
                     "statement: put what follows under `if ... { } else { ... }`")
    elif str(tok) == "{" and (record := _record_before(text, tok.start_pos)) is not None:
        help_text = (f"a record value is written with parentheses and named fields, `{record}(field: value, ...)`; "
                     "a field left out takes its default (`= value`, else 0 clamped into its range)")
    elif (hint := _habit_help(tok, text, help_text) or _keyword_declared_as_name(text, tok.start_pos)) is not None:
        help_text = hint
    elif "ACTION" in (err.accepts or err.expected):  # at the top level
        help_text = _top_level_help(tok, text) or help_text
    return help_text


def _brace_help(err: UnexpectedToken, text: str) -> str | None:
    """The hint for braces that do not pair: a `}` that closes no block, or a declaration's
    keyword at the start of a line inside a block left open (the parser notices only there:
    hunt U); None when neither."""
    tok = err.token
    if str(tok) == "}" and _unclosed_brace(text, tok.start_pos) is None:
        return "this `}` closes no block: remove it, or add the `{` it should close"
    if str(tok) not in _TOP_KEYWORDS or tok.column != 1 or "ACTION" in (err.accepts or err.expected):
        return None
    open_at = _unclosed_brace(text, tok.start_pos)
    if open_at is None:
        return None
    return (f"`{tok}` starts a declaration, but the `{{` at line {open_at[0]}, column {open_at[1]} is still open: "
            "add the `}` that closes it before this line")


def _habit_help(tok, text: str, expected: str | None) -> str | None:
    """The hint for a habit of other languages met writing card games and physics (probe3),
    where the grammar's `expected` says only what it wanted: a `match` arm `Kind.skip =>` (the
    pattern is the bare member), `elif` inside an `if ... then ... else` expression (chain with
    `else if`), Python's `a if c else b`, `random.pick(...) else v` / `choose(...) else v` inside
    an expression (probe7: it is a `let`'s whole value); None when none applies."""
    if str(tok) == "." and "`=>`" in (expected or "") and (member := re.match(r"\s*(\w+)", text[tok.end_pos:])):
        return (f"a `match` arm names the member alone, `{member.group(1)} =>` (the matched value's enum "
                "gives it); `_ =>` matches every other member")
    line_before = text[text.rfind("\n", 0, tok.start_pos) + 1:tok.start_pos]
    if str(tok) == "else" and expected == "expected `{`" and re.search(r"\S\s+if\b[^\n{]*$", line_before):
        # the `if` after a value began an `if` statement
        return "an expression chooses with `if c then a else b` (not Python's `a if c else b`)"
    if expected == "expected `[`" and re.search(r"\bint\s*$", line_before):
        # `let x: int = 3`: an integer type gives its range (hunt S)
        return "an integer type gives its range: `int[lo..hi]`, e.g. `int[0..9]` (the checker proves values stay in it)"
    line_after = text[tok.end_pos:text.find("\n", tok.end_pos) % (len(text) + 1)]
    if str(tok) == "if" and re.search(r"[\w)\]]\s*$", line_before) and re.search(r"\belse\b", line_after):
        # `min(3 if n > 2 else 4, 9)`, `sum(x if c else 0 for k in ...)`: inside brackets the `if`
        # after a value is unexpected at once (hunt S; the statement case is the `else` above)
        return "an expression chooses with `if c then a else b` (not Python's `a if c else b`)"
    pick = re.search(r"\b(random\.pick|choose)\s*\(", line_before)
    if str(tok) == "else" and pick and not re.match(r"\s*let\s+\w+(\s*:[^=]+)?\s*=\s*(random\.pick|choose)\s*\(",
                                                 line_before):
        # `ko = max(random.pick(...) else -1, 0)` (probe7): the `else` belongs to a `let`'s value only
        return (f"`{pick.group(1)}(...) else value` is the whole value of a `let`: "
                f"`let i = {pick.group(1)}(...) else -1`, then use `i`")
    if str(tok) == "elif" and expected == "expected `else`":
        return "an `if` expression chains with `else if`: `if a then x else if b then y else z`"
    return None


def _top_level_help(tok, text: str) -> str | None:
    """The hint for an unexpected token where a declaration may start: a statement after a `}`
    (a block closed too early), or a misspelt declaration keyword; None when neither."""
    looks_like_stmt = tok.type in ("LET", "IF", "FOR", "MATCH", "RETURN") or (
        tok.type == "NAME" and re.match(r"[ \t]*(=|\+=|-=|\(|\.|\[)", text[tok.end_pos:]))
    if looks_like_stmt and "}" in text[:tok.start_pos]:
        return ("only declarations (`state`, `action`, `fn`, ...) stand outside a block: "
                "does a `}` above close its block too early?")
    return did_you_mean(str(tok), _TOP_KEYWORDS) if tok.type == "NAME" else None


def _character_diagnostic(err: UnexpectedCharacters, path: str, text: str) -> Diagnostic:
    """E0002: a character no token starts with (a hint for `"`, `;` and C's `&&`, `||`, `!`),
    or E0004 for a construct the language does not have."""
    pos = err.pos_in_stream or 0  # always set by the lexer (lark types the attribute as None)
    missing = _missing_diagnostic(path, text, pos, err.line, err.column)
    if missing is not None:
        return missing
    ch = text[pos] if pos < len(text) else ""
    help_text = None
    if ch == '"':
        help_text = "strings end on the same line with a closing `\"`"
    elif ch in ";":
        help_text = "statements need no `;`: put each on its own line"
    elif ch in "&|!":
        help_text = "use the words `and`, `or` and `not`"
    elif ch.isspace():  # a no-break space, a form feed: invisible in the quoted line
        help_text = "replace it with a plain space or a line break"
    elif ch.isalpha():
        help_text = "names are written in ASCII letters, digits and `_`"
    else:
        help_text = "remove this character"
    return Diagnostic(
        "E0002",
        f"unexpected character `{ch}`" if ch.strip() else f"unexpected character {_unicode_name(ch)}",
        _point(path, text, err.line, err.column, pos),
        label="not part of the language",
        help=help_text,
    )


def _unicode_name(ch: str) -> str:
    """`U+00A0 (NO-BREAK SPACE)`: how a diagnostic names a character it cannot show."""
    if not ch:
        return "at the end of the file"
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def _record_before(text: str, pos: int) -> str | None:
    """The record named just before the `{` at `pos` (`Guess { pegs: g }`, a Rust-style record
    literal), when the source declares `record` of that name; else None."""
    m = re.search(r"\b([A-Za-z_]\w*)\s*$", text[:pos])
    if m is None or re.search(rf"\brecord\s+{m.group(1)}\b", text) is None:
        return None
    return m.group(1)


def _after_generator_range(text: str, pos: int) -> bool:
    """Whether the source before `pos`, on its line, ends inside a generator's `for x in a..b`
    (a Python-style filter, `for i in 0..n if c`, or a second `for` comes next)."""
    line = text[text.rfind("\n", 0, pos) + 1:pos]
    return re.search(r"\bfor\s+\w+\s+in\s+[^(){}\[\]]*\.\.[^(){}\[\]]*$", line) is not None


#: A number in exponent notation, `2.0e3`, `2e3`, `1.5E-3`, not inside a name (`x1e3`). The
#: lexer reads `2.0e3` as the float `2.0` and the name `e3` (a statement of its own: "does
#: nothing") and `2e-3` as `2`, `e`, `-`, `3`, so it is looked for in the source before parsing.
_EXPONENT = re.compile(r"(?<!\w)[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+(?!\w)")
_EXPONENT_DIGITS = 40  # beyond this many digits the help does not write the number out


def _exponent_diagnostic(text: str, path: str) -> Diagnostic | None:
    """E0004 for the first number in exponent notation in the code of `text` (comments and
    strings skipped), with the number written out in its help; None when there is none.
    Decision: a general rule on the source, not a grammar terminal, because a grammar
    terminal no rule uses is dropped by lark, and one that a rule used would accept it."""
    m = _first_in_code(_EXPONENT, text)
    if m is None:
        return None
    literal = m.group(0)
    return Diagnostic("E0004", f"the language has no exponent notation: `{literal}`", _match_span(path, text, m),
                      label="not part of envspec", help=_written_out(literal))


def _first_in_code(pattern: re.Pattern, text: str) -> re.Match | None:
    """The first match of `pattern` in the code of `text` (comments and strings skipped)."""
    found = list(pattern.finditer(text))
    if not found:
        return None
    code = {i for i, _ in _code_chars(text, found[-1].start() + 1)}
    return next((m for m in found if m.start() in code), None)


def _match_span(path: str, text: str, m: re.Match) -> Span:
    """The span of match `m` of `text` (its line and column)."""
    line = text.count("\n", 0, m.start()) + 1
    col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    return _point(path, text, line, col, m.start(), len(m.group(0)))


#: a float written with its dot at an end, `5.` or `.5` (not `0..5`, a range, nor `x.y5`): the
#: lexer reads `5.` as `5` and a field access, `.5` as a dot, so lark's error lands on the
#: token after (often the next line: hunt L)
_DOT_LITERAL = re.compile(r"(?<![\w.])([0-9]+)\.(?![0-9.\w])|(?<![\w.\])])\.([0-9]+)(?![\w.])")


def _dot_literal_diagnostic(text: str, path: str) -> Diagnostic | None:
    """E0004 at the first float literal of the code of `text` written `5.` or `.5`, with the
    digits it needs; None when there is none. Asked only when the parse failed (such a
    literal never parses), so a valid spec is never read this way."""
    m = _first_in_code(_DOT_LITERAL, text)
    if m is None:
        return None
    fixed = f"{m.group(1)}.0" if m.group(1) is not None else f"0.{m.group(2)}"
    return Diagnostic("E0004", f"a float literal needs digits on both sides of its `.`: `{m.group(0)}`",
                      _match_span(path, text, m), label="not part of envspec", help=f"write `{fixed}`")


def _written_out(literal: str) -> str:
    """The help for a number in exponent notation: the same number in digits, a float
    (`2000.0`) when it has a `.` or a negative exponent, else an integer (`2000`) or a float."""
    from decimal import Decimal

    mantissa, exponent = re.split("[eE]", literal)
    if abs(int(exponent)) > _EXPONENT_DIGITS:
        return "write the number out in digits"
    digits = format(Decimal(literal), "f")
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    as_float = digits + ".0" if "." not in digits else digits
    if "." in mantissa or int(exponent) < 0:
        return f"write the number out: `{as_float}`"
    return f"write the number out: `{digits}` (an integer) or `{as_float}` (a float)"


def parse(text: str, path: str = "<input>") -> ast.Module:
    """Parse `.envspec` source text.

    Args:
        text: the source.
        path: the file name shown in diagnostics.

    Returns:
        the syntax tree.

    Raises:
        DiagnosticError: on a syntax error (codes E0001, E0002, E0003; E0004 for a
            construct the language does not have, such as exponent notation).
    """
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark (editors on Windows write one) is no code
    if "\r" in text and "\n" not in text:  # classic Mac OS line ends: lark ends lines and `//` comments at "\n" only
        text = text.replace("\r", "\n")  # (the same length: offsets and columns stay the file's)
    Sources.add(path, text)
    exponent = _exponent_diagnostic(text, path)
    if exponent is not None:
        raise DiagnosticError([exponent])
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as err:
        raise DiagnosticError([_dot_literal_diagnostic(text, path) or _syntax_diagnostic(err, path, text)]) from None
    try:
        decls = _Builder(path).transform(tree)
    except VisitError as err:  # pragma: no cover - a builder bug, not a user error
        if not isinstance(err.orig_exc, RecursionError):
            raise err.orig_exc from None
        decls = None
    except RecursionError:  # the recursive transformer on absurdly nested input
        decls = None
    if decls is None:
        line, col, pos = _deepest(text)
        raise DiagnosticError([Diagnostic(
            "E0001", "the spec is nested too deeply", _point(path, text, line, col, pos),
            label="nesting gets too deep around here",
            help="split the expression into `let` variables, constants or functions")])
    return ast.Module(path=path, source=text, decls=decls)


def parse_fill_body(text: str, path: str = "<fill>") -> list[ast.Stmt]:
    """Parse the statements of a fill's body on their own (no `fill NAME ... {`, no braces),
    as `envc fill` receives them from a model; raises `DiagnosticError` as `parse` does."""
    Sources.add(path, text)
    exponent = _exponent_diagnostic(text, path)
    if exponent is not None:
        raise DiagnosticError([exponent])
    try:
        tree = _lark_fill_body().parse(text)
    except UnexpectedInput as err:
        raise DiagnosticError([_dot_literal_diagnostic(text, path) or _syntax_diagnostic(err, path, text)]) from None
    try:
        return _Builder(path).transform(tree)
    except VisitError as err:
        if not isinstance(err.orig_exc, RecursionError):
            raise err.orig_exc from None
    except RecursionError:
        pass
    line, col, pos = _deepest(text)
    raise DiagnosticError([Diagnostic("E0001", "the fill is nested too deeply", _point(path, text, line, col, pos),
                                      label="nesting gets too deep around here",
                                      help="split the expression into `let` variables")])


def _deepest(text: str) -> tuple[int, int, int]:
    """Line, column and offset of the first bracket at the deepest nesting of `(`, `[` and `{`
    (comments and strings skipped); the start of the file when there is none."""
    depth, best, best_pos = 0, 0, 0
    for i, ch in _code_chars(text):
        if ch in "([{":
            depth += 1
            if depth > best:
                best, best_pos = depth, i
        elif ch in ")]}":
            depth = max(depth - 1, 0)
    return text.count("\n", 0, best_pos) + 1, best_pos - (text.rfind("\n", 0, best_pos) + 1) + 1, best_pos


def parse_file(path: str) -> ast.Module:
    """Read and parse a spec (or fill) file; a missing, unreadable or malformed file (not a
    regular file, over the size cap, not UTF-8: `envc.compiler.datafiles.read_text`) is a
    diagnostic."""
    from envc.compiler.datafiles import DataFileError, read_text

    try:
        text = read_text(path)
    except DataFileError as err:
        where = f" at {path}:{err.line}:{err.col}" if err.line is not None else ""
        raise DiagnosticError([Diagnostic("E0150", f"cannot read `{path}`: {err.message}{where}", None,
                                          help=err.help or "check the path")]) from None
    return parse(text, path)
