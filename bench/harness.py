"""The loop a user writes around an environment, one harness for envc and its peers (issue 18's
`--user-loop`): `jax.vmap(init)` on split keys, `jax.vmap(step)`, the random legal policy and a
select of a fresh `init` where an episode ended, in one `lax.scan`. Needs only jax, so that
bench/gpu_rollout.py runs it where envc is not installed; bench/jax_vs_peers.py,
bench/compile_profile.py and bench/xla_ops.py use it through jax_vs_peers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def where_done(done, fresh, state):
    """Each leaf of `fresh` where `done` (bool[batch]), of `state` elsewhere."""
    return jax.tree_util.tree_map(
        lambda f, x: jnp.where(done.reshape(done.shape + (1,) * (x.ndim - 1)), f, x), fresh, state)


def user_loop(init, step, mask=None, num_actions: int = 0):
    """The user's own loop: `init(key) -> state`, `step(state, action) -> (state, reward, done)`
    under `vmap`, the random policy over `mask(state)` (bool[num_actions]; all legal when None),
    and a select of a fresh `init` where the step ended the episode, in one `lax.scan`."""

    def rollout(key, n_steps, batch):
        key, k0 = jax.random.split(key)
        state = jax.vmap(init)(jax.random.split(k0, batch))

        def body(carry, _):
            state, key = carry
            key, k_act, k_reset = jax.random.split(key, 3)
            legal = mask(state) if mask else jnp.ones((batch, num_actions), jnp.bool_)
            logits = jnp.where(legal, 0.0, -jnp.inf)
            actions = jax.vmap(jax.random.categorical)(jax.random.split(k_act, batch), logits)
            state, rewards, done = jax.vmap(step)(state, actions)
            fresh = jax.vmap(init)(jax.random.split(k_reset, batch))
            return (where_done(done, fresh, state), key), (rewards, done)

        (state, _), (rewards, done) = jax.lax.scan(body, (state, key), None, length=n_steps)
        return state, rewards, done

    return rollout


def pgx_api_loop(env):
    """`user_loop` of an environment with Pgx's API (a Pgx env, or envc's generated `Env()`)."""
    def step(state, action):
        state = env.step(state, action)
        return state, state.rewards, state.terminated | state.truncated

    return user_loop(env.init, step, lambda state: state.legal_action_mask)


def gymnax_user_loop(env_id: str):
    import gymnax

    env, params = gymnax.make(env_id)

    # The user's state is (env state, observation): the observation is carried and selected
    # like the rest, as envc's and Pgx's states hold theirs (see `gymnax_rollout` in bench/jax_vs_peers.py).
    def init(key):
        obs, state = env.reset_env(key, params)
        return state, obs

    def step(carried, action):
        # step_env's key is for stochastic dynamics (unused by the classic-control envs)
        obs, state, reward, done, _ = env.step_env(jax.random.PRNGKey(0), carried[0], action, params)
        return (state, obs), reward, done

    return user_loop(init, step, None, env.num_actions)
