"""Comprehensions run once on their whole range (codegen/jax/lower.py `_Level.elementwise`,
the runtime's `_each`): a comprehension body that computes one scalar from scalars by
elementwise operations is called on the whole arrays instead of under `jax.vmap`, so each
operation is traced once (issue 18: othello's trace, bench/RESULTS.md "Comprehensions
without vmap"). Bodies that index through a chain, call a fn, hold a nested level or read a
record stay mapped: called on whole arrays they would compute something else."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from envc.codegen.jax import runtime
from envc.codegen.jax.lower import Lowering
from envc.compiler.check import load
from envc.verify import load_jax, verify

SPEC = str(Path(__file__).resolve().parent / "specs" / "elementwise.envspec")


def test_each_gives_what_vmap_gives():
    """Values, dtypes and weak types equal `jax.vmap`'s, a body that ignores its element
    (broadcast) and a body of several hoisted reads included, also under an outer `vmap`."""
    idx = jnp.arange(0, 5, dtype=jnp.int32)
    h = jnp.asarray([3, -1, 0, 7, 2], jnp.int8)
    bodies = [
        lambda i: True,
        lambda i: 1.5,
        lambda i: 3,
        lambda i: jnp.where(i > 1, 2, 0),
        lambda i: jnp.float32(0.5) * i,
        lambda i: jnp.int8(3),
    ]
    for f in bodies:
        want, got = jax.vmap(f)(idx), runtime._each(f, idx)
        assert (got.dtype, got.weak_type, got.shape) == (want.dtype, want.weak_type, want.shape)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))

    def two(i, a, b):
        return jnp.logical_and(a.astype(jnp.int32) > i, b == -1)

    rows = jnp.stack([h, -h, h * 0 - 1])
    want = jax.vmap(lambda r: jax.vmap(two)(idx, r, h))(rows)
    got = jax.vmap(lambda r: runtime._each(two, idx, r, h))(rows)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_the_spec_matches_the_interpreter():
    module = load(SPEC)
    report = verify(module, ["python", "jax"], episodes=4, max_steps=60, level2_samples=5, jax_env=load_jax(module))
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.steps >= 200 and report.level2_transitions > 0


def _spec(tmp_path, name: str, expr: str) -> str:
    """A spec of one action without parameters (no mask comprehension) whose observation is
    `expr` (over `a: int[0..3][12]` and `x`)."""
    path = tmp_path / f"{name}.envspec"
    path.write_text(f"""env {name} "one comprehension"
players 1
const T = [[2, 0, 1], [1, 1, 0], [0, 2, 2], [3, 1, 0]]
state {{
    a: int[0..3][12] = 0
    x: int[0..9] = 0
}}
fn busy(i: int[0..11]) -> bool {{
    let v = a[i]
    if v > 1 {{
        return x > 2
    }}
    return v == 1
}}
action put() {{
    a[x] = x % 4
    x = (x + 1) % 10
}}
observe(p) -> int[0..1000][1] {{
    return [{expr}]
}}
""")
    return str(path)


def test_only_elementwise_bodies_run_without_vmap(tmp_path):
    """Decided on the IR while lowering, not on the code: the first bodies are elementwise,
    the others (a chain of indices at a read's value, a fn call, a nest's outer level where
    the inner is not unrolled) are not."""
    def helpers(expr: str) -> frozenset[str]:
        return Lowering(load(_spec(tmp_path, "one", expr))).run().helpers

    for expr in ("count(a[i] > x % 4 for i in 0..12)", "sum(if a[i] > 1 then i else 0 for i in 0..12)",
                 "count(x > 4 for i in 0..7)"):
        assert "_each" in helpers(expr), expr
    for expr in ("sum(T[a[i]][i % 3] for i in 0..12)", "count(busy(i) for i in 0..12)"):
        assert "_each" not in helpers(expr), expr
