"""`envc bench`: steps per second of a compiled environment, and its compile time.

Public surface: `measure_rollout(make_rollout, batch, n_steps, repeats)`, `bench_jax(module,
batches, repeats)`, `bench_python(module, steps, seed, repeats)`, `random_step`, `BenchRow`.

Method (DESIGN.md, "Performance"): the environment runs `batch` copies for `n_steps`
steps of the uniformly random legal policy with auto-reset, fused into one `lax.scan`
and jitted. Compile time is the time to trace, lower and compile that function (reported
separately, never mixed into SPS), and its three stages on their own (`compile_stages`):
tracing the Python code to a jaxpr, lowering the jaxpr to StableHLO, and XLA's compile of
that to machine code (issue #18: which stage a slow compile spends its time in). SPS = batch * n_steps / wall seconds of one call,
after the compile, as the median of `repeats` calls with different keys. Memory is the
bytes of one batched State pytree, and the process's peak resident set size.
"""

from __future__ import annotations

import functools
import resource
import statistics
import time
from dataclasses import dataclass
from typing import Callable

from envc.jax_cache import compile_stages


@dataclass
class BenchRow:
    name: str
    batch: int
    n_steps: int
    sps: float  # median steps per second
    sps_runs: list[float]
    compile_s: float  # trace + lower + compile, seconds
    state_bytes: int  # bytes of the batched state (0 when unknown)
    peak_rss_mib: float
    episodes_per_s: float = 0.0  # finished episodes per second over the timed runs, when the rollout reports them
    trace_s: float = 0.0  # of compile_s: Python tracing to a jaxpr
    lower_s: float = 0.0  # of compile_s: the jaxpr lowered to StableHLO
    xla_s: float = 0.0  # of compile_s: XLA's compile (0.0 when JAX's compilation cache served it)
    cache: str = ""  # the exported program (`envc.jax_cache.compile_cached`): hit, miss, off: why; "" not used
    # the first runtime fault an environment recorded in the untimed run (`State._fault`, the
    # generated `fault_message`), or None
    fault: str | None = None


def steps_for(batch: int) -> int:
    """Scan length for a batch size: long enough to time, short enough to compile fast."""
    return max(64, min(1000, (1 << 19) // batch))


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB (`ru_maxrss`, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# Steps an episode counter runs a continued batch before it counts (`measure_rollout`'s
# `init`): every game of the first call starts at its first step, so the first episodes end
# together about one episode's length in; two calls of 64 steps at batch 8192 (a Pokémon
# battle is about 70 turns) or one of 128+ at smaller batches pass that wave.
WARM_STEPS = 128


def measure_rollout(name: str, rollout: Callable, batch: int, n_steps: int, repeats: int = 3,
                    env=None, init: Callable | None = None) -> BenchRow:
    """Time `rollout(key, n_steps, batch) -> (state, rewards, done)` (jitted here with static
    n_steps, batch): SPS is `batch * n_steps` over a call's wall seconds, the median of
    `repeats` calls; `episodes_per_s` the episodes that end (`done`) per second over those calls.

    With `init` (the generated `init(key) -> State`), the batch runs on from call to call: the
    first call's state is `vmap(init)` of keys from one seed, each call continues the state
    the previous one returned (the rollout's `state`), and the timed calls come after at least
    `WARM_STEPS` steps. So `episodes_per_s` counts the episodes of a running batch. Without
    it, every call starts every game at its first step and a scan not much longer than an
    episode undercounts them (Pokémon at batch 8192: 64 turns, battles of about 70). The
    compile figures are then `vmap(init)`'s and the rollout's together (the rollout without a
    state compiles `init` into itself).

    With `env` (the generated package `rollout` belongs to), the compiled programs come from
    `envc.jax_cache.compile_cached`: a repeat run reads the exported program instead of tracing
    the generated code again (`BenchRow.cache` says which); without it, the usual trace, lower
    and compile (`compile_stages`), as the A/B scripts that compare two modules want. A
    `functools.partial` of the rollout is keyed by the values it binds (`compile_cached`)."""
    import jax

    key = jax.random.PRNGKey(0)
    tag = ("envc.bench.measure_rollout", n_steps, batch)
    state = None
    if init is None:
        compiled, stages, cache = _compile(lambda k: rollout(k, n_steps, batch), (key,), env, tag)
        call = lambda k, _: compiled(k)  # noqa: E731  (the one signature of both cases)
        warm_calls = 1
    else:
        make, init_stages, _ = _compile(lambda k: jax.vmap(init)(jax.random.split(k, batch)), (key,), env,
                                        ("envc.bench.init", batch))
        state = make(key)
        call, stages, cache = _compile(lambda k, s: rollout(k, n_steps, batch, state=s), (key, state), env,
                                       (*tag, "continued"))
        stages = (stages[0] + init_stages[0], stages[1] + init_stages[1], stages[2] + init_stages[2])
        warm_calls = max(1, -(-WARM_STEPS // n_steps))
    for _ in range(warm_calls):  # warm-up (allocations, thread pools; the episodes' first wave)
        state = jax.block_until_ready(call(key, state))[0]  # (a call without `init` ignores it)
    fault = env.fault_message(state) if hasattr(env, "fault_message") else None
    state_bytes = sum(x.nbytes for x in jax.tree_util.tree_leaves(state))
    runs, episodes, seconds = [], 0.0, 0.0
    for r in range(repeats):
        start = time.perf_counter()
        result = jax.block_until_ready(call(jax.random.PRNGKey(r + 1), state))
        took = time.perf_counter() - start
        state = result[0]
        runs.append(batch * n_steps / took)
        episodes += float(result[2].sum()) if len(result) > 2 else 0.0
        seconds += took
    return BenchRow(name, batch, n_steps, statistics.median(runs), runs, sum(stages), state_bytes, peak_rss_mib(),
                    episodes / seconds, *stages, cache=cache, fault=fault)


def _compile(fn: Callable, args: tuple, env, tag: tuple) -> tuple[Callable, tuple[float, float, float], str]:
    """`jax.jit(fn)` compiled for `args`: through `compile_cached` when `env` is given (`tag`
    its key), else `compile_stages` (cache ""). Returns (callable, stage seconds, cache)."""
    import jax

    from envc.jax_cache import compile_cached

    if env is None:
        compiled, stages = compile_stages(jax.jit(fn), *args)
        return compiled, stages, ""
    program = compile_cached(fn, *args, env=env, key=tag)
    return program.run, program.stages, program.cache


def compare_rollouts(a: tuple[str, Callable], b: tuple[str, Callable], batch: int, n_steps: int,
                     repeats: int = 5, finals: list | None = None,
                     outputs: list | None = None) -> tuple[BenchRow, BenchRow]:
    """Time two rollouts of the same shape, interleaved (a, b, a, b, ...) after compiling both,
    so that drift in the machine's speed affects both sides of the ratio alike. `finals`, when
    given, receives each side's final batched state of its first (untimed) run; `outputs` that
    run's whole output (state, rewards, done, ...).

    JAX's in-process caches are cleared before each side's compile (`jax.clear_caches()`), so
    that both compiles are cold alike: the code the two sides share (a harness's policy and
    reset, jnp's own jitted helpers) is otherwise traced by the first side and found in the
    caches by the second, which made the side compiled first look slower (bench/RESULTS.md,
    "Both sides' compiles cold"). The persistent cache is the caller's (`envc.jax_cache`)."""
    import jax

    compiled, stages, state_bytes = [], [], []
    for _, rollout in (a, b):
        jax.clear_caches()
        fn = jax.jit(rollout, static_argnums=(1, 2))
        c, timed = compile_stages(fn, jax.random.PRNGKey(0), n_steps, batch)
        stages.append(timed)
        out = c(jax.random.PRNGKey(0))
        jax.block_until_ready(out)
        state_bytes.append(sum(x.nbytes for x in jax.tree_util.tree_leaves(out[0])))
        if finals is not None:
            finals.append(out[0])
        if outputs is not None:
            outputs.append(out)
        compiled.append(c)
    runs: list[list[float]] = [[], []]
    for r in range(repeats):
        for side in (0, 1):
            start = time.perf_counter()
            jax.block_until_ready(compiled[side](jax.random.PRNGKey(r + 1)))
            runs[side].append(batch * n_steps / (time.perf_counter() - start))
    first, second = (BenchRow(name, batch, n_steps, statistics.median(runs[i]), runs[i], sum(stages[i]), state_bytes[i],
                              peak_rss_mib(), 0.0, *stages[i]) for i, (name, _) in enumerate((a, b)))
    return first, second


def bench_jax(module, batches: list[int], repeats: int = 3, progress: Callable[[], None] | None = None,
              phase: Callable[[str], None] | None = None, ctx=None, observations: bool = True) -> list[BenchRow]:
    """Benchmark the generated JAX environment of `module` at each batch size. A simultaneous
    spec plays whole turns (`rollout_joint`: every player's action at once): its SPS counts
    turns (joint steps). `phase(text)` names the batch being compiled and timed, for a
    progress display; `ctx` (`envc.compiler.pipeline.PassContext`) the generation's options
    (`--no-record-faults`). Raises `SpecRuntimeError` with the first environment's message
    when one faulted (its SPS would time a game the spec says cannot happen: a hunt saw the
    table of a spec whose every step faulted), as the interpreter and Rust benches do.
    `observations=False`: the rollout computes no observation after a step (its
    `observations=False`), the loop of a search or of a peer engine that has none."""
    from envc.compiler.interp import SpecRuntimeError
    from envc.verify import load_jax

    env = load_jax(module, ctx)
    rollout = env.rollout_joint if module.simultaneous is not None else env.rollout
    if not observations:
        rollout = functools.partial(rollout, observations=False)
    rows = []
    for b in batches:
        if phase:
            phase(f"batch {b}: compiling, then timing")
        rows.append(measure_rollout(f"envc {module.name}", rollout, b, steps_for(b), repeats, env=env,
                                    init=env.init))
        if rows[-1].fault is not None:
            raise SpecRuntimeError(rows[-1].fault)
        if progress:
            progress()
    return rows


def bench_python(module, steps: int = 2000, seed: int = 0, repeats: int = 1) -> list[float]:
    """SPS of the reference interpreter (one environment, random legal policy, auto-reset),
    one figure per run: `repeats` runs of `steps` steps on one `Interpreter` (the first run
    also turns the spec's IR into closures, as any first use does), each from `seed`."""
    import numpy as np

    from envc.compiler.interp import Interpreter

    it = Interpreter(module)
    runs = []
    for _ in range(repeats):
        policy = np.random.default_rng(seed)
        s = it.init(seed)
        episode = 0
        start = time.perf_counter()
        for _ in range(steps):
            if s.terminated or s.truncated:
                episode += 1
                s = it.init(seed + episode)
            s = random_step(it, s, policy)
        runs.append(steps / (time.perf_counter() - start))
    return runs


def random_step(it, s, policy):
    """One step of the uniformly random legal policy on the interpreter: a whole turn
    (`step_joint`) for a simultaneous spec, else one action of the player to move.

    Raises:
        SpecRuntimeError: a fault of the spec, or a state that has not ended where a player
            has no legal action (the policy has nothing to pick; `envc run` reports the same).
    """
    import numpy as np

    from envc.compiler.interp import SpecRuntimeError

    rows = [s.legal_action_mask] if it.module.simultaneous is None else it.legal_action_masks(s)
    legal = [np.flatnonzero(row) for row in rows]
    if any(len(x) == 0 for x in legal):
        raise SpecRuntimeError("a non-terminal state has no legal action")
    if it.module.simultaneous is None:
        return it.step(s, int(policy.choice(legal[0])))
    return it.step_joint(s, [int(policy.choice(x)) for x in legal])
