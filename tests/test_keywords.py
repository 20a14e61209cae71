"""Words of the grammar as names: every word of `dsl/envspec.lark` is either reserved (the checker
refuses it as a declared name, E0101, at the declaration, and where the parser meets it used
as a name first, its E0001 says it is a keyword) or contextual (usable as a name in every
position). Found by the untrusted-input review (#13): `proc init(...)` was accepted and its call
`init(0)` after another statement was a syntax error."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from envc.compiler.check import load_checked
from envc.compiler.diagnostics import DiagnosticError
from envc.dsl.parser import CONTEXTUAL_WORDS, RESERVED_WORDS

GRAMMAR = resources.files("envc.dsl").joinpath("envspec.lark").read_text()
WORDS = sorted(set(re.findall(r'"([a-z_]+)"', GRAMMAR)) - {"_"})

HEAD = 'env k "k"\nplayers 2\n'
OBS = "observe(p) -> int[0..9][1] {{ return [0] }}\n"
#: one spec per position a name can take, each using the name where a statement or an
#: expression may also begin with a keyword
POSITIONS = {
    "proc called as a statement": HEAD + "state {{ x: int[0..9] = 0 }}\nproc {k}(v: int[0..3]) {{ x = v }}\n"
    "init {{ x = 0 }}\n" + OBS + "action go() {{\n  x = 1\n  {k}(0)\n}}\n",
    "fn called in an expression": HEAD + "state {{ x: int[0..9] = 0 }}\nfn {k}(v: int[0..3]) -> int[0..3] {{ return v }}\n"
    "init {{ x = 0 }}\n" + OBS + "action go() {{\n  x = {k}(1) + 1\n}}\n",
    "state field assigned": HEAD + "state {{ {k}: int[0..9] = 0 }}\ninit {{ {k} = 0 }}\n" + OBS
    + "action go() {{\n  {k} = 1\n  {k} = 9 - {k}\n}}\n",
    "local": HEAD + "state {{ x: int[0..9] = 0 }}\ninit {{ x = 0 }}\n" + OBS
    + "action go() {{\n  let {k} = 1\n  x = {k} + 1\n}}\n",
    "parameter": HEAD + "state {{ x: int[0..9] = 0 }}\ninit {{ x = 0 }}\n" + OBS
    + "action go({k}: int[0..3]) {{\n  x = {k} + 1\n}}\n",
}
#: names the language gives a meaning of its own (E0101 "built-in"), so they cannot be
#: declared as a fn or a proc whatever the grammar says
BUILTINS = {"any", "count", "int", "max"}


def test_every_word_of_the_grammar_is_classified() -> None:
    assert not RESERVED_WORDS & CONTEXTUAL_WORDS
    unclassified = set(WORDS) - RESERVED_WORDS - CONTEXTUAL_WORDS
    assert not unclassified, f"add each to RESERVED_WORDS or CONTEXTUAL_WORDS in dsl/parser.py: {sorted(unclassified)}"
    stale = (RESERVED_WORDS | CONTEXTUAL_WORDS) - set(WORDS)
    assert not stale, f"no longer words of the grammar: {sorted(stale)}"


def _check(tmp_path: Path, text: str) -> list:
    path = tmp_path / "k.envspec"
    path.write_text(text)
    try:
        load_checked(str(path))
    except DiagnosticError as e:
        return e.diagnostics
    return []


@pytest.mark.parametrize("word", sorted(CONTEXTUAL_WORDS))
def test_contextual_words_are_names_everywhere(word: str, tmp_path: Path) -> None:
    for what, tmpl in POSITIONS.items():
        if word in BUILTINS and what.split()[0] in ("proc", "fn"):
            continue
        diags = _check(tmp_path, tmpl.format(k=word))
        assert not diags, f"`{word}` as {what}: {[d.message for d in diags]}"


@pytest.mark.parametrize("word", sorted(RESERVED_WORDS))
@pytest.mark.parametrize("what", ["proc called as a statement", "state field assigned", "local", "parameter"])
def test_reserved_words_are_refused_where_declared(word: str, what: str, tmp_path: Path) -> None:
    text = POSITIONS[what].format(k=word)
    diags = _check(tmp_path, text)
    assert diags, f"`{word}` as {what} was accepted"
    first = diags[0]
    if first.code == "E0101":
        assert "keyword" in first.message or "built-in" in first.message, first.message
        return
    # the parser reads the whole file before the checker runs, so a keyword that cannot even be
    # parsed where it is used (`init(0)` as a statement) or declared (`let if = 1`) is the
    # parser's error, which must then say why
    assert first.code == "E0001", (word, what, first.code, first.message)
    assert "keyword of the language" in (first.help or "") or what in ("local", "parameter"), (word, what, first.help)
