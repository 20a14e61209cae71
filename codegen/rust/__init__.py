"""The Rust backend: `envc compile SPEC --target rust [--build]`.

Public surface: `generate(module) -> dict[str, str]` (relative path -> text),
`write(module, out_dir) -> list[str]`, `package_name(module)`; building and loading
the crate live in `envc.codegen.rust.build` (`build_wheel`, `install_wheel`, `load`).

The output is a complete maturin project (a crate of its own, never part of envc's
wheel): `Cargo.toml`, `pyproject.toml`, `src/env.rs` (the environment in plain Rust:
`State`, `init`, `step`, `observe`, `legal_action_mask`; no allocation in `step`),
`src/runtime.rs` (envc's RNG, lists, floor division: the same for every spec),
`src/lib.rs` (PyO3: the batched `VecEnv` class stepping N environments with rayon into
preallocated NumPy arrays, with auto-reset, state export/injection for verification),
and the Python package `python/envc_<name>/` (re-exports and a Gymnasium `VectorEnv`
adapter). Lowering decisions live in `lower.py` and `glue.py`; `templates/` only lays
out files. Generation is deterministic: the same IR gives the same bytes.
"""

from __future__ import annotations

import functools
import os
from importlib import resources

import jinja2

from envc import __version__
from envc.codegen import write_files
from envc.codegen.escape import FILTERS
from envc.codegen.rust.glue import Glue
from envc.codegen.rust.lower import Lowering, LoweringError  # noqa: F401
from envc.compiler import ir, pipeline
from envc.compiler.pipeline import PassContext


def package_name(module: ir.Module) -> str:
    """The Python import name of the generated package (`envc_<spec name>`)."""
    return f"envc_{module.name}"


@functools.lru_cache(maxsize=1)  # one environment: templates compile once per process
def _env() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(
        lambda name: resources.files("envc.codegen.rust").joinpath("templates", name).read_text(encoding="utf-8"))
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    return env


def _runtime() -> str:
    return resources.files("envc.codegen.rust").joinpath("templates", "runtime.rs").read_text(encoding="utf-8")


def _spec_path(module: ir.Module) -> str:
    if not module.path:
        return module.name
    rel = os.path.relpath(module.path)
    return (rel if not rel.startswith("..") else os.path.basename(module.path)).replace(os.sep, "/")


def generate(module: ir.Module, ctx: PassContext | None = None) -> dict[str, str]:
    """The generated crate's files for a module after the pipeline's `PASSES` (relative path ->
    text; `ctx`: the options of the `LOWERING` passes this runs first, `--disable-pass`).

    Raises:
        LoweringError: the module uses something this backend cannot lower.
    """
    module = pipeline.lower(module, ctx)  # `LOWERING`: folded, `choose` as state machines, faults numbered
    low = Lowering(module)
    lowered = low.run()
    glue = Glue(low).build()
    package = package_name(module)
    spec = _spec_path(module)
    obs_t = module.observe.type
    dims = list(ir.dims(obs_t))
    single = glue["single_obs"]
    obs_dtype = glue["obs_buffers"][0]["dtype"] if single else None
    common = dict(name=module.name, version=__version__, spec=spec, package=package, gym_id=f"envc/{module.name}-v0",
                  crate=f"envc-{module.name.replace('_', '-')}", doc=module.doc or "")
    env = _env()
    files = {
        "Cargo.toml": env.get_template("Cargo.toml.j2").render(**common),
        "pyproject.toml": env.get_template("pyproject.toml.j2").render(**common),
        "README.md": env.get_template("README.md.j2").render(**common),
        "src/runtime.rs": _runtime(),
        "src/env.rs": env.get_template("env.rs.j2").render(
            **common, num_players=lowered.num_players, num_actions=lowered.num_actions,
            turn_limit=lowered.turn_limit, time_limit=lowered.time_limit, step_max=lowered.step_max,
            step_count_rty=lowered.step_count_rty,
            action_kinds=[(k.name, k.offset, k.size) for k in low.space.kinds],
            action_params=low.space.format_table(), invariants=lowered.invariants,
            enums=lowered.enums, fault_sites=lowered.fault_sites, records=lowered.records,
            obs_rty=lowered.obs_rty, fields=lowered.state_fields, statics=lowered.statics,
            functions=lowered.functions, mask_code=lowered.mask_code, dispatch_code=lowered.dispatch_code,
            illegal_is_error=lowered.illegal_is_error, illegal_site=lowered.illegal_site,
            illegal_is_pgx=module.illegal_action == "pgx",
            has_epilogue=lowered.has_epilogue, simultaneous=lowered.simultaneous),
        "src/lib.rs": env.get_template("lib.rs.j2").render(**common, **glue, simultaneous=lowered.simultaneous),
        f"python/{package}/__init__.py": env.get_template("__init__.py.j2").render(
            **common, obs_shape=repr(tuple(dims)) if single else "None",
            obs_shape_text=", ".join(map(str, dims)) + ("" if single else "...") if dims else "",
            obs_dtype=obs_dtype or "(a dict of arrays)",
            obs_dtype_py=f'"{obs_dtype}"' if obs_dtype else "None"),
        f"python/{package}/gym.py": env.get_template("gym.py.j2").render(
            **common, obs_shape=repr(tuple(dims)) if single else "None",
            obs_dtype_py=f'"{obs_dtype}"' if obs_dtype else "None",
            obs_bounds="(" + ", ".join(glue["obs_bounds"]) + ")" if glue["obs_bounds"] else "None",
            obs_leaf_spaces=glue["obs_leaf_spaces"]),
    }
    return files


def write(module: ir.Module, out_dir: str, ctx: PassContext | None = None) -> list[str]:
    """Write the generated crate into `out_dir` (created if needed); returns the paths written.
    Files of an earlier generation that are no longer generated are left alone."""
    return write_files(generate(module, ctx), out_dir)
