"""The checker's handling of the constructs of issue 14, as a mixin of `envc.compiler.check.Checker`.

Public surface: `LanguageChecks` (mixed into the checker), `RESERVED_PREFIX`,
`BUILTIN_NAMES`, `count_choose_sites(module_ast, fills_ast)`.

What it checks and what each construct becomes in the IR (most are *desugared* into nodes
every backend already runs, so they need no backend support and mean exactly what their
expansion means on the reference interpreter):

* `let x = choose(who, v in lo..hi where cond) else e` (or `x = choose(...) else e`): an
  `ir.Choose` (the one construct that is not desugared: pausing a step is lowered by the
  passes `choice_points` and `lower_choices`). Allowed in actions, `proc`s and the fills of
  procedure holes; `init` cannot wait for a decision. `else fail("why")` declares that no
  legal option is a fault of the spec.
* `let x = random.pick(v in lo..hi where cond) else e`: an `ir.RandomPick` (one draw, linear).
* `random.bernoulli(num, den)`: `random.int(0, den - 1) < num` (one draw).
* `while c max N { }`: a `for` over N + 1 iterations and a flag; a condition still true
  after N iterations is a fault (`fail`). `break` sets the loop's flag, and the statements
  after it in the loop body are guarded by the flag.
* `pow(x, n)` (n a constant 0..30): `x * x * ...` with the usual range checks.
  `concat(a, b, ...)`: one comprehension over the joined arrays. `one_hot(i, n)`: `int[0..1][n]`.
  `sum(xs)` of a list (its live elements) or an array.
* `win(p, stake)`: `rewards` zero-sum in chips (p gets +stake, every other player
  -stake / (players - 1)), and `terminated`.
* `legal(kind(args))`: the guard of action `kind` with its parameters replaced by `args`.
* `pending_choice()`: the site number of the `choose` waiting for a decision, 0 when none
  (`envc.compiler.passes.choice_points` defines it on the state); a spec with `choose` must
  show it in `observe` (E0171): the chooser's observation says what is being decided.
* `@lasting` fields and `boundary` declarations: `x = v until b(args)` stores `v` and the
  code of `b(args)` in a hidden field `_envc_until_<field>` of the same shape; the statement
  `b(args)` (reaching the boundary) puts every cell whose code matches back to the field's
  default. Any other assignment to a `@lasting` cell clears its code (the value stays).
* `@reveal(flag)` / `@reveal_to(flag)`: `revealed(cell, fallback)` reads a hidden or private
  cell where the public bool field `flag` (same shape; with one leading axis of players for
  `@reveal_to`) shows it, and `fallback` elsewhere.
* Ranges narrowed by conditions (`x < 3`, and each term of `x + y < 3` by the other's range):
  inside `if x < 3 { ... }`, the right side of `x < 3 and ...`,
  the branches of `if ... then ... else ...`, the body of `while x < 3` and the body of an
  action whose `when` guard says `x < 3` (not under `illegal_action pgx`, which runs an illegal
  action's body; in a simultaneous spec, whose bodies run after every commit, only for the
  action's parameters), a read of
  local `x` (or of a scalar state field, never `step_count` from a guard) has the narrowed
  range until the first statement that may assign it (for a state field: or call a
  procedure, or `choose`; not an effect or a list method: `_may_change_fields`); each arm of
  an `if` or `match` starts from the facts before the statement (`start_arm`); after a guard
  clause (an `if` without `else` whose arms all return or `fail`) the rest of the block is narrowed by its
  conditions being false (`block`); a loop's body loses the facts about what it assigns from its
  start (`kill_facts`). A block under a condition that folds to a constant `false` is
  dropped, and range errors in it are not reported.
* A `fn` that reads a `@private` field only at slots given by its parameters may be called in
  `observe` with the observing player for those parameters (`my_card(p)`).
* `list<T>` (no capacity) as a parameter type: the fn or proc is instantiated per capacity.
* Names beginning with `_envc_` are reserved for what envc generates.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, NoReturn, TypeGuard

from envc.compiler import ir, irutil, ranges
from envc.compiler.check_base import (
    EFFECTS,
    LIST_MUTATORS,
    MAX_CELLS,
    MAX_LOOP,
    Ctx,
    _at,
    _ctx_name,
    _elem,
    _place_text,
    _plain_place,
    _Poison,
    _pure_help,
    _random_help,
)
from envc.compiler.diagnostics import Span, did_you_mean
from envc.dsl import ast
from envc.dsl.parser import RESERVED_WORDS

if TYPE_CHECKING:
    from envc.compiler.diagnostics import Diagnostic

RESERVED_PREFIX = "_envc_"
#: built-in names of the constructs above: no spec declaration may take them
BUILTIN_NAMES = ("choose", "legal", "pending_choice", "pow", "concat", "one_hot", "revealed")
MAX_POW = 30

# where a simultaneous spec's decision goes (E0190)
_SIM_DECIDE_HELP = ("make the decision an action of its own (every player commits one per turn), "
                    "or make the spec sequential")



#: how the call graph names an action's guard (`guard_node`): a space, so no identifier clashes
GUARD_NODE = "when "


def guard_node(action: str) -> str:
    """The node of action `action`'s guard in the checker's call graph (E0140)."""
    return GUARD_NODE + action


def _ast_nodes(node: Any):
    """Every syntax-tree node inside `node` (dataclasses, lists, tuples), in pre-order.

    Iterative: a recursive generator costs its depth per node yielded, and expressions and
    blocks may nest 1,000 deep (the fuzz campaign's deep specs took minutes to check)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
            continue
        if not dataclasses.is_dataclass(item) or isinstance(item, Span):
            continue
        yield item
        cls: type = type(item)
        stack.extend(getattr(item, name) for name in reversed(_field_names(cls)))


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _is_call_of(e: Any, name: str) -> TypeGuard[ast.Call]:
    return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.name == name


# what E0101's help suggests for a local named like a state field (`check_hides_field`)
_HIDING_RENAME = {"local": "new_{name}", "parameter": "{name}_arg", "loop variable": "i", "capture": "{upper}"}


def selection_kind(e: Any) -> str | None:
    """`choose` or `pick` when syntax node `e` is `choose(...)` or `random.pick(...)`."""
    if _is_call_of(e, "choose"):
        return "choose"
    if (isinstance(e, ast.Call) and isinstance(e.func, ast.Field) and e.func.name == "pick"
            and isinstance(e.func.base, ast.Name) and e.func.base.name == "random"):
        return "pick"
    return None


def calls_of(node: Any, name: str) -> bool:
    """Whether syntax `node` (a node, or a list of them) holds a call of the function `name`."""
    return any(_is_call_of(n, name) for n in _ast_nodes(node))


def count_choose_sites(*modules: ast.Module | None) -> int:
    """How many `choose(...)` calls the syntax trees hold (an upper bound of the sites)."""
    return sum(1 for m in modules if m is not None for n in _ast_nodes(m.decls) if _is_call_of(n, "choose"))


def _killed(key: tuple, names: set[str], calls: bool) -> bool:
    """Whether the fact of `key` stops holding after statements that assign `names` (and call
    something that may change the state, `calls`): a local's or a field's when it is assigned,
    a field's at a call too; a path's (`_path_key`) when any name it reads is, or at a call
    when it reads state. An alias (`note_alias`) ends as a path does: its key names the local and
    what its value reads."""
    if key[0] in ("path", "alias"):
        return bool(key[2] & names) or (key[3] and calls)
    return key[1] in names or (key[0] == "state" and calls)


def _kill(ctx, names: set[str], calls: bool) -> None:
    """Drop from every frame of `ctx.narrow` the facts that `_killed` ends."""
    for frame in ctx.narrow:
        for key in [k for k in frame if _killed(k, names, calls)]:
            del frame[key]


_PATH_OPS = ("add", "sub", "mul", "div", "mod")


def _path_text(e: ir.Expr, scope_of, names: set[str], fields: set[str], top: bool = False,
               consts: list | None = None, alias_of=None) -> str | None:
    """`_path_key`'s text of `e` (None when `e` is not pure); `names` gets the locals read,
    `fields` the state fields, `consts` the array constants (named by id). `top`: `e` itself
    must be a read (an index, a field, a table column), not a bare name or constant (those
    have keys of their own, or none). `alias_of(name)`: the text, locals and fields of the
    value a local still holds a copy of (`note_alias`), or None."""
    kept: list = consts if consts is not None else []

    def sub(x: ir.Expr) -> str | None:
        return _path_text(x, scope_of, names, fields, consts=kept, alias_of=alias_of)

    if isinstance(e, ir.GetIndex):
        base, index = sub(e.base), sub(e.index)
        return None if base is None or index is None else f"{base}[{index}]"
    if isinstance(e, ir.GetField):
        base = sub(e.base)
        return None if base is None else f"{base}.{e.name}"
    if isinstance(e, ir.TableGet):
        row = sub(e.row)
        return None if row is None else f"{e.table}[{row}].{e.column}"
    # `len(xs)`, a read of the list, and `int(k)` inside a path, which names one value as `k`
    # does (fresh specs: `when len(deck) > 0` left `random.int(0, len(deck) - 1)` E0122; `when
    # stash[p][int(k)] > 0` narrowed nothing in its body). A list's facts end where it changes,
    # as a list method is an assignment of its root name (`_note_assigned`).
    if isinstance(e, ir.Builtin) and len(e.args) == 1 and (e.name == "len" or e.name == "int" and not top):
        inner = sub(e.args[0])
        return None if inner is None else f"{e.name}({inner})"
    if top:
        return None
    if isinstance(e, ir.Binary) and e.op in _PATH_OPS:
        left, right = sub(e.left), sub(e.right)
        return None if left is None or right is None else f"({left} {e.op} {right})"
    return _leaf_text(e, scope_of, names, fields, kept, alias_of)


def _leaf_text(e: ir.Expr, scope_of, names: set[str], fields: set[str], kept: list, alias_of=None) -> str | None:
    """`_path_text` of a local (written as the value it copies, while it is an alias), a state
    field or a constant (None for anything else)."""
    if isinstance(e, ir.Local):
        alias = alias_of(e.name) if alias_of is not None else None
        if alias is None:
            names.add(e.name)
            return f"{e.name}@{scope_of(e.name)}"
        # the path is the value's: a fact about it holds while what the value reads is unchanged,
        # whatever becomes of the local (after which its reads are written with its own name)
        names.update(alias[1])
        fields.update(alias[2])
        return alias[0]
    if isinstance(e, ir.StateGet):
        fields.add(e.name)
        return f"state.{e.name}"
    if not isinstance(e, ir.Const):
        return None
    if not isinstance(e.value, list):
        return f"const({e.value!r})"
    kept.append(e.value)  # a named constant's array is one object wherever it is read
    return f"const#{id(e.value)}"


def _assigned_names(stmts: list[ast.Stmt], memo: dict[int, tuple[list, set[str], bool]]) -> tuple[set[str], bool]:
    """The root names a block assigns, declares or mutates (lists, `choose` targets), and
    whether it calls anything that may change the state (a statement call, or a `choose`: the
    effect pauses there, and the rest of the body runs in a later step, after the epilogue).

    `memo` keeps the answer of every block met (by identity), so that the blocks of an `if`
    nested n deep are each walked once, not n times."""
    hit = memo.get(id(stmts))
    if hit is not None and hit[0] is stmts:
        return hit[1], hit[2]
    names: set[str] = set()
    calls = False
    stack: list[Any] = list(reversed(stmts))
    while stack:
        n = stack.pop()
        if isinstance(n, (list, tuple)):
            if n and all(isinstance(x, ast.Stmt) for x in n):  # a nested block: memoized
                inner, inner_calls = _assigned_names(n, memo)  # type: ignore[arg-type]
                names |= inner
                calls = calls or inner_calls
            else:
                stack.extend(reversed(n))
            continue
        if not dataclasses.is_dataclass(n) or isinstance(n, Span):
            continue
        cls: type = type(n)
        stack.extend(getattr(n, name) for name in reversed(_field_names(cls)))
        calls = _note_assigned(n, names) or calls
    memo[id(stmts)] = (stmts, names, calls)
    return names, calls


def _note_assigned(n: Any, names: set[str]) -> bool:
    """Adds to `names` the root name syntax node `n` assigns, declares or mutates (by itself,
    not its children); whether `n` may change the state by a call (`_assigned_names`)."""
    if isinstance(n, ast.Assign):
        names.add(_root_name(n.target))
        return False
    if isinstance(n, (ast.Let, ast.For)):
        names.add(n.name if isinstance(n, ast.Let) else n.var)
        return False
    if isinstance(n, ast.ExprStmt) and isinstance(n.expr, ast.Call):
        f = n.expr.func
        if isinstance(f, ast.Field):
            names.add(_root_name(f.base))
        return _may_change_fields(f)
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Field) and n.func.name in ("draw", "pop"):
        names.add(_root_name(n.func.base))
        return False
    return _is_call_of(n, "choose")


def _may_change_fields(f: Any) -> bool:
    """Whether a statement call of `f` may change state fields other than the one it names.

    Decision: the effects (`win`, `draw`, `terminate`, `reward`, `fail`) change only
    `rewards` and `terminated` (float and bool: no range fact is about them), and a list
    method (`hand[p].push(c)`) changes only its list, whose root name `_assigned_names` adds;
    so neither ends the facts about the other fields (before, `if die == 1 { terminate() }
    else { t = t + die }` under `when t < 30` lost `t < 30` in the `else`). A proc, a hole,
    a boundary or `act(p)` may change any field."""
    if isinstance(f, ast.Name):
        return f.name not in EFFECTS
    if isinstance(f, ast.Field):
        return f.name not in LIST_MUTATORS
    return True


def _root_name(e: Any) -> str:
    while isinstance(e, (ast.Field, ast.Index)):
        e = e.base
    return e.name if isinstance(e, ast.Name) else ""


class LanguageChecks:
    """Mixin of `Checker`: see the module docstring. Uses the checker's `expr`, `fail`, ..."""

    if TYPE_CHECKING:
        # What the mixin uses of `Checker`, for the type checker only (no runtime effect);
        # mypy checks that `Checker`'s definitions agree with these declarations (reported in
        # check.py).
        mod: ast.Module
        fills: ast.Module | None
        diags: list[Diagnostic]
        state: dict[str, ir.FieldDef]
        fn_decls: dict[str, ast.FnDecl | ast.ProcDecl | ast.HoleDecl]
        fn_sigs: dict[str, tuple[list[ir.ParamDef], ir.Type | None, bool]]
        num_players: int
        broken: set[str]
        current_fn: str | None

        def fail(self, code: str, message: str, span: Span | None, label: str = "", help: str | None = None,
                 notes: list[str] | None = None) -> NoReturn: ...
        def err(self, code: str, message: str, span: Span | None, label: str = "", help: str | None = None,
                notes: list[str] | None = None) -> None: ...
        def expr(self, e: ast.Expr, ctx: Ctx, peek: bool = False) -> ir.Expr: ...
        def no_draws(self, e: ir.Expr, where: str, repeat: int | None = None) -> None: ...
        def note_call(self, name: str, span: Span) -> None: ...
        def require_fits(self, e: ir.Expr, dst: ir.Type, span: Span, what: str, quiet: bool = False,
                         declared: bool = True) -> bool: ...
        def call_args(self, e: ast.Call, params: list[ir.ParamDef], name: str, ctx: Ctx) -> list[ir.Expr]: ...
        def require_type(self, e: ir.Expr, t: ir.Type, span: Span, what: str) -> None: ...
        def const_int(self, e: ast.Expr, what: str) -> int: ...
        def fold(self, e: ir.Expr, what: str | None = None, help: str = ...) -> Any: ...
        def resolve_type(self, t: ast.TypeExpr, record_stack: tuple[str, ...] = (),
                         self_table: str | None = None) -> ir.Type | None: ...
        def name_span(self, span: Span, name: str) -> Span: ...
        def int32(self, t: ir.IntT, span: Span) -> ir.IntT: ...
        def block(self, stmts: list[ast.Stmt], ctx: Ctx) -> list[ir.Stmt]: ...
        def _params(self, params: list[ast.Param], allow_any: bool = True) -> list[ir.ParamDef] | None: ...
        def zero_value(self, t: ir.Type) -> Any: ...
        def unify_types(self, a: ir.Type, b: ir.Type, span: Span,
                        label: str = ..., text: str = ...) -> ir.Type: ...
        def unify(self, a: ir.Expr, b: ir.Expr, span: Span, label: str = ...) -> ir.Type: ...
        def source_text(self, span: Span) -> str: ...
        def require_cells(self, t: ir.Type, span: Span) -> None: ...
        def place_and_read(self, e: ast.Expr, ctx: Ctx, mutating: str = "assignment") -> tuple[ir.Place, ir.Expr]: ...
        def loop_bounds(self, lo_e: ast.Expr, hi_e: ast.Expr, inclusive: bool, span: Span, ctx: Ctx | None = None,
                        var: str = "i", where: str | None = None) -> tuple[int, int]: ...
        def declare_global(self, name: str, span: Span, what: str) -> bool: ...
        def binary(self, op: ir.BinaryOp, a: ir.Expr, b: ir.Expr, span: Span, op_span: Span) -> ir.Expr: ...
        def _fn_body(self, name: str, body: list[ast.Stmt], span: Span, pure: bool) -> ir.FnDef | None: ...
        def _const_tables(self) -> dict[str, ir.TableDef]: ...

    def _ext_init(self) -> None:
        self.choose_sites = 0
        self.choose_conds: list[tuple[ir.Expr, Span]] = []  # each `choose`'s condition and selector
        self.choose_upper = count_choose_sites(self.mod, self.fills)
        self.observe_shows_choice = False
        self.fn_shows_choice: set[str] = set()
        self.boundaries: dict[str, tuple[list[ir.ParamDef], int, int]] = {}  # name -> (params, base, size)
        self.boundary_codes = 0
        self.lasting: dict[str, str] = {}  # lasting field -> its expiry field
        self.generic: set[str] = set()
        self.instances: list[ir.FnDef] = []
        self._instantiating: set[str] = set()
        self.action_decls: dict[str, ast.ActionDecl] = {}
        self._action_params: dict[str, list[ir.ParamDef] | None] = {}
        self._guards: dict[str, ir.Expr | None] = {}
        self._hidden_guards: set[str] = set()  # actions whose guard reads what some player does not see
        self._guard_stack: list[str] = []
        self.fn_slot_params: dict[str, set[int]] = {}
        self._generic_ok = False
        self._fresh = 0
        self._assigned_memo: dict[int, tuple[list, set[str], bool]] = {}
        self._path_consts: dict[int, list] = {}  # `_path_key`: the arrays its keys name by id, kept alive

    def fresh_name(self, what: str) -> str:
        self._fresh += 1
        return f"{RESERVED_PREFIX}{what}{self._fresh}"

    def check_reserved(self, name: str, span: Span) -> bool:
        """Report (E0101) a declared name that envc keeps: the generated prefix or a word of the
        grammar (`envc.dsl.parser.RESERVED_WORDS`). True when the name is free."""
        if name.startswith(RESERVED_PREFIX):
            self.err("E0101", f"`{name}` begins with `{RESERVED_PREFIX}`, which is reserved", span,
                     "reserved name", help=f"names beginning with `{RESERVED_PREFIX}` are what envc generates: rename it")
            return False
        if name in RESERVED_WORDS:
            self.err("E0101", f"`{name}` is a keyword of the language and cannot be a name", span, "keyword",
                     help=f"rename it, e.g. `{name}_`")
            return False
        return True

    def check_hides_field(self, name: str, span: Span, writes_state: bool, what: str = "local") -> bool:
        """Report (E0101) a local (`let`, `for` variable, parameter) named like a state field where
        the code can write the state (an action, a proc, `init`, a fill's body).

        Decision: there, `let n = ...` followed by `n = n + 1` would silently write the local and
        leave the field as it was, the trap a newcomer from Python falls into; so it is refused,
        with the name to pick instead. In a pure `fn`, `observe` or a guard nothing can be
        written, and naming a value after the field it stands for is good style (acrobot's
        `dsdt` unpacks `theta1` from its argument): it stays allowed. True when the name is free;
        a refused `let` is not declared, and the later statements of its block that mention the
        name are not checked (`StatementChecks.block`: they meant the local)."""
        if not writes_state or name not in self.state:
            return True
        self.err("E0101", f"`{name}` is a state field: a {what} of that name would hide it", span,
                 "hides the state field",
                 notes=[f"after this, `{name}` would read and write the {what}, and `{name} = ...` would leave the "
                        "state field unchanged"],
                 help=(f"to set the field, drop `let`: `{name} = ...`; to keep a local, rename it, e.g. "
                       f"`{_HIDING_RENAME[what].format(name=name)}`") if what == "local" else
                 f"rename the {what}, e.g. `{_HIDING_RENAME[what].format(name=name, upper=name.upper())}`")
        return False

    # ------------------------------------------------------------ declarations
    def field_annotations(self, f: ast.FieldDecl, t: ir.Type) -> dict:
        """The meaning of a state field's annotations: visibility, matchup, outcome, reveal flags, lasting."""
        out: dict[str, Any] = {"visibility": "public", "matchup": False, "outcome": False, "reveal": None,
                               "reveal_to": None, "lasting": False}
        seen_vis: list[tuple[str, Span]] = []
        for ann in f.annotations:
            name, span, arg = (ann + (None,))[:3]
            if name in ("reveal", "reveal_to", "lasting", "hidden", "private", "matchup", "outcome") and (
                    (arg is None) != (name not in ("reveal", "reveal_to"))):
                self.err("E0172", f"`@{name}` {'takes a field name' if arg is None else 'takes no argument'}", span,
                         help="write `@reveal(flag)`: `flag` is a state field of bools" if arg is None else
                         f"write `@{name}`")
                continue
            if name in ("hidden", "private"):
                seen_vis.append((name, span))
                out["visibility"] = name
            elif name in ("matchup", "outcome", "lasting"):
                out[name] = self._typed_annotation(f, t, name, span)
            elif name in ("reveal", "reveal_to"):
                out[name] = (arg, span)
            else:
                self.err("E0180", f"unknown annotation `@{name}`", span, "not an annotation",
                         help=did_you_mean(name, ["hidden", "private", "matchup", "outcome", "lasting", "reveal",
                                                  "reveal_to"])
                         or "use `@hidden`, `@private`, `@matchup`, `@outcome`, `@lasting`, `@reveal(flag)` or "
                         "`@reveal_to(flag)`")
        if len({n for n, _ in seen_vis}) > 1:
            self.err("E0172", f"`{f.name}` is both `@private` and `@hidden`", seen_vis[-1][1], "second visibility",
                     help="keep one: `@private` (player p sees slot p) or `@hidden` (nobody sees it)")
        if out["reveal"] and out["reveal_to"]:  # (`revealed` read the first alone: the second did nothing; a hunt)
            self.err("E0172", f"`{f.name}` takes `@reveal(flag)` or `@reveal_to(flag)`, not both", out["reveal_to"][1],
                     "second reveal", help="keep one: `@reveal` shows a cell to every player, `@reveal_to` to "
                     "the players its flag names")
        if (out["reveal"] or out["reveal_to"]) and out["visibility"] == "public":
            span = (out["reveal"] or out["reveal_to"])[1]
            self.err("E0172", f"`{f.name}` is public: it needs no `@reveal`", span,
                     help="mark the field `@hidden` or `@private`, or drop the `@reveal`")
        return out

    def _typed_annotation(self, f: ast.FieldDecl, t: ir.Type, name: str, span: Span) -> bool:
        """`@matchup`, `@outcome` or `@lasting` on field `f` of type `t`: whether it holds,
        after an error when `t` cannot carry it (a refused `@matchup` still holds)."""
        if name == "matchup":  # `envc run` reports episodes per value of this field
            if not isinstance(_elem(t), (ir.BoolT, ir.IntT, ir.EnumT, ir.RowT)):
                self.err("E0110", "a `@matchup` field must hold bools, integers, enums or table rows",
                         span, f"`{f.name}` is `{t}`", help="mark a field that names the match-up, "
                         "e.g. `decks: Deck[2] @matchup`")
            return True
        if name == "outcome":  # `envc run` reports how episodes ended: this field's final value
            if not isinstance(t, (ir.BoolT, ir.IntT, ir.EnumT)):
                self.err("E0110", "an `@outcome` field must be one bool, integer or enum", span,
                         f"`{f.name}` is `{t}`", help="mark a field that the rules set when the game "
                         "ends, e.g. `ended_by: End = End.playing @outcome`")
                return False
            return True
        if not isinstance(_elem(t), (ir.BoolT, ir.IntT, ir.EnumT, ir.RowT)):  # `@lasting`
            self.err("E0191", "a `@lasting` field must hold bools, integers, enums or table rows, "
                     "or arrays of them", span, f"`{f.name}` is `{t}`",
                     help="keep lists and records out of lasting effects: a lasting flag or amount "
                     "per player or slot")
            self.broken.add(f.name)  # reported: its `until`s are not reported again
            return False
        return True

    def single_outcome(self, fields: list[ast.FieldDecl]) -> None:
        """At most one state field is `@outcome`: an episode ends one way (`envc run` counts them)."""
        for extra in fields[1:]:
            self.err("E0110", f"a second `@outcome` field: `{extra.name}`", extra.span,
                     help=f"keep `@outcome` on `{fields[0].name}` only: its final value says how an episode ended")

    def check_reveal_flags(self, field_anns: dict[str, dict]) -> None:
        """Each `@reveal(flag)`/`@reveal_to(flag)` names a public bool field of the right shape."""
        for name, anns in field_anns.items():
            fd = self.state.get(name)
            if fd is None:
                continue
            update = {}
            for kind in ("reveal", "reveal_to"):
                if not anns[kind]:
                    continue
                flag, span = anns[kind]
                shape = self.cell_dims(fd.type)
                if kind == "reveal_to":
                    shape = (self.num_players,) + shape
                want = "bool" + "".join(f"[{d}]" for d in shape)
                fl = self.state.get(flag)
                if fl is None:
                    self.err("E0172", f"`@{kind}({flag})` names no state field", span, "unknown field",
                             help=did_you_mean(flag, list(self.state)) or f"declare `{flag}: {want} = false`")
                    self.broken.add(name)  # reported: its `revealed(...)` reads are not reported again
                    continue
                if fl.visibility != "public" or C_dims(fl.type) != shape or not isinstance(_elem(fl.type), ir.BoolT):
                    self.err("E0172", f"the flag of `@{kind}({flag})` must be a public `{want}`", span,
                             f"`{flag}` is `{fl.type}`" + ("" if fl.visibility == "public" else f", @{fl.visibility}"),
                             help="one bool per cell of the field"
                             + (", for each player (the first index)" if kind == "reveal_to" else ""))
                    self.broken.add(name)
                    continue
                update[kind] = flag
            if update:
                self.state[name] = fd.model_copy(update=update)

    def cell_dims(self, t: ir.Type) -> tuple[int, ...]:
        """The dimensions of the cells of a value of type `t`: array sizes, then a list's capacity."""
        dims: list[int] = []
        while isinstance(t, (ir.ArrayT, ir.ListT)):
            dims.append(t.size if isinstance(t, ir.ArrayT) else t.cap)
            t = t.elem
        return tuple(dims)

    def lasting_fields(self, lasting: list[str]) -> None:
        """The hidden expiry field of each `@lasting` field (the code of the boundary its cell
        lasts until; 0: the value stays)."""
        codes = max(self.boundary_codes, 1)
        for name in lasting:
            fd = self.state[name]
            dims = ir.dims(fd.type)
            t: ir.Type = ir.IntT(lo=0, hi=codes)
            for d in reversed(dims):
                t = ir.ArrayT(elem=t, size=d)
            expiry = f"{RESERVED_PREFIX}until_{name}"
            self.state[expiry] = ir.FieldDef(name=expiry, type=t, default=_filled(dims, 0),
                                             visibility=fd.visibility, span=fd.span)
            self.lasting[name] = expiry

    def boundary_decls(self, decls: list[ast.BoundaryDecl]) -> None:
        for d in decls:
            if not self.declare_global(d.name, d.span, "boundary"):
                continue
            params = self._params(d.params)
            if params is None:
                self.broken.add(d.name)
                continue
            size = 1
            bad = False
            for p in params:
                if not isinstance(p.type, (ir.IntT, ir.BoolT, ir.EnumT, ir.RowT)):
                    self.err("E0110", f"boundary parameter `{p.name}` must be a bounded int, bool, enum or row",
                             p.span, f"this is `{p.type}`")
                    bad = True
                    continue
                size *= _domain_size(p.type)
            if size > 1 << 16 and not bad:  # (it was dropped silently: "not a boundary" at each use; a hunt)
                self.err("E0122", f"boundary `{d.name}` has {size:,} argument combinations, more than {1 << 16:,}",
                         d.span, "too many combinations",
                         help="narrow its parameters' ranges: each combination is one expiry code")
                bad = True
            if bad:
                self.broken.add(d.name)
                continue
            self.boundaries[d.name] = (params, self.boundary_codes + 1, size)
            self.boundary_codes += size

    def boundary_code(self, name: str, args: list[ir.Expr]) -> ir.Expr:
        """The code (1..) of boundary `name` reached with `args`, as an integer expression."""
        params, base, size = self.boundaries[name]
        code: ir.Expr = irutil.int_const(base)
        stride = size
        for p, a in zip(params, args):
            n = _domain_size(p.type)
            stride //= n
            offset = _domain_offset(p.type, a)
            if stride != 1:
                offset = irutil.binop("mul", offset, irutil.int_const(stride))
            code = irutil.binop("add", code, offset)
        return code

    def reach(self, e: ast.Call, ctx, span: Span) -> list[ir.Stmt]:
        """`b(args)` as a statement: every lasting cell that lasts until `b(args)` returns to
        its field's default, and its code clears."""
        assert isinstance(e.func, ast.Name)  # the caller found `e.func.name` among the boundaries
        name = e.func.name
        if ctx.pure:
            self.fail("E0130", f"{_ctx_name(ctx)} cannot reach boundary `{name}`, which changes the state",
                      e.func.span, "changes the state", help=_pure_help(ctx))
        params = self.boundaries[name][0]
        args = self.call_args(e, params, name, ctx)
        for a in args:
            self.no_draws(a, f"an argument of boundary `{name}`")
        code = self.boundary_code(name, args)
        out: list[ir.Stmt] = []
        if not isinstance(code, ir.Const):  # reached once, with the arguments' values here: `tick(a)` with
            # `a` lasting was compared again after `a` was reset, so later fields met another boundary (a hunt)
            reached = self.fresh_name("reached")
            out.append(ir.Let(name=reached, type=code.type, value=code, span=span))
            code = ir.Local(name=reached, type=code.type)
        for field, expiry in self.lasting.items():
            fd, xd = self.state[field], self.state[expiry]
            dims = ir.dims(fd.type)
            names = [self.fresh_name("i") for _ in dims]
            cur = ir.StateGet(name=field, type=fd.type)
            until = ir.StateGet(name=expiry, type=xd.type)
            default = ir.Const(type=fd.type, value=fd.default)
            hit = irutil.binop("eq", _index_all(until, names, xd.type), code)
            new = ir.Cond(cond=hit, then=_index_all(default, names, fd.type), orelse=_index_all(cur, names, fd.type),
                          type=_elem(fd.type))
            cleared = ir.Cond(cond=hit, then=irutil.int_const(0), orelse=_index_all(until, names, xd.type),
                              type=_elem(xd.type))
            out.append(ir.Assign(place=ir.Place(root="state", name=field, type=fd.type, span=span),
                                 value=_build_all(new, names, fd.type), span=span))
            out.append(ir.Assign(place=ir.Place(root="state", name=expiry, type=xd.type, span=span),
                                 value=_build_all(cleared, names, xd.type), span=span))
        return out

    def lasts_until_call(self, e: ast.Call, ctx) -> ir.Expr:
        """`lasts_until(b(args))` in an `ensures` clause: every `@lasting` cell that the call changed
        (its value differs from `old`) and left away from its field's default lasts until `b(args)`
        (its expiry code is that boundary's). A bool `Builtin("old")` expression that, like `old`,
        no backend lowers.

        Why a built-in and not a frame or a value rule: a text's "during your opponent's next
        turn" says how long what it does lasts, which no `ensures` on the cells' values can see
        (`x = v until turn_end(p)` and `x = v` leave the same value, and only the hidden expiry
        field tells them apart; check_lang's `lasting_fields`). Cells set back to their default
        are no effect, so they need no expiry."""
        if ctx.what != "ensures":
            self.fail("E0110", "`lasts_until(...)` is only allowed in an `ensures` clause", e.span,
                      help="it reads how long the effects a hole's call leaves last")
        call = e.args[0].value if len(e.args) == 1 and e.args[0].name is None else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.name in self.boundaries):
            self.fail("E0111", "`lasts_until` takes one boundary call: `lasts_until(turn_end(1 - p))`", e.span,
                      help=(f"boundaries: {', '.join(f'`{b}`' for b in self.boundaries)}" if self.boundaries
                            else "declare one: `boundary turn_end(p: int[0..1])`"))
        name = call.func.name
        code = self.boundary_code(name, self.call_args(call, self.boundaries[name][0], name, ctx))
        out: ir.Expr = irutil.bool_const(True)
        for field, expiry in self.lasting.items():
            out = irutil.binop("and", out, self._lasts_until_field(field, expiry, code))
        return out

    def _lasts_until_field(self, field: str, expiry: str, code: ir.Expr) -> ir.Expr:
        """`all(x[i] == old(x[i]) or x[i] == default[i] or until_x[i] == code for i ...)` over
        every cell of lasting field `field`."""
        fd, xd = self.state[field], self.state[expiry]
        dims = ir.dims(fd.type)
        names = [self.fresh_name("i") for _ in dims]
        cur = _index_all(ir.StateGet(name=field, type=fd.type), names, fd.type)
        was = ir.Builtin(name="old", args=[cur], type=cur.type)
        default = _index_all(ir.Const(type=fd.type, value=fd.default), names, fd.type)
        until = _index_all(ir.StateGet(name=expiry, type=xd.type), names, xd.type)
        body: ir.Expr = irutil.binop("or", irutil.binop("or", irutil.binop("eq", cur, was),
                                                        irutil.binop("eq", cur, default)),
                                     irutil.binop("eq", until, code))
        for n, size in reversed(list(zip(names, dims))):
            body = ir.Reduce(op="all", var=n, lo=0, hi=size, body=body, type=ir.BOOL)
        return body

    def _is_default(self, field: str, value: ir.Expr) -> bool:
        """`value` is a constant equal to every cell of `field`'s default (a uniform default)."""
        if not isinstance(value, ir.Const):
            return False
        cells = _flatten(self.state[field].default)
        return len(set(map(repr, cells))) == 1 and set(map(repr, _flatten(value.value))) == {repr(cells[0])}

    def lasting_after(self, place: ir.Place, until: ast.Expr | None, ctx, span: Span,
                      value: ir.Expr | None = None) -> list[ir.Stmt]:
        """The statements that follow an assignment of `value` to `place`: the expiry of the
        cells it covers becomes the code of `until` (a boundary call), or 0 without `until`
        (unless `value` is the field's default: see below)."""
        expiry = self.lasting.get(place.name) if place.root == "state" else None
        if until is None and expiry is None:
            return []
        if until is None and value is not None and self._is_default(place.name, value):
            # the cell takes its default: a pending expiry would restore that same value, so
            # it may stay (a reset such as `barrier[p] = 0` costs one write, not two)
            return []
        if expiry is None and place.root == "state" and place.name in self.broken:
            raise _Poison()  # its `@lasting` was refused where it is declared
        if expiry is None:
            self.fail("E0191", "`until` needs a `@lasting` field", span,
                      f"`{place.name}` is not `@lasting`" if place.root == "state" else "a local does not last",
                      help=f"declare `{place.name}: ... @lasting` in `state`" if place.root == "state" else None)
        if any(isinstance(step, ir.FieldStep) or getattr(step, "is_list", False) for step in place.path):
            self.fail("E0191", "a `@lasting` field is assigned by index only", span)  # pragma: no cover
        for step in place.path:
            if isinstance(step, ir.IndexStep):  # every step is one (checked above)
                self.no_draws(step.index, "an index of a `@lasting` field")
                self._index_reads_field(step.index, place.name, span)
        xd = self.state[expiry]
        t: ir.Type = xd.type
        for _ in place.path:
            t = ir.elem_of(t)
        code = self._until_code(until, ctx) if until is not None else irutil.int_const(0)  # 0: no expiry
        names = [self.fresh_name("i") for _ in ir.dims(t)]
        target = ir.Place(root="state", name=expiry, path=place.path, type=t, span=span)
        return [ir.Assign(place=target, value=_build_all(code, names, t), span=span)]

    def _index_reads_field(self, index: ir.Expr, field: str, span: Span) -> None:
        """E0191 for `x[x[0]] = v until b()`: the expiry is set after the write, at the index read
        again, which the write may have changed (it marked another cell; a hunt)."""
        if not any(isinstance(n, ir.StateGet) and n.name == field for n in ir.walk(index)):
            return
        self.fail("E0191", f"an index of `{field}` here reads `{field}`, which this assignment changes", span,
                  "the expiry would be set at the index read after the write",
                  help=f"read the index first, `let i = ...`, then `{field}[i] = ...`")

    def _until_code(self, until: ast.Expr, ctx) -> ir.Expr:
        """The expiry code of `until boundary(args)` (`boundary_code`); its arguments may not draw."""
        if isinstance(until, ast.Call) and isinstance(until.func, ast.Name) and until.func.name in self.broken:
            raise _Poison()  # (its declaration was reported)
        if not (isinstance(until, ast.Call) and isinstance(until.func, ast.Name)
                and until.func.name in self.boundaries):
            self.fail("E0191", "`until` names a boundary: `until turn_end(p)`", until.span, "not a boundary",
                      help=f"boundaries: {', '.join(f'`{b}`' for b in self.boundaries)}" if self.boundaries
                      else "declare one: `boundary turn_end(p: int[0..1])`, and reach it with `turn_end(p)`")
        args = self.call_args(until, self.boundaries[until.func.name][0], until.func.name, ctx)
        for a in args:
            self.no_draws(a, "an argument of `until`")
        return self.boundary_code(until.func.name, args)

    # ------------------------------------------------------------ local arrays and lists
    def let_initialised(self, s: ast.Let, ctx) -> list[ir.Stmt] | None:
        """`let xs: list<T, N> = [a, b]` (or `[]`) and `let a: T[N][M] = v` (v in every cell):
        the statements; None for any other `let` (checked as usual)."""
        if s.type is None:
            return None
        literal = isinstance(s.value, ast.ArrayLit)
        if not literal and not isinstance(s.value, (ast.IntLit, ast.FloatLit, ast.BoolLit, ast.Name, ast.Field,
                                                    ast.Unary, ast.Binary, ast.Call, ast.Index, ast.CondExpr)):
            return None
        declared = self.resolve_type(s.type)
        if declared is None:
            raise _Poison()
        if isinstance(declared, ir.ListT) and isinstance(s.value, ast.ArrayLit):
            return self._let_list(s, s.value, declared, ctx)
        if not isinstance(declared, ir.ArrayT) or literal:
            return None
        return self._let_array(s, declared, ctx)

    def _let_list(self, s: ast.Let, lit: ast.ArrayLit, declared: ir.ListT, ctx) -> list[ir.Stmt]:
        """`let xs: list<T, N> = [a, b]`: one constant when every item folds, else the empty
        list and a push per item."""
        items = [self.expr(x, ctx) for x in lit.items]
        if len(items) > declared.cap:
            self.fail("E0110", f"{len(items)} items do not fit `{declared}`", lit.span,
                      f"capacity {declared.cap}")
        for x, a in zip(items, lit.items):
            if not self.require_fits(x, declared.elem, a.span, f"an item of `{s.name}: {declared}`"):
                raise _Poison()
        ctx.scopes[-1][s.name] = declared
        consts = [x for x in items if isinstance(x, ir.Const)]
        if len(consts) == len(items):
            literal_value = ir.Const(type=declared, value=[x.value for x in consts], span=lit.span)
            return [ir.Let(name=s.name, type=declared, value=literal_value, span=s.span)]
        out: list[ir.Stmt] = [ir.Let(name=s.name, type=declared, value=ir.Const(type=declared, value=[]),
                                     span=s.span)]
        place = ir.Place(root="local", name=s.name, type=declared, span=s.span)
        out += [ir.ListOp(op="push", place=place, args=[x], span=s.span) for x in items]
        return out

    def _let_array(self, s: ast.Let, declared: ir.ArrayT, ctx) -> list[ir.Stmt]:
        """`let a: T[N][M] = v`: an array value as it is, or `v` in every cell (a constant
        filled in, else built per cell; `v` may not draw)."""
        value = self.expr(s.value, ctx)
        leaf = _elem(declared)
        if isinstance(value.type, (ir.ArrayT, ir.ListT, ir.RecordT)) or isinstance(leaf, (ir.ListT, ir.RecordT)):
            if not self.require_fits(value, declared, s.value.span, f"`{s.name}: {declared}`"):
                raise _Poison()
            ctx.scopes[-1][s.name] = declared
            return [ir.Let(name=s.name, type=declared, value=value, span=s.span)]
        if isinstance(leaf, ir.FloatT) and isinstance(value, ir.Const) and isinstance(value.type, ir.IntT):
            value = ir.Const(type=ir.FLOAT, value=float(value.value), span=value.span)
        if not self.require_fits(value, leaf, s.value.span, f"every cell of `{s.name}: {declared}`"):
            raise _Poison()
        ctx.scopes[-1][s.name] = declared
        dims = C_dims(declared)
        if isinstance(value, ir.Const):
            filled = ir.Const(type=declared, value=_filled(dims, value.value), span=s.value.span)
            return [ir.Let(name=s.name, type=declared, value=filled, span=s.span)]
        self.no_draws(value, f"the value of every cell of `{s.name}`")
        names = [self.fresh_name("i") for _ in dims]
        return [ir.Let(name=s.name, type=declared, value=_build_all(value, names, declared), span=s.span)]

    # ------------------------------------------------------------ choose and random.pick
    def selection(self, target: ast.Expr | str, declared: ast.TypeExpr | None, value: ast.Expr,
                  orelse: ast.Expr | None, op: str, ctx, span: Span) -> list[ir.Stmt]:
        """`let x = choose(...) else e`, `x = choose(...) else e` and the same with
        `random.pick(...)`: the IR statements (`target` a name for `let`, else a place)."""
        kind, call, orelse = self._selection_form(value, orelse, op, ctx, span)
        what = "choose" if kind == "choose" else "random.pick"
        args = call.args
        sel = args[-1].value
        assert isinstance(sel, ast.Selector)  # (`_selection_form` refused any other argument)
        lo, hi, cond = self._selection_where(sel, what, ctx)
        chooser = self._chooser(args[0].value, ctx) if kind == "choose" else None
        fault, other = self._selection_else(orelse, kind, what, ctx)
        t = self._selection_type(target, declared, ir.IntT(lo=lo, hi=hi - 1), other, sel.span, orelse.span)
        place = self._selection_place(target, t, value.span, ctx, span)
        if kind == "pick":
            assert other is not None  # `random.pick(...) else fail(...)` was refused above
            pick = ir.RandomPick(var=sel.var, lo=lo, hi=hi, cond=cond, orelse=other, type=t, span=value.span)
            if isinstance(target, str):
                ctx.scopes[-1][target] = t
                return [ir.Let(name=target, type=t, value=pick, span=span)]
            return [ir.Assign(place=place, value=pick, span=span)] + self.lasting_after(place, None, ctx, span)
        assert chooser is not None  # set above for `choose`
        self._choose_reads_pause(cond, sel)
        self.choose_sites += 1
        stmt = ir.Choose(place=place, chooser=chooser, var=sel.var, lo=lo, hi=hi, cond=cond, orelse=other,
                         fault=fault, site=self.choose_sites, span=span)
        if isinstance(target, str):
            ctx.scopes[-1][target] = t
            return [ir.Let(name=target, type=t, value=ir.Const(type=t, value=self.zero_value(t)), span=span), stmt]
        return [stmt] + self.lasting_after(place, None, ctx, span)

    def _choose_reads_pause(self, cond: ir.Expr, sel: ast.Selector) -> None:
        """E0190 for a `choose` condition that reads `current_player` or `pending_choice()`: the
        pause itself changes them (the chooser moves, the site is pending), so whether an option
        is legal when the step pauses and in the mask that offers it disagreed: a game with no
        legal action (a fresh-spec hunt). A read inside a called `fn` is found once every body is
        checked (`choose_conds_through_fns`)."""
        self.choose_conds.append((cond, sel.span))
        read = _pause_read(cond)
        if read is not None:
            self.fail("E0190", f"a `choose` condition may not read `{read}`", sel.span,
                      "the pause changes it: the chooser moves and the decision is pending",
                      help=f"read it into a `let` before the `choose` (`let mover = {read}`) and use that")

    def choose_conds_through_fns(self, fns: list[ir.FnDef]) -> None:
        """E0190 for a `choose` condition that calls a `fn` reading `current_player` or
        `pending_choice()` (directly or through further calls): the same disagreement as a
        direct read (`_choose_reads_pause`)."""
        by_name = {f.name: f for f in fns}
        for cond, span in self.choose_conds:
            found = _pause_read_in_calls(cond, by_name)
            if found is None:
                continue
            read, name = found
            self.err("E0190", f"a `choose` condition may not read `{read}` (it calls `{name}`, which reads it)",
                     span, "the pause changes it: the chooser moves and the decision is pending",
                     help=f"read it into a `let` before the `choose` (`let mover = {read}`) and pass that")

    def _selection_form(self, value: ast.Expr, orelse: ast.Expr | None, op: str, ctx,
                        span: Span) -> tuple[str, ast.Call, ast.Expr]:
        """(kind `choose` or `pick`, the call, its `else`) of a selection statement, after
        the errors of its form: no selection, `+=`, no `else`, wrong arguments, a context
        that cannot decide (choose) or draw (pick)."""
        kind = selection_kind(value)
        if kind is None or not isinstance(value, ast.Call):  # a statement with an `else` but no selection
            self.fail("E0190", "`else` follows only `choose(...)` or `random.pick(...)`", (orelse or value).span,
                      "no choice to fall back from", help="remove the `else`, or write `if c then a else b`")
        what = "choose" if kind == "choose" else "random.pick"
        if op != "=":
            self.fail("E0190", f"`{op}` cannot take `{what}(...)`", span, help=f"write `x = {what}(...) else ...`")
        if orelse is None:
            self.fail("E0190", f"`{what}` needs `else`: what happens when no option is legal", value.span,
                      "no `else`", help="add `else 0` (the value then), or `else fail(\"why\")` when it cannot happen")
        args = value.args
        want = 2 if kind == "choose" else 1
        if len(args) != want or not isinstance(args[-1].value, ast.Selector) or any(a.name for a in args):
            self.fail("E0111", f"`{what}` takes {'a player and ' if kind == 'choose' else ''}one selector",
                      value.span, help=f"write `{what}({'p, ' if kind == 'choose' else ''}s in 1..4 where cond)`")
        if kind == "pick" and ctx.pure:
            self.fail("E0131", f"{_ctx_name(ctx)} cannot draw random numbers", value.span, "draws from the RNG",
                      help=_random_help(ctx))
        if kind == "choose" and ctx.pure:
            self.fail("E0130", f"{_ctx_name(ctx)} cannot ask for a decision", value.func.span,
                      "`choose` pauses the step", help=_pure_help(ctx))
        if kind == "choose" and ctx.what not in ("action", "proc"):
            # the help of a simultaneous spec's `resolve` is that of a simultaneous spec: moving
            # the `choose` into an action is refused there too (a fresh-spec hunt)
            self.fail("E0190", f"{_ctx_name(ctx)} cannot wait for a decision", value.func.span,
                      "`choose` outside an action or a `proc`",
                      help=_SIM_DECIDE_HELP if getattr(self, "sim_decl", None) is not None else
                      "decide in an action" + (" (the first one may set the game up)" if ctx.what == "init" else ""))
        if kind == "choose" and getattr(self, "sim_decl", None) is not None:
            # Decision: the players of a simultaneous turn all commit before `resolve` runs the
            # bodies, so a body cannot pause for one of them (the interpreter went on with the
            # lowest option while the array backends paused: a fresh spec diverged)
            self.fail("E0190", "a simultaneous spec cannot wait for a decision inside a turn", value.func.span,
                      "`choose` in a simultaneous spec", help=_SIM_DECIDE_HELP)
        return kind, value, orelse

    def _selection_where(self, sel: ast.Selector, what: str, ctx) -> tuple[int, int, ir.Expr]:
        """The selector `var in lo..hi where cond`: (lo, hi exclusive, cond; true without
        `where`); the condition is a bool that does not draw, with `var` in scope."""
        lo, hi = self.loop_bounds(sel.lo, sel.hi, sel.inclusive, sel.span, ctx, sel.var,
                                  where=self.source_text(sel.cond.span) if sel.cond is not None else "")
        self.check_reserved(sel.var, sel.span)
        ctx.scopes.append({sel.var: ir.IntT(lo=lo, hi=hi - 1)})
        try:
            cond = self.expr(sel.cond, ctx) if sel.cond is not None else irutil.bool_const(True)
        finally:
            ctx.scopes.pop()
        if sel.cond is not None:
            self.require_type(cond, ir.BOOL, sel.cond.span, f"the `where` of `{what}`")
            self.no_draws(cond, f"the `where` of `{what}`")
        return lo, hi, cond

    def _chooser(self, e: ast.Expr, ctx) -> ir.Expr:
        """The chooser of `choose(p, ...)`: a player, without draws."""
        chooser = self.expr(e, ctx)
        player = ir.IntT(lo=0, hi=self.num_players - 1)
        if not self.require_fits(chooser, player, e.span, "the chooser (a player)", declared=False):
            raise _Poison()
        self.no_draws(chooser, "the chooser of `choose`")
        return chooser

    def _selection_else(self, orelse: ast.Expr, kind: str, what: str, ctx) -> tuple[str | None, ir.Expr | None]:
        """(fault message, value) of the `else`: `fail("why")` (choose only) or an integer
        that does not draw."""
        if _is_call_of(orelse, "fail"):
            assert isinstance(orelse, ast.Call)
            if kind != "choose":  # a pick's `else` is a value the spec handles after the draw
                self.fail("E0111", "`random.pick` cannot `fail`: its `else` is a value", orelse.span,
                          "a value goes here", help="give an integer and test it after the draw: "
                          "`let i = random.pick(...) else -1` then `if i == -1 { fail(\"why\") }`")
            if len(orelse.args) != 1 or not isinstance(orelse.args[0].value, ast.StringLit):
                self.fail("E0111", "`else fail(\"why\")` takes one string", orelse.span)
            return orelse.args[0].value.value, None
        other = self.expr(orelse, ctx)
        if not isinstance(other.type, ir.IntT):
            self.fail("E0110", f"the `else` of `{what}` must be an integer", orelse.span, f"this is `{other.type}`")
        self.no_draws(other, f"the `else` of `{what}`")
        return None, other

    def _selection_type(self, target: ast.Expr | str, declared: ast.TypeExpr | None, options: ir.IntT,
                        other: ir.Expr | None, sel_span: Span, else_span: Span) -> ir.Type:
        """The selection's type: the declared one (which options and `else` must fit), else
        the options' range widened by the `else` value's."""
        t: ir.Type = options
        if other is not None:  # an integer, checked above
            t = ir.IntT(lo=min(options.lo, ir.int_of(other.type).lo), hi=max(options.hi, ir.int_of(other.type).hi))
        if declared is None:
            return t
        d = self.resolve_type(declared)
        if d is None:
            raise _Poison()
        probe = ir.Const(type=options, value=options.lo, span=sel_span)
        self.require_fits(probe, d, sel_span, f"`{target}: {d}`")
        if other is not None:
            self.require_fits(other, d, else_span, f"`{target}: {d}`")
        return d

    def _selection_place(self, target: ast.Expr | str, t: ir.Type, value_span: Span, ctx, span: Span) -> ir.Place:
        """Where the selection stores its value: a new local (`let`, a free name) or the
        assigned place (whose type holds `t`)."""
        if isinstance(target, str):
            if target in ctx.scopes[-1]:
                self.fail("E0101", f"`{target}` is already defined in this block", span, help="choose another name")
            self.check_reserved(target, span)
            if not self.check_hides_field(target, self.name_span(span, target), not ctx.pure):
                raise _Poison()
            return ir.Place(root="local", name=target, type=t, span=span)
        place, _ = self.place_and_read(target, ctx)
        probe = ir.Const(type=t, value=ir.int_of(t).lo, span=value_span)
        if not self.require_fits(probe, place.type, value_span, f"`{_place_text(target)}: {place.type}`"):
            raise _Poison()
        return place

    def pending_choice(self, e: ast.Call, ctx) -> ir.Expr:
        if e.args:
            self.fail("E0111", "`pending_choice()` takes no arguments", e.span)
        if ctx.observe_player is not None:
            self.observe_shows_choice = True
        elif ctx.what == "fn" and self.current_fn is not None:
            self.fn_shows_choice.add(self.current_fn)
        return ir.Builtin(name="pending_choice", args=[], type=ir.IntT(lo=0, hi=max(self.choose_upper, 0)),
                          span=e.span)

    def check_observe_shows_choice(self, observe_span: Span | None) -> None:
        if self.choose_sites and not self.observe_shows_choice and observe_span is not None:
            self.err("E0171", "`observe` does not show which decision is pending", self.name_span(observe_span, "observe"),
                     "the chooser could not tell its decisions apart",
                     help="add `pending_choice()` to the observation: the number of the `choose` waiting "
                     "for a decision (0: none)")

    # ------------------------------------------------------------ loops
    def loop_enter(self, ctx) -> list:
        frame = [self.fresh_name("go"), False]
        ctx.loops.append(frame)
        return frame

    def loop_exit(self, ctx, frame: list, loop: ir.For, span: Span) -> list[ir.Stmt]:
        ctx.loops.pop()
        if not frame[1]:
            return [loop]
        flag = frame[0]
        body = [ir.If(cond=irutil.local(flag, ir.BOOL), then=_guard_after(loop.body, flag), span=span)]
        return [ir.Let(name=flag, type=ir.BOOL, value=irutil.bool_const(True), span=span),
                loop.model_copy(update={"body": body})]

    def break_stmt(self, s: ast.Break, ctx) -> ir.Stmt:
        if not ctx.loops:
            self.fail("E0143", "`break` outside a loop", s.span, "not inside `for` or `while`",
                      help="`break` ends the innermost `for` or `while` loop; to end an action early, "
                      "put the rest in an `if`")
        ctx.loops[-1][1] = True
        flag = ctx.loops[-1][0]
        return ir.Assign(place=ir.Place(root="local", name=flag, type=ir.BOOL, span=s.span),
                         value=irutil.bool_const(False), span=s.span)

    def while_stmt(self, s: ast.While, ctx) -> list[ir.Stmt]:
        text = self.source_text(s.cond.span)
        if s.bound is None:
            self.fail("E0140", "the language has no unbounded `while`", s.span.to(s.cond.span),
                      "no bound on the number of iterations",
                      help=f"give it a constant bound: `while {text} max N {{ ... }}` (a condition still "
                      "true after N iterations is a fault), or loop `for k in 0..N` and `break`")
        n = self.const_int(s.bound, "the bound of `while`")
        if not 1 <= n <= MAX_LOOP:
            self.fail("E0140", f"a `while` bound must be in 1..{MAX_LOOP}, not {n}", s.bound.span)
        cond = self.expr(s.cond, ctx)
        self.require_type(cond, ir.BOOL, s.cond.span, "a `while` condition")
        flag = self.fresh_name("go")
        ctx.loops.append([flag, True])
        self.push_facts(ctx, self.facts(cond, True, ctx))  # each iteration starts where `cond` holds
        ctx.loop_trips.append(n)  # for the help of E0120 on `let r = row` then `r = r + 1` in the body
        try:
            body = self.block(s.body, ctx)
        finally:
            ctx.loops.pop()
            ctx.loop_trips.pop()
            self.pop_facts(ctx)
        k = self.fresh_name("k")
        counter = irutil.local(k, ir.IntT(lo=0, hi=n))
        stop = ir.Assign(place=ir.Place(root="local", name=flag, type=ir.BOOL, span=s.span),
                         value=irutil.bool_const(False), span=s.span)
        over = ir.If(cond=irutil.binop("eq", counter, irutil.int_const(n)),
                     then=[ir.Fault(message=f"`while` ran more than {n} times", span=s.span)],
                     orelse=_guard_after(body, flag), span=s.span)
        step = ir.If(cond=cond, then=[over], orelse=[stop], span=s.span)
        loop = ir.For(var=k, lo=0, hi=n + 1, body=[ir.If(cond=irutil.local(flag, ir.BOOL), then=[step], span=s.span)],
                      span=s.span)
        return [ir.Let(name=flag, type=ir.BOOL, value=irutil.bool_const(True), span=s.span), loop]

    # ------------------------------------------------------------ built-ins
    def ext_builtin(self, name: str, e: ast.Call, ctx, peek: bool) -> ir.Expr | None:
        """`pow`, `concat`, `one_hot`, `sum(xs)`, `revealed`, `legal`, `pending_choice`; None
        when `name` is none of them here (a generator `sum` is the checker's own)."""
        if name == "pending_choice":
            return self.pending_choice(e, ctx)
        if name == "legal":
            return self.legal_call(e, ctx)
        if name in ("choose",):
            self.fail("E0190", "`choose(...)` is the whole value of a `let` or an assignment", e.span,
                      "inside an expression", help="write `let x = choose(...) else ...` first, then use `x`")
        if any(a.name is not None for a in e.args) or any(isinstance(a.value, (ast.Generator, ast.Selector))
                                                         for a in e.args):
            if name == "sum":
                return None
            self.fail("E0111", f"`{name}` takes positional arguments", e.span)
        with_peek = {"pow": self.pow_call, "concat": self.concat_call, "one_hot": self.one_hot_call,
                     "sum": self.sum_call}.get(name)
        if with_peek is not None:
            return with_peek(e, ctx, peek)
        if name == "revealed":
            return self.revealed_call(e, ctx)
        return None

    def pow_call(self, e: ast.Call, ctx, peek: bool) -> ir.Expr:
        if len(e.args) != 2:
            self.fail("E0111", "`pow` takes 2 arguments: `pow(x, n)`", e.span)
        x = self.expr(e.args[0].value, ctx, peek)
        # the exponent is checked in the caller's scope (a loop variable is then "not a constant",
        # E0113, rather than an unknown name), then folded
        n_ir = self.expr(e.args[1].value, ctx, peek)
        if not isinstance(n_ir.type, ir.IntT):
            self.fail("E0110", "the exponent of `pow` must be an integer", e.args[1].value.span, f"this is `{n_ir.type}`")
        if not isinstance(x.type, (ir.IntT, ir.FloatT)):
            self.fail("E0110", "`pow` needs a number", e.args[0].value.span, f"this is `{x.type}`")
        self.no_draws(x, "the base of `pow`")
        if ctx.what == "constant" and irutil.local_refs(n_ir):
            return self.pow_table(x, n_ir, e)
        n = int(self.fold(n_ir, "the exponent of `pow`",
                          help="`pow` unrolls to `x * x * ...` at compile time; for a power that varies, index a "
                          "constant table of the powers (`const P2 = [pow(2, i) for i in 0..8]`, then `P2[k]`)"))
        if not 0 <= n <= MAX_POW:
            self.fail("E0122", f"the exponent of `pow` must be in 0..{MAX_POW}, not {n}", e.args[1].value.span)
        return self.power(x, n, e.span)

    def power(self, x: ir.Expr, n: int, span: Span) -> ir.Expr:
        """`x * x * ... * x` (`n` factors, 0 <= n): `pow` unrolled."""
        if n == 0:
            return ir.Const(type=ir.IntT(lo=1, hi=1) if isinstance(x.type, ir.IntT) else ir.FLOAT,
                            value=1 if isinstance(x.type, ir.IntT) else 1.0, span=span)
        out = x
        for k in range(2, n + 1):
            out = self.binary("mul", out, x, span, span)
            if isinstance(x.type, ir.IntT):  # one value multiplied by itself: x^k's own range
                out = out.model_copy(update={"type": _power_range(x.type, k)})
        return out

    def pow_table(self, x: ir.Expr, n: ir.Expr, e: ast.Call) -> ir.Expr:
        """`pow(x, n)` in a constant whose exponent reads a comprehension's variable (`const P2 =
        [pow(2, i) for i in 0..21]`): `[x^0, x^1, ..., x^hi][n]` over the exponent's range.

        Decision: the variable is constant where the constant is folded, but not where `pow` is
        checked (the comprehension is one IR node, evaluated once by `fold`); the table of
        the powers its range allows is what the spec would write by hand (E0113's help) and is
        folded with the constant. Outside a constant the exponent must still fold (E0113): a
        power that varies at run time is a table the spec declares."""
        t = ir.int_of(n.type)
        if not 0 <= t.lo <= t.hi <= MAX_POW:
            self.fail("E0122", f"the exponent of `pow` must be in 0..{MAX_POW}, not {t.lo}..{t.hi}",
                      e.args[1].value.span)
        powers = [self.power(x, k, e.span) for k in range(t.hi + 1)]
        elem = x.type if isinstance(x.type, ir.FloatT) else functools.reduce(
            ranges.unify, [ir.int_of(p.type) for p in powers])
        table = ir.ArrayLit(items=powers, type=ir.ArrayT(elem=elem, size=len(powers)), span=e.span)
        return ir.GetIndex(base=table, index=n, type=elem, span=e.span)

    def concat_call(self, e: ast.Call, ctx, peek: bool) -> ir.Expr:
        if len(e.args) < 2:
            self.fail("E0111", "`concat` joins at least 2 arrays", e.span)
        parts = [self.expr(a.value, ctx, peek) for a in e.args]
        for p, a in zip(parts, e.args):
            if not isinstance(p.type, ir.ArrayT):
                self.fail("E0110", "`concat` joins arrays", a.value.span, f"this is `{p.type}`",
                          help="wrap a single value in brackets: `[x]`")
            self.no_draws(p, "an argument of `concat`")
        arrays = [ir.array_of(p.type) for p in parts]  # each one checked above
        elem = arrays[0].elem
        for at_, a in zip(arrays[1:], e.args[1:]):
            self._concat_floats(elem, at_, a)
            elem = self.unify_types(elem, at_.elem, a.value.span, "the cells of `concat`'s arrays must have one type")
        total = sum(at_.size for at_ in arrays)
        self.require_cells(ir.ArrayT(elem=elem, size=total), e.span)
        j = self.fresh_name("j")
        var = irutil.local(j, ir.IntT(lo=0, hi=total - 1))
        starts = []
        at = 0
        for at_ in arrays:
            starts.append(at)
            at += at_.size
        body: ir.Expr | None = None
        for p, at_, start in reversed(list(zip(parts, arrays, starts))):
            size = at_.size
            idx: ir.Expr = var if start == 0 else irutil.binop("sub", var, irutil.int_const(start))
            idx = ir.Builtin(name="clamp", args=[idx, irutil.int_const(0), irutil.int_const(size - 1)],
                             type=ir.IntT(lo=0, hi=size - 1))
            item = _cell(p, idx, at_.elem)
            if body is None:
                body = item
            else:
                body = ir.Cond(cond=irutil.binop("lt", var, irutil.int_const(start + size)), then=item, orelse=body,
                               type=elem)
        assert body is not None  # `concat` of fewer than 2 arrays was refused above
        return ir.ArrayBuild(var=j, lo=0, hi=total, body=body, type=ir.ArrayT(elem=elem, size=total), span=e.span)

    def one_hot_call(self, e: ast.Call, ctx, peek: bool) -> ir.Expr:
        if len(e.args) != 2:
            self.fail("E0111", "`one_hot` takes 2 arguments: `one_hot(i, n)`", e.span)
        i = self.expr(e.args[0].value, ctx, peek)
        n = self.const_int(e.args[1].value, "the length of `one_hot`")
        if not 1 <= n <= MAX_CELLS:
            self.fail("E0122", f"`one_hot` needs a length of at least 1, not {n}", e.args[1].value.span)
        if not isinstance(i.type, (ir.IntT, ir.EnumT, ir.RowT)):
            self.fail("E0110", "`one_hot` needs an integer", e.args[0].value.span, f"this is `{i.type}`")
        self.no_draws(i, "the index of `one_hot`")
        if not isinstance(i.type, ir.IntT):
            hi = (i.type.size if isinstance(i.type, ir.EnumT) else i.type.rows) - 1
            i = ir.Builtin(name="int", args=[i], type=ir.IntT(lo=0, hi=hi), span=i.span)
        j = self.fresh_name("j")
        var = irutil.local(j, ir.IntT(lo=0, hi=n - 1))
        bit = ir.Cond(cond=irutil.binop("eq", var, i), then=irutil.int_const(1), orelse=irutil.int_const(0),
                      type=ir.IntT(lo=0, hi=1))
        return ir.ArrayBuild(var=j, lo=0, hi=n, body=bit, type=ir.ArrayT(elem=ir.IntT(lo=0, hi=1), size=n), span=e.span)

    def sum_call(self, e: ast.Call, ctx, peek: bool) -> ir.Expr:
        if len(e.args) != 1:
            self.fail("E0111", "`sum` takes a list, an array, or a generator `sum(x for i in lo..hi)`", e.span)
        xs = self.expr(e.args[0].value, ctx, peek)
        t = xs.type
        if not isinstance(t, (ir.ListT, ir.ArrayT)) or not isinstance(t.elem, (ir.IntT, ir.FloatT)):
            self.fail("E0110", "`sum` needs a list or an array of numbers", e.args[0].value.span, f"this is `{t}`")
        self.no_draws(xs, "the argument of `sum`")
        n = t.cap if isinstance(t, ir.ListT) else t.size
        k = self.fresh_name("k")
        var = irutil.local(k, ir.IntT(lo=0, hi=n - 1))
        item: ir.Expr = ir.GetIndex(base=xs, index=var, type=t.elem, span=e.span)
        elem = t.elem
        if isinstance(t, ir.ListT):
            zero = irutil.int_const(0) if isinstance(elem, ir.IntT) else ir.Const(type=ir.FLOAT, value=0.0)
            live = irutil.binop("lt", var, ir.Builtin(name="len", args=[xs], type=ir.IntT(lo=0, hi=t.cap)))
            elem = ir.IntT(lo=min(elem.lo, 0), hi=max(elem.hi, 0)) if isinstance(elem, ir.IntT) else elem
            item = ir.Cond(cond=live, then=item, orelse=zero, type=elem)
        total: ir.Type = ir.FLOAT
        if isinstance(elem, ir.IntT):
            total = self.int32(ir.IntT(lo=min(elem.lo * n, elem.lo), hi=max(elem.hi * n, elem.hi)), e.span)
        return ir.Reduce(op="sum", var=k, lo=0, hi=n, body=item, type=total, span=e.span)

    def _viewer_flag(self, fd: ir.FieldDef, e: ast.Call, ctx) -> tuple[str, list[ir.Expr]]:
        """The flag of `@reveal_to` field `fd` and its leading index, `observe`'s player (E0172
        outside `observe`; E0170 where a `let` or a generator rebinds the player's name, whose
        flag would be another viewer's)."""
        if ctx.observe_player is None:
            self.fail("E0172", f"`revealed` of `@reveal_to` field `{fd.name}` may be read only in `observe`", e.span,
                      "outside `observe`",
                      help="the flag says which player sees the cell: read it in `observe`, where the player is "
                           "known (a `fn` that `observe` calls may take the cell's value as an argument)")
        assert fd.reveal_to is not None  # `revealed` reads only a field with `@reveal` or `@reveal_to`
        if self.scope_of(ctx, ctx.observe_player) != id(ctx.scopes[0]):
            self.fail("E0170", f"`revealed` of `@reveal_to` field `{fd.name}` reads the flag of a rebound "
                      f"`{ctx.observe_player}`", e.span, f"`{ctx.observe_player}` is not the observing player here",
                      help=f"give the local or generator variable another name: `{ctx.observe_player}` must be "
                      "`observe`'s player, whose view the flag gives")
        return fd.reveal_to, [ir.Local(name=ctx.observe_player, type=ir.IntT(lo=0, hi=self.num_players - 1))]

    def _concat_floats(self, elem: ir.Type, arg_t: ir.ArrayT, a: ast.Arg) -> None:
        """E0110 for an integer array beside float32 ones in `concat`, with a help that converts
        its cells (`float(...)` converts one integer, not an array: the help said to use it on
        the array, hunt P)."""
        if not (isinstance(elem, ir.FloatT) and isinstance(arg_t.elem, ir.IntT)):
            return
        text = self.source_text(a.value.span)
        n = arg_t.size
        cells = f"`[float({text}[i]) for i in 0..{n}]`" if _plain_place(text) else \
            f"`let a = {text}` first, then `[float(a[i]) for i in 0..{n}]`"
        self.fail("E0110", f"type mismatch: `{elem}` and `{arg_t.elem}`", a.value.span,
                  "the cells of `concat`'s arrays must have one type", help=f"convert the array's cells, e.g. {cells}")

    def revealed_call(self, e: ast.Call, ctx) -> ir.Expr:
        if len(e.args) != 2:
            self.fail("E0111", "`revealed` takes 2 arguments: `revealed(cell, fallback)`", e.span)
        cell_ast = e.args[0].value
        node, chain, fields = _cell_links(cell_ast)
        fd = self.state.get(node.name) if isinstance(node, ast.Name) and ctx.lookup(node.name) is None else None
        if fd is not None and fd.name in self.broken and not (fd.reveal or fd.reveal_to):
            raise _Poison()  # its `@reveal` flag was refused where it is declared
        if fd is None or not (fd.reveal or fd.reveal_to):
            self.fail("E0172", "`revealed` reads a cell of a field marked `@reveal(flag)` or `@reveal_to(flag)`",
                      cell_ast.span, "not such a field")
        dims = self.cell_dims(fd.type)
        if len(chain) != len(dims):
            self.fail("E0172", f"`revealed` reads one cell: `{fd.name}` takes {len(dims)} indices", cell_ast.span)
        # What reading the cell records is undone: the cell is read only where it was revealed,
        # which every player may see. So a `fn` reading a private field through `revealed` alone
        # does not read it at its parameter (`slot_params`; a hunt: `observe` calling such a fn
        # for another player was refused, the same expression inline accepted).
        saved, saved_slots = ctx.reads_hidden, set(ctx.slot_params)
        cell = self.expr(cell_ast, ctx, peek=True)
        ctx.reads_hidden, ctx.slot_params = saved, saved_slots
        if not fields and not (cell.type == _leaf_cell(fd.type)):
            self.fail("E0172", "`revealed` reads one cell", cell_ast.span)  # pragma: no cover
        indices = [self.expr(link.index, ctx) for link in reversed(chain)]
        for x in indices:
            self.no_draws(x, "an index of `revealed`")
        lead: list[ir.Expr] = []
        if fd.reveal is not None:
            flag_name = fd.reveal
        else:
            flag_name, lead = self._viewer_flag(fd, e, ctx)
        flag_t = self.state[flag_name].type
        flag: ir.Expr = ir.StateGet(name=flag_name, type=flag_t)
        for x in lead + indices:
            flag_t = ir.elem_of(flag_t)
            flag = ir.GetIndex(base=flag, index=x, type=flag_t)
        fallback = self.expr(e.args[1].value, ctx)
        t = self.unify(cell, fallback, e.span)
        return ir.Cond(cond=flag, then=cell, orelse=fallback, type=t, span=e.span)

    def bernoulli(self, e: ast.Call, ctx) -> ir.Expr:
        if len(e.args) != 2:
            self.fail("E0111", "`random.bernoulli` takes 2 arguments: `random.bernoulli(num, den)` "
                      "(true with probability num/den)", e.span)
        num = self.expr(e.args[0].value, ctx)
        den = self.expr(e.args[1].value, ctx)
        for x, a in ((num, e.args[0]), (den, e.args[1])):
            if not isinstance(x.type, ir.IntT):
                self.fail("E0110", "the arguments of `random.bernoulli` are integers", a.value.span, f"this is `{x.type}`")
            self.no_draws(x, "an argument of `random.bernoulli`")
        den_t = ir.int_of(den.type)  # checked above
        if den_t.lo < 1:
            self.fail("E0122", "the denominator of `random.bernoulli` may be below 1", e.args[1].value.span,
                      f"has range {den_t.lo}..{den_t.hi}", help="keep it at least 1, e.g. `max(den, 1)`")
        hi = irutil.binop("sub", den, irutil.int_const(1))
        draw = ir.RandomInt(lo=irutil.int_const(0), hi=hi, type=ir.IntT(lo=0, hi=den_t.hi - 1), span=e.span)
        return ir.Binary(op="lt", left=draw, right=num, type=ir.BOOL, span=e.span)

    def win_stake(self, e: ast.Call, ctx) -> list[ir.Stmt]:
        player = ir.IntT(lo=0, hi=self.num_players - 1)
        args = self.call_args(e, [ir.ParamDef(name="player", type=player), ir.ParamDef(name="stake", type=ir.FLOAT)],
                              "win", ctx)
        p, stake = args
        if isinstance(stake, ir.Const):
            stake = ir.Const(type=ir.FLOAT, value=float(stake.value), span=stake.span)
        for a in (p, stake):
            self.no_draws(a, "an argument of `win`")
        n = self.num_players
        q = self.fresh_name("q")
        var = irutil.local(q, player)
        loss: ir.Expr = ir.Unary(op="neg", operand=stake, type=ir.FLOAT)
        if n > 2:
            loss = ir.Unary(op="neg", operand=ir.Binary(op="div", left=stake, right=ir.Const(type=ir.FLOAT, value=float(n - 1)),
                                                       type=ir.FLOAT), type=ir.FLOAT)
        value = ir.ArrayBuild(var=q, lo=0, hi=n, body=ir.Cond(cond=irutil.binop("eq", var, p), then=stake, orelse=loss,
                                                              type=ir.FLOAT), type=ir.ArrayT(elem=ir.FLOAT, size=n))
        rewards = ir.Place(root="state", name="rewards", type=ir.ArrayT(elem=ir.FLOAT, size=n), span=e.span)
        done = ir.Place(root="state", name="terminated", type=ir.BOOL, span=e.span)
        return [ir.Assign(place=rewards, value=value, span=e.span),
                ir.Assign(place=done, value=irutil.bool_const(True), span=e.span)]

    # ------------------------------------------------------------ legality of other actions
    def action_params(self, name: str) -> list[ir.ParamDef] | None:
        if name not in self._action_params:
            d = self.action_decls[name]
            params = self._params(d.params)
            if params is not None and any(not isinstance(p.type, (ir.IntT, ir.BoolT, ir.EnumT, ir.RowT))
                                          for p in params):
                params = None
            self._action_params[name] = params
        return self._action_params[name]

    def action_guard(self, name: str, span: Span | None = None) -> ir.Expr | None:
        """The checked guard of action `name` (None without one, or after an error); `span`: the
        `legal(...)` that asks for it (where E0140 points), else the action.

        In the call graph (`calls`, E0140's recursion check) the guard is a node of its own,
        `guard_node(name)`: the `fn` whose `legal(...)` checks it calls that node, and the
        guard calls what it calls (a guard checked inside a `fn`'s body would otherwise lend
        it its calls: `fn f() { return legal(a()) }` with `action a() when f()` read as `f`
        calling itself, leaving out the step through `a`'s guard)."""
        node = guard_node(name)
        self.note_call(node, span or self.action_decls[name].span)
        if name in self._guards:
            return self._guards[name]
        d = self.action_decls[name]
        params = self.action_params(name)
        if d.guard is None or params is None:
            self._guards[name] = None
            return None
        if name in self._guard_stack:
            cycle = self._guard_stack[self._guard_stack.index(name):] + [name]
            self.fail("E0140", f"guards refer to each other's legality in a cycle: {' -> '.join(f'`{c}`' for c in cycle)}",
                      self.name_span(d.span, name), help="compute the shared part in a `fn` that both guards call")
        self._guard_stack.append(name)
        saved, self.current_fn = self.current_fn, node
        gctx = Ctx("guard", pure=True)
        if getattr(self, "sim_decl", None) is not None:  # a simultaneous spec: `player` is the one choosing
            from envc.compiler.check_simultaneous import PLAYER

            gctx.scopes[0][PLAYER] = ir.IntT(lo=0, hi=self.num_players - 1)
        gctx.scopes[0].update({p.name: p.type for p in params})
        try:
            guard = self.expr(d.guard, gctx)
            self.require_type(guard, ir.BOOL, d.guard.span, "a `when` guard")
        except _Poison:
            guard = None
        finally:
            self._guard_stack.pop()
            self.current_fn = saved
        self._guards[name] = guard
        if gctx.reads_hidden:
            self._hidden_guards.add(name)
        return guard

    def legal_call(self, e: ast.Call, ctx) -> ir.Expr:
        if len(e.args) != 1 or e.args[0].name is not None or not (
                isinstance(e.args[0].value, (ast.Call, ast.Name))):
            self.fail("E0111", "`legal` takes one action: `legal(attack(0))`", e.span)
        inner = e.args[0].value
        kind_node = inner.func if isinstance(inner, ast.Call) else inner
        if not isinstance(kind_node, ast.Name) or kind_node.name not in self.action_decls:
            name = getattr(kind_node, "name", "?")
            self.fail("E0100", f"unknown action `{name}`", kind_node.span, "not an action",
                      help=did_you_mean(name, list(self.action_decls)) or "`legal(kind(args))` names an action kind")
        name = kind_node.name
        params = self.action_params(name)
        if params is None:
            raise _Poison()
        call = inner if isinstance(inner, ast.Call) else ast.Call(inner.span, inner, [])
        args = self.call_args(call, params, name, ctx)
        for a in args:
            self.no_draws(a, "an argument of `legal`")
        guard = self.action_guard(name, e.span)
        if guard is None:
            if self.action_decls[name].guard is not None:
                raise _Poison()  # reported with the guard
            return irutil.bool_const(True)
        if name in self._hidden_guards:  # `legal` reads what its guard reads
            ctx.reads_hidden = True
            if ctx.observe_player is not None:
                shown = f"{name}(...)" if params else f"{name}()"
                self.fail("E0170", f"`observe` reads `legal({shown})`, whose guard reads hidden state", e.span,
                          "the guard's answer tells what it read",
                          help="observe what the guard reads that the player may see (public fields, its own "
                          "slots), not the legality itself")
        self._legal_player(name, guard, e, ctx)
        return irutil.substitute(guard, {p.name: a for p, a in zip(params, args)},
                                 fresh=lambda v: self.fresh_name(v + "_"))

    def _legal_player(self, name: str, guard: ir.Expr, e: ast.Call, ctx) -> None:
        """E0192 for `legal(a(...))` where the guard of `a` reads `player` (a simultaneous spec's
        chooser) and no `player` is in scope: in `resolve`, `observe`, an invariant or a proc
        (every command failed with an internal KeyError)."""
        from envc.compiler.check_simultaneous import PLAYER

        if PLAYER not in irutil.free_locals(guard) or ctx.lookup(PLAYER) is not None:
            return
        self.fail("E0192", f"the guard of `{name}` reads `player`, and there is no player here", e.span,
                  "`legal` checks the guard for the player who chooses",
                  help="call `legal` in an action's body or guard, where `player` is the one choosing; elsewhere "
                  f"write the guard's test for a given player (a `fn` of `p` that `{name}`'s guard calls too)")

    # ------------------------------------------------------------ generic list parameters
    def instantiate(self, name: str, e: ast.Call, ctx) -> tuple[str, list[ir.ParamDef]]:
        """The instance of generic `fn`/`proc` `name` for the capacities of the lists passed
        in call `e`: `_envc_<name>__<caps>` (its body checked on first use)."""
        params, ret, pure = self.fn_sigs[name]
        positional = [a for a in e.args if a.name is None]
        named = {a.name: a for a in e.args if a.name is not None}
        caps, concrete = [], []
        for i, p in enumerate(params):
            t = p.type
            if isinstance(t, ir.ListT) and t.cap == 0:
                a = named.get(p.name) if named else positional[i] if i < len(positional) else None
                if a is None:
                    self.fail("E0111", f"missing argument `{p.name}` of `{name}`", e.span)
                v = self.expr(a.value, ctx)
                if not isinstance(v.type, ir.ListT):
                    self.fail("E0110", f"parameter `{p.name}` of `{name}` takes a list", a.value.span,
                              f"this is `{v.type}`")
                t = ir.ListT(elem=t.elem, cap=v.type.cap)
                caps.append(str(v.type.cap))
            concrete.append(p.model_copy(update={"type": t}))
        inst = f"{RESERVED_PREFIX}{name}__{'_'.join(caps)}"
        if inst not in self.fn_sigs:
            self.fn_sigs[inst] = (concrete, ret, pure)
            self.fn_decls[inst] = self.fn_decls[name]
        if inst not in self._instantiating and not any(f.name == inst for f in self.instances):
            self._instantiating.add(inst)
            d = self.fn_decls[name]
            assert not isinstance(d, ast.HoleDecl)  # a generic is a `fn` or a `proc` (a hole's parameters are concrete)
            saved, before = self.current_fn, len(self.diags)
            try:
                fn = self._fn_body(inst, d.body, d.span, pure)
            finally:
                self.current_fn = saved
            shown = ", ".join(f"`{p.name}: {p.type}`" for p, q in zip(concrete, params) if p.type != q.type)
            for diag in self.diags[before:]:  # which call's lists made the body fail (a hunt)
                diag.notes.append(f"in `{name}` with {shown}, as called at {_at(e.span)}")
            if fn is not None:
                self.instances.append(fn.model_copy(update={"name": inst}))
        return inst, concrete

    # ------------------------------------------------------------ narrowing
    def narrowed(self, ctx, key: tuple, t: ir.Type, scope_id: int | None = None) -> ir.Type:
        if not isinstance(t, ir.IntT):
            return t
        for facts in reversed(ctx.narrow):
            got = facts.get(key)
            if got is None:
                continue
            lo, hi, sid = got
            if sid != scope_id:
                continue
            lo, hi = max(t.lo, lo), min(t.hi, hi)
            if lo <= hi:
                t = ir.IntT(lo=lo, hi=hi)
        return t

    def scope_of(self, ctx, name: str) -> int | None:
        for scope in reversed(ctx.scopes):
            if name in scope:
                return id(scope)
        return None

    def facts(self, e: ir.Expr, truth: bool, ctx) -> dict:
        """What `e` being `truth` says about the ranges of locals and scalar state fields:
        {key: (lo, hi, scope id)}."""
        out: dict = {}
        self._facts(e, truth, ctx, out)
        return out

    def _facts(self, e: ir.Expr, truth: bool, ctx, out: dict) -> None:
        if isinstance(e, ir.Unary) and e.op == "not":
            self._facts(e.operand, not truth, ctx, out)
            return
        if isinstance(e, ir.Binary) and e.op in ("and", "or"):
            if (e.op == "and") == truth:  # both sides hold (and true) / both fail (or false)
                self._facts(e.left, truth, ctx, out)
                self._facts(e.right, truth, ctx, out)
            return
        if not (isinstance(e, ir.Binary) and e.op in ("lt", "le", "gt", "ge", "eq", "ne")):
            return
        op = e.op if truth else {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt", "eq": "ne", "ne": "eq"}[e.op]
        if isinstance(e.left.type, ir.EnumT):
            self._enum_fact(e, op, ctx, out)
            return
        if not (isinstance(e.left.type, ir.IntT) and isinstance(e.right.type, ir.IntT)):
            return
        flipped = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}.get(op, op)
        self._fact(e.left, op, (e.right.type.lo, e.right.type.hi), ctx, out)
        self._fact(e.right, flipped, (e.left.type.lo, e.left.type.hi), ctx, out)

    def _fact(self, subject: ir.Expr, o: str, other: tuple[int, int], ctx, out: dict) -> None:
        """What `subject o other` says, `other` a range: about `subject` when it is a local or a
        scalar state field, and about each term of a sum (`a + b < R`: `a < R - b`, with the
        range of `R - b`; `a - b < R`: `a < R + b`), so that Pig's `when score[p] + total < GOAL`
        narrows `total` (decision: a term's fact uses only the other term's static range, so
        it holds whatever that term's value becomes later)."""
        if isinstance(subject, ir.Binary) and subject.op in ("add", "sub") and isinstance(subject.type, ir.IntT):
            left, right = subject.left.type, subject.right.type
            if not (isinstance(left, ir.IntT) and isinstance(right, ir.IntT)):
                return
            if subject.op == "add":
                self._fact(subject.left, o, (other[0] - right.hi, other[1] - right.lo), ctx, out)
                self._fact(subject.right, o, (other[0] - left.hi, other[1] - left.lo), ctx, out)
            else:
                self._fact(subject.left, o, (other[0] + right.lo, other[1] + right.hi), ctx, out)
            self._put_fact(self._path_key(subject, ctx, sums=True), None, subject.type, o, other, out)
            return
        key, sid = self._subject(subject, ctx)
        self._put_fact(key, sid, subject.type, o, other, out)

    @staticmethod
    def _put_fact(key: tuple | None, sid: int | None, t: ir.Type, o: str, other: tuple[int, int], out: dict) -> None:
        """Record in `out` that the value of `key` (of type `t`) stands in relation `o` to a
        value in range `other`, intersected with what `out` already says of it."""
        if key is None or not isinstance(t, ir.IntT):
            return
        lo, hi = _narrowed(o, other, t.lo, t.hi)
        prev = out.get(key)
        if prev is not None:
            lo, hi = max(lo, prev[0]), min(hi, prev[1])
        out[key] = (lo, hi, sid)

    def _enum_fact(self, e: ir.Binary, op: str, ctx, out: dict) -> None:
        """What `c == Member` (op `eq`) or `c != Member` (`ne`) says about the index of enum
        value `c` (a local or a scalar state field): exactly the member's, or one fewer at an end
        of the enum, the range `int(c)` then has (`if c != Suit.wild { tally[int(c)] }` with
        `wild` last)."""
        pairs = ((e.left, e.right), (e.right, e.left))
        subject, member = next(((a, b) for a, b in pairs if isinstance(b, ir.Const)), (None, None))
        if subject is None or member is None or not isinstance(subject.type, ir.EnumT):
            return
        key, sid = self._subject(subject, ctx)
        if key is None:
            return
        lo, hi, v = 0, subject.type.size - 1, member.value
        if op == "eq":
            lo = hi = v
        elif v == lo:
            lo += 1
        elif v == hi:
            hi -= 1
        prev = out.get(key)
        if prev is not None:
            lo, hi = max(lo, prev[0]), min(hi, prev[1])
        out[key] = (lo, hi, sid)

    def _subject(self, e: ir.Expr, ctx) -> tuple[tuple | None, int | None]:
        """The key of the facts about `e` (and the scope id of a local): a local, a scalar state
        field, or a pure path (`_path_key`)."""
        if isinstance(e, ir.Local):
            return ("local", e.name), self.scope_of(ctx, e.name)
        if isinstance(e, ir.StateGet):
            return ("state", e.name), None
        return self._path_key(e, ctx), None

    def _path_key(self, e: ir.Expr, ctx, sums: bool = False) -> tuple | None:
        """The facts' key of a pure read path (`NB[c][k]`, `s.hp`, `Card[c].cost`, indices
        built of constants, locals, state fields and arithmetic), or None for anything else (a
        call, a draw, a comprehension): `("path", text, names read, reads state)`, where `text`
        is the path written with each local's scope (two reads are the same path exactly when
        their texts are equal: verbatim, the same names in the same scopes).

        Decision (probe of Minesweeper: `any(NB[c][k] != -1 and mine[NB[c][k]] for k in 0..8)`
        was E0121): conditions narrow a repeated pure read as they narrow a local. Such a read
        has one value until something it reads is assigned: `kill_facts` ends its facts at any
        assignment of a name it reads (and, when it reads state, at a call). The backends need
        nothing new: the narrowed read sits where the interpreter evaluates it only under the
        condition (the right side of `and`, an `if` arm), as a narrowed local does (Rust
        short-circuits, JAX indexes the untaken side without faulting and masks its value).

        `sums`: `e` may also be a sum or difference of such terms (`src + d`). Decision (probe of
        Backgammon: after the guard clause `if src + d >= N { return ... }`, `open_for(p, src + d)`
        was E0120, `src + d` having range 1..16): a condition on a sum narrows the sum itself
        where it is written again verbatim, as well as each term by the other's range."""
        if sums and not (isinstance(e, ir.Binary) and e.op in ("add", "sub")):
            return None
        names: set[str] = set()  # the locals and fields read
        fields: set[str] = set()
        consts: list = []
        text = _path_text(e, lambda n: self.scope_of(ctx, n), names, fields, top=not sums, consts=consts,
                          alias_of=lambda n: self.alias_of(ctx, n))
        if text is None:
            return None
        # the arrays named by id in `text` live as long as the checker: an id is never reused
        self._path_consts.update((id(c), c) for c in consts)
        return ("path", text, frozenset(names | fields), bool(fields))

    def note_alias(self, let: ir.Let, ctx) -> None:
        """After `let x = v` with `v` a pure read (`current_player`, `1 - p`, `NB[c][d]`), read
        paths through `x` are written as through `v`, so that facts about one hold for the other,
        until `x` or something `v` reads is assigned (or, when `v` reads state, anything is
        called): `kill_facts` ends the alias as it ends a path's facts.

        Decision (probe8, Nine Men's Morris): `action place(..) when hand[current_player] > 0 {
        let me = current_player  hand[me] -= 1 }` was E0120, the guard's fact about
        `hand[current_player]` not reaching `hand[me]`; binding the mover to a local first is
        how specs are written (kalah, checkers). The alias lives in the innermost frame, which
        `block` pushes for its own scope, so it ends with the local's block.

        Only an untyped `let` is an alias (`block` decides): a declared range says the local is a
        variable that will move (kalah's `let pos: int[0..13] = p * 7 + pit`), and narrowing
        reads through it would narrow the first value of lets read from it (`let seeds =
        board[pos]` to 1..48 under the guard, which `seeds -= 1` then leaves)."""
        if not ctx.narrow:
            return
        names: set[str] = set()
        fields: set[str] = set()
        consts: list = []
        text = _path_text(let.value, lambda n: self.scope_of(ctx, n), names, fields, consts=consts,
                          alias_of=lambda n: self.alias_of(ctx, n))
        if text is None:
            return
        self._path_consts.update((id(c), c) for c in consts)
        target = f"{let.name}@{self.scope_of(ctx, let.name)}"
        key = ("alias", target, frozenset(names | fields | {let.name}), bool(fields))
        ctx.narrow[-1][key] = (text, frozenset(names), frozenset(fields))

    def alias_of(self, ctx, name: str) -> tuple | None:
        """What `note_alias` recorded for local `name` and still holds: (text, locals, fields)."""
        target = f"{name}@{self.scope_of(ctx, name)}"
        for frame in reversed(ctx.narrow):
            got = next((v for k, v in frame.items() if k[0] == "alias" and k[1] == target), None)
            if got is not None:
                return got
        return None

    def narrowed_path(self, e: ir.Expr, ctx, sums: bool = False) -> ir.Expr:
        """`e` (a read path the checker just built, or with `sums` a sum or difference) with
        the range the facts in force give it."""
        if not any(ctx.narrow) or not isinstance(e.type, ir.IntT):
            return e
        key = self._path_key(e, ctx, sums)
        if key is None:
            return e
        t = self.narrowed(ctx, key, e.type)
        if t == e.type:
            return e
        return e.model_copy(update={"type": t, "narrowed": True} if sums else {"type": t})

    def push_facts(self, ctx, facts: dict) -> None:
        """Narrow by `facts` until `pop_facts` (a copy: `kill_facts` removes what a statement
        makes false from every frame)."""
        ctx.narrow.append(dict(facts))

    def kill_facts(self, ctx, stmts: list[ast.Stmt]) -> None:
        """Facts about the names `stmts` assign stop holding (and those about state fields, when
        `stmts` call a procedure), in every frame of `ctx.narrow`: from here on, and after
        the frames' blocks end too.

        Order-aware narrowing (decision): `block` calls this after each statement (a fact
        holds until the first statement that may change its subject, so the right side of
        `x = x + 1` still sees `x < 3`) and before a loop, with the loop's body (a later
        iteration runs after the body's assignments). The arms of an `if` or `match` each start
        from the facts before the statement (`start_arm`)."""
        if not any(ctx.narrow):
            return
        names, calls = _assigned_names(stmts, self._assigned_memo)
        _kill(ctx, names, calls)

    def kill_facts_of(self, ctx, place: ast.Expr) -> None:
        """The facts about what `place`'s root name holds stop holding here, in the middle of an
        expression: `xs.draw()` and `xs.pop()` change `xs` where they stand, so a later read in
        the same statement (`xs.draw() + len(xs)`) sees no fact from before the take
        (`kill_facts` ends them only after the statement)."""
        _kill(ctx, {_root_name(place)}, False)

    def pop_facts(self, ctx) -> None:
        ctx.narrow.pop()

    def save_facts(self, ctx) -> list[dict]:
        """A copy of every frame of `ctx.narrow`, for `start_arm`."""
        return [dict(frame) for frame in ctx.narrow]

    def start_arm(self, ctx, saved: list[dict]) -> None:
        """Put the frames back as `save_facts` found them, before the next arm of an `if` or
        `match` is checked.

        Decision: the arms are exclusive, so what one arm assigns does not change what holds
        when another one starts (before, `if die == 1 { t = 0 } else { t = t + die }` under
        `when t < 30` lost `t < 30` in the `else`). After the statement, `block`'s
        `kill_facts` of the whole statement ends the facts about what any arm may assign."""
        for frame, before in zip(ctx.narrow, saved):
            frame.clear()
            frame.update(before)

    def constant_truth(self, c: ir.Expr) -> bool | None:
        """The value of condition `c` when it folds to a constant (no state, locals or draws)."""
        if irutil.local_refs(c) or ir.first_draw(c) is not None or _reads_state(c):
            return None
        from envc.compiler.interp import ConstEvalError, eval_const

        try:
            v = eval_const(c, self._const_tables())
        except (ConstEvalError, Exception):
            return None
        return bool(v)

    def dead_block(self, stmts: list[ast.Stmt], ctx) -> None:
        """Check a block that cannot run (its condition folds to a constant) without its range errors."""
        mark = len(self.diags)
        self.block(stmts, ctx)
        self.diags[mark:] = [d for d in self.diags[mark:] if d.code not in ("E0120", "E0121", "E0123")]


# ------------------------------------------------------------------ helpers


def _pause_read(x) -> str | None:
    """`current_player` or `pending_choice()` when `x` (a node or a list of them) reads it
    itself (not through a call), else None: what a pause changes (`_choose_reads_pause`)."""
    for n in ir.walk_all(x):
        if isinstance(n, ir.StateGet) and n.name == "current_player":
            return "current_player"
        if isinstance(n, ir.Builtin) and n.name == "pending_choice":
            return "pending_choice()"
    return None


def _pause_read_in_calls(cond: ir.Expr, fns: dict[str, ir.FnDef]) -> tuple[str, str] | None:
    """(what, the `fn` reading it) for the first `fn` reached by calls from `cond`, at any
    depth, that reads what a pause changes (`_pause_read`); None when none does."""
    seen: set[str] = set()
    todo = sorted(ir.called_names(cond))
    while todo:
        name = todo.pop()
        if name in seen or name not in fns:
            continue
        seen.add(name)
        read = _pause_read(fns[name].body)
        if read is not None:
            return read, name
        todo.extend(sorted(ir.called_names(fns[name].body)))
    return None


def C_dims(t: ir.Type) -> tuple[int, ...]:
    """The sizes of the array dimensions of `t`, outermost first (`()` for a non-array)."""
    dims: list[int] = []
    while isinstance(t, ir.ArrayT):
        dims.append(t.size)
        t = t.elem
    return tuple(dims)


def _cell_links(cell: ast.Expr) -> tuple[ast.Expr, list[ast.Index], int]:
    """`revealed`'s cell `x[i]...[k].f...g` as (its root `x`, the index links from the last,
    the number of record fields read after them). A field of a record cell, `revealed(h[0].a,
    -1)`, reads the cell where it is revealed (hunt J: it was "not such a field")."""
    node, chain, fields = cell, [], 0
    while isinstance(node, ast.Field):
        node, fields = node.base, fields + 1
    while isinstance(node, ast.Index):
        chain.append(node)
        node = node.base
    return node, chain, fields


def _leaf_cell(t: ir.Type) -> ir.Type:
    while isinstance(t, (ir.ArrayT, ir.ListT)):
        t = t.elem
    return t


def _power_range(t: ir.IntT, k: int) -> ir.IntT:
    """The range of `x^k` for `x` in `t` (k >= 1): the product of independent factors' ranges
    is wider where the factors are one value (`pow(s, 2)` of `s: int[-3..3]` is 0..9, not
    -9..9; a fresh spec's `sq: int[0..9] = pow(s, 2)` was refused)."""
    lo, hi = t.lo ** k, t.hi ** k
    if k % 2 == 1:
        return ir.IntT(lo=lo, hi=hi)
    if t.lo >= 0 or t.hi <= 0:
        return ir.IntT(lo=min(lo, hi), hi=max(lo, hi))
    return ir.IntT(lo=0, hi=max(lo, hi))


def _flatten(v: Any) -> list:
    if isinstance(v, list):
        return [x for item in v for x in _flatten(item)]
    return [v]


def _filled(dims: tuple[int, ...], v: Any) -> Any:
    if not dims:
        return v
    return [_filled(dims[1:], v) for _ in range(dims[0])]


def _domain_size(t: ir.Type) -> int:
    if isinstance(t, ir.IntT):
        return t.hi - t.lo + 1
    if isinstance(t, ir.BoolT):
        return 2
    if isinstance(t, ir.EnumT):
        return t.size
    if isinstance(t, ir.RowT):
        return t.rows
    raise TypeError(f"`{t}` is not a domain type")  # pragma: no cover (the checker allows only these)


def _domain_offset(t: ir.Type, a: ir.Expr) -> ir.Expr:
    """`a` as its position in the domain of `t` (0..size-1), an integer expression."""
    if isinstance(t, ir.BoolT):
        return ir.Builtin(name="int", args=[a], type=ir.IntT(lo=0, hi=1))
    if isinstance(t, (ir.EnumT, ir.RowT)):
        if isinstance(a.type, ir.IntT):
            return a
        return ir.Builtin(name="int", args=[a], type=ir.IntT(lo=0, hi=_domain_size(t) - 1))
    lo = ir.int_of(t).lo
    if lo == 0:
        return a
    return irutil.binop("sub", a, irutil.int_const(lo))


def _index_all(base: ir.Expr, names: list[str], t: ir.Type) -> ir.Expr:
    for n in names:
        arr = ir.array_of(t)
        size, t = arr.size, arr.elem
        base = ir.GetIndex(base=base, index=irutil.local(n, ir.IntT(lo=0, hi=size - 1)), type=t)
    return base


def _build_all(body: ir.Expr, names: list[str], t: ir.Type) -> ir.Expr:
    """`[[body for n2 in ..] for n1 in ..]` over the dims of array type `t` (`body` for a scalar)."""
    sizes = list(ir.dims(t))
    for n, size in reversed(list(zip(names, sizes))):
        body = ir.ArrayBuild(var=n, lo=0, hi=size, body=body, type=ir.ArrayT(elem=body.type, size=size))
    return body


def _reads_state(e: Any) -> bool:
    if isinstance(e, (ir.StateGet, ir.CallFn, ir.ListTake, ir.RandomInt, ir.RandomPick)):
        return True
    if isinstance(e, ir.Builtin) and e.name == "pending_choice":
        return True
    return any(_reads_state(x) for x in ir.children(e) if not isinstance(x, ir.TYPE_NODES))


def _sets_flag(s: ir.Node, flag: str) -> bool:
    for n in ir.walk_all(s):
        if isinstance(n, ir.Assign) and n.place.root == "local" and n.place.name == flag:
            return True
    return False


def _guard_after(stmts: list[ir.Stmt], flag: str) -> list[ir.Stmt]:
    """`stmts` where everything after a statement that may clear `flag` (a `break`) runs only
    while `flag` holds: the rest of the iteration is skipped once the loop breaks."""
    out: list[ir.Stmt] = []
    for i, s in enumerate(stmts):
        if not _sets_flag(s, flag):
            out.append(s)
            continue
        if isinstance(s, ir.If):
            s = s.model_copy(update={"then": _guard_after(s.then, flag), "orelse": _guard_after(s.orelse, flag)})
        elif isinstance(s, ir.Match):
            s = s.model_copy(update={"arms": [a.model_copy(update={"body": _guard_after(a.body, flag)})
                                              for a in s.arms]})
        out.append(s)
        rest = stmts[i + 1:]
        if rest:
            out.append(ir.If(cond=irutil.local(flag, ir.BOOL), then=_guard_after(rest, flag), span=rest[0].span))
        return out
    return out


def _narrowed(o: str, other: tuple[int, int], lo: int, hi: int) -> tuple[int, int]:
    """The range `lo..hi` of x where `x o y` holds, `y` in the range `other` (`o` a comparison:
    lt, le, gt, ge, eq, ne); `x != c` narrows only at an end of x's range."""
    if o == "lt":
        return lo, other[1] - 1
    if o == "le":
        return lo, other[1]
    if o == "gt":
        return other[0] + 1, hi
    if o == "ge":
        return other[0], hi
    if o == "eq":
        return other
    if other[0] != other[1]:
        return lo, hi
    if other[0] == lo:
        return lo + 1, hi
    if other[0] == hi:
        return lo, hi - 1
    return lo, hi


def _cell(part: ir.Expr, idx: ir.Expr, elem: ir.Type) -> ir.Expr:
    """Cell `idx` (in `0..size - 1`) of array `part`, one of `concat`'s arguments.

    Decision (stop 51): a comprehension's cell is its body with the variable bound to
    `idx + lo` (`[f(c) for c in 0..N][i]` is `f(i)`), not an index into the comprehension:
    `concat` is one comprehension over the joined cells, and indexing a comprehension there
    built the whole argument again for every cell of the result (quadratic in the interpreter
    and in the generated Rust; an observation `concat([... for c in 0..52], one_hot(top, 52))`
    built 104 arrays of 52). The same value: `concat`'s arguments cannot draw (checked above),
    so evaluating the body once per cell gives the cells of the array it builds, with any
    fault the first cell in order meets, as before. Other arguments (a field, a `fn`'s
    result) are indexed."""
    if not isinstance(part, ir.ArrayBuild):
        return ir.GetIndex(base=part, index=idx, type=elem, span=part.span)
    at = idx if part.lo == 0 else irutil.binop("add", idx, irutil.int_const(part.lo))
    return irutil.substitute(part.body, {part.var: at})
