"""Which modules of a folder import from a package: for the tests that keep the arrows
between the project's packages pointing one way."""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def modules_importing(folder: str, package: str) -> set[str]:
    """The files under `folder` (relative to the repository) that import `package` or
    anything in it, at the top or inside a function."""
    return {
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / folder).rglob("*.py")
        if any(name == package or name.startswith(f"{package}.") for name in _imported_modules(path))
    }
