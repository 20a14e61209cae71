"""Generated property tests of a fill: what a candidate must pass before it is accepted.

Public surface: `value_strategy(module, t)`, `state_strategy(module, pool)`,
`reachable_states(module)`, `check_call(...)`, `falsify(...) -> Counterexample | None`,
`work_bound(module, fn) -> int`, `MAX_WORK`, `dsl_value(module, t, v)`, `type_errors`.

States are drawn by hypothesis from the IR types: every field within its declared type
(integers in their range, lists no longer than their capacity, records, enums, rows), the
RNG words any uint32. Four kinds, mixed: states reached by random legal play on the
interpreter (the holes already filled run, an action that reaches an unfilled one is not
taken); such states with one or two fields redrawn within their types; such states with
elements moved between lists of one element type (a card from the deck to the hand: this
keeps conservation invariants, and reaches empty decks and full hands that short games
rarely do); and states drawn wholly from the types. Arguments are drawn from the
parameters' declared types.

On each (state, arguments) the hole's fill runs on the interpreter (`Interpreter.call`),
and these must hold:

* invariants: each of the spec's invariants that held before the call holds after it;
* ranges: every state field (and the result) is within its declared type after the call;
* determinism: the same state, arguments and RNG words give the same state and result;
* where every invariant held before (a state of the game the spec allows):
  every `ensures` clause holds (`old(x)` reads the state before the call), and the call
  does not fault (`fail`, a draw from an empty list, a push onto a full one).

Hypothesis shrinks a failing example; it is printed as DSL values for the repair prompt.
Before any run, `work_bound` bounds the work of one call from the IR (loops have constant
bounds): a fill above `MAX_WORK` is rejected without being run, so no answer can hang.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from envc.compiler import ir
from envc.compiler.interp import Interpreter, SpecRuntimeError, State, copy_value, values_equal

#: the most IR nodes one call of a fill may evaluate (a static bound, see `work_bound`)
MAX_WORK = 200_000
#: a state field holding more scalars is never drawn whole (it keeps its reached or default value)
MAX_DRAWN_CELLS = 1024
UINT32 = st.integers(min_value=0, max_value=0xFFFFFFFF)


# ------------------------------------------------------------------ strategies

def value_strategy(module: ir.Module, t: ir.Type, _cache: dict | None = None) -> st.SearchStrategy:
    """Values of IR type `t` in the interpreter's representation (ints, bools, float32,
    nested lists, dicts for records); lists are at most their capacity long."""
    if isinstance(t, ir.BoolT):
        return st.booleans()
    if isinstance(t, ir.IntT):
        return st.integers(min_value=t.lo, max_value=t.hi)
    if isinstance(t, ir.FloatT):
        return st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, width=32).map(np.float32)
    if isinstance(t, ir.EnumT):
        return st.integers(min_value=0, max_value=t.size - 1)
    if isinstance(t, ir.RowT):
        return st.integers(min_value=0, max_value=t.rows - 1)
    if isinstance(t, ir.ArrayT):
        return st.lists(value_strategy(module, t.elem), min_size=t.size, max_size=t.size)
    if isinstance(t, ir.ListT):
        return st.lists(value_strategy(module, t.elem), max_size=t.cap)
    assert isinstance(t, ir.RecordT), t
    rec = module.record(t.name)
    return st.fixed_dictionaries({f.name: value_strategy(module, f.type) for f in rec.fields})


def _builtin_strategy(module: ir.Module, f: ir.FieldDef) -> st.SearchStrategy:
    # a hole runs inside an action's body: the game is live and the rewards were just reset
    if f.name == "rewards":
        return st.just([np.float32(0.0)] * module.num_players)
    if f.name in ("terminated", "truncated"):
        return st.just(False)
    return value_strategy(module, f.type)


def _list_slots(module: ir.Module, t: ir.Type, path: tuple) -> list[tuple[tuple, ir.ListT]]:
    """Every list inside a value of type `t` (through arrays and records, not inside lists)."""
    if isinstance(t, ir.ListT):
        return [(path, t)]
    if isinstance(t, ir.ArrayT):
        return [s for i in range(t.size) for s in _list_slots(module, t.elem, path + (i,))]
    if isinstance(t, ir.RecordT):
        return [s for f in module.record(t.name).fields for s in _list_slots(module, f.type, path + (f.name,))]
    return []


def _at(values: dict, path: tuple) -> Any:
    v = values
    for k in path:
        v = v[k]
    return v


def _moves(module: ir.Module):
    """A strategy of functions that move elements between lists of one element type. A
    move prefers a partner list at the same indices (`deck[p]` to `hand[p]`: per-player
    conservation holds), and often moves all it can (an empty deck, a full hand)."""
    slots = [s for f in module.state if not f.builtin for s in _list_slots(module, f.type, (f.name,))]
    partners = {i: [j for j, (_, u) in enumerate(slots) if j != i and u.elem == t.elem]
                for i, (_, t) in enumerate(slots)}
    aligned = {i: [j for j in js if slots[j][0][1:] == slots[i][0][1:]] for i, js in partners.items()}
    sources = [i for i in partners if partners[i]]
    if not sources:
        return None
    biggest = max(t.cap for _, t in slots)

    @st.composite
    def move(draw):
        a = draw(st.sampled_from(sources))
        near = aligned[a] and draw(st.integers(min_value=0, max_value=3)) > 0
        b = draw(st.sampled_from(aligned[a] if near else partners[a]))
        n = biggest if draw(st.booleans()) else draw(st.integers(min_value=1, max_value=biggest))
        front = draw(st.booleans())

        def apply(values: dict) -> None:
            src, dst = _at(values, slots[a][0]), _at(values, slots[b][0])
            k = min(n, len(src), slots[b][1].cap - len(dst))
            for _ in range(k):
                if front:  # from the top of one to the bottom of the other
                    dst.append(src.pop(0))
                else:
                    dst.insert(0, src.pop())

        return apply

    return st.lists(move(), min_size=1, max_size=4)


def _cells(module: ir.Module, t: ir.Type) -> int:
    if isinstance(t, ir.ArrayT):
        return t.size * _cells(module, t.elem)
    if isinstance(t, ir.ListT):
        return t.cap * _cells(module, t.elem)
    if isinstance(t, ir.RecordT):
        return sum(_cells(module, f.type) for f in module.record(t.name).fields)
    return 1


def state_strategy(module: ir.Module, pool: list[State]) -> st.SearchStrategy:
    """States of `module`: from `pool` (reached states) as they are, with one or two
    fields redrawn within their types, or with list elements moved; or drawn wholly from
    the types (a field too large to draw, see `MAX_DRAWN_CELLS`, keeps its default)."""
    from envc.compiler.interp import to_value

    fields = [f for f in module.state if not f.builtin and _cells(module, f.type) <= MAX_DRAWN_CELLS]
    big = {f.name: f for f in module.state if not f.builtin and _cells(module, f.type) > MAX_DRAWN_CELLS}
    by_name = {f.name: f for f in module.state}
    moves = _moves(module) if pool else None
    kinds = ["typed"]
    if pool:
        kinds = ["reached", "perturbed"] + (["moved", "moved"] if moves is not None else []) + ["typed"]

    @st.composite
    def states(draw):
        kind = draw(st.sampled_from(kinds))
        if kind == "typed":
            values = {f.name: copy_value(to_value(f.type, f.default)) if f.name in big else
                      draw(_builtin_strategy(module, f) if f.builtin else value_strategy(module, f.type))
                      for f in module.state}
        else:
            values = copy_value(draw(st.sampled_from(pool)).fields)
            if kind == "perturbed" and fields:
                names = draw(st.lists(st.sampled_from([f.name for f in fields]), min_size=1, max_size=2, unique=True))
                for name in names:
                    values[name] = draw(value_strategy(module, by_name[name].type))
            if kind == "moved":
                for apply in draw(moves):
                    apply(values)
        return State(values, draw(UINT32), draw(UINT32))

    return states()


def reachable_states(module: ir.Module, episodes: int = 12, max_steps: int = 60, seed: int = 0,
                     keep: int = 200) -> list[State]:
    """States reached by random legal play from seeds `seed..seed+episodes-1`. An action
    whose step raises (it reaches a hole with no fill yet, or faults) is not taken; an
    episode ends when no action can be taken. Empty when `init` itself cannot run."""
    it = Interpreter(module)
    policy = random.Random(seed)
    out: list[State] = []
    for ep in range(episodes):
        try:
            s = it.init(seed + ep)
        except Exception:  # init reaches an unfilled hole: no reachable states
            return out
        out.append(s)
        for _ in range(max_steps):
            if s.terminated or s.truncated:
                break
            legal = [a for a, ok in enumerate(s.legal_action_mask) if ok]
            policy.shuffle(legal)
            nxt = None
            for a in legal:
                try:
                    nxt = it.step(s, a)
                    break
                except Exception:  # an unfilled hole, or a fault of the spec: try another action
                    continue
            if nxt is None:
                break
            s = nxt
            out.append(s)
    if len(out) > keep:
        out = [out[i * len(out) // keep] for i in range(keep)]
    return out


# ------------------------------------------------------------------ values

def type_errors(module: ir.Module, t: ir.Type, v: Any, where: str) -> list[str]:
    """Every way in which interpreter value `v` is not a value of IR type `t`."""
    if isinstance(t, ir.BoolT):
        return [] if isinstance(v, (bool, np.bool_)) else [f"`{where}` = {v!r} is not a bool"]
    if isinstance(t, ir.IntT):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            return [f"`{where}` = {v!r} is not an integer"]
        return [] if t.lo <= v <= t.hi else [f"`{where}` = {v} is outside its declared range {t.lo}..{t.hi}"]
    if isinstance(t, ir.FloatT):
        return [] if isinstance(v, (float, np.floating)) else [f"`{where}` = {v!r} is not a float32"]
    if isinstance(t, (ir.EnumT, ir.RowT)):
        n = t.size if isinstance(t, ir.EnumT) else t.rows
        ok = isinstance(v, (int, np.integer)) and 0 <= v < n
        return [] if ok else [f"`{where}` = {v!r} is not a value of `{t}`"]
    if isinstance(t, (ir.ArrayT, ir.ListT)):
        if not isinstance(v, list):
            return [f"`{where}` is not a list"]
        if isinstance(t, ir.ArrayT) and len(v) != t.size:
            return [f"`{where}` has {len(v)} items, not {t.size}"]
        if isinstance(t, ir.ListT) and len(v) > t.cap:
            return [f"`{where}` has {len(v)} items, more than its capacity {t.cap}"]
        return [e for i, x in enumerate(v) for e in type_errors(module, t.elem, x, f"{where}[{i}]")]
    rec = module.record(t.name)
    if not isinstance(v, dict) or set(v) != {f.name for f in rec.fields}:
        return [f"`{where}` does not have the fields of `{t.name}`"]
    return [e for f in rec.fields for e in type_errors(module, f.type, v[f.name], f"{where}.{f.name}")]


def dsl_value(module: ir.Module, t: ir.Type, v: Any) -> str:
    """`v` written as a DSL value: `true`, `3`, `1.5`, `Suit.red`, `Card(suit: ..., rank: 2)`,
    `[1, 2]`; a table row as `Unit#3` (row 3 of table `Unit`)."""
    if isinstance(t, ir.BoolT):
        return "true" if v else "false"
    if isinstance(t, ir.IntT):
        return str(int(v))
    if isinstance(t, ir.FloatT):
        return repr(float(v))
    if isinstance(t, ir.EnumT):
        members = module.enum(t.name).members
        return f"{t.name}.{members[v]}" if 0 <= v < len(members) else f"{t.name}#{v}"
    if isinstance(t, ir.RowT):
        return f"{t.table}#{v}"
    if isinstance(t, (ir.ArrayT, ir.ListT)):
        return "[" + ", ".join(dsl_value(module, t.elem, x) for x in v) + "]"
    rec = module.record(t.name)
    return f"{t.name}(" + ", ".join(f"{f.name}: {dsl_value(module, f.type, v[f.name])}" for f in rec.fields) + ")"


# ------------------------------------------------------------------ one call

@dataclass
class Outcome:
    """What went wrong on one call; `after`/`result` are None when the call faulted."""

    problems: list[str]
    after: State | None = None
    result: Any = None


def _invariants(it: Interpreter, s: State) -> dict[str, bool]:
    ev = it.ev
    out = {}
    for inv in it.module.invariants:
        ev.state = s
        try:
            out[inv.name] = bool(ev.eval(inv.expr, {}))
        except Exception:  # an invariant that cannot be evaluated here does not hold
            out[inv.name] = False
        finally:
            ev.state = None
    return out


def _call(it: Interpreter, hole: ir.HoleDef, before: State, args: list[Any]):
    """(state after, result, fault message or None)."""
    try:
        after, result = it.call(before, hole.name, args)
    except SpecRuntimeError as e:
        return None, None, f"the call faults: {e}"
    except RecursionError:
        return None, None, "the call nests too deeply"
    except Exception as e:  # a hole reached through a spec proc that has no fill yet, ...
        return None, None, f"the call cannot run: {type(e).__name__}: {e}"
    return after, result, None


def _same(a: State, b: State) -> bool:
    return (a.rng_key == b.rng_key and a.rng_counter == b.rng_counter
            and a.fields.keys() == b.fields.keys() and all(values_equal(a.fields[k], b.fields[k]) for k in a.fields))


def check_call(it: Interpreter, hole: ir.HoleDef, before: State, args: list[Any],
               clause_text: list[str]) -> Outcome:
    """Run the fill of `hole` on `before` with `args` and list every broken property
    (see the module docstring); `clause_text[i]` is the source of `ensures` clause i."""
    module = it.module
    held = _invariants(it, before)
    valid = all(held.values())
    after, result, fault = _call(it, hole, before, args)
    if fault is not None:
        return Outcome([fault] if valid else [])
    problems: list[str] = []
    for f in module.state:
        problems += type_errors(module, f.type, after.fields.get(f.name), f.name)
    if hole.ret is not None:
        problems += type_errors(module, hole.ret, result, "result")
    if valid:
        try:
            failed = it.ensures_failures(hole, before, after, args, result)
        except SpecRuntimeError as e:
            failed, problems = [], problems + [f"an `ensures` clause faults on this call: {e}"]
        problems += [f"`ensures {clause_text[i]}` does not hold" for i in failed]
    now = _invariants(it, after)
    problems += [f"invariant `{name}` held before the call and does not after it"
                 for name, ok in held.items() if ok and not now.get(name, False)]
    again, result2, fault2 = _call(it, hole, before, args)
    if fault2 is not None or not _same(after, again) or not values_equal(result, result2):
        problems.append("the call is not deterministic: the same state, arguments and random words "
                        "gave a different outcome")
    return Outcome(problems, after, result)


# ------------------------------------------------------------------ search

@dataclass
class Counterexample:
    """A (shrunk) failing call: the state before, the arguments, what broke."""

    before: State
    args: list[Any]
    outcome: Outcome

    def render(self, module: ir.Module, hole: ir.HoleDef) -> str:
        """The example as DSL values, for a person or a repair prompt."""
        shown = [f for f in module.state if not f.builtin or f.name == "current_player"]
        lines = ["falsifying example (shrunk by hypothesis):", "  state before the call:"]
        lines += [f"    {f.name} = {dsl_value(module, f.type, self.before.fields[f.name])}" for f in shown]
        lines.append(f"    (random words: key {self.before.rng_key}, counter {self.before.rng_counter})")
        call = ", ".join(f"{p.name}: {dsl_value(module, p.type, a)}" for p, a in zip(hole.params, self.args))
        lines.append(f"  call: {hole.name}({call})")
        after = self.outcome.after
        if after is not None:
            changed = [f for f in module.state
                       if not values_equal(self.before.fields[f.name], after.fields.get(f.name))]
            lines.append("  state after the call (changed fields):" if changed else
                         "  state after the call: unchanged")
            for f in changed:
                v = after.fields.get(f.name)
                shown_v = dsl_value(module, f.type, v) if not type_errors(module, f.type, v, f.name) else repr(v)
                lines.append(f"    {f.name} = {shown_v}")
            if hole.ret is not None:
                lines.append(f"  result = {dsl_value(module, hole.ret, self.outcome.result)}")
        lines.append("  what went wrong:")
        lines += [f"    - {p}" for p in self.outcome.problems]
        return "\n".join(lines)


class _Falsified(Exception):
    pass


def falsify(module: ir.Module, hole_name: str, pool: list[State], clause_text: list[str],
            max_examples: int = 200, seed: int = 0) -> Counterexample | None:
    """Search for a call of `hole_name`'s fill that breaks a property; None when
    `max_examples` examples pass. Deterministic: hypothesis runs from `seed`."""
    it = Interpreter(module)
    hole = next(h for h in module.holes if h.name == hole_name)
    seen: list[Counterexample] = []

    def prop(state, args):
        outcome = check_call(it, hole, state, list(args), clause_text)
        if outcome.problems:
            seen.append(Counterexample(state, list(args), outcome))
            raise _Falsified()

    test = settings(max_examples=max_examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, report_multiple_bugs=False,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink], print_blob=False)(
        given(state_strategy(module, pool),
              st.tuples(*(value_strategy(module, p.type) for p in hole.params)))(prop))
    test = hypothesis_seed(seed)(test)
    try:
        test()
    except _Falsified:
        return seen[-1]
    except Exception:  # hypothesis gave up (e.g. flaky): report what was seen, if anything
        if seen:
            return seen[-1]
        raise
    return None


# ------------------------------------------------------------------ static work bound

_TYPES = (ir.BoolT, ir.IntT, ir.FloatT, ir.EnumT, ir.RecordT, ir.RowT, ir.ArrayT, ir.ListT)


def work_bound(module: ir.Module, fn: str) -> int:
    """An upper bound on the IR nodes one call of `fn` evaluates: loops have constant
    bounds and there is no recursion, so it is finite and computed without running."""
    fns = {f.name: f for f in module.fns}
    memo: dict[str, int] = {}

    def call_cost(name: str) -> int:
        if name not in memo:
            memo[name] = 1  # (recursion is rejected by the checker)
            f = fns.get(name)
            memo[name] = 1 + (block(f.body) if f is not None else 0)
        return memo[name]

    def node(x: Any) -> int:
        if isinstance(x, list):
            return sum(node(y) for y in x)
        if isinstance(x, tuple):
            return sum(node(y) for y in x if isinstance(y, (ir.Node, list)))
        if not isinstance(x, ir.Node) or isinstance(x, _TYPES):
            return 0
        if isinstance(x, (ir.Reduce, ir.ArrayBuild)):
            return 1 + (x.hi - x.lo) * (node(x.body) + 1)
        if isinstance(x, ir.CallFn):
            return 1 + node(x.args) + call_cost(x.fn)
        if isinstance(x, ir.ListOp) and x.op == "shuffle":
            return 1 + node(x.place) + x.place.type.cap
        return 1 + sum(node(getattr(x, k)) for k in type(x).model_fields if k not in ("type", "span"))

    def stmt(s: ir.Stmt) -> int:
        if isinstance(s, ir.For):
            return 1 + (s.hi - s.lo) * (block(s.body) + 1)
        if isinstance(s, ir.If):
            return 1 + node(s.cond) + max(block(s.then), block(s.orelse))
        if isinstance(s, ir.Match):
            return 1 + node(s.subject) + max([block(a.body) for a in s.arms] or [0])
        if isinstance(s, ir.CallProc):
            return 1 + node(s.args) + call_cost(s.proc)
        return node(s)

    def block(stmts: list[ir.Stmt]) -> int:
        return sum(stmt(s) for s in stmts)

    return call_cost(fn)
