"""The size of a generated JAX environment's `step`, in measures that do not depend on the
machine's load: what XLA has to compute, not how fast it ran.

    python bench/step_size.py NAME=SOURCE [NAME=SOURCE ...] [--batch 1024] [--no-hlo] [--fn step_autoreset_from_seed]

SOURCE is a spec file (`specs/tcg.envspec`, or a variant of it in a scratch folder) or
`golden:SPEC@COMMIT`, the golden JAX module of `SPEC` at a commit (what `envc compile` wrote
then; e.g. `golden:tcg@34242be`). For each, under `vmap` at `--batch`:

* `jaxpr`: equations of `step`'s jaxpr, those of nested jaxprs (branches, loop bodies,
  inner `jit`s) included;
* `hlo`: instructions of the optimized HLO module of the jitted `step` (after XLA's
  simplification and fusion), and among them `fusions`;
* `flops/env`, `bytes/env`: XLA's `cost_analysis()` of that module ("flops", "bytes
  accessed") divided by the batch;
* `compile s`: lower + compile of that module (this one does depend on the load).

Used for issue 14 to separate what `choose` costs from what the cards that use it cost
(bench/RESULTS.md, "Decisions inside effects and lasting effects").
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from pathlib import Path

from envc.compiler.pipeline import PREFIX_WALKS

ROOT = Path(__file__).resolve().parent.parent


def load_env(source: str, prefix_walk: str = "off"):
    """The generated JAX package of `source` (a spec path, generated with `prefix_walk`, or
    `golden:SPEC@COMMIT`)."""
    sys.path.insert(0, str(ROOT / "bench"))
    if source.startswith("golden:"):
        from choose_ab import _git_files, _import

        spec, commit = source[len("golden:"):].split("@")
        pkg = Path(tempfile.mkdtemp(prefix="envc-step-size-")) / f"envc_{spec}_{commit}"
        _git_files(commit, f"tests/golden/{spec}/jax", pkg)
        return _import(pkg, pkg.name)
    from envc.compiler.check import load
    from envc.compiler.pipeline import PassContext
    from envc.verify import load_jax

    return load_jax(load(source), PassContext(prefix_walk=prefix_walk))


def _equations(jaxpr, counts: collections.Counter) -> int:
    n = 0
    for eqn in jaxpr.eqns:
        n += 1
        counts[eqn.primitive.name] += 1
        for value in eqn.params.values():
            for sub in value if isinstance(value, (list, tuple)) else [value]:
                inner = getattr(sub, "jaxpr", None) if hasattr(sub, "consts") else sub
                if hasattr(inner, "eqns"):
                    n += _equations(inner, counts)
    return n


def measure(env, batch: int, hlo: bool, fn: str = "step") -> dict:
    """The measures of the module docstring for `env.<fn>` under `vmap` at `batch` (`fn`:
    `step`, or `step_autoreset_from_seed`, what `rollout` runs: the step, then the fresh
    state of a seed where the game ended)."""
    import jax
    import jax.numpy as jnp

    state = jax.vmap(env.init_from_seed)(jnp.arange(batch, dtype=jnp.uint32))
    args = (state, jnp.zeros(batch, jnp.int32))
    if fn == "step_autoreset_from_seed":
        args = (*args, jnp.arange(batch, dtype=jnp.uint32))
    step = jax.vmap(getattr(env, fn))
    out = {"jaxpr": _equations(jax.make_jaxpr(step)(*args).jaxpr, collections.Counter())}
    if not hlo:
        return out
    start = time.perf_counter()
    compiled = jax.jit(step).lower(*args).compile()
    out["compile_s"] = time.perf_counter() - start
    lines = compiled.as_text().splitlines()
    out["hlo"] = sum(1 for line in lines if re.match(r"\s+(ROOT )?%?\S+ = ", line))
    out["fusions"] = sum(1 for line in lines if re.match(r"\s+(ROOT )?%?\S+ = .* fusion\(", line))
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    out["flops"] = float(cost.get("flops", float("nan"))) / batch
    out["bytes"] = float(cost.get("bytes accessed", float("nan"))) / batch
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sources", nargs="+", metavar="NAME=SOURCE")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--no-hlo", action="store_true", help="count the jaxpr only (no XLA compile)")
    ap.add_argument("--fn", choices=("step", "step_autoreset_from_seed"), default="step",
                    help="the function measured (default `step`; `rollout` runs `step_autoreset_from_seed`)")
    ap.add_argument("--prefix-walk", default="off", choices=PREFIX_WALKS,
                    help="how spec sources lower prefix-AND loops (PassContext.prefix_walk)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    print("| module | jaxpr equations | HLO instructions | fusions | XLA flops/env | bytes/env | compile s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for item in args.sources:
        name, _, source = item.partition("=")
        r = measure(load_env(source, args.prefix_walk), args.batch, not args.no_hlo, args.fn)
        if args.no_hlo:
            print(f"| {name} | {r['jaxpr']:,} | | | | | |", flush=True)
            continue
        print(f"| {name} | {r['jaxpr']:,} | {r['hlo']:,} | {r['fusions']:,} | {r['flops']:,.0f} | {r['bytes']:,.0f} | "
              f"{r['compile_s']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
