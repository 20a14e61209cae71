"""The reference interpreter: the definition of what a checked spec means.

Public surface: `Interpreter` (`init`, `step`, `observe`, `legal_action_mask`, `legal_action_masks`,
`step_joint`, `observe_all`,
`invariant_violations`, `call`, `ensures_failures`, `actions`), `State`, `SpecRuntimeError`, `eval_const`,
`ConstEvalError`.

Semantics (every backend reproduces them exactly):

* `init(seed)`: every state field takes its default, `current_player` is 0, the RNG key
  is `rng.seed_key(seed)` with counter 0; then the `init` block runs, and the
  `legal_action_mask` and `observation` (of `current_player`) are computed.
* `step(state, action)` follows Pgx's `Env.step` (pgx/core.py):
  1. on a terminated or truncated state nothing changes but `rewards`, which become 0;
  2. an illegal action (its mask entry is false, or an index outside 0..num_actions-1,
     which is never played as another action) ends the game: the mover gets -1 and
     every other player +(num_players - 1), as in Pgx (for two players, +1). By default
     (`illegal_action lose`) nothing else changes: the board, `current_player` and the
     observation stay those before the action. With `illegal_action pgx` the action's body
     runs first, as Pgx's `Env.step` does (`_step`, then `_step_with_illegal_action`), so the
     move is made and `current_player` may change (an index outside the range is never run).
     With `illegal_action error` the step raises `SpecRuntimeError` instead;
  3. otherwise `rewards` become 0, `step_count` grows by 1, the action's body runs, then
     the module's `epilogue` (statements a pass adds: a simultaneous spec resolves its turns there);
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
  length, `insert`/`remove_at` out of range, `fail(...)`, an illegal action under
  `illegal_action error`) raise `SpecRuntimeError` with the spec location: they are bugs of
  the spec, which verification reports. This is the one behaviour every backend reproduces
  (README, "Runtime faults"): the pass `number_faults` numbers each site, the Rust package
  raises its `SpecRuntimeError` with the same location and message, and the JAX module,
  which cannot raise inside `jit`, records the first fault in `State._fault` and raises it
  with `raise_fault(state)` (not inside an invariant: a known gap, README "Runtime faults").
"""

from __future__ import annotations

import math
import operator
import os
from typing import Any, Callable

import numpy as np

from envc.compiler import builtins, ir, irutil, rng
from envc.compiler.actions import ActionSpace
from envc.compiler.diagnostics import Span
from envc.compiler.passes import choice_points, number_faults


class SpecRuntimeError(Exception):
    """A spec reached a state it declares impossible (see module docstring)."""

    def __init__(self, message: str, span: Span | None = None):
        self.span = span
        # the file's name, not the path it was loaded by: the location every backend reports
        # (`number_faults.site`; generated code holds no build path)
        where = f"{os.path.basename(span.file)}:{span.line}:{span.col}: " if span is not None and span.line else ""
        super().__init__(f"{where}{message}")


class ConstEvalError(Exception):
    """An expression that must be constant reads the state or draws random numbers."""


class _Return(Exception):
    def __init__(self, value):
        self.value = value


class _Pause(Exception):
    """A `choose` paused the step: the frames on the way out save themselves (`choice_points`)."""


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


def _legal_values(env: dict, var: str, steps: range, cond: Callable[[dict], Any]) -> list[int]:
    """The values of `var` in `steps` for which `cond` holds, in increasing order (the options
    of a `choose` and of a `random.pick`); `env`'s binding of `var` is put back after."""
    outer = env.get(var, _MISSING)
    try:
        legal = []
        for v in steps:
            env[var] = v
            if cond(env):
                legal.append(v)
    finally:
        _restore(env, {var: outer})
    return legal


def copy_value(v: Any) -> Any:
    """A deep copy of an interpreter value (lists and dicts copied, scalars shared).

    The elements of a list all have one type, so a list whose first element is a scalar
    (immutable) is copied with one slice."""
    if isinstance(v, list):
        if not v or not isinstance(v[0], (list, dict)):
            return v[:]
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
        return {k: _float32_leaves(x) for k, x in v.items()}
    return v


def _float32_leaves(v: Any) -> Any:
    """`v` (a record field's plain default) with its Python floats as `numpy.float32`: in a
    plain default only a float32 field holds a float (ints are ints, bools bools), so no type
    is needed. A record default's float fields were Python floats and added in float64 (hunt
    L: `r.big + r.one + r.one` was 16777218.0, 16777216.0 in float32 on every backend)."""
    if isinstance(v, float):
        return np.float32(v)
    if isinstance(v, list):
        return [_float32_leaves(x) for x in v]
    if isinstance(v, dict):
        return {k: _float32_leaves(x) for k, x in v.items()}
    return v


def _frozen(v: Any) -> Any:
    """A hashable copy of an interpreter value (lists become tuples, dicts sorted items)."""
    if isinstance(v, list):
        return tuple(_frozen(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _frozen(x)) for k, x in v.items()))
    if isinstance(v, (float, np.floating)):  # -0.0 == 0.0 and hash alike, but 1.0 / x tells them apart
        return (v, math.copysign(1.0, v))
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

_BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "mod": operator.mod,
           "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
           "ge": operator.ge}


def _arithmetic(op: str, floats: bool) -> Callable[[Any, Any], Any]:
    """The function of binary operator `op` (not `and`/`or`) on ints or, with `floats`, float32
    values (`/` is float division there, floor division on ints)."""
    if not floats:
        return operator.floordiv if op == "div" else _BINARY[op]
    if op != "div":
        return _ieee(_BINARY[op])

    def div(a, b):
        return np.float32(a) / np.float32(b)
    return _ieee(div)


def _ieee(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` on float32 values without numpy's warnings (divide by zero, overflow, invalid): inf
    and NaN are the language's results (IEEE 754, as in JAX and Rust), not a fault of the spec,
    and a warning printed from inside envc told the user nothing."""
    def quiet(*args):
        with np.errstate(all="ignore"):
            return fn(*args)
    return quiet


def _holds_float(t: ir.Type) -> bool:
    """Whether values of type `t` contain float32 numbers (where `==` and identity differ on NaN)."""
    if isinstance(t, ir.FloatT):
        return True
    if isinstance(t, (ir.ArrayT, ir.ListT)):
        return _holds_float(t.elem)
    return isinstance(t, ir.RecordT)  # its fields are not at hand here: be safe


@ir.handles_all("c_", "s_")
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
        self._memo: dict | None = None  # results of `fn` calls while the state cannot change
        # called as `call_hook(proc, args)` before each `proc` call statement runs (the fill
        # judge watches which hole members a game asks for)
        self.call_hook: Callable[[str, dict], None] | None = None
        # id(expression node or block), or ("stmt", id(statement)) -> its closure
        self._code: dict[Any, Callable[[dict], Any]] = {}
        self._nodes: list = []  # the compiled nodes and blocks, kept alive
        # `choose` (see `envc.compiler.passes.choice_points`): id(point statement) -> (its body's
        # plan, point number); `pausable` while an action's body runs in `Interpreter.step`;
        # elsewhere (`Interpreter.call`) `choice_policy(statement, legal options, chooser)`
        # decides, by default the lowest legal option
        self.points: dict[int, tuple[choice_points.BodyPlan, int]] = {}
        self.pausable = False
        self.choice_policy: Callable[[ir.Choose, list[int], int], int] | None = None
        self.points_plan: choice_points.Plan | None = None
        # when a list: every draw appends how many values it could take (`random.int`'s range,
        # `random.pick`'s legal values, the list's length for a `shuffle`): the fill judge tells
        # a draw that had a choice from one that had none (`textchecks.draw_problems`)
        self.draw_sizes: list[int] | None = None
        # when a list, draw k of the run takes value `lo + forced_draws[k]` of its range (the
        # lowest past the list's end) instead of the RNG's, the counter still moving by one:
        # the judge lists a call's outcomes over every value of its draws (`with chance` clauses,
        # llm_fill/chance.py); `forced_at` counts the draws; a `shuffle` cannot be forced
        # and sets `forced_shuffle`
        self.forced_draws: list[int] | None = None
        self.forced_at = 0
        self.forced_shuffle = False
        # when a list, each `choose` reached by `Interpreter.call` appends (chooser, number of legal
        # options, a copy of the state when it is asked): who the judge's calls asked to decide,
        # among how many options (`chooses` clauses, llm_fill/textchecks.py)
        self.decisions: list[tuple[int, int, State]] | None = None
        # id(boolean expression) -> the set of the values it took, for the expressions it has a
        # key for when they are first compiled (the fill judge watches the conditions of the
        # fill's own branches and their `and`/`or` operands, `llm_fill/coverage.py`)
        self.branch_log: dict[int, set[bool]] = {}
        # id(`random.pick` expression or `choose` statement) -> whether it had no legal value
        # (took its `else`), each time it ran, for those it has a key for when first compiled
        self.else_log: dict[int, set[bool]] = {}

    # --------------------------------------------------------------- expressions
    # Every expression node is turned, on its first evaluation, into a Python closure
    # `f(env) -> value` that calls its children's closures directly (closure compilation):
    # the type tests and operator choices happen once per node, not once per evaluation.
    # The closures do exactly what the semantics in the module docstring say.
    def eval(self, e: ir.Expr, env: dict) -> Any:
        f = self._code.get(id(e))
        if f is None:
            f = self._compile(e)
        return f(env)

    def _compile(self, e: ir.Expr) -> Callable[[dict], Any]:
        f = self._code.get(id(e))
        if f is None:
            f = getattr(self, "c_" + e.kind)(e)
            log = self.branch_log.get(id(e))
            f = self._code[id(e)] = f if log is None else _logged(f, log)
            self._nodes.append(e)  # keeps `id(e)` from being reused while the closure is cached
        return f

    @staticmethod
    def _lazy(make: Callable[[Any], Callable[[dict], Any]], node: Any) -> Callable[[dict], Any]:
        """`make(node)` (an expression's or a block's closure) built on its first run, not
        when the caller is compiled: a function's body may call the function itself."""
        compiled: list = []

        def run(env):
            if not compiled:
                compiled.append(make(node))
            return compiled[0](env)
        return run

    def c_const(self, e: ir.Const):
        # Reads share one converted value per node: `let`, assignment and calls copy.
        value = e.value
        if isinstance(value, (list, dict)) or isinstance(e.type, ir.FloatT):
            value = to_value(e.type, copy_value(value))
        return lambda env: value

    def c_local(self, e: ir.Local):
        name = e.name

        def local(env):
            try:
                return env[name]
            except KeyError:
                raise ConstEvalError(f"reads `{name}`") from None
        return local

    def c_state(self, e: ir.StateGet):
        name = e.name

        def state(env):
            s = self.state
            if s is None:
                raise ConstEvalError(f"reads state field `{name}`")
            return s.fields[name]
        return state

    def live(self) -> State:
        """The state the module's code runs on (`Interpreter` sets `state` around each run).

        Raises ConstEvalError when there is none: code evaluated as a constant reads no state."""
        s = self.state
        if s is None:
            raise ConstEvalError("reads the state")
        return s

    def _access(self, e: ir.Expr) -> Callable[[dict], Any] | None:
        """A place read such as `occupied[p][s]` or `decks[p].cards[i]` (array indices that
        are locals or constants, fields) as one generated lambda, or None for other shapes.
        Only for a module's code, where every local and the state exist when it runs."""
        if self.module is None:
            return None
        parts: list[str] = []
        node = e
        while isinstance(node, (ir.GetIndex, ir.GetField)):
            if isinstance(node, ir.GetField):
                parts.append(f"[{node.name!r}]")
            elif isinstance(node.base.type, ir.ListT):
                return None  # a list index is checked against the length
            elif isinstance(node.index, ir.Local):
                parts.append(f"[env[{node.index.name!r}]]")
            elif isinstance(node.index, ir.Const) and isinstance(node.index.value, int):
                parts.append(f"[{node.index.value!r}]")
            else:
                return None
            node = node.base
        if isinstance(node, ir.StateGet):
            root = f"ev.state.fields[{node.name!r}]"
        elif isinstance(node, ir.Local):
            root = f"env[{node.name!r}]"
        else:
            return None
        return eval(f"lambda env: {root}{''.join(reversed(parts))}", {"ev": self})

    def c_get_field(self, e: ir.GetField):
        fast = self._access(e)
        if fast is not None:
            return fast
        base, name = self._compile(e.base), e.name
        return lambda env: base(env)[name]

    def c_get_index(self, e: ir.GetIndex):
        fast = self._access(e)
        if fast is not None:
            return fast
        base, index = self._compile(e.base), self._compile(e.index)
        if not isinstance(e.base.type, ir.ListT) or e.unchecked:
            # (an unchecked list read, after its `check`: past the end it raises IndexError, a
            # bug of the pass `lower_lists`, never the spec's fault; `envc verify --targets flat`)
            def get_index(env):
                b = base(env)
                return b[index(env)]
            return get_index
        span = e.span

        def get_list_index(env):
            b = base(env)
            i = index(env)
            if i >= len(b):
                raise SpecRuntimeError(f"index {i} is past the end of a list of length {len(b)}", span)
            return b[i]
        return get_list_index

    def c_table_get(self, e: ir.TableGet):
        column, row = self.table_cols[(e.table, e.column)], self._compile(e.row)
        return lambda env: column[row(env)]

    def c_unary(self, e: ir.Unary):
        operand = self._compile(e.operand)
        if e.op == "not":
            return lambda env: not operand(env)
        return lambda env: -operand(env)

    def c_binary(self, e: ir.Binary):
        left, right, op = self._compile(e.left), self._compile(e.right), e.op
        if op in ("and", "or"):
            # Once the left side decides the value, skipping the right side changes nothing
            # observable when it neither draws nor takes from a list (compiled code evaluates
            # both sides, and a read past a list's end there yields padding that the result
            # ignores). A right side that draws is always evaluated.
            quiet = ir.first_draw(e.right) is None
            if op == "and":
                if quiet:
                    return lambda env: bool(left(env) and right(env))

                def and_(env):
                    a = left(env)
                    b = right(env)
                    return bool(a and b)
                return and_
            if quiet:
                return lambda env: bool(left(env) or right(env))

            def or_(env):
                a = left(env)
                b = right(env)
                return bool(a or b)
            return or_
        fn = _arithmetic(op, isinstance(e.type, ir.FloatT))
        return lambda env: fn(left(env), right(env))

    def c_cond(self, e: ir.Cond):
        cond, then, orelse = self._compile(e.cond), self._compile(e.then), self._compile(e.orelse)
        return lambda env: then(env) if cond(env) else orelse(env)

    def c_call_fn(self, e: ir.CallFn):
        fn = self.fns.get(e.fn)
        if fn is None:  # folding a constant (a type's size or bound), which cannot call functions
            def no_fn(env):
                raise ConstEvalError(f"calls `{e.fn}`")
            return no_fn
        names = [p.name for p in fn.params]
        args_f = [self._compile(a) for a in e.args]
        name = e.fn
        scalar = all(isinstance(p.type, (ir.IntT, ir.BoolT, ir.EnumT, ir.RowT)) for p in fn.params)
        invoke = self._fn_body(fn)

        def call_fn(env):
            if scalar:  # immutable values: nothing to copy, and they hash as they are
                values = [a(env) for a in args_f]
                args = dict(zip(names, values))
            else:
                args = {n: copy_value(a(env)) for n, a in zip(names, args_f)}
            memo = self._memo
            if memo is not None:  # a `fn` is pure: on an unchanged state, equal arguments give equal results
                key = (name, tuple(values) if scalar else _frozen(list(args.values())))
                if key in memo:
                    return copy_value(memo[key])
            value = invoke(args)
            if memo is not None:
                memo[key] = copy_value(value)
            return value
        return call_fn

    def _fn_body(self, fn: ir.FnDef) -> Callable[[dict], Any]:
        """A `fn`'s body as one call from its bound arguments to its value, compiled lazily."""
        if len(fn.body) == 1 and isinstance(fn.body[0], ir.Return):  # `fn f(..) -> T { return e }`: no
            return self._lazy(self._compile, fn.body[0].value)        # block, no exception
        body = self._lazy(self._block, fn.body)

        def run_body(args):
            try:
                body(args)
                raise SpecRuntimeError(f"`{fn.name}` ended without a value", fn.span)  # pragma: no cover
            except _Return as r:
                return r.value
        return run_body

    def c_builtin(self, e: ir.Builtin):
        name = e.name
        if name == "old":  # `old(x)` in a hole's `ensures`: `x` on the state before the call
            return self._old(e)
        if name in ("flip", "heads", "heads_until_tails", "draws", "drawn"):
            return self._coins(e)
        args = [self._compile(a) for a in e.args]
        if name in ("contains", "count"):
            return _sequence_builtin(name, args, _holds_float(e.args[0].type))
        if name in builtins.FLOAT_MATH:
            math_fn = builtins.BUILTINS[name].numpy
            if math_fn is None:  # pragma: no cover (every FLOAT_MATH entry names its ufunc)
                raise AssertionError(name)
            x, quiet = args[0], _ieee(math_fn)
            return lambda env: np.float32(quiet(np.float32(x(env))))
        return _numeric_builtin(name, args)

    def _old(self, e: ir.Builtin):
        """`old(x)`: `x` evaluated on `old_state` (the state before a hole's call), copied."""
        inner, span = self._compile(e.args[0]), e.span

        def old(env):
            if self.old_state is None:
                raise SpecRuntimeError("`old(...)` is evaluated only in a hole's `ensures` clause", span)
            now, self.state = self.state, self.old_state
            try:
                return copy_value(inner(env))
            finally:
                self.state = now
        return old

    def _coins(self, e: ir.Builtin):
        """`flip(k)`, `heads(n)`, `heads_until_tails()` of an `ensures` clause: the coins the
        call flips, from the RNG words of the state before it (`old_state`); `drawn(k, lo,
        hi)`: its k-th word as `random.int(lo, hi)` reads it; `draws()`: the
        random numbers drawn since (from the counters of both states). Draw k is
        `heads(key, counter + k)` whatever the fill does with it."""
        name, span = e.name, e.span
        # `draws()` and `heads_until_tails()` take no argument and never call `arg`
        arg = self._compile(e.args[0]) if e.args else (lambda env: 0)
        lo_f, hi_f = (self._compile(a) for a in e.args[1:]) if name == "drawn" else (arg, arg)

        def coins(env):
            s = self.old_state
            if s is None:
                raise SpecRuntimeError(f"`{name}(...)` is evaluated only in a hole's checks", span)
            key, counter = s.rng_key, s.rng_counter
            if name == "draws":  # the draws between the state before the call and now
                return (self.live().rng_counter - counter) & rng.MASK32
            if name == "flip":
                return heads(key, (counter + arg(env)) & rng.MASK32)
            if name == "drawn":
                lo, hi = lo_f(env), hi_f(env)
                if lo > hi:
                    raise SpecRuntimeError(f"drawn(k, {lo}, {hi}) has an empty range", span)
                return rng.randint(key, (counter + arg(env)) & rng.MASK32, lo, hi)
            if name == "heads":
                return sum(heads(key, (counter + k) & rng.MASK32) for k in range(arg(env)))
            run = 0
            while run < 32 and heads(key, (counter + run) & rng.MASK32):
                run += 1
            return run
        return coins

    def _sweep(self, e: ir.ArrayBuild | ir.Reduce) -> Callable[[dict], list]:
        """The body's value for each `var` in `lo..hi`, in order (every body is evaluated)."""
        var, lo, hi, body = e.var, e.lo, e.hi, self._compile(e.body)
        steps = range(lo, hi)
        folding = self.module is None

        def sweep(env):
            if folding:
                self._const_spend(hi - lo)
            outer = env.get(var, _MISSING)
            try:
                return [body(env) for env[var] in steps]
            finally:
                _restore(env, {var: outer})
        return sweep

    def c_reduce(self, e: ir.Reduce):
        sweep, op = self._sweep(e), e.op
        if op == "sum":
            zero = np.float32(0) if isinstance(e.type, ir.FloatT) else 0

            def total(env):
                t = zero
                for v in sweep(env):
                    t = t + v
                return t
            return total
        if op == "count":
            return self._count(e, sweep)
        if op == "any":
            return lambda env: any(sweep(env))
        if op == "all":
            return lambda env: all(sweep(env))
        pick = min if op == "min" else max
        return lambda env: pick(sweep(env))

    def _count(self, e: ir.Reduce, sweep: Callable[[dict], list]) -> Callable[[dict], int]:
        """`count(cond for var in lo..hi)`: the sweep's true values when folding a constant
        (its loop budget is spent), else the same sweep counted as it goes."""
        var, steps, body = e.var, range(e.lo, e.hi), self._compile(e.body)
        if self.module is None:
            return lambda env: sum(1 for v in sweep(env) if v)

        def count(env):
            outer = env.get(var, _MISSING)
            try:
                n = 0
                for env[var] in steps:
                    if body(env):
                        n += 1
                return n
            finally:
                _restore(env, {var: outer})
        return count

    def c_array_build(self, e: ir.ArrayBuild):
        return self._sweep(e)

    def _const_spend(self, n: int) -> None:
        # nested loops in a constant (`count(any(... for i in 0..65536) for j in 0..65536)`)
        # would hang the checker: a constant gets CONST_WORK loop iterations
        if self.module is None:
            self._const_work += n
            if self._const_work > CONST_WORK:
                raise ConstEvalError(f"takes more than {CONST_WORK} loop iterations to compute")

    def c_array_lit(self, e: ir.ArrayLit):
        items = [self._compile(x) for x in e.items]
        return lambda env: [copy_value(x(env)) for x in items]

    def c_record_lit(self, e: ir.RecordLit):
        fields = [(name, self._compile(v)) for name, v in e.fields]
        return lambda env: {name: copy_value(v(env)) for name, v in fields}

    def c_random_int(self, e: ir.RandomInt):
        lo_f, hi_f, span = self._compile(e.lo), self._compile(e.hi), e.span

        def random_int(env):
            lo = lo_f(env)
            hi = hi_f(env)
            s = self.state
            if s is None:
                raise ConstEvalError("draws a random number")
            if lo > hi:
                raise SpecRuntimeError(f"random.int({lo}, {hi}) has an empty range", span)
            v = rng.randint(s.rng_key, s.rng_counter, lo, hi) if self.forced_draws is None else self._forced(lo, hi)
            s.rng_counter = (s.rng_counter + 1) & rng.MASK32
            if self.draw_sizes is not None:
                self.draw_sizes.append(hi - lo + 1)
            return v
        return random_int

    def _forced(self, lo: int, hi: int) -> int:
        """The value of the next draw in `lo..hi` under `forced_draws`."""
        assert self.forced_draws is not None
        k = self.forced_at
        self.forced_at += 1
        return lo + min(self.forced_draws[k], hi - lo) if k < len(self.forced_draws) else lo

    def c_random_pick(self, e: ir.RandomPick):
        var, steps = e.var, range(e.lo, e.hi)
        cond, orelse = self._compile(e.cond), self._compile(e.orelse)
        log = self.else_log.get(id(e))

        def random_pick(env):
            legal = _legal_values(env, var, steps, cond)
            if log is not None:
                log.add(not legal)
            s = self.state
            if s is None:
                raise ConstEvalError("draws a random number")
            top = max(len(legal) - 1, 0)
            r = rng.randint(s.rng_key, s.rng_counter, 0, top) if self.forced_draws is None else self._forced(0, top)
            s.rng_counter = (s.rng_counter + 1) & rng.MASK32
            if self.draw_sizes is not None:
                self.draw_sizes.append(len(legal))
            return legal[r] if legal else orelse(env)
        return random_pick

    def c_list_take(self, e: ir.ListTake):
        place, front, span, checked = e.place, e.front, e.span, not e.unchecked

        def list_take(env):
            if self.state is None and place.root == "state":
                raise ConstEvalError("changes the state")
            lst = self.resolve(place, env)
            if checked and not lst:  # (unchecked: Python's IndexError, a bug of `lower_lists`)
                raise SpecRuntimeError(f"`{'draw' if front else 'pop'}()` from an empty list", span)
            return lst.pop(0) if front else lst.pop()
        return list_take

    # --------------------------------------------------------------- places
    def resolve(self, place: ir.Place, env: dict) -> Any:
        """The container value at `place` (for list operations, which mutate in place)."""
        container = env if place.root == "local" else self.live().fields
        key: Any = place.name
        for step in place.path:
            container = container[key]
            if step.kind == "field":
                key = step.name
            else:
                key = self.eval(step.index, env)
                if step.is_list and not step.unchecked and key >= len(container):
                    raise SpecRuntimeError(f"index {key} is past the end of a list of length {len(container)}",
                                           place.span)
        return container[key]

    def assign(self, place: ir.Place, value: Any, env: dict) -> None:
        container = env if place.root == "local" else self.live().fields
        key: Any = place.name
        for step in place.path:
            container = container[key]
            if step.kind == "field":
                key = step.name
            else:
                key = self.eval(step.index, env)
                if step.is_list and not step.unchecked and key >= len(container):
                    raise SpecRuntimeError(f"index {key} is past the end of a list of length {len(container)}",
                                           place.span)
        container[key] = value

    # --------------------------------------------------------------- statements
    # Blocks become closures too (see "expressions"); `run_block` is their entry point.
    def run_block(self, stmts: list[ir.Stmt], env: dict) -> None:
        """Run a block. Scopes are lexical, as the checker types them: a `let` shadows an
        outer local of the same name until the block ends, when the outer value returns."""
        self._block(stmts)(env)

    def _block(self, stmts: list[ir.Stmt]) -> Callable[[dict], None]:
        f = self._code.get(id(stmts))
        if f is not None:
            return f
        parts = [(s.name if s.kind == "let" else None, self._statement(s)) for s in stmts]
        if not any(name for name, _ in parts):
            steps = [g for _, g in parts]

            def block(env):
                for g in steps:
                    g(env)
        else:
            def block(env):
                shadowed: dict[str, Any] = {}
                try:
                    for name, g in parts:
                        if name is not None and name not in shadowed:
                            shadowed[name] = env.get(name, _MISSING)  # the outer value, as the `let` is reached
                        g(env)
                finally:
                    _restore(env, shadowed)
        self._code[id(stmts)] = block
        self._nodes.append(stmts)
        return block

    def _statement(self, s: ir.Stmt) -> Callable[[dict], None]:
        return getattr(self, "s_" + s.kind)(s)

    def s_let(self, s: ir.Let):
        name, value = s.name, self._compile(s.value)

        def let(env):
            env[name] = copy_value(value(env))
        return let

    def s_assign(self, s: ir.Assign):
        value, place = self._compile(s.value), s.place
        is_float = isinstance(place.type, ir.FloatT)

        def assign(env):
            v = copy_value(value(env))
            if is_float:
                v = np.float32(v)
            self.assign(place, v, env)
        return assign

    def s_if(self, s: ir.If):
        cond, then, orelse = self._compile(s.cond), self._block(s.then), self._block(s.orelse)

        def if_(env):
            if cond(env):
                then(env)
            else:
                orelse(env)
        return if_

    def s_for(self, s: ir.For):
        var, steps, body = s.var, range(s.lo, s.hi), self._block(s.body)

        def for_(env):
            outer = env.get(var, _MISSING)
            try:
                for env[var] in steps:
                    body(env)
            finally:
                _restore(env, {var: outer})
        return for_

    def s_match(self, s: ir.Match):
        subject = self._compile(s.subject)
        arms = [(arm.members, self._block(arm.body)) for arm in s.arms]

        def match(env):
            v = subject(env)
            for members, body in arms:
                if not members or v in members:
                    body(env)
                    return
        return match

    def s_return(self, s: ir.Return):
        value = self._compile(s.value)

        def return_(env):
            raise _Return(value(env))
        return return_

    def s_call_proc(self, s: ir.CallProc):
        fn, proc = self.fns[s.proc], s.proc
        names = [p.name for p in fn.params]
        args_f = [self._compile(a) for a in s.args]
        body = self._lazy(self._block, fn.body)
        point = self.points.get(id(s))

        def call_proc(env):
            args = {n: copy_value(a(env)) for n, a in zip(names, args_f)}
            if self.call_hook is not None:
                self.call_hook(proc, args)
            body(args)
        if point is None:
            return call_proc

        def pausing_call(env):  # a call of a proc that can pause: a pause saves the caller too
            try:
                call_proc(env)
            except _Pause:
                self._save(point[0], point[1], env)
                raise
        return pausing_call

    def _save(self, bp: choice_points.BodyPlan, j: int, env: dict) -> None:
        """Body `bp` pauses at its point j: its live locals go to their frame fields."""
        f = self.live().fields
        for name in bp.points[j - 1].live:
            f[bp.slot[name]] = copy_value(env[name])
        f[bp.at] = bp.base + j  # (bodies that share `at` hold their points one after another)

    def _restore_frame(self, bp: choice_points.BodyPlan, j: int, env: dict) -> None:
        f = self.live().fields
        for name in bp.points[j - 1].live:
            env[name] = copy_value(f[bp.slot[name]])
        f[bp.at] = 0

    def s_choose(self, s: ir.Choose):
        chooser, cond, place = self._compile(s.chooser), self._compile(s.cond), s.place
        orelse = self._compile(s.orelse) if s.orelse is not None else None
        var, steps, span = s.var, range(s.lo, s.hi), s.span
        point = self.points.get(id(s))
        log = self.else_log.get(id(s))

        def choose(env):
            who = chooser(env)
            legal = _legal_values(env, var, steps, cond)
            if log is not None:
                log.add(not legal)
            if not legal:
                if orelse is None:
                    raise SpecRuntimeError(f"fail: {s.fault}", span)
                self.assign(place, copy_value(orelse(env)), env)
                return
            if not self.pausable or point is None:  # a direct call: no step to pause
                if self.decisions is not None:
                    self.decisions.append((who, len(legal), self.live().copy()))
                pick = self.choice_policy(s, legal, who) if self.choice_policy is not None else legal[0]
                if pick not in legal:
                    raise SpecRuntimeError(f"the choice policy picked {pick}, not one of {legal}", span)
                self.assign(place, pick, env)
                return
            if self.live().fields["terminated"]:
                # the game has ended (a `win` earlier in the step): no one moves in a finished game,
                # so the decision takes its lowest legal option and the effect runs on (hunt S: the
                # step paused, and the rest of the effect was silently dropped)
                self.assign(place, legal[0], env)
                return
            bp, j = point
            self._save(bp, j, env)
            f = self.live().fields
            f[choice_points.MOVER] = f["current_player"]
            f["current_player"] = who
            raise _Pause()
        return choose

    def resume(self, bp: choice_points.BodyPlan, env: dict) -> None:
        """Continue body `bp` from the point its `at` field names (the choice's value is in
        `_envc_choice_option`): back down to the point through its loops and branches, then
        on as usual (`choice_points`, module docstring)."""
        j = self.live().fields[bp.at] - bp.base
        self._resume_block(bp, j, bp.body, env)

    def _resume_block(self, bp: choice_points.BodyPlan, j: int, stmts: list[ir.Stmt], env: dict) -> None:
        f = self.live().fields
        i = next(k for k, s in enumerate(stmts) if id(s) in bp.span and bp.span[id(s)][0] <= j <= bp.span[id(s)][1])
        s = stmts[i]
        if bp.point_of.get(id(s)) == j:
            self._restore_frame(bp, j, env)
            if isinstance(s, ir.Choose):
                self.assign(s.place, f[choice_points.OPTION], env)
                f["current_player"] = f[choice_points.MOVER]
            else:
                callee = self._pausing_proc(s)
                try:
                    self.resume(callee, {})
                except _Pause:
                    self._save(bp, j, env)
                    raise
        elif isinstance(s, ir.If):
            inside = bp.range_of(s.then)
            branch = s.then if inside is not None and inside[0] <= j <= inside[1] else s.orelse
            self._resume_block(bp, j, branch, env)
        elif isinstance(s, ir.Match):
            arm = next(a for a in s.arms if (r := bp.range_of(a.body)) is not None and r[0] <= j <= r[1])
            self._resume_block(bp, j, arm.body, env)
        else:
            assert isinstance(s, ir.For)
            start = f[bp.slot[s.var]]
            env[s.var] = start
            self._resume_block(bp, j, s.body, env)
            body = self._block(s.body)
            for env[s.var] in range(start + 1, s.hi):  # noqa: B020 (assigns env[s.var], not `s`)
                body(env)
        for rest in stmts[i + 1:]:
            self._stmt(rest)(env)

    def _pausing_proc(self, s: ir.Stmt) -> choice_points.BodyPlan:
        """The plan of the proc a point that is not a `choose` calls (`choice_points`: a point is a
        `choose` or a call of a proc that can pause)."""
        plan = self.points_plan
        callee = plan.proc(s.proc) if plan is not None and isinstance(s, ir.CallProc) else None
        if callee is None:
            raise AssertionError(f"a point that is neither a `choose` nor a pausing call: {s.kind}")
        return callee

    def _stmt(self, s: ir.Stmt) -> Callable[[dict], None]:
        key = ("stmt", id(s))
        f = self._code.get(key)
        if f is None:
            f = self._code[key] = self._statement(s)
            self._nodes.append(s)
        return f

    def s_list_op(self, s: ir.ListOp):
        place, span = s.place, s.span
        cap = ir.list_of(place.type).cap
        args_f = [self._compile(a) for a in s.args]
        apply = self._shuffle if s.op == "shuffle" else (_UNCHECKED_OPS if s.unchecked else _LIST_OPS)[s.op]

        def list_op(env):
            lst = self.resolve(place, env)
            args = [copy_value(a(env)) for a in args_f]
            apply(lst, args, cap, span)
        return list_op

    def _shuffle(self, lst: list, args: list, cap: int, span: Span | None) -> None:
        """`shuffle()`: the swaps of `rng.shuffle_swaps` on the live state's key; one draw per swap."""
        st = self.live()
        self.forced_shuffle = self.forced_shuffle or (self.forced_draws is not None and len(lst) > 1)
        for i, j in rng.shuffle_swaps(st.rng_key, st.rng_counter, len(lst)):
            lst[i], lst[j] = lst[j], lst[i]
        st.rng_counter = (st.rng_counter + max(len(lst) - 1, 0)) & rng.MASK32
        if self.draw_sizes is not None:
            self.draw_sizes.append(len(lst))

    def s_effect(self, s: ir.Effect):
        name, args_f = s.name, [self._compile(a) for a in s.args]

        def effect(env):
            f = self.live().fields
            args = [a(env) for a in args_f]
            if name == "win":
                f["rewards"] = [np.float32(1.0 if p == args[0] else -1.0) for p in range(len(f["rewards"]))]
                f["terminated"] = True
            elif name == "draw":
                f["rewards"] = [np.float32(0.0) for _ in f["rewards"]]
                f["terminated"] = True
            elif name == "terminate":
                f["terminated"] = True
            else:
                f["rewards"][args[0]] = np.float32(f["rewards"][args[0]] + np.float32(args[1]))
        return effect

    def s_fault(self, s: ir.Fault):
        message, span = s.message, s.span

        def fault(env):
            raise SpecRuntimeError(f"fail: {message}", span)
        return fault

    def s_check(self, s: ir.Check):
        """A fault the pass `lower_lists` made explicit (only in the lowered IR, which `envc verify
        --targets flat` runs): the message is its site's template filled with the values."""
        cond, message, span = self._compile(s.cond), s.message, s.span
        values = [self._compile(v) for v in (s.a, s.b) if v is not None]

        def check(env):
            if not cond(env):
                return
            a, b = ([int(v(env)) for v in values] + [0, 0])[:2]
            raise SpecRuntimeError(number_faults.fill(message, a, b, str), span)
        return check

    def s_expr_stmt(self, s: ir.ExprStmt):
        expr = self._compile(s.expr)

        def expr_stmt(env):
            expr(env)
        return expr_stmt


def _list_push(lst: list, args: list, cap: int, span: Span | None) -> None:
    """`push(x)`: a fault on a full list."""
    if len(lst) >= cap:
        raise SpecRuntimeError(f"push onto a full list (capacity {cap})", span)
    lst.append(args[0])


def _list_insert(lst: list, args: list, cap: int, span: Span | None) -> None:
    """`insert(i, x)`: a fault on a full list or past its end."""
    if len(lst) >= cap or args[0] > len(lst):
        raise SpecRuntimeError(f"insert at {args[0]} into a list of length {len(lst)} (capacity {cap})", span)
    lst.insert(args[0], args[1])


def _list_remove_at(lst: list, args: list, cap: int, span: Span | None) -> None:
    """`remove_at(i)`: a fault past the end."""
    if args[0] >= len(lst):
        raise SpecRuntimeError(f"remove_at({args[0]}) on a list of length {len(lst)}", span)
    lst.pop(args[0])


def _list_discard(front: bool) -> Callable[[list, list, int, Span | None], None]:
    """`draw()`/`pop()` as a statement (`discard_front`, `discard_back`): a fault on an empty list."""
    def discard(lst: list, args: list, cap: int, span: Span | None) -> None:
        if not lst:
            raise SpecRuntimeError("`draw()`/`pop()` from an empty list", span)
        lst.pop(0 if front else -1)
    return discard


# `ListOp.op` -> its run on (list, copied arguments, capacity, span); `shuffle` needs the
# interpreter's state (`Interpreter._shuffle`).
_LIST_OPS: dict[str, Callable[[list, list, int, Span | None], None]] = {
    "push": _list_push, "insert": _list_insert, "remove_at": _list_remove_at,
    "clear": lambda lst, args, cap, span: lst.clear(),
    "discard_front": _list_discard(True), "discard_back": _list_discard(False),
}


# The same after their `check` (`lower_lists`): no test, so that a missing check shows as a
# list longer than its capacity or Python's IndexError in `envc verify --targets flat`.
def _insert_unchecked(lst: list, args: list, cap: int, span: Span | None) -> None:
    """`insert(i, x)` after its check: past the end an IndexError (Python's `list.insert` would
    append there without a word), a bug of `lower_lists`."""
    if args[0] > len(lst):
        raise IndexError(f"insert at {args[0]} into a list of length {len(lst)}: a check of `lower_lists` is missing")
    lst.insert(args[0], args[1])


_UNCHECKED_OPS: dict[str, Callable[[list, list, int, Span | None], None]] = {
    "push": lambda lst, args, cap, span: lst.append(args[0]),
    "insert": _insert_unchecked,
    "remove_at": lambda lst, args, cap, span: lst.pop(args[0]),
    "clear": _LIST_OPS["clear"],
    "discard_front": lambda lst, args, cap, span: lst.pop(0),
    "discard_back": lambda lst, args, cap, span: lst.pop(),
}


def _numeric_builtin(name: str, args: list[Callable[[dict], Any]]) -> Callable[[dict], Any]:
    """The closure of `min`, `max`, `abs`, `clamp`, `int`, `float` or `len` on compiled `args`."""
    x = args[0]
    if name in ("min", "max"):
        pick = min if name == "min" else max
        return lambda env: pick([a(env) for a in args])
    if name == "clamp":
        lo, hi = args[1], args[2]

        def clamp(env):
            v, a, b = x(env), lo(env), hi(env)
            return min(max(v, a), b)
        return clamp
    ones: dict[str, Callable[[Any], Any]] = {"abs": abs, "int": int, "float": np.float32, "len": len}
    one = ones.get(name)
    if one is None:  # pragma: no cover (the checker admits no other builtin)
        raise AssertionError(name)
    return lambda env: one(x(env))


def _sequence_builtin(name: str, args: list[Callable[[dict], Any]], floats: bool) -> Callable[[dict], Any]:
    """The closure of `contains(seq, v)` or `count(seq, v)`; `floats`: the items hold floats,
    which are compared with `==` all the way down (`_equal`: a NaN differs from itself, also
    inside a record or an array), where Python's `in`, `list.count` and container equality
    take the same object as equal (a NaN pushed and looked up was found; a fresh spec: the
    backends compare values)."""
    x, y = args[0], args[1]
    if floats:
        def count_eq(env):
            seq, v = x(env), y(env)
            return sum(1 for item in seq if _equal(item, v))
        if name == "count":
            return count_eq

        def contains_eq(env):
            seq, v = x(env), y(env)
            return any(_equal(item, v) for item in seq)
        return contains_eq
    if name == "contains":
        def contains(env):
            seq = x(env)
            return y(env) in seq
        return contains

    def count(env):
        seq = x(env)
        return seq.count(y(env))
    return count


def _equal(a: Any, b: Any) -> bool:
    """Value equality of two values of one type, element by element and field by field, with
    no identity shortcut (a float NaN is not equal to itself)."""
    if isinstance(a, dict):
        return all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(p, q) for p, q in zip(a, b))
    return bool(a == b)


def eval_const(e: ir.Expr, tables: dict[str, ir.TableDef] | None = None) -> Any:
    """Fold a constant expression to a plain value (floats as Python floats).

    Raises:
        ConstEvalError: when `e` reads state or locals, or draws random numbers.
    """
    v = Evaluator(None, tables).eval(e, {})
    return _plain(v)


def _logged(f: Callable[[dict], Any], log: set[bool]) -> Callable[[dict], Any]:
    """Closure `f` of a boolean expression that also adds each value it gives to `log`."""
    def run(env):
        v = f(env)
        log.add(bool(v))
        return v
    return run


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
        module = choice_points.run(module)  # the representation of paused effects (idempotent)
        self.module = module
        self.actions = ActionSpace(module)
        self.num_actions = self.actions.n
        self.num_players = module.num_players
        self.ev = Evaluator(module)
        # how a `choose` reached by `call` (no step to pause) picks when no policy is given: None
        # takes the lowest legal option; the fill judge also runs the highest (`props.falsify`)
        self.default_choices: Callable[[ir.Choose, list[int], int], int] | None = None
        self._plan = choice_points.plan(module) if module.choice is not None and not module.choice.lowered else None
        self.ev.points_plan = self._plan
        if self._plan is not None:
            for bp in self._plan.bodies.values():
                for pt in bp.points:
                    self.ev.points[id(pt.stmt)] = (bp, pt.j)
        self._defaults = {f.name: to_value(f.type, f.default) for f in module.state}
        self._step_max = next(ir.int_of(f.type).hi for f in module.state if f.name == "step_count")
        self._mask_plan = self._plan_mask()

    # ------------------------------------------------------------------ API
    def init(self, seed: int) -> State:
        """The initial state for integer `seed` (taken mod 2^32)."""
        s = State(copy_value(self._defaults), rng.seed_key(seed), 0)
        self._run(s, self.module.init, {})
        self._finish(s)
        return s

    def step(self, state: State, action: int) -> State:
        """The state after `action` (a flat index in `0..num_actions-1`); `state` is unchanged.
        An index outside the action space is an illegal action (rule 2 of the module docstring),
        as on every backend.

        Raises:
            SpecRuntimeError: on a runtime fault of the spec, or an illegal action under
                `illegal_action error`.
        """
        action = int(action)
        s = state.copy()
        f = s.fields
        zeros = [np.float32(0.0) for _ in range(self.num_players)]
        if f["terminated"] or f["truncated"]:
            f["rewards"] = zeros
            return s
        if not (0 <= action < self.num_actions and state.legal_action_mask[action]):
            if self.module.illegal_action == "error":
                raise SpecRuntimeError(f"illegal action {self.actions.format(action)} (the spec says "
                                       "`illegal_action error`)")
            mover = f["current_player"]
            f["step_count"] = min(f["step_count"] + 1, self._step_max)
            if self.module.illegal_action == "pgx" and 0 <= action < self.num_actions:
                # Pgx's `Env.step`: the action runs, then the penalty (an index outside the
                # action space names no action: nothing runs)
                f["rewards"] = zeros
                kind, values = self.actions.decode(action)
                a = self.module.actions[kind.index]
                self._run(s, a.body, {p.name: v for p, v in zip(a.params, values)}, pausable=True)
            f["rewards"] = [np.float32(-1.0 if p == mover else float(self.num_players - 1))
                            for p in range(self.num_players)]
            f["terminated"] = True
            self._finish(s)
            return s
        f["rewards"] = zeros
        f["step_count"] = min(f["step_count"] + 1, self._step_max)
        kind, values = self.actions.decode(action)
        a = self.module.actions[kind.index]
        plan, choice = self._plan, self.module.choice  # a plan only when the module has a `choose` kind
        if plan is not None and choice is not None and kind.index == choice.action:
            self._resume(plan, s, values[0])
        else:
            self._run(s, a.body, {p.name: v for p, v in zip(a.params, values)}, pausable=True)
        if self.module.epilogue:
            self._run(s, self.module.epilogue, {})
        limit = self.module.turn_limit
        if limit is not None and f["step_count"] >= limit and not f["terminated"]:
            f["truncated"] = True
        self._finish(s)
        return s

    def legal_action_masks(self, state: State) -> list[list[bool]]:
        """The legal-action mask of every player (`[num_players][num_actions]`): each player's
        guards evaluated as if that player were `current_player` (all true once terminated).
        In a simultaneous spec, at the start of a turn, row p is what player p may choose
        (see `envc.compiler.passes.simultaneous`)."""
        if state.fields["terminated"]:
            return [[True] * self.num_actions for _ in range(self.num_players)]
        saved = state.fields["current_player"]
        try:
            rows = []
            for p in range(self.num_players):
                state.fields["current_player"] = p
                rows.append(self.legal_action_mask(state))
            return rows
        finally:
            state.fields["current_player"] = saved

    def step_joint(self, state: State, actions: list[int]) -> State:
        """A turn of a simultaneous spec: player p plays `actions[p]`, all at once. Defined as
        the players' commits in index order (`step` for each, up to the one that ends the
        game: an illegal action ends it at once), from a state at the start of a turn
        (`current_player` 0, as `init` and `step_joint` leave it). On a finished game only
        the rewards reset, as in `step`.

        Raises:
            ValueError: the spec is not simultaneous, `state` is in the middle of a turn, or
                `actions` does not hold one action per player.
            IndexError, SpecRuntimeError: as `step`.
        """
        if self.module.simultaneous is None:
            raise ValueError(f"`{self.module.name}` is not a simultaneous spec: use `step`")
        if len(actions) != self.num_players:
            raise ValueError(f"{len(actions)} actions for {self.num_players} players")
        if state.fields["current_player"] != 0 and not (state.fields["terminated"] or state.fields["truncated"]):
            raise ValueError(f"the state is in the middle of a turn (player {state.fields['current_player']} "
                             "commits next): `step_joint` starts from the start of a turn")
        if state.fields["terminated"] or state.fields["truncated"]:
            return self.step(state, int(actions[0]))
        for a in actions:
            state = self.step(state, int(a))
            if state.fields["terminated"] or state.fields["truncated"]:
                break
        return state

    def observe_all(self, state: State) -> list[Any]:
        """`observe(state, p)` of every player p."""
        return [self.observe(state, p) for p in range(self.num_players)]

    def legal_action_mask(self, state: State) -> list[bool]:
        """One bool per flat action: the action's `when` guard for its parameter values."""
        ev = self.ev
        ev.state = state
        ev._memo = {}  # guards cannot change the state: `fn` results are shared between them
        try:
            mask: list[bool] = []
            for shared, rest, envs in self._mask_plan:
                if shared is None:  # no guard
                    mask.extend([True] * len(envs))
                elif all(c({}) for c in shared):
                    mask.extend([all(c(env) for c in rest) for env in envs])
                else:
                    mask.extend([False] * len(envs))
            return mask
        finally:
            ev.state = None
            ev._memo = None

    def _plan_mask(self) -> list[tuple[list[Callable] | None, list[Callable], list[dict]]]:
        """Per action kind: (the guard's leading `and` operands that read no parameter, the
        other operands, one environment per parameter value). A guard `A and B(h)` is then
        `A` once and `B(h)` per `h`, the same values: a guard cannot draw or change the state,
        so the quiet short circuit of `and` applies (see the module docstring)."""
        plan: list[tuple[list[Callable] | None, list[Callable], list[dict]]] = []
        for kind in self.actions.kinds:
            guard = self.module.actions[kind.index].guard
            envs = []
            for i in range(kind.size):
                _, values = self.actions.decode(kind.offset + i)
                envs.append({p.name: v for p, v in zip(kind.params, values)})
            if guard is None:
                plan.append((None, [], envs))
                continue
            conjuncts = irutil.conjuncts(guard) if ir.first_draw(guard) is None else [guard]
            names = {p.name for p in kind.params}
            k = 0
            while k < len(conjuncts) and not _reads_local(conjuncts[k], names):
                k += 1
            compiled = [self.ev._compile(c) for c in conjuncts]
            plan.append((compiled[:k], compiled[k:], envs))
        return plan

    def observe(self, state: State, player: int) -> Any:
        """The observation of `player` (nested lists shaped like the `observe` type).

        Raises:
            ValueError: `player` is not in `0..num_players - 1` (-1 read the last player's
                private slots through Python's negative index, as Rust refuses it).
        """
        n = self.module.num_players
        if isinstance(player, bool) or not isinstance(player, (int, np.integer)) or not 0 <= player < n:
            raise ValueError(f"player {player!r} is outside 0..{n - 1}")
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

    def call(self, state: State, fn: str, args: list[Any],
             choices: Callable[[ir.Choose, list[int], int], int] | None = None) -> tuple[State, Any]:
        """Run `fn` or `proc` `fn` on a copy of `state` with `args`; returns (new state, result or None).

        A `choose` reached here does not pause (there is no step to end): `choices(statement,
        legal options, chooser)` picks the option, by default `self.default_choices`, else the
        lowest legal one."""
        s = state.copy()
        f = self.module.fn(fn)
        ev = self.ev
        ev.state = s
        ev.choice_policy = choices if choices is not None else self.default_choices
        try:
            ev.run_block(f.body, {p.name: copy_value(a) for p, a in zip(f.params, args)})
        except _Return as r:
            return s, r.value
        finally:
            ev.state = None
            ev.choice_policy = None
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

    def _run(self, s: State, stmts: list[ir.Stmt], env: dict, pausable: bool = False) -> None:
        ev = self.ev
        ev.state = s
        ev.pausable = pausable
        try:
            ev.run_block(stmts, env)
        except _Pause:  # a `choose` paused the effect: the state holds its continuation
            pass
        except _Return:  # pragma: no cover - the checker forbids return outside functions
            pass
        finally:
            ev.state = None
            ev.pausable = False

    def _resume(self, plan: choice_points.Plan, s: State, option: int) -> None:
        """Step `choose(option)`: store the option, continue the paused action's body."""
        s.fields[choice_points.OPTION] = option
        bp = next(b for b in plan.bodies.values() if b.kind == "action" and s.fields[b.at] != 0)
        ev = self.ev
        ev.state = s
        ev.pausable = True
        try:
            ev.resume(bp, {})
        except _Pause:
            pass
        finally:
            ev.state = None
            ev.pausable = False

    def _finish(self, s: State) -> None:
        if s.fields["terminated"]:
            s.legal_action_mask = [True] * self.num_actions
        else:
            s.legal_action_mask = self.legal_action_mask(s)
        s.observation = self.observe(s, s.fields["current_player"])


def heads(key: int, counter: int) -> bool:
    """Whether draw `counter` under `key` is heads for `random.coin()`, which the checker
    writes `random.int(0, 1) == 1` (one draw): what `flip(k)` in a hole's checks reads."""
    return rng.randint(key, counter, 0, 1) == 1


def _reads_local(e: ir.Node, names: set[str]) -> bool:
    """Whether expression `e` reads a local named in `names` (function bodies excluded:
    they see only their own parameters)."""
    if isinstance(e, ir.Local):
        return e.name in names
    for field_name in type(e).model_fields:
        value = getattr(e, field_name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                item = item[1]
            if isinstance(item, ir.Node) and _reads_local(item, names):
                return True
    return False


def values_equal(a: Any, b: Any) -> bool:
    """Exact equality of interpreter values (float32 compared by value, NaN equal to NaN)."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, (float, np.floating)) and math.isnan(a):
        return isinstance(b, (float, np.floating)) and math.isnan(b)
    return a == b
