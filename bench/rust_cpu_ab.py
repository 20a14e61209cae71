"""A/B of two built Rust packages of one spec, in turns (or steps) per CPU second.

    python bench/rust_cpu_ab.py envc_pokemon_gen1 SITE_A SITE_B [--batch 64,1024,8192]
                                [--rounds 3] [--work 2000000] [--observations]

A build from before the `observations=` option always observes: compare it with
`--observations` (the script says so otherwise).

SITE_A and SITE_B are the `site` folders of two builds (envc keeps each build under
`$ENVC_RUST_CACHE`, default `<tmp>/envc-rust/<spec>-<hash>/site`; `envc.verify.load_rust`
prints nothing, so build with it and take the newest folder). Each (batch, round) runs A
then B in fresh processes: `VecEnv(batch, threads=1, autoreset=True, seed=0)`, 10 warm-up
steps, then `work // batch` steps of the random legal policy (`step_joint(sample_joint_actions(t))`
for a simultaneous spec, else `step(sample_actions(t))`), timed with `time.process_time`.

Why CPU time: on a machine shared with other jobs (issue 19's runs had load 6-8 on two cores)
wall-clock SPS moved by 2x between runs of the same build; the process's own CPU time moves
far less, and A and B are interleaved so drifts hit both. Cache contention from the other jobs
still counts: compare A and B from the same run only. Prints one line per (batch, round) and
the medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
pkg = __import__(sys.argv[2])
batch, steps, obs = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
try:
    env = pkg.VecEnv(batch, threads=1, autoreset=True, seed=0, observations=obs)
except TypeError:  # a build from before `observations=`: it always computes them
    if not obs:
        sys.exit("this build has no `observations=` option (it always observes): compare with --observations")
    env = pkg.VecEnv(batch, threads=1, autoreset=True, seed=0)
joint = getattr(pkg, "SIMULTANEOUS", False)
def one(t):
    if joint:
        env.step_joint(env.sample_joint_actions(t))
    else:
        env.step(env.sample_actions(t))
for t in range(10):
    one(t)
c = time.process_time()
for t in range(10, 10 + steps):
    one(t)
print(batch * steps / (time.process_time() - c))
"""


def _run(site: str, package: str, batch: int, steps: int, observations: bool) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, site, package, str(batch), str(steps),
                          "1" if observations else "0"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{site}: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'failed'}")
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", help="the generated package's name, e.g. envc_pokemon_gen1")
    ap.add_argument("site_a")
    ap.add_argument("site_b")
    ap.add_argument("--batch", default="64,1024,8192")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=int, default=2_000_000, help="environment steps per run (batch x steps)")
    ap.add_argument("--observations", action="store_true", help="run the spec's observe (default: off)")
    args = ap.parse_args()
    print("| batch | A (per CPU s) | B (per CPU s) | B / A |\n|---:|---:|---:|---:|")
    for batch in [int(b) for b in args.batch.split(",")]:
        steps = max(10, args.work // batch)
        a, b = [], []
        for _ in range(args.rounds):
            a.append(_run(args.site_a, args.package, batch, steps, args.observations))
            b.append(_run(args.site_b, args.package, batch, steps, args.observations))
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"| {batch} | {ma:,.0f} | {mb:,.0f} | {mb / ma:.2f} |", flush=True)


if __name__ == "__main__":
    main()
