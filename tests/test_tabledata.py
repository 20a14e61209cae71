"""Data loading before checking (`envc.compiler.tabledata`, issue #15): every table's file is
read and parsed before type checking, and the checker itself reads no file."""

from __future__ import annotations

import os

import pytest

from envc.compiler import check, datafiles, tabledata
from envc.compiler.diagnostics import DiagnosticError
from envc.dsl.parser import parse, parse_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = ["tests/specs/kitchen_sink.envspec", "tests/specs/effects.envspec", "specs/tcg.envspec"]


def _write(folder, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_json_csv_deck_lists_and_patterns_are_read_into_rows(tmp_path):
    _write(tmp_path, "a.json", '{"rows": [{"name": "x", "v": 1}, {"name": "y", "v": 2}]}')
    _write(tmp_path, "b.csv", "name,v\nx,1\ny,2\n")
    _write(tmp_path, "decks/one.txt", "name: one\n2 A1-001 Bulbasaur\n")
    _write(tmp_path, "decks/two.txt", "name: two\n1 A1-002 Ivysaur\n")
    src = ('table A from "a.json" { v: int[0..9] }\ntable B from "b.csv" { v: int[0..9] }\n'
           'table C from "decks/*.txt" { name: text }\ntable D from "a.json" { v: int[0..9] }\n')
    mod = parse(src, str(tmp_path / "s.envspec"))
    got = tabledata.read_tables(mod, str(tmp_path))
    assert set(got) == {"a.json", "b.csv", "decks/*.txt"}  # a path read by two tables: once
    assert [r["v"] for r in got["a.json"].rows] == [1, 2]
    assert [r["v"] for r in got["b.csv"].rows] == ["1", "2"]  # CSV cells are text; the checker converts
    assert [r["name"] for r in got["decks/*.txt"].rows] == ["one", "two"]  # sorted by file name
    assert all(f.problem is None for f in got.values())


def test_quoted_csv_values_may_hold_commas_quotes_and_line_breaks(tmp_path):
    _write(tmp_path, "q.csv", 'name,v\n"a, ""b""",1\n"c\nd",2\n\ne,3\n')
    got = tabledata.read_table("q.csv", str(tmp_path))
    line = tabledata.ROW_LINE  # each row's first line (a quoted line break and a blank line shift them)
    assert got.problem is None and got.rows == [{"name": 'a, "b"', "v": "1", line: 2}, {"name": "c\nd", "v": "2", line: 3},
                                                {"name": "e", "v": "3", line: 6}]


def test_a_csv_file_may_start_with_a_byte_order_mark(tmp_path):
    """Spreadsheets save CSV with a UTF-8 byte order mark; it is not part of the first column's
    name (a fresh spec's `value` column was reported missing on every row)."""
    _write(tmp_path, "bom.csv", "\ufeffvalue,name\n1,x\n")
    got = tabledata.read_table("bom.csv", str(tmp_path))
    assert got.problem is None and got.rows == [{"value": "1", "name": "x", tabledata.ROW_LINE: 2}]


def test_json_and_deck_lists_may_start_with_a_byte_order_mark_and_suffixes_have_any_case(tmp_path):
    """Windows editors write a byte order mark: a JSON file was refused ("decode using
    utf-8-sig"), a deck list's first line unreadable; `u.CSV` was read as JSON."""
    _write(tmp_path, "b.json", '\ufeff[{"value": 1}]')
    assert tabledata.read_table("b.json", str(tmp_path)).rows == [{"value": 1}]
    _write(tmp_path, "d.txt", "\ufeff2 A1-001\n")
    assert tabledata.read_table("d.txt", str(tmp_path)).rows[0]["cards"] == ["A1-001", "A1-001"]
    _write(tmp_path, "u.CSV", "value\n1\n")
    assert tabledata.read_table("u.CSV", str(tmp_path)).rows == [{"value": "1", tabledata.ROW_LINE: 2}]


@pytest.mark.parametrize("name, text, code, where", [
    ("bad.json", '[{"v": 1},\n {"v": }]', "E0151", "bad.json:2:"),
    ("big.json", '[{"v": ' + "9" * 40 + "}]", "E0151", "bad.json:1:"),
    ("obj.json", '{"v": 1}', "E0151", None),
    ("empty.json", "[]", "E0151", None),
    ("wide.csv", "name,v\nx,1\ny,2,3\n", "E0151", "wide.csv:3:"),  # a field past the header's
    ("twice.csv", "v,v\n1,2\n", "E0151", "twice.csv:1:"),  # a column named twice
    # a quote never closed swallowed the rest of the file into one value ("line 2 has no `cost`")
    ("open.csv", 'name,v\nx,1\n"y,2\nz,3\n', "E0151", "open.csv:3:1: a quoted value is never closed"),
    ("after.csv", 'name,v\n"x"y,1\n', "E0151", "after.csv:2:4: a quoted value goes on after its closing quote"),
])
def test_a_bad_file_is_a_problem_not_an_exception(tmp_path, name, text, code, where):
    _write(tmp_path, name, text)
    got = tabledata.read_table(name, str(tmp_path))
    assert got.rows is None and got.problem is not None and got.problem.code == code
    if where is not None:
        assert got.problem.notes and got.problem.notes[0].startswith(where.replace("bad.json", name))


def test_missing_files_and_patterns_name_what_was_looked_for(tmp_path):
    missing = tabledata.read_table("nope.json", str(tmp_path))
    none = tabledata.read_table("decks/*.txt", str(tmp_path))
    assert missing.problem is not None and missing.problem.code == "E0150" and "nope.json" in missing.problem.message
    assert none.problem is not None and none.problem.code == "E0150" and "decks/*.txt" in none.problem.message


def test_a_file_named_like_a_pattern_is_read_as_named(tmp_path):
    _write(tmp_path, "u[1].json", '[{"v": 1}]')
    _write(tmp_path, "u1.json", '[{"v": 2}]')
    _write(tmp_path, "w2.json", '[{"v": 3}]')
    assert tabledata.read_table("u[1].json", str(tmp_path)).rows == [{"v": 1}]  # not the pattern's `u1.json`
    assert tabledata.read_table("w[0-9].json", str(tmp_path)).rows == [{"v": 3}]  # no such file: a pattern


def test_a_problem_in_one_matched_file_names_that_file(tmp_path):
    _write(tmp_path, "decks/a.txt", "name: a\n2 A1-001 Bulbasaur\n")
    _write(tmp_path, "decks/b.txt", "name: b\nthis line is nothing\n")
    got = tabledata.read_table("decks/*.txt", str(tmp_path))
    assert got.problem is not None and "decks/b.txt" in got.problem.message


def test_the_checker_reports_the_problem_at_the_tables_path(tmp_path):
    _write(tmp_path, "bad.json", '[{"v": 1},\n {"v": }]')
    path = tmp_path / "s.envspec"
    path.write_text('table A from "bad.json" { v: int[0..9] }\n', encoding="utf-8")
    with pytest.raises(DiagnosticError) as err:
        check.check(parse_file(str(path)))
    d = next(d for d in err.value.diagnostics if d.code == "E0151")
    assert d.span.line == 1 and d.span.col == 14  # the path literal, quotes included
    assert d.notes == ["bad.json:2:8: not valid JSON: expecting value"]


@pytest.mark.parametrize("spec", SPECS)
def test_checking_reads_no_file_once_the_data_is_loaded(spec, monkeypatch):
    """The seam: `check` reads the tables' files first; the checker then works on rows only."""
    mod = parse_file(os.path.join(ROOT, spec))
    data = tabledata.read_tables(mod, os.path.dirname(os.path.join(ROOT, spec)))
    assert data and all(f.rows for f in data.values())

    def no_io(*args, **kwargs):
        raise AssertionError(f"file read while checking: {args}")

    monkeypatch.setattr(datafiles, "read_text", no_io)
    monkeypatch.setattr(tabledata, "read_text", no_io)
    module = check.Checker(mod, None, lambda d: True, data=data).run()
    assert {t.path for t in module.tables} <= set(data)


def test_an_unreadable_deck_line_is_quoted_on_one_line(tmp_path):
    """The line a deck list cannot read is quoted with its runs of whitespace as one space, as
    every diagnostic quotes input (`diagnostics.shorten`)."""
    _write(tmp_path, "decks/a.txt", "name: a\nthis \t line   is nothing\n")
    got = tabledata.read_table("decks/*.txt", str(tmp_path))
    assert got.problem is not None
    assert got.problem.notes == ["decks/a.txt:2:1: `this line is nothing` is neither `key: value` nor `N ID name`"]


def test_rows_of_one_name_are_told_apart(tmp_path):
    """`envc run` names a row by its `name` (or `id`): two team files both named `ou_classic`
    gave match-up rows no one could tell apart. A repeated name gets its row number."""
    from envc.compiler.check import load

    _write(tmp_path, "t.json", '[{"name": "ou"}, {"name": "uu"}, {"name": "ou"}]')
    _write(tmp_path, "s.envspec", 'env s "d"\ntable T from "t.json" { hp: int[0..9] default 0 }\nstate { a: int[0..1] = 0 }\n'
           'action go() { terminate() }\nobserve(p) -> int[0..1] { return a }\n')
    m = load(str(tmp_path / "s.envspec"))
    assert m.tables[0].labels == ["ou", "uu", "ou #2"]


def test_a_json_bool_column_takes_1_and_0_as_its_message_says(tmp_path):
    """E0152 for a bool column says `1` and `0` are booleans; a JSON row's numbers 1 and 0 were
    refused with that very message (hunt N). Other numbers stay refused."""
    from envc.compiler.check import load

    _write(tmp_path, "t.json", '[{"name": "a", "b": 1}, {"name": "c", "b": 0}, {"name": "d", "b": true}]')
    path = tmp_path / "s.envspec"
    body = 'env s "s"\nplayers 1\ntable T from "t.json" { b: bool }\nstate { x: bool = false }\n' \
           "action pick(t: T) { x = t.b }\nobserve(p) -> bool { return x }\n"
    path.write_text(body, encoding="utf-8")
    assert load(str(path)).table("T").columns[0].values == [True, False, True]
    _write(tmp_path, "t.json", '[{"name": "a", "b": 2}, {"name": "c", "b": 1.0}]')
    with pytest.raises(DiagnosticError) as err:
        load(str(path))
    assert [n.split(": ", 1)[1] for n in err.value.diagnostics[0].notes] == \
        ["`b` = 2 is not a boolean (`true`, `false`, `1` or `0`)", "`b` = 1.0 is not a boolean (`true`, `false`, `1` or `0`)"]


def test_rows_of_one_name_get_labels_no_other_row_has(tmp_path):
    """Repeated names are told apart by a row number, and never become the name of another row
    (`x`, `x #2`, `x` gave two `x #2`: hunt N)."""
    from envc.compiler.check import load

    _write(tmp_path, "t.json", '[{"name": "x"}, {"name": "x #2"}, {"name": "x"}, {"name": "y"}]')
    path = tmp_path / "s.envspec"
    path.write_text('env s "s"\nplayers 2\ntable T from "t.json" { }\nstate { ts: T[2] @matchup }\n'
                    "action go() { terminate() }\nobserve(p) -> int[0..3] { return int(ts[p]) }\n", encoding="utf-8")
    labels = load(str(path)).table("T").labels
    assert labels == ["x", "x #2", "x #3", "y"] and len(set(labels)) == len(labels)


def test_a_csv_headers_names_are_trimmed_as_its_cells_are(tmp_path):
    """`name, power`: the header's second name is `power` (it was " power", and the checker said
    line 2 had no `power`: hunt N)."""
    from envc.compiler.check import load

    _write(tmp_path, "v.csv", "name, power\na, 1\nb,  -2\n")
    path = tmp_path / "s.envspec"
    path.write_text('env s "s"\nplayers 1\ntable U from "v.csv" { power: int[-9..9] }\nstate { x: int[-9..9] = 0 }\n'
                    "action pick(u: U) { x = u.power }\nobserve(p) -> int[-9..9] { return x }\n", encoding="utf-8")
    assert load(str(path)).table("U").columns[0].values == [1, -2]


def test_repeated_row_labels_are_told_apart_without_a_scan_per_row():
    """Hunt U: 60,000 rows of one `name` took minutes to check: each repeated label was looked up
    in the list of all labels (a scan per row). The labels are a set now; a list whose membership
    test fails proves no row scans it."""
    from envc.compiler.check_tables import _unique

    class NoScan(list):
        def __contains__(self, item):
            raise AssertionError("a scan of the labels")

    assert _unique(NoScan(["x", "x #2", "x", "y", "x"])) == ["x", "x #2", "x #3", "y", "x #4"]
