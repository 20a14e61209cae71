"""The generated JAX module under the peers' own tools: Pgx's `api_test` on every shipped spec,
gymnax's `Environment` with its own wrappers and a PureJaxRL-style loop, and the time-limit
rules (`step_autoreset` and gymnax's `info["truncated"]`).

Pgx's `api_test` (pgx/_src/api_test.py) runs unchanged but for two names of its module,
replaced for the test only (`pgx_api_test`), and the same replacement is run on Pgx's own
`tic_tac_toe` to show that it changes nothing for a Pgx game:
- `_validate_state` asserts `state.env_id in get_args(EnvId)`, where `EnvId` (pgx/core.py)
  is a `Literal` of Pgx's own 21 game ids: no environment outside Pgx can pass it. The test
  extends that `Literal` with the generated env's id (`envc/<spec name>`);
- `act_randomly` (pgx/experimental/utils.py) samples with `axis=1`, which the installed JAX
  refuses for the one-dimensional mask of `api_test_single` (it fails on Pgx's own games
  too); the test samples the same way on the last axis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envc.compiler.check import load
from envc.verify import load_jax

from .conftest import SPEC_NAMES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pgx_api_test(monkeypatch):
    """Pgx's `api_test`, with `EnvId` extended by the tested env's id and `act_randomly` on the
    last axis (see the module docstring); everything else is Pgx's."""
    import pgx._src.api_test as api

    monkeypatch.setattr(api, "act_randomly", jax.jit(
        lambda key, mask: jax.random.categorical(key, jnp.log(mask.astype(jnp.float32)), axis=-1)))

    def run(env, num):
        monkeypatch.setattr(api, "EnvId", Literal[(*get_args(api.EnvId), env.id)])
        api.api_test(env, num=num)

    return run


def test_pgx_api_test_control_pgx_own_game(pgx_api_test):
    import pgx

    pgx_api_test(pgx.make("tic_tac_toe"), 3)


# Pgx's api_test plays until `terminated` and wants `_step_count` to grow on every step; a Pgx
# game never truncates. acrobot's random play nearly always reaches its turn limit (500 steps)
# and is truncated, after which a step returns the same state, so the test could not end: it is
# checked as gymnax checks it (tests/test_acrobot_peer.py), not with Pgx's test.
PGX_API_SPECS = [n for n in SPEC_NAMES if n != "acrobot"]


@pytest.mark.slow
@pytest.mark.parametrize("name", PGX_API_SPECS)
def test_pgx_api_test_passes(name, jax_envs, pgx_api_test, tmp_path, monkeypatch):
    env = jax_envs(name).Env()
    assert (env.id, env.version) == (f"envc/{name}", "v0")
    monkeypatch.chdir(tmp_path)  # api_test writes /tmp/tmp.svg; nothing else is written
    pgx_api_test(env, 2 if name == "tcg" else 10)
    state = env.init(jax.random.PRNGKey(0))
    assert state.observation.shape == env.observation_shape
    assert "<svg" in state.to_svg() and "<rect" in state.to_svg()


def test_state_fields_cannot_clash_with_state_attributes(tmp_path):
    """A spec field named like an attribute of `State` (`replace`, `step`, `env_id`) lives in
    `State._x`; the attributes keep working. (`observation` and `legal_action_mask` are reserved
    by the checker, E0101: the generated step keeps them beside the spec's fields.)"""
    path = tmp_path / "clash.envspec"
    path.write_text("""env clash "field names that are State attributes"
players 1
state {
    replace: int[0..9] = 1
    step: int[0..9] = 2
    env_id: int[0..9] = 3
}
action bump(k: int[0..1]) {
    replace = min(replace + k, 9)
    terminate()
}
observe(p) -> int[0..9][3] { return [replace, step, env_id] }
""")
    env = load_jax(load(str(path)))
    s = env.init(jax.random.PRNGKey(0))
    assert {k: int(v) for k, v in s._x.items()} == {"replace": 1, "step": 2, "env_id": 3}
    assert s.env_id == "envc/clash" and s.observation.tolist() == [1, 2, 3]
    t = env.step(s, 1).replace(rewards=jnp.zeros(1))
    assert int(t._x["replace"]) == 2 and t.observation.tolist() == [2, 2, 3]


def test_out_of_range_action_is_an_illegal_move_never_another_action(jax_envs, specs):
    """connect4: action 7 once played column 0 (a clamped gather), -1 column 6. Now both are
    illegal moves, as in the interpreter (and Rust, tests/test_rust_adapters.py)."""
    from envc.compiler.interp import Interpreter

    env, it = jax_envs("connect4"), Interpreter(specs("connect4"))
    step = jax.jit(env.step)
    s = env.init_from_seed(5)
    for bad in (7, -1, 1000):
        t = step(s, bad)
        ours = it.step(it.init(5), bad)
        assert bool(t.terminated) and ours.terminated
        np.testing.assert_array_equal(np.asarray(t.rewards), np.asarray(ours.rewards, np.float32))
        np.testing.assert_array_equal(np.asarray(t._x["board"]), np.asarray(s._x["board"]))
        assert int(t._step_count) == ours.step_count == 1


def test_a_concrete_integer_past_int32_is_illegal_not_its_low_bits(jax_envs, specs):
    """JAX without x64 keeps an int64's low 32 bits: `step(s, np.int64(2**32 + 4))` played
    column 4 and a Python int 2**32 + 4 raised OverflowError (hunt K). Outside a jit both are
    illegal moves, as in the interpreter; seeds are taken mod 2^32 like the interpreter's, a
    player outside the game is a ValueError as there, and a negative rollout bound is refused."""
    from envc.compiler import rng
    from envc.compiler.interp import Interpreter

    env, it = jax_envs("connect4"), Interpreter(specs("connect4"))
    s = env.init_from_seed(5)
    ours = it.step(it.init(5), 2**32 + 4)
    for bad in (2**32 + 4, np.int64(2**32 + 4), np.array(2**32 + 4), np.uint64(2**63)):
        t = env.step(s, bad)
        assert bool(t.terminated) and ours.terminated, repr(bad)
        np.testing.assert_array_equal(np.asarray(t.rewards), np.asarray(ours.rewards, np.float32))
    inside = env.step(s, np.int64(4))  # an int64 in range is still the action it names
    assert not bool(inside.terminated) and int(inside._step_count) == 1
    for seed in (2**32 + 7, -1, 2**70 + 3, np.int64(-5), np.array([2**40 + 1, 9], np.int64)):
        keys = np.asarray(env.init_from_seed(seed)._rng_key).ravel()
        want = [rng.seed_key(int(x)) for x in np.ravel(np.asarray(seed, dtype=object))]
        assert keys.tolist() == want, repr(seed)
    for player in (2, -1):
        with pytest.raises(ValueError, match="outside 0..1"):
            env.observe(s, player)
        with pytest.raises(ValueError, match="outside 0..1"):
            it.observe(it.init(5), player)
    with pytest.raises(ValueError, match="reset_bound must be at least 1"):
        env.rollout(jax.random.key(0), 2, 4, reset_bound=-3)


def test_step_autoreset_reports_a_truncation_on_a_terminal_step(tmp_path):
    """countdown (turn_limit 3): `stop` as the third action terminates and reaches the limit:
    both flags are reported; after two ticks and a third, only the truncation."""
    env = load_jax(load(str(ROOT / "tests" / "specs" / "countdown.envspec")))
    auto = jax.jit(env.step_autoreset)
    key = jax.random.PRNGKey(0)
    s = env.init(key)
    for _ in range(2):
        s, _, terminated, truncated, _ = auto(s, 0, key)
        assert not bool(terminated) and not bool(truncated)
    _, _, terminated, truncated, _ = auto(s, 1, key)
    assert bool(terminated) and bool(truncated), "stop on the limit's step: both"
    nxt, rewards, terminated, truncated, final = auto(s, 0, key)
    assert not bool(terminated) and bool(truncated) and float(rewards[0]) == 1.0
    assert final.tolist() == [3] and nxt.observation.tolist() == [0] and int(nxt._step_count) == 0


def test_gymnax_environment_reports_truncation_from_the_step_not_the_reset():
    """The old adapter read `info["truncated"]` from the state after the auto-reset, so it was
    never true (a time-out looked terminal). gymnax's own `Environment.step` now reads it
    from the state the step produced."""
    from gymnax.environments import environment

    gen = load_jax(load(str(ROOT / "tests" / "specs" / "countdown.envspec")))
    env = gen.GymnaxEnv()
    assert isinstance(env, environment.Environment)
    params = env.default_params
    assert params.max_steps_in_episode == 3
    step = jax.jit(env.step)
    key = jax.random.PRNGKey(0)
    obs, state = env.reset(key, params)
    flags = []
    for _ in range(3):
        obs, state, reward, terminated, truncated, info = step(key, state, 0, params)
        flags.append((bool(terminated), bool(truncated), bool(info["truncated"])))
    assert flags == [(False, False, False), (False, False, False), (False, True, True)]
    assert info["final_observation"].tolist() == [3] and obs.tolist() == [0], "auto-reset after the time-out"
    # a shorter limit in the params truncates earlier
    short = params.replace(max_steps_in_episode=1)
    _, state = env.reset(key, short)
    *_, truncated, info = step(key, state, 0, short)
    assert bool(truncated) and bool(info["truncated"])


@pytest.mark.slow
def test_gymnax_wrappers_and_a_purejaxrl_loop_run_unmodified(jax_envs):
    """cartpole as PureJaxRL builds it: `FlattenObservationWrapper` then `LogWrapper`, reset and
    step vmapped over environments, a `lax.scan` over steps; the logged episode lengths are
    CartPole's under a random policy (about 22 steps)."""
    from gymnax.environments import environment, spaces
    from gymnax.wrappers.purerl import FlattenObservationWrapper, LogWrapper

    gen = jax_envs("cartpole")
    raw = gen.GymnaxEnv()
    assert isinstance(raw, environment.Environment) and raw.name == "envc/cartpole-v0"
    params = raw.default_params
    assert params.max_steps_in_episode == 500
    assert isinstance(raw.action_space(params), spaces.Discrete) and raw.action_space(params).n == 2
    box = raw.observation_space(params)
    assert isinstance(box, spaces.Box) and box.shape == (4,) and box.dtype == jnp.float32
    env = LogWrapper(FlattenObservationWrapper(raw))
    n_envs, n_steps = 16, 200

    def run(key):
        key, k0 = jax.random.split(key)
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k0, n_envs), params)

        def body(carry, _):
            obs, state, key = carry
            key, k_act, k_step = jax.random.split(key, 3)
            action = jax.vmap(env.action_space(params).sample)(jax.random.split(k_act, n_envs))
            obs, state, reward, terminated, truncated, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_step, n_envs), state, action, params)
            return (obs, state, key), (info["returned_episode"], info["returned_episode_lengths"], reward)

        _, out = jax.lax.scan(body, (obs, state, key), None, length=n_steps)
        return out

    ended, lengths, rewards = jax.jit(run)(jax.random.PRNGKey(0))
    ended = np.asarray(ended)
    assert ended.sum() > 50 and np.all(np.asarray(rewards) == 1.0)
    mean = float(np.asarray(lengths)[ended].mean())
    assert 15.0 < mean < 30.0, mean


def test_gymnax_env_exists_only_for_one_player_specs(jax_envs):
    gen = jax_envs("tictactoe")
    with pytest.raises(AttributeError):
        gen.GymnaxEnv  # noqa: B018 (the attribute access is what raises)


def test_a_record_observation_has_a_gymnax_dict_space():
    """tests/specs/record_obs.envspec (one player, observed as a record with a list, an enum, a
    bool and a float): `GymnaxEnv.observation_space` raised NotImplementedError; now a `Dict`
    of `Box`es nested as the observation's dicts, holding every observation of play (the Rust
    adapters' space, tests/test_rust_adapters.py)."""
    from gymnax.environments import spaces

    env = load_jax(load(str(Path(__file__).parent / "specs" / "record_obs.envspec")))
    genv = env.GymnaxEnv()
    space = genv.observation_space(genv.default_params)
    assert isinstance(space, spaces.Dict) and set(space.spaces) == {"hand", "light", "lit", "heat", "step"}
    assert space.spaces["hand"].spaces["items"].shape == (3,) and space.spaces["hand"].spaces["len"].high == 3
    def holds(space, x) -> bool:  # (gymnax's `Dict.contains` reads attributes, not dict keys)
        if isinstance(space, spaces.Dict):
            return set(x) == set(space.spaces) and all(holds(s, x[k]) for k, s in space.spaces.items())
        return bool(space.contains(x)) and x.shape == space.shape and x.dtype == space.dtype

    obs, state = genv.reset(jax.random.key(0), genv.default_params)
    longest = 0
    for t in range(6):  # take, flip, ...: three cards, then a flip
        assert holds(space, obs), obs
        longest = max(longest, int(obs["hand"]["len"]))
        obs, state, *_ = genv.step(jax.random.key(t), state, t % 2, genv.default_params)
    assert holds(space, obs) and longest == 3 and int(obs["hand"]["len"]) == 3
