"""Derive the spec's data files from Pokémon Showdown's Gen 1 data (MIT).

    python derive.py SHOWDOWN_CHECKOUT

reads `gen1_showdown_tables.json` (beside this script: the npm package's `Dex.mod('gen1')`
dump, see README.md) and, from a checkout of smogon/pokemon-showdown, `data/moves.ts`,
`data/mods/gen1/moves.ts` and `data/random-battles/gen1/data.json`; writes
`species.json`, `moves.json`, `typechart.json` and `randbats.json` (the files
`specs/pokemon_gen1.envspec` reads). Deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TYPES = ["Normal", "Fire", "Water", "Electric", "Grass", "Ice", "Fighting", "Poison", "Ground", "Flying",
         "Psychic", "Bug", "Rock", "Ghost", "Dragon"]
NONE = "???"  # Showdown's typeless type: the second type of a single-typed species
# Showdown's damageTaken codes -> effectiveness x 10 (0: no effect, 5: half, 10: neutral, 20: double)
TAKEN = {0: 10, 1: 20, 2: 5, 3: 0}
# moves the spec implements: their effect texts have fills in `pokemon_gen1.fills`; random-battle
# pools keep only these (a team file naming another move is refused by the checker, E0163)
UNSUPPORTED = {"Bide", "Metronome", "Mirror Move", "Mimic", "Transform", "Conversion", "Disable", "Rage"}


def move_id(name: str) -> str:
    """Showdown's id of a name: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def ignore_immunity(showdown: Path) -> dict[str, bool]:
    """Each move's resolved `ignoreImmunity`: the Gen 1 mod's value, else the base data's,
    else Showdown's default (true for Status moves: sim/battle-actions.ts)."""
    out: dict[str, bool] = {}
    for rel in ("data/moves.ts", "data/mods/gen1/moves.ts"):  # the mod overrides the base
        src = (showdown / rel).read_text(encoding="utf-8")
        for m in re.finditer(r"\n\t(\w+): \{(.*?)\n\t\},", src, re.S):
            found = re.search(r"\n\t\tignoreImmunity: (true|false),", m.group(2))
            if found:
                out[m.group(1)] = found.group(1) == "true"
    return out


def lowest(fraction: list[int]) -> list[int]:
    """`fraction` ([numerator, denominator]) in lowest terms ([0, 0] stays)."""
    g = math.gcd(*fraction) or 1
    return [fraction[0] // g, fraction[1] // g]


def numbers(m: dict) -> dict:
    """The numbers a move's effect text prints from Showdown's data: its hits (`multihit`,
    a count or [least, most]; 1 when absent), its drain and recoil fractions ([numerator,
    denominator] in lowest terms, as the texts print them: Double-Edge's [25, 100] is 1/4;
    0 and 0 when absent) and the drain as a percentage (floor)."""
    hits = m["multihit"] if isinstance(m["multihit"], list) else [m["multihit"] or 1] * 2
    drain = lowest(m["drain"] or [0, 0])
    recoil = lowest(m["recoil"] or [0, 0])
    return {"hits_min": hits[0], "hits_max": hits[1], "drain_num": drain[0], "drain_den": drain[1],
            "drain_percent": 100 * drain[0] // drain[1] if drain[1] else 0, "recoil_num": recoil[0],
            "recoil_den": recoil[1]}


def main(showdown: Path) -> None:
    """Write the four derived files beside this script (see the module docstring)."""
    tables = json.loads((HERE / "gen1_showdown_tables.json").read_text(encoding="utf-8"))
    species = []
    for s in tables["species"]:
        b = s["baseStats"]
        species.append({"num": s["num"], "name": s["name"], "type1": s["types"][0],
                        "type2": s["types"][1] if len(s["types"]) > 1 else NONE,
                        "hp": b["hp"], "atk": b["atk"], "def": b["def"], "spc": b["spa"], "spe": b["spe"]})
    immune = ignore_immunity(showdown)
    moves = []
    for m in sorted(tables["moves"], key=lambda m: m["num"]):
        ignores = immune.get(move_id(m["name"]), m["category"] == "Status")
        moves.append({"num": m["num"], "name": m["name"], "type": m["type"], "category": m["category"],
                      "power": m["basePower"], "accuracy": 0 if m["accuracy"] is True else m["accuracy"],
                      "pp": m["pp"], "priority": m["priority"], "self_target": m["target"] == "self",
                      "immunity": not ignores, **numbers(m), "shortDesc": m["shortDesc"], "desc": m["desc"],
                      "implemented": m["name"] not in UNSUPPORTED})
    # one row per attacking type (and `???`, neutral against everything), one entry per defending type
    chart = [{"attack": a, "eff": [TAKEN[tables["typechart"][d][a]] for d in TYPES] + [10]} for a in TYPES]
    chart.append({"attack": NONE, "eff": [10] * (len(TYPES) + 1)})
    names = {move_id(m["name"]): m["name"] for m in moves}
    species_names = {move_id(s["name"]): s["name"] for s in species}
    rb = json.loads((showdown / "data/random-battles/gen1/data.json").read_text(encoding="utf-8"))
    sets = []
    for sid, v in rb.items():
        pool = []
        for key in ("moves", "essentialMoves", "exclusiveMoves", "comboMoves"):
            for mid in v.get(key, []):
                name = names[mid]
                if name not in pool and name not in UNSUPPORTED:
                    pool.append(name)
        if not pool:
            continue  # Ditto: Transform only
        sets.append({"name": species_names[sid], "species": species_names[sid], "level": v["level"], "pool": pool,
                     "dropped": sorted({names[mid] for key in ("moves", "essentialMoves", "exclusiveMoves",
                                                               "comboMoves") for mid in v.get(key, [])
                                        if names[mid] in UNSUPPORTED})})
    for name, data in (("species.json", species), ("moves.json", moves), ("typechart.json", chart),
                       ("randbats.json", sets)):
        (HERE / name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
