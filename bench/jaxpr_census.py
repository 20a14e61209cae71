"""Where a generated JAX environment's traced step comes from: the jaxpr equations of
`step(state, action)` counted per generated function (issue 18, "find what makes the TCG's
compile long"). Tracing is the first stage of the compile and XLA's input grows with it.

    python bench/jaxpr_census.py specs/tcg.envspec [--top 30]
    python bench/jaxpr_census.py tests/golden/tcg/jax          # an already generated package

For each equation (sub-jaxprs of `jit`, `cond`, `while`, `scan` included) the frames of its
traceback that lie in the generated `env.py` name the functions it was traced in: *exclusive*
counts the innermost one, *inclusive* every one (a function called at k sites counts k times).
Prints the total, the most frequent primitives and both tables. No compile, no GPU.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import os
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
from jax._src import source_info_util


def load_package(path: str):
    """The generated package at `path` (a folder with `__init__.py`), or generated from the
    spec `path` (`.envspec`) into a temporary folder; returns its `env` module."""
    if path.endswith(".envspec"):
        from envc.codegen.jax import write
        from envc.compiler.pipeline import load

        folder = os.path.join(tempfile.mkdtemp(prefix="envc-census-"), "census_env")
        write(load(path), folder)
        path = folder
    spec = importlib.util.spec_from_file_location("census_env", os.path.join(path, "__init__.py"),
                                                  submodule_search_locations=[path])
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: not a generated JAX package (no __init__.py)")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["census_env"] = mod
    spec.loader.exec_module(mod)
    return sys.modules["census_env.env"]


def _subjaxprs(eqn):
    for v in eqn.params.values():
        for x in v if isinstance(v, (list, tuple)) else [v]:
            if hasattr(x, "eqns"):
                yield x
            elif hasattr(getattr(x, "jaxpr", None), "eqns"):
                yield x.jaxpr


def census(jaxpr, counts: dict[str, collections.Counter]) -> int:
    """Count `jaxpr`'s equations (nested ones included) into `counts` ("prim", "excl",
    "incl"); returns how many."""
    n = 0
    for eqn in jaxpr.eqns:
        for sub in _subjaxprs(eqn):
            n += census(sub, counts)
        n += 1
        counts["prim"][eqn.primitive.name] += 1
        tb = eqn.source_info.traceback
        frames = [f.function_name for f in source_info_util.user_frames(tb)
                  if f.file_name.endswith("env.py")] if tb is not None else []
        counts["excl"][frames[0] if frames else "(outside env.py)"] += 1
        for name in set(frames):
            counts["incl"][name] += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", help="a .envspec, or a generated JAX package folder")
    ap.add_argument("--top", type=int, default=30, help="rows of each table")
    args = ap.parse_args()
    env = load_package(args.path)
    state = env.init(jax.random.PRNGKey(0))
    t = time.perf_counter()
    closed = jax.make_jaxpr(env.step)(state, jnp.int32(0))
    traced = time.perf_counter() - t
    counts = {k: collections.Counter() for k in ("prim", "excl", "incl")}
    total = census(closed.jaxpr, counts)
    print(f"{args.path}: {total:,} jaxpr equations in step (traced in {traced:.1f} s)")
    print("primitives: " + ", ".join(f"{p} {c:,}" for p, c in counts["prim"].most_common(12)))
    for key, title in (("excl", "exclusive (innermost generated function)"), ("incl", "inclusive")):
        print(f"\n{title}:")
        for name, c in counts[key].most_common(args.top):
            print(f"{c:9,d}  {name}")


if __name__ == "__main__":
    main()
