"""`floor(x)` on a float32: the largest whole number not above x, as a float32.

The built-in was listed (PURE_BUILTINS) but the checker refused every call ("`floor` of a
float has no static range") and no backend implemented it; specs/acrobot.envspec needs it to
wrap angles as gymnax's `wrap` does. Here: the checker's type, the interpreter's values on
chosen inputs (negative, whole, halves, -0.0), and the JAX backend against the interpreter
(the Rust backend: EDGE_SPEC in tests/test_rust_backend.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from envc.compiler import ir
from envc.compiler.check import check
from envc.compiler.diagnostics import DiagnosticError
from envc.compiler.interp import Interpreter
from envc.dsl.parser import parse

SPEC = """\
env floors "floor of float32 values"
players 1
turn_limit 12

state {
    x: float32 = -2.5
}

action nudge(k: int[0..3]) {
    x = floor(x * 0.75 + float(k) - 1.25) / 2.0 + 0.25 * float(k)
}

observe(p) -> float32[3] {
    return [x, floor(x), floor(-x)]
}
"""


def _module(text: str = SPEC) -> ir.Module:
    return check(parse(text, "floors.envspec"))


def test_floor_is_a_float32_builtin():
    m = _module()
    act = m.actions[0]
    value = act.body[0].value
    assert isinstance(value.type, ir.FloatT)
    it = Interpreter(m)
    s = it.init(0)
    assert [float(v) for v in s.observation] == [-2.5, -3.0, 2.0]
    s = it.step(s, 0)  # floor(-1.875 - 1.25) / 2 = -4 / 2
    assert [float(v) for v in s.observation] == [-2.0, -2.0, 2.0]
    s = it.step(s, 3)  # floor(-1.5 + 3 - 1.25) / 2 + 0.75 = 0 / 2 + 0.75
    assert [float(v) for v in s.observation] == [0.75, 0.0, -1.0]
    assert all(type(v) is np.float32 for v in s.observation)


def test_floor_of_an_integer_variable_is_refused():
    bad = SPEC.replace("floor(x * 0.75 + float(k) - 1.25)", "floor(k)")
    with pytest.raises(DiagnosticError) as err:
        _module(bad)
    [d] = err.value.diagnostics
    assert d.code == "E0110" and d.message == "`floor` needs a float32"


def test_jax_floor_equals_the_interpreter():
    from envc.verify import load_jax, verify

    m = _module()
    report = verify(m, ["python", "jax"], episodes=30, seed=0, jax_env=load_jax(m))
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.steps > 30 * 5
