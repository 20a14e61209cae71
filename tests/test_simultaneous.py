"""Simultaneous turns (`simultaneous`, `resolve`): the lowering to sequential commits
(`envc.compiler.passes.simultaneous`), the joint API of every backend (`step_joint`,
`legal_action_masks`, `observe_all`), `envc verify --joint`, and the PettingZoo parallel
adapter, on the test spec `tests/specs/duel.envspec`."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from envc.compiler import rng as envc_rng
from envc.compiler.check import load
from envc.compiler.interp import Interpreter, SpecRuntimeError
from envc.compiler.passes import simultaneous
from envc.verify import first_difference, jax_state_arrays, to_arrays, verify

ROOT = Path(__file__).resolve().parent.parent
DUEL = str(ROOT / "tests" / "specs" / "duel.envspec")


@pytest.fixture(scope="module")
def duel():
    return load(DUEL)


@pytest.fixture(scope="module")
def it(duel):
    return Interpreter(duel)


@pytest.fixture(scope="module")
def duel_jax(duel):
    from envc.verify import load_jax

    return load_jax(duel)


def _random_turns(it, seed: int, turns: int = 100):
    """(states at each turn start, joint actions) of a random game of the interpreter."""
    rng = np.random.default_rng(seed)
    s = it.init(seed)
    states, actions = [s], []
    while not (s.terminated or s.truncated) and len(actions) < turns:
        acts = [int(rng.choice(np.flatnonzero(row))) for row in it.legal_action_masks(s)]
        s = it.step_joint(s, acts)
        states.append(s)
        actions.append(acts)
    return states, actions


def test_lowering_gives_a_sequential_game_with_the_same_actions(duel, it):
    sim = duel.simultaneous
    assert sim.lowered and sim.resolve == [] and sim.turn_limit == 30
    assert duel.turn_limit is None  # turns are counted by the epilogue, not per step
    fields = {f.name: f for f in duel.state}
    assert fields[simultaneous.CHOICE].visibility == "hidden"
    assert [k.name for k in it.actions.kinds] == ["strike", "guard", "rest"]
    assert it.actions.format(5) == "strike(power=3, stance=high)"
    assert duel.epilogue, "the turn is resolved after the last commit"
    assert simultaneous.run(duel) is duel  # lowering twice changes nothing


def test_a_turn_is_one_commit_per_player(it):
    s = it.init(7)
    assert s.current_player == 0
    a0, a1 = it.actions.encode("strike", power=2, stance="high"), it.actions.encode("guard", hard=True)
    after0 = it.step(s, a0)
    assert after0.current_player == 1 and after0.fields["hp"] == s.fields["hp"], "a commit changes nothing visible"
    assert after0.fields[simultaneous.CHOICE][0] == a0
    both = it.step(after0, a1)
    assert both.current_player == 0 and both.fields[simultaneous.TURN] == 1 and both.step_count == 2
    joint = it.step_joint(s, [a0, a1])
    assert to_arrays(it.module, joint).keys() == to_arrays(it.module, both).keys()
    assert first_difference(to_arrays(it.module, joint), to_arrays(it.module, both)) is None
    # guards first: player 1 guarded, so the power-2 high strike does at most 1 damage
    assert [f["guarding"] for f in both.fields["fighters"]] == [False, True]
    assert both.fields["hp"][1] >= 12 - 1 - 1  # the hard guard costs 1, the strike at most 1
    with pytest.raises(ValueError, match="middle of a turn"):
        it.step_joint(after0, [a0, a1])
    # the spec reads `step_count` as the number of resolved turns
    assert both.observation[4] == both.fields["secret"][0] + 1


def test_masks_are_per_player(it):
    for seed in range(40):
        s = it.init(seed)
        masks = it.legal_action_masks(s)
        strong = it.actions.encode("strike", power=3, stance="low")
        rest = it.actions.encode("rest")
        for p in range(2):
            assert masks[p][strong] == (s.fields["secret"][p] > 4)
            assert masks[p][rest] is False  # full hit points
        assert s.legal_action_mask == masks[0]


def test_a_pending_choice_is_private(it):
    """After player 0 commits, nothing player 1 observes or may choose depends on it."""
    s = it.init(11)
    seen = set()
    for a0 in np.flatnonzero(it.legal_action_masks(s)[0]):
        after = it.step(s, int(a0))
        seen.add((repr(after.observation), tuple(after.legal_action_mask)))
        assert after.observation == it.observe(s, 1)
    assert len(seen) == 1


def test_observation_hides_the_other_players_secret(it):
    s = it.init(4)
    other = s.copy()
    other.fields["secret"] = [s.fields["secret"][0], (s.fields["secret"][1] + 3) % 10]
    assert it.observe(s, 0) == it.observe(other, 0)
    assert it.observe(s, 1) != it.observe(other, 1)


def test_turn_limit_counts_turns(it):
    s = it.init(0)
    guard = it.actions.encode("guard", hard=False)
    turns = 0
    while not (s.terminated or s.truncated):
        s = it.step_joint(s, [guard, guard])
        turns += 1
    assert (turns, s.truncated, s.terminated, s.step_count) == (30, True, False, 60)


def test_an_illegal_joint_action_loses_for_the_first_player_in_order(it):
    s = it.init(0)  # full hit points: `rest` is illegal for both
    rest, guard = it.actions.encode("rest"), it.actions.encode("guard", hard=False)
    one = it.step_joint(s, [guard, rest])
    assert one.terminated and one.rewards == [1.0, -1.0]
    both = it.step_joint(s, [rest, rest])
    assert both.terminated and both.rewards == [-1.0, 1.0]


def test_jax_joint_api_equals_the_interpreter(it, duel, duel_jax):
    import jax
    import jax.numpy as jnp

    step_joint = jax.jit(jax.vmap(duel_jax.step_joint))
    masks = jax.jit(jax.vmap(duel_jax.legal_action_masks))
    observe_all = jax.jit(jax.vmap(duel_jax.observe_all))
    games = [_random_turns(it, seed) for seed in range(16)]
    longest = max(len(a) for _, a in games)
    state = jax.jit(jax.vmap(duel_jax.init_from_seed))(jnp.arange(16, dtype=jnp.uint32))
    for t in range(longest + 1):
        got_masks, got_obs = np.asarray(masks(state)), np.asarray(observe_all(state))
        for j, (states, _) in enumerate(games):
            if t >= len(states):
                continue  # that game is over (its lane then steps a finished state)
            s = states[t]
            theirs = jax.tree_util.tree_map(lambda x, j=j: np.asarray(x[j]), jax_state_arrays(state))
            assert first_difference(to_arrays(duel, s), theirs) is None, (j, t)
            assert (got_masks[j] == np.array(it.legal_action_masks(s))).all()
            assert (got_obs[j] == np.array(it.observe_all(s))).all()
        if t < longest:
            acts = np.array([a[t] if t < len(a) else [0, 0] for _, a in games], dtype=np.int32)
            state = step_joint(state, jnp.asarray(acts))


def test_jax_joint_autoreset_equals_step_joint_then_a_selected_init(duel_jax):
    """`step_joint_autoreset_from_seed` selects the fresh state before computing the mask and
    the observation (issue 18): it equals `step_joint`, then `init_from_seed` where the episode
    ended, over a batch of random games that end and restart."""
    import jax
    import jax.numpy as jnp

    env, batch = duel_jax, 32

    def reference(state, actions, seed):
        nxt = env.step_joint(state, actions)
        done = nxt.terminated | nxt.truncated
        picked = jax.tree_util.tree_map(lambda f, n: jnp.where(done, f, n), env.init_from_seed(seed), nxt)
        limit = nxt.terminated & ~(state.terminated | state.truncated) & env.time_limit_reached(nxt)
        return picked, nxt.rewards, nxt.terminated, nxt.truncated | limit

    got_fn = jax.jit(jax.vmap(env.step_joint_autoreset_from_seed))
    ref_fn = jax.jit(jax.vmap(reference))
    act = jax.jit(jax.vmap(env.random_joint_actions))
    state = jax.jit(jax.vmap(env.init_from_seed))(jnp.arange(batch, dtype=jnp.uint32))
    key, restarts, limits = jax.random.PRNGKey(5), 0, 0
    for t in range(40):
        key, k_act, k_seed = jax.random.split(key, 3)
        actions = act(jax.random.split(k_act, batch), state)
        seeds = jax.random.bits(k_seed, (batch,), jnp.uint32)
        got, want = got_fn(state, actions, seeds), ref_fn(state, actions, seeds)
        assert first_difference(jax_state_arrays(got[0]), jax_state_arrays(want[0])) is None, t
        np.testing.assert_array_equal(np.asarray(got[1]), np.asarray(want[1]))
        np.testing.assert_array_equal(np.asarray(got[2]), np.asarray(want[2]))
        np.testing.assert_array_equal(np.asarray(got[3]), np.asarray(want[3]))
        restarts += int(np.asarray(got[2] | got[3]).sum())
        limits += int(np.asarray(got[3]).sum())
        state = got[0]
    assert restarts > 0, "some duels end and restart (the fresh states are compared too)"
    assert limits > 0, "some reach the turn limit (the flag is compared where it is set)"


def test_jax_joint_step_handles_illegal_actions_like_the_commits(it, duel, duel_jax):
    import jax

    s = it.init(0)
    rest, guard = it.actions.encode("rest"), it.actions.encode("guard", hard=True)
    js = jax.jit(duel_jax.init_from_seed)(0)
    # out of range (999, -1): an illegal action of its player, as in `step` (issues 13, 17)
    for acts in ([guard, rest], [rest, guard], [rest, rest], [guard, 999], [-1, guard], [guard, -1], [999, 999]):
        ours = it.step_joint(s, acts)
        theirs = jax_state_arrays(jax.jit(duel_jax.step_joint)(js, np.array(acts, dtype=np.int32)))
        assert first_difference(to_arrays(duel, ours), theirs) is None, acts


PGX_JOINT = """env pgxjoint "an illegal commit under illegal_action pgx, played through step_joint"
players 2
simultaneous
illegal_action pgx
state { n: int[0..1] = 0 }
action ok() { }
action no() when n == 1 { }
resolve { act(0) act(1) draw() }
observe(p) -> int[0..1][1] { return [n] }
"""


def test_jax_joint_step_runs_an_illegal_commit_under_pgx(tmp_path):
    """`illegal_action pgx`: an illegal commit's body runs (it stores the choice), then its
    player loses; `step_joint` skipped the body of the illegal commit (fresh-spec hunt), while
    the commits played one `step` at a time, the interpreter and Rust stored it."""
    import jax

    from envc.verify import load_jax

    spec = tmp_path / "pgxjoint.envspec"
    spec.write_text(PGX_JOINT, encoding="utf-8")
    module = load(str(spec))
    it, env = Interpreter(module), load_jax(module)
    ok, no = it.actions.encode("ok"), it.actions.encode("no")
    js = jax.jit(env.init_from_seed)(0)
    step_joint = jax.jit(env.step_joint)
    for acts in ([no, ok], [ok, no], [no, no], [ok, ok], [5, ok], [ok, -1]):
        ours = it.step_joint(it.init(0), acts)
        assert first_difference(to_arrays(module, ours), to_arrays(module, _commits(it, it.init(0), acts))) is None
        theirs = jax_state_arrays(step_joint(js, np.array(acts, dtype=np.int32)))
        assert first_difference(to_arrays(module, ours), theirs) is None, acts


def _commits(it, s, acts):
    """The turn as the players' commits, one `step` each, up to the one that ends the game."""
    for a in acts:
        s = it.step(s, a)
        if s.terminated:
            break
    return s


def test_an_out_of_range_joint_action_is_an_illegal_action(it, duel):
    """`step_joint` treats an action outside 0..num_actions-1 as `step` does: an illegal
    action of its player (the first such player, in index order, loses), never an error."""
    s = it.init(3)
    guard = it.actions.encode("guard", hard=True)
    for acts, loser in (([guard, 999], 1), ([guard, -1], 1), ([-1, guard], 0), ([10**9, 999], 0)):
        joint = it.step_joint(s, acts)
        assert first_difference(to_arrays(duel, joint), to_arrays(duel, _commits(it, s, acts))) is None, acts
        assert joint.terminated and joint.rewards[loser] == -1.0 and joint.rewards[1 - loser] == 1.0, acts


def test_verify_joint(duel, duel_jax):
    report = verify(duel, ["python", "jax"], episodes=24, seed=5, chunk=12, joint=True, jax_env=duel_jax)
    assert report.ok and report.episodes == 24, (report.divergences, report.faults)


def test_verify_joint_on_the_lowered_ir(duel):
    """`--targets flat --joint`: the interpreter on the lowered IR plays each turn as one
    `step_joint` (it had no such method: an internal error, found verifying a Goofspiel)."""
    report = verify(duel, ["python", "flat"], episodes=12, seed=5, joint=True)
    assert report.ok and report.episodes == 12 and report.level2_transitions > 0, (report.divergences, report.faults)


def test_verify_joint_catches_a_wrong_joint_step(duel, duel_jax):
    """A joint step that forgets to resolve player 1's choice diverges at the first turn."""

    class Broken:
        def __getattr__(self, name):
            return getattr(duel_jax, name)

        @staticmethod
        def step_joint(state, actions, masks=None):
            return duel_jax.step_joint(state, actions.at[1].set(actions[0]), masks)

    report = verify(duel, ["python", "jax"], episodes=6, seed=5, joint=True, jax_env=Broken())
    assert report.divergences and report.divergences[0].step % 2 == 0


def test_joint_needs_a_simultaneous_spec(specs):
    with pytest.raises(ValueError, match="not a simultaneous spec"):
        verify(specs("tictactoe"), ["python"], episodes=1, joint=True)
    with pytest.raises(ValueError, match="not a simultaneous spec"):
        Interpreter(specs("tictactoe")).step_joint(Interpreter(specs("tictactoe")).init(0), [0])


def test_pettingzoo_parallel_api(duel):
    from pettingzoo.test import parallel_api_test

    from envc.pettingzoo_parallel import ParallelEnv

    env = ParallelEnv(duel)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=120)
    obs, _ = env.reset(seed=2)
    assert obs["player_0"]["observation"].tolist() == Interpreter(duel).observe(Interpreter(duel).init(2), 0)
    with pytest.raises(ValueError, match="no action for player_1"):
        env.step({"player_0": 0})


def test_pettingzoo_backends_agree(duel, duel_jax, monkeypatch):
    from envc import pettingzoo_parallel as pz

    monkeypatch.setattr("envc.verify.load_jax", lambda m: duel_jax)
    envs = [pz.ParallelEnv(duel, backend=b) for b in ("python", "jax")]
    rng = np.random.default_rng(0)
    obs = [e.reset(seed=9)[0] for e in envs]
    while envs[0].agents:
        acts = {a: int(rng.choice(np.flatnonzero(obs[0][a]["action_mask"]))) for a in envs[0].agents}
        outs = [e.step(acts) for e in envs]
        obs = [o[0] for o in outs]
        for k in range(5):
            a, b = outs[0][k], outs[1][k]
            assert a.keys() == b.keys()
            for agent in a:
                if k == 0:
                    assert (a[agent]["observation"] == b[agent]["observation"]).all()
                    assert (a[agent]["action_mask"] == b[agent]["action_mask"]).all()
                else:
                    assert a[agent] == b[agent]
    assert not envs[1].agents


FAULT_IN_RESOLVE = """\
env fault_fail "fail() in resolve"
players 2
simultaneous
turn_limit 3
state { n: int[0..9] = 0 }
action a(k: int[0..1]) { n = min(n + k, 9) }
resolve { act(0) act(1) if n == 2 { fail("both chose 1") } }
observe(p) -> int[0..9][1] { return [n] }
"""


def test_pettingzoo_backends_raise_the_same_fault(tmp_path):
    """The JAX core raises the interpreter's fault (it played on from the faulted state, a hunt)."""
    from envc.pettingzoo_parallel import ParallelEnv

    spec = tmp_path / "fault_fail.envspec"
    spec.write_text(FAULT_IN_RESOLVE)
    messages = []
    for backend in ("python", "jax"):
        env = ParallelEnv(str(spec), backend=backend)
        env.reset(seed=0)
        env.step({"player_0": 0, "player_1": 1})  # n == 1: no fault
        with pytest.raises(SpecRuntimeError) as err:
            env.step({"player_0": 0, "player_1": 1})
        messages.append(str(err.value))
    assert messages[0] == messages[1] == "fault_fail.envspec:7:37: fail: both chose 1"


SIM_TURN_LIMIT = str(Path(__file__).resolve().parent / "specs" / "sim_turn_limit.envspec")


def test_a_simultaneous_turn_limit_is_reported_in_turns_by_the_jax_package():
    """The limit moved into the `simultaneous` pass's epilogue, and the JAX package had no
    `TURN_LIMIT` and never reported `truncated` beside `terminated` on the limit's turn (a hunt)."""
    import jax

    from envc.verify import load_jax

    env = load_jax(load(SIM_TURN_LIMIT))
    assert env.TURN_LIMIT == 3
    auto = jax.jit(env.step_autoreset_from_seed)
    s = env.init_from_seed(0)
    flags = []
    for _ in range(6):  # three turns of two commits
        s, _, terminated, truncated, _ = auto(s, 0, 7)
        flags.append((bool(terminated), bool(truncated)))
    assert flags == [(False, False)] * 5 + [(True, True)]


def test_a_simultaneous_turn_limit_is_reported_in_turns_by_the_rust_package():
    from envc.verify import load_rust

    native = load_rust(load(SIM_TURN_LIMIT))
    assert native.TURN_LIMIT == 3
    env = native.VecEnv(1, autoreset=True, seed=0)
    flags = []
    for _ in range(3):
        env.step_joint(np.zeros((1, 2), dtype=np.int32))
        flags.append((bool(env.terminated[0]), bool(env.truncated[0])))
    assert flags == [(False, False)] * 2 + [(True, True)]




def test_pettingzoo_a_game_that_init_ended_has_no_live_agents():
    """tests/specs/init_end.envspec: a game `init` ended looked live, and its rewards were lost (a hunt)."""
    from envc.pettingzoo_parallel import ParallelEnv

    spec = Path(__file__).resolve().parent / "specs" / "init_end.envspec"
    env = ParallelEnv(str(spec), backend="python")
    it = Interpreter(load(str(spec)))
    ended = [seed for seed in range(12) if it.init(seed).terminated]
    assert ended
    _, infos = env.reset(seed=ended[0])
    assert env.agents == []
    assert [infos[a]["rewards"] for a in env.possible_agents] == list(it.init(ended[0]).rewards)
    live = next(seed for seed in range(12) if seed not in ended)
    _, infos = env.reset(seed=live)
    assert env.agents == env.possible_agents and all(info == {} for info in infos.values())


def test_pettingzoo_refuses_a_sequential_spec(specs):
    from envc.pettingzoo_parallel import ParallelEnv

    with pytest.raises(ValueError, match="not a simultaneous spec"):
        ParallelEnv(specs("tictactoe"))


def test_runtime_fault_in_resolve_is_reported(tmp_path):
    spec = tmp_path / "faulty.envspec"
    spec.write_text(Path(DUEL).read_text().replace("fighters[p].guarding = false",
                                                   "fighters[p].guarding = false\n        if step_count == 2 { fail(\"turn 2\") }"))
    it2 = Interpreter(load(str(spec)))
    s = it2.init(0)
    g = it2.actions.encode("guard", hard=False)
    s = it2.step_joint(s, [g, g])  # `step_count` is 1 while turn 1 resolves
    with pytest.raises(SpecRuntimeError, match="turn 2"):  # ... and 2 in turn 2
        it2.step_joint(s, [g, g])


EARLY = """env early "a guard on the turn"
players 2
simultaneous
turn_limit 8
state { n: int[0..9] = 0 }
action early() when step_count < 3 { }
action late() when not legal(early()) { }
resolve { act(0) act(1) }
observe(p) -> int[0..9][1] { return [step_count] }
"""


def test_a_guards_step_count_is_the_turn_for_every_player(tmp_path):
    """`when step_count < 3` reads the turn, as every other body does, not envc's count of
    commits (a fresh spec: player 1 of turn 1 was refused `early` while player 0 and
    `legal_action_masks` allowed it, and the joint step disagreed with the commits)."""
    spec = tmp_path / "early.envspec"
    spec.write_text(EARLY)
    it2 = Interpreter(load(str(spec)))
    early, late = it2.actions.encode("early"), it2.actions.encode("late")
    s = it2.init(0)
    for turn in range(5):
        masks = it2.legal_action_masks(s)
        assert [bool(m[early]) for m in masks] == [turn < 3] * 2 and [bool(m[late]) for m in masks] == [turn >= 3] * 2
        pick = early if turn < 3 else late
        s = it2.step(s, pick)
        assert bool(s.legal_action_mask[early]) == (turn < 3), f"player 1's mask in turn {turn}"
        s = it2.step(s, pick)
    assert not s.terminated


@pytest.mark.slow
def test_rust_step_joint_refuses_a_turn_begun_with_step(duel, it):
    """After `step` committed player 0's choice, `step_joint` overwrote it and counted three
    commits for a two-player turn; it is refused, as the interpreter refuses it (a hunt)."""
    from envc.verify import load_rust

    env = load_rust(duel).VecEnv(1, threads=1, autoreset=False, seed=0)
    env.step(np.array([int(np.flatnonzero(env.mask[0])[0])], dtype=np.int32))
    with pytest.raises(ValueError, match="environment 0 is in the middle of a turn"):
        env.step_joint(np.zeros((1, 2), dtype=np.int32))
    s = it.step(it.init(0), int(np.flatnonzero(it.init(0).legal_action_mask)[0]))
    with pytest.raises(ValueError, match="middle of a turn"):
        it.step_joint(s, [0, 0])


def test_jax_step_joint_takes_one_action_per_player(duel_jax):
    """One action was broadcast to both players (a hunt)."""
    s = duel_jax.init_from_seed(0)
    for bad in ([0], [0, 0, 0], [[0, 0]]):
        with pytest.raises(ValueError, match="one action per player, int32\\[2\\]"):
            duel_jax.step_joint(s, np.array(bad, np.int32))


def test_python_target_has_the_joint_api(duel, it, tmp_path):
    """`--target python` of a simultaneous spec offers the turn as one call, as the JAX and Rust
    packages do (it had only `step`; a hunt)."""
    import importlib.util
    import sys

    from envc.codegen.python import write

    write(duel, str(tmp_path / "duel_py"))
    spec = importlib.util.spec_from_file_location("duel_py", tmp_path / "duel_py" / "__init__.py")
    pkg = importlib.util.module_from_spec(spec)
    sys.modules["duel_py"] = pkg
    spec.loader.exec_module(pkg)
    assert pkg.SIMULTANEOUS and pkg.TURN_LIMIT == 30
    s, ours = pkg.init(4), it.init(4)
    for _ in range(5):
        masks = pkg.legal_action_masks(s)
        assert masks == it.legal_action_masks(ours)
        joint = [int(np.flatnonzero(row)[-1]) for row in masks]
        s, ours = pkg.step_joint(s, joint), it.step_joint(ours, joint)
        assert pkg.observe_all(s) == it.observe_all(ours)


def test_rust_joint_api_equals_the_interpreter(duel, it):
    from envc.verify import load_rust

    native = load_rust(duel)
    report = verify(duel, ["python", "rust"], episodes=40, seed=3, joint=True, rust_env=native)
    assert report.ok, (report.divergences, report.faults)
    env = native.VecEnv(8, threads=1, autoreset=False)
    env.reset_seeds(np.arange(8, dtype=np.uint32))
    states = [it.init(i) for i in range(8)]
    blind = native.VecEnv(8, threads=1, autoreset=False, observations=False)  # the same turns, no `observe`
    blind.reset_seeds(np.arange(8, dtype=np.uint32))
    for _ in range(12):
        masks = np.array(env.legal_action_masks())
        assert (masks == np.array([it.legal_action_masks(s) for s in states])).all()
        acts = np.array(env.sample_joint_actions(7))
        assert all(masks[i, p, acts[i, p]] for i in range(8) for p in range(2))
        # the documented draw: the (bits(seed_key(7 + i), p) % n)-th of player p's n legal actions
        for i in range(8):
            key = envc_rng.seed_key(7 + i)
            for p in range(2):
                legal = np.flatnonzero(masks[i, p])
                assert acts[i, p] == legal[envc_rng.bits(key, p) % len(legal)], (i, p)
        np.testing.assert_array_equal(acts, blind.sample_joint_actions(7))
        env.step_joint(acts)
        blind.step_joint(acts)
        for name in ("mask", "rewards", "terminated", "truncated", "current_player"):
            np.testing.assert_array_equal(getattr(env, name), getattr(blind, name), err_msg=name)
        states = [it.step_joint(s, list(a)) for s, a in zip(states, acts)]
        for i, s in enumerate(states):
            assert first_difference(to_arrays(duel, s), env.get_state(i)) is None
    with pytest.raises(ValueError, match="shape"):
        env.step_joint(np.zeros((8, 3), dtype=np.int32))
    # an action out of range is an illegal action of its player, as in `step` and on the
    # other backends (not a ValueError); int64 arrays are taken as they are
    guard = it.actions.encode("guard", hard=True)
    acts = np.array([[guard, 999], [-1, guard], [guard, -7], [2**31 - 1, 999]], dtype=np.int64)
    env = native.VecEnv(4, threads=1, autoreset=False)
    env.reset_seeds(np.arange(4, dtype=np.uint32))
    env.step_joint(acts)
    for i in range(4):
        ours = it.step_joint(it.init(i), [int(a) for a in acts[i]])
        assert ours.terminated and first_difference(to_arrays(duel, ours), env.get_state(i)) is None, i
    # one that int32 cannot hold is an illegal action too (its low bits name no action)
    env.reset_seeds(np.arange(4, dtype=np.uint32))
    env.step_joint(np.full((4, 2), 2**40 + guard, dtype=np.int64))
    ours = it.step_joint(it.init(0), [2**40 + guard, 2**40 + guard])
    assert ours.terminated and first_difference(to_arrays(duel, ours), env.get_state(0)) is None


def test_rust_step_joint_never_plays_stale_cached_rows(duel, it):
    """`step_joint` reuses the rows computed by the last `step_joint`, `sample_joint_actions` or
    `legal_action_masks` only while no state changed: a state replaced in between (`set_state`, `reset_envs`) is
    judged by its own guards. The pair (a, b, acts) is chosen so that the other player's
    action is legal in `a` and illegal in `b`: stale rows would let it through."""
    from envc.verify import load_rust

    native = load_rust(duel)
    states = [s for seed in range(6) for s in _random_turns(it, seed, 30)[0] if not s.terminated]
    pair = None
    for a in states:
        rows_a = it.legal_action_masks(a)
        for b in states:
            rows_b = it.legal_action_masks(b)
            mover = int(b.current_player)
            other = 1 - mover
            hidden = np.flatnonzero(np.array(rows_a[other]) & ~np.array(rows_b[other]))
            if np.array_equal(rows_a[mover], rows_b[mover]) and len(hidden):
                acts = [0, 0]
                acts[mover] = int(np.flatnonzero(rows_b[mover])[0])
                acts[other] = int(hidden[0])
                pair = (a, b, acts)
                break
        if pair:
            break
    assert pair is not None, "the duel has no two turn starts with different guards"
    a, b, acts = pair
    want = to_arrays(duel, it.step_joint(b, acts))
    for change in ("set_state", "legal_action_masks then set_state"):
        env = native.VecEnv(1, threads=1, autoreset=False)
        env.set_state(0, to_arrays(duel, a))
        if change.startswith("legal_action_masks"):
            env.legal_action_masks()
        else:
            env.sample_joint_actions(0)
        env.set_state(0, to_arrays(duel, b))
        env.step_joint(np.array([acts], dtype=np.int32))
        assert first_difference(want, env.get_state(0)) is None, change
    # reset_envs: b is init(seed) for a fresh seed
    seed = 1000
    b = it.init(seed)
    env = native.VecEnv(1, threads=1, autoreset=False)
    env.set_state(0, to_arrays(duel, a))
    env.sample_joint_actions(0)
    env.reset_envs(np.array([0]), np.array([seed], dtype=np.uint32))
    acts = [int(np.flatnonzero(r)[-1]) for r in it.legal_action_masks(a)]
    env.step_joint(np.array([acts], dtype=np.int32))
    assert first_difference(to_arrays(duel, it.step_joint(b, acts)), env.get_state(0)) is None


SPEND = """env spend "both players spend at once"
players 2
simultaneous
state {{
    budget: int[0..9] = 9
    left: int[0..9][2] = 9
}}
action spend(k: int[1..3]) when {guard} {{
    {body}
}}
resolve {{
    act(0)
    act(1)
    if left[0] == 0 {{ win(1) }} elif left[1] == 0 {{ win(0) }}
}}
observe(p) -> int[0..9][2] {{
    return left
}}
"""


def _spend_errors(tmp_path, guard: str, body: str) -> list[str]:
    from envc.compiler.diagnostics import DiagnosticError

    path = tmp_path / "spend.envspec"
    path.write_text(SPEND.format(guard=guard, body=body), encoding="utf-8")
    try:
        load(str(path))
    except DiagnosticError as e:
        return [d.code for d in e.diagnostics]
    return []


def test_a_simultaneous_guard_narrows_the_parameters_only(tmp_path):
    """A simultaneous action's body runs at `resolve`, after the other players' actions: a
    guard's facts about the state (`budget >= k`) may no longer hold there and narrow nothing,
    but its facts about the parameters (`k <= 2`), fixed at the commit, do (probe5: `let small:
    int[0..2] = k` under `when k <= 2` was E0120). The interpreter agrees: `small` is `k`."""
    small = "let small: int[0..2] = k\n    left[player] = max(left[player] - small - 5, 0)"
    assert _spend_errors(tmp_path, "k <= 2", small) == []
    assert _spend_errors(tmp_path, "k <= 3", small) == ["E0120"]
    assert _spend_errors(tmp_path, "budget >= k", "budget = budget - k") == ["E0120"]
    assert _spend_errors(tmp_path, "budget >= k", "budget = max(budget - k, 0)") == []
    path = tmp_path / "spend.envspec"
    path.write_text(SPEND.format(guard="k <= 2", body=small), encoding="utf-8")
    it = Interpreter(load(str(path)))
    s = it.step(it.step(it.init(0), it.actions.encode("spend", k=2)), it.actions.encode("spend", k=1))
    assert list(s.left) == [2, 3]
    assert not it.legal_action_masks(s)[0][it.actions.encode("spend", k=3)]



def _faulting_duel(tmp_path) -> Path:
    """duel.envspec whose `rest` pops an empty list when the player has 4 hp or more: a
    runtime fault, so most episodes end in a fault, mid-game and at different steps."""
    text = Path(DUEL).read_text()
    rule, state = "action rest() when hp[player] < 12 {\n", "state {\n"
    assert rule in text and state in text
    text = text.replace(state, state + "    spare: list<int[0..9], 2>\n")
    text = text.replace(rule, rule + "    if hp[player] >= 4 {\n        let v = spare.pop()\n    }\n")
    path = tmp_path / "duel.envspec"
    path.write_text(text)
    return path


@pytest.mark.parametrize("targets", [["python", "flat"], ["python", "jax"],
                                     pytest.param(["python", "rust"], marks=pytest.mark.slow)])
def test_verify_joint_ignores_padding_faults(tmp_path, targets):
    """`verify --joint` plays every lane's whole turns. An episode that ends in the
    interpreter's fault (at a turn's last commit) leaves its lane past its end, replaying the
    padding action 0 in the turn that faulted and after: that may fault too (shown below on a
    plain `step_joint` of every lane) and is no divergence; only the faults of lanes whose turn
    is all real actions count, and the interpreter's own faults are compared as always."""
    import envc.verify as verify_mod

    spec = load(str(_faulting_duel(tmp_path)))
    report = verify(spec, targets, episodes=16, seed=5, chunk=16, joint=True)
    assert report.ok and report.episodes == 16, ([d.render() for d in report.divergences], report.faults)
    assert len(report.spec_faults) >= 8 and all("duel.envspec:" in line
                                                for line in report.spec_faults), report.spec_faults
    # the same chunk, every lane stepped with its actions then padding 0: some lane faults
    it = Interpreter(spec)
    policy = np.random.default_rng(5)
    runs = [verify_mod._episode(it, it.init(s), s, policy, 1000, verify_mod.Report(targets=[]))[1]
            for s in range(5, 21)]
    longest = max(len(r) for r in runs)
    assert len({len(r) for r in runs}) > 1, [len(r) for r in runs]
    flat = verify_mod._FlatBackend(spec)
    flat.reset(np.arange(5, 21, dtype=np.uint32))
    faults = []
    for k in range(0, longest, 2):
        acts = np.array([(r + [0] * (k + 2))[k: k + 2] for r in runs], dtype=np.int32)
        faults.append(flat.step_joint(acts))
        if faults[-1] is not None:
            break
    assert faults[-1] is not None, faults
