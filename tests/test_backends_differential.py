"""Every backend against the interpreter on a spec that uses every IR node kind.

`tests/specs/kitchen_sink.envspec` is not a real game: it exists so that lists, records,
tables, enums, `match`, short and long loops, comprehensions with draws, floats and
all the effects are checked on every backend. A test asserts that it really covers
every node kind, and that every backend dispatches every kind (adding a node kind
breaks these tests until each backend handles it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envc.codegen.jax.lower import Lowering
from envc.compiler import ir
from envc.compiler.check import load
from envc.compiler.interp import Evaluator
from envc.verify import load_jax, verify

KITCHEN = str(Path(__file__).resolve().parent / "specs" / "kitchen_sink.envspec")


@pytest.fixture(scope="module")
def kitchen():
    return load(KITCHEN)


def _kinds(node, found: set[str]) -> None:
    if isinstance(node, ir.Node):
        kind = getattr(node, "kind", None)
        if kind in ir.EXPR_KINDS or kind in ir.STMT_KINDS:
            found.add(kind)
        for name in type(node).model_fields:
            _kinds(getattr(node, name), found)
    elif isinstance(node, (list, tuple)):
        for x in node:
            _kinds(x, found)


def test_kitchen_sink_covers_every_node_kind(kitchen):
    """Every kind in the checked IR, those only the lowered IR holds (`check`) after `lower`."""
    from envc.compiler.pipeline import lower

    found: set[str] = set()
    _kinds(kitchen, found)
    assert not set(ir.LOWERED_ONLY_STMTS) & found
    _kinds(lower(kitchen), found)
    missing = (set(ir.EXPR_KINDS) | set(ir.STMT_KINDS)) - found
    assert not missing, f"kitchen_sink.envspec does not use {sorted(missing)}: extend it"


@pytest.mark.parametrize("kind", ir.EXPR_KINDS)
def test_every_backend_handles_every_expression(kind):
    assert callable(getattr(Evaluator, "c_" + kind, None)), f"the interpreter has no c_{kind}"
    assert callable(getattr(Lowering, "x_" + kind, None)), f"the JAX lowering has no x_{kind}"


@pytest.mark.parametrize("kind", ir.STMT_KINDS)
def test_every_backend_handles_every_statement(kind):
    assert callable(getattr(Evaluator, "s_" + kind, None)), f"the interpreter has no s_{kind}"
    assert callable(getattr(Lowering, "s_" + kind, None)), f"the JAX lowering has no s_{kind}"


def test_the_passes_remove_the_interpreter_only_statements(kitchen):
    """`choose` is run natively by the interpreter only: the array backends consume the IR
    after `lower_choices`, which holds none (and the same state and action space)."""
    from envc.compiler.passes import lower_choices

    flat = lower_choices.run(kitchen)
    found: set[str] = set()
    _kinds(flat, found)
    assert set(ir.INTERPRETER_ONLY_STMTS) & found == set()
    assert "choose" in {k for k in ir.STMT_KINDS if k in ir.INTERPRETER_ONLY_STMTS}
    assert [f.name for f in flat.state] == [f.name for f in kitchen.state]
    assert [a.name for a in flat.actions] == [a.name for a in kitchen.actions]


def test_the_flat_interpreter_matches_on_every_construct(kitchen):
    report = verify(kitchen, ["python", "flat"], episodes=60, seed=0)
    assert report.faults == []
    assert [d.render() for d in report.divergences] == []
    assert report.level2_transitions > 50


@pytest.mark.slow
def test_jax_matches_the_interpreter_on_every_construct(kitchen):
    # integers, booleans, lists and the RNG words must be identical; float32 arithmetic
    # may differ in the last bits (XLA fuses multiply-adds), hence the tolerance
    report = verify(kitchen, ["python", "jax"], episodes=150, seed=0, float_tolerance=1e-5,
                    jax_env=load_jax(kitchen))
    assert report.faults == []
    assert [d.render() for d in report.divergences] == []
    assert report.level2_transitions > 50


SCOPING = str(Path(__file__).resolve().parent / "specs" / "scoping.envspec")


@pytest.mark.parametrize("c,expected", [(True, [15, 1, 2, 7, 6, 9, 16]), (False, [0, 1, 2, 7, 6, 9, 0])])
def test_interpreter_scopes_names_lexically(c, expected):
    """An inner `let` shadows until its block ends; loop and generator variables shadow locals."""
    from envc.compiler.interp import Interpreter

    it = Interpreter(load(SCOPING))
    s = it.step(it.init(0), it.actions.encode("go", c=c))
    assert s.out == expected


def test_jax_scopes_names_like_the_interpreter():
    m = load(SCOPING)
    report = verify(m, ["python", "jax"], episodes=30, seed=0, jax_env=load_jax(m))
    assert report.faults == [] and [d.render() for d in report.divergences] == []
