"""Issue 14's benchmark: the TCG before and after `choose`, lasting effects and the cards that
use them (Abra's Teleport, Sabrina, Mr. Mime's Barrier Attack), interleaved in one process.

    python bench/choose_ab.py [--base COMMIT] [--batches 1024,8192] [--repeats 5] [--targets jax,rust]
                              [--spec PATH] [--no-record-faults]

"Before" is the generated TCG of commit `--base` (its golden files `tests/golden/tcg/{jax,rust}`,
which are exactly what `envc compile specs/tcg.envspec` wrote then); "after" is what the
working tree generates now (from `--spec`, default `specs/tcg.envspec`: a variant of the spec,
e.g. with other fills or decks, is timed against the same "before"; `--no-record-faults` generates
its JAX without `State._fault`, as `envc compile --no-record-faults` does). Both sides run the same
harness:

* JAX: `rollout` (random legal policy, auto-reset, one jitted `lax.scan`) compiled for both,
  then timed a, b, a, b, ... (`envc.bench.compare_rollouts`); SPS is the median;
* Rust: `VecEnv(batch, threads=1)` with actions drawn in Rust (`codegen/rust/bench._time_rust`),
  a, b, a, b, ... for `--repeats` rounds; SPS is the median of the rounds.

It prints SPS of each side, the ratio after/before, the compile time and the size of one
environment's state (JAX: bytes of the batched state / batch; Rust: `size_of::<State>` as
the bytes of `get_state`'s arrays). Quote `uptime` with the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _git_files(base: str, folder: str, dest: Path) -> None:
    """Write the files of `folder` at commit `base` under `dest`."""
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", base, folder], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in names:
        text = subprocess.run(["git", "show", f"{base}:{name}"], cwd=ROOT, check=True, capture_output=True).stdout
        out = dest / Path(name).relative_to(folder)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(text)


def _import(folder: Path, name: str):
    from envc.codegen.rust.build import _import_as

    return _import_as(folder, name)


def jax_before(base: str, tmp: Path):
    pkg = tmp / "envc_tcg_before"
    _git_files(base, "tests/golden/tcg/jax", pkg)
    return _import(pkg, "envc_tcg_before")


def rust_before(base: str, tmp: Path):
    from envc.codegen.rust.build import build_wheel

    crate = tmp / "crate"
    _git_files(base, "tests/golden/tcg/rust", crate)
    wheel = build_wheel(crate, out_dir=tmp / "wheels")
    site = tmp / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return _import(site / "envc_tcg", "envc_tcg_rust_before")


def state_bytes_rust(pkg) -> int:
    env = pkg.VecEnv(1, threads=1, autoreset=True, seed=0)
    import numpy as np

    def size(tree) -> int:
        if isinstance(tree, dict):
            return sum(size(v) for v in tree.values())
        return int(np.asarray(tree).nbytes)

    return size(env.get_state(0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="ee72eed8d89bb1dbdb8025c21435f54f3da853e7",
                    help="the commit whose generated TCG is `before` (default: the base of issue 14)")
    ap.add_argument("--batches", default="1024,8192")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--targets", default="jax,rust")
    ap.add_argument("--seconds", type=float, default=1.0, help="Rust: seconds per timed run")
    ap.add_argument("--spec", default=str(ROOT / "specs" / "tcg.envspec"),
                    help="the spec whose generated code is `after` (default: specs/tcg.envspec)")
    ap.add_argument("--no-record-faults", action="store_true",
                    help="JAX `after` without the runtime-fault record (PassContext.record_faults)")
    args = ap.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    targets = args.targets.split(",")
    sys.path.insert(0, str(ROOT))
    from envc.compiler.check import load

    module = load(args.spec)
    tmp = Path(tempfile.mkdtemp(prefix="envc-choose-ab-"))
    print(f"load: {os.getloadavg()}")
    try:
        if "jax" in targets:
            from envc.bench import compare_rollouts, steps_for
            from envc.compiler.pipeline import PassContext
            from envc.verify import load_jax

            ctx = PassContext(record_faults=not args.no_record_faults)
            before, after = jax_before(args.base, tmp), load_jax(module, ctx)
            for b in batches:
                ra, rb = compare_rollouts(("before", before.rollout), ("after", after.rollout), b, steps_for(b),
                                          args.repeats)
                print(f"jax batch {b}: before {ra.sps:,.0f} SPS, after {rb.sps:,.0f} SPS, after/before "
                      f"{rb.sps / ra.sps:.3f}; runs before {[round(x) for x in ra.sps_runs]}, after "
                      f"{[round(x) for x in rb.sps_runs]}; compile {ra.compile_s:.1f}s / {rb.compile_s:.1f}s; "
                      f"state {ra.state_bytes // b} / {rb.state_bytes // b} bytes per env "
                      f"({rb.state_bytes / ra.state_bytes - 1:+.1%})", flush=True)
        if "rust" in targets:
            from envc.codegen.rust.bench import _time_rust
            from envc.verify import load_rust

            before, after = rust_before(args.base, tmp), load_rust(module)
            sa, sb = state_bytes_rust(before), state_bytes_rust(after)
            for b in batches:
                runs: list[list[float]] = [[], []]
                for _ in range(args.repeats):
                    for side, pkg in enumerate((before, after)):
                        runs[side].append(_time_rust(pkg, b, 1, 1, args.seconds)[0])  # (SPS, episodes/s)
                ma, mb = statistics.median(runs[0]), statistics.median(runs[1])
                print(f"rust batch {b} (1 thread): before {ma:,.0f} SPS, after {mb:,.0f} SPS, after/before "
                      f"{mb / ma:.3f}; runs before {[round(x) for x in runs[0]]}, after {[round(x) for x in runs[1]]}; "
                      f"state {sa} / {sb} bytes per env ({sb / sa - 1:+.1%})", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
