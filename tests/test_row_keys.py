"""The guessed effect number of each action (compiler/row_keys.py), by which the generated
JAX rollout sorts a kind's rows (`_step_rows`): what it finds, what it refuses, and that the
rollout that sorts by it stays exact."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import jax
import pytest

from envc.compiler import ir, printer
from envc.compiler.check import load
from envc.compiler.row_keys import row_key

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "tests" / "specs"


def _keys(module) -> dict[str, tuple[str, int, int] | None]:
    out = {}
    for a in module.actions:
        k = row_key(module, a)
        out[a.name] = None if k is None else (printer.print_expr(k, module), ir.int_of(k.type).lo, ir.int_of(k.type).hi)
    return out


def _effects_variant(tmp_path: Path, old: str, new: str):
    """tests/specs/effects.envspec with `old` replaced by `new` in `play`, checked."""
    text = (SPECS / "effects.envspec").read_text(encoding="utf-8")
    assert text.count(old) == 1
    (tmp_path / "effects.envspec").write_text(text.replace(old, new), encoding="utf-8")
    shutil.copy(SPECS / "effects.fills", tmp_path / "effects.fills")
    shutil.copytree(SPECS / "data", tmp_path / "data")
    return load(str(tmp_path / "effects.envspec"))


def test_the_key_is_the_effect_of_the_card_played():
    """effects' `play(h, target)` runs `card_effect[c.effect]` with `let c = hand[p][h]` and
    `let p = current_player`: the key is that text's number read from the state before the
    step; `rest` runs no card text and has none."""
    keys = _keys(load(str(SPECS / "effects.envspec")))
    assert keys == {"play": ("Card.effect[state.hand[state.current_player][h]]", 0, 9), "rest": None}


def test_the_key_follows_procs_and_prefers_the_costliest_family_near_the_action(specs):
    """The TCG: `attack(a)` reaches the Defending Pokémon's ability (in the action) and its own
    attack text (through `attack_texts`, in a loop); the attack texts (100 filled) rank above
    the abilities (18). `play_trainer` reaches its Trainer text (16) in the action and
    abilities (18) three calls down, under its knock-outs: the Trainer's text ranks first."""
    keys = _keys(specs("tcg"))
    attack, lo, hi = keys["attack"]
    assert "Card.effect0[state.card[state.current_player][0]]" in attack and "Card.effect1" in attack
    assert (lo, hi) == (0, 100)
    assert keys["play_trainer"] == ("Card.trainer_effect[state.hand[state.current_player][h]]", 0, 16)
    assert keys["use_ability"][0] == "Card.ability[state.card[state.current_player][s]]"


@pytest.mark.parametrize("old, new", [
    # a drawn effect: the guess would draw
    ("    card_effect[c.effect](p, target)\n    card_effect[c.bonus](p, target)\n",
     "    card_effect[if random.coin() then c.effect else c.bonus](p, target)\n"),
    # the card is chosen in a loop: its value after the loop is not known
    ("    let c = hand[p][h]\n",
     "    let c = hand[p][h]\n    for k in 0..2 {\n        if k < len(hand[p]) and hand[p][k].power > c.power {\n"
     "            c = hand[p][k]\n        }\n    }\n"),
])
def test_no_key_where_the_effect_is_not_a_function_of_the_state_before_the_step(tmp_path, old, new):
    keys = _keys(_effects_variant(tmp_path, old, new))
    assert keys["play"] is None


def test_the_rollout_sorted_by_the_key_is_exact(same_pytrees):
    """effects' generated rollout sorts `play`'s rows by their card's text (`_ROW_KEYS`); with
    kind chunks 1, 3 and 0 it equals the reference path (`reset_bound=batch`,
    `vmap(step_autoreset_from_seed)`, whose order of rows is the batch's)."""
    from envc.verify import load_jax

    env = load_jax(load(str(SPECS / "effects.envspec")))
    assert env._ROW_KEY_SPAN == 10 and len(env._ROW_KEYS) == len(env._BRANCHES) == 2
    run = partial(jax.jit, static_argnums=(1, 2, 3, 4))
    key = jax.random.PRNGKey(11)
    want = run(env.rollout)(key, 30, 16, 16, None)
    for chunk in (1, 3, 0):
        same_pytrees(run(env.rollout)(key, 30, 16, None, chunk), want)
