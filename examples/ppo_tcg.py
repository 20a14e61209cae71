"""PPO with action masking on the compiled TCG (specs/tcg.envspec), PureJaxRL-style.

    python examples/ppo_tcg.py                       # full size (see bench/RESULTS.md, "Train on it")
    python examples/ppo_tcg.py --updates 200 --num-envs 8 --num-steps 16 --eval-episodes 100   # CI size

What it does, all in JAX on the generated environment (`envc.verify.load_jax`):
1. the agent plays seat 0 against the uniformly random legal policy: after each agent action
   the opponent's moves are played inside the environment step (`lax.while_loop`) until the
   agent is to move again or the game ends; the reward is the agent's (+1 win, -1 loss, 0 draw);
   finished games restart at once (auto-reset), with the opponent's opening moves if it starts;
   the deck pair of each game is drawn by the spec's `init` (every match-up of the decks);
2. PPO (Schulman et al. 2017) as in PureJaxRL's `ppo.py` (Lu et al. 2022): an actor-critic MLP
   (flax), logits of illegal actions set to -1e9 (the mask is the state's
   `legal_action_mask`), GAE, clipped surrogate, several epochs of minibatches (optax Adam,
   gradient clipping, linear learning-rate decay); `--updates-per-call` updates are one jitted
   `lax.scan`;
3. it reports the agent steps per second of training (compile excluded) and the share of
   the time spent in the environment: the same compiled program run with random actions and no
   learning (the mode RANDOM), over the time of training for the same number of steps;
4. it evaluates the greedy policy (argmax of the masked logits) against random play on new
   games: win, draw and loss rates per agent deck, and, as a baseline, random play against
   random play (games counted by id, as `envc run`, so that short games are not favoured);
5. it saves the parameters (`--out`, flax msgpack) and checks policy transfer: the greedy
   policy (`policy` below) plays `--verify-episodes` seeded self-play games on the
   interpreter and Rust (`--verify-targets`; `jax` may be added) with
   `envc.verify.verify_policy` (level 4): returns, lengths and actions must be identical. The
   same check from the command line: `PPO_TCG_PARAMS=PATH envc verify specs/tcg.envspec
   --targets python,rust --policy examples/ppo_tcg.py:policy`.

Training, the environment-only timing and both evaluations are one compiled program (a
traced mode switches the policy and the learning), so the TCG's step compiles once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "tcg.envspec"
DEFAULT_PARAMS = ROOT / "build" / "ppo_tcg" / "params.msgpack"
AGENT = 0  # the agent's seat
MAX_OPPONENT_MOVES = 400  # a bound on one opponent turn inside the step (a TCG turn is a few actions)


# ------------------------------------------------------------------ network

def network(num_actions: int, hidden: int = 256):
    import flax.linen as nn

    class ActorCritic(nn.Module):
        """Two tanh MLPs (PureJaxRL's discrete actor-critic): masked logits and a value."""

        @nn.compact
        def __call__(self, obs, mask):
            x = features(obs)
            a = nn.tanh(nn.Dense(hidden, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
            a = nn.tanh(nn.Dense(hidden, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(a))
            logits = nn.Dense(num_actions, kernel_init=nn.initializers.orthogonal(0.01))(a)
            v = nn.tanh(nn.Dense(hidden, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
            v = nn.tanh(nn.Dense(hidden, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(v))
            value = nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0))(v)
            return jnp.where(mask, logits, -1e9), jnp.squeeze(value, -1)

    return ActorCritic()


def features(obs):
    """The spec's integer observation (int16 counts, HP, ids) as floats of moderate size."""
    x = jnp.asarray(obs, jnp.float32)
    return jnp.sign(x) * jnp.log1p(jnp.abs(x))


# ------------------------------------------------------------------ the environment, seat 0 vs random

class VsRandom:
    """The generated TCG module with the random opponent and the auto-reset folded into one
    `step`, built around a single `lax.while_loop` that holds the only call of the spec's `step`
    (and one of its `init`), so that the TCG compiles once per program:
    - iteration 1 plays the agent's action;
    - later iterations play uniformly random legal moves while the opponent is to move;
    - when the game has ended, one iteration swaps in a fresh game (drawn once per call), whose
      opening moves the opponent then plays if it starts.
    The returned state always waits for the agent (or the loop met `MAX_OPPONENT_MOVES`).
    `start(keys)` gives states marked finished, so that the first `step` starts the first game
    through the same code (that first transition is a dummy one: done, reward 0)."""

    def __init__(self, env):
        self.env = env

    def start(self, key):
        return self.env.init(key).replace(terminated=jnp.bool_(True))

    def step(self, state, action, key):
        """Returns (state, agent's reward, the game ended, environment steps played)."""
        env = self.env
        k_init, key = jax.random.split(key)
        fresh = env.init(k_init)

        def finished(s):
            return s.terminated | s.truncated

        def cond(c):
            s, _, n, acted, swapped, _ = c
            opponent = ~finished(s) & (s.current_player != AGENT)
            return (n < MAX_OPPONENT_MOVES) & (~acted | opponent | (finished(s) & ~swapped))

        def body(c):
            s, k, n, acted, swapped, reward = c
            k, sub = jax.random.split(k)
            swap = finished(s) & ~swapped & acted
            a = jnp.where(acted, env.random_legal_action(sub, s), action)
            stepped = env.step(s, a)
            reward = reward + jnp.where(swap | swapped, 0.0, stepped.rewards[AGENT])
            s = jax.tree_util.tree_map(lambda x, y: jnp.where(swap, x, y), fresh, stepped)
            return s, k, n + 1, jnp.bool_(True), swapped | swap, reward

        init = (state, key, jnp.int32(0), jnp.bool_(False), jnp.bool_(False), jnp.float32(0.0))
        state, _, n, _, swapped, reward = jax.lax.while_loop(cond, body, init)
        return state, reward, swapped, n - swapped.astype(jnp.int32)


# ------------------------------------------------------------------ PPO

TRAIN, RANDOM, GREEDY = 0, 1, 2  # what a call of the compiled chunk does (one program for all three)


def make_train(env, cfg):
    """(`init(key) -> carry`, `chunk(carry, mode) -> (carry, per-step records)`, game, net).

    `chunk` runs `cfg.updates_per_call` iterations of `cfg.num_steps` steps of every
    environment. `mode` (a traced scalar: one compiled program, so the TCG's step compiles
    once): TRAIN samples from the policy and runs a PPO update after each iteration; RANDOM
    plays uniformly random legal moves and learns nothing (the environment alone: timed for
    the environment's share, and the random baseline of the evaluation); GREEDY plays the argmax
    of the masked logits and learns nothing (the evaluation). Records per step and environment:
    the agent's reward, whether a game ended, the agent's deck in that game and the environment
    steps played (the opponent's included)."""
    import optax

    game = VsRandom(env)
    net = network(env.NUM_ACTIONS)
    n_envs, n_steps = cfg.num_envs, cfg.num_steps
    batch = n_envs * n_steps
    minibatch = batch // cfg.minibatches
    total_updates = cfg.updates

    def lr(count):
        frac = 1.0 - (count // (cfg.minibatches * cfg.epochs)) / total_updates
        return cfg.lr * jnp.maximum(frac, 0.0)

    tx = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(lr, eps=1e-5))

    def init(key):
        k_net, k_env, key = jax.random.split(key, 3)
        obs0 = jnp.zeros((1,) + env.OBSERVATION_SHAPE, jnp.int16)
        params = net.init(k_net, obs0, jnp.ones((1, env.NUM_ACTIONS), bool))
        state = jax.jit(jax.vmap(game.start))(jax.random.split(k_env, n_envs))
        return params, tx.init(params), state, key

    def act(params, state, key, mode):
        def random(_):
            noise = jax.random.uniform(key, state.legal_action_mask.shape)
            action = jnp.argmax(jnp.where(state.legal_action_mask, noise, -1.0), axis=-1)
            return action, jnp.zeros(n_envs), jnp.zeros(n_envs)

        def policy(_):
            logits, value = net.apply(params, state.observation, state.legal_action_mask)
            action = jnp.where(mode == GREEDY, jnp.argmax(logits, axis=-1), jax.random.categorical(key, logits))
            logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], 1)[:, 0]
            return action, logp, value

        return jax.lax.cond(mode == RANDOM, random, policy, None)

    def rollout(params, state, key, mode):
        def one(carry, _):
            state, key = carry
            key, k_act, k_env = jax.random.split(key, 3)
            action, logp, value = act(params, state, k_act, mode)
            nxt, reward, done, played = jax.vmap(game.step)(state, action, jax.random.split(k_env, n_envs))
            real = done & (state._step_count > 0)  # not the dummy first step of `VsRandom.start`
            step = (state.observation, state.legal_action_mask, action, logp, value, reward, done)
            record = (reward, real, state._x["decks"][:, AGENT], played)
            return (nxt, key), (step, record)

        (state, key), (traj, records) = jax.lax.scan(one, (state, key), None, length=n_steps)
        return state, key, traj, records

    def learn(params, opt, state, traj, key):
        obs, mask, action, logp, value, reward, done = traj
        _, last_value = net.apply(params, state.observation, state.legal_action_mask)

        def gae(carry, t):
            adv, next_value = carry
            r, d, v = t
            delta = r + cfg.gamma * next_value * (1 - d) - v
            adv = delta + cfg.gamma * cfg.gae_lambda * (1 - d) * adv
            return (adv, v), adv

        _, advantages = jax.lax.scan(gae, (jnp.zeros_like(last_value), last_value),
                                     (reward, done.astype(jnp.float32), value), reverse=True)
        targets = advantages + value

        def loss_fn(params, mb):
            o, m, a, old_logp, old_v, adv, tgt = mb
            logits, v = net.apply(params, o, m)
            logp_all = jax.nn.log_softmax(logits)
            new_logp = jnp.take_along_axis(logp_all, a[:, None], 1)[:, 0]
            v_clipped = old_v + jnp.clip(v - old_v, -cfg.clip, cfg.clip)
            v_loss = 0.5 * jnp.maximum((v - tgt) ** 2, (v_clipped - tgt) ** 2).mean()
            ratio = jnp.exp(new_logp - old_logp)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - cfg.clip, 1 + cfg.clip) * adv).mean()
            probs = jnp.exp(logp_all)
            entropy = -jnp.sum(jnp.where(m, probs * logp_all, 0.0), axis=-1).mean()
            return pg + cfg.vf_coef * v_loss - cfg.ent_coef * entropy, entropy

        data = jax.tree_util.tree_map(lambda x: x.reshape((batch,) + x.shape[2:]),
                                      (obs, mask, action, logp, value, advantages, targets))

        def epoch(carry, _):
            params, opt, key = carry
            key, k = jax.random.split(key)
            perm = jax.random.permutation(k, batch)
            shuffled = jax.tree_util.tree_map(lambda x: x[perm].reshape((cfg.minibatches, minibatch) + x.shape[1:]),
                                              data)

            def mb_step(carry, mb):
                params, opt = carry
                (_, entropy), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, mb)
                updates, opt = tx.update(grads, opt, params)
                return (optax.apply_updates(params, updates), opt), entropy

            (params, opt), entropy = jax.lax.scan(mb_step, (params, opt), shuffled)
            return (params, opt, key), entropy

        (params, opt, _), entropy = jax.lax.scan(epoch, (params, opt, key), None, length=cfg.epochs)
        return params, opt, entropy.mean()

    def iteration(carry, mode):
        params, opt, state, key = carry
        state, key, traj, records = rollout(params, state, key, mode)
        key, k_learn = jax.random.split(key)
        params, opt, entropy = jax.lax.cond(mode == TRAIN, lambda a: learn(*a),
                                            lambda a: (a[0], a[1], jnp.float32(0.0)),
                                            (params, opt, state, traj, k_learn))
        return (params, opt, state, key), (records, entropy)

    def chunk(carry, mode):
        return jax.lax.scan(lambda c, _: iteration(c, mode), carry, None, length=cfg.updates_per_call)

    return init, chunk, game, net


# ------------------------------------------------------------------ evaluation

def games(records, n_envs: int, wanted: int, counted: np.ndarray, out: list) -> None:
    """Collect finished games from a chunk's records, unbiased by game length: environment e's
    k-th finished game has id k * n_envs + e, and only ids < `wanted` count (as `envc run`).
    `counted[e]`: games environment e finished so far; `out` gets (id, deck, result)."""
    (reward, real, deck, _), _ = records
    reward, real, deck = (np.asarray(x).reshape(-1, n_envs) for x in (reward, real, deck))
    for t, e in zip(*np.nonzero(real)):
        gid = counted[e] * n_envs + e
        counted[e] += 1
        if gid < wanted:
            out.append((gid, int(deck[t, e]), int(np.sign(reward[t, e]))))


def evaluate(chunk, carry, fresh, mode: int, n_envs: int, episodes: int) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Play `mode` (GREEDY or RANDOM) from the new games `fresh` (`VsRandom.start` states) with
    `carry`'s parameters until `episodes` games by id have finished. Returns (agent deck per
    game, result per game: +1 win, 0 draw, -1 loss, ordered by id, the carry)."""
    carry = (carry[0], carry[1], fresh, carry[3])
    counted = np.zeros(n_envs, np.int64)
    out: list = []
    needed = np.array([len(range(e, episodes, n_envs)) for e in range(n_envs)])
    while (counted < needed).any():
        carry, records = chunk(carry, jnp.int32(mode))
        games(records, n_envs, episodes, counted, out)
    out.sort()
    return np.array([d for _, d, _ in out]), np.array([r for _, _, r in out]), carry


def deck_names():
    from envc.compiler.check import load

    table = next(t for t in load(str(SPEC)).tables if t.name == "Deck")
    return list(table.labels)


def report_eval(title: str, decks: np.ndarray, result: np.ndarray, names: list[str]) -> dict:
    print(f"\n{title}")
    print("| agent deck | games | win | draw | loss | score (win + draw/2) |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = {}
    for d, name in enumerate(names):
        r = result[decks == d]
        if not len(r):
            continue
        win, draw, loss = (r > 0).mean(), (r == 0).mean(), (r < 0).mean()
        rows[name] = (win, draw, loss)
        print(f"| {name} | {len(r)} | {win:.3f} | {draw:.3f} | {loss:.3f} | {win + draw / 2:.3f} |")
    win, draw, loss = (result > 0).mean(), (result == 0).mean(), (result < 0).mean()
    print(f"| all | {len(result)} | {win:.3f} | {draw:.3f} | {loss:.3f} | {win + draw / 2:.3f} |")
    rows["all"] = (win, draw, loss)
    return rows


# ------------------------------------------------------------------ the policy for `envc verify --policy`

_POLICY: dict = {}


def policy(observation, legal_action_mask):
    """The trained greedy policy on numpy batches (argmax of the masked logits): what
    `envc verify SPEC --policy examples/ppo_tcg.py:policy` plays. Parameters from
    `$PPO_TCG_PARAMS` (default build/ppo_tcg/params.msgpack)."""
    if "apply" not in _POLICY:
        from flax import serialization

        path = Path(os.environ.get("PPO_TCG_PARAMS") or DEFAULT_PARAMS)
        mask0 = np.ones((1, legal_action_mask.shape[1]), bool)
        net = network(legal_action_mask.shape[1])
        template = net.init(jax.random.PRNGKey(0), np.zeros((1,) + np.asarray(observation).shape[1:], np.int16), mask0)
        params = serialization.from_bytes(template, path.read_bytes())
        _POLICY["apply"] = jax.jit(lambda o, m: jnp.argmax(net.apply(params, o, m)[0], axis=-1))
    return np.asarray(_POLICY["apply"](np.asarray(observation), np.asarray(legal_action_mask, bool)))


# ------------------------------------------------------------------ main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--updates", type=int, default=96, help="PPO updates")
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--num-steps", type=int, default=64, help="agent steps per environment per update")
    ap.add_argument("--updates-per-call", type=int, default=24, help="updates per jitted call")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--minibatches", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--gamma", type=float, default=0.99)
    ap.add_argument("--gae-lambda", type=float, default=0.95)
    ap.add_argument("--clip", type=float, default=0.2)
    ap.add_argument("--ent-coef", type=float, default=0.01)
    ap.add_argument("--vf-coef", type=float, default=0.5)
    ap.add_argument("--eval-episodes", type=int, default=1000)
    ap.add_argument("--verify-episodes", type=int, default=20, help="level-4 games on python, rust and jax (0: skip)")
    ap.add_argument("--verify-targets", default="python,rust", help="`jax` may be added (one more compile)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(DEFAULT_PARAMS), help="where the trained parameters are saved")
    cfg = ap.parse_args(argv)
    if cfg.updates_per_call <= 0 or cfg.updates % cfg.updates_per_call:
        ap.error("--updates must be a positive multiple of --updates-per-call")
    if (cfg.num_envs * cfg.num_steps) % cfg.minibatches:
        ap.error("--num-envs x --num-steps must be a multiple of --minibatches")

    sys.path.insert(0, str(ROOT))
    from flax import serialization

    from envc.compiler.check import load
    from envc.jax_cache import enable
    from envc.verify import load_jax, load_rust, verify_policy

    enable()
    module = load(str(SPEC))
    env = load_jax(module)
    init, chunk, game, net = make_train(env, cfg)
    print(f"PPO on {env.ENV_ID} ({env.NUM_ACTIONS} actions, observation {env.OBSERVATION_SHAPE}) vs random play; "
          f"{cfg.num_envs} envs x {cfg.num_steps} steps x {cfg.updates} updates = "
          f"{cfg.num_envs * cfg.num_steps * cfg.updates:,} agent steps; jax {jax.__version__} "
          f"on {jax.devices()[0].platform}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}", flush=True)

    start = time.perf_counter()
    carry = init(jax.random.PRNGKey(cfg.seed))
    compiled = jax.jit(chunk, donate_argnums=0).lower(carry, jnp.int32(TRAIN)).compile()
    compile_s = time.perf_counter() - start
    print(f"compile (one program: PPO iterations, the environment alone, evaluation): {compile_s:.1f} s", flush=True)

    train_s = 0.0
    agent_steps = env_steps = 0
    calls = cfg.updates // cfg.updates_per_call
    for k in range(calls):
        t0 = time.perf_counter()
        carry, (records, entropy) = compiled(carry, jnp.int32(TRAIN))
        reward, real, _, played = jax.device_get(records)
        train_s += time.perf_counter() - t0
        agent_steps += cfg.num_envs * cfg.num_steps * cfg.updates_per_call
        env_steps += int(played.sum())
        ep = int(real.sum())
        wins, losses = int((real & (reward > 0)).sum()), int((real & (reward < 0)).sum())
        print(f"updates {(k + 1) * cfg.updates_per_call:>5}: agent steps {agent_steps:>10,}, games {ep:>5} "
              f"(win {wins / max(ep, 1):.3f}, loss {losses / max(ep, 1):.3f}), entropy "
              f"{float(np.mean(entropy)):.3f}, {agent_steps / train_s:,.0f} agent SPS", flush=True)

    # the environment alone: the same program and steps with random actions and no learning
    t0 = time.perf_counter()
    carry, (records, _) = compiled(carry, jnp.int32(RANDOM))
    alone_played = int(jax.device_get(records[3]).sum())
    env_s = time.perf_counter() - t0
    per_call = train_s / calls
    print(f"\ntraining: {agent_steps:,} agent steps ({env_steps:,} environment steps with the opponent's) in "
          f"{train_s:.1f} s: {agent_steps / train_s:,.0f} agent SPS, {env_steps / train_s:,.0f} environment SPS "
          f"(compile {compile_s:.1f} s excluded; load average {os.getloadavg()[0]:.2f})")
    print(f"time in the environment: {env_s:.2f} s of {per_call:.2f} s per call of {cfg.updates_per_call} updates "
          f"= {100 * env_s / per_call:.0f}% (the same steps with random actions and no learning, timed alone: "
          f"{alone_played / env_s:,.0f} environment SPS)")

    params = carry[0]
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(serialization.to_bytes(params))
    print(f"parameters saved to {out}")

    names = deck_names()
    t0 = time.perf_counter()
    restart = jax.jit(jax.vmap(game.start))
    fresh = [restart(jax.random.split(jax.random.PRNGKey(cfg.seed + 1000), cfg.num_envs)) for _ in range(2)]
    decks, result, carry = evaluate(compiled, carry, fresh[0], GREEDY, cfg.num_envs, cfg.eval_episodes)
    trained = report_eval(f"greedy PPO policy (seat 0) vs random play, {cfg.eval_episodes} games "
                          f"after {agent_steps:,} agent steps", decks, result, names)
    decks, result, carry = evaluate(compiled, carry, fresh[1], RANDOM, cfg.num_envs, cfg.eval_episodes)
    report_eval(f"baseline: random play (seat 0) vs random play, {cfg.eval_episodes} games", decks, result, names)
    print(f"(evaluation: {time.perf_counter() - t0:.1f} s)")
    beats = all(w > lost for name, (w, _, lost) in trained.items())
    print(f"beats random play on every deck (win rate > loss rate): {'yes' if beats else 'no'}")

    if cfg.verify_episodes:
        os.environ["PPO_TCG_PARAMS"] = str(out)
        targets = [t for t in cfg.verify_targets.split(",") if t and t != "python"]
        rust = load_rust(module) if "rust" in targets else None
        t0 = time.perf_counter()
        report = verify_policy(module, ["python", *targets], policy, episodes=cfg.verify_episodes, seed=cfg.seed,
                               max_steps=2000, jax_env=env, rust_env=rust)
        lengths = report.runs["python"].lengths
        print(f"\nlevel 4 (policy transfer): {cfg.verify_episodes} seeded self-play games of the greedy policy on "
              f"python, {', '.join(targets)} ({lengths.sum():,} steps, {time.perf_counter() - t0:.1f} s): "
              + ("identical returns, lengths and actions" if report.ok else "DIFFERENT"))
        for d in report.divergences[:3]:
            print(d.render())
        if not report.ok:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
