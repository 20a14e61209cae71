"""Timing and equality (issue 16): the generated rollout's batch-level step, each action
kind's branch run only on the rows that play it (`_step_rows`, `kind_chunk` rows at a time),
against every branch run on every row (`kind_chunk=0`: `vmap(_step_dict)`, the rollout's
body before the change), interleaved in one process.

    python bench/kind_rows_ab.py [--spec specs/tcg.envspec] [--batch 1024] [--steps 64] [--repeats 7] [--chunk N]

Both sides are the same generated module's `rollout` with its default auto-reset: "rows"
with `--chunk`, else the spec's default chunk, else max(1, batch // 8) (a spec whose rollout
does not compact by default, `envc.codegen.jax.lower.kind_rows`), "every" with `kind_chunk=0`. Both
are compiled first, then timed alternately (`envc.bench.compare_rollouts`); SPS is the median
of `--repeats`. The script fails unless the first (untimed) runs' outputs (final batched
states, rewards, done) are equal, leaf by leaf and dtype. `--compile-only` times cold compiles
instead (JAX's persistent cache off): trace+lower and XLA compile seconds of each side.
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from reset_compact_ab import compile_times, timed_pair  # noqa: E402  (bench/, the script's folder)

from envc.compiler.check import load  # noqa: E402
from envc.verify import load_jax  # noqa: E402


def _chunk(env, batch: int, chunk: int | None) -> int:
    """The rows side's chunk: `chunk`, else the spec's default, else (a spec whose rollout
    does not compact by default) max(1, batch // 8)."""
    return chunk or env._kind_chunk(batch, None) or max(1, batch // 8)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default="specs/tcg.envspec")
    ap.add_argument("--batch", default="1024", help="comma-separated batch sizes")
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--chunk", type=int, default=None, help="kind_chunk of the rows side (default: the rollout's own)")
    ap.add_argument("--every-first", action="store_true", help="compile and time the `every` side first")
    ap.add_argument("--compile-only", action="store_true",
                    help="cold compiles only (ENVC_JAX_CACHE=off): trace+lower and XLA compile seconds of each side")
    args = ap.parse_args()
    if args.compile_only:
        os.environ["ENVC_JAX_CACHE"] = "off"  # read when the generated module is imported
    env = load_jax(load(args.spec))
    if args.compile_only:
        for batch in (int(b) for b in args.batch.split(",")):
            chunk = _chunk(env, batch, args.chunk)
            sides = [(f"rows (kind_chunk={chunk})", partial(env.rollout, kind_chunk=chunk)),
                     ("every (kind_chunk=0)", partial(env.rollout, kind_chunk=0))]
            compile_times(sides[::-1] if args.every_first else sides, batch, args.steps)
        return 0
    ok = True
    for batch in (int(b) for b in args.batch.split(",")):
        chunk = _chunk(env, batch, args.chunk)
        print(f"load before: {os.getloadavg()}", flush=True)
        sides = [("rows", partial(env.rollout, kind_chunk=chunk)), ("every", partial(env.rollout, kind_chunk=0))]
        ra, rb, _, same = timed_pair(sides, batch, args.steps, args.repeats, args.every_first)
        print(f"{args.spec} batch {batch} x {args.steps}, chunk {chunk}: rows {ra.sps:,.0f} SPS, every {rb.sps:,.0f} SPS, "
              f"rows/every {ra.sps / rb.sps:.3f}; runs {[round(x) for x in ra.sps_runs]} / "
              f"{[round(x) for x in rb.sps_runs]}; compile {ra.compile_s:.0f} s / {rb.compile_s:.0f} s; "
              f"outputs equal: {same}; load after {os.getloadavg()}", flush=True)
        ok = ok and same
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
