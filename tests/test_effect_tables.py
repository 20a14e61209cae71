"""The effect-table pass (`envc.compiler.passes.effect_tables`) on tests/specs/effects.envspec:
the table it builds, the dispatch it generates (one branch per op and step, not per text),
and that it changes no meaning (the interpreter's trajectories with and without it are
identical, and the JAX backend on the pass's output equals the interpreter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envc.compiler import ir
from envc.compiler.check import load
from envc.compiler.interp import Interpreter
from envc.compiler.passes import effect_tables as et
from envc.compiler.pipeline import PassContext
from envc.verify import verify

OFF = PassContext(disabled=frozenset({"effect_tables"}))

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "tests" / "specs" / "effects.envspec")
DISPATCH = "card_effect__dispatch"
CALM, ANGRY, SLEEPY = 0, 1, 2


@pytest.fixture(scope="module")
def off() -> ir.Module:
    return load(SPEC, OFF)


@pytest.fixture(scope="module")
def on() -> ir.Module:
    return load(SPEC)


def _plain(row):
    return [(op, tuple(("c", a.value) if isinstance(a, et.ConstArg) else ("p", a.index) for a in args))
            for op, args in row]


def _calls(stmts) -> list[str]:
    out = []
    for s in stmts:
        if isinstance(s, ir.CallProc):
            out.append(s.proc)
        elif isinstance(s, ir.If):
            out += _calls(s.then) + _calls(s.orelse)
    return out


def test_table_contents(off):
    t = et.build(off, DISPATCH)
    num = {text: i + 1 for i, text in enumerate(off.families[0].texts)}
    assert t.verbs == ["hit", "raise_shield", "set_mood", "heal"]  # in order of first use
    flip = num["Flip 2 coins: 1 damage to the chosen player per heads."]
    assert t.fallbacks == [f"card_effect__{flip}"]  # a loop: not tabulable
    assert t.ops == t.verbs + t.fallbacks
    assert t.length == 3 and t.arity == 3 and len(t.rows) == len(num) + 1
    assert sorted(t.members) == sorted(num.values()) and flip not in t.tabulable
    hit, shield, mood, heal, fallback = 1, 2, 3, 4, 5
    pad = (0, ())
    p, target = ("p", 0), ("p", 1)
    expected = {
        "Deal 5 damage to the chosen player.": [(hit, (target, ("c", 5)))],
        "Deal 3 damage to player 1.": [(hit, (("c", 1), ("c", 3)))],
        "Raise a shield of 3.": [(shield, (p, ("c", 3), ("c", False)))],
        "You fall asleep.": [(mood, (p, ("c", SLEEPY)))],
        "Heal 4, anger the chosen player, then deal 2 damage to them.":
            [(heal, (p, ("c", 4))), (mood, (target, ("c", ANGRY))), (hit, (target, ("c", 2)))],
        "The chosen player becomes sleepy.": [(mood, (target, ("c", SLEEPY)))],
        "Flip 2 coins: 1 damage to the chosen player per heads.": [(fallback, (p, target))],
        "Raise a double shield of 2.": [(shield, (p, ("c", 2), ("c", True)))],
        "Nothing happens.": [],  # an empty fill: a row of no-ops
    }
    assert _plain(t.rows[0]) == [pad] * 3
    for text, steps in expected.items():
        assert _plain(t.rows[num[text]]) == steps + [pad] * (3 - len(steps)), text
    # the plain-int form: op, then (source, value) per argument slot (source 0: constant)
    assert t.prog()[num["Raise a double shield of 2."]] == [[shield, 1, 0, 0, 2, 0, 1], [0] * 7, [0] * 7]
    assert t.prog()[num["Deal 5 damage to the chosen player."]][0] == [hit, 2, 0, 0, 5, 0, 0]


def test_dispatch_has_one_branch_per_op_and_step(off, on):
    old = _calls(off.fn(DISPATCH).body)
    new = on.fn(DISPATCH).body
    assert len(old) == 9  # the checker's chain: one branch per filled text
    # step 0 may hold any op; step 1 only `set_mood`, step 2 only `hit` (from the one 3-verb text)
    assert _calls(new) == ["hit", "raise_shield", "set_mood", "heal", "card_effect__7", "set_mood", "hit"]
    assert [s.name for s in new if isinstance(s, ir.Let)] == ["op_0", "op_1", "op_2"]
    # everything else is untouched; the members stay (fallbacks and `envc fill` call them)
    assert [f.name for f in on.fns] == [f.name for f in off.fns]
    assert [f for f in on.fns if f.name != DISPATCH] == [f for f in off.fns if f.name != DISPATCH]


def test_pass_is_idempotent_and_identity_without_families(on):
    assert et.run(on) == on
    ttt = str(ROOT / "specs" / "tictactoe.envspec")
    assert load(ttt) == load(ttt, OFF)


def test_pass_context_switches_it_off(off):
    assert load(SPEC, PassContext(disabled=frozenset({"effect_tables"}))).fn(DISPATCH) == off.fn(DISPATCH)


def test_interpreter_trajectories_are_identical_with_and_without(off, on, same_games):
    effects = same_games(Interpreter(off), Interpreter(on), 25, max_steps=200, count=lambda action: action < 6)  # `play`
    assert effects > 100


def test_jax_on_the_tables_equals_the_interpreter(on):
    report = verify(on, ["python", "jax"], episodes=6, seed=0, level2_samples=5)
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.steps > 50


def test_shipped_tcg_fills_are_tabulable_except_loops(specs):
    m = load(str(ROOT / "specs" / "tcg.envspec"), OFF)
    for fam in m.families:
        t = et.build(m, fam.dispatch)
        assert t is not None, fam.name
        for member in t.fallbacks:  # only bodies that are more than verb calls fall back
            assert any(not isinstance(s, ir.CallProc) for s in m.fn(member).body), member
        # each step of the table dispatches only the ops some row uses at that step, so an op
        # used at two steps (damage_opponent_choice, first and second) is called twice
        calls = _calls(specs("tcg").fn(fam.dispatch).body)
        assert list(dict.fromkeys(calls)) == t.ops
