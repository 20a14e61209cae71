"""Untrusted input cannot break out (issue 13): specs, fills, data files and file names are
data, never code. One regression test per reproducer of the issue, and property tests of
the escaping layer (`envc.codegen.escape`).

What each test shows:
- strings (descriptions, invariant docs, `fail` messages, the spec's file name) that try
  to end their literal, docstring or comment and run code: the generated JAX module
  imports without creating the marker file and keeps each string exactly; the generated
  Rust holds it as a string literal that decodes back to it, and no line of Rust or TOML
  starts with the injected code;
- names that are keywords, builtins or names of the generated code: the JAX module computes
  what the interpreter computes (`verify`), action `a(index, b)` included; state fields that
  cannot be attributes of the JAX `State` are a diagnostic;
- values: full-range `random.int`, an int8 index into 128 cells, `contains(300)` on int8
  items, a 300-term sum, 150 nested `if`s and a 150-arm conditional expression agree with
  the interpreter; NaN/1e400 in data, float literals beyond float32 are diagnostics (file
  tests in tests/diagnostics/);
- files: FIFOs, symlinks to /dev/zero or out of the folder, folders, files over the size
  cap, non-UTF-8 and directory fill files are diagnostics (and `--allow-outside-data` lets
  the user read outside the folder);
- runtime: rich markup in a match-up label and a fault message is printed as text by
  `envc run` and `envc verify`;
- the work budget: every shipped spec is far below it;
- Rust (slow: one cargo build): the hostile crate builds, its fault messages round-trip, and
  `VecEnv` refuses wrong dtypes, shapes, values and thread counts with Python exceptions.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envc.codegen.escape import py_doc, py_doc_text, py_ident, py_str, rust_doc, rust_ident, rust_str, toml_comment
from envc.compiler.check import load
from envc.compiler.diagnostics import DiagnosticError
from envc.compiler.passes.number_faults import escape

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "envc_pwned_line"

# ------------------------------------------------------------------ the escaping layer

HOSTILE_TEXT = st.one_of(
    st.text(),
    st.lists(st.sampled_from(['"""', "'''", '"', "'", "\\", "\n", "\r", "\x00", "\x01", "\x1b", "\x7f", "\u2028",
                              "\u202e", "\ud800", "*/", "/*", "//", "\\N{", "\\N{BULLET}", "{{", "}}", "{%", "#",
                              "[/]", "\t", "x", "é", TOKEN, "\n" + TOKEN]), max_size=12).map("".join),
)


def rust_literal_value(lit: str) -> str:
    """The value of a Rust string literal made by `rust_str` (the escapes it uses)."""
    assert lit.startswith('"') and lit.endswith('"')
    body, out, i = lit[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        assert ch not in '"\r', f"raw {ch!r} in a Rust literal"
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "u":
            end = body.index("}", i)
            out.append(chr(int(body[i + 3:end], 16)))
            i = end + 1
            continue
        out.append({"n": "\n", "r": "\r", "t": "\t", "0": "\0", "\\": "\\", '"': '"'}[nxt])
        i += 2
    return "".join(out)


def _surrogates_replaced(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


@settings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT)
def test_python_literals_round_trip(text):
    assert ast.literal_eval(py_str(text)) == text
    module = compile(py_doc(text) + "\nx = 1\n", "<doc>", "exec")
    namespace: dict = {}
    exec(module, namespace)
    assert namespace["__doc__"] == text and namespace["x"] == 1
    # text inside a docstring the template opens and closes, between other text
    namespace = {}
    exec(compile('"""a ' + py_doc_text(text) + ' b"""\n', "<doc>", "exec"), namespace)
    assert namespace["__doc__"] == "a " + text + " b"


@settings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT)
def test_rust_literals_and_comments(text):
    assert rust_literal_value(rust_str(text)) == _surrogates_replaced(text)
    for line in rust_doc(text).split("\n"):
        assert line.startswith("///") and "\r" not in line
    assert "\n" not in toml_comment(text) and all(c.isprintable() for c in toml_comment(text))


@pytest.mark.parametrize("name", ["lambda", "st", "jnp", "index", "self", "self_", "type", "type_", "None",
                                  "replace", "_", "__init__", "Self", "fn", "match"])
def test_identifiers_have_a_prefix_per_namespace(name):
    import keyword

    for ns in ("local", "fn", "proc", "action", "mask", "mask_value", "invariant"):
        code = py_ident(ns, name)
        assert code.isidentifier() and not keyword.iskeyword(code) and not code.startswith("_")
    assert rust_ident("local", name) == "v_" + name and rust_ident("field", name) == "f_" + name
    with pytest.raises(ValueError):
        py_ident("local", name + '"); import os; ("')


# ------------------------------------------------------------------ strings into generated code

BASE = '''env hostile DOC
players 2
state {
    board: int[-1..1][9] = -1
}
action place(cell: int[0..8]) when board[cell] == -1 {
    board[cell] = current_player
    if cell == 8 and board[0] == 7 { fail(MSG) }
    current_player = 1 - current_player
}
observe(p) -> int[-1..1][9] {
    return board
}
invariant small INV: board[0] <= 1
'''


def dsl_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


PAYLOADS = [
    '"""\n__import__("pathlib").Path(MARKER).touch()\n"""',
    "'''\n__import__('pathlib').Path(MARKER).touch()\n'''",
    "\n" + TOKEN + " = 1\n#[used] static X: u8 = 0;\n*/ \\N{BULLET} \\N{ \\x00 {{ name }} {% for %} [/]",
    "\x00\x01\x1b[31m\r\u2028\u202e end\\",
]


def _import(folder: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("k", range(len(PAYLOADS)))
def test_strings_cannot_run_code(tmp_path, k):
    from envc.codegen import jax as jax_backend
    from envc.codegen import rust as rust_backend

    marker = tmp_path / "PWNED"
    text = PAYLOADS[k].replace("MARKER", repr(str(marker)))
    hexed = str(marker).encode().hex()  # a file name holds no `/`
    spec_name = 't"""\n' + f"__import__('pathlib').Path(bytes.fromhex('{hexed}').decode()).touch()\n" + '"""x.envspec'
    path = tmp_path / spec_name
    path.write_text(BASE.replace("DOC", dsl_str(text)).replace("MSG", dsl_str(text)).replace("INV", dsl_str(text)),
                    encoding="utf-8")
    module = load(str(path))
    jax_backend.write(module, str(tmp_path / "gen"))
    env = _import(tmp_path / "gen", f"envc_hostile_{k}")
    assert not marker.exists()
    assert text in env.env.__doc__ and text in env.env.inv_small.__doc__
    assert set(env.invariants.__code__.co_names) >= {"inv_small"}
    from envc.codegen import python as python_backend  # (its docstring held the path as it was)

    python_backend.write(module, str(tmp_path / "genpy"))
    oracle = _import(tmp_path / "genpy", f"envc_hostile_py_{k}")
    assert not marker.exists() and "x.envspec" in oracle.__doc__
    files = rust_backend.generate(module)
    assert not marker.exists()
    for name, code in files.items():
        for line in code.split("\n") if name.endswith((".rs", ".toml", ".md")) else []:
            assert not line.lstrip().startswith((TOKEN, "#[used]")), (name, line)
        if name.endswith(".py"):
            tree = ast.parse(code)
            assert name.endswith("gym.py") or text in ast.get_docstring(tree, clean=False)
    sites = re.search(r"FAULT_SITES: \[&str; \d+\] = \[\n(.*?)\n\];", files["src/env.rs"], re.S).group(1)
    messages = [rust_literal_value(x.strip().rstrip(",")) for x in sites.split("\n")]
    # the table holds templates: the spec's braces are doubled (number_faults.escape)
    assert any(m.endswith("fail: " + escape(_surrogates_replaced(text))) for m in messages), messages


# ------------------------------------------------------------------ names and values, against the interpreter

NAMES = '''env names "names that are keywords, builtins or names of the generated code"
players 2
turn_limit 30
state {
    board: int[-1..1][9] = -1
    self_: int[0..3] = 1
    type_: int[0..3] = 2
    type: int[0..3] = 0
    bits: int[0..1][128]
    wide: int[-2147483648..2147483647] = 0
    small: list<int[0..1], 128>
    total: int[0..100000] = 0
    f: float32 = 0.0
}
record R { self: int[0..3]  type: int[0..3] }
fn lambda(st: int[0..8], jnp: int[0..8]) -> int[0..16] {
    let _ret = st + jnp
    return _ret
}
proc index(self: int[0..3]) { self_ = self }
action a(index: int[0..2], b: int[0..2]) when board[index * 3 + b] == -1 {
    board[index * 3 + b] = current_player
    let r = R(self: index, type: b)
    type = r.type
    index(r.self)
    wide = random.int(-2147483648, 2147483647)
    bits[127 - index * 3 - b] = 1 - bits[127 - index * 3 - b]
    small.push(bits[127])
    total = if bits.contains(300) or small.contains(300) then 1 else INTSUM + small.count(1)
    f = FLOATSUM
    NESTED
    let zz: int[0..200] = COND
    current_player = 1 - current_player
}
observe(_ret) -> int[-1..1][9] { return board }
invariant lambda "lambda": lambda(1, 2) == 3
'''


@pytest.fixture(scope="module")
def names_module(tmp_path_factory):
    text = (NAMES.replace("FLOATSUM", " + ".join(["0.5"] * 100) + " + float(b)")
            .replace("INTSUM", " + ".join(f"bits[{k % 128}]" for k in range(300)))
            .replace("NESTED", "".join(f"if index != {3 + k % 2} {{\n" for k in range(150)) + "type_ = b\n" + "}\n" * 150)
            .replace("COND", "".join(f"if step_count == {k} then {k} else " for k in range(150)) + "0"))
    path = tmp_path_factory.mktemp("names") / "names.envspec"
    path.write_text(text, encoding="utf-8")
    return load(str(path))


def test_names_and_values_match_the_interpreter(names_module):
    from envc.verify import load_jax, verify

    env = load_jax(names_module)
    report = verify(names_module, ["jax"], episodes=3, max_steps=12, chunk=3, level2_samples=3, jax_env=env)
    assert not report.divergences, report.divergences[0]
    assert report.steps > 0


def test_a_full_range_draw_is_uniform_in_jax(names_module):
    """`random.int(-2^31, 2^31 - 1)` drew the minimum every time (int32 `hi - lo + 1` was 0)."""
    import jax.numpy as jnp

    from envc.compiler import rng
    from envc.verify import load_jax

    env = load_jax(names_module)
    st = {"_rng_key": jnp.uint32(rng.seed_key(5)), "_rng_counter": jnp.uint32(3)}
    _, value = env.env._randint(st, -2**31, 2**31 - 1)
    assert int(value) == rng.randint(rng.seed_key(5), 3, -2**31, 2**31 - 1) != -2**31


@pytest.mark.parametrize("field", ["replace", "None", "lambda", "__class__", "observation_", "env_id"])
def test_state_fields_named_like_python_or_state_members_work_in_jax(tmp_path, field, jax_envs):
    """The JAX `State` keeps the spec's fields in the dict `_x`, so a field may be called
    `replace`, `None` or `__class__`: the module imports and plays like the interpreter."""
    from envc.compiler.interp import Interpreter
    from envc.verify import load_jax

    path = tmp_path / "t.envspec"
    path.write_text(BASE.replace("board: int[-1..1][9] = -1", f"board: int[-1..1][9] = -1\n    {field}: bool")
                    .replace("DOC", '"d"').replace("MSG", '"m"').replace("INV", '"i"'), encoding="utf-8")
    module = load(str(path))
    env = load_jax(module)
    it = Interpreter(module)
    state, ref = env.init_from_seed(3), it.init(3)
    assert bool(state._x[field]) is ref.fields[field] is False
    state, ref = env.step(state, 4), it.step(ref, 4)
    assert [int(x) for x in state._x["board"]] == ref.fields["board"]
    assert callable(state.replace)


# ------------------------------------------------------------------ files

TABLE = '''env files "a table"
players 1
table Card from "PATH" {
    cost: int[0..10]
}
state { x: int[0..10] = 0 }
action play(c: Card) { x = c.cost }
observe(p) -> int[0..10] { return x }
'''


def _load_error(path: Path) -> str:
    with pytest.raises(DiagnosticError) as err:
        load(str(path))
    d = err.value.diagnostics[0]
    return f"{d.code} {d.message} {' '.join(d.notes)}"


@pytest.mark.parametrize("kind", ["fifo", "devzero", "outside", "folder", "loop"])
def test_data_files_that_are_not_regular_files_in_the_folder(tmp_path, kind):
    spec = tmp_path / "t.envspec"
    spec.write_text(TABLE.replace("PATH", "cards.json"), encoding="utf-8")
    data = tmp_path / "cards.json"
    if kind == "fifo":
        os.mkfifo(data)
    elif kind == "devzero":
        data.symlink_to("/dev/zero")
    elif kind == "outside":
        data.symlink_to(ROOT / "tests" / "specs" / "data" / "units.json")
    elif kind == "folder":
        data.mkdir()
    else:
        data.symlink_to("cards.json")
    message = _load_error(spec)
    assert message.startswith(("E0150", "E0151")), message


def test_allow_outside_data(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from envc.cli import app
    from envc.compiler.datafiles import POLICY

    outside = tmp_path / "outside.json"
    outside.write_text('[{"cost": 3}]', encoding="utf-8")
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "t.envspec").write_text(TABLE.replace("PATH", "../outside.json"), encoding="utf-8")
    monkeypatch.setattr(POLICY, "allow_outside", False)
    assert _load_error(folder / "t.envspec").startswith("E0150")
    result = CliRunner().invoke(app, ["--allow-outside-data", "check", str(folder / "t.envspec")])
    assert result.exit_code == 0, result.output
    assert POLICY.allow_outside


def test_data_over_the_size_cap(tmp_path, monkeypatch):
    from envc.compiler.datafiles import POLICY

    monkeypatch.setattr(POLICY, "max_bytes", 100)
    (tmp_path / "t.envspec").write_text(TABLE.replace("PATH", "cards.json"), encoding="utf-8")
    (tmp_path / "cards.json").write_text("[" + ", ".join(['{"cost": 1}'] * 20) + "]", encoding="utf-8")
    assert "more than the limit of 100" in _load_error(tmp_path / "t.envspec")


@pytest.mark.parametrize("kind", ["folder", "not_utf8", "fifo"])
def test_envc_holes_with_a_bad_fill_file(tmp_path, kind):
    from typer.testing import CliRunner

    from envc.cli import app

    spec = tmp_path / "t.envspec"
    spec.write_text((ROOT / "specs" / "tictactoe.envspec").read_text(encoding="utf-8"), encoding="utf-8")
    fills = tmp_path / "t.fills"
    if kind == "folder":
        fills.mkdir()
    elif kind == "fifo":
        os.mkfifo(fills)
    else:
        fills.write_bytes(b"fill x \xff\n")
    result = CliRunner().invoke(app, ["holes", str(spec)])
    assert result.exit_code == 1 and "E0150" in result.output and "Traceback" not in result.output, result.output


# ------------------------------------------------------------------ runtime output

MARKUP = '''env markup "labels with rich markup"
players 1
turn_limit 6
table Deck from "decks.json" {
    size: int[0..9]
}
state {
    deck: Deck @matchup
    n: int[0..9] = 0
}
init { deck = random.int(0, 1) }
action go(k: int[0..1]) {
    n = min(n + 1, 9)
    if n == 3 and k == 0 { fail("[/] [bold]unclosed") }
}
observe(p) -> int[0..9] { return n }
'''


def test_markup_in_labels_and_faults_is_printed_as_text(tmp_path):
    from typer.testing import CliRunner

    from envc.cli import app

    (tmp_path / "decks.json").write_text('[{"name": "[/]", "size": 1}, {"name": "[bold]x", "size": 2}]',
                                         encoding="utf-8")
    spec = tmp_path / "m.envspec"
    spec.write_text(MARKUP.replace('if n == 3 and k == 0 { fail("[/] [bold]unclosed") }', ""), encoding="utf-8")
    run = CliRunner().invoke(app, ["run", str(spec), "--episodes", "20", "--seed", "0"], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    assert "[/]" in run.output and "[bold]x" in run.output, run.output
    spec.write_text(MARKUP, encoding="utf-8")
    verify = CliRunner().invoke(app, ["verify", str(spec), "--targets", "python,jax", "--episodes", "8"],
                                env={"COLUMNS": "200"})
    assert verify.exception is None or isinstance(verify.exception, SystemExit), verify.output
    assert "[/] [bold]unclosed" in verify.output, verify.output


# ------------------------------------------------------------------ the work budget


def test_shipped_specs_are_far_below_the_work_budget(specs):
    from envc.compiler import budget

    for name in ("tictactoe", "connect4", "cartpole", "tcg"):
        costs = budget.step_cost(specs(name))
        assert max(costs.values()) * 100 < budget.WORK_BUDGET, (name, max(costs.items(), key=lambda x: x[1]))


# ------------------------------------------------------------------ Rust (one cargo build)


@pytest.mark.slow
def test_rust_crate_of_hostile_names_and_strings(tmp_path):
    from envc.codegen.rust.build import load as load_rust

    text = PAYLOADS[2] + PAYLOADS[3]
    path = tmp_path / "hostile.envspec"
    path.write_text(NAMES.replace("FLOATSUM", "0.5").replace("INTSUM", "0").replace("NESTED", "")
                    .replace("COND", "1").replace("current_player = 1 - current_player",
                                                  f"if index == 2 and b == 2 {{ fail({dsl_str(text)}) }}\n"
                                                  "    current_player = 1 - current_player"), encoding="utf-8")
    module = load(str(path))
    pkg = load_rust(module)
    assert any(site.endswith("fail: " + escape(text)) for site in pkg.FAULT_SITES)
    assert list(pkg.INVARIANT_NAMES) == ["lambda"]
    env = pkg.VecEnv(4)
    # an action outside 0..num_actions-1 is not an error but an illegal move, whatever its
    # integer type (as in the interpreter and JAX; tests/test_rust_adapters.py); what is not
    # one integer per environment is refused
    bad = [(np.zeros(4, np.float64), TypeError), (np.zeros((2, 2), np.int64), ValueError),
           (np.array([1, 2, 3]), ValueError), (np.array(["a"] * 4), TypeError)]
    for actions, error in bad:
        with pytest.raises(error):
            env.step(actions)
    for actions in (np.full(4, 2**40), np.full(4, 2**63, np.uint64)):
        env.reset(0)
        mover = env.current_player.copy()
        env.step(actions)
        assert env.terminated.all() and (env.rewards[np.arange(4), mover] == -1).all(), actions
    with pytest.raises(ValueError):
        pkg.VecEnv(2, threads=10**6)
    with pytest.raises(ValueError):
        pkg.VecEnv(10**12)
    with pytest.raises(TypeError):
        env.reset_seeds(np.zeros(4, np.float32))
    state = env.get_state(0)
    with pytest.raises(ValueError):
        env.set_state(0, {**state, "board": np.full(9, 5, np.int8)})
    with pytest.raises(TypeError):
        env.set_state(0, {**state, "board": state["board"].astype(np.float32)})
    env.set_state(0, state)
    env.step(np.array([0, 1, 2, 3]))
    with pytest.raises(pkg.SpecRuntimeError, match=re.escape(text[:20])):
        env.step(np.array([8, 8, 8, 8]))


# ------------------------------------------------------------------ property: any string, any name, anywhere

KINDS_OF_NAMES = ["state", "param", "local", "fn", "proc", "action", "record", "field", "enum", "member", "const",
                  "invariant", "player"]
SPEC_TEMPLATE = '''env tpl DOC
players 2
const CONST_ = 3
enum ENUM_ { MEMBER_ ALIAS, other }
record RECORD_ { FIELD_: int[0..3] }
state {
    STATE_: int[-1..1][9] = -1
    e: ENUM_ = ENUM_.MEMBER_
    r: RECORD_
}
fn FN_(PARAM_: int[0..8]) -> int[0..8] {
    let LOCAL_ = PARAM_
    return LOCAL_
}
proc PROC_(PARAM_: int[0..3]) { r = RECORD_(FIELD_: PARAM_) }
action ACTION_(PARAM_: int[0..8]) when STATE_[FN_(PARAM_)] == -1 {
    STATE_[PARAM_] = current_player
    PROC_(min(PARAM_, CONST_))
    if PARAM_ == 8 and STATE_[0] == 5 { fail(MSG) }
    current_player = 1 - current_player
}
observe(PLAYER_) -> int[-1..1][9] { return STATE_ }
invariant INVARIANT_ INV: STATE_[0] <= 1
'''
PLACEHOLDERS = {"state": "STATE_", "param": "PARAM_", "local": "LOCAL_", "fn": "FN_", "proc": "PROC_",
                "action": "ACTION_", "record": "RECORD_", "field": "FIELD_", "enum": "ENUM_", "member": "MEMBER_",
                "const": "CONST_", "invariant": "INVARIANT_", "player": "PLAYER_"}
HOSTILE_NAMES = st.sampled_from(["lambda", "st", "lv", "jnp", "jax", "np", "lax", "index", "self", "self_", "type",
                                 "type_", "Self", "True", "replace_", "_select", "_cast", "State", "init", "step",
                                 "fn", "impl", "mut", "ref", "loop", "mod", "crate", "super", "struct", "static",
                                 "import", "class", "def", "_", "print", "dict", "i1", "_h2", "_a1", "k", "s", "m",
                                 "v_x", "f_x", "K0", "T0_x", "Rec", "Fault", "List", "Zero", "Observation",
                                 "NUM_ACTIONS", "effect", "_ret", "_done", "_index", "async", "yield", "gen", "dyn"])


_IMPORTS = iter(range(10**9))


@settings(max_examples=12, deadline=None)
@given(text=HOSTILE_TEXT, kind=st.sampled_from(KINDS_OF_NAMES), name=HOSTILE_NAMES)
def test_hostile_strings_and_names_anywhere(tmp_path_factory, text, kind, name):
    from envc.codegen import jax as jax_backend
    from envc.codegen import rust as rust_backend

    folder = tmp_path_factory.mktemp("anywhere")
    marker = folder / "PWNED"
    text = "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)  # a spec is UTF-8: no lone surrogates
    text = text.replace("\n", "\n" + f"__import__('pathlib').Path({str(marker)!r}).touch()\n", 1)
    spec = SPEC_TEMPLATE
    for other, placeholder in PLACEHOLDERS.items():
        spec = re.sub(rf"\b{placeholder}", name if other == kind else placeholder.lower().rstrip("_") + "x", spec)
    spec = spec.replace("DOC", dsl_str(text)).replace("MSG", dsl_str(text)).replace("INV", dsl_str(text))
    spec = spec.replace("ALIAS", dsl_str(text))
    path = folder / "t.envspec"
    path.write_text(spec, encoding="utf-8")
    try:
        module = load(str(path))
    except DiagnosticError as err:  # a name the language reserves (`current_player`, a built-in) or a clash,
        # or one of its keywords (`init`, `fn`), which the parser refuses where it stands
        keyword = [d for d in err.diagnostics if d.code == "E0001" and d.message == f"unexpected `{name}`"]
        assert all(d.code in ("E0101", "E0100", "E0103") or d in keyword for d in err.diagnostics), err.diagnostics
        return
    jax_backend.write(module, str(folder / "gen"))
    env = _import(folder / "gen", f"envc_anywhere_{next(_IMPORTS)}")
    assert not marker.exists()
    assert text in env.env.__doc__
    state = env.init_from_seed(1)
    assert state.legal_action_mask.shape == (9,)
    files = rust_backend.generate(module)
    for fname, code in files.items():
        for line in code.split("\n") if fname.endswith((".rs", ".toml", ".md")) else []:
            assert not line.lstrip().startswith(("__import__", TOKEN)), (fname, line)
    sites = re.search(r"FAULT_SITES: \[&str; \d+\] = \[\n(.*?)\n\];", files["src/env.rs"], re.S).group(1)
    assert any(rust_literal_value(x.strip().rstrip(",")).endswith("fail: " + escape(_surrogates_replaced(text)))
               for x in sites.split("\n"))
    assert not marker.exists()


def test_deeply_nested_blocks_are_checked_in_linear_work(tmp_path, monkeypatch):
    """The fuzz campaign's deep specs took minutes to check: narrowing ranges under each `if`
    walked the whole block below it, for every level (quadratic in the depth, with a
    recursive generator that cost the depth again per node). Each block is now walked once:
    the number of assignments visited is linear in the depth, not quadratic (counted, not
    timed)."""
    from envc.compiler import check_lang

    depth = 300
    body = "".join(f"{'    ' * (i + 1)}if x < {9 - i % 9} {{\n{'    ' * (i + 2)}x = {i % 9}\n" for i in range(depth))
    body += "".join(f"{'    ' * (i + 1)}}}\n" for i in reversed(range(depth)))
    spec = tmp_path / "deep.envspec"
    spec.write_text('env deep "nested ifs"\nplayers 1\nstate { x: int[0..9] = 0 }\n'
                    "observe(p) -> int[0..9] { return x }\n" f"action go() {{\n{body}}}\n")
    visits = [0]
    real = check_lang._root_name

    def counting(e):
        visits[0] += 1
        return real(e)

    monkeypatch.setattr(check_lang, "_root_name", counting)
    load(str(spec))
    assert 0 < visits[0] <= 2 * depth, f"{visits[0]} assignments visited for {depth} nested blocks"


@pytest.mark.parametrize("name", ["init", "observation", "fn", "observe"])
def test_a_state_field_with_a_reserved_name_is_reported_once(tmp_path, name):
    """Its declaration is the error; its uses are not reported again as reads of an unknown
    or undeclared field (hypothesis found `init` giving five more errors, E0113)."""
    spec = tmp_path / "t.envspec"
    spec.write_text(f'env t "t"\nstate {{\n    {name}: int[0..3] = 0\n}}\n'
                    f'action go() when {name} < 3 {{\n    {name} = min({name} + 1, 3)\n}}\n'
                    f'observe(p) -> int[0..3] {{ return {name} }}\n', encoding="utf-8")
    with pytest.raises(DiagnosticError) as err:
        load(str(spec))
    assert [d.code for d in err.value.diagnostics] == ["E0101"], [(d.code, d.message) for d in err.value.diagnostics]


def test_diagnostics_show_control_characters_escaped(tmp_path):
    """A spec's text reaches the terminal in diagnostics and runtime faults: a raw ESC sequence
    (`fail("\\x1b[2J")`) cleared the screen, a U+202E reordered the line. Messages show them
    escaped; the source line shows U+FFFD in their place, so the caret keeps its column."""
    from envc.compiler.diagnostics import Diagnostic, Sources, Span, render

    path = str(tmp_path / "esc.envspec")
    Sources.add(path, 'x = "\x1b[2J\u202e" + y\n')
    span = Span(file=path, start=14, end=15, line=1, col=15, end_line=1, end_col=16)  # `y`
    out = render(Diagnostic("E0100", "unknown name `\x1b[2Jy`", span, "label \x07", help="help \u202e"))
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "`\\x1b[2Jy`" in out and "\\x07" in out and "\\u202e" in out
    source, caret = out.split("\n")[3:5]
    assert source.index("y") == caret.index("^")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_dsl_literal_reads_back_as_the_text(text):
    """`dsl_literal` is the one way envc writes a text into the language (the E0163 help, the
    fill files `envc fill` writes): the lexer reads every text back exactly, a NUL, a `\\r`, a
    U+202E or a backslash before `u{` included."""
    from envc.dsl.parser import _unescape, dsl_literal

    literal = dsl_literal(text)
    assert _unescape(literal) == text
    assert all(ch.isprintable() for ch in literal)


def test_a_text_with_control_characters_can_be_filled(tmp_path):
    """Card texts holding a NUL and a Windows line break: the help's fill (and `envc fill`'s,
    through `fillfile.item_text`) names the text exactly, so the spec checks with it (the help
    wrote `\\u0000`, which the language read as six characters; `envc fill` dropped the `\\r`)."""
    import json

    from envc.compiler.check import load
    from envc.compiler.diagnostics import DiagnosticError
    from envc.llm_fill.fillfile import item_text

    texts = ["a\x00b", "Set a to 1.\r\nThen stop."]
    (tmp_path / "cards.json").write_text(json.dumps([{"name": f"c{i}", "effect": t} for i, t in enumerate(texts)]))
    (tmp_path / "s.envspec").write_text(
        'env x "d"\ntable Card from "cards.json" { effect: text from "effect" }\nstate { a: int[0..20] = 0 }\n'
        'hole eff(p: int[0..0]) per Card.effect\naction pick(c: Card) {\n    eff[c.effect](0)\n    terminate()\n}\n'
        'observe(p) -> int[0..20] { return a }\n')
    with pytest.raises(DiagnosticError) as err:
        load(str(tmp_path / "s.envspec"))
    hashes = re.findall(r'hash "([0-9a-f]+)"', str([d.help for d in err.value.diagnostics]))
    assert len(hashes) == 2
    (tmp_path / "s.fills").write_text("".join(item_text("eff", {"text": t, "hash": h}, "a = 1") for t, h in zip(texts, hashes)))
    assert load(str(tmp_path / "s.envspec")).name == "x"


def test_an_escape_of_a_surrogate_is_no_character():
    """`\\u{D800}` names no character: it was decoded into a text the interpreter kept, Rust could
    not hold (the fault messages differed) and the Python target could not write (hunt N). It
    stays as written, as `\\u{110000}` does; a real character beyond U+FFFF decodes."""
    from envc.dsl.parser import _unescape

    assert _unescape('"a\\u{D800}b\\u{dfff}"') == "a\\u{D800}b\\u{dfff}"
    assert _unescape('"\\u{110000}"') == "\\u{110000}"
    assert _unescape('"\\u{1F600}"') == "\U0001F600"


def test_tables_and_summaries_show_control_characters_escaped(tmp_path):
    """Data names and texts reached the terminal raw in `envc holes` (the text column, "not
    playable"), `envc run` (the match-up table, `best:`/`worst:`) and `envc verify` (its
    match-up table): an ESC sequence cleared the screen, an OSC set the window's title (hunt N).
    Diagnostics already escaped them."""
    from typer.testing import CliRunner

    from envc.cli import app

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "c.json").write_text(
        '[{"name": "evil\\u001b[2J\\nRED\\u0007", "effect": "Heal\\u001b]0;title\\u0007 x"}, {"name": "ok", '
        '"effect": ""}]', encoding="utf-8")
    spec = tmp_path / "e.envspec"
    spec.write_text('env e "escape codes in data"\nplayers 2\nturn_limit 4\ntable Card from "data/c.json" { }\n'
                    "state {\n    n: int[0..9] = 0\n    cs: Card[2] @matchup\n}\n"
                    "init {\n    cs[0] = random.int(0, 1)\n    cs[1] = random.int(0, 1)\n}\n"
                    "action play(c: Card) { current_player = 1 - current_player }\n"
                    "observe(p) -> int[0..9] { return n }\n", encoding="utf-8")
    runner = CliRunner()
    for args in (["run", str(spec), "--episodes", "8"], ["verify", str(spec), "--targets", "python", "--episodes", "8",
                                                          "--per-matchup", "2"]):
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output, result.output
        assert "evil\\x1b[2J\\nRED\\x07" in result.output, result.output
    text = spec.read_text(encoding="utf-8").replace("{ }", "{ effect: text }")
    spec.write_text(text.replace("action play(c: Card) {", "hole eff() per Card.effect\n"
                                 "action play(c: Card) {\n    if c.effect != 0 { eff[c.effect]() }"), encoding="utf-8")
    result = runner.invoke(app, ["holes", str(spec)], env={"COLUMNS": "200"})
    assert "\x1b" not in result.output and "\x07" not in result.output, result.output
    assert "Heal\\x1b]0;title\\x07 x" in result.output and "evil\\x1b[2J\\nRED\\x07" in result.output, result.output
