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

from pathlib import Path

import numpy as np
import pytest

from envc.compiler.check import load
from envc.compiler.interp import Interpreter

ROOT = Path(__file__).resolve().parent.parent
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


# ------------------------------------------------------------------ illegal actions (issue 14)


def _pgx_any_action_games(first_players: np.ndarray, max_steps: int, seed: int, p_any: float = 0.3):
    """Tic-tac-toe games in Pgx where each action is, with probability `p_any`, any action
    (often an illegal one), else a legal one. Returns the records and the actions [step, game]."""
    import jax
    import jax.numpy as jnp
    import pgx

    env = pgx.make("tic_tac_toe")
    step = jax.jit(jax.vmap(env.step))
    observe = jax.jit(jax.vmap(env.observe))
    n = len(first_players)
    state = jax.jit(jax.vmap(env.init))(jax.random.split(jax.random.PRNGKey(seed), n))
    state = state.replace(current_player=jnp.asarray(first_players, dtype=jnp.int32))
    state = state.replace(observation=observe(state))
    policy = np.random.default_rng(seed)
    rec: dict[str, list] = {k: [] for k in ("player", "rewards", "terminated", "observation", "mask", "action")}
    for t in range(max_steps + 1):
        rec["player"].append(np.asarray(state.current_player))
        rec["rewards"].append(np.asarray(state.rewards))
        rec["terminated"].append(np.asarray(state.terminated))
        rec["observation"].append(np.asarray(state.observation))
        rec["mask"].append(np.asarray(state.legal_action_mask))
        if t == max_steps:
            break
        mask = rec["mask"][-1]
        legal = (policy.random(mask.shape) * mask).argmax(axis=1)
        anything = policy.integers(0, mask.shape[1], size=n)
        actions = np.where(policy.random(n) < p_any, anything, legal).astype(np.int32)
        rec["action"].append(actions)
        state = step(state, jnp.asarray(actions))
    return {k: np.stack(v) for k, v in rec.items()}


def _with_policy(tmp_path, policy: str):
    text = (ROOT / "specs" / "tictactoe.envspec").read_text(encoding="utf-8")
    spec = tmp_path / "tictactoe.envspec"
    spec.write_text(text.replace("players 2\n", f"players 2\nillegal_action {policy}\n", 1), encoding="utf-8")
    return load(str(spec))


@pytest.mark.slow
def test_illegal_action_pgx_follows_pgx_on_every_backend(tmp_path):
    """`illegal_action pgx`: the move is made, then the mover loses, exactly as Pgx's Env.step;
    the interpreter, JAX and Rust replay Pgx's games (with illegal actions) field for field."""
    import jax
    import jax.numpy as jnp

    from envc.verify import load_jax, load_rust

    m = _with_policy(tmp_path, "pgx")
    assert m.illegal_action == "pgx"
    it = Interpreter(m)
    games = 300
    starts = [it.init(seed) for seed in range(games)]
    rec = _pgx_any_action_games(np.array([s.current_player for s in starts]), 9, seed=7)
    env = load_jax(m)
    jstate = jax.jit(jax.vmap(env.init_from_seed))(jnp.arange(games, dtype=jnp.uint32))
    jstep = jax.jit(jax.vmap(env.step))
    rust = load_rust(m).VecEnv(games, threads=1, autoreset=False)
    rust.reset_seeds(np.arange(games, dtype=np.uint32))
    illegal = 0
    states = list(starts)
    for t in range(10):
        for g, s in enumerate(states):  # (Pgx's board holds turns, not players: its observation is compared)
            for name, ours, theirs in (("legal_action_mask", np.array(s.legal_action_mask), rec["mask"][t, g]),
                                       ("current_player", s.current_player, rec["player"][t, g]),
                                       ("rewards", np.array(s.rewards, np.float32), rec["rewards"][t, g]),
                                       ("terminated", s.terminated, rec["terminated"][t, g]),
                                       ("observation", np.array(s.observation, bool), rec["observation"][t, g])):
                assert np.array_equal(ours, theirs), _divergence("interpreter", g, t, name, ours, theirs, rec["action"][:t, g])
        for name, arrays in (("jax", {"current_player": np.asarray(jstate.current_player),
                                      "rewards": np.asarray(jstate.rewards), "board": np.asarray(jstate._x["board"]),
                                      "terminated": np.asarray(jstate.terminated)}),
                             ("rust", {"current_player": rust.current_player, "rewards": rust.rewards,
                                       "terminated": rust.terminated,
                                       "board": np.stack([rust.get_state(g)["board"] for g in range(games)])})):
            for key, got in arrays.items():
                want = np.array([np.asarray(getattr(s, key), dtype=got.dtype) for s in states])
                assert np.array_equal(got, want), f"{name}: `{key}` differs from the interpreter at step {t}"
        if t == 9:
            break
        actions = rec["action"][t]
        illegal += sum(1 for g, s in enumerate(states) if not s.terminated and not s.legal_action_mask[actions[g]])
        states = [it.step(s, int(a)) for s, a in zip(states, actions)]
        jstate = jstep(jstate, jnp.asarray(actions))
        rust.step(actions)
    assert illegal > 50, "the games took illegal actions"


def test_illegal_action_lose_keeps_the_state(tmp_path):
    """The default (`lose`): an illegal action changes nothing but the result, where Pgx makes
    the move first (so the board, `current_player` and the observation differ from Pgx)."""
    for policy, moved in (("lose", False), ("pgx", True)):
        m = _with_policy(tmp_path, policy)
        it = Interpreter(m)
        s = it.init(0)
        mover = s.current_player
        s = it.step(s, 4)  # a legal move on the centre
        again = it.step(s, 4)  # the centre again: illegal for the other player
        assert again.terminated and again.rewards[1 - mover] == -1.0 and again.rewards[mover] == 1.0
        assert (again.board[4] == 1 - mover) == moved
        assert (again.current_player == mover) == moved


def test_an_out_of_range_action_under_pgx_runs_nothing(tmp_path):
    """`illegal_action pgx` runs an illegal action's body, but an index outside the action
    space names no action: the mover loses and nothing runs, on every backend (a fresh spec:
    the interpreter raised IndexError, Rust panicked, JAX played the clipped neighbour)."""
    import jax.numpy as jnp

    from envc.verify import load_jax, load_rust

    m = _with_policy(tmp_path, "pgx")
    it, env = Interpreter(m), load_jax(m)
    rust = load_rust(m).VecEnv(1, threads=1, autoreset=False)
    for action in (9, -1):
        start = it.init(0)
        lost = [-1.0 if p == start.current_player else 1.0 for p in range(2)]  # (the first player is drawn)
        s = it.step(start, action)
        assert s.terminated and list(s.rewards) == lost and list(s.board) == [-1] * 9
        assert s.current_player == start.current_player
        j = env.step(env.init_from_seed(jnp.uint32(0)), jnp.int32(action))
        assert bool(j.terminated) and np.asarray(j.rewards).tolist() == lost
        assert np.asarray(j._x["board"]).tolist() == [-1] * 9 and int(j.current_player) == s.current_player
        rust.reset_seeds(np.array([0], np.uint32))
        rust.step(np.array([action], np.int32))
        assert rust.terminated[0] and rust.rewards[0].tolist() == lost
        assert rust.get_state(0)["board"].tolist() == [-1] * 9
        # the step counts (as Pgx's does), on every backend (a fresh spec: JAX kept the old count)
        assert s.fields["step_count"] == int(j._step_count) == int(rust.get_state(0)["step_count"]) == 1


SIMULTANEOUS_PGX = """env simpgx "simultaneous, pgx: an illegal commit runs, then the mover loses; no turn is resolved"
players 2
simultaneous
illegal_action pgx
turn_limit 6
state {
    n: int[0..9][2] = 0
    resolved: int[0..9] = 0
}
action inc() when n[player] > 5 { n[player] = min(n[player] + 1, 9) }
action stay() { }
resolve { act(0) act(1) resolved = min(resolved + 1, 9) }
observe(p) -> int[0..9][2] { return [n[p], n[1 - p]] }
"""


def test_an_illegal_commit_under_pgx_resolves_no_turn(tmp_path):
    """Under `illegal_action pgx` an illegal step runs the action's body, then the mover loses,
    without the step's epilogue (a simultaneous turn's resolution): the interpreter's rule and
    Rust's. JAX ran the epilogue (the last commit resolved the turn: `resolved` 1, `n[1]` 1)."""
    import jax.numpy as jnp

    from envc.verify import load_jax

    path = tmp_path / "simpgx.envspec"
    path.write_text(SIMULTANEOUS_PGX)
    m = load(str(path))
    it, env = Interpreter(m), load_jax(m)
    for actions in ([1, 0], [0], [1, 1]):  # (player 1's `inc` illegal, player 0's, both legal)
        s, j = it.init(0), env.init_from_seed(jnp.uint32(0))
        for a in actions:
            s, j = it.step(s, a), env.step(j, jnp.int32(a))
        assert np.asarray(j._x["n"]).tolist() == list(s.fields["n"]), actions
        assert int(j._x["resolved"]) == s.fields["resolved"] == (actions == [1, 1]), actions
        assert (bool(j.terminated), int(j.current_player), int(j._step_count)) \
            == (s.terminated, s.current_player, s.fields["step_count"]), actions
        assert np.asarray(j.rewards).tolist() == [float(r) for r in s.rewards], actions
