"""Walks inlined into comprehensions and read as shifted slices (issue 18, mechanism 2):
`Lowering.inline_walk` runs a fn with a loop straight-line inside the nest that calls it,
so that `board[RAY[c][d][k]]` at a constant `k` is a static read over `(c, d)`, and
`_shift_view` reads it as slices of the padded board where the table is a shift on the
elements the conditions around the read leave used (`Lowering.care`).

The view is checked against numpy's gather on the elements it must get right: ray tables
clamped at the edge as othello's (where `k < REACH[c][d]`), random shift tables with
anything where the conditions are false, and tables that are not a shift (the view must
refuse). Exactness on a whole game is tests/test_pgx_peer.py's othello (equal to Pgx step
by step)."""

from __future__ import annotations

import re
from math import prod
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from envc.codegen.jax.lower import Lowering, _shift_view
from envc.compiler.check import load
from envc.verify import load_jax, verify

ROOT = Path(__file__).resolve().parent.parent
DIRS = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]


def _eval(code: str, x: np.ndarray) -> np.ndarray:
    return np.asarray(eval(code, {"x": x, "jnp": np}))  # numpy has jnp's pad, stack, moveaxis


def _rays(rows: int, cols: int):
    """RAY[c][d][k] and REACH[c][d] as othello.envspec writes them, on a rows x cols board."""
    n, steps = rows * cols, max(rows, cols) - 1
    ray = np.zeros((n, len(DIRS), steps), dtype=np.int64)
    reach = np.zeros((n, len(DIRS)), dtype=np.int64)
    for c in range(n):
        r, q = divmod(c, cols)
        for d, (dr, dc) in enumerate(DIRS):
            reach[c, d] = min(r if dr < 0 else rows - 1 - r if dr > 0 else steps,
                              q if dc < 0 else cols - 1 - q if dc > 0 else steps)
            for k in range(steps):
                ray[c, d, k] = np.clip(r + (k + 1) * dr, 0, rows - 1) * cols + np.clip(q + (k + 1) * dc, 0, cols - 1)
    return ray, reach


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 9), st.integers(2, 9))
def test_rays_clamped_at_the_edge_are_slices_where_the_walk_reads_them(rows, cols):
    """Every step k of every ray: a view (never a gather), equal to the gather wherever
    k < REACH[c][d]; where the table clamps (k >= REACH) it is not a shift, and the view
    is only right because those elements are not used."""
    ray, reach = _rays(rows, cols)
    n = rows * cols
    x = np.arange(n) * 5 + 3
    for k in range(ray.shape[2]):
        a, care = ray[:, :, k], k < reach
        code = _shift_view("x", n, a, (), [(0, n), (0, len(DIRS))], care, "-1")
        assert code is not None, (k, a)
        got = _eval(code, x)
        np.testing.assert_array_equal(got[care], x[a][care], err_msg=code)
        if not care.all():
            assert not np.array_equal(got, x[a]), "the clamped entries are not a shift: the view differs there"


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_shift_table_reads_what_the_gather_reads_where_used(data):
    """A random table that is `c + s[j]` where `care` holds (anything elsewhere), the cell
    level at either axis, starting at any `lo`, with or without a trailing axis."""
    length, m = data.draw(st.integers(2, 9)), data.draw(st.integers(1, 4))
    lo, ax = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 1))
    n = lo + length + data.draw(st.integers(0, 4))
    trailing = tuple(data.draw(st.lists(st.integers(2, 3), max_size=1)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    cell = lo + np.arange(length)[:, None]
    a = rng.integers(0, n, size=(length, m))
    care = rng.random((length, m)) < data.draw(st.sampled_from([0.3, 0.7, 1.0]))
    for j in range(m):
        ok = [s for s in range(-n, n) if np.all((cell[:, 0] + s >= 0) & (cell[:, 0] + s < n) | ~care[:, j])]
        s = data.draw(st.sampled_from(ok)) if ok else None
        if s is None:
            care[:, j] = False
            continue
        a[care[:, j], j] = cell[care[:, j], 0] + s
    ranges = [(lo, lo + length), (0, m)]
    if ax:
        a, care, ranges = a.T.copy(), care.T.copy(), ranges[::-1]
    x = (np.arange(n * prod(trailing)) * 7 + 2).reshape((n,) + trailing)
    code = _shift_view("x", n, a, trailing, ranges, care, "0")
    if not care.any():
        assert code is None, "nothing is used: the plain read stays"
        return
    assert code is not None, (a, care)
    got = _eval(code, x)
    assert got.shape == a.shape + trailing, code
    np.testing.assert_array_equal(got[care], x[a][care], err_msg=code)


def test_a_table_that_is_not_a_shift_keeps_the_gather():
    """Used elements of one line at different shifts along either level: no view; with the
    odd elements unused, a view that reads what the gather reads there; with no conditions
    known (`care` None) no claim is made."""
    a = np.array([[1, 3], [2, 0], [0, 1]])  # down the columns: shifts 1, 1, -2 and 3, -1, -1; along rows 1, 2
    care = np.ones_like(a, dtype=bool)
    assert _shift_view("x", 4, a, (), [(0, 3), (0, 2)], care, "0") is None
    care[2, 0] = care[0, 1] = False  # the odd elements unused: the columns are shifts of 1 and -1
    code = _shift_view("x", 4, a, (), [(0, 3), (0, 2)], care, "0")
    assert code is not None
    x = np.arange(4) * 10 + 1
    np.testing.assert_array_equal(_eval(code, x)[care], x[a][care], err_msg=code)
    assert _shift_view("x", 4, a, (), [(0, 3), (0, 2)], None, "0") is None


def test_othellos_mask_reads_the_board_as_shifted_slices():
    """The generated mask runs `flips` inline (no call) and reads the 7 steps of the rays as
    slices of the padded board, no constant-index gather of the board; with `line_views`
    off the mask calls `flips` as before."""
    module = load(str(ROOT / "specs" / "othello.envspec"))
    code = "\n".join(Lowering(module).run().functions)
    mask = code[code.index("def m_place"):code.index("def a_pass")]
    assert "f_flips" not in mask
    pads = re.findall(r'jnp\.pad\(st\["board"\], \(\((\d+), \d+\),\), constant_values=-1\)\[(\d+):(\d+)\]', mask)
    assert {width for width, _, _ in pads} == {"64"}, "one padding width for every shift: XLA shares one pad"
    assert len({start for _, start, _ in pads}) >= 7 * 7, "the 7 steps of the 8 rays as shifted slices (56, few coincide)"
    assert 'st["board"][_K' not in mask and 'st["board"][(_K' not in mask
    old = "\n".join(Lowering(module, line_views=False).run().functions)
    assert "f_flips(st" in old[old.index("def m_place"):old.index("def a_pass")]


def test_walks_in_comprehensions_match_the_interpreter():
    """tests/specs/line_walk.envspec: `run` inlined in the guard and the observation, its
    reads under `k < REACH[c][d]` as slices, those of its `else` arms (clamped cells) as
    gathers; the JAX env equals the interpreter step by step."""
    spec = str(ROOT / "tests" / "specs" / "line_walk.envspec")
    module = load(spec)
    code = "\n".join(Lowering(module).run().functions)
    assert "f_run(st" not in code[code.index("def m_put"):], "run is inlined in the guard and the observation"
    assert "f_pair(st" in code[code.index("def m_clear"):], "a fn with an array local stays a call"
    assert 'jnp.pad(st["a"]' in code and 'st["a"][_K' in code, "slices where the walk reads, gathers in the else arms"
    observe = code[code.index("def _observe"):code.index("def _init_body")]
    assert "jnp.stack([_b[" in observe, "run(c, d, 1) over the nest (c, d): slices stacked over d"
    report = verify(module, ["python", "jax"], episodes=6, max_steps=60, level2_samples=5, jax_env=load_jax(module))
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.steps >= 200
