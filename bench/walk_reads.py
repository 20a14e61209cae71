"""What othello's line walk pays for its board reads alone (issue 18): the 64 x 8 x 7 cells
of every ray (`RAY[c][d][k]` of specs/othello.envspec), read from a batch of boards in four
forms, timed interleaved in one process.

    python bench/walk_reads.py [--batch 1024] [--repeats 7]

* `per_k`: one read per step k, each under `vmap` over cells and directions (the default
  lowering of `flips`: the index is traced, XLA gathers);
* `vmap_k`: one read under `vmap` over cells, directions and k (`--prefix-walk vmap`);
* `const`: one gather with the whole index table as a constant;
* `shifted`: every (direction, k) as a slice of the board padded by 7 (Pgx's shifts; what
  mechanism 2 of bench/RESULTS.md would emit): no gather.

All four return the same array (checked). Prints the median milliseconds per call of each.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

DROW = [-1, -1, -1, 0, 0, 1, 1, 1]
DCOL = [-1, 0, 1, -1, 1, -1, 0, 1]


def _ray() -> np.ndarray:
    """RAY[c][d][k] of specs/othello.envspec (rows and columns clamped to the board)."""
    out = np.zeros((64, 8, 7), dtype=np.int32)
    for c in range(64):
        for d in range(8):
            for k in range(7):
                r = min(max(c // 8 + (k + 1) * DROW[d], 0), 7)
                q = min(max(c % 8 + (k + 1) * DCOL[d], 0), 7)
                out[c, d, k] = r * 8 + q
    return out


def _forms(ray: np.ndarray) -> dict:
    table = jnp.asarray(ray)
    cells, dirs, ks = jnp.arange(64), jnp.arange(8), jnp.arange(7)

    def per_k(b):
        return jnp.stack([jax.vmap(lambda c: jax.vmap(lambda d: b[table[c][d][k]])(dirs))(cells)  # noqa: B023
                          for k in range(7)], -1)

    def vmap_k(b):
        return jax.vmap(lambda c: jax.vmap(lambda d: jax.vmap(lambda k: b[table[c][d][k]])(ks))(dirs))(cells)

    def const(b):
        return b[table]

    def shifted(b):
        p = jnp.pad(b.reshape(8, 8), 7, constant_values=-1)
        rows = [[p[7 + (k + 1) * DROW[d]:15 + (k + 1) * DROW[d], 7 + (k + 1) * DCOL[d]:15 + (k + 1) * DCOL[d]].reshape(64)
                 for k in range(7)] for d in range(8)]
        return jnp.stack([jnp.stack(r, -1) for r in rows], 1)

    return {"per_k": per_k, "vmap_k": vmap_k, "const": const, "shifted": shifted}


def main() -> None:
    """Time the four forms at `--batch`, interleaved, and print each one's median."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    ray = _ray()
    rng = np.random.RandomState(0)
    board = jnp.asarray(rng.randint(-1, 2, size=(args.batch, 64)), jnp.int8)
    # on the board the cells past an edge are never read (k < REACH): compare those only
    on = np.array([[[k < min(c // 8 if DROW[d] < 0 else 7 - c // 8 if DROW[d] > 0 else 7,
                             c % 8 if DCOL[d] < 0 else 7 - c % 8 if DCOL[d] > 0 else 7)
                     for k in range(7)] for d in range(8)] for c in range(64)])
    fns = {name: jax.jit(jax.vmap(f)) for name, f in _forms(ray).items()}
    want = np.asarray(fns["const"](board))
    for name, f in fns.items():
        got = np.asarray(f(board))
        assert (got[:, on] == want[:, on]).all(), name
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(args.repeats):
        for name, f in fns.items():
            t = time.perf_counter()
            for _ in range(10):
                jax.block_until_ready(f(board))
            runs[name].append((time.perf_counter() - t) / 10 * 1e3)
    for name, times in runs.items():
        print(f"{name:8s} {statistics.median(times):7.2f} ms  runs {' '.join(f'{x:.2f}' for x in times)}")


if __name__ == "__main__":
    main()
