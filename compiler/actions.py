"""Action flattening: every action kind of a spec becomes one slice of a `Discrete(n)` space.

Public surface: `ActionSpace` (`n`, `decode`, `encode`, `format`, `kinds`, `format_table`),
`decode_param` (the same decoding as an IR expression, for the backends and passes).

The order is stable and documented: kinds in declaration order; within a kind,
parameters vary in row-major order (the first parameter is the slowest, the last the
fastest), each over its values in increasing order (`int[lo..hi]` from lo to hi, `bool`
as false then true, enums in member order, table rows by row number). So for
`action place(cell: int[0..8])` index 4 is `place(cell=4)`, and for
`action move(from: int[0..2], to: int[0..2])` index 5 is `move(from=1, to=2)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from envc.compiler import ir, ranges


def param_values(t: ir.Type) -> list:
    """The values a parameter of type `t` takes, in flattening order."""
    if isinstance(t, ir.IntT):
        return list(range(t.lo, t.hi + 1))
    if isinstance(t, ir.BoolT):
        return [False, True]
    if isinstance(t, ir.EnumT):
        return list(range(t.size))
    if isinstance(t, ir.RowT):
        return list(range(t.rows))
    raise TypeError(f"action parameters cannot have type {t}")


def _arith(op: ir.BinaryOp, e: ir.Expr, k: int) -> ir.Binary:
    """`e op k` for a constant `k` (positive for `div` and `mod`), typed with the exact range `ranges` infers (what
    `ir.verify` checks)."""
    t = ir.IntT(lo=k, hi=k)
    return ir.Binary(op=op, left=e, right=ir.Const(value=k, type=t), type=ranges.binary(op, ir.int_of(e.type), t))


def decode_param(kind: ActionKind, index: ir.Expr, j: int) -> ir.Expr:
    """Parameter `j` of action kind `kind` as an IR expression of `index`, an int expression
    of the index within the kind (the flat index minus `kind.offset`): `index // stride % n`
    (the layout of the module docstring, `ActionSpace.decode`), plus the parameter's lower
    bound for an `int[lo..hi]`, `== 1` for a bool, and an enum member or table row by its
    position (a read of the constant array `[0, 1, ..., n-1]` typed as the enum or row: the
    IR has no conversion from int to either).

    Where `index` lies in `0..kind.size-1` the value is `ActionSpace.decode`'s; for any other
    value (a simultaneous turn's stored choice, `passes/simultaneous`) it still lies inside the
    parameter's type, being taken modulo the domain's size. Each node is typed with the range
    `envc.compiler.ranges` infers, so `ir.verify` holds; `// 1` is left out, and so is `% n`
    where `index`'s range already keeps the quotient in `0..n-1` (the first parameter of an
    index in range), which the backends would compute for nothing.

    Both array backends lower this with their ordinary expression lowering (the step's
    parameters, the legal-action mask), and `simultaneous` uses it for `chosen`: one
    decoding, written once (issue #15).
    """
    n = len(kind.domains[j])
    stride = 1
    for dom in kind.domains[j + 1:]:
        stride *= len(dom)
    idx: ir.Expr = _arith("div", index, stride) if stride != 1 else index
    if not ranges.contains(ir.IntT(lo=0, hi=n - 1), ir.int_of(idx.type)):
        idx = _arith("mod", idx, n)
    t = kind.params[j].type
    if isinstance(t, ir.BoolT):
        return ir.Binary(op="eq", left=idx, right=ir.Const(value=1, type=ir.IntT(lo=1, hi=1)), type=ir.BOOL)
    if isinstance(t, ir.IntT):
        # (typed as the parameter: its range holds the inferred one, and a wider type is allowed)
        return idx.model_copy(update={"type": t}) if t.lo == 0 else _arith("add", idx, t.lo).model_copy(
            update={"type": t})
    table = ir.Const(type=ir.ArrayT(elem=t, size=n), value=list(range(n)))
    return ir.GetIndex(base=table, index=idx, type=t)


@dataclass(frozen=True)
class ActionKind:
    index: int  # position of the kind among the spec's actions
    name: str
    offset: int  # first flat index of this kind
    size: int  # number of flat actions of this kind
    params: tuple[ir.ParamDef, ...]
    domains: tuple[tuple, ...]


class ActionSpace:
    """The flattened action space of a module."""

    def __init__(self, module: ir.Module):
        self.module = module
        kinds = []
        offset = 0
        for i, a in enumerate(module.actions):
            domains = tuple(tuple(param_values(p.type)) for p in a.params)
            size = 1
            for d in domains:
                size *= len(d)
            kinds.append(ActionKind(i, a.name, offset, size, tuple(a.params), domains))
            offset += size
        self.kinds: list[ActionKind] = kinds
        self.n: int = offset
        self._by_name = {k.name: k for k in kinds}
        # decoded on first use: a space of 10^8 flat actions (refused by the work budget,
        # `envc.compiler.budget`) must not be enumerated before it can be refused
        self._flat: dict[int, tuple[ActionKind, tuple]] = {}

    def _decode_slow(self, index: int) -> tuple[ActionKind, tuple]:
        for k in self.kinds:
            if k.offset <= index < k.offset + k.size:
                rest = index - k.offset
                values = []
                for d in reversed(k.domains):
                    values.append(d[rest % len(d)])
                    rest //= len(d)
                return k, tuple(reversed(values))
        raise IndexError(index)

    def decode(self, index: int) -> tuple[ActionKind, tuple]:
        """The kind and parameter values of flat action `index` (0 <= index < n).

        Raises:
            IndexError: when `index` is outside the space.
        """
        if not 0 <= index < self.n:
            raise IndexError(f"action {index} is outside 0..{self.n - 1}")
        hit = self._flat.get(index)
        if hit is None:
            hit = self._flat[index] = self._decode_slow(index)
        return hit

    def encode(self, name: str, **params) -> int:
        """The flat index of `name(**params)`; enum values may be given as member names.

        Raises:
            KeyError: unknown action or parameter; ValueError: a value outside its domain.
        """
        k = self._by_name[name]
        if set(params) != {p.name for p in k.params}:
            raise KeyError(f"`{name}` takes {[p.name for p in k.params]}, got {sorted(params)}")
        index = 0
        for p, d in zip(k.params, k.domains):
            v = params[p.name]
            if isinstance(p.type, ir.EnumT) and isinstance(v, str):
                v = self.module.enum(p.type.name).members.index(v)
            if v not in d:
                raise ValueError(f"{p.name}={v!r} is outside the values of `{p.type}`")
            index = index * len(d) + d.index(v)
        return k.offset + index

    def format(self, index: int) -> str:
        """`place(cell=4)`: the readable form of flat action `index` (`7 (outside 0..6)` for an
        index outside the space, which every backend plays as an illegal action)."""
        if not 0 <= index < self.n:
            return f"{index} (outside 0..{self.n - 1})"
        k, values = self.decode(index)
        parts = []
        for p, v in zip(k.params, values):
            if isinstance(p.type, ir.EnumT):
                v = self.module.enum(p.type.name).members[v]
            elif isinstance(p.type, ir.BoolT):
                v = "true" if v else "false"
            parts.append(f"{p.name}={v}")
        return f"{k.name}({', '.join(parts)})"

    def format_table(self) -> list[tuple[str, int, int, list[tuple[str, int, int, tuple[str, ...]]]]]:
        """What a backend needs to write `format(index)` itself (the fault text of an illegal
        action, issue #15): per kind `(name, offset, size, params)`, per parameter `(name, lo,
        count, labels)`: value `i` (0 <= i < count, row-major as the module docstring says) is
        written `labels[i]` (an enum's members, `false`/`true`), or `lo + i` when `labels` is
        empty (an int range, a table row)."""
        table = []
        for k in self.kinds:
            params = []
            for p, d in zip(k.params, k.domains):
                labels: tuple[str, ...] = ()
                if isinstance(p.type, ir.EnumT):
                    labels = tuple(self.module.enum(p.type.name).members)
                elif isinstance(p.type, ir.BoolT):
                    labels = ("false", "true")
                params.append((p.name, int(d[0]) if not labels else 0, len(d), labels))
            table.append((k.name, k.offset, k.size, params))
        return table

    def parse(self, text: str) -> int:
        """The flat index of `name(p=v, ...)` written as `format` writes it.

        Raises:
            ValueError: when the text names no action of the space.
        """
        text = text.strip()
        if text.isdigit():
            return int(text)
        name, _, rest = text.partition("(")
        rest = rest.rstrip(")")
        params = {}
        for part in filter(None, (x.strip() for x in rest.split(","))):
            key, _, value = part.partition("=")
            value = value.strip()
            params[key.strip()] = (int(value) if value.lstrip("-").isdigit()
                                   else value == "true" if value in ("true", "false") else value)
        try:
            return self.encode(name.strip(), **params)
        except (KeyError, ValueError) as err:
            raise ValueError(f"`{text}` is not an action of this spec: {err}") from None
