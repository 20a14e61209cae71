"""The pass `lower_lists` (issue #15, "lower lists with explicit faults"): every list method
that can fault is preceded by its `check` and marked unchecked; the checks fault where the
interpreter's own tests fault, with the same site and text; what stays implicit is what the
pass's docstring says. tests/test_faults.py plays each kind of fault on JAX and Rust (both
consume the lowered IR); tests/passes/lower_lists/ shows the IR it writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from envc.compiler import ir, irutil, pipeline
from envc.compiler.check import load
from envc.compiler.interp import Interpreter, SpecRuntimeError
from envc.compiler.passes import lower_lists, number_faults

ROOT = Path(__file__).resolve().parent.parent
FAULTS = ROOT / "tests" / "specs" / "faults.envspec"
CASE = ROOT / "tests" / "passes" / "lower_lists" / "faults.envspec"
LIST_FAULTS = ["push_full", "pop_empty", "draw_empty", "read_past", "write_past", "insert_past", "remove_past",
               "draw_or_read"]


@pytest.fixture(scope="module")
def faults():
    return load(str(FAULTS))


def _bodies(m: ir.Module) -> list[list[ir.Stmt]]:
    return [*(f.body for f in m.fns), *(a.body for a in m.actions), m.observe.body, m.init, m.epilogue]


def _blocks(stmts: list[ir.Stmt]):
    yield stmts
    for s in stmts:
        for block in irutil.sub_blocks(s):
            yield from _blocks(block)


def _methods_after_their_checks(m: ir.Module) -> list[tuple[ir.Check, ir.ListOp]]:
    """(check, method) for every list method with a fault site in `m`'s source; asserts each
    is unchecked and right after the check of its own test."""
    pairs = []
    for body in _bodies(m):
        for block in _blocks(body):
            for k, s in enumerate(block):
                if not isinstance(s, ir.ListOp) or s.op in ("clear", "shuffle"):
                    continue
                before = block[k - 1]
                assert s.unchecked and isinstance(before, ir.Check), s
                assert before.message == number_faults.list_op_message(s) and before.span == s.span
                pairs.append((before, s))
    return pairs


def test_every_list_method_runs_after_its_check():
    m = pipeline.lower(pipeline.load(str(CASE)))
    pairs = _methods_after_their_checks(m)
    assert sorted(s.op for _, s in pairs) == ["insert", "push", "push", "remove_at"]
    assert [c.a is not None for c, _ in pairs] == [op in ("insert", "remove_at") for op in (s.op for _, s in pairs)]


def test_the_tcg_methods_all_run_after_their_checks():
    m = pipeline.lower(pipeline.load(str(ROOT / "specs" / "tcg.envspec")))
    assert len(_methods_after_their_checks(m)) >= 20
    kinds = {type(n).__name__ for body in _bodies(m) for n in ir.walk_all(body) if number_faults.site_of(n)}
    assert "ListOp" not in kinds  # (every method's fault is a `check` now)


def _first_fault(module: ir.Module, name: str, steps: int = 4) -> tuple[int, str, object]:
    it = Interpreter(module)
    action = it.actions.kinds[[a.name for a in module.actions].index(name)].offset
    s = it.init(0)
    for t in range(steps):
        try:
            s = it.step(s, action)
        except SpecRuntimeError as err:
            return t, str(err), err.span
    raise AssertionError(f"`{name}` did not fault in {steps} steps")


@pytest.mark.parametrize("name", LIST_FAULTS)
def test_a_check_faults_where_the_interpreter_does(faults, name):
    """The interpreter on the lowered IR (its `check`s run first, `s_check`) faults at the same
    step, place and text as on the checked IR (its operations' own tests)."""
    lowered = pipeline.lower(faults)
    assert _first_fault(lowered, name) == _first_fault(faults, name)


def test_a_check_names_its_site_and_values(faults):
    lowered = pipeline.lower(faults)
    action = next(a for a in lowered.actions if a.name == "remove_past")
    check = next(s for s in irutil.walk_stmts(action.body) if isinstance(s, ir.Check))
    assert number_faults.site_of(check) in lowered.fault_sites
    assert check.message == "remove_at({a}) on a list of length {b}"
    assert check.a is not None and check.b is not None


def test_what_stays_implicit():
    """A take inside a larger expression keeps its own test: a check before the statement would
    fault where the interpreter does not (tests/passes/number_faults/sites.envspec:
    `items.draw() + first()`). `first`'s `if len(items) > 0 then items[0] else 0` (also inlined
    into `shrink` by `inline_fns`) needs no test at all: its condition proves the read."""
    m = pipeline.lower(pipeline.load(str(ROOT / "tests" / "passes" / "number_faults" / "sites.envspec")))
    implicit = [n for body in _bodies(m) for n in ir.walk_all(body) if number_faults.site_of(n) is not None
                and not isinstance(n, (ir.Check, ir.Fault, ir.RandomInt))]
    assert [type(n).__name__ for n in implicit] == ["ListTake"]
    assert implicit[0].front and not implicit[0].unchecked
    proved = [n for body in _bodies(m) for n in ir.walk_all(body) if isinstance(n, ir.GetIndex) and n.unchecked]
    assert len(proved) == 2 and not any(isinstance(s, ir.Check) for s in irutil.walk_stmts(m.fn("first").body))


@pytest.mark.parametrize("expr, proved", [
    ("if len(xs) > 0 then xs[0] else 0", True),
    ("if len(xs) > 1 then xs[1] else 0", True),
    ("if len(xs) > 1 then xs[2] else 0", False),
    ("if len(xs) >= 2 then xs[1] else 0", True),
    ("if k < len(xs) then xs[k] else 0", True),
    ("if len(xs) > k then xs[k] else 0", True),
    ("if k < len(xs) then xs[0] else 0", False),
    ("if k < len(ys) then xs[k] else 0", False),
    ("if k < len(xs) then 0 else xs[k]", False),
    ("if len(xs) > 0 or k > 1 then xs[0] else 0", False),
    ("sum(if i < len(xs) then xs[i] else 0 for i in 0..4)", True),
    ("if 0 < len(xs) then sum(xs[k] for k in 0..1) else 0", False),
], ids=lambda x: str(x))
def test_a_read_its_condition_proves_needs_no_check(tmp_path, expr, proved):
    """`lower_lists` marks a list read unchecked, with no check, where the conditions around it
    in the same expression prove `index < len(list)`; a comprehension's variable is another
    `k` than the one outside."""
    spec = tmp_path / "proof.envspec"
    spec.write_text('env proof "proofs"\nplayers 1\nstate {\n    xs: list<int[0..9], 4>\n    ys: list<int[0..9], 4>\n'
                    "    out: int[0..36] = 0\n}\n"
                    f"action go(k: int[0..3]) {{\n    out = min({expr}, 36)\n}}\n"
                    "observe(p) -> int[0..36] { return out }\n", encoding="utf-8")
    m = pipeline.lower(pipeline.load(str(spec)))
    body = m.actions[0].body
    reads = [n for n in ir.walk_all(body) if isinstance(n, ir.GetIndex) and isinstance(n.base.type, ir.ListT)]
    assert reads and all(n.unchecked for n in reads) == proved
    if proved:  # (no check was written for a proved read)
        assert not any(isinstance(s, ir.Check) for s in body)


def test_the_pass_is_idempotent():
    m = pipeline.lower(pipeline.load(str(CASE)))
    assert lower_lists.run(m) is m


def test_the_flat_interpreter_shows_a_check_left_out(faults):
    """`envc verify --targets flat` runs the interpreter on the lowered IR, where an unchecked
    operation has no test of its own (hunt W, F2: it tested them, so a check the pass failed to
    write could not show): without the check before `push_full`'s push, the list grows past its
    capacity instead of faulting."""
    lowered = pipeline.lower(faults)
    action = next(a for a in lowered.actions if a.name == "push_full")
    assert any(isinstance(s, ir.Check) for s in action.body)
    doctored = lowered.model_copy(update={"actions": [
        a.model_copy(update={"body": [s for s in a.body if not isinstance(s, ir.Check)]}) if a is action else a
        for a in lowered.actions]})
    t, text, _ = _first_fault(lowered, "push_full")
    with pytest.raises(AssertionError, match="did not fault"):
        _first_fault(doctored, "push_full")
    assert "push onto a full list" in text and t >= 1
