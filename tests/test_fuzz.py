"""Fuzzing the front end: on any input, `parse` and `check` either succeed or raise
`DiagnosticError`, and every diagnostic renders with a `-->` location inside the file,
the right source line and a caret under the right column.

Inputs: arbitrary text, streams of the language's own tokens, and real specs with
random mutations (deleted spans, duplicated lines, swapped tokens, replaced numbers and
names, inserted tokens). Inputs that once crashed or hung the front end are kept at the
end as regressions.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from envc.compiler.check import check
from envc.compiler.diagnostics import ERROR_CODES, DiagnosticError, render, render_all, visible
from envc.dsl.parser import parse

# Folding float constants such as `1.0 / 0.0` gives inf/nan with numpy's RuntimeWarning: fine here.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

ROOT = Path(__file__).resolve().parent.parent
SPEC_FILES = sorted((ROOT / "specs").glob("*.envspec")) + sorted((ROOT / "tests" / "specs").glob("*.envspec"))
SPEC_TEXTS = {p.stem: p.read_text(encoding="utf-8") for p in SPEC_FILES}
# the fill file beside a spec (`x.envspec` -> `x.fills`), when there is one
FILL_TEXTS = {p.stem: p.with_suffix(".fills").read_text(encoding="utf-8")
              for p in SPEC_FILES if p.with_suffix(".fills").exists()}
# A fuzzed spec is checked under a path of its own beside the original, so that its data
# tables resolve, and so that the text registered for diagnostics under a path never
# replaces the text of a real spec.
FUZZ_PATHS = {p.stem: str(p.parent / f"fuzz_{p.stem}.envspec") for p in SPEC_FILES}
FUZZ_PATH = str(ROOT / "tests" / "fuzz_input.envspec")

KEYWORDS = [
    "env", "players", "turn_limit", "illegal_action", "const", "enum", "record", "table", "from", "default",
    "state", "init", "action", "when", "fn", "proc", "observe", "invariant", "hole", "ensures", "fill",
    "bool", "float32", "int", "list", "let", "if", "elif", "else", "for", "in", "match", "return", "then",
    "and", "or", "not", "true", "false",
]
NAMES = [
    "x", "board", "cell", "p", "current_player", "rewards", "terminated", "truncated", "step_count",
    "random", "win", "draw", "reward", "terminate", "fail", "min", "max", "abs", "clamp", "len", "count",
    "any", "all", "sum", "contains", "push", "pop", "shuffle", "insert", "remove_at", "clear", "sqrt",
    "floor", "float", "Color", "red", "rows", "lose", "error", "hidden", "private", "hash", "attempts", "_",
]
NUMBERS = ["0", "1", "2", "3", "8", "9", "-1", "-2147483648", "2147483647", "2147483648", "4294967296",
           "99999999999999999999", "0.5", "1.0", "1e3", "65536"]
PUNCT = [
    "{", "}", "(", ")", "[", "]", ",", ":", "=", "->", "@", ".", "..", "..=", "+", "-", "*", "/", "%", "==", "!=",
    "<=", ">=", "<", ">", "|", "=>", "+=", "-=", ";", "&&", "!", '"', "\n", "\t", "\r", "//",
]
STRINGS = ['"doc"', '""', '"data/units.json"', '"missing.csv"', '"."', '"../specs"', '"a\\"b"']
TOKENS = KEYWORDS + NAMES + NUMBERS + PUNCT + STRINGS

_LOC = re.compile(r"^( *)--> (.*):(\d+):(\d+)$", re.M)


def check_rendering(text: str, path: str, out: str) -> None:
    """`out`, one rendered diagnostic, points inside `text` and quotes the right line."""
    m = _LOC.search(out)
    assert m is not None, f"no `-->` line in:\n{out}"
    assert m.group(2) == path, out
    line, col = int(m.group(3)), int(m.group(4))
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")  # a file of classic Mac OS line ends (the parser reads them so)
    lines = text.split("\n")  # the parser counts lines by "\n" only
    assert 1 <= line <= len(lines), (line, len(lines), out)
    raw = lines[line - 1].removesuffix("\r")
    if line == 1:
        raw = raw.removeprefix("\ufeff")  # (the parser skips a byte order mark: it is no code)
    assert 1 <= col <= len(lines[line - 1]) + 1, (line, col, out)
    rows = out.split("\n")
    quoted = f"{line} | "
    at = next((i for i, r in enumerate(rows) if r.startswith(quoted)), None)
    if at is None:
        return  # the location has no source line to show
    # control characters show as U+FFFD, one column each (`diagnostics.visible`)
    assert rows[at][len(quoted):] == visible(raw.expandtabs(4), same_width=True), out
    caret = rows[at + 1][len(quoted):]
    # tabs every 4 columns, a wide (CJK) character two columns
    assert caret.index("^") == cell_len(visible(raw[:col - 1].expandtabs(4), same_width=True)), out


def front_end(text: str, path: str = FUZZ_PATH, fills: str | None = None) -> list:
    """parse + check `text` (with fill file text `fills`); any exception but DiagnosticError
    fails the test. Returns the diagnostics."""
    texts = {path: text}
    try:
        fills_mod = None
        if fills is not None:
            fills_path = path.removesuffix(".envspec") + ".fills"
            texts[fills_path] = fills
            fills_mod = parse(fills, fills_path)
        check(parse(text, path), fills_mod)
    except DiagnosticError as err:
        assert err.diagnostics, "a DiagnosticError without diagnostics"
        assert "aborting due to" in render_all(err.diagnostics)
        for d in err.diagnostics:
            assert d.code in ERROR_CODES, d.code
            out = render(d)
            assert out.startswith(f"error[{d.code}]: "), out
            assert d.span is not None and d.span.file in texts, out
            check_rendering(texts[d.span.file], d.span.file, out)
        return err.diagnostics
    return []


# ------------------------------------------------------------------ (a) generated text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(text):
    front_end(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}()[],:=-<>.+*/%@|_\"\\ \n\r\t\x0cabcxyz019")), max_size=120))
def test_punctuation_soup(text):
    front_end(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join))
def test_token_streams(text):
    front_end(text)


HEADER = 'env fuzz "fuzzed body"\nplayers 2\n'


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join))
def test_token_streams_after_a_header(body):
    # a valid header gets the parser past the first tokens, into declarations
    front_end(HEADER + body)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join))
def test_token_streams_inside_a_body(body):
    # most tokens land inside an action body of an otherwise valid spec
    front_end(HEADER + "state {\n    x: int[0..9] = 0\n}\naction a(cell: int[0..8]) {\n" + body
              + "\n}\nobserve(p) -> int[0..9] {\n    return x\n}\n")


# ------------------------------------------------------------------ (b) mutated real specs

_TOKEN_RE = re.compile(r'//[^\n]*|"(?:\\.|[^"\\\n])*"|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?|\.\.=|\.\.|->|=>|'
                       r"==|!=|<=|>=|\+=|-=|\S")
_NUMBER_RE = re.compile(r"(?<![A-Za-z0-9_.])[0-9]+(?:\.[0-9]+)?(?![0-9])")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

REPLACEMENT_NUMBERS = st.one_of(
    st.integers(min_value=-10, max_value=10).map(str),
    st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**32, 2**63, 10**30, -(10**30), 65536, 65537]).map(str),
    st.integers().map(str),
    st.sampled_from(["0.0", "-0.5", "1.5", "1e9", "9" * 400 + ".0", "1" + "0" * 5000, "0" * 5000 + "7"]),
)


@st.composite
def mutations(draw, text: str) -> str:
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(["delete", "dup_line", "swap", "number", "name", "insert"]))
        if kind == "delete" and text:
            start = draw(st.integers(0, len(text) - 1))
            end = draw(st.integers(start + 1, min(len(text), start + 40)))
            text = text[:start] + text[end:]
        elif kind == "dup_line":
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines)))
            lines.insert(j, lines[i])
            text = "\n".join(lines)
        elif kind == "swap":
            toks = [m.span() for m in _TOKEN_RE.finditer(text)]
            if len(toks) >= 2:
                i, j = sorted(draw(st.lists(st.integers(0, len(toks) - 1), min_size=2, max_size=2, unique=True)))
                (a0, a1), (b0, b1) = toks[i], toks[j]
                text = text[:a0] + text[b0:b1] + text[a1:b0] + text[a0:a1] + text[b1:]
        elif kind == "number":
            nums = [m.span() for m in _NUMBER_RE.finditer(text)]
            if nums:
                a, b = draw(st.sampled_from(nums))
                text = text[:a] + draw(REPLACEMENT_NUMBERS) + text[b:]
        elif kind == "name":
            names = list(_NAME_RE.finditer(text))
            if names:
                target = draw(st.sampled_from(names))
                other = draw(st.sampled_from(sorted({m.group() for m in names})))
                text = text[:target.start()] + other + text[target.end():]
        else:
            pos = draw(st.integers(0, len(text)))
            tok = draw(st.sampled_from(TOKENS))
            text = text[:pos] + " " + tok + " " + text[pos:]
    return text


@st.composite
def mutated_spec(draw) -> tuple[str, str, str | None]:
    """(path, spec text, fill file text), one of the texts mutated."""
    name = draw(st.sampled_from(sorted(SPEC_TEXTS)))
    text, fills = SPEC_TEXTS[name], FILL_TEXTS.get(name)
    if fills is not None and draw(st.booleans()):
        fills = draw(mutations(fills))
    else:
        text = draw(mutations(text))
    return FUZZ_PATHS[name], text, fills


def test_corpus():
    assert {"tictactoe", "connect4"} <= set(SPEC_TEXTS)


@pytest.mark.parametrize("name", sorted(SPEC_TEXTS))
def test_real_specs_pass_the_front_end(name):
    assert front_end(SPEC_TEXTS[name], FUZZ_PATHS[name], FILL_TEXTS.get(name)) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_spec())
def test_mutated_specs(case):
    front_end(case[1], case[0], case[2])


# ------------------------------------------------------------------ regressions

SMALL = 'env a\nplayers 2\nstate {\n    x: int[0..9] = 0\n}\naction a(c: int[0..8]) {\n    x = 1\n}\n' \
        'observe(p) -> int[0..9] {\n    return x\n}\n'
HOLE = SMALL.replace("return x", "return bonus(p)") + 'hole bonus(p: int[0..1]) -> int[0..9] "a bonus"\n'
FIVE_THOUSAND_NINES = "9" * 5000

# name -> (spec text, a code the diagnostics must include)
REGRESSIONS = {
    # int() refuses more than 4300 digits: a ValueError escaped the parser
    "int_literal_5000_digits": (SMALL + f"const X = {FIVE_THOUSAND_NINES}\n", "E0120"),
    "players_5000_digits": (SMALL.replace("players 2", f"players {FIVE_THOUSAND_NINES}"), "E0120"),
    "leading_zeros_are_fine": (SMALL + f"const X: int[0..1] = {'0' * 5000}1\n", None),
    # deep nesting: a RecursionError in lark's recursive transformer or the checker; envc
    # raises Python's recursion limit (envc/__init__.py), so a few hundred levels are a spec
    # like any other, and thousands a diagnostic (the parser's, or the checker's MAX_DEPTH)
    "parens_300_deep": (SMALL + "const X = " + "(" * 300 + "1" + ")" * 300 + "\n", None),
    "arrays_400_deep": (SMALL + "const X: int[0..1] = " + "[" * 400 + "1" + "]" * 400 + "[0]" * 400 + "\n", None),
    "negations_300_deep": (SMALL + "const X = " + "-(" * 300 + "1" + ")" * 300 + "\n", None),
    "ifs_400_deep": (SMALL.replace("    x = 1\n", "if x == 0 {\n" * 400 + "x = 2\n" + "}\n" * 400), None),
    "parens_3000_deep": (SMALL + "const X = " + "(" * 3000 + "1" + ")" * 3000 + "\n", "E0001"),
    "arrays_4000_deep": (SMALL + "const X = " + "[" * 4000 + "1" + "]" * 4000 + "\n", "E0001"),
    "ifs_3000_deep": (SMALL.replace("    x = 1\n", "if x == 0 {\n" * 3000 + "x = 2\n" + "}\n" * 3000), "E0140"),
    # records nested 400 deep: a RecursionError in the checker once
    "records_400_deep": (SMALL.replace("    x: int[0..9] = 0\n", "    x: int[0..9] = 0\n    r: R0\n")
                         + "".join(f"record R{i} {{\n    a: R{i + 1}\n}}\n" for i in range(400))
                         + "record R400 {\n    b: bool\n}\n", None),
    # fill attributes of the wrong kind: ValueError / pydantic ValidationError in _provenance
    "fill_attempts_string": (HOLE + 'fill bonus hash "0" attempts "x" {\n    return 0\n}\n', "E0161"),
    "fill_cost_string": (HOLE + 'fill bonus hash "0" cost "cheap" {\n    return 0\n}\n', "E0161"),
    "fill_model_number": (HOLE + 'fill bonus hash "0" model 3 {\n    return 0\n}\n', "E0161"),
    "fill_date_number": (HOLE + 'fill bonus hash "0" date 3.5 {\n    return 0\n}\n', "E0161"),
    # an enum without members used as a value: IndexError building the help text
    "empty_enum_as_value": (SMALL + "enum E {}\nconst X = E\n", "E0110"),
    # a fn called where a constant is folded (a type's bound or size): KeyError in the interpreter
    "fn_in_range_bound": (SMALL + "fn f() -> int[3..3] {\n    return 3\n}\n"
                          "fn g(y: int[0..f()]) -> int[0..3] {\n    return y\n}\n", "E0113"),
    "fn_in_array_size": (SMALL + "fn f() -> int[3..3] {\n    return 3\n}\n"
                         "fn g() -> bool {\n    let y: bool[f()] = [true, true, true]\n    return y[0]\n}\n", "E0113"),
    # huge values: the checker built the default value (hang, then MemoryError)
    "huge_array": (SMALL.replace("x: int[0..9] = 0", "x: int[0..9] = 0\n    y: bool[65536][65536]"), "E0122"),
    "huge_array_size": (SMALL.replace("x: int[0..9] = 0", "x: int[0..9] = 0\n    y: bool[2147483647]"), "E0122"),
    "huge_list": (SMALL.replace("x: int[0..9] = 0", "x: int[0..9] = 0\n    y: list<bool, 2147483647>"), "E0122"),
    "huge_comprehension": (SMALL + "const X = [[0 for i in 0..65536] for j in 0..65536]\n", "E0122"),
    # nested loops in a constant: folding hung (2^32 iterations)
    "nested_loops_in_constant": (SMALL + "const X = count(any(true for i in 0..65536) for j in 0..65536)\n",
                                 "E0113"),
    # line breaks other than "\n": the parser counts "\n" only, str.splitlines() also \r, \f, ...
    "eof_after_carriage_returns": ("const\r\rx =", "E0003"),
    "form_feed_line": ("env a\x0cplayers 2\n\x0cplayers 3 zz", "E0001"),
    "line_separator": ("env a\u2028players 2 zz\n", "E0002"),
    "crlf_file": (SMALL.replace("\n", "\r\n").replace("x = 1", "x = 10"), "E0120"),
    "crlf_file_eof": (SMALL.replace("\n", "\r\n").removesuffix("}\r\n"), "E0003"),
    "eof_after_lone_carriage_return": ("env \r", "E0003"),
    # tabs: the caret sits under the token once tabs are expanded
    "tab_indented": (SMALL.replace("    x = 1", "\t\tx = 10"), "E0120"),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression(name):
    text, code = REGRESSIONS[name]
    diags = front_end(text)
    if code is None:
        assert diags == []
    else:
        assert code in [d.code for d in diags], [(d.code, d.message) for d in diags]


def test_nested_too_deeply_points_at_the_deepest_bracket():
    text, _ = REGRESSIONS["parens_3000_deep"]
    (d,) = front_end(text)
    assert d.message == "the spec is nested too deeply"
    assert (d.span.line, d.span.col) == (12, 10 + 3000)


def test_reasonable_nesting_still_parses():
    assert front_end(SMALL + "const X: int[0..1] = " + "(" * 30 + "1" + ")" * 30 + "\n") == []


# ------------------------------------------------------------------ the campaign (scripts/fuzz_campaign.py), CI-sized


def test_small_fuzz_campaign():
    """40 inputs of `scripts/fuzz_campaign.py` (mutated specs, fills, data, deck lists, file
    kinds, hostile strings and names), every stage run on each accepted input, one verified
    against JAX: no traceback, hang, wrong exit, build failure or injection. The long run
    (20,000 inputs) is in README.md, "Security model"."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fuzz_campaign", ROOT / "scripts" / "fuzz_campaign.py")
    fc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fc)
    counts, examples = fc.campaign(40, seed=11, timeout=300, jax_runs=1)
    assert counts["inputs"] == 40
    assert counts["diagnostics"] > 0 and counts["accepted"] > 0 and counts["jax imports"] > 0
    for kind in fc.FAILURES + ["campaign errors"]:
        assert counts[kind] == 0, examples.get(kind)
