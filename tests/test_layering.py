"""Apps depend on each other one way, read from the code's imports (function-level ones included).

Each package may import only packages listed before it in LAYERS, so an import cycle between apps, or an
app reaching up to one that builds on it, fails here. The composition root (the URLconfs and what gathers
every app) sits above them all, and nothing imports it.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["apimodel", "agent", "controlplane", "projects", "traces", "daemons", "apimodels", "alerts"]
COMPOSITION_ROOT = {
    "controlplane.urls",
    "controlplane.console_urls",
    "controlplane.overview",
    "controlplane.operability",
    "controlplane.metrics",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


IMPORTS = {module_name(path): imported_modules(path) for package in LAYERS for path in (ROOT / package).rglob("*.py")}


def upward_imports() -> list[str]:
    found = []
    for module, imported in IMPORTS.items():
        if module in COMPOSITION_ROOT:
            continue
        layer = LAYERS.index(module.split(".")[0])
        for name in sorted(imported):
            package = name.split(".")[0]
            if package in LAYERS and LAYERS.index(package) > layer:
                found.append(f"{module} imports {name}")
    return found


def test_every_package_imports_only_the_ones_below_it() -> None:
    assert upward_imports() == []


def test_nothing_imports_the_composition_root() -> None:
    importers = [
        module for module, imported in IMPORTS.items() if imported & COMPOSITION_ROOT and module not in COMPOSITION_ROOT
    ]
    assert importers == []


@pytest.mark.parametrize(("module", "name"), [("traces.services", "apimodels.services"), ("projects.views", "traces")])
def test_an_import_up_the_layers_is_found(module: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(IMPORTS, module, {*IMPORTS[module], name})
    assert upward_imports() == [f"{module} imports {name}"]
