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
        _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k0, batch), params)

        def body(carry, _):
            state, key = carry
            key, k_act, k_step = jax.random.split(key, 3)
            logits = jnp.zeros((batch, env.num_actions))  # every action is legal
            actions = jax.vmap(jax.random.categorical)(jax.random.split(k_act, batch), logits)
            _, state, reward, terminated, truncated, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_step, batch), state, actions, params)
            return (state, key), (reward, terminated | truncated)

        (state, _), (rewards, done) = jax.lax.scan(body, (state, key), None, length=n_steps)
        return state, rewards, done

    return rollout


PAIRS = {
    "tictactoe": ("Pgx tic_tac_toe", lambda: pgx_rollout("tic_tac_toe")),
    "connect4": ("Pgx connect_four", lambda: pgx_rollout("connect_four")),
    "othello": ("Pgx othello", lambda: pgx_rollout("othello")),
    "cartpole": ("gymnax CartPole-v1", lambda: gymnax_rollout("CartPole-v1")),
    "acrobot": ("gymnax Acrobot-v1", lambda: gymnax_rollout("Acrobot-v1")),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", default="1,64,1024,8192")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", action="append", choices=sorted(PAIRS))
    args = ap.parse_args()
    batches = [int(b) for b in args.batch.split(",")]
    device = jax.devices()[0]
    print(f"# device: {device.platform} ({device.device_kind}), {os.cpu_count()} cpus, {platform.processor() or platform.machine()}, "
          f"jax {jax.__version__}")
    print("| env | peer | batch | steps/scan | envc SPS | peer SPS | ratio envc/peer | envc compile (s) | peer compile (s) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.only or sorted(PAIRS):
        peer_name, make_peer = PAIRS[name]
        env = load_jax(load(os.path.join(ROOT, "specs", f"{name}.envspec")))
        peer = make_peer()
        for b in batches:
            n = steps_for(b)
            ours, theirs = compare_rollouts((name, env.rollout), (peer_name, peer), b, n, args.repeats)
            print(f"| {name} | {peer_name} | {b} | {n} | {ours.sps:,.0f} | {theirs.sps:,.0f} | "
                  f"{ours.sps / theirs.sps:.2f} | {ours.compile_s:.2f} | {theirs.compile_s:.2f} |", flush=True)


if __name__ == "__main__":
    main()
