"""Where a rollout's time goes inside XLA: each compiled operation's time per step, envc beside its peer.

    python bench/xla_ops.py acrobot [--user-loop] [--batch 1024] [--steps 64] [--calls 3] [--top 15]

`bench/profile_parts.py` times the parts the generated module exposes, each jitted alone;
what XLA then fuses across them (the step's flags into the reset's selects, an `init` into
the carry's layout) only shows in the whole program. This script runs the same rollouts as
`bench/jax_vs_peers.py` (the rollout mode, or the user's own loop with `--user-loop`: one
harness for both sides), under JAX's profiler with XLA:CPU's per-operation trace events on
(`--xla_cpu_enable_xprof_traceme`, set before XLA:CPU starts), and prints for each side the
operations that took the most time: exclusive microseconds per step of the whole batch (an
operation's time less that of the operations nested in it, so a loop's own time without its
body's operations, which are listed by their own names; summed over the `--calls` profiled
calls, divided by calls x steps), how many times each ran per step, and the operation's name
in the optimized HLO (a `while.N` is a loop, e.g. a threefry hash or a rolled `for`;
`..._fusion` a fused loop). The per-step total of all operations and the wall time of a call
head each table. The total can exceed the wall time: XLA:CPU runs a fusion's partitions on
several cores at once (`outer_dimension_partitions`). A large program, such as the TCG's,
can overflow the profiler's event buffer: an operation that runs once a step then shows a
fraction of a run per step (1,024 x 16 TCG steps: 0.71 at `--calls 3`, 1 at `--calls 1`), so
profile one call there. With the profiler on, every operation is
slower by the same trace overhead, so compare sides and operations, not absolute figures
with bench/jax_vs_peers.py's.

    python bench/xla_ops.py acrobot --user-loop --hlo /tmp/acrobot   # also writes each side's optimized HLO
    python bench/xla_ops.py specs/tcg.envspec --steps 16              # any spec: envc's side alone

`--hlo DIR` writes each side's optimized HLO text (`compiled.as_text()`), where an
operation's fused computation (`calls=%fused_computation.N`) shows what it computes.
Everything runs on the CPU (or the default JAX device); no GPU needed.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import sys
import tempfile
import time

import jax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from jax_vs_peers import PAIRS, USER_LOOPS, full_reset, pgx_api_loop  # noqa: E402

from envc.compiler.check import load  # noqa: E402
from envc.compiler.diagnostics import DiagnosticError, render_all  # noqa: E402
from envc.verify import load_jax  # noqa: E402

# Trace events that are not one compiled operation: the profiler's and the executor's own
# spans, and Python frames (named `$file:line function`).
_NOT_OPS = ("ThunkExecutor", "PjitFunction", "$")


def read_trace(trace_file: str) -> list[dict]:
    """The events of a Perfetto trace file (`*.trace.json.gz`)."""
    with gzip.open(trace_file) as f:
        events = json.load(f)
    return events["traceEvents"] if isinstance(events, dict) else events


def exclusive_times(events: list[dict], skip: tuple[str, ...] = _NOT_OPS) -> collections.Counter:
    """Exclusive microseconds per span name of trace `events` (complete spans, `ph` X, whose
    name starts with none of `skip`): a span's time less that of the spans nested in it on the
    same thread (a `while`'s body runs inside it), and the number of times each ran under the
    key `(name, "count")`."""
    spans = sorted(((e["pid"], e["tid"], e["ts"], -e.get("dur", 0), e["name"]) for e in events
                    if e.get("ph") == "X" and not e.get("name", "").startswith(skip)))
    out: collections.Counter = collections.Counter()
    stack: list[tuple[tuple, float, str]] = []  # (thread, end, name) of the enclosing spans
    for pid, tid, ts, neg_dur, name in spans:
        dur = -neg_dur
        while stack and (stack[-1][0] != (pid, tid) or stack[-1][1] <= ts):
            stack.pop()
        if stack:
            out[stack[-1][2]] -= dur  # the parent's time excludes this nested span's
        out[name] += dur
        out[(name, "count")] += 1
        stack.append(((pid, tid), ts + dur, name))
    return out


def op_times(trace_file: str) -> collections.Counter:
    """Exclusive microseconds per operation name in a Perfetto trace (`*.trace.json.gz`), and
    the number of times each ran under `(name, "count")` (`exclusive_times`, the executor's,
    the profiler's and Python's own spans left out)."""
    return exclusive_times(read_trace(trace_file))


def profile(fn, key, n_steps: int, batch: int, calls: int) -> tuple[collections.Counter, float, str]:
    """`fn(key, n_steps, batch)` compiled once, then `calls` calls under the profiler: the
    operations' times (`op_times`), the median wall seconds of a profiled call and the
    compiled program's optimized HLO text."""
    compiled = jax.jit(fn, static_argnums=(1, 2)).lower(key, n_steps, batch).compile()
    jax.block_until_ready(compiled(key))
    walls = []
    with tempfile.TemporaryDirectory(prefix="envc-xla-ops-") as folder:
        with jax.profiler.trace(folder, create_perfetto_trace=True):
            for _ in range(calls):
                start = time.perf_counter()
                jax.block_until_ready(compiled(key))
                walls.append(time.perf_counter() - start)
        files = glob.glob(os.path.join(folder, "**", "*.trace.json.gz"), recursive=True)
        if not files:
            raise SystemExit("error: the profiler wrote no Perfetto trace")
        times = op_times(files[0])
    return times, sorted(walls)[len(walls) // 2], compiled.as_text()


def report(side: str, times: collections.Counter, wall: float, per: int, top: int) -> None:
    """Print one side's table: the `top` costliest operations in microseconds per step."""
    names = [n for n in times if isinstance(n, str)]
    names.sort(key=lambda n: -times[n])
    total = sum(times[n] for n in names)
    print(f"\n{side}: {total / per:,.1f} us of operations per step, {wall * 1e3:,.1f} ms per profiled call")
    print("| us per step | runs per step | share | operation |")
    print("|---:|---:|---:|---|")
    for n in names[:top]:
        print(f"| {times[n] / per:,.1f} | {times[(n, 'count')] / per:g} | {times[n] / total:.1%} | `{n}` |")


def _sides(args, ap) -> dict:
    """The rollouts to profile, by name: envc's and its peer's for a pair, envc's alone for a
    spec's path."""
    if args.env in PAIRS:
        peer_name, make_peer = PAIRS[args.env]
        env = load_jax(load(os.path.join(ROOT, "specs", f"{args.env}.envspec")))
        return {
            f"envc {args.env}": pgx_api_loop(env.Env()) if args.user_loop else full_reset(env.rollout),
            peer_name: USER_LOOPS[args.env]() if args.user_loop else make_peer(),
        }
    if not args.env.endswith(".envspec") or not os.path.isfile(args.env):
        ap.error(f"`{args.env}` is neither a pair ({', '.join(sorted(PAIRS))}) nor an .envspec file")
    try:
        env = load_jax(load(args.env))
    except DiagnosticError as e:
        raise SystemExit(render_all(e.diagnostics)) from None
    if args.user_loop:
        return {f"envc {os.path.basename(args.env)}": pgx_api_loop(env.Env())}
    rollout = getattr(env, args.rollout)
    return {f"envc {os.path.basename(args.env)}": rollout if args.default_reset else full_reset(rollout)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("env", help=f"a spec with a peer ({', '.join(sorted(PAIRS))}: bench/jax_vs_peers.py's pairs), "
                    "or the path of any .envspec (envc's side alone)")
    ap.add_argument("--rollout", default="rollout", choices=["rollout", "rollout_joint"],
                    help="with a spec's path: the generated rollout to profile (rollout_joint for a simultaneous spec)")
    ap.add_argument("--user-loop", action="store_true", help="the user's vmap(init)/vmap(step)/select loop, not the rollout")
    ap.add_argument("--default-reset", action="store_true",
                    help="a spec's own rollout as it ships (compacted reset; the TCG's kinds on their rows from batch 1024), "
                         "not the per-environment reset the peers' harness runs (spec files only)")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=64, help="steps per call (one lax.scan)")
    ap.add_argument("--calls", type=int, default=3, help="profiled calls per side")
    ap.add_argument("--top", type=int, default=15, help="operations listed per side")
    ap.add_argument("--hlo", metavar="DIR", help="also write each side's optimized HLO text to DIR")
    args = ap.parse_args()
    # XLA:CPU reads its flags once, when its backend starts (the first computation, which
    # loading the generated module already runs): set them before anything else
    flag = "--xla_cpu_enable_xprof_traceme=true"
    if flag not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()
    if args.batch < 1 or args.steps < 1 or args.calls < 1:
        ap.error("--batch, --steps and --calls must be at least 1")
    sides = _sides(args, ap)
    mode = "user loop" if args.user_loop else "rollout (per-environment reset on both sides)"
    device = jax.devices()[0]
    print(f"# {' vs '.join(sides)}, {mode}, batch {args.batch} x {args.steps} steps, {args.calls} profiled calls; "
          f"device {device.platform}, {os.cpu_count()} cpus, jax {jax.__version__}, load {os.getloadavg()[0]:.2f}")
    key = jax.random.PRNGKey(0)
    per = args.calls * args.steps
    for side, fn in sides.items():
        times, wall, hlo = profile(fn, key, args.steps, args.batch, args.calls)
        report(side, times, wall, per, args.top)
        if args.hlo:
            os.makedirs(args.hlo, exist_ok=True)
            path = os.path.join(args.hlo, side.replace(" ", "_").replace("/", "_") + ".hlo.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write(hlo)
            print(f"(optimized HLO: {path})")


if __name__ == "__main__":
    main()
