"""The pass `share_tail_calls` (compiler/passes/share_tail_calls.py): which tail calls move to
the epilogue, and which must stay. Exactness on the backends: tests/specs/tails.envspec in
tests/test_constructs.py (interpreter = flat IR = JAX = Rust) and the TCG in
tests/test_pipeline.py (`test_fold_constants_keeps_the_interpreters_trajectories` plays the
interpreter on the whole `LOWERING` IR)."""

from pathlib import Path

from envc.compiler import ir, irutil, pipeline
from envc.compiler.passes import share_tail_calls

ROOT = Path(__file__).resolve().parent.parent


def _calls(stmts: list[ir.Stmt]) -> list[str]:
    return [s.proc for s in irutil.walk_stmts(stmts) if isinstance(s, ir.CallProc)]


def _lowered(path: str) -> tuple[ir.Module, ir.Module]:
    """The IR before the pass (after `fold_constants`) and after it (`envc compile --emit ir --after`)."""
    before = pipeline.load(str(ROOT / path), pipeline.PassContext(after="fold_constants"))
    return before, share_tail_calls.run(before)


def test_shared_tails_move_and_the_others_stay():
    before, after = _lowered("tests/specs/tails.envspec")
    bodies = {a.name: a.body for a in after.actions}
    # `add`: `settle(); pass_turn(1 - p, false)`, both moved (the argument reads a local only)
    assert _calls(bodies["add"]) == []
    # `take`: `pass_turn`'s argument draws, so `settle` before it stays in both arms' first
    assert _calls(bodies["take"]) == ["settle"]
    # `steal` and `toggle`: `pass_turn(1 - current_player, ...)` reads the state: `settle` stays;
    # `pick` holds a `choose`: never moved (`grab` and `toggle` call it last)
    assert _calls(bodies["steal"]) == ["pick", "settle"]
    assert _calls(bodies["toggle"]) == ["settle", "pick"]
    assert _calls(bodies["grab"]) == ["pick"]
    assert [s.then[-1].proc for s in after.epilogue if isinstance(s, ir.If)] == ["settle", "pass_turn"]
    registers = [f.name for f in after.state if share_tail_calls.is_register(f.name)]
    assert registers == ["_envc_tail_settle", "_envc_tail_pass_turn", "_envc_tail_pass_turn__next",
                         "_envc_tail_pass_turn__extra"]
    assert all(f.visibility == "hidden" for f in after.state if f.name in registers)
    ir.verify(after)


def test_a_module_without_shared_tails_is_unchanged():
    before, after = _lowered("specs/tictactoe.envspec")
    assert after is before
