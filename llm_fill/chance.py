"""The judge's `with chance A in B [where GUARD]: COND` clauses: how likely an outcome of one call is,
listed exactly over every value of the call's random draws (hunt V, F2: "30% chance to burn"
could only be stated per random word, which refused right fills, `random.int(0, 9) >= 7`,
or by how many values a draw ranges over, which accepted 40%).

Public surface: `CHANCE_OUTCOMES`, `CHANCE_SAMPLES`, `CHANCE_SIGMAS`, `outcomes(it, hole, before,
args, limit)`, `sampled(it, hole, before, args, runs)`, `chance_problems(it, hole, rules, before,
args, budget)`.

How. The interpreter's forced-draw hook (`Evaluator.forced_draws`) makes draw k of a call take
a chosen value of its range; `outcomes` runs the call once per sequence of draw values, in a
depth-first walk (a draw's range may depend on earlier values: each run records the ranges
of the draws it made, `draw_sizes`, and the walk branches on each new one), and weighs each
run by how likely its sequence is (1/size per draw: a `random.int(lo, hi)` value, a
`random.pick` value among its legal ones). A clause's probability is the sum of the weights
of the runs where COND holds, a `Fraction`, compared exactly with A/B: `random.int(0, 9) < 3`,
`random.int(0, 9) >= 7` and `random.int(0, 99) < 30` are all 3/10; 40% is not, and neither
is a fill that burns always, never, or only when a second draw agrees.

Limits (decided here): a call with more than `CHANCE_OUTCOMES` sequences (or than the fill's
listing budget `textchecks.CHANCE_RUNS` has left), or one that shuffles a list (its swaps are not forced),
is not listed: it is run `CHANCE_SAMPLES` times from other random words instead, and its frequency must lie within `CHANCE_SIGMAS` standard errors of
A/B (exactly 0 or 1 when A/B is), for at most `textchecks.CHANCE_SAMPLED_CALLS` calls per fill
(a budget: each sampled call costs a thousand runs), the other calls of that kind unchecked; a
fill cannot escape the law by drawing numbers it does not need. A run that faults is an
outcome where COND does not hold, and is named in the problem.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from envc.compiler import ir
from envc.compiler.interp import Interpreter, SpecRuntimeError, State
from envc.llm_fill.textchecks import CHANCE_RUNS, call_scope, run_call

#: sequences of draw values listed per call, at most (a call with more is sampled; the runs of
#: the listing per fill are `textchecks.CHANCE_RUNS`)
CHANCE_OUTCOMES = 4096
#: runs of a sampled call (each from other random words), and how far the observed frequency may
#: stray from A/B, in standard errors, before the law is broken (5: about one wrong refusal in
#: 1.7 million tests of a right law)
CHANCE_SAMPLES = 1000
CHANCE_SIGMAS = 5.0


def outcomes(it: Interpreter, hole: ir.HoleDef, before: State, args: list[Any], limit: int = CHANCE_OUTCOMES
             ) -> list[tuple[Fraction, tuple[int, ...], tuple]] | None:
    """Every outcome of calling `hole` on `before` with `args` over every sequence of values of
    its draws: (probability of the sequence, the sequence as offsets into each draw's range,
    (state after, result) or ("fault", text)); None when there are more than `limit`
    sequences or the call shuffles a list."""
    ev = it.ev
    found: list[tuple[Fraction, tuple[int, ...], tuple]] = []
    todo: list[tuple[int, ...]] = [()]
    while todo:
        prefix = todo.pop()
        sizes: list[int] = []
        ev.forced_draws, ev.forced_at, ev.forced_shuffle, ev.draw_sizes = list(prefix), 0, False, sizes
        try:
            outcome = run_call(it, hole.name, before, args)
        finally:
            ev.forced_draws, ev.draw_sizes = None, None
        if ev.forced_shuffle:
            return None
        weight = Fraction(1)
        for n in sizes:
            weight /= max(n, 1)
        drawn = prefix + (0,) * (len(sizes) - len(prefix))
        found.append((weight, drawn, outcome))
        for j in range(len(prefix), len(sizes)):
            todo += [drawn[:j] + (k,) for k in range(1, sizes[j])]
        if len(found) + len(todo) > limit:
            return None
    return found


def sampled(it: Interpreter, hole: ir.HoleDef, before: State, args: list[Any], runs: int = CHANCE_SAMPLES
            ) -> list[tuple[Fraction, tuple[int, ...], tuple]]:
    """`runs` outcomes of calling `hole` on `before` with `args`, each from other random words
    (RNG counters 4,096 apart), in the form of `outcomes` (each weighing 1/runs, no forced draws)."""
    found: list[tuple[Fraction, tuple[int, ...], tuple]] = []
    for i in range(runs):
        start = before.copy()
        start.rng_counter = (before.rng_counter + 4096 * i) & 0xFFFFFFFF
        found.append((Fraction(1, runs), (), run_call(it, hole.name, start, args)))
    return found


def chance_problems(it: Interpreter, hole: ir.HoleDef, rules: list[ir.ChanceRule], before: State,
                    args: list[Any], budget: Any = None) -> list[str]:
    """What one call of `hole` from `before` with `args` breaks of the text's `with chance`
    clauses `rules`: for each (and each value of its `for` variable) whose guard holds on
    `before`, the probability of its outcome over every value of the call's draws differs from
    A/B, B read on `before` (the module docstring says how). `budget`: an object whose
    `chance_runs_left` counts the runs the listing may still make and `chance_samples_left` the
    calls that may still be sampled (`TextChecks`); None: one call's listing, no sampling."""
    laws: list[tuple[ir.ChanceRule, dict[str, Any], int, int]] = []
    for r in rules:
        for extra in ([{r.var: i} for i in range(r.lo, r.hi)] if r.var is not None else [{}]):
            try:
                with call_scope(it, hole, before, before, args, env=r.env | extra) as env:
                    if r.guard is not None and not it.ev.eval(r.guard, env):
                        continue
                    num, den = it.ev.eval(r.num, env), it.ev.eval(r.den, env)
            except SpecRuntimeError as e:
                return [f"a `with chance` clause of the text faults on this call: {e}"]
            if den <= 0:
                continue
            if not 0 <= num <= den:  # (hunt W, F4: the spec's clause, not the fill, is wrong here)
                return [f"the spec's clause `{r.source}` ({r.span.file}:{r.span.line}) gives a chance of {num} in "
                        f"{den} on this call, which is no probability: no fill can meet it (fix the clause: A "
                        "must lie in 0..B on every state where its `where` holds)"]
            laws.append((r, extra, num, den))
    if not laws:
        return []
    found = _listed(it, hole, before, args, budget)
    if found is None:
        return []
    listed, exact = found
    return [p for r, extra, num, den in laws
            if (p := _problem(it, hole, r, extra, (num, den), listed, before, args, exact)) is not None]


def _listed(it: Interpreter, hole: ir.HoleDef, before: State, args: list[Any], budget: Any
            ) -> tuple[list[tuple[Fraction, tuple[int, ...], tuple]], bool] | None:
    """(the call's outcomes, whether listed exactly) within `budget` (see `chance_problems`):
    every sequence of draw values, else sampled runs, else None (the budget is spent)."""
    runs_left = CHANCE_RUNS if budget is None else budget.chance_runs_left
    listed = outcomes(it, hole, before, args, min(CHANCE_OUTCOMES, runs_left))
    if listed is not None:
        if budget is not None:
            budget.chance_runs_left -= len(listed)
        return listed, True
    if budget is None or budget.chance_samples_left <= 0:
        return None
    budget.chance_samples_left -= 1
    return sampled(it, hole, before, args), False


def _problem(it: Interpreter, hole: ir.HoleDef, r: ir.ChanceRule, extra: dict[str, Any], chance: tuple[int, int],
             listed: list, before: State, args: list[Any], exact: bool = True) -> str | None:
    """The break of clause `r` (its `for` variable bound by `extra`, its A and B read as
    `chance`) over the call's `listed` outcomes (every sequence of draw values when `exact`,
    else sampled runs), or None."""
    num, den = chance
    want = Fraction(num, den)
    p = Fraction(0)
    faults = []
    for weight, drawn, (after, result) in listed:
        if isinstance(after, str):
            faults.append((drawn, result))
            continue
        try:
            with call_scope(it, hole, before, after, args, result, env=r.env | extra) as env:
                ok = bool(it.ev.eval(r.cond, env))
        except SpecRuntimeError as e:
            return f"the outcome of a `with chance` clause of the text faults on this call: {e}"
        if ok:
            p += weight
    if p == want or not exact and _close(p, want, len(listed)):
        return None
    where = f"`{r.source}`, {r.span.file}:{r.span.line}" + "".join(f", {k} = {v}" for k, v in extra.items())
    if not exact:
        how = (f"the call has too many sequences of draw values to list; over {len(listed)} runs from other random "
               f"words it held in {p * len(listed)} ({float(p):.4g}), more than {CHANCE_SIGMAS:g} standard errors "
               f"from {want}")
    elif all(not d for _, d, _ in listed):
        how = f"the call draws no random number, so it holds {'always' if p == 1 else 'never'}"
    else:
        how = (f"over every value of the call's draws ({len(listed)} sequence(s) of values) it holds with probability "
               f"{p} ({float(p):.4g}), not {want}")
    fault = ""
    if faults:
        drew = f"draws {_offsets(faults[0][0])}" if exact else "some random words"
        fault = f"; the call faults for {drew}: {faults[0][1]}"
    law = f"`random.int(0, {want.denominator - 1}) < {want.numerator}`" if not extra else "`random.int` or `random.pick` over every option"
    return (f"the text gives its outcome a chance of {num} in {den} ({where}); {how}{fault}: draw so that it holds with "
            f"probability exactly {want} ({law}, or any draw with that law)")


def _close(p: Fraction, want: Fraction, runs: int) -> bool:
    """Whether the frequency `p` of `runs` sampled runs agrees with probability `want`: within
    `CHANCE_SIGMAS` standard errors, exactly when `want` is 0 or 1."""
    if want in (0, 1):
        return p == want
    sigma = math.sqrt(float(want * (1 - want)) / runs)
    return abs(float(p - want)) <= CHANCE_SIGMAS * sigma


def _offsets(drawn: tuple[int, ...]) -> str:
    """A sequence of draws as the offsets into each draw's range (`random.int(lo, hi)` gives lo + offset)."""
    return "(" + ", ".join(f"lo+{k}" for k in drawn) + ")" if drawn else "(none)"
