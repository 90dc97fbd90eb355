"""Podman for the container test: found (or installed from Debian's packages), set up for
the machine it runs on, and a local base image to build the Dockerfile on, so that no
container registry is needed.

When no container can run here, `Unavailable` says why and the test skips with that."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The local stand-in for python:3.11-slim-bookworm: Debian bookworm's own Python 3.11.
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_MIRROR = "http://deb.debian.org/debian"
# What the test needs from Debian when podman is missing (no recommends: crun among them,
# which refuses some machines' cgroup layout; runc is used instead).
HOST_PACKAGES = ("podman", "runc", "debootstrap", "iptables")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PODMAN_DEFAULT_RLIMIT = 1048576


class Unavailable(Exception):
    """No container can be built or run on this machine; the message says why."""


@dataclass
class Podman:
    """The podman command with this machine's containers.conf."""

    conf: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def run(
        self, *args: str, timeout: float = 120, check: bool = True, input: bytes | None = None
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(["podman", *args], env=self.env(), capture_output=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)} exited with {result.returncode}:\n{_tail(result)}")
        return result

    def text(self, *args: str, timeout: float = 120) -> str:
        return self.run(*args, timeout=timeout).stdout.decode()

    def image_exists(self, name: str) -> bool:
        return self.run("image", "exists", name, check=False).returncode == 0


def find_podman(workdir: Path) -> Podman:
    """Podman ready to run containers, installing it as root with apt-get if missing."""
    if os.geteuid() != 0:
        raise Unavailable("not root (the test builds its base image with debootstrap and runs it with rootful podman)")
    missing = [command for command in ("podman", "runc", "debootstrap") if shutil.which(command) is None]
    if missing:
        _apt_install(HOST_PACKAGES, because=f"{' and '.join(missing)} not installed")
    podman = Podman(_write_containers_conf(workdir / "containers.conf"))
    info = podman.run("info", "--format", "json", check=False, timeout=60)
    if info.returncode != 0:
        raise Unavailable(f"podman cannot run here: `podman info` failed:\n{_tail(info)}")
    return podman


def _apt_install(packages: tuple[str, ...], because: str) -> None:
    if shutil.which("apt-get") is None:
        raise Unavailable(f"{because}, and there is no apt-get to install {', '.join(packages)}")
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(command, env=env, capture_output=True, timeout=900)
    if result.returncode != 0:  # stale or absent package lists: fetch them and try again
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
        result = subprocess.run(command, env=env, capture_output=True, timeout=900)
    if result.returncode != 0:
        raise Unavailable(f"{because}, and `{' '.join(command)}` failed:\n{_tail(result)}")


def _write_containers_conf(path: Path) -> Path:
    """Settings that let podman run on machines like the CI's, harmless elsewhere:
    - runc, with cgroups managed by podman itself and events in a file (crun refuses a
      cgroup v1 layout without systemd);
    - rlimits within the machine's hard limits (podman's defaults, about a million open
      files and processes, cannot be set where the hard limits are lower). Podman holds
      its own process limit at kernel.pid_max, so that caps the containers' too."""
    files = _hard_limit(resource.RLIMIT_NOFILE)
    processes = _hard_limit(resource.RLIMIT_NPROC)
    with contextlib.suppress(OSError, ValueError):
        processes = min(processes, int(Path("/proc/sys/kernel/pid_max").read_text()))
    path.write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={files}:{files}", "nproc={processes}:{processes}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )
    return path


def _hard_limit(kind: int) -> int:
    """The hard limit, capped at podman's own default (its value for "unlimited")."""
    limit = resource.getrlimit(kind)[1]
    return PODMAN_DEFAULT_RLIMIT if limit == resource.RLIM_INFINITY else min(limit, PODMAN_DEFAULT_RLIMIT)


def local_base_image(podman: Podman) -> str:
    """A Debian bookworm image with Python 3.11, made with debootstrap and imported, once
    per machine: later runs find it in podman's storage (its tag names its recipe)."""
    recipe = json.dumps([BASE_SUITE, BASE_PACKAGES, BASE_MIRROR]).encode()
    name = f"localhost/chattrain-test-base:{BASE_SUITE}-{hashlib.sha256(recipe).hexdigest()[:10]}"
    # One build at a time on a machine; a second run waits, then finds the image.
    with open(Path(tempfile.gettempdir()) / "chattrain-test-base.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not podman.image_exists(name):
            _bootstrap_and_import(podman, name)
    return name


def check_runs(podman: Podman, image: str) -> None:
    """Start a container of `image`: `podman info` answers on machines that cannot."""
    result = podman.run("run", "--rm", "--network", "none", image, "true", check=False, timeout=120)
    if result.returncode != 0:
        raise Unavailable(f"podman cannot start a container here:\n{_tail(result)}")


def _bootstrap_and_import(podman: Podman, name: str) -> None:
    with tempfile.TemporaryDirectory(prefix="chattrain-base-", dir="/var/tmp") as folder:
        rootfs = Path(folder) / "rootfs"
        try:
            command = [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                BASE_SUITE,
                str(rootfs),
                BASE_MIRROR,
            ]
            result = subprocess.run(command, capture_output=True, timeout=1200)
            if result.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} exited with {result.returncode}:\n{_tail(result)}")
            for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (rootfs / cache).glob("*"):
                    if entry.is_file():
                        entry.unlink()
            tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, timeout=300, check=True)
            podman.run(
                "import",
                "--change",
                "ENV LANG=C.UTF-8",
                "--change",
                'CMD ["python3"]',
                "-",
                name,
                input=tar.stdout,
                timeout=300,
            )
        finally:
            _unmount_below(rootfs)


def _unmount_below(folder: Path) -> None:
    """debootstrap mounts /proc and /sys in its target while it works; a failed run can
    leave them, and the folder must not be deleted through them."""
    prefix = str(folder.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)


def _tail(result: subprocess.CompletedProcess, chars: int = 3000) -> str:
    output = (result.stdout or b"") + (result.stderr or b"")
    return output.decode(errors="replace")[-chars:]


def build_image(podman: Podman, context: Path, base: str, tag: str) -> str:
    """Build the Dockerfile in `context` on `base`; return the image's id. Docker's image
    format, since the OCI format has no HEALTHCHECK. The machine's CA bundle goes in as
    the build secret pip reads, for machines whose HTTPS goes through a proxy."""
    with tempfile.TemporaryDirectory(prefix="chattrain-build-") as folder:
        iidfile = Path(folder) / "image-id"
        args = [
            "build",
            "--format",
            "docker",
            "--build-arg",
            f"BASE_IMAGE={base}",
            "--iidfile",
            str(iidfile),
            "--tag",
            tag,
        ]
        if CA_BUNDLE.is_file():
            args += ["--secret", f"id=ca-bundle,src={CA_BUNDLE}"]
        podman.run(*args, str(context), timeout=1800)
        return iidfile.read_text().strip()
