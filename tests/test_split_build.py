"""Comprehensions of one fn call over a row-major table, `[f(..., i / C, ..., i % C, ...) for i
in 0..n]`, built by the JAX lowering as C comprehensions, one per value of `i % C` (codegen/jax/
lower.py `_split_divisor`, `_split_build`), when the fn branches on that argument: each group's
call then gets it as a Python int and its `if`-chain is decided while tracing (issue 19:
Pokémon's observation, bench/RESULTS.md "Observations in columns"). Exact against the
interpreter, and only where the conditions hold."""

from __future__ import annotations

from pathlib import Path

from envc.codegen.jax.lower import Lowering
from envc.compiler.check import load
from envc.verify import load_jax, verify

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "tests" / "specs" / "split_build.envspec")


def test_the_groups_match_the_interpreter():
    module = load(SPEC)
    report = verify(module, ["python", "jax"], episodes=4, max_steps=60, level2_samples=5, jax_env=load_jax(module))
    assert report.ok, [d.render() for d in report.divergences] + report.faults
    assert report.steps >= 200 and report.level2_transitions > 0


def test_only_tables_of_a_branching_call_are_split():
    """`info` twice (own and foe, 6 columns), `mark` (3) and `pick` (2) are split; the call under
    an `if`-expression, the variable read outside `i / C` and `i % C`, `plain` (no `if` on its
    argument) and 10 elements in columns of 4 are not."""
    lowering = Lowering(load(SPEC))
    lowering.run()
    assert lowering.split_builds == [("info", 6), ("info", 6), ("mark", 3), ("pick", 2)]


def test_pokemons_observation_is_built_in_columns():
    lowering = Lowering(load(str(ROOT / "specs" / "pokemon_gen1.envspec")))
    lowering.run()
    assert lowering.split_builds == [("own_info", 13), ("foe_info", 7)]
