"""Generated othello modules side by side, part by part (issue 18, mechanism 2):

    python bench/parts_ab.py NAME=path/to/env.py [NAME=path/to/env.py ...] [--batch 1024] [--repeats 15]

e.g. `git show ac2f661:tests/golden/othello/jax/env.py > /tmp/before.py` and the current
golden as `after`. Each module's `step`, `step_autoreset_from_seed`, `step` followed by a
select of `init_from_seed` (a user's select-based reset), `_legal_action_mask`, `m_place`, `a_place` and
`_observe` are jitted under `vmap` and timed on `--batch` mid-game states (20 random legal
moves from `init_from_seed(0..batch)`), the modules' calls alternated round by round so
that drift in the machine's speed is shared; prints the median and minimum ms per call of
the whole batch, and whether every module's `m_place` agrees on the states of the first.
For othello modules only (`m_place`, `a_place`)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np


def load_module(name: str, path: str):
    """Import the Python file at `path` as module `name` (a generated `env.py` is self-contained)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _parts(m, batch: int) -> dict:
    """name -> (jitted function, arguments) on mid-game states of module `m`."""
    state = jax.jit(jax.vmap(m.init_from_seed))(jnp.arange(batch, dtype=jnp.uint32))
    step, pick = jax.jit(jax.vmap(m.step)), jax.jit(jax.vmap(m.random_legal_action))
    key = jax.random.PRNGKey(0)
    for _ in range(20):
        key, k = jax.random.split(key)
        state = step(state, pick(jax.random.split(k, batch), state))
    act = pick(jax.random.split(key, batch), state)
    st = jax.jit(jax.vmap(m._to_dict))(state)
    seeds = jax.random.bits(key, (batch,), jnp.uint32)

    def select_after_step(s, a, seed):  # a user's select-based reset (issue 18)
        nxt = m.step(s, a)
        done = nxt.terminated | nxt.truncated
        return jax.tree_util.tree_map(lambda f, n: jnp.where(done, f, n), m.init_from_seed(seed), nxt)

    return {
        "step": (step, (state, act)),
        "step_autoreset_from_seed": (jax.jit(jax.vmap(m.step_autoreset_from_seed)), (state, act, seeds)),
        "step, then select init_from_seed": (jax.jit(jax.vmap(select_after_step)), (state, act, seeds)),
        "legal_action_mask": (jax.jit(jax.vmap(m._legal_action_mask)), (st,)),
        "m_place": (jax.jit(jax.vmap(m.m_place)), (st,)),
        "a_place": (jax.jit(jax.vmap(m.a_place)), (st, jnp.minimum(act, 63))),
        "observe": (jax.jit(jax.vmap(lambda s: m._observe(s, s["current_player"]))), (st,)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="+", help="NAME=path of a generated othello env.py")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    if any("=" not in a for a in args.modules):
        ap.error("each module is NAME=path/to/env.py")
    mods = {name: load_module(f"_ab_{i}", path) for i, (name, path) in enumerate(a.split("=", 1) for a in args.modules)}
    parts = {name: _parts(m, args.batch) for name, m in mods.items()}
    first = next(iter(parts))
    masks = [np.asarray(p["m_place"][0](*parts[first]["m_place"][1])) for p in parts.values()]
    print("m_place agrees on the first module's states:", all((x == masks[0]).all() for x in masks))
    times: dict = {}
    for _ in range(args.repeats):
        for name, ps in parts.items():
            for part, (f, a) in ps.items():
                t = time.perf_counter()
                jax.block_until_ready(f(*a))
                times.setdefault((part, name), []).append(time.perf_counter() - t)
    print(f"| part | module | median ms | min ms |  (batch {args.batch}, {args.repeats} rounds)")
    for (part, name), v in sorted(times.items()):
        print(f"| {part} | {name} | {statistics.median(v) * 1e3:.2f} | {min(v) * 1e3:.2f} |")
    print("load average", os.getloadavg())


if __name__ == "__main__":
    main()
