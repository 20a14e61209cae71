"""The `envc fill` and `envc holes` commands (registered on envc's typer app by `register`).

Public surface: `register(app)`, `fill`, `holes`, `stale_warnings(module)`.

Imports here stay light (typer, rich): litellm and hypothesis load only when a command
runs, so that `envc --help` and the other commands do not pay for them.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from envc.compiler.diagnostics import Diagnostic, DiagnosticError, render, render_all

SpecArg = Annotated[str, typer.Argument(help="path of a `.envspec` file, e.g. `specs/tcg.envspec`", show_default=False)]


def _out() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:  # a file or a pipe: no need to fold at 80
        console = Console(highlight=False, width=120)
    return console


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _fail(diags: list[Diagnostic]) -> None:
    sys.stderr.write(render_all(diags))
    raise typer.Exit(1)


def stale_warnings(module) -> list[Diagnostic]:
    """Warnings for the stale fills of a checked module (see `spec.hole_warnings`)."""
    from envc.llm_fill.spec import hole_warnings

    return hole_warnings(module)


def print_stale_warnings(module) -> None:
    """Print `stale_warnings` on stderr (used by `envc check`)."""
    for w in stale_warnings(module):
        sys.stderr.write(render(w) + "\n")


def holes(spec: SpecArg):
    """List every hole of a spec: status (filled, unfilled, stale), provenance and counts.

    A hole is *stale* when its signature, prose or `ensures` changed after its fill was
    written (the fill's `hash` no longer matches); `envc fill` fills unfilled and stale holes.

    Example: `envc holes specs/tcg.envspec`
    """
    from envc.llm_fill.spec import hole_kind, load_lenient

    try:
        loaded = load_lenient(spec)
    except DiagnosticError as e:
        _fail(e.diagnostics)
    m = loaded.module
    table = Table(title=f"{m.name}: {len(m.holes)} hole{'s' if len(m.holes) != 1 else ''}")
    table.add_column("hole", no_wrap=True)
    table.add_column("kind")
    table.add_column("status", no_wrap=True)
    table.add_column("source", overflow="fold")
    for col in ("attempts", "tokens", "cost ($)"):
        table.add_column(col, justify="right", min_width=len(col))
    table.add_column("date", no_wrap=True)
    colors = {"filled": "green", "stale": "yellow", "unfilled": "red"}
    for h in m.holes:
        p = h.provenance
        status = f"[{colors[h.status]}]{h.status}[/]"
        if p is None:
            table.add_row(h.name, hole_kind(h), status, "-", "-", "-", "-", "-")
        elif p.source == "model" or p.model:
            table.add_row(h.name, hole_kind(h), status, escape(f"{p.source}: {p.model or '?'}"), str(p.attempts),
                          str(p.tokens), f"{p.cost:.4f}", escape(p.date or "-"))
        else:
            table.add_row(h.name, hole_kind(h), status, escape(p.source), "-", "-", "-", escape(p.date or "-"))
    out = _out()
    out.print(table)
    counts = {s: sum(1 for h in m.holes if h.status == s) for s in ("filled", "stale", "unfilled")}
    out.print(f"{len(m.holes)} holes: {counts['filled']} filled, {counts['stale']} stale, "
              f"{counts['unfilled']} unfilled")
    if counts["stale"] or counts["unfilled"]:
        out.print(f"fill them with `envc fill {spec} --model MODEL`")


def fill(
    spec: SpecArg,
    model: Annotated[Optional[str], typer.Option(help="any litellm model string, e.g. `openai/gpt-4o` or "
                                                 "`anthropic/claude-sonnet-4-5`", show_default=False)] = None,
    only: Annotated[Optional[list[str]], typer.Option("--only", help="fill only this hole (repeatable, or `a,b`)",
                                                      show_default=False)] = None,
    max_attempts: Annotated[int, typer.Option(min=1, help="answers per hole before it is reported unfilled")] = 4,
    concurrency: Annotated[int, typer.Option(min=1, help="model calls in flight at once")] = 4,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the prompts and call no model")] = False,
    api_base: Annotated[Optional[str], typer.Option(help="the provider's base URL (e.g. a local server)",
                                                    show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="refill holes whose fill is fresh too")] = False,
    max_examples: Annotated[int, typer.Option(min=1, help="generated property-test examples per candidate")] = 200,
    transcript: Annotated[Optional[str], typer.Option(help="write every prompt, answer and verdict to this JSON file",
                                                      show_default=False)] = None,
):
    """Fill the holes of a spec with a language model, in the DSL, checked before acceptance.

    For each unfilled or stale hole (or those named by `--only`) the model gets a prompt:
    a reference card of the language, the spec's types, state, procedures, invariants, a
    few accepted fills, and the hole's signature, prose and `ensures`. Its answer is parsed,
    type-checked with the spec and judged by generated property tests (the `ensures`, the
    invariants, declared ranges, determinism); a failure goes back to the model, up to
    `--max-attempts` answers. Accepted fills are written to the fill file beside the spec
    with their provenance (model, attempts, tokens, cost, date, hash). Holes already filled
    and fresh are skipped. Model calls go through litellm: set the provider's key as usual
    (e.g. `OPENAI_API_KEY`).

    Example: `envc fill specs/tcg.envspec --model openai/gpt-4o --concurrency 8`
    """
    from envc.llm_fill.spec import load_lenient

    only = [name.strip() for o in only or [] for name in o.split(",") if name.strip()] or None
    if dry_run:
        _dry_run(spec, only, force)
        return
    if not model:
        _fail([Diagnostic("E0180", "`envc fill` needs `--model MODEL`", None,
                          help="any litellm model string, e.g. `--model openai/gpt-4o`; or use `--dry-run`")])
    from envc.llm_fill.driver import fill_spec, select_holes

    try:
        todo, _ = select_holes(load_lenient(spec), only, force)
    except DiagnosticError as e:
        _fail(e.diagnostics)
    err = _err()
    progress = Progress(TextColumn("[bold]filling holes"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=err, transient=True,
                        disable=not err.is_terminal)

    def on_event(kind: str, run) -> None:
        text = {"start": "asking", "answer": f"judging answer {run.attempts}",
                "rejected": f"answer {run.attempts} rejected, repairing", "filled": "filled",
                "failed": "unfilled"}[kind]
        progress.update(task, status=escape(f"{run.name}: {text}"))
        if kind in ("filled", "failed"):
            progress.advance(task)

    with progress:
        task = progress.add_task("holes", total=len(todo), status="")
        try:
            report = fill_spec(spec, model, only=only, max_attempts=max_attempts, concurrency=concurrency,
                               api_base=api_base, force=force, max_examples=max_examples, on_event=on_event)
        except DiagnosticError as e:
            progress.stop()
            _fail(e.diagnostics)
    if transcript:
        _write_transcript(transcript, spec, model, report)
    _report(spec, report)


def _dry_run(spec: str, only, force: bool) -> None:
    from envc.llm_fill.driver import select_holes
    from envc.llm_fill.prompts import fill_messages
    from envc.llm_fill.spec import load_lenient

    try:
        loaded = load_lenient(spec)
        todo, skipped = select_holes(loaded, only, force)
    except DiagnosticError as e:
        _fail(e.diagnostics)
    for name, why in skipped:
        typer.echo(f"skipping `{name}`: {why}", err=True)
    if not todo:
        typer.echo("nothing to fill: every hole has a fresh fill (use --force to refill)")
    for name in todo:
        for msg in fill_messages(loaded, name):
            typer.echo(f"===== hole `{name}`: {msg['role']} message =====")
            typer.echo(msg["content"])


def _write_transcript(path: str, spec: str, model: str, report) -> None:
    data = {"spec": spec, "model": model, "holes": [
        {"hole": r.name, "status": r.status, "attempts": r.attempts, "tokens": r.tokens,
         "cost": r.cost if r.cost_known else None, "messages": r.messages,
         "answers": r.answers, "verdicts": [{"stage": v.stage, "feedback": v.feedback} for v in r.verdicts]}
        for r in report.runs]}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)


def _report(spec: str, report) -> None:
    out, err = _out(), _err()
    for name, why in report.skipped:
        err.print(f"skipped `{escape(name)}`: {why}")
    if not report.runs:
        out.print("nothing to fill: every hole has a fresh fill (use --force to refill)")
        return
    table = Table(title=f"envc fill {escape(spec)}")
    for col in ("hole", "result", "attempts", "tokens", "cost ($)", "last failure"):
        table.add_column(col, justify="right" if col in ("attempts", "tokens", "cost ($)") else "left",
                         overflow="fold")
    for r in report.runs:
        result = "[green]filled[/]" if r.status == "filled" else "[red]failed[/]"
        last = ""
        if r.status != "filled":
            last = "model call" if (r.failure or "").startswith("model call") else r.verdicts[-1].stage
        table.add_row(r.name, result, str(r.attempts), str(r.tokens), f"{r.cost:.6f}" if r.cost_known else "n/a",
                      escape(last))
    out.print(table)
    filled = sum(1 for r in report.runs if r.status == "filled")
    failed = len(report.runs) - filled
    known = any(r.cost_known for r in report.runs)
    out.print(f"total: {filled} filled, {failed} failed, {sum(r.attempts for r in report.runs)} attempts, "
              f"{report.tokens} tokens, cost " + (f"${report.cost:.6f}" if known else "n/a (no price known)"))
    for r in report.runs:
        if r.status == "filled":
            continue
        sys.stderr.write(f"\nhole `{r.name}` is unfilled after {r.attempts} attempt{'s' if r.attempts != 1 else ''}; "
                         f"last failure: {r.failure}\n")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `envc fill` and `envc holes` to envc's command line."""
    app.command("fill")(fill)
    app.command("holes")(holes)
