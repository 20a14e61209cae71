"""Building, installing and loading generated Rust crates.

Public surface: `build_wheel(crate_dir, ...) -> Path`, `install_wheel(wheel)`,
`load(module) -> the imported package`, `RustBuildError`, `cargo_target_dir()`.

- `build_wheel` runs `maturin build --release` on a generated crate. A Rust compile
  error in generated code is an envc bug: `RustBuildError` names the spec statement the
  failing line comes from (the `// @ FILE:LINE:COL` comments of `src/env.rs`) and
  quotes rustc's message.
- `load(module)` generates the crate into a cache folder (`$ENVC_RUST_CACHE`, default
  `<tmp>/envc-rust`) keyed by the hash of the generated files and of the build settings in
  the environment (`build_settings()`: a test build without LTO is never the package a
  benchmark loads), builds its wheel once, unpacks it there (nothing is installed into
  the environment) and imports the package under a name unique to that hash, so that two
  versions can live in one process. All builds share one cargo target folder (`$ENVC_CARGO_TARGET_DIR`, default
  `<tmp>/envc-cargo-target`), so the dependencies (pyo3, numpy, rayon) compile once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from envc.compiler import ir
from envc.compiler.pipeline import PassContext

_LOADED: dict[str, object] = {}


class RustBuildError(Exception):
    """cargo/maturin failed on a generated crate (an envc bug when rustc reports an error)."""


def cargo_target_dir() -> Path:
    """The cargo target folder shared by every build (`ENVC_CARGO_TARGET_DIR`, else a temp folder)."""
    return Path(os.environ.get("ENVC_CARGO_TARGET_DIR") or Path(tempfile.gettempdir()) / "envc-cargo-target")


def _maturin() -> list[str]:
    beside = Path(sys.executable).parent / "maturin"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("maturin")
    if found:
        return [found]
    raise RustBuildError("maturin is not installed: `pip install maturin` (and Rust: https://rustup.rs)")


def build_wheel(crate_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                target_dir: str | os.PathLike | None = None, quiet: bool = True) -> Path:
    """`maturin build --release` in `crate_dir`; returns the wheel (in `out_dir`, default
    `crate_dir/target/wheels`).

    Raises:
        RustBuildError: the build failed (with the spec location of the failing code when rustc names one).
    """
    crate = Path(crate_dir).resolve()
    out = Path(out_dir).resolve() if out_dir else crate / "target" / "wheels"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = str(Path(target_dir) if target_dir else cargo_target_dir())
    env.setdefault("CARGO_TERM_COLOR", "never")
    before = set(out.glob("*.whl"))
    cmd = _maturin() + ["build", "--release", "--out", str(out), "--manifest-path", str(crate / "Cargo.toml"),
                        "--interpreter", sys.executable]
    proc = subprocess.run(cmd, cwd=crate, env=env, capture_output=quiet, text=True)
    if proc.returncode != 0:
        raise RustBuildError(explain_failure(crate, (proc.stdout or "") + (proc.stderr or "")))
    wheels = sorted(set(out.glob("*.whl")) - before) or sorted(out.glob("*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise RustBuildError(f"maturin reported success but wrote no wheel into {out}")
    return wheels[-1]


def explain_failure(crate: Path, output: str) -> str:
    """A readable report of a failed build: each rustc error with the spec statement it comes from."""
    errors = []
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if not re.match(r"^error(\[E\d+\])?:", line):
            continue
        message = line
        location = ""
        for follow in lines[i + 1:i + 6]:
            m = re.search(r"-->\s+(\S+?\.rs):(\d+):(\d+)", follow)
            if m:
                location = spec_location(crate, m.group(1), int(m.group(2)))
                message += f"\n  at {m.group(1)}:{m.group(2)}:{m.group(3)}"
                break
        if location:
            message += f" (generated from {location})"
        errors.append(message)
    head = "the generated Rust crate failed to build: this is a bug in envc, please report it"
    if errors:
        return head + "\n" + "\n".join(errors[:10]) + f"\n--- full output ({crate}) ---\n" + output[-6000:]
    return head + f"\n--- output ({crate}) ---\n" + output[-6000:]


def spec_location(crate: Path, rust_file: str, line: int) -> str:
    """The `FILE:LINE:COL` of the spec statement a generated line comes from (or '')."""
    path = Path(rust_file) if Path(rust_file).is_absolute() else crate / rust_file
    try:
        text = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    for k in range(min(line, len(text)) - 1, -1, -1):
        m = re.search(r"// @ (\S+)$", text[k])
        if m:
            return m.group(1)
        m = re.match(r"\s*/// .*\((\S+:\d+:\d+)\)", text[k])
        if m:
            return m.group(1)
        if text[k].startswith("fn ") or text[k].startswith("pub fn "):
            break
    return ""


def install_wheel(wheel: str | os.PathLike) -> None:
    """`pip install --force-reinstall --no-deps WHEEL` into the running Python."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(wheel)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RustBuildError(f"pip could not install {wheel}:\n{proc.stdout}{proc.stderr}")


# The environment variables through which cargo lets a caller change how a crate is optimised
# (its profile's settings, the flags passed to rustc). The test suite builds without fat LTO
# (tests/conftest.py): a package it built must never be the one a benchmark or a user loads
# later, as happened before they were part of the key (issue 19: the Pokemon crate measured
# 1.6x slower than its own release build).
_BUILD_VARIABLES = ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS")
_BUILD_PREFIXES = ("CARGO_PROFILE_", "CARGO_TARGET_")


def build_settings() -> dict[str, str]:
    """The environment variables that change how cargo optimises a generated crate and are set
    now (`CARGO_PROFILE_*`, `RUSTFLAGS` and its kin; not `CARGO_TARGET_DIR`, which only says
    where), name -> value. Part of a built package's cache key (`load`)."""
    return {name: value for name, value in sorted(os.environ.items())
            if name != "CARGO_TARGET_DIR" and (name in _BUILD_VARIABLES or name.startswith(_BUILD_PREFIXES))}


def _digest(files: dict[str, str]) -> str:
    """The cache key of a build: the generated files, the platform and `build_settings()`."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    h.update(sys.platform.encode())
    # the settings' tag: packages cached before the settings were in the key (a test build among
    # them, under the key a release build now has) are not found again
    h.update(b"\1settings")
    for name, value in build_settings().items():
        h.update(b"\1" + name.encode() + b"=" + value.encode())
    return h.hexdigest()[:16]


class _Lock:
    """An exclusive lock on a file (POSIX `flock`; a no-op elsewhere)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.fh = open(self.path, "a+")
        try:
            import fcntl

            fcntl.flock(self.fh, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows
            pass
        return self

    def __exit__(self, *exc):
        self.fh.close()


def cache_dir() -> Path:
    """Where built packages are kept by content hash (`ENVC_RUST_CACHE`, else a temp folder)."""
    return Path(os.environ.get("ENVC_RUST_CACHE") or Path(tempfile.gettempdir()) / "envc-rust")


def load(module: ir.Module, progress=None):
    """The generated package of `module`, built (once per content hash) and imported.

    `progress(message)` is told when a build starts and ends (builds take a minute).

    Raises:
        RustBuildError: the crate does not build.
    """
    from envc.codegen.rust import generate, package_name, write

    files = generate(module)
    digest = _digest(files)
    if digest in _LOADED:
        return _LOADED[digest]
    package = package_name(module)
    root = cache_dir() / f"{module.name}-{digest}"
    root.mkdir(parents=True, exist_ok=True)
    site = root / "site"
    with _Lock(root / ".lock"):
        if not (site / package / "__init__.py").exists():
            crate = root / "crate"
            write(module, str(crate))
            start = time.perf_counter()
            if progress:
                progress(f"building the Rust crate of `{module.name}` (cargo, release)")
            wheel = build_wheel(crate, out_dir=root / "wheels")
            tmp = root / "site.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(tmp)
            shutil.rmtree(site, ignore_errors=True)
            tmp.rename(site)
            if progress:
                progress(f"built `{module.name}` in {time.perf_counter() - start:.1f}s")
    mod = _import_as(site / package, f"{package}_{digest}")
    _LOADED[digest] = mod
    return mod


def _import_as(folder: Path, name: str):
    """Import the package in `folder` under module name `name` (its submodules relative)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    assert spec is not None and spec.loader is not None  # a `.py` file always has both
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


def compile_command(module: ir.Module, out_dir: str, build: bool, echo, ctx: PassContext | None = None) -> int:
    """`envc compile SPEC --target rust -o DIR [--build]`: write the crate, optionally build its
    wheel and install it into the running Python. Returns the exit code (2: a build failure,
    which is an envc bug). `echo(text)` prints a line; `ctx`: the options of the pipeline's
    `LOWERING` passes (`--disable-pass`)."""
    from envc.codegen.rust import package_name, write

    start = time.perf_counter()
    paths = write(module, out_dir, ctx)
    echo(f"wrote {len(paths)} files into {out_dir} ({time.perf_counter() - start:.2f}s): "
         + ", ".join(os.path.relpath(p, out_dir) for p in paths))
    if not build:
        echo(f"build and install it: `pip install {out_dir}` (or `envc compile ... --build`); "
             f"then `from {package_name(module)} import VecEnv`")
        return 0
    start = time.perf_counter()
    echo("building with `maturin build --release` (the first build compiles pyo3, numpy and rayon: a minute or two)")
    try:
        wheel = build_wheel(out_dir, out_dir=os.path.join(out_dir, "target", "wheels"))
        install_wheel(wheel)
    except RustBuildError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    echo(f"built and installed {wheel.name} ({time.perf_counter() - start:.1f}s): "
         f"`from {package_name(module)} import VecEnv, GymVectorEnv`")
    return 0
