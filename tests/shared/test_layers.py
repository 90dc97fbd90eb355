"""The arrows inside shared/ run one way: a conversation (shared/conversation/) uses the
training domain (shared/training/: scoring, completion, reports), never the reverse, and
nothing in shared/ imports the web app or the worker."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _importers(folder: Path, package: str) -> set[str]:
    return {
        str(path.relative_to(SHARED.parent))
        for path in folder.rglob("*.py")
        if any(name == package or name.startswith(f"{package}.") for name in _imported_modules(path))
    }


def test_the_training_domain_does_not_import_the_conversation():
    assert _importers(SHARED / "training", "shared.conversation") == set()


@pytest.mark.parametrize("package", ["web", "worker"])
def test_shared_imports_neither_the_web_app_nor_the_worker(package):
    assert _importers(SHARED, package) == set()
