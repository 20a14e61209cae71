"""envc: a compiler for reinforcement-learning environments.

The installed namespace maps the repository's top-level folders:
`envc.dsl` (dsl/), `envc.compiler` (compiler/), `envc.codegen` (codegen/),
`envc.llm_fill` (llm_fill/); `envc.cli` is the command line.
"""

__version__ = "0.1.0"
