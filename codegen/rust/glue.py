"""Decisions for the PyO3 glue of a generated crate (`src/lib.rs`): array layouts and the
code that moves values between `State` and NumPy.

Public surface: `Glue(lowering).build() -> dict` (what `templates/lib.rs.j2` lays out).

- The state export (`VecEnv.get_state`) has exactly the layout of `envc.verify.to_arrays`:
  one array per leaf (`Leaf`), nested dicts for records and lists (`{"items", "len"}`),
  plus `legal_action_mask`, `observation`, `_rng_key` and `_rng_counter`; state
  injection (`VecEnv.set_state`) reads the same layout back.
- The observation buffers of the batch are the leaves of the observe type with a
  leading batch axis: one array for the usual nested-array observation, a dict of
  arrays for records and lists.
- The batch step zips every per-env buffer into one (rayon or sequential) iterator, so
  each environment is stepped and written by one thread with no shared mutable state.
"""

from __future__ import annotations

import math

from envc.codegen.escape import py_str, rust_str
from envc.codegen.rust.lower import Leaf, Lowering, is_scalar, leaves
from envc.compiler import ir


def _loops(leaf: Leaf, body: str, indent: str) -> list[str]:
    """Nested `for` loops over a leaf's dims around `body` (row-major)."""
    lines = []
    for k, d in enumerate(leaf.dims):
        lines.append(indent + "    " * k + f"for i{k} in 0..{d}usize {{")
    lines.append(indent + "    " * len(leaf.dims) + body)
    for k in reversed(range(len(leaf.dims))):
        lines.append(indent + "    " * k + "}")
    return lines


def _exported(leaf: Leaf, var: str) -> str:
    """Rust code of `leaf`'s value in `var` as its NumPy buffer holds it: a list's length (u32
    in the state) as int32, anything else as it is."""
    value = _place(leaf, var)
    return f"{value} as i32" if leaf.cap is not None else value


def _place(leaf: Leaf, base: str) -> str:
    if leaf.access == "@":
        return f"(*{base})"
    return leaf.access.format(**{f"i{k}": f"i{k}" for k in range(len(leaf.dims))}).replace("@", base)


def _path(leaf: Leaf) -> str:
    return "&[" + ", ".join(rust_str(p) for p in leaf.path) + "]"


def _dims(leaf: Leaf) -> str:
    return "&[" + ", ".join(str(d) for d in leaf.dims) + "]"


_RANGES = {"i8": (-128, 127), "i16": (-32768, 32767), "i32": (-2**31, 2**31 - 1), "u32": (0, 2**32 - 1)}


class Glue:
    def __init__(self, low: Lowering):
        self.low = low
        self.m = low.m

    def state_leaves(self) -> list[Leaf]:
        low, m = self.low, self.m
        out: list[Leaf] = []
        for f in m.state:
            out += leaves(low, f.type, f"@.{_rid(f.name)}", (f.name,))
        out.append(Leaf(("legal_action_mask",), "bool", (low.space.n,), "@.legal_action_mask[{i0}]"))
        out += leaves(low, m.observe.type, "@.observation", ("observation",))
        out.append(Leaf(("_rng_key",), "u32", (), "@._rng_key"))
        out.append(Leaf(("_rng_counter",), "u32", (), "@._rng_counter"))
        return out

    def obs_leaves(self) -> list[Leaf]:
        """The observation's leaves, relative to an `Observation` value `@`."""
        return leaves(self.low, self.m.observe.type, "@", ())

    def export_block(self, leaf: Leaf, var: str) -> list[str]:
        value = _exported(leaf, var)
        lines = ["{", f"    let mut buf: Vec<{leaf.rty}> = Vec::with_capacity(states.len() * {leaf.size});",
                 f"    for {var} in states.iter().copied() {{"]
        lines += _loops(leaf, f"buf.push({value});", "        ")
        lines += ["    }", f"    put(py, &root, {_path(leaf)}, buf, {_dims(leaf)}, batch)?;", "}"]
        return lines

    def import_block(self, leaf: Leaf) -> list[str]:
        place = _place(leaf, "s")
        if leaf.cap is not None:
            take = f"take_ints(d, {_path(leaf)}, {_dims(leaf)}, 0, {leaf.cap})?"
            body = f"{place} = a[k] as u32; k += 1;"
        elif leaf.rty == "bool":
            take = f"take_bools(d, {_path(leaf)}, {_dims(leaf)})?"
            body = f"{place} = a[k]; k += 1;"
        elif leaf.rty == "f32":
            take = f"take_floats(d, {_path(leaf)}, {_dims(leaf)})?"
            body = f"{place} = a[k]; k += 1;"
        else:  # integers: every value within the field's declared range (`Leaf.bounds`)
            lo, hi = leaf.bounds if leaf.bounds is not None else _RANGES[leaf.rty]
            take = f"take_ints(d, {_path(leaf)}, {_dims(leaf)}, {lo}, {hi})?"
            body = f"{place} = a[k] as {leaf.rty}; k += 1;"
        lines = ["{", f"    let a = {take};", "    let mut k = 0usize;"]
        lines += _loops(leaf, body, "    ")
        lines += ["    let _ = k;", "}"]
        return lines

    def write_obs_lines(self, obs: list[Leaf], prefix: str) -> list[str]:
        lines = []
        for i, leaf in enumerate(obs):
            lines.append("{")
            lines.append("    let mut k = 0usize;")
            lines += _loops(leaf, f"{prefix}{i}[k] = {_exported(leaf, 'o')}; k += 1;", "    ")
            lines.append("    let _ = k;")
            lines.append("}")
        return lines

    def chain(self, items: list[tuple[str, str, str, str]], parallel: bool) -> tuple[str, str, str]:
        """(iterator expression, item pattern, item type) of buffers zipped together.
        `items`: (binding name, item type, parallel iterator, sequential iterator)."""
        it = items[0][2 if parallel else 3]
        pat, ty = items[0][0], items[0][1]
        for name, t, par, seq in items[1:]:
            it = f"{it}\n            .zip({par if parallel else seq})"
            pat = f"({pat}, {name})"
            ty = f"({ty}, {t})"
        return it, pat, ty

    def build(self) -> dict:
        low, m = self.low, self.m
        obs = self.obs_leaves()
        state = self.state_leaves()
        obs_buffers = [{"index": i, "rty": leaf.rty, "dtype": leaf.dtype, "dims": list(leaf.dims),
                        "size": leaf.size, "path": list(leaf.path)} for i, leaf in enumerate(obs)]
        common = [
            ("s", "&'a mut State", "states.par_iter_mut()", "states.iter_mut()"),
            ("seed", "&'a mut u32", "seeds.par_iter_mut()", "seeds.iter_mut()"),
            ("fault", "&'a mut Option<Fault>", "faults.par_iter_mut()", "faults.iter_mut()"),
        ]
        outs = [
            ("mask", "&'a mut [bool]", "mask.par_chunks_mut(NUM_ACTIONS)", "mask.chunks_mut(NUM_ACTIONS)"),
            ("rewards", "&'a mut [f32]", "rewards.par_chunks_mut(NUM_PLAYERS)", "rewards.chunks_mut(NUM_PLAYERS)"),
            ("terminated", "&'a mut bool", "terminated.par_iter_mut()", "terminated.iter_mut()"),
            ("truncated", "&'a mut bool", "truncated.par_iter_mut()", "truncated.iter_mut()"),
            ("current_player", "&'a mut i32", "current_player.par_iter_mut()", "current_player.iter_mut()"),
        ]
        for b in obs_buffers:
            i, size, rty = b["index"], b["size"], b["rty"]
            outs.append((f"obs{i}", f"&'a mut [{rty}]", f"obs{i}.par_chunks_mut({size})", f"obs{i}.chunks_mut({size})"))
        for b in obs_buffers:
            i, size, rty = b["index"], b["size"], b["rty"]
            outs.append((f"final_obs{i}", f"&'a mut [{rty}]", f"final_obs{i}.par_chunks_mut({size})",
                         f"final_obs{i}.chunks_mut({size})"))
        action = [("action", "&'a i32", "actions.par_iter()", "actions.iter()")]
        step_par, step_pat, step_ty = self.chain(common + action + outs, True)
        step_seq, _, _ = self.chain(common + action + outs, False)
        joint = [("action", "&'a [i32]", "actions.par_chunks(NUM_PLAYERS)", "actions.chunks(NUM_PLAYERS)"),
                 ("rows", "&'a mut [[bool; NUM_ACTIONS]; NUM_PLAYERS]", "joint_rows.par_iter_mut()",
                  "joint_rows.iter_mut()"),
                 ("ready", "&'a mut bool", "joint_ready.par_iter_mut()", "joint_ready.iter_mut()")]
        joint_par, joint_pat, joint_ty = self.chain(common + joint + outs, True)
        joint_seq, _, _ = self.chain(common + joint + outs, False)
        reset_par, reset_pat, reset_ty = self.chain(common + outs, True)
        reset_seq, _, _ = self.chain(common + outs, False)
        export = []
        for leaf in state:
            export += self.export_block(leaf, "st")
        obs_export = []
        for leaf in leaves(low, m.observe.type, "@", ("observation",)):
            obs_export += self.export_block(leaf, "st")
        imports = []
        for leaf in state:
            imports += self.import_block(leaf)
        single = len(obs) == 1 and not obs[0].path
        scalar_obs = _leaf_type(m.observe.type)
        return {
            "obs_buffers": obs_buffers, "out_fields": [(n, t) for n, t, _, _ in outs],
            "step_par": step_par, "step_seq": step_seq, "step_pat": step_pat, "step_ty": step_ty,
            "joint_par": joint_par, "joint_seq": joint_seq, "joint_pat": joint_pat, "joint_ty": joint_ty,
            "reset_par": reset_par, "reset_seq": reset_seq, "reset_pat": reset_pat, "reset_ty": reset_ty,
            "write_obs": self.write_obs_lines(obs, "obs"), "export": export, "obs_export": obs_export,
            "import": imports, "single_obs": single,
            "obs_bounds": _bounds(scalar_obs) if single and scalar_obs is not None else None,
            "obs_leaf_spaces": [] if single else [_leaf_space(leaf) for leaf in obs],
            "state_keys": [leaf.key for leaf in state],
        }


def _rid(name: str) -> str:
    from envc.codegen.rust.lower import field_ident

    return field_ident(name)


def _leaf_type(t: ir.Type) -> ir.Type | None:
    while isinstance(t, ir.ArrayT):
        t = t.elem
    return t if is_scalar(t) else None


def _leaf_space(leaf: Leaf) -> str:
    """A Python literal `(path, shape, dtype, low, high)` of one array of a record observation
    (a Gymnasium `Box` of the `Dict` space `gym.py` builds); the path's names come from the spec,
    so they are written with `py_str`."""
    path = "(" + "".join(f"{py_str(p)}, " for p in leaf.path) + ")"
    assert leaf.box is not None  # (an observation's leaves come from `leaves`, which sets it)
    low, high = leaf.box
    return f"({path}, {tuple(leaf.dims)!r}, {py_str(leaf.dtype)}, {_literal(low)}, {_literal(high)})"


def _bounds(t: ir.Type) -> tuple[str, str]:
    """Python literals of the lowest and highest observation value (for a Gymnasium `Box`)."""
    low, high = ir.value_bounds(t)
    return (_literal(low), _literal(high))


def _literal(x: float) -> str:
    """A bound as Python code in the generated package: an integer as written, an infinity as
    `np.inf` or `-np.inf`."""
    return {math.inf: "np.inf", -math.inf: "-np.inf"}.get(x, str(x))
