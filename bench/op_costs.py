"""TCG: the JAX cost of each op of one family's effect table (compiler/passes/effect_tables.py),
timed alone, beside the whole dispatch proc (DESIGN.md, decision 6). Timing only.

    python bench/op_costs.py [--family attack_effect] [--batch 1024] [--steps 100] [--repeats 5]

For each op `o` of the table of specs/tcg.envspec as shipped (every pass on): `vmap` over
`batch` initial states of the op's proc (`p_<verb>`, or the fallback member), `steps` calls in
a `fori_loop`, each environment with the arguments of one table use of `o` drawn at random
(a constant as the table holds it; a hole parameter: a random value of its range). The whole
dispatch is timed the same way (`p_<family>__dispatch`, random filled effect numbers), as
bench/effect_scaling.py's "dispatch alone". Printed: calls per second of each (median of
`repeats`, interleaved) and its time per call of the batch, sorted by cost, and the sum of
the ops' times against the dispatch's. Under `vmap` a dispatch computes every op present at
each step, so the sum is what the table costs if XLA shares nothing between the ops.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from effect_scaling import ROOT, uptime  # noqa: E402

from envc.compiler.check import load  # noqa: E402
from envc.compiler.passes import effect_tables as et  # noqa: E402
from envc.compiler.pipeline import PassContext  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", default="attack_effect")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax import lax

    from envc.verify import load_jax

    print(f"load before: {uptime()}", flush=True)
    spec = os.path.join(ROOT, "specs", "tcg.envspec")
    before = load(spec, PassContext(disabled=frozenset({"effect_tables"})))
    m = load(spec)
    fam = next(f for f in m.families if f.name == args.family)
    table = et.build(before, fam.dispatch)
    assert table is not None, fam.dispatch
    env = load_jax(m)
    gen = importlib.import_module(env.__name__ + ".env")
    rng = np.random.default_rng(0)
    st = gen._to_dict(jax.vmap(gen.init)(jax.random.split(jax.random.PRNGKey(0), args.batch)))
    hole = table.params[1:]

    def param(i: int) -> np.ndarray:
        return rng.integers(hole[i].type.lo, hole[i].type.hi + 1, args.batch)

    def timed(fn, argv) -> object:
        run = jax.jit(lambda s: lax.fori_loop(0, args.steps, lambda i, x: jax.vmap(fn)(x, *argv), s))
        compiled = run.lower(st).compile()
        jax.block_until_ready(compiled(st))
        return lambda: compiled(st)

    jobs = {}
    filled = sorted(table.members)
    jobs["(whole dispatch)"] = timed(getattr(gen, f"p_{fam.dispatch}"),
                                     [jnp.asarray(rng.choice(filled, args.batch), jnp.int32)]
                                     + [jnp.asarray(param(i), jnp.int32) for i in range(len(hole))])
    for o, name in enumerate(table.ops, start=1):
        uses = [args_ for row in table.rows for op, args_ in row if op == o]
        picked = rng.integers(0, len(uses), args.batch)
        argv = []
        for j in range(len(uses[0])):
            col = np.zeros(args.batch, np.int64)
            for b, u in enumerate(picked):
                a = uses[u][j]
                col[b] = int(a.value) if isinstance(a, et.ConstArg) else param(a.index)[b]
            argv.append(jnp.asarray(col, jnp.int32))
        jobs[name] = timed(getattr(gen, f"p_{name}"), argv)
        print(f"  compiled {name}", flush=True)
    runs: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(args.repeats):
        for name, fn in jobs.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            runs[name].append(time.perf_counter() - start)
    print(f"load after: {uptime()}\n")
    per_call = {name: 1000 * statistics.median(r) / args.steps for name, r in runs.items()}  # ms per batch call
    print(f"{fam.dispatch}: {len(table.verbs)} verbs, {len(table.fallbacks)} fallbacks, {table.length} steps; "
          f"batch {args.batch}, {args.steps} calls in a fori_loop, median of {args.repeats}\n")
    print("| op | uses | ms per call of the batch | calls per second |")
    print("|---|---:|---:|---:|")
    for name in sorted(jobs, key=lambda n: -per_call[n]):
        o = table.ops.index(name) + 1 if name in table.ops else 0
        uses = sum(op == o for row in table.rows for op, _ in row) if o else len(table.members)
        print(f"| {name} | {uses} | {per_call[name]:.3f} | {args.batch / per_call[name] * 1000:,.0f} |")
    total = sum(v for n, v in per_call.items() if n in table.ops)
    print(f"\nsum of the ops: {total:.3f} ms per call; the whole dispatch: {per_call['(whole dispatch)']:.3f} ms")


if __name__ == "__main__":
    main()
