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

import math
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, NamedTuple, TypeVar, Union, get_args, get_origin

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


#: the operators of `Binary`
BinaryOp = Literal["add", "sub", "mul", "div", "mod", "eq", "ne", "lt", "le", "gt", "ge", "and", "or"]


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
    """`base[index]` on an array or a list (for a list, `index < len` is checked at run time,
    unless `unchecked`: the pass `lower_lists` set it after an explicit `Check`)."""

    kind: Literal["get_index"] = "get_index"
    base: Expr
    index: Expr
    unchecked: bool = False


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
    op: BinaryOp
    left: Expr
    right: Expr
    # A sum or difference typed by a condition on that very sum (`if src + d >= N { return }`
    # then `src + d`: compiler/check_lang.py `narrowed_path` with `sums`), so narrower than its
    # operands' ranges give. Decision: the narrowing is marked on the node, not inferred, so
    # that `ir.verify` checks every other sum exactly and a pass that rebuilds a narrowed sum
    # without the mark is caught.
    narrowed: bool = False


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


class RandomPick(ExprNode):
    """`random.pick(var in lo..hi where cond) else orelse`: a uniformly random value of `var`
    in `lo..hi` (hi exclusive) among those for which `cond` holds, with exactly one draw and
    a cost linear in the range: `n` is the number of values where `cond` holds, `r` one draw
    `random.int(0, max(n - 1, 0))`, the result the `r`-th of those values in increasing
    order (from 0), or `orelse` when `n` is 0. `cond` and `orelse` do not draw."""

    kind: Literal["random_pick"] = "random_pick"
    var: str
    lo: int
    hi: int
    cond: Expr
    orelse: Expr


class ListTake(ExprNode):
    """Remove and return an element of a list place: `draw()` takes index 0 (the top),
    `pop()` the last element. Taking from an empty list is a runtime fault (not checked here
    when `unchecked`: an explicit `Check` before it does, `lower_lists`)."""

    kind: Literal["list_take"] = "list_take"
    place: Place
    front: bool
    unchecked: bool = False


Expr = Annotated[
    Union[
        Const, Local, StateGet, GetField, GetIndex, TableGet, Unary, Binary, Cond, CallFn,
        Builtin, Reduce, ArrayBuild, ArrayLit, RecordLit, RandomInt, RandomPick, ListTake,
    ],
    Field(discriminator="kind"),
]


# ------------------------------------------------------------------ places (assignable)


class FieldStep(Node):
    kind: Literal["field"] = "field"
    name: str


class IndexStep(Node):
    """`[index]` in a place; on a list (`is_list`) `index < len` is checked, unless `unchecked`
    (an explicit `Check` before the statement does, `lower_lists`)."""

    kind: Literal["index"] = "index"
    index: Expr
    is_list: bool = False
    unchecked: bool = False


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
    Pushing onto a full list or removing past its length is a runtime fault (not checked here
    when `unchecked`: an explicit `Check` before it does, `lower_lists`)."""

    kind: Literal["list_op"] = "list_op"
    op: Literal["push", "insert", "remove_at", "clear", "shuffle", "discard_front", "discard_back"]
    place: Place
    args: list[Expr] = []
    unchecked: bool = False


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


class Check(StmtNode):
    """A runtime fault made explicit (the pass `envc.compiler.passes.lower_lists`): when `cond`
    holds, the step faults here with `message`, a fault-site template of `number_faults`
    (`{a}` and `{b}` stand for the int values of `a` and `b`, 0 when absent). The list
    operation it guards follows it, marked `unchecked`. Only the lowered IR holds it."""

    kind: Literal["check"] = "check"
    cond: Expr
    message: str
    a: Expr | None = None
    b: Expr | None = None


class Choose(StmtNode):
    """`place = choose(chooser, var in lo..hi where cond) else orelse`: player `chooser`
    decides, among the values of `var` in `lo..hi` (hi exclusive) for which `cond` holds,
    the value stored in `place` (DESIGN.md decision 7).

    When no value is legal, `place` takes `orelse` (or, with `fault` set, the step faults
    with that message) and the effect goes on. Otherwise the effect pauses: the step ends
    with `current_player` the chooser and a legal-action mask that offers exactly the legal
    values (the generated action kind `choose(option)`); the next step, `choose(option=v)`,
    stores `v` in `place`, puts `current_player` back and resumes the effect after this
    statement. `place` is resolved when the value is stored. `chooser`, `cond` and `orelse`
    do not draw. `site` numbers the `choose` statements of the spec from 1 (what
    `pending_choice()` reads while this one waits). How a pause is represented in the
    state (the continuation) is defined by `envc.compiler.passes.choice_points`."""

    kind: Literal["choose"] = "choose"
    place: Place
    chooser: Expr
    var: str
    lo: int
    hi: int
    cond: Expr
    orelse: Expr | None
    fault: str | None = None
    site: int


class ExprStmt(StmtNode):
    """An expression evaluated for its side effect (a `draw()` whose card is dropped)."""

    kind: Literal["expr_stmt"] = "expr_stmt"
    expr: Expr


Stmt = Annotated[
    Union[Let, Assign, If, For, Match, Return, CallProc, ListOp, Effect, Fault, Check, ExprStmt, Choose],
    Field(discriminator="kind"),
]

def _kinds(union) -> tuple[str, ...]:
    """The `kind` tags of the node classes of an annotated union, in declaration order."""
    members = get_args(get_args(union)[0])
    return tuple(m.model_fields["kind"].default for m in members)


# Derived from the unions, so that a new node kind is a new entry here with no other edit;
# every backend checks at import that it handles each of them (`require_handlers`).
EXPR_KINDS = _kinds(Expr)
STMT_KINDS = _kinds(Stmt)
#: statement kinds that only the reference interpreter runs: the pass
#: `envc.compiler.passes.lower_choices` removes them before the array backends see the IR
INTERPRETER_ONLY_STMTS = ("choose",)
#: statement kinds that only the lowered IR holds (`envc.compiler.pipeline.LOWERING` makes them)
LOWERED_ONLY_STMTS = ("check",)


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


def storage_dtype(t: Type) -> str:
    """The numpy dtype name ("bool", "float32", "int8", "int16", "int32") in which every backend
    stores a value of scalar type `t`: ints in the narrowest signed type holding their range
    (`IntT.dtype`), enums in int8 (int16 past 127 members), table rows as `int[0..rows-1]`.
    Computation widens to int32 (README, "Semantics"); this is the layout of state arrays,
    observations and the numpy values `envc verify` compares.

    Raises:
        TypeError: `t` is not a scalar (an array, a record or a list).
    """
    if isinstance(t, BoolT):
        return "bool"
    if isinstance(t, FloatT):
        return "float32"
    if isinstance(t, IntT):
        return t.dtype
    if isinstance(t, EnumT):
        return "int8" if t.size <= 127 else "int16"
    if isinstance(t, RowT):
        return IntT(lo=0, hi=max(0, t.rows - 1)).dtype
    raise TypeError(f"{t} is not a scalar type")


def value_bounds(t: Type) -> tuple[float, float]:
    """The lowest and highest value of scalar type `t` (bools 0 and 1, floats the infinities,
    enums and table rows their indices): the bounds of an observation `Box` in every adapter.

    Raises:
        TypeError: `t` is not a scalar (an array, a record or a list).
    """
    if isinstance(t, BoolT):
        return (0, 1)
    if isinstance(t, FloatT):
        return (-math.inf, math.inf)
    if isinstance(t, IntT):
        return (t.lo, t.hi)
    if isinstance(t, EnumT):
        return (0, t.size - 1)
    if isinstance(t, RowT):
        return (0, max(0, t.rows - 1))
    raise TypeError(f"{t} is not a scalar type")


def dims(t: Type) -> tuple[int, ...]:
    """The array dimensions of type `t`, outermost first (`()` for a non-array)."""
    out = []
    while isinstance(t, ArrayT):
        out.append(t.size)
        t = t.elem
    return tuple(out)


def cells(t: Type, records: dict[str, RecordDef]) -> int:
    """How many scalars a value of type `t` holds at most (a list: its capacity's worth), the
    fields of a record looked up in `records` (by name; an unknown one counts 1)."""
    if isinstance(t, ArrayT):
        return t.size * cells(t.elem, records)
    if isinstance(t, ListT):
        return t.cap * cells(t.elem, records)
    if isinstance(t, RecordT) and t.name in records:
        return sum(cells(f.type, records) for f in records[t.name].fields)
    return 1


#: a step of `LayoutLeaf.steps`: ("field", name), ("index", size), ("items", cap), ("len", cap)
LayoutStep = tuple[str, Any]


class LayoutLeaf(NamedTuple):
    """One array of the array layout of a value, the one every backend stores and
    `envc.verify.to_arrays` compares: a record is a dict of its fields, an array of records a
    record of arrays, a list `{"items": ..., "len": ...}` (its items in an array of its
    capacity). `steps` lead from the value to one cell (an array's dimensions as ("index",
    size) steps, outermost first); `scalar` is the cell's scalar type (`IntT(0..cap)` for a
    list's length, stored as int32). Both backends build their leaves from `layout_leaves`
    (the JAX adapters' observation spaces, the Rust glue's conversions and spaces)."""

    steps: tuple[LayoutStep, ...]
    scalar: Type

    @property
    def path(self) -> tuple[str, ...]:
        """The dict keys to the leaf: field names, "items", "len"."""
        return tuple(arg if kind == "field" else kind for kind, arg in self.steps if kind != "index")

    @property
    def dims(self) -> tuple[int, ...]:
        """The leaf array's shape (per value): its array and list dimensions, outermost first."""
        return tuple(arg for kind, arg in self.steps if kind in ("index", "items"))

    @property
    def cap(self) -> int | None:
        """The capacity of the list whose length this leaf is (None for any other leaf)."""
        if not self.steps or self.steps[-1][0] != "len":
            return None
        return self.steps[-1][1]

    @property
    def dtype(self) -> str:
        """The numpy dtype name of the leaf (`storage_dtype`; a list's length is int32)."""
        return "int32" if self.cap is not None else storage_dtype(self.scalar)

    @property
    def bounds(self) -> tuple[float, float]:
        """The lowest and highest value a cell holds (`value_bounds`), widened to hold 0 inside
        a list's items: the slots past its length hold zeros, whatever the item's range."""
        low, high = value_bounds(self.scalar)
        if any(kind == "items" for kind, _ in self.steps):
            return (min(low, 0), max(high, 0))
        return (low, high)


def layout_leaves(module: Module, t: Type, steps: tuple[LayoutStep, ...] = ()) -> list[LayoutLeaf]:
    """The arrays of the layout of a value of type `t` (`LayoutLeaf`), in the order of a walk:
    a record's fields in declaration order, a list's items before its length."""
    if isinstance(t, ArrayT):
        return layout_leaves(module, t.elem, steps + (("index", t.size),))
    if isinstance(t, RecordT):
        return [leaf for f in module.record(t.name).fields
                for leaf in layout_leaves(module, f.type, steps + (("field", f.name),))]
    if isinstance(t, ListT):
        return layout_leaves(module, t.elem, steps + (("items", t.cap),)) + \
            [LayoutLeaf(steps + (("len", t.cap),), IntT(lo=0, hi=t.cap))]
    return [LayoutLeaf(steps, t)]


def elem_of(t: Type) -> Type:
    """The element type of an array or list type `t`.

    For code that reads the element of a type the checker has made an array or a list.
    Raises TypeError for any other type (a bug in the checker or a pass, not in the spec)."""
    if isinstance(t, (ArrayT, ListT)):
        return t.elem
    raise TypeError(f"`{t}` is not an array or a list")


_T = TypeVar("_T")


def _narrowed(t: Type, cls: type[_T], what: str) -> _T:
    """`t` if it is a `cls`, else TypeError naming `what` it should have been (the checker or a
    pass made it so: a failure is a bug in envc, not in the spec)."""
    if isinstance(t, cls):
        return t
    raise TypeError(f"`{t}` is not {what}")


def array_of(t: Type) -> ArrayT:
    """`t` as an array type, for code that reads the size of a type the checker has made an
    array. Raises TypeError for any other type (a bug in the checker or a pass, not in the spec)."""
    return _narrowed(t, ArrayT, "an array type")


def list_of(t: Type) -> ListT:
    """`t` as a list type, for code that reads the capacity of a type the checker has made a
    list. Raises TypeError for any other type (a bug in the checker or a pass, not in the spec)."""
    return _narrowed(t, ListT, "a list type")


def record_of(t: Type) -> RecordT:
    """`t` as a record type, for code that reads a field of a type the checker has made a record.
    Raises TypeError for any other type (a bug in the checker or a pass, not in the spec)."""
    return _narrowed(t, RecordT, "a record type")


def int_of(t: Type) -> IntT:
    """`t` as an integer type, for code that reads the range of a type the checker has made an
    integer. Raises TypeError for any other type (a bug in the checker or a pass, not in the spec)."""
    return _narrowed(t, IntT, "an integer type")


def children(e: Node):
    """The nodes directly inside `e`, in field order (a list's items in order; of a
    `(name, node)` pair, the node): the order an expression is evaluated in."""
    for name in node_fields(type(e)):
        value = getattr(e, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                item = item[1]
            if isinstance(item, Node):
                yield item


TYPE_NODES = (BoolT, IntT, FloatT, EnumT, RecordT, RowT, ArrayT, ListT)

_NODE_FIELDS: dict[type, tuple[str, ...]] = {}
_LEAF_ANNOTATIONS = (str, int, bool, float, Span, type(None))


def node_fields(cls: type[Node]) -> tuple[str, ...]:
    """The fields of node class `cls` that may hold a node, in declaration order: every field
    but those whose annotation admits only text, numbers, literals and spans.

    Why: `children`, `walk` and `map_children` visit every node of a module for each pass and
    each interpreter built (the fill judge builds one per check); reading pydantic's
    `model_fields` and every scalar field of each node was most of a TCG fill's judging time.
    Computed once per class; a field whose annotation cannot be read is kept (visited)."""
    names = _NODE_FIELDS.get(cls)
    if names is None:
        names = tuple(n for n, f in cls.model_fields.items() if _may_hold_node(f.annotation))
        _NODE_FIELDS[cls] = names
    return names


def _may_hold_node(annotation: Any) -> bool:
    if annotation in _LEAF_ANNOTATIONS:
        return False
    if get_origin(annotation) is Literal:
        return False
    args = get_args(annotation)
    if args:  # a union, a container, `Annotated[...]` (its metadata is no type: kept)
        return any(_may_hold_node(a) for a in args)
    return True


def walk(node: Node, types: bool = False) -> Iterator[Node]:
    """Every node in `node`, itself first, then its children depth-first in evaluation order
    (`children`). Type nodes are skipped unless `types` is true."""
    stack = [node]
    while stack:
        item = stack.pop()
        if not types and isinstance(item, TYPE_NODES):
            continue
        yield item
        stack.extend(reversed(list(children(item))))


def walk_all(x: Any) -> Iterator[Node]:
    """`walk` over `x`, which may also be a list or tuple (nested) of nodes: every node in it,
    pre-order, type nodes skipped; anything that is not a node is ignored."""
    if isinstance(x, (list, tuple)):
        for item in x:
            yield from walk_all(item)
        return
    if isinstance(x, Node):
        yield from walk(x)


def called_names(x: Any) -> set[str]:
    """The names of the `fn`s and `proc`s called anywhere in `x` (a node, or a list or tuple
    of them): the call graph's edges out of a body."""
    return ({n.proc for n in walk_all(x) if isinstance(n, CallProc)}
            | {n.fn for n in walk_all(x) if isinstance(n, CallFn)})


def transform(x: Any, fn: Callable[[Node], Node | None]) -> Any:
    """`x` (a node, or a list or tuple of them) rebuilt bottom-up: every node's children are
    transformed first, then the node is replaced by `fn(node)` unless that is None. Type nodes
    are left alone; unchanged parts are shared (`x` itself is returned when nothing changed)."""
    if isinstance(x, list):
        out = [transform(item, fn) for item in x]
        return x if all(a is b for a, b in zip(out, x, strict=True)) else out
    if isinstance(x, tuple):
        tup = tuple(transform(item, fn) for item in x)
        return x if all(a is b for a, b in zip(tup, x, strict=True)) else tup
    if not isinstance(x, Node) or isinstance(x, TYPE_NODES):
        return x
    node = map_children(x, lambda child: transform(child, fn))
    new = fn(node)
    return node if new is None else new


def map_children(node: Node, fn: Callable[[Node], Node]) -> Node:
    """A copy of `node` whose direct child nodes (expressions, statements, places, steps, arms;
    not types) are replaced by `fn(child)`; `node` itself is returned when nothing changed.

    This is the one place that knows how children sit in fields (a node, a list of nodes, a
    list of `(name, node)` pairs); passes build on it instead of walking fields themselves."""
    changes = {}
    for name in node_fields(type(node)):
        value = getattr(node, name)
        new = _map_value(value, fn)
        if new is not value:
            changes[name] = new
    return node.model_copy(update=changes) if changes else node


def _map_value(value: Any, fn: Callable[[Node], Node]) -> Any:
    if isinstance(value, Node):
        return value if isinstance(value, TYPE_NODES) else fn(value)
    if not isinstance(value, list):
        return value
    out = [_map_item(item, fn) for item in value]
    return value if all(a is b for a, b in zip(out, value)) else out


def _map_item(item: Any, fn: Callable[[Node], Node]) -> Any:
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Node):
        new = _map_value(item[1], fn)
        return item if new is item[1] else (item[0], new)
    return _map_value(item, fn)


def missing_handlers(cls: type, expr_prefix: str, stmt_prefix: str,
                     expr_kinds: tuple[str, ...] | None = None,
                     stmt_kinds: tuple[str, ...] | None = None) -> list[str]:
    """The methods `cls` lacks to handle every expression and statement kind: a backend that
    dispatches on `prefix + node.kind` must define one method per kind."""
    expr_kinds = EXPR_KINDS if expr_kinds is None else expr_kinds
    stmt_kinds = STMT_KINDS if stmt_kinds is None else stmt_kinds
    wanted = [expr_prefix + k for k in expr_kinds] + [stmt_prefix + k for k in stmt_kinds]
    return [name for name in wanted if not callable(getattr(cls, name, None))]


def handles_all(expr_prefix: str, stmt_prefix: str, skip_stmts: tuple[str, ...] = ()) -> Callable[[type], type]:
    """Class decorator of a backend: fail at import, naming the missing methods, unless the
    class handles every node kind of `Expr` and `Stmt` (so a new kind breaks every backend
    until it is handled). `skip_stmts`: statement kinds a pass removes before this backend
    runs (`INTERPRETER_ONLY_STMTS` for the array backends)."""

    def check(cls: type) -> type:
        stmts = tuple(k for k in STMT_KINDS if k not in skip_stmts)
        missing = missing_handlers(cls, expr_prefix, stmt_prefix, stmt_kinds=stmts)
        if missing:
            raise TypeError(f"{cls.__module__}.{cls.__qualname__} handles no IR kind for: {', '.join(missing)}")
        return cls

    return check


_FIRST_DRAW: dict[int, tuple[Node, Expr | None]] = {}


def first_draw(e: Node) -> Expr | None:
    """The first `RandomInt`, `RandomPick` or `ListTake` inside an expression (in evaluation
    order), if any.

    Memoized per node (nodes are immutable): the checker and the lowerings ask it of every
    level of nested expressions, which would make a 500-arm `if ... then ... else` quadratic."""
    hit = _FIRST_DRAW.get(id(e))
    if hit is not None and hit[0] is e:
        return hit[1]
    found: Expr | None = None
    if isinstance(e, (RandomInt, RandomPick, ListTake)):
        found = e
    else:
        for item in children(e):
            if not isinstance(item, Place):
                found = first_draw(item)
                if found is not None:
                    break
    if len(_FIRST_DRAW) > 500_000:
        _FIRST_DRAW.clear()
    _FIRST_DRAW[id(e)] = (e, found)
    return found


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
    outcome: bool = False  # `@outcome`: `envc run` reports how episodes ended by this field's final value
    # `@reveal(flag)`: cell [i..] is seen by every player while the public field `flag[i..]`
    # holds; `@reveal_to(flag)`: by player q while `flag[q][i..]` holds (`revealed(...)`)
    reveal: str | None = None
    reveal_to: str | None = None
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


class TextClause(Node):
    """An `ensures` clause that one text gets from a text rule (`texts of F { text ... }`)
    or from its fill: `expr` reads the hole's parameters and the rule's captures, whose
    values are `env`. `source` is the clause with the captures written as their values;
    `rule` the rule it comes from (as `Contract.rules` names it, "" for a fill's own);
    `parametric` the captures every use of which reads `env` (none folded into a constant),
    which the judge may bind to other values (`where N = Table.column`)."""

    expr: Expr
    env: dict[str, Any] = {}
    source: str = ""
    origin: Literal["text", "mentions", "fill"] = "text"
    span: Span = NO_SPAN
    rule: str = ""
    parametric: list[str] = []


class ChooserRule(Node):
    """A `chooses WHO [among COUNT]` clause that one text gets from a text rule: every
    decision of a call with two options or more is asked of a player that one of the text's
    `chooses` clauses names (`who`, read on the state before the call), and with `among`, one
    decision asked of `who` offers `among` options whenever `among` is 2 or more. `env`: the
    rule's captures; `source`: the clause with the captures written as their values,
    `who_source` its `WHO` alone."""

    who: Expr
    among: Expr | None = None
    env: dict[str, Any] = {}
    source: str = ""
    who_source: str = ""
    span: Span = NO_SPAN


class ChanceRule(Node):
    """A `with chance A in B [where GUARD]: COND` clause that one text gets from a text rule: on a
    call whose `guard` holds (read on the state before it), `cond` (an `ensures` expression:
    `old(x)` reads the state before, a plain read the state after) holds for A/B of the
    call's random outcomes, each sequence of values of its draws weighted by how likely it
    is (a `random.int(lo, hi)` value 1/(hi - lo + 1), a `random.pick` value 1/its legal
    values). `num` and `den` are A and B, read on the state before the call (30 and 100 for
    "30% chance", a capture read; 1 and `count(...)` of the options of a random choice). With `var`, one law for each value of `var` in `lo..hi` (hi exclusive) whose
    guard holds (`guard`, `den` and `cond` read it). `env`: the rule's captures; `source`: the
    clause with the captures written as their values."""

    num: Expr
    den: Expr
    guard: Expr | None = None
    cond: Expr
    var: str | None = None
    lo: int = 0
    hi: int = 0
    env: dict[str, Any] = {}
    source: str = ""
    span: Span = NO_SPAN


class DrawRule(Node):
    """A `draws N among COUNT` clause that one text gets from a text rule: at least `times`
    random draws of a call (N, or 1 for `draws any`) range over exactly `count` values
    (`random.int(lo, hi)`: hi - lo + 1, `random.pick`: its legal values) whenever `count`, read
    on the state before the call, is 2 or more ("a random card from your opponent's hand": each
    of them equally likely, not all but the last; "chosen at random 4 times": four such draws).
    `env`: the rule's captures; `source`: the clause with the captures written as their values.
    `optional` (`draws at most N among COUNT`): a call that draws nothing keeps the clause
    ("30% chance to burn the target" draws nothing when the target burns already)."""

    count: Expr
    times: int = 1
    optional: bool = False
    env: dict[str, Any] = {}
    source: str = ""
    span: Span = NO_SPAN


class FrameItem(Node):
    """One place a text may change (`modifies`): a state field and leading indices, maybe
    for every `var` in `lo..hi` (hi exclusive); index expressions read the hole's
    parameters, the captures (`env`) and `var`."""

    place: Place
    var: str | None = None
    lo: int = 0
    hi: int = 0
    env: dict[str, Any] = {}
    source: str = ""


class GivenDef(Node):
    """`place = value` of a scenario (`place` is a state place or a hole parameter)."""

    place: Place
    value: Expr


class ScenarioDef(Node):
    """`scenario "name" given ... then ...`: run the fill from a state of its context with
    the `given` values (`coins`: the coins its first draws give, heads first), then every
    `then` clause must hold (`old(x)` reads the state before the call)."""

    name: str | None = None
    given: list[GivenDef] = []
    coins: list[bool] | None = None
    then: list[Expr] = []
    then_source: list[str] = []
    env: dict[str, Any] = {}
    span: Span = NO_SPAN


class SymbolUse(Node):
    """A symbol printed in a text (`{R}`) and the value it stands for."""

    symbol: str
    value: Any
    type: Type


class DataNumber(Node):
    """A printed number of a text that comes from data (`where N = Table.column` of a text
    rule): `value` was captured as `capture`, and column `column` of `table` holds it in each
    of `rows` (the rows whose text column holds the text). The fill must read that column.
    `rule`: the rule, as `file:line "pattern"`."""

    capture: str
    value: int
    table: str
    column: str
    rows: list[int]
    rule: str


class Contract(Node):
    """What the spec's text rules (`texts of ...`) and a fill's own clauses say about one
    hole's text: checks of a fill that do not come from the model. `exact`: a `text` rule
    matches the whole text, or the fill has its own `ensures`. `frame`: the places the text
    may change (None: any). `draws`: (least, most or None) random draws of one call (None:
    no rule says); `draw_rules`: how many values a draw ranges over. `choosers`: who decides, and among how many options (none: no rule
    says). `chances`: how likely an outcome of the call's draws is. `numbers`/`symbols`: printed ones no rule covers (a fill must use them); `data`: printed
    numbers that come from a column of the text's rows (a fill must read it).
    `context`: the `ContextDef` that puts the text's card in place. `rules`: the rules that
    matched, as `file:line "pattern"`."""

    exact: bool = False
    ensures: list[TextClause] = []
    frame: list[FrameItem] | None = None
    draws: tuple[int, int | None] | None = None
    draw_rules: list[DrawRule] = []
    choosers: list[ChooserRule] = []
    chances: list[ChanceRule] = []
    numbers: list[int] = []
    symbols: list[SymbolUse] = []
    data: list[DataNumber] = []
    scenarios: list[ScenarioDef] = []
    context: str | None = None
    rules: list[str] = []


class ContextDef(Node):
    """`context(c, k, extra: T) when guard { body }` of `texts of ...`: `fn` (a proc whose
    parameters are the hole's, then `row`, `column` and the `extras`) puts the card whose
    text is judged in its place; the judge draws the extras from their types and skips
    states where `guard` (same parameters) is false. Never lowered by a backend."""

    name: str
    fn: FnDef
    guard: Expr | None = None
    row: str | None = None
    column: str | None = None
    extras: list[ParamDef] = []
    span: Span = NO_SPAN


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
    # the checks of its text from `texts of ...` and its fill (None: no rule applies)
    contract: Contract | None = None
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
    # copies of `dispatch` over fewer members, which guarded call sites call instead (the pass
    # `restrict_dispatch`; empty before it)
    restricted: list[str] = []


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


class ChoiceBody(Node):
    """A body that can pause (an action's or a proc's: it holds a `choose`, or calls a proc
    that can): its state field `at` (0: not paused in it; base + j: paused at its j-th pause
    point, base 0 unless procs share the field, `choice_points._share`)."""

    kind: Literal["action", "proc"]
    name: str
    at: str
    action: int | None = None  # the action kind's index (actions only)
    run: str | None = None  # after `lower_choices`: the proc holding an action body's state machine


class ChoiceSite(Node):
    """A `choose` statement: the body holding it, its pause point there, the state fields
    its `cond` reads through (local name -> frame field) and its option range."""

    site: int
    body: int  # index into ChoiceInfo.bodies
    point: int
    lo: int
    hi: int


class ChoiceInfo(Node):
    """The representation of paused effects in the state (`envc.compiler.passes.choice_points`).

    `action`: the index of the generated action kind `choose(option)`; `option`, `mover`:
    the state fields holding the last chosen option and the `current_player` of the paused
    effect; `bodies`: every body that can pause, with its `at` field; `sites`: every `choose`
    site. `lowered` is true once `lower_choices` has turned the bodies into state machines
    (the form the array backends consume)."""

    action: int
    option: str
    mover: str
    bodies: list[ChoiceBody]
    sites: list[ChoiceSite]
    lowered: bool = False


class Module(Node):
    name: str
    doc: str | None
    path: str
    num_players: int
    turn_limit: int | None
    # `lose`: the state stays, the mover loses (envc's default); `pgx`: the action's body runs,
    # then the mover loses (Pgx's `Env.step`); `error`: a runtime fault
    illegal_action: Literal["lose", "pgx", "error"]
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
    choice: ChoiceInfo | None = None  # set by the pass `choice_points` when a `choose` exists
    contexts: list[ContextDef] = []  # of `texts of ...` (the fill judge's; never lowered)
    # every runtime fault site as (location, message with `{a}`, `{b}`), numbered by the pass
    # `number_faults` (the last of `LOWERING`); empty before it. Plain data, not nodes: no walk
    # visits them
    fault_sites: list[tuple[str, str]] = []

    def enum(self, name: str) -> EnumDef:
        return next(e for e in self.enums if e.name == name)

    def record(self, name: str) -> RecordDef:
        return next(r for r in self.records if r.name == name)

    def table(self, name: str) -> TableDef:
        return next(t for t in self.tables if t.name == name)

    def fn(self, name: str) -> FnDef:
        return next(f for f in self.fns if f.name == name)


for _model in (ArrayT, ListT, GetField, GetIndex, TableGet, Unary, Binary, Cond, CallFn, Builtin, Reduce,
               ArrayBuild, ArrayLit, RecordLit, RandomInt, RandomPick, ListTake, IndexStep, Place, Let, Assign, If,
               For, MatchArm, Match, Return, CallProc, ListOp, Effect, Check, ExprStmt, Choose, TextClause, FrameItem,
               GivenDef, ScenarioDef, SymbolUse, ChanceRule, Contract, ContextDef, HoleDef, SimultaneousDef, Module):
    _model.model_rebuild()


def verify(module: Module) -> None:
    """Check the invariants every pass keeps (bound locals, agreeing types, ranges that fit);
    see `envc.compiler.ir_verify`.

    Raises:
        envc.compiler.ir_verify.IRVerifyError: listing every broken invariant.
    """
    from envc.compiler.ir_verify import verify as _verify

    _verify(module)
