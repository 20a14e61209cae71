"""The reference interpreter: the definition of what a checked spec means.

Public surface: `Interpreter` (`init`, `step`, `observe`, `legal_action_mask`,
`invariant_violations`, `call`, `ensures_failures`, `actions`), `State`, `SpecRuntimeError`, `eval_const`,
`ConstEvalError`.

Semantics (every backend reproduces them exactly):

* `init(seed)`: every state field takes its default, `current_player` is 0, the RNG key
  is `rng.seed_key(seed)` with counter 0; then the `init` block runs, and the
  `legal_action_mask` and `observation` (of `current_player`) are computed.
* `step(state, action)` follows Pgx's `Env.step` (pgx/core.py):
  1. on a terminated or truncated state nothing changes but `rewards`, which become 0;
  2. an illegal action (its mask entry is false) ends the game: the mover gets -1 and
     every other player +(num_players - 1)... as in Pgx, where for two players that is +1;
     with `illegal_action error` it raises `SpecRuntimeError` instead;
  3. otherwise `rewards` become 0, `step_count` grows by 1, and the action's body runs;
     then `truncated` becomes true when `step_count` reaches `turn_limit` and the game
     is not terminated;
  4. the mask is computed for `current_player` (all true on a terminated state, as in
     Pgx), and the observation is `observe(current_player)`.
* Values: ints are Python ints (the checker guarantees their ranges), float32 values are
  `numpy.float32` (every operation rounds to float32), arrays are lists, records dicts,
  lists Python lists of their current length. Assignment copies (value semantics).
* Integer `/` and `%` are floor division and floor modulo. `and`/`or` have no short
  circuit in the language (compiled code evaluates both sides, and a draw on the right
  is always made); the interpreter skips a right operand that cannot draw once the left
  decides, which yields the same value and state, and no fault from reading past a
  list's end there (compiled code reads padding that the result ignores).
* Runtime faults (push onto a full list, draw from an empty one, index past a list's
  length, `fail(...)`) raise `SpecRuntimeError` with the spec location: they are bugs of
  the spec, which verification reports.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from envc.compiler import ir, rng
from envc.compiler.actions import ActionSpace
from envc.compiler.diagnostics import Span


class SpecRuntimeError(Exception):
    """A spec reached a state it declares impossible (see module docstring)."""

    def __init__(self, message: str, span: Span | None = None):
        self.span = span
        where = f"{span.file}:{span.line}:{span.col}: " if span is not None and span.line else ""
        super().__init__(f"{where}{message}")


class ConstEvalError(Exception):
    """An expression that must be constant reads the state or draws random numbers."""


class _Return(Exception):
    def __init__(self, value):
        self.value = value


class State:
    """One environment's state: the spec's fields plus envc's own.

    Attributes: `fields` (dict of every state field, built-ins included),
    `rng_key`, `rng_counter` (uint32 words of envc's RNG), `legal_action_mask`
    (list[bool], one per flat action), `observation` (nested lists of the observe
    type). Built-in fields read as attributes: `state.current_player`, `state.rewards`,
    `state.terminated`, `state.truncated`, `state.step_count`.
    """

    __slots__ = ("fields", "rng_key", "rng_counter", "legal_action_mask", "observation")

    def __init__(self, fields: dict, rng_key: int, rng_counter: int):
        self.fields = fields
        self.rng_key = rng_key
        self.rng_counter = rng_counter
        self.legal_action_mask: list[bool] = []
        self.observation: Any = None

    def __getattr__(self, name: str):
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def copy(self) -> State:
        s = State(copy_value(self.fields), self.rng_key, self.rng_counter)
        s.legal_action_mask = list(self.legal_action_mask)
        s.observation = self.observation
        return s


_MISSING = object()


def _restore(env: dict, saved: dict[str, Any]) -> None:
    """Put back the outer values of names a block or loop shadowed (or remove new names)."""
    for name, value in saved.items():
        if value is _MISSING:
            env.pop(name, None)
        else:
            env[name] = value


def copy_value(v: Any) -> Any:
    """A deep copy of an interpreter value (lists and dicts copied, scalars shared)."""
    if isinstance(v, list):
        return [copy_value(x) for x in v]
    if isinstance(v, dict):
        return {k: copy_value(x) for k, x in v.items()}
    return v


def to_value(t: ir.Type, v: Any) -> Any:
    """Convert a plain default (from the IR) to the interpreter's representation."""
    if isinstance(t, ir.FloatT):
        return np.float32(v)
    if isinstance(t, ir.ArrayT):
        return [to_value(t.elem, x) for x in v]
    if isinstance(t, ir.ListT):
        return [to_value(t.elem, x) for x in v]
    if isinstance(t, ir.RecordT):
        return {k: x for k, x in v.items()}
    return v


def _frozen(v: Any) -> Any:
    """A hashable copy of an interpreter value (lists become tuples, dicts sorted items)."""
    if isinstance(v, list):
        return tuple(_frozen(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _frozen(x)) for k, x in v.items()))
    return v


class _TableColumns(dict):
    """`{(table, column): values}`, converted on first use (folding a constant must not
    convert every column of a 386-row table)."""

    def __init__(self, tables: dict[str, ir.TableDef]):
        super().__init__()
        self._tables = tables

    def __missing__(self, key: tuple[str, str]) -> list:
        col = next(c for c in self._tables[key[0]].columns if c.name == key[1])
        values = self[key] = [to_value(col.type, v) for v in col.values]
        return values


CONST_WORK = 1 << 21

_F32_FUNCS = {"sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "exp": np.exp}


class Evaluator:
    """Evaluates IR expressions and statements against a `State` (or none, for constants)."""

    def __init__(self, module: ir.Module | None, tables: dict[str, ir.TableDef] | None = None):
        self.module = module
        self.tables = {t.name: t for t in module.tables} if module is not None else dict(tables or {})
        self.fns = {f.name: f for f in module.fns} if module is not None else {}
        self.records = {r.name: r for r in module.records} if module is not None else {}
        self.state: State | None = None
        self._consts: dict[int, tuple[ir.Const, Any]] = {}
        self._const_work = 0  # loop iterations spent folding a constant (module is None)
        self.old_state: State | None = None  # the state before a hole's call, read by `old(x)` in `ensures`
        self.table_cols = _TableColumns(self.tables)
        self._quiet: dict[int, bool] = {}  # Binary and/or node -> its right operand cannot draw
        self._memo: dict | None = None  # results of `fn` calls while the state cannot change
        self._expr = {k: getattr(self, "e_" + k) for k in ir.EXPR_KINDS}
        self._stmt = {k: getattr(self, "s_" + k) for k in ir.STMT_KINDS}

    # --------------------------------------------------------------- expressions
    def eval(self, e: ir.Expr, env: dict) -> Any:
        return self._expr[e.kind](e, env)

    def e_const(self, e: ir.Const, env):
        # Reads share one converted value per node: `let`, assignment and calls copy.
        if isinstance(e.value, (list, dict)) or isinstance(e.type, ir.FloatT):
            key = id(e)
            cached = self._consts.get(key)
            if cached is None:
                cached = self._consts[key] = (e, to_value(e.type, copy_value(e.value)))
            return cached[1]
        return e.value

    def e_local(self, e: ir.Local, env):
        try:
            return env[e.name]
        except KeyError:
            raise ConstEvalError(f"reads `{e.name}`") from None

    def e_state(self, e: ir.StateGet, env):
        if self.state is None:
            raise ConstEvalError(f"reads state field `{e.name}`")
        return self.state.fields[e.name]

    def e_get_field(self, e: ir.GetField, env):
        return self.eval(e.base, env)[e.name]

    def e_get_index(self, e: ir.GetIndex, env):
        base = self.eval(e.base, env)
        i = self.eval(e.index, env)
        if isinstance(e.base.type, ir.ListT) and i >= len(base):
            raise SpecRuntimeError(f"index {i} is past the end of a list of length {len(base)}", e.span)
        return base[i]

    def e_table_get(self, e: ir.TableGet, env):
        return self.table_cols[(e.table, e.column)][self.eval(e.row, env)]

    def e_unary(self, e: ir.Unary, env):
        v = self.eval(e.operand, env)
        if e.op == "not":
            return not v
        return -v

    def e_binary(self, e: ir.Binary, env):
        a = self.eval(e.left, env)
        op = e.op
        if (op == "and" and not a) or (op == "or" and a):
            # The value is decided. Skipping the right operand changes nothing observable when
            # it neither draws nor takes from a list (compiled code evaluates both sides, and
            # a read past a list's end there yields padding that the result ignores).
            quiet = self._quiet.get(id(e))
            if quiet is None:
                quiet = self._quiet[id(e)] = ir.first_draw(e.right) is None
            if quiet:
                return bool(a)
        b = self.eval(e.right, env)
        if op == "add":
            return a + b
        if op == "sub":
            return a - b
        if op == "mul":
            return a * b
        if op == "div":
            if isinstance(e.type, ir.FloatT):
                return np.float32(a) / np.float32(b)
            return a // b
        if op == "mod":
            return a % b
        if op == "eq":
            return a == b
        if op == "ne":
            return a != b
        if op == "lt":
            return a < b
        if op == "le":
            return a <= b
        if op == "gt":
            return a > b
        if op == "ge":
            return a >= b
        if op == "and":
            return bool(a and b)
        return bool(a or b)

    def e_cond(self, e: ir.Cond, env):
        return self.eval(e.then, env) if self.eval(e.cond, env) else self.eval(e.orelse, env)

    def e_call_fn(self, e: ir.CallFn, env):
        fn = self.fns.get(e.fn)
        if fn is None:  # folding a constant (a type's size or bound), which cannot call functions
            raise ConstEvalError(f"calls `{e.fn}`")
        args = {p.name: copy_value(self.eval(a, env)) for p, a in zip(fn.params, e.args)}
        memo = self._memo
        if memo is not None:  # a `fn` is pure: on an unchanged state, equal arguments give equal results
            key = (e.fn, _frozen(list(args.values())))
            if key in memo:
                return copy_value(memo[key])
        try:
            self.run_block(fn.body, args)
        except _Return as r:
            if memo is not None:
                memo[key] = copy_value(r.value)
            return r.value
        raise SpecRuntimeError(f"`{fn.name}` ended without a value", fn.span)  # pragma: no cover

    def e_builtin(self, e: ir.Builtin, env):
        if e.name == "old":  # `old(x)` in a hole's `ensures`: `x` on the state before the call
            if self.old_state is None:
                raise SpecRuntimeError("`old(...)` is evaluated only in a hole's `ensures` clause", e.span)
            now, self.state = self.state, self.old_state
            try:
                return copy_value(self.eval(e.args[0], env))
            finally:
                self.state = now
        args = [self.eval(a, env) for a in e.args]
        name = e.name
        if name == "min":
            return min(args)
        if name == "max":
            return max(args)
        if name == "abs":
            return abs(args[0])
        if name == "clamp":
            return min(max(args[0], args[1]), args[2])
        if name == "int":
            return int(args[0])
        if name == "float":
            return np.float32(args[0])
        if name == "len":
            return len(args[0])
        if name == "contains":
            return args[1] in args[0]
        if name == "count":
            return sum(1 for x in args[0] if x == args[1])
        if name in _F32_FUNCS:
            return np.float32(_F32_FUNCS[name](np.float32(args[0])))
        raise AssertionError(name)  # pragma: no cover

    def e_reduce(self, e: ir.Reduce, env):
        values = self.e_array_build(e, env)  # the body's value for each i in lo..hi
        if e.op == "sum":
            total = np.float32(0) if isinstance(e.type, ir.FloatT) else 0
            for v in values:
                total = total + v
            return total
        if e.op == "count":
            return sum(1 for v in values if v)
        if e.op == "any":
            return any(values)
        if e.op == "all":
            return all(values)
        return min(values) if e.op == "min" else max(values)

    def e_array_build(self, e: ir.ArrayBuild | ir.Reduce, env):
        self._const_spend(e.hi - e.lo)
        out = []
        outer = {e.var: env.get(e.var, _MISSING)}
        try:
            for i in range(e.lo, e.hi):
                env[e.var] = i
                out.append(self.eval(e.body, env))
        finally:
            _restore(env, outer)
        return out

    def _const_spend(self, n: int) -> None:
        # nested loops in a constant (`count(any(... for i in 0..65536) for j in 0..65536)`)
        # would hang the checker: a constant gets CONST_WORK loop iterations
        if self.module is None:
            self._const_work += n
            if self._const_work > CONST_WORK:
                raise ConstEvalError(f"takes more than {CONST_WORK} loop iterations to compute")

    def e_array_lit(self, e: ir.ArrayLit, env):
        return [copy_value(self.eval(x, env)) for x in e.items]

    def e_record_lit(self, e: ir.RecordLit, env):
        return {name: copy_value(self.eval(v, env)) for name, v in e.fields}

    def e_random_int(self, e: ir.RandomInt, env):
        lo = self.eval(e.lo, env)
        hi = self.eval(e.hi, env)
        if self.state is None:
            raise ConstEvalError("draws a random number")
        s = self.state
        if lo > hi:
            raise SpecRuntimeError(f"random.int({lo}, {hi}) has an empty range", e.span)
        v = rng.randint(s.rng_key, s.rng_counter, lo, hi)
        s.rng_counter = (s.rng_counter + 1) & rng.MASK32
        return v

    def e_list_take(self, e: ir.ListTake, env):
        if self.state is None and e.place.root == "state":
            raise ConstEvalError("changes the state")
        lst = self.resolve(e.place, env)
        if not lst:
            raise SpecRuntimeError(f"`{'draw' if e.front else 'pop'}()` from an empty list", e.span)
        return lst.pop(0) if e.front else lst.pop()

    # --------------------------------------------------------------- places
    def resolve(self, place: ir.Place, env: dict) -> Any:
        """The container value at `place` (for list operations, which mutate in place)."""
        container = env if place.root == "local" else self.state.fields
        key: Any = place.name
        for step in place.path:
            container = container[key]
            if step.kind == "field":
                key = step.name
            else:
                key = self.eval(step.index, env)
                if step.is_list and key >= len(container):
                    raise SpecRuntimeError(f"index {key} is past the end of a list of length {len(container)}",
                                           place.span)
        return container[key]

    def assign(self, place: ir.Place, value: Any, env: dict) -> None:
        container = env if place.root == "local" else self.state.fields
        key: Any = place.name
        for step in place.path:
            container = container[key]
            if step.kind == "field":
                key = step.name
            else:
                key = self.eval(step.index, env)
                if step.is_list and key >= len(container):
                    raise SpecRuntimeError(f"index {key} is past the end of a list of length {len(container)}",
                                           place.span)
        container[key] = value

    # --------------------------------------------------------------- statements
    def run_block(self, stmts: list[ir.Stmt], env: dict) -> None:
        """Run a block. Scopes are lexical, as the checker types them: a `let` shadows an
        outer local of the same name until the block ends, when the outer value returns."""
        shadowed: dict[str, Any] = {}
        try:
            for s in stmts:
                if s.kind == "let" and s.name not in shadowed:
                    shadowed[s.name] = env.get(s.name, _MISSING)
                self._stmt[s.kind](s, env)
        finally:
            _restore(env, shadowed)

    def s_let(self, s: ir.Let, env):
        env[s.name] = copy_value(self.eval(s.value, env))

    def s_assign(self, s: ir.Assign, env):
        value = copy_value(self.eval(s.value, env))
        if isinstance(s.place.type, ir.FloatT):
            value = np.float32(value)
        self.assign(s.place, value, env)

    def s_if(self, s: ir.If, env):
        self.run_block(s.then if self.eval(s.cond, env) else s.orelse, env)

    def s_for(self, s: ir.For, env):
        outer = {s.var: env.get(s.var, _MISSING)}
        try:
            for i in range(s.lo, s.hi):
                env[s.var] = i
                self.run_block(s.body, env)
        finally:
            _restore(env, outer)

    def s_match(self, s: ir.Match, env):
        v = self.eval(s.subject, env)
        for arm in s.arms:
            if not arm.members or v in arm.members:
                self.run_block(arm.body, env)
                return

    def s_return(self, s: ir.Return, env):
        raise _Return(self.eval(s.value, env))

    def s_call_proc(self, s: ir.CallProc, env):
        fn = self.fns[s.proc]
        args = {p.name: copy_value(self.eval(a, env)) for p, a in zip(fn.params, s.args)}
        self.run_block(fn.body, args)

    def s_list_op(self, s: ir.ListOp, env):
        lst = self.resolve(s.place, env)
        cap = s.place.type.cap
        args = [copy_value(self.eval(a, env)) for a in s.args]
        op = s.op
        if op == "push":
            if len(lst) >= cap:
                raise SpecRuntimeError(f"push onto a full list (capacity {cap})", s.span)
            lst.append(args[0])
        elif op == "insert":
            if len(lst) >= cap or args[0] > len(lst):
                raise SpecRuntimeError(f"insert at {args[0]} into a list of length {len(lst)} (capacity {cap})", s.span)
            lst.insert(args[0], args[1])
        elif op == "remove_at":
            if args[0] >= len(lst):
                raise SpecRuntimeError(f"remove_at({args[0]}) on a list of length {len(lst)}", s.span)
            lst.pop(args[0])
        elif op == "clear":
            lst.clear()
        elif op == "shuffle":
            st = self.state
            for i, j in rng.shuffle_swaps(st.rng_key, st.rng_counter, len(lst)):
                lst[i], lst[j] = lst[j], lst[i]
            st.rng_counter = (st.rng_counter + max(len(lst) - 1, 0)) & rng.MASK32
        elif op in ("discard_front", "discard_back"):
            if not lst:
                raise SpecRuntimeError("`draw()`/`pop()` from an empty list", s.span)
            lst.pop(0 if op == "discard_front" else -1)

    def s_effect(self, s: ir.Effect, env):
        f = self.state.fields
        args = [self.eval(a, env) for a in s.args]
        if s.name == "win":
            f["rewards"] = [np.float32(1.0 if p == args[0] else -1.0) for p in range(len(f["rewards"]))]
            f["terminated"] = True
        elif s.name == "draw":
            f["rewards"] = [np.float32(0.0) for _ in f["rewards"]]
            f["terminated"] = True
        elif s.name == "terminate":
            f["terminated"] = True
        else:
            f["rewards"][args[0]] = np.float32(f["rewards"][args[0]] + np.float32(args[1]))

    def s_fault(self, s: ir.Fault, env):
        raise SpecRuntimeError(f"fail: {s.message}", s.span)

    def s_expr_stmt(self, s: ir.ExprStmt, env):
        self.eval(s.expr, env)


def eval_const(e: ir.Expr, tables: dict[str, ir.TableDef] | None = None) -> Any:
    """Fold a constant expression to a plain value (floats as Python floats).

    Raises:
        ConstEvalError: when `e` reads state or locals, or draws random numbers.
    """
    v = Evaluator(None, tables).eval(e, {})
    return _plain(v)


def _plain(v: Any) -> Any:
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


class Interpreter:
    """Runs a checked spec: `init`, `step`, `observe`, `legal_action_mask`.

    Args:
        module: the IR from `envc.compiler.check`.
    """

    def __init__(self, module: ir.Module):
        self.module = module
        self.actions = ActionSpace(module)
        self.num_actions = self.actions.n
        self.num_players = module.num_players
        self.ev = Evaluator(module)
        self._defaults = {f.name: to_value(f.type, f.default) for f in module.state}
        self._step_max = next(f.type.hi for f in module.state if f.name == "step_count")

    # ------------------------------------------------------------------ API
    def init(self, seed: int) -> State:
        """The initial state for integer `seed` (taken mod 2^32)."""
        s = State(copy_value(self._defaults), rng.seed_key(seed), 0)
        self._run(s, self.module.init, {})
        self._finish(s)
        return s

    def step(self, state: State, action: int) -> State:
        """The state after `action` (a flat index in `0..num_actions-1`); `state` is unchanged.

        Raises:
            IndexError: when `action` is outside the action space.
            SpecRuntimeError: on a runtime fault of the spec, or an illegal action under
                `illegal_action error`.
        """
        if not 0 <= action < self.num_actions:
            raise IndexError(f"action {action} is outside 0..{self.num_actions - 1}")
        s = state.copy()
        f = s.fields
        zeros = [np.float32(0.0) for _ in range(self.num_players)]
        if f["terminated"] or f["truncated"]:
            f["rewards"] = zeros
            return s
        if not state.legal_action_mask[action]:
            if self.module.illegal_action == "error":
                raise SpecRuntimeError(f"illegal action {self.actions.format(action)}")
            mover = f["current_player"]
            f["step_count"] = min(f["step_count"] + 1, self._step_max)
            f["rewards"] = [np.float32(-1.0 if p == mover else float(self.num_players - 1))
                            for p in range(self.num_players)]
            f["terminated"] = True
            self._finish(s)
            return s
        f["rewards"] = zeros
        f["step_count"] = min(f["step_count"] + 1, self._step_max)
        kind, values = self.actions.decode(action)
        a = self.module.actions[kind.index]
        self._run(s, a.body, {p.name: v for p, v in zip(a.params, values)})
        limit = self.module.turn_limit
        if limit is not None and f["step_count"] >= limit and not f["terminated"]:
            f["truncated"] = True
        self._finish(s)
        return s

    def legal_action_mask(self, state: State) -> list[bool]:
        """One bool per flat action: the action's `when` guard for its parameter values."""
        ev = self.ev
        ev.state = state
        ev._memo = {}  # guards cannot change the state: `fn` results are shared between them
        try:
            mask = []
            for kind in self.actions.kinds:
                guard = self.module.actions[kind.index].guard
                for i in range(kind.size):
                    if guard is None:
                        mask.append(True)
                        continue
                    _, values = self.actions.decode(kind.offset + i)
                    env = {p.name: v for p, v in zip(kind.params, values)}
                    mask.append(bool(ev.eval(guard, env)))
            return mask
        finally:
            ev.state = None
            ev._memo = None

    def observe(self, state: State, player: int) -> Any:
        """The observation of `player` (nested lists shaped like the `observe` type)."""
        ev = self.ev
        ev.state = state
        try:
            ev.run_block(self.module.observe.body, {self.module.observe.player: player})
        except _Return as r:
            return r.value
        finally:
            ev.state = None
        raise SpecRuntimeError("`observe` ended without a value", self.module.observe.span)  # pragma: no cover

    def invariant_violations(self, state: State) -> list[str]:
        """Names of the spec's invariants that `state` breaks (empty when all hold)."""
        ev = self.ev
        ev.state = state
        try:
            return [inv.name for inv in self.module.invariants if not ev.eval(inv.expr, {})]
        finally:
            ev.state = None

    def call(self, state: State, fn: str, args: list[Any]) -> tuple[State, Any]:
        """Run `fn` or `proc` `fn` on a copy of `state` with `args`; returns (new state, result or None)."""
        s = state.copy()
        f = self.module.fn(fn)
        ev = self.ev
        ev.state = s
        try:
            ev.run_block(f.body, {p.name: copy_value(a) for p, a in zip(f.params, args)})
        except _Return as r:
            return s, r.value
        finally:
            ev.state = None
        return s, None

    # ------------------------------------------------------------------ internals
    def ensures_failures(self, hole: ir.HoleDef, before: State, after: State, args: list[Any],
                         result: Any = None) -> list[int]:
        """Indices of the `ensures` clauses of `hole` that are false for a call with `args` that
        went from state `before` to `after` (returning `result`); `old(x)` reads `before`.

        Raises:
            SpecRuntimeError: when a clause faults (e.g. indexes past a list's end).
        """
        ev = self.ev
        ev.state, ev.old_state = after, before
        env = {p.name: a for p, a in zip(hole.params, args)}
        if hole.ret is not None:
            env["result"] = result
        try:
            return [i for i, e in enumerate(hole.ensures) if not ev.eval(e, dict(env))]
        finally:
            ev.state = ev.old_state = None

    def _run(self, s: State, stmts: list[ir.Stmt], env: dict) -> None:
        ev = self.ev
        ev.state = s
        try:
            ev.run_block(stmts, env)
        except _Return:  # pragma: no cover - the checker forbids return outside functions
            pass
        finally:
            ev.state = None

    def _finish(self, s: State) -> None:
        if s.fields["terminated"]:
            s.legal_action_mask = [True] * self.num_actions
        else:
            s.legal_action_mask = self.legal_action_mask(s)
        s.observation = self.observe(s, s.fields["current_player"])


def values_equal(a: Any, b: Any) -> bool:
    """Exact equality of interpreter values (float32 compared by value, NaN equal to NaN)."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, (float, np.floating)) and math.isnan(a):
        return isinstance(b, (float, np.floating)) and math.isnan(b)
    return a == b
