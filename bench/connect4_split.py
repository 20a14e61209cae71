"""Where connect4 loses to Pgx's connect_four (issue 3): plain `step` and `init` timed apart.

    python bench/connect4_split.py [--batch 1024,8192] [--steps 16] [--repeats 7]

Scan-fused random legal play with each side's own `step` and no auto-reset (finished games
stay finished, as `step` leaves them), and `init` alone (steps x batch fresh states), envc's
generated connect4 beside Pgx's, compiled first and timed interleaved
(`envc.bench.compare_rollouts`). Prints SPS (inits per second for `init`) and envc/Pgx.
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from envc.bench import compare_rollouts  # noqa: E402
from envc.compiler.check import load  # noqa: E402
from envc.verify import load_jax  # noqa: E402


def play(init, step, takes_key: bool):
    """A rollout of `step` alone (random legal actions), fused with `lax.scan`."""
    def rollout(key, n_steps, batch):
        key, k0 = jax.random.split(key)
        state = jax.vmap(init)(jax.random.split(k0, batch))

        def body(carry, _):
            state, key = carry
            key, k_act, k_step = jax.random.split(key, 3)
            logits = jnp.where(state.legal_action_mask, 0.0, -jnp.inf)
            actions = jax.vmap(jax.random.categorical)(jax.random.split(k_act, batch), logits)
            if takes_key:
                state = jax.vmap(step)(state, actions, jax.random.split(k_step, batch))
            else:
                state = jax.vmap(step)(state, actions)
            return (state, key), (state.rewards, state.terminated)

        return jax.lax.scan(body, (state, key), None, length=n_steps)
    return rollout


def inits(init):
    """`n_steps * batch` fresh states from one batched `init`."""
    return lambda key, n_steps, batch: (jax.vmap(init)(jax.random.split(key, n_steps * batch)),)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", default="1024,8192")
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    import pgx

    ours = load_jax(load(os.path.join(ROOT, "specs", "connect4.envspec")))
    theirs = pgx.make("connect_four")
    print("| batch | part | envc SPS | Pgx SPS | envc/Pgx |")
    print("|---:|---|---:|---:|---:|")
    for b in [int(x) for x in args.batch.split(",")]:
        for part, a, p in (("step, no auto-reset", play(ours.init, ours.step, False), play(theirs.init, theirs.step, True)),
                           ("init", inits(ours.init), inits(theirs.init))):
            e, q = compare_rollouts(("envc", a), ("pgx", p), b, args.steps, args.repeats)
            print(f"| {b} | {part} | {e.sps:,.0f} | {q.sps:,.0f} | {e.sps / q.sps:.2f} |", flush=True)


if __name__ == "__main__":
    main()
