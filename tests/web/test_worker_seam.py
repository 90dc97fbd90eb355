"""The web process reaches the worker through one module, web/reply_queue.py: no other
module of web/ imports from worker/."""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_only_reply_queue_imports_from_the_worker():
    importers = {
        str(path.relative_to(WEB.parent))
        for path in WEB.rglob("*.py")
        if any(name == "worker" or name.startswith("worker.") for name in _imported_modules(path))
    }
    assert importers == {"web/reply_queue.py"}
