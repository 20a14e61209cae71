"""The `envc fill` and `envc holes` commands (registered on envc's typer app by `register`).

Public surface: `register(app)`, `fill`, `holes`, `stale_warnings(module)`.

Imports here stay light (typer, rich): litellm and hypothesis load only when a command
runs, so that `envc --help` and the other commands do not pay for them.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from envc.compiler.diagnostics import Diagnostic, DiagnosticError, render, render_all, visible

SpecArg = Annotated[str, typer.Argument(help="path of a `.envspec` file, e.g. `specs/tcg.envspec`", show_default=False)]


def _out() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:  # a file or a pipe: no need to fold at 80
        console = Console(highlight=False, width=120)
    return console


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _fail(diags: list[Diagnostic]) -> NoReturn:
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
    """List every hole of a spec: status (filled, unfilled, stale), contract, provenance and counts.

    The contract column says what the spec's `texts of ...` rules give the text: `exact` (a
    `text` rule matches the whole text, or its fill has its own `ensures`), `rules` (only
    `mentions` rules: draws, frame, scenarios) or `-` (none: only the printed numbers are
    checked).

    A hole is *stale* when its signature, prose or `ensures` changed after its fill was
    written (the fill's `hash` no longer matches); `envc fill` fills unfilled and stale holes.
    A hole family (`hole attack_effect(p: int[0..1]) per Card.effect0, Card.effect1`) has one
    member per distinct card text (`attack_effect__7`), listed with its text; the counts
    then include the cards whose every text is filled (fully playable).

    Example: `envc holes specs/tcg.envspec`
    """
    from envc.llm_fill.spec import contract_kind, load_lenient

    try:
        loaded = load_lenient(spec)
    except DiagnosticError as e:
        _fail(e.diagnostics)
    m = loaded.module
    families = bool(m.families)
    contracts = any(contract_kind(h) != "-" for h in m.holes)  # the spec has text rules (`texts of ...`)
    headers = ["hole", "kind", "status", "contract", "source", "attempts", "tokens", "cost ($)", "date"]
    rows = [row if contracts else row[:3] + row[4:] for row in map(_hole_row, m.holes)]
    if not contracts:
        headers.remove("contract")
    out = _out()
    if families and not out.is_terminal and "COLUMNS" not in os.environ:  # a file or a pipe: room for the texts
        out = Console(highlight=False, width=160)
    if families:  # members are all procedures; their text takes the room that is left
        headers, rows = _with_texts(out, headers, rows, m.holes)
    out.print(_holes_table(m, headers, rows, families))
    _print_hole_counts(out, m, contracts)
    if any(h.status in ("stale", "unfilled") for h in m.holes):
        hint = " --only HOLE" if families else ""
        out.print(f"fill them with `envc fill {spec} --model MODEL{hint}`")


def _hole_row(h) -> list[str]:
    """One row of `envc holes`: name, kind, status, contract and the provenance's accounting."""
    from envc.llm_fill.spec import contract_kind, hole_kind

    p = h.provenance
    contract = contract_kind(h)
    if p is None:
        return [h.name, hole_kind(h), h.status, contract, "-", "-", "-", "-", "-"]
    if p.source == "model" or p.model:
        return [h.name, hole_kind(h), h.status, contract, f"{p.source}: {p.model or '?'}", str(p.attempts),
                str(p.tokens), f"{p.cost:.4f}", p.date or "-"]
    return [h.name, hole_kind(h), h.status, contract, p.source, "-", "-", "-", p.date or "-"]


def _with_texts(out: Console, headers: list[str], rows: list[list[str]], hole_list) -> tuple[list[str], list[list[str]]]:
    """The columns of a spec with hole families: no `kind`, then each hole's text in the room left
    (the accounting columns dropped first on a narrow terminal)."""
    from envc.llm_fill.spec import short_text

    keep = [i for i, c in enumerate(headers) if c != "kind"]

    def room_for(cols: list[int]) -> int:
        return out.width - sum(max(len(headers[i]), *(len(r[i]) for r in rows)) for i in cols) - 3 * len(cols) - 4

    if room_for(keep) < 30:  # a narrow terminal: the accounting columns go first
        keep = [i for i in keep if headers[i] not in ("attempts", "tokens", "cost ($)", "date")]
    room = max(24, room_for(keep))
    return ([headers[i] for i in keep] + ["text"],
            [[r[i] for i in keep] + [short_text(h.prose, room)] for r, h in zip(rows, hole_list)])


def _holes_table(m, headers: list[str], rows: list[list[str]], families: bool) -> Table:
    """The table of `envc holes`, the status coloured."""
    colors = {"filled": "green", "stale": "yellow", "unfilled": "red"}
    table = Table(title=f"{m.name}: {len(m.holes)} hole{'s' if len(m.holes) != 1 else ''}")
    for col in headers:
        numeric = col in ("attempts", "tokens", "cost ($)")
        table.add_column(col, justify="right" if numeric else "left", min_width=len(col) if numeric else None,
                         no_wrap=col != "source" or families, overflow="fold" if col == "source" else "ellipsis")
    status_col = headers.index("status")
    for r in rows:
        cells = [escape(visible(c, one_line=True)) for c in r]  # (names and texts come from data and fills)
        cells[status_col] = f"[{colors[r[status_col]]}]{r[status_col]}[/]"
        table.add_row(*cells)
    return table


def _print_hole_counts(out: Console, m, contracts: bool) -> None:
    """The counts under the table of `envc holes`: by status, exact contracts, each family, playable cards."""
    from envc.llm_fill.spec import contract_kind, playable_cards

    counts = {s: sum(1 for h in m.holes if h.status == s) for s in ("filled", "stale", "unfilled")}
    out.print(f"{len(m.holes)} holes: {counts['filled']} filled, {counts['stale']} stale, "
              f"{counts['unfilled']} unfilled")
    exact = sum(1 for h in m.holes if contract_kind(h) == "exact")
    if contracts:
        out.print(f"texts with an exact contract (a `text` rule, or the fill's own `ensures`): {exact}/{len(m.holes)};"
                  f" filled ones: {sum(1 for h in m.holes if contract_kind(h) == 'exact' and h.status == 'filled')}"
                  f"/{counts['filled']}")
    for fam in m.families:
        members = [h for h in m.holes if h.family == fam.name]
        done = sum(1 for h in members if h.status == "filled")
        out.print(f"family {fam.name} (per {', '.join(f'{fam.table}.{c}' for c in fam.columns)}): "
                  f"{done}/{len(members)} texts filled" + (
                      f", {sum(1 for h in members if contract_kind(h) == 'exact')}/{len(members)} with an exact "
                      "contract" if contracts else ""))
    for pc in playable_cards(m):
        what = "cards" if pc.table == "Card" else f"`{pc.table}` rows"
        out.print(f"{what} fully playable (every text filled): {pc.playable}/{pc.rows}; "
                  f"of the {pc.needed} the data uses: {pc.needed_playable}/{pc.needed}")
        if pc.labels:
            out.print("  not playable: " + escape(", ".join(visible(x, one_line=True) for x in pc.labels[:12])) +
                      (f", ... ({len(pc.labels) - 12} more)" if len(pc.labels) > 12 else ""))


def fill(
    spec: SpecArg,
    model: Annotated[Optional[str], typer.Option(help="any litellm model string, e.g. `openai/gpt-4o` or "
                                                 "`anthropic/claude-sonnet-4-5`", show_default=False)] = None,
    only: Annotated[Optional[list[str]], typer.Option(
        "--only", help="fill only this hole (repeatable, or `a,b`): a hole, a family member (`attack_effect__7`), "
        "a family (all its texts) or the start of a card text", show_default=False)] = None,
    max_attempts: Annotated[int, typer.Option(min=1, help="answers per hole before it is reported unfilled")] = 4,
    concurrency: Annotated[int, typer.Option(min=1, help="model calls in flight at once")] = 4,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the prompts and call no model")] = False,
    api_base: Annotated[Optional[str], typer.Option(help="the provider's base URL, e.g. a local OpenAI-compatible "
                                                    "server with `--model openai/NAME` (a placeholder key is sent "
                                                    "when the provider's key variable is not set)",
                                                    show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="refill holes whose fill is fresh too")] = False,
    max_examples: Annotated[int, typer.Option(min=1, help="generated property-test examples per candidate")] = 200,
    transcript: Annotated[Optional[str], typer.Option(help="write every prompt, answer and verdict to this JSON file",
                                                      show_default=False)] = None,
    samples: Annotated[int, typer.Option(min=1, help="answers asked of the model per attempt; accepted answers that "
                                         "behave differently on the same state reject the attempt")] = 1,
    second_model: Annotated[Optional[str], typer.Option(help="also ask this model each time; its accepted answer "
                                                        "must behave exactly like the first model's",
                                                        show_default=False)] = None,
    differential: Annotated[bool, typer.Option(help="with --force, an answer must behave exactly like the fresh "
                                               "fill it replaces (a hand fill)")] = True,
):
    """Fill the holes of a spec with a language model, in the DSL, checked before acceptance.

    For each unfilled or stale hole (or those named by `--only`: hole names, family members
    such as `attack_effect__7` as `envc holes` lists them, a family name for all its texts,
    or the start of a card text) the model gets a prompt: a reference card of the language, the spec's types, state, procedures, invariants, a
    few accepted fills, and the hole's signature, prose and `ensures`, with how it will be
    judged. Its answer is parsed, type-checked with the spec and judged by checks that do not
    come from the model: generated property tests in the card's own context (the `ensures`,
    the text's own contract from the spec's `texts of ...` rules, its frame and number of
    random draws, the invariants, declared ranges, determinism), the text's scenarios, and
    whether every number printed in the text is used. With `--samples N` or `--second-model`
    several answers are judged and accepted ones must behave alike; with `--force`, like the
    fill they replace. A failure goes back to the model, up to `--max-attempts` times.
    Accepted fills are written to the fill file beside the spec with their provenance
    (model, attempts, tokens, cost, date, hash). Holes already filled and fresh are skipped.
    Model calls go through litellm: set the provider's key as usual (e.g. `OPENAI_API_KEY`);
    a local server given by `--api-base` needs none.

    Example: `envc fill specs/tcg.envspec --model openai/gpt-4o --concurrency 8`
    """
    from envc.llm_fill.spec import contract_kind, load_lenient

    only = _only_values(only)
    if dry_run:
        _dry_run(spec, only, force, max_examples)
        return
    if not model:
        _fail([Diagnostic("E0180", "`envc fill` needs `--model MODEL`", None,
                          help="any litellm model string, e.g. `--model openai/gpt-4o`; or use `--dry-run`")])
    from envc.llm_fill.driver import fill_spec, select_holes

    try:
        loaded = load_lenient(spec)
        todo, _ = select_holes(loaded, only, force)
    except DiagnosticError as e:
        _fail(e.diagnostics)
    # texts judged without an exact contract, where one answer alone is checked the least
    weak = set() if samples > 1 or second_model else {n for n in todo if contract_kind(loaded.hole(n)) != "exact"}
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
                               api_base=api_base, force=force, max_examples=max_examples, on_event=on_event,
                               samples=samples, second_model=second_model, differential=differential)
        except DiagnosticError as e:
            progress.stop()
            _fail(e.diagnostics)
    if transcript:
        _write_transcript(transcript, spec, model, report)
    _report(spec, report, weak)


def _only_values(only: list[str] | None) -> list[str] | None:
    """`--only a,b --only c` -> [a, b, c]; a value that is not a list of names (the start of
    a card text, which may hold commas) is kept whole."""
    out = []
    for o in only or []:
        parts = o.split(",")
        if all(re.fullmatch(r"\s*[A-Za-z_]\w*\s*", p) or not p.strip() for p in parts):
            out += [p.strip() for p in parts if p.strip()]
        elif o.strip():
            out.append(o.strip())
    return out or None


def _dry_run(spec: str, only, force: bool, max_examples: int = 200) -> None:
    from envc.llm_fill.driver import select_holes
    from envc.llm_fill.prompts import fill_messages
    from envc.llm_fill.spec import hole_label, load_lenient

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
        h = loaded.hole(name)
        what = f"`{name}`" if h.family is None else f"`{name}` ({hole_label(h)})"
        for msg in fill_messages(loaded, name, test_states=max_examples):
            typer.echo(f"===== hole {what}: {msg['role']} message =====")
            typer.echo(msg["content"])


def _write_transcript(path: str, spec: str, model: str, report) -> None:
    data = {"spec": spec, "model": model, "holes": [
        {"hole": r.name, "text": r.text or None, "status": r.status, "attempts": r.attempts, "tokens": r.tokens,
         "cost": r.cost if r.cost_known else None, "messages": r.messages,
         "answers": r.answers, "verdicts": [{"stage": v.stage, "feedback": v.feedback} for v in r.verdicts]}
        for r in report.runs]}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)


def _warnings(err: Console, report, weak: set[str]) -> None:
    """The warnings about filled holes: texts of `weak` (no exact contract, accepted on one
    answer), and cases of a contract that no judged state reached (`Verdict.untested`,
    llm_fill/coverage.py: the spec's context cannot reach them)."""
    loose = [r.name for r in report.runs if r.status == "filled" and r.name in weak]
    if loose:
        err.print(f"warning: {len(loose)} filled text(s) have no exact contract ({escape(', '.join(loose[:6]))}"
                  f"{', ...' if len(loose) > 6 else ''}): one answer was checked against their frame, draws and "
                  "printed numbers only; `--samples 2` or `--second-model MODEL` makes two answers agree, and a "
                  "`text` rule in `texts of` gives an exact contract (`envc holes` lists them)")
    for r in report.runs:
        untested = (r.verdicts[-1].untested or []) if r.status == "filled" and r.verdicts else []
        for note in untested:
            err.print(f"warning: `{escape(r.name)}`: {escape(visible(note, one_line=True))}")


def _report(spec: str, report, weak: set[str] | None = None) -> None:
    """The table of `envc fill`, the totals, each unfilled hole's last failure, and a warning
    for the holes of `weak` that were filled: texts without an exact contract, accepted on one
    answer (their frame, draws, printed numbers and the family's `ensures` were checked; a
    second answer compared with the first catches most wrong fills there: in a hunt over 59 wrong
    fills of texts with rules only, 25 of the 26 that one answer let through). Exits 1 when a
    hole stayed unfilled."""
    out, err = _out(), _err()
    for name, why in report.skipped:
        err.print(f"skipped `{escape(name)}`: {why}")
    if not report.runs:
        out.print("nothing to fill: every hole has a fresh fill (use --force to refill)")
        return
    from envc.llm_fill.spec import short_text

    table = Table(title=f"envc fill {escape(spec)}")
    texts = any(r.text for r in report.runs)
    for col in ("hole", "result", "attempts", "tokens", "cost ($)", "last failure") + (("text",) if texts else ()):
        table.add_column(col, justify="right" if col in ("attempts", "tokens", "cost ($)") else "left",
                         overflow="ellipsis" if col == "text" else "fold", no_wrap=col in ("hole", "text"))
    for r in report.runs:
        result = "[green]filled[/]" if r.status == "filled" else "[red]failed[/]"
        last = ""
        if r.status != "filled":
            last = "model call" if (r.failure or "").startswith("model call") else r.verdicts[-1].stage
        row = [r.name, result, str(r.attempts), str(r.tokens), f"{r.cost:.6f}" if r.cost_known else "n/a", escape(last)]
        table.add_row(*row, *([escape(short_text(r.text, 60))] if texts else []))
    out.print(table)
    filled = sum(1 for r in report.runs if r.status == "filled")
    failed = len(report.runs) - filled
    known = any(r.cost_known for r in report.runs)
    out.print(f"total: {filled} filled, {failed} failed, {sum(r.attempts for r in report.runs)} attempts, "
              f"{report.tokens} tokens, cost " + (f"${report.cost:.6f}" if known else "n/a (no price known)"))
    _warnings(err, report, weak or set())
    for r in report.runs:
        if r.status == "filled":
            continue
        what = f"`{r.name}` (\"{short_text(r.text, 60)}\")" if r.text else f"`{r.name}`"
        sys.stderr.write(f"\nhole {what} is unfilled after {r.attempts} attempt{'s' if r.attempts != 1 else ''}; "
                         f"last failure: {r.failure}\n")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `envc fill` and `envc holes` to envc's command line."""
    app.command("fill")(fill)
    app.command("holes")(holes)
