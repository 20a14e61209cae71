"""The pipeline (`envc.compiler.pipeline`) and the IR tools every pass relies on: the printer,
the verifier, `walk`/`map_children`, and the exhaustive dispatch of every backend.

Pass file tests: `tests/passes/<pass>/<case>.envspec` beside `<case>.ir`, the IR printed after
`<pass>` (`check`: the checker's output, before any pass). A missing `.ir` fails; rewrite them
with `ENVC_BLESS=1 pytest tests/test_pipeline.py` and review the diff.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envc.compiler import ir, irutil, pipeline, ranges
from envc.compiler.check import load_checked
from envc.compiler.interp import Evaluator, Interpreter
from envc.compiler.ir_verify import IRVerifyError, _Verifier
from envc.compiler.passes import fold_constants
from envc.compiler.pipeline import PassContext
from envc.compiler.printer import _Printer, print_module

ROOT = Path(__file__).resolve().parent.parent
PASS_CASES = sorted((ROOT / "tests" / "passes").glob("*/*.envspec"))
ALL_SPECS = sorted((ROOT / "specs").glob("*.envspec")) + sorted((ROOT / "tests" / "specs").glob("*.envspec")) + PASS_CASES
BLESS = os.environ.get("ENVC_BLESS") == "1"


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


# ---------------------------------------------------------------- pass file tests


@pytest.mark.parametrize("case", PASS_CASES, ids=_rel)
def test_pass_file(case: Path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the printed table paths are relative to the spec, not the cwd
    stage = case.parent.name
    assert stage in pipeline.pass_names(), f"{_rel(case)}: folder `{stage}` names no pass"
    text = print_module(pipeline.load(_rel(case), PassContext(after=stage, verify=True)))
    expected = case.with_suffix(".ir")
    if BLESS:
        expected.write_text(text)
    assert expected.exists(), f"missing {_rel(expected)}: run with ENVC_BLESS=1 to create it"
    assert text == expected.read_text()


def test_every_pass_has_a_file_test():
    tested = {c.parent.name for c in PASS_CASES}
    assert set(pipeline.pass_names()) <= tested


# ---------------------------------------------------------------- the verifier


@pytest.mark.parametrize("spec", ALL_SPECS, ids=_rel)
def test_every_spec_verifies_after_every_pass(spec: Path):
    pipeline.load(str(spec), PassContext(verify=True, lower=True))  # `LOWERING` too


def test_every_pass_keeps_the_interpreters_trajectories(specs, same_games):
    """A pass changes no meaning: with each pass that may be switched off off, the interpreter
    plays the same games (the required passes define what `choose` and simultaneous turns mean)."""
    optional = [p for p in pipeline.PASSES if p.NAME not in pipeline.required_pass_names()]
    assert [p.NAME for p in optional] == ["restrict_dispatch", "effect_tables"]
    for name in ("tictactoe", "tcg"):
        on = specs(name)
        for p in optional:
            off = pipeline.load(str(ROOT / "specs" / f"{name}.envspec"), PassContext(disabled=frozenset({p.NAME})))
            same_games(Interpreter(on), Interpreter(off), 4 if name == "tcg" else 20, public_only=True)


def test_fold_constants_keeps_the_interpreters_trajectories(specs, same_games):
    """The backends' pass `fold_constants` folds something in these specs (`ROWS - 1`, `20 - 1`),
    leaves nothing to fold (a second run is the identity), and the interpreter plays the same
    games on the folded IR as on the IR of `PASSES`."""
    for name in ("connect4", "tcg"):
        on = specs(name)
        folded = pipeline.lower(on, PassContext(verify=True))
        assert folded is not on
        assert fold_constants.run(folded) is folded
        left = [n for n in ir.walk_all(folded.actions) if isinstance(n, ir.Binary)
                and isinstance(n.left, ir.Const) and isinstance(n.right, ir.Const) and isinstance(n.type, ir.IntT)
                and n.op in ("add", "sub", "mul")]
        assert left == []
        same_games(Interpreter(on), Interpreter(folded), 4 if name == "tcg" else 20, public_only=True)


def test_disable_pass_keeps_the_backends_from_folding(specs):
    """`--disable-pass fold_constants` reaches the backends: the JAX module keeps `(6 - 1)`."""
    from envc.codegen.jax import generate

    module = specs("connect4")
    folded = generate(module)["env.py"]
    kept = generate(module, PassContext(disabled=frozenset({"fold_constants"})))["env.py"]
    assert "(6 - 1)" in kept and "(6 - 1)" not in folded


@pytest.fixture(scope="module")
def ttt() -> ir.Module:
    return load_checked(str(ROOT / "specs" / "tictactoe.envspec"))


def _replace_first(module: ir.Module, match, make) -> ir.Module:
    """`module` with the first node (in the `place` action's body) for which `match` holds
    replaced by `make(node)`."""
    done = []

    def fn(node):
        if not done and match(node):
            done.append(node)
            return make(node)
        return ir.map_children(node, fn)

    action = module.actions[0]
    body = [fn(s) for s in action.body]
    assert done, "no node matched"
    return module.model_copy(update={"actions": [action.model_copy(update={"body": body})]})


def _lowest(t: ir.IntT) -> ir.IntT:
    """The one-value range at the bottom of `t` (inside it, narrower when `t` has two values)."""
    return ir.IntT(lo=t.lo, hi=t.lo)


BROKEN = {
    "unbound local": (lambda n: isinstance(n, ir.Local) and n.name == "cell",
                      lambda n: n.model_copy(update={"name": "nowhere"}), "local `nowhere` is not bound"),
    # only a sum the checker marked as narrowed by a condition (`Binary.narrowed`) may be typed
    # inside its operands' range; a range outside it never is
    "arithmetic typed narrower than its operands": (
        lambda n: isinstance(n, ir.Binary) and n.op == "sub",
        lambda n: n.model_copy(update={"type": _lowest(ranges.binary(n.op, n.left.type, n.right.type))}),
        "but its operands give"),
    "arithmetic typed outside its operands": (lambda n: isinstance(n, ir.Binary) and n.op == "sub",
                                              lambda n: n.model_copy(update={"type": ir.IntT(lo=10**6, hi=10**6),
                                                                             "narrowed": True}),
                                              "but its operands give"),
    "value past its place": (lambda n: isinstance(n, ir.Assign),
                             lambda n: n.model_copy(update={"value": ir.Const(type=ir.IntT(lo=5, hi=5), value=5)}),
                             "does not fit `int[-1..1]`"),
    "unknown fn": (lambda n: isinstance(n, ir.CallFn),
                   lambda n: n.model_copy(update={"fn": "vanished"}), "calls `vanished`"),
    "unknown state field": (lambda n: isinstance(n, ir.StateGet),
                            lambda n: n.model_copy(update={"name": "gone"}), "state field `gone` does not exist"),
    "constant outside its type": (lambda n: isinstance(n, ir.Const) and n.value == 1,
                                  lambda n: n.model_copy(update={"type": ir.IntT(lo=2, hi=3)}), "outside its type"),
    "condition not bool": (lambda n: isinstance(n, ir.If),
                           lambda n: n.model_copy(update={"cond": ir.Const(type=ir.IntT(lo=0, hi=1), value=1)}),
                           "an `if` condition is `int[0..1]`"),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_the_verifier_catches(ttt, kind):
    match, make, message = BROKEN[kind]
    ir.verify(ttt)
    with pytest.raises(IRVerifyError, match="action place: ") as info:
        ir.verify(_replace_first(ttt, match, make))
    assert any(message in p for p in info.value.problems), info.value.problems


def test_a_pass_that_breaks_the_ir_is_named(ttt, monkeypatch):
    class Breaking:
        NAME = "effect_tables"

        @staticmethod
        def run(module, ctx):
            match, make, _ = BROKEN["unbound local"]
            return _replace_first(module, match, make)

    monkeypatch.setattr(pipeline, "PASSES", [Breaking])
    with pytest.raises(IRVerifyError, match="after `effect_tables`: action place"):
        pipeline.run(ttt, PassContext(verify=True))


# ---------------------------------------------------------------- walks and dispatch


def test_map_children_keeps_unchanged_nodes_and_rebuilds_changed_ones(ttt):
    body = ttt.actions[0].body
    assert all(ir.map_children(s, lambda n: n) is s for s in body)
    consts = [n for s in body for n in ir.walk(s) if isinstance(n, ir.Const)]

    def bump(node):
        if isinstance(node, ir.Const) and node.value == 1 and isinstance(node.type, ir.IntT):
            return node.model_copy(update={"value": 0})
        return ir.map_children(node, bump)

    new = [bump(s) for s in body]
    after = [n for s in new for n in ir.walk(s) if isinstance(n, ir.Const)]
    assert len(after) == len(consts)
    assert [c.value for c in after] == [0 if c.value == 1 and isinstance(c.type, ir.IntT) else c.value for c in consts]
    unchanged = [a is b for a, b in zip(new, body)]
    assert unchanged == [not any(isinstance(n, ir.Const) and n.value == 1 and isinstance(n.type, ir.IntT)
                                 for n in ir.walk(s)) for s in body]


def test_node_fields_leave_out_only_fields_that_cannot_hold_a_node(specs):
    """`ir.node_fields` (what `children` and `map_children` read) drops a field only when no
    value of it is a node: every field of every node of the shipped specs' modules is checked."""
    skipped = 0
    for name in ("tictactoe", "othello", "acrobot", "tcg", "pokemon_gen1"):
        for node in ir.walk(specs(name), types=True):
            for name in type(node).model_fields:
                if name in ir.node_fields(type(node)):
                    continue
                skipped += 1
                value = getattr(node, name)
                items = value if isinstance(value, list) else [value]
                assert not any(isinstance(x, ir.Node) or (isinstance(x, tuple) and any(isinstance(y, ir.Node) for y in x))
                               for x in items), (type(node).__name__, name)
    assert skipped > 0


def test_by_identity_remembers_per_object_not_per_value():
    calls = []

    @irutil.by_identity(2)
    def size(node):
        calls.append(node)
        return len(list(ir.walk(node)))

    a = ir.Const(type=ir.IntT(lo=1, hi=1), value=1)
    b = a.model_copy()  # equal, another object
    assert a == b and a is not b
    assert (size(a), size(a), size(b)) == (1, 1, 1)
    assert [x is a for x in calls] == [True, False]  # `a` once, then `b` on its own
    c = ir.Const(type=ir.IntT(lo=2, hi=2), value=2)
    size(c)
    size(a)  # `a` was dropped when `c` came (two are kept): computed again
    assert len(calls) == 4


def test_choice_points_runs_once_per_module_object():
    """The interpreter runs `choice_points` on the module it is given; a second interpreter on
    the same module object reuses the result (the fill judge builds many)."""
    module = load_checked(str(ROOT / "tests" / "specs" / "generic_choose.envspec"))
    first, second = Interpreter(module), Interpreter(module)
    assert first.module is second.module and first.module.choice is not None
    assert Interpreter(module.model_copy()).module is not first.module


def test_walk_visits_each_node_once_in_evaluation_order():
    one = ir.Const(type=ir.IntT(lo=1, hi=1), value=1)
    two = ir.Const(type=ir.IntT(lo=2, hi=2), value=2)
    add = ir.Binary(op="add", left=one, right=two, type=ir.IntT(lo=3, hi=3))
    assert [n.kind for n in ir.walk(add)] == ["binary", "const", "const"]
    assert [n.value for n in ir.walk(add) if isinstance(n, ir.Const)] == [1, 2]
    assert sum(1 for n in ir.walk(add, types=True) if isinstance(n, ir.IntT)) == 3


def test_the_kind_lists_are_every_node_class_of_the_ir():
    exprs = {c.model_fields["kind"].default for c in vars(ir).values()
             if isinstance(c, type) and issubclass(c, ir.ExprNode) and c is not ir.ExprNode}
    stmts = {c.model_fields["kind"].default for c in vars(ir).values()
             if isinstance(c, type) and issubclass(c, ir.StmtNode) and c is not ir.StmtNode}
    assert set(ir.EXPR_KINDS) == exprs
    assert set(ir.STMT_KINDS) == stmts


def _backends():
    from envc.codegen.jax.lower import Lowering as JaxLowering
    from envc.codegen.rust.lower import Lowering as RustLowering

    return {"interpreter": (Evaluator, "c_", "s_"), "jax": (JaxLowering, "x_", "s_"),
            "rust": (RustLowering, "x_", "s_"), "verifier": (_Verifier, "x_", "s_"), "printer": (_Printer, "x_", "s_")}


@pytest.mark.parametrize("backend", ["interpreter", "jax", "rust", "verifier", "printer"])
def test_a_new_node_kind_breaks_every_backend_until_handled(backend):
    cls, ex, st = _backends()[backend]
    assert ir.missing_handlers(cls, ex, st) == []
    missing = ir.missing_handlers(cls, ex, st, expr_kinds=(*ir.EXPR_KINDS, "novel"),
                                  stmt_kinds=(*ir.STMT_KINDS, "novel_stmt"))
    assert missing == [ex + "novel", st + "novel_stmt"]


def test_handles_all_refuses_a_class_that_misses_a_kind():
    class Partial:
        def x_const(self, e):
            return e

    with pytest.raises(TypeError, match="handles no IR kind for: x_local"):
        ir.handles_all("x_", "s_")(Partial)


# ---------------------------------------------------------------- the command line


def test_emit_ir_prints_the_ir_after_a_pass(monkeypatch):
    from envc.cli import app

    monkeypatch.chdir(ROOT)
    spec = "tests/passes/effect_tables/verbs.envspec"
    runner = CliRunner()
    before = runner.invoke(app, ["compile", spec, "--emit", "ir", "--after", "check"])
    after = runner.invoke(app, ["compile", spec, "--emit", "ir"])
    assert before.exit_code == 0 and after.exit_code == 0
    assert before.output == print_module(load_checked(spec))
    assert "let op_0" in after.output and "let op_0" not in before.output
    bad = runner.invoke(app, ["compile", spec, "--emit", "ir", "--after", "efect_tables"])
    assert bad.exit_code == 1
    assert "unknown pass `efect_tables`" in bad.output and "did you mean `effect_tables`?" in bad.output


@pytest.mark.parametrize("out", [None, "ttt", "class", "."])
def test_compile_prints_an_import_line_that_runs(tmp_path, monkeypatch, out):
    """`envc compile`'s "use it:" line imports the package as written, pasted as is: the default
    folder `build/tictactoe-python` is no identifier (`import tictactoe-python` was a syntax
    error), nor is a keyword, nor `.` (named by its absolute path); the line is not wrapped, however
    long its path."""
    from envc.cli import app

    monkeypatch.chdir(tmp_path)
    args = ["compile", str(ROOT / "specs" / "tictactoe.envspec"), "--target", "python"]
    result = CliRunner().invoke(app, args + (["-o", out] if out else []))
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("use it: `")]
    hint = line.removeprefix("use it: `").removesuffix("`")
    ran = subprocess.run([sys.executable, "-c", hint + "; print(env.NUM_ACTIONS)"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert ran.returncode == 0, (hint, ran.stderr)
    assert ran.stdout.split() == ["9"]


def test_compile_rust_prints_its_install_command_on_one_line(tmp_path, monkeypatch):
    """The "build and install it:" line of `--target rust` is pasted as is: never wrapped, even
    in a narrow terminal."""
    from envc.cli import app

    monkeypatch.chdir(tmp_path)
    out = str(tmp_path / ("a_long_folder_name_" * 4))
    result = CliRunner().invoke(app, ["compile", str(ROOT / "specs" / "tictactoe.envspec"), "--target", "rust",
                                      "-o", out], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("build and install it: ")]
    assert f"`pip install {out}`" in line and line.endswith("import VecEnv`"), line


def test_a_required_pass_cannot_be_disabled():
    assert set(pipeline.required_pass_names()) == {"simultaneous", "choice_points", "lower_choices", "number_faults"}
    with pytest.raises(pipeline.RequiredPassError, match="choice_points"):
        PassContext(disabled=frozenset({"choice_points"}))
    from envc.cli import app

    out = CliRunner().invoke(app, ["compile", str(ROOT / "specs" / "tictactoe.envspec"), "--emit", "ir",
                                   "--disable-pass", "choice_points"])
    assert out.exit_code == 1, out.output
    assert "error[E0180]" in out.output and "cannot be disabled" in out.output
    assert "Traceback" not in out.output


def test_inline_fns_keeps_every_trajectory():
    """tests/passes/inline_fns/calls.envspec: inlined calls (constant, state and compound
    arguments, a fn holding an inlined call) and calls left alone (an argument read twice, under
    a branch, one that can fault). The interpreter on the lowered IR (`flat`) and JAX agree
    with the interpreter on the checked IR, and the pass inlined what the `.ir` file shows."""
    from envc.compiler.passes import inline_fns
    from envc.verify import load_jax, verify

    module = pipeline.load(str(ROOT / "tests" / "passes" / "inline_fns" / "calls.envspec"))
    lowered = inline_fns.run(module)
    step = next(a for a in lowered.actions if a.name == "step")
    assert sorted(n.fn for n in ir.walk_all(step.body) if isinstance(n, ir.CallFn)) == [
        "cell", "clipped", "pick", "total", "twice"]
    report = verify(module, ["python", "flat", "jax"], episodes=12, seed=0, level2_samples=8,
                    jax_env=load_jax(module))
    assert report.ok and report.episodes == 12, [d.render() for d in report.divergences] + report.faults


@pytest.mark.parametrize("case", ["order", "calls"])
def test_sequence_draws_keeps_the_interpreters_order_on_jax(case):
    """tests/passes/sequence_draws/order.envspec: operands read before a `pop()`, a place whose
    index draws, a list method whose argument pops, a reduction whose term pops. Before the
    pass the generated JAX read `len(xs)` after the pop, drew the index twice and pushed into
    the wrong list (fresh-spec hunt); the interpreter on the lowered IR and JAX agree with it.
    calls.envspec: list arguments of calls beside a take, a 65-term reduction that pops, a take
    in a pausing proc's argument (the next hunt: each diverged on JAX)."""
    from envc.verify import load_jax, verify

    module = pipeline.load(str(ROOT / "tests" / "passes" / "sequence_draws" / f"{case}.envspec"))
    report = verify(module, ["python", "flat", "jax"], episodes=12, seed=0, level2_samples=8,
                    jax_env=load_jax(module))
    assert report.ok and report.episodes == 12, [d.render() for d in report.divergences] + report.faults
