"""specs/cartpole.envspec against gymnax's CartPole-v1 and Gymnasium's CartPole-v1.

1,000 episodes: each starts from the interpreter's initial state, injected into the
peer; all are driven by the same seeded random actions. At every step the observation
must agree within `ATOL` (float32 arithmetic: XLA folds constants and fuses multiply-adds,
Gymnasium computes in float64), and the reward, termination and truncation exactly.
Peer files: gymnax/environments/classic_control/cartpole.py,
gymnasium/envs/classic_control/cartpole.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from envc.compiler.interp import Interpreter

EPISODES = 1000
ATOL = 1e-4


@pytest.fixture(scope="module")
def episodes(specs):
    """The interpreter's episodes: (initial observation, actions, observations, rewards, terminated, truncated)."""
    it = Interpreter(specs("cartpole"))
    policy = np.random.default_rng(7)
    runs = []
    for seed in range(EPISODES):
        s = it.init(seed)
        start = np.array(s.observation, dtype=np.float32)
        acts, obs, rew, term, trunc = [], [], [], [], []
        while not (s.terminated or s.truncated):
            a = int(policy.integers(0, 2))
            s = it.step(s, a)
            acts.append(a)
            obs.append(np.array(s.observation, dtype=np.float32))
            rew.append(float(s.rewards[0]))
            term.append(bool(s.terminated))
            trunc.append(bool(s.truncated))
        runs.append((start, acts, np.array(obs), np.array(rew), np.array(term), np.array(trunc)))
    return runs


def test_random_policy_episode_length_is_the_known_one(episodes):
    lengths = [len(r[1]) for r in episodes]
    assert 20.0 < np.mean(lengths) < 25.0  # CartPole-v1 under a uniform random policy: about 22 steps


@pytest.mark.slow
def test_matches_gymnax(episodes):
    import jax
    import jax.numpy as jnp
    from gymnax.environments.classic_control.cartpole import CartPole, EnvState

    env = CartPole()
    params = env.default_params
    step = jax.jit(jax.vmap(env.step_env, in_axes=(None, 0, 0, None)))
    n = len(episodes)
    start = np.stack([r[0] for r in episodes])
    state = EnvState(x=jnp.asarray(start[:, 0]), x_dot=jnp.asarray(start[:, 1]), theta=jnp.asarray(start[:, 2]),
                     theta_dot=jnp.asarray(start[:, 3]), time=jnp.zeros(n, jnp.int32))
    longest = max(len(r[1]) for r in episodes)
    worst = 0.0
    for t in range(longest):
        actions = np.array([r[1][t] if t < len(r[1]) else 0 for r in episodes], dtype=np.int32)
        obs, state, reward, done, _ = step(jax.random.PRNGKey(0), state, jnp.asarray(actions), params)
        obs, reward, done = np.asarray(obs), np.asarray(reward), np.asarray(done)
        for j, (_, acts, o, r, term, trunc) in enumerate(episodes):
            if t >= len(acts):
                continue
            where = f"episode {j}, step {t + 1}, actions {acts[: t + 1]}"
            np.testing.assert_allclose(obs[j], o[t], rtol=0, atol=ATOL, err_msg=where)
            assert reward[j] == r[t], where
            assert bool(done[j]) == (term[t] or trunc[t]), where
            worst = max(worst, float(np.abs(obs[j] - o[t]).max()))
    assert worst < ATOL


@pytest.mark.slow
def test_matches_gymnasium(episodes):
    import gymnasium

    env = gymnasium.make("CartPole-v1").unwrapped
    worst = 0.0
    for j, (start, acts, o, r, term, _trunc) in enumerate(episodes[:300]):
        env.reset(seed=j)
        env.state = start.astype(np.float64)
        env.steps_beyond_terminated = None
        for t, a in enumerate(acts):
            obs, reward, terminated, _, _ = env.step(a)
            where = f"episode {j}, step {t + 1}, actions {acts[: t + 1]}"
            np.testing.assert_allclose(obs, o[t], rtol=0, atol=ATOL, err_msg=where)
            assert reward == r[t] and terminated == term[t], where
            worst = max(worst, float(np.abs(obs - o[t]).max()))
    assert worst < ATOL
