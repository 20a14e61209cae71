"""Where a cold JIT compile goes inside XLA:CPU, and which generated functions its kernels come from.

    python bench/compile_profile.py specs/tcg.envspec [--batch 64] [--steps 16] [--top 20]
    python bench/compile_profile.py specs/tcg.envspec --module old_env.py    # another generated module

`envc bench` splits a compile into trace, lower and XLA (`envc.jax_cache.compile_stages`);
for the TCG, XLA is most of it (bench/RESULTS.md). This script opens XLA's part: it compiles
the spec's generated `rollout` with its defaults, as `envc bench` does (`--rollout
rollout_joint` for a simultaneous spec; `--full-reset`: `reset_bound=batch`, as
bench/jax_vs_peers.py runs it; `--user-loop`: the user's `vmap(init)`/`vmap(step)` loop of
bench/jax_vs_peers.py) once, cold (JAX's persistent compilation cache off), under JAX's
profiler, and prints

1. XLA:CPU's stages, from the compiler's own trace spans (XLA names them; jax 0.10.2):
   the HLO passes up to layout assignment and after it, the emission of each fused kernel
   (`ThunkEmitter::EmitEntryComputation`: every fusion through XLA's MLIR emitters to LLVM
   IR; the number of kernels is the number of `FusionCompiler::Compile` spans), LLVM's
   compile to machine code (`JitCompiler::Compile`), and the rest. A stage whose span is
   missing (another JAX version) is printed as such, not guessed.
2. The spans with the most exclusive time (a span's time less that of spans nested in it on
   the same thread; XLA's codegen threads run in parallel, so the sum can exceed the wall).
3. A census of the optimized HLO (`compiled.as_text()`): fusions, copies, conditionals and
   loops, and the fusions and copies by the generated function their instruction comes from
   (the innermost frame in the generated module of the instruction's `stack_frame_id`).
   Each fusion is one kernel to emit and compile (XLA may share identical ones); each copy is
   one buffer copy at run time (XLA's copy insertion adds them, e.g. where a loop or a branch
   of a conditional passes a value through).

Everything runs on the CPU; no GPU needed. The profiler slows XLA's compile (the TCG at
batch 64: about 90 s under it against 55-60 s without), so read the stages as shares, and
time compiles with `envc bench`. One run for the TCG takes about 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import xla_ops  # noqa: E402  (bench/, first on sys.path)
from parts_ab import load_module  # noqa: E402

from envc import jax_cache  # noqa: E402

# XLA:CPU's spans for its stages (prefixes of the span names; XLA appends the module's name
# to some). Order: as they run. `total` encloses the others.
STAGES = (
    ("HLO passes through layout assignment", "HLO passes, up to layout assignment"),
    ("HLO passes after layout assignment", "HLO passes, after layout assignment"),
    ("ThunkEmitter::EmitEntryComputation", "kernels emitted (fusions to LLVM IR)"),
    ("JitCompiler::Compile", "LLVM, IR to machine code"),
)
TOTAL = "PjRtCpuClient::Compile"
KERNEL = "FusionCompiler::Compile"


def _spans(events: list[dict]) -> list[tuple]:
    """Complete spans (`ph` X) as (thread, start, duration, name), sorted by thread and start,
    the longer of two spans that start together (the enclosing one) first."""
    spans = [((e.get("pid"), e.get("tid")), e["ts"], e.get("dur", 0), e.get("name", "")) for e in events
             if e.get("ph") == "X"]
    return sorted(spans, key=lambda s: (s[0], s[1], -s[2]))


def stage_times(events: list[dict]) -> dict[str, float | None]:
    """Seconds per stage of `STAGES` (by its label), `total` (the enclosing compile span) and
    `other` (total less the stages); a stage without a span is None. A stage's spans nested in
    another span of the same stage count once (the outer one). Also `kernels`: how many
    `FusionCompiler::Compile` spans ran."""
    spans = _spans(events)
    out: dict[str, float | None] = {}
    for prefix, label in STAGES + ((TOTAL, "total"),):
        ends: dict[tuple, float] = {}  # thread -> end of the last counted span of this stage
        total = None
        for thread, ts, dur, name in spans:
            if not name.startswith(prefix) or ts < ends.get(thread, float("-inf")):
                continue
            ends[thread] = ts + dur
            total = (total or 0.0) + dur / 1e6
        out[label] = total
    known = [out[label] for _, label in STAGES if out[label] is not None]
    out["other"] = None if out["total"] is None else out["total"] - sum(known)
    out["kernels"] = float(sum(1 for *_, name in spans if name == KERNEL))
    return out


def exclusive_times(events: list[dict]) -> collections.Counter:
    """Exclusive seconds per span name (`xla_ops.exclusive_times`: a span's duration less that
    of the spans nested in it on the same thread), Python frames (`$file:line function`) left
    out."""
    micros = xla_ops.exclusive_times(events, skip=("$",))
    return collections.Counter({name: t / 1e6 for name, t in micros.items() if isinstance(name, str)})


@dataclass
class HloCensus:
    """What an optimized HLO module holds (outside fused computations): instructions by
    opcode, and fusions and copies by the generated function they come from."""

    ops: collections.Counter = field(default_factory=collections.Counter)
    fusions_by_fn: collections.Counter = field(default_factory=collections.Counter)
    copies_by_fn: collections.Counter = field(default_factory=collections.Counter)


_SECTIONS = ("FileNames", "FunctionNames", "FileLocations", "StackFrames")
_INSTR = re.compile(r"\s+(?:ROOT )?%[\w.\-]+ = .*? ([a-z][\w\-]*)\(")


def _frame_tables(lines: list[str]) -> tuple[dict, dict, dict, dict]:
    """The HLO text's stack-frame sections: file names, function names, locations
    (id -> (file id, function id)) and frames (id -> (location id, parent frame id))."""
    tables: dict[str, dict] = {s: {} for s in _SECTIONS}
    section = None
    for line in lines:
        if line in _SECTIONS:
            section = line
            continue
        if section is None or not line.strip():
            continue
        key, _, rest = line.partition(" ")
        if not key.isdigit():
            section = None
            continue
        if section in ("FileNames", "FunctionNames"):
            tables[section][int(key)] = rest.strip().strip('"')
        elif section == "FileLocations":
            m = re.search(r"file_name_id=(\d+) function_name_id=(\d+)", rest)
            if m:
                tables[section][int(key)] = (int(m.group(1)), int(m.group(2)))
        else:
            m = re.search(r"file_location_id=(\d+) parent_frame_id=(\d+)", rest)
            if m:
                tables[section][int(key)] = (int(m.group(1)), int(m.group(2)))
    return tables["FileNames"], tables["FunctionNames"], tables["FileLocations"], tables["StackFrames"]


def _function_of(frame: int, source: str, tables: tuple[dict, dict, dict, dict]) -> str:
    """The innermost function of frame `frame`'s chain that lies in file `source` (its base
    name matched), or "(elsewhere)". A root frame is its own parent in XLA's text. (XLA's
    text keeps one or two frames of most chains, so a runtime helper such as `_select` is
    named, not the spec's function that called it.)"""
    files, functions, locations, frames = tables
    seen = set()
    while frame in frames and frame not in seen:
        seen.add(frame)
        location, parent = frames[frame]
        file_id, function_id = locations.get(location, (None, None))
        if os.path.basename(files.get(file_id, "")) == source:
            return functions.get(function_id, "?")
        frame = parent
    return "(elsewhere)"


def hlo_census(text: str, source: str) -> HloCensus:
    """Count the instructions of optimized HLO `text` that are not inside a fused computation
    (those are the program's kernels, copies, loops, ...), and attribute its fusions and copies
    to functions of the generated file whose base name is `source` (e.g. "env.py")."""
    lines = text.split("\n")
    tables = _frame_tables(lines)
    census = HloCensus()
    fused = False
    for line in lines:
        if line and not line.startswith(" "):
            # a computation's header: `%fused_computation.3 (...) -> ... {`; fused and wrapped
            # computations are the bodies of fusion kernels
            fused = bool(re.match(r"%?(fused|wrapped)", line))
            continue
        m = _INSTR.match(line)
        if fused or not m:
            continue
        op = m.group(1)
        census.ops[op] += 1
        if op not in ("fusion", "copy"):
            continue
        frame = re.search(r"stack_frame_id=(\d+)", line)
        fn = _function_of(int(frame.group(1)), source, tables) if frame else "(no frame)"
        (census.fusions_by_fn if op == "fusion" else census.copies_by_fn)[fn] += 1
    return census


def _load_env(args):
    """The generated JAX module: `--module FILE`, else generated from the spec."""
    if args.module:
        return load_module("envc_profiled_module", args.module)
    from envc.compiler.check import load
    from envc.compiler.diagnostics import DiagnosticError, render_all
    from envc.verify import load_jax

    try:
        return load_jax(load(args.spec))
    except DiagnosticError as e:
        raise SystemExit(render_all(e.diagnostics)) from None


def _program(env, args):
    """The function to compile, `fn(key, n_steps, batch)`."""
    from jax_vs_peers import full_reset, pgx_api_loop

    if args.user_loop:
        return pgx_api_loop(env.Env())
    rollout = getattr(env, args.rollout)
    return full_reset(rollout) if args.full_reset else rollout


def _print_stages(stages: dict, xla_s: float) -> None:
    print("\n| XLA:CPU stage | s | share of XLA |")
    print("|---|---:|---:|")
    for label in [lb for _, lb in STAGES] + ["other", "total"]:
        value = stages[label]
        shown = "(no span)" if value is None else f"{value:.2f}"
        share = "" if value is None else f"{value / xla_s:.0%}"
        print(f"| {label} | {shown} | {share} |")
    print(f"kernels compiled (`{KERNEL}` spans): {stages['kernels']:,.0f}")


def _print_census(census: HloCensus, top: int) -> None:
    ops = census.ops
    print(f"\noptimized HLO outside fused computations: {sum(ops.values()):,} instructions; fusion {ops['fusion']:,}, "
          f"copy {ops['copy']:,}, conditional {ops['conditional']:,}, while {ops['while']:,}")
    print("\n| generated function | fusions | copies |")
    print("|---|---:|---:|")
    fns = set(census.fusions_by_fn) | set(census.copies_by_fn)
    for fn in sorted(fns, key=lambda f: -(census.fusions_by_fn[f] + census.copies_by_fn[f]))[:top]:
        print(f"| `{fn}` | {census.fusions_by_fn[fn]:,} | {census.copies_by_fn[fn]:,} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec", help="the .envspec whose generated rollout is compiled")
    ap.add_argument("--module", metavar="FILE", help="compile this generated env.py instead of generating one")
    ap.add_argument("--rollout", default="rollout", choices=["rollout", "rollout_joint"],
                    help="the generated rollout (rollout_joint for a simultaneous spec)")
    ap.add_argument("--full-reset", action="store_true",
                    help="the rollout with reset_bound=batch (bench/jax_vs_peers.py's harness), not its defaults")
    ap.add_argument("--user-loop", action="store_true", help="the user's vmap(init)/vmap(step)/select loop")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=16, help="steps per call (one lax.scan)")
    ap.add_argument("--top", type=int, default=20, help="rows of the span and function tables")
    args = ap.parse_args()
    if args.batch < 1 or args.steps < 1:
        ap.error("--batch and --steps must be at least 1")
    if not args.spec.endswith(".envspec") or not os.path.isfile(args.spec):
        ap.error(f"`{args.spec}` is not an .envspec file")
    jax_cache.disable()  # a cold compile: JAX's cache off, and the generated module's
    import jax

    env = _load_env(args)
    fn = jax.jit(_program(env, args), static_argnums=(1, 2))
    what = "user loop" if args.user_loop else args.rollout + (" (reset_bound=batch)" if args.full_reset else "")
    print(f"# {args.module or args.spec}: {what}, batch {args.batch} x "
          f"{args.steps} steps, cold compile; {os.cpu_count()} cpus, jax {jax.__version__}, load {os.getloadavg()[0]:.2f}")
    start = time.perf_counter()
    traced = fn.trace(jax.random.PRNGKey(0), args.steps, args.batch)
    traced_at = time.perf_counter()
    lowered = traced.lower()
    lowered_at = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="envc-compile-profile-") as folder:
        with jax.profiler.trace(folder):
            compiled = lowered.compile()
        xla_s = time.perf_counter() - lowered_at
        files = glob.glob(os.path.join(folder, "**", "*.trace.json.gz"), recursive=True)
        if not files:
            raise SystemExit("error: the profiler wrote no trace")
        events = xla_ops.read_trace(files[0])
    print(f"trace {traced_at - start:.2f} s, lower {lowered_at - traced_at:.2f} s, XLA {xla_s:.2f} s (under the profiler)")
    _print_stages(stage_times(events), xla_s)
    print("\n| span (exclusive, all threads) | s |")
    print("|---|---:|")
    for name, seconds in exclusive_times(events).most_common(args.top):
        print(f"| `{name[:100]}` | {seconds:.2f} |")
    source = os.path.basename(args.module) if args.module else "env.py"
    _print_census(hlo_census(compiled.as_text(), source), args.top)


if __name__ == "__main__":
    main()
