"""The interpreter against Pgx, the trusted hand-written peer, game by game.

For each spec, 1,000 games are played in Pgx (jit(vmap(step)) over the batch) with a
seeded uniformly random legal policy; the interpreter then replays every game with the
same actions, and at every step its `legal_action_mask`, `current_player`, `rewards`,
`terminated` and `observation` must equal Pgx's exactly. The first player is a coin
flip in both; Pgx's is replaced by the interpreter's (drawn with envc's RNG) so that
both start from the same state. Peer files: pgx/tic_tac_toe.py, pgx/connect_four.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from envc.compiler.check import load
from envc.compiler.interp import Interpreter

GAMES = 1000
CASES = [
    # spec, Pgx env id, longest possible game
    ("specs/tictactoe.envspec", "tic_tac_toe", 9),
    ("specs/connect4.envspec", "connect_four", 42),
]


def _pgx_games(env_id: str, first_players: np.ndarray, max_steps: int, policy_seed: int) -> dict[str, np.ndarray]:
    """Play len(first_players) games in Pgx; returns arrays indexed [step, game, ...]."""
    import jax
    import jax.numpy as jnp
    import pgx

    env = pgx.make(env_id)
    init = jax.jit(jax.vmap(env.init))
    step = jax.jit(jax.vmap(env.step))
    observe = jax.jit(jax.vmap(env.observe))
    n = len(first_players)
    state = init(jax.random.split(jax.random.PRNGKey(policy_seed), n))
    state = state.replace(current_player=jnp.asarray(first_players, dtype=jnp.int32))
    state = state.replace(observation=observe(state))
    policy = np.random.default_rng(policy_seed)
    record: dict[str, list] = {k: [] for k in ("mask", "player", "rewards", "terminated", "observation", "action")}
    for t in range(max_steps + 1):
        mask = np.asarray(state.legal_action_mask)
        record["mask"].append(mask)
        record["player"].append(np.asarray(state.current_player))
        record["rewards"].append(np.asarray(state.rewards))
        record["terminated"].append(np.asarray(state.terminated))
        record["observation"].append(np.asarray(state.observation))
        if t == max_steps:
            break
        # uniform over legal actions, one draw per game
        scores = policy.random(mask.shape) * mask
        actions = scores.argmax(axis=1).astype(np.int32)
        record["action"].append(actions)
        state = step(state, jnp.asarray(actions))
    return {k: np.stack(v) for k, v in record.items()}


def _divergence(game: int, t: int, field: str, ours, theirs, actions) -> str:
    return (f"game {game}, step {t}: `{field}` differs\n  interpreter: {ours}\n  pgx:         {theirs}\n"
            f"  actions that reproduce it: {list(map(int, actions))}")


@pytest.mark.slow
@pytest.mark.parametrize("spec,env_id,max_steps", CASES, ids=[c[1] for c in CASES])
def test_interpreter_matches_pgx(spec, env_id, max_steps):
    it = Interpreter(load(spec))
    starts = [it.init(seed) for seed in range(GAMES)]
    first = np.array([s.current_player for s in starts])
    assert 0.4 < first.mean() < 0.6, "the first player should be a fair coin"
    pgx_rec = _pgx_games(env_id, first, max_steps, policy_seed=1234)
    compared = 0
    for g, s in enumerate(starts):
        actions = pgx_rec["action"][:, g]
        for t in range(max_steps + 1):
            checks = (
                ("legal_action_mask", np.array(s.legal_action_mask), pgx_rec["mask"][t, g]),
                ("current_player", s.current_player, pgx_rec["player"][t, g]),
                ("rewards", np.array(s.rewards, dtype=np.float32), pgx_rec["rewards"][t, g]),
                ("terminated", s.terminated, pgx_rec["terminated"][t, g]),
                ("observation", np.array(s.observation, dtype=bool), pgx_rec["observation"][t, g]),
            )
            for name, ours, theirs in checks:
                assert np.array_equal(ours, theirs), _divergence(g, t, name, ours, theirs, actions[:t])
            compared += 1
            if s.terminated:
                break
            s = it.step(s, int(actions[t]))
        assert s.terminated, f"game {g} did not end within {max_steps} steps"
    assert compared > GAMES * 5
