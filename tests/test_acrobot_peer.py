"""specs/acrobot.envspec against gymnax's Acrobot-v1 and Gymnasium's Acrobot-v1.

1,000 episodes are played by the generated JAX environment as one batch (the reference
interpreter runs about 1,500 steps per second, too slow for 300,000 steps in CI; it
equals the JAX output within float32 rounding, `tests/test_jax_backend.py`, and replays
the first episodes against gymnax here too). Half the episodes take uniformly random
torques (those rarely swing up: they run into the 500-step limit); the other half push
against the first link's velocity half of the time, which swings the end above the bar
within about 160 steps, so both endings are compared.

Acrobot is chaotic: two float32 implementations that differ in the last bit of one
operation drift apart after about a hundred steps. So the peers are checked from
*injected identical states*: at every step of every episode, the peer is given envc's
state before the step and the same action, and its next observation must agree within
`ATOL`, its reward and termination (and gymnax's truncation) exactly. Whole trajectories,
the peer running on its own from envc's initial state, are compared over the first
`HORIZON` steps. Peer files: gymnax/environments/classic_control/acrobot.py,
gymnasium/envs/classic_control/acrobot.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from envc.compiler.interp import Interpreter

EPISODES = 1000
LIMIT = 500  # the spec's turn_limit, gymnax's max_steps_in_episode, Gymnasium's TimeLimit
ATOL = 1e-5  # one step from identical states: float32 rounding (gymnax), float32 vs float64 (Gymnasium)
HORIZON = 50  # whole trajectories agree within ATOL_RUN this long before chaos amplifies rounding
ATOL_RUN = 1e-4
STATE = ("theta1", "theta2", "dtheta1", "dtheta2")


def _field(state, name: str) -> np.ndarray:
    """A field of a generated JAX state as a NumPy array (the one place that knows where
    the State keeps the spec's fields: `State._x`, beside Pgx's own attributes)."""
    return np.asarray(state._x[name] if name in state._x else getattr(state, name))


def _policy(rng: np.random.Generator, episode: np.ndarray, dtheta1: np.ndarray) -> np.ndarray:
    """Even episodes: a uniformly random torque. Odd ones: half of the time a random torque,
    else the torque against the first link's velocity (action 0 is -1, action 2 is +1)."""
    random = rng.integers(0, 3, len(episode))
    pump = np.where(dtheta1 > 0, 0, 2)
    explore = (episode % 2 == 0) | (rng.random(len(episode)) < 0.5)
    return np.where(explore, random, pump).astype(np.int32)


@pytest.fixture(scope="module")
def episodes(jax_envs):
    """EPISODES episodes of the generated JAX env (seed = episode number), as arrays indexed
    [step, episode]: `before` (the state before the step, float32[..., 4]), `action`,
    `observation` (after the step), `reward`, `terminated`, `truncated`, and `live` (the
    episode had not ended before this step)."""
    import jax
    import jax.numpy as jnp

    env = jax_envs("acrobot")
    step = jax.jit(jax.vmap(env.step))
    state = jax.jit(jax.vmap(env.init_from_seed))(jnp.arange(EPISODES, dtype=jnp.uint32))
    rng = np.random.default_rng(7)
    ids = np.arange(EPISODES)
    live = np.ones(EPISODES, dtype=bool)
    rec: dict[str, list] = {k: [] for k in ("before", "action", "observation", "reward", "terminated", "truncated",
                                            "live")}
    while live.any():
        before = np.stack([_field(state, f) for f in STATE], axis=-1)
        actions = _policy(rng, ids, before[:, 2])
        state = step(state, jnp.asarray(actions))
        rec["before"].append(before)
        rec["action"].append(actions)
        rec["observation"].append(_field(state, "observation"))
        rec["reward"].append(_field(state, "rewards")[:, 0])
        rec["terminated"].append(_field(state, "terminated"))
        rec["truncated"].append(_field(state, "truncated"))
        rec["live"].append(live.copy())
        live &= ~(rec["terminated"][-1] | rec["truncated"][-1])
    return {k: np.stack(v) for k, v in rec.items()}


def _interpreter_episodes(module, actions: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The interpreter replaying the recorded actions of the first `n` episodes, in the layout
    of `episodes` (steps past an episode's end are padded and not live)."""
    it = Interpreter(module)
    steps = actions.shape[0]
    rec = {"before": np.zeros((steps, n, 4), np.float32), "action": actions[:, :n],
           "observation": np.zeros((steps, n, 6), np.float32), "reward": np.zeros((steps, n), np.float32),
           "terminated": np.zeros((steps, n), bool), "truncated": np.zeros((steps, n), bool),
           "live": np.zeros((steps, n), bool)}
    for j in range(n):
        s = it.init(j)
        for t in range(steps):
            if s.terminated or s.truncated:
                break
            rec["before"][t, j] = [s.fields[f] for f in STATE]
            rec["live"][t, j] = True
            s = it.step(s, int(actions[t, j]))
            rec["observation"][t, j] = np.array(s.observation, np.float32)
            rec["reward"][t, j] = s.rewards[0]
            rec["terminated"][t, j] = s.terminated
            rec["truncated"][t, j] = s.truncated
    return rec


def _where(rec, t: int, j: int) -> str:
    return f"episode {j} (seed {j}), step {t + 1}, from state {rec['before'][t, j].tolist()}, action {rec['action'][t, j]}"


def _check_against_gymnax(rec: dict[str, np.ndarray]) -> tuple[float, int]:
    """Every live step of `rec`, taken by gymnax's `step_env` from the same state; returns
    the largest observation difference and the number of steps compared."""
    import jax
    import jax.numpy as jnp
    from gymnax.environments.classic_control.acrobot import Acrobot, EnvState

    env = Acrobot()
    params = env.default_params
    assert params.max_steps_in_episode == LIMIT

    def one(state, action):
        obs, nxt, reward, terminated, _ = env.step_env(jax.random.PRNGKey(0), state, action, params)
        return obs, reward, terminated, env.is_truncated(nxt, params)

    step = jax.jit(jax.vmap(one))
    worst = 0.0
    for t in range(rec["action"].shape[0]):
        b = jnp.asarray(rec["before"][t])
        state = EnvState(joint_angle1=b[:, 0], joint_angle2=b[:, 1], velocity_1=b[:, 2], velocity_2=b[:, 3],
                         time=jnp.full(b.shape[0], t, jnp.int32))
        obs, reward, terminated, truncated = (np.asarray(x) for x in step(state, jnp.asarray(rec["action"][t])))
        live = rec["live"][t]
        diff = np.where(live[:, None], np.abs(obs - rec["observation"][t]), 0.0)
        for name, ours, theirs in (("reward", rec["reward"][t], reward), ("terminated", rec["terminated"][t], terminated),
                                   ("truncated", rec["truncated"][t], truncated)):
            bad = live & (ours != theirs)
            assert not bad.any(), f"{name}: {_where(rec, t, int(np.flatnonzero(bad)[0]))}"
        bad = (diff > ATOL).any(axis=1)
        assert not bad.any(), (f"observation: {_where(rec, t, int(np.flatnonzero(bad)[0]))}: envc "
                               f"{rec['observation'][t][bad][0]}, gymnax {obs[bad][0]}")
        worst = max(worst, float(diff.max()))
    return worst, int(rec["live"].sum())


def test_both_endings_are_reached(episodes):
    """The episode set covers the swing-up (termination, reward 0 on that step) and the
    500-step truncation (reward -1 on every step)."""
    ends = episodes["live"] & (episodes["terminated"] | episodes["truncated"])
    length = np.argmax(ends, axis=0) + 1
    terminated = episodes["terminated"].any(axis=0)
    assert terminated[1::2].mean() > 0.9, "pumping swings up"
    assert (~terminated[0::2]).mean() > 0.9, "random torques rarely swing up: most reach the limit"
    assert (length[~terminated] == LIMIT).all()
    final = episodes["reward"][length - 1, np.arange(EPISODES)]
    assert (final[terminated] == 0.0).all() and (final[~terminated] == -1.0).all()
    returns = np.where(episodes["live"], episodes["reward"], 0.0).sum(axis=0)
    np.testing.assert_array_equal(returns, -(length - terminated))


@pytest.mark.slow
def test_matches_gymnax_from_injected_states(episodes):
    worst, compared = _check_against_gymnax(episodes)
    assert worst < ATOL and compared == episodes["live"].sum() > 200_000


@pytest.mark.slow
def test_interpreter_matches_gymnax_from_injected_states(episodes, specs):
    worst, compared = _check_against_gymnax(_interpreter_episodes(specs("acrobot"), episodes["action"], 20))
    assert worst < ATOL and compared > 20 * 100  # its own episodes: chaos makes their lengths differ from JAX's


@pytest.mark.slow
def test_whole_trajectories_match_gymnax_at_first(episodes):
    """gymnax on its own from envc's initial state and the same actions, HORIZON steps."""
    import jax
    import jax.numpy as jnp
    from gymnax.environments.classic_control.acrobot import Acrobot, EnvState

    env = Acrobot()
    params = env.default_params
    step = jax.jit(jax.vmap(env.step_env, in_axes=(None, 0, 0, None)))
    b = jnp.asarray(episodes["before"][0])
    state = EnvState(joint_angle1=b[:, 0], joint_angle2=b[:, 1], velocity_1=b[:, 2], velocity_2=b[:, 3],
                     time=jnp.zeros(EPISODES, jnp.int32))
    for t in range(HORIZON):
        obs, state, _, _, _ = step(jax.random.PRNGKey(0), state, jnp.asarray(episodes["action"][t]), params)
        live = episodes["live"][t]
        np.testing.assert_allclose(np.asarray(obs)[live], episodes["observation"][t][live], rtol=0, atol=ATOL_RUN,
                                   err_msg=f"step {t + 1}")


@pytest.mark.slow
def test_matches_gymnasium_from_injected_states(episodes):
    import gymnasium

    made = gymnasium.make("Acrobot-v1")
    assert made.spec.max_episode_steps == LIMIT
    env = made.unwrapped
    env.reset(seed=0)
    worst = 0.0
    for j in range(50):
        for t in np.flatnonzero(episodes["live"][:, j]):
            env.state = episodes["before"][t, j].astype(np.float64)
            obs, reward, terminated, _, _ = env.step(int(episodes["action"][t, j]))
            where = _where(episodes, t, j)
            np.testing.assert_allclose(obs, episodes["observation"][t, j], rtol=0, atol=ATOL, err_msg=where)
            assert reward == episodes["reward"][t, j] and terminated == episodes["terminated"][t, j], where
            worst = max(worst, float(np.abs(obs - episodes["observation"][t, j]).max()))
    assert 0.0 < worst < ATOL
