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


#: one level of indentation of generated code
INDENT = "    "


class Emitter:
    """Lines of generated code at an indentation depth (`INDENT` a level)."""

    def __init__(self, depth: int = 1):
        self.lines: list[str] = []
        self.depth = depth

    def emit(self, line: str) -> None:
        self.lines.append(INDENT * self.depth + line)


#: An expression whose subtree is this many levels high is bound to a temporary (a Python
#: name, a Rust `let`), so that generated code never nests deeper than about this many
#: operations: Python refuses more than 200 nested parentheses and its compiler recurses
#: on long operator chains (a 500-term sum in a fill must still compile).
SPLIT_HEIGHT = 24


class Heights:
    """Heights of IR expressions (0 for a leaf, 1 + the highest child otherwise, types not
    counted), computed without recursion and cached per node object."""

    def __init__(self) -> None:
        self._cache: dict[int, int] = {}
        self._keep: list = []  # the nodes measured stay alive, so that their ids stay theirs

    def __call__(self, e) -> int:
        from envc.compiler import ir

        if id(e) in self._cache:
            return self._cache[id(e)]
        stack = [(e, False)]
        while stack:
            node, done = stack.pop()
            if id(node) in self._cache:
                continue
            kids = [k for k in ir.children(node) if isinstance(k, ir.ExprNode)]
            if not done:
                stack.append((node, True))
                stack.extend((k, False) for k in kids if id(k) not in self._cache)
                continue
            self._cache[id(node)] = 1 + max((self._cache[id(k)] for k in kids), default=-1)
            self._keep.append(node)
        return self._cache[id(e)]

    def split(self, e) -> bool:
        """True when `e` is bound to a temporary: its height is a positive multiple of
        `SPLIT_HEIGHT`, so that between two bound nodes there are fewer levels than that."""
        h = self(e)
        return h > 0 and h % SPLIT_HEIGHT == 0
