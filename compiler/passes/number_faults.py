"""The pass `number_faults`: every runtime fault site of the lowered IR gets one number, shared
by every array backend (issue #15, "faults get one documented behaviour on every backend").

Public surface: `NAME`, `REQUIRED`, `run(module, ctx=None) -> ir.Module`, `sites(module)`,
`site_of(node)`, `site_id(module, site)`, `fn_end_site(name, span)`, `illegal_site()`,
`always_returns(body)`, `site_text(site)`, `escape(text)`, `fill(template, a, b, action)`,
`take_message(front)`, `list_op_message(op)` (the templates `lower_lists` writes its checks with).

A fault site is a place in the spec where a step can fault (the interpreter raises
`SpecRuntimeError` there): a list read or write past the list's length, a `draw()`/`pop()`
from an empty list, a push onto a full one, `insert`/`remove_at` out of range, an empty
`random.int` range (only where the operands' ranges do not prove `lo <= hi`, which the
checker refuses, so never in a checked spec; `random.pick` draws in `0..max(n - 1, 0)`), `fail("...")`, a `fn` (or `observe`) that ends without a value, and an
illegal action under `illegal_action error`. Its identity is `(location, message)`: the
location `file.envspec:LINE:COL` (base name) and the interpreter's message as a template
(`index {a} is past the end of a list of length {b}`).

The template language (`fill` is its definition; every backend's formatter does the same, in
one left-to-right pass): `{a}` and `{b}` are the fault's two int32 values, `{action}` is the
flat action `a` as the interpreter names it (`place(cell=4)`, `ActionSpace.format`), and `{{`,
`}}` are one brace. Text that comes from the spec (a `fail("...")` message, a file name) is
`escape`d, so it comes out literally on every backend: `fail("bad {a} }{")` says `fail: bad {a}
}{` everywhere, never a value (decided here, issue #15: a spec's text is untrusted input).

Guarantees, on the module it returns:

* `module.fault_sites` lists every site of the module once, in the order of a walk of the
  functions, the actions (guard, then body), `observe`, `init`, the epilogue, the
  invariants, then the illegal action; site `i` is fault `i` of every backend (Rust's
  `FAULT_SITES[i]`, JAX's `State._fault[0] == i + 1`);
* `site_id(module, site_of(node))` holds for every node that can fault; a backend never
  numbers a site itself;
* nothing else changes (the pass only adds the table), so `ir.verify` holds and the
  interpreter's trajectories are those of its input.

It runs last in `LOWERING`, after `lower_choices` (whose `choose` without a legal option
is a `fail`). It cannot be disabled (`REQUIRED`): both backends read the numbering.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from envc.compiler import ir

NAME = "number_faults"
# Not a change of meaning, but the backends read `fault_sites` for every fault they emit:
# without the table a backend could not report a fault, so the pass cannot be switched off.
REQUIRED = True

Site = tuple[str, str]  # (location `file:LINE:COL` or "", message with `{a}`, `{b}`)

INDEX_PAST_END = "index {a} is past the end of a list of length {b}"
EMPTY_RANGE = "random.int({a}, {b}) has an empty range"


def run(module: ir.Module, ctx: Any = None) -> ir.Module:
    """`module` with `fault_sites` set (the module docstring says what it holds). `ctx` (a
    `PassContext`) is unused: the pass has no options."""
    table = sites(module)
    if table == module.fault_sites:
        return module
    return module.model_copy(update={"fault_sites": table})


def sites(module: ir.Module) -> list[Site]:
    """Every fault site of `module`, each once, in the order the module docstring gives."""
    found: list[Site] = []
    for f in module.fns:
        found += _body_sites(f.body)
        if f.ret is not None and not always_returns(f.body):
            found.append(fn_end_site(f.name, f.span))
    for a in module.actions:
        found += _body_sites([a.guard, *a.body])
    found += _body_sites(module.observe.body)
    if not always_returns(module.observe.body):
        found.append(fn_end_site("observe", module.observe.span))
    found += _body_sites([*module.init, *module.epilogue, *(inv.expr for inv in module.invariants)])
    if module.illegal_action == "error":
        found.append(illegal_site())
    return list(dict.fromkeys(found))


def _body_sites(nodes: list) -> list[Site]:
    return [s for n in ir.walk_all([x for x in nodes if x is not None]) if (s := site_of(n)) is not None]


def site_of(node: ir.Node) -> Site | None:
    """The fault site of `node`, or None when evaluating `node` itself cannot fault (its
    children may). A `Place` with a list index in its path is one site (its span)."""
    if isinstance(node, ir.GetIndex) and isinstance(node.base.type, ir.ListT) and not node.unchecked:
        return _site(node.span, INDEX_PAST_END)
    if isinstance(node, ir.Place) and any(isinstance(p, ir.IndexStep) and p.is_list and not p.unchecked
                                          for p in node.path):
        return _site(node.span, INDEX_PAST_END)
    if isinstance(node, ir.RandomInt):
        return None if _proved_range(node) else _site(node.span, EMPTY_RANGE)
    if isinstance(node, ir.ListTake):
        return None if node.unchecked else _site(node.span, take_message(node.front))
    if isinstance(node, ir.Fault):
        return _site(node.span, "fail: " + escape(node.message))
    if isinstance(node, ir.Check):
        return _site(node.span, node.message)
    if isinstance(node, ir.ListOp):
        message = None if node.unchecked else list_op_message(node)
        return None if message is None else _site(node.span, message)
    return None


def take_message(front: bool) -> str:
    """The template of a `draw()` (`front`) or `pop()` from an empty list."""
    return f"`{'draw' if front else 'pop'}()` from an empty list"


def _proved_range(e: ir.RandomInt) -> bool:
    """True when the ranges of `lo` and `hi` prove `lo <= hi` (the checker refuses a
    `random.int` where they do not, E0122): such a draw cannot fault."""
    lo, hi = e.lo.type, e.hi.type
    return isinstance(lo, ir.IntT) and isinstance(hi, ir.IntT) and lo.hi <= hi.lo


def list_op_message(s: ir.ListOp) -> str | None:
    """The template of list operation `s`'s fault (`{a}` the position, `{b}` the length), None
    for `clear` and `shuffle`, which cannot fault: the interpreter's messages."""
    cap = ir.list_of(s.place.type).cap
    messages = {
        "push": f"push onto a full list (capacity {cap})",
        "insert": "insert at {a} into a list of length {b} (capacity " + str(cap) + ")",
        "remove_at": "remove_at({a}) on a list of length {b}",
        "discard_front": "`draw()`/`pop()` from an empty list",
        "discard_back": "`draw()`/`pop()` from an empty list",
    }
    return messages.get(s.op)


def fn_end_site(name: str, span: ir.Span | None) -> Site:
    """The site of a `fn` (or `observe`, `name` "observe") whose body can end without `return`."""
    return _site(span, f"`{name}` ended without a value")


def illegal_site() -> Site:
    """The site of an illegal action under `illegal_action error` (`{action}`: the flat action
    `a` named as the interpreter names it, `place(cell=4)`, or `7 (outside 0..6)`)."""
    return ("", "illegal action {action} (the spec says `illegal_action error`)")


def _site(span: ir.Span | None, message: str) -> Site:
    if span is None or not span.line:
        return ("", message)
    return (escape(f"{os.path.basename(span.file)}:{span.line}:{span.col}"), message)


def escape(text: str) -> str:
    """`text` as a literal part of a site template: each brace doubled (`fill` gives `text` back)."""
    return text.replace("{", "{{").replace("}", "}}")


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{a\}|\{b\}|\{action\}")


def fill(template: str, a: int, b: int, action: Callable[[int], str]) -> str:
    """`template` (a site's text) with its placeholders replaced in one left-to-right pass:
    `{a}`, `{b}` by the values, `{action}` by `action(a)`, `{{`/`}}` by one brace; any other
    character, a lone brace too, is kept. The reference for Rust's `Fault::message` and JAX's
    `_fault_text` (tests/test_faults.py checks the three agree on hostile text)."""
    values = {"{{": "{", "}}": "}", "{a}": str(a), "{b}": str(b)}
    return _PLACEHOLDER.sub(lambda m: action(a) if m.group() == "{action}" else values[m.group()], template)


def site_id(module: ir.Module, site: Site) -> int:
    """The number of `site` in `module.fault_sites`.

    Raises:
        KeyError: the site is not in the table (the module has not been through this pass,
            or a later change added a fault: a bug in the compiler, not in the spec).
    """
    try:
        return module.fault_sites.index(site)
    except ValueError:
        raise KeyError(f"fault site {site_text(site)!r} is not numbered: run the pass `{NAME}` last") from None


def site_text(site: Site) -> str:
    """`location: message` (the message alone without a location): the template a backend
    stores (its `FAULT_SITES`), with its placeholders still to `fill`."""
    where, message = site
    return f"{where}: {message}" if where else message


def always_returns(body: list[ir.Stmt]) -> bool:
    """True when every path through `body` ends in `return` (as Rust sees it: a `match`
    needs a wildcard arm)."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ir.Return):
        return True
    if isinstance(last, ir.If):
        return bool(last.orelse) and always_returns(last.then) and always_returns(last.orelse)
    if isinstance(last, ir.Match):
        return any(not a.members for a in last.arms) and all(always_returns(a.body) for a in last.arms)
    return False
