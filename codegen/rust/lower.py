"""Lowering of the typed IR to the Rust source of a generated environment crate.

Public surface: `Lowering(module).run() -> LoweredModule` (the pieces the templates lay
out), `Leaf` and `leaves(...)` (the array layout of values, shared with the PyO3 glue),
`field_ident`.

How each construct lowers (decisions here, layout in `templates/*.j2`):
- storage: every value lives in its narrowest type (`IntT.dtype` -> i8/i16/i32, enums
  i8/i16 and table rows like `int[0..rows-1]`, as `envc.verify.to_arrays`), arrays are
  `[T; N]`, records `#[derive(Copy)]` structs `Rec<Name>`, lists `List<T, CAP>` (items
  plus a length, zeros past the length); the `State` struct holds the spec's fields,
  the legal-action mask, the observation and the two RNG words;
- computation: integer scalars (ints, enums, rows) are computed in `i32` (the checker
  keeps every intermediate value in 32 bits), float32 in `f32` (each operation rounds to
  float32 exactly like numpy's float32 scalars; Rust never contracts to FMA), and are
  narrowed (`as i8`) only when stored;
- integer `/` and `%` are floor division and modulo (`fdiv`/`fmod`); `min`, `max` and
  `clamp` on floats follow Python's comparisons (`fmin`/`fmax`), `and`/`or` short-circuit
  (`&&`/`||`) unless the right side draws (then both sides are evaluated, `&`/`|`), as
  the interpreter: a right side that cannot draw is skipped once the left side decides;
- every generated function returns `Result<_, Fault>`: list faults, `fail(...)` and an
  empty `random.int` range become `Err(Fault)` with the spec location, like the
  interpreter's `SpecRuntimeError`; the site's number in `FAULT_SITES` is the one the pass
  `number_faults` gave it, shared with the JAX backend (a `randint` whose range the checker
  proved passes `u16::MAX`: it cannot fault);
- expressions are Rust expressions; reductions, comprehensions, random draws and list
  takes are emitted as statements before the expression that uses them, in the
  interpreter's evaluation order (earlier operands are bound to temporaries when a later
  one draws); conditional expressions whose branches need statements become `if`
  statements, so a branch is evaluated only when taken;
- `any`/`all` stop at the first deciding element when their body cannot fault;
- array and table indices: where the index's type proves it in bounds, `(i as usize).min(N - 1)`
  (`Lowering.index`; the value is unchanged, and LLVM drops Rust's bounds check and its
  panic path), else `i as usize` with Rust's check;
- Rust may branch: `if`, `match` and loops stay what they are (an `elif` chain, such as
  a hole family's generated dispatch, is one `if ... else if ...`); nothing allocates;
- names: every identifier made from a spec name has the fixed prefix of its namespace
  (`envc.codegen.escape.RUST_PREFIXES`: `v_` locals, `f_` fns and spec fields, `p_` procs,
  `a_` actions, `g_` guards, `inv_` invariants, `Rec` records, `T<i>_` table columns), so
  no spec name can be a keyword (`self`, `type`) or clash with another generated name;
  text (doc comments, fault messages, names in strings) goes through `envc.codegen.escape`;
- readability: arithmetic on two integer constants arrives folded (`DECK - 1` is `19`: the
  pipeline's `fold_constants`, shared with the JAX backend), array
  literals of more than 8 items are bound to a temporary one item a line (an
  observation), long constant tables are wrapped at 100 columns, procedure arguments
  that are locals or literals are passed as they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from envc.codegen import SPLIT_HEIGHT, Emitter, Heights
from envc.codegen.escape import rust_comment, rust_doc, rust_ident
from envc.compiler import builtins, ir
from envc.compiler.actions import ActionSpace, decode_param
from envc.compiler.passes import number_faults, simultaneous

#: fields of `State` that every environment has (the templates name them as they are)
BUILTIN_FIELDS = frozenset(("current_player", "rewards", "terminated", "truncated", "step_count"))


def field_ident(name: str) -> str:
    """The Rust name of a field of `State` or of a record struct: a built-in field keeps its
    name, a spec field gets `f_` (`self` -> `f_self`, `type` -> `f_type`, never `type_`)."""
    return name if name in BUILTIN_FIELDS else rust_ident("field", name)


_INDEX = "#index"  # the IR local of an action's index within its kind (`decode`)


def _floor_op(e: ir.Binary, a: str, b: str) -> str:
    """Rust code of integer `a div b` or `a mod b` (floor division and modulo, as the
    interpreter computes them; `e` the node, `a` and `b` its operands' code).

    Decision: Rust's truncating `/` and `%` where the dividend is never negative and the
    divisor always positive (their types prove it: `ir.verify` checks every node's range),
    since there truncation is floor and `fdiv`'s sign fix-up is work for nothing (the action
    decoding of every step and mask, `decode_param`); else the runtime's `fdiv`/`fmod`."""
    left, right = e.left.type, e.right.type
    if isinstance(left, ir.IntT) and left.lo >= 0 and isinstance(right, ir.IntT) and right.lo > 0:
        return f"({a} {'/' if e.op == 'div' else '%'} {b})"
    return f"{'fdiv' if e.op == 'div' else 'fmod'}({a}, {b})"


def local(name: str) -> str:
    """The Rust name of a spec local or parameter (`v_` + name)."""
    return rust_ident("local", name)


def record_ident(name: str) -> str:
    """The Rust struct of record `name` (`Rec` + name)."""
    return rust_ident("record", name)


def where(span) -> str:
    """`file.envspec:LINE:COL` (the file's base name, so output does not depend on the cwd)."""
    if span is None or not span.line:
        return ""
    return f"{os.path.basename(span.file)}:{span.line}:{span.col}"


# the site argument of a `randint` that cannot fault (never read: `FAULT_SITES` has no entry for it)
_UNREACHABLE_SITE = "u16::MAX"


class LoweringError(Exception):
    """The IR uses something this backend cannot lower (an envc limitation, with the location)."""


# ------------------------------------------------------------------ types


def int_rty(t: ir.Type) -> str:
    """The storage type of an integer-like scalar (int, enum, table row)."""
    if not is_intlike(t):
        raise TypeError(t)
    return {"int8": "i8", "int16": "i16", "int32": "i32"}[ir.storage_dtype(t)]


def is_intlike(t: ir.Type) -> bool:
    """Whether values of `t` are integers in Rust (ints, enums and table rows)."""
    return isinstance(t, (ir.IntT, ir.EnumT, ir.RowT))


def is_scalar(t: ir.Type) -> bool:
    """Whether `t` is one Rust scalar (not an array, record or list)."""
    return isinstance(t, (ir.BoolT, ir.IntT, ir.FloatT, ir.EnumT, ir.RowT))


def np_dtype(rty: str) -> str:
    """The numpy dtype name of Rust scalar type `rty` (`"i16"` -> `"int16"`); KeyError on others."""
    return {"bool": "bool", "i8": "int8", "i16": "int16", "i32": "int32", "f32": "float32", "u32": "uint32"}[rty]


def f32_lit(v) -> str:
    """A Rust literal with exactly the float32 value of `v` (numpy's rounding of a double):
    numpy prints the shortest decimal that rounds back to the same float32, and Rust parses
    a decimal to the nearest float32."""
    x = np.float32(v)
    if np.isnan(x):
        return "f32::NAN"
    if np.isinf(x):
        return "f32::INFINITY" if x > 0 else "f32::NEG_INFINITY"
    text = str(x)
    if "." not in text and "e" not in text:
        text += ".0"
    code = text.replace("e+", "e") + "f32"
    return f"({code})" if code.startswith("-") else code


@dataclass
class Leaf:
    """One array of a value's array layout (`envc.verify.to_arrays`): `path` of dict keys,
    the Rust storage type of its scalars, its shape, and the Rust place of one scalar with
    `{i0}`, `{i1}`, ... standing for the indices (row-major)."""

    path: tuple[str, ...]
    rty: str
    dims: tuple[int, ...]
    access: str
    cap: int | None = None  # for a list's `len`: the capacity (checked when a state is injected)
    bounds: tuple[int, int] | None = None  # the values an integer scalar may hold (its IR type's range)
    # the lowest and highest value of any cell (`ir.LayoutLeaf.bounds`: bools 0..1, floats the
    # infinities), for an observation's space; None for the leaves `leaves` does not make
    box: tuple[float, float] | None = None

    @property
    def dtype(self) -> str:
        return np_dtype(self.rty)

    @property
    def size(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n

    @property
    def key(self) -> str:
        return ".".join(self.path)


@dataclass
class LoweredModule:
    records: list[dict]
    state_fields: list[tuple[str, str, str]]  # rust name, rust type, default literal
    statics: list[tuple[str, str, str]]  # name, type, literal
    functions: list[str]
    fault_sites: list[str]
    mask_code: list[str]
    dispatch_code: list[str]
    invariants: list[tuple[str, str]]
    obs_rty: str
    num_actions: int
    num_players: int
    turn_limit: int | None  # the `step_count` at which `step` truncates (None: the epilogue decides)
    step_max: int
    step_count_rty: str
    illegal_is_error: bool
    illegal_site: int
    enums: list[tuple[str, list[str]]] = field(default_factory=list)
    has_epilogue: bool = False
    # a lowered simultaneous spec: the Rust field of the chosen actions and its element
    # type, and the Rust type of `current_player`
    simultaneous: dict | None = None
    # `simultaneous.time_limit` with the counting field as Rust names it: (field, limit)
    time_limit: tuple[str, int] | None = None


def _time_limit(m: ir.Module) -> tuple[str, int] | None:
    """(the Rust field of `State` that counts, the limit) of the spec's turn limit as the crate
    reports it (`TURN_LIMIT`, `time_limit_reached`): `simultaneous.time_limit`."""
    found = simultaneous.time_limit(m)
    if found is None:
        return None
    return field_ident(found[0]), found[1]


# ------------------------------------------------------------------ the lowering


@ir.handles_all("x_", "s_", skip_stmts=ir.INTERPRETER_ONLY_STMTS)
class Lowering:
    """Turns a checked module into Rust source pieces (see the module docstring)."""

    def __init__(self, module: ir.Module):
        self.m = module
        self.space = ActionSpace(module)
        self.records = {r.name: r for r in module.records}
        self.fns = {f.name: f for f in module.fns}
        self.statics: list[tuple[str, str, str]] = []
        self._static_names: dict[tuple[str, str], str] = {}
        self.functions: list[str] = []
        self.out = Emitter()
        self.n = 0
        self.mutable = False
        self.locals: dict[str, ir.Type] = {}
        self._fn_faults: dict[str, bool] = {}
        self._heights = Heights()
        # one static per table column, numbered so that names cannot meet (`T_a__b` + `c`
        # and `T_a` + `b__c` would): `T<i>_<table>__<column>`
        self._tables = {(t.name, c.name): f"T{i}_{t.name}__{c.name}"
                        for i, (t, c) in enumerate((t, c) for t in module.tables for c in t.columns)}

    # ------------------------------------------------------------ helpers
    def table_static(self, table: str, column: str) -> str:
        """The Rust static holding column `column` of table `table`."""
        return self._tables[(table, column)]

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def emit(self, line: str) -> None:
        self.out.emit(line)

    def site(self, site: number_faults.Site | None) -> int:
        """The number of a fault site in `FAULT_SITES`: the pass `number_faults` numbered it."""
        assert site is not None  # (the caller lowers a node that can fault)
        return number_faults.site_id(self.m, site)

    def draw_site(self, e: ir.RandomInt) -> int | str:
        """The fault site of a `random.int` whose range may be empty, else `_UNREACHABLE_SITE`
        (the operands' ranges prove `lo <= hi`: `number_faults` numbers no site for it)."""
        site = number_faults.site_of(e)
        return _UNREACHABLE_SITE if site is None else self.site(site)

    def rty(self, t: ir.Type) -> str:
        """The storage type of `t`."""
        if isinstance(t, ir.BoolT):
            return "bool"
        if isinstance(t, ir.FloatT):
            return "f32"
        if is_intlike(t):
            return int_rty(t)
        if isinstance(t, ir.ArrayT):
            return f"[{self.rty(t.elem)}; {t.size}]"
        if isinstance(t, ir.ListT):
            return f"List<{self.rty(t.elem)}, {t.cap}>"
        if isinstance(t, ir.RecordT):
            return record_ident(t.name)
        raise TypeError(t)

    def vty(self, t: ir.Type) -> str:
        """The type of a computed value of `t`: i32 for integer scalars, else the storage type."""
        return "i32" if is_intlike(t) else self.rty(t)

    def record_fields(self, t: ir.RecordT) -> list[ir.FieldDef]:
        return self.records[t.name].fields

    def field_type(self, t: ir.Type, name: str) -> ir.Type:
        assert isinstance(t, ir.RecordT), t  # (a field step reads a record)
        return next(f.type for f in self.record_fields(t) if f.name == name)

    @staticmethod
    def load(code: str, t: ir.Type) -> str:
        """A stored scalar as a computed value."""
        if is_intlike(t) and int_rty(t) != "i32":
            return f"({code} as i32)"
        return code

    @staticmethod
    def narrow(code: str, t: ir.Type) -> str:
        """A computed scalar as its storage type."""
        if is_intlike(t) and int_rty(t) != "i32":
            return f"({code} as {int_rty(t)})"
        return code

    def convert(self, code: str, src: ir.Type, dst: ir.Type) -> str:
        """A computed value of type `src` as a computed value of type `dst`."""
        if is_scalar(dst):
            if isinstance(dst, ir.FloatT) and is_intlike(src):
                return f"({code} as f32)"
            return code
        if self.rty(src) == self.rty(dst):
            return code
        x, k = self.fresh("_src"), self.fresh("_k")
        if isinstance(dst, ir.ArrayT):
            s_elem = ir.elem_of(src)
            item = self.narrow(self.convert(self.load(f"{x}[{k}]", s_elem), s_elem, dst.elem), dst.elem)
            return f"{{ let {x} = {code}; core::array::from_fn(|{k}| {item}) }}"
        if isinstance(dst, ir.ListT):
            s_elem = ir.elem_of(src)
            item = self.narrow(self.convert(self.load(f"{x}.items[{k}]", s_elem), s_elem, dst.elem), dst.elem)
            return f"{{ let {x} = {code}; List {{ items: core::array::from_fn(|{k}| {item}), len: {x}.len }} }}"
        raise LoweringError(f"cannot convert `{src}` to `{dst}`")

    def to_slot(self, code: str, src: ir.Type, dst: ir.Type) -> str:
        """A computed value of type `src` ready to be stored in a slot of type `dst`."""
        return self.narrow(self.convert(code, src, dst), dst)

    # ------------------------------------------------------------ constant values
    def lit(self, t: ir.Type, v) -> str:
        """A constant value of type `t` as a Rust literal of its storage type."""
        if isinstance(t, ir.BoolT):
            return "true" if v else "false"
        if isinstance(t, ir.FloatT):
            return f32_lit(v)
        if is_intlike(t):
            return str(int(v))
        if isinstance(t, ir.ArrayT):
            items = [self.lit(t.elem, x) for x in v]
            if len(set(items)) == 1 and t.size > 1:
                return f"[{items[0]}; {t.size}]"
            return "[" + ", ".join(items) + "]"
        if isinstance(t, ir.ListT):
            zero = self.zero(t.elem)
            items = [self.lit(t.elem, x) for x in v] + [zero] * (t.cap - len(v))
            arr = f"[{items[0]}; {t.cap}]" if len(set(items)) == 1 and t.cap > 1 else "[" + ", ".join(items) + "]"
            return f"List {{ items: {arr}, len: {len(v)} }}"
        if isinstance(t, ir.RecordT):
            parts = ", ".join(f"{field_ident(f.name)}: {self.lit(f.type, v[f.name])}" for f in self.record_fields(t))
            return f"{record_ident(t.name)} {{ {parts} }}"
        raise TypeError(t)

    def zero(self, t: ir.Type) -> str:
        return f"<{self.rty(t)} as Zero>::ZERO" if not is_scalar(t) else self.lit(t, 0 if not isinstance(t, ir.BoolT)
                                                                                  else False)

    def static(self, t: ir.Type, v) -> str:
        """A module-level `static` holding a constant composite value (deduplicated)."""
        rty, lit = self.rty(t), self.lit(t, v)
        key = (rty, lit)
        if key not in self._static_names:
            name = f"K{len(self.statics)}"
            self.statics.append((name, rty, lit))
            self._static_names[key] = name
        return self._static_names[key]

    # ------------------------------------------------------------ analyses
    def effectful(self, e: ir.Node) -> bool:
        """True when evaluating `e` draws random numbers or takes from a list."""
        return ir.first_draw(e) is not None

    def may_fault(self, node) -> bool:
        """True when evaluating `node` (an expression or statements) may raise a fault."""
        if isinstance(node, list):
            return any(self.may_fault(x) for x in node)
        if isinstance(node, tuple):
            return any(self.may_fault(x) for x in node)
        if not isinstance(node, ir.Node):
            return False
        if isinstance(node, (ir.Fault, ir.Check, ir.RandomInt)):  # (`randint` returns a `Result`)
            return True
        if isinstance(node, (ir.GetIndex, ir.ListTake, ir.ListOp, ir.Place)) and number_faults.site_of(node) is not None:
            return True
        if isinstance(node, (ir.CallFn, ir.CallProc)):
            name = node.fn if isinstance(node, ir.CallFn) else node.proc
            if self._fn_may_fault(name):
                return True
        return any(self.may_fault(getattr(node, k)) for k in type(node).model_fields)

    def _fn_may_fault(self, name: str) -> bool:
        if name not in self._fn_faults:
            self._fn_faults[name] = True  # no recursion in specs; conservative while computing
            f = self.fns[name]
            self._fn_faults[name] = self.may_fault(f.body) or (f.ret is not None and not number_faults.always_returns(f.body))
        return self._fn_faults[name]

    def needs_stmts(self, node) -> bool:
        """True when lowering `node` emits statements (reductions, comprehensions, draws, takes)."""
        if isinstance(node, (list, tuple)):
            return any(self.needs_stmts(x) for x in node)
        if not isinstance(node, ir.Node):
            return False
        if isinstance(node, (ir.Reduce, ir.ArrayBuild, ir.RandomInt, ir.RandomPick, ir.ListTake)) or _long_literal(node):
            return True
        if isinstance(node, ir.ExprNode) and self._heights(node) >= SPLIT_HEIGHT:
            return True  # parts of it are bound to temporaries (`ex`)
        return any(self.needs_stmts(getattr(node, k)) for k in type(node).model_fields)

    # ------------------------------------------------------------ expressions
    def ex(self, e: ir.Expr) -> str:
        """Rust code of the computed value of `e` (statements it needs are emitted first). A
        node whose height is a multiple of `SPLIT_HEIGHT` is bound to a `let`, so that the
        output nests no deeper than that (`needs_stmts` counts it as a statement)."""
        code = getattr(self, "x_" + e.kind)(e)
        if self._heights.split(e):
            code = self.bind(code, e.type, "_e")
        return code

    def ex_seq(self, exprs: list[ir.Expr]) -> list[str]:
        """Lower operands in order; operands before one that draws are bound to temporaries,
        so that they are evaluated before the draw, as in the interpreter."""
        last = max((i for i, x in enumerate(exprs) if self.effectful(x) or self._heights(x) >= SPLIT_HEIGHT),
                   default=-1)  # (a deep operand binds temporaries: the earlier ones are evaluated first)
        codes = []
        for i, x in enumerate(exprs):
            code = self.ex(x)
            if i < last and not _literal(code):
                tmp = self.fresh("_t")
                self.emit(f"let {tmp}: {self.vty(x.type)} = {code};")
                code = tmp
            codes.append(code)
        return codes

    def bind(self, code: str, t: ir.Type, prefix: str = "_t", force: bool = False) -> str:
        if _literal(code) or (_simple(code) and not force):
            return code
        tmp = self.fresh(prefix)
        self.emit(f"let {tmp}: {self.vty(t)} = {code};")
        return tmp

    def x_const(self, e: ir.Const) -> str:
        t = e.type
        if isinstance(t, ir.BoolT):
            return "true" if e.value else "false"
        if is_intlike(t):
            v = int(e.value)
            return str(v) if v >= 0 else f"({v})"
        if isinstance(t, ir.FloatT):
            return f32_lit(e.value)
        return self.static(t, e.value)

    def x_local(self, e: ir.Local) -> str:
        if e.name == _INDEX:  # (the dispatch's and the mask loop's `k`, `decode`)
            return "(k as i32)"
        return local(e.name)

    def x_state(self, e: ir.StateGet) -> str:
        return self.load(f"s.{field_ident(e.name)}", e.type)

    def x_get_field(self, e: ir.GetField) -> str:
        base = self.ex(e.base)
        return self.load(f"{base}.{field_ident(e.name)}", e.type)

    def read_after(self, coll: ir.Expr, value: ir.Expr) -> tuple[str, str]:
        """(code of `coll`, code of `value`) for an operation on a list or array `coll` with an
        operand `value` (an index, a value to find). The interpreter evaluates `coll` first but
        reads its items after `value`, by reference: `xs[xs.draw() - 1]` and `xs.count(xs.pop())`
        read `xs` after the take (README, "Arguments are values"); a copy bound before it read
        the old list (a fresh-spec hunt). So `value` is lowered first (bound when it draws or
        takes) and `coll` after it, unless `coll` itself draws (then left to right)."""
        if self.effectful(coll):
            coll_code, value_code = self.ex_seq([coll, value])
            return coll_code, value_code
        value_code = self.ex(value)
        if self.effectful(value):
            value_code = self.bind(value_code, value.type, "_x")
        return self.ex(coll), value_code

    def x_get_index(self, e: ir.GetIndex) -> str:
        base, idx = self.read_after(e.base, e.index)
        if isinstance(e.base.type, ir.ListT) and e.unchecked:  # (a `Check` came first: `lower_lists`)
            return self.load(f"{base}.items[{self.index(idx, e.index.type, e.base.type.cap)}]", e.type)
        if isinstance(e.base.type, ir.ListT):
            site = self.site(number_faults.site_of(e))
            return self.load(f"{base}.get({idx}, {site})?", e.type)
        assert isinstance(e.base.type, ir.ArrayT)  # (the checker: only arrays and lists are indexed)
        return self.load(f"{base}[{self.index(idx, e.index.type, e.base.type.size)}]", e.type)

    def x_table_get(self, e: ir.TableGet) -> str:
        row = self.ex(e.row)
        rows = next(t.rows for t in self.m.tables if t.name == e.table)
        return self.load(f"{self.table_static(e.table, e.column)}[{self.index(row, e.row.type, rows)}]", e.type)

    @staticmethod
    def index(code: str, t: ir.Type, size: int) -> str:
        """The Rust index (a `usize` expression) of integer code `code` of type `t` into `size`
        elements (an array's, a table column's).

        Decision (issue 19): where `t` proves every value in `0..size-1` (an `int[lo..hi]`
        with `0 <= lo` and `hi < size`, an enum of at most `size` members, a table row of at
        most `size` rows), `(code as usize).min(size - 1)`: the same index for every value of
        `t`, and LLVM, seeing `min(x, size - 1) < size`, drops Rust's bounds check and its
        panic path (the Pokémon `.so`: 216 -> 156 `panic_bounds_check` call sites; about
        +2-3% turns per CPU second, within the noise of the shared machine: bench/RESULTS.md).
        The proof: no value leaves its type's range (the checker's E0120; `ir.verify` checks
        that every pass's node types still contain the ranges `envc.compiler.ranges` infers),
        and the comparison with `size` is made here, site by site. Safe Rust, no `unsafe`:
        were the proof ever wrong, the index would be clamped, never out of bounds. Else
        `code as usize`, with Rust's check.
        """
        if isinstance(t, ir.IntT) and 0 <= t.lo and t.hi < size:
            proved = True
        elif isinstance(t, ir.EnumT):
            proved = t.size <= size
        elif isinstance(t, ir.RowT):
            proved = t.rows <= size
        else:
            proved = False
        if not proved or size <= 1:
            return f"{code} as usize"
        return f"({code} as usize).min({size - 1})"

    def x_unary(self, e: ir.Unary) -> str:
        v = self.ex(e.operand)
        return f"(!{v})" if e.op == "not" else f"(-{v})"

    def x_binary(self, e: ir.Binary) -> str:
        op = e.op
        if op in ("and", "or") and not self.effectful(e.right):
            return self._short_circuit(e)
        a, b = self.ex_seq([e.left, e.right])
        if op in ("and", "or"):
            return f"({a} {'&' if op == 'and' else '|'} {b})"
        sym = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}.get(op)
        if sym is not None:
            return f"({a} {sym} {b})"
        if isinstance(e.type, ir.FloatT):
            return f"({a} {({'add': '+', 'sub': '-', 'mul': '*', 'div': '/'})[op]} {b})"
        if op in ("div", "mod"):
            return _floor_op(e, a, b)
        return f"({a} {({'add': '+', 'sub': '-', 'mul': '*'})[op]} {b})"

    def _short_circuit(self, e: ir.Binary) -> str:
        """`a and b` / `a or b` whose right side cannot draw: the interpreter skips it once the left
        side decides (so a fault there, such as reading past a list's end, is not raised)."""
        a = self.ex(e.left)
        if not self.needs_stmts(e.right):
            b = self.ex(e.right)
            return f"({a} {'&&' if e.op == 'and' else '||'} {b})"
        tmp = self.fresh("_b")
        self.emit(f"let mut {tmp}: bool = {a};")
        self.emit(f"if {'' if e.op == 'and' else '!'}{tmp} {{")
        self.out.depth += 1
        b = self.ex(e.right)
        self.emit(f"{tmp} = {b};")
        self.out.depth -= 1
        self.emit("}")
        return tmp

    def x_cond(self, e: ir.Cond) -> str:
        c = self.ex(e.cond)
        if not (self.needs_stmts(e.then) or self.needs_stmts(e.orelse)):
            a = self.convert(self.ex(e.then), e.then.type, e.type)
            b = self.convert(self.ex(e.orelse), e.orelse.type, e.type)
            return f"(if {c} {{ {a} }} else {{ {b} }})"
        tmp = self.fresh("_c")
        self.emit(f"let {tmp}: {self.vty(e.type)};")
        if _chain_length(e) >= FLAT_CHAIN:
            self.cond_chain(e, c, tmp)
            return tmp
        self.emit(f"if {c} {{")
        for branch, word in ((e.then, None), (e.orelse, "} else {")):
            if word:
                self.emit(word)
            self.out.depth += 1
            v = self.convert(self.ex(branch), branch.type, e.type)
            self.emit(f"{tmp} = {v};")
            self.out.depth -= 1
        self.emit("}")
        return tmp

    def cond_chain(self, e: ir.Cond, first: str, tmp: str) -> None:
        """`if a then x else if b then y ... else z` into `tmp`, one arm after the other in a
        labeled block (`'c: { if a { tmp = x; break 'c; } ... tmp = z; }`), where nesting each
        `else` in the one before made the output one block deeper per arm: rustc's parser
        overflowed its stack on 700 arms (hunt N). Each condition is evaluated, its statements
        emitted, only when the ones before it were false, as in the interpreter. `first`: the
        first condition's code, already lowered."""
        label = "'" + tmp.lstrip("_")
        self.emit(f"{label}: {{")
        self.out.depth += 1
        arm: ir.Expr = e
        while isinstance(arm, ir.Cond):
            c = first if arm is e else self.ex(arm.cond)
            self.emit(f"if {c} {{")
            self.out.depth += 1
            self.emit(f"{tmp} = {self.convert(self.ex(arm.then), arm.then.type, e.type)};")
            self.emit(f"break {label};")
            self.out.depth -= 1
            self.emit("}")
            arm = arm.orelse
        self.emit(f"{tmp} = {self.convert(self.ex(arm), arm.type, e.type)};")
        self.out.depth -= 1
        self.emit("}")

    def call_args(self, params: list[ir.ParamDef], args: list[ir.Expr], bind: bool = False) -> str:
        codes = self.ex_seq(args)
        if bind:  # a procedure takes `s` mutably: read the state into temporaries first
            codes = [self.bind(c, a.type, "_a") for c, a in zip(codes, args)]
        return "".join(f", {self.convert(c, a.type, p.type)}" for p, c, a in zip(params, codes, args))

    def x_call_fn(self, e: ir.CallFn) -> str:
        fn = self.fns[e.fn]
        return f"{rust_ident('fn', e.fn)}(s{self.call_args(fn.params, e.args)})?"

    def x_builtin(self, e: ir.Builtin) -> str:
        name = e.name
        if name == "old":
            raise LoweringError(f"{where(e.span)}: `old(...)` belongs in a hole's `ensures` clause only")
        if name == "len":
            return f"({self.ex(e.args[0])}.len as i32)"
        if name in ("contains", "count"):
            return self._contains_count(e)
        args = self.ex_seq(e.args)
        if name in ("min", "max", "abs", "clamp"):
            return self._numeric(e, args)
        if name == "int":
            return f"({args[0]} as i32)" if isinstance(e.args[0].type, ir.BoolT) else args[0]
        if name == "float":
            return f"({args[0]} as f32)"
        if name in builtins.FLOAT_MATH:
            return f"{builtins.BUILTINS[name].rust}({args[0]})"
        raise LoweringError(f"{where(e.span)}: the Rust backend has no built-in `{name}`")

    def _numeric(self, e: ir.Builtin, args: list[str]) -> str:
        """`min`, `max`, `abs`, `clamp` on the argument codes `args`, in i32 or f32."""
        floats = isinstance(e.type, ir.FloatT) or any(isinstance(a.type, ir.FloatT) for a in e.args)
        prefix = "f" if floats else "i"
        if e.name == "abs":
            return f"{'f32' if floats else 'i32'}::abs({args[0]})"
        args = [self.convert(c, a.type, e.type) for c, a in zip(args, e.args)]
        if e.name == "clamp":
            return f"{prefix}clamp({args[0]}, {args[1]}, {args[2]})"
        code = args[0]
        for x in args[1:]:
            code = f"{prefix}{e.name}({code}, {x})"
        return code

    def _contains_count(self, e: ir.Builtin) -> str:
        """`contains(seq, v)`/`count(seq, v)`, `seq` read after `v` (`read_after`)."""
        coll_t = e.args[0].type
        coll, x = self.read_after(e.args[0], e.args[1])
        elem = ir.elem_of(coll_t)
        items = f"{coll}.live()" if isinstance(coll_t, ir.ListT) else f"{coll}"
        y = self.fresh("_y")
        # the value is computed once, before the closure: its code may end in `?` (a read
        # that can fault, a call to a `fn`), which a closure returning bool cannot hold
        if is_intlike(elem):
            test = f"{self.load(y, elem)} == {self.bind(x, e.args[1].type, '_x')}"
        else:
            test = f"{y} == {self.bind(self.convert(x, e.args[1].type, elem), elem, '_x')}"
        if e.name == "contains":
            return f"{items}.iter().copied().any(|{y}| {test})"
        return f"({items}.iter().copied().filter(|&{y}| {test}).count() as i32)"

    def _loop_open(self, var: str, lo: int, hi: int) -> None:
        self.locals[var] = ir.IntT(lo=lo, hi=max(lo, hi - 1))
        self.emit(f"for {local(var)} in {lo}i32..{hi} {{")
        self.out.depth += 1

    def _loop_close(self) -> None:
        self.out.depth -= 1
        self.emit("}")

    def x_reduce(self, e: ir.Reduce) -> str:
        acc = self.fresh("_acc")
        op, bt = e.op, e.body.type
        if e.hi <= e.lo and op in ("min", "max"):
            raise LoweringError(f"{where(e.span)}: `{op}` over an empty range")
        early = op in ("any", "all") and not self.may_fault(e.body) and not self.effectful(e.body)
        init = {"sum": f32_lit(0.0) if isinstance(e.type, ir.FloatT) else "0", "count": "0", "any": "false",
                "all": "true"}.get(op)
        if op in ("min", "max"):
            init = f32_lit(0.0) if isinstance(bt, ir.FloatT) else "0"
        self.emit(f"let mut {acc}: {self.vty(e.type)} = {init};")
        self._loop_open(e.var, e.lo, e.hi)
        v = self.ex(e.body)
        if op == "sum":
            self.emit(f"{acc} = {acc} + {self.convert(v, bt, e.type)};")
        elif op == "count":
            self.emit(f"{acc} += {v} as i32;")
        elif op == "any":
            if early:
                self.emit(f"if {v} {{ {acc} = true; break; }}")
            else:
                self.emit(f"{acc} |= {v};")
        elif op == "all":
            if early:
                self.emit(f"if !{v} {{ {acc} = false; break; }}")
            else:
                self.emit(f"{acc} &= {v};")
        else:
            fn = ("f" if isinstance(bt, ir.FloatT) else "i") + op
            v = self.bind(v, bt, "_x")
            self.emit(f"{acc} = if {local(e.var)} == {e.lo} {{ {v} }} else {{ {fn}({acc}, {v}) }};")
        self._loop_close()
        return acc

    def x_array_build(self, e: ir.ArrayBuild) -> str:
        arr = self.fresh("_arr")
        self.emit(f"let mut {arr}: {self.rty(e.type)} = {self.zero(e.type)};")
        self._loop_open(e.var, e.lo, e.hi)
        v = self.to_slot(self.ex(e.body), e.body.type, ir.elem_of(e.type))
        index = local(e.var) if e.lo == 0 else f"({local(e.var)} - {e.lo})"
        self.emit(f"{arr}[{index} as usize] = {v};")
        self._loop_close()
        return arr

    def x_array_lit(self, e: ir.ArrayLit) -> str:
        codes = self.ex_seq(e.items)
        items = [self.to_slot(c, x.type, ir.elem_of(e.type)) for c, x in zip(codes, e.items)]
        if not _long_literal(e):
            return "[" + ", ".join(items) + "]"
        arr = self.fresh("_arr")  # one item a line (an observation of 163 numbers)
        self.emit(f"let {arr}: {self.rty(e.type)} = [")
        self.out.depth += 1
        for item in items:
            self.emit(f"{item},")
        self.out.depth -= 1
        self.emit("];")
        return arr

    def x_record_lit(self, e: ir.RecordLit) -> str:
        rec = self.records[e.record]
        types = {f.name: f.type for f in rec.fields}
        codes = self.ex_seq([v for _, v in e.fields])
        parts = [f"{field_ident(n)}: {self.to_slot(c, v.type, types[n])}" for (n, v), c in zip(e.fields, codes)]
        return f"{record_ident(e.record)} {{ {', '.join(parts)} }}"

    def x_random_int(self, e: ir.RandomInt) -> str:
        self._need_mutable(e.span)
        lo, hi = self.ex_seq([e.lo, e.hi])
        lo, hi = self.bind(lo, e.lo.type, "_lo"), self.bind(hi, e.hi.type, "_hi")
        site = self.draw_site(e)
        r = self.fresh("_r")
        self.emit(f"let {r}: i32 = randint(s._rng_key, &mut s._rng_counter, {lo}, {hi}, {site})?;")
        return r

    def x_random_pick(self, e: ir.RandomPick) -> str:
        """The mask over `lo..hi`, one draw in `0..max(n - 1, 0)`, the draw-th true index
        (`orelse` when none): two loops over the range, no allocation."""
        self._need_mutable(e.span)
        size = e.hi - e.lo
        mask, n, r, out, c = (self.fresh(x) for x in ("_pm", "_pn", "_r", "_pk", "_pc"))
        self.emit(f"let mut {mask}: [bool; {size}] = [false; {size}];")
        self.emit(f"let mut {n}: i32 = 0;")
        self._loop_open(e.var, e.lo, e.hi)
        cond = self.bind(self.ex(e.cond), ir.BOOL, "_b")
        index = f"v_{e.var}" if e.lo == 0 else f"(v_{e.var} - {e.lo})"
        self.emit(f"{mask}[{index} as usize] = {cond};")
        self.emit(f"if {cond} {{ {n} += 1; }}")
        self._loop_close()
        site = _UNREACHABLE_SITE  # the draw is in 0..max(n - 1, 0): never empty
        self.emit(f"let {r}: i32 = randint(s._rng_key, &mut s._rng_counter, 0, imax({n} - 1, 0), {site})?;")
        self.emit(f"let {out}: i32;")
        self.emit(f"if {n} == 0 {{")
        self.out.depth += 1
        self.emit(f"{out} = {self.ex(e.orelse)};")
        self.out.depth -= 1
        self.emit("} else {")
        self.out.depth += 1
        self.emit(f"let mut {c}: i32 = 0;")
        self.emit(f"let mut _found: i32 = {e.lo};")
        self.emit(f"for k in 0..{size}usize {{ if {mask}[k] {{ if {c} == {r} {{ _found = k as i32 + {e.lo}; }} {c} += 1; }} }}")
        self.emit(f"{out} = _found;")
        self.out.depth -= 1
        self.emit("}")
        return out

    def s_choose(self, s: ir.Choose) -> None:
        raise LoweringError(f"{where(s.span)}: `choose` reaches the Rust lowering: run "
                            "`envc.compiler.passes.lower_choices` first")

    def x_list_take(self, e: ir.ListTake) -> str:
        place = self.place(e.place)
        v = self.fresh("_v")
        end = "front" if e.front else "back"
        if e.unchecked:  # (a `Check` came first: `lower_lists`)
            self.emit(f"let {v} = {place}.take_{end}_unchecked();")
            return self.load(v, e.type)
        site = self.site(number_faults.site_of(e))
        self.emit(f"let {v} = {place}.take_{end}({site})?;")
        return self.load(v, e.type)

    def _need_mutable(self, span) -> None:
        if not self.mutable:
            raise LoweringError(f"{where(span)}: a random draw in a context that cannot change the state")

    # ------------------------------------------------------------ places
    def place(self, p: ir.Place) -> str:
        """The Rust place of `p`; index expressions are evaluated (in order) into temporaries and
        list indices checked against the length, as the interpreter resolves places."""
        if p.root == "state":
            code, t = f"s.{field_ident(p.name)}", self._state_type(p.name)
        else:
            code, t = local(p.name), self.locals[p.name]
        for step in p.path:
            if step.kind == "field":
                code = f"{code}.{field_ident(step.name)}"
                t = self.field_type(t, step.name)
                continue
            idx = self.ex(step.index)
            if isinstance(t, ir.ListT) and step.unchecked:  # (a `Check` came first: `lower_lists`)
                k = self.fresh("_i")
                self.emit(f"let {k}: usize = {self.index(idx, step.index.type, t.cap)};")
                code = f"{code}.items[{k}]"
            elif isinstance(t, ir.ListT):
                site = self.site(number_faults.site_of(p))
                k = self.fresh("_i")
                self.emit(f"let {k}: usize = {code}.slot({idx}, {site})?;")
                code = f"{code}.items[{k}]"
            else:
                assert isinstance(t, ir.ArrayT)  # (the checker: only arrays and lists are indexed)
                at = self.index(idx, step.index.type, t.size)
                if not _simple(idx):
                    k = self.fresh("_i")
                    self.emit(f"let {k}: usize = {at};")
                    code = f"{code}[{k}]"
                else:
                    code = f"{code}[{at}]"
            t = ir.elem_of(t)
        return code

    def _state_type(self, name: str) -> ir.Type:
        return next(f.type for f in self.m.state if f.name == name)

    # ------------------------------------------------------------ statements
    def block(self, stmts: list[ir.Stmt]) -> None:
        for s in stmts:
            loc = where(s.span)
            if loc and s.kind not in ("return",):
                self.emit(f"// @ {rust_comment(loc)}")
            getattr(self, "s_" + s.kind)(s)

    def s_let(self, s: ir.Let) -> None:
        v = self.convert(self.ex(s.value), s.value.type, s.type)
        self.locals[s.name] = s.type
        self.emit(f"let mut {local(s.name)}: {self.vty(s.type)} = {v};")

    def s_assign(self, s: ir.Assign) -> None:
        v = self.ex(s.value)
        if self.needs_stmts(s.place) or self.effectful(s.place) or (s.place.path and not _simple(v)):
            v = self.bind(v, s.value.type, "_v")
        target = self.place(s.place)
        if s.place.root == "local" and not s.place.path:
            self.emit(f"{target} = {self.convert(v, s.value.type, s.place.type)};")
        else:
            self.emit(f"{target} = {self.to_slot(v, s.value.type, s.place.type)};")

    def s_if(self, s: ir.If) -> None:
        c = self.ex(s.cond)
        self.emit(f"if {c} {{")
        loc = where(s.span)
        while True:
            self.out.depth += 1
            self.block(s.then)
            self.out.depth -= 1
            if not s.orelse:
                break
            inner = s.orelse[0]
            if len(s.orelse) == 1 and isinstance(inner, ir.If) and not self.needs_stmts(inner.cond):
                # `elif` (and the checker's dispatch chains): `} else if c {`, not one more level
                inner_loc = where(inner.span)
                note = f" // @ {rust_comment(inner_loc)}" if inner_loc and inner_loc != loc else ""
                self.emit(f"}} else if {self.ex(inner.cond)} {{{note}")
                s, loc = inner, inner_loc or loc
                continue
            self.emit("} else {")
            self.out.depth += 1
            self.block(s.orelse)
            self.out.depth -= 1
            break
        self.emit("}")

    def s_for(self, s: ir.For) -> None:
        self._loop_open(s.var, s.lo, s.hi)
        self.block(s.body)
        self._loop_close()

    def s_match(self, s: ir.Match) -> None:
        subject = self.ex(s.subject)
        names = self.m.enum(s.subject.type.name).members if isinstance(s.subject.type, ir.EnumT) else None
        self.emit(f"match {subject} {{")
        self.out.depth += 1
        wildcard = False
        for arm in s.arms:
            if arm.members:
                pats = " | ".join(f"{m} /* {names[m]} */" if names else str(m) for m in arm.members)
            else:
                pats, wildcard = "_", True
            self.emit(f"{pats} => {{")
            self.out.depth += 1
            self.block(arm.body)
            self.out.depth -= 1
            self.emit("}")
            if wildcard:
                break
        if not wildcard:
            self.emit("_ => {}")
        self.out.depth -= 1
        self.emit("}")

    def s_return(self, s: ir.Return) -> None:
        if self._ret is None:
            self.emit("return Ok(());")
            return
        v = self.ret_value(s.value)
        self.emit(f"return Ok({v});")

    def ret_value(self, value: ir.Expr) -> str:
        assert self._ret is not None  # (called for the `return` of a fn: it has a return type)
        code = self.ex(value)
        if self._ret_storage:
            return self.to_slot(code, value.type, self._ret)
        return self.convert(code, value.type, self._ret)

    def s_call_proc(self, s: ir.CallProc) -> None:
        self._need_mutable(s.span)
        fn = self.fns[s.proc]
        self.emit(f"{rust_ident('proc', s.proc)}(s{self.call_args(fn.params, s.args, bind=True)})?;")

    def s_list_op(self, s: ir.ListOp) -> None:
        place = self.place(s.place)
        lt = s.place.type
        assert isinstance(lt, ir.ListT), lt  # (list operations act on lists)
        args = [self.bind(c, a.type, "_a") for c, a in zip(self.ex_seq(s.args), s.args)]
        op = s.op
        if s.unchecked:
            self._list_op_unchecked(s, place, args)
            return
        if op == "push":
            site = self.site(number_faults.site_of(s))
            self.emit(f"{place}.push({self.to_slot(args[0], s.args[0].type, lt.elem)}, {site})?;")
        elif op == "insert":
            site = self.site(number_faults.site_of(s))
            self.emit(f"{place}.insert({args[0]}, {self.to_slot(args[1], s.args[1].type, lt.elem)}, {site})?;")
        elif op == "remove_at":
            site = self.site(number_faults.site_of(s))
            self.emit(f"{place}.remove_at({args[0]}, {site})?;")
        elif op == "clear":
            self.emit(f"{place}.clear();")
        elif op == "shuffle":
            self._need_mutable(s.span)
            self.emit(f"{place}.shuffle(s._rng_key, &mut s._rng_counter);")
        else:
            site = self.site(number_faults.site_of(s))
            self.emit(f"{place}.take_{'front' if op == 'discard_front' else 'back'}({site})?;")

    def _list_op_unchecked(self, s: ir.ListOp, place: str, args: list[str]) -> None:
        """A list method after its explicit `Check` (`lower_lists`): the runtime's `_unchecked` form."""
        lt = ir.list_of(s.place.type)
        if s.op == "push":
            self.emit(f"{place}.push_unchecked({self.to_slot(args[0], s.args[0].type, lt.elem)});")
        elif s.op == "insert":
            at = self.index(args[0], s.args[0].type, lt.cap)
            self.emit(f"{place}.insert_unchecked({at}, {self.to_slot(args[1], s.args[1].type, lt.elem)});")
        elif s.op == "remove_at":
            self.emit(f"{place}.remove_at_unchecked({self.index(args[0], s.args[0].type, lt.cap)});")
        else:
            self.emit(f"{place}.take_{'front' if s.op == 'discard_front' else 'back'}_unchecked();")

    def s_check(self, s: ir.Check) -> None:
        """An explicit fault (`lower_lists`): return it when the condition holds."""
        cond = self.ex(s.cond)
        a, b = (self.ex(v) if v is not None else "0" for v in (s.a, s.b))
        site = self.site(number_faults.site_of(s))
        self.emit(f"if {cond} {{ return Err(Fault::at({site}, {a}, {b})); }}")

    def s_effect(self, s: ir.Effect) -> None:
        self._need_mutable(s.span)
        args = self.ex_seq(s.args)
        if s.name == "win":
            p = self.bind(args[0], s.args[0].type, "_p")
            self.emit(f"for q in 0..NUM_PLAYERS {{ s.rewards[q] = if q as i32 == {p} {{ 1.0 }} else {{ -1.0 }}; }}")
            self.emit("s.terminated = true;")
        elif s.name == "draw":
            self.emit("s.rewards = [0.0; NUM_PLAYERS];")
            self.emit("s.terminated = true;")
        elif s.name == "terminate":
            self.emit("s.terminated = true;")
        else:
            p = self.bind(args[0], s.args[0].type, "_p")
            r = self.convert(args[1], s.args[1].type, ir.FLOAT)
            self.emit(f"s.rewards[{p} as usize] = s.rewards[{p} as usize] + {r};")

    def s_fault(self, s: ir.Fault) -> None:
        site = self.site(number_faults.site_of(s))
        self.emit(f"return Err(Fault::at({site}, 0, 0));")

    def s_expr_stmt(self, s: ir.ExprStmt) -> None:
        v = self.ex(s.expr)
        if not _simple(v):
            self.emit(f"let _ = {v};")

    # ------------------------------------------------------------ functions
    def function(self, header: str, params: list[ir.ParamDef], body: list[ir.Stmt], ret: ir.Type | None,
                 mutable: bool, doc: str, prologue: list[str] | None = None, fn_span=None,
                 fn_name: str = "", ret_storage: bool = False) -> str:
        self.out = Emitter(depth=0)
        self._ret_storage = ret_storage
        self.mutable = mutable
        self.locals = {p.name: p.type for p in params}
        self._ret = ret
        for line in rust_doc(doc).split("\n"):
            self.emit(line)
        self.emit(header)
        self.out.depth = 1
        for line in prologue or []:
            self.emit(line)
        if ret is not None and len(body) == 1 and isinstance(body[0], ir.Return):
            self.emit(f"Ok({self.ret_value(body[0].value)})")
        else:
            self.block(body)
            if ret is None:
                self.emit("Ok(())")
            elif not number_faults.always_returns(body):
                site = self.site(number_faults.fn_end_site(fn_name, fn_span))
                self.emit(f"Err(Fault::at({site}, 0, 0))")
        self.out.depth = 0
        self.emit("}")
        return "\n".join(self.out.lines)

    def params_code(self, params: list[ir.ParamDef]) -> str:
        return "".join(f", mut {local(p.name)}: {self.vty(p.type)}" for p in params)

    def decode(self, kind) -> tuple[list[str], list[str]]:
        """Statements binding the parameters of flat index `k` (a `usize` relative to the kind,
        `_INDEX` in the IR) as `decode_param` writes them, and the arguments."""
        self.out = Emitter(depth=0)
        index = ir.Local(name=_INDEX, type=ir.IntT(lo=0, hi=max(0, kind.size - 1)))
        args = []
        for j, p in enumerate(kind.params):
            code = self.ex(decode_param(kind, index, j))
            self.emit(f"let {local(p.name)}: {self.vty(p.type)} = {code};")
            args.append(local(p.name))
        return self.out.lines, args

    def _actions(self) -> tuple[list[str], list[str]]:
        """Each action's function and guard (appended to `functions`); returns the mask code
        (each kind's guard at each of its flat indices) and the step's dispatch on the action."""
        m = self.m
        mask_code: list[str] = []
        dispatch: list[str] = []
        for kind in self.space.kinds:
            a = m.actions[kind.index]
            act, guard = rust_ident("action", a.name), rust_ident("guard", a.name)
            header = f"fn {act}(s: &mut State{self.params_code(a.params)}) -> Result<(), Fault> {{"
            self.functions.append(self.function(header, a.params, a.body, None, True,
                                                f"action `{a.name}` ({where(a.span)})"))
            lines, args = self.decode(kind)
            call_args = "".join(", " + x for x in args)
            end = kind.offset + kind.size
            dispatch.append(f"if action < {end} {{")
            dispatch.append(f"    let k = action - {kind.offset};" if kind.offset else "    let k = action;")
            dispatch += ["    " + x for x in lines]
            dispatch.append(f"    return {act}(s{call_args});")
            dispatch.append("}")
            if a.guard is None:
                continue
            header = f"fn {guard}(s: &State{self.params_code(a.params)}) -> Result<bool, Fault> {{"
            self.functions.append(self.function(header, a.params, [ir.Return(value=a.guard, span=a.guard.span)],
                                                ir.BOOL, False, f"guard of `{a.name}`"))
            mask_code.append(f"for k in 0..{kind.size}usize {{")
            mask_code += ["    " + x for x in lines]
            mask_code.append(f"    m[{kind.offset} + k] = {guard}(s{call_args})?;")
            mask_code.append("}")
        return mask_code, dispatch

    def run(self) -> LoweredModule:
        m = self.m
        for f in m.fns:
            if f.ret is not None:
                header = f"fn {rust_ident('fn', f.name)}(s: &State{self.params_code(f.params)}) -> Result<{self.vty(f.ret)}, Fault> {{"
                doc = f"fn `{f.name}` ({where(f.span)})"
            else:
                header = f"fn {rust_ident('proc', f.name)}(s: &mut State{self.params_code(f.params)}) -> Result<(), Fault> {{"
                doc = f"proc `{f.name}` ({where(f.span)})"
            self.functions.append(self.function(header, f.params, f.body, f.ret, f.ret is None, doc,
                                                fn_span=f.span, fn_name=f.name))
        mask_code, dispatch = self._actions()
        obs = m.observe
        player = ir.ParamDef(name=obs.player, type=ir.IntT(lo=0, hi=m.num_players - 1))
        header = f"fn observe_body(s: &State{self.params_code([player])}) -> Result<Observation, Fault> {{"
        self.functions.append(self.function(header, [player], obs.body, obs.type, False,
                                            f"the spec's `observe` ({where(obs.span)})", fn_span=obs.span,
                                            fn_name="observe", ret_storage=True))
        header = "fn init_body(s: &mut State) -> Result<(), Fault> {"
        self.functions.append(self.function(header, [], m.init, None, True, "the spec's `init` block"))
        if m.epilogue:
            header = "fn epilogue_body(s: &mut State) -> Result<(), Fault> {"
            self.functions.append(self.function(header, [], m.epilogue, None, True,
                                                "the module's epilogue: run after every legal action's body"))
        sim = None
        if m.simultaneous is not None:
            assert m.simultaneous.choice is not None  # (set by the lowering pass, which ran)
            choice = self._state_type(m.simultaneous.choice)
            sim = {"choice": field_ident(m.simultaneous.choice), "choice_rty": self.rty(ir.elem_of(choice)),
                   "player_rty": self.rty(self._state_type("current_player"))}
        invariants = []
        for inv in m.invariants:
            inv_fn = rust_ident("invariant", inv.name)
            header = f"fn {inv_fn}(s: &State) -> Result<bool, Fault> {{"
            self.functions.append(self.function(header, [], [ir.Return(value=inv.expr, span=inv.expr.span)], ir.BOOL,
                                                False, f"invariant `{inv.name}`: {inv.doc or ''}".rstrip(": ")))
            invariants.append((inv.name, inv_fn))
        for t in m.tables:
            for c in t.columns:
                self.statics.append((self.table_static(t.name, c.name), self.rty(ir.ArrayT(elem=c.type, size=t.rows)),
                                     self.lit(ir.ArrayT(elem=c.type, size=t.rows), c.values)))
        records = []
        for r in m.records:
            records.append({"name": record_ident(r.name), "spec_name": r.name,
                            "fields": [(field_ident(f.name), self.rty(f.type)) for f in r.fields],
                            "zero": self.lit(ir.RecordT(name=r.name), {f.name: ir.raw_zero(self.m, f.type)
                                                                        for f in r.fields})})
        fields = [(field_ident(f.name), self.rty(f.type), self.lit(f.type, f.default)) for f in m.state]
        step_t = self._state_type("step_count")
        illegal_site = (self.site(number_faults.illegal_site())
                        if m.illegal_action == "error" else 0)
        return LoweredModule(
            records=records, state_fields=fields,
            statics=[(name, rty, wrap_literal(lit, len(f"static {name}: {rty} = ")))
                     for name, rty, lit in self.statics],
            functions=self.functions,
            fault_sites=[number_faults.site_text(x) for x in m.fault_sites],
            mask_code=mask_code, dispatch_code=dispatch, invariants=invariants,
            obs_rty=self.rty(obs.type), num_actions=self.space.n, num_players=m.num_players,
            turn_limit=m.turn_limit, time_limit=_time_limit(m), step_max=ir.int_of(step_t).hi,
            step_count_rty=self.rty(step_t),
            illegal_is_error=m.illegal_action == "error", illegal_site=illegal_site,
            enums=[(e.name, list(e.members)) for e in m.enums], has_epilogue=bool(m.epilogue), simultaneous=sim,
        )


# ------------------------------------------------------------------ layouts


def leaves(low: Lowering, t: ir.Type, access: str, path: tuple[str, ...] = ()) -> list[Leaf]:
    """The arrays of the layout of a value of type `t` (`ir.layout_leaves`) stored at Rust place
    `access`, each keyed by `path` and its own keys. An integer scalar's `bounds` (its IR type's
    range, widened to hold 0 in a list's items) are checked when a state is injected, so that
    generated code indexes only within bounds; bools, floats and a list's length (checked
    against `cap`) have none."""
    out = []
    for leaf in ir.layout_leaves(low.m, t):
        place, k = access, 0
        for kind, arg in leaf.steps:
            if kind == "field":
                place += f".{field_ident(arg)}"
            elif kind in ("index", "items"):
                place += (".items" if kind == "items" else "") + f"[{{i{k}}}]"
                k += 1
            else:
                place += ".len"
        ints = leaf.cap is None and isinstance(leaf.scalar, (ir.IntT, ir.EnumT, ir.RowT))
        bounds = (int(leaf.bounds[0]), int(leaf.bounds[1])) if ints else None
        rty = "i32" if leaf.cap is not None else low.rty(leaf.scalar)
        out.append(Leaf(path + leaf.path, rty, leaf.dims, place, cap=leaf.cap, bounds=bounds, box=leaf.bounds))
    return out


# ------------------------------------------------------------------ small helpers


def wrap_literal(code: str, head: int = 0, width: int = 100) -> str:
    """A long array literal (a table's column) laid out over several lines of at most about
    `width` characters, items packed in order, 4 spaces in; short literals, `[x; N]` and
    other code stay as they are. `head`: the length of the text before it on its line."""
    if head + len(code) + 1 <= width or not (code.startswith("[") and code.endswith("]")):
        return code
    items, depth, start = [], 0, 1
    for i, ch in enumerate(code[1:-1], start=1):
        if ch in "[({":
            depth += 1
        elif ch in "])}":
            depth -= 1
        elif depth == 0 and ch == ";":
            return code
        elif depth == 0 and ch == ",":
            items.append(code[start:i].strip())
            start = i + 1
    items.append(code[start:-1].strip())
    lines, line = [], ""
    for item in items:
        if line and 4 + len(line) + len(item) + 2 > width:
            lines.append(line)
            line = ""
        line += ("" if not line else " ") + item + ","
    lines.append(line)
    return "[\n" + "\n".join("    " + x for x in lines) + "\n]"


#: an `if ... else if ...` chain of at least this many arms that needs statements is lowered
#: flat (`cond_chain`); a shorter one nests as written, which reads better
FLAT_CHAIN = 4


def _chain_length(e: ir.Cond) -> int:
    """The number of `then` arms of `e`'s `else if` chain (1 for a lone `if ... else`)."""
    n, arm = 0, cast(ir.Expr, e)
    while isinstance(arm, ir.Cond):
        n, arm = n + 1, arm.orelse
    return n


def _simple(code: str) -> bool:
    """True for a variable name or a literal: safe to evaluate later or twice."""
    c = code.strip("()")
    if c.startswith("-"):
        c = c[1:]
    return c.replace("_", "a").isalnum() or _is_number(c)


def _literal(code: str) -> bool:
    """True for a literal (or a `static`): its value cannot change before it is used."""
    c = code.strip("()")
    if c.startswith("-"):
        c = c[1:]
    return c in ("true", "false") or _is_number(c) or (c[:1] == "K" and c[1:].isdigit())


def _long_literal(node) -> bool:
    """An array literal laid out one item a line, bound to a temporary (a statement)."""
    return isinstance(node, ir.ArrayLit) and len(node.items) > 8


def _is_number(c: str) -> bool:
    try:
        float(c.removesuffix("f32").removesuffix("i32"))
        return True
    except ValueError:
        return False
