"""Reading and rewriting fill files without losing what a person wrote in them.

Public surface: `item_text(name, attrs, body, clauses="")`, `upsert(text, path, name, item, order,
key=None, group=None) -> Upsert`, `fill_bodies(text, path, key=None)`, `body_of(text, item)`,
`clauses_of(text, item)`,
`rehash(text, path, hashes, key=None)`, `write_atomic(path, text)`, `header(spec_path)`.

A fill file (`specs/x.fills`) holds `fill` items and comments. Adding or replacing a fill
rewrites the characters of that one item and nothing else: an existing item is replaced
in place (the comments above it stay), a new one goes where the spec declares its hole
relative to the holes already filled (so a file kept in declaration order stays so), and
a file that does not parse is never rewritten.

A member of a hole family is written `fill FAMILY text "<its text>"` followed, on the next
line, by its hash and provenance (as the hand fills of `specs/tcg.fills` are); `key`
maps an item to the hole it fills (`spec.fill_key`), and a new member goes after the last
fill of its family (`group`), so that hand-ordered families stay together.
"""

from __future__ import annotations

import os
import re
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from envc.dsl import ast
from envc.dsl.parser import dsl_literal, parse

#: provenance attributes, in the order they are written
ATTR_ORDER = ("text", "hash", "provenance", "model", "attempts", "tokens", "cost", "date")


def header(spec_path: str) -> str:
    """The comment lines that open a new fills file for the spec at `spec_path`."""
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
    return dsl_literal(str(v))  # (it dropped `\r`: a text with a Windows line break never matched its fill)


def _expand_indent(text: str) -> str:
    """`text` with the tabs of each line's indentation as spaces (4 columns), the others kept: a
    tab inside a string literal is part of the fill (`fail("a<TAB>b")` was judged, then written
    with four spaces)."""
    return re.sub(r"^[ \t]+", lambda m: m.group(0).expandtabs(4), text, flags=re.M)


def item_text(name: str, attrs: dict, body: str, clauses: str = "") -> str:
    """The text of one `fill` item: attributes in `ATTR_ORDER` (None values left out), the
    body dedented and indented by four spaces; ends with a newline. With a `text`
    attribute (a family member) the other attributes go on a second line. `clauses`: the
    checks written beside the fill (`ensures ...`, `scenario ...`, as `clauses_of` gives
    them), kept on their own lines before the body."""
    keys = [k for k in ATTR_ORDER if attrs.get(k) is not None] + sorted(
        k for k in attrs if k not in ATTR_ORDER and attrs[k] is not None)
    parts = [f"{k} {_literal(attrs[k])}" for k in keys]
    if keys[:1] == ["text"] and len(parts) > 1:
        head = f"fill {name} {parts[0]}\n    " + " ".join(parts[1:])
    else:
        head = " ".join([f"fill {name}"] + parts)
    if clauses.strip():
        head += "\n" + "\n".join(f"    {line.strip()}" for line in clauses.strip().split("\n") if line.strip())
    lines = [line.rstrip() for line in textwrap.dedent(_expand_indent(body)).strip("\n").split("\n")]
    inner = "".join(f"    {line}\n" if line else "\n" for line in lines) if any(lines) else ""
    return f"{head} {{\n{inner}}}\n"


def _fills(text: str, path: str) -> list[ast.FillDecl]:
    return [d for d in parse(text, path).decls if isinstance(d, ast.FillDecl)]


def fill_bodies(text: str, path: str, key=None) -> dict[str, str]:
    """Each fill's body as written (between its braces, dedented), by `key(item)` (default:
    the item's name; `spec.fill_key` names family members)."""
    out = {}
    for d in _fills(text, path):
        name = key(d) if key is not None else d.name
        if name is None:
            continue
        out[name] = body_of(text, d)
    return out


def body_of(text: str, d: ast.FillDecl) -> str:
    """The body of fill item `d` of file text `text`, as written (dedented)."""
    item = text[d.span.start:d.span.end]
    if not _braced(item):
        return ""
    head = _head_end(item, len(f"fill {d.name}"))
    return textwrap.dedent(_expand_indent(item[head + 1:item.rindex("}")])).strip("\n")


def _head_end(item: str, start: int) -> int:
    """The offset of the `{` that opens an item's body: the first `{` after its name that
    is not inside a string attribute (a card text may hold `{P}`) or a comment."""
    i, quoted = start, False
    while i < len(item):
        c = item[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif item.startswith("//", i):
            nl = item.find("\n", i)
            i = len(item) if nl < 0 else nl
            continue
        elif c == "{":
            return i
        i += 1
    raise ValueError("a fill item without a body")


def clauses_of(text: str, d: ast.FillDecl) -> str:
    """The checks written beside fill item `d` (its `ensures` and `scenario` clauses, as
    written, comments between them included), or "" when it has none: `envc fill` keeps
    them when it replaces the item's body."""
    # an `ensures` expression's span leaves out its keyword; a scenario's starts with it
    starts = [text.rfind("ensures", d.span.start, e.span.start) for e in d.ensures] + [sc.span.start
                                                                                         for sc in d.scenarios]
    if not starts:
        return ""
    item = text[d.span.start:d.span.end]
    start = min(starts) - d.span.start
    end = _head_end(item, start)
    return item[start:end].strip()


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


def _hash_setter(digest: str) -> Callable[[re.Match[str]], str]:
    """A `re.sub` replacement for `(hash )"old"` that writes `digest` instead of the old hash."""
    return lambda m: f'{m.group(1)}"{digest}"'


def upsert(text: str | None, path: str, name: str, item: str, order: list[str], key=None,
           group: str | None = None) -> Upsert:
    """Put `item` (from `item_text`) into fill file text `text` (None: a new file).

    Replaces the item that fills hole `name` (`key(item decl)`, default its name) if there
    is one; otherwise inserts the item after the last item named `group` (a family's
    items, when given and present), else before the first fill whose hole comes later in
    `order` (hole names in declaration order), or at the end. Everything else is kept
    byte for byte.

    Raises:
        DiagnosticError: when `text` does not parse (it is then left alone).
    """
    item = item if item.endswith("\n") else item + "\n"
    if not text or not text.strip():
        prefix = header(path.removesuffix(".fills") + ".envspec") + "\n"
        return Upsert(prefix + item, len(prefix), len(prefix) + len(item) - 1, False)
    fills = _fills(text, path)
    keyed = [(key(d) if key is not None else d.name, d) for d in fills]
    for k, d in keyed:
        if k == name:
            new = item.rstrip("\n")
            return Upsert(text[:d.span.start] + new + text[d.span.end:], d.span.start, d.span.start + len(new), True)
    mine = [d for d in fills if group is not None and d.name == group]
    if mine:
        at = text.find("\n", mine[-1].span.end)
        lead = "\n"
        if at < 0:  # the last item ends the file without a newline
            at, lead = len(text), "\n\n"
        else:
            at += 1
        new = lead + item
        return Upsert(text[:at] + new + text[at:], at + len(lead), at + len(new) - 1, False)
    rank = {n: i for i, n in enumerate(order)}
    me = rank.get(name, len(order))
    later = [d for k, d in keyed if rank.get(k, len(order) + 1) > me]
    if later:
        at = _comment_block_start(text, later[0].span.start)
        return Upsert(text[:at] + item + "\n" + text[at:], at, at + len(item) - 1, False)
    body = text.rstrip("\n") + "\n\n"
    return Upsert(body + item, len(body), len(body) + len(item) - 1, False)


def rehash(text: str, path: str, hashes: dict[str, str], key=None) -> str:
    """`text` with the `hash` attribute of each item that fills a hole of `hashes` (by
    `key(item)`, default its name) set to that hole's hash; nothing else changes. For a
    person who changed a signature or an `ensures` and has checked that the fills still
    hold (`Judge.judge_written` runs the generated checks on them): never for a changed
    rule whose fills were not looked at again."""
    out = text
    for d in reversed(_fills(text, path)):
        name = key(d) if key is not None else d.name
        if name not in hashes or "hash" not in d.attrs:
            continue
        item = out[d.span.start:d.span.end]
        head_end = _head_end(item, len(f"fill {d.name}"))
        digest = hashes[name]
        head = re.sub(r'(\bhash\s+)"[^"]*"', _hash_setter(digest), item[:head_end], count=1)
        out = out[:d.span.start] + head + item[head_end:] + out[d.span.end:]
    return out


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
