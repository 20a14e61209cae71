"""PPO with action masking on the compiled TCG (specs/tcg.envspec), PureJaxRL-style.

    python examples/ppo_tcg.py                       # full size (see bench/RESULTS.md, "Train on it")
    python examples/ppo_tcg.py --updates 200 --num-envs 8 --num-steps 16 --eval-episodes 100   # CI size

What it does, all in JAX on the generated environment (`envc.verify.load_jax`):
1. the agent plays seat 0 against the uniformly random legal policy: after each agent action
   the opponent's moves are played inside the environment step (`lax.while_loop`) until the
   agent is to move again or the game ends; the reward is the agent's (+1 win, -1 loss, 0 draw);
   finished games restart at once (auto-reset), with the opponent's opening moves if it starts;
   the deck pair of each game is drawn by the spec's `init` (all 25 match-ups of the five decks);
2. PPO (Schulman et al. 2017) as in PureJaxRL's `ppo.py` (Lu et al. 2022): an actor-critic MLP
   (flax), logits of illegal actions set to -1e9 (the mask is the state's
   `legal_action_mask`), GAE, clipped surrogate, several epochs of minibatches (optax Adam,
   gradient clipping, linear learning-rate decay); `--updates-per-call` updates are one jitted
   `lax.scan`;
3. it reports the agent steps per second of training (compile excluded) and the share of an
   update's time spent in the environment (the same number of environment steps with random
   actions, timed alone, over the time of an update);
4. it evaluates the greedy policy (argmax of the masked logits) against random play: win, draw
   and loss rates per agent deck, and, as a baseline, random play against random play;
5. it saves the parameters (`--out`, flax msgpack) and checks policy transfer: the greedy
   policy (`policy` below) plays `--verify-episodes` seeded games on the interpreter, Rust
   and JAX (`envc.verify.verify_policy`, level 4), which must be identical. The same check from
   the command line: `PPO_TCG_PARAMS=PATH envc verify specs/tcg.envspec --targets python,rust,jax
   --policy examples/ppo_tcg.py:policy`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial
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

def make_train(env, cfg):
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

    def rollout(params, state, key):
        def one(carry, _):
            state, key = carry
            key, k_act, k_env = jax.random.split(key, 3)
            logits, value = net.apply(params, state.observation, state.legal_action_mask)
            action = jax.random.categorical(k_act, logits)
            logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], 1)[:, 0]
            nxt, reward, done, played = jax.vmap(game.step)(state, action, jax.random.split(k_env, n_envs))
            step = (state.observation, state.legal_action_mask, action, logp, value, reward, done)
            return (nxt, key), (step, jnp.sum(played))

        (state, key), (traj, played) = jax.lax.scan(one, (state, key), None, length=n_steps)
        return state, key, traj, jnp.sum(played)

    def update(carry, _):
        params, opt, state, key = carry
        state, key, traj, played = rollout(params, state, key)
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
            return pg + cfg.vf_coef * v_loss - cfg.ent_coef * entropy, (pg, v_loss, entropy)

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
                (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, mb)
                updates, opt = tx.update(grads, opt, params)
                return (optax.apply_updates(params, updates), opt), (loss, *aux)

            (params, opt), losses = jax.lax.scan(mb_step, (params, opt), shuffled)
            return (params, opt, key), losses

        (params, opt, key), losses = jax.lax.scan(epoch, (params, opt, key), None, length=cfg.epochs)
        ended = done.sum()
        metrics = {"episodes": ended, "wins": jnp.sum(done & (reward > 0)), "losses": jnp.sum(done & (reward < 0)),
                   "env_steps": played, "loss": losses[0].mean(), "entropy": losses[3].mean()}
        return (params, opt, state, key), metrics

    def train_chunk(carry):
        return jax.lax.scan(update, carry, None, length=cfg.updates_per_call)

    def env_only(state, key):
        """The environment alone, as much as one update plays: random legal agent actions."""
        def one(carry, _):
            state, key = carry
            key, k_act, k_env = jax.random.split(key, 3)
            action = jax.vmap(env.random_legal_action)(jax.random.split(k_act, n_envs), state)
            state, _, _, played = jax.vmap(game.step)(state, action, jax.random.split(k_env, n_envs))
            return (state, key), jnp.sum(played)

        (state, key), played = jax.lax.scan(one, (state, key), None, length=n_steps * cfg.updates_per_call)
        return state, key, jnp.sum(played)

    return init, train_chunk, env_only, game, net


# ------------------------------------------------------------------ evaluation

def make_evaluate(env, game, net, episodes: int, max_steps: int = 2000):
    """One compiled program for both evaluations: `episodes` games of seat 0 against random play,
    seat 0 playing greedily with `params` (`greedy` true) or uniformly at random. Each
    environment plays one game (after the dummy first step of `VsRandom.start`). Returns
    (agent deck per game, result per game: +1 win, 0 draw, -1 loss, -2 unfinished)."""

    @jax.jit
    def run(params, greedy, key):
        k_start, key = jax.random.split(key)
        state = jax.vmap(game.start)(jax.random.split(k_start, episodes))

        def cond(c):
            _, _, _, result, _, n = c
            return (result == -2).any() & (n < max_steps)

        def body(c):
            state, key, decks, result, started, n = c
            key, k_act, k_env = jax.random.split(key, 3)
            logits, _ = net.apply(params, state.observation, state.legal_action_mask)
            noise = jax.random.uniform(k_act, logits.shape)
            scores = jnp.where(greedy, logits, jnp.where(state.legal_action_mask, noise, -1.0))
            action = jnp.argmax(scores, axis=-1)
            deck = state._x["decks"][:, AGENT]
            state, reward, done, _ = jax.vmap(game.step)(state, action, jax.random.split(k_env, episodes))
            record = done & started & (result == -2)
            result = jnp.where(record, jnp.sign(reward).astype(jnp.int32), result)
            decks = jnp.where(record, deck, decks)
            return state, key, decks, result, jnp.bool_(True), n + 1

        init = (state, key, jnp.zeros(episodes, jnp.int32), jnp.full(episodes, -2, jnp.int32), jnp.bool_(False),
                jnp.int32(0))
        _, _, decks, result, _, _ = jax.lax.while_loop(cond, body, init)
        return decks, result

    def evaluate(params, greedy: bool, seed: int):
        decks, result = run(params, jnp.bool_(greedy), jax.random.PRNGKey(seed))
        return np.asarray(decks), np.asarray(result)

    return evaluate


def deck_names():
    from envc.compiler.check import load

    table = next(t for t in load(str(SPEC)).tables if t.name == "Deck")
    return list(table.labels)


def report_eval(title: str, decks: np.ndarray, result: np.ndarray, names: list[str]) -> dict:
    print(f"\n{title}")
    print("| agent deck | games | win | draw | loss | score (win + draw/2) |")
    decks, result = decks[result != -2], result[result != -2]  # unfinished games (none expected) left out
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
    ap.add_argument("--updates", type=int, default=1500, help="PPO updates")
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--num-steps", type=int, default=64, help="agent steps per environment per update")
    ap.add_argument("--updates-per-call", type=int, default=0, help="updates per jitted call (0: about 1/10)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--minibatches", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--gamma", type=float, default=0.99)
    ap.add_argument("--gae-lambda", type=float, default=0.95)
    ap.add_argument("--clip", type=float, default=0.2)
    ap.add_argument("--ent-coef", type=float, default=0.01)
    ap.add_argument("--vf-coef", type=float, default=0.5)
    ap.add_argument("--eval-episodes", type=int, default=2000)
    ap.add_argument("--verify-episodes", type=int, default=20, help="level-4 games on python, rust and jax (0: skip)")
    ap.add_argument("--verify-targets", default="python,rust,jax")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(DEFAULT_PARAMS), help="where the trained parameters are saved")
    cfg = ap.parse_args(argv)
    if cfg.updates_per_call <= 0:
        cfg.updates_per_call = max(1, cfg.updates // 10)
    if cfg.updates % cfg.updates_per_call:
        ap.error("--updates must be a multiple of --updates-per-call")
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
    init, train_chunk, env_only, game, net = make_train(env, cfg)
    print(f"PPO on {env.ENV_ID} ({env.NUM_ACTIONS} actions, observation {env.OBSERVATION_SHAPE}) vs random play; "
          f"{cfg.num_envs} envs x {cfg.num_steps} steps x {cfg.updates} updates = "
          f"{cfg.num_envs * cfg.num_steps * cfg.updates:,} agent steps; jax {jax.__version__} "
          f"on {jax.devices()[0].platform}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}", flush=True)

    start = time.perf_counter()
    carry = init(jax.random.PRNGKey(cfg.seed))
    chunk = jax.jit(train_chunk, donate_argnums=0).lower(carry).compile()
    alone = jax.jit(env_only).lower(carry[2], carry[3]).compile()
    compile_s = time.perf_counter() - start
    print(f"compile (PPO update chunk + environment-only rollout): {compile_s:.1f} s", flush=True)

    train_s = 0.0
    totals = {"agent": 0, "env": 0, "episodes": 0, "wins": 0, "losses": 0}
    calls = cfg.updates // cfg.updates_per_call
    for k in range(calls):
        t0 = time.perf_counter()
        carry, m = chunk(carry)
        m = jax.device_get(m)
        train_s += time.perf_counter() - t0
        totals["agent"] += cfg.num_envs * cfg.num_steps * cfg.updates_per_call
        totals["env"] += int(m["env_steps"].sum())
        ep, wins, losses = int(m["episodes"].sum()), int(m["wins"].sum()), int(m["losses"].sum())
        totals["episodes"] += ep
        print(f"updates {(k + 1) * cfg.updates_per_call:>5}: agent steps {totals['agent']:>10,}, episodes {ep:>5} "
              f"(win {wins / max(ep, 1):.3f}, loss {losses / max(ep, 1):.3f}), entropy {float(m['entropy'].mean()):.3f}, "
              f"{totals['agent'] / train_s:,.0f} agent SPS", flush=True)

    # the environment alone, as many steps as one jitted call of updates plays
    state, key = carry[2], carry[3]
    jax.block_until_ready(alone(state, key))
    t0 = time.perf_counter()
    _, _, played = jax.block_until_ready(alone(state, key))
    env_s = time.perf_counter() - t0
    per_call = train_s / calls
    print(f"\ntraining: {totals['agent']:,} agent steps ({totals['env']:,} environment steps with the opponent's) in "
          f"{train_s:.1f} s: {totals['agent'] / train_s:,.0f} agent SPS, {totals['env'] / train_s:,.0f} environment SPS "
          f"(compile {compile_s:.1f} s excluded)")
    print(f"time in the environment: {env_s:.2f} s of {per_call:.2f} s per call of {cfg.updates_per_call} updates "
          f"= {100 * env_s / per_call:.0f}% (the same steps with random actions, timed alone)")

    params = carry[0]
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(serialization.to_bytes(params))
    print(f"parameters saved to {out}")

    names = deck_names()
    evaluate = make_evaluate(env, game, net, cfg.eval_episodes)
    t0 = time.perf_counter()
    decks, result = evaluate(params, True, cfg.seed + 1000)
    trained = report_eval(f"greedy PPO policy (seat 0) vs random play, {cfg.eval_episodes} games "
                          f"after {totals['agent']:,} agent steps", decks, result, names)
    decks, result = evaluate(params, False, cfg.seed + 1000)
    report_eval(f"baseline: random play (seat 0) vs random play, {cfg.eval_episodes} games", decks, result, names)
    print(f"(evaluation, compile included: {time.perf_counter() - t0:.1f} s)")
    beats = all(w > l for name, (w, _, l) in trained.items())
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
