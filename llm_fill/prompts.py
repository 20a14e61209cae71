"""The prompts of `envc fill`: jinja2 templates under `llm_fill/templates/`.

Public surface: `fill_messages(loaded, hole, max_examples=3, test_states=200) -> list[dict]`,
`repair_message(hole, attempt, max_attempts, verdict) -> dict`, `REASONS`.

The system message is the role, the rules of the answer and a compact reference card of
the language (`templates/reference.md`). The task (`templates/fill.md.j2`) shows the spec's
types, constants and state, the signatures (and short bodies) of its `fn`s and `proc`s
(its standard library of effect verbs), its invariants, a few accepted fills of other
holes, and the hole: signature, prose, `ensures`, the actions that run it, the data records of the
cards that carry its text, the symbols of the texts and the conventions of its context, and
how the answer will be judged (its exact contract, frame, draws, the numbers it must use,
the true number of test states). For a member of a hole family the hole
is the family's declaration and the member's text, with the cards that carry the text,
and the examples are the accepted fills of the most similar texts (`difflib` over words,
the member's own family first). Every piece of the spec enters the templates as a
variable (never as template text), and the prose is marked as data.
"""

from __future__ import annotations

import difflib
import os
import textwrap
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from envc.compiler import ir
from envc.compiler.check_lang import calls_of
from envc.dsl import ast
from envc.llm_fill.fillfile import fill_bodies
from envc.llm_fill.spec import Loaded, fill_key, hole_kind

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
#: a `fn`/`proc` with at most this many lines is shown whole, a longer one by its signature
SHORT_BODY_LINES = 12

#: why a candidate was rejected, per stage (the repair prompt's first line)
REASONS = {
    "answer": "no usable envspec block was found in the answer.",
    "syntax": "it does not parse.",
    "check": "the type checker rejects it.",
    "work": "it may do too much work in one call.",
    "property": "a generated property test found a state on which it breaks a required property.",
    "scenario": "a scenario of the text (a concrete call and its expected outcome) fails.",
    "text": "it does not use a number or symbol printed in the card text.",
    "differential": "another fill of the same text behaves differently on the same state.",
}


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, trim_blocks=True,
                       lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)


def _shows_pending_choice(spec: ast.Module) -> bool:
    """Whether the spec's `observe` (or a `fn`, which `observe` may call) calls `pending_choice()`,
    read from the syntax tree (the passes lower it): without it a fill's `choose` is E0171 at the
    spec's `observe`, which no answer can fix (hunt M: the prompt taught `choose` there, and every
    faithful answer was refused)."""
    return any(calls_of(d.body, "pending_choice") for d in spec.decls if isinstance(d, (ast.ObserveDecl, ast.FnDecl)))


@lru_cache(maxsize=1)
def reference_card() -> str:
    """The language reference given to the model (`templates/reference.md`)."""
    with open(os.path.join(TEMPLATES, "reference.md"), encoding="utf-8") as fh:
        return fh.read().strip()


def _comments_above(src: str, start: int) -> str:
    """The `//` lines directly above offset `start` (the declaration's documentation)."""
    lines: list[str] = []
    pos = src.rfind("\n", 0, start) + 1
    while pos > 0:
        prev = src.rfind("\n", 0, pos - 1) + 1
        line = src[prev:pos - 1]
        if not line.strip().startswith("//"):
            break
        lines.insert(0, line.strip())
        pos = prev
    return "\n".join(lines)


def _text(src: str, d) -> str:
    doc = _comments_above(src, d.span.start)
    body = src[d.span.start:d.span.end]
    return f"{doc}\n{body}" if doc else body


def _signature(src: str, d) -> str:
    """`fn f(a: int[0..3]) -> bool`: the declaration up to its body's `{`."""
    text = src[d.span.start:d.span.end]
    return text[:text.index("{")].rstrip() if "{" in text else text


def _hole_signature(src: str, d: ast.HoleDecl) -> str:
    params = ", ".join(f"{p.name}: {src[p.type.span.start:p.type.span.end]}" for p in d.params)
    ret = f" -> {src[d.ret.span.start:d.ret.span.end]}" if d.ret is not None else ""
    return f"{d.name}({params}){ret}"


def _similar_examples(loaded: Loaded, hole: str, bodies: dict[str, str], max_examples: int) -> list[dict]:
    """Accepted fills of the family texts most like the text of member `hole` (its own
    family first), as (text, fill item) examples."""
    me = loaded.hole(hole)
    words = me.prose.casefold().split()

    def score(h) -> tuple:
        ratio = difflib.SequenceMatcher(None, words, h.prose.casefold().split()).ratio()
        return (h.family == me.family, round(ratio, 3))

    filled = [h for h in loaded.module.holes
              if h.family is not None and h.name != hole and h.status == "filled" and h.name in bodies]
    out = []
    for h in sorted(filled, key=score, reverse=True)[:max_examples]:
        body = "\n".join(f"    {line}" if line else "" for line in bodies[h.name].split("\n"))
        out.append({"name": h.name, "hole": "", "head": f"{h.family} text {_quoted(h.prose)}", "body": body})
    return out


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _cards_with(loaded: Loaded, hole: str, limit: int = 8) -> str:
    """`Exeggutor ex (effect0), ...`: the rows of the family's table that carry the text."""
    fam = loaded.family(hole)
    if fam is None:
        return ""
    table = next(t for t in loaded.module.tables if t.name == fam.table)
    cols = {c.name: c.values for c in table.columns}
    num = fam.members.index(hole) + 1
    rows = [(r, c) for r in range(table.rows) for c in fam.columns if cols[c][r] == num]
    names = [f"{table.labels[r] if table.labels else f'row {r}'} ({c})" for r, c in rows]
    more = f", and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(dict.fromkeys(names[:limit])) + more


def _actions_running(loaded: Loaded, hole: str) -> list[str]:
    """The source of the actions that run `hole` (for a family member: that run its family),
    with their comments: what happens around the fill (e.g. `attack` sets `dmg` first)."""
    m = loaded.module
    h = loaded.hole(hole)
    fam = loaded.family(hole)
    target = fam.dispatch if fam is not None else hole
    fns = {f.name: f for f in m.fns}
    memo: dict[str, bool] = {}

    def reaches(name: str, seen: frozenset = frozenset()) -> bool:
        if name == target:
            return True
        if name not in memo:
            f = fns.get(name)
            if f is None or name in seen:
                return False
            memo[name] = any(reaches(c, seen | {name}) for c in ir.called_names(f.body))
        return memo[name]

    src = loaded.spec_ast.source
    out = []
    for a in m.actions:
        if any(reaches(c) for c in ir.called_names(a.body)):
            decl = next((d for d in loaded.spec_ast.decls if isinstance(d, ast.ActionDecl) and d.name == a.name), None)
            if decl is not None:
                out.append(_text(src, decl))
    del h
    return out[:3]


def _card_data(loaded: Loaded, hole: str, limit: int = 3, width: int = 900) -> list[str]:
    """The data-file records (JSON, compact) of the first rows that carry the member's text:
    the card's type, HP, printed damage and its suffix, costs, as the data has them."""
    import json

    fam = loaded.family(hole)
    if fam is None:
        return []
    table = next(t for t in loaded.module.tables if t.name == fam.table)
    path = os.path.join(os.path.dirname(os.path.abspath(loaded.spec_path)), table.path)
    if "*" in table.path or not path.endswith(".json") or not os.path.isfile(path):
        return []
    try:
        with open(path, encoding="utf-8") as fh:
            rows = json.load(fh)
    except (OSError, ValueError):
        return []
    if not isinstance(rows, list) or len(rows) != table.rows:
        return []
    cols = {c.name: c.values for c in table.columns}
    num = fam.members.index(hole) + 1
    picked = [r for r in range(table.rows) if any(cols[c][r] == num for c in fam.columns)][:limit]
    out = []
    for r in picked:
        text = json.dumps(rows[r], ensure_ascii=False)
        out.append(text if len(text) <= width else text[:width - 1] + "…")
    return out


def _texts_blocks(loaded: Loaded, hole: str) -> tuple[list[str], str]:
    """(the `symbol` declarations of the `texts of` blocks of the hole's family or hole, the
    source of its `context` with its comments)."""
    name = loaded.hole(hole).family or hole
    src = loaded.spec_ast.source
    symbols, context = [], ""
    for d in loaded.spec_ast.decls:
        if not isinstance(d, ast.TextsDecl) or name not in {n for n, _ in d.targets}:
            continue
        symbols += [src[s.span.start:s.span.end] for s in d.symbols]
        for c in d.contexts:
            doc = _comments_above(src, c.span.start)
            body = textwrap.dedent(" " * (c.span.col - 1) + src[c.span.start:c.span.end])
            context = f"{doc}\n{body}" if doc else body
    return symbols, context


def _judged(loaded: Loaded, hole: str, test_states: int) -> dict:
    """What the judge will check of this text (`ir.Contract`), as the template shows it."""
    c = loaded.hole(hole).contract or ir.Contract()
    draws = None
    if c.draws is not None:
        lo, hi = c.draws
        draws = (f"exactly {lo}" if lo == hi else f"at least {lo}" if hi is None else f"at most {hi}" if lo == 0
                 else f"{lo} to {hi}") \
            if (lo, hi) != (0, None) else None
    frame = None if c.frame is None else [f.source + (f" for {f.var} in {f.lo}..{f.hi}" if f.var else "")
                                          for f in c.frame]
    numbers = [f"`{n}`" for n in c.numbers] + [f"`{s.symbol}`" for s in c.symbols]
    data = [f"`{d.value}` (`{d.table}.{d.column}`)" for d in c.data]
    return {"states": test_states, "exact": c.exact, "ensures": [e.source for e in c.ensures],
            "frame": frame, "draws": draws, "choosers": [r.source for r in c.choosers],
            "draw_laws": [r.source for r in c.draw_rules], "chances": [r.source for r in c.chances], "numbers": numbers, "data": data, "scenarios": len(c.scenarios),
            "context": c.context is not None}


def fill_messages(loaded: Loaded, hole: str, max_examples: int = 3, test_states: int = 200) -> list[dict]:
    """The system and user messages asking for the fill of `hole` (a hole or a family member);
    `test_states`: how many generated states the answer is judged on (`--max-examples`)."""
    spec = loaded.spec_ast
    src = spec.source
    m = loaded.module
    decls = spec.decls
    declarations = [_text(src, d) for d in decls
                    if isinstance(d, (ast.ConstDecl, ast.EnumDecl, ast.RecordDecl, ast.TableDecl, ast.StateDecl))]
    for t in m.tables:
        declarations.append(f"// table `{t.name}` has {t.rows} rows: a value of type `{t.name}` is one of them")
    ir_hole = loaded.hole(hole)
    fam = loaded.family(hole)
    pure = ir_hole.ret is not None  # a pure hole calls `fn`s only
    library = []
    for d in decls:
        if not isinstance(d, (ast.FnDecl, ast.ProcDecl)) or (pure and isinstance(d, ast.ProcDecl)):
            continue
        whole = src[d.span.start:d.span.end]
        if whole.count("\n") + 1 <= SHORT_BODY_LINES:
            library.append(_text(src, d))
        else:
            doc = _comments_above(src, d.span.start)
            library.append((doc + "\n" if doc else "") + _signature(src, d) + " { ... }")
    invariants = [_text(src, d) for d in decls if isinstance(d, ast.InvariantDecl)]
    holes = [d for d in decls if isinstance(d, ast.HoleDecl)]
    status = {h.name: h.status for h in m.holes}
    bodies = fill_bodies(loaded.fills_text, loaded.fill_path, key=fill_key(m)) if loaded.fills_text else {}
    if fam is not None:
        examples = _similar_examples(loaded, hole, bodies, max_examples)
    else:
        examples = []
        for d in holes:
            if (d.per is None and d.name != hole and status.get(d.name) == "filled" and d.name in bodies
                    and len(examples) < max_examples):
                body = "\n".join(f"    {line}" if line else "" for line in bodies[d.name].split("\n"))
                examples.append({"name": d.name, "hole": _text(src, d), "head": d.name, "body": body})
    others = [{"signature": _hole_signature(src, d), "status": status.get(d.name, "unfilled")}
              for d in holes if d.name != hole and d.per is None]
    me = loaded.hole_decl(hole)
    info = {
        "name": hole,
        "declaration": _text(src, me),
        "prose": ir_hole.prose.replace("\n", "\n> "),
        "kind": hole_kind(ir_hole),
        "ret": str(ir_hole.ret) if ir_hole.ret is not None else "",
        "params": [{"name": p.name, "type": str(p.type)} for p in ir_hole.params],
        "ensures": [src[e.span.start:e.span.end] for e in me.ensures],
        # a stale fill: the body written for the hole's previous text, a starting point
        "previous": bodies.get(hole, "") if ir_hole.status == "stale" else "",
        "family": fam.name if fam is not None else "",
        "columns": ", ".join(f"`{fam.table}.{c}`" for c in fam.columns) if fam is not None else "",
        "texts": len(fam.texts) if fam is not None else 0,
        "cards": _cards_with(loaded, hole),
        "head": f"{fam.name} text {_quoted(ir_hole.prose)}" if fam is not None else hole,
        "actions": _actions_running(loaded, hole),
        "card_data": _card_data(loaded, hole),
    }
    symbols, context = _texts_blocks(loaded, hole)
    info["symbols"] = symbols
    info["context"] = context
    info["judged"] = _judged(loaded, hole, test_states)
    info["no_decisions"] = not _shows_pending_choice(loaded.spec_ast)
    env = _env()
    system = env.get_template("system.md.j2").render(reference=reference_card(), test_states=test_states)
    user = env.get_template("fill.md.j2").render(
        spec={"name": m.name, "doc": m.doc or "", "players": m.num_players},
        declarations="\n\n".join(declarations), library="\n\n".join(library),
        invariants="\n".join(invariants), examples=examples, others=others, hole=info)
    return [{"role": "system", "content": system.strip() + "\n"}, {"role": "user", "content": user.strip() + "\n"}]


def repair_message(hole: str, attempt: int, max_attempts: int, stage: str, feedback: str) -> dict:
    """The user message after a rejected answer: why, and the diagnostic or counterexample."""
    text = _env().get_template("repair.md.j2").render(hole=hole, attempt=attempt, max_attempts=max_attempts,
                                                      stage=stage, reasons=REASONS, feedback=feedback.rstrip())
    return {"role": "user", "content": text.strip() + "\n"}
