"""Generated property tests of a fill: what a candidate must pass before it is accepted.

Public surface: `StartStates(module)`, `value_strategy(module, t)`, `state_strategy(module,
starts)`, `invariant_reads(module)`, `Context(module, hole)`, `check_call(...)`,
`falsify(...) -> Counterexample | None`, `work_bound(module, fn) -> int`, `MAX_WORK`,
`dsl_value(module, t, v)`, `row_legend(module, values)`, `type_errors`.

Starting states. A hole runs inside an action of a game in progress, so the states it is
tested on should be states of the game. Hypothesis chooses a seed and a position in the
game: the state is the one the reference interpreter reaches from `init(seed)` after n
random legal actions, n being that fraction of the game's length (the policy is seeded by
the seed too; the holes already filled run; an action that reaches an unfilled hole or
faults is not taken; the state at the end is the last one before the game ended, since no
hole runs on a finished game). A seed's game is played once (at most `max_steps`
actions) and cached (`StartStates`, one per fill file text). Seeds range over
`0..seeds-1` (8 by default) and positions over `0..POSITIONS-1`, so states from the whole
game are drawn about evenly; shrinking goes towards `init(0)`. Such a state is used

* as it was reached;
* *perturbed*: one or two fields redrawn within their types (three times in four a field
  that no invariant reads, such as the damage of the attack being resolved, so that the
  state stays one the invariants allow);
* *moved*: elements moved between lists of one element type (a card from the deck to the
  hand keeps conservation invariants, and reaches empty decks and full hands that random
  games seldom do).

States drawn wholly from the types (every field within its declared type) are used too,
but only when the spec declares no invariant, or when no state can be reached (`init`
calls an unfilled hole). Decision: a spec with invariants (card conservation, ...) almost
never has a type-drawn state that satisfies them (0 in 200 for `specs/tcg.envspec` and
for `tests/specs/mini_tcg.envspec`), and on a state that breaks an invariant the
`ensures` and the no-fault rule are not checked, so such examples are wasted: for those
specs every starting state comes from play.
Arguments are always drawn from the parameters' declared types.

On each (state, arguments) the hole's fill runs on the interpreter (`Interpreter.call`),
and these must hold:

* invariants: each of the spec's invariants that held before the call holds after it,
  as far as the action around the call can tell. A hole runs inside an action, and a spec
  may restore an invariant only at the end of it (`specs/tcg.envspec`: a Pokémon's damage
  reaches its HP in the middle of an attack, and `knock_outs` clears it before the action
  ends; so a correct "this Pokémon also does 20 damage to itself" breaks `hp_bounds` right
  after the call). So a break right after the call is confirmed in context (`Context`):
  the actions that run the hole (a family member runs wherever the spec runs its family,
  whatever the card's text) are tried from the same state, legal ones first, and in the
  first that runs the fill, the invariant must be broken at the end of the action while
  the same action with the hole doing nothing keeps it. A break is excused when that
  action restores the invariant; it is reported as it is when no action runs the hole
  or none could run it from that state. (The action passes its own arguments to the
  fill, which may differ from the drawn ones.);
* ranges: every state field (and the result) is within its declared type after the call;
* determinism: the same state, arguments and RNG words give the same state and result;
* where every invariant held before (a state of the game the spec allows):
  every `ensures` clause holds (`old(x)` reads the state before the call), and the call
  does not fault (`fail`, a draw from an empty list, a push onto a full one).

An invariant is evaluated again after the call only when the call changed a state field
that it reads (`invariant_reads`, through the `fn`s it calls), and the invariants of a
reached state are computed once: conservation invariants over decks are the costly part.

Hypothesis shrinks a failing example; it is printed as DSL values for the repair prompt,
with where its state came from (`reached from init(3) after 41 random legal actions`).
Before any run, `work_bound` bounds the work of one call from the IR (loops have constant
bounds): a fill above `MAX_WORK` is rejected without being run, so no answer can hang.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from envc.compiler import ir, irutil
from envc.compiler.check_lang import RESERVED_PREFIX
from envc.compiler.interp import Interpreter, SpecRuntimeError, State, copy_value, to_value, values_equal
from envc.compiler.printer import print_source_expr, print_source_place
from envc.llm_fill.textchecks import Example, TextChecks, call_scope, random_note, small_domain, with_contexts

#: the most IR nodes one call of a fill may evaluate (a static bound, see `work_bound`)
MAX_WORK = 200_000
#: hypothesis draws a position 0..POSITIONS-1 in a played game (0: its initial state)
POSITIONS = 1000
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

        def apply(values: dict) -> set[str]:
            src, dst = _at(values, slots[a][0]), _at(values, slots[b][0])
            k = min(n, len(src), slots[b][1].cap - len(dst))
            for _ in range(k):
                if front:  # from the top of one to the bottom of the other
                    dst.append(src.pop(0))
                else:
                    dst.insert(0, src.pop())
            return {slots[a][0][0], slots[b][0][0]} if k else set()

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


class StartStates:
    """Starting states reached by random legal play on the interpreter.

    `get(seed, at)` is a state of the game played from `init(seed)` by random legal
    actions (the policy seeded by `seed`), at position `at / POSITIONS` of it; each game is
    played once and cached, and so are the invariants of the states handed out (`held`).
    `available` is false when `init` cannot run (it reaches an unfilled hole).
    """

    def __init__(self, module: ir.Module, seeds: int = 8, max_steps: int = 200):
        self.module = module
        self.it = Interpreter(module)
        self.seeds = seeds
        self.max_steps = max_steps
        self.reads = invariant_reads(module)
        self._traj: dict[int, list[State]] = {}
        self._ended: dict[int, bool] = {}
        self._policy: dict[int, random.Random] = {}
        self._held: dict[tuple[int, int], dict[str, bool]] = {}
        # what the games ran into, to tell whether a new fill could change them (`needs`)
        self.faults = 0  # steps not taken because they raised (an unfilled hole, ...)
        self.dispatched: set[tuple[str, int]] = set()  # (family dispatch, text number) run
        self._watch_dispatch()
        try:
            self._start(0)
            self.available = True
        except Exception:  # init reaches an unfilled hole, or faults: no reachable states
            self.available = False

    def _watch_dispatch(self) -> None:
        ev = self.it.ev
        dispatch = {f.dispatch for f in self.module.families}
        if not dispatch:
            return

        def watched(proc: str, args: dict) -> None:
            if proc in dispatch:
                self.dispatched.add((proc, args[ev.fns[proc].params[0].name]))

        ev.call_hook = watched

    def needs(self, hole: str) -> bool:
        """Whether filling `hole` (unfilled or stale here) may change the games played so
        far: a step was not taken because it raised, or the family's dispatch was asked
        for this member's text (which did nothing without a fresh fill)."""
        if self.faults:
            return True
        h = next((x for x in self.module.holes if x.name == hole), None)
        fam = next((f for f in self.module.families if h is not None and f.name == h.family), None)
        if fam is None:
            return False  # a call of a plain hole without a fresh fill raises: counted in `faults`
        return (fam.dispatch, fam.members.index(hole) + 1) in self.dispatched

    def _start(self, seed: int) -> None:
        if seed not in self._traj:
            s = self.it.init(seed)
            self._traj[seed] = [s]
            self._ended[seed] = bool(s.terminated or s.truncated)
            self._policy[seed] = random.Random(seed)

    def _extend(self, seed: int) -> bool:
        """One more random legal step of trajectory `seed`; False when the game is over."""
        traj, policy = self._traj[seed], self._policy[seed]
        s = traj[-1]
        legal = [a for a, ok in enumerate(s.legal_action_mask) if ok]
        policy.shuffle(legal)
        for a in legal:
            try:
                nxt = self.it.step(s, a)
            except Exception:  # an unfilled hole, or a fault of the spec: try another action
                self.faults += 1
                continue
            if nxt.terminated or nxt.truncated:  # no hole runs on a finished game
                return False
            traj.append(nxt)
            return True
        return False

    def get(self, seed: int, at: int) -> tuple[State, int]:
        """(the state at fraction `at / POSITIONS` of the game played from `init(seed)`,
        the number of actions taken to reach it). The whole game (up to `max_steps`
        actions) is played the first time a seed is asked for."""
        self._start(seed)
        traj = self._traj[seed]
        while len(traj) <= self.max_steps and not self._ended[seed]:
            if not self._extend(seed):
                self._ended[seed] = True
        k = min(at * len(traj) // POSITIONS, len(traj) - 1)
        return traj[k], k

    def held(self, seed: int, k: int) -> dict[str, bool]:
        """The invariants of `get(seed, k)`'s state (cached)."""
        key = (seed, k)
        if key not in self._held:
            self._held[key] = _invariants(self.it, self._traj[seed][k])
        return self._held[key]

    def free_fields(self) -> list[str]:
        """State fields that no invariant reads (redrawing them keeps a state valid)."""
        read = set().union(*self.reads.values()) if self.reads else set()
        return [f.name for f in self.module.state if not f.builtin and f.name not in read]


_EXPIRY = RESERVED_PREFIX + "until_"


def field_label(name: str) -> str:
    """State field `name` as feedback names it: `` `hp` ``, and envc's hidden expiry field of
    a `@lasting` field as "the expiry of `guard`" (hunt V, F6: `_envc_until_guard` is no name
    the model wrote or can read)."""
    if name.startswith(_EXPIRY):
        return f"the expiry of `{name[len(_EXPIRY):]}`"
    return f"`{name}`"


@dataclass
class Start:
    """A drawn starting state: the state, where it came from (for the counterexample), the
    fields changed after it was reached (None: drawn from the types), and the game and
    step it was reached at (whose invariants `StartStates.held` knows)."""

    state: State
    origin: str
    touched: set[str] | None = None
    seed: int = -1
    steps: int = -1


def state_strategy(module: ir.Module, starts: StartStates | None) -> st.SearchStrategy:
    """`Start`s of `module` (see the module docstring): reached states as they are, with
    one or two fields redrawn within their types, or with list elements moved; or drawn
    wholly from the types when the spec has no invariants or no state can be reached (a
    field too large to draw, see `MAX_DRAWN_CELLS`, keeps its default)."""
    from envc.compiler.interp import to_value

    fields = [f for f in module.state if not f.builtin and _cells(module, f.type) <= MAX_DRAWN_CELLS]
    big = {f.name: f for f in module.state if not f.builtin and _cells(module, f.type) > MAX_DRAWN_CELLS}
    by_name = {f.name: f for f in module.state}
    reached = starts is not None and starts.available
    moves = _moves(module) if reached else None
    free = [n for n in starts.free_fields() if n in {f.name for f in fields}] if starts is not None and reached else []
    kinds = ["typed"]
    if reached:
        kinds = ["reached", "reached", "perturbed"] + (["moved", "moved"] if moves is not None else [])
        if not module.invariants:
            kinds.append("typed")

    @st.composite
    def states(draw: st.DrawFn) -> Start:
        kind = draw(st.sampled_from(kinds))
        if kind == "typed":
            values = {f.name: copy_value(to_value(f.type, f.default)) if f.name in big else
                      draw(_builtin_strategy(module, f) if f.builtin else value_strategy(module, f.type))
                      for f in module.state}
            return Start(State(values, draw(UINT32), draw(UINT32)), "drawn from the types")
        assert starts is not None  # (every kind but "typed" needs reached states)
        seed = draw(st.integers(min_value=0, max_value=starts.seeds - 1))
        at = draw(st.integers(min_value=0, max_value=POSITIONS - 1))
        base, k = starts.get(seed, at)
        values = copy_value(base.fields)
        origin = f"reached from init({seed}) after {k} random legal action{'s' if k != 1 else ''}"
        touched: set[str] = set()
        if kind == "perturbed" and fields:
            pick = free if free and draw(st.integers(min_value=0, max_value=3)) > 0 else [f.name for f in fields]
            # which fields: one or two, uniformly, from one wide integer (hunt T, D3: hypothesis's
            # `sampled_from` followed the examples it mutated, and in 40 varied states the field
            # declared last was never redrawn, so a fill wrong only late in a game passed)
            r = random.Random(draw(st.integers(min_value=0, max_value=2**32 - 1)))
            names = r.sample(pick, min(len(pick), r.choice((1, 2))))
            for name in names:
                values[name] = draw(value_strategy(module, by_name[name].type))
            touched |= set(names)
            origin += ", then " + " and ".join(field_label(n) for n in names) + " redrawn"
        if kind == "moved" and moves is not None:  # (a kind "moved" only when there are moves)
            for apply in draw(moves):
                touched |= apply(values)
            origin += ", then elements moved between " + ", ".join(f"`{n}`" for n in sorted(touched))
        return Start(State(values, draw(UINT32), draw(UINT32)), origin, touched, seed, k)

    return states()


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
        return _sequence_errors(module, t, v, where)
    rec = module.record(t.name)
    if not isinstance(v, dict) or set(v) != {f.name for f in rec.fields}:
        return [f"`{where}` does not have the fields of `{t.name}`"]
    return [e for f in rec.fields for e in type_errors(module, f.type, v[f.name], f"{where}.{f.name}")]


def _sequence_errors(module: ir.Module, t: ir.ArrayT | ir.ListT, v: Any, where: str) -> list[str]:
    """`type_errors` for an array or list type: a list of the right length, then each item."""
    if not isinstance(v, list):
        return [f"`{where}` is not a list"]
    if isinstance(t, ir.ArrayT) and len(v) != t.size:
        return [f"`{where}` has {len(v)} items, not {t.size}"]
    if isinstance(t, ir.ListT) and len(v) > t.cap:
        return [f"`{where}` has {len(v)} items, more than its capacity {t.cap}"]
    return [e for i, x in enumerate(v) for e in type_errors(module, t.elem, x, f"{where}[{i}]")]


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


def row_legend(module: ir.Module, values: list[tuple[ir.Type, Any]]) -> str:
    """What the table rows among `values` are, by the data file's names: `Card#3 is Bulbasaur,
    Card#12 is Pikachu ex` (each row once, in table then row order); "" when none is named.
    `dsl_value` writes a row as `Card#12`, which told a model nothing about the card (hunt R)."""
    rows: dict[str, set[int]] = {}
    for t, v in values:
        _collect_rows(module, t, v, rows)
    parts = []
    for name in sorted(rows):
        labels = module.table(name).labels
        if not labels:
            continue
        parts += [f"{name}#{r} is {labels[r]}" for r in sorted(rows[name]) if 0 <= r < len(labels)]
    return ", ".join(parts)


def _collect_rows(module: ir.Module, t: ir.Type, v: Any, out: dict[str, set[int]]) -> None:
    """Add each table row in value `v` of type `t` to `out` (table name -> rows)."""
    if isinstance(t, ir.RowT):
        out.setdefault(t.table, set()).add(int(v))
        return
    if isinstance(t, (ir.ArrayT, ir.ListT)) and isinstance(v, list):
        for x in v:
            _collect_rows(module, t.elem, x, out)
        return
    if isinstance(t, ir.RecordT) and isinstance(v, dict):
        for f in module.record(t.name).fields:
            _collect_rows(module, f.type, v.get(f.name), out)


# ------------------------------------------------------------------ one call

@dataclass
class Outcome:
    """What went wrong on one call; `after`/`result` are None when the call faulted."""

    problems: list[str]
    after: State | None = None
    result: Any = None


def _invariants(it: Interpreter, s: State, only: set[str] | None = None) -> dict[str, bool]:
    """Whether each invariant (each one named in `only`, when given) holds on `s`."""
    return {inv.name: _holds(it, s, inv.expr) for inv in it.module.invariants if only is None or inv.name in only}


def _holds(it: Interpreter, s: State, e: ir.Expr) -> bool:
    """Whether `e`, a condition on the state alone (an invariant, a fact of a hole), holds on
    `s`; one that cannot be evaluated there does not."""
    ev = it.ev
    ev.state = s
    try:
        return bool(ev.eval(e, {}))
    except Exception:  # (a redrawn state may hold what the condition cannot read)
        return False
    finally:
        ev.state = None


#: the built-ins of an `ensures` that read the call (the state before it, its coins and draws)
CALL_READS = frozenset({"old", "flip", "heads", "heads_until_tails", "draws", "drawn"})


def state_facts(hole: ir.HoleDef) -> list[ir.Expr]:
    """The clauses of `hole`'s own `ensures` (a family's are shared by every text) that read the
    state alone: no `old(...)`, parameter, `result`, coin or draw. Every call keeps them, so they
    are facts of the game, like invariants: a varied state where one is false before the call
    is no state of the game, and the contract is not checked there (hunt T, D2, 2026-12-05:
    `ensures all(occupied[q][0] for q in 0..2)` with `occupied` redrawn all false, the state
    unchanged by the call, refused every right fill from 800 examples on, and shrinking
    swapped a wrong fill's real failure for it). A clause that reads the call is checked on
    every state; so is every clause on a state reached as it is (a reached state where a fact is
    false is the spec's to explain, not the judge's to skip)."""
    out = []
    for e in hole.ensures:
        if irutil.free_locals(e):
            continue
        if any(isinstance(n, ir.Builtin) and n.name in CALL_READS for n in ir.walk(e)):
            continue
        out.append(e)
    return out


def facts_hold(it: Interpreter, s: State, facts: list[ir.Expr]) -> bool:
    """Whether every clause of `facts` (`state_facts`) holds on `s`, as an invariant would (one
    that cannot be evaluated there does not)."""
    return all(_holds(it, s, e) for e in facts)


def invariant_reads(module: ir.Module) -> dict[str, set[str]]:
    """For each invariant, the state fields it reads (through the `fn`s it calls)."""
    reads = _FieldReads(module)
    result = {}
    for inv in module.invariants:
        out: set[str] = set()
        reads.walk(inv.expr, out)
        result[inv.name] = out
    return result


class _FieldReads:
    """The state fields that IR nodes read, through the `fn`s they call (each `fn`'s reads memoised)."""

    def __init__(self, module: ir.Module):
        self.fns = {f.name: f for f in module.fns}
        self.memo: dict[str, set[str]] = {}

    def walk(self, x: Any, out: set[str]) -> None:
        """Add to `out` the state fields read inside IR node(s) `x`."""
        if isinstance(x, (list, tuple)):
            for y in x:
                self.walk(y, out)
            return
        if not isinstance(x, ir.Node) or isinstance(x, _TYPES):
            return
        if isinstance(x, ir.StateGet):
            out.add(x.name)
        elif isinstance(x, ir.Place) and x.root == "state":
            out.add(x.name)
        elif isinstance(x, ir.CallFn) and x.fn in self.fns:
            out |= self.fn_reads(x.fn)
        for k in type(x).model_fields:
            if k not in ("type", "span"):
                self.walk(getattr(x, k), out)

    def fn_reads(self, name: str) -> set[str]:
        """The state fields one call of `fn` `name` reads."""
        if name not in self.memo:
            self.memo[name] = set()  # (recursion is rejected by the checker)
            out: set[str] = set()
            self.walk(self.fns[name].body, out)
            self.memo[name] = out
        return self.memo[name]


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


def _random_note(it: Interpreter, hole: ir.HoleDef, i: int, before: State, after: State, args: list[Any],
                 result: Any) -> str:
    """`textchecks.random_note` of the hole's `ensures` clause `i` (the roll or coins of this call)."""
    with call_scope(it, hole, before, after, args, result) as env:
        return random_note(it.ev, hole.ensures[i], env)


def _same(a: State, b: State) -> bool:
    return (a.rng_key == b.rng_key and a.rng_counter == b.rng_counter
            and a.fields.keys() == b.fields.keys() and all(values_equal(a.fields[k], b.fields[k]) for k in a.fields))


def _actions_reaching(module: ir.Module, target: str) -> dict[int, int]:
    """Each action kind (by index) whose body calls `target`, and through how many calls.

    (Fewest first is the caller's order: an action that calls the family itself runs it
    more often than one that reaches it through procedures every action calls, `tcg`'s
    `continue_game`.)"""
    fns = {f.name: f for f in module.fns}
    depth: dict[str, int | None] = {}

    def distance(name: str, seen: frozenset = frozenset()) -> int | None:
        """Calls from `name` down to the hole (0: it is the hole), None: it never calls it."""
        if name == target:
            return 0
        if name not in depth:
            f = fns.get(name)
            if f is None or name in seen:
                return None
            found = [d for d in (distance(c, seen | {name}) for c in ir.called_names(f.body)) if d is not None]
            depth[name] = 1 + min(found) if found else None
        return depth[name]

    kinds: dict[int, int] = {}
    for i, a in enumerate(module.actions):
        found = [d for d in (distance(c) for c in ir.called_names(a.body)) if d is not None]
        if found:
            kinds[i] = min(found)
    return kinds


class Context:
    """The actions of the spec that run a hole, to tell a fill that breaks an invariant from
    a spec that restores the invariant only at the end of its actions (see `check_call`).

    Two copies of the module run them: in one the hole's fill runs where the spec calls the
    hole (for a family member: wherever the spec runs the family, whatever the text), in the
    other the hole does nothing. `available` is false for a pure hole (it cannot change the
    state) or a hole that no action runs."""

    MAX_TRIES = 8
    MAX_STEPS = 32

    def __init__(self, module: ir.Module, hole: ir.HoleDef):
        self.hole = hole.name
        fns = {f.name: f for f in module.fns}
        fam = next((f for f in module.families if f.name == hole.family), None) if hole.family else None
        target = fam.dispatch if fam is not None and fam.dispatch in fns else hole.name
        kinds = _actions_reaching(module, target)
        self.available = hole.ret is None and bool(kinds) and hole.fill is not None
        if not self.available:
            return
        if fam is not None and target == fam.dispatch:
            d = fns[fam.dispatch]
            call = ir.CallProc(proc=hole.name, args=[ir.Local(name=q.name, type=q.type) for q in d.params[1:]])
            run_it = {fam.dispatch: d.model_copy(update={"body": [call]})}
            do_nothing = {fam.dispatch: d.model_copy(update={"body": []})}
        else:
            run_it = {}
            do_nothing = {hole.name: fns[hole.name].model_copy(update={"body": []})}
        self.it_fill = Interpreter(module.model_copy(update={"fns": [run_it.get(f.name, f) for f in module.fns]}))
        self.it_noop = Interpreter(module.model_copy(update={"fns": [do_nothing.get(f.name, f) for f in module.fns]}))
        space = self.it_fill.actions
        tiers = sorted(set(kinds.values()))
        self.flat = [[k.offset + i for k in space.kinds if kinds.get(k.index) == d for i in range(k.size)]
                     for d in tiers]
        self.runs = 0
        ev = self.it_fill.ev

        def counted(proc: str, args: dict) -> None:
            if proc == self.hole:
                self.runs += 1

        ev.call_hook = counted

    def confirm(self, before: State, broken: list[str], pick: int) -> tuple[list[str], str] | None:
        """Run, from `before`, actions that run the hole: the legal ones first (from the
        `pick`-th), then those whose guard is false here (run anyway: the question is what
        the action's body does around the call), at most `MAX_TRIES`. For the first in
        which the fill runs: (the invariants of `broken` that fail after it and hold after
        the same action with the hole doing nothing, the action as text). None when no
        action could run the fill. When every action tried faults even with the hole doing
        nothing, the state is not one the actions can run from (a state put in a card's
        context may break an invariant the action relies on, e.g. a full discard pile): ([],
        a note), nothing is blamed on the fill."""
        mask = self.it_fill.legal_action_mask(before)
        order = []
        for tier in self.flat:  # the actions that call the hole most directly first
            legal = [a for a in tier if mask[a]]
            rest = [a for a in tier if not mask[a]]
            order += [xs[(pick + i) % len(xs)] for xs in (legal, rest) if xs for i in range(len(xs))]
        everything = [True] * self.it_fill.num_actions
        unrunnable = tried = stepped = 0
        # an action in which the fill does not run (the spec calls the hole under a condition
        # that fails here) does not count as a try; at most MAX_STEPS actions are stepped
        for a in order[:self.MAX_STEPS]:
            if tried >= self.MAX_TRIES:
                break
            s = before.copy()
            s.legal_action_mask = everything
            self.runs = 0
            stepped += 1
            try:
                after = self.it_fill.step(s, a)
            except Exception:  # the action faults here (with or without the fill)
                tried += 1
                try:
                    self.it_noop.step(s, a)
                except Exception:
                    unrunnable += 1
                continue
            if not self.runs:
                continue
            tried += 1
            try:
                quiet = self.it_noop.step(s, a)
                held_quiet = _invariants(self.it_noop, quiet, set(broken))
            except Exception:
                held_quiet = {}
            now = _invariants(self.it_fill, after, set(broken))
            shown = f"`{self.it_fill.actions.format(a)}`" + ("" if mask[a] else " (run although its guard is false here)")
            return [n for n in broken if not now.get(n, False) and held_quiet.get(n, False)], shown
        if order and unrunnable == stepped:
            return [], "(no action can run from this state)"
        return None


def check_call(it: Interpreter, hole: ir.HoleDef, before: State, args: list[Any],
               clause_text: list[str], held: dict[str, bool] | None = None,
               reads: dict[str, set[str]] | None = None, context: Context | None = None,
               pick: int = 0, text: TextChecks | None = None, valid: bool | None = None,
               invariants: bool = True) -> Outcome:
    """Run the fill of `hole` on `before` with `args` and list every broken property
    (see the module docstring); `clause_text[i]` is the source of `ensures` clause i.
    `held`: the invariants of `before` when known; `reads`: `invariant_reads(module)`
    (an invariant none of whose fields the call changed is not evaluated again);
    `context`: the actions that run the hole (an invariant broken right after the call is
    reported only when the action around the call does not restore it), `pick` the first
    of them to try. `text`: the checks of the hole's text (`textchecks.TextChecks`: its
    `ensures`, frame and draws), on valid states; `valid`: whether `before` is a state of the
    game (default: every invariant of `held` holds; a state put in the card's context is
    valid when the state it came from was). `invariants`: False leaves the invariants after
    the call unchecked (`check_examples`)."""
    module = it.module
    held = _invariants(it, before) if held is None else held
    valid = all(held.values()) if valid is None else valid
    decisions: list[tuple[int, int, State]] = []
    sizes: list[int] = []  # how many values each draw of the call ranged over
    it.ev.decisions, it.ev.draw_sizes = decisions, sizes
    try:
        after, result, fault = _call(it, hole, before, args)
    finally:
        it.ev.decisions, it.ev.draw_sizes = None, None
    if fault is not None:
        return Outcome([fault] if valid else [])
    # a field `before` lacks is one the answer brought (the frame of a `choose` in its body: the
    # start states come from the spec with the fill being replaced), which the call neither
    # changes nor sets: it is not the answer's to be judged on
    fields = [f for f in module.state if f.name in before.fields]
    changed = {f.name for f in fields if not values_equal(before.fields[f.name], after.fields.get(f.name))}
    problems: list[str] = []
    for f in fields:
        if f.name in changed or f.name not in after.fields:
            problems += type_errors(module, f.type, after.fields.get(f.name), f.name)
    if hole.ret is not None:
        problems += type_errors(module, hole.ret, result, "result")
    if valid:
        try:
            failed = it.ensures_failures(hole, before, after, args, result)
        except SpecRuntimeError as e:
            failed, problems = [], problems + [f"an `ensures` clause faults on this call: {e}"]
        problems += [f"`ensures {clause_text[i]}` does not hold" + _random_note(it, hole, i, before, after, args, result)
                     for i in failed]
        if text is not None:
            problems += text.problems(it, before, after, args, result, decisions, sizes)
    again_names = {name for name, ok in held.items() if ok and (reads is None or reads.get(name, set()) & changed)
                   and invariants}
    now = _invariants(it, after, again_names) if again_names else {}
    broken = [name for name in held if name in again_names and not now.get(name, False)]
    seen = context.confirm(before, broken, pick) if broken and context is not None and context.available else None
    if seen is None:
        # (on a state that already breaks an invariant, a break no action confirms is not
        # blamed on the fill: the action may fault because of the invariant broken before)
        problems += [f"invariant `{name}` held before the call and does not after it" for name in broken if valid]
    else:
        confirmed, action = seen
        problems += [f"invariant `{name}` held before the call and does not after it, nor after the whole action "
                     f"{action} that runs the fill (the action keeps it when the hole does nothing)"
                     for name in confirmed]
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
    origin: str = ""
    shrunk: bool = True  # (False: one of the swept states, `check_examples`)

    def render(self, module: ir.Module, hole: ir.HoleDef) -> str:
        """The example as DSL values, for a person or a repair prompt."""
        # (envc's own `_envc_` fields are no name the model wrote or can write: hunt Q)
        # (of the built-in fields, those a fill reads: `step_count` is redrawn where a fill's
        # condition reads it, `BranchWatch`)
        shown = [f for f in module.state if (not f.builtin or f.name in ("current_player", "step_count"))
                 and not f.name.startswith(RESERVED_PREFIX)]
        lines = ["falsifying example (shrunk by hypothesis):" if self.shrunk else "falsifying example:",
                 f"  state before the call ({self.origin}):" if self.origin else "  state before the call:"]
        lines += [f"    {f.name} = {dsl_value(module, f.type, self.before.fields[f.name])}" for f in shown]
        lines.append(f"    (random words: key {self.before.rng_key}, counter {self.before.rng_counter})")
        call = ", ".join(f"{p.name}: {dsl_value(module, p.type, a)}" for p, a in zip(hole.params, self.args))
        lines.append(f"  call: {hole.name}({call})")
        # what is written as DSL values, for the legend of its table rows
        written = [(f.type, self.before.fields[f.name]) for f in shown] + list(zip((p.type for p in hole.params), self.args))
        after = self.outcome.after
        if after is not None:
            changed = [f for f in module.state if not f.name.startswith(RESERVED_PREFIX)
                       and not values_equal(self.before.fields[f.name], after.fields.get(f.name))]
            lines.append("  state after the call (changed fields):" if changed else
                         "  state after the call: unchanged")
            for f in changed:
                v = after.fields.get(f.name)
                typed = not type_errors(module, f.type, v, f.name)
                lines.append(f"    {f.name} = {dsl_value(module, f.type, v) if typed else repr(v)}")
                written += [(f.type, v)] if typed else []
            if hole.ret is not None:
                lines.append(f"  result = {dsl_value(module, hole.ret, self.outcome.result)}")
                written.append((hole.ret, self.outcome.result))
        legend = row_legend(module, written)
        if legend:
            lines.append(f"  rows shown: {legend}")
        lines.append("  what went wrong:")
        lines += [f"    - {p}" for p in self.outcome.problems]
        return "\n".join(lines)


class _Falsified(Exception):
    pass


class NoContext(Exception):
    """No state of the game satisfies the guard of the text's context (a spec problem)."""


def run_scenarios(module: ir.Module, hole_name: str, starts: StartStates | None, bases: int = 3,
                  max_calls: int = 16) -> list[str]:
    """Run every scenario of the hole's text (`ir.ScenarioDef`) and say which fail.

    Each runs from up to `bases` reached states (one per seed, from the middle of the game
    on) put in the text's context, for every combination of the hole's parameters that the
    scenario does not give (at most `max_calls` per state, those where the context's guard
    holds): the `given` values are set (a parameter before the context runs, the state
    after it; `coins` moves the RNG counter to where the first draws give those coins),
    the fill runs, and every `then` clause must hold (`old(x)` reads the state before the
    call). A scenario that cannot run anywhere fails too."""
    module = with_contexts(module)
    hole = next(h for h in module.holes if h.name == hole_name)
    c = hole.contract
    if c is None or not c.scenarios:
        return []
    it = Interpreter(module)
    text = TextChecks(module, hole)
    base_states = _scenario_bases(module, starts)
    failures = (_Scenario(module, hole, it, text, sc).failure(base_states, bases, max_calls) for sc in c.scenarios)
    return [f for f in failures if f is not None]


def _scenario_bases(module: ir.Module, starts: StartStates | None) -> list[tuple[State, str]]:
    """The states a scenario may run from, each with its origin as text: reached states from
    the middle of each seed's game on, or the initial values of the fields when there are none."""
    if starts is None or not starts.available:
        state = State({f.name: copy_value(to_value(f.type, f.default)) for f in module.state}, 0, 0)
        return [(state, "the initial values of the state's fields")]
    base_states: list[tuple[State, str]] = []
    for seed in range(starts.seeds):
        for at in (POSITIONS // 2, POSITIONS // 4, 3 * POSITIONS // 4, POSITIONS - 1):
            state, k = starts.get(seed, at)
            base_states.append((state, f"reached from init({seed}) after {k} random legal actions"))
    return base_states


class _Scenario:
    """One scenario of a hole's text, run by `run_scenarios`."""

    def __init__(self, module: ir.Module, hole: ir.HoleDef, it: Interpreter, text: TextChecks,
                 sc: ir.ScenarioDef):
        self.module, self.hole, self.it, self.text, self.sc = module, hole, it, text, sc
        self.extras = [ir.zero_value(module, p.type) for p in (text.context.extras if text.context is not None else [])]
        self.label = f"scenario{' ' + repr(sc.name) if sc.name else ''} ({sc.span.file}:{sc.span.line})"
        # what the scenario sets, quoted with a failure (hunt V, F8: only the `then` was, while
        # the state shown held the context's values, which the `given` then overrides)
        self.given = ", ".join(f"{print_source_place(g.place)} = {print_source_expr(g.value)}"
                               for g in sc.given)
        self.fixed = {g.place.name: g for g in sc.given if g.place.root == "local"}
        self.free = [p for p in hole.params if p.name not in self.fixed]

    def failure(self, base_states: list[tuple[State, str]], bases: int, max_calls: int) -> str | None:
        """Why the scenario fails (None: it passes), run from up to `bases` of `base_states`
        with at most `max_calls` combinations of the parameters it leaves open."""
        import itertools

        combos = list(itertools.islice(itertools.product(*(_values_of(self.module, p.type) for p in self.free)),
                                       max_calls))
        ran, used = 0, 0
        for state, origin in base_states:
            if used >= bases:
                break
            here, failure = self._on_state(state, origin, combos)
            if failure is not None:
                return failure
            ran += here
            used += here > 0
        if not ran:
            return f"{self.label}: no state could run it (the context's guard is false for every parameter value)"
        return None

    def _on_state(self, state: State, origin: str, combos: list[tuple]) -> tuple[int, str | None]:
        """Run the scenario from one base state for each combination: (calls run, failure or None)."""
        ran = 0
        for combo in combos:
            called, failure = self._one_call(state, origin, combo)
            ran += called
            if failure is not None:
                return ran, failure
        return ran, None

    def _one_call(self, state: State, origin: str, combo: tuple) -> tuple[bool, str | None]:
        """One call of the fill: (whether it ran, failure or None). It does not run when the
        context's guard is false, or when a `given` value cannot be set (a failure)."""
        from envc.llm_fill.textchecks import set_coins

        sc, it, hole = self.sc, self.it, self.hole
        env = dict(sc.env)
        env.update({p.name: v for p, v in zip(self.free, combo)})
        ev = it.ev
        ev.state = state
        try:
            env.update({name: ev.eval(g.value, dict(env)) for name, g in self.fixed.items()})
        finally:
            ev.state = None
        args = [env[p.name] for p in hole.params]
        before = self.text.setup(it, state, args, 0, self.extras)
        if before is None:
            return False, None
        before = before.copy() if before is state else before
        try:
            self._set_given(before, env)
        except SpecRuntimeError as e:
            return False, f"{self.label}: a `given` value cannot be set: {e}"
        if sc.coins is not None:
            set_coins(before, sc.coins)
        after, result, fault = _call(it, hole, before, args)
        call = ", ".join(f"{p.name}: {dsl_value(self.module, p.type, a)}" for p, a in zip(hole.params, args))
        where = f"on a state {origin}{self.text.describe_setup(self.module, 0, self.extras)}, call {hole.name}({call})"
        if fault is not None:
            return True, f"{self.label}: {fault} ({where})"
        return True, self._then_failure(env, before, after, where)

    def _set_given(self, before: State, env: dict[str, Any]) -> None:
        """Set the state's `given` values on `before` (raises SpecRuntimeError when one cannot be)."""
        from envc.llm_fill.textchecks import assign

        ev = self.it.ev
        for g in self.sc.given:
            if g.place.root != "state":
                continue
            ev.state = before
            try:
                value = ev.eval(g.value, dict(env))
            finally:
                ev.state = None
            assign(self.it, g.place, value, dict(env), before)

    def _then_failure(self, env: dict[str, Any], before: State, after: State, where: str) -> str | None:
        """The first `then` clause that does not hold after the call, as a failure (None: all hold)."""
        from envc.llm_fill.textchecks import _change, changed_paths, path_text, value_at

        sc, ev = self.sc, self.it.ev
        ev.state, ev.old_state = after, before
        try:
            bad = [src for e, src in zip(sc.then, sc.then_source) if not ev.eval(e, dict(env))]
        except SpecRuntimeError as e:
            bad = [f"(a clause faults: {e})"]
        finally:
            ev.state = ev.old_state = None
        if not bad:
            return None
        changes = ", ".join(f"`{path_text(pth)}` {_change(value_at(before, pth), value_at(after, pth))}"
                            for pth in changed_paths(self.module, before, after)[:6]) or "nothing"
        given = f"given `{self.given}`, " if self.given else ""
        return f"{self.label}: {given}then `{bad[0]}` does not hold ({where}; the call changed {changes})"


def _values_of(module: ir.Module, t: ir.Type) -> list[Any]:
    """Every value of a small scalar type (at most 16), for the parameters a scenario leaves open."""
    if isinstance(t, ir.BoolT):
        return [False, True]
    if isinstance(t, ir.IntT):
        return list(range(t.lo, min(t.hi, t.lo + 15) + 1))
    if isinstance(t, ir.EnumT):
        return list(range(min(t.size, 16)))
    if isinstance(t, ir.RowT):
        return list(range(min(t.rows, 16)))
    return [ir.zero_value(module, t)]


#: examples of a passing run kept for the checks that need many (`textchecks.number_problems`,
#: differential acceptance)
KEPT_EXAMPLES = 200
#: reached states, spread over the games, added to them (`sweep_examples`)
SWEPT_EXAMPLES = 80


def random_value(module: ir.Module, t: ir.Type, rnd: random.Random) -> Any:
    """A value of IR type `t` drawn with `rnd` (as `value_strategy` draws, without hypothesis)."""
    if isinstance(t, ir.BoolT):
        return rnd.random() < 0.5
    if isinstance(t, ir.IntT):
        return rnd.randint(t.lo, t.hi)
    if isinstance(t, ir.FloatT):
        return np.float32(rnd.uniform(-1e4, 1e4))
    if isinstance(t, ir.EnumT):
        return rnd.randrange(t.size)
    if isinstance(t, ir.RowT):
        return rnd.randrange(t.rows)
    if isinstance(t, ir.ArrayT):
        return [random_value(module, t.elem, rnd) for _ in range(t.size)]
    if isinstance(t, ir.ListT):
        return [random_value(module, t.elem, rnd) for _ in range(rnd.randint(0, t.cap))]
    return {f.name: random_value(module, f.type, rnd) for f in module.record(t.name).fields}


def sweep_examples(module: ir.Module, hole_name: str, starts: StartStates | None, n: int = SWEPT_EXAMPLES,
                   seed: int = 0, redraw: list[str] | None = None,
                   flips: Callable[[Example], bool] | None = None) -> list[Example]:
    """Up to `n` calls of the fill on reached states spread evenly over the games of every
    seed (hypothesis draws early states first), every other one with one state field redrawn
    within its type (each field in turn: the k-th such state redraws field k, so that every
    field is redrawn, hunt T; the reached state as it is when the redrawn one breaks an
    invariant or a fact of the hole, `state_facts`), put in the text's
    context with arguments and extras drawn by a seeded `random.Random`: examples for the
    checks that compare outcomes (a state where the invariants do not hold, or where the call
    faults, is left out). With `redraw`, every state has those fields redrawn instead (the
    fields a condition of the text's contract reads, `llm_fill/coverage.py`).

    With `flips` (true of an example where a condition of the contract takes the value no
    example gave yet, `coverage.flip_test`), a call on which it is false is tried again with
    one argument or context extra of a small type set to each of its other values
    (`_Sweep.toward_flip`), on the first `GUIDED_STATES` states: a case that needs an extra of
    26 values (the TCG's `nc` naming Nidoran♂) was found by luck of the draws (stop 51)."""
    if starts is None or not starts.available:
        return []
    sweep = _Sweep(module, hole_name, random.Random(seed))
    out: list[Example] = []
    guided = 0
    sweep.budget = GUIDED_CALLS
    per_seed = max(1, -(-n // starts.seeds))
    for s in range(starts.seeds):
        for j in range(per_seed):
            state, k = starts.get(s, (j * POSITIONS) // per_seed + sweep.rnd.randrange(max(POSITIONS // per_seed, 1)))
            if not all(starts.held(s, k).values()):
                continue
            moved = [f for f in sweep.drawable if f.name in redraw] if redraw is not None else \
                [sweep.fields[((s * per_seed + j) // 2) % len(sweep.fields)]] if j % 2 and sweep.fields else []
            state, redrawn = sweep.vary(state, moved)
            where = f"reached from init({s}) after {k} random legal actions{redrawn}"
            ex = sweep.drawn_example(state, where)
            if ex is None:
                continue
            if flips is not None and not flips(ex) and guided < GUIDED_STATES and sweep.budget > 0:
                guided += 1
                ex = sweep.toward_flip(state, where, ex, flips) or ex
            out.append(ex)
    return out[:n]


#: states on which `sweep_examples` tries other arguments and extras toward a condition's other
#: value, and the calls it may spend on that in all (an array extra of 8 cells of 26 values made
#: each state cost 200 calls: hunt V's fills took 5-10x longer to judge before the budget)
GUIDED_STATES = 24
GUIDED_CALLS = 300


class _Sweep:
    """What `sweep_examples` needs for one hole: its interpreter (with the context procs), the
    text's contract and context, the fields it may redraw, the hole's facts and the seeded RNG."""

    def __init__(self, module: ir.Module, hole_name: str, rnd: random.Random):
        self.module = module = with_contexts(module)
        self.it = Interpreter(module)
        self.hole = next(h for h in module.holes if h.name == hole_name)
        self.text = TextChecks(module, self.hole)
        self.extras = self.text.context.extras if self.text.context is not None else []
        # (built-in fields, `step_count` say, only where a condition asks for them: `redraw`)
        self.drawable = [f for f in module.state if _cells(module, f.type) <= MAX_DRAWN_CELLS]
        self.fields = [f for f in self.drawable if not f.builtin]
        self.facts = state_facts(self.hole)
        self.rnd = rnd
        self.budget = 0  # the calls `toward_flip` may still make (`GUIDED_CALLS` a sweep)

    def vary(self, state: State, moved: list[ir.FieldDef]) -> tuple[State, str]:
        """`state` with the fields `moved` redrawn, and the words saying so; `state` itself when
        the redrawn one breaks an invariant or a fact: it is no state of the game (dropping it
        lost the states where a TCG text's case held once every field took its turn: `deck`
        redrawn breaks `cards_conserved`)."""
        if not moved:
            return state, ""
        varied = state.copy()
        for f in moved:
            varied.fields[f.name] = random_value(self.module, f.type, self.rnd)
        if not (all(_invariants(self.it, varied).values()) and facts_hold(self.it, varied, self.facts)):
            return state, ""
        return varied, f", then {', '.join(field_label(f.name) for f in moved)} redrawn"

    def drawn_example(self, state: State, where: str) -> Example | None:
        """The call on `state` with arguments, the text's row and extras drawn (one argument or
        extra changed where the context's guard is false, `TextChecks.toward_guard`); None when
        the context's guard stays false or the call faults."""
        rnd, text = self.rnd, self.text
        args = [random_value(self.module, p.type, rnd) for p in self.hole.params]
        pair = rnd.randrange(max(len(text.pairs), 1))
        drawn = [random_value(self.module, p.type, rnd) for p in self.extras]
        if text.setup(self.it, state, args, pair, drawn) is None:
            args, drawn = text.toward_guard(self.it, state, args, pair, drawn, rnd) or (args, drawn)
        return self.example(state, args, pair, drawn, where, rnd.getrandbits(32))

    def example(self, state: State, args: list[Any], pair: int, drawn: list[Any], where: str,
                counter: int) -> Example | None:
        """The call on `state` put in the context with `args`, row `pair` and extras `drawn`,
        RNG counter `counter`; None when the context's guard is false or the call faults."""
        before = self.text.setup(self.it, state, args, pair, drawn)
        if before is None:
            return None
        before = before.copy() if before is state else before
        before.rng_counter = counter
        after, result, fault = _call(self.it, self.hole, before, args)
        if fault is not None:
            return None
        return Example(before, args, after, result, where + self.text.describe_setup(self.module, pair, drawn),
                       pair, list(drawn))

    def toward_flip(self, state: State, where: str, ex: Example, flips: Callable[[Example], bool]
                    ) -> Example | None:
        """A call on `state` (reached as `where` says) like `ex` but for one argument or context extra of a small type
        (`textchecks.small_domain`), or one cell of an array of them (at most `GUIDED_CELLS`
        cells), set to another of its values, on which `flips` holds; None when no such change
        gives one. (An array extra such as the TCG's `hurt` sets the damage of every slot: "no
        healthy ally left" needs one of its cells at the top.)"""
        args, pair, drawn = ex.args, ex.pair, ex.extras
        counter = ex.before.rng_counter
        slots = [(True, i, p.type) for i, p in enumerate(self.hole.params)] + \
            [(False, i, p.type) for i, p in enumerate(self.extras)]
        for is_arg, i, t in slots:
            base = args[i] if is_arg else drawn[i]
            for v in _changed(t, base, self.rnd):
                if self.budget <= 0:
                    return None
                self.budget -= 1
                a = args[:i] + [v] + args[i + 1:] if is_arg else args
                d = drawn if is_arg else drawn[:i] + [v] + drawn[i + 1:]
                other = self.example(state, a, pair, d, where, counter)
                if other is not None and flips(other):
                    return other
        return None


#: the most cells of an array argument or extra `_Sweep.toward_flip` changes one by one
GUIDED_CELLS = 16


def _changed(t: ir.Type, value: Any, rnd: random.Random) -> Iterator[Any]:
    """`value` (of type `t`) with one scalar of a small type changed: the value itself for a
    scalar (every value of its type), one cell for an array of at most `GUIDED_CELLS` cells (its
    type's two ends and two other values), in a random order."""
    dims: list[int] = []
    elem = t
    while isinstance(elem, ir.ArrayT):
        dims.append(elem.size)
        elem = elem.elem
    domain = small_domain(elem)
    if not domain or int(np.prod(dims)) > GUIDED_CELLS:
        return
    cells = list(itertools.product(*(range(n) for n in dims)))
    rnd.shuffle(cells)
    for cell in cells:
        values = list(domain)
        rnd.shuffle(values)
        if cell:  # (a cell: its two ends and two other values; a scalar: every value, a row of 26)
            values = [domain[0], domain[-1]] + [v for v in values if v not in (domain[0], domain[-1])][:2]
        for v in values:
            if not cell:
                yield v
                continue
            new = copy_value(value)
            box = new
            for k in cell[:-1]:
                box = box[k]
            box[cell[-1]] = v
            yield new


def check_examples(module: ir.Module, hole_name: str, examples: list[Example], clause_text: list[str],
                   choices: Callable | None = None) -> Counterexample | None:
    """The first of `examples` (calls on states of the game already put in the text's
    context, `sweep_examples`) on which a property of `check_call` but the invariants breaks,
    as a counterexample; None when all pass. Hunt Q (bug 7): the 80 swept states were used only
    to vary printed numbers, never checked against the contract, and the states hypothesis
    drew never held the threshold a wrong fill was off by one from."""
    module = with_contexts(module)
    it = Interpreter(module)
    it.default_choices = choices
    hole = next(h for h in module.holes if h.name == hole_name)
    reads, context, text = invariant_reads(module), Context(module, hole), TextChecks(module, hole)
    for ex in examples:
        # (the contract and the determinism only: an invariant the call breaks is for the property
        # tests to judge, with the action around the call; from a swept state put in the card's
        # context, that action may not run, and the right fill of "This Pokémon also does 20
        # damage to itself" was blamed for the knock-out the attack handles)
        outcome = check_call(it, hole, ex.before, list(ex.args), clause_text, None, reads, context, 0, text, True,
                             invariants=False)
        if outcome.problems:
            return Counterexample(ex.before, list(ex.args), outcome, ex.origin, shrunk=False)
    return None


def _held_at_start(it: Interpreter, starts: StartStates | None, start: Start,
                   reads: dict[str, set[str]]) -> dict[str, bool] | None:
    """Which invariants hold on a drawn start: those known of its reached state, evaluated again
    where they read a redrawn field; None for a state drawn from the types (not known)."""
    if start.touched is None:
        return None
    assert starts is not None  # (a start with touched fields was reached from `starts`)
    held = dict(starts.held(start.seed, start.steps))
    again = {name for name in held if reads.get(name, set()) & start.touched}
    if again:
        held.update(_invariants(it, start.state, again))
    return held


@contextlib.contextmanager
def _no_local_constants():
    """Hypothesis without its "local constants" while `falsify` runs: hypothesis (6.13x on)
    sometimes draws an integer written in any loaded module outside site-packages (envc's own
    source in an editable install, the caller's scripts, whatever was imported since), so the
    same fill, spec and seed were accepted, then refused after importing a module holding
    `WIDTH = 120` (a hunt). The judge's verdict must depend on its inputs only (README, "how
    `envc fill` judges a fill"): the pool is empty here, and the cache of drawable constants is
    a fresh one, both restored after. An older hypothesis without the feature is left as it is.
    Not thread-safe (the module attributes are swapped): the judge runs one search at a time."""
    from hypothesis.internal.conjecture import providers

    if not hasattr(providers, "_get_local_constants") or not hasattr(providers, "CONSTANTS_CACHE"):
        yield
        return
    saved = providers._get_local_constants, providers.CONSTANTS_CACHE
    empty = providers.Constants(integers=providers.SortedSet(), floats=providers.SortedSet(key=providers.float_to_int),
                                bytes=providers.SortedSet(), strings=providers.SortedSet())
    providers._get_local_constants, providers.CONSTANTS_CACHE = (lambda: empty), type(saved[1])(1024)
    try:
        yield
    finally:
        providers._get_local_constants, providers.CONSTANTS_CACHE = saved


def falsify(module: ir.Module, hole_name: str, starts: StartStates | None, clause_text: list[str],
            max_examples: int = 200, seed: int = 0, examples: list[Example] | None = None,
            choices: Callable | None = None) -> Counterexample | None:
    """Search for a call of `hole_name`'s fill that breaks a property; None when
    `max_examples` examples pass. `starts`: the reached states of the spec (None: only
    type-drawn states). Each state is put in the text's context first when its block has
    one (`textchecks.TextChecks.setup`; a state where the context's guard is false is
    skipped). `examples`, when given, receives up to `KEPT_EXAMPLES` passing calls made on
    states of the game. `choices`: how each `choose` the call reaches picks
    (`Interpreter.call`'s policy; default the lowest legal option). Deterministic: hypothesis
    runs from `seed`."""
    module = with_contexts(module)
    it = Interpreter(module)
    it.default_choices = choices
    reads = invariant_reads(module)
    hole = next(h for h in module.holes if h.name == hole_name)
    context = Context(module, hole)
    text = TextChecks(module, hole)
    setup = text.context
    facts = state_facts(hole)
    seen: list[Counterexample] = []

    def prop(start, args, pick, pair, extras):
        held = _held_at_start(it, starts, start, reads)
        before, origin, valid = start.state, start.origin, None
        if setup is not None:
            before = text.setup(it, start.state, list(args), pair, list(extras))
            assume(before is not None)
            assert before is not None  # (`assume` has rejected the example otherwise)
            held = _invariants(it, start.state) if held is None else held
            valid = all(held.values())
            moved = {f.name for f in module.state if not values_equal(start.state.fields[f.name], before.fields[f.name])}
            again = {name for name in held if reads.get(name, set()) & moved}
            held = {**held, **_invariants(it, before, again)} if again else held
            origin += text.describe_setup(module, pair, list(extras))
        if start.touched != set() and facts and not facts_hold(it, before, facts):
            valid = False  # a varied state that breaks a fact of the hole (`state_facts`)
        outcome = check_call(it, hole, before, list(args), clause_text, held, reads, context, pick, text, valid)
        if outcome.problems:
            seen.append(Counterexample(before, list(args), outcome, origin))
            raise _Falsified()
        ok = valid if valid is not None else (held is None or all(held.values()))
        if examples is not None and ok and outcome.after is not None and len(examples) < KEPT_EXAMPLES:
            examples.append(Example(before, list(args), outcome.after, outcome.result, origin))

    extras = setup.extras if setup is not None else []
    test = settings(max_examples=max_examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, report_multiple_bugs=False,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink], print_blob=False)(
        given(state_strategy(module, starts),
              st.tuples(*(value_strategy(module, p.type) for p in hole.params)),
              st.integers(min_value=0, max_value=0xFFFF),
              st.integers(min_value=0, max_value=max(len(text.pairs) - 1, 0)),
              st.tuples(*(value_strategy(module, p.type) for p in extras)))(prop))
    test = hypothesis_seed(seed)(test)
    try:
        with _no_local_constants():
            test()
    except _Falsified:
        return seen[-1]
    except Unsatisfiable:
        # (Unsatisfiable comes from the context's `assume`: `setup` is not None here)
        name = setup.name if setup is not None else "?"
        raise NoContext(f"no state could be put in the text's context: the guard of `{name}` was false on "
                        "every state tried") from None
    except Exception:  # hypothesis gave up (e.g. flaky, or every state skipped): report what was seen
        if seen:
            return seen[-1]
        raise
    return None


# ------------------------------------------------------------------ static work bound

_TYPES = (ir.BoolT, ir.IntT, ir.FloatT, ir.EnumT, ir.RecordT, ir.RowT, ir.ArrayT, ir.ListT)


def work_bound(module: ir.Module, fn: str) -> int:
    """An upper bound on the IR nodes one call of `fn` evaluates: loops have constant
    bounds and there is no recursion, so it is finite and computed without running."""
    return _WorkBound(module).call_cost(fn)


class _WorkBound:
    """`work_bound`'s count: one method per group of node kinds (expressions, statements, calls)."""

    def __init__(self, module: ir.Module):
        self.fns = {f.name: f for f in module.fns}
        self.memo: dict[str, int] = {}

    def call_cost(self, name: str) -> int:
        """The nodes one call of `fn` or `proc` `name` evaluates (memoised)."""
        if name not in self.memo:
            self.memo[name] = 1  # (recursion is rejected by the checker)
            f = self.fns.get(name)
            self.memo[name] = 1 + (self.block(f.body) if f is not None else 0)
        return self.memo[name]

    def node(self, x: Any) -> int:
        """The nodes an expression (or node lists, tuples) evaluates at most: loops count their bounds."""
        if isinstance(x, list):
            return sum(self.node(y) for y in x)
        if isinstance(x, tuple):
            return sum(self.node(y) for y in x if isinstance(y, (ir.Node, list)))
        if not isinstance(x, ir.Node) or isinstance(x, _TYPES):
            return 0
        if isinstance(x, (ir.Reduce, ir.ArrayBuild)):
            return 1 + (x.hi - x.lo) * (self.node(x.body) + 1)
        if isinstance(x, ir.CallFn):
            return 1 + self.node(x.args) + self.call_cost(x.fn)
        if isinstance(x, ir.ListOp) and x.op == "shuffle" and isinstance(x.place.type, ir.ListT):
            return 1 + self.node(x.place) + x.place.type.cap
        return 1 + sum(self.node(getattr(x, k)) for k in type(x).model_fields if k not in ("type", "span"))

    def stmt(self, s: ir.Stmt) -> int:
        """The nodes a statement evaluates at most: the longer branch of an `if` or `match`."""
        if isinstance(s, ir.For):
            return 1 + (s.hi - s.lo) * (self.block(s.body) + 1)
        if isinstance(s, ir.If):
            return 1 + self.node(s.cond) + max(self.block(s.then), self.block(s.orelse))
        if isinstance(s, ir.Match):
            return 1 + self.node(s.subject) + max([self.block(a.body) for a in s.arms] or [0])
        if isinstance(s, ir.CallProc):
            return 1 + self.node(s.args) + self.call_cost(s.proc)
        return self.node(s)

    def block(self, stmts: list[ir.Stmt]) -> int:
        """The nodes a block of statements evaluates at most."""
        return sum(self.stmt(s) for s in stmts)
