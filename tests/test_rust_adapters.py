"""The generated Rust package under the peers' own tools: Gymnasium's `check_env` on the
registered single environment, PettingZoo's `api_test` on the AEC environment, int8 masks,
per-environment stepping and resetting (`step_envs`, `reset_envs`) and the opponent wrapper
that keeps the batch, out-of-range actions, and the time-limit flags of an auto-reset step.

Every test builds crates (cargo, release; cached by content across sessions): `slow`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from envc.compiler.check import load
from envc.compiler.interp import Interpreter
from envc.verify import first_difference, load_rust, to_arrays

from .conftest import SPEC_NAMES

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _path(name: str) -> Path:
    spec = ROOT / "specs" / f"{name}.envspec"
    return spec if spec.exists() else ROOT / "tests" / "specs" / f"{name}.envspec"


@pytest.fixture(scope="module")
def rust(specs):
    """name -> (checked module, the imported generated package), built once."""
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            m = load(str(_path(name)))
            cache[name] = (m, load_rust(m))
        return cache[name]

    return get


MULTI = [n for n in SPEC_NAMES if n != "cartpole"]  # the shipped specs with several players


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_gymnasium_make_and_check_env(name, rust):
    import gymnasium
    from gymnasium.utils.env_checker import check_env

    m, pkg = rust(name)
    assert pkg.GYM_ID == f"envc/{name}-v0" and pkg.GYM_ID in gymnasium.registry
    env = gymnasium.make(pkg.GYM_ID)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no render modes: check_env warns, as for any env without them
        check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert info["action_mask"].dtype == np.int8 and info["action_mask"].shape == (pkg.NUM_ACTIONS,)
    assert env.observation_space.contains(obs)
    returns = []
    for episode in range(3):
        obs, info = env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            action = env.action_space.sample(mask=info["action_mask"])
            obs, reward, terminated, truncated, info = env.step(action)
            total += reward
            done = terminated or truncated
        returns.append(total)
    if m.num_players > 1:
        assert all(r in (-1.0, 0.0, 1.0) for r in returns), returns  # the agent's result against random play
    env.close()


@pytest.mark.parametrize("name", MULTI)
def test_pettingzoo_api_test(name, rust):
    from pettingzoo.test import api_test

    _, pkg = rust(name)
    env = pkg.AECEnv()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "has not defined a render() method" and similar notes
        api_test(env, num_cycles=200 if name == "tcg" else 1000)
    # the observation is the player's own (hidden information stays hidden)
    env.reset(seed=1)
    for agent in env.possible_agents:
        assert env.observation_space(agent).contains(env.observe(agent))


def test_masks_are_int8_in_the_vector_env_info(rust):
    _, pkg = rust("tictactoe")
    envs = pkg.GymVectorEnv(4, seed=0)
    _, info = envs.reset(seed=0)
    assert info["action_mask"].dtype == np.int8 and envs.action_masks().dtype == np.int8
    sample = envs.single_action_space.sample(mask=info["action_mask"][0])  # Gymnasium needs int8 here
    assert info["action_mask"][0][sample] == 1
    _, _, _, _, info = envs.step(np.array([np.flatnonzero(r)[0] for r in info["action_mask"]]))
    assert info["action_mask"].dtype == np.int8


def test_step_envs_and_reset_envs_touch_only_their_environments(rust):
    m, pkg = rust("tictactoe")
    it = Interpreter(m)
    env = pkg.VecEnv(4, autoreset=False, seed=10)
    before = env.get_states()
    a = np.array([np.flatnonzero(env.mask[i])[0] for i in (1, 3)], np.int32)
    env.step_envs([1, 3], a)
    after = env.get_states()
    for i in (0, 2):
        assert first_difference({k: v[i] for k, v in _flat(before).items()},
                                {k: v[i] for k, v in _flat(after).items()}) is None
    for i, action in zip((1, 3), a):
        assert first_difference(to_arrays(m, it.step(it.init(10 + i), int(action))), env.get_state(i)) is None
    env.reset_envs([3])  # the next seed, as an auto-reset: 13 + 4
    assert first_difference(to_arrays(m, it.init(17)), env.get_state(3)) is None and env.seeds[3] == 17
    env.reset_envs([1], seeds=[77])
    assert first_difference(to_arrays(m, it.init(77)), env.get_state(1)) is None
    np.testing.assert_array_equal(env.obs[1], np.asarray(it.init(77).observation))
    assert not env.terminated[1] and env.rewards[1].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"indices holds 4, outside 0\.\.3"):  # checked before any row is touched
        env.reset_envs([4])
    with pytest.raises(ValueError):
        env.step_envs([0, 1], [0])


def _flat(tree: dict) -> dict:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in _flat(v).items()})
        else:
            out[k] = v
    return out


def test_opponent_wrapper_keeps_the_batch(rust):
    """The agent (seat 0) against random play in 16 environments: every returned state waits
    for the agent, rewards are the agent's results, finished games restart alone."""
    _, pkg = rust("connect4")
    envs = pkg.GymVectorEnv(16, seed=0, opponent="random", agent=0)
    obs, info = envs.reset(seed=0)
    assert np.all(info["current_player"] == 0)
    rng = np.random.default_rng(0)
    results = []
    for _ in range(200):
        mask = info["action_mask"]
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in mask])
        obs, reward, terminated, truncated, info = envs.step(actions)
        assert np.all(info["current_player"] == 0), "the batch always waits for the agent"
        done = terminated | truncated
        assert np.all(reward[~done] == 0.0)
        results.extend(reward[done].tolist())
    assert len(results) > 40 and set(results) <= {-1.0, 0.0, 1.0}
    assert -0.5 < np.mean(results) < 0.5, "random against random: no side wins most games"


def _four_in_a_row(plane: np.ndarray) -> bool:
    """Whether a (6, 7) board of bools holds four in a line (row, column or diagonal)."""
    rows, cols = plane.shape
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        for r in range(rows):
            for c in range(cols):
                cells = [(r + k * dr, c + k * dc) for k in range(4)]
                if all(0 <= y < rows and 0 <= x < cols and plane[y, x] for y, x in cells):
                    return True
    return False


def test_the_final_observation_against_an_opponent_is_the_agents(rust):
    """connect4 (the observer's discs in plane 0): every game the agent won ends on a view where
    its own plane holds the four in a row. The final observation was `env.obs`, the view of the
    seat to move, after the agent's winning move the opponent's (a hunt)."""
    _, pkg = rust("connect4")
    envs = pkg.GymVectorEnv(8, seed=1, opponent="random", agent=0)
    obs, info = envs.reset(seed=1)
    rng = np.random.default_rng(1)
    won = 0
    for _ in range(150):
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in info["action_mask"]])
        obs, reward, terminated, truncated, info = envs.step(actions)
        for i in np.flatnonzero(terminated & (reward == 1.0)):
            final = np.asarray(info["final_obs"][i])
            assert _four_in_a_row(final[..., 0]) and not _four_in_a_row(final[..., 1])
            won += 1
    assert won > 5


def test_out_of_range_actions_are_illegal_moves_like_the_interpreter(rust):
    m, pkg = rust("connect4")
    it = Interpreter(m)
    for bad in (7, -1, 1000, 2**32 + 3, -(2**32) + 3, 2**63 - 1):
        ours = it.step(it.init(5), bad)
        assert ours.terminated
        for act in ([bad], np.array([bad], np.int64)):
            env = pkg.VecEnv(1, autoreset=False, seed=5)
            env.step(act)
            assert env.terminated[0] and first_difference(to_arrays(m, ours), env.get_state(0)) is None, (bad, act)
        env = pkg.VecEnv(2, autoreset=False, seed=5)
        env.step_envs(np.array([0]), np.array([bad], np.int64))
        assert first_difference(to_arrays(m, ours), env.get_state(0)) is None, bad
    # an int64 past int32 was cast to int32 by the Gymnasium adapters: 2**32 + 3 played column 3
    gym = pkg.GymVectorEnv(1, seed=5)
    gym.reset(seed=5)
    _, rewards, terminated, _, _ = gym.step(np.array([2**32 + 3], np.int64))
    assert terminated[0] and rewards[0] < 0
    env = pkg.VecEnv(1, autoreset=False, seed=5)
    env.step(np.array([2**64 - 1], np.uint64))  # (wraps to -1 in the cast: illegal as well)
    assert env.terminated[0]


def test_seeds_of_any_size_are_taken_mod_2_32_like_the_interpreter(rust):
    """`VecEnv(seed=)`, `reset(seed)` and `sample_actions(seed)` take any Python or numpy
    integer mod 2^32, as the interpreter's `init` and the JAX package do (an i64 argument
    raised OverflowError for 2**70; hunt K); a float is a TypeError."""
    m, pkg = rust("connect4")
    it = Interpreter(m)
    for seed in (2**70 + 5, -1, np.uint64(2**64 - 1), np.int64(-3), True):
        want = it.init(int(seed) & 0xFFFFFFFF)
        assert first_difference(to_arrays(m, want), pkg.VecEnv(1, seed=seed).get_state(0)) is None, seed
        env = pkg.VecEnv(1, seed=9)
        env.reset(seed)
        assert first_difference(to_arrays(m, want), env.get_state(0)) is None, seed
    env = pkg.VecEnv(4, seed=0)
    assert np.array_equal(env.sample_actions(2**70 + 5).copy(), env.sample_actions(5).copy())
    with pytest.raises(TypeError, match="a seed must be an integer, not float"):
        env.reset(1.5)


def test_autoreset_reports_a_truncation_on_a_terminal_step(rust):
    """countdown (turn_limit 3): `stop` as the third action terminates and reaches the limit;
    the step reports both flags (as JAX's `step_autoreset`), the state keeps the interpreter's."""
    m, pkg = rust("countdown")
    env = pkg.VecEnv(1, autoreset=True, seed=0)
    env.step([0])
    env.step([0])
    env.step([1])
    assert env.terminated[0] and env.truncated[0]
    env.step([0])
    env.step([0])
    env.step([0])
    assert not env.terminated[0] and env.truncated[0]
    assert env.final_obs[0].tolist() == [3] and env.obs[0].tolist() == [0]


def test_a_game_that_init_ended_is_over_in_the_adapters():
    """tests/specs/init_end.envspec: a game `init` ended looked live in `AECEnv` (a live agent with
    no legal action) and `GymEnv`, and `init`'s rewards were lost (a hunt)."""
    m = load(str(ROOT / "tests" / "specs" / "init_end.envspec"))
    it, pkg = Interpreter(m), load_rust(m)
    seed = next(s for s in range(20) if it.init(s).terminated)
    want = [float(r) for r in it.init(seed).rewards]
    aec = pkg.AECEnv()
    aec.reset(seed=seed)
    assert all(aec.terminations.values())
    assert [aec._cumulative_rewards[a] for a in aec.possible_agents] == want
    returns = dict.fromkeys(aec.possible_agents, 0.0)
    for agent in aec.agent_iter():
        _, reward, terminated, truncated, _ = aec.last()
        returns[agent] += reward
        aec.step(None)
    assert list(returns.values()) == want
    gym = pkg.GymEnv(agent=1)
    gym.reset(seed=seed)
    _, reward, terminated, _, _ = gym.step(0)
    assert terminated and reward == want[1]


def test_the_agent_sees_its_own_view_of_a_game_the_opponent_ended():
    """tests/specs/leak2.envspec: when the opponent wins before the agent's first move, `reset`
    returned the view of the seat to move, the opponent's `@private` secret (a hunt). Every
    observation handed to the agent is its own; arrays are copies the next step does not change."""
    m = load(str(ROOT / "tests" / "specs" / "leak2.envspec"))
    it, pkg = Interpreter(m), load_rust(m)
    envs = pkg.GymVectorEnv(16, seed=0, opponent="random", agent=1)
    obs, info = envs.reset(seed=0)
    assert [int(o[0]) for o in obs] == [it.init(i).fields["secret"][1] for i in range(16)]
    kept = obs.copy()
    rng = np.random.default_rng(0)
    for _ in range(5):
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in info["action_mask"]])
        new, reward, terminated, truncated, info = envs.step(actions)
        assert (obs == kept).all()  # (a copy: the next step does not write into it)
        obs, kept = new, new.copy()
    gym = pkg.GymEnv(agent=1)
    for seed in range(8):
        o, _ = gym.reset(seed=seed)
        assert int(o[0]) == it.init(seed).fields["secret"][1]


def test_a_record_observation_has_a_dict_space():
    """tests/specs/record_obs.envspec (one player, observed as a record with a list, an enum, a
    bool and a float): `GymEnv` and `GymVectorEnv` had no observation space, so Gymnasium's
    `check_env` and every wrapper reading the space failed (hunt K). Now a `Dict` of `Box`es
    nested as the observation's dicts, which holds every observation of play."""
    import gymnasium
    from gymnasium.utils.env_checker import check_env

    m = load(str(ROOT / "tests" / "specs" / "record_obs.envspec"))
    pkg = load_rust(m)
    env = pkg.GymEnv()
    space = env.observation_space
    assert isinstance(space, gymnasium.spaces.Dict) and set(space) == {"hand", "light", "lit", "heat", "step"}
    assert space["hand"]["items"].shape == (3,) and space["hand"]["len"].high == 3
    assert space["heat"].dtype == np.float32 and space["lit"].dtype == np.bool_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no render modes: check_env warns, as for any env without them
        check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=1)
    for _ in range(12):
        assert space.contains(obs), obs
        obs, _, terminated, truncated, info = env.step(env.action_space.sample(mask=info["action_mask"]))
        if terminated or truncated:
            break
    envs = pkg.GymVectorEnv(num_envs=3)
    obs, _ = envs.reset(seed=0)
    assert envs.observation_space.contains(obs) and envs.single_observation_space == space
