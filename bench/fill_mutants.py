"""How many wrong fills of TCG texts does `envc fill` reject, and does it accept right ones?

    python bench/fill_mutants.py                       # every case, as `envc fill` judges them
    python bench/fill_mutants.py --reference           # also against the hand fill (differential)
    python bench/fill_mutants.py --kind wrong-number --limit 10 --json out.json
    python bench/fill_mutants.py --file heldout.toml   # the held-out cases only

Each case of `bench/fill_mutants/*.toml` (a card text, a fill body, and whether it is right
or which kind of mistake it makes) goes through the path of `envc fill`: `fill_spec` on a
copy of `specs/tcg.envspec` and `specs/tcg.fills` (`--force`, so a hand-filled text is
filled again), asking a scripted OpenAI-compatible server (`envc.llm_fill.scripted`) that
gives the same answer every time, like a model that keeps its mistake. A wrong fill is
*killed* when the hole ends unfilled; a right fill that ends unfilled is a *false
rejection*. The fill file is restored after each case.

By default the fill already in the file is not used as a reference (`differential=False`):
most texts will be filled with no hand fill to compare with (issue #16), so the figures
measure the checks that need none. `--reference` turns it on (a hand-filled text's answer
must then behave exactly like the hand fill). One `Judge` serves every case (its caches of
checked files and reached states), as one `envc fill` run serves many holes.

Printed: kills per kind of mistake, overall, which stage of the judge rejected them, the
false rejections, and the median time per judgement (the wall time of one `fill_spec` call:
the model call, the judge, the fill file). The load average is printed with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "bench" / "fill_mutants"
MODEL = "openai/scripted-model"


@dataclass
class Case:
    file: str
    family: str
    text: str
    kind: str  # a kind of mistake, or "right"
    why: str
    body: str


@dataclass
class Outcome:
    case: Case
    hole: str
    rejected: bool
    stage: str  # the judge's stage that decided ("accepted" when accepted)
    seconds: float
    feedback: str


def load_cases(folder: Path = CASES) -> list[Case]:
    """Every case of the `*.toml` files of `folder`, in file order."""
    out = []
    for path in sorted(folder.glob("*.toml")):
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        for t in data.get("text", []):
            for w in t.get("wrong", []):
                out.append(Case(path.name, t["family"], t["text"], w["kind"], w.get("why", ""), w["body"]))
            for r in t.get("right", []):
                out.append(Case(path.name, t["family"], t["text"], "right", r.get("why", ""), r["body"]))
    return out


def copy_spec(folder: Path) -> Path:
    """specs/tcg.envspec, specs/tcg.fills and specs/data copied into `folder` (a link to the data
    would lead outside the spec's folder, which the checker refuses: E0150)."""
    shutil.copy(ROOT / "specs" / "tcg.envspec", folder / "tcg.envspec")
    shutil.copy(ROOT / "specs" / "tcg.fills", folder / "tcg.fills")
    shutil.copytree(ROOT / "specs" / "data", folder / "data")
    return folder / "tcg.envspec"


def run(cases: list[Case], max_examples: int, reference: bool, progress: bool = True) -> list[Outcome]:
    from envc.llm_fill.driver import fill_spec
    from envc.llm_fill.judge import Judge
    from envc.llm_fill.scripted import ScriptedModel

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    with tempfile.TemporaryDirectory(prefix="envc-mutants-") as tmp:
        spec = copy_spec(Path(tmp))
        fills = spec.with_suffix(".fills")
        original = fills.read_text(encoding="utf-8")
        judge = Judge(str(spec), max_examples=max_examples)
        module = judge.load(original).module
        members = {(h.family, h.prose): h.name for h in module.holes}
        answer = {"text": ""}
        out = []
        with ScriptedModel(lambda messages: answer["text"]) as fake:
            for i, case in enumerate(cases):
                hole = members.get((case.family, case.text))
                if hole is None:
                    raise SystemExit(f"{case.file}: no text of `{case.family}` reads \"{case.text}\"")
                answer["text"] = f"```envspec\n{case.body.strip()}\n```"
                fills.write_text(original, encoding="utf-8")
                start = time.perf_counter()
                report = fill_spec(str(spec), MODEL, only=[hole], force=True, max_attempts=1, concurrency=1,
                                   api_base=fake.url, max_examples=max_examples, differential=reference,
                                   judge=judge, today="2000-01-01")
                seconds = time.perf_counter() - start
                r = report.runs[0]
                verdict = r.verdicts[-1] if r.verdicts else None
                stage = verdict.stage if verdict is not None else "model call"
                out.append(Outcome(case, hole, r.status != "filled", stage, seconds,
                                   "" if verdict is None else verdict.feedback))
                if progress:
                    mark = ("killed" if r.status != "filled" else "MISSED") if case.kind != "right" else (
                        "ok" if r.status == "filled" else "FALSE REJECTION")
                    print(f"[{i + 1}/{len(cases)}] {seconds:5.1f}s {mark:15} {stage:12} {case.kind:18} "
                          f"{case.text[:50]} | {case.why}", file=sys.stderr, flush=True)
        fills.write_text(original, encoding="utf-8")
    return out


def report(outcomes: list[Outcome], reference: bool, max_examples: int) -> str:
    wrong = [o for o in outcomes if o.case.kind != "right"]
    right = [o for o in outcomes if o.case.kind == "right"]
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in wrong:
        by_kind[o.case.kind].append(o)
    texts = {(o.case.family, o.case.text) for o in outcomes}
    lines = [f"{len(wrong)} wrong fills and {len(right)} right fills of {len(texts)} texts; "
             f"--max-examples {max_examples}; reference (hand fill) {'on' if reference else 'off'}", "",
             "| kind of mistake | wrong fills | killed | rate |", "|---|---:|---:|---:|"]
    for kind in sorted(by_kind):
        os_ = by_kind[kind]
        k = sum(o.rejected for o in os_)
        lines.append(f"| {kind} | {len(os_)} | {k} | {100 * k / len(os_):.0f}% |")
    killed = sum(o.rejected for o in wrong)
    lines.append(f"| **all** | **{len(wrong)}** | **{killed}** | **{100 * killed / max(len(wrong), 1):.1f}%** |")
    stages = Counter(o.stage for o in wrong if o.rejected)
    lines += ["", "killed by stage: " + ", ".join(f"{s} {n}" for s, n in stages.most_common())]
    false = [o for o in right if o.rejected]
    lines.append(f"false rejections: {len(false)} of {len(right)} right fills")
    for o in false:
        lines.append(f"  - {o.case.text} ({o.case.why}): {o.stage}: {o.feedback.splitlines()[0][:200]}")
    missed = [o for o in wrong if not o.rejected]
    if missed:
        lines.append(f"missed ({len(missed)}):")
        lines += [f"  - {o.case.kind}: {o.case.text[:70]} ({o.case.why})" for o in missed]
    times = [o.seconds for o in outcomes]
    lines.append(f"time per judgement: median {statistics.median(times):.1f} s, mean {statistics.mean(times):.1f} s, "
                 f"max {max(times):.1f} s over {len(times)} judgements")
    try:
        load = os.getloadavg()
        lines.append(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")
    except OSError:  # pragma: no cover
        pass
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", action="append", help="only cases of this kind (`right` for the right fills)")
    ap.add_argument("--file", action="append", help="only the cases of this file of bench/fill_mutants/ "
                    "(e.g. `heldout.toml`); `--file '!heldout.toml'` leaves one out")
    ap.add_argument("--text", help="only texts that contain this")
    ap.add_argument("--limit", type=int, help="at most this many cases")
    ap.add_argument("--max-examples", type=int, default=200, help="generated examples per judgement (as envc fill)")
    ap.add_argument("--reference", action="store_true", help="judge against the hand fill too (differential)")
    ap.add_argument("--json", help="write every outcome to this file")
    ap.add_argument("--quiet", action="store_true", help="no line per case on stderr")
    args = ap.parse_args(argv)
    cases = load_cases()
    if args.kind:
        cases = [c for c in cases if c.kind in args.kind]
    if args.file:
        keep = [f for f in args.file if not f.startswith("!")]
        drop = [f[1:] for f in args.file if f.startswith("!")]
        cases = [c for c in cases if (not keep or c.file in keep) and c.file not in drop]
    if args.text:
        cases = [c for c in cases if args.text.casefold() in c.text.casefold()]
    if args.limit:
        cases = cases[:args.limit]
    outcomes = run(cases, args.max_examples, args.reference, progress=not args.quiet)
    print(report(outcomes, args.reference, args.max_examples))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump([{**asdict(o.case), "hole": o.hole, "rejected": o.rejected, "stage": o.stage,
                        "seconds": round(o.seconds, 3), "feedback": o.feedback} for o in outcomes], fh, indent=1,
                      ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
