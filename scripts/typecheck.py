"""mypy on the product packages (`envc.*`), as they are installed: `python scripts/typecheck.py`.

Why a link tree: the folders `dsl/`, `compiler/`, `codegen/`, `llm_fill/` install as
`envc.dsl`, `envc.compiler`, ... through setuptools' package-dir mapping (pyproject.toml,
`[tool.setuptools]`). The editable install serves that mapping from an import hook, which
mypy (a static tool) cannot see, and checking the folders by path would name the modules
`compiler.check` while the code imports `envc.compiler.check` (two modules for one file).
So this script builds, in the ignored `build/typecheck/`, the tree the wheel would contain:
one folder per package of `[tool.setuptools] packages` holding a symbolic link to each of its
source files, taken from the same mapping setuptools reads (nothing is listed twice, and a new
module or package is checked as soon as it is installable). mypy checks `-p envc` in that
tree, and the paths in its report are mapped back to the source files (`compiler/check.py:12:
error: ...`), so editors and terminals open the file you edit.

The alternatives we did not take: `mypy_path`/`explicit_package_bases` cannot rename a folder
(`compiler/` is `envc.compiler`); setuptools' strict editable mode would change every
developer's install (and needs a reinstall for each new file); committed links inside `envc/`
would ship twice in the sdist.

The checks themselves (strictness, per-module exceptions) are `[tool.mypy]` in pyproject.toml.
Extra arguments go to mypy. Exit status: mypy's (1 when it reports an error).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"


def package_dirs(pyproject: Path) -> dict[str, Path]:
    """Each installed package name (`envc.compiler`) -> its source folder (`ROOT/compiler`).

    Raises KeyError when pyproject.toml has no `[tool.setuptools]` packages list.
    """
    with open(pyproject, "rb") as fh:
        setuptools = tomllib.load(fh)["tool"]["setuptools"]
    mapping = setuptools.get("package-dir", {})
    return {pkg: ROOT / mapping.get(pkg, pkg.replace(".", "/")) for pkg in setuptools["packages"]}


def build_tree(packages: dict[str, Path], tree: Path) -> dict[str, str]:
    """Rebuild `tree/<package path>/<module>.py` as links to the sources; return the map from
    each linked path (relative to `tree`) to its source path (relative to ROOT)."""
    shutil.rmtree(tree / "envc", ignore_errors=True)
    links: dict[str, str] = {}
    for pkg, src in packages.items():
        dest = tree.joinpath(*pkg.split("."))
        dest.mkdir(parents=True, exist_ok=True)
        for module in sorted(src.glob("*.py")):
            (dest / module.name).symlink_to(module)
            links[str((dest / module.name).relative_to(tree))] = str(module.relative_to(ROOT))
    return links


def main(argv: list[str]) -> int:
    """Check `-p envc` in the link tree; print mypy's report with source paths."""
    links = build_tree(package_dirs(ROOT / "pyproject.toml"), TREE)
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
           "--cache-dir", str(TREE / ".mypy_cache"), "-p", "envc", *argv]
    # The tree is the working folder: mypy finds `envc` there first (the repository's own
    # `envc/` folder holds only the top-level modules, without the mapped subpackages).
    proc = subprocess.run(cmd, cwd=TREE, capture_output=True, text=True, env={**os.environ, "MYPYPATH": ""})
    for line in proc.stdout.splitlines():
        path, sep, rest = line.partition(":")
        print(f"{links.get(path, path)}{sep}{rest}")
    sys.stderr.write(proc.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
