"""Judging one candidate fill, from the model's raw answer to accepted or a reason why not.

Public surface: `Judge(spec_path, max_examples)` with `judge(hole, answer, fills_text)`
and `judge_body(hole, body, fills_text)`, `Verdict`, `ANSWER_PATH`.

Stages, in order (the first failure is the verdict, and its text goes back to the model):

1. `answer`: a body is extracted from the answer (`answer.extract_body`, 8 KB at most);
2. `syntax`: it parses as the statements of a fill body (`parse_fill_body`);
3. `check`: the fill file *as it would be written* (the candidate item put in place of, or
   beside, the fills already there) is checked with the spec; the candidate may not call
   a hole without a fresh fill; errors are the checker's rendered diagnostics;
4. `work`: a static bound on the work of one call (`props.work_bound`);
5. `property`: the generated property tests (`props.falsify`) find no failing call.
"""

from __future__ import annotations

from dataclasses import dataclass

from envc.compiler.check import fill_path
from envc.compiler.diagnostics import DiagnosticError, render_all
from envc.dsl import ast
from envc.dsl.parser import parse_file, parse_fill_body
from envc.llm_fill import props
from envc.llm_fill.answer import AnswerError, extract_body
from envc.llm_fill.fillfile import item_text, upsert
from envc.llm_fill.spec import Loaded, load_lenient

#: the file name diagnostics of an answer's body point into
ANSWER_PATH = "<answer>"


@dataclass
class Verdict:
    ok: bool
    stage: str  # "answer", "syntax", "check", "work", "property" or "accepted"
    feedback: str  # what failed, for the model (empty when accepted)
    body: str | None = None
    counterexample: props.Counterexample | None = None


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
        self._pools: dict[str | None, list] = {}

    def load(self, fills_text: str | None) -> Loaded:
        """The spec with fill file text `fills_text`, unfilled holes tolerated."""
        return load_lenient(self.spec_path, fills_text, spec_ast=self.spec_ast)

    def order(self) -> list[str]:
        return [d.name for d in self.spec_ast.decls if isinstance(d, ast.HoleDecl)]

    def clause_text(self, hole: str) -> list[str]:
        src = self.spec_ast.source
        decl = next(d for d in self.spec_ast.decls if isinstance(d, ast.HoleDecl) and d.name == hole)
        return [src[e.span.start:e.span.end] for e in decl.ensures]

    def pool(self, fills_text: str | None):
        """Reachable states of the spec with the fills already accepted (cached per file text)."""
        if fills_text not in self._pools:
            self._pools = {fills_text: props.reachable_states(self.load(fills_text).module)}
        return self._pools[fills_text]

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

    def judge_body(self, hole: str, body: str, fills_text: str | None) -> Verdict:
        """Judge a parsed body (stages 3 to 5); hand fills go through here too."""
        base = self.load(fills_text)
        digest = base.hole(hole).signature_hash
        item = item_text(hole, {"hash": digest, "provenance": "model"}, body)
        before = [d.name for d in base.fills_ast.decls] if base.fills_ast is not None else []
        placed = upsert(fills_text, self.fill_path, hole, item, self.order())
        try:
            loaded = load_lenient(self.spec_path, placed.text, strict=(self.fill_path, placed.start, placed.end),
                                  spec_ast=self.spec_ast)
        except DiagnosticError as e:
            stage = "syntax" if all(d.code in ("E0001", "E0002", "E0003") for d in e.diagnostics) else "check"
            return Verdict(False, stage, render_all(e.diagnostics), body)
        mine = [d for d in loaded.fills_ast.decls if d.name == hole]
        expected = len(before) + (0 if placed.replaced else 1)
        if len(loaded.fills_ast.decls) != expected or len(mine) != 1 or mine[0].span.start != placed.start:
            return Verdict(False, "syntax", "the answer must be the statements of one fill body, nothing else", body)
        ir_hole = loaded.hole(hole)
        if ir_hole.status != "filled":  # pragma: no cover - the hash was just written
            return Verdict(False, "check", f"the fill of `{hole}` is {ir_hole.status}", body)
        work = props.work_bound(loaded.module, hole)
        if work > props.MAX_WORK:
            return Verdict(False, "work", f"one call of this fill may evaluate up to {work:,} expressions (the limit "
                           f"is {props.MAX_WORK:,}): use fewer or shorter loops", body)
        cx = props.falsify(loaded.module, hole, self.pool(fills_text), self.clause_text(hole), self.max_examples)
        if cx is not None:
            return Verdict(False, "property", cx.render(loaded.module, ir_hole), body, cx)
        return Verdict(True, "accepted", "", body)
