"""The layering is true: imports only go down (cli -> ui, api, bench, train -> eval -> qa -> index); the UI and the
API talk only to `qa`; no package imports another's private names."""

import ast
from pathlib import Path

from tests.conftest import ROOT

# Each package and the packages it may import. Ordered top to bottom, as docs/design.md draws it.
ALLOWED = {
    "cli": {"ui", "api", "bench", "train", "eval", "qa", "index"},
    "ui": {"qa"},
    "api": {"qa"},
    "bench": {"eval", "qa", "index"},
    "train": {"eval", "qa", "index"},
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


def private_imports(package: str) -> list[str]:
    """Imports by `package`'s modules of another project package's private names (`_name`, or a module `_mod`)."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                parts = node.module.split(".")
                names = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                parts, names = [], [a.name for a in node.names]
            else:
                continue
            for name in names if not parts or parts[0] != package else []:
                top, *rest = name.split(".")
                if top in ALLOWED and top != package and any(p.startswith("_") and not p.startswith("__") for p in rest):
                    found.append(f"{path.relative_to(ROOT)}: {name}")
    return found


def test_no_package_imports_another_packages_private_names():
    """What another package needs is made public (or moved), not reached into."""
    found = [line for package in ALLOWED for line in private_imports(package)]
    assert not found, "\n".join(found)


def test_the_checker_sees_a_private_import(tmp_path, monkeypatch):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "bad.py").write_text("from qa.service import _helper\nfrom eval.own import _mine\nimport qa._inner\n")
    monkeypatch.setattr("tests.test_layers.ROOT", tmp_path)
    assert private_imports("eval") == [f"{Path('eval') / 'bad.py'}: qa.service._helper", f"{Path('eval') / 'bad.py'}: qa._inner"]


def graph() -> str:
    """The package import graph as Mermaid, for docs/design.md."""
    edges = sorted({(p, o) for p in ALLOWED for used in imports(p).values() for o in used})
    return "\n".join(["graph TD", *(f"    {a} --> {b}" for a, b in edges)])


def test_design_page_draws_the_real_graph():
    """docs/design.md shows the graph the code has (regenerate: python -c 'from tests.test_layers import graph; print(graph())')."""
    assert graph() in (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
