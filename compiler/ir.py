"""The typed IR: what every backend (interpreter, JAX, Rust) consumes.

Public surface: the type nodes (`BoolT`, `IntT`, `FloatT`, `EnumT`, `ArrayT`,
`RecordT`, `ListT`, `RowT`), expression nodes (`Expr` union), statement nodes
(`Stmt` union), declarations and `Module`; `EXPR_KINDS` and `STMT_KINDS` name every
node kind (tests use them to prove each backend handles each kind).

Every node is a frozen pydantic v2 model with `extra="forbid"`, tagged by `kind`.
Expressions carry their inferred `type` and a `span`; statements and declarations a
`span`. Integers are bounded (`IntT(lo, hi)`, both inclusive); the checker guarantees
that every value stays inside its type's range, so a backend may store it in the
narrowest integer dtype (`IntT.dtype`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from envc.compiler.diagnostics import NO_SPAN, Span


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ------------------------------------------------------------------ types

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


class BoolT(Node):
    kind: Literal["bool"] = "bool"

    def __str__(self) -> str:
        return "bool"


class IntT(Node):
    kind: Literal["int"] = "int"
    lo: int
    hi: int

    def __str__(self) -> str:
        return f"int[{self.lo}..{self.hi}]"

    @property
    def dtype(self) -> str:
        """The narrowest signed integer dtype holding every value (int8/int16/int32)."""
        if -(2**7) <= self.lo and self.hi < 2**7:
            return "int8"
        if -(2**15) <= self.lo and self.hi < 2**15:
            return "int16"
        return "int32"


class FloatT(Node):
    kind: Literal["float32"] = "float32"

    def __str__(self) -> str:
        return "float32"


class EnumT(Node):
    kind: Literal["enum"] = "enum"
    name: str
    size: int

    def __str__(self) -> str:
        return self.name


class RecordT(Node):
    kind: Literal["record"] = "record"
    name: str

    def __str__(self) -> str:
        return self.name


class RowT(Node):
    """A row of a static table: an index `0..rows-1` into it."""

    kind: Literal["row"] = "row"
    table: str
    rows: int

    def __str__(self) -> str:
        return self.table


class ArrayT(Node):
    kind: Literal["array"] = "array"
    elem: Type
    size: int

    def __str__(self) -> str:
        t: Type = self
        while isinstance(t, ArrayT):
            t = t.elem
        return str(t) + "".join(f"[{d}]" for d in dims(self))


class ListT(Node):
    """A list with fixed capacity `cap` and a length `0..cap`."""

    kind: Literal["list"] = "list"
    elem: Type
    cap: int

    def __str__(self) -> str:
        return f"list<{self.elem}, {self.cap}>"


Type = Annotated[
    Union[BoolT, IntT, FloatT, EnumT, RecordT, RowT, ArrayT, ListT],
    Field(discriminator="kind"),
]

BOOL = BoolT()
FLOAT = FloatT()


# ------------------------------------------------------------------ expressions


class ExprNode(Node):
    type: Type
    span: Span = NO_SPAN


class Const(ExprNode):
    """A literal or folded constant; arrays are nested Python lists, enums member indices."""

    kind: Literal["const"] = "const"
    value: Any


class Local(ExprNode):
    """A local: a `let`, a parameter, a loop variable."""

    kind: Literal["local"] = "local"
    name: str


class StateGet(ExprNode):
    kind: Literal["state"] = "state"
    name: str


class GetField(ExprNode):
    kind: Literal["get_field"] = "get_field"
    base: Expr
    name: str


class GetIndex(ExprNode):
    """`base[index]` on an array or a list (for a list, `index < len` is checked at run time)."""

    kind: Literal["get_index"] = "get_index"
    base: Expr
    index: Expr


class TableGet(ExprNode):
    kind: Literal["table_get"] = "table_get"
    table: str
    column: str
    row: Expr


class Unary(ExprNode):
    kind: Literal["unary"] = "unary"
    op: Literal["neg", "not"]
    operand: Expr


class Binary(ExprNode):
    """Arithmetic on int or float32 (`/` and `%` on ints are floor division and floor
    modulo, as in Python), comparisons, and `and`/`or` on bools (both sides are evaluated when the right one draws)."""

    kind: Literal["binary"] = "binary"
    op: Literal["add", "sub", "mul", "div", "mod", "eq", "ne", "lt", "le", "gt", "ge", "and", "or"]
    left: Expr
    right: Expr


class Cond(ExprNode):
    kind: Literal["cond"] = "cond"
    cond: Expr
    then: Expr
    orelse: Expr


class CallFn(ExprNode):
    kind: Literal["call_fn"] = "call_fn"
    fn: str
    args: list[Expr]


class Builtin(ExprNode):
    """A pure built-in: min, max, abs, clamp, int, float, len, contains, count,
    sqrt, sin, cos, exp, floor."""

    kind: Literal["builtin"] = "builtin"
    name: str
    args: list[Expr]


class Reduce(ExprNode):
    """`op(body for var in lo..hi)` with op in sum, count, any, all, min, max (hi exclusive)."""

    kind: Literal["reduce"] = "reduce"
    op: Literal["sum", "count", "any", "all", "min", "max"]
    var: str
    lo: int
    hi: int
    body: Expr


class ArrayBuild(ExprNode):
    """`[body for var in lo..hi]` (hi exclusive)."""

    kind: Literal["array_build"] = "array_build"
    var: str
    lo: int
    hi: int
    body: Expr


class ArrayLit(ExprNode):
    kind: Literal["array_lit"] = "array_lit"
    items: list[Expr]


class RecordLit(ExprNode):
    kind: Literal["record_lit"] = "record_lit"
    record: str
    fields: list[tuple[str, Expr]]


class RandomInt(ExprNode):
    """A uniform draw in `lo..hi` (both inclusive) from envc's counter-based RNG."""

    kind: Literal["random_int"] = "random_int"
    lo: Expr
    hi: Expr


class ListTake(ExprNode):
    """Remove and return an element of a list place: `draw()` takes index 0 (the top),
    `pop()` the last element. Taking from an empty list is a runtime fault."""

    kind: Literal["list_take"] = "list_take"
    place: Place
    front: bool


Expr = Annotated[
    Union[
        Const, Local, StateGet, GetField, GetIndex, TableGet, Unary, Binary, Cond, CallFn,
        Builtin, Reduce, ArrayBuild, ArrayLit, RecordLit, RandomInt, ListTake,
    ],
    Field(discriminator="kind"),
]


# ------------------------------------------------------------------ places (assignable)


class FieldStep(Node):
    kind: Literal["field"] = "field"
    name: str


class IndexStep(Node):
    kind: Literal["index"] = "index"
    index: Expr
    is_list: bool = False


class Place(Node):
    """An assignable location: a state field or a local, then fields and indices."""

    root: Literal["state", "local"]
    name: str
    path: list[Annotated[Union[FieldStep, IndexStep], Field(discriminator="kind")]] = []
    type: Type
    span: Span = NO_SPAN


# ------------------------------------------------------------------ statements


class StmtNode(Node):
    span: Span = NO_SPAN


class Let(StmtNode):
    kind: Literal["let"] = "let"
    name: str
    type: Type
    value: Expr


class Assign(StmtNode):
    kind: Literal["assign"] = "assign"
    place: Place
    value: Expr


class If(StmtNode):
    kind: Literal["if"] = "if"
    cond: Expr
    then: list[Stmt]
    orelse: list[Stmt] = []


class For(StmtNode):
    """`for var in lo..hi` with constant bounds (hi exclusive)."""

    kind: Literal["for"] = "for"
    var: str
    lo: int
    hi: int
    body: list[Stmt]


class MatchArm(Node):
    members: list[int]  # enum member indices; empty for the wildcard arm
    body: list[Stmt]
    span: Span = NO_SPAN


class Match(StmtNode):
    kind: Literal["match"] = "match"
    subject: Expr
    arms: list[MatchArm]


class Return(StmtNode):
    kind: Literal["return"] = "return"
    value: Expr


class CallProc(StmtNode):
    kind: Literal["call_proc"] = "call_proc"
    proc: str
    args: list[Expr]


class ListOp(StmtNode):
    """push(x), insert(i, x), remove_at(i), clear(), shuffle() on a list place.
    Pushing onto a full list or removing past its length is a runtime fault."""

    kind: Literal["list_op"] = "list_op"
    op: Literal["push", "insert", "remove_at", "clear", "shuffle", "discard_front", "discard_back"]
    place: Place
    args: list[Expr] = []


class Effect(StmtNode):
    """Built-in game effects: `win(p)` (p gets +1, every other player -1, terminated),
    `draw()` (terminated, all rewards 0), `terminate()`, `reward(p, r)` (adds r)."""

    kind: Literal["effect"] = "effect"
    name: Literal["win", "draw", "terminate", "reward"]
    args: list[Expr] = []


class Fault(StmtNode):
    """`fail("message")`: marks a state the spec says cannot happen (a runtime fault)."""

    kind: Literal["fault"] = "fault"
    message: str


class ExprStmt(StmtNode):
    """An expression evaluated for its side effect (a `draw()` whose card is dropped)."""

    kind: Literal["expr_stmt"] = "expr_stmt"
    expr: Expr


Stmt = Annotated[
    Union[Let, Assign, If, For, Match, Return, CallProc, ListOp, Effect, Fault, ExprStmt],
    Field(discriminator="kind"),
]

EXPR_KINDS = (
    "const", "local", "state", "get_field", "get_index", "table_get", "unary", "binary", "cond",
    "call_fn", "builtin", "reduce", "array_build", "array_lit", "record_lit", "random_int", "list_take",
)
STMT_KINDS = ("let", "assign", "if", "for", "match", "return", "call_proc", "list_op", "effect", "fault", "expr_stmt")


def zero_value(module: Module, t: Type) -> Any:
    """The default of a field with no `= default`: 0 clamped into an int range, false, 0.0,
    the first enum member or row, empty lists; arrays and records element by element."""
    if isinstance(t, BoolT):
        return False
    if isinstance(t, IntT):
        return min(max(0, t.lo), t.hi)
    if isinstance(t, FloatT):
        return 0.0
    if isinstance(t, (EnumT, RowT)):
        return 0
    if isinstance(t, ArrayT):
        return [zero_value(module, t.elem) for _ in range(t.size)]
    if isinstance(t, ListT):
        return []
    return {f.name: zero_value(module, f.type) for f in module.record(t.name).fields}


def raw_zero(module: Module, t: Type) -> Any:
    """All-zero bits of type `t` (even where 0 is outside an int range): what an unused
    list slot holds in the array backends, so that equal lists have equal arrays."""
    if isinstance(t, BoolT):
        return False
    if isinstance(t, FloatT):
        return 0.0
    if isinstance(t, (IntT, EnumT, RowT)):
        return 0
    if isinstance(t, ArrayT):
        return [raw_zero(module, t.elem) for _ in range(t.size)]
    if isinstance(t, ListT):
        return []
    return {f.name: raw_zero(module, f.type) for f in module.record(t.name).fields}


def dims(t: Type) -> tuple[int, ...]:
    """The array dimensions of type `t`, outermost first (`()` for a non-array)."""
    out = []
    while isinstance(t, ArrayT):
        out.append(t.size)
        t = t.elem
    return tuple(out)


def children(e: Node):
    """The nodes directly inside `e`, in field order (a list's items in order; of a
    `(name, node)` pair, the node): the order an expression is evaluated in."""
    for name in type(e).model_fields:
        value = getattr(e, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                item = item[1]
            if isinstance(item, Node):
                yield item


def first_draw(e: Node) -> Expr | None:
    """The first `RandomInt` or `ListTake` inside an expression (in evaluation order), if any."""
    if isinstance(e, (RandomInt, ListTake)):
        return e
    for item in children(e):
        if not isinstance(item, Place):
            found = first_draw(item)
            if found is not None:
                return found
    return None


# ------------------------------------------------------------------ declarations


class EnumDef(Node):
    name: str
    members: list[str]
    aliases: list[str | None]
    span: Span = NO_SPAN


class FieldDef(Node):
    name: str
    type: Type
    default: Any
    visibility: Literal["public", "hidden", "private"] = "public"
    builtin: bool = False
    matchup: bool = False  # `@matchup`: `envc run` reports episodes per value of this field
    span: Span = NO_SPAN


class RecordDef(Node):
    name: str
    fields: list[FieldDef]
    span: Span = NO_SPAN


class ColumnDef(Node):
    name: str
    type: Type
    values: list[Any]
    span: Span = NO_SPAN


class TableDef(Node):
    name: str
    path: str
    rows: int
    columns: list[ColumnDef]
    labels: list[str] | None = None  # each row's `name` (or `id`) in the data file, when every row has one
    span: Span = NO_SPAN


class ParamDef(Node):
    name: str
    type: Type
    span: Span = NO_SPAN


class ActionDef(Node):
    name: str
    params: list[ParamDef]
    guard: Expr | None
    body: list[Stmt]
    span: Span = NO_SPAN


class FnDef(Node):
    name: str
    params: list[ParamDef]
    ret: Type | None  # None for a proc (a procedure that may change the state)
    body: list[Stmt]
    pure: bool
    span: Span = NO_SPAN


class ObserveDef(Node):
    player: str
    type: Type
    body: list[Stmt]
    span: Span = NO_SPAN


class InvariantDef(Node):
    name: str
    doc: str | None
    expr: Expr
    span: Span = NO_SPAN


class Provenance(Node):
    source: str  # "hand" or "model"
    model: str | None = None
    attempts: int = 0
    tokens: int = 0
    cost: float = 0.0
    date: str | None = None


class HoleDef(Node):
    """A rule known only as prose; `fill` is the name of the `FnDef` holding its body."""

    name: str
    params: list[ParamDef]
    ret: Type | None
    prose: str
    ensures: list[Expr]
    signature_hash: str
    fill: str | None
    provenance: Provenance | None = None
    status: Literal["filled", "unfilled", "stale"] = "unfilled"
    # a member of a hole family: the family's name (`prose` is its text)
    family: str | None = None
    span: Span = NO_SPAN


class FamilyDef(Node):
    """A hole family `hole NAME(params) per T.col, ...`: one hole per distinct text of the
    `text` columns, numbered 1..len(texts) in order of first appearance (row by row); the
    columns then hold these numbers (0: no text). `dispatch` is the generated proc
    `dispatch(effect, params...)` that runs the filled member of number `effect` (a text
    with no fill does nothing there: the checker refuses decks that need one)."""

    name: str
    table: str
    columns: list[str]
    texts: list[str]
    members: list[str]
    dispatch: str
    # rows of `table` that other tables name through `by` columns (the cards of the decks);
    # all rows when no table names it
    needed_rows: list[int]
    span: Span = NO_SPAN


class SimultaneousDef(Node):
    """A simultaneous spec (header `simultaneous`): each turn every player chooses an action
    privately, then `resolve` plays them (see `envc.compiler.passes.simultaneous`).

    As checked, `resolve` holds the block, and actions, procs and `resolve` may contain the
    forms the pass lowers: `CallProc("sim.act", [p])` (run player p's chosen action),
    `Builtin("sim.chose", [p, k])` (did p choose action kind k) and
    `Builtin("sim.chosen", [p, k, j])` (parameter j of p's chosen kind-k action). After the
    pass (`lowered`), the module is an ordinary sequential game: `choice` names the hidden
    state field holding each player's chosen flat action, `turn` the field counting resolved
    turns (what the spec reads as `step_count`), `turn_limit` the spec's limit in turns, and
    `resolve` is empty (it runs in the module's `epilogue`)."""

    resolve: list[Stmt] = []
    lowered: bool = False
    choice: str | None = None
    turn: str | None = None
    turn_limit: int | None = None
    span: Span = NO_SPAN


class Module(Node):
    name: str
    doc: str | None
    path: str
    num_players: int
    turn_limit: int | None
    illegal_action: Literal["lose", "error"]
    enums: list[EnumDef]
    records: list[RecordDef]
    tables: list[TableDef]
    state: list[FieldDef]
    init: list[Stmt]
    actions: list[ActionDef]
    fns: list[FnDef]
    observe: ObserveDef
    invariants: list[InvariantDef]
    holes: list[HoleDef]
    families: list[FamilyDef] = []
    # statements every legal step runs after the action's body (a pass may set them: the
    # lowering of `simultaneous` resolves a turn there)
    epilogue: list[Stmt] = []
    simultaneous: SimultaneousDef | None = None

    def enum(self, name: str) -> EnumDef:
        return next(e for e in self.enums if e.name == name)

    def record(self, name: str) -> RecordDef:
        return next(r for r in self.records if r.name == name)

    def table(self, name: str) -> TableDef:
        return next(t for t in self.tables if t.name == name)

    def fn(self, name: str) -> FnDef:
        return next(f for f in self.fns if f.name == name)


for _model in (ArrayT, ListT, GetField, GetIndex, TableGet, Unary, Binary, Cond, CallFn, Builtin, Reduce,
               ArrayBuild, ArrayLit, RecordLit, RandomInt, ListTake, IndexStep, Place, Let, Assign, If, For,
               MatchArm, Match, Return, CallProc, ListOp, Effect, ExprStmt, SimultaneousDef, Module):
    _model.model_rebuild()
