"""envc: a compiler for reinforcement-learning environments.

The installed namespace maps the repository's top-level folders:
`envc.dsl` (dsl/), `envc.compiler` (compiler/), `envc.codegen` (codegen/),
`envc.llm_fill` (llm_fill/); `envc.cli` is the command line.
"""

__version__ = "0.1.0"

# Specs nest expressions up to `envc.compiler.check.MAX_DEPTH` levels, and the front end, the
# checker, the lowerings and the interpreter walk them recursively (a few Python frames per
# level): raise Python's default limit of 1,000 frames once, for every entry point.
import sys as _sys  # noqa: E402

if _sys.getrecursionlimit() < 20_000:
    _sys.setrecursionlimit(20_000)
