"""Timing only (issue 16): what the ability dispatch at `active_abilities` and `finish_turn`
costs the TCG's JAX step, interleaved in one process.

    python bench/ability_sites_ab.py [--batch 1024] [--steps 64] [--repeats 5]

"shipped" is specs/tcg.envspec with its fills; "without" is a temporary copy whose two calls
`ability_effect[...]` in `active_abilities` (the `Trigger.active` abilities, run for both
players whenever play goes on) and `finish_turn` (the `Trigger.first_turn_end` ones) are
replaced by one cheap assignment each. The game is NOT the same (Gengar ex's lock and the
first-turn-end abilities stop working): the ratio says what those call sites cost, nothing
else. Both modules without fault recording (PassContext(record_faults=False)); the same
`rollout` harness for both (`envc.bench.compare_rollouts`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import effect_scaling as es  # noqa: E402

from envc.bench import compare_rollouts  # noqa: E402
from envc.compiler.check import load  # noqa: E402
from envc.compiler.pipeline import PassContext  # noqa: E402
from envc.verify import load_jax  # noqa: E402

# the two call sites and what replaces each (type-correct, cheap, not the same game)
EDITS = [("            ability_effect[card[q][0].ability](q, 0)\n",
          "            locked_supporters[1 - q] = card[q][0].ability_kind.on == Trigger.active\n"),
         ("                ability_effect[card[p][s].ability](p, s)\n",
          "                ability_used[p][s] = true\n")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="envc-ability-sites-")
    spec, fills = es.snapshot(os.path.join(tmp, "shipped"))
    folder = os.path.join(tmp, "without")
    os.makedirs(folder)
    es.copy_data(folder)
    for old, new in EDITS:
        if spec.count(old) != 1:
            sys.exit(f"the spec changed: `{old.strip()}` is not there exactly once; update EDITS")
        spec = spec.replace(old, new)
    for name, text in (("tcg.envspec", spec), ("tcg.fills", fills)):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(text)
    ctx = PassContext(record_faults=False)
    shipped = load_jax(load(os.path.join(tmp, "shipped", "tcg.envspec")), ctx)
    without = load_jax(load(os.path.join(folder, "tcg.envspec")), ctx)
    print(f"load: {os.getloadavg()}", flush=True)
    ra, rb = compare_rollouts(("shipped", shipped.rollout), ("without", without.rollout), args.batch, args.steps,
                              args.repeats)
    print(f"batch {args.batch} x {args.steps}: shipped {ra.sps:,.0f} SPS, without the two ability call sites "
          f"{rb.sps:,.0f} SPS, ratio {rb.sps / ra.sps:.3f}; runs {[round(x) for x in ra.sps_runs]} / "
          f"{[round(x) for x in rb.sps_runs]}; compile {ra.compile_s:.0f} s / {rb.compile_s:.0f} s; "
          f"load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
