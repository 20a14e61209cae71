"""Runtime faults have one behaviour on every backend (issue #15): the interpreter raises
`SpecRuntimeError`, Rust returns `Err(Fault)` (its Python class raises), JAX records the first
fault in the state's `_fault` (`raise_fault` raises outside `jit`), all with the site that the
pass `number_faults` numbered, the same location and the same message.

tests/specs/faults.envspec has one action per kind of fault; each test plays one action until
the interpreter raises and checks that the backend faults at the same step with the same text.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from envc.compiler import ir, pipeline
from envc.compiler.check import load
from envc.compiler.interp import Interpreter, SpecRuntimeError
from envc.compiler.ir_verify import IRVerifyError
from envc.compiler.passes import number_faults

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "specs" / "faults.envspec"
FAULTING = ["push_full", "pop_empty", "draw_empty", "read_past", "write_past", "insert_past", "remove_past",
            "fails", "fails_hostile", "draw_or_read", "comp_past", "comp_nested", "fn_past", "fn_nested", "fn_in_comp",
            "arm_guard", "arm_observe", "arm_both", "after_return"]
HOSTILE = 'fail: bad {a} }{ {b}} {{a}} {action} "q" \'\' \\ end\nline 2 */ {}'  # fails_hostile's text
STEPS = 4


@pytest.fixture(scope="module")
def module():
    return load(str(SPEC))


@pytest.fixture(scope="module")
def jax_env(module):
    from envc.verify import load_jax

    return load_jax(module)


def _action(module, name: str) -> int:
    return Interpreter(module).actions.kinds[[a.name for a in module.actions].index(name)].offset


def _interp_fault(module, name: str) -> tuple[int, str]:
    """(the step that faults, `file.envspec:LINE:COL: message`) of playing `name` repeatedly."""
    it = Interpreter(module)
    s = it.init(0)
    for t in range(STEPS):
        try:
            s = it.step(s, _action(module, name))
        except SpecRuntimeError as err:
            assert err.span is not None
            return t, str(err)  # (the file's name, as every backend reports it)
    raise AssertionError(f"`{name}` did not fault in {STEPS} steps")


def test_every_fault_site_is_numbered_once(module):
    lowered = pipeline.lower(pipeline.run(module), pipeline.PassContext(verify=True))
    sites = lowered.fault_sites
    # (three in the fns of `returned` and `after_return`; none in `guarded`, whose two reads
    # their own conditions prove in range: `lower_lists` needs no test there)
    assert len(sites) == len(set(sites)) == 18
    assert number_faults.run(lowered) is lowered  # a second run changes nothing
    assert [m for _, m in sites].count(number_faults.INDEX_PAST_END) == 10
    assert not any(where.startswith(("faults.envspec:71:", "faults.envspec:72:")) for where, _ in sites)


def test_a_specs_text_is_not_a_template(module):
    """`fail("bad {a} }{ ...")`: the interpreter's text, literally, is what the site table's
    template fills to (its braces escaped), whatever the fault's values; the placeholders of
    the compiler's own templates are still filled."""
    lowered = pipeline.lower(pipeline.run(module))
    template = next(site for site in lowered.fault_sites if "bad" in site[1])
    assert _interp_fault(module, "fails_hostile")[1].endswith(HOSTILE)
    assert number_faults.fill(number_faults.site_text(template), 7, 8, str).endswith(HOSTILE)
    assert number_faults.fill("i {a} n {b} {{a}} }{ {action}", 7, -8, lambda a: f"act{a}") == "i 7 n -8 {a} }{ act7"


def test_the_verifier_catches_an_unnumbered_or_doubled_site(module):
    lowered = pipeline.lower(pipeline.run(module))
    with pytest.raises(IRVerifyError, match="has no number"):
        ir.verify(lowered.model_copy(update={"fault_sites": lowered.fault_sites[1:]}))
    with pytest.raises(IRVerifyError, match="numbered twice"):
        ir.verify(lowered.model_copy(update={"fault_sites": lowered.fault_sites + lowered.fault_sites[:1]}))


@pytest.mark.parametrize("name", FAULTING)
def test_jax_records_the_interpreters_fault(module, jax_env, name):
    import jax

    t_interp, text = _interp_fault(module, name)
    step = jax.jit(jax_env.step)
    state = jax_env.init_from_seed(0)
    assert jax_env.fault_message(state) is None
    for t in range(STEPS):
        state = step(state, _action(module, name))
        message = jax_env.fault_message(state)
        if message is not None:
            assert (t, message) == (t_interp, text)
            with pytest.raises(jax_env.SpecRuntimeError, match="^" + re.escape(text) + "$"):
                jax_env.raise_fault(state)
            return
    raise AssertionError(f"JAX recorded no fault for `{name}`; the interpreter raised at step {t_interp}: {text}")


def test_no_backend_faults_after_a_fns_return(module, jax_env):
    """`returned` calls fns whose guard clause returns before a read past the end of a list and
    a `while` beyond its bound: the interpreter never runs them, so no backend may fault
    (JAX runs a fn's statements after its `return` on every path, and recorded their faults
    until `Lowering.live_path`; found by a fresh spec)."""
    import jax

    from envc.verify import load_rust

    it, action = Interpreter(module), _action(module, "returned")
    s = it.init(0)
    step = jax.jit(jax_env.step)
    state = jax_env.init_from_seed(0)
    rust = load_rust(module).VecEnv(1, autoreset=False, seed=0)
    for _ in range(STEPS):
        s = it.step(s, action)  # (the interpreter and Rust raise on a fault)
        rust.step([action])
        state = step(state, action)
        assert jax_env.fault_message(state) is None
        assert int(state._x["k"]) == s.fields["k"]


def test_jax_faults_are_per_environment_sticky_and_survive_a_reset(module, jax_env):
    import jax
    import jax.numpy as jnp

    push, guarded = _action(module, "push_full"), _action(module, "guarded")
    state = jax.vmap(jax_env.init_from_seed)(jnp.arange(2, dtype=jnp.uint32))
    step = jax.jit(jax.vmap(jax_env.step_autoreset_from_seed))
    first = None
    for t in range(6):
        state = step(state, jnp.array([guarded, push], jnp.int32), jnp.full(2, t, jnp.uint32))[0]
        fault = np.asarray(state._fault)
        assert fault[0].tolist() == [0, 0, 0], "`guarded` reads lists only on paths it takes"
        if first is None and fault[1, 0]:
            first = fault[1].tolist()
        assert first is None or fault[1].tolist() == first
    assert first is not None
    assert jax_env.fault_message(state).startswith("env 1: faults.envspec:18:5: push onto a full list (capacity 2)")


def specs_lowered_sites(name: str) -> list:
    return pipeline.load(str(ROOT / "specs" / f"{name}.envspec"), pipeline.PassContext(lower=True)).fault_sites


def test_no_fault_sites_no_fault_field(jax_envs):
    """connect4 cannot fault (its one `random.int` has a proved range): its JAX state has no
    `_fault` and its module no fault helpers (zero sites, no work)."""
    env = jax_envs("connect4")
    assert not specs_lowered_sites("connect4")
    assert not hasattr(env, "FAULT_SITES")
    assert "_fault" not in {f.name for f in dataclasses.fields(env.State)}
    assert not hasattr(env.env, "_fault_at")


@pytest.mark.slow
@pytest.mark.parametrize("name", FAULTING)
def test_rust_raises_the_interpreters_fault(module, name):
    from envc.verify import load_rust

    pkg = load_rust(module)
    t_interp, text = _interp_fault(module, name)
    env = pkg.VecEnv(1, autoreset=False, seed=0)
    for t in range(STEPS):
        try:
            env.step([_action(module, name)])
        except pkg.SpecRuntimeError as err:
            assert (t, str(err)) == (t_interp, f"env 0: {text}")
            return
    raise AssertionError(f"Rust raised no fault for `{name}`; the interpreter raised at step {t_interp}: {text}")


@pytest.mark.parametrize("target", ["python", "jax"])
def test_envc_run_reports_the_fault(target):
    """`envc run` on a spec whose random play faults: the same diagnostic code on both targets,
    the interpreter's location and message (JAX: read from `State._fault` after the run)."""
    from typer.testing import CliRunner

    from envc.cli import app

    out = CliRunner().invoke(app, ["run", str(SPEC), "--target", target, "--episodes", "4",
                                   *(["--batch", "2"] if target == "jax" else [])])
    assert out.exit_code == 1, out.output
    assert "R0001" in out.output and "runtime fault" in out.output
    assert "Traceback" not in out.output
    if target == "jax":
        assert "faults.envspec:" in out.output


def test_jax_records_an_illegal_action_under_illegal_action_error():
    """`illegal_action error`: the interpreter raises, JAX records the site with the action
    named as the interpreter names it (Rust: tests/test_rust_backend.py)."""
    from envc.verify import load_jax

    module = load(str(ROOT / "tests" / "passes" / "number_faults" / "sites.envspec"))
    it = Interpreter(module)
    n = it.actions.n
    with pytest.raises(SpecRuntimeError, match="illegal action") as err:
        it.step(it.init(0), n)
    assert str(err.value) == f"illegal action {n} (outside 0..{n - 1}) (the spec says `illegal_action error`)"
    env = load_jax(module)
    state = env.init_from_seed(0)
    assert env.fault_message(env.step(state, 0)) is None
    assert env.fault_message(env.step(state, n)) == str(err.value)


def _duel_error(tmp_path) -> ir.Module:
    """tests/specs/duel.envspec (simultaneous, actions with int and enum parameters) under
    `illegal_action error`."""
    text = (ROOT / "tests" / "specs" / "duel.envspec").read_text(encoding="utf-8")
    path = tmp_path / "duel_error.envspec"
    path.write_text(text.replace("\nsimultaneous\n", "\nsimultaneous\nillegal_action error\n", 1), encoding="utf-8")
    module = load(str(path))
    assert module.illegal_action == "error"
    return module


def _illegal_joint(it: Interpreter) -> tuple[list[int], str]:
    """A joint action from `init(0)` whose second player's action is illegal, and the
    interpreter's fault text for it."""
    s = it.init(0)
    masks = it.legal_action_masks(s)
    legal0 = int(np.flatnonzero(masks[0])[0])
    illegal1 = int(np.flatnonzero(~np.asarray(masks[1]))[0])
    with pytest.raises(SpecRuntimeError) as err:
        it.step_joint(s, [legal0, illegal1])
    assert str(err.value).startswith("illegal action ") and "(" in str(err.value).split()[2]
    return [legal0, illegal1], str(err.value)


def test_jax_step_joint_records_an_illegal_action_under_illegal_action_error(tmp_path):
    """`step_joint` under `illegal_action error`: the first illegal commit is the interpreter's
    fault on JAX too (it recorded nothing before, issue #15), named with its parameters;
    out of range too, and a legal joint action records nothing."""
    import jax.numpy as jnp

    from envc.verify import load_jax

    module = _duel_error(tmp_path)
    it = Interpreter(module)
    actions, text = _illegal_joint(it)
    env = load_jax(module)
    state = env.init_from_seed(0)
    legal = [actions[0], actions[0]] if it.legal_action_masks(it.init(0))[1][actions[0]] else None
    if legal is not None:
        assert env.fault_message(env.step_joint(state, jnp.asarray(legal))) is None
    assert env.fault_message(env.step_joint(state, jnp.asarray(actions))) == text
    with pytest.raises(SpecRuntimeError) as err:
        it.step_joint(it.init(0), [-1, actions[0]])
    assert env.fault_message(env.step_joint(state, jnp.asarray([-1, actions[0]]))) == str(err.value)


@pytest.mark.slow
def test_rust_step_joint_raises_the_interpreters_illegal_action(tmp_path):
    """Rust's `step_joint` under `illegal_action error`: the interpreter's text (the action by name)."""
    from envc.verify import load_rust

    module = _duel_error(tmp_path)
    actions, text = _illegal_joint(Interpreter(module))
    env = load_rust(module).VecEnv(1, autoreset=False, seed=0)
    with pytest.raises(Exception, match="^" + re.escape(f"env 0: {text}") + "$"):
        env.step_joint(np.asarray([actions], np.int32))


def test_without_fault_recording_the_jax_module_has_no_fault_code(module):
    """`PassContext(record_faults=False)` (`envc compile --no-record-faults`): the same spec,
    no `_fault` field, no `_fault_at` call and no site table in the generated module, which then
    plays on where the recording module records (the interpreter still raises)."""
    from envc.codegen.jax import generate
    from envc.compiler.pipeline import PassContext

    recording = generate(module)["env.py"]
    plain = generate(module, PassContext(record_faults=False))["env.py"]
    assert "_fault_at(st," in recording and "FAULT_SITES" in recording
    assert "_fault_at" not in plain and "FAULT_SITES" not in plain and '"_fault"' not in plain


SHORT_LIST = ROOT / "tests" / "specs" / "short_list.envspec"


def _short_list_game() -> tuple[ir.Module, Interpreter, list, str]:
    """tests/specs/short_list.envspec: the module, its interpreter, the turn starts of seed 0
    with both players ticking (`k` = 0, 1, 2, 3), and the interpreter's fault text of player
    1's guard at k = 3 (`short_list.envspec:LINE:COL: index 3 is past the end ...`)."""
    module = load(str(SHORT_LIST))
    it = Interpreter(module)
    tick = it.actions.encode("tick")
    states = [it.init(0)]
    for _ in range(3):
        states.append(it.step_joint(states[-1], [tick, tick]))
    assert [s.fields["k"] for s in states] == [0, 1, 2, 3]
    with pytest.raises(SpecRuntimeError) as err:
        it.legal_action_masks(states[3])
    assert err.value.span is not None and "past the end" in str(err.value)
    text = str(err.value).replace(str(err.value.span.file), SHORT_LIST.name, 1)
    return module, it, states, text


@pytest.mark.slow
def test_rust_meets_a_joint_turns_guard_fault_when_the_interpreter_does():
    """A guard fault in a simultaneous spec (issue 19): the interpreter evaluates player p's
    guards only when a turn needs them (`legal_action_masks`, or player p's commit once the
    players before p chose legal actions), so a turn that ends where only player 1's guard
    faults is not a fault. Rust's batch computes the next turn's rows at the end of each
    turn; a fault there is not the turn's, and is raised when the interpreter raises it, each
    time, and never again once the state has changed (the cached fault was never cleared
    before)."""
    from envc.verify import first_difference, load_rust, to_arrays

    module, it, states, text = _short_list_game()
    native = load_rust(module)
    tick, wait = it.actions.encode("tick"), it.actions.encode("wait")
    s3 = states[3]

    def same(env, i, state, what):
        assert first_difference(to_arrays(module, state), env.get_state(i)) is None, what

    def fresh_at_s3():
        env = native.VecEnv(1, threads=1, autoreset=False)
        env.set_state(0, to_arrays(module, s3))
        return env

    def played_to_s3():
        env = native.VecEnv(1, threads=1, autoreset=False)
        env.reset_seeds(np.array([0], dtype=np.uint32))
        for _ in range(3):  # the third turn ends at k = 3: the interpreter does not fault
            env.step_joint(np.array([[tick, tick]], dtype=np.int32))
        return env

    env = played_to_s3()
    same(env, 0, s3, "three turns")
    for _ in range(2):  # the interpreter raises at every call
        with pytest.raises(native.SpecRuntimeError, match="^" + re.escape(f"env 0: {text}") + "$"):
            env.legal_action_masks()
        with pytest.raises(native.SpecRuntimeError, match="^" + re.escape(f"env 0: {text}") + "$"):
            env.sample_joint_actions(0)
    # the state changed: no stale fault, the new state's rows
    env.reset_envs(np.array([0]), np.array([1], dtype=np.uint32))
    np.testing.assert_array_equal(env.legal_action_masks()[0], it.legal_action_masks(it.init(1)))
    env.set_state(0, to_arrays(module, s3))
    with pytest.raises(native.SpecRuntimeError, match=re.escape(text)):
        env.legal_action_masks()
    env.set_state(0, to_arrays(module, states[2]))
    np.testing.assert_array_equal(env.legal_action_masks()[0], it.legal_action_masks(states[2]))

    for start in (played_to_s3, fresh_at_s3):
        # player 0 ticks (legal), then player 1's commit needs its guards: the interpreter's fault
        env = start()
        with pytest.raises(native.SpecRuntimeError, match="^" + re.escape(f"env 0: {text}") + "$"):
            env.step_joint(np.array([[tick, tick]], dtype=np.int32))
        with pytest.raises(SpecRuntimeError, match=re.escape(text.split(": ", 1)[1])):
            it.step_joint(s3, [tick, tick])
        # player 0's action is illegal: the game ends before player 1's guards are needed
        env = start()
        env.step_joint(np.array([[wait, tick]], dtype=np.int32))
        ended = it.step_joint(s3, [wait, tick])
        assert ended.fields["terminated"]
        same(env, 0, ended, f"{start.__name__}: player 0 plays an illegal action")

    # a batch: only environment 1 faults, and is named
    env = native.VecEnv(2, threads=1, autoreset=False)
    env.set_state(0, to_arrays(module, states[1]))
    env.set_state(1, to_arrays(module, s3))
    with pytest.raises(native.SpecRuntimeError, match="^" + re.escape(f"env 1: {text}") + "$"):
        env.legal_action_masks()
    env.set_state(1, to_arrays(module, states[2]))
    np.testing.assert_array_equal(env.legal_action_masks(),
                                  [it.legal_action_masks(states[1]), it.legal_action_masks(states[2])])


def test_jax_plays_the_joint_turns_before_a_guard_fault_as_the_interpreter():
    """tests/specs/short_list.envspec on JAX: the turn that ends where player 1's guard faults,
    and a turn from there whose first action is illegal, record no fault and equal the
    interpreter's states; a turn from there whose first action is legal records player 1's
    guard fault, the interpreter's, with `masks` given or not (`_step_joint_dict`)."""
    from envc.verify import first_difference, jax_state_arrays, load_jax, to_arrays

    module, it, states, text = _short_list_game()
    env = load_jax(module)
    tick, wait = it.actions.encode("tick"), it.actions.encode("wait")
    state = env.init_from_seed(0)
    for _ in range(3):
        state = env.step_joint(state, np.array([tick, tick], dtype=np.int32))
    assert env.fault_message(state) is None
    def arrays(jax_state) -> dict:  # (the interpreter's arrays have no `_fault`)
        return {k: v for k, v in jax_state_arrays(jax_state).items() if k != "_fault"}

    assert first_difference(to_arrays(module, states[3]), arrays(state)) is None
    ended = env.step_joint(state, np.array([wait, tick], dtype=np.int32))
    assert env.fault_message(ended) is None
    assert first_difference(to_arrays(module, it.step_joint(states[3], [wait, tick])),
                            arrays(ended)) is None
    with pytest.raises(SpecRuntimeError):
        it.step_joint(states[3], [tick, tick])
    assert env.fault_message(env.step_joint(state, np.array([tick, tick], dtype=np.int32))) == text
    masks = env.legal_action_masks(state)
    assert env.fault_message(env.step_joint(state, np.array([tick, tick], dtype=np.int32), masks)) == text



@pytest.mark.slow
def test_rust_keeps_every_lanes_step_fault(module):
    """`step` and `step_envs` raise the lowest (first met) lane's fault and keep every lane's in
    `faults()` (a later lane's fault was lost); `step_envs` plays every row past a fault."""
    from envc.verify import load_rust

    pkg = load_rust(module)
    t_fault, text = _interp_fault(module, "fails")
    fails, guarded = _action(module, "fails"), _action(module, "guarded")
    env = pkg.VecEnv(4, autoreset=False, seed=0)
    for _ in range(t_fault):
        env.step([guarded, fails, guarded, fails])
        assert env.faults() == [None] * 4
    with pytest.raises(pkg.SpecRuntimeError, match="^" + re.escape(f"env 1: {text}") + "$"):
        env.step([guarded, fails, guarded, fails])
    assert env.faults() == [None, text, None, text]
    env = pkg.VecEnv(4, autoreset=False, seed=0)
    for _ in range(t_fault):
        env.step_envs(np.array([3, 1, 0]), np.array([fails, fails, guarded]))
    with pytest.raises(pkg.SpecRuntimeError, match="^" + re.escape(f"env 3: {text}") + "$"):
        env.step_envs(np.array([3, 1, 0]), np.array([fails, fails, guarded]))
    assert env.faults() == [None, text, None, text]


@pytest.mark.slow
def test_rust_step_joint_keeps_every_lanes_fault(tmp_path):
    """`step_joint` raises the lowest lane's fault and keeps every lane's; verify's
    `step_joint_lanes` so sees a fault of lane 2 when lane 1 (not one of its lanes) faulted too
    (it reported none: the package raised lane 1's only)."""
    from envc.verify import _RustBackend, load_rust

    module = _duel_error(tmp_path)
    it = Interpreter(module)
    illegal, text = _illegal_joint(it)
    legal = [int(np.flatnonzero(m)[0]) for m in it.legal_action_masks(it.init(0))]
    native = load_rust(module)
    env = native.VecEnv(3, autoreset=False, seed=0)
    env.reset_seeds(np.zeros(3, dtype=np.uint32))
    with pytest.raises(native.SpecRuntimeError, match="^" + re.escape(f"env 1: {text}") + "$"):
        env.step_joint(np.asarray([legal, illegal, illegal], np.int32))
    assert env.faults() == [None, text, text]
    backend = _RustBackend(native)
    backend.reset(np.zeros(3, dtype=np.uint32))
    assert backend.step_joint_lanes(np.asarray([legal, illegal, illegal], np.int32), np.array([0, 2])) == (2, text)


@pytest.mark.parametrize("n", [1, 2, 7, 64, 65, 70])
def test_first_fault_is_the_first_set_row(n):
    """The runtime's `_first_fault` (a chain of `where`s up to 64 rows, `argmax` above) returns
    the first row whose code is set, row 0 when none is, for every pattern of set rows tried."""
    import jax.numpy as jnp

    from envc.codegen.jax import runtime

    rng = np.random.default_rng(n)
    for trial in range(20):
        fs = np.zeros((n, 3), np.int32)
        rows = rng.random(n) < (0.0 if trial == 0 else 0.2)
        fs[rows] = rng.integers(1, 100, size=(int(rows.sum()), 3))
        set_rows = np.flatnonzero(fs[:, 0] != 0)
        want = fs[set_rows[0]] if len(set_rows) else fs[0]
        assert np.array_equal(np.asarray(runtime._first_fault(jnp.asarray(fs))), want)
