"""Match-up reports of `envc run`: a CSV of every match-up, a heatmap of win rates, standings.

Public surface: `standings(module, episodes) -> Standings | None`, `write_csv(path, module, rows)`,
`write_heatmap(path, standings, title)`, `summary_lines(module, rows, standings) -> list[str]`.

Entrants: when the only `@matchup` field has one slot per player (`decks: Deck[2] @matchup`),
each slot is what that player brings (a deck), and a match-up is a pair of entrants
(`envc.run_jax.entrants`). Standings and the heatmap count every game between two different
entrants from both seats (a as player 0 or as player 1). A game no one won (a draw, a
truncation at the spec's turn limit, a cut at `--max-steps`) counts half for each side, as in
chess: entrant a's score against b = (games a won + half the undecided ones) / games between
them, so 0.5 is an even match-up whatever the share of draws (random play in the TCG draws
most games; a plain win rate would paint every cell as a loss). The win rate and the draws
are given beside it. Mirror match-ups (a against a) say nothing about an entrant against the
field, so they are left out of the standings and the heatmap (the CSV has them). Two-player
specs only: with more players a score "against" is not one number.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envc.compiler import ir
from envc.run_jax import Episodes, MatchupRow, entrant_text, entrant_type, length_unit


@dataclass
class Standings:
    """Entrants and their results against each other (mirror match-ups excluded).

    `names[i]` is entrant i (ordered by its value: table row, enum member, integer);
    `games[i, j]` / `wins[i, j]` / `draws[i, j]`: games between i and j (either seat) / of
    them won by i / won by no one (draw, truncated or cut)."""

    names: list[str]
    games: np.ndarray  # int64 [n, n], symmetric, zero diagonal
    wins: np.ndarray  # int64 [n, n]
    draws: np.ndarray  # int64 [n, n], symmetric

    def _per_game(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.games > 0, x / np.maximum(self.games, 1), np.nan)

    def matrix(self) -> np.ndarray:
        """float64 [n, n]: the row entrant's score against the column entrant, (wins + draws / 2)
        / games, in 0..1 (NaN: no game, or a mirror)."""
        return self._per_game(self.wins + 0.5 * self.draws)

    def totals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per entrant over all its non-mirror games: (games int64 [n], score, win rate, draw
        rate float64 [n]; NaN for an entrant without such games)."""
        games = self.games.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            wins = np.where(games > 0, self.wins.sum(axis=1) / games, np.nan)
            draws = np.where(games > 0, self.draws.sum(axis=1) / games, np.nan)
        return games, wins + 0.5 * draws, wins, draws


def standings(module: ir.Module, episodes: Episodes) -> Standings | None:
    """The standings of a two-player spec whose match-up is one entrant per player, else None.

    `episodes.outcomes` codes (envc.run_jax): 0 or 1 is the winner; any other code is no win."""
    if module.num_players != 2 or entrant_type(module) is None or len(episodes.outcomes) == 0:
        return None
    half = episodes.labels.shape[1] // 2
    sides = [episodes.labels[:, :half], episodes.labels[:, half:]]
    keys = sorted({tuple(int(x) for x in k) for side in sides for k in side})
    index = {k: i for i, k in enumerate(keys)}
    names = [entrant_text(module, k) for k in keys]
    n = len(keys)
    games = np.zeros((n, n), np.int64)
    wins = np.zeros((n, n), np.int64)
    draws = np.zeros((n, n), np.int64)
    for a_key, b_key, code in zip(map(tuple, sides[0].tolist()), map(tuple, sides[1].tolist()),
                                  episodes.outcomes.tolist()):
        a, b = index[a_key], index[b_key]
        if a == b:
            continue
        games[a, b] += 1
        games[b, a] += 1
        if code == 0:
            wins[a, b] += 1
        elif code == 1:
            wins[b, a] += 1
        else:
            draws[a, b] += 1
            draws[b, a] += 1
    return Standings(names, games, wins, draws)


def write_csv(path: str | Path, module: ir.Module, rows: list[MatchupRow]) -> None:
    """Write the match-up table (`envc.run_jax.summarize`'s rows, `all` last) as CSV.

    Columns: `matchup`, then `player0`, `player1`, ... (each player's entrant, when the match-up
    is one entrant per player), `episodes`, `mean_length` (in steps; `mean_length_turns` in a
    simultaneous spec, whose lengths are turns: `envc.run_jax.length_unit`), then `p0_wins` ..., `draws` and `p0_mean_return` ...
    (several players) or `mean_return` and `terminated` (one player), `truncated`, `cut`, and
    one `ended: TEXT` column per final value of the `@outcome` field seen in any row. Rates
    are fractions of the row's episodes. Raises OSError when the file cannot be written."""
    p = module.num_players
    per_player = entrant_type(module) is not None
    endings = sorted({e for r in rows for e in r.endings})
    length = "mean_length" if length_unit(module) == "steps" else "mean_length_turns"
    header = ["matchup"] + ([f"player{i}" for i in range(p)] if per_player else []) + ["episodes", length]
    header += [f"p{i}_wins" for i in range(p)] + ["draws"] + [f"p{i}_mean_return" for i in range(p)] if p > 1 \
        else ["mean_return", "terminated"]
    header += ["truncated", "cut"] + [f"ended: {e}" for e in endings]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            sides = r.entrants or [""] * p
            names = [_text_cell(x) for x in [r.label] + (sides if per_player else [])]
            cells: list[object] = names + [r.episodes, f"{r.mean_length:.4f}"]
            cells += [f"{x:.6f}" for x in r.wins] + [f"{r.draws:.6f}"] + [f"{x:.6f}" for x in r.mean_return] \
                if p > 1 else [f"{r.mean_return[0]:.6f}", f"{r.terminated:.6f}"]
            cells += [f"{r.truncated:.6f}", f"{r.cut:.6f}"] + [f"{r.endings.get(e, 0.0):.6f}" for e in endings]
            w.writerow(cells)


def _text_cell(text: str) -> str:
    """A name from the spec or its data (an entrant, a match-up label) as a CSV cell that a
    spreadsheet shows as text: one that starts like a formula (`=`, `+`, `-`, `@`, a tab or a
    carriage return) gets a leading `'` (OWASP's "CSV injection" advice; hunt E: a deck named
    `=HYPERLINK(...)` became a formula). Decided here rather than with `defusedcsv`, which
    also rewrites the numeric cells this file writes as text (`-0.500000`)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_heatmap(path: str | Path, table: Standings, title: str) -> None:
    """Write a PNG heatmap of `table.matrix()`: cell (row a, column b) is a's score against b
    over their games in both seats (wins + half the draws, / games; mirrors blank). Needs matplotlib (`pip install
    'envc[plot]'`): raises ImportError without it, OSError when the file cannot be written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = table.matrix()
    n = len(table.names)
    side = max(4.0, 0.45 * n + 2.5)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    image = ax.imshow(np.ma.masked_invalid(m), cmap="RdBu", vmin=0.0, vmax=1.0)
    # names and the title come from the spec and its data: drawn as written, never as mathtext
    # (`$\alpha{$` was an internal error of matplotlib's parser, `$x^2$` drawn as math; hunt N)
    ax.set_xticks(range(n), table.names, rotation=90, fontsize=8, parse_math=False)
    ax.set_yticks(range(n), table.names, fontsize=8, parse_math=False)
    ax.set_xlabel("against")
    ax.set_title(title, fontsize=9, parse_math=False)
    if n <= 24:
        for a in range(n):
            for b in range(n):
                if not np.isnan(m[a, b]):
                    ax.text(b, a, f"{m[a, b]:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label="score of the row's entrant: (wins + draws / 2) / games, both seats")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary_lines(module: ir.Module, rows: list[MatchupRow], table: Standings | None, top: int = 3) -> list[str]:
    """A few lines under the table: the best and worst `top` entrants (score over non-mirror
    games, see the module's docstring), draws and mean length over all episodes (`rows[-1]`, the `all` row or the only one),
    and how the episodes ended (the `@outcome` field's final values, else the outcome codes)."""
    total = rows[-1]
    lines = []
    if table is not None:
        games, score, wins, draws = table.totals()
        ranked = [i for i in np.argsort(-np.nan_to_num(score, nan=-1.0), kind="stable") if games[i] > 0]

        def show(i: int) -> str:
            return f"{table.names[i]} {score[i]:.3f} (wins {wins[i]:.3f}, undecided {draws[i]:.3f}, {games[i]:,} games)"

        lines.append("entrants by score against the others, both seats, games no one won (draws, turn limits) "
                     "count half:")
        lines.append("best: " + ", ".join(show(i) for i in ranked[:top]))
        lines.append("worst: " + ", ".join(show(i) for i in ranked[::-1][:top]))
    unit = length_unit(module)
    if module.num_players > 1:
        lines.append(f"draws: {total.draws:.3f} of {total.episodes:,} episodes; mean length {total.mean_length:.1f} {unit}")
    else:
        lines.append(f"{total.episodes:,} episodes; mean length {total.mean_length:.1f} {unit}")
    # the `@outcome` field's final value says how each episode ended (its "not ended" value
    # covers truncated and cut episodes); without one, the outcome codes do
    ends = list(total.endings.items()) or [(k, v) for k, v in (
        ("by the rules", 1.0 - total.truncated - total.cut), ("truncated (turn limit)", total.truncated),
        ("cut at --max-steps", total.cut)) if v > 0]
    lines.append("how episodes ended: " + ", ".join(f"{k} {v:.3f}" for k, v in ends))
    return lines
