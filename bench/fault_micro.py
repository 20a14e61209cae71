"""What recording a runtime fault costs per site in JAX, on a synthetic step (issue #15).

    python bench/fault_micro.py [--sites 76] [--batch 1024] [--steps 64] [--repeats 7]

One vmapped step does `--sites` list-like updates (a scatter and a select each, on int16[4][10]
plus lengths), scanned `--steps` steps over `--batch` environments, in three forms, compiled
first and timed interleaved:

* `none`: the updates only (a module compiled with `--no-record-faults`);
* `at`: one `_fault_at` per site, what the JAX backend emits (codegen/jax/runtime.py): a
  `jnp.where` of `[code, a, b]` into the state's int32[3] where the check fails and none is set;
* `acc`: the alternative of the issue, the first fault's code and values carried through the
  step in three scalars (three `jnp.where` per site) and written once at the end.

`at` and `acc` record the same fault (checked). Prints the median SPS of each form and its runs,
and the load average: quote it with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def _fault_at(st, cond, code, a, b):
    """codegen/jax/runtime.py's `_fault_at`."""
    import jax.numpy as jnp

    new = cond & (st["_fault"][0] == 0)
    return {**st, "_fault": jnp.where(new, jnp.stack([jnp.int32(code), jnp.int32(a), jnp.int32(b)]), st["_fault"])}


def _step(st: dict, mode: str, sites: int) -> dict:
    """One environment's step in form `mode` (the module docstring)."""
    import jax.numpy as jnp

    st = dict(st)
    code = a = b = jnp.int32(0)
    for k in range(sites):
        i = k % 4
        n = st["len"][i]
        cond = n >= 9 - (k % 3)
        if mode == "at":
            st = _fault_at(st, cond, k + 1, n, k)
        elif mode == "acc":
            new = cond & (code == 0)
            code, a, b = jnp.where(new, k + 1, code), jnp.where(new, n, a), jnp.where(new, k, b)
        st["items"] = st["items"].at[i, jnp.clip(n, 0, 9)].set((st["items"][i, 0] + k) % 7)
        grow = st["items"][i, 1] > 3
        st["len"] = st["len"].at[i].set(jnp.where(grow, jnp.maximum(n - 1, 0), jnp.minimum(n + 1, 10)))
    if mode == "acc":
        st["_fault"] = jnp.where(st["_fault"][0] == 0, jnp.stack([code, a, b]), st["_fault"])
    return st


def _rollout(mode: str, sites: int, steps: int):
    """The jitted scan of `steps` vmapped steps in form `mode`."""
    import jax

    def body(s, _):
        return jax.vmap(lambda x: _step(x, mode, sites))(s), None

    return jax.jit(lambda s: jax.lax.scan(body, s, None, length=steps)[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=76, help="fault sites per step (tcg's module has 76 `_fault_at`)")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    import jax
    import jax.numpy as jnp

    b = args.batch
    st0 = {"items": jnp.zeros((b, 4, 10), jnp.int16), "len": jnp.zeros((b, 4), jnp.int32),
           "_fault": jnp.zeros((b, 3), jnp.int32)}
    modes = ["none", "at", "acc"]
    fns = {m: _rollout(m, args.sites, args.steps) for m in modes}
    outs = {}
    for m, f in fns.items():
        start = time.perf_counter()
        outs[m] = jax.device_get(f(st0))
        print(f"{m}: compile and first run {time.perf_counter() - start:.1f} s", flush=True)
    assert (outs["at"]["_fault"] == outs["acc"]["_fault"]).all(), "acc records another fault than at"
    runs: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.repeats):
        for m, f in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(f(st0))
            runs[m].append(b * args.steps / (time.perf_counter() - start))
    print(f"load {os.getloadavg()}; {args.sites} sites, batch {b} x {args.steps} steps")
    base = statistics.median(runs["none"])
    for m in modes:
        sps = statistics.median(runs[m])
        print(f"{m}: {sps:,.0f} SPS ({sps / base:.2f} of none); runs {[round(x) for x in runs[m]]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
