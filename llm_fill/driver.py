"""The repair loop of `envc fill`: ask a model through litellm, judge, repair, write.

Public surface: `fill_spec(spec_path, model, ...) -> FillReport`, `select_holes(...)`,
`HoleRun`, `FillReport`.

For every selected hole (unfilled or stale, in declaration order; `force` adds fresh ones)
the model gets the fill prompt; its answer is judged (`judge.Judge`); a rejected answer
goes back with a repair prompt holding the reason (a rendered diagnostic or a shrunk
falsifying example), up to `max_attempts` answers. An accepted fill is written at once
into the fill file with its provenance (model, attempts, tokens and cost as litellm
accounts them, date, the hole's hash), rewriting only its own item. Model calls run in
`concurrency` threads (`litellm.completion`); judging and writing happen on the calling
thread, one at a time, so each candidate is checked against the file as it then is.
"""

from __future__ import annotations

import datetime
import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable

from envc.compiler.diagnostics import Diagnostic, DiagnosticError, did_you_mean
from envc.llm_fill.fillfile import item_text, upsert, write_atomic
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


def select_holes(loaded: Loaded, only: list[str] | None, force: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """(holes to fill in declaration order, [(hole, why skipped)]).

    Raises:
        DiagnosticError: `only` names a hole the spec does not declare.
    """
    names = [h.name for h in loaded.module.holes]
    wanted = list(dict.fromkeys(only)) if only else names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise DiagnosticError([Diagnostic("E0100", f"the spec declares no hole `{unknown[0]}`", None,
                                          help=did_you_mean(unknown[0], names) or
                                          f"its holes are {', '.join(names) or 'none'}")])
    todo, skipped = [], []
    for h in loaded.module.holes:
        if h.name not in wanted:
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


def _content(response: Any) -> str | None:
    try:
        return response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


def fill_spec(spec_path: str, model: str, *, only: list[str] | None = None, max_attempts: int = 4,
              concurrency: int = 4, api_base: str | None = None, force: bool = False, max_examples: int = 200,
              timeout: float = 300.0, on_event: Callable[[str, HoleRun], None] | None = None,
              completion: Callable[..., Any] | None = None, today: str | None = None) -> FillReport:
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

    Raises:
        DiagnosticError: the spec or its fill file has errors other than unfilled holes.
    """
    judge = Judge(spec_path, max_examples=max_examples)
    fills_text = _read(judge.fill_path)
    loaded = judge.load(fills_text)
    todo, skipped = select_holes(loaded, only, force)
    runs = [HoleRun(name, fill_messages(loaded, name)) for name in todo]
    if not runs:
        return FillReport([], skipped)
    litellm = _import_litellm()
    call = completion or litellm.completion
    extra: dict[str, Any] = {"timeout": timeout}
    if api_base:
        extra["api_base"] = api_base
    date = today or datetime.date.today().isoformat()
    emit = on_event or (lambda kind, run: None)

    def ask(run: HoleRun):
        return call(model=model, messages=list(run.messages), **extra)

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="envc-fill")
    try:
        inflight: dict[Future, HoleRun] = {}
        for run in runs:
            emit("start", run)
            inflight[pool.submit(ask, run)] = run
        while inflight:
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            for fut in done:
                run = inflight.pop(fut)
                try:
                    response = fut.result()
                except Exception as e:  # the provider failed (after litellm's own retries)
                    run.status, run.failure = "failed", f"model call failed: {type(e).__name__}: {e}"
                    emit("failed", run)
                    continue
                run.attempts += 1
                run.tokens += _tokens(response)
                cost = _cost(litellm, response)
                if cost is not None:
                    run.cost += cost
                    run.cost_known = True
                answer = _content(response)
                run.answers.append(answer)
                emit("answer", run)
                verdict = judge.judge(run.name, answer, fills_text)
                run.verdicts.append(verdict)
                if verdict.ok:
                    fills_text = _accept(judge, run, verdict, model, date)
                    emit(run.status, run)
                    continue
                run.failure = f"{verdict.stage}: {verdict.feedback}"
                if run.attempts >= max_attempts:
                    run.status = "failed"
                    emit("failed", run)
                    continue
                emit("rejected", run)
                run.messages.append({"role": "assistant", "content": answer or "(empty answer)"})
                run.messages.append(repair_message(run.name, run.attempts, max_attempts, verdict.stage,
                                                   verdict.feedback))
                inflight[pool.submit(ask, run)] = run
    finally:  # on an error or Ctrl-C, queued calls are not made
        pool.shutdown(wait=False, cancel_futures=True)
    return FillReport(runs, skipped)


def _accept(judge: Judge, run: HoleRun, verdict: Verdict, model: str, date: str) -> str | None:
    """Write the accepted fill into the fill file (re-read now: edits since are kept);
    returns the file's new text. The written file is checked before it replaces the old."""
    current = _read(judge.fill_path)
    base = judge.load(current)
    attrs = {"hash": base.hole(run.name).signature_hash, "provenance": "model", "model": model,
             "attempts": run.attempts, "tokens": run.tokens, "cost": run.cost if run.cost_known else None,
             "date": date}
    placed = upsert(current, judge.fill_path, run.name, item_text(run.name, attrs, verdict.body or ""), judge.order())
    try:
        status = judge.load(placed.text).hole(run.name).status
    except DiagnosticError as e:  # pragma: no cover - the same text was judged a moment ago
        status = f"rejected ({e.diagnostics[0].message})"
    if status != "filled":  # pragma: no cover
        run.status, run.failure = "failed", f"the written fill file would not check: {status}"
        return current
    write_atomic(judge.fill_path, placed.text)
    run.status, run.failure = "filled", None
    return placed.text
