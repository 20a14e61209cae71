"""`specs/pokemon_gen1.envspec` beside an independent Gen 1 engine, poke-engine (crates.io, MIT,
feature `gen1`; driven by the small crate `bench/poke_engine/`, built here with cargo and never
copied into envc).

    python bench/pokemon_vs_poke_engine.py damage  [--cases 1000] [--seed 0]
    python bench/pokemon_vs_poke_engine.py battles [--battles 1000] [--seed 0]
    python bench/pokemon_vs_poke_engine.py speed   [--battles 200] [--seconds 5]

* `damage`: for random (attacker, defender, move) triples of Gen 1 random-battle sets (single-hit
  moves whose damage comes from the Gen 1 formula), the law of the damage one use of the move
  deals in a fresh battle: from the spec, exactly (its own fns `hit_chance`, `crit_chance`,
  `formula`, with the effect verbs of the move's text run by the interpreter: a miss, a
  critical hit or not, the 39 random factors 217..255), and from poke-engine (the branches
  `generate_instructions_from_move_pair` returns, with their probabilities). Reports how often
  each part of the law agrees: the chance to hit, to land a critical hit, the highest
  non-critical damage (poke-engine's `calculate_damage_rolls`), the whole law, and the mean.
* `battles`: the same teams (each battle's teams are those the spec's `init` draws for its
  seed) played to the end by both engines with both players choosing uniformly at random
  among their legal options every turn (the spec on its Rust backend, `step_joint`); compares
  side 0's win rate, turns per battle and how often each move is chosen, under the tolerance
  policy below, beside a second run of the spec with another policy seed (the noise floor).
* `speed`: poke-engine's random battles per second on one thread, the number `envc bench
  specs/pokemon_gen1.envspec --peer bench/pokemon_vs_poke_engine.py` prints beside envc's.

Tolerance policy (fixed before measuring): side 0's win rate within 3 standard errors (a
two-proportion z-test); mean turns per battle within 10%; move-choice distributions within a
total variation distance of 0.05. The differences found between poke-engine and Showdown's
Gen 1 rules (which the spec follows) are listed in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "pokemon_gen1.envspec"
DATA = ROOT / "specs" / "data" / "pokemon-gen1"
CRATE = ROOT / "bench" / "poke_engine"


def peer_binary(progress=print) -> Path:
    """Build (or find) the poke-engine driver with cargo, in envc's shared target folder."""
    from envc.codegen.rust.build import cargo_target_dir

    target = cargo_target_dir()
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    start = time.perf_counter()
    proc = subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(CRATE / "Cargo.toml")],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building the poke-engine driver failed:\n{proc.stderr[-3000:]}")
    progress(f"poke-engine driver ready ({time.perf_counter() - start:.1f}s)")
    return target / "release" / "envc-poke-engine-peer"


def run_peer(binary: Path, request: dict) -> list[dict]:
    proc = subprocess.run([str(binary)], input=json.dumps(request), capture_output=True, text=True, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def pid(name: str) -> str:
    """Showdown's id of a name (`Mr. Mime` -> `mrmime`): what poke-engine's `from_str` reads."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


class Spec:
    """The spec's tables and interpreter, for building teams and laws."""

    def __init__(self):
        from envc.compiler.check import load
        from envc.compiler.interp import Interpreter

        self.module = load(str(SPEC))
        self.it = Interpreter(self.module)
        self.species = json.loads((DATA / "species.json").read_text(encoding="utf-8"))
        self.moves = json.loads((DATA / "moves.json").read_text(encoding="utf-8"))
        self.sets = json.loads((DATA / "randbats.json").read_text(encoding="utf-8"))
        self.types = [m for m in self.module.enum("Type").aliases]
        self.state0 = self.it.init(0)
        fam = self.module.families[0]
        self.effect_of = {m["name"]: fam.texts.index(m["shortDesc"]) + 1 for m in self.moves}
        self._fx: dict[str, dict] = {}

    def call(self, fn: str, args: list):
        return self.it.call(self.state0, fn, args)[1]

    def fx(self, move: str) -> dict:
        """What the move's effect text (its fill) says: the `fx` record after the dispatch."""
        if move not in self._fx:
            s = self.state0.copy()
            s.fields["fx"] = {**s.fields["fx"], **{k: (False if isinstance(v, bool) else 0)
                                                   for k, v in s.fields["fx"].items()}}
            s.fields["fx"]["hits_min"] = s.fields["fx"]["hits_max"] = 1
            s2, _ = self.it.call(s, "move_effect__dispatch", [self.effect_of[move]])
            self._fx[move] = s2.fields["fx"]
        return self._fx[move]

    def mon(self, species: dict, level: int, moves: list[tuple[str, int]]) -> dict:
        return {"species": pid(species["name"]), "level": level, "types": [species["type1"], species["type2"]],
                "hp": self.call("hp_of", [species["hp"], level]),
                "stats": [self.call("stat_of", [species[k], level]) for k in ("atk", "def", "spc", "spe")],
                "moves": [[pid(m), pp] for m, pp in moves]}

    def teams(self, seed: int) -> list[list[dict]]:
        """The two teams the spec's `init` draws for `seed`, as the driver reads them."""
        s = self.it.init(seed)
        out = []
        for p in range(2):
            team = []
            for mon in s.fields["team"][p]:
                if mon["maxhp"] <= 1 and mon["hp"] == 0:
                    continue  # an empty slot of a smaller team
                sp = self.species[mon["species"]]
                team.append({"species": pid(sp["name"]), "level": mon["level"],
                             "types": [sp["type1"], sp["type2"]], "hp": mon["maxhp"], "stats": list(mon["stats"]),
                             "moves": [[pid(self.moves[m]["name"]), mon["pp"][k]]
                                       for k, m in enumerate(mon["moves"][:mon["nmoves"]])]})
            out.append(team)
        return out


# ------------------------------------------------------------------ damage law


def formula_moves(spec: Spec) -> set[str]:
    """Moves whose damage is the Gen 1 formula, in one hit (no fixed damage, no multi-hit, no
    two-turn, OHKO or trapping move: their laws are compared in whole battles only)."""
    out = set()
    for m in spec.moves:
        if not m["implemented"] or m["power"] == 0 or m["name"] == "Struggle":
            continue
        fx = spec.fx(m["name"])
        special = (fx["ohko"] or fx["counter"] or fx["level_damage"] or fx["fixed"] or fx["psywave"]
                   or fx["half_hp"] or fx["hits_max"] > 1 or fx["charge"] or fx["trap"] or fx["thrash"]
                   or fx["explode"] or fx["sleeping_target"])
        if not special:
            out.add(m["name"])
    return out


def spec_law(spec: Spec, atk: dict, level: int, dfn: dict, dlevel: int, move: dict) -> dict[int, float]:
    """The spec's exact law of the damage of one use of `move` (fresh battle: no stages)."""
    types = spec.types
    t1, t2 = types.index(dfn["type1"]), types.index(dfn["type2"])
    mt = types.index(move["type"])
    hp = spec.call("hp_of", [dfn["hp"], dlevel])
    eff = spec.call("eff", [mt, t1]) * spec.call("eff", [mt, t2])
    if move["immunity"] and eff == 0:
        return {0: 1.0}
    phys = move["category"] == "Physical"
    a = spec.call("stat_of", [atk["atk" if phys else "spc"], level])
    d = spec.call("stat_of", [dfn["def" if phys else "spc"], dlevel])
    stab = move["type"] in (atk["type1"], atk["type2"])
    fx = spec.fx(move["name"])
    hit = spec.call("hit_chance", [move["accuracy"], 0, 0]) / 256
    crit = spec.call("crit_chance", [atk["spe"], False, fx["high_crit"]]) / 256
    law: Counter = Counter()
    law[0] += 1 - hit
    for is_crit, p in ((False, 1 - crit), (True, crit)):
        raw = spec.call("formula", [2 * level if is_crit else level, move["power"], a, d, False, stab, mt, t1, t2])
        rolls = [raw] if raw <= 1 else [raw * r // 255 for r in range(217, 256)]
        for v in rolls:
            law[min(v, 999, hp)] += hit * p / len(rolls)
    return {k: v for k, v in law.items() if v > 0}


def damage(args) -> dict:
    spec = Spec()
    binary = peer_binary()
    rng = np.random.default_rng(args.seed)
    names = formula_moves(spec)
    by_name = {s["name"]: s for s in spec.species}
    move_by_name = {m["name"]: m for m in spec.moves}
    cases, meta = [], []
    while len(cases) < args.cases:
        a_set, d_set = spec.sets[rng.integers(len(spec.sets))], spec.sets[rng.integers(len(spec.sets))]
        pool = [m for m in a_set["pool"] if m in names]
        if not pool:
            continue
        move = move_by_name[pool[rng.integers(len(pool))]]
        a, d = by_name[a_set["species"]], by_name[d_set["species"]]
        cases.append({"attacker": spec.mon(a, a_set["level"], []), "defender": spec.mon(d, d_set["level"], []),
                      "move": pid(move["name"])})
        meta.append((a, a_set["level"], d, d_set["level"], move))
    start = time.perf_counter()
    peer = run_peer(binary, {"mode": "damage", "cases": cases})
    peer_s = time.perf_counter() - start
    stats = Counter()
    rel_mean, examples = [], []
    for (a, la, d, ld, move), theirs in zip(meta, peer):
        ours = spec_law(spec, a, la, d, ld, move)
        pe = {int(k): float(v) for k, v in theirs["outcomes"]}
        stats["cases"] += 1
        hit_ours, hit_pe = 1 - ours.get(0, 0.0), 1 - pe.get(0, 0.0)
        stats["hit chance within 0.005"] += abs(hit_ours - hit_pe) <= 0.005
        # the same accuracy, on Gen 1's scale: floor(accuracy x 255 / 100) in 256 (poke-engine: accuracy / 100)
        stats["hit chance equal on Gen 1's 1/256 scale"] += \
            abs(hit_ours - min(math.floor(round(hit_pe * 100) * 255 / 100), 255) / 256) < 1e-9 or \
            (move["accuracy"] == 0 and hit_pe > 0.999)
        nonzero = sorted(k for k in pe if k > 0)
        if theirs["max"] is not None:
            stats["highest damage compared"] += 1
            stats["highest non-critical damage equal"] += spec_noncrit_max(spec, a, la, d, ld, move, False) == \
                min(theirs["max"][0], 999)
            stats["highest critical damage equal"] += spec_noncrit_max(spec, a, la, d, ld, move, True) == \
                min(theirs["max"][1], 999)
        same_support = set(ours) == set(pe)
        same_law = same_support and all(abs(ours[k] - pe[k]) <= 1e-4 for k in ours)
        stats["whole law equal"] += same_law
        m_ours = sum(k * v for k, v in ours.items())
        m_pe = sum(k * v for k, v in pe.items())
        if m_pe > 0:
            rel_mean.append(abs(m_ours - m_pe) / m_pe)
        if len(nonzero) == 2 and hit_pe > 0:  # a hit branch and a crit branch
            crit_pe = pe[nonzero[1]] / hit_pe
            stats["crits compared"] += 1
            crit_ours = spec.call("crit_chance", [a["spe"], False, spec.fx(move["name"])["high_crit"]]) / 256
            stats["crit chance within 0.005"] += abs(crit_ours - crit_pe) <= 0.005
            # the same numerator: Showdown's chance in 256, poke-engine's in 255
            stats["crit chance numerator equal (in 256 vs in 255)"] += round(crit_ours * 256) == round(crit_pe * 255)
        if len(examples) < 5 and not same_law:
            examples.append({"attacker": a["name"], "defender": d["name"], "move": move["name"],
                             "spec": {k: round(v, 5) for k, v in sorted(ours.items())[:4]},
                             "spec_support": f"{len(ours)} values in {min(ours)}..{max(ours)}",
                             "poke_engine": {k: round(v, 5) for k, v in sorted(pe.items())}})
    result = {"cases": stats["cases"], "agreement": {k: v for k, v in stats.items() if k != "cases"},
              "mean damage relative difference": {"median": statistics.median(rel_mean),
                                                  "p90": float(np.percentile(rel_mean, 90))},
              "examples": examples, "peer seconds": round(peer_s, 2)}
    print(json.dumps(result, indent=1))
    return result


def spec_noncrit_max(spec: Spec, a, la, d, ld, move, crit: bool) -> int:
    """The spec's highest damage (random factor 255/255), not capped at the target's HP."""
    types = spec.types
    t1, t2, mt = types.index(d["type1"]), types.index(d["type2"]), types.index(move["type"])
    phys = move["category"] == "Physical"
    atk = spec.call("stat_of", [a["atk" if phys else "spc"], la])
    dfn = spec.call("stat_of", [d["def" if phys else "spc"], ld])
    raw = spec.call("formula", [2 * la if crit else la, move["power"], atk, dfn, False,
                                move["type"] in (a["type1"], a["type2"]), mt, t1, t2])
    return min(raw, 999)


# ------------------------------------------------------------------ whole battles


def spec_battles(spec: Spec, seeds: list[int], policy_seed: int, max_turns: int = 1000) -> list[dict]:
    """Play the battles of `seeds` on the spec's Rust backend, both players uniformly random."""
    from envc.verify import load_rust

    native = load_rust(spec.module, progress=lambda text: print(text, file=sys.stderr))
    env = native.VecEnv(len(seeds), threads=1, autoreset=False)
    env.reset_seeds(np.array(seeds, dtype=np.uint32))
    usage = [Counter() for _ in seeds]
    switches = [0] * len(seeds)
    move_kind = next(k for k in native.ACTION_KINDS if k[0] == "move")
    switch_kind = next(k for k in native.ACTION_KINDS if k[0] == "switch_to")
    t = 0
    winner = np.full(len(seeds), -2)
    while not np.all(env.terminated | env.truncated) and t < 4 * max_turns:
        states = env.get_states()
        acts = np.array(env.sample_joint_actions(policy_seed * 7_919 * len(seeds) + t * len(seeds)))
        live = ~(env.terminated | env.truncated)
        for i in np.flatnonzero(live):
            if states["phase"][i] != 0:
                continue
            for p in range(2):
                a = int(acts[i, p])
                if switch_kind[1] <= a < switch_kind[1] + switch_kind[2]:
                    switches[i] += 1
                    continue
                slot = a - move_kind[1]
                act = states["active"][i][p]
                locked = (states["recharging"][i][p] or states["charging"][i][p] or states["thrash_left"][i][p] > 0
                          or states["trap_left"][i][p] > 0)
                nmoves = states["team"]["nmoves"][i][p][act]
                pp = states["team"]["pp"][i][p][act]
                if locked or all(pp[k] == 0 for k in range(nmoves)):
                    continue
                move = spec.moves[states["team"]["moves"][i][p][act][slot]]["name"]
                usage[i][pid(move)] += 1
        env.step_joint(acts)
        t += 1
        ended = (env.terminated | env.truncated) & (winner == -2)
        for i in np.flatnonzero(ended):  # the rewards of the step that ended the battle
            r = env.rewards[i]
            winner[i] = 0 if r[0] > 0 else 1 if r[1] > 0 else -1
    final = env.get_states()
    return [{"seed": seed, "winner": int(winner[i]), "turns": int(final["turns"][i]), "moves": dict(usage[i]),
             "switches": switches[i]} for i, seed in enumerate(seeds)]


def summary(rows: list[dict]) -> dict:
    n = len(rows)
    wins0 = sum(r["winner"] == 0 for r in rows)
    decided = sum(r["winner"] >= 0 for r in rows)
    moves = Counter()
    for r in rows:
        moves.update(r["moves"])
    total = sum(moves.values())
    return {"battles": n, "side0_win_rate": wins0 / max(decided, 1), "decided": decided,
            "turns_mean": statistics.mean(r["turns"] for r in rows),
            "turns_median": statistics.median(r["turns"] for r in rows),
            "switches_per_battle": statistics.mean(r["switches"] for r in rows),
            "move_share": {k: v / total for k, v in moves.most_common()}}


def compare(a: dict, b: dict) -> dict:
    p1, n1, p2, n2 = a["side0_win_rate"], a["decided"], b["side0_win_rate"], b["decided"]
    pooled = (p1 * n1 + p2 * n2) / max(n1 + n2, 1)
    se = math.sqrt(max(pooled * (1 - pooled) * (1 / max(n1, 1) + 1 / max(n2, 1)), 1e-12))
    keys = set(a["move_share"]) | set(b["move_share"])
    tvd = 0.5 * sum(abs(a["move_share"].get(k, 0) - b["move_share"].get(k, 0)) for k in keys)
    rel_turns = abs(a["turns_mean"] - b["turns_mean"]) / b["turns_mean"]
    worst = sorted(keys, key=lambda k: -abs(a["move_share"].get(k, 0) - b["move_share"].get(k, 0)))[:6]
    return {"win_rate_z": abs(p1 - p2) / se, "win_rate_ok": abs(p1 - p2) <= 3 * se,
            "turns_rel_diff": rel_turns, "turns_ok": rel_turns <= 0.10,
            "move_tvd": tvd, "moves_ok": tvd <= 0.05,
            "largest_move_gaps": {k: (round(a["move_share"].get(k, 0), 4), round(b["move_share"].get(k, 0), 4))
                                  for k in worst}}


def battles(args) -> dict:
    spec = Spec()
    binary = peer_binary()
    seeds = list(range(args.seed, args.seed + args.battles))
    start = time.perf_counter()
    teams = [spec.teams(s) for s in seeds]
    start = time.perf_counter()
    ours = spec_battles(spec, seeds, policy_seed=1)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    again = spec_battles(spec, seeds, policy_seed=2)
    start = time.perf_counter()
    theirs = run_peer(binary, {"mode": "battles", "max_turns": 1000,
                               "battles": [{"seed": s, "teams": t} for s, t in zip(seeds, teams)]})
    peer_s = time.perf_counter() - start
    a, a2, b = summary(ours), summary(again), summary(theirs)
    result = {"spec": {k: v for k, v in a.items() if k != "move_share"},
              "spec_again": {k: v for k, v in a2.items() if k != "move_share"},
              "poke_engine": {k: v for k, v in b.items() if k != "move_share"},
              "spec_vs_poke_engine": compare(a, b), "noise_floor_spec_vs_spec": compare(a, a2),
              "seconds": {"spec (rust, with state exports)": round(ours_s, 1), "poke_engine": round(peer_s, 1)}}
    print(json.dumps(result, indent=1))
    return result


# ------------------------------------------------------------------ speed


def peer_speed(module=None, seconds: float = 5.0, battles: int = 200, progress=print) -> dict:
    """poke-engine's random battles per second on one thread (the teams of the spec's `init`
    for seeds 0.. `battles`-1), repeated to last about `seconds`: {label, episodes_per_s (battles),
    steps_per_s (joint decisions), turns_per_s, battles, seconds}. The hook of `envc bench --peer`.

    `steps_per_s` counts every joint decision of the two sides, the replacement after a faint
    included, as envc's joint steps count them (the spec's `replace` phase is a step of its
    own): the driver's `turns` leave replacements out (about 58 turns and 69 decisions a
    battle), so a steps ratio taken against them favoured envc by about 1.2x (bench/RESULTS.md,
    "Joint decisions on both sides")."""
    spec = Spec()
    binary = peer_binary(progress)
    request = {"mode": "bench", "max_turns": 1000,
               "battles": [{"seed": s, "teams": spec.teams(s)} for s in range(battles)], "repeat": 1}
    probe = run_peer(binary, request)[0]
    request["repeat"] = max(1, round(seconds / max(probe["seconds"], 1e-3)))
    out = run_peer(binary, request)[0]
    return {"label": "poke-engine 0.0.48 (gen1) random battles, 1 thread; steps = joint decisions",
            "episodes_per_s": out["battles"] / out["seconds"], "steps_per_s": out["decisions"] / out["seconds"],
            "turns_per_s": out["turns"] / out["seconds"], "battles": out["battles"], "seconds": out["seconds"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["damage", "battles", "speed"])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--battles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", help="also write the result as JSON here")
    args = parser.parse_args(argv)
    if args.what == "damage":
        result = damage(args)
    elif args.what == "battles":
        result = battles(args)
    else:
        result = peer_speed(seconds=args.seconds, battles=min(args.battles, 200))
        print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
