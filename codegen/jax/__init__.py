"""The JAX backend: `envc compile SPEC --target jax`.

Public surface: `generate(module) -> dict[str, str]` (file name -> text) and
`write(module, out_dir)`. The output is one self-contained Python package
(`__init__.py` re-exporting `env.py`) that imports only jax and numpy. Lowering
decisions live in `lower.py`; `templates/env.py.j2` only lays out the file.
Generation is deterministic: the same IR gives the same bytes. `env.py` is laid out by
`ruff format` (`format_python`), so that it reads like hand-written JAX (issue 15, item 6).
"""

from __future__ import annotations

import ast
import functools
import math
import os
import re
import subprocess
from importlib import resources

import jinja2

from envc import __version__
from envc.codegen import write_files
from envc.codegen.escape import FILTERS, py_doc, py_str
from envc.codegen.jax.lower import FAULT_FIELD, Lowering
from envc.compiler import ir, pipeline
from envc.compiler.actions import ActionSpace
from envc.compiler.passes import number_faults
from envc.compiler.pipeline import PassContext
from envc.compiler.row_keys import row_key

_MARKER = "# ---- runtime (pasted into generated code) ----\n"
_LISTS_START = "# ---- list runtime (pasted only into the module of a spec with a list type) ----\n"
_LISTS_END = "# ---- end of the list runtime ----\n"
_WALKS_START = ("# ---- prefix-walk runtime (pasted only into the module of a spec with a loop that walks until a flag "
                "goes false) ----\n")
_WALKS_END = "# ---- end of the prefix-walk runtime ----\n"
_FAULTS_START = "# ---- fault runtime (pasted only into the module of a spec with a fault site) ----\n"
_FAULTS_END = "# ---- end of the fault runtime ----\n"


@functools.lru_cache(maxsize=1)  # one environment: templates compile once per process
def _env() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(
        lambda name: resources.files("envc.codegen.jax").joinpath("templates", name).read_text(encoding="utf-8"))
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    return env


# the runtime helpers that templates/env.py.j2 calls: pasted whenever their block is
TEMPLATE_HELPERS = frozenset({"_seed_key", "_action_i32", "_player_i32", "_i32", "_cast", "_select", "_fault_at", "_use_compilation_cache", "_svg",
                              "_rows_vmap", "_once", "_switch"})


@functools.lru_cache(maxsize=16)
def _runtime(lists: bool, faults: bool = False, walks: bool = False, helpers: frozenset[str] | None = None) -> str:
    """The runtime helpers pasted into a generated module: the list helpers (the block between
    the list markers of runtime.py, which only the lowering of list types and list operations
    calls) only when `lists`, the prefix-walk helpers (`Lowering.prefix_walk`) only when
    `walks`, the fault helper (between the fault markers) only when `faults` (the module has a
    fault site). With `helpers` (the names the lowered code calls, `LoweredModule.helpers`),
    of those only the helpers that it or the template (`TEMPLATE_HELPERS`) call, directly or
    through another helper (`_called`); without, all."""
    text = resources.files("envc.codegen.jax").joinpath("runtime.py").read_text(encoding="utf-8")
    text = text.split(_MARKER, 1)[1]
    parts: list[tuple[str, bool]] = []  # (text, is a pasted block)
    blocks = (((_LISTS_START, _LISTS_END), lists), ((_WALKS_START, _WALKS_END), walks),
              ((_FAULTS_START, _FAULTS_END), faults))
    for (start, end), keep in blocks:
        before, rest = text.split(start, 1)
        block, text = rest.split(end, 1)
        parts += [(before, False), (block, True)] if keep else [(before, False)]
    parts.append((text, False))
    if helpers is not None:
        called = _called(helpers | TEMPLATE_HELPERS, "".join(p for p, _ in parts))
        parts = [(_drop_defs(part, called), block) for part, block in parts]
    return "\n\n\n".join(part.strip("\n") for part, _ in parts if part.strip("\n")) + "\n"


def _defs(source: str) -> list[ast.FunctionDef]:
    """The top-level functions of runtime source `source` (runtime.py is ours: parsed, never
    the generated code)."""
    return [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]


def _called(roots: frozenset[str], source: str) -> set[str]:
    """The top-level functions of `source` (the pasted runtime) that the names `roots` are or
    call, directly or through one another."""
    calls = {d.name: {n.id for n in ast.walk(d) if isinstance(n, ast.Name)} for d in _defs(source)}
    keep: set[str] = set()
    todo = [r for r in roots if r in calls]
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo += [c for c in calls[name] if c in calls]
    return keep


def _drop_defs(part: str, keep: set[str]) -> str:
    """`part` (a piece of runtime.py) without its top-level functions not in `keep`."""
    lines = part.split("\n")
    for d in reversed(_defs(part)):
        if d.name not in keep and d.end_lineno is not None:
            del lines[d.lineno - 1:d.end_lineno]
    return re.sub(r"\n{4,}", "\n\n\n", "\n".join(lines))


def uses_lists(module: ir.Module) -> bool:
    """Whether any type in `module` (state, locals, parameters, expressions) is a list type."""
    return any(isinstance(n, ir.ListT) for n in ir.walk(module, types=True))


def generate(module: ir.Module, ctx: PassContext | None = None) -> dict[str, str]:
    """The generated package's files for a module after the pipeline's `PASSES` (`ctx`: the
    options of the `LOWERING` passes this runs first, `--disable-pass`). The spec's state fields live in
    the dict `State._x` (keys are the spec's names), so no field name can clash with an
    attribute of `State` (`replace`, `observation`) or be an invalid Python attribute."""
    from envc.compiler.passes import init_mask

    ctx = ctx or PassContext()
    # each action's guessed effect number, found before `LOWERING` turns `choose` into state
    # machines (which hide it in locals set under conditions)
    keys = {a.name: k for a in module.actions if (k := row_key(module, a)) is not None}
    module = pipeline.lower(module, ctx)  # `LOWERING`: folded, `choose` as state machines, faults numbered
    if not ctx.record_faults:  # `--no-record-faults`: no fault site reaches the lowering (no `_fault`)
        module = module.model_copy(update={"fault_sites": []})
    # `--prefix-walk vmap|predicated`: issue 18's mechanism 1 lowerings, opt-in measurements
    # (slower than the default on CPU: bench/RESULTS.md); the default output does not change
    low = Lowering(module, ctx.prefix_walk, row_keys=keys).run()
    fresh_mask = init_mask.constant(module)  # None unless proved the same for every seed
    spec = os.path.relpath(module.path).replace(os.sep, "/") if module.path else module.name
    builtin = ("current_player", "rewards", "terminated", "truncated", "step_count")
    dtype_of = {name: dtypes for name, dtypes, _ in low.state_fields}
    user = tuple(name for name, _, _ in low.state_fields if name not in builtin and name != FAULT_FIELD)
    sites = [number_faults.site_text(x) for x in module.fault_sites]
    illegal = number_faults.site_id(module, number_faults.illegal_site()) + 1 \
        if module.illegal_action == "error" and sites else None
    shape, bounds = _observation_box(module.observe.type)
    text = _env().get_template("env.py.j2").render(
        name=module.name, version=__version__, spec=spec, doc=module.doc or "",
        runtime=_runtime(uses_lists(module), bool(sites), low.prefix_walks, low.helpers), fault_sites=sites,
        illegal_site=illegal, num_players=low.num_players, num_actions=low.num_actions,
        turn_limit=low.turn_limit, time_limit=low.time_limit,
        action_kinds=repr(tuple((a["name"], a["offset"], a["size"]) for a in low.actions)),
        action_params=repr(ActionSpace(module).format_table()) if illegal is not None else "",
        constants=low.constants, functions=low.functions, field_names=repr(user),
        fields=low.state_fields, actions=low.actions, mask_lets=low.mask_lets,
        mask_faults=low.mask_faults, observe_faults=low.observe_faults,
        init_mask=None if fresh_mask is None else "[" + ", ".join(str(b) for b in fresh_mask) + "]",
        observation_dtypes=low.observation_dtypes, invariants=low.invariants, step_max=low.step_max,
        has_epilogue=low.has_epilogue, simultaneous=low.simultaneous,
        resume=low.resume, illegal_pgx=module.illegal_action == "pgx", kind_rows=low.kind_rows,
        row_key_span=low.row_key_span,
        current_player_dtype=dtype_of["current_player"], step_count_dtype=dtype_of["step_count"],
        observation_shape=shape, observation_bounds=bounds,
        observation_leaves=[] if shape != "None" else
        [_observation_leaf_code(leaf) for leaf in ir.layout_leaves(module, module.observe.type)],
        gymnax_max_steps=_gymnax_max_steps(low),
    )
    doc = py_doc(f"{module.name}: generated by envc from `{spec}`; see env.py.")
    init = (f"{doc}\n\n"
            "from .env import *  # noqa: F401,F403\n"
            "from .env import _to_dict  # noqa: F401\n\n\n"
            "def __getattr__(name):  # what env.py builds on first use (GymnaxEnv, EnvParams)\n"
            "    from . import env\n\n"
            "    return getattr(env, name)\n")
    return {"__init__.py": init, "env.py": format_python(text)}


#: the width of generated JAX lines (the house's own code uses 120 as well)
LINE_LENGTH = 120


def _gymnax_max_steps(low) -> int:
    """`EnvParams().max_steps_in_episode` of the gymnax adapter: the spec's turn limit in steps
    (a simultaneous spec's turn is one commit per player), else no limit (2^31 - 1)."""
    if low.time_limit is None:
        return 2**31 - 1
    return low.time_limit[1] * (low.num_players if low.simultaneous is not None else 1)


def format_python(source: str) -> str:
    """`source` (a generated module) laid out by `ruff format` at `LINE_LENGTH` columns, with
    ruff's defaults and no configuration file read (`--isolated`), so the same source gives
    the same bytes wherever it is generated (ruff's version is pinned in pyproject.toml).

    Decision (issue 15, item 6): the lowering writes each statement on one line, and the
    widest of them (an observation of 195 numbers, a branch returning 12 locals, a fault
    condition) ran to 13,000 characters; a formatter breaks them at their brackets as a
    person would, and changes only the layout: the module's syntax tree is the same
    (tests/test_jax_backend.py checks it), so the traced program is too. Lines that stay
    wider are string literals (docstrings) that a formatter does not break. ruff also
    normalizes the whitespace inside docstrings (indentation, trailing spaces), which would
    change a spec's text there (an invariant's message, the spec's doc): where the laid-out
    module's syntax tree differs from `source`'s, `source` is returned as it is.

    Raises:
        RuntimeError: ruff is not installed, or refused the source (a bug in envc: generated
            code that does not parse).
    """
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]
        ruff = find_ruff_bin()
    except (ImportError, FileNotFoundError) as exc:
        raise RuntimeError("the JAX backend lays out its output with ruff: `pip install 'ruff>=0.17,<0.18'`") from exc
    cmd = [ruff, "format", "--isolated", "--line-length", str(LINE_LENGTH), "--target-version", "py311",
           "--stdin-filename", "env.py", "-"]
    # (UTF-8 both ways whatever the locale: a spec's text, such as a card name, need not be ASCII)
    done = subprocess.run(cmd, input=source, capture_output=True, encoding="utf-8", check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ruff format refused the generated module (a bug in envc): {done.stderr.strip()}")
    if ast.dump(ast.parse(done.stdout)) != ast.dump(ast.parse(source)):
        return source  # ruff normalized a docstring's text (a spec's string with trailing spaces): keep it exact
    return done.stdout


def _observation_box(t: ir.Type) -> tuple[str, str]:
    """Code of the observation's shape and (lowest, highest) entry for a Box space, or "None"
    when the observation is a record or holds lists (then it is a pytree, not one array)."""
    dims = tuple(ir.dims(t))
    while isinstance(t, ir.ArrayT):
        t = t.elem
    if isinstance(t, (ir.RecordT, ir.ListT)):
        return "None", "None"
    low, high = ir.value_bounds(t)
    return repr(dims), f"({_number(low)}, {_number(high)})"


def _number(x: float) -> str:
    """Python code of a bound: an int as written, an infinity as `float("inf")`."""
    return {math.inf: 'float("inf")', -math.inf: 'float("-inf")'}.get(x, repr(x))


def _observation_leaf_code(leaf: ir.LayoutLeaf) -> str:
    """One array of a pytree observation (`ir.layout_leaves`: a record is a dict of its fields,
    an array of records a record of arrays, a list `{"items", "len"}`) as the Python code of
    `(path, shape, dtype, low, high)`, for gymnax's `Dict` space (the path's names come from the
    spec: `py_str`)."""
    keys = "(" + "".join(f"{py_str(k)}, " for k in leaf.path) + ")"
    low, high = leaf.bounds
    dtype = "bool_" if leaf.dtype == "bool" else leaf.dtype
    return f"({keys}, {leaf.dims!r}, jnp.{dtype}, {_number(low)}, {_number(high)})"


def write(module: ir.Module, out_dir: str, ctx: PassContext | None = None) -> list[str]:
    """Write the generated package into `out_dir` (created if needed); returns the paths written."""
    return write_files(generate(module, ctx), out_dir)
