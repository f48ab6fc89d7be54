"""The layering is true: imports only go down (cli -> ui, api, eval -> qa -> index); the UI and the API talk only to `qa`."""

import ast
from pathlib import Path

from tests.conftest import ROOT

# Each package and the packages it may import. Ordered top to bottom, as docs/design.md draws it.
ALLOWED = {
    "cli": {"ui", "api", "eval", "qa", "index"},
    "ui": {"qa"},
    "api": {"qa"},
    "eval": {"qa", "index"},
    "qa": {"index"},
    "index": set(),
}


def imports(package: str) -> dict[str, set[str]]:
    """For each module of `package`, the project packages it imports (at any depth of the file)."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = (names & (set(ALLOWED) | {"tests"})) - {package}
    return found


def test_imports_only_go_down():
    upward = [
        f"{module} imports {other}"
        for package, allowed in ALLOWED.items()
        for module, used in imports(package).items()
        for other in sorted(used - allowed)
    ]
    assert not upward, "\n".join(upward)


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """The check above would fail on a module that imports a layer above it."""
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "bad.py").write_text("def f():\n    from qa import ask\n")
    monkeypatch.setattr("tests.test_layers.ROOT", tmp_path)
    assert imports("index") == {str(Path("index") / "bad.py"): {"qa"}}


def graph() -> str:
    """The package import graph as Mermaid, for docs/design.md."""
    edges = sorted({(p, o) for p in ALLOWED for used in imports(p).values() for o in used})
    return "\n".join(["graph TD", *(f"    {a} --> {b}" for a, b in edges)])


def test_design_page_draws_the_real_graph():
    """docs/design.md shows the graph the code has (regenerate: python -c 'from tests.test_layers import graph; print(graph())')."""
    assert graph() in (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
