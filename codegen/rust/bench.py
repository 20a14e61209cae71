"""Steps per second of the Rust backend's batch class beside the interpreter and JAX.

    envc bench specs/tictactoe.envspec --target rust [--batch 1,64,1024,8192] [--threads 1,2]
    python bench/rust_bench.py specs/tictactoe.envspec [--batches 1,64,1024,8192] [--threads 1,2]
                               [--runs 3] [--seconds 0.5] [--no-jax]

For each thread count and batch size, `VecEnv(batch, threads, autoreset=True)` plays
uniformly random legal actions (drawn in Rust by `VecEnv.sample_actions`, so that NumPy
does not dominate small environments), one Python->Rust call per batch step for the
actions and one for the step; SPS counts environment transitions per wall-clock second,
the median of `--runs` timed runs of about `--seconds` each, after a warm-up. The
interpreter plays the same random legal policy, one environment at a time, in the same
run. Building the crate is timed separately (it is cached by content: a second run
reports the cache). JAX on the CPU runs the same batch sizes in the same run (its scan-fused
rollout, `envc.bench`), so the table gives Rust/interpreter and Rust/JAX ratios measured
together. Public surface: `bench(module, ...) -> (rows, build seconds)`, `main(argv)`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np


def _time_rust(pkg, batch: int, threads: int, runs: int, seconds: float,
               observations: bool = True) -> tuple[float, float]:
    """(SPS, finished episodes per second), medians of `runs`. A simultaneous spec plays
    whole turns (`step_joint` with `sample_joint_actions`): its SPS counts turns. With
    `observations=False` the batch runs without the spec's `observe` (`VecEnv(...,
    observations=False)`): the loop of a search or a random rollout, which reads no observation."""
    # the option only where asked for: a crate generated before it existed (a golden of an
    # earlier commit, bench/choose_ab.py) takes the default call
    extra = {} if observations else {"observations": False}
    env = pkg.VecEnv(batch, threads=threads, autoreset=True, seed=0, **extra)
    joint = getattr(pkg, "SIMULTANEOUS", False)

    def one(t: int) -> None:
        if joint:
            env.step_joint(env.sample_joint_actions(t))
        else:
            env.step(env.sample_actions(t))

    t = 0
    for _ in range(10):  # warm-up: first touches of the buffers, the pool's threads
        one(t)
        t += 1
    # calibrate the number of steps to about `seconds` per run
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds / 5:
        one(t)
        t += 1
        n += 1
    steps = max(5, int(n * 5))
    sps, eps = [], []
    for _ in range(runs):
        done = 0
        start = time.perf_counter()
        for _ in range(steps):
            one(t)
            done += int(np.count_nonzero(env.terminated | env.truncated))
            t += 1
        elapsed = time.perf_counter() - start
        sps.append(batch * steps / elapsed)
        eps.append(done / elapsed)
    return statistics.median(sps), statistics.median(eps)


def _time_interpreter(module, runs: int, seconds: float) -> float:
    from envc.bench import random_step
    from envc.compiler.interp import Interpreter

    it = Interpreter(module)
    policy = np.random.default_rng(0)
    sps = []
    seed = 0
    for _ in range(runs):
        s = it.init(seed)
        steps = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            if s.terminated or s.truncated:
                seed += 1
                s = it.init(seed)
            s = random_step(it, s, policy)
            steps += 1
        sps.append(steps / (time.perf_counter() - start))
    return statistics.median(sps)


def bench(module, batches=(1, 64, 1024, 8192), threads=(1, 2), runs: int = 3, seconds: float = 0.5,
          progress=print, with_jax: bool = True, observations: bool = True) -> tuple[list[dict], float]:
    """Rows of {backend, threads, batch, sps, eps} (the interpreter first) and the build time in
    seconds. `observations=False`: the Rust and JAX rows run without observations (see
    `_time_rust`, and the JAX rollout's `observations=False`); the interpreter's always
    computes them."""
    from envc.verify import load_rust

    start = time.perf_counter()
    pkg = load_rust(module, progress=progress)
    build_s = time.perf_counter() - start
    rows = [{"backend": "interpreter", "threads": 1, "batch": 1,
             "sps": _time_interpreter(module, runs, seconds)}]
    progress(f"interpreter: {rows[0]['sps']:,.0f} SPS")
    for th in threads:
        for b in batches:
            sps, eps = _time_rust(pkg, b, th, runs, seconds, observations)
            rows.append({"backend": "rust", "threads": th, "batch": b, "sps": sps, "eps": eps})
            progress(f"rust threads={th} batch={b}: {sps:,.0f} SPS, {eps:,.0f} episodes/s")
    if with_jax:
        from envc.bench import bench_jax

        for r in bench_jax(module, list(batches), repeats=runs, observations=observations):
            rows.append({"backend": "jax", "threads": os.cpu_count(), "batch": r.batch, "sps": r.sps,
                         "eps": r.episodes_per_s, "compile_s": r.compile_s})
            progress(f"jax batch={r.batch}: {r.sps:,.0f} SPS, {r.episodes_per_s:,.0f} episodes/s "
                     f"(compile {r.compile_s:.1f}s)")
    return rows, build_s


def table(module, rows: list[dict], build_s: float, runs: int, observations: bool = True) -> str:
    """The rows as a Markdown table with the Rust/interpreter and Rust/JAX ratios; the title
    says when the Rust and JAX rows ran without observations."""
    interp = rows[0]["sps"]
    jax = {r["batch"]: r["sps"] for r in rows if r["backend"] == "jax"}
    mode = "" if observations else "; Rust and JAX rows without observations"
    lines = [f"{module.name}: random legal actions, SPS = environment steps per second, median of {runs} runs "
             f"({os.cpu_count()} CPUs; Rust build/load {build_s:.1f}s, not included{mode})", "",
             "| backend | threads | batch | SPS | x interpreter | rust / jax |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = f"{r['sps'] / jax[r['batch']]:.2f}" if r["backend"] == "rust" and r["batch"] in jax else ""
        lines.append(f"| {r['backend']} | {r['threads']} | {r['batch']} | {r['sps']:,.0f} | "
                     f"{r['sps'] / interp:,.1f} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python bench/rust_bench.py SPEC ...` (module docstring): print the SPS table; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec")
    parser.add_argument("--batches", default="1,64,1024,8192")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--no-jax", action="store_true", help="skip the JAX comparison")
    args = parser.parse_args(argv)
    from envc.compiler.check import load

    module = load(args.spec)
    batches = [int(x) for x in args.batches.split(",")]
    threads = [int(x) for x in args.threads.split(",")]
    rows, build_s = bench(module, batches, threads, args.runs, args.seconds,
                          progress=lambda text: print(text, file=sys.stderr), with_jax=not args.no_jax)
    print(table(module, rows, build_s, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
