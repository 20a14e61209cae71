"""Reading and rewriting fill files without losing what a person wrote in them.

Public surface: `item_text(name, attrs, body)`, `upsert(text, path, name, item, order)
-> Upsert`, `fill_bodies(text, path)`, `write_atomic(path, text)`, `header(spec_path)`.

A fill file (`specs/x.fills`) holds `fill` items and comments. Adding or replacing a fill
rewrites the characters of that one item and nothing else: an existing item is replaced
in place (the comments above it stay), a new one goes where the spec declares its hole
relative to the holes already filled (so a file kept in declaration order stays so), and
a file that does not parse is never rewritten.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from dataclasses import dataclass

from envc.dsl import ast
from envc.dsl.parser import parse

#: provenance attributes, in the order they are written
ATTR_ORDER = ("hash", "provenance", "model", "attempts", "tokens", "cost", "date")


def header(spec_path: str) -> str:
    name = os.path.basename(spec_path)
    return (f"// Fills of the holes of {name}: `fill NAME hash \"...\" {{ body }}` items, written by hand\n"
            f"// or by `envc fill` (which rewrites only the item it adds or replaces).\n")


def _literal(v) -> str:
    if isinstance(v, bool):
        raise TypeError("fill attributes are strings and numbers")
    if isinstance(v, int):
        return str(max(v, 0))
    if isinstance(v, float):
        text = f"{max(v, 0.0):.10f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    s = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")
    return f'"{s}"'


def item_text(name: str, attrs: dict, body: str) -> str:
    """The text of one `fill` item: attributes in `ATTR_ORDER` (None values left out), the
    body dedented and indented by four spaces; ends with a newline."""
    keys = [k for k in ATTR_ORDER if attrs.get(k) is not None] + sorted(
        k for k in attrs if k not in ATTR_ORDER and attrs[k] is not None)
    head = " ".join([f"fill {name}"] + [f"{k} {_literal(attrs[k])}" for k in keys])
    lines = [line.rstrip() for line in textwrap.dedent(body.expandtabs(4)).strip("\n").split("\n")]
    inner = "".join(f"    {line}\n" if line else "\n" for line in lines) if any(lines) else ""
    return f"{head} {{\n{inner}}}\n"


def _fills(text: str, path: str) -> list[ast.FillDecl]:
    return [d for d in parse(text, path).decls if isinstance(d, ast.FillDecl)]


def fill_bodies(text: str, path: str) -> dict[str, str]:
    """Each fill's body as written (between its braces, dedented)."""
    out = {}
    for d in _fills(text, path):
        item = text[d.span.start:d.span.end]
        inner = item[item.index("{", len(f"fill {d.name}")) + 1:item.rindex("}")] if _braced(item) else ""
        out[d.name] = textwrap.dedent(inner.expandtabs(4)).strip("\n")
    return out


def _braced(item: str) -> bool:
    return "{" in item and item.rstrip().endswith("}")


@dataclass
class Upsert:
    text: str  # the whole new file
    start: int  # offsets of the item inside it
    end: int
    replaced: bool


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _comment_block_start(text: str, pos: int) -> int:
    """The start of the `//` comment lines directly above the line at `pos` (no blank line
    between): they document the item that follows, and stay with it."""
    start = _line_start(text, pos)
    while start > 0:
        prev = _line_start(text, start - 1)
        if not text[prev:start].strip().startswith("//"):
            break
        start = prev
    return start


def upsert(text: str | None, path: str, name: str, item: str, order: list[str]) -> Upsert:
    """Put `item` (from `item_text`) into fill file text `text` (None: a new file).

    Replaces the item of fill `name` if there is one; otherwise inserts the item before the
    first fill whose hole comes later in `order` (hole names in declaration order), or at
    the end. Everything else is kept byte for byte.

    Raises:
        DiagnosticError: when `text` does not parse (it is then left alone).
    """
    item = item if item.endswith("\n") else item + "\n"
    if not text or not text.strip():
        prefix = header(path.removesuffix(".fills") + ".envspec") + "\n"
        return Upsert(prefix + item, len(prefix), len(prefix) + len(item) - 1, False)
    fills = _fills(text, path)
    for d in fills:
        if d.name == name:
            new = item.rstrip("\n")
            return Upsert(text[:d.span.start] + new + text[d.span.end:], d.span.start, d.span.start + len(new), True)
    rank = {n: i for i, n in enumerate(order)}
    me = rank.get(name, len(order))
    later = [d for d in fills if rank.get(d.name, len(order) + 1) > me]
    if later:
        at = _comment_block_start(text, later[0].span.start)
        return Upsert(text[:at] + item + "\n" + text[at:], at, at + len(item) - 1, False)
    body = text.rstrip("\n") + "\n\n"
    return Upsert(body + item, len(body), len(body) + len(item) - 1, False)


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename (never half a file)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".envc-fill-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        if os.path.exists(path):
            mode = os.stat(path).st_mode & 0o777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
