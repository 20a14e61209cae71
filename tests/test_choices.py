"""`choose`: decisions in the middle of effects (issue 14, DESIGN.md decision 7).

`tests/specs/choices.envspec` asks for decisions in every position the lowering must handle:
in a loop (`grow` asks n times), in a nested proc (`levy`, called from `grow`), by a player
who is not the mover (the opponent gives up a token), with no legal option (then `else`),
in sequence (the stash after the loop) and in a fill (`gift`). Checked here:

* scripted positions on the reference interpreter: who chooses, what the mask offers, what
  `pending_choice()` says, that resuming puts `current_player` back and continues where the
  effect paused; `else` without a pause; `else fail(...)` as a fault;
* the interpreter's native `choose` equals the interpreter on the lowered IR (`flat`), JAX
  and Rust over seeded games (`envc verify`, which samples paused states for level 2);
* property: from any paused state reached by random play, every legal option resumes to
  the same next state on every backend (hypothesis draws the games).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envc.compiler.check import load
from envc.compiler.interp import Interpreter, SpecRuntimeError
from envc.compiler.passes import choice_points, lower_choices
from envc.verify import first_difference, from_arrays, jax_state_arrays, state_from_arrays, to_arrays, verify

SPEC = str(Path(__file__).resolve().parent / "specs" / "choices.envspec")
LEVY, GROW, GIFT, STASH = 1, 2, 3, 4  # the sites, in the order of the spec, then of the fill


@pytest.fixture(scope="module")
def module():
    return load(SPEC)


@pytest.fixture(scope="module")
def it(module):
    return Interpreter(module)


@pytest.fixture(scope="module")
def flat(module):
    return Interpreter(lower_choices.run(module))


def position(it, piles, stash=(0, 0), player=0, seed=0):
    s = it.init(seed)
    s.fields["piles"] = [list(piles[0]), list(piles[1])]
    s.fields["stash"] = list(stash)
    s.fields["current_player"] = player
    it._finish(s)
    return s


def options(it, s) -> list[int]:
    kind = next(k for k in it.actions.kinds if k.name == "choose")
    return [it.actions.decode(a)[1][0] for a in range(kind.offset, kind.offset + kind.size) if s.legal_action_mask[a]]


def choose(it, s, v):
    return it.step(s, it.actions.encode("choose", option=v))


def test_the_representation(module):
    info = module.choice
    assert info is not None and not info.lowered
    assert [a.name for a in module.actions][-1] == "choose" and info.action == len(module.actions) - 1
    assert {(b.kind, b.name) for b in info.bodies} == {
        ("proc", "levy"), ("proc", "grow"), ("proc", "gift"), ("action", "harvest"), ("action", "gift_turn")}
    assert [s.site for s in info.sites] == [LEVY, GROW, GIFT, STASH]
    names = {f.name: f for f in module.state}
    assert names["_envc_at_p_grow"].visibility == "public"
    assert names["_envc_frame_p4_grow__t"].visibility == "hidden"  # the loop's iteration is part of the frame
    assert "_envc_frame_a7_harvest__p" in names
    # levy and gift never wait at the same time (neither calls the other): they share `at`,
    # their points one after another, and their live locals of one type share a frame field
    # (grow calls levy: its fields are its own)
    plan = choice_points.plan(module)
    levy, gift, grow = (plan.proc(n) for n in ("levy", "gift", "grow"))
    assert levy.at == gift.at == "_envc_at_g1" and names[levy.at].type.hi == 2
    assert (levy.base, gift.base) == (0, len(levy.points)) and grow.at == "_envc_at_p_grow"
    assert levy.slot["p"] == gift.slot["p"] and levy.slot["k"] == gift.slot["k"] != levy.slot["q"]
    assert choice_points.run(module) is module  # idempotent


def test_decisions_in_a_loop_a_nested_proc_and_in_sequence(it):
    # player 0 grows pile 2 (1 -> 2), then pile 2 again (2 -> 4), then pile 2 (4 -> 7)...
    s = position(it, [[1, 1, 1, 1], [2, 1, 2, 1]])
    s = it.step(s, it.actions.encode("harvest", n=2))
    assert s.current_player == 0 and s.observation[10] == GROW
    assert options(it, s) == [0, 1, 2, 3]
    assert not any(s.legal_action_mask[k.offset + i] for k in it.actions.kinds if k.name != "choose"
                   for i in range(k.size)), "while a decision waits, only `choose` is legal"
    s = choose(it, s, 2)  # pile 2: 1 + 1 = 2, no levy; the loop asks again (t = 1)
    assert s.piles[0] == [1, 1, 2, 1] and s.current_player == 0 and s.observation[10] == GROW
    s = choose(it, s, 2)  # pile 2: 2 + 2 = 4: no levy (not a multiple of 3), loop over; no stash
    assert s.piles[0] == [1, 1, 4, 1] and s.current_player == 1, "the effect finished: the turn passed"
    assert s.observation[10] == 0 and s.picks == 2


def test_a_chooser_who_is_not_the_mover(it):
    s = position(it, [[2, 1, 1, 1], [2, 1, 3, 1]])
    s = it.step(s, it.actions.encode("harvest", n=1))
    s = choose(it, s, 0)  # pile 0: 2 + 1 = 3: a multiple of 3, player 1 gives up a token
    assert s.current_player == 1, "the opponent decides"
    assert s.observation[10] == LEVY and s.observation[8] == 0  # player 1's view: its own stash first
    assert options(it, s) == [0, 2], "only its piles of at least 2"
    assert s.fields["_envc_choice_mover"] == 0
    s = choose(it, s, 2)
    assert s.piles[1] == [2, 1, 2, 1] and s.stash == [1, 0]
    # then the mover places the stash: a decision after the nested ones, back to player 0
    assert s.current_player == 0 and s.observation[10] == STASH
    assert options(it, s) == [0, 1, 2, 3]
    s = choose(it, s, 1)
    assert s.piles[0] == [3, 2, 1, 1] and s.stash == [0, 0] and s.current_player == 1


def test_no_legal_option_takes_else_without_pausing(it):
    s = position(it, [[2, 1, 1, 1], [1, 1, 1, 1]])
    s = it.step(s, it.actions.encode("harvest", n=1))
    s = choose(it, s, 0)  # 3: a levy, but player 1 has no pile of 2: `else -1`, nothing is taken
    assert s.piles[1] == [1, 1, 1, 1] and s.stash == [0, 0]
    assert s.current_player == 1 and s.observation[10] == 0


def test_else_fail_is_a_fault_on_both_interpreters(it, flat):
    # `harvest`'s guard keeps a pile below 28; called directly, `grow` finds none
    for interp in (it, flat):
        s = position(interp, [[28, 29, 30, 28], [1, 1, 1, 1]])
        with pytest.raises(SpecRuntimeError, match="every pile is full"):
            interp.call(s, "grow", [0, 1])


def test_a_fill_decides_too(it):
    s = position(it, [[12, 9, 14, 3], [1, 1, 1, 1]])
    s = it.step(s, it.actions.encode("gift_turn"))
    assert s.observation[10] == GIFT and options(it, s) == [1, 3]
    s = choose(it, s, 3)
    assert s.piles[0] == [12, 9, 14, 5] and s.current_player == 1


def test_a_direct_call_does_not_pause(it):
    s = position(it, [[1, 1, 1, 1], [2, 1, 3, 1]])
    after, _ = it.call(s, "levy", [0])  # the lowest legal option by default
    assert after.piles[1] == [1, 1, 3, 1] and after.current_player == 0
    after, _ = it.call(s, "levy", [0], choices=lambda stmt, legal, who: legal[-1])
    assert after.piles[1] == [2, 1, 2, 1]


def test_native_and_lowered_interpreters_agree(module):
    report = verify(module, ["python", "flat"], episodes=40, seed=3)
    assert report.faults == [] and [d.render() for d in report.divergences] == []
    assert report.level2_transitions > 40


def _paused_games(it, n_games: int, seed: int):
    """States reached by random play that wait for a decision, with how many were seen."""
    rng = np.random.default_rng(seed)
    paused = []
    for g in range(n_games):
        s = it.init(seed * 100 + g)
        while not (s.terminated or s.truncated):
            if s.observation[10] != 0:
                paused.append(s)
            s = it.step(s, int(rng.choice(np.flatnonzero(s.legal_action_mask))))
    return paused


def test_random_play_reaches_every_site(it):
    seen = {s.observation[10] for s in _paused_games(it, 10, 1)}
    assert seen == {LEVY, GROW, GIFT, STASH}


@pytest.mark.slow
def test_jax_and_rust_match_the_interpreter(module):
    pytest.importorskip("jax")
    report = verify(module, ["python", "jax", "rust"], episodes=40, seed=5)
    assert report.faults == [] and [d.render() for d in report.divergences] == []
    assert report.level2_transitions > 40


@pytest.fixture(scope="module")
def backends(module):
    """The other backends' one-step functions on an injected interpreter state."""
    jax = pytest.importorskip("jax")
    from envc.verify import load_jax, load_rust

    env = load_jax(module)
    jstep = jax.jit(env.step)
    native = load_rust(module).VecEnv(1, threads=1, autoreset=False)

    def rust(arrays, action):
        native.set_state(0, arrays)
        native.step(np.array([action], dtype=np.int32))
        return native.get_state(0)

    return {"jax": lambda arrays, action: jax_state_arrays(jstep(from_arrays(env, arrays), action)), "rust": rust}


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_a_paused_state_resumes_alike_on_every_backend(seed, module, it, flat, backends):
    paused = _paused_games(it, 1, seed)
    for s in paused[:6]:
        arrays = to_arrays(module, s)
        for v in options(it, s):
            a = it.actions.encode("choose", option=v)
            ours = to_arrays(module, it.step(s, a))
            theirs = {"flat": to_arrays(module, flat.step(state_from_arrays(module, arrays), a))}
            for name, step in backends.items():
                theirs[name] = step(arrays, a)
            for name, got in theirs.items():
                diff = first_difference(ours, {k: got[k] for k in ours}, 0.0)
                assert diff is None, f"{name} resumes site {s.observation[10]} with option {v} differently: {diff}"


def test_envc_actions_lists_the_decision_kind_and_its_sites():
    from typer.testing import CliRunner

    from envc.cli import app

    result = CliRunner().invoke(app, ["actions", SPEC], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "choose(option=0)" in result.output and "choose(option=3)" in result.output
    rows = [line for line in result.output.splitlines() if "choices.envspec:" in line or "choices.fills:" in line]
    where = {int(r.split("│")[1]): r.split("│")[2].strip() for r in rows}
    assert where == {LEVY: "choices.envspec:28 (in proc `levy`)", GROW: "choices.envspec:39 (in proc `grow`)",
                     GIFT: "choices.fills:3 (in proc `gift`)", STASH: "choices.envspec:62 (in action `harvest`)"}


def test_frame_fields_of_bodies_whose_names_hold_double_underscores_are_apart():
    """tests/specs/frame_names.envspec: proc `go` keeps local `a__b` across its call of proc
    `go__a`, which keeps `b` across a `choose`. Their frame fields were both
    `_envc_frame_p_go__a__b`: after the choice `go__a` added 1 (a__b) instead of 9 (b)."""
    m = choice_points.run(load(str(Path(__file__).parent / "specs" / "frame_names.envspec")))
    it = Interpreter(m)
    s = it.step(it.init(0), 0)  # play(): go -> go__a pauses at its choose
    s = it.step(s, 1)  # choose option 0
    assert s.fields["n"] == 9 + 0 + 1
    frames = [f.name for f in m.state if f.name.startswith("_envc_frame_")]
    assert sorted(frames) == ["_envc_frame_p2_go__a__b", "_envc_frame_p5_go__a__b", "_envc_frame_p5_go__a__k"]


def test_a_choose_condition_may_hold_a_comprehension():
    """tests/specs/choose_where_comprehension.envspec: `where any(... for j in 1..3)` beside a
    local of the body; `j` was taken for a frame local (internal error). Options 0 and 1 only."""
    m = choice_points.run(load(str(Path(__file__).parent / "specs" / "choose_where_comprehension.envspec")))
    it = Interpreter(m)
    s = it.step(it.init(0), 0)  # go(): pauses at the choose
    assert [i for i, ok in enumerate(it.legal_action_mask(s)) if ok] == [1, 2]  # choose options 0, 1
    report = verify(m, ["python", "flat"], episodes=8, seed=0)
    assert report.ok and report.episodes == 8, [d.render() for d in report.divergences]


def test_a_pausing_call_in_a_loop_may_take_in_its_arguments():
    """tests/specs/pause_loop_take.envspec: `duel(score % 10, pool.pop())` in a `for` loop, the
    proc pausing at a `choose`; the JAX (and Rust) compile failed on a frame field that was never
    declared. The lowered module and the generated JAX play as the interpreter."""
    m = load(str(Path(__file__).parent / "specs" / "pause_loop_take.envspec"))
    report = verify(m, ["python", "flat", "jax"], episodes=10, seed=0)
    assert report.ok and report.episodes == 10, [d.render() for d in report.divergences] + report.faults


WIN_THEN_CHOOSE = """env wincho "a choose reached after the game ended in the same effect"
players 2
turn_limit 20
state { x: int[0..9] = 0  y: int[0..9] = 0 }
proc tail(p: int[0..1]) {
    let v = choose(1 - p, v in 1..4) else 0
    y = v
}
action go(k: int[0..2]) {
    let p = current_player
    x = min(x + k, 9)
    if x >= 5 { win(p) }
    tail(p)
    current_player = 1 - p
}
observe(p) -> int[0..9][3] { return [x, y, pending_choice()] }
"""


def test_a_choose_after_the_game_ended_takes_its_lowest_option_without_pausing(tmp_path):
    """Hunt S: a `choose` reached after `win` in the same step paused the finished game
    (`pending_choice()` stayed set, `current_player` the chooser) and the rest of the effect was
    dropped. No one moves in a finished game: the decision takes its lowest legal option and
    the effect runs on, on the native and the lowered interpreter alike."""
    spec = tmp_path / "wincho.envspec"
    spec.write_text(WIN_THEN_CHOOSE, encoding="utf-8")
    m = load(str(spec))
    for interp in (Interpreter(m), Interpreter(lower_choices.run(m))):
        s = interp.init(0)
        s = interp.step(s, interp.actions.encode("go", k=2))
        s = interp.step(s, interp.actions.encode("choose", option=3))  # a decision before the end
        assert (s.y, s.current_player, s.observation[2]) == (3, 1, 0)
        s = interp.step(s, interp.actions.encode("go", k=2))
        s = interp.step(s, interp.actions.encode("choose", option=2))
        s = interp.step(s, interp.actions.encode("go", k=2))  # x = 6: player 0 wins, then `tail` decides
        assert s.terminated and s.rewards[0] == 1
        assert (s.y, s.current_player, s.observation[2]) == (1, 1, 0)
    report = verify(m, ["python", "flat"], episodes=20, seed=1)
    assert report.faults == [] and [d.render() for d in report.divergences] == []
