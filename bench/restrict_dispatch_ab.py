"""Timing and equality (issue 16, DESIGN.md decision 6): the TCG's JAX step with the pass
`restrict_dispatch` on and off, interleaved in one process.

    python bench/restrict_dispatch_ab.py [--spec specs/tcg.envspec] [--batch 1024] [--steps 64] [--repeats 5]

"on" is the spec through every pass; "off" the same spec with `--disable-pass restrict_dispatch`.
The pass changes no meaning, so both play the same games: the script fails unless the final
batched states of the first (untimed) run of each are equal, leaf by leaf, leaving out envc's
own `_envc_*` fields (the frames of paused effects: a proc that no longer reaches a member
with `choose` through a restricted dispatch needs none, so the two layouts differ there). Both without fault
recording (PassContext(record_faults=False)), as bench/ability_sites_ab.py; the same `rollout`
harness for both (`envc.bench.compare_rollouts`).
"""

from __future__ import annotations

import argparse
import os
import sys

from envc.bench import compare_rollouts
from envc.compiler.check import load
from envc.compiler.pipeline import PassContext
from envc.verify import load_jax


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default="specs/tcg.envspec")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import jax
    import numpy as np

    on_ctx = PassContext(record_faults=False)
    off_ctx = PassContext(record_faults=False, disabled=frozenset({"restrict_dispatch"}))
    on = load_jax(load(args.spec, on_ctx), on_ctx)
    off = load_jax(load(args.spec, off_ctx), off_ctx)
    print(f"load: {os.getloadavg()}", flush=True)
    finals: list = []
    ra, rb = compare_rollouts(("on", on.rollout), ("off", off.rollout), args.batch, args.steps, args.repeats,
                              finals=finals)
    leaves_on, leaves_off = ({jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_flatten_with_path(f)[0]
                              if "_envc_" not in jax.tree_util.keystr(k)} for f in finals)
    same = leaves_on.keys() == leaves_off.keys() and all(
        np.array_equal(np.asarray(leaves_on[k]), np.asarray(leaves_off[k])) for k in leaves_on)
    print(f"batch {args.batch} x {args.steps}: restrict_dispatch on {ra.sps:,.0f} SPS, off {rb.sps:,.0f} SPS, "
          f"on/off {ra.sps / rb.sps:.3f}; runs {[round(x) for x in ra.sps_runs]} / "
          f"{[round(x) for x in rb.sps_runs]}; compile {ra.compile_s:.0f} s / {rb.compile_s:.0f} s; "
          f"final states equal: {same}; load {os.getloadavg()}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
