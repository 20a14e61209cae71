"""What a player may see of a state, and the hidden-information property, for any spec.

Public surface: `perturb(module, state, player, rng, fields=None) -> State`,
`leaks(interpreter, state, rng, tries=2) -> list[str]`, `paused(module, state) -> bool`,
`choice_leaks(interpreter, before, action, after, rng, tries=2) -> list[str]`.

Player p sees: every public field; slot p of a `@private` field; the length of every list
(`len(...)` is observable); the cells of a `@reveal(flag)` field where `flag` holds, and of
a `@reveal_to(flag)` field where `flag[p]` holds. The property (DESIGN.md, "The generated
environment's API"): two states that differ only in what p does not see give p the same
observation. The checker enforces it statically (E0170, `revealed(...)`); `leaks` tests it
on a state by redrawing everything p does not see, at random within each type's range,
and comparing `observe(p)`, for every player.

The legal-action mask is seen too (a trainer masks the policy with it), so `leaks` also
compares the mask of the player to move: a guard that reads what that player does not see
(`when matches(face) < qty` over both players' dice) tells it through the mask. Decision:
only the spec's own fields are redrawn for this (not the `_envc_` fields, which hold a
paused effect's locals: the chooser's options legitimately depend on them). In a simultaneous
spec, only at a turn's start (`current_player` 0 in the lowered game, no commit pending), and
there every player's row of `legal_action_masks` (what each may choose this turn; mid-turn rows
are no player's view): Oshi Zumo with `@private` coins and a guard on the other's coins leaked
them unreported before (probe5). The checker does not enforce it statically. `envc verify` runs it on the states it
samples (level 1), and `tests/test_hidden_information.py` on every spec.

A paused effect's options are the exception the mask check cannot see: they read the pause
frame (`_envc_frame_*`, the effect's locals), which is not redrawn, and a local may hold a
copy of what the chooser does not see (`let c = card[p]` then `choose(1 - p, v in 0..=3 where
v != c)`: player 1's options tell it player 0's private card; written `where v != card[p]`
the mask check finds it). `choice_leaks` checks the step that paused instead: the state
before it redrawn where the chooser does not see it, the same action replayed, and where that
pauses at the same choice and the chooser's observation is the same, its options must be the
same. An effect that shows the chooser what it chooses from (a `@reveal` flag set before the
`choose`) changes the observation too, and is not a leak. Where the observations differ only
through the paused effect's own fields, which choice is pending (`pending_choice()`, which
`observe` must show) depends on what the chooser does not see: that is a leak too (two `choose`
sites behind `if hand[0] > 4`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from envc.compiler import ir

Visible = Callable[[tuple[int, ...]], bool]


def _random(module: ir.Module, t: ir.Type, rng: np.random.Generator) -> Any:
    if isinstance(t, ir.BoolT):
        return bool(rng.integers(0, 2))
    if isinstance(t, ir.IntT):
        return int(rng.integers(t.lo, t.hi + 1))
    if isinstance(t, ir.FloatT):
        return np.float32(rng.normal())
    if isinstance(t, ir.EnumT):
        return int(rng.integers(0, t.size))
    if isinstance(t, ir.RowT):
        return int(rng.integers(0, t.rows))
    if isinstance(t, ir.ArrayT):
        return [_random(module, t.elem, rng) for _ in range(t.size)]
    if isinstance(t, ir.ListT):
        return []
    return {f.name: _random(module, f.type, rng) for f in module.record(t.name).fields}


def _redraw(module: ir.Module, t: ir.Type, v: Any, rng: np.random.Generator, visible: Visible,
            at: tuple[int, ...] = ()) -> Any:
    """`v` with every cell that `visible` does not show redrawn; list lengths kept."""
    if isinstance(t, (ir.ArrayT, ir.ListT)):
        return [_redraw(module, t.elem, x, rng, visible, at + (i,)) for i, x in enumerate(v)]
    if visible(at):
        return v
    if isinstance(t, ir.RecordT):
        return {f.name: _redraw(module, f.type, v[f.name], rng, lambda _: False) for f in module.record(t.name).fields}
    return _random(module, t, rng)


def _of_player(shown: Visible, q: int) -> Visible:
    """`shown` for the cells of player `q`'s slot of a `@private` field (indexed without it)."""
    return lambda at: shown((q,) + at)


def _flag(state_fields: dict, fd: ir.FieldDef, player: int) -> Visible:
    """Which cells of field `fd` its `@reveal`/`@reveal_to` flag shows to `player`."""
    if fd.reveal is not None:
        flag = state_fields[fd.reveal]
    elif fd.reveal_to is not None:
        flag = state_fields[fd.reveal_to][player]
    else:
        return lambda at: False

    def shown(at: tuple[int, ...]) -> bool:
        x = flag
        for i in at:
            if not isinstance(x, list):
                return False
            x = x[i]
        return x is True or (not isinstance(x, list) and bool(x))
    return shown


def perturb(module: ir.Module, state, player: int, rng: np.random.Generator, fields: set[str] | None = None):
    """A copy of interpreter `state` in which everything `player` does not see (module
    docstring) is redrawn at random (only in `fields`, when given)."""
    s = state.copy()
    f = s.fields
    for fd in module.state:
        if fd.visibility == "public" or (fields is not None and fd.name not in fields):
            continue
        shown = _flag(state.fields, fd, player)
        if fd.visibility == "private":
            f[fd.name] = [v if q == player else _redraw(module, ir.elem_of(fd.type), v, rng, _of_player(shown, q))
                          for q, v in enumerate(f[fd.name])]
        else:
            f[fd.name] = _redraw(module, fd.type, f[fd.name], rng, shown)
    return s


def leaks(it, state, rng: np.random.Generator, tries: int = 2) -> list[str]:
    """For each player, whether redrawing what it does not see changes its observation, and
    for the player to move, its legal-action mask (module docstring): one message per player
    and view that depends on something hidden from it, naming the field (found by redrawing
    one field at a time) and, for the mask, an action whose legality changes. Empty when the
    property holds here."""
    from envc.compiler.interp import SpecRuntimeError, values_equal

    module = it.module
    hidden = [fd.name for fd in module.state if fd.visibility != "public"]
    out = []
    for p in range(module.num_players):
        try:
            seen = it.observe(state, p)
        except SpecRuntimeError:
            continue
        for _ in range(tries):
            other = perturb(module, state, p, rng)
            try:
                if values_equal(it.observe(other, p), seen):
                    continue
            except SpecRuntimeError:
                continue  # `observe` faults on a redrawn state (a list read past its length): not a leak
            culprit = next((name for name in hidden if _depends(it, state, p, seen, rng, name)), "?")
            out.append(f"observe({p}) depends on `{culprit}`, which player {p} does not see")
            break
    return out + _mask_leaks(it, state, rng, tries)


def _mask_leaks(it, state, rng: np.random.Generator, tries: int) -> list[str]:
    """Whether redrawing the spec fields that a player does not see changes its legal-action
    mask (live states; turn-based: the player to move; simultaneous: every player, at a turn's
    start): [] or one message per player whose mask leaks."""
    from envc.compiler.interp import SpecRuntimeError
    from envc.compiler.passes.simultaneous import CHOICE

    module = it.module
    own = [fd.name for fd in module.state if fd.visibility != "public" and not fd.name.startswith("_envc_")
           and fd.name != CHOICE]
    joint = module.simultaneous is not None
    if not own or state.fields["terminated"] or state.fields["truncated"]:
        return []
    if joint and state.fields["current_player"] != 0:  # mid-turn: a commit is pending
        return []
    players = range(module.num_players) if joint else [state.fields["current_player"]]

    def mask(st, p: int) -> list[bool]:
        return it.legal_action_masks(st)[p] if joint else it.legal_action_mask(st)

    out = []
    for p in players:
        try:
            seen = mask(state, p)
        except SpecRuntimeError:
            continue
        out += _player_mask_leak(it, state, p, lambda st, p=p: mask(st, p), seen, own, rng, tries,
                                 "" if joint else " (to move)")
    return out


def _player_mask_leak(it, state, p: int, mask: Callable, seen: list[bool], own: list[str],
                      rng: np.random.Generator, tries: int, role: str) -> list[str]:
    """[] or the message for player p's mask (`mask(state)`, `seen` on `state`), which must not
    change when the fields `own` are redrawn where p does not see them."""
    from envc.compiler.interp import SpecRuntimeError

    def changed(fields: set[str]) -> int | None:
        try:
            other = mask(perturb(it.module, state, p, rng, fields))
        except SpecRuntimeError:  # a guard faults on a redrawn state: not a leak
            return None
        return next((a for a, (x, y) in enumerate(zip(seen, other)) if x != y), None)

    for _ in range(tries):
        if changed(set(own)) is None:
            continue
        for name in own:
            a = next((a for _ in range(4) if (a := changed({name})) is not None), None)
            if a is not None:
                why = "the pending choice's options read it" if paused(it.module, state) else "a guard reads it"
                return [f"the legal-action mask of player {p}{role} depends on `{name}`, which player {p} "
                        f"does not see: whether {it.actions.format(a)} is legal changes with it ({why})"]
        return [f"the legal-action mask of player {p}{role} depends on what player {p} does not see"]
    return []


def _depends(it, state, p: int, seen, rng: np.random.Generator, name: str, tries: int = 4) -> bool:
    from envc.compiler.interp import SpecRuntimeError, values_equal

    for _ in range(tries):
        try:
            if not values_equal(it.observe(perturb(it.module, state, p, rng, {name}), p), seen):
                return True
        except SpecRuntimeError:
            continue
    return False
    return True


def paused(module: ir.Module, state) -> bool:
    """True when interpreter `state` holds a paused effect (a `choose` waits for its chooser):
    some action body's `at` field (`choice_points`) is not 0."""
    if module.choice is None:
        return False
    return any(state.fields[b.at] != 0 for b in module.choice.bodies if b.kind == "action")


def choice_leaks(it, before, action: int, after, rng: np.random.Generator, tries: int = 2) -> list[str]:
    """For a step `before` --`action`--> `after` that paused at a `choose` (turn-based specs):
    [] or one message when the chooser's legal options depend on something it did not see
    before the step and does not see after it (module docstring). The state before is redrawn
    where the chooser does not see it (the spec's own fields), the action replayed, and the
    options compared where the replay pauses with the same chooser and observation. A replay
    that faults, ends or does not pause is no evidence either way."""
    module = it.module
    if module.simultaneous is not None or not paused(module, after):
        return []
    own = [fd.name for fd in module.state if fd.visibility != "public" and not fd.name.startswith("_envc_")]
    q = after.fields["current_player"]

    def differs(fields: set[str]) -> int | None:
        """The first action whose legality differs in the replay, `SITE` when another choice
        is pending, or None."""
        other = _replayed(it, perturb(module, before, q, rng, fields), action, q, after)
        if not isinstance(other, list):
            return other
        return next((a for a, (x, y) in enumerate(zip(after.legal_action_mask, other)) if x != y), None)

    for _ in range(tries):
        if differs(set(own)) is None:
            continue
        for name in own:
            a = next((a for _ in range(8) if (a := differs({name})) is not None), None)
            if a is SITE:
                return [f"which choice is pending for player {q} (`pending_choice()`, which it observes) depends "
                        f"on `{name}`, which player {q} does not see: the effect reaches another `choose` with it"]
            if a is not None:
                return [f"the options of player {q}'s pending choice depend on `{name}`, which player {q} "
                        f"does not see: whether {it.actions.format(a)} is legal changes with it (the effect "
                        "read it before the `choose`)"]
        return [f"the options of player {q}'s pending choice depend on what player {q} does not see"]
    return []


#: `_replayed`'s answer when the replay pauses at another choice, told by the observation alone
SITE = -1


def _replayed(it, before, action: int, q: int, after) -> list[bool] | int | None:
    """The legal-action mask after replaying `action` from `before` when that pauses with
    chooser `q` showing it what `after` shows it; `SITE` when the observations differ only
    through the paused effect's own fields (which choice waits: `pending_choice()`); None
    otherwise (a fault, an illegal action, no pause, another chooser, another view of the
    spec's fields: what the step revealed)."""
    from envc.compiler.interp import SpecRuntimeError, values_equal

    try:
        if not it.legal_action_mask(before)[action]:  # (the copy's own mask is the unredrawn state's)
            return None
        s = it.step(before, action)
        if not paused(it.module, s) or s.fields["current_player"] != q:
            return None
        seen = it.observe(after, q)
        if values_equal(it.observe(s, q), seen):
            return list(s.legal_action_mask)
        hybrid = s.copy()
        hybrid.fields.update({k: v for k, v in after.fields.items() if k.startswith("_envc_")})
        return SITE if values_equal(it.observe(hybrid, q), seen) else None
    except SpecRuntimeError:
        return None
