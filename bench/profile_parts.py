"""Where a generated JAX environment's step time goes: each part timed on its own.

    python bench/profile_parts.py specs/othello.envspec [--batch 1024,8192] [--repeats 7] [--warmup 20]
                                                        [--pgx othello | --gymnax Acrobot-v1]

Each part of the generated module is jitted under `vmap` and timed on the same batch of
states, reached by `--warmup` steps of the uniformly random legal policy from `init` (so
the boards are mid-game, not empty):

* `mask <kind>`: the kind's legal-action mask, its guard at every flat index (`m_<kind>`;
  none for a kind without a guard);
* `body <kind>`: the kind's action body at a random legal index of that kind (`a_<kind>`);
* `observe`: the observation of the current player;
* `step`: the whole `step` (all masks of the next state, the bodies of every kind under
  `lax.switch`, which `vmap` turns into all of them, the observation, the Pgx rules);
* `step_autoreset_from_seed`: what `rollout` runs per step (step + a fresh `init` selected
  where the episode ended);
* `init_from_seed`: a fresh state alone (`init (key)`: from a JAX key, as a user calls it); `step, then select init_from_seed`: the finished
  states of `step` and `init_from_seed` selected afterwards (the auto-reset before issue 18's
  fix, and what a user's own select-based loop does);
* with `--pgx ENV_ID`, `pgx step` and `pgx auto_reset step`: the peer's `step` (and with
  `pgx.experimental.auto_reset`, as bench/jax_vs_peers.py runs it), and `pgx init (key)`, on a batch of its own
  states reached by the same number of random legal steps, timed in the same rounds;
  with `--gymnax ENV_ID`, `gymnax step_env` and `gymnax step` (with its auto-reset) alike.

The parts are timed alternately, `--repeats` rounds, and each row gives the median
milliseconds per call of the whole batch (and the fastest call: steadier under load),
microseconds per environment, its share of
`step`, XLA's count of floating-point and integer operations per environment
(`cost_analysis()["flops"]`, which does not depend on the machine's load) and the compile
time (lower + compile). Parts overlap (the step contains the masks): the shares
need not add up to 100%. The names are those of the generated module (see its docstrings).
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from envc.compiler.check import load  # noqa: E402
from envc.verify import load_jax  # noqa: E402


def reached_states(env, batch: int, warmup: int, seed: int = 0):
    """A batch of states after `warmup` random legal steps with auto-reset, and a key."""
    key = jax.random.PRNGKey(seed)
    state = jax.jit(jax.vmap(env.init_from_seed))(jnp.arange(batch, dtype=jnp.uint32))

    @jax.jit
    def advance(state, key):
        key, k_act, k_seed = jax.random.split(key, 3)
        actions = jax.vmap(env.random_legal_action)(jax.random.split(k_act, batch), state)
        seeds = jax.random.bits(k_seed, (batch,), jnp.uint32)
        return jax.vmap(env.step_autoreset_from_seed)(state, actions, seeds)[0], key

    for _ in range(warmup):
        state, key = advance(state, key)
    return state, key


def parts(env, state, key):
    """name -> (function of the batch, its arguments)."""
    gen = env.env
    st = jax.vmap(gen._to_dict)(state)
    actions = jax.vmap(env.random_legal_action)(jax.random.split(key, state.current_player.shape[0]), state)
    out = {}
    for kind, first, n in gen.ACTION_KINDS:
        if hasattr(gen, f"m_{kind}"):  # a kind without a guard has no mask function
            # a mask that reuses other kinds' masks (`mv_<kind>` arguments, issue 18) gets them
            # computed beforehand: its part is what it adds
            fn = getattr(gen, f"m_{kind}")
            deps = [name for name in inspect.signature(fn).parameters if name.startswith("mv_")]
            args = (st, *(jax.vmap(getattr(gen, "m_" + d[3:]))(st) for d in deps))
            out[f"mask {kind}"] = (jax.vmap(fn), args)
        if not hasattr(gen, f"a_{kind}"):  # a decision (`choose`) resumes another kind's body
            continue
        index = jnp.where((actions >= first) & (actions < first + n), actions - first, 0)
        out[f"body {kind}"] = (jax.vmap(getattr(gen, f"a_{kind}")), (st, index))
    out["observe"] = (jax.vmap(lambda s: gen._observe(s, s["current_player"])), (st,))
    out["step"] = (jax.vmap(env.step), (state, actions))
    seeds = jax.random.bits(key, actions.shape, jnp.uint32)
    out["step_autoreset_from_seed"] = (jax.vmap(env.step_autoreset_from_seed), (state, actions, seeds))
    out["init_from_seed"] = (jax.vmap(env.init_from_seed), (seeds,))
    out["init (key)"] = (jax.vmap(env.init), (jax.random.split(key, actions.shape[0]),))
    out["step, then select init_from_seed"] = (jax.vmap(_select_after_step(gen)), (state, actions, seeds))
    return out


def _select_after_step(gen):
    """The auto-reset step as generated before issue 18's fix: the finished `State`s of `step`
    and `init_from_seed` selected field by field (what a user's select-based loop does too)."""
    def fn(state, action, seed):
        nxt = gen.step(state, action)
        done = nxt.terminated | nxt.truncated
        return jax.tree_util.tree_map(lambda f, n: jnp.where(done, f, n), gen.init_from_seed(seed), nxt)
    return fn


def pgx_parts(env_id: str, batch: int, warmup: int, seed: int = 0):
    """The peer's step and auto-reset step on `batch` Pgx states after `warmup` random legal steps."""
    import pgx
    from pgx.experimental import auto_reset

    env = pgx.make(env_id)
    key = jax.random.PRNGKey(seed)
    state = jax.jit(jax.vmap(env.init))(jax.random.split(key, batch))
    reset_step = jax.vmap(auto_reset(env.step, env.init))

    @jax.jit
    def advance(state, key):
        key, k_act, k_reset = jax.random.split(key, 3)
        logits = jnp.where(state.legal_action_mask, 0.0, -jnp.inf)
        actions = jax.vmap(jax.random.categorical)(jax.random.split(k_act, batch), logits)
        return reset_step(state, actions, jax.random.split(k_reset, batch)), key, actions

    for _ in range(warmup):
        state, key, actions = advance(state, key)
    keys = jax.random.split(key, batch)
    return {"pgx init (key)": (jax.vmap(env.init), (keys,)),
            "pgx step": (jax.vmap(env.step), (state, actions)),
            "pgx auto_reset step": (reset_step, (state, actions, keys))}


def gymnax_parts(env_id: str, batch: int, warmup: int, seed: int = 0):
    """The peer's `step_env` and auto-resetting `step` on `batch` gymnax states after `warmup`
    uniformly random steps."""
    import gymnax

    env, params = gymnax.make(env_id)
    key = jax.random.PRNGKey(seed)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, batch), params)
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    @jax.jit
    def advance(state, key):
        key, k_act, k_step = jax.random.split(key, 3)
        actions = jax.random.randint(k_act, (batch,), 0, env.num_actions)
        return step(jax.random.split(k_step, batch), state, actions, params)[1], key, actions

    for _ in range(warmup):
        state, key, actions = advance(state, key)
    keys = jax.random.split(key, batch)
    return {"gymnax step_env": (jax.vmap(lambda k, s, a: env.step_env(k, s, a, params)), (keys, state, actions)),
            "gymnax step": (jax.vmap(lambda k, s, a: env.step(k, s, a, params)), (keys, state, actions))}


def _flops(compiled) -> float:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float((cost or {}).get("flops", float("nan")))


def profile(env, batch: int, repeats: int, warmup: int, pgx_id: str | None = None,
            gymnax_id: str | None = None) -> list[tuple[str, float, float, float, float]]:
    """(name, median seconds per call, XLA flops per environment, compile seconds, fastest
    seconds per call) of every part."""
    state, key = reached_states(env, batch, warmup)
    todo = parts(env, state, key)
    if pgx_id:
        todo.update(pgx_parts(pgx_id, batch, warmup))
    if gymnax_id:
        todo.update(gymnax_parts(gymnax_id, batch, warmup))
    compiled = {}
    compile_s = {}
    flops = {}
    for name, (fn, args) in todo.items():
        start = time.perf_counter()
        c = jax.jit(fn).lower(*args).compile()
        compile_s[name] = time.perf_counter() - start
        flops[name] = _flops(c) / batch
        jax.block_until_ready(c(*args))  # warm-up run
        compiled[name] = (c, args)
    runs: dict[str, list[float]] = {name: [] for name in compiled}
    for _ in range(repeats):
        for name, (c, args) in compiled.items():
            start = time.perf_counter()
            jax.block_until_ready(c(*args))
            runs[name].append(time.perf_counter() - start)
    return [(name, statistics.median(runs[name]), flops[name], compile_s[name], min(runs[name])) for name in compiled]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec")
    ap.add_argument("--batch", default="1024,8192")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=20, help="random legal steps before the timed states")
    ap.add_argument("--pgx", metavar="ENV_ID", help="also time this Pgx environment's step (e.g. othello)")
    ap.add_argument("--gymnax", metavar="ENV_ID", help="also time this gymnax environment's step (e.g. Acrobot-v1)")
    args = ap.parse_args()
    env = load_jax(load(args.spec))
    device = jax.devices()[0]
    print(f"# {args.spec}: device {device.platform}, {os.cpu_count()} cpus, jax {jax.__version__}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| batch | part | ms per batch call | min ms | us per env | share of step | XLA flops per env | compile (s) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for b in (int(x) for x in args.batch.split(",")):
        rows = profile(env, b, args.repeats, args.warmup, args.pgx, args.gymnax)
        whole = {row[0]: row[1] for row in rows}["step"]
        for name, t, f, c, fastest in rows:
            count = "n/a" if f != f else f"{f:,.0f}"  # XLA gives no count for some parts (NaN)
            print(f"| {b} | {name} | {t * 1e3:.2f} | {fastest * 1e3:.2f} | {t / b * 1e6:.2f} | {t / whole:.0%} | {count} | {c:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
