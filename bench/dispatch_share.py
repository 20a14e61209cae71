"""TCG: how much of the JAX step's growth from the texts of issue 16's start (`0x`) to every
text filled (`1x`) the effect dispatches account for (DESIGN.md, decision 6). Timing only.

    python bench/dispatch_share.py --baseline 50e0fa5 [--batch 1024] [--steps 100] [--repeats 5]

Variants, on the spec as shipped (the same temporary copies as bench/effect_scaling.py's
`--scales 0,1`, made by its `snapshot` and `make_variant`), every pass on:

- `0x`, `1x`: as in bench/effect_scaling.py;
- `1x -attack`: `1x` with the body of `attack_effect__dispatch` emptied after the pipeline
  (emptied after the pass `effect_tables`, before `choice_points`; the attack texts then do nothing: not the same game, only what the step costs without
  that dispatch and everything it calls);
- `0x -dispatch`, `1x -dispatch`: the same with the body of every dispatch proc emptied (each
  family's, and `restrict_dispatch`'s copies);
- `1x -choose`: `1x` with the body of every proc the dispatches reach that holds a `choose`
  emptied (the dispatches keep their other ops; no choice site is left in them).
`--variants 1x,1x -choose` builds and times only those.

If `1x -dispatch` / `0x -dispatch` is far below 1, the step grew outside the dispatch procs
(the state, the legal-action mask, choice sites), which no change to the effect-table pass
can win back. Compiled first, then timed interleaved, like bench/effect_scaling.py (SPS:
`batch * steps` / wall seconds of one jitted rollout of the random legal policy, median of
`repeats`). `uptime` before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from effect_scaling import ROOT, branches, filled_texts, make_variant, snapshot, uptime  # noqa: E402

from envc.compiler import ir  # noqa: E402
from envc.compiler.check import load  # noqa: E402
from envc.compiler.passes import choice_points  # noqa: E402
from envc.compiler.pipeline import PassContext  # noqa: E402

OFF = PassContext(disabled=frozenset({"effect_tables"}))


def choosing(path: str) -> ir.Module:
    """The spec at `path` through the pipeline, with the body of every proc that a dispatch
    reaches (transitively) and that holds a `choose` emptied, after `effect_tables`, before
    `choice_points`: the dispatches keep their other ops, and no choice site is left in them."""
    module = load(path, PassContext(after="effect_tables"))
    todo = [d for fam in module.families for d in (fam.dispatch, *fam.restricted)]
    reached: set[str] = set()
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        todo += [n.proc for n in ir.walk_all(module.fn(name).body) if isinstance(n, ir.CallProc)]
    gone = {n for n in reached if any(isinstance(x, ir.Choose) for x in ir.walk_all(module.fn(n).body))}
    print(f"  1x -choose empties {sorted(gone)}", flush=True)
    fns = [f.model_copy(update={"body": []}) if f.name in gone else f for f in module.fns]
    return choice_points.run(module.model_copy(update={"fns": fns}), PassContext())


def emptied(path: str, attack_only: bool) -> ir.Module:
    """The spec at `path` through the pipeline, with the body of the attack family's dispatch
    proc (`attack_only`) or of every dispatch proc emptied after `effect_tables`, before
    `choice_points` (which finds the paused effects in the final bodies)."""
    module = load(path, PassContext(after="effect_tables"))
    gone = {d for fam in module.families for d in (fam.dispatch, *fam.restricted)
            if fam.name == "attack_effect" or not attack_only}
    fns = [f.model_copy(update={"body": []}) if f.name in gone else f for f in module.fns]
    return choice_points.run(module.model_copy(update={"fns": fns}), PassContext())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", required=True, help="`0x` keeps the fills of the texts filled at this commit")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--variants", help="a comma-separated subset of the variants' names (default: all)")
    args = ap.parse_args()
    kept = filled_texts(subprocess.run(["git", "show", f"{args.baseline}:specs/tcg.fills"], cwd=ROOT, check=True,
                                       capture_output=True, text=True).stdout)

    import jax

    from envc.verify import load_jax

    print(f"load before: {uptime()}", flush=True)
    tmp = tempfile.mkdtemp(prefix="envc-dispatch-share-")
    spec = snapshot(os.path.join(tmp, "shipped"))
    base = load(os.path.join(tmp, "shipped", "tcg.envspec"), OFF)
    modules: dict[str, ir.Module] = {}
    for scale in (0, 1):
        folder = os.path.join(tmp, f"x{scale}")
        make_variant(folder, scale, base, spec, kept)
        path = os.path.join(folder, "tcg.envspec")
        modules[f"{scale}x"] = load(path)
        if scale == 1:
            modules["1x -attack"] = emptied(path, True)
            modules["1x -choose"] = choosing(path)
        modules[f"{scale}x -dispatch"] = emptied(path, False)
    if args.variants:
        modules = {k: v for k, v in modules.items() if k in args.variants.split(",")}
    runs: dict[str, list[float]] = {}
    compiled = {}
    for name, m in modules.items():
        env = load_jax(m)
        start = time.perf_counter()
        compiled[name] = jax.jit(env.rollout, static_argnums=(1, 2)).lower(jax.random.PRNGKey(0), args.steps,
                                                                             args.batch).compile()
        jax.block_until_ready(compiled[name](jax.random.PRNGKey(0)))  # warm-up
        runs[name] = []
        print(f"  compiled {name} in {time.perf_counter() - start:.1f}s; dispatch calls {branches(m)}", flush=True)
    work = args.batch * args.steps
    for r in range(args.repeats):
        for name, fn in compiled.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(jax.random.PRNGKey(r + 1)))
            runs[name].append(work / (time.perf_counter() - start))
    print(f"load after: {uptime()}\n")
    sps = {name: statistics.median(r) for name, r in runs.items()}
    print(f"TCG, batch {args.batch}, {args.steps} steps, median of {args.repeats} interleaved runs\n")
    print("| variant | SPS (median) | ms per step of the batch | SPS runs |")
    print("|---|---:|---:|---|")
    for name in modules:
        print(f"| {name} | {sps[name]:,.0f} | {1000 * args.batch / sps[name]:.1f} | "
              f"{', '.join(f'{x:,.0f}' for x in runs[name])} |")
    print()
    for b, a in (("1x", "0x"), ("1x -attack", "0x"), ("1x -dispatch", "0x -dispatch"), ("1x -attack", "1x"),
                 ("1x -choose", "1x"), ("1x -dispatch", "1x")):
        if a in sps and b in sps:
            print(f"{b} / {a}: SPS {sps[b] / sps[a]:.3f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
