"""The built-in functions of the language, in one table that the checker and every backend
read (the checker for names and arity, each backend for its rendering).

Public surface: `BuiltinDef`, `BUILTINS` (name -> definition), `FUNCTIONS` (names called as
`name(args)` in specs), `FLOAT_MATH` (the float32 -> float32 functions).

Typing rules live in the checker (`Checker.builtin`), ranges in `envc.compiler.ranges`; what
the table fixes is the set of names, how each is called, and how the float32 math functions
are computed on each backend. float32 math is not bit-exact across numpy, XLA and Rust's
libm (`sin`, `cos`, `exp` may differ in the last bit), which is why float fields are compared
within a tolerance (DESIGN.md, decision 3); `sqrt` and `floor` are exact everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class BuiltinDef:
    """One built-in.

    Attributes:
        name: the name in specs.
        arity: the number of arguments; None for "two or more" (`min`, `max`).
        call: `function` (`min(a, b)`), `method` (`xs.count(v)`: the IR's first argument is
            the list) or `ensures` (`old(x)`, only in a hole's `ensures` clause).
        doc: one line for error messages and the README.
        numpy: for float32 math, the numpy ufunc the interpreter applies (then rounds to float32).
        jax: for float32 math, the `jnp` function the JAX backend emits.
        rust: for float32 math, the `f32` method the Rust backend emits.
    """

    name: str
    arity: int | None
    call: Literal["function", "method", "ensures"]
    doc: str
    numpy: Callable | None = None
    jax: str | None = None
    rust: str | None = None


def _math(name: str, doc: str) -> BuiltinDef:
    return BuiltinDef(name, 1, "function", doc, numpy=getattr(np, name), jax=f"jnp.{name}", rust=f"f32::{name}")


BUILTINS: dict[str, BuiltinDef] = {b.name: b for b in [
    BuiltinDef("min", None, "function", "the smallest of two or more ints or float32s"),
    BuiltinDef("max", None, "function", "the largest of two or more ints or float32s"),
    BuiltinDef("abs", 1, "function", "the absolute value of an int or a float32"),
    BuiltinDef("clamp", 3, "function", "`clamp(x, lo, hi)`: `min(max(x, lo), hi)`"),
    BuiltinDef("int", 1, "function", "a bool, enum member or table row as an int"),
    BuiltinDef("float", 1, "function", "an int as a float32"),
    BuiltinDef("len", 1, "function", "the length of a list"),
    _math("sqrt", "the square root of a float32"),
    _math("sin", "the sine of a float32 (radians)"),
    _math("cos", "the cosine of a float32 (radians)"),
    _math("exp", "e to the power of a float32"),
    _math("floor", "the largest whole float32 not above a float32 (a float32, not an int)"),
    BuiltinDef("contains", 1, "method", "`xs.contains(v)`: v is one of the list's (or array's) items"),
    BuiltinDef("count", 1, "method", "`xs.count(v)`: how many items equal v"),
    BuiltinDef("old", 1, "ensures", "`old(x)`: x on the state before the hole's call"),
]}

FUNCTIONS: tuple[str, ...] = tuple(n for n, b in BUILTINS.items() if b.call == "function")
FLOAT_MATH: tuple[str, ...] = tuple(n for n, b in BUILTINS.items() if b.numpy is not None)
