"""`envc verify`: the interpreter against compiled backends, exactly.

Public surface: `verify(module, targets, episodes, seed, ..., chunk, per_matchup) -> Report`,
`verify_policy(module, targets, policy, episodes, ...) -> PolicyReport` (level 4), `load_policy`,
`to_arrays(module, state)`, `states_to_arrays(module, states)`, `value_to_arrays(module, t, v)`,
`all_matchups(module)`, `first_difference`, `load_jax(module)`, `load_rust(module)`,
`Divergence`, `Report`.

Levels (DESIGN.md, "Verification"):
1. property: the spec's invariants hold on every reached state, on every backend; a
   non-terminal state has a legal action; on the states sampled for level 2, what a player
   does not see does not change its observation (`envc.compiler.visibility.leaks`);
2. interaction: from reached states (sampled from the level-3 episodes), every action
   kind's legal actions are stepped on each backend from the *same injected state*, and
   the next states must be equal;
3. rollout: seeded random-policy episodes, whole trajectories compared step by step;
4. policy transfer (`verify_policy`, `envc verify --policy MODULE:FUNCTION`): a given policy
   plays seeded episodes on every backend; returns, lengths and actions must be identical
   (or, for float specs, returns equivalent within a declared margin by TOST).

The target `flat` is the reference interpreter run on the IR after the passes that the
array backends consume (`envc.compiler.passes.lower_choices`: a `choose` as a state
machine), so every pass is checked against the interpreter's own meaning (DESIGN.md
decision 8). Paused states (an effect waiting for a `choose`) are reached by the rollouts
and sampled by level 2 like any other.
Integers, booleans and the RNG words must be bit-identical; float32 fields equal within
`float_tolerance` (0 by default), as `|a - b| <= tol * max(1, |a|, |b|)`. On a divergence the report names the first step, the
field path, both values and the actions that reproduce it.

Runtime faults are compared like any other field (README, "Runtime faults"): when the
interpreter faults (`init`, or the action after step t), every backend must fault at the same
step with the same text (`file.envspec:LINE:COL: message`); a backend that faults where the
interpreter does not, does not fault where it does, or says something else is a divergence of
field `fault` (`None`: no fault). An episode whose fault every backend reproduces is verified:
it counts among the episodes and its fault is listed in `Report.spec_faults` (a bug of the
spec, which `envc verify` prints, but not a difference between backends).

Scale (`verify`'s `chunk` and `per_matchup`): episodes are played in chunks of `chunk`; a
chunk's reached states are kept only as arrays (`states_to_arrays`, one array per leaf with
a leading step axis, far smaller than interpreter states), replayed by every backend as one
batch of a fixed shape, compared step by step over the whole batch at once, and then
dropped, so memory is bounded by one chunk whatever the number of episodes. See `verify`.
"""

from __future__ import annotations

import atexit
import importlib.machinery
import importlib.util
import itertools
import math
import operator
import shutil
import sys
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from envc.compiler import ir, visibility
from envc.compiler.interp import Interpreter, SpecRuntimeError, State
from envc.run_jax import label_values, matchup_fields

# ------------------------------------------------------------------ representation

def _np_dtype(t: ir.Type):
    return np.dtype(ir.storage_dtype(t))


_SCALARS = (ir.BoolT, ir.FloatT, ir.IntT, ir.EnumT, ir.RowT)


def _nested_map(v: Any, fn: Callable[[Any], Any], depth: int) -> Any:
    """`fn` applied to every item `depth` list levels down in `v`."""
    if depth == 0:
        return fn(v)
    if depth == 1:
        return [fn(x) for x in v]
    return [_nested_map(x, fn, depth - 1) for x in v]


def _build(module: ir.Module, t: ir.Type, depth: int) -> Callable[[Any], Any]:
    """A converter, built once per (module, type, depth): from `depth` levels of nested lists
    of values of type `t` to the pytree `value_to_arrays` gives for one value, with `depth`
    leading axes. Arrays of scalars (however nested, and however many leading axes) become
    one `np.asarray(nested_list, dtype)` call; records and lists split into their leaves."""
    while isinstance(t, ir.ArrayT):  # an array of T is T with one more leading axis
        t, depth = t.elem, depth + 1
    if isinstance(t, _SCALARS):
        dtype = _np_dtype(t)
        return lambda v: np.asarray(v, dtype=dtype)
    if isinstance(t, ir.RecordT):
        subs = [(f.name, _build(module, f.type, depth)) for f in module.record(t.name).fields]
        if depth == 0:
            return lambda v: {name: sub(v[name]) for name, sub in subs}
        return lambda v: {name: sub(_nested_map(v, operator.itemgetter(name), depth)) for name, sub in subs}
    if isinstance(t, ir.ListT):
        zero, cap = ir.raw_zero(module, t.elem), t.cap
        items = _build(module, t.elem, depth + 1)

        def pad(x: list) -> list:
            return list(x) + [zero] * (cap - len(x))

        if depth == 0:
            return lambda v: {"items": items(pad(v)), "len": np.int32(len(v))}
        return lambda v: {"items": items(_nested_map(v, pad, depth)),
                          "len": np.asarray(_nested_map(v, len, depth), dtype=np.int32)}
    raise TypeError(t)


_CACHE: dict[int, dict] = {}  # id(module) -> its converters (dropped with the module)


def _converters(module: ir.Module) -> dict:
    per = _CACHE.get(id(module))
    if per is None:
        per = _CACHE[id(module)] = {}
        weakref.finalize(module, _CACHE.pop, id(module), None)
    return per


def _converter(module: ir.Module, t: ir.Type, depth: int) -> Callable[[Any], Any]:
    per = _converters(module)
    key = (t, depth)
    if key not in per:
        per[key] = _build(module, t, depth)
    return per[key]


def value_to_arrays(module: ir.Module, t: ir.Type, v: Any) -> Any:
    """An interpreter value as the pytree of numpy arrays the JAX backend uses."""
    return _converter(module, t, 0)(v)


class _StateConverter:
    """`to_arrays` of one state (depth 0) or of many (depth 1, a leading axis), per module."""

    def __init__(self, module: ir.Module):
        self.one = [(f.name, _build(module, f.type, 0)) for f in module.state]
        self.many = [(f.name, _build(module, f.type, 1)) for f in module.state]
        self.obs_one = _build(module, module.observe.type, 0)
        self.obs_many = _build(module, module.observe.type, 1)

    def __call__(self, state: State) -> dict[str, Any]:
        fields = state.fields
        out = {name: conv(fields[name]) for name, conv in self.one}
        out["legal_action_mask"] = np.asarray(state.legal_action_mask, dtype=np.bool_)
        out["observation"] = self.obs_one(state.observation)
        out["_rng_key"] = np.uint32(state.rng_key)
        out["_rng_counter"] = np.uint32(state.rng_counter)
        return out

    def stack(self, states: list[State]) -> dict[str, Any]:
        out = {name: conv([s.fields[name] for s in states]) for name, conv in self.many}
        out["legal_action_mask"] = np.asarray([s.legal_action_mask for s in states], dtype=np.bool_)
        out["observation"] = self.obs_many([s.observation for s in states])
        out["_rng_key"] = np.asarray([s.rng_key for s in states], dtype=np.uint32)
        out["_rng_counter"] = np.asarray([s.rng_counter for s in states], dtype=np.uint32)
        return out


def _state_converter(module: ir.Module) -> _StateConverter:
    per = _converters(module)
    if "state" not in per:
        per["state"] = _StateConverter(module)
    return per["state"]


def to_arrays(module: ir.Module, state: State) -> dict[str, Any]:
    """Every field of an interpreter state (plus mask, observation and RNG words) as arrays."""
    return _state_converter(module)(state)


def states_to_arrays(module: ir.Module, states: list[State]) -> dict[str, Any]:
    """`to_arrays` of every state in `states`, stacked: each leaf gains a leading axis."""
    return _state_converter(module).stack(states)


def _leaves(tree: Any, path: str = "") -> list[tuple[str, np.ndarray]]:
    if isinstance(tree, dict):
        out = []
        for k in sorted(tree):  # JAX rebuilds dicts with sorted keys: compare by name, not position
            out.extend(_leaves(tree[k], f"{path}.{k}" if path else k))
        return out
    return [(path, np.asarray(tree))]


def _unflatten(paths: list[str], values: list[Any]) -> dict[str, Any]:
    """The nested dict whose `_leaves` are `zip(paths, values)` (paths joined by `.`)."""
    out: dict[str, Any] = {}
    for path, v in zip(paths, values):
        *outer, last = path.split(".")
        d = out
        for k in outer:
            d = d.setdefault(k, {})
        d[last] = v
    return out


def _bad(x: np.ndarray, y: np.ndarray, float_tolerance: float) -> np.ndarray:
    """Elementwise: x and y differ (floats: beyond the tolerance; NaN equals NaN)."""
    if x.dtype.kind == "f":
        # |x - y| <= tol * max(1, |x|, |y|): absolute near zero, relative for large values
        # an infinity is close only to itself (its scale would make any value "close" to it)
        with np.errstate(invalid="ignore", over="ignore"):
            scale = np.maximum(1.0, np.maximum(np.abs(x), np.abs(y)))
            near = np.abs(x.astype(np.float64) - y) <= float_tolerance * scale
        close = (x == y) | (near & np.isfinite(x) & np.isfinite(y))
        return ~(close | (np.isnan(x) & np.isnan(y)))
    return x != y


def first_difference(a: Any, b: Any, float_tolerance: float = 0.0) -> tuple[str, Any, Any] | None:
    """The first leaf path (e.g. `board[3]`) where two array pytrees differ, with both values."""
    left, right = _leaves(a), _leaves(b)
    if [p for p, _ in left] != [p for p, _ in right]:
        return "(structure)", [p for p, _ in left], [p for p, _ in right]
    for (path, x), (_, y) in zip(left, right):
        if x.shape != y.shape:
            return path + " (shape)", x.shape, y.shape
        bad = _bad(x, y, float_tolerance)
        if np.any(bad):
            idx = tuple(int(i) for i in np.argwhere(bad)[0]) if x.ndim else ()
            where = path + "".join(f"[{i}]" for i in idx)
            return where, x[idx] if idx else x, y[idx] if idx else y
    return None


def _rows_differ(x: np.ndarray, y: np.ndarray, float_tolerance: float) -> np.ndarray:
    """Per row of the leading axis: does any element differ (as `first_difference` judges)?"""
    bad = _bad(x, y, float_tolerance)
    if bad.ndim <= 1:
        return bad
    # an array: numpy's stubs type `.any(axis=...)` as a scalar or an array
    return cast(np.ndarray, bad.reshape(len(bad), -1).any(axis=1))


# ------------------------------------------------------------------ match-ups

def _domain(t: ir.Type, limit: int) -> list[list[int]] | None:
    """The possible values of each scalar of type `t` (row-major), or None when unbounded."""
    if isinstance(t, ir.ArrayT):
        inner = _domain(t.elem, limit)
        return None if inner is None else inner * t.size
    if isinstance(t, ir.BoolT):
        return [[0, 1]]
    if isinstance(t, ir.EnumT):
        return [list(range(t.size))]
    if isinstance(t, ir.RowT):
        return [list(range(t.rows))]
    if isinstance(t, ir.IntT) and t.hi - t.lo < limit:
        return [list(range(t.lo, t.hi + 1))]
    return None  # floats, lists, records, wide integer ranges


def all_matchups(module: ir.Module, limit: int = 4096) -> list[tuple[int, ...]] | None:
    """Every possible match-up key (`envc.run_jax.label_values`), sorted: the cartesian product
    of the values the `@matchup` fields' types allow (table rows, enum members, booleans,
    integer ranges; arrays of them slot by slot). tcg's `decks: Deck[2]` over 22 decks gives
    484. `[()]` without `@matchup` fields; None when a type is not enumerable (a float, a
    list, a record) or the product has more than `limit` keys."""
    domains: list[list[int]] = []
    for f in matchup_fields(module):
        d = _domain(f.type, limit)
        if d is None:
            return None
        domains.extend(d)
    if math.prod(len(d) for d in domains) > limit:
        return None
    return sorted(itertools.product(*domains))


# ------------------------------------------------------------------ backends

def load_jax(module: ir.Module, ctx=None):
    """Generate the JAX package for `module` into a temporary folder and import it (`ctx`: the
    pipeline's options, `envc.compiler.pipeline.PassContext`). The folder is removed when the
    process exits (the module stays importable until then).

    Generated code identical to a package this process already imported returns that module
    (decision: one `State` class per generated code in a process, which the exported programs
    of `envc.jax_cache` key by the code; the modules hold no mutable state)."""
    from envc.codegen.jax import write
    from envc.jax_cache import folder_digest

    folder = tempfile.mkdtemp(prefix="envc-jax-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    name = f"envc_gen_{module.name}_{abs(hash(folder)) % 10**8}"
    write(module, f"{folder}/{name}", ctx)
    digest = folder_digest(f"{folder}/{name}")
    if digest in _LOADED:
        return _LOADED[digest]
    spec = importlib.util.spec_from_file_location(name, f"{folder}/{name}/__init__.py",
                                                  submodule_search_locations=[f"{folder}/{name}"])
    assert spec is not None and spec.loader is not None  # a `.py` file always has both
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    _LOADED[digest] = mod
    return mod


_LOADED: dict[str, Any] = {}  # load_jax's modules by the digest of their generated files


def jax_state_arrays(state) -> dict[str, Any]:
    """A JAX state as a dict of numpy array pytrees in the layout of `to_arrays` (built-in
    fields by their spec names and narrowest dtypes, the spec's fields, mask, observation and
    RNG words; a batched state gives arrays with a leading axis): `State._to_arrays`."""
    import jax

    return jax.tree_util.tree_map(np.asarray, state._to_arrays())


def from_arrays(env, arrays: dict[str, Any]):
    """A JAX `State` holding exactly the given arrays (to inject an interpreter state):
    `State._from_arrays`, the inverse of `jax_state_arrays`."""
    return env.State._from_arrays(arrays)


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
    reference: str = "interpreter"  # what `interpreter` holds: `envc.cross_check` compares two backends
    # `field` "fault": `interpreter` / `backend` hold the fault's text, None for no fault; `step`
    # is the state the faulting step would have made (t + 1), and `actions` end with its action

    def render(self) -> str:
        ref = "the interpreter" if self.reference == "interpreter" else f"`{self.reference}`"
        ours, theirs = repr(self.interpreter), repr(self.backend)
        if self.field == "fault":  # a fault's text as the backend prints it; None: it did not fault
            ours, theirs = (repr(x) if x is not None else "no fault" for x in (self.interpreter, self.backend))
        head = (f"divergence (level {self.level}) between {ref} and `{self.target}`\n"
                f"  seed {self.episode_seed}, first at step {self.step}, field `{self.field}`\n"
                f"  {self.reference}: {ours}\n"
                f"  {self.target}: {theirs}\n")
        if not self.actions:
            return head + f"  reproduce: init(seed={self.episode_seed}) (the initial states differ: no action)"
        shown = ", ".join(self.action_names[-12:])
        more = f" (last 12 of {len(self.actions)})" if len(self.actions) > 12 else ""
        return (head + f"  reproduce: init(seed={self.episode_seed}) then actions {self.actions}\n"
                f"  that is{more}: {shown}")


@dataclass
class Report:
    """What `verify` checked. `per_matchup_counts`: match-up key (`envc.run_jax.label_values`
    of the initial state; `()` without `@matchup` fields) -> episodes verified, sorted by key;
    with `per_matchup`, every key of `all_matchups` is listed, 0 included. `seeds_tried`:
    seeds initialised, skipped ones (their match-up was full) included."""

    targets: list[str]
    episodes: int = 0
    steps: int = 0
    level2_transitions: int = 0
    invariant_checks: int = 0
    divergences: list[Divergence] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    spec_faults: list[str] = field(default_factory=list)  # the interpreter's faults, reproduced by every backend
    per_matchup_counts: dict[tuple[int, ...], int] = field(default_factory=dict)
    seeds_tried: int = 0

    @property
    def ok(self) -> bool:
        return not self.divergences and not self.faults


# ------------------------------------------------------------------ the run

def _episode(it: Interpreter, s: State, seed: int, policy: np.random.Generator, max_steps: int,
             report: Report) -> tuple[list[State], list[int], tuple[int, str] | None, list[str]]:
    """Play from the initial state `s` of `seed` (level 1 on the interpreter): the reached
    states, the actions that reached them, the runtime fault that ended the episode, if any
    (the action that faulted, not in the actions, and `str` of the `SpecRuntimeError`), and the
    invariants broken in the last state, which end the episode too (a fault of the report)."""
    states: list[State] = [s]
    actions: list[int] = []
    bad = _broken(it, s, seed, actions, report)  # `init` may break one (every backend was blamed; a hunt)
    if bad is None or bad:
        return states, actions, None, bad or []
    while not (s.terminated or s.truncated) and len(actions) < max_steps:
        legal = np.flatnonzero(s.legal_action_mask)
        if len(legal) == 0:
            report.faults.append(f"seed {seed}, step {len(actions)}: a non-terminal state has no legal action "
                                 f"(actions {actions})")
            break
        a = int(policy.choice(legal))
        try:
            s = it.step(s, a)
        except SpecRuntimeError as err:
            return states, actions, (a, str(err)), []
        bad = _broken(it, s, seed, actions + [a], report)
        if bad is None:  # (the backends are compared up to the state before)
            return states, actions, None, []
        actions.append(a)
        states.append(s)
        if bad:
            return states, actions, None, bad
    return states, actions, None, []


def _broken(it: Interpreter, s: State, seed: int, actions: list[int], report: Report) -> list[str] | None:
    """The invariants broken in `s`, reached by `actions` ([] when all hold), each broken one a
    fault of the report; None when an invariant faulted (a read past a list's end): that fails
    the check as a broken one does, and the backends' invariants would fault there too (Rust
    raises), so the episode ends before `s`."""
    try:
        bad = it.invariant_violations(s)
    except SpecRuntimeError as err:
        report.faults.append(f"seed {seed}, step {len(actions)}: an invariant faulted: {err} (actions {actions})")
        return None
    report.invariant_checks += 1
    if bad:
        report.faults.append(f"seed {seed}, step {len(actions)}: invariant(s) {', '.join(bad)} broken "
                             f"(actions {actions})")
    return list(bad)


@dataclass
class _Run:
    """One played episode, kept as arrays: `leaves[i]` has one row per reached state."""

    seed: int
    actions: list[int]
    paths: list[str]
    leaves: list[np.ndarray]
    live: np.ndarray  # bool per reached state: neither terminated nor truncated
    fault: tuple[int, str] | None = None  # the interpreter's fault after the last state: (action, text)
    broken: list[str] = field(default_factory=list)  # the invariants the interpreter found broken in the last state


class _Chunk:
    """A chunk's runs, every leaf concatenated over all their reached states (run j's state at
    step t is row `offsets[j] + t`)."""

    def __init__(self, runs: list[_Run]):
        self.runs = runs
        self.paths = runs[0].paths
        self.keys = list(dict.fromkeys(p.split(".")[0] for p in self.paths))
        self.lengths = np.array([len(r.actions) for r in runs], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths + 1)[:-1]]).astype(np.int64)
        self.leaves = [np.concatenate([r.leaves[i] for r in runs]) for i in range(len(self.paths))]
        for r in runs:
            r.leaves = []  # the concatenation holds them now

    def state(self, j: int, t: int) -> dict[str, Any]:
        """`to_arrays` of run j's state at step t."""
        row = self.offsets[j] + t
        return _unflatten(self.paths, [leaf[row] for leaf in self.leaves])


def verify(module: ir.Module, targets: list[str], episodes: int = 100, seed: int = 0, max_steps: int = 1000,
           float_tolerance: float = 0.0, level2_samples: int = 20,
           progress: Callable[[int], None] | None = None, jax_env: Any = None, rust_env: Any = None,
           chunk: int = 256, per_matchup: int | None = None, max_seeds: int | None = None,
           joint: bool = False, phase: Callable[[str], None] | None = None) -> Report:
    """Run levels 1-3 against each target in `targets` (`jax`, `rust`); see the module docstring.

    Episodes: seed `seed + i` for i = 0, 1, ...; one policy generator `np.random.default_rng(seed)`
    draws every action of every episode, in play order. Without `per_matchup`, `episodes`
    episodes are played (seeds `seed` .. `seed + episodes - 1`). A seed whose `init` faults is an
    episode of no step: every backend's `init` must fault alike (`_init_fault`); it fills no
    match-up and draws no action.

    `per_matchup=N`: the seeds are tried in order; a seed whose initial state's match-up
    (`@matchup` fields, `envc.run_jax.label_values`) already has N episodes is skipped after
    `init`, consuming no policy draw; the run ends when every match-up of `all_matchups(module)`
    has N (an episode that raised a runtime fault fills its slot too, so a run always ends), or
    after `max_seeds` seeds (default 10 x N x the number of match-ups: a match-up `init` never
    produces leaves its count short, see `Report.per_matchup_counts`). When the match-ups
    cannot be enumerated (`all_matchups` is None) every match-up seen gets up to N and
    `max_seeds` (default `episodes`) bounds the seeds tried.

    Chunks: the interpreter plays `chunk` episodes (level 1), each is stored as arrays; then
    each backend replays the chunk as one batch (level 3 and the backend's level 1) and level 2
    samples from the chunk; then the chunk is dropped. Every batch has the same number of
    lanes, min(chunk, planned episodes), the last chunk padded with copies of its first
    episode (ignored), so the JAX functions compile once. Level 2 spreads `level2_samples` over
    the planned chunks (ceil(planned / chunk), planned = `episodes`, or N x match-ups):
    chunk k gets `S*(k+1)//n - S*k//n` samples (none past the n-th), drawn without replacement
    from the chunk's non-terminal states by one generator `np.random.default_rng(seed + 1)`
    per backend, consumed chunk after chunk; a sampled state is rebuilt by replaying its
    episode on the interpreter. Level 2 stops for a backend at its first divergence, and a
    backend that faults is not run on later chunks. A run of at most one chunk reports exactly
    what the unchunked implementation did.

    `jax_env` replaces the generated JAX module (tests inject a deliberately broken one);
    `rust_env` the imported generated Rust package (`load_rust`, which builds it with cargo).
    `phase(text)` names what is being done (`jax: compiling and replaying chunk 1`, then
    `episodes`), for a progress display: a backend's first chunk includes its JIT compile.

    `joint` (simultaneous specs only): at level 3 the backends play each turn with one
    `step_joint` call (every player's action at once) instead of one `step` per commit, and
    the states are compared at the start of every turn (a turn is `num_players` steps of the
    interpreter). Levels 1 and 2 are unchanged. Every lane plays every turn, but a backend's
    fault counts only in a turn whose actions are all its run's (`_rollouts`): a lane past its
    episode's end, which replays padding, is not reported for faulting on it.

    Raises:
        ValueError: an unknown target, or a `chunk` or `per_matchup` below 1.
    """
    from envc.compiler.passes import choice_points

    module = choice_points.run(module)  # the state fields of paused effects, as the backends have them
    _check_verify_arguments(module, targets, chunk, per_matchup, joint)
    backends = [t for t in targets if t != "python"]
    report = Report(targets=list(targets))
    it = Interpreter(module)
    policy = np.random.default_rng(seed)
    expected = all_matchups(module) if per_matchup is not None else None
    planned, seed_limit = _planned(expected, episodes, per_matchup, max_seeds)
    if expected is not None:
        report.per_matchup_counts = {k: 0 for k in expected}
    lanes = max(1, min(chunk, planned))
    checks = [_BackendCheck(name, module, it, report, float_tolerance, level2_samples,
                            max(1, math.ceil(planned / chunk)), lanes, seed,
                            jax_env if name == "jax" else rust_env, phase, module.num_players if joint else None)
              for name in ("flat", "jax", "rust") if name in backends]
    if checks:
        checks[0].first = True
    filled: dict[tuple[int, ...], int] = {}  # per_matchup: episodes played (or faulted) per match-up
    short = set(expected) if expected is not None else None  # per_matchup: match-ups below N
    chunks = _Chunks(checks, chunk)
    counts = report.per_matchup_counts
    convert = _state_converter(module) if checks else None
    for i in range(seed_limit):
        if short is not None and not short:
            break
        s_seed = seed + i
        report.seeds_tried += 1
        try:
            s0 = it.init(s_seed)
        except SpecRuntimeError as err:
            _init_fault(checks, s_seed, str(err), report, progress)
            continue
        key = label_values(module, s0.fields)
        if not _admit(key, filled, short, per_matchup):
            continue
        states, actions, fault, broken = _episode(it, s0, s_seed, policy, max_steps, report)
        report.episodes += 1
        report.steps += len(actions)
        counts[key] = counts.get(key, 0) + 1
        if convert is not None:
            pairs = _leaves(convert.stack(states))
            chunks.add(_Run(s_seed, actions, [p for p, _ in pairs], [a for _, a in pairs],
                            np.array([not (s.terminated or s.truncated) for s in states], dtype=bool), fault,
                            broken))
        if fault is not None:
            report.spec_faults.append(_spec_fault(s_seed, len(actions), fault[1]))
        del states
        if progress:
            progress(1)
        chunks.flush_if_full()
    chunks.flush()
    report.per_matchup_counts = dict(sorted(counts.items()))
    return report


def _spec_fault(seed: int, t: int, text: str) -> str:
    """A `Report.spec_faults` line: the interpreter's fault of `seed` at the step after state t."""
    where = "init" if t < 0 else f"step {t + 1}"
    return f"seed {seed}, {where}: {text}"


def _init_fault(checks: list[_BackendCheck], seed: int, text: str, report: Report,
                progress: Callable[[int], None] | None = None) -> None:
    """The interpreter's `init(seed)` faulted with `text`: each live backend's `init` must fault
    the same (a `fault` divergence at step 0 otherwise). The seed is an episode (checked on
    every backend, as `cross_check` counts it); its fault is a spec fault only when every live
    backend reproduced it (a spec fault is one all backends agree on: a differing one is a
    divergence, never also a spec fault)."""
    report.episodes += 1
    if progress:
        progress(1)
    agreed = True
    for c in checks:
        if c.dead:
            continue
        theirs = c.ensure_backend().init_fault(seed)
        if theirs != text:
            agreed = False
            report.divergences.append(Divergence(3, c.name, seed, 0, "fault", text, theirs, [], []))
    if agreed:
        report.spec_faults.append(_spec_fault(seed, -1, text))


def _check_verify_arguments(module: ir.Module, targets: list[str], chunk: int, per_matchup: int | None,
                            joint: bool) -> None:
    """`verify`'s argument checks: ValueError for an unknown target, a `chunk` or `per_matchup`
    below 1, or `joint` on a spec that is not simultaneous."""
    for t in targets:
        if t not in ("python", "flat", "jax", "rust"):
            raise ValueError(f"unknown target `{t}`")
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    if per_matchup is not None and per_matchup < 1:
        raise ValueError("per_matchup must be at least 1")
    if joint and module.simultaneous is None:
        raise ValueError(f"`{module.name}` is not a simultaneous spec: `joint` needs one")


def _planned(expected: list | None, episodes: int, per_matchup: int | None, max_seeds: int | None
             ) -> tuple[int, int]:
    """`verify`'s (planned episodes, most seeds to try): `episodes` of each without
    `per_matchup`; N x the match-ups `expected` and 10 x that many seeds (or `max_seeds`); or,
    when the match-ups cannot be enumerated, `max_seeds` (default `episodes`) of both."""
    if per_matchup is None:
        return episodes, episodes
    if expected is not None:
        planned = per_matchup * len(expected)
        return planned, max_seeds if max_seeds is not None else 10 * planned
    seed_limit = max_seeds if max_seeds is not None else episodes
    return seed_limit, seed_limit


def _admit(key: tuple[int, ...], filled: dict[tuple[int, ...], int], short: set | None,
           per_matchup: int | None) -> bool:
    """Whether `verify` plays an episode of match-up `key`: always without `per_matchup`, else
    while the match-up has fewer than N (counted in `filled`; at N it leaves `short`)."""
    if per_matchup is None:
        return True
    if filled.get(key, 0) >= per_matchup:
        return False
    filled[key] = filled.get(key, 0) + 1
    if filled[key] >= per_matchup and short is not None:
        short.discard(key)
    return True


class _Chunks:
    """`verify`'s interpreter runs gathered into chunks of `size`, each run by every backend
    check (`_BackendCheck.run_chunk`) once full, and the last one by `flush`."""

    def __init__(self, checks: list[_BackendCheck], size: int):
        self.checks, self.size = checks, size
        self.runs: list[_Run] = []

    def add(self, run: _Run) -> None:
        """Add one run (checked with its chunk by `flush_if_full` or `flush`)."""
        self.runs.append(run)

    def flush_if_full(self) -> None:
        """Check the chunk when it holds `size` runs."""
        if len(self.runs) == self.size:
            self.flush()

    def flush(self) -> None:
        """Check the runs gathered so far (if any) on every backend, then drop them."""
        if not self.runs:
            return
        batch = _Chunk(self.runs)
        for c in self.checks:
            c.run_chunk(batch)
        self.runs.clear()


class _BackendCheck:
    """One backend across the chunks: created on the first chunk, with its level-2 generator."""

    def __init__(self, name: str, module, it, report, tol, level2_samples, planned_chunks, lanes, seed, env,
                 phase=None, joint: int | None = None):
        self.name, self.module, self.it, self.report, self.tol = name, module, it, report, tol
        self.phase = phase
        self.joint = joint
        self.samples, self.planned_chunks, self.lanes, self.env = level2_samples, planned_chunks, lanes, env
        self.rng = np.random.default_rng(seed + 1)
        self.backend: _JaxBackend | _FlatBackend | _RustBackend | None = None
        self.k = 0  # chunks seen
        self.dead = False  # the backend faulted
        self.level2_done = False  # level 2 found a divergence
        self.first = False  # the first backend also checks hidden information on the sampled states

    def ensure_backend(self) -> _JaxBackend | _FlatBackend | _RustBackend:
        """The backend, made on first use (JAX: its JIT compiles on the first batch)."""
        if self.backend is not None:
            return self.backend
        if self.phase and self.name == "jax":
            self.phase("jax: compiling (JIT) and replaying the first chunk")
        if self.name == "jax":
            self.backend = _JaxBackend(self.env or load_jax(self.module))
        elif self.name == "flat":
            self.backend = _FlatBackend(self.module)
        else:
            self.backend = _RustBackend(self.env or load_rust(self.module))
        return self.backend

    def run_chunk(self, batch: _Chunk) -> None:
        k, self.k = self.k, self.k + 1
        if self.dead:
            return
        first = k == 0
        backend = self.ensure_backend()
        found = _rollouts(self.it, backend, batch, self.lanes, self.report, self.tol, self.joint)
        if first and self.phase:
            self.phase("episodes")
        if found is None:
            self.dead = True
            return
        _final_faults(self.module, self.it, backend, batch, found, self.report)
        s, n = self.samples, self.planned_chunks
        quota = s * (k + 1) // n - s * k // n if k < n else 0
        if quota > 0 and not self.level2_done:
            self.level2_done = _level2(self.module, self.it, self.backend, batch, self.report, self.tol, quota,
                                       self.rng, leak_check=self.first)


class _JaxBackend:
    """The generated JAX module, driven as one batch (one environment per episode). The jitted
    functions are made once; every chunk has the same batch shape, so each compiles once."""

    name = "jax"

    def __init__(self, env):
        import jax

        from envc.jax_cache import cached_jit

        self.jax, self.env = jax, env
        # read back from an earlier run's exported programs where one exists (envc.jax_cache)
        self._init = cached_jit(jax.vmap(env.init_from_seed), env=env)
        self._step = cached_jit(jax.vmap(env.step), env=env)
        self._invariants = cached_jit(jax.vmap(env.invariants), env=env)
        self._step_one = cached_jit(env.step, env=env)

    def reset(self, seeds: np.ndarray) -> None:
        """Start lane i from `seeds[i]`. `init_faults` is then each lane whose `init` faulted ->
        the fault's text (`file.envspec:LINE:COL: message`, its `_fault` row)."""
        self.state = self._init(self.jax.numpy.asarray(seeds))
        self._fetch()
        self.init_faults = _fault_texts(self.env, self.host_fault())

    def _fetch(self) -> None:
        host, self.inv = self.jax.device_get((self.state, self._invariants(self.state)))
        self.host = host._to_arrays()  # the layout of `to_arrays`, with a leading batch axis

    def step(self, actions: np.ndarray) -> str | None:
        self.state = self._step(self.state, self.jax.numpy.asarray(actions))
        self._fetch()
        return self._fault(self.state)

    def step_lanes(self, actions: np.ndarray, lanes: np.ndarray) -> tuple[int, str] | None:
        """Step every lane (one batch shape, one compile); the first of `lanes` (int[k], the
        lanes still replaying) whose `_fault` is set: (lane, text without `env I: `), or None.
        Lanes past their episode's end step too, but their faults are not theirs to report."""
        self.state = self._step(self.state, self.jax.numpy.asarray(actions))
        self._fetch()
        return self._lane_fault(lanes)

    def _lane_fault(self, lanes: np.ndarray) -> tuple[int, str] | None:
        """The first of `lanes` whose `_fault` is set, with its text (`fault_message` of that row)."""
        fault = self.host_fault()
        if fault is None:
            return None
        hit = lanes[fault[lanes, 0] != 0]
        if not len(hit):
            return None
        j = int(hit[0])
        return j, self.env.fault_message(_FaultRow(fault[j]))

    def host_fault(self) -> np.ndarray | None:
        """`State._fault` of the batch on the host (int32[lanes, 3]), None without fault sites."""
        fault = getattr(self.state, "_fault", None)
        return None if fault is None else np.asarray(self.jax.device_get(fault))

    def init_fault(self, seed: int) -> str | None:
        """The fault JAX's `init_from_seed(seed)` records (its text), or None."""
        if not hasattr(self, "_init_one"):
            from envc.jax_cache import cached_jit

            self._init_one = cached_jit(self.env.init_from_seed, env=self.env)
        return self._fault(self._init_one(self.jax.numpy.uint32(seed & 0xFFFFFFFF)))

    def step_joint(self, actions: np.ndarray) -> str | None:
        if not hasattr(self, "_step_joint"):
            from envc.jax_cache import cached_jit

            self._step_joint = cached_jit(self.jax.vmap(self.env.step_joint), env=self.env)
        self.state = self._step_joint(self.state, self.jax.numpy.asarray(actions))
        self._fetch()
        return self._fault(self.state)

    def step_joint_lanes(self, actions: np.ndarray, lanes: np.ndarray) -> tuple[int, str] | None:
        """One turn of every lane (`actions`: int32[lanes, players]; one batch shape, one
        compile); the first of `lanes` whose `_fault` is set, as `step_lanes` says it."""
        self.step_joint(actions)
        return self._lane_fault(lanes)

    def _fault(self, state) -> str | None:
        """The runtime fault a lane of `state` recorded (`State._fault`, as the interpreter's
        `SpecRuntimeError` reads), or None; a module without fault sites has no `_fault`."""
        message = getattr(self.env, "fault_message", None)
        return None if message is None else message(state)

    def batch(self, keys, lanes: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """The `_leaves` of the fields `keys` of the environments `lanes` (a leading axis)."""
        return [(p, x[lanes]) for p, x in _leaves({k: self.host[k] for k in keys})]

    def arrays(self, j: int, keys) -> dict:
        return {k: self.jax.tree_util.tree_map(lambda x: x[j], self.host[k]) for k in keys}

    def invariants_hold(self, lanes: np.ndarray) -> np.ndarray:
        ok = np.ones(len(lanes), dtype=bool)
        for v in self.inv.values():
            ok &= np.asarray(v, dtype=bool)[lanes]
        return ok

    def broken_invariants(self, j: int) -> list[str]:
        return [name for name, v in self.inv.items() if not bool(v[j])]

    def transition(self, arrays: dict, action: int) -> dict | str:
        state = self._step_one(from_arrays(self.env, arrays), action)
        fault = self._fault(state)
        if fault is not None:
            return fault
        theirs = jax_state_arrays(state)
        return {k: theirs[k] for k in arrays}


def _fault_texts(env, rows: np.ndarray | None) -> dict[int, str]:
    """Each environment whose `_fault` row (of `rows`, int32[lanes, 3] on the host; None: the
    spec has no fault site) is set -> its text, as the generated `fault_message` gives it."""
    if rows is None:
        return {}
    return {int(j): env.fault_message(_FaultRow(rows[j])) for j in np.flatnonzero(rows[:, 0] != 0)}


@dataclass
class _FaultRow:
    """One environment's `_fault` row, for the generated `fault_message` (which reads `._fault`)."""

    _fault: np.ndarray


def _flagged(backend, batch: _Chunk, active: np.ndarray, t: int, tol: float) -> np.ndarray:
    """The runs among `active` whose state at step t may differ on the backend, or whose
    backend invariants do not all hold: the whole batch compared at once, leaf by leaf."""
    theirs = backend.batch(batch.keys, active)
    if [p for p, _ in theirs] != batch.paths:
        return active  # a structure difference: each run reports it
    rows = batch.offsets[active] + t
    bad = lanes_differ([ours[rows] for ours in batch.leaves], [y for _, y in theirs], tol)
    if bad is None:
        return active
    return active[bad | ~backend.invariants_hold(active)]


def lanes_differ(xs: list[np.ndarray], ys: list[np.ndarray], tol: float) -> np.ndarray | None:
    """Per row of the leading axis (a lane) shared by every leaf of `xs` and `ys` (the same
    leaves, in the same order): does any element differ (`_rows_differ`)? None when a leaf's
    shapes differ (then every lane must be looked at)."""
    if any(x.shape != y.shape for x, y in zip(xs, ys)):
        return None
    bad = np.zeros(len(xs[0]) if xs else 0, dtype=bool)
    for x, y in zip(xs, ys):
        bad |= _rows_differ(x, y, tol)
    return bad


def _rollouts(it, backend, batch: _Chunk, lanes: int, report: Report, tol: float,
              joint: int | None = None) -> np.ndarray | None:
    """Level 3 (with level 1 on the backend): replay every episode's actions of the chunk in one
    batch of `lanes` environments and compare each reached state. Returns which runs diverged
    (bool[runs]), or None when the backend faulted where the interpreter does not (a `fault`
    divergence; level 2 is skipped). `joint=P`: the backend plays every P steps as one
    `step_joint` (a turn) and states are compared at turn starts only. Without `joint` only the
    lanes with an action left are stepped (a lane past its episode's end, live after an
    interpreter fault or `max_steps`, could fault on the padding action). With `joint` every
    lane plays the turn (`step_joint` has no per-lane form on JAX and Rust) and only the faults
    of lanes whose turn is all real actions count (`step_joint_lanes`): a lane past its end,
    or whose run ended mid-turn, may fault on its padding without a report."""
    runs, n = batch.runs, len(batch.runs)
    longest = int(batch.lengths.max())
    actions = np.zeros((longest, lanes), dtype=np.int32)
    for j, r in enumerate(runs):
        actions[: len(r.actions), j] = r.actions
    actions[:, n:] = actions[:, :1]  # padding lanes replay the first episode; never compared
    seeds = np.full(lanes, runs[0].seed & 0xFFFFFFFF, dtype=np.uint32)
    seeds[:n] = [r.seed & 0xFFFFFFFF for r in runs]
    backend.reset(seeds)
    if _init_faulted(backend, batch, report):
        return None
    found = np.zeros(n, dtype=bool)
    pending: list[np.ndarray] = []  # joint: the actions of the turn being played
    for t in range(longest + 1):
        active = np.flatnonzero(~found & (t <= batch.lengths))
        if joint is not None and t % joint:
            active = active[:0]
        if len(active):
            _compare_lanes(it, backend, batch, active, t, report, tol, found)
        if t == longest:
            break
        if joint is None:
            fault = backend.step_lanes(actions[t], np.flatnonzero(t < batch.lengths))
        else:
            fault = _step_joint_lanes(backend, actions[t], joint, pending, np.flatnonzero(t < batch.lengths))
        if fault is not None:
            _unexpected_fault(it, backend.name, batch, fault, t, report)
            return None
    return found


def _init_faulted(backend, batch: _Chunk, report: Report) -> bool:
    """Whether the backend's `init` faulted (`init_faults`, set by `reset`) for a run of the
    chunk, whose `init` the interpreter made without a fault (a seed whose `init` faults there
    is no run: `_init_fault`): the lowest such run is a `fault` divergence at step 0 (no
    actions), and the backend is not run on. The interpreter's flat backend has no
    `init_faults` (its `init` raises)."""
    faults = {j: text for j, text in getattr(backend, "init_faults", {}).items() if j < len(batch.runs)}
    if not faults:
        return False
    j = min(faults)
    report.divergences.append(Divergence(3, backend.name, batch.runs[j].seed, 0, "fault", None, faults[j], [], []))
    return True


def _unexpected_fault(it, name: str, batch: _Chunk, fault: tuple[int, str], t: int, report: Report) -> None:
    """The backend faulted in lane j at step t (the action after state t), where the
    interpreter played on: a `fault` divergence (a padding lane's reports its run 0's seed)."""
    j, text = fault
    run = batch.runs[j if j < len(batch.runs) else 0]
    acts = run.actions[: t + 1]
    report.divergences.append(Divergence(3, name, run.seed, t + 1, "fault", None, text, acts,
                                         [it.actions.format(a) for a in acts]))


def _final_faults(module, it, backend, batch: _Chunk, found: np.ndarray, report: Report) -> None:
    """Every run of the chunk that ended in an interpreter fault (and did not diverge before):
    its last state injected into the backend, stepped with the faulting action, must fault with
    the same text (a `fault` divergence otherwise, at the step the fault would have made)."""
    for j, run in enumerate(batch.runs):
        if run.fault is None or found[j]:
            continue
        action, text = run.fault
        t = len(run.actions)
        theirs = backend.transition(batch.state(j, t), action)
        theirs_text = theirs if isinstance(theirs, str) else None
        if theirs_text == text:
            continue
        acts = run.actions + [action]
        report.divergences.append(Divergence(3, backend.name, run.seed, t + 1, "fault", text, theirs_text, acts,
                                             [it.actions.format(a) for a in acts]))


def _compare_lanes(it, backend, batch: _Chunk, active: np.ndarray, t: int, report: Report, tol: float,
                   found: np.ndarray) -> None:
    """Level 3 at step t: each `active` lane the backend's state or invariants flag is compared
    field by field; a difference, or an invariant broken where the interpreter's held, is a
    divergence, and its episode is marked in `found` (compared no more). The interpreter's own
    break (the last state of its run, already a fault of the report) broken alike is not."""
    runs = batch.runs
    for j in _flagged(backend, batch, active, t, tol):
        j = int(j)
        ours, acts = batch.state(j, t), runs[j].actions
        diff = first_difference(ours, backend.arrays(j, batch.keys), tol)
        if diff is None:
            broken = backend.broken_invariants(j)
            interp = runs[j].broken if t == len(acts) else []
            if broken != interp:
                diff = ("invariants", f"broken: {', '.join(interp)}" if interp else "hold",
                        f"broken: {', '.join(broken)}" if broken else "hold")
        if diff is not None:
            found[j] = True
            report.divergences.append(Divergence(3, backend.name, runs[j].seed, t, diff[0], _py(diff[1]),
                                                 _py(diff[2]), acts[:t], [it.actions.format(a) for a in acts[:t]]))


def _step_joint_lanes(backend, actions_t: np.ndarray, joint: int, pending: list[np.ndarray],
                      lanes: np.ndarray) -> tuple[int, str] | None:
    """Gather P = `joint` steps' actions (int32[lanes] each) in `pending`, then play them as one
    turn (`step_joint_lanes`). `lanes` (int[k]): the lanes whose run has an action at the
    turn's last step, so the whole turn is theirs (the others replay padding). The first of
    `lanes` that faulted, as (lane, text), or None."""
    pending.append(actions_t)
    if len(pending) < joint:
        return None
    fault = backend.step_joint_lanes(np.stack(pending, axis=1), lanes)
    pending.clear()
    return fault


def _level2(module, it, backend, batch: _Chunk, report, tol, samples: int, rng: np.random.Generator,
            leak_check: bool = False) -> bool:
    """From `samples` sampled reached states of the chunk, every legal action of every kind
    (at most 4 per kind), injected into the backend. Returns True at the first divergence."""
    runs = batch.runs
    pool = [(j, int(t)) for j, r in enumerate(runs) for t in np.flatnonzero(r.live)]
    if not pool:
        return False
    picks = [pool[int(p)] for p in rng.choice(len(pool), size=min(samples, len(pool)), replace=False)]
    rebuilt = _rebuild(it, runs, picks)
    hidden = np.random.default_rng(len(picks))
    for j, t in picks:
        st, s_seed = rebuilt[(j, t)], runs[j].seed
        if leak_check:  # level 1, once per sampled state (the first backend's): hidden information stays hidden
            found = visibility.leaks(it, st, hidden)
            if t > 0:  # a choice the step before paused at: its options, from a redrawn state before
                found += visibility.choice_leaks(it, rebuilt[(j, t - 1)], int(runs[j].actions[t - 1]), st, hidden)
            for leak in found:
                report.faults.append(f"seed {s_seed}, step {t}: hidden information: {leak}")
        if _inject(module, it, backend, st, runs[j], t, report, tol):
            return True
    return False


def _rebuild(it, runs: list[_Run], picks: list[tuple[int, int]]) -> dict[tuple[int, int], State]:
    """The interpreter states of the picked (run, step) pairs and of the step before each
    (`choice_leaks` replays it), each sampled episode replayed once, up to its last pick."""
    rebuilt: dict[tuple[int, int], State] = {}
    for j in sorted({j for j, _ in picks}):
        wanted = {t for jj, t in picks if jj == j} | {t - 1 for jj, t in picks if jj == j and t > 0}
        s = it.init(runs[j].seed)
        for t in range(max(wanted) + 1):
            if t in wanted:
                rebuilt[(j, t)] = s
            if t < max(wanted):
                s = it.step(s, runs[j].actions[t])
    return rebuilt


def _inject(module, it, backend, st: State, run: _Run, t: int, report: Report, tol: float) -> bool:
    """Level 2 on one sampled state `st` (step t of `run`): every legal action of every kind (at
    most 4 per kind) stepped by the interpreter and injected into the backend. Faults are
    recorded; returns True at the first divergence (recorded too)."""
    s_seed, acts = run.seed, run.actions
    injected = to_arrays(module, st)
    for kind in it.actions.kinds:
        legal = [a for a in range(kind.offset, kind.offset + kind.size) if st.legal_action_mask[a]]
        for a in legal[:4]:
            try:
                ours: dict | str = to_arrays(module, it.step(st, a))
            except SpecRuntimeError as err:
                ours = str(err)
            theirs = backend.transition(injected, a)
            diff = _transition_difference(ours, theirs, tol)
            report.level2_transitions += 1
            if diff is not None:
                history = list(acts[:t]) + [a]
                report.divergences.append(Divergence(2, backend.name, s_seed, t + 1, diff[0], _py(diff[1]),
                                                     _py(diff[2]), history, [it.actions.format(x) for x in history]))
                return True
    return False


def _transition_difference(ours: dict | str, theirs: dict | str, tol: float) -> tuple[str, Any, Any] | None:
    """`first_difference` of two next states, where either may be a fault's text instead: two
    faults must have the same text, and a fault against a state is a `fault` difference."""
    if isinstance(ours, str) or isinstance(theirs, str):
        if ours == theirs:
            return None
        return ("fault", ours if isinstance(ours, str) else None, theirs if isinstance(theirs, str) else None)
    return first_difference(ours, theirs, tol)


def _py(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


# ------------------------------------------------------------------ the interpreter on the lowered IR

def state_from_arrays(module: ir.Module, arrays: dict[str, Any]) -> State:
    """The interpreter state whose `to_arrays` is `arrays` (lists cut at their `len`)."""
    fields = {f.name: _value_from(module, f.type, arrays[f.name]) for f in module.state}
    s = State(fields, int(arrays["_rng_key"]), int(arrays["_rng_counter"]))
    s.legal_action_mask = [bool(x) for x in np.asarray(arrays["legal_action_mask"])]
    s.observation = _value_from(module, module.observe.type, arrays["observation"])
    return s


def _value_from(module: ir.Module, t: ir.Type, v: Any) -> Any:
    if isinstance(t, ir.ArrayT):
        return [_value_from(module, t.elem, x) for x in (v if isinstance(v, dict) else np.asarray(v))] \
            if not isinstance(v, dict) else _split(module, t, v)
    if isinstance(t, ir.ListT):
        n = int(np.asarray(v["len"]))
        items = _value_from(module, ir.ArrayT(elem=t.elem, size=t.cap), v["items"])
        return items[:n]
    if isinstance(t, ir.RecordT):
        return {f.name: _value_from(module, f.type, v[f.name]) for f in module.record(t.name).fields}
    x = np.asarray(v)
    if isinstance(t, ir.FloatT):
        return np.float32(x)
    if isinstance(t, ir.BoolT):
        return bool(x)
    return int(x)


def _split(module: ir.Module, t: ir.ArrayT, v: dict) -> list:
    """An array of records or lists, stored as a dict of arrays with a leading axis."""
    def row(tree, i):
        return {k: row(x, i) for k, x in tree.items()} if isinstance(tree, dict) else np.asarray(tree)[i]
    return [_value_from(module, t.elem, row(v, i)) for i in range(t.size)]


class _FlatBackend:
    """The reference interpreter on the lowered IR (`pipeline.lower`: the IR both array
    backends consume, every pass of `LOWERING`), one state per lane. Its unchecked list
    operations run without a test (hunt W, F2: with only `lower_choices`, the flat target
    checked no pass of `lower_lists`, and a test left out would not show)."""

    name = "flat"

    def __init__(self, module: ir.Module):
        from envc.compiler import pipeline

        self.module = module
        self.it = Interpreter(pipeline.lower(module))

    def reset(self, seeds: np.ndarray) -> None:
        self.states = [self.it.init(int(x)) for x in seeds]

    def step(self, actions: np.ndarray) -> str | None:
        try:
            self.states = [self.it.step(s, int(a)) for s, a in zip(self.states, actions)]
        except SpecRuntimeError as err:
            return str(err)
        return None

    def step_lanes(self, actions: np.ndarray, lanes: np.ndarray) -> tuple[int, str] | None:
        """Step only `lanes` (the lanes still replaying); the first that faults: (lane, text)."""
        return self._each(lanes, lambda s, j: self.it.step(s, int(actions[j])))

    def _each(self, lanes: np.ndarray, step: Callable[[State, int], State]) -> tuple[int, str] | None:
        """Replace the state of each of `lanes`, in order, by `step(state, lane)`; every lane is
        stepped, as the Rust package's `step_envs` does, and each whose step raises a
        `SpecRuntimeError` is kept in `faults` (lane -> text, see `lane_faults`). Returns the
        first that faulted: (lane, text), or None."""
        self.faults: dict[int, str] = {}
        for j in lanes:
            j = int(j)
            try:
                self.states[j] = step(self.states[j], j)
            except SpecRuntimeError as err:
                self.faults[j] = str(err)
        return next(iter(self.faults.items()), None)

    def lane_faults(self, lanes: np.ndarray) -> dict[int, str]:
        """Each of `lanes` (int[k]) whose step faulted in the last `step_lanes` or
        `step_joint_lanes` -> its text."""
        return {int(j): self.faults[int(j)] for j in lanes if int(j) in self.faults}

    def init_fault(self, seed: int) -> str | None:
        """The text of the fault `init(seed)` raises, or None."""
        try:
            self.it.init(seed)
        except SpecRuntimeError as err:
            return str(err)
        return None

    def step_joint(self, actions: np.ndarray) -> str | None:
        """One turn of a simultaneous spec per lane (`actions[lane]`: every player's action), the
        joint API every backend has (tests/test_simultaneous.py plays padding with it)."""
        try:
            self.states = [self.it.step_joint(s, [int(a) for a in row]) for s, row in zip(self.states, actions)]
        except SpecRuntimeError as err:
            return str(err)
        return None

    def step_joint_lanes(self, actions: np.ndarray, lanes: np.ndarray) -> tuple[int, str] | None:
        """One turn of a simultaneous spec for only `lanes` (`actions`: int[lanes, players]), for
        `verify(..., joint=True)`; the first that faults: (lane, text)."""
        return self._each(lanes, lambda s, j: self.it.step_joint(s, [int(a) for a in actions[j]]))

    def batch(self, keys, lanes: np.ndarray) -> list[tuple[str, np.ndarray]]:
        return _leaves({k: v for k, v in states_to_arrays(self.module, [self.states[int(j)] for j in lanes]).items()
                        if k in keys})

    def arrays(self, j: int, keys) -> dict:
        return {k: v for k, v in to_arrays(self.module, self.states[j]).items() if k in keys}

    def invariants_hold(self, lanes: np.ndarray) -> np.ndarray:
        return np.array([not self.it.invariant_violations(self.states[int(j)]) for j in lanes], dtype=bool)

    def broken_invariants(self, j: int) -> list[str]:
        return self.it.invariant_violations(self.states[j])

    def transition(self, arrays: dict, action: int) -> dict | str:
        try:
            return to_arrays(self.module, self.it.step(state_from_arrays(self.module, arrays), action))
        except SpecRuntimeError as err:
            return str(err)


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
        # the constructor records its `init` faults instead of raising them (lib.rs, issue 15):
        # any seed base makes a batch, whose lanes `reset` then starts from the seeds of the run
        self.single = native.VecEnv(1, threads=1, autoreset=False)

    def reset(self, seeds: np.ndarray) -> None:
        """Start lane i from `seeds[i]`. `init_faults` is then each lane whose `init` faulted ->
        the fault's text (`file.envspec:LINE:COL: message`, the package's `faults()`); those
        lanes' states are not to be read."""
        if getattr(self, "lanes", None) != len(seeds):  # one batch size per run: made once
            self.env, self.lanes = self.native.VecEnv(len(seeds), threads=1, autoreset=False), len(seeds)
        try:
            self.env.reset_seeds(seeds)
        except self.native.SpecRuntimeError:
            pass  # every lane's fault is in `faults()`
        self.init_faults = self.lane_faults(np.arange(len(seeds)))

    def lane_faults(self, lanes: np.ndarray) -> dict[int, str]:
        """Each of `lanes` (int[k]) that faulted in the package's last call -> its text."""
        faults = self.env.faults()
        return {int(j): faults[j] for j in lanes if faults[j] is not None}

    def _first_fault(self, lanes: np.ndarray) -> tuple[int, str] | None:
        """The lowest of `lanes` that faulted in the last call: (lane, text), or None."""
        faults = self.lane_faults(lanes)
        return min(faults.items()) if faults else None

    def step(self, actions: np.ndarray) -> str | None:
        try:
            self.env.step(actions)
        except self.native.SpecRuntimeError as err:
            return str(err)
        return None

    def step_joint(self, actions: np.ndarray) -> str | None:
        try:
            self.env.step_joint(actions)
        except self.native.SpecRuntimeError as err:
            return str(err)
        return None

    def step_joint_lanes(self, actions: np.ndarray, lanes: np.ndarray) -> tuple[int, str] | None:
        """One turn of every lane (`step_joint`: the package has no per-lane form); the lowest of
        `lanes` that faulted (lane, text), or None: every lane's fault is read (`faults()`), so
        a fault of a lane outside `lanes` (replaying padding) hides none of `lanes`."""
        try:
            self.env.step_joint(actions)
        except self.native.SpecRuntimeError:
            return self._first_fault(lanes)
        return None

    def step_lanes(self, actions: np.ndarray, lanes: np.ndarray) -> tuple[int, str] | None:
        """Step only `lanes` (`step_envs`, in order; every one is stepped); the lowest that
        faulted: (lane, text), or None (`lane_faults` has them all)."""
        try:
            self.env.step_envs(lanes.astype(np.int64), actions[lanes])
        except self.native.SpecRuntimeError:
            return self._first_fault(lanes)
        return None

    def init_fault(self, seed: int) -> str | None:
        """The text of the fault the package's `init` meets for `seed` (`reset_seeds([seed])`), or None."""
        try:
            self.single.reset_seeds(np.array([seed & 0xFFFFFFFF], dtype=np.uint32))
        except self.native.SpecRuntimeError:
            return self.single.faults()[0]
        return None

    def batch(self, keys, lanes: np.ndarray) -> list[tuple[str, np.ndarray]]:
        # stacked from `get_state` (what level 3 compares), not `get_states`
        per_env = [_leaves(self.env.get_state(int(j))) for j in lanes]
        return [(p, np.stack([leaves[i][1] for leaves in per_env])) for i, (p, _) in enumerate(per_env[0])]

    def arrays(self, j: int, keys) -> dict:
        return self.env.get_state(j)

    def invariants_hold(self, lanes: np.ndarray) -> np.ndarray:
        return np.array([all(self.env.invariants(int(j)).values()) for j in lanes], dtype=bool)

    def broken_invariants(self, j: int) -> list[str]:
        return [name for name, ok in self.env.invariants(j).items() if not ok]

    def transition(self, arrays: dict, action: int) -> dict | str:
        self.single.set_state(0, arrays)
        try:
            self.single.step(np.array([action], dtype=np.int32))
        except self.native.SpecRuntimeError:
            return self.single.faults()[0]
        return self.single.get_state(0)


# ------------------------------------------------------------------ level 4: policy transfer

def load_policy(ref: str) -> Callable:
    """The function named by `MODULE:FUNCTION` (`examples.ppo_tcg:policy`), where MODULE is an
    importable module or a `.py` file path (`examples/ppo_tcg.py:policy`).

    Raises:
        ValueError: `ref` has no `:`, the module or file cannot be loaded, or the name is missing
            or not callable.
    """
    import importlib

    module_ref, sep, name = ref.rpartition(":")
    if not sep or not module_ref or not name:
        raise ValueError(f"`{ref}` is not MODULE:FUNCTION (e.g. `examples/ppo_tcg.py:policy`)")
    try:
        if module_ref.endswith(".py") or "/" in module_ref:
            path = Path(module_ref)
            if not path.is_file():
                raise ValueError(f"no file `{module_ref}`")
            # an explicit loader: the file is Python whatever its suffix (without one, a file
            # not ending in `.py` has no spec and was an AttributeError)
            loader = importlib.machinery.SourceFileLoader(f"envc_policy_{path.stem}", str(path))
            spec = importlib.util.spec_from_file_location(loader.name, path, loader=loader)
            assert spec is not None  # never None with an explicit loader
            mod = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = mod
            loader.exec_module(mod)
        else:
            mod = importlib.import_module(module_ref)
    except ImportError as e:
        raise ValueError(f"cannot import `{module_ref}`: {e}") from e
    except Exception as e:  # the user's own file failed (a SyntaxError in it was an internal error)
        raise ValueError(f"cannot load `{module_ref}`: {type(e).__name__}: {e}") from e
    fn = getattr(mod, name, None)
    if not callable(fn):
        raise ValueError(f"`{module_ref}` has no function `{name}`")
    return fn


@dataclass
class PolicyRun:
    """One backend's episodes under the policy: per episode its seed, actions, length and
    return (sum of each player's rewards); `faults`: episode -> (step, text) of a runtime
    fault the backend recorded without raising (JAX's `State._fault`; -1: in `init`), the
    episode ending there."""

    target: str
    seeds: list[int]
    actions: list[list[int]]
    returns: np.ndarray  # float64 [episodes, num_players]
    lengths: np.ndarray  # int64 [episodes]
    faults: dict[int, tuple[int, str]] = field(default_factory=dict)


@dataclass
class Tost:
    """Two one-sided tests (Schuirmann 1987) on the paired return differences (backend minus
    interpreter, of player 0) against the declared margin: equivalent when both one-sided
    nulls (mean difference <= -margin, >= margin) are rejected at `alpha`."""

    margin: float
    alpha: float
    mean_difference: float
    p_lower: float
    p_upper: float

    @property
    def equivalent(self) -> bool:
        return max(self.p_lower, self.p_upper) < self.alpha


@dataclass
class PolicyReport:
    """Level 4: the runs per target (`python` first) and what differed."""

    runs: dict[str, PolicyRun]
    divergences: list[Divergence] = field(default_factory=list)
    tost: dict[str, Tost] = field(default_factory=dict)  # target -> test (TOST mode only)
    identical: dict[str, int] = field(default_factory=dict)  # target -> episodes identical to the interpreter's

    @property
    def ok(self) -> bool:
        if self.tost:  # (its divergences are the backends' faults only)
            return all(t.equivalent for t in self.tost.values()) and not self.divergences
        return not self.divergences


class PolicyError(Exception):
    """The policy given to `verify_policy` raised (its own error, in the message)."""


def _play_with_policy(target: str, seeds: list[int], policy: Callable, num_players: int, max_steps: int,
                      reset: Callable, observe: Callable, step: Callable) -> PolicyRun:
    """Lockstep episodes: `reset(seeds)`; then while any is live, `observe()` -> (obs, mask,
    live) for every lane, the policy acts for all lanes, `step(actions)` -> (rewards, done);
    finished lanes stop recording (their actions are 0, ignored)."""
    n = len(seeds)
    reset(np.asarray(seeds, dtype=np.int64).astype(np.uint32))
    actions: list[list[int]] = [[] for _ in range(n)]
    returns = np.zeros((n, num_players), np.float64)
    lengths = np.zeros(n, np.int64)
    live = np.ones(n, dtype=bool)
    for _ in range(max_steps):
        obs, mask, done = observe()
        live &= ~done
        if not live.any():
            break
        try:
            chosen = np.asarray(policy(obs, mask)).astype(np.int64).reshape(n)
        except Exception as e:  # the user's code: reported as theirs, not as envc's (`envc verify --policy`)
            raise PolicyError(f"the policy raised {type(e).__name__}: {e} (on {target}, with a batch of "
                              f"{n} observations and masks)") from e
        chosen = np.where(live, chosen, 0)
        rewards = step(chosen)
        for j in np.flatnonzero(live):
            actions[j].append(int(chosen[j]))
        returns[live] += np.asarray(rewards, np.float64)[live]
        lengths[live] += 1
    return PolicyRun(target, list(seeds), actions, returns, lengths)


def _interp_policy_run(module, it: Interpreter, seeds, policy, max_steps) -> PolicyRun:
    conv = _state_converter(module)
    states: list[State] = []

    def reset(s):
        states[:] = [it.init(int(x)) for x in s]

    def observe():
        obs = conv.obs_many([s.observation for s in states])
        mask = np.asarray([s.legal_action_mask for s in states], dtype=np.bool_)
        done = np.array([s.terminated or s.truncated for s in states])
        return obs, mask, done

    def step(actions):
        states[:] = [s if (s.terminated or s.truncated) else it.step(s, int(a)) for s, a in zip(states, actions)]
        return np.asarray([[float(r) for r in s.rewards] for s in states], np.float64)

    return _play_with_policy("python", seeds, policy, module.num_players, max_steps, reset, observe, step)


def _jax_policy_run(module, env, seeds, policy, max_steps) -> PolicyRun:
    import jax

    init, stp = jax.jit(jax.vmap(env.init_from_seed)), jax.jit(jax.vmap(env.step))
    box: dict = {"t": -1}
    faults: dict[int, tuple[int, str]] = {}

    def note_faults() -> None:
        """Episodes whose `_fault` is set for the first time: faulted at step `t` (they end)."""
        rows = getattr(box["state"], "_fault", None)
        texts = _fault_texts(env, None if rows is None else np.asarray(jax.device_get(rows)))
        for j, text in texts.items():
            faults.setdefault(j, (box["t"], text))

    def reset(s):
        box["state"] = init(jax.numpy.asarray(s))
        note_faults()

    def observe():
        st = jax.device_get(box["state"])
        faulted = np.zeros(len(seeds), dtype=bool)
        faulted[list(faults)] = True
        return (jax.tree_util.tree_map(np.asarray, st.observation), np.asarray(st.legal_action_mask),
                np.asarray(st.terminated) | np.asarray(st.truncated) | faulted)

    def step(actions):
        box["state"] = stp(box["state"], jax.numpy.asarray(actions, dtype=jax.numpy.int32))
        box["t"] += 1
        note_faults()
        return np.asarray(box["state"].rewards)

    run = _play_with_policy("jax", seeds, policy, module.num_players, max_steps, reset, observe, step)
    run.faults = faults
    return run


def _rust_policy_run(module, native, seeds, policy, max_steps) -> PolicyRun:
    env = native.VecEnv(len(seeds), threads=1, autoreset=False)

    def observe():
        obs = env.obs
        obs = obs.copy() if isinstance(obs, np.ndarray) else jax_free_copy(obs)
        return obs, env.mask.copy(), env.terminated | env.truncated

    def step(actions):
        env.step(np.asarray(actions, dtype=np.int32))
        return env.rewards.copy()

    return _play_with_policy("rust", seeds, policy, module.num_players, max_steps, env.reset_seeds, observe, step)


def jax_free_copy(tree: Any) -> Any:
    """A copy of a dict of numpy arrays (nested)."""
    if isinstance(tree, dict):
        return {k: jax_free_copy(v) for k, v in tree.items()}
    return np.array(tree)


def _tost(diff: np.ndarray, margin: float, alpha: float) -> Tost:
    from scipy import stats

    n = len(diff)
    mean = float(diff.mean()) if n else 0.0
    sd = float(diff.std(ddof=1)) if n > 1 else 0.0
    if sd == 0.0:  # every difference equal: the test is decided by the mean alone
        p_lower = 0.0 if mean > -margin else 1.0
        p_upper = 0.0 if mean < margin else 1.0
        return Tost(margin, alpha, mean, p_lower, p_upper)
    se = sd / math.sqrt(n)
    p_lower = float(stats.t.sf((mean + margin) / se, n - 1))  # H0: mean <= -margin
    p_upper = float(stats.t.sf((margin - mean) / se, n - 1))  # H0: mean >= margin
    return Tost(margin, alpha, mean, p_lower, p_upper)


def verify_policy(module: ir.Module, targets: list[str], policy: Callable, episodes: int = 100, seed: int = 0,
                  max_steps: int = 1000, tost_margin: float | None = None, alpha: float = 0.05,
                  jax_env: Any = None, rust_env: Any = None) -> PolicyReport:
    """Level 4, policy transfer: `episodes` seeded episodes (seeds `seed` ..) played by `policy`
    on the interpreter and on each backend of `targets` (`jax`, `rust`), all episodes in
    lockstep as one batch.

    `policy(observation, legal_action_mask) -> actions`: numpy batches, `observation` shaped
    (episodes, *observation shape) in the observation's dtype (a dict of such arrays for a
    record observation), `legal_action_mask` bool (episodes, num_actions), actions ints
    (episodes,); it must be deterministic (a greedy policy, or one seeded by its inputs). Every
    seat of a multi-player game is played by the policy, on the observation of the player to
    move. Finished episodes get the policy's action too (ignored).

    Exact mode (`tost_margin` None): every episode's actions, length and returns must equal
    the interpreter's; the first difference of an episode is a `Divergence` of level 4 (its
    step, `action` / `length` / `return[p]`, both values, the actions that reproduce it).
    TOST mode (float specs, where float32 rounding may change a late action): the paired
    differences of player 0's returns must be within `tost_margin` by two one-sided t-tests
    at `alpha` (`Tost`); episodes identical to the interpreter's are counted, not required.

    Raises:
        ValueError: an unknown target, or fewer than 2 episodes in TOST mode.
        PolicyError: the policy raised.
        SpecRuntimeError: the spec faulted on the interpreter (or the Rust package's
            `SpecRuntimeError`: on Rust) while the policy played; level 4 compares episodes
            that end without a fault (levels 1-3 compare faults).
    """
    for t in targets:
        if t not in ("python", "jax", "rust"):
            raise ValueError(f"unknown target `{t}`")
    if tost_margin is not None and episodes < 2:
        raise ValueError("TOST needs at least 2 episodes")
    seeds = [seed + i for i in range(episodes)]
    it = Interpreter(module)
    runs = {"python": _interp_policy_run(module, it, seeds, policy, max_steps)}
    for t in targets:
        if t == "jax":
            runs["jax"] = _jax_policy_run(module, jax_env or load_jax(module), seeds, policy, max_steps)
        elif t == "rust":
            runs["rust"] = _rust_policy_run(module, rust_env or load_rust(module), seeds, policy, max_steps)
    report = PolicyReport(runs)
    for t, run in runs.items():
        if t != "python":
            _compare_policy_run(report, it, t, run, seeds, tost_margin, alpha)
    return report


def _compare_policy_run(report: PolicyReport, it, t: str, run: PolicyRun, seeds: list[int],
                        tost_margin: float | None, alpha: float) -> None:
    """Level 4 for target `t`: its episodes identical to the interpreter's, and either each
    other episode's first difference as a divergence (exact mode) or the TOST of player 0's
    returns (`tost_margin` given)."""
    ref = report.runs["python"]
    same = 0
    for j, s in enumerate(seeds):
        d = _episode_difference(ref, run, j)
        faulted = j in run.faults and (d is None or d[1] != "action" or d[0] > run.faults[j][0])
        if faulted:
            # the interpreter's episodes end without a fault (it raises at one): the backend's
            # is a divergence in either mode, at the state its faulting step would have made
            at, text = run.faults[j]
            d = (at + 1, "fault", None, text)
        if d is None:
            same += 1
        elif tost_margin is None or faulted:
            step, what, ours, theirs = d
            acts = ref.actions[j][:step]
            report.divergences.append(Divergence(4, t, s, step, what, ours, theirs, acts,
                                                 [it.actions.format(a) for a in acts]))
    report.identical[t] = same
    if tost_margin is not None:
        report.tost[t] = _tost(run.returns[:, 0] - ref.returns[:, 0], tost_margin, alpha)


def _episode_difference(ref: PolicyRun, run: PolicyRun, j: int) -> tuple[int, str, Any, Any] | None:
    """The first difference of episode j: (step, what, interpreter's, backend's), or None."""
    a, b = ref.actions[j], run.actions[j]
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return k, "action", x, y
    if ref.lengths[j] != run.lengths[j]:
        return min(len(a), len(b)), "length", int(ref.lengths[j]), int(run.lengths[j])
    for p in range(ref.returns.shape[1]):
        if ref.returns[j, p] != run.returns[j, p]:
            return len(a), f"return[{p}]", float(ref.returns[j, p]), float(run.returns[j, p])
    return None
