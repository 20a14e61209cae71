"""The checks of a fill that come from its text (`ir.Contract`, built by
`envc.compiler.contracts` from the spec's `texts of ...` rules), never from the model.

Public surface: `with_contexts(module)`, `TextChecks(module, hole)` (`setup`, `problems`,
`describe_setup`), `changed_paths`, `path_text`, `value_at`, `literal_sites`, `mutated`,
`other_player_literals`, `random_note`, `call_scope`, `number_problems`, `data_problems`, `draw_problems`, `choice_problems`, `reads_column`,
`with_column`, `first_difference`, `call_outcome`, `equal_outcomes`, `set_coins`, `assign`, `Example`.

Per call (inside the generated property tests, `props.check_call`):

* the text's `ensures` (its `text` rule's, the kept `mentions` rules', the fill's own),
  evaluated with the rule's captures bound, `old(x)` and `flip(k)` reading the state before;
* the frame: every state cell the call changes lies inside a place the text may change;
* the draws: the call draws as many random numbers as the text says (`draws`), counted
  exactly from the counter of envc's counter-based RNG.
* who decides: every decision with two options or more is asked of a player a `chooses WHO`
  clause names, and a `chooses WHO among COUNT` has a decision of `WHO` offering `COUNT`
  options whenever `COUNT` is 2 or more (`TextChecks.chooser_problems`).

On the examples of a passing run (`number_problems`): every printed number and symbol that
no rule covers is *behaviourally used*: the fill's literals equal to it are changed (a
number to 0, n+1, n-1 and 2n; a symbol to every other member) and at least one change
must change the outcome of some example. A text number that the fill never writes fails
at once. A number that comes from data (`where N = Table.column` of a rule,
`ir.DataNumber`) is not a literal of the fill: the fill must read the column (directly or
through the `fn`s and procs it calls; one that never does fails at once), and changing the
column's value in the text's rows (to 0, n+1, n-1 and 2n, within the column's type) must
change the outcome of some example, and each larger value must (`if power > 0 { hurt(1 - p,
4) }` reads the column, and only 0 changed its outcome); a fill that writes the number, or
reads another column, is refused.

`props.run_scenarios` runs the scenarios (`scenario given ... then ...`) from states of the
fill's context (`set_coins`, `assign`); `first_difference` compares two fills on identical
inputs (differential acceptance).

States in the card's own context: a `context(c, k, extra: T)` of the text's block runs
before each call (`TextChecks.setup`): `c` is a row of the family's table that carries the
text, `k` the column that holds it, the extras are drawn by hypothesis; a state where its
guard is false is skipped. The invariants the context itself breaks (the TCG's puts a card
that is not in the deck list into play) are not required after the call; the state counts
as a state of the game when every invariant held before the context ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from envc.compiler import ir, irutil, rng
from envc.compiler.check_lang import RESERVED_PREFIX
from envc.compiler.interp import Evaluator, Interpreter, SpecRuntimeError, State, copy_value, heads, values_equal
from envc.compiler.printer import print_source_expr


@irutil.by_identity(8)
def with_contexts(module: ir.Module) -> ir.Module:
    """`module` whose `fns` also hold the context procs (`ir.ContextDef.fn`), so that an
    interpreter of it can run them (their names, `<context of F>`, cannot clash). The same
    object for the same `module` (the interpreters built on it then share the work of the pass
    `choice_points`, `irutil.by_identity`)."""
    if not module.contexts:
        return module
    return module.model_copy(update={"fns": module.fns + [c.fn for c in module.contexts]})


@contextmanager
def call_scope(it: Interpreter, hole: ir.HoleDef, before: State, after: State, args: list[Any], result: Any = None,
               env: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """The names a clause about one call of `hole` reads (its parameters, `result`, then `env`:
    a rule's captures), with `it`'s evaluator reading `after` and `old(x)` reading `before`
    while the block runs: where `ensures`, `chooses` and the contract's conditions are evaluated."""
    ev = it.ev
    scope = {p.name: a for p, a in zip(hole.params, args)} | ({"result": result} if hole.ret is not None else {})
    ev.state, ev.old_state = after, before
    try:
        yield scope | (env or {})
    finally:
        ev.state = ev.old_state = None


@dataclass
class Example:
    """One call of a passing run: the state before (after the context), the arguments, and
    what the fill did."""

    before: State
    args: list[Any]
    after: State
    result: Any
    origin: str
    pair: int = 0  # the text's row and column the context put in place (`TextChecks.pairs`)
    extras: list[Any] = field(default_factory=list)  # the context's extras


# ------------------------------------------------------------------ state paths


def changed_paths(module: ir.Module, before: State, after: State) -> list[tuple]:
    """The state cells that differ, in declaration order: `(field, index or field name, ...)`;
    a list counts as one cell (its length and order are part of its value)."""
    out: list[tuple] = []

    def walk(t: ir.Type, a: Any, b: Any, path: tuple) -> None:
        if values_equal(a, b):
            return
        if isinstance(t, ir.ArrayT) and isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(t.elem, x, y, path + (i,))
            return
        if isinstance(t, ir.RecordT) and isinstance(a, dict) and isinstance(b, dict):
            for f in module.record(t.name).fields:
                walk(f.type, a.get(f.name), b.get(f.name), path + (f.name,))
            return
        out.append(path)

    for f in module.state:
        walk(f.type, before.fields.get(f.name), after.fields.get(f.name), (f.name,))
    return out


def path_text(path: tuple) -> str:
    """`("damage", 1, 0)` -> `damage[1][0]`; a record field -> `.name`."""
    out = str(path[0])
    for k in path[1:]:
        out += f"[{k}]" if isinstance(k, int) else f".{k}"
    return out


def value_at(state: State, path: tuple) -> Any:
    """The value at `path` in `state`: `("damage", 1, 0)` is field `damage`, then index 1, then 0."""
    v: Any = state.fields.get(path[0])
    for k in path[1:]:
        v = v[k]
    return v


# ------------------------------------------------------------------ per call


#: calls of one fill whose `with chance` laws are estimated from sampled runs when their draws
#: have too many sequences of values to list (llm_fill/chance.py, `CHANCE_SAMPLES` runs each)
CHANCE_SAMPLED_CALLS = 4
#: runs of the exact listing of a fill's calls over every value of their draws, at most (then
#: calls are sampled): 100,000 keeps the judge of one fill to a few seconds on the TCG's calls
CHANCE_RUNS = 100_000


class TextChecks:
    """The contract of one hole's text, ready to run (see the module docstring).

    `available` is false when the hole has no contract. `pairs` are the (row, column) of
    the family's table that carry the text (empty for a plain hole)."""

    def __init__(self, module: ir.Module, hole: ir.HoleDef):
        self.module = module
        self.hole = hole
        self.contract = hole.contract or ir.Contract()
        self.context = next((c for c in module.contexts if c.name == self.contract.context), None)
        self.pairs: list[tuple[int, int]] = []
        self.labels: list[str] | None = None
        self._ev: Evaluator | None = None  # an evaluator for the frame's index expressions (made on first use)
        # calls whose `with chance` laws may still be estimated from sampled runs (llm_fill/chance.py)
        self.chance_samples_left = CHANCE_SAMPLED_CALLS
        self.chance_runs_left = CHANCE_RUNS
        fam = next((f for f in module.families if f.name == hole.family), None)
        if fam is not None:
            table = module.table(fam.table)
            cols = {c.name: c.values for c in table.columns}
            num = fam.members.index(hole.name) + 1
            self.pairs = [(r, k) for r in range(table.rows) for k, c in enumerate(fam.columns) if cols[c][r] == num]
            self.labels = table.labels
            self.table = table.name
        if self.context is not None and self.context.row is not None and not self.pairs:
            self.context = None  # (no row carries the text: nothing to put in place)

    # -- the context
    def _values(self, args: list[Any], pair: int, extras: list[Any]) -> list[Any]:
        """The context proc's arguments: the call's, the text's row and column, the extras."""
        c = self.context
        assert c is not None
        values = list(args)
        if c.row is not None:
            row, col = self.pairs[pair % len(self.pairs)]
            values.append(row)
            if c.column is not None:
                values.append(col)
        return values + list(extras)

    def _guard_holds(self, it: Interpreter, state: State, values: list[Any]) -> bool:
        c = self.context
        if c is None or c.guard is None:
            return True
        env = {p.name: v for p, v in zip(c.fn.params, values)}
        ev = it.ev
        ev.state = state
        try:
            return bool(ev.eval(c.guard, env))
        except SpecRuntimeError:
            return False
        finally:
            ev.state = None

    def toward_guard(self, it: Interpreter, state: State, args: list[Any], pair: int, extras: list[Any],
                     rnd: Any) -> tuple[list[Any], list[Any]] | None:
        """(args, extras) for which the context's guard holds on `state`, found from the drawn
        ones by changing one of them: the first argument or extra of a small scalar type (a bool,
        an enum, a row of at most 256, an integer range of at most 256 values) some value of
        which makes the guard hold, set to one of those values drawn with `rnd`; None when no
        such change exists (or the guard holds already, or there is no context).

        Why: a case of a text often needs one extra of a few values (the TCG's Trainers that
        name a Pokémon hold in the context only for the extra `nc` naming it: 1 draw in 26), and
        states whose random extras missed it were skipped; the coverage search then found the
        case by luck (hunt T, stop 51)."""
        c = self.context
        if c is None or c.guard is None:
            return None
        values = self._values(args, pair, extras)
        if self._guard_holds(it, state, values):
            return None
        n_args = len(args)
        skip = len(values) - len(extras)  # (the row and column come between the args and the extras)
        slots = list(range(n_args)) + list(range(skip, len(values)))
        for i in slots:
            domain = small_domain(c.fn.params[i].type)
            good = [v for v in domain if self._guard_holds(it, state, values[:i] + [v] + values[i + 1:])]
            if good:
                values[i] = rnd.choice(good)
                return values[:n_args], values[skip:]
        return None

    def setup(self, it: Interpreter, state: State, args: list[Any], pair: int, extras: list[Any]
              ) -> State | None:
        """`state` with the text's card put in place by the context (a copy), or None when
        the context's guard is false there (the state is skipped). Without a context,
        `state` itself."""
        c = self.context
        if c is None:
            return state
        values = self._values(args, pair, extras)
        if not self._guard_holds(it, state, values):
            return None
        try:
            after, _ = it.call(state, c.name, values)
        except SpecRuntimeError:
            return None
        return after

    def describe_setup(self, module: ir.Module, pair: int, extras: list[Any]) -> str:
        """`, then put in its context (`c` = Pikachu ex (Card#12), `k` = 1, `hurt` = 4)`."""
        from envc.llm_fill.props import dsl_value

        c = self.context
        if c is None:
            return ""
        parts = []
        if c.row is not None:
            row, col = self.pairs[pair % len(self.pairs)]
            label = self.labels[row] if self.labels else None
            parts.append(f"`{c.row}` = {label + ' ' if label else ''}({self.table}#{row})")
            if c.column is not None:
                parts.append(f"`{c.column}` = {col}")
        parts += [f"`{p.name}` = {dsl_value(module, p.type, v)}" for p, v in zip(c.extras, extras)]
        return ", then put in its context" + (f" ({', '.join(parts)})" if parts else "")

    # -- one call
    def problems(self, it: Interpreter, before: State, after: State, args: list[Any], result: Any,
                 decisions: list[tuple[int, int, State]] | None = None, sizes: list[int] | None = None) -> list[str]:
        """What the call from `before` to `after` breaks of the text's contract: its
        `ensures`, its frame, its number of draws, the chances of its outcomes (`with chance`,
        llm_fill/chance.py), who decided among how many options
        (`decisions`: (chooser, number of legal options) of each `choose` the call reached,
        `Evaluator.decisions`; None: not recorded), and how many values its draws ranged over
        (`sizes`, `Evaluator.draw_sizes`; None: not recorded)."""
        out = self.ensures_failures(it, before, after, args, result)
        out += self.frame_problems(before, after, args)
        if decisions is not None:
            out += self.chooser_problems(it, before, args, decisions)
        if sizes is not None:
            out += self.draw_law_problems(it, before, args, sizes)
        if self.contract.chances:
            from envc.llm_fill.chance import chance_problems  # (chance.py reads this module's `call_scope`)

            out += chance_problems(it, self.hole, self.contract.chances, before, args, self)
        draws = self.contract.draws
        if draws is not None:
            n = (after.rng_counter - before.rng_counter) & rng.MASK32
            lo, hi = draws
            if n < lo or (hi is not None and n > hi):
                out.append(f"the call draws {n} random number{'s' if n != 1 else ''}; the text {_draws_text(draws)} "
                           f"({'; '.join(self.contract.rules) or 'no rule matches it'})")
        return out

    def chooser_problems(self, it: Interpreter, before: State, args: list[Any],
                         decisions: list[tuple[int, int, State]]) -> list[str]:
        """What the call's `decisions` (chooser, number of legal options, the state when asked)
        break of the text's `chooses WHO [among COUNT]` clauses, each read on the state when a
        decision is asked: a decision with two options or more asked of a player no clause
        names ("Your opponent discards a card of their choice" decided by the card's player,
        hunt Q), or a clause with `among` and no decision of `WHO` offering `COUNT` options
        when `COUNT` is 2 or more (a fill that offers only some of the cards; or that never
        asks, `COUNT` then read on the state before the call)."""
        rules = self.contract.choosers
        if not rules:
            return []
        try:
            asked = [(who, n, [self._chooser_values(it, r, state, args) for r in rules])
                     for who, n, state in decisions if n > 1]
            at_start = [self._chooser_values(it, r, before, args) for r in rules]
        except SpecRuntimeError as e:
            return [f"a `chooses` clause of the text faults on this call: {e}"]
        out = [f"the call asks player {who} to choose among {n} options; the text lets "
               f"{' or '.join(sorted({f'player {w}' for w, _ in values}))} choose "
               f"({', '.join(f'`{r.source}` at {r.span.file}:{r.span.line}' for r in rules)})"
               for who, n, values in asked[:1] if all(who != w for w, _ in values)]
        for i, r in enumerate(rules):
            if r.among is None or any(who == v[i][0] and n == v[i][1] for who, n, v in asked):
                continue
            offered = [(n, v[i]) for who, n, v in asked if who == v[i][0]]
            n, (who, count) = offered[0] if offered else (0, at_start[i])
            if count is None or count < 2:
                continue
            what = f"offered {n}" if offered else "asked that player nothing"
            out.append(f"the text lets player {who} choose among {count} options (`{r.source}`, "
                       f"{r.span.file}:{r.span.line}); the call {what}: ask with `choose({r.who_source}, ...)` "
                       f"offering every one of the {count}")
        return out

    def draw_law_problems(self, it: Interpreter, before: State, args: list[Any], sizes: list[int]) -> list[str]:
        """The breaks of the text's `draws N among COUNT` clauses: `COUNT` (read on `before`)
        is 2 or more and fewer than N draws of the call (at least 1) ranged over that many values
        (`sizes`): "a random card from your opponent's hand" drawn among all but the last (hunt R,
        F2), or not drawn; "chosen at random 4 times" drawn over all once, then over fewer."""
        out = []
        for r in self.contract.draw_rules:
            try:
                with call_scope(it, self.hole, before, before, args, env=r.env) as env:
                    count = it.ev.eval(r.count, env)
            except SpecRuntimeError as e:
                out.append(f"a `draws ... among` clause of the text faults on this call: {e}")
                continue
            if count < 2 or sizes.count(count) >= r.times or (r.optional and not sizes):
                continue
            drew = f"its draws ranged over {', '.join(map(str, sizes))} values" if sizes else "it drew nothing"
            times = f"{r.times} times " if r.times > 1 else ""
            out.append(f"the text draws {times}among {count} values, each equally likely (`{r.source}`, "
                       f"{r.span.file}:{r.span.line}); {drew}: draw with `random.int` or `random.pick` over "
                       f"every one of the {count}" + (f", {r.times} times" if r.times > 1 else ""))
        return out

    def _chooser_values(self, it: Interpreter, r: ir.ChooserRule, state: State, args: list[Any]
                        ) -> tuple[int, int | None]:
        """(`WHO`, `COUNT` or None) of clause `r` read on `state` (`old(x)` reads it too)."""
        with call_scope(it, self.hole, state, state, args, env=r.env) as env:
            return it.ev.eval(r.who, env), it.ev.eval(r.among, env) if r.among is not None else None

    def ensures_failures(self, it: Interpreter, before: State, after: State, args: list[Any],
                         result: Any) -> list[str]:
        clauses = self.contract.ensures
        if not clauses:
            return []
        out = []
        with call_scope(it, self.hole, before, after, args, result) as base:
            for c in clauses:
                where = "the fill's own" if c.origin == "fill" else "the text's"
                try:
                    ok = it.ev.eval(c.expr, {**base, **c.env})
                except SpecRuntimeError as e:
                    out.append(f"{where} `ensures {c.source}` faults on this call: {e}")
                    continue
                if not ok:
                    env = {**base, **c.env}
                    out.append(f"{where} `ensures {c.source}` does not hold ({c.span.file}:{c.span.line})"
                               + failing_part(it.ev, c.expr, env, self.module) + random_note(it.ev, c.expr, env))
        return out

    def allowed(self, before: State, args: list[Any]) -> list[tuple] | None:
        """The path prefixes the call may change (None: any)."""
        frame = self.contract.frame
        if frame is None:
            return None
        out = []
        base = {p.name: a for p, a in zip(self.hole.params, args)}
        for item in frame:
            env = {**base, **item.env}
            values = range(item.lo, item.hi) if item.var is not None else [None]
            for v in values:
                if item.var is not None:
                    env[item.var] = v
                path = self._path(item.place, env, before)
                if path is not None:
                    out.append(path)
        return out + self._expiries(out)

    def _expiries(self, paths: list[tuple]) -> list[tuple]:
        """The hidden expiry cells of the `@lasting` cells among `paths`: a text that may change
        a lasting cell may also say how long the value lasts (`x = v until b(args)` writes both;
        compiler/check_lang.py `lasting_fields` names the expiry field)."""
        names = {f.name for f in self.module.state}
        out = []
        for path in paths:
            expiry = f"{RESERVED_PREFIX}until_{path[0]}"
            if expiry in names:
                out.append((expiry, *path[1:]))
        return out

    def _path(self, place: ir.Place, env: dict, state: State) -> tuple | None:
        if self._ev is None:
            self._ev = Evaluator(self.module)
        ev = self._ev
        ev.state = state
        try:
            path: list = [place.name]
            for step in place.path:
                if isinstance(step, ir.FieldStep):
                    path.append(step.name)
                else:
                    path.append(int(ev.eval(step.index, env)))
            return tuple(path)
        except (SpecRuntimeError, KeyError, IndexError, TypeError):
            return None
        finally:
            ev.state = None

    def frame_problems(self, before: State, after: State, args: list[Any]) -> list[str]:
        allowed = self.allowed(before, args)
        if allowed is None:
            return []
        bad = [p for p in changed_paths(self.module, before, after)
               if not any(p[:len(a)] == a for a in allowed)]
        if not bad:
            return []
        # (envc's own `_envc_until_` expiry cells are no place the model wrote or may name, on either
        # side: hunt T, D6; hunt V, F6. They change with their lasting cell, which is shown.)
        bad = [p for p in bad if not str(p[0]).startswith(RESERVED_PREFIX)] or bad
        shown = ", ".join(f"`{path_text(p)}` ({_change(value_at(before, p), value_at(after, p))})"
                          for p in bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        named = [a for a in allowed if not str(a[0]).startswith(RESERVED_PREFIX)]
        may = ", ".join(f"`{path_text(a)}`" for a in named[:8]) or "nothing"
        return [f"the call changes {shown}, outside what the text lets it change: {may} "
                f"(the frame of {'; '.join(self.contract.rules) or 'the texts block'})"]


def _draws_text(draws: tuple[int, int | None]) -> str:
    lo, hi = draws
    if hi is None:
        return f"draws at least {lo}" if lo else "may draw any number"
    if lo == hi:
        return f"draws exactly {lo}"
    return f"draws at most {hi}" if lo == 0 else f"draws {lo} to {hi}"


def _short(v: Any) -> str:
    """`v` in at most 60 characters: a list's first 8 items, a numpy scalar as its Python value
    (`0.0`, not `np.float32(0.0)`: hunt T, D6), a bool as the DSL writes it."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):  # the DSL's words (hunt V, F6: `False -> True`)
        return "true" if v else "false"
    text = repr(v) if not isinstance(v, list) else "[" + ", ".join(_short(x) for x in v[:8]) + (
        ", ..." if len(v) > 8 else "") + "]"
    return text if len(text) <= 60 else text[:57] + "..."


def _change(a: Any, b: Any) -> str:
    """`a -> b`, short; two lists that agree on their first 8 items are shown from a little
    before the first item where they differ (hunt T, D6: `[5, 12, 9, 6, 7, 13, 3, 0, ...] ->
    [5, 12, 9, 6, 7, 13, 3, 0, ...]` hid the change)."""
    if not (isinstance(a, list) and isinstance(b, list)):
        return f"{_short(a)} -> {_short(b)}"
    k = next((i for i, (x, y) in enumerate(zip(a, b)) if not values_equal(x, y)), min(len(a), len(b)))
    if k < 8:
        return f"{_short(a)} -> {_short(b)}"
    start = k - 2

    def window(v: list) -> str:
        items = ", ".join(_short(x) for x in v[start:start + 6])
        return f"[... {items}{', ...' if len(v) > start + 6 else ''}] (from item {start}, of {len(v)})"

    return f"{window(a)} -> {window(b)}"


# ------------------------------------------------------------------ printed numbers and symbols


def _walk(x: Any, visit) -> None:
    """`visit` every IR node in `x` (a node or a list of them), pre-order (`ir.walk_all`)."""
    for n in ir.walk_all(x):
        visit(n)


def _variants(n: int, lo: int, hi: int | None = None) -> list[int]:
    """The values a printed number `n` is changed to, to see that it is used: 0, n+1, n-1 and
    2n, those within `lo..hi` and not `n` itself, without repeats."""
    return [v for v in dict.fromkeys((0, n + 1, n - 1, 2 * n)) if v != n and lo <= v and (hi is None or v <= hi)]


def other_player_literals(fn: ir.FnDef, players: int, module: ir.Module | None = None) -> set[int]:
    """The ids of the literals of `fn`'s body that name players, not an amount, with `p` a
    player (an int of range `0..P-1`, P = `players` > 1): the `P - 1` of `P - 1 - p` and of
    `abs(p - (P - 1))`, the `k` of `(p + k) % P`, the constants of `if p == 0 then 1 else 0`
    (a player tested and players chosen), and the ids of the loops `for q in 0..P` (and
    comprehensions) whose variable indexes an array of the players' size (`gems[q]`; with
    `module`, a state field assigned through it too): their bound `P` counts the players.
    Decision (judge hunts H and Q): "Steal 1 gold" filled with "steal 2" was accepted because
    changing the `1` of `1 - p` (the opponent) changed the outcome, and "lose 2 gems" filled
    with a loop over both players and "lose 1" because the loop's 2 was varied; these
    literals are neither counted nor changed (a loop's other bound and body still are)."""
    if players < 2:
        return set()

    def is_player(e: ir.Expr) -> bool:
        return isinstance(e.type, ir.IntT) and (e.type.lo, e.type.hi) == (0, players - 1)

    fields = {f.name: f.type for f in module.state} if module is not None else {}
    out: set[int] = set()
    for n in ir.walk_all(fn.body):
        out |= {id(x) for x in _naming_players(n, players, is_player)}
        if isinstance(n, (ir.For, ir.Reduce, ir.ArrayBuild)) and (n.lo, n.hi) == (0, players) \
                and _indexes_players(n, players, fields):
            out.add(id(n))
    return out


def _naming_players(n: ir.Node, players: int, is_player) -> list[ir.Node]:
    """The constants of node `n` that name a player (`other_player_literals`)."""
    def const(e: ir.Expr, values: range | tuple) -> bool:
        return isinstance(e, ir.Const) and not isinstance(e.value, bool) and e.value in values

    if isinstance(n, ir.Binary) and n.op == "sub" and const(n.left, (players - 1,)) and is_player(n.right):
        return [n.left]
    if isinstance(n, ir.Binary) and n.op == "mod" and const(n.right, (players,)) and isinstance(n.left, ir.Binary) \
            and n.left.op == "add" and isinstance(n.left.right, ir.Const) and is_player(n.left.left):
        return [n.left.right]
    arg = n.args[0] if isinstance(n, ir.Builtin) and n.name == "abs" and len(n.args) == 1 else None
    if isinstance(arg, ir.Binary) and arg.op == "sub" and is_player(arg.left) and const(arg.right, (players - 1,)):
        return [arg.right]
    if not isinstance(n, ir.Cond) or not isinstance(n.cond, ir.Binary):
        return []
    test, players_of = n.cond, range(players)
    if test.op in ("eq", "ne") and is_player(test.left) and all(const(e, players_of) for e in (test.right, n.then, n.orelse)):
        return [test.right, n.then, n.orelse]
    return []


def _indexes_players(loop: ir.For | ir.Reduce | ir.ArrayBuild, players: int, fields: dict[str, ir.Type]) -> bool:
    """Whether the variable of `loop` is the first index of a state field of `players` cells in
    its body (a read `gems[q]`, or an assignment `gems[q] = ...`)."""
    def is_var(e: ir.Expr) -> bool:
        return isinstance(e, ir.Local) and e.name == loop.var

    for n in ir.walk_all(loop.body):
        if isinstance(n, ir.GetIndex) and is_var(n.index) and isinstance(n.base, ir.StateGet) \
                and isinstance(n.base.type, ir.ArrayT) and n.base.type.size == players:
            return True  # (a state field's first index: `slots[p][k]` of 2 slots is no player)
        if not isinstance(n, ir.Place) or n.root != "state" or not n.path:
            continue
        root, step = fields.get(n.name), n.path[0]
        if isinstance(root, ir.ArrayT) and root.size == players and isinstance(step, ir.IndexStep) and is_var(step.index):
            return True
    return False


#: the nodes with a literal range `lo..hi`: loops, comprehensions, and the options of a decision or a
#: random pick (`choose(p, k in 0..3)` writes the 3 of "a number below 3": hunt M found it refused)
_RANGED = (ir.For, ir.Reduce, ir.ArrayBuild, ir.Choose, ir.RandomPick)


def literal_sites(fn: ir.FnDef, value: int, enum: str | None = None, players: int = 0,
                  module: ir.Module | None = None) -> int:
    """How many literals of `fn`'s body equal `value`: integer constants, loop, comprehension,
    `choose` and `random.pick` bounds (an exclusive bound `hi` counts as `hi`), and, when `enum` is given,
    that enum's members (a symbol `{R}` may be written `1` or `Energy.fire`); with `players`,
    not those naming players (`other_player_literals`, with `module`)."""
    count = 0
    skip = other_player_literals(fn, players, module)

    def visit(n: ir.Node) -> None:
        nonlocal count
        if id(n) in skip:
            return
        if isinstance(n, ir.Const) and not isinstance(n.value, bool) and n.value == value:
            if isinstance(n.type, ir.IntT) or (enum is not None and isinstance(n.type, ir.EnumT) and n.type.name == enum):
                count += 1
        elif _negated(n, value):
            count += 1
        elif isinstance(n, _RANGED):
            count += (n.hi == value and id(n) not in skip) + (n.lo == value)

    _walk(fn.body, visit)
    return count


def mutated(fn: ir.FnDef, value: int, new: int, enum: str | None = None, players: int = 0,
            module: ir.Module | None = None) -> ir.FnDef:
    """`fn` with every literal that `literal_sites` counts (with the same `players` and
    `module`) set to `new`."""
    skip = other_player_literals(fn, players, module)

    def rewrite(x: Any) -> Any:
        if isinstance(x, list):
            return [rewrite(y) for y in x]
        if isinstance(x, tuple):
            return tuple(rewrite(y) for y in x)
        if not isinstance(x, ir.Node) or isinstance(x, (ir.BoolT, ir.IntT, ir.FloatT, ir.EnumT, ir.RecordT, ir.RowT,
                                                         ir.ArrayT, ir.ListT)) or (id(x) in skip and isinstance(x, ir.Const)):
            return x
        update = {k: rewrite(getattr(x, k)) for k in type(x).model_fields if k not in ("type", "span")}
        _mutate_node(x, update, value, new, enum, keep_hi=id(x) in skip)
        return x.model_copy(update=update)

    return rewrite(fn)


def _mutate_node(x: ir.Node, update: dict[str, Any], value: int, new: int, enum: str | None,
                 keep_hi: bool = False) -> None:
    """`mutated` on one node: set in `update` a literal `value` of `x` to `new` (a constant, with
    an integer's range widened to hold it, or a loop's bounds, kept in order; not the bound
    `hi` with `keep_hi`: a loop over the players)."""
    if isinstance(x, ir.Const) and isinstance(x.type, ir.IntT) and _negated(x, value):
        update["value"] = -new
        update["type"] = ir.IntT(lo=min(-new, x.type.lo), hi=max(-new, x.type.hi))
    if isinstance(x, ir.Const) and not isinstance(x.value, bool) and x.value == value:
        if isinstance(x.type, ir.IntT):
            update["value"] = new
            update["type"] = ir.IntT(lo=min(new, x.type.lo), hi=max(new, x.type.hi))
        elif enum is not None and isinstance(x.type, ir.EnumT) and x.type.name == enum:
            update["value"] = new
    if isinstance(x, _RANGED):
        if x.hi == value and not keep_hi:
            update["hi"] = max(new, x.lo)
        if x.lo == value:
            update["lo"] = min(new, update.get("hi", x.hi))


def _negated(n: ir.Node, value: int) -> bool:
    """Whether `n` is the integer literal `-value` of a positive printed `value`: "lose 2"
    written `bump(p, -2)` writes the text's 2 (hunt M: it was "the fill never writes it")."""
    return (isinstance(n, ir.Const) and isinstance(n.type, ir.IntT) and not isinstance(n.value, bool)
            and value > 0 and n.value == -value)


def call_outcome(it: Interpreter, name: str, ex: Example, choices=None) -> tuple:
    """(state after, result) of `name` called on example `ex`'s state and arguments, each
    `choose` picking by `choices` (`Interpreter.call`), or ("fault", message)."""
    return run_call(it, name, ex.before, ex.args, choices)


def run_call(it: Interpreter, name: str, before: State, args: list[Any], choices=None) -> tuple:
    """(state after, result) of `name` called on `before` with `args` (`Interpreter.call`), or
    ("fault", message)."""
    try:
        after, result = it.call(before, name, args, choices)
    except Exception as e:  # a fault (or a loop bound pushed past a list): a different outcome
        return ("fault", str(e))
    return after, result


def _same(ex: Example, out) -> bool:
    """Whether outcome `out` of a call (`_outcome`) is the example's own (a fault never is)."""
    return equal_outcomes((ex.after, ex.result), out)


def equal_outcomes(a, b) -> bool:
    """Whether two outcomes of one call ((state, result), or ("fault", text), which equals no
    outcome) are the same: the RNG counter, the result and every field of `a`'s state."""
    if isinstance(a[0], str) or isinstance(b[0], str):
        return False
    return (a[0].rng_counter == b[0].rng_counter and values_equal(a[1], b[1])
            and all(values_equal(a[0].fields[k], b[0].fields[k]) for k in a[0].fields))


def reads_column(module: ir.Module, fn: ir.FnDef, table: str, column: str) -> bool:
    """Whether `fn`'s body, or a `fn` or proc it calls (transitively), reads `table.column`."""
    seen: set[str] = set()
    todo = [fn]
    found = False

    def visit(n: ir.Node) -> None:
        nonlocal found
        if isinstance(n, ir.TableGet) and n.table == table and n.column == column:
            found = True
        callee = n.fn if isinstance(n, ir.CallFn) else n.proc if isinstance(n, ir.CallProc) else None
        if callee is not None and callee not in seen:
            seen.add(callee)
            f = next((x for x in module.fns if x.name == callee), None)
            if f is not None:
                todo.append(f)

    while todo and not found:
        _walk(todo.pop().body, visit)
    return found


def with_column(module: ir.Module, table: str, column: str, rows: list[int], value: int) -> ir.Module:
    """`module` whose `table.column` holds `value` in `rows`."""
    tables = []
    for t in module.tables:
        if t.name == table:
            cols = [c.model_copy(update={"values": [value if r in rows else v for r, v in enumerate(c.values)]})
                    if c.name == column else c for c in t.columns]
            t = t.model_copy(update={"columns": cols})
        tables.append(t)
    return module.model_copy(update={"tables": tables})


def data_problems(module: ir.Module, hole: ir.HoleDef, examples: list[Example]) -> list[str]:
    """The printed numbers that come from data (`ir.Contract.data`) that the fill does not
    read behaviourally (see the module docstring)."""
    c = hole.contract
    if c is None or not c.data or hole.fill is None:
        return []
    fn = module.fn(hole.fill)
    out = []
    for d in c.data:
        where = f"`{d.table}.{d.column}`"
        if not reads_column(module, fn, d.table, d.column):
            out.append(f"the text prints `{d.value}`, which is {where} of its row ({d.rule}), and the fill never "
                       f"reads {where}: read the number from the row (a literal or another column is refused)")
            continue
        if not examples:
            continue
        t = module.table(d.table)
        col_t = ir.int_of(next(x.type for x in t.columns if x.name == d.column))  # E0165 refused others
        variants = _variants(d.value, col_t.lo, col_t.hi)
        changes = {v: _changes_module(with_column(module, d.table, d.column, d.rows, v), hole, examples)
                   for v in variants}
        # every larger value must change an outcome, and some value must: `if power > 0 { hurt(1 - p, 4) }`
        # changed only at 0 (a hunt). A smaller one may not: `multi_hit(hits_min, hits_max)` is right, and
        # `hits_max` below `hits_min` changes nothing (a floor; `max(power, 4)` is the gap this leaves)
        idle = [v for v in variants if v > d.value and not changes[v]] or ([] if any(changes.values()) else variants)
        if idle:
            tried = ", ".join(str(v) for v in idle)
            out.append(f"the text prints `{d.value}`, which is {where} of its row ({d.rule}), and the fill does "
                       f"not use it: setting {where} of the text's rows to {tried} changes nothing on the "
                       f"{len(examples)} states tried (the fill reads it, but the outcome does not follow it: does it "
                       "round or bound the number, or write it itself where it matters?)")
    return out or _parametric_problems(module, hole, examples)


#: how many examples each changed data value is checked on (`_parametric_problems`)
PARAMETRIC_EXAMPLES = 60


def _parametric_problems(module: ir.Module, hole: ir.HoleDef, examples: list[Example]) -> list[str]:
    """[] or one problem: a rule's `ensures` that do not hold when a number it takes from data
    (`where N = Table.column`) is one more or one less in the text's rows (every column of `N`
    changed together), the clause reading `N` as that value. A rule says what the text does
    for its printed number; the number is the data's, so the rule holds for the data's other
    values too: `max(power, 3)` for a printed 3 (a floor), `clamp(power, 5, 9)`, or the
    number written for one player and read for the other passed every check of reading the
    column (hunt Q, bug 4). Values below 1 are not tried (a rule about "Hits N times" need
    not hold for 0), nor values outside the column's type; a fill that faults on the changed
    data, and clauses where a use of `N` was folded into a constant, are not judged here."""
    c = hole.contract
    if c is None or hole.fill is None or not examples:
        return []
    groups: dict[tuple[str, str], list[ir.DataNumber]] = {}
    for d in c.data:
        groups.setdefault((d.rule, d.capture), []).append(d)
    for (rule, capture), ds in groups.items():
        clauses = [x for x in c.ensures if x.rule == rule and capture in x.parametric]
        types = [ir.int_of(next(x.type for x in module.table(d.table).columns if x.name == d.column)) for d in ds]
        for v in (ds[0].value - 1, ds[0].value + 1):
            if not clauses or v < 1 or any(not t.lo <= v <= t.hi for t in types):
                continue
            found = _broken_with(module, hole, examples, ds, clauses, v)
            if found is not None:
                cols = ", ".join(f"`{d.table}.{d.column}`" for d in ds)
                return [f"the text prints `{ds[0].value}`, which is {cols} of its row ({rule}); with {cols} of the "
                        f"text's rows set to {v}, the rule's {found} with `{capture}` = {v}: the fill must do for "
                        f"any value of the column what the text says for its printed one (does it write "
                        f"`{ds[0].value}` somewhere, or bound the column by it?)"]
    return []


def _broken_with(module: ir.Module, hole: ir.HoleDef, examples: list[Example], ds: list[ir.DataNumber],
                 clauses: list[ir.TextClause], v: int) -> str | None:
    """`ensures` at file:line, the first of `clauses` (the capture of `ds` bound to `v`) that
    fails on an example run on `module` with the columns of `ds` set to `v` in their rows;
    None when every one holds."""
    mod = module
    for d in ds:
        mod = with_column(mod, d.table, d.column, d.rows, v)
    it = Interpreter(mod)
    checks = []
    for x in clauses:
        bound = x.model_copy(update={"env": {**x.env, ds[0].capture: v}})
        contract = (hole.contract or ir.Contract()).model_copy(update={"ensures": [bound]})
        checks.append((x, TextChecks(mod, hole.model_copy(update={"contract": contract}))))
    for ex in examples[:PARAMETRIC_EXAMPLES]:
        out = call_outcome(it, hole.name, ex)
        if isinstance(out[0], str):
            continue
        for x, check in checks:
            if check.ensures_failures(it, ex.before, out[0], ex.args, out[1]):
                return f"`ensures` at {x.span.file}:{x.span.line} does not hold"
    return None


def _changes_module(mod: ir.Module, hole: ir.HoleDef, examples: list[Example]) -> bool:
    it = Interpreter(mod)
    return any(_changed(ex, call_outcome(it, hole.name, ex)) for ex in examples)


def _changed(ex: Example, out) -> bool:
    """Whether a varied fill's outcome `out` differs from the example's, a fault not counted:
    a number or a column that only makes the fill crash when it changes is not used (hunt Q:
    a column read as a list index, a literal whose change faults, passed as used)."""
    return not (isinstance(out[0], str) or _same(ex, out))


def number_problems(module: ir.Module, hole: ir.HoleDef, examples: list[Example]) -> list[str]:
    """The printed numbers and symbols of the text (those no rule covers) that the fill does
    not use behaviourally, and the numbers from data that it does not read (see the module
    docstring)."""
    c = hole.contract
    if c is None or not (c.numbers or c.symbols or c.data) or hole.fill is None:
        return []
    fn = module.fn(hole.fill)
    out = data_problems(module, hole, examples)
    wanted: list[tuple[str, int, str | None, list[int]]] = []
    for n in c.numbers:
        wanted.append((f"`{n}`", n, None, _variants(n, 0)))
    for s in c.symbols:
        if not isinstance(s.value, int) or isinstance(s.value, bool):
            continue
        size = s.type.size if isinstance(s.type, ir.EnumT) else None
        enum = s.type.name if isinstance(s.type, ir.EnumT) else None
        others = [v for v in range(size) if v != s.value] if size else [s.value + 1, max(s.value - 1, 0)]
        shown = f"`{s.symbol}` (`{enum}.{module.enum(enum).members[s.value]}`, {s.value})" if enum else f"`{s.symbol}`"
        wanted.append((shown, s.value, enum, others))
    for shown, value, enum, variants in wanted:
        if not literal_sites(fn, value, enum, module.num_players, module):
            out.append(f"the text prints {shown}, and the fill never writes it: write the text's number "
                       "(a literal) where the text's effect uses it")
            continue
        if not examples:
            continue
        if not any(_changes(module, hole, fn, value, v, enum, examples) for v in variants):
            tried = ", ".join(str(v) for v in variants[:4]) + (" ..." if len(variants) > 4 else "")
            out.append(f"the text prints {shown}, and the fill does not use it: changing the fill's {value} to "
                       f"{tried} changes nothing on the {len(examples)} states tried")
    return out


#: `draw_problems`: calls that drew, at least (fewer are no evidence) and at most (the cost)
IDLE_DRAWS_MIN, IDLE_DRAWS_MAX = 8, 60


def draw_problems(module: ir.Module, hole: ir.HoleDef, examples: list[Example]) -> list[str]:
    """[] or one problem when the fill draws random numbers that never matter: on every
    passing call that drew with a choice (a draw that could take two values or more,
    `IDLE_DRAWS_MIN` such calls at least), running it again from three
    other RNG counters (4,096 apart: other random words) leaves the state and the result as
    they were. A text that draws acts on its draws ("discard a random card"); a fill that
    draws an index and then discards the first card passed every other check when the text's
    contract counts draws but cannot say which card (judge hunt, cases r07/e01)."""
    if hole.fill is None:
        return []
    it = Interpreter(module)
    drawing = list(islice((ex for ex in examples if ex.after.rng_counter != ex.before.rng_counter
                           and _had_choice(it, hole, ex)), IDLE_DRAWS_MAX))  # (each one replayed: no more)
    if len(drawing) < IDLE_DRAWS_MIN:
        return []
    for ex in drawing:
        for shift in (1, 2, 3):
            before = ex.before.copy()
            before.rng_counter = (before.rng_counter + 4096 * shift) & rng.MASK32
            out = call_outcome(it, hole.name, Example(before, ex.args, ex.after, ex.result, ex.origin))
            if out[0] == "fault" or not values_equal(out[1], ex.result):
                return []
            if not all(values_equal(out[0].fields[k], ex.after.fields[k]) for k in ex.after.fields):
                return []
    return [f"the fill draws random numbers, but what it does never depends on them: on the {len(drawing)} calls "
            "that drew, other random words gave the same state and result. Use what you draw (the random card "
            "is the one at the drawn index), or do not draw"]


def choice_problems(module: ir.Module, hole: ir.HoleDef, examples: list[Example]) -> list[str]:
    """[] or one problem when the fill asks a player to decide (`choose`) and what it does
    never depends on the decision: on every passing call where a decision had two legal
    options or more (`IDLE_DRAWS_MIN` such calls at least), the other options (the highest,
    and the second lowest) leave the state and the result as the lowest did. The judge's calls
    take the lowest legal option (`Interpreter.call`), so a fill that chose and then used
    option 0, or pile 0, whatever was chosen passed every check (hunt M; DESIGN.md decision
    7: no fill replaces a decision by a fixed rule)."""
    if hole.fill is None:
        return []
    it = Interpreter(module)
    deciding = list(islice((ex for ex in examples if _decided(it, hole, ex)), IDLE_DRAWS_MAX))
    if len(deciding) < IDLE_DRAWS_MIN:
        return []
    for policy in (HIGHEST, _policy(lambda legal: legal[1])):
        if any(not _same(ex, call_outcome(it, hole.name, ex, policy)) for ex in deciding):
            return []
    return [f"the fill asks a player to choose, but what it does never depends on the choice: on the {len(deciding)} "
            "calls with two options or more, other options gave the same state and result. Use the chosen value "
            "(the chosen card is the one at the chosen index)"]


def decides(module: ir.Module, hole: ir.HoleDef, examples: list[Example]) -> bool:
    """Whether a `choose` of some call of `examples` had two legal options or more."""
    it = Interpreter(module)
    return any(_decided(it, hole, ex) for ex in examples)


def _policy(pick):
    """A `choices` policy of `Interpreter.call` that takes `pick(legal)` where there are two
    options or more (the only one otherwise)."""
    return lambda s, legal, who: pick(legal) if len(legal) > 1 else legal[0]


#: `Interpreter.call`'s policy that takes the highest legal option of every decision
HIGHEST = _policy(lambda legal: legal[-1])


def _decided(it: Interpreter, hole: ir.HoleDef, ex: Example) -> bool:
    """Whether a `choose` of the call of example `ex` had two legal options or more."""
    sizes: list[int] = []

    def lowest(s, legal, who):
        sizes.append(len(legal))
        return legal[0]

    call_outcome(it, hole.name, ex, lowest)
    return any(n > 1 for n in sizes)


def _had_choice(it: Interpreter, hole: ir.HoleDef, ex: Example) -> bool:
    """Whether some draw of the call of example `ex` could take two values or more (a random
    pick among the one matching card of a deck has no choice: other words change nothing)."""
    sizes: list[int] = []
    it.ev.draw_sizes = sizes
    try:
        call_outcome(it, hole.name, ex)
    finally:
        it.ev.draw_sizes = None
    return any(n > 1 for n in sizes)


def _changes(module: ir.Module, hole: ir.HoleDef, fn: ir.FnDef, value: int, new: int, enum: str | None,
             examples: list[Example]) -> bool:
    other = mutated(fn, value, new, enum, module.num_players, module)
    mod = module.model_copy(update={"fns": [other if f.name == fn.name else f for f in module.fns]})
    it = Interpreter(mod)
    if any(_changed(ex, call_outcome(it, hole.name, ex)) for ex in examples):
        return True
    # The examples' calls took the lowest legal option of every `choose`: a number that bounds the
    # options ("a number below 3") shows only where another option is taken, so both fills are
    # run again taking the highest one, and compared with each other.
    original = Interpreter(module)
    return any(_differ(call_outcome(original, hole.name, ex, HIGHEST), call_outcome(it, hole.name, ex, HIGHEST))
               for ex in examples)


def _differ(a, b) -> bool:
    """Whether two outcomes of one call (`_outcome`: (state, result) or a fault) differ, a
    fault of the varied fill `b` not counted (`_changed`)."""
    if isinstance(b[0], str):  # ("fault", text)
        return False
    return not equal_outcomes(a, b)


# ------------------------------------------------------------------ differential


#: told with a failing clause that reads the coins: a fill may flip them another way (judge hunt, f01)
COINS_NOTE = ("; `heads`/`flip` read the call's first random words as `random.coin()` flips coins: heads is "
              "`random.coin()` true, `random.int(0, 1) == 1` (`random.bernoulli(1, 2)` is true on tails), one draw "
              "per coin, in order")
#: told with a failing clause that reads `drawn(k, lo, hi)` (a die): hunt Q (M3) got the coins note
DICE_NOTE = ("; `drawn(k, lo, hi)` is the call's k-th random word (from 0) as `random.int(lo, hi)` reads it (so "
             "is `random.pick` over `lo..hi + 1`): roll the die with one `random.int(lo, hi)` per roll, in order")
_COIN_READS = ("flip", "heads", "heads_until_tails")


def failing_part(ev: Evaluator, expr: ir.Expr, env: dict[str, Any], module: ir.Module) -> str:
    """For a false clause built of `and`s and `if ... then ... else`: the smallest such part that
    is false on this call, with the conditions that chose its case (`; the part that fails:
    `dmg == old(dmg)` (`old(any(...))` is false)`); "" when the clause is one such part. A
    six-part condition was shown whole (hunt R)."""
    part, cases = expr, []
    while True:
        try:
            step = _false_part(ev, part, env, module)
        except SpecRuntimeError:
            break  # (a part that faults: the clause itself is named)
        if step is None:
            break
        part, case = step
        if case is not None:
            cases.append(case)
    if part is expr:
        return ""
    chose = f" ({', '.join(cases)})" if cases else ""
    text = print_source_expr(part, module)
    if RESERVED_PREFIX in text + chose:
        return ""  # (a part of what `lasts_until` unfolds to names envc's own cells: the clause says more, hunt T, D6)
    return f"; the part that fails: `{text}`{chose}"


def _false_part(ev: Evaluator, e: ir.Expr, env: dict[str, Any], module: ir.Module
                ) -> tuple[ir.Expr, str | None] | None:
    """The false operand of false `a and b` (None for the case), or the branch a false
    `if c then a else b` took (with "`c` is true/false"); None for any other expression."""
    if isinstance(e, ir.Binary) and e.op == "and":
        return (e.left, None) if not ev.eval(e.left, env) else (e.right, None)
    if isinstance(e, ir.Cond) and isinstance(e.type, ir.BoolT):
        taken = bool(ev.eval(e.cond, env))
        case = f"`{print_source_expr(e.cond, module)}` is {str(taken).lower()}"
        return (e.then, case) if taken else (e.orelse, case)
    return None


def random_note(ev: Evaluator, expr: ir.Expr, env: dict[str, Any]) -> str:
    """For a failing clause that reads the call's random words (`flip`, `heads`,
    `heads_until_tails`, `drawn`): what each such read with constant arguments was on this
    call (`drawn(0, 1, 6)` = 4), then how the words are read (the coins note, the dice note
    or both); "" for a clause that reads none. The model saw neither the roll nor the coins
    (hunt Q, M3)."""
    reads = [n for n in ir.walk(expr) if isinstance(n, ir.Builtin) and n.name in _COIN_READS + ("drawn",)]
    if not reads:
        return ""
    seen: dict[str, Any] = {}
    for n in reads:
        if not all(isinstance(a, ir.Const) for a in n.args):
            continue  # (it reads a comprehension's variable: no one value)
        call = f"{n.name}({', '.join(str(a.value).lower() for a in n.args if isinstance(a, ir.Const))})"
        try:
            seen.setdefault(call, ev.eval(n, env))
        except SpecRuntimeError:
            continue
    values = "; on this call " + ", ".join(f"`{k}` = {str(v).lower()}" for k, v in seen.items()) if seen else ""
    names = {n.name for n in reads}
    return values + (COINS_NOTE if names & set(_COIN_READS) else "") + (DICE_NOTE if "drawn" in names else "")


def first_difference(module: ir.Module, a: State, b: State, ra: Any, rb: Any, start: int = 0) -> str | None:
    """The first difference between two outcomes of the same call (field path and both
    values), or None when they are identical. `start`: the RNG counter before the call (the
    draws are counted from it)."""
    paths = changed_paths(module, a, b)
    if paths:
        p = paths[0]
        return f"`{path_text(p)}` is {_short(value_at(a, p))} after the first and {_short(value_at(b, p))} after the second"
    if a.rng_counter != b.rng_counter:
        return (f"the first draws {(a.rng_counter - start) & rng.MASK32} random numbers in this call, the second "
                f"{(b.rng_counter - start) & rng.MASK32}")
    if not values_equal(ra, rb):
        return f"the result is {_short(ra)} from the first and {_short(rb)} from the second"
    return None


# ------------------------------------------------------------------ scenarios


def set_coins(state: State, coins: list[bool]) -> None:
    """Move the RNG counter forward to the first draw from which the coins come out as
    `coins` (heads `True`): the fill's first draws then flip them."""
    c = state.rng_counter
    for _ in range(1 << 20):
        if all(heads(state.rng_key, (c + i) & rng.MASK32) == want for i, want in enumerate(coins)):
            state.rng_counter = c & rng.MASK32
            return
        c += 1
    raise RuntimeError("no run of coins found")  # pragma: no cover - 2^16 runs of 16 coins exist


def assign(it: Interpreter, place: ir.Place, value: Any, env: dict, state: State) -> None:
    """Write (a copy of) `value` to `place` of `state` with the interpreter's own assignment, with
    locals `env`."""
    ev = it.ev
    ev.state = state
    try:
        ev.assign(place, copy_value(value), env)
    finally:
        ev.state = None


#: the most values of a context argument `TextChecks.toward_guard` tries one by one
GUIDED_VALUES = 256


def small_domain(t: ir.Type) -> list[Any]:
    """Every value of a scalar type of at most `GUIDED_VALUES` values (bool, enum, row, integer
    range), in order; empty for any other type."""
    if isinstance(t, ir.BoolT):
        return [False, True]
    if isinstance(t, ir.EnumT) and t.size <= GUIDED_VALUES:
        return list(range(t.size))
    if isinstance(t, ir.RowT) and t.rows <= GUIDED_VALUES:
        return list(range(t.rows))
    if isinstance(t, ir.IntT) and t.hi - t.lo < GUIDED_VALUES:
        return list(range(t.lo, t.hi + 1))
    return []
