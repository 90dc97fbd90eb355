"""The image's HEALTHCHECK: the web process answers GET /livez.

Liveness, not readiness (/readyz): a container is unhealthy when its own process stops
answering, which restarting it can cure. A database that is away, or workers that are
down, would make every web container fail /readyz at once, and an orchestrator
restarting them all would cure nothing; a load balancer's /readyz keeps traffic away
meanwhile (docs/monitoring.md).

A container running another role (the worker alone, a migration, a command) has no web
process to ask, and is as healthy as its process is running."""

import os
import sys
import urllib.request
from pathlib import Path


def runs_web_process() -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"hypercorn" in cmdline.read_bytes():
                return True
        except OSError:  # the process ended while we looked
            pass
    return False


def main() -> int:
    if not runs_web_process():
        return 0
    host = os.environ.get("CHATTRAIN_HOST", "")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    url = f"http://{host}:{os.environ.get('PORT', '8000')}/livez"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            response.read()
    except Exception as error:  # noqa: BLE001  # any failure is unhealthy; say which
        print(f"{url}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
