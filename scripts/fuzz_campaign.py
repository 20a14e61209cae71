"""A fuzz campaign against envc's handling of untrusted input (issue 13).

    python scripts/fuzz_campaign.py --inputs 20000 [--seed 0] [--rust-builds 3] [--jax-runs 20]

Each input is a small project in a fresh temporary folder: a shipped or test spec, its fill
file and its data files, with one to three mutations drawn from:
- text mutations of the spec or of its fill file (deleted spans, duplicated lines, swapped
  tokens, replaced numbers and names, inserted tokens);
- hostile strings (quotes, triple quotes, newlines, `*/`, `\\N{`, NUL, control characters,
  jinja syntax, rich markup, code that would create a marker file if it ever ran) in every
  place a string can go: the `env` description, invariant descriptions, enum aliases,
  `fail(...)` messages, the spec's file name;
- hostile names (keywords and builtins of Python and Rust, names of the generated code:
  `lambda`, `st`, `jnp`, `index`, `self`, `type`, `None`, `replace`, ...) given to a
  declaration and all its uses;
- deep and long expressions (sums of hundreds of terms, nested `if`s);
- data: JSON values replaced by NaN, 1e400, 5,000-digit integers, objects, Unicode digits;
  bytes that are not UTF-8; truncation; deck-list lines with Unicode or huge counts; a data
  file replaced by a folder, a FIFO or a symlink to `/dev/zero` or out of the folder.

Each input is loaded (parse + check, with a time limit). A diagnostic must render with a
location inside its file. An accepted spec is compiled to JAX (the module is imported), to
Rust (the crate's sources generated; `--rust-builds N` of them built with cargo and
imported), and played a few steps on the interpreter; `--jax-runs N` of them are also
verified against the interpreter (a few short episodes, JIT compiled). Counted as failures:
- tracebacks: any exception that is not a DiagnosticError (or the interpreter's
  SpecRuntimeError, a fault the spec itself states);
- hangs: an input that takes more than `--timeout` seconds;
- wrong exits: a diagnostic without a proper location, or an accepted spec with a
  duplicate name, or a backend that disagrees with the interpreter;
- build failures: generated code that does not import or build;
- injections: the marker file appears, or a line of generated Rust/TOML starts with code
  that came from a string.
All are expected to be 0. Prints the counts (and the first examples of each failure).
"""

from __future__ import annotations

import argparse
import ast as pyast
import collections
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import tomllib
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------ the corpus

CORPUS = ["specs/tictactoe.envspec", "specs/connect4.envspec", "specs/cartpole.envspec",
          "tests/specs/effects.envspec", "tests/specs/kitchen_sink.envspec", "tests/specs/mini_tcg.envspec",
          "tests/specs/scoping.envspec", "tests/specs/static_reads.envspec"]

#: what a line of generated Rust or TOML would start with if a string broke out of its literal
TOKEN = "envc_pwned_line"
HOSTILE_TEMPLATES = [
    '"""\n__import__("pathlib").Path(MARKER).touch()\n"""',
    "'''\n__import__('pathlib').Path(MARKER).touch()\n'''",
    '"\n__import__("pathlib").Path(MARKER).touch()\n#',
    "\n" + TOKEN + " = 1\n#[used] static " + TOKEN.upper() + ": u8 = 0;\n",
    "*/ " + TOKEN + " /* \\N{BULLET} \\N{",
    "x\\", "\\", '"', '""', '\\"', '"""', "\x00", "\x01\x1b[31m\x7f", "\r", "\r\n" + TOKEN, "\u2028" + TOKEN,
    "\u202e", "\ud7ff\ufeff", "{{ name }}{% for x in y %}{# c #}", "[/][bold]x[/bold]", "[red]", "\\u{0}\\x00",
    "\\N{LATIN SMALL LETTER A}", "\t\t", "'\"'\"", "]]} \n[dependencies]\n" + TOKEN + ' = "1"',
    "a" * 3000,
]
HOSTILE_NAMES = ["lambda", "st", "lv", "jnp", "jax", "np", "lax", "index", "self", "self_", "type", "type_", "Self",
                 "None", "True", "False", "replace", "observation", "legal_action_mask", "_rng_key", "_select",
                 "_cast", "State", "init", "step", "fn", "impl", "mut", "ref", "match", "loop", "mod", "crate",
                 "super", "struct", "static", "import", "class", "def", "return_", "_", "__init__", "__class__",
                 "print", "dict", "list", "i1", "_h2", "_a1", "_r1", "k", "s", "m", "v_x", "f_x", "K0", "T0_x",
                 "Rec", "RecX", "Fault", "List", "Zero", "Observation", "NUM_ACTIONS", "effect", "_ret", "_done",
                 "_index", "args", "kwargs", "async", "await", "yield", "gen", "dyn", "box", "union"]

_TOKEN_RE = re.compile(r'//[^\n]*|"(?:\\.|[^"\\\n])*"|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?|\.\.=|\.\.|->|=>|'
                       r"==|!=|<=|>=|\+=|-=|\S")
_NUMBER_RE = re.compile(r"(?<![A-Za-z0-9_.])[0-9]+(?:\.[0-9]+)?(?![0-9])")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRING_RE = re.compile(r'"(?:\\.|[^"\\\n])*"')
_DECL_RE = re.compile(r"\b(?:fn|proc|action|record|enum|table|const|invariant|hole)\s+([A-Za-z_][A-Za-z0-9_]*)"
                      r"|^\s+([A-Za-z_][A-Za-z0-9_]*)\s*:|\blet\s+([A-Za-z_][A-Za-z0-9_]*)"
                      r"|[(,]\s*([A-Za-z_][A-Za-z0-9_]*)\s*:", re.M)
TOKENS = ["env", "state", "init", "action", "fn", "proc", "observe", "invariant", "hole", "fill", "let", "if",
          "elif", "else", "for", "in", "match", "return", "{", "}", "(", ")", "[", "]", ",", ":", "=", "..", "+",
          "-", "*", "/", "%", "==", "<", ">", "and", "or", "not", "true", "false", "x", "0", "1", "-1",
          "2147483647", "2147483648", "99999999999999999999", "0.5", "1.0", '"s"', "\n", "random.int(0, 1)",
          'fail("x")', "win(0)", "draw()"]


def dsl_str(text: str) -> str:
    """`text` as an envspec string literal (the language escapes `\\`, `"` and newlines)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def project(spec_rel: str) -> dict[str, bytes]:
    """The files of a spec's project, relative to its folder: the spec, its fill file and
    every data file it names (globs expanded)."""
    spec = ROOT / spec_rel
    folder = spec.parent
    files = {spec.name: spec.read_bytes()}
    fills = spec.with_suffix(".fills")
    if fills.exists():
        files[fills.name] = fills.read_bytes()
    for m in re.finditer(r'\btable\s+\w+\s+from\s+"([^"]+)"', spec.read_text(encoding="utf-8")):
        for p in folder.glob(m.group(1)):
            if p.is_file():
                files[p.relative_to(folder).as_posix()] = p.read_bytes()
    return files


# ------------------------------------------------------------------ mutations


def mutate_text(rng: random.Random, text: str) -> str:
    kind = rng.choice(["delete", "dup_line", "swap", "number", "name", "insert"])
    if kind == "delete" and text:
        start = rng.randrange(len(text))
        return text[:start] + text[start + rng.randint(1, 40):]
    if kind == "dup_line":
        lines = text.split("\n")
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(lines))
        return "\n".join(lines)
    if kind == "swap":
        toks = [m.span() for m in _TOKEN_RE.finditer(text)]
        if len(toks) >= 2:
            i, j = sorted(rng.sample(range(len(toks)), 2))
            (a0, a1), (b0, b1) = toks[i], toks[j]
            return text[:a0] + text[b0:b1] + text[a1:b0] + text[a0:a1] + text[b1:]
        return text
    if kind == "number":
        nums = [m.span() for m in _NUMBER_RE.finditer(text)]
        if nums:
            a, b = rng.choice(nums)
            new = rng.choice(["0", "1", "-1", "7", "2147483647", "2147483648", "-2147483648", "65536", "1e9",
                              "9" * 400 + ".0", "1" + "0" * 5000, "0.5", "127", "128", "255", "256", "32767"])
            return text[:a] + new + text[b:]
        return text
    if kind == "name":
        names = list(_NAME_RE.finditer(text))
        if names:
            target = rng.choice(names)
            other = rng.choice(sorted({m.group() for m in names}) + HOSTILE_NAMES)
            return text[:target.start()] + other + text[target.end():]
        return text
    pos = rng.randint(0, len(text))
    return text[:pos] + " " + rng.choice(TOKENS) + " " + text[pos:]


def hostile(rng: random.Random, marker: str) -> str:
    parts = [rng.choice(HOSTILE_TEMPLATES) for _ in range(rng.randint(1, 3))]
    return "".join(parts).replace("MARKER", repr(marker))


def mutate_strings(rng: random.Random, text: str, marker: str) -> str:
    """Put hostile text where strings go: an existing literal (not a data path), a new
    `fail(...)` in a block, a new invariant, the `env` description."""
    choice = rng.choice(["literal", "fail", "invariant", "env"])
    if choice == "literal":
        lits = [m for m in _STRING_RE.finditer(text)
                if not re.search(r"\b(from|hash|text)\s*$", text[max(0, m.start() - 12):m.start()])]
        if lits:
            m = rng.choice(lits)
            return text[:m.start()] + dsl_str(hostile(rng, marker)) + text[m.end():]
    if choice == "fail":
        blocks = [m.end() for m in re.finditer(r"\baction\b[^{]*\{", text)]
        if blocks:
            at = rng.choice(blocks)
            guard = rng.choice(["if current_player == 99 { ", "if false { ", "if step_count > 3 { "])
            return text[:at] + f"\n    {guard}fail({dsl_str(hostile(rng, marker))}) }}\n" + text[at:]
    if choice == "invariant":
        name = rng.choice(["ok", "lambda", "None", "self", "a__b"])
        return text + f"\ninvariant {name} {dsl_str(hostile(rng, marker))}: true\n"
    m = re.search(r"^env\s+\w+(\s+\"(?:\\.|[^\"\\\n])*\")?", text, re.M)
    if m:
        head = text[m.start():m.end()].split()[:2]
        return text[:m.start()] + f"{head[0]} {head[1]} {dsl_str(hostile(rng, marker))}" + text[m.end():]
    return text


def rename(rng: random.Random, texts: list[str]) -> list[str]:
    """Rename one declared name to a hostile name in every text (all whole-word uses)."""
    decls = sorted({g for m in _DECL_RE.finditer(texts[0]) for g in m.groups() if g})
    if not decls:
        return texts
    old, new = rng.choice(decls), rng.choice(HOSTILE_NAMES)
    pattern = re.compile(rf"(?<![A-Za-z0-9_.\"]){re.escape(old)}(?![A-Za-z0-9_])")
    return [pattern.sub(new, t) for t in texts]


def deep(rng: random.Random, text: str) -> str:
    """A long or deep expression or nested `if`s at the start of an action's body."""
    blocks = [m.end() for m in re.finditer(r"\baction\b[^{]*\{", text)]
    if not blocks:
        return text
    at = rng.choice(blocks)
    n = rng.choice([30, 100, 200, 300, 500])
    kind = rng.choice(["sum", "fsum", "ifs", "cond", "parens", "min"])
    if kind == "sum":
        code = "let zz = " + " + ".join(["1"] * n)
    elif kind == "fsum":
        code = "let zz = " + " + ".join(["0.5"] * n)
    elif kind == "ifs":
        code = "".join("if step_count != 99 {\n" for _ in range(n)) + "let zz = 1\n" + "}\n" * n
    elif kind == "cond":
        code = "let zz = " + "".join(f"if step_count == {k} then {k} else " for k in range(n)) + "0"
    elif kind == "parens":
        code = "let zz = " + "(" * n + "1" + ")" * n
    else:
        code = "let zz = min(" + ", ".join(str(k) for k in range(n)) + ")"
    return text[:at] + "\n" + code + "\n" + text[at:]


def mutate_data(rng: random.Random, name: str, data: bytes) -> bytes:
    if rng.random() < 0.2:
        kind = rng.choice(["nonutf8", "truncate", "nul", "bom"])
        pos = rng.randint(0, len(data))
        return {"nonutf8": data[:pos] + b"\xff\xfe" + data[pos:], "truncate": data[:pos],
                "nul": data[:pos] + b"\x00" + data[pos:], "bom": b"\xef\xbb\xbf" + data}[kind]
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".txt"):
        lines = text.split("\n")
        i = rng.randrange(len(lines))
        lines[i] = rng.choice(["\u00b2 A1-001 x", "\u0663 A1-001 x", "99999999999 A1-001 x", "1" * 5000 + " x y",
                               "-1 A1-001 x", "garbage", "name: [/]", "energy: \x00", "2 " + "x" * 10000])
        return "\n".join(lines).encode("utf-8", errors="surrogatepass")
    if name.endswith(".json"):
        try:
            value = json.loads(text)
        except ValueError:
            return data
        bad = rng.choice(["NaN", "Infinity", "-Infinity", "1e400", "9" * 5000, '{"a": 1}', '[{"b": [1]}]',
                          '"\u0663\u0664"', '"1_0"', '" 12 "', "true", "null", '"[/]"', '"' + "\\u0000" + '"',
                          "[" * 3000 + "]" * 3000, "-0.0", "3.5e38", '"nan"'])
        raw = json.dumps(value)
        spots = [m.span() for m in re.finditer(r'(?<=: )(-?[0-9.]+|"[^"]*"|true|false|null)', raw)]
        if not spots:
            return data
        a, b = rng.choice(spots)
        return (raw[:a] + bad + raw[b:]).encode("utf-8", errors="surrogatepass")
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    lines[i] = lines[i] + rng.choice([",nan", ",1e400", "," + "9" * 5000, ',"a,b', "\x00", ",\u0663"])
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


#: how often each corpus spec is drawn: the small specs most (inputs are cheap to check), the
#: ones with data tables and fill files often enough for the data and fill mutations
WEIGHTS = [4, 3, 4, 2, 1, 2, 3, 2]


def make_input(rng: random.Random, folder: Path) -> dict:
    """Write one mutated project into `folder`; returns a description of it."""
    spec_rel = rng.choices(CORPUS, weights=WEIGHTS)[0]
    draft = _Draft(spec_rel, str(folder / "PWNED"))
    ops = []
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(["text", "text", "fill", "strings", "strings", "rename", "deep", "data", "file", "filename"])
        ops.append(op)
        getattr(draft, f"op_{op}")(rng)
    draft.write(folder)
    if draft.special is not None:
        _make_special(folder / draft.special[0], draft.special[1])
    return {"spec": str(folder / draft.spec_name), "from": spec_rel, "ops": ops, "marker": draft.marker,
            "special": draft.special}


class _Draft:
    """One input being mutated: the corpus spec's project (spec and fill texts, data bytes),
    one method per mutation (`op_<kind>`, each drawing from the campaign's generator)."""

    def __init__(self, spec_rel: str, marker: str):
        self.spec_rel, self.marker = spec_rel, marker
        self.files = project(spec_rel)
        self.spec_name = Path(spec_rel).name
        self.fills_name = Path(spec_rel).with_suffix(".fills").name
        self.texts = {k: v.decode("utf-8") for k, v in self.files.items() if k in (self.spec_name, self.fills_name)}
        self.data_files = [k for k in self.files if k not in self.texts]
        self.special: tuple[str, str] | None = None  # (data file, what replaces it)

    def op_text(self, rng: random.Random) -> None:
        """A text mutation of the spec."""
        self.texts[self.spec_name] = mutate_text(rng, self.texts[self.spec_name])

    def op_fill(self, rng: random.Random) -> None:
        """A text or string mutation of the fill file, or a deep expression in it (when there is one)."""
        if self.fills_name not in self.texts:
            return
        fills = self.texts[self.fills_name]
        self.texts[self.fills_name] = rng.choice([mutate_text, lambda r, t: mutate_strings(r, t, self.marker)])(
            rng, fills) if rng.random() < 0.7 else deep(rng, fills.replace("fill ", "fill ", 1))

    def op_strings(self, rng: random.Random) -> None:
        """Hostile strings in the spec."""
        self.texts[self.spec_name] = mutate_strings(rng, self.texts[self.spec_name], self.marker)

    def op_rename(self, rng: random.Random) -> None:
        """A hostile name for a declaration and its uses, in the spec and its fill file."""
        keys = [self.spec_name] + ([self.fills_name] if self.fills_name in self.texts else [])
        for k, t in zip(keys, rename(rng, [self.texts[k] for k in keys])):
            self.texts[k] = t

    def op_deep(self, rng: random.Random) -> None:
        """A deep or long expression in the spec."""
        self.texts[self.spec_name] = deep(rng, self.texts[self.spec_name])

    def op_data(self, rng: random.Random) -> None:
        """A mutated data file (when there is one)."""
        if self.data_files:
            k = rng.choice(self.data_files)
            self.files[k] = mutate_data(rng, k, self.files[k])

    def op_file(self, rng: random.Random) -> None:
        """A data file to be replaced by a folder, a FIFO or a symlink (when there is one)."""
        if self.data_files:
            self.special = (rng.choice(self.data_files), rng.choice(["dir", "fifo", "devzero", "outside", "loop"]))

    def op_filename(self, rng: random.Random) -> None:
        """A hostile file name for the spec (and its fill file)."""
        spec_name_new = rng.choice(['t"""\nx.envspec', "t\\N{.envspec", "t*x.envspec", "t\r.envspec",
                                    "[bold]{{x}}.envspec", "t'\".envspec"])
        self.texts[spec_name_new] = self.texts.pop(self.spec_name)
        if self.fills_name in self.texts:
            self.texts[spec_name_new.removesuffix(".envspec") + ".fills"] = self.texts.pop(self.fills_name)
        self.spec_name, self.fills_name = spec_name_new, spec_name_new.removesuffix(".envspec") + ".fills"

    def write(self, folder: Path) -> None:
        """Write the data files (all but the corpus spec's own spec and fill file) and the texts."""
        for k, v in self.files.items():
            if k in (Path(self.spec_rel).name, Path(self.spec_rel).with_suffix(".fills").name):
                continue
            p = folder / k
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(v)
        for k, v in self.texts.items():
            (folder / k).write_text(v, encoding="utf-8", errors="surrogatepass")


def _make_special(p: Path, kind: str) -> None:
    """Replace data file `p` by a folder, a FIFO, or a symlink to /dev/zero, out of the
    project, or to itself (`loop`)."""
    p.unlink()
    if kind == "dir":
        p.mkdir()
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "devzero":
        p.symlink_to("/dev/zero")
    elif kind == "outside":
        p.symlink_to(ROOT / "README.md")
    else:
        p.symlink_to(p.name)


# ------------------------------------------------------------------ running one input


TIMES: collections.Counter = collections.Counter()  # seconds spent per stage (this process)


class Hang(Exception):
    pass


class _Skip(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def _diagnostics_ok(diags) -> bool:
    from envc.compiler.diagnostics import ERROR_CODES, Sources, render

    for d in diags:
        if d.code not in ERROR_CODES:
            return False
        out = render(d)
        if not out.startswith(f"error[{d.code}]: "):
            return False
        if d.span is not None and d.span.line:
            text = Sources.get(d.span.file) if hasattr(Sources, "get") else None
            if text is not None and d.span.line > text.count("\n") + 1:
                return False
    return True


def _import(folder: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.modules.pop(name, None)
        sys.modules.pop(name + ".env", None)
    return mod


def _rust_injection(files: dict[str, str]) -> str | None:
    """A line of a generated Rust, TOML or Markdown file that starts with code that came
    from a string; the Python `__init__.py` must parse with its docstring first and no
    statement made of a string's text. None when clean."""
    for name, text in files.items():
        if name.endswith((".rs", ".toml", ".md")):
            for line in text.split("\n"):
                if line.lstrip().startswith((TOKEN, "#[used]", TOKEN.upper())):
                    return f"{name}: {line[:80]!r}"
        if name.endswith(".toml"):
            tomllib.loads(text)
        if name.endswith(".py"):
            tree = pyast.parse(text)
            for stmt in tree.body[1:]:
                if TOKEN in pyast.unparse(stmt) or "PWNED" in pyast.unparse(stmt):
                    return f"{name}: {pyast.unparse(stmt)[:80]!r}"
    return None


def _python_injection(source: str) -> str | None:
    """Generated Python never calls `__import__` and never names `PWNED` or the token: a node
    that does came out of a string (the payloads use them). Checked on the syntax tree, so
    that text inside string literals and docstrings does not count."""
    for node in pyast.walk(pyast.parse(source)):
        if isinstance(node, pyast.Name) and node.id in ("__import__", TOKEN, "PWNED"):
            return f"line {node.lineno}: `{node.id}` outside a string"
    return None


def run_one(case: dict, counts: collections.Counter, examples: dict, timeout: float, jax_run: bool,
            rust_build: bool, work: Path, import_every: int = 1, rust_every: int = 1, jax_every: int = 1) -> None:
    """Load one input and, when it is accepted, run it through every stage (`_OneInput`),
    counting into `counts` and keeping `examples` of each failure; `timeout` seconds for the
    stages up to Rust generation (a hang)."""
    counts["inputs"] += 1
    one = _OneInput(case, counts, examples)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        module = one.load()
        if module is None:
            return
        one.interpreter(module)
        env = one.jax(module, work, jax_run, import_every, jax_every)
        files = one.rust(module, rust_build, rust_every)
        signal.setitimer(signal.ITIMER_REAL, 0)
        if jax_run and env is not None:
            one.verify_jax(module, env)
        if rust_build and files is not None:
            one.build_rust(module)
    except Hang:
        one.fail("hangs", f"more than {timeout}s in {one.stage}")
    except Exception as err:  # noqa: BLE001 - the campaign counts every escape
        stage = one.stage
        kind = "build failures" if stage in ("jax", "rust", "rust build") and isinstance(err, (SyntaxError, ImportError)) \
            else "build failures" if stage == "rust build" else "tracebacks"
        one.fail(kind, f"{stage}: {type(err).__name__}: {err}"[:300] + "\n" + traceback.format_exc(limit=-3)[-800:])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class _OneInput:
    """`run_one`'s stages of one input, in order (`stage` names the one running, for a hang
    or an escape), each timed into `TIMES`."""

    def __init__(self, case: dict, counts: collections.Counter, examples: dict):
        # the checker and the interpreter are imported before the clock and the time limit
        # start (the first input's load does not count their import)
        import envc.compiler.check  # noqa: F401
        import envc.compiler.interp  # noqa: F401

        self.case, self.counts, self.examples = case, counts, examples
        self.stage = "load"
        self.clock = time.perf_counter()

    def fail(self, kind: str, detail: str) -> None:
        """Count a failure of `kind`, keep and print it (and, with `--keep`, the input's files)."""
        case, counts = self.case, self.counts
        counts[kind] += 1
        line = f"{case['from']} {case['ops']} {case['special']}: {detail}"
        self.examples.setdefault(kind, []).append(line)
        print(f"[{kind}] {line}", file=sys.stderr, flush=True)
        if KEEP is not None:  # the input's files, to reproduce it after the run
            dest = KEEP / f"{kind.replace(' ', '_')}-{os.getpid()}-{counts['inputs']}"
            shutil.copytree(Path(case["spec"]).parent, dest, dirs_exist_ok=True)
            (dest / "failure.txt").write_text(line + "\n", encoding="utf-8")

    def lap(self, name: str) -> None:
        """Add the time since the last lap to stage `name`."""
        now = time.perf_counter()
        TIMES[name] += now - self.clock
        self.clock = now

    def load(self):
        """Parse and check the spec: the module, or None after a diagnostic (which must have a
        proper code and location); an accepted spec must have no duplicate names."""
        from envc.compiler.check import load
        from envc.compiler.diagnostics import DiagnosticError

        counts = self.counts
        try:
            module = load(self.case["spec"])
        except DiagnosticError as e:
            counts["diagnostics"] += 1
            if not e.diagnostics or not _diagnostics_ok(e.diagnostics):
                self.fail("wrong exits", "a diagnostic without a proper code or location")
            return None
        self.lap("load")
        counts["accepted"] += 1
        for what, names in (("invariant", [i.name for i in module.invariants]),
                            ("action", [a.name for a in module.actions]), ("fn", [f.name for f in module.fns])):
            if len(set(names)) != len(names):
                self.fail("wrong exits", f"duplicate {what} names accepted: {names}")
        return module

    def interpreter(self, module) -> None:
        """A few steps on the interpreter (a runtime fault is the spec's own)."""
        from envc.compiler.interp import Interpreter, SpecRuntimeError

        self.stage = "interpreter"
        it = Interpreter(module)
        try:
            s = it.init(0)
            for _ in range(4):
                legal = [i for i, ok in enumerate(it.legal_action_mask(s)) if ok]
                if not legal or s.terminated:
                    break
                s = it.step(s, legal[0])
        except SpecRuntimeError:
            pass
        self.lap("interpreter")

    def jax(self, module, work: Path, jax_run: bool, import_every: int, jax_every: int):
        """Generate the JAX module (every `jax_every`-th accepted input, or one to verify),
        scan it for injections, and import every `import_every`-th: the imported module or None."""
        from envc.codegen import jax as jax_backend
        from envc.compiler.diagnostics import DiagnosticError

        self.stage = "jax"
        counts = self.counts
        name = f"fuzz_{counts['inputs']}"
        env = None
        try:
            if counts["accepted"] % jax_every and not jax_run:
                raise _Skip()
            paths = jax_backend.write(module, str(work / name))
            counts["jax generated"] += 1
            for path in paths:
                bad = _python_injection(Path(path).read_text(encoding="utf-8"))
                if bad:
                    self.fail("injections", f"{path}: {bad}")
            if counts["jax generated"] % import_every == 0:
                env = _import(work / name, name)
                counts["jax imports"] += 1
        except DiagnosticError:
            counts["backend diagnostics"] += 1
        except _Skip:
            pass
        if os.path.exists(self.case["marker"]):
            self.fail("injections", "the marker file appeared (JAX module)")
        self.lap("jax")
        return env

    def rust(self, module, rust_build: bool, rust_every: int) -> dict[str, str] | None:
        """Generate the Rust crate's sources (every `rust_every`-th accepted input, or one to
        build) and scan them for injections: the files or None."""
        from envc.codegen import rust as rust_backend
        from envc.compiler.diagnostics import DiagnosticError

        self.stage = "rust"
        files = None
        try:
            if self.counts["accepted"] % rust_every == 0 or rust_build:
                files = rust_backend.generate(module)
        except (DiagnosticError, rust_backend.LoweringError):
            self.counts["backend diagnostics"] += 1
        if files is not None:
            self.counts["rust generated"] += 1
            bad = _rust_injection(files)
            if bad:
                self.fail("injections", bad)
        self.lap("rust")
        return files

    def verify_jax(self, module, env) -> None:
        """Verify the imported JAX module against the interpreter (two short episodes, JIT)."""
        from envc.verify import verify

        self.stage = "verify jax"
        # float specs: the tolerance their tests use (tests/test_jax_backend.py, cartpole 1e-3);
        # integers, booleans and RNG words stay exact whatever the tolerance
        tol = FLOAT_TOLERANCE if _has_floats(module) else 0.0
        report = verify(module, ["jax"], episodes=2, max_steps=12, chunk=2, level2_samples=1, jax_env=env,
                        float_tolerance=tol)
        self.counts["jax verified"] += 1
        if report.divergences:
            self.fail("wrong exits", f"JAX diverges from the interpreter: {report.divergences[0]}")

    def build_rust(self, module) -> None:
        """Build the Rust crate with cargo, import it and make a `VecEnv`."""
        from envc.codegen.rust.build import load as load_rust

        self.stage = "rust build"
        pkg = load_rust(module)
        pkg.VecEnv(2)
        self.counts["rust builds"] += 1
        if os.path.exists(self.case["marker"]):
            self.fail("injections", "the marker file appeared (Rust build)")


def _worker(args) -> tuple[collections.Counter, dict]:
    inputs, seed, timeout, jax_runs, rust_builds, report, import_every, rust_every, jax_every = args
    progress = None
    if report:
        start = time.time()

        def progress(n, counts):
            if n % 250 == 0:
                print(f"  worker {seed}: {n:,} inputs, {time.time() - start:,.0f} s: " + ", ".join(
                    f"{k} {v:,}" for k, v in sorted(counts.items())), flush=True)
    return campaign(inputs, seed, timeout, jax_runs, rust_builds, progress, import_every, rust_every, jax_every)


def parallel(inputs: int, seed: int, timeout: float, jax_runs: int, rust_builds: int, workers: int,
             import_every: int = 1, rust_every: int = 1, jax_every: int = 1) -> tuple[collections.Counter, dict]:
    """`campaign` split over `workers` processes (worker w uses seed `seed * 1000 + w`)."""
    import multiprocessing

    shares = [inputs // workers + (w < inputs % workers) for w in range(workers)]
    jobs = [(n, seed * 1000 + w, timeout, jax_runs // workers + (w < jax_runs % workers),
             rust_builds // workers + (w < rust_builds % workers), True, import_every, rust_every, jax_every)
            for w, n in enumerate(shares)]
    if workers == 1:
        results = [_worker(jobs[0])]
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_worker, jobs)
    counts: collections.Counter = collections.Counter()
    examples: dict = {}
    for c, ex in results:
        counts.update(c)
        for k, v in ex.items():
            examples.setdefault(k, []).extend(v)
    return counts, examples


FLOAT_TOLERANCE = 1e-3
#: where each failing input's files are copied (`--keep`); set before the workers fork
KEEP: Path | None = None


def _has_floats(module) -> bool:
    """True when a state field or the observation of `module` holds a float."""
    from envc.compiler import ir

    types = [f.type for f in module.state if not f.builtin] + [module.observe.type]  # not `rewards`
    return any(isinstance(n, ir.FloatT) for t in types for n in ir.walk(t, types=True))


def campaign(inputs: int, seed: int = 0, timeout: float = 60.0, jax_runs: int = 0, rust_builds: int = 0,
             progress=None, import_every: int = 1, rust_every: int = 1, jax_every: int = 1
             ) -> tuple[collections.Counter, dict]:
    """Run `inputs` inputs; returns (counts, examples of each failure)."""
    import warnings

    warnings.filterwarnings("ignore")
    rng = random.Random(seed)
    counts: collections.Counter = collections.Counter()
    examples: dict = {}
    work = Path(tempfile.mkdtemp(prefix="envc-fuzz-"))
    verify_every = max(1, inputs // jax_runs) if jax_runs else 0
    build_every = max(1, inputs // rust_builds) if rust_builds else 0
    try:
        for i in range(inputs):
            folder = work / f"in{i}"
            folder.mkdir()
            try:
                case = make_input(rng, folder)
            except Exception as err:  # noqa: BLE001 - a bug of the campaign itself
                counts["campaign errors"] += 1
                examples.setdefault("campaign errors", []).append(repr(err))
                continue
            want_jax = bool(verify_every) and counts["jax verified"] < jax_runs and i % verify_every == verify_every - 1
            want_rust = bool(build_every) and counts["rust builds"] < rust_builds and i % build_every == build_every - 1
            run_one(case, counts, examples, timeout, want_jax, want_rust, work, import_every, rust_every, jax_every)
            shutil.rmtree(folder, ignore_errors=True)
            if progress is not None:
                progress(i + 1, counts)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return counts, examples


FAILURES = ["tracebacks", "hangs", "wrong exits", "build failures", "injections"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per input before it counts as a hang")
    parser.add_argument("--jax-runs", type=int, default=20, help="accepted inputs also verified against JAX (JIT)")
    parser.add_argument("--rust-builds", type=int, default=3, help="accepted inputs built with cargo (slow)")
    parser.add_argument("--workers", type=int, default=2, help="processes (each runs its share of the inputs)")
    parser.add_argument("--jax-every", type=int, default=1, help="generate the JAX module of every k-th accepted input")
    parser.add_argument("--import-every", type=int, default=1,
                        help="import (run) every k-th generated JAX module; every one is parsed and scanned")
    parser.add_argument("--rust-every", type=int, default=1, help="generate the Rust crate of every k-th accepted input")
    parser.add_argument("--keep", type=Path, default=None,
                        help="copy each failing input's files to this folder (and print each failure as it happens)")
    args = parser.parse_args()
    global KEEP
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        KEEP = args.keep
    start = time.time()
    counts, examples = parallel(args.inputs, args.seed, args.timeout, args.jax_runs, args.rust_builds,
                                max(1, args.workers), max(1, args.import_every), max(1, args.rust_every),
                                max(1, args.jax_every))
    print(f"fuzz campaign: seed {args.seed}, {args.workers} workers, {time.time() - start:,.0f} s")
    for k in ["inputs", "diagnostics", "accepted", "backend diagnostics", "jax generated", "jax imports", "jax verified",
              "rust generated", "rust builds"] + FAILURES + ["campaign errors"]:
        print(f"  {k:22s} {counts[k]:>8,}")
    print(f"  (every {args.jax_every}th accepted input's JAX module is generated and its syntax tree scanned, every "
          f"{args.import_every}th of those imported. Rust: every {args.rust_every}th accepted input's crate generated and "
          f"checked, {counts['rust builds']} built with cargo, since a build takes minutes)")
    for kind, items in examples.items():
        print(f"\n{kind}: {len(items)}")
        for x in items[:5]:
            print("  " + x.replace("\n", "\n    "))
    return 1 if any(counts[k] for k in FAILURES + ["campaign errors"]) else 0


if __name__ == "__main__":
    sys.exit(main())
