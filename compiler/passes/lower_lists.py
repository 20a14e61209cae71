"""The pass `lower_lists`: the runtime faults of list operations become explicit `check`
statements of the IR (issue #15, "lower lists (with explicit faults)").

Public surface: `NAME`, `run(module, ctx=None) -> ir.Module`, `PREFIX`.

Why. A list read past its length, a take from an empty list, a push onto a full one, an
`insert`/`remove_at` out of range fault at run time. Before this pass each execution of the IR
wrote those tests itself (the interpreter raised, the Rust runtime's `List` methods returned
`Err`, the JAX lowering recorded a condition it built per operation). After it, the test is
IR, written once: `check COND fault "MESSAGE" with a, b` (`ir.Check`, its message the fault
site's template of `number_faults`), and the operation after it is marked `unchecked`, which a
backend lowers without a test (Rust's `_unchecked` methods, JAX's plain gather and update).

First, a list read that the conditions around it in the same expression prove in range
needs no test at all and is marked `unchecked` with no check: `i < len(xs) and xs[i] > 0`,
`if len(xs) > 0 then xs[0] else 0`, `count(i < len(hand) and hand[i].cost > 1 for i in 0..N)`
(guards and comprehensions included; `_prove` says which conditions count). On the TCG this
removes 22 of its 63 fault sites.

Then, what it rewrites, in every statement body (`fn`s, actions, `init`, the epilogue, `observe`):

* a list method with a fault (`push`, `insert`, `remove_at`, a dropped `draw()`/`pop()`): the
  checks of its place, then its arguments in order, then `check` of the method, then the method
  (`clear` and `shuffle` cannot fault: only their place is checked);
* an assignment to a place with a list index (`xs[i] = v`): the value, then a `check` per list
  index of the place, in order, then the store;
* a take or a list read that is a statement's whole operand (`let c = deck.draw()`,
  `return hand[i]`, `if xs[0] == 3`, an argument of a list method): its checks, then the
  operation; a read's base must be a path (a state field or local, fields, indices), as a
  place is.

The interpreter's order is kept: a place's indices are resolved in order, each list index
checked as it is reached; an operand that may fault, draw or take is bound to a fresh local
`_envc_list<N>` where the check would otherwise run before it (an index the check and the
operation both read is bound when it is not a constant or a local, so it is evaluated once).
The message of each check is the interpreter's (the same site, `number_faults.site_of`), so
trajectories, faults and their texts are those of the input. verify's `flat` target runs the
interpreter on the lowered IR: it runs `check`, and runs an unchecked operation without a
test, so a check this pass failed to write shows there (a list past its capacity, Python's
IndexError). A list method whose argument takes from a list that the method's own list is an
element of (`ps[0].cs.push(ps.draw().v)`) is refused by the checker (E0131): the interpreter
finds the method's list first, and the take would leave it acting on a removed element.

Left implicit, with their test still in the operation (a backend keeps its checked form):
a read or take nested inside an expression (`hand[i].cost + 1`, a guard, a comprehension's
body: a check hoisted out of an `if ... then ... else`, an `and` or a comprehension would fault
where the interpreter does not, and an expression cannot bind the index it would read twice),
one whose base is not a path (`f(x)[0]`), the place of a `choose`, and a place rooted at a local
whose type the pass cannot see. `tests/test_lower_lists.py` counts what stays implicit on the
shipped specs.

It runs in `LOWERING` after `lower_choices` (it sees the final bodies; its locals are read by
the statement right after them, never across a pause) and before `number_faults`, which
numbers the checks' sites.
"""

from __future__ import annotations

from typing import Any, cast

from envc.compiler import ir, irutil
from envc.compiler.passes import number_faults

NAME = "lower_lists"
#: the fresh locals' names: `_envc_` is reserved (no spec name clashes), `list` and a number
PREFIX = "_envc_list"

Scope = dict[str, ir.Type]


def run(module: ir.Module, ctx: Any = None) -> ir.Module:
    """`module` with its list faults explicit (the module docstring says which). `ctx` (a
    `PassContext`) is unused: the pass has no options."""
    module = _proved_reads(module)
    low = _Lists(module)
    fns = [f.model_copy(update={"body": low.block(f.body, _params(f.params))}) for f in module.fns]
    actions = [a.model_copy(update={"body": low.block(a.body, _params(a.params))}) for a in module.actions]
    observe = module.observe.model_copy(update={"body": low.block(module.observe.body, {})})
    init, epilogue = low.block(module.init, {}), low.block(module.epilogue, {})
    if not low.changed:
        return module
    return module.model_copy(update={"fns": fns, "actions": actions, "observe": observe, "init": init,
                                     "epilogue": epilogue})


# ------------------------------------------------------------------ reads proved in range
# A list read written under its own bound needs no test: `i < len(xs) and xs[i] > 0`,
# `if len(xs) > 0 then xs[0] else 0`, `count(i < len(hand) and hand[i].cost > 1 for i in 0..N)`.
# Facts come from the conjuncts of an `and`'s left operand (for its right operand) and of an
# `if ... then ... else`'s condition (for its `then` branch), inside one expression only (a
# statement may change the list before the next one reads it); a fact about a comprehension's
# variable ends where another binding of that name begins; a fact or a read whose index or list
# draws is not used (read twice, it would draw twice), and no fact crosses into an operand that
# takes from a list (the list would be shorter there).

_Fact = tuple[str, Any, Any, frozenset[str]]  # ("lt", index key, list key, locals) or ("gt", k, list key, locals)


def _proved_reads(module: ir.Module) -> ir.Module:
    """`module` with every list read its enclosing conditions prove in range marked `unchecked`
    (no check needed, none written)."""
    changed = False

    def body(stmts: list[ir.Stmt]) -> list[ir.Stmt]:
        nonlocal changed
        out = [_prove(s, frozenset()) for s in stmts]
        changed = changed or any(a is not b for a, b in zip(out, stmts))
        return out

    def guard(g: ir.Expr | None) -> ir.Expr | None:
        nonlocal changed
        out = None if g is None else _prove(g, frozenset())
        changed = changed or out is not g
        return out
    update = {"fns": [f.model_copy(update={"body": body(f.body)}) for f in module.fns],
              "actions": [a.model_copy(update={"body": body(a.body), "guard": guard(a.guard)}) for a in module.actions],
              "observe": module.observe.model_copy(update={"body": body(module.observe.body)}),
              "init": body(module.init), "epilogue": body(module.epilogue)}
    return module.model_copy(update=update) if changed else module


def _key(x: Any) -> Any:
    """`irutil.shape_key` that also ignores whether a read is checked (a fact about `xs[j][i]`
    holds whichever of its reads this pass marked)."""
    return irutil.shape_key(x, ("span", "unchecked"))


def _prove(node: Any, facts: frozenset[_Fact]) -> Any:
    """`node` with the list reads that `facts` (and the conditions inside it) prove marked."""
    if not isinstance(node, ir.ExprNode):  # (a statement, a place: facts do not cross statements)
        return ir.map_children(node, lambda child: _prove(child, frozenset()))
    if isinstance(node, ir.Binary) and node.op == "and":
        return _updated(node, left=_prove(node.left, facts), right=_prove(node.right, _with(facts, node.left, node.right)))
    if isinstance(node, ir.Cond):
        return _updated(node, cond=_prove(node.cond, facts), then=_prove(node.then, _with(facts, node.cond, node.then)),
                        orelse=_prove(node.orelse, facts))
    if isinstance(node, (ir.Reduce, ir.ArrayBuild, ir.RandomPick)):
        facts = frozenset(f for f in facts if node.var not in f[3])
    out = ir.map_children(node, lambda child: _prove(child, facts))
    if isinstance(out, ir.GetIndex) and isinstance(out.base.type, ir.ListT) and not out.unchecked \
            and _in_range(out, facts):
        return out.model_copy(update={"unchecked": True})
    return out


def _updated(node: ir.Node, **fields: Any) -> Any:
    """`node` with `fields`, or `node` itself when each is the object it holds already."""
    return node if all(getattr(node, k) is v for k, v in fields.items()) else node.model_copy(update=fields)


def _with(facts: frozenset[_Fact], cond: ir.Expr, scope: ir.Expr) -> frozenset[_Fact]:
    """`facts` and those of the conjuncts of `cond`, for evaluating `scope` where `cond` held
    (none when `scope` takes from a list)."""
    if irutil.takes(scope):
        return facts
    return facts | frozenset(f for c in irutil.conjuncts(cond) if (f := _fact(c)) is not None)


def _length_of(e: ir.Expr) -> ir.Expr | None:
    """`xs` when `e` is `len(xs)`."""
    if isinstance(e, ir.Builtin) and e.name == "len" and len(e.args) == 1:
        return e.args[0]
    return None


def _fact(c: ir.Expr) -> _Fact | None:
    """What condition `c` says of a list's length: `i < len(xs)` (or `len(xs) > i`) as ("lt",
    i, xs), `len(xs) > k` / `len(xs) >= k + 1` / `len(xs) != 0` for a constant k as ("gt", k,
    xs); None for anything else, or where `i` or `xs` draws."""
    if not isinstance(c, ir.Binary):
        return None
    flipped = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge", "ne": "ne"}
    for op, small, big in ((c.op, c.left, c.right), (flipped.get(c.op), c.right, c.left)):
        lst = _length_of(big)
        if lst is None or op is None or irutil.draws(lst) or irutil.draws(small):
            continue
        names = frozenset(irutil.local_refs(small) | irutil.local_refs(lst))
        k = small.value if isinstance(small, ir.Const) and isinstance(small.value, int) else None
        if op == "lt":
            return ("lt", _key(small), _key(lst), names) if k is None else ("gt", k, _key(lst), names)
        if k is not None and op == "le" and k >= 1:
            return ("gt", k - 1, _key(lst), names)
        if k == 0 and op == "ne":
            return ("gt", 0, _key(lst), names)
    return None


def _in_range(e: ir.GetIndex, facts: frozenset[_Fact]) -> bool:
    """Whether `facts` prove `e.index < len(e.base)` (with the checker's `index >= 0`)."""
    if not facts or irutil.draws(e.index) or irutil.draws(e.base):
        return False
    base = _key(e.base)
    if ("lt", _key(e.index), base) in {f[:3] for f in facts}:
        return True
    k = e.index.value if isinstance(e.index, ir.Const) and isinstance(e.index.value, int) else None
    return k is not None and any(f[0] == "gt" and f[2] == base and k <= f[1] for f in facts)


def _params(params: list[ir.ParamDef]) -> Scope:
    return {p.name: p.type for p in params}


def _quiet(e: ir.Expr) -> bool:
    """Whether evaluating `e` can neither fault, draw, take nor call: it may be evaluated
    again, or after a check, and give the same value and no fault."""
    for n in ir.walk(e):
        if isinstance(n, (ir.RandomInt, ir.RandomPick, ir.ListTake, ir.CallFn)):
            return False
        if number_faults.site_of(n) is not None:
            return False
    return True


def _length(lst: ir.Expr) -> ir.Builtin:
    return ir.Builtin(name="len", args=[lst], type=ir.IntT(lo=0, hi=ir.list_of(lst.type).cap), span=lst.span)


class _Lists:
    """Rewrites bodies; `changed` once a check was added (the module is then rebuilt)."""

    def __init__(self, module: ir.Module) -> None:
        self.m = module
        self.state: Scope = {f.name: f.type for f in module.state}
        self.count = 0
        self.changed = False

    def fresh(self, e: ir.Expr) -> tuple[ir.Let, ir.Local]:
        """A `let` of a new local holding `e`, and the local."""
        self.count += 1
        self.changed = True
        return irutil.bind(f"{PREFIX}{self.count}", e)

    def bound(self, e: ir.Expr, pre: list[ir.Stmt]) -> ir.Expr:
        """`e` itself when a constant, a local or a state field (read again, it gives the same
        value: between a check and its operation nothing changes the state), else a fresh
        local bound to it (its `let` appended to `pre`)."""
        if irutil.is_atom(e) or isinstance(e, ir.StateGet):
            return e
        let, local = self.fresh(e)
        pre.append(let)
        return local

    def check(self, cond: ir.Expr, message: str, span: ir.Span, a: ir.Expr | None = None,
              b: ir.Expr | None = None) -> ir.Check:
        self.changed = True
        return ir.Check(cond=cond, message=message, a=a, b=b, span=span)

    # ------------------------------------------------------------ statements
    def block(self, stmts: list[ir.Stmt], scope: Scope) -> list[ir.Stmt]:
        scope = dict(scope)
        out: list[ir.Stmt] = []
        for s in stmts:
            out += self.stmt(s, scope)
            if isinstance(s, ir.Let):
                scope[s.name] = s.type
        return out

    def stmt(self, s: ir.Stmt, scope: Scope) -> list[ir.Stmt]:
        """`s` as statements: its checks (and the `let`s they need), then `s` unchecked."""
        if isinstance(s, (ir.If, ir.For, ir.Match)):
            return self.compound(s, scope)
        if isinstance(s, ir.Assign):
            return self.assign(s, scope)
        if isinstance(s, ir.ListOp):
            return self.list_op(s, scope)
        if isinstance(s, ir.ExprStmt):
            pre, e = self.operand(s.expr, scope)
            return pre + [s.model_copy(update={"expr": e})]
        if isinstance(s, (ir.Let, ir.Return)) and s.value is not None:
            pre, e = self.operand(s.value, scope)
            return pre + [s.model_copy(update={"value": e})]
        if isinstance(s, (ir.CallProc, ir.Effect)):  # (arguments in order, one `_Hoist` for all)
            hoist = _Hoist(self)
            args = [hoist.visit(a) for a in s.args]
            return hoist.pre + [s.model_copy(update={"args": args})]
        return [s]  # (a `choose`, a `fail`: left as they are)

    def compound(self, s: ir.If | ir.For | ir.Match, scope: Scope) -> list[ir.Stmt]:
        """An `if`'s condition or a `match`'s subject (evaluated once, before the branch) and
        the blocks inside."""
        if isinstance(s, ir.For):
            inner = {**scope, s.var: ir.IntT(lo=s.lo, hi=max(s.lo, s.hi - 1))}
            return [s.model_copy(update={"body": self.block(s.body, inner)})]
        if isinstance(s, ir.Match):
            pre, subject = self.operand(s.subject, scope)
            arms = [arm.model_copy(update={"body": self.block(arm.body, scope)}) for arm in s.arms]
            return pre + [s.model_copy(update={"subject": subject, "arms": arms})]
        pre, cond = self.operand(s.cond, scope)
        return pre + [s.model_copy(update={"cond": cond, "then": self.block(s.then, scope),
                                           "orelse": self.block(s.orelse, scope)})]

    def assign(self, s: ir.Assign, scope: Scope) -> list[ir.Stmt]:
        """The value (evaluated first), then the place's checks, then the store. The value is
        bound when it may fault, draw, take or call and the place has checks to run after it."""
        pre, value = self.operand(s.value, scope)
        placed = self.place(s.place, scope, whole=False)
        if placed is None:
            return pre + [s.model_copy(update={"value": value})]
        checks, place, _ = placed
        if checks and not _quiet(value):
            value = self.bound(value, pre)
        return pre + checks + [s.model_copy(update={"value": value, "place": place})]

    def list_op(self, s: ir.ListOp, scope: Scope) -> list[ir.Stmt]:
        """The place's checks, the arguments in order (each bound when it may fault, draw,
        take or call; a position always, the check reads it too), the method's check, the
        method unchecked."""
        if s.unchecked:  # (lowered already)
            return [s]
        message = number_faults.list_op_message(s)  # (None: `clear`, `shuffle`, which cannot fault)
        placed = self.place(s.place, scope, whole=message is not None)
        if placed is None:
            return [s]
        pre, place, lst = placed
        args = []
        for k, a in enumerate(s.args):
            more, a = self.operand(a, scope)
            pre += more
            position = k == 0 and s.op in ("insert", "remove_at")
            args.append(self.bound(a, pre) if position or not _quiet(a) else a)
        if message is None:
            return pre + [s.model_copy(update={"place": place, "args": args})]
        pre.append(self.op_check(s, message, _length(lst), args))
        return pre + [s.model_copy(update={"place": place, "args": args, "unchecked": True})]

    def op_check(self, s: ir.ListOp, message: str, n: ir.Expr, args: list[ir.Expr]) -> ir.Check:
        """The interpreter's test of list method `s` on a list of length `n` (`envc.compiler.interp`,
        `_list_push` and its siblings), with the values its message names."""
        cap = irutil.int_const(ir.list_of(s.place.type).cap)
        if s.op == "push":
            return self.check(irutil.binop("ge", n, cap), message, s.span)
        if s.op == "insert":
            past = [] if irutil.always_le(args[0], n) else [irutil.binop("gt", args[0], n)]
            full = irutil.or_(irutil.binop("ge", n, cap), *past)
            return self.check(full, message, s.span, args[0], n)
        if s.op == "remove_at":
            return self.check(irutil.binop("ge", args[0], n), message, s.span, args[0], n)
        return self.check(irutil.binop("eq", n, irutil.int_const(0)), message, s.span)

    # ------------------------------------------------------------ operands
    def operand(self, e: ir.Expr, scope: Scope) -> tuple[list[ir.Stmt], ir.Expr]:
        """(statements to run first, what `e` becomes) for an operand a statement evaluates
        first: a take that is the whole operand gets its checks; else the checks of the list
        reads `_Hoist` finds."""
        if isinstance(e, ir.ListTake) and not e.unchecked:
            placed = self.place(e.place, scope, whole=True)
            if placed is None:
                return [], e
            pre, place, lst = placed
            empty = irutil.binop("eq", _length(lst), irutil.int_const(0))
            pre.append(self.check(empty, number_faults.take_message(e.front), e.span))
            return pre, e.model_copy(update={"place": place, "unchecked": True})
        hoist = _Hoist(self)
        e = hoist.visit(e)
        return hoist.pre, e

    def path(self, e: ir.Expr) -> tuple[list[ir.Stmt], ir.Expr] | None:
        """(checks, `e` with its list reads unchecked) for a path expression: a state field or
        a local, then fields and indices, each array index quiet. None for anything else."""
        if isinstance(e, (ir.StateGet, ir.Local)):
            return [], e
        if isinstance(e, ir.GetField):
            inner = self.path(e.base)
            return None if inner is None else (inner[0], e.model_copy(update={"base": inner[1]}))
        if not isinstance(e, ir.GetIndex):
            return None
        inner = self.path(e.base)
        if inner is None:
            return None
        pre, base = inner
        if not isinstance(base.type, ir.ListT) or e.unchecked:
            return (pre, e.model_copy(update={"base": base})) if _quiet(e.index) else None
        index = self.bound(e.index, pre)
        n = _length(base)
        pre.append(self.check(irutil.binop("ge", index, n), number_faults.INDEX_PAST_END, e.span, index, n))
        return pre, e.model_copy(update={"base": base, "index": index, "unchecked": True})

    def place(self, p: ir.Place, scope: Scope, whole: bool) -> tuple[list[ir.Stmt], ir.Place, ir.Expr] | None:
        """(checks, `p` with its list indices unchecked, an expression reading the place as far
        as it was rewritten): each list index bound (unless a constant or a local) and checked
        against the length of the place up to it, in order. An array index that a check reads
        too (before the last list index, or anywhere with `whole`: the caller reads the whole
        place, its length) is bound unless quiet. None when the root's type is not known here
        (a local bound where this pass does not look) or when there is nothing to check (no
        list index, and not `whole`)."""
        lists = [k for k, step in enumerate(p.path) if isinstance(step, ir.IndexStep) and step.is_list
                 and not step.unchecked]
        if not lists and not whole:
            return None
        t = self.state.get(p.name) if p.root == "state" else scope.get(p.name)
        if t is None:
            return None
        read: ir.Expr = ir.StateGet(name=p.name, type=t) if p.root == "state" else ir.Local(name=p.name, type=t)
        last = len(p.path) if whole else lists[-1] + 1
        pre: list[ir.Stmt] = []
        path: list[Any] = []
        for step in p.path[:last]:
            step, read = self.step(step, read, pre, p.span)
            path.append(step)
        return pre, p.model_copy(update={"path": path + list(p.path[last:])}), read

    def step(self, step: Any, read: ir.Expr, pre: list[ir.Stmt], span: ir.Span) -> tuple[Any, ir.Expr]:
        """One step of a place whose prefix `read` holds: (the step, the prefix after it)."""
        if isinstance(step, ir.FieldStep):
            t = next(f.type for f in self.m.record(ir.record_of(read.type).name).fields if f.name == step.name)
            return step, ir.GetField(base=read, name=step.name, type=t)
        index = step.index if _quiet(step.index) and not step.is_list else self.bound(step.index, pre)
        elem = ir.elem_of(read.type)
        if not step.is_list or step.unchecked:
            return step.model_copy(update={"index": index}), ir.GetIndex(base=read, index=index, type=elem,
                                                                          unchecked=step.unchecked)
        n = _length(read)
        pre.append(self.check(irutil.binop("ge", index, n), number_faults.INDEX_PAST_END, span, index, n))
        return (step.model_copy(update={"index": index, "unchecked": True}),
                ir.GetIndex(base=read, index=index, type=elem, unchecked=True))


# Nodes that evaluate every child, in field order, and cannot fault themselves (a list read
# is handled before this applies): a check of a read inside them may run before the statement.
_STRICT = (ir.Unary, ir.Binary, ir.Builtin, ir.GetField, ir.GetIndex, ir.RecordLit, ir.ArrayLit, ir.TableGet)


class _Hoist:
    """The checks of the list reads of one operand (or of a call's arguments, in order) that
    may run before the statement: a read of a path (`_Lists.path`) with a quiet index, reached
    in evaluation order through nodes that evaluate it unconditionally (`_STRICT`, the left
    operand of `and`/`or`, an `if ... then ... else`'s condition), with nothing before it that
    may fault, draw, take or call (`clean`: once that is false, the rest stays as it is, each
    read with its own check). Being pure, the read itself stays where it is, unchecked."""

    def __init__(self, lists: _Lists) -> None:
        self.lists = lists
        self.pre: list[ir.Stmt] = []
        self.clean = True

    def visit(self, e: ir.Expr) -> ir.Expr:
        if not self.clean:
            return e
        if isinstance(e, ir.GetIndex) and isinstance(e.base.type, ir.ListT) and not e.unchecked:
            return self.read(e)
        if isinstance(e, ir.Binary) and e.op in ("and", "or"):
            left = self.visit(e.left)
            self.clean = self.clean and _quiet(e.right)  # (evaluated only on one side of `left`)
            return e if left is e.left else e.model_copy(update={"left": left})
        if isinstance(e, ir.Cond):
            cond = self.visit(e.cond)
            self.clean = self.clean and _quiet(e.then) and _quiet(e.orelse)
            return e if cond is e.cond else e.model_copy(update={"cond": cond})
        if isinstance(e, _STRICT):
            return cast(ir.Expr, ir.map_children(e, lambda child: self.visit(cast(ir.Expr, child))))
        self.clean = self.clean and _quiet(e)
        return e

    def read(self, e: ir.GetIndex) -> ir.Expr:
        found = self.lists.path(e) if _quiet(e.index) else None
        if found is None:
            self.clean = False
            return e
        self.pre += found[0]
        return found[1]
