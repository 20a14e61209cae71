"""Data loading: the files a spec's `table` declarations name, read and parsed before type
checking (issue #15: no file I/O inside the checker).

Public surface: `read_tables(module_ast, base_dir) -> dict[str, TableFile]` (keyed by the
declaration's path as written), `read_table(path, base_dir) -> TableFile` (one path),
`TableFile`, `Problem`, `MAX_GLOB_FILES`.

Decisions made here:
- every file is read through `envc.compiler.datafiles.read_text` (regular files only, a size
  cap, inside the spec's folder unless the user allows more, UTF-8), so the rules for
  untrusted input hold for every table alike;
- the format follows the file name: `.csv` (a header line, then one row a line), `.txt`
  (one deck list, one row: `envc.compiler.decklist`), anything else JSON (a list of objects,
  or an object whose `rows` is one); integers of more than 30 digits are refused before
  Python converts them, and an object that names a key twice is refused (E0151, as a CSV
  header naming a column twice), where `json` would keep the last value silently;
- a path with `*`, `?` or `[` is a pattern: one or more files per match, sorted by name, at
  most `MAX_GLOB_FILES` of them; a problem in one matched file names that file;
- a path read by several tables is read once (the same rows object is shared);
- a file that cannot be used gives a `Problem` (code, message, label, notes, help), not an
  exception: the checker reports it at the declaration's path span, with the others.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from envc.compiler import decklist
from envc.compiler.datafiles import DataFileError, line_col, read_text
from envc.compiler.diagnostics import Sources, shorten
from envc.dsl import ast

MAX_GLOB_FILES = 10_000  # files one table's `*` pattern may read


@dataclass(frozen=True)
class Problem:
    """Why a data file cannot be used: a diagnostic without its span (the checker puts it at
    the table declaration's path)."""

    code: str
    message: str
    label: str = ""
    help: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TableFile:
    """The rows of a table's file(s) (each a `dict` as the file gives it), or the problem
    that stopped reading them."""

    rows: list[dict] | None
    problem: Problem | None = None


def read_tables(mod: ast.Module, base_dir: str) -> dict[str, TableFile]:
    """Read the data file of every `table` declaration of `mod`.

    Args:
        mod: the parsed spec.
        base_dir: the spec's folder; paths are relative to it.

    Returns:
        {declared path: TableFile}, one entry per distinct path.

    Raises nothing for a bad file: see `TableFile.problem`.
    """
    out: dict[str, TableFile] = {}
    for d in mod.decls:
        if isinstance(d, ast.TableDecl) and d.path not in out:
            out[d.path] = read_table(d.path, base_dir)
    return out


def read_table(path: str, base_dir: str) -> TableFile:
    """The rows of the data file (or pattern) `path`, as a `table ... from "path"` names it,
    relative to the spec's folder `base_dir`. Raises nothing for a bad file: see
    `TableFile.problem`."""
    return _read(path, os.path.join(base_dir, path), base_dir)


def _read(shown: str, path: str, base_dir: str) -> TableFile:
    if not shown.strip():  # `from ""` joined to the spec's folder, which "is a folder, not a regular file"
        return TableFile(None, Problem("E0150", "the data file's path is empty", "no path",
                                       help='name a file relative to the spec\'s folder, `from "data/cards.json"`'))
    if any(ch in shown for ch in "*?[") and not os.path.lexists(path):  # a file named `u[1].json` is read as named
        return _read_glob(shown, path, base_dir)
    if not os.path.lexists(path):
        return TableFile(None, Problem("E0150", f"data file `{shown}` not found", "no such file",
                                       help=f"paths are relative to the spec's folder: looked for "
                                            f"`{os.path.relpath(path)}`"))
    try:
        rows = _parse(path, read_text(path, base_dir))
    except DataFileError as err:
        return TableFile(None, _file_problem(shown, err))
    if isinstance(rows, dict) and isinstance(rows.get("rows"), list):
        rows = rows["rows"]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return TableFile(None, Problem("E0151", f"`{shown}` must hold a list of objects (one per row)",
                                       help='write `[{"col": 1, ...}, ...]` or a CSV file with a header line'))
    if not rows:
        return TableFile(None, Problem("E0151", f"`{shown}` has no rows"))
    return TableFile(rows)


def _read_glob(shown: str, pattern: str, base_dir: str) -> TableFile:
    """One row per file matching `pattern` (sorted by name): `data/decks/*.txt`."""
    paths = sorted(glob.glob(pattern))[:MAX_GLOB_FILES + 1]
    if len(paths) > MAX_GLOB_FILES:
        return TableFile(None, Problem("E0151", f"more than {MAX_GLOB_FILES} files match `{shown}`",
                                       "too many files", help="a table reads at most that many files"))
    if not paths:
        return TableFile(None, Problem("E0150", f"no data file matches `{shown}`", "no such files",
                                       help=f"paths are relative to the spec's folder: looked for "
                                            f"`{os.path.relpath(pattern)}`"))
    rows: list[dict] = []
    for path in paths:
        got = _read(os.path.relpath(path, base_dir), path, base_dir)
        if got.rows is None:
            return got
        rows.extend(got.rows)
    return TableFile(rows)


def _file_problem(shown: str, err: DataFileError) -> Problem:
    if err.line is None:
        return Problem(err.code, f"cannot read `{shown}`: {err.message}", "cannot be read", help=err.help)
    return Problem(err.code, f"malformed data file `{shown}`", "malformed file", help=err.help,
                   notes=[f"{shown}:{err.line}:{err.col}: {err.message}"])


def is_csv(path: str) -> bool:
    """Whether data file `path` is read as CSV (its suffix, in any case: `u.CSV` was read as JSON)."""
    return path.lower().endswith(".csv")


def _parse(path: str, text: str) -> Any:
    # a UTF-8 byte order mark (Windows editors write one) is no content, in any format
    if is_csv(path):
        return _csv_rows(text)
    text = text.removeprefix("\ufeff")
    if path.lower().endswith(".txt"):
        return [_deck_list(path, text)]
    return _json_rows(text)


def _deck_list(path: str, text: str) -> dict:
    """One row from a deck-list file (`envc.compiler.decklist`: `key: value`, `N ID [name]`,
    `N NAME [details]`), its text registered for diagnostics that point into it.

    Raises:
        DataFileError: a line that is none of these (with its line), or more than
            `decklist.MAX_DECK_CARDS` cards in all.
    """
    shown = os.path.relpath(path)
    Sources.add(shown, text)  # problems with a value point into the file
    row = decklist.parse(path, text, shown)
    bad = row.pop("unreadable", None)
    if bad:
        number, line = bad[0]
        raise DataFileError("E0151", f"`{shorten(line)}` is neither `key: value` nor `N ID name`", number, 1,
                            help="write `2 A1-001 Bulbasaur` (count in digits 0-9, card id, name), `energy: Grass`, "
                                 "or an entry with details, `1 Tauros [Body Slam, Hyper Beam]`")
    return row


class _BigInt(ValueError):
    """A JSON integer too long to be a value of any type (it would take Python ages to convert)."""


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > 30:
        raise _BigInt(text)
    return int(text)


class _DuplicateKey(ValueError):
    """A JSON object that names `key` twice (`json` would keep the last value silently)."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object's dict (`object_pairs_hook`); a key given twice raises _DuplicateKey."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]')  # a string, or a bracket that opens or closes
_KEY_END = re.compile(r"[ \t\r\n]*:")


def _duplicate_key_offsets(text: str, key: str) -> tuple[int, int] | None:
    """Offsets of the first and the second `key` in an object of the JSON `text` that names it
    twice, or None. Only on the error path (`json` says which key, not where): a scan of the
    strings and brackets, which tracks the keys of each open object; the text is valid JSON up
    to there, since `json` reached the end of that object."""
    stack: list[dict[str, int] | None] = []  # per open bracket: an object's keys, None for a list
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        if tok in ("{", "["):
            stack.append({} if tok == "{" else None)
            continue
        if tok in ("}", "]"):
            del stack[-1:]
            continue
        keys = stack[-1] if stack else None
        if keys is None or not _KEY_END.match(text, m.end()) or json.loads(tok) != key:
            continue
        if key in keys:
            return keys[key], m.start()
        keys[key] = m.start()
    return None


def _json_rows(text: str) -> Any:
    """The value of a JSON data file; malformed content raises DataFileError with a position.
    An object that names a key twice is E0151, as a CSV header naming a column twice is
    (`json` would keep the last value silently)."""
    try:
        value = json.loads(text, parse_int=_json_int, object_pairs_hook=_unique_pairs)
        if _SURROGATE_ESCAPE.search(text) and _has_surrogate(value):  # (only an escape makes one: UTF-8 cannot)
            raise _lone_surrogate_error(text)
        return value
    except _DuplicateKey as err:
        raise _duplicate_key_error(text, err.key) from None
    except json.JSONDecodeError as err:
        raise DataFileError("E0151", f"not valid JSON: {err.msg[:1].lower()}{err.msg[1:]}", err.lineno,
                            err.colno) from None
    except _BigInt as err:
        digits = str(err)
        at = text.find(digits)
        line, col = line_col(text, max(at, 0))
        raise DataFileError("E0151", f"an integer of {len(digits.lstrip('-'))} digits", line, col,
                            help="integers are at most 32 bits") from None
    except RecursionError:
        raise DataFileError("E0151", "the JSON nests too deeply") from None


#: a JSON escape of a UTF-16 surrogate: a high one with its low one (a pair: one character), or alone
_SURROGATE_ESCAPE = re.compile(r"(\\u[dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?|\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _has_surrogate(value: Any) -> bool:
    """Whether a string of the JSON `value` (keys too) holds a lone surrogate, which is no
    character: `"\ud800"` is valid JSON, and a text holding it could not be written out as
    UTF-8 (hunt N: an internal error in `envc check` and `envc run`)."""
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, list):
        return any(_has_surrogate(x) for x in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(x) for k, x in value.items())
    return False


def _lone_surrogate_error(text: str) -> DataFileError:
    """E0151 at the first escape of a lone surrogate in the JSON `text` (no position when the
    scan finds none, e.g. behind an escaped backslash)."""
    at = next((m.start() for m in _SURROGATE_ESCAPE.finditer(text) if not (m.group(1) and m.group(2))), None)
    line, col = line_col(text, at) if at is not None else (None, None)
    return DataFileError("E0151", "a `\\uD800`-`\\uDFFF` escape without its pair is no character", line, col,
                         help="write the character itself (the file is UTF-8), or a pair of escapes for one "
                              "beyond U+FFFF")


def _duplicate_key_error(text: str, key: str) -> DataFileError:
    """The E0151 of a JSON object naming `key` twice: at the second key, the first's line and
    column in the message (no position if the scan finds none, which valid JSON rules out)."""
    try:
        at = _duplicate_key_offsets(text, key)
    except ValueError:  # a malformed string past the object (never before it: `json` read that far)
        at = None
    message = f"an object names key `{shorten(key)}` twice"
    if at is None:
        return DataFileError("E0151", message, help="give each key once")
    first_line, first_col = line_col(text, at[0])
    line, col = line_col(text, at[1])
    return DataFileError("E0151", f"{message} (first at line {first_line}, column {first_col})", line, col,
                         help="give each key once: a second value would silently replace the first")


def _csv_rows(text: str) -> list[dict]:
    """The rows of a CSV data file (a header line, then one row a line). A leading UTF-8 byte
    order mark (spreadsheets write one) is skipped; a header that names a column twice and a
    row with more fields than the header are E0151 (both lost values silently before)."""
    text = text.removeprefix("\ufeff")
    # strict: a quote never closed is an error, not a field that swallows the rest of the file
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=_EXTRA, strict=True)
    rows: list[dict] = []
    try:
        if reader.fieldnames:  # names trimmed as cells are: `name, power` names `power` (hunt N: "no `power`")
            reader.fieldnames = [n.strip() for n in reader.fieldnames]
        for row in reader:  # its line: the reader's last line less the line breaks of its quoted values
            inside = sum(v.count("\n") for v in row.values() if isinstance(v, str))
            row[ROW_LINE] = reader.line_num - inside  # (blank lines and quoted line breaks shift rows)
            rows.append(row)
    except csv.Error as err:
        quote = _quote_problem(text)
        if quote is not None:
            message, fix, line, col = quote
            raise DataFileError("E0151", message, line, col, help=fix) from None
        raise DataFileError("E0151", f"not valid CSV: {err}", reader.line_num or None, 1 if reader.line_num else None
                            ) from None
    names = reader.fieldnames or []
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise DataFileError("E0151", f"the header names column `{shorten(twice)}` twice", 1, 1,
                            help="give each column its own name")
    for row in rows:
        number = row[ROW_LINE]
        if _EXTRA in row:
            raise DataFileError("E0151", f"line {number} has {len(names) + len(row[_EXTRA])} fields, the header "
                                f"{len(names)}", number, 1,
                                help="quote a value that holds a comma (`\"a, b\"`), or add the column to the header")
    return rows


def _quote_problem(text: str) -> tuple[str, str, int, int] | None:
    """The first misplaced quote of CSV `text` (RFC 4180: a field quoted from its start, `""`
    inside it one quote, the closing quote followed by `,` or the line's end): (message,
    help, line, column), or None."""
    opened, field_start, at = None, True, 0
    while at < len(text):
        ch = text[at]
        if opened is not None and text.startswith('""', at):
            at += 2
            continue
        if opened is not None and ch == '"':
            opened = None
            if at + 1 < len(text) and text[at + 1] not in ",\r\n":
                return ("a quoted value goes on after its closing quote", 'quote the whole value, writing a quote '
                        'inside it as `""`', *line_col(text, at + 1))
        elif opened is None and ch == '"' and field_start:
            opened = at
        field_start = opened is None and ch in ",\r\n"
        at += 1
    if opened is None:
        return None
    return ("a quoted value is never closed: the quote opened here runs to the end of the file",
            'close it with a second `"` (write a quote inside a quoted value as `""`)', *line_col(text, opened))


#: the key of a CSV row's line in its file: a tuple, which no header can name (as
#: `decklist.LINES`); diagnostics read it (a quoted value may span lines, blank lines are skipped)
ROW_LINE = ("envc", "line")
_EXTRA = "\0extra"  # (the key under which `csv.DictReader` puts a row's fields past the header's)
