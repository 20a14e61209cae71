"""The checks of a fill that come from its text (`texts of ...`, issue #12), on a small card
game where they are cheap: `tests/specs/texts.envspec` and its hand fills `texts.fills`.

For each check, a wrong fill it rejects (at the stage named, with the message named) and a
right fill, written differently from the hand fill, that it accepts:

* the text's exact contract (`text "..." ensures ...` of the spec), and a fill's own
  `ensures` written beside it in the fill file;
* the frame (`modifies`): what a text may change;
* the number of random draws (`draws`), counted on the counter-based RNG;
* every printed number and symbol used behaviourally (varied, the outcome must change);
* scenarios (`scenario given ... then ...`), of a rule and beside a fill;
* the card's own context (`context(c, k, ...)`): a right fill that only holds with its card in
  place is accepted, and rejected by a copy of the spec without the context;
* differential acceptance: two fills of one text must behave alike;
* diagnostics and faults about an answer point into the answer (`<answer>:line:col`).

End to end through the scripted OpenAI-compatible server: `--api-base` needs no key,
`--samples` compares a model's answers, `--force` compares with the fill it replaces, and
the prompt says how the answer is judged, on how many states.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from envc.cli import app
from envc.llm_fill.judge import Judge

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "specs" / "texts.envspec"
FILLS = SPEC.with_suffix(".fills")
MODEL = "openai/test-model"
EXAMPLES = 40

HEAL = "Heal 20 damage from your Pokémon."
BONUS = "Flip a coin. If heads, this does 30 more damage."
EMBER = "Take a {R} Energy and attach it to this card."
SCOUT = "Draw 2 cards."
TONIC = "Flip 2 coins. Heal 10 damage for each heads."
REST = "Heal 10 damage from your Pokémon for each card in your hand."
SPRING = "Heal 10 damage for each {W} card in your hand."


def envc(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "ENVC_DEBUG": "1"}, catch_exceptions=False)


@pytest.fixture(scope="module")
def texts():
    """(judge, fill file text, {text: member hole}) of tests/specs/texts.envspec."""
    judge = Judge(str(SPEC), max_examples=EXAMPLES)
    fills = FILLS.read_text(encoding="utf-8")
    loaded = judge.load(fills)
    return judge, fills, {h.prose: h.name for h in loaded.module.holes}


# (check, text, wrong body, stage, what the feedback says, right body)
CHECKS = [
    ("exact contract", BONUS, "bonus_on_heads(40)", "property",
     "the text's `ensures dmg == (if flip(0) then min(old(dmg) + 30, 100) else old(dmg))` does not hold",
     "if random.coin() {\n    dmg = min(dmg + 30, 100)\n}"),
    ("scenario of a rule", HEAL, "heal(p, 30)", "scenario",
     "given `damage[p] = 50`, then `damage[p] == 50 - 20` does not hold", "damage[p] = max(damage[p] - 20, 0)"),
    ("frame", SCOUT, "draw_cards(p, 2)\ndamage[p] = 0", "property",
     "outside what the text lets it change: `deck[", "for k in 0..2 {\n    if len(deck[p]) > 0 and len(hand[p]) < HAND "
     "{\n        hand[p].push(deck[p].draw())\n    }\n}"),
    ("draws", HEAL, "let lucky = random.coin()\nheal(p, 20)", "property",
     "the call draws 1 random number; the text draws exactly 0", "heal(p, 10)\nheal(p, 10)"),
    ("a printed number the fill never writes", REST, "heal(p, min(20 * len(hand[p]), 100))", "text",
     "the text prints `10`, and the fill never writes it", "let n = len(hand[p])\nheal(p, min(n * 10, 100))"),
    ("a printed number the fill does not use", REST, "let per_card = 10\nheal(p, min(20 * len(hand[p]), 100))",
     "text", "does not use it: changing the fill's 10 to",
     "heal(p, min(len(hand[p]) * 10, 100))"),
    ("a printed symbol", SPRING, "heal(p, min(10 * count(i < len(hand[p]) and hand[p][i].type == Energy.fire "
     "for i in 0..HAND), 100))", "text", "the text prints `{W}` (`Energy.water`, 1), and the fill never writes it",
     "let n = count(if i < len(hand[p]) then int(hand[p][i].type) == 1 else false for i in 0..HAND)\n"
     "heal(p, min(10 * n, 100))"),
    ("the fill's own ensures", TONIC, "let a = random.coin()\nlet b = random.coin()\nif a and b {\n    heal(p, 20)\n}",
     "property", "the fill's own `ensures damage[p] == max(old(damage[p]) - 10 * heads(2), 0)` does not hold",
     "let a = random.coin()\nlet b = random.coin()\nheal(p, 10 * (int(a) + int(b)))"),
    ("a scenario beside the fill", TONIC, "let a = random.coin()\nlet b = random.coin()\nif a or b {\n    heal(p, 10)\n}",
     "scenario", "scenario 'two heads' (", "for k in 0..2 {\n    let heads = random.coin()\n    if heads {\n"
     "        damage[p] = max(damage[p] - 10, 0)\n    }\n}"),
    ("the card's context", EMBER, "attach(p, 1, 1)", "property",
     "`ensures all(energy[p][t] <= old(energy[p][t]) or int(active[p].type) == t for t in 0..3)` does not hold",
     "energy[p][0] = min(energy[p][0] + 1, 9)"),
]


@pytest.mark.parametrize("check,text,wrong,stage,expected,right", CHECKS, ids=[c[0] for c in CHECKS])
def test_each_check_rejects_a_wrong_fill_and_accepts_a_right_one(texts, check, text, wrong, stage, expected, right):
    judge, fills, holes = texts
    bad = judge.judge_body(holes[text], wrong, fills)
    assert (bad.ok, bad.stage) == (False, stage), bad.feedback
    assert expected in bad.feedback, bad.feedback
    good = judge.judge_body(holes[text], right, fills)
    assert good.ok, good.feedback


def test_the_context_puts_the_card_in_place(texts, tmp_path):
    """"Take a {R} Energy and attach it to this card": the family's `ensures` lets energy of a
    type rise only on an active card of that type. With the card in its place (the context
    of `texts of card_effect`) the right fill passes; on states of the game as they were
    reached, where another card may be active, the same fill is rejected."""
    judge, fills, holes = texts
    assert judge.judge_body(holes[EMBER], "attach(p, 0, 1)", fills).ok
    text = SPEC.read_text(encoding="utf-8")
    start = text.index("    // Rule: a card's text runs when it is played")
    end = text.index("    mentions \"flip a coin\"")
    (tmp_path / "texts.envspec").write_text(text[:start] + text[end:], encoding="utf-8")
    shutil.copytree(ROOT / "tests" / "specs" / "data", tmp_path / "data")  # a link would lead outside (E0150)
    (tmp_path / "texts.fills").write_text(fills, encoding="utf-8")
    bare = Judge(str(tmp_path / "texts.envspec"), max_examples=EXAMPLES)
    verdict = bare.judge_body(holes[EMBER], "attach(p, 0, 1)", fills)
    assert (verdict.ok, verdict.stage) == (False, "property"), verdict.feedback
    assert "int(active[p].type) == t for t in 0..3)` does not hold" in verdict.feedback


def test_a_context_state_shows_where_it_came_from(texts):
    judge, fills, holes = texts
    verdict = judge.judge_body(holes[BONUS], "bonus_on_heads(40)", fills)
    assert re.search(r"reached from init\(\d\) after \d+ random legal actions?, then put in its context \(`c` = "
                     r"(Spark|Cinder) \(Card#\d\), `k` = 0, `hurt` = \d\)", verdict.feedback), verdict.feedback


def test_differential_acceptance_names_the_first_difference(texts):
    judge, fills, holes = texts
    same = judge.judge_body(holes[EMBER], "energy[p][0] = min(energy[p][0] + 1, 9)", fills, reference="attach(p, 0, 1)")
    assert same.ok, same.feedback
    other = judge.judge_body(holes[EMBER], "energy[p][0] = min(energy[p][0] + 1, 9)", fills,
                             reference="attach(p, 0, 2)")
    assert (other.ok, other.stage) == (False, "differential"), other.feedback
    assert re.search(r"first difference: `energy\[[01]\]\[0\]` is \d after the first and \d after the second",
                     other.feedback), other.feedback
    assert "state before the call: reached from init(" in other.feedback


def test_diagnostics_about_an_answer_point_into_it(texts):
    judge, fills, holes = texts
    typed = judge.judge("card_effect__1", "```envspec\nlet x = 1\nheal(p, 20 == 20)\n```", fills)
    assert typed.stage == "check"
    assert "--> <answer>:2:9" in typed.feedback and "2 | heal(p, 20 == 20)" in typed.feedback, typed.feedback
    assert str(FILLS) not in typed.feedback and "texts.fills" not in typed.feedback
    faults = judge.judge_body(holes[SCOUT], "hand[p].push(deck[p].draw())\nhand[p].push(deck[p].draw())", fills)
    assert faults.stage == "property"
    assert re.search(r"the call faults: <answer>:\d:\d+: ", faults.feedback), faults.feedback


# ------------------------------------------------------------------ end to end


@pytest.fixture
def copy(tmp_path):
    """A copy of tests/specs/texts.envspec and its fills (its data linked)."""
    shutil.copy(SPEC, tmp_path / "texts.envspec")
    shutil.copy(FILLS, tmp_path / "texts.fills")
    shutil.copytree(ROOT / "tests" / "specs" / "data", tmp_path / "data")  # a link would lead outside (E0150)
    return tmp_path / "texts.envspec"


def _without_text(spec: Path, text: str) -> None:
    fills = spec.with_suffix(".fills")
    content = fills.read_text(encoding="utf-8")
    start = content.index(f'fill card_effect text "{text}"')
    end = content.index("\n}\n", start) + 3
    fills.write_text(content[:start] + content[end:], encoding="utf-8")


def test_api_base_needs_no_key(copy, fake_model, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _without_text(copy, HEAL)
    fake_model.script = ["```envspec\nheal(p, 20)\n```"]
    result = envc("fill", str(copy), "--model", MODEL, "--api-base", fake_model.url, "--only", "heal 20",
                  "--max-examples", "20")
    assert result.exit_code == 0, result.output
    assert len(fake_model.requests) == 1
    no_base = envc("fill", str(copy), "--model", MODEL, "--only", "heal 20", "--force")
    assert no_base.exit_code == 1
    assert "model `openai/test-model` needs `OPENAI_API_KEY`, which is not set" in no_base.stderr
    assert "`--model openai/NAME --api-base URL` (no key needed)" in no_base.stderr


def test_samples_that_behave_differently_are_rejected(copy, fake_model):
    """Two answers per attempt (`--samples 2`) that both pass their checks but attach
    different amounts: the attempt is rejected, and the repair prompt names the difference.
    A model that repeats itself passes: comparing a model with itself proves nothing."""
    _without_text(copy, EMBER)
    answers = iter(["```envspec\nattach(p, 0, 1)\n```", "```envspec\nattach(p, 0, 2)\n```"] + 
                   ["```envspec\nattach(p, 0, 1)\n```"] * 4)
    fake_model.script = lambda messages: next(answers)
    result = envc("fill", str(copy), "--model", MODEL, "--api-base", fake_model.url, "--only", "take a {r}",
                  "--samples", "2", "--max-examples", "20")
    assert result.exit_code == 0, result.output
    assert "no exact contract" not in result.output, "two answers were compared: no warning"
    assert len(fake_model.requests) == 4
    repair = fake_model.requests[2]["messages"][-1]["content"]
    assert "another fill of the same text behaves differently on the same state" in repair
    assert re.search(r"first difference: `energy\[[01]\]\[0\]`", repair), repair
    assert re.search(r'provenance "model" model "openai/test-model" attempts 2 tokens 480',
                     copy.with_suffix(".fills").read_text(encoding="utf-8"))


def test_force_compares_with_the_fill_it_replaces(copy, fake_model):
    """`--force` over a hand fill: an answer that passes every check of a text with no exact
    contract, but attaches two energy where the hand fill attaches one, is rejected; with
    `--no-differential` it is accepted."""
    fake_model.script = lambda messages: "```envspec\nattach(p, 0, 2)\n```"
    result = envc("fill", str(copy), "--model", MODEL, "--api-base", fake_model.url, "--only", "take a {r}",
                  "--force", "--max-attempts", "1", "--max-examples", "20")
    assert result.exit_code == 1
    assert "differential: two fills of this text behave differently" in result.stderr
    accepted = envc("fill", str(copy), "--model", MODEL, "--api-base", fake_model.url, "--only", "take a {r}",
                    "--force", "--max-attempts", "1", "--max-examples", "20", "--no-differential")
    assert accepted.exit_code == 0, accepted.output


def test_the_prompt_says_how_the_answer_is_judged():
    result = envc("fill", str(SPEC), "--model", "x", "--dry-run", "--only", "flip a coin", "--force",
                  "--max-examples", "77")
    assert result.exit_code == 0, result.output
    system, task = result.stdout.split("user message =====", 1)
    assert "generated property tests on 77 game states" in system
    assert "it runs on 77 generated game states reached by random play, with the card put in its place" in task
    assert "  - `dmg == (if flip(0) then min(old(dmg) + 30, 100) else old(dmg))`" in task
    assert "- it may change only: `dmg` (nothing else);" in task
    assert "- it draws exactly 1 random number per call" in task
    assert 'symbol "{R}" = Energy.fire' in task
    assert "context(c, k, hurt: int[0..9]) {" in task and "active[p] = c" in task
    assert "action play(h: int[0..3])" in task  # the action that runs the text
    assert '{"name": "Spark", "type": "Fire", "effect": "Flip a coin.' in task  # the card's data record


def test_holes_counts_exact_contracts():
    result = envc("holes", str(SPEC))
    assert result.exit_code == 0, result.output
    assert "texts with an exact contract (a `text` rule, or the fill's own `ensures`): 3/8; filled ones: 3/8" \
        in result.stdout
    assert re.search(r"card_effect__6\s+│\s+filled\s+│\s+exact\s+│\s+hand", result.stdout)  # its fill's own ensures
    assert re.search(r"card_effect__3\s+│\s+filled\s+│\s+rules\s+│", result.stdout) is None
    assert re.search(r"card_effect__3\s+│\s+filled\s+│\s+-\s+│", result.stdout)


# ------------------------------------------------------------------ numbers printed from data

PRINTED = ROOT / "tests" / "specs" / "printed.envspec"
MEND = "Heal 30 damage from this Pokémon."
FLURRY = "Attacks 3 times."
HEAL_RULE = 'mentions "Heal <N> damage" where N = Card.heals'


@pytest.fixture(scope="module")
def printed():
    """(judge, fill file text, {text: member hole}) of tests/specs/printed.envspec, whose texts
    print numbers of the card table (`where N = Card.column`)."""
    judge = Judge(str(PRINTED), max_examples=EXAMPLES)
    fills = PRINTED.with_suffix(".fills").read_text(encoding="utf-8")
    loaded = judge.load(fills)
    return judge, fills, {h.prose: h.name for h in loaded.module.holes}


def test_a_number_printed_from_data_is_read_from_the_row(printed):
    judge, fills, holes = printed
    c = judge.load(fills).module.holes[0].contract
    assert [(d.capture, d.value, d.table, d.column, d.rows) for d in c.data] == [("N", 30, "Card", "heals", [0, 1])]
    assert c.numbers == []  # (the number is the rule's: no literal is asked for)
    written = judge.judge_written(fills)
    assert len(written) == 3 and all(v.ok for v in written.values()), {n: v.feedback for n, v in written.items()}
    for text, body in ((MEND, "damage[p] = max(damage[p] - active[p].heals, 0)"), (FLURRY, "repeat(active[p].hits)")):
        verdict = judge.judge_body(holes[text], body, fills)
        assert verdict.ok, verdict.feedback


# (what the wrong fill does, text, body, what the feedback says)
DATA_WRONG = [
    ("writes the right number", MEND, "heal(p, 30)", "and the fill never reads `Card.heals`"),
    ("writes a wrong number", MEND, "heal(p, 20)", "and the fill never reads `Card.heals`"),
    ("reads the wrong column", MEND, "heal(p, active[p].power)", "and the fill never reads `Card.heals`"),
    ("reads the column and writes the number", MEND, "let h = active[p].heals\nheal(p, 30)",
     "and the fill does not use it: setting `Card.heals` of the text's rows to 31 changes nothing on the"),
    ("writes the hit count", FLURRY, "repeat(3)", "the text prints `3`, which is `Card.hits` of its row"),
    # (a hunt: only the variant 0 changed an outcome, through the gate, and that was enough)
    ("reads the column as a gate and writes the number", MEND, "if active[p].heals > 0 {\n    heal(p, 30)\n}",
     "and the fill does not use it: setting `Card.heals` of the text's rows to 31 changes nothing on the"),
    # (hunt Q: a changed column that only made the fill fault counted as used)
    ("reads the column as an index that faults beyond it", MEND,
     "let xs: list<int[0..0], 40> = [0]\nlet z = xs[max(min(active[p].heals - 30, 39), 0)]\nheal(p, 30)",
     "and the fill does not use it: setting `Card.heals` of the text's rows to 31 changes nothing on the"),
    # (hunt Q, bug 4: the number written as a floor or a ceiling of the column passed; the rule's
    # `ensures` must hold with `N` bound to the column's other values)
    ("bounds the column below by the number", FLURRY, "repeat(max(active[p].hits, 3))",
     "with `Card.hits` of the text's rows set to 2, the rule's `ensures` at"),
    ("bounds the column above by the number", FLURRY, "repeat(min(active[p].hits, 3))",
     "setting `Card.hits` of the text's rows to 4 changes nothing"),
]


@pytest.mark.parametrize("what,text,body,expected", DATA_WRONG, ids=[w[0] for w in DATA_WRONG])
def test_a_fill_that_does_not_read_the_printed_number_from_data_is_refused(printed, what, text, body, expected):
    judge, fills, holes = printed
    verdict = judge.judge_body(holes[text], body, fills)
    assert (verdict.ok, verdict.stage) == (False, "text"), verdict.feedback
    assert expected in verdict.feedback, verdict.feedback


# (what is wrong, the rule written instead of HEAL_RULE, code, message, the caret's text)
BAD_DATA = [
    ("a capture the pattern lacks", 'mentions "Heal <N> damage" where M = Card.heals', "E0165",
     "`where M = ...` names no number captured by the pattern", "M"),
    ("another table", 'mentions "Heal <N> damage" where N = Deck.heals', "E0165",
     "`Deck.heals` is not a column of the text's row", "Deck.heals"),
    ("an unknown column", 'mentions "Heal <N> damage" where N = Card.heal', "E0165",
     "table `Card` has no integer column `heal`", "Card.heal"),
    ("the text column", 'mentions "Heal <N> damage" where N = Card.effect', "E0165",
     "table `Card` has no integer column `effect`", "Card.effect"),
    ("a column that holds another number", 'mentions "Heal <N> damage" where N = Card.power', "E0166",
     "the text prints 30 as `N`, and `Card.power` of Mend (Card#0) is 10", "Card.power"),
]


@pytest.mark.parametrize("what,rule,code,message,caret", BAD_DATA, ids=[b[0] for b in BAD_DATA])
def test_a_bad_where_clause_is_reported_at_its_place(tmp_path, what, rule, code, message, caret):
    from envc.compiler.check import load
    from envc.compiler.diagnostics import DiagnosticError, render_all

    text = PRINTED.read_text(encoding="utf-8")
    assert HEAL_RULE in text
    spec = tmp_path / "printed.envspec"
    spec.write_text(text.replace(HEAL_RULE, rule), encoding="utf-8")
    shutil.copy(PRINTED.with_suffix(".fills"), tmp_path / "printed.fills")
    shutil.copytree(ROOT / "tests" / "specs" / "data", tmp_path / "data")
    with pytest.raises(DiagnosticError) as err:
        load(str(spec))
    d = err.value.diagnostics[0]
    out = render_all(err.value.diagnostics)
    assert (d.code, d.message) == (code, message), out
    line = text.splitlines().index("    " + HEAL_RULE) + 1
    assert d.span.line == line and rule[d.span.col - 5:].startswith(caret), out
    assert f"printed.envspec:{line}:{d.span.col}" in out


def test_the_prompt_says_which_numbers_come_from_data():
    result = envc("fill", str(PRINTED), "--model", "x", "--dry-run", "--only", "heal 30", "--force",
                  "--max-examples", "20")
    assert result.exit_code == 0, result.output
    assert "- it must read the text's `30` (`Card.heals`) from the data of the text's row" in result.stdout


SNATCH_HOLE = '''
hole snatch(p: int[0..1]) "Discard a random card from your opponent's hand."
    ensures len(hand[1 - p]) == max(old(len(hand[1 - p])) - 1, 0)
    ensures len(discard[1 - p]) == old(len(discard[1 - p])) + (if old(len(hand[1 - p])) > 0 then 1 else 0)

hole reshuffle(p: int[0..1]) "Shuffle your hand into your deck."
    ensures len(hand[p]) == 0
    ensures len(deck[p]) == old(len(deck[p]) + len(hand[p]))
'''
RESHUFFLE = "while len(hand[p]) > 0 max 10 {\n    deck[p].push(hand[p].pop())\n}\ndeck[p].shuffle()"
RESHUFFLE_TOO = "hand[p].shuffle()\nwhile len(hand[p]) > 0 max 10 {\n    deck[p].push(hand[p].draw())\n}\ndeck[p].shuffle()"
HAND_ON_TOP = "deck[p].shuffle()\nwhile len(hand[p]) > 0 max 10 {\n    deck[p].push(hand[p].pop())\n}"
SNATCH_BY_INT = """if len(hand[1 - p]) > 0 {
    let i = random.int(0, len(hand[1 - p]) - 1)
    discard[1 - p].push(hand[1 - p][i])
    hand[1 - p].remove_at(i)
}"""
SNATCH_BY_PICK = """let i = random.pick(i in 0..10 where i < len(hand[1 - p])) else -1
if i != -1 {
    discard[1 - p].push(hand[1 - p][i])
    hand[1 - p].remove_at(i)
}"""
SNATCH_NEVER_LAST = SNATCH_BY_INT.replace("random.int(0, len(hand[1 - p]) - 1)",
                                          "random.int(0, max(len(hand[1 - p]) - 2, 0))")
SNATCH_IDLE = SNATCH_BY_INT.replace("hand[1 - p][i]", "hand[1 - p][0]").replace("remove_at(i)", "remove_at(0)")


@pytest.fixture(scope="module")
def snatch(tmp_path_factory):
    """tests/specs/mini_tcg with one more hole, "Discard a random card from your opponent's
    hand.", whose `ensures` count the cards but cannot say which one is discarded."""
    folder = tmp_path_factory.mktemp("snatch")
    mini = ROOT / "tests" / "specs" / "mini_tcg.envspec"
    (folder / "mini_tcg.envspec").write_text(mini.read_text(encoding="utf-8") + SNATCH_HOLE, encoding="utf-8")
    fills = mini.with_suffix(".fills").read_text(encoding="utf-8")
    (folder / "mini_tcg.fills").write_text(fills, encoding="utf-8")
    return Judge(str(folder / "mini_tcg.envspec"), max_examples=EXAMPLES), fills


def test_random_draws_a_fill_never_uses_are_refused(snatch):
    """A fill that draws an index and discards the first card anyway passes every count; the
    draws must change what it does on some call (`textchecks.draw_problems`)."""
    judge, fills = snatch
    idle = judge.judge_body("snatch", SNATCH_IDLE, fills)
    assert (idle.ok, idle.stage) == (False, "text"), idle.feedback
    assert "draws random numbers, but what it does never depends on them" in idle.feedback
    assert judge.judge_body("snatch", SNATCH_BY_INT, fills).ok


def test_two_fills_of_a_random_text_are_compared_in_law(snatch):
    """Differential acceptance of two fills that draw differently (`random.int` against
    `random.pick`, which draws once even from an empty hand): alike in law, accepted, though
    the same random words give other cards. One that never discards the last card is refused
    against a right one, with how often an outcome comes from each."""
    judge, fills = snatch
    alike = judge.judge_body("snatch", SNATCH_BY_INT, fills, reference=SNATCH_BY_PICK)
    assert alike.ok, alike.feedback
    biased = judge.judge_body("snatch", SNATCH_NEVER_LAST, fills, reference=SNATCH_BY_INT)
    assert (biased.ok, biased.stage) == (False, "differential"), biased.feedback
    assert re.search(r"over 1000 runs from other random words, an outcome comes \d+ times from the first and "
                     r"\d+ from the second", biased.feedback), biased.feedback


def test_shuffles_are_compared_cell_by_cell(snatch):
    """A shuffled deck is a new outcome almost every run, so counting whole outcomes would tell
    nothing: where outcomes are many, each changed cell's values are counted instead. Two
    right fills of "Shuffle your hand into your deck." agree; one that shuffles the deck first
    and puts the hand under it does not (the cards at each place differ in law)."""
    judge, fills = snatch
    assert judge.judge_body("reshuffle", RESHUFFLE, fills, reference=RESHUFFLE_TOO).ok
    bad = judge.judge_body("reshuffle", HAND_ON_TOP, fills, reference=RESHUFFLE)
    assert (bad.ok, bad.stage) == (False, "differential"), bad.feedback
    assert re.search(r"over 1000 runs from other random words, `deck\[[01]\]\[\d+\]` is \d+ \d+ times after the "
                     r"first and \d+ after the second", bad.feedback), bad.feedback


def test_the_literal_that_names_another_player_is_not_a_printed_number(tmp_path):
    """`1 - p` and `(p + 1) % 2` name the opponent: their literals are neither counted nor changed,
    so "Steal 1 gold" filled with "steal 2" no longer passes as using the printed 1 (a hunt)."""
    from envc.compiler.check import load
    from envc.llm_fill.textchecks import literal_sites, mutated

    spec = tmp_path / "t.envspec"
    spec.write_text('env t "t"\nplayers 2\nstate { gold: int[0..9][2] = 5 }\n'
                    'fn take(p: int[0..1]) -> int[0..18] { return min(gold[1 - p], 1) + gold[(p + 1) % 2] }\n'
                    'action go() { }\nobserve(p) -> int[0..9] { return gold[p] }\n')
    fn = load(str(spec)).fn("take")
    assert literal_sites(fn, 1) == 3
    assert literal_sites(fn, 1, players=2) == 1  # the amount of `min(..., 1)` only
    changed = mutated(fn, 1, 2, players=2)
    assert literal_sites(changed, 1) == 2 and literal_sites(changed, 1, players=2) == 0  # the two kept
    assert literal_sites(changed, 2) == 2  # the new amount and the `% 2`


def test_loops_over_the_players_and_other_names_of_a_player_are_not_printed_numbers(tmp_path):
    """Hunt Q, bug 9: a loop `for q in 0..2` over both players (its variable indexes an array of
    the players' size, or a state field of that size is assigned through it), `abs(p - 1)` and
    `if p == 0 then 1 else 0` name players; varying them changed who is affected, so "lose 1"
    passed for a printed 2. A loop of 2 that does not index players ("draw 2 cards") counts."""
    from envc.compiler.check import load
    from envc.llm_fill.textchecks import literal_sites, mutated

    spec = tmp_path / "t.envspec"
    spec.write_text('env t "t"\nplayers 2\nstate { gold: int[0..9][2] = 5\n n: int[0..9] = 0 }\n'
                    'proc both(p: int[0..1]) { for q in 0..2 { gold[q] = max(gold[q] - 1, 0) } }\n'
                    'fn read(p: int[0..1]) -> int[0..36] { return sum(gold[q] for q in 0..2) + gold[abs(p - 1)] '
                    '+ gold[if p == 0 then 1 else 0] }\n'
                    'proc twice(p: int[0..1]) { for k in 0..2 { n = min(n + 1, 9) } }\n'
                    'action go() { both(current_player)\n twice(0)\n n = min(read(0), 9) }\n'
                    'observe(p) -> int[0..9] { return gold[p] }\n')
    m = load(str(spec))
    both, read, twice = m.fn("both"), m.fn("read"), m.fn("twice")
    assert literal_sites(both, 2) == 1 and literal_sites(both, 2, players=2, module=m) == 0
    assert literal_sites(read, 1, players=2) == 0 and literal_sites(read, 2, players=2) == 0
    assert literal_sites(twice, 2, players=2, module=m) == 1  # (k indexes no player: "2 cards")
    changed = mutated(both, 1, 3, players=2, module=m)  # the amount changes, the loop over the players stays
    assert literal_sites(changed, 3) == 1 and literal_sites(changed, 2) == 1


ROLL_HOLE = '''
hole rumble(p: int[0..1]) "Roll a die. This attack does 10 damage times the number rolled."
    ensures pending == min(old(pending) + 10 * drawn(0, 1, 6), 200)
'''
ROLL_BY_INT = "pending = min(pending + 10 * random.int(1, 6), 200)"
ROLL_BY_PICK = "let r = random.pick(v in 1..7 where true) else 1\npending = min(pending + 10 * r, 200)"
ROLL_WRONG = {
    "zero to five": "pending = min(pending + 10 * random.int(0, 5), 200)",
    "one to five": "pending = min(pending + 10 * random.int(1, 5), 200)",
    "a coin for a die": "pending = min(pending + 10 * (if random.coin() then 6 else 1), 200)",
    "mostly six": "let r = random.int(1, 6)\npending = min(pending + 10 * (if r == 1 then 1 else 6), 200)",
}


@pytest.fixture(scope="module")
def rumble(tmp_path_factory):
    """tests/specs/mini_tcg with a die text whose `ensures` reads the roll: `drawn(0, 1, 6)`."""
    folder = tmp_path_factory.mktemp("rumble")
    mini = ROOT / "tests" / "specs" / "mini_tcg.envspec"
    (folder / "mini_tcg.envspec").write_text(mini.read_text(encoding="utf-8") + ROLL_HOLE, encoding="utf-8")
    fills = mini.with_suffix(".fills").read_text(encoding="utf-8")
    return Judge(str(folder / "mini_tcg.envspec"), max_examples=EXAMPLES), fills


@pytest.mark.parametrize("body", [ROLL_BY_INT, ROLL_BY_PICK], ids=["random.int", "random.pick"])
def test_a_die_roll_is_read_by_drawn_and_both_ways_of_rolling_pass(rumble, body):
    judge, fills = rumble
    verdict = judge.judge_body("rumble", body, fills)
    assert verdict.ok, verdict.feedback


@pytest.mark.parametrize("what", ROLL_WRONG)
def test_a_wrong_die_is_refused_by_its_contract(rumble, what):
    """Every one of these passed a contract that could only bound the damage (hunt H): the
    roll's value is now in the contract (`drawn(k, lo, hi)`)."""
    judge, fills = rumble
    verdict = judge.judge_body("rumble", ROLL_WRONG[what], fills)
    assert (verdict.ok, verdict.stage) == (False, "property"), verdict.feedback
    assert "drawn(" in verdict.feedback, verdict.feedback
    # the roll of the failing call is shown, with the dice note and not the coins' (hunt Q, M3)
    assert re.search(r"on this call `drawn\(0, 1, 6\)` = [1-6]", verdict.feedback), verdict.feedback
    assert "roll the die with one `random.int(lo, hi)`" in verdict.feedback
    assert "`heads`/`flip` read" not in verdict.feedback


@pytest.mark.parametrize("call, message", [
    ("drawn(0, 1)", "`drawn` takes 3 arguments"),
    ("drawn(0, 6, 1)", "`drawn(k, lo, hi)` has an empty range"),
    ("drawn(true, 1, 6)", "`drawn` counts draws from 0"),
])
def test_drawn_is_checked_where_it_is_written(tmp_path, call, message):
    from envc.compiler.check import load
    from envc.compiler.diagnostics import DiagnosticError

    spec = tmp_path / "d.envspec"
    spec.write_text('env d "d"\nplayers 1\nstate { n: int[0..9] = 0 }\n'
                    f'hole h() "Roll a die."\n    ensures n == {call}\n'
                    'action go() { h() }\nobserve(p) -> int[0..9] { return n }\n', encoding="utf-8")
    with pytest.raises(DiagnosticError) as err:
        load(str(spec))
    assert err.value.diagnostics[0].message == message
    assert err.value.diagnostics[0].span.line == 5


CHOICE_SPEC = ROOT / "tests" / "specs" / "choice_texts.envspec"
IGNORES_THE_CARD = """let i = choose(p, i in 0..8 where i < len(hand[p])) else -1
if i >= 0 and len(hand[p]) > 0 {
    let c = hand[p][0]
    hand[p].remove_at(0)
    piles[p][0] = min(piles[p][0] + c.power, 20)
}"""
IGNORES_THE_PILE = "let k = choose(1 - p, k in 0..3 where piles[p][k] >= 1) else 0\npiles[p][0] = max(piles[p][0] - 1, 0)"


@pytest.fixture(scope="module")
def choices():
    judge = Judge(str(CHOICE_SPEC), max_examples=EXAMPLES)
    fills = CHOICE_SPEC.with_suffix(".fills").read_text(encoding="utf-8")
    return judge, fills, {h.prose: h.name for h in judge.load(fills).module.holes}


@pytest.mark.parametrize("text, body", [("Discard a card of your choice.", IGNORES_THE_CARD),
                                        ("Your opponent picks one of your piles; it loses 1.", IGNORES_THE_PILE)],
                         ids=["the card", "the pile"])
def test_a_fill_that_ignores_the_players_choice_is_refused(choices, text, body):
    """The judge's calls take the lowest legal option, so a fill that chose and then used card 0
    or pile 0 anyway passed (hunt M): other options must change what it does on some call."""
    judge, fills, holes = choices
    verdict = judge.judge_body(holes[text], body, fills)
    assert (verdict.ok, verdict.stage) == (False, "text"), verdict.feedback
    assert "the fill asks a player to choose, but what it does never depends on the choice" in verdict.feedback


WRONG_CHOOSER = """let i = choose(1 - p, i in 0..8 where i < len(hand[p])) else -1
if i >= 0 and i < len(hand[p]) {
    let c = hand[p][i]
    hand[p].remove_at(i)
    piles[p][0] = min(piles[p][0] + c.power, 20)
}"""
NEVER_ASKS = "if len(hand[p]) > 0 {\n    let c = hand[p].pop()\n    piles[p][0] = min(piles[p][0] + c.power, 20)\n}"
FIRST_TWO = WRONG_CHOOSER.replace("choose(1 - p, i in 0..8 where i < len(hand[p]))",
                                  "choose(p, i in 0..8 where i < len(hand[p]) and i < 2)")


@pytest.mark.parametrize("text, body, message", [
    ("Discard a card of your choice.", WRONG_CHOOSER, "the call asks player 1 to choose among 3 options; the text "
     "lets player 0 choose (`chooses p among len(hand[p])`"),
    ("Discard a card of your choice.", NEVER_ASKS, "the text lets player 0 choose among 3 options (`chooses p among "
     "len(hand[p])`"),
    ("Discard a card of your choice.", FIRST_TWO, "the call offered 2: ask with `choose(p, ...)` offering every one"),
    ("Your opponent picks one of your piles; it loses 1.", "bump(p, p, -1)", "the call asks player 0 to choose among 3 "
     "options; the text lets player 1 choose"),
], ids=["wrong chooser", "never asks", "some cards only", "the player picks the opponent's pile"])
def test_who_decides_among_how_many_options(choices, text, body, message):
    """`chooses WHO among COUNT` (hunt Q): a decision asked of the wrong player, a fill that never
    asks, or one that offers only some of the cards was accepted (the judge's calls took the
    lowest option and the contract could not say who decides)."""
    judge, fills, holes = choices
    verdict = judge.judge_body(holes[text], body, fills)
    assert (verdict.ok, verdict.stage) == (False, "property"), verdict.feedback
    assert message in verdict.feedback


def test_a_chooses_clause_must_be_an_integer(tmp_path):
    from envc.compiler.check import load
    from envc.compiler.diagnostics import DiagnosticError

    spec = tmp_path / "c.envspec"
    spec.write_text('env c "c"\nplayers 2\nstate { n: int[0..9] = 0 }\nhole h(p: int[0..1]) "Pick a number."\n'
                    'texts of h {\n    mentions "pick" chooses p == 0\n}\n'
                    'action go() { h(current_player) }\nobserve(p) -> int[0..9][2] { return [n, pending_choice()] }\n',
                    encoding="utf-8")
    with pytest.raises(DiagnosticError) as err:
        load(str(spec))
    d = err.value.diagnostics[0]
    assert (d.code, d.message, d.span.line, d.span.col) == ("E0110", "the player who chooses (`chooses`) must be an "
                                                            "integer", 6, 29)


def test_fills_that_use_the_players_choice_pass(choices):
    judge, fills, _ = choices
    verdicts = judge.judge_written(fills)
    assert verdicts and all(v.ok for v in verdicts.values()), {h: v.feedback for h, v in verdicts.items() if not v.ok}


def _counter_judge(tmp_path, name: str, state: str, hole: str, body: str = "", observe: str = "n") -> Judge:
    """A judge of a two-player spec written here: `state` (its fields, one per line), the hole
    `bump(p)` declared by `hole` (its prose and clauses), an action calling it then passing the
    turn after `body`, `observe` of int[0..50]."""
    spec = tmp_path / f"{name}.envspec"
    spec.write_text(f'env {name} "{name}"\nplayers 2\nturn_limit 20\nstate {{\n{state}}}\n'
                    f"hole bump(p: int[0..1]) {hole}\n"
                    f"action a() {{\n    bump(current_player)\n{body}    current_player = 1 - current_player\n}}\n"
                    f"observe(p) -> {'int[0..50][2]' if ',' in observe else 'int[0..50]'} {{ return {observe} }}\n",
                    encoding="utf-8")
    return Judge(str(spec), max_examples=EXAMPLES)


@pytest.mark.parametrize("pick", ["choose(p, k in 0..3) else 0", "random.pick(k in 0..3 where k != 9) else 0"])
def test_the_bounds_of_a_decision_or_a_pick_write_the_printed_number(tmp_path, pick):
    """"A number below 3": `choose(p, k in 0..3)` and `random.pick(k in 0..3 ...)` write the 3 (they
    were refused with "the fill never writes it": hunt M), and a fill offering 0..4 is refused.
    A choice bound shows only where another option than the lowest is taken: both fills are
    run again taking the highest."""
    judge = _counter_judge(tmp_path, "bounds", "    n: int[0..50] = 0\n", '"Add a number below 3 to the counter."',
                           observe="[n, pending_choice()]")
    right = judge.judge_body("bump", f"let k = {pick}\nn = min(n + k, 50)", "")
    assert right.ok, right.feedback
    wrong = judge.judge_body("bump", f"let k = {pick.replace('0..3', '0..4')}\nn = min(n + k, 50)", "")
    assert (wrong.ok, wrong.stage) == (False, "text"), wrong.feedback
    assert "the text prints `3`, and the fill never writes it" in wrong.feedback


def test_a_varied_state_that_breaks_a_fact_of_the_hole_is_not_blamed_on_the_fill(tmp_path):
    """Hunt T, D2: a hole's `ensures` that reads the state alone (`ensures ready`) is a fact every
    call keeps; the judge's varied states redrew `ready` false, where a right fill that leaves it
    alone "broke" it (every right fill of the hunt's game was refused from 800 examples on). Such a
    state is no state of the game: the contract is not checked there. A fill that breaks the fact
    on a state of the game is still refused."""
    judge = _counter_judge(tmp_path, "fact", "    n: int[0..50] = 0\n    ready: bool = true\n",
                           '"Add 2 to the counter."\n    ensures ready')
    right = judge.judge_body("bump", "n = min(n + 2, 50)", "")
    assert right.ok, right.feedback
    wrong = judge.judge_body("bump", "n = min(n + 2, 50)\nready = false", "")
    assert (wrong.ok, wrong.stage) == (False, "property"), wrong.feedback
    assert "`ensures ready` does not hold" in wrong.feedback


def test_every_field_is_varied_also_the_one_declared_last(tmp_path):
    """Hunt T, D3: the varied states redrew the fields hypothesis picked by `sampled_from`, which
    followed the examples it mutated: in 40 varied states the field declared last (`turn`) was
    never redrawn, and a fill wrong only past the turns random play reaches passed. The
    fields to redraw are now picked uniformly; so are the swept states' (every field in turn)."""
    from envc.llm_fill import props

    fields = "".join(f"    {x}: int[0..9] = 0\n" for x in "abcdefghij") + "    n: int[0..50] = 0\n    turn: int[0..100] = 0\n"
    judge = _counter_judge(tmp_path, "late", fields, '"Add 2 to the counter."\n    ensures n == min(old(n) + 2, 50)',
                           body="    turn = min(turn + 1, 100)\n")
    digest = judge.load("").hole("bump").signature_hash
    module = judge.load(f'fill bump hash "{digest}" {{\n    n = min(n + 2, 50)\n}}\n').module
    swept = props.sweep_examples(module, "bump", props.StartStates(module), props.SWEPT_EXAMPLES)
    redrawn = {f.name for f in module.state if any(f"`{f.name}` redrawn" in ex.origin for ex in swept)}
    assert redrawn == {f.name for f in module.state if not f.builtin}  # (a, c, e, g, i and n never were)
    assert judge.judge_body("bump", "n = min(n + 2, 50)", "").ok
    wrong = judge.judge_body("bump", "if turn < 40 {\n    n = min(n + 2, 50)\n}", "")
    assert (wrong.ok, wrong.stage) == (False, "property"), wrong.feedback
    assert "`ensures n == min(old(n) + 2, 50)` does not hold" in wrong.feedback


def _dice_hole(prose: str, count: str) -> str:
    return f'"{prose}"\ntexts of bump {{\n    text "{prose}"\n        draws 1 among {count}\n}}'


def test_a_draw_rule_among_a_constant_is_no_case_to_cover(tmp_path):
    """Hunt V, F7: `draws 1 among 4` gave the coverage guard `4 >= 2`, which no state can make
    false, and every right fill was warned that its case "was never tested". A count read from the
    state keeps its guard."""
    from envc.llm_fill import coverage

    judge = _counter_judge(tmp_path, "dice", "    n: int[0..50] = 0\n",
                           _dice_hole("Add a random number from 1 to 4 to the counter.", "4"))
    module = judge.load("").module
    assert coverage.guards(module, next(h for h in module.holes if h.name == "bump")) == []
    right = judge.judge_body("bump", "n = min(n + random.int(1, 4), 50)", "")
    assert right.ok and not right.untested, (right.feedback, right.untested)
    judge = _counter_judge(tmp_path, "dice_n", "    n: int[0..50] = 0\n",
                           _dice_hole("Add a random number from 1 to the value of the counter.", "n"))
    module = judge.load("").module
    assert [g.expr.op for g in coverage.guards(module, next(h for h in module.holes if h.name == "bump"))] == ["ge"]


def test_a_fill_condition_no_reached_state_flips_is_searched(tmp_path):
    """Hunt V, F3: the contract's conditions were covered, never the fill's own; `if step_count
    < 30 { ... }` in a fill of "Deals 40 damage." passed, late states being rare, and built-in
    fields were never redrawn. The judge now searches states where a condition of the fill
    takes its rarer value (fewer than `coverage.RARE_CASES` calls gave it), redrawing the fields
    it reads, `step_count` included. Here every game ends by step 10 of a limit of 200 (and the
    invariant keeps hypothesis from drawing whole states from the types)."""
    spec = tmp_path / "short.envspec"
    spec.write_text('''env short "short games"
players 2
turn_limit 200
state {
    n: int[0..50] = 0
}
hole bump(p: int[0..1]) "Add 2 to the counter."
    ensures n == min(old(n) + 2, 50)
action a() {
    bump(current_player)
    if n >= 20 {
        terminate()
    }
    current_player = 1 - current_player
}
invariant even "the counter is even": n % 2 == 0
observe(p) -> int[0..50] { return n }
''', encoding="utf-8")
    judge = Judge(str(spec), max_examples=EXAMPLES)
    assert judge.judge_body("bump", "n = min(n + 2, 50)", "").ok
    wrong = judge.judge_body("bump", "if step_count < 150 {\n    n = min(n + 2, 50)\n}", "")
    assert (wrong.ok, wrong.stage) == (False, "property"), wrong.feedback
    assert "`step_count` redrawn" in wrong.feedback and "step_count = " in wrong.feedback, wrong.feedback
    # an operand of `and`: the whole condition flips with `n % 4`, `step_count < 150` never does
    # where it is evaluated (hunt V: "Deals 30 damage, or 60 if burned" with `and step_count < 30`)
    both = "n = min(n + (if n % 4 == 0 and step_count < 150 then 2 else if n % 4 == 0 then 0 else 2), 50)"
    wrong = judge.judge_body("bump", both, "")
    assert (wrong.ok, wrong.stage) == (False, "property"), wrong.feedback


def test_the_watch_sees_a_pick_find_no_legal_value(tmp_path):
    """`random.pick(...) else X` and `choose(...) else X` are branches too: whether they found no
    legal value (`coverage.BranchWatch`); on states where every slot is full the pick always
    found one, so its `else` is a rare case to search, and a state with none flips it."""
    from envc.llm_fill import coverage, props

    judge = _counter_judge(tmp_path, "pick", "    n: int[0..50] = 0\n    slots: int[0..9][3] = 1\n",
                           '"Add the value of a random nonzero slot to the counter."')
    body = "let i = random.pick(i in 0..3 where slots[i] > 0) else -1\nif i >= 0 {\n    n = min(n + slots[i], 50)\n}"
    digest = judge.load("").hole("bump").signature_hash
    module = judge.load(f'fill bump hash "{digest}" {{\n{body}\n}}\n').module
    hole = next(h for h in module.holes if h.name == "bump")
    swept = props.sweep_examples(module, "bump", props.StartStates(module), 20, redraw=[])
    watch = coverage.BranchWatch(module, hole)
    rare = {b.source: common for b, common in watch.rare(swept)}
    assert rare.get("`i in 0..3 where slots[i] > 0` found none") is False, rare
    pick = next(b for b in watch.branches if b.source.endswith("found none"))
    empty = swept[0].before.copy()
    empty.fields["slots"] = [0, 0, 0]
    assert watch.flip_test(pick, False)(props.Example(empty, swept[0].args, empty, None, ""))
    assert not watch.flip_test(pick, False)(swept[0])


def test_steering_changes_one_cell_of_a_small_array_at_a_time():
    """`_Sweep.toward_flip` tries an array argument or extra cell by cell (the TCG's `hurt`
    sets every slot's damage): each change differs from the value in one cell, the value given
    is left as it was, and an array of more than `GUIDED_CELLS` cells is not tried."""
    import random

    from envc.compiler import ir
    from envc.llm_fill import props

    t = ir.ArrayT(elem=ir.ArrayT(elem=ir.IntT(lo=0, hi=2), size=2), size=2)
    value = [[0, 1], [2, 0]]
    changed = list(props._changed(t, value, random.Random(0)))
    assert value == [[0, 1], [2, 0]] and len(changed) == 4 * 3
    assert all(sum(a != b for r, s in zip(v, value) for a, b in zip(r, s)) <= 1 for v in changed)
    assert {(k, m, v[k][m]) for v in changed for k in range(2) for m in range(2)} >= {(1, 1, 2), (0, 0, 1)}
    assert list(props._changed(ir.ArrayT(elem=ir.BOOL, size=props.GUIDED_CELLS + 1), [False] * 17, random.Random(0))) == []
    assert sorted(props._changed(ir.BOOL, False, random.Random(0))) == [False, True]


def test_draws_at_most_lets_a_call_draw_nothing(tmp_path):
    """Hunt V, F8: "30% chance to ..." where the chance cannot matter (the counter is full) was
    refused for a right fill that does not draw there (`draws 1` is exact, `draws any` loses the
    count and the law). `draws at most 1 among 10`: a call draws nothing, or once over 10 values."""
    prose = "30% chance to add 1 to the counter."
    clause = f'"{prose}"\ntexts of bump {{\n    text "{prose}"\n        ensures n == (if drawn(0, 0, 9) < 3 then min(old(n) + 1, 50) else old(n))\n        draws {{}} among 10\n}}'
    judge = _counter_judge(tmp_path, "chance", "    n: int[0..50] = 0\n", clause.replace("{}", "at most 1"))
    skips = "if n < 50 {\n    if random.int(0, 9) < 3 {\n        n = n + 1\n    }\n}"
    right = judge.judge_body("bump", skips, "")
    assert right.ok, right.feedback
    assert judge.judge_body("bump", "if random.int(0, 9) < 3 {\n    n = min(n + 1, 50)\n}", "").ok
    wrong = judge.judge_body("bump", skips.replace("random.int(0, 9)", "random.int(0, 8)"), "")
    assert not wrong.ok and "among 10 values" in wrong.feedback, wrong.feedback
    twice = judge.judge_body("bump", "if random.int(0, 9) < 3 and random.int(0, 9) < 9 {\n    n = min(n + 1, 50)\n}", "")
    assert not twice.ok and "draws at most 1" in twice.feedback, twice.feedback
    exact = _counter_judge(tmp_path, "chance1", "    n: int[0..50] = 0\n", clause.replace("{}", "1"))
    assert not exact.judge_body("bump", skips, "").ok  # (`draws 1`: exactly one on every call)


WARD = """env ward "a ward that lasts"
players 2
turn_limit 20
boundary turn_end(p: int[0..1])
state {
    n: int[0..50][2] = 0
    ward: int[0..50][2] = 0 @lasting
    pile: list<int[0..9], 12> = []
}
init {
    for k in 0..10 {
        pile.push(k % 3)
    }
}
hole guard(p: int[0..1]) "Take 20 less damage during your opponent's next turn."
texts of guard {
    modifies ward
    mentions "during your opponent's next turn" ensures lasts_until(turn_end(1 - p))
    text "Take <N> less damage during your opponent's next turn."
        ensures ward[p] == N
        modifies ward[p]
}
action a() {
    guard(current_player)
    n[current_player] = min(n[current_player] + 1, 50)
    turn_end(current_player)
    current_player = 1 - current_player
}
observe(p) -> int[0..50][4] { return [n[p], n[1 - p], ward[p], ward[1 - p]] }
"""


def test_feedback_names_no_envc_cell_and_shows_what_changed(tmp_path):
    """Hunt T, D6: a `lasts_until` failure showed what the clause unfolds to (`_envc_until_ward`,
    `[0; 2][_envc_i10]`), the frame listed `_envc_until_ward[0]` among the places the fill may
    change, a list changed past its 8th item showed the same 8 items on both sides, and numbers
    came as `np.float32(0.0)`. Hunt V, F6: a frame failure listed the expiry cell the fill's
    `until` changed beside the lasting cell, and bools came as `False -> True`."""
    from envc.llm_fill import props
    from envc.llm_fill.textchecks import _change

    spec = tmp_path / "ward.envspec"
    spec.write_text(WARD, encoding="utf-8")
    judge = Judge(str(spec), max_examples=EXAMPLES)
    assert judge.judge_body("guard", "ward[p] = 20 until turn_end(1 - p)", "").ok
    for body in ("ward[p] = 20", "ward[p] = 20 until turn_end(p)", "ward[1 - p] = 20 until turn_end(1 - p)",
                 "pile.push(1)\nward[p] = 20 until turn_end(1 - p)"):
        verdict = judge.judge_body("guard", body, "")
        assert not verdict.ok and "_envc" not in verdict.feedback.replace(str(tmp_path), ""), verdict.feedback
    assert "`pile` ([... 2, 0] (from item 8, of 10) -> [... 2, 0, 1] (from item 8, of 11))" \
        in verdict.feedback, verdict.feedback
    assert _change(np.float32(0.0), np.float32(1.5)) == "0.0 -> 1.5"
    assert _change(False, True) == "false -> true"  # (hunt V, F6: the DSL's words, not Python's)
    assert props.field_label("_envc_until_ward") == "the expiry of `ward`"  # (in "then ... redrawn")


FAULTS_ON_THE_LAST = """let i = choose(p, i in 0..8 where i < len(hand[p])) else -1
if i >= 0 {
    let c = hand[p][if i > 0 and i == len(hand[p]) - 1 then min(i + 1, 7) else i]
    hand[p].remove_at(i)
    piles[p][0] = min(piles[p][0] + c.power, 20)
}"""


def test_a_fill_that_faults_on_another_option_is_refused(choices):
    """The property tests took the lowest legal option of every decision, so a fill that faults
    (or breaks its contract) when a player takes another one passed (hunt Q): the fill of a
    text that decides is tested again taking the highest option."""
    judge, fills, holes = choices
    verdict = judge.judge_body(holes["Discard a card of your choice."], FAULTS_ON_THE_LAST, fills)
    assert (verdict.ok, verdict.stage) == (False, "property"), verdict.feedback
    assert "past the end of a list" in verdict.feedback and "took the highest legal option" in verdict.feedback


def test_a_counterexample_shows_no_envc_field():
    """The `_envc_until_...` fields of `@lasting` fields are envc's: no name the model wrote or
    may write. Counterexamples listed them before and after the call (hunt Q)."""
    from types import SimpleNamespace

    from envc.compiler.check import load
    from envc.compiler.interp import Interpreter
    from envc.llm_fill.props import Counterexample, Outcome

    m = load(str(ROOT / "tests" / "specs" / "lasting.envspec"))
    hidden = [f.name for f in m.state if f.name.startswith("_envc_")]
    assert hidden, "the spec has lasting fields"
    it = Interpreter(m)
    before = it.init(0)
    after = before.copy()
    after.fields[hidden[0]] = 1
    text = Counterexample(before, [], Outcome(["a problem"], after)).render(m, SimpleNamespace(name="h", params=[],
                                                                                               ret=None))
    assert "_envc_" not in text and "a problem" in text and "current_player = " in text


def test_the_prompt_says_when_the_spec_cannot_take_a_decision():
    """In a spec whose `observe` lacks `pending_choice()`, a fill's `choose` is E0171 in the
    spec, which no answer can fix: the task says so, where the reference card teaches `choose`
    (hunt M); a spec that shows its pending decision gets no such line."""
    no = envc("fill", str(SPEC), "--model", "x", "--dry-run", "--only", "flip a coin", "--force")
    yes = envc("fill", str(CHOICE_SPEC), "--model", "x", "--dry-run", "--only", "Discard a card", "--force")
    assert no.exit_code == 0 and yes.exit_code == 0, no.output + yes.output
    line = "This spec's `observe` does not show a pending decision (`pending_choice()`)"
    assert line in no.stdout.split("user message =====", 1)[1]
    assert line not in yes.stdout


def test_a_rule_that_matches_twice_is_listed_once(tmp_path):
    """"Your opponent loses 2 gems and you gain 2 gems": the `mentions "gem[s]"` rule matched
    twice, and its frame and name were listed twice in every message (hunt Q, M2)."""
    from envc.compiler.check import load

    spec = tmp_path / "g.envspec"
    spec.write_text('env g "g"\nplayers 2\nstate { gems: int[0..9][2] = 0 }\n'
                    'hole h(p: int[0..1]) "Your opponent loses 2 gems and you gain 2 gems."\n'
                    'texts of h {\n    mentions "gem[s]" modifies gems\n}\n'
                    'action go() { h(current_player) }\nobserve(p) -> int[0..9] { return gems[p] }\n',
                    encoding="utf-8")
    spec.with_suffix(".fills").write_text('fill h hash "e91892d937ab91f6" {\n    gems[p] = min(gems[p] + 2, 9)\n}\n',
                                          encoding="utf-8")
    c = load(str(spec)).holes[0].contract
    assert c is not None and [f.source for f in c.frame or []] == ["gems"]
    assert len(c.rules) == 1 and c.rules[0].endswith('mentions "gem[s]"')


def test_the_swept_states_are_checked_against_the_contract():
    """Hunt Q, bug 7: the 80 swept states (`props.sweep_examples`) only varied printed numbers;
    a fill wrong on states hypothesis did not draw passed. With one hypothesis example (the
    simplest state, where this fill is right), the swept states refuse it."""
    judge = Judge(str(PRINTED), max_examples=1)
    fills = PRINTED.with_suffix(".fills").read_text(encoding="utf-8")
    holes = {h.prose: h.name for h in judge.load(fills).module.holes}
    verdict = judge.judge_body(holes[FLURRY], "if damage[p] == 0 {\n    repeat(active[p].hits)\n}", fills)
    assert (verdict.ok, verdict.stage) == (False, "property"), verdict.feedback
    assert verdict.feedback.startswith("falsifying example:\n"), verdict.feedback  # (not one hypothesis shrank)
    assert "ensures dmg == min(old(dmg) * 3, 200)" in verdict.feedback


REVERSED = """let i = choose(p, i in 0..8 where i < len(hand[p])) else -1
if i >= 0 and i < len(hand[p]) {
    let j = clamp(len(hand[p]) - 1 - i, 0, 7)
    let c = hand[p][j]
    hand[p].remove_at(j)
    piles[p][0] = min(piles[p][0] + c.power, 20)
}"""


def test_fills_that_number_a_decision_differently_agree_in_differential(choices):
    """Hunt Q, bug 8: two right fills numbering the options differently (here the hand read from
    its end) were refused by differential acceptance, the judge's calls taking the lowest option,
    another card in each numbering; they are compared over every option instead. A fill that
    reaches another outcome (the power to the wrong pile) is still refused, and told so."""
    judge, fills, holes = choices
    hole = holes["Discard a card of your choice."]
    assert judge.judge_body(hole, REVERSED, fills, reference="discard_choice(p)").ok
    wrong = REVERSED.replace("piles[p][0] = min(piles[p][0]", "piles[p][1] = min(piles[p][1]")
    verdict = judge.judge_body(hole, wrong, fills, reference="discard_choice(p)")
    assert (verdict.ok, verdict.stage) == (False, "differential"), verdict.feedback
    assert "over every option of the decisions" in verdict.feedback


def test_a_context_for_a_family_with_no_text_yet_is_accepted(tmp_path):
    """Hunt U: a `texts of F { context(c) { ... } }` for a family whose text column holds no
    text (no hole yet) was an internal error (StopIteration)."""
    from envc.compiler.check import load

    (tmp_path / "cards.json").write_text('[{"name": "A"}]', encoding="utf-8")
    spec = tmp_path / "n.envspec"
    spec.write_text('env n "n"\nplayers 1\ntable Card from "cards.json" { effect: text from "effect" }\n'
                    'state { x: int[0..3] = 0 }\nhole card_effect(p: int[0..0]) per Card.effect\n'
                    'texts of card_effect {\n    context(c) { x = 1 }\n}\n'
                    'action go() { x = 0 }\nobserve(p) -> int[0..3] { return x }\n', encoding="utf-8")
    m = load(str(spec))
    assert m.holes == [] and m.contexts == []


COVERAGE = ROOT / "tests" / "specs" / "coverage.envspec"


def test_a_case_of_the_contract_that_play_never_reaches_is_searched_for():
    """Hunt R, F1: a contract's `if` whose condition no judged state made true said nothing, and a
    fill ignoring the case passed (Erika with no Grass target, Dig's protection never up). Here
    play never sets `shield`: on reached states the condition is always false; redrawing the
    fields it reads (`shield`) finds states where it is true, and the fill is checked there. A
    condition no redraw can make true (`hp` > 99 of an `int[0..50]`) is reported as untested."""
    from envc.llm_fill import coverage, props

    judge = Judge(str(COVERAGE), max_examples=EXAMPLES)
    fills = COVERAGE.with_suffix(".fills").read_text(encoding="utf-8")
    m = judge.load(fills).module
    hole = next(h for h in m.holes if h.name == "strike")
    starts = judge.starts(fills)
    plain = props.sweep_examples(m, "strike", starts, redraw=[])
    found = {g.fields[0] if g.fields else "": seen for g, seen in coverage.untested(m, hole, plain)}
    assert found == {"shield": False, "hp": False}
    shield = next(g for g, _ in coverage.untested(m, hole, plain) if g.fields == ["shield"])
    assert coverage.flipping(m, hole, shield, False, props.sweep_examples(m, "strike", starts, redraw=["shield"]))
    right = judge.judge_body("strike", "if not shield[1 - p] {\n    hp[1 - p] = max(hp[1 - p] - 5, 0)\n}", fills)
    assert right.ok and right.untested and "old(hp[1 - p]) > 99" in right.untested[0], right.untested
    wrong = judge.judge_body("strike", "hp[1 - p] = max(hp[1 - p] - 5, 0)", fills)
    assert (wrong.ok, wrong.stage) == (False, "property") and "redrawn" in wrong.feedback, wrong.feedback


def test_envc_fill_warns_about_a_case_no_state_reached(tmp_path, fake_model):
    """`envc fill` accepts a fill whose contract has a case no judged state reached, and says so
    (`Verdict.untested`, llm_fill/coverage.py): the spec's context cannot reach it."""
    for name in ("coverage.envspec", "coverage.fills"):
        shutil.copy(COVERAGE.parent / name, tmp_path / name)
    fake_model.script = ["```envspec\nif not shield[1 - p] {\n    hp[1 - p] = max(hp[1 - p] - 5, 0)\n}\n```"]
    result = envc("fill", str(tmp_path / "coverage.envspec"), "--model", MODEL, "--api-base", fake_model.url,
                  "--force", "--max-examples", "20")
    assert result.exit_code == 0, result.output
    assert "warning: `strike`: a condition of `ensures if old(hp[1 - p]) > 99" in result.stderr, result.stderr
    assert "the text's case where it is not was never tested" in result.stderr


def test_the_feedback_names_the_part_of_a_clause_that_fails(tmp_path):
    """A false clause made of `and`s and `if ... then ... else` is shown whole, and then the
    smallest part that is false with the conditions that chose its case (hunt R: a failing
    six-part condition was shown whole, and the model had to find the part)."""
    spec = (COVERAGE.read_text(encoding="utf-8")
            .replace("ensures hp[1 - p] == (if old(shield[1 - p]) then old(hp[1 - p]) else max(old(hp[1 - p]) - 5, 0))",
                     "ensures if old(shield[1 - p]) then hp[1 - p] == old(hp[1 - p])\n"
                     "            else hp[p] == old(hp[p]) and hp[1 - p] == max(old(hp[1 - p]) - 5, 0)"))
    assert "else hp[p] == old(hp[p]) and" in spec
    (tmp_path / "coverage.envspec").write_text(spec, encoding="utf-8")
    fills = COVERAGE.with_suffix(".fills").read_text(encoding="utf-8")
    judge = Judge(str(tmp_path / "coverage.envspec"), max_examples=EXAMPLES)
    wrong = judge.judge_body("strike", "if not shield[1 - p] {\n    hp[1 - p] = max(hp[1 - p] - 4, 0)\n}", fills)
    assert (wrong.ok, wrong.stage) == (False, "property"), wrong.feedback
    assert ("; the part that fails: `hp[1 - p] == max(old(hp[1 - p]) - 5, 0)` (`old(shield[1 - p])` is false)"
            in wrong.feedback), wrong.feedback
    right = judge.judge_body("strike", "if not shield[1 - p] {\n    hp[1 - p] = max(hp[1 - p] - 5, 0)\n}", fills)
    assert right.ok, right.feedback


LOTTERY = '''env lottery "a random discard"
players 2
state {
    hand: list<int[0..9], 6>[2]
    gone: int[0..60][2] = 0
}
init {
    for p in 0..2 {
        let n = random.int(0, 6)
        for i in 0..6 { if i < n { hand[p].push(i) } }
    }
}
hole toss(p: int[0..1]) "Discard a random card from your hand."
texts of toss {
    text "Discard a random card from your hand."
        ensures len(hand[p]) == max(old(len(hand[p])) - 1, 0)
        modifies hand[p], gone[p]
        draws any among len(hand[p])
}
hole score(p: int[0..1]) "A card of your hand is chosen at random 2 times; score it each time."
texts of score {
    text "A card of your hand is chosen at random 2 times; score it each time."
        modifies gone[p]
        draws 2 among len(hand[p])
}
action go() {
    toss(current_player)
    current_player = 1 - current_player
}
action tally() {
    score(current_player)
    current_player = 1 - current_player
}
observe(p) -> int[0..60][2] { return [gone[p], len(hand[p])] }
'''
TOSS_RIGHT = ("if len(hand[p]) > 0 {\n    let i = random.int(0, len(hand[p]) - 1)\n"
              "    gone[p] = min(gone[p] + hand[p][i], 60)\n    hand[p].remove_at(i)\n}")


@pytest.mark.parametrize("body, message", [
    (TOSS_RIGHT.replace("len(hand[p]) - 1)", "max(len(hand[p]) - 2, 0))"), "its draws ranged over"),
    (TOSS_RIGHT.replace("random.int(0, len(hand[p]) - 1)", "0"), "it drew nothing"),
], ids=["never the last", "always the first"])
def test_draws_among_states_the_law_of_random(tmp_path, body, message):
    """`draws ... among COUNT` (hunt R, F2): a fill that never discards the last card, or takes
    the first one, passes every count; the clause asks that some draw of the call range over
    exactly `COUNT` values whenever `COUNT` is 2 or more."""
    (tmp_path / "lottery.envspec").write_text(LOTTERY, encoding="utf-8")
    judge = Judge(str(tmp_path / "lottery.envspec"), max_examples=EXAMPLES)
    assert judge.judge_body("toss", TOSS_RIGHT, "").ok
    wrong = judge.judge_body("toss", body, "")
    assert (wrong.ok, wrong.stage) == (False, "property"), wrong.feedback
    assert "the text draws among" in wrong.feedback and "(`draws any among len(hand[p])`" in wrong.feedback
    assert message in wrong.feedback, wrong.feedback


SCORE_RIGHT = """for t in 0..2 {
    let i = random.pick(i in 0..6 where i < len(hand[p])) else -1
    if i >= 0 { gone[p] = min(gone[p] + hand[p][i], 60) }
}"""


def test_draws_n_among_asks_for_n_draws_over_count(tmp_path):
    """`draws 2 among COUNT`: two draws over COUNT values ("chosen at random 2 times"); a fill
    whose second draw leaves out the last card draws twice and once over COUNT, and is refused."""
    (tmp_path / "lottery.envspec").write_text(LOTTERY, encoding="utf-8")
    judge = Judge(str(tmp_path / "lottery.envspec"), max_examples=EXAMPLES)
    assert judge.judge_body("score", SCORE_RIGHT, "").ok
    second = SCORE_RIGHT.replace("where i < len(hand[p])", "where i < len(hand[p]) - t")
    wrong = judge.judge_body("score", second, "")
    assert (wrong.ok, wrong.stage) == (False, "property"), wrong.feedback
    assert "the text draws 2 times among" in wrong.feedback and ", 2 times" in wrong.feedback, wrong.feedback


def test_a_counterexample_names_the_table_rows_it_shows(choices):
    """A row is written `Card#4`; the counterexample then says what each row it shows is, by
    the data file's names (hunt R: the model read `Card#12` and could not tell the card)."""
    judge, fills, holes = choices
    verdict = judge.judge_body(holes["Discard a card of your choice."], "discard_choice(1 - p)", fills)
    assert (verdict.ok, verdict.stage) == (False, "property"), verdict.feedback
    legend = re.search(r"\n  rows shown: (.*)\n", verdict.feedback)
    assert legend, verdict.feedback
    shown = set(re.findall(r"Card#(\d+)", verdict.feedback[:legend.start()]))
    named = dict(re.findall(r"Card#(\d+) is (\w+)", legend.group(1)))
    names = [c["name"] for c in json.loads((CHOICE_SPEC.parent / "data" / "choice_cards.json").read_text())]
    assert shown and set(named) == shown, verdict.feedback
    assert all(names[int(r)] == n for r, n in named.items()), legend.group(1)



def test_the_case_a_draws_among_clause_is_about_is_searched_for(tmp_path):
    """`COUNT >= 2` of `draws ... among COUNT`, read on the state before the call, is one of
    the conditions the coverage search looks for (`coverage.guards`), as those of `ensures`:
    the law says nothing on calls with fewer values, and a judge that saw none warns."""
    from envc.compiler import ir
    from envc.compiler.interp import Interpreter
    from envc.llm_fill import coverage
    from envc.llm_fill.textchecks import with_contexts

    (tmp_path / "lottery.envspec").write_text(LOTTERY, encoding="utf-8")
    judge = Judge(str(tmp_path / "lottery.envspec"), max_examples=EXAMPLES)
    module = with_contexts(judge.load("").module)
    hole = next(h for h in module.holes if h.name == "toss")
    guard = coverage.guards(module, hole)[-1]
    assert isinstance(guard.clause, ir.DrawRule) and guard.fields == ["hand"], guard
    it = Interpreter(module)
    values = []
    for cards in ([], [4], [4, 5]):
        before = it.init(0)
        before.fields["hand"][0] = cards
        after = before.copy()
        after.fields["hand"][0] = []  # (read on the state before the call, not after it)
        values.append(coverage.value_of(it, hole, guard, before, after, [0], None))
    assert values == [False, False, True]
    assert coverage.describe(guard, False).startswith("a condition of `draws any among len(hand[p])` (")


def _chance_judge(tmp_path, name: str = "odds", draws: str = "        draws at most 1\n") -> Judge:
    """"30% chance to burn the counter": `with chance 30 in 100 where not burned: burned`, and the
    counter rises by 1 either way (`burned` stays burned)."""
    prose = "Add 1 to the counter. 30% chance to burn it."
    clause = (f'"{prose}"\ntexts of bump {{\n    mentions "<N>% chance to burn it."\n'
              "        with chance N in 100 where not burned: burned\n"
              "        ensures burned or not old(burned)\n" + draws +
              '    mentions "Add 1 to the counter."\n        ensures n == min(old(n) + 1, 50)\n}')
    return _counter_judge(tmp_path, name, "    n: int[0..50] = 0\n    burned: bool = false\n", clause)


@pytest.mark.parametrize("draw", ["random.int(0, 9) < 3", "random.int(0, 9) >= 7", "random.int(0, 99) < 30",
                                  "random.int(1, 10) <= 3"])
def test_a_chance_clause_accepts_every_right_law(tmp_path, draw):
    """Hunt V, F2: a text's probability is a law over the draw's values, whatever words draw it
    (per random word, `drawn(0, 0, 9) < 3` refused `>= 7`; `draws 1 among 10` refused `0..99`)."""
    judge = _chance_judge(tmp_path)
    right = judge.judge_body("bump", f"n = min(n + 1, 50)\nif not burned and {draw} {{\n    burned = true\n}}", "")
    assert right.ok, right.feedback


TWO_SPARE_DRAWS = "let a = random.int(0, 99)\nlet b = random.int(0, 99)\nif not burned and a < {} and b >= 0 {{\n    burned = true\n}}"


def test_a_chance_with_too_many_draw_values_to_list_is_sampled(tmp_path):
    """A fill cannot escape the law by drawing numbers it does not need: 100 x 100 sequences
    are more than `chance.CHANCE_OUTCOMES`, so the call is run 1,000 times from other words."""
    judge = _chance_judge(tmp_path, draws="")
    right = judge.judge_body("bump", "n = min(n + 1, 50)\n" + TWO_SPARE_DRAWS.format(30), "")
    assert right.ok, right.feedback
    wrong = judge.judge_body("bump", "n = min(n + 1, 50)\n" + TWO_SPARE_DRAWS.format(40), "")
    assert not wrong.ok and "too many sequences of draw values to list" in wrong.feedback, wrong.feedback


@pytest.mark.parametrize("body, shown", [
    ("if not burned and random.int(0, 9) < 4 {\n    burned = true\n}", "probability 2/5"),
    ("burned = true", "the call draws no random number, so it holds always"),
    ("if not burned and random.int(0, 9) < 3 and random.int(0, 1) == 0 {\n    burned = true\n}", "probability 3/20"),
    ("if not burned and random.int(0, 2) == 0 {\n    burned = true\n}", "probability 1/3"),
], ids=["40%", "always", "a second coin", "one in three"])
def test_a_chance_clause_refuses_a_wrong_law(tmp_path, body, shown):
    """Hunt V, F2: with the law stated as `draws 1 among 10` and "a burned target stays burned",
    40%, 20% and 90% were accepted."""
    judge = _chance_judge(tmp_path)
    wrong = judge.judge_body("bump", "n = min(n + 1, 50)\n" + body, "")
    assert not wrong.ok and "the text gives its outcome a chance of 30 in 100" in wrong.feedback, wrong.feedback
    assert shown in wrong.feedback, wrong.feedback


def _random_pile_judge(tmp_path) -> Judge:
    """"Take 1 from a random nonempty pile": each nonempty pile is hit with chance 1 in their
    number (`with chance 1 in COUNT for i in 0..3 where piles[i] > 0: ...`)."""
    prose = "Take 1 from a random nonempty pile."
    spec = tmp_path / "piles.envspec"
    spec.write_text(
        'env piles "piles"\nplayers 2\nturn_limit 20\nstate {\n    piles: int[0..9][3] = 5\n}\n'
        f'hole take(p: int[0..1]) "{prose}"\n'
        "texts of take {\n"
        f'    text "{prose}"\n'
        "        with chance 1 in count(piles[j] > 0 for j in 0..3) for i in 0..3 where piles[i] > 0: "
        "piles[i] == old(piles[i]) - 1\n"
        "        ensures sum(old(piles[j]) - piles[j] for j in 0..3) == (if any(old(piles[j]) > 0 for j in 0..3) "
        "then 1 else 0)\n"
        "        modifies piles\n}\n"
        "action a() {\n    take(current_player)\n    current_player = 1 - current_player\n}\n"
        "observe(p) -> int[0..9][3] { return piles }\n", encoding="utf-8")
    return Judge(str(spec), max_examples=EXAMPLES)


def _rth_nonempty(draw: str) -> str:
    """A fill of "take 1 from a random nonempty pile" that takes from the `r`-th nonempty pile,
    `r` drawn by `draw` (which may read `n`, the number of nonempty piles)."""
    return ("let n = count(piles[i] > 0 for i in 0..3)\nif n > 0 {\n    let r = " + draw + "\n"
            "    let k = random.pick(i in 0..3 where piles[i] > 0 and count(piles[j] > 0 and j < i for j in 0..3) == r) "
            "else 0\n    piles[k] = max(piles[k] - 1, 0)\n}")


PICK_ALIVE = ("let k = random.pick(i in 0..3 where piles[i] > 0) else -1\n"
              "if k >= 0 {\n    piles[k] = max(piles[k] - 1, 0)\n}")


@pytest.mark.parametrize("body", [
    PICK_ALIVE,
    _rth_nonempty("random.int(0, n - 1)"),
], ids=["pick", "the r-th nonempty"])
def test_a_chance_per_option_accepts_a_uniform_choice(tmp_path, body):
    judge = _random_pile_judge(tmp_path)
    right = judge.judge_body("take", body, "")
    assert right.ok, right.feedback


def test_a_chance_over_a_thousand_draw_values_is_listed_exactly(tmp_path):
    """Hunt W, F3: a draw over 1,000 values was not listed (512 at most) nor sampled, so a choice
    of 3/10, 3/10, 4/10 among three piles passed; 4,096 sequences are listed now."""
    judge = _random_pile_judge(tmp_path)
    wrong = judge.judge_body("take", _rth_nonempty("min(random.int(0, 999) / 300, n - 1)"), "")
    assert not wrong.ok and "over every value of the call's draws (1000 sequence(s)" in wrong.feedback, wrong.feedback


def test_a_chance_per_option_refuses_a_choice_that_maps_two_draws_to_one_option(tmp_path):
    """Hunt V, F1: `draws any among COUNT` checks the range of the draw, not what the fill does
    with it: `min(r, n - 2)` (never the last nonempty pile) was accepted."""
    judge = _random_pile_judge(tmp_path)
    wrong = judge.judge_body("take", _rth_nonempty("min(random.int(0, n - 1), max(n - 2, 0))"), "")
    assert not wrong.ok and "chance of 1 in" in wrong.feedback, wrong.feedback
