"""`envc verify`: the interpreter against compiled backends, exactly.

Public surface: `verify(module, targets, episodes, seed, progress) -> Report`,
`to_arrays(module, state)`, `load_jax(module)`, `load_rust(module)`, `Divergence`.

Levels (DESIGN.md, "Verification"):
1. property: the spec's invariants hold on every reached state, on every backend; a
   non-terminal state has a legal action;
2. interaction: from reached states (sampled from the level-3 episodes), every action
   kind's legal actions are stepped on each backend from the *same injected state*, and
   the next states must be equal;
3. rollout: seeded random-policy episodes, whole trajectories compared step by step.
Integers, booleans and the RNG words must be bit-identical; float32 fields equal within
`float_tolerance` (0 by default), as `|a - b| <= tol * max(1, |a|, |b|)`. On a divergence the report names the first step, the
field path, both values and the actions that reproduce it.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from envc.compiler import ir
from envc.compiler.interp import Interpreter, SpecRuntimeError, State


# ------------------------------------------------------------------ representation

def _np_dtype(t: ir.Type):
    if isinstance(t, ir.BoolT):
        return np.bool_
    if isinstance(t, ir.FloatT):
        return np.float32
    if isinstance(t, ir.IntT):
        return np.dtype(t.dtype)
    if isinstance(t, ir.EnumT):
        return np.int8 if t.size <= 127 else np.int16
    if isinstance(t, ir.RowT):
        return np.dtype(ir.IntT(lo=0, hi=max(0, t.rows - 1)).dtype)
    raise TypeError(t)


def value_to_arrays(module: ir.Module, t: ir.Type, v: Any) -> Any:
    """An interpreter value as the pytree of numpy arrays the JAX backend uses."""
    if isinstance(t, ir.ArrayT):
        parts = [value_to_arrays(module, t.elem, x) for x in v]
        return _stack(parts)
    if isinstance(t, ir.RecordT):
        return {f.name: value_to_arrays(module, f.type, v[f.name]) for f in module.record(t.name).fields}
    if isinstance(t, ir.ListT):
        padded = list(v) + [ir.raw_zero(module, t.elem)] * (t.cap - len(v))
        return {"items": value_to_arrays(module, ir.ArrayT(elem=t.elem, size=t.cap), padded),
                "len": np.int32(len(v))}
    return np.asarray(v, dtype=_np_dtype(t))


def _stack(parts: list) -> Any:
    if isinstance(parts[0], dict):
        return {k: _stack([p[k] for p in parts]) for k in parts[0]}
    return np.stack(parts)


def to_arrays(module: ir.Module, state: State) -> dict[str, Any]:
    """Every field of an interpreter state (plus mask, observation and RNG words) as arrays."""
    out = {f.name: value_to_arrays(module, f.type, state.fields[f.name]) for f in module.state}
    out["legal_action_mask"] = np.asarray(state.legal_action_mask, dtype=np.bool_)
    out["observation"] = value_to_arrays(module, module.observe.type, state.observation)
    out["_rng_key"] = np.uint32(state.rng_key)
    out["_rng_counter"] = np.uint32(state.rng_counter)
    return out


def _leaves(tree: Any, path: str = "") -> list[tuple[str, np.ndarray]]:
    if isinstance(tree, dict):
        out = []
        for k in sorted(tree):  # JAX rebuilds dicts with sorted keys: compare by name, not position
            out.extend(_leaves(tree[k], f"{path}.{k}" if path else k))
        return out
    return [(path, np.asarray(tree))]


def first_difference(a: Any, b: Any, float_tolerance: float = 0.0) -> tuple[str, Any, Any] | None:
    """The first leaf path (e.g. `board[3]`) where two array pytrees differ, with both values."""
    left, right = _leaves(a), _leaves(b)
    if [p for p, _ in left] != [p for p, _ in right]:
        return "(structure)", [p for p, _ in left], [p for p, _ in right]
    for (path, x), (_, y) in zip(left, right):
        if x.shape != y.shape:
            return path + " (shape)", x.shape, y.shape
        if x.dtype.kind == "f":
            # |x - y| <= tol * max(1, |x|, |y|): absolute near zero, relative for large values
            scale = np.maximum(1.0, np.maximum(np.abs(x), np.abs(y)))
            close = (x == y) | (np.abs(x.astype(np.float64) - y) <= float_tolerance * scale)
            bad = ~(close | (np.isnan(x) & np.isnan(y)))
        else:
            bad = x != y
        if np.any(bad):
            idx = tuple(int(i) for i in np.argwhere(bad)[0]) if x.ndim else ()
            where = path + "".join(f"[{i}]" for i in idx)
            return where, x[idx] if idx else x, y[idx] if idx else y
    return None


# ------------------------------------------------------------------ backends

def load_jax(module: ir.Module):
    """Generate the JAX package for `module` into a temporary folder and import it."""
    from envc.codegen.jax import write

    folder = tempfile.mkdtemp(prefix="envc-jax-")
    name = f"envc_gen_{module.name}_{abs(hash(folder)) % 10**8}"
    write(module, f"{folder}/{name}")
    spec = importlib.util.spec_from_file_location(name, f"{folder}/{name}/__init__.py",
                                                  submodule_search_locations=[f"{folder}/{name}"])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def jax_state_arrays(state) -> dict[str, Any]:
    """A (single, unbatched) JAX state as a dict of numpy array pytrees."""
    import jax

    out = {}
    for name in state.__dataclass_fields__:
        out[name] = jax.tree_util.tree_map(np.asarray, getattr(state, name))
    return out


def from_arrays(env, arrays: dict[str, Any]):
    """A JAX `State` holding exactly the given arrays (to inject an interpreter state)."""
    import jax.numpy as jnp
    import jax

    fields = {k: jax.tree_util.tree_map(jnp.asarray, v) for k, v in arrays.items()}
    return env.State(**fields)


# ------------------------------------------------------------------ the report

@dataclass
class Divergence:
    level: int
    target: str
    episode_seed: int
    step: int
    field: str
    interpreter: Any
    backend: Any
    actions: list[int]
    action_names: list[str]

    def render(self) -> str:
        shown = ", ".join(self.action_names[-12:])
        more = f" (last 12 of {len(self.actions)})" if len(self.actions) > 12 else ""
        return (f"divergence (level {self.level}) between the interpreter and `{self.target}`\n"
                f"  seed {self.episode_seed}, first at step {self.step}, field `{self.field}`\n"
                f"  interpreter: {self.interpreter!r}\n"
                f"  {self.target}: {self.backend!r}\n"
                f"  reproduce: init(seed={self.episode_seed}) then actions {self.actions}\n"
                f"  that is{more}: {shown}")


@dataclass
class Report:
    targets: list[str]
    episodes: int = 0
    steps: int = 0
    level2_transitions: int = 0
    invariant_checks: int = 0
    divergences: list[Divergence] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.divergences and not self.faults


# ------------------------------------------------------------------ the run

def _episode(it: Interpreter, seed: int, policy: np.random.Generator, max_steps: int,
             report: Report) -> tuple[list[State], list[int]]:
    s = it.init(seed)
    states, actions = [s], []
    while not (s.terminated or s.truncated) and len(actions) < max_steps:
        legal = np.flatnonzero(s.legal_action_mask)
        if len(legal) == 0:
            report.faults.append(f"seed {seed}, step {len(actions)}: a non-terminal state has no legal action "
                                 f"(actions {actions})")
            break
        a = int(policy.choice(legal))
        s = it.step(s, a)
        actions.append(a)
        states.append(s)
        bad = it.invariant_violations(s)
        report.invariant_checks += 1
        if bad:
            report.faults.append(f"seed {seed}, step {len(actions)}: invariant(s) {', '.join(bad)} broken "
                                 f"(actions {actions})")
            break
    return states, actions


def verify(module: ir.Module, targets: list[str], episodes: int = 100, seed: int = 0, max_steps: int = 1000,
           float_tolerance: float = 0.0, level2_samples: int = 20,
           progress: Callable[[int], None] | None = None, jax_env: Any = None, rust_env: Any = None) -> Report:
    """Run levels 1-3 against each target in `targets` (`jax`, `rust`); see the module docstring.

    `jax_env` replaces the generated JAX module (tests inject a deliberately broken one);
    `rust_env` the imported generated Rust package (`load_rust`, which builds it with cargo).

    Raises:
        ValueError: an unknown target.
    """
    for t in targets:
        if t not in ("python", "jax", "rust"):
            raise ValueError(f"unknown target `{t}`")
    backends = [t for t in targets if t != "python"]
    report = Report(targets=list(targets))
    it = Interpreter(module)
    policy = np.random.default_rng(seed)
    runs: list[tuple[int, list[State], list[int]]] = []
    for e in range(episodes):
        try:
            states, actions = _episode(it, seed + e, policy, max_steps, report)
        except SpecRuntimeError as err:
            report.faults.append(f"seed {seed + e}: runtime fault: {err}")
            continue
        runs.append((seed + e, states, actions))
        report.episodes += 1
        report.steps += len(actions)
        if progress:
            progress(1)
    if "jax" in backends and runs:
        _check_backend(module, it, _JaxBackend(jax_env or load_jax(module)), runs, report, float_tolerance,
                       level2_samples, seed)
    if "rust" in backends and runs:
        _check_backend(module, it, _RustBackend(rust_env or load_rust(module)), runs, report, float_tolerance,
                       level2_samples, seed)
    return report


class _JaxBackend:
    """The generated JAX module, driven as one batch (one environment per episode)."""

    name = "jax"

    def __init__(self, env):
        import jax

        self.jax, self.env = jax, env
        self._init = jax.jit(jax.vmap(env.init_from_seed))
        self._step = jax.jit(jax.vmap(env.step))
        self._invariants = jax.jit(jax.vmap(env.invariants))
        self._step_one = jax.jit(env.step)

    def reset(self, seeds: np.ndarray) -> None:
        self.state = self._init(self.jax.numpy.asarray(seeds))
        self._fetch()

    def _fetch(self) -> None:
        tree_map = self.jax.tree_util.tree_map
        self.host = tree_map(np.asarray, self.state)
        self.inv = tree_map(np.asarray, self._invariants(self.state))

    def step(self, actions: np.ndarray) -> str | None:
        self.state = self._step(self.state, self.jax.numpy.asarray(actions))
        self._fetch()
        return None

    def arrays(self, j: int, keys) -> dict:
        return {k: self.jax.tree_util.tree_map(lambda x: x[j], getattr(self.host, k)) for k in keys}

    def broken_invariants(self, j: int) -> list[str]:
        return [name for name, v in self.inv.items() if not bool(v[j])]

    def transition(self, arrays: dict, action: int) -> dict | str:
        theirs = jax_state_arrays(self._step_one(from_arrays(self.env, arrays), action))
        return {k: theirs[k] for k in arrays}


def _rollouts(module, it, backend, runs, report, tol) -> bool:
    """Level 3 (with level 1 on the backend): replay every episode's actions in one batch and
    compare each reached state. Returns False when the backend faulted (level 2 is skipped)."""
    longest = max(len(r[2]) for r in runs)
    actions = np.zeros((longest, len(runs)), dtype=np.int32)
    for j, (_, _, acts) in enumerate(runs):
        actions[: len(acts), j] = acts
    backend.reset(np.array([r[0] & 0xFFFFFFFF for r in runs], dtype=np.uint32))
    found: set[int] = set()
    for t in range(longest + 1):
        for j, (s_seed, states, acts) in enumerate(runs):
            if j in found or t >= len(states):
                continue
            ours = to_arrays(module, states[t])
            diff = first_difference(ours, backend.arrays(j, ours), tol)
            if diff is None:
                broken = backend.broken_invariants(j)
                if broken:
                    diff = ("invariants", "hold", f"broken: {', '.join(broken)}")
            if diff is not None:
                found.add(j)
                report.divergences.append(Divergence(3, backend.name, s_seed, t, diff[0], _py(diff[1]),
                                                     _py(diff[2]), acts[:t], [it.actions.format(a) for a in acts[:t]]))
        if t < longest:
            fault = backend.step(actions[t])
            if fault is not None:
                report.faults.append(f"{backend.name}, step {t}: runtime fault the interpreter does not raise: {fault}")
                return False
    return True


def _level2(module, it, backend, runs, report, tol, samples, seed) -> None:
    """From sampled reached states, every legal action of every kind, injected into the backend."""
    rng = np.random.default_rng(seed + 1)
    pool = [(s_seed, t, st, acts) for s_seed, states, acts in runs for t, st in enumerate(states)
            if not (st.terminated or st.truncated)]
    if not pool:
        return
    picks = rng.choice(len(pool), size=min(samples, len(pool)), replace=False)
    for p in picks:
        s_seed, t, st, acts = pool[int(p)]
        injected = to_arrays(module, st)
        for kind in it.actions.kinds:
            legal = [a for a in range(kind.offset, kind.offset + kind.size) if st.legal_action_mask[a]]
            for a in legal[:4]:
                try:
                    ours = to_arrays(module, it.step(st, a))
                except SpecRuntimeError as err:
                    report.faults.append(f"seed {s_seed}, step {t}, action {it.actions.format(a)}: {err}")
                    continue
                theirs = backend.transition(injected, a)
                if isinstance(theirs, str):
                    report.faults.append(f"{backend.name}, seed {s_seed}, step {t}, action "
                                         f"{it.actions.format(a)}: {theirs}")
                    continue
                diff = first_difference(ours, theirs, tol)
                report.level2_transitions += 1
                if diff is not None:
                    history = list(acts[:t]) + [a]
                    report.divergences.append(Divergence(2, backend.name, s_seed, t + 1, diff[0], _py(diff[1]),
                                                         _py(diff[2]), history,
                                                         [it.actions.format(x) for x in history]))
                    return


def _check_backend(module, it, backend, runs, report, tol, level2_samples, seed) -> None:
    if _rollouts(module, it, backend, runs, report, tol):
        _level2(module, it, backend, runs, report, tol, level2_samples, seed)


def _py(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


# ------------------------------------------------------------------ the Rust backend

def load_rust(module: ir.Module, progress: Callable[[str], None] | None = None):
    """The generated Rust package of `module`, built with cargo (cached by content) and imported."""
    from envc.codegen.rust.build import load

    return load(module, progress=progress)


class _RustBackend:
    """The generated Rust package: a `VecEnv` batch (no auto-reset) and a one-env one for level 2."""

    name = "rust"

    def __init__(self, native):
        self.native = native
        self.single = native.VecEnv(1, threads=1, autoreset=False)

    def reset(self, seeds: np.ndarray) -> None:
        self.env = self.native.VecEnv(len(seeds), threads=1, autoreset=False)
        self.env.reset_seeds(seeds)

    def step(self, actions: np.ndarray) -> str | None:
        try:
            self.env.step(actions)
        except self.native.SpecRuntimeError as err:
            return str(err)
        return None

    def arrays(self, j: int, keys) -> dict:
        return self.env.get_state(j)

    def broken_invariants(self, j: int) -> list[str]:
        return [name for name, ok in self.env.invariants(j).items() if not ok]

    def transition(self, arrays: dict, action: int) -> dict | str:
        self.single.set_state(0, arrays)
        try:
            self.single.step(np.array([action], dtype=np.int32))
        except self.native.SpecRuntimeError as err:
            return str(err)
        return self.single.get_state(0)
