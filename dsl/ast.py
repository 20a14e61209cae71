"""Syntax tree of an `.envspec` file: what the parser read, before any checking.

Public surface: the node dataclasses below and `Span` (re-exported from
`envc.compiler.diagnostics`). Nodes keep the source span of every construct so that
the checker (`envc.compiler.check`) can point diagnostics at it. Names are not
resolved and types are not inferred here: that is the checker's job, and the typed
result is the IR (`envc.compiler.ir`), a separate set of classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envc.compiler.diagnostics import Span

# ---------------------------------------------------------------- types


@dataclass
class TypeExpr:
    span: Span


@dataclass
class BoolTypeExpr(TypeExpr):
    pass


@dataclass
class FloatTypeExpr(TypeExpr):
    pass


@dataclass
class IntTypeExpr(TypeExpr):
    lo: Expr
    hi: Expr
    inclusive: bool = True


@dataclass
class NamedTypeExpr(TypeExpr):
    name: str


@dataclass
class ListTypeExpr(TypeExpr):
    elem: TypeExpr
    cap: Expr | None  # None: `list<T>`, a parameter that accepts a list of any capacity


@dataclass
class ArrayTypeExpr(TypeExpr):
    elem: TypeExpr
    size: Expr


# ---------------------------------------------------------------- expressions


@dataclass
class Expr:
    span: Span


@dataclass
class IntLit(Expr):
    value: int


@dataclass
class FloatLit(Expr):
    value: float


@dataclass
class BoolLit(Expr):
    value: bool


@dataclass
class StringLit(Expr):
    value: str


@dataclass
class Name(Expr):
    name: str


@dataclass
class Field(Expr):
    base: Expr
    name: str
    name_span: Span


@dataclass
class Index(Expr):
    base: Expr
    index: Expr


@dataclass
class Arg:
    span: Span
    value: Expr
    name: str | None = None


@dataclass
class Generator(Expr):
    """`body for var in lo..hi`, only as a call argument (sum, count, any, all, ...)."""

    body: Expr
    var: str
    lo: Expr
    hi: Expr
    inclusive: bool


@dataclass
class Selector(Expr):
    """`var in lo..hi where cond`, only as an argument of `choose(...)` and `random.pick(...)`:
    the values of `var` in the range for which `cond` holds (all of them without `where`)."""

    var: str
    lo: Expr
    hi: Expr
    inclusive: bool
    cond: Expr | None


@dataclass
class Call(Expr):
    func: Expr
    args: list[Arg]


@dataclass
class Unary(Expr):
    op: str  # "-" or "not"
    operand: Expr


@dataclass
class Binary(Expr):
    op: str  # + - * / % == != < <= > >= and or
    left: Expr
    right: Expr
    op_span: Span


@dataclass
class CondExpr(Expr):
    cond: Expr
    then: Expr
    orelse: Expr


@dataclass
class ArrayLit(Expr):
    items: list[Expr]


@dataclass
class Comprehension(Expr):
    body: Expr
    var: str
    lo: Expr
    hi: Expr
    inclusive: bool


# ---------------------------------------------------------------- statements


@dataclass
class Stmt:
    span: Span


@dataclass
class Let(Stmt):
    name: str
    type: TypeExpr | None
    value: Expr
    orelse: Expr | None = None  # `let x = choose(...) else e`: the value when no option is legal


@dataclass
class While(Stmt):
    """`while cond max bound { body }` (`bound` None: no `max`, which the checker refuses)."""

    cond: Expr
    bound: Expr | None
    body: list[Stmt]


@dataclass
class Break(Stmt):
    pass


@dataclass
class Assign(Stmt):
    target: Expr
    op: str  # "=", "+=", "-="
    value: Expr
    orelse: Expr | None = None  # `x = choose(...) else e`
    until: Expr | None = None  # `x = v until boundary(args)`: a lasting value


@dataclass
class ExprStmt(Stmt):
    expr: Expr


@dataclass
class If(Stmt):
    branches: list[tuple[Expr, list[Stmt]]]
    orelse: list[Stmt] | None


@dataclass
class For(Stmt):
    var: str
    lo: Expr
    hi: Expr
    inclusive: bool
    body: list[Stmt]


@dataclass
class MatchArm:
    span: Span
    patterns: list[tuple[str | None, Span]]  # None is the wildcard `_`
    body: list[Stmt]


@dataclass
class Match(Stmt):
    subject: Expr
    arms: list[MatchArm]


@dataclass
class Return(Stmt):
    value: Expr


# ---------------------------------------------------------------- declarations


@dataclass
class Decl:
    span: Span


@dataclass
class EnvDecl(Decl):
    name: str
    doc: str | None


@dataclass
class PlayersDecl(Decl):
    count: int


@dataclass
class TurnLimitDecl(Decl):
    limit: int


@dataclass
class SimultaneousDecl(Decl):
    """`simultaneous`: every player submits an action each turn; `resolve` plays them."""


@dataclass
class ResolveDecl(Decl):
    """`resolve { ... }`: what a turn of a simultaneous spec does once every player has chosen."""

    body: list[Stmt]


@dataclass
class IllegalActionDecl(Decl):
    policy: str
    policy_span: Span


@dataclass
class ConstDecl(Decl):
    name: str
    type: TypeExpr | None
    value: Expr


@dataclass
class EnumMember:
    span: Span
    name: str
    alias: str | None


@dataclass
class EnumDecl(Decl):
    name: str
    members: list[EnumMember]


@dataclass
class FieldDecl(Decl):
    name: str
    type: TypeExpr
    default: Expr | None
    # (name, span, argument or None): `@hidden`, `@reveal(flag)`
    annotations: list[tuple] = field(default_factory=list)


@dataclass
class RecordDecl(Decl):
    name: str
    fields: list[FieldDecl]


@dataclass
class ColumnDecl(Decl):
    name: str
    type: TypeExpr
    source: str | None
    default: Expr | None
    # `by T.f` -> ("by", T, f, span); `count E` -> ("count", E, None, span)
    mode: tuple | None = None


@dataclass
class TableDecl(Decl):
    name: str
    path: str
    path_span: Span
    columns: list[ColumnDecl]
    # `invariant name "rule": expr` inside the table: each row must obey it (row invariants)
    invariants: list[InvariantDecl] = field(default_factory=list)


@dataclass
class StateDecl(Decl):
    fields: list[FieldDecl]


@dataclass
class InitDecl(Decl):
    body: list[Stmt]


@dataclass
class Param:
    span: Span
    name: str
    type: TypeExpr


@dataclass
class ActionDecl(Decl):
    name: str
    params: list[Param]
    guard: Expr | None
    body: list[Stmt]


@dataclass
class FnDecl(Decl):
    name: str
    params: list[Param]
    ret: TypeExpr
    body: list[Stmt]


@dataclass
class ProcDecl(Decl):
    name: str
    params: list[Param]
    body: list[Stmt]


@dataclass
class ObserveDecl(Decl):
    player: str
    ret: TypeExpr
    body: list[Stmt]


@dataclass
class InvariantDecl(Decl):
    name: str
    doc: str | None
    expr: Expr


@dataclass
class HoleDecl(Decl):
    name: str
    params: list[Param]
    ret: TypeExpr | None
    prose: str
    ensures: list[Expr]
    # a hole family (`per T.col, ...`): the text columns, as (table, column, span)
    per: list[tuple] | None = None
    # a member of a hole family (one distinct text): the family's name
    family: str | None = None


@dataclass
class BoundaryDecl(Decl):
    """`boundary turn_end(p: int[0..1])`: an event the spec announces (`turn_end(p)` as a
    statement) at which lasting values set `until` it return to their defaults."""

    name: str
    params: list[Param]


@dataclass
class FillDecl(Decl):
    """`fill NAME attr value ... [ensures ...] [scenario ...] { body }`: the body of hole
    NAME, with its provenance attributes (`hash`, `provenance`, `model`, `attempts`,
    `tokens`, `cost`, `date`) and the checks written beside it (not part of the hash)."""

    name: str
    attrs: dict
    body: list[Stmt]
    ensures: list[Expr] = field(default_factory=list)
    scenarios: list[Scenario] = field(default_factory=list)
    attr_spans: dict = field(default_factory=dict)  # attribute name -> the span of its name


# ---------------------------------------------------------------- checks of texts


@dataclass
class Scenario(Decl):
    """`scenario ["name"] given place = expr, ... then expr, ...`: a concrete call of a
    hole's fill (see `TextsDecl`)."""

    name: str | None
    given: list[tuple[Expr, Expr]]
    then: list[Expr]


@dataclass
class Modified:
    """One item of `modifies`: a place (`damage[p][0]`), maybe over a range of one index
    (`damage[1 - p][s] for s in 1..SLOTS`)."""

    span: Span
    place: Expr
    var: str | None = None
    lo: Expr | None = None
    hi: Expr | None = None
    inclusive: bool = False


@dataclass
class Modifies(Decl):
    """`modifies a, b[i], ...`; `items` is None for `modifies any` (no frame)."""

    items: list[Modified] | None


@dataclass
class Draws(Decl):
    """`draws N` (lo == hi), `draws at least N` (hi None), `draws at most N` (lo 0), `draws any`
    (lo 0, hi None); a bound is an int or the name of a capture. With `among COUNT`: N draws of
    a call (at least one; for `at most N`, the call's draws if it makes any) range over `COUNT`
    values whenever `COUNT` >= 2 (read on the state before the call)."""

    lo: int | str
    hi: int | str | None
    among: Expr | None = None


@dataclass
class Chooses(Decl):
    """`chooses WHO [among COUNT]`: the decisions (`choose`) of a call of the text are asked of
    player `WHO`, and with `among`, one of them offers `COUNT` options whenever `COUNT` >= 2
    (both read the state before the call)."""

    who: Expr
    among: Expr | None = None


@dataclass
class Chance(Decl):
    """`with chance A in B [for i in lo..hi] [where GUARD]: COND`: over every value of a call's
    random draws (each value of a draw equally likely), `COND` (an `ensures` expression) holds
    with probability exactly A/B, on a call whose `GUARD` holds on the state before it; with
    `for`, for each `i` of the range whose `GUARD` holds ("a random living monster": `with
    chance 1 in count(...) for i in 0..TEAM where alive: hit(i)`). `A` is an int, the name of a
    capture ("<N>% chance": `with chance N in 100`) or a parenthesized integer expression; `A`
    and `B` are read on the state before the call."""

    num: int | str | Expr
    den: Expr
    guard: Expr | None
    cond: Expr
    var: str | None = None  # `for var in lo..hi`: one law per value (each option of a random choice)
    lo: Expr | None = None
    hi: Expr | None = None
    inclusive: bool = False


@dataclass
class DataFrom(Decl):
    """`N = Table.column` of a `where` clause: capture `N` is printed from that column of the
    text's row. Spans: `name_span` the capture's name, `column_span` `Table.column`."""

    name: str
    table: str
    column: str
    name_span: Span
    column_span: Span


@dataclass
class TextRule(Decl):
    """`text "PATTERN" ...` (whole: the pattern matches a whole text) or `mentions
    "PATTERN" ...` (anywhere in a text), with its clauses. `pattern_span` is the string's."""

    whole: bool
    pattern: str
    pattern_span: Span
    ensures: list[Expr] = field(default_factory=list)
    modifies: list[Modifies] = field(default_factory=list)
    draws: list[Draws] = field(default_factory=list)
    scenarios: list[Scenario] = field(default_factory=list)
    data: list[DataFrom] = field(default_factory=list)
    chooses: list[Chooses] = field(default_factory=list)
    chances: list[Chance] = field(default_factory=list)


@dataclass
class SymbolDecl(Decl):
    """`symbol "{R}" = Energy.fire`."""

    symbol: str
    value: Expr


@dataclass
class ContextParam:
    span: Span
    name: str
    type: TypeExpr | None


@dataclass
class ContextDecl(Decl):
    """`context(c, k, extra: T, ...) when guard { body }`."""

    params: list[ContextParam]
    guard: Expr | None
    body: list[Stmt]


@dataclass
class TextsDecl(Decl):
    """`texts of NAME, ... { ... }`: checks of the texts of hole families or holes, keyed on
    the text (symbols, a context, a frame, and rules). Not part of any hole's hash."""

    targets: list[tuple[str, Span]]
    symbols: list[SymbolDecl] = field(default_factory=list)
    contexts: list[ContextDecl] = field(default_factory=list)
    modifies: list[Modifies] = field(default_factory=list)
    rules: list[TextRule] = field(default_factory=list)


@dataclass
class Module:
    path: str
    source: str
    decls: list[Decl]
