"""Deck lists (`*.txt` data files): one table row per file, with the line of every value.

Public surface: `parse(path, text) -> dict`, `line_of(row, source, index) -> int | None`,
`source_of(row) -> (path, text) | None`, `Problem`.

The format (`specs/data/decks/*.txt`, `specs/data/pokemon-gen1/lineups/*.txt`):

* `#` starts a comment; blank lines are skipped;
* `key: value` sets the row's field `key` (a string);
* `N ID [name...]` adds N copies of ID to the field `cards` (a card list: `2 A1-001 Bulbasaur`);
* `N NAME [a, b, c]` adds N copies of NAME (everything before the `[`) to `cards` and, for
  each copy, the list `[a, b, c]` to the field `details` (an entry with details: a team
  member and its moves, `1 Mr. Mime [Psychic, Thunderbolt, Seismic Toss, Thunder Wave]`);
  an entry without details adds `[]` there, so `details[i]` belongs to `cards[i]`;
* any other line is unreadable (listed under `unreadable` as (line number, text)).

Counts are ASCII digits; more than `MAX_DECK_CARDS` cards in one list raises `DataFileError`.

The row's `name` is the file's stem unless a `name:` line gives one. The line of each value
is kept (`line_of`), so that a value the checker refuses (an unknown card, a seventh team
member, a fifth move) is reported at its line of the file.
"""

from __future__ import annotations

import os
import re
from typing import Any

from envc.compiler.datafiles import DataFileError

# Decision: the bookkeeping keys of a row are tuples, which no data file can hold (JSON keys
# and CSV headers are strings): `"__source__"` and `"__lines__"` read from a JSON row were taken
# for a deck list's (internal errors, and a diagnostic pointing at a file the row named)
LINES = ("envc", "lines")
SOURCE = ("envc", "source")
#: `key: value` lines a deck list may not give: the fields envc fills from its card lines
RESERVED = ("cards", "details", "unreadable")
_ENTRY = re.compile(r"([0-9]{1,9})\s+([^\[\]]+?)\s*\[([^\[\]]*)\]$")
_COUNT = re.compile(r"[0-9]{1,9}")  # ASCII digits only: a Unicode digit is not a count (issue 13)
MAX_DECK_CARDS = 100_000  # cards one deck list may hold (`N ID name` lines add N each)


class Problem(str):
    """A problem with a data value, and the index path (into nested lists) of the item at fault."""

    at: tuple[int, ...] = ()
    whole: bool = False  # a problem of the whole list (its size); `at` is the item where it shows

    def __new__(cls, text: str, at: tuple[int, ...] = (), whole: bool = False):
        obj = super().__new__(cls, text)
        obj.at = at
        obj.whole = whole
        return obj


def parse(path: str, text: str, shown_path: str | None = None) -> dict:
    """One row from the text of a deck list (see the module docstring). `shown_path` is how
    diagnostics name the file (default `path`)."""
    row: dict[Any, Any] = {"name": os.path.splitext(os.path.basename(path))[0], "cards": [], "details": []}
    lines: dict[str, Any] = {"cards": [], "details": []}
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        entry = _ENTRY.match(line)
        head = line.split(None, 1)
        added = int(entry.group(1)) if entry else int(head[0]) if _COUNT.fullmatch(head[0]) else 0
        if len(row["cards"]) + added > MAX_DECK_CARDS:
            raise DataFileError("E0151", f"more than {MAX_DECK_CARDS} cards in one deck list", number,
                                len(raw) - len(raw.lstrip()) + 1)
        if entry:
            count, name, details = int(entry.group(1)), entry.group(2).strip(), entry.group(3)
            items = [x.strip() for x in details.split(",") if x.strip()]
            row["cards"].extend([name] * count)
            row["details"].extend([list(items) for _ in range(count)])
        elif _COUNT.fullmatch(head[0]) and len(head) == 2 and "[" not in line and "]" not in line:
            count = int(head[0])
            row["cards"].extend([head[1].split()[0]] * count)
            row["details"].extend([[] for _ in range(count)])
        elif ":" in line and line.split(":", 1)[0].strip() in RESERVED:
            key = line.split(":", 1)[0].strip()
            raise DataFileError("E0151", f"`{key}:` names a field envc fills from the list's lines", number,
                                len(raw) - len(raw.lstrip()) + 1,
                                help="give each card on its own line (`N ID`), or name the key otherwise")
        elif ":" in line and not line.startswith("__"):
            key, value = line.split(":", 1)
            if key.strip() in lines:  # (as the JSON reader: a second value would replace the first; hunt N)
                raise DataFileError("E0151", f"`{key.strip()}:` is given twice (first on line {lines[key.strip()]})",
                                    number, len(raw) - len(raw.lstrip()) + 1, help="give each key once")
            row[key.strip()] = value.strip()
            lines[key.strip()] = number
            continue
        else:
            row.setdefault("unreadable", []).append((number, line))
            continue
        lines["cards"].extend([number] * count)
        lines["details"].extend([number] * count)
    row[LINES] = lines
    row[SOURCE] = (shown_path or path, text)
    return row


def line_of(row: dict, source: str, index: tuple[int, ...] = ()) -> int | None:
    """The line of the value that column path `source` (`cards`, `details.0`, a key) reads in
    a deck-list row, at list position `index[0]` when it is a list; None for other rows."""
    lines = row.get(LINES)
    if not isinstance(lines, dict):
        return None
    parts = source.split(".")
    at = lines.get(parts[0])
    if isinstance(at, int):
        return at
    if not isinstance(at, list) or not at:
        return None
    # `details.2` reads entry 2 itself; otherwise the first index picks the entry
    if len(parts) > 1 and parts[1].isdigit():
        i = int(parts[1])
    elif index:
        i = index[0]
    else:
        return at[0]
    return at[min(i, len(at) - 1)]


def source_of(row: dict) -> tuple[str, str] | None:
    """(path as diagnostics show it, text) of a deck-list row, or None."""
    return row.get(SOURCE)
