"""JAX's persistent compilation cache for envc's commands and generated modules.

Public surface: `folder(option) -> str | None`, `enable(option) -> str | None`, `disable()`, `DEFAULT`;
`compile_cached(fn, *args, env=..., key=...) -> Compiled` and `package_digest(env)` (programs
exported to disk, below).

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

import ast
import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import time
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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


def unusable(path: str) -> str | None:
    """Why `path` cannot hold the cache (it is a file, or cannot be created or written), or
    None when it can: the folder is created here if it is missing."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        return f"{e.strerror or e}" if not os.path.exists(path) or os.path.isdir(path) else "it is a file"
    if not os.access(path, os.W_OK | os.X_OK):
        return "it cannot be written"
    return None


def enable(option: str | None = None) -> str | None:
    """Turn JAX's persistent compilation cache on in `folder(option)` (created here), for this
    process and for generated modules imported after (through `ENVC_JAX_CACHE`). Returns the
    folder, or None when the cache is off or JAX is missing. A folder that cannot be used
    (`unusable`) turns the cache off with one warning that says why: JAX would otherwise warn
    at every compile, and envc at every program it stores (a hunt ran `--jax-cache` on a file)."""
    path = folder(option)
    why = unusable(path) if path is not None else None
    if why is not None:
        warnings.warn(f"envc: JAX's compilation cache is off: {path} cannot hold it ({why}); name a folder you "
                      "can write with `--jax-cache PATH` or ENVC_JAX_CACHE", stacklevel=2)
        path = None
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


def disable() -> None:
    """Turn every persistent compilation cache off for this process, so that each compile is
    cold (benchmarks of compile time): JAX's (`jax_enable_compilation_cache`, whatever folder
    was set, e.g. through `JAX_COMPILATION_CACHE_DIR`) and, through `ENVC_JAX_CACHE=off`, the
    one a generated module turns on when it is imported afterwards."""
    os.environ["ENVC_JAX_CACHE"] = "off"
    import jax

    jax.config.update("jax_enable_compilation_cache", False)


# ------------------------------------------------------------------ programs exported to disk
#
# JAX's persistent cache skips XLA's compile, but a repeat run still traces the generated
# Python (the TCG: 8,000 lines, every branch) and lowers it to StableHLO: most of a cached
# start (bench/RESULTS.md, "Compile time and JAX's persistent compilation cache"). So envc
# also stores the lowered program itself, `jax.export`'s serialized form, keyed by everything
# the trace depends on; a repeat run deserializes it and calls it (`Exported.call`), and only
# XLA's compile remains, which the persistent cache serves. Decision: the exported program
# is an optimisation and never a source of truth; a file that cannot be read or deserialized
# is a miss (warned, rewritten), and a function export refuses (a callback, an unregistered
# pytree node) compiles the usual way.

EXPORT_FOLDER = "envc-export"  # under the compilation cache's folder
_FORMAT = 2  # bumped when the key's parts or the file layout change
_registered: dict[type, str] = {}  # pytree node types registered for export serialization, by name


@dataclass
class Compiled:
    """A compiled program and how it was obtained.

    `run(*args)` calls it (the arguments' shapes and dtypes as compiled); `stages` are the
    seconds of (trace, lower, XLA): on a hit (reading and deserializing the exported program,
    tracing and lowering its call, XLA's compile, which JAX's persistent cache serves), on a
    miss (tracing, lowering and writing the exported program, tracing and lowering its call,
    XLA's compile); `cache` is
    `hit` (the exported program was read), `miss` (it was exported and written) or
    `off: <why>` (the usual trace, lower and compile)."""

    run: Callable
    stages: tuple[float, float, float]
    cache: str


def package_digest(env) -> str:
    """sha256 of the `.py` files of the generated package `env` (a module from
    `envc.verify.load_jax` or a compiled package's import), in name order: the exported
    programs of a package are reused only by the same generated code."""
    return folder_digest(os.path.dirname(os.path.abspath(env.__file__)))


def folder_digest(folder: str) -> str:
    """sha256 of the `.py` files in `folder` (names and contents, in name order)."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".py"):
            continue
        h.update(name.encode() + b"\0")
        with open(os.path.join(folder, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


class _Unkeyable(Exception):
    """A value `fn` closes over that the key cannot cover (its repr names a memory address)."""


_PLAIN = (bool, int, float, complex, str, bytes, type(None))


class _Keyer:
    """Feeds into `h` the code of a function (bytecode, constants, names, nested code) and what
    it closes over: functions (followed; a `jax.jit` or `functools.wraps` wrapper to what it
    wraps; a `functools.partial` to its function and the values it binds), numbers, strings,
    arrays (by value), objects whose repr is their value (pydantic models, dataclasses,
    containers of such). A module or class counts by its name only (the
    generated package also counts by its files, under whatever name this process imported
    it). The globals a function of the generated package or of envc reads are followed
    (`_globals`). `_Unkeyable` for any other closed-over value (its repr is an address)."""

    def __init__(self, h, env):
        self.h, self.seen = h, set()
        self.generated = env.__name__.split(".")[0]  # the random name `load_jax` gave the package

    def _name(self, module: str | None) -> str:
        return "<generated>" if (module or "").split(".")[0] == self.generated else str(module)

    def code(self, fn) -> None:
        if id(fn) in self.seen:
            return
        self.seen.add(id(fn))
        code = getattr(fn, "__code__", None)
        if code is None and hasattr(fn, "__wrapped__"):
            self.code(fn.__wrapped__)
            return
        if code is None:
            self.value(fn)
            return
        _code_object(self.h, code)
        self._globals(fn, code)
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell (a name assigned after the closure was made)
                continue
            self.h.update(name.encode() + b"=")
            self.value(value)

    def _ours(self, module: str | None) -> bool:
        root = (module or "").split(".")[0]
        return root in (self.generated, "envc")

    def _globals(self, fn, code) -> None:
        """The globals a function of the generated package or of envc reads: functions of
        either, followed (their code can change under the same name: a patched module, another
        envc), also in a list or tuple of them, and numbers, strings and arrays by value; other
        globals (jax, numpy) by name."""
        if not self._ours(getattr(fn, "__module__", None)):
            return
        scope = getattr(fn, "__globals__", {})
        for name in sorted(_global_names(code)):
            value = scope.get(name)
            if isinstance(value, types.FunctionType) and self._ours(value.__module__):
                self.h.update(b"global " + name.encode() + b"=")
                self.code(value)
            elif isinstance(value, _PLAIN) or (hasattr(value, "shape") and hasattr(value, "dtype")):
                self.h.update(b"global " + name.encode() + b"=")
                self.value(value)
            elif isinstance(value, (list, tuple)) and any(isinstance(v, types.FunctionType) for v in value):
                # a table of functions (the generated `_BRANCHES`): each followed, in order
                self.h.update(b"global " + name.encode() + b"=[")
                for item in value:
                    self.value(item)

    def value(self, value) -> None:
        if isinstance(value, types.ModuleType):
            self.h.update(b"module " + self._name(value.__name__).encode())
        elif isinstance(value, type):
            self.h.update(f"class {self._name(value.__module__)}.{value.__qualname__}".encode())
        elif callable(value) and (hasattr(value, "__code__") or hasattr(value, "__wrapped__")):
            self.code(value)
        elif isinstance(value, functools.partial):  # its function, then what it binds
            self.h.update(b"partial(")
            self.code(value.func)
            for arg in value.args:
                self.value(arg)
            for name in sorted(value.keywords):
                self.h.update(name.encode() + b"=")
                self.value(value.keywords[name])
            self.h.update(b")")
        elif isinstance(value, _PLAIN):
            self.h.update(repr(value).encode())
        elif type(value) is object:  # a sentinel (`jax.vmap` closes over one)
            self.h.update(b"object()")
        elif hasattr(value, "shape") and hasattr(value, "dtype"):  # numpy or JAX array
            array = np.asarray(value)
            self.h.update(f"{array.shape}{array.dtype}".encode() + array.tobytes())
        else:
            self.h.update(self._repr(value).encode())

    def _repr(self, value) -> str:
        text = repr(value)
        if " at 0x" in text or self.generated in text:
            raise _Unkeyable(f"`{type(value).__qualname__}` value {text[:60]}")
        return text


def _global_names(code) -> set[str]:
    """The names `code` and the code nested in it (comprehensions, inner functions) look up."""
    names = set(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            names |= _global_names(c)
    return names


def _code_object(h, code) -> None:
    h.update(code.co_code + repr(code.co_names).encode())
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            _code_object(h, c)
        else:
            h.update(repr(c).encode())


def _register_types(env, digest: str) -> str | None:
    """Register the generated package's pytree classes (`State`) for export serialization
    under names stable across processes; the reason when one cannot be (the same generated
    code loaded twice in one process: the name belongs to the other copy's class)."""
    from jax import export

    for cls in vars(env).values():
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)) or cls in _registered:
            continue
        name = f"envc.{cls.__qualname__}.{digest[:16]}"
        if name in _registered.values():
            return f"`{cls.__qualname__}` of this generated code is loaded twice in this process"
        export.register_pytree_node_serialization(cls, serialized_name=name, serialize_auxdata=_aux_bytes,
                                                  deserialize_auxdata=_aux_value)
        _registered[cls] = name
    return None


def _aux_bytes(aux) -> bytes:
    text = repr(aux)
    if ast.literal_eval(text) != aux:
        raise ValueError(f"pytree auxiliary data {text} is not a literal")
    return text.encode()


def _aux_value(data: bytes):
    return ast.literal_eval(data.decode())


def _program_key(fn, args, env, digest: str, key: Sequence[object], donate: tuple[int, ...]) -> str:
    import jax

    h = hashlib.sha256()
    leaves, tree = jax.tree_util.tree_flatten(args)
    device = jax.devices()[0]
    parts = [_FORMAT, jax.__version__, device.platform, device.device_kind, jax.config.values["jax_enable_x64"],
             digest, [repr(k) for k in key], donate, str(tree),
             [(tuple(np.shape(x)), str(x.dtype if hasattr(x, "dtype") else np.result_type(type(x))),
               bool(getattr(x, "weak_type", False))) for x in leaves]]
    h.update(json.dumps(parts, default=str).encode())
    _Keyer(h, env).code(fn)  # raises _Unkeyable
    return h.hexdigest()


def compile_cached(fn: Callable, *args, env, key: Sequence[object] = (), donate_argnums: tuple[int, ...] = (),
                   folder: str | None = None) -> Compiled:
    """Compile `jax.jit(fn, donate_argnums)` for `args`, reusing the program a previous process
    exported for the same code and arguments.

    `env` is the generated package `fn` runs (its files are part of the key, with `key`, the
    code of `fn` and of the functions it closes over, the values it closes over as `_Keyer`
    reads them, the arguments' pytree structure, shapes and dtypes, JAX's version and the
    device; the globals of the generated package's and envc's functions are followed, other
    globals count by name: the caller's `key` names any of those its program depends on).
    The exported programs live in `<folder>/envc-export/`, `folder` by default JAX's
    compilation cache folder (`enable`); with that cache off and no `folder`, this is the
    usual trace, lower and compile.

    Returns:
        `Compiled` (the callable, the stage times in seconds, and whether the file was used).
    Raises:
        whatever `jax.jit` raises for `fn` (a function that cannot be exported is compiled
        the usual way; an unreadable file is a miss, with a warning).
    """
    import jax

    root = folder or jax.config.values["jax_compilation_cache_dir"]  # (`values`: the typed read of an option)
    if not root:
        return _compile_plain(fn, args, donate_argnums, "off: JAX's compilation cache is off")
    digest = package_digest(env)
    why = _register_types(env, digest)
    if why:
        return _compile_plain(fn, args, donate_argnums, f"off: {why}")
    try:
        name = _program_key(fn, args, env, digest, key, donate_argnums)
    except _Unkeyable as e:
        return _compile_plain(fn, args, donate_argnums, f"off: the function closes over a {e}")
    path = os.path.join(root, EXPORT_FOLDER, name + ".exported")
    start = time.perf_counter()
    exported = _read(path)
    cache = "hit"
    if exported is None:
        exported, cache = _export(fn, args, path)
    if exported is None:
        return _compile_plain(fn, args, donate_argnums, f"off: {cache}")
    read_s = time.perf_counter() - start
    compiled, (trace_s, lower_s, xla_s) = compile_stages(jax.jit(exported.call, donate_argnums=donate_argnums), *args)
    return Compiled(compiled, (read_s, trace_s + lower_s, xla_s), cache)


def compile_stages(fn: Any, *args) -> tuple[Any, tuple[float, float, float]]:
    """Compile the jitted `fn` for `args` in JAX's three stages, timed one by one.

    Returns:
        (the compiled function, (trace_s, lower_s, xla_s)) in seconds of wall time;
        `xla_s` includes reading JAX's persistent compilation cache when it holds the
        function (then it is small).
    """
    start = time.perf_counter()
    traced = fn.trace(*args)
    traced_at = time.perf_counter()
    lowered = traced.lower()
    lowered_at = time.perf_counter()
    compiled = lowered.compile()
    done = time.perf_counter()
    return compiled, (traced_at - start, lowered_at - traced_at, done - lowered_at)


def _compile_plain(fn: Callable, args: tuple, donate: tuple[int, ...], cache: str) -> Compiled:
    import jax

    compiled, stages = compile_stages(jax.jit(fn, donate_argnums=donate), *args)
    return Compiled(compiled, stages, cache)


def _read(path: str):
    """The exported program in `path`, or None when there is none or it cannot be used."""
    from jax import export

    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            return export.deserialize(bytearray(f.read()))
    except Exception as e:  # a truncated or foreign file: recompile and rewrite it (module comment)
        warnings.warn(f"envc: ignoring the unreadable exported program {path} ({type(e).__name__}: {e}); "
                      "compiling again", stacklevel=3)
        return None


def _export(fn: Callable, args: tuple, path: str):
    """(the exported program, "miss") after writing it to `path` atomically, or (None, why)
    when `fn` cannot be exported."""
    import jax
    from jax import export

    try:
        exported = export.export(jax.jit(fn))(*args)
        data = exported.serialize()
    except ImportError as e:  # jax.export's serialization needs flatbuffers (the `jax` extra has it)
        return None, f"jax.export cannot serialize here ({e}): `pip install flatbuffers`"
    except Exception as e:  # e.g. a host callback: not exportable, so compiled the usual way
        return None, f"not exportable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # readers see the whole file or none
    except OSError as e:  # a read-only or full disk: this run goes on, the next one exports again
        warnings.warn(f"envc: could not store the exported program in {path} ({e})", stacklevel=3)
    return exported, "miss"


class cached_jit:  # noqa: N801 (named like the `jax.jit` it stands for)
    """`jax.jit(fn)` whose programs come from `compile_cached`: a drop-in for the jitted
    functions of a loop over a generated package `env` (`cached_jit(jax.vmap(env.step),
    env=env)`), so that a repeat run skips tracing and lowering. Each new pytree structure,
    shape or dtype of the arguments compiles once per process (as `jax.jit` does), and
    `caches` lists how each was obtained (`hit`, `miss`, `off: why`). No static arguments:
    close over them (`lambda k: env.rollout(k, 64, 1024)`); keyword arguments are not taken."""

    def __init__(self, fn: Callable, *, env, key: Sequence[object] = (), donate_argnums: tuple[int, ...] = (),
                 folder: str | None = None):
        self.fn, self.env, self.key, self.donate_argnums, self.folder = fn, env, tuple(key), donate_argnums, folder
        self._programs: dict[tuple, Callable] = {}
        self.caches: list[str] = []

    def __call__(self, *args):
        import jax

        leaves, tree = jax.tree_util.tree_flatten(args)
        signature = (tree, tuple((np.shape(x), str(getattr(x, "dtype", type(x)))) for x in leaves))
        program = self._programs.get(signature)
        if program is None:
            compiled = compile_cached(self.fn, *args, env=self.env, key=self.key,
                                      donate_argnums=self.donate_argnums, folder=self.folder)
            program = self._programs[signature] = compiled.run
            self.caches.append(compiled.cache)
        return program(*args)
