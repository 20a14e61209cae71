"""Generated JAX modules (their `env.py` files) side by side: cold compile, identical outputs, SPS.

    git show c3e307b:tests/golden/tcg/jax/env.py > /tmp/before.py
    python bench/module_ab.py before=/tmp/before.py after=tests/golden/tcg/jax/env.py \
        [--batch 1024] [--steps 32] [--repeats 5] [--rollout rollout_joint] [--user-loop]

Each module is imported from its file (a generated `env.py` is self-contained), and its
`rollout` (or `--rollout rollout_joint` for a simultaneous spec) is jitted with
`reset_bound=batch` (`init` on every environment every step, the reference path of
tests/test_rollout_reset.py; `--reset-bound 0` runs the module's default instead), JAX's
persistent compilation cache off, so each compile is cold: the script prints its trace, lower
and XLA seconds (`jit(f).trace`, `.lower()`, `.compile()`).
Then each module's outputs for the same key are compared with the first module's, leaf by leaf
(states, rewards, done: a lowering change must not change them), and the modules are timed
alternately, `--repeats` rounds (drift in the machine's speed is shared); SPS is the median.
Unlike bench/golden_ab.py (a spec's golden at a commit against the working tree), any number of
modules, from any source (a scratch variant of the lowering included). Quote `uptime` with the
figures.

`--user-loop` times each module's `Env()` in the user's own loop instead (bench/harness.py's
`pgx_api_loop`: `jax.vmap(init)` on split keys, `jax.vmap(step)`, the random legal policy, a
select of a fresh `init` where an episode ended), the loop `bench/jax_vs_peers.py --user-loop`
times beside the peers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from harness import pgx_api_loop
from parts_ab import load_module  # bench/ is this script's folder, first on sys.path

from envc import jax_cache
from envc.jax_cache import compile_stages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="+", help="NAME=path/to/env.py")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rollout", default="rollout", help="the module's rollout function (rollout_joint: simultaneous)")
    ap.add_argument("--reset-bound", type=int, default=None,
                    help="the rollout's reset_bound (default: the batch, init on every environment every step; "
                         "0: the module's own default, the compacted reset and, for the TCG, each kind on its rows)")
    ap.add_argument("--user-loop", action="store_true",
                    help="time each module's Env() in bench/harness.py's user loop instead of its rollout")
    args = ap.parse_args(argv)
    jax_cache.disable()  # every compile cold, the generated modules' own cache included
    import jax
    import numpy as np

    key = jax.random.PRNGKey(0)
    compiled = {}
    for item in args.modules:
        name, _, path = item.partition("=")
        module = load_module(f"module_ab_{name}", path)
        jax.clear_caches()  # each module's compile cold alike (envc.bench.compare_rollouts)
        if args.user_loop:
            f = jax.jit(pgx_api_loop(module.Env()), static_argnums=(1, 2))
            compiled[name], (trace_s, lower_s, xla_s) = compile_stages(f, key, args.steps, args.batch)
        else:
            f = jax.jit(getattr(module, args.rollout), static_argnums=(1, 2, 3))
            bound = args.batch if args.reset_bound is None else (args.reset_bound or None)
            compiled[name], (trace_s, lower_s, xla_s) = compile_stages(f, key, args.steps, args.batch, bound)
        print(f"{name}: compile {trace_s + lower_s + xla_s:.1f} s (trace {trace_s:.1f}, lower {lower_s:.1f}, "
              f"XLA {xla_s:.1f})", flush=True)
    outputs = {n: [np.asarray(x) for x in jax.tree_util.tree_leaves(c(key))] for n, c in compiled.items()}
    first = next(iter(outputs.values()))
    for name, leaves in outputs.items():
        same = len(leaves) == len(first) and all(np.array_equal(a, b) for a, b in zip(leaves, first))
        print(f"{name}: outputs identical to the first module's: {same}")
    runs: dict[str, list[float]] = {n: [] for n in compiled}
    for _ in range(args.repeats):
        for name, c in compiled.items():
            t0 = time.perf_counter()
            jax.block_until_ready(c(key))
            runs[name].append(args.batch * args.steps / (time.perf_counter() - t0))
    base = statistics.median(next(iter(runs.values())))
    for name, sps in runs.items():
        median = statistics.median(sps)
        print(f"{name}: median SPS {median:,.0f} ({median / base:.2f}x the first); runs {[round(x) for x in sps]}")
    print("load average", os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
