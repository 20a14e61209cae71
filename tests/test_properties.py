"""Property tests of the reference interpreter (random legal play).

On tictactoe, connect4 and othello (and on cartpole, acrobot and the kitchen-sink spec,
which exercise floats, lists, records and tables), along every random trajectory: invariants hold, a
live state has a legal action, every state field lies in its declared type, rewards are
zero until the game ends (the Pgx board games), `step` leaves its input untouched, and
replaying a seed with the same actions is identical. Also: the illegal-action rule of Pgx,
terminal states absorb, and randomly generated programs that the checker accepts keep
every value inside its declared type.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envc.compiler import ir
from envc.compiler.check import check, load
from envc.compiler.diagnostics import DiagnosticError
from envc.compiler.interp import Interpreter, SpecRuntimeError, State, values_equal
from envc.dsl.parser import parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC_PATHS = {
    "tictactoe": os.path.join(ROOT, "specs", "tictactoe.envspec"),
    "connect4": os.path.join(ROOT, "specs", "connect4.envspec"),
    "othello": os.path.join(ROOT, "specs", "othello.envspec"),
    # not Pgx board games (rewards before the end), but lists, records, tables and floats
    "cartpole": os.path.join(ROOT, "specs", "cartpole.envspec"),
    "acrobot": os.path.join(ROOT, "specs", "acrobot.envspec"),
    "kitchen_sink": os.path.join(ROOT, "tests", "specs", "kitchen_sink.envspec"),
}
BOARD_GAMES = ["tictactoe", "connect4", "othello"]  # Pgx-style: rewards only when the game ends
SPECS = [name for name, path in SPEC_PATHS.items() if os.path.exists(path)]


@lru_cache(maxsize=None)
def interpreter(name: str) -> Interpreter:
    return Interpreter(load(SPEC_PATHS[name]))


# ------------------------------------------------------------------ value/type checker


def type_errors(module: ir.Module, t: ir.Type, v: Any, where: str) -> list[str]:
    """Every way in which interpreter value `v` does not belong to IR type `t`."""
    if isinstance(t, ir.BoolT):
        return [] if type(v) is bool else [f"{where}: {v!r} is not a bool"]
    if isinstance(t, ir.IntT):
        if type(v) is not int:
            return [f"{where}: {v!r} ({type(v).__name__}) is not an int"]
        return [] if t.lo <= v <= t.hi else [f"{where}: {v} is outside {t.lo}..{t.hi}"]
    if isinstance(t, ir.FloatT):
        return [] if type(v) is np.float32 else [f"{where}: {v!r} ({type(v).__name__}) is not a numpy.float32"]
    if isinstance(t, (ir.EnumT, ir.RowT)):
        n = t.size if isinstance(t, ir.EnumT) else t.rows
        if type(v) is not int:
            return [f"{where}: {v!r} is not an index of `{t}`"]
        return [] if 0 <= v < n else [f"{where}: {v} is outside 0..{n - 1} (`{t}`)"]
    if isinstance(t, (ir.ArrayT, ir.ListT)):
        if not isinstance(v, list):
            return [f"{where}: {type(v).__name__} is not a list (`{t}`)"]
        if isinstance(t, ir.ArrayT) and len(v) != t.size:
            return [f"{where}: length {len(v)}, not {t.size}"]
        if isinstance(t, ir.ListT) and len(v) > t.cap:
            return [f"{where}: length {len(v)} is above the capacity {t.cap}"]
        return [e for i, x in enumerate(v) for e in type_errors(module, t.elem, x, f"{where}[{i}]")]
    assert isinstance(t, ir.RecordT), t
    rec = module.record(t.name)
    if not isinstance(v, dict) or set(v) != {f.name for f in rec.fields}:
        return [f"{where}: {v!r} does not have the fields of `{t.name}`"]
    return [e for f in rec.fields for e in type_errors(module, f.type, v[f.name], f"{where}.{f.name}")]


def state_type_errors(it: Interpreter, s: State) -> list[str]:
    m = it.module
    errors = []
    if set(s.fields) != {f.name for f in m.state}:
        errors.append(f"fields {sorted(s.fields)} differ from the declared {sorted(f.name for f in m.state)}")
    for f in m.state:
        if f.name in s.fields:
            errors += type_errors(m, f.type, s.fields[f.name], f.name)
    for w in (s.rng_key, s.rng_counter):
        if not (type(w) is int and 0 <= w <= 0xFFFFFFFF):
            errors.append(f"rng word {w!r} is not a uint32")
    if len(s.legal_action_mask) != it.num_actions or not all(type(b) is bool for b in s.legal_action_mask):
        errors.append("the legal action mask is not one bool per action")
    errors += type_errors(m, m.observe.type, s.observation, "observation")
    return errors


def test_type_checker_catches_bad_values():
    it = interpreter("tictactoe")
    s = it.init(0)
    assert state_type_errors(it, s) == []
    bad = s.copy()
    bad.fields["board"][3] = 2
    bad.fields["rewards"][0] = 0.0  # a Python float, not float32
    bad.fields["terminated"] = 0
    errors = state_type_errors(it, bad)
    assert len(errors) == 3, errors
    assert type_errors(it.module, ir.ListT(elem=ir.BOOL, cap=2), [True, False, True], "xs")


# ------------------------------------------------------------------ snapshots


def snapshot(s: State) -> tuple:
    return (s.fields, s.rng_key, s.rng_counter, s.legal_action_mask, s.observation)


def same(a: State, b: State) -> bool:
    return all(values_equal(x, y) for x, y in zip(snapshot(a), snapshot(b)))


def play(it: Interpreter, seed: int, picks: list[int], check=None, check_inputs: bool = False) -> list[State]:
    """Play legal actions chosen by `picks` from `init(seed)`; `check(prev, action, next)` per step.
    With `check_inputs`, also assert that `step` leaves the state it is given untouched."""
    s = it.init(seed)
    states = [s]
    if check is not None:
        check(None, None, s)
    for pick in picks:
        if s.terminated or s.truncated:
            break
        legal = [i for i, ok in enumerate(s.legal_action_mask) if ok]
        action = legal[pick % len(legal)]
        before = s.copy() if check_inputs else None
        nxt = it.step(s, action)
        if check_inputs:
            assert same(s, before), f"step({it.actions.format(action)}) mutated its input state"
            assert nxt is not s and nxt.fields is not s.fields
        if check is not None:
            check(s, action, nxt)
        states.append(nxt)
        s = nxt
    return states


def make_checker(it: Interpreter, rewards_only_at_the_end: bool):
    zero = [np.float32(0.0)] * it.num_players

    def check(prev: State | None, action: int | None, s: State) -> None:
        assert it.invariant_violations(s) == []
        assert state_type_errors(it, s) == []
        live = not (s.terminated or s.truncated)
        if live:
            assert any(s.legal_action_mask), "a live state has no legal action"
            if rewards_only_at_the_end:
                assert values_equal(s.rewards, zero), s.rewards
        if s.terminated:
            assert all(s.legal_action_mask)  # as in Pgx: all true once terminated (not when only truncated)
        assert values_equal(s.observation, it.observe(s, s.current_player))
        if prev is not None:
            assert s.step_count == prev.step_count + 1
            assert s.rng_counter >= prev.rng_counter

    return check


# st.lists favours short lists; drawing the length first reaches deep game states more often
PICKS = st.integers(min_value=0, max_value=50).flatmap(
    lambda n: st.lists(st.integers(min_value=0, max_value=2**16), min_size=n, max_size=n))
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


@pytest.mark.parametrize("name", SPECS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=SEEDS, picks=PICKS)
def test_random_play(name, seed, picks):
    it = interpreter(name)
    states = play(it, seed, picks, make_checker(it, name in BOARD_GAMES), check_inputs=True)

    # determinism: the same seed and picks replay to identical states
    again = play(it, seed, picks)
    assert len(again) == len(states)
    for a, b in zip(states, again):
        assert same(a, b)


@pytest.mark.parametrize("name", BOARD_GAMES)
@settings(max_examples=10, deadline=None)
@given(seed=SEEDS, picks=st.lists(st.integers(min_value=0, max_value=2**16), min_size=121, max_size=121))
def test_terminal_states_absorb(name, seed, picks):
    """Play to the end; stepping a finished game changes nothing but zeroes the rewards."""
    it = interpreter(name)
    states = play(it, seed, picks)
    end = states[-1]
    assert end.terminated  # every game ends within 121 moves (othello: 60 discs, never two passes in a row)
    assert sum(float(r) for r in end.rewards) == 0.0  # zero-sum: win/loss or draw
    assert sorted(float(r) for r in end.rewards) in ([-1.0, 1.0], [0.0, 0.0])
    for action in range(it.num_actions):
        after = it.step(end, action)
        assert values_equal(after.rewards, [np.float32(0.0)] * it.num_players)
        assert all(values_equal(after.fields[k], end.fields[k]) for k in end.fields if k != "rewards")
        assert after.rng_counter == end.rng_counter


def test_init_is_deterministic_and_draws_the_first_player():
    it = interpreter("tictactoe")
    firsts = set()
    for seed in range(40):
        a, b = it.init(seed), it.init(seed)
        assert same(a, b)
        assert a.rng_counter == 1  # init draws once: the first player
        firsts.add(a.current_player)
    assert firsts == {0, 1}


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_illegal_action_loses_as_in_pgx(seed):
    it = interpreter("tictactoe")
    s = it.init(seed)
    s = it.step(s, 4)  # first mover takes the centre
    mover = s.current_player
    assert not s.terminated and not s.legal_action_mask[4]
    before = s.copy()
    t = it.step(s, 4)  # the other player takes the occupied centre: illegal
    assert same(s, before)
    assert t.terminated and not t.truncated
    assert type(t.rewards[0]) is np.float32
    assert [float(r) for r in t.rewards] == [-1.0 if p == mover else 1.0 for p in range(2)]
    assert t.fields["board"] == s.fields["board"]  # the action's body did not run
    assert t.current_player == mover
    assert t.step_count == s.step_count + 1
    assert all(t.legal_action_mask)
    # the game is over: further steps only zero the rewards
    u = it.step(t, 0)
    assert u.terminated and [float(r) for r in u.rewards] == [0.0, 0.0]


def test_illegal_action_in_connect4_full_column():
    it = interpreter("connect4")
    s = it.init(3)
    for _ in range(6):
        s = it.step(s, 0)
    assert not s.terminated and not s.legal_action_mask[0]
    mover = s.current_player
    t = it.step(s, 0)
    assert t.terminated
    assert [float(r) for r in t.rewards] == [-1.0 if p == mover else 1.0 for p in range(2)]


def test_an_action_outside_the_space_is_an_illegal_action():
    """Never another action: the mover loses, as for a masked-out action (tests/test_out_of_range_actions.py
    checks JAX and Rust against this)."""
    it = interpreter("tictactoe")
    s = it.init(0)
    for bad in (-1, 9, 2**40):
        t = it.step(s, bad)
        assert t.terminated and t.fields["board"] == s.fields["board"]
        assert [float(r) for r in t.rewards] == [-1.0 if p == s.current_player else 1.0 for p in range(2)]


# ------------------------------------------------------------------ generated programs
#
# The checker promises that an accepted spec keeps every value inside its declared type
# (no overflow, no out-of-bounds index, no division by zero). Random programs over a small
# fixed state put that promise to the test: when `check` accepts one, random play must
# keep every state field in its type, and may fail only with `SpecRuntimeError` (a list
# fault the spec allows: popping an empty list, pushing onto a full one).

GEN_SPEC = """\
env gen "generated program"
players 2
turn_limit 8

enum Color { red, green, blue }
record Pt {
    x: int[-3..3]
    y: int[0..5] = 2
}
const K = 3
const ARR = [1, -2, 3, 4]

state {
    a: int[-10..10] = 0
    b: int[0..100] = 5
    f: float32 = 0.5
    flag: bool
    col: Color = Color.green
    arr: int[-5..5][4] = 1
    xs: list<int[0..9], 6>
    pt: Pt
}

init {
    xs.push(3)
    INIT
}

action act(i: int[0..3], c: Color) {
    BODY
    current_player = 1 - current_player
}

action stop(t: bool) when t {
    draw()
}

observe(p) -> int[-10..10][2] {
    return [a, clamp(b, -10, 10)]
}
"""

_INT_ATOMS = ["a", "b", "i", "K", "len(xs)", "pt.x", "pt.y", "int(flag)", "int(c)", "int(col)", "current_player",
              "step_count"]
_BOOL_ATOMS = ["flag", "true", "false", "col == Color.red", "c != col", "xs.contains(3)"]


@st.composite
def int_expr(draw, depth=0):
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(st.integers(-20, 20).map(str), st.sampled_from(_INT_ATOMS)))
    k = draw(st.sampled_from(["bin", "bin", "bin", "call", "cond", "idx", "reduce", "neg", "paren"]))

    def sub():
        return draw(int_expr(depth + 1))

    if k == "bin":
        return f"{sub()} {draw(st.sampled_from(['+', '-', '*', '/', '%']))} {sub()}"
    if k == "call":
        fn, n = draw(st.sampled_from([("min", 2), ("max", 2), ("clamp", 3), ("abs", 1)]))
        return f"{fn}({', '.join(sub() for _ in range(n))})"
    if k == "cond":
        return f"(if {draw(bool_expr(depth + 1))} then {sub()} else {sub()})"
    if k == "idx":
        return f"{draw(st.sampled_from(['arr', 'ARR', 'xs']))}[{sub()}]"
    if k == "reduce":
        op = draw(st.sampled_from(["sum", "min", "max", "count"]))
        lo, hi = sorted(draw(st.lists(st.integers(-2, 5), min_size=2, max_size=2)))
        return f"{op}({draw(bool_expr(depth + 1)) if op == 'count' else sub()} for j in {lo}..{hi})"
    if k == "neg":
        return f"-({sub()})"
    return f"({sub()})"


@st.composite
def bool_expr(draw, depth=0):
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(_BOOL_ATOMS))
    k = draw(st.sampled_from(["cmp", "cmp", "and", "not", "any"]))
    if k == "cmp":
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return f"{draw(int_expr(depth + 1))} {op} {draw(int_expr(depth + 1))}"
    if k == "and":
        return f"({draw(bool_expr(depth + 1))} {draw(st.sampled_from(['and', 'or']))} {draw(bool_expr(depth + 1))})"
    if k == "not":
        return f"not {draw(bool_expr(depth + 1))}"
    return f"{draw(st.sampled_from(['any', 'all']))}({draw(bool_expr(depth + 1))} for j in 0..3)"


@st.composite
def stmt(draw, depth=0):
    k = draw(st.sampled_from(["assign", "assign", "let", "if", "list", "index", "float", "aug", "for", "record",
                              "effect"]))

    def e():
        return draw(int_expr())

    if k == "assign":
        target, lo, hi = draw(st.sampled_from([("a", -10, 10), ("b", 0, 100), ("pt.x", -3, 3), ("pt.y", 0, 5)]))
        return f"{target} = clamp({e()}, {lo}, {hi})" if draw(st.booleans()) else f"{target} = {e()}"
    if k == "let":
        return f"let v{draw(st.integers(0, 3))} = {e()}"
    if k == "if" and depth < 2:
        return f"if {draw(bool_expr())} {{\n{draw(block(depth + 1))}\n}} else {{\n{draw(block(depth + 1))}\n}}"
    if k == "for" and depth < 2:
        return f"for k in 0..{draw(st.integers(1, 4))} {{\n{draw(block(depth + 1))}\n}}"
    if k == "list":
        op = draw(st.sampled_from(["push(E)", "pop()", "draw()", "clear()", "shuffle()", "remove_at(E)",
                                   "insert(E, E)"]))
        while "E" in op:
            op = op.replace("E", e(), 1)
        return f"xs.{op}"
    if k == "index":
        return f"{draw(st.sampled_from(['arr', 'xs']))}[{e()}] = {e()}"
    if k == "float":
        return f"f = f * {draw(st.sampled_from(['0.5', '1.5', '-2.0']))} + float({e()})"
    if k == "aug":
        return f"{draw(st.sampled_from(['a', 'b']))} {draw(st.sampled_from(['+=', '-=']))} {e()}"
    if k == "record":
        return f"pt = Pt(x: {e()})"
    if k == "effect":
        return draw(st.sampled_from(["flag = not flag", "col = c", "reward(current_player, 0.5)",
                                     "win(current_player)"]))
    return f"a = {e()}"


@st.composite
def block(draw, depth=0):
    return "\n".join(draw(st.lists(stmt(depth), min_size=1, max_size=4)))


@st.composite
def program(draw):
    init = re.sub(r"\b[ic]\b", "1", draw(block(1))).replace("col = 1", "col = Color.red")  # init has no parameters
    return GEN_SPEC.replace("INIT", init).replace("BODY", draw(block()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=program(), seed=SEEDS, picks=st.lists(st.integers(0, 100), min_size=8, max_size=8))
def test_generated_programs_stay_in_their_types(text, seed, picks):
    try:
        module = check(parse(text, os.path.join(ROOT, "tests", "generated.envspec")))
    except DiagnosticError:
        return  # rejected: the front end's robustness is tests/test_fuzz.py's business
    it = Interpreter(module)
    try:
        s = it.init(seed)
        assert state_type_errors(it, s) == []
        for pick in picks:
            if s.terminated or s.truncated:
                break
            legal = [k for k, ok in enumerate(s.legal_action_mask) if ok]
            s = it.step(s, legal[pick % len(legal)])
            assert state_type_errors(it, s) == []
            assert it.invariant_violations(s) == []
    except SpecRuntimeError:
        pass  # a list fault the spec allows
