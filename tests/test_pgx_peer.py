"""The compiled specs against Pgx, the trusted hand-written peer, game by game.

For each spec, 1,000 games are played in Pgx (jit(vmap(step)) over the batch) with a
seeded uniformly random legal policy; the spec then replays every game with the same
actions, and at every step its `legal_action_mask`, `current_player`, `rewards`,
`terminated` and `observation` must equal Pgx's exactly. The first player is a coin
flip in both; Pgx's is replaced by envc's (drawn with envc's RNG from seed = game
number) so that both start from the same state.

Who replays: the reference interpreter, for every game of tictactoe and connect4. Othello's
mask walks up to seven cells in eight directions from each of 64 cells, about 8 ms per
step in the interpreter (two minutes for 1,000 games on CI's cores); there the generated
JAX environment replays all 1,000 games as one batch, and the interpreter the first
`interpreter_games` of them. The JAX output equals the interpreter's bit for bit on
every spec (`tests/test_jax_backend.py`, `envc verify`).

Peer files: pgx/tic_tac_toe.py, pgx/connect_four.py, pgx/othello.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from envc.compiler.interp import Interpreter

GAMES = 1000
# spec, Pgx env id, longest possible game, games the interpreter replays.
# Othello: 60 placements, and never two passes in a row before the end: at most 121 steps.
CASES = [
    ("tictactoe", "tic_tac_toe", 9, GAMES),
    ("connect4", "connect_four", 42, GAMES),
    ("othello", "othello", 121, 30),
]
COMPARED = ("legal_action_mask", "current_player", "rewards", "terminated", "observation")


def _field(state, name: str):
    """A Pgx field of a generated JAX state, as a NumPy array (the one place that knows
    where the State keeps it)."""
    return np.asarray(getattr(state, name))


def _pgx_games(env_id: str, first_players: np.ndarray, max_steps: int, policy_seed: int) -> dict[str, np.ndarray]:
    """Play len(first_players) games in Pgx until all have ended (at most `max_steps`
    steps); returns arrays indexed [step, game, ...] under the names of COMPARED, and
    `action` [step, game]."""
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
    record: dict[str, list] = {k: [] for k in COMPARED + ("action",)}
    for t in range(max_steps + 1):
        for name in COMPARED:
            record[name].append(np.asarray(getattr(state, name)))
        if t == max_steps or record["terminated"][-1].all():
            break
        # uniform over legal actions, one draw per game
        mask = record["legal_action_mask"][-1]
        scores = policy.random(mask.shape) * mask
        actions = scores.argmax(axis=1).astype(np.int32)
        record["action"].append(actions)
        state = step(state, jnp.asarray(actions))
    assert record["terminated"][-1].all(), f"some {env_id} games did not end within {max_steps} steps"
    return {k: np.stack(v) for k, v in record.items()}


def _divergence(who: str, game: int, t: int, field: str, ours, theirs, actions) -> str:
    return (f"game {game} (seed {game}), step {t}: `{field}` differs\n  {who}: {ours}\n  pgx: {theirs}\n"
            f"  actions that reproduce it: {list(map(int, actions))}")


@pytest.fixture(scope="module")
def pgx_games(jax_envs):
    """env id -> Pgx's record of GAMES games, each starting with the first player of envc's
    `init(seed)` for seed = game number (one play per env id for both tests)."""
    import jax
    import jax.numpy as jnp

    cache: dict = {}

    def get(name: str, env_id: str, max_steps: int):
        if env_id not in cache:
            start = jax.jit(jax.vmap(jax_envs(name).init_from_seed))(jnp.arange(GAMES, dtype=jnp.uint32))
            first = _field(start, "current_player").astype(np.int32)
            assert 0.4 < first.mean() < 0.6, "the first player should be a fair coin"
            cache[env_id] = _pgx_games(env_id, first, max_steps, policy_seed=1234)
        return cache[env_id]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("name,env_id,max_steps,games", CASES, ids=[c[1] for c in CASES])
def test_interpreter_matches_pgx(name, env_id, max_steps, games, specs, pgx_games):
    it = Interpreter(specs(name))
    rec = pgx_games(name, env_id, max_steps)
    compared = 0
    for g in range(games):
        s = it.init(g)
        actions = rec["action"][:, g]
        for t in range(len(rec["terminated"])):
            ours = {"legal_action_mask": np.array(s.legal_action_mask), "current_player": s.current_player,
                    "rewards": np.array(s.rewards, dtype=np.float32), "terminated": s.terminated,
                    "observation": np.array(s.observation, dtype=bool)}
            for field in COMPARED:
                assert np.array_equal(ours[field], rec[field][t, g]), \
                    _divergence("interpreter", g, t, field, ours[field], rec[field][t, g], actions[:t])
            compared += 1
            if s.terminated:
                break
            s = it.step(s, int(actions[t]))
        assert s.terminated, f"game {g} did not end within {max_steps} steps"
    assert compared > games * 5


@pytest.mark.slow
def test_jax_matches_pgx_on_othello(jax_envs, pgx_games):
    """The generated JAX othello replays all GAMES games as one batch (jit(vmap(step)))."""
    import jax
    import jax.numpy as jnp

    env = jax_envs("othello")
    rec = pgx_games("othello", "othello", 121)
    step = jax.jit(jax.vmap(env.step))
    state = jax.jit(jax.vmap(env.init_from_seed))(jnp.arange(GAMES, dtype=jnp.uint32))
    live = np.ones(GAMES, dtype=bool)  # the game had not ended before step t
    steps = len(rec["terminated"])
    for t in range(steps):
        for field in COMPARED:
            ours, theirs = _field(state, field), rec[field][t]
            if field == "current_player":
                ours = ours.astype(theirs.dtype)
            bad = live & ~np.array([np.array_equal(a, b) for a, b in zip(ours, theirs)])
            if bad.any():
                g = int(np.flatnonzero(bad)[0])
                pytest.fail(_divergence("jax", g, t, field, ours[g], theirs[g], rec["action"][:t, g]))
        live &= ~rec["terminated"][t]
        if t < steps - 1:
            state = step(state, jnp.asarray(rec["action"][t]))
    assert not live.any()
    lengths = rec["terminated"].argmax(axis=0)
    assert lengths.min() >= 9 and lengths.mean() > 55, "random othello games last about 60 steps"
    passes = (rec["action"] == 64) & (np.arange(steps - 1)[:, None] < lengths[None, :])
    assert passes.any(axis=0).sum() > 10, "some games reach a forced pass"
    finals = rec["rewards"][lengths, np.arange(GAMES)]
    assert (finals.sum(axis=1) == 0).all() and (finals != 0).any(axis=1).mean() > 0.9
