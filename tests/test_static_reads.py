"""Static reads in the JAX lowering (`codegen/jax/lower.py`): a read inside a comprehension
whose indices depend only on constants and the comprehension's variables becomes one
hoisted view or constant-index gather, mapped through the `vmap` levels.

The views are checked against numpy's gather on generated index arrays (hypothesis), the
lowering of `tests/specs/static_reads.envspec` (one index pattern per observation entry)
against the interpreter, and the shipped specs' generated code for the forms the speed-up
relies on (bench/RESULTS.md, session 4)."""

from __future__ import annotations

from math import prod
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from envc.codegen.jax.lower import RUN_LENGTH, RUN_PIECES, Lowering, _affine_view, _row_view, _runs_view, _slice_view
from envc.compiler.check import load
from envc.verify import load_jax, verify

SPEC = str(Path(__file__).resolve().parent / "specs" / "static_reads.envspec")
ROOT = Path(__file__).resolve().parent.parent


def _eval(code: str, x: np.ndarray) -> np.ndarray:
    import jax.numpy as jnp

    return np.asarray(eval(code, {"x": x, "jnp": jnp}))


@st.composite
def affine_indices(draw):
    """An index array start + sum(coef[d] * i_d) over 1-3 axes (sizes 2-5), coefficients in
    -3..12 (so some overlap, some are negative), and the base length it needs."""
    m = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(2, 5), min_size=m, max_size=m)))
    coef = draw(st.lists(st.integers(-3, 12), min_size=m, max_size=m))
    start = draw(st.integers(0, 6))
    grid = np.full(shape, start, dtype=np.int64)
    for d, c in enumerate(coef):
        grid = grid + c * np.arange(shape[d]).reshape([-1 if k == d else 1 for k in range(m)])
    grid = grid - min(0, int(grid.min()))
    return grid, int(grid.max()) + 1 + draw(st.integers(0, 3))


@settings(max_examples=300, deadline=None)
@given(affine_indices(), st.lists(st.integers(2, 3), max_size=1))
def test_an_affine_view_reads_what_the_gather_reads(case, trailing):
    a, n = case
    trailing = tuple(trailing)
    x = np.arange(n * prod(trailing)).reshape((n,) + trailing) * 10 + 1
    code = _affine_view("x", n, a, trailing)
    if code is not None:
        np.testing.assert_array_equal(_eval(code, x), x[a], err_msg=code)


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 6), st.integers(2, 5), st.integers(1, 3), st.integers(0, 30), st.integers(0, 3),
       st.lists(st.integers(2, 3), max_size=1), st.booleans())
def test_a_row_view_reads_what_the_gather_reads(p, q, s2, start, slack, trailing, fold):
    """Windows `start + s1 * i + s2 * j` (rows of `s1`, any row length), flat or folded:
    when `_row_view` answers, it reads what numpy's gather reads."""
    trailing = tuple(trailing)
    s1 = s2 * (q - 1) + 1 + slack
    a = start + s1 * np.arange(p)[:, None] + s2 * np.arange(q)
    a = a if fold else a.reshape(-1)
    n = int(a.max()) + 1 + slack
    x = np.arange(n * prod(trailing)).reshape((n,) + trailing) * 7 + 2
    code = _row_view("x", n, a, trailing)
    if code is not None:
        np.testing.assert_array_equal(_eval(code, x), x[a], err_msg=code)
    if (start // s1 + p) * s1 <= n and start % s1 + s2 * (q - 1) < s1:
        assert code is not None, (a, n)


@settings(max_examples=100, deadline=None)
@given(st.permutations([0, 1, 2]), st.tuples(st.integers(2, 4), st.integers(2, 4), st.integers(2, 4)),
       st.integers(1, 3), st.integers(0, 5))
def test_nested_strides_always_become_a_view(perm, sizes, step, start):
    """An index that walks a strided block in any axis order is a slice, a reshape and a
    transpose (never a gather): `board[r * 7 + c]` in either loop order."""
    coef = {2: step, 1: step * sizes[2], 0: step * sizes[2] * sizes[1]}
    shape = tuple(sizes[p] for p in perm)
    a = np.full(shape, start, dtype=np.int64)
    for axis, p in enumerate(perm):
        a = a + coef[p] * np.arange(sizes[p]).reshape([-1 if k == axis else 1 for k in range(3)])
    n = int(a.max()) + 1
    code = _affine_view("x", n, a, ())
    assert code is not None, a
    np.testing.assert_array_equal(_eval(code, np.arange(n) * 3), (np.arange(n) * 3)[a])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_slice_view_reads_what_the_gather_reads(data):
    """Two-index reads `g[e1][e2]`: each index an arithmetic progression along an axis,
    a constant, or (when the view must refuse) something else."""
    shape = (data.draw(st.integers(2, 6)), data.draw(st.integers(2, 6)))
    nest = (data.draw(st.integers(2, 3)), data.draw(st.integers(2, 3)))
    vals = []
    for n in shape:
        kind = data.draw(st.sampled_from(["ap0", "ap1", "const", "mixed"]))
        if kind == "const":
            v = np.full(nest, data.draw(st.integers(0, n - 1)))
        elif kind == "mixed":
            v = (np.arange(nest[0])[:, None] + np.arange(nest[1])[None, :]) % n
        else:
            d = int(kind[-1])
            length = nest[d]
            step = data.draw(st.integers(1, max(1, (n - 1) // max(1, length - 1))))
            if step * (length - 1) >= n:
                v = np.full(nest, 0)
            else:
                start = data.draw(st.integers(0, n - 1 - step * (length - 1)))
                line = start + step * np.arange(length)
                v = np.broadcast_to(line.reshape([-1 if k == d else 1 for k in range(2)]), nest).copy()
        vals.append(v)
    x = np.arange(prod(shape)).reshape(shape) + 5
    code = _slice_view("x", shape, vals)
    if code is not None:
        np.testing.assert_array_equal(_eval(code, x), x[tuple(vals)], err_msg=code)


def test_every_pattern_matches_the_interpreter():
    """Each observation entry of the spec reads through another pattern; the masks decode
    an int, a bool and an offset int parameter; `colsum(r)` is inlined into a comprehension
    over `r` (its own variable renamed, or the argument would be captured)."""
    module = load(SPEC)
    env = load_jax(module)
    report = verify(module, ["python", "jax"], episodes=4, max_steps=60, level2_samples=5, jax_env=env)
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.steps >= 200 and report.level2_transitions > 0


def test_the_patterns_lower_to_views_and_constant_gathers():
    code = "\n".join(Lowering(load(SPEC)).run().functions)
    observe = code[code.index("def _observe"):code.index("def _init_body")]
    for c in range(4):  # a[r * 4 + c] * (r + 1): the 4 terms over c unrolled, each a column
        assert f'st["a"][{c}:{c + 17}:4]' in observe
    assert 'st["a"].reshape((5, 4)).transpose((1, 0))' in observe    # a[r * 4 + c], c outer
    assert 'st["a"][1:20:2]' in observe                              # a[2 * k + 1]
    assert 'st["g"][:, 0]' in observe                                # g[x][0] over x
    assert 'st["g"].transpose((1, 0))' in observe                    # g[x][y], y outer
    assert 'st["g"][1, :]' in observe                                # g[1][y]
    assert 'st["g"][(_K' in observe                                  # g[(x + y) % 5][y]: a gather
    for k in range(3):  # windows W[l][k] over l: a block of rows of the 5 x 4 grid
        assert f'st["a"].reshape((5, 4))[:, {k}:{k + 2}].reshape((10,))' in observe
    assert "f_colsum" not in observe, "colsum(c) inside a comprehension is inlined"
    assert "jax.vmap(lambda i: g_" not in code and "def m_put(st):" in code


def test_shipped_specs_read_their_boards_without_gathers():
    """The reads that made connect4 slower than Pgx (bench/RESULTS.md): the observation,
    the legal-action mask and the draw check read the board as a reshaped view, and the
    69 win lines as sixteen slices (four per direction) with no gather."""
    c4 = "\n".join(Lowering(load(str(ROOT / "specs" / "connect4.envspec"))).run().functions)
    observe = c4[c4.index("def _observe"):c4.index("def _init_body")]
    assert 'st["board"].reshape((6, 7))' in observe
    mask = c4[c4.index("def m_drop"):]
    assert 'st["board"].reshape((6, 7)).transpose((1, 0))' in mask.split("\n\n\n")[0]
    wins = c4[c4.index("def f_wins"):].split("\n\n\n")[0]
    assert "_K" not in wins, "no constant index array left: every line is a view"
    for k in range(4):
        assert f'st["board"][{7 * k}:{7 * k + 21}]' in wins                                      # vertical
        assert f'st["board"].reshape((6, 7))[:, {k}:{k + 4}].reshape((24,))' in wins              # horizontal
    ttt = "\n".join(Lowering(load(str(ROOT / "specs" / "tictactoe.envspec"))).run().functions)
    assert 'st["board"].reshape((3, 3))' in ttt


@st.composite
def run_indices(draw):
    """An index array of 1-12 runs, each of consecutive indices or of one index repeated (1-40
    long), a run never continuing the one before (its first index is neither the last index
    before it nor the next one), the number of runs, and the base length the array needs."""
    runs = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 30), st.integers(1, 40)), min_size=1, max_size=12))
    parts: list = []
    for ascending, first, k in runs:
        if parts and first in (int(parts[-1][-1]), int(parts[-1][-1]) + 1):
            first = int(parts[-1][-1]) + 2
        parts.append(first + np.arange(k) if ascending and k > 1 else np.full(k, first))
    a = np.concatenate(parts)
    return a, len(runs), int(a.max()) + 1 + draw(st.integers(0, 3))


@settings(max_examples=300, deadline=None)
@given(run_indices(), st.lists(st.integers(2, 3), max_size=1))
def test_a_runs_view_reads_what_the_gather_reads(case, trailing):
    """`_runs_view` (Pokémon's observation: `head`, `own`, ... read as slices and repeated
    rows) reads what numpy's gather reads; it answers exactly for an index array of at most
    `RUN_PIECES` runs that are `RUN_LENGTH` long on average, and leaves others (tic-tac-toe's
    lines of 3 cells) to the gather."""
    a, runs, n = case
    trailing = tuple(trailing)
    x = np.arange(n * prod(trailing)).reshape((n,) + trailing) * 3 + 1
    code = _runs_view("x", a, trailing)
    wanted = len(a) >= 2 and runs <= RUN_PIECES and runs * RUN_LENGTH <= len(a)
    assert (code is not None) == wanted, (a, code)
    if code is not None:
        np.testing.assert_array_equal(_eval(code, x), x[a], err_msg=code)
