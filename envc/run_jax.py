"""`envc run`: random legal games on the generated JAX environment, reported per match-up.

Public surface: `run_jax(module, episodes, batch, seed, max_steps, chunk, progress) -> RunResult`,
`Episodes` (finished episodes as arrays), `summarize(module, episodes) -> list[MatchupRow]`,
`label_values(module, fields)`, `label_text(module, values)`, `entrants(module, values)`,
`entrant_type(module)`, `entrant_text(module, values)`,
`outcome_code(...)`, `matchup_fields(module)`, `outcome_field(module)`, `ending_text(module, v)` and
the outcome codes `DRAW`, `TERMINATED`, `TRUNCATED`, `CUT`.
The summary half (`Episodes`, `summarize`, the labels) is shared with the interpreter path
of `envc run` (envc/cli.py), so both targets print the same table.

Match-ups: state fields marked `@matchup` name the match-up of an episode; its label is
their value at the end of the episode (`decks: Deck[2] @matchup` with decks = [1, 3] prints
`mewtwo-gardevoir vs pikachu-zapdos`, player 0 first). Without `@matchup` every episode has
the same, empty label and the report has one row.

Endings: the state field marked `@outcome` (at most one: a bool, integer or enum) says how an
episode ended; the report gives, per match-up, the fraction of episodes by its final value
(the TCG's `ended_by: End @outcome` = points, no Pokémon in play, turn limit). Without it
`Episodes.endings` is all 0 and no row has endings.

Method (`--target jax`): `batch` environments play the uniformly random legal policy with
auto-reset inside `lax.scan` chunks of `chunk` steps, one jitted call per chunk; the host
reads each chunk's done flags, outcomes, lengths, returns and labels while the device plays
the next one. Environment e's k-th finished episode has the id `k * batch + e`, and exactly
the episodes with id < `episodes` are counted: the first `ceil(episodes / batch)` episodes
of each environment. Which episodes count is thus fixed before any is played; counting
"the first N to finish" instead would favour short episodes (those still running at the
cut-off are the long ones). An episode that reaches `max_steps` steps without ending is cut
and reset (outcome `CUT`), so a run always ends. SPS = every environment step the device
played (counted or not) / wall seconds from the first chunk to the last, compile excluded;
the JIT compile time (lower + compile of the init and of the chunk) is reported beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from envc.compiler import ir

# Outcome codes of a finished episode: 0..num_players-1 is the winner (the only player with
# the largest, positive final reward, as in `envc run --target python`); then:
DRAW = -1  # terminated with no single winner (several players)
TERMINATED = -2  # terminated, one-player spec
TRUNCATED = -3  # the spec's turn_limit
CUT = -4  # reached `max_steps` without ending


# ------------------------------------------------------------------ match-up labels

def matchup_fields(module: ir.Module) -> list[ir.FieldDef]:
    """The state fields marked `@matchup`, in declaration order."""
    return [f for f in module.state if f.matchup]


def outcome_field(module: ir.Module) -> ir.FieldDef | None:
    """The state field marked `@outcome` (the checker allows at most one), or None."""
    return next((f for f in module.state if f.outcome), None)


def turn_field(module: ir.Module) -> str | None:
    """The state field counting a simultaneous spec's resolved turns (`SimultaneousDef.turn`,
    what the spec reads as `step_count` and `turn_limit` bounds), None for a sequential spec.

    Decision: `envc run` measures an episode's length in turns there, not in envc's steps
    (one step per player's commit, P per turn), so that a length reads against `turn_limit`."""
    sim = module.simultaneous
    return sim.turn if sim is not None and sim.lowered else None


def length_unit(module: ir.Module) -> str:
    """The unit of `Episodes.lengths` and `MatchupRow.mean_length`: `turns` or `steps`."""
    return "turns" if turn_field(module) is not None else "steps"


def ending_text(module: ir.Module, v: int) -> str:
    """How a final value of the `@outcome` field prints: an enum member by its text (`no_pokemon
    "no Pokémon in play"` prints the text), a bool as true/false, an integer as itself."""
    f = outcome_field(module)
    if f is None:
        raise ValueError(f"{module.name} has no `@outcome` field")
    if isinstance(f.type, ir.EnumT):
        e = module.enum(f.type.name)
        if 0 <= v < len(e.members):
            return e.aliases[v] or e.members[v]
    return _scalar_text(module, f.type, v)


def _size(t: ir.Type) -> int:
    return t.size * _size(t.elem) if isinstance(t, ir.ArrayT) else 1


def label_values(module: ir.Module, fields: dict[str, Any]) -> tuple[int, ...]:
    """The match-up key of an interpreter state's `fields`: every `@matchup` field's
    values (bools, ints, enum members, table rows) flattened, row-major, as ints."""
    out: list[int] = []

    def walk(v: Any) -> None:
        if isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        else:
            out.append(int(v))

    for f in matchup_fields(module):
        walk(fields[f.name])
    return tuple(out)


def _scalar_text(module: ir.Module, t: ir.Type, v: int) -> str:
    if isinstance(t, ir.RowT):
        table = next(tb for tb in module.tables if tb.name == t.table)
        return table.labels[v] if table.labels and 0 <= v < len(table.labels) else f"{t.table} #{v}"
    if isinstance(t, ir.EnumT):
        members = module.enum(t.name).members
        return members[v] if 0 <= v < len(members) else f"{t.name} #{v}"
    if isinstance(t, ir.BoolT):
        return "true" if v else "false"
    return str(v)


def _text(module: ir.Module, t: ir.Type, values: Iterator[int], outer: bool) -> str:
    """The text of one value of type `t`, reading its ints from `values` (row-major)."""
    if not isinstance(t, ir.ArrayT):
        return _scalar_text(module, t, next(values))
    parts = [_text(module, t.elem, values, False) for _ in range(t.size)]
    if outer and t.size == module.num_players > 1:
        return " vs ".join(parts)
    return "[" + ", ".join(parts) + "]"


def label_text(module: ir.Module, values: tuple[int, ...]) -> str:
    """How a match-up key prints: table rows by their data file's `name` (or `id`), enum
    members by name; an outermost array with one slot per player joins its slots with
    ` vs ` (player 0 first), other arrays print as `[a, b]`; several `@matchup` fields
    print as `field=text` separated by `; `. No `@matchup` field: `all`."""
    fields = matchup_fields(module)
    if not fields:
        return "all"
    it = iter(values)
    parts = [_text(module, f.type, it, True) for f in fields]
    return parts[0] if len(parts) == 1 else "; ".join(f"{f.name}={p}" for f, p in zip(fields, parts))


def entrant_type(module: ir.Module) -> ir.Type | None:
    """The type of what each player brings to a match-up (a deck, a team, a side): the element
    type when the only `@matchup` field is an array with one slot per player and there are
    several players; None otherwise."""
    fields = matchup_fields(module)
    t = fields[0].type if len(fields) == 1 else None
    if module.num_players < 2 or not (isinstance(t, ir.ArrayT) and t.size == module.num_players):
        return None
    return t.elem


def entrant_text(module: ir.Module, values: tuple[int, ...]) -> str:
    """How one player's slot of the match-up prints (`mewtwo-gardevoir`); `values` are that
    slot's ints. Raises ValueError when the spec has no entrants (see `entrant_type`)."""
    t = entrant_type(module)
    if t is None:
        raise ValueError(f"the match-up of {module.name} is not one entrant per player")
    return _text(module, t, iter(values), False)


def entrants(module: ir.Module, values: tuple[int, ...]) -> list[str] | None:
    """What each player brings to a match-up key, player 0 first (`["mewtwo-gardevoir",
    "pikachu-zapdos"]`), or None when the spec has no entrants (see `entrant_type`)."""
    t = entrant_type(module)
    if t is None:
        return None
    one = _size(t)
    return [entrant_text(module, values[k * one:(k + 1) * one]) for k in range(module.num_players)]


def outcome_code(terminated: bool, truncated: bool, rewards, num_players: int) -> int:
    """The outcome code of a finished interpreter episode from its final state (neither
    terminated nor truncated: it was cut at `max_steps`)."""
    if terminated:
        r = [float(x) for x in rewards]
        best = max(r)
        if num_players > 1 and best > 0 and r.count(best) == 1:
            return r.index(best)
        return DRAW if num_players > 1 else TERMINATED
    if truncated:
        return TRUNCATED
    return CUT


# ------------------------------------------------------------------ results

@dataclass
class Episodes:
    """Counted episodes, one entry each (ordered by episode id)."""

    labels: np.ndarray  # int32 [n, k]: the match-up key (k = 0 without @matchup)
    outcomes: np.ndarray  # int8 [n]: winner index or DRAW / TERMINATED / TRUNCATED / CUT
    lengths: np.ndarray  # int32 [n]: steps, or turns in a simultaneous spec (`length_unit`)
    returns: np.ndarray  # float64 [n, num_players]: sum of each player's rewards
    endings: np.ndarray  # int32 [n]: the `@outcome` field's final value (0 without one)

    @staticmethod
    def from_lists(labels: list[tuple[int, ...]], outcomes: list[int], lengths: list[int],
                   returns: list[list[float]], width: int, num_players: int,
                   endings: list[int] | None = None) -> Episodes:
        """Episodes from per-episode lists (`endings` default: all 0, for a spec without `@outcome`)."""
        n = len(outcomes)
        return Episodes(np.asarray(labels, np.int32).reshape(n, width), np.asarray(outcomes, np.int8),
                        np.asarray(lengths, np.int32), np.asarray(returns, np.float64).reshape(n, num_players),
                        np.asarray(endings if endings is not None else [0] * n, np.int32))


@dataclass
class MatchupRow:
    """Statistics of one match-up (or `all` of them)."""

    label: str
    episodes: int
    mean_length: float  # in `length_unit(module)`: steps, or turns in a simultaneous spec
    wins: list[float]  # per player, fraction of episodes (several players)
    draws: float
    terminated: float  # one-player specs: fraction that ended by the rules
    truncated: float
    cut: float
    mean_return: list[float]  # per player
    endings: dict[str, float]  # `@outcome` value text -> fraction of episodes (empty without `@outcome`)
    entrants: list[str] | None = None  # each player's entrant (see `entrants`); None for `all`


def _row(module: ir.Module, key: tuple[int, ...] | None, outcomes: np.ndarray, lengths: np.ndarray,
         returns: np.ndarray, endings: np.ndarray) -> MatchupRow:
    """The statistics of the episodes of match-up `key` (None: all of them)."""
    label = "all" if key is None else label_text(module, key)
    n, num_players = len(outcomes), module.num_players
    values, counts = np.unique(endings, return_counts=True)
    ended = {ending_text(module, int(v)): int(c) / n for v, c in zip(values, counts)} if outcome_field(module) else {}

    def rate(code: int) -> float:
        return float(np.count_nonzero(outcomes == code)) / n if n else 0.0

    return MatchupRow(label, n, float(lengths.mean()) if n else 0.0,
                      [rate(p) for p in range(num_players)] if num_players > 1 else [],
                      rate(DRAW), rate(TERMINATED), rate(TRUNCATED), rate(CUT),
                      [float(x) for x in returns.mean(axis=0)] if n else [0.0] * num_players, ended,
                      None if key is None else entrants(module, key))


def summarize(module: ir.Module, episodes: Episodes) -> list[MatchupRow]:
    """One row per match-up (sorted by key, i.e. by table row / enum member / value), then,
    when there are several, a row `all`; without `@matchup`, the single row `all`.
    Per row, the rates (wins + draws + terminated + truncated + cut) sum to 1, and so do the
    endings (when the spec has an `@outcome` field)."""
    rows = []
    keys = sorted({tuple(int(x) for x in k) for k in episodes.labels}) if matchup_fields(module) else []
    for key in keys:
        sel = np.all(episodes.labels == np.asarray(key, np.int32), axis=1)
        rows.append(_row(module, key, episodes.outcomes[sel], episodes.lengths[sel],
                         episodes.returns[sel], episodes.endings[sel]))
    if len(rows) != 1:
        rows.append(_row(module, None, episodes.outcomes, episodes.lengths, episodes.returns, episodes.endings))
    return rows


@dataclass
class RunResult:
    """What `run_jax` measured."""

    episodes: Episodes  # exactly the requested number
    finished: int  # episodes finished in all (counted or not)
    steps: int  # environment steps the device played (batch * chunk * calls)
    elapsed_s: float  # wall seconds of the run, compile excluded
    compile_s: float  # JIT lower + compile (init and chunk)
    codegen_s: float  # generating and importing the JAX module
    batch: int
    chunk: int  # steps per jitted call
    calls: int
    platform: str  # jax's device platform: cpu, gpu, tpu
    # the first runtime fault an environment recorded (`State._fault`, the interpreter's
    # location and message: `env I: file:LINE:COL: ...`), or None
    fault: str | None = None
    # how the compiled programs were obtained (`envc.jax_cache.compile_cached`): "hit" when both
    # were read back from an earlier run's exported programs, else "miss" or "off: why"
    cache: str = ""

    @property
    def sps(self) -> float:
        return self.steps / self.elapsed_s if self.elapsed_s > 0 else float("nan")


def chunk_for(batch: int) -> int:
    """Steps per jitted call: 64..256, about 2^18 environment steps a call."""
    return max(64, min(256, (1 << 18) // max(1, batch)))


# ------------------------------------------------------------------ the JAX runner

def run_jax(module: ir.Module, episodes: int, batch: int, seed: int = 0, max_steps: int = 10_000,
            chunk: int | None = None, progress: Callable[[int], None] | None = None, env=None,
            phase: Callable[[str], None] | None = None) -> RunResult:
    """Play `episodes` counted episodes with the generated JAX environment of `module`.

    `batch` environments, random legal policy, auto-reset, `chunk` steps per jitted
    `lax.scan` call (default `chunk_for(batch)`); `seed` seeds the JAX PRNG key of the
    initial states, the policy and the resets. `progress(k)` is called with the number of
    newly counted episodes after each chunk. `env` is an already generated module (else
    it is generated here, see `envc.verify.load_jax`). `phase(text)` names what is being done
    (`compiling (JIT)`, then `playing`), for a progress display.
    """
    import jax
    import jax.numpy as jnp

    from envc.jax_cache import compile_cached
    from envc.verify import load_jax

    if episodes < 1 or batch < 1 or max_steps < 1:
        raise ValueError("episodes, batch and max_steps must be positive")
    start = time.perf_counter()
    if env is None:
        env = load_jax(module)
    codegen_s = time.perf_counter() - start
    chunk = chunk or chunk_for(batch)
    p = module.num_players
    width = sum(_size(f.type) for f in matchup_fields(module))
    one = _env_step(module, env, max_steps)

    def play(carry):
        """`chunk` steps of all environments; returns the carry and per-step records [chunk, batch, ...]."""
        def body(carry, _):
            state, length, ret, key = carry
            key, k = jax.random.split(key)
            state, length, ret, record = jax.vmap(one)(state, length, ret, jax.random.split(k, batch))
            return (state, length, ret, key), record

        return jax.lax.scan(body, carry, None, length=chunk)

    def start_carry(key):
        key, k0 = jax.random.split(key)
        state = jax.vmap(env.init)(jax.random.split(k0, batch))
        # a return counts the initial state's rewards too (an `init` may decide the game)
        return state, jnp.zeros(batch, jnp.int32), state.rewards.astype(jnp.float32), key

    key = jax.random.PRNGKey(seed)
    if phase:
        phase("compiling (JIT)")
    start = time.perf_counter()
    # the programs a previous run exported are read back instead of traced (envc.jax_cache)
    init_p = compile_cached(start_carry, key, env=env, key=("envc.run_jax.start_carry", batch))
    carry = init_p.run(key)
    play_p = compile_cached(play, carry, env=env, key=("envc.run_jax.play", batch, chunk, max_steps, p),
                            donate_argnums=(0,))
    play_c = play_p.run
    jax.block_until_ready(carry)
    compile_s = time.perf_counter() - start
    if phase:
        phase("playing")

    got, finished, calls, carry, elapsed, dead_end = _count(play_c, carry, batch, episodes, progress)
    eps = _episodes_in_order(got, width, episodes)
    fault = env.fault_message(carry[0]) if hasattr(env, "fault_message") else None
    fault = fault or dead_end
    cache = init_p.cache if init_p.cache != "hit" else play_p.cache
    return RunResult(eps, finished, batch * chunk * calls, elapsed, compile_s, codegen_s, batch, chunk, calls,
                     jax.devices()[0].platform, fault, cache)


def _env_step(module: ir.Module, env, max_steps: int) -> Callable:
    """`run_jax`'s step of one environment (vmapped over the batch): act, step, and on an end
    (terminated, truncated, or `max_steps` steps) record it and reset.

    (state, length int32, ret float32[P], key) -> (state, length, ret, record), the record
    (done bool, outcome code int8, length, ret, match-up label int32[width], `@outcome` int32).
    `length` counts steps (what `max_steps` bounds); the recorded length is the episode's
    turns instead in a simultaneous spec (`turn_field`). The record ends with `stuck` (bool):
    the state had not ended and no action was legal in it, a dead end of the spec that the
    interpreter's run reports as a fault (the random legal policy has nothing to pick; the
    action played is then an illegal one: hunt S, the JAX run said "P1 wins" where the
    interpreter's stopped)."""
    import jax
    import jax.numpy as jnp

    p = module.num_players
    fields = matchup_fields(module)
    ending = outcome_field(module)
    turns = turn_field(module)

    def one(state, length, ret, key):
        """One environment, one step: act, step, and on an end record it and reset. A state
        that has already ended (an `init` that decides the game) is recorded as it is, with
        length 0 and its own rewards, not stepped (stepping it would zero its rewards: a
        draw, where the interpreter's run counts the win)."""
        k_act, k_reset = jax.random.split(key)
        over = state.terminated | state.truncated
        stuck = ~over & ~jnp.any(state.legal_action_mask)
        stepped = env.step(state, env.random_legal_action(k_act, state))
        nxt = jax.tree_util.tree_map(lambda a, b: jnp.where(over, a, b), state, stepped)
        length = length + jnp.where(over, 0, 1)
        ret = ret + jnp.where(over, 0.0, nxt.rewards)
        ended = nxt.terminated | nxt.truncated
        done = ended | (length >= max_steps)
        code = jnp.where(nxt.terminated, _by_rules(nxt.rewards, p),
                         jnp.where(nxt.truncated, TRUNCATED, CUT)).astype(jnp.int8)
        label = (jnp.concatenate([jnp.ravel(nxt._x[f.name]).astype(jnp.int32) for f in fields])
                 if fields else jnp.zeros((0,), jnp.int32))
        how = nxt._x[ending.name].astype(jnp.int32) if ending is not None else jnp.int32(0)
        fresh = env.init(k_reset)
        if hasattr(nxt, "_fault"):  # a recorded fault stays visible after the reset
            fresh = fresh.replace(_fault=nxt._fault)
        state = jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), fresh, nxt)
        played = nxt._x[turns].astype(jnp.int32) if turns is not None else length
        record = (done, code, played, ret, label, how, stuck)
        return state, jnp.where(done, 0, length), jnp.where(done, fresh.rewards, ret), record

    return one


def _by_rules(r, p: int):
    """The outcome code of a terminated episode from its last rewards `r` (float32[p]): the one
    player with the highest positive reward wins, else a draw; TERMINATED for one player."""
    import jax.numpy as jnp

    if p == 1:
        return jnp.int32(TERMINATED)
    best = jnp.max(r)
    single = (best > 0) & (jnp.sum(r == best) == 1)
    return jnp.where(single, jnp.argmax(r), DRAW)


def _count(play_c, carry, batch: int, episodes: int, progress: Callable[[int], None] | None):
    """Call the compiled chunk until `episodes` episodes are counted: (the counted episodes'
    records per chunk, episodes finished in all, calls, the last carry, seconds played, the
    first dead end met as a fault message or None).

    Environment e counts its episodes k = 0, 1, ... while the id k * batch + e < episodes;
    the next chunk is dispatched (asynchronously) before the last one's records are read."""
    import jax

    needed = np.array([len(range(e, episodes, batch)) for e in range(batch)], np.int64)
    count = np.zeros(batch, np.int64)  # episodes finished so far, per environment
    got: list[tuple[np.ndarray, ...]] = []
    dead_end: str | None = None
    counted = finished = calls = 0
    start = time.perf_counter()
    carry, pending = play_c(carry)
    calls = 1
    while True:
        carry, following = play_c(carry)  # dispatched (asynchronously) before reading `pending`
        calls += 1
        done, code, length, ret, label, how, stuck = (np.asarray(x) for x in pending)
        if stuck.any() and dead_end is None:
            lane = int(np.nonzero(stuck)[1][0])
            dead_end = f"env {lane}: a non-terminal state has no legal action"
        number = count[None, :] + np.cumsum(done, axis=0) - done  # the k of each finished episode
        count += done.sum(axis=0)
        finished += int(done.sum())
        keep = done & (number < needed[None, :])
        t, e = np.nonzero(keep)
        if len(t):
            got.append((number[t, e] * batch + e, code[t, e], length[t, e], ret[t, e], label[t, e], how[t, e]))
            counted += len(t)
            if progress:
                progress(len(t))
        if counted >= episodes:
            jax.block_until_ready(following)  # played, so timed and counted in `steps`
            break
        pending = following
    return got, finished, calls, carry, time.perf_counter() - start, dead_end


def _episodes_in_order(got: list[tuple[np.ndarray, ...]], width: int, episodes: int) -> Episodes:
    """The counted episodes' records (from `_count`) as `Episodes`, in the order of their ids."""
    ids, codes, lengths, rets, labels, hows = (np.concatenate(parts) for parts in zip(*got))
    order = np.argsort(ids, kind="stable")
    eps = Episodes(labels[order].reshape(len(ids), width).astype(np.int32), codes[order].astype(np.int8),
                   lengths[order].astype(np.int32), rets[order].astype(np.float64), hows[order].astype(np.int32))
    assert len(ids) == episodes and (np.sort(ids) == np.arange(episodes)).all()
    return eps


