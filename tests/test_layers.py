"""No import runs upward between the layers of idiscore.

The layers (README, "How it is built"; ../shared/ARCHITECTURE.md §1), bottom to top. A module
may import modules of its own layer and of the layers below, never one above, not even
inside a function. Imports under ``if TYPE_CHECKING:`` count too: a type-only import still
means a low layer knows a concept of a higher one, and the cure (move the shared protocol
down, into :mod:`idiscore.steps`) is always available.

Every module of ``src/idiscore`` must be placed in exactly one layer, so a new module cannot
slip in unplaced. A name is placed by its longest matching prefix: ``idiscore.batch`` places
every module of the batch package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "idiscore"

#: Bottom to top. ``standard`` is split: its generated tables and their readers are data
#: (layer 0); its action codes and rule-set builders make Rules of operators, so they
#: belong to the rule engine. Profile files, ``describe`` and the shared step protocols sit
#: with ``core``: they use Profile, Profile does not use them.
LAYERS: list[tuple[str, list[str]]] = [
    (
        "standard data",
        [
            "idiscore._version",
            "idiscore.standard",  # its __init__: edition, IOD types, TCIA knowledge base
            "idiscore.standard._tables",
            "idiscore.standard._iod_types",
            "idiscore.standard.iod",
            "idiscore.standard.tcia",
        ],
    ),
    (
        "rule engine",
        [
            "idiscore.errors",
            "idiscore.exceptions",
            "idiscore.elements",
            "idiscore.identifiers",
            "idiscore.operators",
            "idiscore.cleaning",
            "idiscore.vocabulary",
            "idiscore.identifier_shapes",
            "idiscore.dataset_identity",
            "idiscore.rules",
            "idiscore.safety_net",
            "idiscore.profile",
            "idiscore.pseudonyms",
            "idiscore.crosswalk",
            "idiscore.private",
            "idiscore.private_processing",
            "idiscore.validation",
            "idiscore.dicom",
            "idiscore.rule_sets",
            "idiscore.standard.actions",
            "idiscore.standard.rulesets",
        ],
    ),
    (
        "one dataset in, one dataset out",
        [
            "idiscore.steps",
            "idiscore.walker",
            "idiscore.core",
            "idiscore.fileio",
            "idiscore.filekinds",
            "idiscore.bouncers",
            "idiscore.pixels",
            "idiscore.image_processing",
            "idiscore.insertions",
            "idiscore.defaults",
            "idiscore.describe",
            "idiscore.profile_file",
        ],
    ),
    ("files and folders", ["idiscore.batch", "idiscore.verify"]),
    ("shells", ["idiscore.cli", "idiscore.net", "idiscore.demo", "idiscore"]),
]


def layer_of(module: str) -> int:
    """The layer index of ``module`` (by its longest placed prefix); KeyError if unplaced."""
    best: tuple[int, int] | None = None
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (
                best is None or len(name) > best[0]
            ):
                best = (len(name), index)
    if best is None:
        raise KeyError(module)
    return best[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> list[tuple[str, Path]]:
    return sorted((module_name(path), path) for path in PACKAGE.rglob("*.py"))


def _is_package(module: str) -> bool:
    return (SRC / module.replace(".", "/") / "__init__.py").exists()


def imported_modules(module: str, path: Path, source: str | None = None) -> set[tuple[str, int]]:
    """(idiscore module, line) for every import in ``path`` (or in ``source`` placed at
    ``path``): top level, inside functions, inside ``if TYPE_CHECKING:``. ``from pkg import
    name`` names ``pkg.name`` when that is a module, else ``pkg``."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if (SRC / (candidate.replace(".", "/") + ".py")).exists() or _is_package(
                    candidate
                ):
                    found.add((candidate, node.lineno))
                else:
                    found.add((target, node.lineno))
    return {
        (name, line) for name, line in found if name == "idiscore" or name.startswith("idiscore.")
    }


def upward_imports() -> list[str]:
    problems = []
    for module, path in modules():
        own = layer_of(module)
        for target, line in sorted(imported_modules(module, path)):
            if layer_of(target) > own:
                problems.append(
                    f"{path.relative_to(SRC)}:{line}: {module} ({LAYERS[own][0]}) imports "
                    f"{target} ({LAYERS[layer_of(target)][0]})"
                )
    return problems


def test_every_module_is_placed_in_a_layer() -> None:
    unplaced = []
    for module, _ in modules():
        try:
            layer_of(module)
        except KeyError:
            unplaced.append(module)
    assert unplaced == []


def test_no_import_runs_upward() -> None:
    problems = upward_imports()
    assert problems == [], "\n".join(problems)


def test_profile_does_not_use_its_views() -> None:
    """Profile files and describe use Profile; Profile uses neither (the old loop)."""
    targets = {name for name, _ in imported_modules("idiscore.profile", PACKAGE / "profile.py")}
    assert not targets & {"idiscore.describe", "idiscore.profile_file", "idiscore.defaults"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from idiscore.core import Core\n", {"idiscore.core"}),
        ("def f():\n    from idiscore.cli import main\n", {"idiscore.cli"}),
        (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from idiscore import batch\n",
            {"idiscore.batch"},
        ),
        ("from .runner import run\n", {"idiscore.batch.runner"}),
        ("from . import engines\n", {"idiscore.batch.engines"}),
        ("import idiscore.net.node as node\n", {"idiscore.net.node"}),
        ("import pydicom\n", set()),
    ],
)
def test_every_kind_of_import_is_seen(source: str, expected: set[str]) -> None:
    path = PACKAGE / "batch" / "writer.py"  # a real location, so relative imports resolve
    found = imported_modules("idiscore.batch.writer", path, source)
    assert {name for name, _ in found} == expected


def test_an_upward_import_is_reported() -> None:
    """The checker itself can fail: a rule-engine module importing core is caught."""
    assert layer_of("idiscore.profile") < layer_of("idiscore.core")
    assert layer_of("idiscore.standard._tables") < layer_of("idiscore.standard.rulesets")
    assert layer_of("idiscore.batch.mapping") < layer_of("idiscore.cli.commands")


def test_the_steps_do_not_import_the_core() -> None:
    """Insertions, bouncers and pixel processing name the shared interfaces in
    idiscore.steps; only the core (and layers above) import idiscore.core."""
    for module, path in modules():
        if module.startswith(("idiscore.insertions", "idiscore.bouncers", "idiscore.pixels")):
            targets = {name for name, _ in imported_modules(module, path)}
            assert "idiscore.core" not in targets, module


#: Import loops known and accepted: the operators that apply the standard's tables per
#: content item or code (``codes``, ``structured``) ask the standard's builders for an
#: action code's operator, and those builders make Rules of the operators. All of these
#: imports in one direction run inside functions; the loop stays within the rule engine.
KNOWN_LOOPS = [
    {
        "idiscore.operators",
        "idiscore.operators.basic",
        "idiscore.operators.codes",
        "idiscore.operators.structured",
        "idiscore.private_processing",
        "idiscore.standard.actions",
        "idiscore.standard.rulesets",
    }
]


def import_loops() -> list[set[str]]:
    """Groups of modules that import each other in a loop (strongly connected, > 1)."""
    graph = {
        module: {name for name, _ in imported_modules(module, path) if name != module}
        for module, path in modules()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                loops.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return loops


def test_no_new_import_loops() -> None:
    """Profile -> describe/profile_file -> defaults -> core -> Profile and
    pseudonyms <-> crosswalk were loops once; only the known loop remains."""
    assert [loop for loop in import_loops() if loop not in KNOWN_LOOPS] == []
