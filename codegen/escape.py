"""The one escaping layer of the code generators: every text or name that comes from a
spec, a fill (a model's answer), a data file or a file name reaches generated code through
a function of this module, and nowhere else.

Public surface:
- Python: `py_str` (a string literal), `py_doc` (a docstring literal), `py_doc_text` (text
  inside a docstring the template opens and closes), `py_comment` (text on one comment
  line), `py_float` (a float literal, NaN and infinities included);
- Rust: `rust_str` (a string literal), `rust_doc` / `rust_inner_doc` (`///` / `//!` lines),
  `rust_comment` (text on one `//` line);
- TOML and Markdown: `toml_comment`, `md_text` (text on one line);
- names: `ident(namespace, name)`, a spec name as a generated identifier with the fixed
  prefix of its namespace (`PY_PREFIXES`, `RUST_PREFIXES`);
- `FILTERS`: the jinja2 filters (named for what they do) that the templates must use for
  every value that holds text.

Why these rules (decisions made here):
- A literal is built character by character: `\\` and the quote are escaped, and so is every
  character that is not printable (`str.isprintable`: control characters, NUL, line and
  paragraph separators, bidirectional overrides, lone surrogates), as an escape of the
  target language. Printable text stays as it is, so generated code stays readable.
  `ast.literal_eval(py_str(s)) == s` for every `s`.
- A Python docstring is a triple-quoted literal with the same escapes; newlines stay real
  newlines (readability), and a `"` is escaped when another `"` follows it or it ends the
  text, so that no run of three quotes can close the literal early. No raw text goes into
  a docstring: `\\N{...}` becomes `\\\\N{...}`.
- Rust doc comments: one `///` line per line of the text (a newline cannot end the comment
  and start an item); characters that are not printable, a bare CR in particular (rustc
  refuses it in a doc comment), become a visible `\\u{..}`. A Rust string literal escapes
  with `\\u{..}`, never JSON's `\\u0001` (not valid Rust); lone surrogates, which a Rust
  `str` cannot hold, become U+FFFD.
- Identifiers: a spec name (`[A-Za-z_][A-Za-z0-9_]*`, the grammar's NAME) gets the prefix
  of its namespace (`v_` for locals and parameters, `f_` for fns, ...). No prefixed name can
  equal a keyword, a builtin, a runtime helper (`_select`, `randint`, ...), a name of the
  templates (`st`, `lv`, `index`, `jnp`, `self`, `State`, ...) or a name of another
  namespace, because every one of those starts differently. A name that is not a spec
  identifier raises ValueError: it would be a bug upstream, never silently emitted.
"""

from __future__ import annotations

import math
import re

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

#: Python identifiers made from spec names (JAX backend), per namespace.
PY_PREFIXES = {
    "local": "v_",  # parameters, `let` variables, loop variables, the observer of `observe`
    "fn": "f_",
    "proc": "p_",
    "action": "a_",
    "mask": "m_",  # the legal-action mask of one action kind
    "mask_value": "mv_",  # that mask computed, passed to the masks that reuse it
    "invariant": "inv_",
    "row_key": "rk_",  # an action's guessed effect number (compiler/row_keys.py)
}

#: Rust identifiers made from spec names, per namespace.
RUST_PREFIXES = {
    "local": "v_",
    "fn": "f_",
    "proc": "p_",
    "action": "a_",
    "guard": "g_",
    "invariant": "inv_",
    "field": "f_",  # a spec field of `State` or of a record struct (built-in fields keep their names)
    "record": "Rec",  # the struct of a record
}


def ident(prefixes: dict[str, str], namespace: str, name: str) -> str:
    """`name` as an identifier of `namespace` (`prefixes[namespace] + name`).

    Raises:
        ValueError: `name` is not a spec identifier.
    """
    if not _NAME.match(name):
        raise ValueError(f"not a spec identifier: {name!r}")
    return prefixes[namespace] + name


def py_ident(namespace: str, name: str) -> str:
    """A Python identifier of the JAX backend for spec name `name` in `namespace`."""
    return ident(PY_PREFIXES, namespace, name)


def rust_ident(namespace: str, name: str) -> str:
    """A Rust identifier for spec name `name` in `namespace`."""
    return ident(RUST_PREFIXES, namespace, name)


# ------------------------------------------------------------------ Python


def _py_escape(ch: str) -> str:
    """The Python escape of one non-printable character (`\\x00`, `\\t`, `\\u2028`, ...)."""
    return repr(ch)[1:-1]


def py_str(text: str) -> str:
    """A double-quoted Python string literal whose value is `text`."""
    out = ['"']
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(_py_escape(ch))
    out.append('"')
    return "".join(out)


def py_doc_text(text: str) -> str:
    """`text` escaped for the inside of a `\"\"\"...\"\"\"` literal: newlines stay, every other
    non-printable character and `\\` are escaped, and a `"` is escaped when a `"` follows
    it or it is the last character (so no `\"\"\"` can form, here or at the closing quotes)."""
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            last = i + 1 == len(text)
            out.append('\\"' if last or text[i + 1] == '"' else '"')
        elif ch == "\n" or ch.isprintable():
            out.append(ch)
        else:
            out.append(_py_escape(ch))
    return "".join(out)


def py_doc(text: str) -> str:
    """A triple-quoted Python docstring literal whose value is `text`."""
    return '"""' + py_doc_text(text) + '"""'


def py_comment(text: str) -> str:
    """`text` for one `#` comment line: every non-printable character (newlines included)
    is shown as its Python escape."""
    return "".join(ch if ch.isprintable() else _py_escape(ch) for ch in text)


def py_float(value: float) -> str:
    """A Python expression with exactly the float value `value` (`float("nan")` and
    `float("inf")` where `repr` would give a bare name)."""
    v = float(value)
    if math.isnan(v):
        return 'float("nan")'
    if math.isinf(v):
        return 'float("inf")' if v > 0 else 'float("-inf")'
    return repr(v)


# ------------------------------------------------------------------ Rust

_RUST_SIMPLE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def _rust_escape(ch: str) -> str:
    o = ord(ch)
    if 0xD800 <= o <= 0xDFFF:
        return "\\u{fffd}"
    return f"\\u{{{o:x}}}"


def rust_str(text: str) -> str:
    """A Rust string literal whose value is `text` (lone surrogates become U+FFFD)."""
    out = ['"']
    for ch in text:
        simple = _RUST_SIMPLE.get(ch)
        if simple is not None:
            out.append(simple)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(_rust_escape(ch))
    out.append('"')
    return "".join(out)


def rust_comment(text: str) -> str:
    """`text` for one `//` line: non-printable characters (newlines, CR) as `\\u{..}`."""
    return "".join(ch if ch.isprintable() else _rust_escape(ch) for ch in text)


def rust_doc(text: str, marker: str = "///") -> str:
    """`text` as doc-comment lines (`/// ...`), one per line of the text."""
    return "\n".join(f"{marker} {rust_comment(line)}".rstrip() for line in text.split("\n"))


def rust_inner_doc(text: str) -> str:
    """`text` as inner doc-comment lines (`//! ...`)."""
    return rust_doc(text, "//!")


# ------------------------------------------------------------------ TOML, Markdown


def toml_comment(text: str) -> str:
    """`text` for one TOML `#` comment line (TOML forbids control characters there)."""
    return "".join(ch if ch.isprintable() else _rust_escape(ch) for ch in text)


def md_text(text: str) -> str:
    """`text` on one line of a Markdown file (non-printable characters shown as `\\u{..}`)."""
    return toml_comment(text)


#: jinja2 filters, named for what they do; templates pass every text value through one.
FILTERS = {
    "py_str": py_str,
    "py_doc": py_doc,
    "py_doc_text": py_doc_text,
    "py_comment": py_comment,
    "rust_str": rust_str,
    "rust_doc": rust_doc,
    "rust_inner_doc": rust_inner_doc,
    "rust_comment": rust_comment,
    "toml_comment": toml_comment,
    "md_text": md_text,
}
