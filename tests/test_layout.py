"""The package's shape: imports point one way, and every module reads in one sitting."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "digitlab"


def imports_of(path: Path) -> set[str]:
    """The digitlab modules a module imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("digitlab"):
            if node.module == "digitlab":
                found |= {alias.name for alias in node.names if (PACKAGE / f"{alias.name}.py").exists()}
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("digitlab.")}
    return found - {path.stem}


def test_the_import_graph_has_no_circle():
    graph = {path.stem: imports_of(path) for path in PACKAGE.glob("*.py") if path.stem not in ("__init__", "__main__")}
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for other in sorted(graph.get(module, ())):
            assert state.get(other) != "open", f"import circle: {' -> '.join(trail + [module, other])}"
            if other not in state:
                visit(other, trail + [module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_no_module_is_over_450_lines():
    long = {path.name: n for path in PACKAGE.glob("*.py") if (n := len(path.read_text().splitlines())) > 450}
    assert not long, f"split these modules: {long}"
