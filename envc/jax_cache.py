"""JAX's persistent compilation cache for envc's commands and generated modules.

Public surface: `folder(option) -> str | None`, `enable(option) -> str | None`, `DEFAULT`.

A JIT compile of the TCG takes about a minute on two cores; JAX can store compiled programs
on disk and load them in a later process instead of compiling again. `envc run`, `envc
bench` and `envc verify` turn that cache on (`enable`), and so does every generated JAX
module when it is imported (the same rule, pasted into it: `_use_compilation_cache` in
envc/codegen/jax/runtime.py). The folder is, in order:
1. the commands' `--jax-cache PATH` option (`--jax-cache off` disables the cache);
2. the environment variable `ENVC_JAX_CACHE` (`off`, `0`, `false`, `no` or `none` disable it);
3. `$XDG_CACHE_HOME/envc/jax`, by default `~/.cache/envc/jax`.
A program that set `jax_compilation_cache_dir` itself keeps its own folder. Entries are
JAX's (keyed by the program, the JAX version and the device); deleting the folder is safe.
"""

from __future__ import annotations

import os

OFF = ("off", "0", "false", "no", "none")


def _default() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "envc", "jax")


DEFAULT = "$XDG_CACHE_HOME/envc/jax (~/.cache/envc/jax)"


def folder(option: str | None = None) -> str | None:
    """The cache folder the rule above gives (None: the cache is off)."""
    value = (option if option is not None else os.environ.get("ENVC_JAX_CACHE", "")).strip()
    if value.lower() in OFF:
        return None
    return os.path.abspath(os.path.expanduser(value)) if value else _default()


def enable(option: str | None = None) -> str | None:
    """Turn JAX's persistent compilation cache on in `folder(option)` (created when JAX first
    writes), for this process and for generated modules imported after (through
    `ENVC_JAX_CACHE`). Returns the folder, or None when the cache is off or JAX is missing."""
    path = folder(option)
    os.environ["ENVC_JAX_CACHE"] = path or "off"
    if path is None:
        return None
    try:
        import jax
        from jax.experimental.compilation_cache import compilation_cache
    except ImportError:
        return None
    if jax.config.values["jax_compilation_cache_dir"] != path:  # (`values`: the typed read of an option)
        jax.config.update("jax_compilation_cache_dir", path)
        compilation_cache.reset_cache()  # a compile before this call found no cache: look again
    return path
