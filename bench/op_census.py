"""TCG: what the ops of each effect table (compiler/passes/effect_tables.py) are, and how many
would remain if ops whose bodies are equal up to constants shared one op (DESIGN.md,
decision 6). No timing; seconds.

    python bench/op_census.py [SPEC]

For each family dispatch of SPEC (default specs/tcg.envspec; `restrict_dispatch`'s copies
included), built as the pass builds it: the members, the tabulable ones, the ops (verbs:
spec procs called from tabulable members; fallbacks: members that are more than verb calls),
the ops present at each step, and the classes of op bodies that are structurally equal
(IR nodes compared field by field, spans left out) once every constant's value and int
range, and the names of the proc's own parameters, are left out. A class of n > 1 ops could
share one op with a table of constants (a "template"); each class of one is an op no
template can save. Listed: every class of more than one op, and every fallback's body.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pydantic import BaseModel  # noqa: E402

from envc.compiler import ir  # noqa: E402
from envc.compiler.check import load  # noqa: E402
from envc.compiler.passes import effect_tables as et  # noqa: E402
from envc.compiler.pipeline import PassContext  # noqa: E402
from envc.compiler.printer import print_module  # noqa: E402


def shape(node: object, params: set[str]) -> object:
    """A hashable form of `node` (an IR node, list or plain value) without spans, constant
    values, int ranges or the names of the parameters in `params`."""
    if isinstance(node, list):
        return tuple(shape(x, params) for x in node)
    if isinstance(node, ir.IntT):
        return "int"
    if not isinstance(node, BaseModel):
        return node
    out = []
    for k in type(node).model_fields:
        v = getattr(node, k)
        if k == "span" or (isinstance(node, ir.Const) and k == "value"):
            continue
        if isinstance(node, (ir.Local, ir.ParamDef)) and k == "name" and v in params:
            v = "<param>"
        out.append((k, shape(v, params)))
    return type(node).__name__, tuple(out)


def main() -> None:
    spec = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "specs", "tcg.envspec")
    m = load(spec, PassContext(disabled=frozenset({"effect_tables"})))
    printed = print_module(m).splitlines()
    for fam in m.families:
        for d in (fam.dispatch, *fam.restricted):
            t = et.build(m, d)
            if t is None:
                print(f"{d}: not the checker's if-chain")
                continue
            present = [len({row[k][0] for row in t.rows} - {0}) for k in range(t.length)]
            classes: dict[object, list[str]] = defaultdict(list)
            for name in t.ops:
                f = m.fn(name)
                classes[shape(f.body, {p.name for p in f.params})].append(name)
            print(f"{d}: {len(t.members)} members, {len(t.tabulable)} tabulable; {len(t.ops)} ops = "
                  f"{len(t.verbs)} verbs + {len(t.fallbacks)} fallbacks; {t.length} steps, ops present per step "
                  f"{present} (sum {sum(present)}); classes of op bodies equal up to constants: {len(classes)}")
            for group in classes.values():
                if len(group) > 1:
                    print(f"  one class: {', '.join(group)}")
            for name in t.fallbacks:
                start = next(i for i, line in enumerate(printed) if line.startswith(f"proc {name}("))
                end = next(i for i in range(start, len(printed)) if printed[i] == "}")
                print("  fallback " + "\n  ".join(printed[start:end + 1]))


if __name__ == "__main__":
    main()
