"""TCG: JAX step cost against the number of distinct filled effect texts, with the
effect-table pass (compiler/passes/effect_tables.py) on and off (DESIGN.md, decision 6).

    python bench/effect_scaling.py [--scales 1,2] [--batch 1024] [--steps 200] [--repeats 3]
                                   [--baseline COMMIT] [--pass on|off|both]

Variants: `1x` is specs/tcg.envspec with specs/tcg.fills as they are; `Nx` adds fills for
more distinct texts of each hole family (unfilled members in effect-number order, until a
family has N times its filled texts, or all of them), written into a temporary copy of the
spec. The added fills are stand-ins picked from the text by a few patterns (`heal(p, 0,
10)` for "Heal 10 damage from this Pokémon.", `add_damage(10)` when nothing matches): they
only need to type-check, since the branchless dispatch computes every filled member
whether a deck uses it or not. The shipped fill file is never changed. Scale `0` is the
baseline of `--baseline COMMIT`: the shipped fills of only those texts that were filled at
that commit (with today's bodies), every other filled text with an empty fill (the decks'
cards need a fill to be played; an empty one does nothing and adds no op to the effect
table), so that `--scales 0,1 --baseline 50e0fa5` times the texts of issue 16's start
against every text filled today, on the same spec, decks and compiler.

Each variant is compiled twice (pass on, pass off) and timed like `envc bench`: `batch`
environments, `steps` steps of the random legal policy with auto-reset, fused into one
jitted `lax.scan`; SPS = batch * steps / wall seconds of one call, median of `repeats`
calls. Beside it, the dispatch proc of one family (`--family`, default attack_effect) is
timed alone: `vmap` over `batch` states, `steps` calls in a `fori_loop`, each environment
with a filled effect number drawn at random; that is the part of a step that the pass
changes. All variants are compiled first, then timed interleaved (round r runs every
variant once), so drift in the machine's speed touches all alike. Compile time is lower +
compile of the rollout. `uptime` is printed before and after: on a shared machine, read
the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from envc.compiler import ir  # noqa: E402
from envc.compiler.check import load  # noqa: E402
from envc.compiler.pipeline import PassContext  # noqa: E402
from envc.dsl import ast  # noqa: E402
from envc.dsl.parser import parse  # noqa: E402
from envc.llm_fill.fillfile import item_text  # noqa: E402

OFF = PassContext(disabled=frozenset({"effect_tables"}))

ENERGY = {"G": 0, "R": 1, "W": 2, "L": 3, "P": 4, "F": 5, "D": 6, "M": 7}

# (pattern, fill) per family, first match wins; `{1}`, `{e1}` = group 1 (as a number, as an energy)
ATTACK = [
    (r"^Heal (\d+) damage from this Pokémon", "heal(p, 0, {1})"),
    (r"^Flip a coin\. If heads, this attack does (\d+) more damage\.$", "bonus_on_heads({1})"),
    (r"^Flip (\d) coins\. This attack does (\d+) damage for each heads", "damage_per_heads({1}, {2})"),
    (r"^Discard (?:a|1) \{(\w)\} Energy from this Pokémon", "discard_energy(p, 0, {e1}, 1)"),
    (r"^Discard 2 \{(\w)\} Energy from this Pokémon", "discard_energy(p, 0, {e1}, 2)"),
    (r"Flip a coin\. If heads, your opponent's Active Pokémon is now (Asleep|Paralyzed|Confused)",
     "afflict_opponent_on_heads(p, Condition.{l1})"),
    (r"Burned", "burn_opponent(p)"),
    (r"Poisoned\.$", "poison_opponent(p)"),
    (r"also does (\d+) damage to each of your opponent's Benched", "damage_opponent_bench(p, {1})"),
    (r"does (\d+) damage to 1 of your opponent's (?:Benched )?Pokémon", "damage_opponent_bench(p, {1})"),
    (r"^Draw a card", "draw_cards(p, 1)"),
    (r"Take (?:a|1) \{(\w)\} Energy from your Energy Zone and attach it to this Pokémon",
     "attach_from_zone(p, 0, {e1}, 1, false)"),
    (r"Take (?:a|1) \{(\w)\} Energy from your Energy Zone and attach it to 1 of your Benched",
     "attach_to_bench_type(p, {e1})"),
    (r"this attack does (\d+) more damage\.$", "add_damage({1})"),
]
ABILITY = [
    (r"heal (\d+) damage", "heal(p, s, {1})"),
    (r"take a \{(\w)\} Energy from your Energy Zone and attach it to this Pokémon",
     "attach_from_zone(p, s, {e1}, 1, false)"),
    (r"flip a coin\. If heads, your opponent's Active Pokémon is now (Asleep|Paralyzed|Confused)",
     "afflict_opponent_on_heads(p, Condition.{l1})"),
    (r"Poisoned", "poison_opponent(p)"),
    (r"do (\d+) damage to 1 of your opponent's Pokémon", "damage_opponent_bench(p, {1})"),
]
TRAINER = [
    (r"do \+(\d+) damage", "add_attack_bonus({1})"),
    (r"Take 1 \{(\w)\} Energy from your Energy Zone", "attach_from_zone(p, target, {e1}, 1, false)"),
    (r"Look at the top", "draw_cards(p, 0)"),
]
RULES = {"attack_effect": (ATTACK, "add_damage(10)"), "ability_effect": (ABILITY, "heal(p, s, 10)"),
         "trainer_effect": (TRAINER, "heal(p, target, 10)")}


def stand_in(family: str, text: str) -> str:
    """A type-correct fill body of verb calls for `text` (a plausible reading, not a review)."""
    rules, default = RULES[family]
    for pattern, body in rules:
        m = re.search(pattern, text)
        if m:
            for i, g in enumerate(m.groups(), start=1):
                body = body.replace(f"{{e{i}}}", str(ENERGY.get(g, 9))).replace(f"{{l{i}}}", g.lower())
                body = body.replace(f"{{{i}}}", g)
            return body
    return default


def fill_item(family: str, hole: ir.HoleDef, body: str) -> str:
    return "// bench stand-in\n" + item_text(family, {"text": hole.prose, "hash": hole.signature_hash,
                                                        "provenance": "hand"}, body)


def copy_data(folder: str) -> None:
    """Copy specs/data into `folder` (a copy, not a link: a spec reads data files from its own
    folder and below only, and a link out of it is refused, E0150)."""
    shutil.copytree(os.path.join(ROOT, "specs", "data"), os.path.join(folder, "data"))


def snapshot(folder: str) -> tuple[str, str]:
    """Copy specs/tcg.envspec and specs/tcg.fills once (with a copy of the data) into `folder`:
    every variant is made from this copy, even if the shipped files change during the run."""
    texts = []
    os.makedirs(folder, exist_ok=True)
    for name in ("tcg.envspec", "tcg.fills"):
        with open(os.path.join(ROOT, "specs", name), encoding="utf-8") as f:
            texts.append(f.read())
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(texts[-1])
    copy_data(folder)
    return texts[0], texts[1]


def fill_items(fills: str) -> list[ast.FillDecl]:
    """The `fill` items of a .fills file's text, parsed as `envc` parses them."""
    return [d for d in parse(fills, "tcg.fills").decls if isinstance(d, ast.FillDecl)]


def keep_fills(fills: str, kept: set[tuple[str, str]]) -> str:
    """`fills` (a .fills file's text) without the items whose (family, text) is not in `kept`
    (each item's characters, from `fill` to its closing brace; comments stay)."""
    out, at = [], 0
    for d in fill_items(fills):
        if (d.name, d.attrs.get("text")) not in kept:
            out.append(fills[at:d.span.start])
            at = d.span.end
    return "".join(out) + fills[at:]


def filled_texts(fills: str) -> set[tuple[str, str]]:
    """The (family, text) of every family member's item of a .fills file's text."""
    return {(d.name, d.attrs["text"]) for d in fill_items(fills) if "text" in d.attrs}


def make_variant(folder: str, scale: int, base: ir.Module, spec: tuple[str, str],
                 kept: set[tuple[str, str]] | None = None) -> dict[str, int]:
    """Write the spec and its fills (`spec`, from `snapshot`) with stand-ins up to `scale` x
    the filled texts per family, and a copy of the data, into `folder`; returns the filled
    texts per family. Scale 0: only the fills of the texts in `kept` (`--baseline`), the other
    filled texts emptied, no stand-in."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "tcg.envspec"), "w", encoding="utf-8") as f:
        f.write(spec[0])
    copy_data(folder)
    fills = spec[1] if scale > 0 else keep_fills(spec[1], kept)
    counts = {}
    for fam in base.families:
        holes = [h for h in base.holes if h.family == fam.name]
        filled = [h for h in holes if h.status == "filled"]
        if scale == 0:
            emptied = [h for h in filled if (fam.name, h.prose) not in kept]
            for h in emptied:
                fills += "\n" + fill_item(fam.name, h, "")
            counts[fam.name] = len(filled) - len(emptied)
            continue
        want = min(scale * len(filled), len(holes))
        extra = [h for h in holes if h.status != "filled"][:want - len(filled)]
        for h in extra:
            fills += "\n" + fill_item(fam.name, h, stand_in(fam.name, h.prose))
        counts[fam.name] = len(filled) + len(extra)
    with open(os.path.join(folder, "tcg.fills"), "w", encoding="utf-8") as f:
        f.write(fills)
    return counts


def branches(module: ir.Module) -> dict[str, int]:
    """Calls in each dispatch proc's body: members (pass off) or ops over all steps (pass on)."""
    def calls(stmts):
        n = 0
        for s in stmts:
            if isinstance(s, ir.CallProc):
                n += 1
            elif isinstance(s, ir.If):
                n += calls(s.then) + calls(s.orelse)
        return n
    return {fam.name: calls(module.fn(fam.dispatch).body) for fam in module.families}


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def dispatch_loop(env, module: ir.Module, family: str, batch: int, n: int, seed: int = 0):
    """A jitted function running the family's dispatch proc `n` times on `batch` states (vmap),
    each environment with one filled effect number drawn at random: the dispatch's own cost."""
    import importlib

    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax import lax

    gen = importlib.import_module(env.__name__ + ".env")
    fam = next(f for f in module.families if f.name == family)
    status = {h.name: h.status for h in module.holes}
    filled = [i + 1 for i, m in enumerate(fam.members) if status.get(m) == "filled"]
    rng = np.random.default_rng(seed)
    effects = jnp.asarray(rng.choice(filled, batch), jnp.int32)
    # the hole's parameters (`p`, a slot...): random values of their ranges
    params = [jnp.asarray(rng.integers(q.type.lo, q.type.hi + 1, batch), jnp.int32)
              for q in module.fn(fam.dispatch).params[1:]]
    st = gen._to_dict(jax.vmap(gen.init)(jax.random.split(jax.random.PRNGKey(seed), batch)))
    dispatch = jax.vmap(getattr(gen, f"p_{fam.dispatch}"))

    def run(st):
        return lax.fori_loop(0, n, lambda i, s: dispatch(s, effects, *params), st)

    start = time.perf_counter()
    compiled = jax.jit(run).lower(st).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(st))
    return (lambda: compiled(st)), compile_s


def main() -> None:
    args, scales, kept, modes = arguments()

    import jax

    from envc.verify import load_jax

    print(f"load before: {uptime()}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, jax {jax.__version__} "
          f"({jax.default_backend()})")
    # XLA's one-time start-up costs go to a small spec, not to the first variant's compile time
    small = load_jax(load(os.path.join(ROOT, "specs", "tictactoe.envspec")))
    jax.jit(small.rollout, static_argnums=(1, 2)).lower(jax.random.PRNGKey(0), 4, 8).compile()
    tmp = tempfile.mkdtemp(prefix="envc-effect-scaling-")
    spec = snapshot(os.path.join(tmp, "shipped"))
    base = load(os.path.join(tmp, "shipped", "tcg.envspec"), OFF)
    variants: list[dict] = []
    failed: list[str] = []
    for scale in scales:
        folder = os.path.join(tmp, f"x{scale}")
        counts = make_variant(folder, scale, base, spec, kept)
        for on in modes:
            variant = compile_variant(args, folder, scale, on, len(modes) == 2, counts, failed)
            if variant is not None:
                variants.append(variant)
    time_variants(variants, args.batch * args.steps, args.repeats)
    print(f"load after: {uptime()}")
    report(variants, failed, [f.name for f in base.families], scales, args)
    shutil.rmtree(tmp, ignore_errors=True)


def arguments() -> tuple[argparse.Namespace, list[int], set[tuple[str, str]], tuple[bool, ...]]:
    """The command line: (arguments, scales, the texts filled at `--baseline` (scale 0), the
    pass modes to time); exits 2 (argparse) when scale 0 has no `--baseline`."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", default="1,2", help="multiples of the shipped filled texts (default 1,2)")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--family", default="attack_effect", help="the family whose dispatch is also timed alone")
    ap.add_argument("--baseline", help="scale 0 keeps the fills of the texts filled at this commit")
    ap.add_argument("--pass", dest="passes", default="both", choices=("on", "off", "both"),
                    help="time the effect-table pass on, off, or both (default)")
    args = ap.parse_args()
    scales = [int(x) for x in args.scales.split(",")]
    if 0 in scales and not args.baseline:
        ap.error("scale 0 is the baseline of --baseline COMMIT: give the commit")
    kept: set[tuple[str, str]] = set()
    if args.baseline:
        kept = filled_texts(subprocess.run(["git", "show", f"{args.baseline}:specs/tcg.fills"], cwd=ROOT, check=True,
                                           capture_output=True, text=True).stdout)
    modes = {"on": (True,), "off": (False,), "both": (True, False)}[args.passes]
    return args, scales, kept, modes


def compile_variant(args: argparse.Namespace, folder: str, scale: int, on: bool, both: bool,
                    counts: dict[str, int], failed: list[str]) -> dict | None:
    """Load the variant in `folder` with the effect-table pass on or off, compile its rollout
    and its family's dispatch alone; None (the reason added to `failed`) when the generated
    module does not import."""
    import jax

    from envc.verify import load_jax

    name = f"{scale}x pass {'on' if on else 'off'}"
    m = load(os.path.join(folder, "tcg.envspec"), None if on else OFF)
    filled = {f: sum(h.family == f and h.status == "filled" for h in m.holes) for f in counts}
    # scale 0 counts only the texts with a real fill (its emptied fills are filled too)
    assert scale == 0 or filled == counts, f"{scale}x: filled texts {filled}, meant {counts} (a stand-in is stale?)"
    if on and both:
        assert m != load(os.path.join(folder, "tcg.envspec"), OFF)
    try:
        env = load_jax(m)
    except (SyntaxError, RecursionError) as err:  # the generated module does not import
        failed.append(f"{name}: the generated JAX module does not import: {type(err).__name__}: {err}")
        print("  " + failed[-1], flush=True)
        return None
    fn = jax.jit(env.rollout, static_argnums=(1, 2))
    start = time.perf_counter()
    compiled = fn.lower(jax.random.PRNGKey(0), args.steps, args.batch).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(jax.random.PRNGKey(0)))  # warm-up
    alone, alone_compile_s = dispatch_loop(env, m, args.family, args.batch, args.steps)
    # the rollout's default kind chunk (0: every branch on every row; `lower.kind_rows` decides)
    chunk = env._kind_chunk(args.batch, None) if hasattr(env, "_kind_chunk") else 0
    print(f"  compiled {name}: rollout {compile_s:.1f}s (kind chunk {chunk}), {args.family} dispatch alone "
          f"{alone_compile_s:.1f}s", flush=True)
    return {"scale": scale, "on": on, "counts": counts, "branches": branches(m), "compile_s": compile_s,
            "rollout": compiled, "alone": alone, "alone_compile_s": alone_compile_s, "runs": [], "alone_runs": []}


def time_variants(variants: list[dict], work: int, repeats: int) -> None:
    """`repeats` rounds, each timing every variant's rollout and dispatch alone in turn
    (interleaved, so that a change of the machine's load falls on all); sets each variant's
    medians `sps` and `alone_sps` (`work` steps a call)."""
    import jax

    for r in range(repeats):
        for v in variants:
            start = time.perf_counter()
            jax.block_until_ready(v["rollout"](jax.random.PRNGKey(r + 1)))
            v["runs"].append(work / (time.perf_counter() - start))
            start = time.perf_counter()
            jax.block_until_ready(v["alone"]())
            v["alone_runs"].append(work / (time.perf_counter() - start))
    for v in variants:
        v["sps"], v["alone_sps"] = statistics.median(v["runs"]), statistics.median(v["alone_runs"])


def report(variants: list[dict], failed: list[str], fams: list[str], scales: list[int],
           args: argparse.Namespace) -> None:
    """Print the table of the variants (markdown), those not timed, and the ratios between
    scales (pass on and off apart) and between pass on and off (scale by scale)."""
    print(f"\nTCG, batch {args.batch}, {args.steps} steps, median of {args.repeats} interleaved runs. Filled texts "
          f"and calls in the dispatch body per family ({', '.join(fams)}). SPS: the full rollout (random legal "
          f"actions, auto-reset). {args.family} alone: calls of its dispatch proc per second (vmap over the batch, "
          f"{args.steps} in a fori_loop).\n")
    print(f"| fills | filled texts | pass | dispatch calls | compile s | SPS (median) | {args.family} alone / s "
          f"(median) | SPS runs |")
    print("|---|---|---|---|---:|---:|---:|---|")
    for v in variants:
        print(f"| {v['scale']}x | {' / '.join(str(v['counts'][f]) for f in fams)} | {'on' if v['on'] else 'off'} | "
              f"{' / '.join(str(v['branches'][f]) for f in fams)} | {v['compile_s']:.1f} | {v['sps']:,.0f} | "
              f"{v['alone_sps']:,.0f} | {', '.join(f'{x:,.0f}' for x in v['runs'])} |")
    for line in failed:
        print(f"| not timed: {line} |")
    print()
    index = {(v["scale"], v["on"]): v for v in variants}
    for on in (True, False):
        for scale in scales[1:]:
            if (scale, on) in index and (scales[0], on) in index:
                print(f"pass {'on ' if on else 'off'}: {scale}x / {scales[0]}x  "
                      + ratio(index[(scale, on)], index[(scales[0], on)], args.family))
    for scale in scales:
        if (scale, True) in index and (scale, False) in index:
            print(f"{scale}x: pass on / off  " + ratio(index[(scale, True)], index[(scale, False)], args.family))


def ratio(b: dict, a: dict, family: str) -> str:
    """b / a: SPS of the medians (and the median of the per-round ratios), compile, dispatch alone."""
    rounds = statistics.median(x / y for x, y in zip(b["runs"], a["runs"]))
    return (f"SPS {b['sps'] / a['sps']:.3f} (per round {rounds:.3f}), compile "
            f"{b['compile_s'] / a['compile_s']:.2f}, {family} alone {b['alone_sps'] / a['alone_sps']:.3f}")


if __name__ == "__main__":
    main()
