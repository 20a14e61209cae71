"""Diagnostics: one `Diagnostic` type and one renderer, in the style of rustc.

Public surface: `Span`, `Diagnostic`, `DiagnosticError`, `Sources`, `render`,
`did_you_mean`, `shorten`, `ERROR_CODES`.

A rendered diagnostic reads::

    error[E0120]: value may overflow `points: int[0..3]`
     --> specs/x.envspec:12:14
       |
    12 |     points = points + 1
       |              ^^^^^^^^^^ has range 1..4
       |
       = help: clamp it: `min(points + 1, 3)`

Messages are lowercase with no final period and put identifiers in backticks.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict
from rich.cells import cell_len

#: Every error code envc emits, with a one-line summary. `tests/diagnostics/` holds one
#: `.envspec` per code (file name starts with the code) beside its expected `.err`.
ERROR_CODES: dict[str, str] = {
    "E0001": "syntax error: unexpected token",
    "E0002": "syntax error: unexpected character",
    "E0003": "unexpected end of file",
    "E0004": "a construct the language does not have",
    "E0100": "unknown name",
    "E0101": "duplicate definition",
    "E0102": "unknown enum member",
    "E0103": "unknown field or method",
    "E0104": "missing or duplicate declaration",
    "E0110": "type mismatch",
    "E0111": "wrong number or kind of arguments",
    "E0112": "not assignable",
    "E0113": "not a constant expression",
    "E0120": "value may overflow its declared range",
    "E0121": "index may be out of bounds",
    "E0122": "empty or invalid range",
    "E0123": "possible division by zero",
    "E0130": "state mutated in a pure context",
    "E0131": "randomness in a pure context",
    "E0140": "unbounded loop",
    "E0141": "non-exhaustive match",
    "E0142": "missing return",
    "E0143": "`break` outside a loop",
    "E0150": "missing data file",
    "E0151": "malformed data file",
    "E0152": "bad column in a data file",
    "E0153": "a row of a data file breaks its table's invariant",
    "E0160": "hole has no fill",
    "E0161": "malformed fill file",
    "E0162": "stale fill",
    "E0163": "a card in play needs a hole with no fill",
    "E0164": "misused text column or hole family",
    "E0165": "malformed text rule or pattern",
    "E0166": "text rule that matches nothing or leaves a capture unused",
    "E0170": "hidden information observed",
    "E0171": "the observation does not show the pending decision",
    "E0172": "conflicting or malformed visibility annotations",
    "E0180": "unknown option",
    "E0181": "options that cannot be combined",
    "E0190": "misused `choose` or `random.pick`",
    "E0191": "misused lasting effect",
    "E0192": "misused simultaneous turn",
}


class Span(BaseModel):
    """A half-open character range `[start, end)` in a source file, with 1-based
    line and column of both ends (columns count characters, not bytes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    start: int
    end: int
    line: int
    col: int
    end_line: int
    end_col: int

    def to(self, other: Span) -> Span:
        """The span from the start of `self` to the end of `other` (same file)."""
        return Span(
            file=self.file,
            start=self.start,
            end=other.end,
            line=self.line,
            col=self.col,
            end_line=other.end_line,
            end_col=other.end_col,
        )


#: A span for constructs that have no source (built-ins).
NO_SPAN = Span(file="<builtin>", start=0, end=0, line=0, col=0, end_line=0, end_col=0)


@dataclass
class Diagnostic:
    """One message about the input.

    `code` is a stable `E0xxx` code from `ERROR_CODES`; `span` the primary location;
    `label` the text written under the caret; `notes` extra `= note:` lines; `help` a
    suggestion for the fix.
    """

    code: str
    message: str
    span: Span | None
    label: str = ""
    help: str | None = None
    notes: list[str] = field(default_factory=list)
    severity: str = "error"


class DiagnosticError(Exception):
    """Raised with every diagnostic collected when input cannot be accepted."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__(f"{len(diagnostics)} error(s)")


class Sources:
    """Texts of the files diagnostics point into, keyed by the path used in spans."""

    _texts: dict[str, str] = {}

    @classmethod
    def add(cls, path: str, text: str) -> None:
        cls._texts[path] = text

    @classmethod
    def text(cls, path: str) -> str | None:
        """The whole text registered for `path`, or None."""
        return cls._texts.get(path)

    @classmethod
    def line(cls, path: str, line: int) -> str | None:
        text = cls._texts.get(path)
        if text is None or line < 1:
            return None
        lines = text.split("\n")  # lines end at "\n" only, as the parser counts them (not at \r, \f, ...)
        if lines[-1] == "":
            lines.pop()
        if line > len(lines):
            return "" if line == len(lines) + 1 else None
        return lines[line - 1].removesuffix("\r")


def visible(text: str, same_width: bool = False, one_line: bool = False) -> str:
    """`text` with its control and format characters (ESC, BEL, NUL, U+202E, ...; not a
    newline) made visible: a spec, a data file or a fill is untrusted, and a raw `\x1b[2J` in a
    message cleared the user's terminal. `same_width`: each becomes U+FFFD (one column), so a
    caret under the source line stays in place; else an escape such as `\x1b`. `one_line`: a
    newline too (`\n`), for a table cell or a line of a summary (a data name holding one split
    `envc holes`' lines; hunt N)."""
    keep = "" if one_line else "\n"
    if all(ch in keep or (ch.isprintable() and unicodedata.category(ch) != "Cf") for ch in text):
        return text
    out = []
    for ch in text:
        if ch in keep or (ch.isprintable() and unicodedata.category(ch) != "Cf"):
            out.append(ch)
        elif same_width:
            out.append("\ufffd")
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _columns(text: str) -> int:
    """The terminal columns of `text` as `render` shows a source line: tabs at every 4, each
    control character one U+FFFD, a wide (CJK) character two (`rich.cells.cell_len`)."""
    return cell_len(visible(text.expandtabs(4), same_width=True))


def render(diag: Diagnostic) -> str:
    """Render a diagnostic as rustc does: header, location, source line, caret, help. Control
    characters of its texts are shown escaped (`visible`)."""
    out = [f"{diag.severity}[{diag.code}]: {visible(diag.message)}"]
    span = diag.span
    if span is not None and span.file != "<builtin>":
        gutter = " " * len(str(span.line))
        out.append(f"{gutter}--> {visible(span.file)}:{span.line}:{span.col}")
        src = Sources.line(span.file, span.line)
        if src is not None:
            raw = src.rstrip("\n")
            src = visible(raw.expandtabs(4), same_width=True)
            pad = _columns(raw[:span.col - 1]) + max(0, span.col - 1 - len(raw))  # tabs, wide characters shift it
            if span.end_line == span.line:
                width = max(1, _columns(raw[:span.end_col - 1]) + max(0, span.end_col - 1 - len(raw)) - pad)
            else:
                width = max(1, cell_len(src) - pad)
            caret = " " * pad + "^" * width
            label = f" {visible(diag.label)}" if diag.label else ""
            out.append(f"{gutter} |")
            out.append(f"{span.line} | {src}")
            out.append(f"{gutter} | {caret}{label}".rstrip())
        if diag.notes or diag.help:
            out.append(f"{gutter} |")
        for note in diag.notes:
            out.append(f"{gutter} = note: {visible(note)}")
        if diag.help:
            out.append(f"{gutter} = help: {visible(diag.help)}")
    else:
        for note in diag.notes:
            out.append(f"  = note: {visible(note)}")
        if diag.help:
            out.append(f"  = help: {visible(diag.help)}")
    return "\n".join(out)


def render_all(diags: list[Diagnostic]) -> str:
    """Render several diagnostics, blank-line separated, with a closing count line."""
    parts = [render(d) for d in diags]
    errors = sum(1 for d in diags if d.severity == "error")
    if errors:
        parts.append(f"error: aborting due to {errors} previous error{'s' if errors != 1 else ''}")
    return "\n\n".join(parts) + "\n"


def did_you_mean(name: str, candidates) -> str | None:
    """A `did you mean `x`?` help text when some candidate is close to `name`."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def shorten(text: str, n: int = 60) -> str:
    """`text` on one line (runs of whitespace, newlines included, become one space), cut to
    at most `n` characters with `...`: how a diagnostic quotes a line or text of the input."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."
