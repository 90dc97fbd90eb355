"""compose.yaml run for real by podman-compose, for the compose test.

The test has no registry: the app is the image the container tests build, and PostgreSQL
and Redis are stand-ins for the official images built from Debian's packages on the same
local base (tests/container/images), named through compose.yaml's image variables."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.container.podman import Podman, _apt_install, _tail, build_image
from tests.support.stack import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "compose.yaml"
STAND_INS = Path(__file__).parent / "images"
# Podman 4 on CNI networks resolves a compose service's name only with this plugin.
DNS_PLUGIN = Path("/usr/lib/cni/dnsname")
DNS_PLUGIN_PACKAGE = "golang-github-containernetworking-plugin-dnsname"


def podman_compose() -> str:
    """The podman-compose of the test extras (`pip install -e '.[test]'`), beside this Python."""
    command = Path(sys.executable).parent / "podman-compose"
    if command.exists():
        return str(command)
    found = shutil.which("podman-compose")
    if found is None:
        raise RuntimeError("podman-compose is not installed: `make install` installs the test extras")
    return found


def ensure_service_names_resolve(podman: Podman) -> None:
    """Install the DNS plugin that lets a container reach `postgres` by name, where podman
    uses CNI networks and it is missing (netavark resolves names by itself)."""
    backend = podman.text("info", "--format", "{{.Host.NetworkBackend}}").strip()
    if backend == "cni" and not DNS_PLUGIN.exists():
        _apt_install((DNS_PLUGIN_PACKAGE,), because=f"{DNS_PLUGIN} (service names on compose networks) is missing")


def stand_in_image(podman: Podman, name: str, base: str) -> str:
    """The stand-in for the official `name` image, built once per machine (the tag names
    its recipe and its base, so a later run finds it)."""
    folder = STAND_INS / name
    recipe = hashlib.sha256(base.encode())
    for path in sorted(folder.iterdir()):
        recipe.update(path.name.encode() + b"\0" + path.read_bytes())
    tag = f"localhost/chattrain-test-{name}:{recipe.hexdigest()[:12]}"
    if not podman.image_exists(tag):
        build_image(podman, folder, base=base, tag=tag)
    return tag


@dataclass
class Compose:
    """One compose project of compose.yaml: its variables, its containers by service."""

    podman: Podman
    project: str
    variables: dict[str, str]
    profiles: tuple[str, ...] = ()

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        profiles = [option for profile in self.profiles for option in ("--profile", profile)]
        command = [podman_compose(), "--project-name", self.project, "--file", str(COMPOSE_FILE), *profiles, *args]
        env = {
            key: value
            for key, value in self.podman.env().items()
            if not key.startswith(("CHATTRAIN_", "COMPOSE_"))  # only what the test gives
        }
        result = subprocess.run(command, env={**env, **self.variables}, capture_output=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"podman-compose {' '.join(args)} exited with {result.returncode}:\n{_tail(result)}")
        return result

    def up(self, *services: str) -> None:
        """`up --detach [ARGS]`: create and start the services named (all when none is)."""
        self.run("up", "--detach", *services)

    def down(self) -> None:
        """Stop and remove everything, volumes too, and check that nothing is left."""
        self.run("down", "--volumes", "--timeout", "20")
        label = f"label=io.podman.compose.project={self.project}"
        left = {
            "containers": self.podman.text("ps", "-a", "--filter", label, "--format", "{{.Names}}").split(),
            "volumes": self.podman.text("volume", "ls", "--filter", label, "--format", "{{.Name}}").split(),
            "networks": self.podman.text("network", "ls", "--filter", label, "--format", "{{.Name}}").split(),
        }
        if any(left.values()):
            raise AssertionError(f"compose down left {left}")

    def containers(self) -> dict[str, str]:
        """Service name to container name, for every container of the project."""
        listing = self.podman.text(
            "ps",
            "-a",
            "--filter",
            f"label=io.podman.compose.project={self.project}",
            "--format",
            '{{index .Labels "com.docker.compose.service"}} {{.Names}}',
        )
        return dict(line.split() for line in listing.splitlines() if line.strip())

    def container(self, service: str) -> str:
        return self.containers()[service]

    def state(self, service: str) -> tuple[str, int]:
        """The container's status (`running`, `exited`, ...) and its exit code."""
        status, code = self.podman.text(
            "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", self.container(service)
        ).split()
        return status, int(code)

    def logs(self, service: str) -> str:
        result = self.podman.run("logs", self.container(service), check=False)
        return (result.stdout + result.stderr).decode(errors="replace")

    def exec(self, service: str, *command: str) -> str:
        return self.podman.text("exec", self.container(service), *command)

    def wait_healthy(self, services: list[str], timeout: float = 120) -> None:
        """Until each service's health check passes, running the checks as the engine's
        timer would: podman runs them on a timer only under systemd."""
        deadline = time.monotonic() + timeout
        waiting = list(services)
        while waiting:
            for service in list(waiting):
                status, code = self.state(service)
                if status != "running":
                    raise AssertionError(f"{service} is {status} ({code}):\n{self.logs(service)[-4000:]}")
                if self.podman.run("healthcheck", "run", self.container(service), check=False).returncode == 0:
                    waiting.remove(service)
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(
                    f"not healthy after {timeout}s: {waiting}\n"
                    + "\n".join(f"--- {s}\n{self.logs(s)[-3000:]}" for s in waiting)
                )
            if waiting:
                time.sleep(1)
