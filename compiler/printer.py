"""The IR printer: a typed module as deterministic, readable text.

Public surface: `print_module(module) -> str`, `print_expr(expr, module) -> str`,
`print_stmts(stmts, module) -> list[str]`.

What `envc compile --emit ir [--after PASS]` shows and what the pass file tests
(`tests/passes/<pass>/<case>.envspec` beside `<case>.ir`) compare. The text reads like the
spec language with every decision the checker made spelled out:

* state fields are `state.NAME`, locals bare names, so a pass that turns one into the other
  shows; every `let`, parameter, field and return carries its type with its range;
* enum members print as `Enum.member`, table rows as `Table#row`, table reads as
  `Table.column[row]`; a constant array prints `[v; N]` when its N items are equal, and a
  long one prints its first items then `... (N items)`;
* binary operands are parenthesized when they are themselves binary or conditional, so
  the text never depends on precedence;
* a list read, take, method or place step the pass `lower_lists` marked `unchecked` ends in
  `!` (`xs[i]!`, `deck.draw()!`, `hand.push(c)!`): the explicit `check COND fault "..."` before
  it does the test (`with a, b`: the values its message names);
* spans and table contents are left out (a table shows its size and column types), so the
  text changes only when the IR does.
"""

from __future__ import annotations

import json
from typing import Any

from envc.compiler import ir

INDENT = "    "
LONG_ARRAY = 12  # constant arrays longer than this print their first items and their length

_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "%", "eq": "==", "ne": "!=", "lt": "<",
        "le": "<=", "gt": ">", "ge": ">=", "and": "and", "or": "or"}


class _Printer:
    def __init__(self, module: ir.Module | None):
        self.m = module
        self.lines: list[str] = []
        self.depth = 0

    # ------------------------------------------------------------ layout
    def line(self, text: str) -> None:
        self.lines.append(INDENT * self.depth + text)

    def block(self, head: str, stmts: list[ir.Stmt], tail: str = "}") -> None:
        self.line(head + " {")
        self.depth += 1
        for s in stmts:
            self.stmt(s)
        self.depth -= 1
        self.line(tail)

    # ------------------------------------------------------------ values
    def value(self, t: ir.Type, v: Any) -> str:
        if isinstance(t, ir.ArrayT) or isinstance(t, ir.ListT):
            return self.items(t.elem, list(v))
        if isinstance(t, ir.RecordT):
            fields = ", ".join(f"{k}: {self.value(self.field_type(t.name, k), x)}" for k, x in v.items())
            return f"{t.name}({fields})"
        return self.scalar(t, v)

    def items(self, elem: ir.Type, v: list) -> str:
        if len(v) > 1 and all(x == v[0] for x in v):
            return f"[{self.value(elem, v[0])}; {len(v)}]"
        shown = [self.value(elem, x) for x in v[:LONG_ARRAY]]
        more = f", ... ({len(v)} items)" if len(v) > LONG_ARRAY else ""
        return "[" + ", ".join(shown) + more + "]"

    def scalar(self, t: ir.Type, v: Any) -> str:
        if isinstance(t, ir.BoolT):
            return "true" if v else "false"
        if isinstance(t, ir.FloatT):
            return repr(float(v))
        if isinstance(t, ir.EnumT):
            return self.member(t.name, int(v))
        if isinstance(t, ir.RowT):
            return f"{t.table}#{int(v)}"
        return str(v)

    def member(self, enum: str, index: int) -> str:
        if self.m is None:
            return f"{enum}#{index}"
        members = self.m.enum(enum).members
        return f"{enum}.{members[index]}" if 0 <= index < len(members) else f"{enum}#{index}"

    def field_type(self, record: str, name: str) -> ir.Type:
        if self.m is None:
            return ir.IntT(lo=0, hi=0)
        return next(f.type for f in self.m.record(record).fields if f.name == name)

    # ------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr) -> str:
        return getattr(self, "x_" + e.kind)(e)

    def operand(self, e: ir.Expr) -> str:
        text = self.expr(e)
        return f"({text})" if isinstance(e, (ir.Binary, ir.Cond)) else text

    def args(self, args: list[ir.Expr]) -> str:
        return ", ".join(self.expr(a) for a in args)

    def x_const(self, e: ir.Const) -> str:
        return self.value(e.type, e.value)

    def x_local(self, e: ir.Local) -> str:
        return e.name

    def x_state(self, e: ir.StateGet) -> str:
        return f"state.{e.name}"

    def x_get_field(self, e: ir.GetField) -> str:
        return f"{self.operand(e.base)}.{e.name}"

    def x_get_index(self, e: ir.GetIndex) -> str:
        return f"{self.operand(e.base)}[{self.expr(e.index)}]" + ("!" if e.unchecked else "")

    def x_table_get(self, e: ir.TableGet) -> str:
        return f"{e.table}.{e.column}[{self.expr(e.row)}]"

    def x_unary(self, e: ir.Unary) -> str:
        return f"-{self.operand(e.operand)}" if e.op == "neg" else f"not {self.operand(e.operand)}"

    def x_binary(self, e: ir.Binary) -> str:
        return f"{self.operand(e.left)} {_OPS[e.op]} {self.operand(e.right)}"

    def x_cond(self, e: ir.Cond) -> str:
        return f"if {self.expr(e.cond)} then {self.expr(e.then)} else {self.expr(e.orelse)}"

    def x_call_fn(self, e: ir.CallFn) -> str:
        return f"{e.fn}({self.args(e.args)})"

    def x_builtin(self, e: ir.Builtin) -> str:
        return f"{e.name}({self.args(e.args)})"

    def x_reduce(self, e: ir.Reduce) -> str:
        return f"{e.op}({self.expr(e.body)} for {e.var} in {e.lo}..{e.hi})"

    def x_array_build(self, e: ir.ArrayBuild) -> str:
        return f"[{self.expr(e.body)} for {e.var} in {e.lo}..{e.hi}]"

    def x_array_lit(self, e: ir.ArrayLit) -> str:
        return f"[{self.args(e.items)}]"

    def x_record_lit(self, e: ir.RecordLit) -> str:
        return f"{e.record}(" + ", ".join(f"{k}: {self.expr(v)}" for k, v in e.fields) + ")"

    def x_random_int(self, e: ir.RandomInt) -> str:
        return f"random.int({self.expr(e.lo)}, {self.expr(e.hi)})"

    def x_random_pick(self, e: ir.RandomPick) -> str:
        return (f"random.pick({e.var} in {e.lo}..{e.hi} where {self.expr(e.cond)}) "
                f"else {self.expr(e.orelse)}")

    def x_list_take(self, e: ir.ListTake) -> str:
        return f"{self.place(e.place)}.{'draw' if e.front else 'pop'}()" + ("!" if e.unchecked else "")

    # ------------------------------------------------------------ places and statements
    def place(self, p: ir.Place) -> str:
        text = f"state.{p.name}" if p.root == "state" else p.name
        for step in p.path:
            if isinstance(step, ir.FieldStep):
                text += f".{step.name}"
                continue
            text += f"[{self.expr(step.index)}]" + ("!" if step.unchecked else "")
        return text

    def stmt(self, s: ir.Stmt) -> None:
        getattr(self, "s_" + s.kind)(s)

    def s_let(self, s: ir.Let) -> None:
        self.line(f"let {s.name}: {s.type} = {self.expr(s.value)}")

    def s_assign(self, s: ir.Assign) -> None:
        self.line(f"{self.place(s.place)} = {self.expr(s.value)}")

    def s_if(self, s: ir.If) -> None:
        if not s.orelse:
            self.block(f"if {self.expr(s.cond)}", s.then)
            return
        self.block(f"if {self.expr(s.cond)}", s.then, tail="} else {")
        self.depth += 1
        for x in s.orelse:
            self.stmt(x)
        self.depth -= 1
        self.line("}")

    def s_for(self, s: ir.For) -> None:
        self.block(f"for {s.var} in {s.lo}..{s.hi}", s.body)

    def s_match(self, s: ir.Match) -> None:
        self.line(f"match {self.expr(s.subject)} {{")
        self.depth += 1
        enum = s.subject.type.name if isinstance(s.subject.type, ir.EnumT) else "?"
        for arm in s.arms:
            pattern = " | ".join(self.member(enum, i) for i in arm.members) or "_"
            self.block(f"{pattern} =>", arm.body)
        self.depth -= 1
        self.line("}")

    def s_return(self, s: ir.Return) -> None:
        self.line(f"return {self.expr(s.value)}")

    def s_call_proc(self, s: ir.CallProc) -> None:
        self.line(f"{s.proc}({self.args(s.args)})")

    def s_list_op(self, s: ir.ListOp) -> None:
        self.line(f"{self.place(s.place)}.{s.op}({self.args(s.args)})" + ("!" if s.unchecked else ""))

    def s_effect(self, s: ir.Effect) -> None:
        self.line(f"{s.name}({self.args(s.args)})")

    def s_choose(self, s: ir.Choose) -> None:
        orelse = f"fail({json.dumps(s.fault, ensure_ascii=True)})" if s.fault is not None else \
            (self.expr(s.orelse) if s.orelse is not None else "nothing")
        self.line(f"{self.place(s.place)} = choose({self.expr(s.chooser)}, {s.var} in {s.lo}..{s.hi} "
                  f"where {self.expr(s.cond)}) else {orelse}  // site {s.site}")

    def s_fault(self, s: ir.Fault) -> None:
        self.line(f"fail({json.dumps(s.message, ensure_ascii=True)})")

    def s_check(self, s: ir.Check) -> None:
        values = [self.expr(v) for v in (s.a, s.b) if v is not None]
        with_ = f" with {', '.join(values)}" if values else ""
        self.line(f"check {self.expr(s.cond)} fault {json.dumps(s.message, ensure_ascii=True)}{with_}")

    def s_expr_stmt(self, s: ir.ExprStmt) -> None:
        self.line(self.expr(s.expr))

    # ------------------------------------------------------------ declarations
    def params(self, params: list[ir.ParamDef]) -> str:
        return ", ".join(f"{p.name}: {p.type}" for p in params)

    def module(self) -> None:
        m = self.m
        assert m is not None
        doc = f" {json.dumps(m.doc, ensure_ascii=True)}" if m.doc else ""
        self.line(f"module {m.name}{doc}")
        limit = "none" if m.turn_limit is None else str(m.turn_limit)
        self.line(f"players {m.num_players}, turn_limit {limit}, illegal_action {m.illegal_action}")
        for e in m.enums:
            members = ", ".join(n if a is None else f"{n} {json.dumps(a, ensure_ascii=True)}"
                                for n, a in zip(e.members, e.aliases))
            self.line(f"enum {e.name} {{ {members} }}")
        for r in m.records:
            self.line(f"record {r.name} {{ " + ", ".join(self.field(f) for f in r.fields) + " }")
        for t in m.tables:
            cols = ", ".join(f"{c.name}: {c.type}" for c in t.columns)
            self.line(f"table {t.name} from {json.dumps(t.path, ensure_ascii=True)} ({t.rows} rows) {{ {cols} }}")
        self.line("state {")
        self.depth += 1
        for f in m.state:
            self.line(self.field(f))
        self.depth -= 1
        self.line("}")
        self.block("init", m.init)
        for fn in m.fns:
            head = f"fn {fn.name}({self.params(fn.params)}) -> {fn.ret}" if fn.ret is not None else \
                f"proc {fn.name}({self.params(fn.params)})"
            self.block(head, fn.body)
        for a in m.actions:
            guard = f" when {self.expr(a.guard)}" if a.guard is not None else ""
            self.block(f"action {a.name}({self.params(a.params)}){guard}", a.body)
        self.turn_parts(m)
        self.block(f"observe({m.observe.player}) -> {m.observe.type}", m.observe.body)
        for inv in m.invariants:
            doc = f" {json.dumps(inv.doc, ensure_ascii=True)}" if inv.doc else ""
            self.line(f"invariant {inv.name}{doc}: {self.expr(inv.expr)}")
        for h in m.holes:
            self.hole(h)
        for fam in m.families:
            cols = ", ".join(f"{fam.table}.{c}" for c in fam.columns)
            restricted = f", restricted {', '.join(fam.restricted)}" if fam.restricted else ""
            self.line(f"family {fam.name} per {cols}: {len(fam.texts)} texts, dispatch {fam.dispatch}{restricted}")
        self.fault_sites(m)

    def fault_sites(self, m: ir.Module) -> None:
        """The numbered fault sites (the pass `number_faults`; none before it)."""
        for i, (where, message) in enumerate(m.fault_sites):
            self.line(f"fault {i} at {where or '-'}: {json.dumps(message, ensure_ascii=True)}")

    def turn_parts(self, m: ir.Module) -> None:
        """A simultaneous spec's `resolve` (before its pass) or where the pass keeps the turn
        (after it), and the module's epilogue."""
        sim = m.simultaneous
        if sim is not None and not sim.lowered:
            self.block("resolve", sim.resolve)
        if sim is not None and sim.lowered:
            limit = "none" if sim.turn_limit is None else str(sim.turn_limit)
            self.line(f"simultaneous: choices in {sim.choice}, turns in {sim.turn}, turn_limit {limit}")
        if m.epilogue:
            self.block("epilogue", m.epilogue)

    def field(self, f: ir.FieldDef) -> str:
        notes = "".join(f" @{n}" for n, on in (("builtin", f.builtin), ("matchup", f.matchup),
                                                              ("outcome", f.outcome)) if on)
        vis = "" if f.visibility == "public" else f" @{f.visibility}"
        return f"{f.name}: {f.type} = {self.value(f.type, f.default)}{vis}{notes}"

    def hole(self, h: ir.HoleDef) -> None:
        ret = f" -> {h.ret}" if h.ret is not None else ""
        fill = f" fill {h.fill}" if h.fill else ""
        family = f" family {h.family}" if h.family else ""
        self.line(f"hole {h.name}({self.params(h.params)}){ret} {h.status}{fill}{family} "
                  f"{json.dumps(h.prose, ensure_ascii=True)}")
        self.depth += 1
        for e in h.ensures:
            self.line(f"ensures {self.expr(e)}")
        self.depth -= 1


def print_module(module: ir.Module) -> str:
    """The whole module as text, one declaration after another, ending with a newline."""
    p = _Printer(module)
    p.module()
    return "\n".join(p.lines) + "\n"


def print_expr(e: ir.Expr, module: ir.Module | None = None) -> str:
    """One expression as text (enum members by name when `module` is given)."""
    return _Printer(module).expr(e)


class _SourcePrinter(_Printer):
    """`_Printer` with state fields by their bare names, as a spec writes them."""

    def x_state(self, e: ir.StateGet) -> str:
        return e.name

    def place(self, p: ir.Place) -> str:
        return super().place(p).removeprefix("state.")


def print_source_expr(e: ir.Expr, module: ir.Module | None = None) -> str:
    """One expression as a spec would write it (state fields without `state.`), for messages
    about a spec's clauses (the judge's feedback names the part of an `ensures` that fails)."""
    return _SourcePrinter(module).expr(e)


def print_source_place(p: ir.Place, module: ir.Module | None = None) -> str:
    """A place as a spec would write it (`hp[1][0]`, `p`), as `print_source_expr`."""
    return _SourcePrinter(module).place(p)


def print_stmts(stmts: list[ir.Stmt], module: ir.Module | None = None) -> list[str]:
    """Statements as indented lines."""
    p = _Printer(module)
    for s in stmts:
        p.stmt(s)
    return p.lines
