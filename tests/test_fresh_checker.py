"""Checker and front-end bugs found by fresh specs (s43/fresh1), one test (or a few) each:

A. a record literal naming a field twice (E0101);
B. a list read on the left of `or` whose bound check `i >= len(xs)` is on the right (E0121);
C. exponent notation, `2.0e3` (E0004, the number written out in the help);
D. a constant read before its declaration (E0100 naming where it is declared);
E. a spec starting with a UTF-8 byte order mark (accepted);
F. a JSON data file whose object names a key twice (E0151, like a CSV header's column);
G. no follow-on type error where a table's data file could not be read.

Each spec is written to a temporary folder and checked with `load_checked`; the assertions
are on code, message and line:col, and a few on the rendering (`render_all`) and on the
exit status of `envc check`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from envc.compiler.check import load_checked
from envc.compiler.diagnostics import Diagnostic, DiagnosticError, render_all

ROOT = Path(__file__).resolve().parent.parent

DUP_FIELD = """env dup "a record literal that names a field twice"
record R { k: int[0..3] }
state { r: R }
action go() { r = R(k: 1, k: 2) }
observe(p) -> int[0..3][1] { return [r.k] }
"""

OR_BEFORE_CHECK = """env orc "a list read on the left of or, its bound check on the right"
turn_limit 5
state {{ xs: list<int[0..3], 3>  n: int[0..3] = 0 }}
action go(i: int[0..2]) when {guard} {{ n = 1 }}
action add() when len(xs) < 3 {{ xs.push(1) }}
observe(p) -> int[0..3][1] {{ return [n] }}
"""

EXPONENT = """env ex "a float literal in exponent notation"
state {{ y: float32 = 0.0 }}
action go() {{ y = {value} }}
observe(p) -> float32[1] {{ return [y] }}
"""

CONST_FORWARD = """env cf "a constant that reads one declared after it"
const A = B + 1
const B = 2
state { n: int[0..3] = 0 }
action go() { n = A }
observe(p) -> int[0..3][1] { return [n] }
"""

PLAIN = """env d "x"
state { n: int[0..3] = 0 }
action go() { n = 1 }
observe(p) -> int[0..3][1] { return [n] }
"""

JSON_TABLE = """env jt "a JSON table"
table Unit from "units.json" { cost: int[0..9] }
state { u: Unit }
action buy(x: Unit) { u = x }
observe(p) -> int[0..9][1] { return [u.cost] }
"""

MISSING_TABLE = """env mt "a table whose file is missing"
table Good from "data/missing.csv" { price: int[0..9] }
state { g: Good }
action pick(i: int[0..2]) { g = i }
observe(p) -> int[0..9][1] { return [g.price] }
"""


def _diags(tmp_path: Path, text: str, name: str = "s.envspec", encoding: str = "utf-8") -> list[Diagnostic]:
    """The diagnostics of checking `text` (written to `tmp_path/name`), [] when it checks."""
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    try:
        load_checked(str(path))
    except DiagnosticError as e:
        return e.diagnostics
    return []


def _where(d: Diagnostic) -> tuple[str, str, int, int]:
    assert d.span is not None
    return d.code, d.message, d.span.line, d.span.col


# -- A. duplicate field in a record literal

def test_record_literal_naming_a_field_twice_is_e0101(tmp_path: Path) -> None:
    diags = _diags(tmp_path, DUP_FIELD)
    assert [_where(d) for d in diags] == [("E0101", "duplicate field `k` in a `R` value", 4, 27)]
    assert diags[0].notes == [f"first given at {tmp_path / 's.envspec'}:4:21"]
    rendered = render_all(diags)
    assert "s.envspec:4:27" in rendered and "r = R(k: 1, k: 2)" in rendered and "^ given again" in rendered
    assert "help: give `k` once" in rendered


def test_record_literal_with_distinct_fields_checks(tmp_path: Path) -> None:
    text = DUP_FIELD.replace("record R { k: int[0..3] }", "record R { k: int[0..3]  m: int[0..3] }")
    assert _diags(tmp_path, text.replace("R(k: 1, k: 2)", "R(k: 1, m: 2)")) == []


# -- B. a read on the left of `or`, its bound check on the right

def test_or_read_before_its_bound_check_is_e0121(tmp_path: Path) -> None:
    diags = _diags(tmp_path, OR_BEFORE_CHECK.format(guard="xs[i] == 0 or i >= len(xs)"))
    assert [_where(d) for d in diags] == [("E0121", "`xs` is read at `i` before `i >= len(xs)` is checked", 4, 30)]
    assert diags[0].help == "check first: `i >= len(xs) or ...`, then the read"
    assert "`or` evaluates its left side first" in diags[0].notes[0]


def test_or_read_before_len_le_index_is_e0121(tmp_path: Path) -> None:
    diags = _diags(tmp_path, OR_BEFORE_CHECK.format(guard="xs[i] == 0 or len(xs) <= i"))
    assert [d.code for d in diags] == ["E0121"]


def test_and_read_before_its_bound_check_keeps_its_wording(tmp_path: Path) -> None:
    diags = _diags(tmp_path, OR_BEFORE_CHECK.format(guard="xs[i] == 0 and i < len(xs)"))
    assert [_where(d) for d in diags] == [("E0121", "`xs` is read at `i` before `i < len(xs)` is checked", 4, 30)]
    assert diags[0].help == "check first: `i < len(xs) and ...`, then the read"


@pytest.mark.parametrize("guard", [
    "i >= len(xs) or xs[i] == 0",  # the fix the help suggests
    "len(xs) <= i or xs[i] == 0",
    "(i >= len(xs) or xs[i] == 0) and i < 3",  # a guarded read inside the left side of `and`
    "n == 0 or i >= 2",  # no read at all
])
def test_or_with_its_bound_check_first_checks(tmp_path: Path, guard: str) -> None:
    assert _diags(tmp_path, OR_BEFORE_CHECK.format(guard=guard)) == []


# -- C. exponent notation

@pytest.mark.parametrize("value, col, help_text", [
    ("2.0e3", 19, "write the number out: `2000.0`"),
    ("2e3", 19, "write the number out: `2000` (an integer) or `2000.0` (a float)"),
    ("1.5E-3", 19, "write the number out: `0.0015`"),
    ("1.0 + 2e-3", 25, "write the number out: `0.002`"),
])
def test_exponent_notation_is_one_e0004(tmp_path: Path, value: str, col: int, help_text: str) -> None:
    diags = _diags(tmp_path, EXPONENT.format(value=value))
    literal = value.split()[-1]
    assert [_where(d) for d in diags] == [("E0004", f"the language has no exponent notation: `{literal}`", 3, col)]
    assert diags[0].help == help_text
    rendered = render_all(diags)
    assert f"s.envspec:3:{col}" in rendered and "^" * len(literal) + " not part of envspec" in rendered


def test_exponent_in_comments_strings_and_names_is_no_error(tmp_path: Path) -> None:
    text = """env ex "2e3 in a string"
state { y1e3: float32 = 0.0  y: float32 = 0.0 }
action go() {
    y = 2000.0  // not 2.0e3
    y1e3 = y
}
observe(p) -> float32[1] { return [y1e3] }
"""
    assert _diags(tmp_path, text) == []


# -- D. a constant read before its declaration

def test_constant_read_before_its_declaration_says_where_it_is(tmp_path: Path) -> None:
    diags = _diags(tmp_path, CONST_FORWARD)
    assert [_where(d) for d in diags] == [("E0100", "constant `B` is used before its declaration", 2, 11)]
    assert diags[0].label == "declared later, at line 3"
    assert diags[0].notes == [f"`B` is declared at {tmp_path / 's.envspec'}:3:1"]
    assert "constants must be declared before they are used" in (diags[0].help or "")


def test_constant_reading_itself_is_e0100(tmp_path: Path) -> None:
    diags = _diags(tmp_path, CONST_FORWARD.replace("const A = B + 1", "const A = A + 1"))
    assert [_where(d) for d in diags] == [("E0100", "constant `A` is defined in terms of itself", 2, 11)]


def test_constants_in_order_check(tmp_path: Path) -> None:
    assert _diags(tmp_path, CONST_FORWARD.replace("const A = B + 1\nconst B = 2", "const B = 2\nconst A = B + 1")) == []


# -- E. a leading byte order mark

def test_spec_with_a_byte_order_mark_checks(tmp_path: Path) -> None:
    assert _diags(tmp_path, PLAIN, encoding="utf-8-sig") == []
    assert (tmp_path / "s.envspec").read_bytes().startswith(b"\xef\xbb\xbf")


def test_positions_after_a_byte_order_mark_are_those_of_the_text(tmp_path: Path) -> None:
    diags = _diags(tmp_path, PLAIN.replace("n = 1", "n = 9"), encoding="utf-8-sig")
    assert [(d.code, d.span.line, d.span.col) for d in diags if d.span] == [("E0120", 3, 19)]


# -- F. a JSON object naming a key twice

def test_json_duplicate_key_is_e0151(tmp_path: Path) -> None:
    (tmp_path / "units.json").write_text('[{"name": "a", "cost": 2},\n {"name": "b", "cost": 2, "cost": 3}]\n')
    diags = _diags(tmp_path, JSON_TABLE)
    assert [_where(d) for d in diags] == [("E0151", "malformed data file `units.json`", 2, 17)]
    assert diags[0].notes == ["units.json:2:27: an object names key `cost` twice (first at line 2, column 16)"]


def test_json_duplicate_key_in_a_nested_object_is_e0151(tmp_path: Path) -> None:
    (tmp_path / "units.json").write_text('[{"cost": 2, "stats": {"hp": 1, "hp": 2}}]')
    diags = _diags(tmp_path, JSON_TABLE)
    assert [d.code for d in diags] == ["E0151"]
    assert diags[0].notes == ["units.json:1:33: an object names key `hp` twice (first at line 1, column 24)"]


def test_json_same_key_in_two_objects_checks(tmp_path: Path) -> None:
    (tmp_path / "units.json").write_text('[{"cost": 2, "stats": {"cost": 1}}, {"cost": 3}]')
    assert _diags(tmp_path, JSON_TABLE) == []


# -- G. no follow-on errors from a table whose data could not be read

def test_unreadable_table_gives_no_follow_on_type_error(tmp_path: Path) -> None:
    diags = _diags(tmp_path, MISSING_TABLE)
    assert [_where(d) for d in diags] == [("E0150", "data file `data/missing.csv` not found", 2, 17)]


def test_readable_table_with_too_few_rows_still_reports(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "missing.csv").write_text("price\n1\n")
    diags = _diags(tmp_path, MISSING_TABLE)
    assert [d.code for d in diags] == ["E0110"]


# -- the command line: a non-zero exit, the rendering on stderr, no traceback

@pytest.mark.parametrize("text", [DUP_FIELD, EXPONENT.format(value="2.0e3")])
def test_cli_check_exits_nonzero(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.envspec"
    path.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "ENVC_DEBUG"}
    proc = subprocess.run([sys.executable, "-m", "envc.cli", "check", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{path}:" in proc.stderr and "^" in proc.stderr and "help:" in proc.stderr


LET_MIN = """env letmin "x"
state { a: int[-9..9][4] = 0  low: int[-9..9] = 0 }
action go() {
    let m = 9
    for i in 0..4 {
        m = min(m, a[i])
    }
    low = m
}
observe(p) -> int[-9..9][1] { return [low] }
"""


def test_untyped_let_help_declares_a_range_that_checks(tmp_path: Path) -> None:
    """The help of E0120 for an untyped `let` lowered by `min` in a loop declares the least
    range closed under the assignment (-9..9), and following it checks: it declared the loops'
    reach, -63..9, and then `low = m` did not fit `low: int[-9..9]`."""
    (d,) = _diags(tmp_path, LET_MIN)
    assert d.code == "E0120" and "`let m: int[-9..9] = 9`" in (d.help or "")
    assert _diags(tmp_path, LET_MIN.replace("let m = 9", "let m: int[-9..9] = 9")) == []
