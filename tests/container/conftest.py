"""Podman and the app's image, shared by the container tests (built once per run)."""

from __future__ import annotations

import pytest

from tests.container.podman import Podman, Unavailable, build_image, check_runs, find_podman, local_base_image
from tests.support.stack import REPO_ROOT


@pytest.fixture(name="podman", scope="session")
def _podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    try:
        return find_podman(tmp_path_factory.mktemp("podman"))
    except Unavailable as reason:
        pytest.skip(f"no container runtime can run here: {reason}")


@pytest.fixture(name="base_image", scope="session")
def _base_image(podman: Podman) -> str:
    """The local Debian base every test image is built on."""
    base = local_base_image(podman)
    try:
        check_runs(podman, base)
    except Unavailable as reason:
        pytest.skip(f"no container runtime can run here: {reason}")
    return base


@pytest.fixture(name="image", scope="session")
def _image(podman: Podman, base_image: str) -> str:
    return build_image(podman, REPO_ROOT, base=base_image, tag="localhost/chattrain-test:latest")
