"""`envc run` on both targets (envc/cli.py, envc/run_jax.py) and the `@matchup` annotation.

The command line runs through typer's CliRunner; the printed table is parsed back and
checked for consistency: per row the rates (wins, draws, truncated, cut) sum to 1, the
match-up rows add up to the episodes asked for, and both targets print the same columns.
Exact equality of the interpreter and the JAX backend is checked elsewhere
(tests/test_jax_backend.py, `envc verify`); here the two only have to agree on plausible
ranges. tcg compiles for a while on JAX, so it runs once, with 8 environments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DECKS = sorted(p.stem for p in (ROOT / "specs" / "data" / "decks").glob("*.txt"))


def _invoke(*args: str):
    from envc.cli import app

    args = tuple(str(ROOT / a) if a.startswith(("specs/", "tests/specs/")) else a for a in args)
    return CliRunner().invoke(app, ["run", *args], env={"COLUMNS": "200"})


def _table(output: str) -> tuple[list[str], list[list[str]]]:
    """The header and body rows of the rich table in `output`."""
    header = next(line for line in output.splitlines() if line.startswith("┃"))
    rows = [line for line in output.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in rows]
    return [c.strip() for c in header.strip("┃").split("┃")], cells


def _check_rows(header: list[str], rows: list[list[str]], episodes: int) -> dict[str, dict[str, float]]:
    """Row label -> column -> number; checks the per-row sums and the episode total."""
    out = {r[0]: {h: float(v.replace(",", "")) for h, v in zip(header[1:], r[1:])} for r in rows}
    rate_cols = [h for h in header if h.endswith("wins") or h in ("draws", "terminated", "truncated",
                                                                  "cut at --max-steps")]
    for label, row in out.items():
        assert abs(sum(row[h] for h in rate_cols) - 1.0) <= 0.002 + 1e-9, (label, row)
    assert out["all"]["episodes"] == episodes
    if len(out) > 1:
        assert sum(r["episodes"] for label, r in out.items() if label != "all") == episodes
    return out


def test_matchup_annotation(tmp_path, specs):
    from envc.compiler.check import load
    from envc.compiler.diagnostics import DiagnosticError

    tcg = specs("tcg")
    decks = next(f for f in tcg.state if f.name == "decks")
    assert decks.matchup and decks.visibility == "private"  # `@private @matchup`
    assert [f.name for f in tcg.state if f.matchup] == ["decks"]
    assert next(t for t in tcg.tables if t.name == "Deck").labels == DECKS  # the files' stems, in row order

    body = """env nim "Take one or two stones"
players 2
state {{
    stones: int[0..15] = 15 {ann}
    speed: float32 = 0.0 {bad}
}}
action take(n: int[1..2]) when n <= stones {{
    stones = clamp(stones - n, 0, 15)
    if stones == 0 {{ win(current_player) }}
    current_player = 1 - current_player
}}
observe(p) -> int[0..15] {{ return stones }}
"""
    path = tmp_path / "nim.envspec"
    path.write_text(body.format(ann="@matchup", bad=""))
    assert [f.name for f in load(str(path)).state if f.matchup] == ["stones"]
    path.write_text(body.format(ann="", bad="@matchup"))
    with pytest.raises(DiagnosticError) as e:
        load(str(path))
    assert [d.code for d in e.value.diagnostics] == ["E0110"]
    assert "@matchup" in e.value.diagnostics[0].message


def test_labels_and_summary(specs):
    from envc.run_jax import CUT, DRAW, TRUNCATED, Episodes, label_text, summarize

    tcg = specs("tcg")
    i, j = DECKS.index("mewtwo-gardevoir"), DECKS.index("pikachu-zapdos")
    assert label_text(tcg, (i, j)) == "mewtwo-gardevoir vs pikachu-zapdos"  # player 0 first
    assert label_text(specs("connect4"), ()) == "all"
    eps = Episodes.from_lists([(i, j), (i, j), (j, i), (i, j)], [0, 1, DRAW, TRUNCATED], [10, 20, 30, 40],
                              [[1, -1], [-1, 1], [0, 0], [0, 0]], 2, 2)
    rows = {r.label: r for r in summarize(tcg, eps)}
    assert list(rows) == ["mewtwo-gardevoir vs pikachu-zapdos", "pikachu-zapdos vs mewtwo-gardevoir", "all"]
    first = rows["mewtwo-gardevoir vs pikachu-zapdos"]
    assert (first.episodes, first.mean_length, first.wins, first.truncated) == (3, 70 / 3, [1 / 3, 1 / 3], 1 / 3)
    assert rows["all"].episodes == 4 and rows["all"].cut == 0.0 and CUT < 0


def test_run_jax_counts_exactly_and_is_deterministic(specs, jax_envs):
    from envc.run_jax import CUT, DRAW, run_jax

    m, env = specs("tictactoe"), jax_envs("tictactoe")
    a = run_jax(m, 10, batch=4, seed=3, chunk=8, env=env)  # several chunks; envs 0, 1 count 3 episodes
    b = run_jax(m, 10, batch=4, seed=3, chunk=8, env=env)
    assert len(a.episodes.outcomes) == 10 and a.finished >= 10
    assert a.steps == 4 * 8 * a.calls and a.compile_s > 0 and a.sps > 0
    assert set(a.episodes.outcomes.tolist()) <= {0, 1, DRAW}
    assert ((a.episodes.lengths >= 5) & (a.episodes.lengths <= 9)).all()
    assert a.episodes.labels.shape == (10, 0)
    for x, y in zip((a.episodes.outcomes, a.episodes.lengths, a.episodes.returns),
                    (b.episodes.outcomes, b.episodes.lengths, b.episodes.returns)):
        np.testing.assert_array_equal(x, y)
    cut = run_jax(m, 6, batch=4, seed=0, max_steps=3, chunk=8, env=env)  # tictactoe needs at least 5 moves
    assert (cut.episodes.outcomes == CUT).all() and (cut.episodes.lengths == 3).all()


def test_cli_connect4_both_targets():
    py = _invoke("specs/connect4.envspec", "--episodes", "12", "--seed", "0")
    assert py.exit_code == 0, py.output
    jx = _invoke("specs/connect4.envspec", "--target", "jax", "--batch", "16", "--episodes", "40", "--seed", "0")
    assert jx.exit_code == 0, jx.output
    (h_py, r_py), (h_jx, r_jx) = _table(py.stdout), _table(jx.stdout)
    assert h_py == h_jx == ["match-up", "episodes", "mean length", "P0 wins", "P1 wins", "draws", "mean return P0",
                            "mean return P1", "truncated"]
    for header, rows, n in ((h_py, r_py, 12), (h_jx, r_jx, 40)):
        stats = _check_rows(header, rows, n)
        assert list(stats) == ["all"]  # no @matchup: one row
        assert 7 <= stats["all"]["mean length"] <= 42
        row = stats["all"]  # connect4 pays +1 / -1 for a win, 0 for a draw: mean returns are the win rates' gap
        assert abs(row["mean return P0"] - (row["P0 wins"] - row["P1 wins"])) <= 0.002
        assert abs(row["mean return P0"] + row["mean return P1"]) <= 0.002
    assert "SPS" in py.stdout and "reference interpreter" in py.stdout
    assert "JIT compile:" in jx.stdout and "SPS" in jx.stdout and "JAX (" in jx.stdout


def test_cli_errors_and_notes():
    bad = _invoke("specs/tictactoe.envspec", "--target", "rust")
    assert bad.exit_code == 1 and "E0180" in bad.stderr and "Traceback" not in bad.output
    missing = _invoke("specs/nope.envspec", "--target", "jax")
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    note = _invoke("specs/tictactoe.envspec", "--episodes", "3", "--batch", "8")
    assert note.exit_code == 0 and "--batch" in note.stderr


@pytest.mark.slow
def test_cli_tcg_matchups(tmp_path):
    py = _invoke("specs/tcg.envspec", "--episodes", "2", "--seed", "0")
    jx = _invoke("specs/tcg.envspec", "--target", "jax", "--batch", "8", "--episodes", "8", "--seed", "0",
                 "--matchups", str(tmp_path / "m.csv"))
    assert py.exit_code == 0 and jx.exit_code == 0, py.output + jx.output
    # the JAX runner records the `@outcome` field's final value of every counted episode
    total = (tmp_path / "m.csv").read_text(encoding="utf-8").splitlines()[-1].split(",")
    header = (tmp_path / "m.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    ends = {h: float(v) for h, v in zip(header, total) if h.startswith("ended: ")}
    assert ends and sum(ends.values()) == pytest.approx(1.0, abs=1e-5) and "ended: not ended" not in ends
    (h_py, r_py), (h_jx, r_jx) = _table(py.stdout), _table(jx.stdout)
    assert h_py == h_jx
    for header, rows, n in ((h_py, r_py, 2), (h_jx, r_jx, 8)):
        stats = _check_rows(header, rows, n)
        for label, row in stats.items():
            if label != "all":
                first, second = label.split(" vs ")
                assert first in DECKS and second in DECKS
            assert 10 <= row["mean length"] <= 2000  # turn_limit 2000


def test_cli_bench_python_reports_the_median_of_its_runs():
    """`envc bench --target python`: one SPS per run, the median first (not a timed test:
    it checks that the figure is the median of the runs it prints)."""
    from envc.cli import app

    result = CliRunner().invoke(app, ["bench", str(ROOT / "specs" / "tictactoe.envspec"), "--target", "python",
                                      "--steps", "200", "--repeats", "3"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    head, runs = result.output.split("(median of 3 runs: ")
    median = float(head.rsplit(": ", 1)[1].split(" SPS")[0].replace(",", ""))
    values = sorted(float(x.replace(",", "")) for x in runs.split(")")[0].split(" / "))
    assert len(values) == 3 and median == values[1] and median > 0


DUEL = ROOT / "tests" / "specs" / "duel.envspec"  # a simultaneous spec


def test_random_step_plays_a_whole_turn_of_a_simultaneous_spec():
    """`envc bench`'s random policy on the interpreter: one call is one turn (every player's
    action at once) for a simultaneous spec, so its SPS counts turns."""
    from envc.bench import random_step
    from envc.compiler.check import load
    from envc.compiler.interp import Interpreter

    it = Interpreter(load(str(DUEL)))
    s = it.init(0)
    policy = np.random.default_rng(0)
    for turn in range(1, 4):
        s = random_step(it, s, policy)
        assert s.fields["simultaneous__turn"] == turn  # the spec's `step_count` (envc's counts commits)


def test_cli_bench_refuses_a_missing_peer_file_before_timing_anything(tmp_path):
    from envc.cli import app

    result = CliRunner().invoke(app, ["bench", str(DUEL), "--target", "jax", "--peer", str(tmp_path / "nope.py")],
                                env={"COLUMNS": "200"})
    assert result.exit_code != 0 and "E0150" in result.output and "not found" in result.output, result.output
    assert "SPS" not in result.output
    (tmp_path / "empty.py").write_text("x = 1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["bench", str(DUEL), "--target", "jax", "--peer", str(tmp_path / "empty.py")],
                                env={"COLUMNS": "200"})
    assert result.exit_code != 0 and "E0180" in result.output and "peer_speed" in result.output, result.output


def test_cli_bench_no_observations_is_a_rust_and_jax_option():
    from envc.cli import app

    result = CliRunner().invoke(app, ["bench", str(DUEL), "--target", "python", "--no-observations"],
                                env={"COLUMNS": "200"})
    assert result.exit_code != 0 and "E0180" in result.output and "--target rust" in result.output, result.output
    assert "SPS" not in result.output


def test_cli_bench_reads_a_peer_file_of_any_name(tmp_path):
    """The peer file is Python whatever its suffix (the import system finds no loader for a
    `.txt`: this was an internal error, found by mypy)."""
    from envc.cli import app

    (tmp_path / "peer.txt").write_text("x = 1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["bench", str(DUEL), "--target", "jax", "--peer", str(tmp_path / "peer.txt")],
                                env={"COLUMNS": "200"})
    assert result.exit_code != 0 and "E0180" in result.output and "peer_speed" in result.output, result.output
    assert "internal error" not in result.output


def test_cli_bench_prints_episodes_per_core_beside_the_peer(tmp_path):
    """`--peer FILE`: the peer's figures, then envc's finished episodes and steps per second per
    core and their ratios to the peer's (checked against each other, not against a speed)."""
    from envc.cli import app

    peer = tmp_path / "peer.py"
    peer.write_text("def peer_speed(module, seconds, progress=print):\n"
                    "    return {'label': 'test peer', 'episodes_per_s': 4.0, 'steps_per_s': 40.0}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["bench", str(DUEL), "--target", "jax", "--batch", "8", "--repeats", "1",
                                      "--peer", str(peer)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "peer test peer: 4 episodes/s, 40 steps/s on one core" in result.output, result.output
    assert all(col in result.output for col in ("trace", "lower", "XLA")), result.output  # the compile's stages
    line = next(x for x in result.output.splitlines() if x.strip().startswith("jax batch=8:"))
    eps = float(line.split(": ", 1)[1].split(" episodes/s")[0].replace(",", ""))
    ratio = float(line.split(" = ")[1].split(" x")[0].replace(",", ""))
    assert eps > 0, "a duel lasts at most 30 turns: a 64-turn scan of 8 games finishes some"
    assert abs(ratio - eps / 4.0) <= 0.01 + 0.5 / 4.0, line  # both printed rounded
    steps_part = line.split("; ", 1)[1]  # and the steps per second per core, beside the peer's
    sps = float(steps_part.split(" steps/s")[0].replace(",", ""))
    steps_ratio = float(steps_part.split(" = ")[1].split(" x")[0].replace(",", ""))
    assert sps > eps and abs(steps_ratio - sps / 40.0) <= 0.01 + 0.5 / 40.0, line


def test_bench_times_tracing_lowering_and_xla_compile_apart():
    """Issue #18: `envc bench` reports the compile in JAX's three stages; they add up to the
    compile time it always reported, and each stage is timed (a stage of 0 would be one not
    run). Not a timed test: no speed is asserted."""
    import jax
    import jax.numpy as jnp

    from envc.bench import measure_rollout

    def rollout(key, n_steps, batch):
        def body(x, _):
            return x * 1.5 + 1.0, None

        x, _ = jax.lax.scan(body, jax.random.uniform(key, (batch,)), None, length=n_steps)
        return x, jnp.zeros((batch,), jnp.int32), jnp.zeros((batch,), jnp.int32)

    row = measure_rollout("toy", rollout, batch=4, n_steps=8, repeats=1)
    assert row.trace_s > 0 and row.lower_s > 0 and row.xla_s > 0
    assert row.compile_s == pytest.approx(row.trace_s + row.lower_s + row.xla_s)


def test_bench_counts_the_episodes_of_a_running_batch():
    """`measure_rollout(..., init=...)` carries the state from call to call: a toy whose every
    episode lasts 12 steps finishes none within one 8-step call from a fresh start, but in
    the two timed calls of a running batch (steps 129..144 after the 128 warm-up steps) each
    environment ends exactly two (at 132 and 144)."""
    import jax
    import jax.numpy as jnp

    from envc.bench import WARM_STEPS, measure_rollout

    def init(key):
        return jnp.int32(0)

    def rollout(key, n_steps, batch, state=None):
        def body(c, _):
            c = c + 1
            done = c == 12
            return jnp.where(done, 0, c), done

        c, done = jax.lax.scan(body, jnp.zeros((batch,), jnp.int32) if state is None else state, None,
                               length=n_steps)
        return c, jnp.zeros((n_steps, batch, 2), jnp.float32), done

    assert WARM_STEPS == 128  # (the docstring's arithmetic)
    for given, expected in ((None, 0), (init, 2 * 4)):
        row = measure_rollout("toy", rollout, batch=4, n_steps=8, repeats=2, init=given)
        seconds = sum(4 * 8 / r for r in row.sps_runs)
        assert row.episodes_per_s * seconds == pytest.approx(expected), (given, row)


def test_compare_rollouts_compiles_each_side_cold():
    """`compare_rollouts` clears JAX's in-process caches before each side's compile: a jitted
    helper both sides call (a harness's policy, say) is traced once per side, not found traced
    by the side compiled second."""
    import jax
    import jax.numpy as jnp

    from envc.bench import compare_rollouts

    traces = []

    @jax.jit
    def shared(x):
        traces.append(x.shape)  # runs while tracing only
        return x * 2.0

    def make(scale):
        def rollout(key, n_steps, batch):
            def body(x, _):
                return shared(x) * scale, None

            x, _ = jax.lax.scan(body, jax.random.uniform(key, (batch,)), None, length=n_steps)
            return x, jnp.zeros((n_steps, batch, 1), jnp.float32), jnp.zeros((n_steps, batch), jnp.bool_)

        return rollout

    first, second = compare_rollouts(("a", make(1.0)), ("b", make(0.5)), batch=4, n_steps=3, repeats=1)
    assert traces == [(4,), (4,)]
    assert first.trace_s > 0 and second.trace_s > 0


def test_simultaneous_lengths_are_turns(tmp_path):
    """A simultaneous spec (oshi: two players, each turn both commit, one step each): `envc run`
    counts and labels lengths in turns, what `turn_limit` bounds, on both targets. The steps
    line still counts steps, so the mean turns is steps / (2 x episodes) when nothing is cut,
    and `--max-steps 3` (one turn and one commit) gives exactly 1 turn per episode."""
    from envc.compiler.check import load
    from envc.run_jax import CUT, run_jax

    csv_path = tmp_path / "oshi.csv"
    py = _invoke("tests/specs/oshi.envspec", "--episodes", "20", "--matchups", str(csv_path))
    assert py.exit_code == 0, py.output
    header, rows = _table(py.stdout)
    assert header[:3] == ["match-up", "episodes", "mean length (turns)"]
    mean = _check_rows(header, rows, 20)["all"]["mean length (turns)"]
    steps = int(py.stdout.split("steps: ", 1)[1].split(" ", 1)[0].replace(",", ""))
    assert mean == pytest.approx(steps / 40, abs=0.005), (mean, steps)  # 2 steps a turn
    assert f"mean length {mean:.1f} turns" in py.stdout
    head, first = csv_path.read_text().splitlines()[:2]
    assert head.split(",")[:3] == ["matchup", "episodes", "mean_length_turns"] and first.startswith("all,20,")
    cut = _invoke("tests/specs/oshi.envspec", "--episodes", "4", "--max-steps", "3", "--verbose")
    assert cut.exit_code == 0, cut.output
    assert cut.stdout.count("1 turn (3 steps), cut at --max-steps") == 4, cut.stdout
    m = load(str(ROOT / "tests" / "specs" / "oshi.envspec"))
    r = run_jax(m, 8, batch=4, seed=0, max_steps=3, chunk=8)
    assert (r.episodes.outcomes == CUT).all() and (r.episodes.lengths == 1).all(), r.episodes.lengths
    r = run_jax(m, 8, batch=4, seed=0, chunk=64)
    assert ((r.episodes.lengths >= 1) & (r.episodes.lengths <= 100)).all()  # turn_limit 100


INIT_DECIDES = """env initwin "an init that decides the game: player 1 has won before any step"
players 2
state { x: int[0..1] = 0 }
init { win(1) }
action go() { x = 1 }
observe(p) -> int[0..1][1] { return [x] }
"""


@pytest.mark.parametrize("target", ["python", "jax"])
def test_a_game_decided_by_init_counts_alike_on_both_targets(tmp_path, target):
    """An `init` that decides the game is an episode of length 0 won by its winner, with the
    init's rewards as returns, on both targets (a fresh spec: the interpreter counted the win
    with returns 0, the JAX run stepped the ended state and counted a draw of length 1)."""
    from envc.cli import app

    path = tmp_path / "initwin.envspec"
    path.write_text(INIT_DECIDES)
    extra = ["--target", "jax", "--batch", "2"] if target == "jax" else []
    result = CliRunner().invoke(app, ["run", str(path), "--episodes", "6", *extra], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    header, rows = _table(result.output)
    row = _check_rows(header, rows, 6)["all"]
    assert (row["mean length"], row["P1 wins"]) == (0.0, 1.0)
    assert (row["mean return P0"], row["mean return P1"]) == (-1.0, 1.0)


@pytest.mark.parametrize("args, message", [
    (["bench", "specs/tictactoe.envspec", "--target", "jax", "--batch", "0"], "needs integers from 1 to"),
    (["bench", "specs/tictactoe.envspec", "--target", "jax", "--batch", " , "], "needs integers from 1 to"),
    (["bench", "specs/tictactoe.envspec", "--batch", str(2**63)], "needs integers from 1 to 16,777,216"),
    (["run", "specs/tictactoe.envspec", "--target", "jax", "--seed", str(2**63)], "less than or equal to 2147483647"),
    (["run", "specs/tictactoe.envspec", "--target", "jax", "--max-steps", str(2**63)], "less than or equal to"),
    (["verify", "specs/tictactoe.envspec", "--targets", "python,flat", "--policy", "x.py:f"], "not `flat`"),
    (["run", "specs/tictactoe.envspec", "--seed", "-5"], "greater than or equal to 0"),
    (["verify", "specs/tictactoe.envspec", "--seed", "-1"], "greater than or equal to 0"),
    (["verify", "specs/tictactoe.envspec", "--float-tolerance", "inf"], "not a finite number"),
    (["verify", "specs/tictactoe.envspec", "--targets", ""], "names no backend"),
    (["compile", "specs/tictactoe.envspec", "--target", "jax", "-o", "FILE"], "is a file, not a folder"),
    (["compile", "specs/tictactoe.envspec", "--target", "jax", "-o", "FILE/sub"], "cannot write the package"),
])
def test_bad_option_values_are_diagnostics(tmp_path, args, message):
    """Option values that made internal errors (a fresh CLI probe: `--batch 0` divided by zero,
    a negative seed reached numpy's SeedSequence, `-o` naming a file raised FileExistsError)
    or passed silently (`--float-tolerance nan`, `--targets ''`) exit 1 with a message."""
    from envc.cli import app

    (tmp_path / "FILE").write_text("")
    args = [str(ROOT / a) if a.startswith("specs/") else str(tmp_path / a) if a.startswith("FILE") else a
            for a in args]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code in (1, 2), result.output  # (2: typer's own range check of the option)
    assert message in " ".join(result.output.split()), result.output
    assert "internal error" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("source, message", [
    ("def peer_speed(:\n", "failed to load: SyntaxError"),
    ("raise ValueError('boom')\n", "failed to load: ValueError: boom"),
])
def test_a_broken_peer_file_is_the_users_error(tmp_path, source, message):
    """A peer file (the user's own Python) that does not load was an internal error of envc."""
    from envc.cli import app

    peer = tmp_path / "peer.py"
    peer.write_text(source)
    result = CliRunner().invoke(app, ["bench", "specs/tictactoe.envspec", "--target", "jax", "--peer", str(peer)])
    assert result.exit_code == 1 and "error[E0180]" in result.output and message in result.output, result.output


@pytest.mark.parametrize("target, where", [("python", ""), ("jax", "env 0: ")])
def test_bench_reports_a_runtime_fault_of_the_spec(tmp_path, target, where):
    """`envc bench` on a spec that faults at its first step: the fault, where it is and how to
    reproduce it, exit 1 (it was "internal error: SpecRuntimeError" on the interpreter, and on
    JAX a table of SPS of games that had all faulted: hunts)."""
    from envc.cli import app

    spec = tmp_path / "bench_fault.envspec"
    spec.write_text('env bench_fault "faults at once"\nturn_limit 5\nstate { xs: list<int[0..9], 1> }\n'
                    "init { xs.push(1) }\naction add() { xs.push(2) }\nobserve(p) -> int[0..9][1] { return [len(xs)] }\n")
    options = ["--steps", "20"] if target == "python" else ["--batch", "2", "--repeats", "1", "--jax-cache", "off"]
    result = CliRunner().invoke(app, ["bench", str(spec), "--target", target, *options])
    assert result.exit_code == 1, result.output
    assert f"error[R0001]: runtime fault while benchmarking: {where}bench_fault.envspec:5:16: push onto a full " \
           "list" in result.output, result.output
    assert "internal error" not in result.output and "envc run" in result.output


def test_a_nan_return_prints_no_numpy_warning(tmp_path):
    """Rewards of +inf then -inf make a NaN return, a legal IEEE result: `envc run` printed numpy's
    RuntimeWarning with envc's own source path before the table (hunt L)."""
    import warnings

    from envc.cli import app

    spec = tmp_path / "inf.envspec"
    spec.write_text('env inf "inf then -inf"\nturn_limit 2\nstate { k: int[0..2] = 0 }\n'
                    "action go() {\n    reward(0, if k == 0 then 1.0 / 0.0 else -1.0 / 0.0)\n    k = min(k + 1, 2)\n}\n"
                    "observe(p) -> int[0..2] { return k }\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = CliRunner().invoke(app, ["run", str(spec), "--episodes", "2"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "RuntimeWarning" not in result.output and "nan" in result.output


DEAD_END = ('env dead_end "a state with no legal action that has not ended"\nplayers 2\nturn_limit 10\n'
            "state { n: int[0..3] = 0 }\n"
            "action go() when n < 2 {\n    n = n + 1\n    current_player = 1 - current_player\n}\n"
            "observe(p) -> int[0..3] { return n }\n")


def test_a_dead_end_is_a_fault_on_every_target_and_command(tmp_path):
    """Hunt S: after two steps no action is legal and the game has not ended. The interpreter's
    `envc run` reported it (R0001), `envc bench` was an internal error (numpy's "a cannot be
    empty"), the JAX run said "P1 wins" (its random legal policy had nothing to pick and played
    an illegal action), and `envc verify --reference jax` said ok where the interpreter's verify
    failed. Every one now reports the dead end."""
    from envc.cli import app

    spec = tmp_path / "dead_end.envspec"
    spec.write_text(DEAD_END, encoding="utf-8")
    runner = CliRunner()
    commands = [["run", str(spec), "--episodes", "4"],
                ["run", str(spec), "--target", "jax", "--episodes", "4", "--batch", "2"],
                ["bench", str(spec), "--target", "python", "--steps", "20"]]
    for args in commands:
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 1, (args, result.output)
        assert "error[R0001]" in result.output and "a non-terminal state has no legal action" in result.output, \
            (args, result.output)
    for targets in (["--targets", "python,jax,rust"], ["--reference", "jax", "--targets", "jax,rust"]):
        result = runner.invoke(app, ["verify", str(spec), *targets, "--episodes", "3"], env={"COLUMNS": "200"})
        assert result.exit_code == 1, (targets, result.output)
        assert result.output.count("a non-terminal state has no legal action (actions [0, 0])") == 3, result.output
        assert "FAILED: 0 divergence(s), 3 fault(s)" in result.output, result.output
