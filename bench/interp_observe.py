"""The reference interpreter's `observe`, timed on states of random play (microseconds per call).

    python bench/interp_observe.py tests/specs/crazy8.envspec tests/specs/bglite.envspec ...

For each spec: 40 states of uniformly random legal play from `init(3)` (a new game from a
seed of `random.Random(0)` when one ends), then `observe(state, 0)` on each, 5 rounds; prints
the mean time per call. Written for `concat` (a comprehension argument built again for every
cell of the result: crazy8's observation took 586 us, 63 us after the fix, 2026-12-05); any
spec works. One process, the machine's load as it is: quote `uptime` with the figures.
"""

from __future__ import annotations

import random
import sys
import time

from envc.compiler import pipeline
from envc.compiler.interp import Interpreter


def main(paths: list[str]) -> int:
    for path in paths:
        it = Interpreter(pipeline.load(path))
        s = it.init(3)
        rnd = random.Random(0)
        states = []
        for _ in range(40):
            if s.terminated or s.truncated:
                s = it.init(rnd.randrange(100))
            states.append(s)
            s = it.step(s, rnd.choice([i for i, b in enumerate(s.legal_action_mask) if b]))
        start = time.perf_counter()
        for _ in range(5):
            for st in states:
                it.observe(st, 0)
        print(f"{path}: {(time.perf_counter() - start) / (5 * len(states)) * 1e6:.0f} us per observe")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
