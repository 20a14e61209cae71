"""Match-up reports of `envc run` (envc/matchups.py) and the `@outcome` annotation.

The scores and standings are checked on hand-made episodes whose results are known; the
command line is checked end to end on the interpreter (the CSV read back against the
episodes asked for, the heatmap a PNG, the endings summing to 1), and its errors are
checked to come before any game is played. The JAX path records the same endings in
tests/test_run.py::test_cli_tcg_matchups (it compiles the TCG).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DECKS = sorted(p.stem for p in (ROOT / "specs" / "data" / "decks").glob("*.txt"))

NIM = """env nim "Take one or two stones"
players 2
enum End {{ playing, emptied "took the last stone" }}
state {{
    stones: int[0..15] = 15
    how: {how_type} {how_ann}
    other: bool = false {other_ann}
}}
action take(n: int[1..2]) when n <= stones {{
    stones = clamp(stones - n, 0, 15)
    if stones == 0 {{ win(current_player) }}
    current_player = 1 - current_player
}}
observe(p) -> int[0..15] {{ return stones }}
"""


def _nim(tmp_path, how_type="End = End.playing", how_ann="@outcome", other_ann=""):
    from envc.compiler.check import load

    path = tmp_path / "nim.envspec"
    path.write_text(NIM.format(how_type=how_type, how_ann=how_ann, other_ann=other_ann), encoding="utf-8")
    return load(str(path))


def test_outcome_annotation_marks_one_scalar_field(tmp_path, specs):
    from envc.compiler.diagnostics import DiagnosticError
    from envc.run_jax import ending_text, outcome_field

    m = _nim(tmp_path)
    assert outcome_field(m).name == "how"
    assert [ending_text(m, v) for v in (0, 1)] == ["playing", "took the last stone"]  # the member's text
    assert outcome_field(specs("tcg")).name == "ended_by" and outcome_field(specs("connect4")) is None
    for kwargs, words in (({"how_type": "int[0..3][2] = 0"}, "must be one bool, integer or enum"),
                          ({"other_ann": "@outcome"}, "a second `@outcome` field: `other`")):
        with pytest.raises(DiagnosticError) as e:
            _nim(tmp_path, **kwargs)
        assert [d.code for d in e.value.diagnostics] == ["E0110"], e.value.diagnostics
        assert words in e.value.diagnostics[0].message
    with pytest.raises(DiagnosticError) as e:
        _nim(tmp_path, how_ann="@outcom")
    assert e.value.diagnostics[0].help == "did you mean `outcome`?"


def _episodes(tcg, games):
    """Episodes of the TCG from (deck of player 0, deck of player 1, outcome code, ending value)."""
    from envc.run_jax import Episodes

    labels = [(DECKS.index(a), DECKS.index(b)) for a, b, _, _ in games]
    return Episodes.from_lists(labels, [c for _, _, c, _ in games], [10] * len(games),
                               [[0.0, 0.0]] * len(games), 2, 2, [e for _, _, _, e in games])


A, B, C = DECKS[0], DECKS[1], DECKS[2]


def test_standings_count_both_seats_draws_half_and_leave_mirrors_out(specs):
    from envc.matchups import standings
    from envc.run_jax import DRAW, TRUNCATED

    tcg = specs("tcg")
    eps = _episodes(tcg, [(A, B, 0, 1), (B, A, 0, 1), (B, A, 1, 1), (A, B, DRAW, 3), (A, A, 0, 1),
                          (C, A, TRUNCATED, 0)])
    table = standings(tcg, eps)
    assert table.names == [A, B, C]
    i = {name: k for k, name in enumerate(table.names)}
    # A-B: A won 2 (once in each seat), B won 1, one draw; the mirror A-A is not counted
    assert table.games[i[A], i[B]] == table.games[i[B], i[A]] == 4 and table.games[i[A], i[A]] == 0
    assert (table.wins[i[A], i[B]], table.wins[i[B], i[A]], table.draws[i[A], i[B]]) == (2, 1, 1)
    score = table.matrix()
    assert score[i[A], i[B]] == pytest.approx(2.5 / 4) and score[i[B], i[A]] == pytest.approx(1.5 / 4)
    assert np.isnan(score[i[A], i[A]]) and np.isnan(score[i[B], i[C]])  # a mirror, no game
    assert score[i[C], i[A]] == 0.5  # a truncated game counts half for each side
    games, total, wins, draws = table.totals()
    assert list(games) == [5, 4, 1]
    assert total[i[A]] == pytest.approx((2 + 0.5 + 0.5) / 5) and wins[i[A]] == pytest.approx(2 / 5)
    assert draws[i[C]] == 1.0
    assert standings(specs("connect4"), eps) is None  # no entrants


def test_csv_summary_and_heatmap(tmp_path, specs):
    from envc.matchups import standings, summary_lines, write_csv, write_heatmap
    from envc.run_jax import DRAW, summarize

    tcg = specs("tcg")
    eps = _episodes(tcg, [(A, B, 0, 1), (B, A, 0, 1), (A, B, DRAW, 3), (C, A, 1, 2)])
    rows = summarize(tcg, eps)
    write_csv(tmp_path / "m.csv", tcg, rows)
    with open(tmp_path / "m.csv", encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert [r["matchup"] for r in got] == [f"{A} vs {B}", f"{B} vs {A}", f"{C} vs {A}", "all"]
    first = got[0]
    assert (first["player0"], first["player1"], first["episodes"]) == (A, B, "2")
    assert float(first["p0_wins"]) == 0.5 and float(first["draws"]) == 0.5
    assert float(first["ended: points"]) == 0.5 and float(first["ended: turn limit"]) == 0.5
    assert float(got[2]["ended: no Pokémon in play"]) == 1.0 and got[3]["player0"] == ""
    for r in got:
        assert sum(float(v) for k, v in r.items() if k.startswith("ended: ")) == pytest.approx(1.0)
    lines = summary_lines(tcg, rows, standings(tcg, eps), top=1)
    assert lines[1].startswith(f"best: {A} 0.625 (wins 0.500, undecided 0.250, 4 games)"), lines
    assert lines[2] == f"worst: {C} 0.000 (wins 0.000, undecided 0.000, 1 games)", lines
    assert lines[-1] == "how episodes ended: points 0.500, no Pokémon in play 0.250, turn limit 0.250"
    pytest.importorskip("matplotlib")
    write_heatmap(tmp_path / "m.png", standings(tcg, eps), "test")
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _run(*args: str):
    from envc.cli import app

    args = tuple(str(ROOT / a) if a.startswith("specs/") else a for a in args)
    return CliRunner().invoke(app, ["run", *args], env={"COLUMNS": "200"})


def test_cli_run_writes_the_matchup_files(tmp_path):
    out = tmp_path / "tcg.csv"
    result = _run("specs/tcg.envspec", "--episodes", "24", "--seed", "3", "--matchups", str(out))
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    *pairs, total = got
    assert total["matchup"] == "all" and int(total["episodes"]) == 24
    assert sum(int(r["episodes"]) for r in pairs) == 24
    for r in got:
        assert sum(float(v) for k, v in r.items() if k.startswith("ended: ")) == pytest.approx(1.0, abs=1e-5)
        assert r["player0"] in DECKS + [""] and r["player1"] in DECKS + [""]
    # a game the turn limit ends is a draw; one that points or an empty board end has a winner
    # (or is a draw when both sides lose at once)
    ends = {k[len("ended: "):]: float(v) for k, v in total.items() if k.startswith("ended: ")}
    assert ends.get("turn limit", 0.0) <= float(total["draws"]) + 1e-6
    decided = float(total["p0_wins"]) + float(total["p1_wins"])
    assert decided <= ends.get("points", 0.0) + ends.get("no Pokémon in play", 0.0) + 1e-6
    assert (tmp_path / "tcg.png").read_bytes()[:4] == b"\x89PNG"
    assert "best: " in result.stdout and "how episodes ended: " in result.stdout


def test_cli_run_matchup_errors_come_before_any_game(tmp_path):
    missing = _run("specs/tictactoe.envspec", "--episodes", "3", "--matchups", str(tmp_path / "no" / "x.csv"))
    assert missing.exit_code == 1 and "E0180" in missing.output and "no folder" in missing.output
    assert "SPS" not in missing.output and "Traceback" not in missing.output
    alone = _run("specs/tictactoe.envspec", "--episodes", "3", "--heatmap", str(tmp_path / "x.png"))
    assert alone.exit_code == 1 and "`--heatmap` needs `--matchups`" in alone.output
    plain = _run("specs/tictactoe.envspec", "--episodes", "5", "--matchups", str(tmp_path / "t.csv"))
    assert plain.exit_code == 0, plain.output
    assert (tmp_path / "t.csv").exists() and not (tmp_path / "t.png").exists()  # no entrants: no heatmap
    assert "best: " not in plain.stdout and "how episodes ended: by the rules 1.000" in plain.stdout
    asked = _run("specs/tictactoe.envspec", "--episodes", "3", "--matchups", str(tmp_path / "t2.csv"),
                 "--heatmap", str(tmp_path / "t2.png"))  # (a heatmap asked for and not drawn: refused first)
    assert asked.exit_code == 1 and "E0181" in asked.output and "SPS" not in asked.output
    assert not (tmp_path / "t2.csv").exists()


def test_csv_names_that_look_like_formulas_stay_text(tmp_path, specs):
    """An entrant named like a spreadsheet formula is written as text (`'` first), numbers as
    numbers (hunt E: a deck named `=HYPERLINK(...)` became a formula)."""
    from dataclasses import replace

    from envc.matchups import write_csv
    from envc.run_jax import summarize

    tcg = specs("tcg")
    row = summarize(tcg, _episodes(tcg, [(A, B, 0, 1)]))[0]
    bad = '=HYPERLINK("http://x","y")'
    write_csv(tmp_path / "m.csv", tcg, [replace(row, label=f"{bad} vs -x", entrants=[bad, "@x"],
                                                mean_return=[-0.5, 0.5])])
    with open(tmp_path / "m.csv", encoding="utf-8") as fh:
        (got,) = list(csv.DictReader(fh))
    assert (got["matchup"], got["player0"], got["player1"]) == ("'" + bad + " vs -x", "'" + bad, "'@x")
    assert float(got["p0_mean_return"]) == -0.5


def test_heatmap_draws_names_as_written(tmp_path):
    """Entrant names and the title come from the spec and its data: `$\\alpha{$` was an internal
    error (matplotlib's mathtext parser) and `$x^2$` drawn as math (hunt N); both are drawn as
    plain text now."""
    pytest.importorskip("matplotlib")
    from envc.matchups import Standings, write_heatmap

    games = np.array([[0, 2], [2, 0]])
    table = Standings(["cost $\\alpha{$", "a $x^2$ b"], games, np.array([[0, 1], [1, 0]]), np.zeros((2, 2), int))
    write_heatmap(tmp_path / "m.png", table, "deck $\\undefined{$")
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
