"""The lock (requirements/*.txt, compiled by `make lock`) agrees with pyproject.toml: a
dependency added to or changed in pyproject.toml without re-locking fails here, before an
install from the lock leaves it out. And the lean run set holds no test tool and no
server driver."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.stack import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
# Each lock file and the extras it is compiled with (the Makefile's `lock` target).
LOCKS = {"run": (), "server": ("postgresql", "redis"), "test": ("postgresql", "redis", "test")}
# What the lock is compiled for; markers such as `sys_platform != 'win32'` are read so.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux", "extra": ""}
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?: ; (?P<marker>[^\\]+?))? *\\?$")


def _pins(name: str) -> dict[str, str]:
    """{package: version} of requirements/<name>.txt, each pin checked to carry hashes."""
    lines = (REPO_ROOT / "requirements" / f"{name}.txt").read_text().splitlines()
    pins: dict[str, str] = {}
    for number, line in enumerate(lines):
        match = PIN.match(line)
        if match is None:
            continue
        assert lines[number + 1].strip().startswith("--hash=sha256:"), f"{name}.txt: {line} has no hash"
        pins[canonicalize_name(match["name"])] = match["version"]
    assert pins, f"requirements/{name}.txt pins nothing"
    return pins


def _declared(extras: tuple[str, ...]) -> list[Requirement]:
    texts = PYPROJECT["project"]["dependencies"] + PYPROJECT["build-system"]["requires"]
    for extra in extras:
        texts += PYPROJECT["project"]["optional-dependencies"][extra]
    requirements = [Requirement(text) for text in texts]
    return [r for r in requirements if r.marker is None or r.marker.evaluate(TARGET)]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_dependency_in_pyproject_is_locked_at_a_version_its_range_allows(lock):
    pins = _pins(lock)
    for requirement in _declared(LOCKS[lock]):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements/{lock}.txt: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements/{lock}.txt has {name}=={pins[name]}, outside {requirement}: run `make lock`"
        )
        for extra in requirement.extras:  # psycopg[binary] brings psycopg-binary
            assert canonicalize_name(f"{name}-{extra}") in pins, f"{requirement}: {name}-{extra} is not locked"


def test_the_three_lock_files_agree_on_every_version():
    test_pins = _pins("test")
    for lock in ("run", "server"):
        pins = _pins(lock)
        assert set(pins) <= set(test_pins), set(pins) - set(test_pins)
        assert {name: test_pins[name] for name in pins} == pins


def test_the_run_set_has_no_test_tool_and_no_server_driver():
    pins = _pins("run")
    for name in ("pytest", "pytest-asyncio", "hypothesis", "schemathesis", "playwright", "ruff", "psycopg", "redis"):
        assert name not in pins, f"{name} is in requirements/run.txt"
    assert "honcho" in pins  # `make run` starts the Procfile with it


def test_the_server_set_adds_exactly_the_drivers_to_the_run_set():
    run, server = _pins("run"), _pins("server")
    assert set(run) <= set(server)
    assert {"psycopg", "psycopg-binary", "redis"} <= set(server) - set(run)
    assert "pytest" not in server


def test_the_image_and_ci_install_from_the_lock():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "COPY requirements/server.txt" in dockerfile and "--require-hashes" in dockerfile
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "--require-hashes -r requirements/$*.txt" in makefile
    assert "make install-test" in (REPO_ROOT / ".ci" / "run").read_text()


def test_the_locked_versions_are_the_ones_installed_here():
    """The venv the suite runs in came from requirements/test.txt (make install-test):
    what the tests prove, they prove of the locked versions."""
    from importlib.metadata import PackageNotFoundError, version

    mismatched = {}
    for name, locked in _pins("test").items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # a package whose marker excludes this machine (colorama on Windows)
        if installed != locked:
            mismatched[name] = (locked, installed)
    assert not mismatched, (
        f"installed versions differ from requirements/test.txt (run `make install-test`): {mismatched}"
    )
