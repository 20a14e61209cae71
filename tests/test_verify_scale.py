"""`envc verify` at scale (envc/verify.py): chunks, the per-match-up quota, the fast array
conversion, and the command line's `--per-matchup` table.

A chunked run must report what one batch reports (level 3 and level 1; level 2 samples
other states), a divergence in any chunk is reported with its seed and step, the JAX
functions compile once whatever the number of chunks, and `per_matchup=N` verifies exactly
N episodes of every match-up, skipping full match-ups without consuming policy draws.
The JAX tests use tictactoe and a tiny spec (fast compiles); tcg runs interpreter-only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import envc.verify as verify_mod
from envc.compiler import ir
from envc.compiler.check import load
from envc.compiler.interp import Interpreter
from envc.run_jax import label_text, label_values
from envc.verify import all_matchups, states_to_arrays, to_arrays, verify

ROOT = Path(__file__).resolve().parent.parent
DECKS = sorted(p.stem for p in (ROOT / "specs" / "data" / "decks").glob("*.txt"))

# Two players, a random handicap each (the match-up), then one-or-two-stone nim.
NIM = """env nim "Take one or two stones; each player starts with a random handicap"
players 2
state {
    stones: int[0..15] = 15 {stones_ann}
    handicap: int[0..2][2] {handicap_ann}
}
init {
    for p in 0..2 {
        handicap[p] = random.int(0, 2)
    }
    stones = 15 - handicap[0]
}
action take(n: int[1..2]) when n <= stones {
    stones = clamp(stones - n, 0, 15)
    if stones == 0 { win(current_player) }
    current_player = 1 - current_player
}
observe(p) -> int[0..15] { return stones }
"""


@pytest.fixture(scope="module")
def nim(tmp_path_factory):
    path = tmp_path_factory.mktemp("nim") / "nim.envspec"
    path.write_text(NIM.replace("{stones_ann}", "").replace("{handicap_ann}", "@matchup"))
    return load(str(path))


def _summary(report, level2: bool = True):
    divs = [d.render() for d in report.divergences if level2 or d.level != 2]
    out = (report.episodes, report.steps, report.invariant_checks, divs, report.faults, report.per_matchup_counts)
    return out + (report.level2_transitions,) if level2 else out


def _played(module, seed: int, n: int) -> list:
    """The interpreter states of `n` random-policy episodes (at most 60 steps each)."""
    it, policy = Interpreter(module), np.random.default_rng(seed)
    states = []
    for e in range(n):
        s = it.init(seed + e)
        states.append(s)
        for _ in range(60):
            if s.terminated or s.truncated:
                break
            s = it.step(s, int(policy.choice(np.flatnonzero(s.legal_action_mask))))
            states.append(s)
    return states


# ------------------------------------------------------------------ conversion

def _reference(module, t, v):
    """The straightforward recursion `to_arrays` used to be (one value at a time)."""
    if isinstance(t, ir.ArrayT):
        parts = [_reference(module, t.elem, x) for x in v]
        return _stack(parts)
    if isinstance(t, ir.RecordT):
        return {f.name: _reference(module, f.type, v[f.name]) for f in module.record(t.name).fields}
    if isinstance(t, ir.ListT):
        padded = list(v) + [ir.raw_zero(module, t.elem)] * (t.cap - len(v))
        return {"items": _reference(module, ir.ArrayT(elem=t.elem, size=t.cap), padded), "len": np.int32(len(v))}
    return np.asarray(v, dtype=verify_mod._np_dtype(t))


def _stack(parts):
    if isinstance(parts[0], dict):
        return {k: _stack([p[k] for p in parts]) for k in parts[0]}
    return np.stack(parts)


def _assert_same(a, b, path=""):
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
        return
    assert type(a) is type(b) and a.dtype == b.dtype and np.shape(a) == np.shape(b), (path, type(a), type(b))
    assert np.array_equal(a, b, equal_nan=True), path


@pytest.mark.parametrize("path", ["tests/specs/kitchen_sink.envspec", "specs/tcg.envspec"])
def test_conversion_is_unchanged(path):
    """Records, lists (padded to their cap), enums, rows, floats: same dict structure, dtypes
    and values as the per-value recursion; the stacked form is the per-state one, row by row."""
    m = load(str(ROOT / path))
    states = _played(m, 5, 2)
    stacked = verify_mod._leaves(states_to_arrays(m, states))
    for i, s in enumerate(states):
        ref = {f.name: _reference(m, f.type, s.fields[f.name]) for f in m.state}
        ref["legal_action_mask"] = np.asarray(s.legal_action_mask, dtype=np.bool_)
        ref["observation"] = _reference(m, m.observe.type, s.observation)
        ref["_rng_key"], ref["_rng_counter"] = np.uint32(s.rng_key), np.uint32(s.rng_counter)
        ours = to_arrays(m, s)
        _assert_same(ref, ours)
        for (p, x), (q, y) in zip(verify_mod._leaves(ours), stacked):
            assert p == q and x.dtype == y.dtype and np.array_equal(x, y[i], equal_nan=True), p


# ------------------------------------------------------------------ chunks

def test_chunked_run_equals_one_batch_and_compiles_once(specs, jax_envs, monkeypatch):
    m, env = specs("tictactoe"), jax_envs("tictactoe")
    made = []
    real = verify_mod._JaxBackend
    monkeypatch.setattr(verify_mod, "_JaxBackend", lambda e: made.append(real(e)) or made[-1])
    whole = verify(m, ["python", "jax"], episodes=40, seed=11, level2_samples=0, jax_env=env)
    chunked = verify(m, ["python", "jax"], episodes=40, seed=11, level2_samples=0, jax_env=env, chunk=7)
    assert whole.ok and whole.episodes == 40
    assert _summary(chunked) == _summary(whole)
    # 6 chunks of 7 lanes (the last padded): one compile of init and of the batched step
    assert len(made[1]._init.caches) == 1 and len(made[1]._step.caches) == 1
    # level 2 on: spread over the chunks, the rest identical
    sampled = verify(m, ["python", "jax"], episodes=40, seed=11, jax_env=env, chunk=7)
    assert _summary(sampled, level2=False) == _summary(whole, level2=False) and sampled.level2_transitions > 0
    # a run within one chunk is the unchunked run, level 2 included
    one = verify(m, ["python", "jax"], episodes=40, seed=11, jax_env=env)
    assert _summary(verify(m, ["python", "jax"], episodes=40, seed=11, jax_env=env, chunk=40)) == _summary(one)


def test_a_divergence_in_a_later_chunk_is_reported(specs, broken_tictactoe):
    """A deliberately broken backend (placing on cell 4 also marks cell 8), chunks of 5."""
    whole = verify(specs("tictactoe"), ["python", "jax"], episodes=30, seed=0, jax_env=broken_tictactoe)
    chunked = verify(specs("tictactoe"), ["python", "jax"], episodes=30, seed=0, jax_env=broken_tictactoe, chunk=5)
    level3 = [d for d in chunked.divergences if d.level == 3]
    # the same divergences (listed chunk by chunk, then step by step, instead of step by step)
    assert sorted(d.render() for d in level3) == sorted(d.render() for d in whole.divergences if d.level == 3)
    seeds = {d.episode_seed for d in level3}
    assert min(seeds) < 5 and max(seeds) >= 25, "the first chunk's and the last chunk's divergences are kept"
    late = next(d for d in level3 if d.episode_seed >= 25)
    assert late.actions[-1] == 4 and late.step == len(late.actions) and late.field.startswith("board[8]")
    it = Interpreter(specs("tictactoe"))
    s = it.init(late.episode_seed)
    for a in late.actions:  # the reported actions are that seed's episode
        assert s.legal_action_mask[a] and not s.terminated
        s = it.step(s, a)
    assert f"reproduce: init(seed={late.episode_seed})" in late.render()


# ------------------------------------------------------------------ per match-up

def test_per_matchup_quota_skips_full_matchups_without_policy_draws(nim, jax_envs):
    keys = all_matchups(nim)
    assert keys == [(a, b) for a in range(3) for b in range(3)] and label_text(nim, (0, 2)) == "0 vs 2"
    report = verify(nim, ["python", "jax"], per_matchup=3, seed=4, chunk=8)
    assert report.ok and report.per_matchup_counts == {k: 3 for k in keys} and report.episodes == 27
    # the same run by hand: seeds in order, a full match-up's seed skipped after init, one policy
    it, policy, filled, steps, seed = Interpreter(nim), np.random.default_rng(4), {}, 0, 4
    while any(filled.get(k, 0) < 3 for k in keys):
        s = it.init(seed)
        seed += 1
        key = label_values(nim, s.fields)
        if filled.get(key, 0) >= 3:
            continue
        filled[key] = filled.get(key, 0) + 1
        while not s.terminated:
            s = it.step(s, int(policy.choice(np.flatnonzero(s.legal_action_mask))))
            steps += 1
    assert report.seeds_tried == seed - 4 > 27 and report.steps == steps
    # every mode reports the counts; () without @matchup fields
    plain = verify(nim, ["python"], episodes=20, seed=4)
    assert sum(plain.per_matchup_counts.values()) == 20
    t3 = verify(load(str(ROOT / "specs/tictactoe.envspec")), ["python"], episodes=5)
    assert t3.per_matchup_counts == {(): 5}


def test_per_matchup_stops_at_max_seeds_when_a_matchup_never_occurs(tmp_path):
    path = tmp_path / "nim.envspec"
    path.write_text(NIM.replace("{stones_ann}", "@matchup").replace("{handicap_ann}", ""))
    m = load(str(path))
    assert len(all_matchups(m)) == 16  # int[0..15], though init only deals 13..15
    report = verify(m, ["python"], per_matchup=2, max_seeds=60)
    assert report.seeds_tried == 60 and report.episodes == 6
    assert {k for k, n in report.per_matchup_counts.items() if n} == {(13,), (14,), (15,)}
    assert set(report.per_matchup_counts.values()) == {0, 2}


def test_tcg_per_matchup_cli_prints_every_pair(monkeypatch, tmp_path):
    """Interpreter only, two games of each of the 9 ordered deck pairs of three of the TCG's
    decks (the spec and its data copied with those decks only: with every deck, 2 games of
    each pair would be a long run). The interpreter's invariants are off here (they are most
    of the time, and checked elsewhere)."""
    import shutil

    from envc.cli import app

    decks = DECKS[:3]
    shutil.copy(ROOT / "specs/tcg.envspec", tmp_path)
    shutil.copy(ROOT / "specs/tcg.fills", tmp_path)
    shutil.copytree(ROOT / "specs/data/tcg-pocket", tmp_path / "data/tcg-pocket")
    (tmp_path / "data/decks").mkdir()
    for d in decks:
        shutil.copy(ROOT / f"specs/data/decks/{d}.txt", tmp_path / "data/decks")
    monkeypatch.setattr(Interpreter, "invariant_violations", lambda self, state: [])
    result = CliRunner().invoke(app, ["verify", str(tmp_path / "tcg.envspec"), "--targets", "python",
                                      "--per-matchup", "2", "--chunk", "16"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "tcg: 18 episodes" in result.output
    assert "ok: no runtime fault and no broken invariant on the interpreter" in result.output  # (python only)
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in result.output.splitlines()
            if line.startswith("│")]
    assert sorted(r[0] for r in rows) == sorted(f"{a} vs {b}" for a in decks for b in decks)
    assert {r[1] for r in rows} == {"2"}


@pytest.mark.parametrize("samples", [0, 3])
def test_cli_level2_samples(samples):
    """`--level2-samples 0` injects nothing; a few samples inject some transitions."""
    import re

    from envc.cli import app

    result = CliRunner().invoke(app, ["verify", str(ROOT / "specs/tictactoe.envspec"), "--targets", "python,jax",
                                      "--episodes", "6", "--level2-samples", str(samples)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    injected = int(re.search(r"(\d+) injected transitions", result.output).group(1))
    assert (injected == 0) if samples == 0 else (injected > 0)


def test_a_long_run_without_a_terminal_logs_plain_progress_lines(monkeypatch):
    """stderr is no terminal under CliRunner (as in a CI log): no live bar, plain lines with the
    episodes done out of the planned ones (here one per advance: the interval set to 0)."""
    import envc.cli as cli

    monkeypatch.setattr(cli, "LOG_EVERY_S", 0.0)
    result = CliRunner().invoke(cli.app, ["verify", str(ROOT / "specs/tictactoe.envspec"), "--targets", "python",
                                          "--episodes", "5"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = [x for x in result.output.splitlines() if x.startswith("episodes: ")]
    assert [x.split(",")[0] for x in lines] == [f"episodes: {k}/5 ({20 * k}%)" for k in range(1, 6)], lines


def test_logged_progress_lines_say_the_time_left_as_the_live_bar_estimates_it():
    """The plain progress line ends with rich's estimate of the time left (`Task.time_remaining`,
    what the live bar shows): in seconds, minutes from 2 minutes, hours from 2 hours; nothing
    before a pace is known or once the task is done."""
    from rich.progress import Progress

    from envc.cli import _time_left

    def after_ten_seconds(total: int):
        """A task of `total` episodes after 10 episodes in 10 s (1 per second)."""
        now = [0.0]
        progress = Progress(disable=True, get_time=lambda: now[0])
        task_id = progress.add_task("episodes", total=total)
        assert _time_left(progress.tasks[0]) == ""  # no pace yet
        for _ in range(10):
            now[0] += 1.0
            progress.advance(task_id, 1)
        return progress, task_id

    assert _time_left(after_ten_seconds(20)[0].tasks[0]) == ", about 10 s left"
    assert _time_left(after_ten_seconds(1000)[0].tasks[0]) == ", about 16 min left"  # 990 s
    assert _time_left(after_ten_seconds(100_000)[0].tasks[0]) == ", about 27.8 h left"
    progress, task_id = after_ten_seconds(20)
    progress.advance(task_id, 10)
    assert _time_left(progress.tasks[0]) == ""  # done
