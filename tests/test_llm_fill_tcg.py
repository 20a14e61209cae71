"""`envc fill` and `envc holes` on the real card game, `specs/tcg.envspec` (issue #5).

Its effect texts are members of hole families (`hole attack_effect(p: int[0..1]) per
Card.effect0, Card.effect1`: one hole per distinct text, `attack_effect__N`), filled in
`specs/tcg.fills` as `fill attack_effect text "..." hash "..." { ... }`. Checked here:

* every hand fill of `specs/tcg.fills` passes the generated checks that a model's answer
  must pass (`Judge.judge_written`: the same stages as `Judge.judge_body`);
* hand-written wrong fills of real texts are rejected, each by the check named;
* end to end, against a scripted OpenAI-compatible server on 127.0.0.1: garbage, then a
  type error, then a right body for "Heal 10 damage from this Pokémon."; the fill file
  gets the member's item with its provenance, `envc holes` shows it filled, and a changed
  `ensures` of the family makes it stale;
* the `--dry-run` prompt of a member (family signature, text, effect verbs, similar fills).

Checking this spec takes seconds, and so does playing the games that the property tests
start from: the judges are built once per module and shared.

The family `ensures` in `PROPOSED_ENSURES` (energy goes only to the player's own Pokémon of
its type) are proposed for `specs/tcg.envspec`; until the spec has them, the tests of wrong
energy fills run on a copy of the spec with them added (and the hand fills re-hashed).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envc.cli import app
from envc.compiler.check import check
from envc.dsl.parser import parse, parse_file
from envc.llm_fill.fillfile import fill_bodies, item_text, rehash, upsert
from envc.llm_fill.judge import Judge
from envc.llm_fill.spec import fill_key, load_lenient, playable_cards

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "tcg.envspec"
FILLS = ROOT / "specs" / "tcg.fills"
MODEL = "openai/test-model"
EXAMPLES = 50  # generated examples per fill (the CLI's default is 200)

HEAL_10 = "Heal 10 damage from this Pokémon."
TROPICAL_SWING = "Flip a coin. If heads, this attack does 40 more damage."
PSY_SHADOW = ("Once during your turn, you may take 1 {P} Energy from your Energy Zone and attach it to the {P} "
              "Pokémon in the Active Spot.")
RESEARCH = "Draw 2 cards."
COPY_ANYTHING = ("Choose 1 of your opponent’s Pokémon’s attacks and use it as this attack. If this Pokémon doesn’t have "
                 "the necessary Energy to use that attack, this attack does nothing.")
SABRINA = "Switch out your opponent's Active Pokémon to the Bench. (Your opponent chooses the new Active Pokémon.)"
POKE_BALL = "Put a random Basic Pokémon from your deck into your hand."

#: proposed for each of the three families of specs/tcg.envspec, after their `ensures`
PROPOSED_ENSURES = """\
    ensures all(sum(energy[1 - p][k][t] for k in 0..SLOTS) <= old(sum(energy[1 - p][k][t] for k in 0..SLOTS))
                for t in 0..TYPES)
    ensures all(sum(energy[p][k][t] for k in 0..SLOTS) <= old(sum(energy[p][k][t] for k in 0..SLOTS))
                or any(occupied[p][k] and int(card[p][k].type) == t for k in 0..SLOTS) for t in 0..TYPES)
"""


def envc(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "ENVC_DEBUG": "1"}, catch_exceptions=False)


def member(loaded, text: str) -> str:
    return next(h.name for h in loaded.module.holes if h.prose == text)


@pytest.fixture(scope="module")
def tcg():
    """(judge, fill file text, loaded spec) of specs/tcg.envspec as it is."""
    judge = Judge(str(SPEC), max_examples=EXAMPLES)
    text = FILLS.read_text(encoding="utf-8")
    return judge, text, judge.load(text)


def _with_proposed_ensures(spec_text: str) -> str:
    out = spec_text
    for head in ("hole attack_effect(", "hole ability_effect(", "hole trainer_effect("):
        start = out.index(head)
        end = out.index("\n//", start)  # the family's declaration ends before the next comment
        while out[end - 1] == "\n":
            end -= 1
        decl = out[start:end]
        if "energy[1 - p][k][t]" not in decl:
            out = out[:end] + "\n" + PROPOSED_ENSURES.rstrip("\n") + out[end:]
    return out


@pytest.fixture(scope="module")
def strict_tcg(tmp_path_factory, tcg):
    """(judge, fill file text, loaded) of a copy of specs/tcg.envspec with `PROPOSED_ENSURES`
    (the spec itself once they are added), the hand fills re-hashed for them."""
    folder = tmp_path_factory.mktemp("tcg")
    spec = folder / "tcg.envspec"
    spec.write_text(_with_proposed_ensures(SPEC.read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copytree(ROOT / "specs" / "data", folder / "data")  # a link would lead outside the folder (E0150)
    text = FILLS.read_text(encoding="utf-8")
    module = load_lenient(str(spec), text).module  # the old hashes: stale fills are tolerated
    text = rehash(text, str(folder / "tcg.fills"), {h.name: h.signature_hash for h in module.holes},
                  key=fill_key(module))
    (folder / "tcg.fills").write_text(text, encoding="utf-8")
    judge = Judge(str(spec), max_examples=EXAMPLES)
    _, real_text, _ = tcg
    judge._starts[text] = tcg[0].starts(real_text)  # the same games: the fills' bodies are the same
    return judge, text, judge.load(text)


# ------------------------------------------------------------------ hand fills


def test_every_hand_fill_of_tcg_passes_the_generated_checks(tcg):
    judge, text, loaded = tcg
    items = [d for d in parse(text, str(FILLS)).decls]
    verdicts = judge.judge_written(text)
    assert len(verdicts) == len(items) == 134
    assert all(loaded.hole(name).family is not None for name in verdicts)
    failed = {name: v.feedback for name, v in verdicts.items() if not v.ok}
    assert not failed, "\n\n".join(f"{n}:\n{f}" for n, f in failed.items())


def test_the_hand_fills_keep_passing_with_the_proposed_ensures(strict_tcg):
    judge, text, loaded = strict_tcg
    assert all(h.status == "filled" for h in loaded.module.holes if h.provenance is not None)
    failed = {name: v.feedback for name, v in judge.judge_written(text).items() if not v.ok}
    assert not failed, "\n\n".join(f"{n}:\n{f}" for n, f in failed.items())


def test_the_sweep_steers_the_context_toward_its_guard_and_a_case(tcg):
    """A Trainer that names Pokémon holds in its context only for the extra `nc` naming one of
    them (1 draw in 26): the sweep's states whose drawn `nc` missed were skipped, and Koga's text
    was judged on 5 of 80 swept states (22 now). The context's guard now steers one argument or extra.
    And the coverage search steers them toward a contract condition's other value: "Put 1 random
    Nidoran♂ ..." needs `named` and `nc` = Nidoran♂ for `COUNT >= 2` of its draw rule, found by
    luck before (0 or 1 swept state per seed)."""
    from envc.llm_fill import coverage, props

    judge, text, loaded = tcg
    starts = judge.starts(text)
    koga = member(loaded, "Put your Muk or Weezing in the Active Spot into your hand.")
    swept = props.sweep_examples(loaded.module, koga, starts, 80)
    assert len(swept) >= 15, len(swept)  # (22 now; 5 before)
    nidoran = loaded.hole(member(loaded, "Put 1 random Nidoran♂ from your deck onto your Bench."))
    guard = coverage.guards(loaded.module, nidoran)[-1]
    flips = coverage.flip_test(loaded.module, nidoran, guard, False)
    for seed in (1, 2):
        tried = props.sweep_examples(loaded.module, nidoran.name, starts, 80, seed=seed, redraw=guard.fields,
                                     flips=flips)
        assert len(coverage.flipping(loaded.module, nidoran, guard, False, tried)) >= 1


# ------------------------------------------------------------------ wrong fills

WRONG_FILLS = [
    # damage: the range of `dmg` is declared, a sum that may leave it does not check
    ("damage-unclamped", TROPICAL_SWING, "if random.coin() {\n    dmg = dmg + 40\n}", "check",
     "error[E0120]: value may overflow `dmg: int[0..300]`"),
    # damage: points are only scored by knock-outs (the family's `ensures`)
    ("damage-scores-a-point", "If this Pokémon has at least 2 extra {W} Energy attached, this attack does 60 more damage.",
     "points[p] = min(points[p] + 1, 4)",
     "property", "`ensures all(points[q] == old(points[q]) for q in 0..2)` does not hold"),
    # energy: Psy Shadow attaches Grass (to any type): the text's own contract says Psychic, and so
    # does its frame; or gives the energy to the opponent
    ("energy-wrong-type", PSY_SHADOW, "attach_from_zone(p, 0, 0, 1, true)", "property",
     "the text's `ensures energy[p][0][Energy.psychic] == (if old(occupied[p][0]) and type_of(p, 0) == "
     "Energy.psychic"),
    ("energy-to-the-opponent", PSY_SHADOW, "attach_from_zone(1 - p, 0, 4, 1, true)", "property",
     "`ensures all(sum(energy[1 - p][k][t] for k in 0..SLOTS) <= old(sum(energy[1 - p][k][t] for k in 0..SLOTS))"),
    # conservation: Poké Ball copies the top card instead of taking a Basic Pokémon out of the deck
    ("pokeball-copies-cards", POKE_BALL,
     "if len(deck[p]) > 0 and len(hand[p]) < HAND {\n    hand[p].push(deck[p][0])\n}",
     "property", ("invariant `cards_conserved` held before the call and does not after it, nor after the whole "
                  "action `play_trainer(")),
    # Professor's Research draws 3: its scenario (a deck of 3 cards, 2 drawn) fails
    ("research-draws-three", RESEARCH, "draw_cards(p, 3)", "scenario",
     "then `len(hand[0]) == min(2, 3)` does not hold"),
    # Copy Anything without its Energy check: the text's own contract (the copied attack is run
    # only when this Pokémon's Energy pays its cost); the answer's own `choose` brings frame
    # fields the start states lack (the judge once raised a KeyError on it)
    ("copy-without-the-energy-check", COPY_ANYTHING,
     "let k = choose(p, k in 0..8 where occupied[1 - p][k / 2] and printed_damage(card[1 - p][k / 2], k % 2) >= 0) "
     "else -1\nif k >= 0 {\n    copy_card = card[1 - p][k / 2]\n    copy_index = k % 2\n"
     "    dmg = max(printed_damage(card[1 - p][k / 2], k % 2), 0)\n    copying = 1\n}",
     "property", "or copying == 2 and old(copying) == 2` does not hold"),
    # damage to 1 of the opponent's Benched Pokémon done to the Active one instead (the frame)
    ("bench-damage-on-the-active", "This attack does 30 damage to 1 of your opponent's Benched Pokémon.",
     "damage_opponent_choice(p, 30, false, true)", "property", "the call changes `dmg` ("),
    # "can't attack" made "can't retreat": the text's contract
    ("cant-attack-blocks-retreat", "During your opponent's next turn, the Defending Pokémon can't attack.",
     "hinder_defending(p, false, false, true, 0)", "property",
     "the text's `ensures no_attack[1 - p] == (old(no_attack[1 - p]) or old(occupied[1 - p][0]) and not old(defended(p)))`"),
    # Sweets Relay that does not record its use; Sabrina that keeps the special conditions
    ("relay-not-recorded", "If 1 of your Pokémon used Sweets Relay during your last turn, this attack does 20 more damage.",
     "if turn >= 3 and relay_turn[p] == turn - 2 {\n    add_damage(20)\n}", "property",
     "the text's `ensures relay_turn[p] == turn and relays[p] == min(old(relays[p]) + 1, TURNS)` does not hold"),
    ("sabrina-keeps-conditions", SABRINA,
     "let b = choose(1 - p, s in 1..SLOTS where occupied[1 - p][s]) else 0\nif b > 0 {\n    swap_slots(1 - p, 0, b)\n}",
     "property", "or not poisoned[1 - p] and not burned[1 - p] and condition[1 - p] == Condition.none"),
    # Look at the top 3 cards: only the top one seen
    ("look-at-one-card", "Look at the top 3 cards of your deck.", "look_at_deck(p, 1)", "property",
     "the text's `ensures all(seen_deck[p][i] == (if i < 3 and i < len(deck[p]) then int(deck[p][i]) else -1) for i in 0..3)`"),
    # a fault: drawing from an empty deck (or into a full hand)
    ("research-unguarded", RESEARCH, "hand[p].push(deck[p].draw())\nhand[p].push(deck[p].draw())", "property",
     "the call faults"),
]


@pytest.mark.parametrize("text,body,stage,expected", [w[1:] for w in WRONG_FILLS], ids=[w[0] for w in WRONG_FILLS])
def test_wrong_tcg_fills_are_rejected(strict_tcg, text, body, stage, expected):
    judge, fills, loaded = strict_tcg
    verdict = judge.judge_body(member(loaded, text), body, fills)
    assert (verdict.ok, verdict.stage) == (False, stage), verdict.feedback
    assert expected in verdict.feedback, verdict.feedback
    if stage == "property":
        assert re.search(r"state before the call \(reached from init\(\d\) after \d+ random legal actions?",
                         verdict.feedback), verdict.feedback


# The probe of "fills you can trust": plausible mistakes of a model on texts of every kind, each
# with the stage that rejects it and a fragment of its feedback. Of 63 such mistakes on 40 texts
# (26 kept here), 54 were rejected before `lasts_until` (compiler/check_lang.py) and the rules of
# "during your opponent's next turn" / "during their next turn" in specs/tcg.envspec, and 60 after:
# an effect of the opponent's next turn set for good (`barrier[p] = 20`) or until the player's own
# turn ends (`until turn_end(p)`) was accepted. Still accepted (not kept here, as a test of them
# could not fail for the right reason): `condition[1 - p] = Condition.confused` without the
# `defended` test (no start state has the opponent's Active Pokémon shielded by Dig while being
# attacked); "at least 2 extra {W} Energy" written `>= 1` (no start state has exactly 1 extra
# Energy of the type: the attack context raises the Active Pokémon's Energy to the attack's cost
# and no more); "Whenever you attach a {P} Energy ..., heal 20 damage from this Pokémon" healing
# slot 0 instead of `s` (the ability's context keeps its card where the game played it).
PROBE = "Flip a coin. If heads, this attack does 40 more damage."
GUARD = "During your opponent's next turn, this Pokémon takes −20 damage from attacks."
SPIKY = "During your opponent's next turn, if this Pokémon is damaged by an attack, do 30 damage to the Attacking Pokémon."
LASTS = "the text's `ensures lasts_until(turn_end(1 - p))` does not hold"
PROBE_FILLS = [
    # coin flips: none, or two
    ("coin-missing", PROBE, "add_damage(40)", "scenario", "then `dmg == 60` does not hold"),
    ("coin-twice", PROBE, "bonus_on_heads(40)\nbonus_on_heads(40)", "scenario", "then `dmg == 60 + 40` does not hold"),
    ("heal-coin-missing", "Flip a coin. If heads, heal 60 damage from this Pokémon.", "heal(p, 0, 60)", "property",
     "the call draws 0 random numbers; the text draws exactly 1"),
    ("recoil-on-heads", "Flip a coin. If heads, this attack does 40 more damage. If tails, this Pokémon also does 20 "
     "damage to itself.", "if random.coin() {\n    add_damage(40)\n    damage_self(p, 20)\n}", "property",
     "the text's `ensures damage[p][0] == (if flip(0) then old(damage[p][0]) else min(old(damage[p][0]) + 20, MAX_DAMAGE))`"),
    # heal: every Pokémon, the Active one instead of the chosen one, only this one instead of each
    ("heal-every-pokemon", "Heal 30 damage from this Pokémon.", "heal_all(p, 30)", "property",
     "outside what the text lets it change: `damage[0][0]`"),
    ("potion-on-the-active", "Heal 20 damage from 1 of your Pokémon.", "heal(p, 0, 20)", "scenario",
     "then `damage[p][target] == max(40 - 20, 0)` does not hold"),
    ("heal-each-only-this", "Once during your turn, you may heal 20 damage from each of your Pokémon.", "heal(p, s, 20)",
     "property", "the text's `ensures all(damage[p][t] == max(old(damage[p][t]) - 20, 0) for t in 0..SLOTS)`"),
    ("heal-type-forgotten", "Heal 50 damage from 1 of your {G} Pokémon.", "heal(p, target, 50)", "property",
     "the text's `ensures damage[p][target] == (if old(occupied[p][target]) and type_of(p, target) == Energy.grass"),
    # status: the wrong one
    ("wrong-status", "Your opponent's Active Pokémon is now Confused.", "afflict_opponent(p, Condition.asleep)",
     "property", "the text's `ensures condition[1 - p] == (if old(occupied[1 - p][0]) and not old(defended(p)) then "
     "Condition.confused else old(condition[1 - p]))` does not hold"),
    ("poison-from-the-bench", "Once during your turn, if this Pokémon is in the Active Spot, you may make your opponent's "
     "Active Pokémon Poisoned.", "poison_opponent(p)", "property",
     "the text's `ensures poisoned[1 - p] == (old(poisoned[1 - p]) or (s == 0 and old(occupied[1 - p][0])))`"),
    # energy: the wrong type, the wrong Pokémon
    ("discard-wrong-type", "Discard 2 {R} Energy from this Pokémon.", "discard_energy(p, 0, 2, 2)", "scenario",
     "then `energy[p][0][Energy.fire] == 3 - 2` does not hold"),
    ("bench-energy-wrong-type", "Take a {G} Energy from your Energy Zone and attach it to 1 of your Benched {G} Pokémon.",
     "attach_to_bench_choice(p, 3)", "property",
     "the text's `ensures sum(energy[p][s][Energy.grass] for s in 1..SLOTS) == old(sum(energy[p][s][Energy.grass]"),
    ("ability-energy-to-the-active", "Once during your turn, you may take a {L} Energy from your Energy Zone and attach "
     "it to this Pokémon.", "attach_from_zone(p, 0, 3, 1, true)", "property",
     "the text's `ensures energy[p][s][Energy.lightning] == min(old(energy[p][s][Energy.lightning]) + 1, MAX_ENERGY)`"),
    ("named-energy-to-the-active", "Take 1 {F} Energy from your Energy Zone and attach it to your Golem or Onix.",
     "attach_from_zone(p, 0, 5, 1, true)", "property",
     "the text's `ensures energy[p][target][Energy.fighting] == min(old(energy[p][target][Energy.fighting]) + 1, "
     "MAX_ENERGY)`"),
    # draw / deck: the wrong player
    ("research-for-the-opponent", RESEARCH, "draw_cards(1 - p, 2)", "scenario",
     "then `len(hand[0]) == min(2, 3)` does not hold"),
    ("mars-on-the-player", "Your opponent shuffles their hand into their deck and draws 3 cards.",
     "opponent_hand_into_deck(1 - p, 3)", "property",
     "the text's `ensures len(hand[1 - p]) == min(3, old(len(hand[1 - p]) + len(deck[1 - p])))`"),
    # lasting effects: for good, until the wrong turn's end, or on a coin flip the text lacks
    ("guard-for-good", GUARD, "barrier[p] = 20", "property", LASTS),
    ("guard-until-own-turn-end", GUARD, "barrier[p] = 20 until turn_end(p)", "property", LASTS),
    ("guard-on-a-coin", GUARD, "protect(p, 20, true)", "property", "the text's `ensures barrier[p] == 20` does not hold"),
    ("no-retreat-for-good", "During your opponent's next turn, the Defending Pokémon can't retreat.",
     "if occupied[1 - p][0] and not defended(p) {\n    no_retreat[1 - p] = true\n}", "property", LASTS),
    ("spiky-until-own-turn-end", SPIKY, "spiky[p] = 30 until turn_end(p)", "property", LASTS),
    ("no-supporter-for-good", "Your opponent can't use any Supporter cards from their hand during their next turn.",
     "no_supporter[1 - p] = true", "property", LASTS),
    # bench damage: the Active Pokémon too, the player's own Bench
    ("bench-damage-and-the-active", "This attack also does 10 damage to each of your opponent's Benched Pokémon.",
     "for s in 0..SLOTS {\n    if occupied[1 - p][s] {\n        damage[1 - p][s] = min(damage[1 - p][s] + 10, MAX_DAMAGE)"
     "\n    }\n}", "property", "the call changes `damage[1][0]` (0 -> 10), outside what the text lets it change"),
    ("bench-damage-on-own-bench", "This attack does 30 damage to 1 of your opponent's Benched Pokémon.",
     "damage_own_choice(p, 30, true)", "property", "outside what the text lets it change: `damage[1][1]`"),
    # conditions: forgotten, or tested on the wrong Pokémon; a type forgotten
    ("condition-on-the-wrong-pokemon", "If this Pokémon has damage on it, this attack does 60 more damage.",
     "bonus_if(p, When.opponent_damaged, 60)", "property",
     "the text's `ensures dmg == (if old(damage[p][0]) > 0 then min(old(dmg) + 60, MAX_DAMAGE) else old(dmg))`"),
    ("bench-type-forgotten", "This attack does 30 damage for each of your Benched {L} Pokémon.",
     "damage_per_bench_type(p, NONE, 30)", "property",
     "the text's `ensures dmg == min(30 * count(occupied[p][s] and type_of(p, s) == Energy.lightning for s in 1..SLOTS)"),
    # who decides (`chooses`): the player for the opponent, or no one (hunt Q; accepted before)
    ("sabrina-player-chooses", "Switch out your opponent's Active Pokémon to the Bench. (Your opponent chooses the new "
     "Active Pokémon.)", "switch_opponent(p, false, false, false)", "property",
     "the call asks player 0 to choose among 2 options; the text lets player 1 choose"),
    # the damage zeroed by a text that prints none: every A1 card with it does 0 damage, the
    # attack context adds 0-20 to it (`more`; hunt R, F3: accepted before)
    ("switch-self-zeroes-damage", "Switch this Pokémon with 1 of your Benched Pokémon.", "switch_self(p)\ndmg = 0",
     "property", "else dmg == old(dmg) and damage[1 - p][0] == old(damage[1 - p][0])"),
    # the law of "random" (`draws ... among COUNT`): never the last card (hunt R, F2: accepted before)
    ("hand-discard-never-the-last", "Discard a random card from your opponent's hand.",
     "let q = 1 - p\nif len(hand[q]) > 0 {\n    let h = random.int(0, max(len(hand[q]) - 2, 0))\n"
     "    discard[q].push(hand[q][h])\n    hand[q].remove_at(h)\n}", "property",
     "values, each equally likely (`draws any among len(hand[1 - p])`"),
    # the first copy, never a random one: no judged deck held two, until the context put two on
    # top and the coverage search looked for `draws ... among` (accepted before)
    ("nidoran-always-the-first", "Put 1 random Nidoran♂ from your deck onto your Bench.",
     "let s = free_bench(p)\nif s < SLOTS {\n    let at = min(if named_in_deck(p, i, 12) then i else 99 for i in 0..DECK)\n"
     "    if at < DECK {\n        put_in_play(p, s, deck[p][at])\n        deck[p].remove_at(at)\n    }\n}", "property",
     "values, each equally likely (`draws any among (if free_bench(p) < SLOTS then count(named_in_deck(p, i, 12)"),
    ("switch-self-no-choice", "Switch this Pokémon with 1 of your Benched Pokémon.",
     "if occupied[p][1] {\n    hit_active(p)\n    clear_conditions(p)\n    swap_slots(p, 0, 1)\n}", "property",
     "the call asked that player nothing: ask with `choose(p, ...)`"),
    # hunt V, F1: a draw over every card, then two draws mapped to one card (never the last): the
    # draw's range is right (`draws any among`), its law is not (`with chance ... for i in 0..HAND`)
    ("discard-never-the-last-card", "Discard a random card from your opponent's hand.",
     "let q = 1 - p\nif len(hand[q]) > 0 {\n    let h = min(random.int(0, max(len(hand[q]) - 1, 0)), max(len(hand[q]) - 2, 0))\n"
     "    discard[q].push(hand[q][h])\n    hand[q].remove_at(h)\n}", "property",
     "the text gives its outcome a chance of"),
    # a draw over every Energy, then mapped to one of the types present (each type equally likely,
    # not each Energy)
    ("energy-by-type", "Discard a random Energy from your opponent's Active Pokémon.",
     "let q = 1 - p\nlet n = energy_total(q, 0)\nif n > 0 {\n    let r = random.int(0, max(n - 1, 0))\n"
     "    let k = max(count(energy[q][0][u] > 0 for u in 0..TYPES), 1)\n"
     "    let t = random.pick(u in 0..TYPES where energy[q][0][u] > 0 and "
     "count(energy[q][0][v] > 0 and v < u for v in 0..TYPES) == r % k) else 0\n"
     "    if not defended(p) {\n        energy[q][0][t] = max(energy[q][0][t] - 1, 0)\n    }\n}", "property",
     "the text gives its outcome a chance of"),
]


@pytest.mark.parametrize("text,body,stage,expected", [w[1:] for w in PROBE_FILLS], ids=[w[0] for w in PROBE_FILLS])
def test_plausible_mistakes_of_a_model_are_rejected(tcg, text, body, stage, expected):
    judge, fills, loaded = tcg
    verdict = judge.judge_body(member(loaded, text), body, fills)
    assert (verdict.ok, verdict.stage) == (False, stage), verdict.feedback
    assert expected in verdict.feedback, verdict.feedback


def test_a_wrong_bonus_amount_is_rejected(strict_tcg):
    """The text's own contract (`text "Flip a coin. If heads, this attack does <N> more damage."`
    in specs/tcg.envspec) says 40, not 50."""
    judge, fills, loaded = strict_tcg
    verdict = judge.judge_body(member(loaded, TROPICAL_SWING), "bonus_on_heads(50)", fills)
    assert not verdict.ok
    assert "then `dmg == 60 + 40` does not hold" in verdict.feedback, verdict.feedback


def test_damage_that_knocks_out_inside_an_attack_is_not_blamed_on_the_fill(tcg):
    """`hp_bounds` holds between actions: a Pokémon whose damage reaches its HP is knocked out
    at the end of the attack, so the right fill of a self-damage text breaks it right after
    the call. The attack around the call restores it, so the fill is accepted; a fill that
    breaks an invariant for good is not (`research-copies-cards` above)."""
    judge, fills, loaded = tcg
    body = "damage[p][0] = min(damage[p][0] + 20, MAX_DAMAGE)"
    verdict = judge.judge_body(member(loaded, "This Pokémon also does 20 damage to itself."), body, fills)
    assert verdict.ok, verdict.feedback


DIG = ("Flip a coin. If heads, during your opponent’s next turn, prevent all damage from—and effects of—attacks "
       "done to this Pokémon.")


def test_a_text_that_may_change_a_lasting_cell_may_say_how_long_it_lasts(tcg):
    """`x = v until b(args)` writes the hidden expiry cell of `x` too: the frame of a text that
    may change `barrier[p]` and `shielded[p]` lets a fill set them `until` a boundary (Dig written
    without its verb), and still refuses the expiry of a cell outside it (`no_attack[p]`)."""
    judge, fills, loaded = tcg
    right = ("if random.coin() {\n    barrier[p] = MAX_DAMAGE until turn_end(1 - p)\n"
             "    shielded[p] = true until turn_end(1 - p)\n}")
    verdict = judge.judge_body(member(loaded, DIG), right, fills)
    assert verdict.ok, verdict.feedback
    wrong = right.replace("\n}", "\n    no_attack[p] = true until turn_end(1 - p)\n}")
    verdict = judge.judge_body(member(loaded, DIG), wrong, fills)
    assert (verdict.ok, verdict.stage) == (False, "property"), verdict.feedback
    assert "`no_attack[0]`" in verdict.feedback and "outside what the text lets it change" in verdict.feedback


# ------------------------------------------------------------------ the fill file


def test_member_items_are_written_in_the_family_form():
    text = ('// header\n\nfill attack_effect text "Heal 30 damage from this Pokémon."\n    hash "1" provenance "hand" {\n'
            '    heal(p, 0, 30)\n}\n\n// a trainer\nfill trainer_effect text "Draw 2 cards." hash "2" {\n'
            '    draw_cards(p, 2)\n}\n')
    texts = {"attack_effect__1": "Heal 30 damage from this Pokémon.", "attack_effect__7": "Discard 2 {P} Energy.",
             "trainer_effect__16": "Draw 2 cards."}
    names = {(n.rsplit("__", 1)[0], t): n for n, t in texts.items()}

    def key(d):
        return names.get((d.name, d.attrs.get("text")), d.name)

    order = ["attack_effect__1", "attack_effect__7", "trainer_effect__16"]
    item = item_text("attack_effect", {"text": texts["attack_effect__7"], "hash": "9", "provenance": "model"},
                     "discard_energy(p, 0, 4, 2)")
    assert item == ('fill attack_effect text "Discard 2 {P} Energy."\n    hash "9" provenance "model" {\n'
                    '    discard_energy(p, 0, 4, 2)\n}\n')
    added = upsert(text, "x.fills", "attack_effect__7", item, order, key=key, group="attack_effect")
    assert not added.replaced
    assert added.text == text.replace("    heal(p, 0, 30)\n}\n", "    heal(p, 0, 30)\n}\n\n" + item, 1)
    assert added.text[added.start:added.end] == item.rstrip("\n")
    assert fill_bodies(added.text, "x.fills", key=key) == {
        "attack_effect__1": "heal(p, 0, 30)", "attack_effect__7": "discard_energy(p, 0, 4, 2)",
        "trainer_effect__16": "draw_cards(p, 2)"}
    again = item_text("attack_effect", {"text": texts["attack_effect__7"], "hash": "10"}, "discard_energy(p, 0, 4, 1)")
    replaced = upsert(added.text, "x.fills", "attack_effect__7", again, order, key=key, group="attack_effect")
    assert replaced.replaced and replaced.text == added.text.replace(item.rstrip("\n"), again.rstrip("\n"))
    assert rehash(text, "x.fills", {"trainer_effect__16": "abc"}, key=key) == text.replace('hash "2"', 'hash "abc"')


# ------------------------------------------------------------------ end to end


@pytest.fixture
def tcg_copy(tmp_path):
    """A copy of specs/tcg.envspec, specs/tcg.fills and specs/data/ (with its subfolders), the
    fill of "Heal 10 damage from this Pokémon." taken out of the copy's fills (it is the text the
    scripted model fills)."""
    shutil.copy(SPEC, tmp_path / "tcg.envspec")
    text = FILLS.read_text(encoding="utf-8")
    item = re.search(r'// [^\n]*\nfill attack_effect text "Heal 10 damage from this Pokémon\."\n[^}]*\}\n\n', text)
    assert item, "specs/tcg.fills fills Heal 10 (issue 16)"
    (tmp_path / "tcg.fills").write_text(text.replace(item.group(0), "", 1), encoding="utf-8")
    shutil.copytree(ROOT / "specs" / "data", tmp_path / "data")
    return tmp_path / "tcg.envspec"


def test_fill_a_real_tcg_text_through_the_scripted_model(tcg_copy, fake_model, tcg):
    _, _, loaded = tcg
    name = member(loaded, HEAL_10)
    fills = tcg_copy.with_suffix(".fills")
    before = fills.read_text(encoding="utf-8")

    holes = envc("holes", str(tcg_copy))
    assert holes.exit_code == 0, holes.output
    assert re.search(rf"{name}\s+│\s+unfilled\s+│\s+exact\s+│\s+-\s+│.*│\s+{re.escape(HEAL_10)}", holes.stdout)
    # 133 filled: the 134 of specs/tcg.fills (issue 16) less Heal 10, taken out of the copy; every
    # text has an exact contract (a `text` rule of the spec)
    assert "texts with an exact contract (a `text` rule, or the fill's own `ensures`): 134/134; filled ones: 133/133" \
        in holes.stdout
    assert "134 holes: 133 filled, 0 stale, 1 unfilled" in holes.stdout
    assert "family attack_effect (per Card.effect0, Card.effect1): 99/100 texts filled" in holes.stdout
    (cards,) = playable_cards(loaded.module)
    # the 22 decks of #16 use 109 cards, and the table NamedCard names 6 more (the first card of
    # each name that a text names): all playable
    assert (cards.rows, cards.needed, cards.needed_playable) == (386, 115, 115)
    # the copy lacks Heal 10's fill: the cards that print it are not fully playable there
    fam = next(f for f in loaded.module.families if name in f.members)
    table = next(t for t in loaded.module.tables if t.name == fam.table)
    cols = {c.name: c.values for c in table.columns}
    heal_10 = fam.members.index(name) + 1
    with_heal_10 = sum(any(cols[c][r] == heal_10 for c in fam.columns) for r in range(table.rows))
    assert with_heal_10 >= 1
    assert (f"cards fully playable (every text filled): {cards.playable - with_heal_10}/386; "
            "of the 115 the data uses: 115/115") in holes.stdout

    fake_model.script = [
        "Sure! Heal the Pokémon by ten, that's all there is to it.",  # garbage
        "```envspec\nheal(p, 0, 10 == 10)\n```",  # a type error
        f"```envspec\nfill attack_effect text \"{HEAL_10}\" {{\n    heal(p, 0, 10)\n}}\n```",  # right (wrapped)
    ]
    result = envc("fill", str(tcg_copy), "--model", MODEL, "--api-base", fake_model.url, "--only", name,
                  "--max-examples", str(EXAMPLES))
    assert result.exit_code == 0, result.output
    reqs = fake_model.requests
    assert len(reqs) == 3
    task = reqs[0]["messages"][1]["content"]
    assert f"# Your task: fill the hole `{name}`" in task
    assert "hole attack_effect(p: int[0..1]) per Card.effect0, Card.effect1" in task
    assert f"> {HEAL_10}" in task
    assert "proc heal(p: int[0..1], s: int[0..3], amount: int[0..300])" in task  # an effect verb
    assert 'fill attack_effect text "Heal 30 damage from this Pokémon." {\n    heal(p, 0, 30)\n}' in task
    repair1, repair2 = (reqs[i]["messages"][-1]["content"] for i in (1, 2))
    assert "rejected (attempt 1 of 4): it does not parse" in repair1
    assert "rejected (attempt 2 of 4): the type checker rejects it" in repair2
    assert "error[E0110]: type mismatch: expected `int[0..300]`, found `bool`" in repair2

    after = fills.read_text(encoding="utf-8")
    m = re.search(r'\nfill attack_effect text "Heal 10 damage from this Pokémon\."\n'
                  r'    hash "([0-9a-f]{16})" provenance "model" model "openai/test-model" attempts 3 tokens 360'
                  r'(?: cost [0-9.]+)? date "\d{4}-\d\d-\d\d" \{\n    heal\(p, 0, 10\)\n\}\n', after)
    assert m, after
    assert after.replace(m.group(0), "", 1) == before  # nothing else changed
    assert m.start() > after.rindex("fill attack_effect text", 0, m.start()) > 0  # with its family
    assert m.end() < after.index("fill ability_effect")
    module = check(parse_file(str(tcg_copy)), parse_file(str(fills)))  # nothing tolerated
    hole = next(h for h in module.holes if h.name == name)
    assert (hole.status, hole.signature_hash, hole.provenance.source, hole.provenance.model,
            hole.provenance.attempts, hole.provenance.tokens) == ("filled", m.group(1), "model", MODEL, 3, 360)

    holes = envc("holes", str(tcg_copy))
    assert re.search(rf"{name}\s+│\s+filled\s+│\s+exact\s+│\s+model: openai/test-model\s+│\s+3\s+│\s+360\s+│",
                     holes.stdout)
    assert "134 holes: 134 filled, 0 stale, 0 unfilled" in holes.stdout
    assert "family attack_effect (per Card.effect0, Card.effect1): 100/100 texts filled" in holes.stdout
    assert f"cards fully playable (every text filled): {cards.playable}/386" in holes.stdout  # as in the spec

    # the family's rule changes: every fill of an attack text is stale, the new one too
    spec_text = tcg_copy.read_text(encoding="utf-8").replace(
        "hole attack_effect(p: int[0..1]) per Card.effect0, Card.effect1\n",
        "hole attack_effect(p: int[0..1]) per Card.effect0, Card.effect1\n    ensures turn == old(turn)\n", 1)
    tcg_copy.write_text(spec_text, encoding="utf-8")
    stale = envc("holes", str(tcg_copy))
    assert stale.exit_code == 0, stale.output
    assert re.search(rf"{name}\s+│\s+stale\s+│\s+exact\s+│\s+model: openai/test-model\s+│\s+3\s+│\s+360\s+│",
                     stale.stdout)
    assert "134 holes: 34 filled, 100 stale, 0 unfilled" in stale.stdout
    assert "of the 115 the data uses: 115/115" not in stale.stdout  # the decks need stale texts


def test_dry_run_prompt_of_a_family_member(tcg):
    _, _, loaded = tcg
    name = member(loaded, HEAL_10)
    # Heal 10 is filled in specs/tcg.fills (issue 16): --force shows the prompt a refill would send
    result = envc("fill", str(SPEC), "--model", "x", "--dry-run", "--force", "--only", "heal 10 damage")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f'===== hole `{name}` (attack_effect "{HEAL_10}"): user message =====' in out
    task = out.split("user message =====", 1)[1]
    assert "It is one text of the hole family `attack_effect`" in task
    assert "hole attack_effect(p: int[0..1]) per Card.effect0, Card.effect1\n    ensures" in task
    assert f"> {HEAL_10}\n" in task and "Cards with this text: " in task
    assert ("// Rule: draw a card (none when the deck is empty or the hand holds 10 cards).\n"
            "proc draw_cards(p: int[0..1], n: int[0..5])") in task  # the effect verbs, documented
    similar = task.split("## Accepted fills of similar texts (for style)", 1)[1]
    shown = re.findall(r'fill attack_effect text "([^"]*)"', similar.split("# Your task", 1)[0])
    assert shown[0] == "Heal 30 damage from this Pokémon." and all("heal" in t.lower() for t in shown), shown
    assert "## Other holes" not in task  # the other texts are not for it to call
    assert f'Answer with the body of `fill attack_effect text "{HEAL_10}"`' in task
    assert "skipping" not in result.stderr
    bad = envc("fill", str(SPEC), "--dry-run", "--only", "attack_efect__7")
    assert bad.exit_code == 1 and "did you mean `attack_effect__7`?" in bad.stderr
