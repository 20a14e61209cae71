"""Backends: `envc.codegen.jax` and `envc.codegen.rust`; each turns the checked IR into files.

Public surface here: `Emitter`, the indented line buffer both lowerings write code into.
"""


class Emitter:
    """Lines of generated code at an indentation depth (4 spaces a level)."""

    def __init__(self, depth: int = 1):
        self.lines: list[str] = []
        self.depth = depth

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)
