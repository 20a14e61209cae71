"""`envc verify --reference jax`: compiled backends checked against each other, without the interpreter.

The interpreter is the definition of meaning, and `envc.verify.verify` replays its trajectories
on each backend. It is also about 90% of a long run's time (1.5 ms per TCG step on one core,
bench/RESULTS.md), which puts the run issue 16 asks for, JAX = Rust on 1,000 games of each of
484 deck pairs, out of reach. Here a compiled backend (the *reference*, JAX by default) plays
the episodes in one batch, and every other backend steps in lock-step with the same actions;
the states are compared at every step, leaf by leaf.

What is checked, per chunk of `chunk` episodes (one batch of lanes):

* level 3: every reached state of every other backend equals the reference's (every field,
  the legal-action mask, the observation, the RNG words), until the episode ends or reaches
  `max_steps`; a divergence names the first step, the field path, both values and the actions;
* level 1: the spec's invariants hold on every reached state of the reference (the states of
  the other backends are equal to it where they are compared, so their invariants hold too);
* runtime faults are compared like any other field, as `envc.verify` does (README, "Runtime
  faults"): after each step, the lanes still compared whose step faulted (JAX's
  `State._fault`, Rust's `faults()`) must be the same lanes with the same text
  (`file.envspec:LINE:COL: message`) on every backend. A fault every backend reproduces is a
  fault of the spec: its episode ends there, counts as checked and is listed in
  `Report.spec_faults`, and the chunk plays on. Otherwise the lowest lane where they differ
  is a divergence of field `fault` (`None`: no fault), at the step the fault made, whose
  actions end with the faulting one; that backend is compared no more in the chunk. The
  faults of `init` are compared so before the first step (`_init_faults`): a difference is a
  `fault` divergence at step 0 with no actions, an agreed one a spec fault `seed S, init: ...`
  whose episode counts as checked and fills no match-up.

Level 2 (injected transitions) needs the interpreter and is not run: this is a complement to
`verify`, whose runs against the interpreter stay the check of meaning.

The policy (decided here): one generator `np.random.default_rng(seed)` draws, at every step,
one uniform number per lane in lane order, and each live lane plays the `floor(u * n)`-th of
its `n` legal actions (the reference's mask); a chunk's padding lanes replay its first seed
and are never compared. So a run is a function of `seed`, `chunk` and the spec, and a
divergence's action list reproduces it on any backend (`init(seed)` then the actions).

Match-ups (`per_matchup`): candidate seeds are initialised by the reference, a batch at a
time, in order; a seed whose match-up (`@matchup` fields, `envc.run_jax.label_values`) already
has N episodes is skipped, as in `verify`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from envc.compiler import ir
from envc.compiler.interp import Interpreter
from envc.run_jax import label_values, matchup_fields
from envc.verify import (
    Divergence,
    Report,
    _FaultRow,
    _JaxBackend,
    _leaves,
    _py,
    _RustBackend,
    _spec_fault,
    all_matchups,
    first_difference,
    lanes_differ,
    load_jax,
    load_rust,
)

REFERENCES = ("jax", "rust")


def cross_check(module: ir.Module, reference: str, targets: list[str], episodes: int = 100, seed: int = 0,
                max_steps: int = 1000, float_tolerance: float = 0.0, chunk: int = 256,
                per_matchup: int | None = None, max_seeds: int | None = None,
                progress: Callable[[int], None] | None = None, phase: Callable[[str], None] | None = None,
                jax_env: Any = None, rust_env: Any = None) -> Report:
    """Check the backends `targets` against the backend `reference` (the module docstring says
    what is checked and how episodes and actions are chosen).

    Episodes: seeds `seed`, `seed + 1`, ...; without `per_matchup`, `episodes` of them. With
    `per_matchup=N`: N episodes of every match-up of `all_matchups(module)`, trying at most
    `max_seeds` seeds (default 10 x N x match-ups; `episodes` when the match-ups cannot be
    enumerated, each seen match-up then getting up to N).

    Returns a `Report` (`level2_transitions` is 0; `invariant_checks` counts the reference's
    reached states whose invariants were checked). `jax_env`/`rust_env` replace the generated
    JAX module / the built Rust package (as in `verify`).

    Raises:
        ValueError: `reference` is not a compiled backend, `targets` holds `python`, the
            reference or an unknown name, or is empty; `chunk` or `per_matchup` below 1.
    """
    if reference not in REFERENCES:
        raise ValueError(f"the reference must be one of {', '.join(REFERENCES)}, not `{reference}`")
    others = [t for t in targets if t != reference]
    bad = [t for t in others if t not in REFERENCES]
    if bad:
        raise ValueError(f"`{bad[0]}` cannot be checked against `{reference}`: the other targets are "
                         f"compiled backends ({', '.join(REFERENCES)})")
    if not others:
        raise ValueError(f"nothing to check against `{reference}`: name another backend in the targets")
    if chunk < 1 or (per_matchup is not None and per_matchup < 1):
        raise ValueError("chunk and per_matchup must be at least 1")
    from envc.compiler.passes import choice_points

    module = choice_points.run(module)  # the state fields of paused effects, as the backends have them
    envs = {"jax": jax_env, "rust": rust_env}
    report = Report(targets=[reference, *others])
    plan = _Plan(module, episodes, seed, per_matchup, max_seeds, report)
    lanes = max(1, min(chunk, plan.planned))
    names = Interpreter(module).actions.format
    if phase:
        phase(f"{reference}: compiling and playing the first chunk")
    ref = _backend(reference, module, envs[reference])
    checked = [_backend(t, module, envs[t]) for t in others]
    policy = np.random.default_rng(seed)
    while True:
        seeds = plan.next_chunk(ref, lanes)
        if not seeds:
            break
        _lockstep(ref, checked, seeds, lanes, policy, max_steps, float_tolerance, report, names)
        if progress:
            progress(len(seeds))
        if phase:
            phase("episodes")
    report.per_matchup_counts = dict(sorted(plan.counts.items()))
    return report


def _backend(name: str, module: ir.Module, env: Any) -> _JaxBackend | _RustBackend:
    if name == "jax":
        return _JaxBackend(env or load_jax(module))
    return _RustBackend(env or load_rust(module))


def _host(backend: _JaxBackend | _RustBackend) -> dict[str, Any]:
    """Every field of every lane (a leading batch axis), in the layout of `to_arrays`."""
    if isinstance(backend, _JaxBackend):  # `_fault` is not a field of the layout: faults are checked apart
        return {k: v for k, v in backend.host.items() if k != "_fault"}
    return backend.env.get_states()


class _Plan:
    """Which seeds each chunk plays: in order, skipping seeds of a full match-up."""

    def __init__(self, module: ir.Module, episodes: int, seed: int, per_matchup: int | None,
                 max_seeds: int | None, report: Report):
        self.module, self.seed, self.per_matchup, self.report = module, seed, per_matchup, report
        self.counts: dict[tuple[int, ...], int] = {}
        self.next_seed = seed
        self.fields = [f.name for f in matchup_fields(module)]
        expected = all_matchups(module) if per_matchup is not None else None
        self.short: set | None = None
        if per_matchup is None:
            self.planned = self.limit = episodes
        elif expected is not None:
            self.planned = per_matchup * len(expected)
            self.limit = max_seeds if max_seeds is not None else 10 * self.planned
            self.counts = {k: 0 for k in expected}
            self.short = set(expected)
        else:
            self.planned = self.limit = max_seeds if max_seeds is not None else episodes

    def next_chunk(self, ref, lanes: int) -> list[int]:
        """The seeds of the next chunk (at most `lanes`; empty when the run is over), counted."""
        out: list[int] = []
        while len(out) < lanes and self.next_seed < self.seed + self.limit and not self._all_full():
            candidates = list(range(self.next_seed, min(self.next_seed + lanes, self.seed + self.limit)))
            self._scan(candidates, self._keys(ref, candidates, lanes), out, lanes)
        return out

    def _all_full(self) -> bool:
        return self.short is not None and not self.short

    def _scan(self, candidates: list[int], keys: list[tuple[int, ...] | None], out: list[int], lanes: int) -> None:
        """Take the candidate seeds in order into `out` (those whose match-up is not full) until
        it holds `lanes`; a seed is consumed when it is looked at."""
        for s, key in zip(candidates, keys):
            if len(out) == lanes:
                return
            self.next_seed = s + 1
            self.report.seeds_tried += 1
            if self._take(key):
                out.append(s)

    def _keys(self, ref, candidates: list[int], lanes: int) -> list[tuple[int, ...] | None]:
        if not self.fields:
            return [()] * len(candidates)
        ref.reset(_padded(candidates, lanes))
        host = _host(ref)
        return [None if j in ref.init_faults else
                label_values(self.module, {f: np.asarray(host[f][j]).tolist() for f in self.fields})
                for j in range(len(candidates))]

    def _take(self, key: tuple[int, ...] | None) -> bool:
        """Whether a seed of match-up `key` is played, counted; a seed whose `init` faults on the
        reference (`key` None) is always played (its fault is compared) and fills no match-up,
        as in `verify`."""
        if key is None:
            return True
        n = self.counts.get(key, 0)
        if self.per_matchup is not None and n >= self.per_matchup:
            return False
        self.counts[key] = n + 1
        if self.short is not None and n + 1 >= (self.per_matchup or 0):
            self.short.discard(key)
        return True


def _padded(seeds: list[int], lanes: int) -> np.ndarray:
    """`seeds` as uint32 lanes, the padding lanes replaying the first seed (never compared)."""
    out = np.full(lanes, seeds[0] & 0xFFFFFFFF, dtype=np.uint32)
    out[: len(seeds)] = [s & 0xFFFFFFFF for s in seeds]
    return out


def _actions(host: dict[str, Any], policy: np.random.Generator) -> np.ndarray:
    """One action per lane: the `floor(u * n)`-th of the lane's `n` legal actions (0 when none)."""
    mask = np.asarray(host["legal_action_mask"], dtype=bool)
    n = mask.sum(axis=1)
    u = policy.random(len(mask))
    k = np.minimum((u * n).astype(np.int64), np.maximum(n - 1, 0))
    ranks = np.cumsum(mask, axis=1) - 1  # the rank of each legal action among its lane's
    hit = mask & (ranks == k[:, None])
    return np.where(n > 0, hit.argmax(axis=1), 0).astype(np.int32)


def _lockstep(ref, checked: list, seeds: list[int], lanes: int, policy: np.random.Generator, max_steps: int,
              tol: float, report: Report, names: Callable[[int], str]) -> None:
    """Play one chunk on `ref`, the backends `checked` stepping with the same actions."""
    n = len(seeds)
    for b in (ref, *checked):
        b.reset(_padded(seeds, lanes))
    live = np.ones(n, dtype=bool)  # lanes still compared
    ok = {b.name: True for b in checked}  # backends without a divergence or fault in this chunk
    history = np.zeros((max_steps, lanes), dtype=np.int32)
    live[_init_faults(ref, checked, ok, n, seeds, history, report, names)] = False
    for t in range(max_steps + 1):
        ref_host = _host(ref)
        active = np.flatnonzero(live)
        _check_invariants(ref, active, seeds, t, history, report)
        ok = {b.name: ok[b.name] and _compare(ref, ref_host, b, active, seeds, t, history, tol, report, names)
              for b in checked}
        report.invariant_checks += len(active)
        done = np.asarray(ref_host["terminated"], dtype=bool)[:n] | np.asarray(ref_host["truncated"], dtype=bool)[:n]
        ended = live & done
        report.episodes += int(ended.sum())
        live &= ~done
        live &= ~_dead_ends(ref_host, live, seeds, t, history, report)
        if t == max_steps or not live.any() or not any(ok.values()):
            report.episodes += int(live.sum())
            return
        history[t] = _actions(ref_host, policy)
        report.steps += int(live.sum())
        live[_step_all(ref, checked, ok, np.flatnonzero(live), seeds, t, history, report, names)] = False


def _dead_ends(host: dict[str, Any], live: np.ndarray, seeds: list[int], t: int, history: np.ndarray,
               report: Report) -> np.ndarray:
    """The live lanes (bool[n]) whose state has not ended and has no legal action, each a fault
    of the report, worded as the interpreter's verify words it: the random legal policy has
    nothing to pick there (hunt S: `--reference jax` said ok where the interpreter's run faulted;
    `_actions` played action 0)."""
    mask = np.asarray(host["legal_action_mask"], dtype=bool)[:len(live)]
    stuck = live & ~mask.any(axis=1)
    for i in np.flatnonzero(stuck):
        report.faults.append(f"seed {seeds[i]}, step {t}: a non-terminal state has no legal action "
                             f"(actions {history[:t, i].tolist()})")
    report.episodes += int(stuck.sum())  # (ended by the fault, as the interpreter's verify counts them)
    return stuck


def _step_all(ref, checked: list, ok: dict[str, bool], lanes: np.ndarray, seeds: list[int], t: int,
              history: np.ndarray, report: Report, names: Callable[[int], str]) -> np.ndarray:
    """Step the lanes `lanes` (int[k], those still compared) of `ref` and of every backend of
    `checked` still `ok` with the actions `history[t]`, and compare their faults (the module
    docstring's rule; a backend that diverges is marked in `ok`). Returns the lanes whose
    episode ended in a fault of the reference (int[m]), each counted as an episode and listed
    in `report.spec_faults` when every backend still compared reproduced it."""
    ours = _lane_faults(ref, history[t], lanes)
    everyones = [_lane_faults(b, history[t], lanes) if ok[b.name] else {} for b in checked]
    _faults_agreed(ref.name, checked, ok, ours, everyones, seeds, t, history, report, names)
    return np.array(sorted(ours), dtype=np.int64)


def _faults_agreed(ref_name: str, checked: list, ok: dict[str, bool], ours: dict[int, str],
                   everyones: list[dict[int, str]], seeds: list[int], t: int, history: np.ndarray, report: Report,
                   names: Callable[[int], str]) -> None:
    """Compare the reference's faults `ours` (lane -> text) of step t (-1: `init`) with each
    backend's (`everyones`, in the order of `checked`; those not `ok` are skipped): a difference
    is a divergence (the backend is no longer `ok`). Each faulting lane counts as an episode; its
    fault is a spec fault when every backend still compared reproduced it (a spec fault is one
    all backends agree on: one a backend differs on is a divergence only)."""
    compared = [theirs for b, theirs in zip(checked, everyones) if ok[b.name]]
    for b, theirs in zip(checked, everyones):
        if not ok[b.name]:
            continue
        diverged = fault_divergence(ref_name, b.name, ours, theirs, seeds, t, history, names)
        if diverged is not None:
            report.divergences.append(diverged)
            ok[b.name] = False
    if not any(ok.values()):
        return
    for j, text in sorted(ours.items()):
        report.episodes += 1
        if all(theirs.get(j) == text for theirs in compared):
            report.spec_faults.append(_spec_fault(seeds[j], t, text))


def _init_faults(ref, checked: list, ok: dict[str, bool], n: int, seeds: list[int], history: np.ndarray,
                 report: Report, names: Callable[[int], str]) -> np.ndarray:
    """Compare the faults of `init` (each backend's `init_faults` after `reset`) on the lanes
    0..n-1 as `_step_all` compares a step's: a difference is a `fault` divergence at step 0
    (no actions), a fault every backend reproduces is a spec fault (`seed S, init: ...`) whose
    episode counts as checked. Returns the lanes whose `init` faulted on the reference (int[m])."""
    ours = {j: text for j, text in ref.init_faults.items() if j < n}
    everyones = [{j: text for j, text in b.init_faults.items() if j < n} for b in checked]
    _faults_agreed(ref.name, checked, ok, ours, everyones, seeds, -1, history, report, names)
    return np.array(sorted(ours), dtype=np.int64)


def _lane_faults(b, actions: np.ndarray, lanes: np.ndarray) -> dict[int, str]:
    """Step the lanes `lanes` of backend `b` with `actions` (int32[lanes]): each of `lanes` whose
    step faulted -> the fault's text (`file.envspec:LINE:COL: message`)."""
    if isinstance(b, _JaxBackend):  # every lane steps; `_fault` holds each lane's
        rows = b.host_fault() if b.step_lanes(actions, lanes) is not None else None
        if rows is None:
            return {}
        return {int(j): b.env.fault_message(_FaultRow(rows[j])) for j in lanes if rows[j, 0] != 0}
    if b.step_lanes(actions, lanes) is None:  # Rust's `step_envs` steps every lane: `faults()` has each one's
        return {}
    return b.lane_faults(lanes)


def fault_divergence(reference: str, target: str, ours: dict[int, str], theirs: dict[int, str], seeds: list[int],
                     t: int, history: np.ndarray, names: Callable[[int], str]) -> Divergence | None:
    """The `fault` divergence of backend `target` from `reference` after step t, or None.

    `ours`/`theirs`: each backend's faulting lanes -> text (`_lane_faults`). They agree when
    equal; otherwise the divergence is at the lowest lane where they differ, each side's text
    there (None: that backend did not fault in that lane), at step t + 1 with the actions
    `history[: t + 1]` of that lane (`history`: int32[steps, lanes]); t = -1 compares the
    faults of `init` (step 0, no actions)."""
    if ours == theirs:
        return None
    j = min(k for k in {*ours, *theirs} if ours.get(k) != theirs.get(k))
    acts = [int(a) for a in history[: t + 1, j]]
    return Divergence(3, target, seeds[j], t + 1, "fault", ours.get(j), theirs.get(j), acts, [names(a) for a in acts],
                      reference=reference)


def _check_invariants(ref, active: np.ndarray, seeds: list[int], t: int, history: np.ndarray,
                      report: Report) -> None:
    """Level 1 on the reference: the first 5 lanes of `active` whose invariants do not all hold
    are reported as faults, with their actions."""
    for j in active[~ref.invariants_hold(active)][:5]:
        j = int(j)
        acts = [int(a) for a in history[:t, j]]
        report.faults.append(f"{ref.name}, seed {seeds[j]}, step {t}: invariant(s) "
                             f"{', '.join(ref.broken_invariants(j))} broken (actions {acts})")


def _compare(ref, ref_host: dict[str, Any], b, active: np.ndarray, seeds: list[int], t: int, history: np.ndarray,
             tol: float, report: Report, names: Callable[[int], str]) -> bool:
    """Compare backend `b`'s state with the reference's on the lanes `active`; False at the
    first divergence (recorded in `report`)."""
    if not len(active):
        return True
    keys = list(ref_host)
    for j in _flagged(_leaves(ref_host), _leaves(_host(b)), active, tol):
        j = int(j)
        diff = first_difference(ref.arrays(j, keys), b.arrays(j, keys), tol)
        if diff is None:
            continue
        acts = [int(a) for a in history[:t, j]]
        report.divergences.append(Divergence(3, b.name, seeds[j], t, diff[0], _py(diff[1]), _py(diff[2]), acts,
                                             [names(a) for a in acts], reference=ref.name))
        return False
    return True


def _flagged(ours: list, theirs: list, active: np.ndarray, tol: float) -> np.ndarray:
    """The lanes among `active` whose states may differ (`_leaves` of both sides, a leading
    lane axis): every lane when the layouts differ, else the rows that differ somewhere."""
    if [p for p, _ in ours] != [p for p, _ in theirs]:
        return active
    bad = lanes_differ([x[active] for _, x in ours], [y[active] for _, y in theirs], tol)
    return active if bad is None else active[bad]


def planned_episodes(module: ir.Module, episodes: int, per_matchup: int | None) -> int | None:
    """The episodes a run will verify, for a progress bar (None when the match-ups cannot be
    enumerated)."""
    if per_matchup is None:
        return episodes
    keys = all_matchups(module)
    return None if keys is None else per_matchup * len(keys)

