"""The compiler pipeline: parse, check, then the passes in order (DESIGN.md, decision 8).

Public surface: `PASSES` and `LOWERING` (the pass lists), `PassContext`, `pass_names()`,
`load(path, ctx)`, `run(module, ctx)`, `lower(module, ctx)`, `required_pass_names()`,
`UnknownPassError`, `RequiredPassError`.

    spec.envspec --parse--> syntax tree --check--> typed IR --PASSES--> IR the interpreter runs
                 --LOWERING--> IR both array backends (JAX, Rust) consume

Each pass is a module `envc.compiler.passes.<verb_noun>` with a docstring that states
what it guarantees, a `NAME` and one entry point `run(module, ctx) -> Module`. The list
below is the pipeline: to add a pass, copy a pass module, give it a new `NAME`, and add it
here in the order it must run. A pass that may be disabled never changes meaning: the
interpreter gives the same trajectories with and without it (tests check that); a pass
whose module sets `REQUIRED = True` defines what some construct means (`choose`, a
simultaneous turn) and cannot be disabled. `envc.compiler.ir.verify` holds after each pass
(`PassContext.verify`, on in tests).

`LOWERING` holds the passes that only the generated code needs ("lower once, emit twice"):
the interpreter stays on the IR of `PASSES`, the definition of meaning, and the backends'
trajectories are compared with it. Each backend's `generate` calls `lower`.

Passes are switched on and off by `PassContext.disabled` (`--disable-pass NAME` on the
command line), never by environment variables read inside the library.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from envc.compiler import ir
from envc.compiler.passes import (
    choice_points,
    effect_tables,
    fold_constants,
    inline_fns,
    lower_choices,
    lower_lists,
    number_faults,
    restrict_dispatch,
    sequence_draws,
    simultaneous,
)

# The pipeline, in order. `check` (the checker's output) comes before every entry.
# `choice_points` runs after `effect_tables` (the dispatch it rewrites holds no `choose`
# yet, and paused effects need the final bodies). `lower_choices`, which turns paused
# effects into state machines for the array backends, is in `LOWERING` (and run by
# `envc verify --targets flat`), not here: the interpreter runs `choose` natively.
# `simultaneous` comes first: it turns a simultaneous spec into a sequential game (private
# commits, then the turn resolved in the module's epilogue), which every later pass and
# every backend then treat like any other.
# `restrict_dispatch` before `effect_tables`: it points guarded call sites at copies of a
# family's dispatch over fewer members, still if-chains, which `effect_tables` then tabulates
# each (a table of the full dispatch would not let a site skip the ops it cannot reach).
PASSES: list[ModuleType] = [
    simultaneous,
    restrict_dispatch,
    effect_tables,
    choice_points,
]

# After `PASSES`, for the array backends only (`lower`). `inline_fns` first, so that
# `fold_constants` folds what an inlined call computes from constants (`cell(2, 1)`).
# `fold_constants` once here instead of each backend folding in its own way (the Rust backend
# used to fold its generated text).
# `lower_choices` after it, as the backends ran it before it moved here (the same IR).
# `sequence_draws` after folding, before `lower_choices`: draws and takes become `let`s in
# the interpreter's order (fresh-spec hunts found JAX reading operands after a later `pop()`
# and resolving a drawing place twice), so no backend orders them inside an expression.
# `lower_lists` after `lower_choices`: it sees the final bodies and makes the list operations'
# faults explicit `check` statements, which `number_faults` then numbers with the rest.
# `number_faults` last: it numbers every fault site of the final IR (`lower_choices` adds
# some), the one numbering both backends report faults with.
LOWERING: list[ModuleType] = [
    inline_fns,
    fold_constants,
    sequence_draws,
    lower_choices,
    lower_lists,
    number_faults,
]


#: the lowerings of a prefix-AND loop the JAX backend offers (`PassContext.prefix_walk`)
PREFIX_WALKS = ("off", "vmap", "predicated")


class UnknownPassError(ValueError):
    """A pass name that is not in `PASSES` (the message lists the known ones)."""


class RequiredPassError(UnknownPassError):
    """`disabled` names a pass that defines the meaning of some specs (`REQUIRED = True` in
    its module: without it a `choose` or a simultaneous turn means something else), so it
    cannot be switched off."""


def required_pass_names() -> list[str]:
    """The passes that cannot be disabled: those whose module sets `REQUIRED = True`."""
    return [p.NAME for p in [*PASSES, *LOWERING] if getattr(p, "REQUIRED", False)]


@dataclass(frozen=True)
class PassContext:
    """Options of one run of the pipeline.

    Attributes:
        disabled: names of passes to skip (`--disable-pass`).
        verify: run `ir.verify` after each pass (tests turn it on; it costs a walk of the IR).
        after: stop after this pass (`check` stops after the checker), for `--emit ir --after`.
        lower: run `LOWERING` after `PASSES` (the IR the backends consume, `--emit ir`); implied
            when `after` names a pass of `LOWERING`.
        prefix_walk: how the JAX backend lowers a loop of the prefix-AND shape
            (`passes.prefix_loops`, `--prefix-walk`): "off" (as any loop, the default), "vmap"
            or "predicated" (issue 18's mechanism 1; exact, not faster on CPU: bench/RESULTS.md).
        record_faults: the JAX backend records runtime faults in `State._fault` (the default:
            one behaviour on every backend, `number_faults`); False (`--no-record-faults`)
            generates no fault code, as before that pass, for a spec already verified: a fault
            then goes unnoticed and the state after it is unspecified. It costs the TCG about a
            third of its JAX throughput on CPU (bench/RESULTS.md, "Runtime faults recorded in
            JAX"). The interpreter and Rust always raise.
    """

    disabled: frozenset[str] = frozenset()
    verify: bool = False
    after: str | None = None
    lower: bool = False
    prefix_walk: str = "off"
    record_faults: bool = True

    def __post_init__(self) -> None:
        known = set(pass_names())
        for name in [*self.disabled, *([self.after] if self.after else [])]:
            if name not in known:
                raise UnknownPassError(f"unknown pass `{name}`; the passes are: {', '.join(pass_names())}")
        if self.prefix_walk not in PREFIX_WALKS:
            raise ValueError(f"prefix_walk must be one of {', '.join(PREFIX_WALKS)}, not `{self.prefix_walk}`")
        required = sorted(self.disabled & set(required_pass_names()))
        if required:
            raise RequiredPassError(f"pass `{required[0]}` defines what the spec means and cannot be disabled")


def pass_names() -> list[str]:
    """`check` followed by the name of every pass, in pipeline order."""
    return ["check", *(p.NAME for p in [*PASSES, *LOWERING])]


def run(module: ir.Module, ctx: PassContext | None = None) -> ir.Module:
    """Run the passes on a checked module, in order, skipping the disabled ones and
    stopping after `ctx.after`.

    Raises:
        envc.compiler.ir_verify.IRVerifyError: with `ctx.verify`, when a pass breaks an IR
            invariant (the message names the pass).
    """
    ctx = ctx or PassContext()
    if ctx.verify:
        _verified(module, "check")
    if ctx.after == "check":
        return module
    lowering = ctx.lower or ctx.after in {p.NAME for p in LOWERING}
    return _run_list([*PASSES, *(LOWERING if lowering else [])], module, ctx)


def lower(module: ir.Module, ctx: PassContext | None = None) -> ir.Module:
    """Run the passes of `LOWERING` on a module that has been through `PASSES`: the IR the
    array backends consume. Running it twice gives the same module as running it once.

    Raises:
        envc.compiler.ir_verify.IRVerifyError: with `ctx.verify`, when a pass breaks an IR
            invariant (the message names the pass).
    """
    return _run_list(LOWERING, module, ctx or PassContext())


def _run_list(passes: list[ModuleType], module: ir.Module, ctx: PassContext) -> ir.Module:
    for p in passes:
        if p.NAME not in ctx.disabled:
            module = p.run(module, ctx)
            if ctx.verify:
                _verified(module, p.NAME)
        if ctx.after == p.NAME:
            break
    return module


def _verified(module: ir.Module, after: str) -> None:
    from envc.compiler.ir_verify import IRVerifyError

    try:
        ir.verify(module)
    except IRVerifyError as e:
        raise IRVerifyError([f"after `{after}`: {p}" for p in e.problems]) from None


def load(path: str, ctx: PassContext | None = None) -> ir.Module:
    """Parse and check the spec at `path` (with its fill file, if any) and run the passes.

    Raises:
        DiagnosticError: a missing file, a syntax error, or any checking error.
    """
    from envc.compiler.check import load_checked

    return run(load_checked(path), ctx)
