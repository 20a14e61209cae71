"""Judging one candidate fill, from the model's raw answer to accepted or a reason why not.

Public surface: `Judge(spec_path, max_examples)` with `judge(hole, answer, fills_text)`,
`judge_body(hole, body, fills_text, reference=None)`, `differential(hole, verdict, reference,
fills_text)` and `judge_written(fills_text, holes=None)`, `Verdict`, `ANSWER_PATH`.

Stages, in order (the first failure is the verdict, and its text goes back to the model):

1. `answer`: a body is extracted from the answer (`answer.extract_body`, 8 KB at most);
2. `syntax`: it parses as the statements of a fill body (`parse_fill_body`);
3. `check`: the fill file *as it would be written* (the candidate item put in place of, or
   beside, the fills already there) is checked with the spec; the candidate may not call
   a hole without a fresh fill; errors are the checker's rendered diagnostics;
4. `work`: a static bound on the work of one call (`props.work_bound`);
5. `scenario`: the scenarios of the text (`props.run_scenarios`) hold;
6. `property`: the generated property tests (`props.falsify`, in the card's own context, with
   the text's contract, frame and draws: `textchecks.TextChecks`) find no failing call;
7. `text`: every printed number and symbol that no rule covers is used by the fill
   (`textchecks.number_problems`, on the passing calls and on states spread over the games),
   and random numbers it draws change what it does on some call (`textchecks.draw_problems`),
   and so do the options a player chooses (`textchecks.choice_problems`);
8. `differential` (with a reference: another fill of the same text): both behave alike.

Diagnostics of stages 2 and 3, and faults, point into the answer (`<answer>:line:col`): the
candidate's statements are parsed from the answer and spliced into the fill file's item.

A member of a hole family (`attack_effect__7`) is written `fill attack_effect text "..."`;
everything else is the same. `judge_written` runs stages 3 to 7 on the fills of a file as
they are written (hand fills): the same `_verdict` as a candidate, from one check of the
file. Checked files and the reached states of the spec (`props.StartStates`) are cached
per fill file text: checking a spec with data (`specs/tcg.envspec`) takes seconds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Literal

from envc.compiler.check import fill_path
from envc.compiler.diagnostics import DiagnosticError, render_all
from envc.compiler.interp import Interpreter
from envc.dsl import ast
from envc.dsl.parser import parse_file, parse_fill_body
from envc.llm_fill import coverage, props
from envc.llm_fill.answer import AnswerError, extract_body
from envc.llm_fill.fillfile import clauses_of, item_text, upsert
from envc.llm_fill.spec import Loaded, fill_key, load_lenient
from envc.llm_fill.textchecks import (
    HIGHEST,
    call_outcome,
    choice_problems,
    decides,
    draw_problems,
    equal_outcomes,
    first_difference,
    number_problems,
    with_contexts,
)

#: the file name diagnostics of an answer's body point into
ANSWER_PATH = "<answer>"
#: checked fill file texts kept per judge
_LOADS_KEPT = 6
#: fill file texts whose reached states are kept per judge
_STARTS_KEPT = 3


@dataclass
class Verdict:
    ok: bool
    # "answer", "syntax", "check", "work", "scenario", "property", "text", "differential" or "accepted"
    stage: str
    feedback: str  # what failed, for the model (empty when accepted)
    body: str | None = None
    counterexample: props.Counterexample | None = None
    examples: list | None = None  # the passing calls of an accepted fill (for differential acceptance)
    answer: str | None = None  # the model's raw answer, when judged from one
    untested: list[str] | None = None  # conditions of the contract no judged state flipped (`coverage`)


def _run(it: Interpreter, hole: str, ex) -> tuple:
    """(state after, result, fault or None) of `hole` on example `ex`'s state and arguments."""
    try:
        after, result = it.call(ex.before, hole, ex.args)
    except Exception as e:  # a fault: compared as such
        return None, None, f"faults ({e})"
    return after, result, None


#: conditions of a contract searched for (`Judge._cover`), and states tried for each
COVERED_GUARDS = 4
COVERAGE_TRIES = 80

#: differential acceptance of fills that draw: examples compared in law, random words per example
LAW_EXAMPLES = 6
LAW_DRAWS = 1000


def _draws(before, a, b) -> bool:
    """Both calls ran without a fault and one drew random numbers (its RNG counter moved): the
    two may differ in their draws alone (`random.pick` draws once even from an empty set), which
    the text's contract checks where it says how many (`draws N`), not the comparison."""
    if a is None or b is None:
        return False
    return a.rng_counter != before.rng_counter or b.rng_counter != before.rng_counter


def _outcome(it: Interpreter, hole: str, ex, counter: int) -> tuple[str, tuple]:
    """The outcome of `hole` on example `ex` with the RNG counter at `counter`: a key (the
    state's fields but the RNG, the result, or the fault) and (state, result) for showing it."""
    before = ex.before.copy()
    before.rng_counter = counter
    after, result, fault = _run(it, hole, replace(ex, before=before))
    if fault is not None:
        return fault, (None, None)
    return repr((after.fields, result)), (after, result)


#: decision trees enumerated per fill and example (`_decision_outcomes`), at most
DECISION_OUTCOMES = 64


def _decision_outcomes(it: Interpreter, hole: str, ex) -> list[tuple] | None:
    """Every outcome ((state, result) or ("fault", text)) of `hole` on example `ex` over every
    sequence of options its decisions (`choose`) can take, the random words kept; [] when no
    decision had two options or more, None when there are more than `DECISION_OUTCOMES`."""
    outcomes: list[tuple] = []
    todo: list[tuple[int, ...]] = [()]
    branched = False
    while todo:
        prefix = todo.pop()
        seen: list[list[int]] = []

        def policy(s, legal, who, prefix=prefix, seen=seen):
            seen.append(legal)
            i = len(seen) - 1
            return legal[prefix[i]] if i < len(prefix) else legal[0]

        outcomes.append(call_outcome(it, hole, ex, policy))
        for j in range(len(prefix), len(seen)):
            todo += [prefix + (0,) * (j - len(prefix)) + (k,) for k in range(1, len(seen[j]))]
            branched = branched or len(seen[j]) > 1
        if len(outcomes) + len(todo) > DECISION_OUTCOMES:
            return None
    return outcomes if branched else []


def _same_outcome(a: tuple, b: tuple) -> bool:
    """Two outcomes of `_decision_outcomes` are the same: equal states and results, or the same fault."""
    return equal_outcomes(a, b) or (isinstance(a[0], str) and a == b)


def _decision_difference(module, its: tuple[Interpreter, Interpreter], hole: str, ex) -> str | None | Literal[False]:
    """False when neither fill decides on example `ex` (or one has too many outcomes to
    compare); else None when both reach the same outcomes over every option of their
    decisions (in any numbering), or what one reaches and the other does not."""
    a, b = (_decision_outcomes(it, hole, ex) for it in its)
    if a is None or b is None or not (a or b):
        return False
    for i, (mine, other) in enumerate(((a, b), (b, a))):
        lone = next((o for o in mine if not any(_same_outcome(o, x) for x in other)), None)
        if lone is None:
            continue
        which, other_name = ("first", "second") if i == 0 else ("second", "first")
        base = other[0] if other else ("fault", "no outcome")
        shown = f"it {lone[1]}" if isinstance(lone[0], str) else f"the {other_name} {base[1]}" \
            if isinstance(base[0], str) else first_difference(module, lone[0], base[0], lone[1], base[1],
                                                              ex.before.rng_counter)
        return (f"over every option of the decisions ({len(mine)} outcome(s) of the {which} fill, {len(other)} of "
                f"the {other_name}), the {which} fill reaches an outcome no option of the {other_name} reaches "
                f"(against the {other_name}'s lowest options: {shown})")
    return None


def _law_difference(module, its: tuple[Interpreter, Interpreter], hole: str, ex) -> str | None:
    """Whether two fills that draw behave alike in law on example `ex`: each runs from
    `LAW_DRAWS` RNG counters (4,096 apart: distinct random words). Where the outcomes are few
    (at most `LAW_DRAWS // 20` distinct ones), every outcome must be reached by both about as
    often (`_counts_differ`): two fills of "discard a random card" by `random.int` and by
    `random.pick` agree, one that never picks the last card does not. Where they are many (a
    shuffled deck: each outcome comes once or not at all, and counts of whole outcomes would
    tell nothing), each changed cell's values must come about as often instead (the card at
    each place of the deck, the hand's length). None when alike, else what differs."""
    runs: list[list[tuple[str, tuple]]] = [[], []]
    for i in range(LAW_DRAWS):
        counter = (ex.before.rng_counter + 4096 * i) & 0xFFFFFFFF
        for side, it in enumerate(its):
            runs[side].append(_outcome(it, hole, ex, counter))
    keys = [[k for k, _ in r] for r in runs]
    if len(set(keys[0]) | set(keys[1])) <= LAW_DRAWS // 20:
        bad = _counts_differ(keys)
        if bad is None:
            return None
        key, na, nb = bad
        shown = dict(runs[0] + runs[1])
        usual = Counter(keys[1 if na < nb else 0]).most_common(1)[0][0]  # what the other one mostly does
        what = _outcome_text(module, shown[key], shown[usual], key)
        return (f"over {LAW_DRAWS} runs from other random words, an outcome comes {na} times from the first and "
                f"{nb} from the second ({what})")
    cells = [[_cells_of(ex.before, key, outcome) for key, outcome in r] for r in runs]
    bad = _counts_differ([[c for run in side for c in run] for side in cells])
    if bad is None:
        return None
    (where, value), na, nb = bad
    return (f"over {LAW_DRAWS} runs from other random words, {where} is {value} {na} times after the first and "
            f"{nb} after the second")


def _counts_differ(samples: list[list]) -> tuple | None:
    """The first value (sorted by its text) whose counts in the two samples differ by more than
    five standard deviations of a count difference, `sqrt(na + nb)`, plus 3 (a right pair is
    almost never told apart): (value, na, nb), or None."""
    counts = [Counter(x) for x in samples]
    for value in sorted(set(counts[0]) | set(counts[1]), key=repr):
        na, nb = counts[0][value], counts[1][value]
        if abs(na - nb) > 5 * (na + nb) ** 0.5 + 3:
            return value, na, nb
    return None


def _cells_of(before, key: str, outcome: tuple) -> list[tuple[str, str]]:
    """An outcome as (cell, value) pairs: each cell of the state fields the call changed (a
    list's length too), the result, or the fault."""
    after, result = outcome
    if after is None:
        return [("the outcome", key)]
    out = [("the result", repr(result))]
    for name, v in after.fields.items():
        if v != before.fields.get(name):
            out += _flat(f"`{name}", v)
    return out


def _flat(path: str, v) -> list[tuple[str, str]]:
    """(`path[i]...`, value) for each scalar cell of value `v`, and `len(...)` of each list."""
    if isinstance(v, dict):
        return [c for k, x in v.items() for c in _flat(f"{path}.{k}", x)]
    if isinstance(v, list):
        return [(f"len({path}`)", str(len(v)))] + [c for i, x in enumerate(v) for c in _flat(f"{path}[{i}]", x)]
    return [(f"{path}`", repr(v))]


def _outcome_text(module, outcome: tuple, other: tuple, key: str) -> str:
    """An outcome, told by how it differs from another one (or its fault)."""
    if outcome[0] is None:
        return key
    if other[0] is None:
        return "it ends without a fault"
    diff = first_difference(module, outcome[0], other[0], outcome[1], other[1])
    return f"where {diff.replace('after the first', 'in it').replace('after the second', 'in another')}" if diff \
        else "the same state"


#: told with a counterexample found with every decision taking its highest legal option
HIGHEST_NOTE = ("\n(on this call each `choose` took the highest legal option: a player may take any of them, and "
                "the judge tries the lowest and the highest)")


class Judge:
    """Judges candidate fills of the holes of one spec.

    Args:
        spec_path: the `.envspec` file; its fill file is `fill_path(spec_path)`.
        max_examples: hypothesis examples per candidate (before shrinking).
    """

    def __init__(self, spec_path: str, max_examples: int = 200):
        self.spec_path = spec_path
        self.fill_path = fill_path(spec_path)
        self.spec_ast = parse_file(spec_path)
        self.max_examples = max_examples
        self._starts: dict[str | None, props.StartStates] = {}
        self._loads: dict[tuple, Loaded] = {}
        self._order: list[str] | None = None

    def _load(self, fills_text: str | None, strict: tuple[str, int, int] | None = None,
              splice: tuple[int, list] | None = None) -> Loaded:
        key = (fills_text, strict, splice[0] if splice is not None else None)
        if key not in self._loads:
            loaded = load_lenient(self.spec_path, fills_text, strict=strict, spec_ast=self.spec_ast, splice=splice)
            while len(self._loads) >= _LOADS_KEPT:
                self._loads.pop(next(iter(self._loads)))
            self._loads[key] = loaded
        self._loads[key] = self._loads.pop(key)  # the most recently used last (evicted last)
        return self._loads[key]

    def load(self, fills_text: str | None) -> Loaded:
        """The spec with fill file text `fills_text`, unfilled holes tolerated (cached)."""
        return self._load(fills_text)

    def order(self, loaded: Loaded | None = None) -> list[str]:
        """Hole names in declaration order (family members in their family's place)."""
        if self._order is None:
            module = (loaded or self.load(None)).module
            self._order = [h.name for h in module.holes]
        return self._order

    def clause_text(self, hole: str, loaded: Loaded | None = None) -> list[str]:
        """The source of each `ensures` clause of `hole` (its family's, for a member)."""
        src = self.spec_ast.source
        loaded = loaded or next(iter(self._loads.values()), None) or self.load(None)
        decl = loaded.hole_decl(hole)
        return [src[e.span.start:e.span.end] for e in decl.ensures]

    def starts(self, fills_text: str | None) -> props.StartStates:
        """Reached states of the spec with the fills already accepted (cached per file text,
        the last `_STARTS_KEPT` texts)."""
        if fills_text not in self._starts:
            while len(self._starts) >= _STARTS_KEPT:
                self._starts.pop(next(iter(self._starts)))
            self._starts[fills_text] = props.StartStates(self.load(fills_text).module)
        self._starts[fills_text] = self._starts.pop(fills_text)
        return self._starts[fills_text]

    def carry_starts(self, old_text: str | None, new_text: str, hole: str) -> None:
        """`new_text` is `old_text` with `hole` filled: keep the games played with
        `old_text` when they never needed `hole` (`StartStates.needs`), instead of playing
        them again (seconds for `specs/tcg.envspec`, after every accepted fill)."""
        starts = self._starts.get(old_text)
        if starts is not None and not starts.needs(hole):
            self._starts[new_text] = starts

    def item(self, loaded: Loaded, hole: str, attrs: dict, body: str) -> str:
        """The fill item of `hole` with `attrs` (a family member's has its `text` first);
        the checks written beside the fill already in the file (`ensures`, `scenario`) are
        kept: they come from the text's author, not from the model."""
        h = loaded.hole(hole)
        clauses = ""
        if loaded.fills_ast is not None and loaded.fills_text is not None:
            key = fill_key(loaded.module)
            mine = next((d for d in loaded.fills_ast.decls if isinstance(d, ast.FillDecl) and key(d) == hole), None)
            clauses = clauses_of(loaded.fills_text, mine) if mine is not None else ""
        if h.family is not None:
            return item_text(h.family, {"text": h.prose, **attrs}, body, clauses)
        return item_text(hole, attrs, body, clauses)

    def place(self, loaded: Loaded, fills_text: str | None, hole: str, item: str):
        """`fillfile.upsert` of `item` for `hole` into `fills_text`."""
        h = loaded.hole(hole)
        return upsert(fills_text, self.fill_path, hole, item, self.order(loaded), key=fill_key(loaded.module),
                      group=h.family)

    def judge(self, hole: str, answer: str | None, fills_text: str | None) -> Verdict:
        """Judge a model's raw `answer` for `hole` against the fill file text `fills_text`."""
        try:
            body = extract_body(answer, hole)
        except AnswerError as e:
            return Verdict(False, "answer", str(e))
        try:
            parse_fill_body(body, ANSWER_PATH)
        except DiagnosticError as e:
            return Verdict(False, "syntax", render_all(e.diagnostics), body)
        return self.judge_body(hole, body, fills_text)

    def judge_body(self, hole: str, body: str, fills_text: str | None, reference: str | None = None) -> Verdict:
        """Judge a parsed body (stages 3 to 5) as the fill of `hole` put into `fills_text`.
        Diagnostics and faults about it point into the body (`<answer>:line:col`).
        `reference`: the body of a second fill of the same text (another sample, another
        model, a hand fill): any difference in behaviour rejects (stage `differential`)."""
        base = self.load(fills_text)
        digest = base.hole(hole).signature_hash
        item = self.item(base, hole, {"hash": digest, "provenance": "model"}, body)
        before = [d for d in base.fills_ast.decls] if base.fills_ast is not None else []
        placed = self.place(base, fills_text, hole, item)
        try:
            stmts = parse_fill_body(body, ANSWER_PATH)
        except DiagnosticError as e:
            return Verdict(False, "syntax", render_all(e.diagnostics), body)
        try:
            loaded = self._load(placed.text, strict=(ANSWER_PATH, 0, len(body) + 1), splice=(placed.start, stmts))
        except DiagnosticError as e:
            stage = "syntax" if all(d.code in ("E0001", "E0002", "E0003") for d in e.diagnostics) else "check"
            return Verdict(False, stage, render_all(e.diagnostics), body)
        assert loaded.fills_ast is not None  # the answer was spliced into the fill file
        key = fill_key(loaded.module)
        mine = [d for d in loaded.fills_ast.decls if key(d) == hole]
        expected = len(before) + (0 if placed.replaced else 1)
        if len(loaded.fills_ast.decls) != expected or len(mine) != 1 or mine[0].span.start != placed.start:
            return Verdict(False, "syntax", "the answer must be the statements of one fill body, nothing else", body)
        verdict = self._verdict(loaded, hole, body, fills_text)
        if verdict.ok and reference is not None:
            return self.differential(hole, verdict, reference, fills_text)
        return verdict

    def judge_written(self, fills_text: str, holes: list[str] | None = None) -> dict[str, Verdict]:
        """Stages 3 to 5 for the fills as written in `fills_text` (hand fills), from one
        check of the file: {hole: verdict} for every filled hole (or those of `holes`).
        A fill that calls a hole without a fresh fill fails the `check` stage, as a
        candidate would."""
        from envc.llm_fill.fillfile import body_of

        loaded, refused, fills_text = self._load_written(fills_text)
        key = fill_key(loaded.module)
        items = {key(d): d for d in (loaded.fills_ast.decls if loaded.fills_ast is not None else [])
                 if isinstance(d, ast.FillDecl)}  # (a fill file holds only fill items: E0161)
        names = holes if holes is not None else [h.name for h in loaded.module.holes
                                                 if h.status == "filled" or h.name in refused]
        out = {}
        for name in names:
            d = items.get(name)
            if name in refused:
                out[name] = Verdict(False, "check", refused[name][1], refused[name][0])
                continue
            if d is None:
                out[name] = Verdict(False, "check", f"`{name}` has no fresh fill in the file", None)
                continue
            body = body_of(fills_text, d)
            inside = [p for p in loaded.pending if p.span is not None and p.span.file == self.fill_path
                      and d.span.start <= p.span.start < d.span.end]
            if loaded.hole(name).status != "filled":
                out[name] = Verdict(False, "check", f"`{name}` has no fresh fill in the file", body)
            elif inside:
                out[name] = Verdict(False, "check", render_all(inside), body)
            else:
                out[name] = self._verdict(loaded, name, body, fills_text)
        return out

    def _load_written(self, fills_text: str) -> tuple[Loaded, dict[str, tuple[str, str]], str]:
        """The spec loaded with `fills_text`, less the fill items that do not check: each is
        cut from the text and its hole judged `check` with the diagnostics inside it
        ({hole: (body, rendered diagnostics)}), so one bad fill does not stop the others
        from being judged; and the text without them (the others' states are reached with
        it). Raises `DiagnosticError` for an error outside every fill item."""
        from envc.dsl.parser import parse
        from envc.llm_fill.fillfile import body_of

        cut: list[tuple[ast.FillDecl, str, str]] = []  # (item, its body, its diagnostics)
        text = fills_text
        while True:
            try:
                loaded = self.load(text)
                break
            except DiagnosticError as e:
                items = [d for d in parse(text, self.fill_path).decls if isinstance(d, ast.FillDecl)]
                bad = [(d, [x for x in e.diagnostics if x.span is not None and x.span.file == self.fill_path
                            and d.span.start <= x.span.start < d.span.end]) for d in items]
                bad = [(d, found) for d, found in bad if found]
                if not bad:
                    raise
                cut += [(d, body_of(text, d), render_all(found)) for d, found in bad]
                for d, _ in sorted(bad, key=lambda x: -x[0].span.start):
                    text = text[:d.span.start] + text[d.span.end:]
        key = fill_key(loaded.module)
        refused = {name: (body, shown) for d, body, shown in cut if (name := key(d)) is not None}
        return loaded, refused, text

    def _verdict(self, loaded: Loaded, hole: str, body: str, base_text: str | None) -> Verdict:
        """Stages 4 to 7 for the (checked, filled) `hole` of `loaded`; the states the
        property tests start from are reached with the fills of `base_text`."""
        ir_hole = loaded.hole(hole)
        if ir_hole.status != "filled":  # pragma: no cover - the hash was just written
            return Verdict(False, "check", f"the fill of `{hole}` is {ir_hole.status}", body)
        work = props.work_bound(loaded.module, hole)
        if work > props.MAX_WORK:
            return Verdict(False, "work", f"one call of this fill may evaluate up to {work:,} expressions (the limit "
                           f"is {props.MAX_WORK:,}): use fewer or shorter loops", body)
        starts = self.starts(base_text)
        failed = props.run_scenarios(loaded.module, hole, starts)
        if failed:
            return Verdict(False, "scenario", "\n".join(failed), body)
        examples: list = []
        try:
            cx = props.falsify(loaded.module, hole, starts, self.clause_text(hole, loaded), self.max_examples,
                               examples=examples)
        except props.NoContext as e:
            return Verdict(False, "property", str(e), body)
        if cx is not None:
            return Verdict(False, "property", cx.render(loaded.module, ir_hole), body, cx)
        cx, untested = self._cover(loaded, ir_hole, starts, examples)
        if cx is not None:
            return Verdict(False, "property", cx.render(loaded.module, ir_hole), body, cx)
        in_context = with_contexts(loaded.module)
        if decides(in_context, ir_hole, examples):
            # the calls above took the lowest legal option of each decision: a fill that breaks
            # its contract, or faults, when a player takes another one passed (hunt Q)
            cx = props.falsify(loaded.module, hole, starts, self.clause_text(hole, loaded),
                               max(self.max_examples // 2, 20), choices=HIGHEST)
            if cx is not None:
                return Verdict(False, "property", cx.render(loaded.module, ir_hole) + HIGHEST_NOTE, body, cx)
        unused = number_problems(in_context, ir_hole, examples) + draw_problems(in_context, ir_hole, examples) \
            + choice_problems(in_context, ir_hole, examples)
        if unused:
            return Verdict(False, "text", "\n".join(unused), body)
        return Verdict(True, "accepted", "", body, examples=examples, untested=untested)

    def _cover(self, loaded: Loaded, ir_hole, starts, examples: list) -> tuple[props.Counterexample | None, list[str]]:
        """More states than hypothesis drew: the swept ones (`props.sweep_examples`, checked
        like the others: hunt Q bug 7), then for each condition of the text's contract that
        kept one value over `examples`, or took the other on fewer than `coverage.RARE_CASES`
        of them (`coverage.rare`, at most `COVERED_GUARDS`; hunt R, F1; hunt V, F5) states with the fields it reads redrawn and as many reached states put in the context
        again (`COVERAGE_TRIES` each), the fill checked where
        the condition takes its other value (a counterexample there refuses it), and those that
        no state flipped, described (accepted with a warning). `examples` receives the calls."""
        n = props.SWEPT_EXAMPLES
        swept = props.sweep_examples(loaded.module, ir_hole.name, starts, n)
        cx = props.check_examples(loaded.module, ir_hole.name, swept, self.clause_text(ir_hole.name, loaded))
        if cx is not None:
            return cx, []
        examples += swept
        notes: list[str] = []
        again: list | None = None
        for guard, seen, others in coverage.rare(loaded.module, ir_hole, examples)[:COVERED_GUARDS]:
            # (arguments and extras steered toward the guard's other value where it keeps this one)
            flips = coverage.flip_test(loaded.module, ir_hole, guard, seen)
            tried = props.sweep_examples(loaded.module, ir_hole.name, starts, min(COVERAGE_TRIES, n), seed=1,
                                         redraw=guard.fields, flips=flips)
            # and reached states put in the context again with other draws, twice (the same for
            # every guard): a redrawn field often breaks an invariant (a deck of random cards), and
            # then the reached state is taken as it is; a case the context's extras make (the TCG's
            # `named` and `nc`: 1 draw in 26) needs the tries
            if again is None:
                again = [ex for seed in (1, 2) for ex in
                         props.sweep_examples(loaded.module, ir_hole.name, starts, min(COVERAGE_TRIES, n), seed=seed)]
            tried += again
            found = [ex for ex in tried if flips(ex)]
            cx = props.check_examples(loaded.module, ir_hole.name, found, self.clause_text(ir_hole.name, loaded))
            if cx is not None:
                return cx, []
            if not found and not others:
                notes.append(coverage.describe(guard, seen))
            examples += found
        return self._cover_branches(loaded, ir_hole, starts, examples), notes

    def _cover_branches(self, loaded: Loaded, ir_hole, starts, examples: list) -> props.Counterexample | None:
        """The fill's own conditions that kept one value over `examples`, or nearly
        (`coverage.BranchWatch.rare`, at most `COVERED_GUARDS`): states with the fields each reads redrawn, steered toward its
        other value, and the fill checked where it takes it (hunt V, F3: `if step_count < 30`
        in a fill of "Deals 40 damage." passed, late states being rare). No warning when none is
        found: a defensive condition of a fill is often true on every state of the game."""
        watch = coverage.BranchWatch(loaded.module, ir_hole)
        for branch, seen in watch.rare(examples)[:COVERED_GUARDS]:
            flips = watch.flip_test(branch, seen)
            tried = props.sweep_examples(loaded.module, ir_hole.name, starts, min(COVERAGE_TRIES, props.SWEPT_EXAMPLES),
                                         seed=3, redraw=branch.fields, flips=flips)
            found = [ex for ex in tried if flips(ex)]
            cx = props.check_examples(loaded.module, ir_hole.name, found, self.clause_text(ir_hole.name, loaded))
            if cx is not None:
                return cx
            examples += found
        return None

    def differential(self, hole: str, verdict: Verdict, reference: str, base_text: str | None) -> Verdict:
        """Differential acceptance: run the accepted fill of `verdict` and the `reference` body
        (another fill of the same text) on the same states, arguments and RNG words (the
        examples of the accepted fill's run); the first difference rejects (stage
        `differential`), naming the state, the call and the first differing field. A reference
        that does not check, or the same text, is not compared."""
        body = verdict.body or ""
        if reference.strip() == body.strip():
            return verdict
        try:
            mine = self._module_with(hole, body, base_text)
            other = self._module_with(hole, reference, base_text)
        except DiagnosticError:
            return verdict  # (the reference does not check: there is nothing to compare with)
        examples = list(verdict.examples or [])
        module_a = with_contexts(mine)
        module_b = with_contexts(other)
        it_a, it_b = Interpreter(module_a), Interpreter(module_b)
        h = next(x for x in mine.holes if x.name == hole)
        in_law = 0
        for ex in examples:
            a = _run(it_a, hole, ex)
            b = _run(it_b, hole, ex)
            diff = (None if a[2] == b[2] else f"the first {a[2] or 'runs'} and the second {b[2] or 'runs'}") \
                if a[2] or b[2] else first_difference(module_a, a[0], b[0], a[1], b[1], ex.before.rng_counter)
            if diff is not None and (decisions := _decision_difference(module_a, (it_a, it_b), hole, ex)) is not False:
                # two fills of a text that decides may number the options differently: the judge's
                # calls took the lowest option of each, another card in each numbering (hunt Q, bug
                # 8): they must reach the same outcomes over every option instead
                diff = decisions
            elif diff is not None and _draws(ex.before, a[0], b[0]):
                # two fills of a random text may draw differently and still mean the same: compare
                # what each does over many random words instead of on these ones, on the first
                # `LAW_EXAMPLES` such examples (the others are not evidence either way)
                in_law += 1
                diff = _law_difference(module_a, (it_a, it_b), hole, ex) if in_law <= LAW_EXAMPLES else None
            if diff is None:
                continue
            call = ", ".join(f"{p.name}: {props.dsl_value(module_a, p.type, v)}" for p, v in zip(h.params, ex.args))
            return Verdict(False, "differential",
                           f"two fills of this text behave differently on the same state, arguments and random "
                           f"words:\n  state before the call: {ex.origin}\n  call: {hole}({call})\n"
                           f"  first difference: {diff}\n  the other fill:\n"
                           + "\n".join(f"    {line}" for line in reference.strip().split("\n")), body)
        return verdict

    def _module_with(self, hole: str, body: str, base_text: str | None):
        """The checked module with `body` as the fill of `hole` in `base_text` (raises
        `DiagnosticError` when it does not check)."""
        base = self.load(base_text)
        item = self.item(base, hole, {"hash": base.hole(hole).signature_hash, "provenance": "reference"}, body)
        placed = self.place(base, base_text, hole, item)
        return self._load(placed.text).module
