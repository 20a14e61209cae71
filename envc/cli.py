"""The `envc` command line.

Public surface: `app` (the typer application) and `main()` (the console entry point).

Every user error (a bad spec, a missing file, an unknown action) is printed as a
diagnostic on stderr with exit code 1; a runtime fault of a spec exits 1 too. A
Python traceback is shown only for internal errors, and only with `ENVC_DEBUG=1`
(otherwise exit code 2 with a one-line report).
"""

from __future__ import annotations

import contextlib
import keyword
import math
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from envc.compiler.diagnostics import Diagnostic, DiagnosticError, did_you_mean, render, render_all, visible
from envc.compiler.pipeline import PREFIX_WALKS, pass_names

# Bounds of integer options (a seed or step count past 2^63 was an internal OverflowError in JAX):
# seeds and step counts are int32 on every backend, a batch is at most 2^24 environments
INT32_MAX = 2**31 - 1
MAX_BATCH = 2**24

app = typer.Typer(
    name="envc",
    help="envc compiles reinforcement-learning environments written as `.envspec` specs.\n\n"
    "Start with `envc check SPEC`, list the action space with `envc actions SPEC`, and play "
    "random games on the reference interpreter with `envc run SPEC`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
# User text (deck names, fault messages, divergence reports, spec paths) is printed as plain
# text: no console of the command line interprets rich markup, so `[/]` in a deck name is
# just text (styles are given as `Text` objects instead).
out = Console(highlight=False, markup=False)
err = Console(stderr=True, highlight=False, markup=False)

@app.callback()
def _options(
    allow_outside_data: Annotated[bool, typer.Option(
        "--allow-outside-data", help="let specs read data files outside their own folder (absolute paths, `..`, "
        "symlinks that leave it); by default they may not")] = False,
) -> None:
    """envc compiles reinforcement-learning environments written as `.envspec` specs."""
    from envc.compiler.datafiles import POLICY

    if allow_outside_data:
        POLICY.allow_outside = True


SpecArg = Annotated[str, typer.Argument(help="path of a `.envspec` file, e.g. `specs/tictactoe.envspec`", show_default=False)]
JaxCacheOpt = Annotated[Optional[str], typer.Option(
    "--jax-cache", show_default=False,
    help="folder of JAX's persistent compilation cache (a second run loads the compiled program instead of "
         "compiling again); `off` disables it [default: $ENVC_JAX_CACHE, else ~/.cache/envc/jax]")]


def _jax_cache(option: str | None) -> None:
    """Turn on JAX's persistent compilation cache (envc/jax_cache.py) when jax is installed;
    exit 1 with E0180 when `--jax-cache` names a folder that cannot hold it (a file, no
    permission), before any work."""
    from envc.jax_cache import enable, folder, unusable

    path = folder(option) if option is not None else None
    why = unusable(path) if path is not None else None
    if why is not None:
        _fail([Diagnostic("E0180", f"`--jax-cache {option}` cannot hold JAX's compilation cache: {why}", None,
                          help="name a folder you can write (it is created if needed), or `--jax-cache off`")])
    enable(option)


# Decided here: a long run whose stderr is no terminal (a CI log, `nohup ... 2> log`) says how far
# it got at most once a minute and at each new phase; a live bar there would print nothing
# until the end (rich renders a non-interactive console once, at stop).
LOG_EVERY_S = 60.0


class _LoggedProgress(Progress):
    """rich's `Progress` without a live bar, for a stderr that is not a terminal: one plain
    line (`episodes: 1,024/48,400 (2%), 95 s, about 74 min left`) at each new description and
    at most one every `LOG_EVERY_S` seconds of progress. The time left is rich's estimate, the
    one the live bar's `TimeRemainingColumn` shows (the pace of the last 30 s); none before the
    pace is known, or once the task is done."""

    def __init__(self, *columns, **kwargs):
        kwargs["disable"] = True
        super().__init__(*columns, **kwargs)
        self._logged_at = time.monotonic()
        self._logged: dict = {}

    def advance(self, task_id, advance: float = 1) -> None:
        super().advance(task_id, advance)
        if time.monotonic() - self._logged_at >= LOG_EVERY_S:
            self._log(task_id)

    def update(self, task_id, **kwargs) -> None:
        super().update(task_id, **kwargs)
        description = kwargs.get("description")
        if description is not None and description != self._logged.get(task_id):
            self._log(task_id)

    def _log(self, task_id) -> None:
        task = self._tasks[task_id]
        self._logged[task_id], self._logged_at = task.description, time.monotonic()
        total = f"/{task.total:,.0f} ({100 * task.completed / task.total:.0f}%)" if task.total else ""
        err.print(f"{task.description}: {task.completed:,.0f}{total}, {task.elapsed or 0:.0f} s{_time_left(task)}",
                  markup=False, highlight=False)


def _time_left(task) -> str:
    """`, about N s left` (minutes from 2 minutes up, hours from 2 hours) from rich's estimate
    of the time `task` has left (`Task.time_remaining`); empty when it has none or nothing is
    left."""
    left = task.time_remaining
    if not left or task.finished:
        return ""
    if left >= 7200:
        return f", about {left / 3600:.1f} h left"
    if left >= 120:
        return f", about {left / 60:.0f} min left"
    return f", about {left:.0f} s left"


def _phased_progress() -> Progress:
    """A progress bar whose label names the current phase (`compiling ...`, `episodes`), with a
    spinner that moves while a phase (a JIT compile) shows no progress; on a stderr that is no
    terminal, plain lines instead (`_LoggedProgress`)."""
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    if not err.is_terminal:
        return _LoggedProgress(*columns, console=err)
    return Progress(*columns, console=err, transient=True)


DisablePass = Annotated[Optional[list[str]], typer.Option(
    "--disable-pass", show_default=False, metavar="PASS",
    help="skip this pass of the pipeline (repeatable), e.g. `--disable-pass effect_tables` to measure what "
         f"it saves; the passes, in order: {', '.join(pass_names()[1:])}")]


def _pass_context(disabled: list[str] | None = None, after: str | None = None):
    """The pipeline options of a command, or a diagnostic and exit 1 for an unknown pass."""
    from envc.compiler.pipeline import PassContext, RequiredPassError, UnknownPassError, pass_names

    try:
        return PassContext(disabled=frozenset(disabled or ()), after=after)
    except RequiredPassError as e:
        _fail([Diagnostic("E0180", str(e), None,
                          help="leave it on; `--after PASS` shows the IR before a later pass")])
    except UnknownPassError:
        name = next(n for n in [*(disabled or ()), after] if n and n not in pass_names())
        _fail([Diagnostic("E0180", f"unknown pass `{name}`", None,
                          help=f"the passes, in order: {', '.join(pass_names())}"
                               + (f"; {hint}" if (hint := did_you_mean(name, pass_names())) else ""))])


def _load(path: str, ctx=None):
    from envc.compiler.check import load

    return load(path, ctx)


def _load_or_exit(path: str, ctx=None):
    """The module of the spec at `path` after the pipeline's passes (`ctx`: which), or its
    diagnostics on stderr and exit 1."""
    try:
        return _load(path, ctx)
    except DiagnosticError as e:
        _fail(e.diagnostics)


def _fail(diags: list[Diagnostic]) -> NoReturn:
    sys.stderr.write(render_all(diags))
    raise typer.Exit(1)


@app.command()
def check(specs: Annotated[list[str], typer.Argument(help="one or more `.envspec` files", show_default=False)]):
    """Check specs: syntax, names, types, integer ranges, data files and fills.

    Prints every error found (not just the first) with its location, and exits 1 when
    there is any. On success prints a one-line summary per spec.

    Example: `envc check specs/tictactoe.envspec specs/connect4.envspec`
    """
    failed: list[Diagnostic] = []
    for path in specs:
        try:
            m = _load(path)
        except DiagnosticError as e:
            failed.extend(e.diagnostics)
            continue
        from envc.compiler.actions import ActionSpace

        user_fields = [f for f in m.state if not f.builtin]
        filled = sum(1 for h in m.holes if h.status == "filled")
        holes = f", {filled}/{len(m.holes)} holes filled" if m.holes else ""
        out.print(f"ok: {path}: env `{m.name}`, {_count(m.num_players, 'player')}, {_count(ActionSpace(m).n, 'action')}, "
                  f"{_count(len(user_fields), 'state field')}, {_count(len(m.invariants), 'invariant')}{holes}")
        from envc.llm_fill.cli import print_stale_warnings

        print_stale_warnings(m)  # stale fills of holes no action calls (a called one is an error)
    if failed:
        _fail(failed)


@app.command()
def actions(
    spec: SpecArg,
    limit: Annotated[int, typer.Option(help="show at most this many rows (0: all)")] = 0,
):
    """List the flattened action space: one `Discrete(n)` index per action and parameter values.

    Kinds come in declaration order; within a kind the first parameter varies slowest.

    Example: `envc actions specs/connect4.envspec`
    """
    m = _load_or_exit(spec)
    from envc.compiler.actions import ActionSpace

    space = ActionSpace(m)
    table = Table(title=f"{m.name}: Discrete({space.n})")
    table.add_column("index", justify="right")
    table.add_column("action")
    table.add_column("kind")
    shown = space.n if limit <= 0 else min(limit, space.n)
    for i in range(shown):
        k, _ = space.decode(i)
        table.add_row(str(i), space.format(i), k.name)
    out.print(table)
    if shown < space.n:
        out.print(f"... {space.n - shown} more (use --limit 0 to show all)")
    if m.choice is not None:  # what `pending_choice()` says while a decision waits
        sites = Table(title="decisions (`choose`): the kind `choose(option)` answers the one waiting")
        sites.add_column("pending_choice()", justify="right")
        sites.add_column("where")
        sites.add_column("options")
        from envc.compiler.passes import choice_points

        for site, bp, _j, stmt in choice_points.plan(m).sites:
            loc = f"{os.path.basename(stmt.span.file)}:{stmt.span.line}" if stmt.span.line else "?"
            sites.add_row(str(site), f"{loc} (in {bp.kind} `{bp.name}`)", f"{stmt.var} in {stmt.lo}..{stmt.hi - 1}")
        out.print(sites)


@app.command()
def compile(
    spec: SpecArg,
    target: Annotated[str, typer.Option(help="backend: `jax` (a Python package using jax and numpy), `rust` "
                                        "(a maturin crate: PyO3 + rayon) or `python` (the checked IR on the "
                                        "reference interpreter)")] = "jax",
    out_dir: Annotated[Optional[str], typer.Option("-o", "--out", help="output folder (default: build/NAME-TARGET)")] = None,
    build: Annotated[bool, typer.Option("--build", help="`--target rust`: build the wheel (maturin, release) "
                                        "and install it into this Python")] = False,
    emit: Annotated[str, typer.Option(help="`package` (the target's files) or `ir` (print the IR the backends "
                                      "consume, or the IR after `--after PASS`, and write nothing)")] = "package",
    after: Annotated[Optional[str], typer.Option(
        "--after", metavar="PASS", show_default=False,
        help="with `--emit ir`: stop the pipeline after this pass, one of: "
             f"{', '.join(pass_names())} (`check` is the checker's output, before any pass)")] = None,
    disable_pass: DisablePass = None,
    prefix_walk: Annotated[str, typer.Option(
        "--prefix-walk", metavar="MODE",
        help="`--target jax`: how a loop that walks until a flag goes false is lowered: `off` (as any loop), "
             "`vmap` (every step at once) or `predicated` (straight-line steps); the last two are exact but "
             "were not faster on CPU (bench/RESULTS.md, issue 18)")] = "off",
    record_faults: Annotated[bool, typer.Option(
        help="`--target jax`: record runtime faults in `State._fault` (the interpreter and Rust raise them); "
             "`--no-record-faults` drops that code for a spec already verified (faster: the TCG about 1.5x on "
             "CPU; a fault then goes unnoticed)")] = True,
):
    """Compile a spec into a self-contained environment package.

    `--target jax` writes `DIR/__init__.py` and `DIR/env.py`: pure, jit- and vmap-able
    `init(key)`, `step(state, action)`, `observe(state, player)`, a `State` pytree,
    `rollout(key, n_steps, batch)` and, for one-player specs, a gymnax-style adapter.
    Import it by putting DIR's parent on `sys.path`.

    `--target python` writes `DIR/__init__.py` and `DIR/module.json` (the checked IR, data
    included): the same `init`/`step`/`observe` names, run by envc's reference interpreter.

    `--target rust` writes a maturin crate (`Cargo.toml`, `pyproject.toml`, `src/*.rs`,
    `python/envc_NAME/`): the batched `VecEnv` class (rayon, NumPy outputs written in
    place, auto-reset) and a Gymnasium `VectorEnv` adapter; `--build` builds and installs it.

    `--emit ir` prints the IR instead (`--after PASS` to see it after one pass of the
    pipeline; `--after check` before any pass).

    Examples: `envc compile specs/connect4.envspec --target jax -o build/connect4`,
    `envc compile specs/tcg.envspec --emit ir --after check`
    """
    _compile_options(emit, after, target, prefix_walk)
    ctx = replace(_pass_context(disable_pass, after), prefix_walk=prefix_walk, record_faults=record_faults)
    m = _load_or_exit(spec, replace(ctx, lower=emit == "ir"))  # `--emit ir`: the IR the backends consume
    if emit == "ir":
        from envc.compiler.printer import print_module

        sys.stdout.write(print_module(m))
        return
    out = _output_folder(out_dir or os.path.join("build", f"{m.name}-{target}"))
    if target == "rust":
        from envc.codegen.rust.build import compile_command

        console = Console(highlight=False, markup=False)
        try:
            code = compile_command(m, out, build, lambda text: console.print(text, soft_wrap=True),
                                   ctx)  # commands are pasted as is
        except OSError as e:
            _cannot_write(out, e)
        raise typer.Exit(code)
    from envc.codegen.jax import write as write_jax
    from envc.codegen.python import write as write_python

    start = time.perf_counter()
    try:  # the Python target is the interpreter on the IR of `PASSES`: no `LOWERING` passes
        paths = write_python(m, out) if target == "python" else write_jax(m, out, ctx)
    except DiagnosticError as e:  # a name the backend cannot expose (`envc.codegen.jax.check_state_names`)
        _fail(e.diagnostics)
    except OSError as e:  # a folder that cannot be created or written (`-o /proc/x`, no permission)
        _cannot_write(out, e)
    elapsed = time.perf_counter() - start
    out_console = Console(highlight=False, markup=False)
    out_console.print(f"wrote {', '.join(paths)} ({elapsed:.2f}s)")
    out_console.print(f"use it: `{_import_hint(out)}`", soft_wrap=True)  # one line: it is pasted as is


def _compile_options(emit: str, after: str | None, target: str, prefix_walk: str) -> None:
    """Exit 1 with E0180 on an option value `envc compile` does not know."""
    if emit not in ("package", "ir"):
        _fail([Diagnostic("E0180", f"unknown output `{emit}`", None, help="`--emit package` or `--emit ir`")])
    if after is not None and emit != "ir":
        _fail([Diagnostic("E0180", "`--after` needs `--emit ir`", None,
                          help=f"add `--emit ir` to print the IR after `{after}`")])
    if target not in ("jax", "rust", "python"):
        _fail([Diagnostic("E0180", f"unknown target `{target}`", None,
                          help="available targets: `jax`, `rust`, `python`")])
    if prefix_walk not in PREFIX_WALKS:
        _fail([Diagnostic("E0180", f"unknown `--prefix-walk {prefix_walk}`", None,
                          help=f"one of: {', '.join(PREFIX_WALKS)}")])


def _output_folder(out: str) -> str:
    """`out`, the folder the package is written into, or exit 1 with E0180 when it is a file."""
    if os.path.exists(out) and not os.path.isdir(out):
        _fail([Diagnostic("E0180", f"`-o {out}` is a file, not a folder", None,
                          help="name a folder (created if needed): the package's files are written into it")])
    return out


def _cannot_write(out: str, e: OSError) -> NoReturn:
    """Exit 1 with E0180: the output folder `out` cannot be created or written (`e` says why)."""
    _fail([Diagnostic("E0180", f"cannot write the package into `{out}`: {e.strerror or e}", None,
                      help="name a folder you can write, with `-o DIR`")])


def _count(n: int, noun: str) -> str:
    """`1 action`, `3 actions`: a count and its noun, for the one-line summaries."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _import_hint(out: str) -> str:
    """The Python that imports the package written into folder `out`, as `env`.

    The default folder, `build/NAME-TARGET`, is no identifier (`import tictactoe-jax` is a
    syntax error), so such a name is imported with `importlib.import_module`, which takes any
    folder name."""
    folder = os.path.abspath(out)  # (`-o .` or `-o ..` name the folder by its absolute path's last part)
    parent, name = os.path.dirname(folder), os.path.basename(folder)
    if name.isidentifier() and not keyword.iskeyword(name):
        return f"import sys; sys.path.insert(0, {parent!r}); import {name} as env"
    return f"import importlib, sys; sys.path.insert(0, {parent!r}); env = importlib.import_module({name!r})"


@app.command()
def verify(
    spec: SpecArg,
    targets: Annotated[str, typer.Option(help="comma-separated backends; `python` is the reference, `flat` the "
                                         "interpreter on the IR the array backends consume")] = "python,jax",
    episodes: Annotated[int | None, typer.Option(min=1, help="seeded random-policy episodes to compare "
                                                 "[default: 100]; with `--per-matchup`, the most seeds to try "
                                                 "[default: 10 x N x match-ups, or 100 when the match-ups cannot "
                                                 "be enumerated]", show_default=False)] = None,
    seed: Annotated[int, typer.Option(min=0, max=INT32_MAX, help="seed of the first episode (episode i uses seed+i) "
                                      "and of the policy")] = 0,
    max_steps: Annotated[int, typer.Option(min=1, max=INT32_MAX, help="longest episode compared")] = 1000,
    float_tolerance: Annotated[float, typer.Option(
        min=0.0, help="largest difference allowed on float32 fields: absolute up to magnitude 1, relative to the "
                      "larger magnitude above (an infinity or NaN must match exactly)")] = 0.0,
    per_matchup: Annotated[int | None, typer.Option(
        "--per-matchup", min=1, show_default=False,
        help="verify N episodes of every match-up (state fields marked @matchup); seeds are tried in order "
             "and a seed whose match-up is full is skipped")] = None,
    chunk: Annotated[int, typer.Option(min=1, help="episodes played, then replayed by each backend as one batch, "
                                       "at a time (memory is bounded by one chunk)")] = 256,
    level2_samples: Annotated[int, typer.Option(min=0, help="reached states sampled for level 2 over the whole "
                                                "run (spread over the chunks); from each, up to 4 legal actions "
                                                "of every action kind are injected")] = 20,
    joint: Annotated[bool, typer.Option("--joint", help="simultaneous specs: the backends play each turn with "
                                        "`step_joint` (every player's action at once) and states are compared "
                                        "at every turn's start")] = False,
    reference: Annotated[str, typer.Option(
        help="the backend that plays the episodes and that the others must match: `python` (the "
             "interpreter, levels 1-3) or a compiled one, `jax` or `rust` (levels 1 and 3 only, no "
             "interpreter: many more episodes per hour, e.g. `--reference jax --targets jax,rust`)")] = "python",
    disable_pass: DisablePass = None,
    jax_cache: JaxCacheOpt = None,
    policy: Annotated[Optional[str], typer.Option(
        "--policy", show_default=False,
        help="level 4, policy transfer: `MODULE:FUNCTION` (a module or a `.py` file) of a deterministic "
             "policy `f(observation, legal_action_mask) -> actions` on numpy batches; it plays `--episodes` "
             "seeded episodes on every target, whose returns, lengths and actions must be identical")] = None,
    tost_margin: Annotated[Optional[float], typer.Option(
        "--tost-margin", show_default=False,
        help="with `--policy`, for float specs: instead of identical episodes, require player 0's returns to "
             "be equivalent within this margin by two one-sided t-tests (TOST) at `--alpha`")] = None,
    alpha: Annotated[float, typer.Option(min=0.0, max=0.5, help="TOST's significance level")] = 0.05,
):
    """Check that compiled backends behave exactly like the reference interpreter.

    Level 1: the spec's invariants hold on every reached state. Level 2: from sampled
    reached states, every backend's next state equals the interpreter's for each action
    kind. Level 3: seeded random-policy trajectories are equal step by step. On a
    divergence prints the first step, the field path, both values and the actions that
    reproduce it, and exits 1.

    Episodes run in chunks of `--chunk`: the interpreter plays a chunk, each backend
    replays it as one batch, then it is dropped, so long runs need little memory.
    `--per-matchup N` verifies N episodes of every match-up (e.g. every ordered pair of
    decks of `specs/tcg.envspec`) and prints a table of the episodes verified per match-up.

    Level 4 (`--policy MODULE:FUNCTION`): instead of levels 1-3, the given policy plays
    `--episodes` seeded episodes on the interpreter and every target; returns, lengths and
    actions must be identical, or, with `--tost-margin`, the returns equivalent (float specs).

    `--reference jax --targets jax,rust`: JAX plays the episodes (a seeded random legal
    policy, in batches of `--chunk`) and Rust steps with the same actions; every state is
    compared, and the invariants are checked on JAX's. No interpreter runs (level 2 is
    skipped), which makes runs of 100,000s of episodes practical; the runs against the
    interpreter stay the check of meaning.

    Examples: `envc verify specs/tictactoe.envspec --targets python,jax --episodes 1000`,
    `envc verify specs/tcg.envspec --targets python,jax --per-matchup 1000`,
    `envc verify specs/tcg.envspec --reference jax --targets jax,rust --per-matchup 1000` and
    `envc verify specs/tcg.envspec --targets python,jax,rust --policy examples/ppo_tcg.py:policy`
    """
    names = _verify_targets(targets, policy)
    if not math.isfinite(float_tolerance):  # (an infinity passes `min=0.0`)
        _fail([Diagnostic("E0180", f"`--float-tolerance {float_tolerance}` is not a finite number", None,
                          help="e.g. `--float-tolerance 1e-5`")])
    if not names:
        _fail([Diagnostic("E0180", "`--targets` names no backend", None,
                          help="e.g. `--targets python,jax` (`python` alone checks the invariants on the interpreter)")])
    if tost_margin is not None and (policy is None or tost_margin <= 0):
        _fail([Diagnostic("E0180", "`--tost-margin` needs `--policy` and a positive margin", None,
                          help="e.g. `--policy my_policy.py:act --tost-margin 1.0`")])
    m = _load_or_exit(spec, _pass_context(disable_pass))
    if policy is not None:
        _verify_policy(m, names, policy, episodes or 100, seed, max_steps, tost_margin, alpha, jax_cache)
        return
    if reference != "python":
        _verify_backends(m, reference, names, episodes, seed, max_steps, float_tolerance, chunk, per_matchup,
                         jax_cache)
        return
    if joint and m.simultaneous is None:
        _fail([Diagnostic("E0192", f"`--joint` needs a simultaneous spec, and `{m.name}` is not one", None,
                          help="drop `--joint`: every step of this spec is one player's action")])
    from envc.verify import all_matchups
    from envc.verify import verify as run_verify

    rust_env = _rust_or_exit(m) if "rust" in names else None  # built (or found in the cache) before the timed run
    keys = all_matchups(m) if per_matchup is not None else None
    total: int | None
    if per_matchup is None:
        total = episodes or 100
    else:  # unknown (None) when the match-ups cannot be enumerated
        total = per_matchup * len(keys) if keys is not None else None
    if "jax" in names:
        _jax_cache(jax_cache)
    progress = _phased_progress()
    start = time.perf_counter()
    with progress:
        task = progress.add_task("episodes", total=total)
        report = run_verify(m, names, episodes=episodes or 100, seed=seed, max_steps=max_steps,
                            float_tolerance=float_tolerance, progress=lambda k: progress.advance(task, k),
                            rust_env=rust_env, chunk=chunk, per_matchup=per_matchup, level2_samples=level2_samples,
                            max_seeds=episodes if per_matchup is not None else None, joint=joint,
                            phase=lambda text: progress.update(task, description=text))
    others = [t for t in names if t != "python"]
    if not others:  # (it said "ok" on a spec whose choices leak; a hunt)
        err.print("note: level 2, the injected transitions and the check that hidden information stays hidden, "
                  "runs beside a backend: add one, `--targets python,flat` (the interpreter on the lowered IR)",
                  markup=False)
    _print_report(m, report, ", ".join(others) or "none (interpreter only)", per_matchup, float_tolerance,
                  time.perf_counter() - start, compared=bool(others))


def _verify_targets(targets: str, policy: str | None) -> list[str]:
    """The backends `--targets` names, or exit with E0180 for an unknown one, and for `flat`
    under `--policy` (level 4 has no flat IR: its ValueError was an internal error)."""
    names = [t.strip() for t in targets.split(",") if t.strip()]
    unknown = [t for t in names if t not in ("python", "flat", "jax", "rust")]
    if unknown:
        _fail([Diagnostic("E0180", f"unknown target `{unknown[0]}`", None,
                          help="targets are `python`, `flat` (the interpreter on the lowered IR), `jax` and `rust`")])
    if policy is not None and "flat" in names:
        _fail([Diagnostic("E0180", "`--policy` compares `python`, `jax` and `rust`, not `flat`", None,
                          help="drop `flat` from `--targets`, or verify it without `--policy`")])
    return names


def _rust_or_exit(m):
    """The built Rust package of `m` (`envc.verify.load_rust`, progress on stderr), or exit 2
    with the build's error."""
    from envc.codegen.rust.build import RustBuildError
    from envc.verify import load_rust

    try:
        return load_rust(m, progress=lambda text: err.print(text, markup=False))
    except RustBuildError as e:
        err.print(f"error: {e}", markup=False)
        raise typer.Exit(2) from None


def _print_report(m, report, backends: str, per_matchup: int | None, float_tolerance: float,
                  elapsed: float, compared: bool = True) -> None:
    """What `envc verify` prints: faults, divergences, the summary line, the match-up table;
    exits 1 when the report is not ok. `compared`: some backend was compared with the
    interpreter (else the ok line says only what the interpreter's episodes showed)."""
    from envc.run_jax import label_text, matchup_fields

    for fault in report.faults[:10]:
        err.print(Text.assemble(("fault", "red"), f" {fault}"))
    for d in report.divergences[:5]:
        err.print(d.render(), markup=False)
    for fault in report.spec_faults[:5]:  # reproduced by every backend: a bug of the spec, not of a backend
        err.print(Text.assemble(("spec fault", "yellow"), f" {visible(fault, one_line=True)}"))  # (a fill's text)
    if len(report.spec_faults) > 5:
        err.print(f"... {len(report.spec_faults)} episodes ended in a runtime fault of the spec, each reproduced "
                  "by every backend", markup=False)
    tried = f", {report.seeds_tried} seeds tried" if per_matchup is not None else ""
    out.print(f"{m.name}: {report.episodes} episodes, {report.steps} steps, {report.invariant_checks} invariant checks "
              f"(level 1), {report.level2_transitions} injected transitions (level 2), backends: {backends}{tried} "
              f"({elapsed:.1f}s)")
    if matchup_fields(m):
        counts = report.per_matchup_counts
        table = Table()
        table.add_column("match-up")
        table.add_column("verified episodes", justify="right")
        for key, n in counts.items():
            table.add_row(visible(label_text(m, key), one_line=True), f"{n:,}")
        _wide().print(table)
        short = [k for k, n in counts.items() if per_matchup is not None and n < per_matchup]
        if short:
            err.print(f"note: {len(short)} match-up(s) got fewer than {per_matchup} verified episodes in "
                      f"{report.seeds_tried} seeds: raise --episodes (the most seeds to try), unless `init` never "
                      "deals them (an episode that faulted on the interpreter counts, its fault compared like a state)")
    if not report.ok:
        out.print(f"FAILED: {len(report.divergences)} divergence(s), {len(report.faults)} fault(s)")
        raise typer.Exit(1)
    faulted = f", {len(report.spec_faults)} ending in the same runtime fault on every backend" \
        if report.spec_faults else ""
    if not compared:
        out.print("ok: no runtime fault and no broken invariant on the interpreter" + faulted)
        return
    out.print("ok: identical trajectories" + (f" (float32 within {float_tolerance})" if float_tolerance else "")
              + faulted)


def _verify_backends(m, reference: str, names: list[str], episodes: int | None, seed: int, max_steps: int,
                     float_tolerance: float, chunk: int, per_matchup: int | None, jax_cache: str | None) -> None:
    """`envc verify --reference jax|rust`: compiled backends against each other
    (envc.cross_check), printed as `verify` prints."""
    from envc.cross_check import REFERENCES, cross_check, planned_episodes

    if reference not in REFERENCES:
        _fail([Diagnostic("E0180", f"unknown reference `{reference}`", None,
                          help="the reference is `python` (the interpreter, the default), `jax` or `rust`")])
    others = [t for t in names if t != reference]
    if "python" in others or "flat" in others or not others:
        _fail([Diagnostic("E0180", f"with `--reference {reference}`, the targets are the compiled backends checked "
                          f"against it, not `{', '.join(names)}`", None,
                          help=f"e.g. `--reference {reference} --targets jax,rust`; the interpreter is the "
                               "reference only with `--reference python`")])
    rust_env = _rust_or_exit(m) if "rust" in names else None
    if "jax" in names:
        _jax_cache(jax_cache)
    progress = _phased_progress()
    start = time.perf_counter()
    with progress:
        task = progress.add_task("episodes", total=planned_episodes(m, episodes or 100, per_matchup))
        report = cross_check(m, reference, names, episodes=episodes or 100, seed=seed, max_steps=max_steps,
                             float_tolerance=float_tolerance, chunk=chunk, per_matchup=per_matchup,
                             max_seeds=episodes if per_matchup is not None else None,
                             progress=lambda k: progress.advance(task, k), rust_env=rust_env,
                             phase=lambda text: progress.update(task, description=text))
    _print_report(m, report, f"{', '.join(others)} against {reference}", per_matchup, float_tolerance,
                  time.perf_counter() - start)


def _policy_report(run, ref: str, *args, **kwargs):
    """`run(*args, **kwargs)` (`verify_policy`), with the policy's own error and a runtime fault
    of the spec met under it reported as such (exit 1), not as an internal error of envc."""
    from envc.compiler.interp import SpecRuntimeError
    from envc.verify import PolicyError

    try:
        return run(*args, **kwargs)
    except PolicyError as e:
        _fail([Diagnostic("E0180", f"`{ref}`: {e}", None, help="fix the policy (see its traceback with ENVC_DEBUG=1)")])
    except Exception as e:
        if not isinstance(e, SpecRuntimeError) and type(e).__name__ != "SpecRuntimeError":  # (Rust's class)
            raise
        out.print(f"spec fault while `{ref}` played: {e}", markup=False)
        out.print("level 4 compares episodes that end without a fault; `envc verify` without --policy "
                  "compares the backends' faults (levels 1-3)", markup=False)
        raise typer.Exit(1) from None


def _verify_policy(m, names: list[str], ref: str, episodes: int, seed: int, max_steps: int,
                   tost_margin: float | None, alpha: float, jax_cache: str | None) -> None:
    """`envc verify --policy`: level 4 (envc.verify.verify_policy), printed as a table."""
    from envc.verify import load_policy, verify_policy

    try:
        fn = load_policy(ref)
    except ValueError as e:
        _fail([Diagnostic("E0180", str(e), None, help="give `MODULE:FUNCTION`, e.g. `examples/ppo_tcg.py:policy`")])
    rust_env = _rust_or_exit(m) if "rust" in names else None
    if "jax" in names:
        _jax_cache(jax_cache)
    start = time.perf_counter()
    with err.status(f"playing {episodes} episodes with `{ref}` on {', '.join(['python'] + [n for n in names if n != 'python'])}"
                    " (JAX compiles first)"):
        report = _policy_report(verify_policy, ref, m, names, fn, episodes=episodes, seed=seed,
                                max_steps=max_steps, tost_margin=tost_margin, alpha=alpha, rust_env=rust_env)
    elapsed = time.perf_counter() - start
    title = f"{m.name}: level 4, policy `{ref}`, {episodes} episodes from seed {seed}"
    _wide().print(_policy_table(m, report, title, episodes, tost_margin, alpha))
    for d in report.divergences[:5]:
        err.print(d.render(), markup=False)
    if not report.ok:
        what = (f"{len(report.divergences)} episode(s) differ" if not report.tost
                else f"{len(report.divergences)} episode(s) faulted" if report.divergences
                else "returns not shown equivalent")
        out.print(f"FAILED: {what} ({elapsed:.1f}s)")
        raise typer.Exit(1)
    out.print(("ok: equivalent returns" if report.tost else "ok: identical returns, lengths and actions")
              + f" ({elapsed:.1f}s)")


def _policy_table(m, report, title: str, episodes: int, tost_margin: float | None, alpha: float) -> Table:
    """The table of `envc verify --policy`: each target's mean returns and length, the episodes
    identical to the interpreter's and, with `--tost-margin`, the equivalence test."""
    table = Table(title=title)
    table.add_column("target")
    for p in range(m.num_players):
        table.add_column(f"mean return P{p}", justify="right")
    table.add_column("mean length", justify="right")
    table.add_column("identical to python", justify="right")
    if report.tost:
        table.add_column(f"TOST (margin {tost_margin}, alpha {alpha})", justify="right")
    for t, run in report.runs.items():
        cells = [t] + [f"{x:.4f}" for x in run.returns.mean(axis=0)] + [f"{run.lengths.mean():.2f}"]
        cells.append("-" if t == "python" else f"{report.identical[t]}/{episodes}")
        if report.tost:
            tt = report.tost.get(t)
            cells.append("-" if tt is None else f"{'equivalent' if tt.equivalent else 'NOT shown'}: diff "
                         f"{tt.mean_difference:+.4f}, p {max(tt.p_lower, tt.p_upper):.3g}")
        table.add_row(*cells)
    return table


@app.command()
def bench(
    spec: SpecArg,
    target: Annotated[str, typer.Option(help="`jax` (scan-fused rollouts), `rust` (the batch class, beside "
                                        "the interpreter and JAX) or `python` (the interpreter)")] = "jax",
    batch: Annotated[str, typer.Option(help="comma-separated batch sizes")] = "1,64,1024,8192",
    threads: Annotated[str, typer.Option(help="`--target rust`: comma-separated rayon thread counts")] = "1,2",
    repeats: Annotated[int, typer.Option(min=1, help="timed runs per batch size; SPS is their median")] = 3,
    steps: Annotated[int, typer.Option(min=1, help="interpreter steps to time (`--target python`)")] = 2000,
    peer: Annotated[str | None, typer.Option(help="a Python file defining `peer_speed(module, seconds, progress)` -> {label, "
                                             "episodes_per_s, steps_per_s} on one core: measured in the same run and "
                                             "printed beside envc's, with episodes per second per core as ratios "
                                             "(bench/pokemon_vs_poke_engine.py: poke-engine's random battles)",
                                             show_default=False)] = None,
    observations: Annotated[bool, typer.Option(
        help="compute the observation after every step (`--target rust` and `jax`); `--no-observations` measures "
             "the loop of a search or random rollout, which reads none (Rust: `VecEnv(..., observations=False)`, "
             "JAX: `rollout(..., observations=False)`)")] = True,
    record_faults: Annotated[bool, typer.Option(
        help="`--target jax`: time the module that records runtime faults (the default) or, with "
             "`--no-record-faults`, the one without that code (`envc compile --no-record-faults`)")] = True,
    with_jax: Annotated[bool, typer.Option("--jax/--no-jax", help="`--target rust`: also time the JAX backend in the "
                                      "same run (its compile takes a while on big specs)")] = True,
    disable_pass: DisablePass = None,
    jax_cache: JaxCacheOpt = None,
):
    """Measure steps per second (SPS) and JIT compile time.

    `--target jax`: for each batch size, `batch` environments play the random legal policy
    with auto-reset for a fixed number of steps inside one jitted `lax.scan`; SPS is the
    median of `--repeats` runs after compilation; compile time (lower + compile) is reported
    beside it, with the batched state's size and the process's peak memory.
    `--target rust`: the batch class (one Python->Rust call per batch step, rayon threads),
    with the interpreter and JAX in the same run, and the ratios between them.
    `--target python`: the reference interpreter, one environment.

    A simultaneous spec plays whole turns (every player's action at once): SPS counts turns.
    `--peer FILE` times another engine in the same run and prints the ratios of finished
    episodes and of steps per second per CPU core (JAX uses every core; Rust per thread). The
    JAX rows count the episodes of a running batch: each timed scan continues the states the
    last one left.

    Example: `envc bench specs/connect4.envspec --target jax --batch 1,64,1024,8192`
    """
    if target not in ("jax", "python", "rust"):
        _fail([Diagnostic("E0180", f"unknown target `{target}`", None, help="targets are `jax`, `rust` and `python`")])
    if not observations and target == "python":
        _fail([Diagnostic("E0180", "`--no-observations` is an option of `--target rust` and `jax`, not `python`", None,
                          help="drop it, or use `--target rust` or `--target jax`")])
    sizes = _int_list("batch", batch, "1,64,1024")
    ctx = _pass_context(disable_pass)
    m = _load_or_exit(spec, ctx)
    peer_mod = _load_peer(peer) if peer else None  # a bad peer file fails before anything is timed
    if target == "rust":
        with _spec_faults_exit(spec):
            _bench_rust(m, sizes, threads, repeats, observations, with_jax, peer, peer_mod)
        return
    if target == "python":
        from envc import bench as bench_mod

        with _spec_faults_exit(spec):
            runs = bench_mod.bench_python(m, steps=steps, repeats=repeats)
        shown = " / ".join(f"{r:,.0f}" for r in runs)
        out.print(f"{m.name}: reference interpreter, 1 environment, {steps} steps: {statistics.median(runs):,.0f} SPS "
                  f"(median of {len(runs)} runs: {shown})")
        return
    _jax_cache(jax_cache)
    with _spec_faults_exit(spec):
        _bench_jax(m, sizes, repeats, replace(ctx, record_faults=record_faults), peer, peer_mod, observations)


@contextlib.contextmanager
def _spec_faults_exit(spec: str):
    """A runtime fault of the spec met while benchmarking (the interpreter's or the Rust crate's
    `SpecRuntimeError`) as a message and exit 1, not an internal error of envc (a hunt: `envc
    bench` on a spec that faults at its first step)."""
    from envc.compiler.interp import SpecRuntimeError

    try:
        yield
    except Exception as e:
        if not isinstance(e, SpecRuntimeError) and type(e).__name__ != "SpecRuntimeError":  # (Rust's class)
            raise
        _fail([Diagnostic("R0001", f"runtime fault while benchmarking: {e}", None,
                          help=f"a benchmark plays random games and stops at a fault: `envc run {spec}` "
                               "shows the seed and the actions that reach it")])


#: the generated crate's `VecEnv` takes at most this many threads (`MAX_THREADS` of lib.rs.j2):
#: more was an internal error after the interpreter had been timed (a hunt)
MAX_THREADS = 1024


def _int_list(option: str, text: str, example: str, most: int = MAX_BATCH) -> list[int]:
    """The integers of a comma-separated option (`--batch 1,64`), each in 1..`most`, or exit 1
    with E0180."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        _fail([Diagnostic("E0180", f"`--{option} {text}` is not a list of integers", None,
                          help=f"e.g. `--{option} {example}`")])
    if not values or min(values) < 1 or max(values) > most:
        _fail([Diagnostic("E0180", f"`--{option} {text}` needs integers from 1 to {most:,}", None,
                          help=f"e.g. `--{option} {example}`")])
    return values


def _bench_rust(m, sizes: list[int], threads: str, repeats: int, observations: bool, with_jax: bool,
                peer: str | None, peer_mod) -> None:
    """`envc bench --target rust`: the batch class per thread count and batch size (with the
    interpreter and JAX), then the peer's ratios per core."""
    from envc.codegen.rust.bench import bench as bench_rust
    from envc.codegen.rust.bench import table as rust_table

    counts = _int_list("threads", threads, "1,2", most=MAX_THREADS)
    rows, build_s = bench_rust(m, sizes, counts, runs=repeats, progress=lambda text: err.print(text, markup=False),
                               observations=observations, with_jax=with_jax)
    out.print(rust_table(m, rows, build_s, repeats, observations), markup=False)
    if not peer:
        return
    per_core = [(f"rust threads={r['threads']} batch={r['batch']}", r["eps"] / r["threads"], r["sps"] / r["threads"])
                for r in rows if r["backend"] == "rust"]
    cpus = os.cpu_count() or 1
    per_core += [(f"jax batch={r['batch']}", r["eps"] / cpus, r["sps"] / cpus) for r in rows if r["backend"] == "jax"]
    _print_peer(m, peer_mod, peer, per_core)


def _bench_jax(m, sizes: list[int], repeats: int, ctx, peer: str | None, peer_mod, observations: bool = True) -> None:
    """`envc bench --target jax`: SPS and compile time per batch size, as a table, then the
    peer's ratios per core. `ctx`: the pass context, `record_faults` as `--record-faults` says;
    `observations=False`: the rollout computes none (`--no-observations`)."""
    from envc import bench as bench_mod

    record_faults = ctx.record_faults
    progress = _phased_progress()
    with progress:
        task = progress.add_task("batches", total=len(sizes))
        jax_rows = bench_mod.bench_jax(m, sizes, repeats=repeats, progress=lambda: progress.advance(task),
                                   phase=lambda text: progress.update(task, description=text), ctx=ctx,
                                   observations=observations)
    import jax

    cache = jax.config.values["jax_compilation_cache_dir"]  # (`values`: the typed read of an option)
    faults = ("" if record_faults else ", no fault recording") + ("" if observations else ", no observations")
    table = Table(title=f"{m.name} on JAX ({jax.devices()[0].platform}): random legal policy, scan-fused, auto-reset"
                        f"{faults}",
                  caption=("compile = trace (Python to jaxpr) + lower (to StableHLO) + XLA (to machine code), "
                           + (f"with JAX's compilation cache in {cache}" if cache else "JAX's compilation cache off")
                           + "; program: hit = the exported program of an earlier run was read (trace = reading it, "
                             "lower = lowering its call), miss = traced and stored for the next run"))
    for col in ("batch", "steps/scan", "SPS (median)", "runs", "compile (s)", "trace", "lower", "XLA", "program",
                "state (KiB)", "peak RSS (MiB)"):
        table.add_column(col, justify="right", overflow="fold")  # a narrow terminal wraps a figure, never cuts it
    for r in jax_rows:
        table.add_row(str(r.batch), str(r.n_steps), f"{r.sps:,.0f}", " ".join(f"{x:,.0f}" for x in r.sps_runs),
                      f"{r.compile_s:.2f}", f"{r.trace_s:.2f}", f"{r.lower_s:.2f}", f"{r.xla_s:.2f}", r.cache,
                      f"{r.state_bytes / 1024:,.1f}", f"{r.peak_rss_mib:,.0f}")
    _wide().print(table)
    if peer:
        cpus = os.cpu_count() or 1
        _print_peer(m, peer_mod, peer, [(f"jax batch={r.batch}", r.episodes_per_s / cpus, r.sps / cpus)
                                        for r in jax_rows])


def _load_peer(path: str):
    """The module of the peer file `path` (a user's own Python file, run as given), which must
    define `peer_speed(module, seconds, progress)`; E0150 when it is missing, E0180 when it
    defines no `peer_speed`."""
    import importlib.machinery
    import importlib.util

    if not os.path.isfile(path):
        _fail([Diagnostic("E0150", f"peer file `{path}` not found", None, help="give a Python file defining "
                          "`peer_speed(module, seconds, progress)`, e.g. `--peer bench/pokemon_vs_poke_engine.py`")])
    # an explicit loader: the file is Python whatever its suffix (without one, a `.txt` file
    # has no spec and was an internal error)
    loader = importlib.machinery.SourceFileLoader("envc_bench_peer", path)
    spec = importlib.util.spec_from_file_location("envc_bench_peer", path, loader=loader)
    assert spec is not None  # never None with an explicit loader
    peer_mod = importlib.util.module_from_spec(spec)
    try:
        loader.exec_module(peer_mod)
    except Exception as e:  # the user's own file: its error is not envc's (it was an internal error)
        _fail([Diagnostic("E0180", f"peer file `{path}` failed to load: {type(e).__name__}: {e}", None,
                          help="run it with python to see the traceback")])
    if not callable(getattr(peer_mod, "peer_speed", None)):
        _fail([Diagnostic("E0180", f"`{path}` defines no `peer_speed(module, seconds, progress)`", None)])
    return peer_mod


def _print_peer(m, peer_mod, path: str, ours: list[tuple[str, float, float]]) -> None:
    """Time the peer engine (`peer_mod.peer_speed(module, seconds, progress)` -> {label,
    episodes_per_s, steps_per_s} on one core) and print the ratios of finished episodes and of
    steps per second per core: `ours` is [(label, envc's episodes per second per core, its
    steps per second per core)]; `path`: the peer file (its name labels the peer's figures when
    it gives no label). Both ratios, because an engine's episodes may differ in length from
    the peer's (the JAX rows count the episodes of a running batch, `envc.bench.measure_rollout`
    with `init`: until 2026-12-05 they counted only those that ended within scans starting every
    environment at step 0, far fewer where a scan is not much longer than an episode)."""
    try:
        result = peer_mod.peer_speed(m, 5.0, progress=lambda text: err.print(text, markup=False))
    except Exception as e:  # the user's own code (a raise in it was an internal error of envc)
        _fail([Diagnostic("E0180", f"`peer_speed` of `{path}` raised {type(e).__name__}: {e}", None)])
    missing = [k for k in ("episodes_per_s", "steps_per_s") if not isinstance(result, dict)
               or not isinstance(result.get(k), (int, float)) or result[k] <= 0]
    if missing:
        _fail([Diagnostic("E0180", f"`peer_speed` of `{path}` returned no positive {' or '.join(missing)}", None,
                          help="return {'label': str, 'episodes_per_s': float, 'steps_per_s': float}")])
    label = result.get("label", os.path.basename(path))
    out.print(f"peer {label}: {result['episodes_per_s']:,.0f} episodes/s, {result['steps_per_s']:,.0f} steps/s on one "
              "core")
    for name, eps, sps in ours:
        out.print(f"  {name}: {eps:,.0f} episodes/s per core = {eps / result['episodes_per_s']:,.2f} x the peer; "
                  f"{sps:,.0f} steps/s per core = {sps / result['steps_per_s']:,.2f} x the peer")


@app.command()
def run(
    spec: SpecArg,
    episodes: Annotated[int, typer.Option(min=1, help="number of episodes to play (and count)")] = 100,
    seed: Annotated[int, typer.Option(min=0, max=INT32_MAX, help="`python`: seed of the first episode (episode i uses "
                                      "seed+i) and of the policy; `jax`: the PRNG key of the initial states, policy "
                                      "and resets")] = 0,
    max_steps: Annotated[int, typer.Option(min=1, max=INT32_MAX, help="stop an episode after this many steps if it "
                                           "has not ended")] = 10_000,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="`--target python`: print one line per episode")] = False,
    target: Annotated[str, typer.Option(help="`python` (the reference interpreter, one game at a time) or `jax` "
                                        "(the generated JAX environment, `--batch` games at once)")] = "python",
    batch: Annotated[Optional[int], typer.Option(min=1, max=MAX_BATCH, help="`--target jax`: environments played at once "
                                                 "[default: 1024]", show_default=False)] = None,
    disable_pass: DisablePass = None,
    jax_cache: JaxCacheOpt = None,
    matchups: Annotated[Optional[Path], typer.Option(
        "--matchups", metavar="FILE.csv", show_default=False, dir_okay=False,
        help="also write the per-match-up table as CSV to FILE.csv, and (two players, one entrant per player, "
             "e.g. a deck each) a heatmap of scores beside it, FILE.png (needs matplotlib)")] = None,
    heatmap: Annotated[Optional[Path], typer.Option(
        "--heatmap", metavar="FILE.png", show_default=False, dir_okay=False,
        help="where the heatmap goes [default: the --matchups file with .png]; two-player specs whose "
             "match-up is one entrant per player")] = None,
):
    """Play episodes with a uniformly random legal policy and print statistics per match-up.

    One row per match-up (the value of the spec's `@matchup` state fields at the end of an
    episode, e.g. `mewtwo-gardevoir vs pikachu-zapdos`; one row `all` without them): the
    episodes, mean length (in turns for a simultaneous spec, where each player's commit is a
    step), each player's win rate, draws and truncations; then steps per
    second (SPS, loading and compiling excluded). `--target jax` also prints the JIT compile
    time, measured separately. Under the table: the best and worst entrants (decks) by score
    against the other entrants in both seats (wins + half the draws, / games; see
    envc/matchups.py), draws, mean length, and how the
    episodes ended (the final value of the spec's `@outcome` field, e.g. the TCG's points / no
    Pokémon in play / turn limit). `--matchups FILE.csv` writes the table as CSV and a heatmap of
    each entrant's score against each other (FILE.png, matplotlib).

    `--target jax` runs `--batch` environments with auto-reset in `lax.scan` chunks and counts
    the first `ceil(episodes / batch)` episodes of each environment (exactly `--episodes`;
    see envc/run_jax.py); SPS counts every step played.

    Example: `envc run specs/tcg.envspec --target jax --batch 4096 --episodes 100000 --matchups tcg.csv`
    """
    if target not in ("python", "jax"):
        _fail([Diagnostic("E0180", f"unknown target `{target}`", None, help="`envc run` runs `--target python` or `jax`")])
    if heatmap is not None and matchups is None:
        _fail([Diagnostic("E0180", "`--heatmap` needs `--matchups`", None,
                          help="write `--matchups FILE.csv` (the heatmap goes beside it as FILE.png unless "
                               "`--heatmap` says where)")])
    m = _load_or_exit(spec, _pass_context(disable_pass))
    report = _MatchupFiles(m, matchups, heatmap)
    if target == "jax":
        if verbose:
            err.print("note: `--verbose` applies to `--target python`; ignored")
        _jax_cache(jax_cache)
        _run_jax(m, episodes, batch or 1024, seed, max_steps, report)
        return
    if batch is not None:
        err.print("note: `--batch` applies to `--target jax`; the interpreter plays one game at a time")
    _run_python(m, episodes, seed, max_steps, verbose, report)


def _run_python(m, episodes: int, seed: int, max_steps: int, verbose: bool, report: _MatchupFiles) -> None:
    """`envc run --target python`: the interpreter plays one game at a time, this prints."""
    import numpy as np

    from envc.compiler.interp import Interpreter
    from envc.run_jax import (
        Episodes,
        label_text,
        label_values,
        matchup_fields,
        outcome_code,
        outcome_field,
        turn_field,
    )

    it = Interpreter(m)
    policy = np.random.default_rng(seed)
    labels: list[tuple[int, ...]] = []
    codes: list[int] = []
    lengths: list[int] = []
    returns: list[list[float]] = []
    endings: list[int] = []
    ending = outcome_field(m)
    turns = turn_field(m)  # a simultaneous spec's lengths are in turns (envc.run_jax.turn_field)
    steps = 0
    start = time.perf_counter()
    progress = Progress(TextColumn("[bold]playing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=err, transient=True, disable=not err.is_terminal)
    with progress:
        task = progress.add_task("episodes", total=episodes)
        for ep in range(episodes):
            s, n, ret = _play_episode(it, seed + ep, max_steps, policy)
            steps += n
            lengths.append(int(s.fields[turns]) if turns is not None else n)
            codes.append(outcome_code(s.terminated, s.truncated, s.rewards, m.num_players))
            labels.append(label_values(m, s.fields))
            returns.append(list(ret))
            endings.append(int(s.fields[ending.name]) if ending is not None else 0)
            if verbose:
                where = f"{visible(label_text(m, labels[-1]), one_line=True)}, " if matchup_fields(m) else ""
                played = _count(n, "step") if turns is None else f"{_count(lengths[-1], 'turn')} ({_count(n, 'step')})"
                out.print(f"episode {ep}: seed {seed + ep}, {where}{played}, {_outcome_text(codes[-1])}, "
                          f"rewards {list(map(float, s.rewards))}")
            progress.advance(task)
    elapsed = time.perf_counter() - start
    eps = Episodes.from_lists(labels, codes, lengths, returns, len(labels[0]), m.num_players, endings)
    title = f"{m.name}: {episodes} episodes, random legal policy, reference interpreter"
    report.write(eps, title, _print_matchups(m, eps, title))
    _wide().print(f"steps: {steps:,} in {elapsed:.2f} s: {steps / elapsed if elapsed > 0 else float('nan'):,.0f} SPS "
              "(reference interpreter, one game at a time, loading excluded)")


def _play_episode(it, seed: int, max_steps: int, policy):
    """One episode of `envc run --target python` from `init(seed)`, random legal actions drawn
    by `policy` (a numpy Generator), at most `max_steps`: (last state, steps, returns as
    float64[num_players]). A runtime fault exits with its report (`_runtime_fault`)."""
    import numpy as np

    from envc.compiler.interp import SpecRuntimeError

    actions_taken: list[int] = []
    rewards = []
    try:
        s = it.init(seed)
        rewards.append(s.rewards)  # (an `init` may decide the game: its rewards count)
        n = 0
        while not (s.terminated or s.truncated) and n < max_steps:
            legal = np.flatnonzero(s.legal_action_mask)
            if len(legal) == 0:
                raise SpecRuntimeError("a non-terminal state has no legal action")
            a = int(policy.choice(legal))
            actions_taken.append(a)
            s = it.step(s, a)
            rewards.append(s.rewards)
            n += 1
    except SpecRuntimeError as e:
        _runtime_fault(e, it, seed, actions_taken)
    # rewards of +inf then -inf make a NaN return, a legal IEEE result the table shows: numpy's
    # warning, printed from inside envc, told the user nothing (hunt L; the interpreter's `_ieee`)
    with np.errstate(invalid="ignore", over="ignore"):
        return s, n, np.sum(np.asarray(rewards, dtype=np.float64), axis=0)


def _outcome_text(code: int) -> str:
    """An outcome code of envc.run_jax as words."""
    from envc.run_jax import CUT, DRAW, TERMINATED, TRUNCATED

    names = {DRAW: "draw", TERMINATED: "terminated", TRUNCATED: "truncated", CUT: "cut at --max-steps"}
    return names[code] if code < 0 else f"player {code} wins"


def _run_jax(m, episodes: int, batch: int, seed: int, max_steps: int, report: _MatchupFiles) -> None:
    """`envc run --target jax`: envc/run_jax.py plays, this prints."""
    try:
        import jax  # noqa: F401
    except ImportError:
        _fail([Diagnostic("E0180", "`--target jax` needs jax, which is not installed", None,
                          help="install it with `pip install 'envc[jax]'` (or `pip install jax`)")])
    from envc.run_jax import run_jax

    progress = _phased_progress()
    with progress:
        task = progress.add_task("playing", total=episodes)
        r = run_jax(m, episodes, batch, seed=seed, max_steps=max_steps, progress=lambda k: progress.advance(task, k),
                    phase=lambda text: progress.update(task, description=text))
    title = f"{m.name}: {episodes} episodes, random legal policy, JAX ({r.platform}), batch {r.batch}"
    report.write(r.episodes, title, _print_matchups(m, r.episodes, title))
    wide = _wide()
    wide.print(f"steps: {r.steps:,} in {r.elapsed_s:.2f} s: {r.sps:,.0f} SPS (every step played, "
              f"{r.calls} calls of {r.chunk} steps x {r.batch} environments; compile excluded)")
    import jax

    cache = jax.config.values["jax_compilation_cache_dir"]  # (`values`: the typed read of an option)
    where = f"JAX's compilation cache: {cache}" if cache else "JAX's compilation cache off"
    read = {"hit": "programs read back from an earlier run", "miss": "programs traced and stored"}.get(r.cache, r.cache)
    wide.print(f"JIT compile: {r.compile_s:.2f} s (code generation {r.codegen_s:.2f} s; {read}; {where})")
    wide.print(f"episodes: {r.finished:,} finished, the first {episodes:,} by id counted "
              f"(environment e's k-th episode has id k*{r.batch}+e)")
    if r.fault is not None:  # (`State._fault`: the same site and message as the interpreter's)
        _fail([Diagnostic("R0001", f"runtime fault: {r.fault}", None,
                          help="the spec reached a state it cannot handle: fix the rule or add a guard; "
                               "`envc run` on the interpreter (--target python) gives the seed and actions")])


class _MatchupFiles:
    """`envc run --matchups FILE.csv [--heatmap FILE.png]`: where the match-up files go, checked
    before any game is played (a run of hours must not end on an unwritable path)."""

    def __init__(self, m, csv_path: Optional[Path], png_path: Optional[Path]):
        from envc.run_jax import entrant_type

        self.m, self.csv, self.png = m, csv_path, None
        if csv_path is None:
            return
        for folder in {csv_path.parent, (png_path or csv_path).parent}:
            if not folder.is_dir():
                _fail([Diagnostic("E0180", f"no folder `{folder}` for the match-up files", None,
                                  help="create it first, or name a file in an existing folder")])
        if m.num_players != 2 or entrant_type(m) is None:
            if png_path is not None:  # (asked for, and not drawn: a note scrolled away above the table; a hunt)
                _fail([Diagnostic("E0181", "`--heatmap` draws a two-player spec whose match-up is one entrant per "
                                  f"player, and {m.name}'s is not", None,
                                  help="drop `--heatmap`: the --matchups CSV holds every match-up")])
            return
        self.png = png_path or csv_path.with_suffix(".png")

    def write(self, eps, title: str, rows) -> None:
        """Write the CSV and the heatmap (if asked) and print the summary lines."""
        from envc.matchups import standings, summary_lines, write_csv, write_heatmap

        table = standings(self.m, eps)
        for line in summary_lines(self.m, rows, table):
            _wide().print(visible(line, one_line=True))  # (entrants are named by the data)
        if self.csv is None:
            return
        try:
            write_csv(self.csv, self.m, rows)
        except OSError as e:
            _fail([Diagnostic("E0180", f"cannot write `{self.csv}`: {e.strerror}", None,
                              help="the table above holds the results; name a writable file with `--matchups`")])
        out.print(f"match-ups: {self.csv}")
        if self.png is None or table is None:
            return
        try:
            write_heatmap(self.png, table, title)
        except ImportError:
            err.print("note: no heatmap: matplotlib is not installed (`pip install 'envc[plot]'`)")
            return
        except OSError as e:
            _fail([Diagnostic("E0180", f"cannot write `{self.png}`: {e.strerror}", None,
                              help="the CSV and the table above hold the results; name a writable file with "
                                   "`--heatmap`")])
        out.print(f"heatmap: {self.png}")


def _print_matchups(m, eps, title: str) -> list:
    """Print the per-match-up table (envc.run_jax.summarize; rates are fractions of the row's
    episodes) and return its rows."""
    from envc.run_jax import length_unit, summarize

    rows = summarize(m, eps)
    p = m.num_players
    table = Table(title=title)
    table.add_column("match-up")
    table.add_column("episodes", justify="right")
    # a simultaneous spec's lengths are turns (P steps each): the column says so
    table.add_column("mean length" if length_unit(m) == "steps" else "mean length (turns)", justify="right")
    if p > 1:
        for i in range(p):
            table.add_column(f"P{i} wins", justify="right")
        table.add_column("draws", justify="right")
        for i in range(p):  # a cooperative game's shared score shows only here (probe6's Hanabi: all draws)
            table.add_column(f"mean return P{i}", justify="right")
    else:
        table.add_column("mean return", justify="right")
        table.add_column("terminated", justify="right")
    table.add_column("truncated", justify="right")
    cut = any(r.cut for r in rows)
    if cut:
        table.add_column("cut at --max-steps", justify="right")
    for k, r in enumerate(rows):
        cells = [visible(r.label, one_line=True), f"{r.episodes:,}", f"{r.mean_length:.2f}"]
        if p > 1:
            cells += [f"{w:.3f}" for w in r.wins] + [f"{r.draws:.3f}"] + [f"{x:.3f}" for x in r.mean_return]
        else:
            cells += [f"{r.mean_return[0]:.3f}", f"{r.terminated:.3f}"]
        cells.append(f"{r.truncated:.3f}")
        if cut:
            cells.append(f"{r.cut:.3f}")
        table.add_row(*cells, end_section=k == len(rows) - 2 and len(rows) > 1)
    _wide().print(table)
    return rows


def _wide() -> Console:
    """stdout; when it is not a terminal, not wrapped at 80 columns (a match-up label stays on one line)."""
    return out if out.is_terminal else Console(highlight=False, markup=False, width=max(out.width, 160))


def _runtime_fault(e, it, seed: int, actions_taken: list[int]) -> None:
    trail = ", ".join(it.actions.format(a) for a in actions_taken[-10:])
    diag = Diagnostic("R0001", f"runtime fault: {e.args[0].split(': ', 1)[-1] if e.span else e}", e.span,
                      label="fault raised here",
                      notes=[f"reproduce with seed {seed} and actions {actions_taken}",
                             f"last actions: {trail}" if trail else "before the first action"],
                      help="the spec reached a state it cannot handle: fix the rule or add a guard")
    sys.stderr.write(render(diag) + "\n")
    raise typer.Exit(1)


# `envc fill` and `envc holes` (LLM fills of holes) are implemented in llm_fill/cli.py
from envc.llm_fill.cli import register as _register_fill_commands  # noqa: E402

_register_fill_commands(app)


def main() -> None:
    """Console entry point: run the app; internal errors exit 2 (traceback with ENVC_DEBUG=1)."""
    try:
        app()
    except DiagnosticError as e:  # raised outside a command's own handling
        sys.stderr.write(render_all(e.diagnostics))
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except Exception as e:  # pragma: no cover - an envc bug
        if os.environ.get("ENVC_DEBUG"):
            raise
        sys.stderr.write(f"internal error: {type(e).__name__}: {e}\n"
                         "this is a bug in envc; re-run with ENVC_DEBUG=1 for a traceback and report it\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
