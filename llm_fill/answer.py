"""A model's answer to a fill prompt: text in, the body of a fill out (data, never run).

Public surface: `extract_body(answer, hole) -> str`, `AnswerError`, `MAX_BODY_BYTES`.

The answer should hold one fenced block (```envspec ... ```) with the statements of the
body. Tolerated: another fence language or none, a last fence left open, a whole
`fill NAME ... { ... }` item (for a family member `fill FAMILY text "..." ... { ... }`) or a
`{ ... }` block around the statements (both unwrapped).
The body is then parsed by `envc.dsl.parser.parse_fill_body` and type-checked like any
fill: nothing in an answer is ever executed as Python.
"""

from __future__ import annotations

import re
from typing import Any

#: the largest fill body accepted (bytes of UTF-8)
MAX_BODY_BYTES = 8 * 1024
#: answers are cut to this many characters before they are searched
MAX_ANSWER_CHARS = 256 * 1024

_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.S | re.M)
_OPEN_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*)\Z", re.S | re.M)
_OUR_LANGS = ("envspec", "envc", "dsl", "")


class AnswerError(Exception):
    """The answer holds no usable body; the message goes back to the model."""


#: the attributes of a `fill` line: `hash "..."`, `text "..."` (a card text may hold `{P}`), `attempts 3`
_ATTRS = r'(?:\s+\w+\s+(?:"(?:\\.|[^"\\\n])*"|[0-9][0-9.]*))*'


def _unwrap(body: str, hole: str) -> str:
    text = body.strip()
    names = {hole, re.sub(r"__\d+$", "", hole)}  # a family member's item is named by its family
    alts = "|".join(re.escape(n) for n in names)
    m = re.fullmatch(rf"fill\s+(?:{alts})\b{_ATTRS}\s*\{{(.*)\}}", text, re.S)
    if m:
        return m.group(1)
    m = re.fullmatch(r"\{(.*)\}", text, re.S)
    if m:
        return m.group(1)
    return body


def extract_body(answer: Any, hole: str) -> str:
    """The statements of the fill body in `answer` (a model's text), without fences or wrapper.

    Raises:
        AnswerError: an empty answer or one that is not text (a provider's garbage), or a body
            larger than `MAX_BODY_BYTES`.
    """
    if answer is not None and not isinstance(answer, str):
        raise AnswerError(f"the answer is not text but a {type(answer).__name__}: answer with the body of the fill "
                          "in one ```envspec block")
    if answer is None or not answer.strip():
        raise AnswerError("the answer is empty: answer with the body of the fill in one ```envspec block")
    text = answer[:MAX_ANSWER_CHARS].replace("\r\n", "\n")
    blocks = [(lang.lower(), code) for _, lang, code in _FENCE.findall(text)]
    if blocks:
        ours = [code for lang, code in blocks if lang in _OUR_LANGS]
        body = (ours or [code for _, code in blocks])[-1]
    else:
        m = _OPEN_FENCE.search(text)
        body = m.group(3) if m else text
    body = _unwrap(body, hole)
    bad = next((ch for ch in body if "\ud800" <= ch <= "\udfff"), None)
    if bad is not None:  # (a lone surrogate cannot be written as UTF-8: it was an internal error)
        raise AnswerError(f"the body holds the lone surrogate U+{ord(bad):04X}, which is no character: answer "
                          "with plain text")
    size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise AnswerError(f"the body is {size} bytes long; a fill body may have at most {MAX_BODY_BYTES}: "
                          "write a shorter rule (use loops and the spec's procs)")
    if not body.strip():
        raise AnswerError("the ```envspec block is empty: write the statements of the body in it")
    return body
