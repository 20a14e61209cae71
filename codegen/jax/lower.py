"""Lowering of the typed IR to the body of a branchless JAX module.

Public surface: `Lowering(module).run() -> LoweredModule` (the pieces the template lays out).

How each construct lowers (decisions here, layout in `templates/env.py.j2`):
- the state is a dict `st` of arrays, copied by every generated function that changes it,
  so the code is pure and traceable; spec locals are Python locals (`v_` + the name, `lv`),
  and a branch or loop function takes the live ones as parameters and returns them;
- integers are stored in their narrowest dtype and computed in int32 (`_i32`), stored
  back with `_cast`; floats are float32. An integer known while tracing (an unrolled loop's
  variable, a literal, a parameter or local bound only to such values) stays a Python int
  (`_i32`, and `_lcast` for locals and parameters; state fields are always arrays), so that
  a read indexed by it is a static slice, not a `dynamic_slice` with its bounds arithmetic,
  and a condition made of it is decided while tracing (decision, issue 18's compile time:
  the TCG's unrolled `for q`/`for s` loops called procs with constant slots; its traced step
  went from 83,233 to 63,189 jaxpr equations; those loops weigh over `HEAVY_BODY` since it is
  40 and are rolled now, which measured faster still). The checker's ranges keep such values
  inside int32, so Python's unbounded ints compute the same; a traced index reads through
  `_ix` and stores through `_iset` (`Lowering.at`), which skip jnp's negative-index wrap
  since the checker proves every index in range (runtime.py, the decision above `_ix`);
- `if`/`else` becomes two traced branch functions whose results are merged by `_select`
  (`jnp.where` per changed leaf): no Python branching on traced values, but a condition decided
  while tracing (a Python bool) traces only its arm (`_branch`, thunks); an `elif` chain or
  a `match` becomes one branch function per arm at the same depth, merged by one
  `_select_first` (`chain`), unless a condition draws (then each `elif` nests in the `else`);
  an arm weighing at least `HEAVY_ARM` goes through `_branch_any`/`_select_first_any`: when
  the rollout steps a batch under its rows axis (runtime `_rows_vmap`), it runs under a
  `lax.cond` on whether any row of the batch takes it (a `psum` over the rows, the same for
  every row, so the `cond` stays a real branch), elsewhere as above;
- `for` loops of at most `UNROLL` iterations unroll, longer ones and those whose body weighs
  more than `HEAVY_BODY` IR nodes (called functions included) become `lax.fori_loop`, or
  `lax.while_loop` when the body is `if flag { ... }` (a `while`, a `break`: `_go_flag`);
- comprehensions and reductions over `lo..hi` become `jax.vmap` over `jnp.arange` (of a
  `lambda`, or of a named function `_gN` when the body is long or has temporaries: `_vmap`)
  (float sums stay sequential so that rounding matches the interpreter); a read in them
  whose indices are functions of constants and the comprehension variables only is
  computed at lowering time into a view or a constant-index gather, hoisted, and passed
  through the `vmap` levels as a mapped argument (`static_read`); a one-`return` fn called
  with a comprehension variable is inlined first (`inline_call`), and a reduction of at most
  `SMALL_REDUCE_UNROLL` terms inside a comprehension that indexes with its variable is
  unrolled, so that each term's read is over the enclosing comprehension alone
  (`_unroll_small`); a fn with a loop called there runs inline, straight-line, with its
  loops unrolled (`inline_walk`), and a read it makes only where static conditions hold
  (othello's `board[RAY[c][d][k]]` where `k < REACH[c][d]`) becomes shifted slices of the
  padded array when its indices are a shift of the nest's cell there (`_shift_view`);
- `return` in a `fn` becomes a (`_done`, `_ret`) pair of locals, so returns may sit in branches;
- random draws thread the RNG counter through `st` in the interpreter's evaluation order
  (the checker keeps draws out of conditional expressions and generator bodies);
- runtime faults (a list index past the length, a take from an empty list, a push onto a full
  one, `insert`/`remove_at` out of range, `fail`) are recorded, not raised: where the
  interpreter's check would fail, `st["_fault"]` (int32[3]) becomes `[1 + site, a, b]` with
  the site numbered by the pass `number_faults`, unless a fault is already recorded (the first
  wins), branchlessly (`_fault_at`, a `jnp.where`; a branch not taken, the untaken side of a
  conditional expression and the skipped right side of `and`/`or` record nothing). In
  functions that return `st` (actions, procs, `init`, the epilogue) and in fns: a fn that
  holds a site, or calls one that does (`_fault_fns`), returns `(value, st["_fault"])`, its
  first fault (zeros for none), and its call records that fault on the call's path
  (`merge_fault`: `_fault_put` into `st`, or into the caller's own fault if the caller is a
  fn). Comprehension bodies too: a `vmap` level with a site returns `(value, _flt)` per
  element (`_fault_in`), and the fault of the first element in index order whose fault is
  set (`_first_fault`: the interpreter evaluates every element in order and raises at the
  first failing one) is recorded on the comprehension's path; a value hoisted out of a nest
  (`_outside`) has its fault recorded where it is read, on the read's path. Guards and
  `observe` too: a mask function whose guard may fault (`guard_faults`) returns `(mask,
  fault)`, `_legal_action_mask` the first fault kind by kind, `_observe` `(observation,
  fault)`, and the template's `_finish` records the guards' fault (unless terminated), then
  `observe`'s, in the state: the interpreter evaluates both on every state `init` and `step`
  make, so such a fault is the step's (a joint turn records player p's guard fault once
  players 0..p-1 committed legal actions). A guard that may fault is not reused by another
  kind's mask (`mask_reuse`): the interpreter evaluates it inside that guard. Not recorded:
  a fault in an invariant, in `observe`/`legal_action_masks` called on their own (for
  another player than the step's), and a
  guard fault of a state an auto-reset replaces after truncation (README "Runtime faults").
  A module without fault sites has no `_fault` field and no fault code, and a fn, guard or
  `observe` without a site is lowered as before;
- actions dispatch on the action kind with the runtime's `_switch` (every branch, then a
  select); the legal-action mask of a kind is its guard as one comprehension over the
  kind's flat indices (`m_<kind>`), each parameter replaced by its decoding
  (`decoded_guard`); a part of a guard that is another kind's guard (`legal(place(c))`)
  reads that kind's mask, computed once before (`envc.compiler.passes.mask_reuse`,
  `mask_read`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from math import prod

import numpy as np

from envc.codegen import INDENT, SPLIT_HEIGHT, Emitter, Heights
from envc.codegen.escape import py_comment, py_doc, py_float, py_ident, py_str
from envc.compiler import budget, builtins, ir, irutil
from envc.compiler.actions import ActionSpace, decode_param
from envc.compiler.passes import mask_reuse, number_faults, prefix_loops, simultaneous
from envc.compiler.pipeline import PREFIX_WALKS

UNROLL = 8
# a loop body weighing more than this (IR nodes, called functions included) is not unrolled:
# tracing and compiling N copies of a large body costs more than the loop (a game's turn that
# plays each player's action through the same big procedure). Decision (issue 18, 2026-12-02,
# bench/RESULTS.md "Loops rolled from a body weight of 40"): 40, was 200. Rolled, the loops of
# weight 41-200 (othello's `flips` walk and `place` directions, the TCG's per-slot and
# per-player loops, one Pokémon loop) gave identical rollouts, the TCG 1.72x the SPS at batch
# 1024 (1.88x at 64) and 0.70x the compile, othello 1.16x and 0.38x; a body of 40 or less keeps
# unrolling (its loop variable a Python int: static reads, constant slots). A limit of 20 compiled
# the TCG faster still (0.60x) but ran it slower than 40 (1.59x).
HEAVY_BODY = 40
# an `if` arm weighing at least this (IR nodes, called functions included) is run under
# `lax.cond` on whether any row of the batch takes it, when the rollout steps the batch under
# the rows axis (runtime `_branch_any`, `_select_first_any`); lighter arms stay branchless,
# where a `cond`'s fixed cost and the fusion it breaks would outweigh the arm. Decision: see
# bench/RESULTS.md, "Heavy arms under lax.cond".
HEAVY_ARM = 40
# a comprehension body longer than this (characters), or with temporaries, is a named function
# (`_vmap`), not a `lambda`
LAMBDA_WIDTH = 60
MAX_INDENT = 40  # a branch or loop function deeper than this is defined at module level (Python allows 100 levels)
CHAIN_SPLIT = 16  # a chain of `+`, `min`, `max` operands is bound to a temporary every this many terms
FLOAT_SUM_UNROLL = 64  # a float sum of at most this many terms is one chain of `+`; a longer one a `_fsum` scan
SMALL_REDUCE_UNROLL = 4
# the most statements an inlined fn runs once its loops are unrolled (`inline_walk`); othello's
# `flips` runs 7 steps of 6 statements
WALK_INLINE_STEPS = 256
WALK_REDUCE_UNROLL = 8  # a reduction calling such a fn with its variable unrolls up to this many terms
SPLIT_MAX = 16  # the most groups a comprehension of one call is built in (`_split_divisor`)
# the state's record of the first runtime fault, `[1 + site, a, b]` (int32[3], zeros for none),
# only in the state of a module with a fault site (`record_fault`)
FAULT_FIELD = "_fault"


def ident(name: str) -> str:
    """The Python name of a spec local or parameter (`v_` + name: never a keyword, a builtin,
    a runtime helper or a name of the generated code such as `st`, `lv`, `index`, `jnp`)."""
    return py_ident("local", name)


def lv(key: str) -> str:
    """The Python name of the local with key `key` (`Lowering.declare`): `v_` + the key for a
    spec local (`ident`), `_` + the rest for the lowering's own (`#ret` -> `_ret`). Locals are
    Python locals, as in hand-written JAX; a branch or loop function takes the live ones as
    parameters and returns them (`arm`, `s_for`), so that no function reads a local of another."""
    return "_" + key[1:] if key.startswith("#") else ident(key)


def tup(names: list[str]) -> str:
    """Python code of the tuple of `names` (`()`, `(a,)`, `(a, b)`)."""
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


# keys of the lowering's own locals and of generator variables it makes: `#` is not in any
# spec name, so these never equal a spec local
_RET, _DONE, _INDEX = "#ret", "#done", "#index"


@dataclass
class LoweredModule:
    constants: list[tuple[str, str]]
    functions: list[str]
    state_fields: list[tuple[str, str, str]]  # name, dtype spec code, default code
    actions: list[dict]
    num_actions: int
    num_players: int
    turn_limit: int | None  # the `step_count` at which `_step_end` truncates (None: the epilogue decides)
    step_max: int
    observation_dtypes: str
    invariants: list[tuple[str, str]]
    has_guard: list[bool] = field(default_factory=list)
    has_epilogue: bool = False
    # a lowered simultaneous spec: (the state field of the chosen actions, of the turn count)
    simultaneous: tuple[str, str] | None = None
    time_limit: tuple[str, int] | None = None  # `simultaneous.time_limit`: (counting field, limit)
    resume: dict | None = None  # `choose`: how a decision resumes its action (`Lowering.resume_info`)
    # masks read by other kinds' masks (`mask_reuse`): (variable, call), computed first in this order
    mask_lets: list[tuple[str, str]] = field(default_factory=list)
    prefix_walks: bool = False  # some loop is lowered by `_prefix_walk` (its runtime block is pasted)
    helpers: frozenset[str] = frozenset()  # the runtime helpers the lowered code calls (`Lowering.rt`)
    # the variables of `_legal_action_mask` holding the faults of the kinds whose guard holds a
    # fault site, in kind order (it then returns `(mask, first fault)`); `_observe` returns
    # `(observation, fault)` when `observe_faults` (`Lowering.guard_faults`)
    mask_faults: list[str] = field(default_factory=list)
    observe_faults: bool = False
    # the rollout steps each action kind's branch on its own rows by default (`kind_rows`)
    kind_rows: bool = False
    # the span of the guessed effect numbers (`compiler.row_keys`) that `_step_rows` sorts a
    # kind's rows by (each action's `key` function returns 0..row_key_span - 1); 0: no keys
    row_key_span: int = 0


@dataclass
class _Level:
    """One `jax.vmap` level of a comprehension nest being lowered: its variable, range and
    Python name, and the extra mapped arguments (hoisted static reads) its lambda takes."""

    var: str
    lo: int
    hi: int
    py: str
    uid: int
    params: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    prelude: list[str] = field(default_factory=list)  # statement lines of its function before the `return`
    # a fault site is evaluated in its body: its function returns `(body, _flt)`, the element's
    # first fault (int32[3]), and the level keeps the first element's (`record_fault`, `_vmap`)
    faults: bool = False
    # every value its body computes per element is a scalar, by elementwise operations only:
    # the body then runs once on the whole range, without `jax.vmap` (`_vmap`, `_not_elementwise`)
    elementwise: bool = True


@ir.handles_all("x_", "s_", skip_stmts=ir.INTERPRETER_ONLY_STMTS)
class Lowering:
    def __init__(self, module: ir.Module, walks: str = "off", line_views: bool = True,
                 row_keys: dict[str, ir.Expr] | None = None):
        """`walks`: how loops of the prefix-AND shape (`prefix_loops`) are lowered: "off" (as
        any loop), "vmap" (`prefix_walk`) or "predicated" (`predicated_walk`); the last two
        are measurements of issue 18's mechanism 1, not faster on CPU (bench/RESULTS.md).
        `line_views` (default on; off only to measure against): a fn with a loop called in a
        comprehension nest is run inline (`inline_walk`) and a read there that is a shift of
        the nest's cell where it is used becomes slices of the padded array (`_shift_view`):
        issue 18's mechanism 2, 1.33x othello's rollout SPS at batch 1024 (bench/RESULTS.md).
        `row_keys`: each action's guessed effect number (`compiler.row_keys.row_key`, computed
        on the module before `LOWERING`), by action name; a function per key is generated
        (`rk_<action>`, `key_function`) that the rollout sorts a kind's rows by."""
        if walks not in PREFIX_WALKS:
            raise ValueError(f"walks must be one of {PREFIX_WALKS}, not {walks!r}")
        self.m = module
        self._walk_mode = walks
        self.row_keys = row_keys or {}
        self.key_span = 0  # the widest span of the key functions generated (`key_function`)
        self.line_views = line_views
        self.space = ActionSpace(module)
        self.constants: list[tuple[str, str]] = []
        self._const_names: dict[str, str] = {}
        self.functions: list[str] = []
        self.n = 0
        self.out: Emitter = Emitter()
        self.scope: list[tuple[str, str]] = []  # (source name, key in `lv`) of live locals, innermost last
        self.pyvars: dict[str, str] = {}  # generator variables bound to Python names
        self.levels: list[_Level] = []  # the comprehension nest being lowered, outermost first
        self._reads: dict[tuple, str] = {}  # static reads already hoisted, per nest
        self.split_builds: list[tuple[str, int]] = []  # (fn, C) of each comprehension built in groups (`_split_build`)
        self._uid = 0
        self._inline_depth = 0
        # locals bound or assigned a value that is not `cheap` (their keys; `_note_cheap`)
        self._heavy_locals: set[str] = set()
        # static conjuncts of the conditions around an inlined fn's arm (`inline_walk`):
        # (nest depth when pushed, bool arrays over the nest to that depth)
        self._care: list[tuple[int, list]] = []
        self._heights = Heights()
        self._lifted: list[str] = []  # branch and loop functions defined at module level
        # loops that walk until a flag goes false (issue 18, mechanism 1), by the loop's id
        found = prefix_loops.find(module) if walks != "off" else []
        self._walks = {id(w.loop): w for w in found if w.reason is None and w.loop is not None}
        self._walked = False  # some loop was lowered by `prefix_walk`
        # faults (`record_fault`): the function being lowered records faults (it returns `st`:
        # an action, proc, `init`, the epilogue; or it is a fn holding a fault site, which
        # returns `(value, fault)`), and the conditions under which the expression being
        # lowered is evaluated by the interpreter (a `Cond`'s branch, the right side of
        # `and`/`or`), since the innermost comprehension level's start
        self._records = False
        self._path: list[str] = []
        self.fault_fns = _fault_fns(module)
        self.helpers: set[str] = set()  # runtime helpers called by the code emitted so far (`rt`)
        self._guard_faults: set[int] = set()  # kinds whose mask function returns a fault (`guard_faults`)
        # faults of values hoisted out of a comprehension nest (`_outside`): (nest depth, variable
        # or None before the first fault)
        self._captures: list[tuple[int, str | None]] = []

    # ------------------------------------------------------------ helpers
    def record_fault(self, site: number_faults.Site | None, cond: str, a: str = "0", b: str = "0") -> None:
        """Emit `st = _fault_at(st, cond, 1 + id, a, b)`: the state's `_fault` records fault site
        `site` (numbered by the pass `number_faults`) with values `a`, `b` where `cond` holds,
        the expression is on the interpreter's path (`_path`) and no fault is recorded yet.
        Inside a comprehension level, the level's own `_flt` records it instead
        (`_fault_in`), and `_vmap` keeps the first element's.

        Only where the lowered function records faults (`recording`): not in a guard,
        `observe` or an invariant (the module docstring says so)."""
        if not self.recording() or site is None:
            return
        code = number_faults.site_id(self.m, site) + 1
        where = " & ".join([*(f"({c})" for c in self.live_path()), f"({cond})"])
        self._record("_fault_in", "_fault_at", f"{where}, {code}, {a}, {b}")

    def merge_fault(self, fault: str) -> None:
        """Record fault `fault` (code of an int32[3], zeros for none: a fn call's or a
        comprehension's) where the expression is on the interpreter's path and no fault is
        recorded yet: in `st` (`_fault_put`), or in the innermost level's `_flt`."""
        where = " & ".join(f"({c})" for c in self.live_path()) or "True"
        self._record("_fault_join", "_fault_put", f"{where}, {fault}")

    def live_path(self) -> list[str]:
        """The conditions under which the interpreter runs the code being lowered: `_path`, and,
        in a `fn` that may have returned already (its `_done` local), that it has not. The
        statements after a `return` run here too (their values are dropped by `s_return`'s
        select), so a fault they meet is not the interpreter's: `if len(xs) < 2 { return -1 }`
        then `return xs[1]` read past the list's end on every path in JAX. Inside a
        comprehension level the level's fault is merged where the level stands, with this
        condition then (`merge_fault`), so only the top level adds it."""
        if self.levels or self._capturing() or _DONE not in (source for source, _ in self.scope):
            return self._path
        return [*self._path, f"jnp.logical_not({lv(self.key(_DONE))})"]

    def _record(self, into_fault: str, into_state: str, args: str) -> None:
        """Emit one recording of a fault, `helper(target, args)`, into the first of: the capture
        of a value hoisted out of a nest (`_captured`), the innermost level's `_flt`, `st`.
        `into_fault` is the runtime helper that takes and returns an int32[3] (`_fault_in`,
        `_fault_join`), `into_state` its twin on the state (`_fault_at`, `_fault_put`)."""
        captured = self._captured()
        if captured is not None:
            self._at_depth(f"{captured} = {self.rt(into_fault)}({captured}, {args})")
            return
        if self.levels:
            self._level_fault().prelude.append(f"_flt = {self.rt(into_fault)}(_flt, {args})")
            return
        self.emit(f"st = {self.rt(into_state)}(st, {args})")

    def _captured(self) -> str | None:
        """The variable that captures the faults of a value hoisted out of a comprehension nest
        (`_outside`) when the code being lowered is at its depth, started (zeros) at first use;
        else None."""
        if not self._capturing():
            return None
        depth, name = self._captures[-1]
        if name is None:  # (named at first use: a module without such faults keeps its names)
            name = self.fresh("_hf")
            self._at_depth(f"{name} = jnp.zeros(3, jnp.int32)")
            self._captures[-1] = (depth, name)
        return name

    def _capturing(self) -> bool:
        """Whether the code being lowered is at the depth of the innermost capture (`_captured`)."""
        return bool(self._captures) and self._captures[-1][0] == len(self.levels)

    def _at_depth(self, line: str) -> None:
        """Statement `line` where the code being lowered runs: the innermost level's function, or here."""
        if self.levels:
            self.levels[-1].prelude.append(line)
        else:
            self.emit(line)

    def _level_fault(self) -> _Level:
        """The innermost comprehension level, its `_flt` (no fault yet) started if it was not."""
        level = self.levels[-1]
        if not level.faults:
            level.faults = True
            level.prelude.insert(0, "_flt = jnp.zeros(3, jnp.int32)")
        return level

    def recording(self) -> bool:
        """True where `record_fault` emits code: the module has a fault site and the function
        being lowered records faults (it threads `st`: an action, a proc, `init`, the
        epilogue; or it is a fn holding a site, `_fault_fns`), comprehension bodies included."""
        return bool(self.m.fault_sites) and self._records

    def fault_temp(self, code: str) -> str:
        """`code` bound to a temporary when faults are recorded here (the check and the fault's
        values read it, not a second copy of the code), else `code` itself."""
        if not self.recording() or code.isidentifier() or code.lstrip("-").isdigit():
            return code
        name = self.fresh("_f")
        self._at_depth(f"{name} = {code}")
        return name

    def on_path(self, cond: str, e: ir.Expr) -> str:
        """`ex(e)` for an expression the interpreter evaluates only where `cond` holds."""
        self._path.append(cond)
        try:
            return self.ex(e)
        finally:
            self._path.pop()

    def rt(self, name: str) -> str:
        """`name`, a helper of the pasted runtime (codegen/jax/runtime.py), recorded as used:
        only the helpers that the generated code calls are pasted (`LoweredModule.helpers`)."""
        self.helpers.add(name)
        return name

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def emit(self, line: str) -> None:
        self.out.emit(line)

    def hoist(self, prefix: str, code: str) -> str:
        """A module-level constant holding `code` (deduplicated)."""
        if code in self._const_names:
            return self._const_names[code]
        name = f"_{prefix}{len(self.constants)}"
        self.constants.append((name, code))
        self._const_names[code] = name
        return name

    @staticmethod
    def leaf_dtype(t: ir.Type) -> str:
        dtype = ir.storage_dtype(t)
        return "jnp.bool_" if dtype == "bool" else f"jnp.{dtype}"

    def dtypes(self, t: ir.Type) -> str:
        """Code of the pytree of dtypes of a value of type `t` (for `_cast`)."""
        if isinstance(t, ir.ArrayT):
            return self.dtypes(t.elem)
        if isinstance(t, ir.RecordT):
            rec = self.m.record(t.name)
            inner = ", ".join(f"{py_str(f.name)}: {self.dtypes(f.type)}" for f in rec.fields)
            return self.hoist("DT", "{" + inner + "}")
        if isinstance(t, ir.ListT):
            return self.hoist("DT", '{"items": ' + self.dtypes(t.elem) + ', "len": jnp.int32}')
        return self.leaf_dtype(t)

    @staticmethod
    def is_leaf(t: ir.Type) -> bool:
        """True when values of `t` are single arrays (scalars or arrays of scalars)."""
        while isinstance(t, ir.ArrayT):
            t = t.elem
        return isinstance(t, (ir.BoolT, ir.IntT, ir.FloatT, ir.EnumT, ir.RowT))

    # ------------------------------------------------------------ constant values
    def soa(self, t: ir.Type, v):
        """A value as a struct of arrays: leaves are (dtype, nested python list)."""
        if isinstance(t, ir.ArrayT):
            parts = [self.soa(t.elem, x) for x in v]
            return _stack_parts(parts)
        if isinstance(t, ir.RecordT):
            return {f.name: self.soa(f.type, v[f.name]) for f in self.m.record(t.name).fields}
        if isinstance(t, ir.ListT):
            zero = ir.raw_zero(self.m, t.elem)
            padded = list(v) + [zero] * (t.cap - len(v))
            return {"items": self.soa(ir.ArrayT(elem=t.elem, size=t.cap), padded), "len": ("jnp.int32", len(v))}
        if isinstance(t, ir.FloatT):
            return ("jnp.float32", float(v))
        if isinstance(t, ir.BoolT):
            return ("jnp.bool_", bool(v))
        return (self.leaf_dtype(t), int(v))

    def value_code(self, t: ir.Type, v) -> str:
        """Code for a constant value of type `t` (arrays hoisted to module constants)."""
        return self._emit_soa(self.soa(t, v))

    def _emit_soa(self, s) -> str:
        if isinstance(s, dict):
            return "{" + ", ".join(f"{py_str(k)}: {self._emit_soa(x)}" for k, x in s.items()) + "}"
        dtype, data = s
        if isinstance(data, list):
            np_dtype = dtype.replace("jnp.", "np.")
            return self.hoist("K", f"jnp.asarray(np.array({_py_data(data)}, dtype={np_dtype}))")
        if dtype == "jnp.bool_":
            return f"jnp.bool_({data})"
        return f"{dtype}({_py_data(data)})"

    # ------------------------------------------------------------ expressions
    def ex(self, e: ir.Expr) -> str:
        if self.levels and not _scalar(e.type):
            self._not_elementwise()
        code = getattr(self, "x_" + e.kind)(e)
        if self._heights.split(e) and not _atom(code):
            code = self.bind(code)
        return code

    def _not_elementwise(self) -> None:
        """The comprehension level being lowered computes something other than scalars by
        elementwise operations (an array or record value per element, a gather through a chain
        of indices, a call of a fn, a nested level): it stays a `jax.vmap` (`_vmap`)."""
        self.levels[-1].elementwise = False

    def bind(self, code: str) -> str:
        """A temporary holding `code` (a statement where it is used, or of the function of the
        comprehension level being lowered, `_vmap`): deep expressions stay shallow in the output."""
        tmp = self.fresh("_e")
        if self.levels:
            self.levels[-1].prelude.append(f"{tmp} = {code}")
        else:
            self.emit(f"{tmp} = {code}")
        return tmp

    def x_const(self, e: ir.Const) -> str:
        t = e.type
        if isinstance(t, ir.BoolT):
            return "True" if e.value else "False"
        if isinstance(t, (ir.IntT, ir.EnumT, ir.RowT)):
            return str(int(e.value))
        if isinstance(t, ir.FloatT):
            return f"jnp.float32({py_float(e.value)})"
        return self.value_code(t, e.value)

    def x_local(self, e: ir.Local) -> str:
        if e.name in self.pyvars:
            return self.pyvars[e.name]
        return lv(self.key(e.name))

    def x_state(self, e: ir.StateGet) -> str:
        return f"st[{py_str(e.name)}]"

    def x_get_field(self, e: ir.GetField) -> str:
        soa = self.soa_read(e)
        if soa is not None:
            return soa
        return f"{self.ex(e.base)}[{py_str(e.name)}]"

    def soa_read(self, e: ir.Expr) -> str | None:
        """A read through an array of records, `x[i][j].f[k]`, as one index of one leaf,
        `x["f"][(i, j, k)]` (arrays of records are stored as records of arrays, every array
        dimension in front), instead of indexing every field of the records on the way; None
        for other reads (no record under an index, or a list on the way)."""
        chain = []
        node = e
        while isinstance(node, (ir.GetIndex, ir.GetField)):
            chain.append(node)
            node = node.base
        chain.reverse()
        fields: list[str] = []
        index_steps: list[ir.GetIndex] = []
        record_in_array = False
        for step in chain:  # decide before emitting anything: an index may draw
            if isinstance(step, ir.GetField):
                record_in_array = record_in_array or bool(index_steps)
                fields.append(step.name)
            elif isinstance(step.base.type, ir.ArrayT):
                index_steps.append(step)
            else:
                return None
        if not record_in_array:
            return None
        code = self.ex(node) + "".join(f"[{py_str(f)}]" for f in fields)
        indices = [self.ex(step.index) for step in index_steps]
        at = indices[0] if len(indices) == 1 else f"({', '.join(indices)})"
        return f"{code}[{at}]" if self.is_leaf(e.type) else f"{self.rt('_get')}({code}, {at})"

    def x_get_index(self, e: ir.GetIndex) -> str:
        if self.levels:
            hoisted = self.static_read(e)
            if hoisted is not None:
                return hoisted
        soa = self.soa_read(e)
        if soa is not None:
            if self.levels:
                self._not_elementwise()
            return soa
        base = self.ex(e.base)
        idx = self.index(e.index)
        bt = e.base.type
        if isinstance(bt, ir.ListT):
            if not e.unchecked:
                idx, length = self.fault_temp(idx), self.fault_temp(f'{base}["len"]')
                self.record_fault(number_faults.site_of(e), f"{idx} >= {length}", idx, length)
            if self.is_leaf(bt.elem):
                return self.at(f'{base}["items"]', idx)
            return f"{self.rt('_lget')}({base}, {idx})"
        if self.is_leaf(bt):
            return self.at(base, idx)
        return f"{self.rt('_get')}({base}, {idx})"

    def at(self, base: str, idx: str) -> str:
        """The code of leaf `base` read at index code `idx` (in range: the checker's proof): a
        literal index is a static slice, else `_ix` (no negative wrap; runtime.py)."""
        return f"{base}[{idx}]" if idx.isdigit() else f"{self.rt('_ix')}({base}, {idx})"

    def x_table_get(self, e: ir.TableGet) -> str:
        table = self.m.table(e.table)
        col = next(c for c in table.columns if c.name == e.column)
        arr = self.value_code(ir.ArrayT(elem=col.type, size=len(col.values)), col.values)
        row = self.index(e.row)
        return self.at(arr, row) if self.is_leaf(col.type) else f"{self.rt('_get')}({arr}, {row})"

    def x_unary(self, e: ir.Unary) -> str:
        v = self.ex(e.operand)
        if e.op == "not":
            return f"jnp.logical_not({v})"
        if isinstance(e.type, ir.IntT):
            return f"(-{self.int32(e.operand, v)})"
        return f"(-{v})"

    def index(self, e: ir.Expr) -> str:
        """Code of index expression `e` in int32: JAX computes `i + size` for negative indices in
        the index's own dtype, so an int8 index into an array of 128 overflows (`int[0..1][128]`)."""
        return self.int32(e, self.ex(e))

    def int32(self, e: ir.Expr, code: str) -> str:
        """`code` as int32: arithmetic runs in int32 whatever the storage dtype."""
        if isinstance(e, ir.Const) or code.lstrip("-").isdigit() or code in self.pyvars.values():
            return code
        if isinstance(e, ir.Binary) and e.op in ("add", "sub", "mul", "div", "mod"):
            return code
        if isinstance(e, ir.Builtin) and e.name in ("min", "max", "abs", "clamp", "int", "count", "len"):
            return code
        if isinstance(e, (ir.Reduce, ir.RandomInt, ir.RandomPick)) or (isinstance(e, ir.Unary) and e.op == "neg"):
            return code
        return f"_i32({code})"

    def x_binary(self, e: ir.Binary) -> str:
        a = self.ex(e.left)
        op = e.op
        # the interpreter skips the right side once the left decides, unless it draws
        skipped = op in ("and", "or") and ir.first_draw(e.right) is None
        b = self.on_path(a if op == "and" else f"jnp.logical_not({a})", e.right) if skipped else self.ex(e.right)
        if op in ("and", "or"):
            return f"jnp.logical_{op}({a}, {b})"
        sym = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}.get(op)
        if sym is not None:
            if isinstance(e.left.type, ir.IntT) and isinstance(e.right.type, ir.IntT):
                return f"({self.int32(e.left, a)} {sym} {self.int32(e.right, b)})"
            return f"({a} {sym} {b})"
        if isinstance(e.type, ir.FloatT):
            fsym = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[op]
            return f"({a} {fsym} {b})"
        a, b = self.int32(e.left, a), self.int32(e.right, b)
        if op == "div":
            return f"jnp.floor_divide({a}, {b})"
        if op == "mod":
            return f"jnp.remainder({a}, {b})"
        return f"({a} {({'add': '+', 'sub': '-', 'mul': '*'})[op]} {b})"

    def x_cond(self, e: ir.Cond) -> str:
        c = self.ex(e.cond)
        a = self.on_path(c, e.then)
        b = self.on_path(f"jnp.logical_not({c})", e.orelse)
        if self.is_leaf(e.type):
            if isinstance(e.type, ir.IntT):
                a, b = self.int32(e.then, a), self.int32(e.orelse, b)
            return f"jnp.where({c}, {a}, {b})"
        return f"_select({c}, {a}, {b})"

    def x_call_fn(self, e: ir.CallFn) -> str:
        if e.fn.startswith(mask_reuse.PREFIX):
            return self.mask_read(e)
        inlined = self.inline_call(e)
        if inlined is not None:
            return self.ex(inlined)
        walked = self.inline_walk(e) if self.line_views else None
        if walked is not None:
            return walked
        if self.levels:  # (the fn's body may index, loop or branch on its arguments)
            self._not_elementwise()
        args = "".join(", " + self.ex(a) for a in e.args)
        call = f"{py_ident('fn', e.fn)}(st{args})"
        if e.fn not in self.fault_fns:
            return call
        # a fn holding a fault site returns (value, fault): its fault is recorded on this
        # call's path, after its arguments' (the interpreter evaluates them first)
        result = self.bind(call)
        if self.recording():
            self.merge_fault(f"{result}[1]")
        return f"{result}[0]"

    def mask_read(self, e: ir.CallFn) -> str:
        """`#legal_<kind>(args)` (`envc.compiler.passes.mask_reuse`): the kind's mask, passed
        to this mask function as `mv_<kind>`, at the flat index of `args` (the layout of
        `envc.compiler.actions.ActionSpace`; the pass only matches arguments whose ranges lie
        in the parameters', so the index is in range)."""
        name = e.fn[len(mask_reuse.PREFIX):]
        kind = next(k for k in self.space.kinds if k.name == name)
        terms, stride = [], kind.size
        for p, dom, a in zip(kind.params, kind.domains, e.args):
            stride //= len(dom)
            code = self.ex(a)
            if isinstance(p.type, ir.BoolT):
                code = f"_i32({code})"
            elif dom[0]:
                code = f"({self.int32(a, code)} - {dom[0]})"
            else:
                code = self.int32(a, code)
            terms.append(f"{code} * {stride}" if stride != 1 else code)
        return f"{py_ident('mask_value', name)}[{' + '.join(terms) or '0'}]"

    def inline_call(self, e: ir.CallFn) -> ir.Expr | None:
        """The body of `fn` call `e` with its arguments substituted, when the call sits in a
        comprehension nest, an argument depends on the nest, and the fn is one `return` of a
        draw-free expression whose parameters' ranges hold every argument (so the
        parameter's cast is the identity). Inlined, the fn's reads can be indexed statically
        (`static_read`): `all(filled(c) == ROWS for c in 0..COLS)` reads the board as
        `board.reshape((6, 7)).transpose((1, 0))` instead of seven gathers. Else None."""
        if not self.levels or self._inline_depth >= 8:
            return None
        fn = self.m.fn(e.fn)
        if fn.ret is None or len(fn.body) != 1 or not isinstance(fn.body[0], ir.Return):
            return None
        body = fn.body[0].value
        if ir.first_draw(body) is not None or any(ir.first_draw(a) is not None for a in e.args):
            return None
        if not any(self._mentions_nest(a) for a in e.args):
            return None
        if not all(irutil.holds(p.type, a.type) for p, a in zip(fn.params, e.args)):
            return None
        self._inline_depth += 1
        try:
            return self._substitute(body, {p.name: a for p, a in zip(fn.params, e.args)})
        finally:
            self._inline_depth -= 1

    def inline_walk(self, e: ir.CallFn) -> str | None:
        """The value of `fn` call `e` with the fn's body run here, straight-line, when the call
        sits in a comprehension nest, an argument depends on the nest, every parameter's range
        holds its argument, and the body is `let`s, assignments to its own locals, `if`s and
        `for` loops (unrolled: at most `WALK_INLINE_STEPS` statements in all) before one final
        `return`, none of them drawing (`_walk_size`), with a `for` at its top level (a walk).
        Else None (the call is lowered as a
        call). Issue 18, mechanism 2: othello's `flips(c, d, p)` under the mask's `c` and
        `any(... for d in 0..8)`.

        Each local is a Python temporary (`pyvars`): a `let` binds its value, an assignment
        binds `jnp.where(pred, value, old)` where `pred` is the `and` of the enclosing `if`
        conditions (an `if` splits it in two, its condition read once before either arm, as
        `predicated` does), and a loop variable is the constant of its step. So each read of
        the body whose indices depend only on constants and the nest, as
        `board[RAY[c][d][k]]` at a constant `k`, is a `static_read` over the nest: one view
        or gather per `k` outside the `vmap`s instead of a gather per element inside them.

        Exactness: the interpreter runs each statement on its path only; here every `let` and
        condition is computed on every path, and a value computed off the path reaches a
        local only through `where(pred, ...)` with `pred` false. Evaluating an expression
        off its path changes nothing in JAX: no draw (refused), and a fault is recorded only
        where the path's predicate holds (`_walk_block` puts it on `_path`). While an arm is lowered, the conjuncts of
        the enclosing conditions that depend only on constants and the nest are known over
        the nest (`_care`): a static read there may return anything, in its type's range,
        where they are false (`_shift_view`), since no such value is used."""
        if not self.levels or self._inline_depth >= 8:
            return None
        fn = self.m.fn(e.fn)
        if fn.ret is None or len(fn.body) < 2 or not isinstance(fn.body[-1], ir.Return):
            return None
        if any(ir.first_draw(a) is not None for a in e.args) or not any(self._mentions_nest(a) for a in e.args):
            return None
        if not all(irutil.holds(p.type, a.type) for p, a in zip(fn.params, e.args)):
            return None
        params = {p.name for p in fn.params}
        if not any(isinstance(s, ir.For) for s in fn.body):
            return None  # no walk: a fn of `let`s and `if`s is left as a call (its cost is not measured)
        size = _walk_size(fn.body[:-1], params)
        if size is None or size > WALK_INLINE_STEPS or ir.first_draw(fn.body[-1].value) is not None:
            return None
        self._uid += 1
        rename: dict[str, str] = {name: f"{name}#{self._uid}" for name in _locals_of(fn.body)}
        mapping = {**rename, **{p.name: a for p, a in zip(fn.params, e.args)}}
        saved = dict(self.pyvars)
        self._inline_depth += 1
        try:
            body = [self._substitute(s, mapping) for s in fn.body]
            self._walk_block(body[:-1], None, rename)
            ret = body[-1].value
            code = self.ex(ret)
            return self.int32(ret, code) if isinstance(ret.type, ir.IntT) else code
        finally:
            self._inline_depth -= 1
            self.pyvars.clear()
            self.pyvars.update(saved)

    def _walk_block(self, stmts: list, pred: str | None, rename: dict[str, str]) -> None:
        """Run `stmts` of an inlined fn (`inline_walk`) where the bool code `pred` holds (None:
        always), binding its locals in `pyvars` under their renamed names."""
        if pred is not None:  # (a fault is the interpreter's only where `pred` holds)
            self._path.append(pred)
        try:
            self._walk_stmts(stmts, pred, rename)
        finally:
            if pred is not None:
                self._path.pop()

    def _walk_stmts(self, stmts: list, pred: str | None, rename: dict[str, str]) -> None:
        """`_walk_block`'s statements, in order, on its path."""
        for s in stmts:
            if isinstance(s, ir.Let):
                self.pyvars[rename[s.name]] = self._walk_value(s.value)
            elif isinstance(s, ir.Assign):
                name = rename[s.place.name]
                value = self._walk_value(s.value)
                self.pyvars[name] = value if pred is None else self.bind(f"jnp.where({pred}, {value}, {self.pyvars[name]})")
            elif isinstance(s, ir.For):
                for i in range(s.lo, s.hi):
                    self.pyvars[rename[s.var]] = str(i)
                    self._walk_block(s.body, pred, rename)
            else:
                self._walk_if(s, pred, rename)

    def _walk_value(self, e: ir.Expr) -> str:
        """The code of `e` (int32 if an integer), bound to a temporary unless it is one name."""
        code = self.ex(e)
        if isinstance(e.type, ir.IntT):
            code = self.int32(e, code)
        return code if _atom(code) else self.bind(code)

    def _walk_if(self, s: ir.If, pred: str | None, rename: dict[str, str]) -> None:
        """An `if` of an inlined fn: each arm under its predicate, with the condition's static
        conjuncts (`then`) or the condition's negation when all of it is static (`else`) on
        `_care` while the arm is lowered."""
        c = self._walk_value(s.cond)
        then = c if pred is None else self.bind(f"jnp.logical_and({pred}, {c})")
        static = [v for v in (self._static(x) for x in irutil.conjuncts(s.cond)) if v is not None]
        self._care.append((len(self.levels), static))
        try:
            self._walk_block(s.then, then, rename)
        finally:
            self._care.pop()
        if not s.orelse:
            return
        other = f"jnp.logical_not({c})" if pred is None else self.bind(f"jnp.logical_and({pred}, jnp.logical_not({c}))")
        whole = self._static(s.cond)
        self._care.append((len(self.levels), [] if whole is None else [whole == 0]))
        try:
            self._walk_block(s.orelse, other, rename)
        finally:
            self._care.pop()

    def care(self) -> np.ndarray | None:
        """Where, over the whole comprehension nest (a bool array, one axis per level), the
        static conjuncts of the conditions around the expression being lowered hold (`_care`,
        pushed by `_walk_if`); None when there are none (every element is used)."""
        parts = [v for depth, vs in self._care for v in vs]
        if not parts:
            return None
        shape = tuple(level.hi - level.lo for level in self.levels)
        care = np.ones(shape, dtype=bool)
        for depth, vs in self._care:
            for v in vs:
                care &= (v != 0).reshape(v.shape + (1,) * (len(shape) - depth))
        return care

    def _substitute(self, e, mapping: dict):
        """A copy of IR node `e` with `Local(name)` replaced by `mapping[name]` (an expression,
        or a new name); comprehension variables inside are renamed first, so that no
        argument is captured."""
        if isinstance(e, ir.Local):
            value = mapping.get(e.name, e)
            return e.model_copy(update={"name": value}) if isinstance(value, str) else value
        if isinstance(e, (ir.Reduce, ir.ArrayBuild)):
            self._uid += 1
            renamed = f"{e.var}#{self._uid}"  # `#`: no spec name can capture it
            inner = {**mapping, e.var: renamed}
            return e.model_copy(update={"var": renamed, "body": self._substitute(e.body, inner)})
        update = {}
        for name in type(e).model_fields:
            value = getattr(e, name)
            if isinstance(value, ir.Node) and not isinstance(value, _TYPES):
                update[name] = self._substitute(value, mapping)
            elif isinstance(value, list):
                update[name] = [(x[0], self._substitute(x[1], mapping)) if isinstance(x, tuple)
                                else self._substitute(x, mapping) if isinstance(x, ir.Node) else x for x in value]
        return e.model_copy(update=update) if update else e

    def x_builtin(self, e: ir.Builtin) -> str:
        args = [self.ex(a) for a in e.args]
        name = e.name
        ints = [self.int32(a, c) if isinstance(a.type, ir.IntT) else c for a, c in zip(e.args, args)]
        floats = isinstance(e.type, ir.FloatT)  # (Python's order-dependent float min/max: `_fmin`)
        if name in ("min", "max"):
            fn = self.rt("_f" + name) if floats else "jnp.minimum" if name == "min" else "jnp.maximum"
            return self._chain(ints, fn)
        if name == "abs":
            return f"jnp.abs({ints[0]})"
        if name == "clamp":
            return f"{self.rt('_fclamp') if floats else 'jnp.clip'}({ints[0]}, {ints[1]}, {ints[2]})"
        if name == "int":
            return f"_i32({args[0]})"
        if name == "float":
            return f"jnp.asarray({args[0]}, jnp.float32)"
        if name == "len":
            return f'{args[0]}["len"]'
        if name in ("contains", "count"):
            return self._membership(name, e.args[0].type, args[0], args[1])
        if name in builtins.FLOAT_MATH:
            return f"{builtins.BUILTINS[name].jax}({args[0]})"
        raise AssertionError(name)

    def _chain(self, terms: list[str], fn: str | None = None) -> str:
        """Fold the code strings `terms` left to right into nested binary `fn(a, b)` calls
        (`(a + b)` when `fn` is None), bound to a temporary every `CHAIN_SPLIT` terms, so that
        no generated line holds a deep nest: `min`/`max` builtins, small unrolled reductions
        and in-order float sums (the interpreter's order of additions) all fold this way."""
        code = terms[0]
        for k, t in enumerate(terms[1:], start=1):
            code = f"{fn}({code}, {t})" if fn else f"({code} + {t})"
            if k % CHAIN_SPLIT == 0:
                code = self.bind(code)
        return code

    def _membership(self, name: str, base_t: ir.Type, seq: str, value: str) -> str:
        """`contains(seq, v)` (a bool) or `count(seq, v)` (int32): the runtime's list helper
        (`_lcontains`, `_lcount`: only the first `len` items count) or a comparison over the array."""
        if isinstance(base_t, ir.ListT):
            return f"{self.rt('_l' + name)}({seq}, {value})"
        if name == "contains":
            return f"jnp.any({self.rt('_wide')}({seq}) == {value})"
        return f"jnp.sum({self.rt('_wide')}({seq}) == {value}, dtype=jnp.int32)"

    def _gen(self, var: str, lo: int, hi: int, body: ir.Expr) -> tuple[_Level, str]:
        """Lower a comprehension body at a new `vmap` level; returns the level and the body's
        code, for `_vmap`."""
        py = self.fresh("i")
        saved = self.pyvars.get(var)
        self.pyvars[var] = py
        self._uid += 1
        level = _Level(var, lo, hi, py, self._uid)
        for outer in self.levels:  # (an outer level's variable is a scalar in here only under its `vmap`)
            outer.elementwise = False
        self.levels.append(level)
        saved_path, self._path = self._path, []  # (the level's fault is merged on the outer path, `_vmap`)
        try:
            code = self.ex(body)
        finally:
            self.levels.pop()
            self._path = saved_path
        if saved is None:
            del self.pyvars[var]
        else:
            self.pyvars[var] = saved
        if isinstance(body.type, ir.IntT):
            code = self.int32(body, code)
        return level, code

    def _vmap(self, level: _Level, body: str) -> str:
        """`jax.vmap` of a lowered comprehension body over its range, with the level's hoisted
        reads as extra mapped arguments. A short body without temporaries is a `lambda`; any
        other is a named function `def _gN(i, ...)` (its temporaries as statements, then
        `return body`), defined just before the statement that maps it, or inside the
        function of the enclosing level: no generated line holds a nest of lambdas (issue 15,
        item 6). A function defined there is called at once, where the lambda would be, so
        it reads the same values; its result is a temporary (`bind`). A level whose body is
        `elementwise` (and records no fault) is called once on the whole range instead of
        mapped (the runtime's `_each`: the same values, each operation traced once)."""
        params = ", ".join([level.py, *level.params])
        args = "".join(", " + a for a in level.args)
        arange = f"jnp.arange({level.lo}, {level.hi}, dtype=jnp.int32)"
        direct = level.elementwise and not level.faults
        if not level.prelude and len(body) <= LAMBDA_WIDTH:
            if direct:
                return f"{self.rt('_each')}(lambda {params}: {body}, {arange}{args})"
            return f"jax.vmap(lambda {params}: {body})({arange}{args})"
        name = self.fresh("_g")
        result = f"({body}, _flt)" if level.faults else body
        lines = [f"def {name}({params}):", *(INDENT + line for line in level.prelude), f"{INDENT}return {result}"]
        if self.levels:  # inside the enclosing level's function
            self.levels[-1].prelude.extend(lines)
        else:
            for line in lines:
                self.emit(line)
        # its result a named temporary too: a comprehension does not draw, and its fault is
        # recorded here, where the interpreter evaluates it (in emission order)
        mapper = self.rt("_each") + f"({name}, " if direct else f"jax.vmap({name})("
        mapped = self.bind(f"{mapper}{arange}{args})")
        if not level.faults:
            return mapped
        if level.hi > level.lo:  # (the first element in index order whose fault is set: the interpreter's)
            self.merge_fault(f"{self.rt('_first_fault')}({mapped}[1])")
        return f"{mapped}[0]"

    def unrolled(self, var: str, lo: int, hi: int, body: ir.Expr) -> list[str]:
        """The body's code for each value of `var` in order (draws are emitted in order)."""
        saved = self.pyvars.get(var)
        terms = []
        for i in range(lo, hi):
            self.pyvars[var] = str(i)
            terms.append(self.ex(body))
        if saved is None:
            del self.pyvars[var]
        else:
            self.pyvars[var] = saved
        return terms

    def x_reduce(self, e: ir.Reduce) -> str:
        float_sum = e.op == "sum" and isinstance(e.type, ir.FloatT) and e.hi - e.lo <= FLOAT_SUM_UNROLL
        if float_sum or ir.first_draw(e.body) is not None:
            return self._reduce_in_order(e, float_sum)
        if self._unroll_small(e):
            return self._reduce_small(e)
        level, body = self._gen(e.var, e.lo, e.hi, e.body)
        mapped = self._vmap(level, body)
        if e.op == "sum" and isinstance(e.type, ir.FloatT):  # (longer than FLOAT_SUM_UNROLL: a scan, in order)
            return f"{self.rt('_fsum')}({mapped})"
        if e.op in ("sum", "count"):
            return f"jnp.sum({mapped}, dtype=jnp.int32)"
        return self._min_max(e, mapped)

    def _min_max(self, e: ir.Reduce, terms: str) -> str:
        """`min`/`max` over the vector `terms`: a float one folded in order as the interpreter
        does (`_fold_min`: NaN and signed zeros as Python's `min(list)`)."""
        if isinstance(e.type, ir.FloatT):
            return f"{self.rt('_fold_' + e.op)}({terms})"
        return f"jnp.{e.op}({terms})"

    def _reduce_in_order(self, e: ir.Reduce, float_sum: bool) -> str:
        """A reduction unrolled term by term, in order: a short float sum (added left to
        right, as the interpreter does) or a body that draws (its draws in index order)."""
        terms = self.unrolled(e.var, e.lo, e.hi, e.body)
        if float_sum:
            return self._chain(["jnp.float32(0.0)", *terms])
        if isinstance(e.body.type, ir.IntT):
            terms = [self.int32(e.body, t) for t in terms]
        stacked = self.rt("_stack") + "([" + ", ".join(terms) + "])"
        if e.op == "sum" and isinstance(e.type, ir.FloatT):
            return f"{self.rt('_fsum')}({stacked})"
        if e.op in ("sum", "count"):
            return f"jnp.sum({stacked}, dtype=jnp.int32)"
        return self._min_max(e, stacked)

    def _reduce_small(self, e: ir.Reduce) -> str:
        """A small reduction (`_unroll_small`) as one expression of binary operations."""
        terms = self.unrolled(e.var, e.lo, e.hi, e.body)
        fn: str | None
        if e.op in ("all", "any"):
            fn = "jnp.logical_and" if e.op == "all" else "jnp.logical_or"
        else:
            terms = [f"_i32({t})" for t in terms]
            fn = {"sum": None, "count": None, "min": "jnp.minimum", "max": "jnp.maximum"}[e.op]
        return self._chain(terms, fn)

    def _unroll_small(self, e: ir.Reduce) -> bool:
        """Unroll a reduction of at most `SMALL_REDUCE_UNROLL` integer or bool terms inside
        a comprehension when its body indexes with its variable: each term's read is then a
        static read over the enclosing comprehension alone, often a slice where the whole
        read is a gather. Connect Four's `all(board[LINES[l][k]] == p for k in 0..4)` over
        `l` becomes four strided views `and`ed, where it was one gather of 4 x 21 cells
        (bench/RESULTS.md, session 4)."""
        if not self.levels or e.hi - e.lo < 1:
            return False
        if isinstance(e.type, ir.FloatT) or isinstance(e.body.type, ir.FloatT):
            return False
        if e.hi - e.lo <= WALK_REDUCE_UNROLL and self.line_views and self._walks_with(e.body, e.var):
            return True
        return e.hi - e.lo <= SMALL_REDUCE_UNROLL and _indexes_with(e.body, e.var)

    def _walks_with(self, e, var: str) -> bool:
        """True when IR node `e` calls a fn with a top-level loop (one `inline_walk` runs
        inline) with an argument that mentions `var`. Such a reduction of at most
        `WALK_REDUCE_UNROLL` terms is unrolled: othello's `any(flips(c, d, p) > 0 for d in
        0..8)` then reads each direction's ray as slices over `c` alone, not 8 slices
        stacked into a `(64, 8)` array per step; measured 2.2 against 4.3 ms for
        `jit(vmap(m_place))` at batch 1024 (bench/RESULTS.md, issue 18, mechanism 2)."""
        if isinstance(e, ir.CallFn) and not e.fn.startswith(mask_reuse.PREFIX) \
                and any(isinstance(s, ir.For) for s in self.m.fn(e.fn).body) and any(_mentions(a, var) for a in e.args):
            return True
        return any(self._walks_with(item, var) for item in ir.children(e) if not isinstance(item, _TYPES))

    def x_array_build(self, e: ir.ArrayBuild) -> str:
        if ir.first_draw(e.body) is not None:
            return self.stacked(e.body.type, self.unrolled(e.var, e.lo, e.hi, e.body))
        divisor = self._split_divisor(e)
        if divisor is not None:
            return self._split_build(e, divisor)
        level, body = self._gen(e.var, e.lo, e.hi, e.body)
        if isinstance(e.body.type, ir.IntT):
            body = f"jnp.asarray({body}, jnp.int32)"
        return self._vmap(level, body)

    def _split_divisor(self, e: ir.ArrayBuild) -> int | None:
        """C when `[f(...) for i in 0..n]` is built by one call per group of a static argument:
        the comprehension is not inside another, its body is a call of a fn of integers or
        bools that records no fault, its variable `i` appears only as `i / C` and `i % C`
        (C in 2..`SPLIT_MAX`, dividing n), and the fn's body branches (an `if`) on the
        parameter that `i % C` is passed to: a row-major `n / C` x C table, as Pokémon's
        `own_info(p, i / 13, i % 13)`. Else None."""
        body = e.body
        if self.levels or e.lo != 0 or not isinstance(body, ir.CallFn):
            return None
        if not isinstance(body.type, (ir.IntT, ir.BoolT)):
            return None
        if body.fn.startswith(mask_reuse.PREFIX) or body.fn in self.fault_fns:
            return None
        nodes = list(ir.walk_all(body))
        if any(isinstance(n, (ir.Reduce, ir.ArrayBuild)) or number_faults.site_of(n) is not None for n in nodes):
            return None  # (no variable shadowed; no fault whose order the groups would change)
        uses = [_split_use(n, e.var) for n in nodes if isinstance(n, ir.Binary)]
        divisors = {c for _, c in filter(None, uses)}
        reads = sum(isinstance(n, ir.Local) and n.name == e.var for n in nodes)
        if len(divisors) != 1 or reads != sum(u is not None for u in uses):
            return None
        (c,) = divisors
        if not 2 <= c <= SPLIT_MAX or e.hi % c:
            return None
        fn = self.m.fn(body.fn)
        keyed = {p.name for p, a in zip(fn.params, body.args) if _split_use(a, e.var) == ("mod", c)}
        branches = any(isinstance(s, ir.If) and any(_mentions(s.cond, k) for k in keyed) for s in ir.walk_all(fn.body))
        return c if branches else None

    def _split_build(self, e: ir.ArrayBuild, c: int) -> str:  # (e.body: a CallFn, `_split_divisor`)
        """`[f(..., i / C, ..., i % C, ...) for i in 0..n]` (`_split_divisor`) as C comprehensions
        over `j` in 0..n/C, the k-th with `i / C` read as `j` and `i % C` as the constant k,
        stacked as columns and flattened row-major (element C * j + k is the k-th's j-th).

        Decision (issue 19, bench/RESULTS.md "Observations in columns"): the fn's argument is
        then a Python int (`_lcast` keeps it so) and each `if` on it is decided while tracing:
        each group computes one arm of the fn's `if`-chain. Mapped over all n, every element
        computed every arm and selected (Pokémon's observation: 78 elements of `own_info`, 13
        arms each, and a whole record gathered per element)."""
        assert isinstance(e.body, ir.CallFn)
        self._uid += 1
        j = f"{e.var}#{self._uid}"  # `#`: no spec name can clash with it
        self.split_builds.append((e.body.fn, c))
        columns = []
        for k in range(c):
            body: ir.Expr = ir.transform(e.body, partial(_split_value, var=e.var, c=c, j=j, k=k))
            level, code = self._gen(j, 0, e.hi // c, body)
            if isinstance(body.type, ir.IntT):
                code = f"jnp.asarray({code}, jnp.int32)"
            columns.append(self.bind(self._vmap(level, code)))
        return f"jnp.stack([{', '.join(columns)}], axis=1).reshape(({e.hi},))"

    def x_array_lit(self, e: ir.ArrayLit) -> str:
        consts = [x for x in e.items if isinstance(x, ir.Const)]
        if len(consts) == len(e.items):
            return self.value_code(e.type, [x.value for x in consts])
        return self.stacked(ir.elem_of(e.type), [self.ex(x) for x in e.items])

    def stacked(self, elem: ir.Type, items: list[str]) -> str:
        """The array of the item expressions `items` (code, each of type `elem`) along a new
        leading axis, with the runtime's `_stack` (batch axis first under `vmap`, not
        `jnp.stack`'s transpose): leaves cast to their dtype (integers to int32, as every
        integer is computed), a record's or list's leaves stacked field by field."""
        if not self.is_leaf(elem):
            return f"jax.tree_util.tree_map(lambda *xs: {self.rt('_stack')}(xs), " + ", ".join(items) + ")"
        dt = "jnp.int32" if isinstance(_leaf(elem), ir.IntT) else self.leaf_dtype(_leaf(elem))
        return self.rt("_stack") + "([" + ", ".join(f"jnp.asarray({x}, {dt})" for x in items) + "])"

    def x_record_lit(self, e: ir.RecordLit) -> str:
        rec = self.m.record(e.record)
        parts = []
        for (name, v), f in zip(e.fields, rec.fields):
            parts.append(f"{py_str(name)}: _cast({self.ex(v)}, {self.dtypes(f.type)})")
        return "{" + ", ".join(parts) + "}"

    def x_random_int(self, e: ir.RandomInt) -> str:
        lo = self.ex(e.lo)
        hi = self.ex(e.hi)
        self.record_fault(number_faults.site_of(e), f"{lo} > {hi}", lo, hi)
        r = self.fresh("_r")
        self.emit(f"st, {r} = {self.rt('_randint')}(st, {lo}, {hi})")
        return r

    def x_random_pick(self, e: ir.RandomPick) -> str:
        """The mask over `lo..hi` (a comprehension), one draw in `0..max(n - 1, 0)`, then the
        draw-th true index by a cumulative sum (`_pick`): linear, no loop."""
        level, body = self._gen(e.var, e.lo, e.hi, e.cond)
        mask = self.fresh("_pm")
        self.emit(f"{mask} = {self._vmap(level, body)}")
        r = self.fresh("_r")
        top = f"jnp.maximum(jnp.sum({mask}, dtype=jnp.int32) - 1, 0)"
        self.emit(f"st, {r} = {self.rt('_randint')}(st, 0, {top})")
        orelse = self.int32(e.orelse, self.ex(e.orelse))
        return f"{self.rt('_pick')}({mask}, {r}, {e.lo}, {orelse})"

    def s_choose(self, s: ir.Choose) -> None:
        raise AssertionError("`choose` reaches the JAX lowering: run `envc.compiler.passes.lower_choices` first")

    def resume_info(self) -> dict | None:
        """How a step of the generated `choose` kind resumes (`lower_choices`): the template sets
        `_envc_choice_option` and runs the branch of the action whose `at` field is not 0, which
        is what the kind's own body does (a resumed body ignores its parameters). One branch
        per action instead of each paused body computed twice under `vmap`."""
        info = self.m.choice
        if info is None or not info.lowered:
            return None
        kind = self.space.kinds[info.action]
        owner = "0"
        for b in reversed(info.bodies):
            if b.kind == "action":
                owner = f'jnp.where(st["{b.at}"] != 0, {b.action}, {owner})'
        option = next(f for f in self.m.state if f.name == info.option)
        return {"kind": info.action, "offset": kind.offset, "lo": kind.domains[0][0], "option": info.option,
                "dtype": self.leaf_dtype(option.type), "owner": owner}

    def x_list_take(self, e: ir.ListTake) -> str:
        v = self.fresh("_v")
        lst = self.fresh("_l")
        src = self.read_place(e.place)
        if not e.unchecked:
            length = self.fault_temp(f'{src}["len"]')
            self.record_fault(number_faults.site_of(e), f"{length} == 0")
        take = self.rt("_take_front" if e.front else "_take_back")
        self.emit(f"{v}, {lst} = {take}({src})")
        self.store(e.place, lst, cast=False)
        return v

    # ------------------------------------------------------------ static reads in comprehensions
    def static_read(self, e: ir.GetIndex) -> str | None:
        """`base[i]...[k]` inside a comprehension nest, when `base` is an array that does not
        depend on the nest and every index depends only on constants and the nest's
        variables: the indices are evaluated here, over the whole nest, and the read becomes
        one hoisted value (a strided slice and reshape when the indices are affine, as in
        `board[r * COLS + c]`, else a gather with a constant index array) that each `vmap`
        level it depends on takes as a mapped argument. Returns the code of the element
        inside the nest, or None (the read is then lowered as written).

        Why: a read under `vmap` with an index computed from the mapped `arange` is a
        gather in XLA even when the index is a constant function of it; Pgx writes the
        same reads as `board.reshape(6, 7)`. Measured on connect4's observation, 1.28x the
        rollout SPS at batch 1024 (bench/RESULTS.md, session 4)."""
        if not self.is_leaf(e.type):
            return None
        indices, root = _chain(e)
        if not indices or not self.is_leaf(root.type) or self._mentions_nest(root) \
                or ir.first_draw(root) is not None or self._heights(root) >= SPLIT_HEIGHT:
            return None  # (a root that deep would be bound inside the nest, not where it is hoisted)
        vals = [self._static(i) for i in indices]
        if any(v is None for v in vals):
            return None
        vals = [np.array(v) for v in np.broadcast_arrays(*vals)]
        shape = ir.dims(root.type)
        if any(v.min() < 0 or v.max() >= n for v, n in zip(vals, shape)):
            return None  # out of range: left to the plain lowering (the interpreter faults)
        dep = [d for d in range(len(self.levels)) if vals[0].shape[d] > 1]
        if not dep:
            return None  # no nest variable: the plain lowering indexes with constants
        squeeze = tuple(slice(None) if d in dep else 0 for d in range(len(self.levels)))
        vals = [v[squeeze] for v in vals]
        if isinstance(root, ir.Const):
            leaf = _leaf(root.type)
            code = self._emit_soa((self.leaf_dtype(leaf), np.asarray(root.value)[tuple(vals)].tolist()))
        else:
            care = self.care()
            if care is not None:  # used where the conditions hold for some value of the other levels
                care = np.asarray(care.any(axis=tuple(d for d in range(len(self.levels)) if d not in dep)))
            ranges = [(self.levels[d].lo, self.levels[d].hi) for d in dep]
            code = self._take(self._outside(root, dep[0]), shape, vals, care, ranges, _fill(_leaf(root.type)))
        key = (code, tuple(self.levels[d].uid for d in dep))
        if key in self._reads:
            return self._reads[key]
        for d in dep:
            name = self.fresh("_h")
            self.levels[d].params.append(name)
            self.levels[d].args.append(code)
            code = name
        self._reads[key] = code
        return code

    def _outside(self, root: ir.Expr, depth: int) -> str:
        """The code of `root` (which reads no nest variable) where the read hoisted from level
        `depth` is computed: temporaries it binds (a comprehension's result, `_vmap`) go to the
        enclosing level's function or before the statement, not into a level whose function
        runs after the hoisted argument is evaluated (CI's `arrays`: `one_hot` inside
        `concat`, `_e76` used before it was bound)."""
        inner, care, path = self.levels[depth:], self._care, self._path
        del self.levels[depth:]
        # conditions over the dropped levels do not hold where `root` is computed
        self._care = [(d, vs) for d, vs in care if d <= depth]
        # nor the path's: `root`'s faults are captured there, and recorded where it is read,
        # on the read's path, in the element that reads it (the interpreter evaluates it there)
        self._path = []
        self._captures.append((depth, None))
        try:
            code = self.ex(root)
        finally:
            self.levels.extend(inner)
            self._care, self._path = care, path
            _, captured = self._captures.pop()
        if captured is not None:
            self.merge_fault(captured)
        return code

    def _mentions_nest(self, e) -> bool:
        """True when IR node `e` reads a variable of the comprehension nest."""
        if isinstance(e, ir.Local):
            py = self.pyvars.get(e.name)
            return py is not None and any(level.py == py for level in self.levels)
        return any(self._mentions_nest(item) for item in ir.children(e) if not isinstance(item, _TYPES))

    def _static(self, e: ir.Expr):
        """The value of integer or bool expression `e` as an int64 numpy array over the
        comprehension nest (axis d is level d, size 1 where `e` does not vary), when `e`
        depends only on constants and the nest's variables; else None."""
        if not isinstance(e.type, (ir.IntT, ir.EnumT, ir.RowT, ir.BoolT)):
            return None
        ones = (1,) * len(self.levels)
        if isinstance(e, ir.Const):
            return np.full(ones, int(e.value), dtype=np.int64)
        if isinstance(e, ir.Local):
            return self._static_local(e, ones)
        v = self._static_node(e)
        if v is None or np.any(np.abs(v) > 2**31 - 1):
            return None  # not static, or outside int32 (where the traced code would wrap)
        return v

    def _static_local(self, e: ir.Local, ones: tuple[int, ...]):
        """`_static` of a local: a loop variable bound to a number, or a level of the nest
        (its range along that level's axis); None for any other local."""
        py = self.pyvars.get(e.name)
        if py is None:
            return None
        if py.lstrip("-").isdigit():
            return np.full(ones, int(py), dtype=np.int64)
        for d, level in enumerate(self.levels):
            if level.py == py:
                return np.arange(level.lo, level.hi, dtype=np.int64).reshape(ones[:d] + (-1,) + ones[d + 1:])
        return None

    def _static_node(self, e: ir.Expr):
        """`_static` of an operation whose operands are static (before the int32 check):
        unary, binary (not dividing by zero), conditional, `min`/`max`/`abs`/`clamp`, or an
        integer constant table indexed in bounds; else None."""
        if isinstance(e, ir.Unary):
            a = self._static(e.operand)
            if a is None:
                return None
            return (a == 0).astype(np.int64) if e.op == "not" else -a
        if isinstance(e, ir.Binary):
            return self._static_binary(e)
        if isinstance(e, ir.Cond):
            c, a, b = self._static(e.cond), self._static(e.then), self._static(e.orelse)
            if c is None or a is None or b is None:
                return None
            return np.where(c != 0, a, b)
        if isinstance(e, ir.Builtin) and e.name in ("min", "max", "abs", "clamp"):
            return self._static_builtin(e)
        if isinstance(e, ir.GetIndex):
            return self._static_index(e)
        return None

    def _static_binary(self, e: ir.Binary):
        """`_static` of `a op b`, None when either side is not static or a divisor may be 0."""
        a, b = self._static(e.left), self._static(e.right)
        if a is None or b is None:
            return None
        if e.op not in ("div", "mod"):
            return _NP_OPS[e.op](a, b).astype(np.int64)
        if np.any(b == 0):
            return None
        return np.floor_divide(a, b) if e.op == "div" else np.remainder(a, b)

    def _static_builtin(self, e: ir.Builtin):
        """`_static` of `min`, `max`, `abs` or `clamp` of static arguments."""
        args = [self._static(a) for a in e.args]
        if any(a is None for a in args):
            return None
        if e.name == "abs":
            return np.abs(args[0])
        if e.name == "clamp":
            return np.clip(args[0], args[1], args[2])
        v = args[0]
        for a in args[1:]:
            v = np.minimum(v, a) if e.name == "min" else np.maximum(v, a)
        return v

    def _static_index(self, e: ir.GetIndex):
        """`_static` of a constant integer table indexed (all axes) by static indices in bounds."""
        indices, root = _chain(e)
        if not isinstance(root, ir.Const):
            return None
        table = np.asarray(root.value)
        vals = [self._static(i) for i in indices]
        if table.dtype.kind in "biu" and table.ndim == len(indices) and all(x is not None for x in vals) \
                and all(0 <= x.min() and x.max() < n for x, n in zip(vals, table.shape)):
            return table.astype(np.int64)[tuple(np.broadcast_arrays(*vals))]
        return None

    def _take(self, base: str, shape: tuple[int, ...], vals: list, care=None, ranges=(), fill: str = "0") -> str:
        """Code for `base[vals[0], vals[1], ...]` (constant index arrays of the same shape,
        one per leading axis of `base`): a view (slice, reshape, transpose) when the indices
        allow it, else a gather with the indices as module constants. `care` (a bool array
        of the indices' shape, or None: all) marks the elements that are used; `ranges` the
        nest levels' (lo, hi), one per axis of the indices; `fill`, code of a value in the
        element type's range: with them a read of shifted cells is `_shift_view`'s slices."""
        trailing = tuple(shape[len(vals):])
        if len(vals) == 1:
            view = _affine_view(base, shape[0], vals[0], trailing) or _row_view(base, shape[0], vals[0], trailing)
            if view is None and self.line_views:
                view = _shift_view(base, shape[0], vals[0], trailing, list(ranges), care, fill)
            view = view or _runs_view(base, vals[0], trailing)
        else:
            view = _slice_view(base, shape, vals)
        if view is not None:
            return view
        idx = [self.hoist("K", f"jnp.asarray(np.array({v.tolist()!r}, dtype=np.int32))") for v in vals]
        return f"{base}[{idx[0]}]" if len(idx) == 1 else f"{base}[({', '.join(idx)})]"

    # ------------------------------------------------------------ places
    def read_place(self, p: ir.Place) -> str:
        code = f"st[{py_str(p.name)}]" if p.root == "state" else lv(self.key(p.name))
        t = self._root_type(p)
        for step in p.path:
            if step.kind == "field":
                code = f"{code}[{py_str(step.name)}]"
                t = next(f.type for f in self.m.record(ir.record_of(t).name).fields if f.name == step.name)
            else:
                idx = self.index(step.index)
                if isinstance(t, ir.ListT) and not step.unchecked:
                    idx, length = self.fault_temp(idx), self.fault_temp(f'{code}["len"]')
                    self.record_fault(number_faults.site_of(p), f"{idx} >= {length}", idx, length)
                if isinstance(t, ir.ListT):
                    code = self.at(f'{code}["items"]', idx) if self.is_leaf(t.elem) else f"{self.rt('_lget')}({code}, {idx})"
                else:
                    code = self.at(code, idx) if self.is_leaf(t) else f"{self.rt('_get')}({code}, {idx})"
                t = ir.elem_of(t)
        return code

    def _root_type(self, p: ir.Place) -> ir.Type:
        if p.root == "state":
            return next(f.type for f in self.m.state if f.name == p.name)
        return self._local_types[self.key(p.name)]

    def store(self, p: ir.Place, value: str, cast: bool = True, one_hot: bool = False) -> None:
        """Emit the update of place `p` with `value` (cast to the place's dtypes). With `one_hot`
        (the value is `cheap`), a store into an array leaf at traced indices is `_put`, which
        may make it a one-hot select; else a scatter, `.at[].set`."""
        if cast and p.root != "state" and not p.path:
            value = f"{self.rt('_lcast')}({value}, {self.dtypes(p.type)})"  # a whole local (static ints kept)
        elif cast:
            value = f"_cast({value}, {self.dtypes(p.type)})"
        root = f"st[{py_str(p.name)}]" if p.root == "state" else lv(self.key(p.name))
        indices = []
        for step in p.path:
            indices.append(self.index(step.index) if step.kind == "index" else None)
        code = self._update(root, self._root_type(p), list(zip(p.path, indices)), value, one_hot=one_hot)
        self.emit(f"{root} = {code}")

    def _update(self, base: str, t: ir.Type, steps, value: str, pending: tuple[str, ...] = (),
                one_hot: bool = False) -> str:
        """The code of `base` (of type `t`, under the array indices `pending`) with the place
        `steps` set to `value`. Array indices are carried down to the leaves, since arrays of
        records are stored as records of arrays: `team[p][i].hp = v` updates the one leaf,
        `{**team, "hp": team["hp"].at[(p, i)].set(v)}`, not every field of the record."""
        if not steps:
            if not pending:
                return value
            at = pending[0] if len(pending) == 1 else f"({', '.join(pending)})"
            if self.is_leaf(t):
                return f"{self.rt('_put')}({base}, {at}, {value})" if one_hot else f"{self.rt('_iset')}({base}, {at}, {value})"
            return f"{self.rt('_set')}({base}, {at}, {value})"
        (step, idx), rest = steps[0], steps[1:]
        if step.kind == "field":
            ft = next(f.type for f in self.m.record(ir.record_of(t).name).fields if f.name == step.name)
            inner = self._update(f"{base}[{py_str(step.name)}]", ft, rest, value, pending, one_hot)
            return f"{{**{base}, {py_str(step.name)}: {inner}}}"
        if isinstance(t, ir.ListT):
            if pending:  # a list under array indices: take it out, update it, put it back
                at = pending[0] if len(pending) == 1 else f"({', '.join(pending)})"
                inner = self._update(f"{self.rt('_get')}({base}, {at})", t, steps, value)
                return f"{self.rt('_set')}({base}, {at}, {inner})"
            getter = f"{self.rt('_lget')}({base}, {idx})"
            return f"{self.rt('_lset')}({base}, {idx}, {self._update(getter, t.elem, rest, value)})"
        return self._update(base, ir.elem_of(t), rest, value, pending + (idx,), one_hot)

    # ------------------------------------------------------------ statements
    def block(self, stmts: list[ir.Stmt]) -> None:
        mark = len(self.scope)
        for s in stmts:
            getattr(self, "s_" + s.kind)(s)
        del self.scope[mark:]  # a block's locals end with it (their Python names are not read again)

    def live(self) -> list[str]:
        """The live locals' Python names, outermost first: what a branch or loop function takes
        and returns."""
        return [lv(k) for k in self._live_keys()]

    def _live_keys(self) -> list[str]:
        return list(dict.fromkeys(k for _, k in self.scope))

    def live_dtypes(self) -> str:
        """The declared dtypes of the live locals (`live`), as a tuple of `_cast`'s dtype trees:
        with the locals' values before an `if`, they give the one type both arms of its
        `lax.cond` return (`_typed`)."""
        return "(" + "".join(f"{self.dtypes(self._local_types[k])}, " for k in self._live_keys()) + ")"

    def declare(self, name: str, t: ir.Type) -> str:
        """Bind a local; returns its key (its Python name is `lv(key)`). Scopes are lexical: a
        name that shadows a live local gets a key of its own (`x_2`), so the outer value
        survives the block."""
        taken = {k for _, k in self.scope}
        key, n = name, 1
        while key in taken:
            n += 1
            key = f"{name}_{n}"
        self.scope.append((name, key))
        self._local_types[key] = t
        return key

    def key(self, name: str) -> str:
        """The key of the innermost live local called `name`."""
        for source, key in reversed(self.scope):
            if source == name:
                return key
        raise KeyError(name)

    def s_let(self, s: ir.Let) -> None:
        value = self.ex(s.value)
        key = self.declare(s.name, s.type)
        self._note_cheap(key, s.value)
        self.emit(f"{lv(key)} = {self.rt('_lcast')}({value}, {self.dtypes(s.type)})")

    def s_assign(self, s: ir.Assign) -> None:
        value = self.ex(s.value)
        tmp = self.fresh("_a")
        self.emit(f"{tmp} = {value}")
        if self.recording() and number_faults.site_of(s.place) is not None:
            self.read_place(s.place)  # (records a list index past the end, as the interpreter checks)
        if s.place.root != "state" and not s.place.path:
            self._note_cheap(self.key(s.place.name), s.value)
        self.store(s.place, tmp, one_hot=self.cheap(s.value))

    def cheap(self, e: ir.Expr) -> bool:
        """Whether `e` costs nothing to compute again: a constant, a read of a whole state field,
        or a local that holds one of those, a parameter or a loop variable (not a `let` or an
        assignment of anything else, `_heavy_locals`). A store of such a value may be a one-hot
        select (`_put`), where XLA computes the value per element of the array: a costly one
        would be computed that many times (a precaution, not measured)."""
        if isinstance(e, (ir.Const, ir.StateGet)):
            return True
        if not isinstance(e, ir.Local) or not any(source == e.name for source, _ in self.scope):
            return False  # (a name outside the scope: a substituted one of an inlined fn)
        return self.key(e.name) not in self._heavy_locals

    def _note_cheap(self, key: str, value: ir.Expr) -> None:
        """Mark local `key`, just bound or assigned `value`, as not `cheap` from here on unless
        `value` is. Never unmarked: after `if c { x = f() } else { x = 0 }` the value may be
        either."""
        if not self.cheap(value):
            self._heavy_locals.add(key)

    def arm(self, body: list[ir.Stmt], prefix: str) -> str:
        """Emit `body` as a branch function `def _thenN(st, v_a, ...)` at this depth, taking the
        live locals (`live`) and returning `st` and their tuple after the body. Returns the
        expression that calls it (`(st, (v_a, ...))` for an empty body)."""
        live = self.live()
        if not body:
            return f"(st, {tup(live)})"
        name = self.fresh(prefix)
        args = ", ".join(["st", *live])
        saved = self._lift_open()
        self.emit(f"def {name}({args}):")
        self.out.depth += 1
        self.emit("st = dict(st)")
        self.block(body)
        self.emit(f"return st, {tup(live)}")
        self.out.depth -= 1
        self._lift_close(saved)
        return f"{name}({args})"

    def _lift_open(self) -> Emitter | None:
        """Past `MAX_INDENT` levels, a branch or loop function is written at module level
        (it reads only its parameters and module names): 150 nested `if`s in a fill must
        not hit Python's limit of 100 indentation levels. Returns the emitter to go back to."""
        if self.out.depth < MAX_INDENT:
            return None
        saved, self.out = self.out, Emitter(depth=0)
        return saved

    def _lift_close(self, saved: Emitter | None) -> None:
        if saved is not None:
            self._lifted.append("\n".join(self.out.lines))
            self.out = saved

    def heavy(self, body: list[ir.Stmt]) -> int:
        """The weight of an `if` arm when it is at least `HEAVY_ARM` (it then runs only when some
        row of the batch takes it, under the rollout's rows axis, runtime `_ROWS`), else 0."""
        w = self.weight(body) if body else 0
        return w if w >= HEAVY_ARM else 0

    def branch(self, cond: str, then: list[ir.Stmt], orelse: list[ir.Stmt]) -> None:
        heavy_then, heavy_else = self.heavy(then), self.heavy(orelse)
        a = self.arm(then, "_then")
        b = self.arm(orelse, "_else")
        # thunks: a condition decided while tracing (a Python bool, see runtime `_i32`) traces
        # only its arm
        live = tup(self.live())
        if not (heavy_then or heavy_else):
            self.emit(f"st, {live} = {self.rt('_branch')}({cond}, lambda: {a}, lambda: {b})")
            return
        # one arm under `lax.cond` (the heavier when both are heavy: a `cond` per arm would
        # trace each twice)
        then_side = heavy_then >= heavy_else
        self.emit(f"st, {live} = {self.rt('_branch_any')}({cond}, lambda: {a}, lambda: {b}, {then_side}, {live}, "
                  f"{self.live_dtypes()})")

    def s_if(self, s: ir.If) -> None:
        conds, bodies, rest = [s.cond], [s.then], s.orelse
        while len(rest) == 1 and isinstance(rest[0], ir.If):  # `elif`
            conds.append(rest[0].cond)
            bodies.append(rest[0].then)
            rest = rest[0].orelse
        if len(conds) > 1 and all(ir.first_draw(c) is None for c in conds):
            names = []
            for cond in conds:
                names.append(self.fresh("_c"))
                self.emit(f"{names[-1]} = {self.ex(cond)}")
            self.chain(names, bodies, rest)
            return
        c = self.fresh("_c")
        self.emit(f"{c} = {self.ex(s.cond)}")
        self.branch(c, s.then, s.orelse)

    def chain(self, conds: list[str], bodies: list[list[ir.Stmt]], orelse: list[ir.Stmt]) -> None:
        """`if c1 {b1} elif c2 {b2} ... else {e}` without nesting: every branch is a function at
        this depth, run on the same state, and the first true condition's result is selected
        (`_select_first`). Only for conditions that do not draw: each is
        evaluated on the state before the chain, which is what the interpreter sees when it
        reaches it. A nested form would need one indentation level per `elif`, and Python
        refuses to compile about a hundred."""
        heavy = [self.heavy(body) > 0 for body in bodies]
        names = [self.arm(body, "_then") for body in bodies] + [self.arm(orelse, "_else")]
        # one `_select_first` rather than a `_select` per arm: a leaf that a single arm writes
        # (a dispatch whose ops touch different fields) is then selected once, not once per
        # arm from that one back (the chain's running result differs from the state everywhere)
        conds_ = "".join(f"{c}, " for c in conds)
        live = tup(self.live())
        arms = "".join(f"lambda: {call}, " for call in names[:-1])
        if not any(heavy):
            self.emit(f"st, {live} = {self.rt('_select_first')}(({conds_}), (st, {live}), ({arms}), lambda: {names[-1]})")
            return
        # the heavy arms under `lax.cond` on whether any row takes them (`_select_first_any`)
        flags = "".join(f"{h}, " for h in heavy)
        self.emit(f"st, {live} = {self.rt('_select_first_any')}(({conds_}), (st, {live}), ({arms}), "
                  f"lambda: {names[-1]}, ({flags}), {self.live_dtypes()})")

    def weight(self, node, seen: frozenset = frozenset()) -> int:
        """IR nodes under `node`, the bodies of the functions it calls included (once per call).
        An explicit `check` (`lower_lists`) weighs 1, as the test did inside its operation
        before that pass: the pass does not change which loops are unrolled."""
        if isinstance(node, list):
            return sum(self.weight(x, seen) for x in node)
        cache = self.__dict__.setdefault("_weights", {})
        n = 0
        for item in ir.walk(node):
            n += 1
            if isinstance(item, ir.Check):
                n -= sum(1 for _ in ir.walk(item))
            callee = item.proc if isinstance(item, ir.CallProc) else item.fn if isinstance(item, ir.CallFn) else None
            if callee is None or callee in seen:
                continue
            if callee not in cache:
                cache[callee] = self.weight(self.m.fn(callee).body, seen | {callee})
            n += cache[callee]
        return n

    def s_for(self, s: ir.For) -> None:
        walk = self._walks.get(id(s))
        if walk is not None and self._walk_mode == "vmap":
            self.prefix_walk(s, walk)
            return
        if walk is not None:
            self.predicated_walk(s)
            return
        if s.hi - s.lo <= UNROLL and self.weight(s.body) <= HEAVY_BODY:
            for i in range(s.lo, s.hi):
                key = self.declare(s.var, ir.IntT(lo=s.lo, hi=s.hi - 1))
                self.emit(f"{lv(key)} = {i}")  # a Python int: static reads (runtime `_i32`)
                self.block(s.body)
                self.scope.pop()
            return
        key = self.declare(s.var, ir.IntT(lo=s.lo, hi=s.hi - 1))
        self.emit(f"{lv(key)} = jnp.int32({s.lo})")
        name = self.fresh("_loop")
        live = tup(self.live())  # the carry: the locals live at the loop (its variable included)
        saved = self._lift_open()
        self.emit(f"def {name}(i, carry):")
        self.out.depth += 1
        self.emit(f"st, {live} = dict(carry[0]), carry[1]")
        self.emit(f"{lv(key)} = i")
        self.block(s.body)
        self.emit(f"return st, {live}")
        self.out.depth -= 1
        self._lift_close(saved)
        flag = _go_flag(s)
        if flag is None:
            self.emit(f"st, {live} = lax.fori_loop({s.lo}, {s.hi}, {name}, (st, {live}))")
        else:  # a `while` or a loop with `break`: stop once its flag is down (in every lane, under vmap)
            at = self.live().index(lv(self.key(flag)))
            self.emit(f"_, (st, {live}) = lax.while_loop(lambda c: (c[0] < {s.hi}) & c[1][1][{at}], "
                      f"lambda c: (c[0] + 1, {name}(c[0], c[1])), (jnp.int32({s.lo}), (st, {live})))")
        self.scope.pop()

    def prefix_walk(self, s: ir.For, walk: prefix_loops.PrefixLoop) -> None:
        """A loop of the prefix-AND shape (`prefix_loops`: `for k { if flag and G { ... flag =
        false ... } }`) as every step at once: its body becomes a function of one step, `def
        _walkN(st, live, k, prev)`, run with the flag true and the step locals set to `prev`,
        which `_prefix_walk` maps over all k twice (`jax.vmap`) and combines with a cumulative
        `and` over k. Opt-in (`--prefix-walk vmap`): it is exact, but measured on othello
        at batch 1024 the mask took 10x as long as the plain unrolled walk (XLA on CPU gathers
        the board for the k-mapped indices one element at a time), 0.09-0.15x the rollout SPS
        (bench/RESULTS.md, issue 18, mechanism 1)."""
        self._walked = True
        body = s.body[0]
        if not isinstance(body, ir.If):  # pragma: no cover (`prefix_loops` accepts only this shape)
            raise AssertionError("a prefix walk's body is one `if`")
        outer = tup(self.live())
        key = self.declare(s.var, ir.IntT(lo=s.lo, hi=s.hi - 1))
        name = self.fresh("_walk")
        saved = self._lift_open()
        self.emit(f"def {name}(st, live, k, prev):")
        self.out.depth += 1
        if outer != "()":
            self.emit(f"{outer} = live")
        self.emit(f"{lv(key)} = k")
        self.emit(f"{lv(self.key(walk.flag))} = jnp.bool_(True)")
        for i, local in enumerate(walk.step_locals):
            self.emit(f"{lv(self.key(local))} = prev[{i}]")
        guard = self.fresh("_g")
        self.emit(f"{guard} = {self.ex(body.cond)}")
        self.predicated(body.then, guard)  # the loop's one `if` (no `else`: `prefix_loops`)
        outs = "".join(lv(self.key(n)) + ", " for n in walk.step_locals + walk.exit_locals)
        self.emit(f"return {guard}, {lv(self.key(walk.flag))}, ({outs})")
        self.out.depth -= 1
        self._lift_close(saved)
        self.scope.pop()
        steps = tup([lv(self.key(n)) for n in walk.step_locals])
        after = tup([lv(self.key(n)) for n in walk.step_locals + walk.exit_locals])
        flag = lv(self.key(walk.flag))
        self.emit(f"{flag}, {after} = {self.rt('_prefix_walk')}({name}, st, {outer}, {s.lo}, {s.hi}, {steps}, {after})")

    def predicated_walk(self, s: ir.For) -> None:
        """A loop of the prefix-AND shape unrolled with each step as straight-line predicated code
        (`predicated`): the flag is `and`ed into the predicate of every write, no branch
        function, no selection of the whole `lv`. Opt-in (`--prefix-walk predicated`):
        measured on othello at batch 1024, 0.94x the rollout SPS of the plain lowering
        (bench/RESULTS.md, issue 18, mechanism 1)."""
        body = s.body[0]
        if not isinstance(body, ir.If):  # pragma: no cover (`prefix_loops` accepts only this shape)
            raise AssertionError("a prefix walk's body is one `if`")
        for i in range(s.lo, s.hi):
            key = self.declare(s.var, ir.IntT(lo=s.lo, hi=s.hi - 1))
            self.emit(f"{lv(key)} = {i}")  # a Python int, as in the plain unrolled `for`
            guard = self.fresh("_g")
            self.emit(f"{guard} = {self.ex(body.cond)}")
            self.predicated(body.then, guard)  # the loop's one `if` (no `else`: `prefix_loops`)
            self.scope.pop()

    def predicated(self, stmts: list[ir.Stmt], pred: str) -> None:
        """`stmts` (`let`, local assignments and `if` only: `prefix_loops`) run where the bool
        `pred` holds, as straight-line code: every `let` is computed unconditionally (an
        expression neither faults nor draws in JAX), every assignment is `_select(pred_here,
        value, old)` on the one local, and an `if` splits the predicate in two (its condition
        is read before either arm runs; an arm's assignments are the identity on the other
        arm's path). Unlike `branch`, no arm function returns the whole `st` and `lv` to be
        selected: a step of othello's walk is its few comparisons and one `where` per local
        it writes."""
        mark = len(self.scope)
        for s in stmts:
            if isinstance(s, ir.Let):
                self.s_let(s)
            elif isinstance(s, ir.Assign):
                value, key = self.ex(s.value), self.key(s.place.name)
                self.emit(f"{lv(key)} = _select({pred}, _cast({value}, {self.dtypes(s.place.type)}), {lv(key)})")
            elif isinstance(s, ir.If):
                c, then, orelse = self.fresh("_c"), self.fresh("_p"), self.fresh("_p")
                self.emit(f"{c} = {self.ex(s.cond)}")
                self.emit(f"{then}, {orelse} = jnp.logical_and({pred}, {c}), jnp.logical_and({pred}, jnp.logical_not({c}))")
                self.predicated(s.then, then)
                self.predicated(s.orelse, orelse)
            else:  # pragma: no cover (`prefix_loops` refuses the other statements)
                raise AssertionError(f"a `{s.kind}` statement in a prefix walk")
        del self.scope[mark:]

    def s_match(self, s: ir.Match) -> None:
        subject = self.fresh("_m")
        self.emit(f"{subject} = {self.ex(s.subject)}")
        conds, bodies, orelse = [], [], []
        for arm in s.arms:
            if not arm.members:  # `_`: the rest of the arms cannot be reached
                orelse = arm.body
                break
            conds.append(self.fresh("_c"))
            if len(arm.members) > CHAIN_SPLIT:  # one test, not a chain of `|` that Python's compiler recurses on
                self.emit(f"{conds[-1]} = jnp.isin({subject}, jnp.array({sorted(arm.members)!r}, jnp.int32))")
            else:
                self.emit(f"{conds[-1]} = " + " | ".join(f"({subject} == {m})" for m in arm.members))
            bodies.append(arm.body)
        if not conds:
            self.block(orelse)
        elif len(conds) == 1:
            self.branch(conds[0], bodies[0], orelse)
        else:
            self.chain(conds, bodies, orelse)

    def s_return(self, s: ir.Return) -> None:
        v = self.ex(s.value)
        if self._ret_type is None:  # pragma: no cover (the checker allows `return x` only in a `fn`)
            raise AssertionError("`return` with a value outside a `fn`")
        dt = self.dtypes(self._ret_type)
        ret, done = lv(self.key(_RET)), lv(self.key(_DONE))
        self.emit(f"{ret} = _select({done}, {ret}, _cast({v}, {dt}))")
        self.emit(f"{done} = jnp.bool_(True)")

    def s_call_proc(self, s: ir.CallProc) -> None:
        args = "".join(", " + self.ex(a) for a in s.args)
        self.emit(f"st = {py_ident('proc', s.proc)}(st{args})")

    def s_list_op(self, s: ir.ListOp) -> None:
        args = [self.ex(a) for a in s.args]
        if s.op in ("insert", "remove_at"):
            args[0] = self.fault_temp(self.int32(s.args[0], args[0]))  # a position, as `index` says
        lst = self.read_place(s.place)
        if not s.unchecked:
            self.list_op_fault(s, lst, args)
        elem_dt = self.dtypes(ir.elem_of(s.place.type))
        tmp = self.fresh("_l")
        if s.op == "push":
            self.emit(f"{tmp} = {self.rt('_push')}({lst}, _cast({args[0]}, {elem_dt}))")
        elif s.op == "insert":
            self.emit(f"{tmp} = {self.rt('_insert')}({lst}, {args[0]}, _cast({args[1]}, {elem_dt}))")
        elif s.op == "remove_at":
            self.emit(f"{tmp} = {self.rt('_remove_at')}({lst}, {args[0]})")
        elif s.op == "clear":
            self.emit(f"{tmp} = {self.rt('_clear')}({lst})")
        elif s.op == "shuffle":
            self.emit(f"st, {tmp} = {self.rt('_shuffle')}(st, {lst})")
        else:
            take = self.rt("_take_front" if s.op == "discard_front" else "_take_back")
            self.emit(f"_, {tmp} = {take}({lst})")
        self.store(s.place, tmp, cast=False)

    def list_op_fault(self, s: ir.ListOp, lst: str, args: list[str]) -> None:
        """Record the fault of list operation `s` on list code `lst` (the interpreter's checks)."""
        n, cap = self.fault_temp(f'{lst}["len"]'), ir.list_of(s.place.type).cap
        site = number_faults.site_of(s)
        if s.op == "push":
            self.record_fault(site, f"{n} >= {cap}")
        elif s.op == "insert":
            self.record_fault(site, f"({n} >= {cap}) | ({args[0]} > {n})", args[0], n)
        elif s.op == "remove_at":
            self.record_fault(site, f"{args[0]} >= {n}", args[0], n)
        elif s.op in ("discard_front", "discard_back"):
            self.record_fault(site, f"{n} == 0")

    def s_effect(self, s: ir.Effect) -> None:
        args = [self.ex(a) for a in s.args]
        if s.name == "win":
            self.emit(f"st = {self.rt('_win')}(st, {args[0]}, NUM_PLAYERS)")
        elif s.name == "draw":
            self.emit(f"st = {self.rt('_draw')}(st)")
        elif s.name == "terminate":
            self.emit(f"st = {self.rt('_terminate')}(st)")
        else:
            self.emit(f"st = {self.rt('_reward')}(st, {args[0]}, {args[1]})")

    def s_fault(self, s: ir.Fault) -> None:
        self.emit(f"# fail({py_comment(py_str(s.message))}): a runtime fault, recorded in `_fault`")
        self.record_fault(number_faults.site_of(s), "jnp.bool_(True)")

    def s_check(self, s: ir.Check) -> None:
        """An explicit fault (`lower_lists`), recorded as any other where faults are recorded;
        elsewhere (a guard, `observe`) nothing is emitted, as for an implicit one."""
        if not self.recording():
            return
        cond = self.ex(s.cond)
        a, b = (self.fault_temp(self.int32(v, self.ex(v))) if v is not None else "0" for v in (s.a, s.b))
        self.record_fault(number_faults.site_of(s), cond, a, b)

    def s_expr_stmt(self, s: ir.ExprStmt) -> None:
        self.emit(f"_ = {self.ex(s.expr)}")

    # ------------------------------------------------------------ functions
    def function(self, header: str, params: list[ir.ParamDef], body: list[ir.Stmt], ret: ir.Type | None,
                 returns_state: bool, doc: str, prologue: list[str] | None = None, fault: bool = False,
                 decoded: dict[str, ir.Expr] | None = None) -> str:
        """The code of one generated function: `header`, docstring `doc`, `prologue`, then
        `body` (`params` cast to their types). It returns `st` when `returns_state`, the value
        (of type `ret`) when a fn, and `(value, st["_fault"])` when `fault` (a fn holding a
        fault site, `_fault_fns`). Faults are recorded in it when it returns `st` or `fault`.
        A parameter in `decoded` is bound to the value of that expression of `#index` (an
        action's parameter decoded from the Python argument `index`, `decode_param`) instead
        of to a Python argument of its name."""
        self.out = Emitter()
        self._lifted = []
        self.scope = []
        self._local_types: dict[str, ir.Type] = {}
        self.pyvars = {}
        self.levels = []
        self._reads = {}
        self._ret_type = ret
        self._records = returns_state or fault
        self.out.depth = 0
        self.emit(header)
        self.out.depth = 1
        self.emit(py_doc(doc))
        for line in prologue or []:
            self.emit(line)
        if decoded:
            self.pyvars[_INDEX] = "index"
        for p in params:
            value = self.ex(decoded[p.name]) if decoded else ident(p.name)
            self.emit(f"{lv(self.declare(p.name, p.type))} = {self.rt('_lcast')}({value}, {self.dtypes(p.type)})")
        self.pyvars.pop(_INDEX, None)
        only = body[0] if len(body) == 1 else None
        tail = ', st["_fault"]' if fault else ""
        if ret is not None and isinstance(only, ir.Return):  # a body that is one `return`
            value = self.ex(only.value)
            if fault and not _atom(value):
                value = self.bind(value)  # (computed before `st["_fault"]` is read: its faults recorded)
            self.emit(f"return {value}{tail}")
        else:
            if ret is not None:
                done = self.declare(_DONE, ir.BOOL)
                result = self.declare(_RET, ret)
                self.emit(f"{lv(done)} = jnp.bool_(False)")
                self.emit(f"{lv(result)} = {self.value_code(ret, ir.zero_value(self.m, ret))}")
            self.block(body)
            if ret is not None:
                self.emit(f"return {lv(self.key(_RET))}{tail}")
            elif returns_state:
                self.emit("return st")
        return "\n".join(self.out.lines) + "".join("\n\n\n" + f for f in self._lifted)

    def decoded_guard(self, a: ir.ActionDef, kind, guard: ir.Expr | None = None) -> ir.Expr:
        """`a`'s guard as an expression of the kind's flat index (`#index`): each parameter
        replaced by its decoding (`envc.compiler.actions.decode_param`), so that the mask lowers as one
        comprehension whose reads `static_read` can index with constants."""
        index = ir.Local(name=_INDEX, type=ir.IntT(lo=0, hi=max(0, kind.size - 1)))
        mapping = {p.name: decode_param(kind, index, j) for j, p in enumerate(a.params)}
        return self._substitute(a.guard if guard is None else guard, mapping)

    def mask_function(self, a: ir.ActionDef, kind, plan: mask_reuse.MaskPlan) -> str:
        """`m_<kind>(st, mv_<dep>...)`: the guard of `a` at each of its flat indices, reading
        the masks of the kinds it reuses (`mask_reuse`) from its extra arguments."""
        deps = [self.space.kinds[d].name for d in plan.deps.get(kind.index, [])]
        mask = ir.ArrayBuild(var=_INDEX, lo=0, hi=kind.size, body=self.decoded_guard(a, kind, plan.guards[kind.index]),
                             type=ir.ArrayT(elem=ir.BOOL, size=kind.size))
        args = "".join(", " + py_ident("mask_value", d) for d in deps)
        doc = f"guard of `{a.name}` at each of its {kind.size} flat indices (bool[{kind.size}])"
        if deps:
            doc += "; reads the masks of " + ", ".join(f"`{d}`" for d in deps) + " (`mv_` arguments)"
        fault = kind.index in self._guard_faults
        if fault:
            doc += _returns_fault("mask")
        return self.function(f"def {py_ident('mask', a.name)}(st{args}):", [], [ir.Return(value=mask)], mask.type,
                             False, doc, fault=fault)

    def holds_site(self, node) -> bool:
        """True when evaluating IR node `node` may fault: a fault site in it, or a call of a fn
        that holds one (`_fault_fns`)."""
        return any(number_faults.site_of(n) is not None or (isinstance(n, ir.CallFn) and n.fn in self.fault_fns)
                   for n in ir.walk_all(node))

    def guard_faults(self, plan: mask_reuse.MaskPlan) -> set[int]:
        """The kinds whose guard (as `plan` rewrote it) may fault, when the module records
        faults. A kind reading the mask of such a kind (`mask_reuse`) gets its own guard back:
        the interpreter evaluates the other guard where this one reads it, and raises its
        fault there, in this kind's turn (the plan is changed in place)."""
        if not self.m.fault_sites:
            return set()
        faulting = {k for k, g in plan.guards.items() if self.holds_site(g)}
        for k, deps in plan.deps.items():
            original = self.m.actions[k].guard  # (not None: only kinds with a guard are in `deps`)
            if original is not None and any(d in faulting for d in deps):
                plan.guards[k] = original
                plan.deps[k] = []
        return {k for k, g in plan.guards.items() if self.holds_site(g)}

    def mask_calls(self, plan: mask_reuse.MaskPlan) -> tuple[list[tuple[str, str]], dict[int, str]]:
        """How `_legal_action_mask` computes each kind's mask: the `(variable, call)` pairs of
        the masks another kind reads, and of the kinds whose mask function also returns a
        fault (`guard_faults`: `mv_<kind>, _mf<index>`), in dependency order, and each kind's
        code in the concatenation (its variable, or its call)."""
        needed = {d for deps in plan.deps.values() for d in deps}
        lets, code = [], {}
        for k in plan.order:
            name = self.space.kinds[k].name
            call = f"{py_ident('mask', name)}(st" + "".join(
                ", " + py_ident("mask_value", self.space.kinds[d].name) for d in plan.deps.get(k, [])) + ")"
            if k in self._guard_faults:
                lets.append((f"{py_ident('mask_value', name)}, _mf{k}", call))
                call = py_ident("mask_value", name)
            elif k in needed:
                lets.append((py_ident("mask_value", name), call))
                call = py_ident("mask_value", name)
            code[k] = call
        return lets, code

    def _lower_fns(self) -> None:
        """Each `fn` and `proc` of the module as a function `(st, params...)`: a proc returns
        the new state, a fn its value (with its first fault when it may fault)."""
        for f in self.m.fns:
            params = "".join(", " + ident(p.name) for p in f.params)
            what = "fn" if f.ret is not None else "proc"
            doc = f"{what} `{f.name}`{where(f.span)}"
            prologue = ["st = dict(st)"] if f.ret is None else []
            fault = f.name in self.fault_fns
            if fault:
                doc += _returns_fault("value")
            self.functions.append(self.function(f"def {py_ident(what, f.name)}(st{params}):", f.params, f.body, f.ret,
                                                f.ret is None, doc, prologue=prologue, fault=fault))

    def run(self) -> LoweredModule:
        m = self.m
        self._lower_fns()
        actions = []
        resume = self.resume_info()
        plan = mask_reuse.plan(m)
        self._guard_faults = self.guard_faults(plan)
        if self._guard_faults:
            self.rt("_fault_put")  # (the template's `_finish` records the guards' fault)
            self.rt("_first_fault")
            self.rt("_stack")
        mask_lets, mask_code = self.mask_calls(plan)
        # the kinds with a branch of their own (a decision resumes the paused action's); the
        # rollout sorts rows by their guessed effect only where there are several: elsewhere
        # no key function is generated
        branches = [m.actions[k.index] for k in self.space.kinds if resume is None or k.index != resume["kind"]]
        branched = len(branches) > 1
        for kind in self.space.kinds:
            a = m.actions[kind.index]
            fn_name, mask_name = py_ident("action", a.name), py_ident("mask", a.name)
            if resume is not None and kind.index == resume["kind"]:  # its steps run the paused action's branch
                actions.append({"name": a.name, "offset": kind.offset, "size": kind.size, "guard": True, "resumes": True,
                                "fn": fn_name, "mask": mask_name, "mask_call": mask_code[kind.index]})
                self.functions.append(self.mask_function(a, kind, plan))
                continue
            index = ir.Local(name=_INDEX, type=ir.IntT(lo=0, hi=max(0, kind.size - 1)))
            decoded = {p.name: decode_param(kind, index, j) for j, p in enumerate(a.params)}
            body = self.function(f"def {fn_name}(st, index):", a.params, a.body, None, True,
                                 f"action `{a.name}`{where(a.span)}: index in 0..{kind.size - 1}",
                                 prologue=["st = dict(st)"], decoded=decoded)
            self.functions.append(body)
            if a.guard is not None:
                self.functions.append(self.mask_function(a, kind, plan))
            actions.append({"name": a.name, "offset": kind.offset, "size": kind.size, "guard": a.guard is not None,
                            "resumes": False, "fn": fn_name, "mask": mask_name, "mask_call": mask_code.get(kind.index),
                            "key": self.key_function(a, decoded) if branched else None})
        obs = m.observe
        observe_faults = bool(m.fault_sites) and self.holds_site(obs.body)
        if observe_faults:
            self.rt("_fault_put")  # (the template's `_finish` records `observe`'s fault)
        self.functions.append(self.function(f"def _observe(st, {ident(obs.player)}):",
                                            [ir.ParamDef(name=obs.player, type=ir.IntT(lo=0, hi=m.num_players - 1))],
                                            obs.body, obs.type, False, "the observation of player `"
                                            + obs.player + "` (the spec's `observe`)"
                                            + (_returns_fault("observation") if observe_faults else ""),
                                            fault=observe_faults))
        self.functions.append(self.function("def _init_body(st):", [], m.init, None, True, "the spec's `init` block",
                                            prologue=["st = dict(st)"]))
        if m.epilogue:
            self.functions.append(self.function("def _epilogue(st):", [], m.epilogue, None, True,
                                                "the module's epilogue: run after every legal action's body",
                                                prologue=["st = dict(st)"]))
        invariants = []
        for inv in m.invariants:
            name = py_ident("invariant", inv.name)
            self.functions.append(self.function(f"def {name}(st):", [], [ir.Return(value=inv.expr)], ir.BOOL,
                                                False, f"invariant `{inv.name}`: {inv.doc or ''}".strip()))
            invariants.append((inv.name, name))
        fields = []
        for sf in m.state:
            fields.append((sf.name, self.dtypes(sf.type), self.value_code(sf.type, sf.default)))
        if m.fault_sites:
            fields.append((FAULT_FIELD, "jnp.int32", "jnp.zeros(3, jnp.int32)"))
        step_max = next(ir.int_of(sf.type).hi for sf in m.state if sf.name == "step_count")
        return LoweredModule(
            constants=self.constants, functions=self.functions, state_fields=fields, actions=actions,
            num_actions=self.space.n, num_players=m.num_players, turn_limit=m.turn_limit, step_max=step_max,
            observation_dtypes=self.dtypes(obs.type), invariants=invariants, resume=resume, mask_lets=mask_lets,
            has_epilogue=bool(m.epilogue),
            simultaneous=_simultaneous_fields(m), time_limit=simultaneous.time_limit(m), prefix_walks=self._walked,
            helpers=frozenset(self.helpers),
            mask_faults=[f"_mf{k}" for k in sorted(self._guard_faults)], observe_faults=observe_faults,
            kind_rows=kind_rows(m, branches),
            row_key_span=self.key_span,
        )

    def key_function(self, a: ir.ActionDef, decoded: dict[str, ir.Expr]) -> str | None:
        """Emit `rk_<action>(st, index)`, the action's guessed effect number less its lowest
        value (`compiler.row_keys`), and return its name; None without a key. It records no
        fault (a guess: a read it makes out of range only makes a worse guess)."""
        key = self.row_keys.get(a.name)
        if key is None:
            return None
        name = py_ident("row_key", a.name)
        value = irutil.binop("sub", key, irutil.int_const(ir.int_of(key.type).lo))  # 0..hi - lo
        span = ir.int_of(value.type).hi + 1
        self.key_span = max(self.key_span, span)
        self.functions.append(self.function(f"def {name}(st, index):", a.params, [ir.Return(value=value)],
                                            value.type, False, f"the guessed effect number of `{a.name}` (a sort "
                                            f"key of `_step_rows`), 0..{span - 1}", decoded=decoded))
        return name


def kind_rows(m: ir.Module, branches: list[ir.ActionDef]) -> bool:
    """Whether the generated rollout steps each action kind's branch only on the rows that
    play it by default (`_step_rows`, `kind_chunk=None`), rather than every branch on every
    row (`vmap` of `_run_branch`, `kind_chunk=0`); both are bit-identical, and the caller can
    always pick either.

    Decision (bench/RESULTS.md, issue 16): on when the branches other than the dearest cost
    at least as much as it (so that running one branch per row at least halves the branch
    work when the kinds are spread) and more than the per-row price of the compaction, a
    gather and a scatter of the whole state per branch. Costs are `envc.compiler.budget`'s
    static operation bounds. Measured: the TCG (13 branches; others 47,131 against the
    dearest's 30,932 operations) 1.86-1.91x the SPS at batch 1024; othello (`place` 4,834,
    `pass` 799: off) 0.95x with it forced on; a one-kind spec has nothing to compact. Where
    it is on, the rollout still compacts only from batch 1024 up (`_kind_chunk`)."""
    if len(branches) < 2:
        return False
    cost = budget.Cost(m)
    costs = sorted(cost.block(a.body) for a in branches)
    others = sum(costs[:-1])
    records = {r.name: r for r in m.records}
    state_cells = sum(ir.cells(f.type, records) for f in m.state)
    return others >= costs[-1] and others > 2 * len(branches) * state_cells


def _fault_fns(m: ir.Module) -> frozenset[str]:
    """The fns (with a return value) that hold a fault site (`number_faults.site_of`) or call
    one that does: each returns `(value, fault)` (`Lowering.function`). None when the module
    has no fault site (`--no-record-faults` too): its fns are lowered as before."""
    if not m.fault_sites:
        return frozenset()
    fns = {f.name: f for f in m.fns if f.ret is not None}
    found: set[str] = set()
    changed = True
    while changed:  # (a fixpoint over the call graph: a fn's site may sit two calls down)
        changed = False
        for name, f in fns.items():
            if name in found:
                continue
            if any(number_faults.site_of(n) is not None or (isinstance(n, ir.CallFn) and n.fn in found)
                   for n in ir.walk_all(f.body)):
                found.add(name)
                changed = True
    return frozenset(found)


def where(span) -> str:
    """` (file.envspec:LINE)` for docstrings: the file's base name, so output does not depend on the cwd."""
    if not span.line:
        return ""
    return f" ({os.path.basename(span.file)}:{span.line})"


def _scalar(t: ir.Type) -> bool:
    """True when values of `t` are single scalars (not arrays, lists or records)."""
    return isinstance(t, (ir.BoolT, ir.IntT, ir.FloatT, ir.EnumT, ir.RowT))


def _leaf(t: ir.Type) -> ir.Type:
    while isinstance(t, ir.ArrayT):
        t = t.elem
    return t


def _returns_fault(value: str) -> str:
    """The docstring clause of a function that also returns its first runtime fault, on a line
    of its own (the closing part of the first line would run past 120 columns)."""
    return f";\n{INDENT}returns ({value}, its first runtime fault: int32[3], zeros for none)"


def _atom(code: str) -> bool:
    """True for code that is one name or number (binding it to a temporary gains nothing)."""
    return code.replace("_", "a").replace(".", "0").lstrip("-").isalnum()


def _py_data(data) -> str:
    """Python code of a constant (a number, a bool or nested lists of them): `repr`, except
    that floats go through `py_float` (`nan` and `inf` are not Python literals)."""
    if isinstance(data, list):
        return "[" + ", ".join(_py_data(x) for x in data) + "]"
    if isinstance(data, float):
        return py_float(data)
    return repr(data)


def _stack_parts(parts):
    first = parts[0]
    if isinstance(first, dict):
        return {k: _stack_parts([p[k] for p in parts]) for k in first}
    return (first[0], [p[1] for p in parts])


_NP_OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "eq": np.equal, "ne": np.not_equal,
           "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
           "and": np.logical_and, "or": np.logical_or}


def _simultaneous_fields(m: ir.Module) -> tuple[str, str] | None:
    """(the choice field, the turn field) of a simultaneous spec the `simultaneous` pass has
    lowered; None for a sequential spec."""
    s = m.simultaneous
    if s is None:
        return None
    if s.choice is None or s.turn is None:  # pragma: no cover (the pipeline runs that pass first)
        raise AssertionError("a simultaneous spec reaches the JAX backend before the `simultaneous` pass")
    return s.choice, s.turn


def _chain(e: ir.Expr) -> tuple[list[ir.Expr], ir.Expr]:
    """`x[i][j]...` as ([i, j, ...], x): the indices of a read of array `x`, outermost first."""
    indices: list[ir.Expr] = []
    while isinstance(e, ir.GetIndex) and isinstance(e.base.type, ir.ArrayT):
        indices.insert(0, e.index)
        e = e.base
    return indices, e


def _affine_view(base: str, n: int, a, trailing: tuple[int, ...]) -> str | None:
    """`base[a]` as a strided slice, reshape and transpose when the index array `a`
    (every axis longer than 1) is `start + sum(coef[d] * i_d)` with positive coefficients
    that nest exactly (`board[r * 7 + c]` -> `board.reshape((6, 7))`); else None."""
    m = a.ndim
    start = int(a.flat[0])
    coef = [int(a[tuple(1 if k == d else 0 for k in range(m))]) - start for d in range(m)]
    grid = start + sum(c * np.arange(a.shape[d]).reshape([-1 if k == d else 1 for k in range(m)])
                       for d, c in enumerate(coef))
    if not np.array_equal(a, grid) or min(coef) <= 0:
        return None
    order = sorted(range(m), key=lambda d: -coef[d])
    if any(coef[order[j]] != coef[order[j + 1]] * a.shape[order[j + 1]] for j in range(m - 1)):
        return None
    step, total = coef[order[-1]], prod(a.shape)
    stop = start + step * (total - 1) + 1
    if start == 0 and step == 1 and total == n:
        code = base
    else:
        code = f"{base}[{start}:{stop}{f':{step}' if step != 1 else ''}]"
    if m > 1:
        code = f"{code}.reshape({tuple(a.shape[d] for d in order) + trailing})"
        perm = tuple(order.index(d) for d in range(m))
        if perm != tuple(range(m)):
            code = f"{code}.transpose({perm + tuple(range(m, m + len(trailing)))})"
    return code


# a `_runs_view` has at most RUN_PIECES pieces, RUN_LENGTH indices long on average; other
# index arrays stay a gather (tic-tac-toe's 8 lines of 3 cells would be 6 pieces of 1-3 cells)
RUN_PIECES = 8
RUN_LENGTH = 4


def _runs_view(base: str, a, trailing: tuple[int, ...]) -> str | None:
    """`base[a]` for a one-axis index array `a` made of at most `RUN_PIECES` runs, each of
    consecutive indices (a slice) or of one index repeated (a broadcast of a one-row slice),
    concatenated: `[if i < 5 then head[min(i, 4)] else own[clamp(i - 5, 0, 77)] for i in
    0..163]` reads `head` as `head[0:5]` and row 4 repeated, `own` as row 0 repeated, `own[1:78]`
    and row 77 repeated. Else None (a gather). Decision (issue 19, bench/RESULTS.md "Static
    reads as slices"): under `vmap` JAX batches a gather of a batched array at constant indices
    with the indices' axis first and moves the batch axis back with a transpose, and XLA:CPU
    then wrote Pokémon's 163-number observation column-major, 15% of its step; slices and a
    concatenation keep the batch axis first."""
    if a.ndim != 1 or a.size < 2:
        return None
    flat = [int(x) for x in a]
    pieces: list[str] = []
    start = 0
    while start < len(flat) and len(pieces) <= RUN_PIECES:
        end = start + 1
        step = 1 if end < len(flat) and flat[end] == flat[start] + 1 else 0
        while end < len(flat) and flat[end] == flat[end - 1] + step:
            end += 1
        first, count = flat[start], end - start
        if step or count == 1:
            pieces.append(f"{base}[{first}:{first + count}]")
        else:
            pieces.append(f"jnp.broadcast_to({base}[{first}:{first + 1}], {(count,) + tuple(trailing)})")
        start = end
    if len(pieces) > RUN_PIECES or len(pieces) * RUN_LENGTH > len(flat):
        return None
    return pieces[0] if len(pieces) == 1 else f"jnp.concatenate([{', '.join(pieces)}])"


def _row_view(base: str, n: int, a, trailing: tuple[int, ...]) -> str | None:
    """`base[a]` as a block of rows: when the flattened index array, folded as `(p, q)`,
    is `start + s1 * i + s2 * j` with the `q` columns inside one row of length `s1`, it
    reads `base` reshaped to rows of `s1` (`board[7 * (l / 4) + l % 4 + k]` over `l` ->
    `board.reshape((6, 7))[:, k:k + 4]`); else None."""
    flat = a.reshape(-1)
    size = flat.size
    for p in range(2, size):
        if size % p:
            continue
        q = size // p
        v = flat.reshape(p, q)
        start = int(v[0, 0])
        s1, s2 = int(v[1, 0]) - start, int(v[0, 1]) - start
        if s1 <= 0 or s2 <= 0 or not np.array_equal(v, start + s1 * np.arange(p)[:, None] + s2 * np.arange(q)):
            continue
        row0, col0 = divmod(start, s1)
        if col0 + s2 * (q - 1) >= s1 or (row0 + p) * s1 > n:
            continue
        rows = base if row0 == 0 and p * s1 == n else f"{base}[{row0 * s1}:{(row0 + p) * s1}]"
        stop = col0 + s2 * (q - 1) + 1
        cols = f"{col0}:{stop}{f':{s2}' if s2 != 1 else ''}"
        return f"{rows}.reshape({(p, s1) + trailing})[:, {cols}].reshape({tuple(a.shape) + trailing})"
    return None


def _walk_size(stmts: list, params: set[str], declared: frozenset[str] = frozenset()) -> int | None:
    """The number of statements `stmts` run once every `for` is unrolled, when they are
    `let`s of scalars, assignments to a whole local declared in them or before them
    (`declared`; not a parameter, one of `params`), `if`s and `for`s, and nothing in them
    draws; else None (`inline_walk`). Scalars only: an inlined local is a temporary bound
    inside the `vmap` body, and `static_read` would hoist a read of an array local out of
    it; `jnp.where` selects leaves, not records."""
    total = 0
    for s in stmts:
        if isinstance(s, ir.Let) and ir.first_draw(s.value) is None and isinstance(s.type, _SCALARS):
            declared |= {s.name}
            total += 1
            continue
        if isinstance(s, ir.Assign):
            p = s.place
            if p.root != "local" or p.path or p.name in params or p.name not in declared \
                    or ir.first_draw(s.value) is not None:
                return None
            total += 1
            continue
        if isinstance(s, ir.For):
            inner = _walk_size(s.body, params, declared)
            if inner is None:
                return None
            total += inner * (s.hi - s.lo)
            continue
        if not isinstance(s, ir.If) or ir.first_draw(s.cond) is not None:
            return None
        then, orelse = _walk_size(s.then, params, declared), _walk_size(s.orelse, params, declared)
        if then is None or orelse is None:
            return None
        total += 1 + then + orelse
    return total


def _locals_of(stmts: list) -> list[str]:
    """The names `stmts` declare (`let`, `for` variables), nested blocks included."""
    names: list[str] = []
    for s in stmts:
        if isinstance(s, ir.Let):
            names.append(s.name)
        elif isinstance(s, ir.For):
            names += [s.var, *_locals_of(s.body)]
        elif isinstance(s, ir.If):
            names += _locals_of(s.then) + _locals_of(s.orelse)
    return names


def _shift_view(base: str, n: int, a, trailing: tuple[int, ...], ranges: list[tuple[int, int]], care,
                fill: str) -> str | None:
    """`base[a]` (`a`: constant indices over the nest levels whose ranges are `ranges`) as
    shifted slices of `base` padded along its first axis with `fill`, where that is exact at
    every element `care` marks (the others are never used: `Lowering.care`): when, for one
    level `c` (the cell) and at each fixed value of the other levels, `a - c` is one
    constant `s` wherever `care` holds, the read is `padded[P + c + s]` for every `c`: one
    slice per value of the other levels, stacked. For a table of rays on a board of `R x C`
    cells numbered row by row, a step `(dr, dc)` that stays on the board is `s = dr * C +
    dc`: othello's `board[RAY[c][d][k]]` (clamped past the edge, where `k < REACH[c][d]`
    is false) is 8 slices of the board padded by up to 63 per `k`, Pgx's shifted boards,
    not 64 x 8 gathered elements. Else None (the read stays a gather).

    The shifts are checked on the table's values, never assumed; where `care` is false the
    slice reads a padded or some other cell, which is in the element type's range."""
    if care is None or not care.any():
        return None
    for ax, (lo, hi) in enumerate(ranges):
        cell = (lo + np.arange(hi - lo)).reshape([-1 if d == ax else 1 for d in range(a.ndim)])
        shift = a - cell
        rest = [d for d in range(a.ndim) if d != ax]
        moved_s, moved_c = np.moveaxis(shift, ax, 0), np.moveaxis(care, ax, 0)
        starts: list[int] = []
        for j in np.ndindex(*moved_s.shape[1:]):
            line, used = moved_s[(slice(None), *j)], moved_c[(slice(None), *j)]
            found = np.unique(line[used])
            if len(found) > 1:
                break
            starts.append(lo + (int(found[0]) if len(found) else 0))
        else:
            length = hi - lo
            # one padding width for every view of `base` (at least `n`): the pads are then one
            # array that XLA's CSE shares, where 27 widths on othello's board were 27 pads, and
            # a producer that XLA fuses into its consumers (a select of the board after a step,
            # when the step's board is no output of the program: a user's select-based reset)
            # was computed again in each of them (bench/RESULTS.md, issue 18)
            pad = max(n, -min(starts), max(x + length - n for x in starts))
            widths = ((pad, pad),) + ((0, 0),) * len(trailing)
            slices = [f"_b[{pad + x}:{pad + x + length}]" for x in starts]
            if not rest:
                return f"jnp.pad({base}, {widths}, constant_values={fill})[{pad + starts[0]}:{pad + starts[0] + length}]"
            shape = (length,) + tuple(a.shape[d] for d in rest) + trailing
            code = f"jnp.stack([{', '.join(slices)}], axis=1).reshape({shape})"
            if ax:
                code = f"jnp.moveaxis({code}, 0, {ax})"
            return f"(lambda _b: {code})(jnp.pad({base}, {widths}, constant_values={fill}))"
    return None


def _fill(t: ir.Type) -> str:
    """Code of a value of leaf type `t` (its least), for the padding of `_shift_view`."""
    if isinstance(t, ir.BoolT):
        return "False"
    if isinstance(t, ir.IntT):
        return str(t.lo)
    if isinstance(t, ir.FloatT):
        return "0.0"
    return "0"


def _indexes_with(e, var: str) -> bool:
    """True when IR node `e` holds an array read whose index mentions variable `var`."""
    if isinstance(e, ir.GetIndex) and _mentions(e.index, var):
        return True
    return any(_indexes_with(item, var) for item in ir.children(e) if not isinstance(item, _TYPES))


def _split_use(e, var: str) -> tuple[str, int] | None:
    """("div", C) or ("mod", C) when IR node `e` is `var / C` or `var % C` (C a constant)."""
    if not isinstance(e, ir.Binary) or e.op not in ("div", "mod"):
        return None
    if not isinstance(e.left, ir.Local) or e.left.name != var or not isinstance(e.right, ir.Const):
        return None
    return (e.op, int(e.right.value)) if type(e.right.value) is int else None


def _split_value(e, var: str, c: int, j: str, k: int):
    """`var / c` as the local `j` and `var % c` as the constant `k` (`_split_build`); None for
    any other node (left as it is)."""
    use = _split_use(e, var)
    if use is None or use[1] != c:
        return None
    if use[0] == "mod":
        return ir.Const(value=k, type=e.type, span=e.span)
    return ir.Local(name=j, type=e.type, span=e.span)


def _mentions(e, var: str) -> bool:
    """True when IR node `e` reads local `var`."""
    if isinstance(e, ir.Local):
        return e.name == var
    return any(_mentions(item, var) for item in ir.children(e) if not isinstance(item, _TYPES))


def _slice_view(base: str, shape: tuple[int, ...], vals: list) -> str | None:
    """`base[vals[0], vals[1], ...]` as basic slicing when each index is a constant or an
    ascending arithmetic progression along one axis of its own; else None."""
    parts, axes = [], []
    for v, n in zip(vals, shape):
        varying = [d for d in range(v.ndim) if v.shape[d] > 1 and np.any(np.diff(v, axis=d) != 0)]
        if not varying:
            parts.append(str(int(v.flat[0])))
            continue
        if len(varying) > 1 or varying[0] in axes:
            return None
        d = varying[0]
        line = v[tuple(slice(None) if k == d else 0 for k in range(v.ndim))]
        start, step = int(line[0]), int(line[1] - line[0])
        if step <= 0 or not np.array_equal(line, start + step * np.arange(len(line))):
            return None
        stop = start + step * (len(line) - 1) + 1
        parts.append(":" if (start, step, stop) == (0, 1, n) else f"{start}:{stop}{f':{step}' if step != 1 else ''}")
        axes.append(d)
    if len(axes) != vals[0].ndim:
        return None  # an axis of the nest that no index follows (the read repeats along it)
    code = base if all(x == ":" for x in parts) else f"{base}[{', '.join(parts)}]"
    perm = tuple(axes.index(d) for d in range(len(axes)))
    if perm != tuple(range(len(axes))):
        rest = tuple(range(len(axes), len(axes) + len(shape) - len(vals)))
        code = f"{code}.transpose({perm + rest})"
    return code


_TYPES = (ir.BoolT, ir.IntT, ir.FloatT, ir.EnumT, ir.RecordT, ir.RowT, ir.ArrayT, ir.ListT)
_SCALARS = (ir.BoolT, ir.IntT, ir.FloatT, ir.EnumT, ir.RowT)


def _go_flag(s: ir.For) -> str | None:
    """The local bool whose `if flag { ... }` is the loop's whole body, or None: the checker's `go`
    of a `while` or of a loop with `break` (`compiler/check_lang.py`), or a spec's own. Decision:
    such a loop is a `lax.while_loop` that stops once the flag is down, not a `fori_loop` that runs
    its bound out doing nothing (probe4's Minesweeper flood fill, `while changed max 36` over 36 x 8
    cells: every step paid 36 passes). An iteration that starts with the flag down changes
    nothing (only the body could raise it), so stopping there is exact; under `vmap` the loop
    runs until the flag is down in every lane, and the lanes already done keep their values."""
    if len(s.body) != 1 or not isinstance(s.body[0], ir.If) or s.body[0].orelse:
        return None
    cond = s.body[0].cond
    return cond.name if isinstance(cond, ir.Local) else None
