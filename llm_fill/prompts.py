"""The prompts of `envc fill`: jinja2 templates under `llm_fill/templates/`.

Public surface: `fill_messages(loaded, hole, max_examples=3) -> list[dict]`,
`repair_message(hole, attempt, max_attempts, verdict) -> dict`, `REASONS`.

The system message is the role, the rules of the answer and a compact reference card of
the language (`templates/reference.md`). The task (`templates/fill.md.j2`) shows the spec's
types, constants and state, the signatures (and short bodies) of its `fn`s and `proc`s
(its standard library of effect verbs), its invariants, a few accepted fills of other
holes, and the hole: signature, prose, `ensures`. Every piece of the spec enters the
templates as a variable (never as template text), and the prose is marked as data.
"""

from __future__ import annotations

import os
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from envc.dsl import ast
from envc.llm_fill.fillfile import fill_bodies
from envc.llm_fill.spec import Loaded, hole_kind

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
}


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, trim_blocks=True,
                       lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)


@lru_cache(maxsize=1)
def reference_card() -> str:
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


def fill_messages(loaded: Loaded, hole: str, max_examples: int = 3) -> list[dict]:
    """The system and user messages asking for the fill of `hole`."""
    spec = loaded.spec_ast
    src = spec.source
    m = loaded.module
    decls = spec.decls
    declarations = [_text(src, d) for d in decls
                    if isinstance(d, (ast.ConstDecl, ast.EnumDecl, ast.RecordDecl, ast.TableDecl, ast.StateDecl))]
    for t in m.tables:
        declarations.append(f"// table `{t.name}` has {t.rows} rows: a value of type `{t.name}` is one of them")
    pure = loaded.hole(hole).ret is not None  # a pure hole calls `fn`s only
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
    bodies = fill_bodies(loaded.fills_text, loaded.fill_path) if loaded.fills_text else {}
    examples = []
    for d in holes:
        if d.name != hole and status.get(d.name) == "filled" and d.name in bodies and len(examples) < max_examples:
            body = "\n".join(f"    {line}" if line else "" for line in bodies[d.name].split("\n"))
            examples.append({"name": d.name, "hole": _text(src, d), "body": body})
    others = [{"signature": _hole_signature(src, d), "status": status.get(d.name, "unfilled")}
              for d in holes if d.name != hole]
    me = next(d for d in holes if d.name == hole)
    ir_hole = loaded.hole(hole)
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
    }
    env = _env()
    system = env.get_template("system.md.j2").render(reference=reference_card())
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
