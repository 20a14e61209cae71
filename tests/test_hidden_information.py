"""The hidden-information property, generated for every spec (issue 14).

For every shipped spec and every test spec: states reached by random legal play, and for
each player, everything the player does not see (hidden fields, the other players' slots
of private fields, cells of `@reveal` fields whose flag is off; list lengths are seen) is
redrawn at random, and the player's observation must not change
(`envc.compiler.visibility.leaks`). The checker refuses the specs that would break it
(E0170); this checks that its rules are enough, reveals and helpers included. A test also
shows the check catches a leak.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from envc.compiler.check import load
from envc.compiler.interp import Interpreter, SpecRuntimeError
from envc.compiler.visibility import leaks, perturb

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.envspec")) + sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "specs").glob("*.envspec"))


def _states(it: Interpreter, games: int, every: int, limit: int = 300):
    rng = np.random.default_rng(0)
    for g in range(games):
        s = it.init(g)
        for t in range(limit):
            if s.terminated or s.truncated:
                break
            if t % every == 0:
                yield s
            legal = np.flatnonzero(s.legal_action_mask)
            if len(legal) == 0:  # a test spec that is not a whole game (tests/specs/texts.envspec) can stall
                break
            try:
                s = it.step(s, int(rng.choice(legal)))
            except SpecRuntimeError:  # a spec made to fault (tests/specs/faults.envspec): the game ends there
                break


@pytest.mark.parametrize("path", SPECS)
def test_what_a_player_cannot_see_does_not_change_its_observation(path):
    m = load(str(ROOT / path))
    it = Interpreter(m)
    rng = np.random.default_rng(1)
    checked = 0
    for s in _states(it, games=3, every=7):
        assert leaks(it, s, rng) == [], f"{path}: a state of {s.step_count} steps"
        checked += 1
    assert checked > 0


def test_redrawing_keeps_what_the_player_sees():
    m = load(str(ROOT / "tests" / "specs" / "reveal.envspec"))
    it = Interpreter(m)
    s = it.init(3)
    s.fields["up"] = [False, True, False, False]
    s.fields["shown"] = [[True, False, False, False], [False, False, False, False]]
    it._finish(s)
    changed = 0
    for k in range(20):
        other = perturb(m, s, 0, np.random.default_rng(k))
        assert other.hand[0] == s.hand[0], "player 0's own slot stays"
        assert other.cards[1] == s.cards[1], "a card face up stays"
        assert [len(x) for x in other.deck] == [len(x) for x in s.deck], "lengths are seen"
        other1 = perturb(m, s, 1, np.random.default_rng(k))
        assert other1.hand[0][0] == s.hand[0][0], "a shown card of player 0 stays for player 1"
        changed += other.deck != s.deck
    assert changed > 15, "what is hidden is redrawn"


def test_a_leak_is_found():
    m = load(str(ROOT / "specs" / "tictactoe.envspec"))
    # `board` is public and observed: mark it hidden after checking, as a broken checker would let through
    leaky = m.model_copy(update={"state": [f.model_copy(update={"visibility": "hidden"}) if f.name == "board" else f
                                           for f in m.state]})
    it = Interpreter(leaky)
    s = it.step(it.init(0), 4)
    found = leaks(it, s, np.random.default_rng(0))
    assert found and "`board`" in found[0]
