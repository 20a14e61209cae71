"""The generated JAX environments beside their hand-written peers, in one process.

    python bench/jax_vs_peers.py [--batch 1,64,1024,8192] [--repeats 5] [--only tictactoe]

Pairs: specs/tictactoe.envspec vs Pgx `tic_tac_toe`, specs/connect4.envspec vs Pgx
`connect_four`, specs/othello.envspec vs Pgx `othello`, specs/cartpole.envspec vs gymnax
`CartPole-v1`, specs/acrobot.envspec vs gymnax `Acrobot-v1`. Both sides run the same
rollout: `batch` environments, the uniformly random legal policy (jax.random.categorical
over the legal-action mask, one key per environment), auto-reset on episode end, all
fused into one jitted `lax.scan`. Both are compiled first, then timed alternately (envc,
peer, envc, peer, ...) so that drift in the machine's speed cancels; SPS is the median of
`--repeats` calls; the ratio is envc SPS / peer SPS from the same run (> 1: envc faster).

The reset is the same on both sides too: envc's `rollout` runs with `reset_bound=batch`
(`full_reset`), a fresh `init` for every environment every step, selected where the episode
ended, which is what Pgx's `auto_reset` (a `lax.cond` under `vmap`, so both sides computed) and
gymnax's auto-resetting `step` do. envc's shipped default (issue 19) resets at batch level
instead, `init` on at most batch // 16 finished rows; `--compact-reset` times that default
against the same peers, which then run a different, costlier reset: its ratios are labelled so.

`--user-loop` (issue 18) times instead the loop a user writes from the public API, as Pgx's
README shows, one harness for both sides (`user_loop`): `jax.vmap(init)` on split keys,
`jax.vmap(step)`, and a select-based reset (`jnp.where(done, fresh, state)` over every leaf,
the fresh states from `jax.vmap(init)` on new keys, every step) in one jitted `lax.scan`. envc's
side is the generated `Env().init` / `Env().step` (Pgx's API); a Pgx peer's its `init` /
`step`; a gymnax peer's `reset_env` / `step_env` (its own `step` already auto-resets).

A gymnax peer's observation is carried through the loop in both modes, as gymnax's own
rollout does (gymnax/experimental/rollout.py): it is part of envc's and Pgx's states, and a
gymnax observation the harness dropped was dead code XLA removed, work only one side did
(until 2026-12-02: the cartpole and acrobot rows of bench/RESULTS.md before that date).

The compile columns are cold compiles on both sides (trace, lower and XLA compile of the
jitted rollout, `envc.jax_cache.compile_stages`): JAX's persistent compilation cache is off
for the whole run, for envc's generated modules and the peers alike, so that neither side
reads a program compiled by an earlier run (issue 18: "compile time within 1.5x the peer's").
`--jax-cache` keeps the cache (a repeat run's columns are then cache hits; until 2026-12-03
every run of this script used it). The ratio column `compile envc/peer` is < 1 where envc
compiles faster.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import jax
import jax.numpy as jnp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from harness import gymnax_user_loop, pgx_api_loop  # noqa: E402  (bench/harness.py: jax alone, also run on a lent GPU)

from envc import jax_cache  # noqa: E402
from envc.bench import compare_rollouts, steps_for  # noqa: E402
from envc.compiler.check import load  # noqa: E402
from envc.verify import load_jax  # noqa: E402


def pgx_rollout(env_id: str):
    import pgx
    from pgx.experimental import auto_reset

    env = pgx.make(env_id)
    step = auto_reset(env.step, env.init)

    def rollout(key, n_steps, batch):
        key, k0 = jax.random.split(key)
        state = jax.vmap(env.init)(jax.random.split(k0, batch))

        def body(carry, _):
            state, key = carry
            key, k_act, k_reset = jax.random.split(key, 3)
            logits = jnp.where(state.legal_action_mask, 0.0, -jnp.inf)
            actions = jax.vmap(jax.random.categorical)(jax.random.split(k_act, batch), logits)
            state = jax.vmap(step)(state, actions, jax.random.split(k_reset, batch))
            return (state, key), (state.rewards, state.terminated)

        (state, _), (rewards, done) = jax.lax.scan(body, (state, key), None, length=n_steps)
        return state, rewards, done

    return rollout


def gymnax_rollout(env_id: str):
    import gymnax

    env, params = gymnax.make(env_id)

    def rollout(key, n_steps, batch):
        key, k0 = jax.random.split(key)
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k0, batch), params)

        # The observation rides in the carry, as in gymnax's own loop (gymnax/experimental/
        # rollout.py carries `next_obs`): envc's and Pgx's states hold theirs, and a dropped
        # one is dead code that XLA removes, a step the peer would then skip.
        def body(carry, _):
            state, obs, key = carry
            key, k_act, k_step = jax.random.split(key, 3)
            logits = jnp.zeros((batch, env.num_actions))  # every action is legal
            actions = jax.vmap(jax.random.categorical)(jax.random.split(k_act, batch), logits)
            obs, state, reward, terminated, truncated, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_step, batch), state, actions, params)
            return (state, obs, key), (reward, terminated | truncated)

        (state, obs, _), (rewards, done) = jax.lax.scan(body, (state, obs, key), None, length=n_steps)
        return (state, obs), rewards, done

    return rollout


def full_reset(rollout):
    """envc's `rollout` with `reset_bound=batch`: `init` on every environment every step, the
    reset the peers' harnesses run (not the batch-level compacted one, issue 19)."""
    def run(key, n_steps, batch):
        return rollout(key, n_steps, batch, reset_bound=batch)

    return run


def pgx_user_loop(env_id: str):
    import pgx

    return pgx_api_loop(pgx.make(env_id))


PAIRS = {
    "tictactoe": ("Pgx tic_tac_toe", lambda: pgx_rollout("tic_tac_toe")),
    "connect4": ("Pgx connect_four", lambda: pgx_rollout("connect_four")),
    "othello": ("Pgx othello", lambda: pgx_rollout("othello")),
    "cartpole": ("gymnax CartPole-v1", lambda: gymnax_rollout("CartPole-v1")),
    "acrobot": ("gymnax Acrobot-v1", lambda: gymnax_rollout("Acrobot-v1")),
}

USER_LOOPS = {  # the peer's side of `--user-loop`, by pair
    "tictactoe": lambda: pgx_user_loop("tic_tac_toe"),
    "connect4": lambda: pgx_user_loop("connect_four"),
    "othello": lambda: pgx_user_loop("othello"),
    "cartpole": lambda: gymnax_user_loop("CartPole-v1"),
    "acrobot": lambda: gymnax_user_loop("Acrobot-v1"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", default="1,64,1024,8192")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", action="append", choices=sorted(PAIRS))
    ap.add_argument("--user-loop", action="store_true",
                    help="time the user's own vmap(init)/vmap(step)/select loop on both sides, not the rollouts")
    ap.add_argument("--compact-reset", action="store_true",
                    help="envc's rollout with its default batch-level reset (init on finished rows only), "
                         "which the peers' harnesses do not have; default: the per-environment reset on both sides")
    ap.add_argument("--jax-cache", action="store_true",
                    help="keep JAX's persistent compilation cache (compile columns of a repeat run are then cache hits, "
                         "not cold compiles); default: off for both sides")
    args = ap.parse_args()
    if not args.jax_cache:
        jax_cache.disable()  # for the peers and for envc's generated modules alike
    batches = [int(b) for b in args.batch.split(",")]
    device = jax.devices()[0]
    print(f"# device: {device.platform} ({device.device_kind}), {os.cpu_count()} cpus, {platform.processor() or platform.machine()}, "
          f"jax {jax.__version__}")
    mode = "user loop (vmap(init), vmap(step), select reset)" if args.user_loop else (
        "rollout, envc's compacted batch-level reset against the peer's per-environment reset (not one harness)"
        if args.compact_reset else "rollout, per-environment reset on both sides")
    compiles = "persistent cache on (a repeat run's compiles are cache hits)" if args.jax_cache else "cold"
    print(f"# mode: {mode}, compiles: {compiles}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| env | peer | batch | steps/scan | envc SPS | peer SPS | ratio envc/peer | envc compile (s) | peer compile (s) "
          "| compile envc/peer |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.only or sorted(PAIRS):
        peer_name, make_peer = PAIRS[name]
        env = load_jax(load(os.path.join(ROOT, "specs", f"{name}.envspec")))
        peer = USER_LOOPS[name]() if args.user_loop else make_peer()
        mine = pgx_api_loop(env.Env()) if args.user_loop else env.rollout if args.compact_reset else full_reset(env.rollout)
        for b in batches:
            n = steps_for(b)
            ours, theirs = compare_rollouts((name, mine), (peer_name, peer), b, n, args.repeats)
            print(f"| {name} | {peer_name} | {b} | {n} | {ours.sps:,.0f} | {theirs.sps:,.0f} | "
                  f"{ours.sps / theirs.sps:.2f} | {ours.compile_s:.2f} | {theirs.compile_s:.2f} | "
                  f"{ours.compile_s / theirs.compile_s:.2f} |", flush=True)


if __name__ == "__main__":
    main()
