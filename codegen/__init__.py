"""Backends: `envc.codegen.jax`, `envc.codegen.rust` and `envc.codegen.python`; each turns
the checked IR into files.

Public surface here: `Emitter`, the indented line buffer the lowerings write code into, and
`write_files`, which every backend's `write` uses.
"""

import os


def write_files(files: dict[str, str], out_dir: str) -> list[str]:
    """Write generated files (`{"src/lib.rs": text, ...}`, `/`-separated names) below
    `out_dir`, creating folders as needed; returns the paths written. Files of an earlier
    generation that are no longer generated are left alone."""
    paths = []
    for name, text in files.items():
        path = os.path.join(out_dir, *name.split("/"))
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        paths.append(path)
    return paths


class Emitter:
    """Lines of generated code at an indentation depth (4 spaces a level)."""

    def __init__(self, depth: int = 1):
        self.lines: list[str] = []
        self.depth = depth

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)
