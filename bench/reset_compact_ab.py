"""Timing and equality (issue 19): the generated rollout's batch-level auto-reset, compacted
(`init` on at most K finished rows, K = `reset_bound`) against the full path (`init` on every
row every step, `vmap(step_autoreset_from_seed)`: the code of the rollout before the change),
interleaved in one process.

    python bench/reset_compact_ab.py [--spec specs/pokemon_gen1.envspec] [--batch 1024] [--steps 64] [--repeats 7]

Both sides are the same generated module's `rollout` (`rollout_joint` for a simultaneous spec),
"compact" with the default bound (max(1, batch // 16)) or `--bound`, "full" with
`reset_bound=batch`, which runs exactly the pre-change body. Both are compiled first, then timed
alternately (`envc.bench.compare_rollouts`); SPS is the median of `--repeats`. The script fails
unless the first (untimed) runs' outputs (final batched states, rewards, done) are equal, leaf by leaf and dtype, and it
prints how many environments finished per step (from the full side's `done`), which decides how
often the compacted branch is taken. `--compile-only` times cold compiles instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import partial

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from envc.bench import compare_rollouts  # noqa: E402
from envc.compiler.check import load  # noqa: E402
from envc.verify import load_jax  # noqa: E402


def compile_times(sides: list[tuple[str, Callable]], batch: int, n_steps: int) -> None:
    """Print the trace+lower and XLA compile seconds of each named rollout of `sides`, in
    order (also used by bench/kind_rows_ab.py)."""
    import time

    import jax

    for name, rollout in sides:
        fn = jax.jit(rollout, static_argnums=(1, 2))
        start = time.perf_counter()
        lowered = fn.lower(jax.random.PRNGKey(0), n_steps, batch)
        mid = time.perf_counter()
        lowered.compile()
        print(f"batch {batch} x {n_steps}, {name}: trace+lower {mid - start:.1f} s, "
              f"XLA compile {time.perf_counter() - mid:.1f} s; load {os.getloadavg()}", flush=True)


def timed_pair(sides: list[tuple[str, Callable]], batch: int, n_steps: int, repeats: int, second_first: bool):
    """`compare_rollouts` of the two named rollouts of `sides` (compiled and timed second first
    when `second_first`: the first compile of a process also pays JAX's warm-up). Returns
    (row of the first, row of the second, their first runs' outputs in that order, whether
    those outputs are equal leaf by leaf and dtype). Also used by bench/kind_rows_ab.py."""
    import jax
    import numpy as np

    outputs: list = []
    order = sides[::-1] if second_first else sides
    ra, rb = compare_rollouts(order[0], order[1], batch, n_steps, repeats, outputs=outputs)
    if second_first:
        ra, rb = rb, ra
        outputs.reverse()
    la, lb = (jax.tree_util.tree_leaves(out) for out in outputs)  # states, rewards and done
    same = len(la) == len(lb) and all(a.dtype == b.dtype and np.array_equal(np.asarray(a), np.asarray(b))
                                      for a, b in zip(la, lb))
    return ra, rb, outputs, same


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default="specs/pokemon_gen1.envspec")
    ap.add_argument("--batch", default="1024", help="comma-separated batch sizes")
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--bound", type=int, default=None, help="K (default: the rollout's own, max(1, batch // 16))")
    ap.add_argument("--full-first", action="store_true",
                    help="compile and time the full side first (the first compile of a process also pays JAX's warm-up)")
    ap.add_argument("--compile-only", action="store_true",
                    help="cold compiles only (ENVC_JAX_CACHE=off): trace+lower and XLA compile seconds of each side")
    args = ap.parse_args()
    if args.compile_only:
        os.environ["ENVC_JAX_CACHE"] = "off"  # read when the generated module is imported
    import numpy as np

    env = load_jax(load(args.spec))
    rollout = env.rollout_joint if getattr(env, "SIMULTANEOUS", False) else env.rollout
    if args.compile_only:
        for batch in (int(b) for b in args.batch.split(",")):
            bound = env._reset_bound(batch, args.bound)
            compile_times([("full", partial(rollout, reset_bound=batch)),
                           (f"compact (K={bound})", partial(rollout, reset_bound=bound))], batch, args.steps)
        return 0
    ok = True
    for batch in (int(b) for b in args.batch.split(",")):
        bound = env._reset_bound(batch, args.bound)
        print(f"load before: {os.getloadavg()}", flush=True)
        sides = [("compact", partial(rollout, reset_bound=bound)), ("full", partial(rollout, reset_bound=batch))]
        ra, rb, outputs, same = timed_pair(sides, batch, args.steps, args.repeats, args.full_first)
        per_step = np.asarray(outputs[1][2]).sum(axis=1)
        print(f"{args.spec} batch {batch} x {args.steps}, K={bound}: compact {ra.sps:,.0f} SPS, full {rb.sps:,.0f} SPS, "
              f"compact/full {ra.sps / rb.sps:.3f}; runs {[round(x) for x in ra.sps_runs]} / "
              f"{[round(x) for x in rb.sps_runs]}; compile {ra.compile_s:.0f} s / {rb.compile_s:.0f} s; "
              f"finished per step mean {per_step.mean():.1f} max {per_step.max()}, steps over K "
              f"{int((per_step > bound).sum())}/{args.steps}; outputs equal: {same}; load after {os.getloadavg()}",
              flush=True)
        ok = ok and same
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
