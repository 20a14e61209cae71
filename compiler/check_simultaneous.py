"""The checker's part for simultaneous specs (header `simultaneous`, block `resolve`).

Public surface (called by `envc.compiler.check.Checker`): `header`, `action_kinds`,
`check_resolve`, `reads_builtin`, `act_call`, `choice_call`, `RESERVED`, `PLAYER`.

The rules, as the language reference states them:

* `simultaneous` (once, after `players`): every turn, each player chooses one action,
  without seeing the others' choices; then the `resolve` block (exactly one) plays the turn.
* In an action's guard and body, `player` is the player choosing (an `int[0..P-1]`):
  a guard says what `player` may choose, a body what happens when `player`'s choice is
  played. `player` cannot be a parameter name there.
* In `resolve`, `act(p)` runs the body of the action player `p` chose (with `player = p`);
  `chose(p, kind)` is true when `p` chose an action of kind `kind`; `chosen(p, kind.param)`
  is that action's parameter (meaningful when `chose(p, kind)`). `chose` and `chosen` may
  also be read in actions and procs (they run while a turn resolves), never in guards,
  `fn`s or `observe` (players must not see each other's pending choices).
* `current_player` does not exist for the spec (every player chooses), and guards, `fn`s
  and `observe` cannot read `rewards` (the last step's output: it would differ between the
  commits of one turn); `step_count` counts resolved turns, and `turn_limit` counts turns.

The lowering to a sequential game is `envc.compiler.passes.simultaneous`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envc.compiler import ir
from envc.compiler.diagnostics import Span, did_you_mean
from envc.dsl import ast

if TYPE_CHECKING:
    from envc.compiler.check import Checker

PLAYER = "player"
#: names that are built-ins in a simultaneous spec
RESERVED = ("act", "chose", "chosen")
#: built-in state fields a simultaneous spec cannot read (nor write)
HIDDEN_BUILTINS = ("current_player", "rewards")

_HELP = ("in a simultaneous spec every player chooses each turn: use `player` in an action, "
         "and `p` of `chose(p, kind)` in `resolve`")


def header(ch: Checker, by_kind) -> tuple[ast.SimultaneousDecl | None, ast.ResolveDecl | None]:
    """Read the `simultaneous` and `resolve` declarations (reporting duplicates and a
    `resolve` without `simultaneous` or the reverse, E0192)."""
    sims = by_kind.get(ast.SimultaneousDecl, [])
    resolves = by_kind.get(ast.ResolveDecl, [])
    for extra in sims[1:]:
        ch.err("E0104", "more than one `simultaneous` declaration", extra.span, help="keep one")
    for extra in resolves[1:]:
        ch.err("E0104", "more than one `resolve` block", extra.span, help="merge them into one")
    sim = sims[0] if sims else None
    resolve = resolves[0] if resolves else None
    if resolve is not None and sim is None:
        ch.err("E0192", "`resolve` is only for simultaneous specs", ch.name_span(resolve.span, "resolve"),
               "no `simultaneous` header", help="add the line `simultaneous` after `players`, or play the "
               "turn in the actions' bodies")
    if sim is not None and resolve is None:
        ch.err("E0192", "a simultaneous spec needs a `resolve` block", sim.span, "declared simultaneous here",
               help="write `resolve { act(0) act(1) }`: what a turn does once every player has chosen")
    return sim, resolve


def player_field(ch: Checker) -> None:
    """E0101 for a state field named `player`: every action's guard and body read the chooser as
    `player`, which would hide it (`player = 0` wrote the chooser's local and left the field; a
    hunt), as a parameter named like a field is refused."""
    f = ch.state.get(PLAYER)
    if f is None or f.builtin:
        return
    ch.err("E0101", f"`{PLAYER}` is a state field: in a simultaneous spec every action reads the choosing player "
           f"as `{PLAYER}`, which would hide it", f.span, "every action's `player` would hide it",
           help=f"rename the field, e.g. `{PLAYER}_`")


def action_kinds(ch: Checker, decls: list[ast.ActionDecl]) -> dict[str, tuple[int, list[ir.ParamDef]]]:
    """Each action kind's index and parameters (for `chose`/`chosen`, read before the
    actions themselves are checked); kinds whose parameters do not resolve are left out
    (their errors are reported once, by `Checker._actions`)."""
    kinds: dict[str, tuple[int, list[ir.ParamDef]]] = {}
    index = 0
    for d in decls:
        if d.name in kinds:
            continue
        params: list[ir.ParamDef] = []
        for p in d.params:
            t = ch.resolve_type(p.type)
            if t is None:
                break
            params.append(ir.ParamDef(name=p.name, type=t, span=p.span))
        else:  # every parameter's type resolved
            kinds[d.name] = (index, params)
        index += 1
    return kinds


def check_resolve(ch: Checker, d: ast.ResolveDecl | None, ctx_cls) -> list[ir.Stmt]:
    """The `resolve` block, checked like an action's body (it may change the state and draw)."""
    if d is None:
        return []
    return ch.block(d.body, ctx_cls("resolve", pure=False))


def reads_builtin(ch: Checker, name: str, span: Span, ctx=None) -> None:
    """Report a simultaneous spec's use of `current_player` (anywhere) or of `rewards` where it
    would make the legal actions or the observations differ between the players' commits of
    one turn: in a guard, a `fn` or `observe` (E0192)."""
    if name == "rewards" and ctx is not None and ctx.what not in ("guard", "fn", "observe"):
        return
    ch.fail("E0192", f"`{name}` cannot be used in a simultaneous spec", span,
            "every player chooses at once" if name == "current_player" else "the last step's output",
            help=_HELP if name == "current_player" else
            "rewards are what a step gives: give them with `win(p)`, `draw()` or `reward(p, r)`")


def act_call(ch: Checker, e: ast.Call, ctx, span: Span) -> ir.Stmt:
    """`act(p)` in `resolve`: run the action player `p` chose."""
    if ctx.what != "resolve":
        ch.fail("E0192", "`act(p)` runs a chosen action: only `resolve` may call it", e.func.span,
                "not in `resolve`", help="call `act(p)` in the `resolve` block")
    player = ir.ParamDef(name="p", type=ir.IntT(lo=0, hi=ch.num_players - 1))
    args = ch.call_args(e, [player], "act", ctx)
    return ir.CallProc(proc="sim.act", args=args, span=span)


def choice_call(ch: Checker, name: str, e: ast.Call, ctx) -> ir.Expr:
    """`chose(p, kind)` (bool) or `chosen(p, kind.param)` (the parameter's type)."""
    if ctx.pure:
        ch.fail("E0192", f"`{name}` reads a pending choice, which {_where(ctx)} may not see", e.func.span,
                "players choose in private", help="read choices in `resolve`, in an action's body or in a `proc`")
    usage = "chose(p, kind)" if name == "chose" else "chosen(p, kind.param)"
    if len(e.args) != 2 or any(a.name is not None for a in e.args):
        ch.fail("E0111", f"`{name}` takes a player and an action: `{usage}`", e.span)
    target = e.args[1].value
    kinds = ch.sim_kinds
    if name == "chose":
        if not isinstance(target, ast.Name):
            ch.fail("E0111", "the second argument of `chose` names an action kind", target.span,
                    help=f"write `chose(p, {next(iter(kinds), 'move')})`")
        kind, param = target.name, None
        kind_span = param_span = target.span
    else:
        if not (isinstance(target, ast.Field) and isinstance(target.base, ast.Name)):
            ch.fail("E0111", "the second argument of `chosen` names an action's parameter", target.span,
                    help="write `chosen(p, kind.param)`")
        kind, param = target.base.name, target.name
        kind_span, param_span = target.base.span, target.name_span
    if kind not in kinds:
        ch.fail("E0100", f"unknown action `{kind}`", kind_span, "not an action of this spec",
                help=did_you_mean(kind, list(kinds)) or f"the actions are {', '.join(f'`{k}`' for k in kinds)}")
    index, params = kinds[kind]
    player = ir.ParamDef(name="p", type=ir.IntT(lo=0, hi=ch.num_players - 1))
    p = ch.call_args(ast.Call(e.span, e.func, e.args[:1]), [player], name, ctx)[0]
    k = ir.Const(type=ir.IntT(lo=index, hi=index), value=index, span=kind_span)
    if param is None:
        return ir.Builtin(name="sim.chose", args=[p, k], type=ir.BOOL, span=e.span)
    names = [q.name for q in params]
    if param not in names:
        ch.fail("E0103", f"action `{kind}` has no parameter `{param}`", param_span, "unknown parameter",
                help=did_you_mean(param, names) or (f"its parameters are {', '.join(f'`{n}`' for n in names)}"
                                                    if names else f"`{kind}` takes no parameters"))
    j = names.index(param)
    jc = ir.Const(type=ir.IntT(lo=j, hi=j), value=j, span=param_span)
    return ir.Builtin(name="sim.chosen", args=[p, k, jc], type=params[j].type, span=e.span)


def _where(ctx) -> str:
    return {"guard": "a guard", "fn": "a `fn`", "observe": "`observe`", "invariant": "an invariant",
            "ensures": "an `ensures` clause"}.get(ctx.what, f"`{ctx.what}`")
