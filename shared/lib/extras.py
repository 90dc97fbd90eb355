"""The server drivers are extras: psycopg for PostgreSQL (`chattrain[postgresql]`) and
redis-py for Redis (`chattrain[redis]`).

The default layout is SQLite files on one host, and `make run` installs neither driver.
Code that runs on both layouts imports them only where a server is in use, and a URL
naming a server whose driver is missing stops start-up with one line saying what to
install, rather than an ImportError from deep inside a library."""

from __future__ import annotations

import importlib

# The extra that brings each driver (pyproject.toml, [project.optional-dependencies]).
EXTRAS = {"psycopg": "postgresql", "redis": "redis"}


def missing_driver(module: str) -> str | None:
    """None when the driver `module` ("psycopg" or "redis") imports; otherwise a phrase
    saying it is missing and how to install it. Importing, not just finding, the module
    also catches a driver installed without its compiled part (psycopg with no libpq)."""
    try:
        importlib.import_module(module)
    except ImportError as error:
        extra = EXTRAS[module]
        return (
            f"the {module} package cannot be imported ({error}); install ChatTrain with its {extra} extra: "
            f"pip install 'chattrain[{extra}]' (make run-scaled and the container image include it)"
        )
    return None
