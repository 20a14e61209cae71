"""A spec's generated JAX environment before and after a change of the lowering, interleaved
in one process (issue 18).

    python bench/golden_ab.py SPEC [--base COMMIT] [--batches 1024,8192] [--repeats 7] [--steps N]

"Before" is the golden JAX module of `SPEC` (a shipped spec's name: `othello`) at commit
`--base`, exactly what `envc compile specs/SPEC.envspec --target jax` wrote then; "after" is
what the working tree generates now from `specs/SPEC.envspec`. Both sides run their own
`rollout` (random legal policy, auto-reset, one jitted `lax.scan`), compiled first, then timed
a, b, a, b, ... (`envc.bench.compare_rollouts`); SPS is the median of the runs. `--steps`
shortens the scan (default `envc.bench.steps_for(batch)`) where one side is slow. Prints
SPS of each side, the ratio after/before, the runs, and the compile times (cold unless the
persistent cache has them: `ENVC_JAX_CACHE=off` for cold); quote `uptime` with the figures.
When the new module records runtime faults (`State._fault`), also prints the fault of the
first faulting environment of the first run (None: no environment faulted).

`--before no-record-faults` makes "before" the working tree's own module without fault
recording (`PassContext(record_faults=False)`, `envc compile --no-record-faults`): the A/B
then isolates what recording costs, with the spec and every other pass the same (issue #15).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from envc.compiler.pipeline import PREFIX_WALKS

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("spec", help="a shipped spec's name (specs/SPEC.envspec, tests/golden/SPEC/jax)")
    ap.add_argument("--base", default="077aa8a", help="the commit whose golden module is `before`")
    ap.add_argument("--batches", default="1024,8192")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--before", default="golden", choices=["golden", "no-record-faults"],
                    help="before: the golden at --base, or this tree's module without fault recording")
    ap.add_argument("--steps", type=int, default=0, help="steps per scan (default: envc.bench.steps_for)")
    ap.add_argument("--prefix-walk", default="off", choices=PREFIX_WALKS,
                    help="how `after` lowers prefix-AND loops (PassContext.prefix_walk)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "bench"))
    from choose_ab import _git_files, _import

    from envc.bench import compare_rollouts, steps_for
    from envc.compiler.check import load
    from envc.compiler.pipeline import PassContext
    from envc.verify import load_jax

    tmp = Path(tempfile.mkdtemp(prefix="envc-golden-ab-"))
    print(f"load: {os.getloadavg()}", flush=True)
    try:
        module = load(str(ROOT / "specs" / f"{args.spec}.envspec"))
        if args.before == "golden":
            pkg = tmp / f"envc_{args.spec}_before"
            _git_files(args.base, f"tests/golden/{args.spec}/jax", pkg)
            before = _import(pkg, pkg.name)
        else:
            before = load_jax(module, PassContext(prefix_walk=args.prefix_walk, record_faults=False))
        after = load_jax(module, PassContext(prefix_walk=args.prefix_walk))
        for b in (int(x) for x in args.batches.split(",")):
            steps = args.steps or steps_for(b)
            finals: list = []
            ra, rb = compare_rollouts(("before", before.rollout), ("after", after.rollout), b, steps, args.repeats,
                                      finals)
            if hasattr(after, "fault_message"):  # the random legal policy never faults the interpreter
                print(f"after: runtime faults recorded in the first run: {after.fault_message(finals[1])}")
            print(f"{args.spec} batch {b} x {steps} steps: before {ra.sps:,.0f} SPS, after {rb.sps:,.0f} SPS, "
                  f"after/before {rb.sps / ra.sps:.2f}; runs before {[round(x) for x in ra.sps_runs]}, after "
                  f"{[round(x) for x in rb.sps_runs]}; compile {ra.compile_s:.1f}s / {rb.compile_s:.1f}s; "
                  f"load {os.getloadavg()}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
