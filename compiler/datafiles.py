"""Reading the files a spec names (data tables, deck lists), its fill file and the spec
itself, as untrusted input.

Public surface: `read_text(path, base_dir=None) -> str`, `DataFileError`, `POLICY` (what
the user allows: `allow_outside`, `max_bytes`), `line_col(text, offset)`.

The rules (decisions made here, for every caller alike):
- only a regular file is read: a folder, a device (`/dev/zero`), a FIFO or a socket is
  refused before anything is read. The file is opened with `O_NONBLOCK`, so that opening a
  FIFO cannot block, and checked with `fstat` on the open descriptor (no race between a
  check and the open);
- at most `POLICY.max_bytes` bytes (64 MiB unless the user sets `ENVC_MAX_DATA_BYTES`):
  a bigger file is refused, and reading stops one byte past the cap whatever `fstat` said;
- with `base_dir` (data files of a spec), the file must lie inside the spec's folder once
  every symlink is resolved (`os.path.realpath`): an absolute path, `..` or a symlink that
  leaves the folder is refused unless the user allows it (`envc --allow-outside-data`,
  or `ENVC_ALLOW_OUTSIDE_DATA=1`);
- the text must be UTF-8: a bad byte is reported with its line and column.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass
class Policy:
    """What the user allows when files are read (set once, by the command line)."""

    allow_outside: bool = os.environ.get("ENVC_ALLOW_OUTSIDE_DATA") == "1"
    max_bytes: int = int(os.environ.get("ENVC_MAX_DATA_BYTES") or DEFAULT_MAX_BYTES)


POLICY = Policy()


class DataFileError(Exception):
    """A file that may not or cannot be read: `code` (E0150: not there or not allowed,
    E0151: unreadable content), `message`, and the position of the problem in the file
    (`line`, `col`, 1-based) when there is one."""

    def __init__(self, code: str, message: str, line: int | None = None, col: int | None = None,
                 help: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.col = col
        self.help = help


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of character `offset` of `text` (lines end at `\\n`)."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def inside(path: str, base_dir: str) -> bool:
    """True when `path`, every symlink resolved, lies inside folder `base_dir`."""
    real, root = os.path.realpath(path), os.path.realpath(base_dir)
    try:
        return os.path.commonpath([real, root]) == root
    except ValueError:  # different drives
        return False


def read_bytes(path: str, base_dir: str | None = None) -> bytes:
    """The bytes of the regular file at `path` (see the module docstring for the rules).

    Raises:
        DataFileError: the file is missing, outside `base_dir`, not a regular file, too big,
            or cannot be read.
    """
    if base_dir is not None and not POLICY.allow_outside and not inside(path, base_dir):
        raise DataFileError("E0150", "the file lies outside the spec's folder",
                            help="data files are read from the spec's folder and below; to allow others, "
                                 "run `envc --allow-outside-data ...` (or set ENVC_ALLOW_OUTSIDE_DATA=1)")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise DataFileError("E0150", "no such file") from None
    except OSError as err:
        raise DataFileError("E0150", f"cannot open it: {err.strerror or err}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a device, FIFO or socket"
            raise DataFileError("E0151", f"it is {kind}, not a regular file")
        cap = POLICY.max_bytes
        if info.st_size > cap:
            raise DataFileError("E0151", f"it has {info.st_size:,} bytes, more than the limit of {cap:,}",
                                help="set ENVC_MAX_DATA_BYTES to allow bigger files")
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > cap:
            raise DataFileError("E0151", f"it has more than the limit of {cap:,} bytes",
                                help="set ENVC_MAX_DATA_BYTES to allow bigger files")
        return b"".join(chunks)
    except OSError as err:
        raise DataFileError("E0151", f"cannot read it: {err.strerror or err}") from None
    finally:
        os.close(fd)


def read_text(path: str, base_dir: str | None = None) -> str:
    """The UTF-8 text of the regular file at `path` (see `read_bytes`); a byte that is not
    UTF-8 raises DataFileError with its line and column."""
    data = read_bytes(path, base_dir)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        good = data[:err.start].decode("utf-8")
        line, col = line_col(good, len(good))
        raise DataFileError("E0151", f"byte 0x{data[err.start]:02x} is not UTF-8", line, col,
                            help="save the file as UTF-8") from None
