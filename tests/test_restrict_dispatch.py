"""The pass `restrict_dispatch` (`envc.compiler.passes.restrict_dispatch`): which guarded call
sites it points at a smaller dispatch and over which members (computed here again from the
tables' data, not from the pass), that it leaves the others alone, and that it changes no
meaning (the interpreter's trajectories with and without it are identical, and the JAX
backend on its output equals the interpreter). The printed IR of its case is
tests/passes/restrict_dispatch/guarded.ir (tests/test_pipeline.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envc.compiler import ir
from envc.compiler.check import load
from envc.compiler.interp import Interpreter
from envc.compiler.passes import effect_tables as et
from envc.compiler.pipeline import PassContext
from envc.verify import verify

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "tests" / "passes" / "restrict_dispatch" / "guarded.envspec")
OFF = PassContext(disabled=frozenset({"restrict_dispatch"}))
DISPATCH = "card_effect__dispatch"


@pytest.fixture(scope="module")
def on() -> ir.Module:
    return load(SPEC)


@pytest.fixture(scope="module")
def off() -> ir.Module:
    return load(SPEC, OFF)


def _calls(stmts) -> list[ir.CallProc]:
    out: list[ir.CallProc] = []
    for s in stmts:
        for n in ir.walk(s):
            if isinstance(n, ir.CallProc):
                out.append(n)
    return out


def _members(module: ir.Module, dispatch: str) -> set[int]:
    """The effect numbers whose member a dispatch proc runs (checked: before effect_tables)."""
    return {int(c.proc.rsplit("__", 1)[1]) for c in _calls(module.fn(dispatch).body)}


def test_guarded_sites_are_restricted_and_the_others_left():
    m = load(SPEC, PassContext(after="restrict_dispatch"))
    sites = [c.proc for c in _calls(m.actions[0].body)]
    assert sites == [f"{DISPATCH}__1", f"{DISPATCH}__2", DISPATCH, DISPATCH, DISPATCH]
    assert m.families[0].restricted == [f"{DISPATCH}__1", f"{DISPATCH}__2"]
    # from the data: Spark and Bolt are the strikes with a text, Mend the shield (Blank has none)
    card = m.table("Card")
    kind = next(c.values for c in card.columns if c.name == "kind")
    effect = next(c.values for c in card.columns if c.name == "effect")
    strike, shield = (m.enum("Kind").members.index(k) for k in ("strike", "shield"))
    assert _members(m, f"{DISPATCH}__1") == {effect[r] for r in range(card.rows) if kind[r] == strike} - {0} == {1, 2}
    assert _members(m, f"{DISPATCH}__2") == {effect[r] for r in range(card.rows) if kind[r] == shield} == {3}
    assert _members(m, DISPATCH) == {1, 2, 3, 4}


def test_disabled_it_changes_nothing(off):
    m = load(SPEC, PassContext(after="restrict_dispatch", disabled=OFF.disabled))
    assert m.families[0].restricted == []
    assert {c.proc for c in _calls(m.actions[0].body)} == {DISPATCH}
    assert [f.name for f in off.fns if f.name.startswith(DISPATCH)] == [DISPATCH]


def test_a_second_run_changes_nothing():
    from envc.compiler.passes import restrict_dispatch

    m = load(SPEC, PassContext(after="restrict_dispatch"))
    assert restrict_dispatch.run(m) is m


def test_effect_tables_tabulate_each_restricted_dispatch(on):
    assert [len(et.build(load(SPEC, PassContext(after="restrict_dispatch")), d).ops)
            for d in (DISPATCH, f"{DISPATCH}__1", f"{DISPATCH}__2")] == [3, 1, 2]  # hit+heal+Gamble; hit; heal+hit
    first = on.fn(f"{DISPATCH}__1").body[0]  # after every pass: the table's program, not the chain
    assert isinstance(first, ir.Let) and first.name == "op_0"


def test_interpreter_trajectories_are_identical_with_and_without(off, on, same_games):
    assert same_games(Interpreter(off), Interpreter(on), 25, max_steps=200) > 100


def test_a_wrong_restriction_would_be_seen(off, on, same_games):
    """The comparison above can fail: the strikes' site pointed at the shield's dispatch
    (member 3 instead of 1 and 2) plays other games."""
    wrong = [f.model_copy(update={"body": on.fn(f"{DISPATCH}__2").body}) if f.name == f"{DISPATCH}__1" else f
             for f in on.fns]
    with pytest.raises(AssertionError):
        same_games(Interpreter(off), Interpreter(on.model_copy(update={"fns": wrong})), 25, max_steps=200)


def test_jax_on_the_restricted_dispatch_equals_the_interpreter(on):
    report = verify(on, ["python", "jax"], episodes=6, seed=0, level2_samples=5)
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.steps > 50


def test_tcg_sites_reach_the_abilities_of_their_trigger(specs):
    """In the TCG, each ability call under `card.ability_kind.on == Trigger.X` runs a dispatch
    over the abilities of trigger X only (from the tables' data), and `use_ability` (whose
    guard is the action's `when`, not an `if`) keeps the whole dispatch."""
    m = load(str(ROOT / "specs" / "tcg.envspec"), PassContext(after="restrict_dispatch"))
    card, kinds = m.table("Card"), m.table("AbilityKind")
    col = {c.name: c.values for c in card.columns}
    on_of = next(c.values for c in kinds.columns if c.name == "on")
    trigger = m.enum("Trigger").members
    filled = _members(m, "ability_effect__dispatch")

    def of(t: str) -> set[int]:
        return {col["ability"][r] for r in range(card.rows) if trigger[on_of[col["ability_kind"][r]]] == t} & filled

    where = {f.name: {c.proc for c in _calls(f.body)} for f in [*m.fns, *m.actions]}
    for site, t in (("active_abilities", "active"), ("finish_turn", "first_turn_end"), ("attach", "attach"),
                    ("attack", "attacked")):
        procs = {p for p in where[site] if p.startswith("ability_effect__dispatch")}
        assert len(procs) == 1 and procs != {"ability_effect__dispatch"}, (site, procs)
        assert _members(m, procs.pop()) == of(t), site
    assert "ability_effect__dispatch" in where["use_ability"]
    assert len(of("active")) == 1 and len(of("use")) > len(of("active"))


HUNT = ROOT / "tests" / "specs" / "restrict_hunt"


def test_a_take_between_guard_and_call_keeps_the_call_whole(same_games):
    """restrict_hunt/rdmin: `if hand[0].kind == Kind.shield { if int(hand.draw()) >= 0 {
    card_effect[hand[0].effect](0) } }`: the draw changes `hand[0]`, so the outer guard says
    nothing of the row at the call. The pass restricted it to the shield's text: P0 won no
    game (0.44 without the pass)."""
    spec = str(HUNT / "rdmin" / "rdmin.envspec")
    on, off = load(spec), load(spec, PassContext(disabled=frozenset({"restrict_dispatch"})))
    assert [f.restricted for f in on.families] == [[]]
    assert same_games(Interpreter(off), Interpreter(on), 40) > 0


def test_a_conjunct_that_reads_a_state_array_is_ignored():
    """restrict_hunt/rd2: the guard `c.kind == wanted[p]` reads a state array beside the row:
    the stateless evaluation of the pass raised AttributeError (an internal error of every
    command). It is no constant per row, so it is ignored; the spec loads and plays."""
    m = load(str(HUNT / "rd2" / "rd2.envspec"))
    report = verify(m, ["python", "flat"], episodes=10, seed=0)
    assert report.ok and report.episodes == 10, [d.render() for d in report.divergences]


def test_a_conjunct_that_divides_by_zero_on_some_row_is_ignored():
    """restrict_hunt/rd3: `c.cost > 0 and 12 / c.cost > 5` is split on `and`, and the second
    conjunct, evaluated apart, divides by zero on a row of cost 0 (ZeroDivisionError, an
    internal error). The first still decides the rows."""
    m = load(str(HUNT / "rd3" / "rd3.envspec"))
    report = verify(m, ["python", "flat"], episodes=10, seed=0)
    assert report.ok and report.episodes == 10, [d.render() for d in report.divergences]


def test_restricted_dispatches_share_no_statement_with_theirs(same_games):
    """restrict_hunt/shared: both texts `choose`; one call is restricted, one is not. With
    `effect_tables` off the restricted copy shared its member calls with the dispatch, and the
    interpreter's pause plans (keyed by statement) resumed in the wrong body: StopIteration."""
    spec = str(HUNT / "shared" / "shared.envspec")
    off = load(spec, PassContext(disabled=frozenset({"effect_tables"})))
    assert off.families[0].restricted
    ids = {id(n) for f in off.fns if f.name == off.families[0].dispatch for n in ir.walk_all(f.body)}
    copies = [f for f in off.fns if f.name in off.families[0].restricted]
    assert not any(id(n) in ids for f in copies for n in ir.walk_all(f.body))
    assert same_games(Interpreter(load(spec)), Interpreter(off), 20, public_only=True) > 0
