"""The legal-action mask of the initial state, when it is the same for every seed.

`step_autoreset_from_seed` (what `rollout` runs) computes a fresh state on every step and
keeps it where the episode ended; building that state's mask costs as much as the step's own
(bench/RESULTS.md, "Where othello's time goes": the auto-reset step was 185-197% of `step`).
Pgx's hand-written `_init` writes a constant mask. `constant(module)` proves, at compile time,
that the mask after `init` does not depend on the seed, and returns it; a backend then writes
the constant instead of evaluating the guards.

Since issue 18's fix the generated JAX `step_autoreset_from_seed` no longer uses the constant:
it selects the fresh state before computing any mask, then one mask for the selected state
(selecting finished states cost more than the guards: bench/RESULTS.md, "Issue 18, the
auto-reset step"). The constant still makes `init(key)` as cheap as Pgx's, which is what a
user's own `vmap(init)` / select loop pays on every step.

The proof is exhaustive, never sampled: the initial state is a function of the init's random
draws only, so the mask is constant when it is equal for every combination of their values.
That is decidable when the draws are a fixed sequence: every draw of the init is a
`random.int(lo, hi)` with constant bounds, at most one per top-level statement of `init`
(not under an `if`, a loop, a `match`, in a called `fn` or `proc`, nor a `random.pick` or a
`shuffle`, whose count or range depends on the state). Draw k then reads RNG counter k, and
its value is `lo + bits(key, k) % (hi - lo + 1)` (`envc.compiler.rng`). The pass searches
seeds (`SEED_SEARCH` at most) until every combination of values (`MAX_OUTCOMES` at most) has
a seed, runs the interpreter's `init` for one seed of each, and compares the guards' masks.
Anything else (more combinations, a combination not found, a runtime fault in `init`) gives
None: the mask is computed as before.
"""

from __future__ import annotations

from envc.compiler import ir, rng

MAX_OUTCOMES = 256
SEED_SEARCH = 20_000


def constant(module: ir.Module) -> list[bool] | None:
    """The raw legal-action mask (each kind's guard, before a terminated state's all-true
    mask) of every initial state of `module`, when it is one list of `num_actions` bools for
    all seeds; None when some kinds have no guard only (nothing to save), or when it is not
    proved (see the module docstring)."""
    if all(a.guard is None for a in module.actions):
        return None
    sizes = _draw_sizes(module)
    if sizes is None:
        return None
    seeds = _seeds(sizes)
    if seeds is None:
        return None
    from envc.compiler.interp import Interpreter, SpecRuntimeError

    it = Interpreter(module)
    masks = set()
    for seed in seeds:
        try:
            masks.add(tuple(it.legal_action_mask(it.init(seed))))
        except SpecRuntimeError:
            return None
        if len(masks) > 1:
            return None
    return [bool(b) for b in masks.pop()]


def _seeds(sizes: list[int]) -> list[int] | None:
    """One seed for each combination of values of draws with `sizes` values (draw k reads
    counter k), or None when there are more than `MAX_OUTCOMES` or some is not found."""
    total = 1
    for n in sizes:
        total *= n
    if total > MAX_OUTCOMES:
        return None
    seeds: dict[tuple, int] = {}
    for seed in range(SEED_SEARCH):
        key = rng.seed_key(seed)
        seeds.setdefault(tuple(rng.bits(key, k) % n for k, n in enumerate(sizes)), seed)
        if len(seeds) == total:
            return list(seeds.values())
    return None


def _draw_sizes(module: ir.Module) -> list[int] | None:
    """The number of values of each draw of `init`, in RNG-counter order, or None when the
    draws are not a fixed sequence of constant-bound `random.int`s (module docstring)."""
    sizes: list[int] = []
    for s in module.init:
        draws = [n for n in _reachable(module, s, set()) if _is_draw(n)]
        if not draws:
            continue
        if isinstance(s, (ir.If, ir.For, ir.Match, ir.CallProc)) or len(draws) > 1:
            return None
        d = draws[0]
        direct = [n for n in ir.walk(s) if _is_draw(n)]
        if direct != [d] or not isinstance(d, ir.RandomInt):
            return None  # the draw sits in a called fn, or is a pick or a shuffle
        if not (isinstance(d.lo, ir.Const) and isinstance(d.hi, ir.Const)) or d.lo.value > d.hi.value:
            return None
        if any(isinstance(n, (ir.Reduce, ir.ArrayBuild)) and any(m is d for m in ir.walk(n)) for n in ir.walk(s)):
            return None  # one node, drawn once per element (`[random.int(0, 1) for i in 0..5]`)
        sizes.append(d.hi.value - d.lo.value + 1)
    return sizes


def _is_draw(n: ir.Node) -> bool:
    return isinstance(n, (ir.RandomInt, ir.RandomPick)) or (isinstance(n, ir.ListOp) and n.op == "shuffle")


def _reachable(module: ir.Module, node: ir.Node, seen: set[str]):
    """Every node of `node` and of the bodies of the `fn`s and `proc`s it calls (each once)."""
    for n in ir.walk(node):
        yield n
        callee = n.fn if isinstance(n, ir.CallFn) else n.proc if isinstance(n, ir.CallProc) else None
        if callee is None or callee in seen:
            continue
        seen.add(callee)
        for stmt in module.fn(callee).body:
            yield from _reachable(module, stmt, seen)
