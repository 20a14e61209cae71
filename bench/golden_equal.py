"""A shipped spec's golden JAX module at a commit against the one in a working tree: one jitted
`rollout` (`rollout_joint` for a simultaneous spec) of each, same key, and every output leaf
(final state, rewards, done) equal in dtype, shape and value. For a change of the generated
code's form (issue 15, item 6). Prints each side's jit + run time (cold with ENVC_JAX_CACHE=off).

    python bench/golden_equal.py SPEC BASE_COMMIT WORKTREE N_STEPS BATCH

Exit status 1 when a leaf differs."""
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

spec, base, new_root = sys.argv[1], sys.argv[2], Path(sys.argv[3])
n_steps, batch = int(sys.argv[4]), int(sys.argv[5])

def load(name, text):
    d = Path(tempfile.gettempdir()) / "envc_golden_equal" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "env.py").write_text(text)
    spec_ = importlib.util.spec_from_file_location(f"m_{name}", d / "env.py")
    m = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(m)
    return m

old_text = subprocess.run(["git", "-C", str(new_root), "show", f"{base}:tests/golden/{spec}/jax/env.py"], capture_output=True, text=True, check=True).stdout
new_text = (new_root / "tests" / "golden" / spec / "jax" / "env.py").read_text()
old, new = load(f"{spec}_old", old_text), load(f"{spec}_new", new_text)
outs = []
for m in (old, new):
    fn = m.rollout_joint if hasattr(m, "rollout_joint") and getattr(m, "SIMULTANEOUS", False) else m.rollout
    t = time.perf_counter()
    out = jax.jit(fn, static_argnums=(1, 2))(jax.random.PRNGKey(7), n_steps, batch)
    out = jax.tree_util.tree_map(np.asarray, out)
    print(m.__name__, f"{time.perf_counter() - t:.1f}s", flush=True)
    outs.append(out)
a, b = (jax.tree_util.tree_leaves(o) for o in outs)
assert len(a) == len(b)
bad = [i for i, (x, y) in enumerate(zip(a, b)) if x.dtype != y.dtype or x.shape != y.shape or not np.array_equal(x, y)]
print(spec, "leaves", len(a), "differ", bad)
sys.exit(1 if bad else 0)
