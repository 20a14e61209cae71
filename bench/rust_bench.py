"""Steps per second of the Rust backend's batch class beside the reference interpreter.

    python bench/rust_bench.py specs/tictactoe.envspec [--batches 1,64,1024,8192] [--threads 1,2]
                               [--runs 3] [--seconds 0.5]

For each thread count and batch size, `VecEnv(batch, threads, autoreset=True)` plays
uniformly random legal actions (drawn in Rust by `VecEnv.sample_actions`, so that NumPy
does not dominate small environments), one Python->Rust call per batch step for the
actions and one for the step; SPS counts environment transitions per wall-clock second,
the median of `--runs` timed runs of about `--seconds` each, after a warm-up. The
interpreter plays the same random legal policy, one environment at a time, in the same
run. Building the crate is timed separately (it is cached by content: a second run
reports the cache). Public surface: `bench(module, ...) -> list[dict]`, `main(argv)`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np


def _time_rust(pkg, batch: int, threads: int, runs: int, seconds: float) -> float:
    env = pkg.VecEnv(batch, threads=threads, autoreset=True, seed=0)
    t = 0
    for _ in range(10):  # warm-up: first touches of the buffers, the pool's threads
        env.step(env.sample_actions(t))
        t += 1
    # calibrate the number of steps to about `seconds` per run
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds / 5:
        env.step(env.sample_actions(t))
        t += 1
        n += 1
    steps = max(5, int(n * 5))
    sps = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(steps):
            env.step(env.sample_actions(t))
            t += 1
        sps.append(batch * steps / (time.perf_counter() - start))
    return statistics.median(sps)


def _time_interpreter(module, runs: int, seconds: float) -> float:
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
            s = it.step(s, int(policy.choice(np.flatnonzero(s.legal_action_mask))))
            steps += 1
        sps.append(steps / (time.perf_counter() - start))
    return statistics.median(sps)


def bench(module, batches=(1, 64, 1024, 8192), threads=(1, 2), runs: int = 3, seconds: float = 0.5,
          progress=print) -> tuple[list[dict], float]:
    """Rows of {backend, threads, batch, sps} (the interpreter first) and the build time in seconds."""
    from envc.verify import load_rust

    start = time.perf_counter()
    pkg = load_rust(module, progress=progress)
    build_s = time.perf_counter() - start
    rows = [{"backend": "interpreter", "threads": 1, "batch": 1,
             "sps": _time_interpreter(module, runs, seconds)}]
    progress(f"interpreter: {rows[0]['sps']:,.0f} SPS")
    for th in threads:
        for b in batches:
            sps = _time_rust(pkg, b, th, runs, seconds)
            rows.append({"backend": "rust", "threads": th, "batch": b, "sps": sps})
            progress(f"rust threads={th} batch={b}: {sps:,.0f} SPS")
    return rows, build_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec")
    parser.add_argument("--batches", default="1,64,1024,8192")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    from envc.compiler.check import load

    module = load(args.spec)
    batches = [int(x) for x in args.batches.split(",")]
    threads = [int(x) for x in args.threads.split(",")]
    rows, build_s = bench(module, batches, threads, args.runs, args.seconds,
                          progress=lambda text: print(text, file=sys.stderr))
    interp = rows[0]["sps"]
    print(f"\n{module.name}: random legal actions, SPS = environment steps per second, median of {args.runs} runs "
          f"({os.cpu_count()} CPUs; Rust build/load {build_s:.1f}s, not included)")
    print(f"{'backend':<12} {'threads':>7} {'batch':>6} {'SPS':>14} {'x interpreter':>14}")
    for r in rows:
        print(f"{r['backend']:<12} {r['threads']:>7} {r['batch']:>6} {r['sps']:>14,.0f} {r['sps'] / interp:>14,.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
