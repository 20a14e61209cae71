"""The repair loop of `envc fill`: ask a model through litellm, judge, repair, write.

Public surface: `fill_spec(spec_path, model, ...) -> FillReport`, `select_holes(...)`,
`resolve_only(loaded, only)`, `HoleRun`, `FillReport`.

For every selected hole (unfilled or stale, in declaration order; `force` adds fresh ones)
the model gets the fill prompt; its answer is judged (`judge.Judge`; with `samples` > 1 or a
`second_model` several answers are judged, and accepted ones must behave alike; with `force`
they must also behave like the fill they replace); a rejected answer
goes back with a repair prompt holding the reason (a rendered diagnostic or a shrunk
falsifying example), up to `max_attempts` answers. An accepted fill is written at once
into the fill file with its provenance (model, attempts, tokens and cost as litellm
accounts them, date, the hole's hash), rewriting only its own item. Model calls run in
`concurrency` threads (`litellm.completion`); judging and writing happen on the calling
thread, one at a time, so each candidate is checked against the file as it then is.
`--only` takes hole names, family names and starts of family texts (`resolve_only`).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from envc.compiler.diagnostics import Diagnostic, DiagnosticError, did_you_mean
from envc.llm_fill.fillfile import write_atomic
from envc.llm_fill.judge import Judge, Verdict
from envc.llm_fill.prompts import fill_messages, repair_message
from envc.llm_fill.spec import Loaded


@dataclass
class HoleRun:
    """One hole's conversation with the model and its outcome."""

    name: str
    messages: list[dict]
    attempts: int = 0
    tokens: int = 0
    cost: float = 0.0
    cost_known: bool = False
    status: str = "pending"  # "filled" or "failed" at the end
    failure: str | None = None  # the last reason, for a failed hole
    verdicts: list[Verdict] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)
    text: str = ""  # a family member's card text


@dataclass
class FillReport:
    runs: list[HoleRun]
    skipped: list[tuple[str, str]]  # (hole, why)

    @property
    def cost(self) -> float:
        return sum(r.cost for r in self.runs)

    @property
    def tokens(self) -> int:
        return sum(r.tokens for r in self.runs)


def _read(path: str) -> str | None:
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def resolve_only(loaded: Loaded, only: list[str]) -> list[str]:
    """The holes named by `--only` values, in declaration order. A value is a hole's name
    (`heal`, `attack_effect__7`), a family's name (all its members), or the start of a
    family member's text (`"Heal 10"`, case and spacing ignored; every member whose text
    starts so).

    Raises:
        DiagnosticError: a value that names nothing.
    """
    holes = loaded.module.holes
    names = [h.name for h in holes]
    families = {f.name: f for f in loaded.module.families}
    chosen: set[str] = set()
    for value in only:
        if value in names:
            chosen.add(value)
            continue
        if value in families:
            chosen.update(families[value].members)
            continue
        prefix = " ".join(value.split()).casefold()
        hits = [h.name for h in holes if h.family is not None and prefix
                and " ".join(h.prose.split()).casefold().startswith(prefix)]
        if hits:
            chosen.update(hits)
            continue
        plain = [h.name for h in holes if h.family is None]
        kinds = ([f"a hole ({', '.join(plain[:6])})"] if plain else []) + (
            [f"a family ({', '.join(families)})", f"a family's text (`{next(iter(families.values())).members[0]}`, "
             "as `envc holes SPEC` lists them) or the start of a text"] if families else [])
        raise DiagnosticError([Diagnostic(
            "E0100", f"the spec declares no hole `{value}`", None,
            help=did_you_mean(value, names + list(families))
            or (f"give {', '.join(kinds)}" if kinds else "the spec has no holes"))])
    return [n for n in names if n in chosen]


def select_holes(loaded: Loaded, only: list[str] | None, force: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """(holes to fill in declaration order, [(hole, why skipped)]); `only`: see `resolve_only`.

    Raises:
        DiagnosticError: `only` names a hole the spec does not declare.
    """
    wanted = set(resolve_only(loaded, list(dict.fromkeys(only)))) if only else None
    todo, skipped = [], []
    for h in loaded.module.holes:
        if wanted is not None and h.name not in wanted:
            continue
        if h.status == "filled" and not force:
            skipped.append((h.name, "already filled and fresh"))
        else:
            todo.append(h.name)
    return todo, skipped


def _import_litellm():
    # the bundled price list: no download of litellm's cost map when the module loads
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError:
        raise DiagnosticError([Diagnostic("E0180", "`envc fill` needs litellm, which is not installed", None,
                                          help="`pip install litellm` (a dependency of envc)")]) from None

    litellm.suppress_debug_info = True
    return litellm


#: the key sent to a server given by `--api-base` when the provider's key variable is not set
PLACEHOLDER_KEY = "envc-no-key"


def _missing_credentials(litellm, model: str) -> list[str]:
    """The provider's key variables (`OPENAI_API_KEY`, ...) that litellm wants and the
    environment lacks (not its base-URL variables, which `--api-base` replaces)."""
    try:
        missing = litellm.validate_environment(model=model).get("missing_keys") or []
    except Exception:  # an unknown provider: let the call say what is wrong
        return []
    return [k for k in missing if "KEY" in k or "TOKEN" in k]


def _tokens(response: Any) -> int:
    usage = getattr(response, "usage", None)
    if usage is None and isinstance(response, dict):
        usage = response.get("usage")
    if usage is None:
        return 0

    def get(name):
        v = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
        return v if isinstance(v, int) else None

    total = get("total_tokens")
    if total is None:
        total = (get("prompt_tokens") or 0) + (get("completion_tokens") or 0)
    return total


def _cost(litellm, response: Any) -> float | None:
    try:
        cost = litellm.completion_cost(completion_response=response)
    except Exception:  # a model without a price in litellm's list
        cost = None
    if cost is None:
        cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
    return float(cost) if isinstance(cost, (int, float)) else None


def _content(response: Any) -> Any:
    """The answer's text: the first choice's message content, its text parts joined where a
    provider returns a list of parts; anything else as it came (`extract_body` refuses what
    is not text), None when the response has no message."""
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    if not isinstance(content, list):
        return content
    texts = [part.get("text") if isinstance(part, dict) else getattr(part, "text", None) for part in content]
    return "".join(t for t in texts if isinstance(t, str)) if any(isinstance(t, str) for t in texts) else content


def fill_spec(spec_path: str, model: str, *, only: list[str] | None = None, max_attempts: int = 4,
              concurrency: int = 4, api_base: str | None = None, force: bool = False, max_examples: int = 200,
              timeout: float = 300.0, on_event: Callable[[str, HoleRun], None] | None = None,
              completion: Callable[..., Any] | None = None, today: str | None = None, samples: int = 1,
              second_model: str | None = None, differential: bool = True,
              judge: Judge | None = None) -> FillReport:
    """Fill the holes of `spec_path` with `model` (any litellm provider string).

    Args:
        only: fill only these holes (default: every unfilled or stale hole).
        max_attempts: answers per hole before it is reported unfilled with the last failure.
        concurrency: model calls in flight at once.
        api_base: the provider's base URL (e.g. a local OpenAI-compatible server).
        force: fill holes whose fill is fresh too (replacing it).
        max_examples: generated examples per candidate (before shrinking).
        on_event: called with ("start" | "answer" | "rejected" | "filled" | "failed", run).
        completion: the function called instead of `litellm.completion` (same keywords).
        today: the date written into provenance (default: today, ISO format).
        samples: answers asked of `model` per attempt; with `second_model`, one more from it.
            Accepted answers that behave differently reject the attempt (`_judge_answers`).
        differential: with `force`, an answer must also behave exactly like the fresh fill
            already in the file (a hand fill).
        judge: a `Judge` of `spec_path` to reuse (its caches: checked files, reached states).

    Raises:
        DiagnosticError: the spec or its fill file has errors other than unfilled holes.
    """
    judge = judge or Judge(spec_path, max_examples=max_examples)
    fills_text = _read(judge.fill_path)
    loaded = judge.load(fills_text)
    todo, skipped = select_holes(loaded, only, force)
    runs = [HoleRun(name, fill_messages(loaded, name, test_states=max_examples),
                    text=loaded.hole(name).prose if loaded.family(name) else "") for name in todo]
    if not runs:
        return FillReport([], skipped)
    litellm = _import_litellm()
    call = completion or litellm.completion
    extra = _call_options(litellm, model, api_base, timeout, completion is not None)
    date = today or datetime.date.today().isoformat()
    emit = on_event or (lambda kind, run: None)
    models = [model] * max(1, samples) + ([second_model] if second_model else [])
    references = _references(judge, loaded, runs, fills_text) if differential and force and fills_text else {}

    def ask(run: HoleRun, who: str):
        return call(model=who, messages=list(run.messages), **extra)

    _Attempts(judge, fills_text, ask, models, references, litellm, emit, model, date, max_attempts).run(
        runs, concurrency)
    return FillReport(runs, skipped)


def _call_options(litellm: Any, model: str, api_base: str | None, timeout: float, own_completion: bool
                  ) -> dict[str, Any]:
    """The keywords of each model call (timeout, base URL, a placeholder key for a local server).

    Raises DiagnosticError E0180 when `model` needs credentials that are not set (unless the
    caller gave its own `completion`)."""
    extra: dict[str, Any] = {"timeout": timeout}
    if api_base:
        extra["api_base"] = api_base
    missing = _missing_credentials(litellm, model)
    if missing and api_base:
        # a local OpenAI-compatible server ignores the key, and litellm refuses to call without one
        extra["api_key"] = PLACEHOLDER_KEY
    elif missing and not own_completion:
        raise DiagnosticError([Diagnostic(
            "E0180", f"model `{model}` needs {' and '.join(f'`{k}`' for k in missing)}, which is not set", None,
            help=f"set it (`export {missing[0]}=...`), or use a local OpenAI-compatible server with "
                 f"`--model openai/NAME --api-base URL` (no key needed)")])
    return extra


def _references(judge: Judge, loaded: Loaded, runs: list[HoleRun], fills_text: str) -> dict[str, str]:
    """The fresh fills already in the file of the holes to fill (`--force`): what an answer must
    behave exactly like (differential acceptance)."""
    from envc.llm_fill.fillfile import fill_bodies
    from envc.llm_fill.spec import fill_key

    bodies = fill_bodies(fills_text, judge.fill_path, key=fill_key(loaded.module))
    return {r.name: bodies[r.name] for r in runs if loaded.hole(r.name).status == "filled" and r.name in bodies}


class _Attempts:
    """The attempts of `fill_spec`: the model calls of each attempt in a thread pool, and each
    attempt judged once all its answers are in (accepted, retried with feedback, or failed)."""

    def __init__(self, judge: Judge, fills_text: str | None, ask: Callable[[HoleRun, str], Any], models: list[str],
                 references: dict[str, str], litellm: Any, emit: Callable[[str, HoleRun], None], model: str,
                 date: str, max_attempts: int):
        self.judge, self.fills_text, self.ask, self.models = judge, fills_text, ask, models
        self.references, self.litellm, self.emit = references, litellm, emit
        self.model, self.date, self.max_attempts = model, date, max_attempts
        self.inflight: dict[Future, tuple[HoleRun, int]] = {}
        self.got: dict[str, list] = {}

    def run(self, runs: list[HoleRun], concurrency: int) -> None:
        """Ask and judge until every hole of `runs` is filled or failed."""
        self.pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="envc-fill")
        try:
            for run in runs:
                self.emit("start", run)
                self.submit(run)
            while self.inflight:
                done, _ = wait(list(self.inflight), return_when=FIRST_COMPLETED)
                for fut in done:
                    self._completed(fut)
        finally:  # on an error or Ctrl-C, queued calls are not made
            self.pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, run: HoleRun) -> None:
        """Start one attempt of `run`: one call per model."""
        self.got[run.name] = [None] * len(self.models)
        for i, who in enumerate(self.models):
            self.inflight[self.pool.submit(self.ask, run, who)] = (run, i)

    def _completed(self, fut: Future) -> None:
        """One model call came back; the attempt is judged when it was the last of it."""
        run, i = self.inflight.pop(fut)
        if run.status == "failed":
            return
        try:
            self.got[run.name][i] = fut.result()
        except Exception as e:  # the provider failed (after litellm's own retries)
            run.status, run.failure = "failed", f"model call failed: {type(e).__name__}: {e}"
            self.emit("failed", run)
            return
        if any(r is None for r in self.got[run.name]):
            return  # the other answers of this attempt are still coming
        self._judge(run, self.got.pop(run.name))

    def _answer(self, run: HoleRun, response: Any) -> str | None:
        """Add one response's tokens and cost to `run`; its text."""
        run.tokens += _tokens(response)
        cost = _cost(self.litellm, response)
        if cost is not None:
            run.cost += cost
            run.cost_known = True
        return _content(response)

    def _judge(self, run: HoleRun, responses: list) -> None:
        """Judge one attempt's answers: write the accepted fill, or ask again with the feedback
        (until `max_attempts`)."""
        run.attempts += 1
        answers = [self._answer(run, response) for response in responses]
        run.answers += answers
        self.emit("answer", run)
        verdict = _judge_answers(self.judge, run.name, answers, self.fills_text, self.references.get(run.name))
        run.verdicts.append(verdict)
        if verdict.ok:
            self.fills_text = _accept(self.judge, run, verdict, self.model, self.date, self.fills_text)
            self.emit(run.status, run)
            return
        run.failure = f"{verdict.stage}: {verdict.feedback}"
        if run.attempts >= self.max_attempts:
            run.status = "failed"
            self.emit("failed", run)
            return
        self.emit("rejected", run)
        run.messages.append({"role": "assistant", "content": verdict.answer or answers[0] or "(empty answer)"})
        run.messages.append(repair_message(run.name, run.attempts, self.max_attempts, verdict.stage, verdict.feedback))
        self.submit(run)


def _judge_answers(judge: Judge, hole: str, answers: list[str | None], fills_text: str | None,
                   reference: str | None) -> Verdict:
    """The verdict on one attempt's answers (several with `--samples` or `--second-model`).

    Each answer is judged on its own; the first accepted one is the candidate, and every other
    accepted answer, and the fill already in the file (`reference`, with `--force`), must
    behave exactly like it on the same states, arguments and random words (differential
    acceptance: the first difference rejects, naming the state and the field). Answers that
    fail their own checks are not fills of the text and are not compared. Without an accepted
    answer, the verdict is the first answer's."""
    verdicts = [judge.judge(hole, a, fills_text) for a in answers]
    for v, a in zip(verdicts, answers):
        v.answer = a
    accepted = [v for v in verdicts if v.ok]
    if not accepted:
        return verdicts[0]
    first = accepted[0]
    others = [v.body for v in accepted[1:] if (v.body or "").strip() != (first.body or "").strip()]
    if reference is not None:
        others.append(reference)
    for other in others:
        v = judge.differential(hole, first, other or "", fills_text)
        if not v.ok:
            v.answer = first.answer
            return v
    return first


def _accept(judge: Judge, run: HoleRun, verdict: Verdict, model: str, date: str, judged: str | None) -> str | None:
    """Write the accepted fill into the fill file (re-read now: edits since are kept);
    returns the file's new text. The written file is checked before it replaces the old.
    `judged`: the file's text the fill was judged with."""
    current = _read(judge.fill_path)
    base = judge.load(current)
    attrs = {"hash": base.hole(run.name).signature_hash, "provenance": "model", "model": model,
             "attempts": run.attempts, "tokens": run.tokens, "cost": run.cost if run.cost_known else None,
             "date": date}
    placed = judge.place(base, current, run.name, judge.item(base, run.name, attrs, verdict.body or ""))
    status: str
    try:
        status = judge.load(placed.text).hole(run.name).status
    except DiagnosticError as e:  # pragma: no cover - the same text was judged a moment ago
        status = f"rejected ({e.diagnostics[0].message})"
    if status != "filled":  # pragma: no cover
        run.status, run.failure = "failed", f"the written fill file would not check: {status}"
        return current
    write_atomic(judge.fill_path, placed.text)
    run.status, run.failure = "filled", None
    if current == judged:
        judge.carry_starts(judged, placed.text, run.name)
    return placed.text
