"""The package's shape: no import cycles, no private names borrowed across modules, one list
of reason codes. Read from the source with ``ast``, so a new import that breaks a rule fails
here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bsmtrail
from bsmtrail import _native
from bsmtrail.errors import REASON_CLASSES

PACKAGE = Path(bsmtrail.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _in_type_checking(tree: ast.Module) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:`` (not run: no cycle)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for sub in ast.walk(child):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        lines.add(sub.lineno)
    return lines


def _imports() -> dict[str, list[tuple[str, list[str], int]]]:
    """module -> [(imported module, names, line)] for every bsmtrail import that runs,
    at module level or inside a function."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    out: dict[str, list[tuple[str, list[str], int]]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        skip = _in_type_checking(tree)
        found: list[tuple[str, list[str], int]] = []
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                target = _resolve(name, path.name == "__init__.py", node)
                names = [a.name for a in node.names]
                # `from . import x` imports the module x when there is one.
                subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
                if subs:
                    found += [(s, [], node.lineno) for s in subs]
                else:
                    found.append((target, names, node.lineno))
            elif isinstance(node, ast.Import):
                found += [(a.name, [], node.lineno) for a in node.names]
        out[name] = [f for f in found if f[0] == "bsmtrail" or f[0].startswith("bsmtrail.")]
    return out


def test_no_import_cycles() -> None:
    graph = {m: {t for t, _, _ in deps if t != m} for m, deps in _imports().items()}
    # A package's __init__ importing its own submodules is how a package is built; a
    # submodule importing its package back is the cycle that would matter.
    for m, deps in graph.items():
        graph[m] = {d for d in deps if not (d.startswith(m + ".") and m in ("bsmtrail",))}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if d not in graph:
                continue
            if state.get(d) == 1:
                cycles.append([*stack[stack.index(d) :], d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_private_names_from_other_modules() -> None:
    bad = []
    for module, deps in _imports().items():
        for target, names, line in deps:
            if target == "bsmtrail._native":
                continue
            same_package = target.rsplit(".", 1)[0] == module.rsplit(".", 1)[0] or (
                target.startswith(module + ".")
            )
            private_module = any(p.startswith("_") for p in target.split(".")[1:])
            private_names = [n for n in names if n.startswith("_")]
            if (private_module or private_names) and not same_package:
                bad.append(f"{module}:{line} imports {target} {private_names}")
    assert bad == []


def test_reason_codes_are_one_list() -> None:
    import pyarrow as pa

    assert sorted(REASON_CLASSES) == sorted(_native.REASONS)
    schema = bsmtrail.open(b"").errors_table().schema
    reason = schema.field("reason").type
    assert pa.types.is_dictionary(reason)
    # The errors view's dictionary is that list, in that order.
    table = bsmtrail.open(b"\x00junk", mode="recover").errors_table()
    assert table.column("reason").chunk(0).dictionary.to_pylist() == list(_native.REASONS)


def test_the_command_line_starts_without_the_heavy_modules() -> None:
    """A command on a small trail is mostly interpreter start and imports (a /var/audit
    holds hundreds of small trails): importing bsmtrail and building every subcommand's
    parser loads no Arrow, numpy or pandas, no importlib.resources, and none of the
    record shapes, which only the commands that use them import."""
    import ast
    import subprocess
    import sys

    heavy = [
        "pyarrow",
        "numpy",
        "pandas",
        "polars",
        "duckdb",
        "importlib.resources",
        "bsmtrail.ocsf",
        "bsmtrail.ecs",
        "bsmtrail.timesketch",
        "bsmtrail.derive",
    ]
    listed = f"print([m for m in {heavy!r} if m in sys.modules])\n"
    code = "import sys, bsmtrail, bsmtrail.cli\nbsmtrail.cli.build_parser()\n" + listed

    def loaded(program: str) -> list[str]:
        res = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        return list(ast.literal_eval(res.stdout.strip()))

    # The interpreter's own start may already load some of them: a site .pth file of the
    # machine (a CA bundle's certifi imports importlib.resources on the CI machines). Only
    # what bsmtrail adds to that counts.
    at_start = loaded("import sys\n" + listed)
    assert [m for m in loaded(code) if m not in at_start] == []


@pytest.mark.parametrize("fmt", ["ocsf", "ocsf-parquet"])
def test_the_ocsf_commands_do_not_import_pandas(fmt: str, tmp_path: Path) -> None:
    """pyarrow imports pandas (a quarter of a second) for any ``pa.array`` when pandas is
    installed, as it is here: the OCSF events are built in Rust and their schema from
    empty columns, so the command on a small trail never pays for it."""
    import subprocess
    import sys

    trail = bsmtrail.demo_path()
    out = tmp_path / "out"
    program = (
        "import sys\n"
        "from bsmtrail.cli import main\n"
        f"sys.argv = ['bsmtrail', 'convert', {str(trail)!r}, '--format', {fmt!r},"
        f" '-o', {str(out)!r}, '-q']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('pandas' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert out.exists()
    assert res.stdout.strip().splitlines()[-1] == "False"
    # The check can fail: pandas is importable here, and an array made from a list
    # imports it.
    probe = "import sys, pyarrow as pa\npa.array([1])\nprint('pandas' in sys.modules)\n"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert res.stdout.strip() == "True", res.stderr
